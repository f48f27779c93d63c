//! The engine's only links to the outside world: a clock and a source of randomness (ids and
//! IPv6 interface ids). Both are injected, so a simulation with a [`ManualClock`] and a
//! [`SeededRandom`] gives byte-identical results on every run, and the engine can be replicated as
//! a deterministic state machine. The defaults, [`SystemClock`] and [`OsRandom`], are the real ones.

use std::fmt;

use chrono::{DateTime, TimeDelta, Utc};
use uuid::Uuid;

/// A source of the current time.
///
/// The engine truncates what it reads to whole microseconds and never lets time go backwards: a
/// reading older than the last one is replaced by the last one.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&mut self) -> DateTime<Utc>;

    /// The current time in whole microseconds since the Unix epoch (truncated towards the
    /// past), which is what the engine keeps. One reading, like [`Clock::now`]: a clock that
    /// moves on each reading moves once. The default reads [`Clock::now`]; clocks that can
    /// answer without building a date override it.
    fn now_micros(&mut self) -> i64 {
        self.now().timestamp_micros()
    }
}

/// A source of random bits, for ids and IPv6 interface identifiers.
pub trait RandomSource: Send + Sync + fmt::Debug {
    /// 64 uniformly random bits.
    fn next_u64(&mut self) -> u64;

    /// A random (version 4) UUID.
    fn next_uuid(&mut self) -> Uuid {
        let hi = self.next_u64();
        let lo = self.next_u64();
        v4_of(hi, lo)
    }
}

/// The version 4 UUID of the random bits `hi` (its first 8 bytes) and `lo` (its last 8), with
/// the version and variant bits set: what `uuid::Builder::from_random_bytes` gives for those
/// bytes, set in two words rather than byte by byte, which kept a booking's next read of the
/// id waiting for the bytes' stores (+7-10 ns per booking in a small pool).
fn v4_of(hi: u64, lo: u64) -> Uuid {
    const VERSION: u64 = 0xF << 12;
    const VARIANT: u64 = 0b11 << 62;
    let hi = (hi & !VERSION) | (0x4 << 12);
    let lo = (lo & !VARIANT) | (0b10 << 62);
    Uuid::from_u64_pair(hi, lo)
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&mut self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.now_micros()).unwrap_or_default()
    }

    fn now_micros(&mut self) -> i64 {
        let since = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        i64::try_from(since.as_micros()).unwrap_or(i64::MAX)
    }
}

/// A clock that returns a set time and then moves it forward by a fixed step on every reading
/// (a zero step makes it a fixed clock). For tests and simulations.
#[derive(Clone, Copy, Debug)]
pub struct ManualClock {
    /// The next reading: whole microseconds since the Unix epoch, and the nanoseconds past them
    /// (`0..1000`).
    micros: i64,
    nanos: i64,
    /// Added after each reading, in the same form (`step_nanos` in `0..1000`).
    step_micros: i64,
    step_nanos: i64,
}

/// `DateTime::<Utc>::MIN_UTC` and `MAX_UTC` in microseconds since the Unix epoch.
const MIN_MICROS: i64 = -8_334_601_228_800 * 1_000_000;
const MAX_MICROS: i64 = 8_210_266_876_799 * 1_000_000 + 999_999;

impl ManualClock {
    /// A clock at `start` that advances by `step` after each reading.
    #[must_use]
    pub fn new(start: DateTime<Utc>, step: TimeDelta) -> Self {
        // `TimeDelta` spans about ±292 million years: its microseconds fit in an `i64`, and
        // its nanoseconds in an `i128`.
        let step = i128::from(step.num_seconds()) * 1_000_000_000 + i128::from(step.subsec_nanos());
        Self {
            micros: start.timestamp_micros(),
            nanos: i64::from(start.timestamp_subsec_nanos() % 1000),
            step_micros: i64::try_from(step.div_euclid(1000)).unwrap_or_default(),
            step_nanos: i64::try_from(step.rem_euclid(1000)).unwrap_or_default(),
        }
    }

    /// A clock that always reads `at`.
    #[must_use]
    pub fn fixed(at: DateTime<Utc>) -> Self {
        Self::new(at, TimeDelta::zero())
    }

    /// Moves one step on, unless that leaves `DateTime`'s range: the clock stops at its ends.
    fn step(&mut self) {
        let nanos = self.nanos + self.step_nanos;
        let micros = self
            .micros
            .checked_add(self.step_micros)
            .and_then(|m| m.checked_add(nanos / 1000));
        if let Some(micros) = micros.filter(|m| (MIN_MICROS..=MAX_MICROS).contains(m)) {
            self.micros = micros;
            self.nanos = nanos % 1000;
        }
    }
}

