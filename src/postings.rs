//! [`TagPostings`]: the handles carrying one tag, in whichever of three forms makes a single
//! change cheapest at the tag's size and density.
//!
//! A tag carried by a few IPs keeps their handles inline, sorted, in the room the other forms
//! take anyway: a new tag allocates nothing, and its changes touch one cache line.
//!
//! A roaring bitmap keeps the members of each 65,536-handle window as a sorted array until
//! there are 4,096 of them, and as a bitset above. A tag carried by 0.1 % to 6 % of the IPs has
//! arrays of 64 to 4,096 members, and adding or removing one handle is a binary search through
//! up to 8 KiB of cold memory and a shift of half of it: several dependent cache misses per
//! tag, the most expensive part of updating an IP's tags. At densities from 1/128 to 1/16 the
//! postings are one plain bitset over the handles instead (at most 16 bytes per member when it
//! becomes one, 64 before it turns back), where a change is one bit in one cache line. A list
//! of the tag alone in creation order pages straight off the bitset; other lists test their
//! matches, or their Private Networks' IPs, against it when those are fewer than the tag's
//! members ([`TagPostings::among`]), or read it as a roaring bitmap built in one pass over its
//! bytes (O(h / 8) for handles up to `h`: about 30 µs at a million handles), the price of the
//! cheaper changes.
//!
//! Even one bit is a cache miss in a large region, and a tag update makes two per bitset tag:
//! the old tag's, which waits for the IP's record to name it, and the new one's. The update
//! knows from the record's tag list whether the IP carries each tag, so it reads neither bit:
//! it notes the handle as a *flip* beside the bitset ([`TagPostings::insert_new`],
//! [`TagPostings::remove_member`]), and the bitset applies its flips 64 at a time, their misses
//! overlapping. Readers turn the flipped bits over as they read. On a region of a million IPs,
//! retagging took 675-697 ns against 774-796 ns (three alternating pairs), and the harness's
//! tag-update rows 7-15 % less (three alternating rounds); a list testing a network's IPs
//! against a bitset with flips pending, about 5 % more. Applied 64 rather than 16 at a time,
//! with the mask of pending flips set bit by bit rather than worked out again, an update to new
//! tags took 575 against 678 ns and a retag 472 against 541 ns (medians of five alternating
//! runs of a probe on the harness's region), and a list of a network's IPs with a 1 % tag
//! 13.4-14.2 against 14.6-17.4 µs (its mean over 128 updates: every number of flips pending).

use std::borrow::Cow;

use roaring::RoaringBitmap;

use crate::store::{remapped_bitmap, renumber_in_place, Handle, HandleSet, Renumbering};

/// Fewest members a bitset holds: below, no window of a roaring bitmap has enough members for
/// its changes to be slow.
const DENSE_MIN: u64 = 1024;
/// A roaring bitmap becomes a bitset when at least one handle in this many below its largest
/// member carries the tag...
const DENSE_AT: u64 = 128;
/// ...and at most one in this many: denser, roaring holds its windows as bitsets itself, and
/// lists borrow it.
const DENSE_UP_TO: u64 = 16;
/// A bitset becomes a roaring bitmap again when fewer than one bit in this many is set, or more
/// than one in [`SPARSE_ABOVE`]: a margin on either side, so that a change of form is paid for
/// by many changes of members.
const SPARSE_AT: u64 = 512;
const SPARSE_ABOVE: u64 = 8;
/// Most members the inline form holds: as many as fit in the room the roaring form takes.
const SMALL: usize = 11;
/// A roaring set left with this many members or fewer by a removal turns inline again: below
/// [`SMALL`], so that a tag going back and forth over the limit does not change form each time.
const SMALL_AGAIN: u64 = SMALL as u64 / 2;
/// Fewest members of a roaring set that [`TagPostings::warm`] reads ahead: 64 KiB of arrays or
/// more, which a region this large mostly keeps out of cache.
const WARM_MIN: u64 = 32_768;

/// Changes a bitset holds as flips before it applies them ([`TagPostings::Dense`]): a tag
/// update changes a bit in each of two cold lines, the old tag's waiting for the IP's record to
/// name the tag; applied 64 at a time, their cache misses overlap. 16 at a time, the applying
/// was a fifth of a retag's time in a region of a million IPs (perf); 128 at a time gained
/// nothing over 64.
const FLIPS_MAX: usize = 64;

/// The flipped handles of a bitset ([`TagPostings::Dense`]), sorted; boxed there, so that the
/// postings keep their size.
#[derive(Clone, Debug)]
pub(crate) struct Flips {
    len: u8,
    /// Bit `h % 64` of each flipped handle `h`: most tests of a handle that is not flipped
    /// stop here, a list testing each of its matches against a bitset with flips pending.
    mask: u64,
    handles: [Handle; FLIPS_MAX],
}

impl Default for Flips {
    fn default() -> Self {
        Self {
            len: 0,
            mask: 0,
            handles: [0; FLIPS_MAX],
        }
    }
}

/// The bit of `handle` in a [`Flips::mask`].
#[inline]
fn mask_bit(handle: Handle) -> u64 {
    1 << (handle % 64)
}

/// The [`Flips::mask`] of `handles`.
fn mask_of(handles: &[Handle]) -> u64 {
    handles.iter().fold(0, |m, &h| m | mask_bit(h))
}

impl Flips {
    fn as_slice(&self) -> &[Handle] {
        &self.handles[..usize::from(self.len)]
    }

    #[inline]
    fn contains(&self, handle: Handle) -> bool {
        self.mask & mask_bit(handle) != 0 && self.as_slice().binary_search(&handle).is_ok()
    }

    /// Adds `handle`, or removes it when it is there. At most [`FLIPS_MAX`]: the caller
    /// applies them when full. An addition sets its bit of the mask; a removal (a change
    /// undone before the flips are applied, rarer) works the mask out again.
    fn toggle(&mut self, handle: Handle) {
        let n = usize::from(self.len);
        match self.handles[..n].binary_search(&handle) {
            Ok(i) => {
                self.handles.copy_within(i + 1..n, i);
                self.len -= 1;
                self.mask = mask_of(self.as_slice());
            }
            Err(i) => {
                debug_assert!(n < FLIPS_MAX, "applied when full");
                self.handles.copy_within(i..n, i + 1);
                self.handles[i] = handle;
                self.len += 1;
                self.mask |= mask_bit(handle);
            }
        }
    }

    /// Forgets every flip (once applied).
    fn clear(&mut self) {
        self.len = 0;
        self.mask = 0;
    }

    fn is_full(&self) -> bool {
        usize::from(self.len) == FLIPS_MAX
    }
}

