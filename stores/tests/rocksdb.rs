//! Tests of the RocksDB metadata store: the namespace semantics on a temporary database, what
//! survives closing and reopening it, and the refusal of databases it cannot read.
#![cfg(feature = "rocksdb")]

use std::collections::BTreeSet;
use std::error::Error as _;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use stores::conformance::{metadata_concurrency, metadata_suite, version_race};
use stores::fs::FsContent;
use stores::rocksdb::{FORMAT_VERSION, FormatError, RocksMetadata};
use stores::{
    Attr, ContentStore, Cookie, Device, DirPage, FileKind, InodeId, MetadataStore, NewNode,
    SetAttr, StoreError, Timestamp,
};

fn at(secs: i64) -> Timestamp {
    Timestamp { secs, nanos: 0 }
}

fn node(kind: FileKind, secs: i64) -> NewNode {
    NewNode {
        kind,
        mode: if kind == FileKind::Directory {
            0o755
        } else {
            0o644
        },
        uid: 1000,
        gid: 1000,
        rdev: Device::default(),
        symlink_target: Vec::new(),
        now: at(secs),
    }
}

fn symlink(target: &[u8], secs: i64) -> NewNode {
    NewNode {
        symlink_target: target.to_vec(),
        ..node(FileKind::Symlink, secs)
    }
}

fn open(dir: &Path) -> RocksMetadata {
    RocksMetadata::open(&dir.join("meta")).expect("open a fresh or closed database")
}

async fn root(store: &RocksMetadata) -> Attr {
    store
        .share_root("export", node(FileKind::Directory, 1))
        .await
        .expect("share root")
}

async fn names(store: &RocksMetadata, dir: InodeId) -> Vec<(u64, Vec<u8>)> {
    let page = store
        .readdir(dir, Cookie::START, 1000)
        .await
        .expect("readdir");
    assert!(page.eof);
    page.entries
        .into_iter()
        .map(|e| (e.cookie.0, e.name))
        .collect()
}

/// The format error inside a `Backend` error, if that is what `e` is.
fn format_error(e: &StoreError) -> Option<&FormatError> {
    match e {
        StoreError::Backend(inner) => inner.downcast_ref::<FormatError>(),
        _ => None,
    }
}

/// Goal: the conformance suite every backend must pass holds for RocksDB. Method: run it twice
/// on a fresh database in a temporary directory (the second run meets the first one's state).
#[tokio::test]
async fn conformance_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    metadata_suite(&store).await;
    metadata_suite(&store).await;
}

/// Goal: the suite also holds on a database that was closed and reopened, with the state the
/// first run left behind. Method: run the suite, sync, drop the store, reopen, run it again.
#[tokio::test]
async fn conformance_suite_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    metadata_suite(&store).await;
    store.sync().await.expect("sync");
    drop(store);
    metadata_suite(&open(dir.path())).await;
}

