//! The records of booked IPs, in a slab addressed by dense `u32` handles, found by id through
//! the handle each id carries (or, for the few ids that carry none that holds, an id map).
//!
//! Handles are handed out in booking order and never reused, so handle order is creation order
//! and every index can be a roaring bitmap of handles. Released slots are reclaimed by
//! [`Store::compact`], which renumbers the live handles in order; the engine calls it when dead
//! slots outnumber live ones, so its cost is amortized over the releases that caused it.

use std::borrow::Cow;
use std::num::NonZeroU64;

use roaring::RoaringBitmap;

use crate::flat::{prefetch, FlatMap};
use crate::hash::{FastMap, KeyedState};
use crate::live::LiveSet;
use crate::model::enums::ResourceType;
use crate::model::ids::{IpId, ResourceId};
use crate::model::ip::{CustomResource, Reverse};
use crate::model::mac::MacAddress;
use crate::model::request::ServiceResource;
use crate::postings::{position, push_handles_of_words, words};
use crate::recency::RecencyLog;
use crate::slab::Slab;

/// A dense handle of a live record.
pub(crate) type Handle = u32;

/// What an IP is attached to, owned: to give a record a new attachment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attachment {
    pub(crate) resource_type: ResourceType,
    pub(crate) id: ResourceId,
    pub(crate) mac: Option<MacAddress>,
    pub(crate) name: Option<Box<str>>,
    /// When this attachment was made, in microseconds since the epoch.
    pub(crate) attached_at: i64,
}

impl Attachment {
    /// An attachment of IP `id` to a custom resource: its id is the IP's own.
    pub(crate) fn custom(id: IpId, resource: CustomResource, now: i64) -> Self {
        Self {
            resource_type: ResourceType::Custom,
            id: ResourceId::from(id),
            mac: Some(resource.mac_address),
            name: resource.name.map(String::into_boxed_str),
            attached_at: now,
        }
    }

    /// An attachment to a product resource given by the embedding service.
    pub(crate) fn service(resource: ServiceResource, attached_at: i64) -> Self {
        Self {
            resource_type: resource.resource_type,
            id: resource.id,
            mac: resource.mac_address,
            name: resource.name.map(String::into_boxed_str),
            attached_at,
        }
    }

    pub(crate) fn as_ref(&self) -> AttachmentRef<'_> {
        AttachmentRef {
            resource_type: self.resource_type,
            id: self.id,
            mac: self.mac,
            name: self.name.as_deref(),
            attached_at: self.attached_at,
        }
    }
}

/// What an IP is attached to, as read from its record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AttachmentRef<'a> {
    pub(crate) resource_type: ResourceType,
    pub(crate) id: ResourceId,
    pub(crate) mac: Option<MacAddress>,
    pub(crate) name: Option<&'a str>,
    /// When this attachment was made, in microseconds since the epoch.
    pub(crate) attached_at: i64,
}

/// The parts of a record most IPs lack, boxed so that a record stays at 72 bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Cold {
    /// The attached resource's id when it is not the IP's own (product resources).
    resource_id: Option<ResourceId>,
    /// The attached resource's name.
    name: Option<Box<str>>,
    reverses: Box<[Reverse]>,
}

/// One booked IP: 72 bytes, plus a box for a product resource, a resource name or reverses.
/// A custom resource (type, MAC, time) is held inline: its id is the IP's own.
///
/// The fields stay in the order written (`repr(C)`), the id first: the compiler's own order
/// put the packed attachment first and the id after it, and a borrowed get by id in a region
/// of 1M IPs read 40-59 ns against 33-34 ns in this order (harness, alternating builds, when
/// it walked the IPs with a constant stride).
#[derive(Clone, Debug)]
#[repr(C)]
pub(crate) struct Record {
    pub(crate) id: IpId,
    /// Offset of the address in the subnet's pool.
    pub(crate) offset: u64,
    /// Microseconds since the epoch.
    pub(crate) created: i64,
    /// Microseconds since the epoch.
    pub(crate) updated: i64,
    /// When the attachment was made (meaningless without one).
    attached_at: i64,
    cold: Option<Box<Cold>>,
    /// Slot of the subnet in the region's registry.
    pub(crate) subnet: u32,
    /// The interned tag set ([`crate::index::Index::tag_ids`]), `0` for none.
    pub(crate) tags: u32,
    /// The attached resource's type and MAC address.
    inline: InlineAttachment,
}

/// A record's resource type and MAC address, both optional, packed in one word: bits 0-48
/// hold the MAC address's own word ([`MacAddress::word`]; 0: none), bits 56-63 the type's
/// index plus one (0: none). Bit 55 is always set: the word is never zero, which leaves
/// `Option<Record>` the niche that keeps it 72 bytes (an `Option<ResourceType>` had one to
/// spare).
///
/// As two `Option` fields, a new record's were written in three narrow stores (a tag byte, the
/// MAC in four and two bytes) which its copy into the slab then read back as one 8-byte load.
/// A load that no single store covers waits for them to reach the cache (store-to-load
/// forwarding fails): that load held 16 % of the samples in `book_ip_ref`'s own code. As one
/// word, written in one store, `book_ip_ref` in an empty /16 took 61.6 instead of 63.2 ns
/// (probe, medians of four alternating runs). The MAC address is its own word, so that
/// reading it back is one mask (`fill_common`, in `engine/view.rs`, says why that counts).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct InlineAttachment(NonZeroU64);

impl InlineAttachment {
    /// The bit set in every word.
    const SET: u64 = 1 << 55;

    /// Where the type's index plus one starts.
    const TYPE_SHIFT: u32 = 56;

    /// No resource, no MAC.
    const NONE: Self = Self::of(0);

    /// The word of `bits`, with [`InlineAttachment::SET`].
    const fn of(bits: u64) -> Self {
        match NonZeroU64::new(bits | Self::SET) {
            Some(word) => Self(word),
            None => unreachable!(),
        }
    }

    /// Attached to a resource of `resource_type`, with `mac` if any.
    fn attached(resource_type: ResourceType, mac: Option<MacAddress>) -> Self {
        let t = (resource_type.index() as u64 + 1) << Self::TYPE_SHIFT;
        Self::of(t | mac.map_or(0, MacAddress::word))
    }

    /// Whether a resource is attached.
    fn is_attached(self) -> bool {
        self.0.get() >> Self::TYPE_SHIFT != 0
    }

    fn resource_type(self) -> Option<ResourceType> {
        let t = (self.0.get() >> Self::TYPE_SHIFT) as usize;
        ResourceType::from_index(t.wrapping_sub(1))
    }

    #[inline]
    fn mac(self) -> Option<MacAddress> {
        MacAddress::from_word(self.0.get() & MacAddress::WORD_BITS)
    }
}

impl Record {
    /// A record without attachment nor reverses.
    pub(crate) fn new(id: IpId, subnet: u32, offset: u64, now: i64, tags: u32) -> Self {
        Self {
            id,
            offset,
            created: now,
            updated: now,
            attached_at: 0,
            subnet,
            tags,
            inline: InlineAttachment::NONE,
            cold: None,
        }
    }

    /// Whether the IP is attached to a resource.
    pub(crate) fn is_attached(&self) -> bool {
        self.inline.is_attached()
    }

    /// What the IP is attached to.
    pub(crate) fn attachment(&self) -> Option<AttachmentRef<'_>> {
        let resource_type = self.inline.resource_type()?;
        let cold = self.cold.as_deref();
        Some(AttachmentRef {
            resource_type,
            id: cold
                .and_then(|c| c.resource_id)
                .unwrap_or_else(|| ResourceId::from(self.id)),
            mac: self.inline.mac(),
            name: cold.and_then(|c| c.name.as_deref()),
            attached_at: self.attached_at,
        })
    }

    /// The attached resource's type and MAC address when the record holds all there is of its
    /// attachment and reverses inline (a custom resource without a name, or none, and no
    /// reverses); `None` when it has more, boxed.
    #[inline]
    pub(crate) fn inline_attachment(&self) -> Option<(Option<ResourceType>, Option<MacAddress>)> {
        self.cold
            .is_none()
            .then(|| (self.inline.resource_type(), self.inline.mac()))
    }

    /// Replaces the attachment; returns the previous one.
    pub(crate) fn set_attachment(&mut self, new: Option<Attachment>) -> Option<Attachment> {
        let (old_type, old_mac) = (self.inline.resource_type(), self.inline.mac());
        self.inline = InlineAttachment::NONE;
        let old = old_type.map(|resource_type| {
            let (resource_id, name) = match self.cold.as_deref_mut() {
                Some(c) => (c.resource_id.take(), c.name.take()),
                None => (None, None),
            };
            Attachment {
                resource_type,
                id: resource_id.unwrap_or_else(|| ResourceId::from(self.id)),
                mac: old_mac,
                name,
                attached_at: self.attached_at,
            }
        });
        if let Some(a) = new {
            self.inline = InlineAttachment::attached(a.resource_type, a.mac);
            self.attached_at = a.attached_at;
            let resource_id = (a.id != ResourceId::from(self.id)).then_some(a.id);
            if resource_id.is_some() || a.name.is_some() {
                let cold = self.cold.get_or_insert_with(Box::default);
                cold.resource_id = resource_id;
                cold.name = a.name;
            }
        }
        self.trim();
        old
    }

    pub(crate) fn reverses(&self) -> &[Reverse] {
        self.cold.as_deref().map_or(&[], |c| &c.reverses)
    }

    pub(crate) fn set_reverses(&mut self, reverses: Box<[Reverse]>) {
        if reverses.is_empty() && self.cold.is_none() {
            return;
        }
        self.cold.get_or_insert_with(Box::default).reverses = reverses;
        self.trim();
    }

    /// Drops the box when it holds nothing.
    fn trim(&mut self) {
        if self.cold.as_deref().is_some_and(|c| *c == Cold::default()) {
            self.cold = None;
        }
    }
}

/// Members a roaring container holds as a sorted array; above, a bitmap.
const ARRAY_LIMIT: u32 = 4096;

/// A set of handles that mostly grows at its top, as new records always get the largest handle
/// yet: a subnet's records, a tag's records. Adding at the top goes through
/// `RoaringBitmap::push`, straight to the last container instead of searching them, whenever
/// that container is an array (its size is tracked here); a bitmap container's `push` would
/// scan for its maximum, so there it inserts. Its size is tracked too: `RoaringBitmap::len`
/// sums the sizes of all its containers.
#[derive(Clone, Debug, Default)]
pub(crate) struct HandleSet {
    set: RoaringBitmap,
    /// The container (high 16 bits) of the largest handle added since the set was built (no
    /// member is in a later one), and how many members that container has.
    top_key: u32,
    top_len: u32,
    len: u64,
}

impl HandleSet {
    /// The set of the sorted `handles`.
    pub(crate) fn from_sorted(handles: impl IntoIterator<Item = Handle>) -> Self {
        Self::from_bitmap(sorted_bitmap(handles))
    }

    /// The set of the members of `set`, taken as it is.
    pub(crate) fn from_bitmap(set: RoaringBitmap) -> Self {
        let top_key = set.max().map_or(0, |m| m >> 16);
        let top_len = u32::try_from(set.range_cardinality(top_key << 16..)).unwrap_or(u32::MAX);
        let len = set.len();
        Self {
            set,
            top_key,
            top_len,
            len,
        }
    }

    /// Adds `handle`, larger than every handle this set ever held since it was built.
    #[inline]
    pub(crate) fn append(&mut self, handle: Handle) {
        let inserted = self.insert(handle);
        debug_assert!(inserted, "appended handles are new");
    }

    /// Adds `handle`; whether it was not there. Cheapest for a handle above every member.
    #[inline]
    pub(crate) fn insert(&mut self, handle: Handle) -> bool {
        // Every booking appends to its subnet's set: the common case, a push onto the top
        // container while it is an array, is inlined; the rest is not.
        if handle >> 16 == self.top_key && self.top_len < ARRAY_LIMIT && self.set.push(handle) {
            self.top_len += 1;
            self.len += 1;
            return true;
        }
        self.insert_past_push(handle)
    }

    /// [`HandleSet::insert`] when `handle` is not a push onto the top array container: below
    /// its top member, in a bitset top container, in an earlier container, or in a later one.
    fn insert_past_push(&mut self, handle: Handle) -> bool {
        let key = handle >> 16;
        if key > self.top_key {
            // A later container: empty, since no member reaches it, so the push lands.
            self.top_key = key;
            let pushed = self.set.push(handle);
            debug_assert!(pushed);
            self.top_len = 1;
            self.len += 1;
            return true;
        }
        let inserted = self.set.insert(handle);
        self.len += u64::from(inserted);
        if key == self.top_key {
            self.top_len += u32::from(inserted);
        }
        inserted
    }

    /// Loads the set's last container and its top member, where the next append goes, when
    /// that container is an array: finding the top member of a bitset scans it from its end,
    /// mostly empty words in a subnet being filled, which is in cache anyway then.
    pub(crate) fn warm(&self) {
        if self.top_len <= ARRAY_LIMIT {
            std::hint::black_box(self.set.max());
        }
    }

    /// Removes `handle`; whether it was there.
    pub(crate) fn remove(&mut self, handle: Handle) -> bool {
        let removed = self.set.remove(handle);
        if removed {
            self.len -= 1;
            if handle >> 16 == self.top_key {
                self.top_len = self.top_len.saturating_sub(1);
            }
        }
        removed
    }

    /// Removes `gone`, every one a member, in one pass: a set difference, which reads each
    /// container once (an array container's members each tested, a bitset's bit cleared per
    /// handle). Where the containers are arrays (at most [`ARRAY_LIMIT`] members each, on
    /// average) and `gone` is a run of consecutive members (a subnet's oldest or newest IPs,
    /// released in order), in one range removal instead: one shift of the array, no test.
    fn remove_members(&mut self, gone: &RoaringBitmap) {
        let (Some(lo), Some(hi)) = (gone.min(), gone.max()) else {
            return;
        };
        debug_assert!(gone.is_subset(&self.set));
        let count = gone.len();
        let in_top = gone.range_cardinality(self.top_key << 16..);
        let first_key = self.set.min().map_or(self.top_key, |m| m >> 16);
        let per_container = self.len / (u64::from(self.top_key.saturating_sub(first_key)) + 1);
        if per_container <= u64::from(ARRAY_LIMIT) && self.set.range_cardinality(lo..=hi) == count {
            // Every member from `lo` to `hi` goes.
            let removed = self.set.remove_range(lo..=hi);
            debug_assert_eq!(removed, count);
        } else {
            self.set -= gone;
        }
        self.len -= count;
        self.top_len = self
            .top_len
            .saturating_sub(u32::try_from(in_top).unwrap_or(u32::MAX));
    }

    /// Number of handles. O(1).
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Whether the set holds no handle. O(1).
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub(crate) fn bitmap(&self) -> &RoaringBitmap {
        &self.set
    }

