//! Attaching, detaching and moving IPs: custom resources by MAC address through the API calls,
//! product resources through the embedding service's calls, and the list filters and orders that
//! follow attachments.

use ipam_engine::{
    ArgumentReason, BookIpRequest, CreatePrivateNetworkRequest, CustomResource, Error, Ip, IpId,
    Ipam, ListIpsRequest, MacAddress, MoveIpRequest, OrderBy, PrivateNetwork, ProjectId, Region,
    ResourceId, ResourceRef, ResourceType, ServiceResource, Source,
};
use uuid::Uuid;

const REGION: Region = Region::FrPar;

mod common;
use common::engine;

fn project() -> ProjectId {
    "564aa517-68b0-4fd7-8c8c-d21c4bcdcbd5".parse().unwrap()
}

fn mac(s: &str) -> MacAddress {
    s.parse().unwrap()
}

fn custom(s: &str) -> CustomResource {
    CustomResource::new(mac(s))
}

fn moving(from: &str, to: Option<&str>) -> MoveIpRequest {
    MoveIpRequest {
        from_resource: custom(from),
        to_resource: to.map(custom),
    }
}

/// An engine with one Private Network (172.16.32.0/22 and a generated /64).
fn setup(seed: u64) -> (Ipam, PrivateNetwork) {
    let mut ipam = engine(seed);
    let pn = ipam
        .create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(project())
                .subnets(["172.16.32.0/22".parse().unwrap()]),
        )
        .unwrap();
    (ipam, pn)
}

fn book(ipam: &mut Ipam, pn: &PrivateNetwork) -> Ip {
    ipam.book_ip(
        REGION,
        BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id)),
    )
    .unwrap()
}

fn book_v6(ipam: &mut Ipam, pn: &PrivateNetwork) -> Ip {
    ipam.book_ip(
        REGION,
        BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id)).ipv6(true),
    )
    .unwrap()
}

fn ids(ipam: &Ipam, request: &ListIpsRequest) -> Vec<IpId> {
    let resp = ipam.list_ips(REGION, request).unwrap();
    assert_eq!(resp.total_count, resp.ips.len() as u64);
    resp.ips.iter().map(|ip| ip.id).collect()
}

fn ordered(ipam: &Ipam, order_by: OrderBy) -> Vec<IpId> {
    ids(
        ipam,
        &ListIpsRequest {
            order_by,
            ..ListIpsRequest::default()
        },
    )
}

fn precondition(e: &Error) -> Option<String> {
    assert_eq!(e.error_type(), "precondition_failed");
    assert_eq!(e.http_status(), 412);
    e.to_api_error().precondition
}

#[test]
fn attach_sets_a_custom_resource_and_bumps_updated_at() {
    let (mut ipam, pn) = setup(1);
    let ip = book(&mut ipam, &pn);
    let attached = ipam
        .attach_ip(REGION, ip.id, custom("bc:24:11:74:d0:5a").with_name("vm-1"))
        .unwrap();
    let r = attached.resource.clone().unwrap();
    assert_eq!(r.resource_type, ResourceType::Custom);
    assert_eq!(r.id, ResourceId::from(ip.id));
    assert_eq!(r.id.uuid(), ip.id.uuid());
    assert_eq!(r.mac_address, Some(mac("BC:24:11:74:D0:5A")));
    assert_eq!(r.mac_address.unwrap().to_string(), "BC:24:11:74:D0:5A");
    assert_eq!(r.name.as_deref(), Some("vm-1"));
    assert!(attached.updated_at > ip.updated_at);
    assert_eq!(attached.created_at, ip.created_at);
    assert_eq!(attached.id, ip.id);
    assert_eq!(attached.address, ip.address);
    assert_eq!(attached.source, ip.source);
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), attached);
    // Without a name.
    let ip2 = book(&mut ipam, &pn);
    let attached2 = ipam
        .attach_ip(REGION, ip2.id, custom("02:00:00:00:00:02"))
        .unwrap();
    assert_eq!(attached2.resource.unwrap().name, None);
    ipam.check_invariants().unwrap();
}

