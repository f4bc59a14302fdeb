//! End-to-end: Samba's `smbclient` (a client nobody here wrote) against the real `dittofs`
//! binary on RocksDB + filesystem content, for each dialect from SMB 2.0.2 to 3.1.1: ls, put,
//! get, mkdir, rename, rm and the share listing (`-L`), with signing required and with
//! encryption required; a wrong password and an unknown user are refused. A file written over
//! SMB is then read back over NFS (libnfs `nfs-cat`) with the same bytes and owner.
//!
//! Missing tools are a failure with the install hint, never a skip.

#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]

use std::path::Path;
use std::process::{Command, Output};

use testkit::Daemon;

const PASSWORD: &str = "s3cret-pass";

fn tool(name: &str, package: &str) -> Command {
    let path = Path::new("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{name} not found: install Debian's {package} (ci/setup.sh does)"
    );
    Command::new(path)
}

/// `smbclient //127.0.0.1/SHARE -p PORT -U USER%PASS -m PROTO [extra] -c CMDS`.
fn smbclient(
    d: &Daemon,
    share: &str,
    user: &str,
    password: &str,
    proto: &str,
    extra: &[&str],
    cmds: &str,
) -> Output {
    let mut c = tool("smbclient", "smbclient");
    c.arg(format!("//127.0.0.1/{share}"))
        .arg("-p")
        .arg(d.smb_port.unwrap().to_string())
        .arg("-U")
        .arg(format!("{user}%{password}"))
        .arg("-m")
        .arg(proto)
        .arg(format!("--option=client min protocol={proto}"))
        .args(extra)
        .arg("-c")
        .arg(cmds);
    c.output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn daemon(dir: &Path, smb_keys: &str) -> Daemon {
    let mut d = Daemon::prepare_smb(
        env!("CARGO_BIN_EXE_dittofs"),
        dir,
        &["name: /export"],
        smb_keys,
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
    d
}

/// The client's side of one session: put, ls, get, mkdir, rename, rm, rmdir, checked
/// against what the server then holds.
fn workload(d: &Daemon, dir: &Path, proto: &str, extra: &[&str]) {
    let local = dir.join(format!("in-{proto}"));
    let back = dir.join(format!("out-{proto}"));
    let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(&local, &data).unwrap();
    let cmds = format!(
        "mkdir d-{proto}; cd d-{proto}; put {l} f.bin; ls; get f.bin {b}; rename f.bin g.bin; ls; rm g.bin; cd ..; rmdir d-{proto}; ls",
        l = local.display(),
        b = back.display()
    );
    let o = smbclient(d, "export", "alice", PASSWORD, proto, extra, &cmds);
    let t = text(&o);
    assert!(o.status.success(), "{proto}: {t}\nlog:\n{}", d.log());
    assert!(t.contains("f.bin"), "{proto}: ls did not list f.bin: {t}");
    assert!(t.contains("g.bin"), "{proto}: ls did not list g.bin: {t}");
    assert!(
        !t.contains("NT_STATUS_"),
        "{proto}: an error was reported: {t}"
    );
    assert_eq!(
        std::fs::read(&back).unwrap(),
        data,
        "{proto}: get returned other bytes"
    );
}

/// Goal: every dialect serves the basic file workload; `-L` lists the share; the statuses
/// a client sees for a wrong password and an unknown user are LOGON_FAILURE.
#[test]
fn dialects_workload_listing_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon(dir.path(), "");
    for proto in ["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"] {
        workload(&d, dir.path(), proto, &[]);
    }
    let mut c = tool("smbclient", "smbclient");
    c.args(["-L", "127.0.0.1", "-p"])
        .arg(d.smb_port.unwrap().to_string())
        .arg("-U")
        .arg(format!("alice%{PASSWORD}"));
    let o = c.output().unwrap();
    let t = text(&o);
    assert!(o.status.success(), "-L: {t}");
    assert!(
        t.contains("export") && t.contains("Disk"),
        "-L did not list the share: {t}"
    );
    assert!(t.contains("IPC$"), "-L did not list IPC$: {t}");

    let o = smbclient(&d, "export", "alice", "wrong", "SMB3_11", &[], "ls");
    assert!(
        !o.status.success(),
        "a wrong password was accepted: {}",
        text(&o)
    );
    assert!(text(&o).contains("NT_STATUS_LOGON_FAILURE"), "{}", text(&o));
    let o = smbclient(&d, "export", "mallory", PASSWORD, "SMB3_11", &[], "ls");
    assert!(
        !o.status.success(),
        "an unknown user was accepted: {}",
        text(&o)
    );
    assert!(text(&o).contains("NT_STATUS_LOGON_FAILURE"), "{}", text(&o));
    let o = smbclient(&d, "nosuchshare", "alice", PASSWORD, "SMB3_11", &[], "ls");
    assert!(
        text(&o).contains("NT_STATUS_BAD_NETWORK_NAME"),
        "{}",
        text(&o)
    );
}

/// Goal: with `signing_required: true` every dialect works with signed traffic (smbclient
/// itself insists on signing), and a client that refuses to sign is refused.
#[test]
fn signing_required() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon(dir.path(), "signing_required: true");
    for proto in ["SMB2_02", "SMB2_10", "SMB3_00", "SMB3_02", "SMB3_11"] {
        workload(&d, dir.path(), proto, &["--client-protection=sign"]);
    }
}

/// Goal: with `encryption: required` the SMB 3.x dialects work encrypted, and 2.x clients
/// (which cannot encrypt) are refused.
#[test]
fn encryption_required() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon(dir.path(), "encryption: required");
    for proto in ["SMB3_00", "SMB3_02", "SMB3_11"] {
        workload(&d, dir.path(), proto, &["--client-protection=encrypt"]);
    }
    let o = smbclient(&d, "export", "alice", PASSWORD, "SMB2_10", &[], "ls");
    assert!(
        !o.status.success(),
        "an SMB 2.1 client got in: {}",
        text(&o)
    );
}

/// Goal: a file written over SMB reads back over NFS with the same bytes, size and owner
/// (the SMB session acts as the user's uid and gid).
#[test]
fn smb_write_nfs_read() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon(dir.path(), "");
    let local = dir.path().join("cross");
    let data = b"written over SMB, read over NFS\n".repeat(1000);
    std::fs::write(&local, &data).unwrap();
    let o = smbclient(
        &d,
        "export",
        "alice",
        PASSWORD,
        "SMB3_11",
        &[],
        &format!("put {} cross.txt", local.display()),
    );
    assert!(o.status.success(), "{}", text(&o));
    let mut c = tool("nfs-cat", "libnfs-utils");
    let o = c.arg(d.url("/cross.txt")).output().unwrap();
    assert!(o.status.success(), "nfs-cat: {}", text(&o));
    assert_eq!(o.stdout, data, "NFS read other bytes than SMB wrote");
    let mut c = tool("nfs-ls", "libnfs-utils");
    let o = c.arg(d.url("")).output().unwrap();
    let t = text(&o);
    let line = t
        .lines()
        .find(|l| l.contains("cross.txt"))
        .unwrap_or_else(|| panic!("nfs-ls does not list cross.txt: {t}"));
    assert!(
        line.contains(" 1001 ") || line.contains("1001"),
        "owner is not alice (1001): {line}"
    );
}
