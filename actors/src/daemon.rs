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

use crate::cli::ConfigSource;
use crate::config::{self, Config, ContentStoreConfig, MetadataStoreConfig};
use crate::identity::{self, FileIdentityStore, Identity, LiveIdentity, Resolver};
use crate::runtime::Env;
use crate::server::nfs::export::{NfsExport, Squash};
use crate::server::{
    self, Cipher, Encryption, Listeners, NlmSettings, ServerConfig, ShareSpec, SmbSettings,
    SmbShare, StoreSet,
};

/// Every metadata backend compiled into the binary. A backend compiled out (RocksDB without
/// the `rocksdb` feature) has no variant; the configuration can still name it, and
/// [`open_stores`] answers with a clear error instead.
pub enum AnyMetadata {
    /// In memory; lost at exit.
    Memory(MemoryMetadata),
    /// RocksDB, embedded and persistent.
    #[cfg(feature = "rocksdb")]
    Rocks(stores::rocksdb::RocksMetadata),
    /// PostgreSQL, shared by several gateways.
    #[cfg(feature = "postgres")]
    Postgres(stores::postgres::PgMetadata),
}

impl AnyMetadata {
    /// The backend's name, as the configuration's `type` spells it (a metrics label).
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            #[cfg(feature = "rocksdb")]
            Self::Rocks(_) => "rocksdb",
            #[cfg(feature = "postgres")]
            Self::Postgres(_) => "postgres",
        }
    }
}

/// Every content backend the binary can run.
pub enum AnyContent {
    /// In memory; lost at exit.
    Memory(MemoryContent),
    /// Files on the local filesystem.
    Fs(FsContent),
    /// Blocks and manifests in an S3 bucket.
    #[cfg(feature = "s3")]
    S3(stores::s3::S3Content),
}

impl AnyContent {
    /// The backend's name, as the configuration's `type` spells it (a metrics label).
    pub fn backend(&self) -> &'static str {
        match self {
            Self::Memory(_) => "memory",
            Self::Fs(_) => "filesystem",
            #[cfg(feature = "s3")]
            Self::S3(_) => "s3",
        }
    }
}

#[cfg(feature = "s3")]
#[path = "daemon_s3.rs"]
mod s3;

#[cfg(feature = "postgres")]
#[path = "daemon_identity.rs"]
pub mod identity_pg;

/// How one call reaches the backend inside an [`AnyMetadata`]; see `stores::forward`. Every
/// async call is counted and timed ([`crate::telemetry::store_call`]).
macro_rules! meta_dispatch {
    ($this:ident, fn $op:ident, $s:ident => $e:expr) => {
        match $this {
            AnyMetadata::Memory($s) => $e,
            #[cfg(feature = "rocksdb")]
            AnyMetadata::Rocks($s) => $e,
            #[cfg(feature = "postgres")]
            AnyMetadata::Postgres($s) => $e,
        }
    };
    ($this:ident, async $op:ident, $s:ident => $e:expr) => {{
        let started = crate::telemetry::real_now();
        let result = meta_dispatch!($this, fn $op, $s => $e);
        crate::telemetry::store_call(
            "metadata",
            $this.backend(),
            stringify!($op),
            &result,
            started.elapsed(),
        );
        result
    }};
}

/// How one call reaches the backend inside an [`AnyContent`]; see `stores::forward`. Every
/// async call is counted and timed ([`crate::telemetry::store_call`]).
macro_rules! content_dispatch {
    ($this:ident, fn $op:ident, $s:ident => $e:expr) => {
        match $this {
            AnyContent::Memory($s) => $e,
            AnyContent::Fs($s) => $e,
            #[cfg(feature = "s3")]
            AnyContent::S3($s) => $e,
        }
    };
    ($this:ident, async $op:ident, $s:ident => $e:expr) => {{
        let started = crate::telemetry::real_now();
        let result = content_dispatch!($this, fn $op, $s => $e);
        crate::telemetry::store_call(
            "content",
            $this.backend(),
            stringify!($op),
            &result,
            started.elapsed(),
        );
        result
    }};
}

stores::forward_metadata_store!(impl[] for AnyMetadata, meta_dispatch);
stores::forward_content_store!(impl[] for AnyContent, content_dispatch);

