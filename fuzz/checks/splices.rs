//! Fragments that push parsers to their edges, spliced into request bodies, paths and queries
//! by the `rest` fuzz check and the seeded REST fuzz test.

/// Replacement fragments, spliced into bodies and paths as bytes.
pub(crate) const SPLICES: [&str; 25] = [
    "null",
    "[]",
    "{}",
    "\"\"",
    "-1",
    "1e999",
    "true",
    "\"True\"",
    "\u{0}",
    "%",
    "%ff",
    "&",
    "=",
    "\\u0000",
    "\"\\ud800\"",
    "{{{{{{{{",
    "]]]]",
    "99999999999999999999",
    "fd00::/8",
    "/",
    "..",
    "?",
    "unknown_type",
    "02:00:00:00:00:00",
    "00000000-0000-0000-0000-000000000000",
];
