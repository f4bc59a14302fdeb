//! One copy of the namespace and the rules every change follows. [`MemoryMetadata`] keeps two
//! (live and durable) and replays journaled operations from one onto the other.
//!
//! [`MemoryMetadata`]: super::MemoryMetadata

use std::collections::{BTreeMap, BTreeSet};

use super::GENERATION;
use super::metadata::Op;
use crate::api::{
    Attr, ContentVersion, Cookie, FileKind, InodeId, NewNode, Removed, Renamed, SetAttr,
    StoreError, StoreResult, Timestamp,
};
use crate::rules;

/// One copy of the namespace.
#[derive(Clone)]
pub(super) struct Namespace {
    pub(super) inodes: BTreeMap<InodeId, Inode>,
    pub(super) shares: BTreeMap<String, InodeId>,
    /// Next inode id to hand out; starts at 1 because fileid 0 crashed macOS clients.
    pub(super) next_ino: u64,
    /// Next value of the store-wide change sequence; every changed inode takes the next one,
    /// so each inode's `change` only grows.
    pub(super) next_change: u64,
}

#[derive(Clone)]
pub(super) struct Inode {
    pub(super) attr: Attr,
    pub(super) body: Body,
    /// The content version last recorded by `record_write`, if any.
    pub(super) version: Option<ContentVersion>,
}

#[derive(Clone)]
pub(super) enum Body {
    Dir(Dir),
    Symlink(Vec<u8>),
    /// Regular files and device, fifo and socket nodes: everything they have is in the attrs.
    Plain,
}

#[derive(Clone)]
pub(super) struct Dir {
    /// The directory holding this one; a share root is its own parent.
    pub(super) parent: InodeId,
    pub(super) by_name: BTreeMap<Vec<u8>, Entry>,
    /// The same entries by cookie, for listings.
    pub(super) by_cookie: BTreeMap<u64, Vec<u8>>,
    /// The same names by their case fold ([`crate::fold_case`]), then name.
    pub(super) by_fold: BTreeSet<(Vec<u8>, Vec<u8>)>,
    /// Cookie for the next entry linked here; only grows.
    pub(super) next_cookie: u64,
}

#[derive(Clone, Copy)]
pub(super) struct Entry {
    pub(super) cookie: u64,
    pub(super) ino: InodeId,
}

impl Dir {
    pub(super) fn new(parent: InodeId) -> Self {
        Self {
            parent,
            by_name: BTreeMap::new(),
            by_cookie: BTreeMap::new(),
            by_fold: BTreeSet::new(),
            next_cookie: Cookie::FIRST_ENTRY,
        }
    }

    pub(super) fn insert(&mut self, name: &[u8], ino: InodeId) {
        let cookie = self.next_cookie;
        self.next_cookie += 1;
        self.by_name.insert(name.to_vec(), Entry { cookie, ino });
        self.by_cookie.insert(cookie, name.to_vec());
        self.by_fold
            .insert((crate::fold_case(name).into_owned(), name.to_vec()));
    }

    /// The smallest name equal to `name` ignoring case.
    pub(super) fn folded(&self, name: &[u8]) -> Option<&[u8]> {
        let fold = crate::fold_case(name).into_owned();
        self.by_fold
            .range((fold.clone(), Vec::new())..)
            .next()
            .filter(|(f, _)| *f == fold)
            .map(|(_, n)| n.as_slice())
    }

    pub(super) fn remove(&mut self, name: &[u8]) -> Entry {
        let entry = self
            .by_name
            .remove(name)
            .expect("the entry was looked up earlier in this operation");
        self.by_cookie.remove(&entry.cookie);
        self.by_fold
            .remove(&(crate::fold_case(name).into_owned(), name.to_vec()));
        entry
    }
}

impl Inode {
    pub(super) fn is_dir(&self) -> bool {
        matches!(self.body, Body::Dir(_))
    }

    /// Whether this is a directory without entries.
    fn is_empty_dir(&self) -> bool {
        matches!(&self.body, Body::Dir(d) if d.by_name.is_empty())
    }

    pub(super) fn dir_mut(&mut self) -> &mut Dir {
        match &mut self.body {
            Body::Dir(d) => d,
            Body::Symlink(_) | Body::Plain => {
                unreachable!("the inode was checked to be a directory earlier in this operation")
            }
        }
    }
}

