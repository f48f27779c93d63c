//! VPCs and Private Networks: generated and given subnets, the rules given subnets must follow,
//! default VPCs, creation, listing and deletion.

use std::net::IpAddr;

use ipam_engine::{
    ArgumentReason, BookIpRequest, CreatePrivateNetworkRequest, CreateVpcRequest, CustomResource,
    Error, Ipam, ListIpsRequest, ListPrivateNetworksRequest, ListPrivateNetworksResponse,
    ListVpcsRequest, ListVpcsResponse, OrganizationId, PrivateNetwork, PrivateNetworkId, ProjectId,
    Region, Source, Vpc, VpcId,
};
use ipnet::{IpNet, Ipv6Net};
use uuid::Uuid;

const REGION: Region = Region::FrPar;

mod common;
use common::engine;

fn project(n: u128) -> ProjectId {
    ProjectId::from_uuid(Uuid::from_u128(
        0x0000_0000_0000_4000_8000_0000_0000_0000 | n,
    ))
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn nets(ss: &[&str]) -> Vec<IpNet> {
    ss.iter().map(|s| net(s)).collect()
}

fn create(ipam: &mut Ipam, p: ProjectId, subnets: &[&str]) -> Result<PrivateNetwork, Error> {
    ipam.create_private_network(
        REGION,
        CreatePrivateNetworkRequest::new(p).subnets(nets(subnets)),
    )
}

fn blocks(pn: &PrivateNetwork) -> Vec<IpNet> {
    pn.subnets.iter().map(|s| s.subnet).collect()
}

fn all_pns(ipam: &Ipam, region: Region) -> ListPrivateNetworksResponse {
    ipam.list_private_networks(region, &ListPrivateNetworksRequest::default())
        .unwrap()
}

fn all_vpcs(ipam: &Ipam, region: Region) -> ListVpcsResponse {
    ipam.list_vpcs(region, &ListVpcsRequest::default()).unwrap()
}

/// The /48 that holds a generated /64.
fn ula48(n: IpNet) -> Ipv6Net {
    let IpNet::V6(v6) = n else {
        panic!("{n} is not an ipv6 block")
    };
    assert_eq!(v6.prefix_len(), 64, "{n}");
    assert_eq!(
        v6.network().segments()[0] & 0xff00,
        0xfd00,
        "{n} is not a ULA"
    );
    Ipv6Net::new(v6.network(), 48).unwrap().trunc()
}

#[test]
fn a_private_network_without_subnets_gets_a_22_and_a_64() {
    let mut ipam = engine(1);
    let p = project(1);
    let pn = ipam
        .create_private_network(REGION, CreatePrivateNetworkRequest::new(p).name("pn-1"))
        .unwrap();
    assert_eq!(pn.name, "pn-1");
    assert_eq!(pn.project_id, p);
    assert_eq!(pn.organization_id, OrganizationId::from_uuid(p.uuid()));
    assert_eq!(pn.region, REGION);
    assert!(pn.tags.is_empty());
    assert!(pn.dhcp_enabled);
    assert!(!pn.default_route_propagation_enabled);
    assert_eq!(pn.created_at, pn.updated_at);
    assert_eq!(pn.subnets.len(), 2);
    assert_eq!(pn.subnets[0].subnet, net("172.16.0.0/22"));
    assert!(net("172.16.0.0/12").contains(&pn.subnets[0].subnet));
    let ula = ula48(pn.subnets[1].subnet);
    for s in &pn.subnets {
        assert_eq!(s.project_id, p);
        assert_eq!(s.private_network_id, pn.id);
        assert_eq!(s.vpc_id, pn.vpc_id);
        assert_eq!(s.region, REGION);
        assert_eq!(s.created_at, pn.created_at);
        assert_eq!(s.updated_at, s.created_at);
    }
    assert_ne!(pn.subnets[0].id, pn.subnets[1].id);
    assert_eq!(ipam.get_private_network(REGION, pn.id).unwrap(), pn);

    // A second Private Network of the same (default) VPC: the next /22, a /64 of the same /48.
    let pn2 = create(&mut ipam, p, &[]).unwrap();
    assert_eq!(pn2.vpc_id, pn.vpc_id);
    assert_eq!(pn2.subnets[0].subnet, net("172.16.4.0/22"));
    assert_eq!(ula48(pn2.subnets[1].subnet), ula);
    assert_ne!(pn2.subnets[1].subnet, pn.subnets[1].subnet);
    assert!(!pn2.name.is_empty());
    assert_ne!(pn2.name, pn.name);
    let pn3 = create(&mut ipam, p, &[]).unwrap();
    assert_eq!(pn3.subnets[0].subnet, net("172.16.8.0/22"));
    assert_eq!(ula48(pn3.subnets[1].subnet), ula);

    // Another Project has another default VPC: the blocks start over, in another /48.
    let other = create(&mut ipam, project(2), &[]).unwrap();
    assert_ne!(other.vpc_id, pn.vpc_id);
    assert_eq!(other.subnets[0].subnet, net("172.16.0.0/22"));
    assert_ne!(ula48(other.subnets[1].subnet), ula);

    // The generated blocks are bookable.
    let ip = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(p, Source::PrivateNetworkId(pn2.id)),
        )
        .unwrap();
    assert_eq!(ip.address.to_string(), "172.16.4.2/22");
    let ip6 = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(p, Source::PrivateNetworkId(pn2.id)).ipv6(true),
        )
        .unwrap();
    assert!(pn2.subnets[1].subnet.contains(&ip6.address.addr()));
    ipam.check_invariants().unwrap();
}

