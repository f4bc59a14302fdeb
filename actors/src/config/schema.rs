//! The schema: [`Config`] and its sections, with the defaults every missing key takes.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::de::{DeserializeOwned, Error as _};
use serde::ser::SerializeMap as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_yaml_ng::{Mapping, Value};

use super::cidr::Cidr;
use super::units::{ByteSize, humane_duration, octal_mode};
use crate::identity::{Permission, Secret};

/// The whole configuration. Every section and key has a default, so an empty file is the
/// default configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Log level and format.
    pub logging: LoggingSection,
    /// Process-wide server settings.
    pub server: ServerSection,
    /// Named metadata stores.
    pub metadata: MetadataSection,
    /// Named content stores.
    pub content: ContentSection,
    /// The write-back cache.
    pub cache: CacheSection,
    /// Groups of users, with their grants on shares; names and gids are unique.
    pub groups: Vec<GroupConfig>,
    /// Users: name, ids, password hashes and grants on shares; names and uids are unique.
    pub users: Vec<UserConfig>,
    /// The identity of callers without credentials, on shares that allow it.
    pub guest: GuestConfig,
    /// Where users, groups and their grants live: this file (the default) or a PostgreSQL
    /// metadata store that several gateways share.
    pub identity: IdentitySection,
    /// The exported shares; names are unique.
    pub shares: Vec<ShareConfig>,
    /// The protocol front ends.
    pub adapters: AdaptersSection,
}

/// `logging`: what the process logs and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoggingSection {
    /// The least severe level logged; `RUST_LOG`, when set, replaces it.
    pub level: LogLevel,
    /// Human-readable lines or one JSON object per line.
    pub format: LogFormat,
}

/// A log level, least to most severe.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Everything, including per-request detail.
    Trace,
    /// Diagnostic detail.
    Debug,
    /// Start, stop, configuration and other notable events.
    Info,
    /// Something went wrong but the server carried on.
    Warn,
    /// Something failed.
    Error,
}

impl LogLevel {
    /// The name used in the file and by `RUST_LOG`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

impl LogFormat {
    /// The name used in the file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Text => "text",
            Self::Json => "json",
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `server`: process-wide settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSection {
    /// How long shutdown waits for in-flight requests before it flushes dirty data anyway;
    /// written like `30s`; more than zero.
    #[serde(with = "humane_duration")]
    pub shutdown_timeout: Duration,
    /// Where the server keeps its own state (the file handle key, `handle.key`, mode 0600).
    /// Handles clients hold stay valid only while this key does: keep it with the metadata.
    pub state_dir: PathBuf,
    /// The operations endpoint (`/health`, `/ready`); absent: none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpSection>,
}

/// `server.http`: the operations endpoint, plain HTTP/1.1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSection {
    /// The address it listens on: loopback unless set (a wider one should come with a token).
    pub bind: IpAddr,
    /// Its TCP port.
    pub port: u16,
    /// A bearer token every route but `/health` asks for (`Authorization: Bearer TOKEN`);
    /// absent: none is asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<Secret>,
}

impl Default for HttpSection {
    fn default() -> Self {
        Self {
            bind: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 9464,
            token: None,
        }
    }
}

impl HttpSection {
    /// Where it listens.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }
}

/// `metadata`: named metadata stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataSection {
    /// Stores by name (lower-case letters, digits, `-`, `_`).
    pub stores: BTreeMap<String, MetadataStoreConfig>,
}

/// One metadata store, chosen by its `type` key, with its options in a sub-section named after
/// the type (`type: rocksdb` + `rocksdb: {path: …}`). The older flat shape, options beside
/// `type`, still loads; see [`StoreShape`].
#[derive(Debug, Clone, PartialEq)]
pub enum MetadataStoreConfig {
    /// Kept in memory; lost when the process exits. (A struct variant with no fields, so that
    /// serde rejects stray keys such as `path`; a unit variant would ignore them.)
    Memory {},
    /// An embedded RocksDB database.
    Rocksdb {
        /// Its directory: absolute, or starting with `~/`.
        path: PathBuf,
    },
    /// A PostgreSQL database shared by several gateways (`postgres: {url, …}`).
    Postgres(PostgresOptions),
}

