//! The dispatcher: everything between a complete RPC record and a program's handler. It
//! decodes the ONC RPC call header, checks credentials and versions, applies the export rules
//! (client networks, privileged ports), runs non-idempotent NFS calls through the duplicate
//! request cache and routes each call to the portmapper, MOUNT, the lock manager and status
//! monitor (NLM, NSM) or a share actor.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use protocol::drc::{Drc, DrcKey, DrcLookup};
use protocol::nfs3::NfsStat3;
use protocol::rpc::{self, AcceptStat, CallError, CallHeader, Credentials};
use tokio::sync::OwnedSemaphorePermit;

use super::export::Exports;
use super::filehandle::FileHandleCodec;
use super::mount::{self, MountCtx};
use super::nlm::NlmService;
use super::rpc::{
    ByteBudget, ConnInfo, PROG_MOUNT, PROG_NFS, PROG_NLM, PROG_NSM, PROG_PORTMAP, reply,
};
use super::{nfs3, portmap};
use crate::runtime::Env;
use crate::server::share::foreign::Foreign;

/// Entries in the duplicate request cache, server-wide. A WRITE reply is ~150 bytes, so this
/// is well under a megabyte.
const DRC_CAPACITY: usize = 8192;
/// How long a reply stays replayable: longer than Linux's retransmission schedule
/// (`timeo=600,retrans=2`: 60 s, 120 s).
const DRC_TTL: Duration = Duration::from_secs(300);

/// Routes calls. Shared by every connection of a server.
pub(crate) struct Dispatcher {
    env: Env,
    exports: Exports,
    codec: FileHandleCodec,
    request_bytes: ByteBudget,
    reply_bytes: ByteBudget,
    drc: Mutex<Drc<IpAddr, Bytes>>,
    mounts: mount::MountTable,
    portmap: portmap::Registry,
    nlm: std::sync::Arc<NlmService>,
    /// Other protocols' caching and watches, respected by changes
    /// ([`crate::server::share::foreign`]).
    foreign: std::sync::Arc<dyn Foreign>,
}

impl Dispatcher {
    /// `bytes_max`: the budgets of request bytes held and of reply bytes not yet written.
    pub(crate) fn new(
        env: Env,
        exports: Exports,
        codec: FileHandleCodec,
        nfs_port: u16,
        (request_bytes_max, reply_bytes_max): (usize, usize),
        nlm: std::sync::Arc<NlmService>,
        foreign: std::sync::Arc<dyn Foreign>,
    ) -> Self {
        Self {
            env,
            exports,
            codec,
            request_bytes: ByteBudget::new(request_bytes_max),
            reply_bytes: ByteBudget::new(reply_bytes_max),
            drc: Mutex::new(Drc::new(DRC_CAPACITY, DRC_TTL)),
            mounts: mount::MountTable::default(),
            portmap: portmap::Registry::new(nfs_port),
            nlm,
            foreign,
        }
    }

    /// Reserves room for a record of `len` bytes in the server-wide budget of request bytes
    /// being held. Connections call this before they read further, so the memory held by
    /// requests is bounded by `request_bytes_max` plus one unreserved record per connection.
    pub(crate) async fn reserve(&self, len: usize) -> OwnedSemaphorePermit {
        self.request_bytes.reserve(len).await
    }

    /// Reserves room for a reply of `len` bytes in the server-wide budget of reply bytes not
    /// yet written to their sockets; the permit goes with the reply to the connection's writer,
    /// which drops it once the bytes are written. A reply that finds no room waits (so its
    /// connection stops reading once its window is full): backpressure, never a failure.
    pub(crate) async fn reserve_reply(&self, len: usize) -> OwnedSemaphorePermit {
        self.reply_bytes.reserve(len).await
    }

