//! Booking and releasing IPs: automatic and specific addresses in both families, the sources
//! that can and cannot book, product resources, tag limits, and long book/release runs checked
//! against a naive model.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};

use ipam_engine::{
    ArgumentReason, BookIpRequest, CreatePrivateNetworkRequest, CreateVpcRequest, CustomResource,
    Error, Ip, IpId, Ipam, ListIpsRequest, MacAddress, OrderBy, PrivateNetwork, PrivateNetworkId,
    ProjectId, RandomSource, Region, ResourceId, ResourceRef, ResourceType, SeededRandom,
    ServiceResource, Source, SubnetId,
};
use ipnet::IpNet;
use uuid::Uuid;

const REGION: Region = Region::FrPar;

mod common;
use common::engine;

fn project(n: u128) -> ProjectId {
    ProjectId::from_uuid(Uuid::from_u128(
        0x5640_0000_0000_4000_8000_0000_0000_0000 | n,
    ))
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn addr(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn mac(s: &str) -> MacAddress {
    s.parse().unwrap()
}

fn pn_with(ipam: &mut Ipam, project: ProjectId, subnets: &[&str]) -> PrivateNetwork {
    ipam.create_private_network(
        REGION,
        CreatePrivateNetworkRequest::new(project).subnets(subnets.iter().map(|s| net(s))),
    )
    .unwrap()
}

fn by_pn(project: ProjectId, pn: &PrivateNetwork) -> BookIpRequest {
    BookIpRequest::new(project, Source::PrivateNetworkId(pn.id))
}

fn host(ip: &Ip) -> IpAddr {
    ip.address.addr()
}

fn all_ips(ipam: &Ipam, region: Region) -> Vec<Ip> {
    let mut out = Vec::new();
    let mut page = 1;
    loop {
        let resp = ipam
            .list_ips(
                region,
                &ListIpsRequest {
                    order_by: OrderBy::CreatedAtAsc,
                    page,
                    page_size: 1000,
                    ..ListIpsRequest::default()
                },
            )
            .unwrap();
        if resp.ips.is_empty() {
            assert_eq!(resp.total_count, out.len() as u64);
            return out;
        }
        out.extend(resp.ips);
        page += 1;
    }
}

#[test]
fn auto_ipv4_hands_out_the_lowest_free_address() {
    let mut ipam = engine(1);
    let p = project(1);
    let pn = pn_with(&mut ipam, p, &["172.16.32.0/22"]);
    let v4_subnet = pn.subnets[0].id;

    let ips: Vec<Ip> = (0..5)
        .map(|_| ipam.book_ip(REGION, by_pn(p, &pn)).unwrap())
        .collect();
    let got: Vec<String> = ips.iter().map(|ip| ip.address.to_string()).collect();
    assert_eq!(
        got,
        [
            "172.16.32.2/22",
            "172.16.32.3/22",
            "172.16.32.4/22",
            "172.16.32.5/22",
            "172.16.32.6/22"
        ]
    );
    let first = &ips[0];
    assert_eq!(first.project_id, p);
    assert!(!first.is_ipv6);
    assert_eq!(first.created_at, first.updated_at);
    assert_eq!(first.source, Source::SubnetId(v4_subnet));
    assert_eq!(first.resource, None);
    assert!(first.tags.is_empty());
    assert!(first.reverses.is_empty());
    assert_eq!(first.region, REGION);
    assert_eq!(first.zone, None);
    assert_eq!(ipam.get_ip(REGION, first.id).unwrap(), *first);
    // Creation times strictly increase with the stepping clock.
    assert!(ips.windows(2).all(|w| w[0].created_at < w[1].created_at));

    // Free .5 then .3: the lowest freed address comes back first, then the next freed one.
    ipam.release_ip(REGION, ips[3].id).unwrap();
    ipam.release_ip(REGION, ips[1].id).unwrap();
    let again: Vec<IpAddr> = (0..3)
        .map(|_| host(&ipam.book_ip(REGION, by_pn(p, &pn)).unwrap()))
        .collect();
    assert_eq!(
        again,
        [
            addr("172.16.32.3"),
            addr("172.16.32.5"),
            addr("172.16.32.7")
        ]
    );
    // Releasing the highest address and booking again gives it back too.
    let top = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                order_by: OrderBy::IpAddressDesc,
                page_size: 1,
                ..ListIpsRequest::default()
            },
        )
        .unwrap()
        .ips
        .remove(0);
    assert_eq!(host(&top), addr("172.16.32.7"));
    ipam.release_ip(REGION, top.id).unwrap();
    let ip = ipam.book_ip(REGION, by_pn(p, &pn)).unwrap();
    assert_eq!(host(&ip), addr("172.16.32.7"));
    assert_ne!(ip.id, top.id);
    assert_eq!(ipam.ip_count(REGION), 6);
    ipam.check_invariants().unwrap();
}

#[test]
fn a_22_has_exactly_1020_bookable_addresses() {
    let mut ipam = engine(2);
    let p = project(2);
    let pn = ipam
        .create_private_network(REGION, CreatePrivateNetworkRequest::new(p))
        .unwrap();
    assert_eq!(pn.subnets[0].subnet, net("172.16.0.0/22"));

    let mut booked = Vec::new();
    let err = loop {
        match ipam.book_ip(REGION, by_pn(p, &pn)) {
            Ok(ip) => booked.push(ip),
            Err(e) => break e,
        }
        assert!(booked.len() <= 1020, "more than 1020 addresses in a /22");
    };
    assert_eq!(
        err,
        Error::AddressesExhausted {
            source_id: pn.id.uuid(),
            is_ipv6: false
        }
    );
    assert_eq!(booked.len(), 1020);
    let base = u32::from(Ipv4Addr::new(172, 16, 0, 0));
    for (i, ip) in booked.iter().enumerate() {
        let expected = Ipv4Addr::from(base + 2 + u32::try_from(i).unwrap());
        assert_eq!(host(ip), IpAddr::V4(expected));
        assert_eq!(ip.address.prefix_len(), 22);
    }
    assert_eq!(host(&booked[1019]), addr("172.16.3.253"));
    // The failed booking changed nothing; the same error on the subnet source names the subnet.
    assert_eq!(ipam.ip_count(REGION), 1020);
    let by_subnet = BookIpRequest::new(p, Source::SubnetId(pn.subnets[0].id));
    assert_eq!(
        ipam.book_ip(REGION, by_subnet.clone()),
        Err(Error::AddressesExhausted {
            source_id: pn.subnets[0].id.uuid(),
            is_ipv6: false
        })
    );

    // Release one in the middle: the next booking gets exactly that one back.
    let freed = booked[400].clone();
    assert_eq!(host(&freed), addr("172.16.1.146"));
    ipam.release_ip(REGION, freed.id).unwrap();
    let back = ipam.book_ip(REGION, by_subnet).unwrap();
    assert_eq!(back.address, freed.address);
    assert_eq!(
        ipam.book_ip(REGION, by_pn(p, &pn)),
        Err(Error::AddressesExhausted {
            source_id: pn.id.uuid(),
            is_ipv6: false
        })
    );
    // IPv6 is unaffected by a full IPv4 subnet.
    let v6 = ipam.book_ip(REGION, by_pn(p, &pn).ipv6(true)).unwrap();
    assert!(v6.is_ipv6);
    assert_eq!(ipam.ip_count(REGION), 1021);
    ipam.check_invariants().unwrap();
}