/// The options of a `postgres` metadata store. Deserialised key by key, so an unknown key or
/// a badly typed value is refused naming the key.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostgresOptions {
    /// `postgres://user@host:port/database` (also `postgresql://`, and `?sslmode=…`). The
    /// password may be in the URL; without one, `PGPASSWORD` (or `~/.pgpass`) supplies it.
    pub url: DatabaseUrl,
    /// Most connections this gateway opens to the database; at least 1.
    pub max_connections: u32,
    /// How long a request waits for a free connection before it counts as contention.
    #[serde(with = "humane_duration")]
    pub acquire_timeout: Duration,
    /// The server cancels any one statement that runs longer (`statement_timeout`).
    #[serde(with = "humane_duration")]
    pub statement_timeout: Duration,
    /// How long contention (serialization failures, deadlocks, timeouts) is retried before a
    /// request is answered "busy, retry later" (NFS3ERR_JUKEBOX).
    #[serde(with = "humane_duration")]
    pub retry_deadline: Duration,
    /// How long this gateway's byte-range locks outlive its last heartbeat to the database
    /// when it dies or loses the database (other gateways then may take them); at least
    /// 300ms. A heartbeat renews it every third of it.
    #[serde(with = "humane_duration")]
    pub lock_session_ttl: Duration,
}

impl<'de> Deserialize<'de> for PostgresOptions {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        const KEYS: &[&str] = &[
            "url",
            "max_connections",
            "acquire_timeout",
            "statement_timeout",
            "retry_deadline",
            "lock_session_ttl",
        ];
        let map = BTreeMap::<String, Value>::deserialize(deserializer)?;
        let mut options = Self::new(String::new());
        let mut url = None;
        for (key, value) in map {
            let bad = |e: &dyn fmt::Display| D::Error::custom(format!("postgres.{key}: {e}"));
            let duration = |value: Value| -> Result<Duration, D::Error> {
                let text: String = serde_yaml_ng::from_value(value)
                    .map_err(|_| bad(&"expected a duration such as 5s"))?;
                super::units::parse_duration(&text).map_err(|e| bad(&e))
            };
            match key.as_str() {
                "url" => {
                    url = Some(
                        serde_yaml_ng::from_value::<String>(value)
                            .map_err(|_| bad(&"expected a URL string"))?,
                    );
                }
                "max_connections" => {
                    options.max_connections = serde_yaml_ng::from_value(value)
                        .map_err(|_| bad(&"expected a whole number of connections"))?;
                }
                "acquire_timeout" => options.acquire_timeout = duration(value)?,
                "statement_timeout" => options.statement_timeout = duration(value)?,
                "retry_deadline" => options.retry_deadline = duration(value)?,
                "lock_session_ttl" => {
                    let ttl = duration(value)?;
                    if ttl < Duration::from_millis(300) {
                        return Err(bad(&"must be at least 300ms"));
                    }
                    options.lock_session_ttl = ttl;
                }
                _ => return Err(D::Error::unknown_field(&key, KEYS)),
            }
        }
        options.url = DatabaseUrl(url.ok_or_else(|| D::Error::missing_field("url"))?);
        Ok(options)
    }
}

impl PostgresOptions {
    /// The options for `url` with every other key at its default.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: DatabaseUrl(url.into()),
            max_connections: Self::default_max_connections(),
            acquire_timeout: Self::default_acquire_timeout(),
            statement_timeout: Self::default_statement_timeout(),
            retry_deadline: Self::default_retry_deadline(),
            lock_session_ttl: Self::default_lock_session_ttl(),
        }
    }

    fn default_max_connections() -> u32 {
        10
    }

    fn default_acquire_timeout() -> Duration {
        Duration::from_secs(5)
    }

    fn default_statement_timeout() -> Duration {
        Duration::from_secs(5)
    }

    fn default_retry_deadline() -> Duration {
        Duration::from_secs(3)
    }

    fn default_lock_session_ttl() -> Duration {
        Duration::from_secs(30)
    }
}

/// A database URL that may hold a password: `Debug` shows it with the password as `***`;
/// serialising keeps it whole (the CLI writes the file back), so printing goes through
/// [`Config::redacted`].
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DatabaseUrl(pub String);

impl DatabaseUrl {
    /// The URL with its password replaced by `***`.
    pub fn redacted(&self) -> String {
        stores::redact::redact_url(&self.0)
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl MetadataStoreConfig {
    /// The `type` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory {} => "memory",
            Self::Rocksdb { .. } => "rocksdb",
            Self::Postgres(_) => "postgres",
        }
    }

    /// The directory the store keeps its files in, if it has one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Rocksdb { path } => Some(path),
            Self::Memory {} | Self::Postgres(_) => None,
        }
    }

    pub(super) fn path_mut(&mut self) -> Option<&mut PathBuf> {
        match self {
            Self::Rocksdb { path } => Some(path),
            Self::Memory {} | Self::Postgres(_) => None,
        }
    }
}