    /// Runs one record; `None` means no reply is sent (a duplicate still executing, or a
    /// record too broken to answer).
    pub(crate) async fn dispatch(&self, record: Bytes, conn: &ConnInfo) -> Option<Bytes> {
        let (call, args) = match rpc::decode_call(&record) {
            Ok(x) => x,
            Err(CallError::RpcMismatch { xid }) => {
                return Some(reply(|w| rpc::encode_rpc_mismatch(w, xid, 2, 2)));
            }
            Err(CallError::Garbage { xid: Some(xid), .. }) => {
                return Some(reply(|w| {
                    rpc::encode_accepted(w, xid, AcceptStat::GARBAGE_ARGS)
                }));
            }
            Err(e) => {
                tracing::debug!(error = %e, "undecodable RPC call dropped");
                return None;
            }
        };
        let xid = call.xid;
        let creds = match Credentials::from_call(&call) {
            Ok(c) => c,
            Err(stat) => return Some(reply(|w| rpc::encode_auth_error(w, xid, stat))),
        };
        let args = record.slice_ref(args);
        let span = tracing::debug_span!("call", xid = xid.0, prog = call.prog, proc_ = call.proc_);
        let _enter = span.enter();
        match call.prog {
            PROG_PORTMAP => Some(self.portmap.serve_call(&call, &args, conn)),
            PROG_MOUNT => {
                let cx = MountCtx {
                    exports: &self.exports,
                    codec: &self.codec,
                    mounts: &self.mounts,
                };
                Some(mount::serve_call(&cx, &call, &creds, &args, conn))
            }
            PROG_NFS => {
                let started = self.env.now();
                let out = self.nfs(&call, &creds, args, conn).await;
                crate::telemetry::request(
                    "nfs",
                    protocol::nfs3::Nfs3Proc::from_u32(call.proc_).map_or("unknown", |p| p.name()),
                    nfs_status(out.as_deref()),
                    self.env.now().duration_since(started),
                );
                out
            }
            PROG_NLM => Some(
                self.nlm
                    .serve_call(&self.exports, &self.codec, &call, &args, conn)
                    .await,
            ),
            PROG_NSM => {
                let (out, rebooted) = self.nlm.nsm().serve_call(&call, &args, conn);
                if let Some(host) = rebooted {
                    self.nlm.free_host(&self.exports, &host).await;
                }
                Some(out)
            }
            _ => Some(reply(|w| {
                rpc::encode_accepted(w, xid, AcceptStat::PROG_UNAVAIL)
            })),
        }
    }

    async fn nfs(
        &self,
        call: &CallHeader<'_>,
        creds: &Credentials,
        args: Bytes,
        conn: &ConnInfo,
    ) -> Option<Bytes> {
        let xid = call.xid;
        if call.vers != protocol::nfs3::VERSION {
            return Some(reply(|w| rpc::encode_prog_mismatch(w, xid, 3, 3)));
        }
        let Some(proc_) = protocol::nfs3::Nfs3Proc::from_u32(call.proc_) else {
            return Some(reply(|w| {
                rpc::encode_accepted(w, xid, AcceptStat::PROC_UNAVAIL)
            }));
        };
        if proc_ == protocol::nfs3::Nfs3Proc::Null {
            return Some(reply(|w| rpc::encode_accepted(w, xid, AcceptStat::SUCCESS)));
        }
        let fail = |stat: NfsStat3| {
            Some(reply(|w| {
                rpc::encode_accepted(w, xid, AcceptStat::SUCCESS);
                w.raw(&nfs3::error_reply(call.proc_, stat));
            }))
        };
        let Ok(fh) = nfs3::first_handle(&args) else {
            return Some(reply(|w| {
                rpc::encode_accepted(w, xid, AcceptStat::GARBAGE_ARGS)
            }));
        };
        let Some(share_id) = FileHandleCodec::peek_share(fh) else {
            return fail(NfsStat3::BADHANDLE);
        };
        let Some(entry) = self.exports.get(share_id) else {
            return fail(NfsStat3::STALE);
        };
        if !entry.rules.admits(conn) {
            tracing::info!(share = %entry.share.name, "client not admitted by the share's export rules");
            return fail(NfsStat3::ACCES);
        }
        // Resolved per call, so identity changes apply to mounted clients at once.
        let caller = entry.caller(self.exports.resolver(), creds);
        let drc_key = nfs3::is_non_idempotent(call.proc_).then(|| DrcKey {
            client: conn.peer.ip(),
            xid: xid.0,
            prog_vers_proc: (call.prog, call.vers, call.proc_),
            args_hash: args_digest(&args),
        });
        if let Some(key) = &drc_key {
            let now = self.env.now().into_std();
            let seen = self
                .drc
                .lock()
                .expect("DRC lock is never poisoned")
                .handle_call(key.clone(), now);
            match seen {
                DrcLookup::New => {}
                DrcLookup::InProgress => return None,
                DrcLookup::Replay(r) => {
                    tracing::debug!("retransmission answered from the duplicate request cache");
                    return Some(r);
                }
            }
        }
        let body = nfs3::serve_call(
            &entry.share.handle,
            &self.codec,
            &*self.foreign,
            &caller,
            call.proc_,
            &args,
        )
        .await;
        let out = match body {
            Some(mut body) => {
                // The result sits behind REPLY_HEAD reserved bytes: fill in the header there
                // rather than copying the result (up to 1 MiB) behind a new one.
                let head = reply(|w| rpc::encode_accepted(w, xid, AcceptStat::SUCCESS));
                debug_assert_eq!(head.len(), nfs3::REPLY_HEAD);
                body[..nfs3::REPLY_HEAD].copy_from_slice(&head);
                Bytes::from(body)
            }
            None => reply(|w| rpc::encode_accepted(w, xid, AcceptStat::GARBAGE_ARGS)),
        };
        if let Some(key) = &drc_key {
            self.drc
                .lock()
                .expect("DRC lock is never poisoned")
                .complete(key, out.clone());
        }
        Some(out)
    }
}

