//! End-to-end: SMB leases hold across gateways on one PostgreSQL (issue: "an NFS write breaks
//! an SMB lease before it proceeds. It must hold across several gateways on one PostgreSQL").
//!
//! Method: two `dittofs` gateways on one throwaway PostgreSQL database and one content
//! directory, both serving /export over NFS and SMB; Python's smbprotocol
//! (`tests/smb/smbprotocol_lease_gateways.py`) holds RWH leases through gateway A and answers
//! the breaks step by step over its stdin and stdout (and opens through gateway B over SMB);
//! the `nfs3_client` crate writes through gateway B.

use std::time::Duration;

use nfs3_client::nfs3_types::nfs3::stable_how;
use testkit::Daemon;
use testkit::daemon::free_port;
use testkit::gateway::{Content, gateway};
use testkit::nfs::{contents, lookup, mount, write_all};
use testkit::script::StepScript;

const PASSWORD: &str = "lease-gw-pw";

/// A gateway of `/export` on `url` and `content` with SMB served too, and user alice.
fn smb_gateway(dir: &std::path::Path, url: &str, content: &Content) -> Daemon {
    let mut d = gateway(env!("CARGO_BIN_EXE_dittofs"), dir, url, content);
    let smb = free_port();
    let config = std::fs::read_to_string(&d.config).expect("reading the gateway configuration");
    let with_smb = config.replacen(
        "portmapper: { enabled: false } }",
        &format!("portmapper: {{ enabled: false }} }}, smb: {{ enabled: true, port: {smb} }}"),
        1,
    );
    assert_ne!(config, with_smb, "the gateway configuration changed shape");
    std::fs::write(&d.config, with_smb.replace("level: info", "level: debug"))
        .expect("writing the gateway configuration");
    d.smb_port = Some(smb);
    d.add_user("alice", 1001, 1001, PASSWORD);
    d.spawn();
    d
}

/// Two SMB gateways, A and B, on one throwaway PostgreSQL database and one content directory
/// (in that order: the gateways stop before the directory and the database go).
fn two_gateways() -> (
    Daemon,
    Daemon,
    tempfile::TempDir,
    testkit::postgres::PgServer,
) {
    let pg = testkit::postgres::PgServer::start();
    let url = pg.database();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let content = Content::Dir(dir.path().join("content"));
    let a = smb_gateway(&dir.path().join("a"), &url, &content);
    let b = smb_gateway(&dir.path().join("b"), &url, &content);
    (a, b, dir, pg)
}

