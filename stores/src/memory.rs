//! In-memory stores: [`MemoryMetadata`] and [`MemoryContent`].
//!
//! They are real backends (engine `memory`) and they back the deterministic simulator, so they
//! implement the whole contract and model the weakest durability of any real backend: each keeps
//! a *live* copy that every call reads and changes, and a *durable* copy that only `sync` brings
//! up to date. `crash()` throws the live copy away and restarts from the durable one, as a
//! machine crash (power loss) would.
//!
//! Costs: metadata keeps a redo journal of the operations completed since the last `sync`;
//! `sync` replays it onto the durable copy, so it costs O(operations since the last sync), not
//! O(namespace). Content is kept in [`BLOCK_SIZE`] blocks shared (reference-counted) between the
//! two copies; `sync(key)` copies only the blocks of that key changed since its last sync.
//! `crash()` clones the durable copy, O(namespace) and O(blocks), which is fine: it is rare.
//!
//! Nothing here touches a clock or randomness: times come from the callers, the store id from
//! the constructor, so one seed reproduces one run.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;

use crate::api::{
    Attr, ContentKey, ContentStore, Cookie, Device, DirEntry, DirPage, FileKind, Generation,
    InodeId, MetadataStore, NewNode, Removed, Renamed, SetAttr, StoreError, StoreId, StoreResult,
    Timestamp, Usage, check_name,
};

/// Operations journaled before the metadata store makes them durable on its own. Bounds the
/// journal's memory when a workload never syncs. A real backend also writes back on its own
/// schedule, and the contract only promises durability *after* `sync`, so an early write-back
/// stays within it; the threshold depends only on the operation count, so runs stay
/// reproducible.
pub const JOURNAL_MAX: usize = 1 << 16;

/// Size of the blocks [`MemoryContent`] keeps a file in, in bytes. A sync copies (shares) only
/// the blocks written since the last one.
pub const BLOCK_SIZE: u64 = 64 * 1024;

/// Inode total reported by [`MemoryMetadata::usage`] when no inode limit is set.
pub const UNBOUNDED_FILES_REPORTED: u64 = 1 << 32;

/// Byte total reported by [`MemoryContent::usage`] when no capacity limit is set (1 PiB).
pub const UNBOUNDED_BYTES_REPORTED: u64 = 1 << 50;

/// The generation of every inode. Inode ids are never reused (not even after `crash()`, see
/// [`MemoryMetadata::crash`]), so the id alone names one object forever.
const GENERATION: Generation = Generation(1);

// ---------------------------------------------------------------------------------------------
// Metadata
// ---------------------------------------------------------------------------------------------

/// An in-memory [`MetadataStore`] with a live and a durable copy of the namespace.
pub struct MemoryMetadata {
    id: StoreId,
    /// Most inodes the store holds at once; creating more fails with `NoSpace`.
    inode_limit: Option<u64>,
    inner: Mutex<MetaInner>,
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

    async fn record_write(&self, ino: InodeId, end: u64, mtime: Timestamp) -> StoreResult<Attr> {
        let mut inner = self.lock();
        let attr = inner.live.record_write(ino, end, mtime)?;
        inner.record(Op::RecordWrite { ino, end, mtime });
        Ok(attr)
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
enum Op {
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
    },
}

/// One copy of the namespace.
#[derive(Clone)]
struct Namespace {
    inodes: BTreeMap<InodeId, Inode>,
    shares: BTreeMap<String, InodeId>,
    /// Next inode id to hand out; starts at 1 because fileid 0 crashed macOS clients.
    next_ino: u64,
    /// Next value of the store-wide change sequence; every changed inode takes the next one,
    /// so each inode's `change` only grows.
    next_change: u64,
}

#[derive(Clone)]
struct Inode {
    attr: Attr,
    body: Body,
}

#[derive(Clone)]
enum Body {
    Dir(Dir),
    Symlink(Vec<u8>),
    /// Regular files and device, fifo and socket nodes: everything they have is in the attrs.
    Plain,
}

#[derive(Clone)]
struct Dir {
    /// The directory holding this one; a share root is its own parent.
    parent: InodeId,
    by_name: BTreeMap<Vec<u8>, Entry>,
    /// The same entries by cookie, for listings.
    by_cookie: BTreeMap<u64, Vec<u8>>,
    /// Cookie for the next entry linked here; only grows.
    next_cookie: u64,
}

#[derive(Clone, Copy)]
struct Entry {
    cookie: u64,
    ino: InodeId,
}

impl Dir {
    fn new(parent: InodeId) -> Self {
        Self {
            parent,
            by_name: BTreeMap::new(),
            by_cookie: BTreeMap::new(),
            next_cookie: Cookie::FIRST_ENTRY,
        }
    }

