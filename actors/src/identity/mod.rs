//! Identity shared by every protocol: who a caller is and what they may do on a share.
//!
//! Both front ends (NFS now, SMB next) resolve a caller to a principal and a [`Permission`]
//! through this module, so a user has the same rights whichever protocol they arrive by.
//!
//! Layout:
//! - this file: [`Permission`], [`Principal`] and the [`Resolver`] seam the front ends call;
//! - `model`: [`Identity`], one snapshot of users, groups, guest and share rules, and the
//!   resolution order;
//! - `store`: the [`IdentityStore`] interface and the default [`FileIdentityStore`] (the
//!   `users:`, `groups:` and `guest:` sections of the configuration file);
//! - `live`: [`LiveIdentity`], the [`Resolver`] a running server holds, reloaded by polling
//!   (and at once when the store notifies a change);
//! - the PostgreSQL store (`identity.store: postgres`) is wiring: `daemon::identity_pg`;
//! - `secret`: bcrypt and NT hashes, redaction, the constant-time password check.

mod live;
mod model;
pub mod secret;
mod store;

use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use self::live::{LiveIdentity, RELOAD_PERIOD};
pub use self::model::{Identity, IdentityData, ShareRules};
pub use self::secret::Secret;
pub use self::store::{
    FileIdentityStore, IdentityError, IdentityStore, check_private, identity_of, restart_keys,
    rewrite_identity, write_private,
};

/// What a caller may do on a share. Resolved in this order: the user's own grant for the
/// share, then the best grant among the user's groups, then the share's `default_permission`.
/// The order of the variants is their strength, so "the best of the groups" is a `max`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    clap::ValueEnum,
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

/// Who a call runs as once a front end has authenticated it and identity has resolved it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The configured user's name; `None` for a uid that matches no user, or a guest.
    pub user: Option<Arc<str>>,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary group ids.
    pub gids: Vec<u32>,
    /// What the caller may do on the share the call is for.
    pub permission: Permission,
}

/// Resolves callers to principals. The server holds one behind an `Arc` and asks it on every
/// call (and at MOUNT), so an identity store that reloads applies changes without a restart.
pub trait Resolver: Send + Sync + std::fmt::Debug + 'static {
    /// A Unix caller (NFS AUTH_SYS, after the export's squash rule) on the share named `share`.
    /// A uid that matches no user gets the share's default permission.
    fn unix(&self, share: &str, uid: u32, gid: u32, gids: &[u32]) -> Principal;

    /// A caller without credentials (NFS AUTH_NONE) on the share named `share`: the guest,
    /// with the share's default permission, where `guest.enabled` and the share's
    /// `allow_guest` are both true. The default refuses (`none`, as uid/gid 65534), which is
    /// right for a resolver that knows no guest.
    fn guest(&self, share: &str) -> Principal {
        let _ = share;
        Principal {
            user: None,
            uid: 65534,
            gid: 65534,
            gids: Vec::new(),
            permission: Permission::None,
        }
    }

    /// The user that logs in as `username` (SMB, NTLM), matched as Windows matches names:
    /// exactly, else ignoring ASCII case. `None` for an unknown user.
    fn user(&self, username: &str) -> Option<NamedUser> {
        let _ = username;
        None
    }

    /// Whether sessions without credentials (SMB guest and anonymous logons) may be set up at
    /// all; each share then decides with its own `allow_guest` through [`Resolver::guest`].
    fn guest_enabled(&self) -> bool {
        false
    }
}

/// A user that can log in by name (SMB): the NT hash NTLM verifies against, and the ids the
/// session then acts with, so files it creates have the owners NFS shows.
#[derive(Clone, PartialEq, Eq)]
pub struct NamedUser {
    /// The configured spelling of the name.
    pub name: Arc<str>,
    /// The NT hash (MD4 of the UTF-16LE password); `None` for a user without a password, who
    /// cannot log in by name.
    pub nt_hash: Option<[u8; 16]>,
    /// The user's uid.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
    /// The gids of the groups the user is a member of (without the primary one).
    pub gids: Vec<u32>,
}

impl std::fmt::Debug for NamedUser {
    /// Never prints the NT hash: it is as good as the password to NTLM.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NamedUser")
            .field("name", &self.name)
            .field("nt_hash", &self.nt_hash.map(|_| "<redacted>"))
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("gids", &self.gids)
            .finish()
    }
}

impl std::fmt::Display for Permission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "none",
            Self::Read => "read",
            Self::ReadWrite => "read-write",
        })
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
