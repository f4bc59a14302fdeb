//! The share actor: the one owner of a [`Share`] and the mailbox in front of it. Front ends
//! call it through a [`ShareHandle`], whose async methods (one per operation) build a
//! [`ShareMsg`], send it and await the typed reply, so callers never touch channels and are not
//! generic over the share's store types.
//!
//! Each message names its nodes by [`Node`] (inode + generation). The actor resolves each node
//! once (one metadata read), runs the operation on the resolved attributes, and on failure
//! returns a [`Failure`] carrying the attributes it had, so a front end can still report them
//! (NFS wcc data) without reading them again.
//!
//! Concurrency: the actor owns the share; it runs up to `concurrency` operations at once, each
//! on its own task over a clone of the share (a slow store call must not stall the others),
//! bounded by a semaphore, and takes no new message while the bound is reached, so a full
//! mailbox pushes back on the connections. The namespace itself is serialised by the metadata
//! store, not by the actor.
//!
//! Exit path: when every handle is dropped the mailbox closes; the actor then waits for its
//! running operations and returns.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use stores::{Attr, ContentStore, Cookie, MetadataStore, Timestamp, Usage, XattrEntry};
use tokio::sync::{Semaphore, mpsc, oneshot};

use super::locks::{Io, LockError, LockManager, LockOwner, LockRange, Locked, Scope};
use super::{
    AttrChange, Caller, Change, Listing, Made, NewKind, Node, OpError, Rights, Share, ShareId,
    Stability, Written, XattrEdit,
};

/// Mailbox capacity of a share actor: operations queued beyond the ones running. Each
/// connection already caps its own in-flight calls, so this only smooths bursts from many
/// connections.
pub(crate) const SHARE_MAILBOX_CAPACITY: usize = 256;

/// Mailbox capacity of the share's lock manager: lock, unlock, I/O checks, releases and
/// cancellations. They are answered from memory by the actor itself, one at a time, never
/// behind the store operations.
pub(crate) const LOCK_MAILBOX_CAPACITY: usize = 256;

/// A request to the share's byte-range lock manager ([`super::locks`]).
#[derive(Debug)]
pub(crate) enum LockMsg {
    /// Take every range, all or none; a single range with `wait` may queue.
    Lock {
        /// The file.
        node: Node,
        /// Who takes them.
        owner: LockOwner,
        /// The ranges.
        ranges: Vec<LockRange>,
        /// Queue a single conflicting range instead of refusing it.
        wait: bool,
        /// The answer.
        reply: oneshot::Sender<Result<Locked, LockError>>,
    },
    /// Unlock each (offset, length) in turn, stopping at the first failure (earlier ones
    /// stay unlocked).
    Unlock {
        /// The file.
        node: Node,
        /// Whose locks.
        owner: LockOwner,
        /// The ranges.
        ranges: Vec<(u64, u64)>,
        /// The answer: how many were unlocked, and the failure that stopped it.
        reply: oneshot::Sender<(usize, Result<(), LockError>)>,
    },
    /// May `owner` do `io` on the range?
    Check {
        /// The file.
        node: Node,
        /// Who does it.
        owner: LockOwner,
        /// Read or write.
        io: Io,
        /// First byte.
        offset: u64,
        /// Bytes.
        length: u64,
        /// The answer.
        reply: oneshot::Sender<Result<(), LockError>>,
    },
    /// Drop every lock and waiting request of the owners in `scope`.
    Release {
        /// Whose.
        scope: Scope,
        /// Answered when done (`None`: nobody waits).
        reply: Option<oneshot::Sender<()>>,
    },
    /// Give the locks of the owners in `scope` to `to` (a reconnected SMB durable open).
    Reown {
        /// Whose locks.
        scope: Scope,
        /// The new owner.
        to: LockOwner,
        /// Answered when done.
        reply: oneshot::Sender<()>,
    },
    /// POSIX unlock of `[offset, offset + length)` for an NLM owner.
    UnlockPosix {
        /// The file.
        node: Node,
        /// Whose locks.
        owner: LockOwner,
        /// First byte.
        offset: u64,
        /// Bytes.
        length: u64,
        /// The answer.
        reply: oneshot::Sender<Result<(), LockError>>,
    },
    /// Which held lock would stop `owner` from taking `range` (NLM TEST)?
    Test {
        /// The file.
        node: Node,
        /// Who asks.
        owner: LockOwner,
        /// The lock it would take.
        range: LockRange,
        /// The answer: the holder and its range, or `None`.
        reply: oneshot::Sender<Option<(LockOwner, LockRange)>>,
    },
    /// Forget waiting request `id` on `node`.
    Cancel {
        /// The file.
        node: Node,
        /// The request.
        id: u64,
    },
}

