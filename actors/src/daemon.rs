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

use crate::cli::ConfigSource;
use crate::config::{self, Config, ContentStoreConfig, MetadataStoreConfig};
use crate::identity::{self, FileIdentityStore, Identity, LiveIdentity, Resolver};
use crate::runtime::Env;
use crate::server::nfs::export::{NfsExport, Squash};
use crate::server::{self, Listeners, ServerConfig, ShareSpec, StoreSet};

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
            read_only: s.read_only,
            root_mode: s.root.mode,
            root_uid: s.root.uid,
            root_gid: s.root.gid,
            nfs: NfsExport {
                squash: match s.squash {
                    config::Squash::None => Squash::None,
                    config::Squash::Root => Squash::Root,
                    config::Squash::All => Squash::All,
                },
                anon_uid: s.anonymous_uid,
                anon_gid: s.anonymous_gid,
                allowed_clients: s.allowed_clients.clone(),
                require_privileged_port: s.require_privileged_port,
            },
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

/// The identity resolver the server asks on every call: users, groups, guest and the shares'
/// `allow_guest` / `default_permission`, from the configuration file. When the configuration
/// came from a file, a task (ended by `shutdown`) re-reads the file's identity sections every
/// [`identity::RELOAD_PERIOD`] and applies them live; other changed keys are logged as needing
/// a restart. With the built-in defaults it never changes.
pub async fn identity_resolver(
    config: &Config,
    source: &ConfigSource,
    shutdown: CancellationToken,
) -> anyhow::Result<Arc<dyn Resolver>> {
    let shares = Identity::share_rules(&config.shares);
    let Some(path) = &source.path else {
        let fixed = Identity::new(&identity::identity_of(config), &shares);
        return Ok(Arc::new(LiveIdentity::fixed(fixed)));
    };
    // The file as loaded, without command-line flags such as --log-level, so that a reload
    // compares like with like when it names keys that need a restart.
    let baseline = Config::load_with(path, &source.env).unwrap_or_else(|_| config.clone());
    let store = FileIdentityStore::new(path, source.env.clone()).with_baseline(baseline);
    let (live, _task) = LiveIdentity::watch(store, shares, identity::RELOAD_PERIOD, shutdown)
        .await
        .with_context(|| format!("loading users and groups from {}", path.display()))?;
    let snapshot = live.snapshot();
    tracing::info!(
        users = snapshot.user_count(),
        groups = config.groups.len(),
        guest = config.guest.enabled,
        "identity loaded; changes to users, groups and guest apply without a restart"
    );
    Ok(Arc::new(live))
}

/// `dittofs start`: serves until SIGINT or SIGTERM, then shuts down gracefully.
pub fn run(config: Config, source: ConfigSource) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(run_async(config, source))
}

async fn run_async(config: Config, source: ConfigSource) -> anyhow::Result<()> {
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
    // Users, groups and guest, followed live from the configuration file.
    let resolver = identity_resolver(&config, &source, shutdown.clone()).await?;
    let mut sc = server_config(&config, key);
    sc.resolver = Some(resolver);
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
    let result = server::serve(env, sc, stores, Listeners { nfs: listeners }, shutdown).await;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigEnv;
    use crate::identity::Permission;

    /// Goal: the resolver the daemon builds answers from the configuration file and follows
    /// an edit of it while running; with the built-in defaults it answers as before users
    /// existed (read-write for everyone). Method: a real file in a temp dir, the real store
    /// and poll task; wait up to ten reload periods for the edit.
    #[tokio::test]
    async fn identity_resolver_follows_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let env = ConfigEnv {
            home: Some(dir.path().to_owned()),
            ..ConfigEnv::default()
        };
        let defaults = Config::parse("", "defaults", &env).expect("defaults");
        let shutdown = CancellationToken::new();
        let none = ConfigSource {
            path: None,
            env: env.clone(),
        };
        let fixed = identity_resolver(&defaults, &none, shutdown.clone())
            .await
            .expect("fixed resolver");
        assert_eq!(
            fixed.unix("/export", 4242, 1, &[]).permission,
            Permission::ReadWrite
        );
        assert_eq!(fixed.guest("/export").permission, Permission::None);

        let path = dir.path().join("config.yaml");
        let base = "shares:\n  - {name: /export, default_permission: read, allow_guest: true}\n";
        std::fs::write(&path, base).expect("write");
        let config = Config::load_with(&path, &env).expect("valid");
        let source = ConfigSource {
            path: Some(path.clone()),
            env,
        };
        let live = identity_resolver(&config, &source, shutdown.clone())
            .await
            .expect("live resolver");
        assert_eq!(
            live.unix("/export", 1001, 1, &[]).permission,
            Permission::Read
        );
        std::fs::write(
            &path,
            format!(
                "{base}users: [{{username: alice, uid: 1001, gid: 1, share_permissions: {{/export: read-write}}}}]\nguest: {{enabled: true}}\n"
            ),
        )
        .expect("edit");
        let mut periods = 0;
        while live.unix("/export", 1001, 1, &[]).permission != Permission::ReadWrite && periods < 10
        {
            tokio::time::sleep(identity::RELOAD_PERIOD).await;
            periods += 1;
        }
        let alice = live.unix("/export", 1001, 1, &[]);
        assert_eq!(
            (alice.user.as_deref(), alice.permission),
            (Some("alice"), Permission::ReadWrite)
        );
        assert_eq!(live.guest("/export").permission, Permission::Read);
        shutdown.cancel();
    }
}
