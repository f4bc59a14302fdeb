//! End-to-end: two gateways (two real `dittofs start` processes) on one PostgreSQL database
//! (`testkit::postgres`) and one content store (a directory both use, or one S3 bucket in
//! moto) serve one share `/export` to many NFSv3 clients at once.
//!
//! Goal: the gateways behave as one server with per-gateway write caches: concurrent
//! namespace and data operations through both match a model (crossing directory renames never
//! detach a loop), a file closed through one gateway opens with its new bytes and attributes
//! through the other, handles move freely between them and outlive a gateway, each gateway
//! has its own write verifier and its COMMIT covers its own writes, and a `kill -9` of one
//! gateway under load costs its clients only their uncommitted bytes while the other keeps
//! serving.
//!
//! Method: the `nfs3_client` crate (an NFSv3 client nobody here wrote) over loopback, one
//! connection per client task; NFS3ERR_JUKEBOX is retried as a client would (contention may
//! slow a call, never fail it).
#![cfg(all(feature = "postgres", feature = "s3"))]
#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]
#![expect(
    clippy::disallowed_methods,
    reason = "a test against real processes waits in real time"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nfs3_client::Nfs3Client;
use nfs3_client::RpcError;
use nfs3_client::nfs3_types::nfs3::{
    ACCESS3args, COMMIT3args, CREATE3args, FSINFO3args, FSSTAT3args, GETATTR3args, LINK3args,
    LOOKUP3args, MKDIR3args, MKNOD3args, Nfs3Option, Nfs3Result, PATHCONF3args, READ3args,
    READDIR3args, READDIRPLUS3args, READLINK3args, REMOVE3args, RENAME3args, RMDIR3args,
    SETATTR3args, SYMLINK3args, WRITE3args, cookieverf3, createhow3, fattr3, ftype3, mknoddata3,
    nfs_fh3, nfspath3, nfsstat3, sattr3, sattrguard3, stable_how, symlinkdata3, writeverf3,
};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use testkit::Daemon;
use testkit::gateway::{Content, gateway};
use testkit::nfs::{Connector, Io, cred, dirop, mode, seeded_bytes};
use testkit::postgres::PgServer;
use testkit::s3::Moto;
use tokio::sync::Barrier;

type Client = Nfs3Client<Io>;
type Conn = nfs3_client::Nfs3Connection<Io>;

/// Awaits the NFS call `$call` (re-evaluated) again while it answers NFS3ERR_JUKEBOX, up to
/// 30 s; the transport result of the last answer.
macro_rules! rpc {
    ($call:expr) => {{
        let started = Instant::now();
        loop {
            match $call.await {
                Ok(Nfs3Result::Err((nfsstat3::NFS3ERR_JUKEBOX, _)))
                    if started.elapsed() < Duration::from_secs(30) =>
                {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                other => break other,
            }
        }
    }};
}

/// The value or the failure status of an answer.
fn st<T, E>(r: Nfs3Result<T, E>) -> Result<T, nfsstat3> {
    match r {
        Nfs3Result::Ok(v) => Ok(v),
        Nfs3Result::Err((s, _)) => Err(s),
    }
}

/// A success a check needs, or a panic naming the call and the status.
trait Must<T> {
    fn must(self, what: String) -> T;
}

impl<T> Must<T> for Result<T, nfsstat3> {
    #[track_caller]
    fn must(self, what: String) -> T {
        self.unwrap_or_else(|s| panic!("{what}: {s:?}"))
    }
}

/// Two gateways on one database and one content store, with what they run on.
struct Gateways {
    a: Daemon,
    b: Daemon,
    _pg: PgServer,
    _moto: Option<Moto>,
    _tmp: tempfile::TempDir,
}

impl Gateways {
    /// Starts PostgreSQL (and moto when `s3`), then gateways A and B.
    fn start(s3: bool) -> Self {
        let pg = PgServer::start();
        let url = pg.database();
        let tmp = tempfile::tempdir().unwrap();
        let moto = s3.then(Moto::start);
        let content = match &moto {
            Some(m) => Content::S3 {
                endpoint: m.endpoint(),
                bucket: "gateways".to_owned(),
            },
            None => Content::Dir(tmp.path().join("content")),
        };
        let bin = env!("CARGO_BIN_EXE_dittofs");
        let mut a = gateway(bin, &tmp.path().join("a"), &url, &content);
        let mut b = gateway(bin, &tmp.path().join("b"), &url, &content);
        a.spawn();
        b.spawn();
        Self {
            a,
            b,
            _pg: pg,
            _moto: moto,
            _tmp: tmp,
        }
    }
}

/// Mounts `/export` of gateway `d` as root.
async fn connect(d: &Daemon) -> Conn {
    nfs3_client::Nfs3ConnectionBuilder::new(Connector, "127.0.0.1", "/export")
        .portmapper_port(d.port)
        .connect_from_privileged_port(false)
        .credential(cred(0, 0))
        .mount()
        .await
        .unwrap()
}

async fn lookup(c: &mut Client, dir: &nfs_fh3, n: &str) -> Result<nfs_fh3, nfsstat3> {
    st(rpc!(c.lookup(&LOOKUP3args {
        what: dirop(dir, n)
    }))
    .unwrap())
    .map(|ok| ok.object)
}

async fn getattr(c: &mut Client, f: &nfs_fh3) -> fattr3 {
    let r = rpc!(c.getattr(&GETATTR3args { object: f.clone() })).unwrap();
    st(r).expect("GETATTR").obj_attributes
}

/// CREATE GUARDED: the new file's handle, or the status.
async fn create_new(c: &mut Client, dir: &nfs_fh3, n: &str) -> Result<nfs_fh3, nfsstat3> {
    let r = rpc!(c.create(&CREATE3args {
        where_: dirop(dir, n),
        how: createhow3::GUARDED(mode(0o644)),
    }))
    .unwrap();
    match st(r)?.obj {
        Nfs3Option::Some(h) => Ok(h),
        Nfs3Option::None => lookup(c, dir, n).await,
    }
}

async fn mkdir(c: &mut Client, dir: &nfs_fh3, n: &str) -> Result<nfs_fh3, nfsstat3> {
    let r = rpc!(c.mkdir(&MKDIR3args {
        where_: dirop(dir, n),
        attributes: mode(0o755),
    }))
    .unwrap();
    match st(r)?.obj {
        Nfs3Option::Some(h) => Ok(h),
        Nfs3Option::None => lookup(c, dir, n).await,
    }
}

async fn rename(
    c: &mut Client,
    from: &nfs_fh3,
    from_name: &str,
    to: &nfs_fh3,
    to_name: &str,
) -> Result<(), nfsstat3> {
    let r = rpc!(c.rename(&RENAME3args {
        from: dirop(from, from_name),
        to: dirop(to, to_name),
    }))
    .unwrap();
    st(r).map(drop)
}

async fn remove(c: &mut Client, dir: &nfs_fh3, n: &str) -> Result<(), nfsstat3> {
    let r = rpc!(c.remove(&REMOVE3args {
        object: dirop(dir, n)
    }))
    .unwrap();
    st(r).map(drop)
}

async fn rmdir(c: &mut Client, dir: &nfs_fh3, n: &str) -> Result<(), nfsstat3> {
    let r = rpc!(c.rmdir(&RMDIR3args {
        object: dirop(dir, n)
    }))
    .unwrap();
    st(r).map(drop)
}

/// WRITE of all of `data` at `offset`, as the transport answered (a dead gateway is an error
/// here, not a panic); the verifier.
async fn try_write(
    c: &mut Client,
    f: &nfs_fh3,
    offset: u64,
    data: &[u8],
    stable: stable_how,
) -> Result<writeverf3, RpcError> {
    let r = rpc!(c.write(&WRITE3args {
        file: f.clone(),
        offset,
        count: u32::try_from(data.len()).unwrap(),
        stable,
        data: Opaque::borrowed(data),
    }))?;
    let ok = st(r).expect("WRITE");
    assert_eq!(ok.count as usize, data.len(), "short WRITE");
    Ok(ok.verf)
}

async fn write(
    c: &mut Client,
    f: &nfs_fh3,
    offset: u64,
    data: &[u8],
    stable: stable_how,
) -> writeverf3 {
    try_write(c, f, offset, data, stable).await.unwrap()
}

async fn try_commit(c: &mut Client, f: &nfs_fh3) -> Result<writeverf3, RpcError> {
    let r = rpc!(c.commit(&COMMIT3args {
        file: f.clone(),
        offset: 0,
        count: 0,
    }))?;
    Ok(st(r).expect("COMMIT").verf)
}

async fn commit(c: &mut Client, f: &nfs_fh3) -> writeverf3 {
    try_commit(c, f).await.unwrap()
}

/// The whole file, READ up to eof.
async fn contents(c: &mut Client, f: &nfs_fh3) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let r = rpc!(c.read(&READ3args {
            file: f.clone(),
            offset: out.len() as u64,
            count: 1 << 20,
        }))
        .unwrap();
        let r = st(r).expect("READ");
        out.extend_from_slice(&r.data);
        if r.eof {
            return out;
        }
        assert!(r.count > 0, "READ returned nothing before eof");
    }
}