/// The status label of an NFS reply (`out`: the RPC reply, `None` when none is sent): the
/// NFSv3 status of an accepted call, else the RPC outcome.
fn nfs_status(out: Option<&[u8]>) -> &'static str {
    let Some(out) = out else {
        return "no_reply";
    };
    let word = |at: usize| {
        out.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    // xid, REPLY, MSG_ACCEPTED, verifier (flavor, empty body), accept_stat: REPLY_HEAD bytes.
    match (word(8), word(nfs3::REPLY_HEAD - 4)) {
        (Some(0), Some(0)) => match word(nfs3::REPLY_HEAD) {
            Some(stat) => NfsStat3(stat).name().unwrap_or("unknown"),
            // NULL answers nothing but success.
            None => "NFS3_OK",
        },
        (Some(0), Some(_)) => "rpc_not_accepted",
        _ => "rpc_denied",
    }
}

/// Bytes of a call's arguments the duplicate request cache hashes, like knfsd's
/// `RC_CSUMLEN`: handles, offsets, counts and names all sit in the first 256 bytes, and
/// hashing a 1 MiB WRITE's data byte by byte cost a fifth of the server's CPU on sequential
/// writes.
const DRC_DIGEST_LEN: usize = 256;

/// What tells a retransmission (same arguments) from a reused xid (other arguments): a hash
/// of the first [`DRC_DIGEST_LEN`] bytes and the length.
fn args_digest(args: &[u8]) -> u64 {
    let head = &args[..args.len().min(DRC_DIGEST_LEN)];
    crate::runtime::fnv1a64(head) ^ (args.len() as u64).rotate_left(32)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the DRC digest tells calls apart by their leading bytes and length only, so a
    /// 1 MiB WRITE costs no more to key than a GETATTR. Method: vary the head, the length and
    /// the tail past DRC_DIGEST_LEN.
    #[test]
    fn args_digest_covers_head_and_length() {
        let a = vec![1u8; 1 << 20];
        let mut tail = a.clone();
        tail[DRC_DIGEST_LEN + 10] = 2;
        let mut head = a.clone();
        head[10] = 2;
        assert_eq!(
            args_digest(&a),
            args_digest(&tail),
            "bytes past the head are not hashed"
        );
        assert_ne!(args_digest(&a), args_digest(&head));
        assert_ne!(args_digest(&a), args_digest(&a[..a.len() - 4]));
        assert_ne!(args_digest(&[]), args_digest(&[0]));
    }
}
