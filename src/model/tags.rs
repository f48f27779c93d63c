//! [`Tags`]: an IP's tags as the API returns them, shared rather than copied.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The tags of an IP, in the order they were given (repeats kept), as a shared immutable list.
///
/// IPs carrying the same tags share one list in the engine, so an [`Ip`](crate::Ip) built for a
/// get, a list page or a booking takes a reference to it instead of copying every tag: cloning
/// is one reference count. In JSON it is a plain array of strings.
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
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Tags(Arc<[Arc<str>]>);

impl Tags {
    /// No tags.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Shares `tags`, whose strings the engine may share with other lists.
    pub(crate) fn from_shared(tags: Arc<[Arc<str>]>) -> Self {
        Self(tags)
    }

    /// Number of tags.
    #[must_use]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are no tags.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The `i`th tag.
    #[must_use]
    pub fn get(&self, i: usize) -> Option<&str> {
        self.0.get(i).map(|t| &**t)
    }

    /// Whether `tag` is among the tags.
    #[must_use]
    pub fn contains(&self, tag: &str) -> bool {
        self.iter().any(|t| t == tag)
    }

    /// The tags, in order.
    pub fn iter(&self) -> TagsIter<'_> {
        TagsIter(self.0.iter())
    }

    /// The tags as owned strings.
    #[must_use]
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

/// The tags of a [`Tags`], in order.
#[derive(Clone, Debug)]
pub struct TagsIter<'a>(std::slice::Iter<'a, Arc<str>>);

impl<'a> Iterator for TagsIter<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        self.0.next().map(|t| &**t)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for TagsIter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|t| &**t)
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
        Self(tags.into_iter().map(|t| Arc::from(t.as_ref())).collect())
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

    #[test]
    fn tags_are_a_json_array_of_strings() {
        let tags: Tags = serde_json::from_str(r#"["web","","é"]"#).unwrap();
        assert_eq!(tags, ["web", "", "é"]);
        assert_eq!(serde_json::to_string(&tags).unwrap(), r#"["web","","é"]"#);
        assert!(serde_json::from_str::<Tags>(r#"["web",1]"#).is_err());
        assert!(serde_json::from_str::<Tags>(r#""web""#).is_err());
    }
}