    fn insert(&mut self, name: &[u8], ino: InodeId) {
        let cookie = self.next_cookie;
        self.next_cookie += 1;
        self.by_name.insert(name.to_vec(), Entry { cookie, ino });
        self.by_cookie.insert(cookie, name.to_vec());
    }

    fn remove(&mut self, name: &[u8]) -> Entry {
        let entry = self
            .by_name
            .remove(name)
            .expect("the entry was looked up earlier in this operation");
        self.by_cookie.remove(&entry.cookie);
        entry
    }
}

impl Inode {
    fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir(_))
    }

    fn dir_mut(&mut self) -> &mut Dir {
        match &mut self.body {
            Body::Dir(d) => d,
            Body::Symlink(_) | Body::Plain => {
                unreachable!("the inode was checked to be a directory earlier in this operation")
            }
        }
    }
}

/// Checks the parts of a new node the caller controls.
fn check_node(node: &NewNode) -> StoreResult<()> {
    check_mode(node.mode)
}

fn check_mode(mode: u32) -> StoreResult<()> {
    if mode > 0o7777 {
        return Err(StoreError::Invalid("mode has bits beyond 0o7777"));
    }
    Ok(())
}

fn too_many_links() -> StoreError {
    StoreError::Invalid("too many links")
}

impl Namespace {
    fn new() -> Self {
        Self {
            inodes: BTreeMap::new(),
            shares: BTreeMap::new(),
            next_ino: 1,
            next_change: 1,
        }
    }

    /// Repeats a journaled operation.
    fn apply(&mut self, op: &Op) -> StoreResult<()> {
        match op {
            Op::ShareRoot { name, root } => self.share_root(name, root).map(drop),
            Op::Create { dir, name, node } => self.create(*dir, name, node).map(drop),
            Op::Link {
                ino,
                dir,
                name,
                now,
            } => self.link(*ino, *dir, name, *now).map(drop),
            Op::Unlink { dir, name, now } => self.unlink(*dir, name, *now).map(drop),
            Op::Rmdir { dir, name, now } => self.rmdir(*dir, name, *now).map(drop),
            Op::Rename {
                from_dir,
                from_name,
                to_dir,
                to_name,
                now,
            } => self
                .rename(*from_dir, from_name, *to_dir, to_name, *now)
                .map(drop),
            Op::SetAttr { ino, set, now } => self.setattr(*ino, set, *now).map(drop),
            Op::RecordWrite { ino, end, mtime } => self.record_write(*ino, *end, *mtime).map(drop),
        }
    }

    fn alloc_ino(&mut self) -> InodeId {
        let ino = InodeId(self.next_ino);
        self.next_ino = self
            .next_ino
            .checked_add(1)
            .expect("2^64 inode ids are never exhausted");
        ino
    }

    fn next_change(&mut self) -> u64 {
        let c = self.next_change;
        self.next_change += 1;
        c
    }

    fn inode(&self, ino: InodeId) -> StoreResult<&Inode> {
        self.inodes.get(&ino).ok_or(StoreError::Stale)
    }

    /// The inode `ino`, which this operation already checked exists.
    fn inode_mut(&mut self, ino: InodeId) -> &mut Inode {
        self.inodes
            .get_mut(&ino)
            .expect("the inode was checked to exist earlier in this operation")
    }

    fn dir(&self, ino: InodeId) -> StoreResult<&Dir> {
        match &self.inode(ino)?.body {
            Body::Dir(d) => Ok(d),
            Body::Symlink(_) | Body::Plain => Err(StoreError::NotDir),
        }
    }

    fn entry(&self, dir: InodeId, name: &[u8]) -> StoreResult<Entry> {
        self.dir(dir)?
            .by_name
            .get(name)
            .copied()
            .ok_or(StoreError::NotFound)
    }

    /// Sets ctime to `now` and takes the next change number.
    fn touch_ctime(&mut self, ino: InodeId, now: Timestamp) {
        let change = self.next_change();
        let attr = &mut self.inode_mut(ino).attr;
        attr.ctime = now;
        attr.change = change;
    }

