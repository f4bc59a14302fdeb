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

# cifs_mount DIR VERS [EXTRA_OPTS]: mounts //10.0.2.2/$SHARE (default share) with the kernel
# cifs client, SMB dialect VERS (2.0, 2.1, 3.0, 3.1.1) on $PORT, as $SMB_USER/$SMB_PASS.
# busybox mount hands the option string to the kernel unchanged (there is no mount.cifs in
# the guest), so the server is given by address. mfsymlinks stores symlinks as Minshall+French
# files, which any SMB2 server keeps; cache=strict and actimeo=1 are the cifs defaults made
# explicit.
cifs_mount() {
  : "${PORT:?PORT is the server port}"
  opts="vers=$2,port=$PORT,ip=10.0.2.2,username=${SMB_USER:?},password=${SMB_PASS:?},mfsymlinks,cache=strict,actimeo=1${3:+,$3}"
  mkdir -p "$1"
  step "mount -t cifs -o vers=$2,port=$PORT,... //10.0.2.2/${SHARE:-share} $1"
  mount -t cifs -o "$opts" "//10.0.2.2/${SHARE:-share}" "$1" || fail "mount -t cifs vers=$2"
}
