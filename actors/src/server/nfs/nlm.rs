//! The Network Lock Manager v4 (program 100021), served on the NFS port: NFSv3 clients' fcntl
//! locks, mapped onto the share's byte-range lock manager (`share::locks`), so an NFS lock
//! and an SMB lock on the same bytes conflict.
//!
//! - Owner: `LockOwner::Nlm { host: caller_name, svid, owner: oh }`; POSIX rules among one
//!   owner's locks (replace, split, partial unlock). `l_len` 0 is "to the end of the file".
//! - TEST answers the first conflicting holder (an SMB holder shows as svid 0, empty `oh`).
//! - LOCK without `block` answers GRANTED or DENIED; with `block`, a conflicting request waits
//!   in the lock manager's FIFO queue and is answered BLOCKED. When it is granted, a task
//!   calls the client's NLM service (found through the client's portmapper) with
//!   NLM4_GRANTED, [`GRANTED_ATTEMPTS`] times at most. A client that cannot be reached still
//!   gets its lock: the Linux client re-sends a blocked LOCK every 30 s, and the re-sent LOCK
//!   of an owner that already holds the range is answered GRANTED.
//! - CANCEL takes a waiting request out of the queue (or unlocks a grant the client has not
//!   heard of yet); UNLOCK releases any sub-range.
//! - The `_MSG` forms run the same code and send the answer as the matching `_RES` call to
//!   the client's NLM service; `_RES` calls to us are acknowledged and ignored.
//! - SHARE / UNSHARE: DOS share reservations in a table of their own (bounded), checked
//!   against each other only: SMB's share modes live in the SMB open table, which NLM does
//!   not reach.
//! - FREE_ALL and a client's SM_NOTIFY free every lock, waiter and reservation of the host.
//! - After a restart that found monitored hosts (clients that held locks), a grace period of
//!   `NlmSettings::grace` in which only reclaims (LOCK/SHARE with `reclaim`) are served; every
//!   other request gets NLM4_DENIED_GRACE_PERIOD. A start with nobody to reclaim has none.
//!
//! Bounds: hosts ([`super::nsm::MONITORED_MAX`]), waiting requests per host
//! ([`WAITERS_PER_HOST_MAX`]) and in all ([`WAITERS_MAX`]), share reservations per host
//! ([`SHARES_PER_HOST_MAX`]) and in all ([`SHARES_MAX`]), callbacks in flight
//! ([`CALLBACKS_MAX`]); locks are bounded by the share lock manager (per owner and per share).

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use protocol::nlm4::{
    self, NetObj, Nlm4Holder, Nlm4Lock, Nlm4LockArgs, Nlm4Res, Nlm4ShareArgs, Nlm4ShareRes,
    Nlm4Stat, Nlm4TestArgs, Nlm4TestReply, Nlm4TestRes, NlmProc,
};
use protocol::rpc::{self, AcceptStat, CallHeader};
use protocol::wire::{Encode, encode_to_vec};
use rand::RngCore;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::export::Exports;
use super::filehandle::FileHandleCodec;
use super::nsm::{self, Nsm};
use super::rpc::{ConnInfo, reply};
use crate::runtime::Env;
use crate::server::share::foreign::{Foreign, Recall};
use crate::server::share::locks::{LockError, LockOwner, LockRange, Locked, Scope};
use crate::server::share::{Node, ShareHandle, ShareId};

/// Waiting (blocked) lock requests one client host may have at most.
pub(crate) const WAITERS_PER_HOST_MAX: usize = 256;
/// Waiting lock requests in all.
pub(crate) const WAITERS_MAX: usize = 4096;
/// Share reservations one host may hold at most.
pub(crate) const SHARES_PER_HOST_MAX: usize = 1024;
/// Share reservations in all.
pub(crate) const SHARES_MAX: usize = 16_384;
/// Callback tasks (GRANTED, `_RES`, SM_NOTIFY) running at once; past it a callback is
/// skipped (a blocked client re-polls; a `_MSG` client retransmits).
pub(crate) const CALLBACKS_MAX: usize = 64;
/// Tries of one GRANTED callback.
pub(crate) const GRANTED_ATTEMPTS: u32 = 3;
/// Pause between callback tries.
const CALLBACK_PAUSE: Duration = Duration::from_secs(1);

