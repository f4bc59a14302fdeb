//! [`FsContent`]: file content on the local filesystem, one file per [`ContentKey`].
//!
//! Layout: `<root>/<fan>/<32 hex digits of the key>`, where `<fan>` is the inode id's low byte
//! in two hex digits. The fan-out keeps directories small; the low byte spreads consecutive
//! inode ids (the key's leading digits are the store id, the same for every file). Files are
//! named by key, never by the user's path, so a rename never touches content.
//!
//! Durability: `sync(key)` fsyncs the file and, if a file was created in its fan-out directory
//! since that directory was last fsynced, the directory too, so the new name survives a
//! machine crash along with the bytes. The fan-out directories are created and the root fsynced
//! when the store is opened. Holes are the filesystem's sparse regions.
//!
//! Each call opens the file afresh through `tokio::fs`; a descriptor cache would save the
//! opens but is not needed yet.

use std::io::{self, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::api::{ContentKey, ContentStore, StoreError, StoreResult, Usage};

/// Byte total (and free) reported by [`FsContent::usage`] when no capacity is configured
/// (1 PiB): without a `statvfs` binding the real figures are unknown.
pub const UNKNOWN_CAPACITY_REPORTED: u64 = 1 << 50;

/// Number of fan-out directories: one per value of the inode id's low byte.
const FAN_OUT: usize = 256;

/// Content on the local filesystem under one root directory.
#[derive(Debug)]
pub struct FsContent {
    root: PathBuf,
    /// Capacity to report, in bytes; see [`FsContent::with_capacity`].
    capacity: Option<u64>,
    /// Per fan-out directory: whether it may hold an entry not yet made durable by an fsync of
    /// the directory. All start set, since a previous process may have left such entries.
    dir_unsynced: Box<[AtomicBool]>,
}

impl FsContent {
    /// Opens (creating if needed) a store rooted at `root`: creates the root and its 256
    /// fan-out directories and fsyncs the root so they survive a crash.
    ///
    /// Blocking: meant for startup, before the server serves.
    pub fn open(root: PathBuf) -> StoreResult<Self> {
        std::fs::create_dir_all(&root)?;
        for fan in 0..FAN_OUT {
            match dir_builder().create(root.join(fan_name(fan))) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e.into()),
            }
        }
        std::fs::File::open(&root)?.sync_all()?;
        Ok(Self {
            root,
            capacity: None,
            dir_unsynced: (0..FAN_OUT).map(|_| AtomicBool::new(true)).collect(),
        })
    }

    /// Sets the capacity [`ContentStore::usage`] reports (as both total and free, since the
    /// bytes in use are not tracked). Without it the store reports
    /// [`UNKNOWN_CAPACITY_REPORTED`]. Writes are limited only by the filesystem (`ENOSPC`
    /// becomes [`StoreError::NoSpace`]).
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

    fn dir_path(&self, fan: usize) -> PathBuf {
        self.root.join(fan_name(fan))
    }

    /// Opens `key`'s file for writing, creating it if `create`; `None` if it does not exist
    /// and `create` is false.
    async fn open_write(&self, key: ContentKey, create: bool) -> StoreResult<Option<File>> {
        let (path, fan) = self.path(key);
        match OpenOptions::new().write(true).open(&path).await {
            Ok(f) => return Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound && create => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        }
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        options.mode(0o600);
        let file = match options.open(&path).await {
            Ok(f) => f,
            // A concurrent call created it between the two opens.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                OpenOptions::new().write(true).open(&path).await?
            }
            Err(e) => return Err(e.into()),
        };
        // Set only after the entry exists, so a sync that clears the flag and then fsyncs
        // the directory always covers it.
        self.dir_unsynced[fan].store(true, Ordering::Release);
        Ok(Some(file))
    }
}

fn fan_name(fan: usize) -> String {
    format!("{fan:02x}")
}

