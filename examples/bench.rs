//! The benchmark harness: one table of every operation's median time, its ratio to the physical
//! floor measured in the same run at the same scale, the engine's heap per booked IP, and the
//! issue's targets with whether each is met.
//!
//! ```text
//! cargo run --release --example bench [-- --ips 1000000 --reps 7 --quick]
//! ```
//!
//! - `--ips N`: IPs in the region the per-IP operations, the lists and the memory figures use
//!   (default 1,000,000; `--ips 10000000` for the 10M load and memory figures). The IPv6 pool
//!   holds `min(N, 1M)` IPs; the IPv4 pools are a /24, a /16 and a /12 whatever N.
//! - `--reps R`: timed batches of about 20 ms per operation (default 7, 5 with `--quick`). Each
//!   batch is timed in chunks of about 200 µs and the median chunk is reported, so a chunk the
//!   scheduler interrupts (the machine may be shared) is an outlier rather than a skewed batch.
//! - `--quick`: shorter batches (about 5 ms instead of 20 ms) and fewer repetitions.
//!
//! The scenarios, the floor and the timing are those of the criterion bench
//! (`benches/support/`); each batch's untimed part keeps the engine at its fill level and the
//! timer's own cost is subtracted. Heap figures come from a counting global allocator: the heap
//! an engine holds after it is built, divided by its booked IPs.

// Figures for people: float conversions of counts and times are fine here.
#![allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]

// Criterion ids the harness does not print.
#[allow(dead_code)]
#[path = "../benches/support/mod.rs"]
mod support;

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use counting_alloc::{heap, peak, reset_peak};

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use ipam_engine::{BookIpRequest, CustomResource, Error, MoveIpRequest, Source};
use ipnet::IpNet;
use support::floor::{Floor, FloorBook, FloorGet};
use support::measure::{drive, drive_chunks, timer_overhead, Op};
use support::workload::{
    booked_owned_at, engine, list_cases, mac_of, network, other_mac_of, project, region,
    region_keeping_mac_order, region_loaded, v4_fills, v4_pool, v4_pool_padded, v6_pool, Attach,
    BookAuto, BookSpecific, BookSpread, Change, Churn, Get, List, ListCase, ListKind, Load, Modify,
    Pool, RegionData, Release, ReleaseInPool, ReleaseOrder, REGION, SUBNET_HELD,
};

/// Builds something and returns it with the heap it holds afterwards.
fn with_heap<T>(build: impl FnOnce() -> T) -> (T, usize) {
    let before = heap();
    let value = build();
    (value, heap().saturating_sub(before))
}

struct Config {
    ips: usize,
    reps: usize,
    batch_ns: f64,
}

impl Config {
    fn from_args() -> Self {
        let args: Vec<String> = std::env::args().skip(1).collect();
        if args.iter().any(|a| a == "--help" || a == "-h") {
            println!(
                "usage: cargo run --release --example bench [-- --ips N] [--reps R] [--quick]"
            );
            std::process::exit(0);
        }
        let value = |name: &str| -> Option<usize> {
            let i = args.iter().position(|a| a == name)?;
            let v = args.get(i + 1)?;
            Some(v.replace('_', "").parse().unwrap_or_else(|_| {
                eprintln!("{name} expects a number, found {v}");
                std::process::exit(2)
            }))
        };
        let quick = args.iter().any(|a| a == "--quick");
        Self {
            ips: value("--ips").unwrap_or(1_000_000).max(1),
            reps: value("--reps").unwrap_or(if quick { 5 } else { 7 }).max(1),
            batch_ns: if quick { 5e6 } else { 20e6 },
        }
    }
}

/// Timed chunks last about this long (or one call, when a call takes longer), so that a chunk
/// the scheduler interrupts is an outlier the median drops rather than a skewed batch.
const CHUNK_NS: f64 = 200e3;

/// How many calls a batch of an operation makes, in chunks of how many, and how many batches
/// to time.
struct Plan {
    calls: u64,
    chunk: usize,
    reps: usize,
}

/// The [`Plan`] for `op`: probes with two single calls, then growing call counts (which also
/// warms up) until a probe takes a tenth of `batch_ns` and one 8 times longer agrees within
/// 2x; batches of about `batch_ns` in chunks of about [`CHUNK_NS`]. When one call alone takes
/// more than ten batches' time, 3 batches.
fn plan(op: &mut dyn Op, config: &Config) -> Plan {
    let per_call = |calls: u64, op: &mut dyn Op| drive(op, calls).as_nanos() as f64 / calls as f64;
    let mut calls = 1;
    // Two single calls: a one-time cost in the first (a table's first growth) is not the cost of
    // a call, while a call that is truly slow is slow twice.
    let mut ns = per_call(1, op).min(per_call(1, op)).max(1.0);
    loop {
        while ns * (calls as f64) < config.batch_ns / 10.0 && calls < 20_000 {
            calls *= 8;
            ns = per_call(calls, op).max(1.0);
        }
        if calls >= 20_000 {
            break;
        }
        // A probe 8 times longer checks the one that ended the growth: an operation that first
        // touches cold state (the bookings round-robin over the networks, at 35 µs a call for
        // their first hundred) would otherwise be timed in chunks of a few calls, each cold
        // again after its restore, at 3x the cost of a warm call.
        let longer = per_call(calls * 8, op).max(1.0);
        if longer * 2.0 > ns {
            ns = ns.min(longer);
            break;
        }
        calls *= 8;
        ns = longer;
    }
    Plan {
        calls: (config.batch_ns / ns).clamp(1.0, 200_000.0) as u64,
        chunk: (CHUNK_NS / ns).max(1.0) as usize,
        reps: if ns > 10.0 * config.batch_ns {
            config.reps.min(3)
        } else {
            config.reps
        },
    }
}

