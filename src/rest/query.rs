//! Query strings as real clients write them: `application/x-www-form-urlencoded` pairs, array
//! filters as repeated keys, booleans in any case, and an empty or `null` value meaning the key
//! is absent. Unknown keys are ignored; for a repeated scalar key the last value wins.

use std::str::FromStr;

use crate::error::{ArgumentReason, Error};
use crate::rest::body::invalid;
use crate::rest::{clip, clip_to, MAX_QUERY_BYTES};

/// The decoded pairs of a query string, in order.
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    /// Splits and percent-decodes a query string (without its `?`).
    pub(crate) fn parse(raw: &str) -> Result<Self, Error> {
        if raw.len() > MAX_QUERY_BYTES {
            return Err(invalid(
                "query",
                ArgumentReason::Constraint,
                format!(
                    "the query string must be at most {MAX_QUERY_BYTES} bytes, found {}",
                    raw.len()
                ),
            ));
        }
        let mut pairs = Vec::new();
        for part in raw.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            let key = decode(k).ok_or_else(|| not_utf8("query"))?;
            let value = decode(v).ok_or_else(|| not_utf8("query"))?;
            pairs.push((key, value));
        }
        Ok(Self(pairs))
    }

    /// Every present value of `key` (also spelled `key[]`), in order.
    fn values<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(k, _)| {
                k == key || (k.len() == key.len() + 2 && k.starts_with(key) && k.ends_with("[]"))
            })
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty() && *v != "null")
    }

    /// The last present value of `key`.
    pub(crate) fn string(&self, key: &'static str) -> Option<String> {
        self.values(key).last().map(str::to_owned)
    }

    /// The last present value of `key`, parsed.
    pub(crate) fn one<T: FromStr<Err = Error>>(
        &self,
        key: &'static str,
    ) -> Result<Option<T>, Error> {
        self.values(key)
            .last()
            .map(|v| v.parse().map_err(|e| renamed(e, key)))
            .transpose()
    }

    /// Every present value of `key`, parsed.
    pub(crate) fn many<T: FromStr<Err = Error>>(&self, key: &'static str) -> Result<Vec<T>, Error> {
        self.values(key)
            .map(|v| v.parse().map_err(|e| renamed(e, key)))
            .collect()
    }

    /// Every present value of `key`, as strings.
    pub(crate) fn strings(&self, key: &'static str) -> Vec<String> {
        self.values(key).map(str::to_owned).collect()
    }

    /// A boolean: `true` or `false` in any case.
    pub(crate) fn bool(&self, key: &'static str) -> Result<Option<bool>, Error> {
        self.values(key)
            .last()
            .map(|v| {
                if v.eq_ignore_ascii_case("true") {
                    Ok(true)
                } else if v.eq_ignore_ascii_case("false") {
                    Ok(false)
                } else {
                    Err(invalid(
                        key,
                        ArgumentReason::Format,
                        format!("{:?} is not a boolean: expected true or false", clip(v)),
                    ))
                }
            })
            .transpose()
    }

    /// A page number or size.
    pub(crate) fn u32(&self, key: &'static str) -> Result<Option<u32>, Error> {
        self.values(key)
            .last()
            .map(|v| {
                v.parse::<u32>().map_err(|_| {
                    invalid(
                        key,
                        ArgumentReason::Format,
                        format!("{:?} is not an unsigned 32-bit integer", clip(v)),
                    )
                })
            })
            .transpose()
    }
}

/// The parse error of a value, named after the query key it came from.
fn renamed(e: Error, key: &'static str) -> Error {
    match e {
        Error::InvalidArgument { reason, help, .. } => {
            invalid(key, reason, clip_to(&help, 200).to_owned())
        }
        other => other,
    }
}

fn not_utf8(key: &'static str) -> Error {
    invalid(
        key,
        ArgumentReason::Format,
        "the query string does not decode to UTF-8".to_owned(),
    )
}

/// Percent-decodes one key or value; `+` is a space. A `%` not followed by two hex digits is
/// kept as it is. `None` when the bytes are not UTF-8.
fn decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'+' => out.push(b' '),
            b'%' => {
                if let (Some(high), Some(low)) = (hex(bytes.get(at + 1)), hex(bytes.get(at + 2))) {
                    out.push(high << 4 | low);
                    at += 3;
                    continue;
                }
                out.push(b'%');
            }
            other => out.push(other),
        }
        at += 1;
    }
    String::from_utf8(out).ok()
}

fn hex(c: Option<&u8>) -> Option<u8> {
    let c = *c?;
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_percent_plus_and_keeps_stray_percent() {
        assert_eq!(decode("02%3A00%3Acc").unwrap(), "02:00:cc");
        assert_eq!(decode("a+b").unwrap(), "a b");
        assert_eq!(decode("100%").unwrap(), "100%");
        assert_eq!(decode("%4").unwrap(), "%4");
        assert_eq!(decode("%zz").unwrap(), "%zz");
        assert!(decode("%ff").is_none());
    }

    #[test]
    fn repeated_keys_null_and_empty() {
        let q = Query::parse("tags=a&tags=b&tags=&tags=null&x&page=2&page=3&is_ipv6=True").unwrap();
        assert_eq!(q.strings("tags"), ["a", "b"]);
        assert_eq!(q.u32("page").unwrap(), Some(3));
        assert_eq!(q.bool("is_ipv6").unwrap(), Some(true));
        assert_eq!(q.bool("attached").unwrap(), None);
        assert!(Query::parse("attached=yes")
            .unwrap()
            .bool("attached")
            .is_err());
    }
}
