//! End-to-end: the Linux kernel SMB client (cifs) with dialects 3.1.1, 3.0, 2.1 and 2.0, in the
//! throwaway test VM (ci/vm), against Samba on the host's loopback (ci/samba.sh).
//!
//! dittofs has no SMB adapter yet; until it does, this proves the SMB workload
//! (`ci/vm/workloads/smb.sh`) and the harness against the reference server, so the adapter
//! starts with a workload that is known to be right. When the adapter lands, the same
//! workload runs against the `dittofs` binary. A missing QEMU or smbd is a failure with the
//! install hint, never a skip.

use std::net::TcpListener;
use std::process::Command;

use testkit::vm::{make_tree, repo, require, run_vm};

/// Stops the throwaway Samba when the test ends, passed or not.
struct Samba(std::path::PathBuf);

impl Drop for Samba {
    fn drop(&mut self) {
        let _ = Command::new(repo().join("ci/samba.sh"))
            .arg("stop")
            .arg(&self.0)
            .status();
    }
}

/// Goal: a stock Linux kernel cifs client mounts //host/share with each SMB2/3 dialect and
/// everything it writes reads back identically: a 1,000-file tree (checksums verified after
/// dropping caches, again after a remount and from every other dialect), rename (also over an
/// existing file, and of directories), hard links, symlinks (mfsymlinks), the read-only
/// attribute through chmod, truncate, utimes, a 4 MiB write read back after dropping caches in
/// every dialect, and `ls -l` of a 10,000-entry directory.
#[test]
fn linux_kernel_cifs_client_against_samba() {
    require("qemu-system-x86_64");
    require("smbd");
    let dir = tempfile::tempdir().unwrap();
    let (tar, sums) = make_tree(&dir.path().join("tree"), 1000);

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let samba_dir = dir.path().join("samba");
    let started = Command::new(repo().join("ci/samba.sh"))
        .arg("start")
        .arg(&samba_dir)
        .arg(port.to_string())
        .status()
        .unwrap();
    assert!(started.success(), "ci/samba.sh could not start smbd");
    let _samba = Samba(samba_dir.clone());

    let workload = repo().join("ci/vm/workloads/smb.sh");
    let port = format!("PORT={port}");
    let (status, stdout) = run_vm(
        dir.path(),
        &[
            "--file".as_ref(),
            tar.as_os_str(),
            "--file".as_ref(),
            sums.as_os_str(),
            workload.as_os_str(),
            port.as_ref(),
            "SMB_USER=dittofs".as_ref(),
            "SMB_PASS=dittofs-test".as_ref(),
            "DIALECTS=3.1.1 3.0 2.1 2.0".as_ref(),
            "ENTRIES=10000".as_ref(),
        ],
    );
    let log = std::fs::read_to_string(samba_dir.join("log/smbd.log")).unwrap_or_default();
    assert_eq!(
        status,
        Some(0),
        "the cifs workload failed; console above, smbd log:\n{log}"
    );
    for v in ["3.1.1", "3.0", "2.1", "2.0"] {
        assert!(
            stdout.contains(&format!("SMB {v} checks passed")),
            "dialect {v} did not finish"
        );
    }
    assert!(
        stdout.contains("all SMB kernel-client checks passed"),
        "the workload exited 0 without reaching its end"
    );
}
