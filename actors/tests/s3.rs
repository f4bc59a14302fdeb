//! End-to-end: the real `dittofs` binary serving a share whose content is in S3 (moto's server
//! mode on loopback, started by the test), through `kill -9` and restarts.
//!
//! Goal: committed bytes, a grown and a shrunk size all read back after the process is
//! killed without warning and started again, so the server hands the content versions over
//! to metadata (and back to the store after the restart) on every path that changes content;
//! the secret key never reaches the log.
//!
//! Method: the `nfs3_client` crate writes UNSTABLE + COMMIT, grows and shrinks the file with
//! SETATTR, and reads everything back after each `kill -9` + start.
#![cfg(feature = "s3")]
#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]

use nfs3_client::Nfs3Client;
use nfs3_client::nfs3_types::nfs3::{
    LOOKUP3args, Nfs3Option, SETATTR3args, nfs_fh3, sattr3, sattrguard3, stable_how,
};
use testkit::Daemon;
use testkit::nfs::{Io, commit, contents, create, dirop, mount, ok, seeded_bytes, write_all};
use testkit::s3::Moto;

async fn set_size(c: &mut Nfs3Client<Io>, f: &nfs_fh3, size: u64) {
    let r = c
        .setattr(&SETATTR3args {
            object: f.clone(),
            new_attributes: sattr3 {
                size: Nfs3Option::Some(size),
                ..sattr3::default()
            },
            guard: sattrguard3::default(),
        })
        .await
        .unwrap();
    ok(r, "SETATTR size");
}

async fn lookup(c: &mut Nfs3Client<Io>, dir: &nfs_fh3, name: &str) -> nfs_fh3 {
    let r = c
        .lookup(&LOOKUP3args {
            what: dirop(dir, name),
        })
        .await
        .unwrap();
    ok(r, "LOOKUP").object
}

/// Goal: see the module documentation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_share_survives_kill_9() {
    let moto = Moto::start();
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::prepare(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &["name: /export"],
        "",
    );
    let config = dir.path().join("config.yaml");
    let text = std::fs::read_to_string(&config).unwrap();
    let fs_line = text
        .lines()
        .find(|l| l.starts_with("content:"))
        .unwrap()
        .to_owned();
    let s3_line = format!(
        "content: {{ stores: {{ default: {{ type: s3, s3: {{ bucket: e2e, endpoint: '{}', \
         force_path_style: true, create_bucket: true, access_key_id: e2e-key, \
         secret_access_key: e2e-secret-value, block_size: 64KiB, cache_size: 1MiB, \
         cache_dir: '{}' }} }} }} }}",
        moto.endpoint(),
        dir.path().join("s3-cache").display()
    );
    std::fs::write(&config, text.replace(&fs_line, &s3_line)).unwrap();
    // A file holding a secret key must be private, or the daemon refuses it.
    std::fs::set_permissions(&config, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    d.spawn();

    let data = seeded_bytes(300_000, 7);
    {
        let mut m = mount("127.0.0.1", d.port, "/export", 0, 0).await.unwrap();
        let root = m.root_nfs_fh3();
        let c: &mut Nfs3Client<Io> = &mut m;
        let f = create(c, &root, "file", 0o644).await.unwrap();
        write_all(c, &f, 0, &data, stable_how::UNSTABLE)
            .await
            .unwrap();
        commit(c, &f).await.unwrap();
        assert!(contents(c, &f).await.unwrap() == data);
    }
    d.kill9();
    d.spawn();
    let mut m = mount("127.0.0.1", d.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();
    let c: &mut Nfs3Client<Io> = &mut m;
    let f = lookup(c, &root, "file").await;
    assert!(
        contents(c, &f).await.unwrap() == data,
        "committed bytes after kill -9"
    );
    // Grow (a hole at the end), overwrite a little, then restart.
    set_size(c, &f, 400_000).await;
    write_all(c, &f, 10, b"changed", stable_how::FILE_SYNC)
        .await
        .unwrap();
    let mut want = data.clone();
    want.resize(400_000, 0);
    want[10..17].copy_from_slice(b"changed");
    assert!(contents(c, &f).await.unwrap() == want);
    drop(m);
    d.kill9();
    d.spawn();
    let mut m = mount("127.0.0.1", d.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();
    let c: &mut Nfs3Client<Io> = &mut m;
    let f = lookup(c, &root, "file").await;
    assert!(
        contents(c, &f).await.unwrap() == want,
        "grown file after kill -9"
    );
    // Shrink, restart, then extend by a write: the cut bytes must come back as zeros.
    set_size(c, &f, 100_000).await;
    drop(m);
    d.kill9();
    d.spawn();
    let mut m = mount("127.0.0.1", d.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();
    let c: &mut Nfs3Client<Io> = &mut m;
    let f = lookup(c, &root, "file").await;
    want.truncate(100_000);
    assert!(
        contents(c, &f).await.unwrap() == want,
        "shrunk file after kill -9"
    );
    write_all(c, &f, 150_000, b"end", stable_how::FILE_SYNC)
        .await
        .unwrap();
    want.resize(150_000, 0);
    want.extend_from_slice(b"end");
    assert!(
        contents(c, &f).await.unwrap() == want,
        "extended after a shrink"
    );
    drop(m);
    d.terminate();
    let log = d.log();
    assert!(
        !log.contains("e2e-secret-value"),
        "the secret key is in the log"
    );
}
