//! Validation: every rule a parsed configuration must follow, each broken one reported as a
//! [`Problem`] naming the key and the reason.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use protocol::wire::limits::{IO_SIZE_MAX, MNT_PATH_LEN, NAME_MAX};

use super::overrides::ENV_SEPARATOR;
use crate::identity::secret;

use super::{
    ByteSize, Config, ConfigError, ContentStoreConfig, MetadataStoreConfig, PostgresOptions,
};

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
pub(super) struct ProblemList<'a>(pub(super) &'a [Problem]);

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
        self.validate_identity(&mut problems);
        self.validate_identity_store(&mut problems);
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
        if let Some(http) = &self.server.http {
            if http.port == 0 {
                problems.push("server.http.port", "0 is not a valid port");
            }
            let nfs = &self.adapters.nfs;
            let smb = &self.adapters.smb;
            for (on, port, key) in [
                (nfs.enabled, nfs.port, "adapters.nfs.port"),
                (smb.enabled, smb.port, "adapters.smb.port"),
            ] {
                if on && port == http.port {
                    problems.push(
                        "server.http.port",
                        format!("{port} is also {key}; they need different ports"),
                    );
                }
            }
            if http
                .token
                .as_ref()
                .is_some_and(|t| t.expose().trim().is_empty())
            {
                problems.push(
                    "server.http.token",
                    "is empty; remove the key to ask for no token, or set a long random one",
                );
            }
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
            if let MetadataStoreConfig::Postgres(options) = store {
                check_postgres(problems, &key, options);
            }
            if let Some(path) = store.path()
                && check_store_path(problems, &format!("{key}.path"), path, &dirs)
            {
                dirs.push((format!("{key}.path"), path));
            }
        }
        if self.content.stores.is_empty() {
            problems.push("content.stores", "at least one store is required");
        }
        for (name, store) in &self.content.stores {
            let key = format!("content.stores.{name}");
            check_store_name(problems, &key, name);
            if let ContentStoreConfig::S3(o) = store {
                validate_s3(problems, &format!("{key}.s3"), o);
            }
            let field = match store {
                ContentStoreConfig::S3(_) => "s3.cache_dir",
                _ => "path",
            };
            if let Some(path) = store.path()
                && check_store_path(problems, &format!("{key}.{field}"), path, &dirs)
            {
                dirs.push((format!("{key}.{field}"), path));
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
        self.validate_smb(problems);
        let nfs = &self.adapters.nfs;
        if !nfs.enabled && !self.adapters.smb.enabled {
            problems.push(
                "adapters",
                "no adapter is enabled (set adapters.nfs.enabled or adapters.smb.enabled to true)",
            );
            return;
        }
        if !nfs.enabled {
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
        if nfs.locking.client_portmapper_port == 0 {
            problems.push(
                "adapters.nfs.locking.client_portmapper_port",
                "0 is not a valid port; clients' portmappers listen on 111",
            );
        }
    }
}

impl Config {
    /// `adapters.smb` and each share's `smb` section: ports, limits, dialect range, names.
    fn validate_smb(&self, problems: &mut Problems) {
        let smb = &self.adapters.smb;
        if smb.enabled {
            if smb.port == 0 {
                problems.push("adapters.smb.port", "0 is not a valid port");
            }
            if self.adapters.nfs.enabled && smb.port == self.adapters.nfs.port {
                problems.push(
                    "adapters.smb.port",
                    format!(
                        "{} is also adapters.nfs.port; they need different ports",
                        smb.port
                    ),
                );
            }
            if smb.max_connections == 0 {
                problems.push("adapters.smb.max_connections", "must be at least 1");
            }
            if smb.max_credits < 16 {
                problems.push(
                    "adapters.smb.max_credits",
                    format!("{} is too few; clients need at least 16", smb.max_credits),
                );
            }
        }
        if smb.dialects.min > smb.dialects.max {
            problems.push(
                "adapters.smb.dialects",
                "min is above max (dialects run 2.0.2, 2.1, 3.0, 3.0.2, 3.1.1)",
            );
        }
        if smb.dialects.max < super::SmbDialect::Smb3_0
            && (smb.encryption != super::SmbEncryption::Off
                || self
                    .shares
                    .iter()
                    .any(|s| s.smb.encryption == super::SmbEncryption::Required))
        {
            problems.push(
                "adapters.smb.dialects.max",
                "encryption needs SMB 3.0 or later; raise max or turn encryption off",
            );
        }
        if smb.ciphers.is_empty() {
            problems.push(
                "adapters.smb.ciphers",
                "at least one cipher is needed (aes-128-gcm, aes-128-ccm, aes-256-gcm, aes-256-ccm)",
            );
        }
        if let Some(c) = smb
            .ciphers
            .iter()
            .enumerate()
            .find_map(|(i, c)| smb.ciphers[..i].contains(c).then_some(c))
        {
            problems.push("adapters.smb.ciphers", format!("{c:?} is listed twice"));
        }
        for (key, name) in [
            ("adapters.smb.server_name", &smb.server_name),
            ("adapters.smb.domain", &smb.domain),
        ] {
            if name.is_empty()
                || name.len() > 15
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                problems.push(
                    key,
                    "must be 1 to 15 letters, digits, '-' or '_' (a NetBIOS name)",
                );
            }
        }
        if !smb.enabled {
            return;
        }
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for (i, share) in self.shares.iter().enumerate() {
            let name = share.smb_name();
            let key = if share.smb.name.is_some() {
                format!("shares[{i}].smb.name")
            } else {
                format!("shares[{i}].name")
            };
            if name.is_empty()
                || name.chars().count() > 80
                || name.eq_ignore_ascii_case("IPC$")
                || name
                    .chars()
                    .any(|c| c.is_control() || "\\/:*?\"<>|".contains(c))
            {
                problems.push(
                    key,
                    format!(
                        "SMB share name {name:?} is not valid: 1 to 80 characters, none of \\ / : * ? \" < > |, and not IPC$ (set smb.name)"
                    ),
                );
            } else if let Some(other) = seen.insert(name.to_lowercase(), &share.name)
                && *other != share.name
            {
                problems.push(
                    key,
                    format!(
                        "SMB share name {name:?} is also the SMB name of share {other:?} (SMB names ignore case); set smb.name on one of them"
                    ),
                );
            }
        }
    }

    /// Users and groups: unique names and ids, known groups, grants on existing shares, hashes
    /// of the right form. Reasons never quote a hash.
    fn validate_identity_store(&self, problems: &mut Problems) {
        let Some(name) = self.identity_store_name() else {
            return;
        };
        let key = if self.identity.metadata_store.is_empty() {
            "identity.store"
        } else {
            "identity.metadata_store"
        };
        match self.metadata.stores.get(&name) {
            Some(MetadataStoreConfig::Postgres(_)) => {}
            Some(other) => problems.push(
                key,
                format!(
                    "users and groups can live in a postgres metadata store only; {name:?} is {}",
                    other.kind()
                ),
            ),
            None if name.is_empty() => problems.push(
                key,
                "postgres needs identity.metadata_store (there is no share whose metadata store \
                 could hold users and groups)",
            ),
            None => problems.push(
                key,
                format!(
                    "no metadata store named {name:?} (defined: {})",
                    names(self.metadata.stores.keys())
                ),
            ),
        }
    }

    fn validate_identity(&self, problems: &mut Problems) {
        let shares: Vec<&String> = self.shares.iter().map(|s| &s.name).collect();
        let check_grants = |problems: &mut Problems, key: &str, grants: &BTreeMap<String, _>| {
            for share in grants.keys() {
                if !shares.contains(&share) {
                    problems.push(
                        format!("{key}.share_permissions.{share}"),
                        format!(
                            "no share named {share:?} (defined: {})",
                            names(shares.iter().copied())
                        ),
                    );
                }
            }
        };
        let mut group_names: BTreeMap<&str, usize> = BTreeMap::new();
        let mut gids: BTreeMap<u32, usize> = BTreeMap::new();
        for (i, group) in self.groups.iter().enumerate() {
            let key = format!("groups[{i}]");
            if let Err(reason) = check_account_name(&group.name) {
                problems.push(format!("{key}.name"), format!("{:?} {reason}", group.name));
            }
            if let Some(&first) = group_names.get(group.name.as_str()) {
                problems.push(
                    format!("{key}.name"),
                    format!("{:?} is already the name of groups[{first}]", group.name),
                );
            } else {
                group_names.insert(&group.name, i);
            }
            if let Some(&first) = gids.get(&group.gid) {
                problems.push(
                    format!("{key}.gid"),
                    format!("{} is already the gid of groups[{first}]", group.gid),
                );
            } else {
                gids.insert(group.gid, i);
            }
            check_grants(problems, &key, &group.share_permissions);
        }
        let mut usernames: BTreeMap<&str, usize> = BTreeMap::new();
        let mut uids: BTreeMap<u32, usize> = BTreeMap::new();
        for (i, user) in self.users.iter().enumerate() {
            let key = format!("users[{i}]");
            if let Err(reason) = check_account_name(&user.username) {
                problems.push(
                    format!("{key}.username"),
                    format!("{:?} {reason}", user.username),
                );
            }
            if let Some(&first) = usernames.get(user.username.as_str()) {
                problems.push(
                    format!("{key}.username"),
                    format!("{:?} is already the name of users[{first}]", user.username),
                );
            } else {
                usernames.insert(&user.username, i);
            }
            if let Some(&first) = uids.get(&user.uid) {
                problems.push(
                    format!("{key}.uid"),
                    format!("{} is already the uid of users[{first}]", user.uid),
                );
            } else {
                uids.insert(user.uid, i);
            }
            if let Some(hash) = &user.password_hash
                && let Err(reason) = secret::check_bcrypt_hash(hash.expose())
            {
                problems.push(
                    format!("{key}.password_hash"),
                    format!(
                        "{reason}; set it with `dittofs user passwd {}`",
                        user.username
                    ),
                );
            }
            if let Some(hash) = &user.nt_hash {
                if let Err(reason) = secret::check_nt_hash(hash.expose()) {
                    problems.push(
                        format!("{key}.nt_hash"),
                        format!(
                            "{reason}; set it with `dittofs user passwd {}`",
                            user.username
                        ),
                    );
                }
                if user.password_hash.is_none() {
                    problems.push(
                        format!("{key}.nt_hash"),
                        "is set without password_hash; set both with `dittofs user passwd`",
                    );
                }
            }
            for (j, group) in user.groups.iter().enumerate() {
                if !group_names.contains_key(group.as_str()) {
                    problems.push(
                        format!("{key}.groups[{j}]"),
                        format!(
                            "no group named {group:?} (defined: {})",
                            names(self.groups.iter().map(|g| &g.name))
                        ),
                    );
                }
            }
            check_grants(problems, &key, &user.share_permissions);
        }
    }
}

