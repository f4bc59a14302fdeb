//! Byte-range locks shared by the gateways on one database (schema version 4, tables
//! `gateway_sessions` and `locks`): [`MetadataStore::publish_locks`] and
//! [`MetadataStore::foreign_lock`] for [`PgMetadata`].
//!
//! # Sessions
//!
//! Each [`PgMetadata`] (one per gateway process) has a random session id. Its row in
//! `gateway_sessions` is created by the first lock change and kept alive by a heartbeat task
//! (started then) that moves `expires_at` to `now() + ttl` every `ttl / 3`
//! ([`LOCK_SESSION_TTL`], 30 s by default, so a beat every 10 s; [`PgConfig::lock_session_ttl`]).
//! Every lock change renews it too. A session whose `expires_at` has passed is dead: conflict
//! checks ignore its locks, and whoever finds it (a conflict check on an inode it held locks
//! on, or any heartbeat) deletes it, its locks with it (`ON DELETE CASCADE`). So the locks of
//! a gateway killed with -9, or cut off from the database for longer than the ttl, are
//! released for the others once its session expires. Times are the database's clock.
//!
//! A gateway that finds its own session gone (it was cut off for longer than the ttl and
//! another gateway reaped it) logs it and starts the session again; the locks it held were
//! released for the other gateways meanwhile and are published again only as their owners
//! change them. That is the limit of a lease: a gateway that cannot reach the database cannot
//! keep its locks.
//!
//! # Serialisation
//!
//! A lock change is one transaction that takes the transaction-scoped advisory lock of its
//! inode (the two-key form `pg_advisory_xact_lock(hi, lo)` of the 64-bit inode number, a key
//! space apart from the one-key locks [`super::RENAME_LOCK`] and [`super::IDENTITY_LOCK`]),
//! reads the other live sessions' locks on the inode, checks the wanted ranges against them
//! in Rust ([`RangeLock::conflicts`]) and only then replaces this session's rows for the
//! owner. Two gateways granting conflicting locks on one inode therefore cannot both pass the
//! check. Contention (a lock wait past `statement_timeout`, a deadlock) is retried like every
//! other call ([`PgMetadata`]'s retry deadline), then fails with [`StoreError::Busy`].
//!
//! # News
//!
//! Every lock change sends `NOTIFY` on [`LOCKS_CHANNEL`] in its transaction (delivered on
//! commit) with the payload `SESSION INODE`; a heartbeat that removes lapsed sessions sends
//! `SESSION *`. [`MetadataStore::lock_news`](crate::MetadataStore::lock_news) follows the
//! channel ([`super::listen`]) and hands the other sessions' news to its subscribers as
//! [`LockNews`], with [`LockNews::Resync`] after a reconnection and for `*`; subscribing starts
//! the heartbeat too, so every gateway that mirrors locks also removes lapsed sessions and
//! tells the others. A lapsed session's locks are ignored by conflict checks at once; they
//! leave the mirrors when a heartbeat removes the session, at most a third of the ttl later.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use sqlx::{PgConnection, PgPool, Row};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::{PgMetadata, random_u64, store_error};
use crate::api::{ForeignLock, InodeId, LockNews, RangeLock, StoreError, StoreResult};

/// The `LISTEN`/`NOTIFY` channel lock changes notify (see [News](self#news)).
pub(super) const LOCKS_CHANNEL: &str = "dittofs_locks";

/// News a subscriber may fall behind by before it gets `Lagged` (and so resynchronises).
const NEWS_CAPACITY: usize = 1024;

/// How long a gateway's session (and so its locks) outlives its last heartbeat by default.
/// A gateway that dies holds its locks at most this long for the others.
pub const LOCK_SESSION_TTL: Duration = Duration::from_secs(30);

/// The shortest ttl accepted: below it a heartbeat could not keep up with the database's
/// round trips.
pub const LOCK_SESSION_TTL_MIN: Duration = Duration::from_millis(300);

