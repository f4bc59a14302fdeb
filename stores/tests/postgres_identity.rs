//! Tests of [`PgIdentity`], users and groups in PostgreSQL, against a throwaway PostgreSQL
//! server the test starts itself (`testkit::postgres`): rows round-trip in order, the revision
//! grows with each change, a refused or empty edit writes nothing, two stores ("gateways") on
//! one database see each other's writes through `LISTEN`/`NOTIFY`, and a store whose
//! connections were cut by a server restart wakes up and catches up.
#![cfg(feature = "postgres")]

use std::collections::BTreeMap;
use std::time::Duration;

use stores::postgres::{GroupRow, IdentityRows, PgConfig, PgIdentity, UserRow};
use testkit::postgres::PgServer;

fn rows() -> IdentityRows {
    IdentityRows {
        users: vec![
            UserRow {
                username: "zed".to_owned(),
                uid: 1002,
                gid: 101,
                password_hash: Some("$2b$04$hash-of-zed".to_owned()),
                nt_hash: Some("00112233445566778899aabbccddeeff".to_owned()),
                groups: vec!["editors".to_owned(), "admins".to_owned()],
                grants: BTreeMap::from([("/export".to_owned(), "read".to_owned())]),
            },
            UserRow {
                username: "alice".to_owned(),
                uid: 1001,
                gid: 1001,
                password_hash: None,
                nt_hash: None,
                groups: Vec::new(),
                grants: BTreeMap::new(),
            },
        ],
        groups: vec![
            GroupRow {
                name: "editors".to_owned(),
                gid: 101,
                grants: BTreeMap::from([("/export".to_owned(), "read-write".to_owned())]),
            },
            GroupRow {
                name: "admins".to_owned(),
                gid: 100,
                grants: BTreeMap::new(),
            },
        ],
    }
}

/// Waits for `store.changed()` at most `limit`; whether it came.
async fn woken(store: &PgIdentity, limit: Duration) -> bool {
    tokio::time::timeout(limit, store.changed()).await.is_ok()
}

/// Goal: see the module docs. Method: two `PgIdentity`s with pools of their own on one fresh
/// database; every wait is bounded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_revisions_notifications_and_restart() {
    let server = PgServer::start();
    let config = PgConfig::new(server.database());
    let a = PgIdentity::connect(&config).await.expect("connect a");
    let b = PgIdentity::connect(&config).await.expect("connect b");
    b.follow();
    // The first wake-up is the listener's "connected: catch up".
    assert!(
        woken(&b, Duration::from_secs(5)).await,
        "no initial wake-up"
    );

    let fresh = a.load().await.expect("load");
    assert!(!fresh.initialised && fresh.revision == 0 && fresh.rows == IdentityRows::default());

    // An edit that changes nothing writes nothing; a refused one neither.
    let same = a
        .update(|_, initialised| {
            assert!(!initialised);
            Ok::<_, ()>(None)
        })
        .await
        .expect("db")
        .expect("edit");
    assert_eq!(same.revision, 0);
    let refused = a
        .update(|rows, _| {
            *rows = self::rows();
            Err("no")
        })
        .await
        .expect("db");
    assert_eq!(refused, Err("no"));
    assert_eq!(a.revision().await.expect("revision"), 0);

    let written = a
        .update(|r, _| {
            *r = rows();
            Ok::<_, ()>(Some("import".to_owned()))
        })
        .await
        .expect("db")
        .expect("edit");
    assert!(written.initialised && written.revision > 0);
    // Order, memberships, grants and hashes come back as written, through the other store.
    assert!(
        woken(&b, Duration::from_secs(2)).await,
        "no NOTIFY within 2 s"
    );
    let seen = b.load().await.expect("load b");
    assert_eq!(seen.rows, rows());
    assert_eq!(seen.revision, written.revision);
    assert!(seen.initialised);

    let second = a
        .update(|r, initialised| {
            assert!(initialised);
            r.users.retain(|u| u.username != "zed");
            Ok::<_, ()>(Some("user remove zed".to_owned()))
        })
        .await
        .expect("db")
        .expect("edit");
    assert!(second.revision > written.revision);
    assert!(woken(&b, Duration::from_secs(2)).await, "no NOTIFY");
    assert_eq!(b.revision().await.expect("revision"), second.revision);
    assert_eq!(b.load().await.expect("load").rows.users.len(), 1);

    // A restart cuts every connection. The listener comes back and wakes its store (it may
    // have missed notifications), and a change made right after is seen by revision.
    server.restart(Duration::from_millis(300));
    let third = a
        .update(|r, _| {
            r.users[0].uid = 4242;
            Ok::<_, ()>(Some("user change alice".to_owned()))
        })
        .await
        .expect("db after restart")
        .expect("edit");
    assert!(third.revision > second.revision);
    assert!(
        woken(&b, Duration::from_secs(10)).await,
        "no wake-up after the restart"
    );
    assert_eq!(b.revision().await.expect("revision"), third.revision);
    assert_eq!(b.load().await.expect("load").rows.users[0].uid, 4242);
}