#[test]
fn attaching_the_same_mac_again_changes_nothing() {
    let (mut ipam, pn) = setup(2);
    let ip = book(&mut ipam, &pn);
    let attached = ipam
        .attach_ip(REGION, ip.id, custom("bc:24:11:74:d0:5a").with_name("vm-1"))
        .unwrap();
    // Same MAC in another case and separator: a no-op success, updated_at not bumped.
    let again = ipam
        .attach_ip(
            REGION,
            ip.id,
            custom("BC-24-11-74-D0-5A").with_name("other"),
        )
        .unwrap();
    assert_eq!(again, attached);
    let again = ipam
        .attach_ip(REGION, ip.id, custom("bc:24:11:74:d0:5a"))
        .unwrap();
    assert_eq!(again, attached);
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), attached);
    ipam.check_invariants().unwrap();
}

#[test]
fn attaching_an_ip_attached_elsewhere_fails() {
    let (mut ipam, pn) = setup(3);
    let ip = book(&mut ipam, &pn);
    let attached = ipam
        .attach_ip(REGION, ip.id, custom("bc:24:11:74:d0:5a"))
        .unwrap();
    let err = ipam
        .attach_ip(REGION, ip.id, custom("bc:24:11:74:d0:5b"))
        .unwrap_err();
    assert_eq!(
        err,
        Error::IpAttached {
            ip_id: ip.id,
            attached: ResourceRef::Custom(mac("BC:24:11:74:D0:5A"))
        }
    );
    assert_eq!(precondition(&err).as_deref(), Some("resource_still_in_use"));
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), attached);
    ipam.check_invariants().unwrap();
}

#[test]
fn detach() {
    let (mut ipam, pn) = setup(4);
    let ip = book(&mut ipam, &pn);
    let attached = ipam
        .attach_ip(REGION, ip.id, custom("BC:24:11:74:D0:5A").with_name("vm"))
        .unwrap();

    // Another MAC: resource_not_usable, nothing changes.
    let err = ipam
        .detach_ip(REGION, ip.id, custom("bc:24:11:74:d0:5b"))
        .unwrap_err();
    assert_eq!(
        err,
        Error::ResourceMismatch {
            ip_id: ip.id,
            requested: ResourceRef::Custom(mac("bc:24:11:74:d0:5b")),
            attached: Some(ResourceRef::Custom(mac("bc:24:11:74:d0:5a"))),
        }
    );
    assert_eq!(precondition(&err).as_deref(), Some("resource_not_usable"));
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), attached);

    // The MAC compares in any case; the name need not be given.
    let detached = ipam
        .detach_ip(REGION, ip.id, custom("bc-24-11-74-d0-5a"))
        .unwrap();
    assert_eq!(detached.resource, None);
    assert!(detached.updated_at > attached.updated_at);
    assert_eq!(detached.created_at, ip.created_at);
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), detached);

    // Detaching an unattached IP: a no-op success, whatever the MAC.
    let again = ipam
        .detach_ip(REGION, ip.id, custom("bc:24:11:74:d0:5a"))
        .unwrap();
    assert_eq!(again, detached);
    let again = ipam
        .detach_ip(REGION, ip.id, custom("00:00:00:00:00:01"))
        .unwrap();
    assert_eq!(again, detached);

    // A resource attached at booking detaches the same way.
    let booked = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id))
                .resource(custom("02:00:00:00:00:09")),
        )
        .unwrap();
    let detached = ipam
        .detach_ip(REGION, booked.id, custom("02:00:00:00:00:09"))
        .unwrap();
    assert_eq!(detached.resource, None);
    ipam.release_ip(REGION, booked.id).unwrap();
    ipam.release_ip(REGION, ip.id).unwrap();
    assert_eq!(ipam.ip_count(REGION), 0);
    ipam.check_invariants().unwrap();
}