/// Goal: creating, linking, removing and listing behave as the contract says, including
/// nlink bookkeeping and directory times. Method: build a small tree and check every result.
#[tokio::test]
async fn namespace_operations() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let root = root(&store).await;
    assert_ne!(root.ino.0, 0);
    assert_eq!(root.nlink, 2);
    assert_eq!(store.parent(root.ino).await.expect("parent"), root.ino);
    // The same share name returns the same root.
    assert_eq!(
        store
            .share_root("export", node(FileKind::Directory, 9))
            .await
            .expect("root again"),
        root
    );

    let file = store
        .create(root.ino, b"a", node(FileKind::Regular, 2))
        .await
        .expect("create file");
    assert_eq!((file.nlink, file.size), (1, 0));
    let sub = store
        .create(root.ino, b"sub", node(FileKind::Directory, 3))
        .await
        .expect("mkdir");
    let link = store
        .create(sub.ino, b"ln", symlink(b"../a", 4))
        .await
        .expect("symlink");
    assert_eq!(link.size, 4);
    assert_eq!(store.readlink(link.ino).await.expect("readlink"), b"../a");
    assert!(matches!(
        store.readlink(file.ino).await,
        Err(StoreError::Invalid(_))
    ));

    let root_now = store.getattr(root.ino).await.expect("getattr root");
    assert_eq!(root_now.nlink, 3, "the subdirectory's .. links to root");
    assert_eq!(root_now.mtime, at(3));
    assert_eq!(store.parent(sub.ino).await.expect("parent"), root.ino);
    assert!(matches!(
        store.parent(file.ino).await,
        Err(StoreError::NotDir)
    ));

    assert!(matches!(
        store
            .create(root.ino, b"a", node(FileKind::Regular, 5))
            .await,
        Err(StoreError::Exists)
    ));
    assert!(matches!(
        store
            .create(file.ino, b"x", node(FileKind::Regular, 5))
            .await,
        Err(StoreError::NotDir)
    ));
    assert!(matches!(
        store
            .create(InodeId(999_999), b"x", node(FileKind::Regular, 5))
            .await,
        Err(StoreError::Stale)
    ));
    assert!(matches!(
        store.lookup(root.ino, &[b'x'; 256]).await,
        Err(StoreError::NameTooLong)
    ));
    assert!(matches!(
        store.lookup(root.ino, b"..").await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.lookup(root.ino, b"nope").await,
        Err(StoreError::NotFound)
    ));

    // Hard links share the inode and count names.
    let linked = store
        .link(file.ino, sub.ino, b"b", at(6))
        .await
        .expect("link");
    assert_eq!(
        (linked.ino, linked.nlink, linked.ctime),
        (file.ino, 2, at(6))
    );
    assert!(matches!(
        store.link(sub.ino, root.ino, b"d2", at(6)).await,
        Err(StoreError::Invalid(_))
    ));
    let removed = store.unlink(root.ino, b"a", at(7)).await.expect("unlink");
    assert_eq!((removed.attr.nlink, removed.freed), (1, false));
    assert!(matches!(
        store.unlink(root.ino, b"sub", at(7)).await,
        Err(StoreError::IsDir)
    ));
    assert!(matches!(
        store.rmdir(root.ino, b"sub", at(7)).await,
        Err(StoreError::NotEmpty)
    ));
    assert!(matches!(
        store.rmdir(sub.ino, b"b", at(7)).await,
        Err(StoreError::NotDir)
    ));
    let removed = store.unlink(sub.ino, b"b", at(8)).await.expect("unlink");
    assert_eq!((removed.attr.nlink, removed.freed), (0, true));
    assert!(matches!(
        store.getattr(file.ino).await,
        Err(StoreError::Stale)
    ));
    store.unlink(sub.ino, b"ln", at(8)).await.expect("unlink");
    let removed = store.rmdir(root.ino, b"sub", at(9)).await.expect("rmdir");
    assert!(removed.freed);
    assert_eq!(store.getattr(root.ino).await.expect("root").nlink, 2);
    assert!(names(&store, root.ino).await.is_empty());
    assert_eq!(
        store.usage().await.expect("usage").files_total
            - store.usage().await.expect("usage").files_free,
        1,
        "only the root is left"
    );
}

/// Goal: attribute changes are applied exactly, and `record_write` only grows the size and
/// sets the times. Method: setattr and record_write on a file, a directory and a symlink.
#[tokio::test]
async fn setattr_and_record_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let root = root(&store).await;
    let file = store
        .create(root.ino, b"f", node(FileKind::Regular, 2))
        .await
        .expect("create");
    let set = SetAttr {
        mode: Some(0o600),
        size: Some(100),
        ..SetAttr::default()
    };
    let after = store.setattr(file.ino, set, at(3)).await.expect("setattr");
    assert_eq!((after.mode, after.size, after.uid), (0o600, 100, 1000));
    assert_eq!(
        (after.ctime, after.mtime),
        (at(3), at(3)),
        "a size change is a modification"
    );
    assert!(after.change > file.change);
    let unchanged = store
        .setattr(file.ino, SetAttr::default(), at(9))
        .await
        .expect("empty setattr");
    assert_eq!(unchanged, after, "an empty setattr changes nothing");

    let written = store
        .record_write(file.ino, 50, at(4), None)
        .await
        .expect("write");
    assert_eq!(
        (written.size, written.mtime, written.ctime),
        (100, at(4), at(4))
    );
    let written = store
        .record_write(file.ino, 4096, at(5), None)
        .await
        .expect("write");
    assert_eq!(written.size, 4096);
    assert_eq!(
        written.mode, 0o600,
        "a write leaves the rest of the record alone"
    );
    assert_eq!(store.getattr(file.ino).await.expect("getattr"), written);

    let size = SetAttr {
        size: Some(0),
        ..SetAttr::default()
    };
    assert!(matches!(
        store.setattr(root.ino, size.clone(), at(6)).await,
        Err(StoreError::IsDir)
    ));
    let link = store
        .create(root.ino, b"l", symlink(b"f", 6))
        .await
        .expect("symlink");
    assert!(matches!(
        store.setattr(link.ino, size, at(6)).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store
            .setattr(InodeId(12345), SetAttr::default(), at(6))
            .await,
        Err(StoreError::Stale)
    ));
}

