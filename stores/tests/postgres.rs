//! Tests of the PostgreSQL metadata store against a throwaway PostgreSQL server that the tests
//! start themselves (`testkit::postgres`, from Debian's `postgresql` package): the conformance
//! suite and its concurrency checks, the schema migrations, and several "gateways" (stores with
//! their own connection pools) on one database racing on names, renames and secrets.
#![cfg(feature = "postgres")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use stores::conformance::{metadata_concurrency, metadata_suite, version_race};
use stores::postgres::{MIGRATOR, PgConfig, PgMetadata, SCHEMA_VERSION};
use stores::{
    Attr, Cookie, Device, FileKind, InodeId, LockNews, MetadataStore, NewNode, RangeLock,
    StoreError, Timestamp,
};
use testkit::postgres::PgServer;

/// One server per test process (nextest runs one process per test; `cargo test` shares it
/// between the threads), one fresh database per test. The server's watchdog stops it when
/// the process exits.
fn server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(PgServer::start)
}

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

async fn connect(url: &str) -> PgMetadata {
    PgMetadata::connect(&PgConfig::new(url))
        .await
        .expect("connect to the test database")
}

async fn root(store: &PgMetadata) -> Attr {
    store
        .share_root("export", node(FileKind::Directory, 1))
        .await
        .expect("share root")
}

/// Every entry of `dir`, through paged listings.
async fn list(store: &PgMetadata, dir: InodeId) -> Vec<(Vec<u8>, Attr)> {
    let mut after = Cookie::START;
    let mut out = Vec::new();
    loop {
        let page = store.readdir(dir, after, 50).await.expect("readdir");
        for e in page.entries {
            after = e.cookie;
            out.push((e.name, e.attr));
        }
        if page.eof {
            return out;
        }
    }
}

/// Walks the tree from `top` and checks that every directory is reached exactly once, that
/// each directory's stored parent is the directory it was found in and that its nlink counts
/// its subdirectories; returns the directories reached.
async fn walk(store: &PgMetadata, top: InodeId) -> BTreeSet<InodeId> {
    let mut seen = BTreeSet::from([top]);
    let mut todo = vec![top];
    while let Some(dir) = todo.pop() {
        let mut subdirs = 0;
        for (name, attr) in list(store, dir).await {
            if attr.kind != FileKind::Directory {
                continue;
            }
            subdirs += 1;
            assert!(
                seen.insert(attr.ino),
                "directory {:?} ({}) reached twice: the tree has a loop",
                attr.ino,
                String::from_utf8_lossy(&name)
            );
            assert_eq!(store.parent(attr.ino).await.expect("parent"), dir);
            todo.push(attr.ino);
        }
        let nlink = store.getattr(dir).await.expect("getattr").nlink;
        assert_eq!(nlink, 2 + subdirs, "nlink of {dir:?}");
    }
    seen
}

/// Directories in the database that no share root reaches: detached by a bad rename.
async fn detached_dirs(store: &PgMetadata, reached: &BTreeSet<InodeId>) -> Vec<i64> {
    let all: Vec<i64> = sqlx::query_scalar("SELECT ino FROM nodes WHERE kind = 2 ORDER BY ino")
        .fetch_all(store.pool())
        .await
        .expect("list directories");
    all.into_iter()
        .filter(|i| !reached.contains(&InodeId(*i as u64)))
        .collect()
}

/// Goal: the conformance suite every backend must pass holds for PostgreSQL, also on the
/// state it left behind and through a second connection. Method: run it twice, reconnect
/// (a gateway restart) and run it again.
#[tokio::test]
async fn conformance_suite() {
    let url = server().database();
    let store = connect(&url).await;
    metadata_suite(&store).await;
    metadata_suite(&store).await;
    drop(store);
    metadata_suite(&connect(&url).await).await;
}

/// Goal: callers racing on one directory keep the namespace consistent (names, nlink,
/// parents, listings). Method: run the conformance concurrency check on a multi-threaded
/// runtime, then again on a second store (a second gateway) on the same database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_concurrency() {
    let url = server().database();
    metadata_concurrency(Arc::new(connect(&url).await)).await;
    metadata_concurrency(Arc::new(connect(&url).await)).await;
}

/// Goal: two gateways on one database switching one file's content version at once never
/// lose one another's switch (the compare-and-swap lives in one `UPDATE`). Method: two store
/// handles (two pools) race `record_write_on`; the conformance check verifies the successful
/// swaps form one chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_version_race() {
    let url = server().database();
    let a = Arc::new(connect(&url).await);
    let b = Arc::new(connect(&url).await);
    version_race(&[a, b]).await;
}

