"""What the smbprotocol test scripts share: a signed (or encrypted) connection, session and
tree against a server on 127.0.0.1, CREATE with durable-handle and lease contexts, and the loop
that runs each case of a script and reports it.

Imported by the scripts beside it (Python puts a script's own directory first on sys.path).
"""

import struct
import sys
import traceback
import uuid

from smbprotocol.connection import Connection, Request
from smbprotocol.exceptions import SMBResponseException
from smbprotocol.create_contexts import CreateContextName, SMB2CreateContextRequest
from smbprotocol.header import Commands, SMB2HeaderRequest
from smbprotocol.open import (
    CreateDisposition,
    CreateOptions,
    FileAttributes,
    FilePipePrinterAccessMask,
    ImpersonationLevel,
    Open,
    ShareAccess,
    SMB2LockElement,
)
from smbprotocol.session import Session
from smbprotocol.tree import TreeConnect


def connect(port, share, user, password, dialect, cipher, client_guid=None):
    """A new connection negotiating `dialect`, signing required; with `cipher`, that cipher
    preferred and encryption required by the session; with `client_guid`, that ClientGuid
    (a durable reconnect must present the one it opened with). Returns (connection, session,
    tree)."""
    conn = Connection(client_guid or uuid.uuid4(), "127.0.0.1", port, require_signing=True)
    if cipher is None:
        conn.connect(dialect=dialect, timeout=30)
    else:
        conn.connect(dialect=dialect, timeout=30, preferred_encryption_algos=[cipher])
    session = Session(conn, user, password, require_encryption=cipher is not None, auth_protocol="ntlm")
    session.connect()
    tree = TreeConnect(session, rf"\\127.0.0.1\{share}")
    tree.connect()
    return conn, session, tree


# The MessageId of oplock and lease break notifications ([MS-SMB2] 3.3.4.6, 3.3.4.7).
BREAK_ID = 0xFFFFFFFFFFFFFFFF


def catch_breaks(conn, session, message):
    """A placeholder request, registered under the break notifications' MessageId, that
    receives them (smbprotocol has no break handling); `message` is the acknowledgement class
    the script sends. Wait on its `response_event`, read its `response`, clear the event."""
    hdr = SMB2HeaderRequest()
    hdr["message_id"] = BREAK_ID
    req = Request(hdr, message, conn, session_id=session.session_id)
    conn.outstanding_requests[BREAK_ID] = req
    return req


class LeaseBreakAck:
    """LEASE_BREAK acknowledgement ([MS-SMB2] 2.2.24.2), which smbprotocol lacks."""

    COMMAND = Commands.SMB2_OPLOCK_BREAK

    def __init__(self, key, state):
        self.b = struct.pack("<HHI", 36, 0, 0) + key + struct.pack("<IQ", state, 0)

    def pack(self):
        return self.b

    def __len__(self):
        return len(self.b)


def element(offset, length, flags):
    """One SMB2 LOCK element."""
    e = SMB2LockElement()
    e["offset"] = offset
    e["length"] = length
    e["flags"] = flags
    return e


def refused(what, status, call):
    """`call` must fail with `status`."""
    try:
        call()
    except SMBResponseException as e:
        if e.status != status:
            raise AssertionError(f"{what}: {e.status:#x}, wanted {status:#x}") from e
        return
    raise AssertionError(f"{what}: succeeded, wanted {status:#x}")


def report(name, step):
    """Runs one case, `step()`, and prints `ok    NAME` or `FAIL  NAME: ...` with the
    traceback; whether it passed. Every case reports: one failure does not hide the others."""
    try:
        step()
        print(f"ok    {name}")
        return True
    except Exception as e:
        print(f"FAIL  {name}: {type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stdout)
        return False
    finally:
        sys.stdout.flush()


def run_cases(doc, usage_line, cases, run_case, with_name=False):
    """The scripts' main: PORT SHARE USER PASSWORD from argv (else prints line `usage_line` of
    `doc` and exits 2), then `run_case(port, share, user, password, [name,] dialect, cipher)`
    for each (name, dialect, cipher) of `cases`, one line each; exits 1 when any case failed."""
    if len(sys.argv) != 5:
        print(doc.strip().splitlines()[usage_line].strip())
        sys.exit(2)
    port, share, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    failed = 0
    for name, dialect, cipher in cases:
        args = (name, dialect, cipher) if with_name else (dialect, cipher)
        if not report(name, lambda: run_case(port, share, user, password, *args)):
            failed += 1
    print(f"{len(cases) - failed}/{len(cases)} cases passed")
    sys.exit(1 if failed else 0)


SHARE_ALL = ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE
RW_DELETE = FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE | FilePipePrinterAccessMask.DELETE


def context(name, data):
    """A CREATE context of `name` holding `data`."""
    c = SMB2CreateContextRequest()
    c["buffer_name"] = name
    c["buffer_data"] = data
    return c


def dhnq():
    """DHnQ: a v1 durable handle request."""
    return context(CreateContextName.SMB2_CREATE_DURABLE_HANDLE_REQUEST, b"\0" * 16)


def dh2q(create_guid, timeout_ms=0):
    """DH2Q: a v2 durable handle request with its CreateGuid and Timeout (0: the server's)."""
    return context(
        CreateContextName.SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2,
        struct.pack("<II8x", timeout_ms, 0) + create_guid,
    )


def dhnc(file_id):
    """DHnC: reconnect the v1 durable open `file_id`."""
    return context(CreateContextName.SMB2_CREATE_DURABLE_HANDLE_RECONNECT, file_id)


def dh2c(file_id, create_guid):
    """DH2C: reconnect the v2 durable open `file_id` created with `create_guid`."""
    return context(
        CreateContextName.SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2,
        file_id + create_guid + struct.pack("<I", 0),
    )


def lease(key, state):
    """A v1 RqLs context (32 bytes: key, state, flags, duration)."""
    return context(CreateContextName.SMB2_CREATE_REQUEST_LEASE, key + struct.pack("<IIQ", state, 0, 0))


def raw(ctx):
    """(name, data) of a response context smbprotocol parsed (it parses DHnQ, DH2Q, RqLs)."""
    if isinstance(ctx, bytes):
        return b"?", ctx
    names = {
        "SMB2CreateDurableHandleResponse": b"DHnQ",
        "SMB2CreateDurableHandleResponseV2": b"DH2Q",
        "SMB2CreateResponseLease": b"RqLs",
        "SMB2CreateResponseLeaseV2": b"RqLs",
    }
    return names.get(type(ctx).__name__, type(ctx).__name__.encode()), ctx.pack()


def create(tree, name, contexts, oplock, disposition=CreateDisposition.FILE_OPEN_IF, options=0, access=RW_DELETE):
    """Opens `name` (a file, shared with everyone) with `contexts` and `oplock`; returns the
    Open and its response contexts by name (see `raw`)."""
    f = Open(tree, name)
    out = f.create(
        ImpersonationLevel.Impersonation,
        access,
        FileAttributes.FILE_ATTRIBUTE_NORMAL,
        SHARE_ALL,
        disposition,
        CreateOptions.FILE_NON_DIRECTORY_FILE | options,
        create_contexts=contexts,
        oplock_level=oplock,
    )
    return f, {n: d for n, d in map(raw, out or [])}
