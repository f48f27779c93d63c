#!/usr/bin/env bash
# The official Scaleway Python SDK against ipam-server: builds the server, installs `scaleway`
# from PyPI into a virtualenv (target/python-sdk-venv, reused between runs), and runs
# tests/python/sdk_test.py, which starts the server on a free loopback port, then
# tests/python/snapshot_test.py (restart with --snapshot keeps the state).
# Needs python3 with the venv module (Debian/Ubuntu: apt-get install -y python3-venv).
set -euo pipefail
cd "$(dirname "$0")/../.."

venv="${IPAM_SDK_VENV:-target/python-sdk-venv}"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade scaleway

cargo build --release --features server --bin ipam-server
"$venv/bin/python" tests/python/sdk_test.py target/release/ipam-server
"$venv/bin/python" tests/python/snapshot_test.py target/release/ipam-server
