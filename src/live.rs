//! The set of a region's live handles: one bit per slot of the slab, and a count of the live
//! handles in each block of [`BLOCK`].
//!
//! Every booking adds its handle, the largest yet, and every release drops one. As bits, both
//! are a few instructions; a roaring bitmap's push onto its last container cost a booking
//! 110-150 instructions (callgrind, bookings in an empty /24 and an empty /16). The set is read
//! whole by lists with no filter on the subnets nor an indexed one: a created-order page skips
//! whole blocks by their counts and reads its handles off the bits from there, so it costs
//! O(handles / 4,096 + page); the other orders take the set as a roaring bitmap, built from the
//! bits in one pass over them.

use roaring::RoaringBitmap;

use crate::postings::{has, page_of_words, position, words};
use crate::store::{renumber_in_place, Handle, Renumbering};

/// Handles per counted block.
const BLOCK: usize = 4096;

/// Bytes of bits per block.
const BLOCK_BYTES: usize = BLOCK / 8;

/// Words of bits per block, as [`words`] reads them.
const BLOCK_WORDS: usize = BLOCK / 64;

/// The live handles. It spans the handles up to the largest ever added since it was built.
/// The bits are laid out as a dense tag's ([`crate::postings::TagPostings`]), and read with the
/// same functions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LiveSet {
    /// Bit `h % 8` of byte `h / 8` is set while handle `h` is live.
    bits: Vec<u8>,
    /// The live handles of each block of [`BLOCK`]: the set bits of its bytes.
    counts: Vec<u32>,
    len: u64,
}

impl LiveSet {
    /// The handles `0..n`.
    pub(crate) fn full(n: Handle) -> Self {
        let n = n as usize;
        let mut bits = vec![u8::MAX; n / 8];
        if !n.is_multiple_of(8) {
            bits.push((1 << (n % 8)) - 1);
        }
        let counts = bits.chunks(BLOCK_BYTES).map(count_ones).collect();
        Self {
            bits,
            counts,
            len: n as u64,
        }
    }

    /// The set of the handles whose bits are set in `bits` (bit `h % 8` of byte `h / 8`).
    pub(crate) fn from_bits(bits: Vec<u8>) -> Self {
        let counts: Vec<u32> = bits.chunks(BLOCK_BYTES).map(count_ones).collect();
        let len = counts.iter().map(|&c| u64::from(c)).sum();
        Self { bits, counts, len }
    }

    /// Renumbers the set as a compaction renumbers the live handles (`renumbering`), in place
    /// and word by word, as dense tag postings are ([`renumber_in_place`]).
    pub(crate) fn renumber(&mut self, renumbering: &Renumbering) {
        let mut bits = std::mem::take(&mut self.bits);
        renumber_in_place(&mut bits, renumbering);
        *self = Self::from_bits(bits);
    }

    /// Adds `handle`; whether it was not there. Cheapest above every handle the set spans,
    /// where the slab's next handle always is.
    #[inline]
    pub(crate) fn insert(&mut self, handle: Handle) -> bool {
        let (byte, bit) = position(handle);
        if byte >= self.bits.len() {
            self.grow(byte);
        }
        let b = &mut self.bits[byte];
        if *b & bit != 0 {
            return false;
        }
        *b |= bit;
        self.counts[byte / BLOCK_BYTES] += 1;
        self.len += 1;
        true
    }

    /// Adds the handles `from..to`, none of them there: one by one up to the first whole byte
    /// and past the last, whole bytes between, where [`LiveSet::insert`] one by one took a
    /// third of the time of appending a million records to the update log.
    pub(crate) fn insert_run(&mut self, from: Handle, to: Handle) {
        debug_assert!(self
            .iter_above(from)
            .take_while(|&h| h < to)
            .next()
            .is_none());
        let whole_start = from.next_multiple_of(8).min(to);
        let whole_end = (to / 8 * 8).max(whole_start);
        for h in from..whole_start {
            self.insert(h);
        }
        if whole_start < whole_end {
            let (first, end) = (whole_start as usize / 8, whole_end as usize / 8);
            if end > self.bits.len() {
                self.grow(end - 1);
            }
            self.bits[first..end].fill(u8::MAX);
            for block in first / BLOCK_BYTES..=(end - 1) / BLOCK_BYTES {
                let lo = first.max(block * BLOCK_BYTES);
                let hi = end.min((block + 1) * BLOCK_BYTES);
                // At most a block's bits, 4,096.
                self.counts[block] += u32::try_from((hi - lo) * 8).unwrap_or(u32::MAX);
            }
            self.len += (end - first) as u64 * 8;
        }
        for h in whole_end..to {
            self.insert(h);
        }
    }