/// The lock manager's settings.
#[derive(Debug, Clone)]
pub struct NlmSettings {
    /// How long after a restart only lock reclaims are served (when clients held locks).
    pub grace: Duration,
    /// Where the NSM state number and monitored hosts are kept; `None`: in memory only.
    pub state_dir: Option<PathBuf>,
    /// Our name in SM_NOTIFY: clients match it against the name they mounted us by.
    pub server_name: String,
    /// The port of clients' portmappers (111; tests point it elsewhere).
    pub client_portmap_port: u16,
    /// Whether to call clients back at all (GRANTED, `_RES`, SM_NOTIFY). Off in the
    /// simulator, which has no outgoing connections.
    pub callbacks: bool,
}

impl Default for NlmSettings {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(45),
            state_dir: None,
            server_name: "dittofs".to_owned(),
            client_portmap_port: 111,
            callbacks: false,
        }
    }
}

/// A blocked request, by what identifies it in a CANCEL or a re-sent LOCK.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct BlockKey {
    share: ShareId,
    node: (u64, u64),
    owner: LockOwner,
    offset: u64,
    length: u64,
    exclusive: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BlockState {
    /// In the lock manager's queue as waiter `id`.
    Waiting(u64),
    /// Granted; the client has not confirmed the GRANTED callback yet.
    Granted,
}

/// A DOS share reservation.
#[derive(Debug, Clone)]
struct ShareRes {
    share: ShareId,
    node: (u64, u64),
    host: String,
    oh: Vec<u8>,
    mode: u32,
    access: u32,
}

#[derive(Debug, Default)]
struct Tables {
    blocked: BTreeMap<BlockKey, BlockState>,
    shares: Vec<ShareRes>,
}

/// The NLM service, shared by every connection.
pub(crate) struct NlmService {
    env: Env,
    settings: NlmSettings,
    nsm: Arc<Nsm>,
    grace_until: Instant,
    tables: Mutex<Tables>,
    callbacks: Arc<Semaphore>,
    xid: AtomicU32,
    /// Other protocols' caching, recalled before a lock is taken ([`Self::set_foreign`]).
    foreign: std::sync::OnceLock<Arc<dyn Foreign>>,
}

impl std::fmt::Debug for NlmService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NlmService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What one call resolved to, before the lock manager.
struct Target {
    handle: ShareHandle,
    share: ShareId,
    node: Node,
}

/// A lock range in the lock manager's terms, or why it has none.
fn range_of(l: &Nlm4Lock<'_>, exclusive: bool) -> Result<LockRange, Nlm4Stat> {
    let length = if l.l_len == 0 {
        // To the end of the file, whatever its size: up to the last offset.
        (u64::MAX - l.l_offset).max(1)
    } else {
        l.l_len
    };
    if !crate::server::share::locks::valid_range(l.l_offset, length) {
        return Err(Nlm4Stat::FBIG);
    }
    Ok(LockRange {
        offset: l.l_offset,
        length,
        exclusive,
    })
}

fn owner_of(l: &Nlm4Lock<'_>) -> LockOwner {
    LockOwner::Nlm {
        host: host_of(l.caller_name),
        svid: l.svid as u32,
        owner: l.oh.0.to_vec(),
    }
}

