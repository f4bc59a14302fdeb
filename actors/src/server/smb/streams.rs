//! Named data streams (alternate data streams, [MS-FSCC] 2.1.5.1, 2.4.44) kept as Samba's
//! `vfs_streams_xattr` keeps them: each named `$DATA` stream of a file or directory is one
//! extended attribute of the node, `dittofs.stream.<name>`, whose value is the stream's data.
//! So a stream lives and dies with its node (hard links share it, a rename carries it, the
//! last unlink frees it) and NFS never sees it.
//!
//! Names keep the spelling they were created with and are found ignoring case (Unicode
//! lowercase, as file names are). The `dittofs.` namespace is the server's own: EAs are
//! `user.` attributes (super::ea), so no client reaches a stream through its EAs.
//!
//! Bounds: a stream holds at most [`STREAM_SIZE_MAX`] bytes (the store's largest extended
//! attribute value, 64 KiB) and a node's extended attributes together at most 1 MiB; a write or
//! size change past either answers STATUS_DISK_FULL, as Samba's `streams_xattr` does. A write or
//! resize is one in-place edit in the share ([`ShareHandle::edit_xattr`]), serialized with the
//! node's other extended-attribute changes, so concurrent writes to one stream all land.

use bytes::Bytes;
use protocol::smb2::status::NtStatus;
use stores::{StoreError, XATTR_VALUE_MAX};

use super::files::failed;
use crate::server::share::actor::Failure;
use crate::server::share::{Caller, Node, OpError, ShareHandle, XattrEdit};

/// The extended-attribute prefix of named streams.
pub(crate) const STREAM_PREFIX: &[u8] = b"dittofs.stream.";

/// The largest stream (the store's largest extended attribute value).
pub(crate) const STREAM_SIZE_MAX: u64 = XATTR_VALUE_MAX as u64;

/// One named stream of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamEntry {
    /// Its name as stored.
    pub(crate) name: String,
    /// Its size in bytes.
    pub(crate) size: u64,
}

/// The extended-attribute name of stream `name`.
fn xattr_name(name: &str) -> Bytes {
    let mut n = STREAM_PREFIX.to_vec();
    n.extend_from_slice(name.as_bytes());
    Bytes::from(n)
}

/// The status of a failed stream change: a stream or node past its bound is a full disk
/// (Samba's answer), the rest as for any share operation.
fn write_failed(f: Failure) -> NtStatus {
    match f.error {
        OpError::Store(StoreError::XattrTooLarge) => NtStatus::DISK_FULL,
        _ => failed(f),
    }
}

/// The named streams of `node`, in name order.
pub(crate) async fn list(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
) -> Result<Vec<StreamEntry>, NtStatus> {
    Ok(share
        .list_xattrs(caller.clone(), node)
        .await
        .map_err(failed)?
        .into_iter()
        .filter_map(|e| {
            let name = e.name.strip_prefix(STREAM_PREFIX)?;
            Some(StreamEntry {
                name: String::from_utf8(name.to_vec()).ok()?,
                size: u64::from(e.len),
            })
        })
        .collect())
}

/// The stream of `node` whose name equals `name` ignoring case, if any.
pub(crate) async fn find(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    name: &str,
) -> Result<Option<StreamEntry>, NtStatus> {
    let all = list(share, caller, node).await?;
    if let Some(exact) = all.iter().find(|s| s.name == name) {
        return Ok(Some(exact.clone()));
    }
    let folded = name.to_lowercase();
    Ok(all.into_iter().find(|s| s.name.to_lowercase() == folded))
}

/// The data of stream `name` (as stored) of `node`; a stream removed meanwhile is
/// STATUS_FILE_CLOSED, as for a node.
async fn value(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    name: &str,
) -> Result<Vec<u8>, NtStatus> {
    share
        .xattr(caller.clone(), node, xattr_name(name))
        .await
        .map_err(failed)?
        .ok_or(NtStatus::FILE_CLOSED)
}

