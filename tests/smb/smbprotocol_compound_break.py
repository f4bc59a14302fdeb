#!/usr/bin/env python3
"""A compound whose CREATE waits for an oplock break, with Python's smbprotocol 1.17.0
against a server on 127.0.0.1.

    python3 tests/smb/smbprotocol_compound_break.py PORT SHARE USER PASSWORD

For SMB 2.1 (signed) and 3.1.1 (encrypted), on ONE connection (as smbtorture's
compound.compound-break does, so the break goes to the connection that waits):

  1. open `f` with a batch oplock;
  2. send the compound [CREATE `f` (no oplock), QUERY_INFO related (FileStandardInformation),
     CLOSE related]: the CREATE has to wait for the break, so it answers STATUS_PENDING;
  3. the break notification arrives on the same connection while the compound waits, and
     the connection still serves other requests (an ECHO);
  4. acknowledge the break to level II: the CREATE succeeds, then the QUERY_INFO and CLOSE
     after it run on its FileId and succeed;
  5. the same compound again, with the break left unacknowledged and the CREATE cancelled:
     the CREATE and the related elements after it answer STATUS_CANCELLED.

smbprotocol has no oplock break handling: a break notification (MessageId 0xFFFF...FFFF) is
caught by a placeholder request registered under that id.

Prints one line per case and exits 1 when any case failed, 2 when smbprotocol is missing
(install: pip install smbprotocol==1.17.0; ci/setup.sh does).
"""

import struct
import sys
import uuid

try:
    from smbprotocol.connection import Ciphers, Dialects
    from smbprotocol.header import Commands
    from smbprotocol.open import (
        CloseFlags,
        CreateDisposition,
        CreateOptions,
        FileAttributes,
        FilePipePrinterAccessMask,
        ImpersonationLevel,
        Open,
        RequestedOplockLevel,
        ShareAccess,
        SMB2CloseRequest,
        SMB2CreateRequest,
        SMB2QueryInfoRequest,
    )
    from smbprotocol.exceptions import SMBResponseException
    from smbprotocol.file_info import FileInformationClass, InfoType

    import harness
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"smbprotocol_compound_break.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

STATUS_SUCCESS = 0
STATUS_PENDING = 0x00000103
STATUS_CANCELLED = 0xC0000120
RELATED_FILE = b"\xff" * 16
SHARE_ALL = ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE
# Seconds any answer may take.
DEADLINE = 10

CASES = [
    ("2.1", Dialects.SMB_2_1_0, None),
    ("3.1.1 AES-128-GCM", Dialects.SMB_3_1_1, Ciphers.AES_128_GCM),
]


class OplockBreakAck:
    """OPLOCK_BREAK acknowledgement ([MS-SMB2] 2.2.24.1), which smbprotocol lacks."""

    COMMAND = Commands.SMB2_OPLOCK_BREAK

    def __init__(self, level, file_id):
        self.b = struct.pack("<HBBI", 24, level, 0, 0) + file_id

    def pack(self):
        return self.b

    def __len__(self):
        return len(self.b)


def connect(port, share, user, password, dialect, cipher):
    return harness.connect(port, share, user, password, dialect, cipher)


def catch_breaks(conn, session):
    return harness.catch_breaks(conn, session, OplockBreakAck)


def next_break(req):
    if not req.response_event.wait(DEADLINE):
        raise AssertionError("no oplock break notification while the compound waits")
    req.response_event.clear()
    body = req.response["data"].get_value()
    level = body[2]
    file_id = body[8:24]
    return level, file_id


def batch_open(tree, name):
    f = Open(tree, name)
    f.create(
        ImpersonationLevel.Impersonation,
        FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
        FileAttributes.FILE_ATTRIBUTE_NORMAL,
        SHARE_ALL,
        CreateDisposition.FILE_OPEN_IF,
        CreateOptions.FILE_NON_DIRECTORY_FILE,
        oplock_level=RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH,
    )
    if f.oplock_level != RequestedOplockLevel.SMB2_OPLOCK_LEVEL_BATCH:
        raise AssertionError(f"batch oplock not granted (level {f.oplock_level:#x})")
    return f


