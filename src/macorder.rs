//! The IPs with a MAC address, in MAC address order: what a list ordered by MAC address reads
//! its page from, found by rank, with no sort and no pass over the region per request.
//!
//! Every key stands for one IP: its MAC address above its handle, so that IPs sharing a MAC
//! address follow one another in creation order. Keys sit in sorted leaves of at most
//! [`LEAF`] (512 bytes), grouped in runs of at most [`MID`] leaves; a run lists its leaves, each
//! beside its last key, and the top lists the runs the same way. Beside each list, the MAC
//! addresses of the last keys, which is what a search reads: 8 bytes an entry. A change
//! searches the top's (70 KiB at ten million keys), one run's (with the leaves' addresses: 1
//! KiB) and one leaf, then shifts keys within that leaf. The key at rank r is found by adding
//! up the runs' lengths, then the leaves' of one run, from the nearer end.
//!
//! In a large region the run's list and the leaf are not in cache: a change costs two or three
//! cache misses more than the engine's other indexes do. To overlap them with the rest of the
//! call, the engine starts the walk ([`MacOrder::warm`]) as soon as it knows the MAC address,
//! before it looks up the IP: the run's list is requested at once and searched, and the leaf's
//! lines are requested from the address found there.

use crate::flat::prefetch_ptr;
use crate::live::LiveSet;
use crate::model::mac::MacAddress;
use crate::store::{Handle, Renumbering};

/// Most keys in a leaf: 512 bytes, 8 cache lines. A full leaf splits in two halves, except when
/// a key goes past the last key of the last leaf of its run (MAC addresses handed out in turn):
/// it starts a new leaf, so that such a load leaves its leaves full.
const LEAF: usize = if cfg!(test) { 8 } else { 32 };

/// Most leaves in a run; a run with one more splits as a leaf does.
const MID: usize = if cfg!(test) { 4 } else { 64 };

/// The MAC address as a big-endian integer, above the handle.
fn key(mac: MacAddress, handle: Handle) -> u128 {
    let mut bytes = [0; 8];
    bytes[2..].copy_from_slice(&mac.octets());
    (u128::from(u64::from_be_bytes(bytes)) << 32) | u128::from(handle)
}

/// The handle of a [`key`].
fn handle_of(key: u128) -> Handle {
    // The low 32 bits are the handle: the truncation is the point.
    #[allow(clippy::cast_possible_truncation)]
    let handle = key as Handle;
    handle
}

/// A leaf or a run, beside its last key.
#[derive(Clone, Debug)]
struct Slot<T> {
    last: u128,
    item: T,
}

/// Where `key` is or would go among `slots` (sorted, not empty): the first slot whose last key
/// is not below it, or the last one for a key above them all. `macs` holds the MAC address of
/// each slot's last key ([`mac_bits`], read by `mac`): those are searched (8 bytes a slot, few
/// cache lines), then the last keys from the first slot with `key`'s MAC address or a later one
/// (slots can share a MAC address).
fn slot_of<T, M>(macs: &[M], mac: impl Fn(&M) -> u64, slots: &[Slot<T>], key: u128) -> usize {
    let n = slots.len();
    let key_mac = mac_bits(key);
    let mut i = macs.partition_point(|m| mac(m) < key_mac).min(n - 1);
    while i + 1 < n && slots[i].last < key {
        i += 1;
    }
    i
}

/// Starts loading every cache line of `leaf` (a hint: no other effect). A binary search
/// through a leaf that is not in cache waits for one line after the other; with every line on
/// its way at once, it waits for about one.
fn warm_leaf(leaf: &[u128]) {
    // Four keys a cache line.
    for i in (0..leaf.len()).step_by(4) {
        prefetch_ptr(leaf.as_ptr().wrapping_add(i));
    }
}

