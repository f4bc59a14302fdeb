//! The daemon: turns a validated [`Config`] into running stores, listeners and
//! [`server::serve`]. This is the one place that names concrete backends (`Engine` matching,
//! STYLE §5): the server itself is generic over the store traits.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use rand::RngCore;
use stores::fs::FsContent;
use stores::memory::{MemoryContent, MemoryMetadata};
use stores::{
    Attr, ContentKey, ContentStore, Cookie, DirPage, InodeId, MetadataStore, NewNode, Removed,
    Renamed, SetAttr, StoreId, StoreResult, Timestamp, Usage,
};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, ContentStoreConfig, MetadataStoreConfig};
use crate::runtime::Env;
use crate::server::{self, ServerConfig, ShareSpec, StoreSet};

/// Every metadata backend the binary can run. Backends compiled out still have a variant, so
/// the configuration can name them and get a clear error.
pub enum AnyMetadata {
    /// In memory; lost at exit.
    Memory(MemoryMetadata),
    /// RocksDB, embedded and persistent.
    #[cfg(feature = "rocksdb")]
    Rocks(stores::rocksdb::RocksMetadata),
}

/// Every content backend the binary can run.
pub enum AnyContent {
    /// In memory; lost at exit.
    Memory(MemoryContent),
    /// Files on the local filesystem.
    Fs(FsContent),
}

macro_rules! meta_dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyMetadata::Memory($s) => $e,
            #[cfg(feature = "rocksdb")]
            AnyMetadata::Rocks($s) => $e,
        }
    };
}

macro_rules! content_dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            AnyContent::Memory($s) => $e,
            AnyContent::Fs($s) => $e,
        }
    };
}

