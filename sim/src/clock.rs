//! The time half of the seam: a [`Clock`] that reads turmoil's simulated time, so timers,
//! DRC ages and file timestamps depend only on the seed.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use actors::runtime::Clock;

/// The wall-clock time a simulation starts at: 2026-01-01T00:00:00Z. Fixed, so the mtimes in
/// a trace never depend on the day the test runs.
pub fn sim_epoch() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_767_225_600)
}

/// Simulated time. `now()` is tokio's clock, which turmoil pauses and advances per host;
/// `wall()` is a fixed epoch plus the simulation's elapsed time. Both may only be read from
/// inside a turmoil host or client.
#[derive(Debug, Clone, Copy)]
pub struct SimClock {
    epoch: SystemTime,
}

impl SimClock {
    /// A clock whose `wall()` reads `epoch` when the simulation starts.
    pub const fn new(epoch: SystemTime) -> Self {
        Self { epoch }
    }
}

impl Default for SimClock {
    fn default() -> Self {
        Self::new(sim_epoch())
    }
}

impl Clock for SimClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "inside turmoil, tokio's clock is the host's simulated clock"
    )]
    fn now(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }

    fn wall(&self) -> SystemTime {
        let elapsed = turmoil::sim_elapsed()
            .expect("SimClock is only read by software running inside a turmoil simulation");
        self.epoch + elapsed
    }
}
