//! [`FlatMap`]: the map from 64-bit keys to `u32` values behind the engine's hottest lookups (an
//! IP id to its record's handle, an IPv6 interface id to its owner).
//!
//! A `HashMap` (a Swiss table) keeps its control bytes and its entries in two places, so a lookup in
//! a table larger than the caches misses twice, one miss waiting for the other. Here the key and
//! the value sit side by side in one 12-byte slot found by linear probing: a lookup touches one
//! cache line (two when a run crosses a line), an insert or a removal the same few lines.
//! Removal shifts the following run back (no tombstones), so lookups stay short under churn.

use std::fmt;
use std::hash::BuildHasher;

use crate::hash::KeyedState;

/// The value of a free slot; no entry may hold it.
const EMPTY: u32 = u32::MAX;

/// One entry: the key as two halves (so a slot is 12 bytes, not 16) and the value.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C)]
struct Slot {
    key: [u32; 2],
    value: u32,
}

impl Slot {
    const FREE: Slot = Slot {
        key: [0, 0],
        value: EMPTY,
    };

    fn new(key: u64, value: u32) -> Self {
        #[allow(clippy::cast_possible_truncation)]
        Slot {
            key: [key as u32, (key >> 32) as u32],
            value,
        }
    }

    fn key(self) -> u64 {
        u64::from(self.key[0]) | (u64::from(self.key[1]) << 32)
    }

    fn is_free(self) -> bool {
        self.value == EMPTY
    }
}

/// Starts loading the cache line of `value` (a hint: no other effect).
#[inline]
pub(crate) fn prefetch<T>(value: &T) {
    prefetch_at(std::ptr::from_ref(value).cast());
}

/// Starts loading the cache line at `at`, which need not be valid to read (a hint: no other
/// effect).
#[inline]
pub(crate) fn prefetch_ptr<T>(at: *const T) {
    prefetch_at(at.cast());
}

/// Starts loading every cache line of `value` (a hint: no other effect).
#[inline]
pub(crate) fn prefetch_all<T>(value: &T) {
    let start: *const i8 = std::ptr::from_ref(value).cast();
    for at in (0..std::mem::size_of::<T>()).step_by(64) {
        prefetch_at(start.wrapping_add(at));
    }
}

#[inline]
fn prefetch_at(at: *const i8) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: a prefetch has no architectural effect: it reads nothing into the program, faults
    // on no address and needs no feature beyond x86_64's baseline SSE. Its callers point it
    // inside live values, or inside a buffer they hold, besides.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>(at);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// An open-addressing map from `u64` keys to `u32` values below `u32::MAX`, hashed with the
/// engine's keyed hasher (keys can be chosen by callers). At most three quarters full.
#[derive(Clone)]
pub(crate) struct FlatMap {
    /// A power of two of slots, or none.
    slots: Box<[Slot]>,
    len: usize,
    hasher: KeyedState,
}