#[test]
fn generated_blocks_avoid_given_ones() {
    let mut ipam = engine(2);
    let p = project(1);
    let given = create(&mut ipam, p, &["172.16.4.0/22"]).unwrap();
    assert_eq!(given.subnets[0].subnet, net("172.16.4.0/22"));
    assert_eq!(
        create(&mut ipam, p, &[]).unwrap().subnets[0].subnet,
        net("172.16.0.0/22")
    );
    assert_eq!(
        create(&mut ipam, p, &[]).unwrap().subnets[0].subnet,
        net("172.16.8.0/22")
    );
    // A smaller given block blocks the whole /22 around it.
    create(&mut ipam, p, &["172.16.13.0/24"]).unwrap();
    assert_eq!(
        create(&mut ipam, p, &[]).unwrap().subnets[0].subnet,
        net("172.16.16.0/22")
    );
    // A larger one too.
    create(&mut ipam, p, &["172.16.32.0/20"]).unwrap();
    assert_eq!(
        create(&mut ipam, p, &[]).unwrap().subnets[0].subnet,
        net("172.16.20.0/22")
    );
    assert_eq!(
        create(&mut ipam, p, &[]).unwrap().subnets[0].subnet,
        net("172.16.24.0/22")
    );
    assert_eq!(
        create(&mut ipam, p, &[]).unwrap().subnets[0].subnet,
        net("172.16.28.0/22")
    );
    assert_eq!(
        create(&mut ipam, p, &[]).unwrap().subnets[0].subnet,
        net("172.16.48.0/22")
    );
    // Every generated /64 of the VPC is distinct.
    let pns = all_pns(&ipam, REGION).private_networks;
    let mut v6: Vec<IpNet> = pns.iter().map(|pn| pn.subnets[1].subnet).collect();
    let n = v6.len();
    v6.sort_unstable();
    v6.dedup();
    assert_eq!(v6.len(), n);
    ipam.check_invariants().unwrap();
}

#[test]
fn the_ipv4_space_of_a_vpc_runs_out_after_1024_blocks() {
    let mut ipam = engine(3);
    let p = project(1);
    let mut last = None;
    for _ in 0..1024 {
        last = Some(create(&mut ipam, p, &[]).unwrap());
    }
    let last = last.unwrap();
    assert_eq!(last.subnets[0].subnet, net("172.31.252.0/22"));
    assert_eq!(
        create(&mut ipam, p, &[]),
        Err(Error::SubnetsExhausted {
            vpc_id: last.vpc_id,
            is_ipv6: false
        })
    );
    assert_eq!(all_pns(&ipam, REGION).total_count, 1024);
    // Given blocks outside 172.16/12 still fit.
    let pn = create(&mut ipam, p, &["10.0.0.0/24"]).unwrap();
    assert_eq!(pn.subnets.len(), 2);
    // So does everything in another VPC.
    let vpc = ipam.create_vpc(REGION, CreateVpcRequest::new(p)).unwrap();
    let pn = ipam
        .create_private_network(REGION, CreatePrivateNetworkRequest::new(p).vpc(vpc.id))
        .unwrap();
    assert_eq!(pn.subnets[0].subnet, net("172.16.0.0/22"));
    ipam.check_invariants().unwrap();
}

#[test]
fn ipv4_only_requests_still_get_an_ipv6_64() {
    let mut ipam = engine(4);
    let p = project(1);
    let pn = create(&mut ipam, p, &["10.1.0.0/24"]).unwrap();
    assert_eq!(pn.subnets.len(), 2);
    assert_eq!(pn.subnets[0].subnet, net("10.1.0.0/24"));
    let ula = ula48(pn.subnets[1].subnet);

    let pn2 = create(&mut ipam, p, &["10.2.0.0/24", "10.3.0.0/28"]).unwrap();
    assert_eq!(blocks(&pn2)[..2], nets(&["10.2.0.0/24", "10.3.0.0/28"]));
    assert_eq!(pn2.subnets.len(), 3);
    assert_eq!(ula48(pn2.subnets[2].subnet), ula);
    ipam.check_invariants().unwrap();
}

#[test]
fn ipv6_given_requests_get_no_generated_subnet() {
    let mut ipam = engine(5);
    let p = project(1);
    let pn = create(&mut ipam, p, &["fd00:1:2:3::/64"]).unwrap();
    assert_eq!(blocks(&pn), nets(&["fd00:1:2:3::/64"]));
    let pn2 = create(&mut ipam, p, &["10.0.0.0/24", "fd00:1:2:4::/64"]).unwrap();
    assert_eq!(blocks(&pn2), nets(&["10.0.0.0/24", "fd00:1:2:4::/64"]));
    let pn3 = create(&mut ipam, p, &["fd00:1:2:5::/64", "10.0.1.0/24"]).unwrap();
    assert_eq!(blocks(&pn3), nets(&["fd00:1:2:5::/64", "10.0.1.0/24"]));

    // The IPv6-only network books IPv6 addresses; it has no IPv4 to give.
    let ip = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(p, Source::PrivateNetworkId(pn.id)).ipv6(true),
        )
        .unwrap();
    assert!(net("fd00:1:2:3::/64").contains(&ip.address.addr()));
    ipam.check_invariants().unwrap();
}

