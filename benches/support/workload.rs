//! The benchmarked engines and operations, with fixed seeds, shared by the criterion bench and the
//! harness so both measure exactly the same thing.
//!
//! - A *pool*: one Private Network whose one IPv4 block (/24, /16 or /12) is filled to a given
//!   percentage with the free addresses spread evenly through it, or whose IPv6 /64 holds a given
//!   number of IPs.
//! - A *region*: `n` IPs over Private Networks of 2,500 IPs each (one IPv4 /20 apiece, booked
//!   round-robin), every IP with two short tags (`t00`..`t99`, so each matches 1%, and one of
//!   eight roles) and attached at booking to a custom resource with its own MAC address.

use std::collections::VecDeque;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta};
use ipam_engine::{
    BookIpRequest, CreatePrivateNetworkRequest, CustomResource, IpId, Ipam, Limits, ListIpsRequest,
    MacAddress, ManualClock, MoveIpRequest, OrderBy, PrivateNetworkId, ProjectId, RandomSource,
    Region, ResourceId, SeededRandom, Source, UpdateIpRequest,
};
use ipnet::IpNet;

use super::measure::{Op, Walk};

/// The region every benchmark books in.
pub(crate) const REGION: Region = Region::FrPar;

/// IPs per Private Network in a region.
pub(crate) const PER_NETWORK: usize = 2500;

/// The page number of the deep unfiltered page.
pub(crate) const DEEP_PAGE: u32 = 5000;

/// A seeded engine on a manual clock, allowing IPv4 blocks up to a /12.
pub(crate) fn engine(seed: u64) -> Ipam {
    engine_with(seed, false)
}

/// [`engine`], keeping the MAC order index when `mac_order`
/// ([`ipam_engine::IpamBuilder::mac_order_index`]).
pub(crate) fn engine_with(seed: u64, mac_order: bool) -> Ipam {
    let mut limits = Limits::default();
    limits.min_ipv4_prefix = 12;
    Ipam::builder()
        .clock(ManualClock::new(
            DateTime::from_timestamp(1_767_225_600, 0).expect("valid time"),
            TimeDelta::microseconds(1),
        ))
        .random(SeededRandom::new(seed))
        .limits(limits)
        .mac_order_index(mac_order)
        .build()
}

/// The one Project of every benchmark.
pub(crate) fn project() -> ProjectId {
    ProjectId::from_uuid(uuid::Uuid::from_u64_pair(1, 1))
}

/// A Private Network with exactly `subnets` (plus the /64 the engine adds when none is given).
pub(crate) fn network(ipam: &mut Ipam, subnets: &[IpNet]) -> PrivateNetworkId {
    ipam.create_private_network(
        REGION,
        CreatePrivateNetworkRequest::new(project()).subnets(subnets.iter().copied()),
    )
    .expect("valid network")
    .id
}

/// How many of `0..n` are `r` modulo `m`.
fn count_mod(n: usize, m: usize, r: usize) -> usize {
    if r < n {
        (n - r - 1) / m + 1
    } else {
        0
    }
}

/// An engine whose one Private Network books in one block at a known fill.
pub(crate) struct Pool {
    pub(crate) ipam: Ipam,
    pub(crate) pn: PrivateNetworkId,
    pub(crate) v6: bool,
    /// Booked IPs.
    pub(crate) live: usize,
    /// Free addresses (`usize::MAX` for a /64).
    pub(crate) free: usize,
    /// What it is, for reports: `/16 99%`, `/64 1000000 IPs`.
    pub(crate) label: String,
    /// The same, as a criterion id: `16_fill99`, `64_ips1000000`.
    pub(crate) id: String,
}

/// The fills a `/prefix` IPv4 pool is benched at, by criterion and the harness alike: empty, 1,
/// 50 and 99 %, and for a /16 3 % as well (1,966 IPs), whose subnet holds its handles in a
/// roaring bitmap, past its sorted vector (a /22's worth), which the empty pools' chunks of
/// 1,000 bookings never leave.
pub(crate) fn v4_fills(prefix: u8) -> &'static [usize] {
    if prefix == 16 {
        &[0, 1, 3, 50, 99]
    } else {
        &[0, 1, 50, 99]
    }
}

/// Whether a pool at `percent` is booked with `book_ip` (the IP owned) as well as with
/// `book_ip_ref`: the empty pools, where the copy weighs most, and the /16 at 3 %. Those pools
/// show booking alone, and are not churned.
pub(crate) fn booked_owned_at(percent: usize) -> bool {
    matches!(percent, 0 | 3)
}

