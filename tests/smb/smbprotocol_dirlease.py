#!/usr/bin/env python3
"""Directory leases and parent lease keys ([MS-SMB2] 3.3.1.4, 3.3.5.9.11; [MS-FSA] 2.1.4.12.2),
with Python's smbprotocol 1.17.0 on two SMB 3.1.1 connections (clients A and B, each its own
ClientGuid). Driven by actors/tests/lease_nfs.rs, which talks NFS:

    python3 tests/smb/smbprotocol_dirlease.py PORT SHARE USER PASSWORD [PORT_B]

With PORT_B, client B connects to another gateway on the same PostgreSQL (driven by
actors/tests/lease_gateways.rs, whose NFS calls go through that gateway too): entry changes
reach A's gateway through the store's change feed, and a child's data or times changed
through the other gateway through the modifications that gateway announces on the same
feed, so every step runs.

The script checks, in order:
  1. grants: A opens directory `dl` with a v2 lease asking RWH and is granted RH (never write
     caching on a directory), epoch 1; a v1 lease context on a directory is not answered
     (no lease, oplock level none), as on Windows;
  2. B creates `dl\\b.txt`: A's lease breaks RH -> none, asking for an acknowledgement, with the
     epoch moved on; A acknowledges;
  3. rearm: A opens `dl` again with the same key asking RH: the lease is RH again;
  4. A creates `dl\\a.txt` with a v2 lease naming the directory's lease key as its parent
     (SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET): no break; the answer carries the flag and parent
     key; A writes through it and closes it: still no break;
  5. B opens `dl\\b.txt` without a parent key and writes: no break until it closes the file,
     then RH -> none;
  6. rearm; B renames `dl\\b.txt` to `dl\\b2.txt`: break; rearm; B sets b2.txt's times:
     break; rearm; B deletes b2.txt (delete on close): break; prints "SETINFO-BROKE";
  7. rearm; prints "ARMED" and waits for a line on stdin (the test creates `dl/nfs.txt` over
     NFS): break; prints "NFS-BROKE";
  8. rearm; prints "ARMED-W" and waits (the test writes `dl/nfs.txt` over NFS, FILE_SYNC):
     break; rearm; prints "ARMED-S" and waits (the test sets its mode over NFS): break;
  9. rearm; prints "ARMED2" and waits for a line (the test removes `dl/nfs.txt` over NFS):
     break; then prints "DONE".
A break that arrives where none is due fails the step that was running. Exits 1 when a check
failed, 2 when smbprotocol is missing.
"""

import struct
import sys
import time
import uuid

try:
    from smbprotocol.connection import Ciphers, Dialects
    from smbprotocol.create_contexts import CreateContextName
    from smbprotocol.file_info import FileBasicInformation, FileRenameInformation
    from smbprotocol.open import (
        CreateDisposition,
        CreateOptions,
        DirectoryAccessMask,
        FileAttributes,
        FilePipePrinterAccessMask,
        ImpersonationLevel,
        Open,
        RequestedOplockLevel,
        SMB2SetInfoRequest,
    )

    import harness
    from harness import LeaseBreakAck
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"smbprotocol_dirlease.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

LEASE_R, LEASE_H, LEASE_W = 1, 2, 4
RH = LEASE_R | LEASE_H
RWH = LEASE_R | LEASE_W | LEASE_H
ACK_REQUIRED = 1
PARENT_LEASE_KEY_SET = 4
OPLOCK_LEASE = 0xFF
# Seconds a break may take to arrive; seconds a break that is not due is waited for.
DEADLINE = 20
QUIET = 1.0


def lease_v2(key, state, parent=None, epoch=0):
    """A v2 RqLs context (52 bytes), naming `parent` as ParentLeaseKey when given."""
    flags = PARENT_LEASE_KEY_SET if parent else 0
    data = key + struct.pack("<IIQ", state, flags, 0) + (parent or b"\0" * 16) + struct.pack("<HH", epoch, 0)
    return harness.context(CreateContextName.SMB2_CREATE_REQUEST_LEASE, data)


def granted(out):
    """(state, flags, parent key, epoch) of the lease a CREATE answered, None without one."""
    for c in out or []:
        name, data = harness.raw(c)
        if name == b"RqLs":
            state, flags = struct.unpack_from("<II", data, 16)
            if len(data) >= 52:
                return state, flags, data[32:48], struct.unpack_from("<H", data, 48)[0]
            return state, flags, None, 0
    return None


DIR_ACCESS = DirectoryAccessMask.FILE_LIST_DIRECTORY | DirectoryAccessMask.FILE_READ_ATTRIBUTES


