//! One share: namespace rules, permissions and attribute semantics over a metadata store, a
//! content store and the share's write-back cache. Protocol front ends (NFSv3 now, SMB later)
//! translate their calls into these operations and map [`OpError`] to their status codes.
//!
//! Permission model (AUTH_SYS, as knfsd applies it): owner / group (primary or supplementary) /
//! other bits; root may read and write anything and execute what has any execute bit; removing
//! from a sticky directory needs ownership of the entry or the directory; new nodes in a setgid
//! directory inherit its group (and new directories the setgid bit). The owner of a file may
//! read and write it whatever its mode ("owner override"), because the client already checked
//! the mode when it opened the file, and `open(O_CREAT, 0444)` followed by writes must work.

use std::sync::Arc;

use bytes::Bytes;
use stores::{
    Attr, ContentKey, ContentStore, Cookie, Device, DirPage, FileKind, InodeId, MetadataStore,
    NewNode, Removed, Renamed, SetAttr, StoreError, Timestamp, Usage,
};
use tokio::sync::mpsc;

use super::handle::ShareId;
use super::writeback::{Pending, WriteBack};
use crate::runtime::Env;

/// Access bits, as NFSv3 ACCESS defines them (RFC 1813 §3.3.4).
pub mod access {
    /// Read data or list a directory.
    pub const READ: u32 = 0x01;
    /// Look up names in a directory.
    pub const LOOKUP: u32 = 0x02;
    /// Rewrite existing data or directory entries.
    pub const MODIFY: u32 = 0x04;
    /// Append data or add entries.
    pub const EXTEND: u32 = 0x08;
    /// Delete entries from a directory.
    pub const DELETE: u32 = 0x10;
    /// Execute a file.
    pub const EXECUTE: u32 = 0x20;
}

/// Why a share operation failed, before protocol mapping.
#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The mode bits deny the caller (NFS3ERR_ACCES).
    #[error("access denied")]
    Access,
    /// Only the owner or root may do this (NFS3ERR_PERM).
    #[error("operation not permitted")]
    Perm,
    /// The share is exported read-only (NFS3ERR_ROFS).
    #[error("read-only share")]
    ReadOnly,
    /// A SETATTR guard did not match (NFS3ERR_NOT_SYNC).
    #[error("guard ctime mismatch")]
    NotSync,
    /// A request argument is invalid (NFS3ERR_INVAL).
    #[error("invalid argument: {0}")]
    Invalid(&'static str),
    /// The file would exceed the largest size we support (NFS3ERR_FBIG).
    #[error("file too large")]
    TooBig,
}

impl OpError {
    fn from_store(e: StoreError) -> Self {
        match e {
            StoreError::ReadOnly => Self::ReadOnly,
            e => Self::Store(e),
        }
    }
}

/// Result alias for share operations.
pub type OpResult<T> = Result<T, OpError>;

/// Largest file size: i64::MAX keeps every client's `off_t` happy.
pub const FILE_SIZE_MAX: u64 = i64::MAX as u64;

/// The identity a call runs as, after squashing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups.
    pub gids: Vec<u32>,
}

impl Caller {
    /// Whether the caller is root.
    pub fn is_root(&self) -> bool {
        self.uid == 0
    }

    /// Whether the caller is a member of `gid`.
    pub fn in_group(&self, gid: u32) -> bool {
        self.gid == gid || self.gids.contains(&gid)
    }
}

/// Identity mapping for a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Squash {
    /// Callers keep their ids.
    #[default]
    None,
    /// uid 0 becomes the anonymous user (and gid 0 the anonymous group).
    Root,
    /// Every caller becomes the anonymous user.
    All,
}

/// How a share treats callers.
#[derive(Debug, Clone)]
pub struct SharePolicy {
    /// Refuse every change.
    pub read_only: bool,
    /// Identity mapping.
    pub squash: Squash,
    /// uid squashed callers get.
    pub anon_uid: u32,
    /// gid squashed callers get.
    pub anon_gid: u32,
}

impl SharePolicy {
    /// Applies the squash rule to a client's credentials.
    pub fn map_caller(&self, uid: u32, gid: u32, gids: &[u32]) -> Caller {
        let anon = || Caller {
            uid: self.anon_uid,
            gid: self.anon_gid,
            gids: Vec::new(),
        };
        match self.squash {
            Squash::All => anon(),
            Squash::Root if uid == 0 => anon(),
            Squash::Root => Caller {
                uid,
                gid: if gid == 0 { self.anon_gid } else { gid },
                gids: gids
                    .iter()
                    .map(|&g| if g == 0 { self.anon_gid } else { g })
                    .collect(),
            },
            Squash::None => Caller {
                uid,
                gid,
                gids: gids.to_vec(),
            },
        }
    }
}

/// Attributes of a share's root directory when it is first created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RootAttrs {
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Group.
    pub gid: u32,
}

/// How to set a time in SETATTR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeSet {
    /// Leave it.
    #[default]
    Keep,
    /// The server's current time.
    ServerNow,
    /// A time the client chose.
    Client(Timestamp),
}

