//! The MOUNT v3 program (RFC 1813 Appendix I), served on the NFS port: hands out root handles
//! of the shares a client is admitted to and keeps the list of who mounted what.

use std::collections::BTreeSet;
use std::sync::Mutex;

use bytes::Bytes;
use protocol::mount3::{self, MountProc, MountStat3};
use protocol::rpc::{self, AcceptStat, AuthFlavor, CallHeader, Credentials};

use super::export::Exports;
use super::filehandle::{FileHandle, FileHandleCodec};
use super::rpc::{ConnInfo, reply};

/// Who mounted what (for DUMP): client host and export path. Bounded: one entry per client
/// address and share.
#[derive(Debug, Default)]
pub(crate) struct MountTable {
    entries: Mutex<BTreeSet<(String, String)>>,
}

/// Mount list entries we keep at most; beyond this the oldest are not tracked (DUMP is advisory
/// per RFC 1813 §5.2.3).
const MOUNT_TABLE_MAX: usize = 4096;

impl MountTable {
    fn add(&self, host: String, dir: String) {
        let mut e = self
            .entries
            .lock()
            .expect("mount table lock is never poisoned");
        if e.len() < MOUNT_TABLE_MAX {
            e.insert((host, dir));
        }
    }

    fn remove(&self, host: &str, dir: &str) {
        let mut e = self
            .entries
            .lock()
            .expect("mount table lock is never poisoned");
        e.remove(&(host.to_owned(), dir.to_owned()));
    }

    fn remove_all(&self, host: &str) {
        let mut e = self
            .entries
            .lock()
            .expect("mount table lock is never poisoned");
        e.retain(|(h, _)| h != host);
    }

    fn list(&self) -> Vec<(String, String)> {
        self.entries
            .lock()
            .expect("mount table lock is never poisoned")
            .iter()
            .cloned()
            .collect()
    }
}

/// What MOUNT needs from the server: the exports, the file handle codec (root handles) and
/// the mount table.
pub(crate) struct MountCtx<'a> {
    pub(crate) exports: &'a Exports,
    pub(crate) codec: &'a FileHandleCodec,
    pub(crate) mounts: &'a MountTable,
}

/// Serves one MOUNT call.
pub(crate) fn serve_call(
    d: &MountCtx<'_>,
    call: &CallHeader<'_>,
    creds: &Credentials,
    args: &Bytes,
    conn: &ConnInfo,
) -> Bytes {
    let xid = call.xid;
    if call.vers != mount3::VERSION {
        return reply(|w| rpc::encode_prog_mismatch(w, xid, 3, 3));
    }
    let Some(proc_) = MountProc::from_u32(call.proc_) else {
        return reply(|w| rpc::encode_accepted(w, xid, AcceptStat::PROC_UNAVAIL));
    };
    let garbage = || reply(|w| rpc::encode_accepted(w, xid, AcceptStat::GARBAGE_ARGS));
    let host = conn.peer.ip().to_string();
    match proc_ {
        MountProc::Null => reply(|w| rpc::encode_accepted(w, xid, AcceptStat::SUCCESS)),
        MountProc::Mnt => {
            let Ok(path) = mount3::decode_dirpath(args) else {
                return garbage();
            };
            let res = mnt(d, path, creds, conn);
            if res.is_ok() {
                // Record the export's own name, not the client's spelling ("/export/"), so
                // DUMP lists real exports and a later UMNT of either spelling removes it.
                d.mounts.add(host, export_name(path).into_owned());
            }
            reply(|w| {
                rpc::encode_accepted(w, xid, AcceptStat::SUCCESS);
                mount3::encode_mnt_res(w, &res);
            })
        }
        MountProc::Dump => {
            if !args.is_empty() {
                return garbage();
            }
            let list = d.mounts.list();
            reply(|w| {
                rpc::encode_accepted(w, xid, AcceptStat::SUCCESS);
                mount3::encode_mount_list(
                    w,
                    list.iter().map(|(h, p)| (h.as_bytes(), p.as_bytes())),
                );
            })
        }
        MountProc::Umnt => {
            let Ok(path) = mount3::decode_dirpath(args) else {
                return garbage();
            };
            d.mounts.remove(&host, &export_name(path));
            reply(|w| rpc::encode_accepted(w, xid, AcceptStat::SUCCESS))
        }
        MountProc::Umntall => {
            if !args.is_empty() {
                return garbage();
            }
            d.mounts.remove_all(&host);
            reply(|w| rpc::encode_accepted(w, xid, AcceptStat::SUCCESS))
        }
        MountProc::Export => {
            if !args.is_empty() {
                return garbage();
            }
            let exports: Vec<(String, Vec<String>)> = d
                .exports
                .iter()
                .map(|e| {
                    (
                        e.share.name.clone(),
                        e.rules
                            .allowed_clients
                            .iter()
                            .map(ToString::to_string)
                            .collect(),
                    )
                })
                .collect();
            reply(|w| {
                rpc::encode_accepted(w, xid, AcceptStat::SUCCESS);
                mount3::encode_exports(
                    w,
                    exports
                        .iter()
                        .map(|(dir, groups)| (dir.as_bytes(), groups.iter().map(|g| g.as_bytes()))),
                );
            })
        }
    }
}

/// The export a MNT or UMNT path names: clients may write it with trailing slashes.
fn export_name(path: &[u8]) -> std::borrow::Cow<'_, str> {
    let path = String::from_utf8_lossy(path);
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() || trimmed.len() == path.len() {
        return path;
    }
    std::borrow::Cow::Owned(trimmed.to_owned())
}

/// MNT: the root handle of the share named `path`, if the client is admitted and identity
/// gives the caller any permission on it.
fn mnt(
    d: &MountCtx<'_>,
    path: &[u8],
    creds: &Credentials,
    conn: &ConnInfo,
) -> Result<(Vec<u8>, Vec<AuthFlavor>), MountStat3> {
    if std::str::from_utf8(path).is_err() {
        return Err(MountStat3::NOENT);
    }
    let path = export_name(path);
    let Some(entry) = d.exports.by_name(&path) else {
        return Err(MountStat3::NOENT);
    };
    if !entry.rules.admits(conn) {
        tracing::info!(share = %path, "MNT refused by the share's export rules");
        return Err(MountStat3::ACCES);
    }
    if !entry
        .caller(d.exports.resolver(), creds)
        .permission
        .can_read()
    {
        tracing::info!(share = %path, "MNT refused: the caller has no permission on the share");
        return Err(MountStat3::ACCES);
    }
    let root = d.codec.encode(FileHandle {
        share: entry.share.handle.id(),
        node: entry.share.handle.root(),
    });
    Ok((
        root.to_vec(),
        vec![AuthFlavor::AUTH_SYS, AuthFlavor::AUTH_NONE],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: every spelling of an export maps to its one name, so the mount table (DUMP) holds
    /// real export names and UMNT removes what MNT added. Found by tests/tests/nfs3_client.rs.
    #[test]
    fn export_names_drop_trailing_slashes() {
        assert_eq!(export_name(b"/export"), "/export");
        assert_eq!(export_name(b"/export/"), "/export");
        assert_eq!(export_name(b"/export//"), "/export");
        assert_eq!(export_name(b"/"), "/");
    }
}