/// A `/prefix` IPv4 block filled to `percent`, every hundredth address free at 99%, every
/// hundredth taken at 1%. The taken addresses are booked by address, in ascending order.
pub(crate) fn v4_pool(prefix: u8, percent: usize) -> Pool {
    let mut ipam = engine(u64::from(prefix) * 1000 + percent as u64);
    let base = Ipv4Addr::new(10, 0, 0, 0);
    let net = IpNet::new(IpAddr::V4(base), prefix).expect("valid prefix");
    let pn = network(&mut ipam, &[net]);
    let capacity = (1usize << (32 - prefix)) - 4;
    let mut live = 0;
    for j in 0..capacity {
        if (j + 1) * percent / 100 > j * percent / 100 {
            let address = Ipv4Addr::from(u32::from(base) + 2 + j as u32);
            let request =
                BookIpRequest::new(project(), Source::PrivateNetworkId(pn)).address(address.into());
            ipam.book_ip(REGION, request).expect("free address");
            live += 1;
        }
    }
    Pool {
        ipam,
        pn,
        v6: false,
        live,
        free: capacity - live,
        label: format!("/{prefix} {percent}%"),
        id: format!("{prefix}_fill{percent}"),
    }
}

/// [`v4_pool`], with the region padded by IPs booked in another Private Network (a /12 of
/// `10.16.0.0`) until it holds `region_live` IPs: the pool's fill differs from a fuller pool's
/// while the region's size, and so its caches' behaviour, is the same.
pub(crate) fn v4_pool_padded(prefix: u8, percent: usize, region_live: usize) -> Pool {
    let mut pool = v4_pool(prefix, percent);
    let filler = network(
        &mut pool.ipam,
        &["10.16.0.0/12".parse().expect("valid /12")],
    );
    let request = BookIpRequest::new(project(), Source::PrivateNetworkId(filler));
    for _ in pool.live..region_live {
        pool.ipam
            .book_ip(REGION, request.clone())
            .expect("room in the filler");
    }
    pool.label = format!("{} (region padded to {region_live})", pool.label);
    pool.id = format!("{}_padded", pool.id);
    pool
}

/// An IPv6 /64 holding `ips` automatically booked IPs.
pub(crate) fn v6_pool(ips: usize) -> Pool {
    let mut ipam = engine(64);
    let net: IpNet = "fd00:0:0:1::/64".parse().expect("valid /64");
    let pn = network(&mut ipam, &[net]);
    for _ in 0..ips {
        let request = BookIpRequest::new(project(), Source::PrivateNetworkId(pn)).ipv6(true);
        ipam.book_ip(REGION, request).expect("room");
    }
    Pool {
        ipam,
        pn,
        v6: true,
        live: ips,
        free: usize::MAX,
        label: format!("/64 {ips} IPs"),
        id: format!("64_ips{ips}"),
    }
}

impl Pool {
    /// An automatic booking in the pool's family.
    fn auto_request(&self) -> BookIpRequest {
        BookIpRequest::new(project(), Source::PrivateNetworkId(self.pn)).ipv6(self.v6)
    }

    /// Books `request`, which has room, with `book_ip` (the IP `owned`) or `book_ip_ref`;
    /// returns the new IP's id.
    fn book(&mut self, request: &BookIpRequest, owned: bool) -> IpId {
        let request = request.clone();
        if owned {
            self.ipam.book_ip(REGION, request).expect("room").id
        } else {
            self.ipam.book_ip_ref(REGION, request).expect("room").id()
        }
    }
}

/// Automatic booking alone: `restore` releases what `run` booked, so the fill stays put.
pub(crate) struct BookAuto<'a> {
    pool: &'a mut Pool,
    booked: Vec<IpId>,
    owned: bool,
}

impl<'a> BookAuto<'a> {
    /// Booking with `book_ip`, which returns the new IP owned, or with `book_ip_ref`, which
    /// returns it borrowed.
    pub(crate) fn new(pool: &'a mut Pool, owned: bool) -> Self {
        Self {
            pool,
            booked: Vec::with_capacity(1000),
            owned,
        }
    }
}

impl Op for BookAuto<'_> {
    /// A tenth of the free addresses at most, so a chunk barely moves the fill.
    fn max_chunk(&self) -> usize {
        (self.pool.free / 10).clamp(1, 1000)
    }

    fn run(&mut self, n: usize) {
        let request = self.pool.auto_request();
        for _ in 0..n {
            let id = self.pool.book(&request, self.owned);
            self.booked.push(id);
        }
    }

    fn restore(&mut self, _n: usize) {
        for id in self.booked.drain(..) {
            self.pool.ipam.release_ip(REGION, id).expect("booked");
        }
    }
}

/// A book + release pair, both timed: the churn of a pool at its fill.
pub(crate) struct Churn<'a> {
    pub(crate) pool: &'a mut Pool,
}

impl Op for Churn<'_> {
    fn run(&mut self, n: usize) {
        let request = self.pool.auto_request();
        for _ in 0..n {
            let id = self.pool.book(&request, true);
            self.pool.ipam.release_ip(REGION, id).expect("booked");
        }
    }
}

