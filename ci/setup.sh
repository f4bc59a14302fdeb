#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: client tools, the VM's parts.
# Idempotent: packages already present are not touched.
set -euo pipefail

packages=(
  libnfs-utils      # nfs-ls, nfs-cp, nfs-cat: NFSv3 clients nobody here wrote
  qemu-system-x86   # the kernel-client test VM
  linux-image-amd64 # the Debian kernel with its nfs/nfsv3/cifs modules, booted in the VM
  busybox-static    # the VM's userland
  cpio              # packs the VM's initramfs
  zstd xz-utils     # decompress kernel modules for busybox insmod
  clang libclang-dev # bindgen for librocksdb-sys
  libacl1-dev       # pjdfstest (built from crates.io below) links libacl
  samba             # smbd, the SMB server the cifs workloads run against (ci/samba.sh)
)

missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "ci/setup.sh: installing ${missing[*]}"
  if [[ $(id -u) -ne 0 ]]; then
    echo "ci/setup.sh: need root to install packages (run as root or install them yourself)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
command -v cargo >/dev/null || { echo "ci/setup.sh: cargo not found; install Rust (rustup) first" >&2; exit 1; }

# pjdfstest (the Rust POSIX suite from crates.io), run inside the VM; cached with the VM.
tools="${DITTOFS_VM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dittofs-vm}/tools"
if [[ ! -x "$tools/bin/pjdfstest" ]]; then
  echo "ci/setup.sh: building pjdfstest 0.2.2 into $tools"
  cargo install pjdfstest@0.2.2 --locked --root "$tools"
fi