def set_info(f, info):
    """SET_INFO of `info` (a smbprotocol file_info structure) on open `f`."""
    req = SMB2SetInfoRequest()
    req["info_type"] = info.INFO_TYPE
    req["file_info_class"] = info.INFO_CLASS
    req["file_id"] = f.file_id
    req["buffer"] = info
    tree = f.tree_connect
    sent = f.connection.send(req, sid=tree.session.session_id, tid=tree.tree_connect_id)
    f.connection.receive(sent, timeout=DEADLINE)


def open_dir(tree, path, contexts, disposition=CreateDisposition.FILE_OPEN_IF):
    d = Open(tree, path)
    out = d.create(
        ImpersonationLevel.Impersonation,
        DIR_ACCESS,
        FileAttributes.FILE_ATTRIBUTE_DIRECTORY,
        harness.SHARE_ALL,
        disposition,
        CreateOptions.FILE_DIRECTORY_FILE,
        create_contexts=contexts,
        oplock_level=RequestedOplockLevel.SMB2_OPLOCK_LEVEL_LEASE if contexts else 0,
    )
    return d, out


def open_file(tree, path, contexts=None, disposition=CreateDisposition.FILE_OPEN_IF, options=0):
    f = Open(tree, path)
    out = f.create(
        ImpersonationLevel.Impersonation,
        harness.RW_DELETE,
        FileAttributes.FILE_ATTRIBUTE_NORMAL,
        harness.SHARE_ALL,
        disposition,
        CreateOptions.FILE_NON_DIRECTORY_FILE | options,
        create_contexts=contexts or [],
        oplock_level=RequestedOplockLevel.SMB2_OPLOCK_LEVEL_LEASE if contexts else 0,
    )
    return f, out


class Holder:
    """Client A: the directory lease and its break notifications."""

    def __init__(self, conn, session, tree):
        self.conn, self.session, self.tree = conn, session, tree
        self.breaks = harness.catch_breaks(conn, session, LeaseBreakAck)
        self.key = uuid.uuid4().bytes
        self.epoch = 0

    def next_break(self, wait):
        """(flags, key, current, new, epoch) of the next lease break, None if none came."""
        if not self.breaks.response_event.wait(wait):
            return None
        self.breaks.response_event.clear()
        body = self.breaks.response["data"].get_value()
        size = struct.unpack_from("<H", body, 0)[0]
        if size != 44:
            raise AssertionError(f"a break of structure size {size}, not a lease break")
        new_epoch = struct.unpack_from("<H", body, 2)[0]
        flags = struct.unpack_from("<I", body, 4)[0]
        current, new = struct.unpack_from("<II", body, 24)
        return flags, body[8:24], current, new, new_epoch

    def quiet(self, what):
        b = self.next_break(QUIET)
        if b is not None:
            raise AssertionError(f"{what}: a lease break arrived where none was due: {b}")

    def expect_break(self, what):
        """The directory lease breaks RH -> none, asks for an acknowledgement and moves its
        epoch on; it is acknowledged."""
        b = self.next_break(DEADLINE)
        if b is None:
            raise AssertionError(f"{what}: no break of the directory lease")
        flags, key, current, new, epoch = b
        if key != self.key or current != RH or new != 0:
            raise AssertionError(f"{what}: break {current:#x} -> {new:#x} (our key: {key == self.key}) where RH -> none was due")
        if not flags & ACK_REQUIRED:
            raise AssertionError(f"{what}: a break from RH must ask for an acknowledgement")
        if epoch != self.epoch + 1:
            raise AssertionError(f"{what}: break epoch {epoch}, wanted {self.epoch + 1}")
        self.epoch = epoch
        ack = self.conn.send(LeaseBreakAck(self.key, 0), sid=self.session.session_id, tid=self.tree.tree_connect_id)
        self.conn.receive(ack, timeout=DEADLINE)

    def rearm(self):
        """Opens `dl` again with the lease's key asking RH: the lease is RH again."""
        d, out = open_dir(self.tree, "dl", [lease_v2(self.key, RH, epoch=self.epoch)], CreateDisposition.FILE_OPEN)
        g = granted(out)
        if g is None or g[0] != RH:
            raise AssertionError(f"rearm: lease {g} where RH was asked")
        self.epoch = g[3]
        d.close()
        self.quiet("rearm")


def say(line):
    print(line, flush=True)


def wait_go():
    if not sys.stdin.readline():
        raise AssertionError("the test went away")


