//! A seeded simulation of one busy region: hundreds of Private Networks, a million IPs booked,
//! attached, moved, updated, listed and released, then a full invariant check. Prints a table of
//! operation counts, throughput and memory, and a digest of every answer: the same seed gives
//! the same digest on every run and every machine.
//!
//! ```text
//! cargo run --release --example simulate [-- --seed 7 --ips 1000000 --networks 400]
//! ```

// Figures for people: float conversions of counts and times are fine here.
#![allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta};
use ipam_engine::{
    BookIpRequest, CreatePrivateNetworkRequest, CustomResource, Error, Ip, IpId, Ipam,
    ListIpsRequest, MacAddress, ManualClock, MoveIpRequest, OrderBy, OrganizationId,
    PrivateNetwork, ProjectId, RandomSource, Region, ResourceId, ResourceType, Reverse,
    SeededRandom, ServiceResource, Source, UpdateIpRequest,
};

#[path = "common/counting_alloc.rs"]
#[allow(dead_code)]
mod counting_alloc;

use counting_alloc::{heap, peak};

#[derive(Default)]
struct Stat {
    ok: u64,
    failed: u64,
    time: Duration,
}

struct Sim {
    ipam: Ipam,
    rng: SeededRandom,
    region: Region,
    stats: BTreeMap<&'static str, Stat>,
    digest: std::collections::hash_map::DefaultHasher,
    networks: Vec<PrivateNetwork>,
    /// Booked IPs: id, network index, attached custom MAC or product resource.
    live: Vec<(IpId, usize, Attached)>,
}

#[derive(Clone, Copy, PartialEq)]
enum Attached {
    No,
    Custom(MacAddress),
    Product(ResourceId),
}

const TAGS: [&str; 8] = [
    "web", "db", "cache", "batch", "prod", "staging", "blue", "green",
];

impl Sim {
    fn below(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.rng.next_u64() % 100 < percent
    }

    fn mac(&mut self) -> MacAddress {
        let b = self.rng.next_u64().to_be_bytes();
        MacAddress::new([0x02, b[0], b[1], b[2], b[3], b[4]])
    }

    /// Runs one timed operation and records its outcome.
    fn op<T: serde::Serialize>(
        &mut self,
        name: &'static str,
        f: impl FnOnce(&mut Ipam) -> Result<T, Error>,
    ) -> Option<T> {
        let start = Instant::now();
        let result = f(&mut self.ipam);
        let elapsed = start.elapsed();
        let stat = self.stats.entry(name).or_default();
        stat.time += elapsed;
        match result {
            Ok(v) => {
                stat.ok += 1;
                serde_json::to_string(&v)
                    .unwrap_or_default()
                    .hash(&mut self.digest);
                Some(v)
            }
            Err(e) => {
                stat.failed += 1;
                e.to_string().hash(&mut self.digest);
                None
            }
        }
    }
}