/// Goal: rename follows the contract in each of its cases. Method: a tree with files and
/// directories; rename within a directory, across directories (nlink moves with a directory),
/// over a file, over an empty directory, onto a hard link of itself, and into its own subtree.
#[tokio::test]
async fn rename_cases() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let root = root(&store).await;
    let r = root.ino;
    let a = store
        .create(r, b"a", node(FileKind::Directory, 2))
        .await
        .expect("mkdir a");
    let b = store
        .create(r, b"b", node(FileKind::Directory, 2))
        .await
        .expect("mkdir b");
    let f = store
        .create(a.ino, b"f", node(FileKind::Regular, 2))
        .await
        .expect("create f");
    let g = store
        .create(a.ino, b"g", node(FileKind::Regular, 2))
        .await
        .expect("create g");

    // Within one directory: the name moves, the cookie is new.
    let moved = store
        .rename(a.ino, b"f", a.ino, b"f2", at(3))
        .await
        .expect("rename in place");
    assert_eq!((moved.attr.ino, moved.attr.ctime), (f.ino, at(3)));
    assert!(moved.replaced.is_none());
    let listed = names(&store, a.ino).await;
    assert_eq!(
        listed.iter().map(|(_, n)| n.as_slice()).collect::<Vec<_>>(),
        [&b"g"[..], b"f2"]
    );

    // Over an existing file: the target loses its link and is freed.
    let renamed = store
        .rename(a.ino, b"f2", a.ino, b"g", at(4))
        .await
        .expect("rename over file");
    let replaced = renamed.replaced.expect("g was replaced");
    assert_eq!((replaced.attr.ino, replaced.freed), (g.ino, true));
    assert!(matches!(store.getattr(g.ino).await, Err(StoreError::Stale)));
    assert_eq!(store.lookup(a.ino, b"g").await.expect("lookup").ino, f.ino);

    // Onto another name of the same inode: nothing happens.
    store.link(f.ino, b.ino, b"h", at(5)).await.expect("link");
    let same = store
        .rename(a.ino, b"g", b.ino, b"h", at(6))
        .await
        .expect("rename onto own link");
    assert!(same.replaced.is_none());
    assert_eq!(
        store.lookup(a.ino, b"g").await.expect("still there").ino,
        f.ino
    );
    assert_eq!(store.getattr(f.ino).await.expect("getattr").nlink, 2);

    // Type mismatches.
    assert!(matches!(
        store.rename(r, b"a", b.ino, b"h", at(7)).await,
        Err(StoreError::NotDir)
    ));
    assert!(matches!(
        store.rename(b.ino, b"h", r, b"a", at(7)).await,
        Err(StoreError::IsDir)
    ));
    // Into its own subtree, or onto itself as a parent.
    let deep = store
        .create(a.ino, b"deep", node(FileKind::Directory, 7))
        .await
        .expect("mkdir deep");
    assert!(matches!(
        store.rename(r, b"a", deep.ino, b"x", at(7)).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        store.rename(r, b"a", a.ino, b"x", at(7)).await,
        Err(StoreError::Invalid(_))
    ));
    // Over a non-empty directory.
    assert!(matches!(
        store.rename(r, b"b", r, b"a", at(7)).await,
        Err(StoreError::NotEmpty)
    ));

    // A directory moving between parents takes its ".." link along.
    let root_links = store.getattr(r).await.expect("root").nlink;
    let moved = store
        .rename(a.ino, b"deep", r, b"deep", at(8))
        .await
        .expect("move dir up");
    assert_eq!(moved.attr.ino, deep.ino);
    assert_eq!(store.parent(deep.ino).await.expect("parent"), r);
    assert_eq!(store.getattr(r).await.expect("root").nlink, root_links + 1);
    assert_eq!(store.getattr(a.ino).await.expect("a").nlink, 2);

    // Over an empty directory: it is freed and its parent loses the ".." link.
    let renamed = store
        .rename(r, b"deep", r, b"b", at(9))
        .await
        .expect_err("b is not empty");
    assert!(matches!(renamed, StoreError::NotEmpty));
    store.unlink(b.ino, b"h", at(9)).await.expect("unlink h");
    let renamed = store
        .rename(r, b"deep", r, b"b", at(10))
        .await
        .expect("rename over empty dir");
    let replaced = renamed.replaced.expect("b was replaced");
    assert_eq!((replaced.attr.ino, replaced.freed), (b.ino, true));
    assert_eq!(store.getattr(r).await.expect("root").nlink, root_links);
    assert!(matches!(store.getattr(b.ino).await, Err(StoreError::Stale)));
    assert!(matches!(
        store.rename(r, b"missing", r, b"x", at(11)).await,
        Err(StoreError::NotFound)
    ));
}