impl Clock for ManualClock {
    fn now(&mut self) -> DateTime<Utc> {
        let now = DateTime::from_timestamp_micros(self.micros).unwrap_or_default()
            + TimeDelta::nanoseconds(self.nanos);
        self.step();
        now
    }

    fn now_micros(&mut self) -> i64 {
        let now = self.micros;
        self.step();
        now
    }
}

/// Randomness from the operating system: ids are random v4 UUIDs (an IP's with its last 6
/// bytes set by the engine, see the crate's "Ids").
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl RandomSource for OsRandom {
    fn next_u64(&mut self) -> u64 {
        // A v4 UUID has 122 random bits; the rotation keeps the fixed version and variant bits
        // apart, so every output bit has at least one random input bit.
        let (a, b) = Uuid::new_v4().as_u64_pair();
        a ^ b.rotate_left(32)
    }

    fn next_uuid(&mut self) -> Uuid {
        Uuid::new_v4()
    }
}

/// A seeded pseudo-random generator (xoshiro256**): the same seed gives the same ids and
/// addresses. Fast, not cryptographic.
#[derive(Clone, Debug)]
pub struct SeededRandom {
    s: [u64; 4],
}

impl SeededRandom {
    /// A generator whose whole output is fixed by `seed`.
    #[must_use]
    pub fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut splitmix = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self {
            s: [splitmix(), splitmix(), splitmix(), splitmix()],
        }
    }
}

impl RandomSource for SeededRandom {
    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v4_of_sets_the_bits_the_uuid_builder_sets() {
        let mut rng = SeededRandom::new(3);
        let words = [0, u64::MAX, 0x0123_4567_89AB_CDEF, 0xFEDC_BA98_7654_3210];
        let pairs = words
            .iter()
            .flat_map(|&hi| words.iter().map(move |&lo| (hi, lo)))
            .chain((0..1000).map(|_| (rng.next_u64(), rng.next_u64())));
        for (hi, lo) in pairs {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&hi.to_be_bytes());
            bytes[8..].copy_from_slice(&lo.to_be_bytes());
            assert_eq!(
                v4_of(hi, lo),
                uuid::Builder::from_random_bytes(bytes).into_uuid(),
                "{hi:x} {lo:x}"
            );
        }
    }

    #[test]
    fn seeded_is_reproducible_and_gives_v4_uuids() {
        let mut a = SeededRandom::new(7);
        let mut b = SeededRandom::new(7);
        for _ in 0..100 {
            let u = a.next_uuid();
            assert_eq!(u, b.next_uuid());
            assert_eq!(u.get_version_num(), 4);
        }
        assert_ne!(
            SeededRandom::new(8).next_u64(),
            SeededRandom::new(7).next_u64()
        );
    }

    #[test]
    fn manual_clock_steps() {
        let start = DateTime::from_timestamp_micros(1_000_000).unwrap();
        let mut c = ManualClock::new(start, TimeDelta::microseconds(5));
        assert_eq!(c.now(), start);
        assert_eq!(c.now().timestamp_micros(), 1_000_005);
    }

    #[test]
    fn manual_clock_range_and_micros() {
        assert_eq!(DateTime::<Utc>::MIN_UTC.timestamp_micros(), MIN_MICROS);
        assert_eq!(DateTime::<Utc>::MAX_UTC.timestamp_micros(), MAX_MICROS);
        // Sub-microsecond steps accumulate; micros truncate towards the past.
        let start = DateTime::from_timestamp(-1, 999_999_500).unwrap();
        let mut c = ManualClock::new(start, TimeDelta::nanoseconds(400));
        assert_eq!(c.now_micros(), start.timestamp_micros());
        assert_eq!(c.now(), start + TimeDelta::nanoseconds(400));
        assert_eq!(c.now_micros(), 0);
        // The clock stops at the ends of the range instead of wrapping or panicking.
        let mut end = ManualClock::new(DateTime::<Utc>::MAX_UTC, TimeDelta::days(1));
        assert_eq!(end.now(), DateTime::<Utc>::MAX_UTC);
        assert_eq!(
            end.now_micros(),
            DateTime::<Utc>::MAX_UTC.timestamp_micros()
        );
        let mut back = ManualClock::new(DateTime::<Utc>::MIN_UTC, TimeDelta::days(-1));
        assert_eq!(back.now(), DateTime::<Utc>::MIN_UTC);
        assert_eq!(back.now(), DateTime::<Utc>::MIN_UTC);
        let mut system = SystemClock;
        let (a, b) = (system.now_micros(), system.now().timestamp_micros());
        assert!(a > 1_700_000_000_000_000 && b >= a);
    }
}
