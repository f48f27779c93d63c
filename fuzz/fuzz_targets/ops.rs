//! The `ops` target: see `fuzz/checks/ops.rs`, which the corpus replay test
//! (`tests/fuzz_corpus.rs`) runs too.
#![no_main]

#[path = "../checks/ops.rs"]
mod ops;

libfuzzer_sys::fuzz_target!(|data: &[u8]| ops::check(data));