/// A region of booked IPs.
pub(crate) struct RegionData {
    pub(crate) ipam: Ipam,
    /// Private Networks and the base address of their /20.
    pub(crate) networks: Vec<(PrivateNetworkId, Ipv4Addr)>,
    /// IP `i`'s id; its tags are [`tags_of`]`(i)` and its MAC [`mac_of`]`(i)`.
    pub(crate) ids: Vec<IpId>,
    /// Wall time to create the networks and book every IP.
    pub(crate) load: Duration,
    /// The slowest booking call of the load, when it was timed ([`Load::Unreserved`],
    /// [`Load::RoundRobinTimed`]).
    pub(crate) slowest_booking: Option<Duration>,
}

const ROLES: [&str; 8] = [
    "web", "db", "cache", "batch", "prod", "dev", "blue", "green",
];

/// The tags of IP `i`: `t00`..`t99` (1% each) and a role.
pub(crate) fn tags_of(i: usize) -> [String; 2] {
    [format!("t{:02}", i % 100), ROLES[(i / 100) % 8].to_owned()]
}

/// The MAC address IP `i` is attached to.
pub(crate) fn mac_of(i: usize) -> MacAddress {
    let b = (i as u32).to_be_bytes();
    MacAddress::new([0x02, 0, b[0], b[1], b[2], b[3]])
}

/// The MAC address IP `i` is moved to and back from.
pub(crate) fn other_mac_of(i: usize) -> MacAddress {
    let b = (i as u32).to_be_bytes();
    MacAddress::new([0x06, 0, b[0], b[1], b[2], b[3]])
}

/// `ips` IPs in one region, as the module doc describes, booked round-robin over its Private
/// Networks, one `book_ip` call each.
pub(crate) fn region(ips: usize) -> RegionData {
    region_loaded(ips, Load::RoundRobin)
}

/// How [`region_loaded`] books the IPs. Every way gives the same region.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Load {
    /// Round-robin over the Private Networks, one `book_ip` call each.
    RoundRobin,
    /// Round-robin, each chunk of requests in one `book_ips` call.
    RoundRobinBatched,
    /// Each Private Network filled before the next, one `book_ip` call each.
    InTurn,
    /// [`Load::RoundRobin`], each call timed, for the slowest: what the room [`Ipam::reserve`]
    /// sets aside still costs the calls that first use it (the MAC map takes its room with the
    /// first booking with a MAC address).
    RoundRobinTimed,
    /// Round-robin, one `book_ip` call each, into an engine not told how many IPs come (no
    /// [`Ipam::reserve`]), so that each structure grows as they come; each call is timed, for
    /// the slowest (the growth steps' cost, paid by the calls that take them).
    Unreserved,
}

/// [`region`], with the IPs booked as `how` says.
pub(crate) fn region_loaded(ips: usize, how: Load) -> RegionData {
    region_built(ips, how, false)
}

/// [`region`], in an engine that keeps the MAC order index.
pub(crate) fn region_keeping_mac_order(ips: usize) -> RegionData {
    region_built(ips, Load::RoundRobin, true)
}

fn region_built(ips: usize, how: Load, mac_order: bool) -> RegionData {
    const CHUNK: usize = 256;
    let count = ips.div_ceil(PER_NETWORK).max(1);
    assert!(count <= 4096, "at most 4096 /20 networks fit in 10.0.0.0/8");
    let mut ids = Vec::with_capacity(ips);
    let mut networks = Vec::with_capacity(count);
    let start = Instant::now();
    let mut ipam = engine_with(7, mac_order);
    // A bulk loader knows how many IPs come: no step-by-step growth of the slab and id map.
    if how != Load::Unreserved {
        ipam.reserve(REGION, ips);
    }
    for k in 0..count {
        let base = Ipv4Addr::new(10, (k / 16) as u8, ((k % 16) * 16) as u8, 0);
        let net = IpNet::new(IpAddr::V4(base), 20).expect("valid /20");
        networks.push((network(&mut ipam, &[net]), base));
    }
    // Requests are built outside the timed part, a chunk at a time: the load time is the time
    // spent creating the networks and booking. The chunk is small enough that its requests are
    // still in cache when booked, as a loader's are when it books each one as it reads it: 4,096
    // requests built ahead (about 1 MiB) left the engine reading and freeing cold memory.
    let mut load = start.elapsed();
    let mut requests = Vec::with_capacity(CHUNK);
    let timed = matches!(how, Load::Unreserved | Load::RoundRobinTimed);
    let mut slowest = timed.then_some(Duration::ZERO);
    for chunk in (0..ips).step_by(CHUNK) {
        requests.extend((chunk..(chunk + CHUNK).min(ips)).map(|i| {
            let pn = if how == Load::InTurn {
                networks[i / PER_NETWORK].0
            } else {
                networks[i % count].0
            };
            BookIpRequest::new(project(), Source::PrivateNetworkId(pn))
                .tags(tags_of(i))
                .resource(CustomResource::new(mac_of(i)))
        }));
        let started = Instant::now();
        book_all(
            &mut ipam,
            &mut requests,
            how == Load::RoundRobinBatched,
            &mut ids,
            slowest.as_mut(),
        );
        load += started.elapsed();
    }
    RegionData {
        ipam,
        networks,
        ids,
        load,
        slowest_booking: slowest,
    }
}

