//! The portmapper v2 (RFC 1833 §3), served on every listener (and on port 111 when the daemon
//! may bind it), so `mount -t nfs -o vers=3 host:/export` works without port options.
//!
//! It answers for our own programs and accepts SET/UNSET only from loopback clients, so a
//! remote peer cannot redirect clients elsewhere.

use std::collections::BTreeMap;
use std::sync::Mutex;

use bytes::Bytes;
use protocol::portmap::{self, Mapping, PortmapProc};
use protocol::rpc::{self, AcceptStat, CallHeader};

use super::rpc::{ConnInfo, PROG_MOUNT, PROG_NFS, PROG_NLM, PROG_NSM, PROG_PORTMAP, reply};

/// Registrations beyond our own we keep at most.
const REGISTRY_MAX: usize = 256;

/// The registration table, keyed by (program, version, protocol).
#[derive(Debug)]
pub(crate) struct Registry {
    map: Mutex<BTreeMap<(u32, u32, u32), u32>>,
}

impl Registry {
    /// Our own programs on `nfs_port` (TCP, the only transport served): NFS v3, MOUNT v3, the
    /// lock manager (NLM v4) and the status monitor (NSM v1).
    pub(crate) fn new(nfs_port: u16) -> Self {
        let port = u32::from(nfs_port);
        let tcp = portmap::IPPROTO_TCP;
        let map = BTreeMap::from([
            ((PROG_NFS, 3, tcp), port),
            ((PROG_MOUNT, 3, tcp), port),
            ((PROG_NLM, protocol::nlm4::VERSION, tcp), port),
            ((PROG_NSM, protocol::nsm::VERSION, tcp), port),
            ((PROG_PORTMAP, 2, tcp), 111),
        ]);
        Self {
            map: Mutex::new(map),
        }
    }

    /// Serves one portmapper call.
    pub(crate) fn serve_call(&self, call: &CallHeader<'_>, args: &Bytes, conn: &ConnInfo) -> Bytes {
        let xid = call.xid;
        if call.vers != portmap::VERSION {
            return reply(|w| rpc::encode_prog_mismatch(w, xid, 2, 2));
        }
        let garbage = || reply(|w| rpc::encode_accepted(w, xid, AcceptStat::GARBAGE_ARGS));
        let ok = |f: &dyn Fn(&mut protocol::xdr::Writer)| {
            reply(|w| {
                rpc::encode_accepted(w, xid, AcceptStat::SUCCESS);
                f(w);
            })
        };
        let mut map = self.map.lock().expect("portmap lock is never poisoned");
        match PortmapProc::from_u32(call.proc_) {
            Some(PortmapProc::Null) => ok(&|_| {}),
            Some(PortmapProc::Set) => {
                let Ok(m) = portmap::decode_mapping(args) else {
                    return garbage();
                };
                let allowed = conn.peer.ip().is_loopback() && map.len() < REGISTRY_MAX;
                let key = (m.prog, m.vers, m.prot);
                let done = allowed && !map.contains_key(&key);
                if done {
                    map.insert(key, m.port);
                }
                ok(&|w| w.bool(done))
            }
            Some(PortmapProc::Unset) => {
                let Ok(m) = portmap::decode_mapping(args) else {
                    return garbage();
                };
                let ours =
                    [PROG_NFS, PROG_MOUNT, PROG_PORTMAP, PROG_NLM, PROG_NSM].contains(&m.prog);
                let mut done = false;
                if conn.peer.ip().is_loopback() && !ours {
                    let before = map.len();
                    map.retain(|&(p, v, _), _| !(p == m.prog && v == m.vers));
                    done = map.len() != before;
                }
                ok(&|w| w.bool(done))
            }
            Some(PortmapProc::Getport) => {
                let Ok(m) = portmap::decode_mapping(args) else {
                    return garbage();
                };
                let port = map.get(&(m.prog, m.vers, m.prot)).copied().unwrap_or(0);
                ok(&|w| w.u32(port))
            }
            Some(PortmapProc::Dump) => {
                if !args.is_empty() {
                    return garbage();
                }
                let list: Vec<Mapping> = map
                    .iter()
                    .map(|(&(prog, vers, prot), &port)| Mapping {
                        prog,
                        vers,
                        prot,
                        port,
                    })
                    .collect();
                ok(&|w| portmap::encode_dump(w, &list))
            }
            // CALLIT forwards calls to other programs: an amplification vector we do not offer.
            Some(PortmapProc::Callit) | None => {
                reply(|w| rpc::encode_accepted(w, xid, AcceptStat::PROC_UNAVAIL))
            }
        }
    }
}