async fn set_size(c: &mut Client, f: &nfs_fh3, size: u64) {
    let r = rpc!(c.setattr(&SETATTR3args {
        object: f.clone(),
        new_attributes: sattr3 {
            size: Nfs3Option::Some(size),
            ..sattr3::default()
        },
        guard: sattrguard3::default(),
    }))
    .unwrap();
    st(r).expect("SETATTR size");
}

/// One directory entry as READDIRPLUS showed it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Seen {
    kind: ftype3,
    fileid: u64,
    size: u64,
    nlink: u32,
}

/// Every entry of `dir` but `.` and `..` (name, attributes, handle), over as many READDIRPLUS
/// pages as it takes.
async fn list(c: &mut Client, dir: &nfs_fh3) -> Vec<(String, fattr3, nfs_fh3)> {
    let mut out = Vec::new();
    let (mut cookie, mut verf) = (0, cookieverf3::default());
    loop {
        let r = rpc!(c.readdirplus(&READDIRPLUS3args {
            dir: dir.clone(),
            cookie,
            cookieverf: verf,
            dircount: 4096,
            maxcount: 32768,
        }))
        .unwrap();
        let r = st(r).expect("READDIRPLUS");
        verf = r.cookieverf;
        for e in r.reply.entries.0 {
            cookie = e.cookie;
            let n = String::from_utf8(e.name.0.to_vec()).unwrap();
            if n == "." || n == ".." {
                continue;
            }
            let fh = match e.name_handle {
                Nfs3Option::Some(h) => h,
                Nfs3Option::None => lookup(c, dir, &n).await.unwrap(),
            };
            let attrs = match e.name_attributes {
                Nfs3Option::Some(a) => a,
                Nfs3Option::None => getattr(c, &fh).await,
            };
            out.push((n, attrs, fh));
        }
        if r.reply.eof {
            return out;
        }
    }
}

/// The whole tree under the root, by path (`a/b/c`), walked through `c`. Panics on a loop (a
/// directory reached twice), on a directory whose `..` is not the directory it was listed
/// in, on a directory whose link count is not 2 plus its subdirectories, and on a name listed
/// twice.
async fn walk(c: &mut Client, root: &nfs_fh3) -> BTreeMap<String, Seen> {
    let mut out = BTreeMap::new();
    let mut dirs_seen = BTreeSet::new();
    let root_id = getattr(c, root).await.fileid;
    dirs_seen.insert(root_id);
    let mut todo = vec![(String::new(), root.clone(), root_id, 0usize)];
    while let Some((path, dir, dir_id, depth)) = todo.pop() {
        assert!(
            depth < 64,
            "the tree is deeper than anything the test made: {path}"
        );
        let entries = list(c, &dir).await;
        let mut subdirs = 0;
        for (n, a, fh) in entries {
            let p = if path.is_empty() {
                n.clone()
            } else {
                format!("{path}/{n}")
            };
            if a.type_ == ftype3::NF3DIR {
                subdirs += 1;
                assert!(
                    dirs_seen.insert(a.fileid),
                    "directory {} reached twice (again at {p}): a loop",
                    a.fileid
                );
                let parent = lookup(c, &fh, "..").await.unwrap();
                assert_eq!(
                    getattr(c, &parent).await.fileid,
                    dir_id,
                    "`..` of {p} is not the directory listing it"
                );
                todo.push((p.clone(), fh, a.fileid, depth + 1));
            }
            let seen = Seen {
                kind: a.type_,
                fileid: a.fileid,
                size: if a.type_ == ftype3::NF3REG { a.size } else { 0 },
                nlink: a.nlink,
            };
            assert!(out.insert(p.clone(), seen).is_none(), "{p} listed twice");
        }
        let nlink = getattr(c, &dir).await.nlink;
        assert_eq!(
            nlink,
            2 + subdirs,
            "link count of directory `{path}` with {subdirs} subdirectories"
        );
    }
    out
}

// ---------------------------------------------------------------------------------------
// 1. Many clients on both gateways against a model.
// ---------------------------------------------------------------------------------------

