//! Timestamps: RFC 3339 UTC with a `Z` suffix and exactly six fractional digits, as the API
//! prints them (`2025-06-30T15:02:10.950535Z`). The engine keeps times in whole microseconds so
//! that a value survives a JSON round trip unchanged.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, NaiveDate, NaiveTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// Serializes a timestamp in the API's microsecond `Z` form.
pub(crate) fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// Parses any RFC 3339 timestamp, converts it to UTC and truncates it to whole microseconds,
/// the API's precision, so that it prints back as it reads.
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
    let t = DateTime::parse_from_rfc3339(&s).map_err(serde::de::Error::custom)?;
    DateTime::from_timestamp_micros(t.timestamp_micros())
        .ok_or_else(|| serde::de::Error::custom("timestamp out of range"))
}

/// The day of the last clock reading of an engine (its today), and that date (at first, the
/// epoch's day), as one word: the day's index (days since the epoch) in the high 32 bits, the
/// date's bits ([`date_bits`]) in the low 32. The calendar arithmetic of a day is most of a
/// conversion's cost, and an engine's recent timestamps fall on its today.
///
/// One word shared by every thread, read with a relaxed atomic (a plain load): a thread reads a
/// day and its date together. Written by [`note_today`] only when an engine's clock reads a
/// new day (about once a day), never by a conversion, so that threads converting timestamps of
/// many days do not take the word from one another (each keeps its own last day,
/// [`LAST_DAY`]) and a stray timestamp (a date far off) does not displace today. (Engines of
/// one process whose clocks read different days do take it from one another: a timestamp
/// converts the same either way, only on the slower path.) Not a thread-local itself: an
/// access to one is compiled as a call (which the linker then relaxes), and the registers a
/// call clobbers made [`crate::Ipam::get_ip`] save and restore registers on the stack (`fill`,
/// in `engine/view.rs`, says why that counts).
static TODAY: AtomicU64 = AtomicU64::new(day_word(0, EPOCH_DATE));

thread_local! {
    /// The first microsecond of the day of the last timestamp converted on this thread that
    /// needed its date and was not on [`TODAY`], and that date (at first, the epoch's day): the
    /// older timestamps of one response, and of consecutive ones, often share a day.
    static LAST_DAY: Cell<(i64, NaiveDate)> = const { Cell::new((0, EPOCH_DATE)) };
}

/// The date of the epoch's day, which starts at microsecond 0.
const EPOCH_DATE: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");

/// The bits of `date`: turned back into a date only by [`date_of_bits`].
const fn date_bits(date: NaiveDate) -> u32 {
    // SAFETY: `transmute` checks at compile time that the sizes are equal (4 bytes); a date is
    // a plain 4-byte value, so its bits are an initialised `u32`.
    #[allow(unsafe_code)]
    unsafe {
        std::mem::transmute::<NaiveDate, u32>(date)
    }
}

/// The date whose [`date_bits`] are `bits`.
///
/// # Safety
/// `bits` must be [`date_bits`] of some date.
#[allow(unsafe_code)]
const unsafe fn date_of_bits(bits: u32) -> NaiveDate {
    // SAFETY: the bits of a valid date (the caller's contract), of the same size.
    unsafe { std::mem::transmute::<u32, NaiveDate>(bits) }
}

/// The [`TODAY`] word of day `day` (days since the epoch), whose date is `date`.
const fn day_word(day: i32, date: NaiveDate) -> u64 {
    (day.cast_unsigned() as u64) << 32 | date_bits(date) as u64
}

/// Microseconds since the Unix epoch to a timestamp; out-of-range values clamp to the epoch.
/// Inlined where it is called: the common case, a day already seen, is a few instructions,
/// and the owned `Ip` every call returns converts one or two timestamps.
#[inline]
pub(crate) fn from_micros(micros: i64) -> DateTime<Utc> {
    match on_today(micros) {
        Some(time) => time,
        None => from_micros_of_another_day(micros),
    }
}