/// Books every request of `requests`, which have room, in one `book_ips` call when `batched`
/// and one `book_ip` call each otherwise; appends the new ids to `ids`. With `slowest`, times
/// each `book_ip` call and keeps the slowest there.
fn book_all(
    ipam: &mut Ipam,
    requests: &mut Vec<BookIpRequest>,
    batched: bool,
    ids: &mut Vec<IpId>,
    slowest: Option<&mut Duration>,
) {
    if batched {
        let booked = ipam.book_ips(REGION, requests.drain(..));
        ids.extend(booked.into_iter().map(|ip| ip.expect("room").id));
        return;
    }
    let mut slowest = slowest;
    for request in requests.drain(..) {
        let start = slowest.is_some().then(Instant::now);
        ids.push(ipam.book_ip(REGION, request).expect("room").id);
        if let (Some(slowest), Some(start)) = (slowest.as_deref_mut(), start) {
            *slowest = (*slowest).max(start.elapsed());
        }
    }
}

impl RegionData {
    /// Heap held by this struct beside the engine (the id and network lists).
    pub(crate) fn side_bytes(&self) -> usize {
        self.ids.capacity() * std::mem::size_of::<IpId>()
            + self.networks.capacity() * std::mem::size_of::<(PrivateNetworkId, Ipv4Addr)>()
    }
}

/// Gets an IP by id: the owned [`ipam_engine::Ip`] ([`Ipam::get_ip`]), or `borrowed`, the
/// lookup and a read of its fields in place ([`Ipam::ip`]). The chunk's ids are picked untimed,
/// into a short list the timed calls read in order: read from the region's list of a million
/// at scattered places, each was a cache miss of the bench's own, which cost the engine's calls
/// (long enough to overlap little with the next) far more than the floor's.
pub(crate) struct Get<'a> {
    data: &'a RegionData,
    walk: Walk,
    chunk: Vec<IpId>,
    borrowed: bool,
}

impl<'a> Get<'a> {
    pub(crate) fn new(data: &'a RegionData) -> Self {
        Self {
            data,
            walk: Walk::new(data.ids.len()),
            chunk: Vec::with_capacity(1000),
            borrowed: false,
        }
    }

    pub(crate) fn borrowed(data: &'a RegionData) -> Self {
        Self {
            borrowed: true,
            ..Self::new(data)
        }
    }
}

impl Op for Get<'_> {
    fn prepare(&mut self, n: usize) {
        self.walk.pick(&self.data.ids, n, &mut self.chunk);
    }

    fn run(&mut self, _n: usize) {
        for &id in &self.chunk {
            if self.borrowed {
                let ip = self.data.ipam.ip(REGION, id).expect("live");
                std::hint::black_box((ip.address(), ip.tags().len(), ip.mac_address()));
            } else {
                std::hint::black_box(self.data.ipam.get_ip(REGION, id).expect("live"));
            }
        }
    }
}

/// Books a given free address (above each network's booked range); `restore` releases it.
pub(crate) struct BookSpecific<'a> {
    data: &'a mut RegionData,
    targets: Vec<(PrivateNetworkId, IpAddr)>,
    booked: Vec<IpId>,
}

impl<'a> BookSpecific<'a> {
    pub(crate) fn new(data: &'a mut RegionData) -> Self {
        let count = data.networks.len();
        let targets = (0..1000)
            .map(|j| {
                let (pn, base) = data.networks[(j * 37) % count];
                let offset = 4093 - (j / count) as u32;
                (pn, IpAddr::V4(Ipv4Addr::from(u32::from(base) + offset)))
            })
            .collect();
        Self {
            data,
            targets,
            booked: Vec::with_capacity(1000),
        }
    }
}

impl Op for BookSpecific<'_> {
    fn run(&mut self, n: usize) {
        for &(pn, address) in &self.targets[..n] {
            let request =
                BookIpRequest::new(project(), Source::PrivateNetworkId(pn)).address(address);
            let ip = self
                .data
                .ipam
                .book_ip(REGION, request)
                .expect("free address");
            self.booked.push(ip.id);
        }
    }

    fn restore(&mut self, _n: usize) {
        for id in self.booked.drain(..) {
            self.data.ipam.release_ip(REGION, id).expect("booked");
        }
    }
}

/// Automatic bookings spread round-robin over the region's Private Networks, each with two
/// tags in use and a new custom resource, as in a bulk load: one `book_ip` call each or, when
/// `batched`, one `book_ips` call for the chunk. `prepare` builds the requests, `restore`
/// detaches and releases what was booked.
pub(crate) struct BookSpread<'a> {
    data: &'a mut RegionData,
    batched: bool,
    requests: Vec<BookIpRequest>,
    booked: Vec<IpId>,
    next: usize,
    /// The networks in a scattered order.
    networks: Walk,
}

