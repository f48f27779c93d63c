//! [`Tags`]: an IP's tags as the API returns them, copied inline when short, shared otherwise.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The tags of an IP, in the order they were given (repeats kept), as an immutable list.
///
/// A short list (up to 6 tags of 40 bytes in all) is held inline, so that cloning it copies a
/// few words; a longer one is shared, and cloning it is one reference count. The engine keeps
/// each distinct list of its IPs' tags in that form, so an [`Ip`](crate::Ip) built for a get, a
/// list page or a booking copies or shares the list whole rather than copying every tag. An
/// inline copy takes no atomic reference count: an atomic increment (and a decrement when the
/// `Ip` drops) waits for the memory accesses before it, which cost a list page of 100 IPs 6 to
/// 9 % of its time. In JSON it is a plain array of strings.
///
/// ```
/// use ipam_engine::Tags;
///
/// let tags = Tags::from_iter(["web", "prod"]);
/// assert_eq!(tags, ["web", "prod"]);
/// assert!(tags.contains("prod"));
/// assert_eq!(tags.iter().map(str::len).sum::<usize>(), 7);
/// assert_eq!(serde_json::to_string(&tags).unwrap(), r#"["web","prod"]"#);
/// ```
pub struct Tags(Repr);

/// Most tags a list held inline has.
const INLINE_TAGS: usize = 6;
/// Most bytes, all tags together, of a list held inline.
const INLINE_BYTES: usize = 40;

enum Repr {
    Inline(Inline),
    Shared(Arc<[Arc<str>]>),
}

/// `count` tags; tag `i` is `bytes[ends[i - 1]..ends[i]]` (from 0 for the first). One plain
/// value, so that copying it is a copy of its 47 bytes rather than one move per field.
#[derive(Clone, Copy)]
struct Inline {
    count: u8,
    ends: [u8; INLINE_TAGS],
    bytes: [u8; INLINE_BYTES],
}

impl Clone for Tags {
    fn clone(&self) -> Self {
        self.copied().unwrap_or_else(|| self.shared_clone())
    }
}

impl Default for Tags {
    fn default() -> Self {
        Self(Repr::Inline(Inline {
            count: 0,
            ends: [0; INLINE_TAGS],
            bytes: [0; INLINE_BYTES],
        }))
    }
}

impl Tags {
    /// No tags.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The list of `tags`: inline when it fits, else shared, taking the strings (which the
    /// engine may share with other lists) as they are.
    pub(crate) fn from_shared<'a, I>(tags: I) -> Self
    where
        I: Iterator<Item = &'a Arc<str>> + Clone,
    {
        Self::inline(tags.clone().map(|t| &**t))
            .unwrap_or_else(|| Self(Repr::Shared(tags.cloned().collect())))
    }

    /// The list of `tags` held inline, if it fits.
    fn inline<'a>(tags: impl IntoIterator<Item = &'a str>) -> Option<Self> {
        let (mut count, mut ends, mut bytes) = (0, [0u8; INLINE_TAGS], [0u8; INLINE_BYTES]);
        let mut end = 0;
        for tag in tags {
            let start = end;
            end += tag.len();
            if count == INLINE_TAGS || end > INLINE_BYTES {
                return None;
            }
            bytes[start..end].copy_from_slice(tag.as_bytes());
            // At most INLINE_BYTES (40): fits a byte.
            ends[count] = end as u8;
            count += 1;
        }
        Some(Self(Repr::Inline(Inline {
            count: count as u8,
            ends,
            bytes,
        })))
    }

    /// A copy of a list held inline; `None` for a shared one.
    #[inline]
    pub(crate) fn copied(&self) -> Option<Self> {
        match &self.0 {
            Repr::Inline(inline) => Some(Self(Repr::Inline(*inline))),
            Repr::Shared(_) => None,
        }
    }

    /// A clone of a shared list (one reference count), out of the line of [`Tags::copied`].
    #[cold]
    #[inline(never)]
    pub(crate) fn shared_clone(&self) -> Self {
        match &self.0 {
            Repr::Inline(inline) => Self(Repr::Inline(*inline)),
            Repr::Shared(tags) => Self(Repr::Shared(Arc::clone(tags))),
        }
    }

    /// Number of tags.
    #[must_use]
    pub fn len(&self) -> usize {
        match &self.0 {
            Repr::Inline(inline) => usize::from(inline.count),
            Repr::Shared(tags) => tags.len(),
        }
    }

    /// Whether there are no tags.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`th tag.
    #[must_use]
    pub fn get(&self, i: usize) -> Option<&str> {
        match &self.0 {
            // The bytes of whole tags, each copied from a `str`: always valid UTF-8.
            Repr::Inline(_) => Some(std::str::from_utf8(self.bytes_of(i)?).unwrap_or_default()),
            Repr::Shared(tags) => tags.get(i).map(|t| &**t),
        }
    }

    /// The bytes of the `i`th tag.
    fn bytes_of(&self, i: usize) -> Option<&[u8]> {
        match &self.0 {
            Repr::Inline(Inline { count, ends, bytes }) => {
                if i >= usize::from(*count) {
                    return None;
                }
                let start = if i == 0 { 0 } else { usize::from(ends[i - 1]) };
                Some(&bytes[start..usize::from(ends[i])])
            }
            Repr::Shared(tags) => tags.get(i).map(|t| t.as_bytes()),
        }
    }

    /// The tags' bytes, in order: what the engine hashes and compares, without the check that
    /// turning inline bytes into a `&str` takes.
    pub(crate) fn bytes(&self) -> impl Iterator<Item = &[u8]> + Clone {
        (0..self.len()).filter_map(|i| self.bytes_of(i))
    }

    /// Whether the tags are `names`, in order.
    pub(crate) fn is(&self, names: &[String]) -> bool {
        self.len() == names.len() && self.bytes().zip(names).all(|(t, n)| t == n.as_bytes())
    }

    /// Whether `tag` is among the tags.
    #[must_use]
    pub fn contains(&self, tag: &str) -> bool {
        self.iter().any(|t| t == tag)
    }

    /// The tags, in order.
    pub fn iter(&self) -> TagsIter<'_> {
        TagsIter {
            tags: self,
            front: 0,
            back: self.len(),
        }
    }

    /// The tags as owned strings.
    #[must_use]
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