/// Goal: listings come in cookie order, page correctly, and resume after a cookie whose entry
/// was removed without repeating or skipping the others. Method: ten files, read in pages of
/// three, remove the entry of the last cookie seen, resume from it.
#[tokio::test]
async fn readdir_pages_and_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let root = root(&store).await;
    for i in 0..10u8 {
        store
            .create(root.ino, &[b'f', b'0' + i], node(FileKind::Regular, 2))
            .await
            .expect("create");
    }
    let DirPage { entries, eof } = store
        .readdir(root.ino, Cookie::START, 3)
        .await
        .expect("page 1");
    assert!(!eof);
    let cookies: Vec<u64> = entries.iter().map(|e| e.cookie.0).collect();
    assert_eq!(cookies, [Cookie::FIRST_ENTRY, 4, 5]);
    assert_eq!(entries[0].name, b"f0");

    let last = entries[2].cookie;
    store
        .unlink(root.ino, &entries[2].name, at(3))
        .await
        .expect("unlink");
    let page = store.readdir(root.ino, last, 100).await.expect("resume");
    assert!(page.eof);
    let rest: Vec<Vec<u8>> = page.entries.into_iter().map(|e| e.name).collect();
    let want: Vec<Vec<u8>> = (3..10u8).map(|i| vec![b'f', b'0' + i]).collect();
    assert_eq!(rest, want);

    let exact = store
        .readdir(root.ino, Cookie(11), 1)
        .await
        .expect("last page");
    assert_eq!((exact.entries.len(), exact.eof), (1, true));
    let past = store
        .readdir(root.ino, Cookie(u64::MAX), 10)
        .await
        .expect("past the end");
    assert!(past.entries.is_empty() && past.eof);
    assert!(matches!(
        store.readdir(InodeId(4242), Cookie::START, 10).await,
        Err(StoreError::Stale)
    ));
}

/// Goal: everything survives closing and reopening the database: the store id, the tree, the
/// attributes, the cookies, and the inode counter, which continues without reuse. Method: build
/// a tree, remove the newest inode, sync, drop the store, reopen, compare, create again.
#[tokio::test]
async fn reopen_keeps_state() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    let id = store.id();
    let root = root(&store).await;
    let sub = store
        .create(root.ino, b"sub", node(FileKind::Directory, 2))
        .await
        .expect("mkdir");
    let mut seen = BTreeSet::from([root.ino, sub.ino]);
    for name in [&b"x"[..], b"y", b"z"] {
        let attr = store
            .create(sub.ino, name, node(FileKind::Regular, 3))
            .await
            .expect("create");
        seen.insert(attr.ino);
    }
    store
        .create(sub.ino, b"ln", symlink(b"x", 3))
        .await
        .map(|a| seen.insert(a.ino))
        .expect("symlink");
    store
        .record_write(
            store.lookup(sub.ino, b"y").await.expect("y").ino,
            777,
            at(4),
            None,
        )
        .await
        .expect("write");
    store.unlink(sub.ino, b"x", at(5)).await.expect("unlink");
    // The newest inode goes away too: its id must still never come back.
    let newest = store
        .create(root.ino, b"tmp", node(FileKind::Regular, 5))
        .await
        .expect("create");
    seen.insert(newest.ino);
    store.unlink(root.ino, b"tmp", at(5)).await.expect("unlink");
    let listing = store
        .readdir(sub.ino, Cookie::START, 100)
        .await
        .expect("readdir");
    let usage = store.usage().await.expect("usage");
    let root_before = store.getattr(root.ino).await.expect("root");
    store.sync().await.expect("sync");
    drop(store);

    let store = open(dir.path());
    assert_eq!(store.id(), id);
    assert_eq!(store.getattr(root.ino).await.expect("root"), root_before);
    assert_eq!(
        store
            .share_root("export", node(FileKind::Directory, 1))
            .await
            .expect("root")
            .ino,
        root.ino
    );
    assert_eq!(
        store
            .readdir(sub.ino, Cookie::START, 100)
            .await
            .expect("readdir"),
        listing
    );
    assert_eq!(store.lookup(sub.ino, b"y").await.expect("y").size, 777);
    assert_eq!(
        store
            .readlink(store.lookup(sub.ino, b"ln").await.expect("ln").ino)
            .await
            .expect("readlink"),
        b"x"
    );
    assert_eq!(store.usage().await.expect("usage"), usage);

    // New ids are fresh, and new entries get cookies after the old ones.
    let fresh = store
        .create(sub.ino, b"w", node(FileKind::Regular, 6))
        .await
        .expect("create");
    assert!(fresh.ino > *seen.last().expect("ids were handed out"));
    let cookies: Vec<u64> = store
        .readdir(sub.ino, Cookie::START, 100)
        .await
        .expect("readdir")
        .entries
        .iter()
        .map(|e| e.cookie.0)
        .collect();
    assert!(cookies.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(cookies.last(), Some(&(Cookie::FIRST_ENTRY + 4)));
}

