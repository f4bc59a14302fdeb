//! `dittofs user …` and `dittofs group …`: edit the identity sections of the configuration
//! file through [`FileIdentityStore`], which rewrites only those sections, validates the
//! result and replaces the file atomically with mode 0600; or, with `identity.store:
//! postgres`, the identity tables of that database (`daemon::identity_pg`), which every
//! gateway on it follows. A running server picks the change up within a second.

use std::io::{self, BufRead as _, IsTerminal as _};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use clap::{Args, Subcommand};

use crate::config::{Config, ConfigEnv, GroupConfig, UserConfig};
use crate::identity::secret::{self, PasswordError};
use crate::identity::{
    FileIdentityStore, IdentityData, IdentityError, IdentityStore as _, Permission,
};

/// Uids handed out by `user add` start above this, clear of system accounts.
const FIRST_UID: u32 = 1000;

/// `dittofs user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user, asking for the password twice (or reading it from stdin).
    #[command(
        long_about = "Add a user to the configuration file. The password is asked for twice \
            without echo, or read from the first line of stdin with --password-stdin; only its \
            bcrypt hash and its NT hash (for SMB/NTLM) are stored.\n\n\
            Without --uid the user gets the next uid above 1000 that no user has; without \
            --gid, the gid of the first of --groups, else a gid equal to the uid. NFS callers \
            are matched to users by uid, so use the uid the user has on the client machines.",
        after_long_help = "Examples:\n  \
            dittofs user add alice\n  \
            dittofs user add alice --uid 1001 --groups editors,staff\n  \
            printf '%s\\n' \"$PASS\" | dittofs user add bob --password-stdin"
    )]
    Add {
        /// The username (letters, digits, '.', '_', '-').
        username: String,
        /// The user id NFS callers are matched by [default: the next free uid above 1000].
        #[arg(long)]
        uid: Option<u32>,
        /// The primary group id [default: the first group's gid, else the uid].
        #[arg(long)]
        gid: Option<u32>,
        /// Groups to join, comma-separated; each must exist (`dittofs group add`).
        #[arg(long, value_delimiter = ',', value_name = "GROUP,...")]
        groups: Vec<String>,
        /// How the password is read.
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Remove a user.
    #[command(after_long_help = "Example:\n  dittofs user remove alice")]
    Remove {
        /// The username.
        username: String,
    },
    /// Set a user's password.
    #[command(
        long_about = "Set a user's password: asked for twice without echo, or read from the \
            first line of stdin with --password-stdin. Both stored hashes are replaced.",
        after_long_help = "Examples:\n  \
            dittofs user passwd alice\n  \
            printf '%s\\n' \"$PASS\" | dittofs user passwd alice --password-stdin"
    )]
    Passwd {
        /// The username.
        username: String,
        /// How the password is read.
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Give a user a permission on a share (it wins over the user's groups).
    #[command(
        long_about = "Give a user a permission on a share: none, read or read-write. A user's \
            own grant wins over the grants of their groups, even when it is weaker, and both win \
            over the share's default_permission.",
        after_long_help = "Examples:\n  \
            dittofs user grant alice /export read-write\n  \
            dittofs user grant bob /archive none"
    )]
    Grant {
        /// The username.
        username: String,
        /// The share name, as in `shares[].name` (e.g. /export).
        share: String,
        /// none, read or read-write.
        #[arg(value_enum)]
        permission: Permission,
    },
    /// Remove a user's own grant on a share (group grants and the default then apply).
    #[command(after_long_help = "Example:\n  dittofs user revoke alice /export")]
    Revoke {
        /// The username.
        username: String,
        /// The share name.
        share: String,
    },
    /// Add a user to a group.
    #[command(after_long_help = "Example:\n  dittofs user join alice editors")]
    Join {
        /// The username.
        username: String,
        /// The group name.
        group: String,
    },
    /// Remove a user from a group.
    #[command(after_long_help = "Example:\n  dittofs user leave alice editors")]
    Leave {
        /// The username.
        username: String,
        /// The group name.
        group: String,
    },
    /// List users, their ids, groups and grants (never their hashes).
    #[command(after_long_help = "Example:\n  dittofs user list")]
    List,
}