impl PartialEq for Tags {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.bytes().eq(other.bytes())
    }
}

impl Eq for Tags {}

impl Hash for Tags {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_usize(self.len());
        for tag in self.bytes() {
            tag.hash(state);
        }
    }
}

/// The tags of a [`Tags`], in order.
#[derive(Clone, Debug)]
pub struct TagsIter<'a> {
    tags: &'a Tags,
    /// The next tag from the front, and one past the next from the back.
    front: usize,
    back: usize,
}

impl<'a> Iterator for TagsIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.front == self.back {
            return None;
        }
        self.front += 1;
        self.tags.get(self.front - 1)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.back - self.front;
        (n, Some(n))
    }
}

impl DoubleEndedIterator for TagsIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front == self.back {
            return None;
        }
        self.back -= 1;
        self.tags.get(self.back)
    }
}

impl ExactSizeIterator for TagsIter<'_> {}

impl std::iter::FusedIterator for TagsIter<'_> {}

impl<'a> IntoIterator for &'a Tags {
    type Item = &'a str;
    type IntoIter = TagsIter<'a>;

    fn into_iter(self) -> TagsIter<'a> {
        self.iter()
    }
}

impl<S: AsRef<str>> FromIterator<S> for Tags {
    fn from_iter<I: IntoIterator<Item = S>>(tags: I) -> Self {
        let tags: Vec<S> = tags.into_iter().collect();
        Self::inline(tags.iter().map(AsRef::as_ref)).unwrap_or_else(|| {
            Self(Repr::Shared(
                tags.iter().map(|t| Arc::from(t.as_ref())).collect(),
            ))
        })
    }
}

impl From<Vec<String>> for Tags {
    fn from(tags: Vec<String>) -> Self {
        tags.into_iter().collect()
    }
}

impl From<Tags> for Vec<String> {
    fn from(tags: Tags) -> Self {
        tags.to_vec()
    }
}