fn not_allowed(result: Result<PrivateNetwork, Error>) -> (IpNet, &'static str) {
    match result {
        Err(Error::SubnetNotAllowed { subnet, why }) => (subnet, why),
        other => panic!("expected SubnetNotAllowed, got {other:?}"),
    }
}

#[test]
fn given_subnets_are_checked() {
    let mut ipam = engine(6);
    let p = project(1);
    for ok in [
        "10.0.0.0/20",
        "10.1.0.0/28",
        "192.168.0.0/24",
        "100.128.0.0/20",
        "100.63.240.0/20",
        "169.255.0.0/20",
        "169.253.240.0/20",
        "1.0.0.0/24",
        "126.255.255.0/24",
        "128.0.0.0/24",
        "223.255.255.240/28",
        "fd00:1::/64",
        "2001:db8::/64",
    ] {
        let pn = create(&mut ipam, p, &[ok]).unwrap_or_else(|e| panic!("{ok}: {e}"));
        assert_eq!(pn.subnets[0].subnet, net(ok));
    }
    let before = all_pns(&ipam, REGION);
    let cases: &[(&str, &str)] = &[
        ("10.0.0.0/19", "prefix"),
        ("10.0.0.0/16", "prefix"),
        ("10.0.0.0/8", "prefix"),
        ("10.0.0.0/29", "prefix"),
        ("10.0.0.0/32", "prefix"),
        ("0.0.16.0/20", "reserved"),
        ("127.0.0.0/24", "reserved"),
        ("127.255.255.240/28", "reserved"),
        ("100.64.0.0/20", "reserved"),
        ("100.127.240.0/20", "reserved"),
        ("169.254.0.0/20", "reserved"),
        ("169.254.255.0/24", "reserved"),
        ("224.0.0.0/24", "reserved"),
        ("239.255.255.0/24", "reserved"),
        ("172.16.32.1/22", "host bits"),
        ("10.0.0.8/27", "host bits"),
        ("fd00:1::1/64", "host bits"),
        ("fd00::/63", "/64"),
        ("fd00::/65", "/64"),
        ("fd00::/48", "/64"),
        ("ff00::/64", "ff00::/8"),
        ("fe80::/64", "fe80::/10"),
        ("::/64", "::/8"),
    ];
    for &(bad, why) in cases {
        let (subnet, reason) = not_allowed(create(&mut ipam, p, &[bad]));
        assert_eq!(subnet, net(bad), "{bad}");
        assert!(reason.contains(why), "{bad}: {reason}");
        // One bad subnet among good ones fails the whole request.
        let (subnet, _) = not_allowed(create(&mut ipam, p, &["10.200.0.0/24", bad]));
        assert_eq!(subnet, net(bad), "{bad}");
    }
    let e = create(&mut ipam, p, &["127.0.0.0/24"]).unwrap_err();
    assert_eq!(e.error_type(), "invalid_arguments");
    assert_eq!(e.http_status(), 400);

    // At most eight subnets.
    let nine: Vec<String> = (0..9).map(|i| format!("10.99.{i}.0/24")).collect();
    let nine: Vec<&str> = nine.iter().map(String::as_str).collect();
    assert!(matches!(
        create(&mut ipam, p, &nine),
        Err(Error::InvalidArgument { ref argument, reason: ArgumentReason::Constraint, .. })
            if argument == "subnets"
    ));
    let eight = create(&mut ipam, p, &nine[..8]).unwrap();
    assert_eq!(eight.subnets.len(), 9);
    assert_eq!(blocks(&eight)[..8], nets(&nine[..8]));

    // Names and tags are bounded.
    assert!(matches!(
        ipam.create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(p).name("n".repeat(256))
        ),
        Err(Error::InvalidArgument { ref argument, .. }) if argument == "name"
    ));
    let mut tagged = CreatePrivateNetworkRequest::new(p);
    tagged.tags = (0..65).map(|i| format!("t{i}")).collect();
    assert!(matches!(
        ipam.create_private_network(REGION, tagged),
        Err(Error::InvalidArgument { ref argument, .. }) if argument == "tags"
    ));

    // Nothing was created by the failures.
    let after = all_pns(&ipam, REGION);
    assert_eq!(after.total_count, before.total_count + 1);
    assert_eq!(
        after.private_networks[..before.private_networks.len()],
        before.private_networks
    );
    ipam.check_invariants().unwrap();
}

