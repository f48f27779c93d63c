//! [`Ipam`], the one place that changes state. Every method validates its whole input before it
//! changes anything, then applies changes that cannot fail, so a failed call leaves the engine
//! exactly as it was. The methods are spread over files by concern.

mod attach;
mod book;
mod invariants;
mod list;
mod network;
mod release;
mod shared;
mod snapshot;
mod update;
mod validate;
mod view;

use std::fmt;

pub use shared::SharedIpam;
pub use snapshot::{Snapshot, SnapshotError, SNAPSHOT_FORMAT_VERSION};
pub use view::IpRef;

use crate::env::{Clock, OsRandom, RandomSource, SystemClock};
use crate::error::Error;
use crate::hash::{FastMap, KeyedState};
use crate::index::Index;
use crate::model::enums::Region;
use crate::model::ids::{IpId, OrganizationId, ProjectId};
use crate::model::ip::{Ip, Resource};
use crate::registry::Registry;
use crate::store::{AttachmentRef, Handle, Store};

/// Bounds on what one request may ask, so that no input can make the engine allocate or loop
/// without bound. Every bound breached is an `invalid_arguments` error naming the argument.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest `page_size` of a list (default 1000).
    pub max_page_size: u32,
    /// Most tags on one IP, VPC or Private Network (default 64).
    pub max_tags: usize,
    /// Longest tag, in bytes (default 128).
    pub max_tag_len: usize,
    /// Longest resource, VPC or Private Network name, in bytes (default 255).
    pub max_name_len: usize,
    /// Most reverse entries on one IP (default 16).
    pub max_reverses: usize,
    /// Longest reverse host name, in bytes, without the trailing dot (default 253).
    pub max_hostname_len: usize,
    /// Most ids or types in one list filter (`ip_ids`, `resource_ids`, `tags`, ...) and most ids
    /// in one `release_ip_set` (default 1000).
    pub max_list_items: usize,
    /// Shortest IPv4 prefix length a Private Network subnet may have (default 20).
    pub min_ipv4_prefix: u8,
    /// Longest IPv4 prefix length a Private Network subnet may have (default 28).
    pub max_ipv4_prefix: u8,
    /// Most subnets given when creating a Private Network (default 8).
    pub max_subnets: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_page_size: 1000,
            max_tags: 64,
            max_tag_len: 128,
            max_name_len: 255,
            max_reverses: 16,
            max_hostname_len: 253,
            max_list_items: 1000,
            min_ipv4_prefix: 20,
            max_ipv4_prefix: 28,
            max_subnets: 8,
        }
    }
}

/// The state of one region: its networks, its IP records and their indexes.
#[derive(Clone, Debug)]
pub(crate) struct RegionState {
    pub(crate) region: Region,
    pub(crate) registry: Registry,
    pub(crate) store: Store,
    pub(crate) index: Index,
}

/// The IPAM engine: VPCs, Private Networks, and the IPs booked in them, for every region.
///
/// All state is in memory. The engine does no I/O: time and randomness come from the injected
/// [`Clock`] and [`RandomSource`] (see [`IpamBuilder`]). It is `Send` and `Sync`: wrap it in a lock
/// (`RwLock` lets reads run together) to share it between threads.
pub struct Ipam {
    regions: Vec<RegionState>,
    organizations: FastMap<ProjectId, OrganizationId>,
    clock: Box<dyn Clock>,
    rng: Box<dyn RandomSource>,
    limits: Limits,
    compaction: Compaction,
    last_micros: i64,
}

impl fmt::Debug for Ipam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ipam")
            .field(
                "ips",
                &self.regions.iter().map(|r| r.store.len()).sum::<usize>(),
            )
            .field("limits", &self.limits)
            .field("compaction", &self.compaction)
            .finish_non_exhaustive()
    }
}

impl Default for Ipam {
    fn default() -> Self {
        Self::new()
    }
}

/// When a region reclaims the record slots its released IPs leave (see [`Ipam::compact`]).
///
/// A region numbers its IP records densely, in booking order, which its list orders and bitset
/// indexes rely on. A release leaves its record's slot behind; reclaiming those slots renumbers
/// every live IP's handle in the store, pools and indexes, O(n) in the region's live IPs, in
/// one call (about 35-40 ms at 1M IPs and 0.5 s at 10M on a 2-core development machine).
/// Either the engine picks the moment, or the caller does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Compaction {
    /// The release that leaves more released slots than live IPs (and at least 4,096) compacts
    /// its region first: O(1) amortized per release, and the slots of released IPs never
    /// outnumber the live ones by much. The default.
    #[default]
    Automatic,
    /// Releases never compact: [`Ipam::compact`] does, when the caller chooses (a quiet moment,
    /// a maintenance step, a command of its own in a replicated log), after looking at
    /// [`Ipam::released_slots`]. Each release leaves a 72-byte slot until then. A booking that
    /// finds its region's handle space (`u32::MAX` slots) used up compacts the region anyway.
    ///
    /// A compaction changes nothing the API shows, but the ids drawn after it differ from those
    /// drawn without it (an id carries a hint of where its record is): replicas of an engine
    /// that must draw the same ids compact at the same point of their log.
    Manual,
}

