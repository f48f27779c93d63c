//! Golden tests of the JSON wire format against the real exchanges recorded in
//! `recorded-exchanges.md`: request bodies are parsed into the request types and drive the engine,
//! and every response the engine gives is compared, field for field, with the recorded one once
//! the recorded ids and timestamps are replaced by the engine's own.

use std::collections::BTreeSet;
use std::net::IpAddr;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use ipam_engine::{
    BookIpRequest, CreatePrivateNetworkRequest, CustomResource, Ip, IpId, Ipam, ListIpsRequest,
    ListIpsResponse, MacAddress, ManualClock, MoveIpRequest, OrderBy, PrivateNetwork,
    PrivateNetworkId, ProjectId, Region, ResourceId, ResourceType, Reverse, SeededRandom,
    ServiceResource, Source, SubnetId, UpdateIpRequest,
};
use proptest::prelude::*;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Recorded bodies, verbatim.
// ---------------------------------------------------------------------------------------------

const PROJECT: &str = "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5";

const A_BOOK: &str = r#"{"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","source":{"private_network_id":"262bd293-0ffd-442d-8951-148b84cf147d"},"is_ipv6":false,"tags":[]}"#;
const A_IP: &str = r#"{"address":"172.16.32.2/22","created_at":"2026-03-12T08:43:37.311562Z","id":"03adfd64-bdc8-4bb5-87af-6d0c8e1a5617","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"12073fcb-5114-46fd-b84e-bd72fdd684b6"},"tags":[],"updated_at":"2026-03-12T08:43:37.311562Z","zone":null}"#;
const A_NOT_FOUND: &str = r#"{"message":"resource is not found","resource":"ip","resource_id":"03adfd64-bdc8-4bb5-87af-6d0c8e1a5617","type":"not_found"}"#;

const B_BOOK: &str = r#"{"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","source":{"private_network_id":"cab0379a-7c1a-40bb-9f75-b60d7dd73034"},"is_ipv6":false,"tags":[],"resource":{"mac_address":"bc:24:11:74:d0:5a","name":null}}"#;
const B_IP: &str = r#"{"address":"172.16.32.2/22","created_at":"2025-06-30T15:02:10.950535Z","id":"f274515f-1535-46bd-aaed-e15ef3cb1432","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":{"id":"f274515f-1535-46bd-aaed-e15ef3cb1432","mac_address":"BC:24:11:74:D0:5A","name":null,"type":"custom"},"reverses":[],"source":{"subnet_id":"2438b67d-b57d-4d19-9896-94f6f20277ad"},"tags":[],"updated_at":"2025-06-30T15:02:10.950535Z","zone":null}"#;
const B_MOVE: &str = r#"{"from_resource":{"mac_address":"bc:24:11:74:d0:5a","name":null},"to_resource":{"mac_address":"bc:24:11:74:d0:5b","name":null}}"#;
const B_MOVED: &str = r#"{"address":"172.16.32.2/22","created_at":"2025-06-30T15:02:10.950535Z","id":"f274515f-1535-46bd-aaed-e15ef3cb1432","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":{"id":"f274515f-1535-46bd-aaed-e15ef3cb1432","mac_address":"BC:24:11:74:D0:5B","name":null,"type":"custom"},"reverses":[],"source":{"subnet_id":"2438b67d-b57d-4d19-9896-94f6f20277ad"},"tags":[],"updated_at":"2025-06-30T15:02:13.232354Z","zone":null}"#;
const B_DETACH_MOVE: &str = r#"{"from_resource":{"mac_address":"bc:24:11:74:d0:5b","name":null}}"#;
const B_DETACHED: &str = r#"{"address":"172.16.32.2/22","created_at":"2025-06-30T15:02:10.950535Z","id":"f274515f-1535-46bd-aaed-e15ef3cb1432","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"2438b67d-b57d-4d19-9896-94f6f20277ad"},"tags":[],"updated_at":"2025-06-30T15:02:14.213428Z","zone":null}"#;

const C_PATCH: &str = r#"{"tags":["terraform-test","ipam","updated"],"reverses":null}"#;
const C_IP: &str = r#"{"address":"172.16.32.2/22","created_at":"2025-06-30T15:02:10.967542Z","id":"7ae44882-d1f0-4b4a-9214-6ccff14a2f16","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"353c90bf-fc51-4a24-8118-22736d07e529"},"tags":["terraform-test","ipam","updated"],"updated_at":"2025-06-30T15:02:13.205613Z","zone":null}"#;

const D_LIST: &str = r#"{"ips":[{"address":"172.16.32.2/22","created_at":"2025-06-30T15:02:10.952803Z","id":"6351c66e-638a-4925-be77-2cb82e861f6f","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"9fca300c-c2d8-4c0f-a05a-f1fa2c396514"},"tags":["terraform-test","data_scaleway_ipam_ips"],"updated_at":"2025-06-30T15:02:10.952803Z","zone":null},{"address":"172.16.32.3/22","created_at":"2025-06-30T15:02:10.950270Z","id":"e6ed3dfe-94e5-463e-82a7-6a73266dfa59","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"9fca300c-c2d8-4c0f-a05a-f1fa2c396514"},"tags":["terraform-test","data_scaleway_ipam_ips"],"updated_at":"2025-06-30T15:02:10.950270Z","zone":null}],"total_count":2}"#;
const D_ZONAL: &str = r#"{"ips":[],"total_count":0}"#;

const F_BOOK: &str = r#"{"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","source":{"private_network_id":"b8acf678-d75c-4a8b-a853-5dfdeb6f02f7"},"is_ipv6":false,"address":"172.16.32.7","tags":[]}"#;
const F_IP: &str = r#"{"address":"172.16.32.7/22","created_at":"2025-11-20T14:09:24.747422Z","id":"8a7ff36c-7e00-441f-bfda-b6bdcb8ecc5f","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"reverses":[],"source":{"subnet_id":"d6f50c62-4d90-4c80-b673-53a614f53de1"},"tags":[],"updated_at":"2025-11-20T14:09:24.747422Z","zone":null}"#;

