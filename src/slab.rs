//! [`Slab`]: a vector in fixed-size segments, the store's record slab.
//!
//! A `Vec` that doubles moves everything it holds into a block twice the size: for a slab of
//! a million 72-byte records, a copy of 72 MB in the one booking that found it full (9-37 ms
//! when the allocator could not remap the block in place). Here elements live in segments of
//! [`SEGMENT`] elements; a full slab gets one more segment, and nothing already stored moves.
//! Only the first segment grows by doubling, up to a segment's size (a copy of at most
//! 1.2 MB), so that a small slab stays small.
//!
//! Element `i` is element `i % SEGMENT` of segment `i / SEGMENT`: a read costs one more load
//! than a `Vec`'s, that of the segment table (a 24-byte entry per 16,384 elements, 15 KB at
//! 10M), which stays in cache.

use std::ops::{Index, IndexMut};

/// log2 of [`SEGMENT`]. Unit tests use segments of 16 elements, so that every slab they build
/// has several.
#[cfg(not(test))]
const SEGMENT_BITS: u32 = 14;
#[cfg(test)]
const SEGMENT_BITS: u32 = 4;

/// Elements per segment: 16,384 (1.2 MB of records).
const SEGMENT: usize = 1 << SEGMENT_BITS;

/// How far ahead of the element it reads [`Slab::keep`] starts loading one (16 and 64 did no
/// better, with the store's records).
const READ_AHEAD: usize = 32;

/// A vector in segments of [`SEGMENT`] elements. The segments before the one holding the last
/// element are full; those after it are empty, their memory set aside by [`Slab::reserve`]
/// or left by [`Slab::keep`].
#[derive(Clone, Debug)]
pub(crate) struct Slab<T> {
    segments: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self {
            segments: Vec::new(),
            len: 0,
        }
    }
}

/// The segment of element `i` and its place there.
#[inline]
fn split(i: usize) -> (usize, usize) {
    (i >> SEGMENT_BITS, i & (SEGMENT - 1))
}

impl<T> Slab<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// How many elements the slab holds without allocating.
    pub(crate) fn capacity(&self) -> usize {
        self.segments.iter().map(Vec::capacity).sum()
    }

    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&T> {
        let (s, at) = split(i);
        self.segments.get(s)?.get(at)
    }

    /// Appends `value`; returns it in place. Never moves the elements already stored: a full
    /// slab takes a new segment (or, while it has one segment, doubles it up to a segment's size).
    #[inline]
    pub(crate) fn push(&mut self, value: T) -> &mut T {
        let (s, _) = split(self.len);
        if s == self.segments.len() {
            self.segments.push(Vec::new());
        }
        let segment = &mut self.segments[s];
        if segment.len() == segment.capacity() {
            Self::grow_segment(segment, s);
        }
        self.len += 1;
        segment.push(value);
        let last = segment.len() - 1;
        &mut segment[last]
    }

    /// Makes room in a full segment, the `s`-th: the first doubles, up to [`SEGMENT`]
    /// elements, so that a small slab stays small; another (new, or cloned, which holds no
    /// spare room) becomes whole.
    #[cold]
    #[inline(never)]
    fn grow_segment(segment: &mut Vec<T>, s: usize) {
        let want = if s == 0 {
            (segment.capacity() * 2).clamp(4, SEGMENT)
        } else {
            SEGMENT
        };
        segment.reserve_exact(want - segment.len());
    }

    /// Sets memory aside for `additional` more elements, segment by segment. A hint: when the
    /// allocator refuses the memory missing, nothing is set aside (and should it refuse a
    /// segment after granting the whole, the segments before keep theirs).
    ///
    /// The allocator is asked for the missing memory whole first, as one block it frees at
    /// once (untouched, its pages never backed): asked segment by segment, it hands out piece
    /// after piece of an amount it would refuse whole, and `Ipam::reserve(region, usize::MAX)`
    /// took the handle space's 300 GB of address space, up to the system's limit on mappings.
    pub(crate) fn reserve(&mut self, additional: usize) {
        let Some(total) = self.len.checked_add(additional) else {
            return;
        };
        let missing = total.saturating_sub(self.capacity());
        if missing == 0 || Vec::<T>::new().try_reserve_exact(missing).is_err() {
            return;
        }
        let (last, _) = split(total - 1);
        if self
            .segments
            .try_reserve(last.saturating_add(1).saturating_sub(self.segments.len()))
            .is_err()
        {
            return;
        }
        for s in 0..=last {
            if s == self.segments.len() {
                self.segments.push(Vec::new());
            }
            let segment = &mut self.segments[s];
            let want = (total - s * SEGMENT).min(SEGMENT);
            if want > segment.capacity() && segment.try_reserve_exact(want - segment.len()).is_err()
            {
                return;
            }
        }
    }

    /// Gives back the memory of whole segments beyond room for `min` elements (or the
    /// elements held, if more), and when one segment is left, its room beyond that.
    pub(crate) fn shrink_to(&mut self, min: usize) {
        let keep = min.max(self.len);
        let segments = keep.div_ceil(SEGMENT);
        self.segments.truncate(segments);
        if let [first] = &mut self.segments[..] {
            first.shrink_to(keep);
        }
    }

    /// The elements, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.segments.iter().flatten()
    }
}

