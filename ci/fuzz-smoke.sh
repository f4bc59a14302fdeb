#!/usr/bin/env bash
# Fuzz smoke test: builds the cargo-fuzz targets in fuzz/ and runs each for FUZZ_SECONDS
# (default 20) from a copy of the committed corpus, so the corpus in git is never changed here.
# Fails, naming the target and the crashing input, if any target crashes.
#
# The toolchain here is stable; cargo-fuzz needs nightly-only flags (-Zsanitizer=address, the
# sanitizer-coverage passes). RUSTC_BOOTSTRAP=1 lets stable rustc accept them; the prebuilt
# standard library is fine for AddressSanitizer on x86_64 Linux.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${FUZZ_SECONDS:-20}"
cargo_fuzz_version=0.13.2
targets=(record rpc_call nfs3_call nfs3_reply mount portmap smb2_create smb2_io smb2_dir ntlm spnego smb2_frame smb2_compound smb2_negotiate smb2_session smb2_transform smb1_negotiate smb2_crypto credits dcerpc smb2_info smb2_security smb2_ioctl nlm nsm)

if ! cargo fuzz --version 2>/dev/null | grep -q "$cargo_fuzz_version"; then
  echo "fuzz-smoke: installing cargo-fuzz $cargo_fuzz_version"
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked
fi

export RUSTC_BOOTSTRAP=1
# Its own target directory: the sanitizer build shares nothing with the workspace build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}/fuzz"
cd fuzz
echo "fuzz-smoke: building ${#targets[@]} targets"
cargo fuzz build --release 2>&1 | tail -n 3

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$work/corpus/$t" "$work/artifacts/$t"
  cp corpus/"$t"/* "$work/corpus/$t/"
  start=$(date +%s)
  if cargo fuzz run "$t" "$work/corpus/$t" -- \
      -max_total_time="$seconds" -artifact_prefix="$work/artifacts/$t/" \
      -print_final_stats=1 >"$work/$t.log" 2>&1; then
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t.log" | grep -o '[0-9]*$' || echo '?')
    cov=$(grep -o 'cov: [0-9]*' "$work/$t.log" | tail -n 1 || true)
    echo "fuzz-smoke: $t ok: $execs executions in $(( $(date +%s) - start ))s, $cov"
  else
    failed=1
    echo "fuzz-smoke: $t FAILED; its log:" >&2
    tail -n 40 "$work/$t.log" >&2
    for a in "$work/artifacts/$t"/*; do
      [[ -e "$a" ]] || continue
      mkdir -p artifacts/"$t"
      cp "$a" artifacts/"$t"/
      echo "fuzz-smoke: crashing input kept as fuzz/artifacts/$t/$(basename "$a");" \
        "reproduce: cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run $t artifacts/$t/$(basename "$a")" >&2
    done
  fi
done
exit "$failed"
