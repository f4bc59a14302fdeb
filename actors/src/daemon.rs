//! The daemon: turns a validated [`Config`] into running stores, listeners and
//! [`server::serve`]. This is the one place that names concrete backends (`Engine` matching,
//! STYLE §5): the server itself is generic over the store traits.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context as _;
use rand::RngCore;
use stores::fs::FsContent;
use stores::memory::{MemoryContent, MemoryMetadata};
use stores::{MetadataStore as _, StoreId};
use tokio_util::sync::CancellationToken;

use crate::config::{self, Config, ContentStoreConfig, MetadataStoreConfig};
use crate::runtime::Env;
use crate::server::{self, ServerConfig, ShareSpec, StoreSet};

/// Every metadata backend compiled into the binary. A backend compiled out (RocksDB without
/// the `rocksdb` feature) has no variant; the configuration can still name it, and
/// [`open_stores`] answers with a clear error instead.
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

/// How one call reaches the backend inside an [`AnyMetadata`]; see `stores::forward`.
macro_rules! meta_dispatch {
    ($this:ident, $kind:ident $op:ident, $s:ident => $e:expr) => {
        match $this {
            AnyMetadata::Memory($s) => $e,
            #[cfg(feature = "rocksdb")]
            AnyMetadata::Rocks($s) => $e,
        }
    };
}

/// How one call reaches the backend inside an [`AnyContent`]; see `stores::forward`.
macro_rules! content_dispatch {
    ($this:ident, $kind:ident $op:ident, $s:ident => $e:expr) => {
        match $this {
            AnyContent::Memory($s) => $e,
            AnyContent::Fs($s) => $e,
        }
    };
}

stores::forward_metadata_store!(impl[] for AnyMetadata, meta_dispatch);
stores::forward_content_store!(impl[] for AnyContent, content_dispatch);

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

/// Name of the NFS file-handle MAC key among the metadata store's secrets.
pub const HANDLE_KEY_SECRET: &str = "nfs-handle-key";

/// The key that signs NFS file handles, from the metadata store of the first share (or, with
/// no shares, the first metadata store by name), so that gateways sharing that store accept
/// each other's handles. On the first start after an upgrade the store has no key yet: the
/// key of `state_dir/handle.key`, which older versions kept there, is stored (so handles issued
/// before the upgrade stay valid); without that file a fresh random key is. Gateways starting
/// at once agree through [`MetadataStore::init_secret`]: the first key stored wins.
pub async fn handle_key(
    env: &Env,
    config: &Config,
    stores: &StoreSet<AnyMetadata, AnyContent>,
) -> anyhow::Result<[u8; 32]> {
    let name = config
        .shares
        .first()
        .map(|s| s.metadata_store.clone())
        .or_else(|| stores.metadata.keys().next().cloned())
        .context("no metadata store to keep the file-handle key in")?;
    let store = stores
        .metadata
        .get(&name)
        .with_context(|| format!("metadata store {name} is not open"))?;
    let stored = match store.secret(HANDLE_KEY_SECRET).await {
        Ok(Some(key)) => key,
        Ok(None) => {
            let legacy = config.server.state_dir.join("handle.key");
            let candidate = match std::fs::read(&legacy) {
                Ok(bytes) => {
                    let key = key_bytes(&bytes).with_context(|| {
                        format!(
                            "{} is {} bytes, expected 32; it is not a DittoFS handle key (move \
                             it away to make a new one, which invalidates every file handle \
                             clients hold)",
                            legacy.display(),
                            bytes.len()
                        )
                    })?;
                    tracing::info!(
                        file = %legacy.display(), store = %name,
                        "moving the file-handle key into the metadata store"
                    );
                    key
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let mut key = [0u8; 32];
                    env.rng("handle-key").fill_bytes(&mut key);
                    key
                }
                Err(e) => {
                    return Err(e).with_context(|| format!("reading {}", legacy.display()));
                }
            };
            store
                .init_secret(HANDLE_KEY_SECRET, candidate.to_vec())
                .await
                .with_context(|| format!("storing the file-handle key in metadata store {name}"))?
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!("reading the file-handle key from metadata store {name}")
            });
        }
    };
    key_bytes(&stored).with_context(|| {
        format!(
            "the file-handle key in metadata store {name} is {} bytes, expected 32",
            stored.len()
        )
    })
}

/// `bytes` as a 32-byte key.
fn key_bytes(bytes: &[u8]) -> anyhow::Result<[u8; 32]> {
    bytes
        .try_into()
        .map_err(|_| anyhow::anyhow!("a file-handle key has 32 bytes"))
}

/// `dittofs start`: serves until SIGINT or SIGTERM, then shuts down gracefully.
pub fn run(config: Config) -> anyhow::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(run_async(config))
}

async fn run_async(config: Config) -> anyhow::Result<()> {
    let env = Env::real();
    let stores = open_stores(&env, &config)?;
    let key = handle_key(&env, &config, &stores).await?;
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