#[test]
fn specific_ipv4_addresses() {
    let mut ipam = engine(3);
    let p = project(3);
    let pn = pn_with(&mut ipam, p, &["172.16.32.0/22", "fd12:3456:789a:1::/64"]);
    let v4 = pn.subnets[0].clone();
    let v6 = pn.subnets[1].clone();
    assert_eq!(v4.subnet, net("172.16.32.0/22"));

    let ip = ipam
        .book_ip(REGION, by_pn(p, &pn).address(addr("172.16.32.77")))
        .unwrap();
    assert_eq!(ip.address.to_string(), "172.16.32.77/22");
    assert_eq!(ip.source, Source::SubnetId(v4.id));
    assert!(!ip.is_ipv6);

    // Already booked: the error names the holder.
    assert_eq!(
        ipam.book_ip(REGION, by_pn(p, &pn).address(addr("172.16.32.77"))),
        Err(Error::AddressInUse {
            address: addr("172.16.32.77"),
            ip_id: ip.id
        })
    );
    // The first two and last two addresses of the block are never handed out.
    for a in [
        "172.16.32.0",
        "172.16.32.1",
        "172.16.35.254",
        "172.16.35.255",
    ] {
        assert_eq!(
            ipam.book_ip(REGION, by_pn(p, &pn).address(addr(a))),
            Err(Error::AddressUnavailable {
                address: addr(a),
                subnet: v4.subnet
            }),
            "{a}"
        );
    }
    // Just inside the bookable range.
    let low = ipam
        .book_ip(REGION, by_pn(p, &pn).address(addr("172.16.35.253")))
        .unwrap();
    assert_eq!(low.address.to_string(), "172.16.35.253/22");
    // Outside the subnet.
    for a in ["172.16.36.2", "172.16.31.255", "10.0.0.5"] {
        assert_eq!(
            ipam.book_ip(REGION, by_pn(p, &pn).address(addr(a))),
            Err(Error::AddressOutsideSubnet {
                address: addr(a),
                subnet: v4.subnet
            }),
            "{a}"
        );
    }
    // An IPv6 address on an IPv4 booking.
    let mut wrong = by_pn(p, &pn);
    wrong.address = Some(addr("fd12:3456:789a:1::5"));
    assert!(!wrong.is_ipv6);
    assert_eq!(
        ipam.book_ip(REGION, wrong),
        Err(Error::AddressFamilyMismatch {
            address: addr("fd12:3456:789a:1::5"),
            is_ipv6: false
        })
    );
    let mut wrong = by_pn(p, &pn).ipv6(true);
    wrong.address = Some(addr("172.16.32.9"));
    assert_eq!(
        ipam.book_ip(REGION, wrong),
        Err(Error::AddressFamilyMismatch {
            address: addr("172.16.32.9"),
            is_ipv6: true
        })
    );

    // With a subnet_id source.
    let by_subnet = |s: SubnetId| BookIpRequest::new(p, Source::SubnetId(s));
    let ip2 = ipam
        .book_ip(REGION, by_subnet(v4.id).address(addr("172.16.33.1")))
        .unwrap();
    assert_eq!(ip2.address.to_string(), "172.16.33.1/22");
    assert_eq!(ip2.source, Source::SubnetId(v4.id));
    assert_eq!(
        ipam.book_ip(REGION, by_subnet(v4.id).address(addr("172.16.33.1"))),
        Err(Error::AddressInUse {
            address: addr("172.16.33.1"),
            ip_id: ip2.id
        })
    );
    assert_eq!(
        ipam.book_ip(REGION, by_subnet(v4.id).address(addr("172.16.40.1"))),
        Err(Error::AddressOutsideSubnet {
            address: addr("172.16.40.1"),
            subnet: v4.subnet
        })
    );
    assert_eq!(
        ipam.book_ip(REGION, by_subnet(v4.id).address(addr("172.16.32.1"))),
        Err(Error::AddressUnavailable {
            address: addr("172.16.32.1"),
            subnet: v4.subnet
        })
    );
    // The subnet's family must match the request's.
    assert_eq!(
        ipam.book_ip(REGION, by_subnet(v6.id)),
        Err(Error::SubnetFamilyMismatch {
            subnet: v6.subnet,
            is_ipv6: false
        })
    );
    assert_eq!(
        ipam.book_ip(REGION, by_subnet(v4.id).ipv6(true)),
        Err(Error::SubnetFamilyMismatch {
            subnet: v4.subnet,
            is_ipv6: true
        })
    );
    assert_eq!(
        ipam.book_ip(
            REGION,
            by_subnet(v4.id).address(addr("fd12:3456:789a:1::9"))
        ),
        Err(Error::SubnetFamilyMismatch {
            subnet: v4.subnet,
            is_ipv6: true
        })
    );
    assert_eq!(ipam.ip_count(REGION), 3);

    // Automatic booking skips the specific addresses, and a released specific address is
    // bookable again.
    let auto: Vec<IpAddr> = (0..3)
        .map(|_| host(&ipam.book_ip(REGION, by_pn(p, &pn)).unwrap()))
        .collect();
    assert_eq!(
        auto,
        [
            addr("172.16.32.2"),
            addr("172.16.32.3"),
            addr("172.16.32.4")
        ]
    );
    ipam.release_ip(REGION, ip.id).unwrap();
    let again = ipam
        .book_ip(REGION, by_pn(p, &pn).address(addr("172.16.32.77")))
        .unwrap();
    assert_eq!(again.address, ip.address);
    assert_ne!(again.id, ip.id);
    ipam.check_invariants().unwrap();
}