#[test]
fn move_between_custom_resources() {
    let (mut ipam, pn) = setup(5);
    let ip = book(&mut ipam, &pn);
    let a = "02:00:00:00:00:0a";
    let b = "02:00:00:00:00:0b";
    let on_a = ipam.attach_ip(REGION, ip.id, custom(a)).unwrap();

    // A -> B.
    let on_b = ipam
        .move_ip(
            REGION,
            ip.id,
            MoveIpRequest {
                from_resource: custom(a),
                to_resource: Some(custom(b).with_name("b")),
            },
        )
        .unwrap();
    let r = on_b.resource.clone().unwrap();
    assert_eq!(r.resource_type, ResourceType::Custom);
    assert_eq!(r.id, ResourceId::from(ip.id));
    assert_eq!(r.mac_address, Some(mac(b)));
    assert_eq!(r.name.as_deref(), Some("b"));
    assert!(on_b.updated_at > on_a.updated_at);
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), on_b);

    // A -> B again, while on B: success, nothing changes.
    assert_eq!(
        ipam.move_ip(REGION, ip.id, moving(a, Some(b))).unwrap(),
        on_b
    );
    // Any from -> B while on B: the IP already sits on to_resource.
    assert_eq!(
        ipam.move_ip(REGION, ip.id, moving("02:00:00:00:00:0c", Some(b)))
            .unwrap(),
        on_b
    );

    // From a resource that is not the attached one.
    let err = ipam
        .move_ip(
            REGION,
            ip.id,
            moving("02:00:00:00:00:0c", Some("02:00:00:00:00:0d")),
        )
        .unwrap_err();
    assert_eq!(
        err,
        Error::ResourceMismatch {
            ip_id: ip.id,
            requested: ResourceRef::Custom(mac("02:00:00:00:00:0c")),
            attached: Some(ResourceRef::Custom(mac(b))),
        }
    );
    assert_eq!(precondition(&err).as_deref(), Some("resource_not_usable"));
    assert_eq!(
        ipam.move_ip(REGION, ip.id, moving(a, None)),
        Err(Error::ResourceMismatch {
            ip_id: ip.id,
            requested: ResourceRef::Custom(mac(a)),
            attached: Some(ResourceRef::Custom(mac(b))),
        })
    );
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), on_b);

    // Without to_resource: the IP ends detached (MAC in another case).
    let detached = ipam
        .move_ip(REGION, ip.id, moving("02-00-00-00-00-0B", None))
        .unwrap();
    assert_eq!(detached.resource, None);
    assert!(detached.updated_at > on_b.updated_at);
    // Already detached and no to_resource: success, nothing changes.
    assert_eq!(
        ipam.move_ip(REGION, ip.id, moving(b, None)).unwrap(),
        detached
    );
    // An unattached IP cannot be moved from a resource to another.
    assert_eq!(
        ipam.move_ip(REGION, ip.id, moving(a, Some(b))),
        Err(Error::ResourceMismatch {
            ip_id: ip.id,
            requested: ResourceRef::Custom(mac(a)),
            attached: None,
        })
    );
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), detached);
    ipam.check_invariants().unwrap();
}

#[test]
fn attached_at_orders_by_the_current_attachment() {
    let (mut ipam, pn) = setup(6);
    let ips: Vec<IpId> = (0..4).map(|_| book(&mut ipam, &pn).id).collect();
    let [a, b, c, d] = [ips[0], ips[1], ips[2], ips[3]];
    ipam.attach_ip(REGION, c, custom("02:00:00:00:00:03"))
        .unwrap();
    ipam.attach_ip(REGION, a, custom("02:00:00:00:00:01"))
        .unwrap();
    ipam.attach_ip(REGION, b, custom("02:00:00:00:00:02"))
        .unwrap();
    assert_eq!(ordered(&ipam, OrderBy::AttachedAtAsc), [c, a, b, d]);
    assert_eq!(ordered(&ipam, OrderBy::AttachedAtDesc), [b, a, c, d]);
    // Idempotent re-attach keeps the attachment time.
    ipam.attach_ip(REGION, c, custom("02:00:00:00:00:03"))
        .unwrap();
    assert_eq!(ordered(&ipam, OrderBy::AttachedAtAsc), [c, a, b, d]);

    // A move is a new attachment.
    ipam.move_ip(
        REGION,
        c,
        moving("02:00:00:00:00:03", Some("02:00:00:00:00:04")),
    )
    .unwrap();
    assert_eq!(ordered(&ipam, OrderBy::AttachedAtAsc), [a, b, c, d]);
    // Unattached IPs come last in both directions, in creation order in the key's direction.
    ipam.detach_ip(REGION, a, custom("02:00:00:00:00:01"))
        .unwrap();
    assert_eq!(ordered(&ipam, OrderBy::AttachedAtAsc), [b, c, a, d]);
    assert_eq!(ordered(&ipam, OrderBy::AttachedAtDesc), [c, b, d, a]);
    // Updated_at follows the same changes: b was attached, c moved, a detached.
    assert_eq!(ordered(&ipam, OrderBy::UpdatedAtAsc), [d, b, c, a]);
    ipam.check_invariants().unwrap();
}

