//! End-to-end: Samba's smbtorture (its SMB2 conformance suites, Debian samba-testsuite) against
//! the real `dittofs` binary serving SMB on RocksDB + filesystem content.
//!
//! `ci/smbtorture.sh` runs each suite (its own timeout per suite, so a hanging server fails the
//! test instead of hanging it) and writes one `success|failure|error|skip NAME` line per test.
//! This test then compares, test by test, with the committed known-failures list
//! `tests/data/smbtorture-known-failures.txt` (`suite.test  # reason`, one a line):
//! - a test that fails and is not on the list is a regression: the test fails;
//! - a listed test that now passes is printed, so the list can shrink;
//! - each suite's count is printed beside Samba's (the table in docs/SMB-TORTURE.md). Reaching
//!   Samba's count is the SMB issue's goal, not yet met everywhere (oplocks and leases come
//!   with the lock manager); the known-failures list says why each missing test fails, and this
//!   test keeps the count from going down.
//!
//! A missing smbtorture is a failure with the install hint, never a skip.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use testkit::Daemon;
use testkit::vm::repo;

const PASSWORD: &str = "torture-pw";

/// Each suite with Samba 4.17's passed/total (docs/SMB-TORTURE.md): the first nine are the SMB
/// issue's targets, the rest measured on this harness against `ci/samba.sh` with
/// `SAMBA_VFS_OBJECTS="acl_xattr streams_xattr"`, which matches the numbers everywhere
/// except smb2.session (53/59 measured; the 55 stays the target). Totals exclude
/// skipped tests.
const SUITES: &[(&str, usize, usize)] = &[
    ("smb2.session", 55, 59),
    ("smb2.credits", 3, 3),
    ("smb2.compound", 18, 19),
    ("smb2.create", 12, 16),
    ("smb2.read", 4, 4),
    ("smb2.getinfo", 5, 8),
    ("smb2.dir", 5, 7),
    ("smb2.rename", 9, 11),
    ("smb2.ioctl", 43, 44),
    ("smb2.connect", 1, 1),
    ("smb2.setinfo", 0, 1),
    ("smb2.rw", 2, 3),
    ("smb2.delete-on-close-perms", 9, 9),
    ("smb2.maximum_allowed", 0, 1),
    ("smb2.tcon", 1, 1),
    ("smb2.session-require-signing", 0, 1),
    ("smb2.fileid", 4, 4),
    ("smb2.oplock", 39, 42),
    ("smb2.lock", 22, 22),
    ("smb2.durable-open", 17, 23),
    ("smb2.durable-open-disconnect", 1, 1),
    ("smb2.durable-v2-open", 14, 15),
    ("smb2.sharemode", 3, 3),
    ("smb2.deny", 2, 2),
    // Waits out lease break timeouts: about 3 minutes against Samba and dittofs.
    ("smb2.lease", 34, 36),
    // smb2.notify test by test (the whole suite waits forever in mask-change, against Samba
    // in basedir; docs/SMB-TORTURE.md): the ones about handles ending with their session,
    // tree or connection.
    ("smb2.notify.valid-req", 1, 1),
    ("smb2.notify.close", 1, 1),
    ("smb2.notify.logoff", 1, 1),
    ("smb2.notify.session-reconnect", 1, 1),
    ("smb2.notify.invalid-reauth", 1, 1),
    ("smb2.notify.tdis1", 1, 1),
];

/// Suites run only when named in `SMBTORTURE_SUITES` (smb2.replay waits out its pending opens
/// and request timeouts, about 2 minutes, and is far from Samba's count).
const OPTIONAL_SUITES: &[(&str, usize, usize)] = &[("smb2.replay", 29, 55)];
// smb2.timestamps (Samba 15/15) is run by hand (docs/SMB-TORTURE.md): its delayed-write tests
// wait for write-time updates dittofs does not delay, and each waits out its own timeout.

/// Seconds each suite may take: smb2.lease needs about 180 (it waits out break timeouts); the
/// others, against Samba, under a minute all together.
const SUITE_TIMEOUT: &str = "360";

/// The known failures: test name → reason. The name is everything before `#`, trimmed (names
/// may hold spaces: `smb2.delete-on-close-perms.OVERWRITE_IF Existing`).
fn known_failures() -> BTreeMap<String, String> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/smbtorture-known-failures.txt");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut known = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let (name, reason) = line.split_once('#').unwrap_or((line, ""));
        let name = name.trim();
        if name.is_empty() {
            continue;
        }
        assert!(
            SUITES
                .iter()
                .chain(OPTIONAL_SUITES)
                .any(|(s, ..)| name == *s || name.starts_with(&format!("{s}."))),
            "{}:{}: {name:?} is in none of the suites this test runs",
            path.display(),
            i + 1
        );
        let old = known.insert(name.to_owned(), reason.trim().to_owned());
        assert!(
            old.is_none(),
            "{}:{}: {name:?} listed twice",
            path.display(),
            i + 1
        );
    }
    known
}

/// One suite's `OUTDIR/SUITE.results`: (outcome, test name) per finished test.
fn results(out: &Path, suite: &str) -> Vec<(String, String)> {
    let path = out.join(format!("{suite}.results"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, n)| (k.to_owned(), n.to_owned()))
        .collect()
}

