//! End-to-end: SMB backpressure when the store is busy. A `dittofs` gateway on PostgreSQL
//! metadata with a tiny retry deadline (300 ms statements, 300 ms of retries) meets a row lock
//! that a test session holds on the share's root directory: every CREATE in it fails in the
//! store with `Busy` for as long as the lock is held.
//!
//! Goal: the client sees no failure for contention: the CREATE goes asynchronous
//! (STATUS_PENDING) and is retried until the lock is released, then succeeds; the gateway
//! says it retried.
//!
//! Method: Samba's `smbclient put` against the real binary, the lock held by `psql` in an
//! open transaction (`SELECT … FOR UPDATE`) for about two seconds.
#![cfg(feature = "postgres")]
#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "a test against real processes holds a lock for real time"
)]

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use testkit::Daemon;
use testkit::postgres::PgServer;

const PASSWORD: &str = "busy-test-password";

/// How long the test holds the lock.
const HELD: Duration = Duration::from_secs(2);

/// A free port of this test's range (`DITTOFS_TEST_DAEMON_PORTS`, default 23400-23599).
fn port(skip: u16) -> u16 {
    let (low, high) = std::env::var("DITTOFS_TEST_DAEMON_PORTS")
        .ok()
        .and_then(|r| {
            let (a, b) = r.split_once('-')?;
            Some((a.parse().ok()?, b.parse().ok()?))
        })
        .unwrap_or((23400u16, 23599u16));
    let span = high - low + 1;
    let start = ((std::process::id() % u32::from(span)) as u16 + 100) % span;
    (0..span)
        .map(|i| low + (start + i) % span)
        .find(|&p| p != skip && TcpListener::bind(("127.0.0.1", p)).is_ok())
        .unwrap_or_else(|| panic!("no free port in {low}-{high}"))
}

fn smbclient(smb_port: u16, cmds: &str) -> Output {
    let path = PathBuf::from("/usr/bin/smbclient");
    assert!(
        path.exists(),
        "smbclient not found: install Debian's smbclient (ci/setup.sh does)"
    );
    Command::new(path)
        .arg("//127.0.0.1/export")
        .arg("-p")
        .arg(smb_port.to_string())
        .arg("-U")
        .arg(format!("alice%{PASSWORD}"))
        .args(["-m", "SMB3_11", "--option=client min protocol=SMB3_11"])
        .args(["-c", cmds])
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn gateway(dir: &Path, url: &str) -> Daemon {
    let mut d = Daemon::prepare_smb(
        env!("CARGO_BIN_EXE_dittofs"),
        dir,
        &["name: /export"],
        "",
        "",
    );
    d.port = port(0);
    d.smb_port = Some(port(d.port));
    std::fs::write(
        &d.config,
        format!(
            "logging: {{ level: debug }}\n\
             server: {{ state_dir: {dir}/state }}\n\
             metadata: {{ stores: {{ default: {{ type: postgres, postgres: {{ url: '{url}', max_connections: 4, statement_timeout: 300ms, retry_deadline: 300ms }} }} }} }}\n\
             content: {{ stores: {{ default: {{ type: filesystem, filesystem: {{ path: {dir}/content }} }} }} }}\n\
             shares:\n  - {{ name: /export, metadata_store: default, content_store: default, allowed_clients: [], default_permission: read-write }}\n\
             adapters: {{ nfs: {{ port: {port}, portmapper: {{ enabled: false }} }}, smb: {{ enabled: true, port: {smb} }} }}\n",
            dir = dir.display(),
            port = d.port,
            smb = d.smb_port.unwrap(),
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &d.config,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    d.add_user("alice", 1001, 1001, PASSWORD);
    d
}

/// Goal and method: see the module documentation.
#[test]
fn create_under_a_held_lock_waits_and_succeeds() {
    let server = PgServer::start();
    let url = server.database();
    let tmp = tempfile::tempdir().unwrap();
    let mut d = gateway(tmp.path(), &url);
    d.spawn();
    let local = tmp.path().join("local.txt");
    std::fs::write(&local, b"contended\n").unwrap();
    // The share exists and works before the lock.
    let smb_port = d.smb_port.unwrap();
    let o = smbclient(smb_port, &format!("put {} before.txt", local.display()));
    assert!(o.status.success(), "{}", text(&o));

    // A session of the test's own locks the root directory's row.
    let mut psql = server
        .psql(&url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut to_psql = psql.stdin.take().unwrap();
    let mut from_psql = BufReader::new(psql.stdout.take().unwrap());
    to_psql
        .write_all(
            b"BEGIN;\n\
              SELECT ino FROM nodes WHERE ino = (SELECT root FROM shares WHERE name = '/export') FOR UPDATE;\n\
              \\echo locked\n",
        )
        .unwrap();
    to_psql.flush().unwrap();
    let mut line = String::new();
    while !line.trim().ends_with("locked") {
        line.clear();
        assert!(
            from_psql.read_line(&mut line).unwrap() > 0,
            "psql ended before taking the lock"
        );
    }

    let started = Instant::now();
    let client = {
        let cmds = format!("put {} during.txt", local.display());
        let smb_port = d.smb_port.unwrap();
        std::thread::spawn(move || (smbclient(smb_port, &cmds), started.elapsed()))
    };
    std::thread::sleep(HELD);
    to_psql.write_all(b"COMMIT;\n").unwrap();
    drop(to_psql);
    let (o, took) = client.join().unwrap();
    assert!(psql.wait().unwrap().success(), "psql failed");
    assert!(
        o.status.success(),
        "the CREATE failed under contention: {}\nlog:\n{}",
        text(&o),
        d.stderr_tail()
    );
    assert!(
        took >= HELD,
        "the put finished after {took:?}, before the lock was released: it never met the lock"
    );
    let log = d.log();
    assert!(
        log.contains("store busy; retrying asynchronously"),
        "no busy retry in the log:\n{}",
        d.stderr_tail()
    );
    let o = smbclient(smb_port, "ls");
    assert!(
        o.status.success() && String::from_utf8_lossy(&o.stdout).contains("during.txt"),
        "{}",
        text(&o)
    );
    assert!(d.alive(), "the gateway died");
    assert_eq!(d.terminate(), Some(0));
}