/// Goal: a database created by the first migration upgrades cleanly, keeping its data.
/// Method: apply only migration 1 and check the schema version and tables; write a share, a
/// directory and a file the way version 1 stores them (raw SQL, folded names included); then
/// connect, which applies the rest; check the version is [`SCHEMA_VERSION`], the store id and
/// every entry survived, case-insensitive lookup works, new entries get later cookies, and the
/// new table (extended attributes) works.
#[tokio::test]
async fn migration_1_upgrades() {
    let url = server().database();
    let pool = sqlx::PgPool::connect(&url).await.expect("raw pool");
    MIGRATOR.run_to(1, &pool).await.expect("apply migration 1");
    let version: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .expect("schema version");
    assert_eq!(version, 1);
    let has_xattrs: bool = sqlx::query_scalar("SELECT to_regclass('xattrs') IS NOT NULL")
        .fetch_one(&pool)
        .await
        .expect("catalog");
    assert!(
        !has_xattrs,
        "migration 1 must not create the version 2 table"
    );

    // Version 1 data: store id 77, share "export" with root 1, directory "Docs" (2) holding
    // file "Readme.MD" (3), as version 1 wrote them.
    for sql in [
        "INSERT INTO store_meta (store_id) VALUES (77)",
        "SELECT setval('inode_batches', 1)",
        "INSERT INTO nodes VALUES (1, 1, 2, 493, 3, 0, 0, 0, 0, 0, 5, 0, 5, 0, 5, 0, 5, 0, 2, \
         1, 4, NULL, NULL)",
        "INSERT INTO nodes VALUES (2, 1, 2, 493, 2, 0, 0, 0, 0, 0, 5, 0, 5, 0, 5, 0, 5, 0, 2, \
         1, 4, NULL, NULL)",
        "INSERT INTO nodes VALUES (3, 1, 1, 420, 1, 0, 0, 11, 0, 0, 5, 0, 5, 0, 5, 0, 5, 0, 1, \
         0, 0, NULL, 9)",
        "INSERT INTO entries VALUES (1, 'Docs', 'docs', 2, 3)",
        "INSERT INTO entries VALUES (2, 'Readme.MD', 'readme.md', 3, 3)",
        "INSERT INTO shares VALUES ('export', 1)",
    ] {
        sqlx::query(sql).execute(&pool).await.expect(sql);
    }

    let store = connect(&url).await;
    let version: i64 = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&pool)
        .await
        .expect("schema version");
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(store.id().0, 77);
    let root = root(&store).await;
    assert_eq!(root.ino, InodeId(1));
    let (name, docs) = store
        .lookup_folded(root.ino, b"DOCS")
        .await
        .expect("folded lookup");
    assert_eq!((name.as_slice(), docs.ino), (&b"Docs"[..], InodeId(2)));
    let file = store.lookup(docs.ino, b"Readme.MD").await.expect("lookup");
    assert_eq!((file.ino, file.size), (InodeId(3), 11));
    assert_eq!(
        store.content_version(file.ino).await.expect("version"),
        Some(stores::ContentVersion(9))
    );
    // New inodes come after the version 1 ones; new cookies after the old ones.
    let new = store
        .create(docs.ino, b"new", node(FileKind::Regular, 6))
        .await
        .expect("create after upgrade");
    assert!(new.ino.0 > 3, "inode id {:?} reused", new.ino);
    let page = store
        .readdir(docs.ino, Cookie::START, 10)
        .await
        .expect("readdir");
    let cookies: Vec<u64> = page.entries.iter().map(|e| e.cookie.0).collect();
    assert_eq!(cookies, vec![3, 4]);
    // The version 2 table.
    store
        .set_xattr(file.ino, b"user.k", b"v".to_vec(), at(7))
        .await
        .expect("set_xattr after upgrade");
    assert_eq!(
        store.xattr(file.ino, b"user.k").await.expect("xattr"),
        Some(b"v".to_vec())
    );
    assert_eq!(walk(&store, root.ino).await.len(), 2);
}

