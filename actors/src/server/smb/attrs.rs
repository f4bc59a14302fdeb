//! Store attributes as SMB sees them: DOS attributes (stored in an extended attribute and
//! derived from the mode and the name), sizes, access masks from the mode bits and the share
//! permission, share-mode conflicts.

use bytes::Bytes;
use protocol::smb2::status::NtStatus;
use stores::{Attr, FileKind, XattrEntry};

use super::files::failed;
use crate::server::share::{Caller, Node, ShareHandle};

/// FILE_ATTRIBUTE_READONLY.
pub(crate) const READONLY: u32 = 0x01;
/// FILE_ATTRIBUTE_HIDDEN.
pub(crate) const HIDDEN: u32 = 0x02;
/// FILE_ATTRIBUTE_SYSTEM.
pub(crate) const SYSTEM: u32 = 0x04;
/// FILE_ATTRIBUTE_DIRECTORY.
pub(crate) const DIRECTORY: u32 = 0x10;
/// FILE_ATTRIBUTE_ARCHIVE.
pub(crate) const ARCHIVE: u32 = 0x20;
/// FILE_ATTRIBUTE_NORMAL (only when no other bit is set).
pub(crate) const NORMAL: u32 = 0x80;
/// FILE_ATTRIBUTE_TEMPORARY.
pub(crate) const TEMPORARY: u32 = 0x100;
/// FILE_ATTRIBUTE_SPARSE_FILE.
pub(crate) const SPARSE_FILE: u32 = 0x200;
/// FILE_ATTRIBUTE_REPARSE_POINT.
pub(crate) const REPARSE_POINT: u32 = 0x400;
/// FILE_ATTRIBUTE_OFFLINE.
pub(crate) const OFFLINE: u32 = 0x1000;
/// FILE_ATTRIBUTE_NOT_CONTENT_INDEXED.
pub(crate) const NOT_CONTENT_INDEXED: u32 = 0x2000;

/// The extended attribute holding the DOS attributes clients set that the mode cannot hold:
/// four bytes, the little-endian FILE_ATTRIBUTE_* bits of [`STORED`]. Absent means the
/// default (ARCHIVE for a regular file, nothing for anything else); it is written only when
/// the attributes differ from that, so files no SMB client touched cost nothing.
pub(crate) const DOS_XATTR: &[u8] = b"dittofs.dosattrib";

/// The bits kept in [`DOS_XATTR`]. READONLY is the mode's write bits for everything but
/// directories (where it means nothing to POSIX, so it is stored); DIRECTORY and
/// REPARSE_POINT follow the node's kind; HIDDEN is also implied by a leading dot.
pub(crate) const STORED: u32 =
    READONLY | HIDDEN | SYSTEM | ARCHIVE | TEMPORARY | SPARSE_FILE | OFFLINE | NOT_CONTENT_INDEXED;

/// The bits a client sets with FileBasicInformation or CREATE's FileAttributes ([MS-FSA]
/// 2.1.5.14.2): SPARSE_FILE only changes through FSCTL_SET_SPARSE, and the kind bits never.
pub(crate) const SETTABLE: u32 =
    READONLY | HIDDEN | SYSTEM | ARCHIVE | TEMPORARY | OFFLINE | NOT_CONTENT_INDEXED;

/// What the store holds of a node's DOS attributes: the [`DOS_XATTR`] value, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct StoredDos(pub(crate) Option<u32>);

impl StoredDos {
    /// Decodes the extended attribute's value; a value of another length (written by a
    /// later version, or damaged) counts as absent.
    pub(crate) fn decode(value: Option<&[u8]>) -> Self {
        Self(
            value
                .and_then(|v| <[u8; 4]>::try_from(v).ok())
                .map(|b| u32::from_le_bytes(b) & STORED),
        )
    }

    /// The stored bits of `a`: what was stored, or the default for its kind.
    pub(crate) fn bits(self, a: &Attr) -> u32 {
        self.0.unwrap_or_else(|| default_stored(a.kind))
    }
}