/// Why an operation failed, with what the share knew of the nodes it touched.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The error.
    pub(crate) error: OpError,
    /// The node the operation was on (a directory for namespace operations): `before` is its
    /// resolved attributes (`None` if it did not resolve), `after` is read again after a
    /// failed change, and `None` for operations that change nothing.
    pub(crate) node: Change,
    /// The second node of RENAME (the target directory) and LINK (the directory).
    pub(crate) other: Change,
}

impl From<OpError> for Failure {
    fn from(error: OpError) -> Self {
        Self {
            error,
            node: Change::default(),
            other: Change::default(),
        }
    }
}

/// Result of a share operation through the actor.
pub(crate) type Outcome<T> = Result<T, Failure>;

/// Nodes one [`ShareHandle::xattrs_many`] may ask about (a directory page is 256).
pub(crate) const XATTRS_MANY_MAX: usize = 1024;

/// What [`ShareHandle::xattrs_many`] answers for one node.
#[derive(Debug, Clone, Default)]
pub(crate) struct NodeXattrs {
    /// Its extended attributes: names and value lengths, in name order.
    pub(crate) list: Vec<XattrEntry>,
    /// The value of the attribute asked for, when it has it.
    pub(crate) value: Option<Vec<u8>>,
}

macro_rules! share_ops {
    ($(
        $(#[$doc:meta])*
        $(@method #[$mattr:meta])*
        $variant:ident => $method:ident($($arg:ident: $ty:ty),*) -> $out:ty;
    )*) => {
        /// Requests a share actor accepts: one per operation, each with its typed reply.
        #[derive(Debug)]
        pub(crate) enum ShareMsg {
            $(
                $(#[$doc])*
                $variant {
                    /// Who is calling.
                    caller: Caller,
                    $(
                        #[doc = concat!("Argument `", stringify!($arg), "`.")]
                        $arg: $ty,
                    )*
                    /// Where the result goes.
                    reply: oneshot::Sender<Outcome<$out>>,
                },
            )*
        }

        impl ShareHandle {
            $(
                $(#[$doc])*
                $(#[$mattr])*
                pub(crate) async fn $method(&self, caller: Caller, $($arg: $ty),*) -> Outcome<$out> {
                    let (reply, rx) = oneshot::channel();
                    self.send(ShareMsg::$variant { caller, $($arg,)* reply }).await?;
                    rx.await.map_err(|_| gone())?
                }
            )*
        }

        /// Runs one message on `share` and answers it.
        async fn run<M: MetadataStore, C: ContentStore>(share: &Share<M, C>, msg: ShareMsg) {
            match msg {
                $(
                    ShareMsg::$variant { caller, $($arg,)* reply } => {
                        // The caller may have given up (its connection closed): nothing to do.
                        let _ = reply.send(ops::$method(share, &caller, $($arg),*).await);
                    }
                )*
            }
        }
    };
}

share_ops! {
    /// The attributes of `node`.
    Getattr => getattr(node: Node) -> Attr;
    /// Changes attributes of `node`, if `guard` (when given) equals its ctime.
    Setattr => setattr(node: Node, change: AttrChange, guard: Option<Timestamp>) -> Change;
    /// Looks up `name` in directory `dir`: the entry and the directory.
    Lookup => lookup(dir: Node, name: Bytes) -> (Attr, Attr);
    /// Looks up `name` in directory `dir` ignoring case: the stored name, the entry and the
    /// directory.
    LookupFolded => lookup_folded(dir: Node, name: Bytes) -> (Vec<u8>, Attr, Attr);
    /// Which of `want` the caller has on `node`, with its attributes.
    Access => access(node: Node, want: Rights) -> (Attr, Rights);
    /// The target of symlink `node`, with its attributes.
    Readlink => readlink(node: Node) -> (Attr, Vec<u8>);
    /// Up to `count` bytes at `offset`: attributes, data, EOF.
    Read => read(node: Node, offset: u64, count: u32) -> (Attr, Bytes, bool);
    /// Writes `data` at `offset` with `stability`; the result carries the write verifier.
    Write => write(node: Node, offset: u64, data: Bytes, stability: Stability) -> Written;
    /// Makes every write to `node` durable.
    Commit => commit(node: Node) -> Written;
    /// Makes `name` in `dir`: a file (with its create mode), directory, symlink or special node.
    Make => make(dir: Node, name: Bytes, what: NewKind, attrs: AttrChange) -> Made;
    /// Removes the non-directory `name` from `dir` (or the empty directory, with `dir_only`).
    Remove => remove(dir: Node, name: Bytes, dir_only: bool) -> Change;
    /// Renames `from_dir/from` to `to_dir/to`: both directories' changes.
    Rename => rename(from_dir: Node, from: Bytes, to_dir: Node, to: Bytes) -> (Change, Change);
    /// Links `name` in `dir` to `node`.
    Link => link(node: Node, dir: Node, name: Bytes) -> Made;
    /// Lists `dir` after `cookie` (see [`Share::readdir`]).
    Readdir => readdir(dir: Node, cookie: Cookie, verifier: [u8; 8], max_entries: usize, attrs: bool) -> Listing;
    /// The share's capacity, with the attributes of `node`.
    Fsstat => fsstat(node: Node) -> (Attr, Usage);
    /// The data ranges of `[offset, offset + len)` of file `node`.
    Allocated => allocated(node: Node, offset: u64, len: u64) -> Vec<(u64, u64)>;
    /// Zeroes `[offset, offset + len)` of file `node`, deallocating where the store can.
    Punch => punch(node: Node, offset: u64, len: u64) -> Change;
    /// The extended attribute `name` of `node`, or `None`.
    Xattr => xattr(node: Node, name: Bytes) -> Option<Vec<u8>>;
    /// The extended attributes of `node`: names and value lengths.
    ListXattrs => list_xattrs(node: Node) -> Vec<XattrEntry>;
    /// Sets the extended attribute `name` of `node` to `value`.
    SetXattr => set_xattr(node: Node, name: Bytes, value: Vec<u8>) -> Change;
    /// Removes the extended attribute `name` of `node` (a missing one is no change).
    RemoveXattr => remove_xattr(node: Node, name: Bytes) -> Change;
    /// Changes the existing extended attribute `name` of `node` in place, atomically with
    /// the node's other attribute changes; its length before and after, or `None` when it has
    /// no such attribute (see [`Share::edit_xattr`]).
    EditXattr => edit_xattr(node: Node, name: Bytes, edit: XattrEdit, max: u64) -> Option<(u64, u64)>;
    /// For each of `nodes` (at most [`XATTRS_MANY_MAX`]): its extended attributes and the
    /// value of `name` when it has one, or `None` for a node gone since it was listed. One
    /// message for a directory page instead of one or two per entry.
    XattrsMany => xattrs_many(nodes: Vec<Node>, name: Bytes) -> Vec<Option<NodeXattrs>>;
    /// A file is opened (SMB will keep open state here).
    @method #[expect(dead_code, reason = "the hook the SMB front end will call; NFSv3 has no open")]
    Open => open(node: Node) -> Attr;
    /// A file is closed.
    @method #[expect(dead_code, reason = "the hook the SMB front end will call; NFSv3 has no close")]
    Close => close(node: Node) -> ();
}

/// The operations, each resolving its nodes once and shaping its failure.
mod ops {
    use super::*;

    /// Resolves `node`, failing with no attributes known.
    async fn resolve<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        node: Node,
    ) -> Outcome<Attr> {
        share.resolve(node).await.map_err(Failure::from)
    }

    /// A failure on `a` that changed nothing: report `a` as it was.
    fn unchanged(error: OpError, a: &Attr) -> Failure {
        Failure {
            error,
            node: Change {
                before: Some(a.clone()),
                after: None,
            },
            other: Change::default(),
        }
    }

    /// A failed change of `a`: report it as it was and as it is now.
    async fn failed<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        error: OpError,
        a: Attr,
    ) -> Failure {
        let after = share.attr_opt(a.ino).await;
        Failure {
            error,
            node: Change {
                before: Some(a),
                after,
            },
            other: Change::default(),
        }
    }

    pub(super) async fn getattr<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
    ) -> Outcome<Attr> {
        let a = resolve(share, node).await?;
        share.getattr(caller, a).map_err(Failure::from)
    }

    pub(super) async fn setattr<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
        change: AttrChange,
        guard: Option<Timestamp>,
    ) -> Outcome<Change> {
        let a = resolve(share, node).await?;
        match share.setattr(caller, &a, change, guard).await {
            Ok(after) => Ok(Change {
                before: Some(a),
                after: Some(after),
            }),
            Err(e) => Err(failed(share, e, a).await),
        }
    }

    pub(super) async fn lookup<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        dir: Node,
        name: Bytes,
    ) -> Outcome<(Attr, Attr)> {
        let d = resolve(share, dir).await?;
        match share.lookup(caller, &d, &name).await {
            Ok(a) => Ok((a, d)),
            Err(e) => Err(unchanged(e, &d)),
        }
    }

    pub(super) async fn lookup_folded<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        dir: Node,
        name: Bytes,
    ) -> Outcome<(Vec<u8>, Attr, Attr)> {
        let d = resolve(share, dir).await?;
        match share.lookup_folded(caller, &d, &name).await {
            Ok((stored, a)) => Ok((stored, a, d)),
            Err(e) => Err(unchanged(e, &d)),
        }
    }

    pub(super) async fn access<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
        want: Rights,
    ) -> Outcome<(Attr, Rights)> {
        let a = resolve(share, node).await?;
        match share.access(caller, &a, want) {
            Ok(r) => Ok((a, r)),
            Err(e) => Err(unchanged(e, &a)),
        }
    }

    pub(super) async fn readlink<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
    ) -> Outcome<(Attr, Vec<u8>)> {
        let a = resolve(share, node).await?;
        match share.readlink(caller, &a).await {
            Ok(t) => Ok((a, t)),
            Err(e) => Err(unchanged(e, &a)),
        }
    }

    pub(super) async fn read<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
        offset: u64,
        count: u32,
    ) -> Outcome<(Attr, Bytes, bool)> {
        let a = resolve(share, node).await?;
        match share.read(caller, &a, offset, count).await {
            Ok((data, eof)) => Ok((a, data, eof)),
            Err(e) => Err(unchanged(e, &a)),
        }
    }

    pub(super) async fn write<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
        offset: u64,
        data: Bytes,
        stability: Stability,
    ) -> Outcome<Written> {
        let a = resolve(share, node).await?;
        match share
            .write(caller, a.clone(), offset, data, stability)
            .await
        {
            Ok(w) => Ok(w),
            Err(e) => Err(failed(share, e, a).await),
        }
    }

    pub(super) async fn commit<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
    ) -> Outcome<Written> {
        let a = resolve(share, node).await?;
        match share.commit(caller, a.clone()).await {
            Ok(w) => Ok(w),
            Err(e) => Err(failed(share, e, a).await),
        }
    }

    pub(super) async fn make<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        dir: Node,
        name: Bytes,
        what: NewKind,
        attrs: AttrChange,
    ) -> Outcome<Made> {
        let d = resolve(share, dir).await?;
        match share.make(caller, &d, &name, what, attrs).await {
            Ok(m) => Ok(m),
            Err(e) => Err(failed(share, e, d).await),
        }
    }

    pub(super) async fn remove<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        dir: Node,
        name: Bytes,
        dir_only: bool,
    ) -> Outcome<Change> {
        let d = resolve(share, dir).await?;
        match share.remove(caller, &d, &name, dir_only).await {
            Ok(c) => Ok(c),
            Err(e) => Err(failed(share, e, d).await),
        }
    }

    pub(super) async fn rename<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        from_dir: Node,
        from: Bytes,
        to_dir: Node,
        to: Bytes,
    ) -> Outcome<(Change, Change)> {
        let fd = resolve(share, from_dir).await?;
        let td = if to_dir == from_dir {
            fd.clone()
        } else {
            resolve(share, to_dir).await?
        };
        match share.rename(caller, &fd, &from, &td, &to).await {
            Ok(c) => Ok(c),
            Err(error) => {
                let fa = share.attr_opt(fd.ino).await;
                let ta = share.attr_opt(td.ino).await;
                Err(Failure {
                    error,
                    node: Change {
                        before: Some(fd),
                        after: fa,
                    },
                    other: Change {
                        before: Some(td),
                        after: ta,
                    },
                })
            }
        }
    }

    pub(super) async fn link<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
        dir: Node,
        name: Bytes,
    ) -> Outcome<Made> {
        let file = resolve(share, node).await?;
        let d = match share.resolve(dir).await {
            Ok(d) => d,
            Err(error) => {
                return Err(Failure {
                    error,
                    node: Change {
                        before: Some(file.clone()),
                        after: Some(file),
                    },
                    other: Change::default(),
                });
            }
        };
        match share.link(caller, &file, &d, &name).await {
            Ok(m) => Ok(m),
            Err(error) => {
                let fa = share.attr_opt(file.ino).await;
                let da = share.attr_opt(d.ino).await;
                Err(Failure {
                    error,
                    node: Change {
                        before: Some(file),
                        after: fa,
                    },
                    other: Change {
                        before: Some(d),
                        after: da,
                    },
                })
            }
        }
    }

    pub(super) async fn readdir<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        dir: Node,
        cookie: Cookie,
        verifier: [u8; 8],
        max_entries: usize,
        attrs: bool,
    ) -> Outcome<Listing> {
        let d = resolve(share, dir).await?;
        match share
            .readdir(caller, &d, cookie, verifier, max_entries, attrs)
            .await
        {
            Ok(l) => Ok(l),
            Err(e) => Err(unchanged(e, &d)),
        }
    }

    pub(super) async fn fsstat<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
    ) -> Outcome<(Attr, Usage)> {
        let a = resolve(share, node).await?;
        match share.usage(caller).await {
            Ok(u) => Ok((a, u)),
            Err(e) => Err(unchanged(e, &a)),
        }
    }

    pub(super) async fn allocated<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
        offset: u64,
        len: u64,
    ) -> Outcome<Vec<(u64, u64)>> {
        let a = resolve(share, node).await?;
        share
            .allocated(caller, &a, offset, len)
            .await
            .map_err(|e| unchanged(e, &a))
    }

    pub(super) async fn punch<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
        offset: u64,
        len: u64,
    ) -> Outcome<Change> {
        let a = resolve(share, node).await?;
        match share.punch(caller, a.clone(), offset, len).await {
            Ok(after) => Ok(Change {
                before: Some(a),
                after: Some(after),
            }),
            Err(e) => Err(failed(share, e, a).await),
        }
    }

    pub(super) async fn xattr<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
        name: Bytes,
    ) -> Outcome<Option<Vec<u8>>> {
        let a = resolve(share, node).await?;
        share
            .xattr(caller, &a, &name)
            .await
            .map_err(|e| unchanged(e, &a))
    }

    pub(super) async fn list_xattrs<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
    ) -> Outcome<Vec<XattrEntry>> {
        let a = resolve(share, node).await?;
        share
            .list_xattrs(caller, &a)
            .await
            .map_err(|e| unchanged(e, &a))
    }

    pub(super) async fn edit_xattr<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
        name: Bytes,
        edit: XattrEdit,
        max: u64,
    ) -> Outcome<Option<(u64, u64)>> {
        let a = resolve(share, node).await?;
        share
            .edit_xattr(caller, &a, &name, edit, max)
            .await
            .map_err(|e| unchanged(e, &a))
    }

    pub(super) async fn xattrs_many<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        nodes: Vec<Node>,
        name: Bytes,
    ) -> Outcome<Vec<Option<NodeXattrs>>> {
        if nodes.len() > XATTRS_MANY_MAX {
            return Err(Failure::from(OpError::Invalid(
                "too many nodes in one xattrs_many",
            )));
        }
        let mut out = Vec::with_capacity(nodes.len());
        for node in nodes {
            let Ok(a) = share.resolve(node).await else {
                out.push(None);
                continue;
            };
            let Ok(list) = share.list_xattrs(caller, &a).await else {
                out.push(None);
                continue;
            };
            let value = if list.iter().any(|e| e.name == name.as_ref()) {
                share.xattr(caller, &a, &name).await.ok().flatten()
            } else {
                None
            };
            out.push(Some(NodeXattrs { list, value }));
        }
        Ok(out)
    }

    pub(super) async fn set_xattr<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
        name: Bytes,
        value: Vec<u8>,
    ) -> Outcome<Change> {
        let a = resolve(share, node).await?;
        match share.set_xattr(caller, &a, &name, value).await {
            Ok(after) => Ok(Change {
                before: Some(a),
                after: Some(after),
            }),
            Err(e) => Err(failed(share, e, a).await),
        }
    }

    pub(super) async fn remove_xattr<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
        name: Bytes,
    ) -> Outcome<Change> {
        let a = resolve(share, node).await?;
        match share.remove_xattr(caller, &a, &name).await {
            Ok(after) => Ok(Change {
                before: Some(a),
                after: Some(after),
            }),
            Err(e) => Err(failed(share, e, a).await),
        }
    }

    pub(super) async fn open<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
    ) -> Outcome<Attr> {
        let a = resolve(share, node).await?;
        match share.open_node(caller, &a) {
            Ok(()) => Ok(a),
            Err(e) => Err(unchanged(e, &a)),
        }
    }

    pub(super) async fn close<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        caller: &Caller,
        node: Node,
    ) -> Outcome<()> {
        share.close_node(caller, node).map_err(Failure::from)
    }
}

