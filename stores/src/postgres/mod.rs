//! [`PgMetadata`]: the shared, persistent metadata store on PostgreSQL, which several gateways
//! (several `dittofs start` processes) may use at once.
//!
//! # Schema
//!
//! Versioned, embedded migrations in `stores/migrations/postgres/` ([`MIGRATOR`], applied by
//! [`PgMetadata::connect`]; sqlx takes a session advisory lock around them, so gateways starting
//! together apply each migration once and wait for each other):
//!
//! | table | key | holds |
//! | --- | --- | --- |
//! | `store_meta` | one row | the random [`StoreId`] (`INSERT … ON CONFLICT DO NOTHING`, then `SELECT`) |
//! | `nodes` | `ino` | one row per inode: generation, kind, mode, nlink, uid, gid, size, rdev, four times, change counter, parent and next cookie (directories), symlink target, content version |
//! | `entries` | `(dir, name)` | directory entries; unique `(dir, cookie)`; index `(dir, folded, name)` for `lookup_folded` |
//! | `xattrs` | `(ino, name)` | extended attributes (schema version 2) |
//! | `shares` | `name` | each share's root inode |
//! | `secrets` | `name` | server secrets, written once |
//! | `identity_*` | | users, groups, memberships, grants and the change log (schema version 3; [`PgIdentity`]) |
//! | `gateway_sessions` | `id` | one row per running gateway that took a byte-range lock: its expiry, moved forward by a heartbeat (schema version 4; `postgres/locks.rs`) |
//! | `locks` | | byte-range locks each gateway session publishes for the others: inode, owner bytes, offset, length, exclusive |
//! | `durable_opens` | `(share, id)` | SMB durable opens kept across a restart: the front end's opaque record (schema version 5) |
//!
//! Namespace changes are also announced with `NOTIFY` for the other gateways' directory
//! watchers, in the transaction that makes them (module `changes`, [`DIR_CHANGES_CHANNEL`];
//! no table).
//!
//! Sequences: `inode_batches` (each value reserves 1024 inode ids, cached in the process, so
//! creates do not meet on one hot row), `generations` (one value per [`PgMetadata::connect`]).
//!
//! # Concurrency
//!
//! Transactions run at READ COMMITTED with explicit row locks, under one rule: **a `nodes` row
//! and the `entries` of a directory change only in a transaction holding that row's lock**
//! (`SELECT … FOR UPDATE`). A mutation locks the directories it changes (several at once in
//! inode order, so two renames cannot lock in opposite orders), then reads the entries, which
//! nobody else can change until it commits, then locks the inodes those entries name. Each
//! statement at READ COMMITTED reads the newest committed state, so what a mutation reads after
//! taking its locks is what it changes. Name races are settled by the primary key of
//! `entries`: a create that loses sees the winner's entry (or, failing that, the unique
//! violation 23505) and returns [`StoreError::Exists`], never a half-made inode, because node
//! and entry are inserted in one transaction.
//!
//! Row locks cannot stop two *crossing* directory renames (`mv /x/a /y/b/c/a` and
//! `mv /y/b /x/a/d/b` from two gateways): each locks its own rows, both pass their ancestor
//! check, and together they detach a loop. So every rename that moves a directory to another
//! parent first takes one transaction-scoped advisory lock per store (`pg_advisory_xact_lock`,
//! [`RENAME_LOCK`]), then walks the new parent's ancestors inside the transaction. Parent links
//! change only under that lock, so the walk sees every committed move and the second of two
//! crossing renames fails with `Invalid` instead of making a cycle. Renames of files, and
//! renames within one directory, do not take it.
//!
//! Contention errors (serialization failure 40001, deadlock 40P01, lock or statement timeout,
//! too many connections, a pool without a free connection) roll the transaction back and
//! retry it with jittered exponential backoff until [`PgConfig::retry_deadline`] passes; then
//! the call fails with [`StoreError::Busy`], which the front ends turn into NFS3ERR_JUKEBOX or
//! an SMB retry. Contention is never reported as an I/O error.
//!
//! # Other choices
//!
//! - `record_write` is one narrow `UPDATE` (size = `GREATEST(size, end)`, mtime, ctime, change,
//!   content version) with no transaction and no read first; `record_write_on` is the same
//!   `UPDATE` with the version check in its `WHERE`, so gateways sharing the database switch a
//!   file's version by compare-and-swap.
//! - Durability: every connection runs with `synchronous_commit = on`, so a transaction is
//!   durable (WAL flushed) when its commit returns. [`MetadataStore::sync`] has nothing left to
//!   do and only checks that the server is reachable.
//! - Generations: inode ids are never reused (sequences never go back), and each gateway start
//!   takes a fresh generation from `generations`, so `(store, ino, generation)` names one object
//!   forever even after a database restored from an older backup hands out ids again.
//! - Every connection has a `statement_timeout`; the pool has a size limit and an acquire
//!   timeout ([`PgConfig`]).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::str::FromStr;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{PgConnection, PgPool, Row};

use crate::api::{
    Attr, ContentVersion, Cookie, Device, DirEntry, DirFeed, DirPage, EntryAction, EntryChange,
    FileKind, ForeignLock, Generation, InodeId, LockNews, MetadataStore, NewNode, RangeLock,
    Recorded, Removed, Renamed, SetAttr, SharedCaching, StoreError, StoreId, StoreResult,
    Timestamp, Usage, XattrEntry, check_name, check_xattr_name, fold_case,
};
use crate::rules::{self, add_link};

mod caching;
mod changes;
mod identity;
mod listen;
mod locks;
pub use self::caching::{CACHING_CHANNEL, CACHING_MIRROR_MAX, PgCaching, RECALLS_QUEUED};
pub use self::changes::{DIR_CHANGES_CHANNEL, FEED_CAPACITY, FOLLOWER_PREFIX, FOLLOWERS_FRESH};
pub use self::identity::{
    GroupRow, IDENTITY_CHANNEL, IDENTITY_LOCK, IdentityRows, IdentitySnapshot, PgIdentity, UserRow,
};
pub use self::locks::{LOCK_SESSION_TTL, LOCK_SESSION_TTL_MIN};

pub use crate::redact::redact_url;

/// The embedded migrations, `stores/migrations/postgres/NNNN_what.sql`.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");

/// The schema version this build writes: the newest migration.
pub const SCHEMA_VERSION: i64 = 6;

/// The advisory lock key every cross-directory directory rename takes (per database, so per
/// store): "DittoRen".
pub const RENAME_LOCK: i64 = 0x4469_7474_6f52_656e;

/// Inode ids one `nextval('inode_batches')` reserves; must match the sequence's increment.
pub const INODE_BATCH: u64 = 1024;

/// The inode capacity reported by [`MetadataStore::usage`]: ids are 63-bit.
pub const FILES_MAX: u64 = 1 << 62;

/// Longest chain of parents the ancestor check walks before calling the tree damaged.
const DEPTH_MAX: i64 = 1 << 20;

/// How to reach the database and how hard to try. Its `Debug` never shows a password.
#[derive(Clone)]
pub struct PgConfig {
    /// `postgres://user[:password]@host[:port]/database[?sslmode=…]`. Without a password in
    /// the URL, `PGPASSWORD` (or `~/.pgpass`) supplies it.
    pub url: String,
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a call waits for a free connection before that counts as contention.
    pub acquire_timeout: Duration,
    /// The server cancels any one statement running longer (`statement_timeout`).
    pub statement_timeout: Duration,
    /// How long contention (serialization failures, deadlocks, timeouts) is retried before a
    /// call fails with [`StoreError::Busy`].
    pub retry_deadline: Duration,
    /// How long this gateway's byte-range locks outlive its last heartbeat when it dies or
    /// loses the database (see the `locks` module); at least [`LOCK_SESSION_TTL_MIN`].
    pub lock_session_ttl: Duration,
}

impl PgConfig {
    /// Defaults for everything but the URL: 10 connections, 5 s acquire and statement timeouts,
    /// 3 s of retries, [`LOCK_SESSION_TTL`].
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            retry_deadline: Duration::from_secs(3),
            lock_session_ttl: LOCK_SESSION_TTL,
        }
    }
}

impl fmt::Debug for PgConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgConfig")
            .field("url", &redact_url(&self.url))
            .field("max_connections", &self.max_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("statement_timeout", &self.statement_timeout)
            .field("retry_deadline", &self.retry_deadline)
            .field("lock_session_ttl", &self.lock_session_ttl)
            .finish()
    }
}

