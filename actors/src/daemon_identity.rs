//! Users and groups in PostgreSQL (`identity.store: postgres`): [`PgIdentityStore`], the
//! [`IdentityStore`] over [`stores::postgres::PgIdentity`], which the server watches and the
//! `dittofs user` / `group` commands edit.
//!
//! - The rows live in the database of a postgres metadata store (`identity.metadata_store`,
//!   else the first share's, the one holding the file-handle key); every gateway on it sees
//!   the same users.
//! - The first write to a database whose identity tables were never written, normally the
//!   first `dittofs start`, imports the configuration file's `users:` and `groups:` first, in
//!   the same transaction; from then on the database is the only source and the file's
//!   sections are ignored. `guest:` stays in the file (per gateway, read at start).
//! - Gateways learn of a change by `LISTEN`/`NOTIFY` (milliseconds) and, in case a
//!   notification was lost (a reconnect), by polling the change log's newest id every
//!   [`crate::identity::RELOAD_PERIOD`].
//! - Grants on shares this gateway does not export are kept and ignored (gateways on one
//!   database may export different shares); an edit that adds one is refused, as with the file.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use stores::postgres::{GroupRow, IdentityRows, PgIdentity, UserRow};

use crate::config::{Config, GroupConfig, GuestConfig, MetadataStoreConfig, UserConfig};
use crate::identity::{IdentityData, IdentityError, IdentityStore, Permission, Secret};

/// Users and groups in a PostgreSQL database. See the [module docs](self).
#[derive(Debug)]
pub struct PgIdentityStore {
    db: PgIdentity,
    /// The metadata store whose database this is.
    name: String,
    /// The configuration: its shares check grants, its `users:` and `groups:` are imported
    /// once, its `guest:` is the guest.
    config: Config,
}

impl PgIdentityStore {
    /// Connects to the database of metadata store `name` of `config` (which must be a
    /// postgres store), migrating its schema if needed.
    pub async fn connect(config: &Config, name: &str) -> anyhow::Result<Self> {
        let Some(MetadataStoreConfig::Postgres(options)) = config.metadata.stores.get(name) else {
            anyhow::bail!("identity: metadata store {name:?} is not a postgres store");
        };
        let db = PgIdentity::connect(&super::pg_config(options))
            .await
            .with_context(|| {
                format!(
                    "identity: connecting to PostgreSQL at {} (metadata store {name})",
                    options.url.redacted()
                )
            })?;
        Ok(Self {
            db,
            name: name.to_owned(),
            config: config.clone(),
        })
    }

    /// Where the users live, as the CLI says it: "PostgreSQL metadata store NAME".
    pub fn place(&self) -> String {
        format!("PostgreSQL metadata store {}", self.name)
    }

    /// Starts listening for other gateways' changes (the server calls this; the CLI does not).
    pub fn follow(&self) {
        self.db.follow();
    }

    /// Imports the configuration file's users and groups if the database never had any
    /// written. Returns the summary of the import when it happened now, `None` when the
    /// database was already in use.
    pub async fn import_once(&self) -> Result<Option<String>, IdentityError> {
        let mut imported = None;
        self.write(|_| Ok(()), Some(&mut imported)).await?;
        Ok(imported)
    }

    async fn write<F>(
        &self,
        edit: F,
        imported: Option<&mut Option<String>>,
    ) -> Result<IdentityData, IdentityError>
    where
        F: FnOnce(&mut IdentityData) -> Result<(), IdentityError> + Send,
    {
        let guest = self.config.guest;
        let seed = crate::identity::identity_of(&self.config);
        let mut import_summary = None;
        let snapshot = self
            .db
            .update(|rows, initialised| {
                if !initialised {
                    *rows = rows_of(&seed);
                    import_summary = Some(format!(
                        "import of {} users and {} groups from the configuration file",
                        seed.users.len(),
                        seed.groups.len()
                    ));
                }
                let before = data_of(rows, guest)?;
                let mut after = before.clone();
                edit(&mut after)?;
                self.check(&before, &after)?;
                let change = describe(&before, &after);
                *rows = rows_of(&after);
                Ok::<_, IdentityError>(match (import_summary.clone(), change) {
                    (None, None) => None,
                    (Some(a), None) | (None, Some(a)) => Some(a),
                    (Some(a), Some(b)) => Some(format!("{a}; {b}")),
                })
            })
            .await
            .map_err(IdentityError::Database)??;
        if let Some(slot) = imported {
            *slot = import_summary;
        }
        data_of(&snapshot.rows, guest)
    }

