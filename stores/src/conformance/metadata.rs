//! The metadata checks: every rule of the [`MetadataStore`] contract.

use super::{CheckGuard, dir, file, node, ok, symlink, t};
use crate::api::{
    Attr, ContentVersion, Cookie, Device, DirEntry, FileKind, InodeId, MetadataStore, NewNode,
    Recorded, SetAttr, StoreError, StoreId, Timestamp, XATTR_NAME_MAX, XATTR_TOTAL_MAX,
    XATTR_VALUE_MAX, XattrEntry,
};

/// Runs every metadata check against `store`; panics on the first violation.
pub async fn metadata_suite<M: MetadataStore>(store: &M) {
    let cx = Meta::new(store).await;
    checks!(&cx;
        share_roots,
        names,
        create_attrs,
        create_exists,
        not_found_and_not_dir,
        stale_inodes,
        dir_times,
        mkdir_nlink,
        rmdir_rules,
        unlink_frees,
        hard_links,
        link_rules,
        case_folded_lookup,
        rename_same_dir,
        rename_cross_dir,
        rename_over_file,
        rename_over_linked_file,
        rename_dir_over_empty_dir,
        rename_dir_over_nonempty_dir,
        rename_kind_mismatch,
        rename_into_own_subtree,
        rename_same_inode,
        rename_dir_moves_parent,
        rename_times,
        symlinks,
        special_nodes,
        setattr_fields,
        setattr_size,
        setattr_invalid,
        record_write_narrow,
        content_versions,
        content_version_swaps,
        readdir_order,
        readdir_paging,
        readdir_resume_after_removed,
        readdir_added_later,
        readdir_edges,
        readdir_after_rename,
        parents,
        ids_never_reused,
        usage_and_sync,
        secrets,
        durable_opens,
        xattrs_basic,
        xattrs_bounds,
        xattrs_follow_the_inode,
        xattrs_freed_with_the_inode,
    );
}

/// Context of one metadata run.
struct Meta<'a, M> {
    store: &'a M,
    /// This run's directory: every check works in its own subdirectory.
    run: InodeId,
    /// Distinguishes this run's share names from earlier runs'.
    tag: String,
}

impl<'a, M: MetadataStore> Meta<'a, M> {
    async fn new(store: &'a M) -> Self {
        let top = ok(
            store.share_root("conformance", dir(0)).await,
            "share_root(conformance)",
        );
        for n in 0u32.. {
            let name = format!("run-{n}");
            match store.create(top.ino, name.as_bytes(), dir(0)).await {
                Ok(run) => {
                    return Self {
                        store,
                        run: run.ino,
                        tag: format!("conformance-{n}"),
                    };
                }
                Err(StoreError::Exists) => {}
                Err(e) => panic!("creating the run directory {name}: {e:?}"),
            }
        }
        unreachable!("some run-N name is free")
    }

    /// A fresh directory for one check.
    async fn dir(&self, name: &str) -> Attr {
        ok(
            self.store.create(self.run, name.as_bytes(), dir(0)).await,
            &format!("mkdir {name}"),
        )
    }

    /// Creates `name` in `parent` from `node`.
    async fn make(&self, parent: InodeId, name: &[u8], node: NewNode) -> Attr {
        ok(
            self.store.create(parent, name, node).await,
            &format!("create {:?}", String::from_utf8_lossy(name)),
        )
    }

    async fn attr(&self, ino: InodeId) -> Attr {
        ok(self.store.getattr(ino).await, &format!("getattr {ino:?}"))
    }

    async fn lookup(&self, dir: InodeId, name: &[u8]) -> Attr {
        ok(
            self.store.lookup(dir, name).await,
            &format!("lookup {:?}", String::from_utf8_lossy(name)),
        )
    }

    /// Every entry of `dir`, read in pages of `page`.
    async fn list(&self, dir: InodeId, page: usize) -> Vec<DirEntry> {
        let mut all = Vec::new();
        let mut after = Cookie::START;
        loop {
            let p = ok(self.store.readdir(dir, after, page).await, "readdir");
            assert!(
                p.entries.len() <= page,
                "readdir returned more than max_entries"
            );
            if p.entries.is_empty() {
                assert!(
                    p.eof,
                    "a page with no entries must be the end of the listing"
                );
                return all;
            }
            for e in &p.entries {
                // Also what keeps this loop finite on a store that repeats entries.
                assert!(
                    e.cookie > after,
                    "readdir after {after:?} returned cookie {:?}",
                    e.cookie
                );
                after = e.cookie;
            }
            all.extend(p.entries);
            if p.eof {
                return all;
            }
        }
    }

    async fn names(&self, dir: InodeId) -> Vec<Vec<u8>> {
        self.list(dir, 1000)
            .await
            .into_iter()
            .map(|e| e.name)
            .collect()
    }
}

fn names_of(list: &[&str]) -> Vec<Vec<u8>> {
    list.iter().map(|s| s.as_bytes().to_vec()).collect()
}

/// Two shares get distinct directory roots; asking again returns the same root unchanged.
async fn share_roots<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let a = ok(
        s.share_root(&format!("{}-a", cx.tag), dir(1)).await,
        "share a",
    );
    let b = ok(
        s.share_root(&format!("{}-b", cx.tag), dir(2)).await,
        "share b",
    );
    assert_ne!(a.ino, b.ino, "two shares share a root");
    for r in [&a, &b] {
        assert_ne!(r.ino, InodeId(0), "inode id 0 handed out");
        assert_eq!(r.kind, FileKind::Directory);
        assert_eq!(r.nlink, 2, "an empty root has nlink 2");
        assert_eq!(
            ok(s.parent(r.ino).await, "parent of root"),
            r.ino,
            "root is its own parent"
        );
    }
    let again = ok(
        s.share_root(&format!("{}-a", cx.tag), dir(9)).await,
        "share a again",
    );
    assert_eq!(
        again, a,
        "share_root is idempotent and does not recreate the root"
    );
    let page = ok(s.readdir(a.ino, Cookie::START, 10).await, "readdir root");
    assert!(page.entries.is_empty() && page.eof, "a new root is empty");
}

/// Every name-taking operation validates names before touching state.
async fn names<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("names").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let sub = cx.make(d.ino, b"sub", dir(1)).await;
    let invalid: [&[u8]; 6] = [b"", b".", b"..", b"a/b", b"a\0b", b"/"];
    for bad in invalid {
        let what = format!("name {bad:?}");
        assert_err!(
            s.create(d.ino, bad, file(2)).await,
            StoreError::Invalid(_),
            "create {what}"
        );
        assert_err!(
            s.lookup(d.ino, bad).await,
            StoreError::Invalid(_),
            "lookup {what}"
        );
        assert_err!(
            s.link(f.ino, d.ino, bad, t(2)).await,
            StoreError::Invalid(_),
            "link {what}"
        );
        assert_err!(
            s.unlink(d.ino, bad, t(2)).await,
            StoreError::Invalid(_),
            "unlink {what}"
        );
        assert_err!(
            s.rmdir(d.ino, bad, t(2)).await,
            StoreError::Invalid(_),
            "rmdir {what}"
        );
        assert_err!(
            s.rename(d.ino, b"f", d.ino, bad, t(2)).await,
            StoreError::Invalid(_),
            "rename to {what}"
        );
        assert_err!(
            s.rename(d.ino, bad, d.ino, b"g", t(2)).await,
            StoreError::Invalid(_),
            "rename from {what}"
        );
    }
    let long = vec![b'x'; 256];
    assert_err!(
        s.create(d.ino, &long, file(2)).await,
        StoreError::NameTooLong,
        "create 256"
    );
    assert_err!(
        s.lookup(d.ino, &long).await,
        StoreError::NameTooLong,
        "lookup 256"
    );
    assert_err!(
        s.link(f.ino, d.ino, &long, t(2)).await,
        StoreError::NameTooLong,
        "link 256"
    );
    assert_err!(
        s.rename(d.ino, b"f", d.ino, &long, t(2)).await,
        StoreError::NameTooLong,
        "rename to 256 bytes"
    );
    let max = vec![b'y'; 255];
    let m = cx.make(d.ino, &max, file(3)).await;
    assert_eq!(cx.lookup(d.ino, &max).await.ino, m.ino);
    // Names are bytes, not UTF-8.
    let binary: &[u8] = &[0xff, 0xfe, b' ', 0x80];
    let bin = cx.make(d.ino, binary, file(3)).await;
    assert_eq!(cx.lookup(d.ino, binary).await.ino, bin.ino);
    let mut listed = cx.names(d.ino).await;
    listed.sort();
    let mut want = vec![b"f".to_vec(), b"sub".to_vec(), max, binary.to_vec()];
    want.sort();
    assert_eq!(listed, want, "failed operations left entries behind");
    assert_eq!(cx.attr(sub.ino).await.nlink, 2);
}

/// A new node's attributes are exactly what was asked, and lookup/getattr agree.
async fn create_attrs<M: MetadataStore>(cx: &Meta<'_, M>) {
    let d = cx.dir("create_attrs").await;
    let node = NewNode {
        mode: 0o4751,
        uid: 7,
        gid: 8,
        ..file(5)
    };
    let a = cx.make(d.ino, b"f", node).await;
    assert_ne!(a.ino, InodeId(0), "inode id 0 handed out");
    assert_eq!(a.kind, FileKind::Regular);
    assert_eq!((a.mode, a.uid, a.gid), (0o4751, 7, 8));
    assert_eq!((a.nlink, a.size), (1, 0));
    assert_eq!(a.rdev, Device::default());
    assert_eq!(
        (a.atime, a.mtime, a.ctime, a.btime),
        (t(5), t(5), t(5), t(5))
    );
    assert_eq!(
        cx.lookup(d.ino, b"f").await,
        a,
        "lookup differs from create's result"
    );
    assert_eq!(
        cx.attr(a.ino).await,
        a,
        "getattr differs from create's result"
    );
    let sub = cx.make(d.ino, b"d", dir(6)).await;
    assert_eq!(
        (sub.kind, sub.nlink, sub.mode),
        (FileKind::Directory, 2, 0o755)
    );
    assert_eq!(a.content_key(StoreId(3)).ino, a.ino);
}

