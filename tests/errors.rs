//! The error table: every `Error` variant triggered through the public API, with its exact
//! fields, HTTP status, Scaleway error type and JSON body (section 7 of the API contract), and
//! the proof that a failed call changes nothing observable.

use std::fmt::Debug;
use std::net::IpAddr;

use chrono::{DateTime, TimeDelta};
use ipam_engine::{
    ArgumentReason, BookIpRequest, CreatePrivateNetworkRequest, CreateVpcRequest, CustomResource,
    Error, IpId, Ipam, ListIpsRequest, ListPrivateNetworksRequest, ListVpcsRequest, MacAddress,
    ManualClock, MoveIpRequest, OrderBy, PrivateNetwork, PrivateNetworkId, ProjectId, Region,
    ResourceId, ResourceRef, ResourceType, Reverse, SeededRandom, ServiceResource, Source,
    SubnetId, UpdateIpRequest, VpcId,
};
use serde_json::{json, Value};

const REGION: Region = Region::FrPar;
const PROJECT: &str = "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5";
const OTHER_PROJECT: &str = "0fc78600-9f85-4984-9fbb-f59a7434b92c";
/// A Project used only by the follow-up operations of the twin check.
const LATER_PROJECT: &str = "105bdce1-64c0-48ab-899d-868455867ecf";
const UNKNOWN: &str = "03adfd64-bdc8-4bb5-87af-6d0c8e1a5617";

// ---------------------------------------------------------------------------------------------
// Fixtures.
// ---------------------------------------------------------------------------------------------

fn engine() -> Ipam {
    let start = DateTime::from_timestamp_micros(1_751_295_730_950_535).unwrap();
    Ipam::builder()
        .clock(ManualClock::new(start, TimeDelta::microseconds(1_001)))
        .random(SeededRandom::new(0x1BAD_5EED))
        .build()
}

fn project() -> ProjectId {
    PROJECT.parse().unwrap()
}

fn other_project() -> ProjectId {
    OTHER_PROJECT.parse().unwrap()
}

fn unknown<T: std::str::FromStr>() -> T
where
    T::Err: Debug,
{
    UNKNOWN.parse().unwrap()
}

fn mac() -> MacAddress {
    "bc:24:11:74:d0:5a".parse().unwrap()
}

fn other_mac() -> MacAddress {
    "bc:24:11:74:d0:5b".parse().unwrap()
}

fn nic() -> ResourceId {
    "e549aaa4-dc95-4424-8618-6f94eedb6b70".parse().unwrap()
}

/// A populated engine and the ids of what is in it.
struct World {
    /// `172.16.32.0/22` plus a generated /64, in the Project's default VPC.
    pn: PrivateNetwork,
    v4: SubnetId,
    v6: SubnetId,
    /// `172.16.32.2`, unattached, tagged.
    free: IpId,
    /// `172.16.32.3`, attached to the custom resource [`mac`].
    custom: IpId,
    /// `172.16.32.4`, attached to the product resource [`nic`].
    product: IpId,
    /// An IPv6, unattached.
    free_v6: IpId,
    /// The default VPC of the Project.
    default_vpc: VpcId,
    /// A VPC of the Project without Private Networks.
    empty_vpc: VpcId,
    /// A Private Network of the other Project, in nl-ams.
    elsewhere: PrivateNetwork,
}

fn world() -> (Ipam, World) {
    let mut ipam = engine();
    let pn = ipam
        .create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(project())
                .subnets(["172.16.32.0/22".parse().unwrap()]),
        )
        .unwrap();
    let v4 = pn.subnets[0].id;
    let v6 = pn.subnets[1].id;
    assert!(pn.subnets[1].subnet.addr().is_ipv6());
    let book = BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id));
    let free = ipam
        .book_ip(REGION, book.clone().tags(["web", "prod"]))
        .unwrap();
    let custom = ipam
        .book_ip(REGION, book.clone().resource(CustomResource::new(mac())))
        .unwrap();
    let product = ipam
        .book_ip_for_resource(
            REGION,
            book.clone(),
            ServiceResource::new(ResourceType::InstancePrivateNic, nic())
                .mac_address("02:00:00:12:73:b2".parse().unwrap())
                .name("srv"),
        )
        .unwrap();
    let free_v6 = ipam.book_ip(REGION, book.ipv6(true)).unwrap();
    assert_eq!(free.address.to_string(), "172.16.32.2/22");
    assert_eq!(custom.address.to_string(), "172.16.32.3/22");
    assert_eq!(product.address.to_string(), "172.16.32.4/22");
    let empty_vpc = ipam
        .create_vpc(REGION, CreateVpcRequest::new(project()))
        .unwrap()
        .id;
    let elsewhere = ipam
        .create_private_network(
            Region::NlAms,
            CreatePrivateNetworkRequest::new(other_project()),
        )
        .unwrap();
    ipam.book_ip(
        Region::NlAms,
        BookIpRequest::new(other_project(), Source::PrivateNetworkId(elsewhere.id)),
    )
    .unwrap();
    ipam.check_invariants().unwrap();
    let w = World {
        default_vpc: pn.vpc_id,
        pn,
        v4,
        v6,
        free: free.id,
        custom: custom.id,
        product: product.id,
        free_v6: free_v6.id,
        empty_vpc,
        elsewhere,
    };
    (ipam, w)
}

/// A Private Network with one IPv4 /28 (12 bookable addresses), full.
struct Full {
    pn: PrivateNetwork,
    v4: SubnetId,
    ips: Vec<IpId>,
}

fn full_28() -> (Ipam, Full) {
    let mut ipam = engine();
    let pn = ipam
        .create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(project()).subnets(["10.20.30.0/28".parse().unwrap()]),
        )
        .unwrap();
    let v4 = pn.subnets[0].id;
    let mut ips = Vec::new();
    for host in 2..=13 {
        let ip = ipam
            .book_ip(
                REGION,
                BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id)),
            )
            .unwrap();
        assert_eq!(ip.address.to_string(), format!("10.20.30.{host}/28"));
        ips.push(ip.id);
    }
    (ipam, Full { pn, v4, ips })
}

/// A VPC whose generated IPv4 space (`172.16.0.0/12`: 1024 blocks /22) is used up.
fn full_vpc() -> (Ipam, VpcId) {
    let mut ipam = engine();
    let vpc = ipam
        .create_vpc(REGION, CreateVpcRequest::new(project()))
        .unwrap()
        .id;
    let mut blocks = std::collections::BTreeSet::new();
    for _ in 0..1024 {
        let pn = ipam
            .create_private_network(REGION, CreatePrivateNetworkRequest::new(project()).vpc(vpc))
            .unwrap();
        let v4 = pn.subnets[0].subnet;
        assert_eq!(v4.prefix_len(), 22);
        assert!("172.16.0.0/12"
            .parse::<ipnet::IpNet>()
            .unwrap()
            .contains(&v4));
        assert!(blocks.insert(v4), "{v4} given twice");
    }
    (ipam, vpc)
}

// ---------------------------------------------------------------------------------------------
// Observable state and atomicity.
// ---------------------------------------------------------------------------------------------

/// Every observable thing in the engine, as one JSON text: its snapshot, which holds every
/// VPC, Private Network and IP of every region in a canonical form, byte for byte.
fn state(ipam: &Ipam) -> String {
    serde_json::to_string(&ipam.snapshot()).unwrap()
}