#[test]
fn specific_address_then_auto_fills_around_it() {
    let mut ipam = engine(4);
    let p = project(4);
    let pn = pn_with(&mut ipam, p, &["10.1.0.0/28"]);
    ipam.book_ip(REGION, by_pn(p, &pn).address(addr("10.1.0.5")))
        .unwrap();
    ipam.book_ip(REGION, by_pn(p, &pn).address(addr("10.1.0.9")))
        .unwrap();
    // A /28 has 12 bookable addresses: .2 to .13.
    let auto: Vec<IpAddr> = (0..10)
        .map(|_| host(&ipam.book_ip(REGION, by_pn(p, &pn)).unwrap()))
        .collect();
    let expected: Vec<IpAddr> = [2, 3, 4, 6, 7, 8, 10, 11, 12, 13]
        .iter()
        .map(|&n| IpAddr::V4(Ipv4Addr::new(10, 1, 0, n)))
        .collect();
    assert_eq!(auto, expected);
    assert_eq!(
        ipam.book_ip(REGION, by_pn(p, &pn)),
        Err(Error::AddressesExhausted {
            source_id: pn.id.uuid(),
            is_ipv6: false
        })
    );
    ipam.check_invariants().unwrap();
}

#[test]
fn a_private_network_books_in_its_first_subnet_with_room() {
    let mut ipam = engine(5);
    let p = project(5);
    let pn = pn_with(&mut ipam, p, &["10.0.0.0/28", "10.0.1.0/28"]);
    assert_eq!(pn.subnets.len(), 3);
    assert_eq!(pn.subnets[0].subnet, net("10.0.0.0/28"));
    assert_eq!(pn.subnets[1].subnet, net("10.0.1.0/28"));
    let (first, second) = (pn.subnets[0].id, pn.subnets[1].id);

    let ips: Vec<Ip> = (0..12)
        .map(|_| ipam.book_ip(REGION, by_pn(p, &pn)).unwrap())
        .collect();
    assert!(ips.iter().all(|ip| ip.source == Source::SubnetId(first)));
    assert_eq!(host(&ips[11]), addr("10.0.0.13"));

    let ip = ipam.book_ip(REGION, by_pn(p, &pn)).unwrap();
    assert_eq!(ip.address.to_string(), "10.0.1.2/28");
    assert_eq!(ip.source, Source::SubnetId(second));

    // Room again in the first subnet: it is preferred.
    ipam.release_ip(REGION, ips[5].id).unwrap();
    let ip = ipam.book_ip(REGION, by_pn(p, &pn)).unwrap();
    assert_eq!(ip.address.to_string(), "10.0.0.7/28");
    assert_eq!(ip.source, Source::SubnetId(first));
    let ip = ipam.book_ip(REGION, by_pn(p, &pn)).unwrap();
    assert_eq!(ip.address.to_string(), "10.0.1.3/28");

    // A specific address through the Private Network lands in the subnet that contains it.
    let ip = ipam
        .book_ip(REGION, by_pn(p, &pn).address(addr("10.0.1.9")))
        .unwrap();
    assert_eq!(ip.address.to_string(), "10.0.1.9/28");
    assert_eq!(ip.source, Source::SubnetId(second));

    // Fill the second subnet: the Private Network is exhausted.
    let mut n = 0;
    while ipam.book_ip(REGION, by_pn(p, &pn)).is_ok() {
        n += 1;
    }
    assert_eq!(n, 12 - 3);
    assert_eq!(
        ipam.book_ip(REGION, by_pn(p, &pn)),
        Err(Error::AddressesExhausted {
            source_id: pn.id.uuid(),
            is_ipv6: false
        })
    );
    assert_eq!(ipam.ip_count(REGION), 24);
    ipam.check_invariants().unwrap();
}

fn interface_id(ip: &Ip) -> u64 {
    match host(ip) {
        IpAddr::V6(a) => u64::try_from(u128::from(a) & u128::from(u64::MAX)).unwrap(),
        IpAddr::V4(_) => panic!("not an ipv6 address: {}", ip.address),
    }
}

fn book_v6_run(seed: u64) -> (PrivateNetwork, Vec<Ip>) {
    let mut ipam = engine(seed);
    let p = project(6);
    let pn = ipam
        .create_private_network(REGION, CreatePrivateNetworkRequest::new(p))
        .unwrap();
    let ips = (0..300)
        .map(|_| ipam.book_ip(REGION, by_pn(p, &pn).ipv6(true)).unwrap())
        .collect();
    ipam.check_invariants().unwrap();
    (pn, ips)
}

#[test]
fn auto_ipv6_addresses_are_random_in_the_64_and_seeded() {
    let (pn, ips) = book_v6_run(7);
    let v6 = &pn.subnets[1];
    assert_eq!(v6.subnet.prefix_len(), 64);
    let mut seen = BTreeSet::new();
    for ip in &ips {
        assert!(ip.is_ipv6);
        assert_eq!(ip.address.prefix_len(), 64);
        assert!(v6.subnet.contains(&host(ip)), "{}", ip.address);
        assert_eq!(ip.source, Source::SubnetId(v6.id));
        let iid = interface_id(ip);
        assert!(iid >= 2, "{}", ip.address);
        assert!(iid < u64::MAX - 127, "{}", ip.address);
        assert!(seen.insert(iid), "duplicate {}", ip.address);
    }
    // Random, not sequential: the ids are spread over the space.
    assert!(seen.iter().any(|&i| i > 1 << 63));
    assert!(seen.iter().any(|&i| i < 1 << 63));

    // Same seed, same calls: identical results, down to ids and times.
    let (pn_again, ips_again) = book_v6_run(7);
    assert_eq!(pn_again, pn);
    assert_eq!(ips_again, ips);

    // Another seed draws other interface ids.
    let (_, other) = book_v6_run(8);
    let other_ids: Vec<u64> = other.iter().map(interface_id).collect();
    let ids: Vec<u64> = ips.iter().map(interface_id).collect();
    assert_ne!(other_ids, ids);
    assert!(other_ids.iter().all(|i| !seen.contains(i)));
}