/// `content`: named content stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContentSection {
    /// Stores by name (lower-case letters, digits, `-`, `_`).
    pub stores: BTreeMap<String, ContentStoreConfig>,
}

/// One content store, chosen by its `type` key, with its options in a sub-section named after
/// the type (`type: filesystem` + `filesystem: {path: …}`); the flat shape still loads.
#[derive(Debug, Clone, PartialEq)]
pub enum ContentStoreConfig {
    /// Kept in memory; lost when the process exits. (A struct variant with no fields, so that
    /// serde rejects stray keys such as `path`; a unit variant would ignore them.)
    Memory {},
    /// Files in a local directory.
    Filesystem {
        /// The directory: absolute, or starting with `~/`.
        path: PathBuf,
    },
    /// Blocks and manifests in an S3 bucket, with a local disk cache (boxed: it is large).
    S3(Box<S3Options>),
}

/// `type: s3` + `s3: { … }`: where the bucket is and how the store uses it. Sizes take units
/// (`4MiB`), durations are written like `30s`. The secret key prints as `<redacted>` in
/// `Debug` and in `dittofs config show`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Options {
    /// The bucket.
    pub bucket: String,
    /// The region (any name for S3-compatible servers).
    #[serde(default = "S3Options::default_region")]
    pub region: String,
    /// The endpoint URL of an S3-compatible server (`http://127.0.0.1:9000`); AWS if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// A prefix for every object name (several stores may share one bucket).
    #[serde(default)]
    pub prefix: String,
    /// Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need.
    #[serde(default)]
    pub force_path_style: bool,
    /// Size of the blocks files are cut into: 64KiB to 256MiB.
    #[serde(default = "S3Options::default_block_size")]
    pub block_size: ByteSize,
    /// The local cache directory (absolute or `~/`); `~/.cache/dittofs/s3/<store>` if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_dir: Option<PathBuf>,
    /// Local disk the cache may use (half clean blocks, half staged writes); at least 4
    /// blocks.
    #[serde(default = "S3Options::default_cache_size")]
    pub cache_size: ByteSize,
    /// The access key id; `AWS_ACCESS_KEY_ID` if unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_id: Option<String>,
    /// The secret access key; `AWS_SECRET_ACCESS_KEY` if unset. Never printed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_access_key: Option<Secret>,
    /// Create the bucket if it does not exist; otherwise the server refuses to start.
    #[serde(default)]
    pub create_bucket: bool,
    /// Most block uploads in flight at once.
    #[serde(default = "S3Options::default_max_uploads")]
    pub max_uploads: usize,
    /// How long one S3 request retries transient failures (5xx, timeouts) before the
    /// operation fails as busy.
    #[serde(
        default = "S3Options::default_retry_deadline",
        with = "humane_duration"
    )]
    pub retry_deadline: Duration,
    /// How often superseded blocks and manifests are collected.
    #[serde(default = "S3Options::default_gc_interval", with = "humane_duration")]
    pub gc_interval: Duration,
    /// Unrecorded objects younger than this are left alone (an upload may be in flight).
    #[serde(default = "S3Options::default_gc_grace", with = "humane_duration")]
    pub gc_grace: Duration,
}

impl S3Options {
    fn default_region() -> String {
        "us-east-1".to_owned()
    }
    fn default_block_size() -> ByteSize {
        ByteSize::mib(4)
    }
    fn default_cache_size() -> ByteSize {
        ByteSize::mib(1024)
    }
    fn default_max_uploads() -> usize {
        8
    }
    fn default_retry_deadline() -> Duration {
        Duration::from_secs(30)
    }
    fn default_gc_interval() -> Duration {
        Duration::from_secs(60)
    }
    fn default_gc_grace() -> Duration {
        Duration::from_secs(3600)
    }

    /// A copy with the secret key replaced by `<redacted>`, for printing.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        if copy.secret_access_key.is_some() {
            copy.secret_access_key = Some(Secret::redacted());
        }
        copy
    }
}

impl ContentStoreConfig {
    /// The `type` name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Memory {} => "memory",
            Self::Filesystem { .. } => "filesystem",
            Self::S3(_) => "s3",
        }
    }

    /// The directory the store keeps its files in, if it has one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            Self::Filesystem { path } => Some(path),
            Self::S3(o) => o.cache_dir.as_deref(),
            Self::Memory {} => None,
        }
    }

    pub(super) fn path_mut(&mut self) -> Option<&mut PathBuf> {
        match self {
            Self::Filesystem { path } => Some(path),
            Self::S3(o) => o.cache_dir.as_mut(),
            Self::Memory {} => None,
        }
    }
}

