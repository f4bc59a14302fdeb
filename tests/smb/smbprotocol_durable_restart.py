#!/usr/bin/env python3
"""Durable handles across a restart of the server, with Python's smbprotocol 1.17.0.

    python3 tests/smb/smbprotocol_durable_restart.py PORT SHARE USER PASSWORD OTHER OTHERPASS

The server must keep durable opens in its metadata store (dittofs on RocksDB or PostgreSQL).
Whoever runs the script restarts the server when asked: the script prints `RESTART TERM`
(stop it gracefully, SIGTERM) or `RESTART KILL` (kill -9), then reads one line from stdin
once the server is back.

Round 1, graceful restart:
  lease: a v2 durable open (DH2Q, 60 s) with an RWH lease writes 100 bytes and FLUSHes.
    After the restart, from new connections with the same ClientGuid: the other user's DH2C
    is refused, a DH2C with another CreateGuid is refused, the right DH2C reconnects with the
    RWH lease, reads the bytes, writes and reads more; after its CLOSE a DH2C is refused.
  timeout: a delete-on-close v2 durable open asking a 2 s timeout; 3 s after the restart its
    DH2C is refused and the file is gone (the scavenger closed it after the restart).
Round 2, kill -9 after FLUSH:
  batch: a v2 durable open with a batch oplock writes and FLUSHes; after the crash its DH2C
    reconnects with the batch oplock, reads the bytes, writes and reads more.
  v1: the same with DHnQ / DHnC on SMB 2.1.
  locks: a v2 durable open with a batch oplock takes an exclusive lock on [0, 10), a shared
    one on [20, 30), and one on [40, 45) it unlocks again. After the crash, before the DH2C,
    another client's attribute-only open (it breaks nothing) is refused locks under the
    first two (STATUS_LOCK_NOT_GRANTED), shares the shared one, and takes [40, 45); the
    DH2C reconnects, its UNLOCK of [0, 10) succeeds (the restored lock is its own), and then
    the other client takes [5, 6).
  conflict: a v2 durable open with a batch oplock; after the crash another client's open of
    the file succeeds at once with a batch oplock (the restored open's oplock cannot be
    broken, so it is closed) and the DH2C is refused.

Prints one line per case and exits 1 when any case failed, 2 when smbprotocol is missing.
"""

import struct
import sys
import time
import uuid

