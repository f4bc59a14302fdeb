//! Where users, groups and the guest live: the [`IdentityStore`] interface, and the default
//! [`FileIdentityStore`], the `users:`, `groups:` and `guest:` sections of the configuration
//! file.
//!
//! The interface is not file-shaped, so that a database backend (several gateways sharing one
//! PostgreSQL: `daemon::identity_pg`) implements it too: a cheap change token the server
//! polls, an optional change notification, a load, and an edit applied all-or-nothing.

use std::future::Future;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};
use sha2::{Digest, Sha256};

use super::model::IdentityData;
use crate::config::{Config, ConfigEnv, ConfigError};

/// Why an identity store could not load or change.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// The edit was refused, e.g. "no user named \"alice\"".
    #[error("{0}")]
    Refused(String),
    /// The configuration (before or after the edit) is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The identity database failed (unreachable, busy, damaged).
    #[error("identity database: {0}")]
    Database(#[source] stores::StoreError),
    /// Reading or writing the store failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
}

/// Users, groups and the guest, stored somewhere. Every method is async and takes `&self`, so
/// a store backed by a database pool fits as well as the file.
pub trait IdentityStore: Send + Sync + 'static {
    /// A token that changes whenever the data may have changed (the file's hash; a database
    /// would use a revision counter). Cheap: the server polls it every second.
    fn version(&self) -> impl Future<Output = Result<Vec<u8>, IdentityError>> + Send;

    /// Resolves when the store learnt of a change sooner than the next poll would (a database
    /// notification); the poll still runs, so a store without notifications never resolves.
    fn changed(&self) -> impl Future<Output = ()> + Send {
        std::future::pending()
    }

    /// The current users, groups and guest, validated.
    fn load(&self) -> impl Future<Output = Result<IdentityData, IdentityError>> + Send;

    /// Applies `edit` to the current data and stores the result all-or-nothing; an edit that
    /// returns an error, or whose result is invalid, changes nothing. Returns the new data.
    fn update<F>(
        &self,
        edit: F,
    ) -> impl Future<Output = Result<IdentityData, IdentityError>> + Send
    where
        F: FnOnce(&mut IdentityData) -> Result<(), IdentityError> + Send;
}

/// The identity sections of the configuration file.
///
/// Edits rewrite only the top-level `users:`, `groups:` and `guest:` blocks, so comments and
/// layout elsewhere survive (comments inside those three blocks do not). The file is replaced
/// atomically (a sibling temporary file, then rename) with mode 0600.
#[derive(Debug, Clone)]
pub struct FileIdentityStore {
    path: PathBuf,
    env: ConfigEnv,
    /// The configuration the server started with, to name keys whose change needs a restart.
    baseline: Option<Config>,
}

impl FileIdentityStore {
    /// The store in the configuration file at `path`; `env` supplies `~` and the `DITTOFS_*`
    /// overrides, as for [`Config::load_with`].
    pub fn new(path: impl Into<PathBuf>, env: ConfigEnv) -> Self {
        Self {
            path: path.into(),
            env,
            baseline: None,
        }
    }

    /// Remembers the configuration the server runs with: a reload that finds other keys changed
    /// logs that they need a restart.
    pub fn with_baseline(mut self, running: Config) -> Self {
        self.baseline = Some(running);
        self
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, source: io::Error) -> IdentityError {
        IdentityError::Io {
            path: self.path.clone(),
            source,
        }
    }
}

impl IdentityStore for FileIdentityStore {
    async fn version(&self) -> Result<Vec<u8>, IdentityError> {
        let bytes = tokio::fs::read(&self.path)
            .await
            .map_err(|e| self.io_error(e))?;
        Ok(Sha256::digest(&bytes).to_vec())
    }

    async fn load(&self) -> Result<IdentityData, IdentityError> {
        let text = tokio::fs::read_to_string(&self.path)
            .await
            .map_err(|e| self.io_error(e))?;
        let config = Config::parse(&text, &self.path.display().to_string(), &self.env)?;
        if let Err(warning) = check_private(&self.path, &config) {
            tracing::warn!("{warning}");
        }
        if let Some(running) = &self.baseline {
            let changed = restart_keys(running, &config);
            if !changed.is_empty() {
                tracing::warn!(
                    path = %self.path.display(),
                    keys = %changed.join(", "),
                    "configuration changed outside users/groups/guest; those keys need a restart"
                );
            }
        }
        Ok(identity_of(&config))
    }

