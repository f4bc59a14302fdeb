//! What one protocol's clients hold or watch that a change made through another protocol must
//! respect: SMB oplocks and leases, recalled before an NFS WRITE, truncating SETATTR, REMOVE
//! or RENAME touches the node ([MS-SMB2] 3.3.4.6, 3.3.4.7; Samba does the same for local and
//! NFS access through kernel oplocks), and SMB CHANGE_NOTIFY watches, told of NFS changes to
//! the directories they watch.
//!
//! The share core stays neutral: the front end that changes nodes without opens of its own
//! (NFS) calls a [`Foreign`] around its share calls; the front end whose clients cache and
//! watch (SMB) implements it. A recall's wait is bounded by the holder protocol's break
//! timeout, after which the change proceeds as if the holder had acknowledged (what
//! [MS-SMB2] 3.3.2.1 does for SMB's own opens).

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;

use super::{Node, ShareId};

/// What a change invalidates in a holder's caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recall {
    /// The node's bytes or size change: read and write caching go (cached writes are flushed
    /// before the holder acknowledges); handle caching stays.
    Data,
    /// The node's name goes away (removed, renamed, replaced by a rename): handle caching goes,
    /// so the holder closes the handles it kept open for reuse.
    Name,
}

/// A change to an entry of a directory, as watchers are told of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Event {
    /// The entry was created (or linked, or moved here from another directory).
    Added,
    /// The entry was removed (or moved to another directory).
    Removed,
    /// The entry's old name in a rename within the directory.
    RenamedFrom,
    /// The entry's new name in a rename within the directory.
    RenamedTo,
}

/// One changed entry: its name, what happened, and whether it is a directory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EntryChange<'a> {
    /// The entry's name in the directory.
    pub(crate) name: &'a [u8],
    /// What happened to it.
    pub(crate) event: Event,
    /// A directory (watchers filter file and directory names apart).
    pub(crate) is_dir: bool,
}

/// Another protocol's clients: their caching and their directory watches.
pub(crate) trait Foreign: Send + Sync + Debug {
    /// Whether anything on `share` may hold caching at all: a cheap check that lets a caller
    /// skip finding the node a name refers to.
    fn any_on(&self, share: ShareId) -> bool;

    /// Whether anything may hold caching on `node` of `share`: one lookup, so a change on
    /// the hot path (every NFS WRITE) pays nothing more when no SMB client has the file open.
    fn holds(&self, share: ShareId, node: Node) -> bool;

    /// Breaks what `change` invalidates in the caching held on `node` of `share`, and returns
    /// once the holders that must acknowledge did, or their break timed out.
    fn recall<'a>(
        &'a self,
        share: ShareId,
        node: Node,
        change: Recall,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

    /// Whether a directory on `share` is watched (`None`: none is), and whether a watch
    /// covers a whole tree (then [`Self::changed`] wants the directory's ancestors).
    fn watching(&self, share: ShareId) -> Option<bool>;

    /// Entries of directory `dir` on `share` changed; `ancestors` are the directory's
    /// ancestors' inodes up to the share root, nearest first (empty when
    /// [`Self::watching`] said no tree is watched).
    fn changed(&self, share: ShareId, dir: Node, ancestors: &[u64], changes: &[EntryChange<'_>]);
}
