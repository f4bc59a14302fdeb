//! End-to-end: the Linux kernel NFSv3 client, in the test VM (ci/vm), mounting two gateways
//! (two real `dittofs` processes on one PostgreSQL database, `testkit::postgres`, and one
//! content directory) at once.
//!
//! Goal: what one mount writes and closes, the other opens with the same bytes, size, mtime
//! and inode (close-to-open across gateways), over new files, rewrites, overwrites in the
//! middle and appends, in both directions; creates, renames (within and across directories),
//! symlinks and removes through either mount show the same `ls -la` through both; crossing
//! directory renames through the two mounts at once (`mv x y/` on A, `mv y x/` on B) leave
//! exactly one of them done and the same tree, without a loop, through both.
//!
//! Method: `ci/vm/workloads/gateways.sh` in the VM, mounting with `nolock` (locks across
//! gateways are another subject) and `nosharecache`. The guest reaches the host's loopback as
//! 10.0.2.2 through QEMU's user networking, so the gateways' ports need no forwards.
#![cfg(feature = "postgres")]

use testkit::gateway::{Content, gateway};
use testkit::postgres::PgServer;
use testkit::vm::{repo, require, run_vm};

/// Goal and method: see the module documentation.
#[test]
fn kernel_clients_on_two_gateways() {
    require("qemu-system-x86_64");
    let pg = PgServer::start();
    let url = pg.database();
    let dir = tempfile::tempdir().unwrap();
    let content = Content::Dir(dir.path().join("content"));
    let bin = env!("CARGO_BIN_EXE_dittofs");
    let mut a = gateway(bin, &dir.path().join("a"), &url, &content);
    let mut b = gateway(bin, &dir.path().join("b"), &url, &content);
    a.spawn();
    b.spawn();
    let workload = repo().join("ci/vm/workloads/gateways.sh");
    let (port_a, port_b) = (format!("PORT_A={}", a.port), format!("PORT_B={}", b.port));
    let (status, stdout) = run_vm(
        dir.path(),
        &[workload.as_os_str(), port_a.as_ref(), port_b.as_ref()],
    );
    assert_eq!(
        status,
        Some(0),
        "the two-gateway workload failed; console above; gateway A's log:\n{}\ngateway B's log:\n{}",
        a.stderr_tail(),
        b.stderr_tail()
    );
    assert!(
        stdout.contains("all gateway kernel-client checks passed"),
        "the workload exited 0 without reaching its end"
    );
    assert_eq!(a.terminate(), Some(0), "gateway A's graceful shutdown");
    assert_eq!(b.terminate(), Some(0), "gateway B's graceful shutdown");
}
