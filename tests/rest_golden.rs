//! Golden replay of the recorded exchanges of `recorded-exchanges.md` through the REST handler:
//! the recorded method, path, query and body go in, and the status and body that come out must
//! match the recorded response field for field. Ids and times differ, so they are matched by a
//! bijection (the same recorded id is always the same engine id, and two recorded timestamps are
//! equal exactly when the engine's are); every other value must be equal.

use std::collections::HashMap;

use chrono::{DateTime, TimeDelta};
use ipam_engine::rest::{handle, Request, Response};
use ipam_engine::{
    BookIpRequest, Ipam, ManualClock, PrivateNetworkId, Region, ResourceType, SeededRandom,
    ServiceResource, Source,
};
use serde_json::Value;

const PROJECT: &str = "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5";

fn engine() -> Ipam {
    let start = DateTime::from_timestamp_micros(1_751_295_730_950_535).unwrap();
    Ipam::builder()
        .clock(ManualClock::new(start, TimeDelta::microseconds(1_234_567)))
        .random(SeededRandom::new(7))
        .build()
}

fn call(ipam: &mut Ipam, method: &str, target: &str, body: &str) -> Response {
    let response = handle(ipam, &Request::new(method, target).body(body.as_bytes()));
    if response.status == 204 {
        assert!(response.body.is_empty(), "204 has an empty body");
        assert_eq!(response.content_type(), None);
    } else {
        assert_eq!(response.content_type(), Some("application/json"));
    }
    response
}

fn json(response: &Response) -> Value {
    serde_json::from_slice(&response.body).expect("a JSON body")
}

/// A Private Network created through the handler; its id, and the id of its subnet of a family.
fn private_network(ipam: &mut Ipam, subnets: &[&str]) -> (String, Value) {
    let body = serde_json::json!({ "project_id": PROJECT, "subnets": subnets, "tags": [] });
    let r = call(
        ipam,
        "POST",
        "/vpc/v2/regions/fr-par/private-networks",
        &body.to_string(),
    );
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let pn = json(&r);
    (pn["id"].as_str().unwrap().to_owned(), pn)
}

/// Matches recorded and actual JSON: same keys, same values, ids and times by bijection,
/// random IPv6 interface ids accepted when the prefix length and family agree.
#[derive(Default)]
struct Matcher {
    ids: HashMap<String, String>,
    ids_back: HashMap<String, String>,
    times: HashMap<String, String>,
    times_back: HashMap<String, String>,
}

impl Matcher {
    fn check(&mut self, recorded: &Value, actual: &Value, at: &str) {
        match (recorded, actual) {
            (Value::Object(r), Value::Object(a)) => {
                let mut rk: Vec<_> = r.keys().collect();
                let mut ak: Vec<_> = a.keys().collect();
                rk.sort();
                ak.sort();
                assert_eq!(rk, ak, "keys at {at}");
                for (k, v) in r {
                    self.check(v, &a[k], &format!("{at}.{k}"));
                }
            }
            (Value::Array(r), Value::Array(a)) => {
                assert_eq!(r.len(), a.len(), "length at {at}");
                for (i, (r, a)) in r.iter().zip(a).enumerate() {
                    self.check(r, a, &format!("{at}[{i}]"));
                }
            }
            (Value::String(r), Value::String(a)) => self.check_str(r, a, at),
            _ => assert_eq!(recorded, actual, "value at {at}"),
        }
    }

    fn check_str(&mut self, r: &str, a: &str, at: &str) {
        if uuid::Uuid::parse_str(r).is_ok() && r.len() == 36 {
            assert!(uuid::Uuid::parse_str(a).is_ok(), "uuid at {at}: {a}");
            if r == PROJECT {
                assert_eq!(a, PROJECT, "project at {at}");
            }
            bijection(&mut self.ids, &mut self.ids_back, r, a, at);
        } else if is_api_time(r) {
            assert!(is_api_time(a), "timestamp at {at}: {a}");
            bijection(&mut self.times, &mut self.times_back, r, a, at);
        } else if let (Ok(rn), Ok(an)) = (r.parse::<ipnet::IpNet>(), a.parse::<ipnet::IpNet>()) {
            if let (ipnet::IpNet::V6(rn), ipnet::IpNet::V6(an)) = (rn, an) {
                assert_eq!(rn.prefix_len(), an.prefix_len(), "prefix at {at}");
                assert_eq!(an.to_string(), a, "RFC 5952 form at {at}");
            } else {
                assert_eq!(r, a, "address at {at}");
            }
        } else {
            assert_eq!(r, a, "string at {at}");
        }
    }
}

