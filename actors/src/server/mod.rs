//! The server: [`serve`] wires shares, stores and listeners together, the same way in the
//! `dittofs` binary (real sockets, real stores) and in the simulator (turmoil, memory stores).
//!
//! Layout (see docs/ARCHITECTURE.md):
//! - [`share`]: the protocol-neutral share core (permissions, namespace semantics, write-back,
//!   the share actor and the registry of shares).
//! - [`nfs`]: the NFSv3 front end with MOUNT and the portmapper, calling the share core.
//! - [`smb`]: the SMB 2.0.2 – 3.1.1 front end, calling the same share core.

pub mod nfs;
pub mod share;
pub mod smb;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use stores::{ContentStore, MetadataStore};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use self::nfs::connection::{self, ConnLimits};
use self::nfs::dispatch::Dispatcher;
use self::nfs::export::{Exports, NfsExport};
use self::nfs::filehandle::FileHandleCodec;
use self::nfs::nlm::NlmService;
pub use self::nfs::nlm::NlmSettings;
use self::nfs::rpc::ConnInfo;
use self::share::Share;
use self::share::actor::ShareActor;
use self::share::registry::Registry;
use self::share::writeback::{DirtyBudget, WriteBack, WriteBackConfig, WriteVerifier};
pub use self::share::{Node, ShareId, share_id};
pub use self::smb::{Cipher, Encryption, SmbSettings, SmbShare};
use crate::identity::{Permission, Principal, Resolver};
use crate::runtime::{Env, Listener};

/// How long the start waits for a shared metadata store to follow the other gateways'
/// directory changes before it serves SMB anyway (share::foreign::follow).
const FEED_START_MAX: Duration = Duration::from_secs(5);

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
    /// The lock manager's state (NSM state number, monitored hosts) could not be read or
    /// written.
    #[error("lock manager state in the state directory: {0}")]
    LockState(#[source] std::io::Error),
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
    /// Refuse every change, whatever the caller's permission.
    pub read_only: bool,
    /// Root directory mode at creation.
    pub root_mode: u32,
    /// Root directory owner at creation.
    pub root_uid: u32,
    /// Root directory group at creation.
    pub root_gid: u32,
    /// How the share is exported over NFS (squash, allowed clients, privileged ports).
    pub nfs: NfsExport,
    /// How the share is served over SMB (its SMB name, encryption).
    pub smb: SmbShare,
}

/// The resolver a server uses when its configuration names none: every caller gets the
/// share's default permission (read-write, or read for a read-only share), which is how the
/// server behaved before identity existed.
#[derive(Debug, Clone, Default)]
pub struct ShareDefaults {
    read_only: BTreeMap<String, bool>,
}

impl ShareDefaults {
    /// Defaults for `shares`.
    pub fn new(shares: &[ShareSpec]) -> Self {
        Self {
            read_only: shares
                .iter()
                .map(|s| (s.name.clone(), s.read_only))
                .collect(),
        }
    }
}

impl ShareDefaults {
    fn permission(&self, share: &str) -> Permission {
        match self.read_only.get(share) {
            Some(true) => Permission::Read,
            Some(false) => Permission::ReadWrite,
            None => Permission::None,
        }
    }
}

impl Resolver for ShareDefaults {
    fn unix(&self, share: &str, uid: u32, gid: u32, gids: &[u32]) -> Principal {
        Principal {
            user: None,
            uid,
            gid,
            gids: gids.to_vec(),
            permission: self.permission(share),
        }
    }

    /// Without an identity configuration a caller with no credentials is the anonymous user
    /// (65534) with the share's default permission, as before identity existed.
    fn guest(&self, share: &str) -> Principal {
        self.unix(share, 65534, 65534, &[])
    }

    /// Without an identity configuration there are no users to log in as: SMB clients come
    /// in as the guest, like NFS callers without credentials.
    fn guest_enabled(&self) -> bool {
        true
    }
}

