//! The `json` target: see `fuzz/checks/json.rs`, which the corpus replay test
//! (`tests/fuzz_corpus.rs`) runs too.
#![no_main]

#[path = "../checks/json.rs"]
mod json;

libfuzzer_sys::fuzz_target!(|data: &[u8]| json::check(data));
