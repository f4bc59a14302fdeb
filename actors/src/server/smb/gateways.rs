//! SMB caching across gateways on one metadata store ([`stores::SharedCaching`], several
//! `dittofs` processes on one PostgreSQL): what this gateway's SMB clients cache is
//! published for the others, and their recall requests break it here.
//!
//! - Publishing: a CREATE that grants caching publishes the node's caching before it answers
//!   ([`Published::sync`]), so a change through another gateway after the client learnt of
//!   its grant finds it (up to the notification's delivery time, see the store's limits).
//!   Everything that lowers caching (acknowledgements, closes, breaks that need none, timed
//!   out breaks) bumps the open table; [`reconcile`] then brings every published row in line,
//!   off the connections' paths. A row is per inode (the node's own data; named streams are
//!   not published, as no other protocol reaches them).
//! - Recalls: [`serve_recalls`] takes the recall requests other gateways send, breaks what
//!   the change invalidates here through the same path as an NFS change ([`Foreign::recall`],
//!   which waits for the clients' acknowledgements up to the break timeout), flushes what the
//!   clients wrote back on the way (a data change) and publishes what is left, which ends the
//!   requester's wait. At most [`RECALLS_RUNNING`] run at once;
//!   further requests wait in the store's bounded queue.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError};

use protocol::smb2::create::LeaseState;
use stores::{CacheBits, Generation, InodeId, SharedCaching, StoreResult};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::SmbServer;
use super::oplocks::{NodeKey, OpenRef};
use crate::server::share::caller::Caller;
use crate::server::share::foreign::{Foreign, Recall};
use crate::server::share::{Node, ShareId};

/// Recall requests of other gateways served at once; each may wait up to the break timeout
/// for a client's acknowledgement.
pub(crate) const RECALLS_RUNNING: usize = 64;

/// Lease state bits (R, W, H) as the store's neutral [`CacheBits`].
pub(crate) fn cache_bits(state: u32) -> CacheBits {
    let mut bits = 0;
    if state & LeaseState::READ_CACHING.0 != 0 {
        bits |= CacheBits::READ.0;
    }
    if state & LeaseState::WRITE_CACHING.0 != 0 {
        bits |= CacheBits::WRITE.0;
    }
    if state & LeaseState::HANDLE_CACHING.0 != 0 {
        bits |= CacheBits::HANDLE.0;
    }
    CacheBits(bits)
}

/// What an open of `access` sharing `share` (FILE_SHARE_* bits) adds to its node's row for
/// the other gateways' share-mode checks: the kinds of access it uses and the ones it does
/// not share. An open with neither data nor delete access takes no part in sharing
/// ([`super::attrs::share_conflict`]) and adds nothing.
pub(crate) fn mode_bits(access: u32, share: u32) -> CacheBits {
    use super::attrs::{SHARE_BITS, sharing_kinds};
    let kinds = sharing_kinds(access);
    if !kinds.contains(&true) {
        return CacheBits::NONE;
    }
    let uses = [
        CacheBits::OPEN_READ,
        CacheBits::OPEN_WRITE,
        CacheBits::OPEN_DELETE,
    ];
    let denies = [
        CacheBits::DENY_READ,
        CacheBits::DENY_WRITE,
        CacheBits::DENY_DELETE,
    ];
    let mut bits = 0;
    for i in 0..3 {
        if kinds[i] {
            bits |= uses[i].0;
        }
        if share & SHARE_BITS[i] == 0 {
            bits |= denies[i].0;
        }
    }
    CacheBits(bits)
}

/// Whether an open of `access` sharing `share` conflicts with the other gateways' handles
/// whose rows add up to `elsewhere` ([MS-FSA] 2.1.5.1.2, as [`super::attrs::share_conflict`]
/// decides it between two opens: the rows OR each handle's bits, so a conflict with any one
/// of them shows).
pub(crate) fn modes_conflict(elsewhere: CacheBits, access: u32, share: u32) -> bool {
    mode_bits(access, share).modes_conflict(elsewhere)
}

