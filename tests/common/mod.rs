//! Fixtures shared by the integration tests.

use chrono::{DateTime, TimeDelta};
use ipam_engine::{Ipam, ManualClock, SeededRandom};

/// A deterministic engine: a manual clock that steps one microsecond per reading, and seeded
/// randomness.
pub(crate) fn engine(seed: u64) -> Ipam {
    let start = DateTime::from_timestamp(1_750_000_000, 0).unwrap();
    Ipam::builder()
        .clock(ManualClock::new(start, TimeDelta::microseconds(1)))
        .random(SeededRandom::new(seed))
        .build()
}