/// The failure a caller sees when the actor is gone (only at shutdown).
fn gone() -> Failure {
    Failure::from(OpError::Store(stores::StoreError::Io(
        std::io::Error::other("share actor stopped"),
    )))
}

/// A cloneable address of a share actor, with what front ends need to know of the share
/// without asking it.
#[derive(Debug, Clone)]
pub(crate) struct ShareHandle {
    tx: mpsc::Sender<ShareMsg>,
    locks_tx: mpsc::Sender<LockMsg>,
    /// Locks the share holds, as the actor last published it: I/O on a share without locks
    /// skips the lock manager.
    locks_held: Arc<AtomicUsize>,
    id: ShareId,
    root: Node,
    file_size_max: u64,
}

impl ShareHandle {
    async fn send(&self, msg: ShareMsg) -> Result<(), Failure> {
        self.tx.send(msg).await.map_err(|_| gone())
    }

    /// Takes byte-range locks ([`LockManager::lock`]).
    pub(crate) async fn lock(
        &self,
        node: Node,
        owner: LockOwner,
        ranges: Vec<LockRange>,
        wait: bool,
    ) -> Result<Locked, LockError> {
        let (reply, rx) = oneshot::channel();
        let msg = LockMsg::Lock {
            node,
            owner,
            ranges,
            wait,
            reply,
        };
        self.locks_tx
            .send(msg)
            .await
            .map_err(|_| LockError::NoLocks)?;
        rx.await.map_err(|_| LockError::NoLocks)?
    }

