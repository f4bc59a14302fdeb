//! The committed seeds (`sim/seeds.ron`): every scenario run with each seed twice. A run passes
//! when every client's checks held (durability across crashes, handles, cookies, the duplicate
//! request cache, READ against the model), nothing panicked, every client finished within the
//! liveness bound after the faults stopped, and both runs of the seed produced the same trace.
//!
//! Split by scenario so the test runner spreads them over the cores.

use sim::spec;

/// Replays every committed seed of `scenario` twice; fails on the first failing seed with its
/// trace tail and the command that replays it.
fn replay(scenario: &str) -> Vec<sim::run::RunReport> {
    let spec = spec::load(scenario).unwrap_or_else(|e| panic!("{e}"));
    let seeds: Vec<u64> = spec::committed_seeds()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter(|(s, _)| s == scenario)
        .map(|(_, seed)| seed)
        .collect();
    assert!(
        !seeds.is_empty(),
        "sim/seeds.ron lists no seeds for {scenario}"
    );
    let (mut ops, mut crashes, mut events) = (0, 0, 0);
    let mut runs = Vec::new();
    for &seed in &seeds {
        let a = sim::run::run(&spec, seed).unwrap_or_else(|f| panic!("{f}"));
        let b = sim::run::run(&spec, seed).unwrap_or_else(|f| panic!("{f}"));
        assert!(
            a.digest() == b.digest(),
            "scenario {scenario} seed {seed:#x}: two runs, two traces ({:016x} vs {:016x}); \
             first difference:\n{}",
            a.digest(),
            b.digest(),
            first_difference(&a.trace.text(), &b.trace.text())
        );
        assert!(a.ops() > 0, "seed {seed:#x}: no client operation ran");
        ops += a.ops();
        crashes += a.crashes;
        events += a.nemesis_events;
        runs.push(a);
    }
    println!(
        "{scenario}: {} seeds x 2 runs passed: {ops} client operations, {crashes} server crashes, \
         {events} nemesis events per pass",
        seeds.len()
    );
    let nemesis = spec.nemesis;
    if nemesis.crashes > 0 {
        assert!(crashes > 0, "{scenario}: no seed crashed the server");
    }
    if nemesis.partitions + nemesis.holds + nemesis.resets + nemesis.crashes > 0 {
        assert!(events > 0, "{scenario}: the nemesis never acted");
    }
    runs
}

fn first_difference(a: &str, b: &str) -> String {
    a.lines()
        .zip(b.lines())
        .enumerate()
        .find(|(_, (x, y))| x != y)
        .map_or_else(
            || "one trace is a prefix of the other".to_owned(),
            |(i, (x, y))| format!("line {}:\n  {x}\n  {y}", i + 1),
        )
}

/// Goal: `mixed` (three clients, every fault kind at moderate rates, buggify on) holds every
/// check for each committed seed, deterministically.
#[test]
fn mixed_seeds() {
    replay("mixed");
}

/// Goal: `storm` (heavy faults: three crashes, store errors and busy answers) holds every
/// check for each committed seed, deterministically.
#[test]
fn storm_seeds() {
    replay("storm");
}

/// Goal: `smb` (two NFS and two SMB clients on one share, every nemesis kind, store faults)
/// holds every check for each committed seed, deterministically: FLUSH-acknowledged bytes
/// survive crashes, a reconnecting SMB client reopens the same objects by path, and
/// QUERY_DIRECTORY paging returns each entry once.
#[test]
fn smb_seeds() {
    replay("smb");
}

/// Goal: `smb-buggify` (SMB clients with every buggify site on) holds the SMB checks for each
/// committed seed; 0x4 is the regression where FLUSH answered SUCCESS after the write-back
/// cache had dropped acknowledged bytes.
#[test]
fn smb_buggify_seeds() {
    replay("smb-buggify");
}

/// Goal: `gateways` (two gateways over one metadata store and one content store on host
/// `db`, reached through the simulated network; gateway–db partitions and holds, gateway
/// crashes with clients failing over to the other gateway) holds every client check and
/// close-to-open across gateways for each committed seed, deterministically. Method: the
/// committed seeds run twice each (`replay`); across them gateways crashed, clients moved,
/// the db links were cut and close-to-open reads through another gateway were checked.
#[test]
fn gateways_seeds() {
    let runs = replay("gateways");
    let checked: u64 = runs.iter().map(|r| r.close_to_open).sum();
    let lost: u64 = runs.iter().map(|r| r.db_lost).sum();
    let failovers: usize = runs
        .iter()
        .map(|r| r.trace.text().matches("C   failover: ").count())
        .sum();
    println!(
        "gateways: {checked} close-to-open reads checked, {failovers} failovers, {lost} store \
         calls cut by the network"
    );
    assert!(checked > 0, "no close-to-open read was checked");
    assert!(failovers > 0, "no client failed over to another gateway");
    assert!(lost > 0, "no store call was cut between a gateway and db");
}

/// Goal: `gateways-s3` (two gateways over one metadata store and a versioned object store
/// modelled on the S3 one, `sim/src/objects.rs`) never loses an acknowledged write when
/// the gateways' flushes of one file race to record their versions, and no load finds a
/// recorded version's object missing. Method: the committed seeds run twice each
/// (`replay`; the run fails on a missing object or a lost range); across them, records
/// conflicted (`record_write_on` found another gateway's version) and the losing gateway
/// re-based and wrote again, and clients read back ranges of the joint file that other
/// clients committed through the other gateway.
#[test]
fn gateways_s3_seeds() {
    let runs = replay("gateways-s3");
    let conflicts: u64 = runs.iter().map(|r| r.record_conflicts).sum();
    let rebases: u64 = runs.iter().map(|r| r.rebases).sum();
    let joint: u64 = runs.iter().map(|r| r.joint_checked).sum();
    let checked: u64 = runs.iter().map(|r| r.close_to_open).sum();
    println!(
        "gateways-s3: {conflicts} record conflicts, {rebases} re-bases, {joint} joint ranges \
         of other clients checked, {checked} close-to-open reads"
    );
    assert!(conflicts > 0, "no record of a version ever conflicted");
    assert!(rebases > 0, "no re-base dropped unrecorded changes");
    assert!(joint > 0, "no joint range of another client was checked");
    assert!(checked > 0, "no close-to-open read was checked");
}