fn host_of(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn status_of(e: LockError) -> Nlm4Stat {
    match e {
        LockError::Conflict => Nlm4Stat::DENIED,
        LockError::InvalidRange => Nlm4Stat::FBIG,
        LockError::RangeNotLocked | LockError::Cancelled => Nlm4Stat::DENIED,
        LockError::NoLocks => Nlm4Stat::DENIED_NOLOCKS,
    }
}

impl NlmService {
    /// Opens the status monitor's state (bumping its number), starts the grace period if the
    /// previous run monitored clients, and sends them SM_NOTIFY in the background.
    pub(crate) async fn start(env: Env, settings: NlmSettings) -> std::io::Result<Arc<Self>> {
        let (nsm, restart) = Nsm::open(settings.state_dir.as_ref().map(|d| d.join("nsm"))).await?;
        let grace = if restart.hosts.is_empty() {
            Duration::ZERO
        } else {
            settings.grace
        };
        let seed = env.rng("nlm-xid").next_u32();
        let svc = Arc::new(Self {
            grace_until: env.now() + grace,
            env,
            settings,
            nsm: Arc::new(nsm),
            tables: Mutex::new(Tables::default()),
            callbacks: Arc::new(Semaphore::new(CALLBACKS_MAX)),
            xid: AtomicU32::new(seed),
            foreign: std::sync::OnceLock::new(),
        });
        if !restart.hosts.is_empty() {
            tracing::info!(
                hosts = restart.hosts.len(),
                state = restart.state,
                grace_secs = grace.as_secs_f64(),
                "lock manager restarted: grace period for lock reclaims, notifying clients"
            );
        }
        if svc.settings.callbacks {
            for (name, ip) in restart.hosts {
                let Ok(permit) = svc.callbacks.clone().try_acquire_owned() else {
                    break;
                };
                let s = svc.clone();
                tokio::spawn(async move {
                    let _permit = permit;
                    let xid = s.next_xid();
                    let r = nsm::notify_host(
                        ip,
                        s.settings.client_portmap_port,
                        &s.settings.server_name,
                        restart.state,
                        xid,
                        5,
                        Duration::from_secs(2),
                    )
                    .await;
                    match r {
                        Ok(()) => tracing::info!(host = name, %ip, "SM_NOTIFY sent"),
                        Err(e) => {
                            tracing::info!(host = name, %ip, error = %e, "SM_NOTIFY not delivered; the client's locks are not reclaimed")
                        }
                    }
                });
            }
        }
        Ok(svc)
    }

    /// The status monitor.
    pub(crate) fn nsm(&self) -> &Nsm {
        &self.nsm
    }

    fn next_xid(&self) -> u32 {
        // Several calls per callback (portmapper, then the call), so steps of 16.
        self.xid.fetch_add(16, Ordering::Relaxed)
    }

    fn in_grace(&self) -> bool {
        self.env.now() < self.grace_until
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, Tables> {
        self.tables
            .lock()
            .expect("NLM tables lock is never poisoned")
    }

    fn target(
        &self,
        exports: &Exports,
        codec: &FileHandleCodec,
        fh: NetObj<'_>,
        conn: &ConnInfo,
    ) -> Result<Target, Nlm4Stat> {
        let h = codec.decode(fh.0).map_err(|_| Nlm4Stat::STALE_FH)?;
        let entry = exports.get(h.share).ok_or(Nlm4Stat::STALE_FH)?;
        if !entry.rules.admits(conn) {
            return Err(Nlm4Stat::FAILED);
        }
        Ok(Target {
            handle: entry.share.handle.clone(),
            share: h.share,
            node: h.node,
        })
    }

    /// The share and node of lock `l`'s file handle ([`Self::target`]) and the range it names.
    fn locate(
        &self,
        exports: &Exports,
        codec: &FileHandleCodec,
        l: &Nlm4Lock<'_>,
        exclusive: bool,
        conn: &ConnInfo,
    ) -> Result<(Target, LockRange), Nlm4Stat> {
        let t = self.target(exports, codec, l.fh, conn)?;
        Ok((t, range_of(l, exclusive)?))
    }

    /// Serves one NLM call: the reply record body (every call is answered; a `_MSG` call with
    /// an empty result, its answer following as a `_RES` call).
    /// Tells the service whose caching a lock must recall first: an SMB client holding write
    /// caching (a lease with W, a batch or exclusive oplock) keeps its byte-range locks to
    /// itself, so before an NLM lock is decided the caching is broken and the client pushes
    /// its locks to the server ([MS-SMB2] 3.3.4.7; `share::foreign`).
    pub(crate) fn set_foreign(&self, foreign: Arc<dyn Foreign>) {
        let _ = self.foreign.set(foreign);
    }

    pub(crate) async fn serve_call(
        self: &Arc<Self>,
        exports: &Exports,
        codec: &FileHandleCodec,
        call: &CallHeader<'_>,
        args: &[u8],
        conn: &ConnInfo,
    ) -> Bytes {
        let xid = call.xid;
        if call.vers != nlm4::VERSION {
            return reply(|w| rpc::encode_prog_mismatch(w, xid, nlm4::VERSION, nlm4::VERSION));
        }
        let Some(p) = NlmProc::from_u32(call.proc_) else {
            return reply(|w| rpc::encode_accepted(w, xid, AcceptStat::PROC_UNAVAIL));
        };
        let Ok(c) = nlm4::decode_call(p.as_u32(), args) else {
            return reply(|w| rpc::encode_accepted(w, xid, AcceptStat::GARBAGE_ARGS));
        };
        let out = self.run(exports, codec, c, conn).await;
        let body = match out {
            Answer::Now(r) => r,
            Answer::Later(res_proc, r) => {
                // `_MSG`: the RPC reply is empty; the answer goes back as a `_RES` call.
                self.send_res(conn.peer.ip(), res_proc, r);
                nlm4::Reply::Void.encode_owned()
            }
        };
        reply(|w| {
            rpc::encode_accepted(w, xid, AcceptStat::SUCCESS);
            w.raw(&body);
        })
    }

    async fn run(
        self: &Arc<Self>,
        exports: &Exports,
        codec: &FileHandleCodec,
        c: nlm4::Call<'_>,
        conn: &ConnInfo,
    ) -> Answer {
        use nlm4::Call as C;
        let now = |r: nlm4::Reply<'_>| Answer::Now(r.encode_owned());
        let res =
            |cookie: NetObj<'_>, stat| nlm4::Reply::Res(Nlm4Res { cookie, stat }).encode_owned();
        match c {
            C::Null => now(nlm4::Reply::Void),
            C::Test(a) => now(nlm4::Reply::Test(
                self.test(exports, codec, &a, conn).await.as_res(a.cookie),
            )),
            C::TestMsg(a) => {
                let r = self.test(exports, codec, &a, conn).await;
                Answer::Later(
                    NlmProc::TestRes,
                    nlm4::Call::TestRes(r.as_res(a.cookie)).encode_owned(),
                )
            }
            C::Lock(a) => Answer::Now(res(
                a.cookie,
                self.lock(exports, codec, &a, conn, true).await,
            )),
            C::NmLock(a) => {
                let a = Nlm4LockArgs { block: false, ..a };
                Answer::Now(res(
                    a.cookie,
                    self.lock(exports, codec, &a, conn, false).await,
                ))
            }
            C::LockMsg(a) => {
                let stat = self.lock(exports, codec, &a, conn, true).await;
                Answer::Later(
                    NlmProc::LockRes,
                    nlm4::Call::LockRes(Nlm4Res {
                        cookie: a.cookie,
                        stat,
                    })
                    .encode_owned(),
                )
            }
            C::Cancel(a) => Answer::Now(res(
                a.cookie,
                self.cancel(exports, codec, &a.alock, a.exclusive, conn)
                    .await,
            )),
            C::CancelMsg(a) => {
                let stat = self
                    .cancel(exports, codec, &a.alock, a.exclusive, conn)
                    .await;
                Answer::Later(
                    NlmProc::CancelRes,
                    nlm4::Call::CancelRes(Nlm4Res {
                        cookie: a.cookie,
                        stat,
                    })
                    .encode_owned(),
                )
            }
            C::Unlock(a) => Answer::Now(res(
                a.cookie,
                self.unlock(exports, codec, &a.alock, conn).await,
            )),
            C::UnlockMsg(a) => {
                let stat = self.unlock(exports, codec, &a.alock, conn).await;
                Answer::Later(
                    NlmProc::UnlockRes,
                    nlm4::Call::UnlockRes(Nlm4Res {
                        cookie: a.cookie,
                        stat,
                    })
                    .encode_owned(),
                )
            }
            // We never hold client-side locks: a GRANTED to us is a mistake; answer DENIED.
            C::Granted(a) => Answer::Now(res(a.cookie, Nlm4Stat::DENIED)),
            C::GrantedMsg(a) => Answer::Later(
                NlmProc::GrantedRes,
                nlm4::Call::GrantedRes(Nlm4Res {
                    cookie: a.cookie,
                    stat: Nlm4Stat::DENIED,
                })
                .encode_owned(),
            ),
            C::TestRes(_)
            | C::LockRes(_)
            | C::CancelRes(_)
            | C::UnlockRes(_)
            | C::GrantedRes(_) => now(nlm4::Reply::Void),
            // The local status monitor's callback: only from loopback.
            C::SmNotify(s) => {
                if conn.peer.ip().is_loopback() {
                    self.free_host(exports, &host_of(s.mon_name)).await;
                }
                now(nlm4::Reply::Void)
            }
            C::FreeAll(n) => {
                self.free_host(exports, &host_of(n.name)).await;
                now(nlm4::Reply::Void)
            }
            C::Share(a) => {
                let stat = self.share(exports, codec, &a, conn).await;
                now(nlm4::Reply::Share(Nlm4ShareRes {
                    cookie: a.cookie,
                    stat,
                    sequence: 0,
                }))
            }
            C::Unshare(a) => {
                let stat = self.unshare(exports, codec, &a, conn);
                now(nlm4::Reply::Share(Nlm4ShareRes {
                    cookie: a.cookie,
                    stat,
                    sequence: 0,
                }))
            }
        }
    }

    async fn test(
        &self,
        exports: &Exports,
        codec: &FileHandleCodec,
        a: &Nlm4TestArgs<'_>,
        conn: &ConnInfo,
    ) -> TestOutcome {
        if self.in_grace() {
            return TestOutcome::Stat(Nlm4Stat::DENIED_GRACE_PERIOD);
        }
        let (t, range) = match self.locate(exports, codec, &a.alock, a.exclusive, conn) {
            Ok(found) => found,
            Err(s) => return TestOutcome::Stat(s),
        };
        match t.handle.test_lock(t.node, owner_of(&a.alock), range).await {
            Ok(None) => TestOutcome::Stat(Nlm4Stat::GRANTED),
            Ok(Some((holder, r))) => TestOutcome::Holder(holder, r),
            Err(e) => TestOutcome::Stat(status_of(e)),
        }
    }

    async fn lock(
        self: &Arc<Self>,
        exports: &Exports,
        codec: &FileHandleCodec,
        a: &Nlm4LockArgs<'_>,
        conn: &ConnInfo,
        may_block: bool,
    ) -> Nlm4Stat {
        if self.in_grace() != a.reclaim {
            // In grace only reclaims; after it, a reclaim comes too late (its lock may be
            // someone else's by now).
            return Nlm4Stat::DENIED_GRACE_PERIOD;
        }
        let (t, range) = match self.locate(exports, codec, &a.alock, a.exclusive, conn) {
            Ok(found) => found,
            Err(s) => return s,
        };
        let owner = owner_of(&a.alock);
        let host = host_of(a.alock.caller_name);
        let key = BlockKey {
            share: t.share,
            node: (t.node.ino.0, t.node.generation.0),
            owner: owner.clone(),
            offset: range.offset,
            length: range.length,
            exclusive: range.exclusive,
        };
        // A re-sent LOCK of a request that is waiting or was granted meanwhile.
        match self.tables().blocked.get(&key).copied() {
            Some(BlockState::Waiting(_)) => return Nlm4Stat::BLOCKED,
            Some(BlockState::Granted) => {
                self.tables().blocked.remove(&key);
                return Nlm4Stat::GRANTED;
            }
            None => {}
        }
        if !self.nsm.monitor(&host, conn.peer.ip()).await {
            return Nlm4Stat::DENIED_NOLOCKS;
        }
        let wait = a.block && may_block && {
            let tables = self.tables();
            let mine = tables
                .blocked
                .keys()
                .filter(|k| matches!(&k.owner, LockOwner::Nlm { host: h, .. } if *h == host))
                .count();
            mine < WAITERS_PER_HOST_MAX && tables.blocked.len() < WAITERS_MAX
        };
        if let Some(f) = self.foreign.get()
            && f.holds(t.share, t.node)
        {
            f.recall(t.share, t.node, Recall::Data).await;
        }
        match t
            .handle
            .lock(t.node, owner.clone(), vec![range], wait)
            .await
        {
            Ok(Locked::Granted) => Nlm4Stat::GRANTED,
            Ok(Locked::Queued { id, rx }) => {
                self.tables()
                    .blocked
                    .insert(key.clone(), BlockState::Waiting(id));
                let svc = self.clone();
                let lock = OwnedLock::of(&a.alock, a.exclusive);
                let client = conn.peer.ip();
                tokio::spawn(async move {
                    let granted = matches!(rx.await, Ok(Ok(())));
                    svc.on_wait_end(t.handle, t.node, key, granted, client, lock)
                        .await;
                });
                Nlm4Stat::BLOCKED
            }
            Err(e) => status_of(e),
        }
    }

    /// A waiting request ended: granted (tell the client) or cancelled (forget it).
    async fn on_wait_end(
        self: Arc<Self>,
        handle: ShareHandle,
        node: Node,
        key: BlockKey,
        granted: bool,
        client: IpAddr,
        lock: OwnedLock,
    ) {
        tracing::debug!(%client, granted, "NLM blocked lock request ended");
        if !granted {
            self.tables().blocked.remove(&key);
            return;
        }
        let present = {
            let mut t = self.tables();
            match t.blocked.get_mut(&key) {
                Some(s) => {
                    *s = BlockState::Granted;
                    true
                }
                None => false,
            }
        };
        if !present {
            // Cancelled while the grant was on its way: give it back.
            let _ = handle
                .unlock_posix(node, key.owner.clone(), key.offset, key.length)
                .await;
            return;
        }
        if !self.settings.callbacks {
            return;
        }
        let Ok(_permit) = self.callbacks.clone().try_acquire_owned() else {
            return;
        };
        let args = encode_to_vec(&nlm4::Call::Granted(Nlm4TestArgs {
            cookie: NetObj(&lock.cookie),
            exclusive: lock.exclusive,
            alock: lock.as_lock(),
        }));
        for i in 0..GRANTED_ATTEMPTS {
            if i > 0 {
                tokio::time::sleep(CALLBACK_PAUSE).await;
            }
            if !self.tables().blocked.contains_key(&key) {
                return; // re-polled or cancelled meanwhile
            }
            match self.call_client(client, NlmProc::Granted, &args).await {
                Ok(body) => {
                    let stat = match nlm4::decode_reply(NlmProc::Granted, &body) {
                        Ok(nlm4::Reply::Res(r)) => r.stat,
                        _ => Nlm4Stat::FAILED,
                    };
                    let still = self.tables().blocked.remove(&key).is_some();
                    tracing::info!(%client, %stat, "NLM GRANTED callback answered");
                    if stat != Nlm4Stat::GRANTED && still {
                        // The client no longer wants it.
                        let _ = handle
                            .unlock_posix(node, key.owner.clone(), key.offset, key.length)
                            .await;
                    }
                    return;
                }
                Err(e) => {
                    tracing::info!(%client, error = %e, attempt = i + 1, "NLM GRANTED callback failed; the client re-polls");
                }
            }
        }
    }

    /// Calls `proc_` of the NLM service at `client` (found through its portmapper).
    async fn call_client(
        &self,
        client: IpAddr,
        proc_: NlmProc,
        args: &[u8],
    ) -> std::io::Result<Vec<u8>> {
        let xid = self.next_xid();
        let port = nsm::getport(
            client,
            self.settings.client_portmap_port,
            xid,
            nlm4::PROGRAM,
            nlm4::VERSION,
        )
        .await?;
        nsm::rpc_call(
            SocketAddr::new(client, port),
            xid.wrapping_add(1),
            nlm4::PROGRAM,
            nlm4::VERSION,
            proc_.as_u32(),
            args,
        )
        .await
    }

    /// Sends the answer of a `_MSG` call as the `_RES` call `proc_` (arguments `args`).
    fn send_res(self: &Arc<Self>, client: IpAddr, proc_: NlmProc, args: Vec<u8>) {
        if !self.settings.callbacks {
            return;
        }
        let Ok(permit) = self.callbacks.clone().try_acquire_owned() else {
            return;
        };
        let svc = self.clone();
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = svc.call_client(client, proc_, &args).await {
                tracing::debug!(%client, error = %e, proc_ = proc_.name(), "NLM _RES callback failed; the client retransmits");
            }
        });
    }

    async fn cancel(
        &self,
        exports: &Exports,
        codec: &FileHandleCodec,
        l: &Nlm4Lock<'_>,
        exclusive: bool,
        conn: &ConnInfo,
    ) -> Nlm4Stat {
        if self.in_grace() {
            return Nlm4Stat::DENIED_GRACE_PERIOD;
        }
        let (t, range) = match self.locate(exports, codec, l, exclusive, conn) {
            Ok(found) => found,
            Err(s) => return s,
        };
        let key = BlockKey {
            share: t.share,
            node: (t.node.ino.0, t.node.generation.0),
            owner: owner_of(l),
            offset: range.offset,
            length: range.length,
            exclusive,
        };
        let state = self.tables().blocked.remove(&key);
        match state {
            Some(BlockState::Waiting(id)) => {
                t.handle.cancel_lock(t.node, id).await;
                Nlm4Stat::GRANTED
            }
            Some(BlockState::Granted) => {
                let _ = t
                    .handle
                    .unlock_posix(t.node, key.owner, key.offset, key.length)
                    .await;
                Nlm4Stat::GRANTED
            }
            None => Nlm4Stat::DENIED,
        }
    }

    async fn unlock(
        &self,
        exports: &Exports,
        codec: &FileHandleCodec,
        l: &Nlm4Lock<'_>,
        conn: &ConnInfo,
    ) -> Nlm4Stat {
        if self.in_grace() {
            return Nlm4Stat::DENIED_GRACE_PERIOD;
        }
        let (t, range) = match self.locate(exports, codec, l, false, conn) {
            Ok(found) => found,
            Err(s) => return s,
        };
        match t
            .handle
            .unlock_posix(t.node, owner_of(l), range.offset, range.length)
            .await
        {
            Ok(()) => Nlm4Stat::GRANTED,
            Err(e) => status_of(e),
        }
    }

    /// Frees every lock, waiting request and share reservation of `host` on every share.
    pub(crate) async fn free_host(&self, exports: &Exports, host: &str) {
        {
            let mut t = self.tables();
            t.blocked
                .retain(|k, _| !matches!(&k.owner, LockOwner::Nlm { host: h, .. } if h == host));
            t.shares.retain(|s| s.host != host);
        }
        for e in exports.iter() {
            e.share
                .handle
                .release_locks(Scope::NlmHost {
                    host: host.to_owned(),
                })
                .await;
        }
        self.nsm.unmonitor(host).await;
    }

    async fn share(
        &self,
        exports: &Exports,
        codec: &FileHandleCodec,
        a: &Nlm4ShareArgs<'_>,
        conn: &ConnInfo,
    ) -> Nlm4Stat {
        if self.in_grace() != a.reclaim {
            return Nlm4Stat::DENIED_GRACE_PERIOD;
        }
        let t = match self.target(exports, codec, a.share.fh, conn) {
            Ok(t) => t,
            Err(s) => return s,
        };
        let host = host_of(a.share.caller_name);
        if !self.nsm.monitor(&host, conn.peer.ip()).await {
            return Nlm4Stat::DENIED_NOLOCKS;
        }
        let node = (t.node.ino.0, t.node.generation.0);
        let (mode, access) = (a.share.mode.0 & 3, a.share.access.0 & 3);
        let mut tables = self.tables();
        let same = |s: &ShareRes| {
            s.share == t.share && s.node == node && s.host == host && s.oh == a.share.oh.0
        };
        let conflict = tables.shares.iter().any(|s| {
            s.share == t.share
                && s.node == node
                && !same(s)
                && ((access & s.mode) != 0 || (s.access & mode) != 0)
        });
        if conflict {
            return Nlm4Stat::DENIED;
        }
        tables.shares.retain(|s| !same(s));
        let mine = tables.shares.iter().filter(|s| s.host == host).count();
        if mine >= SHARES_PER_HOST_MAX || tables.shares.len() >= SHARES_MAX {
            return Nlm4Stat::DENIED_NOLOCKS;
        }
        tables.shares.push(ShareRes {
            share: t.share,
            node,
            host,
            oh: a.share.oh.0.to_vec(),
            mode,
            access,
        });
        Nlm4Stat::GRANTED
    }

    fn unshare(
        &self,
        exports: &Exports,
        codec: &FileHandleCodec,
        a: &Nlm4ShareArgs<'_>,
        conn: &ConnInfo,
    ) -> Nlm4Stat {
        if self.in_grace() {
            return Nlm4Stat::DENIED_GRACE_PERIOD;
        }
        let t = match self.target(exports, codec, a.share.fh, conn) {
            Ok(t) => t,
            Err(s) => return s,
        };
        let node = (t.node.ino.0, t.node.generation.0);
        let host = host_of(a.share.caller_name);
        self.tables().shares.retain(|s| {
            !(s.share == t.share && s.node == node && s.host == host && s.oh == a.share.oh.0)
        });
        Nlm4Stat::GRANTED
    }
}