/// Creating an existing name fails with Exists, whatever the kinds, and changes nothing.
async fn create_exists<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("create_exists").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let sub = cx.make(d.ino, b"sub", dir(1)).await;
    let before = cx.attr(d.ino).await;
    for kind in [FileKind::Regular, FileKind::Directory, FileKind::Fifo] {
        assert_err!(
            s.create(d.ino, b"f", node(kind, 2)).await,
            StoreError::Exists,
            "{kind:?}"
        );
        assert_err!(
            s.create(d.ino, b"sub", node(kind, 2)).await,
            StoreError::Exists,
            "{kind:?}"
        );
    }
    cx.make(d.ino, b"l", symlink(b"x", 2)).await;
    assert_err!(
        s.create(d.ino, b"l", file(2)).await,
        StoreError::Exists,
        "over a symlink"
    );
    assert_eq!(
        cx.attr(f.ino).await,
        f,
        "a failed create changed the existing file"
    );
    assert_eq!(cx.attr(sub.ino).await, sub);
    let after = cx.attr(d.ino).await;
    assert_eq!(after.nlink, before.nlink);
    assert_eq!(cx.names(d.ino).await, names_of(&["f", "sub", "l"]));
}

/// Missing names are NotFound; a non-directory where a directory is needed is NotDir.
async fn not_found_and_not_dir<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("not_found").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    assert_err!(
        s.lookup(d.ino, b"nope").await,
        StoreError::NotFound,
        "lookup missing"
    );
    assert_err!(
        s.unlink(d.ino, b"nope", t(2)).await,
        StoreError::NotFound,
        "unlink missing"
    );
    assert_err!(
        s.rmdir(d.ino, b"nope", t(2)).await,
        StoreError::NotFound,
        "rmdir missing"
    );
    assert_err!(
        s.rename(d.ino, b"nope", d.ino, b"x", t(2)).await,
        StoreError::NotFound,
        "rename missing"
    );
    assert_err!(
        s.lookup(f.ino, b"x").await,
        StoreError::NotDir,
        "lookup in a file"
    );
    assert_err!(
        s.create(f.ino, b"x", file(2)).await,
        StoreError::NotDir,
        "create in a file"
    );
    assert_err!(
        s.readdir(f.ino, Cookie::START, 10).await,
        StoreError::NotDir,
        "readdir file"
    );
    assert_err!(
        s.parent(f.ino).await,
        StoreError::NotDir,
        "parent of a file"
    );
    assert_err!(
        s.unlink(f.ino, b"x", t(2)).await,
        StoreError::NotDir,
        "unlink in a file"
    );
    assert_err!(
        s.rmdir(f.ino, b"x", t(2)).await,
        StoreError::NotDir,
        "rmdir in a file"
    );
    assert_err!(
        s.link(f.ino, f.ino, b"x", t(2)).await,
        StoreError::NotDir,
        "link into a file"
    );
    assert_err!(
        s.rename(d.ino, b"f", f.ino, b"x", t(2)).await,
        StoreError::NotDir,
        "rename into a file"
    );
    assert_err!(
        s.rename(f.ino, b"x", d.ino, b"y", t(2)).await,
        StoreError::NotDir,
        "rename out of a file"
    );
}

/// Every operation addressed by an inode that no longer exists (or never did) is Stale.
async fn stale_inodes<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("stale").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let gone_dir = cx.make(d.ino, b"gone_dir", dir(1)).await;
    let gone_file = cx.make(d.ino, b"gone_file", file(1)).await;
    ok(s.rmdir(d.ino, b"gone_dir", t(2)).await, "rmdir");
    ok(s.unlink(d.ino, b"gone_file", t(2)).await, "unlink");
    for ino in [
        gone_dir.ino,
        gone_file.ino,
        InodeId(u64::MAX - 1),
        InodeId(0),
    ] {
        let w = format!("{ino:?}");
        assert_err!(s.getattr(ino).await, StoreError::Stale, "getattr {w}");
        assert_err!(
            s.setattr(ino, set(|x| x.mode = Some(0o600)), t(3)).await,
            StoreError::Stale,
            "setattr {w}"
        );
        assert_err!(
            s.record_write(ino, 10, t(3), None).await,
            StoreError::Stale,
            "record_write {w}"
        );
        assert_err!(s.readlink(ino).await, StoreError::Stale, "readlink {w}");
        assert_err!(
            s.link(ino, d.ino, b"l", t(3)).await,
            StoreError::Stale,
            "link {w}"
        );
    }
    let gd = gone_dir.ino;
    assert_err!(
        s.lookup(gd, b"x").await,
        StoreError::Stale,
        "lookup in a removed dir"
    );
    assert_err!(
        s.create(gd, b"x", file(3)).await,
        StoreError::Stale,
        "create in removed dir"
    );
    assert_err!(
        s.readdir(gd, Cookie::START, 10).await,
        StoreError::Stale,
        "readdir removed"
    );
    assert_err!(
        s.parent(gd).await,
        StoreError::Stale,
        "parent of removed dir"
    );
    assert_err!(
        s.unlink(gd, b"x", t(3)).await,
        StoreError::Stale,
        "unlink in removed dir"
    );
    assert_err!(
        s.rmdir(gd, b"x", t(3)).await,
        StoreError::Stale,
        "rmdir in removed dir"
    );
    assert_err!(
        s.link(f.ino, gd, b"x", t(3)).await,
        StoreError::Stale,
        "link to removed dir"
    );
    assert_err!(
        s.rename(gd, b"x", d.ino, b"y", t(3)).await,
        StoreError::Stale,
        "rename from"
    );
    assert_err!(
        s.rename(d.ino, b"f", gd, b"y", t(3)).await,
        StoreError::Stale,
        "rename to"
    );
    assert_eq!(
        cx.lookup(d.ino, b"f").await.ino,
        f.ino,
        "a failed rename moved the file"
    );
}

/// Namespace changes set the directory's mtime and ctime and bump its change counter, and
/// leave its atime and btime alone.
async fn dir_times<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("dir_times").await;
    let other = cx.dir("dir_times_other").await;
    let mut last = cx.attr(d.ino).await;
    let mut step = |name: &'static str, at: i64, after: Attr| {
        assert_eq!(
            (after.mtime, after.ctime),
            (t(at), t(at)),
            "dir times after {name}"
        );
        assert_eq!(
            (after.atime, after.btime),
            (last.atime, last.btime),
            "after {name}"
        );
        assert!(after.change > last.change, "change not bumped by {name}");
        last = after;
    };
    cx.make(d.ino, b"f", file(10)).await;
    step("create", 10, cx.attr(d.ino).await);
    cx.make(d.ino, b"sub", dir(11)).await;
    step("mkdir", 11, cx.attr(d.ino).await);
    cx.make(d.ino, b"l", symlink(b"f", 12)).await;
    step("symlink", 12, cx.attr(d.ino).await);
    let f = cx.lookup(d.ino, b"f").await;
    ok(s.link(f.ino, d.ino, b"f2", t(13)).await, "link");
    step("link", 13, cx.attr(d.ino).await);
    ok(s.unlink(d.ino, b"f2", t(14)).await, "unlink");
    step("unlink", 14, cx.attr(d.ino).await);
    ok(s.rmdir(d.ino, b"sub", t(15)).await, "rmdir");
    step("rmdir", 15, cx.attr(d.ino).await);
    ok(s.rename(d.ino, b"f", d.ino, b"g", t(16)).await, "rename");
    step("rename within", 16, cx.attr(d.ino).await);
    ok(
        s.rename(d.ino, b"g", other.ino, b"g", t(17)).await,
        "rename out",
    );
    step("rename out", 17, cx.attr(d.ino).await);
    ok(
        s.rename(other.ino, b"g", d.ino, b"g", t(18)).await,
        "rename in",
    );
    step("rename in", 18, cx.attr(d.ino).await);
}

/// A directory's nlink is 2 plus its subdirectories; files do not count.
async fn mkdir_nlink<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("mkdir_nlink").await;
    assert_eq!(d.nlink, 2);
    let parent_before = cx.attr(cx.run).await.nlink;
    let a = cx.make(d.ino, b"a", dir(1)).await;
    assert_eq!(cx.attr(d.ino).await.nlink, 3);
    cx.make(d.ino, b"b", dir(1)).await;
    cx.make(d.ino, b"f", file(1)).await;
    cx.make(d.ino, b"p", node(FileKind::Fifo, 1)).await;
    assert_eq!(
        cx.attr(d.ino).await.nlink,
        4,
        "files changed the directory's nlink"
    );
    assert_eq!((a.nlink, ok(s.parent(a.ino).await, "parent")), (2, d.ino));
    cx.make(a.ino, b"inner", dir(1)).await;
    assert_eq!(cx.attr(a.ino).await.nlink, 3);
    ok(s.rmdir(a.ino, b"inner", t(2)).await, "rmdir inner");
    ok(s.rmdir(d.ino, b"b", t(2)).await, "rmdir b");
    assert_eq!(cx.attr(d.ino).await.nlink, 3);
    assert_eq!(cx.attr(a.ino).await.nlink, 2);
    assert_eq!(
        cx.attr(cx.run).await.nlink,
        parent_before,
        "grandparent changed"
    );
}