#[test]
fn state_sees_every_kind_of_change() {
    // The atomicity checks compare `state`; each successful call below must show in it.
    type Change = fn(&mut Ipam, &World);
    let changes: Vec<(&str, Change)> = vec![
        ("book", |i, w| {
            i.book_ip(
                REGION,
                BookIpRequest::new(project(), Source::PrivateNetworkId(w.pn.id)),
            )
            .map(drop)
            .unwrap();
        }),
        ("update tags", |i, w| {
            let update = UpdateIpRequest {
                tags: Some(vec!["web".into()]),
                reverses: None,
            };
            i.update_ip(REGION, w.free, update).map(drop).unwrap();
        }),
        ("attach", |i, w| {
            i.attach_ip(REGION, w.free, CustomResource::new(other_mac()))
                .map(drop)
                .unwrap();
        }),
        ("detach", |i, w| {
            i.detach_ip(REGION, w.custom, CustomResource::new(mac()))
                .map(drop)
                .unwrap();
        }),
        ("release", |i, w| {
            i.release_ip(REGION, w.free).unwrap();
        }),
        ("release in another region", |i, _| {
            let ip = i
                .list_ips(Region::NlAms, &ListIpsRequest::default())
                .unwrap()
                .ips[0]
                .id;
            i.release_ip(Region::NlAms, ip).unwrap();
        }),
        ("create vpc", |i, _| {
            i.create_vpc(Region::PlWaw, CreateVpcRequest::new(project()))
                .map(drop)
                .unwrap();
        }),
        ("delete vpc", |i, w| {
            i.delete_vpc(REGION, w.empty_vpc).unwrap();
        }),
        ("create private network", |i, w| {
            i.create_private_network(
                REGION,
                CreatePrivateNetworkRequest::new(project()).vpc(w.empty_vpc),
            )
            .map(drop)
            .unwrap();
        }),
    ];
    for (name, change) in changes {
        let (mut ipam, w) = world();
        let before = state(&ipam);
        change(&mut ipam, &w);
        assert_ne!(state(&ipam), before, "{name}");
    }
}

/// Runs `call` on the engine `setup` builds; checks that it fails and that the engine is
/// unchanged and consistent afterwards. Returns the error and the fixture.
fn fails<W, T: Debug>(
    setup: impl FnOnce() -> (Ipam, W),
    call: impl FnOnce(&mut Ipam, &W) -> Result<T, Error>,
) -> (Error, W) {
    let (mut ipam, w) = setup();
    let before = state(&ipam);
    let err = call(&mut ipam, &w).expect_err("the call should fail");
    assert_eq!(state(&ipam), before, "{err:?} changed the engine");
    ipam.check_invariants().unwrap();
    (err, w)
}

/// The same as [`fails`] on the standard world.
fn fails_in_world<T: Debug>(
    call: impl FnOnce(&mut Ipam, &World) -> Result<T, Error>,
) -> (Error, World) {
    fails(world, call)
}

/// Checks the status, type and JSON body of `err`.
fn assert_api(err: &Error, status: u16, error_type: &str, body: &Value) {
    assert_eq!(err.http_status(), status, "{err:?}");
    assert_eq!(err.error_type(), error_type, "{err:?}");
    let api = err.to_api_error();
    assert_eq!(api.status, status);
    assert_eq!(&serde_json::to_value(&api).unwrap(), body, "{err:?}");
}

fn not_found_body(resource: &str, id: &str) -> Value {
    json!({ "message": "resource is not found", "resource": resource, "resource_id": id, "type": "not_found" })
}

fn invalid_body(argument: &str, reason: &str, help: &str) -> Value {
    json!({
        "details": [{ "argument_name": argument, "reason": reason, "help_message": help }],
        "message": "invalid argument(s)",
        "type": "invalid_arguments",
    })
}

fn precondition_body(precondition: &str, help: &str) -> Value {
    json!({
        "message": "precondition is not respected",
        "precondition": precondition,
        "help_message": help,
        "type": "precondition_failed",
    })
}

/// Checks an `InvalidArgument` error: its fields and its 400 body.
fn assert_invalid(err: &Error, argument: &str, reason: ArgumentReason, help: &str) {
    match err {
        Error::InvalidArgument {
            argument: a,
            reason: r,
            help: h,
        } => {
            assert_eq!(a, argument);
            assert_eq!(*r, reason);
            assert_eq!(h, help);
        }
        other => panic!("expected InvalidArgument, found {other:?}"),
    }
    assert_api(
        err,
        400,
        "invalid_arguments",
        &invalid_body(argument, reason.as_str(), help),
    );
}

fn constraint(err: &Error, argument: &str, help: &str) {
    assert_invalid(err, argument, ArgumentReason::Constraint, help);
}

// ---------------------------------------------------------------------------------------------
// 404 not_found.
// ---------------------------------------------------------------------------------------------

#[test]
fn ip_not_found_on_every_ip_call() {
    let id: IpId = unknown();
    let calls: Vec<(&str, Call)> = vec![
        ("get", |i, _| i.get_ip(REGION, unknown()).map(drop)),
        ("update", |i, _| {
            i.update_ip(
                REGION,
                unknown(),
                UpdateIpRequest {
                    tags: Some(vec!["x".into()]),
                    reverses: None,
                },
            )
            .map(drop)
        }),
        // A tag list some IP carries: update looks it up before the id.
        ("update to tags in use", |i, _| {
            i.update_ip(
                REGION,
                unknown(),
                UpdateIpRequest {
                    tags: Some(vec!["web".into(), "prod".into()]),
                    reverses: None,
                },
            )
            .map(drop)
        }),
        ("release", |i, _| i.release_ip(REGION, unknown())),
        ("release_set", |i, w| {
            i.release_ip_set(REGION, &[w.free, unknown(), w.free_v6])
        }),
        ("attach", |i, _| {
            i.attach_ip(REGION, unknown(), CustomResource::new(mac()))
                .map(drop)
        }),
        ("detach", |i, _| {
            i.detach_ip(REGION, unknown(), CustomResource::new(mac()))
                .map(drop)
        }),
        ("move", |i, _| {
            i.move_ip(
                REGION,
                unknown(),
                MoveIpRequest {
                    from_resource: CustomResource::new(mac()),
                    to_resource: None,
                },
            )
            .map(drop)
        }),
        ("move to a resource", |i, _| {
            i.move_ip(
                REGION,
                unknown(),
                MoveIpRequest {
                    from_resource: CustomResource::new(mac()),
                    to_resource: Some(CustomResource::new(other_mac())),
                },
            )
            .map(drop)
        }),
        ("attach_resource", |i, _| {
            i.attach_resource(
                REGION,
                unknown(),
                ServiceResource::new(ResourceType::LbServer, nic()),
            )
            .map(drop)
        }),
        ("detach_resource", |i, _| {
            i.detach_resource(REGION, unknown(), nic()).map(drop)
        }),
    ];
    for (name, call) in calls {
        let (err, _) = fails_in_world(call);
        assert_eq!(err, Error::IpNotFound { id }, "{name}");
        assert_api(&err, 404, "not_found", &not_found_body("ip", UNKNOWN));
        // The recorded body, byte for byte.
        assert_eq!(
            serde_json::to_string(&err.to_api_error()).unwrap(),
            r#"{"message":"resource is not found","resource":"ip","resource_id":"03adfd64-bdc8-4bb5-87af-6d0c8e1a5617","type":"not_found"}"#
        );
    }
}

#[test]
fn ip_of_another_region_is_not_found() {
    let (err, w) = fails_in_world(|i, w| i.get_ip(Region::PlWaw, w.free));
    assert_eq!(err, Error::IpNotFound { id: w.free });
    let (err, w) = fails_in_world(|i, w| i.release_ip(Region::ItMil, w.free));
    assert_eq!(err, Error::IpNotFound { id: w.free });
    assert_api(
        &err,
        404,
        "not_found",
        &not_found_body("ip", &w.free.to_string()),
    );
}

#[test]
fn private_network_not_found() {
    let id: PrivateNetworkId = unknown();
    let expected = Error::PrivateNetworkNotFound { id };
    let body = not_found_body("private_network", UNKNOWN);
    let (err, _) = fails_in_world(|i, _| {
        i.book_ip(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(unknown())),
        )
    });
    assert_eq!(err, expected);
    assert_api(&err, 404, "not_found", &body);
    let (err, _) = fails_in_world(|i, _| i.get_private_network(REGION, unknown()));
    assert_eq!(err, expected);
    let (err, _) = fails_in_world(|i, _| i.delete_private_network(REGION, unknown()));
    assert_eq!(err, expected);
    assert_api(&err, 404, "not_found", &body);
    // A Private Network of another region.
    let (err, w) = fails_in_world(|i, w| {
        i.book_ip(
            REGION,
            BookIpRequest::new(other_project(), Source::PrivateNetworkId(w.elsewhere.id)),
        )
    });
    assert_eq!(err, Error::PrivateNetworkNotFound { id: w.elsewhere.id });
}

#[test]
fn subnet_not_found() {
    let (err, _) = fails_in_world(|i, _| {
        i.book_ip(
            REGION,
            BookIpRequest::new(project(), Source::SubnetId(unknown())),
        )
    });
    assert_eq!(err, Error::SubnetNotFound { id: unknown() });
    assert_api(&err, 404, "not_found", &not_found_body("subnet", UNKNOWN));
}

