//! MAC addresses: parsed once into six bytes, printed in the API's upper-case form.

use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{ArgumentReason, Error};

/// A 48-bit MAC address.
///
/// Parsing accepts either case and `:` or `-` separators (`bc:24:11:74:d0:5a`,
/// `BC-24-11-74-D0-5A`); the canonical text form, used by `Display` and JSON, is upper-case and
/// colon-separated (`BC:24:11:74:D0:5A`), as the API returns it. Ordering is byte order, which is
/// also the lexicographic order of the upper-case text form.
///
/// ```
/// use ipam_engine::MacAddress;
///
/// let mac: MacAddress = "bc:24:11:74:d0:5a".parse()?;
/// assert_eq!(mac.octets(), [0xBC, 0x24, 0x11, 0x74, 0xD0, 0x5A]);
/// assert_eq!(mac.to_string(), "BC:24:11:74:D0:5A");
/// assert!(MacAddress::new([0, 0, 0, 0, 0, 1]) < MacAddress::new([0, 0, 0, 0, 1, 0]));
/// assert_eq!(std::mem::size_of::<Option<MacAddress>>(), 8);
/// # Ok::<(), ipam_engine::Error>(())
/// ```
//
// Held as one word: the six bytes in big-endian order in bits 0-47, and bit 48 set, so that
// the word is never zero and word order is byte order. An `Option<MacAddress>` is then 8
// bytes, written in one store; as six bytes behind a tag byte it took three or four, and the
// stores of an owned get are what holds back the next one (`fill`, in `engine/view.rs`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MacAddress(NonZeroU64);

/// The bit set in every [`MacAddress`] word, above its six bytes.
const PRESENT: u64 = 1 << 48;

/// The bits of a [`MacAddress`] word that hold its bytes.
const BYTES: u64 = PRESENT - 1;

impl MacAddress {
    /// A MAC address from its six bytes.
    #[must_use]
    pub const fn new(bytes: [u8; 6]) -> Self {
        let [b0, b1, b2, b3, b4, b5] = bytes;
        match NonZeroU64::new(u64::from_be_bytes([0, 0, b0, b1, b2, b3, b4, b5]) | PRESENT) {
            Some(word) => Self(word),
            None => unreachable!(),
        }
    }

    /// The bits a [`MacAddress::word`] may have set.
    pub(crate) const WORD_BITS: u64 = PRESENT | BYTES;

    /// The address as one word: its bytes big-endian in bits 0-47, and bit 48 set; never 0.
    #[inline]
    pub(crate) const fn word(self) -> u64 {
        self.0.get()
    }

    /// The address whose [`MacAddress::word`] is `word`, or `None` for 0. `word` must be one
    /// or the other (checked in debug builds): the record that holds a MAC address keeps its
    /// word, read back with no more than a mask.
    #[inline]
    pub(crate) fn from_word(word: u64) -> Option<Self> {
        debug_assert!(word == 0 || word & !Self::WORD_BITS == 0 && word & PRESENT != 0);
        NonZeroU64::new(word).map(Self)
    }

    /// The six bytes.
    #[must_use]
    pub const fn octets(&self) -> [u8; 6] {
        let [_, _, b0, b1, b2, b3, b4, b5] = self.0.get().to_be_bytes();
        [b0, b1, b2, b3, b4, b5]
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
        Ok(Self::new(out))
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
        let o = self.octets();
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

    proptest::proptest! {
        /// Any six bytes come back as given, through the word too; addresses compare as their
        /// bytes and as their text; the word is never 0 and keeps to its form.
        #[test]
        fn bytes_word_and_order_agree(a: [u8; 6], b: [u8; 6]) {
            let (x, y) = (MacAddress::new(a), MacAddress::new(b));
            proptest::prop_assert_eq!(x.octets(), a);
            proptest::prop_assert_eq!(MacAddress::from_word(x.word()), Some(x));
            proptest::prop_assert!(x.word() != 0 && x.word() & !MacAddress::WORD_BITS == 0);
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x.cmp(&y), x.to_string().cmp(&y.to_string()));
            proptest::prop_assert_eq!(x == y, a == b);
            proptest::prop_assert_eq!(x.to_string().parse::<MacAddress>().ok(), Some(x));
        }
    }

    #[test]
    fn the_zero_word_is_no_address() {
        assert_eq!(MacAddress::from_word(0), None);
        assert_eq!(MacAddress::new([0; 6]).octets(), [0; 6]);
        assert_ne!(MacAddress::new([0; 6]).word(), 0);
    }
}
