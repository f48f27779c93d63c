//! Snapshot and restore: a restored engine answers every query exactly as the original, its own
//! snapshot is identical, and a corrupt or inconsistent snapshot is refused with a clear error,
//! never a panic.

mod common;

use chrono::{DateTime, TimeDelta};
use ipam_engine::{
    BookIpRequest, CreatePrivateNetworkRequest, CreateVpcRequest, CustomResource, Ipam,
    ListIpsRequest, ListPrivateNetworksRequest, ListVpcsRequest, MacAddress, ManualClock,
    MoveIpRequest, OrderBy, OrganizationId, PrivateNetworkId, ProjectId, Region, ResourceId,
    ResourceType, Reverse, SeededRandom, ServiceResource, Snapshot, SnapshotError, Source,
    UpdateIpRequest, SNAPSHOT_FORMAT_VERSION,
};
use proptest::prelude::*;
use serde_json::{json, Value};
use uuid::Uuid;

const REGIONS: [Region; 2] = [Region::FrPar, Region::NlAms];
const TAG_SETS: [&[&str]; 4] = [&[], &["a"], &["a", "b"], &["c", "a"]];
const ORDERS: [OrderBy; 10] = [
    OrderBy::CreatedAtAsc,
    OrderBy::CreatedAtDesc,
    OrderBy::UpdatedAtAsc,
    OrderBy::UpdatedAtDesc,
    OrderBy::AttachedAtAsc,
    OrderBy::AttachedAtDesc,
    OrderBy::IpAddressAsc,
    OrderBy::IpAddressDesc,
    OrderBy::MacAddressAsc,
    OrderBy::MacAddressDesc,
];

fn project(n: u8) -> ProjectId {
    ProjectId::from_uuid(Uuid::from_u128(
        0x5640_0000_0000_4000_8000_0000_0000_0000 + u128::from(n),
    ))
}

fn mac(n: u8) -> MacAddress {
    MacAddress::new([0x02, 0, 0, 0, 0, n])
}

/// Networks in two regions: per region, a Private Network in the default VPC (generated
/// subnets) and one in a created VPC with a given /26 (so it fills up) and a given /64.
fn fixture(seed: u64) -> (Ipam, Vec<(Region, PrivateNetworkId, ProjectId)>) {
    let mut ipam = common::engine(seed);
    ipam.register_project(project(2), OrganizationId::from_uuid(Uuid::from_u128(77)));
    let mut pns = Vec::new();
    for (i, &region) in REGIONS.iter().enumerate() {
        let p = project(1 + (i as u8 % 2));
        let a = ipam
            .create_private_network(region, CreatePrivateNetworkRequest::new(p).name("a"))
            .unwrap();
        let vpc = ipam
            .create_vpc(
                region,
                CreateVpcRequest {
                    tags: vec!["vpc".into()],
                    ..CreateVpcRequest::new(p)
                },
            )
            .unwrap();
        let b = ipam
            .create_private_network(
                region,
                CreatePrivateNetworkRequest::new(p).vpc(vpc.id).subnets([
                    "10.1.2.0/26".parse().unwrap(),
                    "fd12:3456:789a:1::/64".parse().unwrap(),
                ]),
            )
            .unwrap();
        pns.push((region, a.id, p));
        pns.push((region, b.id, p));
    }
    (ipam, pns)
}

