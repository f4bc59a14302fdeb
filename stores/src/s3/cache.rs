//! The local disk cache: clean blocks (copies of immutable block objects, named after them)
//! and staged blocks (dirty: written, not yet uploaded).
//!
//! Bounds: clean blocks take at most `clean_max` bytes and are evicted least recently used
//! first; staged blocks take at most `dirty_max` bytes (each counted as a whole block) and
//! are never evicted: a writer that needs room waits until uploads free some (see
//! `S3Content`'s backpressure). Both live under one directory:
//! - `clean/<name>`: a block object's bytes. A block object never changes, so a cached copy
//!   is never stale, also after a restart: the cache is reloaded from the directory (files
//!   beyond the bound are evicted). Files are written to `tmp/` first and renamed in, so a
//!   crash never leaves a partial copy under a block's name.
//! - `dirty/`: staged blocks. Emptied at start: a crash's staged bytes were never synced, so
//!   never acknowledged as durable, and must not be served as if committed.
//!
//! Reads: clean files stay open (at most [`OPEN_MAX`] descriptors, dropped with their entry),
//! so a cached read is one positioned read on the blocking pool, not an open, a stat, a seek
//! and a read, each a trip of its own.

use std::collections::{BTreeMap, HashMap};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::Notify;

use crate::api::{StoreError, StoreResult};

/// Open descriptors of clean files kept at most, per cache.
pub const OPEN_MAX: usize = 256;

/// An open clean file and its length when opened (block objects never change).
#[derive(Debug)]
struct OpenFile {
    file: std::fs::File,
    len: u64,
}

#[derive(Debug, Default)]
struct Lru {
    /// Cached name → (size, last use).
    entries: HashMap<String, (u64, u64)>,
    /// Last use → name.
    order: BTreeMap<u64, String>,
    /// Open descriptors of some cached names (at most [`OPEN_MAX`]); always a subset of
    /// `entries`, so an evicted file's descriptor goes with it.
    open: HashMap<String, Arc<OpenFile>>,
    used: u64,
    tick: u64,
}

impl Lru {
    /// Forgets `file` (its entry and descriptor).
    fn forget(&mut self, file: &str) {
        if let Some((s, t)) = self.entries.remove(file) {
            self.order.remove(&t);
            self.used -= s;
        }
        self.open.remove(file);
    }
}