/// Times one batch of `op`, adding each chunk's ns per call to `samples`.
fn batch(op: &mut dyn Op, plan: &Plan, samples: &mut Vec<f64>) {
    drive_chunks(op, plan.calls, plan.chunk, |n, d| {
        samples.push(d.as_nanos() as f64 / n as f64);
    });
}

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Median ns per call of `op`: the median chunk of its [`plan`]'s batches.
fn measure(op: &mut dyn Op, config: &Config) -> f64 {
    let plan = plan(op, config);
    let mut samples = Vec::new();
    for _ in 0..plan.reps {
        batch(op, &plan, &mut samples);
    }
    median(samples)
}

/// [`measure`] of `op` and of `floor` at once, one batch of each in turn, so that both see the
/// same phases of a shared machine (whose speed drifts by up to 2x from one minute to the
/// next): the medians of `op` and of `floor`. Also for two operations whose ratio is a target.
fn measure_against(op: &mut dyn Op, floor: &mut dyn Op, config: &Config) -> (f64, f64) {
    let op_plan = plan(op, config);
    let floor_plan = plan(floor, config);
    let (mut op_samples, mut floor_samples) = (Vec::new(), Vec::new());
    for _ in 0..op_plan.reps.max(floor_plan.reps) {
        batch(op, &op_plan, &mut op_samples);
        batch(floor, &floor_plan, &mut floor_samples);
    }
    (median(op_samples), median(floor_samples))
}

/// Floors of at most this many live entries are kept and timed again beside each row compared
/// with them; larger ones are timed once, at the start, and dropped. A floor's figure drifts
/// with the machine's phases as much as the rows do (by up to 2x from one minute to the next
/// here), but a 10M-entry floor (1.8 GiB) held beside a 10M-IP engine would slow both: twice
/// the memory for the processor's page walks, whose tables then no longer stay in cache.
const PAIRED_MAX: usize = 1_000_000;

/// The floor at one scale: its figures timed at the start ([`FloorKind`] order) and, when
/// small, the floor itself.
struct FloorTier {
    live: usize,
    floor: Option<Floor>,
    alone_ns: [f64; 3],
}

/// Which floor an operation is compared with.
#[derive(Clone, Copy)]
enum FloorKind {
    Book,
    Get,
    /// The get floor with each lookup waiting for the previous one.
    ChainedGet,
}

impl FloorKind {
    /// Every kind, in the order of their discriminants: a tier's figures are indexed by them.
    const ALL: [FloorKind; 3] = [FloorKind::Book, FloorKind::Get, FloorKind::ChainedGet];

    fn name(self) -> &'static str {
        match self {
            FloorKind::Book => "book",
            FloorKind::Get => "get",
            FloorKind::ChainedGet => "chained get",
        }
    }

    /// What its rows call it.
    fn label(self) -> &'static str {
        match self {
            FloorKind::ChainedGet => "get, each lookup after the last",
            _ => self.name(),
        }
    }

    /// This floor of `floor`, as an operation to time.
    fn op(self, floor: &mut Floor) -> Box<dyn Op + '_> {
        match self {
            FloorKind::Book => Box::new(FloorBook(floor)),
            FloorKind::Get => Box::new(FloorGet::new(floor)),
            FloorKind::ChainedGet => Box::new(FloorGet::chained(floor)),
        }
    }
}

/// What a row compared with a floor shows besides its figures.
struct RowSpec {
    name: String,
    live: usize,
    bytes_per_ip: Option<f64>,
    max_ratio: Option<f64>,
    max_ns: Option<f64>,
}

impl FloorTier {
    /// The row of `op` against this tier's `kind` floor: the two timed in turn
    /// ([`measure_against`]) when the floor is kept, else `op` alone against the figure timed
    /// at the start.
    fn row(&mut self, kind: FloorKind, op: &mut dyn Op, config: &Config, spec: RowSpec) -> Row {
        let (ns, floor_ns) = match &mut self.floor {
            Some(floor) => measure_against(op, &mut *kind.op(floor), config),
            None => (measure(op, config), self.alone_ns[kind as usize]),
        };
        let when = if self.floor.is_some() { "" } else { " (start)" };
        op_row(
            spec,
            ns,
            floor_ns,
            format!("{}@{} {}{when}", kind.name(), self.live, time(floor_ns)),
        )
    }
}

/// The floor tier nearest to `live` (on a log scale).
fn nearest(floors: &mut [FloorTier], live: usize) -> &mut FloorTier {
    let distance = |f: &FloorTier| ((live.max(1) as f64).ln() - (f.live as f64).ln()).abs();
    floors
        .iter_mut()
        .min_by(|a, b| distance(a).total_cmp(&distance(b)))
        .expect("at least one floor")
}

#[derive(Default)]
struct Row {
    section: Option<String>,
    name: String,
    live: Option<usize>,
    value: String,
    ratio: Option<f64>,
    floor: String,
    bytes_per_ip: Option<f64>,
    target: String,
    met: Option<bool>,
}

#[derive(Default)]
struct Table {
    rows: Vec<Row>,
}