/// The handles of one tag.
#[derive(Clone, Debug)]
pub(crate) enum TagPostings {
    /// Up to [`SMALL`] members, sorted: the first `len` of `handles`.
    Small { len: u8, handles: [Handle; SMALL] },
    /// Few members for the handle range they span, or many. `bound` is at least the largest
    /// member (the largest ever added): asking roaring for its largest member can scan a
    /// container.
    Sparse { set: HandleSet, bound: Handle },
    /// A bitset, bit `h` for handle `h`, and its number of members. A handle in `flips`
    /// (sorted, at most [`FLIPS_MAX`], each within the bitset) is a member when its bit is
    /// *clear*: a change that [`TagPostings::insert_new`] or [`TagPostings::remove_member`]
    /// made without touching the bitset's cold line, applied to it with the others when there
    /// are [`FLIPS_MAX`] of them.
    Dense {
        bits: Vec<u8>,
        len: u64,
        flips: Box<Flips>,
    },
}

impl Default for TagPostings {
    fn default() -> Self {
        TagPostings::Small {
            len: 0,
            handles: [0; SMALL],
        }
    }
}

impl TagPostings {
    /// The postings of the sorted `handles`.
    pub(crate) fn from_sorted(handles: impl IntoIterator<Item = Handle>) -> Self {
        let mut rest = handles.into_iter();
        let mut first = [0; SMALL];
        let mut len = 0;
        // `zip` stops at the array's end without taking a handle past it.
        for (slot, h) in first.iter_mut().zip(rest.by_ref()) {
            *slot = h;
            len += 1;
        }
        let Some(more) = rest.next() else {
            return TagPostings::Small {
                len,
                handles: first,
            };
        };
        let set = HandleSet::from_sorted(first.into_iter().chain([more]).chain(rest));
        let bound = set.max().unwrap_or(0);
        let mut postings = TagPostings::Sparse { set, bound };
        postings.reshape();
        postings
    }

    /// Renumbers the postings as a compaction renumbers the handles (order-preserving,
    /// old → new).
    pub(crate) fn remap(&mut self, renumbering: &Renumbering) {
        match self {
            TagPostings::Small { len, handles } => {
                for h in &mut handles[..usize::from(*len)] {
                    *h = renumbering.get(*h);
                }
            }
            TagPostings::Sparse { set, .. } => {
                let set = HandleSet::from_bitmap(remapped_bitmap(set.bitmap(), renumbering));
                if set.len() <= SMALL as u64 {
                    *self = Self::from_sorted(set.iter());
                    return;
                }
                let bound = set.max().unwrap_or(0);
                *self = TagPostings::Sparse { set, bound };
                self.reshape();
            }
            // In place, word by word off the ended epoch's dead bits ([`renumber_in_place`]).
            // Member by member through the map (4 bytes a handle, read again for every tag),
            // the 100 dense tags of a 10M-IP region took 363-445 ms of its compaction, 134 ms
            // word by word.
            TagPostings::Dense { bits, flips, .. } => {
                apply_flips(bits, flips);
                renumber_in_place(bits, renumbering);
                if bits.is_empty() {
                    *self = Self::default();
                    return;
                }
                // Cut to the members' span, as a bitset built anew was. Kept room for twice the
                // span (the slab keeps room for twice the records), a region of 1M IPs
                // compacted after two IPs in three were released across it held 436 bytes per
                // live IP against 417, for compactions as long either way.
                bits.shrink_to_fit();
                // Postings hold live handles only, so none dropped out and the count stands.
                // Closer together, the members may be too many for a bitset now.
                self.reshape();
                debug_assert!(self.check().is_ok(), "{:?}", self.check());
            }
        }
    }

    /// The members of the inline form, sorted; empty for the others.
    fn inline(&self) -> &[Handle] {
        match self {
            TagPostings::Small { len, handles } => &handles[..usize::from(*len)],
            _ => &[],
        }
    }

    /// Adds `handle`; whether it was not there. A bitset that must grow takes room for the
    /// handles below `room` at once, if more (a bulk load's, [`crate::Ipam::reserve`]), rather
    /// than growing again, a copy each time, as they come; 0: no such load.
    pub(crate) fn insert(&mut self, handle: Handle, room: Handle) -> bool {
        let inserted = match self {
            TagPostings::Small { len, handles } => {
                let n = usize::from(*len);
                let Err(i) = handles[..n].binary_search(&handle) else {
                    return false;
                };
                if n == SMALL {
                    // Full: the members and `handle` move to a roaring set.
                    let mut members = handles.to_vec();
                    members.insert(i, handle);
                    let bound = members[SMALL];
                    *self = TagPostings::Sparse {
                        set: HandleSet::from_sorted(members),
                        bound,
                    };
                    return true;
                }
                handles.copy_within(i..n, i + 1);
                handles[i] = handle;
                *len += 1;
                return true;
            }
            TagPostings::Sparse { set, bound } => {
                *bound = (*bound).max(handle);
                set.insert(handle)
            }
            TagPostings::Dense { bits, len, flips } => {
                let (byte, bit) = position(handle);
                if byte >= bits.len() {
                    if byte >= bits.capacity() {
                        // Grow by an eighth at least: amortized O(1) with little slack.
                        let target = (byte + 1)
                            .max(bits.capacity() + bits.capacity() / 8 + 64)
                            .max((room as usize).div_ceil(8));
                        bits.reserve_exact(target - bits.len());
                    }
                    bits.resize(byte + 1, 0);
                }
                // A flipped handle with its bit set is not a member: dropping the flip makes it
                // one.
                let flipped = flips.contains(handle);
                let fresh = (bits[byte] & bit != 0) == flipped;
                if fresh {
                    if flipped {
                        flips.toggle(handle);
                    } else {
                        bits[byte] |= bit;
                    }
                    *len += 1;
                }
                fresh
            }
        };
        if inserted {
            self.reshape();
        }
        inserted
    }

    /// Removes `handle`; whether it was there.
    pub(crate) fn remove(&mut self, handle: Handle) -> bool {
        let removed = match self {
            TagPostings::Small { len, handles } => {
                let n = usize::from(*len);
                let Ok(i) = handles[..n].binary_search(&handle) else {
                    return false;
                };
                handles.copy_within(i + 1..n, i);
                *len -= 1;
                return true;
            }
            // Thinner, it stays roaring until an insert looks again, unless it is left small.
            TagPostings::Sparse { set, .. } => {
                if !set.remove(handle) {
                    return false;
                }
                if set.len() <= SMALL_AGAIN {
                    *self = Self::from_sorted(set.iter());
                }
                return true;
            }
            TagPostings::Dense { bits, len, flips } => {
                let (byte, bit) = position(handle);
                let flipped = flips.contains(handle);
                match bits.get_mut(byte) {
                    // A member: its bit set and not flipped, or clear and flipped.
                    Some(b) if (*b & bit != 0) != flipped => {
                        if flipped {
                            flips.toggle(handle);
                        } else {
                            *b &= !bit;
                        }
                        *len -= 1;
                        true
                    }
                    _ => false,
                }
            }
        };
        if removed {
            self.reshape();
        }
        removed
    }

