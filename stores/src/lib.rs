//! Storage for DittoFS: the [`MetadataStore`] and [`ContentStore`] traits with their written
//! contracts, [`StoreError`], one conformance suite, and the backends.
//!
//! This crate knows nothing of NFS or SMB: no status codes, no handle bytes. It does no
//! networking of its own beyond what a backend's client library does.
//!
//! Layout:
//! - [`api`]: traits, domain types, errors.
//! - [`memory`]: in-memory metadata and content stores that model the weakest durability of any
//!   real backend (`crash()` forgets what was not synced); they back the simulator.
//! - [`rules`]: the namespace rules every metadata backend applies (new inode attributes,
//!   setattr, link counts, removal and rename checks), written once.
//! - [`errno`]: the one table mapping errnos to [`StoreError`].
//! - [`forward`]: macros that implement the store traits for wrappers (enums of backends,
//!   fault injectors) by forwarding, so a new trait method is forwarded in one place.
//! - [`fs`]: content on the local filesystem, one file per inode, named by content key.
//! - `rocksdb` (feature `rocksdb`): the embedded persistent metadata store, the default.
//! - `postgres` (feature `postgres`): the shared persistent metadata store on PostgreSQL, for
//!   several gateways on one database.
//! - [`redact`]: hides passwords in connection URLs for logs and printed configurations.
//! - `s3` (feature `s3`): content in an S3 bucket, in immutable blocks and versioned manifests.
//! - `conformance` (feature `conformance`): the suite every backend's tests run.

pub mod api;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod errno;
pub mod forward;
pub mod fs;
pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod redact;
#[cfg(feature = "rocksdb")]
pub mod rocksdb;
pub mod rules;
#[cfg(feature = "s3")]
pub mod s3;

pub use api::*;
/// Re-exported for the forwarding macros, whose expansions name [`bytes::Bytes`].
pub use bytes;