#[test]
fn specific_ipv6_addresses() {
    let mut ipam = engine(9);
    let p = project(9);
    let pn = pn_with(&mut ipam, p, &["172.16.32.0/22", "fd12:3456:789a:1::/64"]);
    let v6 = pn.subnets[1].clone();
    let req = |a: &str| by_pn(p, &pn).address(addr(a));

    let ip = ipam.book_ip(REGION, req("fd12:3456:789a:1::2")).unwrap();
    assert_eq!(ip.address.to_string(), "fd12:3456:789a:1::2/64");
    assert!(ip.is_ipv6);
    assert_eq!(ip.source, Source::SubnetId(v6.id));
    let top = ipam
        .book_ip(REGION, req("fd12:3456:789a:1:ffff:ffff:ffff:ff7f"))
        .unwrap();
    assert_eq!(
        top.address.to_string(),
        "fd12:3456:789a:1:ffff:ffff:ffff:ff7f/64"
    );
    assert_eq!(
        ipam.book_ip(REGION, req("fd12:3456:789a:1::2")),
        Err(Error::AddressInUse {
            address: addr("fd12:3456:789a:1::2"),
            ip_id: ip.id
        })
    );
    for a in [
        "fd12:3456:789a:1::",
        "fd12:3456:789a:1::1",
        "fd12:3456:789a:1:ffff:ffff:ffff:ff80",
        "fd12:3456:789a:1:ffff:ffff:ffff:ffc0",
        "fd12:3456:789a:1:ffff:ffff:ffff:ffff",
    ] {
        assert_eq!(
            ipam.book_ip(REGION, req(a)),
            Err(Error::AddressUnavailable {
                address: addr(a),
                subnet: v6.subnet
            }),
            "{a}"
        );
    }
    for a in ["fd12:3456:789a:2::5", "fd00::5"] {
        assert_eq!(
            ipam.book_ip(REGION, req(a)),
            Err(Error::AddressOutsideSubnet {
                address: addr(a),
                subnet: v6.subnet
            }),
            "{a}"
        );
    }
    let by_subnet = BookIpRequest::new(p, Source::SubnetId(v6.id));
    let ip3 = ipam
        .book_ip(
            REGION,
            by_subnet.clone().address(addr("fd12:3456:789a:1:abcd::1")),
        )
        .unwrap();
    assert_eq!(ip3.address.to_string(), "fd12:3456:789a:1:abcd::1/64");
    let auto = ipam.book_ip(REGION, by_subnet.ipv6(true)).unwrap();
    assert!(v6.subnet.contains(&host(&auto)));
    assert!(![ip.id, top.id, ip3.id].contains(&auto.id));
    assert_eq!(ipam.ip_count(REGION), 4);
    ipam.check_invariants().unwrap();
}

#[test]
fn the_project_must_be_the_private_networks() {
    let mut ipam = engine(10);
    let owner = project(10);
    let other = project(11);
    let pn = pn_with(&mut ipam, owner, &["172.16.32.0/22"]);
    assert_eq!(
        ipam.book_ip(REGION, by_pn(other, &pn)),
        Err(Error::ProjectMismatch {
            expected: owner,
            found: other
        })
    );
    assert_eq!(
        ipam.book_ip(
            REGION,
            BookIpRequest::new(other, Source::SubnetId(pn.subnets[0].id))
        ),
        Err(Error::ProjectMismatch {
            expected: owner,
            found: other
        })
    );
    assert_eq!(
        ipam.book_ip(REGION, by_pn(other, &pn).address(addr("172.16.32.10"))),
        Err(Error::ProjectMismatch {
            expected: owner,
            found: other
        })
    );
    assert_eq!(ipam.ip_count(REGION), 0);
    // Nothing was taken: the owner still gets the first address.
    let ip = ipam.book_ip(REGION, by_pn(owner, &pn)).unwrap();
    assert_eq!(ip.address.to_string(), "172.16.32.2/22");
    ipam.check_invariants().unwrap();
}

#[test]
fn only_private_networks_and_subnets_can_book() {
    let mut ipam = engine(12);
    let p = project(12);
    let pn = pn_with(&mut ipam, p, &["172.16.32.0/22"]);
    let vpc = ipam.create_vpc(REGION, CreateVpcRequest::new(p)).unwrap();
    let cases = [
        (Source::Zonal("fr-par-1".into()), "zonal"),
        (Source::VpcId(pn.vpc_id), "vpc_id"),
        (Source::VpcId(vpc.id), "vpc_id"),
        (Source::Regional(true), "regional"),
        (Source::Regional(false), "regional"),
    ];
    for (source, kind) in cases {
        assert_eq!(
            ipam.book_ip(REGION, BookIpRequest::new(p, source.clone())),
            Err(Error::SourceNotBookable { source_kind: kind }),
            "{source:?}"
        );
    }
    let unknown_pn = PrivateNetworkId::from_uuid(Uuid::from_u128(77));
    assert_eq!(
        ipam.book_ip(
            REGION,
            BookIpRequest::new(p, Source::PrivateNetworkId(unknown_pn))
        ),
        Err(Error::PrivateNetworkNotFound { id: unknown_pn })
    );
    let unknown_subnet = SubnetId::from_uuid(Uuid::from_u128(78));
    assert_eq!(
        ipam.book_ip(
            REGION,
            BookIpRequest::new(p, Source::SubnetId(unknown_subnet))
        ),
        Err(Error::SubnetNotFound { id: unknown_subnet })
    );
    // The Private Network exists in fr-par only.
    assert_eq!(
        ipam.book_ip(Region::NlAms, by_pn(p, &pn)),
        Err(Error::PrivateNetworkNotFound { id: pn.id })
    );
    assert_eq!(ipam.ip_count(REGION), 0);
    ipam.check_invariants().unwrap();
}

