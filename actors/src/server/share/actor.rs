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
//!
//! Byte-range locks across gateways: when the share's metadata store is shared by several
//! gateway processes (`MetadataStore::shares_locks`, PostgreSQL), a lock granted here is also
//! checked against, and published to, the other gateways through the store
//! ([`RemoteLocks`]). Those store calls are database round trips, so the actor never awaits
//! them in its loop: it makes the local decision at once (as without a shared store), spawns
//! the store call as a task of its own, keeps answering other lock messages, and finishes the
//! request when the call's result comes back into its loop (see [`RemoteLocks`] for why this
//! and not a call in the requester's task).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use stores::{
    Attr, ContentStore, Cookie, ForeignLock, InodeId, LockNews, MetadataStore, RangeLock,
    StoreResult, Timestamp, Usage, XattrEntry,
};
use tokio::sync::{Semaphore, broadcast, mpsc, oneshot};
use tokio::task::JoinSet;

use super::locks::{
    Grant, Io, LockError, LockManager, LockOwner, LockRange, Locked, Scope, WaitReply,
};
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
    /// The ranges `owner` holds on `node` (what an SMB durable open records to take back
    /// after a restart).
    Held {
        /// The file.
        node: Node,
        /// Whose locks.
        owner: LockOwner,
        /// The answer.
        reply: oneshot::Sender<Vec<LockRange>>,
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
    /// Stores SMB durable open `id`'s `record` in the share's metadata store
    /// (`MetadataStore::put_durable_open`; nothing where the store keeps none).
    PutDurable => put_durable(id: u64, record: Vec<u8>) -> ();
    /// Removes SMB durable open `id`'s record.
    RemoveDurable => remove_durable(id: u64) -> ();
    /// Every SMB durable-open record of the share, with its id.
    DurableOpens => durable_opens() -> Vec<(u64, Vec<u8>)>;
    /// Tells other gateways following the metadata store that `entries` of `dir` changed
    /// (`MetadataStore::announce`: modifications, which no namespace change announces).
    Announce => announce(dir: Node, entries: Vec<stores::EntryChange>) -> ();
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

    // The durable-open records are the server's own bookkeeping, not a caller's operation:
    // no permission applies.
    pub(super) async fn put_durable<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        _caller: &Caller,
        id: u64,
        record: Vec<u8>,
    ) -> Outcome<()> {
        let r = share
            .meta()
            .put_durable_open(share.name(), id, record)
            .await;
        r.map_err(|e| Failure::from(OpError::Store(e)))
    }

    pub(super) async fn remove_durable<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        _caller: &Caller,
        id: u64,
    ) -> Outcome<()> {
        let r = share.meta().remove_durable_open(share.name(), id).await;
        r.map_err(|e| Failure::from(OpError::Store(e)))
    }

    pub(super) async fn announce<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        _caller: &Caller,
        dir: Node,
        entries: Vec<stores::EntryChange>,
    ) -> Outcome<()> {
        let r = share
            .meta()
            .announce(dir.ino, dir.generation, entries)
            .await;
        r.map_err(|e| Failure::from(OpError::Store(e)))
    }

    pub(super) async fn durable_opens<M: MetadataStore, C: ContentStore>(
        share: &Share<M, C>,
        _caller: &Caller,
    ) -> Outcome<Vec<(u64, Vec<u8>)>> {
        let r = share.meta().durable_opens(share.name()).await;
        r.map_err(|e| Failure::from(OpError::Store(e)))
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
    /// Other gateways' locks the actor mirrors (shared stores only), counted the same way.
    foreign_held: Arc<AtomicUsize>,
    id: ShareId,
    root: Node,
    file_size_max: u64,
    /// The share's metadata store keeps SMB durable-open records across a restart.
    keeps_durable: bool,
    /// Whether other gateways share the metadata store (`MetadataStore::shares_locks`), so
    /// changes may need announcing to them.
    shared: bool,
    /// The entries nodes were last reached by through a front end that names nodes by
    /// handle (NFS); `None` where nothing could use them (no SMB served here and no other
    /// gateway sharing the store), so NFS LOOKUP and READDIRPLUS pay nothing for them.
    names: Option<Arc<super::foreign::NameHints>>,
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
        if length == 0
            || (self.locks_held.load(Ordering::Acquire) == 0
                && self.foreign_held.load(Ordering::Acquire) == 0)
        {
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

    /// The ranges `owner` holds on `node` (this gateway's locks; empty when the manager is
    /// gone).
    pub(crate) async fn held_locks(&self, node: Node, owner: LockOwner) -> Vec<LockRange> {
        let (reply, rx) = oneshot::channel();
        let msg = LockMsg::Held { node, owner, reply };
        if self.locks_tx.send(msg).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
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

    /// Whether the share's metadata store keeps SMB durable-open records across a restart
    /// (`MetadataStore::keeps_durable_opens`).
    pub(crate) fn keeps_durable(&self) -> bool {
        self.keeps_durable
    }

    /// Whether other gateways share the share's metadata store, so that a modification
    /// worth telling their watchers must be announced ([`Self::announce`]).
    pub(crate) fn shared(&self) -> bool {
        self.shared
    }

    /// The entries nodes of the share were last reached by
    /// ([`super::foreign::NameHints`]), where they are kept.
    pub(crate) fn names(&self) -> Option<&super::foreign::NameHints> {
        self.names.as_deref()
    }
}

/// The actor that owns one share.
pub(crate) struct ShareActor<M, C> {
    share: Share<M, C>,
    rx: mpsc::Receiver<ShareMsg>,
    locks_rx: mpsc::Receiver<LockMsg>,
    /// The share's byte-range locks: owned here, changed only by this loop.
    locks: LockState<M>,
    concurrency: usize,
}

impl<M: MetadataStore, C: ContentStore> ShareActor<M, C> {
    /// Starts the actor for `share`, running up to `concurrency` operations at once, keeping
    /// name hints when `names` (see [`ShareHandle::names`]); returns its handle.
    pub(crate) fn spawn(share: Share<M, C>, concurrency: usize, names: bool) -> ShareHandle {
        let (tx, rx) = mpsc::channel(SHARE_MAILBOX_CAPACITY);
        let (locks_tx, locks_rx) = mpsc::channel(LOCK_MAILBOX_CAPACITY);
        let locks_held = Arc::new(AtomicUsize::new(0));
        let foreign_held = Arc::new(AtomicUsize::new(0));
        let handle = ShareHandle {
            tx,
            locks_tx,
            locks_held: locks_held.clone(),
            foreign_held: foreign_held.clone(),
            id: share.id(),
            root: Node::from(share.root()),
            file_size_max: share.file_size_max(),
            keeps_durable: share.meta().keeps_durable_opens(),
            shared: share.meta().shares_locks(),
            names: names.then(Arc::default),
        };
        let mut manager = LockManager::with_gauge(locks_held);
        let remote = share.meta().shares_locks().then(|| {
            manager.confirm_grants();
            RemoteLocks::new(share.meta().clone(), foreign_held)
        });
        let actor = Self {
            share,
            rx,
            locks_rx,
            locks: LockState { manager, remote },
            concurrency: concurrency.max(1),
        };
        tokio::spawn(actor.run());
        handle
    }

    /// The loop: results of the lock manager's store calls and its retry timer first (shared
    /// locks only), then lock requests, answered here from memory (they never wait behind
    /// store operations); otherwise one permit, then one message. It waits for a
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
            let active = locks.remote.as_ref().is_some_and(RemoteLocks::is_active);
            let next = tokio::select! {
                biased;
                Some(event) = async { locks.remote.as_mut()?.next_event().await }, if active => {
                    locks.on_event(event);
                    continue;
                }
                Some(m) = locks_rx.recv() => {
                    locks.handle(m);
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
            let _ = reply.send(unlock_each(locks, node, &owner, ranges));
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
        LockMsg::Held { node, owner, reply } => {
            let _ = reply.send(locks.owner_ranges(node, &owner));
        }
        LockMsg::Cancel { node, id } => locks.cancel(node, id),
    }
}

/// The share's byte-range locks: the manager, and the store side when the metadata store
/// shares locks between gateways.
struct LockState<M> {
    manager: LockManager,
    remote: Option<RemoteLocks<M>>,
}

/// The first pause before parked waiters (blocked by another gateway's lock) are tried
/// again; it doubles after each try that leaves one parked, up to [`REMOTE_RETRY_MAX`].
pub(crate) const REMOTE_RETRY_MIN: Duration = Duration::from_millis(50);
/// The longest pause between two tries of parked waiters: a lock another gateway releases
/// is granted here at most this late.
pub(crate) const REMOTE_RETRY_MAX: Duration = Duration::from_secs(1);

/// The store side of the lock manager, for a metadata store that several gateways share
/// (`MetadataStore::shares_locks`).
///
/// Every local change to an owner's locks on a node is published to the store
/// (`MetadataStore::publish_locks`, replacing what this gateway published for that owner and
/// node with what it holds now), and every grant is first checked against the other
/// gateways' locks in the same atomic store call, before the requester hears of it:
/// - A request the manager grants is held locally (so later local requests see it) and
///   answered only when the store confirmed it. If another gateway holds a conflicting lock,
///   the grant is undone ([`LockManager::undo_grant`]): a request that may not wait gets
///   [`LockError::Conflict`], exactly as for a local conflict; a blocking one is answered
///   [`Locked::Queued`] and waits *parked* in the manager, so cancelling it, closing its open
///   or releasing its owner works as for every local waiter, and it keeps its place ahead of
///   later requests.
/// - Parked waiters are tried again on a timer with backoff ([`REMOTE_RETRY_MIN`] doubling
///   to [`REMOTE_RETRY_MAX`]): unparked, granted by the manager when nothing local is in the
///   way, and confirmed through the store again.
/// - Unlock, POSIX unlock, release (close, NLM FREE_ALL) and re-owning change the manager at
///   once and answer after the store call that publishes the change, so an unlock answered
///   through one gateway is visible to every other.
/// - NLM TEST asks the store for another gateway's conflicting lock when none is held here.
///
/// Why the store call runs as a task whose result comes back into the actor's loop, rather
/// than in the requester's task before or after its actor step: the outcome of a grant
/// changes the manager (undo, park), waiters granted by someone else's unlock have no
/// requester task that could make the call, and per node the calls must reach the store in
/// the order the manager made the changes (a publication carries the owner's locks as they
/// are when it starts). So the actor keeps, per node, a queue of store calls with one running
/// at a time; lock messages for other nodes, and for the same node, are handled meanwhile, so
/// the bounded mailbox never waits on the database. The queues hold at most one entry per
/// requester waiting for an answer plus the publications of releases, and the running calls
/// are one per node, so they are bounded by what the connections may have in flight.
///
/// Other gateways' locks are mirrored here ([`Mirror`]) from the store's lock news
/// (`MetadataStore::lock_news`), so READ and WRITE checks (SMB mandatory locking, `Check`)
/// see them without a database round trip per I/O, and parked waiters are tried again as
/// soon as another gateway changes its locks on their node (the timer remains as a
/// fallback). The mirror trails the store by the news' latency (a notification and one
/// query, milliseconds): a READ or WRITE in that window after another gateway's grant is not
/// refused. Lock grants never depend on the mirror (they are checked in the store).
///
/// A failed publication (database unreachable) is retried on the timer; until
/// then other gateways may see a lock that was released here, never miss one that is held
/// (grants are only answered after a successful store call). When the actor stops, store
/// calls still queued are dropped; the locks they would have removed go with the gateway's
/// session when it expires.
struct RemoteLocks<M> {
    meta: Arc<M>,
    /// Per node: store calls waiting, the first one running.
    queue: BTreeMap<(u64, u64), VecDeque<StoreCall>>,
    /// The running calls.
    tasks: JoinSet<CallEnd>,
    /// The node of each running call, by task (to find its queue if the task panicked).
    running: HashMap<tokio::task::Id, Node>,
    /// (node, owner) pairs whose publication failed, published again at the next retry.
    dirty: BTreeSet<((u64, u64), LockOwner)>,
    /// When parked waiters and failed publications are tried again.
    retry: Option<Pin<Box<tokio::time::Sleep>>>,
    backoff: Duration,
    /// Other gateways' locks.
    mirror: Mirror,
}

/// A mirror load's inode (`None`: all) and what it found.
type Load = (Option<InodeId>, StoreResult<Vec<(InodeId, ForeignLock)>>);

/// The most foreign locks a share's mirror holds: beyond it, further ones are not mirrored
/// (logged), so I/O checks miss them while lock grants, checked in the store, do not.
pub(crate) const MIRROR_MAX: usize = 65_536;

/// Other gateways' locks as this actor knows them: loaded whole at start and after every
/// [`LockNews::Resync`], and per inode on [`LockNews::Changed`]. One load runs per inode at a
/// time; news arriving meanwhile loads it again after, so every change is followed by a load
/// that started after it committed.
struct Mirror {
    /// The news; `None` when the store has none (or the feed ended).
    news: Option<broadcast::Receiver<LockNews>>,
    /// Per inode, its foreign locks (inodes without any are absent).
    locks: HashMap<u64, Vec<ForeignLock>>,
    /// How many locks `locks` holds, published for [`ShareHandle::check_io`].
    count: Arc<AtomicUsize>,
    /// The loads running: `None` for the whole mirror.
    loads: JoinSet<Load>,
    /// Inodes with a load running, and whether news came for them since it started.
    loading: HashMap<u64, bool>,
    /// A whole load runs, and whether news to resynchronise came since it started.
    resyncing: Option<bool>,
    /// A load failed: the retry timer loads the whole mirror again.
    stale: bool,
}

/// One store call of the lock manager.
enum StoreCall {
    /// Check a grant against the other gateways and publish it.
    Confirm(Confirm),
    /// Publish `owner`'s locks on the node as they are when the call starts; the answers
    /// go when it is done.
    Publish {
        owner: LockOwner,
        answers: Vec<Arc<AfterAll>>,
    },
}

/// A grant waiting for the store.
struct Confirm {
    owner: LockOwner,
    ranges: Vec<LockRange>,
    /// Per range, the owner's locks it replaced (POSIX owners), for an undo.
    displaced: Vec<Vec<LockRange>>,
    to: ConfirmTo,
}

/// Who waits for a grant's confirmation.
enum ConfirmTo {
    /// A LOCK request granted at once.
    Request {
        wait: bool,
        reply: oneshot::Sender<Result<Locked, LockError>>,
    },
    /// A waiter the manager granted.
    Waiter { id: u64, reply: WaitReply },
}

/// An answer sent when its last holder drops it: a release answered once every store call
/// it waits for is done.
struct AfterAll(Option<Box<dyn FnOnce() + Send + Sync>>);

impl AfterAll {
    fn new(f: impl FnOnce() + Send + Sync + 'static) -> Arc<Self> {
        Arc::new(Self(Some(Box::new(f))))
    }
}

impl Drop for AfterAll {
    fn drop(&mut self) {
        if let Some(f) = self.0.take() {
            f();
        }
    }
}

/// A store call's node and result.
type CallEnd = (Node, StoreResult<Option<ForeignLock>>);

/// What woke the store side.
enum RemoteEvent {
    /// A store call ended (or its task panicked).
    Done(Result<(tokio::task::Id, CallEnd), tokio::task::JoinError>),
    /// The retry timer fired.
    Retry,
    /// Lock news (`Err`: lagged or the feed ended).
    News(Result<LockNews, broadcast::error::RecvError>),
    /// A mirror load ended.
    Loaded(Result<Load, tokio::task::JoinError>),
}

fn range_lock(r: LockRange) -> RangeLock {
    RangeLock {
        offset: r.offset,
        length: r.length,
        exclusive: r.exclusive,
    }
}

impl<M: MetadataStore> RemoteLocks<M> {
    fn new(meta: Arc<M>, foreign_held: Arc<AtomicUsize>) -> Self {
        let mut remote = Self {
            mirror: Mirror {
                news: meta.lock_news(),
                locks: HashMap::new(),
                count: foreign_held,
                loads: JoinSet::new(),
                loading: HashMap::new(),
                resyncing: None,
                stale: false,
            },
            meta,
            queue: BTreeMap::new(),
            tasks: JoinSet::new(),
            running: HashMap::new(),
            dirty: BTreeSet::new(),
            retry: None,
            backoff: REMOTE_RETRY_MIN,
        };
        if remote.mirror.news.is_some() {
            remote.load(None);
        }
        remote
    }

    /// Whether a store call or a load runs, the timer is set or news may come.
    fn is_active(&self) -> bool {
        !self.tasks.is_empty()
            || self.retry.is_some()
            || self.mirror.news.is_some()
            || !self.mirror.loads.is_empty()
    }

    /// Loads the foreign locks of `ino` (`None`: all) into the mirror, unless a load of it
    /// runs (then it runs again after).
    fn load(&mut self, ino: Option<InodeId>) {
        let m = &mut self.mirror;
        let running = match ino {
            None => m.resyncing.replace(false).is_some(),
            Some(i) => m.loading.insert(i.0, false).is_some(),
        };
        if running {
            // Flag the running load to be followed by another.
            match ino {
                None => m.resyncing = Some(true),
                Some(i) => {
                    m.loading.insert(i.0, true);
                }
            }
            return;
        }
        let meta = self.meta.clone();
        m.loads
            .spawn(async move { (ino, meta.foreign_locks(ino, MIRROR_MAX).await) });
    }

    /// A load ended: the mirror takes its result; a load that news overtook runs again.
    fn loaded(&mut self, ino: Option<InodeId>, result: StoreResult<Vec<(InodeId, ForeignLock)>>) {
        let m = &mut self.mirror;
        let again = match ino {
            None => m.resyncing.take().unwrap_or(false),
            Some(i) => m.loading.remove(&i.0).unwrap_or(false),
        };
        match result {
            Ok(rows) => {
                if rows.len() >= MIRROR_MAX {
                    tracing::warn!(
                        limit = MIRROR_MAX,
                        "other gateways hold more byte-range locks than this share mirrors; \
                         reads and writes are not checked against the rest"
                    );
                }
                match ino {
                    None => m.locks.clear(),
                    Some(i) => {
                        m.locks.remove(&i.0);
                    }
                }
                let mut total: usize = m.locks.values().map(Vec::len).sum();
                for (i, lock) in rows {
                    if total >= MIRROR_MAX {
                        break;
                    }
                    m.locks.entry(i.0).or_default().push(lock);
                    total += 1;
                }
                m.count.store(total, Ordering::Release);
            }
            Err(e) => {
                tracing::warn!(error = %e, "loading other gateways' byte-range locks failed; retrying");
                // Whole, at the retry timer's pace (never a busy loop).
                m.stale = true;
            }
        }
        if again {
            self.load(ino);
        }
    }

    /// Whether another gateway's mirrored lock keeps `io` on `[offset, offset + length)` of
    /// `node` from happening (its owner is never this gateway's).
    fn foreign_conflict(&self, node: Node, io: Io, offset: u64, length: u64) -> bool {
        self.mirror
            .locks
            .get(&node.ino.0)
            .is_some_and(|locks| io_conflict(locks, io, offset, length))
    }

    /// The next store call to end, load to end or news, or the timer.
    async fn next_event(&mut self) -> Option<RemoteEvent> {
        tokio::select! {
            biased;
            Some(done) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                Some(RemoteEvent::Done(done))
            }
            Some(done) = self.mirror.loads.join_next(), if !self.mirror.loads.is_empty() => {
                Some(RemoteEvent::Loaded(done))
            }
            news = async {
                match self.mirror.news.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            } => Some(RemoteEvent::News(news)),
            () = async {
                match self.retry.as_mut() {
                    Some(sleep) => sleep.await,
                    None => std::future::pending().await,
                }
            } => {
                self.retry = None;
                Some(RemoteEvent::Retry)
            }
        }
    }

    /// Queues `call` on `node`, starting it if nothing runs there.
    fn enqueue(&mut self, manager: &LockManager, node: Node, call: StoreCall) {
        let q = self.queue.entry(super::locks::node_key(node)).or_default();
        // A publication of an owner not yet started already carries the newest state.
        if let StoreCall::Publish { owner, answers } = call {
            let waiting = q.iter_mut().skip(1).find_map(|c| match c {
                StoreCall::Publish { owner: o, answers } if *o == owner => Some(answers),
                _ => None,
            });
            match waiting {
                Some(a) => a.extend(answers),
                None => q.push_back(StoreCall::Publish { owner, answers }),
            }
        } else {
            q.push_back(call);
        }
        if q.len() == 1 {
            self.start(manager, node);
        }
    }

    fn publish(
        &mut self,
        manager: &LockManager,
        node: Node,
        owner: LockOwner,
        answer: Option<Arc<AfterAll>>,
    ) {
        let answers = answer.into_iter().collect();
        self.enqueue(manager, node, StoreCall::Publish { owner, answers });
    }

    /// Starts the first call queued on `node`, with the owner's locks as they are now.
    fn start(&mut self, manager: &LockManager, node: Node) {
        let Some(call) = self
            .queue
            .get(&super::locks::node_key(node))
            .and_then(VecDeque::front)
        else {
            return;
        };
        let (owner, wanted) = match call {
            StoreCall::Confirm(c) => (&c.owner, c.ranges.iter().copied().map(range_lock).collect()),
            StoreCall::Publish { owner, .. } => (owner, Vec::new()),
        };
        let held: Vec<RangeLock> = manager
            .owner_ranges(node, owner)
            .into_iter()
            .map(range_lock)
            .collect();
        let bytes = owner.to_bytes();
        let meta = self.meta.clone();
        let task = self.tasks.spawn(async move {
            let r = meta.publish_locks(node.ino, &bytes, &wanted, &held).await;
            (node, r)
        });
        self.running.insert(task.id(), node);
    }

    /// Arms the retry timer if something waits for it.
    fn arm(&mut self, manager: &LockManager) {
        if self.retry.is_some() {
            return;
        }
        if self.dirty.is_empty() && !manager.has_parked() && !self.mirror.stale {
            self.backoff = REMOTE_RETRY_MIN;
            return;
        }
        self.retry = Some(Box::pin(tokio::time::sleep(self.backoff)));
        self.backoff = (self.backoff * 2).min(REMOTE_RETRY_MAX);
    }
}

impl<M: MetadataStore> LockState<M> {
    /// Runs one lock-manager request.
    fn handle(&mut self, msg: LockMsg) {
        let Some(remote) = self.remote.as_mut() else {
            handle_lock(&mut self.manager, msg);
            return;
        };
        let m = &mut self.manager;
        match msg {
            LockMsg::Lock {
                node,
                owner,
                ranges,
                wait,
                reply,
            } => {
                let displaced = m.displaced(node, &owner, &ranges);
                match m.lock(node, &owner, &ranges, wait) {
                    Ok(Locked::Granted) => {
                        let call = StoreCall::Confirm(Confirm {
                            owner,
                            ranges,
                            displaced,
                            to: ConfirmTo::Request { wait, reply },
                        });
                        remote.enqueue(m, node, call);
                    }
                    other => {
                        let _ = reply.send(other);
                    }
                }
            }
            LockMsg::Unlock {
                node,
                owner,
                ranges,
                reply,
            } => {
                let (done, result) = unlock_each(m, node, &owner, ranges);
                if done == 0 {
                    let _ = reply.send((done, result));
                } else {
                    let answer = AfterAll::new(move || {
                        let _ = reply.send((done, result));
                    });
                    remote.publish(m, node, owner, Some(answer));
                }
            }
            LockMsg::UnlockPosix {
                node,
                owner,
                offset,
                length,
                reply,
            } => {
                let before = m.owner_ranges(node, &owner);
                let result = m.unlock_posix(node, &owner, offset, length);
                if m.owner_ranges(node, &owner) == before {
                    let _ = reply.send(result);
                } else {
                    let answer = AfterAll::new(move || {
                        let _ = reply.send(result);
                    });
                    remote.publish(m, node, owner, Some(answer));
                }
            }
            LockMsg::Release { scope, reply } => {
                let holders = m.holders(&scope);
                m.release(&scope);
                let answer = AfterAll::new(move || {
                    if let Some(reply) = reply {
                        let _ = reply.send(());
                    }
                });
                for (node, owner) in holders {
                    remote.publish(m, node, owner, Some(answer.clone()));
                }
            }
            LockMsg::Reown { scope, to, reply } => {
                let holders = m.holders(&scope);
                m.reown(scope, &to);
                let answer = AfterAll::new(move || {
                    let _ = reply.send(());
                });
                for (node, owner) in holders {
                    remote.publish(m, node, owner, Some(answer.clone()));
                    remote.publish(m, node, to.clone(), Some(answer.clone()));
                }
            }
            LockMsg::Test {
                node,
                owner,
                range,
                reply,
            } => {
                if let Some(found) = m.test(node, &owner, range) {
                    let _ = reply.send(Some(found));
                } else {
                    // A read: no order to keep, so a task of its own (one per waiting caller).
                    let meta = remote.meta.clone();
                    tokio::spawn(async move {
                        let found = match meta.foreign_lock(node.ino, range_lock(range)).await {
                            Ok(found) => found,
                            Err(e) => {
                                tracing::warn!(error = %e, "lock test: the store could not be asked for other gateways' locks");
                                None
                            }
                        };
                        let _ = reply.send(found.map(foreign));
                    });
                }
            }
            LockMsg::Check {
                node,
                owner,
                io,
                offset,
                length,
                reply,
            } => {
                let local = m.check(node, &owner, io, offset, length);
                if local.is_err() || !remote.foreign_conflict(node, io, offset, length) {
                    let _ = reply.send(local);
                } else {
                    // The mirror may trail a release (the unlock answered through the other
                    // gateway, its news not here yet): the store confirms before the I/O is
                    // refused. A read with no order to keep: a task of its own, one per
                    // waiting I/O. The mirror reloads the node meanwhile.
                    remote.load(Some(node.ino));
                    let meta = remote.meta.clone();
                    tokio::spawn(async move {
                        let held = match meta.foreign_locks(Some(node.ino), MIRROR_MAX).await {
                            Ok(rows) => {
                                io_conflict(rows.iter().map(|(_, f)| f), io, offset, length)
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, "I/O lock check: the store could not confirm another gateway's lock; refusing as the mirror says");
                                true
                            }
                        };
                        let _ = reply.send(if held {
                            Err(LockError::Conflict)
                        } else {
                            Ok(())
                        });
                    });
                }
            }
            msg @ (LockMsg::Cancel { .. } | LockMsg::Held { .. }) => handle_lock(m, msg),
        }
        self.settle();
    }

    /// Hands the waiters the manager granted to the store, and arms the retry timer when
    /// something is parked or dirty.
    fn settle(&mut self) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        // Confirming may undo grants, which may grant others: loop until quiet.
        loop {
            let granted = self.manager.take_granted();
            if granted.is_empty() {
                break;
            }
            for g in granted {
                let Grant {
                    node,
                    id,
                    owner,
                    range,
                    displaced,
                    reply,
                } = g;
                let call = StoreCall::Confirm(Confirm {
                    owner,
                    ranges: vec![range],
                    displaced: vec![displaced],
                    to: ConfirmTo::Waiter { id, reply },
                });
                remote.enqueue(&self.manager, node, call);
            }
        }
        remote.arm(&self.manager);
    }

    /// A store call ended, or the retry timer fired.
    fn on_event(&mut self, event: RemoteEvent) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        match event {
            RemoteEvent::Retry => {
                self.manager.unpark_all();
                for (k, owner) in std::mem::take(&mut remote.dirty) {
                    remote.publish(&self.manager, super::locks::node_of_key(k), owner, None);
                }
                if std::mem::take(&mut remote.mirror.stale) {
                    remote.load(None);
                }
            }
            RemoteEvent::News(news) => match news {
                Ok(LockNews::Changed(ino)) => remote.load(Some(ino)),
                Ok(LockNews::Resync) | Err(broadcast::error::RecvError::Lagged(_)) => {
                    remote.load(None);
                }
                Err(broadcast::error::RecvError::Closed) => {
                    tracing::warn!(
                        "the lock news feed ended; other gateways' locks are no longer mirrored"
                    );
                    remote.mirror.news = None;
                }
            },
            RemoteEvent::Loaded(Ok((ino, result))) => {
                remote.loaded(ino, result);
                // Another gateway's locks changed: what waits parked may go now.
                self.manager.unpark_all();
            }
            RemoteEvent::Loaded(Err(e)) => {
                tracing::error!(error = %e, "loading other gateways' locks failed to run");
                remote.mirror.loading.clear();
                remote.mirror.resyncing = None;
                remote.mirror.stale = true;
            }
            RemoteEvent::Done(Ok((id, (node, result)))) => {
                remote.running.remove(&id);
                self.finish(node, result);
            }
            RemoteEvent::Done(Err(e)) => {
                tracing::error!(error = %e, "a lock store call failed to run");
                if let Some(node) = remote.running.remove(&e.id()) {
                    self.finish(
                        node,
                        Err(stores::StoreError::Io(std::io::Error::other(
                            "lock store call panicked",
                        ))),
                    );
                }
            }
        }
        self.settle();
    }

    /// Finishes the running call of `node` with `result`, then starts the next one there.
    fn finish(&mut self, node: Node, result: StoreResult<Option<ForeignLock>>) {
        let Some(remote) = self.remote.as_mut() else {
            return;
        };
        let k = super::locks::node_key(node);
        let Some(call) = remote.queue.get_mut(&k).and_then(VecDeque::pop_front) else {
            return;
        };
        let m = &mut self.manager;
        match call {
            StoreCall::Publish { owner, answers } => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "publishing byte-range locks to the shared store failed; retrying");
                    remote.dirty.insert((k, owner));
                }
                drop(answers);
            }
            StoreCall::Confirm(c) => {
                let undo = |m: &mut LockManager| {
                    let mut held = true;
                    for (r, d) in c.ranges.iter().zip(&c.displaced).rev() {
                        held &= m.undo_grant(node, &c.owner, *r, d);
                    }
                    held
                };
                match result {
                    Ok(None) => {
                        let gone = match c.to {
                            ConfirmTo::Request { reply, .. } => {
                                reply.send(Ok(Locked::Granted)).is_err()
                            }
                            ConfirmTo::Waiter { reply, .. } => reply.send(Ok(())).is_err(),
                        };
                        if gone {
                            // The requester left meanwhile: what it was granted goes with it.
                            undo(m);
                            remote.publish(m, node, c.owner.clone(), None);
                        }
                    }
                    Ok(Some(holder)) => {
                        tracing::debug!(holder = ?LockOwner::from_bytes(&holder.owner), "lock held by another gateway");
                        let held = undo(m);
                        match c.to {
                            ConfirmTo::Request { wait, reply }
                                if wait && held && c.ranges.len() == 1 =>
                            {
                                let (id, rx) = m.park(node, &c.owner, c.ranges[0], None);
                                let answer = match rx {
                                    Some(rx) => Ok(Locked::Queued { id, rx }),
                                    None => Err(LockError::Cancelled),
                                };
                                let _ = reply.send(answer);
                            }
                            ConfirmTo::Request { reply, .. } => {
                                let _ = reply.send(Err(if held {
                                    LockError::Conflict
                                } else {
                                    LockError::Cancelled
                                }));
                            }
                            ConfirmTo::Waiter { id, reply } if held => {
                                m.park(node, &c.owner, c.ranges[0], Some((id, reply)));
                            }
                            ConfirmTo::Waiter { reply, .. } => {
                                let _ = reply.send(Err(LockError::Cancelled));
                            }
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "checking a lock with the other gateways failed");
                        undo(m);
                        match c.to {
                            ConfirmTo::Request { reply, .. } => {
                                let _ = reply.send(Err(LockError::NoLocks));
                            }
                            ConfirmTo::Waiter { reply, .. } => {
                                let _ = reply.send(Err(LockError::NoLocks));
                            }
                        }
                        // The call may have committed before failing: publish what is held.
                        remote.publish(m, node, c.owner, None);
                    }
                }
            }
        }
        if remote.queue.get(&k).is_some_and(|q| !q.is_empty()) {
            remote.start(m, node);
        } else {
            remote.queue.remove(&k);
        }
    }
}