/// Opens every store the configuration names (connecting to PostgreSQL and applying its
/// migrations for a `postgres` store).
pub async fn open_stores(
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
            #[cfg(feature = "postgres")]
            MetadataStoreConfig::Postgres(options) => AnyMetadata::Postgres(
                stores::postgres::PgMetadata::connect(&pg_config(options))
                    .await
                    .with_context(|| {
                        format!(
                            "metadata.stores.{name}: connecting to PostgreSQL at {}",
                            options.url.redacted()
                        )
                    })?,
            ),
            #[cfg(not(feature = "postgres"))]
            MetadataStoreConfig::Postgres(_) => {
                anyhow::bail!(
                    "metadata.stores.{name}: this dittofs was built without PostgreSQL support \
                     (the `postgres` feature)"
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
            #[cfg(feature = "s3")]
            ContentStoreConfig::S3(o) => AnyContent::S3(
                stores::s3::S3Content::new(s3::settings(name, o, &config.server.state_dir))
                    .with_context(|| format!("content.stores.{name}: opening the S3 store"))?,
            ),
            #[cfg(not(feature = "s3"))]
            ContentStoreConfig::S3(_) => {
                anyhow::bail!(
                    "content.stores.{name}: the s3 backend is not built into this binary (cargo feature `s3`)"
                )
            }
        };
        content.insert(name.clone(), Arc::new(store));
    }
    Ok(StoreSet { metadata, content })
}

/// The PostgreSQL store's settings from a `postgres:` section. The password stays in the URL
/// (or comes from `PGPASSWORD` when the URL has none); it is never logged.
#[cfg(feature = "postgres")]
pub fn pg_config(options: &config::PostgresOptions) -> stores::postgres::PgConfig {
    stores::postgres::PgConfig {
        url: options.url.0.clone(),
        max_connections: options.max_connections,
        acquire_timeout: options.acquire_timeout,
        statement_timeout: options.statement_timeout,
        retry_deadline: options.retry_deadline,
        lock_session_ttl: options.lock_session_ttl,
    }
}

/// This machine's host name (Linux: `/proc/sys/kernel/hostname`), or `localhost`.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// This gateway's stable identity: a random nonzero number kept in `state_dir/gateway-id`
/// (hex), made on the first start (written to a temporary file, synced and renamed in, so a
/// crash never leaves half of one). It names the durable-open records this gateway writes, so
/// that gateways sharing one metadata database each restore only their own.
#[expect(
    clippy::disallowed_methods,
    reason = "made once by the daemon, which never runs in the simulator"
)]
pub fn gateway_id(state_dir: &std::path::Path) -> anyhow::Result<u64> {
    use std::io::Write;
    let path = state_dir.join("gateway-id");
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            return u64::from_str_radix(text.trim(), 16)
                .ok()
                .filter(|&id| id != 0)
                .with_context(|| {
                    format!(
                        "{} does not hold a gateway id (16 hex digits); remove it and a new one is made",
                        path.display()
                    )
                });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    std::fs::create_dir_all(state_dir)
        .with_context(|| format!("creating server.state_dir {}", state_dir.display()))?;
    let id = loop {
        let id = rand::random::<u64>();
        if id != 0 {
            break id;
        }
    };
    let tmp = state_dir.join("gateway-id.tmp");
    let mut f =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    writeln!(f, "{id:016x}")
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("creating {}", path.display()))?;
    Ok(id)
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
            smb: SmbShare {
                name: s.smb_name(),
                encryption: encryption(s.smb.encryption),
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
    sc.nlm = NlmSettings {
        grace: nfs.locking.grace_period,
        state_dir: Some(config.server.state_dir.clone()),
        server_name: if nfs.locking.server_name.is_empty() {
            host_name()
        } else {
            nfs.locking.server_name.clone()
        },
        client_portmap_port: nfs.locking.client_portmapper_port,
        callbacks: true,
    };
    let smb = &config.adapters.smb;
    sc.smb = SmbSettings {
        max_connections: smb.max_connections,
        max_credits: smb.max_credits,
        dialect_min: dialect(smb.dialects.min),
        dialect_max: dialect(smb.dialects.max),
        signing_required: smb.signing_required,
        multichannel: smb.multichannel,
        encryption: encryption(smb.encryption),
        ciphers: smb.ciphers.iter().map(|&c| cipher(c)).collect(),
        server_name: smb.server_name.clone(),
        domain: smb.domain.clone(),
        gateway_id: 0,
    };
    sc
}

