//! [`FsContent`]: file content on the local filesystem, one file per [`ContentKey`].
//!
//! Layout: `<root>/<fan>/<48 hex digits of the key>` (store id, inode id, generation), where
//! `<fan>` is the inode id's low byte in two hex digits. The fan-out keeps directories small;
//! the low byte spreads consecutive inode ids (the key's leading digits are the store id, the
//! same for every file). Files are named by key, never by the user's path, so a rename never
//! touches content.
//!
//! Older versions named files by store and inode only (32 hex digits). A root they wrote has no
//! `layout` file; in such a root, a key whose file is missing takes over the old name of its
//! store and inode, renaming it on first use, so files written before the upgrade stay
//! readable. (An old name cannot say which generation it belonged to; it goes to whichever
//! generation of the inode asks first, as it did before.) A root created by this version gets a
//! `layout` file and never looks for old names.
//!
//! Durability: `sync(key)` fsyncs the file and, if a file was created in its fan-out directory
//! since that directory was last fsynced, the directory too, so the new name survives a
//! machine crash along with the bytes. The fan-out directories are created and the root fsynced
//! when the store is opened. Holes are the filesystem's sparse regions.
//!
//! Descriptors: open files are kept in a bounded cache ([`FD_CACHE_MAX`] descriptors, the
//! oldest closed first), and every call does its I/O as one positional `pread`/`pwrite`
//! (`read_at`/`write_all_at`) on the blocking pool: no seek, one thread hop per call. A removed
//! key's descriptor leaves the cache before its file is unlinked.
//!
//! Capacity: [`ContentStore::usage`] reports the filesystem's size and the space still
//! available to the server (`statvfs`); [`ContentStore::max_file_size`] the largest file the
//! filesystem holds (see `probe_max_file_size`).
//!
//! This backend does real file I/O on tokio's blocking pool; it never runs in the simulator,
//! where the memory content store stands in for it.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd as _;
use std::os::unix::fs::{FileExt as _, OpenOptionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use nix::errno::Errno;
use nix::fcntl::{FallocateFlags, fallocate};
use nix::sys::statvfs::statvfs;
use nix::unistd::{PathconfVar, Whence, lseek, pathconf};

use crate::api::{ContentKey, ContentStore, ContentVersion, StoreError, StoreResult, Usage};

/// Open descriptors kept at most: half the usual soft limit of 1,024 per process, leaving the
/// rest to sockets and RocksDB.
pub const FD_CACHE_MAX: usize = 512;

/// Number of fan-out directories: one per value of the inode id's low byte.
const FAN_OUT: usize = 256;

/// Content on the local filesystem under one root directory.
#[derive(Debug)]
pub struct FsContent {
    root: PathBuf,
    /// A cap on the capacity reported; see [`FsContent::with_capacity`].
    capacity: Option<u64>,
    /// Per fan-out directory: whether it may hold an entry not yet made durable by an fsync of
    /// the directory. All start set, since a previous process may have left such entries.
    dir_unsynced: Box<[AtomicBool]>,
    /// Open descriptors by key, bounded by [`FD_CACHE_MAX`].
    fds: Mutex<Fds>,
    /// Whether the root may hold files under the old 32-digit names (see the module docs).
    legacy_names: bool,
    /// The largest file the filesystem under the root holds; see [`probe_max_file_size`].
    max_file_size: u64,
}

/// Marks a root whose files all have 48-digit names.
const LAYOUT_FILE: &str = "layout";
/// The content of [`LAYOUT_FILE`].
const LAYOUT: &[u8] = b"dittofs content layout 2: <fan>/<store><inode><generation>\n";

/// The descriptor cache: a map plus insertion order for eviction.
#[derive(Debug, Default)]
struct Fds {
    map: HashMap<ContentKey, Arc<File>>,
    order: VecDeque<ContentKey>,
}

/// `lseek(2)` on `file` (whose position nothing else uses: all I/O is positional).
fn seek(file: &File, at: u64, whence: Whence) -> Result<u64, Errno> {
    let at = i64::try_from(at).map_err(|_| Errno::EINVAL)?;
    lseek(file.as_raw_fd(), at, whence).map(|p| u64::try_from(p).unwrap_or(0))
}

/// Runs blocking file I/O on tokio's blocking pool; a task that did not finish (panicked)
/// is an I/O error. The local-file backends (this one, the S3 disk cache) use it; none of
/// them runs in the simulator.
pub(crate) async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    #[expect(
        clippy::disallowed_methods,
        reason = "real file I/O; the local-file backends never run in the simulator"
    )]
    let joined = tokio::task::spawn_blocking(f).await;
    joined.map_err(io::Error::other)?
}

