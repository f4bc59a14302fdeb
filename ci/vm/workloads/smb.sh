# Guest workload (busybox sh): the Linux kernel cifs client (SMB 2.0, 2.1, 3.0 and 3.1.1)
# against an SMB server on the host. Today that server is Samba (ci/samba.sh); when dittofs has
# its SMB adapter the same workload runs against it.
#
# Environment: PORT (the server's SMB port on the host's loopback), SMB_USER, SMB_PASS,
# SHARE (default share), DIALECTS (default "3.1.1 3.0 2.1 2.0"; the first gets the full run),
# ENTRIES (entries in the big directory, default 10000). Files: tree.tar.gz and tree.sha256
# from ci/vm/mktree.sh.
#
# Full run (first dialect): untar the tree, verify every checksum after dropping caches;
# rename (also over an existing file) and of directories, hard links, symlinks (mfsymlinks),
# the read-only attribute through chmod, truncate (shrink, sparse extend), utimes; ENTRIES
# files listed with `ls -l`; unmount, remount, verify again. Every other dialect: mount, a
# 4 MiB write / drop caches / read-back checksum, the metadata mix, the tree's checksums as
# written by the first dialect, unmount.
#
# What SMB2/3 without POSIX extensions cannot carry, and so is not checked: Unix mode bits
# beyond the read-only attribute, chown (owners are the mount's uid=/gid=), fifos and device
# nodes, and ctime. The SMB 3.1.1 POSIX extensions (cifs `posix`) would carry them, but
# Debian's Samba 4.17 is built without them (`testparm` does not know "smb3 unix extensions");
# the chown check joins this workload when dittofs' SMB adapter, which will offer them, lands.
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

cifs_mount "$M" "$first"
step "clean up"
rm -rf "$M/vmtest"
[ ! -e "$M/vmtest" ] || fail "rm -rf left vmtest"
umount "$M"
step "all SMB kernel-client checks passed ($DIALECTS)"
