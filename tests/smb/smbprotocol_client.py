#!/usr/bin/env python3
"""An SMB2/3 client nobody here wrote (Python's smbprotocol 1.17.0) against a server on 127.0.0.1.

    python3 tests/smb/smbprotocol_client.py PORT SHARE USER PASSWORD

For every dialect and, where the dialect negotiates one, every cipher, it opens its own
connection and session and, in the share: creates a file, writes 1 MiB of seeded pseudo-random
bytes, reads them back and compares, lists the directory (the file must be there), deletes the
file (delete-on-close) and checks the listing no longer has it.

  2.0.2, 2.1        signed (these dialects have no encryption)
  3.0, 3.0.2        encryption required; the cipher is always AES-128-CCM (no negotiation)
  3.1.1 x cipher    encryption required, the client offering only that cipher (AES-128-CCM,
                    AES-128-GCM, AES-256-CCM, AES-256-GCM) and checking the server chose it

Every reply after the session setup must be protected: encrypted (an SMB2 TRANSFORM message)
where encryption is required, signed otherwise. smbprotocol alone does not check this.

Prints one line per case (`ok` or `FAIL` with the exception) and exits 1 when any case failed,
2 when smbprotocol is missing (install: pip install smbprotocol==1.17.0; ci/setup.sh does).
"""

import random
import struct
import sys
import uuid

try:
    from smbprotocol.connection import Ciphers, Connection, Dialects
    from smbprotocol.open import (
        CreateDisposition,
        CreateOptions,
        DirectoryAccessMask,
        FileAttributes,
        FileInformationClass,
        FilePipePrinterAccessMask,
        ImpersonationLevel,
        Open,
        ShareAccess,
    )
    from smbprotocol.session import Session
    from smbprotocol.tree import TreeConnect

    import harness
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"smbprotocol_client.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

SIZE = 1 << 20

CASES = [
    ("2.0.2", Dialects.SMB_2_0_2, None),
    ("2.1", Dialects.SMB_2_1_0, None),
    ("3.0", Dialects.SMB_3_0_0, Ciphers.AES_128_CCM),
    ("3.0.2", Dialects.SMB_3_0_2, Ciphers.AES_128_CCM),
    ("3.1.1 AES-128-CCM", Dialects.SMB_3_1_1, Ciphers.AES_128_CCM),
    ("3.1.1 AES-128-GCM", Dialects.SMB_3_1_1, Ciphers.AES_128_GCM),
    ("3.1.1 AES-256-CCM", Dialects.SMB_3_1_1, Ciphers.AES_256_CCM),
    ("3.1.1 AES-256-GCM", Dialects.SMB_3_1_1, Ciphers.AES_256_GCM),
]


def list_names(tree, path):
    """The names in directory `path` of the share ("" is its root)."""
    d = Open(tree, path)
    d.create(
        ImpersonationLevel.Impersonation,
        DirectoryAccessMask.FILE_LIST_DIRECTORY | DirectoryAccessMask.FILE_READ_ATTRIBUTES,
        FileAttributes.FILE_ATTRIBUTE_DIRECTORY,
        ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE,
        CreateDisposition.FILE_OPEN,
        CreateOptions.FILE_DIRECTORY_FILE,
    )
    try:
        entries = d.query_directory("*", FileInformationClass.FILE_NAMES_INFORMATION)
    finally:
        d.close()
    return {e["file_name"].get_value().decode("utf-16-le") for e in entries}


class Protection:
    """Checks every message the server sends once `mode` is set: smbprotocol itself accepts an
    unsigned response on a signed session and a plain one on an encrypted session, and so
    would hide a server that forgets to protect its replies.

    mode "encrypt": each message must be an SMB2 TRANSFORM message (0xFD 'SMB').
    mode "sign": each SMB2 message must carry SMB2_FLAGS_SIGNED, except interim STATUS_PENDING
    replies and oplock/lease breaks (MessageId 0xFFFFFFFFFFFFFFFF), which MS-SMB2 3.3.4.1.1
    leaves unsigned.
    """

    def __init__(self, conn):
        self.mode = None
        self.seen = 0
        self.bad = []
        self._recv = conn.transport.recv
        # The receiving thread looks the method up on every call: later messages pass here.
        conn.transport.recv = self.recv

    def recv(self, timeout):
        b = self._recv(timeout)
        if b and self.mode:
            self.seen += 1
            if self.mode == "encrypt" and b[:4] != b"\xfdSMB":
                self.bad.append(f"plain message {b[:4]!r} command {self._command(b)}")
            elif self.mode == "sign" and b[:4] == b"\xfeSMB" and len(b) >= 64:
                status, command, flags, message_id = struct.unpack_from("<IHxxI4xQ", b, 8)
                if not flags & 0x8 and status != 0x103 and message_id != 0xFFFFFFFFFFFFFFFF:
                    self.bad.append(f"unsigned reply to command {command} (status {status:#x})")
        return b

    @staticmethod
    def _command(b):
        return struct.unpack_from("<H", b, 12)[0] if len(b) >= 14 else None


