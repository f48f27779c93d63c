//! The error table of the spec (section 7) through the REST handler, one test per row: the
//! status, the JSON body with `Content-Type: application/json`, and that the failed call changed
//! nothing. Then what real clients send (section 8) and the input bounds.

use ipam_engine::rest::{handle, Request, Response};
use ipam_engine::{Ipam, Region};
use serde_json::{json, Value};

const PROJECT: &str = "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5";
const OTHER_PROJECT: &str = "0fc78600-9f85-4984-9fbb-f59a7434b92c";
const MISSING: &str = "03adfd64-bdc8-4bb5-87af-6d0c8e1a5617";
const IPS: &str = "/ipam/v1/regions/fr-par/ips";

fn call(ipam: &mut Ipam, method: &str, target: &str, body: &str) -> Response {
    handle(ipam, &Request::new(method, target).body(body.as_bytes()))
}

/// Asserts an error response and returns its body.
fn error(r: &Response, status: u16, error_type: &str) -> Value {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(r.content_type(), Some("application/json"));
    let v: Value = serde_json::from_slice(&r.body).expect("a JSON error body");
    assert_eq!(v["type"], error_type, "{v}");
    assert!(v["message"].is_string(), "{v}");
    v
}

/// Asserts an `invalid_arguments` error naming `argument` with `reason`.
fn invalid(r: &Response, argument: &str, reason: &str) -> Value {
    let v = error(r, 400, "invalid_arguments");
    assert_eq!(v["message"], "invalid argument(s)");
    assert_eq!(v["details"][0]["argument_name"], argument, "{v}");
    assert_eq!(v["details"][0]["reason"], reason, "{v}");
    assert!(v["details"][0]["help_message"].is_string(), "{v}");
    v
}

fn ok(r: &Response) -> Value {
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    serde_json::from_slice(&r.body).unwrap()
}

struct Fixture {
    ipam: Ipam,
    pn: String,
    ip: String,
    path: String,
}

/// A Private Network with `172.16.32.0/22` and one IP booked in it (`172.16.32.2`).
fn fixture() -> Fixture {
    let mut ipam = Ipam::new();
    let body = json!({"project_id": PROJECT, "subnets": ["172.16.32.0/22"]}).to_string();
    let pn = ok(&call(
        &mut ipam,
        "POST",
        "/vpc/v2/regions/fr-par/private-networks",
        &body,
    ));
    let pn = pn["id"].as_str().unwrap().to_owned();
    let ip = ok(&call(&mut ipam, "POST", IPS, &book_body(&pn, "")));
    let ip = ip["id"].as_str().unwrap().to_owned();
    let path = format!("{IPS}/{ip}");
    Fixture { ipam, pn, ip, path }
}