/// The stored bits a node has when nothing is stored: a regular file is ARCHIVE (new and
/// never backed up, as Windows marks every new file), anything else nothing.
pub(crate) fn default_stored(kind: FileKind) -> u32 {
    if kind == FileKind::Regular {
        ARCHIVE
    } else {
        0
    }
}

/// The extended-attribute value to store for `bits` on a node of `kind`: `None` (remove it)
/// when they are the default.
pub(crate) fn encode_stored(kind: FileKind, bits: u32) -> Option<Vec<u8>> {
    let bits = bits & STORED & !mode_bits(kind);
    (bits != default_stored(kind)).then(|| bits.to_le_bytes().to_vec())
}

/// The DOS bits the mode carries for `kind` instead of the extended attribute: READONLY for
/// everything but directories.
fn mode_bits(kind: FileKind) -> u32 {
    if kind == FileKind::Directory {
        0
    } else {
        READONLY
    }
}

/// The DOS attributes of `a`, whose stored name is `name` (empty when unknown), with the
/// stored bits `stored`: directories are DIRECTORY, files without any write bit are READONLY,
/// names starting with `.` are HIDDEN (as Samba's `hide dot files`), symlinks are reparse
/// points, device nodes, fifos and sockets are SYSTEM; the rest comes from `stored`.
pub(crate) fn dos(a: &Attr, name: &str, stored: StoredDos) -> u32 {
    let mut bits = match a.kind {
        FileKind::Directory => DIRECTORY,
        FileKind::Regular => 0,
        FileKind::Symlink => REPARSE_POINT,
        _ => SYSTEM,
    };
    bits |= stored.bits(a) & STORED & !mode_bits(a.kind);
    if a.kind != FileKind::Directory && a.mode & 0o222 == 0 {
        bits |= READONLY;
    }
    if name.starts_with('.') && name != "." && name != ".." {
        bits |= HIDDEN;
    }
    if bits == 0 { NORMAL } else { bits }
}

/// The bits CREATE keeps of the FileAttributes it is given ([MS-FSA] 2.1.5.1.2.1, and what
/// smbtorture's create.gentest sees Windows report): NOT_CONTENT_INDEXED, SPARSE_FILE and
/// the kind bits are not taken at creation.
pub(crate) const CREATE_KEPT: u32 = READONLY | HIDDEN | SYSTEM | ARCHIVE | TEMPORARY | OFFLINE;

/// The stored DOS bits of a node of `kind` created (or overwritten) with `attributes`: the
/// [`CREATE_KEPT`] ones, plus ARCHIVE for a file (TEMPORARY only for files).
pub(crate) fn at_create(kind: FileKind, attributes: u32) -> u32 {
    if kind == FileKind::Directory {
        attributes & CREATE_KEPT & !TEMPORARY
    } else {
        (attributes & CREATE_KEPT) | default_stored(kind)
    }
}

/// The mode that carries the READONLY bit of `attributes` for `a`: setting it clears every
/// write bit, clearing it gives the owner write again (as Samba's `map readonly`); directories
/// keep their mode.
pub(crate) fn mode_for(a: &Attr, attributes: u32) -> u32 {
    if a.kind == FileKind::Directory {
        a.mode
    } else if attributes & READONLY != 0 {
        a.mode & !0o222
    } else if a.mode & 0o222 == 0 {
        a.mode | 0o200
    } else {
        a.mode
    }
}

/// The prefix of extended attributes that are SMB extended attributes (EAs): an EA named N is
/// stored as `user.N`.
pub(crate) const EA_PREFIX: &[u8] = b"user.";

/// EaSize ([MS-FSCC] 2.4.12, 2.4.13): the bytes a FileFullEaInformation of every EA of a node
/// takes, each entry 4-byte aligned; 0 without EAs.
pub(crate) fn ea_size(list: &[XattrEntry]) -> u32 {
    let total: usize = list
        .iter()
        .filter(|e| e.name.starts_with(EA_PREFIX))
        .map(|e| (8 + (e.name.len() - EA_PREFIX.len()) + 1 + e.len as usize).next_multiple_of(4))
        .sum();
    u32::try_from(total).unwrap_or(u32::MAX)
}