/// rmdir removes only empty directories and frees them; unlink refuses directories.
async fn rmdir_rules<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("rmdir_rules").await;
    let full = cx.make(d.ino, b"full", dir(1)).await;
    cx.make(full.ino, b"x", file(1)).await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let empty = cx.make(d.ino, b"empty", dir(1)).await;
    assert_err!(
        s.rmdir(d.ino, b"full", t(2)).await,
        StoreError::NotEmpty,
        "rmdir non-empty"
    );
    assert_err!(
        s.rmdir(d.ino, b"f", t(2)).await,
        StoreError::NotDir,
        "rmdir a file"
    );
    assert_err!(
        s.unlink(d.ino, b"empty", t(2)).await,
        StoreError::IsDir,
        "unlink a dir"
    );
    assert_eq!(cx.attr(full.ino).await.nlink, 2);
    assert_eq!(cx.attr(f.ino).await, f);
    let r = ok(s.rmdir(d.ino, b"empty", t(3)).await, "rmdir empty");
    assert!(r.freed, "a removed directory is freed");
    assert_eq!((r.attr.ino, r.attr.nlink), (empty.ino, 0));
    assert_err!(
        s.getattr(empty.ino).await,
        StoreError::Stale,
        "getattr removed dir"
    );
    assert_err!(
        s.lookup(d.ino, b"empty").await,
        StoreError::NotFound,
        "lookup removed dir"
    );
    // Emptied directories can go.
    ok(s.unlink(full.ino, b"x", t(4)).await, "unlink x");
    ok(s.rmdir(d.ino, b"full", t(4)).await, "rmdir emptied");
    assert_eq!(cx.attr(d.ino).await.nlink, 2);
}

/// Unlinking the last name of any non-directory frees it.
async fn unlink_frees<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("unlink_frees").await;
    for (name, n) in [
        (&b"file"[..], file(1)),
        (b"link", symlink(b"target", 1)),
        (b"fifo", node(FileKind::Fifo, 1)),
        (b"sock", node(FileKind::Socket, 1)),
    ] {
        let a = cx.make(d.ino, name, n).await;
        let r = ok(s.unlink(d.ino, name, t(2)).await, "unlink");
        assert!(r.freed, "last link of {:?} not freed", a.kind);
        assert_eq!((r.attr.ino, r.attr.nlink), (a.ino, 0));
        assert_err!(
            s.getattr(a.ino).await,
            StoreError::Stale,
            "getattr freed {:?}",
            a.kind
        );
        assert_err!(
            s.lookup(d.ino, name).await,
            StoreError::NotFound,
            "lookup unlinked"
        );
    }
    assert!(cx.names(d.ino).await.is_empty());
}

/// Hard links count names; the inode is freed with its last name, not before.
async fn hard_links<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d1 = cx.dir("hard_links_1").await;
    let d2 = cx.dir("hard_links_2").await;
    let f = cx.make(d1.ino, b"f", file(1)).await;
    let a = ok(s.link(f.ino, d2.ino, b"g", t(3)).await, "link");
    assert_eq!((a.ino, a.nlink, a.ctime), (f.ino, 2, t(3)), "link result");
    assert_eq!(a.mtime, f.mtime, "link changed mtime");
    ok(s.link(f.ino, d1.ino, b"h", t(4)).await, "link same dir");
    assert_eq!(cx.lookup(d2.ino, b"g").await.ino, f.ino);
    assert_eq!(cx.lookup(d1.ino, b"h").await.nlink, 3);
    let r = ok(s.unlink(d1.ino, b"f", t(5)).await, "unlink first");
    assert!(!r.freed, "freed while names remain");
    assert_eq!((r.attr.nlink, r.attr.ctime), (2, t(5)));
    let r = ok(s.unlink(d1.ino, b"h", t(6)).await, "unlink second");
    assert!(!r.freed);
    assert_eq!(cx.attr(f.ino).await.nlink, 1);
    let r = ok(s.unlink(d2.ino, b"g", t(7)).await, "unlink last");
    assert!(r.freed && r.attr.nlink == 0, "last unlink must free");
    assert_err!(
        s.getattr(f.ino).await,
        StoreError::Stale,
        "getattr after last unlink"
    );
}

/// link refuses directories and taken names, and changes nothing when it fails.
async fn link_rules<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("link_rules").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let sub = cx.make(d.ino, b"sub", dir(1)).await;
    assert_err!(
        s.link(sub.ino, d.ino, b"x", t(2)).await,
        StoreError::Invalid(_),
        "link dir"
    );
    assert_err!(
        s.link(f.ino, d.ino, b"sub", t(2)).await,
        StoreError::Exists,
        "link over dir"
    );
    assert_err!(
        s.link(f.ino, d.ino, b"f", t(2)).await,
        StoreError::Exists,
        "link onto self"
    );
    assert_eq!(cx.attr(f.ino).await, f, "a failed link changed the file");
    assert_eq!(cx.attr(sub.ino).await.nlink, 2);
    let l = cx.make(d.ino, b"l", symlink(b"f", 1)).await;
    assert_eq!(cx.names(d.ino).await, names_of(&["f", "sub", "l"]));
    assert_eq!(l.nlink, 1);
}

/// `lookup_folded` finds a name ignoring case (ASCII and beyond), follows renames, links,
/// unlinks and rmdirs, picks the smallest of names that fold alike, and refuses what lookup
/// refuses.
async fn case_folded_lookup<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("case_folded_1").await;
    let d2 = cx.dir("case_folded_2").await;
    let f = cx.make(d.ino, b"Report.TXT", file(1)).await;
    for probe in [&b"report.txt"[..], b"REPORT.txt", b"Report.TXT"] {
        let (name, a) = ok(s.lookup_folded(d.ino, probe).await, "lookup_folded");
        assert_eq!((name.as_slice(), a.ino), (&b"Report.TXT"[..], f.ino));
    }
    assert_err!(
        s.lookup_folded(d.ino, b"report.tx").await,
        StoreError::NotFound,
        "a prefix is not a match"
    );
    let u = cx.make(d.ino, "Ärger".as_bytes(), file(1)).await;
    let (name, a) = ok(s.lookup_folded(d.ino, "äRGER".as_bytes()).await, "unicode");
    assert_eq!((name.as_slice(), a.ino), ("Ärger".as_bytes(), u.ino));
    // Names a case-sensitive client made: the smallest in byte order answers.
    let upper = cx.make(d.ino, b"B", file(1)).await;
    let lower = cx.make(d.ino, b"b", file(1)).await;
    let (name, a) = ok(s.lookup_folded(d.ino, b"b").await, "alike");
    assert_eq!((name.as_slice(), a.ino), (&b"B"[..], upper.ino));
    ok(s.unlink(d.ino, b"B", t(2)).await, "unlink B");
    let (name, a) = ok(s.lookup_folded(d.ino, b"B").await, "after unlink");
    assert_eq!((name.as_slice(), a.ino), (&b"b"[..], lower.ino));
    ok(s.unlink(d.ino, b"b", t(2)).await, "unlink b");
    assert_err!(
        s.lookup_folded(d.ino, b"b").await,
        StoreError::NotFound,
        "unlinked"
    );
    // Renames move the index entry, within and across directories.
    ok(
        s.rename(d.ino, b"Report.TXT", d.ino, b"Other", t(3)).await,
        "rename",
    );
    assert_err!(
        s.lookup_folded(d.ino, b"report.txt").await,
        StoreError::NotFound,
        "old name"
    );
    assert_eq!(
        ok(s.lookup_folded(d.ino, b"OTHER").await, "new name").1.ino,
        f.ino
    );
    ok(
        s.rename(d.ino, b"Other", d2.ino, b"Moved", t(4)).await,
        "move",
    );
    assert_err!(
        s.lookup_folded(d.ino, b"other").await,
        StoreError::NotFound,
        "moved away"
    );
    assert_eq!(
        ok(s.lookup_folded(d2.ino, b"moved").await, "moved").1.ino,
        f.ino
    );
    // A rename over an existing name leaves one index entry, the survivor's.
    cx.make(d2.ino, b"Target", file(5)).await;
    ok(
        s.rename(d2.ino, b"Moved", d2.ino, b"Target", t(5)).await,
        "replace",
    );
    let (name, a) = ok(s.lookup_folded(d2.ino, b"TARGET").await, "replaced");
    assert_eq!((name.as_slice(), a.ino), (&b"Target"[..], f.ino));
    // Hard links and directories.
    ok(s.link(f.ino, d.ino, b"Link", t(6)).await, "link");
    assert_eq!(
        ok(s.lookup_folded(d.ino, b"LINK").await, "link").1.ino,
        f.ino
    );
    cx.make(d.ino, b"SubDir", dir(7)).await;
    assert_eq!(
        ok(s.lookup_folded(d.ino, b"subdir").await, "dir").0,
        b"SubDir".to_vec()
    );
    ok(s.rmdir(d.ino, b"SubDir", t(8)).await, "rmdir");
    assert_err!(
        s.lookup_folded(d.ino, b"subdir").await,
        StoreError::NotFound,
        "rmdir"
    );
    // What lookup refuses.
    assert_err!(
        s.lookup_folded(f.ino, b"x").await,
        StoreError::NotDir,
        "in a file"
    );
    assert!(s.lookup_folded(d.ino, b"a/b").await.is_err(), "bad name");
}

/// A rename within a directory moves the name and keeps the inode.
async fn rename_same_dir<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("rename_same_dir").await;
    let f = cx.make(d.ino, b"a", file(1)).await;
    let r = ok(s.rename(d.ino, b"a", d.ino, b"b", t(2)).await, "rename");
    assert_eq!((r.attr.ino, r.replaced), (f.ino, None));
    assert_err!(
        s.lookup(d.ino, b"a").await,
        StoreError::NotFound,
        "old name"
    );
    let b = cx.lookup(d.ino, b"b").await;
    assert_eq!((b.ino, b.nlink, b.size, b.mtime), (f.ino, 1, 0, f.mtime));
    assert_eq!(cx.names(d.ino).await, names_of(&["b"]));
}

