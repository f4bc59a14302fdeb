//! Durable handles v1 and v2 ([MS-SMB2] 3.3.5.9.6, 3.3.5.9.7, 3.3.5.9.10, 3.3.5.9.12) and the
//! scavenger that closes the ones nobody reclaims (3.3.2.2 durable open scavenger timer).
//!
//! - **Granted** at CREATE to a DHnQ or DH2Q request whose open got a batch oplock or a lease
//!   with handle caching (not to directories, named streams, IPC$ or guest sessions). v1 opens
//!   are kept 16 minutes (Windows' and Samba's v1 timeout), v2 opens the Timeout asked for,
//!   at most 300 s, 60 s when 0. The persistent flag (continuous availability) is never
//!   granted. Where the share's metadata store keeps them (RocksDB, PostgreSQL), durable
//!   opens are also recorded there and survive a restart of the server
//!   ([`super::durable_store`]); on the memory store they live in memory only.
//! - **Preserved** instead of closed when its connection ends, or its session is logged off
//!   or replaced by a PreviousSessionId reconnect (as Samba does): the open leaves its
//!   connection for the server-wide [`DurableTable`], keeping its entry in the open table
//!   (share modes, oplock or lease, delete-pending) and its byte-range locks (owned by its
//!   old connection and FileId until a reconnect gives them to the new one). TREE_DISCONNECT
//!   and CLOSE close it.
//! - **Reconnected** by a CREATE with DHnC (v1) or DH2C (v2) naming its persistent FileId, by
//!   the same user (uid), on the same share; for v2 with the same CreateGuid (a v1 reconnect
//!   of a v2 open is allowed, as on Windows and Samba); for a lease, from the same ClientGuid
//!   with the same lease key and, unless delete-on-close, the same file name (else
//!   INVALID_PARAMETER). Anything else is STATUS_OBJECT_NAME_NOT_FOUND.
//! - **Closed** as a CLOSE would (commit, locks released, delete-on-close carried out) when its
//!   timeout passes, when the server shuts down (unless its store keeps it for the next
//!   start), or at once when another open needs a break of its oplock or lease: the break
//!   cannot be delivered, so the open goes (smbtorture durable-open.oplock, .lease,
//!   .delete_on_close1).
//!
//! Bounds: [`PRESERVED_MAX`] preserved opens on the server and [`PRESERVED_PER_SESSION_MAX`]
//! per session; an open past them is closed at its disconnect like any other.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use protocol::smb2::create::{
    self, CreateAction, CreateContext, CreateRequest, CreateResponse, DurableV2Reconnect,
    DurableV2Request, FileAttributes, Lease, LeaseState, OplockLevel, names,
};
use protocol::smb2::fileid::FileId;
use protocol::smb2::header::HeaderFlags;
use protocol::smb2::notify::{CompletionFilter, NotifyAction};
use protocol::smb2::status::NtStatus;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::SmbServer;
use super::attrs;
use super::connection::{Conn, Handled, Out, Req, filetime, tid};
use super::events::ConnEvent;
use super::oplocks::{Grant, OpenRef};
use super::state::{DirScan, Open, OpenKind, TreeKind};
use crate::server::share::locks::{LockOwner, Scope};
use crate::server::share::{Caller, ShareHandle, ShareId};

/// Preserved (disconnected) durable opens the server keeps at most.
pub(crate) const PRESERVED_MAX: usize = 4_096;
/// Preserved durable opens of one session at most.
pub(crate) const PRESERVED_PER_SESSION_MAX: usize = 1_024;
/// How long a v1 durable open is kept (Windows and Samba: 16 minutes).
pub(crate) const V1_TIMEOUT: Duration = Duration::from_secs(16 * 60);
/// A v2 durable open's timeout when the client leaves the choice to the server (Windows
/// Server 2012 and Samba: 60 s).
pub(crate) const V2_TIMEOUT_DEFAULT: Duration = Duration::from_secs(60);
/// The longest v2 timeout granted (Samba caps at 300 s; smbtorture durable-v2-open expects
/// 300,000 ms for a request of 0xFFFFFFFF).
pub(crate) const V2_TIMEOUT_MAX: Duration = Duration::from_secs(300);
/// Waiting DH2Q CREATEs the server remembers for replay detection at most (beyond, a replay
/// of one runs as a new CREATE).
pub(crate) const CREATING_MAX: usize = 4_096;
/// Opens registered under an AppInstanceId at most.
pub(crate) const APP_INSTANCES_MAX: usize = 16_384;
/// Durable opens' persistent FileIds start here, far above any volatile id, so a reconnect
/// naming an ordinary open's FileId never finds a durable open.
pub(crate) const PERSISTENT_BASE: u64 = 1 << 48;