/// The cache. See the module docs.
#[derive(Debug)]
pub struct DiskCache {
    dir: PathBuf,
    clean_max: u64,
    dirty_max: u64,
    lru: Mutex<Lru>,
    dirty_used: AtomicU64,
    /// Woken whenever staged bytes are freed.
    pub(crate) dirty_freed: Notify,
    tmp_seq: AtomicU64,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> StoreError {
    StoreError::Io(std::io::Error::new(
        e.kind(),
        format!("S3 cache: {what} {}: {e}", path.display()),
    ))
}

/// The file name of a cached object: its name with `/` made `_` (names are hex and `-`
/// after the prefix; the prefix's own characters are escaped).
fn file_name(object: &str) -> String {
    object
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

impl DiskCache {
    /// Opens the cache in `dir`: reloads clean blocks (evicting beyond `clean_max`), drops
    /// staged blocks and partial files of an earlier run.
    pub fn open(dir: &Path, clean_max: u64, dirty_max: u64) -> StoreResult<Self> {
        for sub in ["clean", "dirty", "tmp"] {
            let p = dir.join(sub);
            std::fs::create_dir_all(&p).map_err(|e| io("cannot create", &p, e))?;
        }
        for sub in ["dirty", "tmp"] {
            let p = dir.join(sub);
            for entry in std::fs::read_dir(&p).map_err(|e| io("cannot list", &p, e))? {
                let entry = entry.map_err(|e| io("cannot list", &p, e))?;
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let clean = dir.join("clean");
        let mut found = Vec::new();
        for entry in std::fs::read_dir(&clean).map_err(|e| io("cannot list", &clean, e))? {
            let entry = entry.map_err(|e| io("cannot list", &clean, e))?;
            let meta = entry.metadata().map_err(|e| io("cannot stat", &clean, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                let _ = std::fs::remove_file(entry.path());
                continue;
            };
            let used = meta
                .accessed()
                .or_else(|_| meta.modified())
                .unwrap_or(std::time::UNIX_EPOCH);
            found.push((used, name, meta.len()));
        }
        found.sort();
        let cache = Self {
            dir: dir.to_path_buf(),
            clean_max,
            dirty_max,
            lru: Mutex::new(Lru::default()),
            dirty_used: AtomicU64::new(0),
            dirty_freed: Notify::new(),
            tmp_seq: AtomicU64::new(0),
        };
        for (_, name, size) in found {
            cache.admit(name, size);
        }
        Ok(cache)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.lru.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records `file` (already in `clean/`) and evicts least recently used files past the bound.
    fn admit(&self, file: String, size: u64) {
        let evicted = {
            let mut l = self.lock();
            l.tick += 1;
            let tick = l.tick;
            if let Some((old, t)) = l.entries.insert(file.clone(), (size, tick)) {
                l.order.remove(&t);
                l.used -= old;
                // Replaced on the disk: a descriptor of the old copy must not answer for it.
                l.open.remove(&file);
            }
            l.order.insert(tick, file);
            l.used += size;
            let mut evicted = Vec::new();
            while l.used > self.clean_max {
                let Some((_, name)) = l.order.pop_first() else {
                    break;
                };
                if let Some((s, _)) = l.entries.remove(&name) {
                    l.used -= s;
                }
                l.open.remove(&name);
                evicted.push(name);
            }
            evicted
        };
        for name in evicted {
            let _ = std::fs::remove_file(self.dir.join("clean").join(name));
        }
    }

    /// Bytes of clean blocks cached now.
    pub fn clean_used(&self) -> u64 {
        self.lock().used
    }

    /// Whether a block of `size` bytes may be cached at all.
    pub fn fits(&self, size: u64) -> bool {
        size <= self.clean_max
    }

    /// Bytes `[from, to)` of `object`, if it is cached and its copy holds at least `whole`
    /// bytes (the block's length; a shorter copy counts as a miss). Only the bytes asked for
    /// are read from the disk: a 4 KiB read of a 4 MiB block reads 4 KiB.
    pub async fn get_range(&self, object: &str, from: u64, to: u64, whole: u64) -> Option<Bytes> {
        let file = file_name(object);
        let open = {
            let mut l = self.lock();
            let (size, t) = *l.entries.get(&file)?;
            l.order.remove(&t);
            l.tick += 1;
            let tick = l.tick;
            l.order.insert(tick, file.clone());
            l.entries.insert(file.clone(), (size, tick));
            l.open.get(&file).cloned()
        };
        let path = self.dir.join("clean").join(&file);
        let need = whole.max(to);
        let n = usize::try_from(to.checked_sub(from)?).ok()?;
        let read = crate::fs::run_blocking(move || {
            let (handle, fresh) = match open {
                Some(h) => (h, false),
                None => {
                    let file = std::fs::File::open(&path)?;
                    let len = file.metadata()?.len();
                    (Arc::new(OpenFile { file, len }), true)
                }
            };
            if handle.len < need {
                return Ok::<_, std::io::Error>((None, handle, fresh));
            }
            let mut buf = vec![0; n];
            handle.file.read_exact_at(&mut buf, from)?;
            Ok((Some(Bytes::from(buf)), handle, fresh))
        })
        .await;
        match read {
            Ok((got, handle, fresh)) => {
                if fresh && got.is_some() {
                    let mut l = self.lock();
                    // Only while the file is still cached (it may have been evicted meanwhile).
                    if l.entries.contains_key(&file) {
                        if l.open.len() >= OPEN_MAX
                            && let Some(victim) = l.open.keys().next().cloned()
                        {
                            l.open.remove(&victim);
                        }
                        l.open.insert(file, handle);
                    }
                }
                got
            }
            Err(_) => {
                // Gone from the disk (removed by hand) or unreadable: forget it, read from S3.
                self.lock().forget(&file);
                None
            }
        }
    }

    /// Caches `data` as `object` (best effort: a failure only costs a later download).
    pub async fn put(&self, object: &str, data: &Bytes) {
        if !self.fits(data.len() as u64) {
            return;
        }
        let tmp = self.tmp_path();
        if tokio::fs::write(&tmp, data).await.is_err() {
            let _ = tokio::fs::remove_file(&tmp).await;
            return;
        }
        self.adopt_file(&tmp, object, data.len() as u64).await;
    }

    /// Moves `path` (a staged block just uploaded as `object`) into the clean cache.
    pub async fn adopt_file(&self, path: &Path, object: &str, size: u64) {
        let file = file_name(object);
        if !self.fits(size)
            || tokio::fs::rename(path, self.dir.join("clean").join(&file))
                .await
                .is_err()
        {
            let _ = tokio::fs::remove_file(path).await;
            return;
        }
        self.admit(file, size);
    }

    /// A fresh path for a file being written.
    fn tmp_path(&self) -> PathBuf {
        let n = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        self.dir.join("tmp").join(format!("{n}"))
    }

    /// A fresh path for a staged block.
    pub fn dirty_path(&self) -> PathBuf {
        let n = self.tmp_seq.fetch_add(1, Ordering::Relaxed);
        self.dir.join("dirty").join(format!("{n}"))
    }

    /// Reserves room for one staged block of `size` bytes, if the bound allows.
    pub fn try_reserve_dirty(&self, size: u64) -> bool {
        self.dirty_used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |u| {
                (u + size <= self.dirty_max || u == 0).then_some(u + size)
            })
            .is_ok()
    }

    /// Releases a staged block's room.
    pub fn release_dirty(&self, size: u64) {
        self.dirty_used.fetch_sub(size, Ordering::SeqCst);
        self.dirty_freed.notify_waiters();
    }

    /// Bytes reserved by staged blocks now.
    pub fn dirty_used(&self) -> u64 {
        self.dirty_used.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::DiskCache;
    use bytes::Bytes;

    /// Goal: clean blocks stay within their bound, least recently used out first, a
    /// reopened cache keeps clean blocks but drops staged ones, and ranges read back right.
    #[tokio::test]
    async fn lru_bound_and_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::open(dir.path(), 300, 1000).unwrap();
        let block = Bytes::from(vec![7u8; 100]);
        for name in ["p/b/a", "p/b/b", "p/b/c"] {
            cache.put(name, &block).await;
        }
        assert!(
            cache.get_range("p/b/a", 0, 100, 100).await.is_some(),
            "touch a"
        );
        cache.put("p/b/d", &block).await;
        assert_eq!(cache.clean_used(), 300);
        assert!(
            cache.get_range("p/b/b", 0, 100, 100).await.is_none(),
            "b was least recently used"
        );
        assert!(cache.get_range("p/b/a", 0, 100, 100).await.is_some());
        std::fs::write(cache.dirty_path(), b"staged").unwrap();
        drop(cache);
        let cache = DiskCache::open(dir.path(), 300, 1000).unwrap();
        assert_eq!(cache.clean_used(), 300);
        assert_eq!(
            &cache.get_range("p/b/d", 0, 100, 100).await.unwrap()[..],
            &block[..]
        );
        // A range reads just its bytes; a copy shorter than the block is a miss.
        assert_eq!(
            &cache.get_range("p/b/d", 10, 20, 100).await.unwrap()[..],
            &block[10..20]
        );
        assert!(cache.get_range("p/b/d", 0, 10, 101).await.is_none());
        assert_eq!(
            std::fs::read_dir(dir.path().join("dirty")).unwrap().count(),
            0
        );
        // A smaller bound on reopening evicts down to it.
        drop(cache);
        let cache = DiskCache::open(dir.path(), 150, 1000).unwrap();
        assert_eq!(cache.clean_used(), 100);
    }

    /// Goal: cached reads keep at most `OPEN_MAX` descriptors, only of files still cached
    /// (an evicted file's descriptor goes with it), and a read through a kept descriptor
    /// returns the right bytes.
    #[tokio::test]
    async fn descriptors_are_bounded_and_leave_with_their_file() {
        use super::OPEN_MAX;
        let dir = tempfile::tempdir().unwrap();
        let files = OPEN_MAX + 20;
        let cache = DiskCache::open(dir.path(), files as u64 * 10, 1000).unwrap();
        for i in 0..files {
            cache
                .put(&format!("p/b/{i}"), &Bytes::from(vec![i as u8; 10]))
                .await;
        }
        for round in 0..2 {
            for i in 0..files {
                let got = cache.get_range(&format!("p/b/{i}"), 2, 5, 10).await;
                assert_eq!(got.as_deref(), Some(&[i as u8; 3][..]), "round {round}");
            }
        }
        let check = |cache: &DiskCache| {
            let l = cache.lock();
            assert!(l.open.len() <= OPEN_MAX, "{} open", l.open.len());
            assert!(l.open.keys().all(|k| l.entries.contains_key(k)));
            l.open.len()
        };
        assert_eq!(check(&cache), OPEN_MAX);
        // New blocks push the oldest out of the cache, descriptors included.
        for i in 0..files {
            cache
                .put(&format!("p/n/{i}"), &Bytes::from(vec![1u8; 10]))
                .await;
        }
        assert_eq!(check(&cache), 0);
    }
}