/// Goal: an NFS WRITE through gateway B to a file an SMB client holds an RWH lease on through
/// gateway A breaks the lease (to H) and waits until the client flushed its cached writes and
/// acknowledged; the file then holds the client's flushed bytes and the NFS bytes, read
/// through B. A client that never acknowledges holds B's write until the break times out,
/// not forever. An SMB open through B of a file leased through A likewise waits for the
/// break's acknowledgement and then reads what A's client flushed. Method: the script holds
/// the leases and reports each step; the test checks that B's WRITE is still waiting at each
/// step before the acknowledgement (or the timeout); the script checks the open through B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nfs_write_through_another_gateway_recalls_smb_lease() {
    let (a, b, _dir, _pg) = two_gateways();
    let port = a.smb_port.unwrap().to_string();
    let port_b = b.smb_port.unwrap().to_string();
    let mut py = StepScript::python(
        "tests/smb/smbprotocol_lease_gateways.py",
        &[&port, "export", "alice", PASSWORD, &port_b],
    );

    // 1-2: a WRITE through B waits for the acknowledgement through A.
    py.expect("LEASED").await;
    let mut m = mount("127.0.0.1", b.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();
    let f = lookup(&mut m, &root, "gw.dat").await.unwrap();
    py.go();
    let (mut m2, f2) = (m, f.clone());
    let write = tokio::spawn(async move {
        write_all(&mut m2, &f2, 100, b"NFS", stable_how::FILE_SYNC)
            .await
            .unwrap();
        m2
    });
    py.expect("BREAK").await;
    assert!(
        !write.is_finished(),
        "the NFS WRITE through B finished before the lease break through A was acknowledged"
    );
    py.expect("FLUSHED").await;
    assert!(
        !write.is_finished(),
        "the NFS WRITE through B finished before the SMB client acknowledged the lease break"
    );
    py.expect("ACKED").await;
    let mut m = tokio::time::timeout(Duration::from_secs(20), write)
        .await
        .expect("the NFS WRITE through B still waits after the acknowledgement")
        .unwrap();
    let mut want = vec![0u8; 103];
    want[..11].copy_from_slice(b"SMB-FLUSHED");
    want[100..].copy_from_slice(b"NFS");
    assert_eq!(
        contents(&mut m, &f).await.unwrap(),
        want,
        "gateway A's log ends:\n{}",
        a.stderr_tail()
    );

    // 3-4: a client that never acknowledges: B's write waits, then goes ahead once the break
    // timed out.
    py.expect("LEASED2").await;
    let g = lookup(&mut m, &root, "silent.dat").await.unwrap();
    py.go();
    let g2 = g.clone();
    let write = tokio::spawn(async move {
        write_all(&mut m, &g2, 0, b"LATE", stable_how::FILE_SYNC)
            .await
            .unwrap();
        m
    });
    py.expect("BREAK2").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !write.is_finished(),
        "the NFS WRITE through B did not wait for the unacknowledged lease break"
    );
    let mut m = tokio::time::timeout(Duration::from_secs(90), write)
        .await
        .expect("the NFS WRITE through B still waits long after the break timeout")
        .unwrap();
    assert_eq!(contents(&mut m, &g).await.unwrap(), b"LATE");
    py.go();
    py.expect("DONE").await;
    assert!(py.success());
    drop((a, b));
}

/// Goal: a directory lease held through gateway A breaks when another client changes the
/// directory's entries through gateway B: SMB create, rename and delete through B, and NFS
/// create and remove through B (the changes reach A through the store's change feed); a
/// change through A under the lease's own parent key does not break it. Method:
/// `tests/smb/smbprotocol_dirlease.py` with client B on gateway B's SMB port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_leases_break_on_changes_through_another_gateway() {
    let (a, b, _dir, _pg) = two_gateways();
    let port = a.smb_port.unwrap().to_string();
    let port_b = b.smb_port.unwrap().to_string();
    let py = StepScript::python(
        "tests/smb/smbprotocol_dirlease.py",
        &[&port, "export", "alice", PASSWORD, &port_b],
    );
    testkit::script::drive_dirlease(py, b.port).await;
}

/// Goal: SMB share modes hold across gateways: a handle open through gateway A that does not
/// share writing refuses an open for writing through gateway B, and the reverse; a handle
/// whose client holds handle caching in the way is recalled first, and the open through B
/// goes ahead once the client closed it; of two opens through A and B at the same moment
/// with conflicting modes, exactly one succeeds, round after round. Method:
/// `tests/smb/smbprotocol_sharemodes_gateways.py`, one client on each gateway.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn share_modes_hold_across_gateways() {
    let (a, b, _dir, _pg) = two_gateways();
    let port = a.smb_port.unwrap().to_string();
    let port_b = b.smb_port.unwrap().to_string();
    let out = std::process::Command::new("python3")
        .arg(testkit::vm::repo().join("tests/smb/smbprotocol_sharemodes_gateways.py"))
        .args([&port, "export", "alice", PASSWORD, &port_b])
        .output()
        .expect("running python3 (ci/setup.sh installs it)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "smbprotocol_sharemodes_gateways.py: {}\n{stdout}{}\nA: {}\nB: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr),
        a.stderr_tail(),
        b.stderr_tail()
    );
    assert!(stdout.contains("4/4 cases passed"), "{stdout}");
}