/// The durability granted to an open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Durability {
    /// How long the open is kept after its connection is lost.
    pub(crate) timeout: Duration,
    /// A v2 (DH2Q) durable open.
    pub(crate) v2: bool,
    /// Its CreateGuid (v2; zeros for v1, so a v2 reconnect of a v1 open never matches).
    pub(crate) create_guid: [u8; 16],
}

impl Durability {
    /// The v2 timeout granted for a request of `ms` milliseconds.
    pub(crate) fn v2_timeout(ms: u32) -> Duration {
        if ms == 0 {
            V2_TIMEOUT_DEFAULT
        } else {
            Duration::from_millis(u64::from(ms)).min(V2_TIMEOUT_MAX)
        }
    }
}

/// A durable open whose connection is gone.
#[derive(Debug)]
pub(crate) struct Preserved {
    /// The open as its connection had it (its session and tree ids are stale).
    pub(crate) open: Open,
    /// What the open table and the lock manager know it as: its old connection and FileId.
    pub(crate) was: OpenRef,
    /// Its user's uid: only the same user reconnects it.
    pub(crate) owner: u32,
    /// Its share, and who acts on it when the scavenger closes it.
    pub(crate) share: ShareHandle,
    /// The caller its tree had.
    pub(crate) caller: Caller,
    /// When it is closed unless reconnected.
    expires: Instant,
    /// Closed at the scavenger's next round (a break it cannot receive).
    doomed: bool,
}

impl Preserved {
    /// A preserved open, kept until `now` + its timeout.
    pub(crate) fn new(
        open: Open,
        was: OpenRef,
        owner: u32,
        share: ShareHandle,
        caller: Caller,
        now: Instant,
    ) -> Self {
        let timeout = open.durable.map_or(Duration::ZERO, |d| d.timeout);
        Self {
            open,
            was,
            owner,
            share,
            caller,
            expires: now + timeout,
            doomed: false,
        }
    }
}

/// An open registered under an AppInstanceId.
#[derive(Debug, Clone)]
struct AppOpen {
    open: OpenRef,
    client: [u8; 16],
    share: u32,
    /// Its path from the share root, lowercased.
    path: String,
}

#[derive(Debug, Default)]
struct Inner {
    /// Opens made with an AppInstanceId, by that id ([MS-SMB2] 3.3.5.9.13); at most
    /// [`APP_INSTANCES_MAX`] opens (past it an open is not registered, and a later open of the
    /// same application does not close it).
    apps: HashMap<[u8; 16], Vec<AppOpen>>,
    apps_len: usize,
    /// CREATEs with DH2Q waiting (for a break), by (ClientGuid, CreateGuid), with how many:
    /// a replay of one is STATUS_FILE_NOT_AVAILABLE until it ends (as Samba answers,
    /// smbtorture replay.dhv2-pending1*-sane). At most [`CREATING_MAX`].
    creating: HashMap<([u8; 16], [u8; 16]), usize>,
    /// By persistent FileId.
    by_id: BTreeMap<u64, Preserved>,
    /// Persistent FileId by the open table's name for the open.
    by_open: HashMap<OpenRef, u64>,
    /// Preserved opens per (connection, session) they came from.
    per_session: HashMap<(u64, u64), usize>,
}

impl Inner {
    fn remove(&mut self, persistent: u64) -> Option<Preserved> {
        let p = self.by_id.remove(&persistent)?;
        self.by_open.remove(&p.was);
        let k = (p.was.conn, p.open.session);
        if let Some(n) = self.per_session.get_mut(&k) {
            *n -= 1;
            if *n == 0 {
                self.per_session.remove(&k);
            }
        }
        Some(p)
    }
}

/// The server-wide table of preserved durable opens. Plain state behind one
/// `std::sync::Mutex` (lookups and updates only, never held across an await), like
/// [`super::oplocks::OpenTable`].
#[derive(Debug)]
pub(crate) struct DurableTable {
    inner: Mutex<Inner>,
    /// Wakes the scavenger: something was preserved or doomed.
    wake: Notify,
    next_persistent: AtomicU64,
}

impl Default for DurableTable {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            wake: Notify::new(),
            next_persistent: AtomicU64::new(PERSISTENT_BASE),
        }
    }
}

impl DurableTable {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every critical section leaves the maps consistent before anything can panic.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A persistent FileId for a new durable open, unique on this server.
    pub(crate) fn fresh_persistent(&self) -> u64 {
        self.next_persistent.fetch_add(1, Ordering::Relaxed)
    }

    /// New persistent FileIds start at `start` or later (durable opens restored at start hold
    /// ids below it, [`super::durable_store::restore`]).
    pub(crate) fn start_ids_at(&self, start: u64) {
        self.next_persistent.fetch_max(start, Ordering::Relaxed);
    }