impl Table {
    fn section(&mut self, title: impl Into<String>) {
        self.rows.push(Row {
            section: Some(title.into()),
            ..Row::default()
        });
    }

    fn push(&mut self, row: Row) {
        // Progress on stderr, so a long run shows it is alive; the table goes to stdout.
        eprintln!("  {} {}", row.name, row.value);
        self.rows.push(row);
    }

    fn print(&self) {
        let mut out = String::new();
        let header = format!(
            "{:<50} {:>9} {:>10} {:>8} {:<14} {:>7}  {:<22} {}",
            "operation", "live", "median", "x floor", "floor", "B/IP", "target", "met"
        );
        let _ = writeln!(out, "{header}");
        let _ = writeln!(out, "{}", "-".repeat(header.chars().count()));
        for r in &self.rows {
            if let Some(title) = &r.section {
                let _ = writeln!(out, "{title}");
                continue;
            }
            let live = r.live.map(|l| l.to_string()).unwrap_or_default();
            let ratio = r.ratio.map(|x| format!("{x:.2}x")).unwrap_or_default();
            let bytes = r
                .bytes_per_ip
                .map(|b| format!("{b:.0}"))
                .unwrap_or_default();
            let met = match r.met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            };
            let _ = writeln!(
                out,
                "  {:<48} {:>9} {:>10} {:>8} {:<14} {:>7}  {:<22} {}",
                r.name, live, r.value, ratio, r.floor, bytes, r.target, met
            );
        }
        print!("{out}");
    }
}

fn time(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

fn bytes(n: f64) -> String {
    if n < 10_240.0 {
        format!("{n:.0} B")
    } else if n < 10_485_760.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{:.1} MiB", n / 1_048_576.0)
    }
}

/// A row for an operation compared with a floor: `<= max_ratio x floor`, and optionally
/// `<= max_ns`.
fn op_row(spec: RowSpec, ns: f64, floor_ns: f64, floor_label: String) -> Row {
    let ratio = ns / floor_ns;
    let mut target = Vec::new();
    let mut met = None;
    if let Some(max) = spec.max_ns {
        target.push(format!("<= {}", time(max)));
        met = Some(ns <= max);
    }
    if let Some(max) = spec.max_ratio {
        target.push(format!("<= {max}x floor"));
        met = Some(met.unwrap_or(true) && ratio <= max);
    }
    Row {
        name: spec.name,
        live: Some(spec.live),
        value: time(ns),
        ratio: Some(ratio),
        floor: floor_label,
        bytes_per_ip: spec.bytes_per_ip,
        target: target.join(", "),
        met,
        ..Row::default()
    }
}

/// Makes an operation over a region.
type Make = for<'a> fn(&'a mut RegionData) -> Box<dyn Op + 'a>;

/// The calls that change an IP's MAC address, owned and borrowed: timed on the default engine
/// and again on one that keeps the MAC order index.
const MAC_CHANGES: [(&str, Make); 6] = [
    ("attach", |d| Box::new(Attach::new(d))),
    ("detach", |d| Box::new(Modify::new(d, Change::Detach))),
    ("move", |d| Box::new(Modify::new(d, Change::Move))),
    ("attach_ip_ref", |d| Box::new(Attach::borrowed(d))),
    ("detach_ip_ref", |d| {
        Box::new(Modify::borrowed(d, Change::Detach))
    }),
    ("move_ip_ref", |d| {
        Box::new(Modify::borrowed(d, Change::Move))
    }),
];

/// Heap per booked IP, when there are enough IPs for the figure to mean something.
fn per_ip(heap: usize, live: usize) -> Option<f64> {
    (live >= 1000).then(|| heap as f64 / live as f64)
}

/// The row of an engine heap of `heap` bytes holding `live` IPs, with `max` bytes per IP as
/// its target if any.
fn heap_row(name: &str, heap: usize, live: usize, max: Option<f64>) -> Row {
    let bytes_per_ip = per_ip(heap, live);
    Row {
        name: format!("{name} ({})", bytes(heap as f64)),
        live: Some(live),
        value: bytes(heap as f64 / live as f64),
        bytes_per_ip,
        target: max.map(|m| format!("<= {m} B/IP")).unwrap_or_default(),
        met: max.and_then(|m| bytes_per_ip.map(|b| b <= m)),
        ..Row::default()
    }
}

/// The row of the slowest call of a run, `slowest`, on a region of `live` IPs.
fn slowest_row(name: String, live: usize, slowest: Duration) -> Row {
    Row {
        name,
        live: Some(live),
        value: time(slowest.as_nanos() as f64),
        ..Row::default()
    }
}

fn floors(config: &Config, table: &mut Table) -> Vec<FloorTier> {
    let mut tiers = vec![250, SUBNET_HELD, 65_536, 1_000_000, config.ips];
    tiers.sort_unstable();
    tiers.dedup();
    table.section("floor (roaring min+remove, uuid draw, 128 B record push + uuid->u32 insert)");
    let mut out = Vec::new();
    for live in tiers {
        let (floor, alone_ns) = timed_floor(live, config, table, "");
        out.push(FloorTier {
            live,
            floor: (live <= PAIRED_MAX).then_some(floor),
            alone_ns,
        });
    }
    out
}