/// Merges the short item of slot `i` into a neighbour's that has room for its members (an
/// item holds at most `full`) with a quarter to spare.
fn merge_small<T: Extend<U> + IntoIterator<Item = U>, U>(
    slots: &mut Vec<Slot<T>>,
    i: usize,
    full: usize,
    len: impl Fn(&T) -> usize,
) {
    let fits = |n: usize| len(&slots[i].item) + n <= full - full / 4;
    if i + 1 < slots.len() && fits(len(&slots[i + 1].item)) {
        let next = slots.remove(i + 1);
        slots[i].last = next.last;
        slots[i].item.extend(next.item);
    } else if i > 0 && fits(len(&slots[i - 1].item)) {
        let slot = slots.remove(i);
        slots[i - 1].last = slot.last;
        slots[i - 1].item.extend(slot.item);
    }
}

/// The item holding `rank` among items of the given lengths (`total` in all), and the rank
/// within it: the lengths are added up from the nearer end, so that a page near either end
/// (the first ones of a descending order, as of an ascending one) reads few of them.
fn locate(
    lens: impl DoubleEndedIterator<Item = u64> + ExactSizeIterator,
    total: u64,
    rank: u64,
) -> (usize, u64) {
    debug_assert!(rank < total);
    if rank < total / 2 {
        let mut left = rank;
        for (i, n) in lens.enumerate() {
            if left < n {
                return (i, left);
            }
            left -= n;
        }
    } else {
        // The rank from the back.
        let mut left = total - 1 - rank;
        for (i, n) in lens.enumerate().rev() {
            if left < n {
                return (i, n - 1 - left);
            }
            left -= n;
        }
    }
    unreachable!("rank {rank} past the end")
}

/// The MAC address of a [`key`], as the integer that orders it.
fn mac_bits(key: u128) -> u64 {
    // 48 bits above the handle's 32: the truncation drops nothing.
    #[allow(clippy::cast_possible_truncation)]
    let mac = (key >> 32) as u64;
    mac
}

/// A run of leaves, each sorted and non-empty, every key of one below every key of the next.
#[derive(Debug, Default)]
struct Mid {
    leaves: Vec<Slot<Vec<u128>>>,
    /// Each leaf's [`Head`]: what a search through the run reads, 16 bytes a leaf.
    heads: Vec<Head>,
    len: u64,
}

/// The MAC address of a leaf's last key ([`mac_bits`]), and the leaf's address: few enough
/// lines for a run's heads to be requested all at once, and what [`MacOrder::warm`] needs to
/// request the leaf's lines as soon as it has them. The address is a hint for that, never
/// read through.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Head {
    mac: u64,
    leaf: usize,
}

impl Head {
    fn of(slot: &Slot<Vec<u128>>) -> Self {
        Head {
            mac: mac_bits(slot.last),
            leaf: slot.item.as_ptr() as usize,
        }
    }
}

/// A clone holds its own leaves, so its heads are made anew, with their addresses.
impl Clone for Mid {
    fn clone(&self) -> Self {
        let mut mid = Mid::default();
        mid.extend(self.leaves.iter().map(|slot| {
            let mut leaf = Vec::with_capacity(LEAF);
            leaf.extend_from_slice(&slot.item);
            leaf
        }));
        mid
    }
}

/// A new leaf holding `k`, with room for [`LEAF`] keys, so that it does not move as it fills.
fn leaf_of_one(k: u128) -> Vec<u128> {
    let mut leaf = Vec::with_capacity(LEAF);
    leaf.push(k);
    leaf
}

impl Mid {
    fn last(&self) -> u128 {
        self.leaves.last().expect("runs are not empty").last
    }

    /// The leaf where `k` is or would go.
    fn leaf_of(&self, k: u128) -> usize {
        slot_of(&self.heads, |h| h.mac, &self.leaves, k)
    }