impl<'a> BookSpread<'a> {
    pub(crate) fn new(data: &'a mut RegionData, batched: bool) -> Self {
        let networks = Walk::new(data.networks.len());
        Self {
            data,
            batched,
            requests: Vec::with_capacity(1000),
            booked: Vec::with_capacity(1000),
            next: 0,
            networks,
        }
    }
}

impl Op for BookSpread<'_> {
    fn prepare(&mut self, n: usize) {
        let live = self.data.ids.len();
        for _ in 0..n {
            // Consecutive requests go to unrelated networks, as in a bulk load.
            let k = self.next;
            self.next += 1;
            let pn = self.data.networks[self.networks.step()].0;
            self.requests.push(
                BookIpRequest::new(project(), Source::PrivateNetworkId(pn))
                    .tags(tags_of(k))
                    .resource(CustomResource::new(mac_of(live + k))),
            );
        }
    }

    fn run(&mut self, _n: usize) {
        book_all(
            &mut self.data.ipam,
            &mut self.requests,
            self.batched,
            &mut self.booked,
            None,
        );
    }

    fn restore(&mut self, _n: usize) {
        let ipam = &mut self.data.ipam;
        for id in self.booked.drain(..) {
            // An attached IP is detached before it is released.
            let mac = ipam.ip(REGION, id).expect("booked").mac_address();
            ipam.detach_ip(REGION, id, CustomResource::new(mac.expect("attached")))
                .expect("attached to its MAC");
            ipam.release_ip(REGION, id).expect("booked");
        }
    }
}

/// IPs the one subnet of the release-order benches holds between chunks: near a roaring
/// container's 4,096 members, where an array container's shifts cost most (with a chunk booked
/// on top and releases noted, the container moves between its array and bitset forms).
pub(crate) const SUBNET_HELD: usize = 4_000;

/// Which of a subnet's IPs a [`ReleaseInPool`] releases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReleaseOrder {
    /// The oldest first, as the IPs of short-lived resources go.
    OldestFirst,
    /// The newest first: each timed chunk releases what its `prepare` booked.
    NewestFirst,
    /// Any of them, drawn by a seeded generator.
    Random,
}

impl ReleaseOrder {
    pub(crate) const ALL: [Self; 3] = [Self::OldestFirst, Self::NewestFirst, Self::Random];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::OldestFirst => "oldest first",
            Self::NewestFirst => "newest first",
            Self::Random => "in random order",
        }
    }
}

/// Releases IPs of one subnet holding `held` of them, in an [`ReleaseOrder`]: `prepare` books
/// as many as the chunk will release (untimed), so the subnet holds `held` between chunks.
pub(crate) struct ReleaseInPool<'a> {
    pool: &'a mut Pool,
    /// The IPs held, oldest first.
    held: VecDeque<IpId>,
    /// The IPs the next chunk releases, in order.
    next: Vec<IpId>,
    order: ReleaseOrder,
    rng: SeededRandom,
}

impl<'a> ReleaseInPool<'a> {
    /// Books `held` IPs in `pool`'s subnet, each with `book_ip`.
    pub(crate) fn new(pool: &'a mut Pool, held: usize, order: ReleaseOrder) -> Self {
        let request = pool.auto_request();
        let held = (0..held).map(|_| pool.book(&request, true)).collect();
        Self {
            pool,
            held,
            next: Vec::new(),
            order,
            rng: SeededRandom::new(3),
        }
    }
}

impl Op for ReleaseInPool<'_> {
    /// A tenth of the IPs held, so a chunk barely changes the subnet.
    fn max_chunk(&self) -> usize {
        (self.held.len() / 10).clamp(1, 1000)
    }

    fn prepare(&mut self, n: usize) {
        let request = self.pool.auto_request();
        for _ in 0..n {
            let id = self.pool.book(&request, true);
            self.held.push_back(id);
        }
        self.next.clear();
        match self.order {
            ReleaseOrder::OldestFirst => self.next.extend(self.held.drain(..n)),
            ReleaseOrder::NewestFirst => {
                let keep = self.held.len() - n;
                self.next.extend(self.held.drain(keep..).rev());
            }
            ReleaseOrder::Random => {
                for _ in 0..n {
                    let at = (self.rng.next_u64() % self.held.len() as u64) as usize;
                    self.next
                        .push(self.held.swap_remove_back(at).expect("an IP held"));
                }
            }
        }
    }

    fn run(&mut self, _n: usize) {
        for &id in &self.next {
            self.pool.ipam.release_ip(REGION, id).expect("booked");
        }
    }
}

/// How many prepared items wait before a timed call uses them: enough for their cache lines to
/// leave the L2 cache (a few MiB), so the timed call does not find them warm from `prepare`.
pub(crate) const AGE: usize = 16_384;