impl Namespace {
    pub(super) fn new() -> Self {
        Self {
            inodes: BTreeMap::new(),
            shares: BTreeMap::new(),
            next_ino: 1,
            next_change: 1,
        }
    }

    /// Repeats a journaled operation.
    pub(super) fn apply(&mut self, op: &Op) -> StoreResult<()> {
        match op {
            Op::ShareRoot { name, root } => self.share_root(name, root).map(drop),
            Op::Create { dir, name, node } => self.create(*dir, name, node).map(drop),
            Op::Link {
                ino,
                dir,
                name,
                now,
            } => self.link(*ino, *dir, name, *now).map(drop),
            Op::Unlink { dir, name, now } => self.unlink(*dir, name, *now).map(drop),
            Op::Rmdir { dir, name, now } => self.rmdir(*dir, name, *now).map(drop),
            Op::Rename {
                from_dir,
                from_name,
                to_dir,
                to_name,
                now,
            } => self
                .rename(*from_dir, from_name, *to_dir, to_name, *now)
                .map(drop),
            Op::SetAttr { ino, set, now } => self.setattr(*ino, set, *now).map(drop),
            Op::RecordWrite {
                ino,
                end,
                mtime,
                version,
            } => self.record_write(*ino, *end, *mtime, *version).map(drop),
        }
    }

    pub(super) fn alloc_ino(&mut self) -> InodeId {
        let ino = InodeId(self.next_ino);
        self.next_ino = self
            .next_ino
            .checked_add(1)
            .expect("2^64 inode ids are never exhausted");
        ino
    }

    pub(super) fn next_change(&mut self) -> u64 {
        let c = self.next_change;
        self.next_change += 1;
        c
    }

    pub(super) fn inode(&self, ino: InodeId) -> StoreResult<&Inode> {
        self.inodes.get(&ino).ok_or(StoreError::Stale)
    }

    /// The inode `ino`, which this operation already checked exists.
    pub(super) fn inode_mut(&mut self, ino: InodeId) -> &mut Inode {
        self.inodes
            .get_mut(&ino)
            .expect("the inode was checked to exist earlier in this operation")
    }

    pub(super) fn dir(&self, ino: InodeId) -> StoreResult<&Dir> {
        match &self.inode(ino)?.body {
            Body::Dir(d) => Ok(d),
            Body::Symlink(_) | Body::Plain => Err(StoreError::NotDir),
        }
    }

    pub(super) fn entry(&self, dir: InodeId, name: &[u8]) -> StoreResult<Entry> {
        self.dir(dir)?
            .by_name
            .get(name)
            .copied()
            .ok_or(StoreError::NotFound)
    }

    /// Sets ctime to `now` and takes the next change number.
    pub(super) fn touch_ctime(&mut self, ino: InodeId, now: Timestamp) {
        let change = self.next_change();
        let attr = &mut self.inode_mut(ino).attr;
        attr.ctime = now;
        attr.change = change;
    }

    /// A directory's entries changed: mtime and ctime become `now`.
    pub(super) fn touch_dir(&mut self, dir: InodeId, now: Timestamp) {
        self.touch_ctime(dir, now);
        self.inode_mut(dir).attr.mtime = now;
    }

    pub(super) fn existing_share(&self, name: &str) -> StoreResult<Option<Attr>> {
        match self.shares.get(name) {
            Some(ino) => Ok(Some(self.inode(*ino)?.attr.clone())),
            None => Ok(None),
        }
    }

    /// Returns the root of share `name`, creating it if needed.
    pub(super) fn share_root(&mut self, name: &str, root: &NewNode) -> StoreResult<Attr> {
        if let Some(attr) = self.existing_share(name)? {
            return Ok(attr);
        }
        rules::check_share_root(root)?;
        // A share root is its own parent, as "/" is.
        let inode = self.new_inode(None, root)?;
        let ino = inode.attr.ino;
        let attr = inode.attr.clone();
        self.inodes.insert(ino, inode);
        self.shares.insert(name.to_owned(), ino);
        Ok(attr)
    }