    /// Starts loading the leaf where `k` is or would go, and its slot (a hint: no other
    /// effect). The run's heads are requested at once and searched; the leaf's lines are
    /// requested from the address found there, with no wait for the slot.
    fn warm(&self, k: u128) {
        // Four heads a cache line.
        for i in (0..self.heads.len()).step_by(4) {
            prefetch_ptr(self.heads.as_ptr().wrapping_add(i));
        }
        let mac = mac_bits(k);
        let l = self
            .heads
            .partition_point(|h| h.mac < mac)
            .min(self.heads.len() - 1);
        prefetch_ptr(self.leaves.as_ptr().wrapping_add(l));
        let leaf = self.heads[l].leaf as *const u128;
        // Four keys a cache line, over the leaf's whole room.
        for i in (0..LEAF).step_by(4) {
            prefetch_ptr(leaf.wrapping_add(i));
        }
    }

    /// Sets the last key of leaf `l`.
    fn set_last(&mut self, l: usize, last: u128) {
        self.leaves[l].last = last;
        self.heads[l] = Head::of(&self.leaves[l]);
    }

    /// Adds `k` (and returns `true`) unless it is there.
    fn insert(&mut self, k: u128) -> bool {
        let l = self.leaf_of(k);
        warm_leaf(&self.leaves[l].item);
        let Err(at) = self.leaves[l].item.binary_search(&k) else {
            return false;
        };
        let (l, at) = if self.leaves[l].item.len() < LEAF {
            (l, at)
        } else if at == LEAF && l + 1 == self.leaves.len() {
            // Past every key of the run: a new leaf, and the full one stays full.
            self.leaves.push(Slot {
                last: k,
                item: Vec::with_capacity(LEAF),
            });
            self.heads.push(Head::of(&self.leaves[l + 1]));
            (l + 1, 0)
        } else {
            let slot = &mut self.leaves[l];
            let mut upper = Vec::with_capacity(LEAF);
            upper.extend(slot.item.drain(LEAF / 2..));
            let upper = Slot {
                last: slot.last,
                item: upper,
            };
            let lower_last = slot.item[LEAF / 2 - 1];
            self.heads.insert(l + 1, Head::of(&upper));
            self.leaves.insert(l + 1, upper);
            self.set_last(l, lower_last);
            if at <= LEAF / 2 {
                (l, at)
            } else {
                (l + 1, at - LEAF / 2)
            }
        };
        let slot = &mut self.leaves[l];
        slot.item.insert(at, k);
        if at + 1 == slot.item.len() {
            slot.last = k;
        }
        // Its last key, or its address had it moved.
        self.heads[l] = Head::of(slot);
        self.len += 1;
        true
    }

    /// Removes `k` (and returns `true`) if it is there. The run may be left empty.
    fn remove(&mut self, k: u128) -> bool {
        let l = self.leaf_of(k);
        warm_leaf(&self.leaves[l].item);
        let Ok(at) = self.leaves[l].item.binary_search(&k) else {
            return false;
        };
        let leaf = &mut self.leaves[l].item;
        leaf.remove(at);
        self.len -= 1;
        match leaf.last() {
            None => {
                self.leaves.remove(l);
                self.heads.remove(l);
            }
            Some(&last) => {
                let short = leaf.len() <= LEAF / 4;
                self.set_last(l, last);
                if short {
                    merge_small(&mut self.leaves, l, LEAF, Vec::len);
                    // Rare: the list is rebuilt whole.
                    self.heads = self.leaves.iter().map(Head::of).collect();
                }
            }
        }
        true
    }

    /// The leaf and index of the key at `rank` (below the run's length).
    fn position(&self, rank: u64) -> (usize, usize) {
        let lens = self.leaves.iter().map(|slot| slot.item.len() as u64);
        let (l, left) = locate(lens, self.len, rank);
        // Below a leaf's length.
        #[allow(clippy::cast_possible_truncation)]
        (l, left as usize)
    }

    fn keys(&self) -> impl DoubleEndedIterator<Item = &u128> {
        self.leaves.iter().flat_map(|slot| &slot.item)
    }
}

impl Extend<Vec<u128>> for Mid {
    fn extend<I: IntoIterator<Item = Vec<u128>>>(&mut self, leaves: I) {
        for leaf in leaves {
            self.len += leaf.len() as u64;
            let last = *leaf.last().expect("leaves are not empty");
            let slot = Slot { last, item: leaf };
            self.heads.push(Head::of(&slot));
            self.leaves.push(slot);
        }
    }
}

