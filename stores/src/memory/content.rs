//! [`MemoryContent`]: file bytes in reference-counted blocks shared between a live and a
//! durable copy.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use super::{BLOCK_SIZE, MAX_FILE_SIZE, UNBOUNDED_BYTES_REPORTED};
use crate::api::{ContentKey, ContentStore, ContentVersion, StoreError, StoreResult, Usage};

/// An in-memory [`ContentStore`] with a live and a durable copy of every object.
///
/// `remove` is durable at once (it drops both copies): that is the harsher of the two outcomes
/// a crash can have for a removal, since it exposes a server that removes content before the
/// unlink that freed it is durable, and it keeps removed files from pinning memory.
pub struct MemoryContent {
    /// Most bytes the live objects may hold (holes excluded); writing more fails with
    /// `NoSpace`.
    capacity: Option<u64>,
    inner: Mutex<ContentInner>,
}

impl MemoryContent {
    /// An empty store without a capacity limit.
    pub fn new() -> Self {
        Self {
            capacity: None,
            inner: Mutex::new(ContentInner::default()),
        }
    }

    /// Limits the bytes held (holes are free); a write that would go beyond fails with
    /// [`StoreError::NoSpace`] and changes nothing.
    pub fn with_capacity_limit(mut self, bytes: u64) -> Self {
        self.capacity = Some(bytes);
        self
    }

    /// Models a machine crash: every write and truncate not covered by a
    /// [`ContentStore::sync`] of its key is lost.
    pub fn crash(&self) {
        let mut inner = self.lock();
        inner.live = inner.durable.clone();
        inner.dirty.clear();
        inner.used = inner.live.values().map(Object::stored_bytes).sum();
    }

    /// Bytes held by live objects, holes excluded.
    pub fn used_bytes(&self) -> u64 {
        self.lock().used
    }

    fn lock(&self) -> MutexGuard<'_, ContentInner> {
        self.inner
            .lock()
            .expect("no code panics while holding the memory store's lock")
    }
}

impl Default for MemoryContent {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for MemoryContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryContent")
            .field("objects", &inner.live.len())
            .field("used", &inner.used)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl ContentStore for MemoryContent {
    async fn read(&self, key: ContentKey, offset: u64, len: u32) -> StoreResult<Bytes> {
        let inner = self.lock();
        Ok(inner
            .live
            .get(&key)
            .map_or_else(Bytes::new, |o| o.read(offset, len)))
    }

    async fn write(
        &self,
        key: ContentKey,
        offset: u64,
        data: Bytes,
    ) -> StoreResult<Option<ContentVersion>> {
        if data.is_empty() {
            // As pwrite(2): writing nothing changes nothing, not even the length.
            return Ok(None);
        }
        let end = crate::rules::write_end(offset, data.len(), MAX_FILE_SIZE)?;
        let mut inner = self.lock();
        let inner = &mut *inner;
        let object = inner.live.get(&key);
        let growth = object.map_or_else(
            || Object::default().growth(offset, end),
            |o| o.growth(offset, end),
        );
        if let Some(cap) = self.capacity
            && inner.used.saturating_add(growth) > cap
        {
            return Err(StoreError::NoSpace);
        }
        let object = inner.live.entry(key).or_default();
        let dirty = inner.dirty.entry(key).or_default();
        object.write(offset, &data, dirty);
        inner.used += growth;
        Ok(None)
    }

    async fn truncate(&self, key: ContentKey, len: u64) -> StoreResult<()> {
        if len > MAX_FILE_SIZE {
            return Err(StoreError::FileTooLarge);
        }
        let mut inner = self.lock();
        let inner = &mut *inner;
        if len == 0 && !inner.live.contains_key(&key) {
            return Ok(());
        }
        let object = inner.live.entry(key).or_default();
        let dirty = inner.dirty.entry(key).or_default();
        let freed = object.truncate(len, dirty);
        inner.used -= freed;
        Ok(())
    }

    async fn len(&self, key: ContentKey) -> StoreResult<u64> {
        Ok(self.lock().live.get(&key).map_or(0, |o| o.len))
    }

    async fn remove(&self, key: ContentKey) -> StoreResult<()> {
        let mut inner = self.lock();
        if let Some(object) = inner.live.remove(&key) {
            inner.used -= object.stored_bytes();
        }
        inner.durable.remove(&key);
        inner.dirty.remove(&key);
        Ok(())
    }

    async fn sync(&self, key: ContentKey) -> StoreResult<Option<ContentVersion>> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(dirty) = inner.dirty.remove(&key) else {
            return Ok(None);
        };
        let Some(live) = inner.live.get(&key) else {
            inner.durable.remove(&key);
            return Ok(None);
        };
        let durable = inner.durable.entry(key).or_default();
        durable.len = live.len;
        for index in dirty {
            match live.blocks.get(&index) {
                Some(block) => durable.blocks.insert(index, Arc::clone(block)),
                None => durable.blocks.remove(&index),
            };
        }
        Ok(None)
    }