const G_LIST: &str = r#"{"total_count":2,"ips":[{"id":"0e4e671a-1120-43b3-a836-8a2c732a76c3","address":"fd46:78ab:30b8:43a6:3c3b:4a03:e361:c91d/64","project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","is_ipv6":true,"created_at":"2025-05-22T13:52:41.891300Z","updated_at":"2025-05-22T13:52:41.891300Z","source":{"subnet_id":"e6eb712f-b70e-44d3-9808-6526b5014ebd"},"resource":{"type":"instance_private_nic","id":"e549aaa4-dc95-4424-8618-6f94eedb6b70","mac_address":"02:00:00:12:73:B2","name":"cli-srv-quizzical-matsumoto"},"tags":[],"reverses":[],"region":"fr-par","zone":null},{"id":"73b6e1c6-6f03-4a6a-8b61-66dd594c0e3a","address":"172.16.48.2/22","project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","is_ipv6":false,"created_at":"2025-05-22T13:52:41.415379Z","updated_at":"2025-05-22T13:52:41.415379Z","source":{"subnet_id":"f1ce1926-5e26-4ba1-a82f-4bc8db1c7f56"},"resource":{"type":"instance_private_nic","id":"e549aaa4-dc95-4424-8618-6f94eedb6b70","mac_address":"02:00:00:12:73:B2","name":"cli-srv-quizzical-matsumoto"},"tags":[],"reverses":[],"region":"fr-par","zone":null}]}"#;

const I_IP: &str = r#"{"address":"2001:bc8:711:4b81::/64","created_at":"2026-07-30T12:55:13.483693Z","id":"5d084e46-ffbe-45c9-abaa-213ed9bad8ad","is_ipv6":true,"project_id":"105bdce1-64c0-48ab-899d-868455867ecf","region":"fr-par","resource":{"id":"18ad42fa-4146-46b5-a24a-a39fb24dc5fc","mac_address":null,"name":null,"type":"instance_server"},"reverses":[{"address":null,"hostname":"2001-bc8-711-4b81-0-0-0-0.rev.scw.cloud."},{"address":"2001:bc8:711:4b81:dc00:1ff:fe27:167d","hostname":"167d-fe27-1ff-dc00-4b81-711-bc8-2001.instances.scw.cloud."}],"source":{"zonal":"fr-par-1"},"tags":[],"updated_at":"2026-07-30T12:55:15.811331Z","zone":"fr-par-1"}"#;
const I_PATCH: &str = r#"{"reverses":[{"hostname":"tf-reverse-ipam.scaleway-terraform.com","address":"2001:bc8:711:4b81::2a"}]}"#;

const J_IP: &str = r#"{"address":"172.16.32.7/22","created_at":"2023-10-26T19:00:21.090791Z","id":"eb7e2099-49a1-4d85-ac5e-9bf414885d86","is_ipv6":false,"project_id":"564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5","region":"fr-par","resource":null,"source":{"subnet_id":"4c234232-f57c-4dee-85c6-afd677335800"},"tags":[],"updated_at":"2023-10-26T19:00:21.090791Z","zone":null}"#;

/// The keys of every IP object the API returns.
const IP_KEYS: [&str; 12] = [
    "id",
    "address",
    "project_id",
    "is_ipv6",
    "created_at",
    "updated_at",
    "source",
    "resource",
    "tags",
    "reverses",
    "region",
    "zone",
];

// ---------------------------------------------------------------------------------------------
// Helpers.
// ---------------------------------------------------------------------------------------------

const REGION: Region = Region::FrPar;

/// A deterministic engine: the clock starts at the time of exchange B and moves 1.234567 s
/// per reading.
fn engine(seed: u64) -> Ipam {
    let start = DateTime::from_timestamp_micros(1_751_295_730_950_535).unwrap();
    Ipam::builder()
        .clock(ManualClock::new(start, TimeDelta::microseconds(1_234_567)))
        .random(SeededRandom::new(seed))
        .build()
}

fn project() -> ProjectId {
    PROJECT.parse().unwrap()
}

fn private_network(ipam: &mut Ipam, project: ProjectId, subnets: &[&str]) -> PrivateNetwork {
    ipam.create_private_network(
        REGION,
        CreatePrivateNetworkRequest::new(project)
            .subnets(subnets.iter().map(|s| s.parse().unwrap())),
    )
    .unwrap()
}

/// The id of the Private Network's subnet of the given family (the first one).
fn subnet_of(pn: &PrivateNetwork, is_ipv6: bool) -> SubnetId {
    pn.subnets
        .iter()
        .find(|s| s.subnet.addr().is_ipv6() == is_ipv6)
        .unwrap()
        .id
}

/// A recorded JSON text with `subs` (recorded value, engine value) replaced, parsed.
fn recorded(json: &str, subs: &[(&str, String)]) -> Value {
    let mut text = json.to_owned();
    for (from, to) in subs {
        assert!(text.contains(from), "{from} is not in the recorded text");
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap()
}

/// A recorded body with the recorded Private Network id replaced by `pn`'s, parsed as `T`.
fn request<T: serde::de::DeserializeOwned>(
    json: &str,
    recorded_pn: &str,
    pn: PrivateNetworkId,
) -> T {
    let text = json.replace(recorded_pn, &pn.to_string());
    serde_json::from_str(&text).unwrap()
}

/// A timestamp in the API's form.
fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Whether `s` matches `^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`.
fn is_api_timestamp(s: &str) -> bool {
    const PATTERN: &[u8] = b"dddd-dd-ddTdd:dd:dd.ddddddZ";
    s.len() == PATTERN.len()
        && s.bytes().zip(PATTERN).all(|(c, &p)| {
            if p == b'd' {
                c.is_ascii_digit()
            } else {
                c == p
            }
        })
}

fn to_value<T: serde::Serialize>(t: &T) -> Value {
    serde_json::to_value(t).unwrap()
}

/// Checks what every freshly booked, unattached, untagged private IPv4 looks like.
fn assert_fresh_ip(ip: &Ip, address: &str, subnet: SubnetId) {
    let v = to_value(ip);
    let keys: BTreeSet<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, IP_KEYS.into_iter().collect::<BTreeSet<_>>());
    assert_eq!(v["id"], json!(ip.id.to_string()));
    assert_eq!(v["address"], json!(address));
    assert_eq!(v["project_id"], json!(PROJECT));
    assert_eq!(v["is_ipv6"], json!(false));
    assert_eq!(v["source"], json!({ "subnet_id": subnet.to_string() }));
    assert_eq!(v["resource"], Value::Null);
    assert_eq!(v["tags"], json!([]));
    assert_eq!(v["reverses"], json!([]));
    assert_eq!(v["region"], json!("fr-par"));
    assert_eq!(v["zone"], Value::Null);
    let created = v["created_at"].as_str().unwrap();
    let updated = v["updated_at"].as_str().unwrap();
    assert!(is_api_timestamp(created), "{created}");
    assert_eq!(created, updated);
    assert_eq!(created, time(ip.created_at));
}

