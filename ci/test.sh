#!/usr/bin/env bash
# The README's test command: installs what the tests need, then runs every check and test.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
step() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - start ))"; }

step "setup: packages"
ci/setup.sh

# The README's run command, without building release a second time: its install check must
# find what setup installed, and name the build packages when dpkg reports none installed.
step "run script (./dittofs.sh --check)"
./dittofs.sh --check start
nodpkg="$(mktemp -d)"
printf '#!/bin/sh\nexit 1\n' >"$nodpkg/dpkg"
chmod +x "$nodpkg/dpkg"
if out="$(PATH="$nodpkg:$PATH" ./dittofs.sh --check start)"; then
  echo "ci/test.sh: ./dittofs.sh --check passed with no packages installed" >&2
  exit 1
fi
grep -q "missing Debian packages: g++ clang libclang-dev" <<<"$out" || {
  echo "ci/test.sh: ./dittofs.sh --check did not name the missing packages: $out" >&2
  exit 1
}
rm -rf "$nodpkg"

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
# One build makes everything, the dittofs binary the tests start included. No second cargo
# build over another set of packages (such as `-p actors --bin dittofs`): cargo unifies the
# features of build-time crates over the packages of one invocation, and the `smb` crate's
# proc macros (a dev-dependency of actors) turn on more syn and proc-macro2 features, so such a
# build would compile bindgen, and with it RocksDB's C++, a second time.
cargo build --workspace --all-targets --locked
[[ -x "${CARGO_TARGET_DIR:-target}/debug/dittofs" ]] || {
  echo "ci/test.sh: the workspace build made no dittofs binary" >&2
  exit 1
}
# The production binary carries no fault injection: buggify sites exist only with the sim
# feature, which only the simulator turns on. The workspace build has it on (sim asks for it
# and cargo unifies features within one build), so what is checked is the binary's own feature
# resolution, as ./dittofs.sh builds it (`-p actors`): actors without `sim`.
if cargo tree -p actors -e features -i actors --locked | grep -q 'feature "sim"'; then
  echo "ci/test.sh: building dittofs alone turns on actors' sim feature (buggify sites)" >&2
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