#[test]
fn vpc_not_found() {
    let expected = Error::VpcNotFound { id: unknown() };
    let body = not_found_body("vpc", UNKNOWN);
    let (err, _) = fails_in_world(|i, _| i.get_vpc(REGION, unknown()));
    assert_eq!(err, expected);
    assert_api(&err, 404, "not_found", &body);
    let (err, _) = fails_in_world(|i, _| i.delete_vpc(REGION, unknown()));
    assert_eq!(err, expected);
    let (err, _) = fails_in_world(|i, _| {
        i.create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(project()).vpc(unknown()),
        )
    });
    assert_eq!(err, expected);
    assert_api(&err, 404, "not_found", &body);
}

#[test]
fn unknown_region() {
    let err = "xx-yyy".parse::<Region>().unwrap_err();
    assert_eq!(
        err,
        Error::UnknownRegion {
            region: "xx-yyy".to_owned()
        }
    );
    assert_api(&err, 404, "not_found", &not_found_body("region", "xx-yyy"));
    for bad in ["", "FR-PAR", "fr-par-1", "fr_par"] {
        assert_eq!(
            bad.parse::<Region>(),
            Err(Error::UnknownRegion {
                region: bad.to_owned()
            })
        );
    }
    assert!(serde_json::from_value::<Region>(json!("xx-yyy")).is_err());
}

// ---------------------------------------------------------------------------------------------
// 400 invalid_arguments.
// ---------------------------------------------------------------------------------------------

fn list(page: u32, page_size: u32) -> ListIpsRequest {
    ListIpsRequest {
        page,
        page_size,
        ..ListIpsRequest::default()
    }
}

#[test]
fn page_and_page_size_out_of_range() {
    let (err, _) = fails_in_world(|i, _| i.list_ips(REGION, &list(0, 50)));
    constraint(&err, "page", "pages are numbered from 1, found 0");
    let (err, _) = fails_in_world(|i, _| i.list_ips(REGION, &list(1, 0)));
    constraint(&err, "page_size", "expected 1 to 1000, found 0");
    let (err, _) = fails_in_world(|i, _| i.list_ips(REGION, &list(1, 1001)));
    constraint(&err, "page_size", "expected 1 to 1000, found 1001");
    let (err, _) = fails_in_world(|i, _| {
        i.list_vpcs(
            REGION,
            &ListVpcsRequest {
                page: 0,
                ..ListVpcsRequest::default()
            },
        )
    });
    constraint(&err, "page", "pages are numbered from 1, found 0");
    let (err, _) = fails_in_world(|i, _| {
        i.list_private_networks(
            REGION,
            &ListPrivateNetworksRequest {
                page_size: 1001,
                ..ListPrivateNetworksRequest::default()
            },
        )
    });
    constraint(&err, "page_size", "expected 1 to 1000, found 1001");

    // The bounds themselves are fine, and a page past the end is empty, not an error.
    let (ipam, _) = world();
    assert_eq!(
        ipam.list_ips(REGION, &list(1, 1000)).unwrap().total_count,
        4
    );
    assert_eq!(ipam.list_ips(REGION, &list(1, 1)).unwrap().ips.len(), 1);
    let past = ipam.list_ips(REGION, &list(u32::MAX, 1000)).unwrap();
    assert_eq!((past.total_count, past.ips.len()), (4, 0));
}

#[test]
fn list_filters_with_too_many_items() {
    let ids: Vec<IpId> = (0..1001u128)
        .map(|n| IpId::from_uuid(uuid::Uuid::from_u128(n)))
        .collect();
    let (err, _) = fails_in_world(|i, _| {
        i.list_ips(
            REGION,
            &ListIpsRequest {
                ip_ids: ids.clone(),
                ..ListIpsRequest::default()
            },
        )
    });
    constraint(&err, "ip_ids", "at most 1000 items, found 1001");
    let (err, _) = fails_in_world(|i, _| {
        i.list_ips(
            REGION,
            &ListIpsRequest {
                resource_ids: ids.iter().map(|&id| ResourceId::from(id)).collect(),
                ..ListIpsRequest::default()
            },
        )
    });
    constraint(&err, "resource_ids", "at most 1000 items, found 1001");
    let (err, _) = fails_in_world(|i, _| {
        i.list_ips(
            REGION,
            &ListIpsRequest {
                resource_types: vec![ResourceType::Custom; 1001],
                ..ListIpsRequest::default()
            },
        )
    });
    constraint(&err, "resource_types", "at most 1000 items, found 1001");
    let (err, _) = fails_in_world(|i, _| {
        i.list_ips(
            REGION,
            &ListIpsRequest {
                tags: vec!["web".to_owned(); 1001],
                ..ListIpsRequest::default()
            },
        )
    });
    constraint(&err, "tags", "at most 1000 items, found 1001");
    // 1000 is fine.
    let (ipam, w) = world();
    let mut thousand = ids[..999].to_vec();
    thousand.push(w.free);
    let page = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                ip_ids: thousand,
                ..ListIpsRequest::default()
            },
        )
        .unwrap();
    assert_eq!(page.total_count, 1);
}

#[test]
fn release_ip_set_with_too_many_ids() {
    let (err, _) = fails_in_world(|i, w| {
        let mut ids = vec![w.free; 1000];
        ids.push(w.free_v6);
        i.release_ip_set(REGION, &ids)
    });
    constraint(&err, "ip_ids", "at most 1000 items, found 1001");
}

fn tags_65() -> Vec<String> {
    (0..65).map(|n| format!("t{n}")).collect()
}

#[test]
fn tags_over_the_limits() {
    let book = |tags: Vec<String>| {
        move |i: &mut Ipam, w: &World| {
            i.book_ip(
                REGION,
                BookIpRequest::new(project(), Source::PrivateNetworkId(w.pn.id)).tags(tags),
            )
        }
    };
    let update = |tags: Vec<String>| {
        move |i: &mut Ipam, w: &World| {
            i.update_ip(
                REGION,
                w.free,
                UpdateIpRequest {
                    tags: Some(tags),
                    reverses: None,
                },
            )
        }
    };
    let too_many = "at most 64 tags, found 65";
    let (err, _) = fails_in_world(book(tags_65()));
    constraint(&err, "tags", too_many);
    let (err, _) = fails_in_world(update(tags_65()));
    constraint(&err, "tags", too_many);
    let (err, _) = fails_in_world(|i, _| {
        i.create_vpc(
            REGION,
            CreateVpcRequest {
                tags: tags_65(),
                ..CreateVpcRequest::new(project())
            },
        )
    });
    constraint(&err, "tags", too_many);
    let (err, _) = fails_in_world(|i, _| {
        i.create_private_network(
            REGION,
            CreatePrivateNetworkRequest {
                tags: tags_65(),
                ..CreatePrivateNetworkRequest::new(project())
            },
        )
    });
    constraint(&err, "tags", too_many);

    let (err, _) = fails_in_world(book(vec!["ok".into(), "x".repeat(129)]));
    constraint(&err, "tags", "tags must be 1 to 128 bytes, found 129 bytes");
    let (err, _) = fails_in_world(update(vec![String::new()]));
    constraint(&err, "tags", "tags must be 1 to 128 bytes, found 0 bytes");

    // At the limits: accepted.
    let (mut ipam, w) = world();
    let max: Vec<String> = (0..64).map(|n| format!("{n:0>128}")).collect();
    let ip = update(max.clone())(&mut ipam, &w).unwrap();
    assert_eq!(ip.tags, max);
}

#[test]
fn names_over_the_limit() {
    let long = "n".repeat(256);
    let help = "at most 255 bytes, found 256";
    let (err, _) = fails_in_world(|i, w| {
        i.book_ip(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(w.pn.id))
                .resource(CustomResource::new(other_mac()).with_name(long.clone())),
        )
    });
    constraint(&err, "resource.name", help);
    let (err, _) = fails_in_world(|i, w| {
        i.attach_ip(
            REGION,
            w.free,
            CustomResource::new(other_mac()).with_name(long.clone()),
        )
    });
    constraint(&err, "resource.name", help);
    let (err, _) = fails_in_world(|i, w| {
        i.move_ip(
            REGION,
            w.custom,
            MoveIpRequest {
                from_resource: CustomResource::new(mac()),
                to_resource: Some(CustomResource::new(other_mac()).with_name(long.clone())),
            },
        )
    });
    constraint(&err, "to_resource.name", help);
    let (err, _) = fails_in_world(|i, w| {
        i.attach_resource(
            REGION,
            w.free,
            ServiceResource::new(ResourceType::LbServer, unknown()).name(long.clone()),
        )
    });
    constraint(&err, "resource.name", help);
    let (err, _) = fails_in_world(|i, _| {
        i.create_vpc(
            REGION,
            CreateVpcRequest {
                name: Some(long.clone()),
                ..CreateVpcRequest::new(project())
            },
        )
    });
    constraint(&err, "name", help);
    let (err, _) = fails_in_world(|i, _| {
        i.create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(project()).name(long.clone()),
        )
    });
    constraint(&err, "name", help);
}

