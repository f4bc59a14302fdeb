# Shared by the guest workloads (busybox sh); ci/vm/run.sh puts it at /workload/lib.sh.

t0=$(date +%s)
# step TEXT: a progress line with the seconds since the workload started.
step() { echo "== [$(($(date +%s) - t0))s] $*"; }
fail() { echo "FAIL: $*"; exit 1; }
# expect WHAT GOT WANT
expect() {
  [ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
}
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches; }

# nfs_mount DIR [EXTRA_OPTS]: mounts 10.0.2.2:$EXPORT (default /export) with the kernel NFSv3
# client, MOUNT and NFS both on $PORT, as the README tells users to. The kernel parses the
# text options itself (no mount.nfs in the guest), so addresses are given as numbers.
nfs_mount() {
  : "${PORT:?PORT is the server port}"
  opts="vers=3,tcp,port=$PORT,mountport=$PORT,mountproto=tcp,nolock,addr=10.0.2.2,mountaddr=10.0.2.2${2:+,$2}"
  mkdir -p "$1"
  step "mount -t nfs -o $opts 10.0.2.2:${EXPORT:-/export} $1"
  mount -t nfs -o "$opts" "10.0.2.2:${EXPORT:-/export}" "$1" || fail "mount -o $opts"
}
