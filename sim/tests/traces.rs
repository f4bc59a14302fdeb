//! Protocol-trace snapshots: each scenario's whole conversation, one line per message in
//! simulated time with handles as fh#N, pinned with insta (`sim/tests/snapshots/`). A change in
//! what goes over the wire fails the test; review it with `cargo insta review` and commit the
//! new snapshot only if the change is intended. CI sets `INSTA_UPDATE=no` and `CI=true`, so
//! nothing is accepted there.
//!
//! Each test also asserts the outcome it is about, so a snapshot can never pin a wrong answer
//! unnoticed.

use protocol::nfs3::{
    self, Commit3Args, Cookie3, Cookieverf3, Create3Args, CreateHow3, DirOpArgs3, Getattr3Args,
    Lookup3Args, Nfs3Res, NfsFh3Buf, NfsStat3, Read3Args, Readdirplus3Args, Remove3Args,
    Rename3Args, Sattr3, StableHow, Write3Args,
};
use sim::client::SimClient;
use sim::link::Link;
use sim::script::{ScriptSetup, run_script};
use sim::{Error, Trace};

const SEED: u64 = 0x7ace;

fn run<F>(setup: ScriptSetup, script: F) -> Trace
where
    F: AsyncFnOnce(&mut SimClient, &mut Link, NfsFh3Buf) -> Result<(), Error> + 'static,
{
    run_script(SEED, setup, script).unwrap_or_else(|e| panic!("script failed: {e}"))
}

fn expect(ok: bool, what: &str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::Check(what.to_owned()))
    }
}

async fn create(
    c: &mut SimClient,
    l: &mut Link,
    dir: NfsFh3Buf,
    name: &str,
) -> Result<NfsFh3Buf, Error> {
    let r = c
        .nfs3_link(
            l,
            &nfs3::Call::Create(Create3Args {
                where_: DirOpArgs3 {
                    dir: dir.as_fh(),
                    name: name.as_bytes(),
                },
                how: CreateHow3::Guarded(Sattr3 {
                    mode: Some(0o644),
                    ..Sattr3::default()
                }),
            }),
        )
        .await?;
    match r.value {
        nfs3::Reply::Create(Nfs3Res::Ok(ok)) => {
            ok.obj.0.ok_or_else(|| Error::Check("no handle".into()))
        }
        other => Err(Error::Check(format!("CREATE {name}: {}", other.status()))),
    }
}

async fn write(
    c: &mut SimClient,
    l: &mut Link,
    fh: NfsFh3Buf,
    offset: u64,
    data: &[u8],
    stable: StableHow,
) -> Result<NfsStat3, Error> {
    let r = c
        .nfs3_link(
            l,
            &nfs3::Call::Write(Write3Args {
                file: fh.as_fh(),
                offset,
                stable,
                data,
            }),
        )
        .await?;
    Ok(r.value.status())
}

/// Goal: the basic read path. MNT, CREATE and a FILE_SYNC WRITE, then LOOKUP and READ return
/// the file and its bytes.
#[test]
fn mount_lookup_read() {
    let trace = run(ScriptSetup::default(), async |c, l, root| {
        let fh = create(c, l, root, "hello.txt").await?;
        expect(
            write(c, l, fh, 0, b"hello, world\n", StableHow::FileSync).await? == NfsStat3::OK,
            "WRITE",
        )?;
        let r = c
            .nfs3_link(
                l,
                &nfs3::Call::Lookup(Lookup3Args {
                    what: DirOpArgs3 {
                        dir: root.as_fh(),
                        name: b"hello.txt",
                    },
                }),
            )
            .await?;
        expect(
            matches!(&r.value, nfs3::Reply::Lookup(Nfs3Res::Ok(ok)) if ok.object == fh),
            "LOOKUP finds the file",
        )?;
        let r = c
            .nfs3_link(
                l,
                &nfs3::Call::Read(Read3Args {
                    file: fh.as_fh(),
                    offset: 0,
                    count: 4096,
                }),
            )
            .await?;
        expect(
            matches!(&r.value, nfs3::Reply::Read(Nfs3Res::Ok(ok)) if ok.eof && &ok.data[..] == b"hello, world\n"),
            "READ",
        )
    });
    insta::assert_snapshot!(trace.readable());
}

