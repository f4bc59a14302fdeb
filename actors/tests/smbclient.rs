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
    d.add_user("alice", 1001, 1001, PASSWORD);
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

/// `nfs-ls` of the share root as `uid`/`gid`: (name, uid, gid, size) per entry.
fn nfs_ls(d: &Daemon, uid: u32, gid: u32) -> Vec<(String, String, String, String)> {
    let mut c = tool("nfs-ls", "libnfs-utils");
    let o = c.arg(d.url_as("/export", "", uid, gid)).output().unwrap();
    assert!(o.status.success(), "nfs-ls: {}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 6).then(|| {
                (
                    f[5].to_owned(),
                    f[2].to_owned(),
                    f[3].to_owned(),
                    f[4].to_owned(),
                )
            })
        })
        .collect()
}

/// Goal: each protocol sees the other's changes at once: a file NFS writes reads back over
/// SMB with the same bytes; an SMB rename and delete are what NFS lists next; a file NFS
/// renames opens over SMB under its new name only.
#[test]
fn nfs_and_smb_see_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon(dir.path(), "");
    let data = b"written over NFS, read over SMB\n".repeat(3000);
    let local = dir.path().join("nfs-in");
    std::fs::write(&local, &data).unwrap();
    let mut c = tool("nfs-cp", "libnfs-utils");
    let o = c
        .arg(&local)
        .arg(d.url_as("/export", "/from-nfs.bin", 1001, 1001))
        .output()
        .unwrap();
    assert!(o.status.success(), "nfs-cp: {}", text(&o));
    let back = dir.path().join("smb-out");
    let o = smbclient(
        &d,
        "export",
        "alice",
        PASSWORD,
        "SMB3_11",
        &[],
        &format!("get from-nfs.bin {}", back.display()),
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        std::fs::read(&back).unwrap(),
        data,
        "SMB read other bytes than NFS wrote"
    );

    // SMB renames, NFS lists the new name; SMB deletes, NFS no longer lists it. Case is kept
    // as SMB wrote it, and SMB finds the file under any case.
    let o = smbclient(
        &d,
        "export",
        "alice",
        PASSWORD,
        "SMB3_11",
        &[],
        "rename FROM-NFS.BIN Renamed.Bin",
    );
    assert!(o.status.success(), "{}", text(&o));
    let names: Vec<String> = nfs_ls(&d, 1001, 1001).into_iter().map(|e| e.0).collect();
    assert!(names.contains(&"Renamed.Bin".to_owned()), "{names:?}");
    assert!(!names.contains(&"from-nfs.bin".to_owned()), "{names:?}");
    let o = smbclient(
        &d,
        "export",
        "alice",
        PASSWORD,
        "SMB3_11",
        &[],
        "rm renamed.bin",
    );
    assert!(o.status.success(), "{}", text(&o));
    let names: Vec<String> = nfs_ls(&d, 1001, 1001).into_iter().map(|e| e.0).collect();
    assert!(
        !names.iter().any(|n| n.eq_ignore_ascii_case("renamed.bin")),
        "{names:?}"
    );
}

/// Goal: a share permission from identity is enforced the same way over both protocols: a
/// user granted `read` lists and reads over SMB and NFS but can change nothing over either;
/// a user granted `none` cannot connect over SMB nor list over NFS.
#[test]
fn permissions_match_across_protocols() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::prepare_smb(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &["name: /export, root: { mode: \"1777\" }"],
        "",
        "",
    );
    for (name, uid) in [("alice", "1001"), ("reader", "1002"), ("nobody2", "1003")] {
        d.cli(
            &[
                "user",
                "add",
                name,
                "--uid",
                uid,
                "--gid",
                uid,
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        );
    }
    d.cli(&["user", "grant", "reader", "/export", "read"], "");
    d.cli(&["user", "grant", "nobody2", "/export", "none"], "");
    d.spawn();
    let local = dir.path().join("f");
    std::fs::write(&local, b"hello").unwrap();
    let o = smbclient(
        &d,
        "export",
        "alice",
        PASSWORD,
        "SMB3_11",
        &[],
        &format!("put {} shared.txt", local.display()),
    );
    assert!(o.status.success(), "{}", text(&o));

    // reader: reads over both, writes over neither.
    let back = dir.path().join("r");
    let o = smbclient(
        &d,
        "export",
        "reader",
        PASSWORD,
        "SMB3_11",
        &[],
        &format!("get shared.txt {}", back.display()),
    );
    assert!(o.status.success(), "reader get: {}", text(&o));
    assert_eq!(std::fs::read(&back).unwrap(), b"hello");
    let o = smbclient(
        &d,
        "export",
        "reader",
        PASSWORD,
        "SMB3_11",
        &[],
        &format!("put {} reader.txt", local.display()),
    );
    let t = text(&o);
    assert!(
        t.contains("NT_STATUS_ACCESS_DENIED") || t.contains("NT_STATUS_MEDIA_WRITE_PROTECTED"),
        "reader wrote over SMB: {t}"
    );
    let mut c = tool("nfs-cat", "libnfs-utils");
    let o = c
        .arg(d.url_as("/export", "/shared.txt", 1002, 1002))
        .output()
        .unwrap();
    assert_eq!(o.stdout, b"hello", "reader over NFS: {}", text(&o));
    let mut c = tool("nfs-cp", "libnfs-utils");
    let o = c
        .arg(&local)
        .arg(d.url_as("/export", "/reader-nfs.txt", 1002, 1002))
        .output()
        .unwrap();
    assert!(!o.status.success(), "reader wrote over NFS: {}", text(&o));
    let names: Vec<String> = nfs_ls(&d, 1001, 1001).into_iter().map(|e| e.0).collect();
    assert!(
        !names.iter().any(|n| n.starts_with("reader")),
        "a read-only user created files: {names:?}"
    );

    // nobody2 (none): refused by both.
    let o = smbclient(&d, "export", "nobody2", PASSWORD, "SMB3_11", &[], "ls");
    assert!(
        text(&o).contains("NT_STATUS_ACCESS_DENIED"),
        "a user with no permission connected over SMB: {}",
        text(&o)
    );
    let mut c = tool("nfs-ls", "libnfs-utils");
    let o = c.arg(d.url_as("/export", "", 1003, 1003)).output().unwrap();
    assert!(
        !o.status.success(),
        "a user with no permission listed over NFS: {}",
        text(&o)
    );
}