/// A floor of `live` entries, built and timed alone, each kind in turn; a row per kind, its
/// name ending with `suffix`.
fn timed_floor(live: usize, config: &Config, table: &mut Table, suffix: &str) -> (Floor, [f64; 3]) {
    let mut floor = Floor::new(live, 1);
    let alone_ns = FloorKind::ALL.map(|kind| measure(&mut *kind.op(&mut floor), config));
    for (kind, ns) in FloorKind::ALL.into_iter().zip(alone_ns) {
        table.push(Row {
            name: format!("floor {}{suffix}", kind.label()),
            live: Some(live),
            value: time(ns),
            ..Row::default()
        });
    }
    (floor, alone_ns)
}

/// The floors timed only at the start (larger than [`PAIRED_MAX`]), built and timed again once
/// every engine is gone. The rows were judged against the start's figures; these show how far
/// the machine's phase moved the floor meanwhile (at 10M, the get floor read 186 ns at the
/// start of one run and 366 ns at the start of the next, which then met every target the first
/// had missed six of).
fn floors_again(config: &Config, floors: &[FloorTier], table: &mut Table) {
    let unpaired: Vec<&FloorTier> = floors.iter().filter(|t| t.floor.is_none()).collect();
    if unpaired.is_empty() {
        return;
    }
    table.section("floors timed at the start only, timed again at the end (not used for ratios)");
    for tier in unpaired {
        let (_, again) = timed_floor(tier.live, config, table, " (end)");
        for ((kind, start), end) in FloorKind::ALL.into_iter().zip(tier.alone_ns).zip(again) {
            table.push(Row {
                name: format!("floor {}, end / start", kind.label()),
                live: Some(tier.live),
                value: format!("{:.2}x", end / start),
                ..Row::default()
            });
        }
    }
}

fn v4_pools(config: &Config, floors: &mut [FloorTier], table: &mut Table) {
    table.section(
        "book auto IPv4 with book_ip_ref (the IP borrowed), or book_ip (owned); book alone (chunk released untimed)",
    );
    let mut churn_rows = Vec::new();
    let mut churn_ratios = Vec::new();
    for prefix in [24u8, 16, 12] {
        let mut churn_at = Vec::new();
        // The 99% pool of a /16 or /12, kept for the churn timed in turn with the padded 1%
        // pool's below.
        let mut full = None;
        for &percent in v4_fills(prefix) {
            let (mut pool, heap) = with_heap(|| v4_pool(prefix, percent));
            let live = pool.live;
            let floor = nearest(floors, live);
            let label = pool.label.clone();
            let bytes_per_ip = per_ip(heap, live);
            let max_ns = (prefix == 16).then_some(250.0);
            // The 1% pools are churned only.
            let ways: &[(bool, &str)] = match percent {
                1 => &[],
                p if booked_owned_at(p) => &[(false, "book_ip_ref"), (true, "book_ip")],
                _ => &[(false, "book_ip_ref")],
            };
            for &(owned, call) in ways {
                let mut op = BookAuto::new(&mut pool, owned);
                let spec = RowSpec {
                    name: format!("book auto v4 {label}, {call}"),
                    live,
                    bytes_per_ip,
                    max_ratio: Some(3.0),
                    max_ns,
                };
                table.push(floor.row(FloorKind::Book, &mut op, config, spec));
            }
            if !booked_owned_at(percent) {
                let ns = measure(&mut Churn { pool: &mut pool }, config);
                churn_at.push((percent, ns));
                churn_rows.push(Row {
                    name: format!("churn v4 (book+release) {label}"),
                    live: Some(live),
                    value: time(ns),
                    bytes_per_ip,
                    ..Row::default()
                });
            }
            if percent == 99 && prefix != 24 {
                full = Some(pool);
            }
        }
        let ns_at = |p| churn_at.iter().find(|(q, _)| *q == p).map(|(_, ns)| *ns);
        if let (Some(low), Some(high)) = (ns_at(1), ns_at(99)) {
            churn_ratios.push((prefix, high / low, false));
        }
        // The same 1% pool in a region padded to the 99% pool's size: fill alone differs. The
        // two churns are timed in turn, a batch of each, as the rows and their floors are: timed
        // one after the other, a phase of the machine that slowed one of them (the 99% churn
        // read 245-248 ns in two runs, 144-151 in six) moved their ratio past the target.
        if let Some(mut full) = full {
            let capacity = (1usize << (32 - prefix)) - 4;
            let live_99 = capacity * 99 / 100;
            let mut pool = v4_pool_padded(prefix, 1, live_99);
            let (high, low) = measure_against(
                &mut Churn { pool: &mut full },
                &mut Churn { pool: &mut pool },
                config,
            );
            churn_rows.push(Row {
                name: format!("churn v4 (book+release) {}", pool.label),
                live: Some(live_99),
                value: time(low),
                ..Row::default()
            });
            churn_rows.push(Row {
                name: format!("churn v4 (book+release) {}, timed in turn", full.label),
                live: Some(full.live),
                value: time(high),
                ..Row::default()
            });
            churn_ratios.push((prefix, high / low, true));
        }
    }
    table.section("book+release churn, both timed");
    for row in churn_rows {
        table.push(row);
    }
    for (prefix, ratio, padded) in churn_ratios {
        // The target is judged at the same scale: the 1% pool in a region of the 99% one's size.
        let has_target = padded;
        table.push(Row {
            name: if padded {
                format!("churn 99% / churn 1%, /{prefix}, same region size, timed in turn")
            } else {
                format!("churn 99% / churn 1%, /{prefix}, 1% region smaller")
            },
            value: format!("{ratio:.2}"),
            target: if has_target {
                "<= 1.5".into()
            } else {
                String::new()
            },
            met: has_target.then_some(ratio <= 1.5),
            ..Row::default()
        });
    }
}

