//! One run of a scenario with `gateways: N`: hosts `gw1`…`gwN` each run the production
//! `serve()` over one shared metadata store and one shared content store on host `db`, reached
//! through the simulated network ([`Remote`]), each behind its own [`Faulty`] wrapper; clients
//! start on gateway `(i - 1) % N + 1`. The nemesis cuts and holds gateway–`db` links as well as
//! client–gateway ones, and crashes gateways: a crash loses the gateway's write-back cache,
//! duplicate request cache and calls in flight, never what `db` holds. The first `failover`
//! clients then move to another gateway with the same handles (as after an address takeover);
//! the others wait for theirs to restart.
//!
//! The checks are the clients' ([`Worker`]) plus close-to-open across gateways
//! ([`crate::board`]): a file one client committed through one gateway reads back, through
//! another gateway and by another client, with the committed size and bytes, across crashes.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actors::runtime::{Env, fnv1a64};
use actors::server::{self, StoreSet};
use protocol::rpc::AuthSys;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use stores::memory::MemoryMetadata;
use stores::{ContentStore, StoreId};
use tokio_util::sync::CancellationToken;

use crate::Error;
use crate::board::Board;
use crate::client::SimClient;
use crate::clock::{ClockJump, SimClock, sim_epoch};
use crate::disk::SimDisk;
use crate::faulty::{FaultCounts, FaultPlan, Faulty};
use crate::link::{Link, LinkCtl};
use crate::model::HandleRegistry;
use crate::net::SimListener;
use crate::objects::{ObjectFront, ObjectTable};
use crate::remote::{Hub, Remote};
use crate::run::{EXPORT, NFS_PORT, RunReport};
use crate::spec::{ContentKind, Scenario};
use crate::trace::{HandleNames, Trace};
use crate::workload::{Worker, WorkerStats};

/// The database and object store host.
pub const DB: &str = "db";
/// Handle key of every gateway (they also share it through the metadata store's secret).
const HANDLE_KEY: [u8; 32] = [9; 32];
/// Message latency on a healthy link.
const LATENCY_MAX: Duration = Duration::from_millis(20);

type Meta = Faulty<Remote<MemoryMetadata>>;
type Disk = Faulty<Remote<SimDisk>>;
type Objects = Faulty<ObjectFront>;

/// The gateways' content stores, as the scenario chose them.
enum Contents {
    /// One [`SimDisk`] on `db`; one faulty front per gateway, for the whole run.
    Disk(Vec<Arc<Disk>>),
    /// One [`ObjectTable`] on `db`; one faulty [`ObjectFront`] per gateway boot (a crash
    /// loses the front and its unsynced changes), all kept here for the counts.
    Objects {
        table: Arc<ObjectTable>,
        fronts: Arc<Mutex<Vec<Arc<Objects>>>>,
        /// Set when the faults stop: fronts of later boots inject nothing.
        quiet: Arc<AtomicBool>,
    },
}

impl Contents {
    fn quiet(&self) {
        match self {
            Self::Disk(disks) => disks.iter().for_each(|s| s.set_active(false)),
            Self::Objects { fronts, quiet, .. } => {
                quiet.store(true, Ordering::Relaxed);
                for f in fronts
                    .lock()
                    .expect("no panics under the fronts lock")
                    .iter()
                {
                    f.set_active(false);
                }
            }
        }
    }

    fn counts(&self) -> FaultCounts {
        match self {
            Self::Disk(disks) => disks
                .iter()
                .fold(FaultCounts::default(), |a, s| add(a, s.counts())),
            Self::Objects { fronts, .. } => fronts
                .lock()
                .expect("no panics under the fronts lock")
                .iter()
                .fold(FaultCounts::default(), |a, s| add(a, s.counts())),
        }
    }
}