/// The size of stream `name`; 0 when it is gone.
pub(crate) async fn size(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    name: &str,
) -> Result<u64, NtStatus> {
    Ok(find(share, caller, node, name).await?.map_or(0, |s| s.size))
}

/// Up to `len` bytes of stream `name` at `offset` (fewer at its end).
pub(crate) async fn read(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    name: &str,
    offset: u64,
    len: u32,
) -> Result<Bytes, NtStatus> {
    let v = value(share, caller, node, name).await?;
    let start = usize::try_from(offset).unwrap_or(usize::MAX).min(v.len());
    let end = start.saturating_add(len as usize).min(v.len());
    Ok(Bytes::copy_from_slice(&v[start..end]))
}

/// Writes `data` at `offset` of stream `name` (a gap is zeros); returns the stream's size
/// before and after. The share changes the value in place, so writes to one stream from
/// several opens at once all land.
pub(crate) async fn write(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    name: &str,
    offset: u64,
    data: &[u8],
) -> Result<(u64, u64), NtStatus> {
    let change = XattrEdit::WriteAt {
        offset,
        data: Bytes::copy_from_slice(data),
    };
    edit(share, caller, node, name, change).await
}

/// Sets the size of stream `name` (cut, or extended with zeros).
pub(crate) async fn set_size(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    name: &str,
    size: u64,
) -> Result<(), NtStatus> {
    edit(share, caller, node, name, XattrEdit::SetLen(size))
        .await
        .map(|_| ())
}

/// Applies `edit` to stream `name`: its size before and after. Past [`STREAM_SIZE_MAX`] it is
/// STATUS_DISK_FULL; a stream removed meanwhile is STATUS_FILE_CLOSED, as for a node.
async fn edit(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    name: &str,
    change: XattrEdit,
) -> Result<(u64, u64), NtStatus> {
    share
        .edit_xattr(
            caller.clone(),
            node,
            xattr_name(name),
            change,
            STREAM_SIZE_MAX,
        )
        .await
        .map_err(|f| match f.error {
            OpError::TooBig => NtStatus::DISK_FULL,
            _ => write_failed(f),
        })?
        .ok_or(NtStatus::FILE_CLOSED)
}

/// Creates stream `name` of `node` empty (or empties it: overwrite, supersede).
pub(crate) async fn create(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    name: &str,
) -> Result<(), NtStatus> {
    share
        .set_xattr(caller.clone(), node, xattr_name(name), Vec::new())
        .await
        .map_err(write_failed)?;
    Ok(())
}

/// Removes stream `name` of `node` (a missing one is no change).
pub(crate) async fn remove(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    name: &str,
) -> Result<(), NtStatus> {
    share
        .remove_xattr(caller.clone(), node, xattr_name(name))
        .await
        .map_err(failed)?;
    Ok(())
}

/// Renames stream `from` of `node` to `to`: the data moves to the new name (replacing a
/// stream of that name), then the old name goes.
pub(crate) async fn rename(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    from: &str,
    to: &str,
) -> Result<(), NtStatus> {
    let v = value(share, caller, node, from).await?;
    share
        .set_xattr(caller.clone(), node, xattr_name(to), v)
        .await
        .map_err(write_failed)?;
    remove(share, caller, node, from).await
}

/// The 64-bit FNV-1a hash of `name` folded to lowercase, never 0: what tells the open table
/// one stream of a node from another (0 is the node's own data). Two names of one node that
/// hash alike would share share modes and oplocks, at worst a spurious sharing violation.
pub(crate) fn key(name: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.to_lowercase().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h.max(1)
}

#[cfg(test)]
mod tests {
    use super::key;

    /// Goal: stream keys ignore case, differ between names and are never the node's own (0).
    #[test]
    fn keys() {
        assert_eq!(key("Stream One"), key("stream one"));
        assert_ne!(key("a"), key("b"));
        assert_ne!(key(""), 0);
    }
}
