#!/usr/bin/env bash
# Boots the test VM (ci/vm/build.sh builds it) and runs one workload script inside it.
#
#   ci/vm/run.sh [options] WORKLOAD.sh [NAME=VALUE ...]
#
# NAME=VALUE pairs become environment variables of the workload. Inside the guest the host's
# 127.0.0.1 is 10.0.2.2 (QEMU user networking), so a server on the host's loopback port P is
# 10.0.2.2:P from the workload.
#
# Options:
#   --file SRC[:NAME]  copy SRC into the guest as /workload/NAME (default: its basename)
#   --bin PATH         copy the host program PATH into the guest's /usr/local/bin, with the
#                      shared libraries it links (from ldd), so dynamically linked host
#                      tools (pjdfstest, perl, fio) run in the busybox guest
#   --share DIR        offer DIR read-only over virtio-9p; the guest mounts it at /host
#   --timeout SECS     give up after SECS (default 1200); exit status 124
#   --mem MIB          guest memory (default 1536)
#   --log FILE         also write the console to FILE
#   --net OPTS         append OPTS to the user-networking netdev (",hostfwd=...,guestfwd=...")
#
# The guest's console is copied to standard output. The exit status is the workload's,
# 124 on timeout, 125 when the VM never reached the workload.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
vm="${DITTOFS_VM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dittofs-vm}"

die() { echo "ci/vm/run.sh: $*" >&2; exit 125; }

files=() bins=() share="" timeout=1200 mem=1536 log="" net=""
while (($#)); do
  case "$1" in
    --file) files+=("$2"); shift 2 ;;
    --bin) bins+=("$2"); shift 2 ;;
    --share) share="$2"; shift 2 ;;
    --timeout) timeout="$2"; shift 2 ;;
    --mem) mem="$2"; shift 2 ;;
    --log) log="$2"; shift 2 ;;
    --net) net="$2"; shift 2 ;;
    -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) break ;;
  esac
done
(($#)) || die "no workload script given (see --help)"
workload="$1"; shift
[[ -f "$workload" ]] || die "workload $workload not found"

"$here/build.sh" >&2

# Real KVM when it works; TCG (emulated CPU) otherwise. /dev/kvm backed by kvm-pvm cannot
# boot a stock kernel (it hangs right after boot setup), so it counts as no KVM.
accel=tcg cpu=max
if [[ -r /dev/kvm && -w /dev/kvm && ! -d /sys/module/kvm_pvm ]]; then
  accel=kvm cpu=host
fi

work="$(mktemp -d)"
qemu_pid=""
cleanup() {
  [[ -n "$qemu_pid" ]] && kill "$qemu_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$work/root/workload"
cp "$workload" "$work/root/workload/run.sh"
cp "$here/workloads/lib.sh" "$work/root/workload/lib.sh"
: >"$work/root/workload/env"
for kv in "$@"; do
  [[ "$kv" == *=* ]] || die "argument '$kv' is not NAME=VALUE"
  printf 'export %s=%q\n' "${kv%%=*}" "${kv#*=}" >>"$work/root/workload/env"
done
for f in "${files[@]}"; do
  src="${f%%:*}" name="$(basename "$src")"
  [[ "$f" == *:* ]] && name="${f#*:}"
  [[ -e "$src" ]] || die "--file $src not found"
  cp -r "$src" "$work/root/workload/$name"
done
for b in "${bins[@]}"; do
  [[ -x "$b" ]] || die "--bin $b is not an executable"
  mkdir -p "$work/root/usr/local/bin"
  cp -L "$b" "$work/root/usr/local/bin/"
  # Every library the program links, and the dynamic loader, at the same paths in the guest.
  for lib in $(ldd "$b" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
    mkdir -p "$work/root$(dirname "$lib")"
    cp -L "$lib" "$work/root$lib"
  done
done
(cd "$work/root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$work/overlay.cpio.gz"
# The kernel unpacks concatenated initramfs archives in order; the overlay adds /workload.
cat "$vm/base.cpio.gz" "$work/overlay.cpio.gz" >"$work/initrd"

args=(
  -accel "$accel" -cpu "$cpu" -m "$mem" -smp 2
  -display none -monitor none -serial stdio -no-reboot
  -kernel "$vm/vmlinuz" -initrd "$work/initrd"
  -append "console=ttyS0 quiet loglevel=4 panic=-1 rdinit=/init"
  -netdev "user,id=n0$net" -device virtio-net-pci,netdev=n0
)
if [[ -n "$share" ]]; then
  [[ -d "$share" ]] || die "--share $share is not a directory"
  args+=(-virtfs "local,path=$share,mount_tag=hosttools,security_model=none,readonly=on")
fi

echo "ci/vm/run.sh: booting ($accel) $(basename "$workload") with timeout ${timeout}s" >&2
console="$work/console"
set +e
timeout --kill-after=10 "$timeout" qemu-system-x86_64 "${args[@]}" </dev/null 2>&1 \
  | tee "$console" ${log:+"$log"}
qrc=${PIPESTATUS[0]}
set -e

if ((qrc == 124 || qrc == 137)); then
  echo "ci/vm/run.sh: timed out after ${timeout}s" >&2
  exit 124
fi
status="$(grep -a -o "DITTOFS-VM-EXIT=[0-9]*" "$console" | tail -1 | cut -d= -f2 || true)"
if [[ -z "$status" ]]; then
  if grep -aq 'DITTOFS-VM-READY' "$console"; then
    echo "ci/vm/run.sh: the workload never finished (guest crashed or powered off; qemu exit $qrc)" >&2
  else
    echo "ci/vm/run.sh: the VM never reached the workload (qemu exit $qrc); see the console above" >&2
  fi
  exit 125
fi
exit "$status"
