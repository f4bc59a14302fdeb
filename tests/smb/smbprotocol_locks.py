#!/usr/bin/env python3
"""Byte-range locks with Python's smbprotocol 1.17.0 against a server on 127.0.0.1.

    python3 tests/smb/smbprotocol_locks.py PORT SHARE USER PASSWORD

For SMB 2.1 (signed) and 3.1.1 (encrypted), two connections A and B, each with its own
session, open the same file (100 bytes):

  1. A takes an exclusive lock on [0, 10) (fail immediately): granted;
  2. B's exclusive lock on [5, 6) is refused (STATUS_LOCK_NOT_GRANTED), B's write and read of
     [0, 10) are refused (STATUS_FILE_LOCK_CONFLICT), B reads [50, 60), A writes [0, 10);
  3. B's blocking lock on [0, 10) goes asynchronous (an interim STATUS_PENDING answer with an
     AsyncId); A unlocks; B's lock is granted; B writes [0, 10); A's write there is refused;
  4. B unlocks; A locks again; B's blocking lock waits, B cancels it: STATUS_CANCELLED, and
     after A unlocks nobody holds the range (B's write goes through);
  5. A's lock goes away when A closes the file (B locks the range).

With SMB_PORT_B set in the environment, B connects to that port instead: another gateway on
the same PostgreSQL, so the same steps check locks across gateways. Lock requests are decided
in the shared store at once; a read or write under the other gateway's lock is refused once
its lock news reached this gateway (milliseconds), so those steps retry for a few seconds.

Prints one line per case and exits 1 when any case failed, 2 when smbprotocol is missing
(install: pip install smbprotocol==1.17.0; ci/setup.sh does).
"""