    async fn update<F>(&self, edit: F) -> Result<IdentityData, IdentityError>
    where
        F: FnOnce(&mut IdentityData) -> Result<(), IdentityError> + Send,
    {
        // Plain blocking file calls: edits come from the CLI on a runtime of their own, never
        // from the server's request path.
        let origin = self.path.display().to_string();
        let text = std::fs::read_to_string(&self.path).map_err(|e| self.io_error(e))?;
        // The file's own values, without the environment overrides, so that an override is
        // never written into the file.
        let mut data = identity_of(&Config::parse_file_only(&text, &origin)?);
        edit(&mut data)?;
        let new_text = rewrite_identity(&text, &data);
        // The whole result must be valid, overrides included, as `dittofs start` will load it.
        Config::parse(&new_text, &origin, &self.env)?;
        write_private(&self.path, new_text.as_bytes()).map_err(|e| self.io_error(e))?;
        Ok(data)
    }
}

/// The identity sections of a configuration.
pub fn identity_of(config: &Config) -> IdentityData {
    IdentityData {
        users: config.users.clone(),
        groups: config.groups.clone(),
        guest: config.guest,
    }
}

/// Refuses a configuration that holds secrets (password hashes, an S3 secret key, a database
/// password) in a file others can read. `dittofs start` refuses to run with such a file; a
/// reload only warns.
pub fn check_private(path: &Path, config: &Config) -> Result<(), String> {
    let secrets = config.secrets();
    if secrets.is_empty() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                return Err(format!(
                    "{} holds secrets ({}) but is readable by others (mode {mode:04o}); \
                     run `chmod 600 {}`",
                    path.display(),
                    secrets.join(", "),
                    path.display()
                ));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (path, secrets);
    Ok(())
}

/// The top-level keys, other than the identity sections, whose values differ.
pub fn restart_keys(running: &Config, loaded: &Config) -> Vec<String> {
    let tree = |config: &Config| match serde_yaml_ng::to_value(config) {
        Ok(Value::Mapping(map)) => map,
        _ => Mapping::new(),
    };
    let (old, new) = (tree(running), tree(loaded));
    let mut keys: Vec<String> = Vec::new();
    for key in old.keys().chain(new.keys()) {
        let Some(name) = key.as_str() else { continue };
        if IDENTITY_KEYS.contains(&name) || keys.iter().any(|k| k == name) {
            continue;
        }
        if old.get(key) != new.get(key) {
            keys.push(name.to_owned());
        }
    }
    keys
}

/// The top-level sections an identity edit rewrites, in the order they are appended.
const IDENTITY_KEYS: [&str; 3] = ["groups", "users", "guest"];

/// `text` with its top-level `groups:`, `users:` and `guest:` blocks replaced by `data`'s;
/// a block the file lacks is appended, unless its value is the default.
pub fn rewrite_identity(text: &str, data: &IdentityData) -> String {
    #[derive(Serialize)]
    struct Groups<'a> {
        groups: &'a [crate::config::GroupConfig],
    }
    #[derive(Serialize)]
    struct Users<'a> {
        users: &'a [crate::config::UserConfig],
    }
    #[derive(Serialize)]
    struct Guest {
        guest: crate::config::GuestConfig,
    }
    let render = |value: Result<String, serde_yaml_ng::Error>| {
        value.expect("identity sections serialise: every key is a string")
    };
    let blocks = [
        (
            "groups",
            render(serde_yaml_ng::to_string(&Groups {
                groups: &data.groups,
            })),
            data.groups.is_empty(),
        ),
        (
            "users",
            render(serde_yaml_ng::to_string(&Users { users: &data.users })),
            data.users.is_empty(),
        ),
        (
            "guest",
            render(serde_yaml_ng::to_string(&Guest { guest: data.guest })),
            data.guest == crate::config::GuestConfig::default(),
        ),
    ];
    let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
    if let Some(last) = lines.last_mut()
        && !last.ends_with('\n')
    {
        last.push('\n');
    }
    for (key, block, is_default) in blocks {
        match find_block(&lines, key) {
            Some((start, end)) => {
                lines.splice(start..end, [block]);
            }
            None if is_default => {}
            None => {
                if lines.last().is_some_and(|l| !l.trim().is_empty()) {
                    lines.push("\n".to_owned());
                }
                lines.push(block);
            }
        }
    }
    lines.concat()
}

