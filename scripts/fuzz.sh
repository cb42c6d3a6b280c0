#!/usr/bin/env bash
# Runs every fuzz target (or those named as arguments) for a bounded time each, one after
# another, and exits non-zero if any of them crashed. Not part of CI (CI type-checks the targets
# on stable in scripts/test.sh); needs a nightly toolchain, which CI machines need not have.
#
#   scripts/fuzz.sh                      # every target, 60 s each
#   FUZZ_SECONDS=600 scripts/fuzz.sh sdp # one target, 10 minutes
#
# With cargo-fuzz installed it runs `cargo +nightly fuzz run`; without it, it builds the same
# binaries with cargo-fuzz's flags (see fuzz/Cargo.toml) and runs them directly. Corpora grow in
# fuzz/corpus/<target>/ (only the committed seed-* files are tracked), crashing inputs land in
# fuzz/artifacts/<target>/, each run's libFuzzer output in fuzz/artifacts/<target>/last-run.log.
# docs/RELIABILITY.md explains the targets and how to reproduce a crash.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-60}"
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "fuzz.sh: FUZZ_SECONDS must be a positive whole number of seconds, not '$seconds'" >&2
    exit 2
fi

all_targets=$(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^mediabot-fuzz$')
if [ "$#" -gt 0 ]; then
    targets="$*"
    for t in $targets; do
        if ! grep -qx "$t" <<<"$all_targets"; then
            echo "fuzz.sh: no fuzz target '$t'; there are: $(echo $all_targets)" >&2
            exit 2
        fi
    done
else
    targets="$all_targets"
fi

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz.sh: no nightly toolchain here (\`cargo +nightly\` fails), so nothing was fuzzed."
    echo "fuzz.sh: libFuzzer's instrumentation needs nightly; install it with"
    echo "fuzz.sh:   rustup toolchain install nightly"
    echo "fuzz.sh: The targets still type-check on stable: scripts/test.sh does that in CI."
    exit 0
fi

# Seeds from the fixtures, copied (not committed twice) into the corpora on every run.
seed_from() {
    local target="$1"
    shift
    mkdir -p "fuzz/corpus/$target"
    for f in "$@"; do
        [ -f "$f" ] && cp -n "$f" "fuzz/corpus/$target/fixture-$(basename "$f")"
    done
    return 0
}
seed_from pcap_reader fixtures/*.pcap
seed_from notification_parse fixtures/graph-examples/*notification*.json

if command -v cargo-fuzz >/dev/null 2>&1; then
    runner="cargo-fuzz"
else
    runner="direct"
    triple=$(rustc +nightly -vV | sed -n 's/^host: //p')
    # cargo-fuzz's flags (without a sanitizer); the explicit --target keeps build scripts and
    # proc macros uninstrumented.
    export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4
        -Cllvm-args=-sanitizer-coverage-inline-8bit-counters
        -Cllvm-args=-sanitizer-coverage-pc-table
        -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions"
    RUSTFLAGS=$(echo $RUSTFLAGS)
    echo "fuzz.sh: cargo-fuzz not installed; building with nightly and libFuzzer flags directly"
    cargo +nightly build --release --locked --target "$triple" \
        --manifest-path fuzz/Cargo.toml --bins
fi

failed=()
for t in $targets; do
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t"
    log="fuzz/artifacts/$t/last-run.log"
    echo "fuzz.sh: $t for ${seconds} s ($runner)"
    libfuzzer_args=(-max_total_time="$seconds" -print_final_stats=1
        -artifact_prefix="fuzz/artifacts/$t/")
    status=0
    if [ "$runner" = "cargo-fuzz" ]; then
        cargo +nightly fuzz run "$t" "fuzz/corpus/$t" -- "${libfuzzer_args[@]}" \
            >"$log" 2>&1 || status=$?
    else
        "fuzz/target/$triple/release/$t" "${libfuzzer_args[@]}" "fuzz/corpus/$t" \
            >"$log" 2>&1 || status=$?
    fi
    summary=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n 1 |
        grep -oE '(cov|ft|corp): [^ ]+' | tr '\n' ' ' || true)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        echo "fuzz.sh: $t FAILED (exit $status); the input is in fuzz/artifacts/$t/, the log in $log:"
        grep -E 'panicked at|ERROR: libFuzzer|SUMMARY|Test unit written to' "$log" | head -n 8 || true
    else
        echo "fuzz.sh: $t ok: ${execs:-?} executions, ${rate:-?} exec/s; ${summary:-no coverage line}"
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz.sh: crashed: ${failed[*]} (reproduce: see docs/RELIABILITY.md)" >&2
    exit 1
fi
echo "fuzz.sh: every target ran ${seconds} s without a crash"