/// A SETATTR request in protocol-neutral terms.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttrChange {
    /// New mode bits.
    pub mode: Option<u32>,
    /// New owner.
    pub uid: Option<u32>,
    /// New group.
    pub gid: Option<u32>,
    /// New size.
    pub size: Option<u64>,
    /// New access time.
    pub atime: TimeSet,
    /// New modification time.
    pub mtime: TimeSet,
}

impl AttrChange {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// Attributes of a directory before and after a change (for NFS wcc_data).
#[derive(Debug, Clone, Default)]
pub struct DirChange {
    /// Before; `None` if it could not be read.
    pub before: Option<Attr>,
    /// After; `None` if it could not be read.
    pub after: Option<Attr>,
}

/// How durable a write must be before it is acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stability {
    /// Cached; durable after COMMIT.
    Unstable,
    /// Data and the metadata needed to read it back are durable.
    DataSync,
    /// Data and all metadata are durable.
    FileSync,
}

/// The result of a write.
#[derive(Debug, Clone)]
pub struct Written {
    /// Attributes before.
    pub before: Option<Attr>,
    /// Attributes after (size includes cached writes).
    pub after: Attr,
    /// How durable it is.
    pub stability: Stability,
    /// The write verifier when the bytes entered the write-back cache.
    pub verifier: [u8; 8],
}

/// Arguments for creating a node.
#[derive(Debug, Clone)]
pub struct CreateSpec {
    /// Kind.
    pub kind: FileKind,
    /// Requested attributes (mode, uid, gid, size for regular files, times).
    pub attrs: AttrChange,
    /// Device numbers for device nodes.
    pub rdev: Device,
    /// Symlink target.
    pub target: Vec<u8>,
}

/// One share. Cheap to clone; every clone serves the same share.
pub struct Share<M, C> {
    inner: Arc<ShareInner<M, C>>,
}

impl<M, C> Clone for Share<M, C> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
        }
    }
}

struct ShareInner<M, C> {
    name: String,
    id: ShareId,
    root: Attr,
    meta: Arc<M>,
    content: Arc<C>,
    cache: WriteBack<M, C>,
    policy: SharePolicy,
    env: Env,
    /// Content keys of freed files, for the reaper (see [`reap`]).
    reaper: mpsc::Sender<ContentKey>,
}

/// Freed files whose content waits for the metadata sync that makes their removal durable.
/// When the queue is full the remover syncs and removes inline (backpressure).
pub const REAP_QUEUE: usize = 4096;