/// Goal: two databases get different store ids, and a database path whose parent folders do
/// not exist yet is created. Method: create two, one of them deep in missing folders.
#[tokio::test]
async fn store_ids_differ() {
    let a = tempfile::tempdir().expect("tempdir");
    let b = tempfile::tempdir().expect("tempdir");
    let nested = RocksMetadata::open(&b.path().join("x/y/meta")).expect("open nested");
    assert_ne!(open(a.path()).id(), nested.id());
}

/// Goal: an inode id handed out again after a machine crash comes with a generation no earlier
/// handle carries, so an old handle can never name the new object. Method: create a file, then
/// model the crash by deleting its record and its entry and rewinding `meta/next_ino` with the
/// rocksdb crate (exactly what losing the unsynced tail of the write-ahead log does), reopen,
/// create again: same id, different generation.
#[tokio::test]
async fn id_reused_after_crash_gets_new_generation() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (root_ino, old) = {
        let store = open(dir.path());
        let root = root(&store).await;
        let old = store
            .create(root.ino, b"f", node(FileKind::Regular, 2))
            .await
            .expect("create");
        (root.ino, old)
    };
    forget_creation(dir.path(), old.ino);
    let store = open(dir.path());
    let new = store
        .create(root_ino, b"g", node(FileKind::Regular, 3))
        .await
        .expect("create");
    assert_eq!(
        new.ino, old.ino,
        "the model crash should make the id come back"
    );
    assert_ne!(new.generation, old.generation);
    assert!(new.generation > old.generation);
}

/// Models a machine crash that lost the unsynced tail of the write-ahead log holding the
/// creation of file `f` (inode `ino`) in the share root: deletes its record and its entry and
/// rewinds `meta/next_ino` with the rocksdb crate, on the closed database under `dir`.
fn forget_creation(dir: &Path, ino: InodeId) {
    let raw = rocksdb::DB::open_default(dir.join("meta")).expect("raw open");
    let mut inode = b"i/".to_vec();
    inode.extend_from_slice(&ino.0.to_be_bytes());
    raw.delete(inode).expect("delete inode");
    let mut entries = Vec::new();
    for item in raw.iterator(rocksdb::IteratorMode::Start) {
        let (k, v) = item.expect("iterate");
        // The name entry `d/<dir>f` and its cookie-index entry `c/<dir><cookie>` -> `<ino>f`.
        if (k.starts_with(b"d/") && k.ends_with(b"f"))
            || (k.starts_with(b"c/") && v.ends_with(b"f"))
        {
            entries.push(k);
        }
    }
    for k in entries {
        raw.delete(k).expect("delete entry");
    }
    raw.put(b"meta/next_ino", ino.0.to_be_bytes())
        .expect("rewind");
}

