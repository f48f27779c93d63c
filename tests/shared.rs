//! The shared handle and the read paths beside `get_ip`: `SharedIpam` forwards to the region's
//! engine and shares Project registrations with every region, `into_inner` gives the same engine
//! back; `Ipam::ip` reads what `get_ip` returns, field by field; `reserve` changes no answer.

mod common;

use ipam_engine::{
    BookIpRequest, CreatePrivateNetworkRequest, CustomResource, Error, IpId, Ipam, ListIpsRequest,
    ListPrivateNetworksRequest, MacAddress, OrganizationId, ProjectId, Region, ResourceId,
    ResourceType, Reverse, ServiceResource, SharedIpam, Source, UpdateIpRequest,
};
use uuid::Uuid;

fn project() -> ProjectId {
    ProjectId::from_uuid(Uuid::from_u128(0x5640_0000_0000_4000_8000_0000_0000_0001))
}

fn organization() -> OrganizationId {
    OrganizationId::from_uuid(Uuid::from_u128(77))
}

/// A network in each of two regions, with one IP each.
fn populated(seed: u64) -> (Ipam, Vec<(Region, IpId)>) {
    let mut ipam = common::engine(seed);
    let mut ips = Vec::new();
    for region in [Region::FrPar, Region::NlAms] {
        let pn = ipam
            .create_private_network(region, CreatePrivateNetworkRequest::new(project()))
            .unwrap();
        let request = BookIpRequest::new(project(), Source::PrivateNetworkId(pn.id)).tags(["a"]);
        ips.push((region, ipam.book_ip(region, request).unwrap().id));
    }
    (ipam, ips)
}

#[test]
fn a_registered_project_counts_in_every_region() {
    let (ipam, ips) = populated(1);
    let shared = SharedIpam::new(ipam);
    assert_eq!(
        shared.organization_of(project()).uuid(),
        project().uuid(),
        "unregistered: the organization of the same id"
    );
    shared.register_project(project(), organization());
    assert_eq!(shared.organization_of(project()), organization());
    for (region, id) in ips {
        let request = ListIpsRequest {
            organization_id: Some(organization()),
            ..Default::default()
        };
        let page = shared.list_ips(region, &request).unwrap();
        assert_eq!(page.ips.iter().map(|ip| ip.id).collect::<Vec<_>>(), [id]);
    }
    let ipam = shared.into_inner();
    assert_eq!(ipam.organization_of(project()), organization());
    ipam.check_invariants().unwrap();
}

#[test]
fn into_inner_gives_back_the_same_engine() {
    let (ipam, _) = populated(2);
    let before = serde_json::to_string(&ipam.snapshot()).unwrap();
    let shared = SharedIpam::from(ipam);
    assert_eq!(serde_json::to_string(&shared.snapshot()).unwrap(), before);
    let ipam = shared.into_inner();
    assert_eq!(serde_json::to_string(&ipam.snapshot()).unwrap(), before);
    ipam.check_invariants().unwrap();
}

#[test]
fn read_and_write_lend_the_region_engine_and_errors_pass_through() {
    let (ipam, ips) = populated(3);
    let shared = SharedIpam::new(ipam);
    let (region, id) = ips[0];
    let address = shared.read(region, |ipam| ipam.ip(region, id).unwrap().address());
    assert_eq!(shared.get_ip(region, id).unwrap().address, address);
    let tags = shared.write(region, |ipam| {
        let request = UpdateIpRequest {
            tags: Some(vec!["b".into()]),
            reverses: None,
        };
        ipam.update_ip(region, id, request).unwrap().tags
    });
    assert_eq!(tags, ["b"]);
    // The other region does not hold this IP.
    assert!(matches!(
        shared.get_ip(Region::NlAms, id),
        Err(Error::IpNotFound { .. })
    ));
    shared.check_invariants().unwrap();
}

