//! End-to-end: two gateways (two `dittofs start` processes) on one PostgreSQL metadata store
//! (`testkit::postgres`) and one S3 bucket (moto, `testkit::s3`) take writes to the same
//! files at once.
//!
//! Goal: writes to disjoint ranges of one file through two gateways both survive, as they do
//! on one server: every byte a COMMIT acknowledged reads back through either gateway, also
//! when the ranges share S3 blocks and the two gateways' flushes race to record their
//! versions (the loser re-bases on the winner's version and writes its bytes again), and while
//! both gateways run garbage collection with a short grace period.
//!
//! Method: the `nfs3_client` crate over loopback. Each round, for each of several files, one
//! task per gateway writes its half of the file's chunks (even chunks through gateway A, odd
//! through B; chunks smaller than a block, so both gateways change the same blocks) with new
//! bytes UNSTABLE, then COMMITs, behaving as an NFS client must: a COMMIT answered
//! NFS3ERR_JUKEBOX is sent again, and a write verifier that changed between the WRITEs and the
//! COMMIT means the writes are sent again. After every round, each file reads back whole
//! through both gateways.
#![cfg(all(feature = "postgres", feature = "s3"))]
#![expect(
    clippy::unwrap_used,
    reason = "test harness: a failed setup step should abort the test with its error"
)]

use std::path::Path;
use std::time::Duration;

use anyhow::bail;
use nfs3_client::nfs3_types::nfs3::{
    COMMIT3args, Nfs3Result, WRITE3args, nfs_fh3, nfsstat3, stable_how,
};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use testkit::Daemon;
use testkit::nfs::{Conn, contents, create, lookup, mount, seeded_bytes};
use testkit::postgres::PgServer;
use testkit::s3::Moto;

/// Files written at once.
const FILES: usize = 3;
/// Rounds of writes.
const ROUNDS: usize = 8;
/// Chunks per file; even ones go through gateway A, odd ones through B.
const CHUNKS: usize = 6;
/// Bytes per chunk: less than the 64 KiB block, so neighbouring chunks share blocks.
const CHUNK: usize = 20_000;

/// A gateway serving `/export` from PostgreSQL `url` and content in the S3 bucket on `moto`,
/// with its own state, cache and port under `dir`.
fn gateway(dir: &Path, url: &str, moto: &Moto) -> Daemon {
    let d = Daemon::prepare(env!("CARGO_BIN_EXE_dittofs"), dir, &["name: /export"], "");
    std::fs::write(
        &d.config,
        format!(
            "logging: {{ level: debug }}\n\
             server: {{ state_dir: {state}/state }}\n\
             metadata: {{ stores: {{ default: {{ type: postgres, postgres: {{ url: '{url}', max_connections: 8 }} }} }} }}\n\
             content: {{ stores: {{ default: {{ type: s3, s3: {{ bucket: gateways, endpoint: '{endpoint}', \
             force_path_style: true, create_bucket: true, access_key_id: gw-key, \
             secret_access_key: gw-secret, block_size: 64KiB, cache_size: 4MiB, \
             cache_dir: '{state}/s3-cache', gc_interval: 1s, gc_grace: 30s }} }} }} }}\n\
             shares:\n  - {{ name: /export, metadata_store: default, content_store: default, allowed_clients: [] }}\n\
             adapters: {{ nfs: {{ port: {port}, portmapper: {{ enabled: false }} }} }}\n",
            state = dir.display(),
            endpoint = moto.endpoint(),
            port = d.port,
        ),
    )
    .unwrap();
    // The file holds passwords: dittofs refuses one others can read.
    std::fs::set_permissions(
        &d.config,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )
    .unwrap();
    d
}

/// The bytes of chunk `chunk` of file `file` in round `round`.
fn chunk_bytes(file: usize, round: usize, chunk: usize) -> Vec<u8> {
    seeded_bytes(CHUNK, (file * 1_000_000 + round * 1_000 + chunk) as u64 + 1)
}

/// What a file holds after round `round`.
fn expected(file: usize, round: usize) -> Vec<u8> {
    (0..CHUNKS)
        .flat_map(|c| chunk_bytes(file, round, c))
        .collect()
}