/// How a call is answered.
enum Answer {
    /// In the RPC reply: these result bytes.
    Now(Vec<u8>),
    /// By a later `_RES` call with these arguments; the RPC reply is empty.
    Later(NlmProc, Vec<u8>),
}

/// TEST's outcome.
enum TestOutcome {
    Stat(Nlm4Stat),
    Holder(LockOwner, LockRange),
}

impl TestOutcome {
    fn as_res<'a>(&'a self, cookie: NetObj<'a>) -> Nlm4TestRes<'a> {
        let stat = match self {
            Self::Stat(s) => Nlm4TestReply::Other(*s),
            Self::Holder(owner, r) => {
                let (svid, oh): (u32, &[u8]) = match owner {
                    LockOwner::Nlm { svid, owner, .. } => (*svid, owner),
                    LockOwner::Smb { .. } => (0, &[]),
                };
                let to_end = i128::from(r.offset) + i128::from(r.length) >= i128::from(u64::MAX);
                Nlm4TestReply::Denied(Nlm4Holder {
                    exclusive: r.exclusive,
                    svid: svid as i32,
                    oh: NetObj(oh),
                    l_offset: r.offset,
                    l_len: if to_end { 0 } else { r.length },
                })
            }
        };
        Nlm4TestRes { cookie, stat }
    }
}