/// Checks a user or group name; the error completes the sentence `"<name>" …`. Names are
/// what a login prompt accepts and what a `share_permissions` list can show unquoted.
fn check_account_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() || name.len() > 64 {
        return Err("must be 1 to 64 characters long");
    }
    if name.starts_with('-') {
        return Err("must not start with -");
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    {
        return Err("may only contain letters, digits, '.', '_' and '-'");
    }
    Ok(())
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

/// Checks a `postgres` metadata store's options: a `postgres://` URL naming a host and a
/// database, at least one connection, timeouts longer than zero; and that this build has the
/// backend at all.
fn check_postgres(problems: &mut Problems, key: &str, options: &PostgresOptions) {
    if !cfg!(feature = "postgres") {
        problems.push(
            format!("{key}.type"),
            "postgres is not built in this version (available: memory, rocksdb); build dittofs \
             with the `postgres` feature",
        );
    }
    let url = &options.url.0;
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"));
    let shape_ok = rest.is_some_and(|rest| {
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let database = path.split('?').next().unwrap_or("");
        !host.is_empty() && !database.is_empty()
    });
    if !shape_ok {
        problems.push(
            format!("{key}.postgres.url"),
            format!(
                "{:?} is not a PostgreSQL URL of the form postgres://user@host:port/database",
                options.url.redacted()
            ),
        );
    }
    if options.max_connections == 0 {
        problems.push(
            format!("{key}.postgres.max_connections"),
            "must be at least 1",
        );
    }
    for (name, value) in [
        ("acquire_timeout", options.acquire_timeout),
        ("statement_timeout", options.statement_timeout),
        ("retry_deadline", options.retry_deadline),
    ] {
        if value.is_zero() {
            problems.push(format!("{key}.postgres.{name}"), "must be longer than 0s");
        }
    }
}

/// The `s3` options a store cannot start with, by key (credentials may come from the
/// environment, so their absence is found when the store opens).
fn validate_s3(problems: &mut Problems, key: &str, o: &super::S3Options) {
    if o.bucket.is_empty() {
        problems.push(format!("{key}.bucket"), "must not be empty");
    }
    let (min, max) = (64 * 1024, 256 * 1024 * 1024);
    let block = o.block_size.bytes();
    if !(min..=max).contains(&block) {
        problems.push(
            format!("{key}.block_size"),
            "must be between 64KiB and 256MiB",
        );
    }
    if o.cache_size.bytes() < block.saturating_mul(4) {
        problems.push(format!("{key}.cache_size"), "must hold at least 4 blocks");
    }
    if o.max_uploads == 0 {
        problems.push(format!("{key}.max_uploads"), "must be at least 1");
    }
    if o.access_key_id.is_some() != o.secret_access_key.is_some() {
        problems.push(
            format!("{key}.secret_access_key"),
            "access_key_id and secret_access_key go together (or both come from the environment)",
        );
    }
    if let Some(e) = &o.endpoint
        && !(e.starts_with("http://") || e.starts_with("https://"))
    {
        problems.push(
            format!("{key}.endpoint"),
            "must start with http:// or https://",
        );
    }
    if o.gc_interval.is_zero() {
        problems.push(format!("{key}.gc_interval"), "must be more than zero");
    }
}