    /// Refuses an edit whose result is invalid. Grants on shares this configuration lacks
    /// that were there before the edit are not held against it (another gateway may export
    /// those shares); new ones are.
    fn check(&self, before: &IdentityData, after: &IdentityData) -> Result<(), IdentityError> {
        let old: BTreeSet<(bool, &str, &str, Permission)> = grants(before).collect();
        let known: BTreeSet<&str> = self.config.shares.iter().map(|s| s.name.as_str()).collect();
        let keep = |is_user: bool, who: &str, share: &str, p: Permission| {
            known.contains(share) || !old.contains(&(is_user, who, share, p))
        };
        let mut candidate = self.config.clone();
        candidate.users = after.users.clone();
        candidate.groups = after.groups.clone();
        for user in &mut candidate.users {
            let who = user.username.clone();
            user.share_permissions
                .retain(|share, p| keep(true, who.as_str(), share.as_str(), *p));
        }
        for group in &mut candidate.groups {
            let who = group.name.clone();
            group
                .share_permissions
                .retain(|share, p| keep(false, who.as_str(), share.as_str(), *p));
        }
        candidate.validate()?;
        Ok(())
    }
}

impl IdentityStore for PgIdentityStore {
    async fn version(&self) -> Result<Vec<u8>, IdentityError> {
        let revision = self.db.revision().await.map_err(IdentityError::Database)?;
        Ok(revision.to_be_bytes().to_vec())
    }

    fn changed(&self) -> impl Future<Output = ()> + Send {
        self.db.changed()
    }

    async fn load(&self) -> Result<IdentityData, IdentityError> {
        let snapshot = self.db.load().await.map_err(IdentityError::Database)?;
        let data = data_of(&snapshot.rows, self.config.guest)?;
        // Valid but for grants on shares that only other gateways export.
        self.check(&data, &data)?;
        Ok(data)
    }

    async fn update<F>(&self, edit: F) -> Result<IdentityData, IdentityError>
    where
        F: FnOnce(&mut IdentityData) -> Result<(), IdentityError> + Send,
    {
        self.write(edit, None).await
    }
}

/// Every grant as (is a user's, whose, share, permission).
fn grants(data: &IdentityData) -> impl Iterator<Item = (bool, &str, &str, Permission)> {
    let users = data.users.iter().flat_map(|u| {
        u.share_permissions
            .iter()
            .map(|(s, &p)| (true, u.username.as_str(), s.as_str(), p))
    });
    let groups = data.groups.iter().flat_map(|g| {
        g.share_permissions
            .iter()
            .map(|(s, &p)| (false, g.name.as_str(), s.as_str(), p))
    });
    users.chain(groups)
}

