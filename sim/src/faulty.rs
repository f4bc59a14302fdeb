//! [`Faulty<S>`]: any store, with errors, "busy" and latency injected on a plan drawn from the
//! seed. It implements whichever of [`MetadataStore`] and [`ContentStore`] the wrapped store
//! implements, so the server cannot tell it from the real thing.
//!
//! Faults come before the operation (the operation then does not happen) except for content
//! writes and syncs, which may also fail after the work was done, as a disk that wrote the
//! bytes and then reported EIO does. [`Faulty::set_active`] switches injection off for the
//! liveness phase.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use stores::{ContentStore, MetadataStore, StoreError, StoreResult};

/// How often a store misbehaves. Rates are per thousand calls.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultPlan {
    /// Calls failing with an I/O error.
    pub error_per_mille: u32,
    /// Calls failing with "busy" (the server answers NFS3ERR_JUKEBOX).
    pub busy_per_mille: u32,
    /// Calls delayed.
    pub slow_per_mille: u32,
    /// Longest delay, in simulated milliseconds.
    pub latency_max_ms: u64,
}

impl FaultPlan {
    /// No faults.
    pub const NONE: Self = Self {
        error_per_mille: 0,
        busy_per_mille: 0,
        slow_per_mille: 0,
        latency_max_ms: 0,
    };

    /// A plan drawn from `rng` with rates up to the given maxima: each seed gets its own mix.
    pub fn draw(rng: &mut impl Rng, max: &Self) -> Self {
        Self {
            error_per_mille: rng.random_range(0..=max.error_per_mille),
            busy_per_mille: rng.random_range(0..=max.busy_per_mille),
            slow_per_mille: rng.random_range(0..=max.slow_per_mille),
            latency_max_ms: rng.random_range(0..=max.latency_max_ms),
        }
    }
}

/// Counts of what was injected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FaultCounts {
    /// Errors before the operation.
    pub errors: u64,
    /// Errors after a content write or sync had been done.
    pub errors_after: u64,
    /// Busy answers.
    pub busy: u64,
    /// Delayed calls.
    pub slow: u64,
}

impl fmt::Display for FaultCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "errors={} errors_after={} busy={} slow={}",
            self.errors, self.errors_after, self.busy, self.slow
        )
    }
}

/// A store with injected faults.
pub struct Faulty<S> {
    inner: Arc<S>,
    name: &'static str,
    plan: FaultPlan,
    active: AtomicBool,
    rng: Mutex<ChaCha8Rng>,
    errors: AtomicU64,
    errors_after: AtomicU64,
    busy: AtomicU64,
    slow: AtomicU64,
}

impl<S> fmt::Debug for Faulty<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faulty")
            .field("name", &self.name)
            .field("plan", &self.plan)
            .field("counts", &self.counts())
            .finish_non_exhaustive()
    }
}

impl<S> Faulty<S> {
    /// Wraps `inner`; `name` labels the injected errors; `seed` drives the decisions.
    pub fn new(inner: Arc<S>, name: &'static str, plan: FaultPlan, seed: u64) -> Self {
        Self {
            inner,
            name,
            plan,
            active: AtomicBool::new(true),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            errors: AtomicU64::new(0),
            errors_after: AtomicU64::new(0),
            busy: AtomicU64::new(0),
            slow: AtomicU64::new(0),
        }
    }

    /// The wrapped store.
    pub fn inner(&self) -> &Arc<S> {
        &self.inner
    }

    /// The plan in force.
    pub fn plan(&self) -> FaultPlan {
        self.plan
    }

    /// Switches injection on or off.
    pub fn set_active(&self, on: bool) {
        self.active.store(on, Ordering::Relaxed);
    }

    /// What has been injected so far.
    pub fn counts(&self) -> FaultCounts {
        FaultCounts {
            errors: self.errors.load(Ordering::Relaxed),
            errors_after: self.errors_after.load(Ordering::Relaxed),
            busy: self.busy.load(Ordering::Relaxed),
            slow: self.slow.load(Ordering::Relaxed),
        }
    }

