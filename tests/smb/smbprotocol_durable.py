#!/usr/bin/env python3
"""Durable handles with Python's smbprotocol 1.17.0 against a server on 127.0.0.1.

    python3 tests/smb/smbprotocol_durable.py PORT SHARE USER PASSWORD

Cases (each on fresh connections; "killed" means the TCP connection is closed under the
session, no LOGOFF, as a network loss looks to the server):

  v1 batch (SMB 2.1, signed): an open with DHnQ and a batch oplock is granted durability; it
    writes 100 bytes and takes an exclusive lock on [0, 10); its connection is killed; from
    another connection an attribute-only open (which breaks nothing) finds the lock still
    held (STATUS_LOCK_NOT_GRANTED); a third connection of the same user reconnects it with
    DHnC, gets the batch oplock back, reads the bytes, and unlocks [0, 10) (the lock went
    with the open; a second unlock is STATUS_RANGE_NOT_LOCKED).
  v2 lease (SMB 3.1.1, encrypted): the same with DH2Q (Timeout 0: the server's 60 s are
    answered) and an RWH lease; the reconnect (DH2C with the CreateGuid and the lease key,
    from the same ClientGuid) gets RWH back, and a second open under the same lease key
    finds [0, 10) locked by the reconnected handle until it unlocks. (No lock is tried while
    disconnected: a lock request breaks read leases, which closes the durable open.) A DH2C
    with another CreateGuid is refused (STATUS_OBJECT_NAME_NOT_FOUND) and leaves the open
    reclaimable.
  scavenger (SMB 3.1.1): a delete-on-close v2 durable open asking a 1 s timeout is killed;
    after 3 s it is gone: the reconnect is STATUS_OBJECT_NAME_NOT_FOUND, and so is opening
    the file (the scavenger's close deleted it).
  conflict (SMB 2.1): a killed v1 durable open with a batch oplock is closed at once when
    another client's open needs its oplock broken (the break cannot be delivered): that open
    succeeds within seconds (not after the 35 s break timeout) and the reconnect fails.

Prints one line per case and exits 1 when any case failed, 2 when smbprotocol is missing
(install: pip install smbprotocol==1.17.0; ci/setup.sh does).
"""

import struct
import sys
import time
import uuid

try:
    from smbprotocol.connection import Ciphers, Dialects
    from smbprotocol.exceptions import SMBResponseException
    from smbprotocol.open import (
        CreateDisposition,
        CreateOptions,
        FilePipePrinterAccessMask,
        LockFlags,
        RequestedOplockLevel,
    )

    import harness
    from harness import create, dh2c, dh2q, dhnc, dhnq, element, lease, refused
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"smbprotocol_durable.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

STATUS_LOCK_NOT_GRANTED = 0xC0000055
STATUS_RANGE_NOT_LOCKED = 0xC000007E
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
LEASE_RWH = 0x07
EXCL_NOW = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY

CASES = [
    ("v1 batch", Dialects.SMB_2_1_0, None),
    ("v2 lease", Dialects.SMB_3_1_1, Ciphers.AES_128_GCM),
    ("scavenger", Dialects.SMB_3_1_1, None),
    ("conflict", Dialects.SMB_2_1_0, None),
]


def connect(port, share, user, password, dialect, cipher, client_guid=None):
    conn, _session, tree = harness.connect(port, share, user, password, dialect, cipher, client_guid)
    return conn, tree


def kill(conn):
    """Closes the TCP connection under its session: no LOGOFF, no TREE_DISCONNECT."""
    conn.transport.close()


def file_id(f):
    return f.file_id


def lock_held_elsewhere(port, share, user, password, name):
    """From a new connection, an attribute-only open (it breaks no oplock or lease) finds
    [0, 10) locked."""
    conn, tree = connect(port, share, user, password, Dialects.SMB_2_1_0, None)
    try:
        f, _ = create(
            tree, name, None, RequestedOplockLevel.SMB2_OPLOCK_LEVEL_NONE,
            CreateDisposition.FILE_OPEN, access=FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES,
        )
        refused("a lock under the disconnected open's lock", STATUS_LOCK_NOT_GRANTED, lambda: f.lock([element(5, 1, EXCL_NOW)]))
        f.close()
    finally:
        conn.disconnect(True)


def remove(port, share, user, password, name):
    conn, tree = connect(port, share, user, password, Dialects.SMB_2_1_0, None)
    try:
        f, _ = create(
            tree, name, None, RequestedOplockLevel.SMB2_OPLOCK_LEVEL_NONE,
            CreateDisposition.FILE_OPEN, CreateOptions.FILE_DELETE_ON_CLOSE,
        )
        f.close()
    except SMBResponseException:
        pass
    finally:
        conn.disconnect(True)


