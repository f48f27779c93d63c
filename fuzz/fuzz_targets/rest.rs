//! The `rest` target: see `fuzz/checks/rest.rs`, which the corpus replay test
//! (`tests/fuzz_corpus.rs`) runs too.
#![no_main]

#[path = "../checks/rest.rs"]
mod rest;

libfuzzer_sys::fuzz_target!(|data: &[u8]| rest::check(data));
