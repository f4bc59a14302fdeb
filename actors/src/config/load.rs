//! Loading: the process environment ([`ConfigEnv`]), parsing with locations, `DITTOFS_*`
//! overrides and blaming their errors on them, and `~` expansion.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use serde_yaml_ng::Value;

use super::overrides::{self, ENV_PREFIX, ENV_SEPARATOR};
use super::{Config, ConfigError};

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

impl Config {
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

    /// The file's own values: parsed, with defaults for missing keys, but without overrides,
    /// `~` expansion or validation. Tools that edit the file start from this, so that they never
    /// write an environment override into it.
    pub fn parse_file_only(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let tree: Value = serde_yaml_ng::from_str(text).map_err(|e| parse_error(origin, &e))?;
        if tree.is_null() {
            return Ok(Self::default_config());
        }
        serde_yaml_ng::from_str(text).map_err(|e| parse_error(origin, &e))
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
        let content = self.content.stores.iter_mut().map(|(name, s)| {
            let field = match s {
                super::ContentStoreConfig::S3(_) => "s3.cache_dir",
                _ => "path",
            };
            (format!("content.stores.{name}.{field}"), s.path_mut())
        });
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
pub(super) fn override_key(var: &str) -> String {
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
pub(super) fn keys_overlap(a: &str, b: &str) -> bool {
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