/// The rows this gateway published, one async lock each: a row's value is computed from the
/// open table and written under its lock, so the last write of a row always reflects the
/// table as of its start, never an older look overtaking a newer one.
type Slot = Arc<tokio::sync::Mutex<CacheBits>>;

/// This gateway's published SMB caching. Empty (and free) when no share's store is shared.
#[derive(Debug, Default)]
pub(crate) struct Published {
    /// The shared caching of each share whose metadata store has one.
    pub(crate) caching: BTreeMap<ShareId, Arc<dyn SharedCaching>>,
    /// Published rows (and rows being published) by their node's key. Bounded by the open
    /// table: a slot exists only while its node has opens or its row has not been withdrawn.
    rows: Mutex<HashMap<NodeKey, Slot>>,
    /// Nodes whose recall of other gateways' caching by an SMB request through this gateway
    /// timed out lately, and until when that stands: requests on them go ahead without
    /// waiting again for one break timeout (a gateway that never answers cannot hold a
    /// CREATE in a loop); and, under a key of their own, nodes whose read caching writes asked
    /// the others to drop, for [`NUDGE_EVERY`]. At most [`RECENT_MAX`] entries.
    recent: Mutex<HashMap<NodeKey, tokio::time::Instant>>,
    /// Opens a CREATE is making whose share modes are not claimed yet ([`Self::claim`]):
    /// a row published meanwhile leaves their modes out, so two gateways' CREATEs racing
    /// for one file do not each publish their handle unchecked and then refuse each other.
    /// Bounded by the CREATEs under way.
    unclaimed: Mutex<HashSet<OpenRef>>,
}

/// Nodes [`Published`] remembers recent recalls of.
const RECENT_MAX: usize = 4096;

