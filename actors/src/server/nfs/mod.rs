//! The NFSv3 front end and the ONC RPC programs around it, on the NFS port: record marking
//! and the per-connection actor, the dispatcher (RPC header, credentials, export rules, the
//! duplicate request cache), MOUNT v3, the portmapper and the NFSv3 procedures. It decodes and
//! encodes XDR, turns file handles into share nodes and calls the neutral share core through
//! `crate::server::share::ShareHandle`s; the share core knows nothing of NFS.
//!
//! - `connection`: the per-connection actor (framing, in-flight window, reply writer).
//! - `dispatch`: RPC header handling, the duplicate request cache, routing to programs.
//! - `mount` and `portmap`: the MOUNT v3 and portmapper v2 programs.
//! - [`nlm`] and `nsm`: the lock manager (NLM v4) and status monitor (NSM v1), with the
//!   outgoing calls they make to clients.
//! - `nfs3`: the NFSv3 procedures.
//! - [`export`]: squash, allowed clients and privileged ports.
//! - [`filehandle`]: file handle encoding with a keyed MAC.
//! - `errors`: share and store errors to NFSv3 statuses, `attrs`: attribute conversions.
//! - `rpc`: program numbers, the connection's identity, reply bodies.
//!
//! Dependency order (no loops): connection → dispatch → {mount, portmap, nfs3, nlm → nsm} → {export,
//! filehandle, errors, attrs, rpc} → share.

mod attrs;
pub(crate) mod connection;
pub(crate) mod dispatch;
mod errors;
pub mod export;
pub mod filehandle;
mod mount;
mod nfs3;
pub mod nlm;
mod nsm;
mod portmap;
pub(crate) mod rpc;