/// Goal: several gateways starting at once on an empty database are safe: each migration is
/// applied once, all agree on one store id, each gets its own generation. Method: connect six
/// stores concurrently to a fresh database.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn gateways_start_together() {
    let url = server().database();
    let mut tasks = Vec::new();
    for _ in 0..6 {
        let url = url.clone();
        tasks.push(tokio::spawn(async move { connect(&url).await }));
    }
    let mut stores = Vec::new();
    for t in tasks {
        stores.push(t.await.expect("task"));
    }
    let ids: BTreeSet<u64> = stores.iter().map(|s| s.id().0).collect();
    assert_eq!(ids.len(), 1, "gateways disagree on the store id: {ids:?}");
    let generations: BTreeSet<u64> = stores.iter().map(|s| s.generation().0).collect();
    assert_eq!(generations.len(), 6);
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY 1")
        .fetch_all(stores[0].pool())
        .await
        .expect("migrations");
    assert_eq!(applied, (1..=SCHEMA_VERSION).collect::<Vec<_>>());
    // Share roots created concurrently by all of them are one root.
    let mut tasks = Vec::new();
    for s in stores {
        tasks.push(tokio::spawn(async move {
            s.share_root("export", node(FileKind::Directory, 1))
                .await
                .expect("share_root")
                .ino
        }));
    }
    let mut roots = BTreeSet::new();
    for t in tasks {
        roots.insert(t.await.expect("task"));
    }
    assert_eq!(
        roots.len(),
        1,
        "gateways made different roots for one share"
    );
}

/// Goal: a name race between gateways has exactly one winner; the losers get `Exists`, never a
/// torn state (no orphan inode, exact nlink). Method: in each of 20 rounds, 8 tasks on two
/// stores (two pools) create one name at once, half of them directories; then check one
/// success, 7 `Exists`, one entry, the parent's nlink, and that the database holds exactly
/// the inodes the tree reaches.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn name_race_between_gateways() {
    let url = server().database();
    let a = Arc::new(connect(&url).await);
    let b = Arc::new(connect(&url).await);
    let top = root(&a).await;
    let mut dirs_made = 0u32;
    for round in 0..20u32 {
        let name = format!("race-{round}");
        let barrier = Arc::new(tokio::sync::Barrier::new(8));
        let mut tasks = Vec::new();
        for i in 0..8u32 {
            let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
            let barrier = Arc::clone(&barrier);
            let name = name.clone();
            let kind = if i < 4 {
                FileKind::Directory
            } else {
                FileKind::Regular
            };
            tasks.push(tokio::spawn(async move {
                barrier.wait().await;
                store.create(top.ino, name.as_bytes(), node(kind, 2)).await
            }));
        }
        let mut won = Vec::new();
        let mut lost = 0;
        for t in tasks {
            match t.await.expect("task") {
                Ok(attr) => won.push(attr),
                Err(StoreError::Exists) => lost += 1,
                Err(e) => panic!("round {round}: a lost name race gave {e:?}, not Exists"),
            }
        }
        assert_eq!((won.len(), lost), (1, 7), "round {round}");
        if won[0].kind == FileKind::Directory {
            dirs_made += 1;
        }
        let found = b.lookup(top.ino, name.as_bytes()).await.expect("lookup");
        assert_eq!(found.ino, won[0].ino);
    }
    assert_eq!(list(&a, top.ino).await.len(), 20);
    assert_eq!(a.getattr(top.ino).await.expect("root").nlink, 2 + dirs_made);
    let nodes: i64 = sqlx::query_scalar("SELECT count(*) FROM nodes")
        .fetch_one(a.pool())
        .await
        .expect("count");
    assert_eq!(nodes, 21, "orphan inodes left by lost races");

    // Inode ids from two gateways' batches never collide.
    let sub = a
        .create(top.ino, b"ids", node(FileKind::Directory, 3))
        .await
        .expect("mkdir");
    let mut tasks = Vec::new();
    for (s, store) in [&a, &b].into_iter().enumerate() {
        for t in 0..2 {
            let store = Arc::clone(store);
            tasks.push(tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..40 {
                    let name = format!("s{s}-t{t}-{i}");
                    let attr = store
                        .create(sub.ino, name.as_bytes(), node(FileKind::Regular, 4))
                        .await
                        .expect("create");
                    ids.push(attr.ino);
                }
                ids
            }));
        }
    }
    let mut ids = BTreeSet::new();
    for t in tasks {
        for id in t.await.expect("task") {
            assert_ne!(id.0, 0);
            assert!(ids.insert(id), "inode id {id:?} handed out twice");
        }
    }
    assert_eq!(ids.len(), 160);
    let cookies: BTreeSet<u64> = b
        .readdir(sub.ino, Cookie::START, 1000)
        .await
        .expect("readdir")
        .entries
        .iter()
        .map(|e| e.cookie.0)
        .collect();
    assert_eq!(cookies.len(), 160, "cookies must be unique per directory");
}

