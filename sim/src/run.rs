//! One simulated run of a [`Scenario`] with one seed: the production `serve()` on host
//! `server` over [`Faulty`] memory metadata and a [`Faulty`] [`SimDisk`], clients `c1`…`cN`
//! running [`Worker`]s, and the nemesis acting on a schedule drawn from the seed. Then a
//! liveness phase: the faults stop and every client must finish within the scenario's bound.
//!
//! Everything a run does depends on the seed alone: the same seed gives the same trace, byte
//! for byte ([`RunReport::digest`]).

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use actors::runtime::{Env, fnv1a64};
use actors::server::{self, ServerConfig, StoreSet};
use protocol::rpc::AuthSys;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stores::StoreId;
use stores::memory::MemoryMetadata;
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::client::SimClient;
use crate::clock::{ClockJump, SimClock, sim_epoch};
use crate::disk::SimDisk;
use crate::faulty::{FaultCounts, FaultPlan, Faulty};
use crate::link::{Link, LinkCtl};
use crate::model::HandleRegistry;
use crate::net::SimListener;
use crate::spec::Scenario;
use crate::trace::{HandleNames, Trace};
use crate::workload::{Worker, WorkerStats};

/// The export every client mounts.
pub const EXPORT: &str = "/export";
/// The NFS (and MOUNT) port.
pub const NFS_PORT: u16 = 2049;
/// Fixed handle key: handles are the same in every run of a seed and across restarts.
const HANDLE_KEY: [u8; 32] = [9; 32];
/// Message latency on a healthy link.
const LATENCY_MAX: Duration = Duration::from_millis(20);

/// The server's configuration: one share on the faulty stores, with a dirty budget small
/// enough that backpressure and the flush workers matter in a short run.
fn config() -> ServerConfig {
    let mut config = crate::share_config(EXPORT, "disk", 0o777, HANDLE_KEY, NFS_PORT);
    config.dirty_bytes_max = 1 << 20;
    config
}

/// What a passing run produced.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// The scenario's name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Every message and event, in simulated time.
    pub trace: Trace,
    /// Per client.
    pub clients: Vec<WorkerStats>,
    /// Server crashes (and restarts).
    pub crashes: u64,
    /// Nemesis events applied.
    pub nemesis_events: u64,
    /// Faults the metadata store injected.
    pub metadata_faults: FaultCounts,
    /// Faults the content store injected.
    pub content_faults: FaultCounts,
    /// Buggify sites (by name) that fired at least once.
    pub buggify_fired: Vec<String>,
    /// Distinct file handles seen.
    pub handles: usize,
    /// Close-to-open reads checked (scenarios with gateways, [`crate::board`]).
    pub close_to_open: u64,
    /// Store calls a gateway–db link lost (request or reply; scenarios with gateways).
    pub db_lost: u64,
    /// Records of a content version that found another version recorded first
    /// (`MetadataStore::record_write_on` answering `Conflict`; gateways on the object store).
    pub record_conflicts: u64,
    /// Re-bases of the object store that dropped changes metadata had not recorded (the
    /// server then wrote them again on top of the recorded version).
    pub rebases: u64,
    /// Ranges of the joint file committed by one client and read back by another
    /// ([`crate::spec::Mix::joint`]).
    pub joint_checked: u64,
    /// What the lock clients' board counted ([`crate::lock_board`]).
    pub locks: crate::lock_board::LockCounts,
    /// Simulated time the run took.
    pub elapsed: Duration,
}

impl RunReport {
    /// FNV-1a of the whole trace.
    pub fn digest(&self) -> u64 {
        self.trace.digest()
    }

    /// Operations the clients ran.
    pub fn ops(&self) -> u64 {
        self.clients.iter().map(|c| c.ops).sum()
    }
}

/// A failed run: what failed, and the tail of the trace leading to it.
#[derive(Debug)]
pub struct RunFailure {
    /// The scenario's name.
    pub scenario: String,
    /// The seed that reproduces it.
    pub seed: u64,
    /// What went wrong.
    pub error: Error,
    /// The trace up to the failure.
    pub trace: Trace,
}

impl fmt::Display for RunFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines = self.trace.lines();
        let tail = lines.len().saturating_sub(40);
        writeln!(
            f,
            "scenario {} seed {:#x} failed: {}",
            self.scenario, self.seed, self.error
        )?;
        writeln!(f, "last {} trace lines:", lines.len() - tail)?;
        for l in &lines[tail..] {
            writeln!(f, "  {l}")?;
        }
        write!(
            f,
            "replay: cargo run -p sim --bin sim -- replay {} {:#x}",
            self.scenario, self.seed
        )
    }
}