/// Runs gateway `g` (host `gw{g}`): `serve()` over `meta` and the content store `content`
/// makes for each boot (its number, the gateway's clock).
#[allow(clippy::too_many_arguments)]
fn host<C: ContentStore>(
    sim: &mut turmoil::Sim<'_>,
    g: u32,
    seed: u64,
    meta: Arc<Meta>,
    jump: ClockJump,
    shutdown: CancellationToken,
    content: impl Fn(u64, &SimClock) -> Arc<C> + 'static,
) {
    let boots = Arc::new(AtomicU64::new(0));
    sim.host(gw(g), move || {
        let (meta, shutdown) = (meta.clone(), shutdown.clone());
        let boot = boots.fetch_add(1, Ordering::Relaxed);
        let clock = SimClock::with_jump(sim_epoch(), jump.clone());
        let content = content(boot, &clock);
        async move {
            let listeners = vec![SimListener::bind(NFS_PORT).await?];
            let env = Env::new(
                Arc::new(clock),
                seed ^ fnv1a64(format!("gw{g}").as_bytes()) ^ boot.wrapping_mul(BOOT_MIX),
            );
            let stores: StoreSet<Meta, C> = StoreSet {
                metadata: BTreeMap::from([("mem".to_owned(), meta)]),
                content: BTreeMap::from([("disk".to_owned(), content)]),
            };
            let mut config = crate::share_config(EXPORT, "disk", 0o777, HANDLE_KEY, NFS_PORT);
            config.dirty_bytes_max = 1 << 20;
            server::serve(
                env,
                config,
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
}

/// Mixes a boot number into a seed.
const BOOT_MIX: u64 = 0x9e37_79b9_7f4a_7c15;

fn gw(g: u32) -> String {
    format!("gw{g}")
}

fn client(i: u32) -> String {
    format!("c{i}")
}

/// A nemesis action.
#[derive(Debug, Clone)]
enum Event {
    /// Client cut off from every gateway.
    Partition(u32, Duration),
    Repair(u32),
    Hold(u32, Duration),
    Release(u32),
    Spike(u32, Duration, Duration),
    Calm(u32),
    Reset(u32),
    /// Gateway cut off from `db`.
    DbPartition(u32, Duration),
    DbRepair(u32),
    DbHold(u32, Duration),
    DbRelease(u32),
    Crash(u32, Duration),
    Restart(u32),
    ClockJump(u32, i64),
}

fn schedule(spec: &Scenario, rng: &mut ChaCha8Rng) -> Vec<(Duration, Event)> {
    let window = Duration::from_secs(spec.fault_secs);
    let at = |rng: &mut ChaCha8Rng| {
        Duration::from_millis(rng.random_range(1_000..=window.as_millis().max(1_001) as u64))
    };
    let (clients, gateways) = (spec.clients, spec.gateways);
    let n = &spec.nemesis;
    let mut ev = Vec::new();
    let ms = |rng: &mut ChaCha8Rng, lo, hi| Duration::from_millis(rng.random_range(lo..hi));
    for _ in 0..n.partitions {
        let t = at(rng);
        let c = rng.random_range(1..=clients);
        ev.push((t, Event::Partition(c, ms(rng, 1_000, 6_000))));
    }
    for _ in 0..n.holds {
        let t = at(rng);
        let c = rng.random_range(1..=clients);
        ev.push((t, Event::Hold(c, ms(rng, 500, 3_000))));
    }
    for _ in 0..n.latency_spikes {
        let t = at(rng);
        let c = rng.random_range(1..=clients);
        let d = ms(rng, 1_000, 5_000);
        ev.push((t, Event::Spike(c, d, ms(rng, 100, 800))));
    }
    for _ in 0..n.resets {
        let t = at(rng);
        ev.push((t, Event::Reset(rng.random_range(1..=clients))));
    }
    for _ in 0..n.db_partitions {
        let t = at(rng);
        let g = rng.random_range(1..=gateways);
        ev.push((t, Event::DbPartition(g, ms(rng, 1_000, 6_000))));
    }
    for _ in 0..n.db_holds {
        let t = at(rng);
        let g = rng.random_range(1..=gateways);
        ev.push((t, Event::DbHold(g, ms(rng, 500, 3_000))));
    }
    for _ in 0..n.crashes {
        let t = at(rng);
        let g = rng.random_range(1..=gateways);
        ev.push((t, Event::Crash(g, ms(rng, 500, 3_000))));
    }
    for _ in 0..n.clock_jumps {
        let t = at(rng);
        let g = rng.random_range(1..=gateways);
        ev.push((
            t,
            Event::ClockJump(g, rng.random_range(-3_600_000..=3_600_000)),
        ));
    }
    ev.sort_by_key(|(t, _)| *t);
    ev
}

/// Which links the nemesis has cut or holds, so that a crash (which cuts every link of the
/// dying host for a moment) puts each back as it was.
#[derive(Default)]
struct Links {
    cut: BTreeSet<(String, String)>,
    held: BTreeSet<(String, String)>,
}

impl Links {
    fn restore(&self, sim: &turmoil::Sim<'_>, a: &str, b: &str) {
        let k = (a.to_owned(), b.to_owned());
        if self.cut.contains(&k) {
            sim.partition(a, b);
        } else if self.held.contains(&k) {
            sim.repair(a, b);
            sim.hold(a, b);
        } else {
            sim.repair(a, b);
        }
    }

    fn cut(&mut self, sim: &turmoil::Sim<'_>, a: &str, b: &str) {
        self.cut.insert((a.to_owned(), b.to_owned()));
        sim.partition(a, b);
    }

    fn uncut(&mut self, sim: &turmoil::Sim<'_>, a: &str, b: &str) {
        self.cut.remove(&(a.to_owned(), b.to_owned()));
        self.restore(sim, a, b);
    }

    fn hold(&mut self, sim: &turmoil::Sim<'_>, a: &str, b: &str) {
        self.held.insert((a.to_owned(), b.to_owned()));
        if !self.cut.contains(&(a.to_owned(), b.to_owned())) {
            sim.hold(a, b);
        }
    }

    fn release(&mut self, sim: &turmoil::Sim<'_>, a: &str, b: &str) {
        self.held.remove(&(a.to_owned(), b.to_owned()));
        sim.release(a, b);
        self.restore(sim, a, b);
    }
}

fn add(a: FaultCounts, b: FaultCounts) -> FaultCounts {
    FaultCounts {
        errors: a.errors + b.errors,
        errors_after: a.errors_after + b.errors_after,
        busy: a.busy + b.busy,
        slow: a.slow + b.slow,
    }
}

/// Runs `spec` (with `gateways > 0`) with `seed`.
pub(crate) fn run(
    spec: &Scenario,
    seed: u64,
    trace: &Rc<RefCell<Trace>>,
) -> Result<RunReport, Error> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ fnv1a64(b"harness"));
    let gateways = spec.gateways;
    let meta_db = Arc::new(MemoryMetadata::new(StoreId(1)));
    let disk_db = Arc::new(SimDisk::new());
    let table = Arc::new(ObjectTable::new());
    let hub = Arc::new(Hub::default());
    let mut metas: Vec<Arc<Meta>> = Vec::new();
    let mut disks: Vec<Arc<Disk>> = Vec::new();
    let mut content_plans = Vec::new();
    for g in 1..=gateways {
        let meta_plan = FaultPlan::draw(&mut rng, &spec.store_faults);
        let disk_plan = FaultPlan::draw(&mut rng, &spec.store_faults);
        metas.push(Arc::new(Faulty::new(
            Arc::new(Remote::new(meta_db.clone(), hub.clone(), DB, "metadata")),
            "metadata",
            meta_plan,
            seed ^ fnv1a64(format!("gw{g} metadata faults").as_bytes()),
        )));
        if spec.content == ContentKind::Disk {
            disks.push(Arc::new(Faulty::new(
                Arc::new(Remote::new(disk_db.clone(), hub.clone(), DB, "content")),
                "content",
                disk_plan,
                seed ^ fnv1a64(format!("gw{g} content faults").as_bytes()),
            )));
        }
        content_plans.push(disk_plan);
        trace.borrow_mut().push(
            Duration::ZERO,
            format_args!("N   gw{g} store faults: metadata {meta_plan:?}; content {disk_plan:?}"),
        );
    }
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
        .udp_capacity(4096)
        .enable_random_order()
        .build();

    {
        let hub = hub.clone();
        sim.host(DB, move || crate::remote::serve_db(hub.clone()));
    }
    let shutdown = CancellationToken::new();
    let mut jumps = Vec::new();
    let contents = match spec.content {
        ContentKind::Disk => Contents::Disk(disks),
        ContentKind::Objects => Contents::Objects {
            table: table.clone(),
            fronts: Arc::default(),
            quiet: Arc::default(),
        },
    };
    for g in 1..=gateways {
        let jump = ClockJump::default();
        jumps.push(jump.clone());
        let meta = metas[g as usize - 1].clone();
        match &contents {
            Contents::Disk(disks) => {
                let disk = disks[g as usize - 1].clone();
                host(
                    &mut sim,
                    g,
                    seed,
                    meta,
                    jump,
                    shutdown.clone(),
                    move |_, _| disk.clone(),
                );
            }
            Contents::Objects { fronts, quiet, .. } => {
                let remote = Arc::new(Remote::new(table.clone(), hub.clone(), DB, "objects"));
                let (fronts, quiet) = (fronts.clone(), quiet.clone());
                let plan = content_plans[g as usize - 1];
                host(
                    &mut sim,
                    g,
                    seed,
                    meta,
                    jump,
                    shutdown.clone(),
                    move |boot, clock| {
                        let mix = boot.wrapping_mul(BOOT_MIX);
                        let front = ObjectFront::new(
                            remote.clone(),
                            g,
                            clock.clone(),
                            seed ^ fnv1a64(format!("gw{g} objects").as_bytes()) ^ mix,
                        );
                        let f = Arc::new(Faulty::new(
                            Arc::new(front),
                            "content",
                            plan,
                            seed ^ fnv1a64(format!("gw{g} content faults").as_bytes()) ^ mix,
                        ));
                        if quiet.load(Ordering::Relaxed) {
                            f.set_active(false);
                        }
                        fronts
                            .lock()
                            .expect("no panics under the fronts lock")
                            .push(f.clone());
                        f
                    },
                );
            }
        }
    }

    let spec_rc = Rc::new(spec.clone());
    let names: Rc<RefCell<HandleNames>> = Rc::default();
    let registry = HandleRegistry::default();
    let board = Board::default();
    let mut ctls = Vec::new();
    // The gateway each client talks to now.
    let mut attached: Vec<u32> = Vec::new();
    let results: Rc<RefCell<BTreeMap<u32, Result<WorkerStats, Error>>>> = Rc::default();
    for i in 1..=spec.clients {
        let ctl = Rc::new(LinkCtl::default());
        ctls.push(ctl.clone());
        let home = (i - 1) % gateways + 1;
        attached.push(home);
        let cred = AuthSys {
            stamp: i,
            machine_name: client(i).into_bytes(),
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
        let (spec, registry, results, board) = (
            spec_rc.clone(),
            registry.clone(),
            results.clone(),
            board.clone(),
        );
        sim.client(client(i), async move {
            let result = async {
                let mut c = c;
                let mut link = Link::new(&gw(home), NFS_PORT, ctl);
                let root = c.mnt_link(&mut link, EXPORT).await?;
                Worker::new(client(i), c, link, rng, spec, root, registry)
                    .with_board(board)
                    .run(fault_end)
                    .await
            }
            .await;
            results.borrow_mut().insert(i, result);
            Ok(())
        });
    }
    let total = spec.clients;

    let mut pending = events;
    let mut applied = 0u64;
    let mut crashes = 0u64;
    let mut down: BTreeSet<u32> = BTreeSet::new();
    let mut links = Links::default();
    let mut stopped = false;
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
            for g in 1..=gateways {
                for i in 1..=total {
                    sim.repair(gw(g), client(i));
                    sim.release(gw(g), client(i));
                    sim.set_link_max_message_latency(gw(g), client(i), LATENCY_MAX);
                }
                sim.repair(gw(g), DB);
                sim.release(gw(g), DB);
            }
            links = Links::default();
            for g in std::mem::take(&mut down) {
                sim.bounce(gw(g));
            }
            for s in metas.iter() {
                s.set_active(false);
            }
            contents.quiet();
            actors::runtime::buggify::quiet();
            pending.clear();
            trace.borrow_mut().push(
                t,
                "N   faults stop: links repaired, gateways up, stores and buggify quiet",
            );
        }
        while let Some(pos) = pending.iter().position(|(at, _)| *at <= t) {
            let (_, ev) = pending.remove(pos);
            applied += 1;
            let line = match ev {
                Event::Partition(c, d) => {
                    for g in 1..=gateways {
                        links.cut(&sim, &gw(g), &client(c));
                    }
                    pending.push((t + d, Event::Repair(c)));
                    format!("partition c{c} from every gateway for {d:?}")
                }
                Event::Repair(c) => {
                    for g in 1..=gateways {
                        links.uncut(&sim, &gw(g), &client(c));
                    }
                    format!("repair c{c}'s links")
                }
                Event::Hold(c, d) => {
                    for g in 1..=gateways {
                        links.hold(&sim, &gw(g), &client(c));
                    }
                    pending.push((t + d, Event::Release(c)));
                    format!("hold messages between c{c} and the gateways for {d:?}")
                }
                Event::Release(c) => {
                    for g in 1..=gateways {
                        links.release(&sim, &gw(g), &client(c));
                    }
                    format!("release messages between c{c} and the gateways")
                }
                Event::Spike(c, d, l) => {
                    for g in 1..=gateways {
                        sim.set_link_max_message_latency(gw(g), client(c), l);
                    }
                    pending.push((t + d, Event::Calm(c)));
                    format!("latency c{c} / gateways up to {l:?} for {d:?}")
                }
                Event::Calm(c) => {
                    for g in 1..=gateways {
                        sim.set_link_max_message_latency(gw(g), client(c), LATENCY_MAX);
                    }
                    format!("latency c{c} / gateways back to normal")
                }
                Event::Reset(c) => {
                    ctls[c as usize - 1].reset.notify_one();
                    format!("reset c{c}'s connection")
                }
                Event::DbPartition(g, d) => {
                    links.cut(&sim, &gw(g), DB);
                    pending.push((t + d, Event::DbRepair(g)));
                    format!("partition gw{g} / db for {d:?}")
                }
                Event::DbRepair(g) => {
                    links.uncut(&sim, &gw(g), DB);
                    format!("repair gw{g} / db")
                }
                Event::DbHold(g, d) => {
                    links.hold(&sim, &gw(g), DB);
                    pending.push((t + d, Event::DbRelease(g)));
                    format!("hold messages gw{g} / db for {d:?}")
                }
                Event::DbRelease(g) => {
                    links.release(&sim, &gw(g), DB);
                    format!("release messages gw{g} / db")
                }
                Event::Crash(g, d) if !down.contains(&g) => {
                    // A dying machine sends nothing: every link cut while its sockets drop
                    // (see `run`), then put back as the nemesis had them.
                    let peers: Vec<String> = (1..=total)
                        .map(client)
                        .chain(std::iter::once(DB.to_owned()))
                        .collect();
                    for p in &peers {
                        sim.partition(gw(g), p.as_str());
                    }
                    sim.crash(gw(g));
                    for p in &peers {
                        links.restore(&sim, &gw(g), p);
                    }
                    down.insert(g);
                    crashes += 1;
                    pending.push((t + d, Event::Restart(g)));
                    let mut moved = Vec::new();
                    for i in 1..=total {
                        let at = &mut attached[i as usize - 1];
                        if *at != g {
                            continue;
                        }
                        let ctl = &ctls[i as usize - 1];
                        ctl.crashes.set(ctl.crashes.get() + 1);
                        if i <= spec.failover
                            && let Some(to) = (1..gateways)
                                .map(|k| (g - 1 + k) % gateways + 1)
                                .find(|h| !down.contains(h))
                        {
                            *at = to;
                            *ctl.moved.borrow_mut() = Some(gw(to));
                            ctl.reset.notify_one();
                            moved.push(format!("c{i} -> gw{to}"));
                        }
                    }
                    format!(
                        "crash gw{g}; restart in {d:?}; failover: {}",
                        if moved.is_empty() {
                            "none".to_owned()
                        } else {
                            moved.join(", ")
                        }
                    )
                }
                Event::Crash(g, _) => format!("crash skipped: gw{g} already down"),
                Event::Restart(g) => {
                    sim.bounce(gw(g));
                    down.remove(&g);
                    format!("restart gw{g}")
                }
                Event::ClockJump(g, ms) => {
                    jumps[g as usize - 1].jump(ms);
                    format!("gw{g} wall clock jumps {ms} ms")
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
    let mf = metas
        .iter()
        .fold(FaultCounts::default(), |a, s| add(a, s.counts()));
    let cf = contents.counts();
    let (checked, joint_checked, joint_across) = {
        let b = board.borrow();
        (b.checked, b.joint_checked, b.joint_across)
    };
    let mut extra = String::new();
    if spec.mix.joint > 0 {
        extra +=
            &format!("; joint ranges checked {joint_checked} ({joint_across} across gateways)");
    }
    let mut rebases = 0;
    if let Contents::Objects { table, .. } = &contents {
        let counts = table.counts();
        rebases = counts.rebases;
        extra += &format!("; objects {counts}; record conflicts {}", hub.conflicts());
    }
    trace.borrow_mut().push(
        elapsed,
        format_args!(
            "N   done: {crashes} gateway crashes, {applied} nemesis events, {checked} \
             close-to-open reads; db {}; metadata faults {mf}; content faults {cf}{extra}",
            hub.counts()
        ),
    );
    if let Contents::Objects { table, .. } = &contents {
        let missing = table.missing();
        if let Some((key, v, g)) = missing.first() {
            return Err(Error::Check(format!(
                "{} loads found their version's object missing; first: file {} version \
                 {v:#x} on gw{g}",
                missing.len(),
                key.to_hex()
            )));
        }
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
        close_to_open: checked,
        db_lost: hub.counts().lost_requests + hub.counts().lost_replies,
        record_conflicts: hub.conflicts(),
        rebases,
        joint_checked,
        locks: Default::default(),
        elapsed,
    })
}
