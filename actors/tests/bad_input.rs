//! End-to-end: the real `dittofs` binary against hostile and broken peers.
//!
//! Goal: random, truncated and oversized records and malformed calls get the protocol's answer
//! (GARBAGE_ARGS, PROG_UNAVAIL, PROG_MISMATCH, PROC_UNAVAIL, RPC_MISMATCH, AUTH_ERROR) or a
//! closed connection, never a crash or a hang; a well-behaved client on another connection is
//! served throughout; and the server's peak memory stays under the bound that
//! docs/ARCHITECTURE.md ("Memory bounds") documents for peers that only send garbage.
//!
//! Method: the hostile peers are raw TCP sockets speaking hand-encoded XDR (this file's own
//! encoder, deliberately independent of the `protocol` crate under test); the well-behaved
//! client is the `nfs3_client` crate writing, syncing and reading back files in a loop while
//! the garbage flies. Peak memory is the daemon's `VmHWM` from /proc.

#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "a test against the real binary measures real elapsed time"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nfs3_client::Nfs3ConnectionBuilder;
use nfs3_client::nfs3_types::nfs3::{
    CREATE3args, Nfs3Option, Nfs3Result, READ3args, WRITE3args, createhow3, diropargs3, filename3,
    sattr3, stable_how,
};
use nfs3_client::nfs3_types::rpc::{auth_unix, opaque_auth};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::tokio::TokioConnector;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use testkit::Daemon;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const PORTMAP: u32 = 100_000;
const NFS: u32 = 100_003;
const MOUNT: u32 = 100_005;

// accept_stat (RFC 5531 §9)
const SUCCESS: u32 = 0;
const PROG_UNAVAIL: u32 = 1;
const PROG_MISMATCH: u32 = 2;
const PROC_UNAVAIL: u32 = 3;
const GARBAGE_ARGS: u32 = 4;
// reject_stat
const RPC_MISMATCH: u32 = 0;
const AUTH_ERROR: u32 = 1;

/// How long any single answer may take before the test calls it a hang.
const ANSWER_WITHIN: Duration = Duration::from_secs(10);

/// Connections that each hold one maximal unfinished record in the memory phase.
const HOLDERS: usize = 64;
/// docs/ARCHITECTURE.md "Memory bounds": what a connection sending garbage may cost (one
/// record plus the read buffer).
const PER_CONNECTION_BOUND: u64 = (22 << 20) / 10;
/// Allowance for everything else that may grow during the test: the allocator's arenas for
/// the extra threads, RocksDB's memtable, the duplicate request cache.
const SLACK: u64 = 64 << 20;

// ---- a minimal XDR encoder and reply parser, independent of the crate under test ----

fn u32_(v: &mut Vec<u8>, x: u32) {
    v.extend_from_slice(&x.to_be_bytes());
}

fn opaque(v: &mut Vec<u8>, bytes: &[u8]) {
    u32_(v, bytes.len() as u32);
    v.extend_from_slice(bytes);
    v.resize(v.len() + (4 - bytes.len() % 4) % 4, 0);
}

fn auth_none() -> Vec<u8> {
    vec![0; 8]
}

fn auth_sys(uid: u32, gid: u32, gids: &[u32]) -> Vec<u8> {
    let mut body = Vec::new();
    u32_(&mut body, 1);
    opaque(&mut body, b"bad-input-test");
    u32_(&mut body, uid);
    u32_(&mut body, gid);
    u32_(&mut body, gids.len() as u32);
    for g in gids {
        u32_(&mut body, *g);
    }
    let mut v = Vec::new();
    u32_(&mut v, 1);
    opaque(&mut v, &body);
    v
}

/// A CALL message: xid, CALL, rpcvers, prog, vers, proc, cred, AUTH_NONE verifier, args.
fn call(
    xid: u32,
    rpcvers: u32,
    prog: u32,
    vers: u32,
    proc_: u32,
    cred: &[u8],
    args: &[u8],
) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [xid, 0, rpcvers, prog, vers, proc_] {
        u32_(&mut v, x);
    }
    v.extend_from_slice(cred);
    v.extend_from_slice(&auth_none());
    v.extend_from_slice(args);
    v
}

