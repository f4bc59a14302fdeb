//! Identity shared by every protocol: who a caller is and what they may do on a share.
//!
//! Both front ends (NFS now, SMB next) resolve a caller to a principal and a [`Permission`]
//! through this module, so a user has the same rights whichever protocol they arrive by.

use serde::{Deserialize, Serialize};

/// What a caller may do on a share. Resolved in this order: the user's own grant for the
/// share, then the best grant among the user's groups, then the share's `default_permission`.
/// The order of the variants is their strength, so "the best of the groups" is a `max`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// No access: MOUNT and every call are refused.
    #[default]
    None,
    /// Read-only: every change is refused.
    Read,
    /// Read and write.
    ReadWrite,
}

impl Permission {
    /// Whether this permission allows reading.
    pub fn can_read(self) -> bool {
        self >= Self::Read
    }

    /// Whether this permission allows changes.
    pub fn can_write(self) -> bool {
        self == Self::ReadWrite
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the strength order that group resolution relies on, and the YAML spelling of the
    /// seed configuration (`read-write`).
    #[test]
    fn order_and_spelling() {
        assert!(Permission::None < Permission::Read && Permission::Read < Permission::ReadWrite);
        assert_eq!(
            [Permission::Read, Permission::ReadWrite, Permission::None]
                .iter()
                .max(),
            Some(&Permission::ReadWrite)
        );
        let p: Permission = serde_yaml_ng::from_str("read-write").expect("parse");
        assert_eq!(p, Permission::ReadWrite);
        assert!(!Permission::None.can_read() && Permission::Read.can_read());
        assert!(!Permission::Read.can_write() && Permission::ReadWrite.can_write());
    }
}
