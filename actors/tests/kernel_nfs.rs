//! End-to-end: the Linux kernel NFSv3 client, in a throwaway VM (ci/vm), against the real
//! `dittofs` binary on RocksDB + filesystem content.
//!
//! The host kernel here has no NFS client, so the client runs in QEMU with the Debian kernel
//! (TCG when /dev/kvm cannot boot it). The workload is `ci/vm/workloads/nfs3.sh`; the VM's
//! console is printed when the test fails. A missing QEMU or kernel is a failure with the
//! install hint, never a skip.

#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Daemon;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).exists()))
        .unwrap_or(false);
    assert!(
        found,
        "{tool} not found: run ci/setup.sh (it installs qemu-system-x86, linux-image-amd64, busybox-static)"
    );
}

/// Goal: a stock Linux kernel client mounts the export with
/// `vers=3,tcp,port=P,mountport=P,nolock` and everything it writes reads back identically:
/// a 2,500-file tree (checksums verified after dropping caches), rename (also over an existing
/// file), hard links, symlinks, chmod, chown, truncate, utimes, a 10,000-entry `ls -l`, and all
/// of it again after unmount and remount. The daemon then exits 0 on SIGTERM.
#[test]
fn linux_kernel_nfs3_client() {
    require("qemu-system-x86_64");
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    let status = Command::new(repo().join("ci/vm/mktree.sh"))
        .arg(&tree)
        .arg("2500")
        .status()
        .unwrap();
    assert!(status.success(), "ci/vm/mktree.sh failed");

    let mut d = Daemon::start(dir.path());
    let console = dir.path().join("console.log");
    let out = Command::new(repo().join("ci/vm/run.sh"))
        .args(["--timeout", "2400", "--log"])
        .arg(&console)
        .arg("--file")
        .arg(tree.join("tree.tar.gz"))
        .arg("--file")
        .arg(tree.join("tree.sha256"))
        .arg(repo().join("ci/vm/workloads/nfs3.sh"))
        .arg(format!("PORT={}", d.port))
        .arg("ENTRIES=10000")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    // Progress and timings, shown by `cargo test -- --nocapture` and on failure.
    println!("{stderr}\n{stdout}");
    assert!(
        out.status.success(),
        "the kernel-client workload failed (exit {:?}); console above, server log: {}",
        out.status.code(),
        d.stderr_tail()
    );
    assert!(
        stdout.contains("all NFSv3 kernel-client checks passed"),
        "the workload exited 0 without reaching its end"
    );
    assert_eq!(d.terminate(), Some(0), "graceful shutdown must exit 0");
}