/// [`from_micros`] when `micros` falls on [`TODAY`]: a few instructions and no call; `None` on
/// another day.
#[inline]
pub(crate) fn on_today(micros: i64) -> Option<DateTime<Utc>> {
    let (bits, in_day) = in_today(micros)?;
    // SAFETY: `in_today` gives the low bits of the word, `date_bits` of a date (`day_word`).
    #[allow(unsafe_code)]
    let date = unsafe { date_of_bits(bits) };
    Some(at(date, in_day))
}

/// The [`date_bits`] of [`TODAY`]'s date and the microseconds `micros` falls past its
/// midnight, if on it. The bits, not the date: an `Option` of a date holds `None` in the
/// date's niche, which made every conversion test the date too.
#[inline]
fn in_today(micros: i64) -> Option<(u32, u64)> {
    let word = TODAY.load(Ordering::Relaxed);
    // The day's start is in range: the word only holds days of timestamps chrono represents.
    let start = i64::from(((word >> 32) as u32).cast_signed()).wrapping_mul(MICROS_PER_DAY);
    Some((word as u32, in_day_from(start, micros)?))
}

/// The microseconds `micros` falls past `start`, the first microsecond of a day, if on that day.
#[inline]
fn in_day_from(start: i64, micros: i64) -> Option<u64> {
    // Both in range of `i64`, so the difference wraps only when it is over 2^63 away: never
    // into the day.
    let in_day = micros.wrapping_sub(start).cast_unsigned();
    (in_day < MICROS_PER_DAY.cast_unsigned()).then_some(in_day)
}

/// `date` at `in_day` microseconds past its midnight (under a day).
#[inline]
fn at(date: NaiveDate, in_day: u64) -> DateTime<Utc> {
    // The seconds as (in_day / 2^6) / 15,625 (10^6 = 2^6 x 15,625): a division of a 32-bit
    // value (a day has under 2^37 microseconds), which the compiler makes a multiplication
    // that leaves the register `rdx` alone, unlike a 64-bit one; `fill_common` (in
    // `engine/view.rs`) has no register to spare.
    let secs = ((in_day >> 6) as u32) / 15_625;
    let micros = (in_day - u64::from(secs) * 1_000_000) as u32;
    // In range by construction (under 86,400 seconds and 10^6 microseconds); the bounds, which
    // change nothing, tell the compiler so, and it drops chrono's range checks.
    let time =
        NaiveTime::from_num_seconds_from_midnight_opt(secs.min(86_399), micros.min(999_999) * 1000)
            .unwrap_or_default();
    date.and_time(time).and_utc()
}

/// Makes the day of `micros`, an engine's clock reading, [`TODAY`] (if it is not already).
#[inline]
pub(crate) fn note_today(micros: i64) {
    if in_today(micros).is_none() {
        note_another_today(micros);
    }
}

#[cold]
#[inline(never)]
fn note_another_today(micros: i64) {
    let day = micros.div_euclid(MICROS_PER_DAY);
    // A day chrono represents is well within `i32` (under 10^8 days from the epoch).
    let (Some(date), Ok(day)) = (date_of_day(day), i32::try_from(day)) else {
        return;
    };
    TODAY.store(day_word(day, date), Ordering::Relaxed);
}

/// The date of day `day` (days since the epoch), if chrono represents its start.
fn date_of_day(day: i64) -> Option<NaiveDate> {
    let start = day.checked_mul(MICROS_PER_DAY)?;
    DateTime::from_timestamp_micros(start).map(|t| t.date_naive())
}