/// Clients with their own names (half on each gateway).
const WORKERS: usize = 12;
/// Operations each of them runs.
const OPS: usize = 60;
/// Pairs of clients (one on each gateway) crossing directory renames.
const PAIRS: usize = 2;
/// Rounds of crossing renames per pair.
const CROSS_ROUNDS: usize = 30;
/// Names every worker tries to create (CREATE GUARDED and MKDIR): one of them wins each.
const RACES: usize = 8;

/// The worker's three directories: its own, a subdirectory of it, and the shared one.
const OWN: usize = 0;
const SUB: usize = 1;
const SHARED: usize = 2;

/// What all workers report at the end.
#[derive(Default)]
struct Outcome {
    /// Every file a worker owns at the end: path -> bytes.
    files: BTreeMap<String, Vec<u8>>,
    /// Directories made (paths).
    dirs: BTreeSet<String>,
    /// Race name -> the workers whose CREATE GUARDED / MKDIR of it succeeded.
    create_wins: BTreeMap<String, Vec<usize>>,
    /// Rename-over race target -> the bytes each worker renamed onto it.
    rename_over: BTreeMap<String, Vec<Vec<u8>>>,
}

/// Worker `id`: creates, writes + COMMIT (or FILE_SYNC), reads back, overwrites, renames
/// within and across directories (also over its own existing names), removes, and takes part
/// in the name races. Its own names never collide with another worker's, so every answer is
/// known in advance except the races', whose allowed answers are checked here.
async fn worker(mut m: Conn, id: usize, out: Arc<Mutex<Outcome>>) {
    let root = m.root_nfs_fh3();
    let c: &mut Client = &mut m;
    let mut rng = ChaCha8Rng::seed_from_u64(id as u64);
    let own_name = format!("w{id}");
    let own = mkdir(c, &root, &own_name).await.unwrap();
    let sub = mkdir(c, &own, "sub").await.unwrap();
    let shared = lookup(c, &root, "shared").await.unwrap();
    let dirs = [own, sub, shared.clone()];
    let dir_path = [
        own_name.clone(),
        format!("{own_name}/sub"),
        "shared".to_owned(),
    ];
    // (directory index, name) -> bytes.
    let mut model: BTreeMap<(usize, String), Vec<u8>> = BTreeMap::new();
    let mut next = 0;
    let mut fresh = |dir: usize| {
        next += 1;
        if dir == SHARED {
            format!("s{id}-{next}")
        } else {
            format!("f{next}")
        }
    };
    let mut race = 0;
    for op in 0..OPS {
        if op % 7 == 3 && race < RACES {
            race_round(c, id, race, &dirs[OWN], &shared, fresh(OWN), &out).await;
            race += 1;
            continue;
        }
        let existing: Vec<(usize, String)> = model.keys().cloned().collect();
        let pick =
            (!existing.is_empty()).then(|| existing[rng.random_range(0..existing.len())].clone());
        match (rng.random_range(0..10u32), pick) {
            (0..=2, _) | (_, None) => {
                let d = rng.random_range(0..3);
                let n = fresh(d);
                let f = create_new(c, &dirs[d], &n)
                    .await
                    .unwrap_or_else(|s| panic!("worker {id}: CREATE GUARDED of fresh {n}: {s:?}"));
                let data = seeded_bytes(rng.random_range(1..40_000), (id * 1000 + op) as u64);
                if rng.random_bool(0.5) {
                    let v = write(c, &f, 0, &data, stable_how::UNSTABLE).await;
                    assert_eq!(commit(c, &f).await, v, "one verifier within one boot");
                } else {
                    write(c, &f, 0, &data, stable_how::FILE_SYNC).await;
                }
                model.insert((d, n), data);
            }
            (3, Some((d, n))) => {
                // An existing name: GUARDED must refuse it.
                assert_eq!(
                    create_new(c, &dirs[d], &n).await.err(),
                    Some(nfsstat3::NFS3ERR_EXIST)
                );
            }
            (4, Some((d, n))) => {
                let f = lookup(c, &dirs[d], &n).await.unwrap();
                let bytes = model.get_mut(&(d, n)).unwrap();
                let at = rng.random_range(0..=bytes.len());
                let patch =
                    seeded_bytes(rng.random_range(1..10_000), (id * 1000 + op + 500) as u64);
                write(c, &f, at as u64, &patch, stable_how::UNSTABLE).await;
                commit(c, &f).await;
                if bytes.len() < at + patch.len() {
                    bytes.resize(at + patch.len(), 0);
                }
                bytes[at..at + patch.len()].copy_from_slice(&patch);
            }
            (5, Some((d, n))) => {
                let f = lookup(c, &dirs[d], &n).await.unwrap();
                let want = &model[&(d, n.clone())];
                assert_eq!(getattr(c, &f).await.size, want.len() as u64, "size of {n}");
                assert!(contents(c, &f).await == *want, "worker {id}: bytes of {n}");
            }
            (6 | 7, Some((d, n))) => {
                let to = rng.random_range(0..3);
                // Onto a fresh name, or over another of its own files.
                let over = existing
                    .iter()
                    .filter(|(td, tn)| *td == to && (*td, tn) != (d, &n))
                    .nth(rng.random_range(0..3));
                let target = over.map_or_else(|| fresh(to), |(_, tn)| tn.clone());
                rename(c, &dirs[d], &n, &dirs[to], &target)
                    .await
                    .unwrap_or_else(|s| {
                        panic!(
                            "worker {id}: RENAME {n} -> {}/{target}: {s:?}",
                            dir_path[to]
                        )
                    });
                let bytes = model.remove(&(d, n.clone())).unwrap();
                model.insert((to, target), bytes);
                assert_eq!(
                    lookup(c, &dirs[d], &n).await.err(),
                    Some(nfsstat3::NFS3ERR_NOENT)
                );
            }
            (8, Some((d, n))) => {
                remove(c, &dirs[d], &n).await.unwrap();
                model.remove(&(d, n.clone()));
                assert_eq!(remove(c, &dirs[d], &n).await, Err(nfsstat3::NFS3ERR_NOENT));
            }
            (_, Some((d, n))) => {
                let f = lookup(c, &dirs[d], &n).await.unwrap();
                assert!(contents(c, &f).await == model[&(d, n)]);
            }
        }
    }
    assert_eq!(
        race, RACES,
        "worker {id} ran out of operations before the races"
    );
    let mut o = out.lock().unwrap();
    o.dirs.insert(dir_path[OWN].clone());
    o.dirs.insert(dir_path[SUB].clone());
    for ((d, n), bytes) in model {
        o.files.insert(format!("{}/{n}", dir_path[d]), bytes);
    }
}

