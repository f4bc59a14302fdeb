//! End-to-end: the real `dittofs` binary on RocksDB + filesystem content, driven by Debian's
//! libnfs command-line clients (`nfs-cp`, `nfs-ls`, `nfs-cat`), which nobody here wrote.
//!
//! Missing tools are a failure with the install hint, never a skip.

#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]

use std::path::Path;
use std::process::Command;

use rand::{RngCore, SeedableRng};
use testkit::Daemon;

fn tool(name: &str) -> Command {
    let path = Path::new("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{name} not found: install Debian's libnfs-utils (ci/setup.sh does)"
    );
    Command::new(path)
}

fn run(mut c: Command) -> Vec<u8> {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Goal: bytes copied in with nfs-cp come back identical through nfs-cat and nfs-cp, are
/// listed by nfs-ls with the right size, and survive a graceful restart (SIGTERM flushes
/// unstable writes; the daemon exits 0). Method: a seeded 5 MiB random file.
#[test]
fn libnfs_copy_list_read_and_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut data = vec![0u8; 5 << 20];
    rand_chacha::ChaCha8Rng::seed_from_u64(0x5eed).fill_bytes(&mut data);
    let src = dir.path().join("src.bin");
    std::fs::write(&src, &data).unwrap();

    let mut d = Daemon::start(env!("CARGO_BIN_EXE_dittofs"), dir.path());
    let mut cp = tool("nfs-cp");
    cp.arg(&src).arg(d.url("/big.bin"));
    run(cp);
    let mut mk = tool("nfs-cp");
    mk.arg(&src).arg(d.url("/second.bin"));
    run(mk);

    let mut ls = tool("nfs-ls");
    ls.arg(d.url(""));
    let listing = String::from_utf8(run(ls)).unwrap();
    assert!(
        listing.contains("big.bin") && listing.contains("second.bin"),
        "listing: {listing}"
    );
    assert!(
        listing.contains(&data.len().to_string()),
        "size missing from listing: {listing}"
    );

    let mut cat = tool("nfs-cat");
    cat.arg(d.url("/big.bin"));
    assert!(run(cat) == data, "nfs-cat returned different bytes");

    let out = dir.path().join("out.bin");
    let mut back = tool("nfs-cp");
    back.arg(d.url("/second.bin")).arg(&out);
    run(back);
    assert!(
        std::fs::read(&out).unwrap() == data,
        "nfs-cp out returned different bytes"
    );

    assert_eq!(d.terminate(), Some(0), "graceful shutdown must exit 0");
    d.spawn();
    let mut cat = tool("nfs-cat");
    cat.arg(d.url("/big.bin"));
    assert!(run(cat) == data, "bytes differ after restart");
}

/// Goal: a share missing from the exports is refused by MOUNT, and the server keeps serving.
/// Method: nfs-ls of an unknown export fails; the real export still lists.
#[test]
fn unknown_export_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let d = Daemon::start(env!("CARGO_BIN_EXE_dittofs"), dir.path());
    let mut bad = tool("nfs-ls");
    bad.arg(format!(
        "nfs://127.0.0.1/nope?version=3&nfsport={p}&mountport={p}",
        p = d.port
    ));
    let out = bad.output().unwrap();
    assert!(
        !out.status.success(),
        "nfs-ls of an unknown export succeeded"
    );
    let mut ls = tool("nfs-ls");
    ls.arg(d.url(""));
    run(ls);
}
