//! `nfsbench`: a host-side NFSv3 load generator for the comparative benchmark
//! (`benches/compare.sh`). It speaks NFSv3 through the `nfs3_client` crate (a client nobody
//! here wrote) over many TCP connections at once, one call in flight per connection, and prints
//! one result line per workload: `RESULT <workload> <value> <unit>`.
//!
//! Workloads (modelled on DittoFS' published set):
//! - `create-1m`: CREATE + WRITE 1 MiB (UNSTABLE, in wtmax chunks) + COMMIT per file; files/s.
//! - `seq-write`: one file of `--seq-mib` MiB written in order (chunks spread over the
//!   connections, as a kernel client pipelines them), then COMMIT; MB/s.
//! - `seq-read`: that file read back in order, chunks spread the same way; MB/s.
//! - `rand-read` / `rand-write`: 4 KiB at random aligned offsets of that file for
//!   `--seconds`; writes are UNSTABLE and end with a COMMIT inside the timed window; IOPS.
//! - `small-files`: `--files` empty files created, then GETATTR'd (after LOOKUP), then
//!   removed; ops/s of each phase.
//! - `ls`: READDIRPLUS through a directory of `--files` entries on one connection, as
//!   `ls -l` does it; seconds.
//!
//! A load generator outside the server measures wall-clock time; the simulator's clock seam
//! does not apply here.
#![expect(
    clippy::disallowed_methods,
    reason = "a benchmark client times real work with the real clock"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use clap::Parser;
use nfs3_client::nfs3_types::nfs3::{
    COMMIT3args, CREATE3args, FSINFO3args, GETATTR3args, LOOKUP3args, MKDIR3args, Nfs3Option,
    Nfs3Result, READ3args, READDIRPLUS3args, REMOVE3args, WRITE3args, cookieverf3, createhow3,
    diropargs3, filename3, nfs_fh3, sattr3, stable_how,
};
use nfs3_client::nfs3_types::rpc::{auth_unix, opaque_auth};
use nfs3_client::nfs3_types::xdr_codec::Opaque;
use nfs3_client::tokio::{TokioConnector, TokioIo};
use nfs3_client::{Nfs3Connection, Nfs3ConnectionBuilder};
use rand::{Rng as _, SeedableRng as _};
use tokio::net::TcpStream;

type Conn = Nfs3Connection<TokioIo<TcpStream>>;

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "NFSv3 load generator for the DittoFS comparative benchmark")]
struct Args {
    /// Server address.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// NFS port.
    #[arg(long)]
    nfs_port: u16,
    /// MOUNT port.
    #[arg(long)]
    mount_port: u16,
    /// Export path to mount.
    #[arg(long, default_value = "/export")]
    export: String,
    /// Connections (and calls in flight).
    #[arg(long, default_value_t = 32)]
    conns: usize,
    /// Size of the sequential file in MiB (also the random-I/O file).
    #[arg(long, default_value_t = 1024)]
    seq_mib: u64,
    /// Files of 1 MiB for create-1m.
    #[arg(long, default_value_t = 256)]
    big_files: u64,
    /// Files for small-files and ls.
    #[arg(long, default_value_t = 10_000)]
    files: u64,
    /// Duration of the random-I/O workloads.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// A fresh directory name under the export for this run.
    #[arg(long, default_value = "bench")]
    dir: String,
    /// Workloads to run, in order.
    #[arg(default_values_t = ["create-1m", "seq-write", "seq-read", "rand-read", "rand-write", "small-files", "ls"].map(String::from))]
    workloads: Vec<String>,
}

fn cred() -> opaque_auth<'static> {
    opaque_auth::auth_unix(&auth_unix {
        stamp: 1,
        machinename: Opaque::borrowed(b"nfsbench"),
        uid: 0,
        gid: 0,
        gids: Vec::new(),
    })
}

fn name(s: &str) -> filename3<'_> {
    filename3(Opaque::borrowed(s.as_bytes()))
}

fn dirop<'a>(dir: &nfs_fh3, n: &'a str) -> diropargs3<'a> {
    diropargs3 {
        dir: dir.clone(),
        name: name(n),
    }
}

fn mode(m: u32) -> sattr3 {
    sattr3 {
        mode: Nfs3Option::Some(m),
        ..sattr3::default()
    }
}