/// Race `race` of worker `id`: CREATE GUARDED of `shared/race{race}` and MKDIR of
/// `shared/rdir{race}` (each either succeeds or answers NFS3ERR_EXIST; the test counts the
/// winners), then the rename of its own new file `mine` onto `shared/over{race}` (every one
/// succeeds; one of them stays).
async fn race_round(
    c: &mut Client,
    id: usize,
    race: usize,
    own: &nfs_fh3,
    shared: &nfs_fh3,
    mine: String,
    out: &Mutex<Outcome>,
) {
    let name = format!("race{race}");
    let won = match create_new(c, shared, &name).await {
        Ok(f) => {
            let text = format!("winner {id}");
            write(c, &f, 0, text.as_bytes(), stable_how::FILE_SYNC).await;
            true
        }
        Err(nfsstat3::NFS3ERR_EXIST) => false,
        Err(s) => panic!("worker {id}: CREATE GUARDED {name}: {s:?}"),
    };
    let dname = format!("rdir{race}");
    let dwon = match mkdir(c, shared, &dname).await {
        Ok(_) => true,
        Err(nfsstat3::NFS3ERR_EXIST) => false,
        Err(s) => panic!("worker {id}: MKDIR {dname}: {s:?}"),
    };
    let f = create_new(c, own, &mine).await.unwrap();
    let bytes = format!("renamed by {id}").into_bytes();
    write(c, &f, 0, &bytes, stable_how::FILE_SYNC).await;
    let target = format!("over{race}");
    rename(c, own, &mine, shared, &target)
        .await
        .unwrap_or_else(|s| panic!("worker {id}: RENAME over shared/{target}: {s:?}"));
    let mut o = out.lock().unwrap();
    let wins = o.create_wins.entry(format!("shared/{name}")).or_default();
    if won {
        wins.push(id);
    }
    let wins = o.create_wins.entry(format!("shared/{dname}")).or_default();
    if dwon {
        wins.push(id);
    }
    o.rename_over
        .entry(format!("shared/{target}"))
        .or_default()
        .push(bytes);
}

/// Handles of one crossing pair's directories: `cross/d1`, `cross/d2` (simple rounds) and
/// `cross/x/a/d`, `cross/y/b/c` (deep rounds: `mv x/a y/b/c/` against `mv y/b x/a/d/`).
#[derive(Clone)]
struct CrossDirs {
    cross: nfs_fh3,
    d1: nfs_fh3,
    d2: nfs_fh3,
    x: nfs_fh3,
    y: nfs_fh3,
    c: nfs_fh3,
    d: nfs_fh3,
}

/// What the two sides of a crossing round answered (side 0, side 1), once they did.
type Reports = [Option<Result<(), nfsstat3>>; 2];

/// The directories `crossing` expects at the end, below `cross{pair}`.
const CROSS_TREE: [&str; 9] = ["d1", "d2", "x", "x/a", "x/a/d", "y", "y/b", "y/b/c", ""];

/// One side (`side` 0 on gateway A, 1 on B) of crossing pair `pair`: every round both rename
/// at once, each moving its directory into the other's subtree. Exactly one may succeed; the
/// other must fail with NFS3ERR_INVAL (its target is now inside what it moves). The winner
/// checks that the loser's directory cannot be removed (it is not empty) and cannot be moved
/// into itself, then moves its directory back.
async fn crossing(
    mut m: Conn,
    pair: usize,
    side: usize,
    dirs: Arc<Mutex<Option<CrossDirs>>>,
    results: Arc<Mutex<Reports>>,
    barrier: Arc<Barrier>,
) {
    let root = m.root_nfs_fh3();
    let c: &mut Client = &mut m;
    if side == 0 {
        let cross = mkdir(c, &root, &format!("cross{pair}")).await.unwrap();
        let d1 = mkdir(c, &cross, "d1").await.unwrap();
        let d2 = mkdir(c, &cross, "d2").await.unwrap();
        let x = mkdir(c, &cross, "x").await.unwrap();
        let y = mkdir(c, &cross, "y").await.unwrap();
        let a = mkdir(c, &x, "a").await.unwrap();
        let b = mkdir(c, &y, "b").await.unwrap();
        let cc = mkdir(c, &b, "c").await.unwrap();
        let d = mkdir(c, &a, "d").await.unwrap();
        *dirs.lock().unwrap() = Some(CrossDirs {
            cross,
            d1,
            d2,
            x,
            y,
            c: cc,
            d,
        });
    }
    barrier.wait().await;
    // Side 1 uses the handles side 0 got from the other gateway.
    let h = dirs.lock().unwrap().clone().unwrap();
    for round in 0..CROSS_ROUNDS {
        let deep = round % 2 == 1;
        // (from dir, name, into dir) for this side; the other side's is the mirror.
        let (from, name, into) = match (deep, side) {
            (false, 0) => (&h.cross, "d1", &h.d2),
            (false, _) => (&h.cross, "d2", &h.d1),
            (true, 0) => (&h.x, "a", &h.c),
            (true, _) => (&h.y, "b", &h.d),
        };
        barrier.wait().await;
        let r = rename(c, from, name, into, name).await;
        results.lock().unwrap()[side] = Some(r);
        barrier.wait().await;
        let both = *results.lock().unwrap();
        let mine = both[side].expect("this side reported");
        let theirs = both[1 - side].expect("the other side reported");
        match (mine, theirs) {
            (Ok(()), Err(nfsstat3::NFS3ERR_INVAL)) => {
                // The loser's directory now holds mine: not removable, and mine cannot go
                // into itself.
                let (loser_parent, loser_name) = match (deep, side) {
                    (false, 0) => (&h.cross, "d2"),
                    (false, _) => (&h.cross, "d1"),
                    (true, 0) => (&h.y, "b"),
                    (true, _) => (&h.x, "a"),
                };
                assert_eq!(
                    rmdir(c, loser_parent, loser_name).await,
                    Err(nfsstat3::NFS3ERR_NOTEMPTY),
                    "pair {pair} round {round}: RMDIR of a directory holding another"
                );
                let own = lookup(c, into, name).await.unwrap();
                assert_eq!(
                    rename(c, into, name, &own, "inside").await,
                    Err(nfsstat3::NFS3ERR_INVAL),
                    "pair {pair} round {round}: a directory moved into itself"
                );
                rename(c, into, name, from, name).await.unwrap();
            }
            (Err(nfsstat3::NFS3ERR_INVAL), Ok(())) => {}
            other => panic!(
                "pair {pair} round {round} (deep: {deep}, side {side}): exactly one crossing \
                 rename may succeed and the other must be NFS3ERR_INVAL, got {other:?}"
            ),
        }
        barrier.wait().await;
        if side == 0 {
            *results.lock().unwrap() = [None, None];
        }
        barrier.wait().await;
    }
}

