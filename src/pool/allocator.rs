//! Allocators work in integer offsets inside one block and never see an address. IPv4 hands out
//! the lowest free offset without scanning: everything at or above a high-water mark is free, and
//! offsets freed below it sit in a roaring bitmap whose `min()` is the answer (the lowest few of
//! them listed beside it, so that taking one is a `pop`). IPv6 draws random offsets and leaves
//! the sparse set of taken ones to its caller.

use roaring::RoaringBitmap;

use crate::env::RandomSource;

/// How many members a search for the end of a run of offsets walks one by one before it counts
/// ranges instead: walking costs a few instructions a member, while a count within a bitset
/// container reads its words up to the range's end (up to 1,024 of them, twice, per count).
const WALK: u32 = 4096;

/// How many of the lowest freed offsets [`Freed`] moves out of its bitmap at once when its
/// list of them runs dry.
const LOW_BATCH: usize = 32;

/// Most offsets [`Freed`] lists beside its bitmap; past that, the larger half joins the bitmap.
const LOW_MAX: usize = 2 * LOW_BATCH;

/// The offsets freed below an IPv4 allocator's mark: a roaring bitmap, and beside it the
/// lowest few in a short list (`low`, every one below every member of the bitmap).
///
/// The lowest member is what an automatic booking takes. Taken from the bitmap, it would be
/// the first element of a sorted array container: removing it shifts the whole array (up to
/// 4,096 members), and the last member of a container leaving frees the container, which the
/// next release allocates again. Held in `low` from the largest down, it is the list's last
/// element: `pop`. `low` is refilled [`LOW_BATCH`] members at a time, one shift of the array
/// per batch. A full block churning (book one, release it, again) books and frees the same
/// offset through `low` without touching the bitmap.
#[derive(Clone, Debug, Default)]
struct Freed {
    /// From the largest down; all below `rest`'s minimum.
    low: Vec<u32>,
    rest: RoaringBitmap,
}

impl Freed {
    /// Removes and returns the lowest member.
    fn pop_min(&mut self) -> Option<u32> {
        if let Some(lowest) = self.low.pop() {
            return Some(lowest);
        }
        if self.rest.is_empty() {
            return None;
        }
        self.refill();
        self.low.pop()
    }

    /// Moves the lowest [`LOW_BATCH`] members of `rest`, if any, to the empty `low`.
    #[cold]
    fn refill(&mut self) {
        debug_assert!(self.low.is_empty());
        self.low.extend(self.rest.iter().take(LOW_BATCH));
        if let (Some(&lo), Some(&hi)) = (self.low.first(), self.low.last()) {
            self.rest.remove_range(lo..=hi);
            self.low.reverse();
        }
    }

    /// Where `offset` is or would go in `low`, when it is no larger than `low`'s largest (else
    /// it belongs to `rest`): `Ok` at its index, `Err` at the insertion point.
    fn low_position(&self, offset: u32) -> Option<Result<usize, usize>> {
        let &largest = self.low.first()?;
        (offset <= largest).then(|| self.low.binary_search_by(|probe| offset.cmp(probe)))
    }

    fn contains(&self, offset: u32) -> bool {
        match self.low_position(offset) {
            Some(at) => at.is_ok(),
            None => self.rest.contains(offset),
        }
    }

    /// Adds `offset`, not a member.
    fn insert(&mut self, offset: u32) {
        debug_assert!(!self.contains(offset));
        let at = match self.low_position(offset) {
            Some(at) => at,
            // Above the list's largest, or the list empty: the list takes it only when it is
            // below every member of `rest`.
            None if self.low.is_empty() && self.rest.min().is_none_or(|m| offset < m) => Err(0),
            None => {
                self.rest.insert(offset);
                return;
            }
        };
        if let Err(i) = at {
            self.low.insert(i, offset);
        }
        if self.low.len() > LOW_MAX {
            // The larger half, all below `rest`, joins it in one merge.
            let larger = RoaringBitmap::from_sorted_iter(self.low.drain(..LOW_BATCH).rev())
                .expect("low is sorted");
            self.rest |= larger;
        }
    }