    /// Keeps `p` until it is reconnected or expires; gives it back when the bounds are
    /// reached (the caller closes it).
    pub(crate) fn preserve(&self, p: Preserved) -> Result<(), Box<Preserved>> {
        let mut g = self.lock();
        let k = (p.was.conn, p.open.session);
        if g.by_id.len() >= PRESERVED_MAX
            || g.per_session.get(&k).copied().unwrap_or(0) >= PRESERVED_PER_SESSION_MAX
        {
            return Err(Box::new(p));
        }
        *g.per_session.entry(k).or_insert(0) += 1;
        g.by_open.insert(p.was, p.open.persistent);
        g.by_id.insert(p.open.persistent, p);
        drop(g);
        self.wake.notify_one();
        Ok(())
    }

    /// Takes preserved open `persistent` back, whatever its state.
    pub(crate) fn take(&self, persistent: u64) -> Option<Preserved> {
        self.lock().remove(persistent)
    }

    /// Takes preserved open `persistent` for a reconnect if `check` accepts it; `check`'s
    /// error is answered (STATUS_OBJECT_NAME_NOT_FOUND when there is no such open).
    pub(crate) fn reclaim(
        &self,
        persistent: u64,
        check: impl FnOnce(&Preserved) -> Result<(), NtStatus>,
    ) -> Result<Preserved, NtStatus> {
        let mut g = self.lock();
        let p = g
            .by_id
            .get(&persistent)
            .filter(|p| !p.doomed)
            .ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        check(p)?;
        Ok(g.remove(persistent)
            .expect("the entry was just found under the same lock"))
    }

    /// A break for preserved open `open` cannot be delivered: it is closed at once. Returns
    /// whether `open` is preserved.
    pub(crate) fn doom(&self, open: OpenRef) -> bool {
        let mut g = self.lock();
        let Some(&id) = g.by_open.get(&open) else {
            return false;
        };
        if let Some(p) = g.by_id.get_mut(&id) {
            p.doomed = true;
        }
        drop(g);
        self.wake.notify_one();
        true
    }

    /// Preserved opens whose time is up (or that are doomed), taken out; and when the next
    /// one expires.
    fn due(&self, now: Instant) -> (Vec<Preserved>, Option<Instant>) {
        let mut g = self.lock();
        let ids: Vec<u64> = g
            .by_id
            .iter()
            .filter(|(_, p)| p.doomed || p.expires <= now)
            .map(|(id, _)| *id)
            .collect();
        let gone = ids.into_iter().filter_map(|id| g.remove(id)).collect();
        let next = g.by_id.values().map(|p| p.expires).min();
        (gone, next)
    }

    /// Every preserved open, taken out (the server is shutting down).
    fn drain(&self) -> Vec<Preserved> {
        let mut g = self.lock();
        let ids: Vec<u64> = g.by_id.keys().copied().collect();
        ids.into_iter().filter_map(|id| g.remove(id)).collect()
    }
}

/// A DH2Q CREATE that waits: registered while this lives (it goes with the wait).
#[derive(Debug)]
pub(crate) struct Creating {
    server: Arc<SmbServer>,
    key: ([u8; 16], [u8; 16]),
}

impl Creating {
    /// Registers CreateGuid `guid` of client `client` as waiting; `None` past the bound.
    pub(crate) fn begin(server: &Arc<SmbServer>, client: [u8; 16], guid: [u8; 16]) -> Option<Self> {
        let mut g = server.durable.lock();
        let key = (client, guid);
        if g.creating.len() >= CREATING_MAX && !g.creating.contains_key(&key) {
            return None;
        }
        *g.creating.entry(key).or_insert(0) += 1;
        drop(g);
        Some(Self {
            server: server.clone(),
            key: (client, guid),
        })
    }
}

impl Drop for Creating {
    fn drop(&mut self) {
        let mut g = self.server.durable.lock();
        if let Some(n) = g.creating.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                g.creating.remove(&self.key);
            }
        }
    }
}

impl DurableTable {
    /// Registers `open` (of client `client`, on share `share`, at `path` lowercased) under
    /// AppInstanceId `app`.
    pub(crate) fn app_register(
        &self,
        app: [u8; 16],
        open: OpenRef,
        client: [u8; 16],
        share: u32,
        path: String,
    ) {
        let mut g = self.lock();
        if g.apps_len >= APP_INSTANCES_MAX {
            return;
        }
        g.apps.entry(app).or_default().push(AppOpen {
            open,
            client,
            share,
            path,
        });
        g.apps_len += 1;
    }

    /// Forgets `open`'s AppInstanceId registration (it closed, or moved: see
    /// [`Self::app_rekey`]).
    pub(crate) fn app_forget(&self, open: OpenRef) {
        let mut g = self.lock();
        let mut removed = 0;
        g.apps.retain(|_, v| {
            let before = v.len();
            v.retain(|a| a.open != open);
            removed += before - v.len();
            !v.is_empty()
        });
        g.apps_len -= removed;
    }

