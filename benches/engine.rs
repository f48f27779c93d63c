//! Criterion benches of the engine's operations, one group per operation, with fixed seeds, and
//! the physical floor of a booking measured in the same run (see `support/floor.rs`).
//!
//! - `floor_book`, `floor_get`: the floor at 250, 4,000, 65,536 and 1M live entries.
//! - `book_auto_v4`: booking alone with `book_ip_ref` (each timed chunk's IPs are released
//!   untimed) in a /24, /16 and /12 at 0%, 50% and 99% fill, and with `book_ip` (`*_owned`) at
//!   0%; `churn_v4`: a `book_ip` + release pair, both timed, at 1%, 50% and 99% fill.
//! - `book_auto_v6`: booking alone in a /64 holding no IP and 1M IPs, with `book_ip_ref` and
//!   with `book_ip` (`*_owned`).
//! - `release_in_subnet`: release in one /16 subnet holding 4,000 IPs (nothing else in the
//!   region), oldest first, newest first and in random order; each chunk's IPs are booked
//!   again untimed.
//! - `book_specific`, `release`, `get`, `update_tags`, `update_tags_in_use`, `attach`,
//!   `detach`, `move`: one call on a region of 1M IPs (two tags and a MAC each), scattered over
//!   the IPs; the untimed part of each chunk puts the region back as it was. `update_tags` sets
//!   two tags new to the region (each chunk creates them), `update_tags_in_use` two tags other
//!   IPs carry.
//! - `list_*`: page size 100 over that region, per filter kind, per order.
//!
//! `cargo bench --bench engine [-- FILTER]`; `IPAM_BENCH_IPS=N` sets the region size (default
//! 1,000,000). The region and the pools are built once and shared by the groups that use them.
//! `cargo run --release --example bench` gives the same figures as one table, with ratios to
//! the floor and memory.

#![allow(missing_docs)] // criterion_group! generates undocumented items

// Fields and helpers only the harness (memory, load time) reads.
#[allow(dead_code)]
mod support;

use std::time::Duration;

use criterion::measurement::WallTime;
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion};
use support::floor::{Floor, FloorBook, FloorGet};
use support::measure::{drive, Op};
use support::workload::{
    booked_owned_at, list_cases, region, region_keeping_mac_order, v4_fills, v4_pool, v6_pool,
    Attach, BookAuto, BookSpecific, BookSpread, Change, Churn, Get, List, ListCase, Modify,
    RegionData, Release, ReleaseInPool, ReleaseOrder, SUBNET_HELD,
};

