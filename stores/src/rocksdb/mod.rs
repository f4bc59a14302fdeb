//! [`RocksMetadata`]: the embedded, persistent metadata store (the default), on RocksDB.
//!
//! # Key layout
//!
//! One column family (the default one), keys prefixed by a short ASCII tag. Integers are
//! big-endian, so byte order is numeric order; `<ino>`, `<dir>` and `<cookie>` are 8 bytes.
//!
//! | key | value | what |
//! | --- | --- | --- |
//! | `meta/format` | `u32` | on-disk format version ([`FORMAT_VERSION`]), written at creation |
//! | `meta/store_id` | `u64` | the random [`StoreId`], written once at creation |
//! | `meta/next_ino` | `u64` | the next inode id to hand out; only grows, starts at 1 |
//! | `meta/epoch` | `u64` | opens so far, fsynced at each open; the generation of inodes created in this run |
//! | `meta/files` | `u64` | number of live inodes, for [`MetadataStore::usage`] |
//! | `i/<ino>` | inode record | version byte 1, kind, mode, nlink, uid, gid, size, rdev, atime, mtime, ctime, btime, generation, change, parent (directories), next cookie (directories): 114 bytes |
//! | `l/<ino>` | bytes | symlink target |
//! | `v/<ino>` | `u64` | the file's [`ContentVersion`], once `record_write` recorded one; written in the batch that sets the size, deleted with the inode |
//! | `d/<dir><name>` | `<ino><cookie>` | directory entry, for lookup by name |
//! | `f/<dir><fold>\0<name>` | empty | case-fold index ([`crate::fold_case`]): `lookup_folded` seeks to `f/<dir><fold>\0` (format 2) |
//! | `c/<dir><cookie>` | `<ino><name>` | cookie index: readdir seeks to `c/<dir><after + 1>` and walks forward, so listings come in cookie order and resume after a removed cookie |
//! | `a/<ino><name>` | bytes | an extended attribute's value (`set_xattr`); all of an inode's go in the batch that frees it |
//! | `s/<share name>` | `<ino>` | root directory of a share |
//! | `x/<name>` | bytes | a server secret (`init_secret`), written once and fsynced |
//! | `o/<len><share><id>` | bytes | a durable open's record (`put_durable_open`): the share name with its length as a `u16`, the id as a `u64`; the value is opaque |
//!
//! Each directory keeps its next cookie in its own record, starting at
//! [`Cookie::FIRST_ENTRY`]; a name linked into the directory (create, link, rename) takes the
//! next one, so cookies only grow and are never reused within a directory.
//!
//! # Choices
//!
//! - **One fixed-size record per inode.** `record_write` rewrites only `i/<ino>`, a 114-byte
//!   value, and nothing else (no entries, no symlink target, no counters). A separate `a/<ino>`
//!   key for size and times would not make that cheaper, and since every namespace operation also
//!   changes ctime and the change counter, most operations would then write two keys and every
//!   getattr and listing read two. A merge operator would save the read, but `record_write`
//!   returns the new attributes and so reads anyway, and a merge operator is code that must
//!   understand every past record format forever, inside compactions. The symlink target lives
//!   under its own key so the record stays fixed-size.
//! - **Mutations are serialised by a [`Mutex`]; reads take no lock.** Every mutation reads what
//!   it needs, computes the change and writes it as one [`WriteBatch`] while holding the lock,
//!   so read-modify-write sequences never interleave and each operation is atomic (a
//!   `WriteBatch` applies completely or not at all, also across a crash). The lock is a plain
//!   `std` mutex held only inside synchronous code, never across an `.await`. Reads that touch
//!   more than one key (lookup, readdir, readlink) read from one RocksDB snapshot, so they see
//!   each mutation entirely or not at all. Nothing above the store serialises the namespace:
//!   a share actor runs many requests at once (one task each, up to its concurrency limit),
//!   and several shares may use one store, so this
//!   lock is what makes concurrent mutations safe (the conformance suite's concurrency checks
//!   exercise it). An `OptimisticTransactionDB` would let mutations of unrelated directories run
//!   in parallel, but conflict retries would add a failure mode the lock does not have, and one
//!   mutation holds it only for a few memtable reads and one batch write.
//! - **Durability.** Writes go to the write-ahead log without a per-write fsync: a completed call
//!   survives a process crash. [`MetadataStore::sync`] fsyncs the log (`flush_wal(true)`), after
//!   which every completed call survives a machine crash, as the contract asks.
//! - **Ids.** `meta/next_ino` is advanced in the same batch that creates the inode, so an id is
//!   never handed out twice while the write-ahead log survives. Ids start at 1, never 0. After a
//!   machine crash the unsynced tail of the log is gone, and with it the newest creations *and*
//!   their counter advance, so an id given out before the crash can be given out again. Handles
//!   must never name a different object, so every open bumps `meta/epoch` and fsyncs it before
//!   any creation, and new inodes take the epoch as their generation: an id reused after a crash
//!   comes with a generation no earlier handle carries.
//! - **Change counter.** Each inode's `change` starts at 1 and grows by one with every change
//!   to the inode (or, for a directory, to its entries), in the same batch as the change.
//! - **Extended attributes** live under their own keys, one per attribute, beside the inode
//!   record: the record stays fixed-size, getattr and listings never read them, and one
//!   attribute is read or replaced without touching the others. A set reads the inode's other
//!   attributes (at most [`XATTR_TOTAL_MAX`](crate::XATTR_TOTAL_MAX) bytes) to check the total,
//!   and writes the value and the inode record (ctime, change) in one batch. Freeing an inode
//!   deletes its `a/<ino>` keys in the freeing batch. An inode id reused after a machine
//!   crash (see "Ids") cannot meet the attributes of the lost inode: they were written after
//!   its creation, so the log tail that lost the creation lost them too. Databases written
//!   before attributes existed simply have none: no format change.
//! - **Format versions.** `meta/format` is written at creation and checked on open: a newer
//!   version is refused with [`FormatError::UnsupportedVersion`]; an older one would be migrated
//!   in `migrate`: format 1 had no case-fold index, which the migration to 2 builds from the
//!   entries. Inode records also carry a version byte.
//!
//! RocksDB does its own file I/O on its own threads, so this store never runs inside the
//! simulator; the memory store stands in for it there.