impl MetadataStore for AnyMetadata {
    fn id(&self) -> StoreId {
        meta_dispatch!(self, s => s.id())
    }
    async fn share_root(&self, name: &str, root: NewNode) -> StoreResult<Attr> {
        meta_dispatch!(self, s => s.share_root(name, root).await)
    }
    async fn getattr(&self, ino: InodeId) -> StoreResult<Attr> {
        meta_dispatch!(self, s => s.getattr(ino).await)
    }
    async fn lookup(&self, dir: InodeId, name: &[u8]) -> StoreResult<Attr> {
        meta_dispatch!(self, s => s.lookup(dir, name).await)
    }
    async fn create(&self, dir: InodeId, name: &[u8], node: NewNode) -> StoreResult<Attr> {
        meta_dispatch!(self, s => s.create(dir, name, node).await)
    }
    async fn link(
        &self,
        ino: InodeId,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Attr> {
        meta_dispatch!(self, s => s.link(ino, dir, name, now).await)
    }
    async fn unlink(&self, dir: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Removed> {
        meta_dispatch!(self, s => s.unlink(dir, name, now).await)
    }
    async fn rmdir(&self, dir: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Removed> {
        meta_dispatch!(self, s => s.rmdir(dir, name, now).await)
    }
    async fn rename(
        &self,
        from_dir: InodeId,
        from_name: &[u8],
        to_dir: InodeId,
        to_name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Renamed> {
        meta_dispatch!(self, s => s.rename(from_dir, from_name, to_dir, to_name, now).await)
    }
    async fn setattr(&self, ino: InodeId, set: SetAttr, now: Timestamp) -> StoreResult<Attr> {
        meta_dispatch!(self, s => s.setattr(ino, set, now).await)
    }
    async fn record_write(&self, ino: InodeId, end: u64, mtime: Timestamp) -> StoreResult<Attr> {
        meta_dispatch!(self, s => s.record_write(ino, end, mtime).await)
    }
    async fn readlink(&self, ino: InodeId) -> StoreResult<Vec<u8>> {
        meta_dispatch!(self, s => s.readlink(ino).await)
    }
    async fn readdir(
        &self,
        dir: InodeId,
        after: Cookie,
        max_entries: usize,
    ) -> StoreResult<DirPage> {
        meta_dispatch!(self, s => s.readdir(dir, after, max_entries).await)
    }
    async fn parent(&self, dir: InodeId) -> StoreResult<InodeId> {
        meta_dispatch!(self, s => s.parent(dir).await)
    }
    async fn usage(&self) -> StoreResult<Usage> {
        meta_dispatch!(self, s => s.usage().await)
    }
    async fn sync(&self) -> StoreResult<()> {
        meta_dispatch!(self, s => s.sync().await)
    }
}

impl ContentStore for AnyContent {
    async fn read(&self, key: ContentKey, offset: u64, len: u32) -> StoreResult<Bytes> {
        content_dispatch!(self, s => s.read(key, offset, len).await)
    }
    async fn write(&self, key: ContentKey, offset: u64, data: Bytes) -> StoreResult<()> {
        content_dispatch!(self, s => s.write(key, offset, data).await)
    }
    async fn truncate(&self, key: ContentKey, len: u64) -> StoreResult<()> {
        content_dispatch!(self, s => s.truncate(key, len).await)
    }
    async fn len(&self, key: ContentKey) -> StoreResult<u64> {
        content_dispatch!(self, s => s.len(key).await)
    }
    async fn remove(&self, key: ContentKey) -> StoreResult<()> {
        content_dispatch!(self, s => s.remove(key).await)
    }
    async fn sync(&self, key: ContentKey) -> StoreResult<()> {
        content_dispatch!(self, s => s.sync(key).await)
    }
    async fn usage(&self) -> StoreResult<Usage> {
        content_dispatch!(self, s => s.usage().await)
    }
}

/// Opens every store the configuration names.
pub fn open_stores(
    env: &Env,
    config: &Config,
) -> anyhow::Result<StoreSet<AnyMetadata, AnyContent>> {
    let mut metadata = BTreeMap::new();
    for (name, cfg) in &config.metadata.stores {
        let store = match cfg {
            MetadataStoreConfig::Memory {} => AnyMetadata::Memory(MemoryMetadata::new(StoreId(
                env.rng(&format!("store:{name}")).next_u64(),
            ))),
            #[cfg(feature = "rocksdb")]
            MetadataStoreConfig::Rocksdb { path } => AnyMetadata::Rocks(
                stores::rocksdb::RocksMetadata::open(path).with_context(|| {
                    format!(
                        "metadata.stores.{name}: opening RocksDB at {}",
                        path.display()
                    )
                })?,
            ),
            #[cfg(not(feature = "rocksdb"))]
            MetadataStoreConfig::Rocksdb { .. } => {
                anyhow::bail!(
                    "metadata.stores.{name}: this dittofs was built without RocksDB support"
                )
            }
            MetadataStoreConfig::Postgres(_) => {
                anyhow::bail!(
                    "metadata.stores.{name}: the postgres backend is not built in this version"
                )
            }
        };
        metadata.insert(name.clone(), Arc::new(store));
    }
    let mut content = BTreeMap::new();
    for (name, cfg) in &config.content.stores {
        let store = match cfg {
            ContentStoreConfig::Memory {} => AnyContent::Memory(MemoryContent::new()),
            ContentStoreConfig::Filesystem { path } => {
                AnyContent::Fs(FsContent::open(path.clone()).with_context(|| {
                    format!("content.stores.{name}: opening {}", path.display())
                })?)
            }
            ContentStoreConfig::S3(_) => {
                anyhow::bail!("content.stores.{name}: the s3 backend is not built in this version")
            }
        };
        content.insert(name.clone(), Arc::new(store));
    }
    Ok(StoreSet { metadata, content })
}

/// Server settings from the configuration.
pub fn server_config(config: &Config, handle_key: [u8; 32]) -> ServerConfig {
    let shares = config
        .shares
        .iter()
        .map(|s| ShareSpec {
            name: s.name.clone(),
            metadata_store: s.metadata_store.clone(),
            content_store: s.content_store.clone(),
            policy: server::share::SharePolicy {
                read_only: s.read_only,
                squash: match s.squash {
                    config::Squash::None => server::share::Squash::None,
                    config::Squash::Root => server::share::Squash::Root,
                    config::Squash::All => server::share::Squash::All,
                },
                anon_uid: s.anonymous_uid,
                anon_gid: s.anonymous_gid,
            },
            root_mode: s.root.mode,
            root_uid: s.root.uid,
            root_gid: s.root.gid,
            allowed_clients: s.allowed_clients.clone(),
            require_privileged_port: s.require_privileged_port,
        })
        .collect();
    let nfs = &config.adapters.nfs;
    let mut sc = ServerConfig::new(shares, handle_key);
    sc.nfs_port = nfs.port;
    sc.max_connections = nfs.max_connections;
    sc.max_in_flight_per_connection = nfs.max_in_flight_per_connection;
    sc.dirty_bytes_max = usize::try_from(config.cache.dirty_bytes_max.0).unwrap_or(usize::MAX);
    sc.flush_workers = config.cache.flush_workers;
    sc.shutdown_timeout = config.server.shutdown_timeout;
    sc
}

/// Reads the handle MAC key from `path`, creating it (mode 0600) with fresh random bytes if it
/// does not exist. The key must outlive restarts: handles clients hold are signed with it.
pub fn load_or_create_key(env: &Env, path: &Path) -> anyhow::Result<[u8; 32]> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
                anyhow::anyhow!(
                    "{} is {} bytes, expected 32; it is not a DittoFS handle key (move it away to make a new one, \
                     which invalidates every file handle clients hold)",
                    path.display(),
                    bytes.len()
                )
            })?;
            Ok(key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut key = [0u8; 32];
            env.rng("handle-key").fill_bytes(&mut key);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("creating {}", dir.display()))?;
            }
            let mut f =
                open_private(path).with_context(|| format!("creating {}", path.display()))?;
            f.write_all(&key)?;
            f.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// Descriptors beyond the ones [`descriptors_needed`] counts per part: standard streams, the
/// runtime's epoll and event descriptors, the listeners, RocksDB's write-ahead log, manifest,
/// lock and info-log files, the handle key, and files opened for a moment.
pub const NOFILE_MARGIN: u64 = 128;

/// The open descriptors `config` may need at once, as (total, explanation): one socket per
/// connection (`adapters.nfs.max_connections`), each filesystem content store's descriptor
/// cache ([`stores::fs::FD_CACHE_MAX`]), each RocksDB store's table files
/// (`stores::rocksdb::MAX_OPEN_FILES`), and [`NOFILE_MARGIN`].
pub fn descriptors_needed(config: &Config) -> (u64, String) {
    let conns = config.adapters.nfs.max_connections as u64;
    let fs = config
        .content
        .stores
        .values()
        .filter(|s| matches!(s, ContentStoreConfig::Filesystem { .. }))
        .count() as u64;
    let rocks = config
        .metadata
        .stores
        .values()
        .filter(|s| matches!(s, MetadataStoreConfig::Rocksdb { .. }))
        .count() as u64;
    #[cfg(feature = "rocksdb")]
    let rocks_each = stores::rocksdb::MAX_OPEN_FILES as u64;
    // Without RocksDB compiled in, such a store fails to open anyway.
    #[cfg(not(feature = "rocksdb"))]
    let rocks_each = 0;
    let fs_each = stores::fs::FD_CACHE_MAX as u64;
    let total = conns + fs * fs_each + rocks * rocks_each + NOFILE_MARGIN;
    let why = format!(
        "{conns} connections (adapters.nfs.max_connections) + {fs} filesystem content store(s) x \
         {fs_each} cached descriptors + {rocks} RocksDB store(s) x {rocks_each} table files + \
         {NOFILE_MARGIN} margin"
    );
    (total, why)
}

/// Raises the soft open-file limit (RLIMIT_NOFILE) to what `config` needs
/// ([`descriptors_needed`]) when it is lower, up to the hard limit. Refuses to start, naming
/// both numbers and the remedies, when even the hard limit is too low: a server that runs out
/// of descriptors under load fails requests at random instead.
pub fn raise_nofile_limit(config: &Config) -> anyhow::Result<()> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let (need, why) = descriptors_needed(config);
    let limit = getrlimit(Resource::Nofile);
    // `None` is RLIM_INFINITY.
    let soft = limit.current.unwrap_or(u64::MAX);
    let hard = limit.maximum.unwrap_or(u64::MAX);
    if soft >= need {
        tracing::debug!(soft, need, "open-file limit suffices");
        return Ok(());
    }
    if hard < need {
        anyhow::bail!(
            "dittofs needs up to {need} open files ({why}), but the hard limit on open files \
             (RLIMIT_NOFILE) is {hard}. Raise it to at least {need}: `ulimit -n {need}` in the \
             shell that starts dittofs (as root if the hard limit must grow), or \
             LimitNOFILE={need} in its systemd unit; or lower adapters.nfs.max_connections"
        );
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(need),
            maximum: limit.maximum,
        },
    )
    .with_context(|| {
        format!("raising the open-file limit (RLIMIT_NOFILE) from {soft} to {need}")
    })?;
    tracing::info!(
        from = soft,
        to = need,
        hard,
        "raised the open-file limit (RLIMIT_NOFILE): {why}"
    );
    Ok(())
}