import os
import sys
import time
import uuid

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
    print(f"smbprotocol_locks.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

STATUS_PENDING = 0x00000103
STATUS_CANCELLED = 0xC0000120
STATUS_LOCK_NOT_GRANTED = 0xC0000055
STATUS_FILE_LOCK_CONFLICT = 0xC0000054
SHARE_ALL = ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE
DEADLINE = 10
# B's gateway, when it is another one (see the docstring).
PORT_B = int(os.environ["SMB_PORT_B"]) if os.environ.get("SMB_PORT_B") else None

CASES = [
    ("2.1", Dialects.SMB_2_1_0, None),
    ("3.1.1 AES-128-GCM", Dialects.SMB_3_1_1, Ciphers.AES_128_GCM),
]


def connect(port, share, user, password, dialect, cipher):
    conn, _session, tree = harness.connect(port, share, user, password, dialect, cipher)
    return conn, tree


def open_file(tree, path, disposition):
    f = Open(tree, path)
    f.create(
        ImpersonationLevel.Impersonation,
        FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
        FileAttributes.FILE_ATTRIBUTE_NORMAL,
        SHARE_ALL,
        disposition,
        CreateOptions.FILE_NON_DIRECTORY_FILE,
    )
    return f


EXCL_NOW = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY


def io_refused(what, status, call):
    """`refused`, but across gateways retried until the lock news arrived (DEADLINE)."""
    if PORT_B is None:
        return refused(what, status, call)
    end = time.monotonic() + DEADLINE
    while True:
        try:
            return refused(what, status, call)
        except AssertionError:
            if time.monotonic() > end:
                raise
            time.sleep(0.02)


def unlock(f, offset, length):
    f.lock([element(offset, length, LockFlags.SMB2_LOCKFLAG_UNLOCK)])


def blocking_lock(f, offset, length):
    """Sends a blocking exclusive lock; returns (request, receive) once it is pending."""
    req, receive = f.lock([element(offset, length, LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK)], send=False)
    tc = f.tree_connect
    request = f.connection.send(req, tc.session.session_id, tc.tree_connect_id)
    end = time.monotonic() + DEADLINE
    while not request.async_id and request.response is None:
        if time.monotonic() > end:
            raise AssertionError("no interim STATUS_PENDING answer for a blocking LOCK")
        time.sleep(0.01)
    if not request.async_id:
        raise AssertionError(
            f"blocking LOCK answered at once ({request.response['status'].get_value():#x})"
        )
    return request, receive


def final_status(request):
    end = time.monotonic() + DEADLINE
    while True:
        r = request.response
        if r is not None and r["status"].get_value() != STATUS_PENDING:
            return r["status"].get_value()
        if time.monotonic() > end:
            raise AssertionError("blocking LOCK not answered within the deadline")
        time.sleep(0.01)


def run_case(port, share, user, password, dialect, cipher):
    conn_a, tree_a = connect(port, share, user, password, dialect, cipher)
    conn_b, tree_b = connect(PORT_B or port, share, user, password, dialect, cipher)
    name = f"locks-{uuid.uuid4().hex[:8]}.dat"
    try:
        a = open_file(tree_a, name, CreateDisposition.FILE_CREATE)
        a.write(b"x" * 100, 0)
        a.flush()  # another gateway reads what was flushed
        b = open_file(tree_b, name, CreateDisposition.FILE_OPEN)

        # 1, 2. An exclusive lock of A keeps B out of the range, not A.
        a.lock([element(0, 10, EXCL_NOW)])
        refused("B's conflicting lock", STATUS_LOCK_NOT_GRANTED, lambda: b.lock([element(5, 1, EXCL_NOW)]))
        io_refused("B's write under A's lock", STATUS_FILE_LOCK_CONFLICT, lambda: b.write(b"y" * 10, 0))
        io_refused("B's read under A's lock", STATUS_FILE_LOCK_CONFLICT, lambda: b.read(0, 10))
        if b.read(50, 10) != b"x" * 10:
            raise AssertionError("B's read beside the lock")
        a.write(b"a" * 10, 0)

        # 3. A blocking lock waits, and is granted when A unlocks.
        request, receive = blocking_lock(b, 0, 10)
        unlock(a, 0, 10)
        receive(request)
        b.write(b"b" * 10, 0)
        io_refused("A's write under B's lock", STATUS_FILE_LOCK_CONFLICT, lambda: a.write(b"a" * 10, 0))
        if a.read(10, 5) != b"x" * 5:
            raise AssertionError("A's read beside B's lock")

        # 4. A waiting lock that is cancelled leaves nothing behind.
        unlock(b, 0, 10)
        a.lock([element(0, 10, EXCL_NOW)])
        request, _ = blocking_lock(b, 0, 10)
        request.cancel()
        status = final_status(request)
        if status != STATUS_CANCELLED:
            raise AssertionError(f"cancelled LOCK answered {status:#x}")
        unlock(a, 0, 10)
        b.write(b"c" * 10, 0)

        # 5. Closing the file releases its locks.
        a.lock([element(0, 10, EXCL_NOW)])
        a.close()
        b.lock([element(0, 10, EXCL_NOW)])
        unlock(b, 0, 10)
        if b.read(0, 10) != b"c" * 10:
            raise AssertionError("the bytes B wrote")
        b.close()
    finally:
        try:
            o = Open(tree_b, name)
            o.create(
                ImpersonationLevel.Impersonation,
                FilePipePrinterAccessMask.DELETE,
                FileAttributes.FILE_ATTRIBUTE_NORMAL,
                SHARE_ALL,
                CreateDisposition.FILE_OPEN,
                CreateOptions.FILE_DELETE_ON_CLOSE | CreateOptions.FILE_NON_DIRECTORY_FILE,
            )
            o.close()
        except Exception:  # cleanup of a failed case: what is left does not matter
            pass
        conn_a.disconnect(True)
        conn_b.disconnect(True)


def main():
    harness.run_cases(__doc__, 2, CASES, run_case)


if __name__ == "__main__":
    main()