#[test]
fn reverses_that_are_refused() {
    let update = |reverses: Vec<Reverse>| {
        move |i: &mut Ipam, w: &World| {
            i.update_ip(
                REGION,
                w.free,
                UpdateIpRequest {
                    tags: Some(vec!["changed".into()]),
                    reverses: Some(reverses),
                },
            )
        }
    };
    for bad in [
        "a b.example.com",
        "a..b",
        "",
        ".",
        "é.example.com",
        "-",
        "a.-b.example.com",
        &"a".repeat(64),
    ] {
        let (err, _) = fails_in_world(update(vec![Reverse::new(bad, None)]));
        let help = format!(
            "{bad:?} is not a host name: expected dot-separated labels of 1 to 63 letters, digits, '-' (not first or last) or '_', at most 253 bytes"
        );
        assert_invalid(&err, "reverses.hostname", ArgumentReason::Format, &help);
    }
    // 254 bytes of host name (without the trailing dot) is one too many.
    let long = [
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(62),
    ]
    .join(".");
    assert_eq!(long.len(), 254);
    let (err, _) = fails_in_world(update(vec![Reverse::new(long.clone(), None)]));
    assert!(
        matches!(&err, Error::InvalidArgument { argument, reason: ArgumentReason::Format, .. } if argument == "reverses.hostname")
    );

    for (address, subnet) in [
        ("10.0.0.1", "172.16.32.0/22"),
        ("172.16.36.1", "172.16.32.0/22"),
        ("fd00::1", "172.16.32.0/22"),
    ] {
        let a: IpAddr = address.parse().unwrap();
        let (err, _) = fails_in_world(update(vec![
            Reverse::new("ok.example.com", Some("172.16.32.9".parse().unwrap())),
            Reverse::new("x.example.com", Some(a)),
        ]));
        constraint(
            &err,
            "reverses.address",
            &format!("address {address} is outside the ip's subnet {subnet}"),
        );
    }
    let (err, _) = fails_in_world(update(
        (0..17)
            .map(|n| Reverse::new(format!("h{n}.example.com"), None))
            .collect(),
    ));
    constraint(&err, "reverses", "at most 16 reverses, found 17");

    // At the limits: accepted, with the trailing dot.
    let (mut ipam, w) = world();
    let ip = update(vec![Reverse::new(format!("{}.", &long[1..]), None)])(&mut ipam, &w).unwrap();
    assert_eq!(ip.reverses[0].hostname, format!("{}.", &long[1..]));
}

#[test]
fn too_many_subnets() {
    let (err, _) = fails_in_world(|i, _| {
        i.create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(other_project())
                .subnets((0..9u8).map(|n| format!("10.{n}.0.0/24").parse().unwrap())),
        )
    });
    constraint(&err, "subnets", "at most 8 subnets, found 9");
}

#[test]
fn product_resources_that_are_refused() {
    let (err, _) = fails_in_world(|i, w| {
        i.book_ip_for_resource(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(w.pn.id))
                .resource(CustomResource::new(other_mac())),
            ServiceResource::new(ResourceType::LbServer, unknown()),
        )
    });
    constraint(
        &err,
        "resource",
        "an ip is attached to one resource: give either a custom resource or a product resource",
    );
    for t in [ResourceType::Custom, ResourceType::UnknownType] {
        let help = format!(
            "product resources cannot be of type {t}: custom resources go through attach, detach and move"
        );
        let (err, _) = fails_in_world(|i, w| {
            i.book_ip_for_resource(
                REGION,
                BookIpRequest::new(project(), Source::PrivateNetworkId(w.pn.id)),
                ServiceResource::new(t, unknown()),
            )
        });
        constraint(&err, "resource.type", &help);
        let (err, _) = fails_in_world(|i, w| {
            i.attach_resource(REGION, w.free, ServiceResource::new(t, unknown()))
        });
        constraint(&err, "resource.type", &help);
    }
}

#[test]
fn malformed_text_values() {
    let err = "not-a-uuid".parse::<IpId>().unwrap_err();
    assert_invalid(
        &err,
        "ip_id",
        ArgumentReason::Format,
        r#""not-a-uuid" is not a UUID"#,
    );
    let err = "x".parse::<PrivateNetworkId>().unwrap_err();
    assert_invalid(
        &err,
        "private_network_id",
        ArgumentReason::Format,
        r#""x" is not a UUID"#,
    );
    let err = "bc:24:11:74:d0:5g".parse::<MacAddress>().unwrap_err();
    assert_invalid(
        &err,
        "mac_address",
        ArgumentReason::Format,
        r#""bc:24:11:74:d0:5g" is not a MAC address: expected six hex pairs separated by ':' or '-'"#,
    );
    let err = "Custom".parse::<ResourceType>().unwrap_err();
    let Error::InvalidArgument {
        argument,
        reason,
        help,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (argument.as_ref(), *reason),
        ("resource_type", ArgumentReason::Format)
    );
    assert!(
        help.starts_with(
            r#""Custom" is not a valid resource_type: expected one of unknown_type, custom, "#
        ),
        "{help}"
    );
    assert_eq!(err.http_status(), 400);
    let err = "created_at".parse::<OrderBy>().unwrap_err();
    assert_invalid(
        &err,
        "order_by",
        ArgumentReason::Format,
        r#""created_at" is not a valid order_by: expected one of created_at_desc, created_at_asc, updated_at_desc, updated_at_asc, attached_at_desc, attached_at_asc, ip_address_desc, ip_address_asc, mac_address_desc, mac_address_asc"#,
    );
}

#[test]
fn source_not_bookable() {
    let cases = [
        (Source::Zonal("fr-par-1".into()), "zonal"),
        (Source::VpcId(unknown()), "vpc_id"),
        (Source::Regional(true), "regional"),
    ];
    for (source, kind) in cases {
        let (err, _) =
            fails_in_world(|i, _| i.book_ip(REGION, BookIpRequest::new(project(), source.clone())));
        assert_eq!(err, Error::SourceNotBookable { source_kind: kind });
        let help =
            format!("source {kind} cannot book ips: expected private_network_id or subnet_id");
        assert_api(
            &err,
            400,
            "invalid_arguments",
            &invalid_body("source", "constraint", &help),
        );
    }
    // Also with the VPC that holds the Private Network.
    let (err, _) = fails_in_world(|i, w| {
        i.book_ip(
            REGION,
            BookIpRequest::new(project(), Source::VpcId(w.default_vpc)),
        )
    });
    assert_eq!(
        err,
        Error::SourceNotBookable {
            source_kind: "vpc_id"
        }
    );
}

#[test]
fn project_mismatch() {
    let expected = Error::ProjectMismatch {
        expected: project(),
        found: other_project(),
    };
    let help = format!(
        "project_id {OTHER_PROJECT} does not match the private network's project {PROJECT}"
    );
    let body = invalid_body("project_id", "constraint", &help);
    let (err, _) = fails_in_world(|i, w| {
        i.book_ip(
            REGION,
            BookIpRequest::new(other_project(), Source::PrivateNetworkId(w.pn.id)),
        )
    });
    assert_eq!(err, expected);
    assert_api(&err, 400, "invalid_arguments", &body);
    let (err, _) = fails_in_world(|i, w| {
        i.book_ip(
            REGION,
            BookIpRequest::new(other_project(), Source::SubnetId(w.v4)),
        )
    });
    assert_eq!(err, expected);
    let (err, _) = fails_in_world(|i, w| {
        i.create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(other_project()).vpc(w.empty_vpc),
        )
    });
    assert_eq!(err, expected);
    assert_api(&err, 400, "invalid_arguments", &body);
}