    /// `from` is now `to` (a durable open reconnected), of client `client`.
    fn app_rekey(&self, from: OpenRef, to: OpenRef, client: [u8; 16]) {
        let mut g = self.lock();
        for a in g.apps.values_mut().flat_map(|v| v.iter_mut()) {
            if a.open == from {
                a.open = to;
                a.client = client;
            }
        }
    }

    /// The opens registered under `app` on `share` at `path` (lowercased) by another client
    /// than `client`.
    fn app_others(&self, app: [u8; 16], client: [u8; 16], share: u32, path: &str) -> Vec<OpenRef> {
        self.lock().apps.get(&app).map_or_else(Vec::new, |v| {
            v.iter()
                .filter(|a| a.client != client && a.share == share && a.path == path)
                .map(|a| a.open)
                .collect()
        })
    }

    /// Takes the preserved open the open table knows as `open`, if it is one.
    fn take_open(&self, open: OpenRef) -> Option<Preserved> {
        let mut g = self.lock();
        let id = *g.by_open.get(&open)?;
        g.remove(id)
    }

    /// Whether a CREATE of `client` with CreateGuid `guid` is waiting.
    pub(crate) fn is_creating(&self, client: [u8; 16], guid: [u8; 16]) -> bool {
        self.lock().creating.contains_key(&(client, guid))
    }
}

/// The scavenger ([MS-SMB2] 3.3.2.2): closes preserved opens whose timeout passed or whose
/// break could not be delivered, until `shutdown`, when it closes every preserved open (their
/// writes are committed) except those whose share's store keeps them for the next start
/// ([`super::durable_store`]; the final flush commits their writes). One task per server;
/// its work per wake-up is the opens due then.
pub(crate) async fn scavenge(server: Arc<SmbServer>, shutdown: CancellationToken) {
    loop {
        let (due, next) = server.durable.due(server.env.now());
        for p in due {
            tracing::info!(
                persistent = p.open.persistent,
                doomed = p.doomed,
                "durable open closed by the scavenger"
            );
            close(&server, p).await;
        }
        // Idle, the scavenger still looks once an hour (a notification is never lost: a
        // `notify_one` before the wait leaves a permit).
        let until = next.unwrap_or_else(|| server.env.now() + Duration::from_secs(3600));
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            () = server.durable.wake.notified() => {}
            () = tokio::time::sleep_until(until) => {}
        }
    }
    for p in server.durable.drain() {
        if p.share.keeps_durable() {
            tracing::debug!(
                persistent = p.open.persistent,
                "preserved durable open kept for the next start"
            );
            continue;
        }
        close(&server, p).await;
    }
}

/// Closes a preserved open as CLOSE would: its open-table entry goes (the last open of a
/// delete-on-close or delete-pending file deletes it), its locks are released, its writes
/// committed.
pub(crate) async fn close(server: &SmbServer, p: Preserved) {
    let Preserved {
        open,
        was,
        share,
        caller,
        ..
    } = p;
    // CREATEs waiting on this open look again only once the file is gone, when it goes
    // (smbtorture durable-open.delete_on_close1 wants a new file, not the doomed one).
    if open.app_instance.is_some() {
        server.durable.app_forget(was);
    }
    let delete = server.opens.remove_quietly(was, open.delete_on_close);
    finish_close(server, open, was, share, caller, delete).await;
    server.opens.changed();
}

async fn finish_close(
    server: &SmbServer,
    open: Open,
    was: OpenRef,
    share: ShareHandle,
    caller: Caller,
    delete: bool,
) {
    super::durable_store::forget(&share, &open).await;
    if open.locks.used {
        share
            .release_locks(Scope::Open {
                conn: was.conn,
                open: was.file,
            })
            .await;
    }
    let OpenKind::Node {
        node,
        parent,
        name,
        path,
        is_dir,
        stream,
    } = &open.kind
    else {
        return;
    };
    if open.dirty
        && let Err(f) = share.commit(caller.clone(), *node).await
    {
        tracing::warn!(error = %f.error, "commit of a preserved durable open failed");
    }
    if !delete {
        return;
    }
    let (dir, leaf) = super::notify::split_path(path);
    if let Some(stream) = stream {
        if super::streams::remove(&share, &caller, *node, stream)
            .await
            .is_ok()
        {
            let leaf = format!("{leaf}:{stream}");
            server.watches.emit(
                share.id(),
                &[super::notify::Change {
                    dir,
                    name: &leaf,
                    action: NotifyAction::REMOVED_STREAM,
                    filter: CompletionFilter::STREAM_NAME,
                }],
            );
        }
        return;
    }
    match share
        .remove(
            caller,
            *parent,
            Bytes::copy_from_slice(name.as_bytes()),
            *is_dir,
        )
        .await
    {
        Ok(_) => {
            server.watches.emit(
                share.id(),
                &[super::notify::Change {
                    dir,
                    name: leaf,
                    action: NotifyAction::REMOVED,
                    filter: super::notify::name_filter(*is_dir),
                }],
            );
            server.dir_changed(share.id(), *parent, None);
        }
        Err(f) => tracing::debug!(error = %f.error, "delete on close of a durable open failed"),
    }
}

