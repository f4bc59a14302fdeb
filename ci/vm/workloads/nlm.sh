# Guest workload (busybox sh): fcntl and flock locks through the Linux kernel NFSv3 client,
# mounted WITHOUT nolock, against a dittofs server on the host (NLM v4 + NSM).
#
# Environment: PORT (the server's NFS, MOUNT and portmapper port), SMB_PORT, SMB_USER and
# SMB_PASS (optional: the same share over SMB for the cross-protocol step), STATD_PORT and LOCKD_PORT
# (the guest's status monitor and lockd ports, forwarded from the host's loopback so the
# server's callbacks reach them). Files: lockf.pl (the lock tool), and the host's perl and
# dittofs-vm-statd in /usr/local/bin.
#
# Network: QEMU user networking forwards the guest's 10.0.2.100:111 and 10.0.2.100:$PORT to
# the server (guestfwd), because the kernel looks the lock manager up through the server's
# portmapper on port 111; the server reaches the guest's portmapper, statd and lockd through
# host forwards (hostfwd), which the guest sees coming from 10.0.2.2.
#
# Steps: between two processes of the guest, a write lock makes F_SETLK fail with EAGAIN,
# F_GETLK report the holder's range and flock fail with EWOULDBLOCK; F_SETLKW waits until the
# holder exits and then succeeds; locks vanish with their holder (the kernel settles these in
# its own lock table, every lock and unlock still goes to the server). Then a lock the host
# takes over NLM as another client (NLM-HOST-LOCK / NLM-HOST-UNLOCK markers on the console):
# F_GETLK, F_SETLK, flock and a blocked F_SETLKW against it are the server's answers. With
# SMB_PORT, the kernel cifs client mounts the same share: an NFS fcntl lock makes a cifs F_SETLK
# of the range fail and the reverse (both reach the share's one lock manager). Then
# (RESTART=1) the host restarts the server while a lock is held: the server's SM_NOTIFY
# reaches statd, lockd reclaims in the grace period, and the lock still excludes others.
set -eu
. /workload/lib.sh
: "${STATD_PORT:?}" "${LOCKD_PORT:?}"
hostname vmclient
echo "$LOCKD_PORT" >/proc/sys/fs/nfs/nlm_tcpport
dittofs-vm-statd "$STATD_PORT" 2>/tmp/statd.log &
i=0
until grep -q "statd: ready" /tmp/statd.log 2>/dev/null; do
  i=$((i + 1)); [ $i -lt 100 ] || fail "dittofs-vm-statd did not start: $(cat /tmp/statd.log)"
  usleep 100000
done
M=/mnt/nfs
NFS_ADDR=10.0.2.100 NFS_LOCKS=1 nfs_mount "$M"
grep " $M " /proc/mounts
L="perl /workload/lockf.pl"
F="$M/locked.$$"
echo "some bytes" >"$F"
base=$(basename "$F")

# wait_for FILE TEXT SECS: until FILE contains TEXT.
wait_for() {
  i=0
  until grep -q "$2" "$1" 2>/dev/null; do
    i=$((i + 1)); [ $i -lt $(($3 * 10)) ] || fail "no '$2' in $1 within $3 s: $(cat "$1" 2>/dev/null)"
    usleep 100000
  done
}

step "a write lock on bytes 0..100 by one process"
$L "$F" setlk w 0 100 600 >/tmp/p1 &
p1=$!
wait_for /tmp/p1 locked 30
step "another process: F_SETLK fails with EAGAIN, F_GETLK names the holder's range, flock fails"
expect "F_SETLK on a locked range" "$($L "$F" setlk w 50 10 0 || true)" EAGAIN
expect "F_SETLK of a read lock" "$($L "$F" setlk r 99 1 0 || true)" EAGAIN
expect "F_SETLK past the lock" "$($L "$F" setlk w 100 10 0)" locked
expect "F_GETLK" "$($L "$F" getlk w 50 10)" "wrlck 0 100"
expect "F_GETLK past the lock" "$($L "$F" getlk w 200 10)" unlck
expect "flock while a POSIX lock is held" "$($L "$F" flock nb 0 || true)" EWOULDBLOCK

step "F_SETLKW waits until the holder exits"
$L "$F" setlkw w 50 10 0 >/tmp/p2 &
p2=$!
sleep 3
[ ! -s /tmp/p2 ] || fail "F_SETLKW returned while the lock was held: $(cat /tmp/p2)"
touch "/tmp/release-$base"
wait "$p1" || true
step "holder exited; waiting for the blocked F_SETLKW (the server's GRANTED callback, or the client's 30 s re-poll)"
wait_for /tmp/p2 "locked after" 60
wait "$p2" || fail "F_SETLKW failed: $(cat /tmp/p2)"
echo "NLM-BLOCKED-WAIT $(cat /tmp/p2)"
rm -f "/tmp/release-$base"
step "locks vanish with their holders"
expect "F_GETLK after both exited" "$($L "$F" getlk w 0 0)" unlck
expect "flock after both exited" "$($L "$F" flock nb 0)" locked