/// Whether one of `locks` (other gateways': never the I/O's owner) keeps `io` on
/// `[offset, offset + length)` from happening: any overlapping lock stops a write, an
/// exclusive one a read; a zero-length access never conflicts.
fn io_conflict<'a>(
    locks: impl IntoIterator<Item = &'a ForeignLock>,
    io: Io,
    offset: u64,
    length: u64,
) -> bool {
    if length == 0 {
        return false;
    }
    let length = length.min(u64::MAX - offset).max(1);
    locks.into_iter().any(|f| {
        super::locks::overlap(f.lock.offset, f.lock.length, offset, length)
            && (f.lock.exclusive || io == Io::Write)
    })
}

/// Another gateway's lock as NLM TEST reports it.
fn foreign(f: ForeignLock) -> (LockOwner, LockRange) {
    (
        LockOwner::from_bytes(&f.owner),
        LockRange {
            offset: f.lock.offset,
            length: f.lock.length,
            exclusive: f.lock.exclusive,
        },
    )
}

/// Unlocks each (offset, length) in turn, stopping at the first failure.
fn unlock_each(
    locks: &mut LockManager,
    node: Node,
    owner: &LockOwner,
    ranges: Vec<(u64, u64)>,
) -> (usize, Result<(), LockError>) {
    let mut done = 0;
    for (offset, length) in ranges {
        if let Err(e) = locks.unlock(node, owner, offset, length) {
            return (done, Err(e));
        }
        done += 1;
    }
    (done, Ok(()))
}
