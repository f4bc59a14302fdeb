#!/usr/bin/env python3
"""Share modes across gateways ([MS-FSA] 2.1.5.1.2): handles open through one gateway refuse
conflicting opens through another on the same PostgreSQL, with Python's smbprotocol 1.17.0.
Run by actors/tests/lease_gateways.rs:

    python3 tests/smb/smbprotocol_sharemodes_gateways.py PORT_A SHARE USER PASSWORD PORT_B

Client A on gateway A, client B on gateway B, both SMB 3.1.1; one line per case:
  1. A opens `sm.dat` reading and writing, sharing reading only. Through B: an open for
     writing fails with STATUS_SHARING_VIOLATION (A does not share writing); an open for
     reading that shares everything succeeds; an open for reading that does not share
     writing fails (A writes); an attribute-only open that shares nothing succeeds (it takes
     no part in sharing). A closes: within a few seconds B's open for writing succeeds.
  2. The other way round: B holds `sm.dat` open for writing, sharing nothing; A's open for
     reading fails; B closes; A's open succeeds within a few seconds.
  3. A holds `smh.dat` with an RWH lease, sharing reading and writing (not deleting). B's
     open asking DELETE conflicts with it, so A's handle caching is recalled first: A gets a
     lease break that takes H (RWH -> RW), closes its handle (what a client does with a
     handle it kept only for reuse), and B's open then succeeds.
  4. A race: ROUNDS times, A and B open `race.dat` at the same moment, each for reading and
     writing and sharing nothing. Exactly one of the two opens succeeds and the other fails
     with STATUS_SHARING_VIOLATION (never both: the gateways claim share modes in one
     PostgreSQL transaction each); the winner closes, and the next round starts once each
     side can open the file again.
Exits 1 when a case failed, 2 when smbprotocol is missing.
"""

import struct
import sys
import threading
import time
import uuid