/// Release in one /16 subnet holding [`SUBNET_HELD`] IPs (and nothing else in the region), in
/// each [`ReleaseOrder`].
fn release_rows(config: &Config, floors: &mut [FloorTier], table: &mut Table) {
    table.section(format!(
        "release in one /16 subnet holding {SUBNET_HELD} IPs (each chunk's IPs booked again untimed)"
    ));
    let floor = nearest(floors, SUBNET_HELD);
    for order in ReleaseOrder::ALL {
        let mut pool = v4_pool(16, 0);
        let mut op = ReleaseInPool::new(&mut pool, SUBNET_HELD, order);
        let spec = RowSpec {
            name: format!("release, {}", order.name()),
            live: SUBNET_HELD,
            bytes_per_ip: None,
            max_ratio: Some(3.0),
            max_ns: None,
        };
        table.push(floor.row(FloorKind::Book, &mut op, config, spec));
    }
}

fn v6_pools(config: &Config, floors: &mut [FloorTier], table: &mut Table) {
    table.section("book auto IPv6 in a /64 with book_ip_ref or book_ip, book alone");
    for ips in [0, config.ips.min(1_000_000)] {
        let (mut pool, heap): (Pool, usize) = with_heap(|| v6_pool(ips));
        let floor = nearest(floors, ips);
        let label = pool.label.clone();
        for (owned, call) in [(false, "book_ip_ref"), (true, "book_ip")] {
            let mut op = BookAuto::new(&mut pool, owned);
            let spec = RowSpec {
                name: format!("book auto v6 {label}, {call}"),
                live: ips,
                bytes_per_ip: per_ip(heap, ips),
                max_ratio: (ips > 0).then_some(3.0),
                max_ns: None,
            };
            table.push(floor.row(FloorKind::Book, &mut op, config, spec));
        }
    }
}

/// The row of the list `case` of `data`, named with `suffix`: its median time, with `max_ns`
/// as its target if any; met also needs an exact `total_count` (a wrong one fails the row, with
/// or without a target).
fn list_row(
    data: &RegionData,
    case: &ListCase,
    config: &Config,
    max_ns: Option<f64>,
    suffix: &str,
) -> Row {
    let response = data.ipam.list_ips(REGION, &case.request).expect("valid");
    let exact = response.total_count == case.expected_total;
    let ns = measure(
        &mut List {
            ipam: &data.ipam,
            request: &case.request,
        },
        config,
    );
    let mut target = max_ns
        .map(|m| format!("<= {}", time(m)))
        .unwrap_or_default();
    if !exact {
        let _ = write!(
            target,
            " total {} != {}",
            response.total_count, case.expected_total
        );
    }
    let past_end =
        u64::from(case.request.page - 1) * u64::from(case.request.page_size) >= case.expected_total;
    Row {
        name: format!(
            "{} ({} hits{}){suffix}",
            case.label(),
            case.expected_total,
            if past_end { ", page past the end" } else { "" }
        ),
        live: Some(data.ids.len()),
        value: time(ns),
        target,
        met: max_ns
            .map(|m| ns <= m && exact)
            .or((!exact).then_some(false)),
        ..Row::default()
    }
}

/// Moves every IP of `data` to another MAC address and back.
fn move_away_and_back(data: &mut RegionData) {
    for (i, &id) in data.ids.iter().enumerate() {
        for (from, to) in [(mac_of(i), other_mac_of(i)), (other_mac_of(i), mac_of(i))] {
            let request = MoveIpRequest {
                from_resource: CustomResource::new(from),
                to_resource: Some(CustomResource::new(to)),
            };
            let ip = data
                .ipam
                .move_ip_ref(REGION, id, request)
                .expect("attached");
            std::hint::black_box(ip.id());
        }
    }
}

/// The rows that the MAC order index ([`ipam_engine::IpamBuilder::mac_order_index`]) changes,
/// on a region like [`region_rows`]' in an engine that keeps it: the calls that change MAC
/// addresses, the lists by MAC address and the heap. Not counted in the targets, which are
/// the default engine's.
fn mac_order_rows(config: &Config, floors: &mut [FloorTier], table: &mut Table) {
    let (mut data, heap_built) = with_heap(|| region_keeping_mac_order(config.ips));
    let engine_heap = heap_built.saturating_sub(data.side_bytes());
    let ((), heap_logged) = with_heap(|| move_away_and_back(&mut data));
    let n = data.ids.len();
    let floor = nearest(floors, n);
    let bytes_per_ip = per_ip(engine_heap, n);
    table.section(
        "with the MAC order index (IpamBuilder::mac_order_index(true)), same region; not counted in the targets",
    );
    for (name, make) in MAC_CHANGES {
        let spec = RowSpec {
            name: format!("{name}, MAC order"),
            live: n,
            bytes_per_ip,
            max_ratio: None,
            max_ns: None,
        };
        table.push(floor.row(FloorKind::Book, &mut *make(&mut data), config, spec));
    }
    for case in list_cases(&data).iter().filter(|c| c.by_mac()) {
        table.push(list_row(&data, case, config, None, ", MAC order"));
    }
    // Last, as it leaves the region compacted: the compaction renumbers the index's keys too.
    let (pause, releases) = compaction_pause(&mut data);
    let name = format!("slowest of {releases} releases, a compaction, MAC order");
    table.push(slowest_row(name, n, pause));
    table.push(heap_row("engine heap, MAC order", engine_heap, n, None));
    let moved = engine_heap + heap_logged;
    table.push(heap_row(
        "engine heap, all moved and back, MAC order",
        moved,
        n,
        None,
    ));
}

