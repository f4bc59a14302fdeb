//! Shared by the end-to-end tests: the real `dittofs` binary on RocksDB + filesystem content
//! in a temporary directory.

#![allow(
    dead_code,
    reason = "each test binary uses the part of the harness it needs"
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running daemon; killed on drop. Its stdout and stderr go to `DIR/dittofs.log`.
pub(crate) struct Daemon {
    child: Option<Child>,
    /// The configuration file it was started with.
    pub(crate) config: PathBuf,
    /// Its NFS, MOUNT and portmapper port on 127.0.0.1.
    pub(crate) port: u16,
    log: PathBuf,
}

impl Daemon {
    /// Writes a configuration serving `/export` from RocksDB + filesystem under `dir` on a free
    /// loopback port, and starts the binary with it.
    pub(crate) fn start(dir: &Path) -> Self {
        let mut d = Self::prepare(dir, &["name: /export"], "");
        d.spawn();
        d
    }

    /// Writes a configuration under `dir` with one share per entry of `shares` (the keys of a
    /// YAML flow mapping, `name` first; every share gets RocksDB + filesystem stores and admits
    /// every client) and the top-level YAML `extra`, on a free loopback port; does not start
    /// the binary ([`Daemon::spawn`] does), so the CLI can edit the file first.
    pub(crate) fn prepare(dir: &Path, shares: &[&str], extra: &str) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.join("config.yaml");
        let shares: String = shares
            .iter()
            .map(|s| {
                format!(
                    "  - {{ {s}, metadata_store: default, content_store: default, allowed_clients: [] }}\n"
                )
            })
            .collect();
        std::fs::write(
            &config,
            format!(
                "server: {{ state_dir: {d}/state }}\n\
                 metadata: {{ stores: {{ default: {{ type: rocksdb, path: {d}/meta }} }} }}\n\
                 content: {{ stores: {{ default: {{ type: filesystem, path: {d}/content }} }} }}\n\
                 shares:\n{shares}\
                 adapters: {{ nfs: {{ port: {port}, portmapper: {{ enabled: false }} }} }}\n\
                 {extra}",
                d = dir.display()
            ),
        )
        .unwrap();
        Self {
            child: None,
            config,
            port,
            log: dir.join("dittofs.log"),
        }
    }

    /// Runs `dittofs --config CONFIG args…` with `stdin` as its input (bcrypt cost 4, so
    /// password hashing stays fast), asserts it succeeded, and returns its stdout.
    pub(crate) fn cli(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_dittofs"))
            .arg("--config")
            .arg(&self.config)
            .args(args)
            .env("DITTOFS_BCRYPT_COST", "4")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawning dittofs");
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "dittofs {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Starts the binary (again) and waits until it accepts connections.
    pub(crate) fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_dittofs"))
            .arg("--config")
            .arg(&self.config)
            .arg("start")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawning dittofs");
        self.child = Some(child);
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        panic!(
            "dittofs did not listen on port {} within 10 s; its log:\n{}",
            self.port,
            self.stderr_tail()
        );
    }

    /// The process id of the running daemon.
    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map(Child::id).unwrap_or(0)
    }

    /// Whether the daemon is still running.
    pub(crate) fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGTERM, then waits; returns the exit status code.
    pub(crate) fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .unwrap();
        assert!(ok.success());
        c.wait().unwrap().code()
    }

    /// SIGKILL, then waits: the crash a restart test needs.
    pub(crate) fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().unwrap();
            let _ = c.wait();
        }
    }

    /// A libnfs URL of `path` in the export.
    pub(crate) fn url(&self, path: &str) -> String {
        format!(
            "nfs://127.0.0.1/export{path}?version=3&nfsport={p}&mountport={p}",
            p = self.port
        )
    }

    /// A libnfs URL of `path` in `share`, calling as AUTH_SYS `uid`/`gid`.
    pub(crate) fn url_as(&self, share: &str, path: &str, uid: u32, gid: u32) -> String {
        format!(
            "nfs://127.0.0.1{share}{path}?version=3&nfsport={p}&mountport={p}&uid={uid}&gid={gid}",
            p = self.port
        )
    }

    /// Everything the daemon wrote to stdout and stderr so far, over all its starts.
    pub(crate) fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The last 8 KiB of the daemon's log.
    pub(crate) fn stderr_tail(&self) -> String {
        let log = std::fs::read(&self.log).unwrap_or_default();
        let from = log.len().saturating_sub(8 << 10);
        String::from_utf8_lossy(&log[from..]).into_owned()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

// ---- the kernel-client test VM (ci/vm) ----

/// The repository root.
pub(crate) fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

pub(crate) fn require(tool: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).exists()))
        .unwrap_or(false);
    assert!(
        found,
        "{tool} not found: run ci/setup.sh (it installs qemu-system-x86, linux-image-amd64, busybox-static)"
    );
}

/// The VM cache (`ci/vm/build.sh`'s output), where `ci/setup.sh` also installs pjdfstest.
pub(crate) fn vm_cache() -> PathBuf {
    if let Some(d) = std::env::var_os("DITTOFS_VM_DIR") {
        return d.into();
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(&std::env::var_os("HOME").unwrap()).join(".cache"));
    cache.join("dittofs-vm")
}

/// Runs `ci/vm/run.sh` with `args`; returns its exit status and console, printing both.
pub(crate) fn run_vm(dir: &Path, args: &[&std::ffi::OsStr]) -> (Option<i32>, String) {
    let out = Command::new(repo().join("ci/vm/run.sh"))
        .args(["--timeout", "2400", "--log"])
        .arg(dir.join("console.log"))
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // Progress and timings, shown by `cargo test -- --nocapture` and on failure.
    println!("{}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    (out.status.code(), stdout)
}

/// A tree of `files` files for the VM workloads (`ci/vm/mktree.sh`): `DIR/tree.tar.gz` and
/// `DIR/tree.sha256`, returned in that order.
pub(crate) fn make_tree(dir: &Path, files: u32) -> (PathBuf, PathBuf) {
    let status = Command::new(repo().join("ci/vm/mktree.sh"))
        .arg(dir)
        .arg(files.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "ci/vm/mktree.sh failed");
    (dir.join("tree.tar.gz"), dir.join("tree.sha256"))
}
