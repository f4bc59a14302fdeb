#!/usr/bin/env bash
# Makes a tarball of a source-like tree for the untar workloads, and its sha256 manifest.
#
#   ci/vm/mktree.sh OUT_DIR [FILES]
#
# OUT_DIR/tree.tar.gz holds FILES (default 2500) regular files under tree/, spread over
# nested directories, most small (0 to 16 KiB) and some larger (up to 1 MiB), like a source
# checkout; OUT_DIR/tree.sha256 lists every file's checksum relative to the tree's parent.
set -euo pipefail
out="$1" n="${2:-2500}"
mkdir -p "$out"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
RANDOM=20261124
for ((i = 0; i < n; i++)); do
  d="tree/d$((i % 7))/s$((i % 23))"
  ((i % 5 == 0)) && d="$d/deep$((i % 3))"
  mkdir -p "$stage/$d"
  if ((i % 97 == 0)); then size=$(((RANDOM << 5) % 1048576)); else size=$((RANDOM % 16384)); fi
  head -c "$size" /dev/urandom >"$stage/$d/f$i.c"
done
(cd "$stage" && find tree -type f -print0 | sort -z | xargs -0 sha256sum) >"$out/tree.sha256"
tar -C "$stage" -czf "$out/tree.tar.gz" tree
echo "ci/vm/mktree.sh: $(wc -l <"$out/tree.sha256") files, $(du -sh "$stage/tree" | cut -f1)"