#[derive(Clone, Debug)]
enum Op {
    Book {
        pn: usize,
        v6: bool,
        tags: usize,
        mac: Option<u8>,
    },
    BookAt {
        pn: usize,
        host: u8,
    },
    BookForProduct {
        pn: usize,
        resource: u8,
    },
    Release {
        ip: usize,
    },
    ReleaseSet {
        ips: Vec<usize>,
    },
    Attach {
        ip: usize,
        mac: u8,
    },
    Detach {
        ip: usize,
    },
    Move {
        ip: usize,
        to: Option<usize>,
    },
    Update {
        ip: usize,
        tags: usize,
        reverse: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4usize, any::<bool>(), 0..4usize, proptest::option::of(0..4u8))
            .prop_map(|(pn, v6, tags, mac)| Op::Book { pn, v6, tags, mac }),
        1 => (0..4usize, 0..70u8).prop_map(|(pn, host)| Op::BookAt { pn, host }),
        1 => (0..4usize, 0..3u8).prop_map(|(pn, resource)| Op::BookForProduct { pn, resource }),
        2 => any::<usize>().prop_map(|ip| Op::Release { ip }),
        1 => proptest::collection::vec(any::<usize>(), 0..4).prop_map(|ips| Op::ReleaseSet { ips }),
        2 => (any::<usize>(), 0..4u8).prop_map(|(ip, mac)| Op::Attach { ip, mac }),
        1 => any::<usize>().prop_map(|ip| Op::Detach { ip }),
        1 => (any::<usize>(), proptest::option::of(any::<usize>()))
            .prop_map(|(ip, to)| Op::Move { ip, to }),
        2 => (any::<usize>(), 0..4usize, any::<bool>())
            .prop_map(|(ip, tags, reverse)| Op::Update { ip, tags, reverse }),
    ]
}

/// Applies `ops`, ignoring errors (they change nothing); returns the live IPs' regions and ids.
fn apply(
    ipam: &mut Ipam,
    pns: &[(Region, PrivateNetworkId, ProjectId)],
    ops: &[Op],
) -> Vec<(Region, ipam_engine::IpId)> {
    let mut live: Vec<(Region, ipam_engine::IpId)> = Vec::new();
    let pick = |live: &Vec<(Region, ipam_engine::IpId)>, i: usize| {
        (!live.is_empty()).then(|| live[i % live.len()])
    };
    for op in ops {
        match op {
            Op::Book {
                pn,
                v6,
                tags,
                mac: m,
            } => {
                let (region, pn, p) = pns[*pn];
                let mut req = BookIpRequest::new(p, Source::PrivateNetworkId(pn))
                    .ipv6(*v6)
                    .tags(TAG_SETS[*tags].iter().copied());
                if let Some(m) = m {
                    req = req.resource(CustomResource {
                        name: Some(format!("r{m}")),
                        ..CustomResource::new(mac(*m))
                    });
                }
                if let Ok(ip) = ipam.book_ip(region, req) {
                    live.push((region, ip.id));
                }
            }
            Op::BookAt { pn, host } => {
                let (region, pn_id, p) = pns[*pn];
                let pn = ipam.get_private_network(region, pn_id).unwrap();
                let net = pn
                    .subnets
                    .iter()
                    .find(|s| !s.subnet.addr().is_ipv6())
                    .unwrap()
                    .subnet;
                let std::net::IpAddr::V4(base) = net.network() else {
                    unreachable!()
                };
                let address = std::net::Ipv4Addr::from(u32::from(base) + u32::from(*host));
                let req =
                    BookIpRequest::new(p, Source::PrivateNetworkId(pn_id)).address(address.into());
                if let Ok(ip) = ipam.book_ip(region, req) {
                    live.push((region, ip.id));
                }
            }
            Op::BookForProduct { pn, resource } => {
                let (region, pn, p) = pns[*pn];
                let resource = ServiceResource::new(
                    ResourceType::InstanceServer,
                    ResourceId::from_uuid(Uuid::from_u128(u128::from(*resource) + 1)),
                )
                .mac_address(mac(100 + resource))
                .name("server");
                let req = BookIpRequest::new(p, Source::PrivateNetworkId(pn));
                if let Ok(ip) = ipam.book_ip_for_resource(region, req, resource) {
                    live.push((region, ip.id));
                }
            }
            Op::Release { ip } => {
                if let Some((region, id)) = pick(&live, *ip) {
                    if ipam.release_ip(region, id).is_ok() {
                        live.retain(|&(_, l)| l != id);
                    }
                }
            }
            Op::ReleaseSet { ips } => {
                let ids: Vec<_> = ips
                    .iter()
                    .filter_map(|&i| pick(&live, i))
                    .filter(|&(r, _)| r == Region::FrPar)
                    .map(|(_, id)| id)
                    .collect();
                if ipam.release_ip_set(Region::FrPar, &ids).is_ok() {
                    live.retain(|(_, l)| !ids.contains(l));
                }
            }
            Op::Attach { ip, mac: m } => {
                if let Some((region, id)) = pick(&live, *ip) {
                    let _ = ipam.attach_ip(region, id, CustomResource::new(mac(*m)));
                }
            }
            Op::Detach { ip } => {
                if let Some((region, id)) = pick(&live, *ip) {
                    if let Ok(current) = ipam.get_ip(region, id) {
                        if let Some(m) = current.resource.and_then(|r| r.mac_address) {
                            let _ = ipam.detach_ip(region, id, CustomResource::new(m));
                        }
                    }
                }
            }
            Op::Move { ip, to } => {
                if let Some((region, id)) = pick(&live, *ip) {
                    let from = ipam
                        .get_ip(region, id)
                        .ok()
                        .and_then(|i| i.resource)
                        .and_then(|r| r.mac_address);
                    let to = to.map(|t| CustomResource::new(mac((t % 4) as u8)));
                    if let Some(from) = from {
                        let request = MoveIpRequest {
                            from_resource: CustomResource::new(from),
                            to_resource: to,
                        };
                        let _ = ipam.move_ip(region, id, request);
                    }
                }
            }
            Op::Update { ip, tags, reverse } => {
                if let Some((region, id)) = pick(&live, *ip) {
                    let request = UpdateIpRequest {
                        tags: Some(TAG_SETS[*tags].iter().map(|t| (*t).to_owned()).collect()),
                        reverses: reverse.then(|| vec![Reverse::new("host.example.com", None)]),
                    };
                    let _ = ipam.update_ip(region, id, request);
                }
            }
        }
    }
    live
}

