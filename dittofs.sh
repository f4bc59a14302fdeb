#!/usr/bin/env bash
# Builds and runs DittoFS on a fresh Debian machine: the README's first command.
#
#   ./dittofs.sh start            # install build packages if missing, build (release), serve
#   ./dittofs.sh init             # any dittofs subcommand and flags pass through
#   ./dittofs.sh --check start    # only report what is missing and what would run; no build
#
# It installs the Debian packages the build needs (ci/packages.sh: g++, clang, libclang-dev;
# installing needs root, and it says so), builds the release binary (the first build compiles
# RocksDB's C++: about 17 minutes on two cores), writes the default configuration with
# `dittofs init` when `start` finds none, and then runs `dittofs` with your arguments.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
source "$here/ci/packages.sh"
me=./dittofs.sh

check=""
if [[ "${1:-}" == "--check" ]]; then
  check=1
  shift
fi
(($#)) || set -- start
target="${CARGO_TARGET_DIR:-$here/target}"
bin="$target/release/dittofs"
build=(cargo build --release --locked -p actors --bin dittofs)

if [[ -n "$check" ]]; then
  status=0
  mapfile -t missing < <(missing_packages "${BUILD_PACKAGES[@]}")
  if ((${#missing[@]})); then
    echo "$me: missing Debian packages: ${missing[*]} (would install them; that needs root)"
    status=1
  else
    echo "$me: build packages present: ${BUILD_PACKAGES[*]}"
  fi
  if command -v cargo >/dev/null; then
    echo "$me: cargo present: $(cargo --version)"
  else
    echo "$me: cargo not found: install Rust with rustup first"
    status=1
  fi
  echo "$me: would build: ${build[*]} (in $here)"
  echo "$me: would run: $bin $*"
  exit "$status"
fi

ensure_packages "$me" "${BUILD_PACKAGES[@]}"
command -v cargo >/dev/null || {
  echo "$me: cargo not found: install Rust with rustup (https://rustup.rs), then run $me again" >&2
  exit 1
}
if [[ ! -x "$bin" ]]; then
  echo "$me: first build: RocksDB's C++ takes about 17 minutes on two cores"
fi
(cd "$here" && "${build[@]}")

# `start` without a configuration file would run on the built-in defaults; write them to the
# file first (what `dittofs init` does), so there is a file to edit afterwards.
for ((i = 1; i <= $#; i++)); do
  if [[ "${!i}" == "start" ]]; then
    global=("${@:1:i-1}")
    validate="$("$bin" "${global[@]}" config validate 2>&1 || true)"
    if [[ "$validate" == *"no config file"* ]]; then
      "$bin" "${global[@]}" init
    fi
    break
  fi
done
exec "$bin" "$@"
