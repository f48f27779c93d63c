//! Replays the fuzz targets' checked-in inputs through the very checks the targets run
//! (`fuzz/checks/*.rs`, included here by path), so that `cargo test` covers them on stable Rust
//! without cargo-fuzz: every file of `fuzz/corpus/<target>/` (the seed corpus) and of
//! `fuzz/regressions/<target>/` (inputs that once failed, kept once fixed).
//!
//! `fuzz/open-bugs/<target>/` holds inputs that still fail because of engine bugs not fixed yet;
//! the ignored test [`open_bugs_are_fixed`] replays them (`cargo test --test fuzz_corpus --
//! --ignored`). Once a bug is fixed, its input moves to `fuzz/regressions/<target>/`.

// Each check file includes the byte reader (`fuzz/checks/bytes.rs`) itself, so that each fuzz
// target builds from its own check alone; here, where all of them meet, it is loaded twice.
#![allow(clippy::duplicate_mod)]

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[path = "../fuzz/checks/json.rs"]
mod json;
#[path = "../fuzz/checks/ops.rs"]
mod ops;
#[path = "../fuzz/checks/rest.rs"]
mod rest;

/// The files of `fuzz/<dir>/<target>/`, sorted; none when the directory does not exist.
fn inputs(dir: &str, target: &str) -> Vec<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(dir)
        .join(target);
    let Ok(entries) = fs::read_dir(&path) else {
        return Vec::new();
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("a readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// The inputs of `fuzz/<dir>/<target>/` that fail `check` (their panic messages go to stderr).
fn failures(dir: &str, target: &str, check: fn(&[u8])) -> Vec<String> {
    inputs(dir, target)
        .into_iter()
        .filter(|file| {
            let data = fs::read(file).expect("a readable input");
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|file| file.display().to_string())
        .collect()
}

/// Runs the seed corpus and the regressions of `target` through `check`; fails listing every
/// input that fails.
fn replay(target: &str, check: fn(&[u8])) {
    assert!(
        !inputs("corpus", target).is_empty(),
        "no seed corpus for {target}"
    );
    let mut failed = failures("corpus", target, check);
    failed.extend(failures("regressions", target, check));
    assert!(
        failed.is_empty(),
        "{target}: {} input(s) fail (messages above):\n{}",
        failed.len(),
        failed.join("\n")
    );
}

#[test]
fn json_corpus_passes() {
    replay("json", json::check);
}

#[test]
fn ops_corpus_passes() {
    replay("ops", ops::check);
}

#[test]
fn rest_corpus_passes() {
    replay("rest", rest::check);
}

/// The decoders take any bytes: short, empty, all zeros, all ones.
#[test]
fn degenerate_inputs_pass() {
    for data in [&[][..], &[0], &[0xff], &[0; 64], &[0xff; 64]] {
        json::check(data);
        ops::check(data);
        rest::check(data);
    }
}

/// The inputs of engine bugs found by fuzzing and not fixed yet: this fails until they are.
#[test]
#[ignore = "reproduces open engine bugs (fuzz/open-bugs/); run with --ignored"]
fn open_bugs_are_fixed() {
    let mut failed = failures("open-bugs", "json", json::check);
    failed.extend(failures("open-bugs", "ops", ops::check));
    failed.extend(failures("open-bugs", "rest", rest::check));
    assert!(
        failed.is_empty(),
        "{} open bug(s) still reproduce (messages above):\n{}",
        failed.len(),
        failed.join("\n")
    );
}