def run_case(port, share, user, password, name, dialect, cipher):
    fname = f"durable-{uuid.uuid4().hex[:8]}.dat"
    client = uuid.uuid4()
    args = (port, share, user, password)
    try:
        if name == "v1 batch":
            conn, tree = connect(*args, dialect, cipher, client)
            f, ctx = create(tree, fname, [dhnq()], RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH)
            if f.oplock_level != RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH or b"DHnQ" not in ctx:
                raise AssertionError(f"no durable batch open: oplock {f.oplock_level:#x}, contexts {list(ctx)}")
            f.write(b"d" * 100, 0)
            f.lock([element(0, 10, EXCL_NOW)])
            fid = file_id(f)
            kill(conn)
            time.sleep(0.5)
            lock_held_elsewhere(*args, fname)
            conn2, tree2 = connect(*args, dialect, cipher)
            g, ctx = create(tree2, fname, [dhnc(fid)], RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH)
            if g.oplock_level != RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH:
                raise AssertionError(f"reconnected with oplock {g.oplock_level:#x}")
            if g.read(0, 100) != b"d" * 100:
                raise AssertionError("the data written before the disconnect")
            g.lock([element(0, 10, LockFlags.SMB2_LOCKFLAG_UNLOCK)])
            refused("a second unlock", STATUS_RANGE_NOT_LOCKED, lambda: g.lock([element(0, 10, LockFlags.SMB2_LOCKFLAG_UNLOCK)]))
            g.close()
            conn2.disconnect(True)
        elif name == "v2 lease":
            conn, tree = connect(*args, dialect, cipher, client)
            guid, key = uuid.uuid4().bytes_le, uuid.uuid4().bytes
            f, ctx = create(tree, fname, [dh2q(guid), lease(key, LEASE_RWH)], RequestedOplockLevel.SMB2_OPLOCK_LEVEL_LEASE)
            if b"DH2Q" not in ctx or struct.unpack("<I", ctx[b"DH2Q"][:4])[0] != 60000:
                raise AssertionError(f"no 60 s v2 durable open: {ctx}")
            if struct.unpack("<I", ctx[b"RqLs"][16:20])[0] != LEASE_RWH:
                raise AssertionError("no RWH lease")
            f.write(b"e" * 100, 0)
            f.lock([element(0, 10, EXCL_NOW)])
            fid = file_id(f)
            kill(conn)
            time.sleep(0.5)
            # (No lock check while disconnected: a lock request breaks read leases, so it
            # would close the durable open. Checked after the reconnect instead.)
            conn2, tree2 = connect(*args, dialect, cipher, client)
            refused(
                "a DH2C with another CreateGuid", STATUS_OBJECT_NAME_NOT_FOUND,
                lambda: create(tree2, fname, [dh2c(fid, uuid.uuid4().bytes_le), lease(key, LEASE_RWH)], RequestedOplockLevel.SMB2_OPLOCK_LEVEL_LEASE),
            )
            g, ctx = create(tree2, fname, [dh2c(fid, guid), lease(key, 0)], RequestedOplockLevel.SMB2_OPLOCK_LEVEL_LEASE)
            if struct.unpack("<I", ctx[b"RqLs"][16:20])[0] != LEASE_RWH:
                raise AssertionError("the reconnect did not get the RWH lease back")
            if g.read(0, 100) != b"e" * 100:
                raise AssertionError("the data written before the disconnect")
            # A second open under the same lease key breaks nothing; the lock is the
            # reconnected handle's, so it conflicts with this open and not with that one.
            h, _ = create(tree2, fname, [lease(key, LEASE_RWH)], RequestedOplockLevel.SMB2_OPLOCK_LEVEL_LEASE, CreateDisposition.FILE_OPEN)
            refused("a lock under the reconnected open's lock", STATUS_LOCK_NOT_GRANTED, lambda: h.lock([element(5, 1, EXCL_NOW)]))
            g.lock([element(0, 10, LockFlags.SMB2_LOCKFLAG_UNLOCK)])
            h.lock([element(5, 1, EXCL_NOW)])
            h.close()
            g.close()
            conn2.disconnect(True)
        elif name == "scavenger":
            conn, tree = connect(*args, dialect, cipher, client)
            guid = uuid.uuid4().bytes_le
            f, ctx = create(
                tree, fname, [dh2q(guid, 1000)], RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH,
                CreateDisposition.FILE_CREATE, CreateOptions.FILE_DELETE_ON_CLOSE,
            )
            if b"DH2Q" not in ctx or struct.unpack("<I", ctx[b"DH2Q"][:4])[0] != 1000:
                raise AssertionError(f"no 1 s v2 durable open: {ctx}")
            f.write(b"s" * 10, 0)
            fid = file_id(f)
            kill(conn)
            time.sleep(3)
            conn2, tree2 = connect(*args, dialect, cipher, client)
            refused(
                "a reconnect after the timeout", STATUS_OBJECT_NAME_NOT_FOUND,
                lambda: create(tree2, fname, [dh2c(fid, guid)], RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH),
            )
            refused(
                "the delete-on-close file after the scavenger", STATUS_OBJECT_NAME_NOT_FOUND,
                lambda: create(tree2, fname, None, 0, CreateDisposition.FILE_OPEN),
            )
            conn2.disconnect(True)
        elif name == "conflict":
            conn, tree = connect(*args, dialect, cipher, client)
            f, ctx = create(tree, fname, [dhnq()], RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH)
            if b"DHnQ" not in ctx:
                raise AssertionError("no durable open")
            fid = file_id(f)
            kill(conn)
            time.sleep(0.5)
            conn2, tree2 = connect(*args, dialect, cipher)
            start = time.monotonic()
            g, _ = create(tree2, fname, None, RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH, CreateDisposition.FILE_OPEN)
            took = time.monotonic() - start
            if took > 10:
                raise AssertionError(f"the conflicting open waited {took:.1f} s for a break nobody can answer")
            if g.oplock_level != RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH:
                raise AssertionError(f"the new open got oplock {g.oplock_level:#x}, not batch")
            g.close()
            refused(
                "a reconnect of the closed durable open", STATUS_OBJECT_NAME_NOT_FOUND,
                lambda: create(tree2, fname, [dhnc(fid)], RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH),
            )
            conn2.disconnect(True)
    finally:
        remove(*args, fname)


def main():
    harness.run_cases(__doc__, 2, CASES, run_case, with_name=True)


if __name__ == "__main__":
    main()
