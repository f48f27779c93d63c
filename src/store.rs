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
#[derive(Clone, Debug)]
pub(crate) struct Store {
    slots: Vec<Option<Record>>,
    ids: FastMap<IpId, Handle>,
    live: RoaringBitmap,
}

impl Store {
    pub(crate) fn new(hasher: KeyedState) -> Self {
        Self {
            slots: Vec::new(),
            ids: FastMap::with_hasher(hasher),
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
        let previous = self.ids.insert(record.id, handle);
        debug_assert!(previous.is_none());
        self.slots.push(Some(record));
        self.live.push(handle);
        handle
    }

    pub(crate) fn contains_id(&self, id: IpId) -> bool {
        self.ids.contains_key(&id)
    }

    pub(crate) fn handle(&self, id: IpId) -> Option<Handle> {
        self.ids.get(&id).copied()
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
        self.ids.remove(&record.id);
        self.live.remove(handle);
        record
    }

    /// Handles of all live records, in creation order.
    pub(crate) fn live(&self) -> &RoaringBitmap {
        &self.live
    }

    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }

    pub(crate) fn dead(&self) -> usize {
        self.slots.len() - self.ids.len()
    }

    /// Iterates live `(handle, record)` pairs in creation order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Handle, &Record)> {
        self.live.iter().map(|h| (h, self.get(h)))
    }

    /// Drops dead slots and renumbers live handles in order. Returns the old → new map
    /// (`Handle::MAX` for dead handles).
    pub(crate) fn compact(&mut self) -> Vec<Handle> {
        let mut map = vec![Handle::MAX; self.slots.len()];
        let mut kept = Vec::with_capacity(self.ids.len());
        for (old, slot) in self.slots.drain(..).enumerate() {
            if let Some(record) = slot {
                let new = Handle::try_from(kept.len()).expect("fewer live records than handles");
                map[old] = new;
                kept.push(Some(record));
            }
        }
        self.slots = kept;
        for handle in self.ids.values_mut() {
            *handle = map[*handle as usize];
        }
        let n = Handle::try_from(self.slots.len()).expect("fewer live records than handles");
        self.live = RoaringBitmap::from_sorted_iter(0..n).expect("sorted");
        map
    }

    /// Checks the id map, the live set and the slots agree.
    pub(crate) fn check(&self) -> Result<(), String> {
        if self.live.len() != self.ids.len() as u64 {
            return Err(format!(
                "live set has {} handles, id map {}",
                self.live.len(),
                self.ids.len()
            ));
        }
        for (&id, &h) in &self.ids {
            match self.slots.get(h as usize) {
                Some(Some(r)) if r.id == id && self.live.contains(h) => {}
                _ => {
                    return Err(format!(
                        "id {id} maps to handle {h}, which does not hold it"
                    ))
                }
            }
        }
        let occupied = self.slots.iter().filter(|s| s.is_some()).count();
        if occupied != self.ids.len() {
            return Err(format!("{occupied} occupied slots, {} ids", self.ids.len()));
        }
        Ok(())
    }
}