impl std::error::Error for RunFailure {}

/// A nemesis action.
#[derive(Debug, Clone)]
enum Event {
    Partition(u32, Duration),
    Repair(u32),
    Hold(u32, Duration),
    Release(u32),
    Spike(u32, Duration, Duration),
    Calm(u32),
    Reset(u32),
    Crash(Duration),
    Restart,
    ClockJump(i64),
}

/// The schedule: events at simulated times, drawn from the seed.
fn schedule(spec: &Scenario, rng: &mut ChaCha8Rng) -> Vec<(Duration, Event)> {
    let window = Duration::from_secs(spec.fault_secs);
    let at = |rng: &mut ChaCha8Rng| {
        // Not in the first second: clients are still setting up.
        Duration::from_millis(rng.random_range(1_000..=window.as_millis().max(1_001) as u64))
    };
    let clients = spec.clients + spec.smb_clients + spec.lock_clients;
    let n = &spec.nemesis;
    let mut ev = Vec::new();
    for _ in 0..n.partitions {
        let t = at(rng);
        let c = rng.random_range(1..=clients);
        let d = Duration::from_millis(rng.random_range(1_000..6_000));
        ev.push((t, Event::Partition(c, d)));
    }
    for _ in 0..n.holds {
        let t = at(rng);
        let c = rng.random_range(1..=clients);
        let d = Duration::from_millis(rng.random_range(500..3_000));
        ev.push((t, Event::Hold(c, d)));
    }
    for _ in 0..n.latency_spikes {
        let t = at(rng);
        let c = rng.random_range(1..=clients);
        let d = Duration::from_millis(rng.random_range(1_000..5_000));
        let l = Duration::from_millis(rng.random_range(100..800));
        ev.push((t, Event::Spike(c, d, l)));
    }
    for _ in 0..n.resets {
        let t = at(rng);
        ev.push((t, Event::Reset(rng.random_range(1..=clients))));
    }
    for _ in 0..n.crashes {
        let t = at(rng);
        let d = Duration::from_millis(rng.random_range(500..3_000));
        ev.push((t, Event::Crash(d)));
    }
    for _ in 0..n.clock_jumps {
        let t = at(rng);
        let ms = rng.random_range(-3_600_000..=3_600_000);
        ev.push((t, Event::ClockJump(ms)));
    }
    ev.sort_by_key(|(t, _)| *t);
    ev
}

thread_local! {
    static PANICS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// Counts panics on this thread (turmoil runs every host and client on the calling thread, so
/// a panic inside a server task, which tokio would swallow, is counted too).
fn install_panic_counter() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.with(|p| p.set(p.get() + 1));
            default(info);
        }));
    });
}

type Meta = Faulty<MemoryMetadata>;
type Disk = Faulty<SimDisk>;

/// Runs `spec` with `seed`.
pub fn run(spec: &Scenario, seed: u64) -> Result<RunReport, Box<RunFailure>> {
    install_panic_counter();
    let panics_before = PANICS.with(std::cell::Cell::get);
    let trace = Rc::new(RefCell::new(Trace::new(seed)));
    trace
        .borrow_mut()
        .push(Duration::ZERO, format_args!("N   scenario {}", spec.name));
    let result = run_inner(spec, seed, &trace);
    let fired: Vec<String> = actors::runtime::buggify::report()
        .into_iter()
        .filter(|(_, _, n)| *n > 0)
        .map(|(site, _, n)| format!("{site}*{n}"))
        .collect();
    actors::runtime::buggify::set_seed(None);
    let panics = PANICS.with(std::cell::Cell::get) - panics_before;
    let fail = |error| {
        Box::new(RunFailure {
            scenario: spec.name.clone(),
            seed,
            error,
            trace: trace.borrow().clone(),
        })
    };
    match result {
        Ok(_) if panics > 0 => Err(fail(Error::Check(format!(
            "{panics} panic(s) during the run (see the test output above)"
        )))),
        Ok(mut report) => {
            if !fired.is_empty() {
                let at = report.elapsed;
                trace
                    .borrow_mut()
                    .push(at, format_args!("N   buggify fired: {}", fired.join(" ")));
            }
            report.buggify_fired = fired
                .iter()
                .map(|f| f.rsplit_once('*').map_or(f.clone(), |(s, _)| s.to_owned()))
                .collect();
            report.trace = trace.borrow().clone();
            Ok(report)
        }
        Err(e) => Err(fail(e)),
    }
}