/// Goal: two gateways renaming directories across each other can never detach a loop (the
/// bug JuiceFS's SQL engine has). Method: in each of 40 rounds, build `rN/x/a/d` and
/// `rN/y/b/c`, then at once rename `x/a` to `y/b/c/a` through store A and `y/b` to
/// `x/a/d/b` through store B. At most one may succeed (the other sees the loop: `Invalid`, or
/// its source gone: `NotFound`); after every round, walk the whole share from its root: every
/// directory reached exactly once, parents and nlink right, and no directory in the database
/// left unreachable.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn crossing_renames_never_make_a_loop() {
    let url = server().database();
    let a = Arc::new(connect(&url).await);
    let b = Arc::new(connect(&url).await);
    let top = root(&a).await;
    let mut outcomes = BTreeMap::new();
    for round in 0..40u32 {
        let mk = |dir: InodeId, name: &'static [u8]| {
            let a = Arc::clone(&a);
            async move {
                a.create(dir, name, node(FileKind::Directory, 2))
                    .await
                    .expect("mkdir")
            }
        };
        let r = a
            .create(
                top.ino,
                format!("r{round}").as_bytes(),
                node(FileKind::Directory, 2),
            )
            .await
            .expect("mkdir round");
        let x = mk(r.ino, b"x").await;
        let y = mk(r.ino, b"y").await;
        let xa = mk(x.ino, b"a").await;
        let xad = mk(xa.ino, b"d").await;
        let yb = mk(y.ino, b"b").await;
        let ybc = mk(yb.ino, b"c").await;
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let (s1, b1) = (Arc::clone(&a), Arc::clone(&barrier));
        let one = tokio::spawn(async move {
            b1.wait().await;
            s1.rename(x.ino, b"a", ybc.ino, b"a", at(3)).await
        });
        let (s2, b2) = (Arc::clone(&b), Arc::clone(&barrier));
        let two = tokio::spawn(async move {
            b2.wait().await;
            s2.rename(y.ino, b"b", xad.ino, b"b", at(3)).await
        });
        let results = [one.await.expect("task"), two.await.expect("task")];
        let mut ok = 0;
        for r in &results {
            match r {
                Ok(_) => ok += 1,
                Err(StoreError::Invalid(_) | StoreError::NotFound) => {}
                Err(e) => panic!("round {round}: crossing rename failed with {e:?}"),
            }
        }
        assert!(ok <= 1, "round {round}: both crossing renames succeeded");
        *outcomes.entry(ok).or_insert(0u32) += 1;
        let reached = walk(&b, top.ino).await;
        let detached = detached_dirs(&b, &reached).await;
        assert!(
            detached.is_empty(),
            "round {round}: directories {detached:?} detached from the tree"
        );
    }
    // Each round moved one directory: someone always wins.
    assert_eq!(outcomes.get(&1), Some(&40), "outcomes {outcomes:?}");
}

/// Goal: contention becomes `Busy` only after the retry deadline, never an I/O error, and the
/// operation succeeds once the contention is gone. Method: hold the share root's row lock in
/// an open transaction on another connection; a create in the root through a store with a
/// 200 ms statement timeout and a 1 s retry deadline must fail with `Busy` after at least 1 s;
/// reads do not wait for the lock; after the holder rolls back the create succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contention_is_busy_after_the_deadline() {
    let url = server().database();
    let mut config = PgConfig::new(&url);
    config.statement_timeout = Duration::from_millis(200);
    config.retry_deadline = Duration::from_secs(1);
    let store = PgMetadata::connect(&config).await.expect("connect");
    let top = root(&store).await;
    let holder = connect(&url).await;
    let mut tx = holder.pool().begin().await.expect("begin");
    sqlx::query("SELECT 1 FROM nodes WHERE ino = $1 FOR UPDATE")
        .bind(top.ino.0 as i64)
        .execute(&mut *tx)
        .await
        .expect("lock the root");

    #[expect(clippy::disallowed_methods, reason = "the test measures real time")]
    let started = std::time::Instant::now();
    let result = store
        .create(top.ino, b"blocked", node(FileKind::Regular, 2))
        .await;
    let took = started.elapsed();
    assert!(
        matches!(result, Err(StoreError::Busy)),
        "contention gave {result:?}, not Busy"
    );
    assert!(
        took >= Duration::from_secs(1),
        "Busy after {took:?}, before the deadline"
    );
    assert!(took < Duration::from_secs(10), "Busy only after {took:?}");
    // Reads take no row locks.
    assert_eq!(store.getattr(top.ino).await.expect("getattr").ino, top.ino);

    tx.rollback().await.expect("rollback");
    store
        .create(top.ino, b"blocked", node(FileKind::Regular, 3))
        .await
        .expect("create after the lock is gone");
}

