//! ONC RPC pieces every NFS-side program shares: program numbers, the connection's identity
//! and building a reply record body.

use std::net::SocketAddr;

use bytes::Bytes;
use protocol::xdr::Writer;

/// The portmapper (RFC 1833).
pub(crate) const PROG_PORTMAP: u32 = 100_000;
/// NFS (RFC 1813).
pub(crate) const PROG_NFS: u32 = 100_003;
/// MOUNT (RFC 1813 Appendix I).
pub(crate) const PROG_MOUNT: u32 = 100_005;

/// A connection's identity, for logs, the DRC and export checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    /// Server-wide connection number, for logs.
    pub(crate) id: u64,
    /// The client's address.
    pub(crate) peer: SocketAddr,
}

/// Builds a reply record body.
pub(crate) fn reply(f: impl FnOnce(&mut Writer)) -> Bytes {
    let mut w = Writer::with_capacity(128);
    f(&mut w);
    Bytes::from(w.into_inner())
}