impl<T: Default> Slab<T> {
    /// Keeps the elements at `indices` (ascending, each below the length), in order, moved
    /// down over the others; `visit` sees each kept element once, in order, before it moves.
    /// The memory stays. In place: the slab is never held twice.
    ///
    /// The others are neither read nor dropped, but forgotten: each must own nothing (a
    /// default value, say, as the store's released slots hold `None`), or what it owns leaks.
    /// Why: a compaction's dead slots mostly lie together at the end, those of the IPs booked
    /// and released since the last one. A `retain` read every slot to test it, and its
    /// truncation read the dead tail again to drop it. Given the live indices instead, a
    /// compaction of 1M IPs (the harness's last row, in a scratch probe: the fastest of three
    /// per run, four alternating runs) took 43.9-45.7 against 50.1-52.2 ms, and 47.1-48.6 ms
    /// while the dead tail was still dropped; at 10M, 622-633 against 676-682 ms (two runs).
    /// With the released slots spread evenly (two IPs in three released across the region),
    /// the two read the same, within the noise (33-37 ms).
    pub(crate) fn keep(
        &mut self,
        indices: impl IntoIterator<Item = usize>,
        mut visit: impl FnMut(&T),
    ) {
        let mut kept = 0;
        for i in indices {
            debug_assert!(kept <= i && i < self.len, "ascending indices of elements");
            if let Some(ahead) = self.get(i + READ_AHEAD) {
                crate::flat::prefetch(ahead);
            }
            visit(&self[i]);
            if kept != i {
                // Taken out and written down over an element forgotten: the slot left holds a
                // default value.
                let value = std::mem::take(&mut self[i]);
                std::mem::forget(std::mem::replace(&mut self[kept], value));
            }
            kept += 1;
        }
        self.forget_from(kept);
    }

    /// Forgets the elements from `len` on, unread and not dropped, keeping the memory.
    fn forget_from(&mut self, len: usize) {
        if len >= self.len {
            return;
        }
        let (s, at) = split(len);
        for (i, segment) in self.segments.iter_mut().enumerate().skip(s) {
            let keep = (if i == s { at } else { 0 }).min(segment.len());
            #[allow(unsafe_code)]
            // SAFETY: the new length is at most the segment's length, so within its capacity,
            // and the elements up to it stay as they were, initialised. Those past it are
            // leaked, never read or dropped again: safe, if wasteful for one that owns memory.
            unsafe {
                segment.set_len(keep);
            }
        }
        self.len = len;
    }
}

impl<T> Index<usize> for Slab<T> {
    type Output = T;

    /// Element `i`. Panics past the end, as a slice does.
    #[inline]
    fn index(&self, i: usize) -> &T {
        let (s, at) = split(i);
        &self.segments[s][at]
    }
}

