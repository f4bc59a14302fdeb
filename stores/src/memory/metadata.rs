//! [`MemoryMetadata`]: the store, its lock, and the redo journal that `sync` replays onto the
//! durable copy of the namespace.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use super::namespace::{Body, Namespace};
use super::{JOURNAL_MAX, UNBOUNDED_FILES_REPORTED};
use crate::api::{
    Attr, ContentVersion, Cookie, DirEntry, DirPage, InodeId, MetadataStore, NewNode, Recorded,
    Removed, Renamed, SetAttr, StoreError, StoreId, StoreResult, Timestamp, Usage, XattrEntry,
    check_name, check_xattr_name,
};

/// An in-memory [`MetadataStore`] with a live and a durable copy of the namespace.
pub struct MemoryMetadata {
    id: StoreId,
    /// Most inodes the store holds at once; creating more fails with `NoSpace`.
    inode_limit: Option<u64>,
    inner: Mutex<MetaInner>,
    /// Server secrets by name; durable at once (`crash()` keeps them), as the contract asks.
    secrets: Mutex<BTreeMap<String, Vec<u8>>>,
}

impl MemoryMetadata {
    /// An empty store with identity `id` (the simulator derives it from its seed).
    pub fn new(id: StoreId) -> Self {
        Self {
            id,
            inode_limit: None,
            inner: Mutex::new(MetaInner {
                live: Namespace::new(),
                durable: Namespace::new(),
                journal: Vec::new(),
            }),
            secrets: Mutex::new(BTreeMap::new()),
        }
    }

    /// Limits the number of inodes (share roots included); a create beyond it fails with
    /// [`StoreError::NoSpace`].
    pub fn with_inode_limit(mut self, inodes: u64) -> Self {
        self.inode_limit = Some(inodes);
        self
    }

    /// Models a machine crash: everything completed since the last [`MetadataStore::sync`] is
    /// lost and the store continues from its durable state.
    ///
    /// Inode ids and change counters handed out before the crash are *not* handed out again:
    /// a client may still hold a handle naming a lost inode, and a reused id would make that
    /// handle resolve to a different object. A persistent backend gets the same guarantee by
    /// reserving id ranges durably before using them.
    pub fn crash(&self) {
        let mut inner = self.lock();
        let next_ino = inner.live.next_ino;
        let next_change = inner.live.next_change;
        inner.journal.clear();
        inner.durable.next_ino = next_ino;
        inner.durable.next_change = next_change;
        inner.live = inner.durable.clone();
    }

    /// Number of live inodes (share roots included).
    pub fn inode_count(&self) -> usize {
        self.lock().live.inodes.len()
    }

    fn secrets(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.secrets
            .lock()
            .expect("no code panics while holding the memory store's lock")
    }

    fn lock(&self) -> MutexGuard<'_, MetaInner> {
        self.inner
            .lock()
            .expect("no code panics while holding the memory store's lock")
    }

    /// Fails with `NoSpace` if one more inode would exceed the limit.
    fn check_room(&self, inner: &MetaInner) -> StoreResult<()> {
        match self.inode_limit {
            Some(limit) if inner.live.inodes.len() as u64 >= limit => Err(StoreError::NoSpace),
            _ => Ok(()),
        }
    }
}

impl Default for MemoryMetadata {
    /// A store with id 0, for tests that do not care about the id.
    fn default() -> Self {
        Self::new(StoreId(0))
    }
}

impl fmt::Debug for MemoryMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryMetadata")
            .field("id", &self.id)
            .field("inodes", &inner.live.inodes.len())
            .field("journal", &inner.journal.len())
            .finish_non_exhaustive()
    }
}

impl MetadataStore for MemoryMetadata {
    fn id(&self) -> StoreId {
        self.id
    }

