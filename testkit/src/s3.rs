//! A real S3 server for tests: moto's server mode (PyPI `moto[server]`, pinned and installed
//! by `ci/setup.sh`), in memory, on a free loopback port, killed when dropped.
//!
//! moto answers like AWS (404 on `If-Match` of a missing key, `NoSuchBucket`, create-only
//! PUTs that race correctly); it accepts any credentials.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::daemon::free_port;

/// The moto version `ci/setup.sh` installs.
pub const MOTO_VERSION: &str = "5.2.5";

/// A running moto server. Killed on drop.
#[derive(Debug)]
pub struct Moto {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl Moto {
    /// Starts `moto_server` on a free loopback port and waits until it answers. Panics, naming
    /// the fix, if it is not installed or does not come up within 30 seconds.
    pub fn start() -> Self {
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let child = match child {
                Ok(c) => c,
                Err(e) => panic!(
                    "cannot run moto_server ({e}): install it with ci/setup.sh \
                     (pip install 'moto[server]=={MOTO_VERSION}')"
                ),
            };
            let mut moto = Self { child, port };
            match moto.wait_ready(Duration::from_secs(30)) {
                Ok(()) => return moto,
                Err(e) => last = e,
            }
        }
        panic!(
            "moto_server did not start: {last}; check `moto_server -H 127.0.0.1 -p 5000` by hand"
        );
    }

    /// The endpoint URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&mut self, limit: Duration) -> Result<(), String> {
        #[expect(
            clippy::disallowed_methods,
            reason = "waits for a real process in real time"
        )]
        let start = Instant::now();
        while start.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "it exited with {status} (port {} taken?)",
                    self.port
                ));
            }
            if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
                let req = "GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
                let mut answer = [0u8; 12];
                if s.write_all(req.as_bytes()).is_ok()
                    && s.read_exact(&mut answer).is_ok()
                    && answer.starts_with(b"HTTP/1.")
                {
                    return Ok(());
                }
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        Err(format!("no answer on port {} within {limit:?}", self.port))
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