    /// Removes `offset`; whether it was a member.
    fn remove(&mut self, offset: u32) -> bool {
        match self.low_position(offset) {
            Some(Ok(i)) => {
                self.low.remove(i);
                true
            }
            Some(Err(_)) => false,
            None => self.rest.remove(offset),
        }
    }

    fn remove_range(&mut self, range: std::ops::Range<u32>) {
        self.low.retain(|o| !range.contains(o));
        self.rest.remove_range(range);
    }

    fn range_cardinality(&self, range: std::ops::Range<u32>) -> u64 {
        let low = self.low.iter().filter(|o| range.contains(o)).count();
        self.rest.range_cardinality(range) + low as u64
    }

    fn is_empty(&self) -> bool {
        self.low.is_empty() && self.rest.is_empty()
    }

    /// The members in `first..top`, from the largest down.
    fn below_descending(&self, first: u32, top: u32) -> impl Iterator<Item = u32> + '_ {
        // `range` refuses an empty range.
        let rest = (first < top).then(|| self.rest.range(first..top).rev());
        let low = self
            .low
            .iter()
            .copied()
            .filter(move |o| (first..top).contains(o));
        rest.into_iter().flatten().chain(low)
    }

    fn len(&self) -> u64 {
        self.rest.len() + self.low.len() as u64
    }
}

/// Lowest-free allocation over the offsets `first..end` of an IPv4 block.
///
/// Free offsets are `freed ∪ [next, end) ∖ above`: every member of `freed` is below `next`, and
/// `above` holds the offsets at or above `next` taken by address (`next` itself is never in it).
/// Taking the lowest is `freed`'s lowest member, or bumping `next` past `above`'s run; an
/// empty or full block costs a few words of memory. Booking an address far above the mark costs
/// one insert, not a range.
#[derive(Clone, Debug)]
pub(crate) struct V4Allocator {
    first: u32,
    end: u32,
    next: u32,
    freed: Freed,
    above: RoaringBitmap,
}

impl V4Allocator {
    /// Offsets `first..end` are bookable.
    pub(crate) fn new(first: u32, end: u32) -> Self {
        let end = end.max(first);
        Self {
            first,
            end,
            next: first,
            freed: Freed::default(),
            above: RoaringBitmap::new(),
        }
    }

    /// Whether `offset` may ever be handed out.
    pub(crate) fn is_bookable(&self, offset: u64) -> bool {
        offset >= u64::from(self.first) && offset < u64::from(self.end)
    }

    /// Whether a bookable `offset` is taken.
    pub(crate) fn is_taken(&self, offset: u32) -> bool {
        if offset < self.next {
            !self.freed.contains(offset)
        } else {
            self.above.contains(offset)
        }
    }

    /// Moves the mark past the run of offsets taken right above it, and drops the run from
    /// `above`. A run of up to [`WALK`] offsets is walked member by member (each walked member
    /// leaves `above`, so that is O(1) amortized per offset booked by address); a longer one is
    /// then found by a binary search on range counts, O(log² n) counts however long the run.
    #[inline]
    fn skip_taken(&mut self) {
        // Mostly nothing is booked above the mark: that answer is inlined, the walk is not.
        if self.above.is_empty() || !self.above.contains(self.next) {
            return;
        }
        self.skip_run();
    }

    /// [`V4Allocator::skip_taken`] when `next` is taken.
    fn skip_run(&mut self) {
        let next = self.next;
        // `next` itself is taken: the walk moves the mark at least past it.
        let mut top = next;
        for offset in self.above.range(next..).take(WALK as usize) {
            if offset != top {
                break;
            }
            top += 1;
        }
        if top - next == WALK && self.above.contains(top) {
            // Invariant: `next..lo` is all in `above`, `next..hi + 1` is not.
            let (mut lo, mut hi) = (top + 1, self.end);
            while lo < hi {
                let mid = lo + (hi - lo).div_ceil(2);
                if self.above.range_cardinality(next..mid) == u64::from(mid - next) {
                    lo = mid;
                } else {
                    hi = mid - 1;
                }
            }
            top = lo;
        }
        self.above.remove_range(next..top);
        self.next = top;
    }

