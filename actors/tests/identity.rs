//! End-to-end: users, groups, guest and share permissions against the real `dittofs` binary on
//! RocksDB + filesystem content. The configuration is edited with the real CLI (`dittofs user
//! …`, `dittofs group …`); callers are Debian's libnfs command-line clients with AUTH_SYS
//! `uid=`/`gid=` in the URL, and the `nfs3_client` crate for AUTH_NONE, which libnfs cannot
//! send. Neither client was written here.
//!
//! Missing tools are a failure with the install hint, never a skip.

#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "a test against the real binary waits for the server's real one-second reload"
)]

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use nfs3_client::nfs3_types::mount::{dirpath, mountstat3};
use nfs3_client::nfs3_types::nfs3::{
    CREATE3args, GETATTR3args, Nfs3Option, Nfs3Result, createhow3, diropargs3, filename3, nfs_fh3,
    nfsstat3, sattr3,
};
use nfs3_client::nfs3_types::rpc::{auth_unix, opaque_auth};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::tokio::TokioIo;
use nfs3_client::{MountClient, MountError, Nfs3Client};
use testkit::Daemon;
use tokio::net::TcpStream;

const PASSWORD: &str = "correct horse battery staple\n";

/// The client-side group every AUTH_SYS caller of the permission test sends.
const STAFF: u32 = 100;

fn tool(name: &str) -> Command {
    let path = Path::new("/usr/bin").join(name);
    assert!(
        path.exists(),
        "{name} not found: install Debian's libnfs-utils (ci/setup.sh does)"
    );
    Command::new(path)
}

fn output(mut c: Command) -> Output {
    c.output().unwrap()
}

/// `nfs-ls` of the share root as `uid`/`gid`.
fn ls(d: &Daemon, share: &str, uid: u32, gid: u32) -> Output {
    let mut c = tool("nfs-ls");
    c.arg(d.url_as(share, "", uid, gid));
    output(c)
}

/// `nfs-cat` of `path` as `uid`/`gid`.
fn cat(d: &Daemon, path: &str, uid: u32, gid: u32) -> Output {
    let mut c = tool("nfs-cat");
    c.arg(d.url_as("/export", path, uid, gid));
    output(c)
}

/// `nfs-cp` of the local file `src` to `path` in `/export` as `uid`/`gid`.
fn cp(d: &Daemon, src: &Path, path: &str, uid: u32, gid: u32) -> Output {
    let mut c = tool("nfs-cp");
    c.arg(src).arg(d.url_as("/export", path, uid, gid));
    output(c)
}