try:
    from smbprotocol.connection import Ciphers, Dialects
    from smbprotocol.exceptions import SMBResponseException
    from smbprotocol.open import (
        CreateDisposition,
        CreateOptions,
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
    print(f"smbprotocol_sharemodes_gateways.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

STATUS_SHARING_VIOLATION = 0xC0000043
READ = FilePipePrinterAccessMask.FILE_READ_DATA | FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
WRITE = FilePipePrinterAccessMask.FILE_WRITE_DATA | FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
RW = READ | WRITE
ATTRS = FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
DELETE = FilePipePrinterAccessMask.DELETE | FilePipePrinterAccessMask.FILE_READ_ATTRIBUTES
SR, SW, SD = ShareAccess.FILE_SHARE_READ, ShareAccess.FILE_SHARE_WRITE, ShareAccess.FILE_SHARE_DELETE
LEASE_R, LEASE_H, LEASE_W = 1, 2, 4
# Seconds a withdrawn handle may take to reach the other gateway; a break to arrive.
SETTLE = 10
DEADLINE = 20
ROUNDS = 20


def open_file(tree, name, access, share, contexts=None, disposition=CreateDisposition.FILE_OPEN_IF):
    f = Open(tree, name)
    f.create(
        ImpersonationLevel.Impersonation,
        access,
        FileAttributes.FILE_ATTRIBUTE_NORMAL,
        share,
        disposition,
        CreateOptions.FILE_NON_DIRECTORY_FILE,
        create_contexts=contexts or [],
        oplock_level=RequestedOplockLevel.SMB2_OPLOCK_LEVEL_LEASE if contexts else 0,
    )
    return f


def violation(what, tree, name, access, share):
    harness.refused(what, STATUS_SHARING_VIOLATION, lambda: open_file(tree, name, access, share))


def opens_within(what, tree, name, access, share):
    """The open succeeds within SETTLE seconds (the other gateway's withdrawal travels)."""
    until = time.monotonic() + SETTLE
    while True:
        try:
            return open_file(tree, name, access, share)
        except SMBResponseException as e:
            if e.status != STATUS_SHARING_VIOLATION or time.monotonic() > until:
                raise AssertionError(f"{what}: {e.status:#x}") from e
        time.sleep(0.2)


def main():
    if len(sys.argv) != 6:
        print(__doc__.strip().splitlines()[4].strip())
        sys.exit(2)
    port, share, user, password, port_b = (int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    conn_a, session_a, tree_a = harness.connect(port, share, user, password, Dialects.SMB_3_1_1, Ciphers.AES_128_GCM)
    conn_b, _, tree_b = harness.connect(port_b, share, user, password, Dialects.SMB_3_1_1, Ciphers.AES_128_GCM)
    failed = 0

    def case_a_denies():
        a = open_file(tree_a, "sm.dat", RW, SR)
        violation("B writes beside A sharing reading only", tree_b, "sm.dat", WRITE, SR | SW | SD)
        open_file(tree_b, "sm.dat", READ, SR | SW | SD).close()
        violation("B reads without sharing writing beside A writing", tree_b, "sm.dat", READ, SR)
        open_file(tree_b, "sm.dat", ATTRS, 0).close()
        a.close()
        opens_within("B writes after A closed", tree_b, "sm.dat", WRITE, SR | SW | SD).close()

    def case_b_denies():
        b = opens_within("B writes sharing nothing", tree_b, "sm.dat", WRITE, 0)
        violation("A reads beside B sharing nothing", tree_a, "sm.dat", READ, SR | SW | SD)
        b.close()
        opens_within("A reads after B closed", tree_a, "sm.dat", READ, SR | SW | SD).close()

    def case_handle_caching():
        breaks = harness.catch_breaks(conn_a, session_a, LeaseBreakAck)
        key = uuid.uuid4().bytes
        a = open_file(tree_a, "smh.dat", RW, SR | SW, contexts=[harness.lease(key, LEASE_R | LEASE_W | LEASE_H)])
        result = {}

        def open_through_b():
            try:
                result["open"] = open_file(tree_b, "smh.dat", DELETE, SR | SW | SD)
            except Exception as e:  # reported below
                result["error"] = e

        t = threading.Thread(target=open_through_b)
        t.start()
        if not breaks.response_event.wait(DEADLINE):
            raise AssertionError("no lease break reached A")
        body = breaks.response["data"].get_value()
        current, new = struct.unpack_from("<II", body, 24)
        if body[8:24] != key or new & LEASE_H:
            raise AssertionError(f"break {current:#x} -> {new:#x} where handle caching was to go")
        a.close()
        t.join(DEADLINE)
        if t.is_alive():
            raise AssertionError("B's open still waits after A closed")
        if "error" in result:
            raise AssertionError(f"B's open after A closed: {result['error']}")
        result["open"].close()

    def case_race():
        wins = {"A": 0, "B": 0}
        for round_ in range(ROUNDS):
            for tree in (tree_a, tree_b):
                opens_within("the file is free again", tree, "race.dat", RW, SR | SW | SD).close()
            barrier = threading.Barrier(2)
            result = {}

            def race(side, tree):
                barrier.wait(DEADLINE)
                try:
                    result[side] = open_file(tree, "race.dat", RW, 0)
                except SMBResponseException as e:
                    result[side] = e.status

            threads = [threading.Thread(target=race, args=(s, t)) for s, t in (("A", tree_a), ("B", tree_b))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(DEADLINE)
            winners = [s for s, r in result.items() if isinstance(r, Open)]
            losers = {s: r for s, r in result.items() if not isinstance(r, Open)}
            for f in winners:
                result[f].close()
            if len(winners) != 1 or list(losers.values()) != [STATUS_SHARING_VIOLATION]:
                shown = {s: ("open" if isinstance(r, Open) else f"{r:#x}") for s, r in result.items()}
                raise AssertionError(f"round {round_}: {shown}; exactly one open was to succeed")
            wins[winners[0]] += 1
        print(f"  race: {ROUNDS} rounds, A won {wins['A']}, B won {wins['B']}")

    try:
        for name, case in [
            ("A's share modes refuse B's opens", case_a_denies),
            ("B's share modes refuse A's opens", case_b_denies),
            ("handle caching in the way is recalled", case_handle_caching),
            ("simultaneous conflicting opens: one wins", case_race),
        ]:
            if not harness.report(name, case):
                failed += 1
    finally:
        conn_a.disconnect(True)
        conn_b.disconnect(True)
    print(f"{4 - failed}/4 cases passed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
