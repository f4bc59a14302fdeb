//! Tests of the S3 content store against a real S3 server over HTTP: moto's server mode,
//! started by each test on a free loopback port (`testkit::s3`), installed by `ci/setup.sh`.
#![cfg(feature = "s3")]
#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed step should abort the test with its error"
)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use stores::conformance::{content_adopt_after_restart, content_concurrency, content_suite};
use stores::s3::client::Outcome;
use stores::s3::{KeyState, ResolveFuture, Resolver, S3Config, S3Content};
use stores::{ContentKey, ContentStore, Generation, InodeId, StoreError, StoreId};
use testkit::s3::Moto;

const KIB: u64 = 1024;

/// Settings for `bucket` on `moto` with 64 KiB blocks and a 1 MiB cache in `cache`.
fn config(moto: &Moto, bucket: &str, cache: &Path) -> S3Config {
    let mut c = S3Config::new(bucket, cache.to_path_buf());
    c.endpoint = Some(moto.endpoint());
    c.force_path_style = true;
    c.prefix = "fs1".to_string();
    c.access_key_id = Some("test-key".to_string());
    c.secret_access_key = Some("test-secret".to_string());
    c.create_bucket = true;
    c.block_size = 64 * KIB;
    c.cache_size = 1024 * KIB;
    c.retry_deadline = Duration::from_secs(10);
    c
}

async fn open(c: &S3Config) -> S3Content {
    S3Content::open(c.clone()).await.expect("open the S3 store")
}

fn key(n: u64) -> ContentKey {
    ContentKey {
        store: StoreId(7),
        ino: InodeId(n),
        generation: Generation(1),
    }
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed) ^ (i >> 9) as u8)
        .collect()
}

/// A resolver answering from a map (what metadata "records"); keys not in it are `Unknown`.
fn resolver(states: Arc<Mutex<HashMap<ContentKey, KeyState>>>) -> Box<Resolver> {
    Box::new(move |k: ContentKey| -> ResolveFuture {
        let s = states
            .lock()
            .unwrap()
            .get(&k)
            .copied()
            .unwrap_or(KeyState::Unknown);
        Box::pin(async move { Ok(s) })
    })
}

/// The content objects (blocks and manifests) under the store's prefix, without the garbage
/// scan's lease object.
async fn content_objects(store: &S3Content) -> Vec<String> {
    let mut all = store.list_objects().await.unwrap();
    all.retain(|n| !n.ends_with("gc-lease"));
    all
}

async fn count(store: &S3Content, what: &str) -> usize {
    store
        .list_objects()
        .await
        .unwrap()
        .iter()
        .filter(|n| n.contains(what))
        .count()
}

/// Goal: the S3 store meets every rule of the content contract against a real S3 server,
/// also when reopened (a restart) on the same bucket and cache, and hands versions over
/// across a restart as the contract says. Method: run the suite with 64 KiB blocks, reopen,
/// run it again, then the restart hand-off check with fresh instances.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_content_conformance() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let c = config(&moto, "conformance", &dir.path().join("cache"));
    let store = open(&c).await;
    content_suite(&store).await;
    drop(store);
    let store = open(&c).await;
    content_suite(&store).await;
    let n = std::sync::atomic::AtomicU32::new(0);
    content_adopt_after_restart(&store, || {
        let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut c2 = c.clone();
        c2.cache_dir = dir.path().join(format!("cache-reopened-{i}"));
        async move { open(&c2).await }
    })
    .await;
}

/// Goal: a writer and a reader racing on one file never see torn-backwards or future bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_content_concurrency() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(&config(&moto, "concurrency", dir.path())).await);
    content_concurrency(Arc::clone(&store)).await;
}