    /// Adds `handle`, which the caller knows does not carry the tag (its record's tag list
    /// lacks it). A bitset notes it as a flip, without reading the bitset's line, when `handle`
    /// is within it; other forms [`TagPostings::insert`] it.
    pub(crate) fn insert_new(&mut self, handle: Handle, room: Handle) {
        debug_assert!(!self.contains(handle), "{handle} is a member already");
        if !self.flip(handle, true) {
            self.insert(handle, room);
        }
    }

    /// Removes `handle`, which the caller knows carries the tag (its record's tag list has
    /// it); as [`TagPostings::insert_new`].
    pub(crate) fn remove_member(&mut self, handle: Handle) {
        debug_assert!(self.contains(handle), "{handle} is not a member");
        if !self.flip(handle, false) {
            self.remove(handle);
        }
    }

    /// For a bitset that spans `handle`, whose membership the caller knows is the opposite of
    /// `member`: notes the change as a flip (applying the flips once there are
    /// [`FLIPS_MAX`]), counts it, and returns `true`. Otherwise changes nothing, `false`.
    fn flip(&mut self, handle: Handle, member: bool) -> bool {
        let TagPostings::Dense { bits, len, flips } = self else {
            return false;
        };
        if position(handle).0 >= bits.len() {
            return false;
        }
        flips.toggle(handle);
        if member {
            *len += 1;
        } else {
            *len -= 1;
        }
        if flips.is_full() {
            apply_flips(bits, flips);
        }
        self.reshape();
        true
    }

    /// Whether `handle` carries the tag.
    pub(crate) fn contains(&self, handle: Handle) -> bool {
        match self {
            TagPostings::Small { .. } => self.inline().binary_search(&handle).is_ok(),
            TagPostings::Sparse { set, .. } => set.contains(handle),
            TagPostings::Dense { bits, flips, .. } => has(bits, handle) != flips.contains(handle),
        }
    }

    /// The members in ascending order, gathered into a vector: a bitset's word by word, with no
    /// roaring bitmap built of it.
    pub(crate) fn members(&self) -> Vec<Handle> {
        match self {
            TagPostings::Small { .. } => self.inline().to_vec(),
            TagPostings::Sparse { set, .. } => set.iter().collect(),
            TagPostings::Dense { bits, len, flips } => {
                handles_of_words(flipped_words(words(bits, 0), flips.as_slice(), false), *len)
            }
        }
    }

    /// The handles among `handles` that carry the tag, in the same order.
    pub(crate) fn among(&self, handles: impl Iterator<Item = Handle>) -> Vec<Handle> {
        match self {
            // The form is matched once, not for every handle.
            // No flip pending (a region that has not changed since the last 64): the bits alone.
            TagPostings::Dense { bits, flips, .. } if flips.mask == 0 => {
                handles.filter(|&h| has(bits, h)).collect()
            }
            TagPostings::Dense { bits, flips, .. } => handles
                .filter(|&h| has(bits, h) != flips.contains(h))
                .collect(),
            _ => handles.filter(|&h| self.contains(h)).collect(),
        }
    }

    /// Starts loading what a change of `handle` will touch, so that the cache misses of several
    /// changes overlap instead of queueing; returns a value to fold into `black_box`. Only a
    /// large roaring set is warmed: a small one is cheap to search when cold and mostly in cache
    /// besides, and the search costs instructions; an inline list is one line; a bitset's change
    /// within it is a flip, which reads none of it, and one past its end (a booking) is at its
    /// top, in cache.
    pub(crate) fn warm(&self, handle: Handle) -> bool {
        match self {
            TagPostings::Sparse { set, .. } => set.len() >= WARM_MIN && set.contains(handle),
            TagPostings::Small { .. } | TagPostings::Dense { .. } => false,
        }
    }