/// Configures an [`Ipam`]: its clock, its randomness, its limits and when it compacts.
///
/// ```
/// use chrono::{DateTime, TimeDelta};
/// use ipam_engine::{Ipam, ManualClock, SeededRandom};
///
/// let start = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
/// let ipam = Ipam::builder()
///     .clock(ManualClock::new(start, TimeDelta::microseconds(1)))
///     .random(SeededRandom::new(42))
///     .build();
/// ```
#[derive(Debug, Default)]
pub struct IpamBuilder {
    clock: Option<Box<dyn Clock>>,
    rng: Option<Box<dyn RandomSource>>,
    limits: Limits,
    compaction: Compaction,
    mac_order_index: bool,
}

impl IpamBuilder {
    /// Uses `clock` for every timestamp (default: [`SystemClock`]).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Box::new(clock));
        self
    }

    /// Uses `rng` for ids, IPv6 interface ids, generated subnets and hash keys
    /// (default: [`OsRandom`]).
    #[must_use]
    pub fn random(mut self, rng: impl RandomSource + 'static) -> Self {
        self.rng = Some(Box::new(rng));
        self
    }

    /// Sets the request limits.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets when regions reclaim the slots of released IPs (default:
    /// [`Compaction::Automatic`]).
    #[must_use]
    pub fn compaction(mut self, compaction: Compaction) -> Self {
        self.compaction = compaction;
        self
    }

    /// With `true`, each region keeps its IPs with a MAC address in MAC address order (default:
    /// `false`), so that a list ordered by MAC address
    /// ([`OrderBy::MacAddressAsc`](crate::OrderBy::MacAddressAsc) or `MacAddressDesc`) finds
    /// its page by rank instead of reading every match.
    ///
    /// Without it, such a list reads the MAC address of every match and selects the page: its
    /// time grows with the matches, and with no filter with the region (on the development
    /// machine, 2.5-13 ms a page at a million IPs and 31-88 ms at ten million, during which the
    /// engine serves nothing else). With it, a page by MAC address of every IP, or of the IPs
    /// of a filter most of them pass, takes a few µs at either size, and one of a tag carried
    /// by 1 % of ten million IPs 58-72 µs instead of 1.6-1.9 ms. The price falls on every
    /// change of an IP's MAC address (attach, detach, move, a booking with a resource, the
    /// release of an attached IP): two or three more cache misses in a large region. At a
    /// million IPs, attach and detach took 430-460 ns against 210-260 ns without it, move
    /// 580-620 against 260-280 ns; at ten million, 1.2-1.7 µs against 0.33-0.52 µs; and the
    /// heap held 20 more bytes per IP (143 against 123), 42 more once every IP had moved
    /// (harness: `cargo run --release --example bench`, its section "with the MAC order
    /// index"). The answers are the same either way. Keep it for a service whose clients list
    /// by MAC address over large regions: a REST server open to any client, for one.
    #[must_use]
    pub fn mac_order_index(mut self, keep: bool) -> Self {
        self.mac_order_index = keep;
        self
    }

    /// Builds an empty engine.
    #[must_use]
    pub fn build(self) -> Ipam {
        let mut rng = self.rng.unwrap_or_else(|| Box::new(OsRandom));
        let hasher = KeyedState::new(rng.next_u64());
        let regions = Region::ALL
            .iter()
            .map(|&region| RegionState {
                region,
                registry: Registry::new(hasher),
                store: Store::new(hasher),
                index: Index::new(hasher).keeping_mac_order(self.mac_order_index),
            })
            .collect();
        Ipam {
            regions,
            organizations: FastMap::with_hasher(hasher),
            clock: self.clock.unwrap_or_else(|| Box::new(SystemClock)),
            rng,
            limits: self.limits,
            compaction: self.compaction,
            last_micros: i64::MIN,
        }
    }
}

impl Ipam {
    /// An empty engine with the system clock, OS randomness and default limits.
    #[must_use]
    pub fn new() -> Self {
        IpamBuilder::default().build()
    }