    fn max_file_size(&self) -> u64 {
        MAX_FILE_SIZE
    }

    /// Blocks are the allocation unit: a block held is data (up to the length), a missing
    /// one a hole.
    async fn allocated(
        &self,
        key: ContentKey,
        offset: u64,
        len: u64,
    ) -> StoreResult<Vec<(u64, u64)>> {
        let inner = self.lock();
        Ok(inner
            .live
            .get(&key)
            .map(|o| o.allocated(offset, len))
            .unwrap_or_default())
    }

    /// Drops the blocks the range covers up to the length, zeroes the parts of others.
    async fn punch_hole(
        &self,
        key: ContentKey,
        offset: u64,
        len: u64,
    ) -> StoreResult<Option<ContentVersion>> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(object) = inner.live.get_mut(&key) else {
            return Ok(None);
        };
        let dirty = inner.dirty.entry(key).or_default();
        let freed = object.punch(offset, len, dirty);
        inner.used -= freed;
        Ok(None)
    }

    async fn usage(&self) -> StoreResult<Usage> {
        let used = self.lock().used;
        let total = self.capacity.unwrap_or(UNBOUNDED_BYTES_REPORTED);
        Ok(Usage {
            bytes_total: total,
            bytes_free: total.saturating_sub(used),
            files_total: 0,
            files_free: 0,
        })
    }
}

/// The state behind [`MemoryContent`]'s lock.
#[derive(Default)]
struct ContentInner {
    live: BTreeMap<ContentKey, Object>,
    /// `live` as of each key's last sync.
    durable: BTreeMap<ContentKey, Object>,
    /// Per key changed since its last sync: the blocks that may differ between the copies (the
    /// length may differ for every key listed).
    dirty: BTreeMap<ContentKey, BTreeSet<u64>>,
    /// Bytes held by `live`'s blocks.
    used: u64,
}

/// One file's bytes.
#[derive(Clone, Default)]
struct Object {
    len: u64,
    /// Block `i` holds the bytes from `i * BLOCK_SIZE`; it may be shorter than a block, and
    /// bytes it does not hold (and missing blocks) read as zeros up to `len`. Blocks are
    /// shared between the live and durable copies until one of them is written.
    blocks: BTreeMap<u64, Arc<Vec<u8>>>,
}

/// `x` as usize, for values known to be below `BLOCK_SIZE` or a `u32` read length.
fn small(x: u64) -> usize {
    usize::try_from(x).expect("values below BLOCK_SIZE or u32::MAX fit in usize")
}

impl Object {
    fn stored_bytes(&self) -> u64 {
        self.blocks.values().map(|b| b.len() as u64).sum()
    }

    fn read(&self, offset: u64, len: u32) -> Bytes {
        if offset >= self.len || len == 0 {
            return Bytes::new();
        }
        let end = self.len.min(offset.saturating_add(u64::from(len)));
        let mut out = vec![0u8; small(end - offset)];
        let first = offset / BLOCK_SIZE;
        let last = (end - 1) / BLOCK_SIZE;
        for (&index, block) in self.blocks.range(first..=last) {
            let start = index * BLOCK_SIZE;
            let from = offset.max(start);
            let to = end.min(start + block.len() as u64);
            if from < to {
                out[small(from - offset)..small(to - offset)]
                    .copy_from_slice(&block[small(from - start)..small(to - start)]);
            }
        }
        Bytes::from(out)
    }

    /// Bytes a write of `offset..end` would add to the blocks.
    fn growth(&self, offset: u64, end: u64) -> u64 {
        let mut growth = 0;
        for index in offset / BLOCK_SIZE..=(end - 1) / BLOCK_SIZE {
            let start = index * BLOCK_SIZE;
            let needed = (end - start).min(BLOCK_SIZE);
            let held = self.blocks.get(&index).map_or(0, |b| b.len() as u64);
            growth += needed.saturating_sub(held);
        }
        growth
    }

    fn write(&mut self, offset: u64, data: &[u8], dirty: &mut BTreeSet<u64>) {
        let end = offset + data.len() as u64;
        for index in offset / BLOCK_SIZE..=(end - 1) / BLOCK_SIZE {
            let start = index * BLOCK_SIZE;
            let from = offset.max(start);
            let to = end.min(start + BLOCK_SIZE);
            let block = Arc::make_mut(self.blocks.entry(index).or_default());
            if (block.len() as u64) < to - start {
                block.resize(small(to - start), 0);
            }
            block[small(from - start)..small(to - start)]
                .copy_from_slice(&data[small(from - offset)..small(to - offset)]);
            dirty.insert(index);
        }
        self.len = self.len.max(end);
    }

