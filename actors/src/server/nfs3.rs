//! The NFSv3 front end (RFC 1813): decodes each procedure's arguments, resolves handles, runs
//! the [`Share`] operation and encodes the result, including wcc data. Errors are mapped once,
//! here, by [`status`] and [`op_status`].

use bytes::Bytes;
use protocol::nfs3::*;
use protocol::wire::{DecodeError, Encode, decode_exact, limits};
use protocol::xdr::{Reader, Writer};
use stores::{
    Attr, ContentStore, Cookie, Device, FileKind, InodeId, MetadataStore, StoreError, Timestamp,
};

use super::handle::{HANDLE_LEN, HandleCodec, HandleError, HandleTarget};
use super::share::{AttrChange, Caller, CreateSpec, DirChange, OpError, Share, Stability, TimeSet};

/// Maps a store error to an NFSv3 status (STYLE §7 table). Exhaustive on purpose.
pub fn status(e: &StoreError) -> NfsStat3 {
    match e {
        StoreError::NotFound => NfsStat3::NOENT,
        StoreError::Exists => NfsStat3::EXIST,
        StoreError::NotEmpty => NfsStat3::NOTEMPTY,
        StoreError::NotDir => NfsStat3::NOTDIR,
        StoreError::IsDir => NfsStat3::ISDIR,
        StoreError::Stale => NfsStat3::STALE,
        StoreError::NameTooLong => NfsStat3::NAMETOOLONG,
        StoreError::NoSpace => NfsStat3::NOSPC,
        StoreError::ReadOnly => NfsStat3::ROFS,
        StoreError::FileTooLarge => NfsStat3::FBIG,
        StoreError::Invalid(_) => NfsStat3::INVAL,
        StoreError::Busy => NfsStat3::JUKEBOX,
        StoreError::Io(_) | StoreError::Backend(_) => NfsStat3::IO,
    }
}

/// Maps a share error to an NFSv3 status.
pub fn op_status(e: &OpError) -> NfsStat3 {
    match e {
        OpError::Store(s) => status(s),
        OpError::Access => NfsStat3::ACCES,
        OpError::Perm => NfsStat3::PERM,
        OpError::ReadOnly => NfsStat3::ROFS,
        OpError::NotSync => NfsStat3::NOT_SYNC,
        OpError::Invalid(_) => NfsStat3::INVAL,
        OpError::TooBig => NfsStat3::FBIG,
    }
}

impl From<HandleError> for NfsStat3 {
    fn from(e: HandleError) -> Self {
        match e {
            HandleError::Malformed => Self::BADHANDLE,
            HandleError::Forged => Self::STALE,
        }
    }
}

/// Why a procedure failed: a status plus whatever attributes we could still report.
struct Fail(NfsStat3);

impl From<OpError> for Fail {
    fn from(e: OpError) -> Self {
        if matches!(
            &e,
            OpError::Store(StoreError::Io(_) | StoreError::Backend(_))
        ) {
            tracing::error!(error = %e, "store failure");
        }
        Self(op_status(&e))
    }
}

impl From<StoreError> for Fail {
    fn from(e: StoreError) -> Self {
        OpError::Store(e).into()
    }
}

impl From<HandleError> for Fail {
    fn from(e: HandleError) -> Self {
        Self(e.into())
    }
}

fn nfstime(t: Timestamp) -> Nfstime3 {
    // NFSv3 times are unsigned 32-bit seconds: clamp what does not fit.
    let seconds = u32::try_from(t.secs.max(0)).unwrap_or(u32::MAX);
    Nfstime3 {
        seconds,
        nseconds: t.nanos,
    }
}

fn timestamp(t: Nfstime3) -> Timestamp {
    Timestamp {
        secs: i64::from(t.seconds),
        nanos: t.nseconds.min(999_999_999),
    }
}

fn ftype(k: FileKind) -> Ftype3 {
    match k {
        FileKind::Regular => Ftype3::Reg,
        FileKind::Directory => Ftype3::Dir,
        FileKind::Symlink => Ftype3::Lnk,
        FileKind::BlockDevice => Ftype3::Blk,
        FileKind::CharDevice => Ftype3::Chr,
        FileKind::Socket => Ftype3::Sock,
        FileKind::Fifo => Ftype3::Fifo,
    }
}

/// The NFS attributes of an inode in share `fsid`.
pub fn fattr(a: &Attr, fsid: u64) -> Fattr3 {
    Fattr3 {
        ftype: ftype(a.kind),
        mode: a.mode & 0o7777,
        nlink: a.nlink,
        uid: a.uid,
        gid: a.gid,
        size: a.size,
        // Space used: whole 4 KiB blocks (sparse files may use less; we do not track it).
        used: a.size.div_ceil(4096) * 4096,
        rdev: SpecData3 {
            specdata1: a.rdev.major,
            specdata2: a.rdev.minor,
        },
        fsid,
        fileid: a.ino.0,
        atime: nfstime(a.atime),
        mtime: nfstime(a.mtime),
        ctime: nfstime(a.ctime),
    }
}

