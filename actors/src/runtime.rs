//! The simulation seam. Time, randomness and the network reach the server only through [`Env`]
//! and the [`Listener`] trait, so the same `serve()` runs on real sockets and inside turmoil.
//!
//! - [`Clock`]: `now()` for timers and timeouts (tokio time, virtual under turmoil) and `wall()`
//!   for timestamps users see (mtime, FILETIME).
//! - [`Env::rng`]: a deterministic RNG per stable label, forked from one root seed.
//! - [`Listener`]: accepts connections; implemented for `tokio::net::TcpListener` here and for
//!   turmoil's listener in the `sim` crate.
//! - [`buggify!`](crate::buggify!): fault injection points, compiled to `false` outside the simulator.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use stores::Timestamp;
use tokio::io::{AsyncRead, AsyncWrite};

/// A source of time.
pub trait Clock: Send + Sync + 'static {
    /// Monotonic time for timers and deadlines.
    fn now(&self) -> tokio::time::Instant;
    /// Wall-clock time for timestamps stored in files.
    fn wall(&self) -> SystemTime;
}

/// The production clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealClock;

impl Clock for RealClock {
    #[expect(
        clippy::disallowed_methods,
        reason = "the real clock is where ambient time enters"
    )]
    fn now(&self) -> tokio::time::Instant {
        tokio::time::Instant::now()
    }

    #[expect(
        clippy::disallowed_methods,
        reason = "the real clock is where ambient time enters"
    )]
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// Everything ambient the server may use: a clock and a root seed. Cheap to clone.
#[derive(Clone)]
pub struct Env {
    clock: Arc<dyn Clock>,
    seed: u64,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("seed", &format_args!("{:#x}", self.seed))
            .finish()
    }
}

impl Env {
    /// An environment with the given clock and root seed (the simulator's constructor).
    pub fn new(clock: Arc<dyn Clock>, seed: u64) -> Self {
        Self { clock, seed }
    }

    /// The production environment: the real clock and a seed from the operating system.
    #[expect(
        clippy::disallowed_methods,
        reason = "the production root seed is the one ambient random value"
    )]
    pub fn real() -> Self {
        let seed = rand::random::<u64>();
        Self::new(Arc::new(RealClock), seed)
    }

    /// The root seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Monotonic now.
    pub fn now(&self) -> tokio::time::Instant {
        self.clock.now()
    }

    /// Wall-clock now as a store timestamp.
    pub fn wall(&self) -> Timestamp {
        to_timestamp(self.clock.wall())
    }

    /// A deterministic RNG for the component named `label`: the same seed and label always give
    /// the same stream, independent of creation order (`rng("share:/export")`).
    pub fn rng(&self, label: &str) -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(self.seed ^ fnv1a64(label.as_bytes()))
    }
}

/// Converts a wall-clock time to a store timestamp (times before 1970 become negative).
pub fn to_timestamp(t: SystemTime) -> Timestamp {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => Timestamp {
            secs: d.as_secs() as i64,
            nanos: d.subsec_nanos(),
        },
        Err(e) => {
            let d = e.duration();
            let mut secs = -(d.as_secs() as i64);
            let mut nanos = d.subsec_nanos();
            if nanos > 0 {
                secs -= 1;
                nanos = 1_000_000_000 - nanos;
            }
            Timestamp { secs, nanos }
        }
    }
}

/// Converts a store timestamp back to wall-clock time.
pub fn from_timestamp(t: Timestamp) -> SystemTime {
    if t.secs >= 0 {
        UNIX_EPOCH + Duration::new(t.secs as u64, t.nanos)
    } else {
        UNIX_EPOCH - Duration::from_secs(t.secs.unsigned_abs())
            + Duration::from_nanos(u64::from(t.nanos))
    }
}

/// FNV-1a, 64 bit: a stable (across runs and platforms) hash for labels and share ids. Not a
/// security primitive.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Accepts connections. The server is generic over this so turmoil can supply simulated ones.
pub trait Listener: Send + 'static {
    /// A connected byte stream.
    type Conn: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Waits for the next connection.
    fn accept(&mut self) -> impl Future<Output = io::Result<(Self::Conn, SocketAddr)>> + Send;

    /// The address this listener is bound to.
    fn local_addr(&self) -> io::Result<SocketAddr>;
}

impl Listener for tokio::net::TcpListener {
    type Conn = tokio::net::TcpStream;

    async fn accept(&mut self) -> io::Result<(Self::Conn, SocketAddr)> {
        let (s, a) = Self::accept(self).await?;
        // Replies are written as whole records; Nagle would only add latency to small replies.
        s.set_nodelay(true)?;
        Ok((s, a))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Self::local_addr(self)
    }
}