#[test]
fn product_attachments_are_the_products_own() {
    let (mut ipam, pn) = setup(7);
    let ip = book(&mut ipam, &pn);
    let nic = ResourceId::from_uuid(Uuid::from_u128(0x1111));
    let m = mac("02:00:00:00:01:01");
    let product = ResourceRef::Product(ResourceType::InstancePrivateNic, nic);

    let attached = ipam
        .attach_resource(
            REGION,
            ip.id,
            ServiceResource::new(ResourceType::InstancePrivateNic, nic)
                .mac_address(m)
                .name("nic0"),
        )
        .unwrap();
    let r = attached.resource.clone().unwrap();
    assert_eq!(r.resource_type, ResourceType::InstancePrivateNic);
    assert_eq!(r.id, nic);
    assert_eq!(r.mac_address, Some(m));
    assert_eq!(r.name.as_deref(), Some("nic0"));
    assert!(attached.updated_at > ip.updated_at);

    // The custom calls cannot touch it.
    let err = ipam
        .attach_ip(REGION, ip.id, CustomResource::new(m))
        .unwrap_err();
    assert_eq!(
        err,
        Error::IpAttached {
            ip_id: ip.id,
            attached: product
        }
    );
    assert_eq!(precondition(&err).as_deref(), Some("resource_still_in_use"));
    let err = ipam
        .detach_ip(REGION, ip.id, CustomResource::new(m))
        .unwrap_err();
    assert_eq!(
        err,
        Error::ProductAttachment {
            ip_id: ip.id,
            attached: product
        }
    );
    assert_eq!(precondition(&err).as_deref(), Some("resource_not_usable"));
    for to in [None, Some("02:00:00:00:01:02"), Some("02:00:00:00:01:01")] {
        let err = ipam
            .move_ip(REGION, ip.id, moving("02:00:00:00:01:01", to))
            .unwrap_err();
        assert_eq!(
            err,
            Error::ProductAttachment {
                ip_id: ip.id,
                attached: product
            },
            "{to:?}"
        );
        assert_eq!(precondition(&err).as_deref(), Some("resource_not_usable"));
    }
    assert_eq!(
        ipam.release_ip(REGION, ip.id),
        Err(Error::IpAttached {
            ip_id: ip.id,
            attached: product
        })
    );
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), attached);

    // A product resource without a MAC address.
    let ip2 = book(&mut ipam, &pn);
    let lb = ResourceId::from_uuid(Uuid::from_u128(0x2222));
    ipam.attach_resource(
        REGION,
        ip2.id,
        ServiceResource::new(ResourceType::LbServer, lb),
    )
    .unwrap();
    assert_eq!(
        ipam.detach_ip(REGION, ip2.id, custom("02:00:00:00:01:01")),
        Err(Error::ProductAttachment {
            ip_id: ip2.id,
            attached: ResourceRef::Product(ResourceType::LbServer, lb)
        })
    );
    assert_eq!(ordered(&ipam, OrderBy::AttachedAtAsc), [ip.id, ip2.id]);

    // Attaching to the same resource again updates MAC and name in place, keeping the
    // attachment time.
    let updated = ipam
        .attach_resource(
            REGION,
            ip.id,
            ServiceResource::new(ResourceType::InstancePrivateNic, nic)
                .mac_address(mac("02:00:00:00:01:99"))
                .name("nic0-renamed"),
        )
        .unwrap();
    let r = updated.resource.clone().unwrap();
    assert_eq!(r.resource_type, ResourceType::InstancePrivateNic);
    assert_eq!(r.id, nic);
    assert_eq!(r.mac_address, Some(mac("02:00:00:00:01:99")));
    assert_eq!(r.name.as_deref(), Some("nic0-renamed"));
    assert!(updated.updated_at > attached.updated_at);
    assert_eq!(ordered(&ipam, OrderBy::AttachedAtAsc), [ip.id, ip2.id]);
    assert_eq!(ordered(&ipam, OrderBy::UpdatedAtDesc), [ip.id, ip2.id]);
    // The very same resource: nothing changes.
    let same = ipam
        .attach_resource(
            REGION,
            ip.id,
            ServiceResource::new(ResourceType::InstancePrivateNic, nic)
                .mac_address(mac("02:00:00:00:01:99"))
                .name("nic0-renamed"),
        )
        .unwrap();
    assert_eq!(same, updated);

    // Another resource: refused.
    let other = ResourceId::from_uuid(Uuid::from_u128(0x3333));
    assert_eq!(
        ipam.attach_resource(
            REGION,
            ip.id,
            ServiceResource::new(ResourceType::InstancePrivateNic, other)
        ),
        Err(Error::IpAttached {
            ip_id: ip.id,
            attached: product
        })
    );
    // A custom-attached IP is refused too.
    let ip3 = book(&mut ipam, &pn);
    let on_custom = ipam
        .attach_ip(REGION, ip3.id, custom("02:00:00:00:03:03"))
        .unwrap();
    assert_eq!(
        ipam.attach_resource(
            REGION,
            ip3.id,
            ServiceResource::new(ResourceType::InstancePrivateNic, other)
        ),
        Err(Error::IpAttached {
            ip_id: ip3.id,
            attached: ResourceRef::Custom(mac("02:00:00:00:03:03"))
        })
    );
    assert_eq!(ipam.get_ip(REGION, ip3.id).unwrap(), on_custom);
    // Custom and unknown_type are not product types.
    for t in [ResourceType::Custom, ResourceType::UnknownType] {
        let err = ipam
            .attach_resource(REGION, ip3.id, ServiceResource::new(t, other))
            .unwrap_err();
        assert!(
            matches!(
                &err,
                Error::InvalidArgument { argument, reason: ArgumentReason::Constraint, .. }
                    if argument == "resource.type"
            ),
            "{t}: {err:?}"
        );
    }
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), updated);
    ipam.check_invariants().unwrap();
}

