//! Prometheus metrics, through the `metrics` facade: the server records them wherever it is
//! (a no-op while no recorder is installed, as in the simulator and the in-process tests);
//! `dittofs start` with `server.http` installs the Prometheus recorder ([`install`]) and
//! serves its rendering at `/metrics` (module `http`).
//!
//! Names follow Prometheus practice: a `dittofs_` prefix, base units, `_total` counters,
//! `_seconds` histograms. Labels have bounded values: protocol (`nfs`, `smb`), procedure or
//! command (the spec's names), status (the spec's names, or `unknown`).
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `dittofs_build_info` | gauge (1) | `version` |
//! | `dittofs_requests_total` | counter | `protocol`, `procedure`, `status` |
//! | `dittofs_request_duration_seconds` | histogram | `protocol`, `procedure` |
//! | `dittofs_connections` | gauge | `protocol` |
//! | `dittofs_connections_accepted_total` | counter | `protocol` |
//! | `dittofs_read_bytes_total` | counter | `share` |
//! | `dittofs_written_bytes_total` | counter | `share` |
//! | `dittofs_store_operations_total` | counter | `store` (`metadata`, `content`), `backend`, `operation`, `result` |
//! | `dittofs_store_operation_duration_seconds` | histogram | `store`, `backend`, `operation` |

use std::time::Duration;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

/// Requests answered.
pub const REQUESTS: &str = "dittofs_requests_total";
/// How long requests took, from decoding to the answer.
pub const REQUEST_SECONDS: &str = "dittofs_request_duration_seconds";
/// Open client connections.
pub const CONNECTIONS: &str = "dittofs_connections";
/// Client connections accepted.
pub const CONNECTIONS_ACCEPTED: &str = "dittofs_connections_accepted_total";
/// Bytes read from files through a share (either protocol).
pub const READ_BYTES: &str = "dittofs_read_bytes_total";
/// Bytes written to files through a share (either protocol), as accepted.
pub const WRITTEN_BYTES: &str = "dittofs_written_bytes_total";
/// Store calls made, by store kind, backend, operation and result (`ok`, or the error's kind:
/// `not_found` and the like are answers, `io_error`, `backend_error` and `busy` failures).
pub const STORE_OPERATIONS: &str = "dittofs_store_operations_total";
/// How long store calls took.
pub const STORE_SECONDS: &str = "dittofs_store_operation_duration_seconds";
/// The build: `version` label, value 1.
pub const BUILD_INFO: &str = "dittofs_build_info";

/// Request latency buckets, in seconds: 50 µs to 10 s.
const LATENCY_BUCKETS: [f64; 16] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 10.0,
];

/// How often the recorder folds recorded histogram samples into its buckets (what keeps its
/// memory bounded between scrapes).
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder for this process and describes every metric; the handle
/// renders the exposition. Call once; [`upkeep`] must then run.
pub fn install() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&LATENCY_BUCKETS)
        .map_err(|e| anyhow::anyhow!("metrics buckets: {e}"))?
        .install_recorder()
        .map_err(|e| anyhow::anyhow!("installing the metrics recorder: {e}"))?;
    describe_counter!(
        REQUESTS,
        Unit::Count,
        "Requests answered, by protocol, procedure (NFS) or command (SMB) and status."
    );
    describe_histogram!(
        REQUEST_SECONDS,
        Unit::Seconds,
        "How long requests took, by protocol and procedure or command."
    );
    describe_gauge!(
        CONNECTIONS,
        Unit::Count,
        "Open client connections, by protocol."
    );
    describe_counter!(
        CONNECTIONS_ACCEPTED,
        Unit::Count,
        "Client connections accepted, by protocol."
    );
    describe_counter!(
        STORE_OPERATIONS,
        Unit::Count,
        "Store calls, by store kind, backend, operation and result (ok or the error's kind)."
    );
    describe_histogram!(
        STORE_SECONDS,
        Unit::Seconds,
        "How long store calls took, by store kind, backend and operation."
    );
    describe_counter!(READ_BYTES, Unit::Bytes, "Bytes read from files, by share.");
    describe_counter!(
        WRITTEN_BYTES,
        Unit::Bytes,
        "Bytes written to files, by share."
    );
    describe_gauge!(
        BUILD_INFO,
        "The running build (its version label); always 1."
    );
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    // Every series exists from the start, so a scrape before the first client shows zeros
    // rather than nothing.
    for protocol in ["nfs", "smb"] {
        gauge!(CONNECTIONS, "protocol" => protocol).set(0.0);
        counter!(CONNECTIONS_ACCEPTED, "protocol" => protocol).absolute(0);
    }
    Ok(handle)
}

