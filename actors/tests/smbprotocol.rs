//! End-to-end: Python's smbprotocol 1.17.0 (an SMB2/3 client nobody here wrote) against the
//! real `dittofs` binary serving SMB on RocksDB + filesystem content, through
//! `tests/smb/smbprotocol_client.py`: for SMB 2.0.2 and 2.1 (signed), 3.0 and 3.0.2
//! (encrypted, AES-128-CCM) and 3.1.1 with each cipher the client offers alone (AES-128-CCM,
//! AES-128-GCM, AES-256-CCM, AES-256-GCM, encryption required): create, write 1 MiB, read
//! back and compare, list the directory, delete on close. And CHANGE_NOTIFY through
//! `tests/smb/smbprotocol_notify.py` (two connections, cancel, close); extended attributes
//! (EAs) set, listed, read, replaced and removed with smbprotocol's `smbclient.*xattr` through
//! `tests/smb/smbprotocol_eas.py`; named streams written, read, listed, renamed, refused past
//! 64 KiB and deleted through `tests/smb/smbprotocol_streams.py`; a compound whose CREATE
//! waits for an oplock break through `tests/smb/smbprotocol_compound_break.py`; byte-range
//! locks across two connections (conflicts, I/O refused under another open's lock, a blocking
//! lock granted on unlock, cancel, release on close) through `tests/smb/smbprotocol_locks.py`;
//! durable handles (v1 and v2 kept across a killed TCP connection with their data, lock and
//! oplock or lease, reconnected; the scavenger; a conflicting open closing a disconnected one)
//! through `tests/smb/smbprotocol_durable.py`, and across a restart of dittofs (SIGTERM, and
//! `kill -9` after FLUSH) through `tests/smb/smbprotocol_durable_restart.py`.
//!
//! A missing python3 or smbprotocol is a failure with the install hint, never a skip.

use std::process::Command;

use testkit::Daemon;
use testkit::vm::repo;

const PASSWORD: &str = "smbprotocol-pw";

/// The server the scripts talk to: dittofs started in `dir` with user alice, or the one
/// SMBPROTOCOL_SERVER="PORT SHARE USER PASSWORD" names (Samba from ci/samba.sh, which is how
/// these harnesses are checked). Returns the daemon (kept alive by the caller) and the
/// script's arguments.
fn server(dir: &std::path::Path) -> (Option<Daemon>, Vec<String>) {
    if let Ok(s) = std::env::var("SMBPROTOCOL_SERVER") {
        let t: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
        assert_eq!(
            t.len(),
            4,
            "SMBPROTOCOL_SERVER is \"PORT SHARE USER PASSWORD\""
        );
        return (None, t);
    }
    let mut d = Daemon::prepare_smb(
        env!("CARGO_BIN_EXE_dittofs"),
        dir,
        &["name: /export"],
        "",
        "",
    );
    d.add_user("alice", 1001, 1001, PASSWORD);
    d.spawn();
    let port = d
        .smb_port
        .expect("prepare_smb gives an SMB port")
        .to_string();
    (
        Some(d),
        vec![port, "export".into(), "alice".into(), PASSWORD.into()],
    )
}

/// Runs `tests/smb/SCRIPT` against the server and fails with its output unless it passed.
fn run_script(script: &str) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let (d, target) = server(dir.path());
    run(script, &target, &[], &d.iter().collect::<Vec<_>>());
}

/// Runs `tests/smb/SCRIPT` with arguments `target` and environment `env`, and fails with its
/// output and the log tails of `daemons` unless it passed.
fn run(script: &str, target: &[String], env: &[(&str, String)], daemons: &[&Daemon]) {
    let out = Command::new("python3")
        .arg(repo().join("tests/smb").join(script))
        .args(target)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("running python3: {e} (install python3, then ci/setup.sh)"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "tests/smb/{script} exited {:?} (2: smbprotocol missing, ci/setup.sh installs it):\n\
         {text}\ndittofs log tail:\n{}",
        out.status.code(),
        if daemons.is_empty() {
            "(not dittofs)".to_owned()
        } else {
            daemons
                .iter()
                .map(|d| d.stderr_tail())
                .collect::<Vec<_>>()
                .join("\n---\n")
        }
    );
}