/// Why a database could not be used as a DittoFS metadata store, inside
/// [`StoreError::Backend`].
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The configured URL does not parse.
    #[error("invalid PostgreSQL URL {url}: {reason}; expected postgres://user@host:port/database")]
    BadUrl {
        /// The URL, password redacted.
        url: String,
        /// What the parser said.
        reason: String,
    },
    /// The database could not be reached or refused the login.
    #[error("cannot connect to PostgreSQL at {url}: {source}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The schema could not be brought to [`SCHEMA_VERSION`].
    #[error(
        "migrating the PostgreSQL metadata schema failed: {0}; a database written by a newer \
         DittoFS needs that version"
    )]
    Migrate(#[source] sqlx::migrate::MigrateError),
    /// A stored value breaks an invariant.
    #[error("corrupt metadata in PostgreSQL: bad {what}")]
    Corrupt {
        /// What was damaged.
        what: &'static str,
    },
}

impl From<SchemaError> for StoreError {
    fn from(e: SchemaError) -> Self {
        Self::Backend(Box::new(e))
    }
}

fn corrupt(what: &'static str) -> StoreError {
    SchemaError::Corrupt { what }.into()
}

/// The PostgreSQL metadata store. See the [module docs](self).
pub struct PgMetadata {
    pool: PgPool,
    id: StoreId,
    /// This gateway start's generation: the generation of the inodes it creates.
    generation: Generation,
    /// The unused rest of the last reserved batch of inode ids.
    inos: Mutex<std::ops::Range<u64>>,
    retry_deadline: Duration,
    /// This gateway's lock session (module `locks`), which its published caching shares.
    locks: Arc<locks::LockSession>,
    /// The gateways' caching (module `caching`), started by the first
    /// [`MetadataStore::shared_caching`] call.
    caching: OnceLock<Arc<PgCaching>>,
    /// Namespace changes announced to, and followed from, the other gateways (module
    /// `changes`).
    feed: changes::Feed,
}

impl fmt::Debug for PgMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgMetadata")
            .field("id", &self.id)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// What a step inside a transaction can fail with.