fn dir_builder() -> std::fs::DirBuilder {
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b
}

fn is_not_found(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

impl ContentStore for FsContent {
    async fn read(&self, key: ContentKey, offset: u64, len: u32) -> StoreResult<Bytes> {
        let (path, _) = self.path(key);
        let mut file = match File::open(&path).await {
            Ok(f) => f,
            Err(e) if is_not_found(&e) => return Ok(Bytes::new()),
            Err(e) => return Err(e.into()),
        };
        let file_len = file.metadata().await?.len();
        if offset >= file_len || len == 0 {
            return Ok(Bytes::new());
        }
        let want = u64::from(len).min(file_len - offset);
        let mut buf = vec![0u8; usize::try_from(want).expect("a u32 length fits in usize")];
        file.seek(SeekFrom::Start(offset)).await?;
        let mut filled = 0;
        // The file may shrink meanwhile; stop at its end.
        while filled < buf.len() {
            let n = file.read(&mut buf[filled..]).await?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        buf.truncate(filled);
        Ok(Bytes::from(buf))
    }

    async fn write(&self, key: ContentKey, offset: u64, data: Bytes) -> StoreResult<()> {
        if data.is_empty() {
            // As pwrite(2): writing nothing changes nothing.
            return Ok(());
        }
        offset
            .checked_add(data.len() as u64)
            .ok_or(StoreError::Invalid("write beyond the largest offset"))?;
        let mut file = self
            .open_write(key, true)
            .await?
            .expect("open_write with create returns a file");
        // Seeking past the end and writing leaves a sparse hole that reads as zeros.
        file.seek(SeekFrom::Start(offset)).await?;
        file.write_all(&data).await?;
        // tokio's File completes writes in the background; flush waits and reports errors.
        file.flush().await?;
        Ok(())
    }

    async fn truncate(&self, key: ContentKey, len: u64) -> StoreResult<()> {
        let Some(file) = self.open_write(key, len > 0).await? else {
            return Ok(());
        };
        file.set_len(len).await?;
        Ok(())
    }

    async fn len(&self, key: ContentKey) -> StoreResult<u64> {
        let (path, _) = self.path(key);
        match tokio::fs::metadata(&path).await {
            Ok(m) => Ok(m.len()),
            Err(e) if is_not_found(&e) => Ok(0),
            Err(e) => Err(e.into()),
        }
    }

    async fn remove(&self, key: ContentKey) -> StoreResult<()> {
        let (path, _) = self.path(key);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    async fn sync(&self, key: ContentKey) -> StoreResult<()> {
        let (path, fan) = self.path(key);
        match File::open(&path).await {
            Ok(f) => f.sync_all().await?,
            // Never written (or removed): nothing to make durable.
            Err(e) if is_not_found(&e) => return Ok(()),
            Err(e) => return Err(e.into()),
        }
        // Clear before the fsync: an entry created after the clear sets the flag again, one
        // created before it is covered by this fsync.
        if self.dir_unsynced[fan].swap(false, Ordering::AcqRel) {
            let synced = async { File::open(self.dir_path(fan)).await?.sync_all().await }.await;
            if let Err(e) = synced {
                self.dir_unsynced[fan].store(true, Ordering::Release);
                return Err(e.into());
            }
        }
        Ok(())
    }

    async fn usage(&self) -> StoreResult<Usage> {
        let total = self.capacity.unwrap_or(UNKNOWN_CAPACITY_REPORTED);
        Ok(Usage {
            bytes_total: total,
            bytes_free: total,
            files_total: 0,
            files_free: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{InodeId, StoreId};

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
        assert!(root.join("34/00000000000000ab0000000000001234").is_file());
        assert!(root.join("35/00000000000000ab0000000000001235").is_file());
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
        };
        store.truncate(other, 5).await.unwrap();
        assert!(store.dir_unsynced[2].load(Ordering::Acquire));
    }
}