/// How often writes through this gateway ask the other gateways again to drop the read
/// caching of a node they still cache.
const NUDGE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Published {
    /// Publishing for the shares in `caching`.
    pub(crate) fn new(caching: BTreeMap<ShareId, Arc<dyn SharedCaching>>) -> Self {
        Self {
            caching,
            rows: Mutex::new(HashMap::new()),
            recent: Mutex::new(HashMap::new()),
            unclaimed: Mutex::new(HashSet::new()),
        }
    }

    /// Whether `key` is in [`Self::recent`] with a time after `now`.
    fn stands(&self, key: NodeKey, now: tokio::time::Instant) -> bool {
        let recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        recent.get(&key).is_some_and(|t| *t > now)
    }

    /// Notes `key` in [`Self::recent`] until `until`, keeping the map within [`RECENT_MAX`].
    fn note(&self, key: NodeKey, now: tokio::time::Instant, until: tokio::time::Instant) {
        let mut recent = self.recent.lock().unwrap_or_else(PoisonError::into_inner);
        if recent.len() >= RECENT_MAX {
            recent.retain(|_, t| *t > now);
            if recent.len() >= RECENT_MAX {
                // All current: forgetting them costs at most another wait each.
                recent.clear();
            }
        }
        recent.insert(key, until);
    }

    /// An SMB open of `key` through this gateway (access `access`, overwriting or not, to be
    /// deleted on close or not) takes from the other gateways' clients the caching it cannot
    /// stand beside: write caching for any open that reads or writes the data (the holder
    /// flushes first), read caching too for one that writes or overwrites, handle caching for
    /// one that deletes. `None`: nothing to wait for; else the pending answer that runs the
    /// CREATE again once they gave it up or the break timeout passed. A node is waited on at
    /// most once per break timeout.
    pub(crate) fn recall_for_open(
        &self,
        server: &Arc<SmbServer>,
        key: NodeKey,
        access: u32,
        overwrite: bool,
        delete: bool,
    ) -> Option<crate::server::smb::connection::Out> {
        use super::attrs::access as a;
        let caching = self.caching.get(&key.share)?;
        let ino = InodeId(key.ino);
        let held = caching.elsewhere(ino);
        if held.is_empty() {
            return None;
        }
        let data = a::FILE_READ_DATA | a::FILE_WRITE_DATA | a::FILE_APPEND_DATA | a::FILE_EXECUTE;
        let writes = overwrite || access & (a::FILE_WRITE_DATA | a::FILE_APPEND_DATA) != 0;
        let change = if held.intersects(CacheBits::WRITE) && (access & data != 0 || overwrite)
            || writes && held.intersects(CacheBits::READ)
        {
            stores::CacheChange::Data
        } else if delete && held.intersects(CacheBits::HANDLE) {
            stores::CacheChange::Name
        } else {
            return None;
        };
        self.recall_change(server, key, change)
    }

    /// Share modes against the other gateways' open handles ([MS-FSA] 2.1.5.1.2): whether an
    /// SMB open of `key` through this gateway (`access`, sharing `share`) may go ahead. `Ok`:
    /// it may; `Err(Some(answer))`: another gateway's client holds handle caching on the node
    /// (it may close handles it only keeps for reuse), asked to give it up, and the CREATE
    /// runs again once it did or the break timeout passed; `Err(None)`: a sharing violation.
    /// The rows come from memory, or from the database while the mirror does not know; a
    /// database that cannot answer fails the open.
    pub(crate) async fn sharing_elsewhere(
        &self,
        server: &Arc<SmbServer>,
        key: NodeKey,
        access: u32,
        share: u32,
    ) -> Result<(), Option<crate::server::smb::connection::Out>> {
        let Some(caching) = self.caching.get(&key.share) else {
            return Ok(());
        };
        if mode_bits(access, share).is_none() {
            return Ok(());
        }
        let elsewhere = match caching.elsewhere_now(InodeId(key.ino)).await {
            Ok(bits) => bits,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the other gateways' share modes; the open fails");
                return Err(Some(crate::server::smb::connection::Out::error(
                    super::errors::status(&e),
                )));
            }
        };
        if !modes_conflict(elsewhere, access, share) {
            return Ok(());
        }
        if elsewhere.intersects(CacheBits::HANDLE)
            && let Some(wait) = self.recall_change(server, key, stores::CacheChange::Name)
        {
            return Err(Some(wait));
        }
        tracing::debug!(
            ino = key.ino,
            "share modes of another gateway's handles refuse the open"
        );
        Err(None)
    }

    /// A change through this gateway to `key` (an SMB rename, delete or truncation through an
    /// open) takes from the other gateways' clients what `change` invalidates: `None` when
    /// nothing is to be waited for, else the pending answer that runs the request again once
    /// they gave it up or the break timeout passed. A node is waited on at most once per
    /// break timeout.
    pub(crate) fn recall_change(
        &self,
        server: &Arc<SmbServer>,
        key: NodeKey,
        change: stores::CacheChange,
    ) -> Option<crate::server::smb::connection::Out> {
        let caching = self.caching.get(&key.share)?;
        let ino = InodeId(key.ino);
        if !caching.elsewhere(ino).intersects(change.invalidates()) {
            return None;
        }
        let now = server.env.now();
        // A recall of this node that timed out lately: the other gateway does not answer;
        // the request goes ahead as it did then.
        if self.stands(key, now) {
            return None;
        }
        let timeout = server.opens.break_timeout;
        let (server, caching) = (server.clone(), caching.clone());
        tracing::debug!(
            ino = key.ino,
            ?change,
            "waits for another gateway's caching"
        );
        Some(crate::server::smb::connection::Out::pending(async move {
            let settled = crate::server::share::gateways::recall_elsewhere(
                &server.env,
                &*caching,
                ino,
                change,
                timeout,
            )
            .await;
            if !settled {
                let now = server.env.now();
                server.published.note(key, now, now + timeout);
            }
            super::events::Finish::Retry
        }))
    }

    /// An SMB request through this gateway changed `key`'s data or size: other gateways'
    /// clients drop their read caching (as level II oplocks and read leases break here,
    /// without waiting). Asked at most once per [`NUDGE_EVERY`] per node, off the request's
    /// path.
    pub(crate) fn written(&self, server: &SmbServer, key: NodeKey) {
        let Some(caching) = self.caching.get(&key.share) else {
            return;
        };
        let ino = InodeId(key.ino);
        if !caching
            .elsewhere(ino)
            .intersects(stores::CacheChange::Data.invalidates())
        {
            return;
        }
        let now = server.env.now();
        // Noted under a key of its own (no stream has this one), apart from CREATE's waits.
        let nudge = NodeKey {
            stream: u64::MAX,
            ..key
        };
        if self.stands(nudge, now) {
            return;
        }
        self.note(nudge, now, now + NUDGE_EVERY);
        let caching = caching.clone();
        tokio::spawn(async move {
            if let Err(e) = caching.request_recall(ino, stores::CacheChange::Data).await {
                tracing::debug!(error = %e, "cannot ask the other gateways to drop their read caching");
            }
        });
    }

    fn rows(&self) -> std::sync::MutexGuard<'_, HashMap<NodeKey, Slot>> {
        self.rows.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `share`'s caching is published at all.
    pub(crate) fn shares(&self, share: ShareId) -> bool {
        self.caching.contains_key(&share)
    }

    /// Publishes what the open table says this gateway caches of `key`'s node, when it
    /// differs from what was published last. Errors leave the row to the next sync.
    pub(crate) async fn sync(&self, server: &SmbServer, key: NodeKey) -> StoreResult<()> {
        self.sync_after(server, key, async {}).await
    }

    fn unclaimed(&self) -> std::sync::MutexGuard<'_, HashSet<OpenRef>> {
        self.unclaimed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes as [`Self::sync`] does for a CREATE that just admitted `open`, whose share
    /// modes are `opening` ([`mode_bits`]), checked against the other gateways' rows in the
    /// same store step ([`SharedCaching::claim`]): `Ok(false)` when another gateway's handle
    /// refuses it (a sharing violation; nothing was published). Of two gateways opening one
    /// file at once with conflicting modes, at most one gets `Ok(true)`, although both passed
    /// [`Self::sharing_elsewhere`].
    pub(crate) async fn claim(
        &self,
        server: &SmbServer,
        key: NodeKey,
        open: OpenRef,
        opening: CacheBits,
    ) -> StoreResult<bool> {
        self.publish_row(server, key, async {}, Publish::Claim(open, opening))
            .await
            .map_err(|e| e.expect("a claim waits for its row"))
    }

    /// [`Self::sync`] unless another sync holds the row (a recall may hold it up to the break
    /// timeout): `Err(None)` then, and the holder publishes when it is done.
    async fn try_sync(
        &self,
        server: &SmbServer,
        key: NodeKey,
    ) -> Result<(), Option<stores::StoreError>> {
        self.publish_row(server, key, async {}, Publish::IfFree)
            .await
            .map(|_| ())
    }

    /// Runs `work` while holding `key`'s row, then publishes as [`Self::sync`] does: a
    /// recall for another gateway breaks the caching and flushes what the client wrote back
    /// before the lower state can be published (by this call or by [`reconcile`], which waits
    /// for the row), so the other gateway never goes ahead on a file whose bytes are still
    /// only here.
    pub(crate) async fn sync_after(
        &self,
        server: &SmbServer,
        key: NodeKey,
        work: impl Future<Output = ()>,
    ) -> StoreResult<()> {
        self.publish_row(server, key, work, Publish::Wait)
            .await
            .map(|_| ())
            .map_err(|e| e.expect("a sync that waits for its row is never refused"))
    }

    /// The row's publication: `work` under the row's lock (waited for, or `Err(None)` when it
    /// is held and `how` is [`Publish::IfFree`]), then the table's state published if it
    /// changed, or claimed ([`Publish::Claim`]) whether or not it did. `Ok(false)`: a claim
    /// refused.
    async fn publish_row(
        &self,
        server: &SmbServer,
        key: NodeKey,
        work: impl Future<Output = ()>,
        how: Publish,
    ) -> Result<bool, Option<stores::StoreError>> {
        let Some(caching) = self.caching.get(&key.share) else {
            work.await;
            return Ok(true);
        };
        let key = NodeKey { stream: 0, ..key };
        let slot = self.rows().entry(key).or_default().clone();
        let result = {
            let mut last = match how {
                Publish::IfFree => match slot.try_lock() {
                    Ok(last) => last,
                    // The holder publishes when it is done.
                    Err(_) => return Err(None),
                },
                Publish::Wait | Publish::Claim(..) => slot.lock().await,
            };
            work.await;
            let modes = {
                let mut unclaimed = self.unclaimed();
                if let Publish::Claim(open, _) = how {
                    // Under the row's lock: from here every row this gateway writes has it.
                    // A refused claim puts it back until the CREATE settles.
                    unclaimed.remove(&open);
                }
                server
                    .opens
                    .modes_of(key)
                    .into_iter()
                    .filter(|(open, _, _)| !unclaimed.contains(open))
                    .fold(0, |bits, (_, acc, share)| bits | mode_bits(acc, share).0)
            };
            let now = CacheBits(cache_bits(server.opens.held(key)).0 | modes);
            let ino = InodeId(key.ino);
            // Whether the row says `now` afterwards (`false`: a claim refused).
            let stands = match how {
                // Checked even when the row already says so (a sync since the handle was
                // admitted published it unchecked).
                Publish::Claim(_, opening) => caching.claim(ino, now, opening).await,
                _ if now == *last => Ok(true),
                _ => caching.publish(ino, now).await.map(|()| true),
            };
            if let (Publish::Claim(open, _), Ok(false) | Err(_)) = (how, &stands) {
                self.unclaimed().insert(open);
            }
            if let Ok(true) = stands {
                *last = now;
            }
            stands.map_err(Some)
        };
        drop(slot);
        // A withdrawn row's slot goes unless someone is using it.
        let mut rows = self.rows();
        if let Some(s) = rows.get(&key)
            && Arc::strong_count(s) == 1
            && s.try_lock().is_ok_and(|b| b.is_none())
        {
            rows.remove(&key);
        }
        result
    }

    /// The keys with a published (or being published) row.
    fn keys(&self) -> Vec<NodeKey> {
        self.rows().keys().copied().collect()
    }
}

