//! End-to-end: SMB CHANGE_NOTIFY through one gateway is fired by changes made through another
//! gateway on the same PostgreSQL database (issue: "directory watches ... fired by changes
//! made through either protocol and any gateway").
//!
//! Method: two `dittofs` processes on one throwaway PostgreSQL database and one content
//! directory (`testkit::gateway`); gateway A also serves SMB, where Python's smbprotocol
//! (`tests/smb/smbprotocol_notify_gateways.py`) watches directories and reports step by step
//! over its stdin and stdout; the `nfs3_client` crate changes the share through gateway B.

use nfs3_client::nfs3_types::nfs3::{
    Nfs3Result, REMOVE3args, RENAME3args, SETATTR3args, sattrguard3, stable_how,
};
use testkit::gateway::{Content, gateway};
use testkit::nfs::{create, dirop, lookup, mode, mount, write_all};
use testkit::script::StepScript;

const PASSWORD: &str = "notify-gw-pw";

/// Goal: a watch through gateway A is completed with FILE_ACTION_ADDED for a file created
/// through gateway B, with the old and new names for B's rename within the directory and
/// with FILE_ACTION_MODIFIED for B's SETATTR and FILE_SYNC WRITE of it (B announces
/// modifications of the entries its NFS clients looked up), with FILE_ACTION_REMOVED for B's
/// remove; a tree watch on the share root is told to re-read
/// (STATUS_NOTIFY_ENUM_DIR) for B's change below it and gets the entry for B's create in the
/// root itself; and after a database restart (gateway A's listener may have missed changes)
/// the watch is told to re-read. The script checks each answer; this side makes the changes
/// and checks the script's verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_through_another_gateway_fire_watches() {
    let pg = testkit::postgres::PgServer::start();
    let url = pg.database();
    let dir = tempfile::tempdir().unwrap();
    let content = Content::Dir(dir.path().join("content"));

    // Gateway A serves SMB too (the gateway helper writes an NFS-only configuration).
    let mut a = gateway(
        env!("CARGO_BIN_EXE_dittofs"),
        &dir.path().join("a"),
        &url,
        &content,
    );
    let smb_port = testkit::daemon::free_port();
    let nfs_only = format!(
        "adapters: {{ nfs: {{ port: {}, portmapper: {{ enabled: false }} }} }}",
        a.port
    );
    let config = std::fs::read_to_string(&a.config).unwrap();
    assert!(
        config.contains(&nfs_only),
        "the gateway configuration changed"
    );
    let config = config.replace(
        &nfs_only,
        &format!(
            "adapters: {{ nfs: {{ port: {}, portmapper: {{ enabled: false }} }}, \
             smb: {{ enabled: true, port: {smb_port} }} }}",
            a.port
        ),
    );
    std::fs::write(&a.config, config).unwrap();
    a.smb_port = Some(smb_port);
    a.add_user("alice", 1001, 1001, PASSWORD);
    a.spawn();
    let mut b = gateway(
        env!("CARGO_BIN_EXE_dittofs"),
        &dir.path().join("b"),
        &url,
        &content,
    );
    b.spawn();

    let port = smb_port.to_string();
    let mut py = StepScript::python(
        "tests/smb/smbprotocol_notify_gateways.py",
        &[&port, "export", "alice", PASSWORD],
    );
    let mut m = mount("127.0.0.1", b.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();

    // 1-2: a create through B.
    py.expect("WATCHING").await;
    let watched = lookup(&mut m, &root, "watched").await.unwrap();
    create(&mut m, &watched, "fromb.txt", 0o644).await.unwrap();
    py.go();
    py.expect("NOTIFIED").await;

    // 3: a rename within the directory through B.
    py.expect("WATCHING2").await;
    let r = m
        .rename(&RENAME3args {
            from: dirop(&watched, "fromb.txt"),
            to: dirop(&watched, "renamed.txt"),
        })
        .await
        .unwrap();
    assert!(matches!(r, Nfs3Result::Ok(_)), "RENAME: {r:?}");
    py.go();

    // 3b: B looks the file up, sets its mode, then writes it.
    py.expect("WATCHING-M").await;
    let f = lookup(&mut m, &watched, "renamed.txt").await.unwrap();
    let r = m
        .setattr(&SETATTR3args {
            object: f.clone(),
            new_attributes: mode(0o600),
            guard: sattrguard3::default(),
        })
        .await
        .unwrap();
    assert!(matches!(r, Nfs3Result::Ok(_)), "SETATTR: {r:?}");
    py.go();
    py.expect("WATCHING-W").await;
    write_all(&mut m, &f, 0, b"from B", stable_how::FILE_SYNC)
        .await
        .unwrap();
    py.go();

    // 4: a create in the root, then a remove below it, through B.
    py.expect("WATCHING3").await;
    create(&mut m, &root, "top.txt", 0o644).await.unwrap();
    let r = m
        .remove(&REMOVE3args {
            object: dirop(&watched, "renamed.txt"),
        })
        .await
        .unwrap();
    assert!(matches!(r, Nfs3Result::Ok(_)), "REMOVE: {r:?}");
    py.go();

    // 5: the database restarts.
    py.expect("WATCHING4").await;
    pg.restart(std::time::Duration::from_millis(300));
    py.go();
    py.expect("DONE").await;
    assert!(
        py.success(),
        "the script failed; gateway A's log:\n{}",
        a.stderr_tail()
    );
    assert!(a.alive() && b.alive(), "a gateway died");
}
