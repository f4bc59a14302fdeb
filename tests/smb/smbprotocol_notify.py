#!/usr/bin/env python3
"""CHANGE_NOTIFY with Python's smbprotocol 1.17.0 against a server on 127.0.0.1.

    python3 tests/smb/smbprotocol_notify.py PORT SHARE USER PASSWORD

For SMB 2.1 (signed) and 3.1.1 (encrypted), two connections A and B, each with its own
session: A opens a new directory and watches it (WATCH_TREE, file and directory names), then

  1. the watch is pending (an interim STATUS_PENDING answer carried an AsyncId) and A's
     connection keeps serving meanwhile (A lists the share's root);
  2. B creates `a.txt` in the directory: A's watch answers ADDED a.txt;
  3. B makes `sub` and `sub\\c.txt` while no watch is pending: the next watch answers both at
     once (buffered), the second as `sub\\c.txt` (relative to the watched directory);
  4. B deletes `a.txt`: REMOVED a.txt;
  5. a watch A cancels answers STATUS_CANCELLED;
  6. a watch pending when A closes the directory answers STATUS_NOTIFY_CLEANUP.

Prints one line per case and exits 1 when any case failed, 2 when smbprotocol is missing
(install: pip install smbprotocol==1.17.0; ci/setup.sh does).
"""

import sys
import time
import uuid

try:
    from smbprotocol.change_notify import (
        ChangeNotifyFlags,
        CompletionFilter,
        FileAction,
        FileSystemWatcher,
    )
    from smbprotocol.connection import Ciphers, Dialects
    from smbprotocol.open import (
        CreateDisposition,
        CreateOptions,
        DirectoryAccessMask,
        FileAttributes,
        FilePipePrinterAccessMask,
        ImpersonationLevel,
        Open,
        ShareAccess,
    )

    import harness
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"smbprotocol_notify.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

STATUS_CANCELLED = 0xC0000120
STATUS_NOTIFY_CLEANUP = 0x0000010B
SHARE_ALL = ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE
NAMES = CompletionFilter.FILE_NOTIFY_CHANGE_FILE_NAME | CompletionFilter.FILE_NOTIFY_CHANGE_DIR_NAME
# Seconds a change may take to reach the watch, and a pending watch is watched for.
DEADLINE = 10

CASES = [
    ("2.1", Dialects.SMB_2_1_0, None),
    ("3.1.1 AES-128-GCM", Dialects.SMB_3_1_1, Ciphers.AES_128_GCM),
]


def connect(port, share, user, password, dialect, cipher):
    conn, _session, tree = harness.connect(port, share, user, password, dialect, cipher)
    return conn, tree


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


def make_file(tree, path, delete=False):
    f = Open(tree, path)
    f.create(
        ImpersonationLevel.Impersonation,
        FilePipePrinterAccessMask.DELETE if delete else FilePipePrinterAccessMask.GENERIC_WRITE,
        FileAttributes.FILE_ATTRIBUTE_NORMAL,
        SHARE_ALL,
        CreateDisposition.FILE_OPEN if delete else CreateDisposition.FILE_CREATE,
        CreateOptions.FILE_NON_DIRECTORY_FILE | (CreateOptions.FILE_DELETE_ON_CLOSE if delete else 0),
    )
    f.close()


def watch(d):
    w = FileSystemWatcher(d)
    w.start(NAMES, flags=ChangeNotifyFlags.SMB2_WATCH_TREE, output_buffer_length=4096)
    return w


def wait_for_pending(w):
    """Until the server's interim answer gave the request an AsyncId."""
    end = time.monotonic() + DEADLINE
    while not w._request.async_id and w._request.response is None:
        if time.monotonic() > end:
            raise AssertionError("no interim STATUS_PENDING answer for CHANGE_NOTIFY")
        time.sleep(0.01)
    if not w._request.async_id:
        raise AssertionError("CHANGE_NOTIFY answered at once with nothing to report")


def changes(w):
    w._t_on_response.join(DEADLINE)
    if w._t_on_response.is_alive():
        raise AssertionError("CHANGE_NOTIFY not answered within the deadline")
    return [(a["action"].get_value(), a["file_name"].get_value()) for a in w.result]


def final_status(w):
    w._t_on_response.join(DEADLINE)
    if w._t_on_response.is_alive():
        raise AssertionError("CHANGE_NOTIFY not answered within the deadline")
    return w._request.response["status"].get_value()


def run_case(port, share, user, password, dialect, cipher):
    conn_a, tree_a = connect(port, share, user, password, dialect, cipher)
    conn_b, tree_b = connect(port, share, user, password, dialect, cipher)
    base = f"notify-{uuid.uuid4().hex[:8]}"
    try:
        d = open_dir(tree_a, base, CreateDisposition.FILE_CREATE)

        # 1. Pending, and the connection keeps serving.
        w = watch(d)
        wait_for_pending(w)
        open_dir(tree_a, "", CreateDisposition.FILE_OPEN).close()
        if w._request.response is not None and w._request.response["status"].get_value() != 0x103:
            raise AssertionError("the watch answered before any change")

        # 2. A change from the other connection arrives.
        make_file(tree_b, rf"{base}\a.txt")
        got = changes(w)
        if got != [(FileAction.FILE_ACTION_ADDED, "a.txt")]:
            raise AssertionError(f"after creating a.txt: {got}")

        # 3. Buffered while no watch is pending, answered at once, relative names.
        open_dir(tree_b, rf"{base}\sub", CreateDisposition.FILE_CREATE).close()
        make_file(tree_b, rf"{base}\sub\c.txt")
        w = watch(d)
        got = changes(w)
        want = [(FileAction.FILE_ACTION_ADDED, "sub"), (FileAction.FILE_ACTION_ADDED, "sub\\c.txt")]
        if got != want:
            raise AssertionError(f"buffered changes: {got}, wanted {want}")

        # 4. A removal.
        w = watch(d)
        wait_for_pending(w)
        make_file(tree_b, rf"{base}\a.txt", delete=True)
        got = changes(w)
        if got != [(FileAction.FILE_ACTION_REMOVED, "a.txt")]:
            raise AssertionError(f"after deleting a.txt: {got}")

        # 5. CANCEL.
        w = watch(d)
        wait_for_pending(w)
        w.cancel()
        status = final_status(w)
        if status != STATUS_CANCELLED:
            raise AssertionError(f"cancelled watch answered {status:#x}")

        # 6. Closing the directory ends a pending watch.
        w = watch(d)
        wait_for_pending(w)
        d.close()
        status = final_status(w)
        if status != STATUS_NOTIFY_CLEANUP:
            raise AssertionError(f"watch on a closed handle answered {status:#x}")
    finally:
        for path, is_dir in [(rf"{base}\sub\c.txt", False), (rf"{base}\sub", True), (base, True)]:
            try:
                o = Open(tree_b, path)
                o.create(
                    ImpersonationLevel.Impersonation,
                    FilePipePrinterAccessMask.DELETE,
                    FileAttributes.FILE_ATTRIBUTE_NORMAL,
                    SHARE_ALL,
                    CreateDisposition.FILE_OPEN,
                    CreateOptions.FILE_DELETE_ON_CLOSE
                    | (CreateOptions.FILE_DIRECTORY_FILE if is_dir else CreateOptions.FILE_NON_DIRECTORY_FILE),
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
