//! The NFSv3 procedures (RFC 1813): decode each procedure's arguments, turn its file handles
//! into share nodes, call the share through its [`ShareHandle`], and encode the typed result,
//! building wcc data from the attributes the share returns (on failure too). Errors are mapped
//! in [`super::errors`].
//!
//! - [`file`]: GETATTR, SETATTR, ACCESS, READLINK, READ, WRITE, COMMIT.
//! - [`dir`]: LOOKUP, CREATE, MKDIR, SYMLINK, MKNOD, REMOVE, RMDIR, RENAME, LINK, READDIR,
//!   READDIRPLUS.
//! - [`fs`]: FSSTAT, FSINFO, PATHCONF.

mod dir;
mod file;
mod fs;

use bytes::Bytes;
use protocol::nfs3::*;
use protocol::wire::{DecodeError, Encode, decode_exact, limits};
use protocol::xdr::{Reader, Writer};
use stores::{Attr, Modified, StoreError};

use super::attrs;
use super::errors::{handle_status, op_status};
use super::filehandle::{FileHandle, FileHandleCodec};
use crate::server::share::actor::Failure;
use crate::server::share::foreign::{self, EntryChange, Event, Foreign, Recall};
use crate::server::share::{Caller, Change, Node, OpError, ShareHandle};

/// Why a procedure failed: its status.
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

/// What a procedure runs with: the share, the file handle codec and the caller.
struct Ctx<'s> {
    share: &'s ShareHandle,
    codec: &'s FileHandleCodec,
    foreign: &'s dyn Foreign,
    caller: &'s Caller,
}