    /// Unlocks `ranges` in turn ([`LockManager::unlock`]): how many were unlocked, and the
    /// failure that stopped it.
    pub(crate) async fn unlock(
        &self,
        node: Node,
        owner: LockOwner,
        ranges: Vec<(u64, u64)>,
    ) -> (usize, Result<(), LockError>) {
        let (reply, rx) = oneshot::channel();
        let msg = LockMsg::Unlock {
            node,
            owner,
            ranges,
            reply,
        };
        if self.locks_tx.send(msg).await.is_err() {
            return (0, Err(LockError::NoLocks));
        }
        rx.await.unwrap_or((0, Err(LockError::NoLocks)))
    }

    /// Whether `owner` may do `io` on `[offset, offset + length)` of `node`
    /// ([`LockManager::check`]); free while the share holds no lock.
    pub(crate) async fn check_io(
        &self,
        node: Node,
        owner: &LockOwner,
        io: Io,
        offset: u64,
        length: u64,
    ) -> Result<(), LockError> {
        if length == 0 || self.locks_held.load(Ordering::Acquire) == 0 {
            return Ok(());
        }
        let (reply, rx) = oneshot::channel();
        let msg = LockMsg::Check {
            node,
            owner: owner.clone(),
            io,
            offset,
            length,
            reply,
        };
        self.locks_tx
            .send(msg)
            .await
            .map_err(|_| LockError::NoLocks)?;
        rx.await.map_err(|_| LockError::NoLocks)?
    }

