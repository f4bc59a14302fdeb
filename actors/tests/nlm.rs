//! End-to-end: NFSv3 locking (NLM v4 and NSM v1) against the real `dittofs` binary.
//!
//! Goal: the lock manager served on the NFS port behaves as NFSv3 clients rely on: it is
//! registered with the portmapper; TEST names the conflicting holder; LOCK grants, refuses
//! or (blocking) queues and later calls the client back with NLM4_GRANTED through the
//! client's portmapper; CANCEL, partial UNLOCK, FREE_ALL and a client's SM_NOTIFY free what
//! they should; the `_MSG` forms answer through `_RES` calls; SHARE reservations deny what
//! they say. After a restart the server sends SM_NOTIFY with a higher state to the client that
//! held locks, and during the grace period only reclaims are served.
//!
//! Method: the RPC calls are built with the project's `protocol` codecs (the same ones the
//! server decodes with) and sent over TCP; the client's side (its portmapper, lock manager
//! and status monitor) is a small RPC server in the test that records every callback. The
//! daemon is pointed at it with `adapters.nfs.locking.client_portmapper_port`. A file to lock
//! comes from a real MOUNT + CREATE through the `nfs3_client` crate.

#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "a test against the real binary measures real elapsed time (the grace period)"
)]

use std::ffi::OsString;
use std::time::Duration;

use bytes::BytesMut;
use protocol::nlm4::{
    self, Fsh4Access, Fsh4Mode, NetObj, Nlm4CancArgs, Nlm4Lock, Nlm4LockArgs, Nlm4Notify, Nlm4Res,
    Nlm4Share, Nlm4ShareArgs, Nlm4Stat, Nlm4TestArgs, Nlm4TestReply, Nlm4UnlockArgs, NlmProc,
};
use protocol::nsm::{self, NsmProc, StatChge};
use protocol::portmap::{self, Mapping, PortmapProc};
use protocol::rpc::{self, AcceptStat, CallHeader, OpaqueAuth, RecordDecoder, Xid};
use protocol::wire::{Encode, encode_to_vec};
use protocol::xdr::Writer;
use testkit::Daemon;
use testkit::nfs::{create, mount};
use testkit::script::StepScript;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

/// What the fake client side was called with.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Callback {
    /// NLM4_GRANTED for this svid and range.
    Granted { svid: i32, offset: u64, len: u64 },
    /// An NLM `_RES` call with its status.
    Res { proc_: NlmProc, stat: Nlm4Stat },
    /// SM_NOTIFY from the server.
    Notify { name: Vec<u8>, state: i32 },
}