/// Goal: gateways racing to initialise a secret all get the first value written, and it
/// stays. Method: 8 tasks on two stores call `init_secret` with different values at once;
/// all must return one value, one of the candidates, which `secret` and a later
/// `init_secret` return too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn init_secret_races_keep_the_first() {
    let url = server().database();
    let a = Arc::new(connect(&url).await);
    let b = Arc::new(connect(&url).await);
    let barrier = Arc::new(tokio::sync::Barrier::new(8));
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let store = Arc::clone(if i % 2 == 0 { &a } else { &b });
        let barrier = Arc::clone(&barrier);
        tasks.push(tokio::spawn(async move {
            barrier.wait().await;
            store
                .init_secret("nfs-handle-key", vec![i; 32])
                .await
                .expect("init_secret")
        }));
    }
    let mut got = BTreeSet::new();
    for t in tasks {
        got.insert(t.await.expect("task"));
    }
    assert_eq!(got.len(), 1, "racing gateways got different secrets");
    let value = got.pop_first().expect("one value");
    assert!(value.len() == 32 && value[0] < 8 && value.iter().all(|&x| x == value[0]));
    assert_eq!(
        a.secret("nfs-handle-key").await.expect("secret"),
        Some(value.clone())
    );
    assert_eq!(
        connect(&url)
            .await
            .init_secret("nfs-handle-key", vec![99; 32])
            .await
            .expect("init again"),
        value
    );
    assert_eq!(a.secret("other").await.expect("secret"), None);
}

/// Goal: a wrong password fails with a message that names the server but never shows the
/// password. Method: connect with a wrong password in the URL.
#[tokio::test]
async fn wrong_password_is_not_shown() {
    let server = server();
    let url = format!(
        "postgres://{}:wrong-pass-71@127.0.0.1:{}/postgres",
        PgServer::USER,
        server.port
    );
    let err = PgMetadata::connect(&PgConfig::new(url))
        .await
        .expect_err("a wrong password must not connect");
    let shown = format!("{err} / {err:?}");
    assert!(!shown.contains("wrong-pass-71"), "password shown: {shown}");
    assert!(shown.contains("127.0.0.1"), "{shown}");
}

fn ex(offset: u64, length: u64) -> RangeLock {
    RangeLock {
        offset,
        length,
        exclusive: true,
    }
}

fn sh(offset: u64, length: u64) -> RangeLock {
    RangeLock {
        offset,
        length,
        exclusive: false,
    }
}

