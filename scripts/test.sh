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
# The fuzz targets (fuzz/, outside the workspace) type-check on stable, so they cannot rot.
# Sharing the workspace's target dir reuses its dependency builds: a few seconds when warm.
# If this fails with "lock file needs to be updated", refresh it from the workspace's:
#   cp Cargo.lock fuzz/Cargo.lock && cargo check --manifest-path fuzz/Cargo.toml --bins
CARGO_TARGET_DIR="$PWD/target" cargo check --locked --manifest-path fuzz/Cargo.toml --bins
