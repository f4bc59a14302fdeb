//! The seam scenario: the production `serve()` on a turmoil host with memory stores, and one
//! simulated client that mounts, creates a file, writes it UNSTABLE in three pieces out of
//! order, COMMITs, reads it back and lists the directory with READDIRPLUS.
//!
//! [`run`] checks what the client saw (the bytes read equal the bytes written, one write
//! verifier across WRITE and COMMIT, the file listed with its size) and returns the trace; the
//! tests run it twice per seed and compare the traces byte for byte.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actors::runtime::Env;
use actors::server::share::{SharePolicy, Squash};
use actors::server::{ServerConfig, ShareSpec, StoreSet, serve};
use anyhow::{Context as _, ensure};
use protocol::mount3::{self, DirPath, MountRes3};
use protocol::nfs3::{
    self, Commit3Args, Commit3Res, Create3Args, Create3Res, CreateHow3, DirOpArgs3, Nfs3Res,
    NfsFh3, Read3Args, Read3Res, Readdirplus3Args, Readdirplus3Res, Sattr3, StableHow, Write3Args,
    Write3Res,
};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stores::StoreId;
use stores::memory::{MemoryContent, MemoryMetadata};
use tokio_util::sync::CancellationToken;

use crate::client::{SharedTrace, SimClient, Trace};
use crate::{SimClock, SimListener};

/// The port the simulated server listens on (NFS, MOUNT and portmapper alike).
pub const PORT: u16 = 2049;
/// The one export.
pub const EXPORT: &str = "/export";
/// Bytes per WRITE.
const PIECE: usize = 64 << 10;

/// What one run produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Every message, in simulated time.
    pub trace: String,
    /// [`Trace::hash`] of it.
    pub hash: u64,
    /// The write verifier the server answered with.
    pub verifier: [u8; 8],
    /// Messages traced.
    pub messages: usize,
}

/// Runs the scenario under `seed`: the turmoil network, the server's `Env` and the data
/// written all derive from it.
pub fn run(seed: u64) -> anyhow::Result<Outcome> {
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .simulation_duration(Duration::from_secs(120))
        .build();
    let shutdown = CancellationToken::new();
    let server_token = shutdown.clone();
    sim.host("server", move || {
        let token = server_token.clone();
        async move {
            let listener = turmoil::net::TcpListener::bind(("0.0.0.0", PORT)).await?;
            let meta = Arc::new(MemoryMetadata::new(StoreId(1)));
            let content = Arc::new(MemoryContent::new());
            let share = ShareSpec {
                name: EXPORT.to_owned(),
                metadata_store: "mem".to_owned(),
                content_store: "mem".to_owned(),
                policy: SharePolicy {
                    read_only: false,
                    squash: Squash::None,
                    anon_uid: 65534,
                    anon_gid: 65534,
                },
                root_mode: 0o755,
                root_uid: 0,
                root_gid: 0,
                allowed_clients: Vec::new(),
                require_privileged_port: false,
            };
            let mut config = ServerConfig::new(vec![share], [7; 32]);
            config.nfs_port = PORT;
            let stores = StoreSet {
                metadata: BTreeMap::from([("mem".to_owned(), meta)]),
                content: BTreeMap::from([("mem".to_owned(), content)]),
            };
            let env = Env::new(Arc::new(SimClock::default()), seed);
            serve(env, config, stores, vec![SimListener(listener)], token).await?;
            Ok(())
        }
    });

    let trace: SharedTrace = Rc::new(RefCell::new(Trace::default()));
    let verifier = Rc::new(RefCell::new([0u8; 8]));
    let (t, v) = (trace.clone(), verifier.clone());
    sim.client("client", async move {
        let verf = client(seed, t).await?;
        *v.borrow_mut() = verf;
        shutdown.cancel();
        // Let the server stop accepting, flush and sync before the simulation ends.
        tokio::time::sleep(Duration::from_millis(100)).await;
        Ok(())
    });
    sim.run()
        .map_err(|e| anyhow::anyhow!("seed {seed:#x}: {e}"))?;
    let trace = trace.borrow();
    let verifier = *verifier.borrow();
    Ok(Outcome {
        trace: trace.text(),
        hash: trace.hash(),
        verifier,
        messages: trace.len(),
    })
}

