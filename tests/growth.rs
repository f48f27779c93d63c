//! Regions past the size where the engine's hash maps grow in steps: a map whose table is three
//! quarters full prepares one twice its size, then drains the full one into it, over the inserts
//! that follow, so that no call rehashes a whole map. Every MAC address and IPv6 address reads back
//! throughout: across the drains, removals from either table, a compaction that renumbers the
//! maps' values while a drain is under way, and a snapshot taken then.

use chrono::{DateTime, TimeDelta};
use ipam_engine::{
    BookIpRequest, Compaction, CreatePrivateNetworkRequest, CustomResource, Error, IpId, Ipam,
    Limits, ListIpsRequest, MacAddress, ManualClock, ProjectId, Region, SeededRandom, Source,
};
use std::net::IpAddr;
use uuid::Uuid;

const REGION: Region = Region::FrPar;
/// IPs booked in each family, each IPv4 one attached to a MAC address of its own. One pair in
/// seven is released, so the live ones pass 3,072 and 6,144 (three quarters of 4,096 and 8,192
/// slots) about 3,585 and 7,170 bookings in: there the MAC map and the IPv6 pool's map of
/// interface ids each start growing (a few inserts preparing the next table, then a drain).
const IPS: usize = 7_400;
/// Bookings a few dozen past each of those points, where both drains are under way (a drain
/// of 4,096 slots takes over a hundred inserts).
const MID_DRAIN: [usize; 2] = [3_620, 7_200];

fn builder() -> ipam_engine::IpamBuilder {
    let start = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
    // A /18, so that one subnet holds every IPv4 IP.
    let mut limits = Limits::default();
    limits.min_ipv4_prefix = 18;
    Ipam::builder()
        .limits(limits)
        .clock(ManualClock::new(start, TimeDelta::microseconds(1)))
        .random(SeededRandom::new(11))
        .compaction(Compaction::Manual)
}

fn mac(i: usize) -> MacAddress {
    let b = u32::try_from(i).unwrap().to_be_bytes();
    MacAddress::new([0x02, 0, b[0], b[1], b[2], b[3]])
}

/// The IPs of the region's MAC address `mac`.
fn by_mac(ipam: &Ipam, mac: MacAddress) -> Vec<IpId> {
    let request = ListIpsRequest {
        mac_address: Some(mac),
        ..ListIpsRequest::default()
    };
    let page = ipam.list_ips(REGION, &request).unwrap();
    page.ips.iter().map(|ip| ip.id).collect()
}