/// One gateway process's lock session. See the [module docs](self).
pub(super) struct LockSession {
    /// The random session id.
    id: i64,
    /// How long the session lives after a heartbeat.
    ttl: Duration,
    /// The heartbeat task, started by the first lock change; aborted on drop.
    beat: Mutex<Option<JoinHandle<()>>>,
    /// The news feed and the task that follows [`LOCKS_CHANNEL`] for it, started by the first
    /// subscriber; the task is aborted on drop.
    news: Mutex<Option<(broadcast::Sender<LockNews>, JoinHandle<()>)>>,
}

impl LockSession {
    /// A session, not yet started, with `ttl` (at least [`LOCK_SESSION_TTL_MIN`]).
    pub(super) fn new(ttl: Duration) -> Self {
        Self {
            id: (random_u64(0x4c4f_434b_5345_5353) >> 1) as i64,
            ttl: ttl.max(LOCK_SESSION_TTL_MIN),
            beat: Mutex::new(None),
            news: Mutex::new(None),
        }
    }

    /// The session id.
    pub(super) fn id(&self) -> i64 {
        self.id
    }

    /// The ttl in milliseconds.
    pub(super) fn ttl_ms(&self) -> i64 {
        i64::try_from(self.ttl.as_millis()).unwrap_or(i64::MAX)
    }

    /// Starts the heartbeat once.
    pub(super) fn start(&self, pool: &PgPool) {
        let mut slot = self.beat.lock().unwrap_or_else(PoisonError::into_inner);
        if slot.is_none() {
            *slot = Some(tokio::spawn(heartbeat(pool.clone(), self.id, self.ttl)));
        }
    }

    /// A subscription to the other sessions' lock news, starting the feed (and the
    /// heartbeat) on first use.
    fn subscribe(&self, pool: &PgPool) -> broadcast::Receiver<LockNews> {
        self.start(pool);
        let mut slot = self.news.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((tx, _)) = slot.as_ref() {
            return tx.subscribe();
        }
        let (tx, rx) = broadcast::channel(NEWS_CAPACITY);
        let (feed, own) = (tx.clone(), self.id);
        let task = tokio::spawn(super::listen::follow(
            pool.clone(),
            LOCKS_CHANNEL,
            "lock news listener",
            move |payload| {
                let news = match payload {
                    None => Some(LockNews::Resync),
                    Some(p) => parse_news(p, own),
                };
                if let Some(news) = news {
                    // No subscriber left: nobody to tell.
                    let _ = feed.send(news);
                }
            },
        ));
        *slot = Some((tx, task));
        rx
    }
}

/// The news in a notification's payload (`SESSION INODE` or `SESSION *`): `None` for this
/// session's own lock changes, [`LockNews::Resync`] for removed sessions (whoever removed
/// them) and for a payload this version does not understand (logged).
fn parse_news(payload: &str, own: i64) -> Option<LockNews> {
    let parsed = payload.split_once(' ').and_then(|(session, what)| {
        let session: i64 = session.parse().ok()?;
        let news = match what {
            "*" => LockNews::Resync,
            ino => LockNews::Changed(InodeId(ino.parse().ok()?)),
        };
        Some((session, news))
    });
    match parsed {
        // Removed sessions are news to every mirror, the remover's too.
        Some((_, LockNews::Resync)) => Some(LockNews::Resync),
        Some((session, _)) if session == own => None,
        Some((_, news)) => Some(news),
        None => {
            tracing::warn!(payload, "unknown lock news; resynchronising");
            Some(LockNews::Resync)
        }
    }
}

impl Drop for LockSession {
    fn drop(&mut self) {
        if let Some(task) = self
            .beat
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
        if let Some((_, task)) = self
            .news
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

/// Creates session `id`, or moves its expiry to `now() + ttl_ms`; whether it had to be
/// created (it had never been, or had lapsed and been reaped).
async fn renew(c: &mut PgConnection, id: i64, ttl_ms: i64) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO gateway_sessions (id, expires_at) \
         VALUES ($1, now() + $2 * interval '1 millisecond') \
         ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at \
         RETURNING (xmax = 0)",
    )
    .bind(id)
    .bind(ttl_ms)
    .fetch_one(&mut *c)
    .await
}

