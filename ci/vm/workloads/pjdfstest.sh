# Guest workload (busybox sh): pjdfstest on the kernel NFSv3 client's mount, as root.
#
# Environment: PORT (the server's NFS and MOUNT port), GROUPS (test-name patterns, e.g.
# "chmod chown"; empty runs everything). Needs: --bin pjdfstest, --file pjdfstest.toml.
#
# Two passes: everything with remounts off, then the EROFS cases alone with remounts on (see
# pjdfstest.toml). Prints pjdfstest's lines, "PJDFSTEST-FAILED name" for each failure and one
# "PJDFSTEST-TOTAL" line summing both passes. Exits 0 when both passes reached their summary;
# the host judges the counts.
set -eu
. /workload/lib.sh
M=/mnt/nfs
export NO_COLOR=1
nfs_mount "$M"
mkdir -p /tmp/second

# pass NAME CONFIG PATTERNS...: one pjdfstest run in a fresh directory; output in /tmp/NAME.out.
pass() {
  name="$1" config="$2"
  shift 2
  W="$M/pjdfstest.$name"
  mkdir "$W"
  step "pjdfstest pass '$name': ${*:-(all groups)}"
  pjdfstest -c "$config" -p "$W" -s /tmp/second "$@" >"/tmp/$name.out" 2>&1 || true
  cat "/tmp/$name.out"
  grep -q '^Summary:' "/tmp/$name.out" || fail "pjdfstest pass '$name' did not reach its summary"
  rm -rf "$W" || true
}

# shellcheck disable=SC2086 # GROUPS is a list of patterns
pass main /workload/pjdfstest.toml ${GROUPS:-}
sed 's/^allow_remount = false/allow_remount = true/' /workload/pjdfstest.toml >/tmp/erofs.toml
pass erofs /tmp/erofs.toml erofs

cat /tmp/main.out /tmp/erofs.out | grep -E '^[^[:space:]]+ +FAILED$' | awk '{print "PJDFSTEST-FAILED " $1}'
# "Summary: F failed, S skipped, P passed, E expected failures, T total"
n() { grep '^Summary:' "/tmp/$1.out" | sed 's/[^0-9 ]//g' | awk -v i="$2" '{print $i}'; }
erofs_total=$(n erofs 5)
echo "PJDFSTEST-TOTAL failed=$(($(n main 1) + $(n erofs 1))) skipped=$(($(n main 2) - erofs_total + $(n erofs 2))) passed=$(($(n main 3) + $(n erofs 3))) expected_failures=$(($(n main 4) + $(n erofs 4))) total=$(n main 5)"
cd /
umount "$M" || true
step "done"
