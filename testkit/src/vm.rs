//! The kernel-client test VM (`ci/vm`): QEMU with a Debian kernel and a busybox userland that
//! mounts the daemon on the host over NFSv3 and runs a workload script.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit lives one level below the repository root")
        .to_path_buf()
}

/// Panics with the install hint unless `tool` is on PATH.
pub fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).exists()));
    assert!(
        found,
        "{tool} not found: run ci/setup.sh (it installs qemu-system-x86, linux-image-amd64, busybox-static)"
    );
}

/// The VM cache (`ci/vm/build.sh`'s output), where `ci/setup.sh` also installs pjdfstest.
pub fn vm_cache() -> PathBuf {
    if let Some(d) = std::env::var_os("DITTOFS_VM_DIR") {
        return d.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME").map_or_else(
        || Path::new(&std::env::var_os("HOME").expect("HOME is set")).join(".cache"),
        PathBuf::from,
    );
    cache.join("dittofs-vm")
}

/// Runs `ci/vm/run.sh` with `args`; returns its exit status and console, printing both.
pub fn run_vm(dir: &Path, args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = Command::new(repo().join("ci/vm/run.sh"))
        .args(["--timeout", "2400", "--log"])
        .arg(dir.join("console.log"))
        .args(args)
        .output()
        .expect("running ci/vm/run.sh");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // Progress and timings, shown by `cargo test -- --nocapture` and on failure.
    println!("{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), stdout)
}

/// A tree of `files` files for the VM workloads (`ci/vm/mktree.sh`): `DIR/tree.tar.gz` and
/// `DIR/tree.sha256`, returned in that order.
pub fn make_tree(dir: &Path, files: u32) -> (PathBuf, PathBuf) {
    let status = Command::new(repo().join("ci/vm/mktree.sh"))
        .arg(dir)
        .arg(files.to_string())
        .status()
        .expect("running ci/vm/mktree.sh");
    assert!(status.success(), "ci/vm/mktree.sh failed");
    (dir.join("tree.tar.gz"), dir.join("tree.sha256"))
}