/// What the store holds of a node for SMB beyond its attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Meta {
    /// The stored DOS attributes.
    pub(crate) dos: StoredDos,
    /// EaSize: the size of the node's EAs as FileFullEaInformation.
    pub(crate) ea_size: u32,
}

/// Reads [`Meta`] of `node`: one listing of its extended attributes, and the DOS attributes'
/// value only when the listing shows one (most nodes have none).
pub(crate) async fn meta(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
) -> Result<Meta, NtStatus> {
    let list = share
        .list_xattrs(caller.clone(), node)
        .await
        .map_err(failed)?;
    let dos = if list.iter().any(|e| e.name == DOS_XATTR) {
        let v = share
            .xattr(caller.clone(), node, Bytes::from_static(DOS_XATTR))
            .await
            .map_err(failed)?;
        StoredDos::decode(v.as_deref())
    } else {
        StoredDos(None)
    };
    Ok(Meta {
        dos,
        ea_size: ea_size(&list),
    })
}

/// [`meta`] of each of `nodes` in one message to the share (a directory page); a node gone
/// since it was listed gets the defaults.
pub(crate) async fn meta_many(
    share: &ShareHandle,
    caller: &Caller,
    nodes: Vec<Node>,
) -> Result<Vec<Meta>, NtStatus> {
    let found = share
        .xattrs_many(caller.clone(), nodes, Bytes::from_static(DOS_XATTR))
        .await
        .map_err(failed)?;
    Ok(found
        .into_iter()
        .map(|x| {
            x.map(|x| Meta {
                dos: StoredDos::decode(x.value.as_deref()),
                ea_size: ea_size(&x.list),
            })
            .unwrap_or_default()
        })
        .collect())
}

/// Stores `bits` as the DOS attributes of `a` (whose stored attributes are `old`): writes,
/// replaces or removes [`DOS_XATTR`] as needed, and nothing when nothing changes.
pub(crate) async fn store_dos(
    share: &ShareHandle,
    caller: &Caller,
    a: &Attr,
    old: StoredDos,
    bits: u32,
) -> Result<(), NtStatus> {
    let old_value = old.0.map(|b| b.to_le_bytes().to_vec());
    let new_value = encode_stored(a.kind, bits);
    if new_value == old_value {
        return Ok(());
    }
    let node = Node::from(a);
    match new_value {
        Some(v) => share
            .set_xattr(caller.clone(), node, Bytes::from_static(DOS_XATTR), v)
            .await
            .map(drop)
            .map_err(failed),
        None => share
            .remove_xattr(caller.clone(), node, Bytes::from_static(DOS_XATTR))
            .await
            .map(drop)
            .map_err(failed),
    }
}

/// EndOfFile: the size of a file; 0 for directories.
pub(crate) fn end_of_file(a: &Attr) -> u64 {
    if a.kind == FileKind::Directory {
        0
    } else {
        a.size
    }
}

/// AllocationSize: the size rounded up to 4 KiB clusters.
pub(crate) fn allocation(a: &Attr) -> u64 {
    end_of_file(a).div_ceil(4096).saturating_mul(4096)
}

/// The FILE_SHARE_* bit that shares each kind of [`sharing_kinds`], in its order.
pub(crate) const SHARE_BITS: [u32; 3] = [1, 2, 4];

/// Which kinds of access that share modes govern an access mask uses: reading the data
/// (or executing it), writing it (or appending), deleting the file; each is shared by the
/// [`SHARE_BITS`] bit at its place.
pub(crate) fn sharing_kinds(acc: u32) -> [bool; 3] {
    [
        acc & (access::FILE_READ_DATA | access::FILE_EXECUTE) != 0,
        acc & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) != 0,
        acc & access::DELETE != 0,
    ]
}