fn region_ips() -> usize {
    std::env::var("IPAM_BENCH_IPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn bench(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, op: &mut dyn Op) {
    group.bench_function(id, |b| b.iter_custom(|iters| drive(op, iters)));
}

fn floor(c: &mut Criterion) {
    let mut floors: Vec<Floor> = [250, SUBNET_HELD, 65_536, 1_000_000]
        .into_iter()
        .map(|live| Floor::new(live, 1))
        .collect();
    let mut group = c.benchmark_group("floor_book");
    for f in &mut floors {
        let id = format!("{}_live", f.len());
        bench(&mut group, &id, &mut FloorBook(f));
    }
    group.finish();
    let mut group = c.benchmark_group("floor_get");
    for f in &floors {
        let id = format!("{}_live", f.len());
        bench(&mut group, &id, &mut FloorGet::new(f));
        let id = format!("{}_live_chained", f.len());
        bench(&mut group, &id, &mut FloorGet::chained(f));
    }
    group.finish();
}

fn book_v4(c: &mut Criterion) {
    for prefix in [24, 16, 12] {
        let mut pools: Vec<_> = v4_fills(prefix)
            .iter()
            .map(|&percent| (percent, v4_pool(prefix, percent)))
            .collect();
        let mut group = c.benchmark_group("book_auto_v4");
        for (percent, pool) in &mut pools {
            if *percent != 1 {
                let label = pool.id.clone();
                bench(&mut group, &label, &mut BookAuto::new(pool, false));
            }
            if booked_owned_at(*percent) {
                let label = format!("{}_owned", pool.id);
                bench(&mut group, &label, &mut BookAuto::new(pool, true));
            }
        }
        group.finish();
        let mut group = c.benchmark_group("churn_v4");
        for (percent, pool) in &mut pools {
            if !booked_owned_at(*percent) {
                let label = pool.id.clone();
                bench(&mut group, &label, &mut Churn { pool });
            }
        }
        group.finish();
    }
}

fn book_v6(c: &mut Criterion) {
    let mut group = c.benchmark_group("book_auto_v6");
    for ips in [0, region_ips()] {
        let mut pool = v6_pool(ips);
        let label = pool.id.clone();
        bench(&mut group, &label, &mut BookAuto::new(&mut pool, false));
        let label = format!("{}_owned", pool.id);
        bench(&mut group, &label, &mut BookAuto::new(&mut pool, true));
    }
    group.finish();
}

fn release_in_subnet(c: &mut Criterion) {
    let mut group = c.benchmark_group("release_in_subnet");
    for order in ReleaseOrder::ALL {
        let mut pool = v4_pool(16, 0);
        let label = order.name().replace(' ', "_");
        bench(
            &mut group,
            &label,
            &mut ReleaseInPool::new(&mut pool, SUBNET_HELD, order),
        );
    }
    group.finish();
}

fn region_ops(c: &mut Criterion) {
    let mut data = region(region_ips());
    let id = format!("{}_ips", data.ids.len());
    let mut spread = c.benchmark_group("book_spread");
    bench(
        &mut spread,
        "book_ip",
        &mut BookSpread::new(&mut data, false),
    );
    bench(
        &mut spread,
        "book_ips",
        &mut BookSpread::new(&mut data, true),
    );
    spread.finish();
    let mut one = |name: &str, op: &mut dyn Op| {
        let mut group = c.benchmark_group(name);
        bench(&mut group, &id, op);
        group.finish();
    };
    one("book_specific", &mut BookSpecific::new(&mut data));
    one("release", &mut Release::new(&mut data));
    one("get", &mut Get::new(&data));
    one("get_borrowed", &mut Get::borrowed(&data));
    one(
        "update_tags",
        &mut Modify::new(&mut data, Change::UpdateTags),
    );
    one(
        "update_tags_in_use",
        &mut Modify::new(&mut data, Change::Retag),
    );
    one(
        "update_tags_borrowed",
        &mut Modify::borrowed(&mut data, Change::UpdateTags),
    );
    one("attach", &mut Attach::new(&mut data));
    one("detach", &mut Modify::new(&mut data, Change::Detach));
    one("move", &mut Modify::new(&mut data, Change::Move));
    one("attach_borrowed", &mut Attach::borrowed(&mut data));
    one(
        "detach_borrowed",
        &mut Modify::borrowed(&mut data, Change::Detach),
    );
    one(
        "move_borrowed",
        &mut Modify::borrowed(&mut data, Change::Move),
    );

    let cases = list_cases(&data);
    let mut i = 0;
    while i < cases.len() {
        let name = cases[i].group;
        let mut group = c.benchmark_group(name);
        while i < cases.len() && cases[i].group == name {
            bench_list(&mut group, &data, &cases[i]);
            i += 1;
        }
        group.finish();
    }
}

/// Benches the list `case` of `data`, once its `total_count` is checked.
fn bench_list(group: &mut BenchmarkGroup<'_, WallTime>, data: &RegionData, case: &ListCase) {
    let page = data.ipam.list_ips(support::workload::REGION, &case.request);
    let total = page.expect("valid").total_count;
    assert_eq!(total, case.expected_total, "total_count of {}", case.id());
    bench(
        group,
        &case.id(),
        &mut List {
            ipam: &data.ipam,
            request: &case.request,
        },
    );
}

/// What the MAC order index changes, on the same region in an engine that keeps it: the calls
/// that change MAC addresses (one group, `mac_order_index`) and the lists by MAC address with no
/// filter (`mac_order_index_list`). Built after `region_ops` is done with its region, so that
/// one region of this size is held at a time.
fn mac_order_ops(c: &mut Criterion) {
    let mut data = region_keeping_mac_order(region_ips());
    let mut group = c.benchmark_group("mac_order_index");
    bench(&mut group, "attach", &mut Attach::new(&mut data));
    bench(
        &mut group,
        "detach",
        &mut Modify::new(&mut data, Change::Detach),
    );
    bench(
        &mut group,
        "move",
        &mut Modify::new(&mut data, Change::Move),
    );
    group.finish();
    let mut group = c.benchmark_group("mac_order_index_list");
    let cases = list_cases(&data);
    for case in cases
        .iter()
        .filter(|c| c.by_mac() && c.group.starts_with("list_unfiltered"))
    {
        bench_list(&mut group, &data, case);
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    targets = floor, book_v4, release_in_subnet, book_v6, region_ops, mac_order_ops
}
criterion_main!(benches);