    /// Makes room for the handles below `handles` without growing: a hint, for a bulk load,
    /// whose bookings would otherwise copy the bits each time they double (0.3-0.6 ms at 4M
    /// handles when the allocator cannot remap them). Memory that cannot be had is not taken.
    pub(crate) fn reserve(&mut self, handles: usize) {
        let bytes = handles.div_ceil(64).saturating_mul(8);
        let _ = self
            .bits
            .try_reserve_exact(bytes.saturating_sub(self.bits.len()));
        let blocks = handles.div_ceil(BLOCK);
        let _ = self
            .counts
            .try_reserve_exact(blocks.saturating_sub(self.counts.len()));
    }

    /// How many handles the set spans without growing its memory.
    #[cfg(test)]
    pub(crate) fn room(&self) -> usize {
        (self.bits.capacity() * 8).min(self.counts.capacity() * BLOCK)
    }

    /// Spans the handles up to those of `byte`, and on to the end of its word: one growth per
    /// 64 bookings rather than per 8.
    fn grow(&mut self, byte: usize) {
        self.bits.resize((byte / 8 + 1) * 8, 0);
        self.counts.resize(byte / BLOCK_BYTES + 1, 0);
    }

    /// Removes `handle`; whether it was there.
    pub(crate) fn remove(&mut self, handle: Handle) -> bool {
        let (byte, bit) = position(handle);
        match self.bits.get_mut(byte) {
            Some(b) if *b & bit != 0 => {
                *b &= !bit;
                self.counts[byte / BLOCK_BYTES] -= 1;
                self.len -= 1;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn contains(&self, handle: Handle) -> bool {
        has(&self.bits, handle)
    }

    /// The 64-bit words of the bits, each with its number: word `i` holds handles `64 * i` to
    /// `64 * i + 63`. Handles past the last word are not live.
    pub(crate) fn words(&self) -> impl Iterator<Item = (usize, u64)> + '_ {
        words(&self.bits, 0)
    }

    /// Number of handles below `handle`: the block counts before its block, then the bits.
    pub(crate) fn rank(&self, handle: Handle) -> u64 {
        let (byte, bit) = position(handle);
        let block = (byte / BLOCK_BYTES).min(self.counts.len());
        let whole: u64 = self.counts[..block].iter().map(|&c| u64::from(c)).sum();
        let bytes = self
            .bits
            .get(block * BLOCK_BYTES..byte.min(self.bits.len()))
            .unwrap_or(&[]);
        let last = self
            .bits
            .get(byte)
            .map_or(0, |&b| (b & (bit - 1)).count_ones());
        whole + u64::from(count_ones(bytes)) + u64::from(last)
    }

    /// Number of handles. O(1).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The handles, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Handle> + '_ {
        words(&self.bits, 0).flat_map(ascending)
    }

    /// The handles as a roaring bitmap, built from the bits.
    pub(crate) fn bitmap(&self) -> RoaringBitmap {
        RoaringBitmap::from_lsb0_bytes(0, &self.bits)
    }

    /// The handles of a page in handle order: the `size` that follow the first `start` (from the
    /// top with `desc`). Whole blocks are skipped by their counts, then the bits are read from
    /// the block that holds the page's first handle.
    pub(crate) fn page(&self, desc: bool, start: u64, size: usize) -> Vec<Handle> {
        let (skipped, skip) = self.skip_blocks(desc, start, |b| self.counts[b]);
        if desc {
            page_of_words(words(self.bits_below(skipped), 0).rev(), true, skip, size)
        } else {
            page_of_words(words(&self.bits, skipped * BLOCK_WORDS), false, skip, size)
        }
    }

    /// The handles that follow the first `start` (from the top with `desc`), in that order,
    /// read lazily from the block that holds the first: [`LiveSet::page`] for a walk whose
    /// length is not known beforehand.
    pub(crate) fn iter_from(&self, desc: bool, start: u64) -> impl Iterator<Item = Handle> + '_ {
        let (skipped, skip) = self.skip_blocks(desc, start, |b| self.counts[b]);
        handles_of(self.words_past(desc, skipped), desc, skip)
    }

