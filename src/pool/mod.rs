//! One pool per subnet: it maps offsets to addresses for one CIDR block, knows which addresses
//! are never handed out, and remembers which record holds each taken offset (for IPv6, that map is
//! the sparse set of taken interface ids). The allocators below it see only offsets.

mod allocator;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::env::RandomSource;
use crate::flat::FlatMap;
use crate::hash::KeyedState;
use allocator::{V4Allocator, V6Allocator};

/// Why an address cannot be booked in a pool.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddressProblem {
    /// The address is of the other family.
    WrongFamily,
    /// The address lies outside the block.
    Outside,
    /// The address is one the block never hands out.
    Unavailable,
    /// The address is taken, by this record.
    Taken(u32),
}

/// Taken offsets and their owners. IPv4: the lowest-free allocator, and a dense owner array that
/// only grows up to the allocator's high-water mark (4 bytes per address below it, nothing for an
/// empty pool). IPv6: the sparse map of taken interface ids.
#[derive(Clone, Debug)]
enum Slots {
    V4 {
        allocator: V4Allocator,
        owners: Vec<u32>,
    },
    V6 {
        owners: FlatMap,
    },
}

/// Marks a free offset in the IPv4 owner array.
const FREE: u32 = u32::MAX;

/// The addresses of one subnet.
#[derive(Clone, Debug)]
pub(crate) struct Pool {
    net: IpNet,
    /// An IPv4 block's network address as an integer (0 for IPv6): the address at an offset is
    /// one addition away, without working out the network address from the prefix length
    /// each time (an owned get's `fill_common`, in `engine/view.rs`, counts its instructions).
    v4_base: u32,
    slots: Slots,
}

impl Pool {
    /// A pool for `net`. IPv4: the first two and last two addresses are never handed out. IPv6
    /// (a /64): `::`, `::1` and the top 128 interface ids are never handed out.
    pub(crate) fn new(net: IpNet, hasher: KeyedState) -> Self {
        let slots = match net {
            IpNet::V4(v4) => {
                let size = 1u64 << (32 - u32::from(v4.prefix_len()));
                let end = u32::try_from(size.saturating_sub(2)).unwrap_or(u32::MAX);
                Slots::V4 {
                    allocator: V4Allocator::new(2, end),
                    owners: Vec::new(),
                }
            }
            IpNet::V6(_) => Slots::V6 {
                owners: FlatMap::with_hasher(hasher),
            },
        };
        let v4_base = match net {
            IpNet::V4(n) => u32::from(n.network()),
            IpNet::V6(_) => 0,
        };
        Self {
            net,
            v4_base,
            slots,
        }
    }

    /// The block.
    pub(crate) fn net(&self) -> IpNet {
        self.net
    }

    /// The address at `offset`.
    pub(crate) fn address(&self, offset: u64) -> IpAddr {
        match self.net {
            IpNet::V4(_) => IpAddr::V4(self.v4_at(offset)),
            IpNet::V6(n) => IpAddr::V6(v6_at(n, offset)),
        }
    }

    /// [`Pool::address`] of `offset` with the block's prefix length: the IP's `address` field.
    /// One match on the block, where building an `IpNet` of the address matches twice more.
    pub(crate) fn address_net(&self, offset: u64) -> IpNet {
        match self.net {
            IpNet::V4(n) => IpNet::V4(self.v4_net_at(n, offset)),
            IpNet::V6(n) => IpNet::V6(Ipv6Net::new_assert(v6_at(n, offset), n.prefix_len())),
        }
    }

    /// [`Pool::address_net`] of an IPv4 pool; `None` for an IPv6 one.
    #[inline]
    pub(crate) fn v4_address_net(&self, offset: u64) -> Option<Ipv4Net> {
        match self.net {
            IpNet::V4(n) => Some(self.v4_net_at(n, offset)),
            IpNet::V6(_) => None,
        }
    }

    /// The IPv4 address `offset` above the block's network address (meaningless for IPv6).
    #[inline]
    fn v4_at(&self, offset: u64) -> Ipv4Addr {
        // IPv4 offsets are below 2^32.
        Ipv4Addr::from(self.v4_base.wrapping_add(offset as u32))
    }

    /// [`Pool::v4_at`] with the prefix length of `n`, the block. That length is valid, so this
    /// is never `n`: no panic path, which would be a call (`fill_common` makes none).
    #[inline]
    fn v4_net_at(&self, n: Ipv4Net, offset: u64) -> Ipv4Net {
        Ipv4Net::new(self.v4_at(offset), n.prefix_len()).unwrap_or(n)
    }