#[test]
fn maps_growing_in_steps_answer_throughout() {
    let mut ipam = builder().build();
    let project = ProjectId::from_uuid(Uuid::from_u128(1));
    // The engine adds a /64 to a network given only an IPv4 subnet.
    let request =
        CreatePrivateNetworkRequest::new(project).subnets(["10.0.0.0/18".parse().unwrap()]);
    let pn = ipam.create_private_network(REGION, request).unwrap().id;
    let source = Source::PrivateNetworkId(pn);

    // Per booking: the IPv4 IP (attached to `mac(i)`), the IPv6 IP and its address, and
    // whether they were released.
    let mut v4 = Vec::new();
    let mut v6: Vec<(IpId, IpAddr)> = Vec::new();
    let mut released = Vec::new();
    let mut snapshot = None;
    for i in 0..IPS {
        let request =
            BookIpRequest::new(project, source.clone()).resource(CustomResource::new(mac(i)));
        v4.push(ipam.book_ip(REGION, request).unwrap().id);
        let ip = ipam
            .book_ip(
                REGION,
                BookIpRequest::new(project, source.clone()).ipv6(true),
            )
            .unwrap();
        v6.push((ip.id, ip.address.addr()));
        released.push(false);
        // One pair in seven goes: its MAC address leaves the map (from the new table or the
        // old one, whichever holds it), and its interface id the pool's.
        if i % 7 == 6 {
            let k = i - 3;
            ipam.detach_ip(REGION, v4[k], CustomResource::new(mac(k)))
                .unwrap();
            ipam.release_ip(REGION, v4[k]).unwrap();
            ipam.release_ip(REGION, v6[k].0).unwrap();
            released[k] = true;
        }
        if MID_DRAIN.contains(&(i + 1)) {
            // Every handle renumbered, in both tables of each map.
            assert!(ipam.compact(REGION) > 0);
            ipam.check_invariants().unwrap();
            if snapshot.is_none() {
                // What a sample of MAC addresses lists then, to read back from the snapshot.
                let lists: Vec<_> = (0..=i).step_by(13).map(|k| by_mac(&ipam, mac(k))).collect();
                snapshot = Some((ipam.snapshot(), lists));
            }
        }
        if i % 97 == 0 {
            ipam.check_invariants().unwrap();
        }
    }
    ipam.check_invariants().unwrap();

    // A snapshot taken mid-drain restores to the engine it was taken of: the same snapshot,
    // and the same lists by MAC address as then.
    let (snapshot, lists) = snapshot.unwrap();
    let restored = builder().restore(&snapshot).unwrap();
    restored.check_invariants().unwrap();
    assert!(restored.snapshot() == snapshot, "restored as taken");
    for (k, list) in (0..).step_by(13).zip(&lists) {
        assert_eq!(&by_mac(&restored, mac(k)), list, "mac {k}");
    }
    assert!(
        lists.iter().filter(|l| l.is_empty()).count() > 0,
        "released MACs sampled"
    );
    assert!(
        lists.iter().filter(|l| l.len() == 1).count() > 200,
        "held MACs sampled"
    );

    for (k, (&id4, &(id6, address))) in v4.iter().zip(&v6).enumerate() {
        if released[k] {
            assert!(by_mac(&ipam, mac(k)).is_empty(), "mac {k} released");
            // Its address is free: booking it by address gets it back.
            let request = BookIpRequest::new(project, source.clone()).address(address);
            assert_eq!(
                ipam.book_ip(REGION, request).unwrap().address.addr(),
                address
            );
        } else {
            assert_eq!(by_mac(&ipam, mac(k)), [id4], "mac {k}");
            let request = BookIpRequest::new(project, source.clone()).address(address);
            match ipam.book_ip(REGION, request) {
                Err(Error::AddressInUse { ip_id, .. }) => assert_eq!(ip_id, id6, "ip {k}"),
                other => panic!("booking {address} again: {other:?}"),
            }
        }
    }
    ipam.check_invariants().unwrap();
}