    /// A directory's entries changed: mtime and ctime become `now`.
    fn touch_dir(&mut self, dir: InodeId, now: Timestamp) {
        self.touch_ctime(dir, now);
        self.inode_mut(dir).attr.mtime = now;
    }

    fn existing_share(&self, name: &str) -> StoreResult<Option<Attr>> {
        match self.shares.get(name) {
            Some(ino) => Ok(Some(self.inode(*ino)?.attr.clone())),
            None => Ok(None),
        }
    }

    /// Returns the root of share `name`, creating it if needed.
    fn share_root(&mut self, name: &str, root: &NewNode) -> StoreResult<Attr> {
        if let Some(attr) = self.existing_share(name)? {
            return Ok(attr);
        }
        if root.kind != FileKind::Directory {
            return Err(StoreError::Invalid("a share root must be a directory"));
        }
        check_node(root)?;
        let ino = self.alloc_ino();
        let inode = self.new_inode(ino, ino, root);
        let attr = inode.attr.clone();
        self.inodes.insert(ino, inode);
        self.shares.insert(name.to_owned(), ino);
        Ok(attr)
    }

    /// Builds a fresh inode; `parent` is only used for directories.
    fn new_inode(&mut self, ino: InodeId, parent: InodeId, node: &NewNode) -> Inode {
        let (body, nlink, size) = match node.kind {
            FileKind::Directory => (Body::Dir(Dir::new(parent)), 2, 0),
            FileKind::Symlink => (
                Body::Symlink(node.symlink_target.clone()),
                1,
                node.symlink_target.len() as u64,
            ),
            FileKind::Regular
            | FileKind::BlockDevice
            | FileKind::CharDevice
            | FileKind::Socket
            | FileKind::Fifo => (Body::Plain, 1, 0),
        };
        let rdev = match node.kind {
            FileKind::BlockDevice | FileKind::CharDevice => node.rdev,
            FileKind::Regular
            | FileKind::Directory
            | FileKind::Symlink
            | FileKind::Socket
            | FileKind::Fifo => Device::default(),
        };
        Inode {
            attr: Attr {
                ino,
                generation: GENERATION,
                kind: node.kind,
                mode: node.mode,
                nlink,
                uid: node.uid,
                gid: node.gid,
                size,
                rdev,
                atime: node.now,
                mtime: node.now,
                ctime: node.now,
                btime: node.now,
                change: self.next_change(),
            },
            body,
        }
    }

    fn create(&mut self, dir: InodeId, name: &[u8], node: &NewNode) -> StoreResult<Attr> {
        let d = self.dir(dir)?;
        if d.by_name.contains_key(name) {
            return Err(StoreError::Exists);
        }
        check_node(node)?;
        let is_dir = node.kind == FileKind::Directory;
        let dir_nlink = self.inode(dir)?.attr.nlink;
        let dir_nlink = if is_dir {
            dir_nlink.checked_add(1).ok_or_else(too_many_links)?
        } else {
            dir_nlink
        };
        // Every check passed; from here on nothing fails.
        let ino = self.alloc_ino();
        let inode = self.new_inode(ino, dir, node);
        let attr = inode.attr.clone();
        self.inodes.insert(ino, inode);
        self.inode_mut(dir).dir_mut().insert(name, ino);
        self.inode_mut(dir).attr.nlink = dir_nlink;
        self.touch_dir(dir, node.now);
        Ok(attr)
    }

