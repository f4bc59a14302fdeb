//! The configuration file (`~/.config/dittofs/config.yaml`): its schema, loading with `~`
//! expansion and `DITTOFS_*` environment overrides, and validation whose every error names the
//! key and the reason, e.g. `shares[0].metadata_store: no metadata store named "fast" (defined:
//! default)`.
//!
//! Loading is [`Config::load`]: read the file and deserialise it (every section denies unknown
//! keys, so a typo is named with its line and column); apply the environment overrides (the
//! [`ENV_PREFIX`] rule) to the YAML tree of that configuration, defaults included, and
//! deserialise again; expand `~` in store paths; then [`Config::validate`]. This module does no
//! other I/O and starts nothing; the server reads a validated [`Config`].
//!
//! Layout:
//! - this file: the schema ([`Config`] and its sections), loading, validation, [`ConfigError`];
//! - `units`: [`ByteSize`], humane durations ([`parse_duration`]) and octal modes;
//! - `cidr`: [`Cidr`] blocks for `allowed_clients`;
//! - `overrides`: the `DITTOFS_*` override walk over the YAML tree;
//! - `default.yaml`: the commented file `dittofs init` writes ([`DEFAULT_YAML`]).

mod cidr;
mod overrides;
mod units;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use protocol::wire::limits::{IO_SIZE_MAX, MNT_PATH_LEN, NAME_MAX};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Value;

pub use self::cidr::{Cidr, CidrError};
pub use self::overrides::{ENV_PREFIX, ENV_SEPARATOR};
pub use self::units::{ByteSize, UnitError, format_duration, parse_duration, parse_mode};
use self::units::{humane_duration, octal_mode};

/// The commented configuration file `dittofs init` writes; it parses to
/// [`Config::default_config`].
pub const DEFAULT_YAML: &str = include_str!("config/default.yaml");

/// Where configuration lives when neither `--config` nor `DITTOFS_CONFIG` says otherwise:
/// `$XDG_CONFIG_HOME/dittofs/config.yaml`, else `~/.config/dittofs/config.yaml`.
pub fn default_config_path() -> Result<PathBuf, ConfigError> {
    ConfigEnv::from_process().default_config_path()
}

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
}

/// `metadata`: named metadata stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataSection {
    /// Stores by name (lower-case letters, digits, `-`, `_`).
    pub stores: BTreeMap<String, MetadataStoreConfig>,
}

/// One metadata store, chosen by its `type` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum MetadataStoreConfig {
    /// Kept in memory; lost when the process exits. (A struct variant with no fields, so that
    /// serde rejects stray keys such as `path`; a unit variant would ignore them.)
    Memory {},
    /// An embedded RocksDB database.
    Rocksdb {
        /// Its directory: absolute, or starting with `~/`.
        path: PathBuf,
    },
    /// A PostgreSQL database shared by several gateways. Part of the schema so the name is
    /// reserved, but not built in this version: [`Config::validate`] rejects it.
    Postgres(BTreeMap<String, Value>),
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

    fn path_mut(&mut self) -> Option<&mut PathBuf> {
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

/// One content store, chosen by its `type` key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum ContentStoreConfig {
    /// Kept in memory; lost when the process exits. (A struct variant with no fields, so that
    /// serde rejects stray keys such as `path`; a unit variant would ignore them.)
    Memory {},
    /// Files in a local directory.
    Filesystem {
        /// The directory: absolute, or starting with `~/`.
        path: PathBuf,
    },
    /// An S3 bucket. Part of the schema so the name is reserved, but not built in this version:
    /// [`Config::validate`] rejects it.
    S3(BTreeMap<String, Value>),
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
            Self::Memory {} | Self::S3(_) => None,
        }
    }

    fn path_mut(&mut self) -> Option<&mut PathBuf> {
        match self {
            Self::Filesystem { path } => Some(path),
            Self::Memory {} | Self::S3(_) => None,
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
            squash: Squash::default(),
            anonymous_uid: default_anonymous_id(),
            anonymous_gid: default_anonymous_id(),
            allowed_clients: default_allowed_clients(),
            require_privileged_port: false,
        }
    }

    /// Whether `addr` may use this share according to `allowed_clients`.
    pub fn is_client_allowed(&self, addr: IpAddr) -> bool {
        self.allowed_clients.is_empty()
            || self
                .allowed_clients
                .iter()
                .any(|block| block.contains(addr))
    }
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

/// `adapters`: the protocol front ends; at least one is enabled.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AdaptersSection {
    /// NFSv3 with MOUNT v3 on the same port, and the portmapper.
    pub nfs: NfsConfig,
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

/// What loading needs from the process environment, gathered in one place so tests can supply
/// their own.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigEnv {
    /// `$HOME`, for `~` in store paths and the default config path.
    pub home: Option<PathBuf>,
    /// `$XDG_CONFIG_HOME`, for the default config path.
    pub xdg_config_home: Option<PathBuf>,
    /// `DITTOFS_*` variables by name; those with `__` after the prefix are overrides.
    pub vars: BTreeMap<String, String>,
}