/// Goal: unstable writes are acknowledged UNSTABLE with one verifier, and COMMIT returns the
/// same verifier.
#[test]
fn create_unstable_write_commit() {
    let trace = run(ScriptSetup::default(), async |c, l, root| {
        let fh = create(c, l, root, "data.bin").await?;
        let block = vec![0x5a; 8192];
        for i in [1u64, 0, 2] {
            expect(
                write(c, l, fh, i * 8192, &block, StableHow::Unstable).await? == NfsStat3::OK,
                "WRITE",
            )?;
        }
        let r = c
            .nfs3_link(
                l,
                &nfs3::Call::Commit(Commit3Args {
                    file: fh.as_fh(),
                    offset: 0,
                    count: 0,
                }),
            )
            .await?;
        expect(
            matches!(&r.value, nfs3::Reply::Commit(Nfs3Res::Ok(ok)) if ok.file_wcc.after.0.is_some_and(|a| a.size == 3 * 8192)),
            "COMMIT",
        )
    });
    insta::assert_snapshot!(trace.readable());
}

/// Goal: a directory listed in small pages, each resumed by the last cookie, gives every entry
/// once.
#[test]
fn readdirplus_paging() {
    let trace = run(ScriptSetup::default(), async |c, l, root| {
        for i in 0..12 {
            create(c, l, root, &format!("entry-{i:02}")).await?;
        }
        let (mut cookie, mut verf, mut names) = (Cookie3(0), Cookieverf3::default(), Vec::new());
        loop {
            let r = c
                .nfs3_link(
                    l,
                    &nfs3::Call::Readdirplus(Readdirplus3Args {
                        dir: root.as_fh(),
                        cookie,
                        cookieverf: verf,
                        dircount: 256,
                        maxcount: 1024,
                    }),
                )
                .await?;
            let nfs3::Reply::Readdirplus(Nfs3Res::Ok(ok)) = r.value else {
                return Err(Error::Check("READDIRPLUS failed".into()));
            };
            verf = ok.cookieverf;
            for e in &ok.entries {
                cookie = e.cookie;
                names.push(String::from_utf8_lossy(&e.name).into_owned());
            }
            if ok.eof {
                break;
            }
        }
        let mut want: Vec<String> = (0..12).map(|i| format!("entry-{i:02}")).collect();
        want.extend([".".to_owned(), "..".to_owned()]);
        want.sort();
        names.sort();
        expect(names == want, "every entry exactly once")
    });
    insta::assert_snapshot!(trace.readable());
}

/// Goal: RENAME over an existing file replaces it atomically: the target name now leads to the
/// moved file and the replaced file's handle is stale.
#[test]
fn rename_over_existing_file() {
    let trace = run(ScriptSetup::default(), async |c, l, root| {
        let a = create(c, l, root, "a").await?;
        let b = create(c, l, root, "b").await?;
        expect(
            write(c, l, b, 0, b"old b", StableHow::FileSync).await? == NfsStat3::OK,
            "WRITE",
        )?;
        let r = c
            .nfs3_link(
                l,
                &nfs3::Call::Rename(Rename3Args {
                    from: DirOpArgs3 {
                        dir: root.as_fh(),
                        name: b"a",
                    },
                    to: DirOpArgs3 {
                        dir: root.as_fh(),
                        name: b"b",
                    },
                }),
            )
            .await?;
        expect(r.value.status() == NfsStat3::OK, "RENAME")?;
        let r = c
            .nfs3_link(
                l,
                &nfs3::Call::Lookup(Lookup3Args {
                    what: DirOpArgs3 {
                        dir: root.as_fh(),
                        name: b"b",
                    },
                }),
            )
            .await?;
        expect(
            matches!(&r.value, nfs3::Reply::Lookup(Nfs3Res::Ok(ok)) if ok.object == a),
            "b is the moved file",
        )?;
        let r = c
            .nfs3_link(l, &nfs3::Call::Getattr(Getattr3Args { object: b.as_fh() }))
            .await?;
        expect(
            r.value.status() == NfsStat3::STALE,
            "the replaced file's handle is stale",
        )
    });
    insta::assert_snapshot!(trace.readable());
}