/// Goal: every dialect and every 3.1.1 cipher moves 1 MiB through dittofs intact.
#[test]
fn smbprotocol_every_dialect_and_cipher() {
    run_script("smbprotocol_client.py");
}

/// Goal: CHANGE_NOTIFY works as a client sees it (tests/smb/smbprotocol_notify.py): the
/// request goes asynchronous and the connection keeps serving, a change made on another
/// connection answers it, changes made while no request waits are buffered, CANCEL answers
/// STATUS_CANCELLED and closing the directory STATUS_NOTIFY_CLEANUP; signed (2.1) and
/// encrypted (3.1.1).
#[test]
fn smbprotocol_change_notify() {
    run_script("smbprotocol_notify.py");
}

/// Goal: EAs set through smbprotocol's `smbclient.setxattr` (SET_INFO FileFullEaInformation)
/// list, read back, replace (also through another case of the name) and go away as on
/// Windows and Samba. Method: `tests/smb/smbprotocol_eas.py` against dittofs.
#[test]
fn smbprotocol_extended_attributes() {
    run_script("smbprotocol_eas.py");
}

/// Goal: named streams (`file:stream`) work as a client sees them: written, read back through
/// another case of the name, listed with their sizes (FileStreamInformation), renamed, made on
/// a file that did not exist, on a directory, refused past 64 KiB with STATUS_DISK_FULL,
/// deleted alone, and gone with their file. Method: `tests/smb/smbprotocol_streams.py` against
/// dittofs.
#[test]
fn smbprotocol_named_streams() {
    run_script("smbprotocol_streams.py");
}

/// Goal: a compound whose CREATE waits for an oplock break held on the same connection
/// (smbtorture compound.compound-break's case) answers the CREATE STATUS_PENDING, keeps the
/// connection serving (the break notification goes out, an ECHO and the acknowledgement are
/// answered), then runs the related QUERY_INFO and CLOSE on the CREATE's FileId; a CANCEL of
/// the waiting CREATE cancels the rest of its compound. Signed (2.1) and encrypted (3.1.1),
/// through `tests/smb/smbprotocol_compound_break.py`.
#[test]
fn smbprotocol_compound_waits_for_oplock_break() {
    run_script("smbprotocol_compound_break.py");
}

/// Goal: byte-range locks hold across connections as a client sees them
/// (tests/smb/smbprotocol_locks.py): a conflicting lock is LOCK_NOT_GRANTED, reads and writes
/// under another open's exclusive lock are FILE_LOCK_CONFLICT, a blocking lock goes
/// asynchronous and is granted when the holder unlocks, a cancelled one leaves nothing held,
/// and closing the file releases its locks; signed (2.1) and encrypted (3.1.1).
#[test]
fn smbprotocol_byte_range_locks() {
    run_script("smbprotocol_locks.py");
}

/// Goal: durable handles survive a lost connection as a client sees them
/// (tests/smb/smbprotocol_durable.py). Method: an open with DHnQ and a batch oplock (2.1) or
/// DH2Q and an RWH lease (3.1.1, encrypted) writes and locks [0, 10), its TCP connection is
/// closed without LOGOFF; the lock stays held (another connection's lock there is refused),
/// and a new connection reconnects it with DHnC / DH2C, reads the data and finds the lock its
/// own; a DH2C with the wrong CreateGuid is refused. A delete-on-close durable open with a 1 s
/// timeout is closed by the scavenger (reconnect refused, file gone), and a disconnected open
/// whose batch oplock another client's open needs broken is closed at once, not after the 35 s
/// break timeout.
#[test]
fn smbprotocol_durable_handles() {
    run_script("smbprotocol_durable.py");
}

