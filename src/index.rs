//! Secondary indexes over record handles: tags, attachment state, resource type, resource id and
//! MAC address. Bitmaps where sets are large (tags, types, attached); small vectors where a key
//! has one or two IPs (a resource's or MAC's IPv4 and IPv6). Indexes know nothing of addresses:
//! filters on Project, VPC, Private Network and subnet go through the subnets' own handle sets.

use roaring::RoaringBitmap;
use smallvec::SmallVec;

use crate::hash::{FastMap, KeyedState};
use crate::model::enums::ResourceType;
use crate::model::ids::ResourceId;
use crate::model::mac::MacAddress;
use crate::store::{Attachment, Handle, Record};

/// Handles of the (usually one or two) IPs sharing a key.
pub(crate) type Postings = SmallVec<[Handle; 2]>;

#[derive(Clone, Debug)]
struct Tag {
    name: Box<str>,
    handles: RoaringBitmap,
}

/// Interned tags and their posting bitmaps. A tag id lives while some IP carries the tag.
#[derive(Clone, Debug)]
pub(crate) struct TagIndex {
    ids: FastMap<Box<str>, u32>,
    tags: Vec<Option<Tag>>,
    free: Vec<u32>,
}

impl TagIndex {
    fn new(hasher: KeyedState) -> Self {
        Self {
            ids: FastMap::with_hasher(hasher),
            tags: Vec::new(),
            free: Vec::new(),
        }
    }

    /// The id of `name`, if some IP carries it.
    pub(crate) fn id(&self, name: &str) -> Option<u32> {
        self.ids.get(name).copied()
    }

    /// The name of a live tag id.
    pub(crate) fn name(&self, id: u32) -> &str {
        &self.tags[id as usize].as_ref().expect("live tag").name
    }

    /// The handles carrying a live tag id.
    pub(crate) fn handles(&self, id: u32) -> &RoaringBitmap {
        &self.tags[id as usize].as_ref().expect("live tag").handles
    }

    /// Adds `handle` to `name`'s postings, interning it if new; returns the tag id.
    fn add(&mut self, name: &str, handle: Handle) -> u32 {
        let id = if let Some(&id) = self.ids.get(name) {
            id
        } else {
            let tag = Tag {
                name: name.into(),
                handles: RoaringBitmap::new(),
            };
            let id = if let Some(id) = self.free.pop() {
                self.tags[id as usize] = Some(tag);
                id
            } else {
                self.tags.push(Some(tag));
                u32::try_from(self.tags.len() - 1).expect("fewer tags than u32::MAX")
            };
            self.ids.insert(name.into(), id);
            id
        };
        self.tags[id as usize]
            .as_mut()
            .expect("live tag")
            .handles
            .insert(handle);
        id
    }

