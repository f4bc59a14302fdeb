//! The storage contract: [`MetadataStore`] (the namespace and inode attributes) and
//! [`ContentStore`] (file bytes keyed by [`ContentKey`]), their domain types and [`StoreError`].
//!
//! Nothing here knows about NFS or SMB: no status codes, no handles. Front ends map
//! [`StoreError`] to their protocol's errors at the edge.

use std::future::Future;
use std::io;

use bytes::Bytes;

/// A boxed error from a backend library (RocksDB, sqlx, S3 client).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Result alias for store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// What a store operation can fail with. Semantic and exhaustive on purpose: a new variant
/// breaks every protocol mapping at compile time.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A name does not exist in a directory.
    #[error("no such entry")]
    NotFound,
    /// The name already exists.
    #[error("entry exists")]
    Exists,
    /// A directory to remove or replace still has entries.
    #[error("directory not empty")]
    NotEmpty,
    /// A directory was required.
    #[error("not a directory")]
    NotDir,
    /// A non-directory was required.
    #[error("is a directory")]
    IsDir,
    /// The inode addressed by id no longer exists (or its generation does not match).
    #[error("stale inode")]
    Stale,
    /// A name is longer than the store allows.
    #[error("name too long")]
    NameTooLong,
    /// The backend is out of space or over a quota.
    #[error("no space left")]
    NoSpace,
    /// The store is read-only.
    #[error("read-only store")]
    ReadOnly,
    /// A write or truncate would make a file larger than the content store can hold (see
    /// [`ContentStore::max_file_size`]; `EFBIG` from the local system).
    #[error("file too large")]
    FileTooLarge,
    /// The operation is not valid for this object (e.g. rename a directory into itself, a
    /// hard link to a directory, readlink on a regular file).
    #[error("invalid operation: {0}")]
    Invalid(&'static str),
    /// An extended attribute's value is larger than [`XATTR_VALUE_MAX`], or setting it would
    /// make the node's extended attributes together larger than [`XATTR_TOTAL_MAX`]. Nothing
    /// was changed.
    #[error("extended attribute too large")]
    XattrTooLarge,
    /// The backend is temporarily overloaded; retrying later can succeed.
    #[error("store busy")]
    Busy,
    /// An I/O error from the local system.
    #[error("I/O error: {0}")]
    Io(#[source] io::Error),
    /// Any other backend failure.
    #[error("backend error: {0}")]
    Backend(#[source] BoxError),
}

/// Maps the errno inside `e`, if any, through [`crate::errno::classify`], the one table of
/// errno meanings; everything else stays [`StoreError::Io`].
impl From<io::Error> for StoreError {
    fn from(e: io::Error) -> Self {
        e.raw_os_error()
            .and_then(crate::errno::classify)
            .unwrap_or(Self::Io(e))
    }
}

/// A persistent inode number, unique within one metadata store and never reused. Never 0
/// (fileid 0 crashed macOS clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InodeId(pub u64);

/// Generation of an inode; together with [`InodeId`] it names one object forever.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Generation(pub u64);

/// Position in a directory listing. Each entry gets its own cookie when it is linked into the
/// directory; cookies only grow, so a listing resumed after cookie `c` returns exactly the
/// entries with a larger cookie. `Cookie(0)` means "from the start"; 1 and 2 are reserved for
/// front ends that synthesise "." and "..".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cookie(pub u64);

impl Cookie {
    /// Start of a listing.
    pub const START: Self = Self(0);
    /// First cookie a store hands out for a real entry.
    pub const FIRST_ENTRY: u64 = 3;
}

/// Identity of a metadata store instance, random at creation and persisted: it namespaces
/// content keys so two metadata stores may share one content store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StoreId(pub u64);

/// Where the bytes of one regular file live in a [`ContentStore`]. Built from the metadata
/// store's id, the inode id and the inode's generation, never from a path, so rename never
/// touches content.
///
/// The generation is part of the key because a backend may hand out an inode id again after a
/// machine crash (RocksDB does, with a new generation: see its `meta/epoch`). Bytes of a file
/// deleted before the crash, whose removal from the content store may not have happened, then
/// stay under the old generation's key and can never be read through the new inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentKey {
    /// The metadata store that owns the inode.
    pub store: StoreId,
    /// The inode.
    pub ino: InodeId,
    /// The inode's generation.
    pub generation: Generation,
}

impl ContentKey {
    /// A stable printable name: 48 lowercase hex digits (store, inode, generation).
    pub fn to_hex(&self) -> String {
        format!(
            "{:016x}{:016x}{:016x}",
            self.store.0, self.ino.0, self.generation.0
        )
    }
}

/// A version of one file's content, chosen by the [`ContentStore`] and recorded by the
/// [`MetadataStore`] together with the size it belongs to.
///
/// A store that overwrites bytes in place (memory, filesystem) has no versions and returns
/// `None` wherever a version may be returned. A store that writes immutable objects (an S3
/// store writing each block or object under a new name) returns the version that holds the
/// bytes; the server hands it to [`MetadataStore::record_write`], which switches the file to
/// it in the same atomic step as the new size, so a crash between the two leaves the old
/// size with the old version, never a new size over missing bytes. The value is opaque to
/// everyone but the content store that issued it (a counter, or a handle to an object name
/// it keeps); 64 bits let it number versions without ever running out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContentVersion(pub u64);

/// What [`MetadataStore::record_write_on`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// The version, size and mtime are recorded: the attributes after.
    Done(Attr),
    /// Nothing changed: the file's recorded version is neither the base nor the new version;
    /// this is the one recorded now (`None`: none ever was).
    Conflict(Option<ContentVersion>),
}

/// A point in time: seconds and nanoseconds since the Unix epoch (may be negative).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Nanoseconds, `< 1_000_000_000`.
    pub nanos: u32,
}

/// The kind of an inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FileKind {
    /// A regular file with content.
    Regular,
    /// A directory.
    Directory,
    /// A symbolic link; its target is metadata.
    Symlink,
    /// A block device node.
    BlockDevice,
    /// A character device node.
    CharDevice,
    /// A Unix socket node.
    Socket,
    /// A named pipe.
    Fifo,
}

/// Device numbers of a block or character device node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Device {
    /// Major number.
    pub major: u32,
    /// Minor number.
    pub minor: u32,
}