/// Goal: byte-range locks published through one gateway conflict through another, never
/// with the gateway's own, and go away when replaced, removed or when the gateway's session
/// lapses (a gateway killed with -9 stops its heartbeat). Method: two stores (gateways) on one
/// database with a short session ttl; publish, check conflicts both ways, replace, remove;
/// then drop one store (its heartbeat stops) with locks held and wait past its ttl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_conflict_across_gateways_and_expire() {
    let url = server().database();
    let mut config = PgConfig::new(&url);
    config.lock_session_ttl = Duration::from_millis(900);
    let a = PgMetadata::connect(&config).await.expect("gateway a");
    let b = PgMetadata::connect(&config).await.expect("gateway b");
    assert!(a.shares_locks());
    let ino = InodeId(42);
    let (oa, ob) = (b"owner-a".as_slice(), b"owner-b".as_slice());

    // a holds [0, 10) exclusive and [100, 110) shared.
    let held = [ex(0, 10), sh(100, 10)];
    assert_eq!(
        a.publish_locks(ino, oa, &held, &held).await.expect("a"),
        None
    );
    // Through b: overlapping exclusive or shared-over-exclusive conflicts, with a's owner.
    let c = b.publish_locks(ino, ob, &[sh(5, 1)], &[sh(5, 1)]).await;
    let c = c.expect("b").expect("conflict with a's exclusive lock");
    assert_eq!((c.owner.as_slice(), c.lock), (oa, ex(0, 10)));
    assert!(
        b.publish_locks(ino, ob, &[ex(105, 1)], &[ex(105, 1)])
            .await
            .expect("b")
            .is_some()
    );
    assert_eq!(
        b.foreign_lock(ino, ex(9, 2))
            .await
            .expect("test")
            .map(|f| f.lock),
        Some(ex(0, 10))
    );
    // Shared over shared, a range beside, another inode and a zero-length lock at 0 pass.
    for (i, w) in [
        (ino, sh(100, 5)),
        (ino, ex(10, 5)),
        (InodeId(43), ex(0, 10)),
        (ino, ex(0, 0)),
    ] {
        assert_eq!(
            b.publish_locks(i, ob, &[w], &[w]).await.expect("b"),
            None,
            "{w:?}"
        );
    }
    // A gateway never conflicts with itself: its manager decides that.
    assert_eq!(
        a.publish_locks(ino, b"other", &[ex(0, 10)], &[ex(0, 10)])
            .await
            .expect("a"),
        None
    );
    assert_eq!(
        a.publish_locks(ino, b"other", &[], &[]).await.expect("a"),
        None
    );

    // Replacing a's locks with a smaller set releases the rest; an empty set releases all.
    assert_eq!(
        a.publish_locks(ino, oa, &[], &[ex(0, 5)]).await.expect("a"),
        None
    );
    assert_eq!(
        b.publish_locks(ino, ob, &[ex(5, 5)], &[ex(5, 5)])
            .await
            .expect("b"),
        None
    );
    assert!(b.foreign_lock(ino, ex(4, 1)).await.expect("test").is_some());
    assert_eq!(a.publish_locks(ino, oa, &[], &[]).await.expect("a"), None);
    assert_eq!(
        b.foreign_lock(ino, ex(0, u64::MAX)).await.expect("test"),
        None
    );

    // a takes a lock and dies: its heartbeat stops, and once its session lapsed b may take
    // the range, and a's rows are gone.
    assert_eq!(
        a.publish_locks(ino, oa, &[ex(200, 1)], &[ex(200, 1)])
            .await
            .expect("a"),
        None
    );
    let session = a.lock_session();
    // b's heartbeat keeps b alive meanwhile (ttl 900 ms, a beat every 300 ms).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        b.publish_locks(ino, ob, &[ex(200, 1)], &[])
            .await
            .expect("b")
            .is_some(),
        "a's session is alive while a runs"
    );
    drop(a);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        b.publish_locks(ino, ob, &[ex(200, 1)], &[ex(200, 1)])
            .await
            .expect("b"),
        None
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM locks WHERE session = $1")
        .bind(session)
        .fetch_one(b.pool())
        .await
        .expect("count");
    assert_eq!(left, 0, "the lapsed session's locks are deleted");
    let mine: i64 = sqlx::query_scalar("SELECT count(*) FROM locks WHERE session = $1")
        .bind(b.lock_session())
        .fetch_one(b.pool())
        .await
        .expect("count");
    assert_eq!(
        mine, 2,
        "b's own locks stay (one owner on each of two inodes)"
    );
}

/// The next news on `rx` that is not a resynchronisation (a subscriber hears one when its
/// listener connects), within 10 s.
async fn next_lock_change(rx: &mut tokio::sync::broadcast::Receiver<LockNews>) -> LockNews {
    let next = async {
        loop {
            match rx.recv().await {
                Ok(LockNews::Resync) => {}
                other => return other.expect("the lock news feed ended"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), next)
        .await
        .expect("no lock news within 10 s")
}

/// Goal: a gateway hears of the other gateways' lock changes (not its own) and can list their
/// live locks, so it can mirror them; a lapsed gateway's locks leave the listing and the
/// mirrors are told to resynchronise. Method: two stores on one database with a short session
/// ttl; a subscribes, b publishes and releases, a publishes its own; then b is dropped with a
/// lock held and a waits for the resynchronisation its heartbeat's reaping sends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_news_reach_the_other_gateways() {
    let url = server().database();
    let mut config = PgConfig::new(&url);
    config.lock_session_ttl = Duration::from_millis(900);
    let a = PgMetadata::connect(&config).await.expect("gateway a");
    let b = PgMetadata::connect(&config).await.expect("gateway b");
    let mut rx = a.lock_news().expect("PostgreSQL has lock news");
    // The listener is connected once its first resynchronisation arrives.
    let first = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
    assert_eq!(first.expect("listener").expect("news"), LockNews::Resync);

    let ob = b"owner-b".as_slice();
    b.publish_locks(InodeId(7), ob, &[ex(0, 10)], &[ex(0, 10)])
        .await
        .expect("b");
    assert_eq!(
        next_lock_change(&mut rx).await,
        LockNews::Changed(InodeId(7))
    );
    let listed = a.foreign_locks(None, 100).await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].0, listed[0].1.owner.as_slice(), listed[0].1.lock),
        (InodeId(7), ob, ex(0, 10))
    );
    assert_eq!(
        a.foreign_locks(Some(InodeId(8)), 100).await.expect("list"),
        Vec::new()
    );
    // a's own change is no news to a; b's next one is.
    a.publish_locks(InodeId(9), b"owner-a", &[ex(0, 1)], &[ex(0, 1)])
        .await
        .expect("a");
    b.publish_locks(InodeId(8), ob, &[sh(0, 1)], &[sh(0, 1)])
        .await
        .expect("b");
    assert_eq!(
        next_lock_change(&mut rx).await,
        LockNews::Changed(InodeId(8))
    );
    assert_eq!(
        a.foreign_locks(None, 1).await.expect("list").len(),
        1,
        "limit"
    );
    assert!(
        b.foreign_locks(None, 100)
            .await
            .expect("list")
            .iter()
            .all(|(i, _)| *i == InodeId(9)),
        "b lists a's lock only"
    );

    // b dies with its locks: a's heartbeat reaps the session and tells the mirrors.
    drop(b);
    let resync = async { while rx.recv().await != Ok(LockNews::Resync) {} };
    tokio::time::timeout(Duration::from_secs(10), resync)
        .await
        .expect("no resynchronisation after b's session lapsed");
    assert_eq!(a.foreign_locks(None, 100).await.expect("list"), Vec::new());
}