    /// Takes the lowest free offset. O(1) amortized: never scans the block.
    pub(crate) fn take_lowest(&mut self) -> Option<u32> {
        if let Some(lowest) = self.freed.pop_min() {
            return Some(lowest);
        }
        if self.next < self.end {
            let lowest = self.next;
            self.next += 1;
            self.skip_taken();
            return Some(lowest);
        }
        None
    }

    /// Takes a bookable `offset`; `false` if it was taken already.
    pub(crate) fn take(&mut self, offset: u32) -> bool {
        debug_assert!(self.is_bookable(u64::from(offset)));
        if offset < self.next {
            return self.freed.remove(offset);
        }
        if offset > self.next {
            return self.above.insert(offset);
        }
        self.next += 1;
        self.skip_taken();
        true
    }

    /// Gives back a taken `offset`; `false` if it was free. The tests' release: a pool knows
    /// its offset is taken and calls [`V4Allocator::release_taken`].
    #[cfg(test)]
    pub(crate) fn release(&mut self, offset: u32) -> bool {
        if !self.is_bookable(u64::from(offset)) || !self.is_taken(offset) {
            return false;
        }
        self.release_taken(offset);
        true
    }

    /// Gives back `offset`, which the caller knows is taken (a pool's owner array says so),
    /// with no test of it, a binary search through the freed offsets below the mark.
    pub(crate) fn release_taken(&mut self, offset: u32) {
        debug_assert!(self.is_bookable(u64::from(offset)) && self.is_taken(offset));
        if offset >= self.next {
            self.above.remove(offset);
        } else if offset + 1 == self.next {
            // Lower the mark past the run of freed offsets right below it, so `freed` stays
            // small: a binary search on range counts, O(log² n), however long the run.
            self.next = self.bottom_of_freed_run(offset);
            self.freed.remove_range(self.next..offset);
        } else {
            self.freed.insert(offset);
        }
    }

    /// The lowest `x` such that every offset of `x..top` is in `freed`: up to [`WALK`] members
    /// walked down from `top`, then, for a longer run, a binary search on range counts.
    fn bottom_of_freed_run(&self, top: u32) -> u32 {
        if top == 0 || !self.freed.contains(top - 1) {
            return top;
        }
        let mut bottom = top;
        for offset in self
            .freed
            .below_descending(self.first, top)
            .take(WALK as usize)
        {
            if offset + 1 != bottom {
                return bottom;
            }
            bottom = offset;
        }
        if top - bottom < WALK {
            return bottom;
        }
        let (mut lo, mut hi) = (self.first, bottom);
        // Invariant: `hi..top` is all freed; find the smallest such `hi`.
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.freed.range_cardinality(mid..top) == u64::from(top - mid) {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        hi
    }

    /// Every offset at or above this one is free.
    pub(crate) fn high_water(&self) -> u32 {
        self.above.max().map_or(self.next, |top| top + 1)
    }

    /// Whether some offset is free. O(1): the mark itself is free whenever it is below the end.
    #[inline]
    pub(crate) fn has_room(&self) -> bool {
        !self.freed.is_empty() || self.next < self.end
    }

    /// Number of taken offsets.
    pub(crate) fn taken(&self) -> u64 {
        u64::from(self.next - self.first) - self.freed.len() + self.above.len()
    }
}

/// Random allocation of 64-bit interface identifiers in an IPv6 /64.
///
/// Unavailable: `::` (0), `::1` (1) and the 128 subnet anycast identifiers of RFC 2526 (the top
/// 128 values).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct V6Allocator;

/// Offsets at or above this are the RFC 2526 anycast identifiers.
const V6_ANYCAST_START: u64 = u64::MAX - 127;

/// How many random draws a booking makes before it reports the block exhausted.
const V6_DRAWS: usize = 64;

impl V6Allocator {
    /// Whether `offset` may ever be handed out.
    pub(crate) fn is_bookable(offset: u64) -> bool {
        (2..V6_ANYCAST_START).contains(&offset)
    }