mod codec;

use std::collections::BTreeMap;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use ::rocksdb::{DB, DBCompressionType, ErrorKind, Options, ReadOptions, WriteBatch};

use crate::api::{
    Attr, ContentVersion, Cookie, DirEntry, DirPage, FileKind, Generation, InodeId, MetadataStore,
    NewNode, Recorded, Removed, Renamed, SetAttr, StoreError, StoreId, StoreResult, Timestamp,
    Usage, XattrEntry, check_name, check_xattr_name,
};
use crate::rules::{self, add_link};
use codec::Inode;

/// The on-disk format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 2;

/// The inode capacity reported by [`MetadataStore::usage`]. RocksDB has no inode limit; this is
/// large but leaves headroom in clients that add to it.
pub const FILES_MAX: u64 = 1 << 48;

/// Why a database could not be used as a DittoFS metadata store. Reported inside
/// [`StoreError::Backend`].
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The database was written in a format this build does not know.
    #[error(
        "metadata database has format version {found}, but this build supports only version \
         {supported}; use a newer DittoFS"
    )]
    UnsupportedVersion {
        /// The version found in `meta/format`.
        found: u32,
        /// [`FORMAT_VERSION`].
        supported: u32,
    },
    /// The database holds data but no format version: it was not created by DittoFS.
    #[error("not a DittoFS metadata database: it holds data but no format version")]
    Foreign,
    /// A stored value could not be decoded, or the stored state breaks an invariant.
    #[error("corrupt metadata: bad {what}")]
    Corrupt {
        /// What was damaged.
        what: &'static str,
    },
}

impl From<FormatError> for StoreError {
    fn from(e: FormatError) -> Self {
        Self::Backend(Box::new(e))
    }
}

/// The embedded persistent metadata store. See the [module docs](self) for the layout and the
/// reasoning behind it.
pub struct RocksMetadata {
    db: DB,
    id: StoreId,
    path: PathBuf,
    /// Serialises mutations; see the module docs. Guards no data: the state is in `db`.
    write_lock: Mutex<()>,
    /// This run's `meta/epoch`: the generation of the inodes it creates.
    generation: Generation,
}