/// The MS-SMB2 dialect number of a configured dialect.
fn dialect(d: config::SmbDialect) -> u16 {
    match d {
        config::SmbDialect::Smb2_0_2 => 0x0202,
        config::SmbDialect::Smb2_1 => 0x0210,
        config::SmbDialect::Smb3_0 => 0x0300,
        config::SmbDialect::Smb3_0_2 => 0x0302,
        config::SmbDialect::Smb3_1_1 => 0x0311,
    }
}

/// The protocol's cipher for a configured one.
fn cipher(c: config::SmbCipher) -> Cipher {
    match c {
        config::SmbCipher::Aes128Gcm => Cipher::Aes128Gcm,
        config::SmbCipher::Aes128Ccm => Cipher::Aes128Ccm,
        config::SmbCipher::Aes256Gcm => Cipher::Aes256Gcm,
        config::SmbCipher::Aes256Ccm => Cipher::Aes256Ccm,
    }
}

fn encryption(e: config::SmbEncryption) -> Encryption {
    match e {
        config::SmbEncryption::Off => Encryption::Off,
        config::SmbEncryption::Desired => Encryption::Desired,
        config::SmbEncryption::Required => Encryption::Required,
    }
}

/// Name of the NFS file-handle MAC key among the metadata store's secrets.
pub const HANDLE_KEY_SECRET: &str = "nfs-handle-key";

/// The key that signs NFS file handles, from the metadata store of the first share (or, with
/// no shares, the first metadata store by name), so that gateways sharing that store accept
/// each other's handles. On the first start after an upgrade the store has no key yet: the
/// key of `state_dir/handle.key`, which older versions kept there, is stored (so handles issued
/// before the upgrade stay valid); without that file a fresh random key is. Gateways starting
/// at once agree through [`stores::MetadataStore::init_secret`]: the first key stored wins.
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