    /// Number of bookable offsets.
    pub(crate) fn capacity() -> u64 {
        V6_ANYCAST_START - 2
    }

    /// Draws random bookable offsets until `take` takes one (it returns `false` for a taken
    /// offset); `None` after a bounded number of draws.
    pub(crate) fn draw(
        rng: &mut dyn RandomSource,
        mut take: impl FnMut(u64) -> bool,
    ) -> Option<u64> {
        (0..V6_DRAWS)
            .map(|_| rng.next_u64())
            .find(|&offset| Self::is_bookable(offset) && take(offset))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::SeededRandom;

    #[test]
    fn lowest_first_then_reuse() {
        let mut a = V4Allocator::new(2, 10);
        assert_eq!(a.take_lowest(), Some(2));
        assert_eq!(a.take_lowest(), Some(3));
        assert!(a.take(7));
        assert!(!a.take(7));
        assert_eq!(a.take_lowest(), Some(4));
        assert!(a.release(3));
        assert!(!a.release(3));
        assert_eq!(a.take_lowest(), Some(3));
        assert_eq!(a.taken(), 4);
        for want in [5, 6, 8, 9] {
            assert_eq!(a.take_lowest(), Some(want));
        }
        assert_eq!(a.take_lowest(), None);
        assert_eq!(a.taken(), 8);
        assert!(!a.has_room());
    }

    #[test]
    fn churn_in_a_full_block_books_from_the_low_list() {
        let mut a = V4Allocator::new(2, 12);
        while a.take_lowest().is_some() {}
        assert!(a.release(4) && a.release(7));
        // 4 went to the low list (below every other member), 7 to the bitmap.
        assert_eq!((a.freed.low.clone(), a.freed.rest.len()), (vec![4], 1));
        for _ in 0..3 {
            assert_eq!(a.take_lowest(), Some(4));
            assert!(a.freed.low.is_empty());
            assert!(a.release(4));
            assert_eq!((a.freed.low.clone(), a.freed.rest.len()), (vec![4], 1));
        }
        // A lower offset freed joins the low list; one above the list's largest, the bitmap.
        assert!(a.release(3) && a.release(9));
        assert_eq!((a.freed.low.clone(), a.freed.rest.len()), (vec![4, 3], 2));
        assert_eq!(a.freed.range_cardinality(3..8), 3);
        for want in [3, 4, 7, 9] {
            assert_eq!(a.take_lowest(), Some(want));
        }
        assert!(a.freed.is_empty() && !a.has_room());
        // Booking a listed offset by address takes it from the list.
        assert!(a.release(5));
        assert_eq!(a.take_lowest(), Some(5));
        assert!(a.release(5) && a.take(5));
        assert!(a.freed.is_empty());
    }

    #[test]
    fn the_low_list_refills_in_batches_and_spills_its_larger_half() {
        let end = 2 + 10 * LOW_MAX as u32;
        let mut a = V4Allocator::new(2, end);
        while a.take_lowest().is_some() {}
        // Every other offset freed, from the top down: each goes below the list's smallest.
        let freed: Vec<u32> = (2..end - 1).step_by(2).rev().collect();
        for &o in &freed {
            assert!(a.release(o));
            assert!(a.freed.low.len() <= LOW_MAX);
        }
        assert_eq!(a.freed.len(), freed.len() as u64);
        assert!(!a.freed.rest.is_empty(), "the list spilled into the bitmap");
        // Taken back lowest first, through refills of the list from the bitmap.
        let mut refills = 0;
        for &o in freed.iter().rev() {
            let (listed, rest) = (a.freed.low.len(), a.freed.rest.len() as usize);
            assert_eq!(a.take_lowest(), Some(o));
            if listed == 0 {
                refills += 1;
                assert_eq!(a.freed.low.len(), rest.min(LOW_BATCH) - 1);
            } else {
                assert_eq!(a.freed.low.len(), listed - 1);
            }
        }
        assert!(refills >= 2, "{refills} refills");
        assert!(a.freed.is_empty());
    }

    #[test]
    fn releasing_the_top_lowers_the_mark() {
        let mut a = V4Allocator::new(2, 100);
        for _ in 0..10 {
            a.take_lowest();
        }
        for off in (2..12).rev() {
            assert!(a.release(off));
        }
        assert_eq!(a.taken(), 0);
        assert_eq!(a.next, 2);
        assert!(a.freed.is_empty());
        assert!(a.take(50));
        assert!(a.release(50));
        assert!(a.freed.is_empty());
    }

    #[test]
    fn booking_far_above_the_mark_costs_one_entry() {
        let mut a = V4Allocator::new(2, 1 << 20);
        assert!(a.take(5));
        assert!(a.take((1 << 20) - 1));
        assert!(a.freed.is_empty());
        assert_eq!(a.above.len(), 2);
        assert_eq!(a.high_water(), 1 << 20);
        assert_eq!(a.taken(), 2);
        assert_eq!(a.take_lowest(), Some(2));
        assert_eq!(a.take_lowest(), Some(3));
        // 4 is next; taking it moves the mark past 5.
        assert!(a.take(4));
        assert_eq!((a.next, a.above.len()), (6, 1));
        assert!(a.release((1 << 20) - 1));
        assert_eq!(a.high_water(), 6);
        for off in [3, 2, 5, 4] {
            assert!(a.release(off));
        }
        assert_eq!((a.next, a.taken()), (2, 0));
        assert!(a.freed.is_empty() && a.above.is_empty());
    }

    #[test]
    fn releasing_the_top_lowers_the_mark_past_a_long_freed_run_at_once() {
        let mut a = V4Allocator::new(2, 1 << 20);
        for _ in 0..1000 {
            a.take_lowest();
        }
        for off in 3..1001 {
            assert!(a.release(off));
        }
        assert_eq!(a.freed.len(), 998);
        assert!(a.release(1001));
        assert_eq!(a.next, 3);
        assert!(a.freed.is_empty());
        assert_eq!(a.taken(), 1);
    }

    #[test]
    fn runs_shorter_and_longer_than_the_walk_are_found_exactly() {
        for run in [1, WALK - 1, WALK, WALK + 1, 3 * WALK + 7] {
            // Taken by address right above the mark: one auto booking moves the mark past them.
            let mut a = V4Allocator::new(2, 1 << 20);
            for off in 3..3 + run {
                assert!(a.take(off));
            }
            assert!(a.take(3 + run + 1)); // past a one-offset gap
            assert_eq!(a.take_lowest(), Some(2));
            assert_eq!((a.next, a.above.len()), (3 + run, 1), "run {run}");
            assert_eq!(a.take_lowest(), Some(3 + run));
            assert_eq!(a.next, 3 + run + 2, "run {run}");
            assert!(a.above.is_empty());
            // Freed below the top, then the top: the mark comes down past the whole run.
            let mut a = V4Allocator::new(2, 1 << 20);
            for _ in 0..run + 2 {
                a.take_lowest();
            }
            for off in 4..3 + run {
                assert!(a.release(off));
            }
            assert!(a.release(3 + run));
            assert_eq!((a.next, a.freed.len(), a.taken()), (4, 0, 2), "run {run}");
        }
    }

    proptest::proptest! {
        /// The allocator answers like a plain set of taken offsets: lowest free first.
        #[test]
        fn behaves_like_a_set_of_taken_offsets(
            // A small block, and one larger than the low list of freed offsets holds.
            end in proptest::prop_oneof![proptest::strategy::Just(34u32), proptest::strategy::Just(200u32)],
            ops in proptest::collection::vec((0u8..3, 0u32..1000), 0..600),
        ) {
            use std::collections::BTreeSet;
            let first = 0u32;
            let mut a = V4Allocator::new(first, end);
            let mut taken = BTreeSet::new();
            for (op, offset) in ops {
                let offset = offset % (end + 6);
                match op {
                    0 => {
                        let want = (first..end).find(|o| !taken.contains(o));
                        proptest::prop_assert_eq!(a.take_lowest(), want);
                        if let Some(o) = want {
                            taken.insert(o);
                        }
                    }
                    1 if a.is_bookable(u64::from(offset)) => {
                        proptest::prop_assert_eq!(a.take(offset), taken.insert(offset));
                    }
                    _ => {
                        proptest::prop_assert_eq!(a.release(offset), taken.remove(&offset));
                    }
                }
                proptest::prop_assert_eq!(a.taken(), taken.len() as u64);
                proptest::prop_assert_eq!(a.has_room(), taken.len() < (end - first) as usize);
                for o in first..end {
                    proptest::prop_assert_eq!(a.is_taken(o), taken.contains(&o));
                }
                let top = taken.iter().next_back().map_or(first, |t| t + 1);
                proptest::prop_assert!(a.high_water() >= top);
                proptest::prop_assert!(!a.above.contains(a.next));
            }
        }
    }

    proptest::proptest! {
        /// The freed offsets answer like a plain set, and the low list keeps its shape: from the
        /// largest down, below every member of the bitmap, at most `LOW_MAX` long.
        #[test]
        fn freed_offsets_behave_like_a_set(
            ops in proptest::collection::vec((0u8..5, 0u32..300, 0u32..40), 0..400),
        ) {
            use std::collections::BTreeSet;
            let mut f = Freed::default();
            let mut model = BTreeSet::new();
            for (op, offset, width) in ops {
                match op {
                    0 => proptest::prop_assert_eq!(f.pop_min(), model.pop_first()),
                    1 | 2 if !model.contains(&offset) => {
                        f.insert(offset);
                        model.insert(offset);
                    }
                    3 => proptest::prop_assert_eq!(f.remove(offset), model.remove(&offset)),
                    _ => {
                        let range = offset..offset + width;
                        f.remove_range(range.clone());
                        model.retain(|o| !range.contains(o));
                    }
                }
                proptest::prop_assert!(f.low.windows(2).all(|w| w[0] > w[1]));
                proptest::prop_assert!(f.low.len() <= LOW_MAX);
                if let (Some(&largest), Some(min)) = (f.low.first(), f.rest.min()) {
                    proptest::prop_assert!(largest < min);
                }
                proptest::prop_assert_eq!(f.len(), model.len() as u64);
                proptest::prop_assert_eq!(f.is_empty(), model.is_empty());
                let (lo, hi) = (offset.min(offset / 2 + width), offset.max(offset / 2 + width));
                proptest::prop_assert_eq!(
                    f.range_cardinality(lo..hi),
                    model.range(lo..hi).count() as u64
                );
                let below: Vec<u32> = f.below_descending(lo, hi).collect();
                let want: Vec<u32> = model.range(lo..hi).rev().copied().collect();
                proptest::prop_assert_eq!(below, want);
                for o in [offset, lo, hi] {
                    proptest::prop_assert_eq!(f.contains(o), model.contains(&o));
                }
            }
        }
    }

    #[test]
    fn v6_draws_avoid_unavailable_and_taken() {
        let mut rng = SeededRandom::new(1);
        let first = V6Allocator::draw(&mut rng, |_| true).unwrap();
        assert!(V6Allocator::is_bookable(first));
        assert!(!V6Allocator::is_bookable(0));
        assert!(!V6Allocator::is_bookable(1));
        assert!(!V6Allocator::is_bookable(u64::MAX));
        assert!(!V6Allocator::is_bookable(u64::MAX - 127));
        assert!(V6Allocator::is_bookable(u64::MAX - 128));
        assert_eq!(V6Allocator::draw(&mut rng, |_| false), None);
    }
}
