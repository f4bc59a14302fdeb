//! The namespace rules every metadata backend applies, written once: what a new inode looks
//! like, which attribute changes are valid and how they apply, the link-count and mode checks,
//! and which removals and rename targets are allowed; for content stores, the bound on a
//! write's end.
//!
//! A backend keeps only its storage logic (reading and writing records, allocating ids and
//! change numbers, its locking): it calls these functions between reading the state and
//! writing the result, so the memory store, RocksDB and any later backend (PostgreSQL) cannot
//! drift apart on semantics or error messages. Nothing here touches state; each function is a
//! pure check or a pure change of an [`Attr`].

use crate::api::{
    Attr, Device, FileKind, Generation, InodeId, NewNode, SetAttr, StoreError, StoreResult,
    Timestamp, XATTR_TOTAL_MAX, XATTR_VALUE_MAX, check_xattr_name,
};

/// The end of a content write of `len` bytes at `offset`, or `FileTooLarge` when it would pass
/// `max` (the store's [`max_file_size`](crate::ContentStore::max_file_size)) or overflow.
pub fn write_end(offset: u64, len: usize, max: u64) -> StoreResult<u64> {
    offset
        .checked_add(len as u64)
        .filter(|&end| end <= max)
        .ok_or(StoreError::FileTooLarge)
}

/// The largest permission bits a store accepts: setuid, setgid, sticky and rwx for all three.
pub const MODE_MAX: u32 = 0o7777;

/// Fails with `Invalid` if `mode` has bits beyond [`MODE_MAX`].
pub fn check_mode(mode: u32) -> StoreResult<u32> {
    if mode > MODE_MAX {
        return Err(StoreError::Invalid("mode has bits beyond 0o7777"));
    }
    Ok(mode)
}

/// `nlink + 1`, or `Invalid("too many links")` at the counter's limit.
pub fn add_link(nlink: u32) -> StoreResult<u32> {
    nlink
        .checked_add(1)
        .ok_or(StoreError::Invalid("too many links"))
}

/// Fails with `Invalid` unless `root` may become a share root (a directory with a valid mode).
pub fn check_share_root(root: &NewNode) -> StoreResult<()> {
    if root.kind != FileKind::Directory {
        return Err(StoreError::Invalid("a share root must be a directory"));
    }
    check_mode(root.mode).map(drop)
}

/// The attributes of a new inode `ino` created from `node`: every time is `node.now`, a
/// directory starts with two links ("." and its name), everything else with one; a symlink's
/// size is its target's length; only device nodes keep `rdev`. `change` is the backend's first
/// change number for the inode. Fails with `Invalid` for a mode beyond [`MODE_MAX`].
pub fn new_attr(
    ino: InodeId,
    generation: Generation,
    node: &NewNode,
    change: u64,
) -> StoreResult<Attr> {
    let mode = check_mode(node.mode)?;
    let (nlink, size) = match node.kind {
        FileKind::Directory => (2, 0),
        FileKind::Symlink => (1, node.symlink_target.len() as u64),
        FileKind::Regular
        | FileKind::BlockDevice
        | FileKind::CharDevice
        | FileKind::Socket
        | FileKind::Fifo => (1, 0),
    };
    let rdev = match node.kind {
        FileKind::BlockDevice | FileKind::CharDevice => node.rdev,
        FileKind::Regular
        | FileKind::Directory
        | FileKind::Symlink
        | FileKind::Socket
        | FileKind::Fifo => Device::default(),
    };
    Ok(Attr {
        ino,
        generation,
        kind: node.kind,
        mode,
        nlink,
        uid: node.uid,
        gid: node.gid,
        size,
        rdev,
        atime: node.now,
        mtime: node.now,
        ctime: node.now,
        btime: node.now,
        change,
    })
}

/// Checks `set` against the inode it would change: a valid mode, and a size only for regular
/// files (`IsDir` for a directory, `Invalid` for other kinds). Returns whether `set` changes
/// anything at all: an empty `set` is valid and leaves the inode (and its ctime) alone.
pub fn check_setattr(attr: &Attr, set: &SetAttr) -> StoreResult<bool> {
    if let Some(mode) = set.mode {
        check_mode(mode)?;
    }
    if set.size.is_some() {
        match attr.kind {
            FileKind::Regular => {}
            FileKind::Directory => return Err(StoreError::IsDir),
            FileKind::Symlink
            | FileKind::BlockDevice
            | FileKind::CharDevice
            | FileKind::Socket
            | FileKind::Fifo => return Err(StoreError::Invalid("size of a non-regular file")),
        }
    }
    Ok(*set != SetAttr::default())
}