/// Goal: the bytes of a file lost in a crash can never be read through a new file that got
/// its inode id back: the content key carries the generation. Method: create a file and write
/// its content into a filesystem content store, model the crash that loses the creation (but
/// not the bytes, whose removal never happened), reopen, create a file that gets the same id,
/// and read its content: empty. The old bytes stay under the old key for the reaper.
#[tokio::test]
async fn reused_id_never_reads_old_bytes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let content = FsContent::open(dir.path().join("content")).expect("content store");
    let (root_ino, old_key) = {
        let store = open(dir.path());
        let root = root(&store).await;
        let old = store
            .create(root.ino, b"f", node(FileKind::Regular, 2))
            .await
            .expect("create");
        let key = old.content_key(store.id());
        content
            .write(key, 0, Bytes::from_static(b"secret of the lost file"))
            .await
            .expect("write");
        content.sync(key).await.expect("sync content");
        (root.ino, key)
    };
    forget_creation(dir.path(), old_key.ino);
    let store = open(dir.path());
    let new = store
        .create(root_ino, b"g", node(FileKind::Regular, 3))
        .await
        .expect("create");
    assert_eq!(new.ino, old_key.ino, "the model crash should reuse the id");
    let new_key = new.content_key(store.id());
    assert_ne!(new_key, old_key);
    assert_eq!(content.len(new_key).await.expect("len"), 0);
    assert!(
        content
            .read(new_key, 0, 100)
            .await
            .expect("read")
            .is_empty(),
        "the new file shows the lost file's bytes"
    );
    assert_eq!(content.len(old_key).await.expect("old len"), 23);
}

/// Goal: a damaged inode record is reported as a backend error naming corruption, never a
/// panic or made-up attributes. Method: overwrite the root's record with the rocksdb crate
/// directly, reopen, read it.
#[tokio::test]
async fn corrupt_record_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root_ino = {
        let store = open(dir.path());
        root(&store).await.ino
    };
    {
        let raw = rocksdb::DB::open_default(dir.path().join("meta")).expect("raw open");
        let mut key = b"i/".to_vec();
        key.extend_from_slice(&root_ino.0.to_be_bytes());
        raw.put(key, b"\x01garbage").expect("put");
    }
    let store = open(dir.path());
    let err = store.getattr(root_ino).await.expect_err("corrupt record");
    assert!(
        matches!(format_error(&err), Some(FormatError::Corrupt { .. })),
        "{err}"
    );
    let err = store
        .share_root("export", node(FileKind::Directory, 1))
        .await
        .expect_err("corrupt root");
    assert!(matches!(err, StoreError::Backend(_)), "{err}");
}

/// Goal: a database written by a newer DittoFS is refused with an error naming both versions,
/// and a database DittoFS did not create is refused too. Method: rewrite `meta/format` with
/// the rocksdb crate directly; separately, create a database holding an unrelated key.
#[tokio::test]
async fn unknown_format_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta");
    drop(open(dir.path()));
    {
        let raw = rocksdb::DB::open_default(&path).expect("raw open");
        raw.put(b"meta/format", (FORMAT_VERSION + 1).to_be_bytes())
            .expect("put");
    }
    let err = RocksMetadata::open(&path).expect_err("newer format must be refused");
    match format_error(&err) {
        Some(FormatError::UnsupportedVersion { found, supported }) => {
            assert_eq!((*found, *supported), (FORMAT_VERSION + 1, FORMAT_VERSION));
        }
        other => panic!("expected UnsupportedVersion, got {other:?} from {err}"),
    }
    let text = err.source().map(ToString::to_string).unwrap_or_default();
    assert!(
        text.contains(&format!("version {}", FORMAT_VERSION + 1)),
        "{text}"
    );
    assert!(
        text.contains(&format!("version {FORMAT_VERSION}")),
        "{text}"
    );

    let foreign = dir.path().join("foreign");
    {
        let raw = rocksdb::DB::open_default(&foreign).expect("raw create");
        raw.put(b"something", b"else").expect("put");
    }
    let err = RocksMetadata::open(&foreign).expect_err("foreign database must be refused");
    assert!(
        matches!(format_error(&err), Some(FormatError::Foreign)),
        "{err}"
    );
}

/// Goal: the database is locked while open, so a second store on the same path fails cleanly
/// instead of corrupting it. Method: open twice.
#[tokio::test]
async fn second_open_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _first = open(dir.path());
    let err = RocksMetadata::open(&dir.path().join("meta")).expect_err("locked");
    assert!(matches!(err, StoreError::Backend(_)), "{err}");
}