/// [`from_micros`] of a day other than [`TODAY`]: on this thread's [`LAST_DAY`], or its date
/// worked out and kept as this thread's last day.
#[cold]
#[inline(never)]
fn from_micros_of_another_day(micros: i64) -> DateTime<Utc> {
    let (start, date) = LAST_DAY.get();
    if let Some(in_day) = in_day_from(start, micros) {
        return at(date, in_day);
    }
    let day = micros.div_euclid(MICROS_PER_DAY);
    let in_day = micros.rem_euclid(MICROS_PER_DAY).unsigned_abs();
    // The day's start is in chrono's range whenever a timestamp of the day is.
    let Some(date) = date_of_day(day) else {
        return DateTime::default();
    };
    LAST_DAY.set((day * MICROS_PER_DAY, date));
    at(date, in_day)
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::strategy::Strategy;

    proptest::proptest! {
        /// The per-day shortcut gives what chrono gives, on any day (cached or not), at any
        /// instant of it, before or after the epoch, and clamps out-of-range values to the epoch.
        #[test]
        fn from_micros_is_chronos_conversion(
            times in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::num::i64::ANY,
                    (-2_000_000i64..20_000).prop_map(|d| d * MICROS_PER_DAY),
                    (0i64..3, 0..MICROS_PER_DAY)
                        .prop_map(|(d, t)| 1_767_225_600_000_000 + d * MICROS_PER_DAY + t),
                ],
                1..40,
            ),
        ) {
            for micros in times {
                let expected = DateTime::from_timestamp_micros(micros).unwrap_or_default();
                proptest::prop_assert_eq!(from_micros(micros), expected, "{}", micros);
            }
        }
    }

    /// An engine's clock reading makes its day today, which converts in place; converting a
    /// timestamp of another day, even one far off, leaves today as it is. (Other tests' engines
    /// note their own today meanwhile: a few tries.)
    #[test]
    fn today_is_the_clocks_and_conversions_leave_it() {
        let noon = 1_767_225_600_000_000 + MICROS_PER_DAY / 2;
        let kept = (0..100).any(|_| {
            note_today(noon);
            let _ = from_micros(i64::MAX / 2);
            let _ = from_micros(-noon);
            on_today(noon - 1) == DateTime::from_timestamp_micros(noon - 1)
                && on_today(noon + MICROS_PER_DAY).is_none()
        });
        assert!(kept);
    }

    /// A clock reading chrono cannot represent (a clock gone wild) changes nothing and does not
    /// panic (`day_edges_convert_exactly` converts such timestamps).
    #[test]
    fn a_clock_reading_out_of_range_leaves_today() {
        let noon = 1_767_225_600_000_000 + MICROS_PER_DAY / 2;
        let kept = (0..100).any(|_| {
            note_today(noon);
            note_today(i64::MAX);
            note_today(i64::MIN);
            on_today(noon).is_some()
        });
        assert!(kept);
    }

    #[test]
    fn day_edges_convert_exactly() {
        for micros in [
            0,
            -1,
            MICROS_PER_DAY - 1,
            MICROS_PER_DAY,
            -MICROS_PER_DAY,
            1_751_295_730_950_535,
            i64::MAX,
            i64::MIN,
        ] {
            let expected = DateTime::from_timestamp_micros(micros).unwrap_or_default();
            assert_eq!(from_micros(micros), expected, "{micros}");
            // The second conversion of the day takes the cached date.
            assert_eq!(from_micros(micros), expected, "{micros}");
        }
    }

    #[test]
    fn sub_microsecond_digits_are_truncated() {
        let mut de = serde_json::Deserializer::from_str("\"2025-06-30T17:02:10.950535999+02:00\"");
        let t = deserialize(&mut de).unwrap();
        assert_eq!(t, from_micros(1_751_295_730_950_535));
    }

    #[test]
    fn prints_six_digits_and_z() {
        let t = from_micros(1_751_295_730_950_535);
        let mut out = Vec::new();
        serialize(&t, &mut serde_json::Serializer::new(&mut out)).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"2025-06-30T15:02:10.950535Z\""
        );
        let whole = from_micros(1_751_295_730_000_000);
        assert_eq!(
            whole.to_rfc3339_opts(SecondsFormat::Micros, true),
            "2025-06-30T15:02:10.000000Z"
        );
    }
}