    /// Builds a fresh inode with the next id and change number, in directory `parent` (`None`
    /// for a share root, its own parent). Checks `node` before allocating anything, so a
    /// failure leaves the counters alone and the journal replays to the same ids.
    fn new_inode(&mut self, parent: Option<InodeId>, node: &NewNode) -> StoreResult<Inode> {
        let attr = rules::new_attr(InodeId(self.next_ino), GENERATION, node, self.next_change)?;
        let ino = self.alloc_ino();
        self.next_change();
        let body = match node.kind {
            FileKind::Directory => Body::Dir(Dir::new(parent.unwrap_or(ino))),
            FileKind::Symlink => Body::Symlink(node.symlink_target.clone()),
            FileKind::Regular
            | FileKind::BlockDevice
            | FileKind::CharDevice
            | FileKind::Socket
            | FileKind::Fifo => Body::Plain,
        };
        Ok(Inode {
            attr,
            body,
            version: None,
        })
    }

    pub(super) fn create(
        &mut self,
        dir: InodeId,
        name: &[u8],
        node: &NewNode,
    ) -> StoreResult<Attr> {
        let d = self.dir(dir)?;
        if d.by_name.contains_key(name) {
            return Err(StoreError::Exists);
        }
        rules::check_mode(node.mode)?;
        let is_dir = node.kind == FileKind::Directory;
        let dir_nlink = self.inode(dir)?.attr.nlink;
        let dir_nlink = if is_dir {
            rules::add_link(dir_nlink)?
        } else {
            dir_nlink
        };
        // Every check passed; from here on nothing fails.
        let inode = self.new_inode(Some(dir), node)?;
        let ino = inode.attr.ino;
        let attr = inode.attr.clone();
        self.inodes.insert(ino, inode);
        self.inode_mut(dir).dir_mut().insert(name, ino);
        self.inode_mut(dir).attr.nlink = dir_nlink;
        self.touch_dir(dir, node.now);
        Ok(attr)
    }

