//! End-to-end: Windows ACLs set over SMB are stored beside the mode (docs/SMB.md, "Security
//! descriptors"), against the real `dittofs` binary on RocksDB + filesystem content. The SMB
//! side is `tests/smb/acl_client.py` on Python's smbprotocol (a client nobody here wrote); the
//! NFS side of the rule that a chmod from elsewhere wins is the `nfs3_client` crate.
//!
//! A missing python3 or smbprotocol is a failure with the install hint, never a skip.

#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]

use std::process::Command;

use nfs3_client::nfs3_types::mount::dirpath;
use nfs3_client::nfs3_types::nfs3::{
    LOOKUP3args, Nfs3Option, Nfs3Result, SETATTR3args, diropargs3, filename3, nfs_fh3, sattr3,
    sattrguard3,
};
use nfs3_client::nfs3_types::rpc::{auth_unix, opaque_auth};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::tokio::TokioIo;
use nfs3_client::{MountClient, Nfs3Client};
use testkit::Daemon;
use testkit::vm::repo;
use tokio::net::TcpStream;

const PASSWORD: &str = "acl-test-pw";
const UID: u32 = 1001;

/// Runs `tests/smb/acl_client.py MODE PORT export alice PASSWORD UID [EXTRA...]`; panics with
/// its output and the daemon's log unless it exits 0.
fn acl_client(d: &Daemon, mode: &str, extra: &[&str]) {
    let out = Command::new("python3")
        .arg(repo().join("tests/smb/acl_client.py"))
        .arg(mode)
        .arg(d.smb_port.unwrap().to_string())
        .args(["export", "alice", PASSWORD, &UID.to_string()])
        .args(extra)
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
        "tests/smb/acl_client.py {mode} exited {:?} (2: smbprotocol missing, ci/setup.sh \
         installs it):\n{text}\ndittofs log tail:\n{}",
        out.status.code(),
        d.stderr_tail()
    );
}

/// An NFS client acting as uid 1001 (AUTH_SYS) and the share root's handle.
async fn nfs_client(port: u16) -> (Nfs3Client<TokioIo<TcpStream>>, nfs_fh3) {
    let cred = || {
        opaque_auth::auth_unix(&auth_unix {
            stamp: 1,
            machinename: Opaque::borrowed(b"acl-test"),
            uid: UID,
            gid: UID,
            gids: Vec::new(),
        })
    };
    let tcp = || async { TokioIo::new(TcpStream::connect(("127.0.0.1", port)).await.unwrap()) };
    let mut m = MountClient::new_with_auth(tcp().await, cred(), opaque_auth::default());
    let root = m.mnt(dirpath(Opaque::borrowed(b"/export"))).await.unwrap();
    let root = nfs_fh3 {
        data: Opaque::owned(root.fhandle.0.to_vec()),
    };
    (
        Nfs3Client::new_with_auth(tcp().await, cred(), opaque_auth::default()),
        root,
    )
}

/// Goal: a DACL set over SMB is kept whole (an ACE for Authenticated Users, which no mode can
/// say, reads back), inherited by a new file under a directory with inheritable ACEs, narrows
/// access (a DACL granting only CREATOR OWNER leaves the owner READ_CONTROL but not read), and
/// is dropped in favour of the mode once NFS chmods the file.
/// Method: acl_client.py `set` (SET_INFO / QUERY_INFO security, CREATE), then an NFS SETATTR of
/// the mode as the owner, then acl_client.py `synthesized`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_acls_narrow_inherit_and_yield_to_nfs() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::prepare_smb(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &["name: /export"],
        "",
        "",
    );
    d.add_user("alice", 1001, 1001, PASSWORD);
    d.spawn();
    acl_client(&d, "set", &[]);

    let (mut nfs, root) = nfs_client(d.port).await;
    let Nfs3Result::Ok(found) = nfs
        .lookup(&LOOKUP3args {
            what: diropargs3 {
                dir: root,
                name: filename3(Opaque::borrowed(b"acl.txt")),
            },
        })
        .await
        .unwrap()
    else {
        panic!("NFS LOOKUP acl.txt failed");
    };
    let set = nfs
        .setattr(&SETATTR3args {
            object: found.object,
            new_attributes: sattr3 {
                mode: Nfs3Option::Some(0o600),
                ..sattr3::default()
            },
            guard: sattrguard3::default(),
        })
        .await
        .unwrap();
    assert!(matches!(set, Nfs3Result::Ok(_)), "NFS SETATTR: {set:?}");

    acl_client(&d, "synthesized", &[]);
    assert!(d.alive(), "the daemon died");
}

/// Goal: chgrp the way the Linux kernel cifs client (6.1, `cifsacl,idsfromsid`) sends it for
/// busybox's chgrp works for the owner to a group it is a member of: SET_INFO with
/// OWNER | GROUP | DACL (the owner unchanged) on a handle opened for WRITE_OWNER | WRITE_DAC,
/// the ids as `S-1-5-88-x-<id>`, the DACL (written by its chmod just before) with the ACEs
/// moved to the new ids, in the client's own layout (SIDs in 68-byte slots). A group the owner
/// is not in, the owner part without WRITE_OWNER, and giving the file to another uid or to
/// root are ACCESS_DENIED and change nothing. Method: acl_client.py `chgrp`.
#[test]
fn kernel_style_chgrp_through_a_security_descriptor() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::prepare_smb(
        env!("CARGO_BIN_EXE_dittofs"),
        dir.path(),
        &["name: /export"],
        "",
        "",
    );
    for (group, gid) in [("alices", "1001"), ("editors", "5678"), ("others", "4242")] {
        d.cli(&["group", "add", group, "--gid", gid], "");
    }
    d.cli(
        &[
            "user",
            "add",
            "alice",
            "--uid",
            &UID.to_string(),
            "--gid",
            "1001",
            "--groups",
            "editors",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    d.spawn();
    acl_client(&d, "chgrp", &["5678", "4242"]);
    assert!(d.alive(), "the daemon died");
}