/// `cache`: the write-back cache in front of the content stores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheSection {
    /// Written but unflushed bytes, server-wide; writers wait while it is reached. At least one
    /// maximal WRITE (1 MiB).
    pub dirty_bytes_max: ByteSize,
    /// Flush workers per share; at least 1.
    pub flush_workers: usize,
}

/// One exported share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareConfig {
    /// The export path clients mount, e.g. `/export`: starts with `/`, no empty, `.` or `..`
    /// components, no trailing `/`, at most 1024 bytes (RFC 1813 MNTPATHLEN).
    pub name: String,
    /// The name of a store in `metadata.stores`.
    #[serde(default = "default_store_name")]
    pub metadata_store: String,
    /// The name of a store in `content.stores`.
    #[serde(default = "default_store_name")]
    pub content_store: String,
    /// Refuse every change.
    #[serde(default)]
    pub read_only: bool,
    /// Owner and mode of the root directory when the share is first created.
    #[serde(default)]
    pub root: ShareRoot,
    /// How the share is served over SMB.
    #[serde(default, skip_serializing_if = "is_default")]
    pub smb: ShareSmbConfig,
    /// Which callers are mapped to the anonymous identity.
    #[serde(default)]
    pub squash: Squash,
    /// The uid squashed callers get.
    #[serde(default = "default_anonymous_id")]
    pub anonymous_uid: u32,
    /// The gid squashed callers get.
    #[serde(default = "default_anonymous_id")]
    pub anonymous_gid: u32,
    /// Client networks allowed to mount and use the share; empty allows every client. When the
    /// key is left out, only loopback clients are allowed.
    #[serde(default = "default_allowed_clients")]
    pub allowed_clients: Vec<Cidr>,
    /// Refuse calls from source ports at or above 1024 (knfsd's `secure`). Off by default:
    /// macOS clients and QEMU user networking use unprivileged ports.
    #[serde(default)]
    pub require_privileged_port: bool,
    /// Let callers without credentials (NFS AUTH_NONE) in as the guest, when `guest.enabled`.
    #[serde(default)]
    pub allow_guest: bool,
    /// What callers get who have no grant for this share: a uid that matches no user, a user
    /// without a grant of their own or through a group, the guest. Left out, it is `read-write`,
    /// or `read` when `read_only` is true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_permission: Option<Permission>,
}

impl ShareConfig {
    /// A share named `name` on the `default` stores with every other key at its default.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            metadata_store: default_store_name(),
            content_store: default_store_name(),
            read_only: false,
            root: ShareRoot::default(),
            smb: ShareSmbConfig::default(),
            squash: Squash::default(),
            anonymous_uid: default_anonymous_id(),
            anonymous_gid: default_anonymous_id(),
            allowed_clients: default_allowed_clients(),
            require_privileged_port: false,
            allow_guest: false,
            default_permission: None,
        }
    }

    /// The name SMB clients use: `smb.name`, else the share name without its leading `/`
    /// and with further `/` as `_`.
    pub fn smb_name(&self) -> String {
        self.smb.name.clone().unwrap_or_else(|| {
            self.name
                .strip_prefix('/')
                .unwrap_or(&self.name)
                .replace('/', "_")
        })
    }

    /// `default_permission`, or what it means when left out: `read` for a read-only share,
    /// else `read-write` (so a configuration without users serves as it always did).
    pub fn effective_default_permission(&self) -> Permission {
        self.default_permission.unwrap_or(if self.read_only {
            Permission::Read
        } else {
            Permission::ReadWrite
        })
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

fn default_store_name() -> String {
    "default".to_owned()
}

/// `nobody` / `nogroup` on Linux.
fn default_anonymous_id() -> u32 {
    65534
}

fn default_allowed_clients() -> Vec<Cidr> {
    vec![
        Cidr::new(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 0)), 8)
            .expect("127.0.0.0/8 is a network address"),
        Cidr::new(IpAddr::V6(std::net::Ipv6Addr::LOCALHOST), 128)
            .expect("::1/128 is a host address"),
    ]
}

/// A share's root directory attributes at creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShareRoot {
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Permission bits, `<= 0o7777`; written in octal (`"0777"`).
    #[serde(with = "octal_mode")]
    pub mode: u32,
}

impl Default for ShareRoot {
    fn default() -> Self {
        Self {
            uid: 0,
            gid: 0,
            mode: 0o777,
        }
    }
}

/// Which AUTH_SYS callers a share maps to `anonymous_uid` / `anonymous_gid`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Squash {
    /// Callers keep their uid and gids.
    #[default]
    None,
    /// uid 0 becomes anonymous (knfsd's `root_squash`).
    Root,
    /// Every caller becomes anonymous (knfsd's `all_squash`).
    All,
}

