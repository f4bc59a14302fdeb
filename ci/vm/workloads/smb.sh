# Guest workload (busybox sh): the Linux kernel cifs client (SMB 2.0, 2.1, 3.0 and 3.1.1)
# against an SMB server on the host: dittofs, or Samba (ci/samba.sh) as the reference.
#
# Environment: PORT (the server's SMB port on the host's loopback), SMB_USER, SMB_PASS,
# SHARE (default share), DIALECTS (default "3.1.1 3.0 2.1 2.0"; the first gets the full run),
# ENTRIES (entries in the big directory, default 10000), SEAL_DIALECTS (default none: each
# gets the other-dialect run again, mounted with `seal`, i.e. SMB3 encryption), POSIX (1: the
# SMB 3.1.1 POSIX extensions checks, see posix_checks). Files: tree.tar.gz and tree.sha256
# from ci/vm/mktree.sh.
#
# A check that needs a server feature known to be missing prints `KNOWN GAP: <what>` instead
# of failing; the test running the workload compares those lines with its committed list.
#
# Full run (first dialect): untar the tree, verify every checksum after dropping caches;
# rename (also over an existing file) and of directories, hard links, symlinks (mfsymlinks),
# the read-only attribute through chmod, truncate (shrink, sparse extend), utimes; ENTRIES
# files listed with `ls -l`; unmount, remount, verify again. Every other dialect: mount, a
# 4 MiB write / drop caches / read-back checksum, the metadata mix, the tree's checksums as
# written by the first dialect, unmount.
#
# What SMB2/3 without POSIX extensions cannot carry, and so the dialect runs do not check:
# Unix mode bits beyond the read-only attribute, chown (owners are the mount's uid=/gid=),
# fifos and device nodes, and ctime. POSIX=1 checks modes, chmod and chgrp over the SMB 3.1.1
# POSIX extensions and security descriptors (posix_checks); Debian's Samba 4.17 is built
# without the extensions, so the reference run against Samba leaves POSIX unset.
set -eu
. /workload/lib.sh
ENTRIES="${ENTRIES:-10000}"
DIALECTS="${DIALECTS:-3.1.1 3.0 2.1 2.0}"
M=/mnt/smb

metadata_mix() {
  d="$1"
  rm -rf "$d"
  mkdir "$d"
  cd "$d"
  mix_names
  chmod a-w c
  [ "$(stat -c %A c | cut -c3)" = "-" ] || fail "read-only attribute not set: $(stat -c %A c)"
  # The client decides to clear the attribute from its cached copy of it, which a chmod
  # right after the first may not have yet: let the attribute cache (actimeo=1) expire.
  sleep 2
  stat c >/dev/null
  chmod 755 c
  [ "$(stat -c %A c | cut -c3)" = "w" ] || fail "read-only attribute not cleared: $(stat -c %A c)"
  mix_sizes_times_dirs
  dd if=/dev/urandom of=big bs=65536 count=64 2>/dev/null
  sum="$(sha256sum <big)"
  drop_caches
  expect "4 MiB read back after dropping caches" "$(sha256sum <big)" "$sum"
  cd /
}

# The kernel's view of a failure (reconnects, rejected responses) goes with it.
kernel_log() { dmesg | grep -i -E 'cifs|smb' | tail -"${CIFS_DEBUG:-40}"; }
# CIFS_DEBUG=N: the client's debug messages on (not on the console), the last N shown on failure.
if [ -n "${CIFS_DEBUG:-}" ]; then
  dmesg -n 1
  mount -t debugfs none /sys/kernel/debug 2>/dev/null || true
  echo 'module cifs +p' >/sys/kernel/debug/dynamic_debug/control || echo "no dynamic debug"
  echo 1 >/proc/fs/cifs/cifsFYI
fi
trap 'st=$?; [ "$st" = 0 ] || kernel_log' EXIT

# gap WHAT: a check skipped for a known missing server feature, reported, never silent.
gap() { echo "KNOWN GAP: $*"; }

# pcheck WHAT GOT WANT: one POSIX-extensions check; every one runs and reports, the first
# failure fails the workload at the end of posix_checks.
pfail=""
pcheck() {
  if [ "$2" = "$3" ]; then echo "posix ok: $1"; else echo "posix FAIL: $1: got '$2', want '$3'"; pfail=1; fi
}