    /// Number of handles.
    pub(crate) fn len(&self) -> u64 {
        match self {
            TagPostings::Small { len, .. } => u64::from(*len),
            TagPostings::Sparse { set, .. } => set.len(),
            TagPostings::Dense { len, .. } => *len,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The handles as a roaring bitmap: borrowed when sparse, built from the bitset in O(h / 8)
    /// for handles up to `h` when dense, from the few members when inline.
    pub(crate) fn bitmap(&self) -> Cow<'_, RoaringBitmap> {
        match self {
            TagPostings::Small { .. } => Cow::Owned(
                RoaringBitmap::from_sorted_iter(self.inline().iter().copied())
                    .expect("sorted members"),
            ),
            TagPostings::Sparse { set, .. } => Cow::Borrowed(set.bitmap()),
            TagPostings::Dense { bits, flips, .. } => {
                let mut bitmap = RoaringBitmap::from_lsb0_bytes(0, bits);
                for &h in flips.as_slice() {
                    if !bitmap.remove(h) {
                        bitmap.insert(h);
                    }
                }
                Cow::Owned(bitmap)
            }
        }
    }

    /// The handles of a page in handle order: the `size` that follow the first `start` (from the
    /// top with `desc`). Read off a bitset in O(h / 64) for handles up to `h`, with no roaring
    /// bitmap built.
    pub(crate) fn page(&self, desc: bool, start: u64, size: usize) -> Vec<Handle> {
        match self {
            TagPostings::Small { .. } => slice_page(self.inline(), desc, start, size),
            TagPostings::Sparse { set, .. } => bitmap_page(set.bitmap(), desc, start, size),
            TagPostings::Dense { bits, flips, .. } if desc => {
                // A flip can add a member above the last set bit.
                let flips = flips.as_slice();
                let end = flips
                    .last()
                    .map_or(0, |&h| position(h).0 + 1)
                    .max(members_end(bits));
                let words = words(&bits[..end], 0).rev();
                page_of_words(flipped_words(words, flips, true), true, start, size)
            }
            TagPostings::Dense { bits, flips, .. } => {
                let words = flipped_words(words(bits, 0), flips.as_slice(), false);
                page_of_words(words, false, start, size)
            }
        }
    }

    /// Checks the tracked count and the form against the members.
    pub(crate) fn check(&self) -> Result<(), String> {
        match self {
            TagPostings::Small { len, .. } => {
                if usize::from(*len) > SMALL {
                    return Err(format!("inline tag postings of {len} members"));
                }
                if self.inline().windows(2).any(|w| w[0] >= w[1]) {
                    return Err(format!(
                        "inline tag postings out of order: {:?}",
                        self.inline()
                    ));
                }
                Ok(())
            }
            TagPostings::Sparse { set, bound } => {
                if set.max().is_some_and(|max| max > *bound) {
                    return Err(format!("tag postings bound {bound} below a member"));
                }
                set.check()
            }
            TagPostings::Dense { bits, len, flips } => {
                let mask = flips.mask;
                let flips = flips.as_slice();
                if flips.len() >= FLIPS_MAX
                    || mask != mask_of(flips)
                    || flips.windows(2).any(|w| w[0] >= w[1])
                    || flips.last().is_some_and(|&h| position(h).0 >= bits.len())
                {
                    return Err(format!(
                        "tag bitset flips {flips:?} over {} bytes",
                        bits.len()
                    ));
                }
                let set: u64 = bits.iter().map(|b| u64::from(b.count_ones())).sum();
                let flipped_set = flips.iter().filter(|&&h| has(bits, h)).count() as u64;
                // Flipped handles with their bit set are not members; those with it clear are.
                let counted = set - flipped_set + (flips.len() as u64 - flipped_set);
                if counted != *len {
                    return Err(format!("tag bitset counts {len} members, holds {counted}"));
                }
                let span = span(bits);
                if *len * SPARSE_AT < span || *len * SPARSE_ABOVE > span {
                    return Err(format!("tag bitset of {len} members over {span} handles"));
                }
                Ok(())
            }
        }
    }

    /// Changes the form when the density has left its band, as far as O(1) tells: for a
    /// roaring bitmap, by its bound; the members decide in the end.
    fn reshape(&mut self) {
        match self {
            TagPostings::Small { .. } => {}
            TagPostings::Sparse { set, bound } => {
                let len = set.len();
                let span = u64::from(*bound) + 1;
                if len < DENSE_MIN || len * DENSE_AT < span || len * DENSE_UP_TO > span {
                    return;
                }
                let mut bits = vec![0u8; position(*bound).0 + 1];
                let mut top = 0;
                for h in set.iter() {
                    let (byte, bit) = position(h);
                    bits[byte] |= bit;
                    top = byte;
                }
                bits.truncate(top + 1);
                if len * SPARSE_ABOVE > self::span(&bits) {
                    // Denser than the bound said: it stays, and its bound is now exact.
                    *bound = set.max().unwrap_or(0);
                    return;
                }
                *self = TagPostings::Dense {
                    bits,
                    len,
                    flips: Box::default(),
                };
            }
            TagPostings::Dense { bits, len, flips } => {
                let span = span(bits);
                if *len * SPARSE_AT >= span && *len * SPARSE_ABOVE <= span {
                    return;
                }
                apply_flips(bits, flips);
                let set = HandleSet::from_bitmap(RoaringBitmap::from_lsb0_bytes(0, bits));
                let bound = set.max().unwrap_or(0);
                *self = TagPostings::Sparse { set, bound };
            }
        }
    }
}

/// The handles of a page of `bitmap` in handle order: the `size` that follow the first `start`
/// (from the top with `desc`). A `select` and a walk from it: O(containers + size).
pub(crate) fn bitmap_page(
    bitmap: &RoaringBitmap,
    desc: bool,
    start: u64,
    size: usize,
) -> Vec<Handle> {
    let total = bitmap.len();
    if start >= total {
        return Vec::new();
    }
    let rank = u32::try_from(if desc { total - 1 - start } else { start }).unwrap_or(u32::MAX);
    let Some(first) = bitmap.select(rank) else {
        return Vec::new();
    };
    if desc {
        bitmap.range(..=first).rev().take(size).collect()
    } else {
        bitmap.range(first..).take(size).collect()
    }
}

/// The handles of a page of sorted `handles`: the `size` that follow the first `start` (from the
/// top with `desc`).
pub(crate) fn slice_page(handles: &[Handle], desc: bool, start: u64, size: usize) -> Vec<Handle> {
    let skip = usize::try_from(start).unwrap_or(usize::MAX);
    let members = handles.iter().copied();
    if desc {
        members.rev().skip(skip).take(size).collect()
    } else {
        members.skip(skip).take(size).collect()
    }
}

/// The 64-bit words of a bitset of handles (bit `h % 8` of byte `h / 8` for handle `h`) from
/// word `first` on, each with its number: word `i` holds handles `64 * i` to `64 * i + 63`.
/// Starting at `first` costs nothing: the words before it are not read.
pub(crate) fn words(
    bits: &[u8],
    first: usize,
) -> impl DoubleEndedIterator<Item = (usize, u64)> + ExactSizeIterator + '_ {
    let from = first.saturating_mul(8).min(bits.len());
    bits[from..].chunks(8).enumerate().map(move |(i, chunk)| {
        // A whole word is one load; only the last may be short (a copy of its length, a call).
        let word = <[u8; 8]>::try_from(chunk).unwrap_or_else(|_| {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            word
        });
        (first + i, u64::from_le_bytes(word))
    })
}

/// The set bits of `words` (numbered 64-bit words, in order), `count` of them, as handles in
/// order, in one tight loop. Ordering a 1% tag's matches by update time in a region of 1M IPs
/// took 15-30 % less through these than through a roaring bitmap built of the bits; iterating
/// the bits lazily took 20 % more.
fn handles_of_words(words: impl Iterator<Item = (usize, u64)>, count: u64) -> Vec<Handle> {
    let mut handles = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
    push_handles_of_words(words, &mut handles);
    handles
}

/// Appends the set bits of `words` (numbered 64-bit words, in order) to `handles`, as
/// [`handles_of_words`] gives them.
pub(crate) fn push_handles_of_words(
    words: impl Iterator<Item = (usize, u64)>,
    handles: &mut Vec<Handle>,
) {
    for (i, mut word) in words {
        let base = Handle::try_from(i * 64).unwrap_or(Handle::MAX);
        while word != 0 {
            handles.push(base + word.trailing_zeros());
            word &= word - 1;
        }
    }
}

