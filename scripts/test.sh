#!/usr/bin/env bash
# The whole test suite, as CI runs it: setup, formatting, lints, every test (benches run once
# in test mode so they are known to work), doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --all-targets --locked
cargo test --workspace --doc --locked
