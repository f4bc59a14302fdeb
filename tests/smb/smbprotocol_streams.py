#!/usr/bin/env python3
"""SMB named streams (alternate data streams) through a client nobody here wrote: Python
smbprotocol's high-level `smbclient` (open_file on `file:stream`, liststreams, remove) against a
server on 127.0.0.1.

    python3 tests/smb/smbprotocol_streams.py PORT SHARE USER PASSWORD

Writes a file and a named stream of it, reads the stream back through another case of its
name, lists the streams (FileStreamInformation: `::$DATA` and the named one with their sizes),
creates a stream of a file that does not exist yet (the file appears, empty), fills a stream to
64 KiB and checks one byte more is refused with STATUS_DISK_FULL, gives a directory a stream,
renames a stream (`:new`), deletes a stream (the file and its other streams stay), then deletes the file and checks that a
new file of the same name has no streams. Prints `ok` or `FAIL ...` and exits 1 on failure, 2
when smbprotocol is missing (ci/setup.sh installs it).
"""

import sys
import traceback
import uuid

try:
    import smbclient
    from smbclient._io import SMBFileTransaction, SMBRawIO, set_info
    from smbprotocol.exceptions import SMBException
    from smbprotocol.file_info import FileRenameInformation
    from smbprotocol.open import FilePipePrinterAccessMask
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"smbprotocol_streams.py: cannot import smbclient ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

STATUS_DISK_FULL = 0xC000007F
STATUS_OBJECT_NAME_NOT_FOUND = 0xC0000034
STREAM_MAX = 64 * 1024


def status_of(e):
    """The NTSTATUS an smbclient/smbprotocol exception carries, if any."""
    for attr in ("ntstatus", "status"):
        v = getattr(e, attr, None)
        if isinstance(v, int):
            return v
    return None


def assert_missing(path, port, what):
    """Opening `path` must fail with OBJECT_NAME_NOT_FOUND."""
    try:
        read(path, port)
    except (OSError, SMBException) as e:
        assert status_of(e) == STATUS_OBJECT_NAME_NOT_FOUND, f"{what}: {e!r}"
    else:
        raise AssertionError(what)


def rename_stream(path, new, port):
    """Renames the stream `path` names to `new` (FileRenameInformation with `:new:$DATA`, the
    form Windows takes; smbclient.rename sends a full path)."""
    with SMBRawIO(path, mode="r", desired_access=FilePipePrinterAccessMask.DELETE,
                  share_access="rwd", port=port) as raw:
        with SMBFileTransaction(raw) as t:
            info = FileRenameInformation()
            info["replace_if_exists"] = False
            info["file_name"] = f":{new}:$DATA"
            set_info(t, info)


def streams(path, port):
    return {s.name: s.size for s in smbclient.liststreams(path, port=port)}


def write(path, data, port):
    # buffering=0: one WRITE per call, so the refused write is the one this script makes.
    with smbclient.open_file(path, mode="wb", buffering=0, port=port) as f:
        n = f.write(data)
        assert n == len(data), (path, n, len(data))


def read(path, port):
    with smbclient.open_file(path, mode="rb", port=port) as f:
        return f.read()


def main():
    port, share, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
    server = "127.0.0.1"
    smbclient.register_session(server, port=port, username=user, password=password,
                               auth_protocol="ntlm")
    tag = uuid.uuid4().hex[:8]
    base = rf"\\{server}\{share}\streams-{tag}.txt"
    fresh = rf"\\{server}\{share}\streams-new-{tag}.txt"
    folder = rf"\\{server}\{share}\streams-dir-{tag}"
    try:
        write(base, b"base data", port)
        write(base + ":Colour", b"blue stream", port)
        # Stream names are found ignoring case and keep the spelling they were made with.
        assert read(base + ":colour:$DATA", port) == b"blue stream"
        assert read(base, port) == b"base data", "the stream changed the file's own data"
        assert streams(base, port) == {"::$DATA": 9, ":Colour:$DATA": 11}, streams(base, port)

        # A stream of a file that does not exist makes the file (empty).
        write(fresh + ":s", b"x", port)
        assert smbclient.stat(fresh, port=port).st_size == 0
        assert read(fresh + ":s", port) == b"x"

        # Up to 64 KiB fits; one byte more is a full disk, as Samba's streams_xattr answers.
        write(base + ":big", b"b" * STREAM_MAX, port)
        assert streams(base, port)[":big:$DATA"] == STREAM_MAX
        try:
            write(base + ":big", b"b" * (STREAM_MAX + 1), port)
        except (OSError, SMBException) as e:
            assert status_of(e) == STATUS_DISK_FULL, f"expected DISK_FULL, got {e!r}"
        else:
            raise AssertionError("a stream of 64 KiB + 1 was written")

        # Directories have named streams too, and no `::$DATA`.
        smbclient.mkdir(folder, port=port)
        write(folder + ":note", b"on a directory", port)
        assert read(folder + ":note", port) == b"on a directory"
        assert streams(folder, port) == {":note:$DATA": 14}, streams(folder, port)

        # A stream renamed within its file keeps its data under the new name only.
        write(base + ":old", b"renamed", port)
        rename_stream(base + ":old", "New", port)
        assert read(base + ":new", port) == b"renamed"
        assert_missing(base + ":old", port, "a renamed stream still opens by its old name")
        smbclient.remove(base + ":New", port=port)

        # Deleting a stream leaves the file and its other streams.
        smbclient.remove(base + ":COLOUR", port=port)
        assert set(streams(base, port)) == {"::$DATA", ":big:$DATA"}, streams(base, port)
        assert_missing(base + ":Colour", port, "a deleted stream still opens")
        assert read(base, port) == b"base data"

        # Deleting the file deletes its streams: a new file of that name has none.
        smbclient.remove(base, port=port)
        assert_missing(base + ":big", port, "a stream of a deleted file still opens")
        write(base, b"again", port)
        assert streams(base, port) == {"::$DATA": 5}, streams(base, port)
    finally:
        for p in (base, fresh):
            try:
                smbclient.remove(p, port=port)
            except OSError:
                pass
        try:
            smbclient.rmdir(folder, port=port)
        except OSError:
            pass


if __name__ == "__main__":
    try:
        main()
    except Exception:  # noqa: BLE001 - report any failure with its trace
        traceback.print_exc()
        print("FAIL")
        sys.exit(1)
    print("ok")
