//! A throwaway PostgreSQL server for tests, started by the tests themselves from Debian's
//! `postgresql` package: `initdb` into a fresh directory under the system temp directory, then
//! `pg_ctl start` on a free loopback port, stopped and removed on drop.
//!
//! - Binaries: the newest `/usr/lib/postgresql/<version>/bin/{initdb,pg_ctl,createdb}`, or
//!   the directory `DITTOFS_TEST_PG_BIN` names. Missing ones fail loudly, naming the package.
//! - `initdb` refuses to run as root: as root the server runs as the `postgres` user (which the
//!   package creates), on a directory handed to it with `chown`.
//! - Port: the first free one in `DITTOFS_TEST_PG_PORTS` (`LOW-HIGH`, default
//!   [`DEFAULT_PORTS`]), tried from an offset that depends on the process id, so test processes
//!   running in parallel (nextest runs one per test) rarely try the same port; a port another
//!   server took between the check and the start is skipped.
//! - One server per [`PgServer`]; [`PgServer::database`] makes a fresh database in it, so one
//!   server can serve several tests of one process.
//! - A watchdog shell process stops the server and removes its directory if the test process
//!   dies without dropping the [`PgServer`] (killed by a timeout), so no server outlives it.
//! - Logins over TCP need the password ([`PgServer::PASSWORD`], scram-sha-256), so URLs carry
//!   one, as production URLs may.
//! - The server runs with `fsync = off`: these databases live for one test and are thrown away,
//!   and fsyncs would only slow the tests.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// The port range tried when `DITTOFS_TEST_PG_PORTS` is not set: below the kernel's ephemeral
/// range (32768-60999), so no outgoing connection holds one by chance.
pub const DEFAULT_PORTS: (u16, u16) = (21000, 21999);

/// A running throwaway PostgreSQL server; stopped and deleted on drop.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    /// The directory holding the data directory, the socket and the log.
    root: PathBuf,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    as_postgres: bool,
    watchdog: Option<Child>,
}

/// Databases made so far by this process, for unique names.
static DATABASES: AtomicU32 = AtomicU32::new(0);

impl PgServer {
    /// The superuser's name.
    pub const USER: &'static str = "postgres";
    /// The superuser's password.
    pub const PASSWORD: &'static str = "dittofs-test";