/// Whether a new open (`access`, `share`) conflicts with an existing one ([MS-FSA] 2.1.5.1.2:
/// each side's data and delete access must be allowed by the other side's share access).
pub(crate) fn share_conflict(
    old_access: u32,
    old_share: u32,
    new_access: u32,
    new_share: u32,
) -> bool {
    let blocked = |acc: u32, share: u32| {
        sharing_kinds(acc)
            .iter()
            .zip(SHARE_BITS)
            .any(|(&uses, bit)| uses && share & bit == 0)
    };
    // An open without data or delete access takes no part in sharing, on either side (an
    // attribute-only open neither conflicts nor is conflicted with, as on Windows).
    let shares = |a: u32| sharing_kinds(a).contains(&true);
    if !shares(old_access) || !shares(new_access) {
        return false;
    }
    blocked(new_access, old_share) || blocked(old_access, new_share)
}

/// Access masks ([MS-SMB2] 2.2.13.1, [MS-DTYP] 2.4.3).
pub(crate) mod access {
    use crate::server::share::Rights;

    pub(crate) const FILE_READ_DATA: u32 = 0x0000_0001;
    pub(crate) const FILE_WRITE_DATA: u32 = 0x0000_0002;
    pub(crate) const FILE_APPEND_DATA: u32 = 0x0000_0004;
    pub(crate) const FILE_READ_EA: u32 = 0x0000_0008;
    pub(crate) const FILE_WRITE_EA: u32 = 0x0000_0010;
    pub(crate) const FILE_EXECUTE: u32 = 0x0000_0020;
    pub(crate) const FILE_DELETE_CHILD: u32 = 0x0000_0040;
    pub(crate) const FILE_READ_ATTRIBUTES: u32 = 0x0000_0080;
    pub(crate) const FILE_WRITE_ATTRIBUTES: u32 = 0x0000_0100;
    pub(crate) const DELETE: u32 = 0x0001_0000;
    pub(crate) const READ_CONTROL: u32 = 0x0002_0000;
    pub(crate) const WRITE_DAC: u32 = 0x0004_0000;
    pub(crate) const WRITE_OWNER: u32 = 0x0008_0000;
    pub(crate) const SYNCHRONIZE: u32 = 0x0010_0000;
    pub(crate) const ACCESS_SYSTEM_SECURITY: u32 = 0x0100_0000;
    pub(crate) const MAXIMUM_ALLOWED: u32 = 0x0200_0000;
    pub(crate) const GENERIC_ALL: u32 = 0x1000_0000;
    pub(crate) const GENERIC_EXECUTE: u32 = 0x2000_0000;
    pub(crate) const GENERIC_WRITE: u32 = 0x4000_0000;
    pub(crate) const GENERIC_READ: u32 = 0x8000_0000;

    /// Rights every caller who can see a node has.
    pub(crate) const ALWAYS: u32 = FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
    /// FILE_GENERIC_READ.
    pub(crate) const GENERIC_READ_BITS: u32 =
        FILE_READ_DATA | FILE_READ_EA | FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
    /// FILE_GENERIC_WRITE.
    pub(crate) const GENERIC_WRITE_BITS: u32 = FILE_WRITE_DATA
        | FILE_APPEND_DATA
        | FILE_WRITE_EA
        | FILE_WRITE_ATTRIBUTES
        | READ_CONTROL
        | SYNCHRONIZE;
    /// FILE_GENERIC_EXECUTE.
    pub(crate) const GENERIC_EXECUTE_BITS: u32 =
        FILE_EXECUTE | FILE_READ_ATTRIBUTES | READ_CONTROL | SYNCHRONIZE;
    /// FILE_ALL_ACCESS.
    pub(crate) const ALL: u32 = 0x001F_01FF;

    /// Replaces GENERIC_* bits with the specific rights they stand for.
    pub(crate) fn expand_generic(mask: u32, _is_dir: bool) -> u32 {
        let mut m = mask & !(GENERIC_ALL | GENERIC_EXECUTE | GENERIC_WRITE | GENERIC_READ);
        if mask & GENERIC_ALL != 0 {
            m |= ALL;
        }
        if mask & GENERIC_READ != 0 {
            m |= GENERIC_READ_BITS;
        }
        if mask & GENERIC_WRITE != 0 {
            m |= GENERIC_WRITE_BITS;
        }
        if mask & GENERIC_EXECUTE != 0 {
            m |= GENERIC_EXECUTE_BITS;
        }
        m & !ACCESS_SYSTEM_SECURITY
    }