step "a lock of another client (the host, over NLM) is enforced by the server"
# Conflicts between processes of one client never reach the server: the kernel checks its own
# lock table first. This one can only come from the server.
echo "NLM-HOST-LOCK $base"
i=0
until [ "$($L "$F" getlk w 10 1)" = "wrlck 0 50" ]; do
  i=$((i + 1)); [ $i -lt 60 ] || fail "F_GETLK never showed the other client's lock: $($L "$F" getlk w 10 1)"
  usleep 500000
done
expect "F_SETLK under the other client's lock" "$($L "$F" setlk w 10 1 0 || true)" EAGAIN
expect "flock under the other client's lock" "$($L "$F" flock nb 0 || true)" EWOULDBLOCK
expect "F_SETLK beside it" "$($L "$F" setlk w 50 1 0)" locked
$L "$F" setlkw w 10 1 0 >/tmp/p4 &
p4=$!
sleep 3
[ ! -s /tmp/p4 ] || fail "F_SETLKW returned while the other client held the lock: $(cat /tmp/p4)"
echo "NLM-HOST-UNLOCK"
step "the other client unlocked; waiting for the blocked F_SETLKW (GRANTED callback or 30 s re-poll)"
wait_for /tmp/p4 "locked after" 60
wait "$p4" || fail "F_SETLKW failed: $(cat /tmp/p4)"
echo "NLM-SERVER-BLOCKED-WAIT $(cat /tmp/p4)"

if [ -n "${SMB_PORT:-}" ]; then
  step "kernel NFS and kernel cifs locks on one file exclude each other (one lock manager per share)"
  S=/mnt/smb
  PORT=$SMB_PORT SHARE=export cifs_mount "$S" 3.1.1
  X="$M/cross.$$"
  echo "cross-protocol bytes" >"$X"
  # Root made it over NFS; the SMB user (uid 1000) opens it for writing too.
  chmod 666 "$X"
  xb=$(basename "$X")
  $L "$X" setlk w 0 100 600 >/tmp/c1 &
  c1=$!
  wait_for /tmp/c1 locked 30
  expect "cifs F_SETLK under an NFS lock" "$($L "$S/$xb" setlk w 50 10 0 || true)" EAGAIN
  expect "cifs F_SETLK beside the NFS lock" "$($L "$S/$xb" setlk w 100 10 0)" locked
  touch "/tmp/release-$xb"
  wait "$c1" || true
  rm -f "/tmp/release-$xb"
  $L "$S/$xb" setlk w 200 10 600 >/tmp/c2 &
  c2=$!
  wait_for /tmp/c2 locked 30
  expect "NFS F_SETLK under an SMB lock" "$($L "$X" setlk w 205 1 0 || true)" EAGAIN
  expect "NFS F_SETLK beside the SMB lock" "$($L "$X" setlk w 300 1 0)" locked
  touch "/tmp/release-$xb"
  wait "$c2" || true
  rm -f "/tmp/release-$xb" "$X"
  umount "$S"
  echo "NFS-SMB-LOCKS-EXCLUDE"
fi

if [ "${RESTART:-0}" = 1 ]; then
  step "server restart while a lock is held: notify, reclaim, grace period"
  $L "$F" setlk w 0 10 600 >/tmp/p3 &
  p3=$!
  wait_for /tmp/p3 locked 30
  echo "NLM-RESTART-NOW"
  wait_for /tmp/statd.log "told lockd" 60
  step "statd passed the server's SM_NOTIFY to lockd; waiting out the grace period"
  sleep "${GRACE:-5}"
  sleep 3
  # The reclaimed lock still excludes others; other ranges lock normally after the grace.
  i=0
  until out=$($L "$F" setlk w 100 1 0 2>&1); [ "$out" = locked ]; do
    i=$((i + 1)); [ $i -lt 30 ] || fail "no lock after the grace period: $out"
    sleep 1
  done
  expect "F_SETLK on the reclaimed range" "$($L "$F" setlk w 5 1 0 || true)" EAGAIN
  expect "F_GETLK of the reclaimed lock" "$($L "$F" getlk w 5 1)" "wrlck 0 10"
  touch "/tmp/release-$base"
  wait "$p3" || true
  rm -f "/tmp/release-$base"
fi
cat /tmp/statd.log
rm -f "$F"
umount "$M"
echo "all NLM kernel-client checks passed"