try:
    from smbprotocol.connection import Dialects
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
    print(f"smbprotocol_durable_restart.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STATUS_LOCK_NOT_GRANTED = 0xC0000055
EXCL_NOW = LockFlags.SMB2_LOCKFLAG_EXCLUSIVE_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
SHARED_NOW = LockFlags.SMB2_LOCKFLAG_SHARED_LOCK | LockFlags.SMB2_LOCKFLAG_FAIL_IMMEDIATELY
UNLOCK = LockFlags.SMB2_LOCKFLAG_UNLOCK
LEASE_RWH = 0x07
BATCH = RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH
LEASE = RequestedOplockLevel.SMB2_OPLOCK_LEVEL_LEASE
S311 = Dialects.SMB_3_1_1
S21 = Dialects.SMB_2_1_0


def drop(conn):
    """Forgets a connection whose server went away."""
    try:
        conn.transport.close()
    except Exception:  # the socket is already dead; nothing to do
        pass


def restart(how):
    """Asks the runner to restart the server and waits until it is back."""
    print(f"RESTART {how}")
    sys.stdout.flush()
    if sys.stdin.readline().strip() != "go":
        raise SystemExit("the runner did not restart the server")


class Run:
    def __init__(self, port, share, user, password, other, other_password):
        self.port, self.share = port, share
        self.alice, self.bob = (user, password), (other, other_password)
        self.failed = 0
        self.names = []

    def connect(self, who, dialect, client):
        conn, _session, tree = harness.connect(self.port, self.share, who[0], who[1], dialect, None, client)
        return conn, tree

    def name(self, what):
        n = f"restart-{what}-{uuid.uuid4().hex[:8]}.dat"
        self.names.append(n)
        return n

    def case(self, name, step):
        if not harness.report(name, step):
            self.failed += 1


def round_one(r):
    client = uuid.uuid4()
    conn, tree = r.connect(r.alice, S311, client)
    lease_name, lease_guid, lease_key = r.name("lease"), uuid.uuid4().bytes_le, uuid.uuid4().bytes
    f, ctx = create(tree, lease_name, [dh2q(lease_guid, 60000), lease(lease_key, LEASE_RWH)], LEASE)
    if b"DH2Q" not in ctx or struct.unpack("<I", ctx[b"RqLs"][16:20])[0] != LEASE_RWH:
        raise AssertionError(f"no durable RWH open: {ctx}")
    f.write(b"a" * 100, 0)
    f.flush()
    lease_fid = f.file_id
    gone_name, gone_guid = r.name("timeout"), uuid.uuid4().bytes_le
    g, ctx = create(tree, gone_name, [dh2q(gone_guid, 2000)], BATCH, CreateDisposition.FILE_CREATE, CreateOptions.FILE_DELETE_ON_CLOSE)
    if b"DH2Q" not in ctx:
        raise AssertionError("no 2 s durable open")
    g.write(b"t" * 10, 0)
    gone_fid = g.file_id
    restart("TERM")
    restarted = time.monotonic()
    drop(conn)

    def lease_case():
        conn, tree = r.connect(r.bob, S311, client)
        refused(
            "the other user's DH2C", STATUS_OBJECT_NAME_NOT_FOUND,
            lambda: create(tree, lease_name, [dh2c(lease_fid, lease_guid), lease(lease_key, 0)], LEASE),
        )
        conn.disconnect(True)
        conn, tree = r.connect(r.alice, S311, client)
        refused(
            "a DH2C with another CreateGuid", STATUS_OBJECT_NAME_NOT_FOUND,
            lambda: create(tree, lease_name, [dh2c(lease_fid, uuid.uuid4().bytes_le), lease(lease_key, 0)], LEASE),
        )
        h, ctx = create(tree, lease_name, [dh2c(lease_fid, lease_guid), lease(lease_key, 0)], LEASE)
        if struct.unpack("<I", ctx[b"RqLs"][16:20])[0] != LEASE_RWH:
            raise AssertionError("the reconnect did not get the RWH lease back")
        if h.read(0, 100) != b"a" * 100:
            raise AssertionError("the data written before the restart")
        h.write(b"b" * 50, 100)
        if h.read(0, 150) != b"a" * 100 + b"b" * 50:
            raise AssertionError("the data written through the reconnected handle")
        h.close()
        refused(
            "a DH2C after the CLOSE", STATUS_OBJECT_NAME_NOT_FOUND,
            lambda: create(tree, lease_name, [dh2c(lease_fid, lease_guid), lease(lease_key, 0)], LEASE),
        )
        conn.disconnect(True)

    def timeout_case():
        time.sleep(max(0.0, 3.0 - (time.monotonic() - restarted)))
        conn, tree = r.connect(r.alice, S311, client)
        refused(
            "a DH2C after the timeout", STATUS_OBJECT_NAME_NOT_FOUND,
            lambda: create(tree, gone_name, [dh2c(gone_fid, gone_guid)], BATCH),
        )
        refused(
            "the delete-on-close file after the scavenger", STATUS_OBJECT_NAME_NOT_FOUND,
            lambda: create(tree, gone_name, None, 0, CreateDisposition.FILE_OPEN),
        )
        conn.disconnect(True)

    r.case("graceful restart: lease", lease_case)
    r.case("graceful restart: timeout", timeout_case)


def round_two(r):
    client = uuid.uuid4()
    conn, tree = r.connect(r.alice, S311, client)
    batch_name, batch_guid = r.name("batch"), uuid.uuid4().bytes_le
    f, ctx = create(tree, batch_name, [dh2q(batch_guid, 60000)], BATCH)
    if b"DH2Q" not in ctx or f.oplock_level != BATCH:
        raise AssertionError(f"no durable batch open: {ctx}")
    f.write(b"c" * 100, 0)
    f.flush()
    batch_fid = f.file_id
    conflict_name, conflict_guid = r.name("conflict"), uuid.uuid4().bytes_le
    k, ctx = create(tree, conflict_name, [dh2q(conflict_guid, 60000)], BATCH)
    if b"DH2Q" not in ctx:
        raise AssertionError("no durable open to conflict with")
    conflict_fid = k.file_id
    locks_name, locks_guid = r.name("locks"), uuid.uuid4().bytes_le
    lk, ctx = create(tree, locks_name, [dh2q(locks_guid, 60000)], BATCH)
    if b"DH2Q" not in ctx:
        raise AssertionError("no durable open to lock through")
    lk.write(b"l" * 100, 0)
    lk.flush()
    lk.lock([element(0, 10, EXCL_NOW)])
    lk.lock([element(20, 10, SHARED_NOW)])
    lk.lock([element(40, 5, EXCL_NOW)])
    lk.lock([element(40, 5, UNLOCK)])
    locks_fid = lk.file_id
    conn1, tree1 = r.connect(r.alice, S21, client)
    v1_name = r.name("v1")
    g, ctx = create(tree1, v1_name, [dhnq()], BATCH)
    if b"DHnQ" not in ctx:
        raise AssertionError("no v1 durable open")
    g.write(b"v" * 100, 0)
    g.flush()
    v1_fid = g.file_id
    restart("KILL")
    drop(conn)
    drop(conn1)

    def batch_case():
        conn, tree = r.connect(r.alice, S311, client)
        h, _ = create(tree, batch_name, [dh2c(batch_fid, batch_guid)], BATCH)
        if h.oplock_level != BATCH:
            raise AssertionError(f"reconnected with oplock {h.oplock_level:#x}")
        if h.read(0, 100) != b"c" * 100:
            raise AssertionError("the data flushed before the crash")
        h.write(b"d" * 10, 100)
        if h.read(0, 110) != b"c" * 100 + b"d" * 10:
            raise AssertionError("the data written through the reconnected handle")
        h.close()
        conn.disconnect(True)

    def v1_case():
        conn, tree = r.connect(r.alice, S21, client)
        h, _ = create(tree, v1_name, [dhnc(v1_fid)], BATCH)
        if h.read(0, 100) != b"v" * 100:
            raise AssertionError("the data flushed before the crash")
        h.write(b"w" * 10, 100)
        h.close()
        conn.disconnect(True)

    def locks_case():
        other, other_tree = r.connect(r.alice, S311, uuid.uuid4())
        o, _ = create(
            other_tree, locks_name, None, RequestedOplockLevel.SMB2_OPLOCK_LEVEL_NONE,
            CreateDisposition.FILE_OPEN, access=FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES,
        )
        refused("a lock under the restored exclusive lock", STATUS_LOCK_NOT_GRANTED, lambda: o.lock([element(5, 1, EXCL_NOW)]))
        refused("an exclusive lock under the restored shared lock", STATUS_LOCK_NOT_GRANTED, lambda: o.lock([element(25, 1, EXCL_NOW)]))
        o.lock([element(25, 1, SHARED_NOW)])
        o.lock([element(25, 1, UNLOCK)])
        o.lock([element(40, 5, EXCL_NOW)])
        conn, tree = r.connect(r.alice, S311, client)
        h, _ = create(tree, locks_name, [dh2c(locks_fid, locks_guid)], BATCH)
        # Not past 40: the other client's lock on [40, 45) refuses the read there.
        if h.read(0, 40) != b"l" * 40:
            raise AssertionError("the data flushed before the crash")
        h.lock([element(0, 10, UNLOCK)])
        o.lock([element(5, 1, EXCL_NOW)])
        refused("an exclusive lock under the reconnected shared lock", STATUS_LOCK_NOT_GRANTED, lambda: o.lock([element(22, 1, EXCL_NOW)]))
        h.close()
        o.lock([element(22, 1, EXCL_NOW)])
        o.close()
        conn.disconnect(True)
        other.disconnect(True)

    def conflict_case():
        conn, tree = r.connect(r.alice, S311, uuid.uuid4())
        start = time.monotonic()
        h, _ = create(tree, conflict_name, None, BATCH, CreateDisposition.FILE_OPEN)
        took = time.monotonic() - start
        if took > 10:
            raise AssertionError(f"the conflicting open waited {took:.1f} s")
        if h.oplock_level != BATCH:
            raise AssertionError(f"the new open got oplock {h.oplock_level:#x}, not batch")
        h.close()
        conn.disconnect(True)
        conn, tree = r.connect(r.alice, S311, client)
        refused(
            "a DH2C of the open the conflict closed", STATUS_OBJECT_NAME_NOT_FOUND,
            lambda: create(tree, conflict_name, [dh2c(conflict_fid, conflict_guid)], BATCH),
        )
        conn.disconnect(True)

    r.case("kill -9: batch", batch_case)
    r.case("kill -9: v1", v1_case)
    r.case("kill -9: locks", locks_case)
    r.case("kill -9: conflict", conflict_case)


def main():
    if len(sys.argv) != 7:
        print(__doc__.strip().splitlines()[2].strip())
        sys.exit(2)
    r = Run(int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6])
    for what, step in (("round 1", round_one), ("round 2", round_two)):
        try:
            step(r)
        except SMBResponseException as e:
            r.failed += 1
            print(f"FAIL  {what} setup: {e}")
        except AssertionError as e:
            r.failed += 1
            print(f"FAIL  {what} setup: {e}")
        sys.stdout.flush()
    print("done" if not r.failed else f"{r.failed} failed")
    sys.exit(1 if r.failed else 0)


if __name__ == "__main__":
    main()