impl fmt::Debug for RocksMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RocksMetadata")
            .field("id", &self.id)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Table files RocksDB keeps open at most (its `max_open_files`; beyond it the least recently
/// used are closed). The write-ahead log, manifest and info log come on top.
pub const MAX_OPEN_FILES: i32 = 256;

impl RocksMetadata {
    /// Opens the database at `path`, creating it (with a fresh random [`StoreId`]) if it does
    /// not exist. Fails with [`StoreError::Backend`] holding a [`FormatError`] if the database
    /// was written by a newer DittoFS or by something else, and with a RocksDB error if it is
    /// locked by another process or damaged.
    pub fn open(path: &Path) -> StoreResult<Self> {
        // RocksDB creates only the last path component; a configured path such as
        // `~/.local/share/dittofs/meta` should work on a fresh machine too.
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.set_compression_type(DBCompressionType::Lz4);
        // The info log rotates; keep the directory from growing without bound.
        opts.set_keep_log_file_num(4);
        // RocksDB's default keeps every table file open for ever; the daemon sizes its
        // open-file limit from this bound instead (actors::daemon::descriptors_needed).
        opts.set_max_open_files(MAX_OPEN_FILES);
        let db = DB::open(&opts, path).map_err(rocks_error)?;
        let id = match db.get(codec::FORMAT).map_err(rocks_error)? {
            Some(value) => {
                let found = codec::decode_u32(&value, "format version")?;
                migrate(&db, found)?;
                let value = db
                    .get(codec::STORE_ID)
                    .map_err(rocks_error)?
                    .ok_or(FormatError::Corrupt { what: "store id" })?;
                StoreId(codec::decode_u64(&value, "store id")?)
            }
            None => initialise(&db, path)?,
        };
        let generation = next_epoch(&db)?;
        Ok(Self {
            db,
            id,
            path: path.to_owned(),
            write_lock: Mutex::new(()),
            generation,
        })
    }

    /// The directory holding the database.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts a mutation: takes the write lock and an empty batch.
    fn begin(&self) -> Txn<'_> {
        // A panic while holding the lock cannot leave half-applied state (the batch is written
        // whole or not at all, and the lock guards no data), so a poisoned lock is still usable.
        let guard = self
            .write_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Txn {
            db: &self.db,
            batch: WriteBatch::default(),
            inodes: BTreeMap::new(),
            next_ino: None,
            files: None,
            _guard: guard,
        }
    }

    fn share_root_now(&self, name: &str, root: NewNode) -> StoreResult<Attr> {
        let key = codec::share_key(name);
        let mut txn = self.begin();
        if let Some(value) = self.db.get(&key).map_err(rocks_error)? {
            let ino = codec::decode_u64(&value, "share root")?;
            return Ok(txn.linked_inode(ino)?.attr);
        }
        rules::check_share_root(&root)?;
        let ino = txn.allocate_ino()?;
        // A share root is its own parent, as "/" is.
        let inode = new_inode(ino, self.generation, &root, ino)?;
        txn.batch.put(key, codec::encode_u64(ino));
        let attr = inode.attr.clone();
        txn.put_inode(inode);
        txn.commit()?;
        Ok(attr)
    }

    fn getattr_now(&self, ino: InodeId) -> StoreResult<Attr> {
        let value = self
            .db
            .get(codec::inode_key(ino.0))
            .map_err(rocks_error)?
            .ok_or(StoreError::Stale)?;
        Ok(codec::decode_inode(ino, &value)?.attr)
    }

    fn lookup_now(&self, dir: InodeId, name: &[u8]) -> StoreResult<Attr> {
        check_name(name)?;
        let snap = self.db.snapshot();
        check_dir(&snap, dir)?;
        entry_attr(&snap, dir, name)?.ok_or(StoreError::NotFound)
    }

    fn lookup_folded_now(&self, dir: InodeId, name: &[u8]) -> StoreResult<(Vec<u8>, Attr)> {
        check_name(name)?;
        let snap = self.db.snapshot();
        check_dir(&snap, dir)?;
        let prefix = codec::fold_prefix(dir.0, &crate::fold_case(name));
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(codec::prefix_end(&prefix));
        let mut iter = snap.raw_iterator_opt(opts);
        iter.seek(&prefix);
        let stored = match iter.key() {
            Some(key) => key[prefix.len()..].to_vec(),
            None => {
                iter.status().map_err(rocks_error)?;
                return Err(StoreError::NotFound);
            }
        };
        drop(iter);
        let attr = entry_attr(&snap, dir, &stored)?.ok_or(FormatError::Corrupt {
            what: "case-fold index entry without its directory entry",
        })?;
        Ok((stored, attr))
    }

    fn create_now(&self, dir: InodeId, name: &[u8], node: NewNode) -> StoreResult<Attr> {
        check_name(name)?;
        let mut txn = self.begin();
        let mut parent = txn.dir(dir)?;
        if txn.entry(dir, name)?.is_some() {
            return Err(StoreError::Exists);
        }
        let ino = txn.allocate_ino()?;
        let inode = new_inode(ino, self.generation, &node, dir.0)?;
        if node.kind == FileKind::Symlink {
            txn.batch.put(codec::symlink_key(ino), &node.symlink_target);
        }
        if inode.is_dir() {
            // The new directory's ".." is a link to the parent.
            parent.attr.nlink = add_link(parent.attr.nlink)?;
        }
        txn.link_entry(&mut parent, name, ino);
        touch(&mut parent, node.now);
        let attr = inode.attr.clone();
        txn.put_inode(parent);
        txn.put_inode(inode);
        txn.commit()?;
        Ok(attr)
    }

    fn link_now(
        &self,
        ino: InodeId,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Attr> {
        check_name(name)?;
        let mut txn = self.begin();
        let mut inode = txn.inode(ino)?;
        let mut parent = txn.dir(dir)?;
        if inode.is_dir() {
            return Err(StoreError::Invalid("hard link to a directory"));
        }
        if txn.entry(dir, name)?.is_some() {
            return Err(StoreError::Exists);
        }
        inode.attr.nlink = add_link(inode.attr.nlink)?;
        inode.attr.ctime = now;
        inode.attr.change += 1;
        txn.link_entry(&mut parent, name, ino.0);
        touch(&mut parent, now);
        let attr = inode.attr.clone();
        txn.put_inode(parent);
        txn.put_inode(inode);
        txn.commit()?;
        Ok(attr)
    }

    fn remove_now(
        &self,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
        want_dir: bool,
    ) -> StoreResult<Removed> {
        check_name(name)?;
        let mut txn = self.begin();
        let mut parent = txn.dir(dir)?;
        let (ino, cookie) = txn.entry(dir, name)?.ok_or(StoreError::NotFound)?;
        let mut inode = txn.linked_inode(ino)?;
        rules::check_remove(want_dir, inode.is_dir(), || txn.is_empty_dir(ino))?;
        txn.unlink_entry(dir.0, name, cookie);
        if inode.is_dir() {
            // The removed directory's ".." no longer links to the parent.
            parent.attr.nlink = drop_link(parent.attr.nlink)?;
        }
        touch(&mut parent, now);
        txn.put_inode(parent);
        let removed = txn.drop_name(&mut inode, now)?;
        txn.commit()?;
        Ok(removed)
    }

    fn rename_now(
        &self,
        from_dir: InodeId,
        from_name: &[u8],
        to_dir: InodeId,
        to_name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Renamed> {
        check_name(from_name)?;
        check_name(to_name)?;
        let mut txn = self.begin();
        txn.dir(from_dir)?;
        txn.dir(to_dir)?;
        let (src_ino, src_cookie) = txn
            .entry(from_dir, from_name)?
            .ok_or(StoreError::NotFound)?;
        let target = txn.entry(to_dir, to_name)?;
        let mut src = txn.linked_inode(src_ino)?;
        if let Some((target_ino, _)) = target
            && target_ino == src_ino
        {
            // Two names for one inode (or the same name twice): nothing to do.
            return Ok(Renamed {
                attr: src.attr,
                replaced: None,
            });
        }
        if src.is_dir() && from_dir != to_dir {
            txn.check_not_under(to_dir, src_ino)?;
        }
        // Every check happens before the first write, so a failure leaves nothing behind.
        let target = match target {
            Some((target_ino, target_cookie)) => {
                let target_inode = txn.linked_inode(target_ino)?;
                rules::check_rename_target(src.is_dir(), target_inode.is_dir(), || {
                    txn.is_empty_dir(target_ino)
                })?;
                Some((target_inode, target_cookie))
            }
            None => None,
        };

        let replaced = match target {
            Some((mut target_inode, target_cookie)) => {
                txn.unlink_entry(to_dir.0, to_name, target_cookie);
                if target_inode.is_dir() {
                    let mut to = txn.inode(to_dir)?;
                    to.attr.nlink = drop_link(to.attr.nlink)?;
                    txn.put_inode(to);
                }
                Some(txn.drop_name(&mut target_inode, now)?)
            }
            None => None,
        };
        let moves_dir = src.is_dir() && from_dir != to_dir;
        txn.unlink_entry(from_dir.0, from_name, src_cookie);
        let mut from = txn.inode(from_dir)?;
        touch(&mut from, now);
        if moves_dir {
            from.attr.nlink = drop_link(from.attr.nlink)?;
        }
        txn.put_inode(from);
        let mut to = txn.inode(to_dir)?;
        txn.link_entry(&mut to, to_name, src_ino);
        if from_dir != to_dir {
            touch(&mut to, now);
        }
        if moves_dir {
            to.attr.nlink = add_link(to.attr.nlink)?;
            src.parent = to_dir.0;
        }
        txn.put_inode(to);
        src.attr.ctime = now;
        src.attr.change += 1;
        let attr = src.attr.clone();
        txn.put_inode(src);
        txn.commit()?;
        Ok(Renamed { attr, replaced })
    }

    fn setattr_now(&self, ino: InodeId, set: SetAttr, now: Timestamp) -> StoreResult<Attr> {
        let mut txn = self.begin();
        let mut inode = txn.inode(ino)?;
        if !rules::check_setattr(&inode.attr, &set)? {
            // Nothing to apply, so nothing changed: no ctime, no write.
            return Ok(inode.attr);
        }
        let a = &mut inode.attr;
        rules::apply_setattr(a, &set, now);
        a.change += 1;
        let attr = a.clone();
        txn.put_inode(inode);
        txn.commit()?;
        Ok(attr)
    }

    fn record_write_now(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        version: Option<ContentVersion>,
    ) -> StoreResult<Attr> {
        let mut txn = self.begin();
        let mut inode = txn.inode(ino)?;
        let a = &mut inode.attr;
        rules::check_write(a.kind)?;
        rules::apply_write(a, end, mtime);
        a.change += 1;
        let attr = a.clone();
        if let Some(version) = version {
            // Same batch as the size: both change or neither does.
            txn.batch
                .put(codec::version_key(ino.0), codec::encode_u64(version.0));
        }
        txn.put_inode(inode);
        txn.commit()?;
        Ok(attr)
    }

    fn record_write_on_now(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        base: Option<ContentVersion>,
        version: ContentVersion,
    ) -> StoreResult<Recorded> {
        // The transaction holds the write lock: nothing records between the check and the
        // change.
        let mut txn = self.begin();
        let mut inode = txn.inode(ino)?;
        rules::check_write(inode.attr.kind)?;
        let current = match self
            .db
            .get(codec::version_key(ino.0))
            .map_err(rocks_error)?
        {
            Some(value) => Some(ContentVersion(codec::decode_u64(
                &value,
                "content version",
            )?)),
            None => None,
        };
        if current != base && current != Some(version) {
            return Ok(Recorded::Conflict(current));
        }
        let a = &mut inode.attr;
        rules::apply_write(a, end, mtime);
        a.change += 1;
        let attr = a.clone();
        txn.batch
            .put(codec::version_key(ino.0), codec::encode_u64(version.0));
        txn.put_inode(inode);
        txn.commit()?;
        Ok(Recorded::Done(attr))
    }

    fn content_version_now(&self, ino: InodeId) -> StoreResult<Option<ContentVersion>> {
        let snap = self.db.snapshot();
        read_inode(snap.get(codec::inode_key(ino.0)), ino)?;
        match snap.get(codec::version_key(ino.0)).map_err(rocks_error)? {
            Some(value) => Ok(Some(ContentVersion(codec::decode_u64(
                &value,
                "content version",
            )?))),
            None => Ok(None),
        }
    }

    fn readlink_now(&self, ino: InodeId) -> StoreResult<Vec<u8>> {
        let snap = self.db.snapshot();
        let inode = read_inode(snap.get(codec::inode_key(ino.0)), ino)?;
        if inode.attr.kind != FileKind::Symlink {
            return Err(StoreError::Invalid("readlink of a non-symlink"));
        }
        snap.get(codec::symlink_key(ino.0))
            .map_err(rocks_error)?
            .ok_or_else(|| {
                FormatError::Corrupt {
                    what: "symlink target",
                }
                .into()
            })
    }

    fn readdir_now(&self, dir: InodeId, after: Cookie, max_entries: usize) -> StoreResult<DirPage> {
        let snap = self.db.snapshot();
        let dir_inode = read_inode(snap.get(codec::inode_key(dir.0)), dir)?;
        if !dir_inode.is_dir() {
            return Err(StoreError::NotDir);
        }
        let Some(first) = after.0.checked_add(1) else {
            return Ok(DirPage {
                entries: Vec::new(),
                eof: true,
            });
        };
        let prefix = codec::cookie_prefix(dir.0);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(codec::prefix_end(&prefix));
        let mut iter = snap.raw_iterator_opt(opts);
        iter.seek(codec::cookie_key(dir.0, first));
        let mut found = Vec::new();
        while let Some((key, value)) = iter.item() {
            if found.len() == max_entries {
                break;
            }
            let cookie =
                codec::cookie_of_key(key).ok_or(FormatError::Corrupt { what: "cookie key" })?;
            let (ino, name) = codec::decode_cookie(value)?;
            found.push((Cookie(cookie), InodeId(ino), name.to_vec()));
            iter.next();
        }
        iter.status().map_err(rocks_error)?;
        let eof = !iter.valid();
        drop(iter);

        let values = snap.multi_get(found.iter().map(|(_, ino, _)| codec::inode_key(ino.0)));
        let mut entries = Vec::with_capacity(found.len());
        for ((cookie, ino, name), value) in found.into_iter().zip(values) {
            let attr = read_linked_inode(value, ino)?.attr;
            entries.push(DirEntry { cookie, name, attr });
        }
        Ok(DirPage { entries, eof })
    }

    fn parent_now(&self, dir: InodeId) -> StoreResult<InodeId> {
        let value = self
            .db
            .get(codec::inode_key(dir.0))
            .map_err(rocks_error)?
            .ok_or(StoreError::Stale)?;
        let inode = codec::decode_inode(dir, &value)?;
        if !inode.is_dir() {
            return Err(StoreError::NotDir);
        }
        Ok(InodeId(inode.parent))
    }

    fn usage_now(&self) -> StoreResult<Usage> {
        let files = match self.db.get(codec::FILES).map_err(rocks_error)? {
            Some(value) => codec::decode_u64(&value, "file count")?,
            None => return Err(FormatError::Corrupt { what: "file count" }.into()),
        };
        Ok(Usage {
            // A metadata store holds no file bytes; the content store reports those.
            bytes_total: 0,
            bytes_free: 0,
            files_total: FILES_MAX,
            files_free: FILES_MAX.saturating_sub(files),
        })
    }

    fn xattr_now(&self, ino: InodeId, name: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        check_xattr_name(name)?;
        let snap = self.db.snapshot();
        read_inode(snap.get(codec::inode_key(ino.0)), ino)?;
        snap.get(codec::xattr_key(ino.0, name)).map_err(rocks_error)
    }

    fn list_xattrs_now(&self, ino: InodeId) -> StoreResult<Vec<XattrEntry>> {
        let snap = self.db.snapshot();
        read_inode(snap.get(codec::inode_key(ino.0)), ino)?;
        let prefix = codec::xattr_prefix(ino.0);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(codec::prefix_end(&prefix));
        let mut iter = snap.raw_iterator_opt(opts);
        iter.seek(prefix);
        let mut found = Vec::new();
        while let Some((key, value)) = iter.item() {
            let name = key.get(prefix.len()..).unwrap_or_default();
            let len = u32::try_from(value.len()).map_err(|_| FormatError::Corrupt {
                what: "extended attribute",
            })?;
            found.push(XattrEntry {
                name: name.to_vec(),
                len,
            });
            iter.next();
        }
        iter.status().map_err(rocks_error)?;
        Ok(found)
    }

    fn set_xattr_now(
        &self,
        ino: InodeId,
        name: &[u8],
        value: Vec<u8>,
        now: Timestamp,
    ) -> StoreResult<Attr> {
        check_xattr_name(name)?;
        let mut txn = self.begin();
        let mut inode = txn.inode(ino)?;
        let others = txn.xattr_bytes_except(ino.0, name)?;
        rules::check_set_xattr(others, name, value.len())?;
        txn.batch.put(codec::xattr_key(ino.0, name), value);
        rules::apply_xattr_change(&mut inode.attr, now);
        inode.attr.change += 1;
        let attr = inode.attr.clone();
        txn.put_inode(inode);
        txn.commit()?;
        Ok(attr)
    }

    fn remove_xattr_now(&self, ino: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Attr> {
        check_xattr_name(name)?;
        let mut txn = self.begin();
        let mut inode = txn.inode(ino)?;
        let key = codec::xattr_key(ino.0, name);
        if self.db.get(&key).map_err(rocks_error)?.is_none() {
            // Nothing to remove, so nothing changed: no ctime, no write.
            return Ok(inode.attr);
        }
        txn.batch.delete(key);
        rules::apply_xattr_change(&mut inode.attr, now);
        inode.attr.change += 1;
        let attr = inode.attr.clone();
        txn.put_inode(inode);
        txn.commit()?;
        Ok(attr)
    }

    fn secret_now(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.db.get(codec::secret_key(name)).map_err(rocks_error)
    }

    fn init_secret_now(&self, name: &str, value: Vec<u8>) -> StoreResult<Vec<u8>> {
        // Under the write lock, so two initialisations in this process cannot both see none;
        // another process cannot open the database at the same time (RocksDB's lock file).
        let txn = self.begin();
        let key = codec::secret_key(name);
        if let Some(stored) = self.db.get(&key).map_err(rocks_error)? {
            return Ok(stored);
        }
        self.db.put(&key, &value).map_err(rocks_error)?;
        self.db.flush_wal(true).map_err(rocks_error)?;
        drop(txn);
        Ok(value)
    }

    fn durable_opens_now(&self, share: &str) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        let prefix = codec::durable_prefix(share);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(codec::prefix_end(&prefix));
        let mut iter = self.db.raw_iterator_opt(opts);
        iter.seek(&prefix);
        let mut found = Vec::new();
        while let Some((key, value)) = iter.item() {
            let id = key
                .get(prefix.len()..)
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .ok_or(FormatError::Corrupt {
                    what: "durable-open key",
                })?;
            found.push((u64::from_be_bytes(id), value.to_vec()));
            iter.next();
        }
        iter.status().map_err(rocks_error)?;
        Ok(found)
    }

    fn sync_now(&self) -> StoreResult<()> {
        self.db.flush_wal(true).map_err(rocks_error)
    }
}

// Each method does its work synchronously when first polled: RocksDB calls block briefly on
// memtable and block-cache access, and the write lock must never be held across an await.
impl MetadataStore for RocksMetadata {
    fn id(&self) -> StoreId {
        self.id
    }

    async fn share_root(&self, name: &str, root: NewNode) -> StoreResult<Attr> {
        self.share_root_now(name, root)
    }

    async fn getattr(&self, ino: InodeId) -> StoreResult<Attr> {
        self.getattr_now(ino)
    }

    async fn lookup(&self, dir: InodeId, name: &[u8]) -> StoreResult<Attr> {
        self.lookup_now(dir, name)
    }

    async fn lookup_folded(&self, dir: InodeId, name: &[u8]) -> StoreResult<(Vec<u8>, Attr)> {
        self.lookup_folded_now(dir, name)
    }

    async fn create(&self, dir: InodeId, name: &[u8], node: NewNode) -> StoreResult<Attr> {
        self.create_now(dir, name, node)
    }

    async fn link(
        &self,
        ino: InodeId,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Attr> {
        self.link_now(ino, dir, name, now)
    }

    async fn unlink(&self, dir: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Removed> {
        self.remove_now(dir, name, now, false)
    }

    async fn rmdir(&self, dir: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Removed> {
        self.remove_now(dir, name, now, true)
    }

    async fn rename(
        &self,
        from_dir: InodeId,
        from_name: &[u8],
        to_dir: InodeId,
        to_name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Renamed> {
        self.rename_now(from_dir, from_name, to_dir, to_name, now)
    }

    async fn setattr(&self, ino: InodeId, set: SetAttr, now: Timestamp) -> StoreResult<Attr> {
        self.setattr_now(ino, set, now)
    }

    async fn record_write(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        version: Option<ContentVersion>,
    ) -> StoreResult<Attr> {
        self.record_write_now(ino, end, mtime, version)
    }

    async fn record_write_on(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        base: Option<ContentVersion>,
        version: ContentVersion,
    ) -> StoreResult<Recorded> {
        self.record_write_on_now(ino, end, mtime, base, version)
    }

    async fn content_version(&self, ino: InodeId) -> StoreResult<Option<ContentVersion>> {
        self.content_version_now(ino)
    }

    async fn readlink(&self, ino: InodeId) -> StoreResult<Vec<u8>> {
        self.readlink_now(ino)
    }

    async fn readdir(
        &self,
        dir: InodeId,
        after: Cookie,
        max_entries: usize,
    ) -> StoreResult<DirPage> {
        self.readdir_now(dir, after, max_entries)
    }

    async fn parent(&self, dir: InodeId) -> StoreResult<InodeId> {
        self.parent_now(dir)
    }

    async fn usage(&self) -> StoreResult<Usage> {
        self.usage_now()
    }

    async fn sync(&self) -> StoreResult<()> {
        self.sync_now()
    }

    async fn xattr(&self, ino: InodeId, name: &[u8]) -> StoreResult<Option<Vec<u8>>> {
        self.xattr_now(ino, name)
    }

    async fn list_xattrs(&self, ino: InodeId) -> StoreResult<Vec<XattrEntry>> {
        self.list_xattrs_now(ino)
    }

    async fn set_xattr(
        &self,
        ino: InodeId,
        name: &[u8],
        value: Vec<u8>,
        now: Timestamp,
    ) -> StoreResult<Attr> {
        self.set_xattr_now(ino, name, value, now)
    }

    async fn remove_xattr(&self, ino: InodeId, name: &[u8], now: Timestamp) -> StoreResult<Attr> {
        self.remove_xattr_now(ino, name, now)
    }

    async fn secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.secret_now(name)
    }

    async fn init_secret(&self, name: &str, value: Vec<u8>) -> StoreResult<Vec<u8>> {
        self.init_secret_now(name, value)
    }

    fn keeps_durable_opens(&self) -> bool {
        true
    }

    // Records go to the write-ahead log like every other write (a process crash keeps them;
    // `sync` for a machine crash), outside the mutation lock: each is one key of its own.
    async fn put_durable_open(&self, share: &str, id: u64, record: Vec<u8>) -> StoreResult<()> {
        crate::api::check_durable_open_record(&record)?;
        self.db
            .put(codec::durable_key(share, id), record)
            .map_err(rocks_error)
    }

    async fn remove_durable_open(&self, share: &str, id: u64) -> StoreResult<()> {
        self.db
            .delete(codec::durable_key(share, id))
            .map_err(rocks_error)
    }

    async fn durable_opens(&self, share: &str) -> StoreResult<Vec<(u64, Vec<u8>)>> {
        self.durable_opens_now(share)
    }
}

/// One mutation in progress: the write lock, the batch being built, and the inodes changed so
/// far, so that an operation touching one inode twice (a rename within one directory) sees its
/// own changes. Directory entries are read from the database only before the operation writes
/// any entry, so they need no overlay.
struct Txn<'a> {
    db: &'a DB,
    batch: WriteBatch,
    /// Changed inodes by id: `Some` to write, `None` to delete.
    inodes: BTreeMap<u64, Option<Inode>>,
    /// `meta/next_ino` after this mutation, if it allocated an id.
    next_ino: Option<u64>,
    /// `meta/files` after this mutation, if it created or freed an inode.
    files: Option<u64>,
    _guard: MutexGuard<'a, ()>,
}

impl Txn<'_> {
    /// The current state of `ino`, or `Stale` if it does not exist.
    fn inode(&self, ino: InodeId) -> StoreResult<Inode> {
        if let Some(pending) = self.inodes.get(&ino.0) {
            return pending.clone().ok_or(StoreError::Stale);
        }
        read_inode(self.db.get(codec::inode_key(ino.0)), ino)
    }

    /// The directory `ino`: `Stale` if it does not exist, `NotDir` if it is something else.
    fn dir(&self, ino: InodeId) -> StoreResult<Inode> {
        let inode = self.inode(ino)?;
        if !inode.is_dir() {
            return Err(StoreError::NotDir);
        }
        Ok(inode)
    }

    /// An inode named by a directory entry or a share root: its absence means damage, not a
    /// stale handle.
    fn linked_inode(&self, ino: u64) -> StoreResult<Inode> {
        match self.inode(InodeId(ino)) {
            Err(StoreError::Stale) => Err(FormatError::Corrupt {
                what: "entry naming a missing inode",
            }
            .into()),
            other => other,
        }
    }

    /// The (inode, cookie) of `dir/name`, if the name exists.
    fn entry(&self, dir: InodeId, name: &[u8]) -> StoreResult<Option<(u64, u64)>> {
        match self
            .db
            .get(codec::entry_key(dir.0, name))
            .map_err(rocks_error)?
        {
            Some(value) => Ok(Some(codec::decode_entry(&value)?)),
            None => Ok(None),
        }
    }

    /// Whether directory `dir` has no entries.
    fn is_empty_dir(&self, dir: u64) -> StoreResult<bool> {
        let prefix = codec::entry_prefix(dir);
        let mut opts = ReadOptions::default();
        // The upper bound lets RocksDB stop at the prefix's end instead of walking on.
        opts.set_iterate_upper_bound(codec::prefix_end(&prefix));
        let mut iter = self.db.raw_iterator_opt(opts);
        iter.seek(prefix);
        let empty = !iter.valid();
        iter.status().map_err(rocks_error)?;
        Ok(empty)
    }

    /// Deletes every extended attribute of `ino` in this batch, one point delete each: a
    /// range delete would be one write, but every freed inode would leave a range tombstone
    /// that later reads of the memtable and tables must step over, and most inodes have few
    /// or no attributes (a seek finds none).
    fn delete_xattrs(&mut self, ino: u64) -> StoreResult<()> {
        let prefix = codec::xattr_prefix(ino);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(codec::prefix_end(&prefix));
        let mut iter = self.db.raw_iterator_opt(opts);
        iter.seek(prefix);
        while let Some(key) = iter.key() {
            self.batch.delete(key);
            iter.next();
        }
        iter.status().map_err(rocks_error)
    }

    /// The bytes (names plus values) of the extended attributes of `ino` other than `name`.
    fn xattr_bytes_except(&self, ino: u64, name: &[u8]) -> StoreResult<usize> {
        let prefix = codec::xattr_prefix(ino);
        let mut opts = ReadOptions::default();
        opts.set_iterate_upper_bound(codec::prefix_end(&prefix));
        let mut iter = self.db.raw_iterator_opt(opts);
        iter.seek(prefix);
        let mut total = 0usize;
        while let Some((key, value)) = iter.item() {
            let this = key.get(prefix.len()..).unwrap_or_default();
            if this != name {
                total = total.saturating_add(this.len() + value.len());
            }
            iter.next();
        }
        iter.status().map_err(rocks_error)?;
        Ok(total)
    }

    /// Fails with `Invalid` if `dir` is `moved` or lies below it: a directory cannot move into
    /// its own subtree. Walks the parent chain from `dir` up to its share root.
    fn check_not_under(&self, dir: InodeId, moved: u64) -> StoreResult<()> {
        let mut current = dir.0;
        // A parent chain longer than the number of inodes is a cycle: stored damage, not an
        // endless loop.
        let mut steps_left = self.files()?;
        loop {
            if current == moved {
                return Err(rules::moved_under_itself());
            }
            let parent = self.linked_inode(current)?.parent;
            if parent == current {
                return Ok(());
            }
            current = parent;
            steps_left = steps_left.checked_sub(1).ok_or(FormatError::Corrupt {
                what: "parent chain",
            })?;
        }
    }

    /// Links `name` in directory `dir` to `ino` with the directory's next cookie.
    fn link_entry(&mut self, dir: &mut Inode, name: &[u8], ino: u64) {
        let cookie = dir.next_cookie;
        dir.next_cookie += 1;
        let dir_ino = dir.attr.ino.0;
        self.batch.put(
            codec::entry_key(dir_ino, name),
            codec::encode_entry(ino, cookie),
        );
        self.batch.put(
            codec::cookie_key(dir_ino, cookie),
            codec::encode_cookie(ino, name),
        );
        self.batch.put(codec::fold_key(dir_ino, name), []);
    }

    /// Removes the entry `name` with `cookie` from directory `dir`.
    fn unlink_entry(&mut self, dir: u64, name: &[u8], cookie: u64) {
        self.batch.delete(codec::entry_key(dir, name));
        self.batch.delete(codec::cookie_key(dir, cookie));
        self.batch.delete(codec::fold_key(dir, name));
    }

    /// Takes one name away from `inode` (all of them for a directory, whose only other links
    /// are its own "."), stamps ctime, and frees it when no link remains.
    fn drop_name(&mut self, inode: &mut Inode, now: Timestamp) -> StoreResult<Removed> {
        inode.attr.nlink = if inode.is_dir() {
            0
        } else {
            drop_link(inode.attr.nlink)?
        };
        inode.attr.ctime = now;
        inode.attr.change += 1;
        let freed = inode.attr.nlink == 0;
        if freed {
            let ino = inode.attr.ino;
            match inode.attr.kind {
                FileKind::Symlink => self.batch.delete(codec::symlink_key(ino.0)),
                FileKind::Regular => self.batch.delete(codec::version_key(ino.0)),
                _ => {}
            }
            self.delete_xattrs(ino.0)?;
            self.inodes.insert(ino.0, None);
            let files = self.files()?;
            self.files = Some(
                files
                    .checked_sub(1)
                    .ok_or(FormatError::Corrupt { what: "file count" })?,
            );
        } else {
            self.put_inode(inode.clone());
        }
        Ok(Removed {
            attr: inode.attr.clone(),
            freed,
        })
    }

    /// Hands out a new inode id and counts the new inode.
    fn allocate_ino(&mut self) -> StoreResult<u64> {
        let ino = match self.next_ino {
            Some(ino) => ino,
            None => {
                let value = self.db.get(codec::NEXT_INO).map_err(rocks_error)?.ok_or(
                    FormatError::Corrupt {
                        what: "inode counter",
                    },
                )?;
                codec::decode_u64(&value, "inode counter")?
            }
        };
        if ino == 0 {
            return Err(FormatError::Corrupt {
                what: "inode counter",
            }
            .into());
        }
        self.next_ino = Some(ino.checked_add(1).ok_or(StoreError::NoSpace)?);
        self.files = Some(self.files()? + 1);
        Ok(ino)
    }

    /// The live inode count, including this mutation's changes.
    fn files(&self) -> StoreResult<u64> {
        if let Some(files) = self.files {
            return Ok(files);
        }
        let value = self
            .db
            .get(codec::FILES)
            .map_err(rocks_error)?
            .ok_or(FormatError::Corrupt { what: "file count" })?;
        Ok(codec::decode_u64(&value, "file count")?)
    }

    /// Records the new state of an inode.
    fn put_inode(&mut self, inode: Inode) {
        self.inodes.insert(inode.attr.ino.0, Some(inode));
    }

    /// Writes everything as one batch.
    fn commit(mut self) -> StoreResult<()> {
        if let Some(next) = self.next_ino {
            self.batch.put(codec::NEXT_INO, codec::encode_u64(next));
        }
        if let Some(files) = self.files {
            self.batch.put(codec::FILES, codec::encode_u64(files));
        }
        for (ino, inode) in &self.inodes {
            match inode {
                Some(inode) => self
                    .batch
                    .put(codec::inode_key(*ino), codec::encode_inode(inode)),
                None => self.batch.delete(codec::inode_key(*ino)),
            }
        }
        self.db.write(self.batch).map_err(rocks_error)
    }
}

/// Writes a fresh database's metadata keys and picks its [`StoreId`].
fn initialise(db: &DB, path: &Path) -> StoreResult<StoreId> {
    // A database that holds keys but no format version is not ours; refuse to write into it.
    let mut iter = db.raw_iterator();
    iter.seek_to_first();
    if iter.valid() {
        return Err(FormatError::Foreign.into());
    }
    iter.status().map_err(rocks_error)?;
    drop(iter);

    let id = random_store_id(path);
    let mut batch = WriteBatch::default();
    batch.put(codec::FORMAT, FORMAT_VERSION.to_be_bytes());
    batch.put(codec::STORE_ID, codec::encode_u64(id.0));
    batch.put(codec::NEXT_INO, codec::encode_u64(1));
    batch.put(codec::FILES, codec::encode_u64(0));
    db.write(batch).map_err(rocks_error)?;
    // The id names content in content stores: make it durable before anyone uses it.
    db.flush_wal(true).map_err(rocks_error)?;
    Ok(id)
}

/// Advances `meta/epoch` and makes it durable; returns the new value, this run's generation.
fn next_epoch(db: &DB) -> StoreResult<Generation> {
    let epoch = match db.get(codec::EPOCH).map_err(rocks_error)? {
        Some(value) => codec::decode_u64(&value, "epoch")?,
        None => 0,
    };
    let next = epoch
        .checked_add(1)
        .ok_or(FormatError::Corrupt { what: "epoch" })?;
    db.put(codec::EPOCH, codec::encode_u64(next))
        .map_err(rocks_error)?;
    // Durable before any inode of this run exists: see "Ids" in the module docs.
    db.flush_wal(true).map_err(rocks_error)?;
    Ok(Generation(next))
}

/// Brings a database written in format `found` up to [`FORMAT_VERSION`], or refuses it.
fn migrate(db: &DB, found: u32) -> StoreResult<()> {
    match found {
        FORMAT_VERSION => Ok(()),
        // One arm per older version, each rewriting the database in batches and then bumping
        // `meta/format`, then continuing from the next version.
        1 => {
            build_fold_index(db)?;
            migrate(db, 2)
        }
        _ => Err(FormatError::UnsupportedVersion {
            found,
            supported: FORMAT_VERSION,
        }
        .into()),
    }
}

/// Format 1 → 2: writes the case-fold index entry of every directory entry, in batches,
/// then `meta/format` = 2 and an fsync. Interrupted, it runs again at the next open (the
/// format is still 1, and rewriting an index entry is harmless).
fn build_fold_index(db: &DB) -> StoreResult<()> {
    const BATCH: usize = 10_000;
    let prefix = b"d/";
    let mut opts = ReadOptions::default();
    opts.set_iterate_upper_bound(codec::prefix_end(prefix));
    let mut iter = db.raw_iterator_opt(opts);
    iter.seek(prefix);
    let mut batch = WriteBatch::default();
    let mut entries = 0u64;
    while let Some(key) = iter.key() {
        let (Some(dir), Some(name)) = (key.get(2..10), key.get(10..)) else {
            return Err(FormatError::Corrupt {
                what: "directory entry key",
            }
            .into());
        };
        let dir = u64::from_be_bytes(dir.try_into().expect("8 bytes"));
        batch.put(codec::fold_key(dir, name), []);
        entries += 1;
        if batch.len() >= BATCH {
            db.write(std::mem::take(&mut batch)).map_err(rocks_error)?;
        }
        iter.next();
    }
    iter.status().map_err(rocks_error)?;
    drop(iter);
    batch.put(codec::FORMAT, 2u32.to_be_bytes());
    db.write(batch).map_err(rocks_error)?;
    db.flush_wal(true).map_err(rocks_error)?;
    tracing::info!(
        entries,
        "RocksDB metadata store: built the case-fold index (format 1 → 2)"
    );
    Ok(())
}

/// A random store id. The store crate has no RNG dependency and no clock: std's `RandomState`
/// is keyed randomly per process (and differs per call), and hashing the path and process id
/// in separates stores created by concurrent processes even further.
fn random_store_id(path: &Path) -> StoreId {
    let mut hasher = RandomState::new().build_hasher();
    path.hash(&mut hasher);
    std::process::id().hash(&mut hasher);
    StoreId(hasher.finish())
}

/// A new inode's record. `parent` is the directory it is created in. Every inode's change
/// counter starts at 1.
fn new_inode(ino: u64, generation: Generation, node: &NewNode, parent: u64) -> StoreResult<Inode> {
    let attr = rules::new_attr(InodeId(ino), generation, node, 1)?;
    let is_dir = node.kind == FileKind::Directory;
    Ok(Inode {
        attr,
        parent: if is_dir { parent } else { 0 },
        next_cookie: if is_dir { Cookie::FIRST_ENTRY } else { 0 },
    })
}

/// A directory's mtime and ctime after its entries changed at `now`.
fn touch(dir: &mut Inode, now: Timestamp) {
    dir.attr.mtime = now;
    dir.attr.ctime = now;
    dir.attr.change += 1;
}

fn drop_link(nlink: u32) -> StoreResult<u32> {
    nlink
        .checked_sub(1)
        .ok_or_else(|| FormatError::Corrupt { what: "link count" }.into())
}

/// Fails unless `dir` is a directory in `snap` (`Stale` when it is gone, `NotDir` when it is
/// something else): where every lookup starts.
fn check_dir(snap: &::rocksdb::Snapshot<'_>, dir: InodeId) -> StoreResult<()> {
    if read_inode(snap.get(codec::inode_key(dir.0)), dir)?.is_dir() {
        Ok(())
    } else {
        Err(StoreError::NotDir)
    }
}

/// The attributes of what `dir/name` names in `snap`; `None` when there is no such entry.
fn entry_attr(
    snap: &::rocksdb::Snapshot<'_>,
    dir: InodeId,
    name: &[u8],
) -> StoreResult<Option<Attr>> {
    let Some(value) = snap
        .get(codec::entry_key(dir.0, name))
        .map_err(rocks_error)?
    else {
        return Ok(None);
    };
    let (ino, _) = codec::decode_entry(&value)?;
    let ino = InodeId(ino);
    Ok(Some(
        read_linked_inode(snap.get(codec::inode_key(ino.0)), ino)?.attr,
    ))
}

/// Decodes the result of reading `i/<ino>`: a missing record is a stale id.
fn read_inode(
    value: Result<Option<Vec<u8>>, ::rocksdb::Error>,
    ino: InodeId,
) -> StoreResult<Inode> {
    let value = value.map_err(rocks_error)?.ok_or(StoreError::Stale)?;
    Ok(codec::decode_inode(ino, &value)?)
}

/// Like [`read_inode`] for an inode named by an entry: a missing record is damage.
fn read_linked_inode(
    value: Result<Option<Vec<u8>>, ::rocksdb::Error>,
    ino: InodeId,
) -> StoreResult<Inode> {
    match read_inode(value, ino) {
        Err(StoreError::Stale) => Err(FormatError::Corrupt {
            what: "entry naming a missing inode",
        }
        .into()),
        other => other,
    }
}

/// Maps a RocksDB status to a [`StoreError`]: out-of-space statuses to `NoSpace`, transient
/// ones to `Busy`, everything else to `Backend`.
fn rocks_error(e: ::rocksdb::Error) -> StoreError {
    let message: &str = e.as_ref();
    // RocksDB reports ENOSPC as an IO error with subcode kNoSpace ("No space left on device"),
    // its SstFileManager limit as kSpaceLimit, and EDQUOT through strerror.
    let no_space = [
        "No space left on device",
        "Space limit reached",
        "Disk quota exceeded",
    ]
    .iter()
    .any(|s| message.contains(s));
    match e.kind() {
        _ if no_space => StoreError::NoSpace,
        ErrorKind::Busy | ErrorKind::TryAgain | ErrorKind::TimedOut => StoreError::Busy,
        _ => StoreError::Backend(Box::new(e)),
    }
}