/// The durable-handle contexts of a CREATE ([MS-SMB2] 2.2.13.2.3, .4, .11, .12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ask {
    /// None (or only ones this dialect ignores).
    None,
    /// DHnQ: make the open durable (v1).
    V1,
    /// DH2Q: make the open durable (v2), with its CreateGuid and Timeout.
    V2(DurableV2Request),
    /// DHnC: reconnect the durable open with this persistent FileId.
    ReconnectV1(u64),
    /// DH2C: reconnect, checking the CreateGuid.
    ReconnectV2(u64, [u8; 16]),
}

impl Ask {
    /// The CreateGuid of a DH2Q request.
    pub(crate) fn creating(self) -> Option<[u8; 16]> {
        match self {
            Self::V2(d) => Some(d.create_guid),
            _ => None,
        }
    }

    /// The durable-handle contexts of `r` on a connection of `dialect`: invalid combinations
    /// and lengths are INVALID_PARAMETER, as Windows and Samba answer (smbtorture
    /// durable-v2-open.create-blob); DHnQ beside DHnC is ignored (3.3.5.9.7); the v2 contexts
    /// are SMB 3.x's and ignored before.
    pub(crate) fn of(r: &CreateRequest<'_>, dialect: u16) -> Result<Self, NtStatus> {
        let smb3 = dialect >= 0x0300 && dialect != 0x02FF;
        let dhnq = r.context(names::DHNQ);
        let dhnc = r.context(names::DHNC);
        let dh2q = r.context(names::DH2Q).filter(|_| smb3);
        let dh2c = r.context(names::DH2C).filter(|_| smb3);
        if (dhnc.is_some() && (dh2c.is_some() || dh2q.is_some()))
            || (dh2c.is_some() && (dhnq.is_some() || dh2q.is_some()))
            || (dhnq.is_some() && dh2q.is_some())
        {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        if let Some(c) = dhnc {
            let id = create::decode_dhnc(&c.data).map_err(|_| NtStatus::INVALID_PARAMETER)?;
            return Ok(Self::ReconnectV1(id.persistent));
        }
        if let Some(c) = dh2c {
            let d = DurableV2Reconnect::decode(&c.data).map_err(|_| NtStatus::INVALID_PARAMETER)?;
            return Ok(Self::ReconnectV2(d.file_id.persistent, d.create_guid));
        }
        if let Some(c) = dh2q {
            let d = DurableV2Request::decode(&c.data).map_err(|_| NtStatus::INVALID_PARAMETER)?;
            return Ok(Self::V2(d));
        }
        if let Some(c) = dhnq {
            create::decode_dhnq(&c.data).map_err(|_| NtStatus::INVALID_PARAMETER)?;
            return Ok(Self::V1);
        }
        Ok(Self::None)
    }
}

impl Conn {
    /// The durability to grant a new open asked for with `ask` and granted `grant`, and the
    /// create context answering it: only with a batch oplock or a lease with handle caching,
    /// on a file (3.3.5.9.6, 3.3.5.9.10), for a named user's session.
    pub(crate) fn durability(
        &self,
        ask: Ask,
        grant: &Grant,
        is_dir: bool,
        session: u64,
    ) -> Option<(Durability, CreateContext<'static>)> {
        let handle_caching = grant.oplock == OplockLevel::BATCH
            || grant
                .lease
                .is_some_and(|(state, ..)| state & LeaseState::HANDLE_CACHING.0 != 0);
        let named = self
            .sessions
            .get(&session)
            .is_some_and(|s| s.user.is_some() && !s.guest);
        if !handle_caching || is_dir || !named {
            return None;
        }
        match ask {
            Ask::V1 => Some((
                Durability {
                    timeout: V1_TIMEOUT,
                    v2: false,
                    create_guid: [0; 16],
                },
                create::dhnq_response(),
            )),
            Ask::V2(d) => {
                let timeout = Durability::v2_timeout(d.timeout);
                let ms = u32::try_from(timeout.as_millis()).unwrap_or(u32::MAX);
                // The persistent flag is never granted: no open survives a restart here.
                Some((
                    Durability {
                        timeout,
                        v2: true,
                        create_guid: d.create_guid,
                    },
                    DurableV2Request::response(ms, 0),
                ))
            }
            Ask::None | Ask::ReconnectV1(_) | Ask::ReconnectV2(..) => None,
        }
    }