#[track_caller]
fn ok(out: &Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Asserts `out` failed and returns its stderr.
#[track_caller]
fn refused(out: &Output, what: &str) -> String {
    assert!(
        !out.status.success(),
        "{what} succeeded; stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Polls `check` every 100 ms until it holds, for at most 5 s (the server re-reads its
/// configuration every second); panics with `what` if it never does.
#[track_caller]
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if check() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("not within 5 s: {what}");
}

/// The configuration file is only its owner's, and no password or NT hash stored in it, nor
/// any bcrypt-looking string, appears anywhere in the daemon's output.
#[track_caller]
fn assert_secrets_kept(d: &Daemon) {
    let mode = std::fs::metadata(&d.config).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "config file mode {mode:o}");
    let config = std::fs::read_to_string(&d.config).unwrap();
    let log = d.log();
    for prefix in ["$2a$", "$2b$", "$2y$"] {
        assert!(!log.contains(prefix), "a bcrypt hash in the log:\n{log}");
    }
    let mut hashes = 0;
    for line in config.lines() {
        let line = line.trim();
        for key in ["password_hash:", "nt_hash:"] {
            if let Some(v) = line.strip_prefix(key) {
                let v = v.trim().trim_matches(|c| c == '"' || c == '\'');
                assert!(v.len() >= 32, "short {key} {v:?}");
                assert!(!log.contains(v), "{key} value in the log:\n{log}");
                hashes += 1;
            }
        }
    }
    assert!(hashes > 0, "no hashes in the config file:\n{config}");
}

/// Goal: share permissions from the config file decide what an AUTH_SYS caller may do: a user
/// granted `read` lists and reads but cannot write; `read-write` writes; the same through a
/// group's grant; a user granted `none` cannot mount (an access refusal, not a crash) while
/// everyone else still can; hashes never reach the log and the file stays 0600.
/// Method: users and groups created with the real CLI before the start; libnfs as each uid.
#[test]
fn share_permissions_by_user_and_group() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::prepare(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &["name: /export"],
        "",
    );
    d.cli(&["group", "add", "viewers", "--gid", "3001"], "");
    d.cli(&["group", "grant", "viewers", "/export", "read"], "");
    d.cli(&["group", "add", "editors", "--gid", "3002"], "");
    d.cli(&["group", "grant", "editors", "/export", "read-write"], "");
    for (name, uid) in [
        ("reader", "2001"),
        ("writer", "2002"),
        ("viewer", "2003"),
        ("editor", "2004"),
        ("blocked", "2005"),
    ] {
        d.cli(
            &["user", "add", name, "--uid", uid, "--password-stdin"],
            PASSWORD,
        );
    }
    d.cli(&["user", "grant", "reader", "/export", "read"], "");
    d.cli(&["user", "grant", "writer", "/export", "read-write"], "");
    d.cli(&["user", "join", "viewer", "viewers"], "");
    d.cli(&["user", "join", "editor", "editors"], "");
    d.cli(&["user", "grant", "blocked", "/export", "none"], "");
    assert_secrets_kept(&d);
    d.spawn();

    // Every caller's AUTH_SYS gid is one client-side group, so the POSIX group bits of the files
    // libnfs creates (0660) let the others read them: only the share permission differs.
    let src = dir.path().join("hello.txt");
    std::fs::write(&src, b"hello from writer\n").unwrap();
    ok(
        &cp(&d, &src, "/hello.txt", 2002, STAFF),
        "read-write user's copy",
    );

    for (who, uid, gid) in [("read", 2001, STAFF), ("group read", 2003, STAFF)] {
        let listing = ok(
            &ls(&d, "/export", uid, gid),
            &format!("{who} user's nfs-ls"),
        );
        assert!(listing.contains("hello.txt"), "{who} listing: {listing}");
        assert_eq!(
            ok(&cat(&d, "/hello.txt", uid, gid), &format!("{who} nfs-cat")),
            "hello from writer\n"
        );
        let err = refused(
            &cp(&d, &src, &format!("/by-{uid}.txt"), uid, gid),
            &format!("{who} user's nfs-cp"),
        );
        assert!(
            err.contains("ROFS") || err.contains("Read-only"),
            "{who} write refused for another reason: {err}"
        );
    }
    ok(
        &cp(&d, &src, "/by-editor.txt", 2004, STAFF),
        "group read-write user's copy",
    );
    let listing = ok(&ls(&d, "/export", 2002, STAFF), "nfs-ls");
    assert!(listing.contains("by-editor.txt"), "listing: {listing}");
    assert!(
        !listing.contains("by-2001") && !listing.contains("by-2003"),
        "a refused write left a file: {listing}"
    );

    let err = refused(&ls(&d, "/export", 2005, STAFF), "none user's mount");
    assert!(
        err.contains("ACCES"),
        "none user's mount failed for another reason: {err}"
    );
    assert!(d.alive(), "the daemon died on a refused mount");
    // An unknown uid gets the share's default (read-write), so others still mount.
    ok(&ls(&d, "/export", 4242, STAFF), "unknown uid's nfs-ls");
    ok(
        &ls(&d, "/export", 2002, STAFF),
        "writer's nfs-ls after a refusal",
    );
    assert_secrets_kept(&d);
    assert_eq!(d.terminate(), Some(0), "graceful shutdown must exit 0");
    assert_secrets_kept(&d);
}

/// Goal: `user add`, `grant`, `join`/`leave` and `revoke` apply to a running server without a
/// restart, within the one-second reload, both raising and lowering a permission; hashes never
/// reach the log and the file stays 0600.
/// Method: a share whose default is `none`; each CLI edit is followed by polling libnfs for the
/// new behaviour for at most 5 s.
#[test]
fn cli_edits_apply_to_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::prepare(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &["name: /export, default_permission: none"],
        "",
    );
    d.cli(&["group", "add", "viewers", "--gid", "3001"], "");
    d.cli(&["group", "grant", "viewers", "/export", "read"], "");
    d.spawn();
    let src = dir.path().join("late.txt");
    std::fs::write(&src, b"late\n").unwrap();
    let (uid, gid) = (2100, 2100);

    let err = refused(&ls(&d, "/export", uid, gid), "unknown uid on a none share");
    assert!(err.contains("ACCES"), "refused for another reason: {err}");

    d.cli(
        &[
            "user",
            "add",
            "late",
            "--uid",
            "2100",
            "--gid",
            "2100",
            "--groups",
            "viewers",
            "--password-stdin",
        ],
        PASSWORD,
    );
    eventually("user add (member of viewers) lets the uid list", || {
        ls(&d, "/export", uid, gid).status.success()
    });
    refused(&cp(&d, &src, "/late.txt", uid, gid), "read through viewers");

    d.cli(&["user", "grant", "late", "/export", "read-write"], "");
    eventually("grant read-write lets the uid write", || {
        cp(&d, &src, "/late.txt", uid, gid).status.success()
    });

    d.cli(&["user", "grant", "late", "/export", "read"], "");
    eventually("grant read (lowered) stops writes", || {
        !cp(&d, &src, "/late2.txt", uid, gid).status.success()
    });
    ok(&cat(&d, "/late.txt", uid, gid), "read after lowering");

    d.cli(&["user", "revoke", "late", "/export"], "");
    d.cli(&["user", "leave", "late", "viewers"], "");
    eventually("revoke and leave fall back to the share's none", || {
        !ls(&d, "/export", uid, gid).status.success()
    });
    let err = refused(&ls(&d, "/export", uid, gid), "after revoke");
    assert!(err.contains("ACCES"), "refused for another reason: {err}");
    assert!(d.alive(), "the daemon died");
    assert_secrets_kept(&d);
}

