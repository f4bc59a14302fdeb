//! The MOUNT v3 program (RFC 1813 Appendix I), served on the NFS port: hands out root handles
//! of the shares a client is admitted to and keeps the list of who mounted what.

use std::collections::BTreeSet;
use std::sync::Mutex;

use bytes::Bytes;
use protocol::mount3::{self, MountProc, MountStat3};
use protocol::rpc::{self, AcceptStat, AuthFlavor, CallHeader, Credentials};

use super::connection::ConnInfo;
use super::dispatch::{Dispatcher, reply};

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

/// Handles one MOUNT call.
pub(crate) fn handle(
    d: &Dispatcher,
    call: &CallHeader<'_>,
    _creds: &Credentials,
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
            let res = mnt(d, path, conn);
            if res.is_ok() {
                d.mounts
                    .add(host, String::from_utf8_lossy(path).into_owned());
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
            d.mounts.remove(&host, &String::from_utf8_lossy(path));
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
                .shares
                .values()
                .map(|e| {
                    (
                        e.spec.name.clone(),
                        e.spec
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

/// MNT: the root handle of the share named `path`, if the client is admitted.
fn mnt(
    d: &Dispatcher,
    path: &[u8],
    conn: &ConnInfo,
) -> Result<(Vec<u8>, Vec<AuthFlavor>), MountStat3> {
    let path = std::str::from_utf8(path).map_err(|_| MountStat3::NOENT)?;
    // Clients may write the export with a trailing slash.
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    let Some(entry) = d.shares.values().find(|e| e.spec.name == path) else {
        return Err(MountStat3::NOENT);
    };
    if !entry.admits(conn) {
        tracing::info!(share = path, "MNT refused by the share's export rules");
        return Err(MountStat3::ACCES);
    }
    Ok((
        entry.handle.root_handle.to_vec(),
        vec![AuthFlavor::AUTH_SYS, AuthFlavor::AUTH_NONE],
    ))
}
