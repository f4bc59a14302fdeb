//! Namespace changes announced to the other gateways on one database:
//! [`MetadataStore::dir_changes`] for [`PgMetadata`](super::PgMetadata).
//!
//! # Announcing
//!
//! Every transaction that adds, removes or renames a directory entry (create, link, unlink,
//! rmdir, rename) ends with `pg_notify(`[`DIR_CHANGES_CHANNEL`]`, payload)`, one notification
//! per directory it changed, *if another gateway follows the changes*. PostgreSQL delivers a
//! notification only when its transaction commits, and drops it when the transaction rolls
//! back (a retried transaction announces once, from the attempt that committed), so
//! listeners hear exactly the committed changes, in commit order. No table is involved.
//!
//! Why only when followed: PostgreSQL serialises the commits of all transactions that
//! notified (a database-wide lock held through the commit's WAL flush), so notifying costs
//! concurrent namespace changes most of their parallelism (docs/ARCHITECTURE.md has the
//! numbers). A follower is visible to everyone as its `LISTEN` connection, whose
//! `application_name` is [`FOLLOWER_PREFIX`] plus its origin id. Whether one of another
//! origin is connected to this database is read from the server's activity table
//! (`pg_stat_get_activity`, about 0.2 ms of server time: too dear for every change) at most
//! every [`FOLLOWERS_FRESH`] and remembered; a change is announced only while the answer is
//! yes. So a database whose gateways serve no SMB (nothing follows) pays nothing per change.
//! A follower that connects misses what was committed before the announcers noticed it,
//! which its [`DirEvent::Lost`] covers: it says so [`SETTLE`] after connecting, longer than
//! an announcer's answer stays fresh (see below).
//!
//! The payload is text (a notification payload must be, and shorter than 8000 bytes):
//! `1 ORIGIN DIR GENERATION ENTRY…`, space-separated, where `1` is the format version,
//! `ORIGIN` the announcing store value's random id in hex, `DIR` and `GENERATION` the
//! directory's inode and generation in decimal, and each `ENTRY` an action letter (`a` added,
//! `r` removed, `o` a rename's old name, `n` its new name, `m` the node modified, followed by
//! its [`Modified`] bits as four hex digits), a kind letter (`d` directory, `f` anything
//! else) and the name's bytes in hex. Names are at most 255 bytes, so a payload holds at most
//! two of 516 characters each. An older build reads a payload with `m` as one it cannot
//! decode, so its watchers re-read ([`DirEvent::Lost`]) rather than miss it.
//!
//! Modifications (a node's data or attributes) change no entry, so no namespace transaction
//! announces them: the front end that made one announces it through
//! [`MetadataStore::announce`](crate::api::MetadataStore::announce), outside any transaction,
//! under the same rule (only while another origin follows).
//!
//! # Following
//!
//! The first [`MetadataStore::dir_changes`] starts a task that keeps one connection (a pool of
//! its own, named as above) in `LISTEN` on the channel, decodes each notification, drops
//! those of its own origin (the changes this store value made, which its process reports
//! itself) and broadcasts the rest to every receiver through a queue of [`FEED_CAPACITY`]
//! events per receiver.
//! Notifications sent while no `LISTEN` is active are lost for good, so after every
//! (re)connection the task broadcasts [`DirEvent::Lost`] (after [`SETTLE`], so every change
//! committed before all announcers noticed this follower is older than the `Lost`); so does a
//! payload it cannot decode (a newer gateway's format) and a receiver that fell behind its
//! queue. A lost connection is reopened with backoff (100 ms doubling to 5 s). The task ends
//! when the store is dropped.
//!
//! [`MetadataStore::dir_changes`]: crate::api::MetadataStore::dir_changes

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgConnection, PgPool};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::{Node, Step, random_u64};
use crate::api::{
    DirChange, DirEvent, DirFeed, EntryAction, EntryChange, Generation, InodeId, Modified,
};

/// The `LISTEN`/`NOTIFY` channel namespace changes are announced on.
pub const DIR_CHANGES_CHANNEL: &str = "dittofs_dir_changes";

/// Events one receiver may fall behind by before it gets [`DirEvent::Lost`] instead.
pub const FEED_CAPACITY: usize = 1024;

/// The `application_name` of a follower's `LISTEN` connection, before its origin id in hex.
pub const FOLLOWER_PREFIX: &str = "dittofs-follow-";

/// How long an announcer trusts its last look for followers.
pub const FOLLOWERS_FRESH: Duration = Duration::from_millis(250);

/// How long a (re)connected listener waits before it says [`DirEvent::Lost`]: longer than
/// [`FOLLOWERS_FRESH`] plus the time a namespace transaction takes from its announcement to
/// its commit, so the changes announcers made before they noticed the listener are older
/// than the `Lost`.
const SETTLE: Duration = Duration::from_millis(600);

/// The payload format this build writes and reads.
const FORMAT: &str = "1";