/// The client's portmapper, lock manager and status monitor on one loopback port: GETPORT
/// answers that port for everything; GRANTED is answered GRANTED; every call is recorded.
async fn fake_client() -> (u16, mpsc::Receiver<Callback>) {
    let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut dec = RecordDecoder::new();
                let mut buf = BytesMut::new();
                loop {
                    while let Ok(Some(rec)) = dec.decode(&mut buf) {
                        let (call, args) = rpc::decode_call(&rec).unwrap();
                        let mut w = Writer::new();
                        rpc::encode_accepted(&mut w, call.xid, AcceptStat::SUCCESS);
                        match (call.prog, call.proc_) {
                            (portmap::PROGRAM, 3) => w.u32(u32::from(port)),
                            (nlm4::PROGRAM, p) => match nlm4::decode_call(p, args).unwrap() {
                                nlm4::Call::Granted(a) => {
                                    let _ = tx
                                        .send(Callback::Granted {
                                            svid: a.alock.svid,
                                            offset: a.alock.l_offset,
                                            len: a.alock.l_len,
                                        })
                                        .await;
                                    nlm4::Reply::Res(Nlm4Res {
                                        cookie: a.cookie,
                                        stat: Nlm4Stat::GRANTED,
                                    })
                                    .encode(&mut w);
                                }
                                nlm4::Call::TestRes(r) => {
                                    let stat = r.stat.stat();
                                    let _ = tx
                                        .send(Callback::Res {
                                            proc_: NlmProc::TestRes,
                                            stat,
                                        })
                                        .await;
                                }
                                nlm4::Call::LockRes(r)
                                | nlm4::Call::UnlockRes(r)
                                | nlm4::Call::CancelRes(r) => {
                                    let proc_ = NlmProc::from_u32(p).unwrap();
                                    let _ = tx
                                        .send(Callback::Res {
                                            proc_,
                                            stat: r.stat,
                                        })
                                        .await;
                                }
                                other => panic!("unexpected NLM call to the client: {other:?}"),
                            },
                            (nsm::PROGRAM, 6) => {
                                let nsm::Call::Notify(StatChge { mon_name, state }) =
                                    nsm::decode_call(6, args).unwrap()
                                else {
                                    unreachable!()
                                };
                                let _ = tx
                                    .send(Callback::Notify {
                                        name: mon_name.to_vec(),
                                        state,
                                    })
                                    .await;
                            }
                            other => panic!("unexpected call to the client: {other:?}"),
                        }
                        if s.write_all(&rpc::encode_record(w.as_slice()))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                    match s.read_buf(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    (port, rx)
}

/// One RPC call to the daemon on a fresh connection: the SUCCESS reply's results.
async fn call(port: u16, prog: u32, vers: u32, proc_: u32, args: &[u8]) -> Vec<u8> {
    let mut w = Writer::new();
    CallHeader::new(Xid(7), prog, vers, proc_, OpaqueAuth::NONE).encode(&mut w);
    w.raw(args);
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(&rpc::encode_record(w.as_slice()))
        .await
        .unwrap();
    let mut dec = RecordDecoder::new();
    let mut buf = BytesMut::new();
    loop {
        if let Some(rec) = dec.decode(&mut buf).unwrap() {
            let r = rpc::decode_reply(&rec).unwrap();
            assert!(r.status.is_success(), "call {prog}/{proc_}: {:?}", r.status);
            return r.body.to_vec();
        }
        assert_ne!(s.read_buf(&mut buf).await.unwrap(), 0, "daemon closed");
    }
}

/// A lock owner on a client host.
#[derive(Clone, Copy)]
struct Owner {
    host: &'static [u8],
    svid: i32,
    oh: &'static [u8],
}

const A: Owner = Owner {
    host: b"host-a",
    svid: 101,
    oh: b"101@host-a",
};
const B: Owner = Owner {
    host: b"host-b",
    svid: 202,
    oh: b"202@host-b",
};

fn alock<'a>(o: Owner, fh: &'a [u8], offset: u64, len: u64) -> Nlm4Lock<'a> {
    Nlm4Lock {
        caller_name: o.host,
        fh: NetObj(fh),
        oh: NetObj(o.oh),
        svid: o.svid,
        l_offset: offset,
        l_len: len,
    }
}

/// The lock manager client the test drives.
struct Nlm {
    port: u16,
    fh: Vec<u8>,
}

impl Nlm {
    async fn nlm(&self, c: nlm4::Call<'_>) -> Vec<u8> {
        call(
            self.port,
            nlm4::PROGRAM,
            nlm4::VERSION,
            c.proc_().as_u32(),
            &encode_to_vec(&c),
        )
        .await
    }

    async fn res(&self, c: nlm4::Call<'_>) -> Nlm4Stat {
        let p = c.proc_();
        let body = self.nlm(c).await;
        match nlm4::decode_reply(p, &body).unwrap() {
            nlm4::Reply::Res(r) => r.stat,
            other => panic!("{}: {other:?}", p.name()),
        }
    }

    fn lock_args(
        &self,
        o: Owner,
        off: u64,
        len: u64,
        ex: bool,
        block: bool,
        reclaim: bool,
    ) -> Nlm4LockArgs<'_> {
        Nlm4LockArgs {
            cookie: NetObj(b"ck"),
            block,
            exclusive: ex,
            alock: alock(o, &self.fh, off, len),
            reclaim,
            state: 1,
        }
    }

    async fn lock(&self, o: Owner, off: u64, len: u64, ex: bool, block: bool) -> Nlm4Stat {
        self.res(nlm4::Call::Lock(
            self.lock_args(o, off, len, ex, block, false),
        ))
        .await
    }

    async fn unlock(&self, o: Owner, off: u64, len: u64) -> Nlm4Stat {
        self.res(nlm4::Call::Unlock(Nlm4UnlockArgs {
            cookie: NetObj(b"u"),
            alock: alock(o, &self.fh, off, len),
        }))
        .await
    }

    /// TEST: `None` when granted, else the holder's (svid, offset, len, exclusive).
    async fn test(
        &self,
        o: Owner,
        off: u64,
        len: u64,
        ex: bool,
    ) -> Result<Option<(i32, u64, u64, bool)>, Nlm4Stat> {
        let c = nlm4::Call::Test(Nlm4TestArgs {
            cookie: NetObj(b"t"),
            exclusive: ex,
            alock: alock(o, &self.fh, off, len),
        });
        let body = self.nlm(c).await;
        let nlm4::Reply::Test(r) = nlm4::decode_reply(NlmProc::Test, &body).unwrap() else {
            panic!("TEST reply")
        };
        match r.stat {
            Nlm4TestReply::Denied(h) => Ok(Some((h.svid, h.l_offset, h.l_len, h.exclusive))),
            Nlm4TestReply::Other(Nlm4Stat::GRANTED) => Ok(None),
            Nlm4TestReply::Other(s) => Err(s),
        }
    }
}