#[test]
fn detach_resource() {
    let (mut ipam, pn) = setup(8);
    let ip = book(&mut ipam, &pn);
    let nic = ResourceId::from_uuid(Uuid::from_u128(0x1111));
    let attached = ipam
        .attach_resource(
            REGION,
            ip.id,
            ServiceResource::new(ResourceType::BaremetalPrivateNic, nic)
                .mac_address(mac("02:00:00:00:01:01")),
        )
        .unwrap();
    let wrong = ResourceId::from_uuid(Uuid::from_u128(0x9999));
    let err = ipam.detach_resource(REGION, ip.id, wrong).unwrap_err();
    assert_eq!(
        err,
        Error::ResourceMismatch {
            ip_id: ip.id,
            requested: ResourceRef::Product(ResourceType::UnknownType, wrong),
            attached: Some(ResourceRef::Product(ResourceType::BaremetalPrivateNic, nic)),
        }
    );
    assert_eq!(precondition(&err).as_deref(), Some("resource_not_usable"));
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), attached);

    let detached = ipam.detach_resource(REGION, ip.id, nic).unwrap();
    assert_eq!(detached.resource, None);
    assert!(detached.updated_at > attached.updated_at);
    // Unattached: a no-op success.
    assert_eq!(ipam.detach_resource(REGION, ip.id, nic).unwrap(), detached);
    // Now the IP is free for a custom resource, and for release.
    ipam.attach_ip(REGION, ip.id, custom("02:00:00:00:00:01"))
        .unwrap();
    ipam.detach_ip(REGION, ip.id, custom("02:00:00:00:00:01"))
        .unwrap();
    ipam.release_ip(REGION, ip.id).unwrap();
    assert_eq!(ipam.ip_count(REGION), 0);
    ipam.check_invariants().unwrap();
}

#[test]
fn release_of_an_attached_ip_fails() {
    let (mut ipam, pn) = setup(9);
    let ip = book(&mut ipam, &pn);
    let attached = ipam
        .attach_ip(REGION, ip.id, custom("02:00:00:00:00:01"))
        .unwrap();
    let err = ipam.release_ip(REGION, ip.id).unwrap_err();
    assert_eq!(
        err,
        Error::IpAttached {
            ip_id: ip.id,
            attached: ResourceRef::Custom(mac("02:00:00:00:00:01"))
        }
    );
    assert_eq!(precondition(&err).as_deref(), Some("resource_still_in_use"));
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), attached);
    assert_eq!(ipam.ip_count(REGION), 1);
    ipam.detach_ip(REGION, ip.id, custom("02:00:00:00:00:01"))
        .unwrap();
    ipam.release_ip(REGION, ip.id).unwrap();
    assert_eq!(
        ipam.get_ip(REGION, ip.id),
        Err(Error::IpNotFound { id: ip.id })
    );
    ipam.check_invariants().unwrap();
}