#[test]
fn subnet_family_mismatch() {
    let (err, w) = fails_in_world(|i, w| {
        i.book_ip(
            REGION,
            BookIpRequest::new(project(), Source::SubnetId(w.v4)).ipv6(true),
        )
    });
    assert_eq!(
        err,
        Error::SubnetFamilyMismatch {
            subnet: "172.16.32.0/22".parse().unwrap(),
            is_ipv6: true
        }
    );
    assert_api(
        &err,
        400,
        "invalid_arguments",
        &invalid_body(
            "is_ipv6",
            "constraint",
            "subnet 172.16.32.0/22 is not an ipv6 subnet",
        ),
    );
    let (err, _) = fails_in_world(|i, w| {
        i.book_ip(
            REGION,
            BookIpRequest::new(project(), Source::SubnetId(w.v6)),
        )
    });
    assert_eq!(
        err,
        Error::SubnetFamilyMismatch {
            subnet: w.pn.subnets[1].subnet,
            is_ipv6: false
        }
    );
}

/// A booking of `address` with the family flag set by hand (the builder would follow the address).
fn book_at(source: Source, address: &str, is_ipv6: bool) -> BookIpRequest {
    let mut request = BookIpRequest::new(project(), source);
    request.address = Some(address.parse().unwrap());
    request.is_ipv6 = is_ipv6;
    request
}

#[test]
fn address_family_mismatch() {
    for (address, is_ipv6, help) in [
        ("fd00::5", false, "address fd00::5 is not an ipv4 address"),
        (
            "172.16.32.9",
            true,
            "address 172.16.32.9 is not an ipv6 address",
        ),
    ] {
        let (err, _) = fails_in_world(|i, w| {
            i.book_ip(
                REGION,
                book_at(Source::PrivateNetworkId(w.pn.id), address, is_ipv6),
            )
        });
        assert_eq!(
            err,
            Error::AddressFamilyMismatch {
                address: address.parse().unwrap(),
                is_ipv6
            }
        );
        assert_api(
            &err,
            400,
            "invalid_arguments",
            &invalid_body("address", "format", help),
        );
    }
}

#[test]
fn address_outside_subnet() {
    let (err, w) = fails_in_world(|i, w| {
        i.book_ip(
            REGION,
            book_at(Source::PrivateNetworkId(w.pn.id), "10.0.0.5", false),
        )
    });
    assert_eq!(
        err,
        Error::AddressOutsideSubnet {
            address: "10.0.0.5".parse().unwrap(),
            subnet: "172.16.32.0/22".parse().unwrap()
        }
    );
    assert_api(
        &err,
        400,
        "invalid_arguments",
        &invalid_body(
            "address",
            "constraint",
            "address 10.0.0.5 is outside subnet 172.16.32.0/22",
        ),
    );
    let v6_net = w.pn.subnets[1].subnet;
    let (err, _) =
        fails_in_world(|i, w| i.book_ip(REGION, book_at(Source::SubnetId(w.v6), "fd00::5", true)));
    assert_eq!(
        err,
        Error::AddressOutsideSubnet {
            address: "fd00::5".parse().unwrap(),
            subnet: v6_net
        }
    );
    // Just past the block.
    let (err, _) = fails_in_world(|i, w| {
        i.book_ip(
            REGION,
            book_at(Source::SubnetId(w.v4), "172.16.36.0", false),
        )
    });
    assert!(matches!(err, Error::AddressOutsideSubnet { .. }));
}

#[test]
fn address_unavailable() {
    let subnet: ipnet::IpNet = "172.16.32.0/22".parse().unwrap();
    for address in [
        "172.16.32.0",
        "172.16.32.1",
        "172.16.35.254",
        "172.16.35.255",
    ] {
        let (err, _) = fails_in_world(|i, w| {
            i.book_ip(
                REGION,
                book_at(Source::PrivateNetworkId(w.pn.id), address, false),
            )
        });
        assert_eq!(
            err,
            Error::AddressUnavailable {
                address: address.parse().unwrap(),
                subnet
            }
        );
        let help = format!("address {address} is reserved in subnet 172.16.32.0/22");
        assert_api(
            &err,
            400,
            "invalid_arguments",
            &invalid_body("address", "constraint", &help),
        );
    }
    let (_, w) = world();
    let net = w.pn.subnets[1].subnet;
    let IpAddr::V6(base) = net.addr() else {
        panic!("{net}")
    };
    let at = |iid: u64| std::net::Ipv6Addr::from(u128::from(base) | u128::from(iid)).to_string();
    for iid in [0, 1, u64::MAX - 127, u64::MAX - 1, u64::MAX] {
        let address = at(iid);
        let (err, _) = fails_in_world(|i, w| {
            i.book_ip(REGION, book_at(Source::SubnetId(w.v6), &address, true))
        });
        assert_eq!(
            err,
            Error::AddressUnavailable {
                address: address.parse().unwrap(),
                subnet: net
            },
            "{address}"
        );
    }
    // Their neighbours are bookable.
    let (mut ipam, w) = world();
    for iid in [2, u64::MAX - 128] {
        let ip = ipam
            .book_ip(REGION, book_at(Source::SubnetId(w.v6), &at(iid), true))
            .unwrap();
        assert_eq!(ip.address.addr().to_string(), at(iid));
    }
    let ip = ipam
        .book_ip(
            REGION,
            book_at(Source::SubnetId(w.v4), "172.16.35.253", false),
        )
        .unwrap();
    assert_eq!(ip.address.to_string(), "172.16.35.253/22");
}

#[test]
fn subnet_not_allowed() {
    let prefix =
        "ipv4 subnets must have a prefix length within the allowed range (/20 to /28 by default)";
    let reserved = "the block is reserved (0/8, 127/8, 100.64/10, 169.254/16, 224/4)";
    let cases = [
        (
            "172.16.32.1/22",
            "host bits are set: expected the network address",
        ),
        ("10.0.0.0/19", prefix),
        ("10.0.0.0/29", prefix),
        ("0.0.0.0/24", reserved),
        ("127.0.0.0/24", reserved),
        ("100.64.0.0/24", reserved),
        ("100.127.255.0/24", reserved),
        ("169.254.0.0/24", reserved),
        ("224.0.0.0/24", reserved),
        ("239.255.255.0/24", reserved),
        ("fd00::/48", "ipv6 subnets must be /64"),
        ("fd00::/96", "ipv6 subnets must be /64"),
        (
            "ff00::/64",
            "the block is reserved (::/8, fe80::/10, ff00::/8)",
        ),
        (
            "fe80::/64",
            "the block is reserved (::/8, fe80::/10, ff00::/8)",
        ),
        ("::/64", "the block is reserved (::/8, fe80::/10, ff00::/8)"),
    ];
    for (subnet, why) in cases {
        let net: ipnet::IpNet = subnet.parse().unwrap();
        let (err, _) = fails_in_world(|i, _| {
            i.create_private_network(
                REGION,
                CreatePrivateNetworkRequest::new(other_project())
                    .subnets(["10.9.0.0/24".parse().unwrap(), net]),
            )
        });
        assert_eq!(
            err,
            Error::SubnetNotAllowed { subnet: net, why },
            "{subnet}"
        );
        let help = format!("subnet {subnet} is not allowed: {why}");
        assert_api(
            &err,
            400,
            "invalid_arguments",
            &invalid_body("subnets", "constraint", &help),
        );
    }
}

#[test]
fn subnet_overlap() {
    let (err, _) = fails_in_world(|i, _| {
        i.create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(project())
                .subnets(["172.16.33.0/24".parse().unwrap()]),
        )
    });
    assert_eq!(
        err,
        Error::SubnetOverlap {
            subnet: "172.16.33.0/24".parse().unwrap(),
            existing: "172.16.32.0/22".parse().unwrap()
        }
    );
    assert_api(
        &err,
        400,
        "invalid_arguments",
        &invalid_body(
            "subnets",
            "constraint",
            "subnet 172.16.33.0/24 overlaps subnet 172.16.32.0/22 of the vpc",
        ),
    );
    // Two given subnets that overlap each other.
    let (err, _) = fails_in_world(|i, _| {
        i.create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(other_project()).subnets([
                "10.0.0.0/24".parse().unwrap(),
                "10.0.0.128/25".parse().unwrap(),
            ]),
        )
    });
    assert_eq!(
        err,
        Error::SubnetOverlap {
            subnet: "10.0.0.128/25".parse().unwrap(),
            existing: "10.0.0.0/24".parse().unwrap()
        }
    );
    // The same block in another VPC of the Project is fine.
    let (mut ipam, w) = world();
    let pn = ipam
        .create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(project())
                .vpc(w.empty_vpc)
                .subnets(["172.16.33.0/24".parse().unwrap()]),
        )
        .unwrap();
    assert_eq!(pn.subnets[0].subnet.to_string(), "172.16.33.0/24");
}

