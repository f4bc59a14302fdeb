//! End-to-end: the real `dittofs` binary on PostgreSQL metadata (`type: postgres`), against a
//! throwaway PostgreSQL server the test starts itself (`testkit::postgres`).
//!
//! Goal: the `postgres` configuration reaches the store: two gateways (two `dittofs start`
//! processes) on one database and one content directory serve one share, a file written and
//! committed through one is seen with its bytes through the other, a handle issued by one works
//! on the other (the handle key lives in the database), handles survive a restart, and the
//! database password appears neither in the logs nor in `dittofs config show`.
//!
//! Method: the `nfs3_client` crate (an NFSv3 client nobody here wrote) over loopback.
#![cfg(feature = "postgres")]
#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]

use std::path::Path;

use nfs3_client::nfs3_types::nfs3::{GETATTR3args, nfs_fh3, stable_how};
use testkit::Daemon;
use testkit::nfs::{commit, contents, create, lookup, mount, ok, seeded_bytes, write_all};
use testkit::postgres::PgServer;

/// A daemon serving `/export` from PostgreSQL `url` and filesystem content in `content`, with
/// its own state directory and port under `dir`.
fn gateway(dir: &Path, url: &str, content: &Path) -> Daemon {
    let d = Daemon::prepare(env!("CARGO_BIN_EXE_dittofs"), dir, &["name: /export"], "");
    std::fs::write(
        &d.config,
        format!(
            "logging: {{ level: debug }}\n\
             server: {{ state_dir: {state}/state }}\n\
             metadata: {{ stores: {{ default: {{ type: postgres, postgres: {{ url: '{url}', max_connections: 4 }} }} }} }}\n\
             content: {{ stores: {{ default: {{ type: filesystem, filesystem: {{ path: {content} }} }} }} }}\n\
             shares:\n  - {{ name: /export, metadata_store: default, content_store: default, allowed_clients: [] }}\n\
             adapters: {{ nfs: {{ port: {port}, portmapper: {{ enabled: false }} }} }}\n",
            state = dir.display(),
            content = content.display(),
            port = d.port,
        ),
    )
    .unwrap();
    // The URL holds the password: dittofs refuses a file others can read.
    std::fs::set_permissions(
        &d.config,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    d
}

async fn getattr_ok(c: &mut nfs3_client::Nfs3Client<testkit::nfs::Io>, fh: &nfs_fh3) -> u64 {
    let r = c
        .getattr(&GETATTR3args { object: fh.clone() })
        .await
        .unwrap();
    ok(r, "GETATTR").obj_attributes.fileid
}

/// Goal and method: see the module documentation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_share_one_database() {
    let server = PgServer::start();
    let url = server.database();
    let tmp = tempfile::tempdir().unwrap();
    let content = tmp.path().join("content");
    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    let mut a = gateway(&dir_a, &url, &content);
    let mut b = gateway(&dir_b, &url, &content);
    a.spawn();
    b.spawn();

    let mut ma = mount("127.0.0.1", a.port, "/export", 0, 0).await.unwrap();
    let root_a = ma.root_nfs_fh3();
    let data = seeded_bytes(300_000, 7);
    let file = create(&mut ma, &root_a, "hello", 0o644).await.unwrap();
    write_all(&mut ma, &file, 0, &data, stable_how::UNSTABLE)
        .await
        .unwrap();
    commit(&mut ma, &file).await.unwrap();
    let fileid = getattr_ok(&mut ma, &file).await;

    // Gateway B: the name, the bytes, and A's handle.
    let mut mb = mount("127.0.0.1", b.port, "/export", 0, 0).await.unwrap();
    let root_b = mb.root_nfs_fh3();
    assert_eq!(
        root_a, root_b,
        "one share root, one handle, on both gateways"
    );
    let found = lookup(&mut mb, &root_b, "hello").await.unwrap();
    assert_eq!(getattr_ok(&mut mb, &found).await, fileid);
    assert_eq!(contents(&mut mb, &file).await.unwrap(), data);

    // A restart keeps the namespace and the handles.
    a.terminate();
    a.spawn();
    let mut ma = mount("127.0.0.1", a.port, "/export", 0, 0).await.unwrap();
    assert_eq!(getattr_ok(&mut ma, &file).await, fileid);
    assert_eq!(contents(&mut ma, &found).await.unwrap(), data);

    let shown = a.cli(&["config", "show"], "");
    assert!(
        shown.contains("url: postgres://postgres:***@127.0.0.1:"),
        "{shown}"
    );
    for (name, text) in [
        ("config show", shown),
        ("log A", a.log()),
        ("log B", b.log()),
    ] {
        assert!(
            !text.contains(PgServer::PASSWORD),
            "the database password appears in {name}"
        );
    }
    assert!(
        a.log().contains("PostgreSQL metadata store connected"),
        "{}",
        a.log()
    );
    a.terminate();
    b.terminate();
}
