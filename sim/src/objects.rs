//! A versioned object store shared by several gateways, modelled on the S3 content store
//! (`stores::s3::S3Content`) at the level the server sees it: [`ObjectTable`] on host `db`
//! (the bucket) and one [`ObjectFront`] per gateway boot (the `ContentStore` the server uses).
//!
//! What is kept of `S3Content`:
//! - Objects are immutable and create-only: one per (content key, version), holding the whole
//!   file as of that version (S3Content splits it into block objects named by a manifest; the
//!   server cannot tell the difference). A put of a name that exists fails, and the front
//!   draws another version, as S3Content does on `412 Precondition Failed`.
//! - Versions are stamps `max(now_ms << 20 | random 20 bits, base + 1, last + 1)`: `now` is
//!   the gateway's wall clock (which the nemesis jumps), `base` the version the change builds
//!   on, `last` the front's previous stamp. So a version is greater than its base whatever
//!   the clocks say.
//! - The front keeps a head per file: the version it serves (adopted, re-based to, or synced
//!   here) plus the changes made since, in gateway memory. `sync` puts a new version and
//!   returns it; `adopt` and `rebase` follow the trait docs (and S3Content) exactly: a head
//!   with changes metadata has not recorded keeps them on `adopt`, loses them on `rebase`.
//! - Every table call goes through [`Remote`], so a partition or hold between a gateway and
//!   `db` acts on it as on a real bucket request: lost before it ran, or ran with its answer
//!   lost (a put that happened, unknown to the gateway).
//!
//! A gateway crash loses its front (the heads, with every unsynced change); the table
//! survives. Superseded versions are never collected (no garbage collection is modelled), so
//! a version whose object is missing when a front loads it is a bug in the server or here:
//! [`ObjectTable::missing`] lists such loads (of files not removed), and the scenario fails.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use actors::runtime::Clock;
use bytes::Bytes;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stores::{ContentKey, ContentStore, ContentVersion, StoreError, StoreResult, Usage};

use crate::clock::SimClock;
use crate::remote::Remote;

/// The largest object (as `SimDisk`'s): what FSINFO reports.
const OBJECT_MAX: u64 = 64 << 20;

/// What happened to the objects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ObjectCounts {
    /// Versions put.
    pub puts: u64,
    /// Puts refused because the name existed (a retried put, or two gateways' equal stamps).
    pub collisions: u64,
    /// Versions loaded by a front.
    pub gets: u64,
    /// Re-bases that dropped changes metadata had not recorded (after a conflicting record,
    /// or a failed one): the server then writes its changes again on the recorded version.
    pub rebases: u64,
}

impl fmt::Display for ObjectCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "puts={} collisions={} gets={} rebases={}",
            self.puts, self.collisions, self.gets, self.rebases
        )
    }
}

#[derive(Debug, Default)]
struct TableState {
    objects: BTreeMap<(ContentKey, u64), Arc<Vec<u8>>>,
    removed: BTreeSet<ContentKey>,
    counts: ObjectCounts,
    missing: Vec<(ContentKey, u64, u32)>,
}

/// The bucket: durable, immutable objects by (content key, version), on host `db`.
#[derive(Debug, Default)]
pub struct ObjectTable {
    state: Mutex<TableState>,
}

impl ObjectTable {
    /// An empty bucket.
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> std::sync::MutexGuard<'_, TableState> {
        self.state.lock().expect("no panics under the table lock")
    }

    /// The object of `key` at `version`, if it exists.
    fn get(&self, key: ContentKey, version: u64) -> Option<Arc<Vec<u8>>> {
        let mut s = self.state();
        s.counts.gets += 1;
        s.objects.get(&(key, version)).cloned()
    }

    /// Creates the object of `key` at `version`; `false` (nothing changes) if it exists.
    fn put_new(&self, key: ContentKey, version: u64, data: Arc<Vec<u8>>) -> bool {
        let mut s = self.state();
        if s.objects.contains_key(&(key, version)) {
            s.counts.collisions += 1;
            return false;
        }
        s.counts.puts += 1;
        s.objects.insert((key, version), data);
        true
    }

    /// Deletes every version of `key` (the file is gone).
    fn remove(&self, key: ContentKey) {
        let mut s = self.state();
        s.removed.insert(key);
        s.objects.retain(|(k, _), _| *k != key);
    }

    /// What happened so far.
    pub fn counts(&self) -> ObjectCounts {
        self.state().counts
    }

    /// Versions a front found missing when it loaded them, for files never removed:
    /// `(key, version, gateway)`. Empty in a correct run.
    pub fn missing(&self) -> Vec<(ContentKey, u64, u32)> {
        let s = self.state();
        s.missing
            .iter()
            .filter(|(k, _, _)| !s.removed.contains(k))
            .copied()
            .collect()
    }
}