#[derive(Debug)]
enum Fail {
    /// A semantic outcome, returned as it is.
    Store(StoreError),
    /// A database error: contention is retried, 23505 becomes `Exists`, the rest `Backend`.
    Db(sqlx::Error),
    /// Roll back and run the operation again at once, as the `again` pass (a rename that found
    /// it moves a directory and must take the rename lock first; a share root another gateway
    /// created meanwhile).
    Again,
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<sqlx::Error> for Fail {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

type Step<T> = Result<T, Fail>;

/// Whether `e` is contention that a retry can get past.
fn is_transient(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => matches!(
            db.code().as_deref(),
            // serialization_failure, deadlock_detected, lock_not_available, query_canceled
            // (statement_timeout), too_many_connections
            Some("40001" | "40P01" | "55P03" | "57014" | "53300")
        ),
        sqlx::Error::PoolTimedOut => true,
        _ => false,
    }
}

/// The [`StoreError`] for a database error that is not retried (any more).
fn store_error(e: sqlx::Error) -> StoreError {
    if is_transient(&e) {
        return StoreError::Busy;
    }
    if let sqlx::Error::Database(db) = &e {
        match db.code().as_deref() {
            // unique_violation: only `entries`' keys can be violated by a race.
            Some("23505") => return StoreError::Exists,
            // disk_full, insufficient_resources
            Some("53100" | "53200") => return StoreError::NoSpace,
            // read_only_sql_transaction (a standby, or default_transaction_read_only)
            Some("25006") => return StoreError::ReadOnly,
            _ => {}
        }
    }
    StoreError::Backend(Box::new(e))
}

/// A directory entry's or node's row as this store reads it.
#[derive(Debug, Clone)]
struct Node {
    attr: Attr,
    /// The parent directory (a share root is its own); 0 for non-directories.
    parent: u64,
    /// The cookie of the next entry linked into this directory; 0 for non-directories.
    next_cookie: u64,
}

impl Node {
    fn is_dir(&self) -> bool {
        self.attr.kind == FileKind::Directory
    }
}

/// The node columns, in [`decode_node`]'s order, each prefixed by `$p` (a table alias and a
/// dot, or nothing).
macro_rules! node_cols {
    ($p:literal) => {
        concat!(
            $p,
            "ino, ",
            $p,
            "generation, ",
            $p,
            "kind, ",
            $p,
            "mode, ",
            $p,
            "nlink, ",
            $p,
            "uid, ",
            $p,
            "gid, ",
            $p,
            "size, ",
            $p,
            "rdev_major, ",
            $p,
            "rdev_minor, ",
            $p,
            "atime_s, ",
            $p,
            "atime_ns, ",
            $p,
            "mtime_s, ",
            $p,
            "mtime_ns, ",
            $p,
            "ctime_s, ",
            $p,
            "ctime_ns, ",
            $p,
            "btime_s, ",
            $p,
            "btime_ns, ",
            $p,
            "change, ",
            $p,
            "parent, ",
            $p,
            "next_cookie"
        )
    };
}

/// Runs `$body` (a future using `$c: &mut PgConnection`) in a fresh transaction and commits
/// it, through [`PgMetadata::retry`]; `$again` binds the retry's "run again" flag.
macro_rules! in_txn {
    ($self:ident, |$c:ident, $again:pat_param| $body:expr) => {
        $self
            .retry(|$again| async move {
                let mut tx = $self.pool.begin().await?;
                let $c: &mut PgConnection = &mut tx;
                let value = $body.await?;
                tx.commit().await?;
                Ok(value)
            })
            .await
    };
}

fn kind_code(kind: FileKind) -> i16 {
    match kind {
        FileKind::Regular => 1,
        FileKind::Directory => 2,
        FileKind::Symlink => 3,
        FileKind::BlockDevice => 4,
        FileKind::CharDevice => 5,
        FileKind::Socket => 6,
        FileKind::Fifo => 7,
    }
}

fn kind_of(code: i16) -> StoreResult<FileKind> {
    Ok(match code {
        1 => FileKind::Regular,
        2 => FileKind::Directory,
        3 => FileKind::Symlink,
        4 => FileKind::BlockDevice,
        5 => FileKind::CharDevice,
        6 => FileKind::Socket,
        7 => FileKind::Fifo,
        _ => return Err(corrupt("node kind")),
    })
}

/// A non-negative `bigint` as `u64`.
fn unsigned(v: i64, what: &'static str) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| corrupt(what))
}

fn small(v: i64, what: &'static str) -> StoreResult<u32> {
    u32::try_from(v).map_err(|_| corrupt(what))
}

/// A `u64` the schema keeps as a positive `bigint` (ids, cookies, sizes, counters).
fn signed(v: u64) -> StoreResult<i64> {
    i64::try_from(v).map_err(|_| StoreError::FileTooLarge)
}

fn ts(row: &PgRow, at: usize) -> Step<Timestamp> {
    let secs: i64 = row.try_get(at)?;
    let nanos: i32 = row.try_get(at + 1)?;
    let nanos = u32::try_from(nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .ok_or_else(|| corrupt("timestamp"))?;
    Ok(Timestamp { secs, nanos })
}

/// Decodes the [`node_cols!`] starting at column `at`.
fn decode_node(row: &PgRow, at: usize) -> Step<Node> {
    let get = |i: usize| -> Step<i64> { Ok(row.try_get::<i64, _>(at + i)?) };
    let mode: i32 = row.try_get(at + 3)?;
    let attr = Attr {
        ino: InodeId(unsigned(get(0)?, "inode id")?),
        generation: Generation(get(1)? as u64),
        kind: kind_of(row.try_get(at + 2)?)?,
        mode: u32::try_from(mode).map_err(|_| corrupt("mode"))?,
        nlink: small(get(4)?, "link count")?,
        uid: small(get(5)?, "uid")?,
        gid: small(get(6)?, "gid")?,
        size: unsigned(get(7)?, "size")?,
        rdev: Device {
            major: small(get(8)?, "device number")?,
            minor: small(get(9)?, "device number")?,
        },
        atime: ts(row, at + 10)?,
        mtime: ts(row, at + 12)?,
        ctime: ts(row, at + 14)?,
        btime: ts(row, at + 16)?,
        change: unsigned(get(18)?, "change counter")?,
    };
    Ok(Node {
        attr,
        parent: unsigned(get(19)?, "parent")?,
        next_cookie: unsigned(get(20)?, "next cookie")?,
    })
}

/// Decodes the node at `at` of a row from an outer join, `None` if the join found none.
fn decode_joined(row: &PgRow, at: usize) -> Step<Option<Node>> {
    let ino: Option<i64> = row.try_get(at)?;
    match ino {
        Some(_) => Ok(Some(decode_node(row, at)?)),
        None => Ok(None),
    }
}

/// A random 64-bit value: std's `RandomState` is keyed randomly (per process, and differently
/// per call), which is all a store id or a backoff jitter needs; the store crate has no RNG.
fn random_u64(salt: u64) -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(salt);
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// How to connect to `config.url`; `BadUrl` when it does not parse.
fn connect_options(config: &PgConfig) -> StoreResult<PgConnectOptions> {
    PgConnectOptions::from_str(&config.url).map_err(|e| {
        SchemaError::BadUrl {
            url: redact_url(&config.url),
            reason: e.to_string(),
        }
        .into()
    })
}

/// A pool of at most `max_connections` connections to `config.url`, each with the store's
/// session settings, and the schema migrated to [`SCHEMA_VERSION`] (waiting for another
/// gateway that migrates it).
pub(crate) async fn open_pool(config: &PgConfig, max_connections: u32) -> StoreResult<PgPool> {
    let redacted = redact_url(&config.url);
    let options = connect_options(config)?
        .application_name("dittofs")
        .options([
            (
                "statement_timeout",
                format!("{}ms", config.statement_timeout.as_millis().max(1)),
            ),
            // See "Durability" in the module docs: sync() relies on it.
            ("synchronous_commit", "on".to_owned()),
        ]);
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .min_connections(0)
        .acquire_timeout(config.acquire_timeout)
        .connect_with(options)
        .await
        .map_err(|source| SchemaError::Connect {
            url: redacted,
            source,
        })?;
    MIGRATOR.run(&pool).await.map_err(SchemaError::Migrate)?;
    Ok(pool)
}

impl PgMetadata {
    /// Connects to the database `config.url` names, applies any pending migrations (waiting
    /// for another gateway that applies them), creates the store identity if this is the first
    /// start on the database, and takes this start's generation.
    ///
    /// Fails with [`StoreError::Backend`] holding a [`SchemaError`] when the URL is bad, the
    /// server cannot be reached or refuses the login, or the schema is newer than this build.
    pub async fn connect(config: &PgConfig) -> StoreResult<Self> {
        let redacted = redact_url(&config.url);
        let pool = open_pool(config, config.max_connections).await?;

        let candidate = random_u64(0x5354_4f52_4549_4400) as i64;
        sqlx::query("INSERT INTO store_meta (store_id) VALUES ($1) ON CONFLICT DO NOTHING")
            .bind(candidate)
            .execute(&pool)
            .await
            .map_err(store_error)?;
        let id: i64 = sqlx::query_scalar("SELECT store_id FROM store_meta")
            .fetch_one(&pool)
            .await
            .map_err(store_error)?;
        let generation: i64 = sqlx::query_scalar("SELECT nextval('generations')")
            .fetch_one(&pool)
            .await
            .map_err(store_error)?;
        let fsync: String = sqlx::query_scalar("SHOW fsync")
            .fetch_one(&pool)
            .await
            .map_err(store_error)?;
        if fsync != "on" {
            tracing::warn!(
                url = %redacted,
                "PostgreSQL runs with fsync = {fsync}: committed metadata may be lost in a \
                 machine crash; set fsync = on in postgresql.conf for durability"
            );
        }
        tracing::info!(url = %redacted, store_id = %format_args!("{:016x}", id as u64),
            generation, "PostgreSQL metadata store connected");
        Ok(Self {
            pool,
            id: StoreId(id as u64),
            generation: Generation(unsigned(generation, "generation")?),
            inos: Mutex::new(0..0),
            retry_deadline: config.retry_deadline,
            locks: Arc::new(locks::LockSession::new(config.lock_session_ttl)),
            caching: OnceLock::new(),
            feed: changes::Feed::new(connect_options(config)?, config.acquire_timeout),
        })
    }

    /// The connection pool (tests use it to inspect the schema).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// This gateway start's generation.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// Runs `attempt` until it succeeds or fails for a reason other than contention, retrying
    /// contention with jittered exponential backoff (1 ms doubling to 100 ms) until the retry
    /// deadline, then failing with `Busy`. `attempt(again)` gets `true` after it asked to be run
    /// again ([`Fail::Again`]).
    async fn retry<T, F, Fut>(&self, mut attempt: F) -> StoreResult<T>
    where
        F: FnMut(bool) -> Fut,
        Fut: Future<Output = Step<T>>,
    {
        #[expect(
            clippy::disallowed_methods,
            reason = "the PostgreSQL store never runs in the simulator; its retry deadline is \
                      real time"
        )]
        let deadline = tokio::time::Instant::now() + self.retry_deadline;
        let mut again = false;
        let mut cap = Duration::from_millis(1);
        let mut tries = 0u64;
        loop {
            tries += 1;
            let e = match attempt(again).await {
                Ok(v) => return Ok(v),
                Err(Fail::Store(e)) => return Err(e),
                Err(Fail::Again) if tries < 64 => {
                    again = true;
                    continue;
                }
                Err(Fail::Again) => return Err(StoreError::Busy),
                Err(Fail::Db(e)) if is_transient(&e) => e,
                Err(Fail::Db(e)) => return Err(store_error(e)),
            };
            #[expect(
                clippy::disallowed_methods,
                reason = "the PostgreSQL store never runs in the simulator"
            )]
            let now = tokio::time::Instant::now();
            if now >= deadline {
                tracing::debug!(tries, error = %e, "PostgreSQL contention past the deadline");
                return Err(StoreError::Busy);
            }
            let jitter = random_u64(tries) % (cap.as_micros() as u64 + 1);
            let pause = Duration::from_micros(jitter).min(deadline - now);
            tokio::time::sleep(pause).await;
            cap = (cap * 2).min(Duration::from_millis(100));
        }
    }

    /// Hands out a new inode id from the cached batch, reserving a new batch through `c` when
    /// it is used up. The sequence is not transactional: a rolled-back transaction wastes ids,
    /// never reuses them.
    async fn allocate_ino(&self, c: &mut PgConnection) -> Step<u64> {
        if let Some(ino) = self
            .inos
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .next()
        {
            return Ok(ino);
        }
        let start: i64 = sqlx::query_scalar("SELECT nextval('inode_batches')")
            .fetch_one(&mut *c)
            .await?;
        let start = unsigned(start, "inode batch")?;
        if start == 0 {
            return Err(corrupt("inode batch").into());
        }
        let end = start.checked_add(INODE_BATCH).ok_or(StoreError::NoSpace)?;
        let mut cached = self.inos.lock().unwrap_or_else(PoisonError::into_inner);
        // Another task may have refilled the cache meanwhile; keep whichever has more left.
        if cached.is_empty() {
            *cached = start + 1..end;
        }
        Ok(start)
    }

    // ---- reads: one statement each, so each sees one committed state ----

    /// The row `sql` (a `SELECT … FROM nodes WHERE ino = $1`) reads for `ino`; `Stale` when
    /// the inode does not exist.
    async fn node_row(&self, sql: &'static str, ino: InodeId) -> Step<PgRow> {
        Ok(sqlx::query(sql)
            .bind(ino_arg(ino)?)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::Stale)?)
    }

    async fn getattr_in(&self, ino: InodeId) -> Step<Attr> {
        const SQL: &str = concat!("SELECT ", node_cols!(""), " FROM nodes WHERE ino = $1");
        let row = self.node_row(SQL, ino).await?;
        Ok(decode_node(&row, 0)?.attr)
    }

    async fn lookup_in(&self, dir: InodeId, name: &[u8], folded: bool) -> Step<(Vec<u8>, Attr)> {
        const EXACT: &str = concat!(
            "SELECT d.kind, e.name, ",
            node_cols!("n."),
            " FROM nodes d LEFT JOIN entries e ON e.dir = d.ino AND e.name = $2 \
             LEFT JOIN nodes n ON n.ino = e.ino WHERE d.ino = $1"
        );
        const FOLDED: &str = concat!(
            "SELECT d.kind, e.name, ",
            node_cols!("n."),
            " FROM nodes d LEFT JOIN LATERAL (SELECT name, ino FROM entries \
             WHERE dir = d.ino AND folded = $2 ORDER BY name LIMIT 1) e ON true \
             LEFT JOIN nodes n ON n.ino = e.ino WHERE d.ino = $1"
        );
        check_name(name)?;
        let key = if folded {
            fold_case(name).into_owned()
        } else {
            name.to_vec()
        };
        let row = sqlx::query(if folded { FOLDED } else { EXACT })
            .bind(ino_arg(dir)?)
            .bind(key)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::Stale)?;
        if kind_of(row.try_get(0)?)? != FileKind::Directory {
            return Err(StoreError::NotDir.into());
        }
        let Some(stored) = row.try_get::<Option<Vec<u8>>, _>(1)? else {
            return Err(StoreError::NotFound.into());
        };
        let node =
            decode_joined(&row, 2)?.ok_or_else(|| corrupt("entry naming a missing inode"))?;
        Ok((stored, node.attr))
    }

    async fn readdir_in(&self, dir: InodeId, after: Cookie, max: usize) -> Step<DirPage> {
        const SQL: &str = concat!(
            "SELECT d.kind, x.* FROM nodes d LEFT JOIN LATERAL (SELECT e.cookie, e.name, ",
            node_cols!("n."),
            " FROM entries e LEFT JOIN nodes n ON n.ino = e.ino \
             WHERE e.dir = d.ino AND e.cookie > $2 ORDER BY e.cookie LIMIT $3) x ON true \
             WHERE d.ino = $1 ORDER BY x.cookie"
        );
        let Ok(after) = i64::try_from(after.0) else {
            // No cookie is that large: nothing comes after it. The directory must still exist.
            let attr = self.getattr_in(dir).await?;
            if attr.kind != FileKind::Directory {
                return Err(StoreError::NotDir.into());
            }
            return Ok(DirPage {
                entries: Vec::new(),
                eof: true,
            });
        };
        // One more than asked for tells whether the page ends the listing.
        let limit = i64::try_from(max).unwrap_or(i64::MAX - 1).min(1 << 20) + 1;
        let rows = sqlx::query(SQL)
            .bind(ino_arg(dir)?)
            .bind(after)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let first = rows.first().ok_or(StoreError::Stale)?;
        if kind_of(first.try_get(0)?)? != FileKind::Directory {
            return Err(StoreError::NotDir.into());
        }
        let mut entries = Vec::new();
        let mut more = false;
        for row in &rows {
            let Some(cookie) = row.try_get::<Option<i64>, _>(1)? else {
                break;
            };
            if entries.len() == max {
                more = true;
                break;
            }
            let name: Vec<u8> = row.try_get(2)?;
            let node =
                decode_joined(row, 3)?.ok_or_else(|| corrupt("entry naming a missing inode"))?;
            entries.push(DirEntry {
                cookie: Cookie(unsigned(cookie, "cookie")?),
                name,
                attr: node.attr,
            });
        }
        Ok(DirPage {
            entries,
            eof: !more,
        })
    }

    // ---- mutations: each runs inside one transaction, `c` ----

    async fn share_root_in(&self, c: &mut PgConnection, name: &str, root: &NewNode) -> Step<Attr> {
        let existing: Option<i64> = sqlx::query_scalar("SELECT root FROM shares WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *c)
            .await?;
        if let Some(ino) = existing {
            let row = sqlx::query(concat!(
                "SELECT ",
                node_cols!(""),
                " FROM nodes WHERE ino = $1"
            ))
            .bind(ino)
            .fetch_optional(&mut *c)
            .await?
            .ok_or_else(|| corrupt("share naming a missing root"))?;
            return Ok(decode_node(&row, 0)?.attr);
        }
        rules::check_share_root(root)?;
        let ino = self.allocate_ino(c).await?;
        // A share root is its own parent, as "/" is.
        let node = self.new_node(ino, root, ino)?;
        insert_node(c, &node, &root.symlink_target).await?;
        let added =
            sqlx::query("INSERT INTO shares (name, root) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(name)
                .bind(signed(ino)?)
                .execute(&mut *c)
                .await?
                .rows_affected();
        if added != 1 {
            // Another gateway created the share first: roll back this root and read theirs.
            return Err(Fail::Again);
        }
        Ok(node.attr)
    }

    fn new_node(&self, ino: u64, node: &NewNode, parent: u64) -> StoreResult<Node> {
        let attr = rules::new_attr(InodeId(ino), self.generation, node, 1)?;
        let is_dir = node.kind == FileKind::Directory;
        Ok(Node {
            attr,
            parent: if is_dir { parent } else { 0 },
            next_cookie: if is_dir { Cookie::FIRST_ENTRY } else { 0 },
        })
    }

    async fn create_in(
        &self,
        c: &mut PgConnection,
        dir: InodeId,
        name: &[u8],
        new: &NewNode,
    ) -> Step<Attr> {
        let mut parent = lock_dir(c, dir).await?;
        if entry(c, dir.0, name).await?.is_some() {
            return Err(StoreError::Exists.into());
        }
        let ino = self.allocate_ino(c).await?;
        let node = self.new_node(ino, new, dir.0)?;
        insert_node(c, &node, &new.symlink_target).await?;
        if node.is_dir() {
            // The new directory's ".." is a link to the parent.
            parent.attr.nlink = add_link(parent.attr.nlink)?;
        }
        link_entry(c, &mut parent, name, ino).await?;
        touch(&mut parent, new.now);
        update_node(c, &parent).await?;
        self.feed
            .announce(c, &parent, &[(name, EntryAction::Added, node.is_dir())])
            .await?;
        Ok(node.attr)
    }

    async fn link_in(
        &self,
        c: &mut PgConnection,
        ino: InodeId,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> Step<Attr> {
        let mut locked = lock_nodes(c, &[ino.0, dir.0]).await?;
        let mut inode = locked.remove(&ino.0).ok_or(StoreError::Stale)?;
        let mut parent = match locked.remove(&dir.0) {
            Some(p) => p,
            // The same id twice: a link of a node into itself.
            None if dir == ino => inode.clone(),
            None => return Err(StoreError::Stale.into()),
        };
        if !parent.is_dir() {
            return Err(StoreError::NotDir.into());
        }
        if inode.is_dir() {
            return Err(StoreError::Invalid("hard link to a directory").into());
        }
        if entry(c, dir.0, name).await?.is_some() {
            return Err(StoreError::Exists.into());
        }
        inode.attr.nlink = add_link(inode.attr.nlink)?;
        inode.attr.ctime = now;
        inode.attr.change += 1;
        link_entry(c, &mut parent, name, ino.0).await?;
        touch(&mut parent, now);
        update_node(c, &parent).await?;
        update_node(c, &inode).await?;
        self.feed
            .announce(c, &parent, &[(name, EntryAction::Added, false)])
            .await?;
        Ok(inode.attr)
    }

    async fn remove_in(
        &self,
        c: &mut PgConnection,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
        want_dir: bool,
    ) -> Step<Removed> {
        let mut parent = lock_dir(c, dir).await?;
        let (ino, _) = entry(c, dir.0, name).await?.ok_or(StoreError::NotFound)?;
        let mut inode = lock_nodes(c, &[ino])
            .await?
            .remove(&ino)
            .ok_or_else(|| corrupt("entry naming a missing inode"))?;
        if let Err(e) = rules::check_remove(want_dir, inode.is_dir(), || Ok(true)) {
            return Err(e.into());
        }
        if inode.is_dir() && !is_empty_dir(c, ino).await? {
            return Err(StoreError::NotEmpty.into());
        }
        unlink_entry(c, dir.0, name).await?;
        if inode.is_dir() {
            // The removed directory's ".." no longer links to the parent.
            parent.attr.nlink = drop_link(parent.attr.nlink)?;
        }
        touch(&mut parent, now);
        update_node(c, &parent).await?;
        self.feed
            .announce(c, &parent, &[(name, EntryAction::Removed, inode.is_dir())])
            .await?;
        drop_name(c, &mut inode, now).await
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the rename's two names plus the lock pass"
    )]
    async fn rename_in(
        &self,
        c: &mut PgConnection,
        from_dir: InodeId,
        from_name: &[u8],
        to_dir: InodeId,
        to_name: &[u8],
        now: Timestamp,
        again: bool,
    ) -> Step<Renamed> {
        let crosses = from_dir != to_dir;
        // Whether this rename takes the store's rename lock: it must come before any row lock
        // (every rename takes them in that order), so decide from an unlocked peek at the
        // source; if the peek was wrong, the locked check below asks for a second pass.
        let mut serialised = false;
        if crosses {
            let peek: Option<i16> = sqlx::query_scalar(
                "SELECT n.kind FROM entries e JOIN nodes n ON n.ino = e.ino \
                 WHERE e.dir = $1 AND e.name = $2",
            )
            .bind(ino_arg(from_dir)?)
            .bind(from_name)
            .fetch_optional(&mut *c)
            .await?;
            if again || peek == Some(kind_code(FileKind::Directory)) {
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(RENAME_LOCK)
                    .execute(&mut *c)
                    .await?;
                serialised = true;
            }
        }
        let mut dirs = lock_nodes(c, &[from_dir.0, to_dir.0]).await?;
        for d in [from_dir, to_dir] {
            match dirs.get(&d.0) {
                None => return Err(StoreError::Stale.into()),
                Some(n) if !n.is_dir() => return Err(StoreError::NotDir.into()),
                Some(_) => {}
            }
        }
        let (src_ino, _) = entry(c, from_dir.0, from_name)
            .await?
            .ok_or(StoreError::NotFound)?;
        let target = entry(c, to_dir.0, to_name).await?;
        let target_ino = target.map(|(ino, _)| ino);
        if target_ino == Some(src_ino) {
            // Two names for one inode (or the same name twice): nothing to do.
            let row = sqlx::query(concat!(
                "SELECT ",
                node_cols!(""),
                " FROM nodes WHERE ino = $1"
            ))
            .bind(signed(src_ino)?)
            .fetch_optional(&mut *c)
            .await?
            .ok_or_else(|| corrupt("entry naming a missing inode"))?;
            return Ok(Renamed {
                attr: decode_node(&row, 0)?.attr,
                replaced: None,
            });
        }
        // The moved inode and the target; a directory among them may be one of the locked
        // directories (a rename of a directory into its own child).
        let wanted: Vec<u64> = [Some(src_ino), target_ino]
            .into_iter()
            .flatten()
            .filter(|i| !dirs.contains_key(i))
            .collect();
        let mut others = lock_nodes(c, &wanted).await?;
        let take = |others: &mut BTreeMap<u64, Node>, dirs: &BTreeMap<u64, Node>, ino: u64| {
            others
                .remove(&ino)
                .or_else(|| dirs.get(&ino).cloned())
                .ok_or_else(|| corrupt("entry naming a missing inode"))
        };
        let mut src = take(&mut others, &dirs, src_ino)?;
        let moves_dir = src.is_dir() && crosses;
        if moves_dir {
            if !serialised {
                return Err(Fail::Again);
            }
            check_not_under(c, to_dir.0, src_ino).await?;
        }
        // Every check happens before the first write, so a failure leaves nothing behind.
        let mut target_node = match target_ino {
            Some(t) => {
                let node = take(&mut others, &dirs, t)?;
                let empty = if node.is_dir() {
                    is_empty_dir(c, t).await?
                } else {
                    true
                };
                rules::check_rename_target(src.is_dir(), node.is_dir(), || Ok(empty))?;
                Some(node)
            }
            None => None,
        };

        let replaced = match target_node.as_mut() {
            Some(t) => {
                unlink_entry(c, to_dir.0, to_name).await?;
                if t.is_dir() {
                    let to = dirs.get_mut(&to_dir.0).expect("locked above");
                    to.attr.nlink = drop_link(to.attr.nlink)?;
                }
                Some(drop_name(c, t, now).await?)
            }
            None => None,
        };
        unlink_entry(c, from_dir.0, from_name).await?;
        {
            let from = dirs.get_mut(&from_dir.0).expect("locked above");
            touch(from, now);
            if moves_dir {
                from.attr.nlink = drop_link(from.attr.nlink)?;
            }
        }
        {
            let to = dirs.get_mut(&to_dir.0).expect("locked above");
            link_entry(c, to, to_name, src_ino).await?;
            if crosses {
                touch(to, now);
            }
            if moves_dir {
                to.attr.nlink = add_link(to.attr.nlink)?;
            }
        }
        if moves_dir {
            src.parent = to_dir.0;
        }
        src.attr.ctime = now;
        src.attr.change += 1;
        if let Some(d) = dirs.get_mut(&src_ino) {
            // The moved directory is also one of the two directories (moved into itself was
            // refused above, so this is impossible; keep the rows consistent regardless).
            *d = src.clone();
        }
        for node in dirs.values() {
            update_node(c, node).await?;
        }
        if !dirs.contains_key(&src_ino) {
            update_node(c, &src).await?;
        }
        let is_dir = src.is_dir();
        let from = dirs.get(&from_dir.0).expect("locked above");
        if crosses {
            let to = dirs.get(&to_dir.0).expect("locked above");
            self.feed
                .announce(c, from, &[(from_name, EntryAction::Removed, is_dir)])
                .await?;
            self.feed
                .announce(c, to, &[(to_name, EntryAction::Added, is_dir)])
                .await?;
        } else {
            let both = [
                (from_name, EntryAction::RenamedFrom, is_dir),
                (to_name, EntryAction::RenamedTo, is_dir),
            ];
            self.feed.announce(c, from, &both).await?;
        }
        Ok(Renamed {
            attr: src.attr,
            replaced,
        })
    }

    async fn setattr_in(
        &self,
        c: &mut PgConnection,
        ino: InodeId,
        set: &SetAttr,
        now: Timestamp,
    ) -> Step<Attr> {
        let mut node = lock_nodes(c, &[ino.0])
            .await?
            .remove(&ino.0)
            .ok_or(StoreError::Stale)?;
        if !rules::check_setattr(&node.attr, set)? {
            // Nothing to apply, so nothing changed: no ctime, no write.
            return Ok(node.attr);
        }
        if let Some(size) = set.size {
            signed(size)?;
        }
        rules::apply_setattr(&mut node.attr, set, now);
        node.attr.change += 1;
        update_node(c, &node).await?;
        Ok(node.attr)
    }

    async fn record_write_in(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        version: Option<ContentVersion>,
    ) -> Step<Attr> {
        const SQL: &str = concat!(
            "UPDATE nodes SET size = GREATEST(size, $2), mtime_s = $3, mtime_ns = $4, \
             ctime_s = $3, ctime_ns = $4, change = change + 1, \
             content_version = COALESCE($5, content_version) \
             WHERE ino = $1 AND kind = 1 RETURNING ",
            node_cols!("")
        );
        let row = sqlx::query(SQL)
            .bind(ino_arg(ino)?)
            .bind(signed(end)?)
            .bind(mtime.secs)
            .bind(mtime.nanos as i32)
            .bind(version.map(|v| v.0 as i64))
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => Ok(decode_node(&row, 0)?.attr),
            None => {
                // Gone, or not a regular file: a kind never changes, so this read is exact.
                let kind: Option<i16> = sqlx::query_scalar("SELECT kind FROM nodes WHERE ino = $1")
                    .bind(ino_arg(ino)?)
                    .fetch_optional(&self.pool)
                    .await?;
                let kind = kind_of(kind.ok_or(StoreError::Stale)?)?;
                rules::check_write(kind)?;
                Err(corrupt("regular file that refused a write").into())
            }
        }
    }

    /// `record_write_on` as one `UPDATE` whose `WHERE` holds the version check, so the check
    /// and the change are one atomic step however many gateways share the database; no row
    /// updated means a conflict (or a missing inode, or another kind, told apart by a read
    /// after).
    async fn record_write_on_in(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        base: Option<ContentVersion>,
        version: ContentVersion,
    ) -> Step<Recorded> {
        const SQL: &str = concat!(
            "UPDATE nodes SET size = GREATEST(size, $2), mtime_s = $3, mtime_ns = $4, \
             ctime_s = $3, ctime_ns = $4, change = change + 1, content_version = $5 \
             WHERE ino = $1 AND kind = 1 \
             AND (content_version IS NOT DISTINCT FROM $6 OR content_version = $5) RETURNING ",
            node_cols!("")
        );
        let row = sqlx::query(SQL)
            .bind(ino_arg(ino)?)
            .bind(signed(end)?)
            .bind(mtime.secs)
            .bind(mtime.nanos as i32)
            .bind(version.0 as i64)
            .bind(base.map(|v| v.0 as i64))
            .fetch_optional(&self.pool)
            .await?;
        if let Some(row) = row {
            return Ok(Recorded::Done(decode_node(&row, 0)?.attr));
        }
        let found: Option<(i16, Option<i64>)> =
            sqlx::query_as("SELECT kind, content_version FROM nodes WHERE ino = $1")
                .bind(ino_arg(ino)?)
                .fetch_optional(&self.pool)
                .await?;
        let (kind, current) = found.ok_or(StoreError::Stale)?;
        rules::check_write(kind_of(kind)?)?;
        // The version moved on since the UPDATE looked (versions only grow, so this is the
        // newer one); the caller re-bases on it.
        Ok(Recorded::Conflict(
            current.map(|v| ContentVersion(v as u64)),
        ))
    }

    async fn set_xattr_in(
        &self,
        c: &mut PgConnection,
        ino: InodeId,
        name: &[u8],
        value: &[u8],
        now: Timestamp,
    ) -> Step<Attr> {
        let mut node = lock_nodes(c, &[ino.0])
            .await?
            .remove(&ino.0)
            .ok_or(StoreError::Stale)?;
        let others: i64 = sqlx::query_scalar(
            "SELECT COALESCE(sum(length(name) + length(value)), 0)::bigint FROM xattrs \
             WHERE ino = $1 AND name <> $2",
        )
        .bind(signed(ino.0)?)
        .bind(name)
        .fetch_one(&mut *c)
        .await?;
        rules::check_set_xattr(
            usize::try_from(others).unwrap_or(usize::MAX),
            name,
            value.len(),
        )?;
        let n = sqlx::query(
            "INSERT INTO xattrs (ino, name, value) VALUES ($1, $2, $3) \
             ON CONFLICT (ino, name) DO UPDATE SET value = EXCLUDED.value",
        )
        .bind(signed(ino.0)?)
        .bind(name)
        .bind(value)
        .execute(&mut *c)
        .await?
        .rows_affected();
        expect_rows(n, 1, "extended attribute write")?;
        rules::apply_xattr_change(&mut node.attr, now);
        node.attr.change += 1;
        update_node(c, &node).await?;
        Ok(node.attr)
    }

    async fn remove_xattr_in(
        &self,
        c: &mut PgConnection,
        ino: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> Step<Attr> {
        let mut node = lock_nodes(c, &[ino.0])
            .await?
            .remove(&ino.0)
            .ok_or(StoreError::Stale)?;
        let n = sqlx::query("DELETE FROM xattrs WHERE ino = $1 AND name = $2")
            .bind(signed(ino.0)?)
            .bind(name)
            .execute(&mut *c)
            .await?
            .rows_affected();
        if n == 0 {
            // Nothing to remove, so nothing changed: no ctime, no write.
            return Ok(node.attr);
        }
        rules::apply_xattr_change(&mut node.attr, now);
        node.attr.change += 1;
        update_node(c, &node).await?;
        Ok(node.attr)
    }
}

/// An inode id as a query argument; ids beyond `i64::MAX` were never handed out.
fn ino_arg(ino: InodeId) -> StoreResult<i64> {
    i64::try_from(ino.0).map_err(|_| StoreError::Stale)
}

fn expect_rows(got: u64, want: u64, what: &'static str) -> StoreResult<()> {
    if got == want {
        Ok(())
    } else {
        Err(corrupt(what))
    }
}

/// Locks the rows of `inos` (in inode order, so concurrent lockers never wait in a cycle) and
/// returns those that exist.
async fn lock_nodes(c: &mut PgConnection, inos: &[u64]) -> Step<BTreeMap<u64, Node>> {
    let ids: BTreeSet<i64> = inos.iter().filter_map(|&i| i64::try_from(i).ok()).collect();
    if ids.is_empty() {
        return Ok(BTreeMap::new());
    }
    let ids: Vec<i64> = ids.into_iter().collect();
    let rows = sqlx::query(concat!(
        "SELECT ",
        node_cols!(""),
        " FROM nodes WHERE ino = ANY($1) ORDER BY ino FOR UPDATE"
    ))
    .bind(ids)
    .fetch_all(&mut *c)
    .await?;
    let mut found = BTreeMap::new();
    for row in &rows {
        let node = decode_node(row, 0)?;
        found.insert(node.attr.ino.0, node);
    }
    Ok(found)
}

/// Locks directory `dir`: `Stale` if it is gone, `NotDir` if it is something else.
async fn lock_dir(c: &mut PgConnection, dir: InodeId) -> Step<Node> {
    let node = lock_nodes(c, &[dir.0])
        .await?
        .remove(&dir.0)
        .ok_or(StoreError::Stale)?;
    if !node.is_dir() {
        return Err(StoreError::NotDir.into());
    }
    Ok(node)
}

/// The (inode, cookie) of `dir/name`, if the name exists.
async fn entry(c: &mut PgConnection, dir: u64, name: &[u8]) -> Step<Option<(u64, u64)>> {
    let row = sqlx::query("SELECT ino, cookie FROM entries WHERE dir = $1 AND name = $2")
        .bind(signed(dir)?)
        .bind(name)
        .fetch_optional(&mut *c)
        .await?;
    match row {
        Some(row) => Ok(Some((
            unsigned(row.try_get(0)?, "entry inode")?,
            unsigned(row.try_get(1)?, "cookie")?,
        ))),
        None => Ok(None),
    }
}

async fn is_empty_dir(c: &mut PgConnection, dir: u64) -> Step<bool> {
    Ok(
        sqlx::query_scalar("SELECT NOT EXISTS (SELECT 1 FROM entries WHERE dir = $1)")
            .bind(signed(dir)?)
            .fetch_one(&mut *c)
            .await?,
    )
}

/// Links `name` in directory `dir` to `ino` with the directory's next cookie (the caller
/// writes `dir` back). A unique violation here is a lost name race: `Exists`.
async fn link_entry(c: &mut PgConnection, dir: &mut Node, name: &[u8], ino: u64) -> Step<()> {
    let cookie = dir.next_cookie;
    dir.next_cookie += 1;
    let n = sqlx::query(
        "INSERT INTO entries (dir, name, folded, ino, cookie) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(signed(dir.attr.ino.0)?)
    .bind(name)
    .bind(fold_case(name).as_ref())
    .bind(signed(ino)?)
    .bind(signed(cookie)?)
    .execute(&mut *c)
    .await?
    .rows_affected();
    Ok(expect_rows(n, 1, "entry insert")?)
}

async fn unlink_entry(c: &mut PgConnection, dir: u64, name: &[u8]) -> Step<()> {
    let n = sqlx::query("DELETE FROM entries WHERE dir = $1 AND name = $2")
        .bind(signed(dir)?)
        .bind(name)
        .execute(&mut *c)
        .await?
        .rows_affected();
    Ok(expect_rows(n, 1, "entry delete")?)
}

async fn insert_node(c: &mut PgConnection, node: &Node, target: &[u8]) -> Step<()> {
    let a = &node.attr;
    let n = sqlx::query(concat!(
        "INSERT INTO nodes (",
        node_cols!(""),
        ", symlink_target) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
         $15, $16, $17, $18, $19, $20, $21, $22)"
    ))
    .bind(signed(a.ino.0)?)
    .bind(a.generation.0 as i64)
    .bind(kind_code(a.kind))
    .bind(a.mode as i32)
    .bind(i64::from(a.nlink))
    .bind(i64::from(a.uid))
    .bind(i64::from(a.gid))
    .bind(signed(a.size)?)
    .bind(i64::from(a.rdev.major))
    .bind(i64::from(a.rdev.minor))
    .bind(a.atime.secs)
    .bind(a.atime.nanos as i32)
    .bind(a.mtime.secs)
    .bind(a.mtime.nanos as i32)
    .bind(a.ctime.secs)
    .bind(a.ctime.nanos as i32)
    .bind(a.btime.secs)
    .bind(a.btime.nanos as i32)
    .bind(signed(a.change)?)
    .bind(signed(node.parent)?)
    .bind(signed(node.next_cookie)?)
    .bind((a.kind == FileKind::Symlink).then_some(target))
    .execute(&mut *c)
    .await?
    .rows_affected();
    Ok(expect_rows(n, 1, "node insert")?)
}

/// Writes back every field of `node` that an operation can change.
async fn update_node(c: &mut PgConnection, node: &Node) -> Step<()> {
    let a = &node.attr;
    let n = sqlx::query(
        "UPDATE nodes SET mode = $2, nlink = $3, uid = $4, gid = $5, size = $6, \
         atime_s = $7, atime_ns = $8, mtime_s = $9, mtime_ns = $10, ctime_s = $11, \
         ctime_ns = $12, btime_s = $13, btime_ns = $14, change = $15, parent = $16, \
         next_cookie = $17 WHERE ino = $1",
    )
    .bind(signed(a.ino.0)?)
    .bind(a.mode as i32)
    .bind(i64::from(a.nlink))
    .bind(i64::from(a.uid))
    .bind(i64::from(a.gid))
    .bind(signed(a.size)?)
    .bind(a.atime.secs)
    .bind(a.atime.nanos as i32)
    .bind(a.mtime.secs)
    .bind(a.mtime.nanos as i32)
    .bind(a.ctime.secs)
    .bind(a.ctime.nanos as i32)
    .bind(a.btime.secs)
    .bind(a.btime.nanos as i32)
    .bind(signed(a.change)?)
    .bind(signed(node.parent)?)
    .bind(signed(node.next_cookie)?)
    .execute(&mut *c)
    .await?
    .rows_affected();
    Ok(expect_rows(n, 1, "node update")?)
}

/// Takes one name away from `node` (all of them for a directory, whose only other links are
/// its own "."), stamps ctime, and frees it (row and extended attributes) when no link remains.
async fn drop_name(c: &mut PgConnection, node: &mut Node, now: Timestamp) -> Step<Removed> {
    node.attr.nlink = if node.is_dir() {
        0
    } else {
        drop_link(node.attr.nlink)?
    };
    node.attr.ctime = now;
    node.attr.change += 1;
    let freed = node.attr.nlink == 0;
    if freed {
        let ino = signed(node.attr.ino.0)?;
        sqlx::query("DELETE FROM xattrs WHERE ino = $1")
            .bind(ino)
            .execute(&mut *c)
            .await?;
        let n = sqlx::query("DELETE FROM nodes WHERE ino = $1")
            .bind(ino)
            .execute(&mut *c)
            .await?
            .rows_affected();
        expect_rows(n, 1, "node delete")?;
    } else {
        update_node(c, node).await?;
    }
    Ok(Removed {
        attr: node.attr.clone(),
        freed,
    })
}

/// Fails with `Invalid` if `dir` is `moved` or lies below it, walking `dir`'s parents in one
/// recursive query. Called under the rename lock, so no parent link changes meanwhile.
async fn check_not_under(c: &mut PgConnection, dir: u64, moved: u64) -> Step<()> {
    let row = sqlx::query(
        "WITH RECURSIVE up(ino, depth) AS ( \
             SELECT $1::bigint, 0::bigint \
             UNION ALL \
             SELECT n.parent, up.depth + 1 FROM up JOIN nodes n ON n.ino = up.ino \
             WHERE n.parent <> n.ino AND up.ino <> $2 AND up.depth < $3) \
         SELECT COALESCE(bool_or(ino = $2), false), max(depth) FROM up",
    )
    .bind(signed(dir)?)
    .bind(signed(moved)?)
    .bind(DEPTH_MAX)
    .fetch_one(&mut *c)
    .await?;
    let under: bool = row.try_get(0)?;
    let depth: Option<i64> = row.try_get(1)?;
    if under {
        return Err(rules::moved_under_itself().into());
    }
    if depth.unwrap_or(0) >= DEPTH_MAX {
        return Err(corrupt("parent chain").into());
    }
    Ok(())
}

/// A directory's mtime and ctime after its entries changed at `now`.
fn touch(dir: &mut Node, now: Timestamp) {
    dir.attr.mtime = now;
    dir.attr.ctime = now;
    dir.attr.change += 1;
}

fn drop_link(nlink: u32) -> StoreResult<u32> {
    nlink.checked_sub(1).ok_or_else(|| corrupt("link count"))
}

impl MetadataStore for PgMetadata {
    fn id(&self) -> StoreId {
        self.id
    }

    async fn share_root(&self, name: &str, root: NewNode) -> StoreResult<Attr> {
        let root = &root;
        in_txn!(self, |c, _| self.share_root_in(c, name, root))
    }

    async fn getattr(&self, ino: InodeId) -> StoreResult<Attr> {
        self.retry(|_| self.getattr_in(ino)).await
    }

    async fn lookup(&self, dir: InodeId, name: &[u8]) -> StoreResult<Attr> {
        self.retry(|_| self.lookup_in(dir, name, false))
            .await
            .map(|(_, a)| a)
    }

    async fn lookup_folded(&self, dir: InodeId, name: &[u8]) -> StoreResult<(Vec<u8>, Attr)> {
        self.retry(|_| self.lookup_in(dir, name, true)).await
    }

    async fn create(&self, dir: InodeId, name: &[u8], node: NewNode) -> StoreResult<Attr> {
        check_name(name)?;
        let node = &node;
        in_txn!(self, |c, _| self.create_in(c, dir, name, node))
    }

    async fn link(
        &self,
        ino: InodeId,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Attr> {
        check_name(name)?;
        in_txn!(self, |c, _| self.link_in(c, ino, dir, name, now))
    }

    async fn unlink(&self, dir: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Removed> {
        check_name(name)?;
        in_txn!(self, |c, _| self.remove_in(c, dir, name, now, false))
    }

    async fn rmdir(&self, dir: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Removed> {
        check_name(name)?;
        in_txn!(self, |c, _| self.remove_in(c, dir, name, now, true))
    }

    async fn rename(
        &self,
        from_dir: InodeId,
        from_name: &[u8],
        to_dir: InodeId,
        to_name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Renamed> {
        check_name(from_name)?;
        check_name(to_name)?;
        in_txn!(self, |c, again| self
            .rename_in(c, from_dir, from_name, to_dir, to_name, now, again))
    }

    async fn setattr(&self, ino: InodeId, set: SetAttr, now: Timestamp) -> StoreResult<Attr> {
        let set = &set;
        in_txn!(self, |c, _| self.setattr_in(c, ino, set, now))
    }

    async fn record_write(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        version: Option<ContentVersion>,
    ) -> StoreResult<Attr> {
        self.retry(|_| self.record_write_in(ino, end, mtime, version))
            .await
    }

    async fn record_write_on(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        base: Option<ContentVersion>,
        version: ContentVersion,
    ) -> StoreResult<Recorded> {
        self.retry(|_| self.record_write_on_in(ino, end, mtime, base, version))
            .await
    }

    async fn content_version(&self, ino: InodeId) -> StoreResult<Option<ContentVersion>> {
        self.retry(|_| async move {
            let row = self
                .node_row("SELECT content_version FROM nodes WHERE ino = $1", ino)
                .await?;
            let v: Option<i64> = row.try_get(0)?;
            Ok(v.map(|v| ContentVersion(v as u64)))
        })
        .await
    }

    async fn readlink(&self, ino: InodeId) -> StoreResult<Vec<u8>> {
        self.retry(|_| async move {
            let row = self
                .node_row("SELECT kind, symlink_target FROM nodes WHERE ino = $1", ino)
                .await?;
            if kind_of(row.try_get(0)?)? != FileKind::Symlink {
                return Err(StoreError::Invalid("readlink of a non-symlink").into());
            }
            let target: Option<Vec<u8>> = row.try_get(1)?;
            Ok(target.ok_or_else(|| corrupt("symlink target"))?)
        })
        .await
    }

    async fn readdir(
        &self,
        dir: InodeId,
        after: Cookie,
        max_entries: usize,
    ) -> StoreResult<DirPage> {
        self.retry(|_| self.readdir_in(dir, after, max_entries))
            .await
    }

    async fn parent(&self, dir: InodeId) -> StoreResult<InodeId> {
        self.retry(|_| async move {
            let row = self
                .node_row("SELECT kind, parent FROM nodes WHERE ino = $1", dir)
                .await?;
            if kind_of(row.try_get(0)?)? != FileKind::Directory {
                return Err(StoreError::NotDir.into());
            }
            Ok(InodeId(unsigned(row.try_get(1)?, "parent")?))
        })
        .await
    }

    async fn usage(&self) -> StoreResult<Usage> {
        // Exact while the table is small (or never analysed), the planner's estimate beyond:
        // counting millions of rows for every FSSTAT would cost more than it is worth.
        let files: i64 = self
            .retry(|_| async move {
                Ok(sqlx::query_scalar(
                    "SELECT CASE WHEN c.reltuples < 100000 \
                     THEN (SELECT count(*) FROM nodes) ELSE c.reltuples::bigint END \
                     FROM pg_class c WHERE c.oid = 'nodes'::regclass",
                )
                .fetch_one(&self.pool)
                .await?)
            })
            .await?;
        let files = u64::try_from(files).unwrap_or(0);
        Ok(Usage {
            // A metadata store holds no file bytes; the content store reports those.
            bytes_total: 0,
            bytes_free: 0,
            files_total: FILES_MAX,
            files_free: FILES_MAX.saturating_sub(files),
        })
    }

    async fn sync(&self) -> StoreResult<()> {
        // Every committed transaction is already durable (synchronous_commit = on on every
        // connection, see the module docs); what is left is to report a lost database.
        self.retry(|_| async move {
            sqlx::query("SELECT 1").execute(&self.pool).await?;
            Ok(())
        })
        .await
    }

    async fn xattr(&self, ino: InodeId, name: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        check_xattr_name(name)?;
        self.retry(|_| async move {
            let row = sqlx::query(
                "SELECT EXISTS (SELECT 1 FROM nodes WHERE ino = $1), \
                 (SELECT value FROM xattrs WHERE ino = $1 AND name = $2)",
            )
            .bind(ino_arg(ino)?)
            .bind(name)
            .fetch_one(&self.pool)
            .await?;
            if !row.try_get::<bool, _>(0)? {
                return Err(StoreError::Stale.into());
            }
            Ok(row.try_get(1)?)
        })
        .await
    }

    async fn list_xattrs(&self, ino: InodeId) -> StoreResult<Vec<XattrEntry>> {
        self.retry(|_| async move {
            let rows = sqlx::query(
                "SELECT x.name, length(x.value) FROM nodes n \
                 LEFT JOIN xattrs x ON x.ino = n.ino WHERE n.ino = $1 ORDER BY x.name",
            )
            .bind(ino_arg(ino)?)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Err(StoreError::Stale.into());
            }
            let mut found = Vec::new();
            for row in &rows {
                let Some(name) = row.try_get::<Option<Vec<u8>>, _>(0)? else {
                    continue;
                };
                let len: i32 = row.try_get(1)?;
                found.push(XattrEntry {
                    name,
                    len: u32::try_from(len).map_err(|_| corrupt("extended attribute"))?,
                });
            }
            Ok(found)
        })
        .await
    }

    async fn set_xattr(
        &self,
        ino: InodeId,
        name: &[u8],
        value: Vec<u8>,
        now: Timestamp,
    ) -> StoreResult<Attr> {
        // Bounds first, before any database work, as the contract asks.
        rules::check_set_xattr(0, name, value.len())?;
        let value = &value;
        in_txn!(self, |c, _| self.set_xattr_in(c, ino, name, value, now))
    }

    async fn remove_xattr(&self, ino: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Attr> {
        check_xattr_name(name)?;
        in_txn!(self, |c, _| self.remove_xattr_in(c, ino, name, now))
    }

    async fn secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.retry(|_| async move {
            Ok(
                sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?,
            )
        })
        .await
    }

    fn shares_locks(&self) -> bool {
        true
    }

    async fn publish_locks(
        &self,
        ino: InodeId,
        owner: &[u8],
        wanted: &[RangeLock],
        held: &[RangeLock],
    ) -> StoreResult<Option<ForeignLock>> {
        self.publish_locks_in(ino, owner, wanted, held).await
    }

    async fn foreign_lock(
        &self,
        ino: InodeId,
        wanted: RangeLock,
    ) -> StoreResult<Option<ForeignLock>> {
        self.foreign_lock_in(ino, wanted).await
    }

    fn shared_caching(&self) -> Option<Arc<dyn SharedCaching>> {
        let caching = self
            .caching
            .get_or_init(|| Arc::new(PgCaching::start(self.pool.clone(), Arc::clone(&self.locks))));
        Some(Arc::clone(caching) as Arc<dyn SharedCaching>)
    }

    fn lock_news(&self) -> Option<tokio::sync::broadcast::Receiver<LockNews>> {
        Some(self.lock_news_in())
    }

    async fn foreign_locks(
        &self,
        ino: Option<InodeId>,
        limit: usize,
    ) -> StoreResult<Vec<(InodeId, ForeignLock)>> {
        self.foreign_locks_in(ino, limit).await
    }

    fn keeps_durable_opens(&self) -> bool {
        true
    }

    fn dir_changes(&self) -> Option<DirFeed> {
        Some(self.feed.subscribe())
    }

    async fn announce(
        &self,
        dir: InodeId,
        generation: Generation,
        entries: Vec<EntryChange>,
    ) -> StoreResult<()> {
        let entries: Vec<(&[u8], EntryAction, bool)> = entries
            .iter()
            .map(|e| (e.name.as_slice(), e.action, e.is_dir))
            .collect();
        // At most two entries fit one notification's payload.
        for chunk in entries.chunks(2) {
            self.retry(|_| async move {
                self.feed
                    .announce_now(&self.pool, dir, generation, chunk)
                    .await
            })
            .await?;
        }
        Ok(())
    }

    async fn put_durable_open(&self, share: &str, id: u64, record: Vec<u8>) -> StoreResult<()> {
        crate::api::check_durable_open_record(&record)?;
        let record = &record;
        // Ids are unsigned 64-bit values stored by their bits, like offsets in `locks`.
        let id = id as i64;
        self.retry(|_| async move {
            sqlx::query(
                "INSERT INTO durable_opens (share, id, record) VALUES ($1, $2, $3) \
                 ON CONFLICT (share, id) DO UPDATE SET record = EXCLUDED.record",
            )
            .bind(share)
            .bind(id)
            .bind(record.as_slice())
            .execute(&self.pool)
            .await?;
            Ok(())
        })
        .await
    }

    async fn remove_durable_open(&self, share: &str, id: u64) -> StoreResult<()> {
        let id = id as i64;
        self.retry(|_| async move {
            sqlx::query("DELETE FROM durable_opens WHERE share = $1 AND id = $2")
                .bind(share)
                .bind(id)
                .execute(&self.pool)
                .await?;
            Ok(())
        })
        .await
    }

    async fn durable_opens(&self, share: &str) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        let rows: Vec<(i64, Vec<u8>)> = self
            .retry(|_| async move {
                Ok(sqlx::query_as(
                    "SELECT id, record FROM durable_opens WHERE share = $1 ORDER BY id",
                )
                .bind(share)
                .fetch_all(&self.pool)
                .await?)
            })
            .await?;
        let mut out: Vec<(u64, Vec<u8>)> = rows.into_iter().map(|(id, r)| (id as u64, r)).collect();
        // Ordered by the unsigned id (SQL ordered the signed bits).
        out.sort_by_key(|(id, _)| *id);
        Ok(out)
    }

    async fn init_secret(&self, name: &str, value: Vec<u8>) -> StoreResult<Vec<u8>> {
        let value = &value;
        self.retry(|_| async move {
            // Two statements: the insert commits (durably) or meets a committed row, and the
            // select, a new snapshot, sees whichever value was first.
            sqlx::query("INSERT INTO secrets (name, value) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(name)
                .bind(value.as_slice())
                .execute(&self.pool)
                .await?;
            let stored: Option<Vec<u8>> =
                sqlx::query_scalar("SELECT value FROM secrets WHERE name = $1")
                    .bind(name)
                    .fetch_optional(&self.pool)
                    .await?;
            Ok(stored.ok_or_else(|| corrupt("secret vanished after its insert"))?)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the configuration's Debug never shows the password. Method: format one.
    #[test]
    fn config_debug_hides_the_password() {
        let config = PgConfig::new("postgres://u:hunter2@h/d");
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