/// Releases an unattached IP booked [`AGE`] bookings earlier; `prepare` books the IPs
/// (untimed). Dropping it releases those still waiting.
pub(crate) struct Release<'a> {
    data: &'a mut RegionData,
    waiting: VecDeque<IpId>,
    next_network: usize,
}

impl<'a> Release<'a> {
    pub(crate) fn new(data: &'a mut RegionData) -> Self {
        let mut op = Self {
            data,
            waiting: VecDeque::with_capacity(AGE + 1000),
            next_network: 0,
        };
        // Small regions have less room than that above their booked addresses.
        let room = op.data.networks.len() * (4092 - PER_NETWORK);
        op.book(AGE.min(room.saturating_sub(1000) / 2));
        op
    }

    fn book(&mut self, n: usize) {
        for _ in 0..n {
            let pn = self.data.networks[self.next_network].0;
            self.next_network = (self.next_network + 1) % self.data.networks.len();
            let request = BookIpRequest::new(project(), Source::PrivateNetworkId(pn));
            let id = self.data.ipam.book_ip(REGION, request).expect("room").id;
            self.waiting.push_back(id);
        }
    }
}

impl Op for Release<'_> {
    fn prepare(&mut self, n: usize) {
        self.book(n);
    }

    fn run(&mut self, n: usize) {
        for id in self.waiting.drain(..n) {
            self.data.ipam.release_ip(REGION, id).expect("booked");
        }
    }
}

impl Drop for Release<'_> {
    fn drop(&mut self) {
        for id in self.waiting.drain(..) {
            self.data.ipam.release_ip(REGION, id).expect("booked");
        }
    }
}

/// Attaches an IP of the region to its MAC again, [`AGE`] detachments after `prepare` detached
/// it (untimed). Dropping it attaches those still waiting.
pub(crate) struct Attach<'a> {
    data: &'a mut RegionData,
    walk: Walk,
    waiting: VecDeque<(usize, IpId)>,
    /// Whether the timed attachments go through `attach_ip_ref` (the IP returned borrowed)
    /// rather than `attach_ip`.
    borrowed: bool,
}

impl<'a> Attach<'a> {
    pub(crate) fn new(data: &'a mut RegionData) -> Self {
        let walk = Walk::new(data.ids.len());
        let mut op = Self {
            data,
            walk,
            waiting: VecDeque::with_capacity(AGE + 1000),
            borrowed: false,
        };
        op.detach(AGE.min(op.data.ids.len() / 2));
        op
    }

    /// [`Attach::new`], with the timed attachments made by `attach_ip_ref`.
    pub(crate) fn borrowed(data: &'a mut RegionData) -> Self {
        let mut op = Self::new(data);
        op.borrowed = true;
        op
    }

    fn detach(&mut self, n: usize) {
        for _ in 0..n {
            let i = self.walk.step();
            let id = self.data.ids[i];
            self.data
                .ipam
                .detach_ip(REGION, id, CustomResource::new(mac_of(i)))
                .expect("attached");
            self.waiting.push_back((i, id));
        }
    }

    fn attach(&mut self, n: usize) {
        for (i, id) in self.waiting.drain(..n) {
            let resource = CustomResource::new(mac_of(i));
            if self.borrowed {
                let ip = self.data.ipam.attach_ip_ref(REGION, id, resource);
                let ip = ip.expect("detached");
                std::hint::black_box((ip.id(), ip.mac_address()));
            } else {
                let ip = self.data.ipam.attach_ip(REGION, id, resource);
                std::hint::black_box(ip.expect("detached"));
            }
        }
    }
}

impl Op for Attach<'_> {
    fn prepare(&mut self, n: usize) {
        self.detach(n);
    }

    fn run(&mut self, n: usize) {
        self.attach(n);
    }
}

impl Drop for Attach<'_> {
    fn drop(&mut self) {
        self.attach(self.waiting.len());
    }
}

/// What a region operation on existing IPs does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    /// Replaces both tags with two tags new to the region, which the chunk creates (and its
    /// restore, putting the old ones back, removes again).
    UpdateTags,
    /// Replaces both tags with two others that other IPs carry (restore puts the old ones
    /// back): re-tagging within the region's tags, with no tag created or removed.
    Retag,
    /// Detaches an IP from its MAC (restore attaches it again).
    Detach,
    /// Moves an IP from its MAC to another (restore moves it back).
    Move,
}

/// One [`Change`] applied to scattered IPs of the region (timed), then undone (untimed), so the
/// region is as it was after `restore`.
pub(crate) struct Modify<'a> {
    data: &'a mut RegionData,
    change: Change,
    walk: Walk,
    /// The chunk's IPs: index and id, looked up untimed.
    chunk: Vec<(usize, IpId)>,
    /// The chunk's tag updates, built untimed.
    updates: Vec<Option<UpdateIpRequest>>,
    /// Whether the timed changes go through `update_ip_ref`, `detach_ip_ref` or `move_ip_ref`
    /// (the IP returned borrowed) rather than `update_ip`, `detach_ip` or `move_ip`.
    borrowed: bool,
}