/// Goal: the cache stays inside its bounds (clean blocks evicted, staged blocks uploaded
/// under pressure instead of failing), survives a restart with its clean blocks, and never
/// serves a crashed run's staged bytes. Method: 256 KiB cache of 64 KiB blocks (2 clean, 2
/// staged); write 12 blocks without a sync, checking the staged bound after each; sync,
/// read everything, check the clean bound; then stage more bytes, "crash" (drop without
/// sync), reopen on the same cache and check the recorded bytes are what is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_cache_bound_and_restart() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&moto, "cache", dir.path());
    c.cache_size = 256 * KIB;
    let store = open(&c).await;
    let k = key(1);
    let data = pattern(12 * 64 * KIB as usize, 3);
    for (i, chunk) in data.chunks(40_000).enumerate() {
        store
            .write(k, i as u64 * 40_000, Bytes::copy_from_slice(chunk))
            .await
            .unwrap();
        assert!(
            store.cache_dirty_bytes() <= 128 * KIB,
            "staged bytes {} past their bound",
            store.cache_dirty_bytes()
        );
    }
    let recorded = store.sync(k).await.unwrap();
    assert_eq!(store.cache_dirty_bytes(), 0, "staged bytes after a sync");
    let got = store.read(k, 0, u32::MAX).await.unwrap();
    assert!(got[..] == data[..], "bytes after sync");
    assert!(store.cache_clean_bytes() <= 128 * KIB);
    assert!(store.cache_clean_bytes() > 0, "nothing cached");
    // A crash with staged, unsynced changes.
    store
        .write(k, 0, Bytes::from_static(b"never synced"))
        .await
        .unwrap();
    drop(store);
    let reopened = open(&c).await;
    assert!(
        reopened.cache_clean_bytes() > 0,
        "the clean cache did not survive"
    );
    assert_eq!(reopened.cache_dirty_bytes(), 0);
    reopened.adopt(k, recorded).await.unwrap();
    let got = reopened.read(k, 0, u32::MAX).await.unwrap();
    assert!(
        got[..] == data[..],
        "a restart served other bytes than the recorded version"
    );
}

