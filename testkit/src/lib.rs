//! Test support shared by the end-to-end tests (`actors/tests`, `tests/tests`) and the
//! comparative benchmark's load generator (`benches/src/bin/nfsbench.rs`), so each helper is
//! written once:
//!
//! - [`nfs`]: NFSv3 calls through the `nfs3_client` crate (an NFSv3 client nobody here wrote):
//!   mount, CREATE, WRITE, COMMIT, GETATTR, READ of a whole file, argument builders and seeded
//!   data.
//! - [`daemon`]: the real `dittofs` binary on RocksDB + filesystem content in a temporary
//!   directory, on a free loopback port.
//! - [`vm`]: the kernel-client test VM (`ci/vm/run.sh`).
//! - [`gateway`]: several `dittofs` processes on one PostgreSQL database and one content
//!   store (a shared directory or an S3 bucket).
//! - [`postgres`]: a throwaway PostgreSQL server (initdb + pg_ctl on a free loopback port).
//! - [`s3`]: a real S3 server (moto) on a free loopback port, for the S3 content store's tests.
//! - [`script`]: a client script (the smbprotocol ones) driven step by step over its stdio.
//!
//! It does not depend on `actors`, so `actors`' own integration tests can depend on it.

pub mod daemon;
pub mod gateway;
pub mod nfs;
pub mod postgres;
pub mod s3;
pub mod script;
pub mod vm;

pub use daemon::Daemon;