#[test]
fn booking_with_a_custom_resource_attaches_it() {
    let mut ipam = engine(13);
    let p = project(13);
    let pn = pn_with(&mut ipam, p, &["172.16.32.0/22"]);
    let m = mac("bc:24:11:74:d0:5a");
    let ip = ipam
        .book_ip(
            REGION,
            by_pn(p, &pn)
                .tags(["web"])
                .resource(CustomResource::new(m).with_name("vm-1")),
        )
        .unwrap();
    let r = ip.resource.clone().unwrap();
    assert_eq!(r.resource_type, ResourceType::Custom);
    assert_eq!(r.id, ResourceId::from(ip.id));
    assert_eq!(r.id.uuid(), ip.id.uuid());
    assert_eq!(r.mac_address, Some(m));
    assert_eq!(r.mac_address.unwrap().to_string(), "BC:24:11:74:D0:5A");
    assert_eq!(r.name.as_deref(), Some("vm-1"));
    assert_eq!(ip.tags, ["web"]);
    assert_eq!(ip.created_at, ip.updated_at);

    let attached = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                attached: Some(true),
                ..ListIpsRequest::default()
            },
        )
        .unwrap();
    assert_eq!(attached.total_count, 1);
    assert_eq!(attached.ips, std::slice::from_ref(&ip));
    assert_eq!(
        ipam.release_ip(REGION, ip.id),
        Err(Error::IpAttached {
            ip_id: ip.id,
            attached: ResourceRef::Custom(m)
        })
    );
    // A too long name is refused before anything is booked.
    assert!(matches!(
        ipam.book_ip(
            REGION,
            by_pn(p, &pn).resource(CustomResource::new(m).with_name("x".repeat(256)))
        ),
        Err(Error::InvalidArgument { ref argument, reason: ArgumentReason::Constraint, .. })
            if argument == "resource.name"
    ));
    assert_eq!(ipam.ip_count(REGION), 1);
    assert_eq!(ipam.get_ip(REGION, ip.id).unwrap(), ip);
    ipam.check_invariants().unwrap();
}

#[test]
fn book_ip_for_resource_attaches_a_product_resource() {
    let mut ipam = engine(14);
    let p = project(14);
    let pn = pn_with(&mut ipam, p, &["172.16.32.0/22"]);
    let nic = ResourceId::from_uuid(Uuid::from_u128(0xabc));
    let m = mac("02:00:00:00:00:01");
    let ip = ipam
        .book_ip_for_resource(
            REGION,
            by_pn(p, &pn),
            ServiceResource::new(ResourceType::InstancePrivateNic, nic)
                .mac_address(m)
                .name("nic-0"),
        )
        .unwrap();
    assert_eq!(ip.address.to_string(), "172.16.32.2/22");
    let r = ip.resource.clone().unwrap();
    assert_eq!(r.resource_type, ResourceType::InstancePrivateNic);
    assert_eq!(r.id, nic);
    assert_eq!(r.mac_address, Some(m));
    assert_eq!(r.name.as_deref(), Some("nic-0"));
    assert_eq!(
        ipam.release_ip(REGION, ip.id),
        Err(Error::IpAttached {
            ip_id: ip.id,
            attached: ResourceRef::Product(ResourceType::InstancePrivateNic, nic)
        })
    );

    // Without a MAC address or name.
    let lb = ResourceId::from_uuid(Uuid::from_u128(0xdef));
    let ip2 = ipam
        .book_ip_for_resource(
            REGION,
            by_pn(p, &pn).ipv6(true),
            ServiceResource::new(ResourceType::LbServer, lb),
        )
        .unwrap();
    assert!(ip2.is_ipv6);
    let r = ip2.resource.clone().unwrap();
    assert_eq!(r.resource_type, ResourceType::LbServer);
    assert_eq!(r.id, lb);
    assert_eq!(r.mac_address, None);
    assert_eq!(r.name, None);

    for t in [ResourceType::Custom, ResourceType::UnknownType] {
        let err = ipam
            .book_ip_for_resource(REGION, by_pn(p, &pn), ServiceResource::new(t, nic))
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
    // Both a custom and a product resource: refused.
    let err = ipam
        .book_ip_for_resource(
            REGION,
            by_pn(p, &pn).resource(CustomResource::new(m)),
            ServiceResource::new(ResourceType::InstancePrivateNic, nic),
        )
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidArgument { argument, reason: ArgumentReason::Constraint, .. }
                if argument == "resource"
        ),
        "{err:?}"
    );
    // The usual booking errors apply.
    assert_eq!(
        ipam.book_ip_for_resource(
            REGION,
            by_pn(project(15), &pn),
            ServiceResource::new(ResourceType::InstancePrivateNic, nic)
        ),
        Err(Error::ProjectMismatch {
            expected: p,
            found: project(15)
        })
    );
    assert_eq!(ipam.ip_count(REGION), 2);
    assert_eq!(
        host(&ipam.book_ip(REGION, by_pn(p, &pn)).unwrap()),
        addr("172.16.32.3")
    );
    ipam.check_invariants().unwrap();
}

#[test]
fn tag_limits() {
    let mut ipam = engine(16);
    let p = project(16);
    let pn = pn_with(&mut ipam, p, &["172.16.32.0/22"]);
    let is_tags_error = |r: Result<Ip, Error>| {
        matches!(
            r,
            Err(Error::InvalidArgument { ref argument, reason: ArgumentReason::Constraint, .. })
                if argument == "tags"
        )
    };

    let max: Vec<String> = (0..64).map(|i| format!("tag-{i}")).collect();
    let ip = ipam
        .book_ip(REGION, by_pn(p, &pn).tags(max.clone()))
        .unwrap();
    assert_eq!(ip.tags, max);
    let too_many: Vec<String> = (0..65).map(|i| format!("tag-{i}")).collect();
    assert!(is_tags_error(
        ipam.book_ip(REGION, by_pn(p, &pn).tags(too_many))
    ));
    let long = "t".repeat(128);
    let ip2 = ipam
        .book_ip(REGION, by_pn(p, &pn).tags([long.clone()]))
        .unwrap();
    assert_eq!(ip2.tags, [long]);
    assert!(is_tags_error(
        ipam.book_ip(REGION, by_pn(p, &pn).tags(["t".repeat(129)]))
    ));
    assert!(is_tags_error(
        ipam.book_ip(REGION, by_pn(p, &pn).tags(["ok", ""]))
    ));
    // Order is kept as given.
    let ip3 = ipam
        .book_ip(REGION, by_pn(p, &pn).tags(["b", "a", "c"]))
        .unwrap();
    assert_eq!(ip3.tags, ["b", "a", "c"]);
    assert_eq!(ipam.ip_count(REGION), 3);
    // The failed bookings took no address.
    assert_eq!(host(&ip3), addr("172.16.32.4"));
    ipam.check_invariants().unwrap();
}