    /// Checks the tracked sizes of the set and of its top container.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.len != self.set.len() {
            return Err(format!(
                "handle set tracks {} members, holds {}",
                self.len,
                self.set.len()
            ));
        }
        let counted = self.set.range_cardinality(self.top_key << 16..);
        if counted == u64::from(self.top_len) {
            Ok(())
        } else {
            Err(format!(
                "handle set tracks {} members in container {}, holds {counted}",
                self.top_len, self.top_key
            ))
        }
    }
}

impl std::ops::Deref for HandleSet {
    type Target = RoaringBitmap;

    fn deref(&self) -> &RoaringBitmap {
        &self.set
    }
}

/// Fewest released handles a [`SubnetHandles`] notes before it drops them from its set.
const RELEASED_BATCH: usize = 16;

/// A [`SubnetHandles`] notes released handles up to this share of its set (1 in 8) before it
/// drops them, so that the pass over the set that drops them costs a few members per release.
const RELEASED_SHARE: u64 = 8;

/// Most released handles a [`SubnetHandles`] notes: a list of its network sorts them and takes
/// them out of a copy of the set, a few microseconds for this many (in a set of at least 8,192
/// members, whose copy costs as much).
const RELEASED_MAX: u64 = 1024;

/// How many handles a [`SubnetHandles`] holds in a sorted vector before it moves them to a
/// roaring bitmap: a /22's worth, so that the subnet a Private Network gets by default (1,020
/// bookable addresses) keeps its handles in the vector whatever its fill. Debug builds (the
/// tests) move past 4, so that the model-based tests, whose subnets hold tens of IPs, go through
/// both forms and between them.
const FEW: usize = if cfg!(debug_assertions) { 4 } else { 1024 };

/// The handles of one subnet's IPs.
///
/// Up to [`FEW`] of them are a sorted vector: a booking appends to it, a few instructions where
/// an append to a roaring bitmap costs about 110 (callgrind: a tenth of an owned booking in an
/// empty subnet). Past that they move to a roaring bitmap, and back to a vector once the subnet
/// is empty again or a compaction leaves it with few.
///
/// In either form, a release only notes its handle in a list, and the form drops the noted
/// handles once they are an eighth of it ([`RELEASED_SHARE`], from [`RELEASED_BATCH`] to
/// [`RELEASED_MAX`]), sorted, in one pass (a retain over the vector, or
/// [`HandleSet::remove_members`]). Removing each handle as it goes would cost a binary search
/// and a shift of the members above it, in the vector or in one of the bitmap's array
/// containers (up to 4,096 members): in random order, 2 KiB moved per release on average in a
/// full vector or container, the whole vector for the oldest. Noting it is a push, and the pass
/// costs a few members per release. Released in random order from a /16 holding 4,000 IPs, in
/// the bitmap: 129-181 ns a release one by one, 100-109 noted (harness); oldest first from a
/// subnet holding 990, in the vector: 145 ns one by one, 56-86 noted (probe).
/// A subnet filled among thousands of others (consecutive handles go to different networks)
/// has its handles spread over every container of the region's handle range, about 150 at 10M
/// IPs: the pass reads them in order, where removing one handle at a time searches them.
/// Readers see the members only: lists read the vector in place while no release is noted
/// ([`SubnetHandles::sorted`]); [`SubnetHandles::bitmap`] builds a bitmap of the vector's
/// members, and the set less the noted handles while some are noted.
#[derive(Clone, Debug, Default)]
pub(crate) struct SubnetHandles {
    /// The members and the noted handles while `set` is empty: at most [`FEW`], in order.
    few: Vec<Handle>,
    /// The members and the noted handles past [`FEW`]. Empty while `few` holds them.
    set: HandleSet,
    /// Released handles still in `few` or `set`, in the order released: fewer than
    /// [`SubnetHandles::released_limit`].
    released: Vec<Handle>,
}

/// The bitmap of the noted releases `noted`, which it takes (a handle noted twice, which
/// [`SubnetHandles::check`] reports, once): sorted in place, so that the release that drops a
/// batch copies nothing.
fn bitmap_of_noted(noted: &mut Vec<Handle>) -> RoaringBitmap {
    noted.sort_unstable();
    noted.dedup();
    sorted_bitmap(noted.drain(..))
}

/// The test of ascending handles against `noted`, ascending: whether each is not among them. A
/// merge, each handle checked against the next noted one only.
fn not_noted(noted: impl Iterator<Item = Handle>) -> impl FnMut(&Handle) -> bool {
    let mut gone = noted.peekable();
    move |&h| {
        while gone.next_if(|&g| g < h).is_some() {}
        gone.next_if_eq(&h).is_none()
    }
}

impl SubnetHandles {
    /// The set of the sorted `handles`.
    fn from_sorted(handles: impl IntoIterator<Item = Handle>) -> Self {
        let handles: Vec<Handle> = handles.into_iter().collect();
        if handles.len() <= FEW {
            return Self {
                few: handles,
                ..Self::default()
            };
        }
        Self {
            few: Vec::new(),
            set: HandleSet::from_sorted(handles),
            released: Vec::new(),
        }
    }

    /// Whether the vector holds the members (the bitmap holds none, noted releases included).
    fn is_few(&self) -> bool {
        self.set.is_empty()
    }

    /// Adds `handle`, larger than every handle this set ever held since it was built.
    #[inline]
    pub(crate) fn append(&mut self, handle: Handle) {
        debug_assert!(self.few.last().is_none_or(|&last| last < handle));
        if self.is_few() && self.few.len() < FEW {
            self.few.push(handle);
        } else {
            self.append_past_few(handle);
        }
    }

    /// [`SubnetHandles::append`] to a full vector or to the bitmap. A full vector first drops
    /// its noted releases, and keeps the handle if that made room; else its members move to
    /// the bitmap.
    fn append_past_few(&mut self, handle: Handle) {
        if self.is_few() {
            self.drop_noted();
            if self.few.len() < FEW {
                self.few.push(handle);
                return;
            }
            // The vector's memory goes: the subnet holds many now.
            let few = std::mem::take(&mut self.few);
            self.set = HandleSet::from_sorted(few);
        }
        self.set.append(handle);
    }

    /// See [`HandleSet::warm`].
    pub(crate) fn warm(&self) {
        if self.is_few() {
            // The value, so that its line is loaded, not only the vector's header read.
            std::hint::black_box(self.few.last().copied());
        } else {
            self.set.warm();
        }
    }

    /// Removes `handle`, a member: notes it, and drops the noted handles from the vector or
    /// the bitmap once they are [`SubnetHandles::released_limit`], or all of them.
    pub(crate) fn remove(&mut self, handle: Handle) {
        debug_assert!(
            self.few.binary_search(&handle).is_ok() || self.set.contains(handle),
            "handle {handle} is not a member"
        );
        self.released.push(handle);
        let noted = self.released.len() as u64;
        if noted >= self.released_limit() || noted == self.held() {
            self.drop_noted();
        }
    }

    /// Drops the noted releases from the vector or the bitmap, in one pass.
    fn drop_noted(&mut self) {
        if self.released.is_empty() {
            return;
        }
        if self.is_few() {
            self.released.sort_unstable();
            self.few.retain(not_noted(self.released.iter().copied()));
            self.released.clear();
        } else {
            let gone = bitmap_of_noted(&mut self.released);
            self.set.remove_members(&gone);
        }
    }

    /// The handles the vector or the bitmap holds: the members and the noted releases.
    fn held(&self) -> u64 {
        self.few.len() as u64 + self.set.len()
    }

    /// How many noted releases make the set drop them: an eighth of what it holds, from
    /// [`RELEASED_BATCH`] to [`RELEASED_MAX`].
    fn released_limit(&self) -> u64 {
        (self.held() / RELEASED_SHARE).clamp(RELEASED_BATCH as u64, RELEASED_MAX)
    }

    /// Number of members. O(1).
    pub(crate) fn len(&self) -> u64 {
        self.held() - self.released.len() as u64
    }

    /// The members renumbered by a compaction, in which noted releases, dead handles, drop
    /// out.
    pub(crate) fn remapped(&self, renumbering: &Renumbering) -> Self {
        if self.is_few() {
            return Self::from_sorted(
                self.few
                    .iter()
                    .map(|&h| renumbering.get(h))
                    .filter(|&h| h != Handle::MAX),
            );
        }
        let set = remapped_bitmap(self.set.bitmap(), renumbering);
        if set.len() <= FEW as u64 {
            return Self::from_sorted(set.iter());
        }
        Self {
            few: Vec::new(),
            set: HandleSet::from_bitmap(set),
            released: Vec::new(),
        }
    }

    /// The noted releases, as a bitmap, for readers (the set drops them with
    /// [`bitmap_of_noted`], in place).
    fn noted(&self) -> RoaringBitmap {
        bitmap_of_noted(&mut self.released.clone())
    }

    /// The members, in order: the vector or the bitmap (one of the two is empty) less the noted
    /// releases, in one merge with a sorted copy of them.
    pub(crate) fn iter(&self) -> impl Iterator<Item = Handle> + '_ {
        let mut noted = self.released.clone();
        noted.sort_unstable();
        self.few
            .iter()
            .copied()
            .chain(self.set.iter())
            .filter(not_noted(noted.into_iter()))
    }

    /// The released handles not yet dropped from the vector or the set (dead records).
    pub(crate) fn released(&self) -> &[Handle] {
        &self.released
    }

    /// The members in order, when the vector holds them: the vector itself while no release is
    /// noted, else [`SubnetHandles::iter`] (1,000 members less 100 noted read through a bitmap
    /// of the noted: a list of their network took 11.5 µs, against 4.8 µs so and 2.3 µs with
    /// none noted).
    pub(crate) fn sorted(&self) -> Option<Cow<'_, [Handle]>> {
        if !self.is_few() {
            return None;
        }
        if self.released.is_empty() {
            return Some(Cow::Borrowed(&self.few[..]));
        }
        Some(Cow::Owned(self.iter().collect()))
    }

    /// The members as a bitmap: borrowed while no release is noted, else built.
    pub(crate) fn bitmap(&self) -> Cow<'_, RoaringBitmap> {
        if self.is_few() {
            return Cow::Owned(sorted_bitmap(self.iter()));
        }
        if self.released.is_empty() {
            return Cow::Borrowed(self.set.bitmap());
        }
        Cow::Owned(self.set.bitmap() - &self.noted())
    }

    /// Adds the members to `union`, which holds no handle of another subnet's noted releases.
    pub(crate) fn add_to(&self, union: &mut RoaringBitmap) {
        if self.is_few() {
            *union |= sorted_bitmap(self.iter());
            return;
        }
        *union |= self.set.bitmap();
        *union -= &self.noted();
    }

    /// Checks the form, the set's tracked sizes, and that each noted handle is held, once.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.is_few() {
            if self.few.len() > FEW || self.few.windows(2).any(|w| w[0] >= w[1]) {
                return Err(format!(
                    "subnet handles: {} in the vector, or out of order",
                    self.few.len()
                ));
            }
        } else if !self.few.is_empty() {
            return Err("subnet handles both in the vector and the bitmap".into());
        }
        self.set.check()?;
        let noted = self.noted();
        let held = noted
            .iter()
            .all(|h| self.few.binary_search(&h).is_ok() || self.set.contains(h));
        if noted.len() != self.released.len() as u64 || !held {
            return Err("a released handle noted twice or not held".into());
        }
        if self.released.len() as u64 >= self.released_limit() {
            return Err(format!(
                "{} released handles noted, {} held",
                self.released.len(),
                self.held()
            ));
        }
        Ok(())
    }
}

/// Whether `a` and `b` hold the same handles. Not `a == b`: roaring compares its containers'
/// forms, and a block of exactly 4,096 members is an array when built by inserting them and a
/// bitmap when built from bytes ([`remapped_bitmap`]'s dense path), so equal sets can differ.
pub(crate) fn same_members(a: &RoaringBitmap, b: &RoaringBitmap) -> bool {
    a.len() == b.len() && a.iter().eq(b.iter())
}

/// The bitmap of sorted, distinct `handles`, built by appending each.
pub(crate) fn sorted_bitmap(handles: impl IntoIterator<Item = Handle>) -> RoaringBitmap {
    RoaringBitmap::from_sorted_iter(handles).expect("sorted handles")
}

/// The members of `set` renumbered by a compaction (order-preserving, old → new); the dead
/// drop out.
///
/// Where the members are more than one in 128 of the new span, they are read into a plain
/// bitset ([`lsb0_bytes`]), renumbered there word by word ([`renumber_in_place`]), and roaring
/// takes the bitset whole (`from_lsb0_bytes`, container by container). Sparser ones are read
/// ([`members_of`]), renumbered one by one and written back ([`bitmap_of_sorted`]). Both read
/// and write through roaring's serialization, never a call per member: building the new set
/// by appending each member, for every set, took half of a compaction's instructions.
pub(crate) fn remapped_bitmap(set: &RoaringBitmap, renumbering: &Renumbering) -> RoaringBitmap {
    let new_of = |h: Handle| renumbering.get(h);
    let Some(top) = set.iter().rev().map(new_of).find(|&h| h != Handle::MAX) else {
        return RoaringBitmap::new();
    };
    let span = u64::from(top) + 1;
    if set.len().saturating_mul(128) < span {
        let mut members = members_of(set);
        members.retain_mut(|h| {
            *h = new_of(*h);
            *h != Handle::MAX
        });
        return bitmap_of_sorted(&members);
    }
    // Dense: the members as a bitset, renumbered word by word, as dense tag postings are.
    // Members past the old handles are dead.
    let old_words = set
        .max()
        .map_or(0, |max| max as usize / 64 + 1)
        .min(renumbering.words());
    let mut bits = lsb0_bytes(set, old_words * 8);
    renumber_in_place(&mut bits, renumbering);
    RoaringBitmap::from_lsb0_bytes(0, &bits)
}

/// The members of `set` below `8 * len` as a bitset of `len` bytes (bit `h % 8` of byte
/// `h / 8` for handle `h`).
///
/// Read off roaring's serialization, a copy of its containers: a bitmap container's words are
/// the bitset's bytes already, an array container's values are set in a tight loop. Through
/// roaring's iterator instead, each member cost a call (roaring's per-container iterator is
/// not inlined here), and the dense sets of a 10M-IP region (its 8 role tags and attached
/// resource types, about 20M members) took about a seventh of its compaction. Read so, a
/// compaction of 1M IPs took 32.7-33.0 against 39.8-42.0 ms (the fastest of three per run,
/// four alternating runs of a scratch probe), one of 10M 427-468 against 495-503 ms (three).
fn lsb0_bytes(set: &RoaringBitmap, len: usize) -> Vec<u8> {
    let mut bits = vec![0u8; len];
    let mut serial = Vec::with_capacity(set.serialized_size());
    if set.serialize_into(&mut serial).is_ok() && set_serialized(&serial, &mut bits) {
        return bits;
    }
    bits.fill(0);
    for h in set {
        set_member(&mut bits, h);
    }
    bits
}

