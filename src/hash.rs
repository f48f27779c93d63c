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

impl KeyedState {
    /// The key, for keyed mixes other than hashing.
    pub(crate) fn key(self) -> u64 {
        self.key
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
pub(crate) fn fold_mul(a: u64, b: u64) -> u64 {
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
            self.write_u64(tail_word(rest) ^ ((rest.len() as u64) << 59));
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

/// The 1 to 7 bytes of `rest` as one word that, for a given length, differs for different
/// bytes: two overlapping 4-byte loads from 4 bytes on, three single bytes below (the first,
/// the middle and the last), instead of a copy of variable length into a zeroed word, which
/// the compiler makes a call to `memcpy` (tag names are mostly this short).
#[inline]
fn tail_word(rest: &[u8]) -> u64 {
    let n = rest.len();
    debug_assert!((1..8).contains(&n));
    if n >= 4 {
        let word = |at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&rest[at..at + 4]);
            u64::from(u32::from_le_bytes(w))
        };
        word(0) | (word(n - 4) << 32)
    } else {
        u64::from(rest[0]) | (u64::from(rest[n / 2]) << 8) | (u64::from(rest[n - 1]) << 16)
    }
}

/// A hash map with the engine's keyed hasher.
pub(crate) type FastMap<K, V> = HashMap<K, V, KeyedState>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_byte_of_a_short_tail_counts() {
        // Each byte lands in a lane of its own in the word: changing any one changes it, so
        // that two tails of the same length give the same word only when they are equal.
        for n in 1..8 {
            let base: Vec<u8> = (0..n).map(|i| 0x11 * (i as u8 + 1)).collect();
            let word = tail_word(&base);
            for at in 0..n {
                for v in 0..=255u8 {
                    if v != base[at] {
                        let mut other = base.clone();
                        other[at] = v;
                        assert_ne!(tail_word(&other), word, "length {n}, byte {at} = {v}");
                    }
                }
            }
        }
        let hash = |bytes: &[u8]| KeyedState::new(7).hash_one(bytes);
        assert_ne!(hash(b"web"), hash(b"wed"));
        assert_ne!(hash(b"t07"), hash(b"t70"));
        assert_ne!(hash(b"abcdefghi"), hash(b"abcdefgh"));
    }

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
