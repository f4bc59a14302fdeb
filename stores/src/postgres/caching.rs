//! The caching clients of each gateway hold, shared by the gateways on one database (schema
//! version 6, table `caching`): [`MetadataStore::shared_caching`] for [`PgMetadata`], a
//! [`PgCaching`].
//!
//! # Rows and the mirror
//!
//! A gateway publishes one row per inode its clients cache or hold open in a way that matters
//! to another's share modes, `(session, ino, bits)` ([`CacheBits`]), under its
//! lock session (module `locks`: the same `gateway_sessions` row, the same heartbeat), so the
//! rows of a gateway killed with -9 go (`ON DELETE CASCADE`) when its session lapses and is
//! reaped. A trigger announces every row change, cascades included, on [`CACHING_CHANNEL`].
//!
//! Each gateway keeps a mirror of the other sessions' rows in memory: a listener task
//! `LISTEN`s on the channel, then loads every row, then applies each notification (they
//! arrive in commit order and carry the row's new bits, so applying the ones that overlap
//! the load converges on the store's state). [`SharedCaching::elsewhere`] is one hash lookup
//! in it, cheap enough for every write. While the listener is not connected (at start, after
//! a lost connection until the reload) or the mirror is full ([`CACHING_MIRROR_MAX`] rows),
//! the mirror does not know: `elsewhere` answers [`CacheBits::ALL`] and
//! [`SharedCaching::elsewhere_now`] asks the database.
//!
//! # Share modes
//!
//! An open whose share modes matter to others is published by [`SharedCaching::claim`]: one
//! transaction that takes the inode's claim lock (`pg_advisory_xact_lock`, [`claim_keys`]),
//! reads the other live sessions' rows and writes this session's only if their share modes
//! do not refuse the new handle's ([`CacheBits::modes_conflict`]). Two gateways opening one
//! file at once with conflicting modes serialise there, and the second sees the first's
//! row. (The mirror's answer before that, [`SharedCaching::elsewhere_now`], only spares the
//! loser its work. Plain publications take no lock: a handle they carry that has not been
//! claimed yet still has its claim to pass, which decides.)
//!
//! # Recall requests
//!
//! A gateway about to change an inode another gateway caches sends `pg_notify` on the same
//! channel, `r,<from session>,<ino>,<d|n>` (data or name). Every other gateway's listener
//! queues it ([`SharedCaching::take_recalls`], at most [`RECALLS_QUEUED`]; more are dropped
//! with a warning while the queue is full), the front end recalls its clients' caching and
//! publishes what is left, and the requester sees that in its mirror. NOTIFY delivery is not
//! guaranteed across a lost connection, so requesters bound their waits (the break timeout).
//!
//! # Limits
//!
//! The mirror learns of a row by notification, so a change through another gateway that
//! starts within the notification's delivery time (normally well under a millisecond on one
//! network) after a grant was published may miss it; a grant is published before the client
//! is told of it, so the window never includes a client that already used its caching
//! before the publish committed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;

use super::locks::LockSession;
use super::store_error;
use crate::api::{
    BoxFuture, CacheBits, CacheChange, InodeId, RecallRequest, SharedCaching, StoreError,
    StoreResult,
};

/// The `LISTEN`/`NOTIFY` channel of row changes and recall requests.
pub const CACHING_CHANNEL: &str = "dittofs_caching";

/// Rows of other sessions the mirror keeps; beyond it the mirror stops answering (and the
/// database is asked) until the listener reloads.
pub const CACHING_MIRROR_MAX: usize = 1 << 18;

/// Recall requests queued for the front end.
pub const RECALLS_QUEUED: usize = 256;

/// What the listener and the callers share.
#[derive(Default)]
struct Mirror {
    /// Other sessions' rows: inode → (session, bits).
    rows: HashMap<i64, Vec<(i64, u16)>>,
    /// Rows in `rows`.
    count: usize,
    /// Loaded, and kept current by a connected listener.
    loaded: bool,
    /// A row did not fit: answers are unknown until the next load.
    overflowed: bool,
}

impl Mirror {
    fn knows(&self) -> bool {
        self.loaded && !self.overflowed
    }

    /// Sets `session`'s bits on `ino` (0 removes the row).
    fn apply(&mut self, session: i64, ino: i64, bits: u16) {
        let v = self.rows.entry(ino).or_default();
        match v.iter().position(|(s, _)| *s == session) {
            Some(i) if bits == 0 => {
                v.swap_remove(i);
                self.count -= 1;
            }
            Some(i) => v[i].1 = bits,
            None if bits == 0 => {}
            None if self.count >= CACHING_MIRROR_MAX => self.overflowed = true,
            None => {
                v.push((session, bits));
                self.count += 1;
            }
        }
        if v.is_empty() {
            self.rows.remove(&ino);
        }
    }

