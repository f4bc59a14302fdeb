#!/usr/bin/env python3
"""CHANGE_NOTIFY through one gateway, fired by changes made through another gateway on the same
PostgreSQL database, with Python's smbprotocol 1.17.0. Driven by
actors/tests/notify_gateways.rs, which makes the changes over NFS through the other gateway:

    python3 tests/smb/smbprotocol_notify_gateways.py PORT SHARE USER PASSWORD

Over SMB 3.1.1 (encrypted) to gateway A the script
  1. creates the directory `watched`, watches it (file and directory names) and, on another
     handle, the share root with WATCH_TREE; prints "WATCHING" and waits for a line (the test
     then creates `watched/fromb.txt` through gateway B);
  2. checks that the watch on `watched` reports it ADDED and the tree watch on the root
     answers STATUS_NOTIFY_ENUM_DIR (a change from another gateway names the directory's
     inode, not its path below the tree watch's directory); prints "NOTIFIED";
  3. watches `watched` again, prints "WATCHING2" and waits (the test renames the file to
     `renamed.txt` through B); checks RENAMED_OLD_NAME fromb.txt, RENAMED_NEW_NAME
     renamed.txt;
  3b. watches `watched` through a new handle for attribute, size and last-write changes, prints "WATCHING-M" and
     waits (the test looks `renamed.txt` up and sets its mode through B, which announces the
     modification); checks MODIFIED renamed.txt; then again, prints "WATCHING-W" and waits
     (the test writes it through B, FILE_SYNC); checks MODIFIED renamed.txt;
  4. watches `watched` and, through a new handle, the root (WATCH_TREE), prints "WATCHING3" and waits (the test
     creates `top.txt` in the root, then removes `watched/renamed.txt`, through B); checks that
     the tree watch reports top.txt ADDED and the watch on `watched` renamed.txt REMOVED;
  5. watches `watched` again, prints "WATCHING4" and waits (the test restarts PostgreSQL, so
     gateway A's listener loses the changes committed meanwhile); checks that the watch
     answers STATUS_NOTIFY_ENUM_DIR; prints "DONE".
Exits 1 when a check failed, 2 when smbprotocol is missing.
"""

import sys
import uuid

try:
    from smbprotocol.connection import Ciphers, Dialects
    from smbprotocol.change_notify import CompletionFilter
    from smbprotocol.open import CreateDisposition

    import harness

    # The CHANGE_NOTIFY helpers the NFS-to-SMB test script already has.
    from smbprotocol_lease_nfs import (
        ADDED,
        RENAMED_NEW_NAME,
        RENAMED_OLD_NAME,
        STATUS_NOTIFY_ENUM_DIR,
        changes,
        open_dir,
        say,
        wait_answer,
        wait_go,
        watch,
    )
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"smbprotocol_notify_gateways.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

REMOVED = 2
MODIFIED = 3
MODIFIES = (
    CompletionFilter.FILE_NOTIFY_CHANGE_ATTRIBUTES
    | CompletionFilter.FILE_NOTIFY_CHANGE_SIZE
    | CompletionFilter.FILE_NOTIFY_CHANGE_LAST_WRITE
)


def expect(got, want, what):
    if got != want:
        raise AssertionError(f"{what}: reported {got}, not {want}")


def main():
    if len(sys.argv) != 5:
        print(__doc__.strip().splitlines()[4].strip())
        sys.exit(2)
    port, share, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    conn, session, tree = harness.connect(
        port, share, user, password, Dialects.SMB_3_1_1, Ciphers.AES_128_GCM, client_guid=uuid.uuid4()
    )
    try:
        d = open_dir(tree, "watched", CreateDisposition.FILE_CREATE)
        root = open_dir(tree, "", CreateDisposition.FILE_OPEN)

        # 1-2: a create through B.
        w, wr = watch(d, False), watch(root, True)
        say("WATCHING")
        wait_go()
        expect(changes(w), [(ADDED, "fromb.txt")], "the watch on `watched`, for B's create")
        status = wait_answer(wr)
        if status != STATUS_NOTIFY_ENUM_DIR:
            raise AssertionError(f"the tree watch answered {status:#x}, not STATUS_NOTIFY_ENUM_DIR")
        say("NOTIFIED")
        # The root's watch keeps buffering (B's rename below makes it overflow): step 4
        # watches the root through a new handle.
        root.close()

        # 3: a rename within the directory through B.
        w = watch(d, False)
        say("WATCHING2")
        wait_go()
        expect(
            changes(w),
            [(RENAMED_OLD_NAME, "fromb.txt"), (RENAMED_NEW_NAME, "renamed.txt")],
            "the watch on `watched`, for B's rename",
        )

        # 3b: B modifies the file: its mode, then its data. A handle of its own: a handle's
        # first CompletionFilter stays until it closes.
        dm = open_dir(tree, "watched", CreateDisposition.FILE_OPEN)
        w = watch(dm, False, MODIFIES)
        say("WATCHING-M")
        wait_go()
        expect(changes(w), [(MODIFIED, "renamed.txt")], "the watch on `watched`, for B's SETATTR")
        w = watch(dm, False, MODIFIES)
        say("WATCHING-W")
        wait_go()
        expect(changes(w), [(MODIFIED, "renamed.txt")], "the watch on `watched`, for B's WRITE")
        dm.close()

        # 4: a create in the tree watch's own directory, and a remove, through B.
        root = open_dir(tree, "", CreateDisposition.FILE_OPEN)
        w, wr = watch(d, False), watch(root, True)
        say("WATCHING3")
        wait_go()
        expect(changes(wr), [(ADDED, "top.txt")], "the tree watch on the root, for B's create")
        expect(changes(w), [(REMOVED, "renamed.txt")], "the watch on `watched`, for B's remove")

        # 5: the database restarts: what gateway A's listener missed makes the watch re-read.
        w = watch(d, False)
        say("WATCHING4")
        wait_go()
        status = wait_answer(w)
        if status != STATUS_NOTIFY_ENUM_DIR:
            raise AssertionError(
                f"after a database restart the watch answered {status:#x}, not STATUS_NOTIFY_ENUM_DIR"
            )
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
