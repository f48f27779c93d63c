//! Secondary indexes over record handles: tags, resource type, resource id and MAC address (the
//! attached IPs are those of every type). Bitmaps where sets are large (tags, types); for
//! resource ids and MACs, where a key usually has one IP, a map of 4-byte values that holds a
//! lone handle itself and points to a bitmap for more. Indexes know nothing of addresses:
//! filters on Project, VPC, Private Network and subnet go through the subnets' own handle sets.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::marker::PhantomData;
use std::sync::Arc;

use roaring::RoaringBitmap;
use smallvec::SmallVec;

use crate::flat::FlatMap;
use crate::hash::{FastMap, KeyedState};
use crate::macorder::MacOrder;
use crate::model::enums::ResourceType;
use crate::model::ids::ResourceId;
use crate::model::mac::MacAddress;
use crate::model::tags::Tags;
use crate::postings::TagPostings;
use crate::store::{remapped_bitmap, same_members, AttachmentRef, Handle, Record, Renumbering};

/// In a [`PostingMap`] value, the bit that marks an index into its bitmaps (clear: a handle).
const SHARED: u32 = 1 << 31;

/// The handles of the IPs sharing each key. A key with one IP costs one map entry of the key and
/// a `u32`; a key with more points to a bitmap, so adding and removing stay O(log n) however many
/// IPs share a key.
#[derive(Clone, Debug)]
pub(crate) struct PostingMap<K, S = FastMap<K, u32>> {
    map: S,
    shared: Vec<RoaringBitmap>,
    free: Vec<u32>,
    key: PhantomData<K>,
}

/// Where a [`PostingMap`] keeps its key → value entries (values are never `u32::MAX`).
pub(crate) trait KeyStore<K>: Clone + fmt::Debug {
    fn with_hasher(hasher: KeyedState) -> Self;
    fn get(&self, key: &K) -> Option<u32>;
    fn insert(&mut self, key: K, value: u32);
    fn remove(&mut self, key: &K);
    fn values(&self) -> impl Iterator<Item = u32>;
    /// Rewrites every value `v` as `f(v)`.
    fn map_values(&mut self, f: impl FnMut(u32) -> u32);
}

impl<K: Hash + Eq + Clone + fmt::Debug> KeyStore<K> for FastMap<K, u32> {
    fn with_hasher(hasher: KeyedState) -> Self {
        FastMap::with_hasher(hasher)
    }

    fn get(&self, key: &K) -> Option<u32> {
        HashMap::get(self, key).copied()
    }

    fn insert(&mut self, key: K, value: u32) {
        HashMap::insert(self, key, value);
    }

    fn remove(&mut self, key: &K) {
        HashMap::remove(self, key);
    }

    fn values(&self) -> impl Iterator<Item = u32> {
        HashMap::values(self).copied()
    }

    fn map_values(&mut self, mut f: impl FnMut(u32) -> u32) {
        for v in HashMap::values_mut(self) {
            *v = f(*v);
        }
    }
}

/// MAC addresses fit in 64 bits: they key a [`FlatMap`] as they are, one cache miss per lookup.
#[derive(Clone, Debug)]
pub(crate) struct MacStore {
    map: FlatMap,
    /// Room to make at the next insert ([`Index::expect_macs`]): taken then, so that a region
    /// loaded without MAC addresses never pays for it.
    room: usize,
}

fn mac_key(mac: MacAddress) -> u64 {
    let mut bytes = [0u8; 8];
    bytes[..6].copy_from_slice(&mac.octets());
    u64::from_le_bytes(bytes)
}

impl KeyStore<MacAddress> for MacStore {
    fn with_hasher(hasher: KeyedState) -> Self {
        MacStore {
            map: FlatMap::with_hasher(hasher),
            room: 0,
        }
    }

    fn get(&self, key: &MacAddress) -> Option<u32> {
        self.map.get(mac_key(*key))
    }

    fn insert(&mut self, key: MacAddress, value: u32) {
        if self.room > 0 {
            self.map.try_reserve(std::mem::take(&mut self.room));
        }
        self.map.insert(mac_key(key), value);
    }

    fn remove(&mut self, key: &MacAddress) {
        self.map.remove(mac_key(*key));
    }

    fn values(&self) -> impl Iterator<Item = u32> {
        self.map.iter().map(|(_, v)| v)
    }

    fn map_values(&mut self, f: impl FnMut(u32) -> u32) {
        self.map.map_values(f);
    }
}

/// The handles of one key.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Postings<'a> {
    /// No IP.
    None,
    /// One IP.
    One(Handle),
    /// Two or more IPs.
    Many(&'a RoaringBitmap),
}