type Io = TokioIo<TcpStream>;

async fn tcp(port: u16) -> Io {
    TokioIo::new(TcpStream::connect(("127.0.0.1", port)).await.unwrap())
}

/// MNT of `share` with AUTH_NONE.
async fn mnt_none(port: u16, share: &str) -> Result<nfs_fh3, MountError> {
    let mut m = MountClient::new_with_auth(
        tcp(port).await,
        opaque_auth::default(),
        opaque_auth::default(),
    );
    let ok = m.mnt(dirpath(Opaque::borrowed(share.as_bytes()))).await?;
    Ok(nfs_fh3 {
        data: Opaque::owned(ok.fhandle.0.to_vec()),
    })
}

/// Goal: AUTH_NONE callers are the guest: refused (MNT and every call) while `guest.enabled`
/// is false, then, once it is switched on in the running server's file, served with the
/// share's `default_permission` (`read`: GETATTR works, CREATE is NFS3ERR_ROFS) on a share
/// with `allow_guest: true`, and still refused on a share without it.
/// Method: `nfs3_client` with an AUTH_NONE credential; the file is replaced atomically with
/// the guest switched on, and the client polls for at most 5 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guest_on_and_off() {
    let dir = tempfile::tempdir().unwrap();
    let shares = [
        "name: /export, allow_guest: true, default_permission: read",
        "name: /closed, allow_guest: false",
    ];
    let mut d = Daemon::prepare(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &shares,
        "guest: { enabled: false }\n",
    );
    d.spawn();
    let port = d.port;

    for share in ["/export", "/closed"] {
        match mnt_none(port, share).await {
            Err(MountError::Denied(mountstat3::MNT3ERR_ACCES)) => {}
            other => panic!("guest MNT of {share} while guests are off: {other:?}"),
        }
    }
    // A handle obtained by an AUTH_SYS caller is no way around it.
    let mut sys = tool("nfs-ls");
    sys.arg(d.url_as("/export", "", 0, 0));
    ok(&output(sys), "root's nfs-ls");
    let root = {
        let mut m = MountClient::new_with_auth(
            tcp(port).await,
            opaque_auth::auth_unix(&auth_unix {
                stamp: 1,
                machinename: Opaque::borrowed(b"identity-test"),
                uid: 0,
                gid: 0,
                gids: Vec::new(),
            }),
            opaque_auth::default(),
        );
        let ok = m.mnt(dirpath(Opaque::borrowed(b"/export"))).await.unwrap();
        nfs_fh3 {
            data: Opaque::owned(ok.fhandle.0.to_vec()),
        }
    };
    let mut guest = Nfs3Client::new_with_auth(
        tcp(port).await,
        opaque_auth::default(),
        opaque_auth::default(),
    );
    let getattr = GETATTR3args {
        object: root.clone(),
    };
    match guest.getattr(&getattr).await.unwrap() {
        Nfs3Result::Err((nfsstat3::NFS3ERR_ACCES, _)) => {}
        other => panic!("guest GETATTR while guests are off: {other:?}"),
    }

    let config = std::fs::read_to_string(&d.config).unwrap();
    let on = config.replace("guest: { enabled: false }", "guest: { enabled: true }");
    assert_ne!(on, config);
    let tmp = dir.path().join("config.yaml.new");
    std::fs::write(&tmp, on).unwrap();
    std::fs::rename(&tmp, &d.config).unwrap();

    let start = Instant::now();
    let handle = loop {
        match mnt_none(port, "/export").await {
            Ok(h) => break h,
            Err(MountError::Denied(mountstat3::MNT3ERR_ACCES))
                if start.elapsed() < Duration::from_secs(5) =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("guest MNT after switching guests on: {other:?}"),
        }
    };
    assert_eq!(handle, root, "the guest mounts the same root");
    match guest.getattr(&getattr).await.unwrap() {
        Nfs3Result::Ok(_) => {}
        other => panic!("guest GETATTR with guests on: {other:?}"),
    }
    let create = CREATE3args {
        where_: diropargs3 {
            dir: root.clone(),
            name: filename3(Opaque::borrowed(b"guest.txt")),
        },
        how: createhow3::UNCHECKED(sattr3 {
            mode: Nfs3Option::Some(0o644),
            ..sattr3::default()
        }),
    };
    match guest.create(&create).await.unwrap() {
        Nfs3Result::Err((nfsstat3::NFS3ERR_ROFS, _)) => {}
        other => panic!("guest CREATE on a read share: {other:?}"),
    }
    match mnt_none(port, "/closed").await {
        Err(MountError::Denied(mountstat3::MNT3ERR_ACCES)) => {}
        other => panic!("guest MNT of a share without allow_guest: {other:?}"),
    }
    assert!(d.alive(), "the daemon died");
    assert_eq!(d.terminate(), Some(0), "graceful shutdown must exit 0");
}