/// One entry of `users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// The login name: 1 to 64 letters, digits, `.`, `_` or `-`, not starting with `-`.
    pub username: String,
    /// The bcrypt hash of the password (`dittofs user add` and `user passwd` write it). A user
    /// without one can still be matched by uid over NFS, but cannot log in where a password
    /// is needed (SMB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<Secret>,
    /// The NT hash NTLM needs (MD4 of the UTF-16LE password), as 32 hex digits; written with
    /// `password_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nt_hash: Option<Secret>,
    /// The user id an NFS AUTH_SYS caller is matched by.
    pub uid: u32,
    /// The primary group id.
    pub gid: u32,
    /// Names of groups in `groups` the user belongs to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// The user's own grants, by share name; they win over group grants.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub share_permissions: BTreeMap<String, Permission>,
}

/// One entry of `groups`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// The group name, spelled like a username.
    pub name: String,
    /// The group id.
    pub gid: u32,
    /// The group's grants, by share name; a member gets the best of their groups' grants.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub share_permissions: BTreeMap<String, Permission>,
}

/// `guest`: who a caller without credentials is, on shares with `allow_guest: true`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuestConfig {
    /// Let guests in at all.
    pub enabled: bool,
    /// The guest's uid.
    pub uid: u32,
    /// The guest's gid.
    pub gid: u32,
}

impl Default for GuestConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            uid: default_anonymous_id(),
            gid: default_anonymous_id(),
        }
    }
}

/// `identity`: where users, groups, memberships, grants and password hashes are kept.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IdentitySection {
    /// `file` (the `users:` and `groups:` sections of this file) or `postgres`.
    pub store: IdentityBackend,
    /// With `store: postgres`, the `metadata.stores` entry (of type postgres) whose database
    /// holds them; empty means the metadata store of the first share, the one that also holds
    /// the file-handle key.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub metadata_store: String,
}

/// Where users and groups live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityBackend {
    /// The configuration file's `users:` and `groups:` sections.
    #[default]
    File,
    /// Tables in a PostgreSQL metadata store's database, shared by every gateway on it.
    Postgres,
}

impl Config {
    /// With `identity.store: postgres`, the name of the metadata store that holds users and
    /// groups (`identity.metadata_store`, else the first share's); `None` for the file.
    pub fn identity_store_name(&self) -> Option<String> {
        match self.identity.store {
            IdentityBackend::File => None,
            IdentityBackend::Postgres if !self.identity.metadata_store.is_empty() => {
                Some(self.identity.metadata_store.clone())
            }
            IdentityBackend::Postgres => Some(
                self.shares
                    .first()
                    .map(|s| s.metadata_store.clone())
                    .unwrap_or_default(),
            ),
        }
    }
}

/// `adapters`: the protocol front ends; at least one is enabled.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptersSection {
    /// NFSv3 with MOUNT v3 on the same port, and the portmapper.
    pub nfs: NfsConfig,
    /// SMB2/3. The section is accepted so a configuration can be written ahead, but this
    /// version does not serve SMB: validation refuses `enabled: true`.
    pub smb: SmbConfig,
}

/// `adapters.smb`: SMB 2.0.2 – 3.1.1 (see docs/SMB.md).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmbConfig {
    /// Serve SMB.
    pub enabled: bool,
    /// The address to listen on.
    pub bind: IpAddr,
    /// The TCP port; not 0. Windows only connects to 445 (see docs/SMB.md).
    pub port: u16,
    /// Connections served at once; at least 1.
    pub max_connections: usize,
    /// Credits a client may hold at once on one connection (requests in flight plus granted
    /// and unused); 16 to 65,535. Each credit allows one 64 KiB request.
    pub max_credits: u16,
    /// The dialects offered.
    pub dialects: SmbDialects,
    /// Require signed messages from every authenticated session (guest sessions never sign).
    pub signing_required: bool,
    /// Offer SMB 3.x multichannel (SMB2_GLOBAL_CAP_MULTI_CHANNEL): a client may bind a
    /// session to further connections (docs/SMB.md, "Multichannel").
    pub multichannel: bool,
    /// Encryption for every share (a share may ask for more with `smb.encryption`).
    pub encryption: SmbEncryption,
    /// The ciphers offered, in the server's order of preference: SMB 3.1.1 uses the first
    /// one the client also offers; SMB 3.0 and 3.0.2 encrypt only if AES-128-CCM is listed.
    /// At least one, no repeats.
    pub ciphers: Vec<SmbCipher>,
    /// The NetBIOS name the server gives in NTLM and share listings; at most 15 characters.
    pub server_name: String,
    /// The NetBIOS domain (workgroup) name; at most 15 characters.
    pub domain: String,
}

