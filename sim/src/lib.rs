//! Deterministic simulation of the DittoFS server.
//!
//! The production [`actors::server::serve`] runs unchanged on a turmoil host: its network is
//! turmoil's simulated TCP ([`SimListener`]), its clock is turmoil's virtual time
//! ([`SimClock`]), its randomness comes from the seed in its [`actors::runtime::Env`], and its
//! stores are the memory stores. Simulated clients ([`client::SimClient`]) speak NFSv3 through
//! the project's own `protocol` codecs and record a [`client::Trace`] of every message, so two
//! runs of one seed can be compared byte for byte.
//!
//! - [`seam`]: the first scenario, which proves the seam: MOUNT, CREATE, WRITE UNSTABLE,
//!   COMMIT, READ and READDIRPLUS against a simulated server, twice per seed.

pub mod client;
pub mod seam;

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actors::runtime::{Clock, Listener};

/// turmoil's simulated TCP listener as the server's [`Listener`].
pub struct SimListener(pub turmoil::net::TcpListener);

impl fmt::Debug for SimListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SimListener")
            .field(&self.0.local_addr().ok())
            .finish()
    }
}

impl Listener for SimListener {
    type Conn = turmoil::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Conn, SocketAddr)> {
        self.0.accept().await
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// The simulator's clock: tokio's time, which turmoil pauses and advances itself, and a wall
/// clock that starts at a fixed instant and moves with simulated time.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    /// Wall-clock time at the start of the simulation.
    pub epoch: SystemTime,
}

impl SimClock {
    /// 2026-01-01T00:00:00Z: a fixed start, so timestamps in traces are the same every run.
    pub const EPOCH_SECS: u64 = 1_767_225_600;
}

impl Default for SimClock {
    fn default() -> Self {
        Self {
            epoch: UNIX_EPOCH + Duration::from_secs(Self::EPOCH_SECS),
        }
    }
}

impl Clock for SimClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "tokio's clock is virtual on a turmoil host (a paused runtime turmoil advances)"
    )]
    fn now(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }

    fn wall(&self) -> SystemTime {
        self.epoch + turmoil::sim_elapsed().unwrap_or_default()
    }
}