/// One file as a front sees it (`S3Content`'s head).
#[derive(Debug)]
struct Head {
    /// The version served and built on: adopted, re-based to, or the last one synced here.
    version: Option<u64>,
    /// `version`'s bytes plus the changes since; `None` until loaded from the table.
    data: Option<Vec<u8>>,
    /// Changes since `version`.
    changed: bool,
    /// The version the next sync puts (what `write` returns).
    pending: Option<u64>,
    /// Versions synced here that metadata has not yet been seen to record.
    unconfirmed: Vec<u64>,
}

impl Head {
    fn at(version: Option<u64>) -> Self {
        Self {
            version,
            data: version.is_none().then(Vec::new),
            changed: false,
            pending: None,
            unconfirmed: Vec::new(),
        }
    }

    /// Whether the head holds anything metadata has not recorded.
    fn busy(&self) -> bool {
        self.changed || !self.unconfirmed.is_empty()
    }
}

type HeadRef = Arc<tokio::sync::Mutex<Head>>;

/// One gateway's view of the bucket during one boot: a [`ContentStore`] with versions.
pub struct ObjectFront {
    table: Arc<Remote<ObjectTable>>,
    gateway: u32,
    clock: SimClock,
    rng: Mutex<ChaCha8Rng>,
    /// The last stamp handed out (stamps only grow within a boot).
    last_stamp: AtomicU64,
    heads: Mutex<BTreeMap<ContentKey, HeadRef>>,
}

impl fmt::Debug for ObjectFront {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectFront")
            .field("gateway", &self.gateway)
            .finish_non_exhaustive()
    }
}

impl ObjectFront {
    /// Gateway `gateway`'s front on `table`, stamping with `clock`; `seed` draws the stamps'
    /// low bits.
    pub fn new(table: Arc<Remote<ObjectTable>>, gateway: u32, clock: SimClock, seed: u64) -> Self {
        Self {
            table,
            gateway,
            clock,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            last_stamp: AtomicU64::new(0),
            heads: Mutex::default(),
        }
    }

    /// A new stamp above `after` and every earlier stamp of this front.
    fn next_stamp(&self, after: Option<u64>) -> u64 {
        let now_ms = self
            .clock
            .wall()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let low = self
            .rng
            .lock()
            .expect("no panics under the stamp RNG lock")
            .random_range(0..1u64 << 20);
        let prev = self.last_stamp.load(Ordering::Relaxed);
        let s = ((now_ms << 20) | low)
            .max(after.unwrap_or(0).saturating_add(1))
            .max(prev.saturating_add(1));
        self.last_stamp.store(s, Ordering::Relaxed);
        s
    }