/// Goal: garbage collection deletes a superseded version only after metadata recorded the
/// newer one and was made durable, and keeps versions in flight. Method: version 1
/// recorded, version 2 synced but not recorded: a full collection keeps both. Then metadata
/// records 2: a collection whose metadata sync fails deletes nothing; one whose sync succeeds
/// deletes nothing younger than the grace period, and one with no grace period deletes
/// version 1's manifest and its blocks that version 2 does not share, and version 2 still
/// reads back whole from a fresh instance.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_gc_after_handoff() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let c = config(&moto, "gc-handoff", &dir.path().join("a"));
    let store = open(&c).await;
    let k = key(2);
    let one = pattern(3 * 64 * KIB as usize, 1);
    store.write(k, 0, Bytes::from(one.clone())).await.unwrap();
    let v1 = store.sync(k).await.unwrap();
    store.adopt(k, v1).await.unwrap();
    // Version 2 changes the middle block only.
    let mut two = one.clone();
    two[64 * KIB as usize..64 * KIB as usize + 10].copy_from_slice(b"0123456789");
    store
        .write(k, 64 * KIB, Bytes::copy_from_slice(b"0123456789"))
        .await
        .unwrap();
    let v2 = store.sync(k).await.unwrap();
    assert_eq!(count(&store, "/m/").await, 2);
    assert_eq!(count(&store, "/b/").await, 4);
    let states = Arc::new(Mutex::new(HashMap::new()));
    states.lock().unwrap().insert(k, KeyState::Live(v1));
    let resolve = resolver(Arc::clone(&states));
    let stats = store
        .collect_garbage(true, &*resolve, async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(
        stats.skipped, 1,
        "a file with an unrecorded version is left alone"
    );
    assert_eq!(
        count(&store, "/m/").await,
        2,
        "versions in flight collected"
    );
    // Metadata records version 2; the server tells the store.
    states.lock().unwrap().insert(k, KeyState::Live(v2));
    store.adopt(k, v2).await.unwrap();
    let failed = store
        .collect_garbage(false, &*resolve, async {
            Err(StoreError::Io(std::io::Error::other(
                "metadata sync failed",
            )))
        })
        .await;
    assert!(
        failed.is_err(),
        "a failed metadata sync must fail the collection"
    );
    assert_eq!(
        count(&store, "/m/").await,
        2,
        "deleted before metadata was durable"
    );
    assert_eq!(count(&store, "/b/").await, 4);
    let stats = store
        .collect_garbage(true, &*resolve, async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(
        (stats.manifests, stats.blocks),
        (0, 0),
        "superseded objects younger than the grace period must stay: {stats:?}"
    );
    let mut c3 = c.clone();
    c3.cache_dir = dir.path().join("c");
    c3.gc_grace = Duration::ZERO;
    let stats = open(&c3)
        .await
        .collect_garbage(true, &*resolve, async { Ok(()) })
        .await
        .unwrap();
    assert_eq!((stats.manifests, stats.blocks), (1, 1), "{stats:?}");
    let left = store.list_objects().await.unwrap();
    let v2_name = format!("{:016x}", v2.unwrap().0);
    assert!(left.iter().any(|n| n.ends_with(&v2_name)), "{left:?}");
    let mut c2 = c.clone();
    c2.cache_dir = dir.path().join("b");
    let fresh = open(&c2).await;
    fresh.adopt(k, v2).await.unwrap();
    assert!(fresh.read(k, 0, u32::MAX).await.unwrap()[..] == two[..]);
}

/// Goal: a start-up scan removes what a crash left: manifests and blocks newer than the
/// recorded version (synced, never recorded), and every object of a file metadata no longer
/// has; it keeps the recorded version and files of other metadata stores. Method: build that
/// state with one instance, then scan from a fresh one with no grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_orphan_scan() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let c = config(&moto, "orphans", &dir.path().join("a"));
    let store = open(&c).await;
    let (live, gone, foreign) = (key(3), key(4), key(5));
    let data = pattern(100_000, 9);
    store
        .write(live, 0, Bytes::from(data.clone()))
        .await
        .unwrap();
    let recorded = store.sync(live).await.unwrap();
    store
        .write(live, 200_000, Bytes::from_static(b"tail"))
        .await
        .unwrap();
    store.sync(live).await.unwrap();
    store
        .write(gone, 0, Bytes::from_static(b"x"))
        .await
        .unwrap();
    store.sync(gone).await.unwrap();
    store
        .write(foreign, 0, Bytes::from_static(b"y"))
        .await
        .unwrap();
    store.sync(foreign).await.unwrap();
    drop(store);
    let mut c2 = c.clone();
    c2.cache_dir = dir.path().join("b");
    c2.gc_grace = Duration::ZERO;
    let fresh = open(&c2).await;
    let states = Arc::new(Mutex::new(HashMap::from([
        (live, KeyState::Live(recorded)),
        (gone, KeyState::Gone),
    ])));
    let resolve = resolver(states);
    let before = content_objects(&fresh).await.len();
    let stats = fresh
        .collect_garbage(true, &*resolve, async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(stats.keys, 3);
    assert_eq!(stats.skipped, 1, "the other store's key is left alone");
    // live: the unrecorded manifest and its new tail block; gone: its manifest and block.
    assert_eq!((stats.manifests, stats.blocks), (2, 2), "{stats:?}");
    assert_eq!(content_objects(&fresh).await.len(), before - 4);
    let hex = |k: ContentKey| k.to_hex();
    let left = fresh.list_objects().await.unwrap();
    assert!(!left.iter().any(|n| n.contains(&hex(gone))), "{left:?}");
    assert!(left.iter().any(|n| n.contains(&hex(foreign))));
    fresh.adopt(live, recorded).await.unwrap();
    assert_eq!(fresh.len(live).await.unwrap(), 100_000);
    assert!(fresh.read(live, 0, u32::MAX).await.unwrap()[..] == data[..]);
}

/// Goal: the conditional requests behave as `client::classify` says against the real
/// server: a create-only PUT of an existing name fails its precondition, `If-Match` with the
/// current ETag replaces, with a stale ETag or on a missing object (404 on AWS and moto) it
/// fails its precondition.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_conditional_requests() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let store = open(&config(&moto, "conditional", dir.path())).await;
    let client = store.client();
    let put = |d: &'static [u8]| Bytes::from_static(d);
    assert_eq!(
        client.put_new("x", put(b"1"), usize::MAX, 1).await.unwrap(),
        Outcome::Done
    );
    assert_eq!(
        client.put_new("x", put(b"2"), usize::MAX, 1).await.unwrap(),
        Outcome::PreconditionFailed
    );
    let etag = client.etag("x").await.unwrap().expect("etag of x");
    assert_eq!(
        client.put_if_match("x", put(b"3"), &etag).await.unwrap(),
        Outcome::Done
    );
    assert_eq!(
        client.put_if_match("x", put(b"4"), &etag).await.unwrap(),
        Outcome::PreconditionFailed,
        "a stale ETag"
    );
    assert_eq!(
        client
            .put_if_match("missing", put(b"5"), &etag)
            .await
            .unwrap(),
        Outcome::PreconditionFailed,
        "If-Match on a missing key"
    );
    assert_eq!(&client.get("x").await.unwrap().body[..], b"3");
}

