//! End-to-end: an install written by an older DittoFS, whose file-handle key lived in
//! `state_dir/handle.key`, keeps its clients' handles valid after the upgrade that moved the key
//! into the metadata store.
//!
//! The fixture `tests/data/pre-secrets` was written by the `dittofs` binary of main at commit
//! dae8584 (store, content and handle code as of 05803a2) on RocksDB + filesystem content: it
//! created `/export/old.txt` over NFS, wrote and committed `old.txt`'s bytes, and saved the
//! 37-byte handle the server returned in `old.handle`; then it was stopped with SIGTERM. The
//! RocksDB directory (without its info log), the content file and `state/handle.key` are
//! committed as they were left.

#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]

use std::path::Path;

use nfs3_client::nfs3_types::nfs3::{GETATTR3args, Nfs3Result, READ3args, nfs_fh3};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use testkit::Daemon;
use testkit::nfs::mount;

fn fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pre-secrets")
}

/// Copies the tree at `from` into `to`.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// GETATTR and READ of the file through `handle`; panics with the status on failure.
async fn read_through(port: u16, handle: &[u8]) -> Vec<u8> {
    let mut c = mount("127.0.0.1", port, "/export", 0, 0).await.unwrap();
    let fh = nfs_fh3 {
        data: Opaque::owned(handle.to_vec()),
    };
    match c
        .getattr(&GETATTR3args { object: fh.clone() })
        .await
        .unwrap()
    {
        Nfs3Result::Ok(_) => {}
        Nfs3Result::Err((status, _)) => panic!("GETATTR through the old handle: {status:?}"),
    }
    let r = c
        .read(&READ3args {
            file: fh,
            offset: 0,
            count: 4096,
        })
        .await
        .unwrap();
    match r {
        Nfs3Result::Ok(r) => {
            assert!(r.eof);
            r.data.to_vec()
        }
        Nfs3Result::Err((status, _)) => panic!("READ through the old handle: {status:?}"),
    }
}

/// Goal: a handle issued before the upgrade still names its file afterwards, and from then on
/// the key comes from the metadata store, not from `state_dir`. Method: start the new binary on
/// a copy of the fixture, GETATTR and READ through the saved handle and compare the bytes; stop
/// it, delete `state/handle.key`, start again and read through the same handle once more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_from_before_the_key_moved_stay_valid() {
    let tmp = tempfile::tempdir().unwrap();
    copy_tree(&fixture(), tmp.path());
    let handle = std::fs::read(tmp.path().join("old.handle")).unwrap();
    let expected = std::fs::read(tmp.path().join("old.txt")).unwrap();
    assert_eq!(handle.len(), 37, "the fixture holds a version-1 handle");

    let mut daemon = Daemon::start(env!("CARGO_BIN_EXE_dittofs"), tmp.path());
    assert_eq!(
        read_through(daemon.port, &handle).await,
        expected,
        "log:\n{}",
        daemon.stderr_tail()
    );
    assert_eq!(daemon.terminate(), Some(0));

    std::fs::remove_file(tmp.path().join("state/handle.key")).unwrap();
    daemon.spawn();
    assert_eq!(
        read_through(daemon.port, &handle).await,
        expected,
        "the key did not move into the metadata store; log:\n{}",
        daemon.stderr_tail()
    );
    assert!(
        !tmp.path().join("state/handle.key").exists(),
        "the new binary wrote a key file again"
    );
    assert_eq!(daemon.terminate(), Some(0));
}