fn wcc_attr(a: &Attr) -> WccAttr {
    WccAttr {
        size: a.size,
        mtime: nfstime(a.mtime),
        ctime: nfstime(a.ctime),
    }
}

struct Ctx<'s, M, C> {
    share: &'s Share<M, C>,
    codec: &'s HandleCodec,
    caller: &'s Caller,
}

impl<M: MetadataStore, C: ContentStore> Ctx<'_, M, C> {
    fn fsid(&self) -> u64 {
        u64::from(self.share.id().0)
    }

    fn post(&self, a: Option<&Attr>) -> PostOpAttr {
        PostOpAttr(a.map(|a| fattr(a, self.fsid())))
    }

    fn wcc(&self, c: &DirChange) -> WccData {
        WccData {
            before: PreOpAttr(c.before.as_ref().map(wcc_attr)),
            after: self.post(c.after.as_ref()),
        }
    }

    fn handle_of(&self, a: &Attr) -> NfsFh3Buf {
        let h = self.codec.encode(HandleTarget {
            share: self.share.id(),
            ino: a.ino,
            generation: a.generation,
        });
        NfsFh3Buf::new(&h).expect("our handles fit in NFS3_FHSIZE")
    }

    /// Resolves a handle to a live inode of this share.
    async fn resolve(&self, fh: NfsFh3<'_>) -> Result<Attr, Fail> {
        let t = self.codec.decode(fh.as_bytes())?;
        if t.share != self.share.id() {
            return Err(Fail(NfsStat3::STALE));
        }
        let a = self.share.getattr(t.ino).await.map_err(|e| match e {
            OpError::Store(StoreError::NotFound) => Fail(NfsStat3::STALE),
            e => e.into(),
        })?;
        if a.generation != t.generation {
            return Err(Fail(NfsStat3::STALE));
        }
        Ok(a)
    }

    async fn attr_opt(&self, ino: InodeId) -> PostOpAttr {
        self.post(self.share.getattr(ino).await.ok().as_ref())
    }
}

fn attr_change(s: &Sattr3) -> AttrChange {
    let t = |t: SetTime| match t {
        SetTime::DontChange => TimeSet::Keep,
        SetTime::SetToServerTime => TimeSet::ServerNow,
        SetTime::SetToClientTime(t) => TimeSet::Client(timestamp(t)),
    };
    AttrChange {
        mode: s.mode,
        uid: s.uid,
        gid: s.gid,
        size: s.size,
        atime: t(s.atime),
        mtime: t(s.mtime),
    }
}

/// The reply body for a procedure that failed with `stat` before anything was known (a bad
/// handle, an unknown share, a server bug): the status and empty attribute fields.
pub fn error_reply(proc_: u32, stat: NfsStat3) -> Vec<u8> {
    macro_rules! fail {
        ($f:ty) => {{
            let mut w = Writer::new();
            stat.encode(&mut w);
            <$f>::default().encode(&mut w);
            w.into_inner()
        }};
    }
    match Nfs3Proc::from_u32(proc_) {
        Some(Nfs3Proc::Null) | None => Vec::new(),
        Some(Nfs3Proc::Getattr) => fail!(Getattr3ResFail),
        Some(Nfs3Proc::Setattr) => fail!(Setattr3ResFail),
        Some(Nfs3Proc::Lookup) => fail!(Lookup3ResFail),
        Some(Nfs3Proc::Access) => fail!(Access3ResFail),
        Some(Nfs3Proc::Readlink) => fail!(Readlink3ResFail),
        Some(Nfs3Proc::Read) => fail!(Read3ResFail),
        Some(Nfs3Proc::Write) => fail!(Write3ResFail),
        Some(Nfs3Proc::Create) => fail!(Create3ResFail),
        Some(Nfs3Proc::Mkdir) => fail!(Mkdir3ResFail),
        Some(Nfs3Proc::Symlink) => fail!(Symlink3ResFail),
        Some(Nfs3Proc::Mknod) => fail!(Mknod3ResFail),
        Some(Nfs3Proc::Remove) => fail!(Remove3ResFail),
        Some(Nfs3Proc::Rmdir) => fail!(Rmdir3ResFail),
        Some(Nfs3Proc::Rename) => fail!(Rename3ResFail),
        Some(Nfs3Proc::Link) => fail!(Link3ResFail),
        Some(Nfs3Proc::Readdir) => fail!(Readdir3ResFail),
        Some(Nfs3Proc::Readdirplus) => fail!(Readdirplus3ResFail),
        Some(Nfs3Proc::Fsstat) => fail!(Fsstat3ResFail),
        Some(Nfs3Proc::Fsinfo) => fail!(Fsinfo3ResFail),
        Some(Nfs3Proc::Pathconf) => fail!(Pathconf3ResFail),
        Some(Nfs3Proc::Commit) => fail!(Commit3ResFail),
    }
}

/// NFS3ERR_SERVERFAULT for `proc_`: what a request gets when the server itself failed.
pub fn server_fault(proc_: u32) -> Vec<u8> {
    error_reply(proc_, NfsStat3::SERVERFAULT)
}

