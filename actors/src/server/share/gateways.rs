//! Caching held through other gateways on the same metadata store (several `dittofs`
//! processes on one PostgreSQL): a change made here recalls it before it proceeds, as a
//! change made through NFS recalls SMB caching held here ([`super::foreign`]).
//!
//! The store's [`SharedCaching`] says, from memory, what the other gateways' clients cache
//! of an inode. [`recall_elsewhere`] asks them to give up what a change invalidates and
//! waits until their published caching no longer holds what the change depends on (write
//! caching for a data change, handle caching for a name change), at most the break timeout,
//! after which the change proceeds as SMB does for its own opens ([MS-SMB2] 3.3.2.1).
//! [`Gateways`] wraps this process's own [`Foreign`] so a front end that recalls other
//! protocols' caching (NFS, NLM) recalls the other gateways' too, with no change of its own.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use stores::{CacheBits, CacheChange, InodeId, SharedCaching};

use super::foreign::{EntryChange, Foreign, Recall};
use super::{Node, ShareId};
use crate::runtime::Env;

/// How often a recall that waits looks at the other gateways' caching again although no
/// notification said it changed (a notification lost with a connection, or a mirror that
/// does not know and is asked from the database).
const RECHECK: Duration = Duration::from_millis(250);

/// The store's name for a change.
pub(crate) fn cache_change(change: Recall) -> CacheChange {
    match change {
        Recall::Data => CacheChange::Data,
        Recall::Name => CacheChange::Name,
    }
}

/// Asks the other gateways caching `ino` to give up what `change` invalidates and waits until
/// none holds what the change depends on, or `timeout` passed (then the change proceeds;
/// logged). Returns at once when, by the mirror, no other gateway caches anything `change`
/// invalidates: the hot path is one lookup. Whether the other gateways settled (false: the
/// wait timed out).
pub(crate) async fn recall_elsewhere(
    env: &Env,
    caching: &dyn SharedCaching,
    ino: InodeId,
    change: CacheChange,
    timeout: Duration,
) -> bool {
    if !caching.elsewhere(ino).intersects(change.invalidates()) {
        return true;
    }
    let give_up = env.now() + timeout;
    let changes = caching.changes();
    if let Err(e) = caching.request_recall(ino, change).await {
        tracing::warn!(error = %e, ino = ino.0, "cannot ask the other gateways to recall their caching; waiting for it to lapse");
    }
    let mut asked_at = env.now();
    loop {
        let wait = changes.notified();
        tokio::pin!(wait);
        wait.as_mut().enable();
        let held = match caching.elsewhere_now(ino).await {
            Ok(held) => held,
            Err(e) => {
                tracing::debug!(error = %e, ino = ino.0, "other gateways' caching unknown");
                CacheBits::ALL
            }
        };
        if !held.intersects(change.waits_for()) {
            return true;
        }
        let now = env.now();
        if now >= give_up {
            tracing::warn!(
                ino = ino.0,
                ?change,
                "another gateway's clients did not give up their caching within the break timeout; going ahead"
            );
            return false;
        }
        // A request lost with a listener's connection is sent again now and then.
        if now >= asked_at + timeout / 4 {
            let _ = caching.request_recall(ino, change).await;
            asked_at = now;
        }
        tokio::select! {
            biased;
            () = wait => {}
            () = tokio::time::sleep_until(give_up.min(now + RECHECK)) => {}
        }
    }
}

/// This process's [`Foreign`] plus the other gateways' caching on the shares whose metadata
/// store several gateways share.
#[derive(Debug)]
pub(crate) struct Gateways {
    /// This process's other protocols (SMB).
    local: Arc<dyn Foreign>,
    /// The shared caching of each share whose store has one.
    remote: BTreeMap<ShareId, Arc<dyn SharedCaching>>,
    env: Env,
    /// How long a recall waits for another gateway (the SMB break timeout).
    timeout: Duration,
}

impl Gateways {
    /// `local` and the other gateways of the shares in `remote`.
    pub(crate) fn new(
        local: Arc<dyn Foreign>,
        remote: BTreeMap<ShareId, Arc<dyn SharedCaching>>,
        env: Env,
        timeout: Duration,
    ) -> Self {
        Self {
            local,
            remote,
            env,
            timeout,
        }
    }
}

impl Foreign for Gateways {
    fn any_on(&self, share: ShareId) -> bool {
        self.local.any_on(share) || self.remote.get(&share).is_some_and(|c| c.any_elsewhere())
    }

    fn holds(&self, share: ShareId, node: Node) -> bool {
        self.local.holds(share, node)
            || self
                .remote
                .get(&share)
                .is_some_and(|c| !c.elsewhere(node.ino).is_empty())
    }

    fn recall<'a>(
        &'a self,
        share: ShareId,
        node: Node,
        change: Recall,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move {
            if self.local.holds(share, node) {
                self.local.recall(share, node, change).await;
            }
            if let Some(c) = self.remote.get(&share) {
                recall_elsewhere(
                    &self.env,
                    &**c,
                    node.ino,
                    cache_change(change),
                    self.timeout,
                )
                .await;
            }
        })
    }

    fn watching(&self, share: ShareId) -> Option<bool> {
        self.local.watching(share)
    }

    fn changed(&self, share: ShareId, dir: Node, ancestors: &[u64], changes: &[EntryChange<'_>]) {
        self.local.changed(share, dir, ancestors, changes);
    }

    fn lost_track(&self, share: ShareId) {
        self.local.lost_track(share);
    }
}
