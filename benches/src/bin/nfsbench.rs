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

use anyhow::bail;
use clap::Parser;
use nfs3_client::nfs3_types::nfs3::{
    FSINFO3args, GETATTR3args, MKDIR3args, Nfs3Option, Nfs3Result, READDIRPLUS3args, REMOVE3args,
    cookieverf3, stable_how,
};
use rand::{Rng as _, SeedableRng as _};
use testkit::nfs::{Conn, commit, create, dirop, lookup, mode, mount_at, read, write_all};

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
    /// The NFS (and MOUNT) port of another gateway serving the same export (several dittofs
    /// processes on one metadata store and content store); repeat for more. Connections are
    /// spread over the gateways round-robin, and every COMMIT a workload ends with goes to
    /// each gateway, since each commits what was written through it.
    #[arg(long = "gateway-port")]
    gateway_ports: Vec<u16>,
    /// A fresh directory name under the export for this run.
    #[arg(long, default_value = "bench")]
    dir: String,
    /// Workloads to run, in order.
    #[arg(default_values_t = ["create-1m", "seq-write", "seq-read", "rand-read", "rand-write", "small-files", "ls"].map(String::from))]
    workloads: Vec<String>,
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
    let mut ports = vec![(a.mount_port, a.nfs_port)];
    ports.extend(a.gateway_ports.iter().map(|&p| (p, p)));
    // Connection i talks to gateway i % gateways, so connections 0..gateways are one each.
    let gateways = ports.len().min(a.conns.max(1));
    for i in 0..a.conns {
        let (mount_port, nfs_port) = ports[i % ports.len()];
        conns.push(mount_at(&a.host, &a.export, mount_port, nfs_port).await?);
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
        "nfsbench: {} connections to {gateways} gateway(s), rtmax {} wtmax {}, I/O size {chunk}",
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
    let seq_file = create(&mut conns[0], &top, "seq", 0o644).await?;
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
                            let f = create(&mut c, &top, &format!("big{k}"), 0o644).await?;
                            for off in (0..data.len()).step_by(chunk as usize) {
                                let end = (off + chunk as usize).min(data.len());
                                write_all(
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
                            write_all(
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
                for c in &mut conns[..gateways] {
                    commit(c, &seq_file).await?;
                }
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
                            let got = read(&mut c, &f, k * u64::from(chunk), chunk)
                                .await?
                                .data
                                .len();
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
                                write_all(&mut c, &f, off, &buf, stable_how::UNSTABLE).await?;
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
                    for c in &mut conns[..gateways] {
                        commit(c, &seq_file).await?;
                    }
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
                                        create(&mut c, &sub, &nm, 0o644).await?;
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
                            create(&mut c, &dir, &format!("entry-{k:06}"), 0o644).await?;
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