impl<'a> Postings<'a> {
    /// The handles, in creation order.
    pub(crate) fn iter(self) -> impl Iterator<Item = Handle> + 'a {
        let (one, many) = match self {
            Postings::None => (None, None),
            Postings::One(h) => (Some(h), None),
            Postings::Many(b) => (None, Some(b.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    pub(crate) fn contains(self, handle: Handle) -> bool {
        match self {
            Postings::None => false,
            Postings::One(h) => h == handle,
            Postings::Many(b) => b.contains(handle),
        }
    }
}

impl<K: Copy, S: KeyStore<K>> PostingMap<K, S> {
    fn new(hasher: KeyedState) -> Self {
        Self {
            map: S::with_hasher(hasher),
            shared: Vec::new(),
            free: Vec::new(),
            key: PhantomData,
        }
    }

    pub(crate) fn get(&self, key: &K) -> Postings<'_> {
        match self.map.get(key) {
            None => Postings::None,
            Some(v) if v & SHARED == 0 => Postings::One(v),
            Some(v) => Postings::Many(&self.shared[(v & !SHARED) as usize]),
        }
    }

    /// A new bitmap of `handles`; returns its value in the map.
    fn new_shared(&mut self, handles: &[Handle]) -> u32 {
        let bitmap: RoaringBitmap = handles.iter().copied().collect();
        let i = match self.free.pop() {
            Some(i) => {
                self.shared[i as usize] = bitmap;
                i
            }
            None => {
                self.shared.push(bitmap);
                u32::try_from(self.shared.len() - 1).expect("fewer keys than handles")
            }
        };
        i | SHARED
    }

    fn push(&mut self, key: K, handle: Handle) {
        let value = match self.map.get(&key) {
            None if handle & SHARED == 0 => handle,
            None => self.new_shared(&[handle]),
            Some(v) if v & SHARED == 0 => self.new_shared(&[v, handle]),
            Some(v) => {
                self.shared[(v & !SHARED) as usize].insert(handle);
                return;
            }
        };
        self.map.insert(key, value);
    }

    fn remove(&mut self, key: &K, handle: Handle) {
        let Some(v) = self.map.get(key) else {
            return;
        };
        if v & SHARED == 0 {
            if v == handle {
                self.map.remove(key);
            }
            return;
        }
        let i = v & !SHARED;
        let bitmap = &mut self.shared[i as usize];
        bitmap.remove(handle);
        let lone = match bitmap.len() {
            0 => None,
            // A lone handle goes back into the map, unless it cannot be told from an index.
            1 if bitmap.min().is_some_and(|h| h & SHARED == 0) => bitmap.min(),
            _ => return,
        };
        *bitmap = RoaringBitmap::new();
        self.free.push(i);
        match lone {
            Some(h) => self.map.insert(*key, h),
            None => self.map.remove(key),
        }
    }

    /// Renumbers every handle (order preserving).
    fn remap(&mut self, renumbering: &Renumbering) {
        self.map.map_values(|v| {
            if v & SHARED == 0 {
                renumbering.get(v)
            } else {
                v
            }
        });
        for b in &mut self.shared {
            *b = remapped_bitmap(b, renumbering);
        }
    }

    /// Number of (key, handle) pairs.
    fn pairs(&self) -> u64 {
        self.map
            .values()
            .map(|v| {
                if v & SHARED == 0 {
                    1
                } else {
                    self.shared[(v & !SHARED) as usize].len()
                }
            })
            .sum()
    }
}

#[derive(Clone, Debug)]
struct Tag {
    /// Shared with the id map's key and with every tag list that holds the tag.
    name: Arc<str>,
    handles: TagPostings,
}

/// Interned tags and their posting bitmaps. A tag id lives while some IP carries the tag.
#[derive(Clone, Debug)]
pub(crate) struct TagIndex {
    ids: FastMap<Arc<str>, u32>,
    tags: Vec<Option<Tag>>,
    free: Vec<u32>,
    /// The handles a bulk load is expected to reach ([`Index::expect_handles`]), until the next
    /// compaction: a tag's bitset that must grow takes room for them at once
    /// ([`TagPostings::insert`]). 0: no such load.
    room: Handle,
}

impl TagIndex {
    fn new(hasher: KeyedState) -> Self {
        Self {
            ids: FastMap::with_hasher(hasher),
            tags: Vec::new(),
            free: Vec::new(),
            room: 0,
        }
    }

    /// The id of `name`, if some IP carries it.
    pub(crate) fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of a live tag id.
    pub(crate) fn name(&self, id: u32) -> &Arc<str> {
        &self.tags[id as usize].as_ref().expect("live tag").name
    }

    /// The handles carrying a live tag id (see [`TagPostings::bitmap`] for the cost).
    pub(crate) fn handles(&self, id: u32) -> Cow<'_, RoaringBitmap> {
        self.postings(id).bitmap()
    }

    /// The postings of a live tag id.
    pub(crate) fn postings(&self, id: u32) -> &TagPostings {
        &self.tags[id as usize].as_ref().expect("live tag").handles
    }

    /// Starts loading the postings of `tags` where `handle` goes (see [`TagPostings::warm`]),
    /// so that their cache misses overlap. A hint: it changes nothing.
    fn warm<'a>(&self, tags: impl IntoIterator<Item = &'a u32>, handle: Handle) {
        let mut warm = false;
        for &t in tags {
            warm ^= self.postings(t).warm(handle);
        }
        std::hint::black_box(warm);
    }

    /// Adds `handle` to `name`'s postings, interning it if new; returns the tag id.
    fn add(&mut self, name: &str, handle: Handle) -> u32 {
        let id = self.intern(name);
        self.insert(id, handle);
        id
    }

    /// The id of `name`, interned with no postings if new. A tag with no postings must get
    /// some before the call that interned it returns.
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.ids.get(name) {
            return id;
        }
        let name: Arc<str> = name.into();
        let tag = Tag {
            name: Arc::clone(&name),
            handles: TagPostings::default(),
        };
        let id = if let Some(id) = self.free.pop() {
            self.tags[id as usize] = Some(tag);
            id
        } else {
            self.tags.push(Some(tag));
            u32::try_from(self.tags.len() - 1).expect("fewer tags than u32::MAX")
        };
        self.ids.insert(name, id);
        id
    }

    /// The postings of a live tag id, to change.
    fn postings_mut(&mut self, id: u32) -> &mut TagPostings {
        &mut self.tags[id as usize].as_mut().expect("live tag").handles
    }

    /// Adds `handle` to the postings of a live tag id.
    fn insert(&mut self, id: u32, handle: Handle) {
        let room = self.room;
        self.postings_mut(id).insert(handle, room);
    }

    /// [`TagIndex::insert`] of a handle the caller knows lacks the tag: a bitset's line is not
    /// read ([`TagPostings::insert_new`]).
    fn insert_new(&mut self, id: u32, handle: Handle) {
        let room = self.room;
        self.postings_mut(id).insert_new(handle, room);
    }

    fn remove(&mut self, id: u32, handle: Handle) {
        self.remove_with(id, |postings| {
            postings.remove(handle);
        });
    }

    /// [`TagIndex::remove`] of a handle the caller knows carries the tag: a bitset's line is
    /// not read ([`TagPostings::remove_member`]).
    fn remove_member(&mut self, id: u32, handle: Handle) {
        self.remove_with(id, |postings| postings.remove_member(handle));
    }

    /// Removes a handle from a live tag's postings with `remove`; frees the tag once no IP
    /// carries it.
    fn remove_with(&mut self, id: u32, remove: impl FnOnce(&mut TagPostings)) {
        let slot = &mut self.tags[id as usize];
        let tag = slot.as_mut().expect("live tag");
        remove(&mut tag.handles);
        if tag.handles.is_empty() {
            self.ids.remove(&*tag.name);
            *slot = None;
            self.free.push(id);
        }
    }

    fn live(&self) -> impl Iterator<Item = (u32, &Tag)> {
        self.tags
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((u32::try_from(i).ok()?, t.as_ref()?)))
    }
}

