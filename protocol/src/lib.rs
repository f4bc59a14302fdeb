//! Sans-IO protocol codecs for DittoFS: XDR (RFC 4506), ONC RPC v2 with TCP record marking
//! (RFC 5531), MOUNT v3 and NFSv3 (RFC 1813), the portmapper v2 (RFC 1833), the NFSv3 lock
//! manager (NLM v4) and status monitor (NSM v1) of X/Open XNFS, and SMB 2.0.2 – 3.1.1
//! ([MS-SMB2]) with NTLMSSP and SPNEGO.
//!
//! This crate never does I/O, never reads a clock and never depends on tokio: every function
//! takes bytes (and, for session state, the current time) and returns values. Decoders check
//! every length against [`wire::limits`] before allocating and never panic on peer input; that
//! is what the fuzz targets in `fuzz/` check through its `fuzzing` module (feature `fuzzing`).
//!
//! Layout:
//! - [`wire`]: [`wire::DecodeError`], the [`wire::Decode`] / [`wire::Encode`] traits, limits.
//! - [`xdr`]: the XDR [`xdr::Reader`] and [`xdr::Writer`].
//! - [`rpc`]: ONC RPC messages, AUTH_NONE / AUTH_SYS, record marking.
//! - [`portmap`]: portmapper v2.
//! - [`mount3`]: MOUNT v3.
//! - [`nfs3`]: NFSv3, one module per procedure.
//! - [`nlm4`]: the Network Lock Manager v4 (byte-range locks, share reservations).
//! - [`nsm`]: the Network Status Monitor v1 (reboot notification).
//! - [`drc`]: the duplicate request cache.
//! - [`smb2`]: SMB 2.0.2 – 3.1.1 (framing, commands, session state).
//! - [`ntlm`]: NTLMSSP messages, the NTLMv2 server [`ntlm::Acceptor`], session security for
//!   mechListMIC, and a small client for the simulator.
//! - [`spnego`]: SPNEGO (RFC 4178, [MS-SPNG]) tokens around NTLMSSP, and the server's
//!   [`spnego::Acceptor`] that runs a SESSION_SETUP authentication.
//! - [`dcerpc`]: connection-oriented DCE/RPC PDUs and NDR, for named pipes.
//! - [`srvsvc`]: the server service ([MS-SRVS]) share enumeration calls.

pub mod dcerpc;
pub mod drc;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
pub mod mount3;
pub mod nfs3;
pub mod nlm4;
pub mod nsm;
pub mod ntlm;
pub mod portmap;
pub mod rpc;
pub mod smb2;
pub mod spnego;
pub mod srvsvc;
pub mod wire;
pub mod xdr;
