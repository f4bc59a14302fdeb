//! Replays the committed fuzz corpus (`fuzz/corpus/<target>/`) and any crash regressions
//! (`fuzz/regressions/<target>/`) through the same entry points the cargo-fuzz targets call,
//! on the stable toolchain and without libFuzzer: every input must decode or fail cleanly,
//! never panic, and what decodes must re-encode to its input.
//!
//! A missing or near-empty corpus directory fails the test: the corpus is part of the
//! repository (see docs/SIMULATION.md, "Fuzzing").

use std::path::{Path, PathBuf};

type Entry = fn(&[u8]);

const TARGETS: &[(&str, Entry)] = &[
    ("record", protocol::fuzzing::fuzz_record),
    ("rpc_call", protocol::fuzzing::fuzz_rpc_call),
    ("nfs3_call", protocol::fuzzing::fuzz_nfs3_call),
    ("nfs3_reply", protocol::fuzzing::fuzz_nfs3_reply),
    ("mount", protocol::fuzzing::fuzz_mount),
    ("portmap", protocol::fuzzing::fuzz_portmap),
    ("smb2_create", protocol::fuzzing::fuzz_smb2_create),
    ("smb2_io", protocol::fuzzing::fuzz_smb2_io),
    ("smb2_dir", protocol::fuzzing::fuzz_smb2_dir),
    ("ntlm", protocol::fuzzing::fuzz_ntlm),
    ("spnego", protocol::fuzzing::fuzz_spnego),
    ("smb2_frame", protocol::fuzzing::fuzz_smb2_frame),
    ("smb2_compound", protocol::fuzzing::fuzz_smb2_compound),
    ("smb2_negotiate", protocol::fuzzing::fuzz_smb2_negotiate),
    ("smb2_session", protocol::fuzzing::fuzz_smb2_session),
    ("smb2_transform", protocol::fuzzing::fuzz_smb2_transform),
    ("smb1_negotiate", protocol::fuzzing::fuzz_smb1_negotiate),
    ("smb2_crypto", protocol::fuzzing::fuzz_smb2_crypto),
    ("credits", protocol::fuzzing::fuzz_credits),
    ("dcerpc", protocol::fuzzing::fuzz_dcerpc),
    ("smb2_info", protocol::fuzzing::fuzz_smb2_info),
    ("smb2_security", protocol::fuzzing::fuzz_smb2_security),
    ("smb2_ioctl", protocol::fuzzing::fuzz_smb2_ioctl),
    ("nlm", protocol::fuzzing::fuzz_nlm),
    ("nsm", protocol::fuzzing::fuzz_nsm),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut v: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("a directory entry").path();
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect();
    v.sort();
    v
}

/// Goal: every committed corpus input of every target goes through its entry point without a
/// panic (the entry points assert re-encoding), and each target has a real corpus.
#[test]
fn corpus_replays_cleanly() {
    let mut total = 0;
    for (target, entry) in TARGETS {
        let dir = fuzz_dir().join("corpus").join(target);
        let inputs = inputs(&dir);
        assert!(
            inputs.len() >= 2,
            "{}: {} inputs; the corpus is committed (regenerate: cargo run -p sim --bin sim -- corpus fuzz/corpus, then cargo fuzz cmin)",
            dir.display(),
            inputs.len()
        );
        for (path, bytes) in &inputs {
            let r = std::panic::catch_unwind(|| entry(bytes));
            assert!(r.is_ok(), "{target}: {} panicked", path.display());
        }
        total += inputs.len();
    }
    println!("{total} corpus inputs replayed");
}

/// Goal: inputs that once crashed a target (kept in fuzz/regressions/<target>/ after the fix)
/// stay fixed.
#[test]
fn regressions_stay_fixed() {
    let mut total = 0;
    for (target, entry) in TARGETS {
        let dir = fuzz_dir().join("regressions").join(target);
        if !dir.exists() {
            continue;
        }
        for (path, bytes) in inputs(&dir) {
            let r = std::panic::catch_unwind(|| entry(&bytes));
            assert!(
                r.is_ok(),
                "{target}: regression {} panics again",
                path.display()
            );
            total += 1;
        }
    }
    println!("{total} regression inputs replayed");
    // The directory itself must exist (it holds the README on how to add one), so the test
    // cannot pass by looking in the wrong place.
    assert!(
        fuzz_dir().join("regressions").is_dir(),
        "fuzz/regressions/ is missing"
    );
}