/// Goal: 12 clients with their own names (6 per gateway) run creates, writes + COMMIT or
/// FILE_SYNC, reads, overwrites, renames within and across directories (also over existing
/// names), removes and name races, while 2 pairs of clients (one side on each gateway) run 30
/// rounds each of crossing directory renames (`mv d1 d2/` against `mv d2 d1/`, and the deeper
/// `mv x/a y/b/c/` against `mv y/b x/a/d/`). Every answer is what the model allows: exactly
/// one winner per CREATE GUARDED and MKDIR race (the others NFS3ERR_EXIST), one success per
/// crossing round (the other NFS3ERR_INVAL). Then the tree walked through gateway A and
/// through gateway B is the same, equals the model exactly (names, types, sizes, bytes read
/// through both), has no loop, and every directory's `..` and link count agree with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_on_two_gateways_match_the_model() {
    let g = Gateways::start(false);
    let mut setup = connect(&g.a).await;
    let root = setup.root_nfs_fh3();
    mkdir(&mut setup, &root, "shared").await.unwrap();

    let out = Arc::new(Mutex::new(Outcome::default()));
    let mut tasks = tokio::task::JoinSet::new();
    for id in 0..WORKERS {
        let m = connect(if id % 2 == 0 { &g.a } else { &g.b }).await;
        tasks.spawn(worker(m, id, out.clone()));
    }
    for pair in 0..PAIRS {
        let dirs = Arc::new(Mutex::new(None));
        let results = Arc::new(Mutex::new([None, None]));
        let barrier = Arc::new(Barrier::new(2));
        for side in 0..2 {
            let m = connect(if side == 0 { &g.a } else { &g.b }).await;
            tasks.spawn(crossing(
                m,
                pair,
                side,
                dirs.clone(),
                results.clone(),
                barrier.clone(),
            ));
        }
    }
    // The first client that fails fails the test (a crossing pair's other side would wait
    // for it forever).
    while let Some(r) = tasks.join_next().await {
        if let Err(e) = r {
            std::panic::resume_unwind(e.into_panic());
        }
    }

    let o = std::mem::take(&mut *out.lock().unwrap());
    // The model: every path with its kind and, for files, bytes (None: one of several).
    let mut want_dirs: BTreeSet<String> = o.dirs.clone();
    want_dirs.insert("shared".to_owned());
    for pair in 0..PAIRS {
        for p in CROSS_TREE {
            want_dirs.insert(if p.is_empty() {
                format!("cross{pair}")
            } else {
                format!("cross{pair}/{p}")
            });
        }
    }
    let mut race_files = BTreeMap::new();
    for (name, wins) in &o.create_wins {
        assert_eq!(
            wins.len(),
            1,
            "{name}: exactly one CREATE/MKDIR may win, got {wins:?}"
        );
        if name.contains("rdir") {
            want_dirs.insert(name.clone());
        } else {
            race_files.insert(name.clone(), format!("winner {}", wins[0]).into_bytes());
        }
    }
    assert_eq!(o.create_wins.len(), 2 * RACES);
    let mut want_files: BTreeMap<String, Vec<Vec<u8>>> = o
        .files
        .iter()
        .map(|(p, b)| (p.clone(), vec![b.clone()]))
        .collect();
    for (p, b) in race_files {
        want_files.insert(p, vec![b]);
    }
    for (p, candidates) in &o.rename_over {
        assert_eq!(
            candidates.len(),
            WORKERS,
            "{p}: every worker renamed onto it"
        );
        want_files.insert(p.clone(), candidates.clone());
    }

    let mut ma = connect(&g.a).await;
    let mut mb = connect(&g.b).await;
    let tree_a = walk(&mut ma, &root).await;
    let tree_b = walk(&mut mb, &root).await;
    assert_eq!(tree_a, tree_b, "the two gateways show different trees");
    let got_dirs: BTreeSet<String> = tree_a
        .iter()
        .filter(|(_, s)| s.kind == ftype3::NF3DIR)
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(got_dirs, want_dirs, "directories");
    let got_files: BTreeSet<&String> = tree_a
        .iter()
        .filter(|(_, s)| s.kind == ftype3::NF3REG)
        .map(|(p, _)| p)
        .collect();
    assert_eq!(got_files, want_files.keys().collect(), "files");
    assert_eq!(
        tree_a.len(),
        want_dirs.len() + want_files.len(),
        "nothing but directories and files"
    );
    for (p, candidates) in &want_files {
        let (dir, name) = p.rsplit_once('/').unwrap();
        for (gw, m) in [("A", &mut ma), ("B", &mut mb)] {
            let mut h = root.clone();
            for part in dir.split('/') {
                h = lookup(m, &h, part).await.unwrap();
            }
            let f = lookup(m, &h, name).await.unwrap();
            let got = contents(m, &f).await;
            assert!(
                candidates.contains(&got),
                "{p} through gateway {gw}: {} bytes, not what the model allows",
                got.len()
            );
            assert_eq!(tree_a[p].size, got.len() as u64, "{p}: size and bytes");
        }
    }
    drop((ma, mb, setup));
    let (mut a, mut b) = (g.a, g.b);
    assert_eq!(a.terminate(), Some(0), "gateway A's shutdown");
    assert_eq!(b.terminate(), Some(0), "gateway B's shutdown");
}

// ---------------------------------------------------------------------------------------
// 2. Close-to-open across gateways.
// ---------------------------------------------------------------------------------------