/// A rename across directories moves the name and keeps the inode.
async fn rename_cross_dir<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d1 = cx.dir("rename_cross_1").await;
    let d2 = cx.dir("rename_cross_2").await;
    let f = cx.make(d1.ino, b"a", file(1)).await;
    let r = ok(s.rename(d1.ino, b"a", d2.ino, b"b", t(2)).await, "rename");
    assert_eq!((r.attr.ino, r.attr.nlink, r.replaced), (f.ino, 1, None));
    assert!(cx.names(d1.ino).await.is_empty());
    assert_eq!(cx.names(d2.ino).await, names_of(&["b"]));
    assert_eq!(cx.lookup(d2.ino, b"b").await.ino, f.ino);
    assert_eq!(
        (cx.attr(d1.ino).await.nlink, cx.attr(d2.ino).await.nlink),
        (2, 2)
    );
}

/// A rename over an existing file replaces it in one step and frees it.
async fn rename_over_file<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("rename_over_file").await;
    let a = cx.make(d.ino, b"a", file(1)).await;
    let b = cx.make(d.ino, b"b", file(1)).await;
    let r = ok(
        s.rename(d.ino, b"a", d.ino, b"b", t(2)).await,
        "rename over b",
    );
    assert_eq!(r.attr.ino, a.ino);
    let replaced = r
        .replaced
        .expect("rename over a file reports the replaced file");
    assert!(replaced.freed, "the replaced file had one link");
    assert_eq!((replaced.attr.ino, replaced.attr.nlink), (b.ino, 0));
    assert_eq!(cx.lookup(d.ino, b"b").await.ino, a.ino);
    assert_err!(s.getattr(b.ino).await, StoreError::Stale, "replaced file");
    assert_eq!(cx.names(d.ino).await, names_of(&["b"]));
    // Replacing a symlink works the same.
    cx.make(d.ino, b"l", symlink(b"x", 3)).await;
    let r = ok(
        s.rename(d.ino, b"b", d.ino, b"l", t(4)).await,
        "rename over symlink",
    );
    assert!(r.replaced.is_some_and(|x| x.freed));
    assert_eq!(cx.lookup(d.ino, b"l").await.ino, a.ino);
}

/// Replacing a file that has other names only removes one link.
async fn rename_over_linked_file<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("rename_over_linked").await;
    let a = cx.make(d.ino, b"a", file(1)).await;
    let b = cx.make(d.ino, b"b", file(1)).await;
    ok(s.link(b.ino, d.ino, b"c", t(2)).await, "link");
    let r = ok(s.rename(d.ino, b"a", d.ino, b"b", t(3)).await, "rename");
    let replaced = r.replaced.expect("replaced reported");
    assert!(!replaced.freed, "a file with another name was freed");
    assert_eq!((replaced.attr.ino, replaced.attr.nlink), (b.ino, 1));
    assert_eq!(replaced.attr.ctime, t(3), "losing a link changes ctime");
    assert_eq!(cx.lookup(d.ino, b"c").await.nlink, 1);
    assert_eq!(cx.lookup(d.ino, b"b").await.ino, a.ino);
}

/// A directory may replace an empty directory; link counts follow.
async fn rename_dir_over_empty_dir<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("rename_dir_over_empty").await;
    let x = cx.make(d.ino, b"x", dir(1)).await;
    cx.make(x.ino, b"content", file(1)).await;
    let y = cx.make(d.ino, b"y", dir(1)).await;
    assert_eq!(cx.attr(d.ino).await.nlink, 4);
    let r = ok(
        s.rename(d.ino, b"x", d.ino, b"y", t(2)).await,
        "rename over empty dir",
    );
    let replaced = r.replaced.expect("replaced reported");
    assert!(replaced.freed && replaced.attr.nlink == 0 && replaced.attr.ino == y.ino);
    assert_err!(s.getattr(y.ino).await, StoreError::Stale, "replaced dir");
    assert_eq!(cx.attr(d.ino).await.nlink, 3);
    assert_eq!(cx.lookup(d.ino, b"y").await.ino, x.ino);
    assert_eq!(cx.names(x.ino).await, names_of(&["content"]));
    // Across directories: the destination loses one subdirectory and gains another.
    let p1 = cx.make(d.ino, b"p1", dir(3)).await;
    let p2 = cx.make(d.ino, b"p2", dir(3)).await;
    let m = cx.make(p1.ino, b"m", dir(3)).await;
    cx.make(p2.ino, b"e", dir(3)).await;
    ok(
        s.rename(p1.ino, b"m", p2.ino, b"e", t(4)).await,
        "rename over empty dir across",
    );
    assert_eq!(
        (cx.attr(p1.ino).await.nlink, cx.attr(p2.ino).await.nlink),
        (2, 3)
    );
    assert_eq!(ok(s.parent(m.ino).await, "parent"), p2.ino);
}

/// A non-empty directory is never replaced.
async fn rename_dir_over_nonempty_dir<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("rename_dir_over_nonempty").await;
    let x = cx.make(d.ino, b"x", dir(1)).await;
    let y = cx.make(d.ino, b"y", dir(1)).await;
    cx.make(y.ino, b"keep", file(1)).await;
    assert_err!(
        s.rename(d.ino, b"x", d.ino, b"y", t(2)).await,
        StoreError::NotEmpty,
        "rename over a non-empty dir"
    );
    assert_eq!(cx.lookup(d.ino, b"x").await.ino, x.ino);
    assert_eq!(cx.lookup(d.ino, b"y").await.ino, y.ino);
    assert_eq!(cx.names(y.ino).await, names_of(&["keep"]));
    assert_eq!(cx.attr(d.ino).await.nlink, 4);
}

/// A file never replaces a directory, nor a directory a file.
async fn rename_kind_mismatch<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("rename_kind_mismatch").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let sub = cx.make(d.ino, b"sub", dir(1)).await;
    assert_err!(
        s.rename(d.ino, b"f", d.ino, b"sub", t(2)).await,
        StoreError::IsDir,
        "f->sub"
    );
    assert_err!(
        s.rename(d.ino, b"sub", d.ino, b"f", t(2)).await,
        StoreError::NotDir,
        "sub->f"
    );
    assert_eq!(cx.attr(f.ino).await, f);
    assert_eq!(cx.attr(sub.ino).await, sub);
    assert_eq!(cx.names(d.ino).await, names_of(&["f", "sub"]));
}

/// A directory cannot move into itself or its own subtree.
async fn rename_into_own_subtree<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("rename_into_subtree").await;
    let a = cx.make(d.ino, b"a", dir(1)).await;
    let b = cx.make(a.ino, b"b", dir(1)).await;
    let c = cx.make(b.ino, b"c", dir(1)).await;
    for (to, what) in [
        (a.ino, "itself"),
        (b.ino, "its child"),
        (c.ino, "its grandchild"),
    ] {
        assert_err!(
            s.rename(d.ino, b"a", to, b"z", t(2)).await,
            StoreError::Invalid(_),
            "move a into {what}"
        );
    }
    assert_err!(
        s.rename(a.ino, b"b", c.ino, b"z", t(2)).await,
        StoreError::Invalid(_),
        "b->c"
    );
    assert_eq!(ok(s.parent(a.ino).await, "parent a"), d.ino);
    assert_eq!(ok(s.parent(b.ino).await, "parent b"), a.ino);
    assert_eq!(cx.attr(a.ino).await.nlink, 3);
    // Moving up the tree is fine.
    ok(s.rename(b.ino, b"c", d.ino, b"c", t(3)).await, "move c up");
    assert_eq!(ok(s.parent(c.ino).await, "parent c"), d.ino);
    assert_eq!(cx.attr(b.ino).await.nlink, 2);
}

/// Renaming a name onto another name of the same inode does nothing.
async fn rename_same_inode<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("rename_same_inode").await;
    let f = cx.make(d.ino, b"a", file(1)).await;
    ok(s.link(f.ino, d.ino, b"b", t(2)).await, "link");
    let sub = cx.make(d.ino, b"sub", dir(3)).await;
    let before = cx.attr(d.ino).await;
    let r = ok(
        s.rename(d.ino, b"a", d.ino, b"b", t(4)).await,
        "rename onto own link",
    );
    assert_eq!((r.attr.ino, r.replaced), (f.ino, None));
    ok(
        s.rename(d.ino, b"a", d.ino, b"a", t(4)).await,
        "rename file onto itself",
    );
    ok(
        s.rename(d.ino, b"sub", d.ino, b"sub", t(4)).await,
        "rename dir onto itself",
    );
    assert_eq!(cx.names(d.ino).await, names_of(&["a", "b", "sub"]));
    assert_eq!(cx.attr(f.ino).await.nlink, 2);
    assert_eq!(cx.attr(sub.ino).await, sub);
    let after = cx.attr(d.ino).await;
    assert_eq!(
        (after.nlink, after.mtime),
        (before.nlink, before.mtime),
        "no-op changed dir"
    );
}

/// Moving a directory re-parents it: its "..", and both parents' nlink.
async fn rename_dir_moves_parent<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d1 = cx.dir("rename_dir_parent_1").await;
    let d2 = cx.dir("rename_dir_parent_2").await;
    let x = cx.make(d1.ino, b"x", dir(1)).await;
    cx.make(x.ino, b"inner", dir(1)).await;
    let r = ok(s.rename(d1.ino, b"x", d2.ino, b"y", t(2)).await, "move dir");
    assert_eq!((r.attr.ino, r.attr.nlink), (x.ino, 3));
    assert_eq!(ok(s.parent(x.ino).await, "parent"), d2.ino);
    assert_eq!(
        (cx.attr(d1.ino).await.nlink, cx.attr(d2.ino).await.nlink),
        (2, 3)
    );
    assert_eq!(cx.names(x.ino).await, names_of(&["inner"]));
    // And back, under a new name in the same directory first.
    ok(
        s.rename(d2.ino, b"y", d2.ino, b"z", t(3)).await,
        "rename dir in place",
    );
    assert_eq!(cx.attr(d2.ino).await.nlink, 3);
    ok(
        s.rename(d2.ino, b"z", d1.ino, b"x", t(4)).await,
        "move back",
    );
    assert_eq!(
        (cx.attr(d1.ino).await.nlink, cx.attr(d2.ino).await.nlink),
        (3, 2)
    );
    assert_eq!(ok(s.parent(x.ino).await, "parent"), d1.ino);
}