    /// The connection, or the open's session, is going away: a durable open that still
    /// holds its batch oplock or handle-caching lease is preserved ([`DurableTable`]), any
    /// other open is closed. `closing`: the server shuts down; only durable opens whose
    /// share's store keeps them for the next start are preserved (their records rewritten,
    /// [`super::durable_store`]), the others are closed.
    pub(crate) async fn disconnect_open(&mut self, id: u64, closing: bool) {
        let Some(open) = self.opens.get(&id) else {
            return;
        };
        let owner = self
            .sessions
            .get(&open.session)
            .and_then(|s| s.user.as_ref())
            .map(|u| u.uid);
        let (Some(_), Some(owner), Ok((share, caller))) =
            (open.durable, owner, self.share_of(open))
        else {
            self.release_open(id).await;
            return;
        };
        if closing && !share.keeps_durable() {
            self.release_open(id).await;
            return;
        }
        // The record as the open is now (its lease may have changed since the grant): what a
        // restart restores.
        self.record_durable(id).await;
        let Some(open) = self.opens.remove(&id) else {
            return;
        };
        let was = OpenRef {
            conn: self.id,
            file: id,
        };
        self.server.watches.close(self.id, id);
        let persistent = open.persistent;
        let p = Preserved::new(open, was, owner, share, caller, self.server.env.now());
        if let Err(p) = self.server.durable.preserve(p) {
            tracing::info!(persistent, "durable open closed: too many preserved opens");
            close(&self.server, *p).await;
            return;
        }
        // Registered first, checked second: a break decided after this check finds the open
        // preserved (and dooms it), one decided before left it breaking (not durable now).
        let still = self
            .server
            .opens
            .caching_of(was)
            .is_some_and(|(level, lease)| {
                level == OplockLevel::BATCH
                    || lease.is_some_and(|l| l.state & LeaseState::HANDLE_CACHING.0 != 0)
            });
        if !still {
            if let Some(p) = self.server.durable.take(persistent) {
                tracing::debug!(persistent, "durable open lost its handle caching; closed");
                close(&self.server, p).await;
            }
            return;
        }
        tracing::debug!(persistent, "durable open preserved");
    }