/// Files written and committed through one gateway, then looked up ("opened") through the
/// other, in both directions, 12 rounds over 3 files that are rewritten from scratch (after a
/// truncate to 0), patched in the middle and appended to: the reader, which read the previous
/// version, sees the new bytes, the writer's size, mtime and ctime, and the same handle.
async fn close_to_open(g: &Gateways) {
    let mut ma = connect(&g.a).await;
    let mut mb = connect(&g.b).await;
    let root = ma.root_nfs_fh3();
    let names = ["c2o-0", "c2o-1", "c2o-2"];
    let mut model: BTreeMap<&str, Vec<u8>> = BTreeMap::new();
    for round in 0..12usize {
        let (w, r, wname): (&mut Client, &mut Client, _) = if round % 2 == 0 {
            (&mut *ma, &mut *mb, "A")
        } else {
            (&mut *mb, &mut *ma, "B")
        };
        for (i, n) in names.iter().enumerate() {
            let f = match lookup(w, &root, n).await {
                Ok(f) => f,
                Err(nfsstat3::NFS3ERR_NOENT) => create_new(w, &root, n).await.unwrap(),
                Err(s) => panic!("LOOKUP {n}: {s:?}"),
            };
            let bytes = model.entry(n).or_default();
            let seed = (round * 10 + i) as u64;
            match (round + i) % 3 {
                0 => {
                    set_size(w, &f, 0).await;
                    *bytes = seeded_bytes(20_000 + 7_000 * round, seed);
                    write(w, &f, 0, bytes, stable_how::UNSTABLE).await;
                }
                1 => {
                    let at = bytes.len() / 3;
                    let patch = seeded_bytes(bytes.len() / 3 + 1, seed);
                    write(w, &f, at as u64, &patch, stable_how::UNSTABLE).await;
                    if bytes.len() < at + patch.len() {
                        bytes.resize(at + patch.len(), 0);
                    }
                    bytes[at..at + patch.len()].copy_from_slice(&patch);
                }
                _ => {
                    let tail = seeded_bytes(5_000, seed);
                    write(w, &f, bytes.len() as u64, &tail, stable_how::UNSTABLE).await;
                    bytes.extend_from_slice(&tail);
                }
            }
            commit(w, &f).await;
            let wa = getattr(w, &f).await;
            assert_eq!(
                wa.size,
                bytes.len() as u64,
                "round {round}: size through the writer"
            );

            let other = lookup(r, &root, n).await.unwrap();
            assert_eq!(other, f, "one handle for {n} on both gateways");
            let ra = getattr(r, &other).await;
            let what = format!("round {round}, {n} written through {wname}");
            assert_eq!(ra.fileid, wa.fileid, "{what}: fileid");
            assert_eq!(ra.size, wa.size, "{what}: size through the other gateway");
            assert_eq!(
                ra.mtime, wa.mtime,
                "{what}: mtime through the other gateway"
            );
            assert_eq!(
                ra.ctime, wa.ctime,
                "{what}: ctime through the other gateway"
            );
            assert!(
                contents(r, &other).await == *bytes,
                "{what}: the other gateway reads other bytes"
            );
        }
    }
}

/// Goal: close-to-open across gateways on a content directory both share (see
/// `close_to_open`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_to_open_across_gateways_on_a_shared_directory() {
    let g = Gateways::start(false);
    close_to_open(&g).await;
}

/// Goal: close-to-open across gateways on one S3 bucket (moto): a gateway that read a file
/// reads the version the other gateway committed since, not its own cached one (see
/// `close_to_open`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_to_open_across_gateways_on_s3() {
    let g = Gateways::start(true);
    close_to_open(&g).await;
}

// ---------------------------------------------------------------------------------------
// 3. Handles fail over.
// ---------------------------------------------------------------------------------------

/// Handles gateway A issued, used on `c` (gateway B) for every NFSv3 procedure that takes a
/// handle; `tag` keeps the names of two passes apart.
struct AHandles {
    root: nfs_fh3,
    dir: nfs_fh3,
    file: nfs_fh3,
    other: nfs_fh3,
    sym: nfs_fh3,
}

async fn every_procedure(c: &mut Client, h: &AHandles, tag: &str, file_bytes: &mut Vec<u8>) {
    let what = |p: &str| format!("{p} on gateway B with a handle from A ({tag})");
    // Attributes.
    let a = getattr(c, &h.file).await;
    assert_eq!(a.size, file_bytes.len() as u64, "{}", what("GETATTR"));
    let r = rpc!(c.setattr(&SETATTR3args {
        object: h.file.clone(),
        new_attributes: mode(0o640),
        guard: sattrguard3::default(),
    }))
    .unwrap();
    st(r).must(what("SETATTR"));
    assert_eq!(
        getattr(c, &h.file).await.mode & 0o7777,
        0o640,
        "{}",
        what("SETATTR")
    );
    let r = rpc!(c.access(&ACCESS3args {
        object: h.file.clone(),
        access: 0x3f,
    }))
    .unwrap();
    assert!(
        st(r).must(what("ACCESS")).access & 0x1 != 0,
        "{}",
        what("ACCESS read")
    );
    // Names.
    assert_eq!(
        lookup(c, &h.dir, "f").await.unwrap(),
        h.file,
        "{}",
        what("LOOKUP")
    );
    // Data.
    assert!(
        contents(c, &h.file).await == *file_bytes,
        "{}",
        what("READ")
    );
    let more = seeded_bytes(10_000, tag.len() as u64);
    let v = write(
        c,
        &h.file,
        file_bytes.len() as u64,
        &more,
        stable_how::UNSTABLE,
    )
    .await;
    assert_eq!(commit(c, &h.file).await, v, "{}", what("WRITE + COMMIT"));
    file_bytes.extend_from_slice(&more);
    assert!(
        contents(c, &h.file).await == *file_bytes,
        "{}",
        what("READ after WRITE")
    );
    // Directory changes.
    let new = create_new(c, &h.dir, &format!("new{tag}"))
        .await
        .must(what("CREATE"));
    write(c, &new, 0, b"new", stable_how::FILE_SYNC).await;
    mkdir(c, &h.dir, &format!("nd{tag}"))
        .await
        .must(what("MKDIR"));
    let r = rpc!(c.symlink(&SYMLINK3args {
        where_: dirop(&h.dir, &format!("sl{tag}")),
        symlink: symlinkdata3 {
            symlink_attributes: sattr3::default(),
            symlink_data: nfspath3(Opaque::borrowed(b"f")),
        },
    }))
    .unwrap();
    st(r).must(what("SYMLINK"));
    let r = rpc!(c.readlink(&READLINK3args {
        symlink: h.sym.clone()
    }))
    .unwrap();
    assert_eq!(&*st(r).must(what("READLINK")).data.0, b"f");
    let r = rpc!(c.mknod(&MKNOD3args {
        where_: dirop(&h.dir, &format!("fifo{tag}")),
        what: mknoddata3::NF3FIFO(mode(0o600)),
    }))
    .unwrap();
    st(r).must(what("MKNOD"));
    let r = rpc!(c.link(&LINK3args {
        file: h.other.clone(),
        link: dirop(&h.dir, &format!("ln{tag}")),
    }))
    .unwrap();
    st(r).must(what("LINK"));
    rename(
        c,
        &h.dir,
        &format!("new{tag}"),
        &h.dir,
        &format!("ren{tag}"),
    )
    .await
    .must(what("RENAME"));
    remove(c, &h.dir, &format!("r{tag}"))
        .await
        .must(what("REMOVE"));
    rmdir(c, &h.dir, &format!("e{tag}"))
        .await
        .must(what("RMDIR"));
    // Listings and file system information.
    let r = rpc!(c.readdir(&READDIR3args {
        dir: h.dir.clone(),
        cookie: 0,
        cookieverf: cookieverf3::default(),
        count: 65536,
    }))
    .unwrap();
    let plain: BTreeSet<String> = st(r)
        .must(what("READDIR"))
        .reply
        .entries
        .0
        .iter()
        .map(|e| String::from_utf8_lossy(&e.name.0).into_owned())
        .filter(|n| n != "." && n != "..")
        .collect();
    let plus: BTreeSet<String> = list(c, &h.dir).await.into_iter().map(|e| e.0).collect();
    assert_eq!(plain, plus, "{}", what("READDIR against READDIRPLUS"));
    for n in [
        format!("ren{tag}"),
        format!("nd{tag}"),
        format!("sl{tag}"),
        format!("fifo{tag}"),
        format!("ln{tag}"),
    ] {
        assert!(
            plus.contains(&n),
            "{}: {n} missing from {plus:?}",
            what("listing")
        );
    }
    for n in [format!("new{tag}"), format!("r{tag}"), format!("e{tag}")] {
        assert!(
            !plus.contains(&n),
            "{}: {n} still in {plus:?}",
            what("listing")
        );
    }
    let r = rpc!(c.fsstat(&FSSTAT3args {
        fsroot: h.root.clone()
    }))
    .unwrap();
    st(r).must(what("FSSTAT"));
    let r = rpc!(c.fsinfo(&FSINFO3args {
        fsroot: h.root.clone()
    }))
    .unwrap();
    st(r).must(what("FSINFO"));
    let r = rpc!(c.pathconf(&PATHCONF3args {
        object: h.file.clone()
    }))
    .unwrap();
    st(r).must(what("PATHCONF"));
}

