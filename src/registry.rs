//! VPCs, Private Networks and their subnets, per region, with the rules that govern them:
//! generated /22 and /64 blocks that never overlap inside a VPC, a default VPC per Project,
//! forbidden ranges and prefix limits. Each subnet owns its address pool and the set of handles of
//! the IPs booked in it, so filters on Project, VPC, Private Network or subnet are unions of these
//! sets and need no per-IP index.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use smallvec::SmallVec;

use crate::env::RandomSource;
use crate::error::Error;
use crate::hash::{FastMap, KeyedState};
use crate::model::ids::{PrivateNetworkId, ProjectId, SubnetId, VpcId};
use crate::model::ip::Source;
use crate::pool::Pool;
use crate::store::SubnetHandles;

/// A VPC.
#[derive(Clone, Debug)]
pub(crate) struct VpcRecord {
    pub(crate) id: VpcId,
    pub(crate) name: String,
    pub(crate) project: ProjectId,
    pub(crate) tags: Vec<String>,
    pub(crate) is_default: bool,
    pub(crate) routing_enabled: bool,
    pub(crate) created: i64,
    pub(crate) updated: i64,
    /// The ULA /48 that generated IPv6 subnets come from.
    pub(crate) ula: Ipv6Net,
    /// The subnets of all its Private Networks.
    pub(crate) subnets: Blocks,
    pub(crate) private_networks: u32,
    pub(crate) seq: u64,
}

/// The subnets of a VPC by address block, which never overlap: finding the one a new block
/// overlaps is O(log n), so a VPC with thousands of Private Networks takes a new one as fast as
/// an empty VPC does. Per family, the first address of each block to its prefix length and
/// subnet slot (about 20 bytes a subnet).
#[derive(Clone, Debug, Default)]
pub(crate) struct Blocks {
    v4: BTreeMap<u32, (u8, u32)>,
    v6: BTreeMap<u128, (u8, u32)>,
}

/// The last address of the block of `bits`-bit addresses that starts at `first` and has prefix
/// length `prefix`.
fn last_of(first: u128, prefix: u8, bits: u32) -> u128 {
    let host = bits.saturating_sub(u32::from(prefix));
    first | 1u128.checked_shl(host).map_or(u128::MAX, |size| size - 1)
}

/// In `map`, the slot of the block that overlaps `first..=last`: only the block starting last at
/// or before `last` can, as the blocks are disjoint.
fn overlapping_in<K: Ord + Copy + Into<u128>>(
    map: &BTreeMap<K, (u8, u32)>,
    first: K,
    last: K,
    bits: u32,
) -> Option<u32> {
    let (&start, &(prefix, slot)) = map.range(..=last).next_back()?;
    (last_of(start.into(), prefix, bits) >= first.into()).then_some(slot)
}

impl Blocks {
    fn insert(&mut self, net: IpNet, slot: u32) {
        match net {
            IpNet::V4(n) => self.v4.insert(n.network().into(), (n.prefix_len(), slot)),
            IpNet::V6(n) => self.v6.insert(n.network().into(), (n.prefix_len(), slot)),
        };
    }

    fn remove(&mut self, net: IpNet) {
        match net {
            IpNet::V4(n) => self.v4.remove(&n.network().into()),
            IpNet::V6(n) => self.v6.remove(&n.network().into()),
        };
    }

    /// The slot of the subnet `net` overlaps, if any.
    fn overlapping(&self, net: IpNet) -> Option<u32> {
        match net {
            IpNet::V4(n) => overlapping_in(&self.v4, n.network().into(), n.broadcast().into(), 32),
            IpNet::V6(n) => overlapping_in(&self.v6, n.network().into(), n.broadcast().into(), 128),
        }
    }

    fn len(&self) -> usize {
        self.v4.len() + self.v6.len()
    }

    /// The slots of the subnets, by family and address.
    pub(crate) fn slots(&self) -> impl Iterator<Item = u32> + '_ {
        let slot = |&(_, slot): &(u8, u32)| slot;
        self.v4.values().map(slot).chain(self.v6.values().map(slot))
    }

    /// The IPv4 blocks from the one holding or following `from` on, by address, as first and
    /// last addresses.
    fn v4_from(&self, from: u32) -> impl Iterator<Item = (u32, u32)> + '_ {
        let start = self.v4.range(..=from).next_back().map_or(from, |(&k, _)| k);
        self.v4.range(start..).map(|(&first, &(prefix, _))| {
            let last = last_of(u128::from(first), prefix, 32);
            (first, u32::try_from(last).unwrap_or(u32::MAX))
        })
    }
}

