//! [`PgIdentity`]: users, groups, memberships and share grants in the metadata store's
//! database (schema version 3, `identity_*` tables), shared by every gateway on it.
//!
//! The store knows rows, not rules: names, ids, the two password hashes as opaque text and
//! permissions as their configuration spelling (`none`, `read`, `read-write`). Validation and
//! resolution stay with the server's identity module.
//!
//! # Writes and change propagation
//!
//! A write ([`PgIdentity::update`]) is one transaction that takes the advisory lock
//! [`IDENTITY_LOCK`], reads every row, lets the caller edit them, replaces the rows, appends
//! one row to `identity_changes` (a `bigserial`, so ids grow in commit order: the lock
//! serialises writers) and sends `NOTIFY` on [`IDENTITY_CHANNEL`] with the new id, which
//! PostgreSQL delivers at commit. A reader's *revision* is the newest change id.
//!
//! Readers follow in two ways: [`PgIdentity::follow`] keeps a `LISTEN` connection and wakes
//! [`PgIdentity::changed`] on each notification and after every (re)connection, and the
//! server also polls [`PgIdentity::revision`]. NOTIFY is lost while a listener is
//! disconnected; the revision is not, so a reader that compares revisions never misses a
//! change, only sees it up to one poll period late.
//!
//! The hashes never appear in `Debug` output or in logs.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};

use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{PgConfig, open_pool, store_error};
use crate::api::StoreResult;

/// The advisory lock every identity write holds for its transaction: "DittoIde".
pub const IDENTITY_LOCK: i64 = 0x4469_7474_6f49_6465;

/// The `LISTEN`/`NOTIFY` channel identity writes notify; the payload is the change id.
pub const IDENTITY_CHANNEL: &str = "dittofs_identity";

/// Change rows kept; older ones are pruned by the write that passes the mark. Readers only
/// compare the newest id, so the log is for people (`SELECT * FROM identity_changes`).
const CHANGES_KEPT: i64 = 1000;

/// Connections the identity pool opens: one for `LISTEN`, the rest for loads and writes.
const POOL_SIZE: u32 = 3;

/// One user as stored.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct UserRow {
    /// The login name.
    pub username: String,
    /// The uid NFS callers are matched by.
    pub uid: u32,
    /// The primary gid.
    pub gid: u32,
    /// The bcrypt hash, as the configuration file stores it.
    pub password_hash: Option<String>,
    /// The NT hash as 32 hex digits, as the configuration file stores it.
    pub nt_hash: Option<String>,
    /// Names of the groups the user is a member of, in the order joined.
    pub groups: Vec<String>,
    /// The user's own grants: share name to `none`, `read` or `read-write`.
    pub grants: BTreeMap<String, String>,
}

impl fmt::Debug for UserRow {
    /// Never prints the hashes: the NT hash is as good as the password to NTLM.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |h: &Option<String>| h.as_ref().map(|_| "<redacted>");
        f.debug_struct("UserRow")
            .field("username", &self.username)
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("password_hash", &hidden(&self.password_hash))
            .field("nt_hash", &hidden(&self.nt_hash))
            .field("groups", &self.groups)
            .field("grants", &self.grants)
            .finish()
    }
}

/// One group as stored.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupRow {
    /// The group name.
    pub name: String,
    /// The gid.
    pub gid: u32,
    /// The group's grants: share name to `none`, `read` or `read-write`.
    pub grants: BTreeMap<String, String>,
}

/// Every user and group, each list in the order added.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IdentityRows {
    /// Users.
    pub users: Vec<UserRow>,
    /// Groups.
    pub groups: Vec<GroupRow>,
}

/// The rows as of one revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentitySnapshot {
    /// The newest change id the rows include (0: none yet).
    pub revision: i64,
    /// Whether the tables were ever written (the import from the configuration file
    /// happened); `false` on a fresh database.
    pub initialised: bool,
    /// The rows.
    pub rows: IdentityRows,
}

/// Users and groups in PostgreSQL. See the [module docs](self).
pub struct PgIdentity {
    pool: PgPool,
    changed: Arc<Notify>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for PgIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgIdentity").finish_non_exhaustive()
    }
}