/// A fault-injection point, named by a string literal (`buggify!("reply-dropped")`): `false`
/// in production builds; in the simulator (feature `sim`) each site is enabled for a quarter of
/// the seeds and then fires 5% of the times it is reached. Each call site says what it
/// imitates; docs/SIMULATION.md lists them.
#[macro_export]
macro_rules! buggify {
    ($site:literal) => {{
        #[cfg(feature = "sim")]
        {
            $crate::runtime::buggify::fire($site)
        }
        #[cfg(not(feature = "sim"))]
        {
            false
        }
    }};
}

/// The simulator's buggify state: a per-thread seeded decision table (each simulated host runs
/// on its own thread-local state, seeded by the harness before the run).
#[cfg(feature = "sim")]
pub mod buggify {
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    thread_local! {
        static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
    }

    /// How often an enabled site fires when reached: rare enough that a run still makes
    /// progress (a dropped reply costs the client a retransmission timeout), often enough that
    /// the hot sites fire many times per run.
    const FIRE_PROBABILITY: f64 = 0.05;

    /// The decisions of one run: the seeded stream, and per site whether it is enabled and how
    /// often it fired.
    struct State {
        rng: ChaCha8Rng,
        sites: BTreeMap<&'static str, (bool, u64)>,
        all: bool,
        quiet: bool,
    }

    /// Enables buggify for this thread with `seed`; `None` disables it.
    pub fn set_seed(seed: Option<u64>) {
        STATE.with(|s| {
            *s.borrow_mut() = seed.map(|seed| State {
                rng: ChaCha8Rng::seed_from_u64(seed),
                sites: BTreeMap::new(),
                all: false,
                quiet: false,
            });
        });
    }

    /// Enables buggify with `seed` and every site switched on (each still fires 5% of the
    /// time): for tests that must reach every site.
    pub fn set_seed_all(seed: u64) {
        STATE.with(|s| {
            *s.borrow_mut() = Some(State {
                rng: ChaCha8Rng::seed_from_u64(seed),
                sites: BTreeMap::new(),
                all: true,
                quiet: false,
            });
        });
    }

    /// Stops every site firing for the rest of the run (the liveness phase) but keeps the
    /// record for [`report`].
    pub fn quiet() {
        STATE.with(|s| {
            if let Some(st) = s.borrow_mut().as_mut() {
                st.quiet = true;
            }
        });
    }

    /// Every site reached so far in this run: its name, whether it was enabled, and
    /// how many times it fired.
    pub fn report() -> Vec<(&'static str, bool, u64)> {
        STATE.with(|s| {
            s.borrow().as_ref().map_or_else(Vec::new, |st| {
                st.sites.iter().map(|(k, (e, n))| (*k, *e, *n)).collect()
            })
        })
    }

    /// Whether the call site `site` fires now.
    pub fn fire(site: &'static str) -> bool {
        STATE.with(|s| {
            let mut s = s.borrow_mut();
            let Some(st) = s.as_mut().filter(|st| !st.quiet) else {
                return false;
            };
            let entry = match st.sites.get_mut(site) {
                Some(e) => e,
                None => {
                    let enabled = st.all || st.rng.random_bool(0.25);
                    st.sites.entry(site).or_insert((enabled, 0))
                }
            };
            let fired = entry.0 && st.rng.random_bool(FIRE_PROBABILITY);
            if fired {
                entry.1 += 1;
            }
            fired
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: RNG forks are stable per label and differ between labels.
    #[test]
    fn rng_forks_are_stable() {
        use rand::Rng;
        let env = Env::new(Arc::new(RealClock), 42);
        let a: u64 = env.rng("share:/export").random();
        let b: u64 = env.rng("share:/export").random();
        let c: u64 = env.rng("share:/other").random();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    /// Goal: a buggify site never fires unless a seed switched buggify on for this thread, and
    /// with every site switched on it fires some of the time, deterministically per seed.
    #[test]
    fn buggify_fires_only_when_seeded() {
        assert!(!(0..1000).any(|_| crate::buggify!("test-site")));
        #[cfg(feature = "sim")]
        {
            let run = |seed| {
                buggify::set_seed_all(seed);
                let v: Vec<bool> = (0..1000).map(|_| crate::buggify!("test-site")).collect();
                let report = buggify::report();
                buggify::set_seed(None);
                (v, report)
            };
            let (a, report) = run(7);
            assert_eq!(a, run(7).0, "same seed, same decisions");
            let fired = a.iter().filter(|&&f| f).count();
            assert!((10..150).contains(&fired), "{fired} of 1000 at 5%");
            assert_eq!(report, vec![("test-site", true, fired as u64)]);
            assert!(!crate::buggify!("test-site"), "off again");
        }
    }

    /// Goal: timestamps round-trip through SystemTime, including before 1970.
    #[test]
    fn timestamp_round_trip() {
        for t in [
            Timestamp { secs: 0, nanos: 0 },
            Timestamp {
                secs: 1_700_000_000,
                nanos: 123_456_789,
            },
            Timestamp {
                secs: -5,
                nanos: 250_000_000,
            },
        ] {
            assert_eq!(to_timestamp(from_timestamp(t)), t);
        }
    }
}
