#!/usr/bin/env python3
"""Windows ACLs over SMB with a client nobody here wrote (Python's smbprotocol 1.17.0), against a
server on 127.0.0.1. smbprotocol has no ACL helpers, so the security descriptors are built and
read here ([MS-DTYP] 2.4.6 self-relative form) and sent with its SET_INFO / QUERY_INFO messages.

    python3 tests/smb/acl_client.py set PORT SHARE USER PASSWORD UID
    python3 tests/smb/acl_client.py synthesized PORT SHARE USER PASSWORD UID
    python3 tests/smb/acl_client.py chgrp PORT SHARE USER PASSWORD UID GID OTHER

`set`: in the share root,
  - acl.txt gets the DACL [owner FULL, Authenticated Users READ]; reading it back must give that
    DACL (an Authenticated Users ACE is nothing a mode can say, so it was stored);
  - directory acld gets [owner FULL (OI|CI), Authenticated Users READ (OI)]; a file created in it
    must carry both as inherited ACEs (INHERITED_ACE set);
  - deny.txt gets [CREATOR OWNER READ]; an open of it for FILE_READ_DATA must be refused
    (CREATOR OWNER matches nobody in an access check), one for READ_CONTROL must succeed (the
    owner's implicit right).
`synthesized`: acl.txt's DACL must be the one built from the mode (owner, group, Everyone)
again: run after something other than SMB changed the mode.
`chgrp GID OTHER`: what the Linux kernel cifs client (6.1, `cifsacl,idsfromsid`) sends for
`chmod 0640` and then busybox's `chgrp GID`, on a new file chgrp.txt: each time it reads the
descriptor (owner, group, DACL) through a READ_CONTROL open, builds a new one in its own layout
(DACL first, then owner and group SIDs in 68-byte slots) and writes it through an open for the
rights the parts need. The chmod writes the DACL (WRITE_DAC); the chgrp (chown(2) with the uid
busybox stats) writes OWNER | GROUP | DACL on a WRITE_OWNER | WRITE_DAC handle, the ids as
S-1-5-88-1-UID and S-1-5-88-2-GID, the DACL's ACEs moved to them. The group must read back
as S-1-22-2-GID with the group's ACE kept; chgrp to OTHER (a group the user is not in), naming
the owner without WRITE_OWNER, and giving the file to another uid or to root (which is what the
kernel asks from a posix mount, where it shows uid 0 as the owner) must be refused with
STATUS_ACCESS_DENIED and change nothing.

Prints one line per check and exits 1 when any failed, 2 when smbprotocol is missing.
"""

import struct
import sys
import uuid

try:
    from smbprotocol.connection import Connection
    from smbprotocol.exceptions import SMBResponseException
    from smbprotocol.open import (
        CreateDisposition,
        CreateOptions,
        FileAttributes,
        ImpersonationLevel,
        Open,
        ShareAccess,
        SMB2QueryInfoRequest,
        SMB2QueryInfoResponse,
        SMB2SetInfoRequest,
    )
    from smbprotocol.session import Session
    from smbprotocol.tree import TreeConnect
except ImportError as e:  # pragma: no cover - the environment's fault, said plainly
    print(f"acl_client.py: cannot import smbprotocol ({e}); pip install smbprotocol==1.17.0")
    sys.exit(2)

INFO_SECURITY = 3
OWNER_SECURITY_INFORMATION = 1
GROUP_SECURITY_INFORMATION = 2
DACL_SECURITY_INFORMATION = 4
ALL_PARTS = 1 | 2 | 4
READ_CONTROL = 0x0002_0000
WRITE_DAC = 0x0004_0000
WRITE_OWNER = 0x0008_0000
FILE_READ_DATA = 0x1
FILE_ALL = 0x001F_01FF
FILE_GENERIC_READ = 0x0012_0089
OI, CI, INHERITED = 0x01, 0x02, 0x10
AUTH_USERS = "S-1-5-11"