impl fmt::Debug for Tags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<S: AsRef<str>> PartialEq<[S]> for Tags {
    fn eq(&self, other: &[S]) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<[S; N]> for Tags {
    fn eq(&self, other: &[S; N]) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for Tags {
    fn eq(&self, other: &Vec<S>) -> bool {
        *self == other[..]
    }
}

impl<S: AsRef<str>> PartialEq<&[S]> for Tags {
    fn eq(&self, other: &&[S]) -> bool {
        *self == **other
    }
}

impl<S: AsRef<str>> PartialEq<Tags> for Vec<S> {
    fn eq(&self, other: &Tags) -> bool {
        *other == self[..]
    }
}

impl<S: AsRef<str>, const N: usize> PartialEq<Tags> for [S; N] {
    fn eq(&self, other: &Tags) -> bool {
        *other == self[..]
    }
}

impl Serialize for Tags {
    fn serialize<Ser: Serializer>(&self, serializer: Ser) -> Result<Ser::Ok, Ser::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(deserializer).map(Tags::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_compare_as_their_strings_in_order() {
        let tags = Tags::from(vec!["b".to_owned(), "a".to_owned(), "b".to_owned()]);
        assert_eq!(tags, ["b", "a", "b"]);
        assert_ne!(tags, ["a", "b", "b"]);
        assert_ne!(tags, ["b", "a"]);
        assert_eq!(tags, vec!["b".to_owned(), "a".to_owned(), "b".to_owned()]);
        assert_eq!(vec!["b", "a", "b"], tags);
        assert_eq!(["b", "a", "b"], tags);
        assert_eq!(tags.get(1), Some("a"));
        assert_eq!(tags.get(3), None);
        assert_eq!(tags.iter().rev().collect::<Vec<_>>(), ["b", "a", "b"]);
        assert_eq!(tags.iter().len(), 3);
        assert!(tags.contains("a") && !tags.contains("c"));
        assert_eq!(Vec::<String>::from(tags.clone()), ["b", "a", "b"]);
        assert_eq!(format!("{tags:?}"), r#"["b", "a", "b"]"#);
        assert!(Tags::new().is_empty() && Tags::new() == [""; 0]);
    }

    fn is_inline(tags: &Tags) -> bool {
        matches!(tags.0, Repr::Inline(_))
    }

    #[test]
    fn short_lists_are_inline_and_long_ones_shared_with_the_same_behaviour() {
        let forty = "x".repeat(INLINE_BYTES);
        let cases: Vec<(Vec<String>, bool)> = vec![
            (vec![], true),
            (vec![String::new()], true),
            (vec![forty.clone()], true),
            (vec![forty.clone() + "y"], false),
            (vec!["é".repeat(10), "b".repeat(20)], true),
            (vec!["é".repeat(10), "b".repeat(21)], false),
            ((0..INLINE_TAGS).map(|i| i.to_string()).collect(), true),
            ((0..=INLINE_TAGS).map(|i| i.to_string()).collect(), false),
            (vec![String::new(); INLINE_TAGS + 1], false),
        ];
        for (names, inline) in cases {
            let tags = Tags::from(names.clone());
            assert_eq!(is_inline(&tags), inline, "{names:?}");
            assert_eq!(tags, names);
            assert_eq!(tags.len(), names.len());
            assert_eq!(tags.iter().len(), names.len());
            assert_eq!(tags.iter().collect::<Vec<_>>(), names);
            assert_eq!(
                tags.iter().rev().collect::<Vec<_>>(),
                names.iter().rev().collect::<Vec<_>>()
            );
            assert_eq!(tags.get(names.len()), None);
            assert!(tags.is(&names));
            assert_eq!(
                tags.bytes().collect::<Vec<_>>(),
                names.iter().map(String::as_bytes).collect::<Vec<_>>()
            );
            let mut other = names.clone();
            other.push(String::new());
            assert!(!tags.is(&other), "one more");
            if let Some((_, fewer)) = names.split_last() {
                assert!(!tags.is(fewer), "one fewer");
                let mut changed = names.clone();
                changed[names.len() - 1].push('z');
                assert!(!tags.is(&changed), "the last one longer");
            }
            let json = serde_json::to_string(&tags).unwrap();
            assert_eq!(json, serde_json::to_string(&names).unwrap());
            assert_eq!(serde_json::from_str::<Tags>(&json).unwrap(), tags);
            // The engine's lists, built from shared strings, take the same form.
            let shared: Vec<Arc<str>> = names.iter().map(|n| Arc::from(n.as_str())).collect();
            let engine = Tags::from_shared(shared.iter());
            assert_eq!(is_inline(&engine), inline);
            assert_eq!(engine, tags);
        }
    }

    #[test]
    fn equal_lists_are_equal_and_hash_alike_in_either_form() {
        use std::hash::BuildHasher;
        let names = ["web", "prod"];
        let inline = Tags::from_iter(names);
        let shared = Tags(Repr::Shared(names.iter().map(|&n| Arc::from(n)).collect()));
        assert!(is_inline(&inline) && !is_inline(&shared));
        assert_eq!(inline, shared);
        let state = std::collections::hash_map::RandomState::new();
        assert_eq!(state.hash_one(&inline), state.hash_one(&shared));
        assert_ne!(inline, Tags::from_iter(["web"]));
        assert_ne!(inline, Tags::from_iter(["webp", "rod"]));
        let mut iter = shared.iter();
        assert_eq!(
            (iter.next(), iter.next_back(), iter.next()),
            (Some("web"), Some("prod"), None)
        );
    }

    #[test]
    fn tags_are_a_json_array_of_strings() {
        let tags: Tags = serde_json::from_str(r#"["web","","é"]"#).unwrap();
        assert_eq!(tags, ["web", "", "é"]);
        assert_eq!(serde_json::to_string(&tags).unwrap(), r#"["web","","é"]"#);
        assert!(serde_json::from_str::<Tags>(r#"["web",1]"#).is_err());
        assert!(serde_json::from_str::<Tags>(r#""web""#).is_err());
    }
}