/// What an edit changed, by name, e.g. "user add alice; group change editors"; `None` when
/// nothing did. Never a hash: a password change reads "user change alice".
fn describe(before: &IdentityData, after: &IdentityData) -> Option<String> {
    let mut parts = Vec::new();
    let users = |d: &IdentityData| -> BTreeMap<String, UserConfig> {
        d.users
            .iter()
            .map(|u| (u.username.clone(), u.clone()))
            .collect()
    };
    let groups = |d: &IdentityData| -> BTreeMap<String, GroupConfig> {
        d.groups
            .iter()
            .map(|g| (g.name.clone(), g.clone()))
            .collect()
    };
    diff("user", &users(before), &users(after), &mut parts);
    diff("group", &groups(before), &groups(after), &mut parts);
    if parts.is_empty() && before != after {
        // Only the order changed.
        parts.push("reorder".to_owned());
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

fn diff<T: PartialEq>(
    kind: &str,
    before: &BTreeMap<String, T>,
    after: &BTreeMap<String, T>,
    parts: &mut Vec<String>,
) {
    for (name, value) in after {
        match before.get(name) {
            None => parts.push(format!("{kind} add {name}")),
            Some(old) if old != value => parts.push(format!("{kind} change {name}")),
            Some(_) => {}
        }
    }
    for name in before.keys().filter(|n| !after.contains_key(*n)) {
        parts.push(format!("{kind} remove {name}"));
    }
}

fn permission_of(text: &str) -> Result<Permission, IdentityError> {
    match text {
        "none" => Ok(Permission::None),
        "read" => Ok(Permission::Read),
        "read-write" => Ok(Permission::ReadWrite),
        other => Err(IdentityError::Refused(format!(
            "the identity database holds an unknown permission {other:?}"
        ))),
    }
}

/// Rows as the configuration's types.
fn data_of(rows: &IdentityRows, guest: GuestConfig) -> Result<IdentityData, IdentityError> {
    let grants =
        |map: &BTreeMap<String, String>| -> Result<BTreeMap<String, Permission>, IdentityError> {
            map.iter()
                .map(|(share, p)| Ok((share.clone(), permission_of(p)?)))
                .collect()
        };
    let users = rows
        .users
        .iter()
        .map(|u| {
            Ok(UserConfig {
                username: u.username.clone(),
                password_hash: u.password_hash.clone().map(Secret::new),
                nt_hash: u.nt_hash.clone().map(Secret::new),
                uid: u.uid,
                gid: u.gid,
                groups: u.groups.clone(),
                share_permissions: grants(&u.grants)?,
            })
        })
        .collect::<Result<_, IdentityError>>()?;
    let groups = rows
        .groups
        .iter()
        .map(|g| {
            Ok(GroupConfig {
                name: g.name.clone(),
                gid: g.gid,
                share_permissions: grants(&g.grants)?,
            })
        })
        .collect::<Result<_, IdentityError>>()?;
    Ok(IdentityData {
        users,
        groups,
        guest,
    })
}

/// The configuration's types as rows.
fn rows_of(data: &IdentityData) -> IdentityRows {
    let grants = |map: &BTreeMap<String, Permission>| -> BTreeMap<String, String> {
        map.iter()
            .map(|(share, p)| (share.clone(), p.to_string()))
            .collect()
    };
    IdentityRows {
        users: data
            .users
            .iter()
            .map(|u| UserRow {
                username: u.username.clone(),
                uid: u.uid,
                gid: u.gid,
                password_hash: u.password_hash.as_ref().map(|s| s.expose().to_owned()),
                nt_hash: u.nt_hash.as_ref().map(|s| s.expose().to_owned()),
                groups: u.groups.clone(),
                grants: grants(&u.share_permissions),
            })
            .collect(),
        groups: data
            .groups
            .iter()
            .map(|g| GroupRow {
                name: g.name.clone(),
                gid: g.gid,
                grants: grants(&g.share_permissions),
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data() -> IdentityData {
        IdentityData {
            users: vec![UserConfig {
                username: "alice".to_owned(),
                password_hash: Some(Secret::new(
                    "$2b$04$abcdefghijklmnopqrstuu5dJx0oJ0Vw5r6m7Q0ZfQJ3wYl8bS0y",
                )),
                nt_hash: Some(Secret::new("00112233445566778899aabbccddeeff")),
                uid: 1001,
                gid: 101,
                groups: vec!["editors".to_owned()],
                share_permissions: [("/export".to_owned(), Permission::Read)].into(),
            }],
            groups: vec![GroupConfig {
                name: "editors".to_owned(),
                gid: 101,
                share_permissions: [("/other".to_owned(), Permission::ReadWrite)].into(),
            }],
            guest: GuestConfig::default(),
        }
    }

    /// Goal: rows and configuration types convert both ways without loss, and a change
    /// summary names what changed but never a hash.
    #[test]
    fn rows_round_trip_and_summaries_hide_hashes() {
        let d = data();
        assert_eq!(data_of(&rows_of(&d), d.guest).expect("converts"), d);
        let mut changed = d.clone();
        changed.users[0].nt_hash = Some(Secret::new("ffeeddccbbaa99887766554433221100"));
        changed.groups.push(GroupConfig {
            name: "staff".to_owned(),
            gid: 102,
            share_permissions: BTreeMap::new(),
        });
        let summary = describe(&d, &changed).expect("a change");
        assert_eq!(summary, "user change alice; group add staff");
        assert_eq!(describe(&d, &d), None);
        let mut bad = rows_of(&d);
        bad.users[0]
            .grants
            .insert("/x".to_owned(), "write".to_owned());
        assert!(data_of(&bad, d.guest).is_err());
    }
}
