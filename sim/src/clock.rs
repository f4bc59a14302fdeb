//! The time half of the seam: a [`Clock`] that reads turmoil's simulated time, so timers,
//! DRC ages and file timestamps depend only on the seed.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
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
///
/// The nemesis can make the wall clock jump (forwards or backwards, as NTP stepping a badly
/// set clock does) through the shared [`ClockJump`]; monotonic time never jumps.
#[derive(Debug, Clone)]
pub struct SimClock {
    epoch: SystemTime,
    jump: ClockJump,
}

impl SimClock {
    /// A clock whose `wall()` reads `epoch` when the simulation starts.
    pub fn new(epoch: SystemTime) -> Self {
        Self {
            epoch,
            jump: ClockJump::default(),
        }
    }

    /// A clock whose wall time is also moved by `jump`.
    pub fn with_jump(epoch: SystemTime, jump: ClockJump) -> Self {
        Self { epoch, jump }
    }
}

/// A shared wall-clock offset in milliseconds, set by the nemesis.
#[derive(Debug, Clone, Default)]
pub struct ClockJump(Arc<AtomicI64>);

impl ClockJump {
    /// Moves the wall clock by `ms` (negative: backwards) from where it is now.
    pub fn jump(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::Relaxed);
    }

    /// The current offset in milliseconds.
    pub fn offset_ms(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
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
        let offset = self.jump.offset_ms();
        let base = self.epoch + elapsed;
        if offset >= 0 {
            base + Duration::from_millis(offset.unsigned_abs())
        } else {
            base - Duration::from_millis(offset.unsigned_abs())
        }
    }
}