/// One interned tag list.
#[derive(Clone, Debug, Default)]
struct TagList {
    /// Tag ids, in the order given.
    ids: Box<[u32]>,
    /// The same tags by name, handed out (shared) with every IP built from a record.
    names: Tags,
    /// Records holding the list.
    refs: u32,
}

/// Interned tag lists (tag ids in the order given, repeats kept). IPs share a handful of tag
/// lists, so a record holds one `u32` for its tags, and the owned IPs built from records share
/// the list's names. List `0` is the empty list.
#[derive(Clone, Debug)]
pub(crate) struct TagSets {
    ids: FastMap<Box<[u32]>, u32>,
    /// Each list; free slots hold an empty list.
    sets: Vec<TagList>,
    free: Vec<u32>,
    /// Lists by a hash of their names ([`TagSets::names_key`]): from a request's names to their
    /// list in one lookup, instead of one per name and one for the ids. A shortcut only: a
    /// slot keeps the first list of its hash, and [`TagSets::intern`] finds every list.
    by_names: FlatMap,
    hasher: KeyedState,
}

impl TagSets {
    fn new(hasher: KeyedState) -> Self {
        Self {
            ids: FastMap::with_hasher(hasher),
            sets: vec![TagList::default()],
            free: Vec::new(),
            by_names: FlatMap::with_hasher(hasher),
            hasher,
        }
    }

    /// The key of a list of names in [`TagSets::by_names`] (each name ends with a byte no
    /// UTF-8 text holds, so that `["ab", "c"]` and `["a", "bc"]` differ).
    fn names_key<'a>(&self, names: impl IntoIterator<Item = &'a [u8]>) -> u64 {
        let mut h = self.hasher.build_hasher();
        for name in names {
            h.write(name);
            h.write_u8(0xff);
        }
        h.finish()
    }

    /// The live list whose names are `names` (not empty), when the shortcut knows it. No
    /// reference is taken ([`TagSets::acquire`]). The names are compared, so a slot another
    /// list took answers nothing.
    fn find(&self, names: &[String]) -> Option<u32> {
        let id = self
            .by_names
            .get(self.names_key(names.iter().map(String::as_bytes)))?;
        let list = &self.sets[id as usize];
        list.names.is(names).then_some(id)
    }

    /// Takes a reference to the live list `id` (the empty list `0` counts none).
    fn acquire(&mut self, id: u32) {
        if id != 0 {
            self.sets[id as usize].refs += 1;
        }
    }

    /// Takes a reference to the list of live tag ids `tags`; returns its id.
    fn intern(&mut self, tags: &[u32], index: &TagIndex) -> u32 {
        if tags.is_empty() {
            return 0;
        }
        if let Some(&id) = self.ids.get(tags) {
            self.sets[id as usize].refs += 1;
            // Found the long way: its shortcut slot was taken; it may be free again.
            let names_key = self.names_key(self.sets[id as usize].names.bytes());
            self.by_names.try_insert(names_key, id);
            return id;
        }
        let list = TagList {
            ids: tags.into(),
            names: Tags::from_shared(tags.iter().map(|&t| index.name(t))),
            refs: 1,
        };
        let key = list.ids.clone();
        let names_key = self.names_key(list.names.bytes());
        let id = match self.free.pop() {
            Some(id) => {
                self.sets[id as usize] = list;
                id
            }
            None => {
                self.sets.push(list);
                u32::try_from(self.sets.len() - 1).expect("fewer tag lists than records")
            }
        };
        self.ids.insert(key, id);
        // Taken by another list of the same hash: this one is found the long way.
        self.by_names.try_insert(names_key, id);
        id
    }

    /// Drops a reference to list `id`.
    fn release(&mut self, id: u32) {
        if id == 0 {
            return;
        }
        let entry = &mut self.sets[id as usize];
        entry.refs -= 1;
        if entry.refs == 0 {
            let list = std::mem::take(entry);
            self.ids.remove(&list.ids);
            let names_key = self.names_key(list.names.bytes());
            if self.by_names.get(names_key) == Some(id) {
                self.by_names.remove(names_key);
            }
            self.free.push(id);
        }
    }

    fn get(&self, id: u32) -> &[u32] {
        &self.sets[id as usize].ids
    }

    /// The names of list `id`, if the index has it.
    fn names(&self, id: u32) -> Option<&Tags> {
        self.sets.get(id as usize).map(|s| &s.names)
    }
}

/// The postings an IP's attachment change touches, each as (removed from, added to): only
/// those that differ (a move between two custom resources changes the MAC postings alone).
/// Computed once, then warmed and applied.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct AttachmentChange {
    types: (Option<ResourceType>, Option<ResourceType>),
    resources: (Option<ResourceId>, Option<ResourceId>),
    macs: (Option<MacAddress>, Option<MacAddress>),
}