/// One record in one last fragment.
fn framed(payload: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(payload.len() + 4);
    u32_(&mut v, 0x8000_0000 | payload.len() as u32);
    v.extend_from_slice(payload);
    v
}

#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// MSG_ACCEPTED: accept_stat and what follows it.
    Accepted { xid: u32, stat: u32, rest: Vec<u32> },
    /// MSG_DENIED: reject_stat and what follows it.
    Denied { xid: u32, stat: u32, rest: Vec<u32> },
}

impl Reply {
    /// The words after an accepted SUCCESS; panics with `what` on any other reply.
    fn success(self, what: &str) -> Vec<u32> {
        match self {
            Self::Accepted {
                stat: SUCCESS,
                rest,
                ..
            } => rest,
            other => panic!("{what}: {other:?}"),
        }
    }

    fn xid(&self) -> u32 {
        match self {
            Self::Accepted { xid, .. } | Self::Denied { xid, .. } => *xid,
        }
    }
}

fn parse_reply(rec: &[u8]) -> Reply {
    let words: Vec<u32> = rec
        .chunks(4)
        .map(|c| {
            let mut w = [0u8; 4];
            w[..c.len()].copy_from_slice(c);
            u32::from_be_bytes(w)
        })
        .collect();
    assert!(words.len() >= 3, "reply too short: {rec:?}");
    assert_eq!(words[1], 1, "not a REPLY message");
    let xid = words[0];
    match words[2] {
        0 => {
            // verifier: flavor, length, body (padded)
            let vlen = words[4] as usize;
            let at = 5 + vlen.div_ceil(4);
            Reply::Accepted {
                xid,
                stat: words[at],
                rest: words[at + 1..].to_vec(),
            }
        }
        1 => Reply::Denied {
            xid,
            stat: words[3],
            rest: words[4..].to_vec(),
        },
        other => panic!("reply_stat {other}"),
    }
}

/// A raw connection to the server.
struct Raw {
    s: TcpStream,
}

impl Raw {
    async fn connect(port: u16) -> Self {
        Self {
            s: TcpStream::connect(("127.0.0.1", port)).await.unwrap(),
        }
    }

    /// Sends bytes; `false` if the server already closed the connection.
    async fn send(&mut self, bytes: &[u8]) -> bool {
        self.s.write_all(bytes).await.is_ok()
    }

    /// The next reply record, or `None` when the server closed the connection. Panics if the
    /// server neither answers nor closes within [`ANSWER_WITHIN`].
    async fn reply(&mut self) -> Option<Reply> {
        tokio::time::timeout(ANSWER_WITHIN, self.read_record())
            .await
            .expect("the server neither answered nor closed the connection")
            .map(|r| parse_reply(&r))
    }

    async fn read_record(&mut self) -> Option<Vec<u8>> {
        let mut rec = Vec::new();
        loop {
            let h = self.s.read_u32().await.ok()?;
            let len = (h & 0x7fff_ffff) as usize;
            assert!(len <= 2 << 20, "reply fragment of {len} bytes");
            let at = rec.len();
            rec.resize(at + len, 0);
            self.s.read_exact(&mut rec[at..]).await.ok()?;
            if h & 0x8000_0000 != 0 {
                return Some(rec);
            }
        }
    }

