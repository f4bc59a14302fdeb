//! Caching shared by gateways on one PostgreSQL ([`stores::SharedCaching`], schema version
//! 6): published rows reach the other gateways' in-memory mirrors by LISTEN/NOTIFY, recall
//! requests reach their queues, and a gateway's rows go when its session lapses. Against a
//! throwaway PostgreSQL server the test starts (`testkit::postgres`).
#![cfg(feature = "postgres")]

use std::sync::Arc;
use std::time::Duration;

use stores::postgres::{PgConfig, PgMetadata};
use stores::{CacheBits, CacheChange, InodeId, MetadataStore, RecallRequest, SharedCaching};
use testkit::postgres::PgServer;

/// Waits (up to 10 s) until `cond` holds, re-checking on every mirror change and every 50 ms.
async fn until(c: &Arc<dyn SharedCaching>, what: &str, cond: impl Fn() -> bool) {
    let changes = c.changes();
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let wait = changes.notified();
            tokio::pin!(wait);
            wait.as_mut().enable();
            if cond() {
                return;
            }
            tokio::select! {
                () = wait => {}
                () = tokio::time::sleep(Duration::from_millis(50)) => {}
            }
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out: {what}");
}

/// Two stores (gateways) on one new database of `server`, with a short session ttl (900 ms),
/// and their shared caching.
async fn two_gateways(
    server: &PgServer,
) -> (
    PgMetadata,
    PgMetadata,
    Arc<dyn SharedCaching>,
    Arc<dyn SharedCaching>,
) {
    let url = server.database();
    let mut config = PgConfig::new(&url);
    config.lock_session_ttl = Duration::from_millis(900);
    let a = PgMetadata::connect(&config).await.expect("gateway a");
    let b = PgMetadata::connect(&config).await.expect("gateway b");
    let ca = a.shared_caching().expect("PostgreSQL shares caching");
    let cb = b.shared_caching().expect("PostgreSQL shares caching");
    (a, b, ca, cb)
}

/// Goal: what one gateway publishes, the other sees in memory (never its own), withdrawn
/// and changed rows follow, recall requests reach the other gateway only, and the rows of a
/// gateway whose session lapses (a gateway killed with -9 stops its heartbeat) vanish from the
/// others' mirrors and from the table. Method: two stores (gateways) on one throwaway
/// database with a short session ttl; publish, change, withdraw, recall; then drop one store
/// holding a row and wait past its ttl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caching_is_mirrored_recalled_and_expires() {
    let server = PgServer::start();
    let (a, b, ca, cb) = two_gateways(&server).await;
    let (x, y) = (InodeId(42), InodeId(43));
    // Loaded mirrors know that nobody caches anything yet.
    until(&ca, "a's mirror loaded", || {
        ca.elsewhere(x) == CacheBits::NONE
    })
    .await;
    until(&cb, "b's mirror loaded", || {
        cb.elsewhere(x) == CacheBits::NONE
    })
    .await;
    assert!(!cb.any_elsewhere());

    // Publish through a: b sees it, a does not count its own.
    let rw = CacheBits(CacheBits::READ.0 | CacheBits::WRITE.0);
    ca.publish(x, rw).await.expect("publish");
    until(&cb, "b sees a's RW", || cb.elsewhere(x) == rw).await;
    assert_eq!(ca.elsewhere(x), CacheBits::NONE);
    assert_eq!(cb.elsewhere_now(x).await.unwrap(), rw);
    assert!(cb.any_elsewhere());
    // b's own row adds to nothing b sees, and a sees it.
    cb.publish(x, CacheBits::READ).await.expect("publish b");
    until(&ca, "a sees b's R", || ca.elsewhere(x) == CacheBits::READ).await;
    // A downgrade and a withdrawal follow.
    ca.publish(x, CacheBits::HANDLE).await.expect("downgrade");
    until(&cb, "b sees the downgrade", || {
        cb.elsewhere(x) == CacheBits::HANDLE
    })
    .await;
    ca.publish(x, CacheBits::NONE).await.expect("withdraw");
    until(&cb, "b sees the withdrawal", || {
        cb.elsewhere(x) == CacheBits::NONE
    })
    .await;

    // Recall requests reach the other gateway's queue, not the sender's own.
    let mut ra = ca.take_recalls().expect("a's recall queue");
    let mut rb = cb.take_recalls().expect("b's recall queue");
    assert!(ca.take_recalls().is_none(), "one consumer per store");
    cb.request_recall(x, CacheChange::Name)
        .await
        .expect("recall");
    let got = tokio::time::timeout(Duration::from_secs(10), ra.recv())
        .await
        .expect("a gets b's recall request");
    assert_eq!(
        got,
        Some(RecallRequest {
            ino: x,
            change: CacheChange::Name
        })
    );
    assert!(rb.try_recv().is_err(), "b got its own recall request");

    // a holds y and dies (its store, heartbeat and listener go): b's mirror and the table
    // lose the row once a's session lapsed and b's heartbeat reaped it.
    ca.publish(y, CacheBits::ALL).await.expect("publish y");
    until(&cb, "b sees a's y", || cb.elsewhere(y) == CacheBits::ALL).await;
    let session = a.lock_session();
    drop(ca);
    drop(a);
    until(&cb, "a's rows vanish with its session", || {
        cb.elsewhere(y) == CacheBits::NONE
    })
    .await;
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM caching WHERE session = $1")
        .bind(session)
        .fetch_one(b.pool())
        .await
        .unwrap();
    assert_eq!(left, 0, "a lapsed session's caching rows stay in the table");
    // b's own row outlived a.
    assert_eq!(
        sqlx::query_scalar::<_, i32>("SELECT bits FROM caching WHERE session = $1 AND ino = 42")
            .bind(b.lock_session())
            .fetch_one(b.pool())
            .await
            .unwrap(),
        i32::from(CacheBits::READ.0)
    );
}