/// `dittofs start`: serves until SIGINT or SIGTERM, then shuts down gracefully.
pub fn run(config: Config) -> anyhow::Result<()> {
    raise_nofile_limit(&config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(run_async(config))
}

async fn run_async(config: Config) -> anyhow::Result<()> {
    let env = Env::real();
    let key = load_or_create_key(&env, &config.server.state_dir.join("handle.key"))?;
    let stores = open_stores(&env, &config)?;
    let nfs = &config.adapters.nfs;
    if !nfs.enabled {
        anyhow::bail!(
            "adapters.nfs.enabled is false and no other adapter exists yet: nothing to serve"
        );
    }
    let mut listeners = Vec::new();
    let addr = nfs.socket_addr();
    listeners.push(tokio::net::TcpListener::bind(addr).await.with_context(|| {
        format!("binding NFS to {addr} (adapters.nfs.port): is another server using it? pick another port")
    })?);
    if nfs.portmapper.enabled {
        let pm = std::net::SocketAddr::new(nfs.bind, nfs.portmapper.port);
        match tokio::net::TcpListener::bind(pm).await {
            Ok(l) => listeners.push(l),
            Err(e) => tracing::warn!(
                addr = %pm, error = %e,
                "portmapper not started (needs root for port 111, or rpcbind already runs); \
                 clients must pass port=/mountport= options"
            ),
        }
    }
    let shutdown = CancellationToken::new();
    let sc = server_config(&config, key);
    for s in &config.shares {
        tracing::info!(share = %s.name, metadata = %s.metadata_store, content = %s.content_store, "serving share");
    }
    tracing::info!(%addr, "NFSv3 and MOUNT v3 listening");
    let signal = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            wait_for_signal().await;
            tracing::info!("signal received; shutting down");
            shutdown.cancel();
        })
    };
    let result = server::serve(env, sc, stores, listeners, shutdown).await;
    signal.abort();
    result.context("server stopped with an error")
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    tokio::select! {
        biased;
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    let _ = tokio::signal::ctrl_c().await;
}