// ---------------------------------------------------------------------------------------------
// Key set and conventions.
// ---------------------------------------------------------------------------------------------

#[test]
fn timestamp_checker_accepts_only_the_api_form() {
    assert!(is_api_timestamp("2025-06-30T15:02:10.950535Z"));
    for bad in [
        "2025-06-30T15:02:10.95053Z",
        "2025-06-30T15:02:10.9505350Z",
        "2025-06-30T15:02:10Z",
        "2025-06-30T15:02:10.950535+00:00",
        "2025-06-30 15:02:10.950535Z",
    ] {
        assert!(!is_api_timestamp(bad), "{bad}");
    }
}

#[test]
fn booked_ips_have_the_recorded_key_set_and_null_conventions() {
    let mut ipam = engine(1);
    let pn = private_network(&mut ipam, project(), &["172.16.32.0/22"]);
    assert_eq!(pn.subnets.len(), 2);
    let v4 = subnet_of(&pn, false);
    assert_eq!(
        pn.subnets
            .iter()
            .find(|s| s.id == v4)
            .unwrap()
            .subnet
            .to_string(),
        "172.16.32.0/22"
    );

    let request = BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id));
    let first = ipam.book_ip(REGION, request.clone()).unwrap();
    assert_fresh_ip(&first, "172.16.32.2/22", v4);
    let second = ipam.book_ip(REGION, request).unwrap();
    assert_fresh_ip(&second, "172.16.32.3/22", v4);
    let specific: BookIpRequest = request_of_f(pn.id);
    let seventh = ipam.book_ip(REGION, specific).unwrap();
    assert_fresh_ip(&seventh, "172.16.32.7/22", v4);

    assert!(second.created_at > first.created_at);
    assert!(seventh.created_at > second.created_at);
    // What the engine returns is what it stores.
    for ip in [&first, &second, &seventh] {
        assert_eq!(&ipam.get_ip(REGION, ip.id).unwrap(), ip);
    }
    ipam.check_invariants().unwrap();
}

fn request_of_f(pn: PrivateNetworkId) -> BookIpRequest {
    request(F_BOOK, "b8acf678-d75c-4a8b-a853-5dfdeb6f02f7", pn)
}

// ---------------------------------------------------------------------------------------------
// The recorded exchanges, replayed.
// ---------------------------------------------------------------------------------------------

#[test]
fn exchange_a_book_auto_release_then_get_is_not_found() {
    let mut ipam = engine(2);
    let pn = private_network(&mut ipam, project(), &["172.16.32.0/22"]);
    let book: BookIpRequest = request(A_BOOK, "262bd293-0ffd-442d-8951-148b84cf147d", pn.id);
    assert_eq!(
        book,
        BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id))
    );

    let ip = ipam.book_ip(REGION, book).unwrap();
    let expected = recorded(
        A_IP,
        &[
            ("03adfd64-bdc8-4bb5-87af-6d0c8e1a5617", ip.id.to_string()),
            (
                "12073fcb-5114-46fd-b84e-bd72fdd684b6",
                subnet_of(&pn, false).to_string(),
            ),
            ("2026-03-12T08:43:37.311562Z", time(ip.created_at)),
        ],
    );
    assert_eq!(to_value(&ip), expected);

    ipam.release_ip(REGION, ip.id).unwrap();
    let err = ipam.get_ip(REGION, ip.id).unwrap_err();
    assert_eq!(err, ipam_engine::Error::IpNotFound { id: ip.id });
    assert_eq!(err.http_status(), 404);
    assert_eq!(
        serde_json::to_string(&err.to_api_error()).unwrap(),
        A_NOT_FOUND.replace("03adfd64-bdc8-4bb5-87af-6d0c8e1a5617", &ip.id.to_string())
    );
    assert_eq!(ipam.ip_count(REGION), 0);
    ipam.check_invariants().unwrap();
}