    fn head(&self, key: ContentKey) -> HeadRef {
        self.heads
            .lock()
            .expect("no panics under the heads lock")
            .entry(key)
            .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(Head::at(None))))
            .clone()
    }

    /// Loads the head's version from the table if it was not yet; a missing object is an
    /// error (and noted: see [`ObjectTable::missing`]).
    async fn load(&self, key: ContentKey, g: &mut Head) -> StoreResult<()> {
        if g.data.is_none() {
            let v = g.version.expect("a head without a version starts loaded");
            let call = self.table.arrive("get", false).await?;
            let got = self.table.inner().get(key, v);
            match call.answer(Ok(got)).await? {
                Some(bytes) => g.data = Some(bytes.to_vec()),
                None => {
                    let table = self.table.inner();
                    table.state().missing.push((key, v, self.gateway));
                    return Err(StoreError::Backend(
                        format!(
                            "object {} version {v:#x} is missing (gw{})",
                            key.to_hex(),
                            self.gateway
                        )
                        .into(),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Notes a change: the head puts a new version at its next sync.
    fn changed(&self, g: &mut Head) -> u64 {
        g.changed = true;
        match g.pending {
            Some(p) => p,
            None => {
                let p = self.next_stamp(g.version);
                g.pending = Some(p);
                p
            }
        }
    }
}

impl ContentStore for ObjectFront {
    async fn read(&self, key: ContentKey, offset: u64, len: u32) -> StoreResult<Bytes> {
        let head = self.head(key);
        let mut g = head.lock().await;
        self.load(key, &mut g).await?;
        let data = g.data.as_ref().expect("loaded");
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(data.len());
        let end = start.saturating_add(len as usize).min(data.len());
        Ok(Bytes::copy_from_slice(&data[start..end]))
    }

    async fn write(
        &self,
        key: ContentKey,
        offset: u64,
        data: Bytes,
    ) -> StoreResult<Option<ContentVersion>> {
        let end = stores::rules::write_end(offset, data.len(), OBJECT_MAX)?;
        let head = self.head(key);
        let mut g = head.lock().await;
        self.load(key, &mut g).await?;
        if data.is_empty() {
            // Nothing changes; name the bytes as they are (as S3Content does).
            let v = match (g.changed, g.version, g.pending) {
                (false, Some(v), _) | (_, _, Some(v)) => v,
                _ => {
                    let p = self.next_stamp(g.version);
                    g.pending = Some(p);
                    p
                }
            };
            return Ok(Some(ContentVersion(v)));
        }
        let (start, end) = (offset as usize, end as usize);
        let bytes = g.data.as_mut().expect("loaded");
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[start..end].copy_from_slice(&data);
        Ok(Some(ContentVersion(self.changed(&mut g))))
    }

    async fn truncate(&self, key: ContentKey, len: u64) -> StoreResult<()> {
        if len > OBJECT_MAX {
            return Err(StoreError::FileTooLarge);
        }
        let head = self.head(key);
        let mut g = head.lock().await;
        self.load(key, &mut g).await?;
        let bytes = g.data.as_mut().expect("loaded");
        if bytes.len() as u64 == len {
            return Ok(());
        }
        bytes.resize(len as usize, 0);
        self.changed(&mut g);
        Ok(())
    }

    async fn len(&self, key: ContentKey) -> StoreResult<u64> {
        let head = self.head(key);
        let mut g = head.lock().await;
        self.load(key, &mut g).await?;
        Ok(g.data.as_ref().map_or(0, |d| d.len() as u64))
    }

    async fn remove(&self, key: ContentKey) -> StoreResult<()> {
        let head = self.head(key);
        let mut g = head.lock().await;
        let call = self.table.arrive("remove", true).await?;
        self.table.inner().remove(key);
        call.answer(Ok(())).await?;
        *g = Head::at(None);
        drop(g);
        self.heads
            .lock()
            .expect("no panics under the heads lock")
            .remove(&key);
        Ok(())
    }

    async fn sync(&self, key: ContentKey) -> StoreResult<Option<ContentVersion>> {
        let head = self.head(key);
        let mut g = head.lock().await;
        if !g.changed {
            return Ok(g.version.map(ContentVersion));
        }
        let body = Arc::new(g.data.clone().expect("a changed head is loaded"));
        let mut v = self.changed(&mut g);
        loop {
            let call = self.table.arrive("put", true).await?;
            let created = self.table.inner().put_new(key, v, body.clone());
            if call.answer(Ok(created)).await? {
                break;
            }
            // The name exists (our own put whose answer was lost, or another gateway's
            // equal stamp): draw another, as S3Content does.
            v = self.next_stamp(Some(v));
        }
        g.version = Some(v);
        g.unconfirmed.push(v);
        g.changed = false;
        g.pending = None;
        Ok(Some(ContentVersion(v)))
    }

    async fn usage(&self) -> StoreResult<Usage> {
        Ok(Usage {
            bytes_total: OBJECT_MAX,
            bytes_free: OBJECT_MAX,
            ..Usage::default()
        })
    }

    async fn adopt(&self, key: ContentKey, version: Option<ContentVersion>) -> StoreResult<()> {
        let v = version.map(|v| v.0);
        let head = {
            let mut heads = self.heads.lock().expect("no panics under the heads lock");
            match heads.get(&key) {
                Some(h) => h.clone(),
                None => {
                    heads.insert(key, Arc::new(tokio::sync::Mutex::new(Head::at(v))));
                    return Ok(());
                }
            }
        };
        let mut g = head.lock().await;
        if let Some(r) = v
            && g.unconfirmed.contains(&r)
        {
            // Metadata recorded one of ours: it and everything before it are settled.
            g.unconfirmed.retain(|&u| u > r);
            return Ok(());
        }
        if g.busy() || v <= g.version {
            // Our own unrecorded changes are newer; an older version is a stale report.
            return Ok(());
        }
        // Recorded elsewhere (a boot's first use, or another gateway): serve that version.
        *g = Head::at(v);
        Ok(())
    }

    async fn rebase(&self, key: ContentKey, version: Option<ContentVersion>) -> StoreResult<()> {
        let v = version.map(|v| v.0);
        let head = self.head(key);
        let mut g = head.lock().await;
        if !g.busy() && g.version == v {
            return Ok(());
        }
        let abandoned = g.busy();
        *g = Head::at(v);
        if abandoned {
            self.table.inner().state().counts.rebases += 1;
        }
        Ok(())
    }

    fn has_versions(&self) -> bool {
        true
    }

    fn max_file_size(&self) -> u64 {
        OBJECT_MAX
    }
}