/// A daemon with a short grace period whose client-side callbacks reach `client_port`.
fn daemon(dir: &std::path::Path, client_port: u16) -> Daemon {
    let mut d = Daemon::new(env!("CARGO_BIN_EXE_dittofs"), dir);
    d.launcher = vec![
        OsString::from("env"),
        OsString::from("DITTOFS_ADAPTERS__NFS__LOCKING__GRACE_PERIOD=3s"),
        OsString::from(format!(
            "DITTOFS_ADAPTERS__NFS__LOCKING__CLIENT_PORTMAPPER_PORT={client_port}"
        )),
        OsString::from("DITTOFS_ADAPTERS__NFS__LOCKING__SERVER_NAME=dittofs-test"),
    ];
    d.spawn();
    d
}

async fn next(rx: &mut mpsc::Receiver<Callback>) -> Callback {
    tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .expect("a callback within 10 s")
        .expect("the fake client runs")
}

/// Goal: see the module documentation (everything but the restart).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_test_block_cancel_free() {
    let dir = tempfile::tempdir().unwrap();
    let (client_port, mut rx) = fake_client().await;
    let d = daemon(dir.path(), client_port);
    let mut m = mount("127.0.0.1", d.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();
    let f = create(&mut m, &root, "locked", 0o644).await.unwrap();
    let n = Nlm {
        port: d.port,
        fh: f.data.0.to_vec(),
    };

    // Registered with the portmapper on the NFS port, over TCP.
    for (prog, vers) in [(nlm4::PROGRAM, 4), (nsm::PROGRAM, 1)] {
        let m = Mapping {
            prog,
            vers,
            prot: portmap::IPPROTO_TCP,
            port: 0,
        };
        let body = call(d.port, portmap::PROGRAM, 2, 3, &encode_to_vec(&m)).await;
        assert_eq!(
            portmap::decode_reply(PortmapProc::Getport, &body).unwrap(),
            portmap::Reply::Getport(u32::from(d.port)),
            "GETPORT {prog} v{vers}"
        );
    }
    // No restart with monitored hosts before: no grace period. NSM STAT answers state 1.
    let body = call(
        d.port,
        nsm::PROGRAM,
        1,
        NsmProc::Stat.as_u32(),
        &encode_to_vec(&nsm::Call::Stat(b"x")),
    )
    .await;
    assert_eq!(
        nsm::decode_reply(NsmProc::Stat, &body).unwrap(),
        nsm::Reply::StatRes {
            res: nsm::SmRes::SUCC,
            state: 1
        }
    );

    // A takes bytes 0..100 exclusively; B's TEST sees A; B's non-blocking LOCK is refused.
    assert_eq!(n.lock(A, 0, 100, true, false).await, Nlm4Stat::GRANTED);
    assert_eq!(
        n.test(B, 50, 10, false).await,
        Ok(Some((A.svid, 0, 100, true)))
    );
    assert_eq!(
        n.test(A, 50, 10, true).await,
        Ok(None),
        "an owner never conflicts with itself"
    );
    assert_eq!(n.lock(B, 50, 10, false, false).await, Nlm4Stat::DENIED);
    // A shared lock to the end of the file shows as l_len 0; shared locks stack.
    assert_eq!(n.lock(A, 1000, 0, false, false).await, Nlm4Stat::GRANTED);
    assert_eq!(n.lock(B, 2000, 0, false, false).await, Nlm4Stat::GRANTED);
    assert_eq!(
        n.test(B, 5000, 1, true).await,
        Ok(Some((A.svid, 1000, 0, false)))
    );
    assert_eq!(n.unlock(B, 2000, 0).await, Nlm4Stat::GRANTED);
    assert_eq!(n.unlock(A, 1000, 0).await, Nlm4Stat::GRANTED);

    // POSIX partial unlock: A releases 0..50 and keeps 50..100.
    assert_eq!(n.unlock(A, 0, 50).await, Nlm4Stat::GRANTED);
    assert_eq!(n.lock(B, 0, 10, true, false).await, Nlm4Stat::GRANTED);
    assert_eq!(
        n.test(B, 60, 10, true).await,
        Ok(Some((A.svid, 50, 50, true)))
    );

    // Blocking: B waits for 60..70; A's unlock grants it and the server calls B back.
    assert_eq!(n.lock(B, 60, 10, true, true).await, Nlm4Stat::BLOCKED);
    assert_eq!(
        n.lock(B, 60, 10, true, true).await,
        Nlm4Stat::BLOCKED,
        "a re-sent LOCK stays blocked"
    );
    assert_eq!(n.unlock(A, 50, 50).await, Nlm4Stat::GRANTED);
    assert_eq!(
        next(&mut rx).await,
        Callback::Granted {
            svid: B.svid,
            offset: 60,
            len: 10
        }
    );
    assert_eq!(
        n.test(A, 65, 1, false).await,
        Ok(Some((B.svid, 60, 10, true)))
    );

    // CANCEL: A waits for 60..70, then cancels; B's unlock then grants nothing to A.
    assert_eq!(n.lock(A, 60, 10, true, true).await, Nlm4Stat::BLOCKED);
    let cancel = nlm4::Call::Cancel(Nlm4CancArgs {
        cookie: NetObj(b"c"),
        block: true,
        exclusive: true,
        alock: alock(A, &n.fh, 60, 10),
    });
    assert_eq!(n.res(cancel).await, Nlm4Stat::GRANTED);
    assert_eq!(n.unlock(B, 60, 10).await, Nlm4Stat::GRANTED);
    assert_eq!(
        n.test(B, 60, 10, true).await,
        Ok(None),
        "the cancelled request took nothing"
    );

    // The asynchronous form: LOCK_MSG's answer comes as a LOCK_RES call.
    let body = n
        .nlm(nlm4::Call::LockMsg(
            n.lock_args(B, 0, 0, true, false, false),
        ))
        .await;
    assert!(body.is_empty(), "a _MSG call has an empty reply");
    assert_eq!(
        next(&mut rx).await,
        Callback::Res {
            proc_: NlmProc::LockRes,
            stat: Nlm4Stat::GRANTED
        }
    );

    // FREE_ALL for B frees its whole-file lock (and the earlier 0..10).
    assert_eq!(n.lock(A, 0, 1, true, false).await, Nlm4Stat::DENIED);
    let free = nlm4::Call::FreeAll(Nlm4Notify {
        name: B.host,
        state: 3,
    });
    assert!(n.nlm(free).await.is_empty());
    assert_eq!(n.lock(A, 0, 0, true, false).await, Nlm4Stat::GRANTED);

    // A client's SM_NOTIFY (it rebooted) frees its locks.
    let notify = nsm::Call::Notify(StatChge {
        mon_name: A.host,
        state: 5,
    });
    call(
        d.port,
        nsm::PROGRAM,
        1,
        NsmProc::Notify.as_u32(),
        &encode_to_vec(&notify),
    )
    .await;
    assert_eq!(n.test(B, 0, 0, true).await, Ok(None));

    // DOS share reservations: A reads and writes, denying writes; B may read, not write.
    let share = |o: Owner, access: u32, mode: u32, unshare: bool| {
        let a = Nlm4ShareArgs {
            cookie: NetObj(b"s"),
            share: Nlm4Share {
                caller_name: o.host,
                fh: NetObj(&n.fh),
                oh: NetObj(o.oh),
                mode: Fsh4Mode(mode),
                access: Fsh4Access(access),
            },
            reclaim: false,
        };
        if unshare {
            nlm4::Call::Unshare(a)
        } else {
            nlm4::Call::Share(a)
        }
    };
    let share_stat = |body: Vec<u8>, p: NlmProc| match nlm4::decode_reply(p, &body).unwrap() {
        nlm4::Reply::Share(r) => r.stat,
        other => panic!("{other:?}"),
    };
    let rw = Fsh4Access::READ_WRITE.0;
    let (r, w) = (Fsh4Access::READ.0, Fsh4Access::WRITE.0);
    let s = n.nlm(share(A, rw, Fsh4Mode::DENY_WRITE.0, false)).await;
    assert_eq!(share_stat(s, NlmProc::Share), Nlm4Stat::GRANTED);
    let s = n.nlm(share(B, w, Fsh4Mode::DENY_NONE.0, false)).await;
    assert_eq!(
        share_stat(s, NlmProc::Share),
        Nlm4Stat::DENIED,
        "a writer against deny-write"
    );
    let s = n.nlm(share(B, r, Fsh4Mode::DENY_NONE.0, false)).await;
    assert_eq!(share_stat(s, NlmProc::Share), Nlm4Stat::GRANTED);
    let s = n.nlm(share(A, rw, Fsh4Mode::DENY_WRITE.0, true)).await;
    assert_eq!(share_stat(s, NlmProc::Unshare), Nlm4Stat::GRANTED);
    let s = n.nlm(share(B, w, Fsh4Mode::DENY_NONE.0, false)).await;
    assert_eq!(
        share_stat(s, NlmProc::Share),
        Nlm4Stat::GRANTED,
        "after UNSHARE"
    );

    // A handle the server did not issue is NLM4_STALE_FH.
    let bad = Nlm {
        port: d.port,
        fh: vec![1; 37],
    };
    assert_eq!(bad.lock(A, 0, 1, true, false).await, Nlm4Stat::STALE_FH);
}