fn region_rows(config: &Config, floors: &mut [FloorTier], table: &mut Table) {
    // The peak over what is already held (the small floors, kept for the rows below).
    reset_peak();
    let held = heap();
    let (mut data, heap_built) = with_heap(|| region(config.ips));
    let engine_heap = heap_built.saturating_sub(data.side_bytes());
    // Before the changes below, which grow the update and attach logs: the load's own peak.
    let peak = peak().saturating_sub(held);
    // Every IP moved to another MAC and back (its update and attachment times bumped twice),
    // before the rows: the logs then hold an entry for each, and stale ones, as in a region
    // whose IPs have all been changed since booked.
    let ((), heap_logged) = with_heap(|| move_away_and_back(&mut data));
    let changed_heap = engine_heap + heap_logged;
    let n = data.ids.len();
    let floor = nearest(floors, n);
    let bytes_per_ip = per_ip(engine_heap, n);

    table.section("one call on a region of N IPs (2 tags + MAC each), scattered IPs");
    // The spread bookings carry no target of their own (the book <= 3x target is on the pool
    // rows above): they show what `book_ips` saves when consecutive requests go to unrelated
    // networks.
    let targeted: [(&str, Make); 5] = [
        ("book specific", |d| Box::new(BookSpecific::new(d))),
        ("release", |d| Box::new(Release::new(d))),
        ("update tags, to 2 tags new to the region", |d| {
            Box::new(Modify::new(d, Change::UpdateTags))
        }),
        ("update tags, to 2 tags in use", |d| {
            Box::new(Modify::new(d, Change::Retag))
        }),
        ("update_ip_ref, to 2 tags new to the region", |d| {
            Box::new(Modify::borrowed(d, Change::UpdateTags))
        }),
    ];
    let spread: [(&str, Make); 2] = [
        ("book auto v4, networks round-robin, book_ip", |d| {
            Box::new(BookSpread::new(d, false))
        }),
        ("book auto v4, networks round-robin, book_ips", |d| {
            Box::new(BookSpread::new(d, true))
        }),
    ];
    let ops = targeted
        .into_iter()
        .chain(MAC_CHANGES)
        .map(|(name, make)| (name, make, Some(3.0)))
        .chain(spread.into_iter().map(|(name, make)| (name, make, None)));
    for (name, make, target) in ops {
        let spec = RowSpec {
            name: name.to_owned(),
            live: n,
            bytes_per_ip,
            max_ratio: target,
            max_ns: None,
        };
        let row = floor.row(FloorKind::Book, &mut *make(&mut data), config, spec);
        table.push(row);
    }
    let get_rows = [
        ("get by id (owned Ip)", false, FloorKind::Get),
        ("get by id (borrowed, Ipam::ip)", true, FloorKind::Get),
        (
            "get by id (borrowed) vs chained floor",
            true,
            FloorKind::ChainedGet,
        ),
    ];
    for (name, borrowed, kind) in get_rows {
        let spec = RowSpec {
            name: name.to_owned(),
            live: n,
            bytes_per_ip,
            max_ratio: matches!(kind, FloorKind::Get).then_some(2.0),
            max_ns: None,
        };
        let mut op = if borrowed {
            Get::borrowed(&data)
        } else {
            Get::new(&data)
        };
        table.push(floor.row(kind, &mut op, config, spec));
    }

    let mut group = "";
    for case in list_cases(&data) {
        if case.group != group {
            group = case.group;
            table.section(format!(
                "{group}: page_size 100, met also needs an exact total_count"
            ));
        }
        let default_order = case.request.order_by == ipam_engine::OrderBy::CreatedAtDesc;
        let created = matches!(
            case.request.order_by,
            ipam_engine::OrderBy::CreatedAtAsc | ipam_engine::OrderBy::CreatedAtDesc
        );
        let max_ns = match case.kind {
            ListKind::ResourceId | ListKind::Mac | ListKind::IpIds => Some(30e3),
            ListKind::PrivateNetwork if default_order => Some(30e3),
            ListKind::Tag if default_order => Some(2e6),
            ListKind::UnfilteredDeep if created => Some(200e3),
            _ => None,
        };
        table.push(list_row(&data, &case, config, max_ns, ""));
    }

    table.section(
        "memory, load and the compaction pause (2 short tags + attached custom resource per IP)",
    );
    let name = format!("engine heap, {n} IPs");
    table.push(heap_row(&name, engine_heap, n, Some(250.0)));
    let name = "engine heap, every IP then moved away and back";
    table.push(heap_row(name, changed_heap, n, Some(250.0)));
    table.push(Row {
        name: "peak heap while loading, per IP".to_owned(),
        live: Some(n),
        value: bytes(peak as f64 / n as f64),
        ..Row::default()
    });
    let at_10m = n >= 10_000_000;
    // `targeted`: the row carries the 10M load target.
    let load_row = |name: &str, load: Duration, targeted: bool| {
        let load = load.as_secs_f64();
        let target = match (targeted, at_10m) {
            (false, _) => String::new(),
            (true, true) => "<= 20 s for 10M".into(),
            (true, false) => "(10M: --ips 10000000)".into(),
        };
        Row {
            name: format!("load, {name} ({:.2} µs/IP)", load * 1e6 / n as f64),
            live: Some(n),
            value: format!("{load:.2} s"),
            target,
            met: (targeted && at_10m).then_some(load <= 20.0 * n as f64 / 10_000_000.0),
            ..Row::default()
        }
    };
    table.push(load_row("round-robin, book_ip", data.load, true));
    // Last, as it leaves the region compacted: the one long release.
    let (pause, releases) = compaction_pause(&mut data);
    let name = format!("slowest of {releases} releases, a compaction");
    table.push(slowest_row(name, n, pause));
    drop(data);
    // The same region, booked 256 requests to a `book_ips` call: the bulk loader's way.
    let batched = region_loaded(n, Load::RoundRobinBatched);
    table.push(load_row("round-robin, book_ips", batched.load, true));
    drop(batched);
    // The same load with each Private Network filled before the next: fewer structures touched
    // per booking, as when networks are populated one at a time.
    let in_turn = region_loaded(n, Load::InTurn);
    table.push(load_row("networks in turn, book_ip", in_turn.load, false));
    drop(in_turn);
    // The same load, reserved, each call timed: the room `reserve` sets aside is taken or
    // first written by the bookings that use it.
    let reserved = region_loaded(n, Load::RoundRobinTimed);
    let slowest = reserved.slowest_booking.expect("timed");
    drop(reserved);
    let name = "slowest booking of the load, with Ipam::reserve".to_owned();
    table.push(slowest_row(name, n, slowest));
    // The same load into an engine not told how many IPs come: its structures grow as they
    // come, and the call that grows one pays for it.
    let unreserved = region_loaded(n, Load::Unreserved);
    let slowest = unreserved.slowest_booking.expect("timed when unreserved");
    let name = "slowest booking of the load, without Ipam::reserve".to_owned();
    table.push(slowest_row(name, n, slowest));
}

