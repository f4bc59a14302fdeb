#!/usr/bin/env python3
"""NFS (NLM) and SMB byte-range locks on one file conflict both ways, with Python's
smbprotocol 1.17.0 on the SMB side. Driven by actors/tests/nlm.rs, which talks NLM:

    python3 tests/smb/smbprotocol_nlm.py PORT SHARE USER PASSWORD

Over SMB 3.1.1 the script
  1. creates `cross.dat` (100 bytes), prints "SMB-CREATED" and waits for a line on stdin (the
     test takes an NLM exclusive lock on [0, 10) meanwhile);
  2. checks that its exclusive lock on [5, 6) is refused (STATUS_LOCK_NOT_GRANTED), its read and
     write of [0, 10) too (STATUS_FILE_LOCK_CONFLICT), and a read of [50, 60) works;
  3. takes an exclusive lock on [20, 30), prints "SMB-LOCK-HELD" and waits for a line (the test
     checks that NLM TEST and LOCK see it);
  4. closes the file, which releases its lock, and prints "SMB-DONE".
Exits 1 when a check failed, 2 when smbprotocol is missing.
"""

import sys

try:
    from smbprotocol.connection import Ciphers, Dialects
    from smbprotocol.open import (
        CreateDisposition,
        CreateOptions,
        FileAttributes,
        FilePipePrinterAccessMask,
        ImpersonationLevel,
        LockFlags,
        Open,
        ShareAccess,
    )

    import harness
    from harness import element, refused
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"smbprotocol_nlm.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

STATUS_LOCK_NOT_GRANTED = 0xC0000055
STATUS_FILE_LOCK_CONFLICT = 0xC0000054
SHARE_ALL = ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE
EXCL_NOW = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY


def say(line):
    print(line, flush=True)
    if not sys.stdin.readline():
        raise AssertionError("the test closed stdin early")


def main():
    if len(sys.argv) != 5:
        print(__doc__)
        sys.exit(1)
    port, share, user, password = sys.argv[1:]
    conn, _session, tree = harness.connect(int(port), share, user, password, Dialects.SMB_3_1_1, Ciphers.AES_128_GCM)
    try:
        f = Open(tree, "cross.dat")
        f.create(
            ImpersonationLevel.Impersonation,
            FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
            FileAttributes.FILE_ATTRIBUTE_NORMAL,
            SHARE_ALL,
            CreateDisposition.FILE_OVERWRITE_IF,
            CreateOptions.FILE_NON_DIRECTORY_FILE,
        )
        f.write(b"x" * 100, 0)
        f.flush()
        say("SMB-CREATED")
        refused("SMB lock under the NLM lock", STATUS_LOCK_NOT_GRANTED, lambda: f.lock([element(5, 1, EXCL_NOW)]))
        refused("SMB read under the NLM lock", STATUS_FILE_LOCK_CONFLICT, lambda: f.read(0, 10))
        refused("SMB write under the NLM lock", STATUS_FILE_LOCK_CONFLICT, lambda: f.write(b"y" * 10, 0))
        if f.read(50, 10) != b"x" * 10:
            raise AssertionError("SMB read beside the NLM lock")
        print("SMB-REFUSED-UNDER-NLM", flush=True)
        f.lock([element(20, 10, EXCL_NOW)])
        say("SMB-LOCK-HELD")
        f.close()
        print("SMB-DONE", flush=True)
    except AssertionError as e:
        print(f"FAIL: {e}", flush=True)
        sys.exit(1)
    finally:
        conn.disconnect(True)


if __name__ == "__main__":
    main()