    async fn share_root(&self, name: &str, root: NewNode) -> StoreResult<Attr> {
        let mut inner = self.lock();
        if let Some(attr) = inner.live.existing_share(name)? {
            return Ok(attr);
        }
        self.check_room(&inner)?;
        let attr = inner.live.share_root(name, &root)?;
        inner.record(Op::ShareRoot {
            name: name.to_owned(),
            root,
        });
        Ok(attr)
    }

    async fn getattr(&self, ino: InodeId) -> StoreResult<Attr> {
        Ok(self.lock().live.inode(ino)?.attr.clone())
    }

    async fn lookup(&self, dir: InodeId, name: &[u8]) -> StoreResult<Attr> {
        check_name(name)?;
        let inner = self.lock();
        let entry = inner.live.entry(dir, name)?;
        Ok(inner.live.inode(entry.ino)?.attr.clone())
    }

    async fn lookup_folded(&self, dir: InodeId, name: &[u8]) -> StoreResult<(Vec<u8>, Attr)> {
        check_name(name)?;
        let inner = self.lock();
        let stored = inner
            .live
            .dir(dir)?
            .folded(name)
            .ok_or(StoreError::NotFound)?
            .to_vec();
        let entry = inner.live.entry(dir, &stored)?;
        Ok((stored, inner.live.inode(entry.ino)?.attr.clone()))
    }

    async fn create(&self, dir: InodeId, name: &[u8], node: NewNode) -> StoreResult<Attr> {
        check_name(name)?;
        let mut inner = self.lock();
        // The namespace checks the directory first, so a create in a stale directory is Stale
        // even when the store is full.
        inner.live.dir(dir)?;
        self.check_room(&inner)?;
        let attr = inner.live.create(dir, name, &node)?;
        inner.record(Op::Create {
            dir,
            name: name.to_vec(),
            node,
        });
        Ok(attr)
    }