    /// Creates and starts a server. Panics with what to install if PostgreSQL is missing, and
    /// with the server's log if it does not start.
    pub fn start() -> Self {
        let bin = find_bin();
        let as_postgres = running_as_root();
        let root = std::env::temp_dir().join(format!(
            "dittofs-pg-{}-{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("creating the PostgreSQL test directory");
        let pwfile = root.join("pwfile");
        std::fs::write(&pwfile, Self::PASSWORD).expect("writing the password file");
        if as_postgres {
            chown_postgres(&root);
        }
        let data = root.join("data");
        let out = command(&bin, "initdb", as_postgres)
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                Self::USER,
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ])
            .arg(format!("--pwfile={}", pwfile.display()))
            .args(["-E", "UTF8", "--no-locale", "--no-sync"])
            .output()
            .expect("running initdb");
        assert!(
            out.status.success(),
            "initdb failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        let (low, high) = port_range();
        let span = u32::from(high - low) + 1;
        let offset = (std::process::id().wrapping_mul(7919)) % span;
        let mut server = Self {
            bin,
            root,
            port: 0,
            as_postgres,
            watchdog: None,
        };
        for i in 0..span {
            let port = low + ((offset + i) % span) as u16;
            if TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            if server.try_start(&data, port) {
                server.port = port;
                server.watchdog = Some(server.spawn_watchdog(&data));
                return server;
            }
        }
        let log = std::fs::read_to_string(server.root.join("server.log")).unwrap_or_default();
        panic!(
            "PostgreSQL did not start on any port of {low}-{high} (set DITTOFS_TEST_PG_PORTS \
             to another range LOW-HIGH); its last log:\n{log}"
        );
    }

    /// `pg_ctl start` on `port`; whether the server came up.
    fn try_start(&self, data: &Path, port: u16) -> bool {
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
             -c max_connections=200 -c shared_buffers=32MB",
            self.root.display()
        );
        command(&self.bin, "pg_ctl", self.as_postgres)
            .arg("-D")
            .arg(data)
            .arg("-o")
            .arg(options)
            .arg("-l")
            .arg(self.root.join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// A shell that waits for this process to end, then stops the server (immediately) and
    /// removes its directory: the cleanup when `Drop` never runs.
    fn spawn_watchdog(&self, data: &Path) -> Child {
        let pg_ctl = self.bin.join("pg_ctl");
        let stop = if self.as_postgres {
            format!(
                "runuser -u postgres -- {} -D {} -m immediate stop",
                pg_ctl.display(),
                data.display()
            )
        } else {
            format!(
                "{} -D {} -m immediate stop",
                pg_ctl.display(),
                data.display()
            )
        };
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {stop} >/dev/null 2>&1; rm -rf {root}",
            pid = std::process::id(),
            root = self.root.display()
        );
        Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the PostgreSQL watchdog shell")
    }

    /// Creates a fresh, empty database and returns its URL (password included).
    pub fn database(&self) -> String {
        let name = format!(
            "t{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        let out = command(&self.bin, "createdb", self.as_postgres)
            .arg("-h")
            .arg(&self.root)
            .args(["-p", &self.port.to_string(), "-U", Self::USER, &name])
            .output()
            .expect("running createdb");
        assert!(
            out.status.success(),
            "createdb {name} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(&name)
    }

    /// Stops the server with a fast shutdown (every client connection is cut), waits `down`,
    /// and starts it again on the same port and data: what a gateway sees when its database
    /// restarts. Panics with the server's log if it does not come back.
    pub fn restart(&self, down: std::time::Duration) {
        let data = self.root.join("data");
        let stopped = command(&self.bin, "pg_ctl", self.as_postgres)
            .arg("-D")
            .arg(&data)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(stopped, "pg_ctl stop failed");
        std::thread::sleep(down);
        if !self.try_start(&data, self.port) {
            let log = std::fs::read_to_string(self.root.join("server.log")).unwrap_or_default();
            panic!(
                "PostgreSQL did not restart on port {}; its log:\n{log}",
                self.port
            );
        }
    }

    /// `psql` of this server's installation for database URL `url` (no `.psqlrc`, stop on the
    /// first error, quiet), for a test that holds locks or inspects rows from a session of
    /// its own.
    pub fn psql(&self, url: &str) -> Command {
        let mut c = Command::new(self.bin.join("psql"));
        c.args(["-X", "-q", "-v", "ON_ERROR_STOP=1"]).arg(url);
        c
    }

    /// The URL of database `name` on this server, password included.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{name}",
            Self::USER,
            Self::PASSWORD,
            self.port
        )
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        let _ = command(&self.bin, "pg_ctl", self.as_postgres)
            .arg("-D")
            .arg(self.root.join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Some(mut w) = self.watchdog.take() {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// `DITTOFS_TEST_PG_PORTS` as `(low, high)`, or [`DEFAULT_PORTS`].
fn port_range() -> (u16, u16) {
    let Ok(spec) = std::env::var("DITTOFS_TEST_PG_PORTS") else {
        return DEFAULT_PORTS;
    };
    let parsed = spec
        .split_once('-')
        .and_then(|(a, b)| Some((a.trim().parse().ok()?, b.trim().parse().ok()?)))
        .filter(|(a, b): &(u16, u16)| a <= b && *a > 0);
    parsed.unwrap_or_else(|| {
        panic!("DITTOFS_TEST_PG_PORTS={spec:?} is not a port range LOW-HIGH such as 25400-25499")
    })
}

/// The directory with `initdb` and `pg_ctl`.
fn find_bin() -> PathBuf {
    if let Ok(dir) = std::env::var("DITTOFS_TEST_PG_BIN") {
        let dir = PathBuf::from(dir);
        assert!(
            dir.join("initdb").is_file() && dir.join("pg_ctl").is_file(),
            "DITTOFS_TEST_PG_BIN={} holds no initdb and pg_ctl",
            dir.display()
        );
        return dir;
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            (bin.join("initdb").is_file() && bin.join("pg_ctl").is_file()).then_some((version, bin))
        })
        .collect();
    found.sort();
    match found.pop() {
        Some((_, bin)) => bin,
        None => panic!(
            "the PostgreSQL tests start their own server and need initdb and pg_ctl from \
             /usr/lib/postgresql/<version>/bin: install them with `apt-get install postgresql` \
             (ci/setup.sh does), or point DITTOFS_TEST_PG_BIN at their directory"
        ),
    }
}

/// Whether this process runs as root, where initdb refuses to run.
fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Hands `dir` to the `postgres` user.
fn chown_postgres(dir: &Path) {
    let status = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status()
        .expect("running chown");
    assert!(
        status.success(),
        "chown postgres {} failed: running as root, the tests start PostgreSQL as the \
         `postgres` user, which `apt-get install postgresql` creates",
        dir.display()
    );
}

/// A command running `bin/tool`, as the `postgres` user when `as_postgres`.
fn command(bin: &Path, tool: &str, as_postgres: bool) -> Command {
    let path = bin.join(tool);
    let mut c = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(path);
        c
    } else {
        Command::new(path)
    };
    // The `postgres` user may not be allowed into the test's working directory.
    c.current_dir("/");
    c
}
