//! Timestamps: RFC 3339 UTC with a `Z` suffix and exactly six fractional digits, as the API
//! prints them (`2025-06-30T15:02:10.950535Z`). The engine keeps times in whole microseconds so
//! that a value survives a JSON round trip unchanged.

use std::cell::Cell;

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

thread_local! {
    /// The first microsecond of the day of the last timestamp converted on this thread that
    /// needed its date, and that date (at first, the epoch's day): the timestamps of one
    /// response, and of consecutive ones, mostly fall on one day, and the calendar arithmetic of
    /// a day is most of a conversion's cost.
    static LAST_DAY: Cell<(i64, NaiveDate)> = const { Cell::new((0, EPOCH_DATE)) };
}

/// The date of the epoch's day, which starts at microsecond 0.
const EPOCH_DATE: NaiveDate = NaiveDate::from_ymd_opt(1970, 1, 1).expect("a valid date");

/// Microseconds since the Unix epoch to a timestamp; out-of-range values clamp to the epoch.
/// Inlined where it is called: the common case, a day already seen, is a few instructions,
/// and the owned `Ip` every call returns converts one or two timestamps.
#[inline]
pub(crate) fn from_micros(micros: i64) -> DateTime<Utc> {
    let (start, date) = LAST_DAY.get();
    let in_day = micros.wrapping_sub(start).cast_unsigned();
    if in_day < MICROS_PER_DAY.cast_unsigned() {
        return at(date, in_day);
    }
    from_micros_of_another_day(micros)
}

/// `date` at `in_day` microseconds past its midnight (under a day).
#[inline]
fn at(date: NaiveDate, in_day: u64) -> DateTime<Utc> {
    // In range by construction: under 86,400 seconds and 10^9 nanoseconds.
    let time = NaiveTime::from_num_seconds_from_midnight_opt(
        (in_day / 1_000_000) as u32,
        (in_day % 1_000_000) as u32 * 1000,
    )
    .unwrap_or_default();
    date.and_time(time).and_utc()
}

/// [`from_micros`] of a day other than this thread's last: its date, kept as the last day.
#[cold]
#[inline(never)]
fn from_micros_of_another_day(micros: i64) -> DateTime<Utc> {
    let day = micros.div_euclid(MICROS_PER_DAY);
    let in_day = micros.rem_euclid(MICROS_PER_DAY).unsigned_abs();
    // The day's start is in chrono's range whenever a timestamp of the day is.
    let Some(start) = day.checked_mul(MICROS_PER_DAY) else {
        return DateTime::default();
    };
    let Some(date) = DateTime::from_timestamp_micros(start).map(|t| t.date_naive()) else {
        return DateTime::default();
    };
    LAST_DAY.set((start, date));
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
