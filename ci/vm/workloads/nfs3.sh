# Guest workload (busybox sh): the Linux kernel NFSv3 client against a server on the host.
#
# Environment: PORT (the server's NFS and MOUNT port on the host's loopback), EXPORT (default
# /export), ENTRIES (entries in the big directory, default 10000). Files: tree.tar.gz and
# tree.sha256 from ci/vm/mktree.sh.
#
# Steps: mount; untar the tree and verify every checksum after dropping caches; rename
# (also over an existing file), hard link, symlink, chmod, chown, truncate (shrink and sparse
# extend), utimes; create ENTRIES files and `ls -l` them after dropping caches; unmount,
# remount, verify everything again; clean up; then identity.sh when the host passed it (its
# variables too). Any failed check exits non-zero.
set -eu
. /workload/lib.sh
ENTRIES="${ENTRIES:-10000}"
M=/mnt/nfs

nfs_mount "$M"
grep " $M " /proc/mounts
W="$M/vmtest.$$"
rm -rf "$W"
mkdir "$W"

step "untar $(wc -l </workload/tree.sha256) files"
tar -xzf /workload/tree.tar.gz -C "$W"
drop_caches
step "verify checksums after dropping caches"
(cd "$W" && sha256sum -c -s /workload/tree.sha256) || fail "checksums differ after untar"
expect "files in tree" "$(find "$W/tree" -type f | wc -l)" "$(wc -l </workload/tree.sha256)"

step "rename, link, symlink, chmod, chown, truncate, utimes"
cd "$W"
mix_names
ln -s "dangling/target/../x" dsym
expect "dangling symlink" "$(readlink dsym)" "dangling/target/../x"
chmod 640 c
expect "mode after chmod" "$(stat -c %a c)" 640
chmod 4755 c
expect "setuid mode" "$(stat -c %a c)" 4755
chown 1234:5678 c
expect "owner after chown" "$(stat -c %u:%g c)" 1234:5678
expect "chown clears setuid" "$(stat -c %a c)" 755
chmod 4755 c
mix_sizes_times_dirs
mkfifo fifo
expect "fifo type" "$(stat -c %F fifo)" "fifo"
dd if=/dev/zero of=big bs=65536 count=64 2>/dev/null
echo tail >>big
expect "appended size" "$(stat -c %s big)" $((65536 * 64 + 5))
drop_caches
expect "appended tail" "$(tail -c 5 big)" tail
sums_before="$(sha256sum c big)"

step "create $ENTRIES entries"
mkdir many
cd many
seq 1 "$ENTRIES" | sed 's/^/entry-with-a-longer-name-/' | xargs touch
cd ..
drop_caches
step "ls -l of $ENTRIES entries"
s=$(date +%s)
n=$(ls -l many | grep -c '^-')
expect "entries listed" "$n" "$ENTRIES"
echo "ls -l took $(($(date +%s) - s))s"
expect "ls | sort -u" "$(ls many | sort -u | wc -l)" "$ENTRIES"

step "unmount, remount, verify again"
cd /
umount "$M" || fail "umount"
nfs_mount "$M"
cd "$W"
(cd "$W" && sha256sum -c -s /workload/tree.sha256) || fail "checksums differ after remount"
expect "sums after remount" "$(sha256sum c big)" "$sums_before"
expect "symlink after remount" "$(readlink sym)" c
expect "owner after remount" "$(stat -c %u:%g:%a c)" 1234:5678:4755
expect "entries after remount" "$(ls many | wc -l)" "$ENTRIES"

step "clean up"
cd /
rm -rf "$W"
[ ! -e "$W" ] || fail "rm -rf left $W"
umount "$M"
# The share-permission checks ride on this boot when the host passed them in.
if [ -f /workload/identity.sh ]; then
  sh /workload/identity.sh || fail "identity checks"
fi
step "all NFSv3 kernel-client checks passed"
