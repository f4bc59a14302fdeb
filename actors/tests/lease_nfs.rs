//! End-to-end: an NFS change recalls SMB caching before it proceeds (issue 13: "an NFS operation
//! on a leased file breaks the lease and waits for the acknowledgement, up to the timeout").
//!
//! Method: one `dittofs` serving /export over NFS and SMB; Python's smbprotocol
//! (`tests/smb/smbprotocol_lease_nfs.py`) holds RWH leases and answers the breaks step by step
//! over its stdin and stdout; the `nfs3_client` crate writes and removes over NFS.

use std::io::{BufRead as _, Write as _};
use std::process::{Command, Stdio};
use std::time::Duration;

use nfs3_client::nfs3_types::nfs3::{Nfs3Result, REMOVE3args, RENAME3args, stable_how};
use testkit::Daemon;
use testkit::nfs::{contents, dirop, lookup, mount, write_all};

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
    let mut py = Command::new("python3")
        .arg(testkit::vm::repo().join("tests/smb/smbprotocol_lease_nfs.py"))
        .args([
            &d.smb_port.unwrap().to_string(),
            "export",
            "alice",
            PASSWORD,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("running python3: {e} (install python3, then ci/setup.sh)"));
    let mut to_py = py.stdin.take().unwrap();
    let (lines_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    let stdout = py.stdout.take().unwrap();
    #[expect(
        clippy::disallowed_methods,
        reason = "a real child process's stdout, read outside any simulation"
    )]
    tokio::task::spawn_blocking(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut expect = async |want: &str| {
        let line = tokio::time::timeout(Duration::from_secs(60), lines.recv())
            .await
            .unwrap_or_else(|_| panic!("no {want} from the SMB side within 60 s"))
            .unwrap_or_else(|| {
                panic!("the SMB side ended before {want} (exit 2: smbprotocol missing; ci/setup.sh installs it)")
            });
        assert_eq!(line, want, "the SMB side");
    };

    // 1-2: WRITE.
    expect("LEASED").await;
    let mut m = mount("127.0.0.1", d.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();
    let f = lookup(&mut m, &root, "leased.dat").await.unwrap();
    writeln!(to_py, "go").unwrap();
    let (mut m2, f2) = (m, f.clone());
    let write = tokio::spawn(async move {
        write_all(&mut m2, &f2, 100, b"NFS", stable_how::FILE_SYNC)
            .await
            .unwrap();
        m2
    });
    expect("BREAK").await;
    expect("FLUSHED").await;
    assert!(
        !write.is_finished(),
        "the NFS WRITE finished before the SMB client acknowledged the lease break"
    );
    expect("ACKED").await;
    let mut m = tokio::time::timeout(Duration::from_secs(10), write)
        .await
        .expect("the NFS WRITE still waits after the acknowledgement")
        .unwrap();
    let mut want = vec![0u8; 103];
    want[..11].copy_from_slice(b"SMB-FLUSHED");
    want[100..].copy_from_slice(b"NFS");
    assert_eq!(contents(&mut m, &f).await.unwrap(), want);

    // 3-4: REMOVE.
    expect("LEASED2").await;
    writeln!(to_py, "go").unwrap();
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
    expect("BREAK2").await;
    assert!(
        !remove.is_finished(),
        "the NFS REMOVE finished before the SMB client gave its handle back"
    );
    expect("CLOSED").await;
    let mut m = tokio::time::timeout(Duration::from_secs(10), remove)
        .await
        .expect("the NFS REMOVE still waits after the close")
        .unwrap();
    assert!(
        lookup(&mut m, &root, "named.dat").await.is_err(),
        "named.dat is still there"
    );

    // 5-7: CHANGE_NOTIFY.
    expect("WATCHING").await;
    let watched = lookup(&mut m, &root, "watched").await.unwrap();
    testkit::nfs::create(&mut m, &watched, "fromnfs.txt", 0o644)
        .await
        .unwrap();
    writeln!(to_py, "go").unwrap();
    expect("NOTIFIED").await;
    expect("WATCHING2").await;
    let r = m
        .rename(&RENAME3args {
            from: dirop(&watched, "fromnfs.txt"),
            to: dirop(&watched, "renamed.txt"),
        })
        .await
        .unwrap();
    assert!(matches!(r, Nfs3Result::Ok(_)), "RENAME: {r:?}");
    writeln!(to_py, "go").unwrap();
    expect("DONE").await;
    assert!(py.wait().unwrap().success());
}