    /// [`LiveSet::iter_from`] over the handles of this set that `other`, a subset of it, does
    /// not hold: whole blocks are skipped by the difference of their counts.
    pub(crate) fn iter_from_without<'a>(
        &'a self,
        other: &'a LiveSet,
        desc: bool,
        start: u64,
    ) -> impl Iterator<Item = Handle> + 'a {
        debug_assert!(other.iter().all(|h| self.contains(h)), "a subset");
        let count = |b: usize| self.counts[b] - other.counts.get(b).copied().unwrap_or(0);
        let (skipped, skip) = self.skip_blocks(desc, start, count);
        let without = |(i, word): (usize, u64)| (i, word & !other.word(i));
        handles_of(self.words_past(desc, skipped).map(without), desc, skip)
    }

    /// The words (each with its number) past the first `skipped` blocks, in the walk's order
    /// (from the top with `desc`).
    fn words_past(
        &self,
        desc: bool,
        skipped: usize,
    ) -> Box<dyn Iterator<Item = (usize, u64)> + '_> {
        if desc {
            Box::new(words(self.bits_below(skipped), 0).rev())
        } else {
            Box::new(words(&self.bits, skipped * BLOCK_WORDS))
        }
    }

    /// Word `i` of the bits, as [`words`] reads it; `0` past them.
    fn word(&self, i: usize) -> u64 {
        words(&self.bits, i).next().map_or(0, |(_, word)| word)
    }

    /// The handles from `first` on, in order.
    pub(crate) fn iter_above(&self, first: Handle) -> impl Iterator<Item = Handle> + '_ {
        let word = first as usize / 64;
        // The bits of the first word below `first` are not walked.
        let below = !0u64 << (first % 64);
        words(&self.bits, word)
            .flat_map(move |(i, bits)| ascending((i, if i == word { bits & below } else { bits })))
    }

    /// The number of whole blocks whose handles all come before the `start`-th (from the top
    /// with `desc`), and how many handles to skip still past them; `count` gives a block's
    /// number of handles walked.
    fn skip_blocks(&self, desc: bool, start: u64, count: impl Fn(usize) -> u32) -> (usize, u64) {
        let mut skip = start;
        let mut skipped = 0;
        let mut skip_block = |b: usize| {
            let count = u64::from(count(b));
            if skip < count {
                return false;
            }
            skip -= count;
            skipped += 1;
            true
        };
        // `all`, not `take_while`: the closure must see each block once, and stop.
        let blocks = 0..self.counts.len();
        if desc {
            let _ = blocks.rev().all(&mut skip_block);
        } else {
            let _ = blocks.into_iter().all(&mut skip_block);
        }
        (skipped, skip)
    }

    /// The bits below the top `skipped` blocks: a descending walk starts at their end.
    fn bits_below(&self, skipped: usize) -> &[u8] {
        let end = ((self.counts.len() - skipped) * BLOCK_BYTES).min(self.bits.len());
        &self.bits[..end]
    }

    /// Checks the counts of the blocks and of the set against the bits.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.counts.len() != self.bits.len().div_ceil(BLOCK_BYTES) {
            return Err(format!(
                "live set counts {} blocks over {} bytes",
                self.counts.len(),
                self.bits.len()
            ));
        }
        for (i, (block, &count)) in self.bits.chunks(BLOCK_BYTES).zip(&self.counts).enumerate() {
            let held = count_ones(block);
            if held != count {
                return Err(format!(
                    "live set block {i} counts {count} handles, holds {held}"
                ));
            }
        }
        let held: u64 = self.counts.iter().map(|&c| u64::from(c)).sum();
        if held != self.len {
            return Err(format!(
                "live set counts {} handles, holds {held}",
                self.len
            ));
        }
        Ok(())
    }
}

/// The set bits of a block's bytes.
fn count_ones(block: &[u8]) -> u32 {
    block.iter().map(|b| b.count_ones()).sum()
}

/// The handles of word `i` of a set, in ascending order: a walk with none to skip, with fewer
/// branches per word than [`handles_of`] (the first change after a load of 1M IPs walks them
/// all, about 10 % faster so).
fn ascending((i, word): (usize, u64)) -> impl Iterator<Item = Handle> {
    // A word of the set spans handles, which are `u32`.
    let base = Handle::try_from(i * 64).unwrap_or(Handle::MAX);
    let mut rest = word;
    std::iter::from_fn(move || {
        (rest != 0).then(|| {
            let h = base + rest.trailing_zeros();
            rest &= rest - 1;
            h
        })
    })
}