/// One store value's announcing and following. See the [module docs](self).
pub(super) struct Feed {
    /// This store value's random origin id: its own announcements are not fed back to it.
    origin: u64,
    /// Its follower name, [`FOLLOWER_PREFIX`] and `origin`.
    name: String,
    /// The listener's pool (one connection, opened when first used).
    pool: PgPool,
    /// When followers were last looked for, and whether one of another origin was there.
    followed: Mutex<Option<(tokio::time::Instant, bool)>>,
    /// The broadcast and the listener task, once [`Feed::subscribe`] started them.
    state: Mutex<Option<(broadcast::Sender<DirEvent>, JoinHandle<()>)>>,
}

impl Feed {
    /// A feed with a fresh origin id whose listener would connect with `options` (the
    /// store's); nothing is connected or followed until [`Feed::subscribe`].
    pub(super) fn new(options: PgConnectOptions, acquire_timeout: Duration) -> Self {
        let origin = random_u64(0x4449_5243_4841_4e47);
        let name = format!("{FOLLOWER_PREFIX}{origin:016x}");
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(0)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(options.application_name(&name));
        Self {
            origin,
            name,
            pool,
            followed: Mutex::new(None),
            state: Mutex::new(None),
        }
    }

    /// A receiver of the other origins' changes, starting the listener first if it is not
    /// running yet.
    pub(super) fn subscribe(&self) -> DirFeed {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tx, _) = state.get_or_insert_with(|| {
            let (tx, _) = broadcast::channel(FEED_CAPACITY);
            let task = tokio::spawn(listen(self.pool.clone(), self.origin, tx.clone()));
            (tx, task)
        });
        DirFeed::new(tx.subscribe())
    }

    /// Announces, inside the transaction `c`, that `entries` of directory `dir` changed, if
    /// a follower of another origin is connected: the notification goes out when the
    /// transaction commits.
    pub(super) async fn announce(
        &self,
        c: &mut PgConnection,
        dir: &Node,
        entries: &[(&[u8], EntryAction, bool)],
    ) -> Step<()> {
        self.announce_on(c, dir.attr.ino, dir.attr.generation, entries)
            .await
    }

    /// [`Self::announce`] by the directory's inode and generation.
    async fn announce_on(
        &self,
        c: &mut PgConnection,
        dir: InodeId,
        generation: Generation,
        entries: &[(&[u8], EntryAction, bool)],
    ) -> Step<()> {
        if !self.followed(c).await? {
            return Ok(());
        }
        let payload = encode(self.origin, dir, generation, entries);
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(DIR_CHANGES_CHANNEL)
            .bind(payload)
            .execute(&mut *c)
            .await?;
        Ok(())
    }

    /// Announces `entries` of directory `dir` outside any transaction, through a connection
    /// of `pool`, if a follower of another origin is connected (see the module docs).
    pub(super) async fn announce_now(
        &self,
        pool: &PgPool,
        dir: InodeId,
        generation: Generation,
        entries: &[(&[u8], EntryAction, bool)],
    ) -> Step<()> {
        let mut c = pool.acquire().await?;
        self.announce_on(&mut c, dir, generation, entries).await
    }

    /// Whether a follower of another origin is connected to this database, as last seen at
    /// most [`FOLLOWERS_FRESH`] ago (looked up through `c` when older).
    async fn followed(&self, c: &mut PgConnection) -> Step<bool> {
        #[expect(
            clippy::disallowed_methods,
            reason = "the PostgreSQL store never runs in the simulator; freshness is real time"
        )]
        let now = tokio::time::Instant::now();
        let seen = *self.followed.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, yes)) = seen
            && now.duration_since(at) < FOLLOWERS_FRESH
        {
            return Ok(yes);
        }
        let yes: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_stat_get_activity(NULL) a \
             WHERE a.application_name LIKE $1 AND a.application_name <> $2 \
             AND a.datid = (SELECT oid FROM pg_database WHERE datname = current_database()))",
        )
        .bind(format!("{FOLLOWER_PREFIX}%"))
        .bind(&self.name)
        .fetch_one(&mut *c)
        .await?;
        *self.followed.lock().unwrap_or_else(PoisonError::into_inner) = Some((now, yes));
        Ok(yes)
    }
}

impl Drop for Feed {
    fn drop(&mut self) {
        if let Some((_, task)) = self
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            task.abort();
        }
    }
}

/// The payload announcing `entries` of `dir` (see the [module docs](self)).
fn encode(
    origin: u64,
    dir: InodeId,
    generation: Generation,
    entries: &[(&[u8], EntryAction, bool)],
) -> String {
    use std::fmt::Write as _;
    let mut s = format!("{FORMAT} {origin:x} {} {}", dir.0, generation.0);
    for &(name, action, is_dir) in entries {
        s.push(' ');
        match action {
            EntryAction::Added => s.push('a'),
            EntryAction::Removed => s.push('r'),
            EntryAction::RenamedFrom => s.push('o'),
            EntryAction::RenamedTo => s.push('n'),
            EntryAction::Modified(m) => {
                let _ = write!(s, "m{:04x}", m.0);
            }
        }
        s.push(if is_dir { 'd' } else { 'f' });
        for b in name {
            let _ = write!(s, "{b:02x}");
        }
    }
    s
}