impl IntoIterator for Mid {
    type Item = Vec<u128>;
    type IntoIter =
        std::iter::Map<std::vec::IntoIter<Slot<Vec<u128>>>, fn(Slot<Vec<u128>>) -> Vec<u128>>;

    fn into_iter(self) -> Self::IntoIter {
        self.leaves.into_iter().map(|slot| slot.item)
    }
}

/// The (MAC address, handle) pairs of the IPs that have a MAC address, in order.
#[derive(Clone, Debug, Default)]
pub(crate) struct MacOrder {
    /// Each non-empty, every key of one below every key of the next.
    mids: Vec<Slot<Mid>>,
    /// The MAC address of each run's last key ([`mac_bits`]): what a search through the runs
    /// reads, 8 bytes a run (70 KiB at ten million keys, against 550 KiB of runs).
    run_macs: Vec<u64>,
    /// The keys' handles (one key each, so as many as keys), for the IPs without a MAC
    /// address: the live set without these.
    handles: LiveSet,
}

impl MacOrder {
    /// Number of keys: the IPs with a MAC address.
    pub(crate) fn len(&self) -> u64 {
        self.handles.len()
    }

    /// The handles of the IPs with a MAC address.
    pub(crate) fn handles(&self) -> &LiveSet {
        &self.handles
    }

    /// The run where `k` is or would go (there is one).
    fn run_of(&self, k: u128) -> usize {
        slot_of(&self.run_macs, |&m| m, &self.mids, k)
    }

    /// Sets the last key of run `m` from its leaves.
    fn set_run_last(&mut self, m: usize) {
        let last = self.mids[m].item.last();
        self.mids[m].last = last;
        self.run_macs[m] = mac_bits(last);
    }

    /// Starts loading the leaf where the IP `handle` with `mac` is or would go, reading the
    /// run's list on the way (a hint: no other effect).
    pub(crate) fn warm(&self, mac: MacAddress, handle: Handle) {
        if self.mids.is_empty() {
            return;
        }
        let k = key(mac, handle);
        self.mids[self.run_of(k)].item.warm(k);
    }

    /// Adds the IP `handle` with `mac`; `false` (and no change) if it was there.
    pub(crate) fn insert(&mut self, mac: MacAddress, handle: Handle) -> bool {
        let k = key(mac, handle);
        if self.mids.is_empty() {
            let mut mid = Mid::default();
            mid.extend([leaf_of_one(k)]);
            self.mids.push(Slot { last: k, item: mid });
            self.run_macs.push(mac_bits(k));
        } else {
            let m = self.run_of(k);
            if !self.mids[m].item.insert(k) {
                return false;
            }
            self.set_run_last(m);
            if self.mids[m].item.leaves.len() > MID {
                self.split_mid(m, k);
            }
        }
        let added = self.handles.insert(handle);
        debug_assert!(added, "one key per handle");
        true
    }

    /// Splits the run `m`, one leaf over full since `k` went in: a new last leaf of the last
    /// run (keys in turn) moves to a run of its own, else the halves are even.
    fn split_mid(&mut self, m: usize, k: u128) {
        let last_run = m + 1 == self.mids.len();
        let slot = &mut self.mids[m];
        let appended = last_run && slot.last == k && slot.item.leaves[MID].item.len() == 1;
        let half = if appended { MID } else { MID.div_ceil(2) };
        let mut upper = Mid::default();
        upper.extend(slot.item.leaves.drain(half..).map(|leaf| leaf.item));
        slot.item.heads.truncate(half);
        slot.item.len -= upper.len;
        let upper = Slot {
            last: upper.last(),
            item: upper,
        };
        self.run_macs.insert(m + 1, mac_bits(upper.last));
        self.mids.insert(m + 1, upper);
        self.set_run_last(m);
    }