/// `nfs-ls` of the share root as alice: (mode string, name) per entry.
fn nfs_modes(d: &Daemon) -> Vec<(String, String)> {
    let mut c = tool("nfs-ls", "libnfs-utils");
    let o = c.arg(d.url_as("/export", "", 1001, 1001)).output().unwrap();
    assert!(o.status.success(), "nfs-ls: {}", text(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 6).then(|| (f[0].to_owned(), f[5].to_owned()))
        })
        .collect()
}

/// Goal: DOS attributes round-trip and READONLY is the mode NFS sees: smbclient's `setmode`
/// (SET_INFO FileBasicInformation) sets READONLY, HIDDEN and SYSTEM and clears ARCHIVE, and
/// `allinfo` (QUERY_INFO) reads back exactly those; NFS lists the file without write bits
/// while READONLY is set and with the owner's write bit after it is cleared; a dot file shows
/// HIDDEN without anything stored; the directory listing shows what `allinfo` shows. Method:
/// smbclient and nfs-ls against one daemon.
#[test]
fn dos_attributes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = daemon(dir.path(), "");
    let local = dir.path().join("attrs");
    std::fs::write(&local, b"attributes\n").unwrap();
    let run = |cmds: &str| {
        let o = smbclient(&d, "export", "alice", PASSWORD, "SMB3_11", &[], cmds);
        let t = text(&o);
        assert!(
            o.status.success() && !t.contains("NT_STATUS_"),
            "{cmds}: {t}"
        );
        t
    };
    let attrs_of = |t: &str| -> Vec<String> {
        t.lines()
            .filter_map(|l| l.trim().strip_prefix("attributes: "))
            .map(str::to_owned)
            .collect()
    };
    let t = run(&format!(
        "put {l} f.txt; put {l} .dot; allinfo f.txt; allinfo .dot",
        l = local.display()
    ));
    assert_eq!(attrs_of(&t), ["A (20)", "HA (22)"], "{t}");
    let t = run("setmode f.txt +hsr; setmode f.txt -a; allinfo f.txt");
    assert_eq!(attrs_of(&t), ["RHS (7)"], "{t}");
    // The directory listing (QUERY_DIRECTORY) shows the same stored attributes.
    let t = run("ls");
    let listed = |name: &str| -> std::collections::BTreeSet<char> {
        t.lines()
            .map(str::split_whitespace)
            .find_map(|mut w| (w.next() == Some(name)).then(|| w.next().unwrap_or_default()))
            .unwrap_or_else(|| panic!("ls does not list {name}: {t}"))
            .chars()
            .collect()
    };
    assert_eq!(listed("f.txt"), "RHS".chars().collect(), "{t}");
    assert_eq!(listed(".dot"), "HA".chars().collect(), "{t}");
    let mode = |name: &str| {
        nfs_modes(&d)
            .into_iter()
            .find(|(_, n)| n == name)
            .unwrap_or_else(|| panic!("nfs-ls does not list {name}"))
            .0
    };
    assert_eq!(mode("f.txt"), "-r--r--r--", "READONLY is no write bit");
    let t = run("setmode f.txt -rh; allinfo f.txt");
    assert_eq!(attrs_of(&t), ["S (4)"], "{t}");
    assert_eq!(
        mode("f.txt"),
        "-rw-r--r--",
        "clearing READONLY gives the owner write"
    );
}
