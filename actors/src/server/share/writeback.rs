//! The write-back cache: unstable writes land here, flush workers write them to the content
//! store, sync it, and only then record the new size and mtime in the metadata store (data
//! before metadata, DESIGN §7). COMMIT waits for that to finish for its file.
//!
//! Memory is bounded: every dirty byte holds a permit from a semaphore shared by all shares
//! ([`DirtyBudget`]); a writer that finds the budget spent waits (and wakes the flush workers)
//! instead of failing. That wait is the backpressure that reaches the client through the
//! connection's in-flight window.
//!
//! Per file there are two layers of pending bytes: `dirty` (accepted, not yet being flushed)
//! and `flushing` (being written by a flush right now). Reads see content, then `flushing`,
//! then `dirty`, so a read never misses an acknowledged write. Flushes of one file are
//! serialised by a per-file async lock, so a later flush never overtakes an earlier one.
//!
//! With a content store that has versions (S3), every change of a file's content (a flush,
//! a truncation, a punched hole) is a version switch that may race another gateway's on the
//! same file: [`WriteBack::change_versioned`] reads the recorded version, re-bases the content
//! store on it ([`ContentStore::rebase`]), makes the change, syncs, and records the new
//! version only over the one it read ([`MetadataStore::record_write_on`]). If another version
//! was recorded meanwhile it starts again on top of that one (the cached extents are still
//! here: they leave the cache only once their record succeeded), a bounded number of times
//! with jittered backoff; a file that keeps conflicting fails the flush with `Busy` (NFS
//! JUKEBOX: the client retries), keeping its bytes. Changes of one file inside this process
//! are serialised by a striped lock, so the version read at the start is the base of what
//! the content store builds. Reads of the content take the same lock shared
//! ([`WriteBack::pin`]): they wait for a change in flight and read the recorded version, never
//! this gateway's unrecorded change, which may lack another gateway's recorded bytes.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use stores::{
    Attr, ContentKey, ContentStore, Generation, InodeId, MetadataStore, Recorded, StoreError,
    StoreId, StoreResult, Timestamp,
};
use tokio::sync::{Notify, Semaphore};

use crate::runtime::Env;

/// The global limit on unflushed bytes, shared by every share's cache.
#[derive(Debug, Clone)]
pub struct DirtyBudget {
    sem: Arc<Semaphore>,
    max: usize,
}