    fn remove(&mut self, id: u32, handle: Handle) {
        let slot = &mut self.tags[id as usize];
        let tag = slot.as_mut().expect("live tag");
        tag.handles.remove(handle);
        if tag.handles.is_empty() {
            self.ids.remove(&tag.name);
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

/// All secondary indexes of one region.
#[derive(Clone, Debug)]
pub(crate) struct Index {
    pub(crate) tags: TagIndex,
    pub(crate) attached: RoaringBitmap,
    pub(crate) by_type: Vec<RoaringBitmap>,
    pub(crate) by_resource: FastMap<ResourceId, Postings>,
    pub(crate) by_mac: FastMap<MacAddress, Postings>,
}

fn postings_remove<K: std::hash::Hash + Eq>(
    map: &mut FastMap<K, Postings>,
    key: &K,
    handle: Handle,
) {
    if let Some(p) = map.get_mut(key) {
        p.retain(|h| *h != handle);
        if p.is_empty() {
            map.remove(key);
        }
    }
}

impl Index {
    pub(crate) fn new(hasher: KeyedState) -> Self {
        Self {
            tags: TagIndex::new(hasher),
            attached: RoaringBitmap::new(),
            by_type: vec![RoaringBitmap::new(); ResourceType::COUNT],
            by_resource: FastMap::with_hasher(hasher),
            by_mac: FastMap::with_hasher(hasher),
        }
    }

    /// Interns `names` for `handle` and returns their ids, in order (duplicates kept).
    pub(crate) fn add_tags(&mut self, handle: Handle, names: &[String]) -> SmallVec<[u32; 3]> {
        names.iter().map(|n| self.tags.add(n, handle)).collect()
    }

    /// Drops `handle` from the postings of `ids`.
    pub(crate) fn remove_tags(&mut self, handle: Handle, ids: &[u32]) {
        for (i, &id) in ids.iter().enumerate() {
            if !ids[..i].contains(&id) {
                self.tags.remove(id, handle);
            }
        }
    }

    pub(crate) fn add_attachment(&mut self, handle: Handle, a: &Attachment) {
        self.attached.insert(handle);
        self.by_type[a.resource_type.index()].insert(handle);
        if a.resource_type != ResourceType::Custom {
            self.by_resource.entry(a.id).or_default().push(handle);
        }
        if let Some(mac) = a.mac {
            self.by_mac.entry(mac).or_default().push(handle);
        }
    }

    pub(crate) fn remove_attachment(&mut self, handle: Handle, a: &Attachment) {
        self.attached.remove(handle);
        self.by_type[a.resource_type.index()].remove(handle);
        if a.resource_type != ResourceType::Custom {
            postings_remove(&mut self.by_resource, &a.id, handle);
        }
        if let Some(mac) = a.mac {
            postings_remove(&mut self.by_mac, &mac, handle);
        }
    }

    /// Handles of IPs attached to the product resource `id`. A custom resource's id is its IP's
    /// id, so custom attachments are found through the id map instead and are not posted here.
    pub(crate) fn resource(&self, id: ResourceId) -> &[Handle] {
        self.by_resource.get(&id).map_or(&[], |p| p.as_slice())
    }

    /// Handles of IPs attached to a resource with `mac`.
    pub(crate) fn mac(&self, mac: MacAddress) -> &[Handle] {
        self.by_mac.get(&mac).map_or(&[], |p| p.as_slice())
    }

    /// Renumbers every handle through `map` (old handle → new handle, order preserving).
    pub(crate) fn remap(&mut self, map: &[Handle]) {
        let remap_bitmap = |b: &mut RoaringBitmap| {
            *b = RoaringBitmap::from_sorted_iter(b.iter().map(|h| map[h as usize]))
                .expect("order-preserving map");
        };
        for tag in self.tags.tags.iter_mut().flatten() {
            remap_bitmap(&mut tag.handles);
        }
        remap_bitmap(&mut self.attached);
        for b in &mut self.by_type {
            remap_bitmap(b);
        }
        for p in self
            .by_resource
            .values_mut()
            .chain(self.by_mac.values_mut())
        {
            for h in p.iter_mut() {
                *h = map[*h as usize];
            }
        }
    }

    /// Checks every index entry against the records, in both directions.
    pub(crate) fn check<'a>(
        &self,
        records: impl Iterator<Item = (Handle, &'a Record)>,
    ) -> Result<(), String> {
        let mut attached = RoaringBitmap::new();
        let mut by_type = vec![RoaringBitmap::new(); ResourceType::COUNT];
        let mut tags: FastMap<u32, RoaringBitmap> = FastMap::default();
        let mut resources = 0usize;
        let mut macs = 0usize;
        for (h, r) in records {
            for &t in &r.tags {
                tags.entry(t).or_default().insert(h);
            }
            if let Some(a) = &r.attachment {
                attached.insert(h);
                by_type[a.resource_type.index()].insert(h);
                if a.resource_type != ResourceType::Custom {
                    if !self.resource(a.id).contains(&h) {
                        return Err(format!(
                            "handle {h} missing from resource {} postings",
                            a.id
                        ));
                    }
                    resources += 1;
                }
                if let Some(mac) = a.mac {
                    if !self.mac(mac).contains(&h) {
                        return Err(format!("handle {h} missing from mac {mac} postings"));
                    }
                    macs += 1;
                }
            }
        }
        if attached != self.attached {
            return Err("attached set disagrees with records".into());
        }
        if by_type != self.by_type {
            return Err("resource type sets disagree with records".into());
        }
        let posted: usize = self.by_resource.values().map(SmallVec::len).sum();
        if posted != resources {
            return Err(format!(
                "{posted} resource postings for {resources} attachments"
            ));
        }
        let posted: usize = self.by_mac.values().map(SmallVec::len).sum();
        if posted != macs {
            return Err(format!(
                "{posted} mac postings for {macs} attachments with a mac"
            ));
        }
        let mut live_tags = 0;
        for (id, tag) in self.tags.live() {
            live_tags += 1;
            if self.tags.id(&tag.name) != Some(id) {
                return Err(format!("tag {:?} not interned as {id}", tag.name));
            }
            if tags.get(&id) != Some(&tag.handles) {
                return Err(format!("tag {:?} postings disagree with records", tag.name));
            }
        }
        if live_tags != tags.len() || live_tags != self.tags.ids.len() {
            return Err("tag interner holds unused or missing tags".into());
        }
        Ok(())
    }
}