def sid_bytes(text):
    parts = text.split("-")
    auth, subs = int(parts[2]), [int(p) for p in parts[3:]]
    return bytes([1, len(subs)]) + auth.to_bytes(6, "big") + b"".join(struct.pack("<I", s) for s in subs)


def sid_text(b):
    count = b[1]
    auth = int.from_bytes(b[2:8], "big")
    subs = struct.unpack("<%dI" % count, b[8 : 8 + 4 * count])
    return "S-1-%d" % auth + "".join("-%d" % s for s in subs)


def dacl_sd(aces):
    """A self-relative descriptor holding only a DACL of (allow?, flags, mask, sid) ACEs."""
    body = b""
    for allow, flags, mask, sid in aces:
        s = sid_bytes(sid)
        body += struct.pack("<BBHI", 0 if allow else 1, flags, 8 + len(s), mask) + s
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(body), len(aces), 0) + body
    return struct.pack("<BBHIIII", 1, 0, 0x8004, 0, 0, 0, 20) + acl


def dacl_aces(sd):
    """The (type, flags, mask, sid) ACEs of a self-relative descriptor's DACL."""
    _, _, control, _, _, _, off = struct.unpack_from("<BBHIIII", sd)
    if not control & 0x0004 or off == 0:
        return None
    _, _, _, count, _ = struct.unpack_from("<BBHHH", sd, off)
    pos, out = off + 8, []
    for _ in range(count):
        t, flags, size, mask = struct.unpack_from("<BBHI", sd, pos)
        out.append((t, flags, mask, sid_text(sd[pos + 8 : pos + size])))
        pos += size
    return out


def sd_parts(sd):
    """(control, owner SID text, group SID text, DACL ACEs as (type, flags, mask, sid)) of a
    self-relative descriptor."""
    _, _, control, osid, gsid, _, _ = struct.unpack_from("<BBHIIII", sd)
    return control, sid_text(sd[osid:]) if osid else None, sid_text(sd[gsid:]) if gsid else None, dacl_aces(sd)


# The access masks Linux cifs writes for a mode's read and write bits (its SET_FILE_*_RIGHTS),
# as protocol/src/smb2/security.rs's linux_cifs_descriptors_round_trip spells them out.
FILE_DELETE_CHILD = 0x40
_COMMON = 0x100 | 0x0001_0000 | READ_CONTROL | WRITE_DAC | WRITE_OWNER | 0x0010_0000
SET_FILE_READ_RIGHTS = 0x1 | 0x8 | 0x80 | _COMMON
SET_FILE_WRITE_RIGHTS = 0x2 | 0x4 | 0x10 | FILE_DELETE_CHILD | 0x80 | _COMMON


def kernel_sd(control, owner, group, aces):
    """A descriptor laid out as Linux cifs builds one to set: the DACL right after the header,
    then the owner and the group SID, each in a 68-byte slot (the size of its largest SID)."""
    body = b""
    for t, flags, mask, sid in aces:
        sb = sid_bytes(sid)
        body += struct.pack("<BBHI", t, flags, 8 + len(sb), mask) + sb
    acl = struct.pack("<BBHHH", 2, 0, 8 + len(body), len(aces), 0) + body
    sids = 20 + len(acl)
    slot = lambda sid: sid_bytes(sid).ljust(68, b"\0")
    head = struct.pack("<BBHIIII", 1, 0, control, sids, sids + 68, 0, 20)
    return head + acl + slot(owner) + slot(group)