impl Default for SmbConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 12445,
            max_connections: 1024,
            max_credits: 8192,
            dialects: SmbDialects::default(),
            signing_required: false,
            multichannel: true,
            encryption: SmbEncryption::Off,
            ciphers: SmbCipher::ALL.to_vec(),
            server_name: "DITTOFS".to_owned(),
            domain: "WORKGROUP".to_owned(),
        }
    }
}

impl SmbConfig {
    /// The SMB listening address.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }
}

/// `adapters.smb.dialects`: the lowest and highest dialect offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SmbDialects {
    /// The lowest dialect; `min <= max`.
    pub min: SmbDialect,
    /// The highest dialect.
    pub max: SmbDialect,
}

impl Default for SmbDialects {
    fn default() -> Self {
        Self {
            min: SmbDialect::Smb2_0_2,
            max: SmbDialect::Smb3_1_1,
        }
    }
}

/// An SMB dialect, spelled as in MS-SMB2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum SmbDialect {
    /// SMB 2.0.2.
    #[serde(rename = "2.0.2")]
    Smb2_0_2,
    /// SMB 2.1.
    #[serde(rename = "2.1")]
    Smb2_1,
    /// SMB 3.0.
    #[serde(rename = "3.0")]
    Smb3_0,
    /// SMB 3.0.2.
    #[serde(rename = "3.0.2")]
    Smb3_0_2,
    /// SMB 3.1.1.
    #[serde(rename = "3.1.1")]
    Smb3_1_1,
}

/// Whether SMB traffic is encrypted (SMB 3.x only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmbEncryption {
    /// Not encrypted unless the client asks (a client may always encrypt).
    #[default]
    Off,
    /// Encrypted for clients that support it; others connect unencrypted.
    Desired,
    /// Encrypted; clients that cannot encrypt are refused.
    Required,
}

/// An SMB 3 encryption cipher ([MS-SMB2] 2.2.3.1.2), named as docs/CONFIGURATION.md writes
/// it (`aes-128-gcm`); the spelling without the first hyphen (`aes128-gcm`), which is what
/// this read before, is accepted too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SmbCipher {
    /// AES-128-GCM.
    #[serde(rename = "aes-128-gcm", alias = "aes128-gcm")]
    Aes128Gcm,
    /// AES-128-CCM (the only cipher of SMB 3.0 and 3.0.2).
    #[serde(rename = "aes-128-ccm", alias = "aes128-ccm")]
    Aes128Ccm,
    /// AES-256-GCM.
    #[serde(rename = "aes-256-gcm", alias = "aes256-gcm")]
    Aes256Gcm,
    /// AES-256-CCM.
    #[serde(rename = "aes-256-ccm", alias = "aes256-ccm")]
    Aes256Ccm,
}

impl SmbCipher {
    /// Every cipher, in the default order of preference: the 128-bit GCM Windows prefers,
    /// then the others.
    pub const ALL: [Self; 4] = [
        Self::Aes128Gcm,
        Self::Aes128Ccm,
        Self::Aes256Gcm,
        Self::Aes256Ccm,
    ];
}

/// A share's `smb` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShareSmbConfig {
    /// The name SMB clients connect to (`\\server\name`); left out, the share's name
    /// without its leading `/`, with any further `/` as `_` (`/archive` is `archive`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Encryption for this share; the stronger of this and `adapters.smb.encryption` applies.
    pub encryption: SmbEncryption,
}

/// `adapters.nfs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NfsConfig {
    /// Serve NFS at all.
    pub enabled: bool,
    /// The address to listen on (`0.0.0.0` every IPv4 interface, `::` every interface).
    pub bind: IpAddr,
    /// The TCP port for NFS and MOUNT; not 0.
    pub port: u16,
    /// The portmapper, which tells clients that ask where NFS and MOUNT listen.
    pub portmapper: PortmapperConfig,
    /// Connections served at once; at least 1.
    pub max_connections: usize,
    /// Requests one connection may have executing at once; at least 1.
    pub max_in_flight_per_connection: usize,
    /// NFSv3 locking (NLM and NSM).
    pub locking: NfsLockingConfig,
}