impl AttachmentChange {
    pub(crate) fn new(old: Option<AttachmentRef<'_>>, new: Option<AttachmentRef<'_>>) -> Self {
        fn changed<T: PartialEq>(old: Option<T>, new: Option<T>) -> (Option<T>, Option<T>) {
            if old == new {
                (None, None)
            } else {
                (old, new)
            }
        }
        // Custom resources are found by the IP's own id, not through the resource postings.
        let product = |a: Option<AttachmentRef<'_>>| {
            a.filter(|a| a.resource_type != ResourceType::Custom)
                .map(|a| a.id)
        };
        Self {
            types: changed(old.map(|a| a.resource_type), new.map(|a| a.resource_type)),
            resources: changed(product(old), product(new)),
            macs: changed(old.and_then(|a| a.mac), new.and_then(|a| a.mac)),
        }
    }
}

/// All secondary indexes of one region.
#[derive(Clone, Debug)]
pub(crate) struct Index {
    pub(crate) tags: TagIndex,
    pub(crate) tag_sets: TagSets,
    /// The handles of each resource type's IPs. An IP is attached when it is in one of them: no
    /// set of the attached IPs is kept beside, which every attachment and detachment would
    /// change too.
    pub(crate) by_type: Vec<RoaringBitmap>,
    pub(crate) by_resource: PostingMap<ResourceId>,
    pub(crate) by_mac: PostingMap<MacAddress, MacStore>,
    /// The IPs with a MAC address in MAC order, for lists in that order, when the engine keeps
    /// it ([`crate::IpamBuilder::mac_order_index`]).
    pub(crate) mac_order: Option<MacOrder>,
}

impl Index {
    pub(crate) fn new(hasher: KeyedState) -> Self {
        Self {
            tags: TagIndex::new(hasher),
            tag_sets: TagSets::new(hasher),
            by_type: vec![RoaringBitmap::new(); ResourceType::COUNT],
            by_resource: PostingMap::new(hasher),
            by_mac: PostingMap::new(hasher),
            mac_order: None,
        }
    }

    /// The index, keeping the MAC order or not (of an empty index).
    pub(crate) fn keeping_mac_order(mut self, keep: bool) -> Self {
        debug_assert_eq!(self.by_mac.pairs(), 0, "an empty index");
        self.mac_order = keep.then(MacOrder::default);
        self
    }

    /// Posts `handle` under each of `names` and returns the id of the interned tag list.
    #[inline]
    pub(crate) fn add_tags(&mut self, handle: Handle, names: &[String]) -> u32 {
        // Most bookings carry no tags: that answer is inlined.
        if names.is_empty() {
            return 0;
        }
        self.add_some_tags(handle, names)
    }

    /// [`Index::add_tags`] of a non-empty list.
    fn add_some_tags(&mut self, handle: Handle, names: &[String]) -> u32 {
        if let Some(set) = self.tag_sets.find(names) {
            for &t in self.tag_sets.get(set) {
                self.tags.insert(t, handle);
            }
            self.tag_sets.acquire(set);
            return set;
        }
        let ids: SmallVec<[u32; 4]> = names.iter().map(|n| self.tags.add(n, handle)).collect();
        self.tag_sets.intern(&ids, &self.tags)
    }

    /// Drops `handle` from the postings of the tag list `set`, and the list's reference.
    pub(crate) fn remove_tags(&mut self, handle: Handle, set: u32) {
        let ids = self.tag_sets.get(set);
        for (i, &id) in ids.iter().enumerate() {
            if !ids[..i].contains(&id) {
                self.tags.remove(id, handle);
            }
        }
        self.tag_sets.release(set);
    }

    /// Replaces the tags of `handle` (tag list `old`) with `names`; returns the new list's id.
    /// Only the postings of tags that come or go change; the same tags in the same order change
    /// nothing.
    #[cfg(test)]
    pub(crate) fn replace_tags(&mut self, handle: Handle, old: u32, names: &[String]) -> u32 {
        let known = self.known_tags(names);
        self.replace_tags_known(handle, old, names, known)
    }

    /// The interned list of `names` when the shortcut by names knows it (`Some(0)` for no
    /// names): where replacing an IP's tags starts, which a caller may look up ahead of it.
    pub(crate) fn known_tags(&self, names: &[String]) -> Option<u32> {
        if names.is_empty() {
            Some(0)
        } else {
            self.tag_sets.find(names)
        }
    }

    /// Starts loading the postings of the tags of the live list `set` where `handle` goes (see
    /// [`TagPostings::warm`]). A hint: it changes nothing.
    pub(crate) fn warm_tags(&self, set: u32, handle: Handle) {
        self.tags.warm(self.tag_sets.get(set), handle);
    }

    /// Replaces the tags of `handle` (tag list `old`) with `names`, given `known`:
    /// [`Index::known_tags`] of `names`, looked up with no change to the index since. Returns
    /// the new list's id; only the postings of tags that come or go change. When `known` names
    /// a list, the caller has started loading its tags' postings at `handle`
    /// ([`Index::warm_tags`]).
    pub(crate) fn replace_tags_known(
        &mut self,
        handle: Handle,
        old: u32,
        names: &[String],
        known: Option<u32>,
    ) -> u32 {
        debug_assert_eq!(known, self.known_tags(names));
        if known == Some(old) {
            return old;
        }
        let mut interned: SmallVec<[u32; 4]> = SmallVec::new();
        if known.is_none() {
            interned = names.iter().map(|n| self.tags.intern(n)).collect();
        }
        // Both lists are read in place: only the tag postings change until the lists' counts.
        let new: &[u32] = match known {
            Some(set) => self.tag_sets.get(set),
            None => &interned,
        };
        let current = self.tag_sets.get(old);
        if new == current {
            return old;
        }
        // The tags that come and that go, each once (a list may repeat a tag).
        let mut come: SmallVec<[u32; 4]> = SmallVec::new();
        for &t in new {
            if !current.contains(&t) && !come.contains(&t) {
                come.push(t);
            }
        }
        let mut gone: SmallVec<[u32; 4]> = SmallVec::new();
        for &t in current {
            if !new.contains(&t) && !gone.contains(&t) {
                gone.push(t);
            }
        }
        // In a large region a roaring set's change below touches cold memory: start every load
        // first (TagPostings::warm), so that their cache misses overlap instead of queueing one
        // behind the other; the changes then find the lines in cache (a bitset's change reads
        // nothing). The postings of a known list's tags, the caller started loading already
        // (Index::warm_tags).
        let coming: &[u32] = if known.is_some() { &[] } else { &come };
        self.tags.warm(gone.iter().chain(coming), handle);
        // Add before removing, so that no tag of the new list is left without postings (and
        // freed) in between. The record's old list says which tags the handle carries, so no
        // posting is read to find out: a bitset notes the change as a flip, without its line.
        for &t in &come {
            self.tags.insert_new(t, handle);
        }
        for &t in &gone {
            self.tags.remove_member(t, handle);
        }
        self.tag_sets.release(old);
        match known {
            Some(set) => {
                self.tag_sets.acquire(set);
                set
            }
            None => self.tag_sets.intern(&interned, &self.tags),
        }
    }