/// The identity resolver the server asks on every call: users, groups, guest and the shares'
/// `allow_guest` / `default_permission`, from the configuration file, or with `identity.store:
/// postgres` users and groups from that database ([`identity_pg`]), followed live. When the configuration
/// came from a file, a task (ended by `shutdown`) re-reads the file's identity sections every
/// [`identity::RELOAD_PERIOD`] and applies them live; other changed keys are logged as needing
/// a restart. With the built-in defaults it never changes.
pub async fn identity_resolver(
    config: &Config,
    source: &ConfigSource,
    shutdown: CancellationToken,
) -> anyhow::Result<Arc<dyn Resolver>> {
    let shares = Identity::share_rules(&config.shares);
    if let Some(name) = config.identity_store_name() {
        return postgres_identity(config, &name, shares, shutdown).await;
    }
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

/// The resolver over users and groups in the PostgreSQL database of metadata store `name`
/// (`identity.store: postgres`): imports the file's users and groups on the first start
/// against the database, then follows changes from every gateway and the CLI.
#[cfg(feature = "postgres")]
async fn postgres_identity(
    config: &Config,
    name: &str,
    shares: BTreeMap<String, identity::ShareRules>,
    shutdown: CancellationToken,
) -> anyhow::Result<Arc<dyn Resolver>> {
    let store = identity_pg::PgIdentityStore::connect(config, name).await?;
    store.follow();
    match store
        .import_once()
        .await
        .with_context(|| format!("importing users and groups into {}", store.place()))?
    {
        Some(summary) => tracing::info!(
            store = %name,
            users = config.users.len(),
            groups = config.groups.len(),
            "identity: first start on this database: {summary} (once; from now on the \
             database holds users and groups, and `dittofs user`/`group` edit it)"
        ),
        None if !config.users.is_empty() || !config.groups.is_empty() => tracing::info!(
            store = %name,
            "identity: users and groups come from the database; the configuration file's \
             users: and groups: were imported before and are ignored"
        ),
        None => {}
    }
    let place = store.place();
    let (live, _task) = LiveIdentity::watch(store, shares, identity::RELOAD_PERIOD, shutdown)
        .await
        .with_context(|| format!("loading users and groups from {place}"))?;
    let snapshot = live.snapshot();
    tracing::info!(
        users = snapshot.user_count(),
        store = %name,
        guest = config.guest.enabled,
        "identity loaded from PostgreSQL; changes from any gateway apply within a second"
    );
    Ok(Arc::new(live))
}

#[cfg(not(feature = "postgres"))]
async fn postgres_identity(
    _config: &Config,
    name: &str,
    _shares: BTreeMap<String, identity::ShareRules>,
    _shutdown: CancellationToken,
) -> anyhow::Result<Arc<dyn Resolver>> {
    anyhow::bail!(
        "identity.store is postgres (metadata store {name}), but this dittofs was built without \
         PostgreSQL support (the `postgres` feature)"
    )
}

/// Descriptors beyond the ones [`descriptors_needed`] counts per part: standard streams, the
/// runtime's epoll and event descriptors, the listeners, RocksDB's write-ahead log, manifest,
/// lock and info-log files, the handle key, and files opened for a moment.
pub const NOFILE_MARGIN: u64 = 128;

/// The open descriptors `config` may need at once, as (total, explanation): one socket per
/// connection (`adapters.nfs.max_connections` and `adapters.smb.max_connections` of the enabled
/// adapters), each filesystem content store's descriptor
/// cache ([`stores::fs::FD_CACHE_MAX`]), each S3 content store's disk cache descriptors
/// (`stores::s3::cache::OPEN_MAX`), each RocksDB store's table files
/// (`stores::rocksdb::MAX_OPEN_FILES`), and [`NOFILE_MARGIN`].
pub fn descriptors_needed(config: &Config) -> (u64, String) {
    let nfs_conns = if config.adapters.nfs.enabled {
        config.adapters.nfs.max_connections as u64
    } else {
        0
    };
    let smb_conns = if config.adapters.smb.enabled {
        config.adapters.smb.max_connections as u64
    } else {
        0
    };
    let conns = nfs_conns + smb_conns;
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
    let s3 = config
        .content
        .stores
        .values()
        .filter(|s| matches!(s, ContentStoreConfig::S3(_)))
        .count() as u64;
    #[cfg(feature = "s3")]
    let s3_each = stores::s3::cache::OPEN_MAX as u64;
    #[cfg(not(feature = "s3"))]
    let s3_each = 0;
    let pg: u64 = config
        .metadata
        .stores
        .values()
        .map(|s| match s {
            MetadataStoreConfig::Postgres(o) => u64::from(o.max_connections),
            MetadataStoreConfig::Memory {} | MetadataStoreConfig::Rocksdb { .. } => 0,
        })
        .sum();
    let total = conns + fs * fs_each + s3 * s3_each + rocks * rocks_each + pg + NOFILE_MARGIN;
    let why = format!(
        "{conns} connections (adapters.nfs.max_connections + adapters.smb.max_connections) + {fs} filesystem content store(s) x \
         {fs_each} cached descriptors + {s3} S3 content store(s) x {s3_each} cached block \
         descriptors + {rocks} RocksDB store(s) x {rocks_each} table files + \
         {pg} PostgreSQL connections + {NOFILE_MARGIN} margin"
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
pub fn run(config: Config, source: ConfigSource) -> anyhow::Result<()> {
    raise_nofile_limit(&config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    rt.block_on(run_async(config, source))
}

async fn run_async(config: Config, source: ConfigSource) -> anyhow::Result<()> {
    // Handlers first: a SIGTERM that arrives once the port accepts connections (a supervisor
    // that stops a server it just started) must shut down gracefully, not kill the process.
    let signals = shutdown_signals().context("installing the SIGTERM and SIGINT handlers")?;
    let env = Env::real();
    let stores = open_stores(&env, &config).await?;
    #[cfg(feature = "s3")]
    for (name, c) in &stores.content {
        if let (AnyContent::S3(store), Some(ContentStoreConfig::S3(o))) =
            (&**c, config.content.stores.get(name))
        {
            s3::start(name, store, &stores.metadata, o.gc_interval).await?;
        }
    }
    let key = handle_key(&env, &config, &stores).await?;
    let nfs = &config.adapters.nfs;
    let smb = &config.adapters.smb;
    if !nfs.enabled && !smb.enabled {
        anyhow::bail!(
            "adapters.nfs.enabled and adapters.smb.enabled are both false: nothing to serve"
        );
    }
    let mut listeners = Vec::new();
    let addr = nfs.socket_addr();
    if nfs.enabled {
        listeners.push(tokio::net::TcpListener::bind(addr).await.with_context(|| {
            format!("binding NFS to {addr} (adapters.nfs.port): is another server using it? pick another port")
        })?);
    }
    let mut smb_listeners = Vec::new();
    if smb.enabled {
        let smb_addr = smb.socket_addr();
        smb_listeners.push(tokio::net::TcpListener::bind(smb_addr).await.with_context(|| {
            format!("binding SMB to {smb_addr} (adapters.smb.port): is another server using it? pick another port")
        })?);
        tracing::info!(addr = %smb_addr, "SMB listening");
    }
    if nfs.enabled && nfs.portmapper.enabled {
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
    let serving = Arc::new(std::sync::atomic::AtomicBool::new(false));
    // The operations endpoint: bound now, so a port in use fails the start.
    let http = match &config.server.http {
        Some(h) => {
            let listener = crate::http::bind(h).await?;
            let mut adapters = Vec::new();
            if nfs.enabled {
                adapters.push(("nfs", addr));
            }
            if smb.enabled {
                adapters.push(("smb", smb.socket_addr()));
            }
            let metrics = crate::telemetry::install()?;
            tokio::spawn(crate::telemetry::upkeep(metrics.clone()));
            let endpoint = crate::http::Endpoint {
                metrics,
                serving: serving.clone(),
                token: h.token.clone(),
                metadata: stores
                    .metadata
                    .iter()
                    .map(|(n, s)| (n.clone(), s.clone()))
                    .collect(),
                content: stores
                    .content
                    .iter()
                    .map(|(n, s)| (n.clone(), s.clone()))
                    .collect(),
                adapters,
                shutdown: shutdown.clone(),
            };
            tracing::info!(addr = %h.socket_addr(), token = h.token.is_some(), "HTTP endpoint listening (/health, /ready, /metrics)");
            if h.token.is_none() && !h.bind.is_loopback() {
                tracing::warn!(addr = %h.socket_addr(), "the HTTP endpoint listens beyond loopback without a token (server.http.token)");
            }
            let stop = CancellationToken::new();
            let task = tokio::spawn(crate::http::serve(
                listener,
                Arc::new(endpoint),
                stop.clone(),
            ));
            Some((task, stop))
        }
        None => None,
    };
    // Users, groups and guest, followed live from the configuration file.
    let resolver = identity_resolver(&config, &source, shutdown.clone()).await?;
    let mut sc = server_config(&config, key);
    sc.smb.gateway_id = gateway_id(&config.server.state_dir)?;
    sc.resolver = Some(resolver);
    sc.serving = Some(serving);
    for s in &config.shares {
        tracing::info!(share = %s.name, metadata = %s.metadata_store, content = %s.content_store, "serving share");
    }
    if nfs.enabled {
        tracing::info!(%addr, "NFSv3 and MOUNT v3 listening");
    }
    let signal = {
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            signals.await;
            tracing::info!("signal received; shutting down");
            shutdown.cancel();
        })
    };
    let result = server::serve(
        env,
        sc,
        stores,
        Listeners {
            nfs: listeners,
            smb: smb_listeners,
        },
        shutdown,
    )
    .await;
    signal.abort();
    if let Some((task, stop)) = http {
        stop.cancel();
        match task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "the HTTP endpoint failed"),
            Err(e) => tracing::warn!(error = %e, "the HTTP endpoint's task failed"),
        }
    }
    result.context("server stopped with an error")
}

/// Installs the SIGTERM and SIGINT handlers now and returns what completes on the first of
/// those signals (a handler installed only when first polled would leave a window in which
/// the signal's default action kills the server).
#[cfg(unix)]
fn shutdown_signals() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            biased;
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signals() -> std::io::Result<impl Future<Output = ()> + Send + 'static> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigEnv;
    use crate::identity::Permission;

    /// Goal: the gateway id is made once and read back the same on every later start, and a
    /// damaged file is refused with its path and the remedy. Method: a temporary state dir.
    #[test]
    fn gateway_id_is_stable_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let first = gateway_id(&state).unwrap();
        assert_ne!(first, 0);
        assert_eq!(gateway_id(&state).unwrap(), first);
        assert!(!state.join("gateway-id.tmp").exists());
        std::fs::write(state.join("gateway-id"), "not hex\n").unwrap();
        let e = format!("{:#}", gateway_id(&state).unwrap_err());
        assert!(e.contains("gateway-id") && e.contains("remove it"), "{e}");
    }

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