/// The handles of `words` (each with its number, as [`words`] reads them) in the walk's order,
/// but for the first `skip`: whole words by their counts (a block holds up to 4,095 to skip),
/// then bit by bit.
fn handles_of<'a>(
    words: impl Iterator<Item = (usize, u64)> + 'a,
    desc: bool,
    mut skip: u64,
) -> impl Iterator<Item = Handle> + 'a {
    words.flat_map(move |(i, mut word)| {
        let ones = u64::from(word.count_ones());
        if skip >= ones {
            skip -= ones;
            word = 0;
        }
        while skip > 0 && word != 0 {
            word &= if desc { !(1 << word.ilog2()) } else { word - 1 };
            skip -= 1;
        }
        // A word of the set spans handles, which are `u32`.
        let base = Handle::try_from(i * 64).unwrap_or(Handle::MAX);
        std::iter::from_fn(move || {
            (word != 0).then(|| {
                let bit = if desc {
                    word.ilog2()
                } else {
                    word.trailing_zeros()
                };
                word &= !(1 << bit);
                base + bit
            })
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(set: &LiveSet) -> Vec<Handle> {
        set.iter().collect()
    }

    /// Handles up to the room reserved go in without moving the bits or the counts; a
    /// reservation past what memory allows takes nothing and changes nothing.
    #[test]
    fn reserved_room_takes_handles_in_place() {
        let mut set = LiveSet::default();
        set.insert(3);
        set.reserve(100_000);
        let at = (set.bits.as_ptr(), set.counts.as_ptr());
        for h in 4..100_000 {
            assert!(set.insert(h));
        }
        assert_eq!((set.bits.as_ptr(), set.counts.as_ptr()), at, "moved");
        assert!(set.iter().eq(3..100_000));
        set.reserve(usize::MAX);
        assert_eq!((set.bits.as_ptr(), set.len()), (at.0, 99_997));
        assert!(set.insert(100_000));
        assert!(set.iter().eq(3..=100_000));
    }

    #[test]
    fn a_full_set_holds_its_range_and_no_more() {
        for n in [0, 1, 63, 64, 65, 4095, 4096, 4097, 10_000] {
            let set = LiveSet::full(n);
            assert_eq!(set.len(), u64::from(n));
            assert!(set.iter().eq(0..n), "{n}");
            assert!(!set.contains(n));
            // Compared by members: a container of 4,096 may be an array or a bitmap.
            assert!(set.bitmap().iter().eq(0..n), "{n}");
            assert!(set.check().is_ok(), "{n}: {:?}", set.check());
            // Past the last handle, nothing: a full set's last word may be short.
            let len = u64::from(n);
            for desc in [false, true] {
                assert_eq!(set.page(desc, len, 10), Vec::<Handle>::new(), "{n}");
                assert_eq!(set.iter_from(desc, len).count(), 0, "{n}");
                assert_eq!(
                    set.iter_from(desc, len.saturating_sub(1)).count(),
                    usize::from(n > 0)
                );
            }
        }
    }

    #[test]
    fn runs_are_inserted_as_one_by_one() {
        for (from, to) in [
            (0, 0),
            (0, 5),
            (3, 8),
            (5, 70),
            (8, 4096),
            (13, 9000),
            (4090, 4100),
        ] {
            for lead in [0, 1, 2] {
                // Some handles below the run first, none of them in it.
                let below: Vec<Handle> = (0..from).filter(|h| h % 3 == lead).collect();
                let mut run = LiveSet::default();
                let mut single = LiveSet::default();
                for &h in &below {
                    run.insert(h);
                    single.insert(h);
                }
                // And one above the run, which the set then spans past it.
                for set in [&mut run, &mut single] {
                    set.insert(to + 100);
                }
                run.insert_run(from, to);
                for h in from..to {
                    single.insert(h);
                }
                assert!(run.iter().eq(single.iter()), "{from}..{to}");
                assert_eq!(run.len(), single.len());
                assert!(run.check().is_ok(), "{from}..{to}: {:?}", run.check());
            }
        }
    }

    /// Renumbered by a compaction, the set holds the new numbers of its live members (its dead
    /// ones dropped), with counts that match: across several blocks, members straddling the
    /// words they squeeze into, and the dead both among and outside the members.
    #[test]
    fn a_renumbered_set_holds_the_new_numbers_of_its_live_members() {
        let old_len: Handle = 3 * BLOCK as Handle + 77;
        // Every third handle died, and the ones from 5000 to 6999.
        let dead = |h: Handle| h % 3 == 1 || (5000..7000).contains(&h);
        let mut next = 0;
        let map: Vec<Handle> = (0..old_len)
            .map(|h| {
                if dead(h) {
                    Handle::MAX
                } else {
                    next += 1;
                    next - 1
                }
            })
            .collect();
        let renumbering = Renumbering::of_map(&map);
        let mut set = LiveSet::default();
        let members: Vec<Handle> = (0..old_len).filter(|h| h % 5 != 0).collect();
        for &h in &members {
            set.insert(h);
        }
        set.renumber(&renumbering);
        let want: Vec<Handle> = members
            .iter()
            .map(|&h| map[h as usize])
            .filter(|&h| h != Handle::MAX)
            .collect();
        assert_eq!(plain(&set), want);
        assert_eq!(set.len(), want.len() as u64);
        assert!(set.check().is_ok(), "{:?}", set.check());
    }

    #[test]
    fn a_wrong_count_is_caught() {
        let mut set = LiveSet::full(5000);
        set.counts[1] += 1;
        assert!(set.check().is_err());
        set.counts[1] -= 1;
        set.len += 1;
        assert!(set.check().is_err());
        set.len -= 1;
        set.counts.push(0);
        assert!(set.check().is_err());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// The set holds what a roaring bitmap holds through adds at its top, adds and removals
        /// anywhere, and its pages are those of the members in order, from either end.
        #[test]
        fn a_live_set_is_a_set_of_handles(
            steps in proptest::collection::vec((0u8..4, 1u32..9000, 0usize..60), 1..24),
            pages in proptest::collection::vec((0u64..20_000, 0usize..300), 1..8),
        ) {
            let mut set = LiveSet::default();
            let mut members = RoaringBitmap::new();
            let mut next = 0u32;
            for (op, n, pick) in steps {
                match op {
                    0 => {
                        let victims: Vec<u32> = members.iter().step_by(pick + 1).collect();
                        for v in victims {
                            proptest::prop_assert_eq!(set.remove(v), members.remove(v));
                        }
                        proptest::prop_assert!(!set.remove(next + n));
                    }
                    1 if next > 0 => {
                        // Below the top: anywhere among the handles the set spans.
                        let v = n % next;
                        proptest::prop_assert_eq!(set.insert(v), members.insert(v));
                    }
                    _ => {
                        for _ in 0..n {
                            proptest::prop_assert!(set.insert(next));
                            members.insert(next);
                            next += 1 + pick as u32 % 3;
                        }
                    }
                }
                proptest::prop_assert_eq!(set.len(), members.len());
                proptest::prop_assert!(set.check().is_ok(), "{:?}", set.check());
            }
            proptest::prop_assert_eq!(plain(&set), members.iter().collect::<Vec<_>>());
            proptest::prop_assert!(set.bitmap().iter().eq(members.iter()));
            for h in [0, next / 2, next, next + 1, next + 70_000] {
                proptest::prop_assert_eq!(set.contains(h), members.contains(h));
                proptest::prop_assert_eq!(set.rank(h), members.rank(h) - u64::from(members.contains(h)));
            }
            let all: Vec<Handle> = members.iter().collect();
            for (start, size) in pages {
                let skip = usize::try_from(start).unwrap_or(usize::MAX);
                let asc: Vec<Handle> = all.iter().copied().skip(skip).take(size).collect();
                let desc: Vec<Handle> = all.iter().rev().copied().skip(skip).take(size).collect();
                proptest::prop_assert_eq!(set.page(false, start, size), asc.clone());
                proptest::prop_assert_eq!(set.page(true, start, size), desc.clone());
                // A walk from the same place reads the page, and on to the end.
                let walk: Vec<Handle> = set.iter_from(false, start).collect();
                proptest::prop_assert_eq!(&walk[..asc.len()], &asc[..]);
                proptest::prop_assert_eq!(walk.len(), all.len().saturating_sub(skip));
                let walk: Vec<Handle> = set.iter_from(true, start).collect();
                proptest::prop_assert_eq!(&walk[..desc.len()], &desc[..]);
                proptest::prop_assert_eq!(walk.len(), all.len().saturating_sub(skip));
                // The handles from one on: `start` read as a handle.
                let first = Handle::try_from(start).unwrap_or(Handle::MAX);
                let above: Vec<Handle> = all.iter().copied().filter(|&h| h >= first).collect();
                proptest::prop_assert_eq!(set.iter_above(first).collect::<Vec<_>>(), above);
                // Without a subset of every third member (so blocks of every count of them),
                // grown past the set's words as the engine's attached set may be.
                let mut subset = LiveSet::default();
                for &h in all.iter().step_by(3) {
                    subset.insert(h);
                }
                let rest: Vec<Handle> = all.iter().copied().filter(|&h| !subset.contains(h)).collect();
                for desc in [false, true] {
                    let mut want = rest.clone();
                    if desc {
                        want.reverse();
                    }
                    let want: Vec<Handle> = want.into_iter().skip(skip).collect();
                    let walk: Vec<Handle> = set.iter_from_without(&subset, desc, start).collect();
                    proptest::prop_assert_eq!(walk, want, "desc {}", desc);
                }
            }
        }
    }
}