/// Everything a store knows about an inode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attr {
    /// The inode.
    pub ino: InodeId,
    /// Its generation.
    pub generation: Generation,
    /// Its kind.
    pub kind: FileKind,
    /// Permission bits including setuid (0o4000), setgid (0o2000) and sticky (0o1000); `<= 0o7777`.
    pub mode: u32,
    /// Hard link count (a directory counts "." and each subdirectory's "..").
    pub nlink: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Size in bytes: the content length for files, the target length for symlinks.
    pub size: u64,
    /// Device numbers for device nodes, zero otherwise.
    pub rdev: Device,
    /// Last access.
    pub atime: Timestamp,
    /// Last content modification.
    pub mtime: Timestamp,
    /// Last attribute change.
    pub ctime: Timestamp,
    /// Creation time (SMB needs it).
    pub btime: Timestamp,
    /// Monotonic change counter: bumped by every change to the inode or its entries.
    pub change: u64,
}

impl Attr {
    /// The content key of this inode within `store`.
    pub fn content_key(&self, store: StoreId) -> ContentKey {
        ContentKey {
            store,
            ino: self.ino,
            generation: self.generation,
        }
    }
}

/// A new inode to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNode {
    /// Kind of node.
    pub kind: FileKind,
    /// Permission bits (`<= 0o7777`, larger values fail with [`StoreError::Invalid`]), already
    /// filtered by the caller's umask policy.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
    /// Device numbers for device nodes.
    pub rdev: Device,
    /// Target for symlinks; empty otherwise.
    pub symlink_target: Vec<u8>,
    /// Time to stamp as atime, mtime, ctime and btime.
    pub now: Timestamp,
}

/// How to change attributes; `None` leaves a field as it is. Every applied change also sets
/// ctime to `now` (the caller's clock, unless `ctime` is given) and bumps `change`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SetAttr {
    /// New permission bits (`<= 0o7777`, larger values fail with [`StoreError::Invalid`]).
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size (regular files only; the caller truncates content to match). A size that
    /// differs from the current one also sets mtime to `now` unless `mtime` is given, as
    /// POSIX truncate does.
    pub size: Option<u64>,
    /// New access time.
    pub atime: Option<Timestamp>,
    /// New modification time.
    pub mtime: Option<Timestamp>,
    /// New creation time (SMB clients set it; NFS has no way to).
    pub btime: Option<Timestamp>,
    /// A change time to record instead of `now` (SMB clients may set ChangeTime, [MS-FSCC]
    /// 2.4.7; NFS has no way to). Later changes stamp `now` again.
    pub ctime: Option<Timestamp>,
}

/// Longest extended attribute name, in bytes (Linux's `XATTR_NAME_MAX`). A longer name fails
/// with [`StoreError::NameTooLong`].
pub const XATTR_NAME_MAX: usize = 255;

/// Largest value of one extended attribute, in bytes: 64 KiB, enough for an SMB extended
/// attribute (whose value length is a 16-bit field, [MS-FSCC] 2.4.15) and for an NT security
/// descriptor (at most 64 KiB, [MS-DTYP] 2.4.6). A larger value fails with
/// [`StoreError::XattrTooLarge`].
pub const XATTR_VALUE_MAX: usize = 64 * 1024;

/// Most bytes of extended attributes one node holds: the sum, over its attributes, of the
/// name's length plus the value's length. 1 MiB keeps one node's attributes cheap to list and
/// copy in any backend. A set that would pass it fails with [`StoreError::XattrTooLarge`].
pub const XATTR_TOTAL_MAX: usize = 1 << 20;

/// One extended attribute of a node as [`MetadataStore::list_xattrs`] lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct XattrEntry {
    /// Its name.
    pub name: Vec<u8>,
    /// The length of its value in bytes (`<=` [`XATTR_VALUE_MAX`]).
    pub len: u32,
}

/// One entry of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirEntry {
    /// Its position: resume after it with this cookie.
    pub cookie: Cookie,
    /// Entry name.
    pub name: Vec<u8>,
    /// The inode's attributes.
    pub attr: Attr,
}

/// A page of a directory listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirPage {
    /// Entries in cookie order.
    pub entries: Vec<DirEntry>,
    /// Whether the listing has no entries after the last one returned.
    pub eof: bool,
}

/// Result of removing a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The inode that lost a link, after the change (its nlink is the new count).
    pub attr: Attr,
    /// Whether that was the last link: the inode is gone and its content must be removed.
    pub freed: bool,
}

/// Result of a rename.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Renamed {
    /// The moved inode after the rename.
    pub attr: Attr,
    /// The target that was replaced, if any: its attributes after losing the link.
    pub replaced: Option<Removed>,
}

/// One byte-range lock as a metadata store shared by several processes keeps it
/// ([`MetadataStore::publish_locks`]). The store compares ranges only: an exclusive lock
/// conflicts with every overlapping lock, a shared one with overlapping exclusive ones; the
/// finer rules (a zero-length lock, an owner's own locks) are the lock manager's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RangeLock {
    /// First byte.
    pub offset: u64,
    /// Bytes; 0 is a zero-length lock, which overlaps the ranges `[s, e]` with
    /// `s < offset <= e` (MS-FSA 2.1.4.10) and `{0, 0}` nothing.
    pub length: u64,
    /// Exclusive (else shared).
    pub exclusive: bool,
}

impl RangeLock {
    /// Whether `self` and `other` are in each other's way: their ranges overlap and one of
    /// them is exclusive. Ranges end at `offset + length − 1`, computed without wrapping.
    pub fn conflicts(&self, other: &Self) -> bool {
        let last = |r: &Self| i128::from(r.offset) + i128::from(r.length) - 1;
        let empty_at_zero = |r: &Self| r.offset == 0 && r.length == 0;
        (self.exclusive || other.exclusive)
            && !empty_at_zero(self)
            && !empty_at_zero(other)
            && i128::from(self.offset) <= last(other)
            && last(self) >= i128::from(other.offset)
    }
}

/// A lock another process holds, as [`MetadataStore::publish_locks`] and
/// [`MetadataStore::foreign_lock`] report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignLock {
    /// Its owner as that process published it (opaque to the store).
    pub owner: Vec<u8>,
    /// The lock.
    pub lock: RangeLock,
}

/// What one process's clients cache of an inode, as a metadata store shared by several
/// processes keeps it ([`SharedCaching`]): read caching (cached reads, which a change to the
/// data makes stale), write caching (writes held back in the client, which must be flushed
/// before anyone else changes or reads the data) and handle caching (closes held back, which
/// must be done before a name goes away). The store gives the bits no further meaning; SMB
/// oplocks and leases map onto them.
///
/// The same row also carries what the process's open handles of the inode use and refuse to
/// share (SMB share modes, [MS-FSA] 2.1.5.1.2): [`CacheBits::OPEN_READ`] and its siblings
/// when some handle there reads, writes or may delete the data, [`CacheBits::DENY_READ`] and
/// its siblings when some handle there does not share that. Another process opening the
/// inode compares its own access and share access with them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct CacheBits(pub u16);