impl<'a> Modify<'a> {
    pub(crate) fn new(data: &'a mut RegionData, change: Change) -> Self {
        let walk = Walk::new(data.ids.len());
        Self {
            data,
            change,
            walk,
            chunk: Vec::with_capacity(1000),
            updates: Vec::with_capacity(1000),
            borrowed: false,
        }
    }

    /// [`Modify::new`], with the changes made by the calls that return the IP borrowed.
    pub(crate) fn borrowed(data: &'a mut RegionData, change: Change) -> Self {
        Self {
            borrowed: true,
            ..Self::new(data, change)
        }
    }

    /// Applies the change to the `k`th IP of the chunk, or undoes it.
    fn apply(&mut self, k: usize, forward: bool) {
        let (i, id) = self.chunk[k];
        let (mac, other) = (mac_of(i), other_mac_of(i));
        let (from, to) = if forward { (mac, other) } else { (other, mac) };
        let moved = || MoveIpRequest {
            from_resource: CustomResource::new(from),
            to_resource: Some(CustomResource::new(to)),
        };
        let ipam = &mut self.data.ipam;
        if forward && self.borrowed {
            let ip = match self.change {
                Change::UpdateTags | Change::Retag => {
                    let request = self.updates[k].take().expect("prepared update");
                    ipam.update_ip_ref(REGION, id, request)
                }
                Change::Detach => ipam.detach_ip_ref(REGION, id, CustomResource::new(mac)),
                Change::Move => ipam.move_ip_ref(REGION, id, moved()),
            };
            let ip = ip.expect("valid change");
            std::hint::black_box((ip.id(), ip.tags().len(), ip.mac_address()));
            return;
        }
        let done = match (self.change, forward) {
            (Change::UpdateTags | Change::Retag, true) => {
                let request = self.updates[k].take().expect("prepared update");
                ipam.update_ip(REGION, id, request)
            }
            (Change::UpdateTags | Change::Retag, false) => ipam.update_ip(
                REGION,
                id,
                UpdateIpRequest {
                    tags: Some(tags_of(i).to_vec()),
                    reverses: None,
                },
            ),
            (Change::Detach, false) => ipam.attach_ip(REGION, id, CustomResource::new(mac)),
            (Change::Detach, true) => ipam.detach_ip(REGION, id, CustomResource::new(mac)),
            (Change::Move, _) => ipam.move_ip(REGION, id, moved()),
        };
        std::hint::black_box(done.expect("valid change"));
    }
}

impl Op for Modify<'_> {
    fn prepare(&mut self, n: usize) {
        self.chunk.clear();
        self.updates.clear();
        for _ in 0..n {
            let i = self.walk.step();
            self.chunk.push((i, self.data.ids[i]));
            let tags = match self.change {
                Change::UpdateTags => vec![format!("u{:02}", i % 100), "updated".to_owned()],
                // Another 1% tag and another role (450 = 4.5 blocks of 100): both change.
                Change::Retag => tags_of(i + 450).to_vec(),
                Change::Detach | Change::Move => continue,
            };
            self.updates.push(Some(UpdateIpRequest {
                tags: Some(tags),
                reverses: None,
            }));
        }
    }

    fn run(&mut self, n: usize) {
        for k in 0..n {
            self.apply(k, true);
        }
    }

    fn restore(&mut self, n: usize) {
        for k in 0..n {
            self.apply(k, false);
        }
    }
}

/// What a list case filters on, for reports and targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ListKind {
    /// One Private Network (2,500 IPs).
    PrivateNetwork,
    /// One resource id (one IP).
    ResourceId,
    /// One MAC address (one IP).
    Mac,
    /// 100 IP ids.
    IpIds,
    /// One tag carried by 1% of the IPs.
    Tag,
    /// One Private Network and a tag: the 1% tag its IPs all carry, or a role one IP in eight
    /// carries (half of the network's).
    PrivateNetworkTag,
    /// No filter, first page.
    Unfiltered,
    /// No filter, page [`DEEP_PAGE`].
    UnfilteredDeep,
}

/// One list request over a region, with the `total_count` it must report.
pub(crate) struct ListCase {
    /// Criterion group, and section of the harness's table.
    pub(crate) group: &'static str,
    pub(crate) kind: ListKind,
    pub(crate) request: ListIpsRequest,
    pub(crate) expected_total: u64,
}