impl ConfigEnv {
    /// Reads `HOME`, `XDG_CONFIG_HOME` and every `DITTOFS_*` variable of this process. Empty
    /// `HOME` and `XDG_CONFIG_HOME` count as unset, as the XDG specification says.
    pub fn from_process() -> Self {
        let path_var = |name: &str| {
            std::env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let vars = std::env::vars_os()
            .filter_map(|(name, value): (OsString, OsString)| {
                let name = name.into_string().ok()?;
                name.starts_with(ENV_PREFIX)
                    .then(|| (name, value.to_string_lossy().into_owned()))
            })
            .collect();
        Self {
            home: path_var("HOME"),
            xdg_config_home: path_var("XDG_CONFIG_HOME"),
            vars,
        }
    }

    /// `$XDG_CONFIG_HOME/dittofs/config.yaml` when that variable is an absolute path (the XDG
    /// specification says to ignore a relative one), else `$HOME/.config/dittofs/config.yaml`.
    pub fn default_config_path(&self) -> Result<PathBuf, ConfigError> {
        let base = match (&self.xdg_config_home, &self.home) {
            (Some(xdg), _) if xdg.is_absolute() => xdg.clone(),
            (_, Some(home)) => home.join(".config"),
            (_, None) => {
                return Err(ConfigError::NoHome {
                    what: "finding the default config file".to_owned(),
                });
            }
        };
        Ok(base.join("dittofs").join("config.yaml"))
    }
}

/// Why a configuration could not be loaded. Each variant's message names where the problem is
/// (file and line, key, or environment variable) and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file is not valid YAML, has an unknown key, or a value of the wrong type.
    #[error("{origin}{}: {message}", .location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Parse {
        /// The file path, or "built-in defaults".
        origin: String,
        /// 1-based line and column, when the parser knows them.
        location: Option<(usize, usize)>,
        /// The key path (`adapters.nfs.port`) and the reason.
        message: String,
    },
    /// An override variable could not be applied to the tree.
    #[error("environment variable {var}: {reason}")]
    Env {
        /// The variable.
        var: String,
        /// Why.
        reason: String,
    },
    /// The file is fine but the environment overrides made it unparsable.
    #[error("{message} (set by {})", .vars.join(", "))]
    Override {
        /// The variables that set the offending key (all applied ones if that is unclear).
        vars: Vec<String>,
        /// The key path and the reason.
        message: String,
    },
    /// The configuration parsed but breaks a rule.
    #[error("{}", ProblemList(.problems))]
    Invalid {
        /// Every broken rule, section by section in file order; never empty.
        problems: Vec<Problem>,
    },
    /// `~` or the default config path needs `$HOME`.
    #[error("{what} needs $HOME, which is not set")]
    NoHome {
        /// What needed it.
        what: String,
    },
}

impl ConfigError {
    /// Whether this is a read error because the file does not exist.
    pub fn is_missing_file(&self) -> bool {
        matches!(self, Self::Read { source, .. } if source.kind() == io::ErrorKind::NotFound)
    }
}

/// One broken rule: the dotted key path (`shares[0].name`) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key, as `section.key`, with `[i]` for list entries.
    pub key: String,
    /// What is wrong, in a phrase.
    pub reason: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.reason)
    }
}