/// [`run_blocking`], its error classified as the store's ([`StoreError`]'s `From`).
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> StoreResult<T> {
    Ok(run_blocking(f).await?)
}

impl FsContent {
    /// Opens (creating if needed) a store rooted at `root`: creates the root and its 256
    /// fan-out directories and fsyncs the root so they survive a crash.
    ///
    /// Blocking: meant for startup, before the server serves.
    pub fn open(root: PathBuf) -> StoreResult<Self> {
        std::fs::create_dir_all(&root)?;
        let legacy_names = !root.join(LAYOUT_FILE).exists() && holds_files(&root)?;
        for fan in 0..FAN_OUT {
            match dir_builder().create(root.join(fan_name(fan))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !legacy_names && !root.join(LAYOUT_FILE).exists() {
            let mut f = File::create(root.join(LAYOUT_FILE))?;
            io::Write::write_all(&mut f, LAYOUT)?;
            f.sync_all()?;
        }
        let max_file_size = probe_max_file_size(&root)?;
        File::open(&root)?.sync_all()?;
        Ok(Self {
            root,
            capacity: None,
            dir_unsynced: (0..FAN_OUT).map(|_| AtomicBool::new(true)).collect(),
            fds: Mutex::new(Fds::default()),
            legacy_names,
            max_file_size,
        })
    }

    /// Caps the capacity [`ContentStore::usage`] reports: the total becomes the smaller of
    /// `bytes` and the filesystem's size, free space at most that total. Writes are still
    /// limited only by the filesystem (`ENOSPC` becomes [`StoreError::NoSpace`]).
    pub fn with_capacity(mut self, bytes: u64) -> Self {
        self.capacity = Some(bytes);
        self
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where `key` lives, and its fan-out directory's index.
    fn path(&self, key: ContentKey) -> (PathBuf, usize) {
        let fan = usize::from(key.ino.0.to_le_bytes()[0]);
        (self.root.join(fan_name(fan)).join(key.to_hex()), fan)
    }

    /// The name older versions gave `key`'s file, if this root may hold such names.
    fn legacy_path(&self, key: ContentKey) -> Option<PathBuf> {
        self.legacy_names.then(|| {
            let (path, _) = self.path(key);
            path.with_file_name(format!("{:016x}{:016x}", key.store.0, key.ino.0))
        })
    }

    fn dir_path(&self, fan: usize) -> PathBuf {
        self.root.join(fan_name(fan))
    }

    fn fds(&self) -> std::sync::MutexGuard<'_, Fds> {
        // The cache holds only descriptors; a panic elsewhere cannot leave it inconsistent.
        self.fds.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `key`'s open file (read and write), from the cache or opened now, created if `create`;
    /// `None` if it does not exist and `create` is false.
    async fn file(&self, key: ContentKey, create: bool) -> StoreResult<Option<Arc<File>>> {
        if let Some(f) = self.fds().map.get(&key) {
            return Ok(Some(f.clone()));
        }
        let (path, fan) = self.path(key);
        let legacy = self.legacy_path(key);
        let opened = blocking(move || {
            match OpenOptions::new().read(true).write(true).open(&path) {
                Ok(f) => return Ok(Some((f, false))),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
            if let Some(legacy) = legacy {
                // A file written before keys had generations: give it its new name. The new
                // name is a directory change, made durable by the next sync (reported as
                // created).
                match std::fs::rename(&legacy, &path) {
                    Ok(()) => {
                        let f = OpenOptions::new().read(true).write(true).open(&path)?;
                        return Ok(Some((f, true)));
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            if !create {
                return Ok(None);
            }
            let created = OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path);
            match created {
                Ok(f) => Ok(Some((f, true))),
                // A concurrent call created it between the two opens.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(Some((
                    OpenOptions::new().read(true).write(true).open(&path)?,
                    false,
                ))),
                Err(e) => Err(e),
            }
        })
        .await?;
        let Some((file, created)) = opened else {
            return Ok(None);
        };
        if created {
            // Set only after the entry exists, so a sync that clears the flag and then fsyncs
            // the directory always covers it.
            self.dir_unsynced[fan].store(true, Ordering::Release);
        }
        let mut fds = self.fds();
        if let Some(f) = fds.map.get(&key) {
            // A concurrent call opened it too; keep one descriptor.
            return Ok(Some(f.clone()));
        }
        while fds.map.len() >= FD_CACHE_MAX {
            let Some(old) = fds.order.pop_front() else {
                break;
            };
            fds.map.remove(&old);
        }
        let file = Arc::new(file);
        fds.map.insert(key, file.clone());
        fds.order.push_back(key);
        Ok(Some(file))
    }

    /// Drops `key`'s cached descriptor, if any.
    fn forget(&self, key: ContentKey) {
        let mut fds = self.fds();
        if fds.map.remove(&key).is_some() {
            fds.order.retain(|k| *k != key);
        }
    }
}

/// Name of the scratch file [`probe_max_file_size`] uses (removed again at once).
const PROBE_FILE: &str = "max-size-probe";

/// The largest length a file under `root` can have, as the filesystem really enforces it:
///
/// - `pathconf(root, _PC_FILESIZEBITS)` first. Below 64 bits (FAT and other filesystems
///   without sparse files report 32) its bound `2^(bits-1) - 1` is the answer: probing there
///   would allocate real blocks.
/// - At 64 bits (ext4, XFS, btrfs, tmpfs), which still hides limits such as ext4's 16 TiB with
///   4 KiB blocks, a binary search for the largest length `ftruncate` accepts on a scratch file,
///   starting from `i64::MAX`. Extending a file on these filesystems only sets its size (a hole),
///   so the probe writes no data; it costs at most 63 `ftruncate`s at open.
/// - `i64::MAX` (a signed `off_t`) is the ceiling whatever the filesystem says.
fn probe_max_file_size(root: &Path) -> io::Result<u64> {
    const OFF_T_MAX: u64 = i64::MAX as u64;
    let bits = pathconf(root, PathconfVar::FILESIZEBITS).map_err(io::Error::from)?;
    if let Some(bits @ 1..=63) = bits {
        return Ok((1u64 << (bits - 1)) - 1);
    }
    // 64 or more bits, or no limit reported: probe.
    let path = root.join(PROBE_FILE);
    let probe = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)?;
    let found = largest_accepted_len(&probe, OFF_T_MAX);
    drop(probe);
    std::fs::remove_file(&path)?;
    found
}

/// The largest length in `0..=max` that `set_len` accepts on `file`, by binary search.
fn largest_accepted_len(file: &File, max: u64) -> io::Result<u64> {
    if accepts_len(file, max)? {
        file.set_len(0)?;
        return Ok(max);
    }
    // `ok` is accepted, `refused` is not.
    let (mut ok, mut refused) = (0u64, max);
    while refused - ok > 1 {
        let mid = ok + (refused - ok) / 2;
        if accepts_len(file, mid)? {
            ok = mid;
        } else {
            refused = mid;
        }
    }
    file.set_len(0)?;
    Ok(ok)
}

/// Whether `set_len(len)` succeeds on `file`; a refusal must be EFBIG or EINVAL (Linux answers
/// either for a length beyond the limit), anything else is a real error.
fn accepts_len(file: &File, len: u64) -> io::Result<bool> {
    match file.set_len(len) {
        Ok(()) => Ok(true),
        Err(e)
            if matches!(
                e.raw_os_error().map(Errno::from_raw),
                Some(Errno::EFBIG | Errno::EINVAL)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}

/// Whether any fan-out directory under `root` holds a file: a root an older version wrote.
fn holds_files(root: &Path) -> io::Result<bool> {
    for fan in 0..FAN_OUT {
        match std::fs::read_dir(root.join(fan_name(fan))) {
            Ok(mut entries) => {
                if entries.next().transpose()?.is_some() {
                    return Ok(true);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

fn fan_name(fan: usize) -> String {
    format!("{fan:02x}")
}

fn dir_builder() -> std::fs::DirBuilder {
    let mut b = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b
}

impl ContentStore for FsContent {
    async fn read(&self, key: ContentKey, offset: u64, len: u32) -> StoreResult<Bytes> {
        // No file reaches past i64::MAX (pread would refuse the offset with EINVAL).
        let Some(end) = offset
            .checked_add(u64::from(len))
            .filter(|&e| e <= i64::MAX as u64)
        else {
            return Ok(Bytes::new());
        };
        if len == 0 || end == offset {
            return Ok(Bytes::new());
        }
        let Some(file) = self.file(key, false).await? else {
            return Ok(Bytes::new());
        };
        blocking(move || {
            let mut buf = vec![0u8; len as usize];
            let mut filled = 0;
            // Stops at the end of the file (a short read returns 0 there).
            while filled < buf.len() {
                match file.read_at(&mut buf[filled..], offset + filled as u64) {
                    Ok(0) => break,
                    Ok(n) => filled += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            buf.truncate(filled);
            Ok(Bytes::from(buf))
        })
        .await
    }

    async fn write(
        &self,
        key: ContentKey,
        offset: u64,
        data: Bytes,
    ) -> StoreResult<Option<ContentVersion>> {
        if data.is_empty() {
            // As pwrite(2): writing nothing changes nothing.
            return Ok(None);
        }
        crate::rules::write_end(offset, data.len(), self.max_file_size)?;
        let file = self
            .file(key, true)
            .await?
            .expect("file() with create returns a file");
        // Writing past the end leaves a sparse hole that reads as zeros.
        blocking(move || file.write_all_at(&data, offset)).await?;
        // Bytes are changed in place: no versions.
        Ok(None)
    }

    async fn truncate(&self, key: ContentKey, len: u64) -> StoreResult<()> {
        if len > self.max_file_size {
            return Err(StoreError::FileTooLarge);
        }
        let Some(file) = self.file(key, len > 0).await? else {
            return Ok(());
        };
        blocking(move || file.set_len(len)).await
    }

    async fn len(&self, key: ContentKey) -> StoreResult<u64> {
        let Some(file) = self.file(key, false).await? else {
            return Ok(0);
        };
        blocking(move || Ok(file.metadata()?.len())).await
    }

    async fn remove(&self, key: ContentKey) -> StoreResult<()> {
        self.forget(key);
        let (path, _) = self.path(key);
        let legacy = self.legacy_path(key);
        let removed = blocking(move || {
            for path in std::iter::once(path).chain(legacy) {
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    other => other?,
                }
            }
            Ok(())
        })
        .await;
        // A call that opened the file between the first forget and the unlink cached a
        // descriptor of the unlinked file; drop it too.
        self.forget(key);
        removed
    }

    async fn sync(&self, key: ContentKey) -> StoreResult<Option<ContentVersion>> {
        let Some(file) = self.file(key, false).await? else {
            // Never written (or removed): nothing to make durable.
            return Ok(None);
        };
        // fdatasync: the bytes and the size (metadata needed to read them back), not the
        // timestamps, which the metadata store keeps.
        blocking(move || file.sync_data()).await?;
        let (_, fan) = self.path(key);
        // Clear before the fsync: an entry created after the clear sets the flag again, one
        // created before it is covered by this fsync.
        if self.dir_unsynced[fan].swap(false, Ordering::AcqRel) {
            let dir = self.dir_path(fan);
            if let Err(e) = blocking(move || File::open(dir)?.sync_all()).await {
                self.dir_unsynced[fan].store(true, Ordering::Release);
                return Err(e);
            }
        }
        Ok(None)
    }

    fn max_file_size(&self) -> u64 {
        self.max_file_size
    }

    /// The data ranges the filesystem reports with `lseek(SEEK_DATA / SEEK_HOLE)`; on a
    /// filesystem without them (EINVAL), the whole range up to the length.
    async fn allocated(
        &self,
        key: ContentKey,
        offset: u64,
        len: u64,
    ) -> StoreResult<Vec<(u64, u64)>> {
        let Some(file) = self.file(key, false).await? else {
            return Ok(Vec::new());
        };
        blocking(move || {
            let size = file.metadata()?.len();
            let end = offset.saturating_add(len).min(size);
            let mut out = Vec::new();
            let mut at = offset;
            while at < end {
                let data = match seek(&file, at, Whence::SeekData) {
                    Ok(d) => d,
                    // No data at or after `at`.
                    Err(Errno::ENXIO) => break,
                    Err(Errno::EINVAL) => {
                        // SEEK_DATA unsupported here: everything is data.
                        out.push((at, end - at));
                        break;
                    }
                    Err(e) => return Err(e.into()),
                };
                if data >= end {
                    break;
                }
                let hole = match seek(&file, data, Whence::SeekHole) {
                    Ok(h) => h.min(end),
                    Err(Errno::ENXIO) => end,
                    Err(e) => return Err(e.into()),
                };
                if hole <= data {
                    break;
                }
                out.push((data, hole - data));
                at = hole;
            }
            Ok(out)
        })
        .await
    }

    /// `fallocate(PUNCH_HOLE | KEEP_SIZE)`; on a filesystem without it (EOPNOTSUPP), zeros
    /// written in pieces of at most [`crate::PUNCH_PIECE`] bytes.
    async fn punch_hole(
        &self,
        key: ContentKey,
        offset: u64,
        len: u64,
    ) -> StoreResult<Option<ContentVersion>> {
        let Some(file) = self.file(key, false).await? else {
            return Ok(None);
        };
        blocking(move || {
            let size = file.metadata()?.len();
            let end = offset.saturating_add(len).min(size);
            if end <= offset {
                return Ok(());
            }
            let (Ok(off), Ok(n)) = (i64::try_from(offset), i64::try_from(end - offset)) else {
                return Err(io::Error::from(io::ErrorKind::InvalidInput));
            };
            let flags = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
            match fallocate(file.as_raw_fd(), flags, off, n) {
                Ok(()) => Ok(()),
                Err(Errno::EOPNOTSUPP) => {
                    let mut at = offset;
                    while at < end {
                        let piece = (end - at).min(crate::PUNCH_PIECE);
                        let zeros = vec![0u8; usize::try_from(piece).unwrap_or(0)];
                        file.write_all_at(&zeros, at)?;
                        at += piece;
                    }
                    Ok(())
                }
                Err(e) => Err(e.into()),
            }
        })
        .await?;
        Ok(None)
    }

    /// The filesystem's figures for the root, from `statvfs`: total is `f_blocks`, free is
    /// `f_bavail` (what an unprivileged writer such as this server may still use), both in
    /// `f_frsize` units; capped by [`FsContent::with_capacity`] if set.
    async fn usage(&self) -> StoreResult<Usage> {
        let root = self.root.clone();
        let stat = blocking(move || statvfs(&root).map_err(io::Error::from)).await?;
        let unit = stat.fragment_size();
        let fs_total = stat.blocks().saturating_mul(unit);
        let fs_free = stat.blocks_available().saturating_mul(unit);
        let total = self.capacity.map_or(fs_total, |cap| cap.min(fs_total));
        Ok(Usage {
            bytes_total: total,
            bytes_free: fs_free.min(total),
            files_total: 0,
            files_free: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{Generation, InodeId, StoreId};

    /// Goal: files land in the documented layout, spread by the inode's low byte, and `open`
    /// is idempotent on an existing root. Method: write two keys, check their paths, reopen.
    #[tokio::test]
    async fn layout_and_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("content");
        let store = FsContent::open(root.clone()).unwrap();
        let key = |ino| ContentKey {
            store: StoreId(0xab),
            ino: InodeId(ino),
            generation: Generation(2),
        };
        store
            .write(key(0x1234), 0, Bytes::from_static(b"x"))
            .await
            .unwrap();
        store
            .write(key(0x1235), 0, Bytes::from_static(b"y"))
            .await
            .unwrap();
        store.sync(key(0x1234)).await.unwrap();
        assert!(
            root.join("34/00000000000000ab00000000000012340000000000000002")
                .is_file()
        );
        assert!(
            root.join("35/00000000000000ab00000000000012350000000000000002")
                .is_file()
        );
        assert!(root.join(LAYOUT_FILE).is_file(), "a fresh root is marked");
        assert!(root.join("ff").is_dir());
        drop(store);
        let store = FsContent::open(root).unwrap();
        assert_eq!(&store.read(key(0x1235), 0, 10).await.unwrap()[..], b"y");
    }

    /// Goal: `sync` clears a fan-out directory's flag only by fsyncing it, and a file created
    /// later sets it again.
    #[tokio::test]
    async fn directory_sync_flag() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FsContent::open(tmp.path().to_path_buf()).unwrap();
        let key = ContentKey {
            store: StoreId(1),
            ino: InodeId(2),
            generation: Generation(1),
        };
        store.write(key, 0, Bytes::from_static(b"a")).await.unwrap();
        assert!(store.dir_unsynced[2].load(Ordering::Acquire));
        store.sync(key).await.unwrap();
        assert!(!store.dir_unsynced[2].load(Ordering::Acquire));
        store.write(key, 1, Bytes::from_static(b"b")).await.unwrap();
        assert!(
            !store.dir_unsynced[2].load(Ordering::Acquire),
            "no new entry"
        );
        let other = ContentKey {
            store: StoreId(1),
            ino: InodeId(0x102),
            generation: Generation(1),
        };
        store.truncate(other, 5).await.unwrap();
        assert!(store.dir_unsynced[2].load(Ordering::Acquire));
    }

    /// Goal: the descriptor cache stays within its bound while every file keeps its bytes,
    /// and a removed key's descriptor is dropped with it. Method: write more keys than the
    /// cache holds, read them all back, remove one.
    #[tokio::test]
    async fn descriptor_cache_is_bounded() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FsContent::open(tmp.path().to_path_buf()).unwrap();
        let key = |ino| ContentKey {
            store: StoreId(3),
            ino: InodeId(ino),
            generation: Generation(1),
        };
        let n = FD_CACHE_MAX as u64 + 40;
        for i in 1..=n {
            store
                .write(key(i), i, Bytes::from(i.to_be_bytes().to_vec()))
                .await
                .unwrap();
        }
        {
            let fds = store.fds();
            assert!(fds.map.len() <= FD_CACHE_MAX);
            assert_eq!(fds.map.len(), fds.order.len());
        }
        for i in 1..=n {
            let got = store.read(key(i), 0, 4096).await.unwrap();
            let mut want = vec![0u8; i as usize];
            want.extend_from_slice(&i.to_be_bytes());
            assert_eq!(&got[..], &want[..], "key {i}");
        }
        store.remove(key(n)).await.unwrap();
        assert!(!store.fds().map.contains_key(&key(n)));
        assert!(store.read(key(n), 0, 8).await.unwrap().is_empty());
        assert_eq!(store.len(key(n - 1)).await.unwrap(), n - 1 + 8);
    }

    /// Goal: files an older version named by store and inode only stay readable after the
    /// upgrade, under their new name, and a fresh root never looks for old names. Method: lay
    /// out a root as the old version did, open it, read, write and remove through keys with a
    /// generation.
    #[tokio::test]
    async fn legacy_names_are_adopted() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("content");
        for fan in 0..FAN_OUT {
            std::fs::create_dir_all(root.join(fan_name(fan))).unwrap();
        }
        std::fs::write(
            root.join("34/00000000000000ab0000000000001234"),
            b"old bytes",
        )
        .unwrap();
        std::fs::write(root.join("35/00000000000000ab0000000000001235"), b"gone").unwrap();
        let store = FsContent::open(root.clone()).unwrap();
        assert!(store.legacy_names);
        assert!(!root.join(LAYOUT_FILE).exists(), "old names may remain");
        let key = |ino| ContentKey {
            store: StoreId(0xab),
            ino: InodeId(ino),
            generation: Generation(3),
        };
        assert_eq!(store.len(key(0x1234)).await.unwrap(), 9);
        assert_eq!(
            &store.read(key(0x1234), 0, 100).await.unwrap()[..],
            b"old bytes"
        );
        assert!(!root.join("34/00000000000000ab0000000000001234").exists());
        assert!(
            root.join("34/00000000000000ab00000000000012340000000000000003")
                .is_file()
        );
        store.remove(key(0x1235)).await.unwrap();
        assert!(!root.join("35/00000000000000ab0000000000001235").exists());

        let fresh = tmp.path().join("fresh");
        let store = FsContent::open(fresh.clone()).unwrap();
        assert!(!store.legacy_names);
        std::fs::write(fresh.join("34/00000000000000ab0000000000001234"), b"x").unwrap();
        assert_eq!(store.len(key(0x1234)).await.unwrap(), 0);
        drop(store);
        assert!(
            !FsContent::open(fresh).unwrap().legacy_names,
            "the mark stays"
        );
    }

    /// Goal: usage reports the filesystem's real size and free space, as `df` shows them for
    /// the root, and the capacity cap applies. Method: compare with `df -B1 --output=size,avail`
    /// run on the same directory (free space may move a little between the two readings).
    #[tokio::test]
    async fn usage_matches_df() {
        let tmp = tempfile::tempdir().unwrap();
        let store = FsContent::open(tmp.path().to_path_buf()).unwrap();
        let usage = store.usage().await.unwrap();
        let out = std::process::Command::new("df")
            .args(["-B1", "--output=size,avail"])
            .arg(tmp.path())
            .output()
            .expect("df runs");
        assert!(out.status.success(), "df failed: {out:?}");
        let text = String::from_utf8(out.stdout).unwrap();
        let figures: Vec<u64> = text
            .lines()
            .nth(1)
            .expect("df prints a line after its header")
            .split_whitespace()
            .map(|f| f.parse().unwrap())
            .collect();
        let (size, avail) = (figures[0], figures[1]);
        assert_eq!(usage.bytes_total, size, "total differs from df's size");
        let drift = usage.bytes_free.abs_diff(avail);
        assert!(
            drift <= 64 << 20,
            "free {} differs from df's {avail} by {drift}",
            usage.bytes_free
        );
        assert!(usage.bytes_free <= usage.bytes_total);
        let capped = FsContent::open(tmp.path().to_path_buf())
            .unwrap()
            .with_capacity(4096)
            .usage()
            .await
            .unwrap();
        assert_eq!(capped.bytes_total, 4096.min(size));
        assert!(capped.bytes_free <= 4096);
        assert!(store.max_file_size() > 0);
        eprintln!("max_file_size here: {}", store.max_file_size());
    }
}