/// Goal: a restart bumps the NSM state, notifies the client that held locks and holds a
/// grace period in which only reclaims succeed; after it, normal locking resumes and a late
/// reclaim is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_notifies_and_grace_period() {
    let dir = tempfile::tempdir().unwrap();
    let (client_port, mut rx) = fake_client().await;
    let mut d = daemon(dir.path(), client_port);
    let mut m = mount("127.0.0.1", d.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();
    let f = create(&mut m, &root, "reclaimed", 0o644).await.unwrap();
    let n = Nlm {
        port: d.port,
        fh: f.data.0.to_vec(),
    };
    assert_eq!(n.lock(A, 0, 10, true, false).await, Nlm4Stat::GRANTED);

    d.kill9();
    d.spawn();
    let started = std::time::Instant::now();
    assert_eq!(
        next(&mut rx).await,
        Callback::Notify {
            name: b"dittofs-test".to_vec(),
            state: 3
        },
        "SM_NOTIFY with the next odd state"
    );
    // In grace: B's new lock and TEST wait; A's reclaim succeeds.
    assert_eq!(
        n.lock(B, 100, 10, true, false).await,
        Nlm4Stat::DENIED_GRACE_PERIOD
    );
    assert_eq!(
        n.test(B, 0, 10, true).await,
        Err(Nlm4Stat::DENIED_GRACE_PERIOD)
    );
    let reclaim = nlm4::Call::Lock(n.lock_args(A, 0, 10, true, false, true));
    assert_eq!(n.res(reclaim).await, Nlm4Stat::GRANTED);
    // After the grace period (3 s): the reclaimed lock holds, new locks work, a late
    // reclaim is refused.
    tokio::time::sleep(
        Duration::from_secs(3).saturating_sub(started.elapsed()) + Duration::from_millis(300),
    )
    .await;
    assert_eq!(n.lock(B, 0, 10, true, false).await, Nlm4Stat::DENIED);
    assert_eq!(n.lock(B, 100, 10, true, false).await, Nlm4Stat::GRANTED);
    let late = nlm4::Call::Lock(n.lock_args(B, 200, 10, true, false, true));
    assert_eq!(n.res(late).await, Nlm4Stat::DENIED_GRACE_PERIOD);
}

