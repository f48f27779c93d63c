//! Criterion benches of the core operations, with fixed seeds: booking churn in an IPv4 /16 at
//! several fill levels (it must stay flat), IPv6 booking, get, and lists over a region of
//! 100,000 IPs.
//!
//! `cargo bench --bench engine`

#![allow(missing_docs)]
// criterion_group! generates undocumented items

// Figures for people: float conversions of counts and times are fine here.
#![allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]

use std::net::IpAddr;

use chrono::{DateTime, TimeDelta};
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ipam_engine::{
    BookIpRequest, CreatePrivateNetworkRequest, IpId, Ipam, Limits, ListIpsRequest, ManualClock,
    OrderBy, PrivateNetworkId, ProjectId, Region, SeededRandom, Source,
};

const REGION: Region = Region::FrPar;

fn engine(seed: u64) -> Ipam {
    let mut limits = Limits::default();
    limits.min_ipv4_prefix = 12;
    Ipam::builder()
        .clock(ManualClock::new(
            DateTime::UNIX_EPOCH,
            TimeDelta::microseconds(1),
        ))
        .random(SeededRandom::new(seed))
        .limits(limits)
        .build()
}

fn project() -> ProjectId {
    ProjectId::from_uuid(uuid::Uuid::from_u64_pair(1, 1))
}

fn network(ipam: &mut Ipam, cidr: &str) -> PrivateNetworkId {
    let net = cidr.parse().expect("valid cidr");
    ipam.create_private_network(
        REGION,
        CreatePrivateNetworkRequest::new(project()).subnets([net]),
    )
    .expect("network")
    .id
}

fn book(ipam: &mut Ipam, pn: PrivateNetworkId, v6: bool) -> IpId {
    let request = BookIpRequest::new(project(), Source::PrivateNetworkId(pn)).ipv6(v6);
    ipam.book_ip(REGION, request).expect("room").id
}

/// Book then release one address in a /16 filled to `percent`, releasing a random spread so
/// that freed addresses are scattered through the block.
fn book_release_churn(c: &mut Criterion) {
    let mut group = c.benchmark_group("book_release_v4_16");
    for percent in [0u64, 50, 99] {
        let mut ipam = engine(1);
        let pn = network(&mut ipam, "10.0.0.0/16");
        let capacity = 65_532u64;
        let ids: Vec<IpId> = (0..capacity).map(|_| book(&mut ipam, pn, false)).collect();
        let keep = capacity * percent / 100;
        // Release every address but `keep` of them, spread over the block.
        let step = capacity as f64 / (capacity - keep) as f64;
        let mut x = 0.0;
        let mut release = Vec::new();
        while (x as u64) < capacity && (release.len() as u64) < capacity - keep {
            release.push(ids[x as usize]);
            x += step;
        }
        for id in release {
            ipam.release_ip(REGION, id).expect("release");
        }
        group.bench_function(BenchmarkId::from_parameter(format!("{percent}%")), |b| {
            b.iter(|| {
                let id = book(&mut ipam, pn, false);
                ipam.release_ip(REGION, id).expect("release");
            });
        });
    }
    group.finish();
}

fn book_v6(c: &mut Criterion) {
    let mut ipam = engine(2);
    let pn = network(&mut ipam, "fd00:0:0:1::/64");
    for _ in 0..100_000 {
        book(&mut ipam, pn, true);
    }
    c.bench_function("book_release_v6_64_100k", |b| {
        b.iter(|| {
            let id = book(&mut ipam, pn, true);
            ipam.release_ip(REGION, id).expect("release");
        });
    });
}

fn region_of_100k() -> (Ipam, Vec<PrivateNetworkId>, Vec<IpId>) {
    let mut ipam = engine(3);
    let pns: Vec<PrivateNetworkId> = (0..100)
        .map(|i| network(&mut ipam, &format!("10.{}.{}.0/22", i / 64, (i % 64) * 4)))
        .collect();
    let mut ids = Vec::new();
    for i in 0..100_000usize {
        let pn = pns[i % pns.len()];
        let tags: Vec<String> = if i % 100 == 0 {
            vec!["rare".into()]
        } else {
            vec!["common".into()]
        };
        let request = BookIpRequest::new(project(), Source::PrivateNetworkId(pn)).tags(tags);
        ids.push(ipam.book_ip(REGION, request).expect("room").id);
    }
    (ipam, pns, ids)
}

fn reads(c: &mut Criterion) {
    let (ipam, pns, ids) = region_of_100k();
    let mut group = c.benchmark_group("read_100k");
    let mut i = 0usize;
    group.bench_function("get", |b| {
        b.iter(|| {
            i = (i + 7919) % ids.len();
            ipam.get_ip(REGION, ids[i]).expect("live")
        });
    });
    let cases: Vec<(&str, ListIpsRequest)> = vec![
        (
            "pn_filter",
            ListIpsRequest {
                private_network_id: Some(pns[17]),
                ..Default::default()
            },
        ),
        (
            "ip_ids",
            ListIpsRequest {
                ip_ids: ids[..10].to_vec(),
                ..Default::default()
            },
        ),
        (
            "tag_1pct_desc",
            ListIpsRequest {
                tags: vec!["rare".into()],
                page_size: 100,
                ..Default::default()
            },
        ),
        (
            "unfiltered_page_500",
            ListIpsRequest {
                page: 500,
                page_size: 100,
                order_by: OrderBy::CreatedAtAsc,
                ..Default::default()
            },
        ),
        (
            "pn_ip_address_asc",
            ListIpsRequest {
                private_network_id: Some(pns[3]),
                order_by: OrderBy::IpAddressAsc,
                ..Default::default()
            },
        ),
    ];
    for (name, request) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| ipam.list_ips(REGION, request).expect("valid"));
        });
    }
    group.finish();
    // Keep the address type in use so a change to it shows up here.
    let _: IpAddr = ipam.get_ip(REGION, ids[0]).expect("live").address.addr();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).warm_up_time(std::time::Duration::from_secs(1)).measurement_time(std::time::Duration::from_secs(3));
    targets = book_release_churn, book_v6, reads
}
criterion_main!(benches);
