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

mod common;

use std::time::Instant;

use common::Daemon;
use nfs3_client::nfs3_types::nfs3::{
    COMMIT3args, CREATE3args, GETATTR3args, LOOKUP3args, MKDIR3args, Nfs3Option, Nfs3Result,
    READ3args, READDIRPLUS3args, REMOVE3args, RENAME3args, SETATTR3args, SYMLINK3args, WRITE3args,
    cookieverf3, createhow3, diropargs3, fattr3, filename3, ftype3, nfs_fh3, nfspath3, nfsstat3,
    sattr3, sattrguard3, stable_how, symlinkdata3, writeverf3,
};
use nfs3_client::nfs3_types::rpc::{auth_unix, opaque_auth};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::tokio::{TokioConnector, TokioIo};
use nfs3_client::{Nfs3Client, Nfs3Connection, Nfs3ConnectionBuilder};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::net::TcpStream;

type Io = TokioIo<TcpStream>;

const MIB: usize = 1 << 20;

async fn mount(port: u16) -> Nfs3Connection<Io> {
    Nfs3ConnectionBuilder::new(TokioConnector, "127.0.0.1", "/export")
        .portmapper_port(port)
        .connect_from_privileged_port(false)
        .credential(opaque_auth::auth_unix(&auth_unix {
            stamp: 1,
            machinename: Opaque::borrowed(b"restart-test"),
            uid: 0,
            gid: 0,
            gids: Vec::new(),
        }))
        .mount()
        .await
        .unwrap()
}

fn seeded(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0; len];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

fn dirop<'a>(dir: &nfs_fh3, name: &'a str) -> diropargs3<'a> {
    diropargs3 {
        dir: dir.clone(),
        name: filename3(Opaque::borrowed(name.as_bytes())),
    }
}

fn ok<T, E: std::fmt::Debug>(r: Nfs3Result<T, E>, what: &str) -> T {
    match r {
        Nfs3Result::Ok(v) => v,
        Nfs3Result::Err(e) => panic!("{what}: {e:?}"),
    }
}

fn err<T: std::fmt::Debug, E>(r: Nfs3Result<T, E>, what: &str) -> nfsstat3 {
    match r {
        Nfs3Result::Ok(v) => panic!("{what}: expected an error, got {v:?}"),
        Nfs3Result::Err((s, _)) => s,
    }
}

async fn create(c: &mut Nfs3Client<Io>, dir: &nfs_fh3, name: &str) -> nfs_fh3 {
    let r = c
        .create(&CREATE3args {
            where_: dirop(dir, name),
            how: createhow3::UNCHECKED(sattr3 {
                mode: Nfs3Option::Some(0o644),
                ..sattr3::default()
            }),
        })
        .await
        .unwrap();
    ok(r, "CREATE").obj.unwrap()
}

async fn write(
    c: &mut Nfs3Client<Io>,
    f: &nfs_fh3,
    offset: u64,
    data: &[u8],
    stable: stable_how,
) -> writeverf3 {
    let r = c
        .write(&WRITE3args {
            file: f.clone(),
            offset,
            count: u32::try_from(data.len()).unwrap(),
            stable,
            data: Opaque::borrowed(data),
        })
        .await
        .unwrap();
    let w = ok(r, "WRITE");
    assert_eq!(w.count as usize, data.len(), "short WRITE");
    w.verf
}

async fn commit(c: &mut Nfs3Client<Io>, f: &nfs_fh3) -> writeverf3 {
    let r = c
        .commit(&COMMIT3args {
            file: f.clone(),
            offset: 0,
            count: 0,
        })
        .await
        .unwrap();
    ok(r, "COMMIT").verf
}

async fn getattr(c: &mut Nfs3Client<Io>, f: &nfs_fh3) -> Result<fattr3, nfsstat3> {
    match c
        .getattr(&GETATTR3args { object: f.clone() })
        .await
        .unwrap()
    {
        Nfs3Result::Ok(ok) => Ok(ok.obj_attributes),
        Nfs3Result::Err((s, _)) => Err(s),
    }
}

