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

/// The value no entry may hold.
const EMPTY: u32 = u32::MAX;

/// One entry: the key as two halves (so a slot is 12 bytes, not 16) and the value, stored
/// inverted, so that a slot of zero bytes is free: a table taken from zeroed memory
/// ([`free_table`]) is free throughout before anything writes it.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C)]
struct Slot {
    key: [u32; 2],
    /// `!value`: zero for a free slot.
    inverted: u32,
}

impl Slot {
    const FREE: Slot = Slot {
        key: [0, 0],
        inverted: !EMPTY,
    };

    fn new(key: u64, value: u32) -> Self {
        #[allow(clippy::cast_possible_truncation)]
        Slot {
            key: [key as u32, (key >> 32) as u32],
            inverted: !value,
        }
    }

    fn key(self) -> u64 {
        u64::from(self.key[0]) | (u64::from(self.key[1]) << 32)
    }

    fn value(self) -> u32 {
        !self.inverted
    }

    fn is_free(self) -> bool {
        self.inverted == !EMPTY
    }
}

/// A table of `len` free slots, or `None` when the memory cannot be had: zeroed memory, which
/// is free slots ([`Slot`]), and which a large table takes untouched, its pages zeroed by the
/// system when first used (see "Taking room at once" on [`FlatMap`]).
fn free_table(len: usize) -> Option<Box<[Slot]>> {
    let layout = std::alloc::Layout::array::<Slot>(len).ok()?;
    if layout.size() == 0 {
        return Some(Box::default());
    }
    #[allow(unsafe_code)]
    // SAFETY: `layout` has a non-zero size, as `alloc_zeroed` requires. A non-null result is
    // an allocation of `len` slots with `Slot`'s alignment, from the global allocator, which
    // is what `Box<[Slot]>` frees it with. Its bytes are zero, and a `Slot` (`repr(C)`, three
    // `u32`, no padding) of zero bytes is a valid value: a free slot.
    unsafe {
        // Allocated with `Slot`'s layout, so aligned for it.
        #[allow(clippy::cast_ptr_alignment)]
        let at = std::alloc::alloc_zeroed(layout).cast::<Slot>();
        if at.is_null() {
            return None;
        }
        Some(Box::from_raw(std::ptr::slice_from_raw_parts_mut(at, len)))
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
///
/// # Growing in steps
///
/// A map that outgrows its table does not move every entry in the insert that finds it full:
/// at millions of entries that one call took 15-130 ms (setting every slot of a table twice
/// the size free, then rehashing into it a table larger than the caches). It grows in three
/// phases instead, each a few steps per insert or removal:
/// - **Prepare.** The insert that finds the table three quarters full sets aside memory for one
///   twice the size, `next`, and each insert and removal from then on sets [`PREPARE_STEP`] of
///   its slots free, writing each page of it once. Inserts still go to the current table,
///   which may fill to seven eighths meanwhile (it never comes near: preparing takes a 512th of
///   its slot count of inserts).
/// - **Drain.** `next` complete, it becomes the current table and the full one is kept beside
///   it as `old`. Inserts go to the new table; each insert and removal moves the entries of the
///   last [`DRAIN_STEP`] slots of `old` over and drops those slots, handing their memory back
///   every [`GIVE_BACK`] slots (freeing a drained table of 100 MB at once took 7-10 ms of
///   unmapping). A key is in one table or the other, never both, and `old` stays a valid table
///   throughout (see [`FlatMap::drain`]), so lookups search the new table, then `old`.
/// - **Done** when `old` is empty, long before the new table is three quarters full.
///
/// Why the table grown into is not taken from zeroed memory, which the system hands out
/// untouched and zeroes page by page as it is first used: lookups read such a table before
/// inserts write it, and a page read first, then written, takes two faults. A load of 3M MAC
/// addresses took 150,500 page faults that way, against 127,000 with every table written whole.
///
/// # Taking room at once
///
/// Room asked for many entries ([`FlatMap::reserve`]) is prepared the same way, a step per
/// insert or removal, into a table of the size asked for: one mechanism,
/// [`FlatMap::prepare_room`], for both. The call sets the memory aside and writes a small table
/// and one step, and the inserts that follow allocate nothing. A table of at most
/// [`STEP_FROM`] slots, and room asked for while an old table drains, is taken whole from
/// zeroed memory ([`free_table`]), which the allocator hands out untouched when it maps it
/// afresh, and zeroes in the call when it recycles it.
///
/// Measured on the MAC addresses `Ipam::reserve` makes room for (the harness row of the slowest
/// booking of a load with `Ipam::reserve`), against the table taken whole from zeroed memory:
/// - at 1M IPs (2M slots, 24 MB, memory the harness's earlier loads gave back to glibc), the
///   slowest booking of the load fell from 0.84-1.33 ms to 57-139 µs (four runs each), as fast
///   as the same load without `reserve` (65-151 µs);
/// - at 10M IPs (16M slots, which glibc maps afresh), the row read 1.09-1.10 ms against
///   4.14-4.22 ms (`--ips 10000000 --quick`, two runs each); in a scratch probe of the same
///   load, it took as long (7.2-7.7 s against 6.9-9.6 s, four runs each).
///
/// Writing the 16M slots free in the call that takes them, as the map once did, took that call
/// 80-117 ms.
#[derive(Clone)]
pub(crate) struct FlatMap {
    /// The table inserts go to: a power of two of slots, or none.
    slots: Box<[Slot]>,
    /// The next table while it is prepared (its slots set free so far, with room for all), or
    /// none.
    next: Vec<Slot>,
    /// The slot count `next` is prepared to (a power of two larger than `slots`), while it is.
    target: usize,
    /// The table being drained into `slots` while the map grows, or none.
    old: Draining,
    /// Entries in both tables.
    len: usize,
    hasher: KeyedState,
}

/// The table a growing map drains, from its last slot to its first.
#[derive(Clone, Default)]
struct Draining {
    /// Its slots not drained yet: those past them are (free, and never filled again).
    slots: Vec<Slot>,
    /// Its slot count when whole, less one: keys keep their homes in it.
    mask: usize,
}

/// Slots of the old table drained per insert or removal while the map grows, about 24 entries
/// moved: the drain ends after a 32nd of the old table's slot count of inserts. A lookup of a
/// key in neither table searches both until then, which a short drain keeps rare: a load of
/// 3M MAC addresses took 1.72-1.78 s with steps of 16 or 32 slots, 1.80-1.91 s with steps of 4.
/// Unit tests drain 4 slots a step, so that their maps are often mid-growth.
const DRAIN_STEP: usize = if cfg!(test) { 4 } else { 32 };

/// Slots of the next table set free per insert or removal while it is prepared (12 KiB): it
/// is ready after a 1,024th of its slot count of inserts. Unit tests set 32 a step, the fewest
/// that leave their inserts room.
const PREPARE_STEP: usize = if cfg!(test) { 32 } else { 1 << 10 };
// Preparing a table of 2n slots takes 2n / PREPARE_STEP inserts, which must fit in the n / 8
// a table of n slots has between three quarters and seven eighths full.
const _: () = assert!(PREPARE_STEP > 16);

/// Drained slots of the old table whose memory goes back at once (768 KiB): unmapping memory
/// costs about 80 µs a MiB here. Unit tests give back every 64 slots.
const GIVE_BACK: usize = if cfg!(test) { 64 } else { 1 << 16 };

/// The most slots of a table taken whole (48 KiB, written and filled in a few microseconds): a
/// larger one is prepared in steps, and the table it grows from, or that takes the inserts
/// while it is prepared, has at least as many. Unit tests step from the smallest tables, so
/// that their maps are often mid-growth.
const STEP_FROM: usize = if cfg!(test) { 16 } else { 1 << 12 };

impl fmt::Debug for FlatMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// The hash of `key`, whose low bits place it in a table ([`home`]).
fn hash(hasher: KeyedState, key: u64) -> usize {
    // Truncation keeps the low bits, which the folded multiply mixes as well as the high.
    #[allow(clippy::cast_possible_truncation)]
    let h = hasher.hash_one(key) as usize;
    h
}

/// The home slot of `key` in a table of `mask + 1` slots.
fn home(hasher: KeyedState, mask: usize, key: u64) -> usize {
    hash(hasher, key) & mask
}

/// The index of `key`'s slot in `table`, a table of `mask + 1` slots of which those past
/// `table` are free, or of the free slot that ends its run; `None` for a table without slots.
fn find(table: &[Slot], mask: usize, hasher: KeyedState, key: u64) -> Option<usize> {
    if table.is_empty() {
        return None;
    }
    let mut i = home(hasher, mask, key);
    loop {
        match table.get(i) {
            Some(slot) if !slot.is_free() && slot.key() != key => i = (i + 1) & mask,
            _ => return Some(i),
        }
    }
}

/// The index of `key`'s slot in `table` (as in [`find`]), if it holds `key`.
fn position(table: &[Slot], mask: usize, hasher: KeyedState, key: u64) -> Option<usize> {
    find(table, mask, hasher, key).filter(|&i| table.get(i).is_some_and(|s| !s.is_free()))
}

/// The mask of a whole table.
fn mask_of(table: &[Slot]) -> usize {
    table.len().wrapping_sub(1)
}

/// Empties slot `hole` of `table` (as in [`find`]): moves back every later entry of its run
/// that may sit in the hole (whose home is not cyclically within (hole, j]), so that no run is
/// broken.
fn shift_back(table: &mut [Slot], mask: usize, hasher: KeyedState, mut hole: usize) {
    let mut j = hole;
    loop {
        j = (j + 1) & mask;
        let Some(&slot) = table.get(j).filter(|s| !s.is_free()) else {
            break;
        };
        let home = home(hasher, mask, slot.key());
        if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
            table[hole] = slot;
            hole = j;
        }
    }
    table[hole] = Slot::FREE;
}

/// Puts `slot`, whose key `table` does not hold, in the free slot that ends its run.
fn place(table: &mut [Slot], hasher: KeyedState, slot: Slot) {
    let i = find(table, mask_of(table), hasher, slot.key()).expect("a table with room");
    debug_assert!(table[i].is_free(), "a key held once");
    table[i] = slot;
}

impl FlatMap {
    pub(crate) fn with_hasher(hasher: KeyedState) -> Self {
        Self {
            slots: Box::default(),
            next: Vec::new(),
            target: 0,
            old: Draining::default(),
            len: 0,
            hasher,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether an old table is still being drained.
    fn growing(&self) -> bool {
        !self.old.slots.is_empty()
    }

    /// Whether the next table is being prepared.
    fn preparing(&self) -> bool {
        !self.next.is_empty()
    }

    /// Asks the processor to start loading the home slot of `key` without waiting for it, so
    /// that a lookup or an insert of `key` a little later finds it in cache (prefetching the
    /// homes of many keys in a row lets their cache misses overlap). A hint: it changes nothing
    /// and costs an instruction.
    pub(crate) fn prefetch(&self, key: u64) {
        let h = hash(self.hasher, key);
        if let Some(slot) = self.slots.get(h & mask_of(&self.slots)) {
            prefetch(slot);
        }
        // While the map grows, a key not in the new table is looked for in the old one too.
        if let Some(slot) = self.old.slots.get(h & self.old.mask) {
            prefetch(slot);
        }
    }

    pub(crate) fn get(&self, key: u64) -> Option<u32> {
        match position(&self.slots, mask_of(&self.slots), self.hasher, key) {
            Some(i) => Some(self.slots[i].value()),
            None if self.growing() => self.get_old(key),
            None => None,
        }
    }

    /// The value of `key` in the old table.
    #[inline(never)]
    fn get_old(&self, key: u64) -> Option<u32> {
        let old = &self.old;
        position(&old.slots, old.mask, self.hasher, key).map(|i| old.slots[i].value())
    }

    #[cfg(test)]
    pub(crate) fn contains_key(&self, key: u64) -> bool {
        self.get(key).is_some()
    }

    /// Inserts `key` → `value` unless `key` is present; returns whether it inserted.
    pub(crate) fn try_insert(&mut self, key: u64, value: u32) -> bool {
        debug_assert_ne!(value, EMPTY, "u32::MAX marks free slots");
        self.reserve(1);
        let i = find(&self.slots, mask_of(&self.slots), self.hasher, key).expect("room reserved");
        if !self.slots[i].is_free() || (self.growing() && self.get_old(key).is_some()) {
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
        if self.growing() {
            if let Some(j) = position(&self.old.slots, self.old.mask, self.hasher, key) {
                let old = self.old.slots[j].value();
                self.old.slots[j] = Slot::new(key, value);
                return Some(old);
            }
        }
        let i = find(&self.slots, mask_of(&self.slots), self.hasher, key).expect("room reserved");
        let old = self.slots[i];
        self.slots[i] = Slot::new(key, value);
        if old.is_free() {
            self.len += 1;
            None
        } else {
            Some(old.value())
        }
    }

    /// Removes `key`; returns its value.
    pub(crate) fn remove(&mut self, key: u64) -> Option<u32> {
        self.step();
        let mask = mask_of(&self.slots);
        let (table, mask, i) = match position(&self.slots, mask, self.hasher, key) {
            Some(i) => (&mut self.slots[..], mask, i),
            None if self.growing() => {
                let i = position(&self.old.slots, self.old.mask, self.hasher, key)?;
                (&mut self.old.slots[..], self.old.mask, i)
            }
            None => return None,
        };
        let removed = table[i].value();
        shift_back(table, mask, self.hasher, i);
        self.len -= 1;
        Some(removed)
    }

    /// Makes room for `additional` more entries without another allocation.
    pub(crate) fn reserve(&mut self, additional: usize) {
        assert!(self.try_reserve(additional), "out of memory for the map");
    }

    /// [`FlatMap::reserve`], or `false` (the map unchanged) when the memory cannot be had.
    #[inline]
    pub(crate) fn try_reserve(&mut self, additional: usize) -> bool {
        self.step();
        let needed = self.len.saturating_add(additional);
        // At most three quarters full. Every insert asks: the check is inlined, growing is not.
        if needed.saturating_mul(4) <= self.slots.len().saturating_mul(3) {
            return true;
        }
        self.grow(needed)
    }

    /// A step of the growth under way, if any.
    #[inline]
    fn step(&mut self) {
        if self.growing() {
            self.drain(DRAIN_STEP);
        } else if self.preparing() {
            self.prepare(PREPARE_STEP);
        }
    }

    /// Makes room for `needed` entries when the table would be over three quarters full;
    /// `false` (the map unchanged) when the memory cannot be had. A table of more than
    /// [`STEP_FROM`] slots is prepared in steps ([`FlatMap::prepare_room`]), whether one more
    /// entry outgrows the table (a table twice its size) or room is asked for many at once;
    /// while it is prepared, the inserts find their room in the current table. Otherwise (a
    /// small table, or room asked for while an old table drains) a table for `needed` is taken
    /// and filled in one go.
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
        if want > STEP_FROM && !self.growing() {
            if let Some(done) = self.prepare_room(want) {
                return done;
            }
        }
        let Some(table) = free_table(want) else {
            return false;
        };
        // A growth under way ends here: a table being prepared is dropped, and the entries of
        // an old table move straight to the new one with the current table's.
        self.next = Vec::new();
        self.target = 0;
        self.move_into(table);
        true
    }

    /// Makes `table` (free, with room for every entry) the current table, every entry of the
    /// current and the old table moved into it.
    fn move_into(&mut self, table: Box<[Slot]>) {
        let old = std::mem::take(&mut self.old);
        let full = std::mem::replace(&mut self.slots, table);
        for slot in full.iter().chain(&old.slots).filter(|s| !s.is_free()) {
            place(&mut self.slots, self.hasher, *slot);
        }
    }

    /// Makes room for entries up to three quarters of `want` slots (a power of two larger than
    /// the table), while no old table drains: a table of `want` slots (or the larger one
    /// already being prepared) is set aside and prepared a step per insert or removal, and the
    /// current table takes the inserts meanwhile, up to seven eighths full. When it cannot take
    /// the inserts that preparing takes, it is first replaced with one that can, three quarters
    /// full at most, moved in one go: for room asked for many entries at once, a table of a
    /// 768th of `want` slots or so, the one thing the call writes besides the first step.
    /// `Some(false)` (the map unchanged) when the memory cannot be had; `None` when that
    /// replacement would be no smaller than `want`, which is then better taken whole.
    ///
    /// One more entry in a full table asks for twice its slots: its preparation takes a 512th
    /// of them in inserts, which the table has room for (see [`PREPARE_STEP`]).
    ///
    /// Why not take `want` whole, from zeroed memory: memory an earlier table gave back to the
    /// allocator is zeroed in the call that takes it (see "Taking room at once" on [`FlatMap`]).
    fn prepare_room(&mut self, want: usize) -> Option<bool> {
        let target = if self.preparing() {
            self.target.max(want)
        } else {
            want
        };
        // Inserts go to the current table until the next is ready, one step each.
        let after = self
            .len
            .saturating_add((target - self.next.len()).div_ceil(PREPARE_STEP));
        let holds = self.slots.len() >= STEP_FROM
            && after.saturating_mul(8) <= self.slots.len().saturating_mul(7);
        // Memory first, both tables, then the changes: a refusal leaves the map as it was.
        let replacement = if holds {
            None
        } else {
            let slots = after
                .saturating_mul(4)
                .div_ceil(3)
                .max(STEP_FROM)
                .checked_next_power_of_two()?;
            if slots >= target {
                return None;
            }
            let Some(table) = free_table(slots) else {
                return Some(false);
            };
            Some(table)
        };
        if self
            .next
            .try_reserve_exact(target - self.next.len())
            .is_err()
        {
            return Some(false);
        }
        if let Some(table) = replacement {
            // No old table drains: only the current table's entries move.
            self.move_into(table);
        }
        self.target = target;
        if !self.preparing() {
            self.prepare(PREPARE_STEP);
        }
        Some(true)
    }

    /// Sets the next `step` slots of the table being prepared free; once all are, it becomes
    /// the current table, and the full one the old table to drain.
    #[inline(never)]
    fn prepare(&mut self, step: usize) {
        let want = self.target;
        let more = step.min(want - self.next.len());
        self.next.resize(self.next.len() + more, Slot::FREE);
        if self.next.len() < want {
            return;
        }
        self.target = 0;
        let next = std::mem::take(&mut self.next).into_boxed_slice();
        let full = std::mem::replace(&mut self.slots, next);
        self.old = Draining {
            mask: mask_of(&full),
            slots: full.into_vec(),
        };
        // The entries from the first slot on end a run that wraps past the last slot, if any:
        // they go now, so that the old table's last slot ends its run from here on.
        let mut i = 0;
        while let Some(&slot) = self.old.slots.get(i).filter(|s| !s.is_free()) {
            place(&mut self.slots, self.hasher, slot);
            self.old.slots[i] = Slot::FREE;
            i += 1;
        }
    }

    /// Moves the entries of the last `step` slots of the old table to the current one, drops
    /// those slots, and hands their memory back every [`GIVE_BACK`] slots (all of it once the
    /// table is drained).
    ///
    /// The old table's first slot is free (see [`FlatMap::prepare`]), and so are the drained ones
    /// past its last: its last slot ends its run, so no other entry's probe passes through it,
    /// and its entry can go without the backward shift a removal needs.
    #[inline(never)]
    fn drain(&mut self, step: usize) {
        for _ in 0..step {
            match self.old.slots.pop() {
                Some(slot) if !slot.is_free() => place(&mut self.slots, self.hasher, slot),
                Some(_) => {}
                None => break,
            }
        }
        if self.old.slots.is_empty() {
            self.old = Draining::default();
        } else if self.old.slots.capacity() - self.old.slots.len() >= GIVE_BACK {
            self.old.slots.shrink_to_fit();
        }
    }

    /// Every `(key, value)`, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u64, u32)> + '_ {
        self.slots
            .iter()
            .chain(self.old.slots.iter())
            .filter(|s| !s.is_free())
            .map(|s| (s.key(), s.value()))
    }

    /// Rewrites every value `v` as `f(v)` (which must not be `u32::MAX`).
    pub(crate) fn map_values(&mut self, mut f: impl FnMut(u32) -> u32) {
        for slot in self.slots.iter_mut().chain(self.old.slots.iter_mut()) {
            if !slot.is_free() {
                let value = f(slot.value());
                debug_assert_ne!(value, EMPTY, "u32::MAX marks free slots");
                slot.inverted = !value;
            }
        }
    }

    /// Checks that every entry is found where it lies and counted, once, and that the old
    /// table's first slot is free.
    #[cfg(test)]
    fn check(&self) -> Result<(), String> {
        let mut count = 0;
        let tables = [
            ("current", &self.slots[..], mask_of(&self.slots)),
            ("old", &self.old.slots[..], self.old.mask),
        ];
        for (name, table, mask) in tables {
            for (i, slot) in table.iter().enumerate().filter(|(_, s)| !s.is_free()) {
                if find(table, mask, self.hasher, slot.key()) != Some(i) {
                    return Err(format!("{name} slot {i} is not found by its key"));
                }
                count += 1;
            }
        }
        if count != self.len {
            return Err(format!("{count} entries, len {}", self.len));
        }
        if self.old.slots.first().is_some_and(|s| !s.is_free()) {
            return Err("the old table's first slot holds an entry".into());
        }
        let target_fits = if self.preparing() {
            self.target.is_power_of_two()
                && self.target > self.slots.len()
                && self.next.len() < self.target
                && self.next.capacity() >= self.target
        } else {
            self.target == 0
        };
        if !target_fits || self.next.iter().any(|s| !s.is_free()) {
            return Err(format!(
                "a next table of {} slots (room for {}) to prepare to {}, not all free",
                self.next.len(),
                self.next.capacity(),
                self.target
            ));
        }
        if self.preparing() && self.growing() {
            return Err("a table prepared while another drains".into());
        }
        if self
            .slots
            .iter()
            .any(|s| !s.is_free() && self.get_old(s.key()).is_some())
        {
            return Err("a key in both tables".into());
        }
        Ok(())
    }

    /// Heap bytes held.
    #[cfg(test)]
    pub(crate) fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(&*self.slots)
            + (self.next.capacity() + self.old.slots.capacity()) * std::mem::size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use proptest::prelude::*;

    use super::*;

    #[test]
    fn zeroed_memory_is_free_slots() {
        assert_eq!((Slot::FREE.key, Slot::FREE.inverted), ([0, 0], 0));
        let table = free_table(1 << 16).expect("memory");
        assert_eq!(table.len(), 1 << 16);
        assert!(table.iter().all(|s| s.is_free()));
        assert!(free_table(0).expect("nothing to allocate").is_empty());
        assert!(free_table(usize::MAX).is_none());
        // Every value an entry may hold, zero and the largest among them, is not free.
        for value in [0, 1, EMPTY - 1] {
            let slot = Slot::new(u64::MAX, value);
            assert!(!slot.is_free());
            assert_eq!((slot.key(), slot.value()), (u64::MAX, value));
        }
    }

    #[test]
    fn a_table_taken_whole_holds_every_value() {
        // Values from either end of the range, zero and `EMPTY - 1` among them.
        let value_of = |key: u32| {
            if key.is_multiple_of(2) {
                EMPTY - 1 - key
            } else {
                key
            }
        };
        let mut m = FlatMap::with_hasher(KeyedState::new(5));
        m.insert(7, 0);
        // At most STEP_FROM slots: a table taken whole.
        m.reserve(11);
        assert_eq!((m.slots.len(), m.preparing()), (STEP_FROM, false));
        let room = m.heap_bytes();
        for key in 0..11 {
            assert_eq!(m.insert(u64::from(key) + 100, value_of(key)), None);
        }
        assert_eq!(m.heap_bytes(), room, "no growth past the room taken");
        assert_eq!(m.get(7), Some(0));
        for key in 0..11 {
            assert_eq!(m.get(u64::from(key) + 100), Some(value_of(key)));
        }
        m.check().unwrap();
    }

    /// Room for many entries in a large table is prepared a step per insert, as a growth is:
    /// the call writes a small table and one step, and the inserts that follow allocate
    /// nothing more (the one table they outgrow is given back as it drains).
    #[test]
    fn room_for_many_is_prepared_in_steps() {
        let key_of = |k: u64| k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for (before, many) in [(0u64, 50_000u64), (3, 50_000), (100, 700), (2_000, 5_000)] {
            let mut m = FlatMap::with_hasher(KeyedState::new(before));
            // Room asked while an old table drains is taken whole (`room_asked_during_a_growth`).
            let mut before = before;
            for k in 0.. {
                if k >= before && !m.growing() {
                    before = k;
                    break;
                }
                m.insert(key_of(k), k as u32);
            }
            m.reserve(many as usize);
            let target = ((before + many) as usize * 4)
                .div_ceil(3)
                .next_power_of_two();
            assert!(m.preparing(), "{before} then {many}");
            assert_eq!(m.target, target);
            assert!(
                m.next.len() <= 6 * PREPARE_STEP,
                "{} slots prepared",
                m.next.len()
            );
            assert!(m.slots.len() >= STEP_FROM && m.slots.len() < target);
            let (small, room) = (m.slots.len(), m.heap_bytes());
            for k in before..before + many {
                assert!(m.try_insert(key_of(k), k as u32));
                let heap = m.heap_bytes();
                assert!(heap <= room, "{heap} bytes held, {room} taken");
                assert!(
                    [small, target].contains(&m.slots.len()),
                    "a table of {} slots",
                    m.slots.len()
                );
                if k % 97 == 0 {
                    m.check().unwrap();
                }
            }
            assert!(!m.preparing() && !m.growing());
            assert_eq!((m.slots.len(), m.heap_bytes()), (target, target * 12));
            for k in 0..before + many {
                assert_eq!(m.get(key_of(k)), Some(k as u32));
            }
            m.check().unwrap();
        }
    }

    /// Room asked for while a table is prepared, or drained, joins or ends that growth, and
    /// the map answers throughout.
    #[test]
    fn room_asked_during_a_growth() {
        let key_of = |k: u64| k.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut m = FlatMap::with_hasher(KeyedState::new(4));
        let mut k = 0;
        while !m.preparing() || m.slots.len() < 512 {
            assert!(m.try_insert(key_of(k), k as u32));
            k += 1;
        }
        // Preparing 1,024 slots; room for more than three quarters of them goes on to 2,048,
        // from the slots prepared so far, the current table taking the inserts meanwhile (up to
        // seven eighths of its 512 slots).
        let prepared = m.next.len();
        m.reserve(1_000 - m.len());
        assert_eq!((m.target, m.slots.len()), (2048, 512));
        assert_eq!(m.next.len(), prepared + PREPARE_STEP);
        m.check().unwrap();
        // Room for more again goes on to 4,096: too many inserts for the current table, which
        // a table twice its size (moved in one go) replaces.
        let prepared = m.next.len();
        m.reserve(2_000 - m.len());
        assert_eq!((m.target, m.slots.len()), (4096, 1024));
        assert_eq!(m.next.len(), prepared + PREPARE_STEP);
        m.check().unwrap();
        while m.preparing() {
            assert!(m.try_insert(key_of(k), k as u32));
            k += 1;
        }
        assert_eq!(m.slots.len(), 4096);
        // Draining: room asked now is taken whole, the old table's entries with it.
        assert!(m.growing());
        m.reserve(4_000 - m.len());
        assert!(!m.growing() && !m.preparing());
        assert_eq!(m.slots.len(), 8192);
        m.check().unwrap();
        for j in 0..k {
            assert_eq!(m.get(key_of(j)), Some(j as u32));
        }
    }

    #[test]
    fn slots_are_twelve_bytes() {
        assert_eq!(std::mem::size_of::<Slot>(), 12);
        let mut m = FlatMap::with_hasher(KeyedState::new(3));
        m.reserve(12);
        assert_eq!(m.heap_bytes(), STEP_FROM * 12);
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
        m.map_values(|v| v + 10);
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
            if [cap - 2, cap - 1, 0].contains(&home(m.hasher, cap - 1, k)) {
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
        /// The map answers like a `HashMap` through any sequence of inserts, removals and
        /// reservations, growing in steps or in one go, and holds its invariants after each.
        #[test]
        fn behaves_like_a_hash_map(
            ops in prop::collection::vec(
                (0u8..7, 0u64..96, prop_oneof![0u32..1000, (EMPTY - 1000)..EMPTY]),
                0..600,
            ),
            seed in any::<u64>(),
        ) {
            let mut m = FlatMap::with_hasher(KeyedState::new(seed));
            let mut model = HashMap::new();
            for (op, key, value) in ops {
                // Spread the small keys over the whole range too.
                let key = if key % 2 == 0 { key } else { key.wrapping_mul(0x9E37_79B9_7F4A_7C15) };
                match op {
                    0 | 1 => prop_assert_eq!(m.insert(key, value), model.insert(key, value)),
                    2 | 3 => {
                        let fresh = !model.contains_key(&key);
                        if fresh {
                            model.insert(key, value);
                        }
                        prop_assert_eq!(m.try_insert(key, value), fresh);
                    }
                    4 => {
                        // Room for many at once: a growth in one go (an old table drained
                        // first), or one prepared in steps.
                        let more = value as usize % 600;
                        m.reserve(more);
                        let room = if m.preparing() { m.target } else { m.slots.len() };
                        prop_assert!(m.len() + more <= room * 3 / 4);
                    }
                    _ => prop_assert_eq!(m.remove(key), model.remove(&key)),
                }
                prop_assert_eq!(m.len(), model.len());
                if let Err(e) = m.check() {
                    return Err(TestCaseError::fail(e));
                }
                prop_assert_eq!(m.get(key), model.get(&key).copied());
            }
            for (&k, &v) in &model {
                prop_assert_eq!(m.get(k), Some(v));
            }
            let mut all: Vec<_> = m.iter().collect();
            all.sort_unstable();
            let mut want: Vec<_> = model.into_iter().collect();
            want.sort_unstable();
            prop_assert_eq!(all, want);
        }
    }

    /// Room that cannot be had is refused, and the map is left as it was: every key, whatever
    /// phase of a growth it is in.
    #[test]
    fn room_that_cannot_be_had_changes_nothing() {
        let mut m = FlatMap::with_hasher(KeyedState::new(8));
        for key in 0..200u64 {
            assert!(m.try_insert(key.wrapping_mul(0x9E37_79B9_7F4A_7C15), key as u32));
            // Past what the counts allow, and past what a table can be (over `isize::MAX` bytes).
            for too_many in [usize::MAX, 1 << 61] {
                assert!(!m.try_reserve(too_many));
                assert_eq!(m.len(), key as usize + 1);
                m.check().unwrap();
                for k in 0..=key {
                    assert_eq!(m.get(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)), Some(k as u32));
                }
            }
        }
    }

    /// A map that outgrows a table holds two while it drains the old one, and one again after
    /// one insert per [`DRAIN_STEP`] slots of the old table, which gives its memory back as it
    /// goes; every key reads back throughout.
    #[test]
    fn growth_drains_the_old_table_in_steps() {
        let mut m = FlatMap::with_hasher(KeyedState::new(5));
        let mut key = 0u64;
        while m.slots.len() < 1024 || m.growing() || m.preparing() {
            key += 1;
            assert!(m.try_insert(key.wrapping_mul(0x9E37_79B9_7F4A_7C15), key as u32));
        }
        // The insert that outgrows the 1024-slot table starts preparing the next.
        let full = m.slots.len() * 3 / 4;
        while m.len() < full {
            key += 1;
            assert!(m.try_insert(key.wrapping_mul(0x9E37_79B9_7F4A_7C15), key as u32));
        }
        assert!(!m.preparing() && !m.growing());
        key += 1;
        assert!(m.try_insert(key.wrapping_mul(0x9E37_79B9_7F4A_7C15), key as u32));
        assert!(
            m.preparing(),
            "the insert past three quarters starts preparing"
        );
        assert_eq!((m.slots.len(), m.next.len()), (1024, PREPARE_STEP));
        let started = key;
        // A step per insert, the inserts going to the full table meanwhile.
        while m.preparing() {
            key += 1;
            assert!(m.try_insert(key.wrapping_mul(0x9E37_79B9_7F4A_7C15), key as u32));
            m.check().unwrap();
            assert!(m.len() * 8 <= m.slots.len() * 7 || m.growing());
        }
        assert_eq!(key - started, 2048 / PREPARE_STEP as u64 - 1);
        assert!(m.growing(), "the prepared table takes over");
        assert_eq!((m.slots.len(), m.old.mask + 1), (2048, 1024));
        let started = key;
        let mut held = m.old.slots.capacity();
        let mut given_back = 0;
        while m.growing() {
            key += 1;
            assert!(m.try_insert(key.wrapping_mul(0x9E37_79B9_7F4A_7C15), key as u32));
            m.check().unwrap();
            for k in (1..=key).step_by(97) {
                assert_eq!(m.get(k.wrapping_mul(0x9E37_79B9_7F4A_7C15)), Some(k as u32));
            }
            // The old table's memory goes back a piece at a time, never more than a piece
            // past what it still holds.
            let capacity = m.old.slots.capacity();
            assert!(
                capacity < m.old.slots.len() + GIVE_BACK,
                "{capacity} slots held"
            );
            if capacity < held {
                given_back += 1;
                held = capacity;
            }
        }
        assert!(
            given_back >= 1024 / GIVE_BACK - 1,
            "given back {given_back} times"
        );
        assert_eq!(key - started, 1024 / DRAIN_STEP as u64, "a step per insert");
        assert_eq!(m.heap_bytes(), 2048 * 12);
        assert_eq!(m.len(), key as usize);
    }
}