/// A rename sets both directories' mtime and ctime and the moved inode's ctime.
async fn rename_times<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d1 = cx.dir("rename_times_1").await;
    let d2 = cx.dir("rename_times_2").await;
    let f = cx.make(d1.ino, b"f", file(1)).await;
    let r = ok(s.rename(d1.ino, b"f", d2.ino, b"g", t(9)).await, "rename");
    assert_eq!(
        (r.attr.ctime, r.attr.mtime),
        (t(9), f.mtime),
        "moved inode times"
    );
    assert!(r.attr.change > f.change, "moved inode's change not bumped");
    for d in [d1.ino, d2.ino] {
        let a = cx.attr(d).await;
        assert_eq!(
            (a.mtime, a.ctime),
            (t(9), t(9)),
            "directory times after rename"
        );
    }
}

/// Symlinks keep their target; readlink works only on symlinks.
async fn symlinks<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("symlinks").await;
    let target = b"../some/where/\xff";
    let l = cx.make(d.ino, b"l", symlink(target, 1)).await;
    assert_eq!(
        (l.kind, l.nlink, l.size),
        (FileKind::Symlink, 1, target.len() as u64)
    );
    assert_eq!(ok(s.readlink(l.ino).await, "readlink"), target.to_vec());
    let f = cx.make(d.ino, b"f", file(1)).await;
    assert_err!(
        s.readlink(f.ino).await,
        StoreError::Invalid(_),
        "readlink of a file"
    );
    assert_err!(
        s.readlink(d.ino).await,
        StoreError::Invalid(_),
        "readlink of a dir"
    );
    // A symlink survives a rename with its target.
    ok(
        s.rename(d.ino, b"l", d.ino, b"m", t(2)).await,
        "rename symlink",
    );
    assert_eq!(
        ok(s.readlink(l.ino).await, "readlink after rename"),
        target.to_vec()
    );
}

/// Device, fifo and socket nodes keep their kind; only devices keep device numbers.
async fn special_nodes<M: MetadataStore>(cx: &Meta<'_, M>) {
    let d = cx.dir("special_nodes").await;
    let rdev = Device {
        major: 8,
        minor: 17,
    };
    for (name, kind, kept) in [
        (&b"blk"[..], FileKind::BlockDevice, true),
        (b"chr", FileKind::CharDevice, true),
        (b"fifo", FileKind::Fifo, false),
        (b"sock", FileKind::Socket, false),
        (b"file", FileKind::Regular, false),
    ] {
        let a = cx
            .make(
                d.ino,
                name,
                NewNode {
                    rdev,
                    ..node(kind, 1)
                },
            )
            .await;
        let want = if kept { rdev } else { Device::default() };
        assert_eq!(
            (a.kind, a.rdev, a.nlink, a.size),
            (kind, want, 1, 0),
            "{kind:?}"
        );
        assert_eq!(cx.attr(a.ino).await, a);
    }
}

/// A time before the epoch: timestamps may be negative.
const BEFORE_1970: Timestamp = Timestamp {
    secs: -86_400,
    nanos: 5,
};

/// A [`SetAttr`] with the fields `edit` sets.
fn set(edit: impl FnOnce(&mut SetAttr)) -> SetAttr {
    let mut s = SetAttr::default();
    edit(&mut s);
    s
}

/// How a setattr case changes the expected attributes.
type AttrEdit = fn(&mut Attr);

/// setattr changes exactly the fields asked, sets ctime to `now` and bumps change.
async fn setattr_fields<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("setattr_fields").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let mut expect = f.clone();
    let cases: [(SetAttr, AttrEdit); 5] = [
        (set(|x| x.mode = Some(0o2700)), |a| a.mode = 0o2700),
        (set(|x| x.uid = Some(42)), |a| a.uid = 42),
        (set(|x| x.gid = Some(43)), |a| a.gid = 43),
        (set(|x| x.atime = Some(t(-5))), |a| a.atime = t(-5)),
        (set(|x| x.mtime = Some(BEFORE_1970)), |a| {
            a.mtime = BEFORE_1970
        }),
    ];
    for (i, (set, apply)) in cases.into_iter().enumerate() {
        let now = 10 + i as i64;
        let what = format!("{set:?}");
        let a = ok(s.setattr(f.ino, set, t(now)).await, &what);
        apply(&mut expect);
        expect.ctime = t(now);
        assert!(a.change > expect.change, "change not bumped by {what}");
        expect.change = a.change;
        assert_eq!(a, expect, "setattr {what}");
        assert_eq!(cx.attr(f.ino).await, expect, "getattr after {what}");
    }
    let all = SetAttr {
        mode: Some(0o600),
        uid: Some(1),
        gid: Some(2),
        size: None,
        atime: Some(t(30)),
        mtime: Some(t(31)),
        btime: Some(t(29)),
        ctime: None,
    };
    let a = ok(s.setattr(f.ino, all, t(32)).await, "setattr all");
    assert_eq!((a.mode, a.uid, a.gid), (0o600, 1, 2));
    assert_eq!(
        (a.atime, a.mtime, a.ctime, a.btime),
        (t(30), t(31), t(32), t(29))
    );
    // A given ctime is recorded instead of now (SMB ChangeTime); the next change stamps now.
    let a = ok(
        s.setattr(f.ino, set(|x| x.ctime = Some(t(20))), t(34))
            .await,
        "setattr ctime",
    );
    assert_eq!(a.ctime, t(20));
    let a = ok(
        s.setattr(f.ino, set(|x| x.mode = Some(0o640)), t(35)).await,
        "setattr after ctime",
    );
    assert_eq!(a.ctime, t(35));
    // Directories take attributes too.
    let da = ok(
        s.setattr(d.ino, set(|x| x.mode = Some(0o700)), t(33)).await,
        "setattr dir",
    );
    assert_eq!((da.mode, da.ctime, da.nlink), (0o700, t(33), 2));
}

/// A size change applies to regular files only and counts as a modification.
async fn setattr_size<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("setattr_size").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let a = ok(
        s.setattr(f.ino, set(|x| x.size = Some(5000)), t(2)).await,
        "grow",
    );
    assert_eq!(
        (a.size, a.mtime, a.ctime),
        (5000, t(2), t(2)),
        "grow sets mtime"
    );
    let a = ok(
        s.setattr(
            f.ino,
            set(|x| {
                x.size = Some(10);
                x.mtime = Some(t(-1));
            }),
            t(3),
        )
        .await,
        "shrink with mtime",
    );
    assert_eq!(
        (a.size, a.mtime, a.ctime),
        (10, t(-1), t(3)),
        "explicit mtime wins"
    );
    let size = |n| set(|x| x.size = Some(n));
    assert_err!(
        s.setattr(d.ino, size(0), t(4)).await,
        StoreError::IsDir,
        "size of a dir"
    );
    let l = cx.make(d.ino, b"l", symlink(b"x", 1)).await;
    assert_err!(
        s.setattr(l.ino, size(0), t(4)).await,
        StoreError::Invalid(_),
        "size symlink"
    );
    let p = cx.make(d.ino, b"p", node(FileKind::Fifo, 1)).await;
    assert_err!(
        s.setattr(p.ino, size(0), t(4)).await,
        StoreError::Invalid(_),
        "size fifo"
    );
    assert_eq!(
        cx.attr(l.ino).await,
        l,
        "a failed setattr changed the symlink"
    );
}

/// Modes beyond 0o7777 are refused and change nothing.
async fn setattr_invalid<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("setattr_invalid").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    assert_err!(
        s.setattr(
            f.ino,
            set(|x| {
                x.mode = Some(0o100644);
                x.uid = Some(5);
            }),
            t(2)
        )
        .await,
        StoreError::Invalid(_),
        "setattr mode with type bits"
    );
    assert_eq!(cx.attr(f.ino).await, f, "a failed setattr changed fields");
    assert_err!(
        s.create(
            d.ino,
            b"g",
            NewNode {
                mode: 0o10000,
                ..file(2)
            }
        )
        .await,
        StoreError::Invalid(_),
        "create with mode beyond 0o7777"
    );
    assert_err!(
        s.lookup(d.ino, b"g").await,
        StoreError::NotFound,
        "refused create left a name"
    );
}

/// record_write switches the content version with the size; `None` keeps the recorded one;
/// versions belong to the inode and go with it.
async fn content_versions<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("versions").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    assert_eq!(
        ok(s.content_version(f.ino).await, "version of a new file"),
        None
    );
    let a = ok(
        s.record_write(f.ino, 10, t(2), Some(ContentVersion(7)))
            .await,
        "record_write with version 7",
    );
    assert_eq!(a.size, 10);
    assert_eq!(
        ok(s.content_version(f.ino).await, "version after record_write"),
        Some(ContentVersion(7))
    );
    ok(
        s.record_write(f.ino, 20, t(3), None).await,
        "record_write without a version",
    );
    assert_eq!(
        ok(
            s.content_version(f.ino).await,
            "version after a write without one"
        ),
        Some(ContentVersion(7)),
        "None keeps the recorded version"
    );
    ok(
        s.record_write(f.ino, 5, t(4), Some(ContentVersion(9)))
            .await,
        "record_write with version 9",
    );
    assert_eq!(
        ok(s.content_version(f.ino).await, "version after a newer one"),
        Some(ContentVersion(9))
    );
    assert_eq!(
        cx.attr(f.ino).await.size,
        20,
        "a version never shrinks the size"
    );
    // Another file's version is its own.
    let g = cx.make(d.ino, b"g", file(1)).await;
    assert_eq!(ok(s.content_version(g.ino).await, "other file"), None);
    let sub = cx.make(d.ino, b"sub", dir(1)).await;
    assert!(
        s.record_write(sub.ino, 1, t(5), Some(ContentVersion(1)))
            .await
            .is_err(),
        "record_write with a version on a directory"
    );
    ok(s.unlink(d.ino, b"f", t(6)).await, "unlink");
    assert_err!(
        s.content_version(f.ino).await,
        StoreError::Stale,
        "version of a freed inode"
    );
}