/// Sets bit `h` of `bits` ([`position`]), if within it.
fn set_member(bits: &mut [u8], h: Handle) {
    let (byte, bit) = position(h);
    if let Some(b) = bits.get_mut(byte) {
        *b |= bit;
    }
}

/// The members of `set`, in order, read off roaring's serialization ([`each_serialized`]):
/// through its iterator, each cost a call. With [`bitmap_of_sorted`], the sparse sets' part of
/// a compaction (a region's subnets, mostly) costs no call per member: a compaction of 1M IPs
/// took 28.8-31.0 against 32.7-34.1 ms (six alternating runs of a scratch probe, the fastest
/// of three each), one of 10M 398-470 against 438-462 ms (three).
fn members_of(set: &RoaringBitmap) -> Vec<Handle> {
    let mut members = Vec::with_capacity(usize::try_from(set.len()).unwrap_or(0));
    let mut serial = Vec::with_capacity(set.serialized_size());
    let read = set.serialize_into(&mut serial).is_ok()
        && each_serialized(&serial, |key, container| {
            let high = Handle::from(key) << 16;
            match container {
                Serialized::Array(values) => members.extend(
                    values
                        .chunks_exact(2)
                        .map(|v| high | Handle::from(u16::from_le_bytes([v[0], v[1]]))),
                ),
                Serialized::Bitmap(bytes) => {
                    let first = usize::from(key) * (BITMAP_BYTES / 8);
                    let words = words(bytes, 0).map(|(i, w)| (first + i, w));
                    push_handles_of_words(words, &mut members);
                }
            }
        });
    if !read {
        members.clear();
        members.extend(set);
    }
    members
}

/// The bitmap of sorted, distinct `members`, written in roaring's serialized layout and read
/// by it, a copy per container: appended one by one, each cost a call.
fn bitmap_of_sorted(members: &[Handle]) -> RoaringBitmap {
    RoaringBitmap::deserialize_from(&serialized(members)[..])
        .unwrap_or_else(|_| sorted_bitmap(members.iter().copied()))
}

