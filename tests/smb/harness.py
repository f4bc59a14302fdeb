"""What the smbprotocol test scripts share: a signed (or encrypted) connection, session and
tree against a server on 127.0.0.1, and the loop that runs each case of a script and reports it.

Imported by the scripts beside it (Python puts a script's own directory first on sys.path).
"""

import sys
import traceback
import uuid

from smbprotocol.connection import Connection, Request
from smbprotocol.exceptions import SMBResponseException
from smbprotocol.header import SMB2HeaderRequest
from smbprotocol.open import SMB2LockElement
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
        try:
            if with_name:
                run_case(port, share, user, password, name, dialect, cipher)
            else:
                run_case(port, share, user, password, dialect, cipher)
            print(f"ok    {name}")
        except Exception as e:  # every case reports, one failure does not hide the others
            failed += 1
            print(f"FAIL  {name}: {type(e).__name__}: {e}")
            traceback.print_exc(file=sys.stdout)
        sys.stdout.flush()
    print(f"{len(cases) - failed}/{len(cases)} cases passed")
    sys.exit(1 if failed else 0)