/// Goal: handles gateway A issued (the root, a directory, files, a symlink) work on gateway B
/// for every NFSv3 procedure that takes one (GETATTR, SETATTR, ACCESS, LOOKUP, READ, WRITE,
/// COMMIT, CREATE, MKDIR, SYMLINK, READLINK, MKNOD, LINK, RENAME, REMOVE, RMDIR, READDIR,
/// READDIRPLUS, FSSTAT, FSINFO, PATHCONF) while A runs, and all again after A was killed
/// with SIGKILL; B's view then matches every change (the link count of the linked file
/// included).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handles_from_one_gateway_work_on_the_other_and_outlive_it() {
    let mut g = Gateways::start(false);
    let mut ma = connect(&g.a).await;
    let root = ma.root_nfs_fh3();
    let c: &mut Client = &mut ma;
    let dir = mkdir(c, &root, "hd").await.unwrap();
    let file = create_new(c, &dir, "f").await.unwrap();
    let mut bytes = seeded_bytes(50_000, 3);
    write(c, &file, 0, &bytes, stable_how::UNSTABLE).await;
    commit(c, &file).await;
    let other = create_new(c, &dir, "g").await.unwrap();
    let r = rpc!(c.symlink(&SYMLINK3args {
        where_: dirop(&dir, "s"),
        symlink: symlinkdata3 {
            symlink_attributes: sattr3::default(),
            symlink_data: nfspath3(Opaque::borrowed(b"f")),
        },
    }))
    .unwrap();
    let sym = match st(r).unwrap().obj {
        Nfs3Option::Some(h) => h,
        Nfs3Option::None => lookup(c, &dir, "s").await.unwrap(),
    };
    for tag in ["1", "2"] {
        mkdir(c, &dir, &format!("e{tag}")).await.unwrap();
        create_new(c, &dir, &format!("r{tag}")).await.unwrap();
    }
    let h = AHandles {
        root,
        dir,
        file,
        other,
        sym,
    };
    let mut mb = connect(&g.b).await;
    every_procedure(&mut mb, &h, "1", &mut bytes).await;
    drop(ma);
    g.a.kill9();
    every_procedure(&mut mb, &h, "2", &mut bytes).await;
    assert_eq!(
        getattr(&mut mb, &h.other).await.nlink,
        3,
        "g and its two links"
    );
    let names: BTreeSet<String> = list(&mut mb, &h.dir)
        .await
        .into_iter()
        .map(|e| e.0)
        .collect();
    let want: BTreeSet<String> = [
        "f", "g", "s", "ren1", "ren2", "nd1", "nd2", "sl1", "sl2", "fifo1", "fifo2", "ln1", "ln2",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    assert_eq!(names, want, "the directory after both passes");
}

// ---------------------------------------------------------------------------------------
// 4. Write verifiers.
// ---------------------------------------------------------------------------------------

/// Goal: each gateway answers its own write verifier (random per boot), so a client can tell
/// which gateway's cache holds its unstable bytes; COMMIT through A makes A's writes durable:
/// after A's `kill -9`, B reads every committed byte, a file written UNSTABLE through A but
/// never committed reads as a prefix of its bytes or zeros (it may be lost, never garbage),
/// and after A restarts, A's client sees another verifier on COMMIT, resends, and the file is
/// then whole through B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_gateway_has_its_own_write_verifier() {
    let mut g = Gateways::start(false);
    let mut ma = connect(&g.a).await;
    let mut mb = connect(&g.b).await;
    let root = ma.root_nfs_fh3();
    let fa = create_new(&mut ma, &root, "va").await.unwrap();
    let fb = create_new(&mut mb, &root, "vb").await.unwrap();
    let v_a = write(&mut ma, &fa, 0, b"a", stable_how::UNSTABLE).await;
    let v_b = write(&mut mb, &fb, 0, b"b", stable_how::UNSTABLE).await;
    assert_ne!(v_a, v_b, "two gateways answered the same write verifier");
    assert_eq!(commit(&mut ma, &fa).await, v_a);
    assert_eq!(commit(&mut mb, &fb).await, v_b);

    const CHUNK: usize = 64 << 10;
    let data1 = seeded_bytes(5 * CHUNK + 123, 11);
    let f1 = create_new(&mut ma, &root, "committed").await.unwrap();
    for (i, chunk) in data1.chunks(CHUNK).enumerate().rev() {
        let v = write(
            &mut ma,
            &f1,
            (i * CHUNK) as u64,
            chunk,
            stable_how::UNSTABLE,
        )
        .await;
        assert_eq!(v, v_a, "A's verifier on every WRITE of one boot");
    }
    assert_eq!(commit(&mut ma, &f1).await, v_a);
    let data2 = seeded_bytes(5 * CHUNK + 77, 12);
    let f2 = create_new(&mut ma, &root, "uncommitted").await.unwrap();
    for (i, chunk) in data2.chunks(CHUNK).enumerate() {
        write(
            &mut ma,
            &f2,
            (i * CHUNK) as u64,
            chunk,
            stable_how::UNSTABLE,
        )
        .await;
    }
    drop(ma);
    g.a.kill9();

    assert!(
        contents(&mut mb, &f1).await == data1,
        "bytes committed through A, read through B after A's kill -9"
    );
    let got = contents(&mut mb, &f2).await;
    assert!(got.len() <= data2.len(), "the uncommitted file grew");
    assert!(
        got.iter().zip(&data2).all(|(g, w)| *g == 0 || g == w),
        "uncommitted bytes may be lost, but what is there is the client's or zeros"
    );

    g.a.spawn();
    let mut ma = connect(&g.a).await;
    let v_a2 = commit(&mut ma, &f2).await;
    assert_ne!(v_a2, v_a, "A's verifier after its restart");
    assert_ne!(v_a2, v_b, "A's new verifier equals B's");
    // The verifier changed: the client resends what it had not had committed.
    for (i, chunk) in data2.chunks(CHUNK).enumerate() {
        let v = write(
            &mut ma,
            &f2,
            (i * CHUNK) as u64,
            chunk,
            stable_how::UNSTABLE,
        )
        .await;
        assert_eq!(v, v_a2);
    }
    assert_eq!(commit(&mut ma, &f2).await, v_a2);
    assert!(
        contents(&mut mb, &f2).await == data2,
        "the resent file through B"
    );
    assert!(
        contents(&mut ma, &f1).await == data1,
        "the committed file through the new A"
    );
}