// ---------------------------------------------------------------------------------------------
// 409 already_exists and out_of_stock.
// ---------------------------------------------------------------------------------------------

#[test]
fn address_in_use() {
    let (err, w) = fails_in_world(|i, w| {
        i.book_ip(
            REGION,
            book_at(Source::PrivateNetworkId(w.pn.id), "172.16.32.2", false),
        )
    });
    assert_eq!(
        err,
        Error::AddressInUse {
            address: "172.16.32.2".parse().unwrap(),
            ip_id: w.free
        }
    );
    let body = json!({
        "message": "resource already exists",
        "resource": "ip",
        "resource_id": w.free.to_string(),
        "help_message": format!("address 172.16.32.2 is already booked by ip {}", w.free),
        "type": "already_exists",
    });
    assert_api(&err, 409, "already_exists", &body);
    // An attached holder, booked by subnet.
    let (err, w) = fails_in_world(|i, w| {
        i.book_ip(
            REGION,
            book_at(Source::SubnetId(w.v4), "172.16.32.3", false),
        )
    });
    assert_eq!(
        err,
        Error::AddressInUse {
            address: "172.16.32.3".parse().unwrap(),
            ip_id: w.custom
        }
    );
}

#[test]
fn addresses_exhausted() {
    let (err, full) = fails(full_28, |i, f| {
        i.book_ip(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(f.pn.id)),
        )
    });
    assert_eq!(
        err,
        Error::AddressesExhausted {
            source_id: full.pn.id.uuid(),
            is_ipv6: false
        }
    );
    let body = json!({
        "message": "resource is out of stock",
        "resource": "ip",
        "help_message": format!("no free ipv4 address left in {}", full.pn.id),
        "type": "out_of_stock",
    });
    assert_api(&err, 409, "out_of_stock", &body);
    let (err, full) = fails(full_28, |i, f| {
        i.book_ip(
            REGION,
            BookIpRequest::new(project(), Source::SubnetId(f.v4)),
        )
    });
    assert_eq!(
        err,
        Error::AddressesExhausted {
            source_id: full.v4.uuid(),
            is_ipv6: false
        }
    );
    // A specific address of a full pool is in use, not out of stock.
    let (err, full) = fails(full_28, |i, f| {
        i.book_ip(
            REGION,
            book_at(Source::PrivateNetworkId(f.pn.id), "10.20.30.13", false),
        )
    });
    assert_eq!(
        err,
        Error::AddressInUse {
            address: "10.20.30.13".parse().unwrap(),
            ip_id: full.ips[11]
        }
    );
    // Releasing one makes room again, at that address.
    let (mut ipam, full) = full_28();
    ipam.release_ip(REGION, full.ips[4]).unwrap();
    let ip = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(full.pn.id)),
        )
        .unwrap();
    assert_eq!(ip.address.to_string(), "10.20.30.6/28");
}

#[test]
fn subnets_exhausted() {
    let (err, vpc) = fails(full_vpc, |i, &vpc| {
        i.create_private_network(REGION, CreatePrivateNetworkRequest::new(project()).vpc(vpc))
    });
    assert_eq!(
        err,
        Error::SubnetsExhausted {
            vpc_id: vpc,
            is_ipv6: false
        }
    );
    let body = json!({
        "message": "resource is out of stock",
        "resource": "subnet",
        "help_message": format!("no free ipv4 block left in vpc {vpc}"),
        "type": "out_of_stock",
    });
    assert_api(&err, 409, "out_of_stock", &body);
}

// ---------------------------------------------------------------------------------------------
// 412 precondition_failed.
// ---------------------------------------------------------------------------------------------

fn custom_ref() -> ResourceRef {
    ResourceRef::Custom(mac())
}

fn product_ref() -> ResourceRef {
    ResourceRef::Product(ResourceType::InstancePrivateNic, nic())
}

#[test]
fn ip_attached() {
    let still_in_use = |err: &Error, ip: IpId, attached: &str| {
        let help = format!("ip {ip} is attached to {attached}");
        assert_api(
            err,
            412,
            "precondition_failed",
            &precondition_body("resource_still_in_use", &help),
        );
    };
    let custom_text = "custom resource BC:24:11:74:D0:5A";
    let product_text = format!("instance_private_nic {}", nic());

    let (err, w) = fails_in_world(|i, w| i.release_ip(REGION, w.custom));
    assert_eq!(
        err,
        Error::IpAttached {
            ip_id: w.custom,
            attached: custom_ref()
        }
    );
    still_in_use(&err, w.custom, custom_text);
    let (err, w) = fails_in_world(|i, w| i.release_ip(REGION, w.product));
    assert_eq!(
        err,
        Error::IpAttached {
            ip_id: w.product,
            attached: product_ref()
        }
    );
    still_in_use(&err, w.product, &product_text);
    // All or nothing: the free IPs listed before the attached one stay booked.
    let (err, w) = fails_in_world(|i, w| i.release_ip_set(REGION, &[w.free, w.free_v6, w.custom]));
    assert_eq!(
        err,
        Error::IpAttached {
            ip_id: w.custom,
            attached: custom_ref()
        }
    );
    // Attach to another MAC.
    let (err, w) =
        fails_in_world(|i, w| i.attach_ip(REGION, w.custom, CustomResource::new(other_mac())));
    assert_eq!(
        err,
        Error::IpAttached {
            ip_id: w.custom,
            attached: custom_ref()
        }
    );
    still_in_use(&err, w.custom, custom_text);
    // Attach a product-attached IP to a custom resource (see the report: the contract also
    // reads as `resource_not_usable` here).
    let (err, w) =
        fails_in_world(|i, w| i.attach_ip(REGION, w.product, CustomResource::new(mac())));
    assert_eq!(
        err,
        Error::IpAttached {
            ip_id: w.product,
            attached: product_ref()
        }
    );
    // The embedding service's call.
    let (err, w) = fails_in_world(|i, w| {
        i.attach_resource(
            REGION,
            w.custom,
            ServiceResource::new(ResourceType::LbServer, nic()),
        )
    });
    assert_eq!(
        err,
        Error::IpAttached {
            ip_id: w.custom,
            attached: custom_ref()
        }
    );
    let (err, w) = fails_in_world(|i, w| {
        i.attach_resource(
            REGION,
            w.product,
            ServiceResource::new(ResourceType::LbServer, unknown()),
        )
    });
    assert_eq!(
        err,
        Error::IpAttached {
            ip_id: w.product,
            attached: product_ref()
        }
    );

    // Attaching the same MAC again, in another case, is a no-op success.
    let (mut ipam, w) = world();
    let before = ipam.get_ip(REGION, w.custom).unwrap();
    let again = ipam
        .attach_ip(
            REGION,
            w.custom,
            CustomResource::new("BC:24:11:74:D0:5A".parse().unwrap()),
        )
        .unwrap();
    assert_eq!(again, before);
}

#[test]
fn private_network_not_empty() {
    let (err, w) = fails_in_world(|i, w| i.delete_private_network(REGION, w.pn.id));
    assert_eq!(
        err,
        Error::PrivateNetworkNotEmpty {
            id: w.pn.id,
            booked: 4
        }
    );
    assert_api(
        &err,
        412,
        "precondition_failed",
        &precondition_body(
            "resource_still_in_use",
            "Private Network must be empty to be deleted",
        ),
    );
}

#[test]
fn vpc_not_empty() {
    let (err, w) = fails_in_world(|i, w| i.delete_vpc(REGION, w.default_vpc));
    assert_eq!(
        err,
        Error::VpcNotEmpty {
            id: w.default_vpc,
            private_networks: 1
        }
    );
    let help = format!("vpc {} still has 1 private networks", w.default_vpc);
    assert_api(
        &err,
        412,
        "precondition_failed",
        &precondition_body("resource_still_in_use", &help),
    );
}

