//! Stored Windows security descriptors, as Samba's `vfs_acl_xattr` keeps them, on top of the
//! POSIX mode that stays the truth for NFS.
//!
//! A descriptor a client sets (SET_INFO security with a DACL, or the SecD context at CREATE),
//! or one a new node inherits from a parent that has one, is stored whole (self-relative) in
//! the node's `dittofs.ntacl` extended attribute with a fingerprint of the node's mode, owner
//! and group at that moment ([`protocol::smb2::acl::StoredSd`]). The mode, owner and group are
//! still set to the closest POSIX equivalent ([`protocol::smb2::acl::closest_mode`]), so NFS
//! sees what it can of the ACL.
//!
//! The rule that keeps the two views honest: a stored descriptor is used only while the node's
//! mode (`0o7777`), owner and group equal its fingerprint. When NFS (or anything else) chmods or
//! chowns the node, the fingerprint no longer matches, the stored descriptor is ignored, and the
//! descriptor is synthesized from the mode again ([`protocol::smb2::security::from_mode`]); the
//! next descriptor a client sets replaces the stale one.
//!
//! A stored descriptor only ever narrows access: CREATE grants the intersection of what the
//! mode bits and the share permission allow and what the descriptor's DACL allows
//! ([MS-DTYP] 2.5.3.2 access check), with [MS-FSA] 2.1.5.1.2.1's two parent rules (DELETE is
//! also granted by FILE_DELETE_CHILD on the parent, FILE_READ_ATTRIBUTES by
//! FILE_LIST_DIRECTORY). Root (uid 0) is not checked against descriptors, as in Samba.

use bytes::Bytes;
use protocol::smb2::acl::{self, Fingerprint, StoredSd, Token};
use protocol::smb2::security::SecurityDescriptor;
use protocol::smb2::status::NtStatus;
use stores::Attr;

use super::files::failed;
use crate::server::share::{Caller, Node, ShareHandle};

/// The attribute name, as the store API takes it.
fn name() -> Bytes {
    Bytes::from_static(StoredSd::XATTR.as_bytes())
}

/// The token a caller's access is checked with: its unix user and groups, Everyone, and
/// Authenticated Users unless the session is anonymous.
pub(crate) fn token(caller: &Caller) -> Token {
    Token::unix(caller.uid, caller.gid, &caller.gids, caller.user.is_some())
}

/// The descriptor stored for `a`, if there is one and its fingerprint matches `a`'s mode,
/// owner and group. A value that does not decode is treated as absent (and logged): the
/// synthesized descriptor is always a safe answer.
pub(crate) async fn stored(
    share: &ShareHandle,
    caller: &Caller,
    a: &Attr,
) -> Result<Option<SecurityDescriptor>, NtStatus> {
    let Some(bytes) = share
        .xattr(caller.clone(), Node::from(a), name())
        .await
        .map_err(failed)?
    else {
        return Ok(None);
    };
    match StoredSd::decode(&bytes) {
        Ok(s) => Ok(s.current(a.mode, a.uid, a.gid).cloned()),
        Err(e) => {
            tracing::warn!(ino = a.ino.0, error = %e, "ignoring an undecodable dittofs.ntacl");
            Ok(None)
        }
    }
}

/// Stores `sd` for `a` (whose attributes are those after any mode / owner change the
/// descriptor caused), fingerprinted with them.
pub(crate) async fn store(
    share: &ShareHandle,
    caller: &Caller,
    a: &Attr,
    sd: &SecurityDescriptor,
) -> Result<(), NtStatus> {
    let value = StoredSd {
        fingerprint: Fingerprint {
            mode: a.mode & 0o7777,
            uid: a.uid,
            gid: a.gid,
        },
        sd: sd.clone(),
    }
    .encode();
    share
        .set_xattr(caller.clone(), Node::from(a), name(), value)
        .await
        .map_err(failed)?;
    Ok(())
}

/// Forgets the stored descriptor of `a` (the synthesized one says the same).
pub(crate) async fn forget(share: &ShareHandle, caller: &Caller, a: &Attr) -> Result<(), NtStatus> {
    share
        .remove_xattr(caller.clone(), Node::from(a), name())
        .await
        .map_err(failed)?;
    Ok(())
}

/// The rights a stored descriptor leaves of `mode_granted` (what the mode bits and the share
/// permission give `caller` on `a`): `mode_granted` itself when `a` has no current stored
/// descriptor or the caller is root; otherwise its intersection with the DACL's maximum, where
/// DELETE also comes from FILE_DELETE_CHILD on `parent_granted` and FILE_READ_ATTRIBUTES
/// from FILE_LIST_DIRECTORY ([MS-FSA] 2.1.5.1.2.1). `parent_granted` is `None` for the share
/// root.
pub(crate) fn narrow(
    mode_granted: u32,
    sd: Option<&SecurityDescriptor>,
    caller: &Caller,
    parent_granted: Option<u32>,
) -> u32 {
    use protocol::smb2::security::access::*;
    let Some(sd) = sd.filter(|_| caller.uid != 0) else {
        return mode_granted;
    };
    let mut max = acl::maximum_allowed(sd, &token(caller));
    if let Some(p) = parent_granted {
        if p & FILE_DELETE_CHILD != 0 {
            max |= DELETE;
        }
        if p & FILE_READ_DATA != 0 {
            max |= FILE_READ_ATTRIBUTES;
        }
    }
    mode_granted & max
}