/// A lock's description kept for its GRANTED callback.
#[derive(Debug, Clone)]
struct OwnedLock {
    caller_name: Vec<u8>,
    fh: Vec<u8>,
    oh: Vec<u8>,
    svid: i32,
    l_offset: u64,
    l_len: u64,
    exclusive: bool,
    cookie: Vec<u8>,
}

impl OwnedLock {
    fn of(l: &Nlm4Lock<'_>, exclusive: bool) -> Self {
        Self {
            caller_name: l.caller_name.to_vec(),
            fh: l.fh.0.to_vec(),
            oh: l.oh.0.to_vec(),
            svid: l.svid,
            l_offset: l.l_offset,
            l_len: l.l_len,
            exclusive,
            // The GRANTED cookie is ours; clients match the lock, not the cookie.
            cookie: l.oh.0.iter().take(8).copied().collect(),
        }
    }

    fn as_lock(&self) -> Nlm4Lock<'_> {
        Nlm4Lock {
            caller_name: &self.caller_name,
            fh: NetObj(&self.fh),
            oh: NetObj(&self.oh),
            svid: self.svid,
            l_offset: self.l_offset,
            l_len: self.l_len,
        }
    }
}

/// Encoding into a fresh buffer.
trait EncodeOwned {
    fn encode_owned(&self) -> Vec<u8>;
}

impl<T: Encode> EncodeOwned for T {
    fn encode_owned(&self) -> Vec<u8> {
        encode_to_vec(self)
    }
}