/// The reaper: removes the content of freed files only after a metadata sync made the removal
/// durable, so that a machine crash can never bring back a name whose bytes are gone. Batches
/// whatever has queued behind one sync. A failed sync leaves that batch's content in place:
/// leaked space, never lost data. Ends when the share is dropped and the queue is empty.
async fn reap<M: MetadataStore, C: ContentStore>(
    meta: Arc<M>,
    content: Arc<C>,
    mut rx: mpsc::Receiver<ContentKey>,
) {
    let mut batch = Vec::new();
    while rx.recv_many(&mut batch, REAP_QUEUE).await > 0 {
        if let Err(e) = meta.sync().await {
            tracing::warn!(files = batch.len(), error = %e, "metadata sync failed; leaving the content of freed files in place");
            batch.clear();
            continue;
        }
        if crate::buggify!("reaper-delayed") {
            // buggify: the reaper runs late: freed files keep their bytes a while longer.
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        for key in batch.drain(..) {
            remove_content(&*content, key).await;
        }
    }
}

async fn remove_content<C: ContentStore>(content: &C, key: ContentKey) {
    if let Err(e) = content.remove(key).await {
        // The namespace change is done; the bytes are garbage now, not lost data.
        tracing::warn!(ino = key.ino.0, error = %e, "could not remove content of a freed file");
    }
}

impl<M: MetadataStore, C: ContentStore> Share<M, C> {
    /// Opens share `name`, creating its root directory with `root` attributes if needed.
    pub async fn open(
        env: Env,
        name: &str,
        id: ShareId,
        meta: Arc<M>,
        cache: WriteBack<M, C>,
        policy: SharePolicy,
        root: RootAttrs,
    ) -> OpResult<Self> {
        let content = cache.content().clone();
        let root = meta
            .share_root(
                name,
                NewNode {
                    kind: FileKind::Directory,
                    mode: root.mode & 0o7777,
                    uid: root.uid,
                    gid: root.gid,
                    rdev: Device::default(),
                    symlink_target: Vec::new(),
                    now: env.wall(),
                },
            )
            .await?;
        // A root created just now must be durable before any client gets its handle: otherwise
        // a crash before the first sync recreates it as another inode and every mounted
        // client's root handle goes stale (found by the simulator, storm seed 0x7f). Cheap when
        // the root already existed: nothing is pending. A busy or failing store gets a few
        // tries before the share (and the server start) fails.
        let mut attempt: u32 = 1;
        while let Err(e) = meta.sync().await {
            if attempt >= 10 || !matches!(e, StoreError::Busy | StoreError::Io(_)) {
                return Err(e.into());
            }
            tracing::warn!(share = name, error = %e, attempt, "metadata sync at share start failed; retrying");
            attempt += 1;
            tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt))).await;
        }
        let (reaper, rx) = mpsc::channel(REAP_QUEUE);
        tokio::spawn(reap(meta.clone(), content.clone(), rx));
        Ok(Self {
            inner: Arc::new(ShareInner {
                name: name.to_owned(),
                id,
                root,
                meta,
                content,
                cache,
                policy,
                env,
                reaper,
            }),
        })
    }

    /// The share's name (its export path).
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The share's handle id.
    pub fn id(&self) -> ShareId {
        self.inner.id
    }

    /// The root directory as it was when the share opened (id and generation are stable).
    pub fn root(&self) -> &Attr {
        &self.inner.root
    }

    /// The identity policy.
    pub fn policy(&self) -> &SharePolicy {
        &self.inner.policy
    }

    /// The write-back cache.
    pub fn cache(&self) -> &WriteBack<M, C> {
        &self.inner.cache
    }

    fn now(&self) -> Timestamp {
        self.inner.env.wall()
    }

    fn check_writable(&self) -> OpResult<()> {
        if self.inner.policy.read_only {
            Err(OpError::ReadOnly)
        } else {
            Ok(())
        }
    }

    /// Attributes with unflushed writes applied.
    fn overlay(&self, mut a: Attr) -> Attr {
        if a.kind == FileKind::Regular
            && let Some(Pending { end, mtime }) = self.inner.cache.pending(a.ino)
        {
            a.size = a.size.max(end);
            if mtime > a.mtime {
                a.mtime = mtime;
                a.ctime = a.ctime.max(mtime);
            }
        }
        a
    }

    /// Attributes of `ino`.
    pub async fn getattr(&self, ino: InodeId) -> OpResult<Attr> {
        let epoch = self.inner.cache.flush_epoch();
        let a = self
            .inner
            .meta
            .getattr(ino)
            .await
            .map_err(OpError::from_store)?;
        self.settle(a, epoch).await
    }

    /// Applies pending writes to attributes read from the store after `epoch` was taken,
    /// re-reading them if a flush may have recorded a newer size in between (a size that went
    /// backwards would make clients drop cached data).
    async fn settle(&self, a: Attr, epoch: u64) -> OpResult<Attr> {
        if a.kind == FileKind::Regular
            && self.inner.cache.pending(a.ino).is_none()
            && self.inner.cache.flush_epoch() != epoch
        {
            let fresh = self
                .inner
                .meta
                .getattr(a.ino)
                .await
                .map_err(OpError::from_store)?;
            return Ok(self.overlay(fresh));
        }
        Ok(self.overlay(a))
    }

    async fn getattr_opt(&self, ino: InodeId) -> Option<Attr> {
        self.getattr(ino).await.ok()
    }

    /// Whether `caller` may do `want` (a mix of r=4, w=2, x=1) by the mode bits.
    pub fn mode_allows(attr: &Attr, caller: &Caller, want: u32) -> bool {
        if caller.is_root() {
            return want & 1 == 0 || attr.kind == FileKind::Directory || attr.mode & 0o111 != 0;
        }
        let bits = if caller.uid == attr.uid {
            attr.mode >> 6
        } else if caller.in_group(attr.gid) {
            attr.mode >> 3
        } else {
            attr.mode
        } & 7;
        bits & want == want
    }

    fn require(attr: &Attr, caller: &Caller, want: u32) -> OpResult<()> {
        if Self::mode_allows(attr, caller, want) {
            Ok(())
        } else {
            Err(OpError::Access)
        }
    }

    /// A directory the caller may search.
    async fn searchable_dir(&self, caller: &Caller, dir: InodeId) -> OpResult<Attr> {
        let d = self.getattr(dir).await?;
        if d.kind != FileKind::Directory {
            return Err(StoreError::NotDir.into());
        }
        Self::require(&d, caller, 1)?;
        Ok(d)
    }

    /// A directory the caller may add to or remove from.
    async fn writable_dir(&self, caller: &Caller, dir: InodeId) -> OpResult<Attr> {
        self.check_writable()?;
        let d = self.searchable_dir(caller, dir).await?;
        Self::require(&d, caller, 2)?;
        Ok(d)
    }

    /// Sticky directories: only the owner of the entry or of the directory, or root, may
    /// remove or rename it.
    fn sticky_allows(dir: &Attr, victim: &Attr, caller: &Caller) -> bool {
        dir.mode & 0o1000 == 0
            || caller.is_root()
            || caller.uid == dir.uid
            || caller.uid == victim.uid
    }

    /// Looks up `name` in `dir`. "." and ".." resolve to the directory and its parent.
    pub async fn lookup(
        &self,
        caller: &Caller,
        dir: InodeId,
        name: &[u8],
    ) -> OpResult<(Attr, Attr)> {
        let d = self.searchable_dir(caller, dir).await?;
        let a = match name {
            b"." => d.clone(),
            b".." => {
                let p = if dir == self.inner.root.ino {
                    dir
                } else {
                    self.inner.meta.parent(dir).await?
                };
                self.getattr(p).await?
            }
            _ => {
                let epoch = self.inner.cache.flush_epoch();
                let a = self.inner.meta.lookup(dir, name).await?;
                self.settle(a, epoch).await?
            }
        };
        Ok((a, d))
    }

    /// ACCESS: which of `want` the caller has on `ino`.
    pub async fn access(&self, caller: &Caller, ino: InodeId, want: u32) -> OpResult<(Attr, u32)> {
        let a = self.getattr(ino).await?;
        let ro = self.inner.policy.read_only;
        let owner = caller.uid == a.uid;
        let mut granted = 0;
        let r = Self::mode_allows(&a, caller, 4);
        let w = !ro && Self::mode_allows(&a, caller, 2);
        let x = Self::mode_allows(&a, caller, 1);
        if a.kind == FileKind::Directory {
            if r {
                granted |= access::READ;
            }
            if x {
                granted |= access::LOOKUP;
            }
            if w && x {
                granted |= access::MODIFY | access::EXTEND | access::DELETE;
            }
        } else {
            if r || (owner && a.kind == FileKind::Regular) {
                granted |= access::READ;
            }
            if w {
                granted |= access::MODIFY | access::EXTEND;
            }
            if x {
                granted |= access::EXECUTE;
            }
        }
        Ok((a, granted & want))
    }

    /// SETATTR with an optional ctime guard.
    pub async fn setattr(
        &self,
        caller: &Caller,
        ino: InodeId,
        change: AttrChange,
        guard: Option<Timestamp>,
    ) -> OpResult<(Option<Attr>, Attr)> {
        let before = self.getattr(ino).await?;
        if let Some(g) = guard
            && g != before.ctime
        {
            return Err(OpError::NotSync);
        }
        if change.is_empty() {
            return Ok((Some(before.clone()), before));
        }
        self.check_writable()?;
        let owner = caller.is_root() || caller.uid == before.uid;
        let mut set = SetAttr::default();
        let mut mode = change.mode.map(|m| m & 0o7777);
        if let Some(m) = mode.as_mut() {
            if !owner {
                return Err(OpError::Perm);
            }
            // A non-root owner who is not in the file's group cannot set setgid (chmod(2)).
            if !caller.is_root() && !caller.in_group(change.gid.unwrap_or(before.gid)) {
                *m &= !0o2000;
            }
            if !caller.is_root() && before.kind != FileKind::Directory {
                // Only root may set the sticky bit on files (as Linux does on its own files).
                *m &= !0o1000;
            }
        }
        if let Some(uid) = change.uid
            && uid != before.uid
            && !caller.is_root()
        {
            return Err(OpError::Perm);
        }
        if let Some(gid) = change.gid
            && gid != before.gid
            && !(caller.is_root() || (caller.uid == before.uid && caller.in_group(gid)))
        {
            return Err(OpError::Perm);
        }
        let chown = change.uid.is_some_and(|u| u != before.uid)
            || change.gid.is_some_and(|g| g != before.gid);
        let chown_any = change.uid.is_some() || change.gid.is_some();
        if chown_any
            && mode.is_none()
            && before.kind != FileKind::Directory
            && (chown || !caller.is_root())
        {
            // chown clears setuid and setgid on files (setgid only if group-executable).
            let mut m = before.mode & !0o4000;
            if m & 0o010 != 0 {
                m &= !0o2000;
            }
            if m != before.mode {
                mode = Some(m);
            }
        }
        set.mode = mode;
        set.uid = change.uid;
        set.gid = change.gid;
        let now = self.now();
        for (which, t) in [(0, change.atime), (1, change.mtime)] {
            let v = match t {
                TimeSet::Keep => continue,
                TimeSet::ServerNow => {
                    if !owner && !Self::mode_allows(&before, caller, 2) {
                        return Err(OpError::Access);
                    }
                    now
                }
                TimeSet::Client(t) => {
                    if !owner {
                        return Err(OpError::Perm);
                    }
                    t
                }
            };
            if which == 0 {
                set.atime = Some(v)
            } else {
                set.mtime = Some(v)
            }
        }
        if let Some(size) = change.size {
            match before.kind {
                FileKind::Regular => {}
                FileKind::Directory => return Err(StoreError::IsDir.into()),
                _ => return Err(OpError::Invalid("size of a non-regular file")),
            }
            if size > FILE_SIZE_MAX {
                return Err(OpError::TooBig);
            }
            if caller.uid != before.uid && !Self::mode_allows(&before, caller, 2) {
                return Err(OpError::Access);
            }
            // Flush first so no older cached extent lands beyond the new end later; the
            // flush also leaves the recorded size equal to the bytes in the content store.
            self.inner.cache.flush(ino).await?;
            self.inner.cache.truncate(ino, size);
            let recorded = self.inner.meta.getattr(ino).await?.size;
            set.size = Some(size);
            if size != before.size && set.mtime.is_none() {
                set.mtime = Some(now);
            }
            if size < recorded {
                // Shrinking: the smaller size must be durable before the bytes go, or a crash
                // in between leaves a size that reaches past the content (reads then fail for
                // ever). A crash after the sync leaves a stale tail beyond the size instead,
                // which every extension cuts first (below and in the write-back flush).
                let after = self
                    .inner
                    .meta
                    .setattr(ino, set, now)
                    .await
                    .map_err(OpError::from_store)?;
                self.inner.meta.sync().await?;
                self.set_content_len(ino, size, size).await?;
                return Ok((Some(before), self.overlay(after)));
            }
            // Growing: cut any stale tail, then add the hole, durably, before the size says so.
            self.set_content_len(ino, recorded, size).await?;
        }
        let after = self
            .inner
            .meta
            .setattr(ino, set, now)
            .await
            .map_err(OpError::from_store)?;
        Ok((Some(before), self.overlay(after)))
    }

    /// Cuts the content to `keep` bytes, then sets its length to `len` (zeros after `keep`),
    /// and syncs it.
    async fn set_content_len(&self, ino: InodeId, keep: u64, len: u64) -> OpResult<()> {
        let key = ContentKey {
            store: self.inner.meta.id(),
            ino,
        };
        if keep < len && self.inner.content.len(key).await? > keep {
            self.inner.content.truncate(key, keep).await?;
        }
        self.inner.content.truncate(key, len).await?;
        self.inner.content.sync(key).await?;
        Ok(())
    }

    /// READLINK.
    pub async fn readlink(&self, caller: &Caller, ino: InodeId) -> OpResult<(Attr, Vec<u8>)> {
        let a = self.getattr(ino).await?;
        if a.kind != FileKind::Symlink {
            return Err(OpError::Invalid("not a symlink"));
        }
        let _ = caller;
        let t = self.inner.meta.readlink(ino).await?;
        Ok((a, t))
    }

    /// READ: up to `count` bytes at `offset`; returns the attributes, the data and EOF.
    pub async fn read(
        &self,
        caller: &Caller,
        ino: InodeId,
        offset: u64,
        count: u32,
    ) -> OpResult<(Attr, Bytes, bool)> {
        let a = self.getattr(ino).await?;
        match a.kind {
            FileKind::Regular => {}
            FileKind::Directory => return Err(StoreError::IsDir.into()),
            _ => return Err(OpError::Invalid("read of a special file")),
        }
        if caller.uid != a.uid && !Self::mode_allows(&a, caller, 4) {
            return Err(OpError::Access);
        }
        let data = self.inner.cache.read(ino, offset, count, a.size).await?;
        let eof = offset.saturating_add(data.len() as u64) >= a.size;
        Ok((a, data, eof))
    }

    /// WRITE.
    pub async fn write(
        &self,
        caller: &Caller,
        ino: InodeId,
        offset: u64,
        data: Bytes,
        stable: Stability,
    ) -> OpResult<Written> {
        self.check_writable()?;
        let before = self.getattr(ino).await?;
        match before.kind {
            FileKind::Regular => {}
            FileKind::Directory => return Err(StoreError::IsDir.into()),
            _ => return Err(OpError::Invalid("write to a special file")),
        }
        if caller.uid != before.uid && !Self::mode_allows(&before, caller, 2) {
            return Err(OpError::Access);
        }
        let end = offset
            .checked_add(data.len() as u64)
            .ok_or(OpError::TooBig)?;
        if end > FILE_SIZE_MAX {
            return Err(OpError::TooBig);
        }
        // A write by anyone but root clears setuid and setgid (write(2) on Linux).
        if before.mode & 0o6000 != 0 && !caller.is_root() {
            let m = before.mode & !0o6000;
            self.inner
                .meta
                .setattr(
                    ino,
                    SetAttr {
                        mode: Some(m),
                        ..SetAttr::default()
                    },
                    self.now(),
                )
                .await
                .map_err(OpError::from_store)?;
        }
        // The verifier under which the bytes entered the cache is the one to answer: a flush
        // that drops them changes the verifier after that (simulator, buggify seeds 0x3f, 0x1e).
        let accepted = self
            .inner
            .cache
            .write(ino, offset, data, self.now())
            .await?;
        if crate::buggify!("write-reply-delayed") {
            // buggify: the WRITE is held between entering the cache and its reply (a
            // descheduled task), long enough for a flush worker to flush, and perhaps drop,
            // its bytes meanwhile.
            tokio::time::sleep(std::time::Duration::from_millis(3500)).await;
        }
        if stable != Stability::Unstable {
            self.inner.cache.flush(ino).await?;
            // A flush since the bytes were accepted may have dropped them (the verifier
            // changed): a stable reply must not call them durable; the client sends them again.
            if self.inner.cache.verifier() != accepted.verifier {
                return Err(StoreError::Io(std::io::Error::other(
                    "unflushed bytes were dropped before this stable write was made durable",
                ))
                .into());
            }
        }
        let after = self.getattr(ino).await?;
        Ok(Written {
            before: Some(before),
            after,
            stability: stable,
            verifier: accepted.verifier,
        })
    }

    /// COMMIT: makes every write to `ino` durable.
    pub async fn commit(&self, ino: InodeId) -> OpResult<(Option<Attr>, Attr, [u8; 8])> {
        let before = self.getattr(ino).await?;
        if before.kind == FileKind::Directory {
            // Linux sends COMMIT only for files; for a directory, make every namespace change
            // so far durable.
            self.inner.meta.sync().await?;
            return Ok((Some(before.clone()), before, self.inner.cache.verifier()));
        }
        if crate::buggify!("commit-delayed") {
            // buggify: a COMMIT that takes long (a slow disk): the client's timer may fire and
            // it retransmits while the first one still runs.
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        }
        let result = self.inner.cache.flush(ino).await;
        let verifier = self.inner.cache.verifier();
        result?;
        let after = self.getattr(ino).await?;
        Ok((Some(before), after, verifier))
    }

    fn new_node(&self, caller: &Caller, dir: &Attr, spec: &CreateSpec) -> NewNode {
        let mut mode = spec.attrs.mode.unwrap_or(match spec.kind {
            FileKind::Directory => 0o755,
            _ => 0o644,
        }) & 0o7777;
        // setgid directories: the group comes from the directory, and subdirectories inherit
        // the setgid bit.
        let gid = if dir.mode & 0o2000 != 0 {
            if spec.kind == FileKind::Directory {
                mode |= 0o2000;
            }
            dir.gid
        } else {
            caller.gid
        };
        if spec.kind != FileKind::Directory && !caller.is_root() && !caller.in_group(gid) {
            mode &= !0o2000;
        }
        NewNode {
            kind: spec.kind,
            mode,
            uid: caller.uid,
            gid,
            rdev: spec.rdev,
            symlink_target: spec.target.clone(),
            now: self.now(),
        }
    }

    /// Creates a node in `dir`. With `exclusive = Some(verf)`, the verifier is stored in the
    /// times, and a retransmitted create with the same verifier succeeds (RFC 1813 §3.3.8).
    /// With `guarded`, an existing name is `Exists`; without, CREATE of an existing regular file
    /// applies the size (truncate) and returns it.
    pub async fn create(
        &self,
        caller: &Caller,
        dir: InodeId,
        name: &[u8],
        spec: CreateSpec,
        guarded: bool,
        exclusive: Option<[u8; 8]>,
    ) -> OpResult<(Attr, DirChange)> {
        stores::check_name(name)?;
        let d = self.writable_dir(caller, dir).await?;
        let node = self.new_node(caller, &d, &spec);
        if let Some(v) = exclusive {
            let (hi, lo) = verf_times(v);
            let created = self.inner.meta.create(dir, name, node).await;
            return match created {
                Ok(mut a) => {
                    // atime and mtime carry the verifier until the client's SETATTR.
                    a = self
                        .inner
                        .meta
                        .setattr(
                            a.ino,
                            SetAttr {
                                atime: Some(Timestamp { secs: hi, nanos: 0 }),
                                mtime: Some(Timestamp { secs: lo, nanos: 0 }),
                                ..SetAttr::default()
                            },
                            self.now(),
                        )
                        .await?;
                    let after = self.getattr_opt(dir).await;
                    Ok((
                        a,
                        DirChange {
                            before: Some(d),
                            after,
                        },
                    ))
                }
                Err(StoreError::Exists) => {
                    let a = self.inner.meta.lookup(dir, name).await?;
                    if a.kind == FileKind::Regular && a.atime.secs == hi && a.mtime.secs == lo {
                        Ok((
                            self.overlay(a),
                            DirChange {
                                before: Some(d.clone()),
                                after: Some(d),
                            },
                        ))
                    } else {
                        Err(StoreError::Exists.into())
                    }
                }
                Err(e) => Err(e.into()),
            };
        }
        match self.inner.meta.create(dir, name, node).await {
            Ok(a) => {
                let mut a = a;
                let rest = AttrChange {
                    mode: None,
                    uid: None,
                    gid: None,
                    ..spec.attrs.clone()
                };
                if spec.kind == FileKind::Regular
                    && (rest.size.is_some_and(|s| s != 0)
                        || rest.atime != TimeSet::Keep
                        || rest.mtime != TimeSet::Keep)
                {
                    a = self.setattr(caller, a.ino, rest, None).await?.1;
                }
                let after = self.getattr_opt(dir).await;
                Ok((
                    a,
                    DirChange {
                        before: Some(d),
                        after,
                    },
                ))
            }
            Err(StoreError::Exists) if !guarded && spec.kind == FileKind::Regular => {
                let existing = self.overlay(self.inner.meta.lookup(dir, name).await?);
                if existing.kind != FileKind::Regular {
                    return Err(StoreError::Exists.into());
                }
                let a = match spec.attrs.size {
                    Some(size) => {
                        let change = AttrChange {
                            size: Some(size),
                            ..AttrChange::default()
                        };
                        self.setattr(caller, existing.ino, change, None).await?.1
                    }
                    None => existing,
                };
                Ok((
                    a,
                    DirChange {
                        before: Some(d.clone()),
                        after: Some(d),
                    },
                ))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Adds a hard link `dir/name` to `ino`.
    pub async fn link(
        &self,
        caller: &Caller,
        ino: InodeId,
        dir: InodeId,
        name: &[u8],
    ) -> OpResult<(Attr, DirChange)> {
        stores::check_name(name)?;
        let d = self.writable_dir(caller, dir).await?;
        let a = self.inner.meta.link(ino, dir, name, self.now()).await?;
        let after = self.getattr_opt(dir).await;
        Ok((
            self.overlay(a),
            DirChange {
                before: Some(d),
                after,
            },
        ))
    }

    async fn removed(&self, r: &Removed) -> OpResult<()> {
        if r.freed && r.attr.kind == FileKind::Regular {
            self.inner.cache.forget(r.attr.ino);
            let key = ContentKey {
                store: self.inner.meta.id(),
                ino: r.attr.ino,
            };
            // The bytes go only after the removal is durable: see `reap`.
            if let Err(mpsc::error::TrySendError::Full(key)) = self.inner.reaper.try_send(key) {
                match self.inner.meta.sync().await {
                    Ok(()) => remove_content(&*self.inner.content, key).await,
                    Err(e) => {
                        tracing::warn!(ino = key.ino.0, error = %e, "metadata sync failed; leaving the content of a freed file in place");
                    }
                }
            }
        }
        Ok(())
    }

    /// Removes a non-directory (`dir_only = false`) or an empty directory (`dir_only = true`).
    pub async fn remove(
        &self,
        caller: &Caller,
        dir: InodeId,
        name: &[u8],
        dir_only: bool,
    ) -> OpResult<DirChange> {
        if name == b"." || name == b".." {
            return Err(if dir_only {
                OpError::Invalid("cannot remove . or ..")
            } else {
                StoreError::IsDir.into()
            });
        }
        stores::check_name(name)?;
        let d = self.writable_dir(caller, dir).await?;
        if d.mode & 0o1000 != 0 {
            let victim = self.inner.meta.lookup(dir, name).await?;
            if !Self::sticky_allows(&d, &victim, caller) {
                return Err(OpError::Access);
            }
        }
        let now = self.now();
        let r = if dir_only {
            self.inner.meta.rmdir(dir, name, now).await?
        } else {
            self.inner.meta.unlink(dir, name, now).await?
        };
        self.removed(&r).await?;
        let after = self.getattr_opt(dir).await;
        Ok(DirChange {
            before: Some(d),
            after,
        })
    }

    /// Renames `from_dir/from` to `to_dir/to`, replacing a compatible target atomically.
    pub async fn rename(
        &self,
        caller: &Caller,
        from_dir: InodeId,
        from: &[u8],
        to_dir: InodeId,
        to: &[u8],
    ) -> OpResult<(DirChange, DirChange)> {
        for n in [from, to] {
            if n == b"." || n == b".." {
                return Err(OpError::Invalid("cannot rename . or .."));
            }
            stores::check_name(n)?;
        }
        let fd = self.writable_dir(caller, from_dir).await?;
        let td = if to_dir == from_dir {
            fd.clone()
        } else {
            self.writable_dir(caller, to_dir).await?
        };
        let src = self.inner.meta.lookup(from_dir, from).await?;
        if !Self::sticky_allows(&fd, &src, caller) {
            return Err(OpError::Access);
        }
        if td.mode & 0o1000 != 0
            && let Ok(victim) = self.inner.meta.lookup(to_dir, to).await
            && !Self::sticky_allows(&td, &victim, caller)
        {
            return Err(OpError::Access);
        }
        // Moving a directory to a new parent rewrites its "..": that needs write permission on
        // the directory itself (as Linux requires).
        if src.kind == FileKind::Directory && from_dir != to_dir {
            Self::require(&src, caller, 2)?;
        }
        let r: Renamed = self
            .inner
            .meta
            .rename(from_dir, from, to_dir, to, self.now())
            .await?;
        if let Some(rep) = &r.replaced {
            self.removed(rep).await?;
        }
        let fa = self.getattr_opt(from_dir).await;
        let ta = if to_dir == from_dir {
            fa.clone()
        } else {
            self.getattr_opt(to_dir).await
        };
        Ok((
            DirChange {
                before: Some(fd),
                after: fa,
            },
            DirChange {
                before: Some(td),
                after: ta,
            },
        ))
    }

    /// READDIR: entries after `cookie`, at most `max_entries`.
    pub async fn readdir(
        &self,
        caller: &Caller,
        dir: InodeId,
        cookie: Cookie,
        max_entries: usize,
    ) -> OpResult<(Attr, DirPage)> {
        let d = self.getattr(dir).await?;
        if d.kind != FileKind::Directory {
            return Err(StoreError::NotDir.into());
        }
        Self::require(&d, caller, 4)?;
        let epoch = self.inner.cache.flush_epoch();
        let mut page = self.inner.meta.readdir(dir, cookie, max_entries).await?;
        for e in &mut page.entries {
            e.attr = self.settle(e.attr.clone(), epoch).await?;
        }
        Ok((d, page))
    }

    /// The parent of a directory within this share (the root is its own parent).
    pub async fn parent(&self, dir: InodeId) -> OpResult<Attr> {
        if dir == self.inner.root.ino {
            return self.getattr(dir).await;
        }
        let p = self.inner.meta.parent(dir).await?;
        self.getattr(p).await
    }

    /// Capacity figures: bytes from the content store, files from the metadata store.
    pub async fn usage(&self) -> OpResult<Usage> {
        let m = self.inner.meta.usage().await?;
        let c = self.inner.content.usage().await?;
        Ok(Usage {
            bytes_total: c.bytes_total,
            bytes_free: c.bytes_free,
            files_total: m.files_total,
            files_free: m.files_free,
        })
    }
}

/// Splits an exclusive-create verifier into the two 32-bit time fields that carry it.
fn verf_times(v: [u8; 8]) -> (i64, i64) {
    (
        i64::from(u32::from_be_bytes([v[0], v[1], v[2], v[3]])),
        i64::from(u32::from_be_bytes([v[4], v[5], v[6], v[7]])),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(mode: u32, uid: u32, gid: u32, kind: FileKind) -> Attr {
        let t = Timestamp::default();
        Attr {
            ino: InodeId(5),
            generation: stores::Generation(1),
            kind,
            mode,
            nlink: 1,
            uid,
            gid,
            size: 0,
            rdev: Device::default(),
            atime: t,
            mtime: t,
            ctime: t,
            btime: t,
            change: 0,
        }
    }

    /// Goal: owner/group/other selection, supplementary groups and root's execute rule.
    #[test]
    fn mode_bits() {
        type S = Share<stores::memory::MemoryMetadata, stores::memory::MemoryContent>;
        let a = attr(0o640, 10, 20, FileKind::Regular);
        let owner = Caller {
            uid: 10,
            gid: 99,
            gids: vec![],
        };
        let member = Caller {
            uid: 11,
            gid: 99,
            gids: vec![20],
        };
        let other = Caller {
            uid: 12,
            gid: 99,
            gids: vec![],
        };
        let root = Caller {
            uid: 0,
            gid: 0,
            gids: vec![],
        };
        assert!(S::mode_allows(&a, &owner, 6));
        assert!(S::mode_allows(&a, &member, 4) && !S::mode_allows(&a, &member, 2));
        assert!(!S::mode_allows(&a, &other, 4));
        assert!(S::mode_allows(&a, &root, 6) && !S::mode_allows(&a, &root, 1));
        assert!(S::mode_allows(
            &attr(0o700, 1, 1, FileKind::Directory),
            &root,
            1
        ));
    }

    /// Goal: the bytes of a removed file are deleted only after the removal is durable, so a
    /// machine crash at any moment leaves either the file with its bytes or no file, never a
    /// name whose content is gone. Method: memory stores (removal of content is durable at
    /// once, the weakest case); write + COMMIT a file, remove it, crash both stores before the
    /// reaper runs: the file and its bytes are back. Remove again, let the reaper run, crash:
    /// the file is gone for good and its content with it.
    #[tokio::test(flavor = "current_thread")]
    async fn removed_content_outlives_an_unsynced_unlink() {
        use std::sync::Arc;

        use stores::memory::{MemoryContent, MemoryMetadata};

        use crate::runtime::{Env, RealClock};
        use crate::server::writeback::{DirtyBudget, WriteBackConfig, WriteVerifier};

        let meta = Arc::new(MemoryMetadata::default());
        let content = Arc::new(MemoryContent::default());
        let env = Env::new(Arc::new(RealClock), 7);
        let open = || async {
            let cache = WriteBack::new(
                env.clone(),
                meta.clone(),
                content.clone(),
                DirtyBudget::new(1 << 20),
                Arc::new(WriteVerifier::new(1)),
                WriteBackConfig::default(),
            );
            Share::open(
                env.clone(),
                "/export",
                ShareId(1),
                meta.clone(),
                cache,
                SharePolicy {
                    read_only: false,
                    squash: Squash::None,
                    anon_uid: 65534,
                    anon_gid: 65534,
                },
                RootAttrs {
                    mode: 0o777,
                    uid: 0,
                    gid: 0,
                },
            )
            .await
            .expect("open share")
        };
        let root = Caller {
            uid: 0,
            gid: 0,
            gids: vec![],
        };
        let share = open().await;
        let dir = share.root().ino;
        let spec = CreateSpec {
            kind: FileKind::Regular,
            attrs: AttrChange {
                mode: Some(0o644),
                ..AttrChange::default()
            },
            rdev: Device::default(),
            target: Vec::new(),
        };
        let (f, _) = share
            .create(&root, dir, b"f", spec, false, None)
            .await
            .expect("create");
        share
            .write(
                &root,
                f.ino,
                0,
                Bytes::from_static(b"committed"),
                Stability::Unstable,
            )
            .await
            .expect("write");
        share.commit(f.ino).await.expect("commit");

        share.remove(&root, dir, b"f", false).await.expect("remove");
        // Crash before the reaper had a chance to run (current-thread runtime, no yield).
        meta.crash();
        content.crash();
        drop(share);
        let share = open().await;
        let (back, _) = share
            .lookup(&root, dir, b"f")
            .await
            .expect("the unsynced removal is undone");
        let (_, bytes, _) = share.read(&root, back.ino, 0, 100).await.expect("read");
        assert_eq!(
            &bytes[..],
            b"committed",
            "the file came back without its bytes"
        );

        share
            .remove(&root, dir, b"f", false)
            .await
            .expect("remove again");
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        meta.crash();
        content.crash();
        drop(share);
        let share = open().await;
        assert!(
            share.lookup(&root, dir, b"f").await.is_err(),
            "the reaper synced the removal before deleting the bytes"
        );
        assert_eq!(content.used_bytes(), 0, "the reaper deleted the bytes");
    }

    /// Goal: squash rules map ids as documented.
    #[test]
    fn squash() {
        let p = SharePolicy {
            read_only: false,
            squash: Squash::Root,
            anon_uid: 65534,
            anon_gid: 65534,
        };
        assert_eq!(p.map_caller(0, 0, &[0, 5]).uid, 65534);
        let c = p.map_caller(7, 0, &[0, 5]);
        assert_eq!((c.uid, c.gid, c.gids), (7, 65534, vec![65534, 5]));
        let all = SharePolicy {
            squash: Squash::All,
            ..p
        };
        assert_eq!(all.map_caller(7, 7, &[]).uid, 65534);
    }
}