/// A Private Network.
#[derive(Clone, Debug)]
pub(crate) struct PnRecord {
    pub(crate) id: PrivateNetworkId,
    pub(crate) name: String,
    pub(crate) project: ProjectId,
    pub(crate) vpc: VpcId,
    pub(crate) tags: Vec<String>,
    pub(crate) created: i64,
    pub(crate) updated: i64,
    /// Slots of its subnets, in creation order.
    pub(crate) subnets: SmallVec<[u32; 2]>,
    pub(crate) default_route_propagation: bool,
    pub(crate) seq: u64,
}

/// A subnet, its pool and the handles of the IPs booked in it.
#[derive(Clone, Debug)]
pub(crate) struct SubnetRecord {
    pub(crate) id: SubnetId,
    pub(crate) pn: PrivateNetworkId,
    pub(crate) vpc: VpcId,
    pub(crate) project: ProjectId,
    pub(crate) created: i64,
    pub(crate) updated: i64,
    pub(crate) pool: Pool,
    pub(crate) handles: SubnetHandles,
}

impl SubnetRecord {
    pub(crate) fn net(&self) -> IpNet {
        self.pool.net()
    }

    pub(crate) fn is_ipv6(&self) -> bool {
        matches!(self.pool.net(), IpNet::V6(_))
    }
}

/// The networks of one region.
#[derive(Clone, Debug)]
pub(crate) struct Registry {
    pub(crate) vpcs: FastMap<VpcId, VpcRecord>,
    pub(crate) default_vpcs: FastMap<ProjectId, VpcId>,
    pub(crate) pns: FastMap<PrivateNetworkId, PnRecord>,
    subnets: Vec<Option<SubnetRecord>>,
    subnet_ids: FastMap<SubnetId, u32>,
    free_slots: Vec<u32>,
    seq: u64,
    hasher: KeyedState,
}

/// IPv4 blocks no Private Network may use.
const FORBIDDEN_V4: [(Ipv4Addr, u8); 5] = [
    (Ipv4Addr::UNSPECIFIED, 8),
    (Ipv4Addr::new(127, 0, 0, 0), 8),
    (Ipv4Addr::new(100, 64, 0, 0), 10),
    (Ipv4Addr::new(169, 254, 0, 0), 16),
    (Ipv4Addr::new(224, 0, 0, 0), 4),
];

/// Where generated IPv4 subnets come from.
const AUTO_V4_SPACE: (Ipv4Addr, u8) = (Ipv4Addr::new(172, 16, 0, 0), 12);
/// The prefix of generated IPv4 subnets.
const AUTO_V4_PREFIX: u8 = 22;

impl Registry {
    pub(crate) fn new(hasher: KeyedState) -> Self {
        Self {
            vpcs: FastMap::with_hasher(hasher),
            default_vpcs: FastMap::with_hasher(hasher),
            pns: FastMap::with_hasher(hasher),
            subnets: Vec::new(),
            subnet_ids: FastMap::with_hasher(hasher),
            free_slots: Vec::new(),
            seq: 0,
            hasher,
        }
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    // A plain `#[inline]` left these out of line in booking (callgrind: 11 instructions a booking).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub(crate) fn subnet(&self, slot: u32) -> &SubnetRecord {
        self.subnet_opt(slot).expect("live subnet slot")
    }

    /// [`Registry::subnet`], or `None` for a slot with no live subnet (instead of a panic,
    /// which is a call: the owned get's `fill_common` makes none).
    #[inline]
    pub(crate) fn subnet_opt(&self, slot: u32) -> Option<&SubnetRecord> {
        self.subnets.get(slot as usize)?.as_ref()
    }

    /// The slots of the subnets a booking `source` may take an address from (a Private
    /// Network's, in creation order, or the one subnet), if it names a live one; the Project
    /// and family are not checked.
    pub(crate) fn source_slots(&self, source: &Source) -> Option<&[u32]> {
        match source {
            Source::PrivateNetworkId(id) => self.pns.get(id).map(|pn| &pn.subnets[..]),
            Source::SubnetId(id) => self.subnet_ids.get(id).map(std::slice::from_ref),
            _ => None,
        }
    }

    /// Starts loading the record of a live subnet slot (a hint: no other effect).
    pub(crate) fn prefetch_subnet(&self, slot: u32) {
        if let Some(Some(s)) = self.subnets.get(slot as usize) {
            crate::flat::prefetch_all(s);
        }
    }

    #[allow(clippy::inline_always)]
    #[inline(always)]
    pub(crate) fn subnet_mut(&mut self, slot: u32) -> &mut SubnetRecord {
        self.subnets[slot as usize]
            .as_mut()
            .expect("live subnet slot")
    }

