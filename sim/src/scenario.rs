//! The seam scenario: the production `serve()` inside turmoil with memory stores, driven by the
//! simulated client through MOUNT, CREATE, WRITE UNSTABLE, COMMIT, READ and READDIRPLUS, then
//! a clean shutdown. One seed gives one trace; `sim/tests/seam.rs` runs it twice to prove it.
//!
//! Hosts: `server` listens on the portmapper port (111) and on [`NFS_PORT`]; both serve every
//! program, as the binary's listeners do. `client` asks the portmapper for MOUNT's and NFS's
//! ports, mounts [`EXPORT`], writes [`FILE_LEN`] seeded bytes as three out-of-order UNSTABLE
//! writes, commits, reads them back, lists the directory, unmounts and cancels the server's
//! shutdown token. The harness then steps the simulation until `serve()` has returned.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actors::runtime::Env;
use actors::server::{self, StoreSet};
use protocol::nfs3::{
    Commit3Args, Cookie3, Cookieverf3, Create3Args, CreateHow3, DirOpArgs3, Read3Args,
    Readdirplus3Args, Sattr3, StableHow, Write3Args, Writeverf3,
};
use protocol::rpc::AuthSys;
use protocol::{mount3, nfs3, portmap};
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stores::memory::{MemoryContent, MemoryMetadata};
use stores::{ContentStore, InodeId, MetadataStore, StoreId};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::client::SimClient;
use crate::clock::{SimClock, sim_epoch};
use crate::net::SimListener;
use crate::trace::Trace;

/// The one share.
pub const EXPORT: &str = "/export";
/// The file the client creates.
pub const FILE_NAME: &str = "seam.bin";
/// Bytes per WRITE.
pub const CHUNK: usize = 64 * 1024;
/// Where the three WRITEs go, in the order they are sent: the last chunk first, so the file
/// grows past a hole that the next writes fill.
pub const WRITE_OFFSETS: [u64; 3] = [2 * CHUNK as u64, 0, CHUNK as u64];
/// The file's final length.
pub const FILE_LEN: usize = 3 * CHUNK;
/// The port NFS and MOUNT are registered on (the portmapper listens on 111 as well).
pub const NFS_PORT: u16 = 2049;
/// The file handle MAC key; fixed, so handles are the same in every run.
pub const HANDLE_KEY: [u8; 32] = [7; 32];
/// Simulated time the whole run may take before turmoil fails it. The scenario needs about a
/// second with turmoil's default latencies (up to 100 ms per message).
pub const SIM_DURATION: Duration = Duration::from_secs(60);

/// What one run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeamRun {
    /// Everything the client sent and received, and when the server stopped.
    pub trace: Trace,
    /// The values the scenario checked, for tests to assert on again.
    pub report: SeamReport,
}

/// The values behind the scenario's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeamReport {
    /// The file's contents as the client wrote them ([`seeded_data`] of the seed).
    pub written: Vec<u8>,
    /// The file's contents as READ returned them after COMMIT.
    pub read_back: Vec<u8>,
    /// The verifier of each WRITE reply, in sending order.
    pub write_verfs: Vec<Writeverf3>,
    /// The verifier of the COMMIT reply.
    pub commit_verf: Writeverf3,
    /// The size READDIRPLUS reported for [`FILE_NAME`]; `None` if it was not listed.
    pub listed_size: Option<u64>,
    /// The file id CREATE returned.
    pub fileid: u64,
    /// The file's bytes in the memory content store after `serve()` returned and both stores
    /// were crashed (unsynced state dropped): what the clean shutdown left durable.
    pub durable: Vec<u8>,
    /// The file's size in the metadata store after the same crash.
    pub durable_size: u64,
}

/// The file contents the client writes for `seed`: [`FILE_LEN`] bytes from a ChaCha stream.
pub fn seeded_data(seed: u64) -> Vec<u8> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ actors::runtime::fnv1a64(b"seam-data"));
    let mut data = vec![0u8; FILE_LEN];
    rng.fill_bytes(&mut data);
    data
}