    /// The tag ids of the tag list `set`, in the order given.
    pub(crate) fn tag_ids(&self, set: u32) -> &[u32] {
        self.tag_sets.get(set)
    }

    /// [`Index::tag_names`], or `None` for a list the index does not have (instead of a panic,
    /// which is a call: the owned get's `fill_common` makes none).
    pub(crate) fn tag_names_opt(&self, set: u32) -> Option<&Tags> {
        self.tag_sets.names(set)
    }

    /// The tags of the tag list `set` by name, in the order given.
    pub(crate) fn tag_names(&self, set: u32) -> &Tags {
        self.tag_names_opt(set).expect("a live tag list")
    }

    pub(crate) fn add_attachment(&mut self, handle: Handle, a: AttachmentRef<'_>) {
        self.change_attachment(handle, &AttachmentChange::new(None, Some(a)));
    }

    /// Moves `handle` between the postings of `change`.
    pub(crate) fn change_attachment(&mut self, handle: Handle, change: &AttachmentChange) {
        let (from, to) = change.types;
        if let Some(t) = from {
            self.by_type[t.index()].remove(handle);
        }
        if let Some(t) = to {
            self.by_type[t.index()].insert(handle);
        }
        let (from, to) = change.resources;
        if let Some(id) = from {
            self.by_resource.remove(&id, handle);
        }
        if let Some(id) = to {
            self.by_resource.push(id, handle);
        }
        let (from, to) = change.macs;
        if let Some(mac) = from {
            self.by_mac.remove(&mac, handle);
            if let Some(order) = &mut self.mac_order {
                order.remove(mac, handle);
            }
        }
        if let Some(mac) = to {
            self.by_mac.push(mac, handle);
            if let Some(order) = &mut self.mac_order {
                order.insert(mac, handle);
            }
        }
    }

    /// Reads the postings that `change` will change, so that their cache misses overlap (as
    /// [`Index::replace_tags_known`] does for tags).
    pub(crate) fn warm_attachment(&self, handle: Handle, change: &AttachmentChange) {
        let mut warm = 0u32;
        let (from, to) = change.types;
        for t in from.into_iter().chain(to) {
            warm ^= u32::from(self.by_type[t.index()].contains(handle));
        }
        let (from, to) = change.resources;
        for id in from.into_iter().chain(to) {
            warm ^= u32::from(self.by_resource.get(&id).contains(handle));
        }
        let (from, to) = change.macs;
        for mac in from.into_iter().chain(to) {
            self.prefetch_mac(mac);
        }
        std::hint::black_box(warm);
    }

    pub(crate) fn remove_attachment(&mut self, handle: Handle, a: AttachmentRef<'_>) {
        self.change_attachment(handle, &AttachmentChange::new(Some(a), None));
    }

    /// The non-empty sets of [`Index::by_type`]: together, the handles of the attached IPs.
    pub(crate) fn attached_by_type(&self) -> impl Iterator<Item = &RoaringBitmap> {
        self.by_type.iter().filter(|b| !b.is_empty())
    }