impl<T> IndexMut<usize> for Slab<T> {
    #[inline]
    fn index_mut(&mut self, i: usize) -> &mut T {
        let (s, at) = split(i);
        &mut self.segments[s][at]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// Checks the shape: every segment before the last element's is full, none after holds an
    /// element, and the count matches.
    fn check<T>(slab: &Slab<T>) {
        let held: usize = slab.segments.iter().map(Vec::len).sum();
        assert_eq!(held, slab.len);
        for (s, segment) in slab.segments.iter().enumerate() {
            let expected = slab.len.saturating_sub(s * SEGMENT).min(SEGMENT);
            assert_eq!(segment.len(), expected, "segment {s} of {}", slab.len);
            assert!(segment.capacity() <= SEGMENT, "segment {s} over a segment");
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Push(u32),
        Retain(u32),
        Truncate(usize),
        Reserve(usize),
        Shrink(usize),
        Set(usize, u32),
        Clone,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            20 => any::<u32>().prop_map(Op::Push),
            2 => (1u32..5).prop_map(Op::Retain),
            1 => (0usize..200).prop_map(Op::Truncate),
            1 => (0usize..100).prop_map(Op::Reserve),
            1 => (0usize..200).prop_map(Op::Shrink),
            3 => (0usize..200, any::<u32>()).prop_map(|(i, v)| Op::Set(i, v)),
            1 => Just(Op::Clone),
        ]
    }

    proptest! {
        /// The slab holds what a `Vec` given the same operations holds, in the same order.
        #[test]
        fn behaves_as_a_vec(ops in proptest::collection::vec(op(), 1..400)) {
            let mut slab: Slab<Option<u32>> = Slab::default();
            let mut vec: Vec<Option<u32>> = Vec::new();
            for op in ops {
                match op {
                    Op::Push(v) => {
                        *slab.push(None) = Some(v);
                        vec.push(Some(v));
                    }
                    Op::Retain(k) => {
                        let keep = |v: &Option<u32>| v.is_some_and(|v| v % k == 0);
                        let kept: Vec<usize> = (0..vec.len()).filter(|&i| keep(&vec[i])).collect();
                        let mut seen = Vec::new();
                        slab.keep(kept, |v| seen.push(*v));
                        vec.retain(keep);
                        prop_assert_eq!(&seen, &vec);
                    }
                    Op::Truncate(n) => {
                        // Keeping the first `n` forgets the rest, as a truncation drops them.
                        slab.keep(0..n.min(slab.len()), |_| {});
                        vec.truncate(n);
                    }
                    Op::Reserve(n) => {
                        let capacity = slab.capacity();
                        slab.reserve(n);
                        prop_assert!(slab.capacity() >= slab.len() + n);
                        prop_assert!(slab.capacity() >= capacity);
                        // The room is where the next pushes go: they allocate nothing (half
                        // of it filled here, the rest left to the operations that follow).
                        let room = slab.capacity();
                        for _ in 0..n / 2 {
                            slab.push(None);
                            vec.push(None);
                        }
                        prop_assert_eq!(slab.capacity(), room);
                    }
                    Op::Shrink(n) => {
                        let capacity = slab.capacity();
                        slab.shrink_to(n);
                        // Memory is given back, never taken.
                        prop_assert!(slab.capacity() <= capacity);
                        prop_assert!(slab.capacity() >= n.max(slab.len()).min(capacity));
                        prop_assert!(
                            slab.capacity() < n.max(slab.len()) + SEGMENT.max(4) * 2,
                            "{} for {n} and {} held", slab.capacity(), slab.len()
                        );
                    }
                    Op::Set(i, v) => {
                        if let Some(slot) = vec.get_mut(i) {
                            *slot = Some(v);
                            slab[i] = Some(v);
                        } else {
                            prop_assert!(slab.get(i).is_none());
                        }
                    }
                    Op::Clone => slab = slab.clone(),
                }
                check(&slab);
                prop_assert_eq!(slab.len(), vec.len());
                prop_assert!(slab.iter().eq(vec.iter()));
                for (i, v) in vec.iter().enumerate() {
                    prop_assert_eq!(slab.get(i), Some(v));
                }
                prop_assert_eq!(slab.get(vec.len()), None);
            }
        }
    }

    /// `keep` moves each kept element once, dropping and duplicating none: with the others
    /// emptied first (as the store empties a released slot), every value is held exactly once
    /// afterwards, by the slab or by the caller.
    #[test]
    fn keep_moves_the_kept_elements_once() {
        let values: Vec<std::rc::Rc<usize>> = (0..5 * SEGMENT).map(std::rc::Rc::new).collect();
        let mut slab: Slab<Option<std::rc::Rc<usize>>> = Slab::default();
        for v in &values {
            slab.push(Some(v.clone()));
        }
        // Dead: a run at the start, every third one, and the whole tail past 3.5 segments.
        let live = |i: usize| i >= 7 && !i.is_multiple_of(3) && i < 7 * SEGMENT / 2;
        for i in (0..slab.len()).filter(|&i| !live(i)) {
            slab[i] = None;
        }
        let mut visited = Vec::new();
        slab.keep((0..slab.len()).filter(|&i| live(i)), |v| {
            visited.push(**v.as_ref().expect("a live element"));
        });
        let expected: Vec<usize> = (0..values.len()).filter(|&i| live(i)).collect();
        assert_eq!(visited, expected);
        check(&slab);
        assert!(slab
            .iter()
            .map(|v| **v.as_ref().unwrap())
            .eq(expected.iter().copied()));
        for (i, v) in values.iter().enumerate() {
            assert_eq!(
                std::rc::Rc::strong_count(v),
                if live(i) { 2 } else { 1 },
                "{i}"
            );
        }
        drop(slab);
        assert!(values.iter().all(|v| std::rc::Rc::strong_count(v) == 1));
    }

    /// A full slab takes a new segment: what it holds stays where it was.
    #[test]
    fn growth_moves_nothing_once_a_segment_is_whole() {
        let mut slab: Slab<u64> = Slab::default();
        for i in 0..SEGMENT as u64 {
            slab.push(i);
        }
        let first = std::ptr::from_ref(&slab[0]);
        for i in 0..10 * SEGMENT as u64 {
            slab.push(i);
            assert!(std::ptr::eq(first, std::ptr::from_ref(&slab[0])));
        }
        check(&slab);
        // Room for exactly what is held, in whole segments.
        assert_eq!(slab.capacity(), 11 * SEGMENT);
    }

    /// Memory set aside, exactly what was asked for, is used before any other, and a
    /// reservation past what a slab can be, or more than the system would give as one block,
    /// sets nothing aside.
    #[test]
    fn reserve_sets_memory_aside() {
        let mut slab: Slab<u64> = Slab::default();
        slab.reserve(3 * SEGMENT + 1);
        assert_eq!(slab.capacity(), 3 * SEGMENT + 1);
        let first = std::ptr::from_ref(slab.push(7));
        for i in 0..3 * SEGMENT as u64 {
            slab.push(i);
        }
        assert!(std::ptr::eq(first, std::ptr::from_ref(&slab[0])));
        assert_eq!(slab.capacity(), 3 * SEGMENT + 1);
        slab.reserve(usize::MAX);
        assert_eq!(slab.len(), 3 * SEGMENT + 1);
        assert_eq!(slab.capacity(), 3 * SEGMENT + 1);
        // 256 TiB, past any address space, in segments of 4 MiB the system would give one by
        // one (the segment table, 1.5 GiB, too).
        let mut huge: Slab<[u8; 1 << 18]> = Slab::default();
        huge.reserve(1 << 30);
        assert_eq!(huge.capacity(), 0);
        check(&slab);
        // Past what was set aside, the last segment becomes whole.
        slab.push(8);
        assert_eq!(slab.capacity(), 4 * SEGMENT);
        // Cut to its first elements, the slab keeps its memory until shrunk.
        slab.keep(0..5, |_| {});
        assert_eq!(slab.capacity(), 4 * SEGMENT);
        slab.shrink_to(0);
        assert_eq!(slab.capacity(), 5);
        check(&slab);
    }
}
