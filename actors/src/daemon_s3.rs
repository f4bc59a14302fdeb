//! The daemon's part of the S3 content store (feature `s3`): settings from the configuration,
//! the bucket check at start, and the garbage collector that runs beside the server.
//!
//! Garbage collection needs to ask metadata which version each file has. The store does not
//! know the metadata store's type, so the daemon hands it a closure ([`resolver`]) that finds
//! the metadata store owning a content key (by its [`StoreId`]) and answers from it.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stores::s3::{KeyState, ResolveFuture, Resolver, S3Config, S3Content};
use stores::{ContentKey, FileKind, MetadataStore, StoreError, StoreId};

use super::AnyMetadata;
use crate::config::S3Options;

/// Full scans (listing the whole prefix) happen at start and every this many intervals, when
/// this gateway gets the bucket's scan lease (one gateway scans at a time); the runs between
/// look only at files whose versions were superseded here.
const FULL_SCAN_EVERY: u32 = 60;

/// The store's settings from `s3:` of content store `name`; the cache defaults to
/// `<state_dir>/s3-cache/<name>`.
pub(super) fn settings(name: &str, o: &S3Options, state_dir: &Path) -> S3Config {
    let cache_dir = o
        .cache_dir
        .clone()
        .unwrap_or_else(|| state_dir.join("s3-cache").join(name));
    let mut c = S3Config::new(&o.bucket, cache_dir);
    c.region = o.region.clone();
    c.endpoint = o.endpoint.clone();
    c.prefix = o.prefix.clone();
    c.force_path_style = o.force_path_style;
    c.block_size = o.block_size.bytes();
    c.cache_size = o.cache_size.bytes();
    c.access_key_id = o.access_key_id.clone();
    c.secret_access_key = o.secret_access_key.as_ref().map(|s| s.expose().to_owned());
    c.create_bucket = o.create_bucket;
    c.max_uploads = o.max_uploads;
    c.retry_deadline = o.retry_deadline;
    c.gc_grace = o.gc_grace;
    c
}

/// What metadata holds for content keys: the metadata store whose id the key names is asked
/// for the inode; another inode generation, or no inode, means the content is garbage.
pub(super) fn resolver(metadata: &BTreeMap<String, Arc<AnyMetadata>>) -> Arc<Resolver> {
    let by_id: Arc<BTreeMap<StoreId, Arc<AnyMetadata>>> =
        Arc::new(metadata.values().map(|m| (m.id(), m.clone())).collect());
    Arc::new(move |key: ContentKey| -> ResolveFuture {
        let by_id = by_id.clone();
        Box::pin(async move {
            let Some(meta) = by_id.get(&key.store) else {
                return Ok(KeyState::Unknown);
            };
            match meta.getattr(key.ino).await {
                Ok(a) if a.generation == key.generation && a.kind == FileKind::Regular => {
                    match meta.content_version(key.ino).await {
                        Ok(v) => Ok(KeyState::Live(v)),
                        Err(StoreError::Stale) => Ok(KeyState::Gone),
                        Err(e) => Err(e),
                    }
                }
                Ok(_) | Err(StoreError::Stale) => Ok(KeyState::Gone),
                Err(e) => Err(e),
            }
        })
    })
}

/// Makes every metadata store durable (what garbage collection waits for before it deletes).
async fn sync_all(metadata: &BTreeMap<String, Arc<AnyMetadata>>) -> stores::StoreResult<()> {
    for m in metadata.values() {
        m.sync().await?;
    }
    Ok(())
}

/// Checks the bucket of `store` (content store `name`), then runs its garbage collector in
/// the background: a full scan now (a crash's orphans), then every `interval`.
pub(super) async fn start(
    name: &str,
    store: &S3Content,
    metadata: &BTreeMap<String, Arc<AnyMetadata>>,
    interval: Duration,
) -> anyhow::Result<()> {
    store
        .connect()
        .await
        .map_err(|e| anyhow::anyhow!("content.stores.{name}: {e}"))?;
    let store = store.clone();
    let metadata = metadata.clone();
    let resolve = resolver(&metadata);
    let name = name.to_owned();
    // Exit path: runs until the runtime shuts down with the process.
    tokio::spawn(async move {
        let mut round: u32 = 0;
        loop {
            let full = round.is_multiple_of(FULL_SCAN_EVERY);
            match store
                .collect_garbage(full, &*resolve, sync_all(&metadata))
                .await
            {
                Ok(stats) if stats.manifests + stats.blocks > 0 => {
                    tracing::info!(store = %name, full, ?stats, "S3 garbage collected");
                }
                Ok(stats) if stats.full_skipped => {
                    tracing::debug!(store = %name, "another gateway holds the full scan lease; ran the incremental pass");
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(store = %name, full, error = %e, "S3 garbage collection failed; will try again");
                }
            }
            round = round.wrapping_add(1);
            tokio::time::sleep(interval).await;
        }
    });
    Ok(())
}