/// The client's side; returns the write verifier.
async fn client(seed: u64, trace: SharedTrace) -> anyhow::Result<[u8; 8]> {
    let mut c = SimClient::connect("client", "server", PORT, 0, 0, trace).await?;
    let mnt: MountRes3 = c
        .call(
            mount3::PROGRAM,
            mount3::VERSION,
            1,
            &DirPath(EXPORT.as_bytes()),
        )
        .await?;
    let MountRes3::Ok(mnt) = mnt else {
        anyhow::bail!("MNT {EXPORT}: {:?}", mnt.status());
    };
    let root = mnt.fhandle;
    let root_fh = NfsFh3::new(&root).context("MNT returned an oversized handle")?;

    let created: Create3Res = c
        .call(
            nfs3::PROGRAM,
            nfs3::VERSION,
            8,
            &Create3Args {
                where_: DirOpArgs3 {
                    dir: root_fh,
                    name: b"seam.dat",
                },
                how: CreateHow3::Unchecked(Sattr3 {
                    mode: Some(0o644),
                    ..Sattr3::default()
                }),
            },
        )
        .await?;
    let Nfs3Res::Ok(created) = created else {
        anyhow::bail!("CREATE: {:?}", created.status());
    };
    let file = created.obj.0.context("CREATE returned no handle")?;
    let fh = NfsFh3::new(file.as_bytes()).context("oversized handle")?;

    let mut data = vec![0u8; 3 * PIECE];
    ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut data);
    let mut verfs = Vec::new();
    for piece in [2usize, 0, 1] {
        let at = piece * PIECE;
        let w: Write3Res = c
            .call(
                nfs3::PROGRAM,
                nfs3::VERSION,
                7,
                &Write3Args {
                    file: fh,
                    offset: at as u64,
                    stable: StableHow::Unstable,
                    data: &data[at..at + PIECE],
                },
            )
            .await?;
        let Nfs3Res::Ok(w) = w else {
            anyhow::bail!("WRITE at {at}: {:?}", w.status());
        };
        ensure!(w.count as usize == PIECE, "short WRITE: {}", w.count);
        verfs.push(w.verf);
    }
    let committed: Commit3Res = c
        .call(
            nfs3::PROGRAM,
            nfs3::VERSION,
            21,
            &Commit3Args {
                file: fh,
                offset: 0,
                count: 0,
            },
        )
        .await?;
    let Nfs3Res::Ok(committed) = committed else {
        anyhow::bail!("COMMIT: {:?}", committed.status());
    };
    ensure!(
        verfs.iter().all(|v| *v == committed.verf),
        "COMMIT verifier {:?} differs from the WRITEs' {verfs:?}",
        committed.verf
    );

    let read: Read3Res = c
        .call(
            nfs3::PROGRAM,
            nfs3::VERSION,
            6,
            &Read3Args {
                file: fh,
                offset: 0,
                count: (4 * PIECE) as u32,
            },
        )
        .await?;
    let Nfs3Res::Ok(read) = read else {
        anyhow::bail!("READ: {:?}", read.status());
    };
    ensure!(read.eof, "READ of the whole file without eof");
    ensure!(read.data[..] == data[..], "READ returned other bytes");

    let listed: Readdirplus3Res = c
        .call(
            nfs3::PROGRAM,
            nfs3::VERSION,
            17,
            &Readdirplus3Args {
                dir: root_fh,
                cookie: nfs3::Cookie3(0),
                cookieverf: nfs3::Cookieverf3::default(),
                dircount: 4096,
                maxcount: 32 << 10,
            },
        )
        .await?;
    let Nfs3Res::Ok(listed) = listed else {
        anyhow::bail!("READDIRPLUS: {:?}", listed.status());
    };
    let entry = listed
        .entries
        .iter()
        .find(|e| e.name == b"seam.dat")
        .context("READDIRPLUS does not list seam.dat")?;
    let size = entry.name_attributes.0.as_ref().map(|a| a.size);
    ensure!(
        size == Some(data.len() as u64),
        "READDIRPLUS size {size:?}, wrote {}",
        data.len()
    );
    ensure!(
        entry.name_handle.0.as_ref().map(|h| h.as_bytes()) == Some(file.as_bytes()),
        "READDIRPLUS handle differs from CREATE's"
    );
    Ok(committed.verf.0)
}