#[test]
fn a_failed_first_creation_creates_no_default_vpc() {
    let mut ipam = engine(7);
    let p = project(1);
    not_allowed(create(&mut ipam, p, &["127.0.0.0/24"]));
    assert_eq!(
        create(&mut ipam, p, &["10.0.0.0/24", "10.0.0.0/25"]),
        Err(Error::SubnetOverlap {
            subnet: net("10.0.0.0/25"),
            existing: net("10.0.0.0/24")
        })
    );
    assert_eq!(all_vpcs(&ipam, REGION).total_count, 0);
    assert_eq!(all_pns(&ipam, REGION).total_count, 0);
    let pn = create(&mut ipam, p, &[]).unwrap();
    let vpcs = all_vpcs(&ipam, REGION);
    assert_eq!(vpcs.total_count, 1);
    assert_eq!(vpcs.vpcs[0].id, pn.vpc_id);
    ipam.check_invariants().unwrap();
}

#[test]
fn overlaps_are_refused_within_a_vpc_only() {
    let mut ipam = engine(8);
    let p = project(1);
    let first = create(&mut ipam, p, &["10.0.0.0/22"]).unwrap();
    let before = all_pns(&ipam, REGION);

    let cases: &[(&[&str], &str, &str)] = &[
        (&["10.0.2.0/24"], "10.0.2.0/24", "10.0.0.0/22"),
        (&["10.0.0.0/20"], "10.0.0.0/20", "10.0.0.0/22"),
        (&["10.0.0.0/22"], "10.0.0.0/22", "10.0.0.0/22"),
        (&["10.0.3.240/28"], "10.0.3.240/28", "10.0.0.0/22"),
        (
            &["10.5.0.0/24", "10.0.1.0/24"],
            "10.0.1.0/24",
            "10.0.0.0/22",
        ),
        // Within one request.
        (
            &["10.1.0.0/24", "10.1.0.0/25"],
            "10.1.0.0/25",
            "10.1.0.0/24",
        ),
        (
            &["10.1.0.128/25", "10.1.0.0/24"],
            "10.1.0.0/24",
            "10.1.0.128/25",
        ),
    ];
    for &(given, subnet, existing) in cases {
        assert_eq!(
            create(&mut ipam, p, given),
            Err(Error::SubnetOverlap {
                subnet: net(subnet),
                existing: net(existing)
            }),
            "{given:?}"
        );
    }
    // IPv6: the generated /64 of the first network, given again.
    let v6 = first.subnets[1].subnet;
    assert_eq!(
        create(&mut ipam, p, &[&v6.to_string()]),
        Err(Error::SubnetOverlap {
            subnet: v6,
            existing: v6
        })
    );
    create(&mut ipam, p, &["fd00:1::/64"]).unwrap();
    assert_eq!(
        create(&mut ipam, p, &["10.9.0.0/24", "fd00:1::/64"]),
        Err(Error::SubnetOverlap {
            subnet: net("fd00:1::/64"),
            existing: net("fd00:1::/64")
        })
    );
    // A given block that overlaps a generated one.
    let auto = create(&mut ipam, p, &[]).unwrap();
    assert_eq!(auto.subnets[0].subnet, net("172.16.0.0/22"));
    assert_eq!(
        create(&mut ipam, p, &["172.16.1.0/24"]),
        Err(Error::SubnetOverlap {
            subnet: net("172.16.1.0/24"),
            existing: net("172.16.0.0/22")
        })
    );
    assert_eq!(all_pns(&ipam, REGION).total_count, before.total_count + 2);

    // The same blocks are fine in another VPC of the Project, or another Project's.
    let vpc = ipam.create_vpc(REGION, CreateVpcRequest::new(p)).unwrap();
    let in_vpc = ipam
        .create_private_network(
            REGION,
            CreatePrivateNetworkRequest::new(p)
                .vpc(vpc.id)
                .subnets(nets(&["10.0.0.0/22", "172.16.1.0/24", "fd00:1::/64"])),
        )
        .unwrap();
    assert_eq!(in_vpc.vpc_id, vpc.id);
    assert_eq!(
        blocks(&in_vpc),
        nets(&["10.0.0.0/22", "172.16.1.0/24", "fd00:1::/64"])
    );
    let theirs = create(&mut ipam, project(2), &["10.0.2.0/24"]).unwrap();
    assert_ne!(theirs.vpc_id, first.vpc_id);

    // Deleting a network frees its blocks.
    ipam.delete_private_network(REGION, first.id).unwrap();
    let again = create(&mut ipam, p, &["10.0.2.0/24", &v6.to_string()]).unwrap();
    assert_eq!(blocks(&again), vec![net("10.0.2.0/24"), v6]);
    ipam.check_invariants().unwrap();
}