    pub(super) fn link(
        &mut self,
        ino: InodeId,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Attr> {
        let target = self.inode(ino)?;
        let nlink = target.attr.nlink;
        let target_is_dir = target.is_dir();
        let d = self.dir(dir)?;
        if target_is_dir {
            return Err(StoreError::Invalid("hard link to a directory"));
        }
        if d.by_name.contains_key(name) {
            return Err(StoreError::Exists);
        }
        let nlink = rules::add_link(nlink)?;
        self.inode_mut(dir).dir_mut().insert(name, ino);
        self.inode_mut(ino).attr.nlink = nlink;
        self.touch_ctime(ino, now);
        self.touch_dir(dir, now);
        Ok(self.inode_mut(ino).attr.clone())
    }

    pub(super) fn unlink(
        &mut self,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Removed> {
        let entry = self.entry(dir, name)?;
        rules::check_remove(false, self.inode(entry.ino)?.is_dir(), || Ok(true))?;
        let removed = self.drop_entry(dir, name, now);
        self.touch_dir(dir, now);
        Ok(removed)
    }

    pub(super) fn rmdir(
        &mut self,
        dir: InodeId,
        name: &[u8],
        now: Timestamp,
    ) -> StoreResult<Removed> {
        let entry = self.entry(dir, name)?;
        let inode = self.inode(entry.ino)?;
        rules::check_remove(true, inode.is_dir(), || Ok(inode.is_empty_dir()))?;
        let removed = self.drop_entry(dir, name, now);
        self.touch_dir(dir, now);
        Ok(removed)
    }

    /// Removes the checked entry `dir/name` and the link it held: a directory (checked empty)
    /// is freed and its parent loses the subdirectory's "..", a file loses one link and is
    /// freed with its last. Does not touch `dir`'s times.
    pub(super) fn drop_entry(&mut self, dir: InodeId, name: &[u8], now: Timestamp) -> Removed {
        let entry = self.inode_mut(dir).dir_mut().remove(name);
        let ino = entry.ino;
        if self.inode_mut(ino).is_dir() {
            let parent = &mut self.inode_mut(dir).attr;
            parent.nlink = parent.nlink.saturating_sub(1);
            self.touch_ctime(ino, now);
            let mut inode = self.inodes.remove(&ino).expect("checked to exist above");
            inode.attr.nlink = 0;
            return Removed {
                attr: inode.attr,
                freed: true,
            };
        }
        let attr = &mut self.inode_mut(ino).attr;
        attr.nlink = attr.nlink.saturating_sub(1);
        self.touch_ctime(ino, now);
        if self.inode_mut(ino).attr.nlink == 0 {
            let inode = self.inodes.remove(&ino).expect("checked to exist above");
            Removed {
                attr: inode.attr,
                freed: true,
            }
        } else {
            Removed {
                attr: self.inode_mut(ino).attr.clone(),
                freed: false,
            }
        }
    }

    /// Returns the result and whether anything changed (renaming a name onto another name for
    /// the same inode does nothing).
    pub(super) fn rename(
        &mut self,
        from_dir: InodeId,
        from_name: &[u8],
        to_dir: InodeId,
        to_name: &[u8],
        now: Timestamp,
    ) -> StoreResult<(Renamed, bool)> {
        self.dir(from_dir)?;
        let target = self.dir(to_dir)?.by_name.get(to_name).copied();
        let source = self.entry(from_dir, from_name)?;
        let source_inode = self.inode(source.ino)?;
        if target.is_some_and(|t| t.ino == source.ino) {
            let renamed = Renamed {
                attr: source_inode.attr.clone(),
                replaced: None,
            };
            return Ok((renamed, false));
        }
        let source_is_dir = source_inode.is_dir();
        if source_is_dir {
            // Walk up from the destination: meeting the source means it would become its own
            // ancestor. Share roots are their own parents, which ends the walk.
            let mut cur = to_dir;
            loop {
                if cur == source.ino {
                    return Err(rules::moved_under_itself());
                }
                let parent = self.dir(cur)?.parent;
                if parent == cur {
                    break;
                }
                cur = parent;
            }
        }
        let mut target_is_dir = false;
        if let Some(t) = target {
            let target = self.inode(t.ino)?;
            target_is_dir = target.is_dir();
            rules::check_rename_target(source_is_dir, target_is_dir, || Ok(target.is_empty_dir()))?;
        }
        // A directory moving to another parent adds a ".." link there, unless it replaces a
        // directory whose ".." link it takes over.
        if source_is_dir && from_dir != to_dir && !target_is_dir {
            rules::add_link(self.inode(to_dir)?.attr.nlink)?;
        }
        // Every check passed; from here on nothing fails.
        let replaced = target.map(|_| self.drop_entry(to_dir, to_name, now));
        self.inode_mut(from_dir).dir_mut().remove(from_name);
        self.inode_mut(to_dir).dir_mut().insert(to_name, source.ino);
        if source_is_dir && from_dir != to_dir {
            self.inode_mut(source.ino).dir_mut().parent = to_dir;
            let from = &mut self.inode_mut(from_dir).attr;
            from.nlink = from.nlink.saturating_sub(1);
            let to = &mut self.inode_mut(to_dir).attr;
            to.nlink = to.nlink.saturating_add(1);
        }
        self.touch_ctime(source.ino, now);
        self.touch_dir(from_dir, now);
        if to_dir != from_dir {
            self.touch_dir(to_dir, now);
        }
        let renamed = Renamed {
            attr: self.inode_mut(source.ino).attr.clone(),
            replaced,
        };
        Ok((renamed, true))
    }

    /// Returns the new attributes and whether anything changed (an empty `set` changes
    /// nothing).
    pub(super) fn setattr(
        &mut self,
        ino: InodeId,
        set: &SetAttr,
        now: Timestamp,
    ) -> StoreResult<(Attr, bool)> {
        let inode = self.inode(ino)?;
        if !rules::check_setattr(&inode.attr, set)? {
            return Ok((inode.attr.clone(), false));
        }
        self.touch_ctime(ino, now);
        let attr = &mut self.inode_mut(ino).attr;
        rules::apply_setattr(attr, set, now);
        Ok((attr.clone(), true))
    }

    pub(super) fn record_write(
        &mut self,
        ino: InodeId,
        end: u64,
        mtime: Timestamp,
        version: Option<ContentVersion>,
    ) -> StoreResult<Attr> {
        rules::check_write(self.inode(ino)?.attr.kind)?;
        self.touch_ctime(ino, mtime);
        let inode = self.inode_mut(ino);
        rules::apply_write(&mut inode.attr, end, mtime);
        if version.is_some() {
            inode.version = version;
        }
        Ok(inode.attr.clone())
    }
}