/// A CREATE under way of an open whose share modes are not claimed yet
/// ([`Published::unclaimed`]): rows leave them out until it claims them
/// ([`Published::claim`]) or this guard drops (the CREATE is done: opened, failed or
/// waiting, and the open table dropped any entry it left). Nothing where no store is shared.
pub(crate) struct Opening<'a> {
    published: &'a Published,
    open: OpenRef,
}

impl<'a> Opening<'a> {
    pub(crate) fn new(published: &'a Published, open: OpenRef) -> Self {
        if !published.caching.is_empty() {
            published.unclaimed().insert(open);
        }
        Self { published, open }
    }
}

impl Drop for Opening<'_> {
    fn drop(&mut self) {
        if !self.published.caching.is_empty() {
            self.published.unclaimed().remove(&self.open);
        }
    }
}

/// How [`Published::publish_row`] goes about a row.
#[derive(Debug, Clone, Copy)]
enum Publish {
    /// Waits for the row's lock.
    Wait,
    /// Gives up when another holds the row's lock (it publishes when done).
    IfFree,
    /// Waits, and claims the row for an open with these share modes.
    Claim(OpenRef, CacheBits),
}

/// Starts the tasks that keep the published rows current and serve other gateways' recall
/// requests, when some share's store is shared; they end at `shutdown`.
pub(crate) fn spawn(tracker: &TaskTracker, server: Arc<SmbServer>, shutdown: &CancellationToken) {
    if server.published.caching.is_empty() {
        return;
    }
    tracker.spawn(reconcile(server.clone(), shutdown.clone()));
    // One consumer per store (shares on one store share its queue).
    let mut seen: Vec<*const ()> = Vec::new();
    for caching in server.published.caching.values() {
        let ptr = Arc::as_ptr(caching).cast::<()>();
        if seen.contains(&ptr) {
            continue;
        }
        seen.push(ptr);
        if let Some(rx) = caching.take_recalls() {
            tracker.spawn(serve_recalls(
                server.clone(),
                caching.clone(),
                rx,
                tracker.clone(),
                shutdown.clone(),
            ));
        }
    }
}