#[test]
fn release_and_release_ip_set() {
    let mut ipam = engine(17);
    let p = project(17);
    let pn = pn_with(&mut ipam, p, &["172.16.32.0/22"]);
    let ips: Vec<Ip> = (0..6)
        .map(|_| ipam.book_ip(REGION, by_pn(p, &pn)).unwrap())
        .collect();
    let m = mac("02:00:00:00:00:aa");
    ipam.attach_ip(REGION, ips[5].id, CustomResource::new(m))
        .unwrap();

    // One by one.
    ipam.release_ip(REGION, ips[0].id).unwrap();
    assert_eq!(
        ipam.get_ip(REGION, ips[0].id),
        Err(Error::IpNotFound { id: ips[0].id })
    );
    assert_eq!(
        ipam.release_ip(REGION, ips[0].id),
        Err(Error::IpNotFound { id: ips[0].id })
    );
    assert_eq!(ipam.ip_count(REGION), 5);

    // A set with an unknown id: nothing is released.
    let unknown = IpId::from_uuid(Uuid::from_u128(999));
    assert_eq!(
        ipam.release_ip_set(REGION, &[ips[1].id, unknown, ips[2].id]),
        Err(Error::IpNotFound { id: unknown })
    );
    // An already released id is unknown too.
    assert_eq!(
        ipam.release_ip_set(REGION, &[ips[1].id, ips[0].id]),
        Err(Error::IpNotFound { id: ips[0].id })
    );
    // A set with an attached id: nothing is released.
    assert_eq!(
        ipam.release_ip_set(REGION, &[ips[1].id, ips[2].id, ips[5].id]),
        Err(Error::IpAttached {
            ip_id: ips[5].id,
            attached: ResourceRef::Custom(m)
        })
    );
    assert_eq!(ipam.ip_count(REGION), 5);
    for ip in &ips[1..] {
        assert_eq!(ipam.get_ip(REGION, ip.id).unwrap().id, ip.id);
    }
    ipam.check_invariants().unwrap();

    // Duplicates count once.
    ipam.release_ip_set(REGION, &[ips[1].id, ips[3].id, ips[1].id, ips[3].id])
        .unwrap();
    assert_eq!(ipam.ip_count(REGION), 3);
    for ip in [&ips[1], &ips[3]] {
        assert_eq!(
            ipam.get_ip(REGION, ip.id),
            Err(Error::IpNotFound { id: ip.id })
        );
    }
    // The empty set releases nothing and succeeds.
    ipam.release_ip_set(REGION, &[]).unwrap();
    assert_eq!(ipam.ip_count(REGION), 3);
    // Too many ids.
    let many = vec![ips[2].id; 1001];
    assert!(matches!(
        ipam.release_ip_set(REGION, &many),
        Err(Error::InvalidArgument { ref argument, reason: ArgumentReason::Constraint, .. })
            if argument == "ip_ids"
    ));
    assert_eq!(ipam.ip_count(REGION), 3);
    // Exactly the limit is fine (all duplicates of one id).
    ipam.release_ip_set(REGION, &many[..1000]).unwrap();
    assert_eq!(ipam.ip_count(REGION), 2);

    // The lowest freed addresses come back: .2 (ips[0]), then .3, .4, .5.
    let again: Vec<IpAddr> = (0..4)
        .map(|_| host(&ipam.book_ip(REGION, by_pn(p, &pn)).unwrap()))
        .collect();
    assert_eq!(
        again,
        [
            addr("172.16.32.2"),
            addr("172.16.32.3"),
            addr("172.16.32.4"),
            addr("172.16.32.5")
        ]
    );
    // Release in another region than the IP's: not found.
    assert_eq!(
        ipam.release_ip(Region::PlWaw, ips[4].id),
        Err(Error::IpNotFound { id: ips[4].id })
    );
    assert_eq!(
        ipam.release_ip_set(Region::PlWaw, &[ips[4].id]),
        Err(Error::IpNotFound { id: ips[4].id })
    );
    assert_eq!(ipam.ip_count(REGION), 6);
    ipam.check_invariants().unwrap();
}

/// The reference model of one IPv4 Private Network.
struct ModelPn {
    pn: PrivateNetwork,
    project: ProjectId,
    free: BTreeSet<u32>,
}

impl ModelPn {
    fn new(pn: PrivateNetwork, project: ProjectId) -> Self {
        let IpNet::V4(v4) = pn.subnets[0].subnet else {
            panic!("first subnet is not ipv4")
        };
        let base = u32::from(v4.network());
        let size = 1u32 << (32 - u32::from(v4.prefix_len()));
        let free = (base + 2..base + size - 2).collect();
        Self { pn, project, free }
    }
}