async fn connect(a: &Args) -> anyhow::Result<Conn> {
    Nfs3ConnectionBuilder::new(TokioConnector, &a.host, &a.export)
        .mount_port(a.mount_port)
        .nfs3_port(a.nfs_port)
        .connect_from_privileged_port(false)
        .credential(cred())
        .mount()
        .await
        .with_context(|| format!("mounting {}:{} ", a.host, a.export))
}

async fn create(c: &mut Conn, dir: &nfs_fh3, n: &str) -> anyhow::Result<nfs_fh3> {
    let r = c
        .create(&CREATE3args {
            where_: dirop(dir, n),
            how: createhow3::UNCHECKED(mode(0o644)),
        })
        .await?;
    match r {
        Nfs3Result::Ok(ok) => match ok.obj {
            Nfs3Option::Some(h) => Ok(h),
            Nfs3Option::None => lookup(c, dir, n).await,
        },
        Nfs3Result::Err((s, _)) => bail!("CREATE {n}: {s:?}"),
    }
}

async fn lookup(c: &mut Conn, dir: &nfs_fh3, n: &str) -> anyhow::Result<nfs_fh3> {
    match c
        .lookup(&LOOKUP3args {
            what: dirop(dir, n),
        })
        .await?
    {
        Nfs3Result::Ok(ok) => Ok(ok.object),
        Nfs3Result::Err((s, _)) => bail!("LOOKUP {n}: {s:?}"),
    }
}

async fn write(
    c: &mut Conn,
    f: &nfs_fh3,
    offset: u64,
    data: &[u8],
    stable: stable_how,
) -> anyhow::Result<()> {
    let r = c
        .write(&WRITE3args {
            file: f.clone(),
            offset,
            count: u32::try_from(data.len())?,
            stable,
            data: Opaque::borrowed(data),
        })
        .await?;
    match r {
        Nfs3Result::Ok(ok) if ok.count as usize == data.len() => Ok(()),
        Nfs3Result::Ok(ok) => {
            bail!("short WRITE: {} of {}", ok.count, data.len())
        }
        Nfs3Result::Err((s, _)) => bail!("WRITE: {s:?}"),
    }
}

async fn read(c: &mut Conn, f: &nfs_fh3, offset: u64, count: u32) -> anyhow::Result<usize> {
    match c
        .read(&READ3args {
            file: f.clone(),
            offset,
            count,
        })
        .await?
    {
        Nfs3Result::Ok(ok) => Ok(ok.data.len()),
        Nfs3Result::Err((s, _)) => bail!("READ: {s:?}"),
    }
}

async fn commit(c: &mut Conn, f: &nfs_fh3) -> anyhow::Result<()> {
    match c
        .commit(&COMMIT3args {
            file: f.clone(),
            offset: 0,
            count: 0,
        })
        .await?
    {
        Nfs3Result::Ok(_) => Ok(()),
        Nfs3Result::Err((s, _)) => bail!("COMMIT: {s:?}"),
    }
}

/// Runs `f(connection index, connection)` on every connection at once; returns the elapsed time.
async fn on_all<F, Fut>(conns: &mut Vec<Conn>, f: F) -> anyhow::Result<Duration>
where
    F: Fn(usize, Conn) -> Fut,
    Fut: Future<Output = anyhow::Result<Conn>> + Send + 'static,
{
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .drain(..)
        .enumerate()
        .map(|(i, c)| tokio::spawn(f(i, c)))
        .collect();
    for t in tasks {
        conns.push(t.await??);
    }
    Ok(start.elapsed())
}

