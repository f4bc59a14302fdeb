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
    write_config_with(dir, port, &["name: /export"], "")
}

/// Writes `DIR/config.yaml` with one share per entry of `shares` (the keys of a YAML flow
/// mapping, `name` first; every share gets the RocksDB + filesystem stores under `dir` and
/// admits every client), then the top-level YAML `extra`, serving on `port`.
pub fn write_config_with(dir: &Path, port: u16, shares: &[&str], extra: &str) -> PathBuf {
    write_config_full(dir, port, None, shares, extra)
}

/// [`write_config_with`], also serving SMB on `smb_port` when given (`smb` holds further
/// keys of `adapters.smb` as YAML flow-mapping entries, e.g. `signing_required: true`).
pub fn write_config_full(
    dir: &Path,
    port: u16,
    smb: Option<(u16, &str)>,
    shares: &[&str],
    extra: &str,
) -> PathBuf {
    let smb = match smb {
        Some((p, "")) => format!(", smb: {{ enabled: true, port: {p} }}"),
        Some((p, keys)) => format!(", smb: {{ enabled: true, port: {p}, {keys} }}"),
        None => String::new(),
    };
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
             adapters: {{ nfs: {{ port: {port}, portmapper: {{ enabled: false }} }}{smb} }}\n\
             {extra}",
            d = dir.display()
        ),
    )
    .expect("writing the test configuration");
    config
}

/// Writes configuration `text` to `path`, readable by its owner only (mode 0600): dittofs
/// refuses a configuration holding secrets (a database password, an S3 secret key, a token)
/// that others can read.
pub fn write_private_config(path: &Path, text: &str) {
    std::fs::write(path, text).expect("writing the test configuration");
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .expect("making the test configuration private");
}

/// A running daemon; killed on drop. Its stdout and stderr go to `DIR/dittofs.log`.
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
    /// Its SMB port on 127.0.0.1, when it serves SMB.
    pub smb_port: Option<u16>,
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
            smb_port: None,
            log: dir.join("dittofs.log"),
        }
    }

    /// A daemon of binary `bin` with the configuration of [`write_config_with`] in `dir`, not
    /// started yet, so the CLI ([`Daemon::cli`]) can edit the file first.
    pub fn prepare(bin: impl Into<PathBuf>, dir: &Path, shares: &[&str], extra: &str) -> Self {
        let port = free_port();
        Self {
            child: None,
            bin: bin.into(),
            launcher: Vec::new(),
            config: write_config_with(dir, port, shares, extra),
            port,
            smb_port: None,
            log: dir.join("dittofs.log"),
        }
    }

    /// [`Daemon::prepare`], also serving SMB on a free port, with further `adapters.smb`
    /// keys `smb_keys` (YAML flow-mapping entries, may be empty).
    pub fn prepare_smb(
        bin: impl Into<PathBuf>,
        dir: &Path,
        shares: &[&str],
        smb_keys: &str,
        extra: &str,
    ) -> Self {
        let port = free_port();
        let smb_port = free_port();
        Self {
            child: None,
            bin: bin.into(),
            launcher: Vec::new(),
            config: write_config_full(dir, port, Some((smb_port, smb_keys)), shares, extra),
            port,
            smb_port: Some(smb_port),
            log: dir.join("dittofs.log"),
        }
    }

    /// Adds user `name` (`uid`, primary group `gid`) with `password` through the CLI
    /// (`dittofs user add … --password-stdin`), as an administrator would.
    pub fn add_user(&self, name: &str, uid: u32, gid: u32, password: &str) -> String {
        self.cli(
            &[
                "user",
                "add",
                name,
                "--uid",
                &uid.to_string(),
                "--gid",
                &gid.to_string(),
                "--password-stdin",
            ],
            &format!("{password}\n"),
        )
    }

    /// Runs `dittofs --config CONFIG args…` with `stdin` as its input (bcrypt cost 4, so
    /// password hashing stays fast), panics with its stderr unless it succeeded, and returns
    /// its stdout.
    pub fn cli(&self, args: &[&str], stdin: &str) -> String {
        use std::io::Write as _;
        let mut child = Command::new(&self.bin)
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
            .expect("piped stdin")
            .write_all(stdin.as_bytes())
            .expect("writing the CLI's stdin");
        let out = child.wait_with_output().expect("waiting for dittofs");
        assert!(
            out.status.success(),
            "dittofs {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("the CLI prints UTF-8")
    }

    /// [`Daemon::new`], then [`Daemon::spawn`].
    pub fn start(bin: impl Into<PathBuf>, dir: &Path) -> Self {
        let mut d = Self::new(bin, dir);
        d.spawn();
        d
    }

    /// The command that starts the daemon (through the launcher, if any), its stdout and
    /// stderr appended to the log.
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
            .stdout(log.try_clone().expect("duplicating the log descriptor"))
            .stderr(log);
        cmd
    }

    /// Starts the binary (again) and waits until it accepts connections; panics with the log
    /// if it does not within 10 s.
    pub fn spawn(&mut self) {
        let child = self.command().spawn().expect("spawning dittofs");
        self.child = Some(child);
        let ready = |port: Option<u16>| {
            port.is_none_or(|p| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok())
        };
        for _ in 0..200 {
            if ready(Some(self.port)) && ready(self.smb_port) {
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

    /// A libnfs URL of `path` in `share`, calling as AUTH_SYS `uid`/`gid`.
    pub fn url_as(&self, share: &str, path: &str, uid: u32, gid: u32) -> String {
        format!(
            "nfs://127.0.0.1{share}{path}?version=3&nfsport={p}&mountport={p}&uid={uid}&gid={gid}",
            p = self.port
        )
    }

    /// Everything the daemon wrote to stdout and stderr so far, over all its starts.
    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.log).unwrap_or_default()).into_owned()
    }

    /// The last 8 KiB of the daemon's log, after the panics and errors logged before it
    /// (each panic with the lines that follow it, at most 40 lines in all): what a failing
    /// test prints, so a panic in a spawned task early in a long log is not lost.
    pub fn stderr_tail(&self) -> String {
        let log = std::fs::read(&self.log).unwrap_or_default();
        let from = log.len().saturating_sub(8 << 10);
        let head = String::from_utf8_lossy(&log[..from]);
        let lines: Vec<&str> = head.lines().collect();
        let mut notable = Vec::new();
        let mut i = 0;
        while i < lines.len() && notable.len() < 40 {
            if lines[i].contains("panicked") {
                notable.extend(lines[i..lines.len().min(i + 6)].iter().copied());
                i += 6;
                continue;
            }
            if lines[i].contains(" ERROR ") {
                notable.push(lines[i]);
            }
            i += 1;
        }
        let tail = String::from_utf8_lossy(&log[from..]);
        if notable.is_empty() {
            tail.into_owned()
        } else {
            format!(
                "[panics and errors earlier in the log]\n{}\n[last 8 KiB]\n{tail}",
                notable.join("\n")
            )
        }
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
