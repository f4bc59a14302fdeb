//! The server: [`serve`] wires shares, stores and listeners together, the same way in the
//! `dittofs` binary (real sockets, real stores) and in the simulator (turmoil, memory stores).
//!
//! Layout:
//! - [`connection`]: the per-connection actor (framing, in-flight window, reply writer).
//! - `dispatch`: ONC RPC header handling, the duplicate request cache, routing to programs.
//! - `mount` and `portmap`: the MOUNT v3 and portmapper v2 programs.
//! - `nfs3`: the NFSv3 front end, mapping procedures to [`share`] operations.
//! - `share_actor`: the mailbox in front of each [`share::Share`].
//! - [`share`]: permissions and namespace semantics over the stores.
//! - [`writeback`]: the write-back cache and its flush workers.
//! - [`handle`]: file handle encoding with a keyed MAC.

pub mod connection;
mod dispatch;
pub mod handle;
mod mount;
pub mod nfs3;
mod portmap;
pub mod share;
mod share_actor;
pub mod writeback;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use stores::{ContentStore, MetadataStore};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use self::connection::{ConnInfo, ConnLimits};
use self::dispatch::{Dispatcher, ShareEntry};
use self::handle::{HandleCodec, ShareId};
use self::share::{Share, SharePolicy};
use self::writeback::{DirtyBudget, WriteBack, WriteBackConfig, WriteVerifier};
use crate::runtime::{Env, Listener};

/// What can stop the server from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A share names a store that does not exist.
    #[error("share {share}: no {kind} store named {store:?}")]
    UnknownStore {
        /// The share.
        share: String,
        /// "metadata" or "content".
        kind: &'static str,
        /// The missing name.
        store: String,
    },
    /// Two share names hash to the same handle id.
    #[error("shares {0} and {1} collide in the handle id space; rename one of them")]
    ShareIdCollision(String, String),
    /// A share could not be opened.
    #[error("share {share}: {source}")]
    Share {
        /// The share.
        share: String,
        /// Why.
        #[source]
        source: share::OpError,
    },
    /// Flushing dirty data at shutdown failed.
    #[error("flushing at shutdown: {0}")]
    Flush(#[source] stores::StoreError),
}

/// A share as the server needs it, already validated.
#[derive(Debug, Clone)]
pub struct ShareSpec {
    /// Export path, e.g. "/export".
    pub name: String,
    /// Metadata store name.
    pub metadata_store: String,
    /// Content store name.
    pub content_store: String,
    /// Identity and write policy.
    pub policy: SharePolicy,
    /// Root directory mode at creation.
    pub root_mode: u32,
    /// Root directory owner at creation.
    pub root_uid: u32,
    /// Root directory group at creation.
    pub root_gid: u32,
    /// Client networks allowed to mount and use the share (empty: everyone).
    pub allowed_clients: Vec<crate::config::Cidr>,
    /// Refuse clients whose source port is not below 1024.
    pub require_privileged_port: bool,
}

/// Server settings derived from the configuration file.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The shares.
    pub shares: Vec<ShareSpec>,
    /// Port the NFS and MOUNT programs are reachable on (portmapper GETPORT answers).
    pub nfs_port: u16,
    /// Connections served at once; further ones wait in the kernel's accept queue.
    pub max_connections: usize,
    /// Calls one connection may have executing at once.
    pub max_in_flight_per_connection: usize,
    /// Bytes of request records being executed, server-wide.
    pub request_bytes_max: usize,
    /// Unflushed write bytes, server-wide.
    pub dirty_bytes_max: usize,
    /// Flush workers per share.
    pub flush_workers: usize,
    /// Requests a share runs at once.
    pub share_concurrency: usize,
    /// Key for the file handle MAC (persistent, so handles survive restarts).
    pub handle_key: [u8; 32],
    /// How long shutdown waits for in-flight calls before it flushes anyway.
    pub shutdown_timeout: Duration,
}

impl ServerConfig {
    /// Defaults for everything but shares and the handle key.
    pub fn new(shares: Vec<ShareSpec>, handle_key: [u8; 32]) -> Self {
        Self {
            shares,
            nfs_port: 12049,
            max_connections: 1024,
            max_in_flight_per_connection: 64,
            request_bytes_max: 256 << 20,
            dirty_bytes_max: 256 << 20,
            flush_workers: 2,
            share_concurrency: 256,
            handle_key,
            shutdown_timeout: Duration::from_secs(30),
        }
    }
}

/// Named stores; each share picks one of each kind.
#[derive(Debug)]
pub struct StoreSet<M, C> {
    /// Metadata stores by name.
    pub metadata: BTreeMap<String, Arc<M>>,
    /// Content stores by name.
    pub content: BTreeMap<String, Arc<C>>,
}