#[test]
fn default_vpcs() {
    let mut ipam = engine(9);
    let (p1, p2) = (project(1), project(2));
    assert_eq!(all_vpcs(&ipam, REGION).total_count, 0);

    let pn = create(&mut ipam, p1, &[]).unwrap();
    let vpc = ipam.get_vpc(REGION, pn.vpc_id).unwrap();
    assert!(vpc.is_default);
    assert_eq!(vpc.project_id, p1);
    assert_eq!(vpc.organization_id, OrganizationId::from_uuid(p1.uuid()));
    assert_eq!(vpc.region, REGION);
    assert_eq!(vpc.private_network_count, 1);
    assert!(!vpc.name.is_empty());
    assert_eq!(ipam.default_vpc(REGION, p1).id, vpc.id);

    // Reused for the same Project and region.
    let pn2 = create(&mut ipam, p1, &[]).unwrap();
    assert_eq!(pn2.vpc_id, vpc.id);
    assert_eq!(
        ipam.get_vpc(REGION, vpc.id).unwrap().private_network_count,
        2
    );

    // Distinct per Project.
    let other = create(&mut ipam, p2, &[]).unwrap();
    assert_ne!(other.vpc_id, vpc.id);
    let other_vpc = ipam.get_vpc(REGION, other.vpc_id).unwrap();
    assert!(other_vpc.is_default);
    assert_eq!(other_vpc.project_id, p2);

    // Distinct per region.
    let mil = ipam
        .create_private_network(Region::ItMil, CreatePrivateNetworkRequest::new(p1))
        .unwrap();
    assert_ne!(mil.vpc_id, vpc.id);
    assert_eq!(mil.region, Region::ItMil);
    let mil_vpc = ipam.get_vpc(Region::ItMil, mil.vpc_id).unwrap();
    assert!(mil_vpc.is_default);
    assert_eq!(mil_vpc.region, Region::ItMil);
    assert_eq!(
        ipam.get_vpc(REGION, mil.vpc_id),
        Err(Error::VpcNotFound { id: mil.vpc_id })
    );
    assert_eq!(
        ipam.get_private_network(REGION, mil.id),
        Err(Error::PrivateNetworkNotFound { id: mil.id })
    );
    assert_eq!(ipam.default_vpc(Region::ItMil, p1).id, mil.vpc_id);

    let defaults = ipam
        .list_vpcs(
            REGION,
            &ListVpcsRequest {
                is_default: Some(true),
                ..ListVpcsRequest::default()
            },
        )
        .unwrap();
    let ids: Vec<VpcId> = defaults.vpcs.iter().map(|v| v.id).collect();
    assert_eq!(ids, [vpc.id, other.vpc_id]);
    assert_eq!(all_vpcs(&ipam, Region::ItMil).total_count, 1);
    assert_eq!(all_vpcs(&ipam, Region::NlAms).total_count, 0);

    // default_vpc creates it on first use, empty.
    let fresh = ipam.default_vpc(Region::NlAms, p2);
    assert!(fresh.is_default);
    assert_eq!(fresh.private_network_count, 0);
    assert_eq!(ipam.default_vpc(Region::NlAms, p2), fresh);
    let pn = create_in(&mut ipam, Region::NlAms, p2);
    assert_eq!(pn.vpc_id, fresh.id);

    // An explicitly created VPC is never the default.
    let explicit = ipam.create_vpc(REGION, CreateVpcRequest::new(p1)).unwrap();
    assert!(!explicit.is_default);
    assert_eq!(create(&mut ipam, p1, &[]).unwrap().vpc_id, vpc.id);
    ipam.check_invariants().unwrap();
}

fn create_in(ipam: &mut Ipam, region: Region, p: ProjectId) -> PrivateNetwork {
    ipam.create_private_network(region, CreatePrivateNetworkRequest::new(p))
        .unwrap()
}

fn vpc_page(ipam: &Ipam, request: &ListVpcsRequest) -> (u64, Vec<VpcId>) {
    let resp = ipam.list_vpcs(REGION, request).unwrap();
    (resp.total_count, resp.vpcs.iter().map(|v| v.id).collect())
}

