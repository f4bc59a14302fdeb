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
//! [`Foreign::lost_track`] when the feed may have missed changes. Entry changes are announced
//! by the store's own transactions; modifications of a node's data or attributes
//! ([`Event::Modified`]) only the front end can relate to a directory entry, so the front end
//! that made one announces it ([`announce`]).

use std::fmt::Debug;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use stores::{DirEvent, DirFeed, EntryAction, Modified};
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
    /// The entry's node changed its data or attributes (what: the bits).
    Modified(Modified),
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
    let caller = server_caller();
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
                            EntryAction::Modified(m) => Event::Modified(m),
                        },
                        is_dir: e.is_dir,
                    })
                    .collect();
                foreign.changed(id, dir, &ancestors, &changes);
            }
        }
    }
}

/// Announces to the other gateways sharing `share`'s metadata store that the node named
/// `name` in `dir` was modified (`what`), in a task of its own (nobody waits for it); nothing
/// when no other gateway shares the store.
pub(crate) fn announce(share: &ShareHandle, dir: Node, name: &[u8], is_dir: bool, what: Modified) {
    if !share.shared() || what.is_empty() || name.is_empty() {
        return;
    }
    let share = share.clone();
    let entry = stores::EntryChange {
        name: name.to_vec(),
        action: EntryAction::Modified(what),
        is_dir,
    };
    tokio::spawn(async move {
        if let Err(f) = share.announce(server_caller(), dir, vec![entry]).await {
            tracing::debug!(error = %f.error, "a modification was not announced to the other gateways");
        }
    });
}

/// Entries remembered at most by one share's [`NameHints`].
pub(crate) const NAME_HINTS_MAX: usize = 16_384;

/// The directory entry each of a share's recently named nodes was last reached by: what a
/// front end that changes nodes by handle alone (NFS: WRITE, SETATTR, COMMIT name no
/// directory) needs to tell watchers and directory leases of the node's directory that it was
/// modified ([`Event::Modified`]). Filled from the entries such a front end looks up,
/// creates or lists; a hint may be stale (the entry renamed or removed since), so its user
/// checks it with a lookup first. Bounded by [`NAME_HINTS_MAX`], oldest first out.
#[derive(Debug, Default)]
pub(crate) struct NameHints {
    inner: std::sync::Mutex<Hints>,
}

#[derive(Debug, Default)]
struct Hints {
    /// Per inode: its generation, directory, name, whether a directory, and the stamp of its
    /// newest place in `order`.
    by_ino: std::collections::HashMap<u64, (Node, Node, Bytes, bool, u64)>,
    /// Inodes in the order they were remembered, with the stamp they were remembered under
    /// (an entry remembered again leaves its older stamp here, skipped when it comes out).
    order: std::collections::VecDeque<(u64, u64)>,
    /// The next stamp.
    stamp: u64,
}

impl NameHints {
    /// Remembers that `node` was reached as `name` in `dir`.
    pub(crate) fn remember(&self, node: Node, dir: Node, name: &[u8], is_dir: bool) {
        let mut h = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        h.remember(node, dir, name, is_dir);
    }

    /// Remembers a batch of entries of `dir` (a directory page) under one lock.
    pub(crate) fn remember_all<'a>(
        &self,
        dir: Node,
        entries: impl Iterator<Item = (Node, &'a [u8], bool)>,
    ) {
        let mut h = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (node, name, is_dir) in entries {
            h.remember(node, dir, name, is_dir);
        }
    }

    /// The directory, name and kind `node` was last reached by, if remembered.
    pub(crate) fn named(&self, node: Node) -> Option<(Node, Bytes, bool)> {
        let h = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        h.by_ino
            .get(&node.ino.0)
            .filter(|(n, ..)| *n == node)
            .map(|(_, dir, name, is_dir, _)| (*dir, name.clone(), *is_dir))
    }

    /// How many nodes are remembered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .by_ino
            .len()
    }
}

impl Hints {
    /// Remembers one entry; `.`, `..` and empty names name no entry and are skipped.
    fn remember(&mut self, node: Node, dir: Node, name: &[u8], is_dir: bool) {
        if name.is_empty() || name == b"." || name == b".." {
            return;
        }
        let stamp = self.stamp;
        self.stamp += 1;
        self.by_ino.insert(
            node.ino.0,
            (node, dir, Bytes::copy_from_slice(name), is_dir, stamp),
        );
        self.order.push_back((node.ino.0, stamp));
        // Out go the oldest: entries past the bound, and stale stamps past twice it.
        while self.by_ino.len() > NAME_HINTS_MAX || self.order.len() > 2 * NAME_HINTS_MAX {
            let Some((ino, at)) = self.order.pop_front() else {
                break;
            };
            if self.by_ino.get(&ino).is_some_and(|e| e.4 == at) {
                self.by_ino.remove(&ino);
            }
        }
    }
}

/// The caller a front end acts as to check a hint or find ancestors: root, which may search
/// every directory with an execute bit; those lookups change nothing.
pub(crate) fn server_caller() -> Caller {
    Caller::server(Permission::Read)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ino: u64) -> Node {
        Node {
            ino: stores::InodeId(ino),
            generation: stores::Generation(1),
        }
    }

    /// Goal: a name hint answers the newest entry a node was reached by, only for the same
    /// generation, and the hints stay bounded however often nodes are remembered. Method:
    /// remember, re-remember, ask with another generation, then remember past the bound.
    #[test]
    fn name_hints_answer_the_newest_and_stay_bounded() {
        let h = NameHints::default();
        let dir = node(1);
        h.remember(node(5), dir, b"a", false);
        h.remember(node(5), node(2), b"b", false);
        h.remember(node(6), dir, b"..", true);
        assert_eq!(
            h.named(node(5)),
            Some((node(2), Bytes::from_static(b"b"), false))
        );
        assert_eq!(h.named(node(6)), None, "`..` is no name");
        let other = Node {
            generation: stores::Generation(2),
            ..node(5)
        };
        assert_eq!(h.named(other), None, "another generation of the inode");
        for i in 0..3 * NAME_HINTS_MAX as u64 {
            h.remember(
                node(100 + i % (NAME_HINTS_MAX as u64 + 10)),
                dir,
                b"x",
                false,
            );
        }
        assert!(h.len() <= NAME_HINTS_MAX);
        let inner = h.inner.lock().unwrap();
        assert!(inner.order.len() <= 2 * NAME_HINTS_MAX);
    }
}