    /// What an open asks for: with MAXIMUM_ALLOWED, everything `granted` plus whatever else
    /// `desired` names (which must then be granted too, [MS-DTYP] 2.5.3.2); otherwise
    /// `desired` with its generic rights expanded.
    pub(crate) fn wanted(desired: u32, granted: u32, is_dir: bool) -> u32 {
        if desired & MAXIMUM_ALLOWED != 0 {
            granted | expand_generic(desired & !MAXIMUM_ALLOWED, is_dir)
        } else {
            expand_generic(desired, is_dir)
        }
    }

    /// The access mask that `rights` (from the mode bits and the share permission) give;
    /// `delete` when the directory allows removing the entry, `owner` for the owner or root,
    /// `writable` when the share permission allows changes.
    pub(crate) fn from_rights(
        rights: Rights,
        is_dir: bool,
        delete: bool,
        owner: bool,
        writable: bool,
    ) -> u32 {
        let mut m = ALWAYS;
        if rights.contains(Rights::READ) {
            m |= FILE_READ_DATA | FILE_READ_EA;
        }
        // A client that may read a file may run it (it can copy it anyway): FILE_EXECUTE
        // follows read for files, as Windows gives it with full control.
        if is_dir && rights.contains(Rights::LOOKUP)
            || !is_dir && (rights.contains(Rights::EXECUTE) || rights.contains(Rights::READ))
        {
            m |= FILE_EXECUTE;
        }
        if rights.contains(Rights::MODIFY) {
            m |= FILE_WRITE_DATA | FILE_WRITE_EA | FILE_DELETE_CHILD;
        }
        if rights.contains(Rights::EXTEND) {
            m |= FILE_APPEND_DATA;
        }
        if writable {
            if owner || rights.contains(Rights::MODIFY) {
                m |= FILE_WRITE_ATTRIBUTES;
            }
            if owner {
                m |= WRITE_DAC | WRITE_OWNER;
            }
            if delete {
                m |= DELETE;
            }
        }
        m
    }
}