# gcheck WHAT GOT WANT GAP: a check dittofs is known to fail: `KNOWN GAP: GAP` when it does
# (the test compares those lines with its list, so a fix shows as a changed list).
gcheck() {
  if [ "$2" = "$3" ]; then echo "posix ok: $1"; else echo "posix gap: $1: got '$2', want '$3'"; gap "$4"; fi
}

# The SMB 3.1.1 POSIX extensions (cifs `posix`), as root with the server user's uid 1000,
# member of groups 1000 and 5678 (GROUP2): the modes of new files and directories (POSIX
# create context, POSIX query-info and query-directory classes), and chmod and chgrp as
# security descriptors whose owner and group are unix SIDs (S-1-22-x, `cifsacl,idsfromsid`).
# What the guest's kernel (6.1) cannot carry is printed as `CLIENT LIMIT:` with what it did:
# it shows the mount's uid as the owner on a `posix` mount (its POSIX info parser ignores the
# owner SIDs), changes modes only through security descriptors, and makes fifos and device
# nodes only with `sfu`.
posix_checks() {
  P=/mnt/posix
  d="$P/vmtest/posix"
  cifs_mount "$P" 3.1.1 posix
  grep " $P " /proc/mounts | grep -q posix || fail "the posix mount option was dropped (not negotiated)"
  rm -rf "$d"
  mkdir -p "$d"
  cd "$d"
  umask 022
  echo data >f
  mkdir sub
  umask 077
  echo data >g
  umask 022
  ln -s f sym
  mkdir -p "a:b*c/deep"
  # A new inode shows the mount's file_mode until the attribute cache (actimeo=1) expires.
  sleep 2
  pcheck "mode of a new file" "$(stat -c %a f)" 644
  pcheck "mode of a new directory" "$(stat -c %a sub)" 755
  pcheck "mode of a new file under umask 077" "$(stat -c %a g)" 600
  pcheck "symlink" "$(readlink sym)" f
  pcheck "name with : and *, nested" "$(ls -d a:b*c/deep)" "a:b*c/deep"
  pcheck "listing" "$(ls | tr '\n' ' ')" "a:b*c f g sub sym "
  echo "CLIENT LIMIT: owner on a posix mount shows the mount's uid: $(stat -c %u:%g f)"
  if mkfifo fifo 2>/dev/null; then
    pcheck "fifo type" "$(stat -c %F fifo)" fifo
  else
    echo "CLIENT LIMIT: mkfifo on a posix mount fails without sfu"
  fi
  if chmod 0751 f && sleep 2 && [ "$(stat -c %a f)" = 751 ]; then
    echo "posix ok: chmod on a plain posix mount"
  else
    echo "CLIENT LIMIT: chmod on a plain posix mount leaves mode $(stat -c %a f)"
  fi
  cd /
  umount "$P" || fail "umount"
  step "[3.1.1 posix,cifsacl,idsfromsid] chmod, chown through security descriptors"
  cifs_mount "$P" 3.1.1 posix,cifsacl,idsfromsid
  chmod 0751 "$d/f" || echo "chmod 0751 failed"
  chmod 0640 "$d/g" || echo "chmod 0640 failed"
  chmod 0700 "$d/sub" || echo "chmod 0700 on a directory failed"
  # (1755: the client's own descriptor for a sticky mode with group or other write loses
  # the bit, its write rights carrying FILE_DELETE_CHILD.)
  mkdir "$d/t" && chmod 1755 "$d/t" || echo "chmod 1755 on a new directory failed"
  if chown 4321 "$d/f" 2>/dev/null; then
    echo "posix FAIL: chown to another uid by a non-root server user succeeded"
    pfail=1
  else
    echo "posix ok: chown to another uid by a non-root server user is refused"
  fi
  sleep 2
  pcheck "chmod 0751 (posix mount)" "$(stat -c %a "$d/f")" 751
  pcheck "chmod 0640 (posix mount)" "$(stat -c %a "$d/g")" 640
  pcheck "chmod 0700 on a directory (posix mount)" "$(stat -c %a "$d/sub")" 700
  umount "$P" || fail "umount"
  step "[3.1.1 cifsacl,idsfromsid] chgrp, owners, groups and modes from security descriptors"
  cifs_mount "$P" 3.1.1 cifsacl,idsfromsid
  pcheck "owner and group via SD" "$(stat -c %u:%g "$d/f")" 1000:1000
  # chgrp here, where the owner shown is the file's: busybox's chgrp is chown(2) with the
  # uid it stats, and on a posix mount (above) that is the mount's uid, 0, so the client asks
  # to give the file to root along with the new group, which the server rightly refuses.
  chgrp "${GROUP2:-5678}" "$d/g" || { echo "chgrp failed"; [ -z "${CIFS_DEBUG:-}" ] || kernel_log; }
  pcheck "chgrp via SD" "$(stat -c %u:%g "$d/g")" "1000:${GROUP2:-5678}"
  pcheck "mode via SD" "$(stat -c %a "$d/f")" 751
  pcheck "mode via SD after chgrp" "$(stat -c %a "$d/g")" 640
  pcheck "sticky directory via SD" "$(stat -c %a "$d/t")" 1755
  umount "$P" || fail "umount"
  step "[3.1.1 posix] after remount"
  cifs_mount "$P" 3.1.1 posix
  pcheck "modes after remount" "$(stat -c %a "$d/f" "$d/g" "$d/sub" | tr '\n' ' ')" "751 640 700 "
  ls -ln "$d"
  umount "$P" || fail "umount"
  [ -z "$pfail" ] || fail "POSIX extensions checks failed (posix FAIL lines above)"
  step "SMB 3.1.1 POSIX extensions checks passed"
}