    /// Handles of the attached IPs: borrowed when they are all of one resource type, as they
    /// mostly are, else the union of the types' sets.
    pub(crate) fn attached(&self) -> Cow<'_, RoaringBitmap> {
        let mut sets = self.attached_by_type();
        match (sets.next(), sets.next()) {
            (None, _) => Cow::Owned(RoaringBitmap::new()),
            (Some(one), None) => Cow::Borrowed(one),
            (Some(a), Some(b)) => Cow::Owned(sets.fold(a | b, |acc, s| acc | s)),
        }
    }

    /// Handles of IPs attached to the product resource `id`. A custom resource's id is its IP's
    /// id, so custom attachments are found by that id instead and are not posted here.
    pub(crate) fn resource(&self, id: ResourceId) -> Postings<'_> {
        self.by_resource.get(&id)
    }

    /// Makes room for `additional` more MAC addresses when the first one comes, so that a bulk
    /// load of IPs with MAC addresses does not grow the MAC postings step by step, and one
    /// without any allocates nothing.
    pub(crate) fn expect_macs(&mut self, additional: usize) {
        let room = &mut self.by_mac.map.room;
        *room = (*room).max(additional);
    }

    /// Makes a tag's bitset take room for the handles below `handles` at once, until the next
    /// compaction, so that a bulk load reaching them does not grow it step by step.
    pub(crate) fn expect_handles(&mut self, handles: Handle) {
        self.tags.room = self.tags.room.max(handles);
    }

    /// Starts loading the slot of `mac` in the MAC postings (a hint, see [`FlatMap::prefetch`]).
    pub(crate) fn prefetch_mac(&self, mac: MacAddress) {
        self.by_mac.map.map.prefetch(mac_key(mac));
        if let Some(order) = &self.mac_order {
            order.warm(mac, 0);
        }
    }

    /// Handles of IPs attached to a resource with `mac`.
    pub(crate) fn mac(&self, mac: MacAddress) -> Postings<'_> {
        self.by_mac.get(&mac)
    }

    /// Renumbers every handle through a compaction's `renumbering` (order preserving).
    pub(crate) fn remap(&mut self, renumbering: &Renumbering) {
        // The load the room was for is over, and the handles it named are renumbered.
        self.tags.room = 0;
        for tag in self.tags.tags.iter_mut().flatten() {
            tag.handles.remap(renumbering);
        }
        for b in &mut self.by_type {
            *b = remapped_bitmap(b, renumbering);
        }
        self.by_resource.remap(renumbering);
        self.by_mac.remap(renumbering);
        if let Some(order) = &mut self.mac_order {
            order.remap(renumbering);
        }
    }

    /// Checks every index entry against the records, in both directions.
    pub(crate) fn check<'a>(
        &self,
        records: impl Iterator<Item = (Handle, &'a Record)>,
    ) -> Result<(), String> {
        let mut by_type = vec![RoaringBitmap::new(); ResourceType::COUNT];
        let mut tags: FastMap<u32, RoaringBitmap> = FastMap::default();
        let mut resources = 0u64;
        let mut macs = 0u64;
        let mut set_refs: FastMap<u32, u32> = FastMap::default();
        for (h, r) in records {
            for &t in self.tag_ids(r.tags) {
                tags.entry(t).or_default().insert(h);
            }
            if r.tags != 0 {
                *set_refs.entry(r.tags).or_default() += 1;
            }
            if let Some(a) = r.attachment() {
                by_type[a.resource_type.index()].insert(h);
                if a.resource_type != ResourceType::Custom {
                    if !self.resource(a.id).contains(h) {
                        return Err(format!(
                            "handle {h} missing from resource {} postings",
                            a.id
                        ));
                    }
                    resources += 1;
                }
                if let Some(mac) = a.mac {
                    if !self.mac(mac).contains(h) {
                        return Err(format!("handle {h} missing from mac {mac} postings"));
                    }
                    if self.mac_order.as_ref().is_some_and(|o| !o.contains(mac, h)) {
                        return Err(format!("handle {h} with mac {mac} missing from mac order"));
                    }
                    macs += 1;
                }
            }
        }
        if by_type
            .iter()
            .zip(&self.by_type)
            .any(|(rebuilt, kept)| !same_members(rebuilt, kept))
        {
            return Err("resource type sets disagree with records".into());
        }
        let posted = self.by_resource.pairs();
        if posted != resources {
            return Err(format!(
                "{posted} resource postings for {resources} attachments"
            ));
        }
        let posted = self.by_mac.pairs();
        if posted != macs {
            return Err(format!(
                "{posted} mac postings for {macs} attachments with a mac"
            ));
        }
        if let Some(order) = &self.mac_order {
            order.check()?;
            if order.len() != macs {
                return Err(format!(
                    "{} keys in mac order for {macs} attachments with a mac",
                    order.len()
                ));
            }
        }
        let mut live_tags = 0;
        for (id, tag) in self.tags.live() {
            live_tags += 1;
            if self.tags.id(&tag.name) != Some(id) {
                return Err(format!("tag {:?} not interned as {id}", tag.name));
            }
            tag.handles.check()?;
            // Compared by members: a bitset's roaring form may hold them in other containers.
            let posted = tag.handles.bitmap();
            if !tags.get(&id).is_some_and(|b| b.iter().eq(posted.iter())) {
                return Err(format!("tag {:?} postings disagree with records", tag.name));
            }
        }
        if live_tags != tags.len() || live_tags != self.tags.ids.len() {
            return Err("tag interner holds unused or missing tags".into());
        }
        let sets = &self.tag_sets;
        for (i, list) in sets.sets.iter().enumerate().skip(1) {
            let i = u32::try_from(i).map_err(|e| e.to_string())?;
            let refs = list.refs;
            if set_refs.get(&i).copied().unwrap_or(0) != refs {
                return Err(format!("tag list {i} counts {refs} records, wrongly"));
            }
            if refs > 0 && sets.ids.get(&list.ids) != Some(&i) {
                return Err(format!("tag list {i} is not interned"));
            }
            // A list's ids may name dead tags in a broken index: reported, not a panic.
            let named = list.ids.iter().map(|&t| {
                let tag = self.tags.tags.get(t as usize).and_then(Option::as_ref);
                tag.map(|tag| &*tag.name)
            });
            if refs > 0 && !list.names.iter().map(Some).eq(named) {
                return Err(format!("tag list {i} names other tags than its ids"));
            }
        }
        if sets.ids.len() != set_refs.len() {
            return Err("tag list interner holds unused lists".into());
        }
        for (key, id) in sets.by_names.iter() {
            let list = sets.sets.get(id as usize).filter(|l| l.refs > 0);
            if list.is_none_or(|l| sets.names_key(l.names.bytes()) != key) {
                return Err(format!(
                    "tag list shortcut {key:#x} names no live list {id}"
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn handles(p: &PostingMap<u8>, key: u8) -> Vec<Handle> {
        p.get(&key).iter().collect()
    }

    #[test]
    fn posting_map_moves_between_one_and_many() {
        let mut p = PostingMap::new(KeyedState::default());
        p.push(1, 7);
        assert!(matches!(p.get(&1), Postings::One(7)));
        p.push(1, 3);
        p.push(1, 9);
        assert_eq!(handles(&p, 1), [3, 7, 9]);
        assert_eq!(p.pairs(), 3);
        p.remove(&1, 7);
        p.remove(&1, 3);
        assert!(matches!(p.get(&1), Postings::One(9)));
        assert_eq!(p.free.len(), 1);
        p.remove(&1, 9);
        assert!(matches!(p.get(&1), Postings::None));
        assert!(p.map.is_empty());
        // A freed bitmap is reused.
        p.push(2, 1);
        p.push(2, 2);
        assert!(p.free.is_empty());
        assert_eq!(handles(&p, 2), [1, 2]);
        p.remove(&2, 5);
        assert_eq!(handles(&p, 2), [1, 2]);
    }

    /// Told which handles a load reaches, a tag's bitset takes room for them the first time it
    /// grows, and never again while the load fills it; without, it grows as the handles come;
    /// after a compaction, the room is forgotten.
    #[test]
    fn a_tags_bitset_takes_the_room_of_an_expected_load_at_once() {
        const LOAD: Handle = 200_000;
        let names = ["dense".to_owned()];
        let capacity = |index: &Index| match index.tags.postings(index.tags.id("dense")?) {
            TagPostings::Dense { bits, .. } => Some(bits.capacity()),
            _ => None,
        };
        let mut growths = [0, 0];
        let mut last = [None, None];
        for (expected, (grew, last)) in [true, false]
            .into_iter()
            .zip(growths.iter_mut().zip(&mut last))
        {
            let mut index = Index::new(KeyedState::default());
            if expected {
                index.expect_handles(LOAD);
            }
            // One handle in 50: a bitset's density.
            for h in (0..LOAD).step_by(50) {
                index.add_tags(h, &names);
                let now = capacity(&index);
                if let (Some(before), Some(bytes)) = (*last, now) {
                    *grew += usize::from(before != bytes);
                }
                *last = now.or(*last);
            }
        }
        assert_eq!(growths[0], 1, "expected: one growth, to the room");
        assert!(last[0].is_some_and(|bytes| bytes >= LOAD as usize / 8));
        assert!(growths[1] > 5, "unexpected: it grew {} times", growths[1]);
        // A compaction forgets the room.
        let mut index = Index::new(KeyedState::default());
        index.expect_handles(LOAD);
        index.remap(&Renumbering::of_map(&[]));
        assert_eq!(index.tags.room, 0);
    }

    #[test]
    fn replacing_tags_with_the_same_list_changes_nothing() {
        let mut index = Index::new(KeyedState::default());
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let list = index.add_tags(7, &names(&["a", "b", "a"]));
        assert_eq!(index.replace_tags(7, list, &names(&["a", "b", "a"])), list);
        assert_eq!(index.tag_sets.sets[list as usize].refs, 1);
        // Another order is another list; the old one is dropped with its postings.
        let (a, b) = (index.tags.id("a").unwrap(), index.tags.id("b").unwrap());
        let other = index.replace_tags(7, list, &names(&["b", "a"]));
        assert_eq!(index.tag_ids(other), [b, a]);
        assert!(!index.tag_sets.ids.contains_key(&[a, b, a][..]));
        assert!(index.tags.handles(a).contains(7));
        assert_eq!(index.replace_tags(7, other, &[]), 0);
        assert_eq!(index.tags.id("a"), None);
    }

    #[test]
    fn replacing_tags_changes_only_the_postings_of_tags_that_come_or_go() {
        let mut index = Index::new(KeyedState::default());
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let first = index.add_tags(7, &names(&["keep", "gone", "gone"]));
        index.add_tags(8, &names(&["keep"]));
        let old_list = index.tag_ids(first).to_vec();
        let list = index.replace_tags(7, first, &names(&["new", "keep", "new"]));
        let id = |index: &Index, n: &str| index.tags.id(n);
        let (keep, new) = (id(&index, "keep").unwrap(), id(&index, "new").unwrap());
        assert_eq!(index.tag_ids(list), [new, keep, new]);
        assert_eq!(index.tags.handles(keep).iter().collect::<Vec<_>>(), [7, 8]);
        assert_eq!(index.tags.handles(new).iter().collect::<Vec<_>>(), [7]);
        // "gone" had only IP 7: the tag and the old list are dropped.
        assert_eq!(id(&index, "gone"), None);
        assert!(!index.tag_sets.ids.contains_key(&old_list[..]));
        assert_eq!(
            index.replace_tags(7, list, &names(&["keep"])),
            index.tag_sets.ids[&[keep][..]]
        );
        assert_eq!(id(&index, "new"), None);
        assert_eq!(index.tags.handles(keep).len(), 2);
    }

    #[test]
    fn attachment_changes_touch_only_the_postings_that_differ() {
        let ip = ResourceId::from_uuid(uuid::Uuid::from_u128(1));
        let server = ResourceId::from_uuid(uuid::Uuid::from_u128(2));
        let (m1, m2) = (
            MacAddress::new([2, 0, 0, 0, 0, 1]),
            MacAddress::new([2, 0, 0, 0, 0, 2]),
        );
        let custom = |mac| AttachmentRef {
            resource_type: ResourceType::Custom,
            id: ip,
            mac: Some(mac),
            name: None,
            attached_at: 0,
        };
        let product = AttachmentRef {
            resource_type: ResourceType::InstanceServer,
            id: server,
            mac: Some(m1),
            name: Some("srv"),
            attached_at: 0,
        };
        let change = AttachmentChange::new;
        let (custom_type, server_type) = (ResourceType::Custom, ResourceType::InstanceServer);
        assert_eq!(
            change(Some(custom(m1)), Some(custom(m2))),
            AttachmentChange {
                macs: (Some(m1), Some(m2)),
                ..AttachmentChange::default()
            }
        );
        assert_eq!(
            change(Some(custom(m1)), Some(custom(m1))),
            AttachmentChange::default()
        );
        assert_eq!(
            change(None, Some(custom(m1))),
            AttachmentChange {
                types: (None, Some(custom_type)),
                resources: (None, None),
                macs: (None, Some(m1)),
            }
        );
        assert_eq!(
            change(Some(product), None),
            AttachmentChange {
                types: (Some(server_type), None),
                resources: (Some(server), None),
                macs: (Some(m1), None),
            }
        );
        // Same MAC, another kind of resource: the type and resource postings change.
        assert_eq!(
            change(Some(custom(m1)), Some(product)),
            AttachmentChange {
                types: (Some(custom_type), Some(server_type)),
                resources: (None, Some(server)),
                macs: (None, None),
            }
        );
        let mut index = Index::new(KeyedState::default());
        index.change_attachment(3, &change(None, Some(custom(m1))));
        index.change_attachment(3, &change(Some(custom(m1)), Some(product)));
        assert!(index.attached().contains(3) && index.by_type[server_type.index()].contains(3));
        assert!(!index.by_type[custom_type.index()].contains(3));
        assert!(index.resource(server).contains(3) && index.mac(m1).contains(3));
        index.change_attachment(3, &change(Some(product), None));
        assert!(index.attached().is_empty() && matches!(index.mac(m1), Postings::None));
        assert!(matches!(index.resource(server), Postings::None));
    }

    #[test]
    fn expected_macs_are_made_room_for_at_the_first() {
        let mut index = Index::new(KeyedState::default());
        index.expect_macs(1000);
        // A smaller expectation after it takes nothing back.
        index.expect_macs(10);
        // Nothing until a MAC address comes...
        assert_eq!(index.by_mac.map.map.heap_bytes(), 0);
        let custom = |i: u8| AttachmentRef {
            resource_type: ResourceType::Custom,
            id: ResourceId::from_uuid(uuid::Uuid::from_u128(u128::from(i))),
            mac: Some(MacAddress::new([2, 0, 0, 0, 0, i])),
            name: None,
            attached_at: 0,
        };
        index.add_attachment(1, custom(1));
        // ...then room for all of them at once (prepared in steps), and no more memory after.
        let room = index.by_mac.map.map.heap_bytes();
        assert!(room >= 1000 * 12, "{room}");
        for i in 2..200 {
            index.add_attachment(u32::from(i), custom(i));
            assert!(index.by_mac.map.map.heap_bytes() <= room);
        }
        assert_eq!(index.by_mac.pairs(), 199);
    }

    #[test]
    fn a_tag_list_whose_names_are_not_its_tags_is_caught() {
        let mut index = Index::new(KeyedState::default());
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let list = index.add_tags(0, &names(&["a", "b"]));
        let id = crate::model::ids::IpId::from_uuid(uuid::Uuid::from_u128(1));
        let record = Record::new(id, 0, 0, 0, list);
        index.check(std::iter::once((0, &record))).unwrap();
        index.tag_sets.sets[list as usize].names = Tags::from_iter(["a", "c"]);
        let err = index.check(std::iter::once((0, &record))).unwrap_err();
        assert!(err.contains("names other tags"), "{err}");
    }

    #[test]
    fn lists_are_found_by_their_names_and_the_long_way_alike() {
        let mut index = Index::new(KeyedState::default());
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let id = |n: u128| crate::model::ids::IpId::from_uuid(uuid::Uuid::from_u128(n));
        let ab = index.add_tags(1, &names(&["a", "b"]));
        let key = index.tag_sets.names_key([&b"a"[..], b"b"]);
        assert_eq!(index.tag_sets.by_names.get(key), Some(ab));
        // Found by name: the same list, one more reference, the handle in both postings.
        assert_eq!(index.add_tags(2, &names(&["a", "b"])), ab);
        assert_eq!(index.tag_sets.sets[ab as usize].refs, 2);
        for t in ["a", "b"] {
            let t = index.tags.id(t).unwrap();
            assert!(index.tags.postings(t).contains(1) && index.tags.postings(t).contains(2));
        }
        // Names are delimited: "a" + "bc" is another list than "ab" + "c".
        assert_ne!(
            index.tag_sets.names_key([&b"a"[..], b"bc"]),
            index.tag_sets.names_key([&b"ab"[..], b"c"])
        );
        // A list its shortcut slot does not name (another list of the same hash took it) is
        // found the long way, as the same list, and takes the slot back once it is free.
        index.tag_sets.by_names.remove(key);
        assert_eq!(index.replace_tags(3, 0, &names(&["a", "b"])), ab);
        assert_eq!(index.tag_sets.sets[ab as usize].refs, 3);
        assert_eq!(index.tag_sets.by_names.get(key), Some(ab));
        // Updates to a known list and back to none keep the counts.
        let ba = index.replace_tags(3, ab, &names(&["b", "a"]));
        assert_ne!(ba, ab);
        assert_eq!(index.replace_tags(2, ab, &names(&["b", "a"])), ba);
        assert_eq!(index.tag_sets.sets[ba as usize].refs, 2);
        assert_eq!(index.replace_tags(2, ba, &[]), 0);
        let records = [
            (1, Record::new(id(1), 0, 0, 0, ab)),
            (2, Record::new(id(2), 0, 0, 0, 0)),
            (3, Record::new(id(3), 0, 0, 0, ba)),
        ];
        index.check(records.iter().map(|(h, r)| (*h, r))).unwrap();
        // The last holder gone, the list and its shortcut go.
        index.remove_tags(3, ba);
        let key_ba = index.tag_sets.names_key([&b"b"[..], b"a"]);
        assert_eq!(index.tag_sets.by_names.get(key_ba), None);
        index
            .check(records[..2].iter().map(|(h, r)| (*h, r)))
            .unwrap();
        // A shortcut naming a dead list is caught.
        index.tag_sets.by_names.insert(key_ba, ba);
        let err = index
            .check(records[..2].iter().map(|(h, r)| (*h, r)))
            .unwrap_err();
        assert!(err.contains("shortcut"), "{err}");
    }

    #[test]
    fn posting_map_keeps_large_handles_in_bitmaps() {
        let mut p = PostingMap::new(KeyedState::default());
        let big = SHARED + 5;
        p.push(1, big);
        assert!(matches!(p.get(&1), Postings::Many(_)));
        assert_eq!(handles(&p, 1), [big]);
        p.push(1, 4);
        p.remove(&1, 4);
        assert_eq!(handles(&p, 1), [big]);
        p.remove(&1, big);
        assert!(p.map.is_empty());
        p.remap(&Renumbering::of_map(&[]));
    }
}
