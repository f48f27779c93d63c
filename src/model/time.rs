//! Timestamps: RFC 3339 UTC with a `Z` suffix and exactly six fractional digits, as the API
//! prints them (`2025-06-30T15:02:10.950535Z`). The engine keeps times in whole microseconds so
//! that a value survives a JSON round trip unchanged.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serializer};

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

/// Microseconds since the Unix epoch to a timestamp; out-of-range values clamp to the epoch.
pub(crate) fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

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