    /// CREATE with DHnC or DH2C ([MS-SMB2] 3.3.5.9.7, 3.3.5.9.12): hands the preserved open
    /// `persistent` to this session and tree as FileId `file`. The request's other fields are
    /// ignored, as on Windows and Samba (smbtorture durable-open.reopen2).
    pub(crate) async fn reconnect(
        &mut self,
        req: &Req<'_>,
        r: &CreateRequest<'_>,
        file: u64,
        persistent: u64,
        create_guid: Option<[u8; 16]>,
    ) -> Handled {
        let tree = self.tree(req)?.clone();
        let TreeKind::Disk { share } = &tree.kind else {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        };
        let sid = req.hdr.session_id.0;
        let uid = self
            .sessions
            .get(&sid)
            .and_then(|s| s.user.as_ref())
            .map(|u| u.uid)
            .ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        let dialect = self.neg.as_ref().map_or(0, |n| n.dialect);
        let client = self.neg.as_ref().map_or([0; 16], |n| n.client_guid);
        let lease_req = r
            .context(names::RQLS)
            .filter(|_| dialect >= 0x0210)
            .and_then(|c| Lease::decode(&c.data).ok());
        let wanted_path = r
            .name
            .trim_start_matches('\\')
            .replace('/', "\\")
            .to_lowercase();
        let opens = &self.server.opens;
        let share_id = share.id();
        let p = self.server.durable.reclaim(persistent, |p| {
            let d = p.open.durable.ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
            if p.owner != uid || p.share.id() != share_id {
                return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
            }
            // A v1 open's CreateGuid is zeros: a DH2C naming it with zeros reconnects it
            // (smbtorture durable-open.reopen2-lease), with another GUID it does not
            // (durable-v2-open.reopen2c).
            if let Some(g) = create_guid
                && d.create_guid != g
            {
                return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
            }
            let (level, lease) = opens
                .caching_of(p.was)
                .ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
            match (lease, &lease_req) {
                (Some(held), Some(l)) => {
                    if held.id.key != l.key || held.id.client != client {
                        return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
                    }
                    if let OpenKind::Node { path, .. } = &p.open.kind
                        && !p.open.delete_on_close
                        && path.to_lowercase() != wanted_path
                    {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    Ok(())
                }
                (None, None) if level == OplockLevel::BATCH => Ok(()),
                _ => Err(NtStatus::OBJECT_NAME_NOT_FOUND),
            }
        })?;
        let now = OpenRef {
            conn: self.id,
            file,
        };
        if !self.server.opens.rekey(p.was, now) {
            // Closed meanwhile (cannot happen while the table holds it; be safe).
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        }
        if p.open.locks.used {
            p.share
                .reown_locks(
                    Scope::Open {
                        conn: p.was.conn,
                        open: p.was.file,
                    },
                    LockOwner::Smb {
                        conn: self.id,
                        session: sid,
                        open: file,
                    },
                )
                .await;
        }
        if p.open.app_instance.is_some() {
            let client = self.neg.as_ref().map_or([0; 16], |n| n.client_guid);
            self.server.durable.app_rekey(p.was, now, client);
        }
        tracing::info!(persistent, "durable open reconnected");
        let mut open = p.open;
        open.session = sid;
        open.tree = tid(req.hdr);
        open.scan = DirScan::default();
        let fid = self.insert_open(open)?;
        debug_assert_eq!(fid.volatile, file, "the FileId create() reserved");
        let (level, lease) = self
            .server
            .opens
            .caching_of(now)
            .unwrap_or((OplockLevel::NONE, None));
        let mut contexts = Vec::new();
        if let (Some(held), Some(l)) = (lease, lease_req) {
            contexts.push(
                l.response(LeaseState(held.state), held.epoch, false)
                    .context(),
            );
        }
        self.open_response(fid.volatile, level, CreateAction::OPENED, contexts)
            .await
    }

    /// A CREATE carrying DH2Q whose CreateGuid names an open of this connection
    /// ([MS-SMB2] 3.3.5.9.10): with SMB2_FLAGS_REPLAY_OPERATION the open is answered again
    /// (a replay of a CREATE whose answer was lost), without it the CreateGuid is already used
    /// (STATUS_DUPLICATE_OBJECTID). `None`: no such open, the CREATE runs.
    pub(crate) async fn replay(
        &mut self,
        req: &Req<'_>,
        r: &CreateRequest<'_>,
        d: &DurableV2Request,
    ) -> Option<Handled> {
        let client = self.neg.as_ref().map_or([0; 16], |n| n.client_guid);
        if self.server.durable.is_creating(client, d.create_guid) {
            tracing::debug!("CREATE whose CreateGuid is still being opened");
            return Some(Err(NtStatus::FILE_NOT_AVAILABLE));
        }
        let same = |o: &Open| o.create_guid.is_some_and(|(g, _)| g == d.create_guid);
        if !self.opens.values().any(same) {
            return None;
        }
        if !req.hdr.flags.contains(HeaderFlags::REPLAY_OPERATION) {
            return Some(Err(NtStatus::DUPLICATE_OBJECTID));
        }
        // Only an open nothing was done with yet answers a replay; otherwise it opens anew.
        let (&id, open) = self
            .opens
            .iter()
            .find(|(_, o)| same(o) && o.replay_eligible.load(Ordering::Relaxed))?;
        let action = CreateAction(open.create_guid.map_or(1, |(_, a)| a));
        let durable = open.durable;
        let held = self.server.opens.caching_of(OpenRef {
            conn: self.id,
            file: id,
        });
        let held_lease = held.and_then(|(_, l)| l);
        let dialect = self.neg.as_ref().map_or(0, |n| n.dialect);
        let lease_req = r
            .context(names::RQLS)
            .filter(|_| dialect >= 0x0210 && r.oplock_level == OplockLevel::LEASE)
            .and_then(|c| Lease::decode(&c.data).ok());
        let mut contexts = Vec::new();
        // A replay with a lease is only taken for the open's own lease (Samba, smbtorture
        // replay.replay-dhv2-oplock-lease, -lease3).
        if let Some(l) = &lease_req {
            match held_lease {
                Some(h) if h.id.key == l.key => {
                    contexts.push(l.response(LeaseState(h.state), h.epoch, false).context());
                }
                _ => return Some(Err(NtStatus::ACCESS_DENIED)),
            }
        }
        // The DH2Q answer follows what the replay asks, not the open's state (as Samba).
        if let Some(dur) = durable
            && (r.oplock_level == OplockLevel::BATCH || r.oplock_level == OplockLevel::LEASE)
        {
            let ms = u32::try_from(dur.timeout.as_millis()).unwrap_or(u32::MAX);
            contexts.push(DurableV2Request::response(ms, 0));
        }
        tracing::debug!(file = id, "CREATE replay answered from its open");
        let level = if lease_req.is_some() {
            OplockLevel::LEASE
        } else {
            r.oplock_level
        };
        Some(self.open_response(id, level, action, contexts).await)
    }

    /// The AppInstanceId of a CREATE ([MS-SMB2] 3.3.5.9.13, SMB 3.x), after closing the opens
    /// another client made of the same file on the same share under it (an application
    /// failing over to this client): a preserved durable one at once, a connected one by
    /// its connection (waited for up to 5 s), without breaking their oplocks or leases.
    pub(crate) async fn app_instance(
        &mut self,
        r: &CreateRequest<'_>,
        dialect: u16,
        share: ShareId,
    ) -> Result<Option<[u8; 16]>, NtStatus> {
        if dialect < 0x0300 || dialect == 0x02FF {
            return Ok(None);
        }
        let Some(c) = r.context(names::APP_INSTANCE_ID) else {
            return Ok(None);
        };
        let app =
            create::decode_app_instance_id(&c.data).map_err(|_| NtStatus::INVALID_PARAMETER)?;
        let client = self.neg.as_ref().map_or([0; 16], |n| n.client_guid);
        let path = r
            .name
            .trim_start_matches('\\')
            .replace('/', "\\")
            .to_lowercase();
        for open in self.server.durable.app_others(app, client, share.0, &path) {
            tracing::info!(
                ?open,
                "open closed by another client's open with its AppInstanceId"
            );
            if let Some(p) = self.server.durable.take_open(open) {
                close(&self.server, p).await;
            } else if open.conn == self.id {
                self.release_open(open.file).await;
            } else {
                let (done, wait) = tokio::sync::oneshot::channel();
                let event = ConnEvent::CloseOpen {
                    file: open.file,
                    done,
                };
                if self.server.mailboxes.post(open.conn, event) {
                    let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
                }
            }
        }
        Ok(Some(app))
    }

    /// [MS-SMB2] 3.3.5.2.10, for every request naming open `open` (3.x): a ChannelSequence
    /// newer than the open's (by 1 to 0x7FFF, modulo 2^16) becomes the open's.
    pub(crate) fn note_channel_sequence(&self, req: &Req<'_>, open: &Open) {
        if !self
            .neg
            .as_ref()
            .is_some_and(super::state::Negotiated::is_smb3)
        {
            return;
        }
        let now = req.hdr.channel_sequence();
        let had = open.channel_sequence.load(Ordering::Relaxed);
        if (1..=0x7FFF).contains(&now.wrapping_sub(had)) {
            open.channel_sequence.store(now, Ordering::Relaxed);
        }
    }

    /// [MS-SMB2] 3.3.5.2.10 for a WRITE, SET_INFO or IOCTL on open `id` (3.x), after
    /// [`Self::note_channel_sequence`]: a ChannelSequence older than the open's means the
    /// request was overtaken by a channel failover; it is refused with
    /// STATUS_FILE_NOT_AVAILABLE, so the client replays it (smbtorture replay.channel-sequence,
    /// replay4). The outstanding-request counts the spec keeps are not: requests on one open
    /// are answered in turn here, so none is outstanding when the next is checked.
    pub(crate) fn channel_sequence(&self, req: &Req<'_>, id: u64) -> Result<(), NtStatus> {
        if !self
            .neg
            .as_ref()
            .is_some_and(super::state::Negotiated::is_smb3)
        {
            return Ok(());
        }
        let Some(open) = self.opens.get(&id) else {
            return Ok(());
        };
        if req.hdr.channel_sequence() == open.channel_sequence.load(Ordering::Relaxed) {
            Ok(())
        } else {
            Err(NtStatus::FILE_NOT_AVAILABLE)
        }
    }

    /// A CREATE response for open `id` as it is now.
    async fn open_response(
        &mut self,
        id: u64,
        oplock: OplockLevel,
        action: CreateAction,
        contexts: Vec<CreateContext<'static>>,
    ) -> Handled {
        let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let OpenKind::Node { node, name, .. } = &open.kind else {
            return Err(NtStatus::INVALID_DEVICE_REQUEST);
        };
        let (node, name) = (*node, name.clone());
        let fid = FileId {
            persistent: open.persistent,
            volatile: id,
        };
        let allocation = open.allocation;
        let (share, caller) = self.share_of(open)?;
        let attr = share
            .getattr(caller.clone(), node)
            .await
            .map_err(super::files::failed)?;
        let meta = attrs::meta(&share, &caller, node).await.unwrap_or_default();
        let mut w = Out::writer();
        CreateResponse {
            oplock_level: oplock,
            flags: 0,
            create_action: action,
            creation_time: filetime(attr.btime),
            last_access_time: filetime(attr.atime),
            last_write_time: filetime(attr.mtime),
            change_time: filetime(attr.ctime),
            allocation_size: attrs::allocation(&attr).max(allocation),
            end_of_file: attrs::end_of_file(&attr),
            file_attributes: FileAttributes(attrs::dos(&attr, &name, meta.dos)),
            file_id: fid,
            contexts,
        }
        .encode(&mut w);
        let mut out = Out::ok(w);
        out.file_id = Some(fid);
        Ok(out)
    }
}