/// Runs the recorder's upkeep every [`UPKEEP_EVERY`] until the task is dropped or aborted.
pub async fn upkeep(handle: PrometheusHandle) {
    loop {
        tokio::time::sleep(UPKEEP_EVERY).await;
        handle.run_upkeep();
    }
}

/// One request answered: `protocol` (`nfs`, `smb`), its procedure or command, its status,
/// and how long it took.
pub fn request(
    protocol: &'static str,
    procedure: &'static str,
    status: &'static str,
    took: Duration,
) {
    counter!(REQUESTS, "protocol" => protocol, "procedure" => procedure, "status" => status)
        .increment(1);
    metrics::histogram!(REQUEST_SECONDS, "protocol" => protocol, "procedure" => procedure)
        .record(took.as_secs_f64());
}

/// A connection of `protocol` was accepted; the guard counts it open until dropped.
pub fn connection(protocol: &'static str) -> OpenConnection {
    counter!(CONNECTIONS_ACCEPTED, "protocol" => protocol).increment(1);
    gauge!(CONNECTIONS, "protocol" => protocol).increment(1.0);
    OpenConnection { protocol }
}

/// An open connection, counted in [`CONNECTIONS`] until dropped.
#[derive(Debug)]
pub struct OpenConnection {
    protocol: &'static str,
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        gauge!(CONNECTIONS, "protocol" => self.protocol).decrement(1.0);
    }
}

/// Real time now, for timing the daemon's store calls (only the binary's `AnyMetadata` and
/// `AnyContent` use it; the simulator's stores never run through them).
pub fn real_now() -> tokio::time::Instant {
    #[expect(
        clippy::disallowed_methods,
        reason = "the daemon's stores run in real time; the simulator never reaches them"
    )]
    tokio::time::Instant::now()
}

/// One store call answered: `store` (`metadata`, `content`), its backend, the operation, how
/// it ended and how long it took.
pub fn store_call<T>(
    store: &'static str,
    backend: &'static str,
    operation: &'static str,
    result: &stores::StoreResult<T>,
    took: Duration,
) {
    counter!(
        STORE_OPERATIONS,
        "store" => store,
        "backend" => backend,
        "operation" => operation,
        "result" => result_label(result),
    )
    .increment(1);
    metrics::histogram!(
        STORE_SECONDS,
        "store" => store,
        "backend" => backend,
        "operation" => operation,
    )
    .record(took.as_secs_f64());
}

/// A store call's result as a label value.
fn result_label<T>(result: &stores::StoreResult<T>) -> &'static str {
    use stores::StoreError as E;
    match result {
        Ok(_) => "ok",
        Err(e) => match e {
            E::NotFound => "not_found",
            E::Exists => "exists",
            E::NotEmpty => "not_empty",
            E::NotDir => "not_dir",
            E::IsDir => "is_dir",
            E::Stale => "stale",
            E::NameTooLong => "name_too_long",
            E::NoSpace => "no_space",
            E::ReadOnly => "read_only",
            E::FileTooLarge => "file_too_large",
            E::Invalid(_) => "invalid",
            E::XattrTooLarge => "xattr_too_large",
            E::Busy => "busy",
            E::Io(_) => "io_error",
            E::Backend(_) => "backend_error",
        },
    }
}

/// A share's byte counters, registered once when the share opens (labelled by its name, which
/// the configuration bounds).
#[derive(Debug)]
pub struct ShareBytes {
    /// [`READ_BYTES`] of the share.
    pub read: metrics::Counter,
    /// [`WRITTEN_BYTES`] of the share.
    pub written: metrics::Counter,
}

impl ShareBytes {
    /// The counters of share `name` (no-ops where no recorder is installed).
    pub fn new(name: &str) -> Self {
        Self {
            read: counter!(READ_BYTES, "share" => name.to_owned()),
            written: counter!(WRITTEN_BYTES, "share" => name.to_owned()),
        }
    }
}
