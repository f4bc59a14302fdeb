# Guest workload (busybox sh): share permissions from the server's users, through the Linux
# kernel NFSv3 client. Runs on its own, or at the end of nfs3.sh when the host passed this file
# (--file), so it costs no extra boot.
#
# Environment: PORT, EXPORT (default /export), READ_UID (a user the server grants `read` on
# EXPORT), WRITE_UID (one granted `read-write`), CLOSED (a share whose default permission is
# `none` and where root has no grant).
#
# Steps: root mounts EXPORT and makes a world-writable directory, so POSIX modes allow both
# users and only the share permission differs; as WRITE_UID a file is written and read back;
# as READ_UID the directory lists and the file reads, but creating and appending fail (EROFS or
# EACCES) and change nothing; root's mount of CLOSED is refused while EXPORT stays usable.
set -eu
. /workload/lib.sh
: "${READ_UID:?}" "${WRITE_UID:?}" "${CLOSED:?}"
I=/mnt/identity

# Users to switch to: busybox su runs a command as any user in /etc/passwd without a password
# when root asks.
echo "idreader:x:$READ_UID:$READ_UID:idreader:/:/bin/sh" >>/etc/passwd
echo "idwriter:x:$WRITE_UID:$WRITE_UID:idwriter:/:/bin/sh" >>/etc/passwd
echo "idreader:x:$READ_UID:" >>/etc/group
echo "idwriter:x:$WRITE_UID:" >>/etc/group
as() { u="$1"; shift; su -s /bin/sh "$u" -c "$*"; }

step "identity: mount ${EXPORT:-/export} as root, a world-writable directory"
nfs_mount "$I"
D="$I/identity.$$"
mkdir "$D"
chmod 1777 "$D"
expect "uid of su idwriter" "$(as idwriter id -u)" "$WRITE_UID"

step "identity: the read-write user (uid $WRITE_UID) writes"
as idwriter "echo written >$D/w && echo more >>$D/w" || fail "read-write user's write"
expect "read-write user's file" "$(as idwriter cat "$D/w")" "written
more"
expect "owner of the new file" "$(stat -c %u "$D/w")" "$WRITE_UID"

step "identity: the read user (uid $READ_UID) reads but cannot write"
expect "read user's listing" "$(as idreader ls "$D")" w
expect "read user's read" "$(as idreader cat "$D/w")" "written
more"
if out="$(as idreader "echo nope >$D/r" 2>&1)"; then
  fail "read user created a file"
fi
echo "read user's create: $out"
case "$out" in
  *"Read-only file system"* | *"Permission denied"*) ;;
  *) fail "read user's create failed for another reason: $out" ;;
esac
# The file is 0644 (umask 022), so POSIX would refuse a stranger anyway; chmod it so only the
# share permission stands between the read user and an append.
chmod 666 "$D/w"
drop_caches
if out="$(as idreader "echo nope >>$D/w" 2>&1)"; then
  fail "read user appended to a file"
fi
echo "read user's append: $out"
case "$out" in
  *"Read-only file system"* | *"Permission denied"*) ;;
  *) fail "read user's append failed for another reason: $out" ;;
esac
drop_caches
[ ! -e "$D/r" ] || fail "the read user's refused create left a file"
expect "file after the refused append" "$(cat "$D/w")" "written
more"

step "identity: root cannot mount $CLOSED (permission none)"
C=/mnt/closed
mkdir -p "$C"
copts="vers=3,tcp,port=$PORT,mountport=$PORT,mountproto=tcp,nolock,addr=10.0.2.2,mountaddr=10.0.2.2"
if out="$(mount -t nfs -o "$copts" "10.0.2.2:$CLOSED" "$C" 2>&1)"; then
  fail "root mounted $CLOSED"
fi
echo "mount of $CLOSED: $out"
case "$out" in
  *"Permission denied"*) ;;
  *) fail "mount of $CLOSED failed for another reason: $out" ;;
esac
grep -q " $C " /proc/mounts && fail "$C shows in /proc/mounts"
expect "${EXPORT:-/export} still served" "$(as idreader cat "$D/w")" "written
more"

rm -r "$D"
umount "$I"
step "identity: all kernel-client identity checks passed"
