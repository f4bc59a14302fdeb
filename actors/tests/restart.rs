//! End-to-end: acknowledged data and file handles survive `kill -9` of the real `dittofs`
//! binary on RocksDB + filesystem content.
//!
//! Goal: what an NFSv3 client was told is stable (COMMIT after UNSTABLE writes, FILE_SYNC and
//! DATA_SYNC writes, and every namespace change made before an acknowledged COMMIT) is there
//! after the process is killed without warning and started again; handles handed out before
//! the crash still name the same objects, the handle of a file removed before the crash is
//! NFS3ERR_STALE, a forged one is NFS3ERR_STALE and a malformed one NFS3ERR_BADHANDLE; the
//! write verifier changes with the boot, as RFC 1813 requires of a server that may have lost
//! unstable data.
//!
//! Method: the `nfs3_client` crate (an NFSv3 client nobody here wrote) talks to the binary over
//! loopback; SIGKILL gives the process no chance to flush or sync; the second process gets no
//! hint beyond its files on disk. The client keeps its old handles and never looks them up
//! again before using them.

#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "a test against the real binary measures real elapsed time"
)]

use std::time::Instant;

use nfs3_client::Nfs3Client;
use nfs3_client::nfs3_types::nfs3::{
    GETATTR3args, LOOKUP3args, MKDIR3args, Nfs3Option, READDIRPLUS3args, REMOVE3args, RENAME3args,
    SETATTR3args, SYMLINK3args, cookieverf3, ftype3, nfs_fh3, nfspath3, nfsstat3, sattr3,
    sattrguard3, stable_how, symlinkdata3,
};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use testkit::Daemon;
use testkit::nfs::{
    Io, commit, contents, create, dirop, getattr_status, mount, ok, seeded_bytes, status, write_all,
};

const MIB: usize = 1 << 20;

/// The names in `dir`, by READDIRPLUS (one page is enough here).
async fn names(c: &mut Nfs3Client<Io>, dir: &nfs_fh3) -> Vec<String> {
    let r = c
        .readdirplus(&READDIRPLUS3args {
            dir: dir.clone(),
            cookie: 0,
            cookieverf: cookieverf3::default(),
            dircount: 8192,
            maxcount: 65536,
        })
        .await
        .unwrap();
    let r = ok(r, "READDIRPLUS");
    assert!(r.reply.eof, "one page should hold the whole directory");
    let mut v: Vec<String> = r
        .reply
        .entries
        .0
        .iter()
        .map(|e| String::from_utf8_lossy(&e.name.0).into_owned())
        .filter(|n| n != "." && n != "..")
        .collect();
    v.sort();
    v
}

