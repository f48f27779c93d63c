//! Concurrency: 8 threads × 50,000 mixed operations on a `SharedIpam`, all on the same Private
//! Networks (small IPv4 pools that fill up, IPv6 pools, three regions). Each thread owns the IPs
//! it booked; a shared ledger records who holds each address, so an address handed out twice is
//! caught the moment it happens. Afterwards: every IP a thread holds is present with its address,
//! every released IP is gone, no address is held twice, lists agree with the ledger, and the
//! engine's invariants hold.

mod common;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ipam_engine::{
    BookIpRequest, CreatePrivateNetworkRequest, CustomResource, Error, IpId, ListIpsRequest,
    MacAddress, MoveIpRequest, PrivateNetworkId, ProjectId, RandomSource, Region, SeededRandom,
    SharedIpam, Source, UpdateIpRequest,
};
use uuid::Uuid;

const THREADS: usize = 8;
const OPS_PER_THREAD: usize = 50_000;
/// Most IPs a thread holds; past it, it releases.
const MAX_HELD: usize = 48;

/// Each thread's own deterministic choices.
struct Rng(SeededRandom);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        (self.0.next_u64() % n as u64) as usize
    }
}

#[derive(Clone, Copy)]
struct Net {
    region: Region,
    pn: PrivateNetworkId,
    project: ProjectId,
}

#[derive(Clone, Copy)]
struct Held {
    net: usize,
    id: IpId,
    address: IpAddr,
    mac: Option<MacAddress>,
}

/// Who holds each address: (Private Network, address) → IP id.
type Ledger = Mutex<HashMap<(PrivateNetworkId, IpAddr), IpId>>;

#[derive(Default, Debug)]
struct Counts {
    booked: usize,
    released: usize,
    exhausted: usize,
    in_use: usize,
    attached: usize,
    moved: usize,
    listed: usize,
}

fn setup() -> (SharedIpam, Vec<Net>) {
    let mut ipam = common::engine(99);
    let mut nets = Vec::new();
    for (i, &region) in Region::ALL.iter().enumerate() {
        let project = ProjectId::from_uuid(Uuid::from_u128(1 + i as u128));
        for subnet in ["10.0.0.0/26", "10.0.1.0/24", "10.0.2.0/28"] {
            let pn = ipam
                .create_private_network(
                    region,
                    CreatePrivateNetworkRequest::new(project).subnets([subnet.parse().unwrap()]),
                )
                .unwrap();
            nets.push(Net {
                region,
                pn: pn.id,
                project,
            });
        }
    }
    (SharedIpam::new(ipam), nets)
}

fn run_thread(
    ipam: &SharedIpam,
    nets: &[Net],
    ledger: &Ledger,
    seed: u64,
) -> (Vec<Held>, Vec<(Region, IpId)>, Counts) {
    let mut rng = Rng(SeededRandom::new(seed));
    let mut held: Vec<Held> = Vec::new();
    let mut released: Vec<(Region, IpId)> = Vec::new();
    let mut counts = Counts::default();
    let take = |held: &Held| {
        let previous = ledger
            .lock()
            .unwrap()
            .insert((nets[held.net].pn, held.address), held.id);
        assert!(
            previous.is_none(),
            "{} handed out twice: to {previous:?} and {}",
            held.address,
            held.id
        );
    };
    let give_back = |held: &Held| {
        let owner = ledger
            .lock()
            .unwrap()
            .remove(&(nets[held.net].pn, held.address));
        assert_eq!(owner, Some(held.id));
    };
    for _ in 0..OPS_PER_THREAD {
        let roll = rng.below(100);
        if held.len() >= MAX_HELD || (roll < 15 && !held.is_empty()) {
            // Release one, or a set of up to 3 from one region.
            let i = rng.below(held.len());
            let region = nets[held[i].net].region;
            let mut picked: Vec<usize> = vec![i];
            if roll.is_multiple_of(2) {
                for j in 0..held.len() {
                    if picked.len() < 3 && j != i && nets[held[j].net].region == region {
                        picked.push(j);
                    }
                }
            }
            // Detach first: an attached IP cannot be released.
            for &j in &picked {
                if let Some(mac) = held[j].mac.take() {
                    ipam.detach_ip(region, held[j].id, CustomResource::new(mac))
                        .unwrap();
                }
            }
            for &j in &picked {
                give_back(&held[j]);
            }
            let ids: Vec<IpId> = picked.iter().map(|&j| held[j].id).collect();
            if ids.len() == 1 {
                ipam.release_ip(region, ids[0]).unwrap();
            } else {
                ipam.release_ip_set(region, &ids).unwrap();
            }
            picked.sort_unstable();
            for &j in picked.iter().rev() {
                released.push((region, held.swap_remove(j).id));
            }
            counts.released += ids.len();
        } else if roll < 55 {
            // Book: auto IPv4, auto IPv6, or a specific IPv4 address.
            let net = rng.below(nets.len());
            let Net {
                region,
                pn,
                project,
            } = nets[net];
            let mut request = BookIpRequest::new(project, Source::PrivateNetworkId(pn));
            match roll % 3 {
                0 => request = request.ipv6(true),
                1 => {
                    let pn = ipam.get_private_network(region, pn).unwrap();
                    let IpAddr::V4(base) = pn.subnets[0].subnet.network() else {
                        unreachable!()
                    };
                    let host = 2 + rng.below(12) as u32;
                    request = request.address(IpAddr::V4((u32::from(base) + host).into()));
                }
                _ => {}
            }
            match ipam.book_ip(region, request) {
                Ok(ip) => {
                    let h = Held {
                        net,
                        id: ip.id,
                        address: ip.address.addr(),
                        mac: None,
                    };
                    take(&h);
                    held.push(h);
                    counts.booked += 1;
                }
                Err(Error::AddressesExhausted { .. }) => counts.exhausted += 1,
                Err(Error::AddressInUse { .. }) => counts.in_use += 1,
                Err(e) => panic!("unexpected booking error: {e}"),
            }
        } else if roll < 75 && !held.is_empty() {
            // Attach, or move to another MAC.
            let i = rng.below(held.len());
            let region = nets[held[i].net].region;
            let mac = MacAddress::new([2, 0, 0, (seed % 256) as u8, 0, rng.below(8) as u8]);
            match held[i].mac {
                None => {
                    ipam.attach_ip(region, held[i].id, CustomResource::new(mac))
                        .unwrap();
                    counts.attached += 1;
                }
                Some(from) => {
                    let request = MoveIpRequest {
                        from_resource: CustomResource::new(from),
                        to_resource: Some(CustomResource::new(mac)),
                    };
                    ipam.move_ip(region, held[i].id, request).unwrap();
                    counts.moved += 1;
                }
            }
            held[i].mac = Some(mac);
        } else if roll < 85 && !held.is_empty() {
            let i = rng.below(held.len());
            let region = nets[held[i].net].region;
            let request = UpdateIpRequest {
                tags: Some(vec![format!("t{}", rng.below(4))]),
                reverses: None,
            };
            ipam.update_ip(region, held[i].id, request).unwrap();
        } else if roll < 97 && !held.is_empty() {
            // Read back an IP this thread holds: nobody else may have changed it.
            let h = held[rng.below(held.len())];
            let ip = ipam.get_ip(nets[h.net].region, h.id).unwrap();
            assert_eq!(ip.address.addr(), h.address);
            assert_eq!(ip.resource.and_then(|r| r.mac_address), h.mac);
        } else {
            // List a Private Network: addresses in a page are distinct.
            let net = nets[rng.below(nets.len())];
            let page = ipam
                .list_ips(
                    net.region,
                    &ListIpsRequest {
                        private_network_id: Some(net.pn),
                        page_size: 100,
                        ..Default::default()
                    },
                )
                .unwrap();
            let distinct: HashSet<IpAddr> = page.ips.iter().map(|ip| ip.address.addr()).collect();
            assert_eq!(distinct.len(), page.ips.len());
            counts.listed += 1;
        }
    }
    (held, released, counts)
}