/// Goal: a missing bucket is refused with a message saying what to do, or created when the
/// configuration allows; missing credentials are refused clearly; the secret never shows in
/// `Debug`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_missing_bucket_and_credentials() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&moto, "not-there", dir.path());
    c.create_bucket = false;
    let e = S3Content::open(c.clone()).await.unwrap_err().to_string();
    assert!(
        e.contains("does not exist") && e.contains("create_bucket"),
        "{e}"
    );
    c.create_bucket = true;
    let store = open(&c).await;
    store
        .write(key(1), 0, Bytes::from_static(b"ok"))
        .await
        .unwrap();
    store.sync(key(1)).await.unwrap();
    let mut none = c.clone();
    none.access_key_id = None;
    none.secret_access_key = None;
    // The variables may be set on a developer's machine: only check when they are not.
    if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
        let e = S3Content::open(none).await.unwrap_err().to_string();
        assert!(e.contains("AWS_ACCESS_KEY_ID"), "{e}");
    }
    let shown = format!("{c:?} {store:?}");
    assert!(!shown.contains("test-secret"), "secret in Debug: {shown}");
    let mut bad = c.clone();
    bad.block_size = 1000;
    let e = S3Content::open(bad).await.unwrap_err().to_string();
    assert!(e.contains("block_size"), "{e}");
}

/// Goal: a block large enough for a multipart upload goes up (create-only) and reads back,
/// whole and by range. Method: one 16 MiB block plus a little, synced, read from a fresh
/// instance with an empty cache: a read inside the block is served by a range GET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_multipart_block() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&moto, "multipart", &dir.path().join("a"));
    c.block_size = 16 << 20;
    c.cache_size = 64 << 20;
    let store = open(&c).await;
    let k = key(6);
    let data = pattern((16 << 20) + 1000, 5);
    store.write(k, 0, Bytes::from(data.clone())).await.unwrap();
    let v = store.sync(k).await.unwrap();
    assert_eq!(count(&store, "/b/").await, 2);
    let mut c2 = c.clone();
    c2.cache_dir = dir.path().join("b");
    c2.cache_size = 4 * c.block_size;
    let fresh = open(&c2).await;
    fresh.adopt(k, v).await.unwrap();
    let part = fresh.read(k, 5_000_000, 1000).await.unwrap();
    assert!(part[..] == data[5_000_000..5_001_000]);
    let all = fresh.read(k, 0, u32::MAX).await.unwrap();
    assert!(all[..] == data[..]);
}