class Share:
    def __init__(self, port, share, user, password):
        self.conn = Connection(uuid.uuid4(), "127.0.0.1", port)
        self.conn.connect()
        self.session = Session(self.conn, user, password, require_encryption=False)
        self.session.connect()
        self.tree = TreeConnect(self.session, rf"\\127.0.0.1\{share}")
        self.tree.connect()

    def open(self, name, access, directory=False, disposition=CreateDisposition.FILE_OPEN_IF):
        o = Open(self.tree, name)
        o.create(
            ImpersonationLevel.Impersonation,
            access,
            FileAttributes.FILE_ATTRIBUTE_DIRECTORY if directory else FileAttributes.FILE_ATTRIBUTE_NORMAL,
            ShareAccess.FILE_SHARE_READ | ShareAccess.FILE_SHARE_WRITE | ShareAccess.FILE_SHARE_DELETE,
            disposition,
            CreateOptions.FILE_DIRECTORY_FILE if directory else CreateOptions.FILE_NON_DIRECTORY_FILE,
        )
        return o

    def _call(self, req):
        r = self.conn.send(req, self.session.session_id, self.tree.tree_connect_id)
        return self.conn.receive(r)

    def set_dacl(self, o, sd, parts=DACL_SECURITY_INFORMATION):
        req = SMB2SetInfoRequest()
        req["info_type"] = INFO_SECURITY
        req["file_info_class"] = 0
        req["additional_information"] = parts
        req["file_id"] = o.file_id
        req["buffer"] = sd
        self._call(req)

    def query_sd(self, o):
        req = SMB2QueryInfoRequest()
        req["info_type"] = INFO_SECURITY
        req["file_info_class"] = 0
        req["output_buffer_length"] = 65536
        req["additional_information"] = ALL_PARTS
        req["file_id"] = o.file_id
        resp = SMB2QueryInfoResponse()
        resp.unpack(self._call(req)["data"].get_value())
        return resp["buffer"].get_value()