fn run_inner(spec: &Scenario, seed: u64, trace: &Rc<RefCell<Trace>>) -> Result<RunReport, Error> {
    if spec.gateways > 0 {
        return crate::gateways::run(spec, seed, trace);
    }
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a64(b"harness"));
    let meta_plan = FaultPlan::draw(&mut rng, &spec.store_faults);
    let disk_plan = FaultPlan::draw(&mut rng, &spec.store_faults);
    let meta = Arc::new(Faulty::new(
        Arc::new(MemoryMetadata::new(StoreId(1))),
        "metadata",
        meta_plan,
        seed ^ fnv1a64(b"metadata faults"),
    ));
    let disk = Arc::new(Faulty::new(
        Arc::new(SimDisk::new()),
        "content",
        disk_plan,
        seed ^ fnv1a64(b"content faults"),
    ));
    trace.borrow_mut().push(
        Duration::ZERO,
        format_args!("N   store faults: metadata {meta_plan:?}; content {disk_plan:?}"),
    );
    let events = schedule(spec, &mut rng);
    for (t, e) in &events {
        trace
            .borrow_mut()
            .push(Duration::ZERO, format_args!("N   planned at {t:?}: {e:?}"));
    }
    if spec.buggify_all {
        actors::runtime::buggify::set_seed_all(seed);
    } else {
        actors::runtime::buggify::set_seed(spec.buggify.then_some(seed));
    }

    let fault_end = Duration::from_secs(spec.fault_secs);
    let deadline = fault_end + Duration::from_secs(spec.liveness_secs);
    let mut sim = turmoil::Builder::new()
        .rng_seed(seed)
        .epoch(sim_epoch())
        .simulation_duration(deadline + Duration::from_secs(30))
        .min_message_latency(Duration::from_millis(1))
        .max_message_latency(LATENCY_MAX)
        .enable_random_order()
        .build();

    let jump = ClockJump::default();
    let smb_clients = spec.smb_clients + spec.lock_clients;
    // Half the seeds with SMB clients encrypt every 3.x session (the adapter's "desired").
    let smb_encrypt = smb_clients > 0 && seed % 2 == 1;
    if smb_encrypt {
        trace.borrow_mut().push(
            Duration::ZERO,
            "N   SMB encryption desired: 3.x sessions are encrypted",
        );
    }
    let boots = Arc::new(AtomicU64::new(0));
    let shutdown = CancellationToken::new();
    {
        let (meta, disk, jump, boots, shutdown) = (
            meta.clone(),
            disk.clone(),
            jump.clone(),
            boots.clone(),
            shutdown.clone(),
        );
        sim.host("server", move || {
            let (meta, disk, jump, shutdown) =
                (meta.clone(), disk.clone(), jump.clone(), shutdown.clone());
            // Each boot has its own seed, as each real boot has its own random state (the write
            // verifier changes across a restart).
            let boot = boots.fetch_add(1, Ordering::Relaxed);
            async move {
                let listeners = vec![SimListener::bind(NFS_PORT).await?];
                let smb = if smb_clients > 0 {
                    vec![SimListener::bind(crate::smb_client::SMB_PORT).await?]
                } else {
                    Vec::new()
                };
                let env = Env::new(
                    Arc::new(SimClock::with_jump(sim_epoch(), jump)),
                    seed ^ boot.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                );
                let stores: StoreSet<Meta, Disk> = StoreSet {
                    metadata: BTreeMap::from([("mem".to_owned(), meta)]),
                    content: BTreeMap::from([("disk".to_owned(), disk)]),
                };
                server::serve(
                    env,
                    {
                        let mut c = config();
                        if smb_encrypt {
                            c.smb.encryption = server::Encryption::Desired;
                        }
                        c
                    },
                    stores,
                    server::Listeners {
                        nfs: listeners,
                        smb,
                    },
                    shutdown,
                )
                .await?;
                Ok(())
            }
        });
    }

    let spec_rc = Rc::new(spec.clone());
    let names: Rc<RefCell<HandleNames>> = Rc::default();
    let registry = HandleRegistry::default();
    let mut ctls = Vec::new();
    let results: Rc<RefCell<BTreeMap<u32, Result<WorkerStats, Error>>>> = Rc::default();
    for i in 1..=spec.clients {
        let ctl = Rc::new(LinkCtl::default());
        ctls.push(ctl.clone());
        let cred = AuthSys {
            stamp: i,
            machine_name: format!("c{i}").into_bytes(),
            uid: 0,
            gid: 0,
            gids: vec![0],
        };
        let c = SimClient::shared(
            &cred,
            trace.clone(),
            names.clone(),
            format!("c{i} "),
            i * 1_000_000,
        );
        let rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a64(format!("client {i}").as_bytes()));
        let (spec, registry, results) = (spec_rc.clone(), registry.clone(), results.clone());
        sim.client(format!("c{i}"), async move {
            let result = async {
                let mut c = c;
                let mut link = Link::new("server", NFS_PORT, ctl);
                let root = c.mnt_link(&mut link, EXPORT).await?;
                Worker::new(format!("c{i}"), c, link, rng, spec, root, registry)
                    .run(fault_end)
                    .await
            }
            .await;
            results.borrow_mut().insert(i, result);
            Ok(())
        });
    }

    for j in 1..=spec.smb_clients {
        let ctl = Rc::new(LinkCtl::default());
        ctls.push(ctl.clone());
        let i = spec.clients + j;
        let rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a64(format!("smb client {j}").as_bytes()));
        let c = crate::smb_client::SmbClient::new(
            trace.clone(),
            format!("s{j} "),
            rng,
            ctl,
            "server",
            crate::smb_client::SMB_PORT,
        );
        let (spec, results) = (spec_rc.clone(), results.clone());
        sim.client(format!("s{j}"), async move {
            let result = crate::smb_workload::SmbWorker::new(format!("s{j}"), c, spec)
                .run(fault_end)
                .await;
            results.borrow_mut().insert(i, result);
            Ok(())
        });
    }
    let board: Rc<RefCell<crate::lock_board::LockBoard>> = Rc::default();
    for j in 1..=spec.lock_clients {
        let ctl = Rc::new(LinkCtl::default());
        ctls.push(ctl.clone());
        let i = spec.clients + spec.smb_clients + j;
        let rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a64(format!("lock client {j}").as_bytes()));
        let c = crate::smb_client::SmbClient::new(
            trace.clone(),
            format!("l{j} "),
            rng,
            ctl,
            "server",
            crate::smb_client::SMB_PORT,
        );
        let (board, results) = (board.clone(), results.clone());
        sim.client(format!("l{j}"), async move {
            let result = crate::lock_workload::LockWorker::new(j, c, board)
                .run(fault_end)
                .await;
            results.borrow_mut().insert(i, result);
            Ok(())
        });
    }
    let total = spec.clients + spec.smb_clients + spec.lock_clients;

    // The nemesis: apply events as simulated time reaches them.
    let mut pending: Vec<(Duration, Event)> = events;
    let mut applied = 0u64;
    let mut crashes = 0u64;
    let mut server_down = false;
    let mut partitioned = std::collections::BTreeSet::new();
    let mut held = std::collections::BTreeSet::new();
    let mut stopped = false;
    let mut crash_rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a64(b"disk crash"));
    let nfs_clients = spec.clients;
    let smb_last = spec.clients + spec.smb_clients;
    let client = |i: u32| {
        if i <= nfs_clients {
            format!("c{i}")
        } else if i <= smb_last {
            format!("s{}", i - nfs_clients)
        } else {
            format!("l{}", i - smb_last)
        }
    };
    loop {
        sim.step().map_err(|e| Error::Sim(e.to_string()))?;
        let t = sim.elapsed();
        let failed = results
            .borrow()
            .iter()
            .find(|(_, r)| r.is_err())
            .map(|(i, _)| *i);
        if let Some(i) = failed {
            let e = results
                .borrow_mut()
                .remove(&i)
                .expect("found")
                .expect_err("an error");
            return Err(e);
        }
        if results.borrow().len() == total as usize {
            break;
        }
        if t > deadline {
            let done: Vec<u32> = results.borrow().keys().copied().collect();
            return Err(Error::Check(format!(
                "liveness: {} s after the faults stopped, only clients {done:?} of {} had \
                 finished",
                spec.liveness_secs, total
            )));
        }
        if !stopped && t >= fault_end {
            stopped = true;
            for i in 1..=total {
                sim.repair("server", client(i));
                sim.release("server", client(i));
                sim.set_link_max_message_latency("server", client(i), LATENCY_MAX);
            }
            partitioned.clear();
            held.clear();
            if server_down {
                sim.bounce("server");
                server_down = false;
            }
            meta.set_active(false);
            disk.set_active(false);
            actors::runtime::buggify::quiet();
            pending.clear();
            trace.borrow_mut().push(
                t,
                "N   faults stop: links repaired, stores and buggify quiet",
            );
        }
        while let Some(pos) = pending.iter().position(|(at, _)| *at <= t) {
            let (_, ev) = pending.remove(pos);
            applied += 1;
            let line = match ev {
                Event::Partition(c, d) => {
                    partitioned.insert(c);
                    sim.partition("server", client(c));
                    pending.push((t + d, Event::Repair(c)));
                    format!("partition server / {cn} for {d:?}", cn = client(c))
                }
                Event::Repair(c) => {
                    partitioned.remove(&c);
                    if held.contains(&c) {
                        sim.hold("server", client(c));
                    } else {
                        sim.repair("server", client(c));
                    }
                    format!("repair server / {cn}", cn = client(c))
                }
                Event::Hold(c, d) => {
                    held.insert(c);
                    if !partitioned.contains(&c) {
                        sim.hold("server", client(c));
                    }
                    pending.push((t + d, Event::Release(c)));
                    format!("hold messages server / {cn} for {d:?}", cn = client(c))
                }
                Event::Release(c) => {
                    held.remove(&c);
                    sim.release("server", client(c));
                    if partitioned.contains(&c) {
                        sim.partition("server", client(c));
                    }
                    format!("release messages server / {cn}", cn = client(c))
                }
                Event::Spike(c, d, l) => {
                    sim.set_link_max_message_latency("server", client(c), l);
                    pending.push((t + d, Event::Calm(c)));
                    format!(
                        "latency server / {cn} up to {l:?} for {d:?}",
                        cn = client(c)
                    )
                }
                Event::Calm(c) => {
                    sim.set_link_max_message_latency("server", client(c), LATENCY_MAX);
                    format!("latency server / {cn} back to normal", cn = client(c))
                }
                Event::Reset(c) => {
                    ctls[c as usize - 1].reset.notify_one();
                    format!("reset {cn}'s connection", cn = client(c))
                }
                Event::Crash(d) if !server_down => {
                    // A machine that dies sends nothing: cut every link while the host's
                    // sockets are dropped, so no FIN or RST leaves it. (Turmoil would give each
                    // a latency drawn from the seeded RNG in the order tokio drops the tasks,
                    // which depends on process-global task ids: two runs of one seed in one
                    // process would then differ.)
                    for i in 1..=total {
                        sim.partition("server", client(i));
                    }
                    sim.crash("server");
                    for i in 1..=total {
                        if held.contains(&i) {
                            sim.hold("server", client(i));
                        } else if !partitioned.contains(&i) {
                            sim.repair("server", client(i));
                        }
                    }
                    meta.inner().crash();
                    let report = disk.inner().crash(&mut crash_rng);
                    crashes += 1;
                    for ctl in &ctls {
                        ctl.crashes.set(crashes);
                    }
                    server_down = true;
                    pending.push((t + d, Event::Restart));
                    format!("crash server (disk: {report}); restart in {d:?}")
                }
                Event::Crash(_) => "crash skipped: server already down".to_owned(),
                Event::Restart => {
                    sim.bounce("server");
                    server_down = false;
                    "restart server".to_owned()
                }
                Event::ClockJump(ms) => {
                    jump.jump(ms);
                    format!("server wall clock jumps {ms} ms")
                }
            };
            trace.borrow_mut().push(t, format_args!("N   {line}"));
        }
    }
    let elapsed = sim.elapsed();
    shutdown.cancel();
    drop(sim);

    let clients: Vec<WorkerStats> = std::mem::take(&mut *results.borrow_mut())
        .into_values()
        .collect::<Result<_, _>>()?;
    let (mf, cf) = (meta.counts(), disk.counts());
    trace.borrow_mut().push(
        elapsed,
        format_args!("N   done: {crashes} crashes, {applied} nemesis events; metadata faults {mf}; content faults {cf}"),
    );
    let locks = board.borrow().counts;
    if spec.lock_clients > 0 {
        trace
            .borrow_mut()
            .push(elapsed, format_args!("N   locks: {locks:?}"));
    }
    Ok(RunReport {
        scenario: spec.name.clone(),
        seed,
        trace: Trace::new(seed),
        clients,
        crashes,
        nemesis_events: applied,
        metadata_faults: mf,
        content_faults: cf,
        buggify_fired: Vec::new(),
        handles: registry.len(),
        close_to_open: 0,
        db_lost: 0,
        record_conflicts: 0,
        rebases: 0,
        joint_checked: 0,
        locks,
        elapsed,
    })
}