#[test]
fn vpc_create_get_list_delete() {
    let mut ipam = engine(10);
    let (p1, p2) = (project(1), project(2));
    let mut request = CreateVpcRequest::new(p1);
    request.name = Some("vpc-a".into());
    request.tags = vec!["t1".into(), "t2".into()];
    request.enable_routing = true;
    let a = ipam.create_vpc(REGION, request).unwrap();
    assert_eq!(a.name, "vpc-a");
    assert_eq!(a.tags, ["t1", "t2"]);
    assert!(a.routing_enabled);
    assert!(!a.is_default);
    assert_eq!(a.private_network_count, 0);
    assert_eq!(a.project_id, p1);
    assert_eq!(a.organization_id, OrganizationId::from_uuid(p1.uuid()));
    assert_eq!(a.region, REGION);
    assert_eq!(a.created_at, a.updated_at);
    assert_eq!(ipam.get_vpc(REGION, a.id).unwrap(), a);

    let b = ipam.create_vpc(REGION, CreateVpcRequest::new(p1)).unwrap();
    assert!(!b.name.is_empty());
    assert!(!b.routing_enabled);
    assert!(b.created_at > a.created_at);
    let c = ipam.create_vpc(REGION, CreateVpcRequest::new(p2)).unwrap();

    assert_eq!(
        vpc_page(&ipam, &ListVpcsRequest::default()),
        (3, vec![a.id, b.id, c.id])
    );
    assert_eq!(
        vpc_page(
            &ipam,
            &ListVpcsRequest {
                project_id: Some(p1),
                ..ListVpcsRequest::default()
            }
        ),
        (2, vec![a.id, b.id])
    );
    assert_eq!(
        vpc_page(
            &ipam,
            &ListVpcsRequest {
                project_id: Some(p2),
                is_default: Some(false),
                ..ListVpcsRequest::default()
            }
        ),
        (1, vec![c.id])
    );
    assert_eq!(
        vpc_page(
            &ipam,
            &ListVpcsRequest {
                is_default: Some(true),
                ..ListVpcsRequest::default()
            }
        ),
        (0, vec![])
    );
    assert_eq!(
        vpc_page(
            &ipam,
            &ListVpcsRequest {
                page: 2,
                page_size: 2,
                ..ListVpcsRequest::default()
            }
        ),
        (3, vec![c.id])
    );
    assert_eq!(
        vpc_page(
            &ipam,
            &ListVpcsRequest {
                page: 3,
                page_size: 2,
                ..ListVpcsRequest::default()
            }
        ),
        (3, vec![])
    );
    for (p, size, arg) in [(0, 50, "page"), (1, 0, "page_size"), (1, 1001, "page_size")] {
        assert!(matches!(
            ipam.list_vpcs(REGION, &ListVpcsRequest { page: p, page_size: size, ..ListVpcsRequest::default() }),
            Err(Error::InvalidArgument { ref argument, reason: ArgumentReason::Constraint, .. })
                if argument == arg
        ));
    }
    let listed: Vec<Vpc> = all_vpcs(&ipam, REGION).vpcs;
    assert_eq!(listed[0], a);

    // A VPC with a Private Network cannot be deleted.
    let pn = ipam
        .create_private_network(REGION, CreatePrivateNetworkRequest::new(p1).vpc(a.id))
        .unwrap();
    assert_eq!(pn.vpc_id, a.id);
    assert_eq!(ipam.get_vpc(REGION, a.id).unwrap().private_network_count, 1);
    let err = ipam.delete_vpc(REGION, a.id).unwrap_err();
    assert_eq!(
        err,
        Error::VpcNotEmpty {
            id: a.id,
            private_networks: 1
        }
    );
    assert_eq!(err.error_type(), "precondition_failed");
    assert_eq!(
        err.to_api_error().precondition.as_deref(),
        Some("resource_still_in_use")
    );
    assert_eq!(ipam.get_vpc(REGION, a.id).unwrap().private_network_count, 1);
    ipam.delete_private_network(REGION, pn.id).unwrap();
    assert_eq!(ipam.get_vpc(REGION, a.id).unwrap().private_network_count, 0);
    ipam.delete_vpc(REGION, a.id).unwrap();
    assert_eq!(
        ipam.get_vpc(REGION, a.id),
        Err(Error::VpcNotFound { id: a.id })
    );
    assert_eq!(
        ipam.delete_vpc(REGION, a.id),
        Err(Error::VpcNotFound { id: a.id })
    );
    assert_eq!(
        ipam.create_private_network(REGION, CreatePrivateNetworkRequest::new(p1).vpc(a.id)),
        Err(Error::VpcNotFound { id: a.id })
    );
    assert_eq!(
        vpc_page(&ipam, &ListVpcsRequest::default()),
        (2, vec![b.id, c.id])
    );
    // Deleting in the wrong region: not found.
    assert_eq!(
        ipam.delete_vpc(Region::PlWaw, b.id),
        Err(Error::VpcNotFound { id: b.id })
    );

    // A deleted default VPC is replaced by a new one on next use.
    let pn = create(&mut ipam, p2, &[]).unwrap();
    let old_default = pn.vpc_id;
    ipam.delete_private_network(REGION, pn.id).unwrap();
    ipam.delete_vpc(REGION, old_default).unwrap();
    let pn = create(&mut ipam, p2, &[]).unwrap();
    assert_ne!(pn.vpc_id, old_default);
    assert!(ipam.get_vpc(REGION, pn.vpc_id).unwrap().is_default);
    ipam.check_invariants().unwrap();
}