/// Goal: NFS and SMB locks on one file conflict both ways: an NLM lock refuses an SMB lock and
/// SMB reads and writes of its range; an SMB lock makes NLM LOCK fail and NLM TEST name it (as
/// svid 0); closing the SMB file frees the range for NLM.
/// Method: `tests/smb/smbprotocol_nlm.py` (Python's smbprotocol) on the SMB side, step by step
/// over its stdin and stdout; NLM through the codecs here; the file is found over NFS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nfs_and_smb_locks_conflict() {
    const PASSWORD: &str = "nlm-cross-pw";
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
    let port = d.smb_port.unwrap().to_string();
    let mut py = StepScript::python(
        "tests/smb/smbprotocol_nlm.py",
        &[&port, "export", "alice", PASSWORD],
    );
    py.expect("SMB-CREATED").await;

    let mut m = mount("127.0.0.1", d.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();
    let f = testkit::nfs::lookup(&mut m, &root, "cross.dat")
        .await
        .unwrap();
    let n = Nlm {
        port: d.port,
        fh: f.data.0.to_vec(),
    };
    assert_eq!(n.lock(A, 0, 10, true, false).await, Nlm4Stat::GRANTED);
    py.go();
    py.expect("SMB-REFUSED-UNDER-NLM").await;
    py.expect("SMB-LOCK-HELD").await;
    assert_eq!(n.lock(B, 25, 1, false, false).await, Nlm4Stat::DENIED);
    assert_eq!(
        n.test(B, 25, 1, false).await,
        Ok(Some((0, 20, 10, true))),
        "the SMB holder"
    );
    py.go();
    py.expect("SMB-DONE").await;
    assert!(py.success());
    assert_eq!(
        n.lock(B, 25, 1, true, false).await,
        Nlm4Stat::GRANTED,
        "closing freed the SMB lock"
    );
}