/// Every list answer of a region: each order, paged by 7, under a set of filters.
fn answers(ipam: &Ipam, pns: &[(Region, PrivateNetworkId, ProjectId)]) -> Vec<String> {
    let mut out = Vec::new();
    for &region in &REGIONS {
        let mut filters = vec![
            ListIpsRequest::default(),
            ListIpsRequest {
                tags: vec!["a".into()],
                ..Default::default()
            },
            ListIpsRequest {
                attached: Some(true),
                ..Default::default()
            },
            ListIpsRequest {
                attached: Some(false),
                ..Default::default()
            },
            ListIpsRequest {
                is_ipv6: Some(true),
                ..Default::default()
            },
            ListIpsRequest {
                mac_address: Some(mac(1)),
                ..Default::default()
            },
            ListIpsRequest {
                resource_type: Some(ResourceType::InstanceServer),
                ..Default::default()
            },
            ListIpsRequest {
                resource_name: Some("r".into()),
                ..Default::default()
            },
            ListIpsRequest {
                organization_id: Some(OrganizationId::from_uuid(Uuid::from_u128(77))),
                ..Default::default()
            },
        ];
        for &(_, pn, _) in pns.iter().filter(|(r, _, _)| *r == region) {
            filters.push(ListIpsRequest {
                private_network_id: Some(pn),
                ..Default::default()
            });
        }
        for filter in filters {
            for order in ORDERS {
                let mut page = 1;
                loop {
                    let request = ListIpsRequest {
                        order_by: order,
                        page,
                        page_size: 7,
                        ..filter.clone()
                    };
                    let answer = ipam.list_ips(region, &request).unwrap();
                    let done = answer.ips.len() < 7;
                    out.push(serde_json::to_string(&answer).unwrap());
                    for ip in &answer.ips {
                        out.push(
                            serde_json::to_string(&ipam.get_ip(region, ip.id).unwrap()).unwrap(),
                        );
                    }
                    if done {
                        break;
                    }
                    page += 1;
                }
            }
        }
        out.push(
            serde_json::to_string(&ipam.list_vpcs(region, &ListVpcsRequest::default()).unwrap())
                .unwrap(),
        );
        out.push(
            serde_json::to_string(
                &ipam
                    .list_private_networks(region, &ListPrivateNetworksRequest::default())
                    .unwrap(),
            )
            .unwrap(),
        );
    }
    out
}

