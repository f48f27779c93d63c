//! The records of booked IPs, in a slab addressed by dense `u32` handles, and the id → handle map.
//!
//! Handles are handed out in booking order and never reused, so handle order is creation order
//! and every index can be a roaring bitmap of handles. Released slots are reclaimed by
//! [`Store::compact`], which renumbers the live handles in order; the engine calls it when dead
//! slots outnumber live ones, so its cost is amortized over the releases that caused it.

use roaring::RoaringBitmap;
use smallvec::SmallVec;

use crate::hash::{FastMap, KeyedState};
use crate::model::enums::ResourceType;
use crate::model::ids::{IpId, ResourceId};
use crate::model::ip::Reverse;
use crate::model::mac::MacAddress;

/// A dense handle of a live record.
pub(crate) type Handle = u32;

/// What an IP is attached to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Attachment {
    pub(crate) resource_type: ResourceType,
    pub(crate) id: ResourceId,
    pub(crate) mac: Option<MacAddress>,
    pub(crate) name: Option<Box<str>>,
    /// When this attachment was made, in microseconds since the epoch.
    pub(crate) attached_at: i64,
}

/// One booked IP.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    pub(crate) id: IpId,
    /// Slot of the subnet in the region's registry.
    pub(crate) subnet: u32,
    /// Offset of the address in the subnet's pool.
    pub(crate) offset: u64,
    /// Microseconds since the epoch.
    pub(crate) created: i64,
    /// Microseconds since the epoch.
    pub(crate) updated: i64,
    /// Interned tag ids, in the order given.
    pub(crate) tags: SmallVec<[u32; 3]>,
    pub(crate) attachment: Option<Box<Attachment>>,
    pub(crate) reverses: Box<[Reverse]>,
}

/// The slab of records.
///
/// The id map is keyed by 64 bits of the id (12-byte entries instead of 20) and a hit is
/// confirmed against the record. The engine draws ids whose key is free, so a second id with
/// a taken key (possible only for ids from a snapshot) is rare; it goes to `collided`.
#[derive(Clone, Debug)]
pub(crate) struct Store {
    slots: Vec<Option<Record>>,
    ids: FastMap<u64, Handle>,
    collided: FastMap<IpId, Handle>,
    live: RoaringBitmap,
}

/// The id map key of `id`: its two halves folded.
pub(crate) fn id_key(id: IpId) -> u64 {
    let u = id.uuid().as_u128();
    (u as u64) ^ ((u >> 64) as u64)
}

impl Store {
    pub(crate) fn new(hasher: KeyedState) -> Self {
        Self {
            slots: Vec::new(),
            ids: FastMap::with_hasher(hasher),
            collided: FastMap::with_hasher(hasher),
            live: RoaringBitmap::new(),
        }
    }

    /// The handle the next insert will get, or `None` when the handle space is used up.
    pub(crate) fn next_handle(&self) -> Option<Handle> {
        Handle::try_from(self.slots.len())
            .ok()
            .filter(|&h| h < Handle::MAX)
    }

    /// Adds a record whose id is not in the store; returns its handle.
    pub(crate) fn insert(&mut self, record: Record) -> Handle {
        let handle = self
            .next_handle()
            .expect("handle space checked by the caller");
        debug_assert!(!self.contains_id(record.id));
        match self.ids.entry(id_key(record.id)) {
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(handle);
            }
            std::collections::hash_map::Entry::Occupied(_) => {
                self.collided.insert(record.id, handle);
            }
        }
        self.slots.push(Some(record));
        self.live.insert(handle);
        handle
    }

    pub(crate) fn contains_id(&self, id: IpId) -> bool {
        self.handle(id).is_some()
    }

    /// Whether an id with this key would go to the main map.
    pub(crate) fn key_is_free(&self, id: IpId) -> bool {
        !self.ids.contains_key(&id_key(id))
    }

    pub(crate) fn handle(&self, id: IpId) -> Option<Handle> {
        if let Some(&h) = self.ids.get(&id_key(id)) {
            if self.get(h).id == id {
                return Some(h);
            }
        }
        if self.collided.is_empty() {
            return None;
        }
        self.collided.get(&id).copied()
    }

    /// The live record at `handle`.
    pub(crate) fn get(&self, handle: Handle) -> &Record {
        self.slots[handle as usize].as_ref().expect("live handle")
    }

    pub(crate) fn get_mut(&mut self, handle: Handle) -> &mut Record {
        self.slots[handle as usize].as_mut().expect("live handle")
    }

    pub(crate) fn remove(&mut self, handle: Handle) -> Record {
        let record = self.slots[handle as usize].take().expect("live handle");
        let key = id_key(record.id);
        if self.ids.get(&key) == Some(&handle) {
            self.ids.remove(&key);
        } else {
            self.collided.remove(&record.id);
        }
        self.live.remove(handle);
        record
    }

    /// Handles of all live records, in creation order.
    pub(crate) fn live(&self) -> &RoaringBitmap {
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

    /// Drops dead slots and renumbers live handles in order. Returns the old → new map
    /// (`Handle::MAX` for dead handles).
    pub(crate) fn compact(&mut self) -> Vec<Handle> {
        let mut map = vec![Handle::MAX; self.slots.len()];
        let mut kept = Vec::with_capacity(self.len());
        for (old, slot) in self.slots.drain(..).enumerate() {
            if let Some(record) = slot {
                let new = Handle::try_from(kept.len()).expect("fewer live records than handles");
                map[old] = new;
                kept.push(Some(record));
            }
        }
        self.slots = kept;
        for handle in self.ids.values_mut().chain(self.collided.values_mut()) {
            *handle = map[*handle as usize];
        }
        let n = Handle::try_from(self.slots.len()).expect("fewer live records than handles");
        self.live = RoaringBitmap::from_sorted_iter(0..n).expect("sorted");
        map
    }

    /// Checks the id map, the live set and the slots agree.
    pub(crate) fn check(&self) -> Result<(), String> {
        let mapped = self.ids.len() + self.collided.len();
        if self.live.len() != mapped as u64 {
            return Err(format!(
                "live set has {} handles, id maps {mapped}",
                self.live.len(),
            ));
        }
        for (&key, &h) in &self.ids {
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
        for (h, r) in self.iter() {
            if self.handle(r.id) != Some(h) {
                return Err(format!("record {} at handle {h} is not found by id", r.id));
            }
        }
        let occupied = self.slots.iter().filter(|s| s.is_some()).count();
        if occupied != mapped {
            return Err(format!("{occupied} occupied slots, {mapped} ids"));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: IpId) -> Record {
        Record {
            id,
            subnet: 0,
            offset: 0,
            created: 0,
            updated: 0,
            tags: SmallVec::new(),
            attachment: None,
            reverses: Box::new([]),
        }
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
        assert!(!store.key_is_free(b));
        assert_eq!(store.handle(b), None);
        let hb = store.insert(record(b));
        assert_eq!((store.handle(a), store.handle(b)), (Some(ha), Some(hb)));
        store.check().unwrap();
        // Removing the holder of the key leaves the other reachable, before and after compaction.
        store.remove(ha);
        assert_eq!((store.handle(a), store.handle(b)), (None, Some(hb)));
        store.check().unwrap();
        store.compact();
        assert_eq!(store.handle(b), Some(0));
        store.check().unwrap();
        let ha = store.insert(record(a));
        assert_eq!((store.handle(a), store.handle(b)), (Some(ha), Some(0)));
        store.remove(0);
        assert_eq!((store.handle(a), store.handle(b)), (Some(ha), None));
        store.check().unwrap();
    }
}