/// The origin and change a payload announces; `None` for one this build cannot read.
fn decode(payload: &str) -> Option<(u64, DirChange)> {
    let mut words = payload.split(' ');
    if words.next()? != FORMAT {
        return None;
    }
    let origin = u64::from_str_radix(words.next()?, 16).ok()?;
    let dir = InodeId(words.next()?.parse().ok()?);
    let generation = Generation(words.next()?.parse().ok()?);
    let mut entries = Vec::new();
    for w in words {
        let (action, mut rest) = w.split_at_checked(1)?;
        let action = match action {
            "a" => EntryAction::Added,
            "r" => EntryAction::Removed,
            "o" => EntryAction::RenamedFrom,
            "n" => EntryAction::RenamedTo,
            "m" => {
                let (bits, after) = rest.split_at_checked(4)?;
                if !bits.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return None;
                }
                rest = after;
                EntryAction::Modified(Modified(u16::from_str_radix(bits, 16).ok()?))
            }
            _ => return None,
        };
        let (kind, hex) = rest.split_at_checked(1)?;
        let is_dir = match kind {
            "d" => true,
            "f" => false,
            _ => return None,
        };
        if hex.is_empty() || hex.len() % 2 != 0 || hex.len() > 2 * 255 {
            return None;
        }
        let name = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
            .collect::<Option<Vec<u8>>>()?;
        entries.push(EntryChange {
            name,
            action,
            is_dir,
        });
    }
    if entries.is_empty() {
        return None;
    }
    Some((
        origin,
        DirChange {
            dir,
            generation,
            entries,
        },
    ))
}

/// The listener loop ([`super::listen::follow`]): see the [module docs](self).
async fn listen(pool: PgPool, origin: u64, tx: broadcast::Sender<DirEvent>) {
    super::listen::follow(
        pool,
        DIR_CHANGES_CHANNEL,
        "directory change listener",
        move |payload| match payload.map(|p| (p, decode(p))) {
            Some((_, Some((from, _)))) if from == origin => {}
            Some((_, Some((_, change)))) => {
                let _ = tx.send(DirEvent::Changed(Arc::new(change)));
            }
            Some((p, None)) => {
                tracing::debug!(payload = p, "undecodable directory change");
                let _ = tx.send(DirEvent::Lost);
            }
            // (Re)connected: changes committed while no LISTEN was active sent notifications
            // nobody got, or none at all (nobody followed), and the other stores notice this
            // follower only within FOLLOWERS_FRESH: watchers re-read once that has passed.
            None => {
                let tx = tx.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(SETTLE).await;
                    let _ = tx.send(DirEvent::Lost);
                });
            }
        },
    )
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: a payload decodes to what was encoded, for any bytes in a name up to 255 of
    /// them, and stays under PostgreSQL's 8000-byte payload limit; damaged payloads decode to
    /// nothing rather than to a wrong change. Method: round trips and a few broken payloads.
    #[test]
    fn payload_round_trip() {
        let long = vec![0xffu8; 255];
        let odd = b"a b\x00\xc3(".to_vec();
        let entries = [
            (long.as_slice(), EntryAction::RenamedFrom, false),
            (odd.as_slice(), EntryAction::RenamedTo, true),
        ];
        let modified = [(
            long.as_slice(),
            EntryAction::Modified(Modified::SIZE | Modified::WRITE),
            false,
        )];
        let p = encode(5, InodeId(8), Generation(1), &modified);
        assert!(p.len() < 8000);
        let (_, change) = decode(&p).expect("a modification decodes");
        assert_eq!(change.entries[0].action, EntryAction::Modified(Modified(3)));
        assert_eq!(change.entries[0].name, long);
        let p = encode(u64::MAX, InodeId(7), Generation(3), &entries);
        assert!(p.len() < 8000);
        let (origin, change) = decode(&p).expect("decodes");
        assert_eq!(origin, u64::MAX);
        assert_eq!(change.dir, InodeId(7));
        assert_eq!(change.generation, Generation(3));
        let got: Vec<_> = change
            .entries
            .iter()
            .map(|e| (e.name.as_slice(), e.action, e.is_dir))
            .collect();
        assert_eq!(got, entries);
        for bad in [
            "",
            "2 1 7 3 af61",
            "1 zz 7 3 af61",
            "1 1 7 3",
            "1 1 7 3 xf61",
            "1 1 7 3 aq61",
            "1 1 7 3 af6",
            "1 1 7 3 af",
            "1 1 7 3 afé1",
            "1 1 7 3 mf61",
            "1 1 7 3 m00zzf61",
            "1 1 7 3 m+003f61",
            "1 1 7 3 m0003",
        ] {
            assert!(decode(bad).is_none(), "{bad:?} decoded");
        }
    }
}