    fn bits(&self, ino: i64) -> CacheBits {
        CacheBits(
            self.rows
                .get(&ino)
                .map_or(0, |v| v.iter().fold(0, |a, (_, b)| a | b)),
        )
    }
}

/// State the listener task shares with the store.
struct Shared {
    pool: PgPool,
    session: Arc<LockSession>,
    mirror: Mutex<Mirror>,
    changes: Arc<Notify>,
    recalls: mpsc::Sender<RecallRequest>,
}

impl Shared {
    fn mirror(&self) -> std::sync::MutexGuard<'_, Mirror> {
        // Every critical section leaves the mirror consistent before anything can panic.
        self.mirror.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The gateways' caching on one database. See the [module docs](self).
pub struct PgCaching {
    shared: Arc<Shared>,
    recalls: Mutex<Option<mpsc::Receiver<RecallRequest>>>,
    listener: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for PgCaching {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCaching")
            .field("session", &self.shared.session.id())
            .finish_non_exhaustive()
    }
}

impl Drop for PgCaching {
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

/// One statement: the session is created or renewed (the row's foreign key needs it) and
/// the row `($1 session, $3 ino, $4 bits)` upserted; `$2` is the session's ttl in ms.
const UPSERT_ROW: &str = "WITH s AS ( \
         INSERT INTO gateway_sessions (id, expires_at) \
         VALUES ($1, now() + $2 * interval '1 millisecond') \
         ON CONFLICT (id) DO UPDATE SET expires_at = EXCLUDED.expires_at \
         RETURNING id) \
     INSERT INTO caching (session, ino, bits) SELECT id, $3, $4 FROM s \
     ON CONFLICT (session, ino) DO UPDATE SET bits = EXCLUDED.bits";

/// What the other live sessions' rows of `ino` add up to (`me`: this session).
async fn others<'e>(
    e: impl sqlx::PgExecutor<'e>,
    ino: i64,
    me: i64,
) -> Result<CacheBits, sqlx::Error> {
    let bits: Option<i32> = sqlx::query_scalar(
        "SELECT bit_or(c.bits) FROM caching c JOIN gateway_sessions s ON s.id = c.session \
         WHERE c.ino = $1 AND c.session <> $2 AND s.expires_at >= now()",
    )
    .bind(ino)
    .bind(me)
    .fetch_one(e)
    .await?;
    Ok(CacheBits(bits.unwrap_or(0) as u16 & CacheBits::VALID.0))
}

/// The advisory-lock keys a claim of `ino` takes ([`SharedCaching::claim`]): the byte-range
/// locks' keys of the inode ([`super::locks::inode_keys`]) with the high key's sign bit set,
/// a key space apart from theirs (inode numbers are 63-bit, so their high key is never
/// negative) and from the one-key locks.
fn claim_keys(ino: i64) -> (i32, i32) {
    let (hi, lo) = super::locks::inode_keys(ino);
    (hi | i32::MIN, lo)
}

fn ino_of(ino: InodeId) -> StoreResult<i64> {
    i64::try_from(ino.0).map_err(|_| StoreError::Stale)
}

impl PgCaching {
    /// The caching of session `session` on `pool`'s database; its listener starts at once.
    pub(super) fn start(pool: PgPool, session: Arc<LockSession>) -> Self {
        let (tx, rx) = mpsc::channel(RECALLS_QUEUED);
        let shared = Arc::new(Shared {
            pool,
            session,
            mirror: Mutex::new(Mirror::default()),
            changes: Arc::new(Notify::new()),
            recalls: tx,
        });
        let task = tokio::spawn(listen(Arc::clone(&shared)));
        Self {
            shared,
            recalls: Mutex::new(Some(rx)),
            listener: Mutex::new(Some(task)),
        }
    }

    /// Whether the mirror is loaded and complete (tests wait for it).
    pub fn is_current(&self) -> bool {
        self.shared.mirror().knows()
    }