fn ip_key(ip: &Ip) -> (String, String) {
    (ip.id.to_string(), ip.address.to_string())
}

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let seed = arg("--seed", 7);
    let target_ips = arg("--ips", 1_000_000) as usize;
    let network_count = arg("--networks", 400) as usize;
    let wall = Instant::now();
    let start = DateTime::from_timestamp(1_767_225_600, 0).expect("valid time");
    let ipam = Ipam::builder()
        .clock(ManualClock::new(start, TimeDelta::microseconds(1)))
        .random(SeededRandom::new(seed))
        .build();
    let mut sim = Sim {
        ipam,
        rng: SeededRandom::new(seed ^ 0x5EED),
        region: Region::FrPar,
        stats: BTreeMap::new(),
        digest: std::collections::hash_map::DefaultHasher::new(),
        networks: Vec::new(),
        live: Vec::with_capacity(target_ips),
    };
    let region = sim.region;

    // Ten Projects in three Organizations; each network gets a /20 of 10.0.0.0/8 (4092 addresses).
    let projects: Vec<ProjectId> = (0..10u64)
        .map(|i| ProjectId::from_uuid(uuid::Uuid::from_u64_pair(0x1000 + i, i)))
        .collect();
    for (i, &p) in projects.iter().enumerate() {
        let org = OrganizationId::from_uuid(uuid::Uuid::from_u64_pair(0x2000, (i % 3) as u64));
        sim.ipam.register_project(p, org);
    }
    for i in 0..network_count {
        let block = Ipv4Addr::new(10, (i / 16) as u8, ((i % 16) * 16) as u8, 0);
        let subnet = ipnet::IpNet::new(IpAddr::V4(block), 20).expect("valid /20");
        let project = projects[i % projects.len()];
        let request = CreatePrivateNetworkRequest::new(project)
            .name(format!("pn-{i}"))
            .subnets([subnet]);
        if let Some(pn) = sim.op("create_private_network", |e| {
            e.create_private_network(region, request)
        }) {
            sim.networks.push(pn);
        }
    }

    // Book: 75% automatic IPv4, 5% specific IPv4, 20% IPv6; a third attached at booking.
    while sim.live.len() < target_ips {
        let n = sim.below(sim.networks.len());
        let pn = &sim.networks[n];
        let (pn_id, project, v4) = (pn.id, pn.project_id, pn.subnets[0].subnet);
        let mut request = BookIpRequest::new(project, Source::PrivateNetworkId(pn_id));
        let roll = sim.below(100);
        if roll < 20 {
            request = request.ipv6(true);
        } else if roll < 25 {
            let host = 2 + sim.below(4092) as u32;
            let IpAddr::V4(base) = v4.network() else {
                unreachable!()
            };
            request = request.address(IpAddr::V4(Ipv4Addr::from(u32::from(base) + host)));
        }
        let tag = TAGS[sim.below(TAGS.len())];
        request = request.tags([tag]);
        let mut attached = Attached::No;
        if sim.chance(33) {
            let mac = sim.mac();
            request = request
                .resource(CustomResource::new(mac).with_name(format!("vm-{}", sim.live.len())));
            attached = Attached::Custom(mac);
        }
        let name = if roll < 20 {
            "book_ipv6"
        } else if roll < 25 {
            "book_specific"
        } else {
            "book_ipv4"
        };
        if let Some(ip) = sim.op(name, |e| {
            e.book_ip(region, request).map(|ip| (ip_key(&ip), ip.id))
        }) {
            sim.live.push((ip.1, n, attached));
        }
    }

    // Attach, product-attach, move, detach, update.
    let n_live = sim.live.len();
    for _ in 0..n_live / 5 {
        let i = sim.below(sim.live.len());
        let (id, _, attached) = sim.live[i];
        if sim.chance(60) {
            let mac = sim.mac();
            let r = sim.op("attach", |e| {
                e.attach_ip(region, id, CustomResource::new(mac))
                    .map(|ip| ip_key(&ip))
            });
            if r.is_some() {
                sim.live[i].2 = Attached::Custom(mac);
            }
        } else if attached == Attached::No {
            let nic = ResourceId::from_uuid(uuid::Uuid::from_u64_pair(
                sim.rng.next_u64(),
                sim.rng.next_u64(),
            ));
            let mac = sim.mac();
            let resource = ServiceResource::new(ResourceType::InstancePrivateNic, nic)
                .mac_address(mac)
                .name("nic");
            if sim
                .op("attach_resource", |e| {
                    e.attach_resource(region, id, resource)
                        .map(|ip| ip_key(&ip))
                })
                .is_some()
            {
                sim.live[i].2 = Attached::Product(nic);
            }
        }
    }
    for _ in 0..n_live / 10 {
        let i = sim.below(sim.live.len());
        let (id, _, attached) = sim.live[i];
        let Attached::Custom(from) = attached else {
            continue;
        };
        if sim.chance(70) {
            let to = sim.mac();
            let request = MoveIpRequest {
                from_resource: CustomResource::new(from),
                to_resource: Some(CustomResource::new(to)),
            };
            if sim
                .op("move", |e| {
                    e.move_ip(region, id, request).map(|ip| ip_key(&ip))
                })
                .is_some()
            {
                sim.live[i].2 = Attached::Custom(to);
            }
        } else if sim
            .op("detach", |e| {
                e.detach_ip(region, id, CustomResource::new(from))
                    .map(|ip| ip_key(&ip))
            })
            .is_some()
        {
            sim.live[i].2 = Attached::No;
        }
    }
    for _ in 0..n_live / 5 {
        let i = sim.below(sim.live.len());
        let id = sim.live[i].0;
        let tags = vec![
            TAGS[sim.below(TAGS.len())].to_owned(),
            format!("batch-{}", sim.below(100)),
        ];
        let reverses = sim
            .chance(10)
            .then(|| vec![Reverse::new(format!("host-{i}.example.com"), None)]);
        let request = UpdateIpRequest {
            tags: Some(tags),
            reverses,
        };
        sim.op("update", |e| {
            e.update_ip(region, id, request).map(|ip| ip_key(&ip))
        });
    }

    // Lists: selective filters, tag filters, every order, deep pages.
    for q in 0..2_000usize {
        let n = sim.below(sim.networks.len());
        let i = sim.below(sim.live.len());
        let order = OrderBy::ALL[q % OrderBy::ALL.len()];
        let request = match q % 5 {
            0 => ListIpsRequest {
                private_network_id: Some(sim.networks[n].id),
                order_by: order,
                ..Default::default()
            },
            1 => ListIpsRequest {
                ip_ids: vec![sim.live[i].0],
                ..Default::default()
            },
            2 => ListIpsRequest {
                tags: vec![format!("batch-{}", q % 100)],
                order_by: OrderBy::CreatedAtDesc,
                page_size: 100,
                ..Default::default()
            },
            3 => ListIpsRequest {
                project_id: Some(sim.networks[n].project_id),
                attached: Some(true),
                is_ipv6: Some(false),
                page: 3,
                page_size: 100,
                ..Default::default()
            },
            _ => ListIpsRequest {
                page: 1 + (q as u32 % 5_000),
                page_size: 100,
                order_by: OrderBy::CreatedAtAsc,
                ..Default::default()
            },
        };
        sim.op("list", |e| {
            e.list_ips(region, &request)
                .map(|r| (r.total_count, r.ips.iter().map(ip_key).collect::<Vec<_>>()))
        });
    }
    for _ in 0..20_000 {
        let i = sim.below(sim.live.len());
        let id = sim.live[i].0;
        sim.op("get", |e| e.get_ip(region, id).map(|ip| ip_key(&ip)));
    }

    // Release half: detach first where needed; one in ten as a release set of ten.
    let mut released = 0;
    while released < n_live / 2 && sim.live.len() > 10 {
        let i = sim.below(sim.live.len() - 10);
        let len = if sim.chance(10) { 10 } else { 1 };
        for j in i..i + len {
            let (id, _, attached) = sim.live[j];
            match attached {
                Attached::Custom(mac) => {
                    sim.op("detach", |e| {
                        e.detach_ip(region, id, CustomResource::new(mac))
                            .map(|ip| ip_key(&ip))
                    });
                }
                Attached::Product(nic) => {
                    sim.op("detach_resource", |e| {
                        e.detach_resource(region, id, nic).map(|ip| ip_key(&ip))
                    });
                }
                Attached::No => {}
            }
            sim.live[j].2 = Attached::No;
        }
        let ids: Vec<IpId> = sim.live[i..i + len].iter().map(|s| s.0).collect();
        let done = if len == 1 {
            sim.op("release", |e| e.release_ip(region, ids[0]))
                .is_some()
        } else {
            sim.op("release_set", |e| e.release_ip_set(region, &ids))
                .is_some()
        };
        if done {
            // From the top down, so each swap fills a slot already dealt with.
            for j in (i..i + len).rev() {
                sim.live.swap_remove(j);
            }
            released += len;
        }
    }

    let memory_at_end = heap();
    let check = Instant::now();
    let invariants = sim.ipam.check_invariants();
    let check_time = check.elapsed();
    let booked = sim.ipam.ip_count(region);

    println!(
        "ipam-engine simulation: seed {seed}, {} networks, region {region}",
        sim.networks.len()
    );
    println!();
    println!(
        "{:<24} {:>10} {:>8} {:>12} {:>12}",
        "operation", "ok", "failed", "ns/op", "ops/s"
    );
    for (name, s) in &sim.stats {
        let n = s.ok + s.failed;
        let ns = s.time.as_nanos() as f64 / n.max(1) as f64;
        println!(
            "{name:<24} {:>10} {:>8} {:>12.0} {:>12.0}",
            s.ok,
            s.failed,
            ns,
            1e9 / ns
        );
    }
    println!();
    println!("booked IPs at the end     {booked}");
    let digest = sim.digest.finish();
    // The engine's own heap: what dropping it gives back.
    drop(sim.ipam);
    let engine_heap = memory_at_end - heap();
    println!(
        "engine heap at the end    {:.1} MiB ({:.0} bytes per booked IP)",
        engine_heap as f64 / 1_048_576.0,
        engine_heap as f64 / booked.max(1) as f64
    );
    println!(
        "peak heap                 {:.1} MiB",
        peak() as f64 / 1_048_576.0
    );
    println!(
        "invariant check           {} in {:.2} s",
        if invariants.is_ok() { "ok" } else { "FAILED" },
        check_time.as_secs_f64()
    );
    println!(
        "wall time                 {:.1} s",
        wall.elapsed().as_secs_f64()
    );
    println!("digest                    {digest:016x}");
    if let Err(e) = invariants {
        eprintln!("invariant violated: {e}");
        std::process::exit(1);
    }
}