/// Goal: two gateways (two `dittofs` processes) on one PostgreSQL database share their NLM
/// locks: a lock taken through A refuses a conflicting lock through B, and TEST through B names
/// A's owner; A's unlock lets B lock; a blocking LOCK through A that B's lock stops is granted
/// (with the GRANTED callback) once B unlocks; and when A is killed with -9 holding a lock, B
/// may take the range once A's lock session expires (`lock_session_ttl: 1s` here), not before.
/// Method: `testkit::gateway` processes on a `PgServer` database and a shared content
/// directory, NLM calls built with the codecs here, one fake client side for both gateways.
#[cfg(feature = "postgres")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn locks_across_gateways() {
    use std::time::Instant;

    use testkit::gateway::{Content, gateway};

    let pg = testkit::postgres::PgServer::start();
    let url = pg.database();
    let dir = tempfile::tempdir().unwrap();
    let content = Content::Dir(dir.path().join("content"));
    let (client_port, mut rx) = fake_client().await;
    let start = |name: &str| {
        let mut d = gateway(
            env!("CARGO_BIN_EXE_dittofs"),
            &dir.path().join(name),
            &url,
            &content,
        );
        let config = std::fs::read_to_string(&d.config).unwrap().replace(
            "max_connections: 8",
            "max_connections: 8, lock_session_ttl: 1s",
        );
        std::fs::write(&d.config, config).unwrap();
        d.launcher = vec![
            OsString::from("env"),
            OsString::from(format!(
                "DITTOFS_ADAPTERS__NFS__LOCKING__CLIENT_PORTMAPPER_PORT={client_port}"
            )),
        ];
        d.spawn();
        d
    };
    let mut a = start("a");
    let b = start("b");
    let mut m = mount("127.0.0.1", a.port, "/export", 0, 0).await.unwrap();
    let root = m.root_nfs_fh3();
    let f = create(&mut m, &root, "shared-lock", 0o644).await.unwrap();
    let fh = f.data.0.to_vec();
    let (na, nb) = (
        Nlm {
            port: a.port,
            fh: fh.clone(),
        },
        Nlm { port: b.port, fh },
    );

    // A's lock through gateway A stops B's through gateway B; TEST through B names it.
    assert_eq!(na.lock(A, 0, 100, true, false).await, Nlm4Stat::GRANTED);
    assert_eq!(nb.lock(B, 50, 10, false, false).await, Nlm4Stat::DENIED);
    assert_eq!(
        nb.test(B, 50, 10, false).await,
        Ok(Some((A.svid, 0, 100, true))),
        "TEST through B names A's lock taken through A"
    );
    // Shared locks of both stack; a range beside A's is free.
    assert_eq!(nb.lock(B, 100, 10, true, false).await, Nlm4Stat::GRANTED);
    assert_eq!(nb.unlock(B, 100, 10).await, Nlm4Stat::GRANTED);
    // A's unlock through A frees the range for B.
    assert_eq!(na.unlock(A, 0, 100).await, Nlm4Stat::GRANTED);
    assert_eq!(nb.lock(B, 50, 10, true, false).await, Nlm4Stat::GRANTED);

    // Blocking through A behind B's lock: BLOCKED, then granted (called back) after B's
    // unlock, and held: B is refused again.
    assert_eq!(na.lock(A, 0, 100, true, true).await, Nlm4Stat::BLOCKED);
    assert_eq!(nb.unlock(B, 50, 10).await, Nlm4Stat::GRANTED);
    assert_eq!(
        next(&mut rx).await,
        Callback::Granted {
            svid: A.svid,
            offset: 0,
            len: 100
        }
    );
    assert_eq!(nb.lock(B, 0, 1, false, false).await, Nlm4Stat::DENIED);

    // A dies holding 0..100: B stays refused until A's session expires, then gets it.
    a.kill9();
    let killed = Instant::now();
    assert_eq!(
        nb.lock(B, 0, 10, true, false).await,
        Nlm4Stat::DENIED,
        "a killed gateway's lock holds until its session expires"
    );
    loop {
        let stat = nb.lock(B, 0, 10, true, false).await;
        if stat == Nlm4Stat::GRANTED {
            break;
        }
        assert_eq!(stat, Nlm4Stat::DENIED);
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "A's lock outlived its 1 s session by far"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    drop(b);
}
