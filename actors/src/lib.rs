//! The DittoFS server: the runtime seam, the actors that serve NFSv3 (MOUNT v3 and the
//! portmapper alongside), the configuration and the command line.
//!
//! Server code is generic over [`stores::MetadataStore`] and [`stores::ContentStore`] and never
//! names a backend; only [`daemon`] (the binary's wiring) picks backends from the configuration.
//! Time, randomness and sockets come in through [`runtime`], so the simulator runs the same
//! [`server::serve`].
//!
//! Layout:
//! - [`runtime`]: `Env` (clock, seeded RNG), the `Listener` seam, `buggify!`.
//! - [`server`]: `serve()`, connections, dispatch, shares, the write-back cache, front ends.
//! - [`config`]: the YAML configuration and its validation.
//! - [`identity`]: users, groups and share permissions, shared by every protocol.
//! - [`cli`]: the `dittofs` command line.
//! - [`daemon`]: stores, listeners and signals for `dittofs start`.
//! - [`http`]: the operations endpoint (`/health`, `/ready`, `/metrics`) `dittofs start`
//!   serves when `server.http` is set; [`telemetry`]: the metrics the server records.

// The crate's documentation is for the people working on it: it links private items freely
// (`cargo doc --document-private-items` renders them).
#![allow(rustdoc::private_intra_doc_links)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod http;
pub mod identity;
pub mod runtime;
pub mod server;
pub mod telemetry;