    /// POSIX unlock for an NLM owner ([`LockManager::unlock_posix`]).
    pub(crate) async fn unlock_posix(
        &self,
        node: Node,
        owner: LockOwner,
        offset: u64,
        length: u64,
    ) -> Result<(), LockError> {
        let (reply, rx) = oneshot::channel();
        let msg = LockMsg::UnlockPosix {
            node,
            owner,
            offset,
            length,
            reply,
        };
        self.locks_tx
            .send(msg)
            .await
            .map_err(|_| LockError::NoLocks)?;
        rx.await.map_err(|_| LockError::NoLocks)?
    }

    /// The held lock that would stop `owner` from taking `range` ([`LockManager::test`]).
    pub(crate) async fn test_lock(
        &self,
        node: Node,
        owner: LockOwner,
        range: LockRange,
    ) -> Result<Option<(LockOwner, LockRange)>, LockError> {
        let (reply, rx) = oneshot::channel();
        let msg = LockMsg::Test {
            node,
            owner,
            range,
            reply,
        };
        self.locks_tx
            .send(msg)
            .await
            .map_err(|_| LockError::NoLocks)?;
        rx.await.map_err(|_| LockError::NoLocks)
    }

    /// Forgets waiting lock request `id` on `node` (its requester gave up).
    pub(crate) async fn cancel_lock(&self, node: Node, id: u64) {
        let _ = self.locks_tx.send(LockMsg::Cancel { node, id }).await;
    }