    fn roll(&self, per_mille: u32) -> bool {
        per_mille > 0
            && self
                .rng
                .lock()
                .expect("no panics under the fault RNG lock")
                .random_range(0..1000)
                < per_mille
    }

    fn error(&self, op: &'static str, when: &str) -> StoreError {
        StoreError::Io(std::io::Error::other(format!(
            "injected fault: {} {op} {when}",
            self.name
        )))
    }

    /// The faults before an operation: a delay, then perhaps "busy" or an error.
    async fn before(&self, op: &'static str) -> StoreResult<()> {
        if !self.active.load(Ordering::Relaxed) {
            return Ok(());
        }
        if self.roll(self.plan.slow_per_mille) {
            self.slow.fetch_add(1, Ordering::Relaxed);
            let ms = self
                .rng
                .lock()
                .expect("no panics under the fault RNG lock")
                .random_range(0..=self.plan.latency_max_ms);
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        if self.roll(self.plan.busy_per_mille) {
            self.busy.fetch_add(1, Ordering::Relaxed);
            return Err(StoreError::Busy);
        }
        if self.roll(self.plan.error_per_mille) {
            self.errors.fetch_add(1, Ordering::Relaxed);
            return Err(self.error(op, "before"));
        }
        Ok(())
    }

    /// A failure reported after the work was done (content writes and syncs only).
    fn after(&self, op: &'static str) -> StoreResult<()> {
        if self.active.load(Ordering::Relaxed) && self.roll(self.plan.error_per_mille / 2) {
            self.errors_after.fetch_add(1, Ordering::Relaxed);
            return Err(self.error(op, "after doing it"));
        }
        Ok(())
    }
}

/// How one metadata call reaches the wrapped store (see `stores::forward`): the faults come
/// first, except for `id`, `share_root` and the secrets (a share that cannot start is a
/// configuration failure, not a scenario).
macro_rules! faulty_meta {
    ($this:ident, fn $op:ident, $s:ident => $e:expr) => {{
        let $s = &*$this.inner;
        $e
    }};
    ($this:ident, async share_root, $s:ident => $e:expr) => {{
        let $s = &*$this.inner;
        $e
    }};
    // Secrets are read once at start-up, like share roots.
    ($this:ident, async secret, $s:ident => $e:expr) => {{
        let $s = &*$this.inner;
        $e
    }};
    ($this:ident, async init_secret, $s:ident => $e:expr) => {{
        let $s = &*$this.inner;
        $e
    }};
    ($this:ident, async $op:ident, $s:ident => $e:expr) => {{
        $this.before(stringify!($op)).await?;
        let $s = &*$this.inner;
        $e
    }};
}

/// How one content call reaches the wrapped store: the faults come first (not for the
/// synchronous `max_file_size`), and writes and syncs may also fail after the work was done.
macro_rules! faulty_content {
    ($this:ident, fn $op:ident, $s:ident => $e:expr) => {{
        let $s = &*$this.inner;
        $e
    }};
    ($this:ident, async write, $s:ident => $e:expr) => {
        faulty_content!(@after $this, write, $s => $e)
    };
    ($this:ident, async sync, $s:ident => $e:expr) => {
        faulty_content!(@after $this, sync, $s => $e)
    };
    (@after $this:ident, $op:ident, $s:ident => $e:expr) => {{
        $this.before(stringify!($op)).await?;
        let $s = &*$this.inner;
        let done = $e?;
        $this.after(stringify!($op))?;
        Ok(done)
    }};
    ($this:ident, async $op:ident, $s:ident => $e:expr) => {{
        $this.before(stringify!($op)).await?;
        let $s = &*$this.inner;
        $e
    }};
}

stores::forward_metadata_store!(impl[S: MetadataStore] for Faulty<S>, faulty_meta);
stores::forward_content_store!(impl[S: ContentStore] for Faulty<S>, faulty_content);
