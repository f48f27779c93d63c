//! Input checks shared by the operations. Each returns the error naming the argument.

use ipnet::IpNet;

use crate::engine::Limits;
use crate::error::{ArgumentReason, Error};
use crate::model::ip::Reverse;
use crate::model::mac::truncate;

/// Checks a tag list: count and each tag's length (1 to `max_tag_len` bytes).
pub(crate) fn tags(limits: &Limits, tags: &[String]) -> Result<(), Error> {
    if tags.len() > limits.max_tags {
        return Err(Error::constraint(
            "tags",
            format!("at most {} tags, found {}", limits.max_tags, tags.len()),
        ));
    }
    for t in tags {
        if t.is_empty() || t.len() > limits.max_tag_len {
            return Err(Error::constraint(
                "tags",
                format!(
                    "tags must be 1 to {} bytes, found {} bytes",
                    limits.max_tag_len,
                    t.len()
                ),
            ));
        }
    }
    Ok(())
}

/// Checks an optional name: at most `max_name_len` bytes.
pub(crate) fn name(
    limits: &Limits,
    argument: &'static str,
    name: Option<&str>,
) -> Result<(), Error> {
    match name {
        Some(n) if n.len() > limits.max_name_len => Err(Error::constraint(
            argument,
            format!("at most {} bytes, found {}", limits.max_name_len, n.len()),
        )),
        _ => Ok(()),
    }
}

/// Checks the number of items of a list argument.
pub(crate) fn items(limits: &Limits, argument: &'static str, n: usize) -> Result<(), Error> {
    if n > limits.max_list_items {
        return Err(Error::constraint(
            argument,
            format!("at most {} items, found {n}", limits.max_list_items),
        ));
    }
    Ok(())
}

/// Checks reverses for an IP of `subnet` and returns them with host names ending in `.`.
pub(crate) fn reverses(
    limits: &Limits,
    subnet: IpNet,
    reverses: &[Reverse],
) -> Result<Box<[Reverse]>, Error> {
    if reverses.len() > limits.max_reverses {
        return Err(Error::constraint(
            "reverses",
            format!(
                "at most {} reverses, found {}",
                limits.max_reverses,
                reverses.len()
            ),
        ));
    }
    reverses
        .iter()
        .map(|r| {
            let host = r.hostname.strip_suffix('.').unwrap_or(&r.hostname);
            if !is_hostname(host, limits.max_hostname_len) {
                return Err(Error::InvalidArgument {
                    argument: "reverses.hostname".into(),
                    reason: ArgumentReason::Format,
                    help: format!(
                        "{:?} is not a host name: expected dot-separated labels of 1 to 63 letters, digits, '-' (not first or last) or '_', at most {} bytes",
                        truncate(&r.hostname),
                        limits.max_hostname_len
                    ),
                });
            }
            if let Some(a) = r.address {
                if !subnet.contains(&a) {
                    return Err(Error::constraint(
                        "reverses.address",
                        format!("address {a} is outside the ip's subnet {subnet}"),
                    ));
                }
            }
            Ok(Reverse { hostname: format!("{host}."), address: r.address })
        })
        .collect()
}

fn is_hostname(host: &str, max: usize) -> bool {
    !host.is_empty()
        && host.len() <= max
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Checks `page` (1-based) and `page_size` (`1..=max_page_size`); returns the index of the
/// page's first item and the page size.
pub(crate) fn page(limits: &Limits, page: u32, page_size: u32) -> Result<(u64, usize), Error> {
    if page == 0 {
        return Err(Error::constraint(
            "page",
            "pages are numbered from 1, found 0".into(),
        ));
    }
    if page_size == 0 || page_size > limits.max_page_size {
        return Err(Error::constraint(
            "page_size",
            format!("expected 1 to {}, found {page_size}", limits.max_page_size),
        ));
    }
    Ok((
        u64::from(page - 1) * u64::from(page_size),
        page_size as usize,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames() {
        assert!(is_hostname("tf-reverse-ipam.scaleway-terraform.com", 253));
        assert!(is_hostname("a", 253));
        assert!(!is_hostname("", 253));
        assert!(!is_hostname("a..b", 253));
        assert!(!is_hostname("a b", 253));
        assert!(!is_hostname("-", 253));
        assert!(!is_hostname("a.-b.c", 253));
        assert!(!is_hostname(&"a".repeat(64), 253));
    }

    #[test]
    fn reverses_get_a_trailing_dot_and_stay_in_subnet() {
        let net: IpNet = "172.16.0.0/22".parse().unwrap();
        let l = Limits::default();
        let out = reverses(
            &l,
            net,
            &[
                Reverse::new("a.example.com", None),
                Reverse::new("b.example.com.", Some("172.16.1.1".parse().unwrap())),
            ],
        )
        .unwrap();
        assert_eq!(out[0].hostname, "a.example.com.");
        assert_eq!(out[1].hostname, "b.example.com.");
        assert!(reverses(
            &l,
            net,
            &[Reverse::new("x", Some("10.0.0.1".parse().unwrap()))]
        )
        .is_err());
    }
}