    pub(crate) fn subnet_slot(&self, id: SubnetId) -> Option<u32> {
        self.subnet_ids.get(&id).copied()
    }

    /// One more than the largest subnet slot ever used: the length of a table by slot.
    pub(crate) fn slot_count(&self) -> usize {
        self.subnets.len()
    }

    /// Every live subnet slot.
    pub(crate) fn subnet_slots(&self) -> impl Iterator<Item = (u32, &SubnetRecord)> {
        self.subnets
            .iter()
            .enumerate()
            .filter_map(|(i, s)| Some((u32::try_from(i).ok()?, s.as_ref()?)))
    }

    pub(crate) fn subnets_mut(&mut self) -> impl Iterator<Item = &mut SubnetRecord> {
        self.subnets.iter_mut().flatten()
    }

    /// Checks a caller-given block against the fixed rules (not against other subnets).
    pub(crate) fn check_given(net: IpNet, v4_prefixes: (u8, u8)) -> Result<(), Error> {
        if net.trunc() != net {
            return Err(Error::SubnetNotAllowed {
                subnet: net,
                why: "host bits are set: expected the network address",
            });
        }
        match net {
            IpNet::V4(v4) => {
                let (min, max) = v4_prefixes;
                if v4.prefix_len() < min || v4.prefix_len() > max {
                    return Err(Error::SubnetNotAllowed {
                        subnet: net,
                        why: "ipv4 subnets must have a prefix length within the allowed range (/20 to /28 by default)",
                    });
                }
                for (addr, len) in FORBIDDEN_V4 {
                    let forbidden = Ipv4Net::new(addr, len).expect("valid constant");
                    if forbidden.contains(&v4.network()) || v4.contains(&forbidden.network()) {
                        return Err(Error::SubnetNotAllowed {
                            subnet: net,
                            why: "the block is reserved (0/8, 127/8, 100.64/10, 169.254/16, 224/4)",
                        });
                    }
                }
            }
            IpNet::V6(v6) => {
                if v6.prefix_len() != 64 {
                    return Err(Error::SubnetNotAllowed {
                        subnet: net,
                        why: "ipv6 subnets must be /64",
                    });
                }
                let first = v6.network().segments()[0];
                if first & 0xff00 == 0xff00 || first & 0xffc0 == 0xfe80 || first & 0xff00 == 0 {
                    return Err(Error::SubnetNotAllowed {
                        subnet: net,
                        why: "the block is reserved (::/8, fe80::/10, ff00::/8)",
                    });
                }
            }
        }
        Ok(())
    }

    /// The first subnet of `vpc` (or of `pending`) that overlaps `net`. O(log s + p) in the
    /// VPC's subnets and the pending ones.
    pub(crate) fn overlap(
        &self,
        vpc: Option<&VpcRecord>,
        pending: &[IpNet],
        net: IpNet,
    ) -> Option<IpNet> {
        let existing = vpc
            .and_then(|v| v.subnets.overlapping(net))
            .map(|slot| self.subnet(slot).net());
        existing.or_else(|| pending.iter().copied().find(|other| overlaps(*other, net)))
    }

    /// The lowest /22 of 172.16.0.0/12 that overlaps no subnet of `vpc` nor of `pending`.
    /// O((k + p) log (k + p)) in the VPC's blocks inside that range and the pending ones.
    pub(crate) fn generate_v4(vpc: Option<&VpcRecord>, pending: &[IpNet]) -> Option<IpNet> {
        let space = Ipv4Net::new(AUTO_V4_SPACE.0, AUTO_V4_SPACE.1).expect("valid constant");
        let mut taken: Vec<(u32, u32)> = vpc
            .into_iter()
            .flat_map(|v| v.subnets.v4_from(u32::from(space.network())))
            .take_while(|&(first, _)| first <= u32::from(space.broadcast()))
            .chain(pending.iter().filter_map(|n| match n {
                IpNet::V4(v4) => Some((u32::from(v4.network()), u32::from(v4.broadcast()))),
                IpNet::V6(_) => None,
            }))
            .collect();
        taken.sort_unstable();
        let step = 1u32 << (32 - u32::from(AUTO_V4_PREFIX));
        let mut candidate = u32::from(space.network());
        let end = u32::from(space.broadcast());
        let mut i = 0;
        while candidate < end {
            let last = candidate + (step - 1);
            // Skip blocks entirely below the candidate.
            while i < taken.len() && taken[i].1 < candidate {
                i += 1;
            }
            match taken.get(i) {
                Some(&(start, stop)) if start <= last => {
                    // Overlap: jump past this block, aligned to the next /22.
                    candidate = (stop / step + 1).checked_mul(step)?;
                }
                _ => {
                    return Some(IpNet::V4(
                        Ipv4Net::new(Ipv4Addr::from(candidate), AUTO_V4_PREFIX).expect("valid"),
                    ))
                }
            }
        }
        None
    }

