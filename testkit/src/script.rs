//! A client script run step by step: the smbprotocol scripts under `tests/smb/` that a Rust
//! test drives over their stdin and stdout (the script prints a line when it reaches a step,
//! the test answers a line when the script may go on), so the test can act in between from
//! another protocol.

use std::io::{BufRead as _, Write as _};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::Duration;

use tokio::sync::mpsc;

/// How long a step may take before the test fails.
pub const STEP_MAX: Duration = Duration::from_secs(60);

/// A running script.
#[derive(Debug)]
pub struct StepScript {
    name: String,
    child: Child,
    stdin: ChildStdin,
    lines: mpsc::UnboundedReceiver<String>,
}

impl StepScript {
    /// Starts `python3 <repo>/<script> ARGS...`; panics with the install hint when python3
    /// cannot run.
    pub fn python(script: &str, args: &[&str]) -> Self {
        let mut child = Command::new("python3")
            .arg(crate::vm::repo().join(script))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("running python3: {e} (install python3, then ci/setup.sh)"));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = mpsc::unbounded_channel();
        // Reading a child's pipe blocks; this runs outside any simulation.
        #[expect(
            clippy::disallowed_methods,
            reason = "a real child process's stdout, read outside any simulation"
        )]
        tokio::task::spawn_blocking(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            name: script.to_owned(),
            child,
            stdin,
            lines,
        }
    }

    /// Waits for the script's next line and checks it is `want`.
    pub async fn expect(&mut self, want: &str) {
        let line = tokio::time::timeout(STEP_MAX, self.lines.recv())
            .await
            .unwrap_or_else(|_| panic!("{}: no {want} within {STEP_MAX:?}", self.name))
            .unwrap_or_else(|| {
                panic!(
                    "{} ended before {want} (exit 2: smbprotocol missing; ci/setup.sh installs it)",
                    self.name
                )
            });
        assert_eq!(line, want, "{}", self.name);
    }

    /// Lets the script go on to its next step.
    pub fn go(&mut self) {
        writeln!(self.stdin, "go").unwrap_or_else(|e| panic!("{}: {e}", self.name));
    }

    /// Waits for the script to end; whether it succeeded.
    pub fn success(mut self) -> bool {
        self.child
            .wait()
            .unwrap_or_else(|e| panic!("{}: {e}", self.name))
            .success()
    }
}

/// Drives `tests/smb/smbprotocol_dirlease.py` (started by the caller, against one gateway or
/// two) to its end, making its NFS changes through the NFS server on `nfs_port`: a file
/// created in the leased directory `dl`, written (FILE_SYNC), its mode set, then removed.
/// Panics when a step fails.
pub async fn drive_dirlease(mut py: StepScript, nfs_port: u16) {
    use nfs3_client::nfs3_types::nfs3::{
        Nfs3Result, REMOVE3args, SETATTR3args, sattrguard3, stable_how,
    };

    for step in [
        "GRANTS",
        "CREATE-BROKE",
        "PARENT-KEY-QUIET",
        "WRITE-BROKE",
        "SETINFO-BROKE",
        "ARMED",
    ] {
        py.expect(step).await;
    }
    let mut m = crate::nfs::mount("127.0.0.1", nfs_port, "/export", 0, 0)
        .await
        .expect("mounting /export");
    let root = m.root_nfs_fh3();
    let dl = crate::nfs::lookup(&mut m, &root, "dl")
        .await
        .expect("LOOKUP dl");
    let f = crate::nfs::create(&mut m, &dl, "nfs.txt", 0o644)
        .await
        .expect("CREATE dl/nfs.txt");
    py.go();
    py.expect("NFS-BROKE").await;
    py.expect("ARMED-W").await;
    crate::nfs::write_all(&mut m, &f, 0, b"from NFS", stable_how::FILE_SYNC)
        .await
        .expect("WRITE dl/nfs.txt");
    py.go();
    py.expect("ARMED-S").await;
    let r = m
        .setattr(&SETATTR3args {
            object: f.clone(),
            new_attributes: crate::nfs::mode(0o600),
            guard: sattrguard3::default(),
        })
        .await
        .expect("SETATTR dl/nfs.txt");
    assert!(matches!(r, Nfs3Result::Ok(_)), "SETATTR: {r:?}");
    py.go();
    py.expect("ARMED2").await;
    let r = m
        .remove(&REMOVE3args {
            object: crate::nfs::dirop(&dl, "nfs.txt"),
        })
        .await
        .expect("REMOVE dl/nfs.txt");
    assert!(matches!(r, Nfs3Result::Ok(_)), "REMOVE: {r:?}");
    py.go();
    py.expect("DONE").await;
    assert!(py.success(), "smbprotocol_dirlease.py failed");
}