/// Goal: share modes are claimed as one step per inode ([`SharedCaching::claim`]): of two
/// gateways claiming conflicting modes on one inode at the same moment exactly one wins and
/// the loser writes nothing; modes that do not conflict both pass; a row's caching bits
/// alone refuse nothing; the rows of a session that lapsed refuse nothing. Method: two
/// stores on one throwaway database; 50 rounds of two claims started together (each round
/// on a new inode), then compatible, caching-only and lapsed-session claims, with the table
/// read back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_mode_claims_exclude_each_other() {
    let server = PgServer::start();
    let (a, b, ca, cb) = two_gateways(&server).await;
    let bits = |v: &[CacheBits]| CacheBits(v.iter().fold(0, |x, b| x | b.0));
    // Reading and writing, sharing nothing; and reading, sharing everything.
    let exclusive = bits(&[
        CacheBits::OPEN_READ,
        CacheBits::OPEN_WRITE,
        CacheBits::DENY_READ,
        CacheBits::DENY_WRITE,
        CacheBits::DENY_DELETE,
    ]);
    let reader = CacheBits::OPEN_READ;
    let rows = |ino: u64| {
        let pool = a.pool().clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM caching WHERE ino = $1")
                .bind(ino as i64)
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    let (mut won_a, mut won_b) = (0, 0);
    for i in 0..50u64 {
        let ino = InodeId(1000 + i);
        let held = bits(&[exclusive, CacheBits::READ]);
        let (ra, rb) = tokio::join!(
            ca.claim(ino, held, exclusive),
            cb.claim(ino, held, exclusive)
        );
        let (ra, rb) = (ra.expect("claim a"), rb.expect("claim b"));
        assert!(
            ra != rb,
            "round {i}: a {ra}, b {rb}: exactly one claim was to win"
        );
        assert_eq!(rows(ino.0).await, 1, "round {i}: the loser wrote a row");
        if ra {
            won_a += 1;
        } else {
            won_b += 1;
        }
    }
    println!("claims: a won {won_a}, b won {won_b} of 50");

    // Readers sharing everything do not refuse each other (nor a row of caching alone).
    let x = InodeId(7);
    assert!(ca.claim(x, reader, reader).await.unwrap());
    assert!(cb.claim(x, reader, reader).await.unwrap());
    let y = InodeId(8);
    ca.publish(y, CacheBits::ALL).await.unwrap();
    assert!(cb.claim(y, exclusive, exclusive).await.unwrap());
    // But an exclusive open beside a's reader is refused, and leaves b's row as it was.
    assert!(!cb.claim(x, exclusive, exclusive).await.unwrap());
    assert_eq!(
        sqlx::query_scalar::<_, i32>("SELECT bits FROM caching WHERE session = $1 AND ino = 7")
            .bind(b.lock_session())
            .fetch_one(b.pool())
            .await
            .unwrap(),
        i32::from(reader.0)
    );

    // a lapses (dropped: no heartbeat): its reader no longer refuses b's exclusive open,
    // even before the heartbeat reaped its rows.
    let z = InodeId(9);
    ca.publish(z, reader).await.unwrap();
    assert!(!cb.claim(z, exclusive, exclusive).await.unwrap());
    drop(ca);
    drop(a);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(cb.claim(z, exclusive, exclusive).await.unwrap());
}
