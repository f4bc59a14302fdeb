//! The reaper: removes the content of freed files only after a metadata sync made the removal
//! durable, so that a machine crash can never bring back a name whose bytes are gone.

use std::sync::Arc;

use stores::{ContentKey, ContentStore, MetadataStore};
use tokio::sync::mpsc;

/// Freed files whose content waits for the metadata sync that makes their removal durable.
/// When the queue is full the remover syncs and removes inline (backpressure).
pub(crate) const REAP_QUEUE: usize = 4096;

/// Batches whatever has queued behind one sync. A failed sync leaves that batch's content in
/// place: leaked space, never lost data.
///
/// Exit path: ends when every sender (the share) is dropped and the queue is empty.
pub(crate) async fn reap<M: MetadataStore, C: ContentStore>(
    meta: Arc<M>,
    content: Arc<C>,
    mut rx: mpsc::Receiver<ContentKey>,
) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, REAP_QUEUE).await > 0 {
        if let Err(e) = meta.sync().await {
            tracing::warn!(files = batch.len(), error = %e, "metadata sync failed; leaving the content of freed files in place");
            batch.clear();
            continue;
        }
        if crate::buggify!("reaper-delayed") {
            // buggify: the reaper runs late: freed files keep their bytes a while longer.
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        for key in batch.drain(..) {
            remove_content(&*content, key).await;
        }
    }
}

/// Removes the content of one freed file; a failure leaks space and is logged.
pub(crate) async fn remove_content<C: ContentStore>(content: &C, key: ContentKey) {
    if let Err(e) = content.remove(key).await {
        // The namespace change is done; the bytes are garbage now, not lost data.
        tracing::warn!(ino = key.ino.0, error = %e, "could not remove content of a freed file");
    }
}