    /// What the database says other live sessions cache of `ino`.
    async fn query(&self, ino: i64) -> StoreResult<CacheBits> {
        others(&self.shared.pool, ino, self.shared.session.id())
            .await
            .map_err(store_error)
    }
}

impl SharedCaching for PgCaching {
    fn publish(&self, ino: InodeId, held: CacheBits) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            let ino = ino_of(ino)?;
            let s = &self.shared;
            let session = s.session.id();
            if held.is_none() {
                sqlx::query("DELETE FROM caching WHERE session = $1 AND ino = $2")
                    .bind(session)
                    .bind(ino)
                    .execute(&s.pool)
                    .await
                    .map_err(store_error)?;
                return Ok(());
            }
            s.session.start(&s.pool);
            sqlx::query(UPSERT_ROW)
                .bind(session)
                .bind(s.session.ttl_ms())
                .bind(ino)
                .bind(i32::from(held.0))
                .execute(&s.pool)
                .await
                .map_err(store_error)?;
            Ok(())
        })
    }

    fn claim(
        &self,
        ino: InodeId,
        held: CacheBits,
        opening: CacheBits,
    ) -> BoxFuture<'_, StoreResult<bool>> {
        Box::pin(async move {
            let ino = ino_of(ino)?;
            let s = &self.shared;
            let session = s.session.id();
            s.session.start(&s.pool);
            let mut tx = s.pool.begin().await.map_err(store_error)?;
            let (hi, lo) = claim_keys(ino);
            sqlx::query("SELECT pg_advisory_xact_lock($1, $2)")
                .bind(hi)
                .bind(lo)
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            // Read under the lock: every other claim of the inode committed before it, or
            // waits for this one and then reads its row.
            let others = others(&mut *tx, ino, session).await.map_err(store_error)?;
            if opening.modes_conflict(others) {
                tx.rollback().await.map_err(store_error)?;
                return Ok(false);
            }
            sqlx::query(UPSERT_ROW)
                .bind(session)
                .bind(s.session.ttl_ms())
                .bind(ino)
                .bind(i32::from(held.0))
                .execute(&mut *tx)
                .await
                .map_err(store_error)?;
            tx.commit().await.map_err(store_error)?;
            Ok(true)
        })
    }

    fn elsewhere(&self, ino: InodeId) -> CacheBits {
        let Ok(ino) = i64::try_from(ino.0) else {
            return CacheBits::NONE;
        };
        let m = self.shared.mirror();
        if m.knows() {
            m.bits(ino)
        } else {
            CacheBits::ALL
        }
    }

    fn elsewhere_now(&self, ino: InodeId) -> BoxFuture<'_, StoreResult<CacheBits>> {
        Box::pin(async move {
            let ino = ino_of(ino)?;
            {
                let m = self.shared.mirror();
                if m.knows() {
                    return Ok(m.bits(ino));
                }
            }
            self.query(ino).await
        })
    }

    fn any_elsewhere(&self) -> bool {
        let m = self.shared.mirror();
        !m.knows() || m.count > 0
    }

    fn request_recall(&self, ino: InodeId, change: CacheChange) -> BoxFuture<'_, StoreResult<()>> {
        Box::pin(async move {
            let ino = ino_of(ino)?;
            let what = match change {
                CacheChange::Data => 'd',
                CacheChange::Name => 'n',
            };
            let payload = format!("r,{},{ino},{what}", self.shared.session.id());
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(CACHING_CHANNEL)
                .bind(payload)
                .execute(&self.shared.pool)
                .await
                .map_err(store_error)?;
            Ok(())
        })
    }

    fn changes(&self) -> Arc<Notify> {
        Arc::clone(&self.shared.changes)
    }

    fn take_recalls(&self) -> Option<mpsc::Receiver<RecallRequest>> {
        self.recalls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// One notification: a row change or a recall request; `None` when malformed.
#[derive(Debug, PartialEq, Eq)]
enum Message {
    Row {
        session: i64,
        ino: i64,
        bits: u16,
    },
    Recall {
        from: i64,
        ino: i64,
        change: CacheChange,
    },
}

fn parse(payload: &str) -> Option<Message> {
    let mut parts = payload.split(',');
    let kind = parts.next()?;
    let a: i64 = parts.next()?.parse().ok()?;
    let ino: i64 = parts.next()?.parse().ok()?;
    let last = parts.next()?;
    if parts.next().is_some() {
        return None;
    }
    match kind {
        "c" => Some(Message::Row {
            session: a,
            ino,
            bits: u16::try_from(last.parse::<i32>().ok()? & i32::from(CacheBits::VALID.0)).ok()?,
        }),
        "r" => Some(Message::Recall {
            from: a,
            ino,
            change: match last {
                "d" => CacheChange::Data,
                "n" => CacheChange::Name,
                _ => return None,
            },
        }),
        _ => None,
    }
}

/// Every other live session's row.
async fn load(pool: &PgPool, me: i64) -> Result<Vec<(i64, i64, u16)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT c.session, c.ino, c.bits FROM caching c \
         JOIN gateway_sessions s ON s.id = c.session \
         WHERE c.session <> $1 AND s.expires_at >= now()",
    )
    .bind(me)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let bits: i32 = r.try_get(2)?;
            Ok((
                r.try_get(0)?,
                r.try_get(1)?,
                (bits & i32::from(CacheBits::VALID.0)) as u16,
            ))
        })
        .collect()
}