    /// The data ranges of `[offset, offset + len)`: the bytes the held blocks hold, cut to the
    /// length, adjacent ones merged.
    fn allocated(&self, offset: u64, len: u64) -> Vec<(u64, u64)> {
        let end = offset.saturating_add(len).min(self.len);
        let mut out: Vec<(u64, u64)> = Vec::new();
        if end <= offset {
            return out;
        }
        for (&index, block) in self
            .blocks
            .range(offset / BLOCK_SIZE..=(end - 1) / BLOCK_SIZE)
        {
            let start = index * BLOCK_SIZE;
            let from = offset.max(start);
            let to = end.min(start + block.len() as u64);
            if from >= to {
                continue;
            }
            match out.last_mut() {
                Some((o, l)) if *o + *l == from => *l += to - from,
                _ => out.push((from, to - from)),
            }
        }
        out
    }

    /// Zeroes `[offset, offset + len)` up to the length: blocks wholly inside (up to the
    /// length) go, the overlapping bytes of others become zeros. Returns the bytes freed.
    fn punch(&mut self, offset: u64, len: u64, dirty: &mut BTreeSet<u64>) -> u64 {
        let end = offset.saturating_add(len).min(self.len);
        if end <= offset {
            return 0;
        }
        let mut freed = 0;
        let indexes: Vec<u64> = self
            .blocks
            .range(offset / BLOCK_SIZE..=(end - 1) / BLOCK_SIZE)
            .map(|(i, _)| *i)
            .collect();
        for index in indexes {
            let start = index * BLOCK_SIZE;
            let block_end = (start + BLOCK_SIZE).min(self.len);
            if offset <= start && block_end <= end {
                if let Some(b) = self.blocks.remove(&index) {
                    freed += b.len() as u64;
                }
            } else if let Some(block) = self.blocks.get_mut(&index) {
                let from = offset.max(start) - start;
                let to = (end.min(start + BLOCK_SIZE) - start).min(block.len() as u64);
                if from < to {
                    Arc::make_mut(block)[small(from)..small(to)].fill(0);
                }
            }
            dirty.insert(index);
        }
        freed
    }

    /// Sets the length; returns the bytes the blocks gave up.
    fn truncate(&mut self, len: u64, dirty: &mut BTreeSet<u64>) -> u64 {
        let mut freed = 0;
        if len < self.len {
            // Blocks wholly beyond the end go; the one straddling it is cut, so growing the
            // object later exposes zeros, never old bytes.
            let first_gone = len.div_ceil(BLOCK_SIZE);
            for (index, block) in self.blocks.split_off(&first_gone) {
                freed += block.len() as u64;
                dirty.insert(index);
            }
            if let Some((&index, block)) = self.blocks.last_key_value() {
                let keep = len - index * BLOCK_SIZE;
                if (block.len() as u64) > keep {
                    freed += block.len() as u64 - keep;
                    let block = self.blocks.get_mut(&index).expect("just seen");
                    Arc::make_mut(block).truncate(small(keep));
                    dirty.insert(index);
                }
            }
        }
        self.len = len;
        freed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Generation, InodeId, StoreId};

    fn key(ino: u64) -> ContentKey {
        ContentKey {
            store: StoreId(7),
            ino: InodeId(ino),
            generation: Generation(1),
        }
    }

    /// Goal: the memory store's holes are its missing blocks: allocated ranges leave them out,
    /// a punch of whole blocks frees them (and their bytes), a partial punch zeroes bytes, and
    /// a crash after a sync keeps the punch. Method: write two blocks apart, check ranges,
    /// punch, compare ranges, usage and bytes, sync, crash, read again.
    #[tokio::test]
    async fn holes_are_missing_blocks() {
        let c = MemoryContent::new();
        c.write(key(1), 0, Bytes::from(vec![1u8; 100]))
            .await
            .unwrap();
        c.write(key(1), 3 * BLOCK_SIZE, Bytes::from(vec![2u8; 100]))
            .await
            .unwrap();
        assert_eq!(
            c.allocated(key(1), 0, u64::MAX).await.unwrap(),
            vec![(0, 100), (3 * BLOCK_SIZE, 100)]
        );
        assert_eq!(
            c.allocated(key(1), 50, 3 * BLOCK_SIZE).await.unwrap(),
            vec![(50, 50), (3 * BLOCK_SIZE, 50)]
        );
        c.punch_hole(key(1), 10, 10).await.unwrap();
        assert_eq!(c.used_bytes(), 200, "a partial punch frees nothing");
        let head = c.read(key(1), 0, 30).await.unwrap();
        assert_eq!(
            &head[..],
            &[&[1u8; 10][..], &[0; 10], &[1; 10]].concat()[..]
        );
        c.punch_hole(key(1), 0, BLOCK_SIZE).await.unwrap();
        assert_eq!(c.used_bytes(), 100);
        assert_eq!(
            c.allocated(key(1), 0, u64::MAX).await.unwrap(),
            vec![(3 * BLOCK_SIZE, 100)]
        );
        c.sync(key(1)).await.unwrap();
        c.crash();
        assert_eq!(c.len(key(1)).await.unwrap(), 3 * BLOCK_SIZE + 100);
        assert_eq!(&c.read(key(1), 0, 100).await.unwrap()[..], &[0u8; 100][..]);
    }

