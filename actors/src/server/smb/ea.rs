//! SMB extended attributes (EAs, [MS-FSCC] 2.4.15) over the share's extended attributes: an
//! EA named N is the extended attribute `user.N` (the namespace Linux gives user attributes,
//! so NFSv4.2 and local tools would see the same ones). EA names are ASCII and compared
//! ignoring case, as Windows compares them; each keeps the spelling it was first set with.

use bytes::Bytes;
use protocol::smb2::fscc::FullEa;
use protocol::smb2::status::NtStatus;

use super::attrs::EA_PREFIX;
use super::files::failed;
use crate::server::share::{Caller, Node, ShareHandle};

/// The longest EA name ([MS-FSCC] 2.4.15: EaNameLength is one byte).
const EA_NAME_MAX: usize = 255;

/// Checks EA names before anything is stored: 1 to 255 bytes of printable ASCII without the
/// characters Windows refuses in EA names ([MS-FSCC] 2.4.15, the FAT rules NTFS keeps).
pub(crate) fn check(entries: &[FullEa]) -> Result<(), NtStatus> {
    for e in entries {
        let bad = e.name.is_empty()
            || e.name.len() > EA_NAME_MAX
            || e.name
                .iter()
                .any(|&c| !(0x20..0x7f).contains(&c) || b"\"*+,/:;<=>?[\\]|".contains(&c));
        if bad {
            return Err(NtStatus::INVALID_EA_NAME);
        }
        if e.value.len() > usize::from(u16::MAX) {
            return Err(NtStatus::INVALID_PARAMETER);
        }
    }
    Ok(())
}

/// The stored name of EA `name`.
fn xattr_name(name: &[u8]) -> Bytes {
    let mut n = EA_PREFIX.to_vec();
    n.extend_from_slice(name);
    Bytes::from(n)
}

/// The EA names `node` has, as stored (without the prefix), in name order.
async fn names(share: &ShareHandle, caller: &Caller, node: Node) -> Result<Vec<Vec<u8>>, NtStatus> {
    Ok(share
        .list_xattrs(caller.clone(), node)
        .await
        .map_err(failed)?
        .into_iter()
        .filter_map(|e| e.name.strip_prefix(EA_PREFIX).map(<[u8]>::to_vec))
        .collect())
}

/// The EAs of `node`: every one when `wanted` is empty, else those named (ignoring case),
/// in that order, a missing one with an empty value (as Windows answers a
/// FILE_GET_EA_INFORMATION list).
pub(crate) async fn read(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    wanted: &[Vec<u8>],
) -> Result<Vec<FullEa>, NtStatus> {
    let stored = names(share, caller, node).await?;
    let picks: Vec<(Vec<u8>, Option<Vec<u8>>)> = if wanted.is_empty() {
        stored.into_iter().map(|n| (n.clone(), Some(n))).collect()
    } else {
        wanted
            .iter()
            .map(|w| {
                let found = stored.iter().find(|s| s.eq_ignore_ascii_case(w)).cloned();
                (w.clone(), found)
            })
            .collect()
    };
    let mut out = Vec::with_capacity(picks.len());
    for (name, found) in picks {
        let value = match found {
            Some(stored_name) => share
                .xattr(caller.clone(), node, xattr_name(&stored_name))
                .await
                .map_err(failed)?
                .unwrap_or_default(),
            None => Vec::new(),
        };
        out.push(FullEa {
            flags: 0,
            name,
            value,
        });
    }
    Ok(out)
}

/// Applies `entries` (checked with [`check`]) to `node`: an empty value removes the EA, any
/// other sets it; an EA that exists in another case keeps its spelling (as Samba keeps it).
pub(crate) async fn write(
    share: &ShareHandle,
    caller: &Caller,
    node: Node,
    entries: &[FullEa],
) -> Result<(), NtStatus> {
    let mut stored = names(share, caller, node).await?;
    for e in entries {
        let existing = stored.iter().position(|s| s.eq_ignore_ascii_case(&e.name));
        if e.value.is_empty() {
            if let Some(i) = existing {
                share
                    .remove_xattr(caller.clone(), node, xattr_name(&stored[i]))
                    .await
                    .map_err(failed)?;
                stored.remove(i);
            }
            continue;
        }
        let name = match existing {
            Some(i) => stored[i].clone(),
            None => {
                stored.push(e.name.clone());
                e.name.clone()
            }
        };
        share
            .set_xattr(caller.clone(), node, xattr_name(&name), e.value.clone())
            .await
            .map_err(failed)?;
    }
    Ok(())
}