    async fn link(
        &self,
        ino: InodeId,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Attr> {
        check_name(name)?;
        let mut inner = self.lock();
        let attr = inner.live.link(ino, dir, name, now)?;
        inner.record(Op::Link {
            ino,
            dir,
            name: name.to_vec(),
            now,
        });
        Ok(attr)
    }

    async fn unlink(&self, dir: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Removed> {
        check_name(name)?;
        let mut inner = self.lock();
        let removed = inner.live.unlink(dir, name, now)?;
        inner.record(Op::Unlink {
            dir,
            name: name.to_vec(),
            now,
        });
        Ok(removed)
    }

    async fn rmdir(&self, dir: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Removed> {
        check_name(name)?;
        let mut inner = self.lock();
        let removed = inner.live.rmdir(dir, name, now)?;
        inner.record(Op::Rmdir {
            dir,
            name: name.to_vec(),
            now,
        });
        Ok(removed)
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
        let mut inner = self.lock();
        let (renamed, changed) = inner
            .live
            .rename(from_dir, from_name, to_dir, to_name, now)?;
        if changed {
            inner.record(Op::Rename {
                from_dir,
                from_name: from_name.to_vec(),
                to_dir,
                to_name: to_name.to_vec(),
                now,
            });
        }
        Ok(renamed)
    }

    async fn setattr(&self, ino: InodeId, set: SetAttr, now: Timestamp) -> StoreResult<Attr> {
        let mut inner = self.lock();
        let (attr, changed) = inner.live.setattr(ino, &set, now)?;
        if changed {
            inner.record(Op::SetAttr { ino, set, now });
        }
        Ok(attr)
    }

    async fn record_write(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        version: Option<ContentVersion>,
    ) -> StoreResult<Attr> {
        let mut inner = self.lock();
        let attr = inner.live.record_write(ino, end, mtime, version)?;
        inner.record(Op::RecordWrite {
            ino,
            end,
            mtime,
            version,
        });
        Ok(attr)
    }

    async fn record_write_on(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        base: Option<ContentVersion>,
        version: ContentVersion,
    ) -> StoreResult<Recorded> {
        // One lock for the check and the change: atomic for every caller of this store.
        let mut inner = self.lock();
        let inode = inner.live.inode(ino)?;
        crate::rules::check_write(inode.attr.kind)?;
        let current = inode.version;
        if current != base && current != Some(version) {
            return Ok(Recorded::Conflict(current));
        }
        let attr = inner.live.record_write(ino, end, mtime, Some(version))?;
        inner.record(Op::RecordWrite {
            ino,
            end,
            mtime,
            version: Some(version),
        });
        Ok(Recorded::Done(attr))
    }

    async fn content_version(&self, ino: InodeId) -> StoreResult<Option<ContentVersion>> {
        Ok(self.lock().live.inode(ino)?.version)
    }

    async fn readlink(&self, ino: InodeId) -> StoreResult<Vec<u8>> {
        match &self.lock().live.inode(ino)?.body {
            Body::Symlink(target) => Ok(target.clone()),
            Body::Dir(_) | Body::Plain => Err(StoreError::Invalid("readlink of a non-symlink")),
        }
    }

    async fn readdir(
        &self,
        dir: InodeId,
        after: Cookie,
        max_entries: usize,
    ) -> StoreResult<DirPage> {
        let inner = self.lock();
        let d = inner.live.dir(dir)?;
        let mut rest = d
            .by_cookie
            .range((Bound::Excluded(after.0), Bound::Unbounded));
        let mut entries = Vec::new();
        for (&cookie, name) in rest.by_ref().take(max_entries) {
            let entry = d
                .by_name
                .get(name)
                .expect("by_cookie and by_name list the same entries");
            entries.push(DirEntry {
                cookie: Cookie(cookie),
                name: name.clone(),
                attr: inner.live.inode(entry.ino)?.attr.clone(),
            });
        }
        Ok(DirPage {
            entries,
            eof: rest.next().is_none(),
        })
    }

    async fn parent(&self, dir: InodeId) -> StoreResult<InodeId> {
        Ok(self.lock().live.dir(dir)?.parent)
    }

    async fn usage(&self) -> StoreResult<Usage> {
        let used = self.lock().live.inodes.len() as u64;
        let total = self.inode_limit.unwrap_or(UNBOUNDED_FILES_REPORTED);
        Ok(Usage {
            bytes_total: 0,
            bytes_free: 0,
            files_total: total,
            files_free: total.saturating_sub(used),
        })
    }

    async fn sync(&self) -> StoreResult<()> {
        self.lock().sync();
        Ok(())
    }

    async fn xattr(&self, ino: InodeId, name: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        check_xattr_name(name)?;
        Ok(self.lock().live.inode(ino)?.xattrs.get(name).cloned())
    }

    async fn list_xattrs(&self, ino: InodeId) -> StoreResult<Vec<XattrEntry>> {
        Ok(self
            .lock()
            .live
            .inode(ino)?
            .xattrs
            .iter()
            .map(|(name, value)| XattrEntry {
                name: name.clone(),
                len: u32::try_from(value.len()).expect("values are at most XATTR_VALUE_MAX"),
            })
            .collect())
    }

    async fn set_xattr(
        &self,
        ino: InodeId,
        name: &[u8],
        value: Vec<u8>,
        now: Timestamp,
    ) -> StoreResult<Attr> {
        check_xattr_name(name)?;
        let mut inner = self.lock();
        let attr = inner.live.set_xattr(ino, name, value.clone(), now)?;
        inner.record(Op::SetXattr {
            ino,
            name: name.to_vec(),
            value,
            now,
        });
        Ok(attr)
    }

    async fn remove_xattr(&self, ino: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Attr> {
        check_xattr_name(name)?;
        let mut inner = self.lock();
        let (attr, changed) = inner.live.remove_xattr(ino, name, now)?;
        if changed {
            inner.record(Op::RemoveXattr {
                ino,
                name: name.to_vec(),
                now,
            });
        }
        Ok(attr)
    }

    async fn secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        Ok(self.secrets().get(name).cloned())
    }

    async fn init_secret(&self, name: &str, value: Vec<u8>) -> StoreResult<Vec<u8>> {
        Ok(self
            .secrets()
            .entry(name.to_owned())
            .or_insert(value)
            .clone())
    }
}

/// The state behind [`MemoryMetadata`]'s lock.
struct MetaInner {
    /// What every call sees and changes.
    live: Namespace,
    /// What survives [`MemoryMetadata::crash`]: `live` as of the last sync.
    durable: Namespace,
    /// Operations that succeeded on `live` since the last sync, in order; replaying them onto
    /// `durable` yields `live`.
    journal: Vec<Op>,
}

impl MetaInner {
    /// Journals an operation that just succeeded on `live` and changed it.
    fn record(&mut self, op: Op) {
        self.journal.push(op);
        if self.journal.len() >= JOURNAL_MAX {
            self.sync();
        }
    }

    /// Replays the journal onto the durable copy.
    fn sync(&mut self) {
        for op in self.journal.drain(..) {
            if let Err(e) = self.durable.apply(&op) {
                // The durable copy plus the journal's prefix is exactly the state the
                // operation succeeded on, and every operation is deterministic.
                panic!("replaying a journaled {op:?} failed with {e}: the two copies diverged");
            }
        }
    }
}

/// A completed namespace change with its inputs, enough to repeat it on the durable copy.
#[derive(Debug)]
pub(super) enum Op {
    ShareRoot {
        name: String,
        root: NewNode,
    },
    Create {
        dir: InodeId,
        name: Vec<u8>,
        node: NewNode,
    },
    Link {
        ino: InodeId,
        dir: InodeId,
        name: Vec<u8>,
        now: Timestamp,
    },
    Unlink {
        dir: InodeId,
        name: Vec<u8>,
        now: Timestamp,
    },
    Rmdir {
        dir: InodeId,
        name: Vec<u8>,
        now: Timestamp,
    },
    Rename {
        from_dir: InodeId,
        from_name: Vec<u8>,
        to_dir: InodeId,
        to_name: Vec<u8>,
        now: Timestamp,
    },
    SetAttr {
        ino: InodeId,
        set: SetAttr,
        now: Timestamp,
    },
    RecordWrite {
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        version: Option<ContentVersion>,
    },
    SetXattr {
        ino: InodeId,
        name: Vec<u8>,
        value: Vec<u8>,
        now: Timestamp,
    },
    RemoveXattr {
        ino: InodeId,
        name: Vec<u8>,
        now: Timestamp,
    },
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Device, FileKind};

    fn dir_node(now: i64) -> NewNode {
        node(FileKind::Directory, now)
    }

    fn node(kind: FileKind, now: i64) -> NewNode {
        NewNode {
            kind,
            mode: 0o755,
            uid: 1,
            gid: 1,
            rdev: Device::default(),
            symlink_target: Vec::new(),
            now: Timestamp {
                secs: now,
                nanos: 0,
            },
        }
    }

    fn t(secs: i64) -> Timestamp {
        Timestamp { secs, nanos: 0 }
    }

    /// Goal: a namespace change followed by `sync` survives `crash`. Method: create a tree,
    /// rename and unlink inside it, sync, crash, and compare every attribute with before.
    #[tokio::test]
    async fn metadata_crash_after_sync_keeps_changes() {
        let m = MemoryMetadata::new(StoreId(1));
        let root = m.share_root("s", dir_node(1)).await.unwrap();
        let d = m.create(root.ino, b"d", dir_node(2)).await.unwrap();
        let f = m
            .create(d.ino, b"f", node(FileKind::Regular, 3))
            .await
            .unwrap();
        m.link(f.ino, root.ino, b"g", t(4)).await.unwrap();
        m.rename(d.ino, b"f", root.ino, b"h", t(5)).await.unwrap();
        m.record_write(f.ino, 100, t(6), None).await.unwrap();
        m.unlink(root.ino, b"g", t(7)).await.unwrap();
        let before = (
            m.getattr(root.ino).await.unwrap(),
            m.getattr(d.ino).await.unwrap(),
            m.lookup(root.ino, b"h").await.unwrap(),
            m.readdir(root.ino, Cookie::START, 100).await.unwrap(),
        );
        m.sync().await.unwrap();
        m.crash();
        let after = (
            m.getattr(root.ino).await.unwrap(),
            m.getattr(d.ino).await.unwrap(),
            m.lookup(root.ino, b"h").await.unwrap(),
            m.readdir(root.ino, Cookie::START, 100).await.unwrap(),
        );
        assert_eq!(before, after);
        assert_eq!(after.2.size, 100);
    }

    /// Goal: changes after the last `sync` are lost by `crash`, earlier ones kept, and ids
    /// handed out before the crash are never handed out again. Method: sync a file, then
    /// create and remove more, crash, and check which names exist and which ids come next.
    #[tokio::test]
    async fn metadata_crash_without_sync_loses_changes() {
        let m = MemoryMetadata::new(StoreId(1));
        let root = m.share_root("s", dir_node(1)).await.unwrap();
        let kept = m
            .create(root.ino, b"kept", node(FileKind::Regular, 2))
            .await
            .unwrap();
        m.sync().await.unwrap();
        let lost = m
            .create(root.ino, b"lost", node(FileKind::Regular, 3))
            .await
            .unwrap();
        m.unlink(root.ino, b"kept", t(4)).await.unwrap();
        m.setattr(
            root.ino,
            SetAttr {
                mode: Some(0o700),
                ..SetAttr::default()
            },
            t(5),
        )
        .await
        .unwrap();
        let change_before_crash = m.getattr(root.ino).await.unwrap().change;
        m.crash();
        assert_eq!(m.lookup(root.ino, b"kept").await.unwrap().ino, kept.ino);
        assert!(matches!(
            m.lookup(root.ino, b"lost").await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(m.getattr(lost.ino).await, Err(StoreError::Stale)));
        assert_eq!(m.getattr(root.ino).await.unwrap().mode, 0o755);
        let again = m
            .create(root.ino, b"again", node(FileKind::Regular, 6))
            .await
            .unwrap();
        assert!(again.ino > lost.ino, "ids are not reused after a crash");
        assert!(m.getattr(root.ino).await.unwrap().change > change_before_crash);
        // The journal is consistent after the crash: a sync and another crash keep "again".
        m.sync().await.unwrap();
        m.crash();
        assert_eq!(m.lookup(root.ino, b"again").await.unwrap().ino, again.ino);
    }

    /// Goal: a crash keeps the size and the content version together. Method: record size 10
    /// with version 1, sync, record size 20 with version 2, crash: size 10 with version 1.
    #[tokio::test]
    async fn metadata_crash_keeps_size_and_version_together() {
        let m = MemoryMetadata::new(StoreId(1));
        let root = m.share_root("s", dir_node(1)).await.unwrap();
        let f = m
            .create(root.ino, b"f", node(FileKind::Regular, 1))
            .await
            .unwrap();
        m.record_write(f.ino, 10, t(2), Some(ContentVersion(1)))
            .await
            .unwrap();
        m.sync().await.unwrap();
        m.record_write(f.ino, 20, t(3), Some(ContentVersion(2)))
            .await
            .unwrap();
        m.crash();
        assert_eq!(m.getattr(f.ino).await.unwrap().size, 10);
        assert_eq!(
            m.content_version(f.ino).await.unwrap(),
            Some(ContentVersion(1))
        );
    }

    /// Goal: extended attributes follow the memory store's durability model: set and removed
    /// attributes survive a crash after a sync, and changes after the last sync are lost with
    /// their ctime. Method: set two, sync, change one and remove the other, crash, compare.
    #[tokio::test]
    async fn xattrs_crash_keeps_only_synced_changes() {
        let m = MemoryMetadata::new(StoreId(1));
        let root = m.share_root("s", dir_node(1)).await.unwrap();
        let f = m
            .create(root.ino, b"f", node(FileKind::Regular, 1))
            .await
            .unwrap();
        m.set_xattr(f.ino, b"user.a", b"1".to_vec(), t(2))
            .await
            .unwrap();
        m.set_xattr(f.ino, b"user.b", b"2".to_vec(), t(3))
            .await
            .unwrap();
        m.sync().await.unwrap();
        let synced = m.getattr(f.ino).await.unwrap();
        m.set_xattr(f.ino, b"user.a", b"changed".to_vec(), t(4))
            .await
            .unwrap();
        m.remove_xattr(f.ino, b"user.b", t(5)).await.unwrap();
        m.crash();
        assert_eq!(m.getattr(f.ino).await.unwrap(), synced);
        assert_eq!(
            m.xattr(f.ino, b"user.a").await.unwrap(),
            Some(b"1".to_vec())
        );
        assert_eq!(
            m.xattr(f.ino, b"user.b").await.unwrap(),
            Some(b"2".to_vec())
        );
        // The journal replays set and remove: after another sync and crash both stick.
        m.remove_xattr(f.ino, b"user.a", t(6)).await.unwrap();
        m.set_xattr(f.ino, b"user.c", b"3".to_vec(), t(7))
            .await
            .unwrap();
        m.sync().await.unwrap();
        m.crash();
        let names: Vec<Vec<u8>> = m
            .list_xattrs(f.ino)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, vec![b"user.b".to_vec(), b"user.c".to_vec()]);
    }

    /// Goal: a secret is durable when `init_secret` returns, without a sync. Method: init,
    /// crash, read it back; a second init after the crash keeps the first value.
    #[tokio::test]
    async fn secrets_survive_a_crash() {
        let m = MemoryMetadata::new(StoreId(1));
        assert_eq!(m.init_secret("k", vec![1, 2]).await.unwrap(), vec![1, 2]);
        m.crash();
        assert_eq!(m.secret("k").await.unwrap(), Some(vec![1, 2]));
        assert_eq!(m.init_secret("k", vec![3]).await.unwrap(), vec![1, 2]);
    }

    /// Goal: a workload that never syncs still has a bounded journal. Method: run more than
    /// JOURNAL_MAX changes without sync; after a crash at least the first JOURNAL_MAX survive.
    #[tokio::test]
    async fn metadata_journal_is_bounded() {
        let m = MemoryMetadata::new(StoreId(1));
        let root = m.share_root("s", dir_node(1)).await.unwrap();
        let f = m
            .create(root.ino, b"f", node(FileKind::Regular, 1))
            .await
            .unwrap();
        for i in 0..JOURNAL_MAX as u64 + 10 {
            m.record_write(f.ino, i, t(2), None).await.unwrap();
        }
        assert!(m.lock().journal.len() < JOURNAL_MAX);
        m.crash();
        assert!(m.getattr(f.ino).await.unwrap().size >= JOURNAL_MAX as u64 - 10);
    }

    /// Goal: the inode limit turns creates into NoSpace without changing anything.
    #[tokio::test]
    async fn metadata_inode_limit() {
        let m = MemoryMetadata::new(StoreId(1)).with_inode_limit(2);
        let root = m.share_root("s", dir_node(1)).await.unwrap();
        m.create(root.ino, b"a", node(FileKind::Regular, 1))
            .await
            .unwrap();
        assert!(matches!(
            m.create(root.ino, b"b", node(FileKind::Regular, 1)).await,
            Err(StoreError::NoSpace)
        ));
        assert!(matches!(
            m.lookup(root.ino, b"b").await,
            Err(StoreError::NotFound)
        ));
        let u = m.usage().await.unwrap();
        assert_eq!((u.files_total, u.files_free), (2, 0));
        m.unlink(root.ino, b"a", t(2)).await.unwrap();
        m.create(root.ino, b"b", node(FileKind::Regular, 1))
            .await
            .unwrap();
    }
}
