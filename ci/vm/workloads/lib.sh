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

# nfs_mount DIR [EXTRA_OPTS]: mounts $NFS_ADDR:$EXPORT (default 10.0.2.2:/export) with the
# kernel NFSv3 client, MOUNT and NFS both on $PORT, as the README tells users to. The kernel
# parses the text options itself (no mount.nfs in the guest), so addresses are given as
# numbers. Without NFS_LOCKS=1 it mounts with nolock (no lock manager in the guest).
nfs_mount() {
  : "${PORT:?PORT is the server port}"
  a="${NFS_ADDR:-10.0.2.2}"
  lock=",nolock"
  [ "${NFS_LOCKS:-0}" = 1 ] && lock=""
  opts="vers=3,tcp,port=$PORT,mountport=$PORT,mountproto=tcp$lock,addr=$a,mountaddr=$a${2:+,$2}"
  mkdir -p "$1"
  step "mount -t nfs -o $opts $a:${EXPORT:-/export} $1"
  mount -t nfs -o "$opts" "$a:${EXPORT:-/export}" "$1" || fail "mount -o $opts"
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

# The metadata mix both protocols run, in the current directory, around file c.
# mix_names: rename (also over an existing file), a hard link (nlink, same inode), a symlink.
mix_names() {
  echo "payload one" >a
  mv a b
  [ ! -e a ] || fail "rename left the source"
  expect "renamed content" "$(cat b)" "payload one"
  echo "old target" >c
  mv b c
  [ ! -e b ] || fail "rename over existing left the source"
  expect "rename over existing" "$(cat c)" "payload one"
  ln c hard
  expect "nlink after link" "$(stat -c %h c)" 2
  expect "link content" "$(cat hard)" "payload one"
  expect "same inode" "$(stat -c %i hard)" "$(stat -c %i c)"
  rm hard
  expect "nlink after unlink" "$(stat -c %h c)" 1
  ln -s c sym
  expect "readlink" "$(readlink sym)" c
  expect "read through symlink" "$(cat sym)" "payload one"
}
# mix_sizes_times_dirs: truncate (shrink, sparse extend), utimes, directory rename and move.
mix_sizes_times_dirs() {
  truncate -s 3 c
  expect "size after shrink" "$(stat -c %s c)" 3
  expect "content after shrink" "$(cat c)" pay
  truncate -s 1000000 c
  expect "size after extend" "$(stat -c %s c)" 1000000
  expect "hole reads zeros" "$(tail -c +4 c | tr -d '\000' | wc -c)" 0
  touch -d "2020-01-02 03:04:05" c
  expect "mtime after utimes" "$(stat -c %Y c)" "$(date -d "2020-01-02 03:04:05" +%s)"
  mkdir -p dir1/sub
  echo inner >dir1/sub/f
  mv dir1 dir2
  expect "renamed directory" "$(cat dir2/sub/f)" inner
  mkdir dir3
  mv dir2 dir3/
  expect "directory moved into another" "$(cat dir3/dir2/sub/f)" inner
  rm -r dir3
  [ ! -e dir3 ] || fail "rm -r left the directory"
}