#[test]
fn exchange_b_book_with_custom_resource_then_move_and_detach_by_move() {
    let mut ipam = engine(3);
    let pn = private_network(&mut ipam, project(), &["172.16.32.0/22"]);
    let subnet = subnet_of(&pn, false).to_string();
    let book: BookIpRequest = request(B_BOOK, "cab0379a-7c1a-40bb-9f75-b60d7dd73034", pn.id);
    let mac_a: MacAddress = "BC:24:11:74:D0:5A".parse().unwrap();
    assert_eq!(book.resource, Some(CustomResource::new(mac_a)));

    let booked = ipam.book_ip(REGION, book).unwrap();
    let resource = booked.resource.as_ref().unwrap();
    assert_eq!(resource.resource_type, ResourceType::Custom);
    assert_eq!(resource.id, ResourceId::from(booked.id));
    assert_eq!(resource.name, None);
    // The recorded ip id appears twice (id and resource.id): both must be the engine's ip id,
    // and created_at twice (created_at and updated_at): both must be the booking time.
    let id = (
        "f274515f-1535-46bd-aaed-e15ef3cb1432",
        booked.id.to_string(),
    );
    let sub = ("2438b67d-b57d-4d19-9896-94f6f20277ad", subnet);
    let created = ("2025-06-30T15:02:10.950535Z", time(booked.created_at));
    assert_eq!(
        to_value(&booked),
        recorded(B_IP, &[id.clone(), sub.clone(), created.clone()])
    );

    let to_b: MoveIpRequest = serde_json::from_str(B_MOVE).unwrap();
    assert_eq!(to_b.from_resource.mac_address, mac_a);
    let moved = ipam.move_ip(REGION, booked.id, to_b).unwrap();
    assert!(moved.updated_at > booked.updated_at);
    assert_eq!(moved.created_at, booked.created_at);
    assert_eq!(
        to_value(&moved),
        recorded(
            B_MOVED,
            &[
                id.clone(),
                sub.clone(),
                created.clone(),
                ("2025-06-30T15:02:13.232354Z", time(moved.updated_at)),
            ]
        )
    );

    let detach: MoveIpRequest = serde_json::from_str(B_DETACH_MOVE).unwrap();
    assert_eq!(detach.to_resource, None);
    let detached = ipam.move_ip(REGION, booked.id, detach).unwrap();
    assert!(detached.updated_at > moved.updated_at);
    assert_eq!(
        to_value(&detached),
        recorded(
            B_DETACHED,
            &[
                id,
                sub,
                created,
                ("2025-06-30T15:02:14.213428Z", time(detached.updated_at)),
            ]
        )
    );
    assert_eq!(ipam.get_ip(REGION, booked.id).unwrap(), detached);
    ipam.check_invariants().unwrap();
}

#[test]
fn exchange_c_update_tags_leaves_reverses_on_null() {
    let mut ipam = engine(4);
    let pn = private_network(&mut ipam, project(), &["172.16.32.0/22"]);
    let ip = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id)),
        )
        .unwrap();
    let patch: UpdateIpRequest = serde_json::from_str(C_PATCH).unwrap();
    assert_eq!(patch.reverses, None);
    assert_eq!(
        patch.tags,
        Some(vec![
            "terraform-test".to_owned(),
            "ipam".to_owned(),
            "updated".to_owned()
        ])
    );

    let updated = ipam.update_ip(REGION, ip.id, patch.clone()).unwrap();
    assert!(updated.updated_at > ip.updated_at);
    assert_eq!(
        to_value(&updated),
        recorded(
            C_IP,
            &[
                ("7ae44882-d1f0-4b4a-9214-6ccff14a2f16", ip.id.to_string()),
                (
                    "353c90bf-fc51-4a24-8118-22736d07e529",
                    subnet_of(&pn, false).to_string()
                ),
                ("2025-06-30T15:02:10.967542Z", time(ip.created_at)),
                ("2025-06-30T15:02:13.205613Z", time(updated.updated_at)),
            ]
        )
    );

    // `"reverses": null` leaves existing reverses alone, and absent tags leave tags alone.
    let with_reverse = ipam
        .update_ip(
            REGION,
            ip.id,
            serde_json::from_str(r#"{"reverses":[{"hostname":"db.example.com","address":null}]}"#)
                .unwrap(),
        )
        .unwrap();
    assert_eq!(
        to_value(&with_reverse)["reverses"],
        json!([{ "hostname": "db.example.com.", "address": null }])
    );
    assert_eq!(with_reverse.tags, updated.tags);
    let again = ipam.update_ip(REGION, ip.id, patch).unwrap();
    assert_eq!(again.reverses, with_reverse.reverses);
    assert_eq!(again.tags, updated.tags);
    ipam.check_invariants().unwrap();
}

#[test]
fn exchange_d_list_by_tags_is_newest_first_and_zonal_is_empty() {
    let mut ipam = engine(5);
    let pn = private_network(&mut ipam, project(), &["172.16.32.0/22"]);
    let tags = ["terraform-test", "data_scaleway_ipam_ips"];
    // Recorded: .3 was created before .2 (parallel bookings); book .3 first to reproduce that.
    let third = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id))
                .address("172.16.32.3".parse().unwrap())
                .tags(tags),
        )
        .unwrap();
    let second = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id)).tags(tags),
        )
        .unwrap();
    // Neither tag: not listed.
    let untagged = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id)).tags(["other"]),
        )
        .unwrap();
    assert_eq!(untagged.address.to_string(), "172.16.32.4/22");

    let query = ListIpsRequest {
        order_by: OrderBy::CreatedAtDesc,
        page: 1,
        resource_type: Some(ResourceType::UnknownType),
        tags: tags.map(str::to_owned).to_vec(),
        ..ListIpsRequest::default()
    };
    let page = ipam.list_ips(REGION, &query).unwrap();
    let expected = recorded(
        D_LIST,
        &[
            (
                "6351c66e-638a-4925-be77-2cb82e861f6f",
                second.id.to_string(),
            ),
            ("e6ed3dfe-94e5-463e-82a7-6a73266dfa59", third.id.to_string()),
            (
                "9fca300c-c2d8-4c0f-a05a-f1fa2c396514",
                subnet_of(&pn, false).to_string(),
            ),
            ("2025-06-30T15:02:10.952803Z", time(second.created_at)),
            ("2025-06-30T15:02:10.950270Z", time(third.created_at)),
        ],
    );
    assert_eq!(to_value(&page), expected);

    let zonal = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                zonal: Some("fr-par-2".to_owned()),
                ..query
            },
        )
        .unwrap();
    assert_eq!(
        to_value(&zonal),
        serde_json::from_str::<Value>(D_ZONAL).unwrap()
    );
}