/// Goal: concurrent mutations never interleave: every create gets its own id and cookie, and
/// nlink stays exact. Method: eight tasks on a multi-threaded runtime each create 50 entries
/// (files and directories) in one directory, then compare the listing and counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_mutations_serialise() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(dir.path()));
    let root = root(&store).await;
    let mut tasks = Vec::new();
    for t in 0..8u32 {
        let store = Arc::clone(&store);
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..50u32 {
                let kind = if i % 5 == 0 {
                    FileKind::Directory
                } else {
                    FileKind::Regular
                };
                let name = format!("t{t}-{i}");
                let attr = store
                    .create(root.ino, name.as_bytes(), node(kind, 2))
                    .await
                    .expect("create");
                ids.push(attr.ino);
            }
            ids
        }));
    }
    let mut ids = BTreeSet::new();
    for task in tasks {
        ids.extend(task.await.expect("task"));
    }
    assert_eq!(ids.len(), 400);
    let listing = names(&store, root.ino).await;
    assert_eq!(listing.len(), 400);
    let cookies: BTreeSet<u64> = listing.iter().map(|(c, _)| *c).collect();
    assert_eq!(cookies.len(), 400);
    assert_eq!(store.getattr(root.ino).await.expect("root").nlink, 2 + 80);
    let usage = store.usage().await.expect("usage");
    assert_eq!(usage.files_total - usage.files_free, 401);
}

/// Goal: callers racing on one directory keep RocksDB's namespace consistent: names, nlink,
/// parents, listings. Method: run the metadata concurrency check on a multi-threaded runtime,
/// then again after reopening the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rocksdb_concurrency() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Arc::new(open(dir.path()));
    metadata_concurrency(Arc::clone(&store)).await;
    version_race(&[Arc::clone(&store)]).await;
    drop(store);
    metadata_concurrency(Arc::new(open(dir.path()))).await;
}

/// Goal: a secret survives closing and reopening the database, and a later `init_secret` (a
/// second gateway starting) gets the stored one back. Method: init, drop, reopen, read, init.
#[tokio::test]
async fn secrets_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let store = open(dir.path());
        assert_eq!(
            store
                .init_secret("nfs-handle-key", vec![7; 32])
                .await
                .expect("init"),
            vec![7; 32]
        );
    }
    let store = open(dir.path());
    assert_eq!(
        store.secret("nfs-handle-key").await.expect("secret"),
        Some(vec![7; 32])
    );
    assert_eq!(
        store
            .init_secret("nfs-handle-key", vec![8; 32])
            .await
            .expect("init again"),
        vec![7; 32]
    );
}

/// Goal: a format-1 database (before the case-fold index) opens, gets the index built from its
/// entries, and is format 2 afterwards. Method: make entries, then delete every `f/` key and
/// write `meta/format` = 1 with the rocksdb crate directly, as a format-1 database looks;
/// reopen and look the names up ignoring case.
#[tokio::test]
async fn format_1_gets_the_case_fold_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("meta");
    let (root, sub) = {
        let store = open(dir.path());
        let root = store
            .share_root("export", node(FileKind::Directory, 1))
            .await
            .expect("root");
        let sub = store
            .create(root.ino, b"Docs", node(FileKind::Directory, 2))
            .await
            .expect("mkdir");
        for name in ["Readme.MD", "ÄRGER.txt"] {
            store
                .create(sub.ino, name.as_bytes(), node(FileKind::Regular, 3))
                .await
                .expect("create");
        }
        (root, sub)
    };
    {
        let raw = rocksdb::DB::open_default(&path).expect("raw open");
        let keys: Vec<Box<[u8]>> = raw
            .prefix_iterator(b"f/")
            .map(|kv| kv.expect("iterate").0)
            .take_while(|k| k.starts_with(b"f/"))
            .collect();
        assert_eq!(keys.len(), 3, "the index had one key per entry");
        for k in keys {
            raw.delete(k).expect("delete");
        }
        raw.put(b"meta/format", 1u32.to_be_bytes()).expect("put");
    }
    let store = RocksMetadata::open(&path).expect("format 1 opens");
    let (name, _) = store
        .lookup_folded(root.ino, b"docs")
        .await
        .expect("dir found ignoring case");
    assert_eq!(name, b"Docs");
    let (name, _) = store
        .lookup_folded(sub.ino, "ärger.TXT".as_bytes())
        .await
        .expect("file found ignoring case");
    assert_eq!(name, "ÄRGER.txt".as_bytes());
    drop(store);
    let raw = rocksdb::DB::open_default(&path).expect("raw open");
    assert_eq!(
        raw.get(b"meta/format").expect("get").as_deref(),
        Some(&FORMAT_VERSION.to_be_bytes()[..])
    );
}