/// The slowest release of rounds that book fresh IPs in the region's networks (in turn, until
/// they are full) and release them all, until more have been released than the region holds:
/// one of those releases must have compacted the region, which happens once released record
/// slots outnumber live IPs. Returns it and the number of releases timed.
fn compaction_pause(data: &mut RegionData) -> (Duration, usize) {
    let live = data.ids.len();
    let (mut slowest, mut released) = (Duration::ZERO, 0);
    while released <= live {
        let mut open: Vec<_> = data.networks.iter().map(|n| n.0).collect();
        let mut fresh = Vec::new();
        let mut k = 0;
        while released + fresh.len() <= live && !open.is_empty() {
            k = (k + 1) % open.len();
            let request = BookIpRequest::new(project(), Source::PrivateNetworkId(open[k]));
            match data.ipam.book_ip_ref(REGION, request) {
                Ok(ip) => fresh.push(ip.id()),
                Err(Error::AddressesExhausted { .. }) => {
                    open.swap_remove(k);
                }
                Err(e) => panic!("booking a fresh IP: {e}"),
            }
        }
        assert!(
            !fresh.is_empty(),
            "no room left to book in the region's networks"
        );
        for id in fresh {
            let start = Instant::now();
            data.ipam
                .release_ip(REGION, id)
                .expect("fresh and unattached");
            slowest = slowest.max(start.elapsed());
            released += 1;
        }
    }
    (slowest, released)
}

/// Heap per Private Network created with `subnets(k)`, amortized over `count` networks in one
/// VPC.
fn network_heap(count: usize, subnets: impl Fn(usize) -> Vec<IpNet>) -> f64 {
    let mut ipam = engine(99);
    // The default VPC and the registry's first allocations are not part of any network.
    network(&mut ipam, &["fdff::/64".parse().expect("valid /64")]);
    let before = heap();
    for k in 0..count {
        network(&mut ipam, &subnets(k));
    }
    let after = heap();
    drop(ipam);
    after.saturating_sub(before) as f64 / count as f64
}

/// Heap per IP of `ips` IPs booked in one /12, each attached by MAC and tagged with a tag no
/// other IP carries (an instance's id, say) and one they all share.
fn own_tag_heap(ips: usize) -> f64 {
    let mut ipam = engine(98);
    let pn = network(&mut ipam, &["10.0.0.0/12".parse().expect("valid /12")]);
    let ((), held) = with_heap(|| {
        for i in 0..ips {
            let request = BookIpRequest::new(project(), Source::PrivateNetworkId(pn))
                .tags(vec![format!("i-{i:08}"), "web".to_owned()])
                .resource(CustomResource::new(mac_of(i)));
            ipam.book_ip_ref(REGION, request).expect("room in the /12");
        }
    });
    held as f64 / ips as f64
}

