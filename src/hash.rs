//! A fast keyed hasher for the engine's maps. Keys (offsets, ids, MACs) can be chosen by callers,
//! so the key comes from the engine's random source: unpredictable with [`OsRandom`]
//! (no hash flooding), reproducible with a seed.
//!
//! [`OsRandom`]: crate::OsRandom

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};

/// Builds [`FoldHasher`]s sharing one random key.
#[derive(Clone, Copy, Debug)]
pub(crate) struct KeyedState {
    key: u64,
}

impl KeyedState {
    pub(crate) fn new(key: u64) -> Self {
        Self { key: key | 1 }
    }
}

impl Default for KeyedState {
    fn default() -> Self {
        Self::new(0x243F_6A88_85A3_08D3)
    }
}

impl BuildHasher for KeyedState {
    type Hasher = FoldHasher;

    fn build_hasher(&self) -> FoldHasher {
        FoldHasher {
            state: self.key,
            key: self.key,
        }
    }
}

/// Folded-multiply hashing of 64-bit words.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FoldHasher {
    state: u64,
    key: u64,
}

#[inline]
fn fold_mul(a: u64, b: u64) -> u64 {
    let full = u128::from(a).wrapping_mul(u128::from(b));
    #[allow(clippy::cast_possible_truncation)]
    let (lo, hi) = (full as u64, (full >> 64) as u64);
    lo ^ hi
}

impl Hasher for FoldHasher {
    #[inline]
    fn finish(&self) -> u64 {
        fold_mul(self.state, 0x9E37_79B9_7F4A_7C15 ^ self.key)
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.write_u64(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 59));
        }
    }

    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.state = fold_mul(self.state ^ i, 0xA076_1D64_78BD_642F ^ self.key);
    }

    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }
}

/// A hash map with the engine's keyed hasher.
pub(crate) type FastMap<K, V> = HashMap<K, V, KeyedState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn different_keys_hash_differently() {
        let a = KeyedState::new(1).hash_one(42u64);
        let b = KeyedState::new(2).hash_one(42u64);
        assert_ne!(a, b);
        assert_eq!(a, KeyedState::new(1).hash_one(42u64));
        assert_ne!(
            KeyedState::new(1).hash_one([1u8; 16]),
            KeyedState::new(1).hash_one([2u8; 16])
        );
    }
}