/// Goal: extended attributes are persistent: they survive closing and reopening the database
/// with their values, the inode's ctime and a rename; a freed inode's attributes leave no key
/// behind. Method: set attributes on a file, a directory and a file that is then removed,
/// rename the file, drop and reopen the store, read everything back, and scan the raw database
/// for leftover `a/` keys of the removed inode.
#[tokio::test]
async fn xattrs_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (file, sub, gone, file_attr) = {
        let store = open(dir.path());
        let root = root(&store).await;
        let file = store
            .create(root.ino, b"f", node(FileKind::Regular, 2))
            .await
            .expect("create");
        let sub = store
            .create(root.ino, b"d", node(FileKind::Directory, 2))
            .await
            .expect("mkdir");
        let gone = store
            .create(root.ino, b"g", node(FileKind::Regular, 2))
            .await
            .expect("create");
        for (ino, name, value) in [
            (file.ino, &b"user.colour"[..], &b"blue"[..]),
            (file.ino, b"dittofs.dosattrib", &[0x21, 0, 0, 0]),
            (sub.ino, b"dittofs.ntacl", &[1, 0, 4, 0x80]),
            (gone.ino, b"user.x", b"lost with the file"),
        ] {
            store
                .set_xattr(ino, name, value.to_vec(), at(3))
                .await
                .expect("set_xattr");
        }
        store
            .remove_xattr(file.ino, b"user.colour", at(4))
            .await
            .expect("remove");
        store
            .set_xattr(file.ino, b"user.colour", b"green".to_vec(), at(5))
            .await
            .expect("set again");
        store
            .rename(root.ino, b"f", sub.ino, b"f2", at(6))
            .await
            .expect("rename");
        store.unlink(root.ino, b"g", at(7)).await.expect("unlink");
        let file_attr = store.getattr(file.ino).await.expect("getattr");
        store.sync().await.expect("sync");
        (file, sub, gone, file_attr)
    };
    {
        let store = open(dir.path());
        assert_eq!(store.getattr(file.ino).await.expect("getattr"), file_attr);
        assert_eq!(
            store.xattr(file.ino, b"user.colour").await.expect("get"),
            Some(b"green".to_vec())
        );
        assert_eq!(
            store
                .xattr(file.ino, b"dittofs.dosattrib")
                .await
                .expect("get"),
            Some(vec![0x21, 0, 0, 0])
        );
        let names: Vec<Vec<u8>> = store
            .list_xattrs(file.ino)
            .await
            .expect("list")
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(
            names,
            vec![b"dittofs.dosattrib".to_vec(), b"user.colour".to_vec()]
        );
        assert_eq!(
            store.xattr(sub.ino, b"dittofs.ntacl").await.expect("get"),
            Some(vec![1, 0, 4, 0x80])
        );
        assert!(matches!(
            store.xattr(gone.ino, b"user.x").await,
            Err(StoreError::Stale)
        ));
    }
    let raw = rocksdb::DB::open_default(dir.path().join("meta")).expect("raw open");
    let mut prefix = b"a/".to_vec();
    prefix.extend_from_slice(&gone.ino.0.to_be_bytes());
    let leftovers = raw
        .iterator(rocksdb::IteratorMode::Start)
        .map(|item| item.expect("iterate").0)
        .filter(|k| k.starts_with(&prefix))
        .count();
    assert_eq!(leftovers, 0, "a freed inode's attributes stay behind");
}

/// Goal: durable-open records survive closing the database without a sync (a process killed
/// with -9: they are in the write-ahead log) and reopening it, kept per share; a share whose
/// name is a prefix of another's sees only its own. Method: put records for two shares, drop
/// the store unsynced, reopen, list, remove, reopen, list.
#[tokio::test]
async fn durable_opens_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = open(dir.path());
    assert!(store.keeps_durable_opens());
    store
        .put_durable_open("/ex", 9, b"short name".to_vec())
        .await
        .expect("put");
    store
        .put_durable_open("/export", 1 << 48, b"one".to_vec())
        .await
        .expect("put");
    store
        .put_durable_open("/export", (1 << 48) + 1, b"two".to_vec())
        .await
        .expect("put");
    drop(store);
    let store = open(dir.path());
    assert_eq!(
        store.durable_opens("/export").await.expect("list"),
        vec![(1 << 48, b"one".to_vec()), ((1 << 48) + 1, b"two".to_vec())]
    );
    assert_eq!(
        store
            .durable_opens("/ex")
            .await
            .expect("list the prefix share"),
        vec![(9, b"short name".to_vec())]
    );
    store
        .remove_durable_open("/export", 1 << 48)
        .await
        .expect("remove");
    drop(store);
    let store = open(dir.path());
    assert_eq!(
        store
            .durable_opens("/export")
            .await
            .expect("list after remove"),
        vec![((1 << 48) + 1, b"two".to_vec())]
    );
}