// ---------------------------------------------------------------------------------------
// 5. kill -9 under load.
// ---------------------------------------------------------------------------------------

/// What one loader committed: (name, bytes), and how many of them after `killed` was set.
type Committed = (Vec<(String, Vec<u8>)>, usize);

/// A loader: creates files `{prefix}-{k}` in the root, writes each in 16 KiB UNSTABLE pieces
/// and COMMITs it, until `stop`; returns the files whose COMMIT was answered. A transport
/// error ends it when `may_die` (its gateway was killed) and fails the test otherwise.
async fn loader(
    mut m: Conn,
    prefix: String,
    may_die: bool,
    stop: Arc<std::sync::atomic::AtomicBool>,
    killed: Arc<std::sync::atomic::AtomicBool>,
) -> Committed {
    use std::sync::atomic::Ordering::SeqCst;
    let root = m.root_nfs_fh3();
    let c: &mut Client = &mut m;
    let mut done = Vec::new();
    let mut after_kill = 0;
    for k in 0.. {
        if stop.load(SeqCst) {
            break;
        }
        let name = format!("{prefix}-{k}");
        let data = seeded_bytes(16_384 * 3 + k % 1000, (prefix.len() * 100_000 + k) as u64);
        let before = killed.load(SeqCst);
        let r = async {
            let r = rpc!(c.create(&CREATE3args {
                where_: dirop(&root, &name),
                how: createhow3::GUARDED(mode(0o644)),
            }))?;
            let f = match st(r).expect("CREATE").obj {
                Nfs3Option::Some(h) => h,
                Nfs3Option::None => panic!("CREATE answered no handle"),
            };
            for (i, piece) in data.chunks(16_384).enumerate() {
                try_write(c, &f, (i * 16_384) as u64, piece, stable_how::UNSTABLE).await?;
            }
            try_commit(c, &f).await
        }
        .await;
        match r {
            Ok(_) => {
                if before {
                    after_kill += 1;
                }
                done.push((name, data));
            }
            Err(e) if may_die => {
                assert!(killed.load(SeqCst), "{prefix}: {e:?} before the kill");
                break;
            }
            Err(e) => panic!("{prefix}: the surviving gateway failed a call: {e:?}"),
        }
    }
    (done, after_kill)
}

/// Goal: with 3 clients on each gateway writing and committing files continuously on S3
/// content, a `kill -9` of gateway A costs nothing but A's clients' connections: B's clients
/// see no error during or after it and keep committing, every file whose COMMIT A answered
/// reads back whole through B, and A, started again, serves the files of both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_gateway_under_load() {
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    let mut g = Gateways::start(true);
    let stop = Arc::new(AtomicBool::new(false));
    let killed = Arc::new(AtomicBool::new(false));
    let mut a_tasks = Vec::new();
    let mut b_tasks = Vec::new();
    for i in 0..3 {
        let m = connect(&g.a).await;
        a_tasks.push(tokio::spawn(loader(
            m,
            format!("a{i}"),
            true,
            stop.clone(),
            killed.clone(),
        )));
        let m = connect(&g.b).await;
        b_tasks.push(tokio::spawn(loader(
            m,
            format!("b{i}"),
            false,
            stop.clone(),
            killed.clone(),
        )));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    killed.store(true, SeqCst);
    g.a.kill9();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    stop.store(true, SeqCst);
    let mut from_a = Vec::new();
    for t in a_tasks {
        let (files, _) = t.await.unwrap();
        assert!(
            !files.is_empty(),
            "a client on A committed nothing before the kill"
        );
        from_a.extend(files);
    }
    let mut from_b = Vec::new();
    for t in b_tasks {
        let (files, after) = t.await.unwrap();
        assert!(after > 0, "a client on B committed nothing after A's kill");
        from_b.extend(files);
    }

    let mut mb = connect(&g.b).await;
    let root = mb.root_nfs_fh3();
    for (name, data) in &from_a {
        let f = lookup(&mut mb, &root, name).await.unwrap();
        assert!(
            contents(&mut mb, &f).await == *data,
            "{name}, committed through A before its kill -9, read through B"
        );
    }
    for (name, data) in &from_b {
        let f = lookup(&mut mb, &root, name).await.unwrap();
        assert!(contents(&mut mb, &f).await == *data, "{name} through B");
    }
    g.a.spawn();
    let mut ma = connect(&g.a).await;
    for (name, data) in from_a
        .iter()
        .rev()
        .take(5)
        .chain(from_b.iter().rev().take(5))
    {
        let f = lookup(&mut ma, &root, name).await.unwrap();
        assert!(
            contents(&mut ma, &f).await == *data,
            "{name} through the restarted A"
        );
    }
    let f = create_new(&mut ma, &root, "after-restart").await.unwrap();
    let data = seeded_bytes(100_000, 99);
    write(&mut ma, &f, 0, &data, stable_how::UNSTABLE).await;
    commit(&mut ma, &f).await;
    assert!(
        contents(&mut mb, &f).await == data,
        "written through the restarted A"
    );
}