fn restore(snapshot: &Snapshot, seed: u64) -> Result<Ipam, SnapshotError> {
    let start = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
    Ipam::builder()
        .clock(ManualClock::new(start, TimeDelta::microseconds(1)))
        .random(SeededRandom::new(seed))
        .restore(snapshot)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// restore(snapshot(e)) answers every query exactly as e does, snapshots identically, and
    /// hands out the same next IPv4 address in every Private Network.
    #[test]
    fn restore_answers_every_query_as_the_original(
        seed in any::<u64>(),
        ops in proptest::collection::vec(op(), 0..120),
    ) {
        let (mut ipam, pns) = fixture(seed);
        let live = apply(&mut ipam, &pns, &ops);
        let snapshot = ipam.snapshot();
        let json = serde_json::to_string(&snapshot).unwrap();
        let mut restored = restore(&serde_json::from_str(&json).unwrap(), seed ^ 1).unwrap();

        prop_assert_eq!(&restored.snapshot(), &snapshot);
        prop_assert_eq!(serde_json::to_string(&restored.snapshot()).unwrap(), json);
        restored.check_invariants().unwrap();
        for &(region, id) in &live {
            prop_assert_eq!(restored.get_ip(region, id).unwrap(), ipam.get_ip(region, id).unwrap());
        }
        for region in REGIONS {
            prop_assert_eq!(restored.ip_count(region), ipam.ip_count(region));
        }
        prop_assert_eq!(answers(&restored, &pns), answers(&ipam, &pns));

        for &(region, pn, p) in &pns {
            let next = |e: &mut Ipam| {
                e.book_ip(region, BookIpRequest::new(p, Source::PrivateNetworkId(pn)))
                    .map(|ip| ip.address)
                    .map_err(|e| e.to_string())
            };
            prop_assert_eq!(next(&mut restored), next(&mut ipam));
        }
    }
}

/// A populated engine's snapshot as JSON, for the corruption tests.
fn populated() -> Value {
    let (mut ipam, pns) = fixture(7);
    let ops: Vec<Op> = (0..40)
        .map(|i| match i % 5 {
            0 => Op::Book {
                pn: i % 4,
                v6: i % 3 == 0,
                tags: i % 4,
                mac: Some((i % 3) as u8),
            },
            1 => Op::BookForProduct {
                pn: i % 4,
                resource: (i % 3) as u8,
            },
            2 => Op::Update {
                ip: i,
                tags: 2,
                reverse: true,
            },
            _ => Op::Book {
                pn: i % 4,
                v6: false,
                tags: 1,
                mac: None,
            },
        })
        .collect();
    apply(&mut ipam, &pns, &ops);
    serde_json::to_value(ipam.snapshot()).unwrap()
}

fn restore_value(v: &Value) -> Result<Ipam, String> {
    let snapshot: Snapshot =
        serde_json::from_value(v.clone()).map_err(|e| format!("decode: {e}"))?;
    restore(&snapshot, 1).map_err(|e| e.to_string())
}

#[test]
fn the_populated_snapshot_restores() {
    let v = populated();
    assert_eq!(v["format_version"], SNAPSHOT_FORMAT_VERSION);
    let ipam = restore_value(&v).unwrap();
    assert!(ipam.ip_count(Region::FrPar) > 10);
    assert_eq!(serde_json::to_value(ipam.snapshot()).unwrap(), v);
}

#[test]
fn an_empty_engine_round_trips() {
    let ipam = common::engine(3);
    let snapshot = ipam.snapshot();
    assert_eq!(snapshot.ip_count(), 0);
    let restored = restore(&snapshot, 3).unwrap();
    assert_eq!(restored.snapshot(), snapshot);
}