impl CacheBits {
    /// Nothing cached.
    pub const NONE: Self = Self(0);
    /// Read caching.
    pub const READ: Self = Self(1);
    /// Write caching.
    pub const WRITE: Self = Self(2);
    /// Handle caching.
    pub const HANDLE: Self = Self(4);
    /// Every kind: what an unknown holder is assumed to cache.
    pub const ALL: Self = Self(7);
    /// A handle reads (or executes) the data.
    pub const OPEN_READ: Self = Self(8);
    /// A handle writes (or appends to) the data.
    pub const OPEN_WRITE: Self = Self(16);
    /// A handle may delete or rename the inode.
    pub const OPEN_DELETE: Self = Self(32);
    /// A handle does not share reading.
    pub const DENY_READ: Self = Self(64);
    /// A handle does not share writing.
    pub const DENY_WRITE: Self = Self(128);
    /// A handle does not share deleting.
    pub const DENY_DELETE: Self = Self(256);
    /// Every bit a row may hold: caching and share modes.
    pub const VALID: Self = Self(0x1FF);

    /// Whether nothing is cached (share modes aside).
    pub fn is_empty(self) -> bool {
        self.0 & Self::ALL.0 == 0
    }

    /// Whether the row says nothing at all: nothing cached, no handle that matters to
    /// another's share modes.
    pub fn is_none(self) -> bool {
        self.0 & Self::VALID.0 == 0
    }

    /// Whether `self` and `other` share a kind.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Both together.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self((self.0 | other.0) & Self::ALL.0)
    }

    /// Whether the handles behind `self` and those behind `other` (each a row, or several
    /// rows ORed) refuse each other by share modes ([MS-FSA] 2.1.5.1.2): one side uses a kind
    /// of access (read, write, delete) the other does not share. A handle that uses no kind
    /// sets no bit, so the ORed bits decide exactly as comparing the handles pair by pair.
    /// Caching bits (read, write, handle) take no part.
    pub fn modes_conflict(self, other: Self) -> bool {
        let pairs = [
            (Self::OPEN_READ, Self::DENY_READ),
            (Self::OPEN_WRITE, Self::DENY_WRITE),
            (Self::OPEN_DELETE, Self::DENY_DELETE),
        ];
        pairs.iter().any(|&(uses, denies)| {
            self.intersects(uses) && other.intersects(denies)
                || other.intersects(uses) && self.intersects(denies)
        })
    }
}

/// What a change does to an inode, as a recall request names it
/// ([`SharedCaching::request_recall`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheChange {
    /// The bytes or the size change: read and write caching go (write caching is flushed
    /// first).
    Data,
    /// A name of the inode goes away (remove, rename): handle caching goes.
    Name,
}

impl CacheChange {
    /// What the holders must give up before the change may proceed; other kinds the change
    /// invalidates go without waiting (read caching for [`CacheChange::Data`]).
    pub fn waits_for(self) -> CacheBits {
        match self {
            Self::Data => CacheBits::WRITE,
            Self::Name => CacheBits::HANDLE,
        }
    }

    /// Everything the change invalidates: a holder of any of it is asked to recall.
    pub fn invalidates(self) -> CacheBits {
        match self {
            Self::Data => CacheBits(CacheBits::READ.0 | CacheBits::WRITE.0),
            Self::Name => CacheBits::HANDLE,
        }
    }
}

/// A recall request another process sent ([`SharedCaching::take_recalls`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecallRequest {
    /// The inode.
    pub ino: InodeId,
    /// The change waiting for it.
    pub change: CacheChange,
}

/// A boxed future borrowing its receiver, for the object-safe [`SharedCaching`].
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The caching clients of the processes sharing one metadata store hold on its inodes
/// ([`MetadataStore::shared_caching`]): each process publishes what its own clients cache,
/// sees what the others published, and asks them to give up what a change invalidates.
///
/// Contract:
/// - What a process published lives as long as the process does (the store ties it to the
///   session that [`MetadataStore::publish_locks`] uses); a crashed process's caching goes
///   for the others once its session lapses.
/// - [`elsewhere`](Self::elsewhere) answers from memory, without a round trip: it is on the
///   hot path of every write. It may be briefly behind the store (changes arrive by
///   notification); when it cannot know (not loaded yet, a lost notification connection, more
///   rows than it keeps) it answers [`CacheBits::ALL`], and
///   [`elsewhere_now`](Self::elsewhere_now) asks the store.
/// - Recall requests are broadcasts with no reply: a requester learns that a holder gave up
///   its caching from that holder's next publish, and bounds its wait itself.
pub trait SharedCaching: Send + Sync + std::fmt::Debug {
    /// Publishes what this process's clients cache of `ino` (`NONE` withdraws it); the
    /// others see it once this returns (and their notifications arrived).
    fn publish(&self, ino: InodeId, held: CacheBits) -> BoxFuture<'_, StoreResult<()>>;

    /// Publishes `held` for `ino` as [`publish`](Self::publish) does, but only if the share
    /// modes of the handle being opened (`opening`, a part of `held`) do not conflict with
    /// another live process's row ([`CacheBits::modes_conflict`]), checked and written as one
    /// step against every other process's claim of the inode: of two processes opening one
    /// inode at once with conflicting share modes, at most one gets `Ok(true)`. `Ok(false)`:
    /// refused, nothing written.
    fn claim(
        &self,
        ino: InodeId,
        held: CacheBits,
        opening: CacheBits,
    ) -> BoxFuture<'_, StoreResult<bool>>;

    /// What other processes cache of `ino`, from memory ([`CacheBits::ALL`] when unknown).
    fn elsewhere(&self, ino: InodeId) -> CacheBits;

    /// What other processes cache of `ino`: from memory when it knows, else from the store.
    fn elsewhere_now(&self, ino: InodeId) -> BoxFuture<'_, StoreResult<CacheBits>>;

    /// Whether any other process may cache anything (a cheap check before looking a node up).
    fn any_elsewhere(&self) -> bool;

    /// Asks the other processes to give up what `change` invalidates on `ino`.
    fn request_recall(&self, ino: InodeId, change: CacheChange) -> BoxFuture<'_, StoreResult<()>>;