/// Publishes the caching durable opens restored at start brought back, then follows the
/// open table: after every change, every published row is brought in line with it (a
/// lookup per row; a database write only where a row changed). At `shutdown` it withdraws
/// every row and ends.
async fn reconcile(server: Arc<SmbServer>, shutdown: CancellationToken) {
    let mut keys = server.opens.keys();
    let mut failing = false;
    loop {
        let mut changed = server.opens.watch();
        keys.extend(server.published.keys());
        keys.sort_unstable_by_key(|k| (k.share, k.ino, k.generation));
        keys.dedup();
        let (mut failed, mut errored) = (false, false);
        for key in keys.drain(..) {
            match server.published.try_sync(&server, key).await {
                Ok(()) => {}
                // Held by a recall or a CREATE, which publishes when done; looked at again.
                Err(None) => failed = true,
                Err(Some(e)) => {
                    if !failing {
                        tracing::warn!(error = %e, "cannot publish SMB caching for the other gateways; retrying");
                    }
                    (failed, errored) = (true, true);
                }
            }
        }
        failing = errored;
        tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            () = changed.changed() => {}
            // A row that failed or was busy is tried again although nothing changed.
            () = tokio::time::sleep(std::time::Duration::from_secs(1)), if failed => {}
        }
    }
    // A gateway that stops withdraws its rows, so the others do not wait for its clients
    // until its session lapses.
    for key in server.published.keys() {
        if let Some(c) = server.published.caching.get(&key.share)
            && let Err(e) = c.publish(InodeId(key.ino), CacheBits::NONE).await
        {
            tracing::debug!(error = %e, ino = key.ino, "cannot withdraw SMB caching at shutdown");
        }
    }
}