/// record_write_on records a version only over its base (or over itself, a retried record),
/// and otherwise changes nothing and names the recorded version.
async fn content_version_swaps<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("version-swaps").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let v = ContentVersion;
    let a = ok(
        s.record_write_on(f.ino, 10, t(2), None, v(5)).await,
        "first version over none",
    );
    let Recorded::Done(a) = a else {
        panic!("a first version over no version conflicted: {a:?}");
    };
    assert_eq!((a.size, a.mtime), (10, t(2)));
    assert_eq!(
        ok(s.content_version(f.ino).await, "after the swap"),
        Some(v(5))
    );
    let before = cx.attr(f.ino).await;
    assert_eq!(
        ok(
            s.record_write_on(f.ino, 99, t(3), None, v(6)).await,
            "a swap over a stale base"
        ),
        Recorded::Conflict(Some(v(5))),
    );
    assert_eq!(
        ok(
            s.record_write_on(f.ino, 99, t(3), Some(v(4)), v(6)).await,
            "a swap over another stale base"
        ),
        Recorded::Conflict(Some(v(5))),
    );
    assert_eq!(
        cx.attr(f.ino).await,
        before,
        "a conflict changes nothing: size, times and change counter stay"
    );
    assert_eq!(
        ok(s.content_version(f.ino).await, "after conflicts"),
        Some(v(5))
    );
    let Recorded::Done(a) = ok(
        s.record_write_on(f.ino, 20, t(4), Some(v(5)), v(8)).await,
        "a swap over the recorded base",
    ) else {
        panic!("a swap over the recorded version conflicted");
    };
    assert_eq!(a.size, 20);
    let Recorded::Done(a) = ok(
        s.record_write_on(f.ino, 30, t(5), Some(v(5)), v(8)).await,
        "the same swap again",
    ) else {
        panic!("a retried swap (the version already recorded) conflicted");
    };
    assert_eq!(a.size, 30, "a retried swap still records its size");
    assert_eq!(
        ok(s.content_version(f.ino).await, "after the swaps"),
        Some(v(8))
    );
    // An unconditional record without a version keeps the version, and the swap still
    // compares against it.
    ok(
        s.record_write(f.ino, 31, t(6), None).await,
        "record without a version",
    );
    assert!(matches!(
        ok(
            s.record_write_on(f.ino, 32, t(7), Some(v(8)), v(9)).await,
            "swap after a record without a version"
        ),
        Recorded::Done(_)
    ));
    let sub = cx.make(d.ino, b"sub", dir(1)).await;
    assert!(
        s.record_write_on(sub.ino, 1, t(8), None, v(1))
            .await
            .is_err(),
        "record_write_on on a directory"
    );
    ok(s.unlink(d.ino, b"f", t(9)).await, "unlink");
    assert_err!(
        s.record_write_on(f.ino, 40, t(10), Some(v(9)), v(10)).await,
        StoreError::Stale,
        "record_write_on of a freed inode"
    );
}

/// record_write changes only size (to the maximum), mtime, ctime and change.
async fn record_write_narrow<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("record_write").await;
    let f = cx
        .make(
            d.ino,
            b"f",
            NewNode {
                mode: 0o640,
                uid: 3,
                gid: 4,
                ..file(1)
            },
        )
        .await;
    let a = ok(
        s.record_write(f.ino, 100, t(5), None).await,
        "record_write 100",
    );
    let mut expect = Attr {
        size: 100,
        mtime: t(5),
        ctime: t(5),
        change: a.change,
        ..f.clone()
    };
    assert!(a.change > f.change, "change not bumped");
    assert_eq!(a, expect);
    let a = ok(
        s.record_write(f.ino, 50, t(6), None).await,
        "record_write 50",
    );
    expect.mtime = t(6);
    expect.ctime = t(6);
    assert!(a.change > expect.change, "change not bumped");
    expect.change = a.change;
    assert_eq!(a, expect, "a write inside the file keeps the size");
    assert_eq!(cx.attr(f.ino).await, expect);
    let sub = cx.make(d.ino, b"sub", dir(1)).await;
    assert!(
        s.record_write(sub.ino, 10, t(7), None).await.is_err(),
        "record_write on a directory"
    );
    let l = cx.make(d.ino, b"l", symlink(b"x", 1)).await;
    assert!(
        s.record_write(l.ino, 10, t(7), None).await.is_err(),
        "record_write on a symlink"
    );
    assert_eq!(cx.attr(l.ino).await, l);
}

/// A listing returns every entry once, in link order, with cookies that only grow and
/// attributes that match lookup.
async fn readdir_order<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("readdir_order").await;
    let mut created = Vec::new();
    for i in 0..20 {
        // Names in an order unlike their sort order, so a name-sorted listing shows.
        let name = format!("n{:02}", (i * 7) % 20).into_bytes();
        let kind = if i % 3 == 0 {
            FileKind::Directory
        } else {
            FileKind::Regular
        };
        cx.make(d.ino, &name, node(kind, i)).await;
        created.push(name);
    }
    let page = ok(s.readdir(d.ino, Cookie::START, 1000).await, "readdir");
    assert!(page.eof, "whole listing must be eof");
    let names: Vec<_> = page.entries.iter().map(|e| e.name.clone()).collect();
    assert_eq!(names, created, "listing order is not link order");
    let mut last = Cookie(Cookie::FIRST_ENTRY - 1);
    for e in &page.entries {
        assert!(
            e.cookie > last,
            "cookies must grow: {:?} after {last:?}",
            e.cookie
        );
        last = e.cookie;
        assert_eq!(e.attr, cx.lookup(d.ino, &e.name).await, "entry attributes");
    }
}

/// Paging with a small `max_entries` returns every entry exactly once.
async fn readdir_paging<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("readdir_paging").await;
    let mut want = Vec::new();
    for i in 0..57 {
        let name = format!("entry-{i}").into_bytes();
        cx.make(d.ino, &name, file(i)).await;
        want.push(name);
    }
    for page in [1, 2, 5, 56, 57, 58] {
        let got: Vec<_> = cx
            .list(d.ino, page)
            .await
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(got, want, "listing in pages of {page}");
    }
    // The eof flag is set exactly on the page holding the last entry (or after it).
    let p = ok(s.readdir(d.ino, Cookie::START, 56).await, "readdir 56");
    assert!(!p.eof, "eof with one entry left");
    let p = ok(
        s.readdir(d.ino, p.entries[55].cookie, 10).await,
        "readdir rest",
    );
    assert_eq!((p.entries.len(), p.eof), (1, true));
}

/// Resuming after the cookie of a removed entry neither repeats nor skips the others.
async fn readdir_resume_after_removed<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("readdir_resume").await;
    for i in 0..10 {
        cx.make(d.ino, format!("e{i}").as_bytes(), file(i)).await;
    }
    let first = ok(s.readdir(d.ino, Cookie::START, 4).await, "first page");
    assert_eq!(first.entries.len(), 4);
    let resume = first.entries[3].cookie;
    // Remove the entry the listing resumes after, and one not yet listed.
    ok(s.unlink(d.ino, b"e3", t(20)).await, "unlink e3");
    ok(s.unlink(d.ino, b"e6", t(20)).await, "unlink e6");
    let rest = ok(s.readdir(d.ino, resume, 100).await, "resume");
    let names: Vec<_> = rest.entries.into_iter().map(|e| e.name).collect();
    assert_eq!(names, names_of(&["e4", "e5", "e7", "e8", "e9"]));
    assert!(rest.eof);
}

/// Entries linked after a listing started show up later in that listing.
async fn readdir_added_later<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("readdir_added_later").await;
    for i in 0..5 {
        cx.make(d.ino, format!("e{i}").as_bytes(), file(i)).await;
    }
    let first = ok(s.readdir(d.ino, Cookie::START, 3).await, "first page");
    cx.make(d.ino, b"late", file(9)).await;
    let rest = ok(
        s.readdir(d.ino, first.entries[2].cookie, 100).await,
        "resume",
    );
    let names: Vec<_> = rest.entries.into_iter().map(|e| e.name).collect();
    assert_eq!(names, names_of(&["e3", "e4", "late"]));
}

/// Empty directories, zero-entry pages, reserved cookies and cookies past the end.
async fn readdir_edges<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("readdir_edges").await;
    let p = ok(s.readdir(d.ino, Cookie::START, 10).await, "empty dir");
    assert!(
        p.entries.is_empty() && p.eof,
        "an empty directory lists nothing, eof"
    );
    cx.make(d.ino, b"a", file(1)).await;
    cx.make(d.ino, b"b", file(1)).await;
    let p = ok(s.readdir(d.ino, Cookie::START, 0).await, "max_entries 0");
    assert!(
        p.entries.is_empty() && !p.eof,
        "a zero-entry page of a non-empty dir is not eof"
    );
    for reserved in [Cookie(1), Cookie(2)] {
        let p = ok(s.readdir(d.ino, reserved, 10).await, "reserved cookie");
        assert_eq!(p.entries.len(), 2, "cookies 1 and 2 are before every entry");
    }
    let all = ok(s.readdir(d.ino, Cookie::START, 10).await, "all");
    assert!(
        all.entries
            .iter()
            .all(|e| e.cookie.0 >= Cookie::FIRST_ENTRY)
    );
    let last = all.entries[1].cookie;
    let p = ok(s.readdir(d.ino, last, 10).await, "after the last cookie");
    assert!(p.entries.is_empty() && p.eof);
    let p = ok(
        s.readdir(d.ino, Cookie(u64::MAX), 10).await,
        "cookie far past the end",
    );
    assert!(p.entries.is_empty() && p.eof);
}