/// Applies a `set` that [`check_setattr`] accepted: each given field, ctime to `now` (or the
/// given `ctime`), and, as
/// POSIX truncate does, mtime to `now` when the size changes (an explicit mtime wins). The
/// backend bumps `change` itself.
pub fn apply_setattr(attr: &mut Attr, set: &SetAttr, now: Timestamp) {
    if let Some(mode) = set.mode {
        attr.mode = mode;
    }
    if let Some(uid) = set.uid {
        attr.uid = uid;
    }
    if let Some(gid) = set.gid {
        attr.gid = gid;
    }
    if let Some(size) = set.size {
        if size != attr.size {
            attr.mtime = now;
        }
        attr.size = size;
    }
    if let Some(atime) = set.atime {
        attr.atime = atime;
    }
    if let Some(mtime) = set.mtime {
        attr.mtime = mtime;
    }
    if let Some(btime) = set.btime {
        attr.btime = btime;
    }
    attr.ctime = set.ctime.unwrap_or(now);
}

/// Checks that bytes may be written to an inode of `kind`: regular files only (`IsDir` for a
/// directory, `Invalid` for other kinds).
pub fn check_write(kind: FileKind) -> StoreResult<()> {
    match kind {
        FileKind::Regular => Ok(()),
        FileKind::Directory => Err(StoreError::IsDir),
        FileKind::Symlink
        | FileKind::BlockDevice
        | FileKind::CharDevice
        | FileKind::Socket
        | FileKind::Fifo => Err(StoreError::Invalid("write to a non-regular file")),
    }
}

/// Applies a recorded write that [`check_write`] accepted: size grows to `end` (never
/// shrinks), mtime and ctime become `mtime`. The backend bumps `change` itself.
pub fn apply_write(attr: &mut Attr, end: u64, mtime: Timestamp) {
    attr.size = attr.size.max(end);
    attr.mtime = mtime;
    attr.ctime = mtime;
}

/// Checks removing an entry naming a directory (`is_dir`, with `is_empty` telling whether it
/// has entries) by `rmdir` (`want_dir`) or `unlink`: `IsDir` for unlink of a directory,
/// `NotDir` for rmdir of anything else, `NotEmpty` for rmdir of a directory with entries.
pub fn check_remove(
    want_dir: bool,
    is_dir: bool,
    is_empty: impl FnOnce() -> StoreResult<bool>,
) -> StoreResult<()> {
    match (want_dir, is_dir) {
        (false, true) => Err(StoreError::IsDir),
        (true, false) => Err(StoreError::NotDir),
        (true, true) if !is_empty()? => Err(StoreError::NotEmpty),
        _ => Ok(()),
    }
}

/// Checks that a rename of a directory (`source_is_dir`) or non-directory may replace an
/// existing target: kinds must agree (`NotDir` / `IsDir`) and a replaced directory must be
/// empty (`is_empty`, only asked for a directory target).
pub fn check_rename_target(
    source_is_dir: bool,
    target_is_dir: bool,
    is_empty: impl FnOnce() -> StoreResult<bool>,
) -> StoreResult<()> {
    match (source_is_dir, target_is_dir) {
        (true, false) => Err(StoreError::NotDir),
        (false, true) => Err(StoreError::IsDir),
        (true, true) if !is_empty()? => Err(StoreError::NotEmpty),
        _ => Ok(()),
    }
}

/// Checks setting extended attribute `name` to a value of `value_len` bytes on an inode whose
/// *other* attributes (every one but `name`) take `others` bytes (names plus values): the name
/// as [`check_xattr_name`] checks it, then `XattrTooLarge` for a value beyond
/// [`XATTR_VALUE_MAX`] or a total beyond [`XATTR_TOTAL_MAX`].
pub fn check_set_xattr(others: usize, name: &[u8], value_len: usize) -> StoreResult<()> {
    check_xattr_name(name)?;
    if value_len > XATTR_VALUE_MAX {
        return Err(StoreError::XattrTooLarge);
    }
    let total = others
        .checked_add(name.len())
        .and_then(|t| t.checked_add(value_len));
    match total {
        Some(t) if t <= XATTR_TOTAL_MAX => Ok(()),
        _ => Err(StoreError::XattrTooLarge),
    }
}

/// Applies a recorded extended-attribute change (set or removal) to the inode's attributes:
/// ctime becomes `now`. The backend bumps `change` itself.
pub fn apply_xattr_change(attr: &mut Attr, now: Timestamp) {
    attr.ctime = now;
}