/// The identity the flush after a recall runs as: the server itself (root, read-write), as
/// the write-back's own flushes do.
fn flusher() -> Caller {
    Caller::server(crate::identity::Permission::ReadWrite)
}

/// Serves the recall requests other gateways send for inodes of `caching`'s store: each
/// runs as its own task (at most [`RECALLS_RUNNING`] at once) that recalls this gateway's
/// SMB caching of the inode on every share of the store and publishes what is left. Ends at
/// `shutdown`.
async fn serve_recalls(
    server: Arc<SmbServer>,
    caching: Arc<dyn SharedCaching>,
    mut rx: tokio::sync::mpsc::Receiver<stores::RecallRequest>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    let running = Arc::new(Semaphore::new(RECALLS_RUNNING));
    let shares: Vec<ShareId> = server
        .published
        .caching
        .iter()
        .filter(|(_, c)| Arc::ptr_eq(c, &caching))
        .map(|(s, _)| *s)
        .collect();
    loop {
        let req = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            r = rx.recv() => match r {
                Some(r) => r,
                None => return,
            },
        };
        let permit = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            p = running.clone().acquire_owned() => p.expect("the recall semaphore is never closed"),
        };
        let change = match req.change {
            stores::CacheChange::Data => Recall::Data,
            stores::CacheChange::Name => Recall::Name,
        };
        let server = server.clone();
        let shares = shares.clone();
        tracker.spawn(async move {
            for share in shares {
                let mut keys = server.opens.keys_of(share, req.ino.0);
                // A row published for opens that have gone since is corrected too.
                keys.extend(
                    server
                        .published
                        .keys()
                        .into_iter()
                        .filter(|k| k.share == share && k.ino == req.ino.0),
                );
                keys.sort_unstable_by_key(|k| k.generation);
                keys.dedup();
                for key in keys {
                    let node = Node {
                        ino: InodeId(key.ino),
                        generation: Generation(key.generation),
                    };
                    tracing::debug!(ino = key.ino, ?change, "another gateway recalls SMB caching");
                    let work = async {
                        server.recall(share, node, change).await;
                        // What the client flushed on its way to acknowledging is in this
                        // gateway's write-back: durable before the other gateway changes
                        // the file.
                        if change == Recall::Data
                            && let Some(r) = server.registry.get(share)
                            && r.handle.commit(flusher(), node).await.is_err()
                        {
                            tracing::warn!(ino = key.ino, "cannot flush a recalled file for another gateway");
                        }
                    };
                    if let Err(e) = server.published.sync_after(&server, key, work).await {
                        tracing::warn!(error = %e, ino = key.ino, "cannot publish SMB caching after a recall");
                    }
                }
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the share-mode bits a row carries decide a conflict exactly as two opens on one
    /// gateway would ([`super::super::attrs::share_conflict`]), also when one row ORs several
    /// handles. Method: every pair (and triple) of a few access masks with every share mode.
    #[test]
    fn row_share_modes_decide_as_opens_do() {
        use super::super::attrs::{access as a, share_conflict};
        let accesses = [
            a::FILE_READ_ATTRIBUTES,
            a::FILE_READ_DATA,
            a::FILE_EXECUTE,
            a::FILE_WRITE_DATA,
            a::FILE_APPEND_DATA,
            a::DELETE,
            a::FILE_READ_DATA | a::FILE_WRITE_DATA,
            a::FILE_READ_DATA | a::DELETE,
        ];
        let opens: Vec<(u32, u32)> = accesses
            .iter()
            .flat_map(|&acc| (0..8).map(move |share| (acc, share)))
            .collect();
        for &(old_acc, old_share) in &opens {
            for &(new_acc, new_share) in &opens {
                let row = mode_bits(old_acc, old_share);
                assert_eq!(
                    modes_conflict(row, new_acc, new_share),
                    share_conflict(old_acc, old_share, new_acc, new_share),
                    "held {old_acc:#x}/{old_share}, new {new_acc:#x}/{new_share}"
                );
            }
        }
        for &(acc1, share1) in &opens {
            for &(acc2, share2) in opens.iter().step_by(5) {
                let row = CacheBits(mode_bits(acc1, share1).0 | mode_bits(acc2, share2).0);
                for &(new_acc, new_share) in opens.iter().step_by(3) {
                    assert_eq!(
                        modes_conflict(row, new_acc, new_share),
                        share_conflict(acc1, share1, new_acc, new_share)
                            || share_conflict(acc2, share2, new_acc, new_share),
                    );
                }
            }
        }
    }

    /// Goal: lease state bits map onto the store's neutral bits one for one (their values
    /// differ: lease H is 2 and W is 4, the store's W is 2 and H is 4). Method: every state.
    #[test]
    fn lease_states_map_to_cache_bits() {
        let (r, h, w) = (
            LeaseState::READ_CACHING.0,
            LeaseState::HANDLE_CACHING.0,
            LeaseState::WRITE_CACHING.0,
        );
        assert_eq!(cache_bits(0), CacheBits::NONE);
        assert_eq!(cache_bits(r), CacheBits::READ);
        assert_eq!(cache_bits(w), CacheBits::WRITE);
        assert_eq!(cache_bits(h), CacheBits::HANDLE);
        assert_eq!(cache_bits(r | w | h), CacheBits::ALL);
        assert_eq!(
            cache_bits(r | h),
            CacheBits(CacheBits::READ.0 | CacheBits::HANDLE.0)
        );
    }
}
