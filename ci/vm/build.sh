#!/usr/bin/env bash
# Builds the kernel-client test VM from Debian packages only: the Debian kernel
# (linux-image-amd64) with its NFS, CIFS, 9p and virtio modules, and a busybox initramfs.
#
# Output (in $DITTOFS_VM_DIR, default ~/.cache/dittofs-vm): vmlinuz, base.cpio.gz, stamp.
# Cached: rebuilt only when the kernel, busybox or this directory's scripts change.
# Needs the packages from ci/setup.sh; run that first on a fresh machine.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${DITTOFS_VM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dittofs-vm}"

die() { echo "ci/vm/build.sh: $*" >&2; exit 1; }

# The newest installed Debian kernel that has the NFS client modules.
kver=""
for d in $(ls -1d /lib/modules/*/ 2>/dev/null | sort -V -r); do
  v="$(basename "$d")"
  if [[ -r "/boot/vmlinuz-$v" ]] && compgen -G "$d/kernel/fs/nfs/nfsv3.ko*" >/dev/null; then
    kver="$v"; break
  fi
done
[[ -n "$kver" ]] || die "no Debian kernel with NFS modules in /lib/modules; install linux-image-amd64 (ci/setup.sh)"
mods="/lib/modules/$kver"
busybox="$(command -v busybox || true)"
[[ -x /bin/busybox ]] && busybox=/bin/busybox
[[ -n "$busybox" ]] || die "busybox not found; install busybox-static (ci/setup.sh)"
[[ "$(ldd "$busybox" 2>&1 || true)" == *"not a dynamic"* ]] \
  || die "$busybox is not statically linked; install busybox-static (ci/setup.sh)"

key="$(
  {
    echo "$kver"
    sha256sum "/boot/vmlinuz-$kver" "$busybox" "$here"/build.sh "$here"/init
  } | sha256sum | cut -d' ' -f1
)"
if [[ -f "$out/stamp" && "$(cat "$out/stamp")" == "$key" && -f "$out/base.cpio.gz" ]]; then
  echo "ci/vm/build.sh: cached VM in $out (kernel $kver)"
  exit 0
fi

echo "ci/vm/build.sh: building VM for kernel $kver in $out"
mkdir -p "$out"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT

# Modules to load, in an order that satisfies modules.dep (dependencies first).
# cifs names its crypto as soft dependencies (modules.softdep), which modules.dep does not list:
# signing (cmac, sha256, sha512, hmac), encryption (ccm, gcm) and NTLM (md4, md5, arc4).
want=(virtio_pci virtio_net virtio_blk 9pnet_virtio 9p nfsv3 cifs cmac ccm gcm ctr ecb ghash_generic sha512_generic md4)
declare -A path_of=() seen=()
while IFS= read -r line; do
  p="${line%%:*}"
  n="$(basename "$p")"; n="${n%%.ko*}"; n="${n//-/_}"
  path_of[$n]="$p"
done <"$mods/modules.dep"
order=()
visit() {
  local name="$1" p deps d dn
  [[ -n "${seen[$name]:-}" ]] && return 0
  seen[$name]=1
  p="${path_of[$name]:-}"
  if [[ -z "$p" ]]; then
    # Built into the kernel: nothing to load.
    grep -q "/${name//_/[-_]}\.ko" "$mods/modules.builtin" && return 0
    die "module $name is neither a module nor built in for $kver"
  fi
  deps="$(grep -m1 "^$p:" "$mods/modules.dep" | cut -d: -f2)"
  for d in $deps; do
    dn="$(basename "$d")"; dn="${dn%%.ko*}"; dn="${dn//-/_}"
    visit "$dn"
  done
  order+=("$name")
}
for m in "${want[@]}"; do visit "$m"; done

mkdir -p "$stage"/{bin,sbin,dev,proc,sys,tmp,mnt,modules,workload,etc}
cp "$busybox" "$stage/bin/busybox"
for m in "${order[@]}"; do
  src="$mods/${path_of[$m]}"
  case "$src" in
    *.ko.xz) xz -dc "$src" >"$stage/modules/$m.ko" ;;
    *.ko.zst) zstd -qdc "$src" >"$stage/modules/$m.ko" ;;
    *.ko.gz) gzip -dc "$src" >"$stage/modules/$m.ko" ;;
    *) cp "$src" "$stage/modules/$m.ko" ;;
  esac
  echo "$m" >>"$stage/modules/order"
done
cp "$here/init" "$stage/init"
chmod 755 "$stage/init" "$stage/bin/busybox"
# Users the workloads switch to (pjdfstest needs "nobody" and "tests").
printf '%s\n' "root:x:0:0:root:/:/bin/sh" "tests:x:1000:1000:tests:/:/bin/sh" \
  "nobody:x:65534:65534:nobody:/:/bin/sh" >"$stage/etc/passwd"
printf '%s\n' "root:x:0:" "tests:x:1000:" "nogroup:x:65534:" "nobody:x:65533:" >"$stage/etc/group"

(cd "$stage" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$out/base.cpio.gz.tmp"
cp "/boot/vmlinuz-$kver" "$out/vmlinuz.tmp"
mv "$out/base.cpio.gz.tmp" "$out/base.cpio.gz"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"
echo "$key" >"$out/stamp"
echo "ci/vm/build.sh: done: ${#order[@]} modules ($(du -h "$out/base.cpio.gz" | cut -f1) initramfs)"