    /// Removes the IP `handle` with `mac`; `false` (and no change) if it was not there.
    pub(crate) fn remove(&mut self, mac: MacAddress, handle: Handle) -> bool {
        if self.mids.is_empty() {
            return false;
        }
        let k = key(mac, handle);
        let m = self.run_of(k);
        if !self.mids[m].item.remove(k) {
            return false;
        }
        if self.mids[m].item.leaves.is_empty() {
            self.mids.remove(m);
            self.run_macs.remove(m);
        } else {
            self.set_run_last(m);
            if self.mids[m].item.leaves.len() <= MID / 4 {
                merge_small(&mut self.mids, m, MID, |mid| mid.leaves.len());
                // Rare: the list is rebuilt whole.
                self.run_macs = self.mids.iter().map(|s| mac_bits(s.last)).collect();
            }
        }
        self.handles.remove(handle);
        true
    }

    /// Whether the IP `handle` with `mac` is a key.
    pub(crate) fn contains(&self, mac: MacAddress, handle: Handle) -> bool {
        if self.mids.is_empty() {
            return false;
        }
        let k = key(mac, handle);
        let mid = &self.mids[self.run_of(k)].item;
        mid.leaves[mid.leaf_of(k)].item.binary_search(&k).is_ok()
    }

    /// The handles in key order (from the largest key with `desc`), from the `start`-th on.
    pub(crate) fn handles_from(
        &self,
        desc: bool,
        start: u64,
    ) -> Box<dyn Iterator<Item = Handle> + '_> {
        let len = self.len();
        if start >= len {
            return Box::new(std::iter::empty());
        }
        // The rank from the front of the first key read.
        let rank = if desc { len - 1 - start } else { start };
        let (m, left) = locate(self.mids.iter().map(|mid| mid.item.len), len, rank);
        let (l, i) = self.mids[m].item.position(left);
        let leaves = &self.mids[m].item.leaves;
        let keys = if desc {
            let first = leaves[l].item[..=i].iter().rev();
            let in_run = leaves[..l].iter().rev().flat_map(|s| s.item.iter().rev());
            let rest = self.mids[..m]
                .iter()
                .rev()
                .flat_map(|s| s.item.keys().rev());
            Box::new(first.chain(in_run).chain(rest)) as Box<dyn Iterator<Item = &u128>>
        } else {
            let first = leaves[l].item[i..].iter();
            let in_run = leaves[l + 1..].iter().flat_map(|s| &s.item);
            let rest = self.mids[m + 1..].iter().flat_map(|s| s.item.keys());
            Box::new(first.chain(in_run).chain(rest))
        };
        Box::new(keys.map(|&k| handle_of(k)))
    }

    /// Renumbers every handle as a compaction renumbers the live ones (order preserving, so
    /// the keys stay in order).
    pub(crate) fn remap(&mut self, renumbering: &Renumbering) {
        let renumber = |k: u128| (k >> 32 << 32) | u128::from(renumbering.get(handle_of(k)));
        for mid in &mut self.mids {
            for leaf in &mut mid.item.leaves {
                for k in &mut leaf.item {
                    *k = renumber(*k);
                }
                leaf.last = renumber(leaf.last);
            }
            mid.last = renumber(mid.last);
        }
        self.handles.renumber(renumbering);
    }

    /// Checks the keys' order, every last key and length, the leaves' and runs' bounds and
    /// the handle set.
    pub(crate) fn check(&self) -> Result<(), String> {
        let fail = |what: &str| Err(format!("mac order: {what}"));
        if !self
            .run_macs
            .iter()
            .copied()
            .eq(self.mids.iter().map(|s| mac_bits(s.last)))
        {
            return fail("the runs' MAC addresses are not their last keys'");
        }
        let mut previous = None;
        let mut len = 0u64;
        for mid in &self.mids {
            let leaves = &mid.item.leaves;
            if leaves.is_empty() || leaves.len() > MID {
                return fail(&format!("a run of {} leaves", leaves.len()));
            }
            if mid.item.last() != mid.last {
                return fail("a run's last key is not its last leaf's");
            }
            if !mid
                .item
                .heads
                .iter()
                .copied()
                .eq(leaves.iter().map(Head::of))
            {
                return fail("a run's heads are not its leaves'");
            }
            let mut mid_len = 0u64;
            for leaf in leaves {
                if leaf.item.is_empty() || leaf.item.len() > LEAF {
                    return fail(&format!("a leaf of {} keys", leaf.item.len()));
                }
                if leaf.item.last() != Some(&leaf.last) {
                    return fail("a leaf's last key is not its last");
                }
                for &k in &leaf.item {
                    if previous.is_some_and(|p| p >= k) {
                        return fail("keys out of order");
                    }
                    if !self.handles.contains(handle_of(k)) {
                        return fail(&format!("handle {} not in the set", handle_of(k)));
                    }
                    previous = Some(k);
                }
                mid_len += leaf.item.len() as u64;
            }
            if mid_len != mid.item.len {
                return fail("a run's length");
            }
            len += mid_len;
        }
        self.handles.check()?;
        if self.handles.len() != len {
            return fail(&format!("{len} keys, {} handles", self.handles.len()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::collection::vec;

    use super::*;

    fn mac(n: u16) -> MacAddress {
        let [a, b] = n.to_be_bytes();
        MacAddress::new([0x02, 0, 0, 0, a, b])
    }

    fn page(order: &MacOrder, desc: bool, start: u64, size: usize) -> Vec<Handle> {
        order.handles_from(desc, start).take(size).collect()
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u16, Handle),
        Remove(u16, Handle),
        /// Remove the `i`-th key present (modulo their number).
        RemovePresent(usize),
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            3 => (0u16..600, 0u32..2000).prop_map(|(m, h)| Op::Insert(m, h)),
            1 => (0u16..600, 0u32..2000).prop_map(|(m, h)| Op::Remove(m, h)),
            2 => any::<usize>().prop_map(Op::RemovePresent),
        ]
    }

    proptest::proptest! {
        /// Inserts and removals, at random and in runs, agree with a sorted set of (MAC,
        /// handle) pairs: the answers, the count, every page in both directions, `contains`,
        /// and the invariants after each step.
        #[test]
        fn behaves_like_a_sorted_set(ops in vec(op(), 0..1500), ascending in 0u16..1200) {
            let mut order = MacOrder::default();
            let mut model: BTreeSet<(u16, Handle)> = BTreeSet::new();
            // A run of MAC addresses in turn first, as a load hands them out: full blocks.
            for i in 0..ascending {
                proptest::prop_assert!(order.insert(mac(1000 + i), u32::from(i)));
                model.insert((1000 + i, u32::from(i)));
            }
            for op in ops {
                let (m, h, insert) = match op {
                    Op::Insert(m, h) => (m, h, true),
                    Op::Remove(m, h) => (m, h, false),
                    Op::RemovePresent(i) if !model.is_empty() => {
                        let &(m, h) = model.iter().nth(i % model.len()).unwrap();
                        (m, h, false)
                    }
                    Op::RemovePresent(_) => continue,
                };
                if insert {
                    // One MAC per handle, as the index keeps it: a handle already keyed under
                    // another MAC is not inserted again.
                    if model.iter().any(|&(om, oh)| oh == h && om != m) {
                        continue;
                    }
                    proptest::prop_assert_eq!(order.insert(mac(m), h), model.insert((m, h)));
                } else {
                    proptest::prop_assert_eq!(order.remove(mac(m), h), model.remove(&(m, h)));
                }
                order.check().map_err(proptest::test_runner::TestCaseError::fail)?;
            }
            proptest::prop_assert_eq!(order.len(), model.len() as u64);
            let all: Vec<Handle> = model.iter().map(|&(_, h)| h).collect();
            let mut rev = all.clone();
            rev.reverse();
            let n = all.len();
            for start in [0, 1, n / 3, n / 2, n.saturating_sub(1), n, n + 5] {
                for size in [1, 7, 300] {
                    let want = |v: &[Handle]| -> Vec<Handle> {
                        v.iter().copied().skip(start).take(size).collect()
                    };
                    proptest::prop_assert_eq!(page(&order, false, start as u64, size), want(&all));
                    proptest::prop_assert_eq!(page(&order, true, start as u64, size), want(&rev));
                }
            }
            for &(m, h) in model.iter().take(50) {
                proptest::prop_assert!(order.contains(mac(m), h));
                proptest::prop_assert!(!order.contains(mac(m.wrapping_add(1)), h)
                    || model.contains(&(m.wrapping_add(1), h)));
            }
            let handles: Vec<Handle> = order.handles().iter().collect();
            let mut want: Vec<Handle> = all.clone();
            want.sort_unstable();
            proptest::prop_assert_eq!(handles, want);
        }
    }

    fn leaves(order: &MacOrder) -> impl Iterator<Item = &Vec<u128>> {
        order
            .mids
            .iter()
            .flat_map(|mid| mid.item.leaves.iter().map(|leaf| &leaf.item))
    }

    /// MAC addresses handed out in turn fill their leaves and runs; the same keys inserted
    /// from the top down (each new key the smallest) leave them half full, still within bounds.
    #[test]
    fn keys_in_turn_fill_their_leaves_and_runs() {
        let n = (LEAF * MID * 5) as u32;
        let mut order = MacOrder::default();
        for i in 0..n {
            order.insert(mac(i as u16), i);
        }
        order.check().unwrap();
        assert_eq!(order.mids.len(), 5);
        assert!(order.mids.iter().all(|mid| mid.item.leaves.len() == MID));
        assert!(leaves(&order).all(|leaf| leaf.len() == LEAF));

        let mut down = MacOrder::default();
        for i in (0..n).rev() {
            down.insert(mac(i as u16), i);
        }
        down.check().unwrap();
        // Half-full leaves, in half-full runs.
        assert!(leaves(&down).count() <= 2 * 5 * MID);
        assert!(down.mids.len() <= 4 * 5);
        assert_eq!(
            page(&down, false, 0, usize::MAX),
            page(&order, false, 0, usize::MAX)
        );
    }

    /// A clone holds the same keys in leaves of its own (its heads name them), and changes
    /// apart from the original.
    #[test]
    fn a_clone_stands_alone() {
        let mut order = MacOrder::default();
        for i in 0..(LEAF * MID * 3) as u32 {
            order.insert(mac((i * 7) as u16), i);
        }
        let mut copy = order.clone();
        copy.check().unwrap();
        assert_eq!(
            page(&copy, false, 0, usize::MAX),
            page(&order, false, 0, usize::MAX)
        );
        for i in 0..50u32 {
            assert!(copy.insert(mac((i * 7 + 1) as u16), 10_000 + i));
            assert!(copy.remove(mac((i * 7) as u16), i));
        }
        copy.check().unwrap();
        order.check().unwrap();
        assert_eq!(order.len(), (LEAF * MID * 3) as u64);
        assert!(order.contains(mac(0), 0) && !copy.contains(mac(0), 0));
    }

    /// Removing most keys merges the short leaves and runs that are left.
    #[test]
    fn emptied_leaves_and_runs_merge() {
        let mut order = MacOrder::default();
        let n = (LEAF * MID * 16) as u32;
        for i in 0..n {
            order.insert(mac(i as u16), i);
        }
        for i in 0..n {
            if i % 8 != 0 {
                assert!(order.remove(mac(i as u16), i));
            }
        }
        order.check().unwrap();
        let left = n as usize / 8;
        assert_eq!(order.len(), left as u64);
        // Leaves of one key each before merging; merged, each short one found room.
        assert!(
            leaves(&order).count() <= left.div_ceil(LEAF / 4),
            "{} leaves",
            leaves(&order).count()
        );
        assert!(order.mids.len() < 16, "{} runs", order.mids.len());
        for i in (0..n).step_by(8) {
            assert!(order.remove(mac(i as u16), i));
        }
        order.check().unwrap();
        assert!(order.mids.is_empty());
    }
}