    /// Drops every lock and waiting request of the owners in `scope`; returns when done.
    pub(crate) async fn release_locks(&self, scope: Scope) {
        let (reply, rx) = oneshot::channel();
        let msg = LockMsg::Release {
            scope,
            reply: Some(reply),
        };
        if self.locks_tx.send(msg).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Gives the locks of the owners in `scope` to `to`; returns when done.
    pub(crate) async fn reown_locks(&self, scope: Scope, to: LockOwner) {
        let (reply, rx) = oneshot::channel();
        let msg = LockMsg::Reown { scope, to, reply };
        if self.locks_tx.send(msg).await.is_ok() {
            let _ = rx.await;
        }
    }

    /// Posts `msg` to the lock manager without waiting (from a `Drop`): a full mailbox gets
    /// it from a task of its own.
    pub(crate) fn post_lock_msg(&self, msg: LockMsg) {
        match self.locks_tx.try_send(msg) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(msg)) => {
                let tx = self.locks_tx.clone();
                tokio::spawn(async move {
                    let _ = tx.send(msg).await;
                });
            }
        }
    }

    /// The share's id.
    pub(crate) fn id(&self) -> ShareId {
        self.id
    }

    /// The share's root directory.
    pub(crate) fn root(&self) -> Node {
        self.root
    }

    /// The largest file size the share accepts.
    pub(crate) fn file_size_max(&self) -> u64 {
        self.file_size_max
    }
}