def run_case(port, share, user, password, name, dialect, cipher):
    conn = Connection(uuid.uuid4(), "127.0.0.1", port, require_signing=True)
    if cipher is None:
        conn.connect(dialect=dialect, timeout=30)
    else:
        conn.connect(dialect=dialect, timeout=30, preferred_encryption_algos=[cipher])
    protection = Protection(conn)
    try:
        if conn.dialect != dialect:
            raise AssertionError(f"negotiated dialect {conn.dialect:#x}, asked for {dialect:#x}")
        encrypt = cipher is not None
        if dialect == Dialects.SMB_3_1_1 and conn.cipher_id != cipher:
            raise AssertionError(f"server chose cipher {conn.cipher_id}, client offered only {cipher}")
        session = Session(conn, user, password, require_encryption=encrypt, auth_protocol="ntlm")
        session.connect()
        if encrypt and not session.encrypt_data:
            raise AssertionError("session is not encrypting")
        if not encrypt and not session.signing_required:
            raise AssertionError("session is not signing")
        protection.mode = "encrypt" if encrypt else "sign"
        tree = TreeConnect(session, rf"\\127.0.0.1\{share}")
        tree.connect()

        fname = f"smbprotocol-{name.replace(' ', '-').replace('.', '_')}-{uuid.uuid4().hex[:8]}.bin"
        data = random.Random(name).randbytes(SIZE)
        f = Open(tree, fname)
        f.create(
            ImpersonationLevel.Impersonation,
            FilePipePrinterAccessMask.GENERIC_READ | FilePipePrinterAccessMask.GENERIC_WRITE,
            FileAttributes.FILE_ATTRIBUTE_NORMAL,
            0,
            CreateDisposition.FILE_CREATE,
            CreateOptions.FILE_NON_DIRECTORY_FILE,
        )
        # 2.0.2 has no multi-credit requests: 64 KiB per READ/WRITE at most.
        step = min(conn.max_write_size, conn.max_read_size)
        if not conn.supports_multi_credit:
            step = min(step, 65536)
        step = min(step, 1 << 20)
        for off in range(0, SIZE, step):
            n = f.write(data[off : off + step], off)
            if n != len(data[off : off + step]):
                raise AssertionError(f"short write at {off}: {n}")
        back = bytearray()
        while len(back) < SIZE:
            chunk = f.read(len(back), min(step, SIZE - len(back)))
            if not chunk:
                raise AssertionError(f"read returned nothing at {len(back)}")
            back += chunk
        f.close()
        if bytes(back) != data:
            first = next(i for i in range(SIZE) if back[i] != data[i])
            raise AssertionError(f"read back differs from what was written, first at byte {first}")

        names = list_names(tree, "")
        if fname not in names:
            raise AssertionError(f"{fname} missing from the listing {sorted(names)[:20]}")

        f = Open(tree, fname)
        f.create(
            ImpersonationLevel.Impersonation,
            FilePipePrinterAccessMask.DELETE,
            FileAttributes.FILE_ATTRIBUTE_NORMAL,
            ShareAccess.FILE_SHARE_DELETE,
            CreateDisposition.FILE_OPEN,
            CreateOptions.FILE_NON_DIRECTORY_FILE | CreateOptions.FILE_DELETE_ON_CLOSE,
        )
        f.close()
        if fname in list_names(tree, ""):
            raise AssertionError(f"{fname} still listed after delete-on-close")

        tree.disconnect()
        session.disconnect()
        if protection.bad:
            raise AssertionError(f"{len(protection.bad)} unprotected replies, first: {protection.bad[:3]}")
        if protection.seen < 10:
            raise AssertionError(f"only {protection.seen} replies checked for protection")
    finally:
        conn.disconnect(True)


def main():
    harness.run_cases(__doc__, 2, CASES, run_case, with_name=True)


if __name__ == "__main__":
    main()