/// Goal: durable-open records outlive the gateway that wrote them (a restart reads them back
/// through a new connection) and are kept per share. Method: put records through one store,
/// drop it, connect again (the restarted gateway), list, replace, remove.
#[tokio::test]
async fn durable_opens_survive_a_reconnect() {
    let url = server().database();
    let a = connect(&url).await;
    assert!(a.keeps_durable_opens());
    a.put_durable_open("/export", 1 << 48, b"first".to_vec())
        .await
        .expect("put");
    a.put_durable_open("/export", u64::MAX, b"last".to_vec())
        .await
        .expect("put an id with the top bit set");
    a.put_durable_open("/other", 1 << 48, b"other share".to_vec())
        .await
        .expect("put in another share");
    drop(a);
    let b = connect(&url).await;
    assert_eq!(
        b.durable_opens("/export").await.expect("list"),
        vec![(1 << 48, b"first".to_vec()), (u64::MAX, b"last".to_vec())]
    );
    b.put_durable_open("/export", 1 << 48, b"replaced".to_vec())
        .await
        .expect("replace");
    b.remove_durable_open("/export", u64::MAX)
        .await
        .expect("remove");
    assert_eq!(
        b.durable_opens("/export").await.expect("list again"),
        vec![(1 << 48, b"replaced".to_vec())]
    );
    assert_eq!(
        b.durable_opens("/other")
            .await
            .expect("list the other share"),
        vec![(1 << 48, b"other share".to_vec())]
    );
}

/// The next event of `feed` within `limit`; panics with `what` if none came.
async fn next_event(feed: &mut stores::DirFeed, limit: Duration, what: &str) -> stores::DirEvent {
    tokio::time::timeout(limit, feed.recv())
        .await
        .unwrap_or_else(|_| panic!("no event within {limit:?}: {what}"))
        .expect("the feed outlives its store")
}

/// The entries of the next event, which must be a change of `dir`.
async fn next_change(
    feed: &mut stores::DirFeed,
    dir: InodeId,
    what: &str,
) -> Vec<(Vec<u8>, stores::EntryAction, bool)> {
    match next_event(feed, Duration::from_secs(5), what).await {
        stores::DirEvent::Changed(c) => {
            assert_eq!(c.dir, dir, "{what}: the change is in another directory");
            c.entries
                .iter()
                .map(|e| (e.name.clone(), e.action, e.is_dir))
                .collect()
        }
        stores::DirEvent::Lost => panic!("{what}: Lost where a change was due"),
    }
}