impl Ctx<'_> {
    fn fsid(&self) -> u64 {
        u64::from(self.share.id().0)
    }

    fn post(&self, a: Option<&Attr>) -> PostOpAttr {
        attrs::post(a, self.fsid())
    }

    fn wcc(&self, c: &Change) -> WccData {
        attrs::wcc(c, self.fsid())
    }

    fn caller(&self) -> Caller {
        self.caller.clone()
    }

    /// The file handle of `a`.
    fn handle_of(&self, a: &Attr) -> NfsFh3Buf {
        let h = self.codec.encode(FileHandle {
            share: self.share.id(),
            node: Node::from(a),
        });
        NfsFh3Buf::new(&h).expect("our handles fit in NFS3_FHSIZE")
    }

    /// The node a file handle of this share names.
    fn node(&self, fh: NfsFh3<'_>) -> Result<Node, Fail> {
        let h = self
            .codec
            .decode(fh.as_bytes())
            .map_err(|e| Fail(handle_status(e)))?;
        if h.share != self.share.id() {
            return Err(Fail(NfsStat3::STALE));
        }
        Ok(h.node)
    }

    /// Takes back what other protocols' clients cache on `node` that `change` invalidates
    /// (SMB oplocks and leases), waiting for their acknowledgements up to the break timeout.
    async fn recall(&self, node: Node, change: Recall) {
        if self.foreign.holds(self.share.id(), node) {
            self.foreign.recall(self.share.id(), node, change).await;
        }
    }

    /// [`Self::recall`] for the node `name` in `dir` names, when there is one.
    async fn recall_named(&self, dir: Node, name: &Bytes, change: Recall) {
        if !self.foreign.any_on(self.share.id()) {
            return;
        }
        if let Ok((attr, _)) = self.share.lookup(self.caller(), dir, name.clone()).await {
            self.foreign
                .recall(self.share.id(), Node::from(&attr), change)
                .await;
        }
    }

    /// Tells other protocols' watchers (SMB CHANGE_NOTIFY) that entries of `dir` changed,
    /// when `dir_change` shows the directory did change (a CREATE of an existing name, say,
    /// changes nothing). A tree watch needs the directory's ancestors: found with `..`
    /// lookups, only when such a watch exists on the share.
    async fn notify(&self, dir: Node, dir_change: &Change, changes: &[EntryChange<'_>]) {
        let Some(tree) = self.foreign.watching(self.share.id()) else {
            return;
        };
        if let (Some(b), Some(a)) = (&dir_change.before, &dir_change.after)
            && b.change == a.change
        {
            return;
        }
        self.tell(tree, dir, self.caller, changes).await;
    }

    /// Hands `changes` of `dir` to the watchers ([`Foreign::changed`]), with the directory's
    /// ancestors (looked up as `caller`) when a tree watch (`tree`) wants them.
    async fn tell(&self, tree: bool, dir: Node, caller: &Caller, changes: &[EntryChange<'_>]) {
        let ancestors = if tree {
            foreign::ancestors(self.share, caller, dir).await
        } else {
            Vec::new()
        };
        self.foreign
            .changed(self.share.id(), dir, &ancestors, changes);
    }

    /// Tells other protocols' watchers and directory leases (SMB CHANGE_NOTIFY MODIFIED,
    /// directory lease breaks), here and through other gateways sharing the store, that
    /// `node` was modified (`what`). NFS names no directory for a node changed by handle: the
    /// entry it was last reached by ([`foreign::NameHints`], from LOOKUP, CREATE and
    /// READDIRPLUS) is checked with a lookup first, and a node reached by none is not told
    /// of. Free while nobody watches on this gateway and no other gateway shares the store.
    async fn modified(&self, node: Node, what: Modified) {
        let watching = self.foreign.watching(self.share.id());
        if watching.is_none() && !self.share.shared() {
            return;
        }
        let Some((dir, name, is_dir)) = self.share.names().and_then(|h| h.named(node)) else {
            return;
        };
        let caller = foreign::server_caller();
        match self.share.lookup(caller.clone(), dir, name.clone()).await {
            Ok((a, _)) if Node::from(&a) == node => {}
            _ => return,
        }
        if let Some(tree) = watching {
            let change = EntryChange {
                name: &name,
                event: Event::Modified(what),
                is_dir,
            };
            self.tell(tree, dir, &caller, &[change]).await;
        }
        foreign::announce(self.share, dir, &name, is_dir, what);
    }

    /// [`Self::notify`] for a RENAME: old and new name within one directory, removed and
    /// added across two.
    async fn notify_rename(
        &self,
        from: Node,
        from_name: &Bytes,
        from_change: &Change,
        to: Node,
        to_name: &Bytes,
        to_change: &Change,
    ) {
        if self.foreign.watching(self.share.id()).is_none() {
            return;
        }
        let is_dir = matches!(
            self.share.lookup(self.caller(), to, to_name.clone()).await,
            Ok((a, _)) if a.kind == stores::FileKind::Directory
        );
        let change = |name, event| EntryChange {
            name,
            event,
            is_dir,
        };
        if from == to {
            let both = [
                change(from_name, Event::RenamedFrom),
                change(to_name, Event::RenamedTo),
            ];
            self.notify(from, from_change, &both).await;
        } else {
            self.notify(from, from_change, &[change(from_name, Event::Removed)])
                .await;
            self.notify(to, to_change, &[change(to_name, Event::Added)])
                .await;
        }
    }

    /// The node of a second file handle (RENAME's target, LINK's directory): one of another
    /// share cannot be reached (NFS3ERR_XDEV).
    fn node_here(&self, fh: NfsFh3<'_>) -> Result<Node, Fail> {
        match self.codec.decode(fh.as_bytes()) {
            Ok(h) if h.share != self.share.id() => Err(Fail(NfsStat3::XDEV)),
            _ => self.node(fh),
        }
    }

    /// The failure-plus-wcc tail every changing procedure shares: the status and the wcc data
    /// of the node the operation was on.
    fn failed_wcc(&self, f: Failure) -> (Fail, WccData) {
        let wcc = self.wcc(&f.node);
        (f.error.into(), wcc)
    }

    /// The status and post-op attributes of a failure that changed nothing.
    fn failed_post(&self, f: Failure) -> (Fail, PostOpAttr) {
        let post = self.post(f.node.before.as_ref());
        (f.error.into(), post)
    }
}

/// The reply body for a procedure that failed with `stat` before anything was known (a bad
/// handle, an unknown share, a server bug): the status and empty attribute fields.
pub(crate) fn error_reply(proc_: u32, stat: NfsStat3) -> Vec<u8> {
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

/// The first file handle in a procedure's arguments (every procedure but NULL starts with
/// one): used to route the call to its share before decoding the rest.
pub(crate) fn first_handle(args: &[u8]) -> Result<&[u8], DecodeError> {
    Reader::new(args).opaque(limits::FHSIZE3, "nfs_fh3")
}

/// Whether a procedure changes state and so must go through the duplicate request cache.
pub(crate) fn is_non_idempotent(proc_: u32) -> bool {
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
pub(crate) const IO_SIZE: u32 = limits::IO_SIZE_MAX as u32;

/// Bytes every reply body from [`serve_call`] starts with, left zero for the caller to fill
/// with the ONC RPC accepted-SUCCESS header (xid, REPLY, MSG_ACCEPTED, AUTH_NONE verifier,
/// SUCCESS: six words). Encoding the result behind them saves copying a 1 MiB READ into a
/// second buffer.
pub(crate) const REPLY_HEAD: usize = 24;

/// A result buffer with [`REPLY_HEAD`] bytes reserved and room for `len` more.
fn body_writer(len: usize) -> Writer {
    let mut w = Writer::with_capacity(REPLY_HEAD + len);
    w.raw(&[0; REPLY_HEAD]);
    w
}

type R<T, F> = Result<T, (Fail, F)>;

/// Attaches a failure body to a `Fail`.
fn with<T, F>(r: Result<T, Fail>, f: impl FnOnce() -> F) -> R<T, F> {
    r.map_err(|e| (e, f()))
}

/// Runs one NFSv3 procedure (not NULL) on `share` as `caller`. Returns the encoded result
/// body behind [`REPLY_HEAD`] reserved bytes, or `None` when the arguments do not decode (the
/// caller answers GARBAGE_ARGS).
pub(crate) async fn serve_call(
    share: &ShareHandle,
    codec: &FileHandleCodec,
    foreign: &dyn Foreign,
    caller: &Caller,
    proc_: u32,
    args: &Bytes,
) -> Option<Vec<u8>> {
    let cx = Ctx {
        share,
        codec,
        foreign,
        caller,
    };
    let Some(p) = Nfs3Proc::from_u32(proc_) else {
        return Some(body_writer(0).into_inner());
    };
    macro_rules! run {
        ($args:ty, $f:path, $fail:ty) => {{
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
        Nfs3Proc::Getattr => run!(Getattr3Args<'_>, file::getattr, Getattr3ResFail),
        Nfs3Proc::Setattr => run!(Setattr3Args<'_>, file::setattr, Setattr3ResFail),
        Nfs3Proc::Lookup => run!(Lookup3Args<'_>, dir::lookup, Lookup3ResFail),
        Nfs3Proc::Access => run!(Access3Args<'_>, file::access, Access3ResFail),
        Nfs3Proc::Readlink => run!(Readlink3Args<'_>, file::readlink, Readlink3ResFail),
        Nfs3Proc::Read => run!(Read3Args<'_>, file::read, Read3ResFail),
        Nfs3Proc::Write => run!(Write3Args<'_>, file::write, Write3ResFail),
        Nfs3Proc::Create => run!(Create3Args<'_>, dir::create, Create3ResFail),
        Nfs3Proc::Mkdir => run!(Mkdir3Args<'_>, dir::mkdir, Mkdir3ResFail),
        Nfs3Proc::Symlink => run!(Symlink3Args<'_>, dir::symlink, Symlink3ResFail),
        Nfs3Proc::Mknod => run!(Mknod3Args<'_>, dir::mknod, Mknod3ResFail),
        Nfs3Proc::Remove => run!(Remove3Args<'_>, dir::remove, Remove3ResFail),
        Nfs3Proc::Rmdir => run!(Rmdir3Args<'_>, dir::rmdir, Rmdir3ResFail),
        Nfs3Proc::Rename => run!(Rename3Args<'_>, dir::rename, Rename3ResFail),
        Nfs3Proc::Link => run!(Link3Args<'_>, dir::link, Link3ResFail),
        Nfs3Proc::Readdir => run!(Readdir3Args<'_>, dir::readdir, Readdir3ResFail),
        Nfs3Proc::Readdirplus => {
            run!(Readdirplus3Args<'_>, dir::readdirplus, Readdirplus3ResFail)
        }
        Nfs3Proc::Fsstat => run!(Fsstat3Args<'_>, fs::fsstat, Fsstat3ResFail),
        Nfs3Proc::Fsinfo => run!(Fsinfo3Args<'_>, fs::fsinfo, Fsinfo3ResFail),
        Nfs3Proc::Pathconf => run!(Pathconf3Args<'_>, fs::pathconf, Pathconf3ResFail),
        Nfs3Proc::Commit => run!(Commit3Args<'_>, file::commit, Commit3ResFail),
    })
}