/// The heartbeat: renews the session every `ttl / 3` and deletes lapsed sessions (with their
/// locks). Failures are logged and tried again at the next beat. Ends when aborted (the
/// store is dropped).
async fn heartbeat(pool: PgPool, id: i64, ttl: Duration) {
    let ttl_ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    let mut failing = false;
    loop {
        tokio::time::sleep(ttl / 3).await;
        let beat = async {
            let mut c = pool.acquire().await?;
            let created = renew(&mut c, id, ttl_ms).await?;
            let reaped = sqlx::query("DELETE FROM gateway_sessions WHERE expires_at < now()")
                .execute(&mut *c)
                .await?
                .rows_affected();
            if reaped > 0 {
                // Their locks went with them: the mirrors resynchronise.
                notify(&mut c, &format!("{id} *")).await?;
            }
            Ok::<_, sqlx::Error>((created, reaped))
        }
        .await;
        match beat {
            Ok((created, reaped)) => {
                if created {
                    tracing::error!(
                        session = id,
                        "this gateway's lock session had lapsed (no heartbeat reached \
                         PostgreSQL for longer than its ttl): the byte-range locks and \
                         caching it held were released for the other gateways; session \
                         started again"
                    );
                }
                if reaped > 0 {
                    tracing::info!(reaped, "removed lapsed gateway lock sessions");
                }
                failing = false;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, session = id, "lock session heartbeat failed; retrying");
                }
                failing = true;
            }
        }
    }
}

/// The advisory-lock keys of an inode: its high and low 32 bits.
pub(super) fn inode_keys(ino: i64) -> (i32, i32) {
    ((ino >> 32) as i32, ino as i32)
}

/// `NOTIFY` on [`LOCKS_CHANNEL`] with `payload` (sent when the transaction of `c` commits).
async fn notify(c: &mut PgConnection, payload: &str) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(LOCKS_CHANNEL)
        .bind(payload)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// The live locks sessions other than `session` hold, on `ino` (or on every inode), at most
/// `limit` (all: `i64::MAX`), with their inodes. Lapsed sessions' locks are skipped; the
/// heartbeats remove those sessions (and tell the mirrors, see [News](self#news)).
async fn foreign_rows(
    c: &mut PgConnection,
    session: i64,
    ino: Option<i64>,
    limit: i64,
) -> Result<Vec<(InodeId, ForeignLock)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT l.ino, l.owner, l.lock_offset, l.lock_length, l.exclusive \
         FROM locks l JOIN gateway_sessions s ON s.id = l.session \
         WHERE ($2::bigint IS NULL OR l.ino = $2) AND l.session <> $1 \
         AND s.expires_at >= now() \
         ORDER BY l.ino, l.session, l.owner, l.lock_offset LIMIT $3",
    )
    .bind(session)
    .bind(ino)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                InodeId(r.try_get::<i64, _>(0)? as u64),
                ForeignLock {
                    owner: r.try_get(1)?,
                    lock: RangeLock {
                        offset: r.try_get::<i64, _>(2)? as u64,
                        length: r.try_get::<i64, _>(3)? as u64,
                        exclusive: r.try_get(4)?,
                    },
                },
            ))
        })
        .collect()
}

fn first_conflict(
    foreign: Vec<(InodeId, ForeignLock)>,
    wanted: &[RangeLock],
) -> Option<ForeignLock> {
    foreign
        .into_iter()
        .map(|(_, f)| f)
        .find(|f| wanted.iter().any(|w| w.conflicts(&f.lock)))
}

impl PgMetadata {
    /// This gateway's lock session id (tests look at its rows).
    pub fn lock_session(&self) -> i64 {
        self.locks.id
    }

