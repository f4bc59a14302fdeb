# Guest workload (busybox sh): two gateways (two dittofs processes on one PostgreSQL database
# and one content directory) mounted by the Linux kernel NFSv3 client, A at /mnt/a and B at
# /mnt/b, each with its own cache (nosharecache; the ports differ, so the kernel keeps two
# clients anyway). Mounted with nolock: locks across gateways are not this test's subject.
#
# Environment: PORT_A, PORT_B (the gateways' NFS and MOUNT ports on the host's loopback),
# ROUNDS (write/read rounds, default 6).
#
# The kernel's close-to-open consistency is what the checks rely on: a file closed on one
# mount (close flushes WRITE + COMMIT) and then opened on the other (the open revalidates the
# file's attributes with GETATTR, dropping cached pages when size or mtime changed) shows the
# new bytes; a directory opened (`ls`) revalidates the same way, so its listing is current.
# A stat without an open may show attributes cached for up to acregmin (3 s): every stat here
# follows an open. Any failed check exits non-zero.
set -eu
. /workload/lib.sh
: "${PORT_A:?}" "${PORT_B:?}"
ROUNDS="${ROUNDS:-6}"
A=/mnt/a
B=/mnt/b
PORT="$PORT_A" nfs_mount "$A" nosharecache
PORT="$PORT_B" nfs_mount "$B" nosharecache
grep " $A \| $B " /proc/mounts

# The work directory is made through A before B looks anything up.
mkdir "$A/w"
WA="$A/w" WB="$B/w"
expect "the work directory through B" "$(stat -c %F "$WB")" "directory"

# attrs FILE: size, mtime (seconds) and inode number, after opening FILE (close-to-open).
attrs() { cat "$1" >/dev/null && stat -c '%s %Y %i' "$1"; }

step "close-to-open: write through one gateway, read through the other, $ROUNDS rounds"
r=0
while [ "$r" -lt "$ROUNDS" ]; do
  if [ $((r % 2)) = 0 ]; then W="$WA" R="$WB"; else W="$WB" R="$WA"; fi
  # A new file, a whole rewrite of an old one, an overwrite in the middle, an append.
  dd if=/dev/urandom of="$W/new$r" bs=4096 count=$((r + 3)) 2>/dev/null
  dd if=/dev/urandom of="$W/rewritten" bs=1000 count=$((20 + r * 7)) 2>/dev/null
  if [ -e "$W/patched" ]; then
    dd if=/dev/urandom of="$W/patched" bs=512 seek=3 count=2 conv=notrunc 2>/dev/null
  else
    dd if=/dev/urandom of="$W/patched" bs=4096 count=4 2>/dev/null
  fi
  echo "line $r" >>"$W/appended"
  for f in "new$r" rewritten patched appended; do
    expect "round $r: $f bytes through the other gateway" \
      "$(sha256sum <"$R/$f")" "$(sha256sum <"$W/$f")"
    expect "round $r: $f size, mtime and inode through the other gateway" \
      "$(attrs "$R/$f")" "$(attrs "$W/$f")"
  done
  r=$((r + 1))
done
expect "appended lines" "$(wc -l <"$WA/appended")" "$ROUNDS"

step "namespace changes through both gateways"
mkdir "$WA/d1" "$WB/d2"
echo one >"$WA/d1/f1"
echo two >"$WB/d2/f2"
mv "$WA/d1/f1" "$WA/d2/moved1"
mv "$WB/d2/f2" "$WB/d1/moved2"
ln -s moved1 "$WB/d2/link"
mkdir "$WA/d1/sub"
rm "$WA/new0"
mv "$WB/new1" "$WB/d1/sub/new1"
for dir in "" /d1 /d2 /d1/sub; do
  expect "ls -la of w$dir through A and B" \
    "$(ls -la "$WA$dir" | awk '{print $1, $5, $9}')" "$(ls -la "$WB$dir" | awk '{print $1, $5, $9}')"
done
expect "moved1 through B" "$(cat "$WB/d2/moved1")" one
expect "moved2 through A" "$(cat "$WA/d1/moved2")" two
expect "symlink made through B, read through A" "$(cat "$WA/d2/link")" one
[ ! -e "$WB/new0" ] || fail "new0, removed through A, still there through B"
[ ! -e "$WA/new1" ] || fail "new1, moved through B, still at its old name through A"
expect "new1 through A at its new name" "$(sha256sum <"$WA/d1/sub/new1")" "$(sha256sum <"$WB/d1/sub/new1")"
expect "ls of d2 through A" "$(ls "$WA/d2" | tr '\n' ' ')" "link moved1 "
expect "ls of d1 through B" "$(ls "$WB/d1" | tr '\n' ' ')" "moved2 sub "

step "crossing directory renames: mv x y/ through A against mv y x/ through B, 10 rounds"
mkdir "$WA/x" "$WA/y"
i=0
while [ "$i" -lt 10 ]; do
  ls "$WA" >/dev/null
  ls "$WB" >/dev/null
  (if mv "$WA/x" "$WA/y/" 2>/tmp/ea; then echo 0; else echo 1; fi >/tmp/ra) &
  (if mv "$WB/y" "$WB/x/" 2>/tmp/eb; then echo 0; else echo 1; fi >/tmp/rb) &
  wait
  ra=$(cat /tmp/ra) rb=$(cat /tmp/rb)
  # The mount whose mv failed may keep the loser's old name cached (its LOOKUP is trusted
  # until the directory's attributes expire, acdirmin): drop the caches so find asks the
  # servers.
  drop_caches
  # Through both mounts the tree agrees and holds x and y exactly once, one inside the other.
  fa=$(cd "$WA" && find x y 2>/dev/null | sort | tr '\n' ' ')
  fb=$(cd "$WB" && find x y 2>/dev/null | sort | tr '\n' ' ')
  expect "round $i: find through A and B" "$fa" "$fb"
  case "$ra$rb:$fa" in
    "01:y y/x ") mv "$WA/y/x" "$WA/x" ;;
    "10:x x/y ") mv "$WB/x/y" "$WB/y" ;;
    *) fail "round $i: mv exit codes A=$ra B=$rb ($(cat /tmp/ea) $(cat /tmp/eb)), tree '$fa': exactly one may succeed" ;;
  esac
  echo "round $i: mv through A exited $ra, through B $rb; the loser said: $(cat /tmp/ea /tmp/eb)"
  i=$((i + 1))
done

step "remove everything through B, check through A"
rm -r "$WB"/*
expect "the work directory through A, emptied through B" "$(ls -a "$WA" | tr '\n' ' ')" ". .. "
rmdir "$WB"
umount "$A"
umount "$B"
echo "all gateway kernel-client checks passed"
