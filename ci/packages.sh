# Debian packages DittoFS needs, in one place: sourced by ./dittofs.sh (building and running
# the server) and ci/setup.sh (the tests), so the two never disagree.

# Building the `dittofs` binary: librocksdb-sys compiles RocksDB's C++ with g++ and generates
# its bindings with bindgen, which loads libclang.
BUILD_PACKAGES=(
  g++               # RocksDB's C++ (through the cc crate)
  clang libclang-dev # bindgen for librocksdb-sys
)

# Running the tests, on top of the build packages.
TEST_PACKAGES=(
  libnfs-utils      # nfs-ls, nfs-cp, nfs-cat: NFSv3 clients nobody here wrote
  qemu-system-x86   # the kernel-client test VM
  linux-image-amd64 # the Debian kernel with its nfs/nfsv3/cifs modules, booted in the VM
  busybox-static    # the VM's userland
  cpio              # packs the VM's initramfs
  zstd xz-utils     # decompress kernel modules for busybox insmod
  libacl1-dev       # pjdfstest (built from crates.io below) links libacl
  samba             # smbd, the SMB server the cifs workloads run against (ci/samba.sh)
  smbclient         # smbclient: an SMB client nobody here wrote, against dittofs
  samba-testsuite   # smbtorture: the SMB2 conformance suites, against dittofs and Samba
  samba-vfs-modules # acl_xattr and streams_xattr, the Samba share options the reference counts use
  python3-pip       # installs smbprotocol (PyPI), the Python SMB client the tests use
  postgresql        # initdb and pg_ctl: the PostgreSQL metadata tests start a throwaway server
  socat             # the VM's guestfwd to the server's portmapper and NFS port (kernel_nlm)
  curl              # the HTTP endpoint tests (actors/tests/http.rs) ask it with curl
  prometheus        # promtool check metrics, on the /metrics exposition (actors/tests/http.rs)
)

# missing_packages PKG...: prints the ones dpkg does not have installed, one per line.
missing_packages() {
  local p
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || echo "$p"
  done
}

# ensure_packages WHO PKG...: installs the missing ones with apt-get; WHO names the caller in
# messages. Without root it names the packages and the command to run, and fails.
ensure_packages() {
  local who="$1" missing
  shift
  mapfile -t missing < <(missing_packages "$@")
  ((${#missing[@]})) || return 0
  if [[ $(id -u) -ne 0 ]]; then
    echo "$who: needs the Debian packages ${missing[*]}, and installing them needs root:" >&2
    echo "  sudo apt-get install ${missing[*]}" >&2
    echo "then run $who again." >&2
    return 1
  fi
  echo "$who: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
}