    /// The offset of a bookable, free `address`.
    pub(crate) fn free_offset(&self, address: IpAddr) -> Result<u64, AddressProblem> {
        let offset = match (self.net, address) {
            (IpNet::V4(n), IpAddr::V4(a)) if n.contains(&a) => {
                u64::from(u32::from(a) - u32::from(n.network()))
            }
            (IpNet::V6(n), IpAddr::V6(a)) if n.contains(&a) => {
                (u128::from(a) - u128::from(n.network())) as u64
            }
            (IpNet::V4(_), IpAddr::V4(_)) | (IpNet::V6(_), IpAddr::V6(_)) => {
                return Err(AddressProblem::Outside)
            }
            _ => return Err(AddressProblem::WrongFamily),
        };
        let bookable = match &self.slots {
            Slots::V4 { allocator, .. } => allocator.is_bookable(offset),
            Slots::V6 { .. } => V6Allocator::is_bookable(offset),
        };
        if !bookable {
            return Err(AddressProblem::Unavailable);
        }
        match self.owner(offset) {
            Some(owner) => Err(AddressProblem::Taken(owner)),
            None => Ok(offset),
        }
    }

    /// Whether an automatic booking would find room (IPv6 pools always have room).
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        match &self.slots {
            Slots::V4 { allocator, .. } => allocator.has_room(),
            Slots::V6 { owners } => (owners.len() as u64) < V6Allocator::capacity(),
        }
    }

    /// Takes an offset for `owner`: the lowest free one (IPv4) or a random free one (IPv6).
    /// `None` when the pool is full (or, for IPv6, when every bounded draw collided).
    pub(crate) fn take_auto(&mut self, owner: u32, rng: &mut dyn RandomSource) -> Option<u64> {
        match &mut self.slots {
            Slots::V4 { allocator, owners } => {
                let offset = allocator.take_lowest()?;
                set_v4_owner(owners, offset, owner);
                Some(u64::from(offset))
            }
            Slots::V6 { owners } => V6Allocator::draw(rng, |o| owners.try_insert(o, owner)),
        }
    }

    /// Starts loading where the next automatic IPv4 booking writes its owner (a hint).
    pub(crate) fn warm(&self) {
        if let Slots::V4 { owners, .. } = &self.slots {
            if let Some(last) = owners.last() {
                crate::flat::prefetch(last);
            }
        }
    }

    /// Takes an offset returned by [`Pool::free_offset`] for `owner`.
    pub(crate) fn take(&mut self, offset: u64, owner: u32) {
        match &mut self.slots {
            Slots::V4 { allocator, owners } => {
                let taken = allocator.take(offset as u32);
                debug_assert!(taken);
                set_v4_owner(owners, offset as u32, owner);
            }
            Slots::V6 { owners } => {
                let previous = owners.insert(offset, owner);
                debug_assert!(previous.is_none());
            }
        }
    }

    /// Gives back `offset`; returns its owner.
    pub(crate) fn release(&mut self, offset: u64) -> Option<u32> {
        match &mut self.slots {
            Slots::V4 { allocator, owners } => {
                let slot = owners.get_mut(usize::try_from(offset).ok()?)?;
                let owner = std::mem::replace(slot, FREE);
                if owner == FREE {
                    return None;
                }
                // Owned, so taken: no membership test.
                allocator.release_taken(offset as u32);
                // Nothing at or above the high-water mark is owned: give that memory back once
                // it is most of the array (not on every release: a booking above the mark
                // would fill it again).
                let high_water = allocator.high_water() as usize;
                if owners.len() > 2 * high_water + 1024 {
                    owners.truncate(high_water);
                    owners.shrink_to_fit();
                }
                Some(owner)
            }
            Slots::V6 { owners } => owners.remove(offset),
        }
    }

    /// The owner of a taken `offset`.
    pub(crate) fn owner(&self, offset: u64) -> Option<u32> {
        match &self.slots {
            Slots::V4 { owners, .. } => usize::try_from(offset)
                .ok()
                .and_then(|i| owners.get(i))
                .copied()
                .filter(|&o| o != FREE),
            Slots::V6 { owners } => owners.get(offset),
        }
    }

    /// An IPv4 pool's taken offsets with their owners, in offset order, off its owner array;
    /// `None` for an IPv6 pool.
    pub(crate) fn v4_owners(&self) -> Option<impl DoubleEndedIterator<Item = (u64, u32)> + '_> {
        match &self.slots {
            Slots::V4 { owners, .. } => Some(
                owners
                    .iter()
                    .enumerate()
                    .filter(|&(_, &o)| o != FREE)
                    .map(|(offset, &o)| (offset as u64, o)),
            ),
            Slots::V6 { .. } => None,
        }
    }

    /// The taken offsets with their owners: in offset order for an IPv4 pool, in no order for
    /// an IPv6 one.
    pub(crate) fn owners(&self) -> Box<dyn Iterator<Item = (u64, u32)> + '_> {
        match &self.slots {
            Slots::V4 { .. } => Box::new(self.v4_owners().into_iter().flatten()),
            Slots::V6 { owners } => Box::new(owners.iter()),
        }
    }

    /// Renames every owner (after handles are renumbered).
    pub(crate) fn remap_owners(&mut self, mut map: impl FnMut(u32) -> u32) {
        match &mut self.slots {
            Slots::V4 { owners, .. } => {
                for owner in owners.iter_mut().filter(|o| **o != FREE) {
                    *owner = map(*owner);
                }
            }
            Slots::V6 { owners } => {
                owners.map_values(map);
            }
        }
    }

    /// Number of taken addresses.
    pub(crate) fn len(&self) -> u64 {
        match &self.slots {
            Slots::V4 { allocator, .. } => allocator.taken(),
            Slots::V6 { owners } => owners.len() as u64,
        }
    }

    /// Checks that the allocator and the owners agree; returns a description of the first
    /// disagreement.
    pub(crate) fn check(&self) -> Result<(), String> {
        match &self.slots {
            Slots::V4 { allocator, owners } => {
                let mut owned = 0u64;
                for (offset, &owner) in owners.iter().enumerate() {
                    let offset = offset as u32;
                    let taken =
                        allocator.is_bookable(u64::from(offset)) && allocator.is_taken(offset);
                    if (owner != FREE) != taken {
                        return Err(format!(
                            "pool {}: offset {offset} owner and allocator disagree",
                            self.net
                        ));
                    }
                    owned += u64::from(owner != FREE);
                }
                if owned != allocator.taken() {
                    return Err(format!(
                        "pool {}: allocator has {} taken, {owned} owned",
                        self.net,
                        allocator.taken()
                    ));
                }
            }
            Slots::V6 { owners } => {
                if let Some((offset, _)) =
                    owners.iter().find(|&(o, _)| !V6Allocator::is_bookable(o))
                {
                    return Err(format!(
                        "pool {}: unavailable offset {offset} owned",
                        self.net
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The address `offset` above the network address of `n`.
fn v6_at(n: Ipv6Net, offset: u64) -> Ipv6Addr {
    Ipv6Addr::from(u128::from(n.network()).wrapping_add(u128::from(offset)))
}

fn set_v4_owner(owners: &mut Vec<u32>, offset: u32, owner: u32) {
    let i = offset as usize;
    if owners.len() <= i {
        owners.resize(i + 1, FREE);
    }
    owners[i] = owner;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::SeededRandom;

    fn pool(s: &str) -> Pool {
        Pool::new(s.parse().unwrap(), KeyedState::default())
    }

    #[test]
    fn address_net_is_the_address_with_the_block_prefix() {
        for block in [
            "10.0.0.0/22",
            "172.16.4.0/24",
            "192.168.0.0/16",
            "fd00:1::/64",
        ] {
            let p = pool(block);
            for offset in [2u64, 3, 200, 1000] {
                let want = IpNet::new(p.address(offset), p.net().prefix_len()).unwrap();
                assert_eq!(p.address_net(offset), want, "{block} + {offset}");
            }
        }
    }

    #[test]
    fn v4_skips_first_two_and_last_two() {
        let mut p = pool("172.16.12.0/22");
        let mut rng = SeededRandom::new(0);
        let first = p.take_auto(0, &mut rng).unwrap();
        assert_eq!(p.address(first).to_string(), "172.16.12.2");
        for a in [
            "172.16.12.0",
            "172.16.12.1",
            "172.16.15.254",
            "172.16.15.255",
        ] {
            assert_eq!(
                p.free_offset(a.parse().unwrap()),
                Err(AddressProblem::Unavailable)
            );
        }
        assert_eq!(
            p.free_offset("172.16.12.2".parse().unwrap()),
            Err(AddressProblem::Taken(0))
        );
        assert_eq!(
            p.free_offset("172.16.16.2".parse().unwrap()),
            Err(AddressProblem::Outside)
        );
        assert_eq!(
            p.free_offset("fd00::2".parse().unwrap()),
            Err(AddressProblem::WrongFamily)
        );
        let mut n = 1;
        while p.take_auto(n, &mut rng).is_some() {
            n += 1;
        }
        assert_eq!(n, 1020);
        assert!(!p.has_room());
        p.check().unwrap();
    }

    #[test]
    fn v6_maps_offsets_into_the_64() {
        let mut p = pool("fd46:78ab:30b8:db89::/64");
        let mut rng = SeededRandom::new(0);
        let off = p.take_auto(9, &mut rng).unwrap();
        let addr = p.address(off);
        assert!(p.net().contains(&addr));
        assert_eq!(p.free_offset(addr), Err(AddressProblem::Taken(9)));
        for a in [
            "fd46:78ab:30b8:db89::",
            "fd46:78ab:30b8:db89::1",
            "fd46:78ab:30b8:db89:ffff:ffff:ffff:ff80",
        ] {
            assert_eq!(
                p.free_offset(a.parse().unwrap()),
                Err(AddressProblem::Unavailable)
            );
        }
        assert_eq!(p.release(off), Some(9));
        assert_eq!(p.len(), 0);
    }
}