/// Goal: the lock scenario holds its checkers (no conflicting grants, no lock lost while its
/// holder lives, no write acknowledged under another client's unbroken lease) for each
/// committed seed, and the checkers had material: locks granted after waiting, blocking
/// requests cancelled, shared locks held together, writes refused by locks, bytes read back
/// under exclusive locks, lease breaks acknowledged and sessions replaced by reconnects.
#[test]
fn locks_seeds() {
    let runs = replay("locks");
    let mut t = sim::lock_board::LockCounts::default();
    for r in &runs {
        let c = r.locks;
        t.granted += c.granted;
        t.waited += c.waited;
        t.cancels += c.cancels;
        t.shared_overlaps += c.shared_overlaps;
        t.io_refused += c.io_refused;
        t.data_checked += c.data_checked;
        t.acks += c.acks;
        t.lease_writes += c.lease_writes;
        t.replaced_sessions += c.replaced_sessions;
    }
    println!("locks: {t:?}");
    assert!(
        t.granted > 0 && t.waited > 0,
        "no lock granted after a wait"
    );
    assert!(t.cancels > 0, "no blocking lock cancelled");
    assert!(t.shared_overlaps > 0, "no shared locks held together");
    assert!(t.io_refused > 0, "no I/O refused by a lock");
    assert!(
        t.data_checked > 0,
        "no bytes read back under an exclusive lock"
    );
    assert!(
        t.acks > 0 && t.lease_writes > 0,
        "no lease break acknowledged"
    );
    assert!(
        t.replaced_sessions > 0,
        "no session replaced by a reconnect"
    );
}

/// Goal: `calm` (four clients, no faults) holds every check for each committed seed.
#[test]
fn calm_seeds() {
    replay("calm");
}

/// Goal: with every buggify site switched on, the server stays correct for each committed
/// seed, and across those seeds every site fired: all 14 the server has.
#[test]
fn buggify_seeds_fire_every_site() {
    let spec = spec::load("buggify").unwrap_or_else(|e| panic!("{e}"));
    let mut fired = std::collections::BTreeSet::new();
    for (_, seed) in spec::committed_seeds()
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .filter(|(s, _)| s == "buggify")
    {
        let a = sim::run::run(&spec, seed).unwrap_or_else(|f| panic!("{f}"));
        let b = sim::run::run(&spec, seed).unwrap_or_else(|f| panic!("{f}"));
        assert!(
            a.digest() == b.digest(),
            "buggify seed {seed:#x}: two traces"
        );
        fired.extend(a.buggify_fired);
    }
    println!("buggify sites fired: {fired:?}");
    for site in [
        "store-busy",
        "short-read",
        "short-write",
        "readdir-short-page",
        "reply-dropped",
        "slow-read",
        "connection-cut-mid-reply",
        "flush-fails-midway",
        "flush-fails-for-good",
        "slow-sync",
        "flush-delayed",
        "commit-delayed",
        "write-reply-delayed",
        "reaper-delayed",
    ] {
        assert!(
            fired.contains(site),
            "buggify site {site} never fired: {fired:?}"
        );
    }
}

/// Goal: a WRITE answers the write verifier under which its bytes entered the write-back
/// cache, and a FILE_SYNC WRITE whose bytes a flush dropped meanwhile fails, so no client is
/// told that dropped bytes are safe. Method: two buggify seeds hold a WRITE between cache entry
/// and reply (`write-reply-delayed`) while a flush worker's flush of the same file fails for
/// good (`flush-fails-for-good`), dropping the bytes and changing the verifier. Before the fix,
/// in 0x3f the UNSTABLE WRITE answered the new verifier and the next COMMIT the same one, and
/// in 0x1e the FILE_SYNC WRITE answered FILE_SYNC; in both the file read back at the end
/// lacked the bytes. Each run must pass, twice identically, with both sites fired.
#[test]
fn held_write_whose_bytes_a_flush_dropped_is_not_called_safe() {
    let spec = spec::load("buggify").unwrap_or_else(|e| panic!("{e}"));
    for seed in [0x3f, 0x1e] {
        let a = sim::run::run(&spec, seed).unwrap_or_else(|f| panic!("{f}"));
        let b = sim::run::run(&spec, seed).unwrap_or_else(|f| panic!("{f}"));
        assert_eq!(a.digest(), b.digest(), "buggify {seed:#x}: two traces");
        for site in ["write-reply-delayed", "flush-fails-for-good"] {
            assert!(
                a.buggify_fired.iter().any(|s| s == site),
                "buggify {seed:#x} no longer fires {site}: {:?}",
                a.buggify_fired
            );
        }
    }
}

/// Goal: the seed list is what the issue asks: at least 200 seeds.
#[test]
fn at_least_200_committed_seeds() {
    let seeds = spec::committed_seeds().unwrap_or_else(|e| panic!("{e}"));
    assert!(seeds.len() >= 200, "{} seeds in sim/seeds.ron", seeds.len());
    for (scenario, _) in &seeds {
        spec::load(scenario).unwrap_or_else(|e| panic!("{e}"));
    }
}
