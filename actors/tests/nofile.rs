//! End-to-end: `dittofs start` and the open-file limit (RLIMIT_NOFILE). The daemon needs a
//! descriptor per connection, its descriptor cache, RocksDB's table files and a margin; it
//! raises its soft limit to that, up to the hard limit, or refuses to start and says why.
//!
//! Method: the real binary, started through util-linux `prlimit` (which sets the limits and
//! then execs the binary, so the pid is the daemon's) on the test configuration of
//! `testkit::Daemon` (RocksDB + filesystem content, `max_connections` at its default).

#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]

use std::time::Duration;

use testkit::Daemon;

/// What the test configuration needs: the default 1,024 connections, one filesystem content
/// store's descriptor cache, one RocksDB store's table files and the margin.
fn needed() -> u64 {
    1024 + stores::fs::FD_CACHE_MAX as u64
        + stores::rocksdb::MAX_OPEN_FILES as u64
        + actors::daemon::NOFILE_MARGIN
}

/// The soft and hard "Max open files" of process `pid`, from /proc/PID/limits.
fn nofile_limits(pid: u32) -> (u64, u64) {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).unwrap();
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap();
    let nums: Vec<u64> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

/// Goal: started with a soft limit of 1,024 under a hard limit of 4,096, the daemon runs with
/// its soft limit raised to exactly what its configuration needs, the hard limit untouched.
#[test]
fn start_raises_the_soft_open_file_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(env!("CARGO_BIN_EXE_dittofs"), dir.path());
    d.launcher = vec!["prlimit".into(), "--nofile=1024:4096".into()];
    d.spawn();
    assert_eq!(
        nofile_limits(d.pid()),
        (needed(), 4096),
        "soft limit raised to what the configuration needs; log:\n{}",
        d.stderr_tail()
    );
    assert!(
        d.stderr_tail().contains("raised the open-file limit"),
        "the raise is logged: {}",
        d.stderr_tail()
    );
    assert_eq!(d.terminate(), Some(0), "graceful shutdown must exit 0");
}

/// Goal: under a hard limit below what the configuration needs, the daemon refuses to start
/// (exit status 1, never listening) with a message naming both numbers and the remedies.
#[test]
fn start_refuses_a_hard_limit_too_low_and_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::new(env!("CARGO_BIN_EXE_dittofs"), dir.path());
    d.launcher = vec!["prlimit".into(), "--nofile=512:1000".into()];
    let mut child = d.command().spawn().unwrap();
    let mut status = None;
    for _ in 0..200 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!(
            "dittofs kept running under a hard limit of 1000: {}",
            d.stderr_tail()
        );
    };
    assert_eq!(status.code(), Some(1), "refusal exits 1");
    let log = d.stderr_tail();
    for want in [
        format!("needs up to {} open files", needed()),
        "hard limit on open files (RLIMIT_NOFILE) is 1000".to_owned(),
        "ulimit -n".to_owned(),
        "LimitNOFILE".to_owned(),
        "adapters.nfs.max_connections".to_owned(),
    ] {
        assert!(log.contains(&want), "the refusal names {want:?}: {log}");
    }
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", d.port)).is_err(),
        "nothing listens after a refusal"
    );
}