#[test]
fn a_private_network_with_ips_cannot_be_deleted() {
    let mut ipam = engine(11);
    let p = project(1);
    let pn = create(&mut ipam, p, &[]).unwrap();
    let book = |ipam: &mut Ipam, v6: bool| {
        ipam.book_ip(
            REGION,
            BookIpRequest::new(p, Source::PrivateNetworkId(pn.id)).ipv6(v6),
        )
        .unwrap()
    };
    let v4 = book(&mut ipam, false);
    let v6 = book(&mut ipam, true);
    let mac = "02:00:00:00:00:01".parse().unwrap();
    ipam.attach_ip(REGION, v4.id, CustomResource::new(mac))
        .unwrap();

    let err = ipam.delete_private_network(REGION, pn.id).unwrap_err();
    assert_eq!(
        err,
        Error::PrivateNetworkNotEmpty {
            id: pn.id,
            booked: 2
        }
    );
    let api = err.to_api_error();
    assert_eq!(api.status, 412);
    assert_eq!(api.error_type, "precondition_failed");
    assert_eq!(api.precondition.as_deref(), Some("resource_still_in_use"));
    assert_eq!(
        api.help_message.as_deref(),
        Some("Private Network must be empty to be deleted")
    );
    assert_eq!(ipam.get_private_network(REGION, pn.id).unwrap(), pn);

    ipam.release_ip(REGION, v6.id).unwrap();
    assert_eq!(
        ipam.delete_private_network(REGION, pn.id),
        Err(Error::PrivateNetworkNotEmpty {
            id: pn.id,
            booked: 1
        })
    );
    ipam.detach_ip(REGION, v4.id, CustomResource::new(mac))
        .unwrap();
    ipam.release_ip(REGION, v4.id).unwrap();
    ipam.delete_private_network(REGION, pn.id).unwrap();

    assert_eq!(
        ipam.get_private_network(REGION, pn.id),
        Err(Error::PrivateNetworkNotFound { id: pn.id })
    );
    assert_eq!(
        ipam.delete_private_network(REGION, pn.id),
        Err(Error::PrivateNetworkNotFound { id: pn.id })
    );
    assert_eq!(
        ipam.book_ip(
            REGION,
            BookIpRequest::new(p, Source::PrivateNetworkId(pn.id))
        ),
        Err(Error::PrivateNetworkNotFound { id: pn.id })
    );
    let subnet = pn.subnets[0].id;
    assert_eq!(
        ipam.book_ip(REGION, BookIpRequest::new(p, Source::SubnetId(subnet))),
        Err(Error::SubnetNotFound { id: subnet })
    );
    let listed = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                private_network_id: Some(pn.id),
                ..ListIpsRequest::default()
            },
        )
        .unwrap();
    assert_eq!(listed.total_count, 0);
    assert_eq!(
        ipam.get_vpc(REGION, pn.vpc_id)
            .unwrap()
            .private_network_count,
        0
    );
    assert_eq!(all_pns(&ipam, REGION).total_count, 0);
    // Deleting in the wrong region: not found.
    let pn2 = create(&mut ipam, p, &[]).unwrap();
    assert_eq!(
        ipam.delete_private_network(Region::ItMil, pn2.id),
        Err(Error::PrivateNetworkNotFound { id: pn2.id })
    );
    // The freed /22 is handed out again.
    assert_eq!(pn2.subnets[0].subnet, pn.subnets[0].subnet);
    let unknown = PrivateNetworkId::from_uuid(Uuid::from_u128(5));
    assert_eq!(
        ipam.delete_private_network(REGION, unknown),
        Err(Error::PrivateNetworkNotFound { id: unknown })
    );
    ipam.check_invariants().unwrap();
}

#[test]
fn a_private_network_must_be_in_a_vpc_of_its_project() {
    let mut ipam = engine(12);
    let (owner, other) = (project(1), project(2));
    let vpc = ipam
        .create_vpc(REGION, CreateVpcRequest::new(owner))
        .unwrap();
    let default = ipam.default_vpc(REGION, owner);
    for id in [vpc.id, default.id] {
        assert_eq!(
            ipam.create_private_network(REGION, CreatePrivateNetworkRequest::new(other).vpc(id)),
            Err(Error::ProjectMismatch {
                expected: owner,
                found: other
            })
        );
    }
    let unknown = VpcId::from_uuid(Uuid::from_u128(7));
    assert_eq!(
        ipam.create_private_network(REGION, CreatePrivateNetworkRequest::new(owner).vpc(unknown)),
        Err(Error::VpcNotFound { id: unknown })
    );
    // A VPC of another region is unknown here.
    assert_eq!(
        ipam.create_private_network(
            Region::NlAms,
            CreatePrivateNetworkRequest::new(owner).vpc(vpc.id)
        ),
        Err(Error::VpcNotFound { id: vpc.id })
    );
    assert_eq!(all_pns(&ipam, REGION).total_count, 0);
    // The failures created no default VPC for the other Project.
    assert_eq!(
        ipam.list_vpcs(
            REGION,
            &ListVpcsRequest {
                project_id: Some(other),
                ..ListVpcsRequest::default()
            }
        )
        .unwrap()
        .total_count,
        0
    );
    assert_eq!(all_vpcs(&ipam, Region::NlAms).total_count, 0);
    ipam.check_invariants().unwrap();
}