impl fmt::Debug for FlatMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl FlatMap {
    pub(crate) fn with_hasher(hasher: KeyedState) -> Self {
        Self {
            slots: Box::default(),
            len: 0,
            hasher,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    fn home(&self, key: u64) -> usize {
        // Truncation keeps the low bits, which the folded multiply mixes as well as the high.
        #[allow(clippy::cast_possible_truncation)]
        let h = self.hasher.hash_one(key) as usize;
        h & self.mask()
    }

    /// The index of `key`'s slot, or of the free slot that ends its run.
    fn find(&self, key: u64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = self.home(key);
        loop {
            let slot = self.slots[i];
            if slot.is_free() || slot.key() == key {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Asks the processor to start loading the home slot of `key` without waiting for it, so
    /// that a lookup or an insert of `key` a little later finds it in cache (prefetching the
    /// homes of many keys in a row lets their cache misses overlap). A hint: it changes nothing
    /// and costs an instruction.
    pub(crate) fn prefetch(&self, key: u64) {
        if let Some(slot) = self.slots.get(self.home(key)) {
            prefetch(slot);
        }
    }

    pub(crate) fn get(&self, key: u64) -> Option<u32> {
        let slot = self.slots[self.find(key)?];
        (!slot.is_free()).then_some(slot.value)
    }

    #[cfg(test)]
    pub(crate) fn contains_key(&self, key: u64) -> bool {
        self.get(key).is_some()
    }

    /// Inserts `key` → `value` unless `key` is present; returns whether it inserted.
    pub(crate) fn try_insert(&mut self, key: u64, value: u32) -> bool {
        debug_assert_ne!(value, EMPTY, "u32::MAX marks free slots");
        self.reserve(1);
        let i = self.find(key).expect("room reserved");
        if !self.slots[i].is_free() {
            return false;
        }
        self.slots[i] = Slot::new(key, value);
        self.len += 1;
        true
    }

    /// Maps `key` to `value`; returns the value it replaces.
    pub(crate) fn insert(&mut self, key: u64, value: u32) -> Option<u32> {
        debug_assert_ne!(value, EMPTY, "u32::MAX marks free slots");
        self.reserve(1);
        let i = self.find(key).expect("room reserved");
        let old = self.slots[i];
        self.slots[i] = Slot::new(key, value);
        if old.is_free() {
            self.len += 1;
            None
        } else {
            Some(old.value)
        }
    }

    /// Removes `key`; returns its value.
    pub(crate) fn remove(&mut self, key: u64) -> Option<u32> {
        let mut hole = self.find(key)?;
        let removed = self.slots[hole];
        if removed.is_free() {
            return None;
        }
        // Backward shift: move back every later entry of the run that may sit in the hole
        // (whose home is not cyclically within (hole, j]).
        let mask = self.mask();
        let mut j = hole;
        loop {
            j = (j + 1) & mask;
            let slot = self.slots[j];
            if slot.is_free() {
                break;
            }
            let home = self.home(slot.key());
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = slot;
                hole = j;
            }
        }
        self.slots[hole] = Slot::FREE;
        self.len -= 1;
        Some(removed.value)
    }

    /// Makes room for `additional` more entries without another allocation.
    pub(crate) fn reserve(&mut self, additional: usize) {
        assert!(self.try_reserve(additional), "out of memory for the map");
    }

    /// [`FlatMap::reserve`], or `false` (the map unchanged) when the memory cannot be had.
    #[inline]
    pub(crate) fn try_reserve(&mut self, additional: usize) -> bool {
        let needed = self.len.saturating_add(additional);
        // At most three quarters full. Every insert asks: the check is inlined, growing is not.
        if needed.saturating_mul(4) <= self.slots.len().saturating_mul(3) {
            return true;
        }
        self.grow(needed)
    }

    /// Moves the entries to slots for `needed` entries at most three quarters full; `false`
    /// (the map unchanged) when the memory cannot be had.
    #[cold]
    #[inline(never)]
    fn grow(&mut self, needed: usize) -> bool {
        let Some(want) = needed
            .saturating_mul(4)
            .div_ceil(3)
            .max(16)
            .checked_next_power_of_two()
        else {
            return false;
        };
        let mut slots = Vec::new();
        if slots.try_reserve_exact(want).is_err() {
            return false;
        }
        slots.resize(want, Slot::FREE);
        let old = std::mem::replace(&mut self.slots, slots.into_boxed_slice());
        for slot in old.iter().filter(|s| !s.is_free()) {
            let i = self.find(slot.key()).expect("room");
            self.slots[i] = *slot;
        }
        true
    }

    /// Every `(key, value)`, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.slots
            .iter()
            .filter(|s| !s.is_free())
            .map(|s| (s.key(), s.value))
    }

    /// Every value, to rewrite in place (with values other than `u32::MAX`).
    pub(crate) fn values_mut(&mut self) -> impl Iterator<Item = &mut u32> {
        self.slots
            .iter_mut()
            .filter(|s| !s.is_free())
            .map(|s| &mut s.value)
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn slots_are_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 12);
        let mut m = FlatMap::with_hasher(KeyedState::new(3));
        m.reserve(1_000);
        assert_eq!(m.heap_bytes(), 2048 * 12);
    }

    #[test]
    fn insert_get_remove() {
        let mut m = FlatMap::with_hasher(KeyedState::new(3));
        assert_eq!(m.get(5), None);
        assert_eq!(m.remove(5), None);
        assert!(m.try_insert(5, 50));
        assert!(!m.try_insert(5, 51));
        assert_eq!(m.get(5), Some(50));
        assert_eq!(m.insert(5, 52), Some(50));
        assert_eq!(m.insert(u64::MAX, 0), None);
        assert_eq!(m.insert(0, 1), None);
        assert_eq!(m.len(), 3);
        assert_eq!(m.remove(5), Some(52));
        assert_eq!(m.get(5), None);
        assert_eq!((m.get(0), m.get(u64::MAX)), (Some(1), Some(0)));
        for v in m.values_mut() {
            *v += 10;
        }
        let mut all: Vec<_> = m.iter().collect();
        all.sort_unstable();
        assert_eq!(all, [(0, 11), (u64::MAX, 10)]);
    }

    /// Keys that all hash to a few homes, so runs are long and wrap around the end.
    #[test]
    fn colliding_runs_survive_removals() {
        let mut m = FlatMap::with_hasher(KeyedState::new(9));
        m.reserve(12);
        let cap = 16;
        // Pick keys by home so that runs overlap and wrap.
        let mut keys = Vec::new();
        let mut k = 0u64;
        while keys.len() < 12 {
            if [cap - 2, cap - 1, 0].contains(&m.home(k)) {
                keys.push(k);
            }
            k += 1;
        }
        for (v, &k) in keys.iter().enumerate() {
            assert!(m.try_insert(k, v as u32));
        }
        for (v, &k) in keys.iter().enumerate().step_by(2) {
            assert_eq!(m.remove(k), Some(v as u32));
        }
        for (v, &k) in keys.iter().enumerate() {
            let want = (v % 2 == 1).then_some(v as u32);
            assert_eq!(m.get(k), want, "key {k}");
        }
    }

    proptest! {
        /// The map answers like a `HashMap` through any sequence of inserts and removals.
        #[test]
        fn behaves_like_a_hash_map(
            ops in prop::collection::vec((0u8..3, 0u64..64, 0u32..1000), 0..400),
            seed in any::<u64>(),
        ) {
            let mut m = FlatMap::with_hasher(KeyedState::new(seed));
            let mut model = HashMap::new();
            for (op, key, value) in ops {
                // Spread the small keys over the whole range too.
                let key = if key % 2 == 0 { key } else { key.wrapping_mul(0x9E37_79B9_7F4A_7C15) };
                match op {
                    0 => prop_assert_eq!(m.insert(key, value), model.insert(key, value)),
                    1 => {
                        let fresh = !model.contains_key(&key);
                        if fresh {
                            model.insert(key, value);
                        }
                        prop_assert_eq!(m.try_insert(key, value), fresh);
                    }
                    _ => prop_assert_eq!(m.remove(key), model.remove(&key)),
                }
                prop_assert_eq!(m.len(), model.len());
            }
            for (&k, &v) in &model {
                prop_assert_eq!(m.get(k), Some(v));
            }
            prop_assert_eq!(m.iter().count(), model.len());
        }
    }
}
