//! SMB 2.0.2 – 3.1.1 ([MS-SMB2]), sans-IO: framing, headers, compounds, every command's request
//! and response, negotiate contexts, the transform header, and the session state that needs no
//! IO (credits, sequence numbers, signing, key derivation, the preauth hash, encryption).
//!
//! Conventions every command module follows:
//! - A message is the bytes of one SMB2 message from the start of its 64-byte header (one
//!   element of a compound, already split by [`compound`]). Buffers inside a body are referred
//!   to by offsets from the header start, so decoders take the whole message and read the body
//!   at [`header::HEADER_LEN`] through an [`le::Reader`], resolving (offset, length) pairs with
//!   [`le::Reader::slice_at`], which checks both against the message and a limit from
//!   [`limits`] before anything is allocated.
//! - `XxxRequest::decode(msg) -> Result<XxxRequest, DecodeError>` and
//!   `XxxRequest::encode(&self, w: &mut le::Writer)`; the same pair on `XxxResponse`. Encoders
//!   append the body to a writer that already holds the 64-byte header (so `w.len()` is the
//!   offset a buffer gets). Servers decode requests and encode responses; the simulator's and
//!   tests' clients do the reverse, and the fuzz entry points check that what decodes
//!   re-encodes.
//! - Decoders never panic on peer input and never trust a StructureSize, length or offset
//!   without checking it.

pub mod acl;
pub mod compound;
pub mod create;
pub mod credits;
pub mod crypto;
pub mod dir;
pub mod file;
pub mod fileid;
pub mod framing;
pub mod fscc;
pub mod header;
pub mod info;
pub mod ioctl;
pub mod le;
pub mod mfsymlink;
pub mod misc;
pub mod negotiate;
pub mod notify;
pub mod security;
pub mod session;
pub mod smb1;
pub mod status;
pub mod transform;
pub mod tree;

/// Every size a peer's SMB2 message is checked against, with its source.
pub mod limits {
    /// The largest READ or WRITE payload we offer (MaxReadSize / MaxWriteSize in the
    /// NEGOTIATE response): 8 MiB, as Windows Server offers; clients ask for at most this.
    pub const IO_MAX: usize = 8 << 20;
    /// MaxTransactSize: the largest QUERY_INFO, SET_INFO, QUERY_DIRECTORY, IOCTL or
    /// CHANGE_NOTIFY buffer.
    pub const TRANSACT_MAX: usize = 8 << 20;
    /// The largest direct-TCP frame we accept: the largest WRITE plus its header and a
    /// compound's worth of small requests. [MS-SMB2] 2.1: the stream length is 24 bits.
    pub const FRAME_MAX: usize = IO_MAX + 64 * 1024;
    /// Messages in one compound we process: clients send a handful; a peer sending thousands
    /// of 64-byte elements only wastes our time.
    pub const COMPOUND_MAX: usize = 128;
    /// A path or name in CREATE, QUERY_DIRECTORY patterns and SET_INFO renames, in bytes of
    /// UTF-16 ([MS-FSCC] 2.1.5: 32,767 characters).
    pub const PATH_MAX: usize = 32_767 * 2;
    /// Security blobs in SESSION_SETUP (NTLMSSP inside SPNEGO is well under 4 KiB; Kerberos
    /// tickets reach tens of KiB).
    pub const SECURITY_BLOB_MAX: usize = 64 * 1024;
    /// Create contexts in one CREATE, summed.
    pub const CREATE_CONTEXTS_MAX: usize = 64 * 1024;
    /// Negotiate contexts in one NEGOTIATE request.
    pub const NEGOTIATE_CONTEXTS_MAX: usize = 32;
    /// Dialects listed in one NEGOTIATE request.
    pub const DIALECTS_MAX: usize = 64;
}
