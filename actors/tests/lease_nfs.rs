//! End-to-end: an NFS change recalls SMB caching before it proceeds (issue 13: "an NFS operation
//! on a leased file breaks the lease and waits for the acknowledgement, up to the timeout").
//!
//! Method: one `dittofs` serving /export over NFS and SMB; Python's smbprotocol
//! (`tests/smb/smbprotocol_lease_nfs.py`) holds RWH leases and answers the breaks step by step
//! over its stdin and stdout; the `nfs3_client` crate writes and removes over NFS.

use std::time::Duration;

use nfs3_client::nfs3_types::nfs3::{Nfs3Result, REMOVE3args, RENAME3args, stable_how};
use testkit::Daemon;
use testkit::nfs::{contents, dirop, lookup, mount, write_all};
use testkit::script::StepScript;

const PASSWORD: &str = "lease-nfs-pw";

/// Goal: an NFS WRITE to a file an SMB client holds an RWH lease on breaks the lease to H and
/// waits until the client flushed its cached writes and acknowledged; an NFS REMOVE of a file
/// under an RWH lease breaks it to RW and waits until the client gave the handle back (closed).
/// Both proceed afterwards, and the file holds the SMB client's flushed bytes and the NFS bytes.
/// Then NFS changes reach SMB CHANGE_NOTIFY: an NFS CREATE in a watched directory is reported
/// ADDED, a tree watch above it is told to re-read (STATUS_NOTIFY_ENUM_DIR), and an NFS RENAME
/// within the directory is reported as old and new name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nfs_changes_recall_smb_leases() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::prepare_smb(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &["name: /export"],
        "",
        "",
    );
    d.add_user("alice", 1001, 1001, PASSWORD);
    d.spawn();
    let port = d.smb_port.unwrap().to_string();
    let mut py = StepScript::python(
        "tests/smb/smbprotocol_lease_nfs.py",
        &[&port, "export", "alice", PASSWORD],
    );

    // 1-2: WRITE.
    py.expect("LEASED").await;
    let mut m = mount("127.0.0.1", d.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();
    let f = lookup(&mut m, &root, "leased.dat").await.unwrap();
    py.go();
    let (mut m2, f2) = (m, f.clone());
    let write = tokio::spawn(async move {
        write_all(&mut m2, &f2, 100, b"NFS", stable_how::FILE_SYNC)
            .await
            .unwrap();
        m2
    });
    py.expect("BREAK").await;
    py.expect("FLUSHED").await;
    assert!(
        !write.is_finished(),
        "the NFS WRITE finished before the SMB client acknowledged the lease break"
    );
    py.expect("ACKED").await;
    let mut m = tokio::time::timeout(Duration::from_secs(10), write)
        .await
        .expect("the NFS WRITE still waits after the acknowledgement")
        .unwrap();
    let mut want = vec![0u8; 103];
    want[..11].copy_from_slice(b"SMB-FLUSHED");
    want[100..].copy_from_slice(b"NFS");
    assert_eq!(contents(&mut m, &f).await.unwrap(), want);

    // 3-4: REMOVE.
    py.expect("LEASED2").await;
    py.go();
    let root2 = root.clone();
    let remove = tokio::spawn(async move {
        let r = m
            .remove(&REMOVE3args {
                object: dirop(&root2, "named.dat"),
            })
            .await
            .unwrap();
        assert!(matches!(r, Nfs3Result::Ok(_)), "REMOVE: {r:?}");
        m
    });
    py.expect("BREAK2").await;
    assert!(
        !remove.is_finished(),
        "the NFS REMOVE finished before the SMB client gave its handle back"
    );
    py.expect("CLOSED").await;
    let mut m = tokio::time::timeout(Duration::from_secs(10), remove)
        .await
        .expect("the NFS REMOVE still waits after the close")
        .unwrap();
    assert!(
        lookup(&mut m, &root, "named.dat").await.is_err(),
        "named.dat is still there"
    );

    // 5-7: CHANGE_NOTIFY.
    py.expect("WATCHING").await;
    let watched = lookup(&mut m, &root, "watched").await.unwrap();
    testkit::nfs::create(&mut m, &watched, "fromnfs.txt", 0o644)
        .await
        .unwrap();
    py.go();
    py.expect("NOTIFIED").await;
    py.expect("WATCHING2").await;
    let r = m
        .rename(&RENAME3args {
            from: dirop(&watched, "fromnfs.txt"),
            to: dirop(&watched, "renamed.txt"),
        })
        .await
        .unwrap();
    assert!(matches!(r, Nfs3Result::Ok(_)), "RENAME: {r:?}");
    py.go();
    py.expect("DONE").await;
    assert!(py.success());
}

/// Goal: directory leases (SMB 3.x, v2 lease contexts) are granted RH at most and break to
/// none when the directory's entries change: through another SMB client (create, a write seen
/// at close, rename, times, delete), and over NFS (create, remove); changes through an open
/// whose lease names the directory's lease as its parent leave it alone
/// (`tests/smb/smbprotocol_dirlease.py` checks each step on the SMB side).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_leases_break_on_changes_from_smb_and_nfs() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::prepare_smb(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &["name: /export"],
        "",
        "",
    );
    d.add_user("alice", 1001, 1001, PASSWORD);
    d.spawn();
    let port = d.smb_port.unwrap().to_string();
    let py = StepScript::python(
        "tests/smb/smbprotocol_dirlease.py",
        &[&port, "export", "alice", PASSWORD],
    );
    testkit::script::drive_dirlease(py, d.port).await;
}