/// Joins problems on one line, so the error also reads well in a log.
struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
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
            shares: vec![ShareConfig::new("/export")],
            adapters: AdaptersSection::default(),
        }
    }

    /// Loads `path` with this process's environment: reads, parses, applies `DITTOFS_*`
    /// overrides, expands `~` from `$HOME`, validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, &ConfigEnv::from_process())
    }

    /// [`Config::load`] with an explicit environment.
    pub fn load_with(path: &Path, env: &ConfigEnv) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string(), env)
    }

    /// Parses configuration text, applies `env`'s overrides, expands `~`, validates. `origin`
    /// names the text in errors (a path, or "built-in defaults").
    pub fn parse(text: &str, origin: &str, env: &ConfigEnv) -> Result<Self, ConfigError> {
        let (mut config, applied) = Self::parse_with_overrides(text, origin, env)?;
        config.expand_home(env.home.as_deref())?;
        config
            .validate()
            .map_err(|err| blame_overrides(err, &applied))?;
        Ok(config)
    }

    /// Parses, then applies overrides; no expansion, no validation. Returns the config and the
    /// applied overrides with the keys they set.
    ///
    /// Overrides apply to the parsed configuration, defaults included, rather than to the file's
    /// text, so `DITTOFS_SHARES__0__READ_ONLY` works when the file leaves `shares` out, and any
    /// error after they are applied is theirs.
    fn parse_with_overrides(
        text: &str,
        origin: &str,
        env: &ConfigEnv,
    ) -> Result<(Self, Vec<(String, String)>), ConfigError> {
        let tree: Value = serde_yaml_ng::from_str(text).map_err(|e| parse_error(origin, &e))?;
        let config = if tree.is_null() {
            // An empty file, or one with only comments, is the defaults.
            Self::default_config()
        } else {
            // Deserialise the text itself, not the tree, so errors carry lines and columns.
            serde_yaml_ng::from_str(text).map_err(|e| parse_error(origin, &e))?
        };
        let overrides: BTreeMap<String, String> = env
            .vars
            .iter()
            .filter(|(name, _)| overrides::is_override(name))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if overrides.is_empty() {
            return Ok((config, Vec::new()));
        }
        let mut tree = serde_yaml_ng::to_value(&config).expect("a Config serialises");
        let applied = overrides::apply_overrides(&mut tree, &overrides)?;
        let keys: Vec<(String, String)> = applied
            .iter()
            .map(|var| (var.clone(), override_key(var)))
            .collect();
        // Deserialise from text rather than from the tree: serde_yaml_ng then hands modes and
        // durations to their parsers as written, exactly as it does for the file.
        let merged = serde_yaml_ng::to_string(&tree).expect("a YAML tree serialises");
        match serde_yaml_ng::from_str::<Self>(&merged) {
            Ok(config) => Ok((config, keys)),
            Err(err) => {
                // Name the variables that set the key in error, or all of them if none did.
                let message = strip_location(&err);
                let path = message.split(": ").next().unwrap_or_default();
                let mut vars: Vec<String> = keys
                    .iter()
                    .filter(|(_, key)| keys_overlap(key, path))
                    .map(|(var, _)| var.clone())
                    .collect();
                if vars.is_empty() {
                    vars = applied;
                }
                Err(ConfigError::Override { vars, message })
            }
        }
    }

    /// The configuration as YAML, in the same shape the file uses.
    pub fn to_yaml(&self) -> String {
        serde_yaml_ng::to_string(self).expect("a Config serialises: every map key is a string")
    }

    /// Replaces a leading `~` in every store path with `home`.
    fn expand_home(&mut self, home: Option<&Path>) -> Result<(), ConfigError> {
        let metadata = self
            .metadata
            .stores
            .iter_mut()
            .map(|(name, s)| (format!("metadata.stores.{name}.path"), s.path_mut()));
        let content = self
            .content
            .stores
            .iter_mut()
            .map(|(name, s)| (format!("content.stores.{name}.path"), s.path_mut()));
        let state = std::iter::once((
            "server.state_dir".to_owned(),
            Some(&mut self.server.state_dir),
        ));
        for (key, path) in metadata.chain(content).chain(state) {
            let Some(path) = path else { continue };
            let mut components = path.components();
            if components.next() != Some(Component::Normal("~".as_ref())) {
                continue;
            }
            let Some(home) = home else {
                return Err(ConfigError::NoHome {
                    what: format!("\"~\" in {key}"),
                });
            };
            *path = home.join(components.as_path());
        }
        Ok(())
    }

    /// Checks every rule a parsed configuration must follow and reports all that are broken,
    /// each with its key. Relative store paths are rejected, so call this after `~` expansion
    /// (as [`Config::load`] does).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut problems = Problems::default();
        self.validate_server(&mut problems);
        self.validate_stores(&mut problems);
        self.validate_cache(&mut problems);
        self.validate_shares(&mut problems);
        self.validate_adapters(&mut problems);
        if problems.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid {
                problems: problems.0,
            })
        }
    }

    fn validate_server(&self, problems: &mut Problems) {
        if self.server.shutdown_timeout.is_zero() {
            problems.push(
                "server.shutdown_timeout",
                "must be longer than 0s, or shutdown cannot wait for in-flight writes",
            );
        }
    }

    fn validate_stores(&self, problems: &mut Problems) {
        // (key, path) of every store that keeps files, to catch two stores sharing a directory.
        let mut dirs: Vec<(String, &Path)> = Vec::new();
        if self.metadata.stores.is_empty() {
            problems.push("metadata.stores", "at least one store is required");
        }
        for (name, store) in &self.metadata.stores {
            let key = format!("metadata.stores.{name}");
            check_store_name(problems, &key, name);
            if let MetadataStoreConfig::Postgres(_) = store {
                problems.push(
                    format!("{key}.type"),
                    "postgres is not built in this version (available: memory, rocksdb)",
                );
            }
            if let Some(path) = store.path() {
                if check_store_path(problems, &format!("{key}.path"), path, &dirs) {
                    dirs.push((format!("{key}.path"), path));
                }
            }
        }
        if self.content.stores.is_empty() {
            problems.push("content.stores", "at least one store is required");
        }
        for (name, store) in &self.content.stores {
            let key = format!("content.stores.{name}");
            check_store_name(problems, &key, name);
            if let ContentStoreConfig::S3(_) = store {
                problems.push(
                    format!("{key}.type"),
                    "s3 is not built in this version (available: memory, filesystem)",
                );
            }
            if let Some(path) = store.path() {
                if check_store_path(problems, &format!("{key}.path"), path, &dirs) {
                    dirs.push((format!("{key}.path"), path));
                }
            }
        }
    }

    fn validate_cache(&self, problems: &mut Problems) {
        let io_max = u64::try_from(IO_SIZE_MAX).expect("1 MiB fits in u64");
        if self.cache.dirty_bytes_max.bytes() < io_max {
            problems.push(
                "cache.dirty_bytes_max",
                format!(
                    "{} is less than one maximal WRITE ({}); use at least that",
                    self.cache.dirty_bytes_max,
                    ByteSize(io_max)
                ),
            );
        }
        if self.cache.flush_workers == 0 {
            problems.push("cache.flush_workers", "must be at least 1");
        }
    }

    fn validate_shares(&self, problems: &mut Problems) {
        if self.shares.is_empty() {
            problems.push("shares", "at least one share is required");
        }
        let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, share) in self.shares.iter().enumerate() {
            let key = format!("shares[{i}]");
            if let Err(reason) = check_share_name(&share.name) {
                problems.push(format!("{key}.name"), format!("{:?} {reason}", share.name));
            }
            if let Some(first) = seen.insert(&share.name, i) {
                seen.insert(&share.name, first);
                problems.push(
                    format!("{key}.name"),
                    format!("{:?} is already the name of shares[{first}]", share.name),
                );
            }
            if !self.metadata.stores.contains_key(&share.metadata_store) {
                problems.push(
                    format!("{key}.metadata_store"),
                    format!(
                        "no metadata store named {:?} (defined: {})",
                        share.metadata_store,
                        names(self.metadata.stores.keys())
                    ),
                );
            }
            if !self.content.stores.contains_key(&share.content_store) {
                problems.push(
                    format!("{key}.content_store"),
                    format!(
                        "no content store named {:?} (defined: {})",
                        share.content_store,
                        names(self.content.stores.keys())
                    ),
                );
            }
            if share.root.mode > 0o7777 {
                problems.push(
                    format!("{key}.root.mode"),
                    format!("{:o} is more than 7777 (octal)", share.root.mode),
                );
            }
        }
    }

    fn validate_adapters(&self, problems: &mut Problems) {
        let nfs = &self.adapters.nfs;
        if !nfs.enabled {
            problems.push(
                "adapters",
                "no adapter is enabled (set adapters.nfs.enabled: true)",
            );
            return;
        }
        if nfs.port == 0 {
            problems.push("adapters.nfs.port", "0 is not a valid port");
        }
        if nfs.max_connections == 0 {
            problems.push("adapters.nfs.max_connections", "must be at least 1");
        }
        if nfs.max_in_flight_per_connection == 0 {
            problems.push(
                "adapters.nfs.max_in_flight_per_connection",
                "must be at least 1",
            );
        }
        if nfs.portmapper.enabled {
            if nfs.portmapper.port == 0 {
                problems.push("adapters.nfs.portmapper.port", "0 is not a valid port");
            } else if nfs.portmapper.port == nfs.port {
                problems.push(
                    "adapters.nfs.portmapper.port",
                    format!(
                        "{} is also adapters.nfs.port; they need different ports",
                        nfs.port
                    ),
                );
            }
        }
    }
}