/// Runs the seam scenario with `seed` (turmoil's network RNG, the server's `Env` seed and the
/// written data all derive from it). Fails if any of the client's checks fails, if `serve()`
/// fails, or if the simulation runs out of time.
pub fn run_seam_scenario(seed: u64) -> Result<SeamRun, Error> {
    let meta = Arc::new(MemoryMetadata::new(StoreId(1)));
    let content = Arc::new(MemoryContent::new());
    let shutdown = CancellationToken::new();
    let outcome: Rc<RefCell<Option<(Trace, SeamReport)>>> = Rc::default();

    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(sim_epoch())
        .simulation_duration(SIM_DURATION)
        // The seed also decides which host runs first in each tick, so interleavings vary
        // between seeds but never between runs of one seed.
        .enable_random_order()
        .build();

    // The host closure can be called again on a bounce, so it builds everything but the stores
    // afresh each time, as a restarted daemon would.
    let (m, c, token) = (meta.clone(), content.clone(), shutdown.clone());
    sim.host("server", move || {
        let (meta, content, shutdown) = (m.clone(), c.clone(), token.clone());
        async move {
            let listeners = vec![
                SimListener::bind(portmap::PORT).await?,
                SimListener::bind(NFS_PORT).await?,
            ];
            let env = Env::new(Arc::new(SimClock::new(sim_epoch())), seed);
            let stores = StoreSet {
                metadata: BTreeMap::from([("mem".to_owned(), meta)]),
                content: BTreeMap::from([("mem".to_owned(), content)]),
            };
            server::serve(
                env,
                crate::share_config(EXPORT, "mem", 0o755, HANDLE_KEY, NFS_PORT),
                stores,
                server::Listeners {
                    nfs: listeners,
                    smb: Vec::new(),
                },
                shutdown,
            )
            .await?;
            Ok(())
        }
    });

    let out = outcome.clone();
    let token = shutdown.clone();
    sim.client("client", async move {
        let result = client(seed).await;
        // Whatever happened, let the server go; the harness reports the client's error.
        token.cancel();
        *out.borrow_mut() = Some(result?);
        Ok(())
    });

    sim.run().map_err(|e| Error::Sim(e.to_string()))?;
    while sim.is_host_running("server") {
        sim.step().map_err(|e| Error::Sim(e.to_string()))?;
    }
    let stopped_at = sim.elapsed();
    drop(sim);

    let (mut trace, mut report) = outcome
        .borrow_mut()
        .take()
        .ok_or_else(|| Error::Sim("the client finished without a result".to_owned()))?;
    trace.push(stopped_at, "S   serve() returned Ok after a clean shutdown");

    // What the shutdown made durable: drop everything unsynced and look into the stores.
    meta.crash();
    content.crash();
    let ino = InodeId(report.fileid);
    let rt = tokio::runtime::Builder::new_current_thread().build()?;
    let (durable, attr) = rt.block_on(async {
        let attr = meta.getattr(ino).await?;
        let key = attr.content_key(meta.id());
        let bytes = content.read(key, 0, FILE_LEN as u32 * 2).await?;
        Ok::<_, stores::StoreError>((bytes, attr))
    })?;
    report.durable = durable.to_vec();
    report.durable_size = attr.size;
    check(
        report.durable == report.written,
        "the bytes in the content store after shutdown and a crash equal the bytes written",
    )?;
    check(
        report.durable_size == FILE_LEN as u64,
        "the size in the metadata store after shutdown and a crash is the file's length",
    )?;
    Ok(SeamRun { trace, report })
}