def main():
    if len(sys.argv) not in (5, 6):
        print(__doc__.strip().splitlines()[4].strip())
        sys.exit(2)
    port, share, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    cross = len(sys.argv) == 6
    port_b = int(sys.argv[5]) if cross else port
    conn_a, session_a, tree_a = harness.connect(port, share, user, password, Dialects.SMB_3_1_1, Ciphers.AES_128_GCM)
    conn_b, _session_b, tree_b = harness.connect(port_b, share, user, password, Dialects.SMB_3_1_1, Ciphers.AES_128_GCM)
    try:
        if not conn_a.server_capabilities.get_value() & 0x20:
            raise AssertionError("SMB2_GLOBAL_CAP_DIRECTORY_LEASING not offered on 3.1.1")
        a = Holder(conn_a, session_a, tree_a)

        # 1: grants.
        d, out = open_dir(tree_a, "dl", [lease_v2(a.key, RWH)], CreateDisposition.FILE_CREATE)
        g = granted(out)
        if g is None or g[0] != RH or g[3] != 1:
            raise AssertionError(f"directory lease {g} where RH, epoch 1 was due for RWH asked")
        if d.oplock_level != OPLOCK_LEASE:
            raise AssertionError(f"oplock level {d.oplock_level:#x} for a leased directory")
        a.epoch = 1
        v1, out = open_dir(tree_a, "dl", [harness.lease(uuid.uuid4().bytes, RH)])
        if granted(out) is not None or v1.oplock_level != 0:
            raise AssertionError(f"a v1 lease on a directory was answered: {granted(out)}, level {v1.oplock_level:#x}")
        v1.close()
        a.quiet("grants")
        say("GRANTS")

        # 2: another client's create in the directory.
        b, _ = open_file(tree_b, "dl\\b.txt", disposition=CreateDisposition.FILE_CREATE)
        a.expect_break("create by B")
        b.close()
        say("CREATE-BROKE")

        # 3: rearm.
        a.rearm()

        # 4: A's own changes under the parent key.
        fk = uuid.uuid4().bytes
        f, out = open_file(tree_a, "dl\\a.txt", [lease_v2(fk, RWH, parent=a.key)], CreateDisposition.FILE_CREATE)
        g = granted(out)
        if g is None or g[0] != RWH or not g[1] & PARENT_LEASE_KEY_SET or g[2] != a.key:
            raise AssertionError(f"file lease {g} where RWH with the parent key was due")
        a.quiet("create with the parent key")
        f.write(b"under the parent key", 0)
        f.close()
        a.quiet("write and close with the parent key")
        say("PARENT-KEY-QUIET")

        # 5: B writes: the break comes at close.
        b, _ = open_file(tree_b, "dl\\b.txt", disposition=CreateDisposition.FILE_OPEN)
        b.write(b"data from B", 0)
        a.quiet("write by B")
        b.close()
        a.expect_break("close after a write by B")
        a.rearm()
        say("WRITE-BROKE")

        # 6: rename, times, delete by B.
        b, _ = open_file(tree_b, "dl\\b.txt", disposition=CreateDisposition.FILE_OPEN)
        ren = FileRenameInformation()
        ren["replace_if_exists"] = False
        ren["file_name"] = "dl\\b2.txt"
        set_info(b, ren)
        a.expect_break("rename by B")
        a.rearm()
        basic = FileBasicInformation()
        basic["last_write_time"] = 132000000000000000
        set_info(b, basic)
        a.expect_break("times set by B")
        b.close()
        a.rearm()
        b, _ = open_file(
            tree_b, "dl\\b2.txt", disposition=CreateDisposition.FILE_OPEN, options=CreateOptions.FILE_DELETE_ON_CLOSE
        )
        b.close()
        a.expect_break("delete by B")
        say("SETINFO-BROKE")

        # 7-8: NFS.
        a.rearm()
        say("ARMED")
        wait_go()
        a.expect_break("create over NFS")
        say("NFS-BROKE")
        a.rearm()
        say("ARMED-W")
        wait_go()
        a.expect_break("a FILE_SYNC write over NFS")
        a.rearm()
        say("ARMED-S")
        wait_go()
        a.expect_break("a mode set over NFS")
        a.rearm()
        say("ARMED2")
        wait_go()
        a.expect_break("remove over NFS")
        d.close()
        say("DONE")
    except AssertionError as e:
        say(f"FAILED: {e}")
        sys.exit(1)
    finally:
        conn_a.disconnect(True)
        conn_b.disconnect(True)


if __name__ == "__main__":
    main()