#[test]
fn list_filters_follow_attachments() {
    let (mut ipam, pn) = setup(10);
    let ip1 = book(&mut ipam, &pn);
    let ip2 = book_v6(&mut ipam, &pn);
    let ip3 = book(&mut ipam, &pn);
    let a = "02:00:00:00:00:0a";
    let c = "02:00:00:00:00:0c";
    let nic_mac = "02:00:00:00:00:0b";
    let nic = ResourceId::from_uuid(Uuid::from_u128(0x4444));
    // One MAC for the IPv4 and IPv6 addresses of the same machine.
    ipam.attach_ip(REGION, ip1.id, custom(a).with_name("vm-a"))
        .unwrap();
    ipam.attach_ip(REGION, ip2.id, custom(a).with_name("vm-a"))
        .unwrap();
    ipam.attach_resource(
        REGION,
        ip3.id,
        ServiceResource::new(ResourceType::InstancePrivateNic, nic)
            .mac_address(mac(nic_mac))
            .name("nic"),
    )
    .unwrap();

    let by_mac = |ipam: &Ipam, m: &str| {
        ids(
            ipam,
            &ListIpsRequest {
                mac_address: Some(mac(m)),
                ..ListIpsRequest::default()
            },
        )
    };
    let by_resource = |ipam: &Ipam, id: ResourceId| {
        ids(
            ipam,
            &ListIpsRequest {
                resource_id: Some(id),
                ..ListIpsRequest::default()
            },
        )
    };
    let by_type = |ipam: &Ipam, t: ResourceType| {
        ids(
            ipam,
            &ListIpsRequest {
                resource_type: Some(t),
                ..ListIpsRequest::default()
            },
        )
    };
    let by_attached = |ipam: &Ipam, attached: bool| {
        ids(
            ipam,
            &ListIpsRequest {
                attached: Some(attached),
                ..ListIpsRequest::default()
            },
        )
    };
    let by_name = |ipam: &Ipam, name: &str| {
        ids(
            ipam,
            &ListIpsRequest {
                resource_name: Some(name.into()),
                ..ListIpsRequest::default()
            },
        )
    };

    assert_eq!(by_mac(&ipam, a), [ip2.id, ip1.id]);
    assert_eq!(by_mac(&ipam, "02:00:00:00:00:0A"), [ip2.id, ip1.id]);
    assert_eq!(by_mac(&ipam, nic_mac), [ip3.id]);
    assert_eq!(by_mac(&ipam, c), []);
    assert_eq!(by_resource(&ipam, ResourceId::from(ip1.id)), [ip1.id]);
    assert_eq!(by_resource(&ipam, ResourceId::from(ip2.id)), [ip2.id]);
    assert_eq!(by_resource(&ipam, nic), [ip3.id]);
    assert_eq!(by_type(&ipam, ResourceType::Custom), [ip2.id, ip1.id]);
    assert_eq!(by_type(&ipam, ResourceType::InstancePrivateNic), [ip3.id]);
    assert_eq!(by_attached(&ipam, true), [ip3.id, ip2.id, ip1.id]);
    assert_eq!(by_attached(&ipam, false), []);
    assert_eq!(by_name(&ipam, "vm"), [ip2.id, ip1.id]);

    // Move ip1 from A to C.
    ipam.move_ip(
        REGION,
        ip1.id,
        MoveIpRequest {
            from_resource: custom(a),
            to_resource: Some(custom(c).with_name("vm-c")),
        },
    )
    .unwrap();
    assert_eq!(by_mac(&ipam, a), [ip2.id]);
    assert_eq!(by_mac(&ipam, c), [ip1.id]);
    assert_eq!(by_resource(&ipam, ResourceId::from(ip1.id)), [ip1.id]);
    assert_eq!(by_type(&ipam, ResourceType::Custom), [ip2.id, ip1.id]);
    assert_eq!(by_name(&ipam, "vm-a"), [ip2.id]);
    assert_eq!(by_name(&ipam, "vm-c"), [ip1.id]);

    // Detach ip2.
    ipam.detach_ip(REGION, ip2.id, custom(a)).unwrap();
    assert_eq!(by_mac(&ipam, a), []);
    assert_eq!(by_resource(&ipam, ResourceId::from(ip2.id)), []);
    assert_eq!(by_type(&ipam, ResourceType::Custom), [ip1.id]);
    assert_eq!(by_attached(&ipam, true), [ip3.id, ip1.id]);
    assert_eq!(by_attached(&ipam, false), [ip2.id]);
    assert_eq!(by_name(&ipam, "vm"), [ip1.id]);

    // Move ip1 away entirely, and detach the product.
    ipam.move_ip(REGION, ip1.id, moving(c, None)).unwrap();
    ipam.detach_resource(REGION, ip3.id, nic).unwrap();
    assert_eq!(by_mac(&ipam, c), []);
    assert_eq!(by_mac(&ipam, nic_mac), []);
    assert_eq!(by_resource(&ipam, nic), []);
    assert_eq!(by_type(&ipam, ResourceType::Custom), []);
    assert_eq!(by_type(&ipam, ResourceType::InstancePrivateNic), []);
    assert_eq!(by_attached(&ipam, true), []);
    assert_eq!(by_attached(&ipam, false), [ip3.id, ip2.id, ip1.id]);
    assert_eq!(by_name(&ipam, "vm"), []);

    // Re-attach ip3 to a custom resource: the custom filters see it.
    ipam.attach_ip(REGION, ip3.id, custom(a)).unwrap();
    assert_eq!(by_mac(&ipam, a), [ip3.id]);
    assert_eq!(by_resource(&ipam, ResourceId::from(ip3.id)), [ip3.id]);
    assert_eq!(by_type(&ipam, ResourceType::Custom), [ip3.id]);
    ipam.check_invariants().unwrap();
}