/// Collects broken rules during validation.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn push(&mut self, key: impl Into<String>, reason: impl Into<String>) {
        self.0.push(Problem {
            key: key.into(),
            reason: reason.into(),
        });
    }
}

/// `a, b, c`, or `none` for an empty list.
fn names<'a>(names: impl Iterator<Item = &'a String>) -> String {
    let list: Vec<&str> = names.map(String::as_str).collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

/// Store names are lower-case letters, digits, `-` and `_` (never `__`), so that
/// `DITTOFS_METADATA__STORES__<NAME>__PATH` can address every store.
fn check_store_name(problems: &mut Problems, key: &str, name: &str) {
    let is_valid = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
        && !name.contains(ENV_SEPARATOR);
    if !is_valid {
        problems.push(
            key,
            format!(
                "{name:?} is not a valid store name (use lower-case letters, digits, '-' and '_', \
                 starting with a letter or digit, without \"__\")"
            ),
        );
    }
}

/// A store directory must be absolute (after `~` expansion) and apart from every other store's
/// (`others`, the valid ones checked so far). Returns whether `path` is valid, reporting at most
/// one problem.
fn check_store_path(
    problems: &mut Problems,
    key: &str,
    path: &Path,
    others: &[(String, &Path)],
) -> bool {
    if path.as_os_str().is_empty() {
        problems.push(key, "must not be empty");
        return false;
    }
    if !path.is_absolute() {
        problems.push(
            key,
            format!(
                "{:?} must be an absolute path or start with ~/",
                path.display().to_string()
            ),
        );
        return false;
    }
    for (other_key, other) in others {
        let clash = if path == *other {
            "is the same directory as"
        } else if path.starts_with(other) {
            "is inside"
        } else if other.starts_with(path) {
            "contains"
        } else {
            continue;
        };
        problems.push(
            key,
            format!("{clash} {other_key}; stores need separate directories"),
        );
        return false;
    }
    true
}

/// Checks an export path; the error completes the sentence `"<name>" …`.
fn check_share_name(name: &str) -> Result<(), String> {
    let Some(rest) = name.strip_prefix('/') else {
        return Err("must start with /".to_owned());
    };
    if name.len() > MNT_PATH_LEN {
        return Err(format!(
            "is longer than {MNT_PATH_LEN} bytes (RFC 1813 MNTPATHLEN)"
        ));
    }
    if name.contains('\0') {
        return Err("contains a NUL byte".to_owned());
    }
    if rest.is_empty() {
        return Ok(());
    }
    if rest.ends_with('/') {
        return Err("must not end with /".to_owned());
    }
    for component in rest.split('/') {
        match component {
            "" => return Err("has an empty component (//)".to_owned()),
            "." | ".." => return Err(format!("has a {component:?} component")),
            c if c.len() > NAME_MAX => {
                return Err(format!("has a component longer than {NAME_MAX} bytes"));
            }
            _ => {}
        }
    }
    Ok(())
}

/// Turns a serde_yaml_ng error into [`ConfigError::Parse`], moving the location out of the
/// message and in front, as compilers do (`file:line:column: key: reason`).
fn parse_error(origin: &str, err: &serde_yaml_ng::Error) -> ConfigError {
    ConfigError::Parse {
        origin: origin.to_owned(),
        location: err.location().map(|l| (l.line(), l.column())),
        message: strip_location(err),
    }
}

/// The error's message without its first " at line L column C".
fn strip_location(err: &serde_yaml_ng::Error) -> String {
    let message = err.to_string();
    match err.location() {
        Some(l) => message.replacen(
            &format!(" at line {} column {}", l.line(), l.column()),
            "",
            1,
        ),
        None => message,
    }
}

/// The dotted key an override variable sets, as serde_yaml_ng spells paths (`shares[0].name`).
fn override_key(var: &str) -> String {
    let mut key = String::new();
    for segment in var[ENV_PREFIX.len()..]
        .split(ENV_SEPARATOR)
        .map(str::to_ascii_lowercase)
    {
        if segment.parse::<usize>().is_ok() {
            key.push_str(&format!("[{segment}]"));
        } else {
            if !key.is_empty() {
                key.push('.');
            }
            key.push_str(&segment);
        }
    }
    key
}

/// Whether one key path is the other or lies under it.
fn keys_overlap(a: &str, b: &str) -> bool {
    let under = |long: &str, short: &str| {
        long.strip_prefix(short)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('.') || rest.starts_with('['))
    };
    !a.is_empty() && !b.is_empty() && (under(a, b) || under(b, a))
}