#[test]
fn exchange_e_list_by_tag_subset_and_by_private_network() {
    let mut ipam = engine(6);
    let project: ProjectId = "0fc78600-9f85-4984-9fbb-f59a7434b92c".parse().unwrap();
    let pn = private_network(&mut ipam, project, &["172.16.16.0/22"]);
    let book = BookIpRequest::new(project, Source::PrivateNetworkId(pn.id));
    let ip1 = ipam
        .book_ip(REGION, book.clone().tags(["test-ipam-list"]))
        .unwrap();
    let ip2 = ipam
        .book_ip(REGION, book.tags(["test-ipam-list", "extra"]))
        .unwrap();
    assert_eq!(ip1.address.to_string(), "172.16.16.2/22");
    assert_eq!(ip2.address.to_string(), "172.16.16.3/22");
    // The same tag in another Project's Private Network: filtered out by project_id.
    let elsewhere = private_network(&mut ipam, self::project(), &[]);
    ipam.book_ip(
        REGION,
        BookIpRequest::new(self::project(), Source::PrivateNetworkId(elsewhere.id))
            .tags(["test-ipam-list", "extra"]),
    )
    .unwrap();

    let base = ListIpsRequest {
        order_by: OrderBy::CreatedAtDesc,
        page: 1,
        project_id: Some(project),
        resource_type: Some(ResourceType::UnknownType),
        ..ListIpsRequest::default()
    };
    let extra = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                tags: vec!["extra".to_owned()],
                ..base.clone()
            },
        )
        .unwrap();
    assert_eq!(extra.total_count, 1);
    assert_eq!(extra.ips, vec![ip2.clone()]);
    assert_eq!(
        to_value(&extra.ips[0])["tags"],
        json!(["test-ipam-list", "extra"])
    );

    let by_pn = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                private_network_id: Some(pn.id),
                ..base
            },
        )
        .unwrap();
    assert_eq!(by_pn.total_count, 2);
    let addresses: Vec<String> = by_pn.ips.iter().map(|ip| ip.address.to_string()).collect();
    assert_eq!(addresses, ["172.16.16.3/22", "172.16.16.2/22"]);
}

#[test]
fn exchange_f_book_a_specific_address() {
    let mut ipam = engine(7);
    let pn = private_network(&mut ipam, project(), &["172.16.32.0/22"]);
    let book = request_of_f(pn.id);
    assert_eq!(book.address, Some("172.16.32.7".parse::<IpAddr>().unwrap()));
    assert!(!book.is_ipv6);
    let ip = ipam.book_ip(REGION, book).unwrap();
    assert_eq!(
        to_value(&ip),
        recorded(
            F_IP,
            &[
                ("8a7ff36c-7e00-441f-bfda-b6bdcb8ecc5f", ip.id.to_string()),
                (
                    "d6f50c62-4d90-4c80-b673-53a614f53de1",
                    subnet_of(&pn, false).to_string()
                ),
                ("2025-11-20T14:09:24.747422Z", time(ip.created_at)),
            ]
        )
    );
    // The lowest free address is still .2.
    let auto = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id)),
        )
        .unwrap();
    assert_eq!(auto.address.to_string(), "172.16.32.2/22");
}

fn nic_g() -> ServiceResource {
    ServiceResource::new(
        ResourceType::InstancePrivateNic,
        "e549aaa4-dc95-4424-8618-6f94eedb6b70".parse().unwrap(),
    )
    .mac_address("02:00:00:12:73:b2".parse().unwrap())
    .name("cli-srv-quizzical-matsumoto")
}

#[test]
fn exchange_g_list_private_network_with_product_resources() {
    let mut ipam = engine(8);
    let pn = private_network(
        &mut ipam,
        project(),
        &["172.16.48.0/22", "fd46:78ab:30b8:43a6::/64"],
    );
    assert_eq!(pn.subnets.len(), 2);
    let source = Source::PrivateNetworkId(pn.id);
    // Recorded: the IPv4 was booked first.
    let v4 = ipam
        .book_ip_for_resource(
            REGION,
            BookIpRequest::new(project(), source.clone()),
            nic_g(),
        )
        .unwrap();
    let v6 = ipam
        .book_ip_for_resource(
            REGION,
            BookIpRequest::new(project(), source)
                .address("fd46:78ab:30b8:43a6:3c3b:4a03:e361:c91d".parse().unwrap()),
            nic_g(),
        )
        .unwrap();
    // An IP of another Private Network of the VPC: not listed.
    let other = private_network(&mut ipam, project(), &[]);
    ipam.book_ip(
        REGION,
        BookIpRequest::new(project(), Source::PrivateNetworkId(other.id)),
    )
    .unwrap();

    let page = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                order_by: OrderBy::CreatedAtDesc,
                page: 1,
                private_network_id: Some(pn.id),
                resource_type: Some(ResourceType::UnknownType),
                ..ListIpsRequest::default()
            },
        )
        .unwrap();
    let expected = recorded(
        G_LIST,
        &[
            ("0e4e671a-1120-43b3-a836-8a2c732a76c3", v6.id.to_string()),
            ("73b6e1c6-6f03-4a6a-8b61-66dd594c0e3a", v4.id.to_string()),
            (
                "e6eb712f-b70e-44d3-9808-6526b5014ebd",
                subnet_of(&pn, true).to_string(),
            ),
            (
                "f1ce1926-5e26-4ba1-a82f-4bc8db1c7f56",
                subnet_of(&pn, false).to_string(),
            ),
            ("2025-05-22T13:52:41.891300Z", time(v6.created_at)),
            ("2025-05-22T13:52:41.415379Z", time(v4.created_at)),
        ],
    );
    assert_eq!(to_value(&page), expected);
    ipam.check_invariants().unwrap();
}

#[test]
fn auto_ipv6_is_a_bookable_address_of_the_64_in_rfc_5952_form() {
    let mut ipam = engine(9);
    let pn = private_network(
        &mut ipam,
        project(),
        &["172.16.48.0/22", "fd46:78ab:30b8:43a6::/64"],
    );
    let net: ipnet::IpNet = "fd46:78ab:30b8:43a6::/64".parse().unwrap();
    let mut seen = BTreeSet::new();
    for _ in 0..32 {
        let ip = ipam
            .book_ip(
                REGION,
                BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id)).ipv6(true),
            )
            .unwrap();
        let v = to_value(&ip);
        assert_eq!(v["is_ipv6"], json!(true));
        assert_eq!(
            v["source"],
            json!({ "subnet_id": subnet_of(&pn, true).to_string() })
        );
        assert_eq!(ip.address.prefix_len(), 64);
        let IpAddr::V6(addr) = ip.address.addr() else {
            panic!("{ip:?} is not IPv6")
        };
        assert!(net.contains(&ip.address.addr()));
        let iid = u128::from(addr) & u128::from(u64::MAX);
        assert!(iid > 1 && iid < u128::from(u64::MAX - 127), "{addr}");
        assert_eq!(v["address"], json!(format!("{addr}/64")));
        assert!(seen.insert(addr));
    }
}

