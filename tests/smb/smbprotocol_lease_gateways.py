#!/usr/bin/env python3
"""A change through another gateway recalls an SMB lease held through this one, with Python's
smbprotocol 1.17.0 on the SMB side. Driven by actors/tests/lease_gateways.rs, which runs two
gateways on one PostgreSQL and writes over NFS through the other one:

    python3 tests/smb/smbprotocol_lease_gateways.py PORT SHARE USER PASSWORD PORT_B

Over SMB 3.1.1 (encrypted), connected to gateway A, the script
  1. creates `gw.dat` with an RWH lease, prints "LEASED" and waits for a line on stdin (the
     test then writes the file over NFS through gateway B, which must wait);
  2. receives the lease break (RWH to H, acknowledgement required), prints "BREAK", waits a
     second, writes what a caching client would have held back ("SMB-FLUSHED" at 0), prints
     "FLUSHED", acknowledges the break to H, prints "ACKED" and closes the file;
  3. creates `silent.dat` with an RWH lease under another key, prints "LEASED2" and waits for
     a line (the test writes it through B);
  4. receives the break, prints "BREAK2" and never acknowledges it; waits for a line (the
     test says B's write finished, after the break timed out) and closes;
  5. creates `smbgw.dat` with an RWH lease through A, then, on a second connection to gateway
     B (PORT_B), opens it for reading and writing in a thread: B must answer only after the
     lease through A broke (RWH to H) and was acknowledged; the script checks the open through
     B is still waiting when the break arrives, writes "A-FLUSHED" through A, acknowledges,
     and checks the open through B then completes and reads "A-FLUSHED"; prints "DONE".
Exits 1 when a check failed, 2 when smbprotocol is missing.
"""

import sys
import threading
import time
import uuid

try:
    from smbprotocol.connection import Ciphers, Dialects
    from smbprotocol.open import (
        CreateDisposition,
        CreateOptions,
        FileAttributes,
        ImpersonationLevel,
        Open,
        RequestedOplockLevel,
    )

    import harness
    from smbprotocol_lease_nfs import (
        RW,
        SHARE_ALL,
        LEASE_H,
        LeaseBreakAck,
        catch_breaks,
        expect_data_break,
        leased_open,
        say,
        wait_go,
    )
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"smbprotocol_lease_gateways.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)


def main():
    if len(sys.argv) != 6:
        print(__doc__.strip().splitlines()[5].strip())
        sys.exit(2)
    port, share, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    port_b = int(sys.argv[5])
    conn, session, tree = harness.connect(
        port, share, user, password, Dialects.SMB_3_1_1, Ciphers.AES_128_GCM, client_guid=uuid.uuid4()
    )
    breaks = catch_breaks(conn, session)
    try:
        # 1-2: a write through the other gateway waits for the acknowledgement.
        key = uuid.uuid4().bytes
        f = leased_open(tree, "gw.dat", key)
        say("LEASED")
        wait_go()
        expect_data_break(breaks, key)
        say("BREAK")
        time.sleep(1)
        f.write(b"SMB-FLUSHED", 0)
        say("FLUSHED")
        ack = conn.send(LeaseBreakAck(key, LEASE_H), sid=session.session_id, tid=tree.tree_connect_id)
        conn.receive(ack, timeout=60)
        say("ACKED")
        f.close()

        # 3-4: a client that never acknowledges holds the write up to the break timeout only.
        key2 = uuid.uuid4().bytes
        g = leased_open(tree, "silent.dat", key2)
        say("LEASED2")
        wait_go()
        expect_data_break(breaks, key2)
        say("BREAK2")
        wait_go()
        g.close()

        # 5: an SMB open through B waits for the lease through A.
        key3 = uuid.uuid4().bytes
        h = leased_open(tree, "smbgw.dat", key3)
        conn_b, session_b, tree_b = harness.connect(
            port_b, share, user, password, Dialects.SMB_3_1_1, Ciphers.AES_128_GCM, client_guid=uuid.uuid4()
        )
        try:
            opened = {}

            def open_through_b():
                try:
                    o = Open(tree_b, "smbgw.dat")
                    o.create(
                        ImpersonationLevel.Impersonation,
                        RW,
                        FileAttributes.FILE_ATTRIBUTE_NORMAL,
                        SHARE_ALL,
                        CreateDisposition.FILE_OPEN,
                        CreateOptions.FILE_NON_DIRECTORY_FILE,
                        oplock_level=RequestedOplockLevel.SMB2_OPLOCK_LEVEL_NONE,
                    )
                    opened["open"] = o
                except Exception as e:  # reported by the main thread
                    opened["error"] = e

            t = threading.Thread(target=open_through_b, daemon=True)
            t.start()
            expect_data_break(breaks, key3)
            time.sleep(1)
            if not t.is_alive():
                raise AssertionError(f"the open through B finished before the break through A was acknowledged: {opened}")
            h.write(b"A-FLUSHED", 0)
            ack = conn.send(LeaseBreakAck(key3, LEASE_H), sid=session.session_id, tid=tree.tree_connect_id)
            conn.receive(ack, timeout=60)
            t.join(60)
            if t.is_alive() or "open" not in opened:
                raise AssertionError(f"the open through B did not complete after the acknowledgement: {opened}")
            got = opened["open"].read(0, 9)
            if got != b"A-FLUSHED":
                raise AssertionError(f"read {got!r} through B where A's flushed bytes were due")
            opened["open"].close()
        finally:
            conn_b.disconnect(True)
        h.close()
        say("DONE")
    except AssertionError as e:
        say(f"FAILED: {e}")
        sys.exit(1)
    finally:
        conn.disconnect(True)


if __name__ == "__main__":
    main()