    /// Waits for the server to close the connection (EOF or reset), reading and discarding
    /// anything it still sends. Panics on a hang.
    async fn closed(&mut self) {
        let mut buf = vec![0u8; 64 << 10];
        tokio::time::timeout(ANSWER_WITHIN, async {
            loop {
                match self.s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await
        .expect("the server kept a connection with broken record marking open");
    }

    /// Sends `record` as a call and returns the answer to it.
    async fn ask(&mut self, record: &[u8]) -> Reply {
        assert!(self.send(&framed(record)).await, "connection closed");
        self.reply()
            .await
            .expect("connection closed instead of answering")
    }
}

/// The root handle, by a raw MOUNT MNT.
async fn root_handle(port: u16) -> Vec<u8> {
    let mut raw = Raw::connect(port).await;
    let mut args = Vec::new();
    opaque(&mut args, b"/export");
    let r = raw
        .ask(&call(1, 2, MOUNT, 3, 1, &auth_sys(0, 0, &[]), &args))
        .await;
    let rest = r.success("MNT");
    assert_eq!(rest[0], 0, "mountstat3");
    let len = rest[1] as usize;
    rest[2..2 + len.div_ceil(4)]
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .take(len)
        .collect()
}

fn peak_rss(pid: u32) -> u64 {
    proc_status_kib(pid, "VmHWM:") << 10
}

fn rss(pid: u32) -> u64 {
    proc_status_kib(pid, "VmRSS:") << 10
}

fn proc_status_kib(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{key} missing from /proc/{pid}/status"))
}

/// A well-behaved client: mounts with `nfs3_client`, then until `stop` writes 256 KiB
/// FILE_SYNC, reads it back and compares, counting rounds in `rounds`.
async fn good_client(port: u16, stop: Arc<AtomicBool>, rounds: Arc<AtomicU64>) {
    let mut m = Nfs3ConnectionBuilder::new(TokioConnector, "127.0.0.1", "/export")
        .portmapper_port(port)
        .connect_from_privileged_port(false)
        .credential(opaque_auth::auth_unix(&auth_unix {
            stamp: 1,
            machinename: Opaque::borrowed(b"good-client"),
            uid: 0,
            gid: 0,
            gids: Vec::new(),
        }))
        .mount()
        .await
        .unwrap();
    let root = m.root_nfs_fh3();
    let r = m
        .create(&CREATE3args {
            where_: diropargs3 {
                dir: root,
                name: filename3(Opaque::borrowed(b"good")),
            },
            how: createhow3::UNCHECKED(sattr3 {
                mode: Nfs3Option::Some(0o644),
                ..sattr3::default()
            }),
        })
        .await
        .unwrap();
    let Nfs3Result::Ok(created) = r else {
        panic!("CREATE: {r:?}");
    };
    let f = created.obj.unwrap();
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut data = vec![0u8; 256 << 10];
    let mut round = 0u64;
    while !stop.load(Ordering::Acquire) || round == 0 {
        rng.fill_bytes(&mut data);
        let w = tokio::time::timeout(
            ANSWER_WITHIN,
            m.write(&WRITE3args {
                file: f.clone(),
                offset: 0,
                count: data.len() as u32,
                stable: stable_how::FILE_SYNC,
                data: Opaque::borrowed(&data),
            }),
        )
        .await
        .expect("the good client's WRITE hung")
        .unwrap();
        assert!(matches!(w, Nfs3Result::Ok(_)), "good client's WRITE: {w:?}");
        let r = tokio::time::timeout(
            ANSWER_WITHIN,
            m.read(&READ3args {
                file: f.clone(),
                offset: 0,
                count: data.len() as u32,
            }),
        )
        .await
        .expect("the good client's READ hung")
        .unwrap();
        let Nfs3Result::Ok(r) = r else {
            panic!("good client's READ: {r:?}");
        };
        assert_eq!(&r.data[..], &data[..], "good client read back other bytes");
        round += 1;
        rounds.store(round, Ordering::Release);
    }
}

/// Goal and method: see the module documentation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_peers_get_errors_or_closed_connections_and_cost_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let mut d = Daemon::start(env!("CARGO_BIN_EXE_dittofs"), dir.path());
    let port = d.port;
    let pid = d.pid();

    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let good = tokio::spawn(good_client(port, stop.clone(), rounds.clone()));
    while rounds.load(Ordering::Acquire) == 0 {
        assert!(
            !good.is_finished(),
            "the good client failed before any garbage was sent"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let rss_before = rss(pid);
    let fh = root_handle(port).await;
    let sys = auth_sys(0, 0, &[]);
    let mut raw = Raw::connect(port).await;
    let mut xid = 1000u32;
    let mut next = || {
        xid += 1;
        xid
    };

    // 1. Calls whose header is fine but whose arguments are not.
    let mut huge_fh = Vec::new();
    u32_(&mut huge_fh, 0x7fff_ffff);
    let mut short_write = Vec::new();
    opaque(&mut short_write, &fh);
    for x in [0u32, 0, 16, 2] {
        u32_(&mut short_write, x); // offset (2 words), count, stable
    }
    u32_(&mut short_write, 0x7fff_fff0); // data length far beyond the record
    let mut long_name = Vec::new();
    opaque(&mut long_name, &fh);
    opaque(&mut long_name, &[b'x'; 1000]);
    let mut long_path = Vec::new();
    opaque(&mut long_path, &vec![b'/'; 5000]);
    let cases: Vec<(&str, Vec<u8>, u32)> = vec![
        (
            "GETATTR without a handle",
            call(0, 2, NFS, 3, 1, &sys, &[]),
            GARBAGE_ARGS,
        ),
        (
            "GETATTR with a 2 GiB handle",
            call(0, 2, NFS, 3, 1, &sys, &huge_fh),
            GARBAGE_ARGS,
        ),
        (
            "WRITE whose data runs past the record",
            call(0, 2, NFS, 3, 7, &sys, &short_write),
            GARBAGE_ARGS,
        ),
        (
            "MNT with a 5,000-byte path",
            call(0, 2, MOUNT, 3, 1, &sys, &long_path),
            GARBAGE_ARGS,
        ),
        (
            "MNT without a path",
            call(0, 2, MOUNT, 3, 1, &sys, &[]),
            GARBAGE_ARGS,
        ),
        (
            "GETPORT with half its arguments",
            call(0, 2, PORTMAP, 2, 3, &sys, &[0, 1, 0x86, 0xa3, 0, 0, 0]),
            GARBAGE_ARGS,
        ),
        (
            "an unknown program",
            call(0, 2, 100_099, 1, 0, &sys, &[]),
            PROG_UNAVAIL,
        ),
        (
            "NFS procedure 22",
            call(0, 2, NFS, 3, 22, &sys, &[]),
            PROC_UNAVAIL,
        ),
        (
            "NFS procedure 0xffffffff",
            call(0, 2, NFS, 3, u32::MAX, &sys, &[]),
            PROC_UNAVAIL,
        ),
        (
            "MOUNT procedure 6",
            call(0, 2, MOUNT, 3, 6, &sys, &[]),
            PROC_UNAVAIL,
        ),
        (
            "portmapper procedure 9",
            call(0, 2, PORTMAP, 2, 9, &sys, &[]),
            PROC_UNAVAIL,
        ),
    ];
    for (what, mut rec, want) in cases {
        let x = next();
        rec[..4].copy_from_slice(&x.to_be_bytes());
        let r = raw.ask(&rec).await;
        assert_eq!(r.xid(), x, "{what}: answer to another call");
        assert!(
            matches!(r, Reply::Accepted { stat, .. } if stat == want),
            "{what}: want accept_stat {want}, got {r:?}"
        );
    }
    // A LOOKUP of a 1,000-byte name decodes (names are unbounded in XDR) and is refused by NFS.
    let x = next();
    let r = raw.ask(&call(x, 2, NFS, 3, 3, &sys, &long_name)).await;
    let rest = r.success("LOOKUP of a long name");
    assert_eq!(rest[0], 63, "NFS3ERR_NAMETOOLONG");

    // 2. Version mismatches answer the supported range.
    for (what, prog, vers, low) in [
        ("NFS version 4", NFS, 4, 3),
        ("NFS version 2", NFS, 2, 3),
        ("MOUNT version 1", MOUNT, 1, 3),
        ("portmapper version 4", PORTMAP, 4, 2),
    ] {
        let x = next();
        let r = raw.ask(&call(x, 2, prog, vers, 0, &sys, &[])).await;
        assert_eq!(
            r,
            Reply::Accepted {
                xid: x,
                stat: PROG_MISMATCH,
                rest: vec![low, low]
            },
            "{what}"
        );
    }
    let x = next();
    let r = raw.ask(&call(x, 3, NFS, 3, 0, &sys, &[])).await;
    assert!(
        matches!(&r, Reply::Denied { stat: RPC_MISMATCH, rest, .. } if rest[..2] == [2, 2]),
        "RPC version 3: {r:?}"
    );

    // 3. Credentials the server does not take.
    let mut gss = Vec::new();
    u32_(&mut gss, 6); // RPCSEC_GSS
    opaque(&mut gss, &[1, 2, 3, 4]);
    let gids: Vec<u32> = (0..17).collect();
    let mut oversized_body = Vec::new();
    u32_(&mut oversized_body, 1);
    opaque(&mut oversized_body, &[0; 404]);
    for (what, cred) in [
        ("RPCSEC_GSS", gss),
        ("AUTH_SYS with 17 groups", auth_sys(0, 0, &gids)),
        ("AUTH_SYS with a 404-byte body", oversized_body),
    ] {
        let x = next();
        let r = raw
            .ask(&call(x, 2, NFS, 3, 1, &cred, &{
                let mut a = Vec::new();
                opaque(&mut a, &fh);
                a
            }))
            .await;
        assert!(
            matches!(r, Reply::Denied { stat: AUTH_ERROR, xid, .. } if xid == x)
                || matches!(r, Reply::Accepted { stat: GARBAGE_ARGS, xid, .. } if xid == x),
            "{what}: {r:?}"
        );
    }

    // 4. Every NFS procedure with its arguments cut short or followed by random bytes:
    //    each answers, with GARBAGE_ARGS or an NFS status, and the connection stays usable.
    //    Zero-filled arguments of every length up to 64 bytes after the handle hit each
    //    procedure's exact length somewhere (so it decodes and reaches the share); random
    //    tails cut at random points mostly do not.
    let mut rng = ChaCha8Rng::seed_from_u64(0xbad_1407);
    let mut answered = [0u32; 2];
    let mut procs_reached = std::collections::BTreeSet::new();
    for proc_ in 1..=21u32 {
        for i in 0..41 {
            let mut args = Vec::new();
            opaque(&mut args, &fh);
            if i <= 16 {
                args.resize(args.len() + i * 4, 0);
            } else {
                let mut tail = vec![0u8; rng.random_range(0..300)];
                rng.fill_bytes(&mut tail);
                args.extend_from_slice(&tail);
                args.truncate(rng.random_range(0..=args.len()));
            }
            let x = next();
            let r = raw.ask(&call(x, 2, NFS, 3, proc_, &sys, &args)).await;
            assert_eq!(r.xid(), x);
            match r {
                Reply::Accepted { stat: SUCCESS, .. } => {
                    answered[0] += 1;
                    procs_reached.insert(proc_);
                }
                Reply::Accepted {
                    stat: GARBAGE_ARGS, ..
                } => answered[1] += 1,
                other => panic!("procedure {proc_}: {other:?}"),
            }
        }
    }
    println!(
        "mangled arguments: {} NFS statuses ({} procedures reached), {} GARBAGE_ARGS",
        answered[0],
        procs_reached.len(),
        answered[1]
    );
    assert!(answered[1] > 0);
    assert!(
        procs_reached.len() >= 18,
        "zero-filled arguments reached only procedures {procs_reached:?}"
    );

    // 5. Random records: anything that is not a call is dropped; a NULL call right after is
    //    answered on the same connection (or the connection was closed, and we reconnect).
    let mut closed = 0;
    let mut replies_to_garbage = 0;
    for i in 0..3000u32 {
        let mut rec = vec![0u8; rng.random_range(0..2048)];
        rng.fill_bytes(&mut rec);
        if i % 4 == 0 && rec.len() >= 24 {
            // A plausible call header (CALL, RPC 2, NFS 3, random procedure) over random bytes.
            let x = next();
            for (k, w) in [x, 0, 2, NFS, 3, rng.random_range(0..30)]
                .iter()
                .enumerate()
            {
                rec[k * 4..k * 4 + 4].copy_from_slice(&w.to_be_bytes());
            }
        } else if rec.len() >= 8 && rec[4..8] == [0, 0, 0, 0] {
            rec[7] = 1; // keep it a non-call: the DRC is not what this part tests
        }
        let null = next();
        let mut both = framed(&rec);
        both.extend_from_slice(&framed(&call(null, 2, NFS, 3, 0, &auth_none(), &[])));
        if !raw.send(&both).await {
            closed += 1;
            raw = Raw::connect(port).await;
            continue;
        }
        loop {
            match raw.reply().await {
                None => {
                    closed += 1;
                    raw = Raw::connect(port).await;
                    break;
                }
                Some(r) if r.xid() == null => {
                    assert!(
                        matches!(r, Reply::Accepted { stat: SUCCESS, .. }),
                        "NULL: {r:?}"
                    );
                    break;
                }
                Some(_) => replies_to_garbage += 1,
            }
        }
    }
    println!("random records: {replies_to_garbage} answered, {closed} connections closed");
    assert!(replies_to_garbage >= 500, "plausible calls went unanswered");

    // 6. Broken record marking closes the connection.
    let mut too_many = Vec::new();
    for _ in 0..100 {
        u32_(&mut too_many, 4);
        u32_(&mut too_many, 0);
    }
    let mut too_big = Vec::new();
    for _ in 0..3 {
        u32_(&mut too_big, 512 << 10);
        too_big.resize(too_big.len() + (512 << 10), 0x55);
    }
    for (what, bytes) in [
        ("a 2 GiB fragment", 0xffff_ffffu32.to_be_bytes().to_vec()),
        (
            "a 2 GiB non-last fragment",
            0x7fff_ffffu32.to_be_bytes().to_vec(),
        ),
        ("100 tiny fragments", too_many),
        ("a 1.5 MiB record in 512 KiB fragments", too_big),
    ] {
        let mut r = Raw::connect(port).await;
        let _ = r.send(&bytes).await;
        let t = Instant::now();
        r.closed().await;
        println!(
            "{what}: closed after {:.1} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
    }
    // A record cut short by the peer's close, and raw noise without framing.
    let mut r = Raw::connect(port).await;
    let mut cut = framed(&call(next(), 2, NFS, 3, 0, &sys, &[0; 1000]));
    cut.truncate(200);
    r.send(&cut).await;
    r.s.shutdown().await.unwrap();
    r.closed().await;
    let mut noise = vec![0u8; 64 << 10];
    rng.fill_bytes(&mut noise);
    noise[0] |= 0x7f; // a length far beyond FRAGMENT_MAX, whatever the last-fragment bit
    let mut r = Raw::connect(port).await;
    let _ = r.send(&noise).await;
    r.closed().await;

    // 7. Memory: many connections each holding a maximal unfinished record.
    let mut holders = Vec::new();
    let almost = vec![0xa5u8; (1 << 20) + (64 << 10) - 1];
    for _ in 0..HOLDERS {
        let mut h = Raw::connect(port).await;
        let mut bytes = Vec::new();
        u32_(&mut bytes, 0x8000_0000 | ((1 << 20) + (64 << 10)) as u32);
        bytes.extend_from_slice(&almost);
        assert!(h.send(&bytes).await, "a holder was refused");
        holders.push(h);
    }
    // Let the server read everything they sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(d.alive(), "the server died; log:\n{}", d.stderr_tail());
    let rss_holding = rss(pid);
    drop(holders);

    // The good client was served the whole time and still is.
    let before = rounds.load(Ordering::Acquire);
    let t = Instant::now();
    while rounds.load(Ordering::Acquire) < before + 3 {
        assert!(
            t.elapsed() < ANSWER_WITHIN,
            "the good client stalled after the garbage"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::Release);
    good.await.unwrap();

    let peak = peak_rss(pid);
    let bound = rss_before + HOLDERS as u64 * PER_CONNECTION_BOUND + SLACK;
    let mib = |b: u64| b as f64 / f64::from(1 << 20);
    println!(
        "RSS before {:.1} MiB, while {HOLDERS} connections held maximal records {:.1} MiB, \
         peak {:.1} MiB, bound {:.1} MiB; good client rounds {}",
        mib(rss_before),
        mib(rss_holding),
        mib(peak),
        mib(bound),
        rounds.load(Ordering::Acquire)
    );
    assert!(
        peak <= bound,
        "peak RSS {peak} above the documented bound {bound}"
    );
    assert_eq!(d.terminate(), Some(0), "log:\n{}", d.stderr_tail());
}