#[test]
fn exchange_h_mac_filter_is_case_insensitive_and_is_ipv6_filters() {
    let mut ipam = engine(10);
    let pn = private_network(
        &mut ipam,
        project(),
        &["10.1.200.0/22", "fd5f:519c:6d46:61ca::/64"],
    );
    let nic_id: ResourceId = "b0dcd886-0000-4000-8000-000000000001".parse().unwrap();
    let nic = ServiceResource::new(ResourceType::InstancePrivateNic, nic_id)
        .mac_address("02:00:00:12:CC:A6".parse().unwrap())
        .name("tf-tests-ipam-ip-datasource-instance");
    let source = Source::PrivateNetworkId(pn.id);
    let v4 = ipam
        .book_ip_for_resource(
            REGION,
            BookIpRequest::new(project(), source.clone()),
            nic.clone(),
        )
        .unwrap();
    // The IPv6 one is attached after booking, through the embedding service's call.
    let v6 = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(project(), source.clone())
                .address("fd5f:519c:6d46:61ca:fa0:708:2959:d190".parse().unwrap()),
        )
        .unwrap();
    let v6 = ipam.attach_resource(REGION, v6.id, nic).unwrap();
    // Another NIC in the same network: never matched.
    let other = ServiceResource::new(
        ResourceType::InstancePrivateNic,
        "b0dcd886-0000-4000-8000-000000000002".parse().unwrap(),
    )
    .mac_address("02:00:00:12:CC:A7".parse().unwrap());
    ipam.book_ip_for_resource(REGION, BookIpRequest::new(project(), source), other)
        .unwrap();

    let query = ListIpsRequest {
        is_ipv6: Some(false),
        mac_address: Some("02:00:00:12:cc:a6".parse().unwrap()),
        order_by: OrderBy::CreatedAtDesc,
        page: 1,
        resource_type: Some(ResourceType::UnknownType),
        ..ListIpsRequest::default()
    };
    let page = ipam.list_ips(REGION, &query).unwrap();
    assert_eq!(page.total_count, 1);
    let v = to_value(&page.ips[0]);
    assert_eq!(v["address"], json!("10.1.200.2/22"));
    assert_eq!(v["is_ipv6"], json!(false));
    assert_eq!(v["id"], json!(v4.id.to_string()));
    assert_eq!(
        v["resource"],
        json!({
            "id": nic_id.to_string(),
            "mac_address": "02:00:00:12:CC:A6",
            "name": "tf-tests-ipam-ip-datasource-instance",
            "type": "instance_private_nic",
        })
    );

    let both = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                is_ipv6: None,
                ..query
            },
        )
        .unwrap();
    assert_eq!(both.total_count, 2);
    assert_eq!(both.ips, vec![v6.clone(), v4]);
    assert_eq!(
        to_value(&v6)["address"],
        json!("fd5f:519c:6d46:61ca:fa0:708:2959:d190/64")
    );
    assert_eq!(to_value(&v6)["resource"], v["resource"]);
}

#[test]
fn exchange_i_patch_reverses_are_stored_with_a_trailing_dot() {
    let mut ipam = engine(11);
    let pn = private_network(
        &mut ipam,
        project(),
        &["172.16.32.0/22", "2001:bc8:711:4b81::/64"],
    );
    let ip = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id))
                .address("2001:bc8:711:4b81:dc00:1ff:fe27:167d".parse().unwrap()),
        )
        .unwrap();
    let patch: UpdateIpRequest = serde_json::from_str(I_PATCH).unwrap();
    assert_eq!(patch.tags, None);
    assert_eq!(
        patch.reverses,
        Some(vec![Reverse::new(
            "tf-reverse-ipam.scaleway-terraform.com",
            Some("2001:bc8:711:4b81::2a".parse().unwrap())
        )])
    );
    let updated = ipam.update_ip(REGION, ip.id, patch).unwrap();
    assert_eq!(
        to_value(&updated)["reverses"],
        json!([{
            "address": "2001:bc8:711:4b81::2a",
            "hostname": "tf-reverse-ipam.scaleway-terraform.com."
        }])
    );
    assert!(updated.updated_at > ip.updated_at);
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), updated);
    // `[]` clears them.
    let cleared = ipam
        .update_ip(
            REGION,
            ip.id,
            serde_json::from_str(r#"{"reverses":[]}"#).unwrap(),
        )
        .unwrap();
    assert_eq!(to_value(&cleared)["reverses"], json!([]));
}

// ---------------------------------------------------------------------------------------------
// Recorded responses read back.
// ---------------------------------------------------------------------------------------------

fn ip_round_trip(json: &str) -> (Ip, Value) {
    let ip: Ip = serde_json::from_str(json).unwrap();
    (ip.clone(), to_value(&ip))
}

#[test]
fn recorded_ip_responses_read_and_write_back_unchanged() {
    for json in [A_IP, B_IP, B_MOVED, B_DETACHED, C_IP, F_IP, I_IP] {
        let (_, back) = ip_round_trip(json);
        assert_eq!(back, serde_json::from_str::<Value>(json).unwrap(), "{json}");
    }
    for list in [D_LIST, G_LIST] {
        let v: Value = serde_json::from_str(list).unwrap();
        for item in v["ips"].as_array().unwrap() {
            let (_, back) = ip_round_trip(&item.to_string());
            assert_eq!(&back, item);
        }
    }
}