/// Sorted, distinct `members` in roaring's serialized layout without run containers
/// (`RoaringFormatSpec`): an array container for up to [`ARRAY_LIMIT`] members of a key, a
/// bitmap for more.
fn serialized(members: &[Handle]) -> Vec<u8> {
    let containers: Vec<&[Handle]> = members.chunk_by(|a, b| a >> 16 == b >> 16).collect();
    let data: usize = containers.iter().map(|c| container_bytes(c.len())).sum();
    let mut serial = Vec::with_capacity(8 + 8 * containers.len() + data);
    serial.extend(NO_RUNS.to_le_bytes());
    serial.extend(
        u32::try_from(containers.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    for c in &containers {
        // Each holds 1 to 65,536 members of one key: both fit 16 bits.
        serial.extend(((c[0] >> 16) as u16).to_le_bytes());
        serial.extend(((c.len() - 1) as u16).to_le_bytes());
    }
    let mut offset = serial.len() + 4 * containers.len();
    for c in &containers {
        serial.extend(u32::try_from(offset).unwrap_or(u32::MAX).to_le_bytes());
        offset += container_bytes(c.len());
    }
    for c in &containers {
        if is_bitmap(c.len()) {
            let at = serial.len();
            serial.resize(at + BITMAP_BYTES, 0);
            for &h in *c {
                set_member(&mut serial[at..], h & 0xFFFF);
            }
        } else {
            serial.extend(c.iter().flat_map(|&h| ((h & 0xFFFF) as u16).to_le_bytes()));
        }
    }
    serial
}

/// The cookie of roaring's serialized layout without run containers.
const NO_RUNS: u32 = 12_346;
/// The bytes of a bitmap container.
const BITMAP_BYTES: usize = 8192;

/// Whether a container of `members` is written as a bitmap (more than [`ARRAY_LIMIT`]), not
/// as an array.
fn is_bitmap(members: usize) -> bool {
    members > ARRAY_LIMIT as usize
}

/// The bytes a container of `members` takes in the serialized layout.
fn container_bytes(members: usize) -> usize {
    if is_bitmap(members) {
        BITMAP_BYTES
    } else {
        2 * members
    }
}

/// A container of a serialized bitmap, its bytes as written.
enum Serialized<'a> {
    /// Its members' low 16 bits, little-endian, in order.
    Array(&'a [u8]),
    /// Its 65,536 bits, [`BITMAP_BYTES`], bit `low % 8` of byte `low / 8` for member `low`.
    Bitmap(&'a [u8]),
}

/// Calls `each` with the key and bytes of every container of a bitmap serialized as `serial`
/// in the standard layout without run containers (`RoaringFormatSpec`), the one roaring 0.10
/// writes, in order. `false`, having called `each` for some of them, for a layout it cannot
/// read for sure: another cookie, bytes missing, a container whose bytes (from the offsets)
/// are not those of the form its size gives (roaring held it in the other form), or one of
/// exactly 4,096 members, which roaring may hold as an array or as a bitmap, both 8 KB
/// written.
fn each_serialized(serial: &[u8], mut each: impl FnMut(u16, Serialized<'_>)) -> bool {
    let u16_at = |at: usize| {
        serial
            .get(at..at + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        serial
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    if u32_at(0) != Some(NO_RUNS) {
        return false;
    }
    let Some(count) = u32_at(4).map(|n| n as usize) else {
        return false;
    };
    // The containers' data follow the header, their keys and sizes, and their offsets.
    let offsets = 8 + 4 * count;
    let mut at = offsets + 4 * count;
    for c in 0..count {
        let (Some(key), Some(size)) = (u16_at(8 + 4 * c), u16_at(10 + 4 * c)) else {
            return false;
        };
        let size = usize::from(size) + 1;
        let end = if c + 1 < count {
            u32_at(offsets + 4 * (c + 1)).map(|o| o as usize)
        } else {
            Some(serial.len())
        };
        let bytes = container_bytes(size);
        if size == ARRAY_LIMIT as usize
            || u32_at(offsets + 4 * c).map(|o| o as usize) != Some(at)
            || end != Some(at + bytes)
        {
            return false;
        }
        let Some(data) = serial.get(at..at + bytes) else {
            return false;
        };
        each(
            key,
            if is_bitmap(size) {
                Serialized::Bitmap(data)
            } else {
                Serialized::Array(data)
            },
        );
        at += bytes;
    }
    true
}

/// Sets the bits of the members of a bitmap serialized as `serial` ([`each_serialized`]),
/// those below `bits`'s end; `false`, with `bits` in any state, for a layout it cannot read.
fn set_serialized(serial: &[u8], bits: &mut [u8]) -> bool {
    each_serialized(serial, |key, container| {
        let base = usize::from(key) * BITMAP_BYTES;
        match container {
            Serialized::Bitmap(words) => {
                if let Some(to) = bits.get_mut(base..) {
                    let n = to.len().min(BITMAP_BYTES);
                    to[..n].copy_from_slice(&words[..n]);
                }
            }
            Serialized::Array(values) => {
                for value in values.chunks_exact(2) {
                    let low = Handle::from(u16::from_le_bytes([value[0], value[1]]));
                    set_member(bits, Handle::from(key) << 16 | low);
                }
            }
        }
    })
}

/// A bitset (bit `h % 8` of byte `h / 8` for handle `h`) renumbered by a compaction in place,
/// word by word: the live handles of old word `i` are renumbered, in order, from `64 * i` less
/// the dead before it, so the word's members, squeezed out of its dead positions, go there
/// whole, and no handle is looked up alone. They go to the word of their new numbers and
/// maybe the one before, never further up, so each word is read before anything is written to
/// it. Dead members drop out, and so do the bytes past the last one set; the memory stays.
///
/// Into new vectors, a tag's bitset took two (its words, then their bytes): at 10M IPs, 250
/// MB of fresh pages for the 100 dense tags, whose faults held 7 % of the compaction's
/// samples. In place, with the slab's dead tail left unread too ([`Store::compact`]), a
/// compaction of 10M IPs (the harness's last row, in a scratch probe) took 536-544 against
/// 622-633 ms (two alternating runs), and one of 1M IPs 41.2-43.4 against 43.8-46.3 ms
/// (four, the fastest of three each).
pub(crate) fn renumber_in_place(bits: &mut Vec<u8>, renumbering: &Renumbering) {
    fn word(bits: &[u8], i: usize) -> u64 {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bits[i * 8..i * 8 + 8]);
        u64::from_le_bytes(word)
    }
    fn set(bits: &mut [u8], i: usize, word: u64) {
        bits[i * 8..i * 8 + 8].copy_from_slice(&word.to_le_bytes());
    }
    bits.resize(bits.len().next_multiple_of(8), 0);
    // Words past the last one written are zero.
    let mut end = 0;
    for i in 0..bits.len() / 8 {
        let old = word(bits, i);
        if old == 0 {
            continue;
        }
        set(bits, i, 0);
        let (dead, before) = renumbering.dead_word(i);
        let squeezed = squeeze(old, !dead);
        if squeezed == 0 {
            continue;
        }
        let at = i * 64 - before as usize;
        let (w, shift) = (at / 64, at % 64);
        let low = word(bits, w) | squeezed << shift;
        set(bits, w, low);
        end = end.max(w + 1);
        if shift != 0 && squeezed >> (64 - shift) != 0 {
            let high = word(bits, w + 1) | squeezed >> (64 - shift);
            set(bits, w + 1, high);
            end = end.max(w + 2);
        }
    }
    bits.truncate(end * 8);
    while bits.last() == Some(&0) {
        bits.pop();
    }
}

/// The bits of `x` at the set positions of `mask`, packed into the low bits in their order
/// (x86's `pext`, which the baseline x86-64 target lacks): bit `k` of the result is the bit of
/// `x` at the `k`-th set position of `mask`.
fn squeeze(x: u64, mask: u64) -> u64 {
    if mask == u64::MAX {
        return x;
    }
    let (mut out, mut rest) = (0, x & mask);
    while rest != 0 {
        let at = rest.trailing_zeros();
        out |= 1 << (mask & ((1u64 << at) - 1)).count_ones();
        rest &= rest - 1;
    }
    out
}

/// A compaction's old → new map of `n` handles where every third one (2, 5, 8, ...) died: the
/// dead map to `Handle::MAX`, the live ones move down over them.
#[cfg(test)]
pub(crate) fn every_third_dead(n: Handle) -> Vec<Handle> {
    (0..n)
        .map(|h| {
            if h % 3 == 2 {
                Handle::MAX
            } else {
                h - (h + 1) / 3
            }
        })
        .collect()
}

/// The slab of records.
///
/// An id the store draws carries its handle and the store's epoch ([`Store::stamp`]), in its
/// last 48 bits, masked by a keyed mix of the other 80: a lookup of such an id reads its record
/// straight away, and the id needs no map entry. Each compaction starts a new epoch. For each of
/// the last [`KEPT_EPOCHS`] epochs the store keeps which of its handles have died since
/// ([`Moved`]), so that their ids still lead to their records, renumbered in one step however
/// many compactions came after.
///
/// The id map ([`FlatMap`]) holds the other live ids: those whose stamps no longer lead to
/// their records (older than the renumberings kept) and those the store did not stamp (a
/// restore's, [`Store::insert`]). It is keyed by 64 bits of the id, beside the handle in one
/// 12-byte slot, and a hit is confirmed against the record; a second id with a taken key goes
/// to `collided`. A lookup tries the stamp first, then the map.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    /// The records by handle, in segments: growing the slab moves no record.
    slots: Slab<Option<Record>>,
    ids: FlatMap,
    collided: FastMap<IpId, Handle>,
    live: LiveSet,
    /// The key of the id map's hash and of the mask over the handle hints in ids.
    hasher: KeyedState,
    /// The epoch new ids are stamped with.
    epoch: u16,
    /// The earlier epochs whose ids may still be live, the latest last, with how their
    /// handles map to today's.
    moves: Vec<Moved>,
    /// The live handles in the order of their records' last change.
    updates: RecencyLog,
    /// The handles of the attached records.
    attached: LiveSet,
    /// The attached handles ([`Store::attached`]) in the order of their attachment.
    attachments: RecencyLog,
}

/// How many earlier epochs a store keeps the renumbering of, those with the most live ids (an
/// epoch whose ids are all gone is dropped at once): each costs about a quarter of a byte per
/// handle it had, and a little time at each compaction.
const KEPT_EPOCHS: usize = 8;

/// How the handles of an earlier epoch map to today's: those of its handles that have died
/// since (a bitset, cumulative over the compactions since the epoch ended), each word beside
/// the number of dead handles before it. A live handle's number today is its number then less
/// the dead handles below it: one read of 16 bytes.
#[derive(Clone, Debug)]
struct Moved {
    epoch: u16,
    words: Vec<DeadWord>,
}

/// 64 handles of an epoch: which have died, and how many died before them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct DeadWord {
    dead: u64,
    before: u32,
}

impl Moved {
    /// Epoch `epoch`, ended by a compaction of a slab of `len` slots whose live handles are
    /// `live` (bits past the slab count as dead). Read off the live set's words, not the
    /// slots: at 1M IPs and as many dead, reading which slots hold a record took a pass over
    /// 150 MB of them.
    fn of_live(epoch: u16, live: &LiveSet, len: usize) -> Self {
        let mut words = vec![
            DeadWord {
                dead: u64::MAX,
                before: 0
            };
            len.div_ceil(64)
        ];
        for (i, bits) in live.words() {
            if let Some(word) = words.get_mut(i) {
                word.dead = !bits;
            }
        }
        let mut moved = Self { epoch, words };
        moved.count();
        moved
    }

    /// Epoch `epoch` of as many handles as `live` has flags, live where they are set.
    #[cfg(test)]
    fn of_flags(epoch: u16, live: impl ExactSizeIterator<Item = bool>) -> Self {
        let len = live.len();
        let mut set = LiveSet::default();
        for (h, _) in (0..).zip(live).filter(|&(_, live)| live) {
            set.insert(h);
        }
        Self::of_live(epoch, &set, len)
    }

    /// Counts the dead handles before each word again.
    fn count(&mut self) {
        let mut count = 0u32;
        for word in &mut self.words {
            word.before = count;
            count += word.dead.count_ones();
        }
    }

    /// Marks dead the handles of this epoch that `gone` (the epoch a compaction ends, in the
    /// numbering of today before it) has dead: this epoch's live handles, in order, are
    /// today's handles 0, 1, 2...
    ///
    /// A word at a time: the word's live handles are `gone`'s next handles, as many as they
    /// are, and only the ones of those `gone` has dead are looked at one by one. An epoch
    /// whose handles mostly live on costs O(words).
    fn kill(&mut self, gone: &Moved) {
        let mut today = 0usize;
        for word in &mut self.words {
            let live = !word.dead;
            let n = live.count_ones() as usize;
            // Bit i: whether the word's i-th live handle died.
            let mut died = gone.dead_bits(today, n);
            let mut rest = live;
            while died != 0 {
                let lowest = rest & rest.wrapping_neg();
                if died & 1 != 0 {
                    word.dead |= lowest;
                }
                rest &= rest.wrapping_sub(1);
                died >>= 1;
            }
            today += n;
        }
        self.count();
    }

    /// The dead bits of handles `from` to `from + n` (n at most 64), as the low `n` bits; bits
    /// past the words read as live.
    fn dead_bits(&self, from: usize, n: usize) -> u64 {
        let (at, shift) = (from / 64, from % 64);
        let word = |i: usize| self.words.get(i).map_or(0, |w| w.dead);
        let mut bits = word(at) >> shift;
        if shift != 0 {
            bits |= word(at + 1) << (64 - shift);
        }
        if n >= 64 {
            bits
        } else {
            bits & ((1u64 << n) - 1)
        }
    }

    /// Whether every handle of the epoch has died.
    #[cfg(test)]
    fn is_over(&self) -> bool {
        self.words.iter().all(|w| w.dead == u64::MAX)
    }

    /// The new number of `old`, when it was live; some handle otherwise.
    #[inline]
    fn renumber(&self, old: Handle) -> Handle {
        let Some(word) = self.words.get(old as usize / 64) else {
            return old;
        };
        Self::renumber_in(*word, old)
    }

    /// The new number of `old`, `None` if it died or is past the epoch's handles.
    fn renumbered(&self, old: Handle) -> Option<Handle> {
        let word = *self.words.get(old as usize / 64)?;
        (word.dead & (1 << (old % 64)) == 0).then(|| Self::renumber_in(word, old))
    }

    /// `old` less the dead handles below it, `word` being its word.
    fn renumber_in(word: DeadWord, old: Handle) -> Handle {
        let below = (word.dead & ((1u64 << (old % 64)) - 1)).count_ones();
        old.wrapping_sub(word.before + below)
    }
}

/// A compaction's old → new handle numbering: the ended epoch's dead bits with their running
/// counts (a quarter byte per handle), which stay in cache however the handles are read. A
/// plain old → new map, 4 bytes per handle, made cache misses at millions of handles, and at
/// 10M IPs (20M slots) its 80 MB of fresh pages took about a second to fault in.
pub(crate) struct Renumbering {
    dead: Moved,
}

impl Renumbering {
    /// The renumbering of a compaction whose old → new map is `map` (`Handle::MAX` for the
    /// dead).
    #[cfg(test)]
    pub(crate) fn of_map(map: &[Handle]) -> Self {
        Self {
            dead: Moved::of_flags(0, map.iter().map(|&new| new != Handle::MAX)),
        }
    }

    /// The new number of `old`; `Handle::MAX` if it died (or was never a handle).
    pub(crate) fn get(&self, old: Handle) -> Handle {
        self.dead.renumbered(old).unwrap_or(Handle::MAX)
    }

    /// How many words of 64 old handles the renumbering knows: handles past them are dead.
    pub(crate) fn words(&self) -> usize {
        self.dead.words.len()
    }

    /// Old handles `64 * i` to `64 * i + 63`: which died (bit `k` for handle `64 * i + k`), and
    /// how many died before them. Past the old handles, all dead. The live ones of the word are
    /// renumbered, in order, from `64 * i` less the dead before.
    pub(crate) fn dead_word(&self, i: usize) -> (u64, u32) {
        self.dead
            .words
            .get(i)
            .map_or((u64::MAX, 0), |w| (w.dead, w.before))
    }
}

/// The bits of an id that carry its handle hint: the low 48 (the last 6 bytes, which a version 4
/// UUID draws at random).
const HINT_BITS: u128 = (1 << 48) - 1;

/// The mask over the hint bits of the id `u` in a store of hash key `key`: a keyed mix of its
/// other bits, so that ids look as random as they were drawn.
fn hint_mask(key: u64, u: u128) -> u64 {
    #[allow(clippy::cast_possible_truncation)]
    let (high, middle) = ((u >> 64) as u64, (u >> 48) as u64 & 0xFFFF);
    crate::hash::fold_mul(high ^ key, 0x9E37_79B9_7F4A_7C15 ^ (middle << 48)) & HINT_BITS as u64
}

/// The epoch and handle `id` is stamped with, if a store of hash key `key` stamped it.
fn hint(key: u64, id: IpId) -> (u16, Handle) {
    let u = id.uuid().as_u128();
    #[allow(clippy::cast_possible_truncation)]
    let hint = (u as u64 & HINT_BITS as u64) ^ hint_mask(key, u);
    #[allow(clippy::cast_possible_truncation)]
    ((hint >> 32) as u16, hint as Handle)
}

/// Which kept epoch's renumbering leads the stamp of `id` to `handle`, its record's handle
/// after a compaction: its index in `moves`, counted in `live`; [`NO_EPOCH`] if none does.
fn stamped_through(moves: &[Moved], key: u64, id: IpId, handle: Handle, live: &mut [u64]) -> u8 {
    let (epoch, stamped) = hint(key, id);
    match moves.iter().position(|m| m.epoch == epoch) {
        Some(i) if moves[i].renumber(stamped) == handle => {
            live[i] += 1;
            u8::try_from(i).unwrap_or(NO_EPOCH)
        }
        _ => NO_EPOCH,
    }
}

/// A record whose stamp does not lead to it through a kept epoch.
const NO_EPOCH: u8 = u8::MAX;

/// Which kept epoch the stamps of a compaction's records lead through ([`stamped_through`]).
/// Only the records whose epoch is dropped need an id map entry, and while no more than
/// [`KEPT_EPOCHS`] epochs are kept, every one with a live id stays: the records no epoch leads
/// through (few, if any) are all it needs then, not a byte per record: 10 MB of fresh pages
/// at 10M IPs, whose faults held 5 % of the compaction's samples. Without them, that
/// compaction took 498-509 ms against 493-613 ms (scratch probe, four alternating runs).
enum Through {
    /// Per record, in handle order, the epoch's index or [`NO_EPOCH`].
    Every(Vec<u8>),
    /// The handles of the records no kept epoch leads through.
    NoneOf(Vec<Handle>),
}

/// The id map key of `id`: its two halves folded.
pub(crate) fn id_key(id: IpId) -> u64 {
    let u = id.uuid().as_u128();
    (u as u64) ^ ((u >> 64) as u64)
}

impl Store {
    pub(crate) fn new(hasher: KeyedState) -> Self {
        Self {
            slots: Slab::default(),
            ids: FlatMap::with_hasher(hasher),
            collided: FastMap::with_hasher(hasher),
            live: LiveSet::default(),
            hasher,
            epoch: 0,
            moves: Vec::new(),
            updates: RecencyLog::default(),
            attached: LiveSet::default(),
            attachments: RecencyLog::default(),
        }
    }

    /// The mask over the hint bits of the id `u`: see [`hint_mask`].
    fn hint_mask(&self, u: u128) -> u64 {
        hint_mask(self.hasher.key(), u)
    }

    /// The random id `uuid` stamped with `handle` and the current epoch.
    fn stamp(&self, uuid: uuid::Uuid, handle: Handle) -> IpId {
        let u = uuid.as_u128();
        let hint = (u64::from(self.epoch) << 32 | u64::from(handle)) ^ self.hint_mask(u);
        IpId::from_uuid(uuid::Uuid::from_u128((u & !HINT_BITS) | u128::from(hint)))
    }

    /// The epoch and handle `id` is stamped with, if it was stamped by a store of this key.
    fn hint(&self, id: IpId) -> (u16, Handle) {
        hint(self.hasher.key(), id)
    }

    /// The handle `id` hints at, when it carries the current epoch or a kept earlier one: its
    /// stamp's handle, renumbered to today's.
    ///
    /// Inlined, the earlier epochs' search included: after a compaction, the ids booked before
    /// it carry an earlier epoch, most live ids in a region that has compacted. Out of line,
    /// their lookup made an owned get 401 instructions against 301 for an id of the current
    /// epoch (callgrind, 100k IPs); inlined, 350 against 300.
    #[inline]
    fn hinted(&self, id: IpId) -> Option<Handle> {
        let (epoch, handle) = self.hint(id);
        if epoch == self.epoch {
            return Some(handle);
        }
        // An earlier epoch: a short slice searched from its latest, and one 16-byte read.
        let moved = self.moves.iter().rev().find(|m| m.epoch == epoch)?;
        Some(moved.renumber(handle))
    }

    /// After a restore, which places records anew: moves to the epoch whose hints are right for
    /// the most live records, among the epochs whose hints are right for every live record that
    /// carries them; or, when none is, to an epoch no live id carries, and forgets earlier
    /// renumberings. O(n).
    pub(crate) fn settle_epoch(&mut self) {
        self.moves.clear();
        let mut carried = vec![0u32; 1 << 16];
        let mut wrong = vec![false; 1 << 16];
        for (h, r) in self.iter() {
            let (epoch, hinted) = self.hint(r.id);
            let e = usize::from(epoch);
            carried[e] = carried[e].saturating_add(1);
            wrong[e] |= hinted != h;
        }
        let best = (0..=u16::MAX)
            .filter(|&e| !wrong[usize::from(e)] && carried[usize::from(e)] > 0)
            .max_by_key(|&e| (carried[usize::from(e)], e == self.epoch));
        let unused = || (0..=u16::MAX).find(|&e| carried[usize::from(e)] == 0);
        if let Some(e) = best.or_else(unused) {
            self.epoch = e;
        }
        // The map keeps the ids whose stamps do not lead to their records.
        self.ids = FlatMap::with_hasher(self.hasher);
        self.collided.clear();
        let unstamped: Vec<(Handle, IpId)> = self
            .iter()
            .filter(|&(h, r)| self.hinted(r.id) != Some(h))
            .map(|(h, r)| (h, r.id))
            .collect();
        for (h, id) in unstamped {
            self.map(id, h);
        }
    }

    /// Maps `id` to `handle` in the id map, or in `collided` when another id has its key.
    fn map(&mut self, id: IpId, handle: Handle) {
        if !self.ids.try_insert(id_key(id), handle) {
            self.collided.insert(id, handle);
        }
    }

    /// The handle the id map gives for `id`, confirmed.
    fn mapped(&self, id: IpId) -> Option<Handle> {
        self.mapped_record(id).map(|(h, _)| h)
    }

    /// The handle and record the id map gives for `id`, confirmed. An empty map (the common
    /// case: only a restore's ids and those older than the renumberings kept are mapped) is not
    /// looked in; a map with entries is, out of line ([`Store::lookup_hinted`] says why).
    #[inline]
    fn mapped_record(&self, id: IpId) -> Option<(Handle, &Record)> {
        if self.ids.len() == 0 && self.collided.is_empty() {
            return None;
        }
        self.look_in_map(id)
    }

    /// [`Store::mapped_record`] in a map with entries.
    #[inline(never)]
    fn look_in_map(&self, id: IpId) -> Option<(Handle, &Record)> {
        self.confirm(id, self.ids.get(id_key(id)))
    }

    /// The handle the next insert will get, or `None` when the handle space is used up.
    pub(crate) fn next_handle(&self) -> Option<Handle> {
        Handle::try_from(self.slots.len())
            .ok()
            .filter(|&h| h < Handle::MAX)
    }

    /// Adds a record whose id the store did not stamp and does not hold (a restore's), mapped
    /// in the id map; returns its handle. [`Store::settle_epoch`] follows the last one.
    pub(crate) fn insert(&mut self, record: Record) -> Handle {
        let handle = self
            .next_handle()
            .expect("handle space checked by the caller");
        debug_assert!(!self.contains_id(record.id));
        self.map(record.id, handle);
        self.push(record)
    }

    /// The random id `drawn` stamped with the next handle ([`Store::stamp`]), or the first such
    /// stamp of what `draw` gives after it that no live id has. A live id whose stamp leads to
    /// its record differs from it, as their handles do: only the id map's ids need a look, and
    /// it is mostly empty. Its record must follow at once through [`Store::push_stamped`].
    pub(crate) fn unique_id(
        &self,
        drawn: uuid::Uuid,
        mut draw: impl FnMut() -> uuid::Uuid,
    ) -> IpId {
        let handle = self
            .next_handle()
            .expect("handle space checked by the caller");
        let mut id = self.stamp(drawn, handle);
        while self.mapped(id).is_some() {
            id = self.stamp(draw(), handle);
        }
        id
    }

    /// Starts loading what a lookup of `id` reads first: the record its stamp hints at, or its
    /// id map slot.
    pub(crate) fn prefetch_id(&self, id: IpId) {
        match self.hinted(id) {
            Some(h) => self.prefetch_records([h]),
            None => self.ids.prefetch(id_key(id)),
        }
    }

    /// [`Store::push_stamped`] of a new record without attachment ([`Record::new`]), built in
    /// its slot rather than on the stack and copied there (see `Ipam::book` for why).
    #[inline]
    pub(crate) fn push_new(
        &mut self,
        id: IpId,
        subnet: u32,
        offset: u64,
        now: i64,
        tags: u32,
    ) -> Handle {
        debug_assert_eq!(self.hinted(id), self.next_handle());
        debug_assert_eq!(self.mapped(id), None);
        self.push_with(|| Record::new(id, subnet, offset, now, tags))
    }

    /// Adds the record of an id returned by [`Store::unique_id`]; returns its handle.
    pub(crate) fn push_stamped(&mut self, record: Record) -> Handle {
        debug_assert_eq!(self.hinted(record.id), self.next_handle());
        debug_assert_eq!(self.mapped(record.id), None);
        self.push(record)
    }

    /// Stores a record whose id leads to the next handle, by its stamp or the id map.
    fn push(&mut self, record: Record) -> Handle {
        self.push_with(|| record)
    }

    /// [`Store::push`] of the record `make` builds, in its slot.
    #[inline]
    fn push_with(&mut self, make: impl FnOnce() -> Record) -> Handle {
        let handle = self
            .next_handle()
            .expect("handle space checked by the caller");
        let attached = self.slots.push(None).insert(make()).is_attached();
        // Attached as it is booked: the attach log's unlogged tail, as in the update log.
        if attached {
            self.attached.insert(handle);
        }
        let added = self.live.insert(handle);
        debug_assert!(added, "a new handle");
        handle
    }

    /// Makes room for `additional` more records without growing the slab or the sets of its
    /// handles (live, attached).
    /// More than the handle space allows is clamped to it; memory that cannot be had is not
    /// reserved (a hint, never a failure).
    pub(crate) fn reserve(&mut self, additional: usize) {
        let left = (Handle::MAX as usize).saturating_sub(self.slots.len());
        // Stamped ids need no map entry: only the slab grows, and the sets of its handles.
        self.slots.reserve(additional.min(left));
        self.reserve_handle_sets();
    }

    /// Makes room in the sets of live and attached handles for every handle the slab has room
    /// for, so that bookings up to its capacity do not grow them by doubling (a copy).
    fn reserve_handle_sets(&mut self) {
        let room = self.slots.capacity();
        self.live.reserve(room);
        self.attached.reserve(room);
    }

    /// The handles the slab holds records for without growing: those taken and those it has
    /// room for.
    pub(crate) fn room(&self) -> Handle {
        Handle::try_from(self.slots.capacity()).unwrap_or(Handle::MAX)
    }

    pub(crate) fn contains_id(&self, id: IpId) -> bool {
        self.handle(id).is_some()
    }

    /// The handles of those of `ids` that are stored, in the order given. The lookups go in
    /// passes (the records stamps lead to and the id map slots of the other ids, then those
    /// slots' records, then the checks) so that the cache misses of many ids overlap instead of
    /// following one another.
    pub(crate) fn handles_of(&self, ids: &[IpId]) -> Vec<Handle> {
        let hints: Vec<Option<Handle>> = ids.iter().map(|&id| self.hinted(id)).collect();
        self.prefetch_records(hints.iter().flatten().copied());
        let mapped = self.ids.len() > 0;
        if mapped {
            for (&id, _) in ids.iter().zip(&hints).filter(|(_, h)| h.is_none()) {
                self.ids.prefetch(id_key(id));
            }
            for (&id, _) in ids.iter().zip(&hints).filter(|(_, h)| h.is_none()) {
                self.prefetch_records(self.ids.get(id_key(id)));
            }
        }
        ids.iter()
            .zip(hints)
            .filter_map(|(&id, hint)| self.lookup_hinted(id, hint, |_| {}).map(|(h, _)| h))
            .collect()
    }

    /// Prefetches the record of each of `handles`, for callers about to read many scattered
    /// records: their cache misses overlap instead of following one another.
    pub(crate) fn prefetch_records(&self, handles: impl IntoIterator<Item = Handle>) {
        for h in handles {
            if let Some(slot) = self.slots.get(h as usize) {
                prefetch(slot);
            }
        }
    }

    pub(crate) fn handle(&self, id: IpId) -> Option<Handle> {
        self.handle_warming(id, |_| {})
    }

    /// The live record of `id`, read once for the check and the caller.
    ///
    /// Inlined, the record its stamp leads to only; any other case is [`Store::lookup`], out
    /// of line. A get by id (owned or borrowed) then makes no call before its record's cache
    /// miss: through `lookup`, which its callers' loops kept out of line, the owned get left
    /// too much work behind that miss for the next get's to start early (`fill`, in
    /// `engine/view.rs`).
    #[inline]
    pub(crate) fn find(&self, id: IpId) -> Option<&Record> {
        if let Some(h) = self.hinted(id) {
            let slot = self.slots.get(h as usize).and_then(Option::as_ref);
            if let Some(record) = slot.filter(|r| r.id == id) {
                return Some(record);
            }
        }
        self.find_elsewhere(id)
    }

    /// [`Store::find`] of an id its stamp does not lead to.
    #[cold]
    #[inline(never)]
    fn find_elsewhere(&self, id: IpId) -> Option<&Record> {
        self.lookup(id, |_| {}).map(|(_, record)| record)
    }

    /// [`Store::handle`], calling `warm` with the handle the id's stamp or the id map gives,
    /// before the record is read to confirm it: loads started there (of memory placed by
    /// handle) overlap the record's cache miss. `warm` may see a handle that is not `id`'s; it
    /// must only read.
    pub(crate) fn handle_warming(&self, id: IpId, warm: impl FnOnce(Handle)) -> Option<Handle> {
        self.lookup(id, warm).map(|(h, _)| h)
    }

    /// The handle and record of `id`: the record its stamp hints at when it holds `id`, or the
    /// one the id map gives. `warm` as in [`Store::handle_warming`].
    #[inline]
    fn lookup(&self, id: IpId, warm: impl FnOnce(Handle)) -> Option<(Handle, &Record)> {
        self.lookup_hinted(id, self.hinted(id), warm)
    }

    /// [`Store::lookup`], given `hint`: [`Store::hinted`] of `id`.
    ///
    /// Inlined, the common case only: the record the stamp leads to. The id map and the ids
    /// without a usable stamp are out of line ([`Store::look_in_map`],
    /// [`Store::lookup_unhinted`]): inlined, they made every get save and restore seven
    /// registers, and an owned get in cache took 30.5-31.3 ns against 24.3-24.8 ns.
    #[inline]
    fn lookup_hinted(
        &self,
        id: IpId,
        hint: Option<Handle>,
        warm: impl FnOnce(Handle),
    ) -> Option<(Handle, &Record)> {
        let Some(h) = hint else {
            return self.lookup_unhinted(id, warm);
        };
        if let Some(slot) = self.slots.get(h as usize) {
            warm(h);
            if let Some(record) = slot.as_ref().filter(|r| r.id == id) {
                return Some((h, record));
            }
        }
        self.mapped_record(id)
    }

    /// [`Store::lookup`] of an id whose stamp leads nowhere (an epoch no longer kept): the id
    /// map's candidate, warmed, then confirmed.
    #[inline(never)]
    fn lookup_unhinted(&self, id: IpId, warm: impl FnOnce(Handle)) -> Option<(Handle, &Record)> {
        let candidate = self.ids.get(id_key(id));
        if let Some(h) = candidate {
            warm(h);
        }
        self.confirm(id, candidate)
    }

    /// The handle and record of `id`, given what the id map holds for its key.
    fn confirm(&self, id: IpId, candidate: Option<Handle>) -> Option<(Handle, &Record)> {
        if let Some(h) = candidate {
            let record = self.get(h);
            if record.id == id {
                return Some((h, record));
            }
        }
        if self.collided.is_empty() {
            return None;
        }
        let h = *self.collided.get(&id)?;
        Some((h, self.get(h)))
    }

    /// The live record at `handle`.
    pub(crate) fn get(&self, handle: Handle) -> &Record {
        self.slots[handle as usize].as_ref().expect("live handle")
    }

    pub(crate) fn get_mut(&mut self, handle: Handle) -> &mut Record {
        self.slots[handle as usize].as_mut().expect("live handle")
    }

    /// Sets the `updated` time of a live record to `now`, no earlier than it was, and moves it
    /// to the end of the update log when the time changes.
    pub(crate) fn touch(&mut self, handle: Handle, now: i64) {
        let record = self.get_mut(handle);
        debug_assert!(now >= record.updated, "the clock ran back");
        if record.updated != now {
            record.updated = now;
            let end = self.next_handle().unwrap_or(Handle::MAX);
            self.updates.touch(handle, &self.live, end);
        }
    }

    /// Starts loading what [`Store::touch`] changes besides the record.
    pub(crate) fn warm_touch(&self, handle: Handle) {
        self.updates.warm(handle);
    }

    /// Starts loading what [`Store::touch`], [`Store::set_attachment`] and [`Store::remove`]
    /// change besides the record.
    pub(crate) fn warm_change(&self, handle: Handle) {
        self.updates.warm(handle);
        self.attachments.warm(handle);
    }

    /// The live handles in the order of their records' last change.
    pub(crate) fn updates(&self) -> &RecencyLog {
        &self.updates
    }

    /// Replaces the attachment of a live record (returning the one it had) and moves it to the
    /// end of the attach log when its attachment time changes, or out of it when detached.
    pub(crate) fn set_attachment(
        &mut self,
        handle: Handle,
        new: Option<Attachment>,
    ) -> Option<Attachment> {
        let attached_at = new.as_ref().map(|a| a.attached_at);
        let record = self.get_mut(handle);
        // The time alone, not the whole attachment (which reads its boxed part, if any).
        let was = record.is_attached().then_some(record.attached_at);
        let old = record.set_attachment(new);
        match (was, attached_at) {
            (Some(_), None) => self.unattach(handle),
            (was, Some(now)) if was != Some(now) => {
                debug_assert!(was.is_none_or(|t| t <= now), "the clock ran back");
                let end = self.next_handle().unwrap_or(Handle::MAX);
                // Touched before a newly attached record joins the set, whose handles above the
                // log's are those booked attached: its tail.
                self.attachments.touch(handle, &self.attached, end);
                self.attached.insert(handle);
            }
            _ => {}
        }
        old
    }

    /// Takes `handle` out of the attached set and the attach log: detached, or gone.
    fn unattach(&mut self, handle: Handle) {
        self.attachments.remove(handle);
        self.attached.remove(handle);
    }

    /// The handles of the attached records, in creation order.
    pub(crate) fn attached(&self) -> &LiveSet {
        &self.attached
    }

    /// The attached handles in the order of their attachment times.
    pub(crate) fn attachments(&self) -> &RecencyLog {
        &self.attachments
    }

    /// Puts the update and attach logs in the order of the records' times (ties by handle):
    /// after a restore, which stores the records in handle order.
    pub(crate) fn order_logs(&mut self) {
        let end = self.next_handle().unwrap_or(Handle::MAX);
        let mut order: Vec<(i64, Handle)> = self.iter().map(|(h, r)| (r.updated, h)).collect();
        order.sort_unstable();
        self.updates = RecencyLog::of(order.iter().map(|&(_, h)| h), end);
        order.clear();
        order.extend(
            self.iter()
                .filter_map(|(h, r)| Some((r.attachment()?.attached_at, h))),
        );
        order.sort_unstable();
        self.attachments = RecencyLog::of(order.iter().map(|&(_, h)| h), end);
    }

    pub(crate) fn remove(&mut self, handle: Handle) -> Record {
        let record = self.slots[handle as usize].take().expect("live handle");
        // Most ids are not in the map, then mostly empty. Otherwise one probe in the common
        // case; a record of the collision map puts the key's holder back.
        if self.ids.len() > 0 || !self.collided.is_empty() {
            let key = id_key(record.id);
            match self.ids.remove(key) {
                Some(h) if h == handle => {}
                holder => {
                    if let Some(h) = holder {
                        self.ids.insert(key, h);
                    }
                    self.collided.remove(&record.id);
                }
            }
        }
        self.live.remove(handle);
        self.updates.remove(handle);
        if record.is_attached() {
            self.unattach(handle);
        }
        record
    }

    /// Handles of all live records, in creation order.
    pub(crate) fn live(&self) -> &LiveSet {
        &self.live
    }

    pub(crate) fn len(&self) -> usize {
        self.live.len() as usize
    }

    pub(crate) fn dead(&self) -> usize {
        self.slots.len() - self.len()
    }

    /// Iterates live `(handle, record)` pairs in creation order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Handle, &Record)> {
        self.live.iter().map(|h| (h, self.get(h)))
    }

    /// Drops dead slots and renumbers live handles in order, keeping the slab's memory for
    /// twice the live records plus `spare`. Returns the renumbering, old → new, for the pools
    /// and indexes to follow.
    pub(crate) fn compact(&mut self, spare: usize) -> Renumbering {
        // The epoch ends: its renumbering joins the kept ones, each of which loses the handles
        // that die now.
        let ended = Moved::of_live(self.epoch, &self.live, self.slots.len());
        for moved in &mut self.moves {
            moved.kill(&ended);
        }
        let dead = ended.clone();
        self.moves.push(ended);
        // The next epoch number no kept epoch has: after 65,536 compactions the numbers wrap,
        // and a kept epoch's ids would read as the current one's, at their old handles.
        self.epoch = self.epoch.wrapping_add(1);
        while self.moves.iter().any(|m| m.epoch == self.epoch) {
            self.epoch = self.epoch.wrapping_add(1);
        }
        // Per record, the kept epoch its stamp leads to it through; per kept epoch, its ids.
        // Worked out here, in the pass that moves the records: a pass of its own read them all
        // again, a quarter of the compaction's time at 1M IPs.
        debug_assert!(self.moves.len() < usize::from(NO_EPOCH));
        let mut via = if self.moves.len() > KEPT_EPOCHS {
            Through::Every(Vec::with_capacity(
                usize::try_from(self.live.len()).unwrap_or(0),
            ))
        } else {
            Through::NoneOf(Vec::new())
        };
        let mut live = vec![0u64; self.moves.len()];
        let (moves, key) = (&self.moves, self.hasher.key());
        // In place: no second slab while compacting, and the slab keeps its memory. Each live
        // slot is read once, in order, as the live set gives them, and the released ones are
        // not read at all (they hold `None`, which owns nothing to drop). The processor's own
        // prefetching left a cache miss on most slots at millions of them, so `keep` loads
        // the slot 32 ahead (2.3 KB): this pass went from 36 to 24 ms at 2M slots and from 518
        // to 299 ms at 20M, when it still read every slot.
        let mut new = 0;
        self.slots
            .keep(self.live.iter().map(|h| h as usize), |slot| {
                if let Some(r) = slot {
                    let through = stamped_through(moves, key, r.id, new, &mut live);
                    match &mut via {
                        Through::Every(via) => via.push(through),
                        Through::NoneOf(handles) if through == NO_EPOCH => handles.push(new),
                        Through::NoneOf(_) => {}
                    }
                    new += 1;
                }
            });
        // Memory for far more records than are left goes back; room for twice as many (and
        // `spare`) stays, so that a region churning near empty does not regrow its slab.
        let room = self.slots.len().saturating_mul(2).saturating_add(spare);
        if self.slots.capacity() > room.saturating_mul(2) {
            self.slots.shrink_to(room);
        }
        let renumbering = Renumbering { dead };
        self.ids.map_values(|h| renumbering.get(h));
        for handle in self.collided.values_mut() {
            *handle = renumbering.get(*handle);
        }
        let n = Handle::try_from(self.slots.len()).expect("fewer live records than handles");
        self.updates.compact(&self.live);
        self.attachments.compact(&self.live);
        self.attached.renumber(&renumbering);
        self.live = LiveSet::full(n);
        // Rebuilt at their size, the sets of handles take room again for the slab's, which the
        // compaction kept: the room `Store::reserve` gave them would otherwise be lost.
        self.reserve_handle_sets();
        self.keep_epochs(via, &live);
        renumbering
    }

    /// Drops the kept epochs none of whose ids is live, and beyond [`KEPT_EPOCHS`] those with
    /// the fewest live ids (the oldest first among equals), and maps the ids whose stamps then
    /// no longer lead to their records. A region's long-lived IPs keep their epoch however many
    /// compactions churn brings. `via` and `live` are [`stamped_through`] of the records and
    /// its counts, worked out by the compaction.
    fn keep_epochs(&mut self, via: Through, live: &[u64]) {
        let mut ranked: Vec<usize> = (0..self.moves.len()).filter(|&i| live[i] > 0).collect();
        // Most live ids first, then the latest.
        ranked.sort_by_key(|&i| (std::cmp::Reverse(live[i]), std::cmp::Reverse(i)));
        let mut keep = vec![false; self.moves.len()];
        for &i in ranked.iter().take(KEPT_EPOCHS) {
            keep[i] = true;
        }
        // The ids left without a stamp that leads to them go to the map, unless already there.
        let handles = match via {
            Through::Every(via) => (0..)
                .zip(via)
                .filter(|&(_, i)| i == NO_EPOCH || !keep[usize::from(i)])
                .map(|(h, _)| h)
                .collect(),
            Through::NoneOf(handles) => {
                debug_assert!(self.moves.len() <= KEPT_EPOCHS, "every epoch with ids kept");
                handles
            }
        };
        let unstamped: Vec<(Handle, IpId)> = handles
            .into_iter()
            .filter_map(|h| {
                let r = self.slots[h as usize].as_ref()?;
                (self.mapped(r.id) != Some(h)).then_some((h, r.id))
            })
            .collect();
        let moves = std::mem::take(&mut self.moves);
        self.moves = moves
            .into_iter()
            .zip(keep)
            .filter_map(|(m, kept)| kept.then_some(m))
            .collect();
        for (h, id) in unstamped {
            self.map(id, h);
        }
    }

    /// Checks the id map, the live set and the slots agree.
    pub(crate) fn check(&self) -> Result<(), String> {
        self.live.check()?;
        // The live set holds exactly the handles of records: the store walks its records by
        // it, and a compaction reads which slots are live off it.
        if let Some(h) = self.live.iter().find(|&h| h as usize >= self.slots.len()) {
            return Err(format!("live handle {h} is past the slab"));
        }
        for (h, slot) in (0..).zip(self.slots.iter()) {
            if slot.is_some() != self.live.contains(h) {
                return Err(format!("slot {h} and the live set disagree"));
            }
        }
        let mapped = self.ids.len() + self.collided.len();
        if self.live.len() < mapped as u64 {
            return Err(format!(
                "live set has {} handles, id maps {mapped}",
                self.live.len(),
            ));
        }
        for (key, h) in self.ids.iter() {
            match self.slots.get(h as usize) {
                Some(Some(r)) if id_key(r.id) == key && self.live.contains(h) => {}
                _ => {
                    return Err(format!(
                        "id key {key} maps to handle {h}, which does not hold it"
                    ))
                }
            }
        }
        for (&id, &h) in &self.collided {
            match self.slots.get(h as usize) {
                Some(Some(r)) if r.id == id && self.live.contains(h) => {}
                _ => {
                    return Err(format!(
                        "id {id} maps to handle {h}, which does not hold it"
                    ))
                }
            }
        }
        // Every live id leads to its record, by its stamp or the id map.
        for (h, r) in self.iter() {
            if self.handle(r.id) != Some(h) {
                return Err(format!("record {} at handle {h} is not found by id", r.id));
            }
        }
        let occupied = self.slots.iter().filter(|s| s.is_some()).count();
        if occupied as u64 != self.live.len() {
            return Err(format!(
                "{occupied} occupied slots, {} live handles",
                self.live.len()
            ));
        }
        self.updates.check(&self.live, |h| self.get(h).updated)?;
        // The attached records are in the set, and (as many) nothing else is.
        let mut attached = 0;
        for (h, r) in self.iter() {
            if r.is_attached() != self.attached.contains(h) {
                return Err(format!("handle {h} and the attached set disagree"));
            }
            attached += u64::from(r.is_attached());
        }
        self.attached.check()?;
        if attached != self.attached.len() {
            return Err(format!(
                "{attached} attached records, {} handles in the attached set",
                self.attached.len()
            ));
        }
        self.attachments
            .check(&self.attached, |h| self.attached_at(h))
    }

    /// The attachment time of an attached record.
    pub(crate) fn attached_at(&self, handle: Handle) -> i64 {
        self.get(handle).attached_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: IpId) -> Record {
        Record::new(id, 0, 0, 0, 0)
    }

    #[test]
    fn records_stay_small_and_box_only_what_is_rare() {
        assert_eq!(std::mem::size_of::<Record>(), 72);
        // A slab slot is no larger: the packed attachment leaves a niche for `None`.
        assert_eq!(std::mem::size_of::<Option<Record>>(), 72);
        let id = IpId::from_uuid(uuid::Uuid::from_u128(5));
        let mut r = record(id);
        let custom = Attachment {
            resource_type: ResourceType::Custom,
            id: ResourceId::from(id),
            mac: Some(MacAddress::new([2, 0, 0, 0, 0, 1])),
            name: None,
            attached_at: 9,
        };
        assert_eq!(r.set_attachment(Some(custom.clone())), None);
        assert!(r.cold.is_none());
        assert_eq!(r.attachment(), Some(custom.as_ref()));
        let product = Attachment {
            resource_type: ResourceType::InstanceServer,
            id: ResourceId::from_uuid(uuid::Uuid::from_u128(6)),
            mac: None,
            name: Some("srv".into()),
            attached_at: 10,
        };
        assert_eq!(r.set_attachment(Some(product.clone())), Some(custom));
        assert_eq!(r.attachment(), Some(product.as_ref()));
        r.set_reverses(vec![Reverse::new("a.example.com.", None)].into());
        assert_eq!(r.set_attachment(None), Some(product));
        assert_eq!(r.attachment(), None);
        assert_eq!(r.reverses().len(), 1);
        r.set_reverses(Box::new([]));
        assert!(r.cold.is_none());
    }

    #[test]
    fn a_packed_attachment_gives_back_every_type_and_mac() {
        assert_eq!(InlineAttachment::NONE.resource_type(), None);
        assert_eq!(InlineAttachment::NONE.mac(), None);
        let macs = [
            None,
            Some(MacAddress::new([0; 6])),
            Some(MacAddress::new([0xff; 6])),
            Some(MacAddress::new([0x02, 0x42, 0xac, 0x11, 0x00, 0x9f])),
        ];
        for &t in ResourceType::ALL {
            for mac in macs {
                let packed = InlineAttachment::attached(t, mac);
                assert!(packed.is_attached());
                assert_eq!((packed.resource_type(), packed.mac()), (Some(t), mac));
            }
        }
        assert!(!InlineAttachment::NONE.is_attached());
    }

    #[test]
    fn ids_sharing_a_key_are_told_apart() {
        let a = IpId::from_uuid(uuid::Uuid::from_u128(
            0x1234_5678_9abc_def0_0fed_cba9_8765_4321,
        ));
        let c = 0x5555_aaaa_5555_aaaa_u128;
        let b = IpId::from_uuid(uuid::Uuid::from_u128(a.uuid().as_u128() ^ (c << 64 | c)));
        assert_eq!(id_key(a), id_key(b));
        let mut store = Store::new(KeyedState::default());
        let ha = store.insert(record(a));
        assert!(store.ids.contains_key(id_key(b)));
        assert_eq!(store.handle(b), None);
        let hb = store.insert(record(b));
        assert_eq!((store.handle(a), store.handle(b)), (Some(ha), Some(hb)));
        // Each id finds its own record, the one that holds the key's slot and the other.
        assert_eq!(store.find(a).map(|r| r.id), Some(a));
        assert_eq!(store.find(b).map(|r| r.id), Some(b));
        let warmed = std::cell::Cell::new(None);
        assert_eq!(store.handle_warming(b, |h| warmed.set(Some(h))), Some(hb));
        // The warming sees the key's slot, which is a's: a hint, never the answer.
        assert_eq!(warmed.get(), Some(ha));
        // The batched lookup agrees, in the order asked, and skips ids not stored.
        let missing = IpId::from_uuid(uuid::Uuid::from_u128(7));
        assert_eq!(store.handles_of(&[b, missing, a, b]), [hb, ha, hb]);
        store.check().unwrap();
        // Removing the holder of the key leaves the other reachable, before and after compaction.
        store.remove(ha);
        assert_eq!((store.handle(a), store.handle(b)), (None, Some(hb)));
        assert!(store.find(a).is_none());
        assert_eq!(store.find(b).map(|r| r.id), Some(b));
        store.check().unwrap();
        store.compact(0);
        assert_eq!(store.handle(b), Some(0));
        store.check().unwrap();
        let ha = store.insert(record(a));
        assert_eq!((store.handle(a), store.handle(b)), (Some(ha), Some(0)));
        store.remove(0);
        assert_eq!((store.handle(a), store.handle(b)), (Some(ha), None));
        store.check().unwrap();
    }

    /// Random v4 UUIDs, different on each call.
    fn draws() -> impl Iterator<Item = uuid::Uuid> {
        (1..).map(|i: u128| {
            let bytes = i.wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
            uuid::Builder::from_random_bytes(bytes.to_be_bytes()).into_uuid()
        })
    }

    /// Epoch `epoch` ended by a compaction of `slots`: [`Moved::of_live`] of their live set.
    fn moved_of(epoch: u16, slots: &[Option<Record>]) -> Moved {
        Moved::of_flags(epoch, slots.iter().map(Option::is_some))
    }

    /// Books a record as the engine does: a stamped id, claimed, then the record.
    fn book(store: &mut Store, draws: &mut impl Iterator<Item = uuid::Uuid>) -> (IpId, Handle) {
        let h = store.next_handle().unwrap();
        let id = store.unique_id(draws.next().unwrap(), || draws.next().unwrap());
        assert_eq!(store.push_stamped(record(id)), h);
        (id, h)
    }

    /// A compaction rebuilds the sets of live and attached handles; they take room again for
    /// as many handles as the slab keeps room for, so that the room `Store::reserve` gave them
    /// outlives it as the slab's does (a slab holding at least a quarter of its room keeps it).
    #[test]
    fn compaction_keeps_the_handle_sets_room() {
        let mut store = Store::new(KeyedState::new(3));
        let mut draws = draws();
        store.reserve(50_000);
        let mut handles = Vec::new();
        for k in 0..20_000u32 {
            let (id, h) = book(&mut store, &mut draws);
            if k % 2 == 0 {
                let attachment = Attachment {
                    resource_type: ResourceType::Custom,
                    id: ResourceId::from(id),
                    mac: None,
                    name: None,
                    attached_at: i64::from(k),
                };
                store.set_attachment(h, Some(attachment));
            }
            handles.push(h);
        }
        for &h in handles.iter().skip(1).step_by(7) {
            store.remove(h);
        }
        let room = store.slots.capacity();
        assert!(room >= 50_000, "{room}");
        store.compact(0);
        assert_eq!(store.slots.capacity(), room, "the slab keeps its room");
        assert!(store.live.room() >= room, "{} < {room}", store.live.room());
        assert!(
            store.attached.room() >= room,
            "{} < {room}",
            store.attached.room()
        );
        assert_eq!(store.len(), 20_000 - 2_857);
        assert_eq!(store.attached.len(), 10_000 - 1_428);
        assert!(store.check().is_ok(), "{:?}", store.check());
    }

    #[test]
    fn stamped_ids_find_their_records_through_every_epoch() {
        let mut store = Store::new(KeyedState::new(0x5eed));
        let mut draws = draws();
        let drawn = uuid::Uuid::from_u128(0x0123_4567_89ab_4def_8123_4567_89ab_cdef);
        let stamped = store.stamp(drawn, 77).uuid();
        // A version 4 UUID still, with the draw's first 10 bytes.
        assert_eq!(stamped.get_version_num(), 4);
        assert_eq!(stamped.get_variant(), uuid::Variant::RFC4122);
        assert_eq!(stamped.as_bytes()[..10], drawn.as_bytes()[..10]);
        assert_eq!(store.hint(IpId::from_uuid(stamped)), (0, 77));

        let booked: Vec<(IpId, Handle)> = (0..1000).map(|_| book(&mut store, &mut draws)).collect();
        store.check().unwrap();
        for &(id, h) in &booked {
            assert_eq!(store.hinted(id), Some(h));
            assert_eq!(store.handle(id), Some(h));
        }
        // Stamped ids need no id map entry: their stamps find their records.
        assert_eq!((store.ids.len(), store.collided.len()), (0, 0));
        let (id, h) = booked[500];
        assert_eq!(store.find(id).map(|r| r.id), Some(id));
        // A forged id hinting at a live handle, and a released one, find nothing.
        let forged = store.stamp(draws.next().unwrap(), h);
        assert_eq!(
            (store.handle(forged), store.find(forged).map(|r| r.id)),
            (None, None)
        );
        store.remove(booked[3].1);
        assert_eq!(store.handle(booked[3].0), None);
        let ids: Vec<IpId> = booked.iter().map(|&(id, _)| id).collect();
        assert_eq!(store.handles_of(&ids[..5]), [0, 1, 2, 4]);

        // Half released and compacted: handles move, and the first epoch's stamps are renumbered.
        for &(_, h) in booked.iter().skip(4).step_by(2) {
            store.remove(h);
        }
        store.compact(0);
        store.check().unwrap();
        let kept: Vec<IpId> = [0, 1, 2]
            .into_iter()
            .chain((5..1000).step_by(2))
            .map(|i| booked[i].0)
            .collect();
        let handles: Vec<Handle> = (0..).take(kept.len()).collect();
        assert_eq!(store.handles_of(&kept), handles);
        for (&id, h) in kept.iter().zip(0..) {
            assert_eq!(store.find(id).map(|r| r.id), Some(id));
            assert_eq!(store.handle(id), Some(h));
        }
        // The store is in a new epoch; the ids of the first still find their records through
        // their hints, renumbered by the compaction, and new ids through theirs.
        assert_eq!(store.epoch, 1);
        for (&id, h) in kept.iter().zip(0..) {
            assert_eq!(store.hinted(id), Some(h));
        }
        let (new, h) = book(&mut store, &mut draws);
        assert_eq!((store.hinted(new), store.handle(new)), (Some(h), Some(h)));
        store.check().unwrap();

        // Records in new places with ids another store stamped (a restore): after settling,
        // no hint in the current epoch is wrong, and every id is found.
        let mut other = Store::new(KeyedState::new(0xd1ff));
        for &id in kept.iter().rev() {
            other.insert(record(id));
        }
        other.settle_epoch();
        other.check().unwrap();
        for (&id, h) in kept.iter().rev().zip(0..) {
            assert_eq!((other.handle(id), other.mapped(id)), (Some(h), Some(h)));
        }
        let (new, h) = book(&mut other, &mut draws);
        assert_eq!((other.hinted(new), other.handle(new)), (Some(h), Some(h)));
        assert_eq!(other.mapped(new), None);
        other.check().unwrap();

        // Restored where they were stamped (same key, same handles): the ids keep their
        // stamps, and the map is left empty.
        let mut again = Store::new(KeyedState::new(0x5eed));
        let fresh: Vec<IpId> = (0..100).map(|_| book(&mut again, &mut draws).0).collect();
        let mut restored = Store::new(KeyedState::new(0x5eed));
        for &id in &fresh {
            restored.insert(record(id));
        }
        restored.settle_epoch();
        restored.check().unwrap();
        assert_eq!(restored.ids.len(), 0);
        for (&id, h) in fresh.iter().zip(0..) {
            assert_eq!(restored.hinted(id), Some(h));
        }
    }

    /// The check reports a live set that does not hold exactly the records' handles: a
    /// compaction reads which slots are live off it.
    #[test]
    fn the_check_catches_a_live_set_apart_from_the_slots() {
        let mut store = Store::new(KeyedState::new(12));
        let mut draws = draws();
        let (_, h) = book(&mut store, &mut draws);
        book(&mut store, &mut draws);
        store.check().unwrap();
        let mut missing = store.clone();
        missing.live.remove(h);
        missing.live.insert(7);
        assert!(missing.check().unwrap_err().contains("past the slab"));
        missing.live.remove(7);
        assert!(missing.check().unwrap_err().contains("disagree"));
        let mut extra = store.clone();
        extra.live.insert(5);
        assert!(extra.check().is_err());
        // The attached set: an unattached record in it, a handle that is no record.
        let mut stray = store.clone();
        stray.attached.insert(h);
        assert!(stray.check().unwrap_err().contains("disagree"));
        let mut stray = store.clone();
        stray.attached.insert(50);
        assert!(stray.check().unwrap_err().contains("attached set"));
    }

    /// When epoch numbers wrap, a kept epoch's number is skipped: its ids keep leading to their
    /// records, and new ids do not take its stamps.
    #[test]
    fn a_wrapping_epoch_skips_the_kept_ones() {
        let mut store = Store::new(KeyedState::new(13));
        let mut draws = draws();
        let booked: Vec<(IpId, Handle)> = (0..20).map(|_| book(&mut store, &mut draws)).collect();
        store.remove(booked[0].1);
        store.compact(0);
        assert_eq!((store.epoch, store.moves.len()), (1, 1));
        // 65,534 compactions later: the next one would number its epoch 0, the kept one's.
        store.epoch = u16::MAX;
        store.remove(store.handle(booked[1].0).unwrap());
        store.compact(0);
        assert!(store.moves.iter().any(|m| m.epoch == 0));
        assert_eq!(store.epoch, 1);
        store.check().unwrap();
        for (&(id, _), h) in booked[2..].iter().zip(0..) {
            assert_eq!(store.hinted(id), Some(h));
        }
        let (id, h) = book(&mut store, &mut draws);
        assert_eq!((store.handle(id), h), (Some(h), 18));
        store.check().unwrap();
    }

    /// A drawn id whose stamp some mapped id already has is drawn again.
    #[test]
    fn a_stamp_a_mapped_id_has_is_drawn_again() {
        let mut store = Store::new(KeyedState::new(11));
        let mut draws = draws();
        // An id from elsewhere, at handle 0, whose stamp says handle 1 (so it is mapped): the
        // stamp the next booking would give the same draw.
        let drawn = draws.next().unwrap();
        let taken = store.stamp(drawn, 1);
        assert_eq!(store.insert(record(taken)), 0);
        assert_eq!(store.mapped(taken), Some(0));
        let id = store.unique_id(drawn, || draws.next().unwrap());
        assert_ne!(id, taken);
        assert_eq!(store.hinted(id), Some(1));
        assert_eq!(store.push_stamped(record(id)), 1);
        assert_eq!((store.handle(taken), store.handle(id)), (Some(0), Some(1)));
        store.check().unwrap();
    }

    /// Every compaction renumbers the stamps of the kept epochs' ids; past [`KEPT_EPOCHS`]
    /// epochs, the ids of those with the fewest live ids go to the id map.
    #[test]
    fn compactions_renumber_the_hints_of_the_last_epochs() {
        let mut store = Store::new(KeyedState::new(7));
        let mut draws = draws();
        // Per epoch, ids booked in it, of which every third is released before the compaction.
        let mut live: Vec<(IpId, u16)> = Vec::new();
        for round in 0..KEPT_EPOCHS + 3 {
            let epoch = store.epoch;
            for k in 0..300 {
                let (id, h) = book(&mut store, &mut draws);
                if k % 3 == 0 {
                    store.remove(h);
                } else {
                    live.push((id, epoch));
                }
            }
            // Some older ones go too, so that every epoch's handles move.
            if round > 0 {
                let h = store.handle(live.remove(round).0).unwrap();
                store.remove(h);
            }
            store.compact(0);
            assert_eq!(store.epoch, epoch.wrapping_add(1));
            store.check().unwrap();
            for (&(id, stamped), h) in live.iter().zip(0..) {
                let age = usize::from(store.epoch.wrapping_sub(stamped));
                let (hinted, mapped) = if age <= KEPT_EPOCHS {
                    (Some(h), None)
                } else {
                    (None, Some(h))
                };
                assert_eq!((store.hinted(id), store.handle(id)), (hinted, Some(h)));
                // The map holds the ids whose stamps no longer lead anywhere, and only those.
                assert_eq!(store.mapped(id), mapped);
            }
            let old = live
                .iter()
                .filter(|&&(_, e)| usize::from(store.epoch.wrapping_sub(e)) > KEPT_EPOCHS)
                .count();
            assert_eq!(store.ids.len() + store.collided.len(), old);
        }
        assert_eq!(store.moves.len(), KEPT_EPOCHS);
    }

    /// An earlier epoch is forgotten once none of its handles is live.
    #[test]
    fn an_epoch_whose_ids_are_all_gone_is_forgotten() {
        let mut store = Store::new(KeyedState::new(5));
        let mut draws = draws();
        let first: Vec<(IpId, Handle)> = (0..10).map(|_| book(&mut store, &mut draws)).collect();
        store.remove(first[0].1);
        store.compact(0);
        let epochs = |store: &Store| store.moves.iter().map(|m| m.epoch).collect::<Vec<_>>();
        assert_eq!((store.epoch, epochs(&store)), (1, vec![0]));
        for &(id, _) in &first[1..] {
            let h = store.handle(id).unwrap();
            store.remove(h);
        }
        let second: Vec<(IpId, Handle)> = (0..5).map(|_| book(&mut store, &mut draws)).collect();
        store.compact(0);
        assert_eq!((store.epoch, epochs(&store)), (2, vec![1]));
        for (&(id, _), h) in second.iter().zip(0..) {
            assert_eq!((store.hinted(id), store.handle(id)), (Some(h), Some(h)));
        }
        store.check().unwrap();
    }

    /// Long-lived ids keep their epoch through any number of compactions whose own ids all
    /// died; past [`KEPT_EPOCHS`] epochs with live ids, those with the fewest go to the map.
    #[test]
    fn the_epochs_with_the_most_live_ids_are_kept() {
        let mut store = Store::new(KeyedState::new(9));
        let mut draws = draws();
        let settled: Vec<IpId> = (0..100).map(|_| book(&mut store, &mut draws).0).collect();
        for _ in 0..3 * KEPT_EPOCHS {
            let churn: Vec<Handle> = (0..50).map(|_| book(&mut store, &mut draws).1).collect();
            for h in churn {
                store.remove(h);
            }
            store.compact(0);
            assert_eq!(store.moves.len(), 1);
        }
        for (&id, h) in settled.iter().zip(0..) {
            assert_eq!((store.hinted(id), store.mapped(id)), (Some(h), None));
        }
        // Epochs with 1, 2, ... live ids each: the smallest go to the map.
        let mut kept: Vec<Vec<IpId>> = Vec::new();
        for round in 1..=KEPT_EPOCHS + 2 {
            let ids: Vec<IpId> = (0..round).map(|_| book(&mut store, &mut draws).0).collect();
            let gone = book(&mut store, &mut draws).1;
            store.remove(gone);
            store.compact(0);
            kept.push(ids);
        }
        store.check().unwrap();
        assert_eq!(store.moves.len(), KEPT_EPOCHS);
        // The first epoch (100 ids) and the last KEPT_EPOCHS - 1 rounds stay; rounds 1 to 3 go.
        for (round, ids) in (1..).zip(&kept) {
            for &id in ids {
                let h = store.handle(id).unwrap();
                let stamped = round > 3;
                assert_eq!(store.hinted(id) == Some(h), stamped, "round {round}");
                assert_eq!(store.mapped(id).is_some(), !stamped, "round {round}");
            }
        }
        for &id in &settled {
            assert!(store.hinted(id).is_some());
        }
    }

    /// A renumbering gives each live handle its rank among the live ones, across words and
    /// blocks.
    #[test]
    fn a_renumbering_counts_the_dead_handles_below() {
        let slots: Vec<Option<Record>> = (0..2000u32)
            .map(|h| {
                (h % 7 != 3 && !(600..1300).contains(&h))
                    .then(|| record(IpId::from_uuid(uuid::Uuid::from_u128(u128::from(h) + 1))))
            })
            .collect();
        let mut moved = moved_of(3, &slots);
        let mut new = 0;
        for (h, slot) in (0..).zip(&slots) {
            if slot.is_some() {
                assert_eq!(moved.renumber(h), new, "handle {h}");
                new += 1;
            }
        }
        // A handle past the slab (a forged hint) gives some handle, without panicking.
        let _ = moved.renumber(u32::MAX);
        assert!(!moved.is_over());

        // A later compaction drops every fifth of today's handles: the survivors of the
        // epoch are renumbered in one step to their rank among what is left.
        let today: Vec<Option<Record>> = (0..new)
            .map(|t| {
                (t % 5 != 0)
                    .then(|| record(IpId::from_uuid(uuid::Uuid::from_u128(u128::from(t) + 1))))
            })
            .collect();
        moved.kill(&moved_of(4, &today));
        let (mut t, mut left) = (0, 0);
        for (h, slot) in (0..).zip(&slots) {
            if slot.is_some() {
                if t % 5 != 0 {
                    assert_eq!(moved.renumber(h), left, "handle {h}");
                    left += 1;
                }
                t += 1;
            }
        }
        // All of today's handles gone: the epoch is over.
        moved.kill(&moved_of(5, &vec![None; today.len()]));
        assert!(moved.is_over());
    }

    #[test]
    fn compaction_keeps_room_and_gives_back_the_rest() {
        let mut store = Store::new(KeyedState::default());
        let handles: Vec<Handle> = (0..10_000u128)
            .map(|i| store.insert(record(IpId::from_uuid(uuid::Uuid::from_u128(i + 1)))))
            .collect();
        let capacity = store.slots.capacity();
        // Half released: the slab keeps its memory (room for twice the rest).
        for &h in handles.iter().step_by(2) {
            store.remove(h);
        }
        let renumbering = store.compact(100);
        assert_eq!(store.slots.capacity(), capacity);
        assert_eq!((store.len(), store.dead()), (5_000, 0));
        let ends = [0, 1, 9_999].map(|h| renumbering.get(h));
        assert_eq!(ends, [Handle::MAX, 0, 4_999]);
        store.check().unwrap();
        // All but ten released: memory beyond twice the rest plus the spare goes back.
        for h in 10..5_000 {
            store.remove(h);
        }
        store.compact(100);
        assert_eq!(store.len(), 10);
        assert!(store.slots.capacity() >= 120, "{}", store.slots.capacity());
        assert!(
            store.slots.capacity() < capacity / 10,
            "{}",
            store.slots.capacity()
        );
        for (i, h) in (0..10).enumerate() {
            assert_eq!(
                store.get(h).id,
                IpId::from_uuid(uuid::Uuid::from_u128(2 * i as u128 + 2))
            );
        }
        store.check().unwrap();
    }

    #[test]
    fn handle_set_check_catches_a_wrong_count() {
        let mut set = HandleSet::from_sorted([3, 70_000, 70_001]);
        assert_eq!((set.top_key, set.top_len), (1, 2));
        assert!(set.check().is_ok());
        set.top_len = 3;
        assert!(set.check().is_err());
        set.top_len = 2;
        set.len = 4;
        assert!(set.check().is_err());
        // Past the array limit the top container is a bitmap: appends insert, and still count.
        let mut set = HandleSet::from_sorted(0..ARRAY_LIMIT);
        set.append(ARRAY_LIMIT);
        set.append(ARRAY_LIMIT + 7);
        assert_eq!(set.top_len, ARRAY_LIMIT + 2);
        assert!(set.check().is_ok());
        assert!(set.remove(3) && !set.remove(3));
        assert_eq!(set.top_len, ARRAY_LIMIT + 1);
        assert!(set.check().is_ok());
    }

    /// A vector of handles holding its most, `10 * k` for `k` below [`FEW`], which it returns
    /// as a handle.
    fn full_vector() -> (SubnetHandles, Handle) {
        let mut set = SubnetHandles::default();
        let few = Handle::try_from(FEW).unwrap();
        for h in 0..few {
            set.append(10 * h);
        }
        (set, few)
    }

    #[test]
    fn subnet_handles_move_to_a_bitmap_past_a_few_and_back_once_empty() {
        let (mut set, few) = full_vector();
        assert!(set.is_few() && set.check().is_ok());
        set.append(10 * few);
        assert!(!set.is_few() && set.few.is_empty());
        assert_eq!(set.len(), u64::from(few) + 1);
        assert!(set.iter().eq((0..=few).map(|h| 10 * h)));
        assert!(set.check().is_ok(), "{:?}", set.check());
        // Emptied, it takes the vector again.
        for h in 0..=few {
            set.remove(10 * h);
        }
        assert_eq!(set.len(), 0);
        set.append(100_000);
        assert!(set.is_few() && set.check().is_ok());
        assert_eq!(&*set.bitmap(), &RoaringBitmap::from_iter([100_000]));
        // Both forms at once, or a vector out of order, are caught.
        let mut both = set.clone();
        both.set = HandleSet::from_sorted([1, 2]);
        assert!(both.check().is_err());
        set.few.push(5);
        assert!(set.check().is_err());
    }

    #[test]
    fn subnet_handles_note_releases_in_the_vector_too() {
        let (mut set, few) = full_vector();
        // Noted, not dropped, out of order: readers see the members only.
        set.remove(30);
        set.remove(10);
        assert_eq!(set.released(), [30, 10]);
        assert_eq!(set.len(), u64::from(few) - 2);
        let members: Vec<Handle> = (0..few)
            .filter(|&h| h != 1 && h != 3)
            .map(|h| 10 * h)
            .collect();
        assert!(matches!(set.sorted(), Some(Cow::Owned(s)) if s == members));
        assert!(set.iter().eq(members.iter().copied()));
        assert!(same_members(
            &set.bitmap(),
            &members.iter().copied().collect()
        ));
        assert!(set.check().is_ok(), "{:?}", set.check());
        // A full vector drops its noted releases first, and keeps the vector when that made
        // room.
        set.append(10 * few);
        assert!(set.is_few() && set.released().is_empty());
        assert!(matches!(set.sorted(), Some(Cow::Borrowed(s)) if s.len() == FEW - 1));
        assert!(set.check().is_ok(), "{:?}", set.check());
        // Every member noted: the vector drops them all.
        for h in set.iter().collect::<Vec<_>>() {
            set.remove(h);
        }
        assert_eq!((set.len(), set.few.len(), set.released().len()), (0, 0, 0));
        // A noted handle that is not held, or noted twice, is caught.
        set.append(1000);
        set.append(1001);
        let mut stranger = set.clone();
        stranger.released.push(999);
        assert!(stranger.check().is_err());
        let mut twice = set.clone();
        twice.released.extend([1000, 1000]);
        assert!(twice.check().is_err());
    }

    /// The bitset of a set's members, member by member.
    fn plain_bytes(set: &RoaringBitmap, len: usize) -> Vec<u8> {
        let mut bits = vec![0u8; len];
        for h in set {
            if let Some(byte) = bits.get_mut(h as usize / 8) {
                *byte |= 1 << (h % 8);
            }
        }
        bits
    }

    /// A serialized bitmap read for sure or not at all: a container whose bytes are not those
    /// of its size's form (a bitmap of 100 members), bytes missing, or another cookie.
    #[test]
    fn serialized_sets_are_read_only_in_the_layout_expected() {
        let layout = |cookie: u32, size: u16, data: usize| {
            let mut serial = Vec::new();
            serial.extend(cookie.to_le_bytes());
            serial.extend(1u32.to_le_bytes());
            serial.extend(0u16.to_le_bytes());
            serial.extend((size - 1).to_le_bytes());
            serial.extend(16u32.to_le_bytes());
            serial.extend(std::iter::repeat_n(0xFFu8, data));
            serial
        };
        let mut bits = vec![0u8; 8192];
        assert!(set_serialized(&layout(12_346, 100, 200), &mut bits));
        assert!(set_serialized(&layout(12_346, 5000, 8192), &mut bits));
        assert!(!set_serialized(&layout(12_346, 100, 8192), &mut bits));
        assert!(!set_serialized(&layout(12_346, 5000, 8191), &mut bits));
        assert!(!set_serialized(&layout(12_346, 100, 199), &mut bits));
        assert!(!set_serialized(&layout(12_347, 100, 200), &mut bits));
        assert!(!set_serialized(&layout(12_346, 4096, 8192), &mut bits));
    }

    proptest::proptest! {
        /// Read off roaring's serialization, a set's bitset is the one its members make, cut
        /// at any length, and so are its members: array and bitmap containers, in any order of
        /// keys; the serialized layout is read (not the member-by-member fallback) unless a
        /// container holds exactly 4,096 members. Written back in that layout, the members
        /// read as the same set.
        #[test]
        fn sets_read_off_their_serialization_as_member_by_member(
            blocks in proptest::collection::vec(
                (0u32..40, proptest::prop_oneof![
                    proptest::strategy::Just(1usize),
                    1usize..4096,
                    proptest::strategy::Just(4096usize),
                    4097usize..65_536,
                    proptest::strategy::Just(65_536usize),
                ], proptest::bool::ANY, proptest::num::u64::ANY),
                0..6,
            ),
            cut in 0usize..(41 * 8192),
        ) {
            let mut set = RoaringBitmap::new();
            for &(key, size, from_bytes, seed) in &blocks {
                if set.range_cardinality(key << 16..(key + 1) << 16) > 0 {
                    continue;
                }
                // `size` distinct members of the block, scattered by the seed.
                let step = (seed as usize % 7919) * 2 + 1;
                let members: Vec<u32> = (0..size)
                    .map(|k| (key << 16) | ((k * step + (seed >> 20) as usize) % 65_536) as u32)
                    .collect();
                if from_bytes {
                    // Built from bytes, a block of any size can be a bitmap container.
                    let mut block = vec![0u8; 8192];
                    for &m in &members {
                        block[(m & 0xFFFF) as usize / 8] |= 1 << (m % 8);
                    }
                    set |= RoaringBitmap::from_lsb0_bytes(key << 16, &block);
                } else {
                    set.extend(members);
                }
            }
            let exact_4096 = (0..40u32)
                .any(|key| set.range_cardinality(key << 16..(key + 1) << 16) == 4096);
            let mut serial = Vec::new();
            set.serialize_into(&mut serial).unwrap();
            let mut bits = vec![0u8; cut];
            proptest::prop_assert_eq!(set_serialized(&serial, &mut bits), !exact_4096);
            if !exact_4096 {
                proptest::prop_assert_eq!(&bits, &plain_bytes(&set, cut));
            }
            proptest::prop_assert_eq!(lsb0_bytes(&set, cut), plain_bytes(&set, cut));
            // The members read off the serialization, and the set written back from them,
            // in roaring's own layout (read back by roaring, checked) whatever the sizes.
            let members = members_of(&set);
            proptest::prop_assert!(members.iter().copied().eq(set.iter()));
            proptest::prop_assert_eq!(each_serialized(&serial, |_, _| {}), !exact_4096);
            let written = RoaringBitmap::deserialize_from(&serialized(&members)[..]);
            proptest::prop_assert!(written.is_ok_and(|w| same_members(&w, &set)));
            proptest::prop_assert!(same_members(&bitmap_of_sorted(&members), &set));
        }

        /// Renumbered in place, a bitset holds what the map makes of each member, byte for
        /// byte: members in any word of a run of live, dead or mixed ones, the dead dropped, a
        /// word's members that straddle two new words among them, and the bytes past the last
        /// member cut.
        #[test]
        fn bitsets_renumber_in_place_as_the_map_does(
            dead in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(0u64),
                    proptest::strategy::Just(u64::MAX),
                    proptest::num::u64::ANY,
                    proptest::strategy::Strategy::prop_map(0u32..64, |b| 1u64 << b),
                    proptest::strategy::Strategy::prop_map(0u32..64, |b| !(1u64 << b)),
                ],
                0..40,
            ),
            members in proptest::collection::vec(proptest::num::u64::ANY, 0..48),
            extra_bytes in 0usize..8,
        ) {
            let n = dead.len() * 64;
            let map: Vec<Handle> = {
                let mut new = 0;
                (0..n)
                    .map(|h| {
                        if dead[h / 64] & (1 << (h % 64)) != 0 {
                            Handle::MAX
                        } else {
                            new += 1;
                            new - 1
                        }
                    })
                    .collect()
            };
            let renumbering = Renumbering::of_map(&map);
            let mut bits: Vec<u8> = members.iter().flat_map(|w| w.to_le_bytes()).collect();
            bits.truncate(bits.len().saturating_sub(extra_bytes));
            // Member by member through the map (handles past it are dead), up to the last.
            let mut want: Vec<u8> = Vec::new();
            for h in (0..bits.len() * 8).filter(|&h| bits[h / 8] & (1 << (h % 8)) != 0) {
                let new = map.get(h).copied().unwrap_or(Handle::MAX);
                if new != Handle::MAX {
                    let byte = new as usize / 8;
                    if want.len() <= byte {
                        want.resize(byte + 1, 0);
                    }
                    want[byte] |= 1 << (new % 8);
                }
            }
            renumber_in_place(&mut bits, &renumbering);
            proptest::prop_assert_eq!(bits, want);
        }
    }

    #[test]
    fn remapped_bitmaps_hold_the_renumbered_live_members() {
        let map = every_third_dead(300_000);
        // Sparse (appended one by one), dense (through a bitset), across containers; dead
        // members drop out; handles past the map too.
        for step in [1_000u32, 7, 1] {
            let set: RoaringBitmap = (0..290_000).step_by(step as usize).collect();
            let mut with_extra = set.clone();
            with_extra.insert(299_999);
            with_extra.insert(u32::MAX);
            let want: RoaringBitmap = set
                .iter()
                .chain([299_999])
                .map(|h| map[h as usize])
                .filter(|&h| h != Handle::MAX)
                .collect();
            let got = remapped_bitmap(&with_extra, &Renumbering::of_map(&map));
            assert!(same_members(&got, &want), "step {step}");
        }
        let renumbering = Renumbering::of_map(&map);
        assert!(remapped_bitmap(&RoaringBitmap::from_iter([2, 5]), &renumbering).is_empty());
        // The dead bits' renumbering is the map's, dead and past the end included.
        for h in (0..300_100).chain([u32::MAX]) {
            let want = map.get(h as usize).copied().unwrap_or(Handle::MAX);
            assert_eq!(renumbering.get(h), want, "{h}");
        }
    }

    #[test]
    fn released_batches_leave_small_and_large_containers_alike() {
        // A few members per container, array containers and bitset containers. Each batch is
        // as many releases as the set notes before it drops them: runs of members (from the
        // top, newest first; from the bottom; from the middle), one range removal in arrays,
        // and members scattered through the set, one difference.
        for (step, count) in [(97, 3000), (1, 3000), (1, 10_000)] {
            let mut set = SubnetHandles::default();
            let members: Vec<Handle> = (0..count).map(|k| 70_000 + k * step).collect();
            for &h in &members {
                set.append(h);
            }
            let per_container = set.set.len() / u64::from(set.set.top_key - (70_000 >> 16) + 1);
            assert_eq!(per_container > u64::from(ARRAY_LIMIT), count == 10_000);
            let mut plain: RoaringBitmap = members.iter().copied().collect();
            for batch in 0..4 {
                let limit = usize::try_from(set.released_limit()).unwrap();
                let left: Vec<Handle> = plain.iter().collect();
                let released: Vec<Handle> = match batch {
                    0 => left.iter().rev().take(limit).copied().collect(),
                    1 => left[..limit].to_vec(),
                    2 => left[left.len() / 2..][..limit].to_vec(),
                    _ => left
                        .iter()
                        .skip(1)
                        .step_by(3)
                        .take(limit)
                        .copied()
                        .collect(),
                };
                assert_eq!(released.len(), limit);
                for (i, &h) in released.iter().enumerate() {
                    set.remove(h);
                    plain.remove(h);
                    if i + 1 == limit / 2 {
                        // Noted, not yet dropped: readers see the members only.
                        assert_eq!(set.released().len(), limit / 2);
                        assert!(same_members(&set.bitmap(), &plain));
                        assert!(set.iter().eq(plain.iter()));
                        assert_eq!(set.len(), plain.len());
                        assert!(set.check().is_ok(), "{:?}", set.check());
                    }
                }
                assert!(set.released().is_empty(), "step {step}, batch {batch}");
                assert!(
                    same_members(set.set.bitmap(), &plain),
                    "step {step}, batch {batch}"
                );
                assert_eq!(set.len(), plain.len());
                assert!(set.check().is_ok(), "{:?}", set.check());
            }
            // A handle noted twice, one not in the set, or more noted than the limit, is caught.
            let member = plain.min().unwrap();
            let mut twice = set.clone();
            twice.released.extend([member, member]);
            assert!(twice.check().is_err());
            let mut stranger = set.clone();
            stranger.released.push(1);
            assert!(stranger.check().is_err());
            let mut over = set.clone();
            let limit = usize::try_from(over.released_limit()).unwrap();
            over.released.extend(plain.iter().take(limit));
            assert!(over.check().is_err());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

        /// A handle set holds what a plain bitmap holds, and tracks its top container, through
        /// appends that cross the array limit and removals anywhere.
        #[test]
        fn handle_set_is_a_bitmap(
            steps in proptest::collection::vec((0u8..5, 1u32..2500, 0usize..100), 1..24),
        ) {
            let mut set = HandleSet::default();
            let mut plain = RoaringBitmap::new();
            let mut next = 60_000u32;
            for (op, n, pick) in steps {
                if op == 1 && next > 60_000 {
                    // Below the top: anywhere among the members.
                    let v = 60_000 + (next - 60_000) / (pick as u32 + 2);
                    proptest::prop_assert_eq!(set.insert(v), plain.insert(v));
                } else if op == 0 && !plain.is_empty() {
                    let victims: Vec<u32> = plain.iter().step_by(pick + 1).collect();
                    for v in victims {
                        proptest::prop_assert_eq!(set.remove(v), plain.remove(v));
                    }
                } else {
                    for _ in 0..n {
                        set.append(next);
                        plain.insert(next);
                        next += 1 + pick as u32 % 3;
                    }
                }
                proptest::prop_assert!(same_members(set.bitmap(), &plain));
                proptest::prop_assert_eq!(set.len(), plain.len());
                proptest::prop_assert!(set.check().is_ok(), "{:?}", set.check());
            }
            let rebuilt = HandleSet::from_sorted(plain.iter());
            proptest::prop_assert!(rebuilt.check().is_ok());
            proptest::prop_assert!(same_members(rebuilt.bitmap(), &plain));
        }

        /// A subnet's handles read as exactly its members, whether releases are noted or were
        /// dropped from the set, across containers and the array limit.
        #[test]
        fn subnet_handles_read_as_their_members(
            steps in proptest::collection::vec((proptest::bool::ANY, 1u32..6000, 0usize..50), 1..40),
        ) {
            let mut set = SubnetHandles::default();
            let mut plain = RoaringBitmap::new();
            let mut next = 65_000u32;
            let mut other = RoaringBitmap::new();
            other.insert(1);
            let mut appended = RoaringBitmap::new();
            for (release, n, pick) in steps {
                if release && !plain.is_empty() {
                    let mut victims: Vec<u32> =
                        plain.iter().step_by(pick + 1).take(n as usize).collect();
                    // Released out of order as well: the newest first.
                    if pick % 2 == 1 {
                        victims.reverse();
                    }
                    for v in victims {
                        set.remove(v);
                        plain.remove(v);
                    }
                } else {
                    for _ in 0..n {
                        set.append(next);
                        plain.insert(next);
                        appended.insert(next);
                        next += 1 + pick as u32 % 3;
                    }
                }
                proptest::prop_assert!(same_members(&set.bitmap(), &plain));
                proptest::prop_assert_eq!(set.len(), plain.len());
                proptest::prop_assert!(set.iter().eq(plain.iter()));
                if let Some(sorted) = set.sorted() {
                    proptest::prop_assert!(sorted.iter().copied().eq(plain.iter()));
                }
                let mut union = other.clone();
                set.add_to(&mut union);
                proptest::prop_assert_eq!(union, &other | &plain);
                proptest::prop_assert!(set.check().is_ok(), "{:?}", set.check());
            }
            // A compaction's renumbering: the members and every third handle of other sets live
            // on, renumbered in order; the released members and the rest died.
            let mut map = Vec::new();
            let mut new = 0;
            for h in 0..next {
                if plain.contains(h) || (!appended.contains(h) && h % 3 == 0) {
                    map.push(new);
                    new += 1;
                } else {
                    map.push(Handle::MAX);
                }
            }
            let remapped = set.remapped(&Renumbering::of_map(&map));
            let shifted: RoaringBitmap = plain.iter().map(|h| map[h as usize]).collect();
            proptest::prop_assert!(same_members(&remapped.bitmap(), &shifted));
            proptest::prop_assert!(remapped.released().is_empty() && remapped.check().is_ok());
        }
    }
}