/// The listener loop: `LISTEN`, load, follow; after a lost connection, the same again (with
/// backoff, 100 ms doubling to 5 s). Ends when the store is dropped (aborted).
async fn listen(shared: Arc<Shared>) {
    const FIRST_PAUSE: Duration = Duration::from_millis(100);
    let me = shared.session.id();
    let mut pause = FIRST_PAUSE;
    let mut failing = false;
    loop {
        let connected = async {
            let mut listener = PgListener::connect_with(&shared.pool).await?;
            listener.listen(CACHING_CHANNEL).await?;
            // Loaded after LISTEN: a change committed meanwhile is in the load, its
            // notification, or both.
            let rows = load(&shared.pool, me).await?;
            Ok::<_, sqlx::Error>((listener, rows))
        }
        .await;
        let (mut listener, rows) = match connected {
            Ok(x) => x,
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %e, "caching listener cannot reach PostgreSQL; retrying (other gateways' caching is looked up in the database meanwhile)");
                    failing = true;
                }
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        if failing {
            tracing::info!("caching listener reconnected; mirror reloaded");
            failing = false;
        }
        pause = FIRST_PAUSE;
        {
            let mut m = shared.mirror();
            *m = Mirror::default();
            for (session, ino, bits) in rows {
                m.apply(session, ino, bits);
            }
            m.loaded = true;
        }
        shared.changes.notify_waiters();
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match parse(n.payload()) {
                    Some(Message::Row { session, ino, bits }) => {
                        if session != me {
                            shared.mirror().apply(session, ino, bits);
                            shared.changes.notify_waiters();
                        }
                    }
                    Some(Message::Recall { from, ino, change }) => {
                        if from != me && ino > 0 {
                            let req = RecallRequest {
                                ino: InodeId(ino as u64),
                                change,
                            };
                            if shared.recalls.try_send(req).is_err() {
                                tracing::warn!(
                                    ino,
                                    "recall request dropped: the queue is full (the sender's \
                                     wait ends at its break timeout)"
                                );
                            }
                        }
                    }
                    None => tracing::warn!(payload = n.payload(), "malformed caching notification"),
                },
                // The connection was lost (and would be reopened): notifications may be
                // missing, so start over with a fresh load.
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "caching listener lost PostgreSQL; reconnecting");
                    failing = true;
                    break;
                }
            }
        }
        shared.mirror().loaded = false;
        shared.changes.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: notifications parse as the trigger and the requesters write them, and malformed
    /// ones are refused rather than misread. Method: a few payloads by hand.
    #[test]
    fn payloads_parse() {
        assert_eq!(
            parse("c,5,42,7"),
            Some(Message::Row {
                session: 5,
                ino: 42,
                bits: 7
            })
        );
        assert_eq!(
            parse("r,-3,42,n"),
            Some(Message::Recall {
                from: -3,
                ino: 42,
                change: CacheChange::Name
            })
        );
        for bad in ["", "c,1,2", "c,1,2,3,4", "x,1,2,3", "r,1,2,q", "c,a,2,3"] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    /// Goal: the mirror ORs the sessions' bits, forgets withdrawn rows and stops answering
    /// when full. Method: apply rows by hand.
    #[test]
    fn mirror_tracks_rows() {
        let mut m = Mirror {
            loaded: true,
            ..Mirror::default()
        };
        m.apply(1, 10, 1);
        m.apply(2, 10, 2);
        assert_eq!(m.bits(10), CacheBits(3));
        m.apply(1, 10, 0);
        assert_eq!(m.bits(10), CacheBits(2));
        m.apply(2, 10, 0);
        assert_eq!((m.bits(10), m.count, m.rows.len()), (CacheBits(0), 0, 0));
        m.count = CACHING_MIRROR_MAX;
        m.apply(3, 11, 4);
        assert!(!m.knows());
    }
}