    /// A builder to set the clock, randomness, limits and compaction.
    #[must_use]
    pub fn builder() -> IpamBuilder {
        IpamBuilder::default()
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// When regions reclaim the slots of released IPs.
    #[must_use]
    pub fn compaction(&self) -> Compaction {
        self.compaction
    }

    /// Number of booked IPs in `region`. O(1).
    #[must_use]
    pub fn ip_count(&self, region: Region) -> usize {
        self.region(region).store.len()
    }

    /// Makes room for `additional` more IPs in `region`, so that a bulk load of that many does
    /// not grow the record slab segment by segment, nor the bitsets of its live and attached
    /// handles by doubling; the MAC address postings get as much room when the first IP
    /// attached to a MAC address comes (a table of that size set aside, and set free a slice per
    /// booking that follows, as when it grows), and a tag's bitset room for as many IPs when it
    /// needs to grow, until the next compaction. A compaction keeps the slab's room, and its
    /// handle sets', while the region's IPs fill at least about a quarter of it, and gives back
    /// room beyond that. O(n) in the region's IPs. A hint: a count beyond the handle space
    /// (`u32::MAX` IPs per region) is clamped to it, memory the allocator refuses is simply not
    /// reserved, and a smaller count than an earlier call's takes back none of that call's room.
    ///
    /// Without it, a region grows as its IPs come. The record slab takes one more segment of
    /// 16,384 records when full, moving nothing; the bitsets of its handles double, and the
    /// booking that doubles them copies them (0.6-0.8 ms at 4M IPs, in memory the allocator
    /// could not remap). Its hash maps (MAC addresses, IPv6 interface ids) take a table twice
    /// the size when full and move their entries over a few at a time, in the inserts that
    /// follow. A tag's bitset (a tag carried by many IPs) grows by an eighth when a booking
    /// passes its end, and that booking copies it: up to a few milliseconds at millions of IPs.
    pub fn reserve(&mut self, region: Region, additional: usize) {
        let rs = self.region_mut(region);
        rs.store.reserve(additional);
        // As far as the slab has room: memory the allocator gave, not a count a caller named.
        let room = rs.store.room();
        rs.index.expect_macs(additional.min(room as usize));
        rs.index.expect_handles(room);
    }

    /// Records that `project` belongs to `organization`. A Project never registered belongs to
    /// the Organization with the same id (as an Organization's default Project does).
    /// O(1).
    pub fn register_project(&mut self, project: ProjectId, organization: OrganizationId) {
        self.organizations.insert(project, organization);
    }

    /// The Organization of `project`. O(1).
    #[must_use]
    pub fn organization_of(&self, project: ProjectId) -> OrganizationId {
        self.organizations
            .get(&project)
            .copied()
            .unwrap_or_else(|| OrganizationId::from_uuid(project.uuid()))
    }

    pub(crate) fn region(&self, region: Region) -> &RegionState {
        &self.regions[region.index()]
    }

    pub(crate) fn region_mut(&mut self, region: Region) -> &mut RegionState {
        &mut self.regions[region.index()]
    }

    /// The current time in microseconds, never earlier than the previous reading.
    pub(crate) fn now(&mut self) -> i64 {
        let micros = self.clock.now_micros();
        self.last_micros = self.last_micros.max(micros);
        // The day the engine's fresh timestamps fall on converts without calendar arithmetic.
        crate::model::time::note_today(self.last_micros);
        self.last_micros
    }

    /// The handle of `id` in `region`, an IP about to change (or go): the memory the change
    /// updates beside its record (its update and attach log entries) starts loading with the
    /// record.
    pub(crate) fn handle_to_change(&self, region: Region, id: IpId) -> Result<Handle, Error> {
        self.handle_warming(region, id, |rs, h| rs.store.warm_change(h))
    }

    /// The handle of `id` in `region`, starting the loads of `warm` (reads only) with the
    /// candidate handle before the record is read to confirm it
    /// ([`crate::store::Store::handle_warming`]).
    pub(crate) fn handle_warming(
        &self,
        region: Region,
        id: IpId,
        warm: impl FnOnce(&RegionState, Handle),
    ) -> Result<Handle, Error> {
        let rs = self.region(region);
        rs.store
            .handle_warming(id, |h| warm(rs, h))
            .ok_or(Error::IpNotFound { id })
    }
}

impl RegionState {
    /// The API view of a live record.
    #[inline]
    pub(crate) fn view(&self, handle: Handle) -> Ip {
        view::IpRef::new(self, handle).to_ip()
    }
}

pub(crate) fn resource_view(a: AttachmentRef<'_>) -> Resource {
    Resource {
        resource_type: a.resource_type,
        id: a.id,
        mac_address: a.mac,
        name: a.name.map(str::to_owned),
    }
}