#[test]
fn recorded_zonal_ip_reads_every_field() {
    let (ip, _) = ip_round_trip(I_IP);
    assert_eq!(ip.source, Source::Zonal("fr-par-1".to_owned()));
    assert_eq!(ip.zone.as_deref(), Some("fr-par-1"));
    assert_eq!(ip.address.to_string(), "2001:bc8:711:4b81::/64");
    let resource = ip.resource.unwrap();
    assert_eq!(resource.resource_type, ResourceType::InstanceServer);
    assert_eq!(resource.mac_address, None);
    assert_eq!(resource.name, None);
    assert_eq!(ip.reverses.len(), 2);
    assert_eq!(ip.reverses[0].address, None);
    assert_eq!(
        ip.reverses[1].address,
        Some("2001:bc8:711:4b81:dc00:1ff:fe27:167d".parse().unwrap())
    );
    assert_eq!(ip.updated_at.timestamp_subsec_micros(), 811_331);
}

#[test]
fn pre_reverses_response_reads_with_empty_reverses() {
    let (ip, back) = ip_round_trip(J_IP);
    assert!(ip.reverses.is_empty());
    let mut expected: Value = serde_json::from_str(J_IP).unwrap();
    assert!(expected.get("reverses").is_none());
    expected["reverses"] = json!([]);
    assert_eq!(back, expected);
}

#[test]
fn recorded_list_responses_read_and_write_back_unchanged() {
    for json in [D_LIST, D_ZONAL, G_LIST] {
        let list: ListIpsResponse = serde_json::from_str(json).unwrap();
        assert_eq!(
            to_value(&list),
            serde_json::from_str::<Value>(json).unwrap()
        );
    }
    let d: ListIpsResponse = serde_json::from_str(D_LIST).unwrap();
    assert_eq!(d.total_count, 2);
    assert_eq!(d.ips[1].address.to_string(), "172.16.32.3/22");
}

// ---------------------------------------------------------------------------------------------
// Requests: null means absent; what is refused.
// ---------------------------------------------------------------------------------------------

const PN: &str = "262bd293-0ffd-442d-8951-148b84cf147d";

#[test]
fn null_reads_as_absent_in_book_requests() {
    let body = json!({
        "project_id": PROJECT,
        "source": { "private_network_id": PN, "subnet_id": null },
        "is_ipv6": null,
        "tags": null,
        "address": null,
        "resource": null,
    });
    let request: BookIpRequest = serde_json::from_value(body).unwrap();
    assert_eq!(
        request,
        BookIpRequest::new(project(), Source::PrivateNetworkId(PN.parse().unwrap()))
    );
    // Absent keys read the same.
    let minimal: BookIpRequest = serde_json::from_value(
        json!({ "project_id": PROJECT, "source": { "private_network_id": PN } }),
    )
    .unwrap();
    assert_eq!(minimal, request);
    // The Go SDK's `"name": null` inside a resource.
    let with_resource: BookIpRequest = serde_json::from_value(json!({
        "project_id": PROJECT,
        "source": { "private_network_id": PN },
        "resource": { "mac_address": "bc:24:11:74:d0:5a", "name": null },
    }))
    .unwrap();
    assert_eq!(
        with_resource.resource,
        Some(CustomResource::new("BC:24:11:74:D0:5A".parse().unwrap()))
    );
    let update: UpdateIpRequest =
        serde_json::from_value(json!({ "tags": null, "reverses": null })).unwrap();
    assert_eq!(update, UpdateIpRequest::default());
}

#[test]
fn source_needs_exactly_one_non_null_key() {
    let subnet = "12073fcb-5114-46fd-b84e-bd72fdd684b6";
    for zero in [
        json!({}),
        json!({ "subnet_id": null }),
        json!({ "private_network_id": null, "zonal": null, "regional": null, "vpc_id": null }),
    ] {
        assert!(
            serde_json::from_value::<Source>(zero.clone()).is_err(),
            "{zero}"
        );
    }
    for two in [
        json!({ "private_network_id": PN, "subnet_id": subnet }),
        json!({ "zonal": "fr-par-1", "regional": true }),
        json!({ "vpc_id": PN, "private_network_id": PN, "subnet_id": null }),
    ] {
        assert!(
            serde_json::from_value::<Source>(two.clone()).is_err(),
            "{two}"
        );
    }
    let book = json!({ "project_id": PROJECT, "source": { "private_network_id": PN, "subnet_id": subnet } });
    assert!(serde_json::from_value::<BookIpRequest>(book).is_err());
    // Each single key reads as its variant.
    let cases = [
        (
            json!({ "zonal": "fr-par-1" }),
            Source::Zonal("fr-par-1".to_owned()),
        ),
        (
            json!({ "private_network_id": PN }),
            Source::PrivateNetworkId(PN.parse().unwrap()),
        ),
        (
            json!({ "subnet_id": subnet, "zonal": null }),
            Source::SubnetId(subnet.parse().unwrap()),
        ),
        (json!({ "vpc_id": PN }), Source::VpcId(PN.parse().unwrap())),
        (json!({ "regional": false }), Source::Regional(false)),
    ];
    for (json, source) in cases {
        assert_eq!(
            serde_json::from_value::<Source>(json.clone()).unwrap(),
            source
        );
        let back = to_value(&source);
        assert_eq!(back.as_object().unwrap().len(), 1);
        assert_eq!(serde_json::from_value::<Source>(back).unwrap(), source);
    }
}

#[test]
fn unknown_resource_type_strings_are_refused() {
    for bad in [
        "Custom",
        "CUSTOM",
        "",
        "instance-private-nic",
        "unknown",
        "custom ",
    ] {
        assert!(
            serde_json::from_value::<ResourceType>(json!(bad)).is_err(),
            "{bad:?}"
        );
        let resource = json!({ "type": bad, "id": PN, "mac_address": null, "name": null });
        assert!(
            serde_json::from_value::<ServiceResource>(resource).is_err(),
            "{bad:?}"
        );
    }
    assert_eq!(
        serde_json::from_value::<ResourceType>(json!("instance_private_nic")).unwrap(),
        ResourceType::InstancePrivateNic
    );
    let mut ip: Value = serde_json::from_str(I_IP).unwrap();
    ip["resource"]["type"] = json!("instance_serverr");
    assert!(serde_json::from_value::<Ip>(ip).is_err());
}