/// The actor that owns one share.
pub(crate) struct ShareActor<M, C> {
    share: Share<M, C>,
    rx: mpsc::Receiver<ShareMsg>,
    locks_rx: mpsc::Receiver<LockMsg>,
    /// The share's byte-range locks: owned here, changed only by this loop.
    locks: LockManager,
    concurrency: usize,
}

impl<M: MetadataStore, C: ContentStore> ShareActor<M, C> {
    /// Starts the actor for `share`, running up to `concurrency` operations at once; returns
    /// its handle.
    pub(crate) fn spawn(share: Share<M, C>, concurrency: usize) -> ShareHandle {
        let (tx, rx) = mpsc::channel(SHARE_MAILBOX_CAPACITY);
        let (locks_tx, locks_rx) = mpsc::channel(LOCK_MAILBOX_CAPACITY);
        let locks_held = Arc::new(AtomicUsize::new(0));
        let handle = ShareHandle {
            tx,
            locks_tx,
            locks_held: locks_held.clone(),
            id: share.id(),
            root: Node::from(share.root()),
            file_size_max: share.file_size_max(),
        };
        let actor = Self {
            share,
            rx,
            locks_rx,
            locks: LockManager::with_gauge(locks_held),
            concurrency: concurrency.max(1),
        };
        tokio::spawn(actor.run());
        handle
    }