/// The listeners of each front end.
#[derive(Debug)]
pub struct Listeners<L> {
    /// NFSv3, MOUNT and the portmapper (one port serves all three).
    pub nfs: Vec<L>,
    /// SMB 2/3 (direct TCP).
    pub smb: Vec<L>,
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
    /// Bytes of replies not yet written to their sockets, server-wide; a reply that finds no
    /// room waits (its connection stops reading), it never fails.
    pub reply_bytes_max: usize,
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
    /// Resolves callers to principals and share permissions; `None`: [`ShareDefaults`].
    pub resolver: Option<Arc<dyn Resolver>>,
    /// The SMB adapter's settings (used when SMB listeners are given).
    pub smb: SmbSettings,
    /// The NFS lock manager's settings (grace period, state directory, callbacks).
    pub nlm: NlmSettings,
    /// Set once every share is open and every listener accepts connections (what the
    /// readiness check, `/ready`, waits for).
    pub serving: Option<Arc<std::sync::atomic::AtomicBool>>,
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
            reply_bytes_max: 256 << 20,
            dirty_bytes_max: 256 << 20,
            flush_workers: 2,
            share_concurrency: 256,
            handle_key,
            shutdown_timeout: Duration::from_secs(30),
            resolver: None,
            smb: SmbSettings::default(),
            nlm: NlmSettings::default(),
            serving: None,
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

/// Serves NFSv3, MOUNT v3 and the portmapper on every NFS listener until `shutdown` is
/// cancelled, then stops accepting, lets in-flight calls finish (up to `shutdown_timeout`),
/// flushes every dirty byte and syncs the stores.
pub async fn serve<L, M, C>(
    env: Env,
    config: ServerConfig,
    stores: StoreSet<M, C>,
    listeners: Listeners<L>,
    shutdown: CancellationToken,
) -> Result<(), Error>
where
    L: Listener,
    M: MetadataStore,
    C: ContentStore,
{
    let codec = FileHandleCodec::new(&config.handle_key);
    let budget = DirtyBudget::new(config.dirty_bytes_max);
    let verifier = Arc::new(WriteVerifier::new(env.rng("write-verifier").next_u64()));
    let mut registry = Registry::default();
    let mut rules = BTreeMap::new();
    let mut caches = Vec::new();
    let mut workers = Vec::new();
    let mut names: BTreeMap<ShareId, String> = BTreeMap::new();
    // The shares whose metadata store several gateways share: caching is agreed across them.
    let mut shared_caching: BTreeMap<ShareId, Arc<dyn stores::SharedCaching>> = BTreeMap::new();
    // Each share with its metadata store, for following other gateways' changes.
    let mut stores_of = Vec::new();
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
        if let Some(caching) = meta.shared_caching() {
            shared_caching.insert(id, caching);
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
            meta.clone(),
            cache.clone(),
            spec.read_only,
            root,
        )
        .await
        .map_err(|source| Error::Share {
            share: spec.name.clone(),
            source,
        })?;
        caches.push(cache);
        // Name hints serve SMB watchers here and announcements to other gateways.
        let names = !listeners.smb.is_empty() || meta.shares_locks();
        let handle = ShareActor::spawn(share, config.share_concurrency, names);
        stores_of.push((handle.clone(), meta));
        registry.insert(spec.name.clone(), handle);
        rules.insert(id, spec.nfs.clone());
    }
    let resolver = config
        .resolver
        .clone()
        .unwrap_or_else(|| Arc::new(ShareDefaults::new(&config.shares)));
    let smb_shares: BTreeMap<String, (String, SmbShare)> = config
        .shares
        .iter()
        .map(|s| (s.smb.name.to_lowercase(), (s.name.clone(), s.smb.clone())))
        .collect();
    let smb_server = Arc::new(
        smb::SmbServer::new(
            env.clone(),
            config.smb.clone(),
            smb_shares,
            registry.clone(),
            resolver.clone(),
        )
        .with_shared_caching(shared_caching.clone()),
    );
    // What NFS and NLM changes recall: this gateway's SMB caching, and the other gateways'
    // on shares whose store they share (share::gateways).
    let foreign: Arc<dyn share::foreign::Foreign> = if shared_caching.is_empty() {
        smb_server.clone()
    } else {
        Arc::new(share::gateways::Gateways::new(
            smb_server.clone(),
            shared_caching,
            env.clone(),
            smb_server.opens.break_timeout,
        ))
    };
    let nlm = NlmService::start(env.clone(), config.nlm.clone())
        .await
        .map_err(Error::LockState)?;
    nlm.set_foreign(foreign.clone());
    let dispatcher = Arc::new(Dispatcher::new(
        env.clone(),
        Exports::new(registry, rules, resolver),
        codec,
        config.nfs_port,
        (config.request_bytes_max, config.reply_bytes_max),
        nlm,
        foreign,
    ));
    let limits = ConnLimits {
        max_in_flight: config.max_in_flight_per_connection,
    };
    let conn_slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let tracker = tokio_util::task::TaskTracker::new();
    let next_id = Arc::new(std::sync::atomic::AtomicU64::new(1));
    for mut listener in listeners.nfs {
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
                };
                let d = dispatcher.clone();
                let s = shutdown.child_token();
                let open = crate::telemetry::connection("nfs");
                conns.spawn(async move {
                    connection::run(stream, info, d, limits, s).await;
                    drop((slot, open));
                });
            }
        });
    }
    // Durable opens recorded before a restart come back before the first SMB connection.
    if !listeners.smb.is_empty() {
        smb::durable_store::restore(&smb_server).await;
        // Other gateways' directory changes reach this gateway's CHANGE_NOTIFY watches,
        // where the share's store is shared (share::foreign::follow).
        for (handle, meta) in stores_of {
            if let Some(mut feed) = meta.dir_changes() {
                // A feed's first event says its store follows (and may have missed what came
                // before): wait for it, at most FEED_START_MAX, so the first watches are not
                // told to re-read for nothing.
                let _ = tokio::time::timeout(FEED_START_MAX, feed.recv()).await;
                let foreign: Arc<dyn share::foreign::Foreign> = smb_server.clone();
                tracker.spawn(share::foreign::follow(
                    handle,
                    feed,
                    foreign,
                    shutdown.clone(),
                ));
            }
        }
    }
    smb::spawn_listeners(&tracker, smb_server, listeners.smb, &shutdown, &next_id);
    if let Some(serving) = &config.serving {
        serving.store(true, std::sync::atomic::Ordering::Release);
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

    /// Goal: the default resolver gives what the server gave before identity existed:
    /// read-write on a writable share, read on a read-only one, nothing on an unknown share.
    #[test]
    fn share_defaults() {
        let spec = |name: &str, read_only| ShareSpec {
            name: name.to_owned(),
            metadata_store: String::new(),
            content_store: String::new(),
            read_only,
            root_mode: 0o755,
            root_uid: 0,
            root_gid: 0,
            nfs: NfsExport::default(),
            smb: SmbShare::default(),
        };
        let r = ShareDefaults::new(&[spec("/rw", false), spec("/ro", true)]);
        assert_eq!(r.unix("/rw", 5, 6, &[7]).permission, Permission::ReadWrite);
        assert_eq!(r.unix("/ro", 5, 6, &[7]).permission, Permission::Read);
        assert_eq!(r.unix("/nope", 5, 6, &[7]).permission, Permission::None);
        assert_eq!(r.unix("/rw", 5, 6, &[7]).gids, vec![7]);
    }
}
