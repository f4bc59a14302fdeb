#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: client tools, the VM's parts.
# Idempotent: packages already present are not touched.
set -euo pipefail

# The package lists live in ci/packages.sh, shared with ./dittofs.sh.
source "$(dirname "$0")/packages.sh"
ensure_packages ci/setup.sh "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
command -v cargo >/dev/null || { echo "ci/setup.sh: cargo not found; install Rust (rustup) first" >&2; exit 1; }

# pjdfstest (the Rust POSIX suite from crates.io), run inside the VM; cached with the VM.
tools="${DITTOFS_VM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/dittofs-vm}/tools"
if [[ ! -x "$tools/bin/pjdfstest" ]]; then
  echo "ci/setup.sh: building pjdfstest 0.2.2 into $tools"
  cargo install pjdfstest@0.2.2 --locked --root "$tools"
fi

# smbprotocol (PyPI), the Python SMB2/3 client of tests/smb/smbprotocol_client.py (every dialect
# and 3.1.1 cipher, encryption required), pinned; skipped when that version is already there.
# Debian's own python3 refuses pip installs (PEP 668, "externally managed"); on the throwaway
# test machines this script is for, installing past that is what we want.
if ! python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("smbprotocol") != "1.17.0")' 2>/dev/null; then
  echo "ci/setup.sh: installing smbprotocol 1.17.0 (pip)"
  python3 -m pip --version >/dev/null 2>&1 \
    || { echo "ci/setup.sh: python3 has no pip: apt-get install python3-pip" >&2; exit 1; }
  python3 -m pip install --quiet smbprotocol==1.17.0 \
    || python3 -m pip install --quiet --break-system-packages smbprotocol==1.17.0
fi

# moto (PyPI) in server mode: the real S3 server over HTTP that the S3 content store's tests
# (stores/tests/s3.rs, through testkit::s3) start on a loopback port; pinned like smbprotocol.
if ! python3 -c 'import importlib.metadata as m, sys; sys.exit(m.version("moto") != "5.2.5")' 2>/dev/null \
  || ! command -v moto_server >/dev/null; then
  echo "ci/setup.sh: installing moto[server] 5.2.5 (pip)"
  python3 -m pip install --quiet 'moto[server]==5.2.5' \
    || python3 -m pip install --quiet --break-system-packages 'moto[server]==5.2.5'
fi
