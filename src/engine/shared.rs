//! [`SharedIpam`]: the engine shared between threads, with one lock per region.
//!
//! Each region's state (its networks, IP records and indexes) sits behind its own `RwLock`, so
//! calls in different regions run in parallel and reads (get, list) of one region run together.
//! Within a region, writes are serialized: every index of a region (tags, resources, MACs, the
//! id map, creation order) spans all its Private Networks, and a list call must see them all at
//! one instant. A call holds exactly one lock for its whole duration, so it is atomic and
//! linearizable; only [`SharedIpam::snapshot`] and [`SharedIpam::register_project`] take every
//! lock, always in region order, so no two calls can deadlock.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use chrono::{DateTime, Utc};

use crate::engine::{Ipam, RegionState, Snapshot};
use crate::env::{Clock, RandomSource};
use crate::error::Error;
use crate::hash::KeyedState;
use crate::index::Index;
use crate::model::enums::Region;
use crate::model::ids::{IpId, OrganizationId, PrivateNetworkId, ProjectId, ResourceId, VpcId};
use crate::model::ip::{CustomResource, Ip, ListIpsResponse};
use crate::model::network::{ListPrivateNetworksResponse, ListVpcsResponse, PrivateNetwork, Vpc};
use crate::model::request::{
    BookIpRequest, CreatePrivateNetworkRequest, CreateVpcRequest, ListIpsRequest,
    ListPrivateNetworksRequest, ListVpcsRequest, MoveIpRequest, ServiceResource, UpdateIpRequest,
};
use crate::registry::Registry;
use crate::store::Store;

/// One clock shared by every region's engine.
#[derive(Clone, Debug)]
struct SharedClock(Arc<Mutex<Box<dyn Clock>>>);

impl Clock for SharedClock {
    fn now(&mut self) -> DateTime<Utc> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).now()
    }

    fn now_micros(&mut self) -> i64 {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .now_micros()
    }
}

/// One source of randomness shared by every region's engine.
#[derive(Clone, Debug)]
struct SharedRandom(Arc<Mutex<Box<dyn RandomSource>>>);

impl RandomSource for SharedRandom {
    fn next_u64(&mut self) -> u64 {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next_u64()
    }
}

/// An [`Ipam`] that many threads can use at once (`Send + Sync`, share it in an `Arc`), with one
/// read-write lock per region.
///
/// Every method takes `&self`, locks the one region it touches (shared for reads, exclusive for
/// writes) and behaves exactly as the [`Ipam`] method of the same name. Calls in different
/// regions run in parallel; gets and lists of a region run in parallel with each other. For
/// anything else, [`SharedIpam::read`] and [`SharedIpam::write`] lend the region's engine to a
/// closure under its lock.
///
/// The locks never stay poisoned: the engine does not panic, and a panic in a caller's closure
/// cannot leave a region half-changed because every engine call is atomic.
///
/// ```
/// use std::sync::Arc;
/// use ipam_engine::{BookIpRequest, CreatePrivateNetworkRequest, Ipam, ProjectId, Region, SharedIpam, Source};
///
/// # fn main() -> Result<(), ipam_engine::Error> {
/// let shared = Arc::new(SharedIpam::new(Ipam::new()));
/// let project = ProjectId::from_uuid(uuid::Uuid::from_u128(1));
/// let pn = shared.create_private_network(Region::FrPar, CreatePrivateNetworkRequest::new(project))?;
/// let threads: Vec<_> = (0..4)
///     .map(|_| {
///         let shared = Arc::clone(&shared);
///         std::thread::spawn(move || {
///             let request = BookIpRequest::new(project, Source::PrivateNetworkId(pn.id));
///             shared.book_ip(Region::FrPar, request).map(|ip| ip.address)
///         })
///     })
///     .collect();
/// let mut addresses: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect::<Result<_, _>>()?;
/// addresses.sort();
/// addresses.dedup();
/// assert_eq!(addresses.len(), 4);
/// # Ok(())
/// # }
/// ```
pub struct SharedIpam {
    /// One engine per region, in [`Region::ALL`] order; engine `i` holds only region `i`.
    shards: Box<[RwLock<Ipam>]>,
}

impl fmt::Debug for SharedIpam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedIpam")
            .field("regions", &self.shards.len())
            .finish_non_exhaustive()
    }
}