/// Goal: a namespace change committed through one store value (gateway) arrives on another's
/// feed, in commit order and with the directory's generation, never on the feed of the store
/// that made it; a modification announced through one (`MetadataStore::announce`) arrives
/// the same way; a failed operation announces nothing; and after the database restarted (the
/// listener's connection was cut, so notifications may be gone) the feed says `Lost` and then
/// delivers changes again. Method: two stores on one database of a server of this test's own
/// (it is restarted); every create, link, rename (within and across directories), unlink and
/// rmdir through `a`, and an announced modification, is read from `b`'s feed; then one change through `b` is the first thing
/// `a`'s feed shows after its connection event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dir_changes_reach_the_other_gateways() {
    use stores::DirEvent;
    use stores::EntryAction::Removed as Gone;
    use stores::EntryAction::{Added, RenamedFrom, RenamedTo};

    let server = PgServer::start();
    let url = server.database();
    let a = connect(&url).await;
    let b = connect(&url).await;
    let mut fa = a.dir_changes().expect("PostgreSQL has a feed");
    let mut fb = b.dir_changes().expect("PostgreSQL has a feed");
    // Each feed's first event is its listener's "connected" (nothing was followed before).
    for f in [&mut fa, &mut fb] {
        let first = next_event(f, Duration::from_secs(10), "connecting").await;
        assert_eq!(first, DirEvent::Lost);
    }
    let r = root(&a).await;
    let now = at(5);

    let d = a
        .create(r.ino, b"dir", node(FileKind::Directory, 2))
        .await
        .expect("mkdir");
    assert_eq!(
        next_change(&mut fb, r.ino, "mkdir").await,
        vec![(b"dir".to_vec(), Added, true)]
    );
    let f = a
        .create(d.ino, b"f\xff.txt", node(FileKind::Regular, 3))
        .await
        .expect("create");
    match next_event(&mut fb, Duration::from_secs(5), "create").await {
        DirEvent::Changed(c) => {
            assert_eq!((c.dir, c.generation), (d.ino, d.generation));
            assert_eq!(c.entries.len(), 1);
            assert_eq!(c.entries[0].name, b"f\xff.txt");
        }
        DirEvent::Lost => panic!("Lost where the create was due"),
    }
    assert!(matches!(
        a.create(d.ino, b"f\xff.txt", node(FileKind::Regular, 3))
            .await,
        Err(StoreError::Exists)
    ));
    a.link(f.ino, r.ino, b"hard", now).await.expect("link");
    assert_eq!(
        next_change(&mut fb, r.ino, "link (and not the failed create)").await,
        vec![(b"hard".to_vec(), Added, false)]
    );
    a.rename(d.ino, b"f\xff.txt", d.ino, b"g", now)
        .await
        .expect("rename within");
    assert_eq!(
        next_change(&mut fb, d.ino, "rename within").await,
        vec![
            (b"f\xff.txt".to_vec(), RenamedFrom, false),
            (b"g".to_vec(), RenamedTo, false)
        ]
    );
    a.rename(d.ino, b"g", r.ino, b"moved", now)
        .await
        .expect("rename across");
    assert_eq!(
        next_change(&mut fb, d.ino, "rename across: source").await,
        vec![(b"g".to_vec(), Gone, false)]
    );
    assert_eq!(
        next_change(&mut fb, r.ino, "rename across: target").await,
        vec![(b"moved".to_vec(), Added, false)]
    );
    // A modification, announced by the front end that made it, outside any transaction.
    let modified = stores::EntryAction::Modified(stores::Modified::SIZE | stores::Modified::WRITE);
    a.announce(
        r.ino,
        r.generation,
        vec![stores::EntryChange {
            name: b"moved".to_vec(),
            action: modified,
            is_dir: false,
        }],
    )
    .await
    .expect("announce");
    assert_eq!(
        next_change(&mut fb, r.ino, "an announced modification").await,
        vec![(b"moved".to_vec(), modified, false)]
    );
    a.unlink(r.ino, b"moved", now).await.expect("unlink");
    assert_eq!(
        next_change(&mut fb, r.ino, "unlink").await,
        vec![(b"moved".to_vec(), Gone, false)]
    );
    a.rmdir(r.ino, b"dir", now).await.expect("rmdir");
    assert_eq!(
        next_change(&mut fb, r.ino, "rmdir").await,
        vec![(b"dir".to_vec(), Gone, true)]
    );

    // None of that came back to `a`: the first thing its feed shows is `b`'s change.
    b.create(r.ino, b"from-b", node(FileKind::Regular, 6))
        .await
        .expect("create through b");
    assert_eq!(
        next_change(&mut fa, r.ino, "b's create, seen by a").await,
        vec![(b"from-b".to_vec(), Added, false)]
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), fb.recv())
            .await
            .is_err(),
        "b's own change came back to b"
    );

    // A restart cuts the listeners' connections: the feed says Lost once it is back, then
    // changes flow again.
    server.restart(Duration::from_millis(300));
    assert_eq!(
        next_event(&mut fb, Duration::from_secs(15), "reconnecting").await,
        DirEvent::Lost
    );
    let mut created = false;
    for _ in 0..100 {
        if a.create(r.ino, b"after", node(FileKind::Regular, 7))
            .await
            .is_ok()
        {
            created = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(created, "the store did not come back after the restart");
    loop {
        match next_event(&mut fb, Duration::from_secs(5), "after the restart").await {
            // The listener may notice the cut a second time while the pool reconnects.
            DirEvent::Lost => {}
            DirEvent::Changed(c) => {
                assert_eq!(c.entries[0].name, b"after");
                break;
            }
        }
    }
}