/// Goal: every smbtorture SMB2 test that fails against dittofs is a known, explained failure
/// (so a regression fails this test), with each suite's count printed beside Samba's.
#[test]
fn smbtorture_suites_against_known_failures() {
    assert!(
        Path::new("/usr/bin/smbtorture").exists(),
        "smbtorture not found: install Debian's samba-testsuite (ci/setup.sh does)"
    );
    let known = known_failures();

    let dir = tempfile::tempdir().unwrap();
    // SMBTORTURE_SERVER="PORT SHARE USER PASSWORD" runs the same comparison against another
    // server (Samba from ci/samba.sh), which is how this harness is checked.
    let other = std::env::var("SMBTORTURE_SERVER").ok();
    let (d, target) = match &other {
        Some(s) => {
            let t: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
            assert_eq!(
                t.len(),
                4,
                "SMBTORTURE_SERVER is \"PORT SHARE USER PASSWORD\""
            );
            (None, t)
        }
        None => {
            let mut d = Daemon::prepare_smb(
                env!("CARGO_BIN_EXE_dittofs"),
                dir.path(),
                &["name: /export"],
                "",
                // Anonymous logons are let in (no share allows the guest, so they reach
                // nothing), as Samba's default does: smb2.session.reauth2-5 re-authenticate
                // a session as anonymous.
                "guest: { enabled: true }\n",
            );
            d.add_user("alice", 1001, 1001, PASSWORD);
            d.spawn();
            let port = d.smb_port.unwrap().to_string();
            (
                Some(d),
                vec![port, "export".into(), "alice".into(), PASSWORD.into()],
            )
        }
    };

    // SMBTORTURE_SUITES="smb2.session,smb2.lease" runs only those suites (a quicker loop
    // while working on one area, or an optional suite); without it, every default suite.
    let only = std::env::var("SMBTORTURE_SUITES").ok();
    let suites: Vec<(&str, usize, usize)> = match &only {
        None => SUITES.to_vec(),
        Some(o) => SUITES
            .iter()
            .chain(OPTIONAL_SUITES)
            .copied()
            .filter(|(s, ..)| o.split(',').any(|x| x.trim() == *s))
            .collect(),
    };
    assert!(
        !suites.is_empty(),
        "SMBTORTURE_SUITES names none of {SUITES:?} {OPTIONAL_SUITES:?}"
    );
    let out = dir.path().join("smbtorture");
    let run = Command::new(repo().join("ci/smbtorture.sh"))
        .args(&target)
        .arg(&out)
        .args(suites.iter().map(|(s, ..)| *s))
        .env("SMBTORTURE_TIMEOUT", SUITE_TIMEOUT)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&run.stdout);
    println!("{report}{}", String::from_utf8_lossy(&run.stderr));

    let mut regressions = Vec::new();
    let mut now_passing = Vec::new();
    let mut seen = BTreeSet::new();
    let mut below = Vec::new();
    let name = if other.is_some() { "server" } else { "dittofs" };
    println!("{:<32} {:>12} {:>12}", "suite", name, "Samba");
    for &(suite, samba_passed, samba_total) in &suites {
        let res = results(&out, suite);
        let mut passed = 0;
        let mut total = 0;
        for (kind, name) in &res {
            seen.insert(name.clone());
            match kind.as_str() {
                "success" | "xfail" => {
                    passed += 1;
                    total += 1;
                    if known.contains_key(name) {
                        now_passing.push(name.clone());
                    }
                }
                "skip" => {}
                _ => {
                    total += 1;
                    if !known.contains_key(name) {
                        regressions.push(format!("{kind}: {name}"));
                    }
                }
            }
        }
        let mark = if passed < samba_passed {
            "  BELOW SAMBA"
        } else {
            ""
        };
        println!(
            "{suite:<32} {:>12} {:>12}{mark}",
            format!("{passed}/{total}"),
            format!("{samba_passed}/{samba_total}")
        );
        if passed < samba_passed {
            below.push(format!("{suite}: {passed} passed, Samba {samba_passed}"));
        }
    }
    let stale: Vec<_> = known
        .keys()
        .filter(|k| !seen.contains(*k))
        .filter(|k| suites.iter().any(|(s, ..)| k.starts_with(&format!("{s}."))))
        .collect();
    if !now_passing.is_empty() {
        println!(
            "\nknown failures that now pass (remove them from the list):\n  {}",
            now_passing.join("\n  ")
        );
    }
    if !stale.is_empty() {
        println!(
            "\nknown failures smbtorture did not run (renamed? remove them):\n  {}",
            stale
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join("\n  ")
        );
    }
    if !below.is_empty() {
        println!(
            "\nsuites below Samba (the SMB issue's target):\n  {}",
            below.join("\n  ")
        );
    }
    let failed = !regressions.is_empty() || !run.status.success();
    if !failed && std::env::var_os("SMBTORTURE_KEEP").is_some() {
        // Asked to keep the outputs (and the daemon's log) of a passing run too.
        let kept = dir.keep();
        println!(
            "smbtorture outputs kept in {}",
            kept.join("smbtorture").display()
        );
        return;
    }
    if failed {
        // Keep the outputs (and the daemon's files) for a look after the run.
        let kept = dir.keep();
        panic!(
            "smbtorture against {name} (ci/smbtorture.sh exit {:?}):\n\
             {} failing test(s) not in the known-failures list:\n  {}\n\
             smbtorture outputs kept in {}; dittofs log tail:\n{}",
            run.status.code(),
            regressions.len(),
            regressions.join("\n  "),
            kept.join("smbtorture").display(),
            d.as_ref()
                .map_or_else(|| "(not dittofs)".to_owned(), Daemon::stderr_tail)
        );
    }
}