/// The first file handle in a procedure's arguments (every procedure but NULL starts with
/// one): used to route the call to its share before decoding the rest.
pub fn first_handle(args: &[u8]) -> Result<&[u8], DecodeError> {
    Reader::new(args).opaque(limits::FHSIZE3, "nfs_fh3")
}

/// Whether a procedure changes state and so must go through the duplicate request cache.
pub fn is_non_idempotent(proc_: u32) -> bool {
    matches!(
        Nfs3Proc::from_u32(proc_),
        Some(
            Nfs3Proc::Setattr
                | Nfs3Proc::Write
                | Nfs3Proc::Create
                | Nfs3Proc::Mkdir
                | Nfs3Proc::Symlink
                | Nfs3Proc::Mknod
                | Nfs3Proc::Remove
                | Nfs3Proc::Rmdir
                | Nfs3Proc::Rename
                | Nfs3Proc::Link
        )
    )
}

/// Largest READ we answer and largest WRITE we take (FSINFO rtmax/wtmax).
pub const IO_SIZE: u32 = limits::IO_SIZE_MAX as u32;

/// Bytes every reply body from [`handle`] starts with, left zero for the caller to fill with
/// the ONC RPC accepted-SUCCESS header (xid, REPLY, MSG_ACCEPTED, AUTH_NONE verifier,
/// SUCCESS: six words). Encoding the result behind them saves copying a 1 MiB READ into a
/// second buffer.
pub const REPLY_HEAD: usize = 24;

/// A result buffer with [`REPLY_HEAD`] bytes reserved and room for `len` more.
fn body_writer(len: usize) -> Writer {
    let mut w = Writer::with_capacity(REPLY_HEAD + len);
    w.raw(&[0; REPLY_HEAD]);
    w
}

