# Guest workload (busybox sh): POSIX semantics the Linux kernel NFSv3 client exposes, as
# regression checks for four bugs a conformance suite (pjdfstest) found through it. Each check
# runs and reports (PASS/FAIL lines); the workload fails at the end if any failed.
#
# Environment: PORT (the server's NFS and MOUNT port on the host), EXPORT (default /export),
# HUGE (a file size the server's content store refuses: beyond ext4's 16 TiB by default).
#
# 1. A non-root owner's chmod 01644 keeps S_ISVTX on its regular file, fifo, device and socket
#    (Linux clears only S_ISGID on chmod, and only for a caller outside the file's group).
# 2. chown and lchown by a non-owner non-root user are EPERM, even when the uid and gid asked
#    for are the ones the file already has.
# 3. open(O_RDONLY) of one's own file of mode 0277 or 0077 is EACCES for a non-root owner (the
#    client decides open(2) from the ACCESS reply).
# 4. truncate or write past the content store's maximum file size is EFBIG, not EIO.
#
# The non-root user is "tests" (uid 1000, gid 1000, ci/vm/build.sh), reached with busybox su.
set -u
. /workload/lib.sh
HUGE="${HUGE:-18691697672192}" # 17 TiB
M=/mnt/nfs

nfs_mount "$M"
W="$M/posix.$$"
rm -rf "$W"
mkdir "$W" || fail "mkdir $W"
chmod 0777 "$W"
cd "$W" || fail "cd $W"

failed=0
# check WHAT GOT WANT: reports, and counts a failure instead of stopping.
check() {
  if [ "$2" = "$3" ]; then
    echo "PASS $1"
  else
    echo "FAIL: $1: got '$2', want '$3'"
    failed=$((failed + 1))
  fi
}
# outcome CMD: "ok" if CMD (run by sh) succeeds, else the error text after its last ": "
# (busybox applets print "applet: what: strerror").
outcome() {
  if out=$(sh -c "$1" 2>&1); then echo ok; else echo "${out##*: }"; fi
}
# as_user CMD: outcome of CMD run as the unprivileged user tests (uid 1000).
as_user() {
  if out=$(su -s /bin/sh tests -c "$1" 2>&1); then echo ok; else echo "${out##*: }"; fi
}

step "1. chmod 01644 by a non-root owner keeps the sticky bit on non-directories"
check "user creates a file and a fifo" \
  "$(as_user "cd $W && touch reg && mkfifo fifo")" ok
mknod dev c 1 3 || fail "mknod dev"
# A socket: busybox has no tool that binds one at a chosen path, but syslogd binds /dev/log;
# in a private mount namespace /dev is a directory of the export.
mkdir sockdir
unshare -m sh -c "mount --bind $W/sockdir /dev && exec syslogd -n -O /dev/null" &
syslogd_pid=$!
i=0
while [ ! -S sockdir/log ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
kill -9 "$syslogd_pid" 2>/dev/null
wait "$syslogd_pid" 2>/dev/null
[ -S sockdir/log ] || fail "no socket made at sockdir/log"
mv sockdir/log sock || fail "mv socket"
chown 1000:1000 dev sock || fail "chown dev sock"
for f in reg fifo dev sock; do
  check "owner's chmod 1644 of $f answers" "$(as_user "chmod 1644 $W/$f")" ok
done
drop_caches
for f in reg fifo dev sock; do
  check "mode of $f after its owner's chmod 1644 (sticky kept)" "$(stat -c %a "$f")" 1644
done

step "2. chown and lchown by a non-owner are EPERM, even to the ids the file has"
touch owned
chown 65534:65534 owned
ln -s owned link
chown -h 65534:65534 link
check "chown by a non-owner, ids unchanged" \
  "$(as_user "chown 65534:65534 $W/owned")" "Operation not permitted"
check "lchown by a non-owner, ids unchanged" \
  "$(as_user "chown -h 65534:65534 $W/link")" "Operation not permitted"
check "chown by a non-owner to its own ids" \
  "$(as_user "chown 1000:1000 $W/owned")" "Operation not permitted"
check "owner after the refused chowns" "$(stat -c %u:%g owned)" 65534:65534

step "3. open(O_RDONLY) of one's own file of mode 0277 or 0077 is EACCES"
for m in 0277 0077; do
  check "user writes f$m and chmods it $m" \
    "$(as_user "echo secret >$W/f$m && chmod $m $W/f$m")" ok
done
drop_caches
for m in 0277 0077; do
  check "owner's open(O_RDONLY) of its own file of mode $m" \
    "$(as_user "cat $W/f$m")" "Permission denied"
done
check "root still reads f0077" "$(cat f0077)" secret

step "4. truncate or write past the store's maximum file size ($HUGE) is EFBIG"
touch big
check "truncate -s $HUGE" "$(outcome "truncate -s $HUGE $W/big")" "File too large"
check "write at offset $HUGE" \
  "$(outcome "dd if=/dev/zero of=$W/big2 bs=1 count=1 seek=$HUGE conv=fsync")" "File too large"

cd /
rm -rf "$W"
umount "$M"
[ "$failed" -eq 0 ] || fail "$failed POSIX regression check(s) failed"
step "all POSIX regression checks passed"
