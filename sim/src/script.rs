//! Scripted runs for protocol-trace snapshots: one client, no faults, a fixed 1 ms latency,
//! the production `serve()` over memory metadata and a [`SimDisk`]. The client runs a script
//! of calls; the run's [`Trace`] (rendered by [`Trace::readable`]) is what `sim/tests/traces.rs`
//! pins with insta.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use actors::runtime::Env;
use actors::server::{self, StoreSet};
use protocol::nfs3::NfsFh3Buf;
use protocol::rpc::AuthSys;
use stores::StoreId;
use stores::memory::MemoryMetadata;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::client::SimClient;
use crate::clock::{SimClock, sim_epoch};
use crate::disk::SimDisk;
use crate::link::{Link, LinkCtl};
use crate::net::SimListener;
use crate::trace::Trace;

/// How the server of a scripted run is set up.
#[derive(Debug, Clone, Copy)]
pub struct ScriptSetup {
    /// The content store's capacity in bytes, if limited.
    pub capacity: Option<u64>,
    /// Mode of the share's root (owned by root).
    pub root_mode: u32,
    /// The client's uid and gid.
    pub uid: u32,
}

impl Default for ScriptSetup {
    fn default() -> Self {
        Self {
            capacity: None,
            root_mode: 0o777,
            uid: 0,
        }
    }
}

/// Runs `script` as the only client against a fresh server; returns the trace.
pub fn run_script<F>(seed: u64, setup: ScriptSetup, script: F) -> Result<Trace, Error>
where
    F: AsyncFnOnce(&mut SimClient, &mut Link, NfsFh3Buf) -> Result<(), Error> + 'static,
{
    let meta = Arc::new(MemoryMetadata::new(StoreId(1)));
    let disk = Arc::new(match setup.capacity {
        Some(c) => SimDisk::with_capacity(c),
        None => SimDisk::new(),
    });
    let shutdown = CancellationToken::new();
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(sim_epoch())
        .simulation_duration(Duration::from_secs(120))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .build();
    let token = shutdown.clone();
    sim.host("server", move || {
        let (meta, disk, shutdown) = (meta.clone(), disk.clone(), token.clone());
        async move {
            let listeners = vec![SimListener::bind(crate::run::NFS_PORT).await?];
            let env = Env::new(Arc::new(SimClock::new(sim_epoch())), seed);
            let stores = StoreSet {
                metadata: BTreeMap::from([("mem".to_owned(), meta)]),
                content: BTreeMap::from([("disk".to_owned(), disk)]),
            };
            server::serve(
                env,
                crate::share_config(
                    crate::run::EXPORT,
                    "disk",
                    setup.root_mode,
                    [5; 32],
                    crate::run::NFS_PORT,
                ),
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
    let trace = Rc::new(std::cell::RefCell::new(Trace::new(seed)));
    let outcome: Rc<std::cell::RefCell<Option<Result<(), Error>>>> = Rc::default();
    let (t, out, token) = (trace.clone(), outcome.clone(), shutdown.clone());
    sim.client("client", async move {
        let cred = AuthSys {
            stamp: 1,
            machine_name: b"client".to_vec(),
            uid: setup.uid,
            gid: setup.uid,
            gids: vec![setup.uid],
        };
        let result = async {
            let mut c = SimClient::shared(&cred, t, Rc::default(), String::new(), 1);
            let mut link = Link::new("server", crate::run::NFS_PORT, Rc::new(LinkCtl::default()));
            let root = c.mnt_link(&mut link, crate::run::EXPORT).await?;
            script(&mut c, &mut link, root).await
        }
        .await;
        token.cancel();
        *out.borrow_mut() = Some(result);
        Ok(())
    });
    sim.run().map_err(|e| Error::Sim(e.to_string()))?;
    drop(sim);
    outcome
        .borrow_mut()
        .take()
        .ok_or_else(|| Error::Sim("the script did not finish".to_owned()))??;
    let trace = trace.borrow().clone();
    Ok(trace)
}

/// How the server of a scripted SMB run is set up.
#[derive(Debug, Clone, Copy, Default)]
pub struct SmbScriptSetup {
    /// The adapter-wide encryption setting.
    pub encryption: server::Encryption,
}

/// Runs `script` as the only SMB client (host `client`, not yet connected) against a fresh
/// server with NFS and SMB listeners; returns the trace.
pub fn run_smb_script<F>(seed: u64, setup: SmbScriptSetup, script: F) -> Result<Trace, Error>
where
    F: AsyncFnOnce(&mut crate::smb_client::SmbClient) -> Result<(), Error> + 'static,
{
    use rand::SeedableRng;
    let meta = Arc::new(MemoryMetadata::new(StoreId(1)));
    let disk = Arc::new(SimDisk::new());
    let shutdown = CancellationToken::new();
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(sim_epoch())
        .simulation_duration(Duration::from_secs(120))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(Duration::from_millis(1))
        .build();
    let token = shutdown.clone();
    sim.host("server", move || {
        let (meta, disk, shutdown) = (meta.clone(), disk.clone(), token.clone());
        async move {
            let nfs = vec![SimListener::bind(crate::run::NFS_PORT).await?];
            let smb = vec![SimListener::bind(crate::smb_client::SMB_PORT).await?];
            let env = Env::new(Arc::new(SimClock::new(sim_epoch())), seed);
            let stores = StoreSet {
                metadata: BTreeMap::from([("mem".to_owned(), meta)]),
                content: BTreeMap::from([("disk".to_owned(), disk)]),
            };
            let mut config = crate::share_config(
                crate::run::EXPORT,
                "disk",
                0o777,
                [5; 32],
                crate::run::NFS_PORT,
            );
            config.smb.encryption = setup.encryption;
            server::serve(
                env,
                config,
                stores,
                server::Listeners { nfs, smb },
                shutdown,
            )
            .await?;
            Ok(())
        }
    });
    let trace = Rc::new(std::cell::RefCell::new(Trace::new(seed)));
    let outcome: Rc<std::cell::RefCell<Option<Result<(), Error>>>> = Rc::default();
    let (t, out, token) = (trace.clone(), outcome.clone(), shutdown.clone());
    sim.client("client", async move {
        let mut c = crate::smb_client::SmbClient::new(
            t,
            "",
            rand_chacha::ChaCha8Rng::seed_from_u64(seed),
            Rc::new(LinkCtl::default()),
            "server",
            crate::smb_client::SMB_PORT,
        );
        let result = script(&mut c).await;
        token.cancel();
        *out.borrow_mut() = Some(result);
        Ok(())
    });
    sim.run().map_err(|e| Error::Sim(e.to_string()))?;
    drop(sim);
    outcome
        .borrow_mut()
        .take()
        .ok_or_else(|| Error::Sim("the script did not finish".to_owned()))??;
    let trace = trace.borrow().clone();
    Ok(trace)
}