/// Runs one NFSv3 procedure (not NULL) against `share`. Returns the encoded result body behind
/// [`REPLY_HEAD`] reserved bytes, or `None` when the arguments do not decode (the caller
/// answers GARBAGE_ARGS).
pub async fn handle<M: MetadataStore, C: ContentStore>(
    share: &Share<M, C>,
    codec: &HandleCodec,
    caller: &Caller,
    proc_: u32,
    args: &Bytes,
) -> Option<Vec<u8>> {
    let cx = Ctx {
        share,
        codec,
        caller,
    };
    let Some(p) = Nfs3Proc::from_u32(proc_) else {
        return Some(body_writer(0).into_inner());
    };
    macro_rules! run {
        ($args:ty, $f:ident, $fail:ty) => {{
            let a: $args = match decode_exact(args, stringify!($args)) {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(error = %e, "undecodable arguments");
                    return None;
                }
            };
            // buggify: a store that answers "busy" before the call did anything; the client
            // waits and calls again (NFS3ERR_JUKEBOX).
            let result = if crate::buggify!("store-busy") {
                Err((Fail(NfsStat3::JUKEBOX), <$fail>::default()))
            } else {
                $f(&cx, a, args).await
            };
            match result {
                Ok(ok) => {
                    // Sized for the largest result (a full READ) so it never reallocates.
                    let mut w = body_writer(if matches!(p, Nfs3Proc::Read) { 256 + IO_SIZE as usize } else { 256 });
                    NfsStat3::OK.encode(&mut w);
                    ok.encode(&mut w);
                    w.into_inner()
                }
                Err((Fail(stat), fail)) => {
                    let fail: $fail = fail;
                    let mut w = body_writer(128);
                    stat.encode(&mut w);
                    fail.encode(&mut w);
                    w.into_inner()
                }
            }
        }};
    }
    Some(match p {
        Nfs3Proc::Null => body_writer(0).into_inner(),
        Nfs3Proc::Getattr => run!(Getattr3Args<'_>, getattr, Getattr3ResFail),
        Nfs3Proc::Setattr => run!(Setattr3Args<'_>, setattr, Setattr3ResFail),
        Nfs3Proc::Lookup => run!(Lookup3Args<'_>, lookup, Lookup3ResFail),
        Nfs3Proc::Access => run!(Access3Args<'_>, access, Access3ResFail),
        Nfs3Proc::Readlink => run!(Readlink3Args<'_>, readlink, Readlink3ResFail),
        Nfs3Proc::Read => run!(Read3Args<'_>, read, Read3ResFail),
        Nfs3Proc::Write => run!(Write3Args<'_>, write, Write3ResFail),
        Nfs3Proc::Create => run!(Create3Args<'_>, create, Create3ResFail),
        Nfs3Proc::Mkdir => run!(Mkdir3Args<'_>, mkdir, Mkdir3ResFail),
        Nfs3Proc::Symlink => run!(Symlink3Args<'_>, symlink, Symlink3ResFail),
        Nfs3Proc::Mknod => run!(Mknod3Args<'_>, mknod, Mknod3ResFail),
        Nfs3Proc::Remove => run!(Remove3Args<'_>, remove, Remove3ResFail),
        Nfs3Proc::Rmdir => run!(Rmdir3Args<'_>, rmdir, Rmdir3ResFail),
        Nfs3Proc::Rename => run!(Rename3Args<'_>, rename, Rename3ResFail),
        Nfs3Proc::Link => run!(Link3Args<'_>, link, Link3ResFail),
        Nfs3Proc::Readdir => run!(Readdir3Args<'_>, readdir, Readdir3ResFail),
        Nfs3Proc::Readdirplus => run!(Readdirplus3Args<'_>, readdirplus, Readdirplus3ResFail),
        Nfs3Proc::Fsstat => run!(Fsstat3Args<'_>, fsstat, Fsstat3ResFail),
        Nfs3Proc::Fsinfo => run!(Fsinfo3Args<'_>, fsinfo, Fsinfo3ResFail),
        Nfs3Proc::Pathconf => run!(Pathconf3Args<'_>, pathconf, Pathconf3ResFail),
        Nfs3Proc::Commit => run!(Commit3Args<'_>, commit, Commit3ResFail),
    })
}

type R<T, F> = Result<T, (Fail, F)>;

/// Attaches a failure body to a `Fail`.
fn with<T, F>(r: Result<T, Fail>, f: impl FnOnce() -> F) -> R<T, F> {
    r.map_err(|e| (e, f()))
}

async fn getattr<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Getattr3Args<'_>,
    _: &Bytes,
) -> R<Getattr3ResOk, Getattr3ResFail> {
    let attr = with(cx.resolve(a.object).await, Getattr3ResFail::default)?;
    Ok(Getattr3ResOk {
        obj_attributes: fattr(&attr, cx.fsid()),
    })
}

async fn setattr<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Setattr3Args<'_>,
    _: &Bytes,
) -> R<Setattr3ResOk, Setattr3ResFail> {
    let obj = with(cx.resolve(a.object).await, Setattr3ResFail::default)?;
    let change = attr_change(&a.new_attributes);
    match cx
        .share
        .setattr(cx.caller, obj.ino, change, a.guard.map(timestamp))
        .await
    {
        Ok((before, after)) => Ok(Setattr3ResOk {
            obj_wcc: cx.wcc(&DirChange {
                before,
                after: Some(after),
            }),
        }),
        Err(e) => {
            let after = cx.share.getattr(obj.ino).await.ok();
            Err((
                e.into(),
                Setattr3ResFail {
                    obj_wcc: cx.wcc(&DirChange {
                        before: Some(obj),
                        after,
                    }),
                },
            ))
        }
    }
}

async fn lookup<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Lookup3Args<'_>,
    _: &Bytes,
) -> R<Lookup3ResOk, Lookup3ResFail> {
    let dir = with(cx.resolve(a.what.dir).await, Lookup3ResFail::default)?;
    match cx.share.lookup(cx.caller, dir.ino, a.what.name).await {
        Ok((obj, d)) => Ok(Lookup3ResOk {
            object: cx.handle_of(&obj),
            obj_attributes: cx.post(Some(&obj)),
            dir_attributes: cx.post(Some(&d)),
        }),
        Err(e) => Err((
            e.into(),
            Lookup3ResFail {
                dir_attributes: cx.post(Some(&dir)),
            },
        )),
    }
}

async fn access<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Access3Args<'_>,
    _: &Bytes,
) -> R<Access3ResOk, Access3ResFail> {
    let obj = with(cx.resolve(a.object).await, Access3ResFail::default)?;
    match cx.share.access(cx.caller, obj.ino, a.access).await {
        Ok((attr, granted)) => Ok(Access3ResOk {
            obj_attributes: cx.post(Some(&attr)),
            access: granted,
        }),
        Err(e) => Err((
            e.into(),
            Access3ResFail {
                obj_attributes: cx.post(Some(&obj)),
            },
        )),
    }
}

async fn readlink<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Readlink3Args<'_>,
    _: &Bytes,
) -> R<Readlink3ResOk, Readlink3ResFail> {
    let obj = with(cx.resolve(a.symlink).await, Readlink3ResFail::default)?;
    match cx.share.readlink(cx.caller, obj.ino).await {
        Ok((attr, data)) => Ok(Readlink3ResOk {
            symlink_attributes: cx.post(Some(&attr)),
            data,
        }),
        Err(e) => Err((
            e.into(),
            Readlink3ResFail {
                symlink_attributes: cx.post(Some(&obj)),
            },
        )),
    }
}

async fn read<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Read3Args<'_>,
    _: &Bytes,
) -> R<Read3ResOk, Read3ResFail> {
    let obj = with(cx.resolve(a.file).await, Read3ResFail::default)?;
    let mut count = a.count.min(IO_SIZE);
    if count > 1 && crate::buggify!("short-read") {
        // buggify: a short read, fewer bytes than asked and no EOF; clients read on from there.
        count /= 2;
    }
    match cx.share.read(cx.caller, obj.ino, a.offset, count).await {
        Ok((attr, data, eof)) => Ok(Read3ResOk {
            file_attributes: cx.post(Some(&attr)),
            eof,
            data,
        }),
        Err(e) => Err((
            e.into(),
            Read3ResFail {
                file_attributes: cx.post(Some(&obj)),
            },
        )),
    }
}

async fn write<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Write3Args<'_>,
    raw: &Bytes,
) -> R<Write3ResOk, Write3ResFail> {
    let obj = with(cx.resolve(a.file).await, Write3ResFail::default)?;
    let stability = match a.stable {
        StableHow::Unstable => Stability::Unstable,
        StableHow::DataSync => Stability::DataSync,
        StableHow::FileSync => Stability::FileSync,
    };
    // The data borrows from the record: hand the cache a reference-counted slice, no copy.
    let mut data = raw.slice_ref(a.data);
    if data.len() > 1 && crate::buggify!("short-write") {
        // buggify: a short write, only a prefix taken; clients send the rest.
        data.truncate(data.len() / 2);
    }
    let count = data.len() as u32;
    match cx
        .share
        .write(cx.caller, obj.ino, a.offset, data, stability)
        .await
    {
        Ok(w) => Ok(Write3ResOk {
            file_wcc: cx.wcc(&DirChange {
                before: w.before,
                after: Some(w.after),
            }),
            count,
            committed: a.stable,
            verf: Writeverf3(w.verifier),
        }),
        Err(e) => {
            let after = cx.share.getattr(obj.ino).await.ok();
            Err((
                e.into(),
                Write3ResFail {
                    file_wcc: cx.wcc(&DirChange {
                        before: Some(obj),
                        after,
                    }),
                },
            ))
        }
    }
}

/// Shared tail of CREATE, MKDIR, SYMLINK and MKNOD.
async fn make<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    where_: DirOpArgs3<'_>,
    spec: CreateSpec,
    guarded: bool,
    exclusive: Option<[u8; 8]>,
) -> Result<(PostOpFh3, PostOpAttr, WccData), (Fail, WccData)> {
    let dir = cx
        .resolve(where_.dir)
        .await
        .map_err(|f| (f, WccData::default()))?;
    match cx
        .share
        .create(cx.caller, dir.ino, where_.name, spec, guarded, exclusive)
        .await
    {
        Ok((obj, change)) => Ok((
            PostOpFh3(Some(cx.handle_of(&obj))),
            cx.post(Some(&obj)),
            cx.wcc(&change),
        )),
        Err(e) => {
            let after = cx.share.getattr(dir.ino).await.ok();
            Err((
                e.into(),
                cx.wcc(&DirChange {
                    before: Some(dir),
                    after,
                }),
            ))
        }
    }
}

async fn create<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Create3Args<'_>,
    _: &Bytes,
) -> R<Create3ResOk, Create3ResFail> {
    let (attrs, guarded, exclusive) = match a.how {
        CreateHow3::Unchecked(s) => (attr_change(&s), false, None),
        CreateHow3::Guarded(s) => (attr_change(&s), true, None),
        CreateHow3::Exclusive(v) => (AttrChange::default(), true, Some(v.0)),
    };
    let spec = CreateSpec {
        kind: FileKind::Regular,
        attrs,
        rdev: Device::default(),
        target: Vec::new(),
    };
    match make(cx, a.where_, spec, guarded, exclusive).await {
        Ok((obj, obj_attributes, dir_wcc)) => Ok(Create3ResOk {
            obj,
            obj_attributes,
            dir_wcc,
        }),
        Err((f, dir_wcc)) => Err((f, Create3ResFail { dir_wcc })),
    }
}

async fn mkdir<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Mkdir3Args<'_>,
    _: &Bytes,
) -> R<Mkdir3ResOk, Mkdir3ResFail> {
    let spec = CreateSpec {
        kind: FileKind::Directory,
        attrs: attr_change(&a.attributes),
        rdev: Device::default(),
        target: Vec::new(),
    };
    match make(cx, a.where_, spec, true, None).await {
        Ok((obj, obj_attributes, dir_wcc)) => Ok(Mkdir3ResOk {
            obj,
            obj_attributes,
            dir_wcc,
        }),
        Err((f, dir_wcc)) => Err((f, Mkdir3ResFail { dir_wcc })),
    }
}

async fn symlink<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Symlink3Args<'_>,
    _: &Bytes,
) -> R<Symlink3ResOk, Symlink3ResFail> {
    let mut attrs = attr_change(&a.symlink.symlink_attributes);
    // Symlink permissions are meaningless on Linux; knfsd creates them 0777.
    attrs.mode = Some(attrs.mode.unwrap_or(0o777));
    attrs.size = None;
    let spec = CreateSpec {
        kind: FileKind::Symlink,
        attrs,
        rdev: Device::default(),
        target: a.symlink.symlink_data.to_vec(),
    };
    if a.symlink.symlink_data.is_empty() {
        return Err((Fail(NfsStat3::INVAL), Symlink3ResFail::default()));
    }
    match make(cx, a.where_, spec, true, None).await {
        Ok((obj, obj_attributes, dir_wcc)) => Ok(Symlink3ResOk {
            obj,
            obj_attributes,
            dir_wcc,
        }),
        Err((f, dir_wcc)) => Err((f, Symlink3ResFail { dir_wcc })),
    }
}

async fn mknod<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Mknod3Args<'_>,
    _: &Bytes,
) -> R<Mknod3ResOk, Mknod3ResFail> {
    let (kind, sattr, rdev) = match a.what {
        MknodData3::Chr(d) => (FileKind::CharDevice, d.dev_attributes, d.spec),
        MknodData3::Blk(d) => (FileKind::BlockDevice, d.dev_attributes, d.spec),
        MknodData3::Sock(s) => (FileKind::Socket, s, SpecData3::default()),
        MknodData3::Fifo(s) => (FileKind::Fifo, s, SpecData3::default()),
        MknodData3::Reg | MknodData3::Dir | MknodData3::Lnk => {
            return Err((Fail(NfsStat3::BADTYPE), Mknod3ResFail::default()));
        }
    };
    if matches!(kind, FileKind::CharDevice | FileKind::BlockDevice) && !cx.caller.is_root() {
        return Err((Fail(NfsStat3::PERM), Mknod3ResFail::default()));
    }
    let mut attrs = attr_change(&sattr);
    attrs.size = None;
    let spec = CreateSpec {
        kind,
        attrs,
        rdev: Device {
            major: rdev.specdata1,
            minor: rdev.specdata2,
        },
        target: Vec::new(),
    };
    match make(cx, a.where_, spec, true, None).await {
        Ok((obj, obj_attributes, dir_wcc)) => Ok(Mknod3ResOk {
            obj,
            obj_attributes,
            dir_wcc,
        }),
        Err((f, dir_wcc)) => Err((f, Mknod3ResFail { dir_wcc })),
    }
}

async fn remove_common<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    what: DirOpArgs3<'_>,
    dir_only: bool,
) -> Result<WccData, (Fail, WccData)> {
    let dir = cx
        .resolve(what.dir)
        .await
        .map_err(|f| (f, WccData::default()))?;
    match cx
        .share
        .remove(cx.caller, dir.ino, what.name, dir_only)
        .await
    {
        Ok(change) => Ok(cx.wcc(&change)),
        Err(e) => {
            let after = cx.share.getattr(dir.ino).await.ok();
            Err((
                e.into(),
                cx.wcc(&DirChange {
                    before: Some(dir),
                    after,
                }),
            ))
        }
    }
}

async fn remove<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Remove3Args<'_>,
    _: &Bytes,
) -> R<Remove3ResOk, Remove3ResFail> {
    remove_common(cx, a.object, false)
        .await
        .map(|dir_wcc| Remove3ResOk { dir_wcc })
        .map_err(|(f, dir_wcc)| (f, Remove3ResFail { dir_wcc }))
}

async fn rmdir<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Rmdir3Args<'_>,
    _: &Bytes,
) -> R<Rmdir3ResOk, Rmdir3ResFail> {
    remove_common(cx, a.object, true)
        .await
        .map(|dir_wcc| Rmdir3ResOk { dir_wcc })
        .map_err(|(f, dir_wcc)| (f, Rmdir3ResFail { dir_wcc }))
}

async fn rename<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Rename3Args<'_>,
    _: &Bytes,
) -> R<Rename3ResOk, Rename3ResFail> {
    let from = with(cx.resolve(a.from.dir).await, Rename3ResFail::default)?;
    let to = match cx.codec.decode(a.to.dir.as_bytes()) {
        // A target directory in another share cannot be reached by a rename.
        Ok(t) if t.share != cx.share.id() => {
            return Err((Fail(NfsStat3::XDEV), Rename3ResFail::default()));
        }
        _ => with(cx.resolve(a.to.dir).await, Rename3ResFail::default)?,
    };
    match cx
        .share
        .rename(cx.caller, from.ino, a.from.name, to.ino, a.to.name)
        .await
    {
        Ok((f, t)) => Ok(Rename3ResOk {
            fromdir_wcc: cx.wcc(&f),
            todir_wcc: cx.wcc(&t),
        }),
        Err(e) => {
            let fa = cx.share.getattr(from.ino).await.ok();
            let ta = cx.share.getattr(to.ino).await.ok();
            Err((
                e.into(),
                Rename3ResFail {
                    fromdir_wcc: cx.wcc(&DirChange {
                        before: Some(from),
                        after: fa,
                    }),
                    todir_wcc: cx.wcc(&DirChange {
                        before: Some(to),
                        after: ta,
                    }),
                },
            ))
        }
    }
}

async fn link<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Link3Args<'_>,
    _: &Bytes,
) -> R<Link3ResOk, Link3ResFail> {
    let file = with(cx.resolve(a.file).await, Link3ResFail::default)?;
    let dir = match cx.codec.decode(a.link.dir.as_bytes()) {
        Ok(t) if t.share != cx.share.id() => {
            return Err((
                Fail(NfsStat3::XDEV),
                Link3ResFail {
                    file_attributes: cx.post(Some(&file)),
                    ..Default::default()
                },
            ));
        }
        _ => with(cx.resolve(a.link.dir).await, || Link3ResFail {
            file_attributes: cx.post(Some(&file)),
            ..Default::default()
        })?,
    };
    if file.kind == FileKind::Directory {
        return Err((
            Fail(NfsStat3::ISDIR),
            Link3ResFail {
                file_attributes: cx.post(Some(&file)),
                ..Default::default()
            },
        ));
    }
    match cx
        .share
        .link(cx.caller, file.ino, dir.ino, a.link.name)
        .await
    {
        Ok((attr, change)) => Ok(Link3ResOk {
            file_attributes: cx.post(Some(&attr)),
            linkdir_wcc: cx.wcc(&change),
        }),
        Err(e) => {
            let after = cx.share.getattr(dir.ino).await.ok();
            Err((
                e.into(),
                Link3ResFail {
                    file_attributes: cx.attr_opt(file.ino).await,
                    linkdir_wcc: cx.wcc(&DirChange {
                        before: Some(dir),
                        after,
                    }),
                },
            ))
        }
    }
}

/// Cookies are stable for the life of an entry, so one verifier serves every listing; a
/// client that sends another one gets NFS3ERR_BAD_COOKIE.
const COOKIE_VERF: [u8; 8] = *b"dittofs1";

/// Entries of a listing, with "." and ".." synthesised at cookies 1 and 2 as knfsd does.
struct Listing {
    dir_attr: Attr,
    entries: Vec<(u64, Vec<u8>, Attr)>,
    eof: bool,
}

async fn list<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    dir: &Attr,
    cookie: u64,
    verf: [u8; 8],
    max_entries: usize,
) -> Result<Listing, Fail> {
    if cookie != 0 && verf != COOKIE_VERF && verf != [0; 8] {
        return Err(Fail(NfsStat3::BAD_COOKIE));
    }
    let mut entries = Vec::new();
    if cookie == 0 {
        entries.push((1, b".".to_vec(), dir.clone()));
    }
    if cookie <= 1 {
        let parent = cx.share.parent(dir.ino).await?;
        entries.push((2, b"..".to_vec(), parent));
    }
    let after = Cookie(cookie.max(2));
    let (dir_attr, page) = cx
        .share
        .readdir(cx.caller, dir.ino, after, max_entries)
        .await?;
    entries.extend(
        page.entries
            .into_iter()
            .map(|e| (e.cookie.0, e.name, e.attr)),
    );
    Ok(Listing {
        dir_attr,
        entries,
        eof: page.eof,
    })
}

async fn readdir<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Readdir3Args<'_>,
    _: &Bytes,
) -> R<Readdir3ResOk, Readdir3ResFail> {
    let dir = with(cx.resolve(a.dir).await, Readdir3ResFail::default)?;
    let budget = (a.count as usize).min(limits::READDIR_REPLY_MAX);
    // Fixed part: status, post_op_attr, cookieverf, list terminator, eof.
    let fixed = 4 + 4 + FATTR3_ENCODED_LEN + 8 + 4 + 4;
    let max_entries = budget.saturating_sub(fixed) / 24 + 2;
    let l = list(cx, &dir, a.cookie.0, a.cookieverf.0, max_entries.min(4096))
        .await
        .map_err(|f| {
            (
                f,
                Readdir3ResFail {
                    dir_attributes: cx.post(Some(&dir)),
                },
            )
        })?;
    let mut used = fixed;
    let mut out = Vec::new();
    let mut truncated = false;
    for (cookie, name, attr) in l.entries {
        let e = Entry3 {
            fileid: attr.ino.0,
            name,
            cookie: Cookie3(cookie),
        };
        let size = entry3_encoded_len(&e);
        if used + size > budget {
            truncated = true;
            break;
        }
        used += size;
        out.push(e);
    }
    if out.is_empty() && truncated {
        return Err((
            Fail(NfsStat3::TOOSMALL),
            Readdir3ResFail {
                dir_attributes: cx.post(Some(&l.dir_attr)),
            },
        ));
    }
    Ok(Readdir3ResOk {
        dir_attributes: cx.post(Some(&l.dir_attr)),
        cookieverf: Cookieverf3(COOKIE_VERF),
        entries: out,
        eof: l.eof && !truncated,
    })
}

async fn readdirplus<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Readdirplus3Args<'_>,
    _: &Bytes,
) -> R<Readdirplus3ResOk, Readdirplus3ResFail> {
    let dir = with(cx.resolve(a.dir).await, Readdirplus3ResFail::default)?;
    let maxcount = (a.maxcount as usize).min(limits::READDIR_REPLY_MAX);
    let dircount = a.dircount as usize;
    let fixed = 4 + 4 + FATTR3_ENCODED_LEN + 8 + 4 + 4;
    let per_entry_min = 4 + 8 + 8 + 8 + 4 + FATTR3_ENCODED_LEN + 8 + HANDLE_LEN;
    let mut max_entries = maxcount.saturating_sub(fixed) / per_entry_min + 2;
    if crate::buggify!("readdir-short-page") {
        // buggify: a page with fewer entries than would fit; clients resume from its last cookie.
        max_entries = 1;
    }
    let l = list(cx, &dir, a.cookie.0, a.cookieverf.0, max_entries.min(4096))
        .await
        .map_err(|f| {
            (
                f,
                Readdirplus3ResFail {
                    dir_attributes: cx.post(Some(&dir)),
                },
            )
        })?;
    let mut used = fixed;
    let mut dir_used = 0;
    let mut out = Vec::new();
    let mut truncated = false;
    for (cookie, name, attr) in l.entries {
        let handle = cx.handle_of(&attr);
        let e = Entryplus3 {
            fileid: attr.ino.0,
            cookie: Cookie3(cookie),
            name_attributes: cx.post(Some(&attr)),
            name_handle: PostOpFh3(Some(handle)),
            name,
        };
        let size = entryplus3_encoded_len(&e);
        // dircount counts only fileid, name and cookie (RFC 1813 §3.3.17).
        let dsize = entryplus3_dircount(&e);
        if used + size > maxcount
            || (dircount > 0 && dir_used + dsize > dircount && !out.is_empty())
        {
            truncated = true;
            break;
        }
        used += size;
        dir_used += dsize;
        out.push(e);
    }
    if out.is_empty() && truncated {
        return Err((
            Fail(NfsStat3::TOOSMALL),
            Readdirplus3ResFail {
                dir_attributes: cx.post(Some(&l.dir_attr)),
            },
        ));
    }
    Ok(Readdirplus3ResOk {
        dir_attributes: cx.post(Some(&l.dir_attr)),
        cookieverf: Cookieverf3(COOKIE_VERF),
        entries: out,
        eof: l.eof && !truncated,
    })
}