impl DirtyBudget {
    /// A budget of `max` bytes.
    pub fn new(max: usize) -> Self {
        Self {
            sem: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// Bytes currently held by unflushed data.
    pub fn in_use(&self) -> usize {
        self.max - self.sem.available_permits()
    }

    /// The limit.
    pub fn max(&self) -> usize {
        self.max
    }

    /// Whether more than half of the budget is in use: flush workers start flushing eagerly.
    fn is_high(&self) -> bool {
        self.in_use() * 2 > self.max
    }
}

/// The write verifier (RFC 1813 §3.3.7): random per boot, changed whenever unflushed bytes are
/// dropped (a file's flush failed [`FLUSH_ATTEMPTS_MAX`] times in a row) so clients resend their
/// unstable writes.
#[derive(Debug)]
pub struct WriteVerifier(AtomicU64);

impl WriteVerifier {
    /// A verifier starting at `initial` (random per boot).
    pub fn new(initial: u64) -> Self {
        Self(AtomicU64::new(initial))
    }

    /// The current verifier bytes.
    pub fn current(&self) -> [u8; 8] {
        self.0.load(Ordering::SeqCst).to_be_bytes()
    }

    /// Changes the verifier: unstable data may have been lost.
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Tuning for one cache.
#[derive(Debug, Clone)]
pub struct WriteBackConfig {
    /// Flush workers for this share.
    pub flush_workers: usize,
    /// Dirty data older than this is flushed even if nobody asks.
    pub flush_delay: Duration,
    /// Files a worker flushes per wake-up before yielding.
    pub flush_batch_max: usize,
}

impl Default for WriteBackConfig {
    fn default() -> Self {
        Self {
            flush_workers: 2,
            flush_delay: Duration::from_secs(2),
            flush_batch_max: 16,
        }
    }
}

#[derive(Debug, Default)]
struct Layer {
    /// Non-overlapping extents by offset.
    extents: BTreeMap<u64, Bytes>,
    bytes: usize,
}

impl Layer {
    /// Inserts `data` at `off`, trimming what it overlaps. Returns bytes freed by the trim.
    fn insert(&mut self, off: u64, data: Bytes) -> usize {
        let end = off + data.len() as u64;
        let mut freed = 0;
        // Extents starting before `off` that reach into it.
        if let Some((&s, e)) = self.extents.range(..off).next_back() {
            let e_end = s + e.len() as u64;
            if e_end > off {
                let e = self.extents.remove(&s).expect("extent just seen");
                let keep_head = e.slice(..(off - s) as usize);
                freed += e.len() - keep_head.len();
                self.extents.insert(s, keep_head);
                if e_end > end {
                    let tail = e.slice((end - s) as usize..);
                    freed -= tail.len();
                    self.extents.insert(end, tail);
                }
            }
        }
        // Extents starting inside [off, end).
        let inside: Vec<u64> = self.extents.range(off..end).map(|(&s, _)| s).collect();
        for s in inside {
            let e = self.extents.remove(&s).expect("extent just seen");
            let e_end = s + e.len() as u64;
            freed += e.len();
            if e_end > end {
                let tail = e.slice((end - s) as usize..);
                freed -= tail.len();
                self.extents.insert(end, tail);
            }
        }
        self.bytes += data.len();
        self.bytes -= freed;
        self.extents.insert(off, data);
        freed
    }

    /// Drops everything at or beyond `len`. Returns bytes freed.
    fn truncate(&mut self, len: u64) -> usize {
        let mut freed = 0;
        let beyond: Vec<u64> = self.extents.range(len..).map(|(&s, _)| s).collect();
        for s in beyond {
            freed += self.extents.remove(&s).map_or(0, |e| e.len());
        }
        if let Some((&s, e)) = self.extents.range(..len).next_back()
            && s + e.len() as u64 > len
        {
            let e = self.extents.remove(&s).expect("extent just seen");
            let head = e.slice(..(len - s) as usize);
            freed += e.len() - head.len();
            self.extents.insert(s, head);
        }
        self.bytes -= freed;
        freed
    }

    /// The extents that overlap `[off, end)` (cheap reference-counted clones).
    fn extents_in(&self, off: u64, end: u64) -> impl Iterator<Item = (u64, Bytes)> + '_ {
        let first = self
            .extents
            .range(..=off)
            .next_back()
            .map_or(off, |(&s, _)| s);
        self.extents
            .range(first..end)
            .filter(move |(s, e)| **s + e.len() as u64 > off)
            .map(|(&s, e)| (s, e.clone()))
    }

    /// Copies the part of every extent that falls in `[off, off + buf.len())` into `buf`.
    #[cfg(test)]
    fn overlay(&self, off: u64, buf: &mut [u8]) {
        let end = off + buf.len() as u64;
        for (s, e) in self.extents_in(off, end) {
            copy_overlap(off, buf, s, &e);
        }
    }

    fn end(&self) -> u64 {
        self.extents
            .iter()
            .next_back()
            .map_or(0, |(&s, e)| s + e.len() as u64)
    }
}

/// Copies the part of extent `e` (starting at `s`) that overlaps `buf` (starting at `off`).
fn copy_overlap(off: u64, buf: &mut [u8], s: u64, e: &[u8]) {
    let end = off + buf.len() as u64;
    let lo = s.max(off);
    let hi = (s + e.len() as u64).min(end);
    if lo < hi {
        buf[(lo - off) as usize..(hi - off) as usize]
            .copy_from_slice(&e[(lo - s) as usize..(hi - s) as usize]);
    }
}

#[derive(Debug)]
struct FileState {
    dirty: Layer,
    flushing: Layer,
    /// Largest end offset of any accepted write not yet recorded in metadata.
    end: u64,
    /// Time of the latest accepted write.
    mtime: Timestamp,
    /// When the oldest byte in `dirty` was accepted.
    dirty_since: tokio::time::Instant,
    /// Serialises flushes of this file.
    flush_lock: Arc<tokio::sync::Mutex<()>>,
    /// Flushes of this file that failed in a row (its bytes kept for the next attempt).
    failures: u32,
}

/// Whether a flush that failed with `e` may succeed if tried again soon. No space, a
/// read-only store or an invalid request will not: their bytes are dropped at once.
fn transient(e: &StoreError) -> bool {
    matches!(
        e,
        StoreError::Io(_) | StoreError::Busy | StoreError::Backend(_)
    )
}

/// Failed flushes in a row after which a file's unflushed bytes are dropped (and the write
/// verifier changes, so clients resend them): a store that keeps failing must not pin the
/// dirty budget, and with it every writer, for ever. Before that the bytes stay cached, READ
/// keeps returning them and the next flush tries again.
const FLUSH_ATTEMPTS_MAX: u32 = 8;

/// Attempts of one versioned content change that found another version recorded before it
/// gives up with `Busy` (its bytes stay cached; the client retries).
const REBASE_ATTEMPTS_MAX: u32 = 12;

/// The longest wait between two attempts of a versioned change.
const REBASE_BACKOFF_MAX: Duration = Duration::from_millis(400);

/// Stripes of the lock that serialises versioned content changes of one file.
const CONTENT_LOCK_STRIPES: u64 = 64;

/// A change of a file's content that [`WriteBack::change_versioned`] makes on top of the
/// recorded version.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change<'a> {
    /// Cached writes.
    Extents(&'a [(u64, Bytes)]),
    /// Set the length to `len` (bytes past the recorded size are cut first, so a stale tail
    /// never shows up inside the file).
    Length(u64),
    /// Zero `[offset, offset + len)` within the length.
    Punch(u64, u64),
}

#[derive(Debug, Default)]
struct State {
    files: BTreeMap<InodeId, FileState>,
    shutting_down: bool,
}

struct Inner<M, C> {
    meta: Arc<M>,
    content: Arc<C>,
    store: StoreId,
    budget: DirtyBudget,
    verifier: Arc<WriteVerifier>,
    env: Env,
    config: WriteBackConfig,
    state: Mutex<State>,
    kick: Notify,
    /// Completed flushes, ever: readers compare it before and after a metadata read.
    flush_epoch: AtomicU64,
    /// Serialises versioned content changes of one file (striped by inode), taken for
    /// writing by a change and for reading by a read of the content (see [`WriteBack::pin`]).
    content_locks: Box<[tokio::sync::RwLock<()>]>,
    /// Files whose last versioned change failed: the content store may still hold that
    /// change unrecorded, and would serve it (see [`WriteBack::pin`]).
    unsettled: Mutex<std::collections::BTreeSet<InodeId>>,
    /// Jitter of the re-base backoff.
    rebase_rng: Mutex<ChaCha8Rng>,
}

/// Pending attribute changes of a file with unflushed writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    /// Size including unflushed writes (at least).
    pub end: u64,
    /// Modification time of the latest write.
    pub mtime: Timestamp,
}

/// What [`WriteBack::write`] answers for accepted bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The file's size and mtime including the unflushed writes.
    pub pending: Pending,
    /// The write verifier when the bytes entered the cache: what the WRITE reply carries.
    pub verifier: [u8; 8],
}