/// How a password is read.
#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// Read the password from the first line of stdin instead of asking on the terminal.
    #[arg(long)]
    pub password_stdin: bool,
}

/// `dittofs group …`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Add a group.
    #[command(
        long_about = "Add a group. Members get the best of their groups' grants on a share, \
            unless they have a grant of their own. Without --gid the group gets the next gid \
            above 1000 that no group has.",
        after_long_help = "Examples:\n  \
            dittofs group add editors\n  \
            dittofs group add editors --gid 101"
    )]
    Add {
        /// The group name.
        name: String,
        /// The group id [default: the next free gid above 1000].
        #[arg(long)]
        gid: Option<u32>,
    },
    /// Remove a group that has no members left.
    #[command(after_long_help = "Example:\n  dittofs group remove editors")]
    Remove {
        /// The group name.
        name: String,
    },
    /// Give a group a permission on a share.
    #[command(after_long_help = "Example:\n  dittofs group grant editors /export read-write")]
    Grant {
        /// The group name.
        name: String,
        /// The share name.
        share: String,
        /// none, read or read-write.
        #[arg(value_enum)]
        permission: Permission,
    },
    /// Remove a group's grant on a share.
    #[command(after_long_help = "Example:\n  dittofs group revoke editors /export")]
    Revoke {
        /// The group name.
        name: String,
        /// The share name.
        share: String,
    },
    /// List groups, their members and grants.
    #[command(after_long_help = "Example:\n  dittofs group list")]
    List,
}

/// Runs a `user` subcommand against the configuration file at `path`.
pub(super) fn run_user(command: &UserCommand, path: &Path, env: &ConfigEnv) -> anyhow::Result<()> {
    let store = Accounts::open(path, env)?;
    let message = match command {
        UserCommand::List => {
            print!("{}", list_users(&load(&store)?));
            return Ok(());
        }
        UserCommand::Add {
            username,
            uid,
            gid,
            groups,
            password,
        } => {
            let (hash, nt) = new_password(username, password)?;
            let data = edit(&store, |data| {
                if data.users.iter().any(|u| &u.username == username) {
                    return refuse(format!("user {username:?} already exists"));
                }
                for group in groups {
                    find_group(data, group)?;
                }
                let uid = match uid {
                    Some(uid) => *uid,
                    None => next_id(data.users.iter().map(|u| u.uid)),
                };
                let gid = match (gid, groups.first()) {
                    (Some(gid), _) => *gid,
                    (None, Some(first)) => data.groups[find_group(data, first)?].gid,
                    (None, None) => uid,
                };
                data.users.push(UserConfig {
                    username: username.clone(),
                    password_hash: Some(hash),
                    nt_hash: Some(nt),
                    uid,
                    gid,
                    groups: groups.clone(),
                    share_permissions: Default::default(),
                });
                Ok(())
            })?;
            let user = data
                .users
                .iter()
                .find(|u| &u.username == username)
                .ok_or_else(|| anyhow!("user {username:?} missing after adding it"))?;
            format!("added user {username} (uid {}, gid {})", user.uid, user.gid)
        }
        UserCommand::Remove { username } => {
            edit(&store, |data| {
                let i = find_user(data, username)?;
                data.users.remove(i);
                Ok(())
            })?;
            format!("removed user {username}")
        }
        UserCommand::Passwd { username, password } => {
            // Fail before asking for a password when the user does not exist.
            find_user(&load(&store)?, username).map_err(|e| anyhow!("{e}"))?;
            let (hash, nt) = new_password(username, password)?;
            edit(&store, |data| {
                let i = find_user(data, username)?;
                data.users[i].password_hash = Some(hash);
                data.users[i].nt_hash = Some(nt);
                Ok(())
            })?;
            format!("changed the password of {username}")
        }
        UserCommand::Grant {
            username,
            share,
            permission,
        } => {
            edit(&store, |data| {
                let i = find_user(data, username)?;
                data.users[i]
                    .share_permissions
                    .insert(share.clone(), *permission);
                Ok(())
            })?;
            format!("{username} now has {permission} on {share}")
        }
        UserCommand::Revoke { username, share } => {
            edit(&store, |data| {
                let i = find_user(data, username)?;
                if data.users[i].share_permissions.remove(share).is_none() {
                    return refuse(format!("{username} has no grant of their own on {share}"));
                }
                Ok(())
            })?;
            format!("revoked {username}'s grant on {share}")
        }
        UserCommand::Join { username, group } => {
            edit(&store, |data| {
                find_group(data, group)?;
                let i = find_user(data, username)?;
                if data.users[i].groups.contains(group) {
                    return refuse(format!("{username} is already in {group}"));
                }
                data.users[i].groups.push(group.clone());
                Ok(())
            })?;
            format!("{username} joined {group}")
        }
        UserCommand::Leave { username, group } => {
            edit(&store, |data| {
                let i = find_user(data, username)?;
                let before = data.users[i].groups.len();
                data.users[i].groups.retain(|g| g != group);
                if data.users[i].groups.len() == before {
                    return refuse(format!("{username} is not in {group}"));
                }
                Ok(())
            })?;
            format!("{username} left {group}")
        }
    };
    println!("{message} in {}", store.place());
    Ok(())
}