    /// Goal: synced content survives a crash, unsynced writes and truncates do not, per key.
    /// Method: write and sync two keys across block boundaries, change both, sync only one,
    /// crash, and compare with the expected bytes.
    #[tokio::test]
    async fn content_crash_keeps_only_synced_keys() {
        let c = MemoryContent::new();
        let a: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        c.write(key(1), 0, Bytes::from(a.clone())).await.unwrap();
        c.write(key(2), 10, Bytes::from_static(b"two"))
            .await
            .unwrap();
        c.sync(key(1)).await.unwrap();
        c.sync(key(2)).await.unwrap();
        // Unsynced changes to key 1 across a block boundary and a shrink of key 2.
        c.write(key(1), BLOCK_SIZE - 2, Bytes::from_static(b"XXXX"))
            .await
            .unwrap();
        c.truncate(key(1), 150_000).await.unwrap();
        c.truncate(key(2), 11).await.unwrap();
        c.write(key(3), 0, Bytes::from_static(b"never synced"))
            .await
            .unwrap();
        c.sync(key(2)).await.unwrap();
        c.crash();
        assert_eq!(c.len(key(1)).await.unwrap(), a.len() as u64);
        assert_eq!(&c.read(key(1), 0, u32::MAX).await.unwrap()[..], &a[..]);
        assert_eq!(
            &c.read(key(2), 0, 100).await.unwrap()[..],
            b"\0\0\0\0\0\0\0\0\0\0t"
        );
        assert_eq!(c.len(key(3)).await.unwrap(), 0);
        assert_eq!(c.used_bytes(), a.len() as u64 + 11);
    }

    /// Goal: unsynced writes are lost by a crash even when the key was synced before, and a
    /// later write to a block shared with the durable copy does not change that copy.
    #[tokio::test]
    async fn content_crash_without_sync_loses_writes() {
        let c = MemoryContent::new();
        c.write(key(1), 0, Bytes::from_static(b"hello"))
            .await
            .unwrap();
        c.sync(key(1)).await.unwrap();
        c.write(key(1), 0, Bytes::from_static(b"J")).await.unwrap();
        c.write(key(1), 5, Bytes::from_static(b" world"))
            .await
            .unwrap();
        assert_eq!(&c.read(key(1), 0, 100).await.unwrap()[..], b"Jello world");
        c.crash();
        assert_eq!(&c.read(key(1), 0, 100).await.unwrap()[..], b"hello");
    }

    /// Goal: removal is durable at once, so a crash neither resurrects nor leaks the object.
    #[tokio::test]
    async fn content_remove_is_durable() {
        let c = MemoryContent::new();
        c.write(key(1), 0, Bytes::from_static(b"data"))
            .await
            .unwrap();
        c.sync(key(1)).await.unwrap();
        c.remove(key(1)).await.unwrap();
        c.crash();
        assert_eq!(c.len(key(1)).await.unwrap(), 0);
        assert_eq!(c.used_bytes(), 0);
    }

    /// Goal: the capacity limit refuses a write that does not fit, changes nothing, and counts
    /// holes as free. Method: fill close to the limit, overflow, then truncate and retry.
    #[tokio::test]
    async fn content_capacity_limit() {
        let c = MemoryContent::new().with_capacity_limit(100);
        c.truncate(key(1), 1 << 40).await.unwrap();
        c.write(key(1), 1 << 30, Bytes::from(vec![1u8; 90]))
            .await
            .unwrap();
        assert!(matches!(
            c.write(key(2), 0, Bytes::from(vec![2u8; 20])).await,
            Err(StoreError::NoSpace)
        ));
        assert_eq!(c.len(key(2)).await.unwrap(), 0);
        // Overwriting held bytes needs no room.
        c.write(key(1), 1 << 30, Bytes::from(vec![3u8; 90]))
            .await
            .unwrap();
        let u = c.usage().await.unwrap();
        assert_eq!((u.bytes_total, u.bytes_free), (100, 10));
        c.truncate(key(1), (1 << 30) + 50).await.unwrap();
        c.write(key(2), 0, Bytes::from(vec![2u8; 20]))
            .await
            .unwrap();
        assert_eq!(c.used_bytes(), 70);
    }
}