/// One share's write-back cache. Cheap to clone.
pub struct WriteBack<M, C> {
    inner: Arc<Inner<M, C>>,
}

impl<M, C> Clone for WriteBack<M, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

impl<M: MetadataStore, C: ContentStore> WriteBack<M, C> {
    /// A cache writing to `content` and recording sizes in `meta`.
    pub fn new(
        env: Env,
        meta: Arc<M>,
        content: Arc<C>,
        budget: DirtyBudget,
        verifier: Arc<WriteVerifier>,
        config: WriteBackConfig,
    ) -> Self {
        let store = meta.id();
        let rebase_rng = Mutex::new(env.rng("write-back rebase"));
        Self {
            inner: Arc::new(Inner {
                content_locks: (0..CONTENT_LOCK_STRIPES)
                    .map(|_| tokio::sync::RwLock::new(()))
                    .collect(),
                unsettled: Mutex::default(),
                rebase_rng,
                meta,
                content,
                store,
                budget,
                verifier,
                env,
                config,
                state: Mutex::new(State::default()),
                kick: Notify::new(),
                flush_epoch: AtomicU64::new(0),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.inner
            .state
            .lock()
            .expect("write-back state lock is never poisoned: no panics while held")
    }

    fn key(&self, ino: InodeId, generation: Generation) -> ContentKey {
        ContentKey {
            store: self.inner.store,
            ino,
            generation,
        }
    }

    /// Tells a content store with versions which version metadata records for `ino` (see
    /// [`ContentStore::adopt`]) before its content is read or changed; nothing for stores
    /// without versions. A file removed meanwhile needs nothing.
    pub(crate) async fn adopt(&self, ino: InodeId, key: ContentKey) -> StoreResult<()> {
        if !self.inner.content.has_versions() {
            return Ok(());
        }
        match self.inner.meta.content_version(ino).await {
            Ok(v) => self.inner.content.adopt(key, v).await,
            Err(StoreError::Stale) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// What a read of `ino`'s content (its key `key`) holds while it reads the content
    /// store: for a store with versions, the file's content lock shared, with the store on
    /// the version metadata records (`None` for a store without versions, which needs
    /// neither).
    ///
    /// Why the lock: while this gateway changes the file (a flush between its sync and its
    /// record, or re-basing after a conflict), the content store holds the change
    /// unrecorded and, by its contract, serves it over the recorded version, since it is
    /// newer here. But with another gateway it may not be: that gateway may have recorded a
    /// version this change does not contain yet (the record will conflict, and the change is
    /// then made again on top of it). A read served from the unrecorded change would miss the
    /// other gateway's committed bytes: close-to-open broken. Found by the simulator
    /// (`gateways-s3` seed 0x8c: c4 committed its range of a file through gw2; c2's READ
    /// through gw1, during a gw1 flush of the same file that then conflicted, showed the
    /// range's old bytes). Holding the lock shared, the read waits for a change in flight and
    /// then sees the recorded version, with this gateway's unflushed bytes from the cache.
    /// Reads do not wait for each other. After a change that failed, the store may still hold
    /// its unrecorded leftovers (their acknowledged bytes are back in the cache): the first
    /// read re-bases the store on the recorded version, under the lock held exclusively.
    pub(crate) async fn pin(
        &self,
        ino: InodeId,
        key: ContentKey,
    ) -> StoreResult<Option<tokio::sync::RwLockReadGuard<'_, ()>>> {
        if !self.inner.content.has_versions() {
            return Ok(None);
        }
        let lock = &self.inner.content_locks[(ino.0 % CONTENT_LOCK_STRIPES) as usize];
        let guard = if self.unsettled(ino) {
            let exclusive = lock.write().await;
            if self.unsettled(ino) {
                match self.inner.meta.content_version(ino).await {
                    Ok(v) => self.inner.content.rebase(key, v).await?,
                    Err(StoreError::Stale) => {}
                    Err(e) => return Err(e),
                }
                self.settle(ino, true);
            }
            exclusive.downgrade()
        } else {
            lock.read().await
        };
        self.adopt(ino, key).await?;
        Ok(Some(guard))
    }

    /// The files whose last versioned change failed.
    fn unsettled_set(&self) -> MutexGuard<'_, std::collections::BTreeSet<InodeId>> {
        self.inner
            .unsettled
            .lock()
            .expect("unsettled set lock is never poisoned: no panics while held")
    }

    /// Whether `ino`'s last versioned change failed (see [`WriteBack::pin`]).
    fn unsettled(&self, ino: InodeId) -> bool {
        self.unsettled_set().contains(&ino)
    }

    /// Notes whether `ino`'s last versioned change left the content store settled.
    fn settle(&self, ino: InodeId, settled: bool) {
        let mut set = self.unsettled_set();
        if settled {
            set.remove(&ino);
        } else {
            set.insert(ino);
        }
    }

    /// The content store this cache writes to.
    pub fn content(&self) -> &Arc<C> {
        &self.inner.content
    }

    /// The write verifier.
    pub fn verifier(&self) -> [u8; 8] {
        self.inner.verifier.current()
    }

    /// Starts the flush workers; they exit after [`WriteBack::shutdown`].
    pub fn spawn_workers(&self) -> Vec<tokio::task::JoinHandle<()>> {
        (0..self.inner.config.flush_workers.max(1))
            .map(|_| {
                let me = self.clone();
                tokio::spawn(async move { me.worker().await })
            })
            .collect()
    }

    /// Accepts an unstable write. Waits while the dirty budget is spent.
    ///
    /// Returns the file's pending size and mtime, and the write verifier current when the bytes
    /// entered the cache, read under the same lock as the insert. That verifier, not the one at
    /// reply time, is what the WRITE must answer: if a flush drops these bytes, it changes the
    /// verifier only after they were inserted, so the client's next COMMIT sees a different one
    /// and resends. A verifier read later could already be the new one, and a COMMIT answering
    /// it would tell the client its dropped bytes are safe (found by the simulator, buggify
    /// seed in docs/SIMULATION.md).
    pub async fn write(
        &self,
        ino: InodeId,
        off: u64,
        data: Bytes,
        mtime: Timestamp,
    ) -> StoreResult<Accepted> {
        let len = data.len();
        if len == 0 {
            return Ok(Accepted {
                pending: self.pending(ino).unwrap_or(Pending { end: 0, mtime }),
                verifier: self.inner.verifier.current(),
            });
        }
        let n = u32::try_from(len).map_err(|_| StoreError::Invalid("write larger than 4 GiB"))?;
        if len > self.inner.budget.max() {
            return Err(StoreError::Invalid("write larger than the dirty budget"));
        }
        if self.inner.budget.sem.available_permits() < len {
            self.inner.kick.notify_waiters();
        }
        let Ok(permit) = self.inner.budget.sem.clone().acquire_many_owned(n).await else {
            return Err(StoreError::Busy);
        };
        permit.forget();
        let now = self.inner.env.now();
        let (freed, pending) = {
            let mut st = self.lock();
            let f = st.files.entry(ino).or_insert_with(|| FileState {
                dirty: Layer::default(),
                flushing: Layer::default(),
                end: 0,
                mtime,
                dirty_since: now,
                flush_lock: Arc::new(tokio::sync::Mutex::new(())),
                failures: 0,
            });
            if f.dirty.bytes == 0 {
                f.dirty_since = now;
            }
            let freed = f.dirty.insert(off, data);
            f.end = f.end.max(off + len as u64);
            f.mtime = f.mtime.max(mtime);
            (
                freed,
                Accepted {
                    pending: Pending {
                        end: f.end,
                        mtime: f.mtime,
                    },
                    verifier: self.inner.verifier.current(),
                },
            )
        };
        self.inner.budget.sem.add_permits(freed);
        if self.inner.budget.is_high() {
            self.inner.kick.notify_waiters();
        }
        Ok(pending)
    }

    /// Counts completed flushes. A reader that reads metadata and then finds no pending
    /// writes may have raced a flush that recorded a larger size in between; if this counter
    /// moved across its metadata read, it reads again.
    pub fn flush_epoch(&self) -> u64 {
        self.inner.flush_epoch.load(Ordering::SeqCst)
    }

    /// Unrecorded size and mtime of `ino`, if it has unflushed writes.
    pub fn pending(&self, ino: InodeId) -> Option<Pending> {
        self.lock().files.get(&ino).map(|f| Pending {
            end: f.end,
            mtime: f.mtime,
        })
    }

    /// Reads `len` bytes at `off` of a file (`ino` of `generation`) whose current size is
    /// `size`, seeing unflushed writes. Returns fewer bytes at end of file.
    pub async fn read(
        &self,
        ino: InodeId,
        generation: Generation,
        off: u64,
        len: u32,
        size: u64,
    ) -> StoreResult<Bytes> {
        if off >= size || len == 0 {
            return Ok(Bytes::new());
        }
        let want = (size - off).min(u64::from(len)) as usize;
        let _pinned = self.pin(ino, self.key(ino, generation)).await?;
        let mut attempts = 0;
        let (overlays, mut stored, recorded) = loop {
            attempts += 1;
            let epoch = self.flush_epoch();
            // With unflushed writes the read may reach past the recorded size, where the store
            // can hold a stale tail (an interrupted shrink, a failed flush's unrecorded bytes):
            // those bytes must read as zeros. Found by the simulator (storm seed 0x329).
            let cached = self.lock().files.contains_key(&ino);
            let recorded = if cached {
                Some(self.inner.meta.getattr(ino).await?.size)
            } else {
                None
            };
            // Snapshot the unflushed extents *before* reading the content store: a flush that
            // completes meanwhile wrote its bytes to the store before dropping them from the
            // cache, so every byte is in the snapshot or in what the store returns.
            let overlays: Option<Vec<(u64, Bytes)>> = self.lock().files.get(&ino).map(|f| {
                let end = off + want as u64;
                f.flushing
                    .extents_in(off, end)
                    .chain(f.dirty.extents_in(off, end))
                    .collect()
            });
            let stored = self
                .inner
                .content
                .read(self.key(ino, generation), off, want as u32)
                .await?;
            // A flush that completed meanwhile may have recorded a larger size (and cut the
            // tail): read again so the size and the snapshot agree.
            if overlays.is_none() || self.flush_epoch() == epoch || attempts >= 8 {
                break (overlays, stored, recorded);
            }
        };
        if let (Some(_), Some(recorded)) = (&overlays, recorded)
            && off + stored.len() as u64 > recorded
        {
            let keep = recorded.saturating_sub(off) as usize;
            stored.truncate(keep);
        }
        let Some(overlays) = overlays else {
            if stored.len() < want {
                // The content store is shorter than the recorded size: bytes are missing. Never
                // hand out zeros for data we cannot find (DESIGN §7).
                return Err(StoreError::Io(std::io::Error::other(format!(
                    "content of inode {} is shorter ({} bytes at {off}) than its size {size}",
                    ino.0,
                    stored.len()
                ))));
            }
            return Ok(stored);
        };
        let mut buf = BytesMut::zeroed(want);
        buf[..stored.len()].copy_from_slice(&stored);
        // Oldest first: flushing extents, then dirty ones, so the newest bytes win.
        for (s, e) in overlays {
            copy_overlap(off, &mut buf, s, &e);
        }
        Ok(buf.freeze())
    }

    /// Flushes `ino`'s unflushed writes and makes them and its size durable. What COMMIT,
    /// FILE_SYNC writes and truncation wait on.
    pub async fn flush(&self, ino: InodeId) -> StoreResult<()> {
        self.flush_file(ino).await?;
        self.inner.meta.sync().await
    }

    async fn flush_file(&self, ino: InodeId) -> StoreResult<()> {
        let Some(lock) = self.lock().files.get(&ino).map(|f| f.flush_lock.clone()) else {
            return Ok(());
        };
        let _serial = lock.lock().await;
        let (extents, end, mtime) = {
            let mut st = self.lock();
            let Some(f) = st.files.get_mut(&ino) else {
                return Ok(());
            };
            if f.dirty.bytes == 0 {
                return Ok(());
            }
            f.flushing = std::mem::take(&mut f.dirty);
            let extents: Vec<(u64, Bytes)> = f
                .flushing
                .extents
                .iter()
                .map(|(&o, b)| (o, b.clone()))
                .collect();
            (extents, f.end, f.mtime)
        };
        let result = self.write_out(ino, &extents, end, mtime).await;
        let now = self.inner.env.now();
        let (freed, dropped) = {
            let mut st = self.lock();
            let mut freed = 0;
            let mut dropped = false;
            if let Some(f) = st.files.get_mut(&ino) {
                let flushed = std::mem::take(&mut f.flushing);
                if result.is_ok() {
                    f.failures = 0;
                    freed = flushed.bytes;
                } else if f.failures + 1 >= FLUSH_ATTEMPTS_MAX
                    || result.as_ref().is_err_and(|e| !transient(e))
                {
                    f.failures = 0;
                    freed = flushed.bytes;
                    dropped = true;
                    // The dropped bytes no longer make the file longer.
                    f.end = f.dirty.end();
                } else {
                    // Keep the bytes for the next attempt, under whatever was written since
                    // (newer bytes win where they overlap), and wait a flush delay first.
                    f.failures += 1;
                    let newer = std::mem::replace(&mut f.dirty, flushed);
                    for (off, data) in newer.extents {
                        freed += f.dirty.insert(off, data);
                    }
                    f.dirty_since = now;
                }
                if f.dirty.bytes == 0 {
                    st.files.remove(&ino);
                }
            }
            (freed, dropped)
        };
        self.inner.flush_epoch.fetch_add(1, Ordering::SeqCst);
        self.inner.budget.sem.add_permits(freed);
        if let Err(e) = &result {
            if dropped {
                // The bytes are gone: the new verifier tells clients to resend them.
                self.inner.verifier.bump();
                tracing::error!(ino = ino.0, error = %e, "flush failed; unflushed bytes dropped and write verifier changed so clients resend");
            } else {
                tracing::warn!(ino = ino.0, error = %e, "flush failed; bytes kept for the next attempt");
            }
        }
        result
    }

    /// Makes `change` to `ino`'s content on top of the version metadata records, syncs it
    /// and records the new version over that one, with `end` and `mtime` as
    /// [`MetadataStore::record_write`] takes them; re-bases and tries again while another
    /// version gets recorded first (another gateway), up to [`REBASE_ATTEMPTS_MAX`] times,
    /// then fails with `Busy`. For content stores with versions; `Stale` if the file is gone.
    pub(crate) async fn change_versioned(
        &self,
        ino: InodeId,
        change: Change<'_>,
        end: u64,
        mtime: Timestamp,
    ) -> StoreResult<Attr> {
        let _serial = self.inner.content_locks[(ino.0 % CONTENT_LOCK_STRIPES) as usize]
            .write()
            .await;
        let result = self.change_versioned_locked(ino, change, end, mtime).await;
        // A failed change may have left itself in the content store, unrecorded: the next
        // read re-bases first (see `pin`). The next change re-bases anyway.
        self.settle(ino, result.is_ok());
        result
    }

    /// [`WriteBack::change_versioned`] under the file's content lock.
    async fn change_versioned_locked(
        &self,
        ino: InodeId,
        change: Change<'_>,
        end: u64,
        mtime: Timestamp,
    ) -> StoreResult<Attr> {
        let content = &self.inner.content;
        let meta = &self.inner.meta;
        let mut backoff = Duration::from_millis(5);
        for attempt in 1..=REBASE_ATTEMPTS_MAX {
            // The version first, then the size: a record between the two reads makes the
            // base stale, which the switch below detects; the other order could pair a new
            // version with an old size and cut bytes that version holds.
            let base = meta.content_version(ino).await?;
            let attr = meta.getattr(ino).await?;
            let key = self.key(ino, attr.generation);
            content.rebase(key, base).await?;
            let recorded = attr.size;
            match change {
                Change::Extents(extents) => {
                    // Bytes past the recorded size are a stale tail (see `write_out`).
                    if end > recorded && content.len(key).await? > recorded {
                        content.truncate(key, recorded).await?;
                    }
                    for (off, data) in extents {
                        content.write(key, *off, data.clone()).await?;
                    }
                }
                Change::Length(len) => {
                    let keep = recorded.min(len);
                    if keep < len && content.len(key).await? > keep {
                        content.truncate(key, keep).await?;
                    }
                    content.truncate(key, len).await?;
                }
                Change::Punch(offset, len) => {
                    content.punch_hole(key, offset, len).await?;
                }
            }
            let Some(version) = content.sync(key).await? else {
                return meta.record_write(ino, end, mtime, None).await;
            };
            match meta.record_write_on(ino, end, mtime, base, version).await? {
                Recorded::Done(after) => {
                    content.adopt(key, Some(version)).await?;
                    return Ok(after);
                }
                Recorded::Conflict(now) => {
                    tracing::debug!(
                        ino = ino.0,
                        attempt,
                        ?base,
                        ?now,
                        "another version was recorded first; writing the change again on top of it"
                    );
                    let wait = {
                        let mut rng = self
                            .inner
                            .rebase_rng
                            .lock()
                            .expect("rebase RNG lock is never poisoned: no panics while held");
                        rng.random_range(Duration::ZERO..=backoff)
                    };
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(REBASE_BACKOFF_MAX);
                }
            }
        }
        tracing::warn!(
            ino = ino.0,
            "content change kept conflicting with other gateways' changes; answering busy"
        );
        Err(StoreError::Busy)
    }

    async fn write_out(
        &self,
        ino: InodeId,
        extents: &[(u64, Bytes)],
        end: u64,
        mtime: Timestamp,
    ) -> StoreResult<()> {
        if self.inner.content.has_versions() {
            return match self
                .change_versioned(ino, Change::Extents(extents), end, mtime)
                .await
            {
                // The file was removed while its data was in flight: nothing left to record.
                Ok(_) | Err(StoreError::Stale) => Ok(()),
                Err(e) => Err(e),
            };
        }
        // The record names the content (its generation) and the size recorded so far.
        let attr = match self.inner.meta.getattr(ino).await {
            Ok(a) => a,
            Err(StoreError::Stale) => return Ok(()),
            Err(e) => return Err(e),
        };
        let key = self.key(ino, attr.generation);
        self.adopt(ino, key).await?;
        if end > 0 {
            // Extending past the recorded size: bytes beyond it in the content store are a
            // stale tail (a shrink whose content cut a crash interrupted, or a failed flush's
            // unrecorded bytes) and must read as zeros, not old data, once the size covers them.
            let recorded = attr.size;
            if end > recorded && self.inner.content.len(key).await? > recorded {
                self.inner.content.truncate(key, recorded).await?;
            }
        }
        if crate::buggify!("flush-fails-for-good") {
            // buggify: the store refuses the flush in a way retrying will not cure (the disk is
            // full): the cached bytes are dropped and the write verifier changes, so clients
            // must resend what they wrote unstable.
            return Err(StoreError::NoSpace);
        }
        for (off, data) in extents {
            if crate::buggify!("flush-fails-midway") {
                // buggify: the store takes part of an extent, then fails (a transient I/O
                // error mid-flush); the bytes stay cached and the next flush writes them again.
                let half = data.slice(..data.len() / 2);
                self.inner.content.write(key, *off, half).await?;
                return Err(StoreError::Io(std::io::Error::other(
                    "buggify: content store failed in the middle of a flush",
                )));
            }
            self.inner.content.write(key, *off, data.clone()).await?;
        }
        if crate::buggify!("slow-sync") {
            // buggify: a slow disk sync (the flush, and any COMMIT waiting on it, takes longer).
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // A content store with versions names the bytes just made durable; the size and the
        // version switch together.
        let version = self.inner.content.sync(key).await?;
        match self.inner.meta.record_write(ino, end, mtime, version).await {
            // The store learns that its version is the recorded one (it may then collect
            // the versions before it, once metadata is durable).
            Ok(_) if version.is_some() => self.inner.content.adopt(key, version).await,
            Ok(_) => Ok(()),
            // The file was removed while its data was in flight: nothing left to record.
            Err(StoreError::Stale) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Drops unflushed data at or beyond `len` (truncation). The caller flushes first when it
    /// needs the remaining data durable.
    pub fn truncate(&self, ino: InodeId, len: u64) {
        let freed = {
            let mut st = self.lock();
            let Some(f) = st.files.get_mut(&ino) else {
                return;
            };
            let freed = f.dirty.truncate(len);
            f.end = f.end.min(len).max(f.dirty.end().max(f.flushing.end()));
            freed
        };
        self.inner.budget.sem.add_permits(freed);
    }

    /// Forgets every unflushed byte of a removed file.
    pub fn forget(&self, ino: InodeId) {
        let freed = {
            let mut st = self.lock();
            match st.files.get_mut(&ino) {
                Some(f) => {
                    let freed = f.dirty.bytes;
                    f.dirty = Layer::default();
                    if f.flushing.bytes == 0 {
                        st.files.remove(&ino);
                    }
                    freed
                }
                None => 0,
            }
        };
        self.inner.budget.sem.add_permits(freed);
    }

    /// Flushes everything and stops the workers (graceful shutdown).
    pub async fn shutdown(&self) -> StoreResult<()> {
        let result = self.flush_all().await;
        self.lock().shutting_down = true;
        self.inner.kick.notify_waiters();
        result
    }

    /// Flushes every file with unflushed data, then syncs the metadata store.
    pub async fn flush_all(&self) -> StoreResult<()> {
        let inos: Vec<InodeId> = self.lock().files.keys().copied().collect();
        let mut first_err = None;
        for ino in inos {
            if let Err(e) = self.flush_file(ino).await {
                first_err.get_or_insert(e);
            }
        }
        let synced = self.inner.meta.sync().await;
        match first_err {
            Some(e) => Err(e),
            None => synced,
        }
    }

    /// Files due for flushing: old enough, or any when the budget runs high. Oldest first.
    fn due(&self) -> Vec<InodeId> {
        let now = self.inner.env.now();
        let high = self.inner.budget.is_high();
        let st = self.lock();
        let mut v: Vec<(tokio::time::Instant, InodeId)> = st
            .files
            .iter()
            .filter(|(_, f)| f.dirty.bytes > 0)
            .filter(|(_, f)| {
                high || now.saturating_duration_since(f.dirty_since)
                    >= self.inner.config.flush_delay
            })
            .map(|(&i, f)| (f.dirty_since, i))
            .collect();
        v.sort();
        v.into_iter()
            .map(|(_, i)| i)
            .take(self.inner.config.flush_batch_max)
            .collect()
    }

    /// A flush worker: wakes when kicked or every `flush_delay / 2`, flushes at most
    /// `flush_batch_max` files, and exits once shutdown was requested.
    async fn worker(self) {
        let tick = (self.inner.config.flush_delay / 2).max(Duration::from_millis(10));
        loop {
            let kicked = self.inner.kick.notified();
            tokio::pin!(kicked);
            kicked.as_mut().enable();
            if self.lock().shutting_down {
                return;
            }
            for ino in self.due() {
                if crate::buggify!("flush-delayed") {
                    // buggify: a flush worker held up (a busy machine): dirty bytes stay cached
                    // longer and writers may meet a full budget.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                // Errors are logged and the verifier changed inside flush_file.
                let _ = self.flush_file(ino).await;
            }
            if !self.due().is_empty() {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                biased;
                () = kicked => {}
                () = tokio::time::sleep(tick) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: overlapping inserts keep extents non-overlapping, newest bytes win, byte
    /// accounting stays exact.
    #[test]
    fn layer_insert_overlaps() {
        let mut l = Layer::default();
        l.insert(0, Bytes::from_static(b"aaaaaaaaaa"));
        l.insert(3, Bytes::from_static(b"bbb"));
        l.insert(8, Bytes::from_static(b"cccc"));
        let mut buf = [0u8; 12];
        l.overlay(0, &mut buf);
        assert_eq!(&buf, b"aaabbbaacccc");
        assert_eq!(l.bytes, 12);
        assert_eq!(l.extents.values().map(|b| b.len()).sum::<usize>(), 12);
        l.insert(0, Bytes::from_static(b"dddddddddddddd"));
        assert_eq!(l.bytes, 14);
        assert_eq!(l.extents.len(), 1);
        assert_eq!(l.truncate(5), 9);
        assert_eq!(l.bytes, 5);
        assert_eq!(l.end(), 5);
    }
}