/// Runs a `group` subcommand against the configuration file at `path`.
pub(super) fn run_group(
    command: &GroupCommand,
    path: &Path,
    env: &ConfigEnv,
) -> anyhow::Result<()> {
    let store = Accounts::open(path, env)?;
    let message = match command {
        GroupCommand::List => {
            print!("{}", list_groups(&load(&store)?));
            return Ok(());
        }
        GroupCommand::Add { name, gid } => {
            let data = edit(&store, |data| {
                if data.groups.iter().any(|g| &g.name == name) {
                    return refuse(format!("group {name:?} already exists"));
                }
                let gid = gid.unwrap_or_else(|| next_id(data.groups.iter().map(|g| g.gid)));
                data.groups.push(GroupConfig {
                    name: name.clone(),
                    gid,
                    share_permissions: Default::default(),
                });
                Ok(())
            })?;
            let gid = data
                .groups
                .iter()
                .find(|g| &g.name == name)
                .map_or(0, |g| g.gid);
            format!("added group {name} (gid {gid})")
        }
        GroupCommand::Remove { name } => {
            edit(&store, |data| {
                let i = find_group(data, name)?;
                let members: Vec<&str> = data
                    .users
                    .iter()
                    .filter(|u| u.groups.contains(name))
                    .map(|u| u.username.as_str())
                    .collect();
                if let Some(first) = members.first() {
                    return refuse(format!(
                        "group {name} still has members: {} (remove them first, e.g. `dittofs \
                         user leave {first} {name}`)",
                        members.join(", ")
                    ));
                }
                data.groups.remove(i);
                Ok(())
            })?;
            format!("removed group {name}")
        }
        GroupCommand::Grant {
            name,
            share,
            permission,
        } => {
            edit(&store, |data| {
                let i = find_group(data, name)?;
                data.groups[i]
                    .share_permissions
                    .insert(share.clone(), *permission);
                Ok(())
            })?;
            format!("group {name} now has {permission} on {share}")
        }
        GroupCommand::Revoke { name, share } => {
            edit(&store, |data| {
                let i = find_group(data, name)?;
                if data.groups[i].share_permissions.remove(share).is_none() {
                    return refuse(format!("group {name} has no grant on {share}"));
                }
                Ok(())
            })?;
            format!("revoked group {name}'s grant on {share}")
        }
    };
    println!("{message} in {}", store.place());
    Ok(())
}