#[test]
fn another_format_version_is_refused() {
    let mut v = populated();
    v["format_version"] = json!(SNAPSHOT_FORMAT_VERSION + 1);
    let snapshot: Snapshot = serde_json::from_value(v).unwrap();
    assert_eq!(
        restore(&snapshot, 1).err(),
        Some(SnapshotError::UnsupportedVersion {
            found: SNAPSHOT_FORMAT_VERSION + 1,
            supported: SNAPSHOT_FORMAT_VERSION
        })
    );
}

/// Each corruption, applied to a valid snapshot, and the words the refusal must contain.
#[test]
fn inconsistent_snapshots_are_refused_with_the_problem_named() {
    type Corrupt = fn(&mut Value);
    let cases: Vec<(&str, Corrupt, &str)> = vec![
        (
            "duplicate ip",
            |v| {
                let ip = v["regions"][0]["ips"][0].clone();
                v["regions"][0]["ips"].as_array_mut().unwrap().insert(1, ip);
            },
            "appears twice",
        ),
        (
            "address booked twice",
            |v| {
                let a = v["regions"][0]["ips"][0]["address"].clone();
                let s = v["regions"][0]["ips"][0]["subnet_id"].clone();
                v["regions"][0]["ips"][1]["address"] = a;
                v["regions"][0]["ips"][1]["subnet_id"] = s;
            },
            "booked twice",
        ),
        (
            "address outside its subnet",
            |v| {
                v["regions"][0]["ips"][0]["address"] = json!("192.0.2.7");
            },
            "not bookable",
        ),
        (
            "reserved address",
            |v| {
                let ips = v["regions"][0]["ips"].as_array_mut().unwrap();
                let ip = ips
                    .iter_mut()
                    .find(|i| i["address"].as_str().unwrap().contains('.'))
                    .unwrap();
                let base: std::net::Ipv4Addr = ip["address"].as_str().unwrap().parse().unwrap();
                let first = u32::from(base) & !0x3ff;
                ip["address"] = json!(std::net::Ipv4Addr::from(first).to_string());
            },
            "not bookable",
        ),
        (
            "unknown subnet",
            |v| {
                v["regions"][0]["ips"][0]["subnet_id"] = json!(Uuid::from_u128(5));
            },
            "does not exist",
        ),
        (
            "out of creation order",
            |v| {
                v["regions"][0]["ips"][1]["created"] = json!(0);
            },
            "creation order",
        ),
        (
            "timestamp out of range",
            |v| {
                v["regions"][0]["ips"][0]["updated"] = json!(i64::MAX);
            },
            "out of range",
        ),
        (
            "clock floor behind the records",
            |v| {
                v["clock_floor"] = json!(0);
            },
            "clock floor",
        ),
        (
            "pn in a missing vpc",
            |v| {
                v["regions"][0]["private_networks"][0]["vpc_id"] = json!(Uuid::from_u128(9));
            },
            "does not exist",
        ),
        (
            "pn in another project's vpc",
            |v| {
                v["regions"][0]["private_networks"][0]["project_id"] = json!(Uuid::from_u128(9));
            },
            "another project",
        ),
        (
            "overlapping subnets",
            |v| {
                let pns = v["regions"][0]["private_networks"].as_array_mut().unwrap();
                let net = pns[0]["subnets"][0]["subnet"].clone();
                pns[0]["subnets"][1]["subnet"] = net;
            },
            "overlaps",
        ),
        (
            "forbidden subnet",
            |v| {
                v["regions"][0]["private_networks"][0]["subnets"][0]["subnet"] =
                    json!("127.0.0.0/24");
            },
            "reserved",
        ),
        (
            "private network without subnets",
            |v| {
                v["regions"][0]["private_networks"][0]["subnets"] = json!([]);
            },
            "subnets",
        ),
        (
            "duplicate vpc",
            |v| {
                let vpc = v["regions"][0]["vpcs"][0].clone();
                v["regions"][0]["vpcs"].as_array_mut().unwrap().push(vpc);
            },
            "appears twice",
        ),
        (
            "two default vpcs",
            |v| {
                let mut vpc = v["regions"][0]["vpcs"][0].clone();
                vpc["id"] = json!(Uuid::from_u128(11));
                v["regions"][0]["vpcs"].as_array_mut().unwrap().push(vpc);
            },
            "two default vpcs",
        ),
        (
            "bad ula",
            |v| {
                v["regions"][0]["vpcs"][0]["ula"] = json!("fd00::/64");
            },
            "ula",
        ),
        (
            "custom resource with another id",
            |v| {
                let ips = v["regions"][0]["ips"].as_array_mut().unwrap();
                let ip = ips
                    .iter_mut()
                    .find(|i| i["resource"]["type"] == "custom")
                    .unwrap();
                ip["resource"]["id"] = json!(Uuid::from_u128(12));
            },
            "custom resource",
        ),
        (
            "resource of unknown type",
            |v| {
                let ips = v["regions"][0]["ips"].as_array_mut().unwrap();
                let ip = ips.iter_mut().find(|i| i["resource"].is_object()).unwrap();
                ip["resource"]["type"] = json!("unknown_type");
            },
            "unknown type",
        ),
        (
            "tag over the limit",
            |v| {
                v["regions"][0]["ips"][0]["tags"] = json!(["x".repeat(1000)]);
            },
            "tags",
        ),
        (
            "empty tag",
            |v| {
                v["regions"][0]["ips"][0]["tags"] = json!([""]);
            },
            "tags",
        ),
        (
            "reverse without trailing dot",
            |v| {
                let ips = v["regions"][0]["ips"].as_array_mut().unwrap();
                let ip = ips.iter_mut().find(|i| i["reverses"].is_array()).unwrap();
                ip["reverses"][0]["hostname"] = json!("host.example.com");
            },
            "end with",
        ),
        (
            "bad reverse host name",
            |v| {
                let ips = v["regions"][0]["ips"].as_array_mut().unwrap();
                let ip = ips.iter_mut().find(|i| i["reverses"].is_array()).unwrap();
                ip["reverses"][0]["hostname"] = json!("not a host.");
            },
            "host name",
        ),
        (
            "region twice",
            |v| {
                let r = v["regions"][0].clone();
                v["regions"].as_array_mut().unwrap().push(r);
            },
            "appears twice",
        ),
        (
            "project registered twice",
            |v| {
                let o = v["organizations"][0].clone();
                v["organizations"].as_array_mut().unwrap().push(o);
            },
            "registered twice",
        ),
    ];
    let valid = populated();
    for (name, corrupt, expected) in cases {
        let mut v = valid.clone();
        corrupt(&mut v);
        match restore_value(&v) {
            Ok(_) => panic!("{name}: restored"),
            Err(e) => assert!(e.contains(expected), "{name}: {e}"),
        }
    }
}

#[test]
fn unknown_fields_and_missing_fields_do_not_decode() {
    let mut v = populated();
    v["regions"][0]["ips"][0]["colour"] = json!("blue");
    assert!(restore_value(&v).unwrap_err().starts_with("decode"));
    let mut v = populated();
    v["regions"][0]["ips"][0]
        .as_object_mut()
        .unwrap()
        .remove("address");
    assert!(restore_value(&v).unwrap_err().starts_with("decode"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any byte-level damage to a snapshot is refused or restores to a consistent engine; it
    /// never panics.
    #[test]
    fn damaged_snapshots_never_panic(edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let bytes = serde_json::to_vec(&populated()).unwrap();
        let mut damaged = bytes.clone();
        for (at, byte) in edits {
            let i = at.index(damaged.len());
            damaged[i] = byte;
        }
        if let Ok(snapshot) = serde_json::from_slice::<Snapshot>(&damaged) {
            if let Ok(ipam) = restore(&snapshot, 1) {
                prop_assert!(ipam.check_invariants().is_ok());
            }
        }
    }
}
