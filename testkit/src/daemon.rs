//! The real `dittofs` binary on RocksDB + filesystem content in a temporary directory.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A free TCP port on 127.0.0.1 (bound, read, released: another process may take it first,
/// which the tests accept).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("binding an ephemeral loopback port")
        .port()
}

/// Writes `DIR/config.yaml`: `/export` from RocksDB metadata and filesystem content under
/// `dir`, NFS, MOUNT and the portmapper program on `port`, no portmapper on port 111.
pub fn write_config(dir: &Path, port: u16) -> PathBuf {
    let config = dir.join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "server: {{ state_dir: {d}/state }}\n\
             metadata: {{ stores: {{ default: {{ type: rocksdb, path: {d}/meta }} }} }}\n\
             content: {{ stores: {{ default: {{ type: filesystem, path: {d}/content }} }} }}\n\
             shares:\n  - {{ name: /export, metadata_store: default, content_store: default, allowed_clients: [] }}\n\
             adapters: {{ nfs: {{ port: {port}, portmapper: {{ enabled: false }} }} }}\n",
            d = dir.display()
        ),
    )
    .expect("writing the test configuration");
    config
}

/// A running daemon; killed on drop. Its log goes to `DIR/dittofs.log`.
#[derive(Debug)]
pub struct Daemon {
    child: Option<Child>,
    bin: PathBuf,
    /// A command the binary is started through (`prlimit --nofile=...`), empty for none. It
    /// must exec the binary, so the child's pid stays the daemon's.
    pub launcher: Vec<OsString>,
    /// The configuration file it was started with.
    pub config: PathBuf,
    /// Its NFS, MOUNT and portmapper port on 127.0.0.1.
    pub port: u16,
    log: PathBuf,
}

impl Daemon {
    /// A daemon of binary `bin` (in `actors`' tests: `env!("CARGO_BIN_EXE_dittofs")`) with the
    /// configuration of [`write_config`] in `dir`, not started yet.
    pub fn new(bin: impl Into<PathBuf>, dir: &Path) -> Self {
        let port = free_port();
        Self {
            child: None,
            bin: bin.into(),
            launcher: Vec::new(),
            config: write_config(dir, port),
            port,
            log: dir.join("dittofs.log"),
        }
    }

    /// [`Daemon::new`], then [`Daemon::spawn`].
    pub fn start(bin: impl Into<PathBuf>, dir: &Path) -> Self {
        let mut d = Self::new(bin, dir);
        d.spawn();
        d
    }

    /// The command that starts the daemon (through the launcher, if any), its stderr appended
    /// to the log.
    pub fn command(&self) -> Command {
        let mut cmd = match self.launcher.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(&self.bin);
                c
            }
            None => Command::new(&self.bin),
        };
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("opening the daemon log");
        cmd.arg("--config")
            .arg(&self.config)
            .arg("start")
            .stdout(Stdio::null())
            .stderr(log);
        cmd
    }

    /// Starts the binary (again) and waits until it accepts connections; panics with the log
    /// if it does not within 10 s.
    pub fn spawn(&mut self) {
        let child = self.command().spawn().expect("spawning dittofs");
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

    /// The process id of the running daemon (0 when it is not running).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// Whether the daemon is still running.
    pub fn alive(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// SIGTERM, then waits; returns the exit status code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        let ok = Command::new("kill")
            .arg("-TERM")
            .arg(c.id().to_string())
            .status()
            .expect("running kill");
        assert!(ok.success(), "kill -TERM {} failed", c.id());
        c.wait().expect("waiting for dittofs").code()
    }

    /// SIGKILL, then waits: the crash a restart test needs.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("killing dittofs");
            let _ = c.wait();
        }
    }

    /// A libnfs URL of `path` in the export.
    pub fn url(&self, path: &str) -> String {
        format!(
            "nfs://127.0.0.1/export{path}?version=3&nfsport={p}&mountport={p}",
            p = self.port
        )
    }

    /// The last 8 KiB of the daemon's log.
    pub fn stderr_tail(&self) -> String {
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
