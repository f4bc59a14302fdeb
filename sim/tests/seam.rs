//! The simulation seam (issue item 6c): the production `serve()` inside turmoil, with memory
//! stores and the simulated client doing MOUNT, CREATE, WRITE UNSTABLE, COMMIT, READ and
//! READDIRPLUS, is deterministic: one seed, one trace, byte for byte.
//!
//! Method: `run_seam_scenario` fails unless every check of the client passed (data read back
//! equals data written, the file is listed with its size, COMMIT's verifier equals the WRITEs',
//! the stores hold the data after a clean shutdown and a crash); the tests assert those values
//! again from the run's report and compare whole traces between runs.

use sim::scenario::{self, FILE_LEN};
use sim::{SeamRun, run_seam_scenario};

/// Runs the scenario, failing the test with the scenario's own error message.
fn run(seed: u64) -> SeamRun {
    match run_seam_scenario(seed) {
        Ok(run) => run,
        Err(e) => panic!("seam scenario with seed {seed:#x} failed: {e}"),
    }
}

/// Asserts what every successful run must show, independently of the scenario's own checks.
fn assert_scenario_held(run: &SeamRun, seed: u64) {
    let r = &run.report;
    assert_eq!(
        r.written,
        scenario::seeded_data(seed),
        "the seed decides the data"
    );
    assert_eq!(r.written.len(), FILE_LEN);
    assert!(
        r.read_back == r.written,
        "READ returned other bytes than were written"
    );
    assert_eq!(r.write_verfs.len(), 3, "three WRITEs");
    assert!(
        r.write_verfs.iter().all(|v| *v == r.commit_verf),
        "COMMIT verifier {:?} differs from a WRITE verifier {:?}",
        r.commit_verf,
        r.write_verfs
    );
    assert_eq!(r.listed_size, Some(FILE_LEN as u64), "READDIRPLUS size");
    assert!(
        r.durable == r.written,
        "the stores lost data across shutdown"
    );
    assert_eq!(r.durable_size, FILE_LEN as u64);

    let text = run.trace.text();
    assert!(text.starts_with(&format!("SEED={seed:#018x}\n")), "{text}");
    for step in [
        "PMAP GETPORT",
        "MOUNT MNT",
        "NFS3 CREATE",
        "NFS3 WRITE",
        "NFS3 COMMIT",
        "NFS3 READ ",
        "NFS3 READDIRPLUS",
        "MOUNT UMNT",
    ] {
        assert!(
            text.contains(&format!("C→S {step}")) && text.contains(&format!("S→C {step}")),
            "no {step} call and reply in the trace:\n{text}"
        );
    }
    assert!(
        text.lines()
            .last()
            .is_some_and(|l| l.ends_with("serve() returned Ok after a clean shutdown")),
        "{text}"
    );
}

/// Goal: one seed gives byte-identical traces, and the run is a real one (every check held).
/// Method: run the scenario twice with the same seed in one process (so nothing carried over
/// between runs, such as thread-local state or allocation addresses, may leak into a trace)
/// and compare the full text, the digest and the report.
#[test]
fn same_seed_same_trace() {
    let seed = 0x5eed_0006_c0de;
    let a = run(seed);
    let b = run(seed);
    assert_scenario_held(&a, seed);
    assert_eq!(
        a.trace.text(),
        b.trace.text(),
        "same seed, different traces"
    );
    assert_eq!(a.trace.digest(), b.trace.digest());
    assert_eq!(a.report, b.report);
    // Every call has its reply; a trace of a handful of lines would prove little.
    let calls = a
        .trace
        .lines()
        .iter()
        .filter(|l| l.contains(" C→S "))
        .count();
    let replies = a
        .trace
        .lines()
        .iter()
        .filter(|l| l.contains(" S→C "))
        .count();
    assert_eq!(calls, replies);
    assert!(calls >= 11, "{calls} calls:\n{}", a.trace);
}

/// Goal: the determinism test is not vacuous: the seed reaches the network timing, the
/// server's write verifier and the data, so another seed gives another trace.
/// Method: run two seeds; both must pass every check, and their traces, verifiers and data
/// must differ.
#[test]
fn different_seed_changes_the_trace() {
    let (s1, s2) = (1, 2);
    let a = run(s1);
    let b = run(s2);
    assert_scenario_held(&a, s1);
    assert_scenario_held(&b, s2);
    assert_ne!(a.trace.text(), b.trace.text());
    assert_ne!(a.trace.digest(), b.trace.digest());
    assert_ne!(
        a.report.commit_verf, b.report.commit_verf,
        "write verifier ignores the seed"
    );
    assert_ne!(a.report.written, b.report.written);
    // Beyond the first line (the seed itself) the traces differ too.
    assert_ne!(a.trace.lines()[1..], b.trace.lines()[1..]);
}

/// Goal: determinism and the scenario's checks hold across many network timings and host
/// orders, not just for the seeds above. Method: 16 consecutive seeds, each run twice; every
/// run passes its checks and both runs of a seed give the same trace. (A wider sweep, 200
/// seeds run in two separate processes, was compared once by hand when this test was written.)
#[test]
fn a_sweep_of_seeds_passes_and_repeats() {
    for seed in 100..116 {
        let a = run(seed);
        let b = run(seed);
        assert_scenario_held(&a, seed);
        assert!(
            a.trace == b.trace,
            "seed {seed:#x} gave two traces:\n{}\n---\n{}",
            a.trace,
            b.trace
        );
    }
}