    /// Notified (`notify_waiters`) whenever what [`elsewhere`](Self::elsewhere) answers may
    /// have changed: register a waiter (`Notified::enable`) before looking, then wait.
    fn changes(&self) -> std::sync::Arc<tokio::sync::Notify>;

    /// The recall requests other processes send, queued up to a bound (further requests are
    /// dropped while the queue is full; their senders' waits are bounded). `None` after the
    /// first call: one consumer per process.
    fn take_recalls(&self) -> Option<tokio::sync::mpsc::Receiver<RecallRequest>>;
}

/// News of another process's locks ([`MetadataStore::lock_news`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockNews {
    /// Another process changed the locks it holds on this inode.
    Changed(InodeId),
    /// News may have been missed (the feed reconnected, or lapsed sessions were removed with
    /// their locks): any inode's foreign locks may have changed.
    Resync,
}

/// The largest durable-open record a store accepts ([`MetadataStore::put_durable_open`]):
/// the front end's records are a few hundred bytes; the bound keeps a bug from filling the
/// store.
pub const DURABLE_OPEN_RECORD_MAX: usize = 16 * 1024;

/// Refuses a durable-open record longer than [`DURABLE_OPEN_RECORD_MAX`] (`Invalid`).
pub fn check_durable_open_record(record: &[u8]) -> StoreResult<()> {
    if record.len() > DURABLE_OPEN_RECORD_MAX {
        return Err(StoreError::Invalid("durable-open record too large"));
    }
    Ok(())
}

/// What happened to a directory entry, as a [`DirFeed`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryAction {
    /// The entry was created, or linked, or moved here from another directory.
    Added,
    /// The entry was removed, or moved to another directory.
    Removed,
    /// The entry's old name in a rename within the directory.
    RenamedFrom,
    /// The entry's new name in a rename within the directory.
    RenamedTo,
    /// The entry's node changed its data or attributes (what: the bits). No namespace
    /// transaction tells of it: the front end that made the change, which knows the
    /// directory entry it reached the node by, announces it ([`MetadataStore::announce`]).
    Modified(Modified),
}

/// What changed about a node, for [`EntryAction::Modified`]: a set of bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Modified(pub u16);

impl Modified {
    /// Its size.
    pub const SIZE: Self = Self(1);
    /// Its data was written (the last write time moved).
    pub const WRITE: Self = Self(2);
    /// Its mode or other attribute bits.
    pub const ATTRIBUTES: Self = Self(4);
    /// Its last access time.
    pub const ACCESS_TIME: Self = Self(8);
    /// Its creation time.
    pub const CREATION_TIME: Self = Self(16);
    /// Its extended attributes.
    pub const XATTRS: Self = Self(32);
    /// Its owner, group or access control list.
    pub const SECURITY: Self = Self(64);
    /// Every bit this build knows.
    pub const ALL: Self = Self(127);

    /// Whether any bit of `other` is set here.
    pub fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for Modified {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Modified {
    fn bitor_assign(&mut self, rhs: Self) {
        self.0 |= rhs.0;
    }
}

/// One changed entry of a directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryChange {
    /// The entry's name (1 to 255 bytes).
    pub name: Vec<u8>,
    /// What happened to it.
    pub action: EntryAction,
    /// Whether the entry is a directory.
    pub is_dir: bool,
}

/// The entries of one directory that one operation of another process changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirChange {
    /// The directory.
    pub dir: InodeId,
    /// Its generation.
    pub generation: Generation,
    /// The changed entries, in the order the operation changed them (a rename within the
    /// directory: the old name, then the new one).
    pub entries: Vec<EntryChange>,
}

/// What a [`DirFeed`] delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirEvent {
    /// Another process changed entries of a directory.
    Changed(std::sync::Arc<DirChange>),
    /// Changes may have been missed (the store lost its connection to the others' changes
    /// for a while, or this receiver fell behind): whoever tracks directories must assume
    /// that any of them changed.
    Lost,
}

/// Namespace changes that *other* processes sharing a store made, as
/// [`MetadataStore::dir_changes`] hands them out: a bounded queue per receiver. A receiver
/// that falls further behind than the queue holds gets [`DirEvent::Lost`] instead of the
/// changes it missed, so a slow consumer costs no memory.
#[derive(Debug)]
pub struct DirFeed {
    rx: tokio::sync::broadcast::Receiver<DirEvent>,
}

impl DirFeed {
    /// A feed reading `rx` (a backend's broadcast of the changes it learns of).
    pub fn new(rx: tokio::sync::broadcast::Receiver<DirEvent>) -> Self {
        Self { rx }
    }

    /// The next event; `None` once the store stopped following changes (it was dropped).
    pub async fn recv(&mut self) -> Option<DirEvent> {
        use tokio::sync::broadcast::error::RecvError;
        match self.rx.recv().await {
            Ok(e) => Some(e),
            Err(RecvError::Lagged(_)) => Some(DirEvent::Lost),
            Err(RecvError::Closed) => None,
        }
    }
}

/// Capacity figures for FSSTAT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    /// Total bytes the backend can hold (an estimate for unbounded backends).
    pub bytes_total: u64,
    /// Bytes free.
    pub bytes_free: u64,
    /// Total inodes.
    pub files_total: u64,
    /// Inodes free.
    pub files_free: u64,
}