    /// A random /64 of the VPC's ULA /48 that no subnet of the VPC nor of `pending` uses.
    pub(crate) fn generate_v6(
        &self,
        ula: Ipv6Net,
        vpc: Option<&VpcRecord>,
        pending: &[IpNet],
        rng: &mut dyn RandomSource,
    ) -> Option<IpNet> {
        let base = u128::from(ula.network());
        let make = |sid: u16| {
            let net = Ipv6Addr::from(base | (u128::from(sid) << 64));
            IpNet::V6(Ipv6Net::new(net, 64).expect("valid"))
        };
        let free = |net: IpNet| self.overlap(vpc, pending, net).is_none();
        for _ in 0..32 {
            #[allow(clippy::cast_possible_truncation)]
            let candidate = make(rng.next_u64() as u16);
            if free(candidate) {
                return Some(candidate);
            }
        }
        (0..=u16::MAX).map(make).find(|&n| free(n))
    }

    /// A random ULA /48 (`fdXX:XXXX:XXXX::/48`) for a new VPC.
    pub(crate) fn generate_ula(rng: &mut dyn RandomSource) -> Ipv6Net {
        let global_id = u128::from(rng.next_u64() & 0xff_ffff_ffff);
        let net = (0xfd_u128 << 120) | (global_id << 80);
        Ipv6Net::new(Ipv6Addr::from(net), 48).expect("valid")
    }

    /// Adds a subnet to a Private Network that is being created; returns its slot.
    pub(crate) fn add_subnet(
        &mut self,
        id: SubnetId,
        net: IpNet,
        pn: &mut PnRecord,
        now: i64,
    ) -> u32 {
        let record = SubnetRecord {
            id,
            pn: pn.id,
            vpc: pn.vpc,
            project: pn.project,
            created: now,
            updated: now,
            pool: Pool::new(net, self.hasher),
            handles: SubnetHandles::default(),
        };
        let slot = if let Some(slot) = self.free_slots.pop() {
            self.subnets[slot as usize] = Some(record);
            slot
        } else {
            self.subnets.push(Some(record));
            u32::try_from(self.subnets.len() - 1).expect("fewer subnets than u32::MAX")
        };
        self.subnet_ids.insert(id, slot);
        pn.subnets.push(slot);
        if let Some(vpc) = self.vpcs.get_mut(&pn.vpc) {
            vpc.subnets.insert(net, slot);
        }
        slot
    }

    /// Removes an empty subnet.
    pub(crate) fn remove_subnet(&mut self, slot: u32) {
        let record = self.subnets[slot as usize]
            .take()
            .expect("live subnet slot");
        debug_assert_eq!(record.pool.len(), 0);
        self.subnet_ids.remove(&record.id);
        if let Some(vpc) = self.vpcs.get_mut(&record.vpc) {
            vpc.subnets.remove(record.net());
        }
        self.free_slots.push(slot);
    }