/// Writes this gateway's chunks (`parity`: 0 for the even ones, 1 for the odd) of `file`
/// for `round` UNSTABLE, then COMMITs until the commit covers them: a JUKEBOX answer is
/// retried after a pause, and a verifier that differs from the WRITEs' sends the WRITEs
/// again (as RFC 1813 §3.3.21 tells a client). Returns the JUKEBOX answers and resends seen.
async fn write_round(
    c: &mut Conn,
    f: &nfs_fh3,
    file: usize,
    round: usize,
    parity: usize,
) -> anyhow::Result<(u32, u32)> {
    let (mut jukebox, mut resends) = (0, 0);
    'resend: for _ in 0..20 {
        let mut verf = None;
        for chunk in (parity..CHUNKS).step_by(2) {
            let data = chunk_bytes(file, round, chunk);
            let r = c
                .write(&WRITE3args {
                    file: f.clone(),
                    offset: (chunk * CHUNK) as u64,
                    count: CHUNK as u32,
                    stable: stable_how::UNSTABLE,
                    data: Opaque::borrowed(&data),
                })
                .await?;
            match r {
                Nfs3Result::Ok(ok) if ok.count as usize == CHUNK => {
                    if verf.as_ref().is_some_and(|v| *v != ok.verf) {
                        resends += 1;
                        continue 'resend;
                    }
                    verf = Some(ok.verf);
                }
                Nfs3Result::Ok(ok) => bail!("short WRITE: {} of {CHUNK}", ok.count),
                Nfs3Result::Err((nfsstat3::NFS3ERR_JUKEBOX, _)) => {
                    jukebox += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue 'resend;
                }
                Nfs3Result::Err((s, _)) => bail!("WRITE: {s:?}"),
            }
        }
        for _ in 0..50 {
            let r = c
                .commit(&COMMIT3args {
                    file: f.clone(),
                    offset: 0,
                    count: 0,
                })
                .await?;
            match r {
                Nfs3Result::Ok(ok) if verf.as_ref() == Some(&ok.verf) => {
                    return Ok((jukebox, resends));
                }
                Nfs3Result::Ok(_) => {
                    resends += 1;
                    continue 'resend;
                }
                Nfs3Result::Err((nfsstat3::NFS3ERR_JUKEBOX, _)) => {
                    jukebox += 1;
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Nfs3Result::Err((s, _)) => bail!("COMMIT: {s:?} (never EIO for a race)"),
            }
        }
        bail!("COMMIT kept answering JUKEBOX");
    }
    bail!("the write verifier kept changing")
}

/// Goal and method: see the module documentation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_s3_gateways_keep_disjoint_writes() {
    let server = PgServer::start();
    let url = server.database();
    let moto = Moto::start();
    let tmp = tempfile::tempdir().unwrap();
    let (dir_a, dir_b) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir_all(&dir_a).unwrap();
    std::fs::create_dir_all(&dir_b).unwrap();
    let mut a = gateway(&dir_a, &url, &moto);
    let mut b = gateway(&dir_b, &url, &moto);
    // One after the other: the first creates the bucket.
    a.spawn();
    b.spawn();

    let mut ma = mount("127.0.0.1", a.port, "/export", 0, 0).await.unwrap();
    let root = ma.root_nfs_fh3();
    let mut files = Vec::new();
    for i in 0..FILES {
        files.push(
            create(&mut ma, &root, &format!("f{i}"), 0o666)
                .await
                .unwrap(),
        );
    }
    let mut mb = mount("127.0.0.1", b.port, "/export", 0, 0).await.unwrap();
    for (i, f) in files.iter().enumerate() {
        assert_eq!(
            &lookup(&mut mb, &root, &format!("f{i}")).await.unwrap(),
            f,
            "one handle on both gateways"
        );
    }
    drop((ma, mb));

    let (mut jukebox, mut resends) = (0, 0);
    for round in 0..ROUNDS {
        let mut tasks = Vec::new();
        for (i, f) in files.iter().enumerate() {
            for (parity, port) in [(0, a.port), (1, b.port)] {
                let f = f.clone();
                tasks.push(tokio::spawn(async move {
                    let mut m = mount("127.0.0.1", port, "/export", 0, 0).await?;
                    write_round(&mut m, &f, i, round, parity).await
                }));
            }
        }
        for t in tasks {
            let (j, r) = t.await.unwrap().unwrap_or_else(|e| {
                panic!(
                    "round {round}: {e:#}\nA: {}\nB: {}",
                    a.stderr_tail(),
                    b.stderr_tail()
                )
            });
            jukebox += j;
            resends += r;
        }
        for (name, port) in [("A", a.port), ("B", b.port)] {
            let mut m = mount("127.0.0.1", port, "/export", 0, 0).await.unwrap();
            for (i, f) in files.iter().enumerate() {
                let got = contents(&mut m, f).await.unwrap();
                let want = expected(i, round);
                if got != want {
                    let lost: Vec<usize> = (0..CHUNKS)
                        .filter(|&c| {
                            got.get(c * CHUNK..(c + 1) * CHUNK)
                                != Some(&want[c * CHUNK..(c + 1) * CHUNK])
                        })
                        .collect();
                    panic!(
                        "round {round}, file f{i} through gateway {name}: {} bytes, chunks {lost:?} \
                         (even: written through A, odd: through B) do not hold what was committed",
                        got.len()
                    );
                }
            }
        }
    }
    eprintln!("{ROUNDS} rounds: {jukebox} JUKEBOX answers, {resends} resends");
    let (log_a, log_b) = (a.log(), b.log());
    let rebased = |log: &str| log.matches("another version was recorded first").count();
    eprintln!(
        "re-bases after a lost version race: A {}, B {}",
        rebased(&log_a),
        rebased(&log_b)
    );
    assert!(
        rebased(&log_a) + rebased(&log_b) > 0,
        "the gateways never raced to record a version: the test did not test the race"
    );
    a.terminate();
    b.terminate();
}