def main():
    mode, port, share, user, password, uid = sys.argv[1], int(sys.argv[2]), *sys.argv[3:6], sys.argv[6]
    owner = f"S-1-22-1-{uid}"
    s = Share(port, share, user, password)
    failed = 0

    def check(name, cond, detail=""):
        nonlocal failed
        print(("ok   " if cond else "FAIL ") + name + ("" if cond else f": {detail}"))
        failed += not cond

    if mode == "set":
        o = s.open("acl.txt", READ_CONTROL | WRITE_DAC)
        want = [(True, 0, FILE_ALL, owner), (True, 0, FILE_GENERIC_READ, AUTH_USERS)]
        s.set_dacl(o, dacl_sd(want))
        got = dacl_aces(s.query_sd(o))
        check("a DACL no mode can say reads back whole", got == [(0, 0, m, sid) for _, _, m, sid in want], got)
        o.close()

        d = s.open("acld", READ_CONTROL | WRITE_DAC, directory=True)
        s.set_dacl(d, dacl_sd([(True, OI | CI, FILE_ALL, owner), (True, OI, FILE_GENERIC_READ, AUTH_USERS)]))
        d.close()
        x = s.open("acld\\x.txt", READ_CONTROL, disposition=CreateDisposition.FILE_OVERWRITE_IF)
        got = dacl_aces(s.query_sd(x)) or []
        check(
            "a new file inherits the directory's inheritable ACEs",
            (0, INHERITED, FILE_GENERIC_READ, AUTH_USERS) in got and (0, INHERITED, FILE_ALL, owner) in got,
            got,
        )
        x.close()

        o = s.open("deny.txt", READ_CONTROL | WRITE_DAC)
        s.set_dacl(o, dacl_sd([(True, 0, FILE_GENERIC_READ, "S-1-3-0")]))
        o.close()
        try:
            s.open("deny.txt", FILE_READ_DATA, disposition=CreateDisposition.FILE_OPEN).close()
            check("CREATOR OWNER grants nobody: read is refused", False, "the open succeeded")
        except SMBResponseException as e:
            check("CREATOR OWNER grants nobody: read is refused", e.status == 0xC0000022, hex(e.status))
        try:
            s.open("deny.txt", READ_CONTROL, disposition=CreateDisposition.FILE_OPEN).close()
            check("the owner keeps READ_CONTROL", True)
        except SMBResponseException as e:
            check("the owner keeps READ_CONTROL", False, hex(e.status))
    elif mode == "synthesized":
        o = s.open("acl.txt", READ_CONTROL, disposition=CreateDisposition.FILE_OPEN)
        got = dacl_aces(s.query_sd(o)) or []
        sids = [a[3] for a in got]
        check(
            "after a chmod from elsewhere the DACL comes from the mode",
            AUTH_USERS not in sids and "S-1-1-0" in sids and owner in sids,
            got,
        )
        o.close()
    elif mode == "chgrp":
        gid, other = sys.argv[7], sys.argv[8]
        s.open("chgrp.txt", READ_CONTROL).close()

        def read_sd():
            o = s.open("chgrp.txt", READ_CONTROL, disposition=CreateDisposition.FILE_OPEN)
            try:
                return sd_parts(s.query_sd(o))
            finally:
                o.close()

        # chmod 0640: owner rw (with FILE_DELETE_CHILD), group r (with it too: no sticky bit),
        # Everyone nothing but FILE_DELETE_CHILD, as populate_new_aces writes them.
        control, owner_sid, group_sid, _ = read_sd()
        aces = [
            (0, 0, SET_FILE_READ_RIGHTS | SET_FILE_WRITE_RIGHTS | FILE_DELETE_CHILD, owner_sid),
            (0, 0, SET_FILE_READ_RIGHTS | FILE_DELETE_CHILD, group_sid),
            (0, 0, FILE_DELETE_CHILD, "S-1-1-0"),
        ]
        o = s.open("chgrp.txt", WRITE_DAC, disposition=CreateDisposition.FILE_OPEN)
        s.set_dacl(o, kernel_sd(control, owner_sid, group_sid, aces))
        o.close()

        def chown(uid, gid, access):
            """chown(2) with both ids, as busybox's chgrp calls it (the uid unchanged): the
            parts OWNER | GROUP | DACL, the SIDs in S-1-5-88 form, the DACL's ACEs for the old
            owner and group moved to the new ones."""
            control, owner_sid, group_sid, aces = read_sd()
            new_owner, new_group = f"S-1-5-88-1-{uid}", f"S-1-5-88-2-{gid}"
            moved = [
                (t, f, m, new_owner if sid == owner_sid else new_group if sid == group_sid else sid)
                for t, f, m, sid in aces or []
            ]
            o = s.open("chgrp.txt", access, disposition=CreateDisposition.FILE_OPEN)
            try:
                s.set_dacl(
                    o,
                    kernel_sd(control, new_owner, new_group, moved),
                    OWNER_SECURITY_INFORMATION | GROUP_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
                )
            finally:
                o.close()

        try:
            chown(uid, gid, WRITE_OWNER | WRITE_DAC)
            _, owner_sid, group_sid, aces = read_sd()
            check("chgrp through OWNER | GROUP | DACL", group_sid == f"S-1-22-2-{gid}", group_sid)
            check("the owner stays", owner_sid == owner, owner_sid)
            masks = {sid: m for _, _, m, sid in aces or []}
            check(
                "the DACL keeps the group's rights under the new group",
                any(sid.endswith(f"-2-{gid}") and m == SET_FILE_READ_RIGHTS | FILE_DELETE_CHILD for sid, m in masks.items()),
                aces,
            )
        except SMBResponseException as e:
            check("chgrp through OWNER | GROUP | DACL", False, hex(e.status))
        for what, new_uid, new_gid, access in [
            ("chgrp to a group the owner is not in is refused", uid, other, WRITE_OWNER | WRITE_DAC),
            ("naming the owner without WRITE_OWNER is refused", uid, gid, WRITE_DAC),
            ("giving the file away is refused to a non-root owner", "4321", gid, WRITE_OWNER | WRITE_DAC),
            # What the kernel sends from a posix mount, where it shows uid 0 as the owner.
            ("giving the file to root is refused to a non-root owner", "0", gid, WRITE_OWNER | WRITE_DAC),
        ]:
            try:
                chown(new_uid, new_gid, access)
                check(what, False, "it succeeded")
            except SMBResponseException as e:
                check(what, e.status == 0xC0000022, hex(e.status))
        _, owner_sid, group_sid, _ = read_sd()
        check("refused changes change nothing", (owner_sid, group_sid) == (owner, f"S-1-22-2-{gid}"), (owner_sid, group_sid))
    else:
        print(f"acl_client.py: unknown mode {mode}")
        return 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
