//! The conformance suite: every rule of the [`MetadataStore`] and [`ContentStore`] contracts
//! as a named check, run against any backend.
//!
//! Entry points, called from each backend's `tests/`:
//! - [`metadata_suite`] runs every metadata check against one store,
//! - [`content_suite`] runs every content check against one store,
//! - [`run_all`] runs both,
//! - [`metadata_concurrency`] and [`content_concurrency`] race callers on one directory or one
//!   file and check the invariants afterwards (they need a multi-threaded runtime),
//! - [`version_race`] races compare-and-swaps of one file's content version through one or
//!   several handles of a store (gateways sharing it).
//!
//! Each check panics with a message naming what it expected on the first violation; the name of
//! the failing check is printed to stderr as the panic unwinds. The suite may run many times
//! against the same store (a persistent backend reopened between runs): metadata checks work in
//! a fresh directory `run-N` of the share `conformance`, content checks remove their keys first.

use crate::api::{ContentStore, Device, FileKind, MetadataStore, NewNode, StoreResult, Timestamp};

pub use content::{content_adopt_after_restart, content_suite};
pub use metadata::metadata_suite;

/// Runs each named check in order, naming it on stderr if it panics.
macro_rules! checks {
    ($cx:expr; $($check:ident),+ $(,)?) => {
        $(
            {
                let _guard = CheckGuard(stringify!($check));
                $check($cx).await;
            }
        )+
    };
}

/// Fails unless `$e` is `Err` matching `$p`.
macro_rules! assert_err {
    ($e:expr, $p:pat, $($what:tt)+) => {
        match $e {
            Err($p) => {}
            other => panic!(
                "{}: expected Err({}), got {:?}",
                format_args!($($what)+),
                stringify!($p),
                other
            ),
        }
    };
}

// The check modules come after the macros so they can use them.
mod concurrency;
mod content;
mod metadata;

pub use concurrency::{content_concurrency, metadata_concurrency, version_race};

/// Runs [`metadata_suite`] on `meta`, then [`content_suite`] on `content`.
pub async fn run_all<M: MetadataStore, C: ContentStore>(meta: &M, content: &C) {
    metadata_suite(meta).await;
    content_suite(content).await;
}

/// Prints the check's name if it is dropped while panicking.
struct CheckGuard(&'static str);

impl Drop for CheckGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("conformance check `{}` failed", self.0);
        }
    }
}

/// Unwraps `r`, panicking with `what` and the error.
fn ok<T>(r: StoreResult<T>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: unexpected error {e:?}"),
    }
}

/// A timestamp with nanoseconds, so lost precision shows.
fn t(n: i64) -> Timestamp {
    Timestamp {
        secs: 1_700_000_000 + n,
        nanos: 123_456_789,
    }
}

fn node(kind: FileKind, now: i64) -> NewNode {
    NewNode {
        kind,
        mode: match kind {
            FileKind::Directory => 0o755,
            FileKind::Symlink => 0o777,
            _ => 0o644,
        },
        uid: 1000,
        gid: 100,
        rdev: Device::default(),
        symlink_target: Vec::new(),
        now: t(now),
    }
}

fn file(now: i64) -> NewNode {
    node(FileKind::Regular, now)
}

fn dir(now: i64) -> NewNode {
    node(FileKind::Directory, now)
}

fn symlink(target: &[u8], now: i64) -> NewNode {
    NewNode {
        symlink_target: target.to_vec(),
        ..node(FileKind::Symlink, now)
    }
}