/// The client's side of the scenario; returns its trace and what it checked.
async fn client(seed: u64) -> Result<(Trace, SeamReport), Error> {
    let cred = AuthSys {
        stamp: 0,
        machine_name: b"client".to_vec(),
        uid: 0,
        gid: 0,
        gids: vec![0],
    };
    let mut c = SimClient::new(&cred, Trace::new(seed));

    let mut pmap = c.connect("server", portmap::PORT).await?;
    let mount_port = c
        .getport(&mut pmap, mount3::PROGRAM, mount3::VERSION)
        .await?;
    let nfs_port = c.getport(&mut pmap, nfs3::PROGRAM, nfs3::VERSION).await?;
    drop(pmap);
    check(
        mount_port == NFS_PORT,
        "the portmapper maps MOUNT v3 to the NFS port",
    )?;
    check(
        nfs_port == NFS_PORT,
        "the portmapper maps NFS v3 to the NFS port",
    )?;

    let mut conn = c.connect("server", nfs_port).await?;
    let root = c.mnt(&mut conn, EXPORT).await?;

    let created = c
        .create(
            &mut conn,
            Create3Args {
                where_: DirOpArgs3 {
                    dir: root.as_fh(),
                    name: FILE_NAME.as_bytes(),
                },
                how: CreateHow3::Unchecked(Sattr3 {
                    mode: Some(0o644),
                    ..Sattr3::default()
                }),
            },
        )
        .await?;
    let file = created
        .obj
        .0
        .ok_or_else(|| Error::Check("CREATE returned no handle".to_owned()))?;
    let fileid = created
        .obj_attributes
        .0
        .map(|a| a.fileid)
        .ok_or_else(|| Error::Check("CREATE returned no attributes".to_owned()))?;

    let written = seeded_data(seed);
    let mut write_verfs = Vec::new();
    for offset in WRITE_OFFSETS {
        let at = usize::try_from(offset).expect("offsets are below FILE_LEN");
        let ok = c
            .write(
                &mut conn,
                Write3Args {
                    file: file.as_fh(),
                    offset,
                    stable: StableHow::Unstable,
                    data: &written[at..at + CHUNK],
                },
            )
            .await?;
        check(ok.count as usize == CHUNK, "WRITE takes the whole chunk")?;
        write_verfs.push(ok.verf);
    }

    let commit = c
        .commit(
            &mut conn,
            Commit3Args {
                file: file.as_fh(),
                offset: 0,
                count: 0,
            },
        )
        .await?;
    check(
        write_verfs.iter().all(|v| *v == commit.verf),
        "COMMIT's verifier equals every WRITE's: nothing written was lost",
    )?;

    let mut read_back = Vec::with_capacity(FILE_LEN);
    loop {
        let ok = c
            .read(
                &mut conn,
                Read3Args {
                    file: file.as_fh(),
                    offset: read_back.len() as u64,
                    count: CHUNK as u32,
                },
            )
            .await?;
        read_back.extend_from_slice(&ok.data);
        if ok.eof {
            break;
        }
        check(!ok.data.is_empty(), "READ before EOF returns data")?;
        check(
            read_back.len() <= FILE_LEN,
            "READ stops at the end of the file",
        )?;
    }
    check(read_back == written, "READ returns the bytes written")?;

    let listing = c
        .readdirplus(
            &mut conn,
            Readdirplus3Args {
                dir: root.as_fh(),
                cookie: Cookie3(0),
                cookieverf: Cookieverf3::default(),
                dircount: 4096,
                maxcount: 32 * 1024,
            },
        )
        .await?;
    check(listing.eof, "one READDIRPLUS lists the whole root")?;
    let entry = listing
        .entries
        .iter()
        .find(|e| e.name == FILE_NAME.as_bytes());
    let listed_size = entry.and_then(|e| e.name_attributes.0.map(|a| a.size));
    check(entry.is_some(), "READDIRPLUS lists the created file")?;
    check(
        entry.is_some_and(|e| e.fileid == fileid && e.name_handle.0 == Some(file)),
        "READDIRPLUS gives the created file's id and handle",
    )?;
    check(
        listed_size == Some(FILE_LEN as u64),
        "READDIRPLUS gives the file's full size",
    )?;

    c.umnt(&mut conn, EXPORT).await?;
    drop(conn);
    c.note("C   done; cancelling the server's shutdown token");

    let report = SeamReport {
        written,
        read_back,
        write_verfs,
        commit_verf: commit.verf,
        listed_size,
        fileid,
        durable: Vec::new(),
        durable_size: 0,
    };
    Ok((c.into_trace(), report))
}

/// Fails the scenario with `what` unless `ok`.
fn check(ok: bool, what: &str) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::Check(what.to_owned()))
    }
}