fn pool_rows(table: &mut Table) {
    const COUNT: usize = 1000;
    const OWN_TAG_IPS: usize = 100_000;
    let v6 = |tag: u16, k: usize| -> IpNet {
        format!("fd{tag:02x}:{k:x}::/64")
            .parse()
            .expect("valid /64")
    };
    let v4 = |k: usize, prefix: u8| -> IpNet {
        let k = k as u32;
        let base = match prefix {
            16 => Ipv4Addr::new(10 + (k / 256) as u8, (k % 256) as u8, 0, 0),
            _ => Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 0, 0, 0)) + (k << (32 - prefix))),
        };
        IpNet::new(IpAddr::V4(base), prefix).expect("valid block")
    };
    let base = network_heap(COUNT, |k| vec![v6(1, k)]);
    let with_64 = network_heap(COUNT, |k| vec![v6(1, k), v6(2, k)]);
    let with_22 = network_heap(COUNT, |k| vec![v6(1, k), v4(k, 22)]);
    let with_16 = network_heap(COUNT, |k| vec![v6(1, k), v4(k, 16)]);
    let only_22 = network_heap(COUNT, |k| vec![v4(k, 22)]);
    let only_16 = network_heap(COUNT, |k| vec![v4(k, 16)]);
    // Heap rows: name, bytes and the most allowed, if there is a target.
    let push = |table: &mut Table, rows: [(&str, f64, Option<f64>); 3]| {
        for (name, b, max) in rows {
            table.push(Row {
                name: name.to_owned(),
                value: bytes(b),
                target: max.map(|m| format!("<= {}", bytes(m))).unwrap_or_default(),
                met: max.map(|m| b <= m),
                ..Row::default()
            });
        }
    };
    table.section(
        "empty pools: heap per network created with just that subnet, amortized over 1000 in one VPC",
    );
    push(
        table,
        [
            ("network with a /22 (engine adds a /64)", only_22, None),
            ("network with a /16 (engine adds a /64)", only_16, None),
            ("network with a /64", base, None),
        ],
    );
    table.section(
        "empty pools: one more subnet in a network (subnet record, id map entry, pool, handle set)",
    );
    push(
        table,
        [
            ("empty /22 subnet and pool", with_22 - base, None),
            ("empty /16 subnet and pool", with_16 - base, Some(1024.0)),
            ("empty /64 subnet and pool", with_64 - base, None),
        ],
    );
    table.section("tags of one IP each: heap per IP, each with a tag of its own, one shared tag and an attached resource");
    table.push(Row {
        name: format!("{OWN_TAG_IPS} IPs in a /12, grown as booked"),
        live: Some(OWN_TAG_IPS),
        value: bytes(own_tag_heap(OWN_TAG_IPS)),
        ..Row::default()
    });
}

/// The 1-minute load average, when the system tells it: other work on the machine skews every
/// figure, so the table says how busy it was.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned())
}

fn main() {
    let config = Config::from_args();
    let wall = Instant::now();
    let load_before = load_average();
    let mut table = Table::default();
    eprintln!(
        "ipam-engine bench: {} IPs, {} reps; progress:",
        config.ips, config.reps
    );
    let mut floors = floors(&config, &mut table);
    v4_pools(&config, &mut floors, &mut table);
    release_rows(&config, &mut floors, &mut table);
    v6_pools(&config, &mut floors, &mut table);
    region_rows(&config, &mut floors, &mut table);
    mac_order_rows(&config, &mut floors, &mut table);
    pool_rows(&mut table);
    floors_again(&config, &floors, &mut table);

    println!(
        "ipam-engine bench: region of {} IPs; per row, {} batches of ~{:.0} ms timed in chunks of ~{:.0} µs, median chunk reported; timer cost {} subtracted per chunk",
        config.ips,
        config.reps,
        config.batch_ns / 1e6,
        CHUNK_NS / 1e3,
        time(timer_overhead().as_nanos() as f64),
    );
    println!(
        "machine: {} CPUs, load average {load_before} at start, {} at end",
        std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        load_average(),
    );
    println!(
        "x floor: median / floor median at the nearest floor scale (book@L, get@L: L live entries); floors of up to {PAIRED_MAX} entries timed again in batches taking turns with the row's, larger ones timed at the start (start)"
    );
    println!("B/IP: heap of the engine the row ran on, divided by its booked IPs");
    println!();
    table.print();
    let missed = table.rows.iter().filter(|r| r.met == Some(false)).count();
    let checked = table.rows.iter().filter(|r| r.met.is_some()).count();
    println!();
    println!(
        "targets met: {} of {checked}; wall time {:.1} s",
        checked - missed,
        wall.elapsed().as_secs_f64()
    );
}

#[cfg(test)]
mod tests {
    use super::support::measure::Walk;

    /// Every index once per `len` steps, then the same order again; never a constant stride.
    #[test]
    fn walk_visits_each_index_once_in_a_scattered_order() {
        for len in (0..70).chain([1000, 4097, 65_536]) {
            let mut walk = Walk::new(len);
            let first: Vec<usize> = (0..len).map(|_| walk.step()).collect();
            let mut seen = first.clone();
            seen.sort_unstable();
            assert!(seen.iter().copied().eq(0..len), "len {len}");
            let again: Vec<usize> = (0..len).map(|_| walk.step()).collect();
            assert_eq!(first, again, "len {len}");
            if len >= 1000 {
                let strides: std::collections::HashSet<isize> = first
                    .windows(2)
                    .map(|w| w[1].cast_signed() - w[0].cast_signed())
                    .collect();
                assert!(
                    strides.len() > len / 2,
                    "len {len}: {} strides",
                    strides.len()
                );
            }
        }
        assert_eq!(Walk::new(0).step(), 0);
        // A chunk picked is the items at the walk's next indices, in its order.
        let items: Vec<u32> = (100..200).collect();
        let (mut walk, mut twin) = (Walk::new(items.len()), Walk::new(items.len()));
        let mut chunk = vec![7];
        walk.pick(&items, 30, &mut chunk);
        let want: Vec<u32> = (0..30).map(|_| items[twin.step()]).collect();
        assert_eq!(chunk, want);
    }
}