def send_compound(conn, session, tree, name):
    create = SMB2CreateRequest()
    create["requested_oplock_level"] = RequestedOplockLevel.SMB2_OPLOCK_LEVEL_NONE
    create["impersonation_level"] = ImpersonationLevel.Impersonation
    # Not an attribute-only open (those break no oplock): it reads EAs too.
    create["desired_access"] = (
        FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
        | FilePipePrinterAccessMask.FILE_READ_EA
        | FilePipePrinterAccessMask.SYNCHRONIZE
    )
    create["file_attributes"] = FileAttributes.FILE_ATTRIBUTE_NORMAL
    create["share_access"] = SHARE_ALL
    create["create_disposition"] = CreateDisposition.FILE_OPEN
    create["create_options"] = CreateOptions.FILE_NON_DIRECTORY_FILE
    create["buffer_path"] = name.encode("utf-16-le")
    query = SMB2QueryInfoRequest()
    query["info_type"] = InfoType.SMB2_0_INFO_FILE
    query["file_info_class"] = FileInformationClass.FILE_STANDARD_INFORMATION
    query["output_buffer_length"] = 4096
    query["file_id"] = RELATED_FILE
    close = SMB2CloseRequest()
    close["flags"] = CloseFlags.SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB
    close["file_id"] = RELATED_FILE
    return conn.send_compound([create, query, close], session.session_id, tree.tree_connect_id, related=True)


def final_status(conn, req):
    """The final status, whatever it is (receive() raises on errors)."""
    try:
        conn.receive(req, timeout=DEADLINE, wait=True)
    except SMBResponseException:
        pass
    return req.response["status"].get_value()


def wait_pending(req):
    if not req.response_event.wait(DEADLINE):
        raise AssertionError("no answer to the waiting CREATE")
    st = req.response["status"].get_value()
    if st != STATUS_PENDING or not req.async_id:
        raise AssertionError(f"the CREATE answered {st:#x} where STATUS_PENDING with an AsyncId was due")


def run_case(port, share, user, password, dialect, cipher):
    conn, session, tree = connect(port, share, user, password, dialect, cipher)
    name = f"cbreak-{uuid.uuid4().hex[:8]}.txt"
    breaks = catch_breaks(conn, session)
    try:
        # 1-4: the compound waits, the break comes, the acknowledgement lets it run.
        holder = batch_open(tree, name)
        reqs = send_compound(conn, session, tree, name)
        level, file_id = next_break(breaks)
        if level != RequestedOplockLevel.SMB2_OPLOCK_LEVEL_II:
            raise AssertionError(f"break to level {level:#x} where level II was due")
        if file_id != holder.file_id:
            raise AssertionError("the break names another FileId")
        wait_pending(reqs[0])
        if reqs[1].response is not None or reqs[2].response is not None:
            raise AssertionError("elements after the waiting CREATE answered before it ended")
        conn.echo(sid=session.session_id, timeout=DEADLINE)
        ack = conn.send(OplockBreakAck(level, file_id), sid=session.session_id, tid=tree.tree_connect_id)
        got = [final_status(conn, r) for r in [ack] + reqs]
        if got != [STATUS_SUCCESS] * 4:
            raise AssertionError("acknowledgement, CREATE, QUERY_INFO, CLOSE answered " + ", ".join(f"{s:#x}" for s in got))
        holder.close()

        # 5: the waiting CREATE cancelled: the rest of its compound is cancelled too.
        holder = batch_open(tree, name)
        reqs = send_compound(conn, session, tree, name)
        level, file_id = next_break(breaks)
        wait_pending(reqs[0])
        reqs[0].cancel()
        got = [final_status(conn, r) for r in reqs]
        if got != [STATUS_CANCELLED] * 3:
            raise AssertionError("cancelled CREATE, QUERY_INFO, CLOSE answered " + ", ".join(f"{s:#x}" for s in got))
        ack = conn.send(OplockBreakAck(level, file_id), sid=session.session_id, tid=tree.tree_connect_id)
        final_status(conn, ack)
        holder.close()
    finally:
        try:
            f = Open(tree, name)
            f.create(
                ImpersonationLevel.Impersonation,
                FilePipePrinterAccessMask.DELETE,
                FileAttributes.FILE_ATTRIBUTE_NORMAL,
                SHARE_ALL,
                CreateDisposition.FILE_OPEN,
                CreateOptions.FILE_NON_DIRECTORY_FILE | CreateOptions.FILE_DELETE_ON_CLOSE,
            )
            f.close()
        except Exception:  # cleanup of a failed case: what is left does not matter
            pass
        conn.disconnect(True)


def main():
    harness.run_cases(__doc__, 3, CASES, run_case)


if __name__ == "__main__":
    main()