#[test]
fn many_book_release_cycles_keep_lists_and_invariants_right() {
    let mut ipam = engine(18);
    let mut rng = SeededRandom::new(1234);
    let p1 = project(18);
    let p2 = project(19);
    let mut pns = vec![
        ModelPn::new(pn_with(&mut ipam, p1, &["172.20.0.0/20"]), p1),
        ModelPn::new(pn_with(&mut ipam, p1, &[]), p1),
        ModelPn::new(pn_with(&mut ipam, p1, &[]), p1),
        ModelPn::new(pn_with(&mut ipam, p2, &[]), p2),
    ];
    assert_eq!(pns[1].pn.subnets[0].subnet, net("172.16.0.0/22"));
    assert_eq!(pns[2].pn.subnets[0].subnet, net("172.16.4.0/22"));
    assert_eq!(pns[3].pn.subnets[0].subnet, net("172.16.0.0/22"));

    // Live IPs: creation sequence -> (id, pn index, address).
    let mut live: BTreeMap<u64, (IpId, usize, u32)> = BTreeMap::new();
    let mut live_seqs: Vec<u64> = Vec::new();
    let mut seq = 0u64;
    let mut bookings = 0;
    let mut releases = 0;

    let check = |ipam: &Ipam, live: &BTreeMap<u64, (IpId, usize, u32)>, pns: &[ModelPn]| {
        ipam.check_invariants().unwrap();
        assert_eq!(ipam.ip_count(REGION), live.len());
        let listed: Vec<IpId> = all_ips(ipam, REGION).iter().map(|ip| ip.id).collect();
        let expected: Vec<IpId> = live.values().map(|&(id, _, _)| id).collect();
        assert_eq!(listed, expected);
        for (i, m) in pns.iter().enumerate() {
            let resp = ipam
                .list_ips(
                    REGION,
                    &ListIpsRequest {
                        private_network_id: Some(m.pn.id),
                        order_by: OrderBy::IpAddressAsc,
                        page_size: 1000,
                        ..ListIpsRequest::default()
                    },
                )
                .unwrap();
            let mut expected: Vec<u32> = live.values().filter(|v| v.1 == i).map(|v| v.2).collect();
            expected.sort_unstable();
            assert_eq!(resp.total_count, expected.len() as u64);
            let got: Vec<u32> = resp
                .ips
                .iter()
                .map(|ip| match host(ip) {
                    IpAddr::V4(a) => u32::from(a),
                    IpAddr::V6(_) => panic!("ipv6 in an ipv4-only run"),
                })
                .collect();
            let shown = expected.len().min(1000);
            assert_eq!(got, expected[..shown]);
        }
        // The newest first by default.
        let newest = ipam
            .list_ips(
                REGION,
                &ListIpsRequest {
                    page_size: 3,
                    ..ListIpsRequest::default()
                },
            )
            .unwrap();
        let expected: Vec<IpId> = live.values().rev().take(3).map(|v| v.0).collect();
        let got: Vec<IpId> = newest.ips.iter().map(|ip| ip.id).collect();
        assert_eq!(got, expected);
    };

    for step in 0..20_000u32 {
        let which = usize::try_from(rng.next_u64() % 4).unwrap();
        let model = &mut pns[which];
        let request = BookIpRequest::new(model.project, Source::PrivateNetworkId(model.pn.id));
        match ipam.book_ip(REGION, request) {
            Ok(ip) => {
                let IpAddr::V4(got) = host(&ip) else {
                    panic!("ipv6 booked")
                };
                let expected = model.free.pop_first().expect("model has room");
                assert_eq!(u32::from(got), expected, "step {step}");
                seq += 1;
                live.insert(seq, (ip.id, which, expected));
                live_seqs.push(seq);
                bookings += 1;
            }
            Err(e) => {
                assert!(model.free.is_empty(), "step {step}: {e}");
                assert_eq!(
                    e,
                    Error::AddressesExhausted {
                        source_id: model.pn.id.uuid(),
                        is_ipv6: false
                    }
                );
            }
        }
        // Keep between ~1500 and ~2500 IPs live: release one or a small set.
        let target = if (step / 3000) % 2 == 0 { 2500 } else { 1500 };
        while live_seqs.len() > target || (!live_seqs.is_empty() && rng.next_u64() % 3 == 1) {
            let count = if rng.next_u64() % 4 == 1 { 3 } else { 1 };
            let mut ids = Vec::new();
            for _ in 0..count.min(live_seqs.len()) {
                let at = usize::try_from(rng.next_u64() % live_seqs.len() as u64).unwrap();
                let victim = live_seqs.swap_remove(at);
                let (id, pn, freed) = live.remove(&victim).unwrap();
                pns[pn].free.insert(freed);
                ids.push(id);
            }
            releases += ids.len();
            if ids.len() == 1 {
                ipam.release_ip(REGION, ids[0]).unwrap();
            } else {
                ipam.release_ip_set(REGION, &ids).unwrap();
            }
        }
        if step % 2500 == 2499 {
            check(&ipam, &live, &pns);
        }
    }
    check(&ipam, &live, &pns);

    // Release the rest, in sets of at most 1000.
    let rest: Vec<IpId> = live.values().map(|v| v.0).collect();
    for chunk in rest.chunks(1000) {
        ipam.release_ip_set(REGION, chunk).unwrap();
    }
    releases += rest.len();
    live.clear();
    check(&ipam, &live, &pns);
    assert!(bookings >= 19_000, "{bookings} bookings");
    assert_eq!(releases, bookings);
    assert_eq!(ipam.ip_count(REGION), 0);

    // Every pool is whole again: each Private Network starts over at .2.
    for m in &pns {
        let ip = ipam
            .book_ip(
                REGION,
                BookIpRequest::new(m.project, Source::PrivateNetworkId(m.pn.id)),
            )
            .unwrap();
        let IpNet::V4(v4) = m.pn.subnets[0].subnet else {
            unreachable!()
        };
        assert_eq!(
            host(&ip),
            IpAddr::V4(Ipv4Addr::from(u32::from(v4.network()) + 2))
        );
    }
    ipam.check_invariants().unwrap();
}

#[test]
fn full_pools_survive_compaction() {
    // Fill a /20 (4092 addresses), release all but a few, and fill it again: more than 4096
    // dead slots force a compaction while IPs stay booked and attached.
    let mut ipam = engine(19);
    let p = project(20);
    let pn = pn_with(&mut ipam, p, &["10.20.0.0/20"]);
    let ips: Vec<Ip> = (0..4092)
        .map(|_| ipam.book_ip(REGION, by_pn(p, &pn)).unwrap())
        .collect();
    assert_eq!(host(&ips[4091]), addr("10.20.15.253"));
    let keep = [7usize, 1000, 4091];
    let m = mac("02:00:00:00:00:07");
    ipam.attach_ip(REGION, ips[1000].id, CustomResource::new(m))
        .unwrap();
    ipam.update_ip(
        REGION,
        ips[7].id,
        ipam_engine::UpdateIpRequest {
            tags: Some(vec!["kept".into()]),
            reverses: None,
        },
    )
    .unwrap();
    let doomed: Vec<IpId> = ips
        .iter()
        .enumerate()
        .filter(|(i, _)| !keep.contains(i))
        .map(|(_, ip)| ip.id)
        .collect();
    for chunk in doomed.chunks(1000) {
        ipam.release_ip_set(REGION, chunk).unwrap();
    }
    ipam.check_invariants().unwrap();
    for &k in &keep {
        let ip = ipam.get_ip(REGION, ips[k].id).unwrap();
        assert_eq!(ip.address, ips[k].address);
    }
    // Refill, then release the refill: the dead slots now outnumber the live ones by far.
    let refill: Vec<Ip> = (0..4089)
        .map(|_| ipam.book_ip(REGION, by_pn(p, &pn)).unwrap())
        .collect();
    assert_eq!(host(&refill[0]), addr("10.20.0.2"));
    let refill_ids: Vec<IpId> = refill.iter().map(|ip| ip.id).collect();
    for chunk in refill_ids.chunks(1000) {
        ipam.release_ip_set(REGION, chunk).unwrap();
        ipam.check_invariants().unwrap();
    }
    assert_eq!(ipam.ip_count(REGION), 3);
    let refill: Vec<Ip> = (0..4089)
        .map(|_| ipam.book_ip(REGION, by_pn(p, &pn)).unwrap())
        .collect();
    assert_eq!(host(&refill[0]), addr("10.20.0.2"));
    assert_eq!(host(&refill[4088]), addr("10.20.15.252"));
    assert_eq!(
        ipam.book_ip(REGION, by_pn(p, &pn)),
        Err(Error::AddressesExhausted {
            source_id: pn.id.uuid(),
            is_ipv6: false
        })
    );
    let kept_tag = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                tags: vec!["kept".into()],
                ..ListIpsRequest::default()
            },
        )
        .unwrap();
    assert_eq!(kept_tag.total_count, 1);
    assert_eq!(kept_tag.ips[0].id, ips[7].id);
    let by_mac = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                mac_address: Some(m),
                ..ListIpsRequest::default()
            },
        )
        .unwrap();
    assert_eq!(by_mac.total_count, 1);
    assert_eq!(by_mac.ips[0].id, ips[1000].id);
    // Creation order survives the renumbering: the three kept IPs are the oldest.
    let oldest: Vec<IpId> = ipam
        .list_ips(
            REGION,
            &ListIpsRequest {
                order_by: OrderBy::CreatedAtAsc,
                page_size: 4,
                ..ListIpsRequest::default()
            },
        )
        .unwrap()
        .ips
        .iter()
        .map(|ip| ip.id)
        .collect();
    assert_eq!(
        oldest,
        [ips[7].id, ips[1000].id, ips[4091].id, refill[0].id]
    );
    assert_eq!(ipam.ip_count(REGION), 4092);
    ipam.check_invariants().unwrap();
}