/// Adds "(set by VAR)" to every problem whose key an override set.
fn blame_overrides(err: ConfigError, applied: &[(String, String)]) -> ConfigError {
    match err {
        ConfigError::Invalid { mut problems } => {
            for problem in &mut problems {
                let vars: Vec<&str> = applied
                    .iter()
                    .filter(|(_, key)| keys_overlap(key, &problem.key))
                    .map(|(v, _)| v.as_str())
                    .collect();
                if !vars.is_empty() {
                    problem
                        .reason
                        .push_str(&format!(" (set by {})", vars.join(", ")));
                }
            }
            ConfigError::Invalid { problems }
        }
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_with(vars: &[(&str, &str)]) -> ConfigEnv {
        ConfigEnv {
            home: Some(PathBuf::from("/home/tester")),
            xdg_config_home: None,
            vars: vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, "test.yaml", &env_with(&[]))
    }

    /// The error text of a configuration expected to fail.
    fn error(text: &str) -> String {
        parse(text)
            .expect_err("configuration should be rejected")
            .to_string()
    }

    /// The problems of a configuration expected to fail validation.
    fn problems(text: &str) -> Vec<Problem> {
        match parse(text) {
            Err(ConfigError::Invalid { problems }) => problems,
            other => panic!("expected validation problems, got {other:?}"),
        }
    }

    /// Goal: `dittofs init`'s commented file and the built-in defaults are the same
    /// configuration. Method: parse DEFAULT_YAML without expansion and compare.
    #[test]
    fn default_yaml_is_the_default_config() {
        let parsed: Config = serde_yaml_ng::from_str(DEFAULT_YAML).expect("DEFAULT_YAML parses");
        assert_eq!(parsed, Config::default_config());
        let empty: Config = serde_yaml_ng::from_str("{}").expect("empty mapping parses");
        assert_eq!(empty, Config::default_config());
    }

    /// Goal: the defaults load and validate, with `~` expanded from HOME.
    #[test]
    fn defaults_load_and_expand_home() {
        let config = parse(DEFAULT_YAML).expect("defaults are valid");
        assert_eq!(
            config.metadata.stores["default"].path(),
            Some(Path::new("/home/tester/.local/share/dittofs/metadata"))
        );
        assert_eq!(
            config.content.stores["default"].path(),
            Some(Path::new("/home/tester/.local/share/dittofs/content"))
        );
        assert_eq!(
            config.adapters.nfs.socket_addr().to_string(),
            "0.0.0.0:12049"
        );
        assert_eq!(config.shares[0].name, "/export");
        assert_eq!(config.shares[0].root.mode, 0o777);
        assert_eq!(config.cache.dirty_bytes_max, ByteSize(256 << 20));
        assert_eq!(config.server.shutdown_timeout, Duration::from_secs(30));
        // Empty and comment-only files are the defaults too.
        assert_eq!(parse("").expect("empty"), config);
        assert_eq!(parse("# nothing\n").expect("comments"), config);

        let no_home = ConfigEnv {
            home: None,
            ..env_with(&[])
        };
        let err = Config::parse(DEFAULT_YAML, "test.yaml", &no_home).expect_err("~ without HOME");
        assert_eq!(
            err.to_string(),
            "\"~\" in metadata.stores.default.path needs $HOME, which is not set"
        );
    }

    /// Goal: to_yaml writes what parse reads. Method: a config with every kind of value
    /// round-trips through text.
    #[test]
    fn to_yaml_round_trips() {
        let text = "
logging: {level: debug, format: json}
server: {shutdown_timeout: 1m30s}
metadata:
  stores:
    mem: {type: memory}
    disk: {type: rocksdb, path: /var/lib/dittofs/meta}
content:
  stores:
    mem: {type: memory}
    disk: {type: filesystem, path: /var/lib/dittofs/data}
cache: {dirty_bytes_max: 1GiB, flush_workers: 2}
shares:
  - {name: /a, metadata_store: mem, content_store: mem, read_only: true, squash: all,
     root: {uid: 1000, gid: 100, mode: 1750}, allowed_clients: []}
  - {name: /b/c, metadata_store: disk, content_store: disk, squash: root,
     allowed_clients: [10.0.0.0/8, 'fd00::/8'], require_privileged_port: true}
adapters:
  nfs: {bind: '::', port: 2049, portmapper: {enabled: false, port: 111}, max_connections: 8,
        max_in_flight_per_connection: 2}
";
        let config = parse(text).expect("valid");
        assert_eq!(config.server.shutdown_timeout, Duration::from_secs(90));
        assert_eq!(config.shares[0].root.mode, 0o1750);
        assert_eq!(config.shares[0].squash, Squash::All);
        assert!(config.shares[0].allowed_clients.is_empty());
        assert_eq!(config.shares[1].anonymous_uid, 65534);
        let yaml = config.to_yaml();
        assert!(yaml.contains("mode: '1750'"), "{yaml}");
        assert!(yaml.contains("shutdown_timeout: 90s"), "{yaml}");
        assert_eq!(parse(&yaml).expect("round trip"), config);
    }

    /// Goal: allowed_clients: empty allows everyone; left out allows loopback only.
    #[test]
    fn allowed_clients_default_to_loopback() {
        let ip = |s: &str| s.parse::<IpAddr>().expect("test address");
        let share = ShareConfig::new("/x");
        assert!(share.is_client_allowed(ip("127.0.0.1")));
        assert!(share.is_client_allowed(ip("::1")));
        assert!(share.is_client_allowed(ip("::ffff:127.0.0.2")));
        assert!(!share.is_client_allowed(ip("192.0.2.1")));
        let open = ShareConfig {
            allowed_clients: Vec::new(),
            ..share
        };
        assert!(open.is_client_allowed(ip("192.0.2.1")));
    }

    /// Goal: parse errors name the file, line, column, key and reason.
    #[test]
    fn parse_errors_have_locations() {
        let err = error("adapters:\n  nfs:\n    prot: 2049\n");
        assert!(
            err.starts_with("test.yaml:3:5: adapters.nfs: unknown field `prot`"),
            "{err}"
        );
        let err = error("adapters:\n  nfs:\n    port: 70000\n");
        assert!(
            err.starts_with("test.yaml:3:11: adapters.nfs.port: invalid value: integer `70000`"),
            "{err}"
        );
        let err = error("cache:\n  dirty_bytes_max: 12XB\n");
        assert_eq!(
            err,
            "test.yaml:2:20: cache.dirty_bytes_max: \"12XB\" is not a size (use e.g. 256MiB, 1GiB or a number of bytes)"
        );
        let err = error("logging: {level: loud}\n");
        assert!(
            err.contains("logging.level: unknown variant `loud`, expected one of `trace`"),
            "{err}"
        );
        let err = error("shares:\n  - name: /a\n    squash: maybe\n");
        assert!(
            err.starts_with("test.yaml:3:13: shares[0].squash: unknown variant `maybe`"),
            "{err}"
        );
        let err = error("shares:\n  - metadata_store: default\n");
        assert!(err.contains("shares[0]: missing field `name`"), "{err}");
        let err = error("shares:\n  - name: /a\n    allowed_clients: [10.0.0.1/8]\n");
        assert!(
            err.contains(
                "shares[0].allowed_clients[0]: \"10.0.0.1/8\" is not a CIDR block: host bits"
            ),
            "{err}"
        );
        let err = error("shares:\n  - name: /a\n    root: {mode: 0999}\n");
        assert!(
            err.contains("shares[0].root.mode: \"0999\" is not a mode"),
            "{err}"
        );
        let err = error("metadata:\n  stores:\n    default:\n      type: rocksdb\n      pth: /x\n");
        assert!(
            err.starts_with("test.yaml:3:5: metadata.stores: unknown field `pth`, expected `path`"),
            "{err}"
        );
        let err = error("metadata:\n  stores:\n    default: {type: rocksdb}\n");
        assert!(
            err.contains("metadata.stores: missing field `path`"),
            "{err}"
        );
        let err = error("metadata:\n  stores:\n    default: {type: memory, path: /x}\n");
        assert!(err.contains("unknown field `path`"), "{err}");
        let err = error("metadata:\n  stores:\n    default: {type: leveldb}\n");
        assert!(
            err.contains(
                "unknown variant `leveldb`, expected one of `memory`, `rocksdb`, `postgres`"
            ),
            "{err}"
        );
        let err = error("server:\n  shutdown_timeout: 30\n");
        assert!(
            err.contains("server.shutdown_timeout: \"30\" is not a duration (missing unit"),
            "{err}"
        );
        let err = error("logging: [\n");
        assert!(err.starts_with("test.yaml:2:1: "), "{err}");
        let err = error("- just\n- a list\n");
        assert!(err.starts_with("test.yaml"), "{err}");
    }

    /// Goal: validation reports every broken rule with its key. Method: one configuration that
    /// breaks many rules at once.
    #[test]
    fn validation_names_keys_and_reasons() {
        let found = problems(
            "
server: {shutdown_timeout: 0s}
metadata:
  stores:
    default: {type: memory}
    pg: {type: postgres, url: 'postgres://x'}
    Bad: {type: memory}
    rel: {type: rocksdb, path: data/meta}
content:
  stores:
    default: {type: filesystem, path: /srv/d}
    twin: {type: filesystem, path: /srv/d}
    inner: {type: filesystem, path: /srv/d/x}
    bucket: {type: s3, bucket: b}
cache: {dirty_bytes_max: 64KiB, flush_workers: 0}
shares:
  - {name: export}
  - {name: /a, metadata_store: fast}
  - {name: /a, content_store: slow}
  - {name: /b/, read_only: true}
  - {name: /b//c}
  - {name: /b/../c}
adapters:
  nfs: {port: 0, max_connections: 0, max_in_flight_per_connection: 0, portmapper: {port: 0}}
",
        );
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        let expected = [
            "server.shutdown_timeout: must be longer than 0s",
            "metadata.stores.Bad: \"Bad\" is not a valid store name",
            "metadata.stores.pg.type: postgres is not built in this version (available: memory, rocksdb)",
            "metadata.stores.rel.path: \"data/meta\" must be an absolute path or start with ~/",
            "content.stores.bucket.type: s3 is not built in this version (available: memory, filesystem)",
            "content.stores.inner.path: is inside content.stores.default.path",
            "content.stores.twin.path: is the same directory as content.stores.default.path",
            "cache.dirty_bytes_max: 64KiB is less than one maximal WRITE (1MiB)",
            "cache.flush_workers: must be at least 1",
            "shares[0].name: \"export\" must start with /",
            "shares[1].metadata_store: no metadata store named \"fast\" (defined: Bad, default, pg, rel)",
            "shares[2].name: \"/a\" is already the name of shares[1]",
            "shares[2].content_store: no content store named \"slow\" (defined: bucket, default, inner, twin)",
            "shares[3].name: \"/b/\" must not end with /",
            "shares[4].name: \"/b//c\" has an empty component (//)",
            "shares[5].name: \"/b/../c\" has a \"..\" component",
            "adapters.nfs.port: 0 is not a valid port",
            "adapters.nfs.max_connections: must be at least 1",
            "adapters.nfs.max_in_flight_per_connection: must be at least 1",
            "adapters.nfs.portmapper.port: 0 is not a valid port",
        ];
        for want in expected {
            assert!(
                shown.iter().any(|p| p.starts_with(want)),
                "missing {want:?} in {shown:#?}"
            );
        }
        assert_eq!(shown.len(), expected.len(), "{shown:#?}");
    }

    /// Goal: the remaining single rules: no enabled adapter, no shares, port clash, root share,
    /// long names; and the one-line Display of several problems.
    #[test]
    fn validation_edge_cases() {
        let found = problems("adapters: {nfs: {enabled: false}}\nshares: []\n");
        assert_eq!(
            ProblemList(&found).to_string(),
            "shares: at least one share is required; adapters: no adapter is enabled (set adapters.nfs.enabled: true)"
        );
        let found = problems("adapters: {nfs: {port: 111}}\n");
        assert_eq!(
            found[0].to_string(),
            "adapters.nfs.portmapper.port: 111 is also adapters.nfs.port; they need different ports"
        );
        assert!(parse("adapters: {nfs: {port: 111, portmapper: {enabled: false}}}\n").is_ok());
        assert!(parse("shares: [{name: /}]\n").is_ok());
        let long = format!("shares: [{{name: /{}}}]\n", "a".repeat(256));
        assert!(
            problems(&long)[0]
                .reason
                .contains("component longer than 255 bytes")
        );
        let longer = format!("shares: [{{name: '{}'}}]\n", "/abc".repeat(300));
        assert!(
            problems(&longer)[0]
                .reason
                .contains("longer than 1024 bytes")
        );
        let found = problems("metadata: {stores: {}}\ncontent: {stores: {}}\n");
        let shown: Vec<String> = found.iter().map(ToString::to_string).collect();
        assert_eq!(
            shown,
            [
                "metadata.stores: at least one store is required",
                "content.stores: at least one store is required",
                "shares[0].metadata_store: no metadata store named \"default\" (defined: none)",
                "shares[0].content_store: no content store named \"default\" (defined: none)",
            ]
        );
    }

    /// Goal: overrides change values, create sections, reach list entries, and `~` in an
    /// override is expanded like `~` in the file.
    #[test]
    fn env_overrides_apply() {
        let env = env_with(&[
            ("DITTOFS_LOGGING__LEVEL", "debug"),
            ("DITTOFS_ADAPTERS__NFS__PORT", "2049"),
            ("DITTOFS_METADATA__STORES__DEFAULT__PATH", "~/meta"),
            ("DITTOFS_SHARES__0__ROOT__MODE", "0700"),
            ("DITTOFS_SERVER__SHUTDOWN_TIMEOUT", "5m"),
            ("DITTOFS_CONFIG", "/ignored.yaml"),
        ]);
        let config = Config::parse(DEFAULT_YAML, "test.yaml", &env).expect("valid");
        assert_eq!(config.logging.level, LogLevel::Debug);
        assert_eq!(config.adapters.nfs.port, 2049);
        assert_eq!(
            config.metadata.stores["default"].path(),
            Some(Path::new("/home/tester/meta"))
        );
        assert_eq!(config.shares[0].root.mode, 0o700);
        assert_eq!(config.server.shutdown_timeout, Duration::from_secs(300));
        // An empty file plus overrides.
        let config = Config::parse(
            "",
            "test.yaml",
            &env_with(&[("DITTOFS_CACHE__FLUSH_WORKERS", "9")]),
        )
        .expect("valid");
        assert_eq!(config.cache.flush_workers, 9);
        assert_eq!(config.shares, Config::default_config().shares);
        // Switching a store's type: the old type's `path` is removed by an empty value.
        let env = env_with(&[
            ("DITTOFS_METADATA__STORES__DEFAULT__TYPE", "memory"),
            ("DITTOFS_METADATA__STORES__DEFAULT__PATH", ""),
            ("DITTOFS_CONTENT__STORES__DEFAULT__TYPE", "memory"),
            ("DITTOFS_CONTENT__STORES__DEFAULT__PATH", ""),
        ]);
        let config = Config::parse("", "test.yaml", &env).expect("valid");
        assert_eq!(
            config.metadata.stores["default"],
            MetadataStoreConfig::Memory {}
        );
        assert_eq!(
            config.content.stores["default"],
            ContentStoreConfig::Memory {}
        );
    }

    /// Goal: an override that breaks the configuration is named in the error, whether it breaks
    /// parsing or validation; a broken file is still blamed on the file.
    #[test]
    fn env_override_errors_name_the_variable() {
        let check = |vars: &[(&str, &str)], text: &str, want: &str| {
            let err = Config::parse(text, "test.yaml", &env_with(vars))
                .expect_err(want)
                .to_string();
            assert!(err.contains(want), "{err:?} lacks {want:?}");
        };
        check(
            &[
                ("DITTOFS_ADAPTERS__NFS__PORT", "0"),
                ("DITTOFS_LOGGING__LEVEL", "warn"),
            ],
            "",
            "adapters.nfs.port: 0 is not a valid port (set by DITTOFS_ADAPTERS__NFS__PORT)",
        );
        check(
            &[
                ("DITTOFS_ADAPTERS__NFS__PORT", "http"),
                ("DITTOFS_LOGGING__LEVEL", "warn"),
            ],
            "",
            "adapters.nfs.port: invalid type: string \"http\", expected u16 (set by DITTOFS_ADAPTERS__NFS__PORT)",
        );
        check(
            &[("DITTOFS_LOGGING__LEVLE", "warn")],
            "",
            "logging: unknown field `levle`, expected `level` or `format` (set by DITTOFS_LOGGING__LEVLE)",
        );
        check(
            &[("DITTOFS_SHARES__0__METADATA_STORE", "fast")],
            "",
            "shares[0].metadata_store: no metadata store named \"fast\" (defined: default) (set by DITTOFS_SHARES__0__METADATA_STORE)",
        );
        check(
            &[("DITTOFS_SHARES__5__READ_ONLY", "true")],
            "",
            "environment variable DITTOFS_SHARES__5__READ_ONLY: shares has 1 entries",
        );
        check(
            &[("DITTOFS_LOGGING__LEVEL", "warn")],
            "logging: {levl: x}\n",
            "test.yaml:1:11: logging: unknown field `levl`",
        );
    }

    /// Goal: the default path follows XDG_CONFIG_HOME when absolute, else HOME.
    #[test]
    fn default_config_path_follows_xdg() {
        let mut env = env_with(&[]);
        assert_eq!(
            env.default_config_path().expect("home"),
            Path::new("/home/tester/.config/dittofs/config.yaml")
        );
        env.xdg_config_home = Some(PathBuf::from("relative/dir"));
        assert_eq!(
            env.default_config_path().expect("home"),
            Path::new("/home/tester/.config/dittofs/config.yaml")
        );
        env.xdg_config_home = Some(PathBuf::from("/xdg"));
        assert_eq!(
            env.default_config_path().expect("xdg"),
            Path::new("/xdg/dittofs/config.yaml")
        );
        let none = ConfigEnv::default();
        assert_eq!(
            none.default_config_path().expect_err("no home").to_string(),
            "finding the default config file needs $HOME, which is not set"
        );
    }

    /// Goal: a missing file is recognisable, so `start` can fall back to the defaults.
    #[test]
    fn missing_file_is_recognised() {
        let err = Config::load_with(Path::new("/nonexistent/dittofs.yaml"), &env_with(&[]))
            .expect_err("missing");
        assert!(err.is_missing_file());
        assert!(
            err.to_string()
                .starts_with("cannot read /nonexistent/dittofs.yaml: "),
            "{err}"
        );
        assert!(
            !ConfigError::NoHome {
                what: String::new()
            }
            .is_missing_file()
        );
    }

    /// Goal: the helpers that attribute errors to overrides agree with serde_yaml_ng's paths.
    #[test]
    fn override_keys_match_paths() {
        assert_eq!(
            override_key("DITTOFS_SHARES__0__ROOT__MODE"),
            "shares[0].root.mode"
        );
        assert_eq!(
            override_key("DITTOFS_ADAPTERS__NFS__PORT"),
            "adapters.nfs.port"
        );
        assert!(keys_overlap("adapters.nfs.port", "adapters.nfs"));
        assert!(keys_overlap("shares", "shares[0].name"));
        assert!(!keys_overlap(
            "adapters.nfs.port",
            "adapters.nfs.portmapper"
        ));
        assert!(!keys_overlap("", "x"));
    }
}
