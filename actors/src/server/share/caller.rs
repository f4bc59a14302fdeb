//! Who a share operation runs as, and the permission checks every protocol shares.
//!
//! A [`Caller`] is a resolved principal: the ids the POSIX mode checks use and the share
//! permission identity resolved for this share. The share permission is checked first
//! (`none` refuses everything, `read` refuses every change); the mode bits apply on top.
//!
//! Mode model (as knfsd applies it): owner / group (primary or supplementary) / other bits;
//! root may read and write anything and execute what has any execute bit.

use std::sync::Arc;

use stores::{Attr, FileKind};

use super::{OpError, OpResult};
use crate::identity::{Permission, Principal};

/// The identity a share operation runs as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Caller {
    /// The configured user's name, if the caller matched one.
    pub(crate) user: Option<Arc<str>>,
    /// User id.
    pub(crate) uid: u32,
    /// Primary group id.
    pub(crate) gid: u32,
    /// Supplementary groups.
    pub(crate) gids: Vec<u32>,
    /// What the caller may do on this share.
    pub(crate) permission: Permission,
}

impl From<Principal> for Caller {
    fn from(p: Principal) -> Self {
        Self {
            user: p.user,
            uid: p.uid,
            gid: p.gid,
            gids: p.gids,
            permission: p.permission,
        }
    }
}

impl Caller {
    /// A caller with read-write permission and no user name.
    #[cfg(test)]
    pub(crate) fn unix(uid: u32, gid: u32, gids: Vec<u32>) -> Self {
        Self {
            user: None,
            uid,
            gid,
            gids,
            permission: Permission::ReadWrite,
        }
    }

    /// The server acting for itself (root, no user name) with `permission`: what it looks
    /// up, flushes or records on its own account, outside any client's request.
    pub(crate) fn server(permission: Permission) -> Self {
        Self {
            user: None,
            uid: 0,
            gid: 0,
            gids: Vec::new(),
            permission,
        }
    }

    /// Whether the caller is root.
    pub(crate) fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// Whether the caller is a member of `gid`.
    pub(crate) fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.gids.contains(&gid)
    }

    /// Refuses a caller with no permission on the share: every operation starts here.
    pub(crate) fn check_any(&self) -> OpResult<()> {
        if self.permission.can_read() {
            Ok(())
        } else {
            Err(OpError::Access)
        }
    }

    /// Refuses a change by a caller whose permission is below read-write.
    pub(crate) fn check_change(&self) -> OpResult<()> {
        self.check_any()?;
        if self.permission.can_write() {
            Ok(())
        } else {
            Err(OpError::ReadOnly)
        }
    }

    /// Whether the mode bits let the caller do `want` (a mix of r=4, w=2, x=1).
    pub(crate) fn mode_allows(&self, attr: &Attr, want: u32) -> bool {
        if self.is_root() {
            return want & 1 == 0 || attr.kind == FileKind::Directory || attr.mode & 0o111 != 0;
        }
        let bits = if self.uid == attr.uid {
            attr.mode >> 6
        } else if self.in_group(attr.gid) {
            attr.mode >> 3
        } else {
            attr.mode
        } & 7;
        bits & want == want
    }

    /// [`Self::mode_allows`] as a result.
    pub(crate) fn require(&self, attr: &Attr, want: u32) -> OpResult<()> {
        if self.mode_allows(attr, want) {
            Ok(())
        } else {
            Err(OpError::Access)
        }
    }

    /// Sticky directories: only the owner of the entry or of the directory, or root, may
    /// remove or rename it.
    pub(crate) fn sticky_allows(&self, dir: &Attr, victim: &Attr) -> bool {
        dir.mode & 0o1000 == 0 || self.is_root() || self.uid == dir.uid || self.uid == victim.uid
    }
}

/// Rights an ACCESS-style query asks about and is granted, in the share's own terms (front
/// ends map their protocol's bits to and from these).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Rights(u8);

impl Rights {
    /// No rights.
    pub(crate) const NONE: Self = Self(0);
    /// Read data or list a directory.
    pub(crate) const READ: Self = Self(1 << 0);
    /// Look up names in a directory.
    pub(crate) const LOOKUP: Self = Self(1 << 1);
    /// Rewrite existing data or directory entries.
    pub(crate) const MODIFY: Self = Self(1 << 2);
    /// Append data or add entries.
    pub(crate) const EXTEND: Self = Self(1 << 3);
    /// Delete entries from a directory.
    pub(crate) const DELETE: Self = Self(1 << 4);
    /// Execute a file.
    pub(crate) const EXECUTE: Self = Self(1 << 5);

    /// Whether every right in `other` is in `self`.
    pub(crate) fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Rights in both.
    #[must_use]
    pub(crate) fn intersect(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }
}

impl std::ops::BitOr for Rights {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Rights {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

#[cfg(test)]
mod tests {
    use stores::{Device, InodeId, Timestamp};

    use super::*;

    fn attr(mode: u32, uid: u32, gid: u32, kind: FileKind) -> Attr {
        let t = Timestamp::default();
        Attr {
            ino: InodeId(5),
            generation: stores::Generation(1),
            kind,
            mode,
            nlink: 1,
            uid,
            gid,
            size: 0,
            rdev: Device::default(),
            atime: t,
            mtime: t,
            ctime: t,
            btime: t,
            change: 0,
        }
    }

    /// Goal: owner/group/other selection, supplementary groups and root's execute rule.
    #[test]
    fn mode_bits() {
        let a = attr(0o640, 10, 20, FileKind::Regular);
        let owner = Caller::unix(10, 99, vec![]);
        let member = Caller::unix(11, 99, vec![20]);
        let other = Caller::unix(12, 99, vec![]);
        let root = Caller::unix(0, 0, vec![]);
        assert!(owner.mode_allows(&a, 6));
        assert!(member.mode_allows(&a, 4) && !member.mode_allows(&a, 2));
        assert!(!other.mode_allows(&a, 4));
        assert!(root.mode_allows(&a, 6) && !root.mode_allows(&a, 1));
        assert!(root.mode_allows(&attr(0o700, 1, 1, FileKind::Directory), 1));
    }

    /// Goal: the share permission gates before the mode bits: none refuses everything with
    /// Access, read refuses changes with ReadOnly, read-write passes both.
    #[test]
    fn permission_gates() {
        let mut c = Caller::unix(10, 10, vec![]);
        c.permission = Permission::None;
        assert!(matches!(c.check_any(), Err(OpError::Access)));
        assert!(matches!(c.check_change(), Err(OpError::Access)));
        c.permission = Permission::Read;
        assert!(c.check_any().is_ok());
        assert!(matches!(c.check_change(), Err(OpError::ReadOnly)));
        c.permission = Permission::ReadWrite;
        assert!(c.check_any().is_ok() && c.check_change().is_ok());
    }
}