/// Goal: garbage collection on one instance never deletes what another instance sharing the
/// bucket uploaded but has not recorded yet, also when that instance's clock is behind (its
/// stamps look old), as long as the skew stays below the grace period; once recorded, the
/// other instance's version reads back whole. Method: instance A records version 1 of a
/// file; instance B, whose clock runs 20 minutes behind, adopts it and writes 12 more blocks
/// without syncing, so its full staging area makes it upload blocks no manifest names yet;
/// A runs a full collection with metadata still naming version 1. Nothing of B's may go. B
/// syncs (version 2), metadata records it, and a fresh instance reads it whole. (Before
/// block ids were stamped above their base version and aged by stamp, A deleted B's blocks,
/// stamped 20 minutes "ago" and below the recorded version, and version 2 named missing
/// blocks.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_gc_spares_another_instances_uploads() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let c = config(&moto, "gc-gateways", &dir.path().join("a"));
    let a = open(&c).await;
    let mut cb = c.clone();
    cb.cache_dir = dir.path().join("b");
    cb.clock_offset_ms = -20 * 60 * 1000;
    let b = open(&cb).await;
    let k = key(8);
    let one = pattern(3 * 64 * KIB as usize, 4);
    a.write(k, 0, Bytes::from(one.clone())).await.unwrap();
    let v1 = a.sync(k).await.unwrap();
    a.adopt(k, v1).await.unwrap();
    let states = Arc::new(Mutex::new(HashMap::from([(k, KeyState::Live(v1))])));
    let resolve = resolver(Arc::clone(&states));

    b.adopt(k, v1).await.unwrap();
    let more = pattern(12 * 64 * KIB as usize, 5);
    b.write(k, 3 * 64 * KIB, Bytes::from(more.clone()))
        .await
        .unwrap();
    let mut two = one.clone();
    two.extend_from_slice(&more);
    let uploaded = count(&b, "/b/").await;
    assert!(
        uploaded > 3,
        "B's staging area (512 KiB) should have made it upload blocks before any sync: {uploaded}"
    );
    let before = content_objects(&a).await;
    let stats = a
        .collect_garbage(true, &*resolve, async { Ok(()) })
        .await
        .unwrap();
    assert_eq!(
        (stats.manifests, stats.blocks),
        (0, 0),
        "another instance's unrecorded upload was collected: {stats:?}"
    );
    assert_eq!(content_objects(&a).await, before);
    let v2 = b.sync(k).await.unwrap();
    assert!(
        v2 > v1,
        "a version is stamped above its base whatever the clock"
    );

    // Metadata records B's version; every instance reads it whole.
    states.lock().unwrap().insert(k, KeyState::Live(v2));
    b.adopt(k, v2).await.unwrap();
    a.collect_garbage(true, &*resolve, async { Ok(()) })
        .await
        .unwrap();
    let mut cc = c.clone();
    cc.cache_dir = dir.path().join("c");
    let fresh = open(&cc).await;
    fresh.adopt(k, v2).await.unwrap();
    assert!(fresh.read(k, 0, u32::MAX).await.unwrap()[..] == two[..]);
    a.adopt(k, v2).await.unwrap();
    assert!(a.read(k, 0, u32::MAX).await.unwrap()[..] == two[..]);
}

