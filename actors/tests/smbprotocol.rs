//! End-to-end: Python's smbprotocol 1.17.0 (an SMB2/3 client nobody here wrote) against the
//! real `dittofs` binary serving SMB on RocksDB + filesystem content, through
//! `tests/smb/smbprotocol_client.py`: for SMB 2.0.2 and 2.1 (signed), 3.0 and 3.0.2
//! (encrypted, AES-128-CCM) and 3.1.1 with each cipher the client offers alone (AES-128-CCM,
//! AES-128-GCM, AES-256-CCM, AES-256-GCM, encryption required): create, write 1 MiB, read
//! back and compare, list the directory, delete on close; and through
//! `tests/smb/smbprotocol_eas.py`, extended attributes (EAs) set, listed, read, replaced and
//! removed with smbprotocol's `smbclient.*xattr`.
//!
//! A missing python3 or smbprotocol is a failure with the install hint, never a skip.

use std::process::Command;

use testkit::Daemon;
use testkit::vm::repo;

const PASSWORD: &str = "smbprotocol-pw";

/// dittofs serving share `export` to alice, or the server `SMBPROTOCOL_SERVER="PORT SHARE USER
/// PASSWORD"` names (Samba from ci/samba.sh: how this harness is checked): the daemon, if
/// started, and the script's arguments.
fn target(dir: &std::path::Path) -> (Option<Daemon>, Vec<String>) {
    match std::env::var("SMBPROTOCOL_SERVER") {
        Ok(s) => {
            let t: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
            assert_eq!(
                t.len(),
                4,
                "SMBPROTOCOL_SERVER is \"PORT SHARE USER PASSWORD\""
            );
            (None, t)
        }
        Err(_) => {
            let mut d = Daemon::prepare_smb(
                env!("CARGO_BIN_EXE_dittofs"),
                dir,
                &["name: /export"],
                "",
                "",
            );
            d.cli(
                &[
                    "user",
                    "add",
                    "alice",
                    "--uid",
                    "1001",
                    "--gid",
                    "1001",
                    "--password-stdin",
                ],
                &format!("{PASSWORD}\n"),
            );
            d.spawn();
            let port = d
                .smb_port
                .expect("prepare_smb gives the daemon an SMB port")
                .to_string();
            (
                Some(d),
                vec![port, "export".into(), "alice".into(), PASSWORD.into()],
            )
        }
    }
}

/// Runs `tests/smb/SCRIPT` against `target`; fails with its output and the daemon's log
/// unless it exits 0.
fn run_script(script: &str, d: Option<&Daemon>, target: &[String]) {
    let out = Command::new("python3")
        .arg(repo().join("tests/smb").join(script))
        .args(target)
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
        d.map_or_else(|| "(not dittofs)".to_owned(), Daemon::stderr_tail)
    );
}

/// Goal: every dialect and every 3.1.1 cipher moves 1 MiB through dittofs intact.
#[test]
fn smbprotocol_every_dialect_and_cipher() {
    let dir = tempfile::tempdir().unwrap();
    let (d, target) = target(dir.path());
    run_script("smbprotocol_client.py", d.as_ref(), &target);
}

/// Goal: EAs set through smbprotocol's `smbclient.setxattr` (SET_INFO FileFullEaInformation)
/// list, read back, replace (also through another case of the name) and go away as on
/// Windows. Method: `tests/smb/smbprotocol_eas.py` against dittofs.
#[test]
fn smbprotocol_extended_attributes() {
    let dir = tempfile::tempdir().unwrap();
    let (d, target) = target(dir.path());
    run_script("smbprotocol_eas.py", d.as_ref(), &target);
}