/// The line range of the top-level block `key:`: its key line through the line before the next
/// top-level line, less the blank lines and column-0 comments just before that line (they
/// introduce the next section, so they stay).
fn find_block(lines: &[String], key: &str) -> Option<(usize, usize)> {
    let is_key_line = |line: &str| {
        line.strip_prefix(key)
            .and_then(|rest| rest.strip_prefix(':'))
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r']))
    };
    let start = lines.iter().position(|l| is_key_line(l))?;
    let is_top_level = |line: &str| {
        line.chars()
            .next()
            .is_some_and(|c| !matches!(c, ' ' | '\t' | '#' | '-' | '\n' | '\r'))
    };
    let mut end = lines[start + 1..]
        .iter()
        .position(|l| is_top_level(l))
        .map_or(lines.len(), |i| start + 1 + i);
    while end > start + 1 {
        let line = &lines[end - 1];
        if line.trim().is_empty() || line.starts_with('#') {
            end -= 1;
        } else {
            break;
        }
    }
    Some((start, end))
}

/// Replaces `path` with `bytes` atomically: a sibling temporary file of mode 0600, synced, then
/// renamed over the target, then the directory synced.
pub fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let written = (|| -> io::Result<()> {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        #[cfg(unix)]
        {
            // A leftover temporary file keeps its old mode; make sure of 0600.
            use std::os::unix::fs::PermissionsExt as _;
            file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        }
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)?;
        // Best effort: some filesystems cannot sync a directory; the rename already happened.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if written.is_err() {
        // Best effort: the write already failed, and that error is the one to report.
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{GroupConfig, GuestConfig, UserConfig};
    use crate::identity::Permission;

    fn data() -> IdentityData {
        IdentityData {
            users: vec![UserConfig {
                username: "alice".to_owned(),
                password_hash: None,
                nt_hash: None,
                uid: 1001,
                gid: 101,
                groups: vec!["editors".to_owned()],
                share_permissions: [("/export".to_owned(), Permission::Read)].into(),
            }],
            groups: vec![GroupConfig {
                name: "editors".to_owned(),
                gid: 101,
                share_permissions: Default::default(),
            }],
            guest: GuestConfig::default(),
        }
    }

    /// Goal: a rewrite replaces only the identity blocks, keeps every comment outside them
    /// (including those just before the next section), and appends missing blocks.
    #[test]
    fn rewrite_keeps_the_rest() {
        let text = "# top comment\nlogging:\n  level: info # why info\n\nusers:\n  - username: old\n    uid: 1\n    gid: 1\n  # inner comment\n\n# about shares\nshares:\n  - name: /export\nguest: {enabled: true}\n";
        let out = rewrite_identity(text, &data());
        assert!(
            out.starts_with("# top comment\nlogging:\n  level: info # why info\n\nusers:\n"),
            "{out}"
        );
        assert!(
            out.contains("\n# about shares\nshares:\n  - name: /export\n"),
            "{out}"
        );
        assert!(
            !out.contains("old") && !out.contains("inner comment"),
            "{out}"
        );
        assert!(out.contains("guest:\n  enabled: false\n"), "{out}");
        assert!(
            out.ends_with("groups:\n- name: editors\n  gid: 101\n"),
            "{out}"
        );
        let parsed = Config::parse_file_only(&out, "t").expect("parses");
        assert_eq!(identity_of(&parsed), data());
        // Idempotent once every block exists.
        assert_eq!(rewrite_identity(&out, &data()), out);
        // A file without a final newline, and defaults that are not appended.
        let bare = rewrite_identity("shares: []", &IdentityData::default());
        assert_eq!(bare, "shares: []\n");
    }

    /// Goal: a key that merely starts like an identity key is not mistaken for it.
    #[test]
    fn find_block_matches_whole_keys() {
        let lines: Vec<String> = "usersx: 1\nusers:\n- a\nguest: {}\n"
            .split_inclusive('\n')
            .map(str::to_owned)
            .collect();
        assert_eq!(find_block(&lines, "users"), Some((1, 3)));
        assert_eq!(find_block(&lines, "guest"), Some((3, 4)));
        assert_eq!(find_block(&lines, "groups"), None);
    }

    /// Goal: only keys outside the identity sections are reported as needing a restart.
    #[test]
    fn restart_keys_ignore_identity() {
        let running = Config::default_config();
        let mut loaded = running.clone();
        loaded.users = data().users;
        loaded.guest.enabled = true;
        assert!(restart_keys(&running, &loaded).is_empty());
        loaded.cache.flush_workers = 9;
        loaded.shares[0].read_only = true;
        assert_eq!(restart_keys(&running, &loaded), ["cache", "shares"]);
    }

    /// Goal: write_private replaces a file atomically with mode 0600, whatever the old mode.
    #[cfg(unix)]
    #[test]
    fn write_private_is_0600() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("c.yaml");
        std::fs::write(&path, "old").expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_private(&path, b"new").expect("replace");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(std::fs::read_dir(dir.path()).expect("list").count(), 1);
    }
}