#[test]
fn resource_mismatch() {
    let not_usable = |err: &Error, help: &str| {
        assert_api(
            err,
            412,
            "precondition_failed",
            &precondition_body("resource_not_usable", help),
        );
    };
    let (err, w) =
        fails_in_world(|i, w| i.detach_ip(REGION, w.custom, CustomResource::new(other_mac())));
    assert_eq!(
        err,
        Error::ResourceMismatch {
            ip_id: w.custom,
            requested: ResourceRef::Custom(other_mac()),
            attached: Some(custom_ref())
        }
    );
    not_usable(
        &err,
        &format!(
            "ip {} is not attached to custom resource BC:24:11:74:D0:5B",
            w.custom
        ),
    );
    // Move from a resource that is not the attached one, to a third one.
    let (err, w) = fails_in_world(|i, w| {
        i.move_ip(
            REGION,
            w.custom,
            MoveIpRequest {
                from_resource: CustomResource::new(other_mac()),
                to_resource: Some(CustomResource::new("02:00:00:00:00:01".parse().unwrap())),
            },
        )
    });
    assert_eq!(
        err,
        Error::ResourceMismatch {
            ip_id: w.custom,
            requested: ResourceRef::Custom(other_mac()),
            attached: Some(custom_ref())
        }
    );
    // Detach by move from the wrong resource.
    let (err, _) = fails_in_world(|i, w| {
        i.move_ip(
            REGION,
            w.custom,
            MoveIpRequest {
                from_resource: CustomResource::new(other_mac()),
                to_resource: None,
            },
        )
    });
    assert!(matches!(
        err,
        Error::ResourceMismatch {
            attached: Some(_),
            ..
        }
    ));
    // Move an unattached IP "from" a resource it is not on.
    let (err, w) = fails_in_world(|i, w| {
        i.move_ip(
            REGION,
            w.free,
            MoveIpRequest {
                from_resource: CustomResource::new(mac()),
                to_resource: Some(CustomResource::new(other_mac())),
            },
        )
    });
    assert_eq!(
        err,
        Error::ResourceMismatch {
            ip_id: w.free,
            requested: custom_ref(),
            attached: None
        }
    );
    not_usable(
        &err,
        &format!(
            "ip {} is not attached to custom resource BC:24:11:74:D0:5A",
            w.free
        ),
    );
    // The embedding service's detach, naming another resource.
    let (err, w) = fails_in_world(|i, w| i.detach_resource(REGION, w.product, unknown()));
    assert_eq!(
        err,
        Error::ResourceMismatch {
            ip_id: w.product,
            requested: ResourceRef::Product(ResourceType::UnknownType, unknown()),
            attached: Some(product_ref())
        }
    );
    assert_eq!(err.http_status(), 412);
    assert_eq!(err.error_type(), "precondition_failed");
}