impl From<Ipam> for SharedIpam {
    fn from(ipam: Ipam) -> Self {
        Self::new(ipam)
    }
}

fn empty_region(region: Region) -> RegionState {
    let hasher = KeyedState::default();
    RegionState {
        region,
        registry: Registry::new(hasher),
        store: Store::new(hasher),
        index: Index::new(hasher),
    }
}

impl SharedIpam {
    /// Shares `ipam`: its state, clock, randomness, limits and compaction. O(regions).
    pub fn new(ipam: Ipam) -> Self {
        let Ipam {
            regions,
            organizations,
            clock,
            rng,
            limits,
            compaction,
            last_micros,
        } = ipam;
        let clock = SharedClock(Arc::new(Mutex::new(clock)));
        let rng = SharedRandom(Arc::new(Mutex::new(rng)));
        let shards = regions
            .into_iter()
            .enumerate()
            .map(|(i, state)| {
                let mut own = Some(state);
                let regions = Region::ALL
                    .iter()
                    .enumerate()
                    .map(|(j, &r)| match own.take_if(|_| j == i) {
                        Some(state) => state,
                        None => empty_region(r),
                    })
                    .collect();
                RwLock::new(Ipam {
                    regions,
                    organizations: organizations.clone(),
                    clock: Box::new(clock.clone()),
                    rng: Box::new(rng.clone()),
                    limits: limits.clone(),
                    compaction,
                    last_micros,
                })
            })
            .collect();
        Self { shards }
    }

    /// The whole engine back, for single-threaded use. O(regions).
    pub fn into_inner(self) -> Ipam {
        let mut shards: Vec<Ipam> = self
            .shards
            .into_vec()
            .into_iter()
            .map(|s| s.into_inner().unwrap_or_else(PoisonError::into_inner))
            .collect();
        let last_micros = shards
            .iter()
            .map(|s| s.last_micros)
            .max()
            .unwrap_or(i64::MIN);
        let regions = shards
            .iter_mut()
            .enumerate()
            .map(|(i, s)| std::mem::replace(&mut s.regions[i], empty_region(Region::ALL[i])))
            .collect();
        let first = shards.swap_remove(0);
        Ipam {
            regions,
            last_micros,
            ..first
        }
    }

    fn shard(&self, region: Region) -> &RwLock<Ipam> {
        &self.shards[region.index()]
    }

    fn lock_read(&self, region: Region) -> RwLockReadGuard<'_, Ipam> {
        self.shard(region)
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_write(&self, region: Region) -> RwLockWriteGuard<'_, Ipam> {
        self.shard(region)
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the engine of `region` under its shared lock. `f` must only touch `region`:
    /// the engine it gets holds no other region's state.
    pub fn read<T>(&self, region: Region, f: impl FnOnce(&Ipam) -> T) -> T {
        f(&self.lock_read(region))
    }

    /// Runs `f` on the engine of `region` under its exclusive lock. `f` must only touch
    /// `region`: the engine it gets holds no other region's state.
    pub fn write<T>(&self, region: Region, f: impl FnOnce(&mut Ipam) -> T) -> T {
        f(&mut self.lock_write(region))
    }

    /// Records that `project` belongs to `organization` (see [`Ipam::register_project`]).
    /// Takes every region's lock in turn.
    pub fn register_project(&self, project: ProjectId, organization: OrganizationId) {
        for shard in &*self.shards {
            shard
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .register_project(project, organization);
        }
    }

    /// The Organization of `project` (see [`Ipam::organization_of`]).
    pub fn organization_of(&self, project: ProjectId) -> OrganizationId {
        self.lock_read(Region::ALL[0]).organization_of(project)
    }

    /// A consistent snapshot of every region (see [`Ipam::snapshot`]): it holds every region's
    /// shared lock at once, taken in region order.
    pub fn snapshot(&self) -> Snapshot {
        let guards: Vec<RwLockReadGuard<'_, Ipam>> = self
            .shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner))
            .collect();
        let clock_floor = guards
            .iter()
            .map(|g| g.last_micros)
            .max()
            .unwrap_or(i64::MIN);
        guards[0].snapshot_with(clock_floor, |i| &guards[i].regions[i])
    }

    /// Checks every region's internal invariants (see [`Ipam::check_invariants`]).
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        for (i, shard) in self.shards.iter().enumerate() {
            let ipam = shard.read().unwrap_or_else(PoisonError::into_inner);
            ipam.check_invariants()
                .map_err(|e| format!("{}: {e}", Region::ALL[i]))?;
        }
        Ok(())
    }
}