    fn link(
        &mut self,
        ino: InodeId,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Attr> {
        let target = self.inode(ino)?;
        let nlink = target.attr.nlink;
        let target_is_dir = target.is_dir();
        let d = self.dir(dir)?;
        if target_is_dir {
            return Err(StoreError::Invalid("hard link to a directory"));
        }
        if d.by_name.contains_key(name) {
            return Err(StoreError::Exists);
        }
        let nlink = nlink.checked_add(1).ok_or_else(too_many_links)?;
        self.inode_mut(dir).dir_mut().insert(name, ino);
        self.inode_mut(ino).attr.nlink = nlink;
        self.touch_ctime(ino, now);
        self.touch_dir(dir, now);
        Ok(self.inode_mut(ino).attr.clone())
    }

    fn unlink(&mut self, dir: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Removed> {
        let entry = self.entry(dir, name)?;
        if self.inode(entry.ino)?.is_dir() {
            return Err(StoreError::IsDir);
        }
        let removed = self.drop_entry(dir, name, now);
        self.touch_dir(dir, now);
        Ok(removed)
    }

    fn rmdir(&mut self, dir: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Removed> {
        let entry = self.entry(dir, name)?;
        match &self.inode(entry.ino)?.body {
            Body::Dir(d) if !d.by_name.is_empty() => return Err(StoreError::NotEmpty),
            Body::Dir(_) => {}
            Body::Symlink(_) | Body::Plain => return Err(StoreError::NotDir),
        }
        let removed = self.drop_entry(dir, name, now);
        self.touch_dir(dir, now);
        Ok(removed)
    }

    /// Removes the checked entry `dir/name` and the link it held: a directory (checked empty)
    /// is freed and its parent loses the subdirectory's "..", a file loses one link and is
    /// freed with its last. Does not touch `dir`'s times.
    fn drop_entry(&mut self, dir: InodeId, name: &[u8], now: Timestamp) -> Removed {
        let entry = self.inode_mut(dir).dir_mut().remove(name);
        let ino = entry.ino;
        if self.inode_mut(ino).is_dir() {
            let parent = &mut self.inode_mut(dir).attr;
            parent.nlink = parent.nlink.saturating_sub(1);
            self.touch_ctime(ino, now);
            let mut inode = self.inodes.remove(&ino).expect("checked to exist above");
            inode.attr.nlink = 0;
            return Removed {
                attr: inode.attr,
                freed: true,
            };
        }
        let attr = &mut self.inode_mut(ino).attr;
        attr.nlink = attr.nlink.saturating_sub(1);
        self.touch_ctime(ino, now);
        if self.inode_mut(ino).attr.nlink == 0 {
            let inode = self.inodes.remove(&ino).expect("checked to exist above");
            Removed {
                attr: inode.attr,
                freed: true,
            }
        } else {
            Removed {
                attr: self.inode_mut(ino).attr.clone(),
                freed: false,
            }
        }
    }

    /// Returns the result and whether anything changed (renaming a name onto another name for
    /// the same inode does nothing).
    fn rename(
        &mut self,
        from_dir: InodeId,
        from_name: &[u8],
        to_dir: InodeId,
        to_name: &[u8],
        now: Timestamp,
    ) -> StoreResult<(Renamed, bool)> {
        self.dir(from_dir)?;
        let target = self.dir(to_dir)?.by_name.get(to_name).copied();
        let source = self.entry(from_dir, from_name)?;
        let source_inode = self.inode(source.ino)?;
        if target.is_some_and(|t| t.ino == source.ino) {
            let renamed = Renamed {
                attr: source_inode.attr.clone(),
                replaced: None,
            };
            return Ok((renamed, false));
        }
        let source_is_dir = source_inode.is_dir();
        if source_is_dir {
            // Walk up from the destination: meeting the source means it would become its own
            // ancestor. Share roots are their own parents, which ends the walk.
            let mut cur = to_dir;
            loop {
                if cur == source.ino {
                    return Err(StoreError::Invalid("move a directory under itself"));
                }
                let parent = self.dir(cur)?.parent;
                if parent == cur {
                    break;
                }
                cur = parent;
            }
        }
        let mut target_is_dir = false;
        if let Some(t) = target {
            match (&self.inode(t.ino)?.body, source_is_dir) {
                (Body::Dir(d), true) if !d.by_name.is_empty() => return Err(StoreError::NotEmpty),
                (Body::Dir(_), true) => target_is_dir = true,
                (Body::Dir(_), false) => return Err(StoreError::IsDir),
                (Body::Symlink(_) | Body::Plain, true) => return Err(StoreError::NotDir),
                (Body::Symlink(_) | Body::Plain, false) => {}
            }
        }
        // A directory moving to another parent adds a ".." link there, unless it replaces a
        // directory whose ".." link it takes over.
        if source_is_dir && from_dir != to_dir && !target_is_dir {
            self.inode(to_dir)?
                .attr
                .nlink
                .checked_add(1)
                .ok_or_else(too_many_links)?;
        }
        // Every check passed; from here on nothing fails.
        let replaced = target.map(|_| self.drop_entry(to_dir, to_name, now));
        self.inode_mut(from_dir).dir_mut().remove(from_name);
        self.inode_mut(to_dir).dir_mut().insert(to_name, source.ino);
        if source_is_dir && from_dir != to_dir {
            self.inode_mut(source.ino).dir_mut().parent = to_dir;
            let from = &mut self.inode_mut(from_dir).attr;
            from.nlink = from.nlink.saturating_sub(1);
            let to = &mut self.inode_mut(to_dir).attr;
            to.nlink = to.nlink.saturating_add(1);
        }
        self.touch_ctime(source.ino, now);
        self.touch_dir(from_dir, now);
        if to_dir != from_dir {
            self.touch_dir(to_dir, now);
        }
        let renamed = Renamed {
            attr: self.inode_mut(source.ino).attr.clone(),
            replaced,
        };
        Ok((renamed, true))
    }

    /// Returns the new attributes and whether anything changed (an empty `set` changes
    /// nothing).
    fn setattr(
        &mut self,
        ino: InodeId,
        set: &SetAttr,
        now: Timestamp,
    ) -> StoreResult<(Attr, bool)> {
        let inode = self.inode(ino)?;
        if let Some(mode) = set.mode {
            check_mode(mode)?;
        }
        if set.size.is_some() {
            match inode.attr.kind {
                FileKind::Regular => {}
                FileKind::Directory => return Err(StoreError::IsDir),
                FileKind::Symlink
                | FileKind::BlockDevice
                | FileKind::CharDevice
                | FileKind::Socket
                | FileKind::Fifo => return Err(StoreError::Invalid("size of a non-regular file")),
            }
        }
        if *set == SetAttr::default() {
            return Ok((inode.attr.clone(), false));
        }
        self.touch_ctime(ino, now);
        let attr = &mut self.inode_mut(ino).attr;
        if let Some(mode) = set.mode {
            attr.mode = mode;
        }
        if let Some(uid) = set.uid {
            attr.uid = uid;
        }
        if let Some(gid) = set.gid {
            attr.gid = gid;
        }
        if let Some(size) = set.size {
            // POSIX truncate: changing the size is a content modification.
            if size != attr.size {
                attr.mtime = now;
            }
            attr.size = size;
        }
        if let Some(atime) = set.atime {
            attr.atime = atime;
        }
        if let Some(mtime) = set.mtime {
            attr.mtime = mtime;
        }
        Ok((attr.clone(), true))
    }

    fn record_write(&mut self, ino: InodeId, end: u64, mtime: Timestamp) -> StoreResult<Attr> {
        match self.inode(ino)?.attr.kind {
            FileKind::Regular => {}
            FileKind::Directory => return Err(StoreError::IsDir),
            FileKind::Symlink
            | FileKind::BlockDevice
            | FileKind::CharDevice
            | FileKind::Socket
            | FileKind::Fifo => return Err(StoreError::Invalid("write to a non-regular file")),
        }
        self.touch_ctime(ino, mtime);
        let attr = &mut self.inode_mut(ino).attr;
        attr.size = attr.size.max(end);
        attr.mtime = mtime;
        Ok(attr.clone())
    }
}

// ---------------------------------------------------------------------------------------------
// Content
// ---------------------------------------------------------------------------------------------

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

    async fn write(&self, key: ContentKey, offset: u64, data: Bytes) -> StoreResult<()> {
        if data.is_empty() {
            // As pwrite(2): writing nothing changes nothing, not even the length.
            return Ok(());
        }
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or(StoreError::Invalid("write beyond the largest offset"))?;
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
        Ok(())
    }

    async fn truncate(&self, key: ContentKey, len: u64) -> StoreResult<()> {
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

    async fn sync(&self, key: ContentKey) -> StoreResult<()> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        let Some(dirty) = inner.dirty.remove(&key) else {
            return Ok(());
        };
        let Some(live) = inner.live.get(&key) else {
            inner.durable.remove(&key);
            return Ok(());
        };
        let durable = inner.durable.entry(key).or_default();
        durable.len = live.len;
        for index in dirty {
            match live.blocks.get(&index) {
                Some(block) => durable.blocks.insert(index, Arc::clone(block)),
                None => durable.blocks.remove(&index),
            };
        }
        Ok(())
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

    fn key(ino: u64) -> ContentKey {
        ContentKey {
            store: StoreId(7),
            ino: InodeId(ino),
        }
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
        m.record_write(f.ino, 100, t(6)).await.unwrap();
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
            m.record_write(f.ino, i, t(2)).await.unwrap();
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