impl ListCase {
    /// What it filters on and in which order: `pn created_at_desc`.
    pub(crate) fn label(&self) -> String {
        let filter = match self.kind {
            ListKind::PrivateNetwork => "pn".to_owned(),
            ListKind::ResourceId => "resource_id".to_owned(),
            ListKind::Mac => "mac".to_owned(),
            ListKind::IpIds => format!("{} ip_ids", self.request.ip_ids.len()),
            ListKind::Tag => "tag 1%".to_owned(),
            ListKind::PrivateNetworkTag => format!("pn + tag {}", self.request.tags[0]),
            ListKind::Unfiltered => "unfiltered p1".to_owned(),
            ListKind::UnfilteredDeep => format!("unfiltered p{DEEP_PAGE}"),
        };
        format!("{filter} {}", self.request.order_by.as_str())
    }

    /// The label as a criterion id: `pn_created_at_desc`, `tag_1pct_created_at_desc`.
    pub(crate) fn id(&self) -> String {
        self.label().replace(' ', "_").replace('%', "pct")
    }

    /// Whether it lists by MAC address: what the MAC order index changes.
    pub(crate) fn by_mac(&self) -> bool {
        matches!(
            self.request.order_by,
            OrderBy::MacAddressAsc | OrderBy::MacAddressDesc
        )
    }
}

/// The list cases, page size 100: the selective indexed filters in the default order, and the
/// Private Network filter, the 1% tag filter and the deep unfiltered page in every order, and
/// a Private Network with a tag in two orders.
pub(crate) fn list_cases(data: &RegionData) -> Vec<ListCase> {
    let n = data.ids.len();
    let networks = data.networks.len();
    let pn_index = 17 % networks;
    let one = n / 2;
    let mut cases = Vec::new();
    let mut push = |kind: ListKind, group: &'static str, request: ListIpsRequest, total: usize| {
        cases.push(ListCase {
            group,
            kind,
            request: ListIpsRequest {
                page_size: 100,
                ..request
            },
            expected_total: total as u64,
        });
    };
    let pn = ListIpsRequest {
        private_network_id: Some(data.networks[pn_index].0),
        ..Default::default()
    };
    let pn_total = count_mod(n, networks, pn_index);
    push(
        ListKind::PrivateNetwork,
        "list_selective",
        pn.clone(),
        pn_total,
    );
    push(
        ListKind::ResourceId,
        "list_selective",
        ListIpsRequest {
            resource_id: Some(ResourceId::from(data.ids[one])),
            ..Default::default()
        },
        1,
    );
    push(
        ListKind::Mac,
        "list_selective",
        ListIpsRequest {
            mac_address: Some(mac_of(n / 3)),
            ..Default::default()
        },
        1,
    );
    let mut walk = Walk::new(n);
    let ip_ids: Vec<IpId> = (0..100.min(n)).map(|_| data.ids[walk.step()]).collect();
    let id_total = {
        let mut unique = ip_ids.clone();
        unique.sort_unstable_by_key(IpId::uuid);
        unique.dedup();
        unique.len()
    };
    push(
        ListKind::IpIds,
        "list_selective",
        ListIpsRequest {
            ip_ids,
            ..Default::default()
        },
        id_total,
    );
    for &order in OrderBy::ALL {
        push(
            ListKind::Unfiltered,
            "list_unfiltered_page_1",
            ListIpsRequest {
                order_by: order,
                ..Default::default()
            },
            n,
        );
    }
    for &order in OrderBy::ALL {
        push(
            ListKind::PrivateNetwork,
            "list_pn",
            ListIpsRequest {
                order_by: order,
                ..pn.clone()
            },
            pn_total,
        );
    }
    for &order in OrderBy::ALL {
        push(
            ListKind::Tag,
            "list_tag_1pct",
            ListIpsRequest {
                order_by: order,
                tags: vec!["t42".to_owned()],
                ..Default::default()
            },
            count_mod(n, 100, 42),
        );
    }
    // The network's IPs `i` (`i % networks == pn_index`) carry `tags_of(i)`.
    let in_pn = || (pn_index..n).step_by(networks);
    for tag in tags_of(pn_index) {
        let total = in_pn().filter(|&i| tags_of(i).contains(&tag)).count();
        for order in [OrderBy::CreatedAtDesc, OrderBy::UpdatedAtDesc] {
            push(
                ListKind::PrivateNetworkTag,
                "list_pn_tag",
                ListIpsRequest {
                    order_by: order,
                    tags: vec![tag.clone()],
                    ..pn.clone()
                },
                total,
            );
        }
    }
    for &order in OrderBy::ALL {
        push(
            ListKind::UnfilteredDeep,
            "list_unfiltered_page_5000",
            ListIpsRequest {
                order_by: order,
                page: DEEP_PAGE,
                ..Default::default()
            },
            n,
        );
    }
    cases
}

/// Runs one list request.
pub(crate) struct List<'a> {
    pub(crate) ipam: &'a Ipam,
    pub(crate) request: &'a ListIpsRequest,
}

impl Op for List<'_> {
    fn run(&mut self, n: usize) {
        for _ in 0..n {
            std::hint::black_box(self.ipam.list_ips(REGION, self.request).expect("valid"));
        }
    }
}