/// The error for a directory moved into its own subtree.
pub fn moved_under_itself() -> StoreError {
    StoreError::Invalid("directory moved into its own subtree")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(kind: FileKind) -> NewNode {
        NewNode {
            kind,
            mode: 0o644,
            uid: 7,
            gid: 8,
            rdev: Device { major: 1, minor: 2 },
            symlink_target: b"target".to_vec(),
            now: Timestamp { secs: 5, nanos: 6 },
        }
    }

    /// Goal: a new inode's attributes follow its kind. Method: build one of each kind and
    /// compare nlink, size and rdev with the rules.
    #[test]
    fn new_attr_by_kind() {
        let at = |kind| new_attr(InodeId(3), Generation(4), &node(kind), 9).unwrap();
        let d = at(FileKind::Directory);
        assert_eq!((d.nlink, d.size, d.rdev), (2, 0, Device::default()));
        let s = at(FileKind::Symlink);
        assert_eq!((s.nlink, s.size), (1, 6));
        let b = at(FileKind::BlockDevice);
        assert_eq!(b.rdev, Device { major: 1, minor: 2 });
        let f = at(FileKind::Regular);
        assert_eq!((f.nlink, f.size, f.rdev), (1, 0, Device::default()));
        assert_eq!(
            (f.ino, f.generation, f.change),
            (InodeId(3), Generation(4), 9)
        );
        assert_eq!(f.btime, Timestamp { secs: 5, nanos: 6 });
        let bad = NewNode {
            mode: 0o10000,
            ..node(FileKind::Regular)
        };
        assert!(matches!(
            new_attr(InodeId(3), Generation(4), &bad, 9),
            Err(StoreError::Invalid(_))
        ));
    }

    /// Goal: setattr's checks and its truncate rule. Method: a size on a directory, an empty
    /// set, and a size change with and without an explicit mtime.
    #[test]
    fn setattr_rules() {
        let dir = new_attr(InodeId(1), Generation(1), &node(FileKind::Directory), 1).unwrap();
        let size = SetAttr {
            size: Some(1),
            ..SetAttr::default()
        };
        assert!(matches!(check_setattr(&dir, &size), Err(StoreError::IsDir)));
        let mut f = new_attr(InodeId(2), Generation(1), &node(FileKind::Regular), 1).unwrap();
        assert!(!check_setattr(&f, &SetAttr::default()).unwrap());
        assert!(check_setattr(&f, &size).unwrap());
        let now = Timestamp {
            secs: 100,
            nanos: 0,
        };
        apply_setattr(&mut f, &size, now);
        assert_eq!((f.size, f.mtime, f.ctime), (1, now, now));
        let explicit = Timestamp { secs: 50, nanos: 0 };
        let both = SetAttr {
            size: Some(2),
            mtime: Some(explicit),
            ..SetAttr::default()
        };
        apply_setattr(&mut f, &both, now);
        assert_eq!(f.mtime, explicit);
    }

    /// Goal: the extended-attribute bounds hold at their edges. Method: a value of exactly
    /// the maximum and one byte more; a total of exactly the maximum and one byte more; bad
    /// names.
    #[test]
    fn xattr_bounds() {
        assert!(check_set_xattr(0, b"user.a", XATTR_VALUE_MAX).is_ok());
        assert!(matches!(
            check_set_xattr(0, b"user.a", XATTR_VALUE_MAX + 1),
            Err(StoreError::XattrTooLarge)
        ));
        assert!(check_set_xattr(XATTR_TOTAL_MAX - 7, b"user.a", 1).is_ok());
        assert!(matches!(
            check_set_xattr(XATTR_TOTAL_MAX - 6, b"user.a", 1),
            Err(StoreError::XattrTooLarge)
        ));
        assert!(matches!(
            check_set_xattr(usize::MAX, b"user.a", 1),
            Err(StoreError::XattrTooLarge)
        ));
        assert!(matches!(
            check_set_xattr(0, &[b'a'; 256], 1),
            Err(StoreError::NameTooLong)
        ));
        assert!(check_set_xattr(0, &[b'a'; 255], 1).is_ok());
        assert!(matches!(
            check_set_xattr(0, b"", 1),
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            check_set_xattr(0, b"a\0b", 1),
            Err(StoreError::Invalid(_))
        ));
    }

    /// Goal: the link counter refuses to wrap. Method: add a link at u32::MAX.
    #[test]
    fn link_count_limit() {
        assert_eq!(add_link(1).unwrap(), 2);
        assert!(matches!(add_link(u32::MAX), Err(StoreError::Invalid(_))));
    }
}