/// A renamed entry is listed once, under its new name.
async fn readdir_after_rename<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("readdir_after_rename").await;
    for n in ["a", "b", "c"] {
        cx.make(d.ino, n.as_bytes(), file(1)).await;
    }
    ok(s.rename(d.ino, b"a", d.ino, b"a2", t(2)).await, "rename");
    ok(
        s.rename(d.ino, b"b", d.ino, b"c", t(2)).await,
        "rename over",
    );
    let mut names = cx.names(d.ino).await;
    names.sort();
    assert_eq!(names, names_of(&["a2", "c"]));
}

/// parent() follows the tree; roots are their own parents.
async fn parents<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("parents").await;
    let a = cx.make(d.ino, b"a", dir(1)).await;
    let b = cx.make(a.ino, b"b", dir(1)).await;
    assert_eq!(ok(s.parent(b.ino).await, "parent b"), a.ino);
    assert_eq!(ok(s.parent(a.ino).await, "parent a"), d.ino);
    assert_eq!(ok(s.parent(d.ino).await, "parent d"), cx.run);
    let mut cur = b.ino;
    for _ in 0..100 {
        let p = ok(s.parent(cur).await, "walk up");
        if p == cur {
            return;
        }
        cur = p;
    }
    panic!("walking up parents never reached a root");
}

/// Inode ids are never 0 and never reused after the inode is freed.
async fn ids_never_reused<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("ids_never_reused").await;
    let mut seen = std::collections::BTreeSet::new();
    seen.insert(d.ino);
    for round in 0..3 {
        let mut made = Vec::new();
        for i in 0..10 {
            let name = format!("n{i}");
            let kind = if i % 2 == 0 {
                FileKind::Regular
            } else {
                FileKind::Directory
            };
            let a = cx.make(d.ino, name.as_bytes(), node(kind, round)).await;
            assert_ne!(a.ino, InodeId(0), "inode id 0 handed out");
            assert!(seen.insert(a.ino), "inode id {:?} reused", a.ino);
            made.push((name, kind));
        }
        for (name, kind) in made {
            if kind == FileKind::Directory {
                ok(s.rmdir(d.ino, name.as_bytes(), t(round)).await, "rmdir");
            } else {
                ok(s.unlink(d.ino, name.as_bytes(), t(round)).await, "unlink");
            }
        }
    }
}

/// usage() and sync() succeed and everything stays readable after sync.
async fn usage_and_sync<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let u = ok(s.usage().await, "usage");
    assert!(
        u.files_free <= u.files_total,
        "more free inodes than inodes: {u:?}"
    );
    let d = cx.dir("usage_and_sync").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    ok(s.sync().await, "sync");
    ok(s.sync().await, "sync twice");
    assert_eq!(cx.attr(f.ino).await, f);
}

/// Durable-open records: a store that keeps them lists what was put, per share, in id order
/// (unsigned: an id with the top bit set comes last), a put replaces, a remove removes (a
/// missing one succeeds), and a record past the bound is `Invalid`; a store that does not keep
/// them (the default) accepts the calls and lists nothing.
async fn durable_opens<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let share = format!("{}-durable", cx.tag);
    let other = format!("{}-durable2", cx.tag);
    let high = (1u64 << 63) + 5;
    ok(
        s.put_durable_open(&share, high, b"high".to_vec()).await,
        "put high",
    );
    ok(
        s.put_durable_open(&share, 7, b"seven".to_vec()).await,
        "put 7",
    );
    ok(
        s.put_durable_open(&other, 7, b"other".to_vec()).await,
        "put 7 of the other share",
    );
    let listed = ok(s.durable_opens(&share).await, "list");
    if !s.keeps_durable_opens() {
        assert_eq!(
            listed,
            Vec::new(),
            "a store that keeps no durable opens listed some"
        );
        ok(s.remove_durable_open(&share, 7).await, "remove");
        return;
    }
    assert_eq!(
        listed,
        vec![(7, b"seven".to_vec()), (high, b"high".to_vec())],
        "records of the share in unsigned id order"
    );
    ok(
        s.put_durable_open(&share, 7, b"seven again".to_vec()).await,
        "replace 7",
    );
    ok(s.remove_durable_open(&share, high).await, "remove high");
    ok(
        s.remove_durable_open(&share, 12345).await,
        "remove a missing id",
    );
    assert_eq!(
        ok(s.durable_opens(&share).await, "list after"),
        vec![(7, b"seven again".to_vec())]
    );
    assert_eq!(
        ok(s.durable_opens(&other).await, "list the other share"),
        vec![(7, b"other".to_vec())],
        "records of another share are apart"
    );
    assert_err!(
        s.put_durable_open(&share, 8, vec![0; crate::api::DURABLE_OPEN_RECORD_MAX + 1])
            .await,
        StoreError::Invalid(_),
        "a record past the bound"
    );
    assert_eq!(ok(s.durable_opens(&share).await, "list last").len(), 1);
    ok(s.remove_durable_open(&share, 7).await, "remove 7");
    ok(
        s.remove_durable_open(&other, 7).await,
        "remove the other's 7",
    );
    assert_eq!(ok(s.durable_opens(&share).await, "list empty"), Vec::new());
}

/// A secret is stored once: the first `init_secret` wins, later ones get it back, `secret`
/// reads it; names are independent.
async fn secrets<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let name = format!("{}-key", cx.tag);
    let other = format!("{}-other", cx.tag);
    assert_eq!(ok(s.secret(&name).await, "secret before init"), None);
    let first = ok(
        s.init_secret(&name, b"first value".to_vec()).await,
        "init_secret",
    );
    assert_eq!(first, b"first value");
    let again = ok(
        s.init_secret(&name, b"second value".to_vec()).await,
        "init_secret again",
    );
    assert_eq!(again, b"first value", "a second init replaced the secret");
    assert_eq!(
        ok(s.secret(&name).await, "secret after init").as_deref(),
        Some(&b"first value"[..])
    );
    assert_eq!(ok(s.secret(&other).await, "another name"), None);
    ok(s.sync().await, "sync");
    assert_eq!(
        ok(s.secret(&name).await, "secret after sync").as_deref(),
        Some(&b"first value"[..])
    );
}

/// The extended attributes of `ino` as (name, length) pairs.
async fn xattr_list<M: MetadataStore>(cx: &Meta<'_, M>, ino: InodeId) -> Vec<(Vec<u8>, u32)> {
    ok(cx.store.list_xattrs(ino).await, "list_xattrs")
        .into_iter()
        .map(|XattrEntry { name, len }| (name, len))
        .collect()
}

/// Extended attributes on every kind of inode: set, get, replace, list in name order, remove;
/// each change sets ctime and bumps the change counter and nothing else; reading changes
/// nothing; removing a missing name is a no-op.
async fn xattrs_basic<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("xattrs_basic").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let sub = cx.make(d.ino, b"sub", dir(1)).await;
    let l = cx.make(d.ino, b"l", symlink(b"target", 1)).await;
    let fifo = cx.make(d.ino, b"p", node(FileKind::Fifo, 1)).await;
    for a in [&f, &sub, &l, &fifo] {
        let what = format!("{:?}", a.kind);
        assert_eq!(
            ok(s.xattr(a.ino, b"user.x").await, &what),
            None,
            "{what}: a new inode has no attributes"
        );
        assert!(xattr_list(cx, a.ino).await.is_empty(), "{what}: list");
        let after = ok(
            s.set_xattr(a.ino, b"user.x", b"one".to_vec(), t(10)).await,
            &what,
        );
        assert_eq!(after.ctime, t(10), "{what}: set_xattr sets ctime");
        assert!(after.change > a.change, "{what}: change not bumped");
        assert_eq!(
            Attr {
                ctime: a.ctime,
                change: a.change,
                ..after.clone()
            },
            (*a).clone(),
            "{what}: set_xattr changes only ctime and change"
        );
        assert_eq!(cx.attr(a.ino).await, after, "{what}: getattr after set");
        assert_eq!(
            ok(s.xattr(a.ino, b"user.x").await, &what),
            Some(b"one".to_vec())
        );
        // Replace, add more, an empty value, a binary name.
        ok(
            s.set_xattr(a.ino, b"user.x", b"second".to_vec(), t(11))
                .await,
            &what,
        );
        ok(
            s.set_xattr(a.ino, b"dittofs.dosattrib", vec![0x20, 0, 0, 0], t(12))
                .await,
            &what,
        );
        ok(
            s.set_xattr(a.ino, b"user.empty", Vec::new(), t(13)).await,
            &what,
        );
        ok(
            s.set_xattr(a.ino, b"user.\xff\x01", vec![0, 255], t(14))
                .await,
            &what,
        );
        assert_eq!(
            ok(s.xattr(a.ino, b"user.x").await, &what),
            Some(b"second".to_vec()),
            "{what}: a set replaces the value"
        );
        assert_eq!(
            ok(s.xattr(a.ino, b"user.empty").await, &what),
            Some(Vec::new()),
            "{what}: an empty value is a value"
        );
        assert_eq!(
            xattr_list(cx, a.ino).await,
            vec![
                (b"dittofs.dosattrib".to_vec(), 4),
                (b"user.empty".to_vec(), 0),
                (b"user.x".to_vec(), 6),
                (b"user.\xff\x01".to_vec(), 2),
            ],
            "{what}: list in byte order of the names, with value lengths"
        );
        // Reads change nothing.
        let before_reads = cx.attr(a.ino).await;
        ok(s.xattr(a.ino, b"user.x").await, &what);
        ok(s.list_xattrs(a.ino).await, &what);
        assert_eq!(cx.attr(a.ino).await, before_reads, "{what}: reads");
        // Remove one; removing a missing one changes nothing.
        let removed = ok(s.remove_xattr(a.ino, b"user.x", t(20)).await, &what);
        assert_eq!(removed.ctime, t(20), "{what}: remove_xattr sets ctime");
        assert!(removed.change > before_reads.change, "{what}: change");
        assert_eq!(ok(s.xattr(a.ino, b"user.x").await, &what), None);
        let again = ok(s.remove_xattr(a.ino, b"user.x", t(30)).await, &what);
        assert_eq!(again, removed, "{what}: removing a missing name");
        assert_eq!(cx.attr(a.ino).await, removed);
        assert_eq!(xattr_list(cx, a.ino).await.len(), 3, "{what}");
    }
    // Another inode's attributes are its own.
    let g = cx.make(d.ino, b"g", file(1)).await;
    assert_eq!(ok(s.xattr(g.ino, b"user.empty").await, "g"), None);
}