/// Serves NFSv3, MOUNT v3 and the portmapper on every listener until `shutdown` is cancelled,
/// then stops accepting, lets in-flight calls finish (up to `shutdown_timeout`), flushes every
/// dirty byte and syncs the stores.
pub async fn serve<L, M, C>(
    env: Env,
    config: ServerConfig,
    stores: StoreSet<M, C>,
    listeners: Vec<L>,
    shutdown: CancellationToken,
) -> Result<(), Error>
where
    L: Listener,
    M: MetadataStore,
    C: ContentStore,
{
    let codec = HandleCodec::new(&config.handle_key);
    let budget = DirtyBudget::new(config.dirty_bytes_max);
    let verifier = Arc::new(WriteVerifier::new(env.rng("write-verifier").next_u64()));
    let mut shares = BTreeMap::new();
    let mut caches = Vec::new();
    let mut workers = Vec::new();
    let mut names: BTreeMap<ShareId, String> = BTreeMap::new();
    for spec in &config.shares {
        let meta = stores
            .metadata
            .get(&spec.metadata_store)
            .cloned()
            .ok_or_else(|| Error::UnknownStore {
                share: spec.name.clone(),
                kind: "metadata",
                store: spec.metadata_store.clone(),
            })?;
        let content = stores
            .content
            .get(&spec.content_store)
            .cloned()
            .ok_or_else(|| Error::UnknownStore {
                share: spec.name.clone(),
                kind: "content",
                store: spec.content_store.clone(),
            })?;
        let id = share_id(&spec.name);
        if let Some(other) = names.insert(id, spec.name.clone()) {
            return Err(Error::ShareIdCollision(other, spec.name.clone()));
        }
        let cache = WriteBack::new(
            env.clone(),
            meta.clone(),
            content.clone(),
            budget.clone(),
            verifier.clone(),
            WriteBackConfig {
                flush_workers: config.flush_workers,
                ..WriteBackConfig::default()
            },
        );
        workers.extend(cache.spawn_workers());
        let root = share::RootAttrs {
            mode: spec.root_mode,
            uid: spec.root_uid,
            gid: spec.root_gid,
        };
        let share = Share::open(
            env.clone(),
            &spec.name,
            id,
            meta,
            cache.clone(),
            spec.policy.clone(),
            root,
        )
        .await
        .map_err(|source| Error::Share {
            share: spec.name.clone(),
            source,
        })?;
        caches.push(cache);
        let handle = share_actor::spawn(share, codec.clone(), config.share_concurrency);
        shares.insert(
            id,
            ShareEntry {
                handle,
                spec: spec.clone(),
            },
        );
    }
    let dispatcher = Arc::new(Dispatcher::new(
        env.clone(),
        shares,
        config.nfs_port,
        Arc::new(Semaphore::new(config.request_bytes_max)),
        config.request_bytes_max,
    ));
    let limits = ConnLimits {
        max_in_flight: config.max_in_flight_per_connection,
    };
    let conn_slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let tracker = tokio_util::task::TaskTracker::new();
    let next_id = Arc::new(std::sync::atomic::AtomicU64::new(1));
    for mut listener in listeners {
        let local_port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
        let dispatcher = dispatcher.clone();
        let shutdown = shutdown.clone();
        let conn_slots = conn_slots.clone();
        let conns = tracker.clone();
        let next_id = next_id.clone();
        tracker.spawn(async move {
            loop {
                // Wait for a connection slot before accepting: excess clients queue in the
                // kernel's backlog instead of costing us memory.
                let slot = tokio::select! {
                    biased;
                    () = shutdown.cancelled() => return,
                    s = conn_slots.clone().acquire_owned() => s.expect("connection semaphore is never closed"),
                };
                let accepted = tokio::select! {
                    biased;
                    () = shutdown.cancelled() => return,
                    a = listener.accept() => a,
                };
                let (stream, peer) = match accepted {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let info = ConnInfo {
                    id: next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                    peer,
                    local_port,
                };
                let d = dispatcher.clone();
                let s = shutdown.child_token();
                conns.spawn(async move {
                    connection::run(stream, info, d, limits, s).await;
                    drop(slot);
                });
            }
        });
    }
    shutdown.cancelled().await;
    tracing::info!("shutting down: no new connections; finishing in-flight calls");
    tracker.close();
    if tokio::time::timeout(config.shutdown_timeout, tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(timeout = ?config.shutdown_timeout, "in-flight calls did not finish in time; flushing anyway");
    }
    let mut result = Ok(());
    for cache in &caches {
        if let Err(e) = cache.shutdown().await {
            tracing::error!(error = %e, "flush at shutdown failed");
            result = Err(Error::Flush(e));
        }
    }
    for w in workers {
        let _ = w.await;
    }
    tracing::info!("all dirty data flushed and stores synced");
    result
}

/// The handle id of a share: a stable hash of its name, so handles survive restarts and config
/// reordering. 0 is skipped to keep it distinguishable from "no share".
pub fn share_id(name: &str) -> ShareId {
    let h = crate::runtime::fnv1a64(name.as_bytes());
    let id = (h ^ (h >> 32)) as u32;
    ShareId(if id == 0 { 1 } else { id })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: share ids are stable (they are in every handle clients hold) and never 0.
    #[test]
    fn share_ids_are_stable() {
        assert_eq!(share_id("/export"), share_id("/export"));
        assert_ne!(share_id("/export"), share_id("/export2"));
        assert_ne!(share_id("/export").0, 0);
    }
}