/// Goal: see the module documentation. The crash comes after the last acknowledged COMMIT,
/// with more UNSTABLE writes in flight that were never committed (they may or may not
/// survive; nothing is asserted of them except that they cannot corrupt the committed file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_data_and_handles_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(env!("CARGO_BIN_EXE_dittofs"), dir.path());
    let mut m = mount("127.0.0.1", d.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();
    let c: &mut Nfs3Client<Io> = &mut m;

    // A directory with files written every stable way.
    let sub = {
        let r = c
            .mkdir(&MKDIR3args {
                where_: dirop(&root, "d"),
                attributes: sattr3 {
                    mode: Nfs3Option::Some(0o755),
                    ..sattr3::default()
                },
            })
            .await
            .unwrap();
        ok(r, "MKDIR").obj.unwrap()
    };
    let big = create(c, &sub, "big", 0o644).await.unwrap();
    let big_data = seeded_bytes(3 * MIB + 12_345, 1);
    // UNSTABLE, out of order, then COMMIT: the way the kernel client writes.
    let mut verfs = Vec::new();
    for i in [2usize, 0, 3, 1] {
        let from = i * MIB;
        let to = (from + MIB).min(big_data.len());
        verfs.push(
            write_all(
                c,
                &big,
                from as u64,
                &big_data[from..to],
                stable_how::UNSTABLE,
            )
            .await
            .unwrap(),
        );
    }
    let boot1 = commit(c, &big).await.unwrap();
    assert!(
        verfs.iter().all(|v| *v == boot1),
        "COMMIT's verifier must match the WRITEs' within one boot"
    );

    let synced = create(c, &sub, "file-sync", 0o644).await.unwrap();
    let synced_data = seeded_bytes(300_000, 2);
    write_all(c, &synced, 0, &synced_data, stable_how::FILE_SYNC)
        .await
        .unwrap();
    let datasync = create(c, &sub, "data-sync", 0o644).await.unwrap();
    let datasync_data = seeded_bytes(70_000, 3);
    write_all(c, &datasync, 0, &datasync_data, stable_how::DATA_SYNC)
        .await
        .unwrap();

    // Namespace and attribute changes, made durable by the COMMIT that follows them.
    let r = c
        .setattr(&SETATTR3args {
            object: synced.clone(),
            new_attributes: sattr3 {
                mode: Nfs3Option::Some(0o600),
                ..sattr3::default()
            },
            guard: sattrguard3::default(),
        })
        .await
        .unwrap();
    ok(r, "SETATTR");
    let doomed = create(c, &sub, "doomed", 0o644).await.unwrap();
    write_all(c, &doomed, 0, b"short-lived", stable_how::FILE_SYNC)
        .await
        .unwrap();
    let r = c
        .remove(&REMOVE3args {
            object: dirop(&sub, "doomed"),
        })
        .await
        .unwrap();
    ok(r, "REMOVE");
    let renamed = create(c, &root, "before", 0o644).await.unwrap();
    write_all(c, &renamed, 0, b"renamed file", stable_how::FILE_SYNC)
        .await
        .unwrap();
    let r = c
        .rename(&RENAME3args {
            from: dirop(&root, "before"),
            to: dirop(&sub, "after"),
        })
        .await
        .unwrap();
    ok(r, "RENAME");
    let r = c
        .symlink(&SYMLINK3args {
            where_: dirop(&root, "link"),
            symlink: symlinkdata3 {
                symlink_attributes: sattr3::default(),
                symlink_data: nfspath3(Opaque::borrowed(b"d/big")),
            },
        })
        .await
        .unwrap();
    let link = ok(r, "SYMLINK").obj.unwrap();
    assert_eq!(commit(c, &big).await.unwrap(), boot1);

    // Uncommitted UNSTABLE writes to another file, in flight when the process dies.
    let loose = create(c, &sub, "uncommitted", 0o644).await.unwrap();
    write_all(c, &loose, 0, &seeded_bytes(MIB, 4), stable_how::UNSTABLE)
        .await
        .unwrap();

    let old_big_attrs = getattr_status(c, &big).await.unwrap().unwrap();
    drop(m);

    d.kill9();
    let t = Instant::now();
    d.spawn();
    println!(
        "restart after kill -9: listening again in {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    // A new connection, the old handles, no LOOKUPs first.
    let mut m = mount("127.0.0.1", d.port, "/export", 0, 0).await.unwrap();
    assert_eq!(m.root_nfs_fh3().data.0, root.data.0, "root handle changed");
    let c: &mut Nfs3Client<Io> = &mut m;
    assert_eq!(
        contents(c, &big).await.unwrap(),
        big_data,
        "committed file differs"
    );
    assert_eq!(
        contents(c, &synced).await.unwrap(),
        synced_data,
        "FILE_SYNC file differs"
    );
    assert_eq!(
        contents(c, &datasync).await.unwrap(),
        datasync_data,
        "DATA_SYNC file differs"
    );
    let a = getattr_status(c, &big)
        .await
        .unwrap()
        .expect("GETATTR of an old handle");
    assert_eq!(a.size, big_data.len() as u64);
    assert_eq!(a.fileid, old_big_attrs.fileid);
    assert_eq!(a.type_, ftype3::NF3REG);
    let mode = getattr_status(c, &synced).await.unwrap().unwrap().mode;
    assert_eq!(mode & 0o7777, 0o600, "SETATTR before the COMMIT was lost");

    // The namespace as it was at the last COMMIT.
    let listed = names(c, &sub).await;
    for want in ["after", "big", "data-sync", "file-sync"] {
        assert!(
            listed.iter().any(|n| n == want),
            "{want} missing: {listed:?}"
        );
    }
    assert!(
        !listed.iter().any(|n| n == "doomed"),
        "a removal acknowledged before the COMMIT came back: {listed:?}"
    );
    let r = c
        .lookup(&LOOKUP3args {
            what: dirop(&sub, "big"),
        })
        .await
        .unwrap();
    assert_eq!(
        ok(r, "LOOKUP").object.data.0,
        big.data.0,
        "LOOKUP gives a different handle after the restart"
    );
    assert_eq!(contents(c, &renamed).await.unwrap(), b"renamed file");
    let r = c
        .readlink(&nfs3_client::nfs3_types::nfs3::READLINK3args {
            symlink: link.clone(),
        })
        .await
        .unwrap();
    assert_eq!(&ok(r, "READLINK").data.0[..], b"d/big");

    // Whatever survived of the uncommitted file, it is a prefix-consistent file of its own.
    if let Ok(a) = getattr_status(c, &loose).await.unwrap() {
        let got = contents(c, &loose).await.unwrap();
        assert_eq!(got.len() as u64, a.size);
    }

    // Removed, forged and malformed handles.
    let gone = getattr_status(c, &doomed).await.unwrap();
    assert_eq!(
        gone.map(|a| a.fileid),
        Err(nfsstat3::NFS3ERR_STALE),
        "removed file's handle"
    );
    let mut forged = big.clone();
    let mut bytes = forged.data.0.to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    forged.data = Opaque::owned(bytes.clone());
    let r = c.getattr(&GETATTR3args { object: forged }).await.unwrap();
    assert_eq!(status(r, "forged handle"), nfsstat3::NFS3ERR_STALE);
    bytes.truncate(7);
    let r = c
        .getattr(&GETATTR3args {
            object: nfs_fh3 {
                data: Opaque::owned(bytes),
            },
        })
        .await
        .unwrap();
    assert_eq!(status(r, "malformed handle"), nfsstat3::NFS3ERR_BADHANDLE);

    // A new boot, a new verifier: clients resend what they wrote UNSTABLE before it.
    let w = write_all(c, &big, 0, b"after", stable_how::UNSTABLE)
        .await
        .unwrap();
    let boot2 = commit(c, &big).await.unwrap();
    assert_eq!(w, boot2);
    assert_ne!(
        boot1, boot2,
        "the write verifier must change across a restart"
    );
    // A file created now never reuses the removed file's handle.
    let fresh = create(c, &sub, "fresh", 0o644).await.unwrap();
    assert_ne!(fresh.data.0, doomed.data.0);
    drop(m);

    assert_eq!(d.terminate(), Some(0), "log:\n{}", d.stderr_tail());
}