    pub(super) async fn publish_locks_in(
        &self,
        ino: InodeId,
        owner: &[u8],
        wanted: &[RangeLock],
        held: &[RangeLock],
    ) -> StoreResult<Option<ForeignLock>> {
        let ino = i64::try_from(ino.0).map_err(|_| StoreError::Stale)?;
        self.locks.start(&self.pool);
        let (session, ttl_ms) = (self.locks.id, self.locks.ttl_ms());
        let (hi, lo) = inode_keys(ino);
        let offsets: Vec<i64> = held.iter().map(|l| l.offset as i64).collect();
        let lengths: Vec<i64> = held.iter().map(|l| l.length as i64).collect();
        let exclusive: Vec<bool> = held.iter().map(|l| l.exclusive).collect();
        let (offsets, lengths, exclusive) = (&offsets, &lengths, &exclusive);
        self.retry(|_| async move {
            let mut tx = self.pool.begin().await?;
            renew(&mut tx, session, ttl_ms).await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind(hi)
                .bind(lo)
                .execute(&mut *tx)
                .await?;
            if !wanted.is_empty() {
                let foreign = foreign_rows(&mut tx, session, Some(ino), i64::MAX).await?;
                if let Some(f) = first_conflict(foreign, wanted) {
                    return Ok(Some(f));
                }
            }
            sqlx::query("DELETE FROM locks WHERE session = $1 AND ino = $2 AND owner = $3")
                .bind(session)
                .bind(ino)
                .bind(owner)
                .execute(&mut *tx)
                .await?;
            if !held.is_empty() {
                sqlx::query(
                    "INSERT INTO locks (session, ino, owner, lock_offset, lock_length, exclusive) \
                     SELECT $1, $2, $3, * FROM UNNEST($4::bigint[], $5::bigint[], $6::boolean[])",
                )
                .bind(session)
                .bind(ino)
                .bind(owner)
                .bind(offsets)
                .bind(lengths)
                .bind(exclusive)
                .execute(&mut *tx)
                .await?;
            }
            notify(&mut tx, &format!("{session} {ino}")).await?;
            tx.commit().await?;
            Ok(None)
        })
        .await
    }

    pub(super) async fn foreign_lock_in(
        &self,
        ino: InodeId,
        wanted: RangeLock,
    ) -> StoreResult<Option<ForeignLock>> {
        let ino = i64::try_from(ino.0).map_err(|_| StoreError::Stale)?;
        let mut c = self.pool.acquire().await.map_err(store_error)?;
        let foreign = foreign_rows(&mut c, self.locks.id, Some(ino), i64::MAX)
            .await
            .map_err(store_error)?;
        Ok(first_conflict(foreign, &[wanted]))
    }

    pub(super) fn lock_news_in(&self) -> broadcast::Receiver<LockNews> {
        self.locks.subscribe(&self.pool)
    }

    pub(super) async fn foreign_locks_in(
        &self,
        ino: Option<InodeId>,
        limit: usize,
    ) -> StoreResult<Vec<(InodeId, ForeignLock)>> {
        let ino = ino
            .map(|i| i64::try_from(i.0).map_err(|_| StoreError::Stale))
            .transpose()?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let mut c = self.pool.acquire().await.map_err(store_error)?;
        foreign_rows(&mut c, self.locks.id, ino, limit)
            .await
            .map_err(store_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the advisory-lock keys split an inode number into its two halves, so distinct
    /// inodes (below 2^63) get distinct key pairs. Method: a few values by hand.
    #[test]
    fn inode_keys_split() {
        assert_eq!(inode_keys(1), (0, 1));
        assert_eq!(inode_keys((7 << 32) | 0xffff_ffff), (7, -1));
        assert_ne!(inode_keys(1 << 32), inode_keys(1));
    }

    /// Goal: news payloads parse into the news they carry, this session's own lock changes
    /// are dropped (not its removal of lapsed sessions), and anything else resynchronises
    /// rather than being ignored. Method: payloads by hand.
    #[test]
    fn news_payloads() {
        assert_eq!(parse_news("7 42", 1), Some(LockNews::Changed(InodeId(42))));
        assert_eq!(parse_news("7 *", 1), Some(LockNews::Resync));
        assert_eq!(parse_news("1 42", 1), None);
        assert_eq!(parse_news("1 *", 1), Some(LockNews::Resync));
        assert_eq!(parse_news("garbage", 1), Some(LockNews::Resync));
        assert_eq!(parse_news("7 x", 1), Some(LockNews::Resync));
    }
}