/// A record slab of several segments (16,384 records each): a compaction moves records down
/// across segment boundaries, the slab fills the room it kept and grows past it, a compaction
/// that leaves few records gives back whole segments and the slab grows again after it, and an
/// engine told to `reserve` room (for its records and its tags' bitsets) ends in the same state
/// as one that grew as it went. Each IP is attached to a MAC address of its own, so that the
/// reserved engine's MAC map takes its room with the first booking (a table of that size, set
/// free a step per booking while a small one takes them) and then drains into it.
#[test]
fn a_slab_of_several_segments_compacts_and_grows_again() {
    const FIRST: usize = 60_000;
    const AGAIN: usize = 20_000;
    let mut limits = Limits::default();
    limits.min_ipv4_prefix = 16;
    let project = ProjectId::from_uuid(Uuid::from_u128(1));
    let mut engines = [false, true].map(|reserve| {
        let mut ipam = builder().limits(limits.clone()).build();
        if reserve {
            ipam.reserve(REGION, FIRST);
        }
        let request =
            CreatePrivateNetworkRequest::new(project).subnets(["10.0.0.0/16".parse().unwrap()]);
        let pn = ipam.create_private_network(REGION, request).unwrap().id;
        (ipam, Source::PrivateNetworkId(pn))
    });
    for (ipam, source) in &mut engines {
        // Per booking: its id, address and tag, and whether it is live.
        let mut booked: Vec<(IpId, IpAddr, String, bool)> = Vec::new();
        let book = |ipam: &mut Ipam, booked: &mut Vec<_>, n: usize| {
            for _ in 0..n {
                // One IP in 40 per tag: the tags' postings become bitsets, which the engine
                // told to reserve room makes room in at once.
                let tag = format!("t{}", booked.len() % 40);
                let request = BookIpRequest::new(project, source.clone())
                    .tags([tag.clone()])
                    .resource(CustomResource::new(mac(booked.len())));
                let ip = ipam.book_ip(REGION, request).unwrap();
                booked.push((ip.id, ip.address.addr(), tag, true));
            }
        };
        // An attached IP is detached before it can be released.
        let release = |ipam: &mut Ipam, k: usize, b: &mut (IpId, IpAddr, String, bool)| {
            ipam.detach_ip(REGION, b.0, CustomResource::new(mac(k)))
                .unwrap();
            ipam.release_ip(REGION, b.0).unwrap();
            b.3 = false;
        };
        let verify = |ipam: &Ipam, booked: &[(IpId, IpAddr, String, bool)]| {
            ipam.check_invariants().unwrap();
            for (k, (id, address, tag, live)) in booked.iter().enumerate() {
                match ipam.get_ip(REGION, *id) {
                    Ok(ip) if *live => {
                        assert_eq!(ip.address.addr(), *address);
                        assert_eq!(ip.tags.iter().collect::<Vec<_>>(), [tag.as_str()]);
                        let mac_address = ip.resource.and_then(|r| r.mac_address);
                        assert_eq!(mac_address, Some(mac(k)), "{id}");
                    }
                    Err(Error::IpNotFound { .. }) if !live => {}
                    other => panic!("{id} (live: {live}): {other:?}"),
                }
                // The MAC map, on a sample: the IP while live, nothing once released.
                if k % 97 == 0 {
                    let expected = if *live { vec![*id] } else { Vec::new() };
                    assert_eq!(by_mac(ipam, mac(k)), expected, "mac {k}");
                }
            }
            let live = booked.iter().filter(|b| b.3).count();
            assert_eq!(ipam.ip_count(REGION), live);
        };
        book(ipam, &mut booked, FIRST);
        verify(ipam, &booked);

        // Two in three of the first 30,000 go: the records of the third segment move down
        // into the first two.
        for (i, b) in booked.iter_mut().enumerate().take(30_000) {
            if i % 3 != 0 {
                release(ipam, i, b);
            }
        }
        assert_eq!(ipam.compact(REGION), 20_000);
        verify(ipam, &booked);
        let restored = builder()
            .limits(limits.clone())
            .restore(&ipam.snapshot())
            .unwrap();
        verify(&restored, &booked);
        // Into the room the compaction left, and past it.
        book(ipam, &mut booked, AGAIN);
        verify(ipam, &booked);

        // All but a hundred go: the slab gives back all but its first segment, then grows
        // segment by segment again.
        for (i, b) in booked.iter_mut().enumerate().skip(100).filter(|(_, b)| b.3) {
            release(ipam, i, b);
        }
        ipam.compact(REGION);
        verify(ipam, &booked);
        book(ipam, &mut booked, AGAIN);
        verify(ipam, &booked);
    }
    let [(a, _), (b, _)] = engines;
    assert!(
        a.snapshot() == b.snapshot(),
        "reserved or not, the same engine"
    );
}

/// Room for more IPs than a region can hold, or than memory can, is a hint the engine drops:
/// the calls after it run as in an engine never asked, to the same state.
#[test]
fn reserving_past_what_can_be_had_changes_nothing() {
    let project = ProjectId::from_uuid(Uuid::from_u128(1));
    let mut engines = [false, true].map(|reserve| {
        let mut ipam = builder().build();
        if reserve {
            ipam.reserve(REGION, usize::MAX);
            ipam.reserve(REGION, u32::MAX as usize - 1);
        }
        let pn = ipam
            .create_private_network(REGION, CreatePrivateNetworkRequest::new(project))
            .unwrap()
            .id;
        (ipam, pn)
    });
    for (ipam, pn) in &mut engines {
        for i in 0..500 {
            let request = BookIpRequest::new(project, Source::PrivateNetworkId(*pn))
                .tags([format!("t{}", i % 3)])
                .resource(CustomResource::new(mac(i)));
            ipam.book_ip(REGION, request).unwrap();
        }
        ipam.check_invariants().unwrap();
    }
    let [(a, _), (b, _)] = engines;
    assert!(
        a.snapshot() == b.snapshot(),
        "the same engine, reserved or not"
    );
}
