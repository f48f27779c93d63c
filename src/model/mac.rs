//! MAC addresses: parsed once into six bytes, printed in the API's upper-case form.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ArgumentReason, Error};

/// A 48-bit MAC address.
///
/// Parsing accepts either case and `:` or `-` separators (`bc:24:11:74:d0:5a`,
/// `BC-24-11-74-D0-5A`); the canonical text form, used by `Display` and JSON, is upper-case and
/// colon-separated (`BC:24:11:74:D0:5A`), as the API returns it. Ordering is byte order, which is
/// also the lexicographic order of the upper-case text form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddress([u8; 6]);

impl MacAddress {
    /// A MAC address from its six bytes.
    #[must_use]
    pub const fn new(bytes: [u8; 6]) -> Self {
        Self(bytes)
    }

    /// The six bytes.
    #[must_use]
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

impl FromStr for MacAddress {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        let invalid = || Error::InvalidArgument {
            argument: "mac_address".into(),
            reason: ArgumentReason::Format,
            help: format!(
                "{:?} is not a MAC address: expected six hex pairs separated by ':' or '-'",
                truncate(s)
            ),
        };
        let b = s.as_bytes();
        if b.len() != 17 {
            return Err(invalid());
        }
        let sep = b[2];
        if sep != b':' && sep != b'-' {
            return Err(invalid());
        }
        let mut out = [0u8; 6];
        for (i, byte) in out.iter_mut().enumerate() {
            let at = i * 3;
            if i > 0 && b[at - 1] != sep {
                return Err(invalid());
            }
            let hi = hex_digit(b[at]).ok_or_else(invalid)?;
            let lo = hex_digit(b[at + 1]).ok_or_else(invalid)?;
            *byte = hi << 4 | lo;
        }
        Ok(Self(out))
    }
}

/// Shortens hostile input before it is echoed in an error message.
pub(crate) fn truncate(s: &str) -> &str {
    const MAX: usize = 64;
    if s.len() <= MAX {
        return s;
    }
    let mut end = MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.0;
        write!(
            f,
            "{:02X}:{:02X}:{:02X}:{:02X}:{:02X}:{:02X}",
            o[0], o[1], o[2], o[3], o[4], o[5]
        )
    }
}

impl fmt::Debug for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MacAddress({self})")
    }
}

impl Serialize for MacAddress {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MacAddress {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_any_case_and_separator() {
        let a: MacAddress = "bc:24:11:74:d0:5a".parse().unwrap();
        let b: MacAddress = "BC-24-11-74-D0-5A".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "BC:24:11:74:D0:5A");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "bc:24:11:74:d0",
            "bc:24:11:74:d0:5g",
            "bc:24-11:74:d0:5a",
            "bc.24.11.74.d0.5a",
            "bc:24:11:74:d0:5a:",
            "é:24:11:74:d0:5a1",
        ] {
            assert!(bad.parse::<MacAddress>().is_err(), "{bad}");
        }
    }

    #[test]
    fn order_is_upper_case_text_order() {
        let a: MacAddress = "0a:00:00:00:00:00".parse().unwrap();
        let b: MacAddress = "a0:00:00:00:00:00".parse().unwrap();
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }
}