/// Goal: a re-based instance builds on the recorded version and forgets its own unrecorded
/// changes, so what it syncs next holds the other instance's bytes plus its own again.
/// Method: A and B share version 1; B changes block 0 and syncs (never recorded: it lost
/// the race); A changes block 1 and its version 2 is recorded; B rebases on version 2,
/// writes its change again and syncs version 3, above version 2 although B's clock is an
/// hour behind; version 3 holds both changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_rebase_on_another_instances_version() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let c = config(&moto, "rebase", &dir.path().join("a"));
    let a = open(&c).await;
    let mut cb = c.clone();
    cb.cache_dir = dir.path().join("b");
    cb.clock_offset_ms = -3600 * 1000;
    let b = open(&cb).await;
    let k = key(9);
    let mut want = pattern(2 * 64 * KIB as usize, 6);
    a.write(k, 0, Bytes::from(want.clone())).await.unwrap();
    let v1 = a.sync(k).await.unwrap();
    a.adopt(k, v1).await.unwrap();
    b.adopt(k, v1).await.unwrap();
    b.write(k, 10, Bytes::from_static(b"bbbb")).await.unwrap();
    let lost = b.sync(k).await.unwrap();
    a.write(k, 64 * KIB + 10, Bytes::from_static(b"aaaa"))
        .await
        .unwrap();
    let v2 = a.sync(k).await.unwrap();
    a.adopt(k, v2).await.unwrap();
    assert!(lost > v1 && v2 > v1);
    b.rebase(k, v2).await.unwrap();
    assert_eq!(
        b.read(k, 10, 4).await.unwrap(),
        want[10..14],
        "the re-based instance still serves its dropped change"
    );
    b.write(k, 10, Bytes::from_static(b"bbbb")).await.unwrap();
    let v3 = b.sync(k).await.unwrap();
    assert!(
        v3 > v2,
        "a re-based version is stamped above its base: {v3:?} <= {v2:?}"
    );
    want[10..14].copy_from_slice(b"bbbb");
    want[64 * KIB as usize + 10..64 * KIB as usize + 14].copy_from_slice(b"aaaa");
    let mut cc = c.clone();
    cc.cache_dir = dir.path().join("c");
    let fresh = open(&cc).await;
    fresh.adopt(k, v3).await.unwrap();
    assert!(fresh.read(k, 0, u32::MAX).await.unwrap()[..] == want[..]);
}

/// Goal: of the instances sharing a bucket, one runs a full garbage scan at a time; a
/// holder whose lease ran out is taken over; an ended lease frees the next scan at once.
/// Method: A's full scan blocks inside its resolver (holding the lease); B's full scan then
/// reports it was skipped. After the lease's time (2 s) passed with A still blocked, B's
/// full scan runs (takeover). A, released, notices it lost the lease and stops; a full scan
/// of A afterwards runs (B ended its lease).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_gc_lease_one_full_scan() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(&moto, "lease", &dir.path().join("a"));
    c.gc_lease = Duration::from_secs(2);
    let a = open(&c).await;
    let mut cb = c.clone();
    cb.cache_dir = dir.path().join("b");
    let b = open(&cb).await;
    let k = key(10);
    a.write(k, 0, Bytes::from_static(b"x")).await.unwrap();
    let v = a.sync(k).await.unwrap();
    a.adopt(k, v).await.unwrap();

    let entered = Arc::new(tokio::sync::Notify::new());
    let release = Arc::new(tokio::sync::Semaphore::new(0));
    let blocking: Arc<Resolver> = {
        let (entered, release) = (Arc::clone(&entered), Arc::clone(&release));
        Arc::new(move |_k: ContentKey| -> ResolveFuture {
            let (entered, release) = (Arc::clone(&entered), Arc::clone(&release));
            Box::pin(async move {
                entered.notify_one();
                release.acquire().await.unwrap().forget();
                Ok(KeyState::Live(v))
            })
        })
    };
    let scan_a = {
        let (a, blocking) = (a.clone(), Arc::clone(&blocking));
        tokio::spawn(async move { a.collect_garbage(true, &*blocking, async { Ok(()) }).await })
    };
    entered.notified().await;
    let plain = resolver(Arc::new(Mutex::new(HashMap::from([(
        k,
        KeyState::Live(v),
    )]))));
    let stats = b
        .collect_garbage(true, &*plain, async { Ok(()) })
        .await
        .unwrap();
    assert!(stats.full_skipped, "two full scans at once: {stats:?}");
    assert_eq!(stats.keys, 0, "B has no candidates of its own");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let stats = b
        .collect_garbage(true, &*plain, async { Ok(()) })
        .await
        .unwrap();
    assert!(
        !stats.full_skipped && stats.keys == 1,
        "an expired lease was not taken over: {stats:?}"
    );
    release.add_permits(1);
    let stats_a = scan_a.await.unwrap().unwrap();
    assert!(!stats_a.full_skipped);
    let stats = a
        .collect_garbage(true, &*plain, async { Ok(()) })
        .await
        .unwrap();
    assert!(
        !stats.full_skipped && stats.keys == 1,
        "an ended lease still blocked a scan: {stats:?}"
    );
}