/// `adapters.nfs.locking`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NfsLockingConfig {
    /// How long after a restart only lock reclaims are served (when clients held locks
    /// before it); written like `45s`.
    #[serde(with = "humane_duration")]
    pub grace_period: Duration,
    /// The server's name in the reboot notifications (SM_NOTIFY) it sends clients after a
    /// restart; they match it against the name or address they mounted. Empty: the host
    /// name.
    pub server_name: String,
    /// The port of clients' portmappers, through which the server finds their lock
    /// managers (GRANTED callbacks) and status monitors (SM_NOTIFY); 111 except in tests.
    pub client_portmapper_port: u16,
}

impl Default for NfsLockingConfig {
    fn default() -> Self {
        Self {
            grace_period: Duration::from_secs(45),
            server_name: String::new(),
            client_portmapper_port: 111,
        }
    }
}

impl NfsConfig {
    /// The NFS listening address.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.bind, self.port)
    }
}

/// `adapters.nfs.portmapper`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortmapperConfig {
    /// Serve the portmapper (on the NFS bind address).
    pub enabled: bool,
    /// Its TCP port; not 0 and not the NFS port. 111 is privileged.
    pub port: u16,
}

impl Default for Config {
    fn default() -> Self {
        Self::default_config()
    }
}

impl Default for LoggingSection {
    fn default() -> Self {
        Self {
            level: LogLevel::Info,
            format: LogFormat::Text,
        }
    }
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            shutdown_timeout: Duration::from_secs(30),
            state_dir: PathBuf::from("~/.local/share/dittofs"),
            http: None,
        }
    }
}

impl Default for MetadataSection {
    fn default() -> Self {
        let store = MetadataStoreConfig::Rocksdb {
            path: PathBuf::from("~/.local/share/dittofs/metadata"),
        };
        Self {
            stores: BTreeMap::from([(default_store_name(), store)]),
        }
    }
}

impl Default for ContentSection {
    fn default() -> Self {
        let store = ContentStoreConfig::Filesystem {
            path: PathBuf::from("~/.local/share/dittofs/content"),
        };
        Self {
            stores: BTreeMap::from([(default_store_name(), store)]),
        }
    }
}

impl Default for CacheSection {
    fn default() -> Self {
        Self {
            dirty_bytes_max: ByteSize::mib(256),
            flush_workers: 4,
        }
    }
}

impl Default for NfsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            bind: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: 12049,
            portmapper: PortmapperConfig::default(),
            max_connections: 1024,
            max_in_flight_per_connection: 64,
            locking: NfsLockingConfig::default(),
        }
    }
}

impl Default for PortmapperConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            port: 111,
        }
    }
}

impl Config {
    /// The built-in defaults: one share `/export` on a RocksDB metadata store and a filesystem
    /// content store under `~/.local/share/dittofs` (unexpanded), NFS on port 12049, loopback
    /// clients only.
    pub fn default_config() -> Self {
        Self {
            logging: LoggingSection::default(),
            server: ServerSection::default(),
            metadata: MetadataSection::default(),
            content: ContentSection::default(),
            cache: CacheSection::default(),
            groups: Vec::new(),
            users: Vec::new(),
            guest: GuestConfig::default(),
            identity: IdentitySection::default(),
            shares: vec![ShareConfig::new("/export")],
            adapters: AdaptersSection::default(),
        }
    }

    /// This configuration with every password hash replaced by `<redacted>` and every
    /// password in a database URL by `***`, for printing.
    pub fn redacted(&self) -> Self {
        let mut copy = self.clone();
        for store in copy.metadata.stores.values_mut() {
            if let MetadataStoreConfig::Postgres(options) = store {
                options.url = DatabaseUrl(options.url.redacted());
            }
        }
        for user in &mut copy.users {
            for secret in [&mut user.password_hash, &mut user.nt_hash]
                .into_iter()
                .flatten()
            {
                *secret = Secret::redacted();
            }
        }
        for store in copy.content.stores.values_mut() {
            if let ContentStoreConfig::S3(o) = store {
                **o = o.redacted();
            }
        }
        if let Some(token) = copy.server.http.as_mut().and_then(|h| h.token.as_mut()) {
            *token = Secret::redacted();
        }
        copy
    }

    /// Whether any user has a password hash or NT hash, a database URL holds a password, or an
    /// S3 store its secret key, so the file must be private.
    pub fn has_secrets(&self) -> bool {
        !self.secrets().is_empty()
    }