    /// Checks subnet ids, VPC and Private Network membership agree.
    pub(crate) fn check(&self) -> Result<(), String> {
        for (slot, s) in self.subnet_slots() {
            if self.subnet_ids.get(&s.id) != Some(&slot) {
                return Err(format!("subnet {} not indexed at slot {slot}", s.id));
            }
            let pn = self
                .pns
                .get(&s.pn)
                .ok_or_else(|| format!("subnet {} has no pn", s.id))?;
            if !pn.subnets.contains(&slot) || pn.vpc != s.vpc || pn.project != s.project {
                return Err(format!("subnet {} disagrees with its pn", s.id));
            }
            let vpc = self
                .vpcs
                .get(&s.vpc)
                .ok_or_else(|| format!("subnet {} has no vpc", s.id))?;
            if vpc.subnets.overlapping(s.net()) != Some(slot) {
                return Err(format!("subnet {} missing from its vpc", s.id));
            }
            if s.pool.len() != s.handles.len() {
                return Err(format!(
                    "subnet {}: pool has {} ips, handle set {}",
                    s.id,
                    s.pool.len(),
                    s.handles.len()
                ));
            }
            s.pool.check()?;
            s.handles.check()?;
        }
        if self.subnet_ids.len() != self.subnet_slots().count() {
            return Err("subnet id map has stale entries".into());
        }
        // One pass over the subnets and the networks, not one per VPC.
        let mut counts: FastMap<VpcId, (usize, usize)> = FastMap::with_hasher(self.hasher);
        for (_, s) in self.subnet_slots() {
            counts.entry(s.vpc).or_default().0 += 1;
        }
        for p in self.pns.values() {
            counts.entry(p.vpc).or_default().1 += 1;
        }
        for vpc in self.vpcs.values() {
            let (subnets, pns) = counts.get(&vpc.id).copied().unwrap_or_default();
            if vpc.subnets.len() != subnets {
                return Err(format!(
                    "vpc {} holds {} subnet blocks, has {subnets} subnets",
                    vpc.id,
                    vpc.subnets.len()
                ));
            }
            if pns != vpc.private_networks as usize {
                return Err(format!(
                    "vpc {} counts {} pns, has {pns}",
                    vpc.id, vpc.private_networks
                ));
            }
        }
        for (project, vpc) in &self.default_vpcs {
            match self.vpcs.get(vpc) {
                Some(v) if v.is_default && v.project == *project => {}
                _ => return Err(format!("default vpc of {project} is stale")),
            }
        }
        Ok(())
    }
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_find_the_subnet_a_block_overlaps() {
        let net = |s: &str| s.parse::<IpNet>().unwrap();
        let mut blocks = Blocks::default();
        blocks.insert(net("10.0.0.0/20"), 1);
        blocks.insert(net("10.0.32.0/24"), 2);
        blocks.insert(net("fd00:0:0:1::/64"), 3);
        for (probe, want) in [
            ("10.0.0.0/20", Some(1)),
            ("10.0.15.0/24", Some(1)),
            ("10.0.0.0/16", Some(2)),
            ("10.0.16.0/20", None),
            ("10.0.32.128/25", Some(2)),
            ("10.0.33.0/24", None),
            ("9.255.255.0/24", None),
            ("0.0.0.0/0", Some(2)),
            ("fd00:0:0:1::/64", Some(3)),
            ("fd00:0:0:2::/64", None),
            ("fd00::/48", Some(3)),
            // The families never meet, whatever their numbers.
            ("::a00:0/120", None),
        ] {
            assert_eq!(blocks.overlapping(net(probe)), want, "{probe}");
        }
        assert_eq!(blocks.slots().collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(
            blocks
                .v4_from(u32::from(Ipv4Addr::new(10, 0, 20, 0)))
                .collect::<Vec<_>>(),
            [
                (
                    u32::from(Ipv4Addr::new(10, 0, 0, 0)),
                    u32::from(Ipv4Addr::new(10, 0, 15, 255))
                ),
                (
                    u32::from(Ipv4Addr::new(10, 0, 32, 0)),
                    u32::from(Ipv4Addr::new(10, 0, 32, 255))
                ),
            ]
        );
        blocks.remove(net("10.0.0.0/20"));
        assert_eq!(blocks.overlapping(net("10.0.0.0/24")), None);
        assert_eq!(blocks.overlapping(net("10.0.0.0/16")), Some(2));
    }

    #[test]
    fn generated_v4_blocks_skip_taken_ranges() {
        let first = Registry::generate_v4(None, &[]).unwrap();
        assert_eq!(first.to_string(), "172.16.0.0/22");
        let pending: Vec<IpNet> = vec![
            "172.16.0.0/22".parse().unwrap(),
            "172.16.5.0/24".parse().unwrap(),
        ];
        assert_eq!(
            Registry::generate_v4(None, &pending).unwrap().to_string(),
            "172.16.8.0/22"
        );
        let all: Vec<IpNet> = vec!["172.16.0.0/12".parse().unwrap()];
        assert_eq!(Registry::generate_v4(None, &all), None);
    }

    #[test]
    fn given_subnets_are_checked() {
        let ok = |s: &str| Registry::check_given(s.parse().unwrap(), (20, 28));
        assert!(ok("172.16.32.0/22").is_ok());
        assert!(ok("10.0.0.0/28").is_ok());
        assert!(ok("fd00:1:2:3::/64").is_ok());
        for bad in [
            "172.16.32.1/22",
            "10.0.0.0/16",
            "10.0.0.0/29",
            "127.0.0.0/24",
            "100.64.0.0/24",
            "169.254.1.0/24",
            "224.0.0.0/24",
            "fd00::/48",
            "ff00::/64",
            "::/64",
            "fe80::/64",
        ] {
            assert!(ok(bad).is_err(), "{bad}");
        }
    }
}
