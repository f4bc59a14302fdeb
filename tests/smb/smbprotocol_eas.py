#!/usr/bin/env python3
"""SMB extended attributes (EAs) through a client nobody here wrote: Python smbprotocol's
high-level `smbclient` (setxattr / getxattr / listxattr / removexattr, which send
FileFullEaInformation SET_INFO and QUERY_INFO) against a server on 127.0.0.1.

    python3 tests/smb/smbprotocol_eas.py PORT SHARE USER PASSWORD

Creates a file, sets three EAs (one binary, one replaced later), lists and reads them back,
replaces one, replaces another through a name differing only in case, removes one, checks the
list again and that the removed EA no longer reads; then deletes the file. Prints `ok` or `FAIL ...`
and exits 1 on failure, 2 when smbprotocol is missing (ci/setup.sh installs it).
"""

import sys
import traceback
import uuid

try:
    import smbclient
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"smbprotocol_eas.py: cannot import smbclient ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)


def main():
    port, share, user, password = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    smbclient.ClientConfig(username=user, password=password, auth_protocol="ntlm")
    server = "127.0.0.1"
    smbclient.register_session(server, port=int(port), username=user, password=password,
                               auth_protocol="ntlm")
    path = rf"\\{server}\{share}\eas-{uuid.uuid4().hex[:8]}.txt"
    with smbclient.open_file(path, mode="w", port=int(port)) as f:
        f.write("data")
    try:
        smbclient.setxattr(path, b"user.colour", b"blue", port=int(port))
        smbclient.setxattr(path, b"BINARY", bytes(range(256)) * 4, port=int(port))
        smbclient.setxattr(path, b"gone", b"soon", port=int(port))
        names = sorted(smbclient.listxattr(path, port=int(port)))
        assert names == sorted([b"user.colour", b"BINARY", b"gone"]), names
        assert smbclient.getxattr(path, b"user.colour", port=int(port)) == b"blue"
        assert smbclient.getxattr(path, b"BINARY", port=int(port)) == bytes(range(256)) * 4
        # Setting a name that differs only in case replaces the EA (EA names compare ignoring
        # case); the first spelling stays, as Samba keeps it.
        smbclient.setxattr(path, b"binary", b"small", port=int(port))
        assert smbclient.getxattr(path, b"BINARY", port=int(port)) == b"small"
        smbclient.setxattr(path, b"user.colour", b"green", port=int(port))
        assert smbclient.getxattr(path, b"user.colour", port=int(port)) == b"green"
        smbclient.removexattr(path, b"gone", port=int(port))
        names = sorted(smbclient.listxattr(path, port=int(port)))
        assert names == sorted([b"user.colour", b"BINARY"]), names
        try:
            smbclient.getxattr(path, b"gone", port=int(port))
        except Exception:  # noqa: BLE001 - any refusal is right; a value is not
            pass
        else:
            raise AssertionError("a removed EA still reads")
    finally:
        smbclient.remove(path, port=int(port))


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001 - report everything, fail loudly
        print("FAIL")
        traceback.print_exc()
        sys.exit(1)
    print("ok")