/// The documented bounds: name length, value size, total per inode (names plus values, a
/// replaced value counting only once), bad names, and that a refused set changes nothing.
async fn xattrs_bounds<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("xattrs_bounds").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let longest = vec![b'n'; XATTR_NAME_MAX];
    ok(
        s.set_xattr(f.ino, &longest, b"v".to_vec(), t(2)).await,
        "the longest name",
    );
    assert_eq!(
        ok(s.xattr(f.ino, &longest).await, "get longest"),
        Some(b"v".to_vec())
    );
    ok(
        s.remove_xattr(f.ino, &longest, t(2)).await,
        "remove longest",
    );
    let too_long = vec![b'n'; XATTR_NAME_MAX + 1];
    assert_err!(
        s.set_xattr(f.ino, &too_long, b"v".to_vec(), t(2)).await,
        StoreError::NameTooLong,
        "set a name one byte too long"
    );
    assert_err!(
        s.xattr(f.ino, &too_long).await,
        StoreError::NameTooLong,
        "get a name one byte too long"
    );
    for bad in [&b""[..], b"user.a\0b"] {
        assert_err!(
            s.set_xattr(f.ino, bad, b"v".to_vec(), t(2)).await,
            StoreError::Invalid(_),
            "set {bad:?}"
        );
        assert_err!(
            s.remove_xattr(f.ino, bad, t(2)).await,
            StoreError::Invalid(_),
            "remove {bad:?}"
        );
    }
    // One value: the maximum fits, one byte more does not.
    let before = cx.attr(f.ino).await;
    assert_err!(
        s.set_xattr(f.ino, b"user.big", vec![7; XATTR_VALUE_MAX + 1], t(3))
            .await,
        StoreError::XattrTooLarge,
        "a value one byte too large"
    );
    assert_eq!(
        cx.attr(f.ino).await,
        before,
        "a refused set changes nothing"
    );
    assert_eq!(ok(s.xattr(f.ino, b"user.big").await, "big"), None);
    ok(
        s.set_xattr(f.ino, b"user.big", vec![7; XATTR_VALUE_MAX], t(3))
            .await,
        "the largest value",
    );
    assert_eq!(
        ok(s.xattr(f.ino, b"user.big").await, "big").map(|v| v.len()),
        Some(XATTR_VALUE_MAX)
    );
    // The total: fill the inode to exactly XATTR_TOTAL_MAX with names of 8 bytes.
    ok(s.remove_xattr(f.ino, b"user.big", t(4)).await, "remove big");
    let per = 8 + XATTR_VALUE_MAX;
    let full = XATTR_TOTAL_MAX / per;
    for i in 0..full {
        let name = format!("user.{i:03}");
        ok(
            s.set_xattr(f.ino, name.as_bytes(), vec![1; XATTR_VALUE_MAX], t(5))
                .await,
            &format!("fill {name}"),
        );
    }
    let rest = XATTR_TOTAL_MAX - full * per;
    assert!(
        rest >= 9,
        "the check needs room for one more small attribute"
    );
    let last_value = rest - 8;
    assert_err!(
        s.set_xattr(f.ino, b"user.end", vec![2; last_value + 1], t(6))
            .await,
        StoreError::XattrTooLarge,
        "one byte past the total"
    );
    ok(
        s.set_xattr(f.ino, b"user.end", vec![2; last_value], t(6))
            .await,
        "exactly the total",
    );
    let total: usize = ok(s.list_xattrs(f.ino).await, "list full")
        .iter()
        .map(|e| e.name.len() + e.len as usize)
        .sum();
    assert_eq!(total, XATTR_TOTAL_MAX);
    // A full inode can still replace a value with one of the same size (the old one does not
    // count), but not grow it; and accepts nothing new until something is removed.
    ok(
        s.set_xattr(f.ino, b"user.000", vec![3; XATTR_VALUE_MAX], t(7))
            .await,
        "replace at the limit",
    );
    assert_err!(
        s.set_xattr(f.ino, b"user.end", vec![2; last_value + 1], t(7))
            .await,
        StoreError::XattrTooLarge,
        "grow at the limit"
    );
    assert_err!(
        s.set_xattr(f.ino, b"u", Vec::new(), t(7)).await,
        StoreError::XattrTooLarge,
        "a new name at the limit"
    );
    ok(s.remove_xattr(f.ino, b"user.end", t(8)).await, "make room");
    ok(
        s.set_xattr(f.ino, b"u", Vec::new(), t(8)).await,
        "a new name after making room",
    );
    assert_eq!(
        ok(s.xattr(f.ino, b"user.000").await, "replaced").map(|v| v[0]),
        Some(3)
    );
}

/// Attributes belong to the inode: a hard link shows the same ones, a rename (also across
/// directories and over another file) carries them, and the replaced file's go with it.
async fn xattrs_follow_the_inode<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("xattrs_follow").await;
    let other = cx.make(d.ino, b"other", dir(1)).await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    ok(
        s.set_xattr(f.ino, b"user.a", b"A".to_vec(), t(2)).await,
        "set",
    );
    ok(s.link(f.ino, other.ino, b"link", t(3)).await, "link");
    let via_link = cx.lookup(other.ino, b"link").await;
    assert_eq!(
        ok(s.xattr(via_link.ino, b"user.a").await, "via link"),
        Some(b"A".to_vec())
    );
    ok(
        s.set_xattr(via_link.ino, b"user.b", b"B".to_vec(), t(4))
            .await,
        "set via link",
    );
    ok(s.unlink(other.ino, b"link", t(5)).await, "unlink link");
    ok(
        s.rename(d.ino, b"f", other.ino, b"moved", t(6)).await,
        "rename across directories",
    );
    let moved = cx.lookup(other.ino, b"moved").await;
    assert_eq!(moved.ino, f.ino);
    assert_eq!(
        xattr_list(cx, moved.ino).await,
        vec![(b"user.a".to_vec(), 1), (b"user.b".to_vec(), 1)],
        "a rename carries the attributes"
    );
    // A directory's attributes move with it too.
    let sub = cx.make(d.ino, b"sub", dir(1)).await;
    ok(
        s.set_xattr(sub.ino, b"dittofs.dosattrib", vec![2], t(7))
            .await,
        "set on dir",
    );
    ok(
        s.rename(d.ino, b"sub", other.ino, b"sub2", t(8)).await,
        "rename dir",
    );
    assert_eq!(
        ok(s.xattr(sub.ino, b"dittofs.dosattrib").await, "moved dir"),
        Some(vec![2])
    );
    // Renaming over a file frees the replaced file with its attributes.
    let victim = cx.make(d.ino, b"victim", file(1)).await;
    ok(
        s.set_xattr(victim.ino, b"user.v", b"V".to_vec(), t(9))
            .await,
        "set on victim",
    );
    ok(
        s.rename(other.ino, b"moved", d.ino, b"victim", t(10)).await,
        "rename over a file",
    );
    assert_err!(
        s.xattr(victim.ino, b"user.v").await,
        StoreError::Stale,
        "attributes of the replaced file"
    );
    assert_eq!(
        ok(s.xattr(f.ino, b"user.a").await, "after rename over"),
        Some(b"A".to_vec())
    );
}

/// A freed inode's attributes are gone (Stale for every call), and a new inode (which never
/// reuses the id) starts with none.
async fn xattrs_freed_with_the_inode<M: MetadataStore>(cx: &Meta<'_, M>) {
    let s = cx.store;
    let d = cx.dir("xattrs_freed").await;
    let f = cx.make(d.ino, b"f", file(1)).await;
    let sub = cx.make(d.ino, b"sub", dir(1)).await;
    for a in [&f, &sub] {
        ok(
            s.set_xattr(a.ino, b"user.a", b"gone soon".to_vec(), t(2))
                .await,
            "set",
        );
    }
    ok(s.unlink(d.ino, b"f", t(3)).await, "unlink");
    ok(s.rmdir(d.ino, b"sub", t(3)).await, "rmdir");
    for a in [&f, &sub] {
        assert_err!(
            s.xattr(a.ino, b"user.a").await,
            StoreError::Stale,
            "get on a freed inode"
        );
        assert_err!(
            s.list_xattrs(a.ino).await,
            StoreError::Stale,
            "list on a freed inode"
        );
        assert_err!(
            s.set_xattr(a.ino, b"user.a", Vec::new(), t(4)).await,
            StoreError::Stale,
            "set on a freed inode"
        );
        assert_err!(
            s.remove_xattr(a.ino, b"user.a", t(4)).await,
            StoreError::Stale,
            "remove on a freed inode"
        );
    }
    for name in [&b"f"[..], b"sub"] {
        let again = cx.make(d.ino, name, file(5)).await;
        assert!(xattr_list(cx, again.ino).await.is_empty(), "a new inode");
    }
    assert_err!(
        s.xattr(InodeId(u64::MAX - 7), b"user.a").await,
        StoreError::Stale,
        "get on an id never handed out"
    );
}