#[test]
fn eight_threads_never_double_book_nor_lose_a_reservation() {
    let (ipam, nets) = setup();
    let ipam = Arc::new(ipam);
    let nets = Arc::new(nets);
    let ledger: Arc<Ledger> = Arc::default();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (ipam, nets, ledger) = (Arc::clone(&ipam), Arc::clone(&nets), Arc::clone(&ledger));
            std::thread::spawn(move || run_thread(&ipam, &nets, &ledger, 0x9E37 * (t as u64 + 1)))
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();

    let mut total = Counts::default();
    let mut all_held: HashMap<IpId, Held> = HashMap::new();
    for (held, released, counts) in &results {
        total.booked += counts.booked;
        total.released += counts.released;
        total.exhausted += counts.exhausted;
        total.in_use += counts.in_use;
        total.attached += counts.attached;
        total.moved += counts.moved;
        total.listed += counts.listed;
        for h in held {
            // Every successful booking not released is present, unchanged.
            let ip = ipam.get_ip(nets[h.net].region, h.id).unwrap();
            assert_eq!(ip.address.addr(), h.address);
            assert_eq!(ip.resource.and_then(|r| r.mac_address), h.mac);
            assert!(all_held.insert(h.id, *h).is_none());
        }
        for &(region, id) in released {
            // Every successful release is gone.
            assert!(matches!(
                ipam.get_ip(region, id),
                Err(Error::IpNotFound { .. })
            ));
        }
    }
    eprintln!("{total:?}");
    assert_eq!(total.booked, total.released + all_held.len());
    assert!(total.exhausted > 0 && total.in_use > 0 && total.moved > 0);

    // The engine holds exactly the IPs the threads hold, each address once.
    let mut listed = 0;
    for net in nets.iter() {
        let mut seen = HashSet::new();
        for page in 1.. {
            let answer = ipam
                .list_ips(
                    net.region,
                    &ListIpsRequest {
                        private_network_id: Some(net.pn),
                        page,
                        page_size: 100,
                        ..Default::default()
                    },
                )
                .unwrap();
            for ip in &answer.ips {
                assert!(seen.insert(ip.address.addr()), "{} twice", ip.address);
                assert_eq!(all_held[&ip.id].address, ip.address.addr());
                listed += 1;
            }
            if answer.ips.len() < 100 {
                break;
            }
        }
    }
    assert_eq!(listed, all_held.len());
    assert_eq!(ledger.lock().unwrap().len(), all_held.len());
    let count: usize = Region::ALL.iter().map(|&r| ipam.ip_count(r)).sum();
    assert_eq!(count, all_held.len());
    ipam.check_invariants().unwrap();

    // And the state survives a snapshot round trip.
    let ipam = Arc::into_inner(ipam).unwrap();
    let snapshot = ipam.snapshot();
    let merged = ipam.into_inner();
    merged.check_invariants().unwrap();
    assert_eq!(merged.snapshot(), snapshot);
}