/// The POSIX view of `a` (SMB 3.1.1 POSIX extensions): what the create context and the POSIX
/// information classes carry.
pub(crate) fn posix_info(a: &Attr) -> protocol::smb2::create::PosixCreateResponse {
    let kind_bits = match a.kind {
        FileKind::Regular => 0o100_000,
        FileKind::Directory => 0o040_000,
        FileKind::Symlink => 0o120_000,
        FileKind::CharDevice => 0o020_000,
        FileKind::BlockDevice => 0o060_000,
        FileKind::Fifo => 0o010_000,
        FileKind::Socket => 0o140_000,
    };
    protocol::smb2::create::PosixCreateResponse {
        nlinks: a.nlink,
        reparse_tag: 0,
        mode: kind_bits | (a.mode & 0o7777),
        owner_sid: protocol::smb2::create::unix_sid(1, a.uid),
        group_sid: protocol::smb2::create::unix_sid(2, a.gid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: share modes conflict as MS-FSA says: a reader needs FILE_SHARE_READ from the
    /// other open and vice versa; attribute-only opens never conflict.
    #[test]
    fn share_modes() {
        use access::*;
        assert!(!share_conflict(FILE_READ_DATA, 1, FILE_READ_DATA, 1));
        assert!(share_conflict(FILE_READ_DATA, 1, FILE_WRITE_DATA, 3));
        assert!(share_conflict(FILE_WRITE_DATA, 3, FILE_READ_DATA, 1));
        assert!(!share_conflict(
            FILE_READ_ATTRIBUTES,
            0,
            FILE_READ_ATTRIBUTES,
            0
        ));
        assert!(share_conflict(DELETE, 7, FILE_READ_DATA, 3));
    }

    fn node(kind: FileKind, mode: u32) -> Attr {
        let t = stores::Timestamp::default();
        Attr {
            ino: stores::InodeId(3),
            generation: stores::Generation(1),
            kind,
            mode,
            nlink: 1,
            uid: 1,
            gid: 1,
            size: 0,
            rdev: stores::Device::default(),
            atime: t,
            mtime: t,
            ctime: t,
            btime: t,
            change: 1,
        }
    }

    /// Goal: the DOS attribute rules of docs/SMB.md. Method: files and directories with and
    /// without stored bits, read-only modes and dot names.
    #[test]
    fn dos_attributes() {
        let f = node(FileKind::Regular, 0o644);
        let none = StoredDos(None);
        assert_eq!(dos(&f, "a", none), ARCHIVE, "a file without stored bits");
        assert_eq!(dos(&f, "a", StoredDos(Some(0))), NORMAL);
        assert_eq!(dos(&f, ".a", StoredDos(Some(0))), HIDDEN);
        assert_eq!(
            dos(
                &node(FileKind::Regular, 0o444),
                "a",
                StoredDos(Some(SYSTEM))
            ),
            READONLY | SYSTEM
        );
        // READONLY stored for a file is ignored: the mode carries it.
        assert_eq!(dos(&f, "a", StoredDos(Some(READONLY))), NORMAL);
        let d = node(FileKind::Directory, 0o555);
        assert_eq!(dos(&d, "d", none), DIRECTORY);
        assert_eq!(
            dos(&d, "d", StoredDos(Some(READONLY | HIDDEN))),
            DIRECTORY | READONLY | HIDDEN
        );
        assert_eq!(encode_stored(FileKind::Regular, ARCHIVE | READONLY), None);
        assert_eq!(encode_stored(FileKind::Directory, 0), None);
        assert_eq!(
            encode_stored(FileKind::Regular, HIDDEN),
            Some(HIDDEN.to_le_bytes().to_vec())
        );
        assert_eq!(StoredDos::decode(Some(&[1, 2, 3])), StoredDos(None));
        assert_eq!(
            StoredDos::decode(Some(&(HIDDEN | 0x10).to_le_bytes())),
            StoredDos(Some(HIDDEN)),
            "kind bits are never taken from storage"
        );
        // CREATE keeps what smbtorture create.gentest sees Windows keep.
        for bit in (0..16).map(|i| 1u32 << i) {
            let want = (bit | ARCHIVE) & 0x1127;
            assert_eq!(
                at_create(FileKind::Regular, bit) & !READONLY,
                want & !READONLY
            );
        }
        assert_eq!(at_create(FileKind::Directory, NORMAL), 0);
        assert_eq!(mode_for(&f, READONLY), 0o444);
        assert_eq!(mode_for(&node(FileKind::Regular, 0o444), NORMAL), 0o644);
        assert_eq!(mode_for(&d, READONLY), 0o555);
    }

    /// Goal: EaSize is the size of FileFullEaInformation over the `user.` attributes only.
    #[test]
    fn ea_sizes() {
        let e = |name: &[u8], len| XattrEntry {
            name: name.to_vec(),
            len,
        };
        assert_eq!(ea_size(&[e(b"dittofs.dosattrib", 4)]), 0);
        // 8 + 5 + 1 + 6 = 20; 8 + 8 + 1 + 8 = 25 -> 28.
        assert_eq!(ea_size(&[e(b"user.EAONE", 6), e(b"user.SECONDEA", 8)]), 48);
    }

    /// Goal: generic rights expand to their specific rights.
    #[test]
    fn generic_rights() {
        use access::*;
        assert_eq!(expand_generic(GENERIC_ALL, false), ALL);
        assert_eq!(expand_generic(GENERIC_READ, false), GENERIC_READ_BITS);
        assert_eq!(
            expand_generic(GENERIC_WRITE | DELETE, false),
            GENERIC_WRITE_BITS | DELETE
        );
    }
}
