//! The physical floor of one booking: the bare steps no booking can avoid, with none of the
//! engine's validation, indexes or views. Every engine figure is quoted as a ratio to this floor
//! measured in the same run, on the same machine, at the same number of live entries.
//!
//! One floor booking is:
//! - a roaring free-set `min()` and `remove()` (the lowest free offset of a pool whose free
//!   offsets are spread through it);
//! - one id draw: a v4 UUID from the engine's own seeded generator ([`SeededRandom`],
//!   xoshiro256**), called directly rather than through the engine's `dyn RandomSource`;
//! - one store insert: a 128-byte record pushed onto a `Vec` slab, and its `uuid -> u32` handle
//!   inserted into a `HashMap` with a fold-multiply hasher (the engine's kind of hasher).
//!
//! The get floor is one id lookup in that map and a read of the record from the slab.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

use ipam_engine::{RandomSource, SeededRandom};
use roaring::RoaringBitmap;

use super::measure::{Op, Walk};

/// A record of the size of a real one (the engine's is about 100 bytes); most fields are there
/// for their size only.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct FloorRecord {
    id: u128,
    offset: u64,
    created: i64,
    updated: i64,
    pool: u32,
    tags: [u32; 3],
    rest: [u64; 9],
}

const _: () = assert!(std::mem::size_of::<FloorRecord>() == 128);

/// The floor's live entries: a free set, a slab and an id map.
pub(crate) struct Floor {
    free: RoaringBitmap,
    slab: Vec<FloorRecord>,
    ids: HashMap<u128, u32, FoldState>,
    rng: SeededRandom,
    clock: i64,
}

impl Floor {
    /// A floor holding `live` entries; its pool has `max(live / 99, chunk)` free offsets spread
    /// evenly through it (so about 99% full at scale), enough for one chunk of bookings.
    pub(crate) fn new(live: usize, seed: u64) -> Self {
        let mut rng = SeededRandom::new(seed);
        let free_count = (live / 99).max(chunk(live));
        let capacity = live + free_count;
        let mut free = RoaringBitmap::new();
        let mut slab = Vec::with_capacity(live);
        let mut ids = HashMap::with_capacity_and_hasher(live, FoldState(rng.next_u64() | 1));
        for offset in 0..capacity {
            // Evenly spread: offset is free when the running share of free offsets steps up.
            if (offset + 1) * free_count / capacity > offset * free_count / capacity {
                free.insert(offset as u32);
            } else {
                let id = rng.next_uuid().as_u128();
                ids.insert(id, slab.len() as u32);
                slab.push(record(id, offset as u64, 0));
            }
        }
        Self {
            free,
            slab,
            ids,
            rng,
            clock: 0,
        }
    }

    /// Live entries.
    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Free offsets left.
    pub(crate) fn free(&self) -> usize {
        self.free.len() as usize
    }

    /// One floor booking: lowest free offset, fresh id, record into the slab and the map.
    #[inline]
    pub(crate) fn book(&mut self) -> u32 {
        let offset = self.free.min().expect("a free offset");
        self.free.remove(offset);
        let id = self.rng.next_uuid().as_u128();
        self.clock += 1;
        let handle = self.slab.len() as u32;
        self.slab.push(record(id, u64::from(offset), self.clock));
        self.ids.insert(id, handle);
        handle
    }

    /// Undoes the last `n` bookings (untimed housekeeping, so the live count stays put).
    pub(crate) fn unbook(&mut self, n: usize) {
        for _ in 0..n {
            let r = self.slab.pop().expect("a booked record");
            self.ids.remove(&r.id);
            self.free.insert(r.offset as u32);
        }
    }

    /// The id of the record at `handle`.
    pub(crate) fn id_at(&self, handle: usize) -> u128 {
        self.slab[handle].id
    }

    /// The get floor: the id lookup and a read of the record.
    #[inline]
    pub(crate) fn get(&self, id: u128) -> u64 {
        let handle = self.ids[&id];
        let r = &self.slab[handle as usize];
        r.offset ^ r.created.cast_unsigned() ^ u64::from(r.tags[0])
    }
}

/// Bookings per timed chunk: a tenth of the live entries at most, so a chunk barely moves the
/// live count.
fn chunk(live: usize) -> usize {
    (live / 10).clamp(1, 1000)
}

fn record(id: u128, offset: u64, now: i64) -> FloorRecord {
    FloorRecord {
        id,
        offset,
        created: now,
        updated: now,
        pool: 0,
        tags: [0; 3],
        rest: [0; 9],
    }
}

/// A keyed fold-multiply hasher, the same kind as the engine's (not the slower default `SipHash`).
#[derive(Clone, Copy)]
struct FoldState(u64);

struct FoldHasher {
    state: u64,
    key: u64,
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let full = u128::from(a).wrapping_mul(u128::from(b));
    (full as u64) ^ ((full >> 64) as u64)
}

impl BuildHasher for FoldState {
    type Hasher = FoldHasher;

    fn build_hasher(&self) -> FoldHasher {
        FoldHasher {
            state: self.0,
            key: self.0,
        }
    }
}

impl Hasher for FoldHasher {
    #[inline]
    fn finish(&self) -> u64 {
        fold_mul(self.state, 0x9E37_79B9_7F4A_7C15 ^ self.key)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut w = [0u8; 8];
            w[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.state = fold_mul(self.state ^ i, 0xA076_1D64_78BD_642F ^ self.key);
    }

    #[inline]
    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }
}

/// The booking floor as an [`Op`]: `restore` undoes the chunk, so the live count stays put.
pub(crate) struct FloorBook<'a>(pub(crate) &'a mut Floor);

impl Op for FloorBook<'_> {
    fn max_chunk(&self) -> usize {
        chunk(self.0.len()).min(self.0.free())
    }

    fn run(&mut self, n: usize) {
        for _ in 0..n {
            std::hint::black_box(self.0.book());
        }
    }

    fn restore(&mut self, n: usize) {
        self.0.unbook(n);
    }
}

/// The get floor as an [`Op`]: ids are picked from a list in slab order with the same scattered
/// walk as the engine's get bench, so both miss the caches alike, and as there, untimed into a
/// short list the timed lookups read in order.
pub(crate) struct FloorGet<'a> {
    floor: &'a Floor,
    ids: Vec<u128>,
    walk: Walk,
    chunk: Vec<u128>,
    /// Each lookup waits for the previous one's result (as consecutive engine calls do, whose
    /// bodies are too long for the processor to overlap their cache misses).
    chained: bool,
}

impl<'a> FloorGet<'a> {
    pub(crate) fn new(floor: &'a Floor) -> Self {
        Self {
            floor,
            ids: (0..floor.len()).map(|h| floor.id_at(h)).collect(),
            walk: Walk::new(floor.len()),
            chunk: Vec::with_capacity(1000),
            chained: false,
        }
    }

    /// The same walk, each lookup's id depending on the previous lookup's result.
    pub(crate) fn chained(floor: &'a Floor) -> Self {
        Self {
            chained: true,
            ..Self::new(floor)
        }
    }
}

impl Op for FloorGet<'_> {
    fn prepare(&mut self, n: usize) {
        self.walk.pick(&self.ids, n, &mut self.chunk);
    }

    fn run(&mut self, n: usize) {
        let mut last = 0u64;
        for k in 0..n {
            // A zero the processor only knows once the previous lookup is done.
            let dependency = if self.chained {
                (last & std::hint::black_box(0)) as usize
            } else {
                0
            };
            let id = self.chunk[k + dependency];
            last = std::hint::black_box(self.floor.get(id));
        }
    }
}