    /// What secrets the file holds, named for a message ("password hashes", "the database
    /// password of metadata store pg", "the S3 secret key of content store s3").
    pub fn secrets(&self) -> Vec<String> {
        let mut found = Vec::new();
        if self
            .users
            .iter()
            .any(|u| u.password_hash.is_some() || u.nt_hash.is_some())
        {
            found.push("password hashes".to_owned());
        }
        for (name, s) in &self.metadata.stores {
            if let MetadataStoreConfig::Postgres(o) = s
                && o.url.redacted() != o.url.0
            {
                found.push(format!("the database password of metadata store {name}"));
            }
        }
        for (name, s) in &self.content.stores {
            if matches!(s, ContentStoreConfig::S3(o) if o.secret_access_key.is_some()) {
                found.push(format!("the S3 secret key of content store {name}"));
            }
        }
        if self.server.http.as_ref().is_some_and(|h| h.token.is_some()) {
            found.push("the HTTP endpoint's token (server.http.token)".to_owned());
        }
        found
    }
}

/// The two shapes a store section may take: `type` plus a sub-section named after it (what
/// `dittofs init` writes now), or `type` with the options beside it (what it wrote before).
/// Mixing them is refused, since it is unclear which value is meant.
#[derive(Debug)]
struct StoreShape {
    kind: String,
    options: Value,
}

impl StoreShape {
    fn read<'de, D: Deserializer<'de>>(
        deserializer: D,
        kinds: &'static [&'static str],
    ) -> Result<Self, D::Error> {
        let mut map = BTreeMap::<String, Value>::deserialize(deserializer)?;
        let kind = match map.remove("type") {
            Some(Value::String(kind)) => kind,
            Some(_) => return Err(D::Error::custom("`type` must be a string")),
            None => return Err(D::Error::missing_field("type")),
        };
        if !kinds.contains(&kind.as_str()) {
            return Err(D::Error::unknown_variant(&kind, kinds));
        }
        let options = match map.remove(&kind) {
            Some(section) => {
                if let Some(stray) = map.keys().next() {
                    return Err(D::Error::custom(format!(
                        "`{stray}` is beside the `{kind}:` section; put every option of a \
                         {kind} store inside `{kind}:`"
                    )));
                }
                if section.is_null() {
                    Value::Mapping(Mapping::new())
                } else {
                    section
                }
            }
            None => Value::Mapping(
                map.into_iter()
                    .map(|(k, v)| (Value::String(k), v))
                    .collect(),
            ),
        };
        Ok(Self { kind, options })
    }

    /// Deserialises the options into `T`, with serde_yaml_ng's message as the error.
    fn options<'de, T: DeserializeOwned, D: Deserializer<'de>>(self) -> Result<T, D::Error> {
        serde_yaml_ng::from_value(self.options).map_err(|e| D::Error::custom(e.to_string()))
    }

    fn write<S: Serializer, T: Serialize>(
        serializer: S,
        kind: &str,
        options: &T,
    ) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("type", kind)?;
        map.serialize_entry(kind, options)?;
        map.end()
    }
}

/// The options of a store kept in one directory.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PathOptions {
    path: PathBuf,
}

/// The options of a memory store: none. (A struct, so that serde rejects stray keys.)
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoOptions {}

impl<'de> Deserialize<'de> for MetadataStoreConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let shape = StoreShape::read(deserializer, &["memory", "rocksdb", "postgres"])?;
        match shape.kind.as_str() {
            "memory" => shape.options::<NoOptions, D>().map(|_| Self::Memory {}),
            "rocksdb" => shape
                .options::<PathOptions, D>()
                .map(|o| Self::Rocksdb { path: o.path }),
            _ => shape.options::<PostgresOptions, D>().map(Self::Postgres),
        }
    }
}

impl Serialize for MetadataStoreConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Memory {} => StoreShape::write(serializer, self.kind(), &NoOptions {}),
            Self::Rocksdb { path } => {
                StoreShape::write(serializer, self.kind(), &PathOptions { path: path.clone() })
            }
            Self::Postgres(options) => StoreShape::write(serializer, self.kind(), options),
        }
    }
}

impl<'de> Deserialize<'de> for ContentStoreConfig {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let shape = StoreShape::read(deserializer, &["memory", "filesystem", "s3"])?;
        match shape.kind.as_str() {
            "memory" => shape.options::<NoOptions, D>().map(|_| Self::Memory {}),
            "filesystem" => shape
                .options::<PathOptions, D>()
                .map(|o| Self::Filesystem { path: o.path }),
            _ => shape
                .options::<S3Options, D>()
                .map(|o| Self::S3(Box::new(o))),
        }
    }
}

impl Serialize for ContentStoreConfig {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Memory {} => StoreShape::write(serializer, self.kind(), &NoOptions {}),
            Self::Filesystem { path } => {
                StoreShape::write(serializer, self.kind(), &PathOptions { path: path.clone() })
            }
            Self::S3(options) => StoreShape::write(serializer, self.kind(), &**options),
        }
    }
}