fn refuse<T>(reason: String) -> Result<T, IdentityError> {
    Err(IdentityError::Refused(reason))
}

fn find_user(data: &IdentityData, username: &str) -> Result<usize, IdentityError> {
    data.users
        .iter()
        .position(|u| u.username == username)
        .ok_or_else(|| {
            IdentityError::Refused(format!(
                "no user named {username:?} (`dittofs user list` shows them)"
            ))
        })
}

fn find_group(data: &IdentityData, name: &str) -> Result<usize, IdentityError> {
    data.groups
        .iter()
        .position(|g| g.name == name)
        .ok_or_else(|| {
            IdentityError::Refused(format!(
                "no group named {name:?} (add it with `dittofs group add {name}`)"
            ))
        })
}

/// The next id above [`FIRST_UID`] and above every id in use.
fn next_id(used: impl Iterator<Item = u32>) -> u32 {
    used.max()
        .unwrap_or(FIRST_UID)
        .max(FIRST_UID)
        .saturating_add(1)
}

/// The store the commands edit, with the runtime its futures run on (one for the whole
/// command: a database pool belongs to the runtime it was opened on).
struct Accounts {
    store: AnyStore,
    runtime: tokio::runtime::Runtime,
    /// The configuration file.
    path: PathBuf,
}

enum AnyStore {
    File(Box<FileIdentityStore>),
    #[cfg(feature = "postgres")]
    Postgres(Box<crate::daemon::identity_pg::PgIdentityStore>),
}

impl Accounts {
    /// The store the configuration at `path` names: its file, or with `identity.store:
    /// postgres` that database. A file that does not load is left to the file store, whose
    /// errors say what is wrong with it.
    fn open(path: &Path, env: &ConfigEnv) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting a runtime")?;
        let mut store = AnyStore::File(Box::new(FileIdentityStore::new(path, env.clone())));
        if let Ok(config) = Config::load_with(path, env)
            && let Some(name) = config.identity_store_name()
        {
            #[cfg(feature = "postgres")]
            {
                store = AnyStore::Postgres(Box::new(runtime.block_on(
                    crate::daemon::identity_pg::PgIdentityStore::connect(&config, &name),
                )?));
            }
            #[cfg(not(feature = "postgres"))]
            bail!(
                "identity.store is postgres (metadata store {name}), but this dittofs was built \
                 without PostgreSQL support"
            );
        }
        Ok(Self {
            store,
            runtime,
            path: path.to_owned(),
        })
    }

    /// Where the users live: the file's path, or the database's store name.
    fn place(&self) -> String {
        match &self.store {
            AnyStore::File(store) => store.path().display().to_string(),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(store) => store.place(),
        }
    }

    fn load(&self) -> anyhow::Result<IdentityData> {
        let loaded = match &self.store {
            AnyStore::File(store) => self.runtime.block_on(store.load()),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(store) => self.runtime.block_on(store.load()),
        };
        loaded.map_err(|e| explain(e, &self.path))
    }
}

fn load(store: &Accounts) -> anyhow::Result<IdentityData> {
    store.load()
}

/// Applies an edit, and notes when the file was readable by others before (it is 0600 now).
fn edit<F>(accounts: &Accounts, change: F) -> anyhow::Result<IdentityData>
where
    F: FnOnce(&mut IdentityData) -> Result<(), IdentityError> + Send,
{
    let store = match &accounts.store {
        AnyStore::File(store) => store,
        #[cfg(feature = "postgres")]
        AnyStore::Postgres(store) => {
            return accounts
                .runtime
                .block_on(store.update(change))
                .map_err(|e| explain(e, &accounts.path));
        }
    };
    let was_open = is_readable_by_others(store.path());
    let data = accounts
        .runtime
        .block_on(store.update(change))
        .map_err(|e| explain(e, store.path()))?;
    if was_open {
        eprintln!(
            "note: {} was readable by others; it holds password hashes and is now mode 0600",
            store.path().display()
        );
    }
    Ok(data)
}