first=""
for v in $DIALECTS; do
  cifs_mount "$M" "$v"
  grep " $M " /proc/mounts
  W="$M/vmtest"
  if [ -z "$first" ]; then
    first="$v"
    rm -rf "$W"
    mkdir "$W"
    step "[$v] untar $(wc -l </workload/tree.sha256) files"
    tar -xzf /workload/tree.tar.gz -C "$W"
    drop_caches
    step "[$v] verify checksums after dropping caches"
    (cd "$W" && sha256sum -c -s /workload/tree.sha256) || fail "checksums differ after untar"
    expect "files in tree" "$(find "$W/tree" -type f | wc -l)" "$(wc -l </workload/tree.sha256)"
    step "[$v] rename, link, symlink, read-only, truncate, utimes"
    metadata_mix "$W/mix"
    step "[$v] create $ENTRIES entries"
    mkdir "$W/many"
    (cd "$W/many" && seq 1 "$ENTRIES" | sed 's/^/entry-with-a-longer-name-/' | xargs touch)
    drop_caches
    step "[$v] ls -l of $ENTRIES entries"
    s=$(date +%s)
    expect "entries listed" "$(ls -l "$W/many" | grep -c '^-')" "$ENTRIES"
    echo "ls -l took $(($(date +%s) - s))s"
    expect "ls | sort -u" "$(ls "$W/many" | sort -u | wc -l)" "$ENTRIES"
    step "[$v] unmount, remount, verify again"
    umount "$M" || fail "umount"
    cifs_mount "$M" "$v"
    (cd "$W" && sha256sum -c -s /workload/tree.sha256) || fail "checksums differ after remount"
    expect "symlink after remount" "$(readlink "$W/mix/sym")" c
    expect "entries after remount" "$(ls "$W/many" | wc -l)" "$ENTRIES"
  else
    step "[$v] checksums of the tree written over SMB $first"
    (cd "$W" && sha256sum -c -s /workload/tree.sha256) || fail "[$v] checksums differ"
    step "[$v] rename, link, symlink, read-only, truncate, utimes, 4 MiB integrity"
    metadata_mix "$W/mix-$v"
  fi
  step "[$v] unmount"
  umount "$M" || fail "umount"
  step "SMB $v checks passed"
done

for v in ${SEAL_DIALECTS:-}; do
  cifs_mount "$M" "$v" seal
  grep " $M " /proc/mounts | grep -q seal || fail "[$v seal] mount options lack seal"
  W="$M/vmtest"
  step "[$v seal] checksums of the tree written over SMB $first"
  (cd "$W" && sha256sum -c -s /workload/tree.sha256) || fail "[$v seal] checksums differ"
  step "[$v seal] rename, link, symlink, read-only, truncate, utimes, 4 MiB integrity"
  metadata_mix "$W/mix-seal-$v"
  step "[$v seal] unmount"
  umount "$M" || fail "umount"
  step "SMB $v seal checks passed"
done

if [ "${POSIX:-}" = 1 ]; then posix_checks; fi

cifs_mount "$M" "$first"
step "clean up"
rm -rf "$M/vmtest"
[ ! -e "$M/vmtest" ] || fail "rm -rf left vmtest"
umount "$M"
step "all SMB kernel-client checks passed ($DIALECTS)"