#[test]
fn the_borrowed_view_reads_what_get_ip_returns() {
    let mut ipam = common::engine(4);
    let pn = ipam
        .create_private_network(Region::FrPar, CreatePrivateNetworkRequest::new(project()))
        .unwrap();
    let source = Source::PrivateNetworkId(pn.id);
    let mac: MacAddress = "02:00:00:00:00:0a".parse().unwrap();
    let custom = CustomResource {
        name: Some("web".into()),
        ..CustomResource::new(mac)
    };
    let plain = ipam
        .book_ip(Region::FrPar, BookIpRequest::new(project(), source.clone()))
        .unwrap();
    let attached = ipam
        .book_ip(
            Region::FrPar,
            BookIpRequest::new(project(), source.clone())
                .tags(["x", "y"])
                .resource(custom),
        )
        .unwrap();
    let server = ResourceId::from_uuid(Uuid::from_u128(9));
    let product = ipam
        .book_ip_for_resource(
            Region::FrPar,
            BookIpRequest::new(project(), source).ipv6(true),
            ServiceResource::new(ResourceType::InstanceServer, server),
        )
        .unwrap();
    let update = UpdateIpRequest {
        tags: None,
        reverses: Some(vec![Reverse::new("a.example.com", None)]),
    };
    ipam.update_ip(Region::FrPar, plain.id, update).unwrap();

    for id in [plain.id, attached.id, product.id] {
        let ip = ipam.get_ip(Region::FrPar, id).unwrap();
        let view = ipam.ip(Region::FrPar, id).unwrap();
        assert_eq!(view.to_ip(), ip);
        assert_eq!(view.id(), ip.id);
        assert_eq!(view.address(), ip.address);
        assert_eq!(view.project_id(), ip.project_id);
        assert_eq!(view.is_ipv6(), ip.is_ipv6);
        assert_eq!(Source::SubnetId(view.subnet_id()), ip.source);
        assert_eq!(view.private_network_id(), pn.id);
        assert_eq!(view.vpc_id(), pn.vpc_id);
        assert_eq!(view.created_at(), ip.created_at);
        assert_eq!(view.updated_at(), ip.updated_at);
        assert_eq!(view.tags().collect::<Vec<_>>(), ip.tags);
        assert_eq!(view.reverses(), ip.reverses);
        assert_eq!(view.region(), ip.region);
        assert_eq!(view.resource(), ip.resource);
        let r = ip.resource.as_ref();
        assert_eq!(view.resource_type(), r.map(|r| r.resource_type));
        assert_eq!(view.resource_id(), r.map(|r| r.id));
        assert_eq!(view.mac_address(), r.and_then(|r| r.mac_address));
        assert_eq!(view.resource_name(), r.and_then(|r| r.name.as_deref()));
    }
    assert_eq!(
        ipam.ip(Region::FrPar, product.id).unwrap().resource_id(),
        Some(server)
    );
    assert_eq!(
        ipam.ip(Region::FrPar, attached.id).unwrap().resource_name(),
        Some("web")
    );
    let missing = IpId::from_uuid(Uuid::from_u128(1));
    assert!(matches!(
        ipam.ip(Region::FrPar, missing),
        Err(Error::IpNotFound { id }) if id == missing
    ));
}

#[test]
fn reserving_room_changes_no_answer() {
    let (mut plain, _) = populated(5);
    let (mut reserved, _) = populated(5);
    reserved.reserve(Region::FrPar, 10_000);
    let shared = SharedIpam::new(reserved);
    shared.reserve(Region::NlAms, 10_000);
    let mut reserved = shared.into_inner();
    let pn = plain
        .list_private_networks(Region::FrPar, &ListPrivateNetworksRequest::default())
        .unwrap()
        .private_networks[0]
        .id;
    for _ in 0..100 {
        let request = BookIpRequest::new(project(), Source::PrivateNetworkId(pn));
        assert_eq!(
            plain.book_ip(Region::FrPar, request.clone()).unwrap(),
            reserved.book_ip(Region::FrPar, request).unwrap()
        );
    }
    assert_eq!(plain.snapshot(), reserved.snapshot());
    reserved.check_invariants().unwrap();
}