#[test]
fn list_private_networks_filters_and_pages() {
    let mut ipam = engine(13);
    let (p1, p2) = (project(1), project(2));
    let pn1 = create(&mut ipam, p1, &[]).unwrap();
    let pn2 = create(&mut ipam, p1, &[]).unwrap();
    let v2 = ipam.create_vpc(REGION, CreateVpcRequest::new(p1)).unwrap();
    let pn3 = ipam
        .create_private_network(REGION, CreatePrivateNetworkRequest::new(p1).vpc(v2.id))
        .unwrap();
    let pn4 = create(&mut ipam, p2, &[]).unwrap();
    create_in(&mut ipam, Region::ItMil, p1);

    let page = |ipam: &Ipam, request: ListPrivateNetworksRequest| {
        let resp = ipam.list_private_networks(REGION, &request).unwrap();
        (
            resp.total_count,
            resp.private_networks
                .iter()
                .map(|p| p.id)
                .collect::<Vec<PrivateNetworkId>>(),
        )
    };
    let all = all_pns(&ipam, REGION);
    assert_eq!(all.total_count, 4);
    assert_eq!(
        all.private_networks,
        [pn1.clone(), pn2.clone(), pn3.clone(), pn4.clone()]
    );
    assert_eq!(
        page(
            &ipam,
            ListPrivateNetworksRequest {
                project_id: Some(p1),
                ..ListPrivateNetworksRequest::default()
            }
        ),
        (3, vec![pn1.id, pn2.id, pn3.id])
    );
    assert_eq!(
        page(
            &ipam,
            ListPrivateNetworksRequest {
                vpc_id: Some(pn1.vpc_id),
                ..ListPrivateNetworksRequest::default()
            }
        ),
        (2, vec![pn1.id, pn2.id])
    );
    assert_eq!(
        page(
            &ipam,
            ListPrivateNetworksRequest {
                vpc_id: Some(v2.id),
                ..ListPrivateNetworksRequest::default()
            }
        ),
        (1, vec![pn3.id])
    );
    assert_eq!(
        page(
            &ipam,
            ListPrivateNetworksRequest {
                vpc_id: Some(v2.id),
                project_id: Some(p2),
                ..ListPrivateNetworksRequest::default()
            }
        ),
        (0, vec![])
    );
    let paged = |ipam: &Ipam, n: u32| {
        page(
            ipam,
            ListPrivateNetworksRequest {
                page: n,
                page_size: 3,
                ..ListPrivateNetworksRequest::default()
            },
        )
    };
    assert_eq!(paged(&ipam, 1), (4, vec![pn1.id, pn2.id, pn3.id]));
    assert_eq!(paged(&ipam, 2), (4, vec![pn4.id]));
    assert_eq!(paged(&ipam, 3), (4, vec![]));
    for (p, size, arg) in [(0, 50, "page"), (1, 0, "page_size"), (1, 1001, "page_size")] {
        let request = ListPrivateNetworksRequest {
            page: p,
            page_size: size,
            ..ListPrivateNetworksRequest::default()
        };
        assert!(matches!(
            ipam.list_private_networks(REGION, &request),
            Err(Error::InvalidArgument { ref argument, reason: ArgumentReason::Constraint, .. })
                if argument == arg
        ));
    }
    assert_eq!(all_pns(&ipam, Region::ItMil).total_count, 1);
    assert_eq!(all_pns(&ipam, Region::PlWaw).total_count, 0);

    ipam.delete_private_network(REGION, pn2.id).unwrap();
    assert_eq!(
        page(&ipam, ListPrivateNetworksRequest::default()),
        (3, vec![pn1.id, pn3.id, pn4.id])
    );
    ipam.check_invariants().unwrap();
}

#[test]
fn organization_ids_follow_register_project() {
    let mut ipam = engine(14);
    let p = project(1);
    let pn = create(&mut ipam, p, &[]).unwrap();
    let own = OrganizationId::from_uuid(p.uuid());
    assert_eq!(pn.organization_id, own);
    assert_eq!(ipam.organization_of(p), own);
    assert_eq!(
        ipam.get_vpc(REGION, pn.vpc_id).unwrap().organization_id,
        own
    );

    let org = OrganizationId::from_uuid(Uuid::from_u128(0x0a));
    ipam.register_project(p, org);
    assert_eq!(ipam.organization_of(p), org);
    assert_eq!(
        ipam.get_private_network(REGION, pn.id)
            .unwrap()
            .organization_id,
        org
    );
    assert_eq!(
        ipam.get_vpc(REGION, pn.vpc_id).unwrap().organization_id,
        org
    );
    assert_eq!(
        all_pns(&ipam, REGION).private_networks[0].organization_id,
        org
    );
    assert_eq!(all_vpcs(&ipam, REGION).vpcs[0].organization_id, org);
    let later = create(&mut ipam, p, &[]).unwrap();
    assert_eq!(later.organization_id, org);
    let vpc = ipam.create_vpc(REGION, CreateVpcRequest::new(p)).unwrap();
    assert_eq!(vpc.organization_id, org);
    // Other Projects are unaffected.
    let q = project(2);
    let theirs = create(&mut ipam, q, &[]).unwrap();
    assert_eq!(theirs.organization_id, OrganizationId::from_uuid(q.uuid()));
    // Registering again moves the Project.
    let org2 = OrganizationId::from_uuid(Uuid::from_u128(0x0b));
    ipam.register_project(p, org2);
    assert_eq!(
        ipam.get_private_network(REGION, later.id)
            .unwrap()
            .organization_id,
        org2
    );
    ipam.check_invariants().unwrap();
}

#[test]
fn booking_uses_the_given_subnets() {
    let mut ipam = engine(15);
    let p = project(1);
    let pn = create(&mut ipam, p, &["192.168.10.0/28"]).unwrap();
    let ip = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(p, Source::PrivateNetworkId(pn.id)),
        )
        .unwrap();
    assert_eq!(ip.address.to_string(), "192.168.10.2/28");
    let top: IpAddr = "192.168.10.13".parse().unwrap();
    let ip = ipam
        .book_ip(
            REGION,
            BookIpRequest::new(p, Source::PrivateNetworkId(pn.id)).address(top),
        )
        .unwrap();
    assert_eq!(ip.address.to_string(), "192.168.10.13/28");
    ipam.check_invariants().unwrap();
}
