#!/usr/bin/env python3
"""An NFS change recalls an SMB lease and waits for it, with Python's smbprotocol 1.17.0 on the
SMB side. Driven by actors/tests/lease_nfs.rs, which talks NFS:

    python3 tests/smb/smbprotocol_lease_nfs.py PORT SHARE USER PASSWORD

Over SMB 3.1.1 (encrypted) the script
  1. creates `leased.dat` with an RWH lease, prints "LEASED" and waits for a line on stdin
     (the test then writes the file over NFS, which must wait);
  2. receives the lease break (RWH to H, acknowledgement required), prints "BREAK", waits a
     second, writes what a caching client would have held back ("SMB-FLUSHED" at 0), prints
     "FLUSHED", acknowledges the break to H and prints "ACKED";
  3. creates `named.dat` with an RWH lease under another key, prints "LEASED2" and waits for
     a line (the test then removes it over NFS, which must wait);
  4. receives the break (RWH to RW: handle caching goes), prints "BREAK2", waits a second,
     closes the handle (what a client does with a handle it kept only for reuse) and prints
     "CLOSED";
  5. creates the directory `watched`, watches it (file and directory names) and, on another
     handle, the share root with WATCH_TREE; prints "WATCHING" and waits for a line (the test
     then creates `watched/fromnfs.txt` over NFS);
  6. checks that the watch on `watched` reports it ADDED and the tree watch on the root
     answers STATUS_NOTIFY_ENUM_DIR (an NFS change has no path to report below a tree
     watch's directory); prints "NOTIFIED", watches `watched` again, prints "WATCHING2" and
     waits for a line (the test renames the file to `renamed.txt` over NFS);
  7. checks RENAMED_OLD_NAME fromnfs.txt, RENAMED_NEW_NAME renamed.txt; prints "DONE".
Exits 1 when a check failed, 2 when smbprotocol is missing.
"""

import struct
import sys
import time
import uuid

try:
    from smbprotocol.change_notify import ChangeNotifyFlags, CompletionFilter, FileSystemWatcher
    from smbprotocol.connection import Ciphers, Dialects
    from smbprotocol.create_contexts import CreateContextName, SMB2CreateContextRequest
    from smbprotocol.open import (
        CreateDisposition,
        CreateOptions,
        DirectoryAccessMask,
        FileAttributes,
        FilePipePrinterAccessMask,
        ImpersonationLevel,
        Open,
        RequestedOplockLevel,
        ShareAccess,
    )

    import harness
    from harness import LeaseBreakAck
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"smbprotocol_lease_nfs.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

LEASE_R, LEASE_H, LEASE_W = 1, 2, 4
ACK_REQUIRED = 1
SHARE_ALL = ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE
RW = FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE
# Seconds a break may take to arrive after the test's go.
DEADLINE = 20


def catch_breaks(conn, session):
    return harness.catch_breaks(conn, session, LeaseBreakAck)


def next_lease_break(req):
    """(flags, key, current, new) of the next lease break notification (2.2.23.2)."""
    if not req.response_event.wait(DEADLINE):
        raise AssertionError("no lease break notification")
    req.response_event.clear()
    body = req.response["data"].get_value()
    size = struct.unpack_from("<H", body, 0)[0]
    if size != 44:
        raise AssertionError(f"a break of structure size {size}, not a lease break")
    flags = struct.unpack_from("<I", body, 4)[0]
    key = body[8:24]
    current, new = struct.unpack_from("<II", body, 24)
    return flags, key, current, new


def expect_data_break(breaks, key):
    """The next lease break is lease `key`'s RWH -> H (a data change), asking for an
    acknowledgement."""
    flags, got_key, current, new = next_lease_break(breaks)
    if got_key != key or current != LEASE_R | LEASE_W | LEASE_H or new != LEASE_H:
        raise AssertionError(f"break {current:#x} -> {new:#x} (key ok: {got_key == key}) where RWH -> H was due")
    if not flags & ACK_REQUIRED:
        raise AssertionError("a break from RWH must ask for an acknowledgement")


def leased_open(tree, name, key):
    ctx = SMB2CreateContextRequest()
    ctx["buffer_name"] = CreateContextName.SMB2_CREATE_REQUEST_LEASE
    ctx["buffer_data"] = key + struct.pack("<IIQ", LEASE_R | LEASE_W | LEASE_H, 0, 0)
    f = Open(tree, name)
    out = f.create(
        ImpersonationLevel.Impersonation,
        RW,
        FileAttributes.FILE_ATTRIBUTE_NORMAL,
        SHARE_ALL,
        CreateDisposition.FILE_OVERWRITE_IF,
        CreateOptions.FILE_NON_DIRECTORY_FILE,
        create_contexts=[ctx],
        oplock_level=RequestedOplockLevel.SMB2_OPLOCK_LEVEL_LEASE,
    )
    state = None
    for c in out or []:
        if type(c).__name__ in ("SMB2CreateResponseLease", "SMB2CreateResponseLeaseV2"):
            state = struct.unpack_from("<I", c.pack(), 16)[0]
    if state != LEASE_R | LEASE_W | LEASE_H:
        raise AssertionError(f"lease state {state!r} granted where RWH was asked")
    return f