// ---------------------------------------------------------------------------------------------
// Laws.
// ---------------------------------------------------------------------------------------------

/// One IP to book in a property test.
#[derive(Clone, Debug)]
struct Booking {
    is_ipv6: bool,
    tags: Vec<String>,
    /// Attach to: a custom resource (`None` type) or a product resource.
    attach: Option<(Option<usize>, [u8; 6], Option<String>)>,
    reverses: Vec<(String, bool)>,
}

fn booking() -> impl Strategy<Value = Booking> {
    (
        any::<bool>(),
        prop::collection::vec("\\PC{1,20}", 0..4),
        prop::option::of((
            prop::option::of(2..ResourceType::ALL.len()),
            any::<[u8; 6]>(),
            prop::option::of("\\PC{0,30}"),
        )),
        prop::collection::vec(
            (
                "[a-z0-9_]([a-z0-9_-]{0,8}[a-z0-9_])?(\\.[a-z0-9]([a-z0-9-]{0,8}[a-z0-9])?){0,3}\\.?",
                any::<bool>(),
            ),
            0..3,
        ),
    )
        .prop_map(|(is_ipv6, tags, attach, reverses)| Booking {
            is_ipv6,
            tags,
            attach,
            reverses,
        })
}

fn assert_json_identity(ip: &Ip) {
    let v = to_value(ip);
    let back: Ip = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(&back, ip);
    assert_eq!(to_value(&back), v);
    let text = serde_json::to_string(ip).unwrap();
    assert_eq!(&serde_json::from_str::<Ip>(&text).unwrap(), ip);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mac_address_json_roundtrip_is_identity(bytes in any::<[u8; 6]>()) {
        let mac = MacAddress::new(bytes);
        let upper = bytes.map(|b| format!("{b:02X}")).join(":");
        prop_assert_eq!(mac.to_string(), upper.clone());
        prop_assert_eq!(to_value(&mac), json!(upper.clone()));
        for text in [upper.clone(), upper.to_lowercase(), upper.replace(':', "-"), upper.to_lowercase().replace(':', "-")] {
            prop_assert_eq!(text.parse::<MacAddress>().unwrap(), mac);
            prop_assert_eq!(serde_json::from_value::<MacAddress>(json!(text)).unwrap(), mac);
        }
        let back: MacAddress = serde_json::from_value(to_value(&mac)).unwrap();
        prop_assert_eq!(back, mac);
        prop_assert_eq!(back.octets(), bytes);
    }

    #[test]
    fn resource_type_json_roundtrip_is_identity(t in prop::sample::select(ResourceType::ALL)) {
        prop_assert_eq!(to_value(&t), json!(t.as_str()));
        prop_assert_eq!(serde_json::from_value::<ResourceType>(to_value(&t)).unwrap(), t);
        prop_assert_eq!(t.to_string().parse::<ResourceType>().unwrap(), t);
    }

    #[test]
    fn order_by_json_roundtrip_is_identity(o in prop::sample::select(OrderBy::ALL)) {
        prop_assert_eq!(to_value(&o), json!(o.as_str()));
        prop_assert_eq!(serde_json::from_value::<OrderBy>(to_value(&o)).unwrap(), o);
        prop_assert_eq!(o.to_string().parse::<OrderBy>().unwrap(), o);
    }

    #[test]
    fn region_json_roundtrip_is_identity(r in prop::sample::select(Region::ALL)) {
        prop_assert_eq!(to_value(&r), json!(r.as_str()));
        prop_assert_eq!(serde_json::from_value::<Region>(to_value(&r)).unwrap(), r);
        prop_assert_eq!(r.to_string().parse::<Region>().unwrap(), r);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn ip_json_roundtrip_is_identity(
        seed in any::<u64>(),
        bookings in prop::collection::vec(booking(), 1..10),
    ) {
        let mut ipam = engine(seed);
        let pn = private_network(&mut ipam, project(), &["172.16.32.0/22"]);
        let mut ips = Vec::new();
        for b in bookings {
            let request = BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id))
                .ipv6(b.is_ipv6)
                .tags(b.tags);
            let ip = match b.attach {
                None => ipam.book_ip(REGION, request).unwrap(),
                Some((None, mac, name)) => {
                    let mut custom = CustomResource::new(MacAddress::new(mac));
                    custom.name = name;
                    ipam.book_ip(REGION, request.resource(custom)).unwrap()
                }
                Some((Some(t), mac, name)) => {
                    let mut product = ServiceResource::new(
                        ResourceType::ALL[t],
                        ResourceId::from(IpId::from_uuid(uuid::Uuid::from_u128(u128::from_le_bytes([mac[0]; 16])))),
                    );
                    product.mac_address = (mac[1] % 2 == 0).then_some(MacAddress::new(mac));
                    product.name = name;
                    ipam.book_ip_for_resource(REGION, request, product).unwrap()
                }
            };
            assert_json_identity(&ip);
            let ip = if b.reverses.is_empty() {
                ip
            } else {
                let reverses = b
                    .reverses
                    .into_iter()
                    .map(|(host, own)| Reverse::new(host, own.then_some(ip.address.addr())))
                    .collect();
                let update = UpdateIpRequest { tags: None, reverses: Some(reverses) };
                ipam.update_ip(REGION, ip.id, update).unwrap()
            };
            assert_json_identity(&ip);
            ips.push(ip);
        }
        let listed = ipam
            .list_ips(
                REGION,
                &ListIpsRequest { order_by: OrderBy::CreatedAtAsc, page_size: 1000, ..ListIpsRequest::default() },
            )
            .unwrap();
        prop_assert_eq!(&listed.ips, &ips);
        let v = to_value(&listed);
        prop_assert_eq!(to_value(&serde_json::from_value::<ListIpsResponse>(v.clone()).unwrap()), v);
        prop_assert!(ipam.check_invariants().is_ok());
    }
}