fn is_readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// An identity error as the CLI prints it.
fn explain(err: IdentityError, path: &Path) -> anyhow::Error {
    match err {
        IdentityError::Io { source, .. } if source.kind() == io::ErrorKind::NotFound => anyhow!(
            "no config file at {} (`dittofs init` writes one)",
            path.display()
        ),
        IdentityError::Config(err) => {
            anyhow!("{}\nnothing was changed", super::describe(&err, path))
        }
        other => anyhow!("{other}"),
    }
}

/// Reads a new password (stdin or two prompts) and hashes it at [`secret::bcrypt_cost`].
fn new_password(
    username: &str,
    args: &PasswordArgs,
) -> anyhow::Result<(crate::identity::Secret, crate::identity::Secret)> {
    let password = if args.password_stdin {
        let mut line = String::new();
        io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        let trimmed = line.strip_suffix('\n').unwrap_or(&line);
        trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned()
    } else {
        if !io::stdin().is_terminal() {
            bail!("stdin is not a terminal: pass --password-stdin to read the password from it");
        }
        let first = rpassword::prompt_password(format!("Password for {username}: "))
            .context("reading the password from the terminal")?;
        let second = rpassword::prompt_password("Again: ")
            .context("reading the password from the terminal")?;
        if first != second {
            bail!("the passwords differ; nothing was changed");
        }
        first
    };
    secret::hash_password(&password, secret::bcrypt_cost()).map_err(|e| match e {
        PasswordError::Empty => anyhow!("the password is empty; nothing was changed"),
        other => anyhow!("{other}"),
    })
}

/// The `user list` table.
fn list_users(data: &IdentityData) -> String {
    let mut rows = vec![[
        "USERNAME".to_owned(),
        "UID".to_owned(),
        "GID".to_owned(),
        "GROUPS".to_owned(),
        "PASSWORD".to_owned(),
        "SHARES".to_owned(),
    ]];
    for user in &data.users {
        rows.push([
            user.username.clone(),
            user.uid.to_string(),
            user.gid.to_string(),
            or_dash(user.groups.join(",")),
            if user.password_hash.is_some() {
                "set"
            } else {
                "-"
            }
            .to_owned(),
            or_dash(grants(&user.share_permissions)),
        ]);
    }
    table(&rows)
}

/// The `group list` table.
fn list_groups(data: &IdentityData) -> String {
    let mut rows = vec![[
        "NAME".to_owned(),
        "GID".to_owned(),
        "MEMBERS".to_owned(),
        "SHARES".to_owned(),
    ]];
    for group in &data.groups {
        let members: Vec<&str> = data
            .users
            .iter()
            .filter(|u| u.groups.contains(&group.name))
            .map(|u| u.username.as_str())
            .collect();
        rows.push([
            group.name.clone(),
            group.gid.to_string(),
            or_dash(members.join(",")),
            or_dash(grants(&group.share_permissions)),
        ]);
    }
    table(&rows)
}

fn grants(map: &std::collections::BTreeMap<String, Permission>) -> String {
    map.iter()
        .map(|(share, p)| format!("{share}={p}"))
        .collect::<Vec<_>>()
        .join(",")
}

fn or_dash(text: String) -> String {
    if text.is_empty() {
        "-".to_owned()
    } else {
        text
    }
}

/// Left-aligned columns two spaces apart.
fn table<const N: usize>(rows: &[[String; N]]) -> String {
    let mut widths = [0usize; N];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: new ids go above 1000 and above every id in use.
    #[test]
    fn next_id_skips_used_ids() {
        assert_eq!(next_id([].into_iter()), 1001);
        assert_eq!(next_id([5, 7].into_iter()), 1001);
        assert_eq!(next_id([1001, 1500].into_iter()), 1501);
    }
}