fn result(workload: &str, value: f64, unit: &str) {
    println!("RESULT {workload} {value:.4} {unit}");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Arc::new(Args::parse());
    let mut conns = Vec::with_capacity(a.conns);
    for _ in 0..a.conns {
        conns.push(connect(&a).await?);
    }
    let root = conns[0].root_nfs_fh3();
    let info = match conns[0]
        .fsinfo(&FSINFO3args {
            fsroot: root.clone(),
        })
        .await?
    {
        Nfs3Result::Ok(ok) => ok,
        Nfs3Result::Err((s, _)) => bail!("FSINFO: {s:?}"),
    };
    let chunk = info.wtmax.min(info.rtmax).min(1 << 20);
    eprintln!(
        "nfsbench: {} connections, rtmax {} wtmax {}, I/O size {chunk}",
        a.conns, info.rtmax, info.wtmax
    );
    let top = match conns[0]
        .mkdir(&MKDIR3args {
            where_: dirop(&root, &a.dir),
            attributes: mode(0o755),
        })
        .await?
    {
        Nfs3Result::Ok(ok) => match ok.obj {
            Nfs3Option::Some(h) => h,
            Nfs3Option::None => lookup(&mut conns[0], &root, &a.dir).await?,
        },
        Nfs3Result::Err((s, _)) => {
            bail!("MKDIR {}: {s:?} (use a fresh --dir)", a.dir)
        }
    };
    let seq_file = create(&mut conns[0], &top, "seq").await?;
    let seq_bytes = a.seq_mib << 20;
    let chunks = seq_bytes / u64::from(chunk);
    let n = a.conns as u64;

    for w in &a.workloads {
        eprintln!("nfsbench: {w}");
        match w.as_str() {
            "create-1m" => {
                let data = Arc::new(vec![0x5au8; 1 << 20]);
                let (top, a2) = (top.clone(), a.clone());
                let t = on_all(&mut conns, move |i, mut c| {
                    let (top, data, a) = (top.clone(), data.clone(), a2.clone());
                    async move {
                        let mut k = i as u64;
                        while k < a.big_files {
                            let f = create(&mut c, &top, &format!("big{k}")).await?;
                            for off in (0..data.len()).step_by(chunk as usize) {
                                let end = (off + chunk as usize).min(data.len());
                                write(
                                    &mut c,
                                    &f,
                                    off as u64,
                                    &data[off..end],
                                    stable_how::UNSTABLE,
                                )
                                .await?;
                            }
                            commit(&mut c, &f).await?;
                            k += a.conns as u64;
                        }
                        Ok(c)
                    }
                })
                .await?;
                result(w, a.big_files as f64 / t.as_secs_f64(), "files/s");
            }
            "seq-write" => {
                let data = Arc::new(vec![0xa5u8; chunk as usize]);
                let f = seq_file.clone();
                let t = on_all(&mut conns, move |i, mut c| {
                    let (f, data) = (f.clone(), data.clone());
                    async move {
                        let mut k = i as u64;
                        while k < chunks {
                            write(
                                &mut c,
                                &f,
                                k * u64::from(chunk),
                                &data,
                                stable_how::UNSTABLE,
                            )
                            .await?;
                            k += n;
                        }
                        Ok(c)
                    }
                })
                .await?;
                let start = Instant::now();
                commit(&mut conns[0], &seq_file).await?;
                let total = t + start.elapsed();
                result(w, seq_bytes as f64 / 1e6 / total.as_secs_f64(), "MB/s");
            }
            "seq-read" => {
                let f = seq_file.clone();
                let t = on_all(&mut conns, move |i, mut c| {
                    let f = f.clone();
                    async move {
                        let mut k = i as u64;
                        while k < chunks {
                            let got = read(&mut c, &f, k * u64::from(chunk), chunk).await?;
                            if got != chunk as usize {
                                bail!("short READ at chunk {k}: {got}");
                            }
                            k += n;
                        }
                        Ok(c)
                    }
                })
                .await?;
                result(w, seq_bytes as f64 / 1e6 / t.as_secs_f64(), "MB/s");
            }
            "rand-read" | "rand-write" => {
                let writing = w == "rand-write";
                let ops = Arc::new(AtomicU64::new(0));
                let deadline = Instant::now() + Duration::from_secs(a.seconds);
                let blocks = seq_bytes / 4096;
                let (f, ops2) = (seq_file.clone(), ops.clone());
                let t = on_all(&mut conns, move |i, mut c| {
                    let (f, ops) = (f.clone(), ops2.clone());
                    async move {
                        let mut rng = rand::rngs::SmallRng::seed_from_u64(i as u64);
                        let buf = vec![i as u8; 4096];
                        while Instant::now() < deadline {
                            let off = rng.random_range(0..blocks) * 4096;
                            if writing {
                                write(&mut c, &f, off, &buf, stable_how::UNSTABLE).await?;
                            } else {
                                read(&mut c, &f, off, 4096).await?;
                            }
                            ops.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(c)
                    }
                })
                .await?;
                let mut total = t;
                if writing {
                    let start = Instant::now();
                    commit(&mut conns[0], &seq_file).await?;
                    total += start.elapsed();
                }
                result(
                    w,
                    ops.load(Ordering::Relaxed) as f64 / total.as_secs_f64(),
                    "IOPS",
                );
            }
            "small-files" => {
                let sub = match conns[0]
                    .mkdir(&MKDIR3args {
                        where_: dirop(&top, "small"),
                        attributes: mode(0o755),
                    })
                    .await?
                {
                    Nfs3Result::Ok(ok) => match ok.obj {
                        Nfs3Option::Some(h) => h,
                        Nfs3Option::None => lookup(&mut conns[0], &top, "small").await?,
                    },
                    Nfs3Result::Err((s, _)) => {
                        bail!("MKDIR small: {s:?}")
                    }
                };
                let files = a.files;
                for phase in ["create", "stat", "delete"] {
                    let sub2 = sub.clone();
                    let t = on_all(&mut conns, move |i, mut c| {
                        let sub = sub2.clone();
                        async move {
                            let mut k = i as u64;
                            while k < files {
                                let nm = format!("f{k:06}");
                                match phase {
                                    "create" => {
                                        create(&mut c, &sub, &nm).await?;
                                    }
                                    "stat" => {
                                        let h = lookup(&mut c, &sub, &nm).await?;
                                        c.getattr(&GETATTR3args { object: h }).await?;
                                    }
                                    _ => {
                                        let r = c
                                            .remove(&REMOVE3args {
                                                object: dirop(&sub, &nm),
                                            })
                                            .await?;
                                        if let Nfs3Result::Err((s, _)) = r {
                                            bail!("REMOVE {nm}: {s:?}");
                                        }
                                    }
                                }
                                k += n;
                            }
                            Ok(c)
                        }
                    })
                    .await?;
                    result(
                        &format!("small-{phase}"),
                        files as f64 / t.as_secs_f64(),
                        "ops/s",
                    );
                }
            }
            "ls" => {
                let dir = match conns[0]
                    .mkdir(&MKDIR3args {
                        where_: dirop(&top, "ls"),
                        attributes: mode(0o755),
                    })
                    .await?
                {
                    Nfs3Result::Ok(ok) => match ok.obj {
                        Nfs3Option::Some(h) => h,
                        Nfs3Option::None => lookup(&mut conns[0], &top, "ls").await?,
                    },
                    Nfs3Result::Err((s, _)) => {
                        bail!("MKDIR ls: {s:?}")
                    }
                };
                let files = a.files;
                let d2 = dir.clone();
                on_all(&mut conns, move |i, mut c| {
                    let dir = d2.clone();
                    async move {
                        let mut k = i as u64;
                        while k < files {
                            create(&mut c, &dir, &format!("entry-{k:06}")).await?;
                            k += n;
                        }
                        Ok(c)
                    }
                })
                .await?;
                let start = Instant::now();
                let (mut cookie, mut verf, mut seen) = (0u64, cookieverf3::default(), 0u64);
                loop {
                    let r = conns[0]
                        .readdirplus(&READDIRPLUS3args {
                            dir: dir.clone(),
                            cookie,
                            cookieverf: verf,
                            dircount: 65536,
                            maxcount: 1 << 20,
                        })
                        .await?;
                    let ok = match r {
                        Nfs3Result::Ok(ok) => ok,
                        Nfs3Result::Err((s, _)) => {
                            bail!("READDIRPLUS: {s:?}")
                        }
                    };
                    verf = ok.cookieverf;
                    let eof = ok.reply.eof;
                    for e in ok.reply.entries.into_inner() {
                        seen += 1;
                        cookie = e.cookie;
                    }
                    if eof {
                        break;
                    }
                }
                let t = start.elapsed();
                if seen < files {
                    bail!("READDIRPLUS listed {seen} of {files} entries");
                }
                result(w, t.as_secs_f64(), "s");
            }
            other => bail!("unknown workload {other}"),
        }
    }
    Ok(())
}
