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
//!
//! Directory changes made through *other gateways* on a metadata store several gateways share
//! reach the watches the same way: [`follow`] reads the store's feed
//! ([`stores::MetadataStore::dir_changes`]) for one share and calls [`Foreign::changed`], or
//! [`Foreign::lost_track`] when the feed may have missed changes.

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use stores::{DirEvent, DirFeed, EntryAction};
use tokio_util::sync::CancellationToken;

use super::actor::ShareHandle;
use super::{Caller, Node, ShareId};
use crate::identity::Permission;

/// Ancestors looked up for a tree watch at most: deeper directories' tree watchers above that
/// are not told.
const ANCESTORS_MAX: usize = 256;

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

    /// Changes on `share` may have been missed (another gateway's changes could not be
    /// followed for a while): every watch on the share must re-read its directory.
    fn lost_track(&self, share: ShareId);
}

/// The inodes of `dir`'s ancestors up to the share root, nearest first (at most
/// [`ANCESTORS_MAX`]), found with `..` lookups as `caller`: what [`Foreign::changed`] needs
/// when [`Foreign::watching`] says a tree is watched.
pub(crate) async fn ancestors(share: &ShareHandle, caller: &Caller, dir: Node) -> Vec<u64> {
    let mut ancestors = Vec::new();
    let mut at = dir;
    while ancestors.len() < ANCESTORS_MAX {
        match share
            .lookup(caller.clone(), at, Bytes::from_static(b".."))
            .await
        {
            Ok((p, _)) if Node::from(&p) != at => {
                at = Node::from(&p);
                ancestors.push(at.ino.0);
            }
            _ => break,
        }
    }
    ancestors
}

/// Feeds the directory changes other gateways make on `share`'s metadata store (`feed`) to
/// `foreign`'s watches until `shutdown`, or until the store stops following. An event is
/// offered to every share on the store: [`Foreign::changed`] matches watches by share and
/// inode, and inode ids are unique in a store, so only the share holding the directory
/// reacts. Each event costs nothing while no watch exists on the share, and `..` lookups
/// only while a tree watch does. A feed that fell behind or lost its connection
/// ([`DirEvent::Lost`]) makes every watch on the share re-read.
pub(crate) async fn follow(
    share: ShareHandle,
    mut feed: DirFeed,
    foreign: Arc<dyn Foreign>,
    shutdown: CancellationToken,
) {
    // `..` lookups need only search permission, which root has on every directory with an
    // execute bit; the lookups change nothing.
    let caller = Caller {
        user: None,
        uid: 0,
        gid: 0,
        gids: Vec::new(),
        permission: Permission::Read,
    };
    let id = share.id();
    loop {
        let event = tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            e = feed.recv() => e,
        };
        match event {
            None => return,
            Some(DirEvent::Lost) => foreign.lost_track(id),
            Some(DirEvent::Changed(c)) => {
                let Some(tree) = foreign.watching(id) else {
                    continue;
                };
                let dir = Node {
                    ino: c.dir,
                    generation: c.generation,
                };
                let ancestors = if tree {
                    ancestors(&share, &caller, dir).await
                } else {
                    Vec::new()
                };
                let changes: Vec<EntryChange<'_>> = c
                    .entries
                    .iter()
                    .map(|e| EntryChange {
                        name: &e.name,
                        event: match e.action {
                            EntryAction::Added => Event::Added,
                            EntryAction::Removed => Event::Removed,
                            EntryAction::RenamedFrom => Event::RenamedFrom,
                            EntryAction::RenamedTo => Event::RenamedTo,
                        },
                        is_dir: e.is_dir,
                    })
                    .collect();
                foreign.changed(id, dir, &ancestors, &changes);
            }
        }
    }
}
