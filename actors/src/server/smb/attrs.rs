//! Store attributes as SMB sees them: DOS attributes from the mode and the name, sizes,
//! access masks from the mode bits and the share permission, share-mode conflicts.

use stores::{Attr, FileKind};

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
/// FILE_ATTRIBUTE_REPARSE_POINT.
pub(crate) const REPARSE_POINT: u32 = 0x400;

/// The DOS attributes of `a`, whose stored name is `name` (empty when unknown): directories
/// are DIRECTORY, files without any write bit are READONLY, names starting with `.` are
/// HIDDEN (as Samba's `hide dot files`), symlinks are reparse points, device nodes, fifos and
/// sockets are SYSTEM, and regular files carry ARCHIVE.
pub(crate) fn dos(a: &Attr, name: &str) -> u32 {
    let mut bits = match a.kind {
        FileKind::Directory => DIRECTORY,
        FileKind::Regular => ARCHIVE,
        FileKind::Symlink => REPARSE_POINT,
        _ => SYSTEM,
    };
    if a.kind != FileKind::Directory && a.mode & 0o222 == 0 {
        bits |= READONLY;
    }
    if name.starts_with('.') && name != "." && name != ".." {
        bits |= HIDDEN;
    }
    if bits == 0 { NORMAL } else { bits }
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

/// Whether a new open (`access`, `share`) conflicts with an existing one ([MS-FSA] 2.1.5.1.2:
/// each side's data and delete access must be allowed by the other side's share access).
pub(crate) fn share_conflict(
    old_access: u32,
    old_share: u32,
    new_access: u32,
    new_share: u32,
) -> bool {
    const SHARE_READ: u32 = 1;
    const SHARE_WRITE: u32 = 2;
    const SHARE_DELETE: u32 = 4;
    let reads = |a: u32| a & (access::FILE_READ_DATA | access::FILE_EXECUTE) != 0;
    let writes = |a: u32| a & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) != 0;
    let deletes = |a: u32| a & access::DELETE != 0;
    let blocked = |acc: u32, share: u32| {
        (reads(acc) && share & SHARE_READ == 0)
            || (writes(acc) && share & SHARE_WRITE == 0)
            || (deletes(acc) && share & SHARE_DELETE == 0)
    };
    // An open without data or delete access takes no part in sharing, on either side (an
    // attribute-only open neither conflicts nor is conflicted with, as on Windows).
    let shares = |a: u32| reads(a) || writes(a) || deletes(a);
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
