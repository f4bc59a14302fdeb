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
//! - `mod.rs` (this file): the module's entry points and [`ConfigError`];
//! - `schema`: [`Config`], its sections and their defaults;
//! - `load`: [`ConfigEnv`], parsing, `~` expansion, environment overrides and blaming them;
//! - `validate`: [`Config::validate`] and its [`Problem`]s;
//! - `units`: [`ByteSize`], humane durations ([`parse_duration`]) and octal modes;
//! - `cidr`: [`Cidr`] blocks for `allowed_clients`;
//! - `overrides`: the `DITTOFS_*` override walk over the YAML tree;
//! - `default.yaml`: the commented file `dittofs init` writes ([`DEFAULT_YAML`]).

mod cidr;
mod load;
mod overrides;
mod schema;
mod units;
mod validate;

use std::io;
use std::path::PathBuf;

pub use self::cidr::{Cidr, CidrError, allows};
pub use self::load::ConfigEnv;
pub use self::overrides::{ENV_PREFIX, ENV_SEPARATOR};
pub use self::schema::{
    AdaptersSection, CacheSection, Config, ContentSection, ContentStoreConfig, DatabaseUrl,
    GroupConfig, GuestConfig, HttpSection, IdentityBackend, IdentitySection, LogFormat, LogLevel,
    LoggingSection, MetadataSection, MetadataStoreConfig, NfsConfig, NfsLockingConfig,
    PortmapperConfig, PostgresOptions, S3Options, ServerSection, ShareConfig, ShareRoot,
    ShareSmbConfig, SmbCipher, SmbConfig, SmbDialect, SmbDialects, SmbEncryption, Squash,
    UserConfig,
};
pub use self::units::{ByteSize, UnitError, format_duration, parse_duration, parse_mode};
pub use self::validate::Problem;
use self::validate::ProblemList;

/// The commented configuration file `dittofs init` writes; it parses to
/// [`Config::default_config`].
pub const DEFAULT_YAML: &str = include_str!("default.yaml");

/// Where configuration lives when neither `--config` nor `DITTOFS_CONFIG` says otherwise:
/// `$XDG_CONFIG_HOME/dittofs/config.yaml`, else `~/.config/dittofs/config.yaml`.
pub fn default_config_path() -> Result<PathBuf, ConfigError> {
    ConfigEnv::from_process().default_config_path()
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

#[cfg(test)]
mod tests;