    /// The loop: lock requests first, answered here at once from memory (they never wait
    /// behind store operations); otherwise one permit, then one message. It waits for a
    /// permit first, so while `concurrency` operations run, messages wait in the bounded
    /// mailbox (backpressure).
    /// Exit path: the mailboxes close when every handle is gone; then it waits for the
    /// running operations (by taking every permit) and returns.
    async fn run(self) {
        let Self {
            share,
            mut rx,
            mut locks_rx,
            mut locks,
            concurrency,
        } = self;
        let running = Arc::new(Semaphore::new(concurrency));
        loop {
            let next = tokio::select! {
                biased;
                Some(m) = locks_rx.recv() => {
                    handle_lock(&mut locks, m);
                    continue;
                }
                next = async {
                    let permit = running
                        .clone()
                        .acquire_owned()
                        .await
                        .expect("share semaphore is never closed");
                    (permit, rx.recv().await)
                } => next,
            };
            let (permit, Some(msg)) = next else {
                break;
            };
            let share = share.clone();
            tokio::spawn(async move {
                run(&share, msg).await;
                drop(permit);
            });
        }
        let n = u32::try_from(concurrency).unwrap_or(u32::MAX);
        let _ = running.acquire_many(n).await;
    }
}

/// Runs one lock-manager request.
fn handle_lock(locks: &mut LockManager, msg: LockMsg) {
    match msg {
        LockMsg::Lock {
            node,
            owner,
            ranges,
            wait,
            reply,
        } => {
            let r = locks.lock(node, &owner, &ranges, wait);
            if let Err(Ok(Locked::Granted)) = reply.send(r) {
                // The requester is gone: what it was granted goes with it.
                for r in &ranges {
                    let _ = locks.unlock(node, &owner, r.offset, r.length);
                }
            }
        }
        LockMsg::Unlock {
            node,
            owner,
            ranges,
            reply,
        } => {
            let mut done = 0;
            let mut result = Ok(());
            for (offset, length) in ranges {
                if let Err(e) = locks.unlock(node, &owner, offset, length) {
                    result = Err(e);
                    break;
                }
                done += 1;
            }
            let _ = reply.send((done, result));
        }
        LockMsg::Check {
            node,
            owner,
            io,
            offset,
            length,
            reply,
        } => {
            let _ = reply.send(locks.check(node, &owner, io, offset, length));
        }
        LockMsg::Release { scope, reply } => {
            locks.release(&scope);
            if let Some(reply) = reply {
                let _ = reply.send(());
            }
        }
        LockMsg::Reown { scope, to, reply } => {
            locks.reown(scope, &to);
            let _ = reply.send(());
        }
        LockMsg::UnlockPosix {
            node,
            owner,
            offset,
            length,
            reply,
        } => {
            let _ = reply.send(locks.unlock_posix(node, &owner, offset, length));
        }
        LockMsg::Test {
            node,
            owner,
            range,
            reply,
        } => {
            let _ = reply.send(locks.test(node, &owner, range));
        }
        LockMsg::Cancel { node, id } => locks.cancel(node, id),
    }
}