NAMES = CompletionFilter.FILE_NOTIFY_CHANGE_FILE_NAME | CompletionFilter.FILE_NOTIFY_CHANGE_DIR_NAME
STATUS_NOTIFY_ENUM_DIR = 0x0000010C
ADDED, RENAMED_OLD_NAME, RENAMED_NEW_NAME = 1, 4, 5


def open_dir(tree, path, disposition):
    d = Open(tree, path)
    d.create(
        ImpersonationLevel.Impersonation,
        DirectoryAccessMask.FILE_LIST_DIRECTORY | DirectoryAccessMask.FILE_READ_ATTRIBUTES,
        FileAttributes.FILE_ATTRIBUTE_DIRECTORY,
        SHARE_ALL,
        disposition,
        CreateOptions.FILE_DIRECTORY_FILE,
    )
    return d


def watch(d, tree_too, completion_filter=NAMES):
    """Starts a CHANGE_NOTIFY on `d` (names, unless `completion_filter` says otherwise) and
    returns once the server holds it: its interim STATUS_PENDING answer (sent after the watch
    is registered) has arrived, or its final one."""
    w = FileSystemWatcher(d)
    w.start(completion_filter, flags=ChangeNotifyFlags.SMB2_WATCH_TREE if tree_too else 0, output_buffer_length=4096)
    until = time.monotonic() + DEADLINE
    while w._request.async_id is None and not w._request.response_event.is_set():
        if time.monotonic() > until:
            raise AssertionError("CHANGE_NOTIFY got no interim answer within the deadline")
        time.sleep(0.01)
    return w


def wait_answer(w):
    w._t_on_response.join(DEADLINE)
    if w._t_on_response.is_alive():
        raise AssertionError("CHANGE_NOTIFY not answered within the deadline")
    return w._request.response["status"].get_value()


def changes(w):
    status = wait_answer(w)
    if status != 0:
        raise AssertionError(f"CHANGE_NOTIFY answered {status:#x} where changes were due")
    return [(a["action"].get_value(), a["file_name"].get_value()) for a in w.result]


def say(line):
    print(line, flush=True)


def wait_go():
    if not sys.stdin.readline():
        raise AssertionError("the test went away")


def main():
    if len(sys.argv) != 5:
        print(__doc__.strip().splitlines()[3].strip())
        sys.exit(2)
    port, share, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    conn, session, tree = harness.connect(
        port, share, user, password, Dialects.SMB_3_1_1, Ciphers.AES_128_GCM, client_guid=uuid.uuid4()
    )
    breaks = catch_breaks(conn, session)
    try:
        # 1-2: a write over NFS waits for the lease's write caching.
        key = uuid.uuid4().bytes
        f = leased_open(tree, "leased.dat", key)
        say("LEASED")
        wait_go()
        expect_data_break(breaks, key)
        say("BREAK")
        time.sleep(1)
        f.write(b"SMB-FLUSHED", 0)
        say("FLUSHED")
        ack = conn.send(LeaseBreakAck(key, LEASE_H), sid=session.session_id, tid=tree.tree_connect_id)
        conn.receive(ack, timeout=DEADLINE)
        say("ACKED")
        f.close()

        # 3-4: a remove over NFS waits for the handle caching.
        key2 = uuid.uuid4().bytes
        g = leased_open(tree, "named.dat", key2)
        say("LEASED2")
        wait_go()
        flags, got_key, current, new = next_lease_break(breaks)
        if got_key != key2 or new != LEASE_R | LEASE_W:
            raise AssertionError(f"break {current:#x} -> {new:#x} where RWH -> RW was due")
        say("BREAK2")
        time.sleep(1)
        g.close()
        say("CLOSED")

        # 5-7: NFS changes reach CHANGE_NOTIFY watches.
        d = open_dir(tree, "watched", CreateDisposition.FILE_CREATE)
        root = open_dir(tree, "", CreateDisposition.FILE_OPEN)
        w, wr = watch(d, False), watch(root, True)
        say("WATCHING")
        wait_go()
        got = changes(w)
        if got != [(ADDED, "fromnfs.txt")]:
            raise AssertionError(f"the watch on `watched` reported {got}")
        status = wait_answer(wr)
        if status != STATUS_NOTIFY_ENUM_DIR:
            raise AssertionError(f"the tree watch answered {status:#x}, not STATUS_NOTIFY_ENUM_DIR")
        say("NOTIFIED")
        w = watch(d, False)
        say("WATCHING2")
        wait_go()
        got = changes(w)
        if got != [(RENAMED_OLD_NAME, "fromnfs.txt"), (RENAMED_NEW_NAME, "renamed.txt")]:
            raise AssertionError(f"the watch on `watched` reported {got} for the rename")
        d.close()
        root.close()
        say("DONE")
    except AssertionError as e:
        say(f"FAILED: {e}")
        sys.exit(1)
    finally:
        conn.disconnect(True)


if __name__ == "__main__":
    main()
