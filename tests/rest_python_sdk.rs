//! The official Scaleway Python SDK as a client of `ipam-server`: runs `tests/python/run.sh`
//! (virtualenv, `pip install scaleway`, release build of the server, `sdk_test.py`, then
//! `snapshot_test.py`: a restart with `--snapshot` keeps the state, a corrupt file is refused).
//!
//! It needs the network (`PyPI`) and `python3` with `venv`, so it runs only when
//! `IPAM_PYTHON_SDK_TEST=1` is set; plain `cargo test` stays fast and offline.

use std::process::Command;

#[test]
fn python_sdk_against_the_server() {
    if std::env::var_os("IPAM_PYTHON_SDK_TEST").is_none_or(|v| v != "1") {
        eprintln!("skipped: set IPAM_PYTHON_SDK_TEST=1 to run the Python SDK test");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/run.sh");
    let status = Command::new("bash")
        .arg(script)
        .status()
        .expect("bash runs tests/python/run.sh");
    assert!(status.success(), "tests/python/run.sh failed: {status}");
}