fn bijection(
    fwd: &mut HashMap<String, String>,
    back: &mut HashMap<String, String>,
    r: &str,
    a: &str,
    at: &str,
) {
    let f = fwd.entry(r.to_owned()).or_insert_with(|| a.to_owned());
    assert_eq!(f, a, "{r} maps to two values, at {at}");
    let b = back.entry(a.to_owned()).or_insert_with(|| r.to_owned());
    assert_eq!(b, r, "{a} maps back to two values, at {at}");
}

/// `2025-06-30T15:02:10.950535Z`: RFC 3339 UTC with `Z` and exactly microseconds.
fn is_api_time(s: &str) -> bool {
    s.len() == 27
        && s.ends_with('Z')
        && s.as_bytes()[19] == b'.'
        && DateTime::parse_from_rfc3339(s).is_ok()
}

fn golden(m: &mut Matcher, recorded: &str, response: &Response, status: u16) {
    assert_eq!(
        response.status,
        status,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let recorded: Value = serde_json::from_str(recorded).unwrap();
    m.check(&recorded, &json(response), "$");
}

/// Binds a recorded PN id and subnet ids to the engine's, so that request bodies can be
/// rewritten and `source.subnet_id` is checked against the right subnet.
fn bind_pn(m: &mut Matcher, recorded_pn: &str, pn: &str) {
    bijection(&mut m.ids, &mut m.ids_back, recorded_pn, pn, "pn");
}

fn bind_subnet(m: &mut Matcher, recorded: &str, pn: &Value, is_ipv6: bool) {
    let s = pn["subnets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["subnet"].as_str().unwrap().contains(':') == is_ipv6)
        .unwrap();
    bijection(
        &mut m.ids,
        &mut m.ids_back,
        recorded,
        s["id"].as_str().unwrap(),
        "subnet",
    );
}

const A_BOOK: &str = r#"{"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","source":{"private_network_id":"262bd293-0ffd-442d-8951-148b84cf147d"},"is_ipv6":false,"tags":[]}"#;
const A_IP: &str = r#"{"address":"172.16.32.2/22","created_at":"2026-03-12T08:43:37.311562Z","id":"03adfd64-bdc8-4bb5-87af-6d0c8e1a5617","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"12073fcb-5114-46fd-b84e-bd72fdd684b6"},"tags":[],"updated_at":"2026-03-12T08:43:37.311562Z","zone":null}"#;
const A_NOT_FOUND: &str = r#"{"message":"resource is not found","resource":"ip","resource_id":"03adfd64-bdc8-4bb5-87af-6d0c8e1a5617","type":"not_found"}"#;

#[test]
fn exchange_a_book_auto_release_then_get_is_not_found() {
    let mut ipam = engine();
    let mut m = Matcher::default();
    let (pn, pn_json) = private_network(&mut ipam, &["172.16.32.0/22"]);
    bind_pn(&mut m, "262bd293-0ffd-442d-8951-148b84cf147d", &pn);
    bind_subnet(
        &mut m,
        "12073fcb-5114-46fd-b84e-bd72fdd684b6",
        &pn_json,
        false,
    );
    let body = A_BOOK.replace("262bd293-0ffd-442d-8951-148b84cf147d", &pn);
    let r = call(&mut ipam, "POST", "/ipam/v1/regions/fr-par/ips", &body);
    golden(&mut m, A_IP, &r, 200);
    let id = json(&r)["id"].as_str().unwrap().to_owned();
    let path = format!("/ipam/v1/regions/fr-par/ips/{id}");
    let r = call(&mut ipam, "DELETE", &path, "{}");
    assert_eq!(r.status, 204);
    let r = call(&mut ipam, "GET", &path, "");
    golden(&mut m, A_NOT_FOUND, &r, 404);
}

const B_BOOK: &str = r#"{"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","source":{"private_network_id":"cab0379a-7c1a-40bb-9f75-b60d7dd73034"},"is_ipv6":false,"tags":[],"resource":{"mac_address":"bc:24:11:74:d0:5a","name":null}}"#;
const B_IP: &str = r#"{"address":"172.16.32.2/22","created_at":"2025-06-30T15:02:10.950535Z","id":"f274515f-1535-46bd-aaed-e15ef3cb1432","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":{"id":"f274515f-1535-46bd-aaed-e15ef3cb1432","mac_address":"BC:24:11:74:D0:5A","name":null,"type":"custom"},"reverses":[],"source":{"subnet_id":"2438b67d-b57d-4d19-9896-94f6f20277ad"},"tags":[],"updated_at":"2025-06-30T15:02:10.950535Z","zone":null}"#;
const B_MOVE: &str = r#"{"from_resource":{"mac_address":"bc:24:11:74:d0:5a","name":null},"to_resource":{"mac_address":"bc:24:11:74:d0:5b","name":null}}"#;
const B_MOVED: &str = r#"{"address":"172.16.32.2/22","created_at":"2025-06-30T15:02:10.950535Z","id":"f274515f-1535-46bd-aaed-e15ef3cb1432","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":{"id":"f274515f-1535-46bd-aaed-e15ef3cb1432","mac_address":"BC:24:11:74:D0:5B","name":null,"type":"custom"},"reverses":[],"source":{"subnet_id":"2438b67d-b57d-4d19-9896-94f6f20277ad"},"tags":[],"updated_at":"2025-06-30T15:02:13.232354Z","zone":null}"#;
const B_DETACH_MOVE: &str = r#"{"from_resource":{"mac_address":"bc:24:11:74:d0:5b","name":null}}"#;
const B_DETACHED: &str = r#"{"address":"172.16.32.2/22","created_at":"2025-06-30T15:02:10.950535Z","id":"f274515f-1535-46bd-aaed-e15ef3cb1432","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"2438b67d-b57d-4d19-9896-94f6f20277ad"},"tags":[],"updated_at":"2025-06-30T15:02:14.213428Z","zone":null}"#;

#[test]
fn exchange_b_book_with_custom_resource_then_move_and_detach_by_move() {
    let mut ipam = engine();
    let mut m = Matcher::default();
    let (pn, pn_json) = private_network(&mut ipam, &["172.16.32.0/22"]);
    bind_pn(&mut m, "cab0379a-7c1a-40bb-9f75-b60d7dd73034", &pn);
    bind_subnet(
        &mut m,
        "2438b67d-b57d-4d19-9896-94f6f20277ad",
        &pn_json,
        false,
    );
    let body = B_BOOK.replace("cab0379a-7c1a-40bb-9f75-b60d7dd73034", &pn);
    let r = call(&mut ipam, "POST", "/ipam/v1/regions/fr-par/ips", &body);
    golden(&mut m, B_IP, &r, 200);
    let id = json(&r)["id"].as_str().unwrap().to_owned();
    let path = format!("/ipam/v1/regions/fr-par/ips/{id}/move");
    let r = call(&mut ipam, "POST", &path, B_MOVE);
    golden(&mut m, B_MOVED, &r, 200);
    let r = call(&mut ipam, "POST", &path, B_DETACH_MOVE);
    golden(&mut m, B_DETACHED, &r, 200);
}

const C_PATCH: &str = r#"{"tags":["terraform-test","ipam","updated"],"reverses":null}"#;
const C_IP: &str = r#"{"address":"172.16.32.2/22","created_at":"2025-06-30T15:02:10.967542Z","id":"7ae44882-d1f0-4b4a-9214-6ccff14a2f16","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"353c90bf-fc51-4a24-8118-22736d07e529"},"tags":["terraform-test","ipam","updated"],"updated_at":"2025-06-30T15:02:13.205613Z","zone":null}"#;

fn book(ipam: &mut Ipam, pn: &str, extra: &str) -> Value {
    let body = format!(
        r#"{{"project_id":"{PROJECT}","source":{{"private_network_id":"{pn}"}},"is_ipv6":false{extra}}}"#
    );
    let r = call(ipam, "POST", "/ipam/v1/regions/fr-par/ips", &body);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    json(&r)
}

#[test]
fn exchange_c_update_tags_leaves_reverses_on_null() {
    let mut ipam = engine();
    let mut m = Matcher::default();
    let (pn, pn_json) = private_network(&mut ipam, &["172.16.32.0/22"]);
    bind_subnet(
        &mut m,
        "353c90bf-fc51-4a24-8118-22736d07e529",
        &pn_json,
        false,
    );
    let ip = book(&mut ipam, &pn, r#","tags":[]"#);
    let path = format!("/ipam/v1/regions/fr-par/ips/{}", ip["id"].as_str().unwrap());
    let r = call(&mut ipam, "PATCH", &path, C_PATCH);
    golden(&mut m, C_IP, &r, 200);
}

const D_LIST: &str = r#"{"ips":[{"address":"172.16.32.2/22","created_at":"2025-06-30T15:02:10.952803Z","id":"6351c66e-638a-4925-be77-2cb82e861f6f","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"9fca300c-c2d8-4c0f-a05a-f1fa2c396514"},"tags":["terraform-test","data_scaleway_ipam_ips"],"updated_at":"2025-06-30T15:02:10.952803Z","zone":null},{"address":"172.16.32.3/22","created_at":"2025-06-30T15:02:10.950270Z","id":"e6ed3dfe-94e5-463e-82a7-6a73266dfa59","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"9fca300c-c2d8-4c0f-a05a-f1fa2c396514"},"tags":["terraform-test","data_scaleway_ipam_ips"],"updated_at":"2025-06-30T15:02:10.950270Z","zone":null}],"total_count":2}"#;
const D_ZONAL: &str = r#"{"ips":[],"total_count":0}"#;

#[test]
fn exchange_d_list_by_tags_is_newest_first_and_zonal_is_empty() {
    let mut ipam = engine();
    let mut m = Matcher::default();
    let (pn, pn_json) = private_network(&mut ipam, &["172.16.32.0/22"]);
    bind_subnet(
        &mut m,
        "9fca300c-c2d8-4c0f-a05a-f1fa2c396514",
        &pn_json,
        false,
    );
    let tags = r#","tags":["terraform-test","data_scaleway_ipam_ips"]"#;
    book(&mut ipam, &pn, tags);
    book(&mut ipam, &pn, tags);
    // The recorded IPs were booked in parallel: the one created first got .3. Booked one after
    // the other here, the first gets .2; the newest-first order is what is checked.
    let recorded = D_LIST
        .replace("172.16.32.2/22", "X")
        .replace("172.16.32.3/22", "172.16.32.2/22")
        .replace('X', "172.16.32.3/22");
    let q = "/ipam/v1/regions/fr-par/ips?order_by=created_at_desc&page=1&resource_type=unknown_type&tags=terraform-test&tags=data_scaleway_ipam_ips";
    let r = call(&mut ipam, "GET", q, "");
    golden(&mut m, &recorded, &r, 200);
    let r = call(&mut ipam, "GET", &format!("{q}&zonal=fr-par-2"), "");
    golden(&mut m, D_ZONAL, &r, 200);
}

fn addresses(v: &Value) -> Vec<&str> {
    v["ips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|ip| ip["address"].as_str().unwrap())
        .collect()
}

#[test]
fn exchange_e_list_by_tag_subset_and_by_private_network() {
    let mut ipam = engine();
    let project = "0fc78600-9f85-4984-9fbb-f59a7434b92c";
    let body = format!(r#"{{"project_id":"{project}","subnets":["172.16.16.0/22"]}}"#);
    let r = call(
        &mut ipam,
        "POST",
        "/vpc/v2/regions/fr-par/private-networks",
        &body,
    );
    let pn = json(&r)["id"].as_str().unwrap().to_owned();
    for tags in [r#"["test-ipam-list"]"#, r#"["test-ipam-list","extra"]"#] {
        let body = format!(
            r#"{{"project_id":"{project}","source":{{"private_network_id":"{pn}"}},"is_ipv6":false,"tags":{tags}}}"#
        );
        assert_eq!(
            call(&mut ipam, "POST", "/ipam/v1/regions/fr-par/ips", &body).status,
            200
        );
    }
    let r = call(
        &mut ipam,
        "GET",
        &format!("/ipam/v1/regions/fr-par/ips?order_by=created_at_desc&page=1&project_id={project}&resource_type=unknown_type&tags=extra"),
        "",
    );
    let v = json(&r);
    assert_eq!(v["total_count"], 1);
    assert_eq!(addresses(&v), ["172.16.16.3/22"]);
    assert_eq!(
        v["ips"][0]["tags"],
        serde_json::json!(["test-ipam-list", "extra"])
    );
    let r = call(
        &mut ipam,
        "GET",
        &format!("/ipam/v1/regions/fr-par/ips?order_by=created_at_desc&page=1&private_network_id={pn}&project_id={project}&resource_type=unknown_type"),
        "",
    );
    let v = json(&r);
    assert_eq!(v["total_count"], 2);
    assert_eq!(addresses(&v), ["172.16.16.3/22", "172.16.16.2/22"]);
}

const F_BOOK: &str = r#"{"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","source":{"private_network_id":"b8acf678-d75c-4a8b-a853-5dfdeb6f02f7"},"is_ipv6":false,"address":"172.16.32.7","tags":[]}"#;
const F_IP: &str = r#"{"address":"172.16.32.7/22","created_at":"2025-11-20T14:09:24.747422Z","id":"8a7ff36c-7e00-441f-bfda-b6bdcb8ecc5f","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"d6f50c62-4d90-4c80-b673-53a614f53de1"},"tags":[],"updated_at":"2025-11-20T14:09:24.747422Z","zone":null}"#;

#[test]
fn exchange_f_book_a_specific_address() {
    let mut ipam = engine();
    let mut m = Matcher::default();
    let (pn, pn_json) = private_network(&mut ipam, &["172.16.32.0/22"]);
    bind_pn(&mut m, "b8acf678-d75c-4a8b-a853-5dfdeb6f02f7", &pn);
    bind_subnet(
        &mut m,
        "d6f50c62-4d90-4c80-b673-53a614f53de1",
        &pn_json,
        false,
    );
    let body = F_BOOK.replace("b8acf678-d75c-4a8b-a853-5dfdeb6f02f7", &pn);
    let r = call(&mut ipam, "POST", "/ipam/v1/regions/fr-par/ips", &body);
    golden(&mut m, F_IP, &r, 200);
}

const G_LIST: &str = r#"{"total_count":2,"ips":[{"id":"0e4e671a-1120-43b3-a836-8a2c732a76c3","address":"fd46:78ab:30b8:43a6:3c3b:4a03:e361:c91d/64","project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","is_ipv6":true,"created_at":"2025-05-22T13:52:41.891300Z","updated_at":"2025-05-22T13:52:41.891300Z","source":{"subnet_id":"e6eb712f-b70e-44d3-9808-6526b5014ebd"},"resource":{"type":"instance_private_nic","id":"e549aaa4-dc95-4424-8618-6f94eedb6b70","mac_address":"02:00:00:12:73:B2","name":"cli-srv-quizzical-matsumoto"},"tags":[],"reverses":[],"region":"fr-par","zone":null},{"id":"73b6e1c6-6f03-4a6a-8b61-66dd594c0e3a","address":"172.16.48.2/22","project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","is_ipv6":false,"created_at":"2025-05-22T13:52:41.415379Z","updated_at":"2025-05-22T13:52:41.415379Z","source":{"subnet_id":"f1ce1926-5e26-4ba1-a82f-4bc8db1c7f56"},"resource":{"type":"instance_private_nic","id":"e549aaa4-dc95-4424-8618-6f94eedb6b70","mac_address":"02:00:00:12:73:B2","name":"cli-srv-quizzical-matsumoto"},"tags":[],"reverses":[],"region":"fr-par","zone":null}]}"#;

/// Books an IP attached to a product NIC through the library (the REST API cannot).
fn book_for_nic(ipam: &mut Ipam, pn: &str, is_ipv6: bool, mac: &str, name: &str) {
    let pn: PrivateNetworkId = pn.parse().unwrap();
    let nic = ServiceResource::new(
        ResourceType::InstancePrivateNic,
        "e549aaa4-dc95-4424-8618-6f94eedb6b70".parse().unwrap(),
    )
    .mac_address(mac.parse().unwrap())
    .name(name);
    let request =
        BookIpRequest::new(PROJECT.parse().unwrap(), Source::PrivateNetworkId(pn)).ipv6(is_ipv6);
    ipam.book_ip_for_resource(Region::FrPar, request, nic)
        .unwrap();
}

#[test]
fn exchange_g_list_private_network_with_product_resources() {
    let mut ipam = engine();
    let mut m = Matcher::default();
    let (pn, pn_json) = private_network(&mut ipam, &["172.16.48.0/22"]);
    bind_subnet(
        &mut m,
        "f1ce1926-5e26-4ba1-a82f-4bc8db1c7f56",
        &pn_json,
        false,
    );
    bind_subnet(
        &mut m,
        "e6eb712f-b70e-44d3-9808-6526b5014ebd",
        &pn_json,
        true,
    );
    book_for_nic(
        &mut ipam,
        &pn,
        false,
        "02:00:00:12:73:b2",
        "cli-srv-quizzical-matsumoto",
    );
    book_for_nic(
        &mut ipam,
        &pn,
        true,
        "02:00:00:12:73:b2",
        "cli-srv-quizzical-matsumoto",
    );
    let r = call(
        &mut ipam,
        "GET",
        &format!("/ipam/v1/regions/fr-par/ips?order_by=created_at_desc&page=1&private_network_id={pn}&resource_type=unknown_type"),
        "",
    );
    golden(&mut m, G_LIST, &r, 200);
    // Key order is the API's own (proto order), as recorded.
    let text = String::from_utf8(r.body).unwrap();
    assert!(
        text.starts_with(r#"{"total_count":2,"ips":[{"id":"#),
        "{text}"
    );
}

#[test]
fn exchange_h_mac_filter_is_case_insensitive_and_is_ipv6_filters() {
    let mut ipam = engine();
    let (pn, _) = private_network(&mut ipam, &["10.1.200.0/22"]);
    let name = "tf-tests-ipam-ip-datasource-instance";
    book_for_nic(&mut ipam, &pn, false, "02:00:00:12:CC:A6", name);
    book_for_nic(&mut ipam, &pn, true, "02:00:00:12:CC:A6", name);
    let q = "/ipam/v1/regions/fr-par/ips?mac_address=02%3A00%3A00%3A12%3Acc%3Aa6&order_by=created_at_desc&page=1&resource_type=unknown_type";
    let v = json(&call(&mut ipam, "GET", &format!("{q}&is_ipv6=false"), ""));
    assert_eq!(v["total_count"], 1);
    assert_eq!(addresses(&v), ["10.1.200.2/22"]);
    assert_eq!(v["ips"][0]["resource"]["mac_address"], "02:00:00:12:CC:A6");
    assert_eq!(v["ips"][0]["resource"]["type"], "instance_private_nic");
    assert_eq!(v["ips"][0]["is_ipv6"], false);
    let v = json(&call(&mut ipam, "GET", q, ""));
    assert_eq!(v["total_count"], 2);
    // The Python SDK's spelling of booleans.
    let v = json(&call(&mut ipam, "GET", &format!("{q}&is_ipv6=True"), ""));
    assert_eq!(v["total_count"], 1);
    assert_eq!(v["ips"][0]["is_ipv6"], true);
}

#[test]
fn exchange_i_patch_reverses_are_stored_with_a_trailing_dot() {
    // The recorded IP is a public zonal one, which this engine does not book; the PATCH body is
    // replayed on a private IPv6 of a Private Network holding the recorded /64.
    let mut ipam = engine();
    let (pn, _) = private_network(&mut ipam, &["172.16.32.0/22", "2001:bc8:711:4b81::/64"]);
    let body = format!(
        r#"{{"project_id":"{PROJECT}","source":{{"private_network_id":"{pn}"}},"is_ipv6":true,"address":"2001:bc8:711:4b81::3"}}"#
    );
    let ip = json(&call(
        &mut ipam,
        "POST",
        "/ipam/v1/regions/fr-par/ips",
        &body,
    ));
    assert_eq!(ip["address"], "2001:bc8:711:4b81::3/64");
    let path = format!("/ipam/v1/regions/fr-par/ips/{}", ip["id"].as_str().unwrap());
    let patch = r#"{"reverses":[{"hostname":"tf-reverse-ipam.scaleway-terraform.com","address":"2001:bc8:711:4b81::2a"}]}"#;
    let v = json(&call(&mut ipam, "PATCH", &path, patch));
    assert_eq!(
        v["reverses"],
        serde_json::json!([{"address":"2001:bc8:711:4b81::2a","hostname":"tf-reverse-ipam.scaleway-terraform.com."}])
    );
    let v = json(&call(&mut ipam, "GET", &path, "{}"));
    assert_eq!(
        v["reverses"][0]["hostname"],
        "tf-reverse-ipam.scaleway-terraform.com."
    );
}