/// The namespace: inodes, directory entries and attributes, shared by several shares.
///
/// Contract (checked by the suite in `crate::conformance`, feature `conformance`):
/// - Every operation is atomic: it happens completely or not at all, and concurrent callers see
///   it happen at one instant.
/// - Inode ids are never reused (not even after a machine crash lost the inodes that held
///   them: clients may still hold their handles), never 0; an operation addressed by an inode
///   that no longer
///   exists fails with [`StoreError::Stale`]. A name that does not exist is
///   [`StoreError::NotFound`].
/// - Names are byte strings of 1 to 255 bytes without `/` or NUL, never "." or ".."; longer ones
///   fail with [`StoreError::NameTooLong`], others with [`StoreError::Invalid`].
/// - `rename` is atomic also when it replaces an existing target: no observer sees the target
///   missing. Replacing a directory requires it to be empty; replacing a file with a directory
///   or the reverse fails (`IsDir` / `NotDir`); moving a directory under itself is `Invalid`.
///   Renaming a name onto another name for the same inode does nothing.
/// - `nlink` counts names (plus "." and subdirectories for directories). An inode whose last
///   link is removed is freed; the caller then removes its content.
/// - Directory listings are ordered by [`Cookie`]; every entry keeps the cookie it got when it
///   was linked, so a listing resumed after a cookie neither repeats nor skips unchanged entries,
///   even if the entry with that cookie was removed meanwhile.
/// - Durability: a completed call survives a process crash on persistent backends, but only
///   calls completed before a [`MetadataStore::sync`] that returned are guaranteed to survive a
///   machine crash (power loss). The memory store models the weakest case: `crash()` forgets
///   everything after the last `sync`.
pub trait MetadataStore: Send + Sync + 'static {
    /// This store's persistent identity.
    fn id(&self) -> StoreId;

    /// Returns the root directory of share `name`, creating it with `root` if it does not exist.
    fn share_root(
        &self,
        name: &str,
        root: NewNode,
    ) -> impl Future<Output = StoreResult<Attr>> + Send;

    /// Attributes of an inode.
    fn getattr(&self, ino: InodeId) -> impl Future<Output = StoreResult<Attr>> + Send;

    /// Finds `name` in directory `dir`.
    fn lookup(&self, dir: InodeId, name: &[u8]) -> impl Future<Output = StoreResult<Attr>> + Send;

    /// Finds an entry of directory `dir` whose name equals `name` ignoring case (both folded
    /// by [`fold_case`]): its stored name and attributes. When several names fold alike (only
    /// a case-sensitive protocol can make them), the smallest in byte order. Served from an
    /// index, so it costs about what [`lookup`](Self::lookup) costs however large the
    /// directory; SMB's case-insensitive lookups rely on that.
    fn lookup_folded(
        &self,
        dir: InodeId,
        name: &[u8],
    ) -> impl Future<Output = StoreResult<(Vec<u8>, Attr)>> + Send;

    /// Creates a new inode named `name` in `dir`. Fails with `Exists` if the name is taken.
    /// Updates the directory's mtime and ctime to `node.now`.
    fn create(
        &self,
        dir: InodeId,
        name: &[u8],
        node: NewNode,
    ) -> impl Future<Output = StoreResult<Attr>> + Send;

    /// Adds a hard link `name` in `dir` to the existing non-directory `ino` (`Invalid` for a
    /// directory). Sets the inode's ctime and the directory's mtime and ctime to `now`.
    fn link(
        &self,
        ino: InodeId,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Attr>> + Send;

    /// Removes the non-directory entry `name` from `dir` (`IsDir` for a directory). Sets the
    /// directory's mtime and ctime and the inode's ctime to `now`.
    fn unlink(
        &self,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Removed>> + Send;

    /// Removes the empty directory `name` from `dir` (`NotDir` for a non-directory, `NotEmpty`
    /// if it has entries). Sets `dir`'s mtime and ctime to `now`; the removed directory is
    /// always freed.
    fn rmdir(
        &self,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Removed>> + Send;

    /// Moves `from_dir/from_name` to `to_dir/to_name`, atomically replacing a compatible target.
    /// Sets both directories' mtime and ctime and the moved inode's ctime to `now` (a no-op
    /// rename onto the same inode changes nothing). The entry gets a new cookie in `to_dir`.
    fn rename(
        &self,
        from_dir: InodeId,
        from_name: &[u8],
        to_dir: InodeId,
        to_name: &[u8],
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Renamed>> + Send;

    /// Changes attributes. A size change on a non-regular file is `Invalid` (`IsDir` for a
    /// directory). Setting uid/gid on a regular file does not clear setuid/setgid here: that is
    /// the front end's policy.
    fn setattr(
        &self,
        ino: InodeId,
        set: SetAttr,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Attr>> + Send;

    /// Records that bytes up to `end` were written at `mtime`: size becomes `max(size, end)`,
    /// mtime and ctime become `mtime`, and if `version` is given (what the content store's
    /// [`ContentStore::sync`] returned) it becomes the file's [`ContentVersion`] in the same
    /// atomic step: an observer, and a crash, sees the old size and version or the new size and
    /// version, never a mix. `None` keeps the recorded version. A narrow update: nothing else in
    /// the record changes. Regular files only (`IsDir` for a directory, `Invalid` for other
    /// kinds). The version is set unconditionally: a server that may share the metadata store
    /// with another process records versions through [`MetadataStore::record_write_on`].
    fn record_write(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        version: Option<ContentVersion>,
    ) -> impl Future<Output = StoreResult<Attr>> + Send;

    /// [`MetadataStore::record_write`] with a version, as a compare-and-swap: records `version`
    /// (with the size and mtime, in one atomic step) only if the file's recorded version is
    /// still `base`, the one the content store built `version` on, or already is `version`
    /// (a retry of a record that happened). Otherwise nothing changes and the answer is
    /// [`Recorded::Conflict`] with the version recorded now: another writer (another gateway
    /// on a shared store) recorded a version meanwhile, and `version` lacks its changes. The
    /// caller then re-bases: it makes its changes again on top of the recorded version, syncs,
    /// and records that with the recorded version as the base. Gateways sharing one metadata
    /// store and one content store rely on this to never lose each other's writes.
    ///
    /// Errors as for `record_write` (`Stale`, `IsDir`, `Invalid`). The default reads the
    /// version, then records: correct only while nothing else records meanwhile (one process
    /// serialising its writers); every backend here overrides it with an atomic check, and a
    /// backend that several processes share must.
    fn record_write_on(
        &self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        base: Option<ContentVersion>,
        version: ContentVersion,
    ) -> impl Future<Output = StoreResult<Recorded>> + Send {
        async move {
            let current = self.content_version(ino).await?;
            if current != base && current != Some(version) {
                return Ok(Recorded::Conflict(current));
            }
            self.record_write(ino, end, mtime, Some(version))
                .await
                .map(Recorded::Done)
        }
    }

    /// The content version last recorded for `ino` by [`MetadataStore::record_write`], `None`
    /// if none was ever recorded (always, with a content store that has no versions). `Stale`
    /// if the inode does not exist.
    fn content_version(
        &self,
        ino: InodeId,
    ) -> impl Future<Output = StoreResult<Option<ContentVersion>>> + Send;

    /// The target of a symlink (`Invalid` for other kinds).
    fn readlink(&self, ino: InodeId) -> impl Future<Output = StoreResult<Vec<u8>>> + Send;

    /// Up to `max_entries` entries of `dir` with cookies greater than `after`, in cookie order.
    /// A page with no entries has `eof` set unless `max_entries` was 0.
    fn readdir(
        &self,
        dir: InodeId,
        after: Cookie,
        max_entries: usize,
    ) -> impl Future<Output = StoreResult<DirPage>> + Send;

    /// The parent of directory `dir` (the root is its own parent).
    fn parent(&self, dir: InodeId) -> impl Future<Output = StoreResult<InodeId>> + Send;

    /// Capacity figures.
    fn usage(&self) -> impl Future<Output = StoreResult<Usage>> + Send;

    /// Makes every completed call durable against machine crashes.
    fn sync(&self) -> impl Future<Output = StoreResult<()>> + Send;

    /// The value of the extended attribute `name` of `ino`, or `None` if it has none of that
    /// name. `Stale` if the inode does not exist; the name is checked as for
    /// [`MetadataStore::set_xattr`].
    ///
    /// Extended attributes are small named binary values attached to an inode (any kind),
    /// for what a protocol stores beyond the POSIX attributes. They belong to the inode, not
    /// to a name: hard links share them, a rename carries them, and they are freed with the
    /// inode. Names are byte strings of 1 to [`XATTR_NAME_MAX`] bytes without NUL; the store
    /// gives them no meaning, but the server shares one namespace between protocols:
    /// `dittofs.<what>` for what the server itself keeps (`dittofs.dosattrib`, the SMB DOS
    /// attributes; `dittofs.ntacl`, an NT security descriptor; `dittofs.stream.<name>`, the data
    /// of an SMB named stream) and `user.<name>` for attributes
    /// clients name (SMB extended attributes, later NFSv4.2 / Linux user xattrs).
    fn xattr(
        &self,
        ino: InodeId,
        name: &[u8],
    ) -> impl Future<Output = StoreResult<Option<Vec<u8>>>> + Send;

    /// The extended attributes of `ino`: names and value lengths, in byte order of the names.
    /// `Stale` if the inode does not exist.
    fn list_xattrs(
        &self,
        ino: InodeId,
    ) -> impl Future<Output = StoreResult<Vec<XattrEntry>>> + Send;

    /// Sets the extended attribute `name` of `ino` to `value`, creating or replacing it, and
    /// sets the inode's ctime to `now` and bumps its change counter, in one atomic step;
    /// returns the attributes after. Bounds: a name longer than [`XATTR_NAME_MAX`] is
    /// `NameTooLong`, an empty name or one holding NUL is `Invalid`, a value longer than
    /// [`XATTR_VALUE_MAX`] or a set that would make the inode's attributes total more than
    /// [`XATTR_TOTAL_MAX`] bytes (names plus values) is `XattrTooLarge`; each fails before
    /// anything changes. `Stale` if the inode does not exist. Durable like every other change
    /// (after [`MetadataStore::sync`] against machine crashes).
    fn set_xattr(
        &self,
        ino: InodeId,
        name: &[u8],
        value: Vec<u8>,
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Attr>> + Send;

    /// Removes the extended attribute `name` of `ino`, setting ctime to `now` and bumping the
    /// change counter as [`MetadataStore::set_xattr`] does; returns the attributes after.
    /// Removing a name the inode does not have succeeds and changes nothing (no ctime).
    fn remove_xattr(
        &self,
        ino: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> impl Future<Output = StoreResult<Attr>> + Send;

    /// The server secret stored under `name` (such as the key that signs NFS file handles), or
    /// `None`. Secrets live in the metadata store so that every gateway sharing it uses the
    /// same ones. Names are short ASCII identifiers; values are small (a few dozen bytes).
    fn secret(&self, name: &str) -> impl Future<Output = StoreResult<Option<Vec<u8>>>> + Send;

    /// Stores `value` under `name` unless a secret is stored there already, and returns the
    /// secret stored: of callers racing to set one (gateways starting at once), all get the
    /// first value written. Durable against machine crashes when it returns. A secret is never
    /// changed or removed through this API.
    fn init_secret(
        &self,
        name: &str,
        value: Vec<u8>,
    ) -> impl Future<Output = StoreResult<Vec<u8>>> + Send;

    /// Whether byte-range locks taken through this process must be agreed with other
    /// processes that share this store (several gateways on one database). `false` (the
    /// default) means one process serves the store and its in-memory lock manager is the
    /// whole truth; [`publish_locks`](Self::publish_locks) and
    /// [`foreign_lock`](Self::foreign_lock) are then never called.
    fn shares_locks(&self) -> bool {
        false
    }

    /// Publishes this process's locks of `owner` on `ino` for the other processes, if none
    /// of their live locks conflicts with any of `wanted`: in one atomic step, serialised
    /// with every other call on `ino`, the store checks `wanted` against the locks other
    /// processes published on `ino` (never against this process's own, which its lock
    /// manager has already checked) and, if none conflicts, replaces everything this process
    /// published for `owner` on `ino` with `held` (an empty `held` removes them: unlock,
    /// close). Returns `None` when published, or the first conflicting lock, and then
    /// nothing changed. `wanted` empty never conflicts.
    ///
    /// A process's locks live as long as the process does: a store that shares locks ties
    /// them to a session the process keeps alive, and drops them (for everyone) when the
    /// session lapses, so a crashed process never holds a lock forever.
    ///
    /// The default (single process) publishes nothing and finds no conflict.
    fn publish_locks(
        &self,
        ino: InodeId,
        owner: &[u8],
        wanted: &[RangeLock],
        held: &[RangeLock],
    ) -> impl Future<Output = StoreResult<Option<ForeignLock>>> + Send {
        let _ = (ino, owner, wanted, held);
        async { Ok(None) }
    }

    /// The first lock another live process published on `ino` that conflicts with `wanted`
    /// (NLM TEST), or `None`. The default (single process) finds none.
    fn foreign_lock(
        &self,
        ino: InodeId,
        wanted: RangeLock,
    ) -> impl Future<Output = StoreResult<Option<ForeignLock>>> + Send {
        let _ = (ino, wanted);
        async { Ok(None) }
    }

    /// The caching clients of the processes sharing this store hold, when several
    /// processes may serve it ([`SharedCaching`]); `None` (the default) when this process is
    /// the only one, and its own open table is the whole truth.
    fn shared_caching(&self) -> Option<std::sync::Arc<dyn SharedCaching>> {
        None
    }

    /// Subscribes to news of the locks other processes publish, so this process can mirror
    /// them ([`foreign_locks`](Self::foreign_locks)) and check reads and writes against them
    /// without a store call each. `None` (the default) when the store has no such feed (it
    /// does not share locks). News arrives shortly after the change committed; a receiver
    /// that lags behind the feed's bound gets `RecvError::Lagged`, which means the same as
    /// [`LockNews::Resync`].
    fn lock_news(&self) -> Option<tokio::sync::broadcast::Receiver<LockNews>> {
        None
    }

    /// The live locks other processes published, with their inodes: on `ino` only, or on
    /// every inode when `ino` is `None`; at most `limit` of them. The default (single
    /// process) finds none.
    fn foreign_locks(
        &self,
        ino: Option<InodeId>,
        limit: usize,
    ) -> impl Future<Output = StoreResult<Vec<(InodeId, ForeignLock)>>> + Send {
        let _ = (ino, limit);
        async { Ok(Vec::new()) }
    }

    /// A feed of the namespace changes (entries added, removed, renamed) that other
    /// processes sharing this store make, for a process that must tell its clients about
    /// them (SMB CHANGE_NOTIFY): each call gives a new receiver that sees what is committed
    /// from then on, never the changes made through this store value itself. A change is
    /// delivered after it committed, and may be missed only with a [`DirEvent::Lost`] in its
    /// place. `None` (the default) means no other process writes the store, so there is
    /// nothing to follow.
    fn dir_changes(&self) -> Option<DirFeed> {
        None
    }

    /// Tells the processes following [`dir_changes`](Self::dir_changes) through other store
    /// values that `entries` of directory `dir` (generation `generation`) changed in a way
    /// no namespace transaction announces ([`EntryAction::Modified`]: a node's data or
    /// attributes, which only the front end can relate to an entry). At most as costly as a
    /// namespace change's own announcement, and nothing while nobody follows. Nothing (the
    /// default) where no other process shares the store.
    fn announce(
        &self,
        dir: InodeId,
        generation: Generation,
        entries: Vec<EntryChange>,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        let _ = (dir, generation, entries);
        async { Ok(()) }
    }

    /// Whether durable-open records put here outlive this process
    /// ([`put_durable_open`](Self::put_durable_open)). `false` (the default: the memory store)
    /// means nothing is kept: the three methods below do nothing and list nothing, and the
    /// server closes durable opens when it shuts down instead of keeping them.
    fn keeps_durable_opens(&self) -> bool {
        false
    }

    /// Stores `record` as durable open `id` of share `share`, replacing any record there.
    /// The record is opaque to the store (an SMB durable handle's state, encoded by the
    /// front end); at most [`DURABLE_OPEN_RECORD_MAX`] bytes, else `Invalid` and nothing
    /// changes. Durable against a crash of the process when it returns, against a machine
    /// crash after [`sync`](Self::sync). Records are per share name: several shares on one
    /// store never see each other's.
    fn put_durable_open(
        &self,
        share: &str,
        id: u64,
        record: Vec<u8>,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        let _ = (share, id, record);
        async { Ok(()) }
    }

    /// Removes durable open `id` of share `share`; removing one that is not there succeeds.
    fn remove_durable_open(
        &self,
        share: &str,
        id: u64,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        let _ = (share, id);
        async { Ok(()) }
    }

    /// Every durable-open record of share `share` with its id, in id order.
    fn durable_opens(
        &self,
        share: &str,
    ) -> impl Future<Output = StoreResult<Vec<(u64, Vec<u8>)>>> + Send {
        let _ = share;
        async { Ok(Vec::new()) }
    }
}

/// The most zeros [`ContentStore::punch_hole`]'s default writes at once (1 MiB).
pub const PUNCH_PIECE: u64 = 1 << 20;

/// File bytes, keyed by [`ContentKey`].
///
/// Contract (checked by the suite in `crate::conformance`, feature `conformance`):
/// - A key that was never written reads as empty (length 0). Writing past the end extends the
///   object; the gap reads as zeros (a hole). Reads past the end return fewer bytes (possibly 0).
/// - `truncate` sets the length exactly: shrinking drops bytes, growing adds a hole.
/// - Written bytes are visible to reads at once, but durable against machine crashes only after
///   [`ContentStore::sync`] for that key returned. The memory store's `crash()` forgets
///   unsynced writes.
/// - A block that should exist but cannot be found is an error, never zeros.
/// - Size: no object grows beyond [`ContentStore::max_file_size`]; a write ending beyond it or
///   a truncate to a larger length fails with [`StoreError::FileTooLarge`] and changes nothing.
/// - Versions: `write` and `sync` return the [`ContentVersion`] holding the key's bytes as of
///   that call, or `None` for a store that changes bytes in place (memory, filesystem). A store
///   that returns versions keeps a version's bytes readable at least until the metadata store
///   recorded a newer one for the file (the server passes `sync`'s version to
///   [`MetadataStore::record_write_on`]), never returns the same version for different bytes,
///   and orders versions: a new version is greater than the version it was built on (the one
///   last adopted or rebased to), whatever the clocks of the processes sharing the store say,
///   so a version recorded later is always the greater one.
/// - Which version is read: a store with versions ([`ContentStore::has_versions`]) cannot know
///   on its own which of its versions metadata recorded (after a restart, the newest version
///   it holds may be one whose `record_write` never happened). The caller therefore tells it,
///   with [`ContentStore::adopt`], before it reads or changes a file's content: the store then
///   serves the adopted version, unless it holds changes of its own made since (written,
///   or synced and not yet adopted back), which are newer. Stores without versions ignore it.
pub trait ContentStore: Send + Sync + 'static {
    /// Reads up to `len` bytes at `offset`.
    fn read(
        &self,
        key: ContentKey,
        offset: u64,
        len: u32,
    ) -> impl Future<Output = StoreResult<Bytes>> + Send;

    /// Writes `data` at `offset`; returns the version now holding the key's bytes, if the store
    /// has versions.
    fn write(
        &self,
        key: ContentKey,
        offset: u64,
        data: Bytes,
    ) -> impl Future<Output = StoreResult<Option<ContentVersion>>> + Send;

    /// Sets the length to `len`.
    fn truncate(&self, key: ContentKey, len: u64) -> impl Future<Output = StoreResult<()>> + Send;

    /// The current length (0 for a key never written).
    fn len(&self, key: ContentKey) -> impl Future<Output = StoreResult<u64>> + Send;

    /// Removes the object; removing a missing key succeeds.
    fn remove(&self, key: ContentKey) -> impl Future<Output = StoreResult<()>> + Send;

    /// Makes every write and truncate of `key` durable; returns the version holding those
    /// bytes, if the store has versions: the one to record with the size.
    fn sync(
        &self,
        key: ContentKey,
    ) -> impl Future<Output = StoreResult<Option<ContentVersion>>> + Send;

    /// Capacity figures (bytes only; the inode fields are ignored).
    fn usage(&self) -> impl Future<Output = StoreResult<Usage>> + Send;

    /// Whether the store answers now, for a readiness check: one cheap request where the
    /// store is remote, else what [`usage`](Self::usage) reads.
    fn probe(&self) -> impl Future<Output = StoreResult<()>> + Send {
        async move { self.usage().await.map(|_| ()) }
    }

    /// The parts of `[offset, offset + len)` of `key` that hold data, as `(offset, length)`
    /// pairs in order, none empty, none past the object's length; holes (never written, or
    /// deallocated by [`ContentStore::punch_hole`]) are left out. A store that cannot tell
    /// holes reports the whole range up to the length as data, which is what this default does.
    fn allocated(
        &self,
        key: ContentKey,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = StoreResult<Vec<(u64, u64)>>> + Send {
        async move {
            let size = self.len(key).await?;
            let end = offset.saturating_add(len).min(size);
            Ok(if end > offset {
                vec![(offset, end - offset)]
            } else {
                Vec::new()
            })
        }
    }

    /// Zeroes `[offset, offset + len)` of `key` without changing its length (bytes past the
    /// length stay absent), deallocating the space where the store can, so that
    /// [`ContentStore::allocated`] may report the range as a hole. Durable like a write. This
    /// default writes zeros, in pieces of at most [`PUNCH_PIECE`] bytes.
    fn punch_hole(
        &self,
        key: ContentKey,
        offset: u64,
        len: u64,
    ) -> impl Future<Output = StoreResult<Option<ContentVersion>>> + Send {
        async move {
            let size = self.len(key).await?;
            let end = offset.saturating_add(len).min(size);
            let mut at = offset;
            let mut version = None;
            while at < end {
                let n = (end - at).min(PUNCH_PIECE);
                let zeros = Bytes::from(vec![0u8; usize::try_from(n).unwrap_or(0)]);
                version = self.write(key, at, zeros).await?;
                at += n;
            }
            Ok(version)
        }
    }

    /// Tells the store that metadata records `version` for `key` (what
    /// [`MetadataStore::content_version`] returned; `None` if none was ever recorded). The
    /// server calls it before each read or change of a file's content, and again after
    /// [`MetadataStore::record_write`] recorded what `sync` returned. A store with versions
    /// reads and changes that version from then on, unless it holds changes of the key made
    /// through it that metadata has not recorded yet, or already serves a newer version: a
    /// report older than what it serves is stale (a read that raced a flush) and is ignored.
    /// Stores without versions ignore it; this default does nothing.
    fn adopt(
        &self,
        key: ContentKey,
        version: Option<ContentVersion>,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        let _ = (key, version);
        async { Ok(()) }
    }

    /// Like [`ContentStore::adopt`], but also forgets every change of `key` made through this
    /// store that metadata has not recorded (written, or synced and not yet adopted back): from
    /// now on the store serves `version` and builds its next version on it. The server calls
    /// it under its per-file lock before it changes a file's content, with the version it read
    /// from metadata, so the version it then records names `version` as its base; and again
    /// after [`MetadataStore::record_write_on`] found another version recorded, before it makes
    /// its changes again on top of that one (the changes it still holds, such as cached
    /// writes, are what it writes again; anything else was not acknowledged). Stores without
    /// versions ignore it; this default calls `adopt`.
    fn rebase(
        &self,
        key: ContentKey,
        version: Option<ContentVersion>,
    ) -> impl Future<Output = StoreResult<()>> + Send {
        self.adopt(key, version)
    }

    /// Whether this store returns versions (and so needs [`ContentStore::adopt`]); callers
    /// skip the metadata lookup for stores that do not. Fixed for the store's lifetime.
    fn has_versions(&self) -> bool {
        false
    }

    /// The largest length an object can have here, in bytes: what FSINFO reports as
    /// `maxfilesize`. Fixed for the store's lifetime.
    fn max_file_size(&self) -> u64;
}

/// Checks an extended attribute name against the contract: 1 to [`XATTR_NAME_MAX`] bytes, no
/// NUL. Every backend calls this before touching its state.
pub fn check_xattr_name(name: &[u8]) -> StoreResult<()> {
    if name.len() > XATTR_NAME_MAX {
        return Err(StoreError::NameTooLong);
    }
    if name.is_empty() {
        return Err(StoreError::Invalid("empty extended attribute name"));
    }
    if name.contains(&0) {
        return Err(StoreError::Invalid("extended attribute name contains NUL"));
    }
    Ok(())
}

/// A name folded for comparisons that ignore case: UTF-8 names lowercased by Unicode's
/// rules (`str::to_lowercase`), other byte strings as they are (nothing to fold). Two names
/// are equal ignoring case when their folds are equal. Stores index entries by this, so it
/// must never change for a stored name: a change needs a format migration.
pub fn fold_case(name: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match std::str::from_utf8(name) {
        Ok(s) if s.bytes().any(|b| b.is_ascii_uppercase()) || !s.is_ascii() => {
            let folded = s.to_lowercase();
            if folded.as_bytes() == name {
                std::borrow::Cow::Borrowed(name)
            } else {
                std::borrow::Cow::Owned(folded.into_bytes())
            }
        }
        _ => std::borrow::Cow::Borrowed(name),
    }
}

/// Checks a directory entry name against the contract: 1 to 255 bytes, no `/` or NUL, not "."
/// or "..". Every backend calls this before touching its state.
pub fn check_name(name: &[u8]) -> StoreResult<()> {
    if name.len() > 255 {
        return Err(StoreError::NameTooLong);
    }
    if name.is_empty() || name == b"." || name == b".." {
        return Err(StoreError::Invalid("reserved or empty name"));
    }
    if name.iter().any(|&b| b == b'/' || b == 0) {
        return Err(StoreError::Invalid("name contains '/' or NUL"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::fold_case;

    /// Goal: case variants fold alike (ASCII and beyond), folded names are not copied, and
    /// bytes that are not UTF-8 fold to themselves.
    #[test]
    fn fold_case_rules() {
        assert_eq!(fold_case(b"Report.TXT"), fold_case(b"report.txt"));
        assert_eq!(fold_case("ÄRGER".as_bytes()), fold_case("ärger".as_bytes()));
        assert_ne!(fold_case(b"a"), fold_case(b"b"));
        assert!(matches!(fold_case(b"plain"), std::borrow::Cow::Borrowed(_)));
        assert!(matches!(
            fold_case("ünï".as_bytes()),
            std::borrow::Cow::Borrowed(_)
        ));
        assert_eq!(&*fold_case(b"\xffA"), b"\xffA");
    }
}