impl Drop for PgIdentity {
    fn drop(&mut self) {
        if let Some(task) = self
            .listener
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

impl PgIdentity {
    /// Connects with a small pool of its own (the settings of `config` but for the pool
    /// size) and brings the schema up to date, as [`super::PgMetadata::connect`] does.
    pub async fn connect(config: &PgConfig) -> StoreResult<Self> {
        let pool = open_pool(config, POOL_SIZE).await?;
        Ok(Self {
            pool,
            changed: Arc::new(Notify::new()),
            listener: Mutex::new(None),
        })
    }

    /// Starts (once) the task that `LISTEN`s on [`IDENTITY_CHANNEL`] and wakes
    /// [`PgIdentity::changed`] on every notification and after every (re)connection, when
    /// notifications may have been missed. A lost connection is reopened with backoff (100 ms
    /// doubling to 5 s). The task ends when this store is dropped.
    pub fn follow(&self) {
        let mut slot = self.listener.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            let changed = Arc::clone(&self.changed);
            *slot = Some(tokio::spawn(super::listen::follow(
                self.pool.clone(),
                IDENTITY_CHANNEL,
                "identity change listener",
                move |_| changed.notify_one(),
            )));
        }
    }

    /// Resolves when a notification arrived (or the listener reconnected) since the last
    /// call; a wake-up that came while nobody waited is kept for the next call.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }

    /// The newest change id (0 before the first change). One cheap query.
    pub async fn revision(&self) -> StoreResult<i64> {
        sqlx::query_scalar("SELECT COALESCE(max(id), 0) FROM identity_changes")
            .fetch_one(&self.pool)
            .await
            .map_err(store_error)
    }

    /// Every row, read in one snapshot (a REPEATABLE READ, READ ONLY transaction).
    pub async fn load(&self) -> StoreResult<IdentitySnapshot> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let snapshot = read_all(&mut tx).await.map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        Ok(snapshot)
    }

    /// Edits the rows all-or-nothing. `edit` gets the current rows and whether the tables were
    /// ever written, and returns the change's summary (logged and kept in
    /// `identity_changes`; it must not hold a secret), or `None` to change nothing. Its error
    /// is returned as the inner `Err`, and nothing changes. Writers take [`IDENTITY_LOCK`], so
    /// two edits never interleave; the edit runs while it is held.
    pub async fn update<E>(
        &self,
        edit: impl FnOnce(&mut IdentityRows, bool) -> Result<Option<String>, E>,
    ) -> StoreResult<Result<IdentitySnapshot, E>> {
        let mut tx = self.pool.begin().await.map_err(store_error)?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(IDENTITY_LOCK)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let mut snapshot = read_all(&mut tx).await.map_err(store_error)?;
        let summary = match edit(&mut snapshot.rows, snapshot.initialised) {
            Err(e) => return Ok(Err(e)),
            Ok(None) => return Ok(Ok(snapshot)),
            Ok(Some(summary)) => summary,
        };
        write_all(&mut tx, &snapshot.rows)
            .await
            .map_err(store_error)?;
        sqlx::query("INSERT INTO identity_meta (origin) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(&summary)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        let id: i64 =
            sqlx::query_scalar("INSERT INTO identity_changes (summary) VALUES ($1) RETURNING id")
                .bind(&summary)
                .fetch_one(&mut *tx)
                .await
                .map_err(store_error)?;
        sqlx::query("DELETE FROM identity_changes WHERE id <= $1")
            .bind(id - CHANGES_KEPT)
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(IDENTITY_CHANNEL)
            .bind(id.to_string())
            .execute(&mut *tx)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        tracing::info!(change = id, %summary, "identity changed in PostgreSQL");
        snapshot.revision = id;
        snapshot.initialised = true;
        Ok(Ok(snapshot))
    }
}

fn u32_of(v: i64) -> Result<u32, sqlx::Error> {
    u32::try_from(v).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// Every row, through `c` (inside the caller's transaction).
async fn read_all(c: &mut PgConnection) -> Result<IdentitySnapshot, sqlx::Error> {
    let revision: i64 = sqlx::query_scalar("SELECT COALESCE(max(id), 0) FROM identity_changes")
        .fetch_one(&mut *c)
        .await?;
    let initialised: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM identity_meta)")
        .fetch_one(&mut *c)
        .await?;
    let mut rows = IdentityRows::default();
    for row in sqlx::query("SELECT name, gid FROM identity_groups ORDER BY pos, name")
        .fetch_all(&mut *c)
        .await?
    {
        rows.groups.push(GroupRow {
            name: row.try_get(0)?,
            gid: u32_of(row.try_get(1)?)?,
            grants: BTreeMap::new(),
        });
    }
    for row in sqlx::query(
        "SELECT username, uid, gid, password_hash, nt_hash FROM identity_users ORDER BY pos, username",
    )
    .fetch_all(&mut *c)
    .await?
    {
        rows.users.push(UserRow {
            username: row.try_get(0)?,
            uid: u32_of(row.try_get(1)?)?,
            gid: u32_of(row.try_get(2)?)?,
            password_hash: row.try_get(3)?,
            nt_hash: row.try_get(4)?,
            groups: Vec::new(),
            grants: BTreeMap::new(),
        });
    }
    let users: BTreeMap<String, usize> = rows
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (u.username.clone(), i))
        .collect();
    let groups: BTreeMap<String, usize> = rows
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (g.name.clone(), i))
        .collect();
    for row in sqlx::query("SELECT username, group_name FROM identity_members ORDER BY pos")
        .fetch_all(&mut *c)
        .await?
    {
        let (user, group): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if let Some(&i) = users.get(&user) {
            rows.users[i].groups.push(group);
        }
    }
    for row in sqlx::query("SELECT username, share, permission FROM identity_user_grants")
        .fetch_all(&mut *c)
        .await?
    {
        let user: String = row.try_get(0)?;
        if let Some(&i) = users.get(&user) {
            rows.users[i]
                .grants
                .insert(row.try_get(1)?, row.try_get(2)?);
        }
    }
    for row in sqlx::query("SELECT group_name, share, permission FROM identity_group_grants")
        .fetch_all(&mut *c)
        .await?
    {
        let group: String = row.try_get(0)?;
        if let Some(&i) = groups.get(&group) {
            rows.groups[i]
                .grants
                .insert(row.try_get(1)?, row.try_get(2)?);
        }
    }
    Ok(IdentitySnapshot {
        revision,
        initialised,
        rows,
    })
}