#[test]
fn unknown_ips_are_not_found() {
    let (mut ipam, pn) = setup(11);
    let ip = book(&mut ipam, &pn);
    let unknown = IpId::from_uuid(Uuid::from_u128(42));
    let nf = Err(Error::IpNotFound { id: unknown });
    assert_eq!(
        ipam.attach_ip(REGION, unknown, custom("02:00:00:00:00:01")),
        nf
    );
    assert_eq!(
        ipam.detach_ip(REGION, unknown, custom("02:00:00:00:00:01")),
        nf
    );
    assert_eq!(
        ipam.move_ip(REGION, unknown, moving("02:00:00:00:00:01", None)),
        nf
    );
    let nic = ResourceId::from_uuid(Uuid::from_u128(1));
    assert_eq!(
        ipam.attach_resource(
            REGION,
            unknown,
            ServiceResource::new(ResourceType::InstancePrivateNic, nic)
        ),
        nf
    );
    assert_eq!(ipam.detach_resource(REGION, unknown, nic), nf);
    // The IP exists in fr-par only.
    assert_eq!(
        ipam.attach_ip(Region::ItMil, ip.id, custom("02:00:00:00:00:01")),
        Err(Error::IpNotFound { id: ip.id })
    );
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), ip);
    ipam.check_invariants().unwrap();
}

#[test]
fn resource_names_are_bounded() {
    let (mut ipam, pn) = setup(12);
    let ip = book(&mut ipam, &pn);
    let is_name_error = |r: Result<Ip, Error>, arg: &str| {
        matches!(
            r,
            Err(Error::InvalidArgument { ref argument, reason: ArgumentReason::Constraint, .. })
                if argument == arg
        )
    };
    assert!(is_name_error(
        ipam.attach_ip(
            REGION,
            ip.id,
            custom("02:00:00:00:00:01").with_name("n".repeat(256))
        ),
        "resource.name"
    ));
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), ip);
    let attached = ipam
        .attach_ip(
            REGION,
            ip.id,
            custom("02:00:00:00:00:01").with_name("n".repeat(255)),
        )
        .unwrap();
    assert_eq!(attached.resource.unwrap().name.unwrap().len(), 255);
    assert!(is_name_error(
        ipam.move_ip(
            REGION,
            ip.id,
            MoveIpRequest {
                from_resource: custom("02:00:00:00:00:01"),
                to_resource: Some(custom("02:00:00:00:00:02").with_name("n".repeat(256))),
            }
        ),
        "to_resource.name"
    ));
    let ip2 = book(&mut ipam, &pn);
    assert!(is_name_error(
        ipam.attach_resource(
            REGION,
            ip2.id,
            ServiceResource::new(
                ResourceType::InstancePrivateNic,
                ResourceId::from_uuid(Uuid::from_u128(5))
            )
            .name("n".repeat(256))
        ),
        "resource.name"
    ));
    assert_eq!(ipam.get_ip(REGION, ip2.id).unwrap(), ip2);
    ipam.check_invariants().unwrap();
}