/// Forwards `&self` methods to the region's engine under its read or write lock.
macro_rules! forward {
    ($(
        $lock:ident fn $name:ident(region $(, $arg:ident: $ty:ty)*) -> $ret:ty;
    )*) => {
        impl SharedIpam {
            $(
                #[doc = concat!("[`Ipam::", stringify!($name), "`] under the region's ",
                    stringify!($lock), " lock.")]
                ///
                /// # Errors
                #[doc = concat!("Those of [`Ipam::", stringify!($name), "`].")]
                #[allow(clippy::missing_errors_doc)]
                pub fn $name(&self, region: Region $(, $arg: $ty)*) -> $ret {
                    self.$lock(region).$name(region $(, $arg)*)
                }
            )*
        }
    };
}

forward! {
    lock_write fn book_ip(region, request: BookIpRequest) -> Result<Ip, Error>;
    lock_write fn book_ip_for_resource(region, request: BookIpRequest, resource: ServiceResource) -> Result<Ip, Error>;
    lock_read fn get_ip(region, id: IpId) -> Result<Ip, Error>;
    lock_read fn list_ips(region, request: &ListIpsRequest) -> Result<ListIpsResponse, Error>;
    lock_write fn update_ip(region, id: IpId, request: UpdateIpRequest) -> Result<Ip, Error>;
    lock_write fn release_ip(region, id: IpId) -> Result<(), Error>;
    lock_write fn release_ip_set(region, ids: &[IpId]) -> Result<(), Error>;
    lock_write fn attach_ip(region, id: IpId, resource: CustomResource) -> Result<Ip, Error>;
    lock_write fn detach_ip(region, id: IpId, resource: CustomResource) -> Result<Ip, Error>;
    lock_write fn move_ip(region, id: IpId, request: MoveIpRequest) -> Result<Ip, Error>;
    lock_write fn attach_resource(region, id: IpId, resource: ServiceResource) -> Result<Ip, Error>;
    lock_write fn detach_resource(region, id: IpId, resource_id: ResourceId) -> Result<Ip, Error>;
    lock_write fn create_vpc(region, request: CreateVpcRequest) -> Result<Vpc, Error>;
    lock_read fn get_vpc(region, id: VpcId) -> Result<Vpc, Error>;
    lock_read fn list_vpcs(region, request: &ListVpcsRequest) -> Result<ListVpcsResponse, Error>;
    lock_write fn delete_vpc(region, id: VpcId) -> Result<(), Error>;
    lock_write fn create_private_network(region, request: CreatePrivateNetworkRequest) -> Result<PrivateNetwork, Error>;
    lock_read fn get_private_network(region, id: PrivateNetworkId) -> Result<PrivateNetwork, Error>;
    lock_read fn list_private_networks(region, request: &ListPrivateNetworksRequest) -> Result<ListPrivateNetworksResponse, Error>;
    lock_write fn delete_private_network(region, id: PrivateNetworkId) -> Result<(), Error>;
}

impl SharedIpam {
    /// [`Ipam::default_vpc`] under the region's write lock.
    pub fn default_vpc(&self, region: Region, project: ProjectId) -> Vpc {
        self.lock_write(region).default_vpc(region, project)
    }

    /// [`Ipam::reserve`] under the region's write lock.
    pub fn reserve(&self, region: Region, additional: usize) {
        self.lock_write(region).reserve(region, additional);
    }

    /// [`Ipam::ip_count`] under the region's read lock.
    pub fn ip_count(&self, region: Region) -> usize {
        self.lock_read(region).ip_count(region)
    }

    /// [`Ipam::released_slots`] under the region's read lock.
    pub fn released_slots(&self, region: Region) -> usize {
        self.lock_read(region).released_slots(region)
    }

    /// [`Ipam::compact`] under the region's write lock: the region's other calls wait for it;
    /// other regions' calls do not.
    pub fn compact(&self, region: Region) -> usize {
        self.lock_write(region).compact(region)
    }
}