/// Reads the whole file in 1 MiB READs.
async fn contents(c: &mut Nfs3Client<Io>, f: &nfs_fh3) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let r = c
            .read(&READ3args {
                file: f.clone(),
                offset: out.len() as u64,
                count: MIB as u32,
            })
            .await
            .unwrap();
        let r = ok(r, "READ");
        out.extend_from_slice(&r.data);
        if r.eof {
            return out;
        }
        assert!(r.count > 0, "READ returned nothing before eof");
    }
}

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
    let mut d = Daemon::start(dir.path());
    let mut m = mount(d.port).await;
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
    let big = create(c, &sub, "big").await;
    let big_data = seeded(3 * MIB + 12_345, 1);
    // UNSTABLE, out of order, then COMMIT: the way the kernel client writes.
    let mut verfs = Vec::new();
    for i in [2usize, 0, 3, 1] {
        let from = i * MIB;
        let to = (from + MIB).min(big_data.len());
        verfs.push(
            write(
                c,
                &big,
                from as u64,
                &big_data[from..to],
                stable_how::UNSTABLE,
            )
            .await,
        );
    }
    let boot1 = commit(c, &big).await;
    assert!(
        verfs.iter().all(|v| *v == boot1),
        "COMMIT's verifier must match the WRITEs' within one boot"
    );

    let synced = create(c, &sub, "file-sync").await;
    let synced_data = seeded(300_000, 2);
    write(c, &synced, 0, &synced_data, stable_how::FILE_SYNC).await;
    let datasync = create(c, &sub, "data-sync").await;
    let datasync_data = seeded(70_000, 3);
    write(c, &datasync, 0, &datasync_data, stable_how::DATA_SYNC).await;

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
    let doomed = create(c, &sub, "doomed").await;
    write(c, &doomed, 0, b"short-lived", stable_how::FILE_SYNC).await;
    let r = c
        .remove(&REMOVE3args {
            object: dirop(&sub, "doomed"),
        })
        .await
        .unwrap();
    ok(r, "REMOVE");
    let renamed = create(c, &root, "before").await;
    write(c, &renamed, 0, b"renamed file", stable_how::FILE_SYNC).await;
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
    assert_eq!(commit(c, &big).await, boot1);

    // Uncommitted UNSTABLE writes to another file, in flight when the process dies.
    let loose = create(c, &sub, "uncommitted").await;
    write(c, &loose, 0, &seeded(MIB, 4), stable_how::UNSTABLE).await;

    let old_big_attrs = getattr(c, &big).await.unwrap();
    drop(m);

    d.kill9();
    let t = Instant::now();
    d.spawn();
    println!(
        "restart after kill -9: listening again in {:.0} ms",
        t.elapsed().as_secs_f64() * 1e3
    );

    // A new connection, the old handles, no LOOKUPs first.
    let mut m = mount(d.port).await;
    assert_eq!(m.root_nfs_fh3().data.0, root.data.0, "root handle changed");
    let c: &mut Nfs3Client<Io> = &mut m;
    assert_eq!(contents(c, &big).await, big_data, "committed file differs");
    assert_eq!(
        contents(c, &synced).await,
        synced_data,
        "FILE_SYNC file differs"
    );
    assert_eq!(
        contents(c, &datasync).await,
        datasync_data,
        "DATA_SYNC file differs"
    );
    let a = getattr(c, &big).await.expect("GETATTR of an old handle");
    assert_eq!(a.size, big_data.len() as u64);
    assert_eq!(a.fileid, old_big_attrs.fileid);
    assert_eq!(a.type_, ftype3::NF3REG);
    let mode = getattr(c, &synced).await.unwrap().mode;
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
    assert_eq!(contents(c, &renamed).await, b"renamed file");
    let r = c
        .readlink(&nfs3_client::nfs3_types::nfs3::READLINK3args {
            symlink: link.clone(),
        })
        .await
        .unwrap();
    assert_eq!(&ok(r, "READLINK").data.0[..], b"d/big");

    // Whatever survived of the uncommitted file, it is a prefix-consistent file of its own.
    if let Ok(a) = getattr(c, &loose).await {
        let got = contents(c, &loose).await;
        assert_eq!(got.len() as u64, a.size);
    }

    // Removed, forged and malformed handles.
    let gone = getattr(c, &doomed).await;
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
    assert_eq!(err(r, "forged handle"), nfsstat3::NFS3ERR_STALE);
    bytes.truncate(7);
    let r = c
        .getattr(&GETATTR3args {
            object: nfs_fh3 {
                data: Opaque::owned(bytes),
            },
        })
        .await
        .unwrap();
    assert_eq!(err(r, "malformed handle"), nfsstat3::NFS3ERR_BADHANDLE);

    // A new boot, a new verifier: clients resend what they wrote UNSTABLE before it.
    let w = write(c, &big, 0, b"after", stable_how::UNSTABLE).await;
    let boot2 = commit(c, &big).await;
    assert_eq!(w, boot2);
    assert_ne!(
        boot1, boot2,
        "the write verifier must change across a restart"
    );
    // A file created now never reuses the removed file's handle.
    let fresh = create(c, &sub, "fresh").await;
    assert_ne!(fresh.data.0, doomed.data.0);
    drop(m);

    assert_eq!(d.terminate(), Some(0), "log:\n{}", d.stderr_tail());
}