/// The owned `Ip` (`get_ip`, list pages, what bookings and updates return) holds what the
/// borrowed accessors read, field by field, in every shape the engine builds it from: both
/// families, no resource, a custom resource with and without a name, a product resource, reverses,
/// tags held inline and tags too many for that, an update after the booking.
#[test]
fn owned_ips_hold_what_the_borrowed_accessors_read_in_every_shape() {
    let mut ipam = engine(61);
    let p = project(61);
    let pn = pn_with(&mut ipam, p, &["172.16.32.0/22", "fd00:61::/64"]);
    let seven = ["a", "b", "c", "d", "e", "f", "g"];
    let long = [
        "a-tag-of-thirty-bytes-and-more",
        "another-tag-of-thirty-bytes",
    ];
    let requests = [
        by_pn(p, &pn),
        by_pn(p, &pn).tags(["web", "prod"]),
        by_pn(p, &pn).resource(CustomResource::new(mac("02:00:00:00:61:01"))),
        by_pn(p, &pn).resource(CustomResource {
            mac_address: mac("02:00:00:00:61:02"),
            name: Some("vm-2".into()),
        }),
        by_pn(p, &pn).tags(seven),
        by_pn(p, &pn).tags(long),
        by_pn(p, &pn).ipv6(true).tags(["v6"]),
        by_pn(p, &pn)
            .ipv6(true)
            .resource(CustomResource::new(mac("02:00:00:00:61:03"))),
    ];
    let mut ids: Vec<IpId> = requests
        .into_iter()
        .map(|r| ipam.book_ip(REGION, r).unwrap().id)
        .collect();
    let nic = ResourceId::from_uuid(Uuid::from_u128(0x61));
    for ipv6 in [false, true] {
        let product = ServiceResource::new(ResourceType::InstancePrivateNic, nic)
            .mac_address(mac(if ipv6 {
                "02:00:00:00:61:05"
            } else {
                "02:00:00:00:61:04"
            }))
            .name("nic");
        let booked = ipam.book_ip_for_resource(REGION, by_pn(p, &pn).ipv6(ipv6), product);
        ids.push(booked.unwrap().id);
    }
    let updated = ipam.book_ip(REGION, by_pn(p, &pn)).unwrap().id;
    let reverse = ipam_engine::Reverse::new("host.example.com", None);
    let update = ipam_engine::UpdateIpRequest {
        tags: Some(vec!["updated".into()]),
        reverses: Some(vec![reverse]),
    };
    let after_update = ipam.update_ip(REGION, updated, update).unwrap();
    ids.push(updated);

    for id in ids {
        let owned = ipam.get_ip(REGION, id).unwrap();
        let view = ipam.ip(REGION, id).unwrap();
        assert_eq!(owned.id, view.id());
        assert_eq!(owned.address, view.address());
        assert_eq!(owned.project_id, view.project_id());
        assert_eq!(owned.is_ipv6, view.is_ipv6());
        assert_eq!(owned.is_ipv6, owned.address.addr().is_ipv6());
        assert_eq!(owned.created_at, view.created_at());
        assert_eq!(owned.updated_at, view.updated_at());
        assert_eq!(owned.source, Source::SubnetId(view.subnet_id()));
        let resource = owned.resource.as_ref();
        assert_eq!(resource.map(|r| r.resource_type), view.resource_type());
        assert_eq!(resource.map(|r| r.id), view.resource_id());
        assert_eq!(resource.and_then(|r| r.mac_address), view.mac_address());
        assert_eq!(
            resource.and_then(|r| r.name.as_deref()),
            view.resource_name()
        );
        assert_eq!(
            owned.tags.iter().collect::<Vec<_>>(),
            view.tags().collect::<Vec<_>>()
        );
        assert_eq!(owned.reverses, view.reverses());
        assert_eq!(owned.region, REGION);
        assert_eq!(owned.zone, None);
        assert_eq!(owned, view.to_ip());
    }
    // The shapes are the ones meant: an update after the booking, a named resource, reverses.
    let after = ipam.get_ip(REGION, updated).unwrap();
    assert_eq!(after, after_update);
    assert!(after.updated_at > after.created_at);
    assert_eq!(after.reverses[0].hostname, "host.example.com.");
    assert_eq!(after.tags, ["updated"]);
    let listed = ipam.list_ips(REGION, &ListIpsRequest::default()).unwrap();
    assert_eq!(listed.total_count, 11);
    for ip in &listed.ips {
        assert_eq!(ip, &ipam.get_ip(REGION, ip.id).unwrap());
    }
    let named = listed
        .ips
        .iter()
        .filter(|ip| ip.resource.as_ref().is_some_and(|r| r.name.is_some()));
    assert_eq!(named.count(), 3);
    let seven_tags = listed.ips.iter().find(|ip| ip.tags.len() == 7).unwrap();
    assert_eq!(seven_tags.tags, seven);
}