#[test]
fn product_attachment() {
    let (err, w) =
        fails_in_world(|i, w| i.detach_ip(REGION, w.product, CustomResource::new(mac())));
    assert_eq!(
        err,
        Error::ProductAttachment {
            ip_id: w.product,
            attached: product_ref()
        }
    );
    let help = format!(
        "ip {} is attached to instance_private_nic {}, which only its product may change",
        w.product,
        nic()
    );
    assert_api(
        &err,
        412,
        "precondition_failed",
        &precondition_body("resource_not_usable", &help),
    );
    // Naming the product's own MAC does not help.
    let (err, w) = fails_in_world(|i, w| {
        i.detach_ip(
            REGION,
            w.product,
            CustomResource::new("02:00:00:12:73:B2".parse().unwrap()),
        )
    });
    assert_eq!(
        err,
        Error::ProductAttachment {
            ip_id: w.product,
            attached: product_ref()
        }
    );
    for to in [None, Some(CustomResource::new(other_mac()))] {
        let (err, w) = fails_in_world(|i, w| {
            i.move_ip(
                REGION,
                w.product,
                MoveIpRequest {
                    from_resource: CustomResource::new("02:00:00:12:73:b2".parse().unwrap()),
                    to_resource: to.clone(),
                },
            )
        });
        assert_eq!(
            err,
            Error::ProductAttachment {
                ip_id: w.product,
                attached: product_ref()
            }
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Atomicity beyond the listed state.
// ---------------------------------------------------------------------------------------------

/// Operations that read the clock and draw randomness: if a failed call consumed either, their
/// results differ from those of an engine that never saw the failed call.
fn follow_up(ipam: &mut Ipam) {
    let later: ProjectId = LATER_PROJECT.parse().unwrap();
    let vpc = ipam
        .create_vpc(REGION, CreateVpcRequest::new(later))
        .unwrap();
    let pn = ipam
        .create_private_network(REGION, CreatePrivateNetworkRequest::new(later).vpc(vpc.id))
        .unwrap();
    let book = BookIpRequest::new(later, Source::PrivateNetworkId(pn.id));
    ipam.book_ip(REGION, book.clone()).unwrap();
    ipam.book_ip(REGION, book.ipv6(true)).unwrap();
}

type Call = fn(&mut Ipam, &World) -> Result<(), Error>;

#[test]
fn failed_calls_consume_neither_clock_nor_randomness() {
    let calls: Vec<(&str, Call)> = vec![
        ("book: unknown pn", |i, _| {
            i.book_ip(
                REGION,
                BookIpRequest::new(project(), Source::PrivateNetworkId(unknown())),
            )
            .map(drop)
        }),
        ("book: address in use", |i, w| {
            i.book_ip(
                REGION,
                book_at(Source::PrivateNetworkId(w.pn.id), "172.16.32.2", false),
            )
            .map(drop)
        }),
        ("book: too many tags", |i, w| {
            i.book_ip(
                REGION,
                BookIpRequest::new(project(), Source::PrivateNetworkId(w.pn.id)).tags(tags_65()),
            )
            .map(drop)
        }),
        ("book_ip_for_resource: custom type", |i, w| {
            i.book_ip_for_resource(
                REGION,
                BookIpRequest::new(project(), Source::PrivateNetworkId(w.pn.id)),
                ServiceResource::new(ResourceType::Custom, unknown()),
            )
            .map(drop)
        }),
        ("update: bad reverse", |i, w| {
            i.update_ip(
                REGION,
                w.free,
                UpdateIpRequest {
                    tags: Some(vec!["x".into()]),
                    reverses: Some(vec![Reverse::new("a b", None)]),
                },
            )
            .map(drop)
        }),
        ("release: attached", |i, w| i.release_ip(REGION, w.custom)),
        ("release_ip_set: attached", |i, w| {
            i.release_ip_set(REGION, &[w.free, w.product])
        }),
        ("attach: elsewhere", |i, w| {
            i.attach_ip(REGION, w.custom, CustomResource::new(other_mac()))
                .map(drop)
        }),
        ("detach: mismatch", |i, w| {
            i.detach_ip(REGION, w.custom, CustomResource::new(other_mac()))
                .map(drop)
        }),
        ("move: product", |i, w| {
            i.move_ip(
                REGION,
                w.product,
                MoveIpRequest {
                    from_resource: CustomResource::new(mac()),
                    to_resource: None,
                },
            )
            .map(drop)
        }),
        ("attach_resource: elsewhere", |i, w| {
            i.attach_resource(
                REGION,
                w.custom,
                ServiceResource::new(ResourceType::LbServer, nic()),
            )
            .map(drop)
        }),
        ("detach_resource: mismatch", |i, w| {
            i.detach_resource(REGION, w.product, unknown()).map(drop)
        }),
        ("create_vpc: long name", |i, _| {
            i.create_vpc(
                REGION,
                CreateVpcRequest {
                    name: Some("n".repeat(256)),
                    ..CreateVpcRequest::new(project())
                },
            )
            .map(drop)
        }),
        ("delete_vpc: not empty", |i, w| {
            i.delete_vpc(REGION, w.default_vpc)
        }),
        ("delete_vpc: unknown", |i, _| {
            i.delete_vpc(REGION, unknown())
        }),
        ("create_private_network: overlap", |i, _| {
            i.create_private_network(
                REGION,
                CreatePrivateNetworkRequest::new(project())
                    .subnets(["172.16.33.0/24".parse().unwrap()]),
            )
            .map(drop)
        }),
        ("create_private_network: new project, bad subnet", |i, _| {
            i.create_private_network(
                REGION,
                CreatePrivateNetworkRequest::new(other_project())
                    .subnets(["127.0.0.0/24".parse().unwrap()]),
            )
            .map(drop)
        }),
        ("delete_private_network: not empty", |i, w| {
            i.delete_private_network(REGION, w.pn.id)
        }),
        ("delete_private_network: unknown", |i, _| {
            i.delete_private_network(REGION, unknown())
        }),
    ];
    let mut leaks = Vec::new();
    for (name, call) in calls {
        let (mut failed, w) = world();
        call(&mut failed, &w).expect_err(name);
        let (mut twin, _) = world();
        follow_up(&mut failed);
        follow_up(&mut twin);
        if state(&failed) != state(&twin) {
            leaks.push(name);
        }
    }
    assert!(
        leaks.is_empty(),
        "failed calls that changed later results: {leaks:?}"
    );
}

/// `update_ip_ref` fails as `update_ip` does, with the same error, and changes nothing: an
/// unknown id (with a tag list some IP carries, looked up before the id), tags over the limits,
/// and reverses with a bad host name or an address outside the IP's subnet.
#[test]
fn update_ip_ref_fails_as_update_ip_does() {
    type Update = fn(&World) -> (IpId, UpdateIpRequest);
    fn tags(tags: Vec<String>) -> UpdateIpRequest {
        UpdateIpRequest {
            tags: Some(tags),
            reverses: None,
        }
    }
    fn reverse(r: Reverse) -> UpdateIpRequest {
        UpdateIpRequest {
            tags: None,
            reverses: Some(vec![r]),
        }
    }
    let updates: Vec<(&str, Update)> = vec![
        ("unknown id", |_| {
            (unknown(), tags(vec!["web".into(), "prod".into()]))
        }),
        ("a tag too long", |w| (w.free, tags(vec!["x".repeat(200)]))),
        ("too many tags", |w| {
            (w.free, tags((0..65).map(|k| format!("t{k}")).collect()))
        }),
        ("a bad host name", |w| {
            (w.free, reverse(Reverse::new("a..b", None)))
        }),
        ("an address outside the subnet", |w| {
            let outside = "10.0.0.1".parse().unwrap();
            (
                w.free,
                reverse(Reverse::new("x.example.com", Some(outside))),
            )
        }),
    ];
    for (name, update) in updates {
        let (owned, _) = fails_in_world(|i, w| {
            let (id, request) = update(w);
            i.update_ip(REGION, id, request)
        });
        let (borrowed, _) = fails_in_world(|i, w| {
            let (id, request) = update(w);
            i.update_ip_ref(REGION, id, request).map(|ip| ip.id())
        });
        assert_eq!(borrowed, owned, "{name}");
    }
}

#[test]
fn book_ip_ref_fails_as_book_ip_does() {
    type Request = fn(&World) -> BookIpRequest;
    let requests: Vec<(&str, Request)> = vec![
        ("unknown network", |_| {
            BookIpRequest::new(project(), Source::PrivateNetworkId(unknown()))
        }),
        ("another project", |w| {
            BookIpRequest::new(other_project(), Source::PrivateNetworkId(w.pn.id))
        }),
        ("address in use", |w| {
            BookIpRequest::new(project(), Source::PrivateNetworkId(w.pn.id))
                .address("172.16.32.2".parse().unwrap())
        }),
        ("address outside the subnet", |w| {
            BookIpRequest::new(project(), Source::SubnetId(w.v4))
                .address("10.9.9.9".parse().unwrap())
        }),
        ("family mismatch", |w| {
            BookIpRequest::new(project(), Source::SubnetId(w.v6))
        }),
        ("a vpc source", |w| {
            BookIpRequest::new(project(), Source::VpcId(w.default_vpc))
        }),
        ("a tag too long", |w| {
            BookIpRequest::new(project(), Source::PrivateNetworkId(w.pn.id)).tags(["x".repeat(200)])
        }),
    ];
    for (name, request) in requests {
        let (owned, _) = fails_in_world(|i, w| i.book_ip(REGION, request(w)));
        let (borrowed, _) =
            fails_in_world(|i, w| i.book_ip_ref(REGION, request(w)).map(|ip| ip.id()));
        assert_eq!(borrowed, owned, "{name}");
    }
}

/// `attach_ip_ref`, `detach_ip_ref` and `move_ip_ref` fail as `attach_ip`, `detach_ip` and
/// `move_ip` do, with the same error, and change nothing: an unknown id, an IP attached to
/// another MAC or to a product resource, a wrong `from_resource`, a name over the limits.
#[test]
fn attachment_ref_calls_fail_as_the_owned_ones_do() {
    /// Which call, on which IP, with which MACs and name.
    #[derive(Clone, Copy)]
    enum Call {
        Attach,
        Detach,
        Move,
    }
    type Case = (&'static str, Call, fn(&World) -> IpId, MacAddress, usize);
    let cases: Vec<Case> = vec![
        ("attach: unknown id", Call::Attach, |_| unknown(), mac(), 0),
        (
            "attach: on another MAC",
            Call::Attach,
            |w| w.custom,
            other_mac(),
            0,
        ),
        (
            "attach: on a product",
            Call::Attach,
            |w| w.product,
            mac(),
            0,
        ),
        (
            "attach: name too long",
            Call::Attach,
            |w| w.free,
            mac(),
            1000,
        ),
        ("detach: unknown id", Call::Detach, |_| unknown(), mac(), 0),
        (
            "detach: another MAC",
            Call::Detach,
            |w| w.custom,
            other_mac(),
            0,
        ),
        ("detach: a product", Call::Detach, |w| w.product, mac(), 0),
        ("move: unknown id", Call::Move, |_| unknown(), mac(), 0),
        ("move: wrong from", Call::Move, |w| w.custom, other_mac(), 0),
        ("move: a product", Call::Move, |w| w.product, mac(), 0),
        ("move: unattached", Call::Move, |w| w.free, mac(), 0),
        ("move: name too long", Call::Move, |w| w.custom, mac(), 1000),
    ];
    for (name, call, ip, from, name_len) in cases {
        let resource = |mac| CustomResource {
            mac_address: mac,
            name: (name_len > 0).then(|| "n".repeat(name_len)),
        };
        let request = || MoveIpRequest {
            from_resource: CustomResource::new(from),
            to_resource: Some(resource(other_mac())),
        };
        let (owned, _) = fails_in_world(|i, w| match call {
            Call::Attach => i.attach_ip(REGION, ip(w), resource(from)),
            Call::Detach => i.detach_ip(REGION, ip(w), resource(from)),
            Call::Move => i.move_ip(REGION, ip(w), request()),
        });
        let (borrowed, _) = fails_in_world(|i, w| {
            match call {
                Call::Attach => i.attach_ip_ref(REGION, ip(w), resource(from)),
                Call::Detach => i.detach_ip_ref(REGION, ip(w), resource(from)),
                Call::Move => i.move_ip_ref(REGION, ip(w), request()),
            }
            .map(|ip| ip.id())
        });
        assert_eq!(borrowed, owned, "{name}");
    }
}

/// An id one bit away from a live IP's finds nothing: flipping one of its last 48 bits makes
/// its stamp lead to another record (a neighbour, or none), flipping an earlier one changes the
/// mask. Get, update and release fail with `not_found` and change nothing.
#[test]
fn ids_one_bit_away_from_a_live_ip_find_nothing() {
    let (ipam, w) = world();
    let live = w.free.uuid().as_u128();
    let near = |bit: u32| IpId::from_uuid(uuid::Uuid::from_u128(live ^ (1 << bit)));
    for bit in 0..128 {
        let id = near(bit);
        assert_eq!(
            ipam.get_ip(REGION, id),
            Err(Error::IpNotFound { id }),
            "bit {bit}"
        );
        assert!(ipam.ip(REGION, id).is_err(), "bit {bit}");
    }
    for bit in (0..48).chain([48, 63, 64, 100, 127]) {
        let id = near(bit);
        let (err, _) = fails_in_world(|i, _| i.release_ip(REGION, id));
        assert_eq!(err, Error::IpNotFound { id }, "bit {bit}");
        let (err, _) = fails_in_world(|i, _| {
            let request = UpdateIpRequest {
                tags: Some(vec!["web".into()]),
                reverses: None,
            };
            i.update_ip(REGION, id, request)
        });
        assert_eq!(err, Error::IpNotFound { id }, "bit {bit}");
    }
}