fn book_body(pn: &str, extra: &str) -> String {
    format!(r#"{{"project_id":"{PROJECT}","source":{{"private_network_id":"{pn}"}}{extra}}}"#)
}

const MAC: &str = r#"{"resource":{"mac_address":"bc:24:11:74:d0:5a"}}"#;
const OTHER_MAC: &str = r#"{"resource":{"mac_address":"bc:24:11:74:d0:5b"}}"#;

impl Fixture {
    /// A snapshot of everything in the region, to check that failures change nothing.
    /// The whole engine state, byte for byte: its snapshot.
    fn state(&self) -> String {
        serde_json::to_string(&self.ipam.snapshot()).unwrap()
    }
}

#[test]
fn unknown_ip_id_is_404_for_every_call() {
    let mut f = fixture();
    let before = f.state();
    let path = format!("{IPS}/{MISSING}");
    let expected = json!({"message":"resource is not found","resource":"ip","resource_id":MISSING,"type":"not_found"});
    for (method, target, body) in [
        ("GET", path.clone(), ""),
        ("PATCH", path.clone(), r#"{"tags":["a"]}"#),
        ("DELETE", path.clone(), "{}"),
        ("POST", format!("{path}/attach"), MAC),
        ("POST", format!("{path}/detach"), MAC),
        (
            "POST",
            format!("{path}/move"),
            r#"{"from_resource":{"mac_address":"bc:24:11:74:d0:5a"}}"#,
        ),
    ] {
        let r = call(&mut f.ipam, method, &target, body);
        let v = error(&r, 404, "not_found");
        assert_eq!(v, expected, "{method} {target}");
    }
    let r = call(
        &mut f.ipam,
        "POST",
        "/ipam/v1/regions/fr-par/ip-sets/release",
        &json!({"ip_ids": [f.ip, MISSING]}).to_string(),
    );
    assert_eq!(error(&r, 404, "not_found"), expected);
    assert_eq!(f.state(), before, "a failed release set releases nothing");
}

#[test]
fn unknown_private_network_subnet_and_vpc_are_404() {
    let mut f = fixture();
    let before = f.state();
    let r = call(&mut f.ipam, "POST", IPS, &book_body(MISSING, ""));
    let v = error(&r, 404, "not_found");
    assert_eq!(v["resource"], "private_network");
    assert_eq!(v["resource_id"], MISSING);
    for method in ["GET", "DELETE"] {
        let r = call(
            &mut f.ipam,
            method,
            &format!("/vpc/v2/regions/fr-par/private-networks/{MISSING}"),
            "",
        );
        assert_eq!(error(&r, 404, "not_found")["resource"], "private_network");
        let r = call(
            &mut f.ipam,
            method,
            &format!("/vpc/v2/regions/fr-par/vpcs/{MISSING}"),
            "",
        );
        assert_eq!(error(&r, 404, "not_found")["resource"], "vpc");
    }
    let body = format!(r#"{{"project_id":"{PROJECT}","source":{{"subnet_id":"{MISSING}"}}}}"#);
    let r = call(&mut f.ipam, "POST", IPS, &body);
    let v = error(&r, 404, "not_found");
    assert_eq!(v["resource"], "subnet");
    assert_eq!(v["resource_id"], MISSING);
    let body = json!({"project_id": PROJECT, "vpc_id": MISSING}).to_string();
    let r = call(
        &mut f.ipam,
        "POST",
        "/vpc/v2/regions/fr-par/private-networks",
        &body,
    );
    assert_eq!(error(&r, 404, "not_found")["resource"], "vpc");
    assert_eq!(f.state(), before);
}

#[test]
fn malformed_missing_and_out_of_range_arguments_are_400() {
    let mut f = fixture();
    let before = f.state();
    let pn = f.pn.clone();
    // Missing fields.
    let r = call(
        &mut f.ipam,
        "POST",
        IPS,
        &format!(r#"{{"source":{{"private_network_id":"{pn}"}}}}"#),
    );
    invalid(&r, "project_id", "required");
    let r = call(
        &mut f.ipam,
        "POST",
        IPS,
        &format!(r#"{{"project_id":"{PROJECT}","source":null}}"#),
    );
    invalid(&r, "source", "required");
    let r = call(
        &mut f.ipam,
        "POST",
        &format!("{}/attach", f.path.clone()),
        "{}",
    );
    invalid(&r, "resource", "required");
    let r = call(
        &mut f.ipam,
        "POST",
        &format!("{}/move", f.path.clone()),
        "{}",
    );
    invalid(&r, "from_resource", "required");
    // Bad uuids, in the path, the body and the query.
    let r = call(&mut f.ipam, "GET", &format!("{IPS}/not-a-uuid"), "");
    invalid(&r, "ip_id", "format");
    let r = call(
        &mut f.ipam,
        "POST",
        IPS,
        &book_body(&pn, "").replace(PROJECT, "nope"),
    );
    invalid(&r, "project_id", "format");
    let r = call(&mut f.ipam, "GET", &format!("{IPS}?vpc_id=nope"), "");
    invalid(&r, "vpc_id", "format");
    let r = call(&mut f.ipam, "GET", &format!("{IPS}?source_vpc_id=nope"), "");
    invalid(&r, "source_vpc_id", "format");
    // Bad enums and booleans.
    let r = call(&mut f.ipam, "GET", &format!("{IPS}?order_by=random"), "");
    invalid(&r, "order_by", "format");
    let r = call(
        &mut f.ipam,
        "GET",
        &format!("{IPS}?resource_type=printer"),
        "",
    );
    invalid(&r, "resource_type", "format");
    let r = call(&mut f.ipam, "GET", &format!("{IPS}?attached=yes"), "");
    invalid(&r, "attached", "format");
    let r = call(&mut f.ipam, "GET", &format!("{IPS}?mac_address=zz"), "");
    invalid(&r, "mac_address", "format");
    // Pages out of range.
    let r = call(&mut f.ipam, "GET", &format!("{IPS}?page=0"), "");
    invalid(&r, "page", "constraint");
    let r = call(&mut f.ipam, "GET", &format!("{IPS}?page_size=1001"), "");
    invalid(&r, "page_size", "constraint");
    let r = call(&mut f.ipam, "GET", &format!("{IPS}?page_size=0"), "");
    invalid(&r, "page_size", "constraint");
    let r = call(&mut f.ipam, "GET", &format!("{IPS}?page=99999999999"), "");
    invalid(&r, "page", "format");
    let r = call(&mut f.ipam, "GET", "/vpc/v2/regions/fr-par/vpcs?page=0", "");
    invalid(&r, "page", "constraint");
    // Addresses: outside the subnet, unavailable, wrong family, with a mask.
    let r = call(
        &mut f.ipam,
        "POST",
        IPS,
        &book_body(&pn, r#","address":"10.0.0.5""#),
    );
    invalid(&r, "address", "constraint");
    let r = call(
        &mut f.ipam,
        "POST",
        IPS,
        &book_body(&pn, r#","address":"172.16.32.0""#),
    );
    invalid(&r, "address", "constraint");
    let r = call(
        &mut f.ipam,
        "POST",
        IPS,
        &book_body(&pn, r#","address":"172.16.35.255""#),
    );
    invalid(&r, "address", "constraint");
    let r = call(
        &mut f.ipam,
        "POST",
        IPS,
        &book_body(&pn, r#","address":"fd00::5""#),
    );
    invalid(&r, "address", "format");
    let r = call(
        &mut f.ipam,
        "POST",
        IPS,
        &book_body(&pn, r#","address":"172.16.32.9/22""#),
    );
    let v = invalid(&r, "address", "format");
    assert!(v["details"][0]["help_message"]
        .as_str()
        .unwrap()
        .contains("mask"));
    // Forbidden sources.
    for source in [
        r#"{"zonal":"fr-par-1"}"#,
        r#"{"regional":true}"#,
        &format!(r#"{{"vpc_id":"{MISSING}"}}"#),
    ] {
        let body = format!(r#"{{"project_id":"{PROJECT}","source":{source}}}"#);
        invalid(
            &call(&mut f.ipam, "POST", IPS, &body),
            "source",
            "constraint",
        );
    }
    let body = format!(r#"{{"project_id":"{PROJECT}","source":{{}}}}"#);
    invalid(&call(&mut f.ipam, "POST", IPS, &body), "source", "format");
    // Project mismatch.
    let r = call(
        &mut f.ipam,
        "POST",
        IPS,
        &book_body(&pn, "").replace(PROJECT, OTHER_PROJECT),
    );
    invalid(&r, "project_id", "constraint");
    assert_eq!(f.state(), before);
}

#[test]
fn address_already_booked_is_409_with_the_holder() {
    let mut f = fixture();
    let before = f.state();
    let r = call(
        &mut f.ipam,
        "POST",
        IPS,
        &book_body(&f.pn, r#","address":"172.16.32.2""#),
    );
    let v = error(&r, 409, "already_exists");
    assert_eq!(v["message"], "resource already exists");
    assert_eq!(v["resource"], "ip");
    assert_eq!(v["resource_id"], f.ip.as_str());
    assert!(v["help_message"].is_string());
    assert_eq!(f.state(), before);
}

#[test]
fn exhausted_subnet_is_409_out_of_stock() {
    let mut ipam = Ipam::new();
    let body = json!({"project_id": PROJECT, "subnets": ["172.16.32.0/28"]}).to_string();
    let pn = ok(&call(
        &mut ipam,
        "POST",
        "/vpc/v2/regions/fr-par/private-networks",
        &body,
    ));
    let pn = pn["id"].as_str().unwrap();
    // A /28 has 16 addresses; the first two and last two are never handed out.
    for i in 2..14 {
        let ip = ok(&call(&mut ipam, "POST", IPS, &book_body(pn, "")));
        assert_eq!(ip["address"], format!("172.16.32.{i}/28"));
    }
    let r = call(&mut ipam, "POST", IPS, &book_body(pn, ""));
    let v = error(&r, 409, "out_of_stock");
    assert_eq!(v["message"], "resource is out of stock");
    assert_eq!(v["resource"], "ip");
    assert_eq!(ipam.ip_count(Region::FrPar), 12);
}

fn precondition(r: &Response, precondition: &str) -> Value {
    let v = error(r, 412, "precondition_failed");
    assert_eq!(v["message"], "precondition is not respected");
    assert_eq!(v["precondition"], precondition, "{v}");
    assert!(v["help_message"].is_string());
    v
}

#[test]
fn still_in_use_is_412() {
    let mut f = fixture();
    let path = f.path.clone();
    ok(&call(&mut f.ipam, "POST", &format!("{path}/attach"), MAC));
    let before = f.state();
    precondition(
        &call(&mut f.ipam, "DELETE", &path, "{}"),
        "resource_still_in_use",
    );
    let r = call(
        &mut f.ipam,
        "POST",
        "/ipam/v1/regions/fr-par/ip-sets/release",
        &json!({"ip_ids": [f.ip]}).to_string(),
    );
    precondition(&r, "resource_still_in_use");
    let r = call(&mut f.ipam, "POST", &format!("{path}/attach"), OTHER_MAC);
    precondition(&r, "resource_still_in_use");
    let r = call(
        &mut f.ipam,
        "DELETE",
        &format!("/vpc/v2/regions/fr-par/private-networks/{}", f.pn),
        "",
    );
    let v = precondition(&r, "resource_still_in_use");
    assert_eq!(
        v["help_message"],
        "Private Network must be empty to be deleted"
    );
    assert_eq!(f.state(), before);
}

#[test]
fn not_usable_is_412() {
    let mut f = fixture();
    let path = f.path.clone();
    ok(&call(&mut f.ipam, "POST", &format!("{path}/attach"), MAC));
    let before = f.state();
    let r = call(&mut f.ipam, "POST", &format!("{path}/detach"), OTHER_MAC);
    precondition(&r, "resource_not_usable");
    let r = call(
        &mut f.ipam,
        "POST",
        &format!("{path}/move"),
        r#"{"from_resource":{"mac_address":"bc:24:11:74:d0:5b"}}"#,
    );
    precondition(&r, "resource_not_usable");
    assert_eq!(f.state(), before);
    // A product attachment cannot be changed through the API.
    let mut ipam = Ipam::new();
    let body = json!({"project_id": PROJECT}).to_string();
    let pn = ok(&call(
        &mut ipam,
        "POST",
        "/vpc/v2/regions/fr-par/private-networks",
        &body,
    ));
    let pn_id = pn["id"].as_str().unwrap().parse().unwrap();
    let nic = ipam_engine::ServiceResource::new(
        ipam_engine::ResourceType::InstancePrivateNic,
        MISSING.parse().unwrap(),
    );
    let request = ipam_engine::BookIpRequest::new(
        PROJECT.parse().unwrap(),
        ipam_engine::Source::PrivateNetworkId(pn_id),
    );
    let ip = ipam
        .book_ip_for_resource(Region::FrPar, request, nic)
        .unwrap();
    let r = call(&mut ipam, "POST", &format!("{IPS}/{}/detach", ip.id), MAC);
    precondition(&r, "resource_not_usable");
}

#[test]
fn unknown_region_path_and_method() {
    let mut f = fixture();
    let r = call(&mut f.ipam, "GET", "/ipam/v1/regions/mars-1/ips", "");
    let v = error(&r, 404, "not_found");
    assert_eq!(v["resource"], "region");
    assert_eq!(v["resource_id"], "mars-1");
    let r = call(
        &mut f.ipam,
        "POST",
        "/vpc/v2/regions/xx/private-networks",
        "{}",
    );
    assert_eq!(error(&r, 404, "not_found")["resource"], "region");
    for path in [
        "/",
        "",
        "/ipam/v1/regions/fr-par",
        "/ipam/v1/regions/fr-par/ips/",
        "/ipam/v2/regions/fr-par/ips",
        "/ipam/v1/regions/fr-par/ips/x/y/z",
        "/index.html",
    ] {
        let r = call(&mut f.ipam, "GET", path, "");
        error(&r, 404, "not_found");
    }
    let r = call(&mut f.ipam, "PUT", IPS, "{}");
    let v = error(&r, 405, "method_not_allowed");
    assert!(v["help_message"].as_str().unwrap().contains("GET, POST"));
    assert_eq!(r.header("allow"), Some("GET, POST"));
    let r = call(&mut f.ipam, "POST", &f.path, "{}");
    error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("Allow"), Some("GET, PATCH, DELETE"));
    error(
        &call(&mut f.ipam, "get", IPS, ""),
        405,
        "method_not_allowed",
    );
}

#[test]
fn body_not_json_is_400_and_too_large_is_413() {
    let mut f = fixture();
    let before = f.state();
    for body in ["{", "nope", "[1]", "1", "\"s\"", "null", "{\"a\":}"] {
        let r = call(&mut f.ipam, "POST", IPS, body);
        invalid(&r, "body", "format");
    }
    let r = call(&mut f.ipam, "PATCH", &f.path, "\u{1}\u{2}");
    invalid(&r, "body", "format");
    let big = format!(
        r#"{{"tags":["{}"]}}"#,
        "a".repeat(ipam_engine::rest::MAX_BODY_BYTES)
    );
    let r = call(&mut f.ipam, "PATCH", &f.path, &big);
    let v = error(&r, 413, "invalid_request");
    assert!(v["help_message"].is_string());
    let q = format!(
        "{IPS}?tags={}",
        "a".repeat(ipam_engine::rest::MAX_QUERY_BYTES)
    );
    invalid(&call(&mut f.ipam, "GET", &q, ""), "query", "constraint");
    let r = call(&mut f.ipam, "GET", &format!("{IPS}?tags=%ff"), "");
    invalid(&r, "query", "format");
    assert_eq!(f.state(), before);
}

#[test]
fn every_input_is_bounded() {
    let mut f = fixture();
    let before = f.state();
    let path = f.path.clone();
    let long_tag = json!({ "tags": ["x".repeat(129)] }).to_string();
    invalid(
        &call(&mut f.ipam, "PATCH", &path, &long_tag),
        "tags",
        "constraint",
    );
    let many_tags = json!({ "tags": (0..65).map(|i| i.to_string()).collect::<Vec<_>>() });
    invalid(
        &call(&mut f.ipam, "PATCH", &path, &many_tags.to_string()),
        "tags",
        "constraint",
    );
    let empty_tag = json!({ "tags": [""] }).to_string();
    invalid(
        &call(&mut f.ipam, "PATCH", &path, &empty_tag),
        "tags",
        "constraint",
    );
    let long_name =
        json!({"resource": {"mac_address": "bc:24:11:74:d0:5a", "name": "n".repeat(256)}});
    let r = call(
        &mut f.ipam,
        "POST",
        &format!("{path}/attach"),
        &long_name.to_string(),
    );
    invalid(&r, "resource.name", "constraint");
    let ids: Vec<String> = (0..1001).map(|_| MISSING.to_owned()).collect();
    let r = call(
        &mut f.ipam,
        "POST",
        "/ipam/v1/regions/fr-par/ip-sets/release",
        &json!({ "ip_ids": ids }).to_string(),
    );
    invalid(&r, "ip_ids", "constraint");
    let q = format!("ip_ids={MISSING}&").repeat(1001);
    invalid(
        &call(&mut f.ipam, "GET", &format!("{IPS}?{q}"), ""),
        "ip_ids",
        "constraint",
    );
    let reverses = json!({"reverses": (0..17).map(|i| json!({"hostname": format!("h{i}.example.com")})).collect::<Vec<_>>()});
    invalid(
        &call(&mut f.ipam, "PATCH", &path, &reverses.to_string()),
        "reverses",
        "constraint",
    );
    let pn = json!({"project_id": PROJECT, "name": "p".repeat(256)}).to_string();
    let r = call(
        &mut f.ipam,
        "POST",
        "/vpc/v2/regions/fr-par/private-networks",
        &pn,
    );
    invalid(&r, "name", "constraint");
    assert_eq!(f.state(), before);
}

#[test]
fn what_real_clients_send_is_accepted() {
    let mut f = fixture();
    let path = f.path.clone();
    // Bodies on GET, none on PATCH; content types are not required.
    ok(&call(&mut f.ipam, "GET", &path, "{}"));
    ok(&call(&mut f.ipam, "GET", &path, "not even json"));
    let v = ok(&call(&mut f.ipam, "PATCH", &path, ""));
    assert_eq!(v["tags"], json!([]));
    // The Go SDK: `"reverses": null`, `"name": null`, `order_by` and `resource_type=unknown_type`.
    let v = ok(&call(
        &mut f.ipam,
        "PATCH",
        &path,
        r#"{"tags":["a","b"],"reverses":null}"#,
    ));
    assert_eq!(v["tags"], json!(["a", "b"]));
    let v = ok(&call(
        &mut f.ipam,
        "POST",
        &format!("{path}/attach"),
        r#"{"resource":{"mac_address":"BC:24:11:74:D0:5A","name":null},"unknown":1}"#,
    ));
    assert_eq!(v["resource"]["mac_address"], "BC:24:11:74:D0:5A");
    assert_eq!(v["resource"]["name"], Value::Null);
    // The Python SDK: `True`, project_id and organization_id from its defaults, unknown keys.
    let q = format!(
        "{IPS}?attached=True&is_ipv6=FALSE&project_id={PROJECT}&organization_id={PROJECT}&page_size=10&resource_type=unknown_type&order_by=created_at_desc&foo=bar&tags=b&tags=zz&vpc_id=&zonal=null"
    );
    let v = ok(&call(&mut f.ipam, "GET", &q, "{}"));
    assert_eq!(v["total_count"], 1);
    ok(&call(&mut f.ipam, "POST", &format!("{path}/detach"), MAC));
    // Releases: 204 with an empty body, even with a `{}` body on DELETE.
    let r = call(&mut f.ipam, "DELETE", &path, "{}");
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    let ip = ok(&call(
        &mut f.ipam,
        "POST",
        IPS,
        &book_body(
            &f.pn,
            r#","is_ipv6":null,"tags":null,"address":null,"resource":null"#,
        ),
    ));
    assert_eq!(ip["address"], "172.16.32.2/22");
    let r = call(
        &mut f.ipam,
        "POST",
        "/ipam/v1/regions/fr-par/ip-sets/release",
        &json!({"ip_ids": [ip["id"]]}).to_string(),
    );
    assert_eq!(r.status, 204);
    assert!(r.body.is_empty());
    // A page past the end.
    let v = ok(&call(&mut f.ipam, "GET", &format!("{IPS}?page=7"), ""));
    assert_eq!(v, json!({"total_count": 0, "ips": []}));
    // Health.
    assert_eq!(
        ok(&call(&mut f.ipam, "GET", "/healthz", "")),
        json!({"status": "ok"})
    );
}

#[test]
fn vpc_and_private_network_lifecycle() {
    let mut ipam = Ipam::new();
    let vpc = ok(&call(
        &mut ipam,
        "POST",
        "/vpc/v2/regions/nl-ams/vpcs",
        &json!({"project_id": PROJECT, "name": "v", "enable_routing": true, "tags": null})
            .to_string(),
    ));
    assert_eq!(vpc["region"], "nl-ams");
    let vpc_id = vpc["id"].as_str().unwrap();
    let pn = ok(&call(
        &mut ipam,
        "POST",
        "/vpc/v2/regions/nl-ams/private-networks",
        &json!({"project_id": PROJECT, "name": "p", "vpc_id": vpc_id, "subnets": null}).to_string(),
    ));
    assert_eq!(pn["vpc_id"], vpc_id);
    assert_eq!(pn["subnets"].as_array().unwrap().len(), 2);
    let pn_id = pn["id"].as_str().unwrap();
    let list = ok(&call(
        &mut ipam,
        "GET",
        &format!("/vpc/v2/regions/nl-ams/private-networks?vpc_id={vpc_id}&project_id={PROJECT}&organization_id={PROJECT}"),
        "",
    ));
    assert_eq!(list["total_count"], 1);
    let list = ok(&call(
        &mut ipam,
        "GET",
        "/vpc/v2/regions/nl-ams/vpcs?is_default=False",
        "{}",
    ));
    assert_eq!(list["total_count"], 1);
    assert_eq!(list["vpcs"][0]["private_network_count"], 1);
    ok(&call(
        &mut ipam,
        "GET",
        &format!("/vpc/v2/regions/nl-ams/vpcs/{vpc_id}"),
        "",
    ));
    let r = call(
        &mut ipam,
        "DELETE",
        &format!("/vpc/v2/regions/nl-ams/vpcs/{vpc_id}"),
        "",
    );
    precondition(&r, "resource_still_in_use");
    let r = call(
        &mut ipam,
        "DELETE",
        &format!("/vpc/v2/regions/nl-ams/private-networks/{pn_id}"),
        "{}",
    );
    assert_eq!((r.status, r.body.len()), (204, 0));
    let r = call(
        &mut ipam,
        "DELETE",
        &format!("/vpc/v2/regions/nl-ams/vpcs/{vpc_id}"),
        "",
    );
    assert_eq!((r.status, r.body.len()), (204, 0));
    // Other regions saw nothing.
    let list = ok(&call(&mut ipam, "GET", "/vpc/v2/regions/fr-par/vpcs", ""));
    assert_eq!(list["total_count"], 0);
}