async fn fsstat<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Fsstat3Args<'_>,
    _: &Bytes,
) -> R<Fsstat3ResOk, Fsstat3ResFail> {
    let obj = with(cx.resolve(a.fsroot).await, Fsstat3ResFail::default)?;
    match cx.share.usage().await {
        Ok(u) => Ok(Fsstat3ResOk {
            obj_attributes: cx.post(Some(&obj)),
            tbytes: u.bytes_total,
            fbytes: u.bytes_free,
            abytes: u.bytes_free,
            tfiles: u.files_total,
            ffiles: u.files_free,
            afiles: u.files_free,
            invarsec: 0,
        }),
        Err(e) => Err((
            e.into(),
            Fsstat3ResFail {
                obj_attributes: cx.post(Some(&obj)),
            },
        )),
    }
}

async fn fsinfo<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Fsinfo3Args<'_>,
    _: &Bytes,
) -> R<Fsinfo3ResOk, Fsinfo3ResFail> {
    let obj = with(cx.resolve(a.fsroot).await, Fsinfo3ResFail::default)?;
    Ok(Fsinfo3ResOk {
        obj_attributes: cx.post(Some(&obj)),
        rtmax: IO_SIZE,
        rtpref: IO_SIZE,
        rtmult: 4096,
        wtmax: IO_SIZE,
        wtpref: IO_SIZE,
        wtmult: 4096,
        dtpref: 64 * 1024,
        maxfilesize: super::share::FILE_SIZE_MAX,
        time_delta: Nfstime3 {
            seconds: 0,
            nseconds: 1,
        },
        properties: FSF3_LINK | FSF3_SYMLINK | FSF3_HOMOGENEOUS | FSF3_CANSETTIME,
    })
}