/// The `size` set bits that follow the first `start` of `words` (numbered 64-bit words, in the
/// order to read them; `desc` reads each word from its top bit), as handles.
pub(crate) fn page_of_words(
    words: impl Iterator<Item = (usize, u64)>,
    desc: bool,
    start: u64,
    size: usize,
) -> Vec<Handle> {
    let mut page = Vec::with_capacity(size.min(1024));
    let mut skip = start;
    for (i, word) in words {
        if page.len() >= size {
            break;
        }
        let count = u64::from(word.count_ones());
        if skip >= count {
            skip -= count;
            continue;
        }
        let base = Handle::try_from(i * 64).unwrap_or(Handle::MAX);
        let mut ones = [0; 64];
        let mut n = 0;
        let mut w = word;
        while w != 0 {
            ones[n] = base + w.trailing_zeros();
            n += 1;
            w &= w - 1;
        }
        let ones = &ones[..n];
        let skipped = usize::try_from(std::mem::take(&mut skip)).unwrap_or(usize::MAX);
        let want = size - page.len();
        if desc {
            page.extend(ones.iter().rev().skip(skipped).take(want));
        } else {
            page.extend(ones.iter().skip(skipped).take(want));
        }
    }
    page
}

/// The length of `bits` up to its last set bit's byte: a descending page starts there.
///
/// A bitset keeps the bytes above its last member: IPs booked at the top of the store and
/// released again leave zeros there, which the next bookings at the top fill in again.
/// Dropping them at each release made every such booking write them back, and rounds of
/// bookings at the top spread over the networks went from 0.4 to 3.7 µs; read word by word,
/// they made a descending page of a 1% tag take 85 µs rather than 4 µs. Skipped here 64
/// bytes at a time (the compiler tests each 64 bytes in a few vector instructions).
fn members_end(bits: &[u8]) -> usize {
    let mut end = bits.len();
    for chunk in bits.rchunks(64) {
        if chunk.iter().fold(0, |acc, &b| acc | b) != 0 {
            break;
        }
        end -= chunk.len();
    }
    bits[..end]
        .iter()
        .rposition(|&b| b != 0)
        .map_or(0, |i| i + 1)
}

/// The byte of handle `h` in a bitset, and its bit in that byte.
pub(crate) fn position(h: Handle) -> (usize, u8) {
    (h as usize / 8, 1 << (h % 8))
}

/// Whether bit `h` of a bitset is set (none past its end).
#[inline]
pub(crate) fn has(bits: &[u8], h: Handle) -> bool {
    let (byte, bit) = position(h);
    bits.get(byte).is_some_and(|b| b & bit != 0)
}

/// Applies `flips` to `bits` (each handle's bit turned over) and empties them. The flips are
/// independent, so their cache misses overlap.
fn apply_flips(bits: &mut [u8], flips: &mut Flips) {
    for &h in flips.as_slice() {
        let (byte, bit) = position(h);
        bits[byte] ^= bit;
    }
    flips.clear();
}

/// `words` (numbered, ascending, or descending with `desc`) with the bits of `flips` (sorted)
/// turned over.
fn flipped_words<'a>(
    words: impl Iterator<Item = (usize, u64)> + 'a,
    flips: &'a [Handle],
    desc: bool,
) -> impl Iterator<Item = (usize, u64)> + 'a {
    // The flips not yet passed: from the front ascending, from the back descending.
    let mut rest = flips;
    words.map(move |(i, mut word)| {
        if desc {
            while let Some((&h, before)) = rest.split_last() {
                if (h as usize) / 64 < i {
                    break;
                }
                if (h as usize) / 64 == i {
                    word ^= 1 << (h % 64);
                }
                rest = before;
            }
        } else {
            while let Some((&h, after)) = rest.split_first() {
                if (h as usize) / 64 > i {
                    break;
                }
                if (h as usize) / 64 == i {
                    word ^= 1 << (h % 64);
                }
                rest = after;
            }
        }
        (i, word)
    })
}