/// Goal: durable handles survive a restart of the server on RocksDB as a client sees them
/// (tests/smb/smbprotocol_durable_restart.py), after a graceful stop (SIGTERM) and after
/// `kill -9` following a FLUSH: the DH2C (or DHnC) of a new connection reconnects the handle,
/// which reads what was written before and writes on; another user's reconnect and one with
/// another CreateGuid are refused; a handle whose timeout passes after the restart is closed
/// (its delete-on-close carried out); a restored handle's byte-range locks refuse another
/// client's conflicting locks until it is reconnected and then belong to it; a restored
/// handle whose oplock another client's open needs broken is closed at once. Method: the script asks for each restart on stdout
/// (`RESTART TERM` / `RESTART KILL`); this test restarts the real daemon and answers `go`.
#[test]
fn smbprotocol_durable_handles_survive_restart() {
    use std::io::{BufRead as _, BufReader, Write as _};
    use std::process::Stdio;

    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut d = Daemon::prepare_smb(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &["name: /export"],
        "",
        "",
    );
    d.add_user("alice", 1001, 1001, PASSWORD);
    d.add_user("bob", 1002, 1002, PASSWORD);
    d.spawn();
    let port = d
        .smb_port
        .expect("prepare_smb gives an SMB port")
        .to_string();
    let mut child = Command::new("python3")
        .arg(repo().join("tests/smb/smbprotocol_durable_restart.py"))
        .args([&port, "export", "alice", PASSWORD, "bob", PASSWORD])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running python3: {e} (install python3, then ci/setup.sh)"));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
    let mut text = String::new();
    let mut restarts = Vec::new();
    for line in stdout.lines() {
        let line = line.expect("reading the script's output");
        text.push_str(&line);
        text.push('\n');
        let how = match line.trim() {
            "RESTART TERM" => "TERM",
            "RESTART KILL" => "KILL",
            _ => continue,
        };
        if how == "TERM" {
            assert_eq!(
                d.terminate(),
                Some(0),
                "dittofs did not stop cleanly on SIGTERM:\n{}",
                d.stderr_tail()
            );
        } else {
            d.kill9();
        }
        d.spawn();
        restarts.push(how);
        writeln!(stdin, "go").expect("answering the script");
        stdin.flush().expect("answering the script");
    }
    let out = child.wait_with_output().expect("waiting for python3");
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    println!("{text}");
    assert!(
        out.status.success(),
        "tests/smb/smbprotocol_durable_restart.py exited {:?} (2: smbprotocol missing, \
         ci/setup.sh installs it):\n{text}\ndittofs log tail:\n{}",
        out.status.code(),
        d.stderr_tail()
    );
    assert_eq!(
        restarts,
        ["TERM", "KILL"],
        "the script asked for both restarts"
    );
}

/// Goal: SMB byte-range locks hold across two gateways on one PostgreSQL as a client sees
/// them: tests/smb/smbprotocol_locks.py with connection B on the other gateway
/// (`SMB_PORT_B`): a conflicting lock through B is LOCK_NOT_GRANTED, reads and writes under
/// the other gateway's lock are refused (once its lock news arrived), a blocking lock through
/// B goes asynchronous and is granted when A unlocks, cancel and close work as on one
/// gateway.
#[test]
fn smbprotocol_byte_range_locks_across_gateways() {
    use testkit::gateway::{Content, gateway_smb};

    let pg = testkit::postgres::PgServer::start();
    let url = pg.database();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let content = Content::Dir(dir.path().join("content"));
    let start = |name: &str| {
        let mut d = gateway_smb(
            env!("CARGO_BIN_EXE_dittofs"),
            &dir.path().join(name),
            &url,
            &content,
        );
        d.add_user("alice", 1001, 1001, PASSWORD);
        d.spawn();
        d
    };
    let (a, b) = (start("a"), start("b"));
    let port = |d: &Daemon| d.smb_port.expect("gateway_smb serves SMB").to_string();
    let target = vec![port(&a), "export".into(), "alice".into(), PASSWORD.into()];
    run(
        "smbprotocol_locks.py",
        &target,
        &[("SMB_PORT_B", port(&b))],
        &[&a, &b],
    );
}