/// Goal: a removed file's handle answers NFS3ERR_STALE to GETATTR, READ and WRITE.
#[test]
fn stale_handle() {
    let trace = run(ScriptSetup::default(), async |c, l, root| {
        let fh = create(c, l, root, "gone").await?;
        let r = c
            .nfs3_link(
                l,
                &nfs3::Call::Remove(Remove3Args {
                    object: DirOpArgs3 {
                        dir: root.as_fh(),
                        name: b"gone",
                    },
                }),
            )
            .await?;
        expect(r.value.status() == NfsStat3::OK, "REMOVE")?;
        let r = c
            .nfs3_link(l, &nfs3::Call::Getattr(Getattr3Args { object: fh.as_fh() }))
            .await?;
        expect(r.value.status() == NfsStat3::STALE, "GETATTR is STALE")?;
        let r = c
            .nfs3_link(
                l,
                &nfs3::Call::Read(Read3Args {
                    file: fh.as_fh(),
                    offset: 0,
                    count: 10,
                }),
            )
            .await?;
        expect(r.value.status() == NfsStat3::STALE, "READ is STALE")?;
        expect(
            write(c, l, fh, 0, b"x", StableHow::Unstable).await? == NfsStat3::STALE,
            "WRITE is STALE",
        )
    });
    insta::assert_snapshot!(trace.readable());
}

/// Goal: a user without write permission on the directory gets NFS3ERR_ACCES for CREATE and
/// REMOVE, and the directory is unchanged.
#[test]
fn permission_denied() {
    let setup = ScriptSetup {
        root_mode: 0o755,
        uid: 1000,
        ..ScriptSetup::default()
    };
    let trace = run(setup, async |c, l, root| {
        let r = c
            .nfs3_link(
                l,
                &nfs3::Call::Create(Create3Args {
                    where_: DirOpArgs3 {
                        dir: root.as_fh(),
                        name: b"nope",
                    },
                    how: CreateHow3::Unchecked(Sattr3::default()),
                }),
            )
            .await?;
        expect(r.value.status() == NfsStat3::ACCES, "CREATE is ACCES")?;
        let r = c
            .nfs3_link(
                l,
                &nfs3::Call::Lookup(Lookup3Args {
                    what: DirOpArgs3 {
                        dir: root.as_fh(),
                        name: b"nope",
                    },
                }),
            )
            .await?;
        expect(r.value.status() == NfsStat3::NOENT, "nothing was created")
    });
    insta::assert_snapshot!(trace.readable());
}

/// Goal: a write beyond the content store's capacity answers NFS3ERR_NOSPC (FILE_SYNC: at once;
/// UNSTABLE: at COMMIT), and what fitted is still there.
#[test]
fn no_space() {
    let setup = ScriptSetup {
        capacity: Some(64 * 1024),
        ..ScriptSetup::default()
    };
    let trace = run(setup, async |c, l, root| {
        let fh = create(c, l, root, "big").await?;
        let fits = vec![1u8; 32 * 1024];
        expect(
            write(c, l, fh, 0, &fits, StableHow::FileSync).await? == NfsStat3::OK,
            "32 KiB fit",
        )?;
        let more = vec![2u8; 48 * 1024];
        expect(
            write(c, l, fh, 32 * 1024, &more, StableHow::FileSync).await? == NfsStat3::NOSPC,
            "FILE_SYNC beyond capacity is NOSPC",
        )?;
        let r = c
            .nfs3_link(
                l,
                &nfs3::Call::Read(Read3Args {
                    file: fh.as_fh(),
                    offset: 0,
                    count: 32 * 1024,
                }),
            )
            .await?;
        expect(
            matches!(&r.value, nfs3::Reply::Read(Nfs3Res::Ok(ok)) if ok.data[..] == fits[..]),
            "the bytes that fitted",
        )
    });
    insta::assert_snapshot!(trace.readable());
}