/// The handles a bitset spans.
fn span(bits: &[u8]) -> u64 {
    bits.len() as u64 * 8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(p: &TagPostings) -> Vec<Handle> {
        p.bitmap().iter().collect()
    }

    /// Adds `h` to both sets, or removes it from both; they must answer alike.
    fn change(
        p: &mut TagPostings,
        plain: &mut RoaringBitmap,
        add: bool,
        h: Handle,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        if add {
            proptest::prop_assert_eq!(p.insert(h, 0), plain.insert(h));
        } else {
            proptest::prop_assert_eq!(p.remove(h), plain.remove(h));
        }
        Ok(())
    }

    /// The postings hold the plain set's members, count them, and pass their own check.
    fn holds(
        p: &TagPostings,
        plain: &RoaringBitmap,
    ) -> Result<(), proptest::test_runner::TestCaseError> {
        proptest::prop_assert!(p.bitmap().iter().eq(plain.iter()));
        proptest::prop_assert_eq!(p.len(), plain.len());
        proptest::prop_assert!(p.check().is_ok(), "{:?}", p.check());
        Ok(())
    }

    #[test]
    fn warming_reads_only_large_roaring_sets_and_changes_nothing() {
        // Small roaring set: not searched.
        let mut small = TagPostings::default();
        assert!(small.insert(7, 0));
        assert!(!small.warm(7));
        // Large roaring set (every other handle, too dense for a bitset): searched.
        let mut large = TagPostings::default();
        for h in (0..2 * WARM_MIN as u32).step_by(2) {
            large.insert(h, 0);
        }
        assert!(matches!(large, TagPostings::Sparse { .. }));
        assert!(large.warm(2) && !large.warm(3) && !large.warm(u32::MAX));
        // Bitset: nothing to read, inside or past its end (a change within it is a flip).
        let mut dense = TagPostings::default();
        for h in (0..64 * DENSE_MIN as u32).step_by(64) {
            dense.insert(h, 0);
        }
        assert!(matches!(dense, TagPostings::Dense { .. }));
        assert!(!dense.warm(64) && !dense.warm(u32::MAX));
        for p in [&small, &large, &dense] {
            let before = members(p);
            p.warm(64);
            assert_eq!(members(p), before);
            assert!(p.check().is_ok());
        }
    }

    #[test]
    fn postings_turn_dense_and_back_with_the_density() {
        let mut p = TagPostings::default();
        // One handle in 64: dense once there are enough of them.
        for h in (0..64 * DENSE_MIN as u32).step_by(64) {
            assert!(p.insert(h, 0));
            assert!(!p.insert(h, 0));
        }
        assert!(matches!(p, TagPostings::Dense { .. }));
        assert_eq!(p.len(), DENSE_MIN);
        assert!(p.contains(64) && !p.contains(65) && !p.contains(u32::MAX));
        assert!(p.check().is_ok());
        // Far above: the bitset grows.
        assert!(p.insert(64 * DENSE_MIN as u32 + 1000, 0));
        assert!(p.contains(64 * DENSE_MIN as u32 + 1000));
        assert!(!p.remove(65) && !p.remove(u32::MAX));
        // Removing most members makes it sparse again, with the same members.
        let mut expected: Vec<Handle> = members(&p);
        for h in (0..64 * DENSE_MIN as u32).step_by(64).skip(100) {
            assert!(p.remove(h));
            expected.retain(|&e| e != h);
        }
        assert!(matches!(p, TagPostings::Sparse { .. }));
        assert_eq!(members(&p), expected);
        assert!(p.check().is_ok());
    }

    #[test]
    fn a_descending_page_starts_at_the_last_member() {
        // One handle in 64, then members far above it that leave again: IPs booked at the top
        // of the store and released, whose zero bytes the bitset keeps.
        let mut p = TagPostings::from_sorted((0..64 * DENSE_MIN as u32).step_by(64));
        assert!(matches!(p, TagPostings::Dense { .. }));
        let last = 64 * (DENSE_MIN as u32 - 1);
        let top = 64 * DENSE_MIN as u32 + 4000;
        for h in [top, top + 1, top + 64] {
            assert!(p.insert(h, 0));
        }
        assert_eq!(p.page(true, 0, 2), [top + 64, top + 1]);
        for h in [top + 64, top, top + 1] {
            assert!(p.remove(h));
            assert!(p.check().is_ok(), "{:?}", p.check());
        }
        assert_eq!(p.page(true, 0, 2), [last, last - 64]);
        assert_eq!(p.page(true, 1, 1), [last - 64]);
        assert_eq!(p.page(true, DENSE_MIN - 1, 5), [0]);
        // The end of the members, past zero runs of any length.
        for (bits, end) in [
            (vec![], 0),
            (vec![0; 200], 0),
            (vec![1, 0, 0], 1),
            ([vec![0; 130], vec![4], vec![0; 300]].concat(), 131),
            ([vec![0; 64], vec![9; 64]].concat(), 128),
        ] {
            assert_eq!(members_end(&bits), end);
        }
    }

    #[test]
    fn dense_tags_stay_roaring() {
        // One handle in two: roaring holds such windows as bitsets itself.
        let span = 64 * DENSE_MIN as u32;
        let mut p = TagPostings::from_sorted((0..span).step_by(2));
        assert!(matches!(p, TagPostings::Sparse { .. }));
        // Thinned out to one in thirty-two, it turns into one bitset at the next insert...
        for h in (0..span).step_by(2).filter(|h| h % 32 != 0) {
            p.remove(h);
        }
        assert!(matches!(p, TagPostings::Sparse { .. }));
        assert!(p.insert(1, 0));
        assert!(matches!(p, TagPostings::Dense { .. }), "{}", p.len());
        // ...and back when it fills up again.
        for h in (0..span).step_by(2) {
            p.insert(h, 0);
        }
        assert!(matches!(p, TagPostings::Sparse { .. }));
        assert_eq!(p.len(), u64::from(span / 2) + 1);
        assert!(p.check().is_ok());
    }

    #[test]
    fn a_bound_above_the_members_is_made_exact_rather_than_turn_dense() {
        // In the band by the bound, which the top member left: the members say otherwise.
        let few = DENSE_MIN as u32 - 24;
        let mut p = TagPostings::from_sorted((0..few).map(|h| h * 2));
        let top = 64 * DENSE_MIN as u32;
        assert!(p.insert(top, 0) && p.remove(top));
        for h in few..few + 100 {
            assert!(p.insert(h * 2, 0));
        }
        assert!(
            matches!(p, TagPostings::Sparse { bound, .. } if bound < top),
            "{p:?}"
        );
        assert!(p.check().is_ok());
    }

    #[test]
    fn a_bitset_pages_from_either_end() {
        let members: Vec<Handle> = (0..4000).map(|k| k * 32 + k % 5).collect();
        let p = TagPostings::from_sorted(members.iter().copied());
        assert!(matches!(p, TagPostings::Dense { .. }));
        assert_eq!(p.page(false, 0, 3), members[..3]);
        assert_eq!(p.page(true, 0, 2), [members[3999], members[3998]]);
        assert_eq!(p.page(false, 3998, 10), members[3998..]);
        assert_eq!(p.page(true, 3999, 10), [members[0]]);
        assert!(p.page(false, 4000, 10).is_empty() && p.page(true, 9999, 1).is_empty());
    }

    /// Flips wait beside the bitset until there are [`FLIPS_MAX`], then go into it at once; a
    /// change undone while pending leaves the flips (and their mask) as if never made.
    #[test]
    fn flips_wait_until_full_then_go_into_the_bitset() {
        let members: Vec<Handle> = (0..4000).map(|k| k * 32).collect();
        let mut p = TagPostings::from_sorted(members.iter().copied());
        let pending = |p: &TagPostings| match p {
            TagPostings::Dense { flips, .. } => flips.as_slice().to_vec(),
            _ => panic!("not a bitset"),
        };
        // Handles 64 apart share their bit of the mask: removing one keeps the other's.
        p.insert_new(1, 0);
        p.insert_new(65, 0);
        p.remove(65);
        assert_eq!(pending(&p), [1]);
        assert!(p.check().is_ok(), "{:?}", p.check());
        assert!(p.contains(1) && !p.contains(65));
        p.remove(1);
        assert!(pending(&p).is_empty());
        assert!(p.check().is_ok(), "{:?}", p.check());
        let added: Vec<Handle> = (0..FLIPS_MAX as u32).map(|k| k * 32 + 1).collect();
        for &h in &added[..FLIPS_MAX - 1] {
            p.insert_new(h, 0);
        }
        assert_eq!(pending(&p), added[..FLIPS_MAX - 1]);
        p.insert_new(added[FLIPS_MAX - 1], 0);
        assert!(pending(&p).is_empty());
        let mut all = members.clone();
        all.extend(&added);
        all.sort_unstable();
        assert_eq!(p.members(), all);
        assert!(p.check().is_ok(), "{:?}", p.check());
    }

    #[test]
    fn a_wrong_count_is_caught() {
        let p = TagPostings::from_sorted((0..2 * DENSE_MIN as u32).map(|h| h * 32));
        assert!(matches!(p, TagPostings::Dense { .. }));
        let TagPostings::Dense { bits, len, .. } = p else {
            unreachable!()
        };
        assert!(TagPostings::Dense {
            bits: bits.clone(),
            len: len + 1,
            flips: Box::default(),
        }
        .check()
        .is_err());
        let sparse = TagPostings::Dense {
            bits: vec![0; bits.len() * 1000],
            len: 0,
            flips: Box::default(),
        };
        assert!(sparse.check().is_err());
        // A roaring form whose bound is below a member (its form would be decided wrongly).
        let low_bound = TagPostings::Sparse {
            set: HandleSet::from_sorted([5, 100]),
            bound: 10,
        };
        let err = low_bound.check().unwrap_err();
        assert!(err.contains("bound 10 below a member"), "{err}");
        let mut fine = TagPostings::default();
        assert!(fine.insert(100, 0) && fine.check().is_ok());
    }

    /// The inline form takes no more room than the roaring one: the postings are the 48 bytes
    /// they were with two forms. A test rather than a build failure, should another compiler
    /// lay the enum out otherwise.
    #[cfg(target_pointer_width = "64")]
    #[test]
    fn the_inline_form_fits_the_room_the_roaring_form_takes() {
        assert_eq!(std::mem::size_of::<TagPostings>(), 48);
    }

    /// `among` keeps, in order, exactly the handles that carry the tag, and `members` reads
    /// them all, in every form.
    #[test]
    fn among_and_members_read_the_members_of_every_form() {
        let forms = [
            (0..40).step_by(7).collect::<Vec<Handle>>(),
            (0..200_000).step_by(3).collect(),
            (0..64 * DENSE_MIN as u32).step_by(64).collect(),
            // Several bits a word, the word's last among them.
            (0..128 * DENSE_MIN as u32)
                .filter(|h| [1, 17, 63].contains(&(h % 64)))
                .collect(),
        ];
        for (members, form) in forms.iter().zip(["inline", "roaring", "bitset", "bitset"]) {
            let p = TagPostings::from_sorted(members.iter().copied());
            let kind = match p {
                TagPostings::Small { .. } => "inline",
                TagPostings::Sparse { .. } => "roaring",
                TagPostings::Dense { .. } => "bitset",
            };
            assert_eq!(kind, form);
            // Ascending and not, some past the last member.
            let probe: Vec<Handle> = (0..300_000).step_by(5).chain([64, 0, 7]).collect();
            let kept = p.among(probe.iter().copied());
            let want: Vec<Handle> = probe
                .iter()
                .copied()
                .filter(|h| members.binary_search(h).is_ok())
                .collect();
            assert!(!want.is_empty(), "{form}");
            assert_eq!(kept, want, "{form}");
            assert_eq!(&p.members(), members, "{form}");
        }
    }

    #[test]
    fn a_few_members_stay_inline_and_come_back_inline() {
        let mut p = TagPostings::default();
        // Inserted out of order, kept sorted.
        for h in (0..SMALL as u32).rev().map(|k| k * 3) {
            assert!(p.insert(h, 0));
            assert!(!p.insert(h, 0));
        }
        assert!(matches!(p, TagPostings::Small { .. }) && p.check().is_ok());
        assert_eq!(p.len(), SMALL as u64);
        assert!(p.contains(3) && !p.contains(4));
        assert_eq!(p.page(false, 1, 2), [3, 6]);
        assert_eq!(p.page(true, 0, 2), [30, 27]);
        // One more: roaring, with every member.
        assert!(p.insert(1, 0));
        assert!(matches!(p, TagPostings::Sparse { bound: 30, .. }), "{p:?}");
        assert_eq!(p.len(), SMALL as u64 + 1);
        assert!(p.check().is_ok());
        // Removed down to SMALL_AGAIN: inline again, with the members left.
        let mut left = members(&p);
        while p.len() > SMALL_AGAIN {
            let h = left.remove(0);
            assert!(p.remove(h) && !p.remove(h));
        }
        assert!(matches!(p, TagPostings::Small { .. }), "{p:?}");
        assert_eq!(members(&p), left);
        assert!(p.check().is_ok());
        // Built from few sorted handles: inline.
        assert!(matches!(
            TagPostings::from_sorted([4, 9]),
            TagPostings::Small { len: 2, .. }
        ));
        // Built from exactly SMALL handles: inline; from one more: roaring.
        let handles = (0..=SMALL as u32).map(|k| k * 5);
        assert!(matches!(
            TagPostings::from_sorted(handles.clone().take(SMALL)),
            TagPostings::Small { .. }
        ));
        let more = TagPostings::from_sorted(handles.clone());
        assert!(matches!(more, TagPostings::Sparse { .. }));
        assert!(members(&more).into_iter().eq(handles));
        // Members out of order or too many are caught.
        let mut handles = [0; SMALL];
        handles[..3].copy_from_slice(&[1, 5, 5]);
        assert!(TagPostings::Small { len: 3, handles }.check().is_err());
        assert!(TagPostings::Small {
            len: SMALL as u8 + 1,
            handles
        }
        .check()
        .is_err());
    }

    /// A compaction's renumbering keeps each form's members, renumbered, in order.
    #[test]
    fn remapped_postings_hold_the_renumbered_members() {
        // Every third handle dead; no tag holds a dead handle.
        let map = crate::store::every_third_dead(200_000);
        let inline: Vec<Handle> = vec![3, 10, 12, 40];
        let sparse: Vec<Handle> = (0..600).map(|k| k * 300 + 1).collect();
        let dense: Vec<Handle> = (0..3000).map(|k| k * 33).collect();
        // Too dense for a bitset of its own: roaring, renumbered through a plain bitset.
        let packed: Vec<Handle> = (0..15_000).filter(|h| h % 3 != 2).collect();
        for (members_before, form) in [
            (inline, "Small"),
            (sparse, "Sparse"),
            (dense, "Dense"),
            (packed, "Sparse"),
        ] {
            let p = TagPostings::from_sorted(members_before.iter().copied());
            assert!(format!("{p:?}").starts_with(form), "{form}");
            let mut r = p.clone();
            r.remap(&crate::store::Renumbering::of_map(&map));
            let want: Vec<Handle> = members_before.iter().map(|&h| map[h as usize]).collect();
            assert_eq!(members(&r), want);
            assert!(r.check().is_ok(), "{:?}", r.check());
            assert_eq!(std::mem::discriminant(&r), std::mem::discriminant(&p));
        }
    }

    /// A bitset renumbered word by word holds what the map makes of each member, whatever the
    /// dead handles around them: words all live or all dead, one dead or live handle in a word,
    /// words split at random; members at the edges of words.
    #[test]
    fn dense_postings_renumber_word_by_word_as_the_map_does() {
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20 {
            let (mut map, mut held, mut new) = (Vec::new(), Vec::new(), 0);
            for word in 0..1000u32 {
                let live = match (next() % 5, round % 4) {
                    (0, _) | (_, 0) => u64::MAX,
                    (1, _) => 0,
                    (2, _) => !(1 << (next() % 64)),
                    (3, _) => 1 << (next() % 64),
                    _ => next(),
                };
                // About one live handle in 32, and the word's edges one time in four.
                let edges = (next() & (1 << 63)) | (next() & 1);
                let chosen = (next() & next() & next() & next() & next()) | (edges & next());
                for bit in 0..64 {
                    let h = word * 64 + bit;
                    if live & (1 << bit) == 0 {
                        map.push(Handle::MAX);
                        continue;
                    }
                    map.push(new);
                    new += 1;
                    if chosen & (1 << bit) != 0 {
                        held.push(h);
                    }
                }
            }
            let p = TagPostings::from_sorted(held.iter().copied());
            assert!(format!("{p:?}").starts_with("Dense"), "round {round}");
            let mut r = p.clone();
            r.remap(&crate::store::Renumbering::of_map(&map));
            let want: Vec<Handle> = held.iter().map(|&h| map[h as usize]).collect();
            assert_eq!(members(&r), want, "round {round}");
            assert!(r.check().is_ok(), "{:?}", r.check());
        }
    }

    proptest::proptest! {
        /// However few, the postings hold what a plain bitmap holds, through every change of
        /// form between inline and roaring.
        #[test]
        fn few_postings_are_a_set_of_handles(
            steps in proptest::collection::vec((proptest::bool::ANY, 0u32..40), 1..200),
        ) {
            let mut p = TagPostings::default();
            let mut plain = RoaringBitmap::new();
            for (add, h) in steps {
                change(&mut p, &mut plain, add, h)?;
                holds(&p, &plain)?;
                proptest::prop_assert_eq!(p.contains(h), plain.contains(h));
                proptest::prop_assert_eq!(p.is_empty(), plain.is_empty());
                let all: Vec<Handle> = plain.iter().collect();
                proptest::prop_assert_eq!(p.page(false, 2, 3), all.iter().copied().skip(2).take(3).collect::<Vec<_>>());
                proptest::prop_assert_eq!(p.page(true, 1, 4), all.iter().rev().copied().skip(1).take(4).collect::<Vec<_>>());
                proptest::prop_assert!(!p.warm(h) || p.len() >= WARM_MIN);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(32))]

        /// A page read off either form is the page of the sorted members.
        #[test]
        fn pages_are_the_members_in_order(
            stride in 1u32..200,
            count in 1u32..6000,
            start in 0u64..7000,
            size in 0usize..300,
        ) {
            let members: Vec<Handle> = (0..count).map(|k| k * stride + (k % 7) % stride).collect();
            let p = TagPostings::from_sorted(members.iter().copied());
            let skip = usize::try_from(start).unwrap();
            let asc: Vec<Handle> = members.iter().copied().skip(skip).take(size).collect();
            let desc: Vec<Handle> = members.iter().rev().copied().skip(skip).take(size).collect();
            proptest::prop_assert_eq!(p.page(false, start, size), asc);
            proptest::prop_assert_eq!(p.page(true, start, size), desc);
        }

        /// A bitset holds what a plain bitmap holds through changes whose membership the
        /// caller knows (flips, applied when there are enough), mixed with changes that read
        /// the bits: every reader sees the members, the flips pending or not.
        #[test]
        fn a_bitset_with_flips_is_a_set_of_handles(
            stride in 20u32..64,
            steps in proptest::collection::vec((0u8..4, 0u32..70_000), 1..400),
            page in (0u64..3000, 0usize..50),
        ) {
            let start: Vec<Handle> = (0..65_536 / stride).map(|k| k * stride).collect();
            let mut p = TagPostings::from_sorted(start.iter().copied());
            let mut plain: RoaringBitmap = start.iter().copied().collect();
            let dense = matches!(p, TagPostings::Dense { .. });
            proptest::prop_assert!(dense);
            for (kind, h) in steps {
                match kind {
                    0 => proptest::prop_assert_eq!(p.insert(h, 0), plain.insert(h)),
                    1 => proptest::prop_assert_eq!(p.remove(h), plain.remove(h)),
                    _ if plain.contains(h) => {
                        p.remove_member(h);
                        plain.remove(h);
                    }
                    _ => {
                        p.insert_new(h, 0);
                        plain.insert(h);
                    }
                }
                holds(&p, &plain)?;
                proptest::prop_assert_eq!(p.contains(h), plain.contains(h));
                proptest::prop_assert_eq!(p.contains(h + 1), plain.contains(h + 1));
            }
            let all: Vec<Handle> = plain.iter().collect();
            proptest::prop_assert_eq!(&p.members(), &all);
            let (skip, size) = (usize::try_from(page.0).unwrap(), page.1);
            let asc: Vec<Handle> = all.iter().copied().skip(skip).take(size).collect();
            let desc: Vec<Handle> = all.iter().rev().copied().skip(skip).take(size).collect();
            proptest::prop_assert_eq!(p.page(false, page.0, size), asc);
            proptest::prop_assert_eq!(p.page(true, page.0, size), desc);
            // Every handle (so every flip pending), ascending, descending, and in two ascending
            // runs, the second from below the first.
            let every: Vec<Handle> = (0..70_000).collect();
            let orders = [
                every.clone(),
                every.iter().rev().copied().collect(),
                (35_000..70_000).chain(0..35_000).collect(),
            ];
            for order in orders {
                let among: Vec<Handle> =
                    order.iter().copied().filter(|&h| plain.contains(h)).collect();
                proptest::prop_assert_eq!(p.among(order.into_iter()), among);
            }
            // Renumbered with no handle dead: the same members, the flips applied.
            let identity: Vec<Handle> = (0..80_000).collect();
            let mut r = p.clone();
            r.remap(&crate::store::Renumbering::of_map(&identity));
            proptest::prop_assert!(r.bitmap().iter().eq(plain.iter()));
            proptest::prop_assert!(r.check().is_ok(), "{:?}", r.check());
        }

        /// Whatever its form, the postings hold what a plain bitmap holds.
        #[test]
        fn postings_are_a_set_of_handles(
            steps in proptest::collection::vec((proptest::bool::ANY, 0u32..40_000, 1u32..64), 1..40),
        ) {
            let mut p = TagPostings::default();
            let mut plain = RoaringBitmap::new();
            for (add, start, stride) in steps {
                for h in (start..start + 8192).step_by(stride as usize) {
                    change(&mut p, &mut plain, add, h)?;
                }
                holds(&p, &plain)?;
                proptest::prop_assert_eq!(p.contains(start), plain.contains(start));
            }
            let rebuilt = TagPostings::from_sorted(plain.iter());
            proptest::prop_assert!(rebuilt.bitmap().iter().eq(plain.iter()));
        }
    }
}