async fn pathconf<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Pathconf3Args<'_>,
    _: &Bytes,
) -> R<Pathconf3ResOk, Pathconf3ResFail> {
    let obj = with(cx.resolve(a.object).await, Pathconf3ResFail::default)?;
    Ok(Pathconf3ResOk {
        obj_attributes: cx.post(Some(&obj)),
        linkmax: u32::MAX,
        name_max: limits::NAME_MAX as u32,
        no_trunc: true,
        chown_restricted: true,
        case_insensitive: false,
        case_preserving: true,
    })
}

async fn commit<M: MetadataStore, C: ContentStore>(
    cx: &Ctx<'_, M, C>,
    a: Commit3Args<'_>,
    _: &Bytes,
) -> R<Commit3ResOk, Commit3ResFail> {
    let obj = with(cx.resolve(a.file).await, Commit3ResFail::default)?;
    match cx.share.commit(obj.ino).await {
        Ok((before, after, verf)) => Ok(Commit3ResOk {
            file_wcc: cx.wcc(&DirChange {
                before,
                after: Some(after),
            }),
            verf: Writeverf3(verf),
        }),
        Err(e) => {
            let after = cx.share.getattr(obj.ino).await.ok();
            Err((
                e.into(),
                Commit3ResFail {
                    file_wcc: cx.wcc(&DirChange {
                        before: Some(obj),
                        after,
                    }),
                },
            ))
        }
    }
}
