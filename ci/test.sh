#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "setup: packages"
ci/setup.sh

export CARGO_TERM_COLOR=never
# Protocol-trace snapshots (sim/tests/traces.rs) must match; CI never writes new ones.
export INSTA_UPDATE=no
# Build parallelism: this machine class has 2 cores; let cargo use them all.
export CARGO_INCREMENTAL=0

step "format"
cargo fmt --all --check

step "clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "build (tests, binary)"
cargo build --workspace --all-targets --locked
cargo build -p actors --bin dittofs --locked
# The production binary carries no fault injection: buggify sites exist only with the sim
# feature, which only the simulator turns on (their names would show up as strings).
if grep -a -q -e reply-dropped -e flush-fails-midway "${CARGO_TARGET_DIR:-target}/debug/dittofs"; then
  echo "ci/test.sh: buggify sites found in the dittofs binary" >&2
  exit 1
fi

step "kernel-client VM (cached between runs)"
ci/vm/build.sh

step "tests"
if command -v cargo-nextest >/dev/null; then
  cargo nextest run --workspace --locked --no-fail-fast
  cargo test --workspace --doc --locked
else
  cargo test --workspace --locked --no-fail-fast
fi

step "fuzz smoke (each target ${FUZZ_SECONDS:-20}s)"
ci/fuzz-smoke.sh

step "done"