/// Replaces every row with `rows`, through `c` (inside the caller's transaction). Small
/// tables (people, not files), so a full rewrite keeps one code path for every edit.
async fn write_all(c: &mut PgConnection, rows: &IdentityRows) -> Result<(), sqlx::Error> {
    // Users first: their memberships cascade, and then no member blocks a group's removal.
    sqlx::query("DELETE FROM identity_users")
        .execute(&mut *c)
        .await?;
    sqlx::query("DELETE FROM identity_groups")
        .execute(&mut *c)
        .await?;
    let pos = |i: usize| i32::try_from(i).unwrap_or(i32::MAX);
    sqlx::query(
        "INSERT INTO identity_groups (name, gid, pos) \
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::integer[])",
    )
    .bind(
        rows.groups
            .iter()
            .map(|g| g.name.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.groups
            .iter()
            .map(|g| i64::from(g.gid))
            .collect::<Vec<_>>(),
    )
    .bind((0..rows.groups.len()).map(pos).collect::<Vec<_>>())
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "INSERT INTO identity_users (username, uid, gid, password_hash, nt_hash, pos) \
         SELECT * FROM UNNEST($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], \
         $6::integer[])",
    )
    .bind(
        rows.users
            .iter()
            .map(|u| u.username.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.users
            .iter()
            .map(|u| i64::from(u.uid))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.users
            .iter()
            .map(|u| i64::from(u.gid))
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.users
            .iter()
            .map(|u| u.password_hash.clone())
            .collect::<Vec<_>>(),
    )
    .bind(
        rows.users
            .iter()
            .map(|u| u.nt_hash.clone())
            .collect::<Vec<_>>(),
    )
    .bind((0..rows.users.len()).map(pos).collect::<Vec<_>>())
    .execute(&mut *c)
    .await?;
    let (mut m_user, mut m_group, mut m_pos) = (Vec::new(), Vec::new(), Vec::new());
    let (mut g_user, mut g_share, mut g_perm) = (Vec::new(), Vec::new(), Vec::new());
    for user in &rows.users {
        for (i, group) in user.groups.iter().enumerate() {
            m_user.push(user.username.clone());
            m_group.push(group.clone());
            m_pos.push(pos(i));
        }
        for (share, permission) in &user.grants {
            g_user.push(user.username.clone());
            g_share.push(share.clone());
            g_perm.push(permission.clone());
        }
    }
    sqlx::query(
        "INSERT INTO identity_members (username, group_name, pos) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::integer[])",
    )
    .bind(m_user)
    .bind(m_group)
    .bind(m_pos)
    .execute(&mut *c)
    .await?;
    sqlx::query(
        "INSERT INTO identity_user_grants (username, share, permission) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])",
    )
    .bind(g_user)
    .bind(g_share)
    .bind(g_perm)
    .execute(&mut *c)
    .await?;
    let (mut name, mut share, mut perm) = (Vec::new(), Vec::new(), Vec::new());
    for group in &rows.groups {
        for (s, p) in &group.grants {
            name.push(group.name.clone());
            share.push(s.clone());
            perm.push(p.clone());
        }
    }
    sqlx::query(
        "INSERT INTO identity_group_grants (group_name, share, permission) \
         SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])",
    )
    .bind(name)
    .bind(share)
    .bind(perm)
    .execute(&mut *c)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: a user row's Debug never shows either hash. Method: format one.
    #[test]
    fn user_row_debug_hides_hashes() {
        let row = UserRow {
            username: "alice".to_owned(),
            password_hash: Some("$2b$04$secretsecret".to_owned()),
            nt_hash: Some("0123456789abcdef0123456789abcdef".to_owned()),
            ..UserRow::default()
        };
        let text = format!("{row:?}");
        assert!(
            text.contains("alice") && text.contains("<redacted>"),
            "{text}"
        );
        assert!(
            !text.contains("secretsecret") && !text.contains("0123456789abcdef"),
            "{text}"
        );
    }
}
