//! Connection-oriented DCE/RPC PDUs (C706 chapter 12.6, with the extensions of [MS-RPCE]
//! 2.2.2) as carried over SMB2 named pipes, and a small NDR 2.0 reader and writer (C706
//! chapter 14) for the stubs, little-endian only. Sans-IO: bytes in, values out.
//!
//! Scope: what a file server needs to answer `\PIPE\srvsvc` ([`crate::srvsvc`]): BIND and
//! ALTER_CONTEXT with their ACKs (including [MS-RPCE] 3.3.1.5.3 bind-time feature negotiation,
//! answered with "negotiate ack"), BIND_NAK, REQUEST, RESPONSE and FAULT. Requests must be
//! single fragments (PFC_FIRST_FRAG | PFC_LAST_FRAG), without authentication trailers (the SMB
//! session already authenticates the pipe); responses larger than the client's max_recv_frag
//! are split by [`response_fragments`]. Big-endian data representations are refused.

use crate::smb2::le::{self, Reader, Writer};
use crate::wire::DecodeError;

/// Length of the common header (C706 12.6.3.1).
pub const HEADER_LEN: usize = 16;
/// The largest PDU: frag_length is 16 bits.
pub const PDU_MAX: usize = u16::MAX as usize;
/// The fragment size we offer and accept (max_xmit_frag / max_recv_frag), as Windows does.
pub const FRAG_MAX: u16 = 4280;
/// The longest NDR string we decode, in UTF-16 code units (server names and share names are
/// far shorter; [MS-SRVS] share names are at most 80 characters).
pub const NDR_STRING_MAX: usize = 1024;

/// PFC_FIRST_FRAG.
pub const PFC_FIRST_FRAG: u8 = 0x01;
/// PFC_LAST_FRAG.
pub const PFC_LAST_FRAG: u8 = 0x02;
/// PFC_OBJECT_UUID: a REQUEST carries an object UUID.
pub const PFC_OBJECT_UUID: u8 = 0x80;

/// The packed data representation we send: little-endian integers, ASCII, IEEE floats.
pub const DREP_LE: [u8; 4] = [0x10, 0, 0, 0];

/// Packet types (C706 12.6.4.*, in its numbering).
pub mod ptype {
    /// REQUEST.
    pub const REQUEST: u8 = 0;
    /// RESPONSE.
    pub const RESPONSE: u8 = 2;
    /// FAULT.
    pub const FAULT: u8 = 3;
    /// BIND.
    pub const BIND: u8 = 11;
    /// BIND_ACK.
    pub const BIND_ACK: u8 = 12;
    /// BIND_NAK.
    pub const BIND_NAK: u8 = 13;
    /// ALTER_CONTEXT.
    pub const ALTER_CONTEXT: u8 = 14;
    /// ALTER_CONTEXT_RESP.
    pub const ALTER_CONTEXT_RESP: u8 = 15;
}

/// Fault statuses (C706 appendix E, [MS-RPCE] 2.2.2.11) a server sends.
pub mod fault {
    /// nca_s_op_rng_error: the opnum is not in the interface.
    pub const OP_RNG_ERROR: u32 = 0x1C01_0002;
    /// nca_s_unknown_if: the presentation context is not bound.
    pub const UNKNOWN_IF: u32 = 0x1C01_0003;
    /// nca_s_proto_error.
    pub const PROTO_ERROR: u32 = 0x1C01_000B;
    /// RPC_X_BAD_STUB_DATA ([MS-RPCE] 3.1.1.5.5): the stub could not be unmarshalled.
    pub const BAD_STUB_DATA: u32 = 0x0000_06F7;
}

/// Presentation context results (C706 12.6.3.1 p_cont_def_result_t, [MS-RPCE] 2.2.2.4).
pub mod result {
    /// acceptance.
    pub const ACCEPTANCE: u16 = 0;
    /// user_rejection.
    pub const USER_REJECTION: u16 = 1;
    /// provider_rejection.
    pub const PROVIDER_REJECTION: u16 = 2;
    /// negotiate_ack: the answer to a bind-time feature negotiation context ([MS-RPCE]).
    pub const NEGOTIATE_ACK: u16 = 3;
    /// Reason: abstract_syntax_not_supported.
    pub const REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED: u16 = 1;
    /// Reason: proposed_transfer_syntaxes_not_supported.
    pub const REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED: u16 = 2;
}

/// A UUID as it appears on the wire in NDR: the first three fields little-endian.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Uuid(pub [u8; 16]);

impl Uuid {
    /// The UUID `d1-d2-d3-d4[0..2]-d4[2..8]` in its usual text order.
    pub const fn new(d1: u32, d2: u16, d3: u16, d4: [u8; 8]) -> Self {
        let a = d1.to_le_bytes();
        let b = d2.to_le_bytes();
        let c = d3.to_le_bytes();
        Self([
            a[0], a[1], a[2], a[3], b[0], b[1], c[0], c[1], d4[0], d4[1], d4[2], d4[3], d4[4],
            d4[5], d4[6], d4[7],
        ])
    }

    /// The nil UUID.
    pub const NIL: Self = Self([0; 16]);
}

impl std::fmt::Debug for Uuid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-{:02x}{:02x}-",
            u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            u16::from_le_bytes([b[4], b[5]]),
            u16::from_le_bytes([b[6], b[7]]),
            b[8],
            b[9]
        )?;
        for x in &b[10..] {
            write!(f, "{x:02x}")?;
        }
        Ok(())
    }
}

/// An interface or transfer syntax with its version (C706 p_syntax_id_t).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SyntaxId {
    /// The interface or syntax UUID.
    pub uuid: Uuid,
    /// Major version (the low 16 bits of the wire's 32-bit version).
    pub version: u16,
    /// Minor version (the high 16 bits).
    pub version_minor: u16,
}

impl SyntaxId {
    /// The NDR 2.0 transfer syntax 8a885d04-1ceb-11c9-9fe8-08002b104860 v2.
    pub const NDR: Self = Self {
        uuid: Uuid::new(
            0x8a88_5d04,
            0x1ceb,
            0x11c9,
            [0x9f, 0xe8, 0x08, 0x00, 0x2b, 0x10, 0x48, 0x60],
        ),
        version: 2,
        version_minor: 0,
    };

    /// The NDR64 transfer syntax 71710533-beba-4937-8319-b5dbef9ccc36 v1 (refused).
    pub const NDR64: Self = Self {
        uuid: Uuid::new(
            0x7171_0533,
            0xbeba,
            0x4937,
            [0x83, 0x19, 0xb5, 0xdb, 0xef, 0x9c, 0xcc, 0x36],
        ),
        version: 1,
        version_minor: 0,
    };

    /// The nil syntax (all zero) used in rejected and negotiate-ack results.
    pub const NIL: Self = Self {
        uuid: Uuid::NIL,
        version: 0,
        version_minor: 0,
    };

    /// Whether this is a bind-time feature negotiation syntax ([MS-RPCE] 3.3.1.5.3): a UUID
    /// starting 6cb71c2c-9812-4540, whose last eight octets are the client's
    /// BindTimeFeatureNegotiationBitmask (2.2.2.14). The version (1.0) is not checked.
    pub fn is_bind_time_features(&self) -> bool {
        let prefix = Uuid::new(0x6cb7_1c2c, 0x9812, 0x4540, [0; 8]);
        self.uuid.0[..8] == prefix.0[..8]
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let uuid = Uuid(r.array("syntax uuid")?);
        let version = r.u16("syntax version")?;
        let version_minor = r.u16("syntax minor version")?;
        Ok(Self {
            uuid,
            version,
            version_minor,
        })
    }

    fn encode(&self, w: &mut Writer) {
        w.bytes(&self.uuid.0);
        w.u16(self.version);
        w.u16(self.version_minor);
    }
}

/// One presentation context proposed in a BIND (C706 p_cont_elem_t).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextElem {
    /// p_cont_id: the id REQUESTs will name.
    pub context_id: u16,
    /// The interface.
    pub abstract_syntax: SyntaxId,
    /// Transfer syntaxes proposed, in preference order (at least one).
    pub transfer_syntaxes: Vec<SyntaxId>,
}

/// BIND and ALTER_CONTEXT bodies (C706 12.6.4.3, 12.6.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bind {
    /// max_xmit_frag.
    pub max_xmit_frag: u16,
    /// max_recv_frag.
    pub max_recv_frag: u16,
    /// assoc_group_id (0: a new association group).
    pub assoc_group_id: u32,
    /// The proposed contexts.
    pub contexts: Vec<ContextElem>,
}

/// One context's result in a BIND_ACK (C706 p_result_t).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContextResult {
    /// See [`result`].
    pub result: u16,
    /// Rejection reason, or for negotiate_ack the features the server supports.
    pub reason: u16,
    /// The accepted transfer syntax, or [`SyntaxId::NIL`].
    pub transfer_syntax: SyntaxId,
}

/// BIND_ACK and ALTER_CONTEXT_RESP bodies (C706 12.6.4.4, 12.6.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAck {
    /// max_xmit_frag.
    pub max_xmit_frag: u16,
    /// max_recv_frag.
    pub max_recv_frag: u16,
    /// assoc_group_id.
    pub assoc_group_id: u32,
    /// sec_addr: the pipe name, e.g. `\PIPE\srvsvc` (empty in ALTER_CONTEXT_RESP).
    pub secondary_address: String,
    /// One result per proposed context, in order.
    pub results: Vec<ContextResult>,
}

/// A REQUEST body (C706 12.6.4.9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// alloc_hint: the stub's total size, a hint only.
    pub alloc_hint: u32,
    /// p_cont_id.
    pub context_id: u16,
    /// The operation number within the interface.
    pub opnum: u16,
    /// The object UUID when PFC_OBJECT_UUID is set.
    pub object: Option<Uuid>,
    /// The NDR stub.
    pub stub: Vec<u8>,
}

/// A RESPONSE body (C706 12.6.4.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// alloc_hint: the whole stub's size across fragments.
    pub alloc_hint: u32,
    /// p_cont_id.
    pub context_id: u16,
    /// cancel_count.
    pub cancel_count: u8,
    /// The NDR stub (of this fragment).
    pub stub: Vec<u8>,
}

/// A FAULT body (C706 12.6.4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    /// alloc_hint.
    pub alloc_hint: u32,
    /// p_cont_id.
    pub context_id: u16,
    /// cancel_count.
    pub cancel_count: u8,
    /// The status; see [`fault`].
    pub status: u32,
}

/// A BIND_NAK body (C706 12.6.4.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindNak {
    /// provider_reject_reason.
    pub reason: u16,
    /// Supported protocol versions (major, minor).
    pub versions: Vec<(u8, u8)>,
}

/// The PDU body by type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PduBody {
    /// REQUEST.
    Request(Request),
    /// RESPONSE.
    Response(Response),
    /// FAULT.
    Fault(Fault),
    /// BIND.
    Bind(Bind),
    /// BIND_ACK.
    BindAck(BindAck),
    /// BIND_NAK.
    BindNak(BindNak),
    /// ALTER_CONTEXT.
    AlterContext(Bind),
    /// ALTER_CONTEXT_RESP.
    AlterContextResp(BindAck),
}

/// One connection-oriented PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// pfc_flags.
    pub flags: u8,
    /// call_id: responses echo the request's.
    pub call_id: u32,
    /// The type-specific body.
    pub body: PduBody,
}

/// The frag_length of a PDU whose first bytes are `prefix`, once 16 header bytes are there
/// (`Ok(None)` before). Lets a pipe reassemble PDUs split across writes.
pub fn pdu_len(prefix: &[u8]) -> Result<Option<usize>, DecodeError> {
    if prefix.len() < HEADER_LEN {
        return Ok(None);
    }
    check_version(prefix)?;
    let len = usize::from(u16::from_le_bytes([prefix[8], prefix[9]]));
    if len < HEADER_LEN {
        return Err(DecodeError::InvalidValue {
            field: "frag_length",
            value: len as u64,
        });
    }
    Ok(Some(len))
}

fn check_version(b: &[u8]) -> Result<(), DecodeError> {
    if b[0] != 5 || b[1] != 0 {
        return Err(DecodeError::InvalidValue {
            field: "rpc_vers",
            value: u64::from(b[0]) << 8 | u64::from(b[1]),
        });
    }
    if b[4] & 0xF0 != 0x10 {
        return Err(DecodeError::InvalidValue {
            field: "packed_drep (big-endian)",
            value: u64::from(b[4]),
        });
    }
    Ok(())
}

impl Pdu {
    /// Decodes exactly one single-fragment PDU (PFC_FIRST_FRAG and PFC_LAST_FRAG both set):
    /// `buf` must be the whole PDU (frag_length bytes). This is what a server accepts.
    pub fn decode(buf: &[u8]) -> Result<Self, DecodeError> {
        let pdu = Self::decode_fragment(buf)?;
        let single = PFC_FIRST_FRAG | PFC_LAST_FRAG;
        if pdu.flags & single != single {
            return Err(DecodeError::InvalidValue {
                field: "pfc_flags (fragmented PDU)",
                value: u64::from(pdu.flags),
            });
        }
        Ok(pdu)
    }

    /// Decodes one PDU that may be one fragment of several (a client reassembling a long
    /// RESPONSE from [`response_fragments`] concatenates the stubs itself).
    pub fn decode_fragment(buf: &[u8]) -> Result<Self, DecodeError> {
        let len = pdu_len(buf)?.ok_or(DecodeError::Truncated {
            field: "rpc header",
        })?;
        if buf.len() < len {
            return Err(DecodeError::Truncated { field: "rpc pdu" });
        }
        if buf.len() > len {
            return Err(DecodeError::TrailingBytes {
                field: "rpc pdu",
                count: buf.len() - len,
            });
        }
        let mut r = Reader::new(buf);
        r.skip(2, "rpc_vers")?;
        let ptype = r.u8("ptype")?;
        let flags = r.u8("pfc_flags")?;
        r.skip(4, "packed_drep")?;
        r.skip(2, "frag_length")?;
        let auth_length = r.u16("auth_length")?;
        let call_id = r.u32("call_id")?;
        if auth_length != 0 {
            return Err(DecodeError::InvalidValue {
                field: "auth_length (authenticated RPC unsupported)",
                value: u64::from(auth_length),
            });
        }
        let body = match ptype {
            ptype::REQUEST => {
                let alloc_hint = r.u32("alloc_hint")?;
                let context_id = r.u16("p_cont_id")?;
                let opnum = r.u16("opnum")?;
                let object = if flags & PFC_OBJECT_UUID != 0 {
                    Some(Uuid(r.array("object")?))
                } else {
                    None
                };
                let stub = r.bytes(r.remaining(), "stub")?.to_vec();
                PduBody::Request(Request {
                    alloc_hint,
                    context_id,
                    opnum,
                    object,
                    stub,
                })
            }
            ptype::RESPONSE => {
                let alloc_hint = r.u32("alloc_hint")?;
                let context_id = r.u16("p_cont_id")?;
                let cancel_count = r.u8("cancel_count")?;
                r.skip(1, "reserved")?;
                let stub = r.bytes(r.remaining(), "stub")?.to_vec();
                PduBody::Response(Response {
                    alloc_hint,
                    context_id,
                    cancel_count,
                    stub,
                })
            }
            ptype::FAULT => {
                let alloc_hint = r.u32("alloc_hint")?;
                let context_id = r.u16("p_cont_id")?;
                let cancel_count = r.u8("cancel_count")?;
                r.skip(1, "reserved")?;
                let status = r.u32("status")?;
                r.skip(4, "reserved2")?;
                finish(&r, "fault")?;
                PduBody::Fault(Fault {
                    alloc_hint,
                    context_id,
                    cancel_count,
                    status,
                })
            }
            ptype::BIND | ptype::ALTER_CONTEXT => {
                let b = decode_bind(&mut r)?;
                if ptype == ptype::BIND {
                    PduBody::Bind(b)
                } else {
                    PduBody::AlterContext(b)
                }
            }
            ptype::BIND_ACK | ptype::ALTER_CONTEXT_RESP => {
                let b = decode_bind_ack(&mut r)?;
                if ptype == ptype::BIND_ACK {
                    PduBody::BindAck(b)
                } else {
                    PduBody::AlterContextResp(b)
                }
            }
            ptype::BIND_NAK => {
                let reason = r.u16("provider_reject_reason")?;
                let n = r.u8("n_protocols")?;
                let mut versions = Vec::with_capacity(usize::from(n).min(r.remaining() / 2));
                for _ in 0..n {
                    versions.push((r.u8("vers_major")?, r.u8("vers_minor")?));
                }
                // C706 allows padding after the version list; ignore it.
                PduBody::BindNak(BindNak { reason, versions })
            }
            other => {
                return Err(DecodeError::InvalidValue {
                    field: "ptype",
                    value: u64::from(other),
                });
            }
        };
        Ok(Self {
            flags,
            call_id,
            body,
        })
    }

    /// The PDU's bytes, with frag_length filled in. Bodies larger than [`PDU_MAX`] are the
    /// caller's bug; use [`response_fragments`] for large responses.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        let ptype = match &self.body {
            PduBody::Request(_) => ptype::REQUEST,
            PduBody::Response(_) => ptype::RESPONSE,
            PduBody::Fault(_) => ptype::FAULT,
            PduBody::Bind(_) => ptype::BIND,
            PduBody::BindAck(_) => ptype::BIND_ACK,
            PduBody::BindNak(_) => ptype::BIND_NAK,
            PduBody::AlterContext(_) => ptype::ALTER_CONTEXT,
            PduBody::AlterContextResp(_) => ptype::ALTER_CONTEXT_RESP,
        };
        let mut flags = self.flags;
        if let PduBody::Request(q) = &self.body {
            flags = if q.object.is_some() {
                flags | PFC_OBJECT_UUID
            } else {
                flags & !PFC_OBJECT_UUID
            };
        }
        w.u8(5);
        w.u8(0);
        w.u8(ptype);
        w.u8(flags);
        w.bytes(&DREP_LE);
        w.u16(0); // frag_length, patched below
        w.u16(0); // auth_length
        w.u32(self.call_id);
        match &self.body {
            PduBody::Request(q) => {
                w.u32(q.alloc_hint);
                w.u16(q.context_id);
                w.u16(q.opnum);
                if let Some(o) = q.object {
                    w.bytes(&o.0);
                }
                w.bytes(&q.stub);
            }
            PduBody::Response(p) => {
                w.u32(p.alloc_hint);
                w.u16(p.context_id);
                w.u8(p.cancel_count);
                w.u8(0);
                w.bytes(&p.stub);
            }
            PduBody::Fault(f) => {
                w.u32(f.alloc_hint);
                w.u16(f.context_id);
                w.u8(f.cancel_count);
                w.u8(0);
                w.u32(f.status);
                w.u32(0);
            }
            PduBody::Bind(b) | PduBody::AlterContext(b) => encode_bind(b, &mut w),
            PduBody::BindAck(a) | PduBody::AlterContextResp(a) => encode_bind_ack(a, &mut w),
            PduBody::BindNak(n) => {
                w.u16(n.reason);
                w.u8(n.versions.len().min(255) as u8);
                for &(major, minor) in n.versions.iter().take(255) {
                    w.u8(major);
                    w.u8(minor);
                }
            }
        }
        let len = u16::try_from(w.len()).unwrap_or(u16::MAX);
        w.patch_u16(8, len);
        w.into_inner()
    }
}

fn finish(r: &Reader<'_>, field: &'static str) -> Result<(), DecodeError> {
    match r.remaining() {
        0 => Ok(()),
        count => Err(DecodeError::TrailingBytes { field, count }),
    }
}

fn decode_bind(r: &mut Reader<'_>) -> Result<Bind, DecodeError> {
    let max_xmit_frag = r.u16("max_xmit_frag")?;
    let max_recv_frag = r.u16("max_recv_frag")?;
    let assoc_group_id = r.u32("assoc_group_id")?;
    let n = r.u8("n_context_elem")?;
    r.skip(3, "reserved")?;
    // Each context takes at least 44 bytes, so the count is checked against what remains.
    let mut contexts = Vec::with_capacity(usize::from(n).min(r.remaining() / 44));
    for _ in 0..n {
        let context_id = r.u16("p_cont_id")?;
        let n_syn = r.u8("n_transfer_syn")?;
        r.skip(1, "reserved")?;
        let abstract_syntax = SyntaxId::decode(r)?;
        if n_syn == 0 {
            return Err(DecodeError::InvalidValue {
                field: "n_transfer_syn",
                value: 0,
            });
        }
        let mut transfer_syntaxes = Vec::with_capacity(usize::from(n_syn).min(r.remaining() / 20));
        for _ in 0..n_syn {
            transfer_syntaxes.push(SyntaxId::decode(r)?);
        }
        contexts.push(ContextElem {
            context_id,
            abstract_syntax,
            transfer_syntaxes,
        });
    }
    finish(r, "bind")?;
    Ok(Bind {
        max_xmit_frag,
        max_recv_frag,
        assoc_group_id,
        contexts,
    })
}

fn encode_bind(b: &Bind, w: &mut Writer) {
    w.u16(b.max_xmit_frag);
    w.u16(b.max_recv_frag);
    w.u32(b.assoc_group_id);
    w.u8(b.contexts.len().min(255) as u8);
    w.zeros(3);
    for c in b.contexts.iter().take(255) {
        w.u16(c.context_id);
        w.u8(c.transfer_syntaxes.len().min(255) as u8);
        w.u8(0);
        c.abstract_syntax.encode(w);
        for t in c.transfer_syntaxes.iter().take(255) {
            t.encode(w);
        }
    }
}

fn decode_bind_ack(r: &mut Reader<'_>) -> Result<BindAck, DecodeError> {
    let max_xmit_frag = r.u16("max_xmit_frag")?;
    let max_recv_frag = r.u16("max_recv_frag")?;
    let assoc_group_id = r.u32("assoc_group_id")?;
    let sec_len = usize::from(r.u16("sec_addr length")?);
    let sec = r.bytes(sec_len, "sec_addr")?;
    let secondary_address = match sec.split_last() {
        Some((0, s)) => String::from_utf8_lossy(s).into_owned(),
        Some(_) => {
            return Err(DecodeError::InvalidValue {
                field: "sec_addr (no NUL)",
                value: sec_len as u64,
            });
        }
        None => String::new(),
    };
    let pad = r.pos().next_multiple_of(4) - r.pos();
    r.skip(pad, "sec_addr padding")?;
    let n = r.u8("n_results")?;
    r.skip(3, "reserved")?;
    let mut results = Vec::with_capacity(usize::from(n).min(r.remaining() / 24));
    for _ in 0..n {
        let result = r.u16("result")?;
        let reason = r.u16("reason")?;
        let transfer_syntax = SyntaxId::decode(r)?;
        results.push(ContextResult {
            result,
            reason,
            transfer_syntax,
        });
    }
    finish(r, "bind_ack")?;
    Ok(BindAck {
        max_xmit_frag,
        max_recv_frag,
        assoc_group_id,
        secondary_address,
        results,
    })
}

fn encode_bind_ack(a: &BindAck, w: &mut Writer) {
    w.u16(a.max_xmit_frag);
    w.u16(a.max_recv_frag);
    w.u32(a.assoc_group_id);
    if a.secondary_address.is_empty() {
        w.u16(0);
    } else {
        let s = a.secondary_address.as_bytes();
        let s = &s[..s.len().min(usize::from(u16::MAX) - 1)];
        w.u16(s.len() as u16 + 1);
        w.bytes(s);
        w.u8(0);
    }
    w.align(4);
    w.u8(a.results.len().min(255) as u8);
    w.zeros(3);
    for res in a.results.iter().take(255) {
        w.u16(res.result);
        w.u16(res.reason);
        res.transfer_syntax.encode(w);
    }
}

impl Bind {
    /// The BIND_ACK a server sends for this BIND (C706 12.6.4.4, [MS-RPCE] 3.3.1.5.3): a
    /// context whose abstract syntax is in `interfaces` (UUID and major version match) and
    /// that offers NDR 2.0 is accepted with NDR; a bind-time feature negotiation context gets
    /// "negotiate ack" with no features; everything else is rejected with the matching
    /// reason. `assoc_group_id` is the client's, or a fresh one when it sent 0.
    pub fn accept(
        &self,
        interfaces: &[SyntaxId],
        assoc_group_id: u32,
        secondary_address: &str,
    ) -> BindAck {
        let results = self
            .contexts
            .iter()
            .map(|c| {
                if c.transfer_syntaxes
                    .iter()
                    .any(SyntaxId::is_bind_time_features)
                {
                    ContextResult {
                        result: result::NEGOTIATE_ACK,
                        reason: 0,
                        transfer_syntax: SyntaxId::NIL,
                    }
                } else if !interfaces.iter().any(|i| {
                    i.uuid == c.abstract_syntax.uuid && i.version == c.abstract_syntax.version
                }) {
                    ContextResult {
                        result: result::PROVIDER_REJECTION,
                        reason: result::REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED,
                        transfer_syntax: SyntaxId::NIL,
                    }
                } else if c.transfer_syntaxes.contains(&SyntaxId::NDR) {
                    ContextResult {
                        result: result::ACCEPTANCE,
                        reason: 0,
                        transfer_syntax: SyntaxId::NDR,
                    }
                } else {
                    ContextResult {
                        result: result::PROVIDER_REJECTION,
                        reason: result::REASON_TRANSFER_SYNTAXES_NOT_SUPPORTED,
                        transfer_syntax: SyntaxId::NIL,
                    }
                }
            })
            .collect();
        BindAck {
            // What we send is bounded by what the client receives, and the reverse.
            max_xmit_frag: self.max_recv_frag.clamp(HEADER_LEN as u16 + 16, FRAG_MAX),
            max_recv_frag: self.max_xmit_frag.clamp(HEADER_LEN as u16 + 16, FRAG_MAX),
            assoc_group_id,
            secondary_address: secondary_address.to_owned(),
            results,
        }
    }
}

/// Splits a response stub into RESPONSE PDUs of at most `max_frag` bytes each (the client's
/// max_recv_frag, at least 32), with PFC_FIRST_FRAG on the first and PFC_LAST_FRAG on the last
/// (C706 12.6.3.6). Every fragment's alloc_hint is the stub bytes remaining from it on.
pub fn response_fragments(
    call_id: u32,
    context_id: u16,
    stub: &[u8],
    max_frag: u16,
) -> Vec<Vec<u8>> {
    const RESPONSE_HEADER: usize = HEADER_LEN + 8;
    // A multiple of 8 keeps each fragment's stub aligned as NDR expects.
    let room = ((usize::from(max_frag).max(32) - RESPONSE_HEADER) / 8 * 8).max(8);
    let mut out = Vec::new();
    let mut off = 0;
    loop {
        let end = (off + room).min(stub.len());
        let mut flags = 0;
        if off == 0 {
            flags |= PFC_FIRST_FRAG;
        }
        if end == stub.len() {
            flags |= PFC_LAST_FRAG;
        }
        out.push(
            Pdu {
                flags,
                call_id,
                body: PduBody::Response(Response {
                    alloc_hint: u32::try_from(stub.len() - off).unwrap_or(u32::MAX),
                    context_id,
                    cancel_count: 0,
                    stub: stub[off..end].to_vec(),
                }),
            }
            .encode(),
        );
        if end == stub.len() {
            return out;
        }
        off = end;
    }
}

/// Reads NDR 2.0 data (C706 chapter 14) from a little-endian stub. Alignment is relative to
/// the stub's start; every primitive read aligns itself first.
#[derive(Debug, Clone)]
pub struct NdrReader<'a> {
    r: Reader<'a>,
}

impl<'a> NdrReader<'a> {
    /// A reader at the start of `stub`.
    pub const fn new(stub: &'a [u8]) -> Self {
        Self {
            r: Reader::new(stub),
        }
    }

    /// Skips padding up to a multiple of `n` (a power of two).
    pub fn align(&mut self, n: usize) -> Result<(), DecodeError> {
        let pad = self.r.pos().next_multiple_of(n) - self.r.pos();
        self.r.skip(pad, "ndr alignment")
    }

    /// An aligned `u16`.
    pub fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        self.align(2)?;
        self.r.u16(field)
    }

    /// An aligned `u32`.
    pub fn u32(&mut self, field: &'static str) -> Result<u32, DecodeError> {
        self.align(4)?;
        self.r.u32(field)
    }

    /// A pointer's referent id: `false` for a null pointer.
    pub fn pointer(&mut self, field: &'static str) -> Result<bool, DecodeError> {
        Ok(self.u32(field)? != 0)
    }

    /// A conformant varying UTF-16 string (`[string] wchar_t*` pointee): MaxCount, Offset
    /// (must be 0), ActualCount (<= MaxCount), then the code units. One terminating NUL, if
    /// present, is dropped; at most [`NDR_STRING_MAX`] units may remain.
    pub fn string(&mut self, field: &'static str) -> Result<String, DecodeError> {
        let max = self.u32(field)? as usize;
        let offset = self.u32(field)?;
        let actual = self.u32(field)? as usize;
        if offset != 0 {
            return Err(DecodeError::InvalidValue {
                field,
                value: u64::from(offset),
            });
        }
        if actual > max || actual > NDR_STRING_MAX + 1 {
            return Err(DecodeError::TooLong {
                field,
                len: actual as u64,
                max: max.min(NDR_STRING_MAX + 1) as u64,
            });
        }
        let bytes = self.r.bytes(actual * 2, field)?;
        let bytes = match bytes {
            [rest @ .., 0, 0] => rest,
            b => b,
        };
        if bytes.len() / 2 > NDR_STRING_MAX {
            return Err(DecodeError::TooLong {
                field,
                len: (bytes.len() / 2) as u64,
                max: NDR_STRING_MAX as u64,
            });
        }
        le::from_utf16le(bytes, field)
    }

    /// A unique pointer to a string: `None` when null.
    pub fn unique_string(&mut self, field: &'static str) -> Result<Option<String>, DecodeError> {
        if self.pointer(field)? {
            self.string(field).map(Some)
        } else {
            Ok(None)
        }
    }

    /// Bytes left.
    pub const fn remaining(&self) -> usize {
        self.r.remaining()
    }

    /// Ends the stub: at most 7 bytes of trailing padding are tolerated.
    pub fn finish(&self, field: &'static str) -> Result<(), DecodeError> {
        match self.remaining() {
            0..8 => Ok(()),
            count => Err(DecodeError::TrailingBytes { field, count }),
        }
    }
}

/// Writes NDR 2.0 data. Referent ids are 0x00020000, 0x00020004, … as Windows numbers them.
#[derive(Debug, Clone)]
pub struct NdrWriter {
    w: Writer,
    next_ref: u32,
}

impl Default for NdrWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl NdrWriter {
    /// An empty stub.
    pub const fn new() -> Self {
        Self {
            w: Writer::new(),
            next_ref: 0x0002_0000,
        }
    }

    /// Pads with zeros to a multiple of `n`.
    pub fn align(&mut self, n: usize) {
        self.w.align(n);
    }

    /// An aligned `u16`.
    pub fn u16(&mut self, v: u16) {
        self.align(2);
        self.w.u16(v);
    }

    /// An aligned `u32`.
    pub fn u32(&mut self, v: u32) {
        self.align(4);
        self.w.u32(v);
    }

    /// A non-null pointer's referent id (the pointee follows, possibly deferred).
    pub fn pointer(&mut self) {
        let r = self.next_ref;
        self.next_ref = self.next_ref.wrapping_add(4);
        self.u32(r);
    }

    /// A null pointer.
    pub fn null(&mut self) {
        self.u32(0);
    }

    /// A conformant varying string with its terminating NUL (MaxCount = ActualCount); longer
    /// than [`NDR_STRING_MAX`] units is cut there.
    pub fn string(&mut self, s: &str) {
        let units: Vec<u16> = s.encode_utf16().take(NDR_STRING_MAX).chain([0]).collect();
        let n = units.len() as u32;
        self.u32(n);
        self.u32(0);
        self.u32(n);
        for u in units {
            self.w.u16(u);
        }
    }

    /// A unique pointer to a string, the pointee written at once (not deferred).
    pub fn unique_string(&mut self, s: Option<&str>) {
        match s {
            Some(s) => {
                self.pointer();
                self.string(s);
            }
            None => self.null(),
        }
    }

    /// The stub.
    pub fn into_inner(self) -> Vec<u8> {
        self.w.into_inner()
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::srvsvc::SRVSVC;

    fn bind_pdu() -> Pdu {
        Pdu {
            flags: PFC_FIRST_FRAG | PFC_LAST_FRAG,
            call_id: 2,
            body: PduBody::Bind(Bind {
                max_xmit_frag: 4280,
                max_recv_frag: 4280,
                assoc_group_id: 0,
                contexts: vec![
                    ContextElem {
                        context_id: 0,
                        abstract_syntax: SRVSVC,
                        transfer_syntaxes: vec![SyntaxId::NDR],
                    },
                    ContextElem {
                        context_id: 1,
                        abstract_syntax: SRVSVC,
                        transfer_syntaxes: vec![SyntaxId::NDR64],
                    },
                    ContextElem {
                        context_id: 2,
                        abstract_syntax: SRVSVC,
                        transfer_syntaxes: vec![SyntaxId {
                            uuid: Uuid::new(0x6cb7_1c2c, 0x9812, 0x4540, [3, 0, 0, 0, 0, 0, 0, 0]),
                            version: 1,
                            version_minor: 0,
                        }],
                    },
                ],
            }),
        }
    }

    /// Goal: a BIND laid out by hand from C706 12.6.4.3 decodes: header, one context with the
    /// srvsvc abstract syntax and NDR transfer syntax.
    #[test]
    fn bind_from_spec_bytes() {
        let bytes = hex::decode(concat!(
            "05000b03",
            "10000000",
            "4800",
            "0000",
            "01000000", // header, frag_length 72
            "b810",
            "b810",
            "00000000", // max_xmit, max_recv, assoc group
            "01000000", // one context
            "0000",
            "01",
            "00", // context 0, one transfer syntax
            "c84f324b7016d30112785a47bf6ee188",
            "0300",
            "0000", // srvsvc v3.0
            "045d888aeb1cc9119fe808002b104860",
            "02000000", // NDR v2
        ))
        .unwrap();
        let pdu = Pdu::decode(&bytes).unwrap();
        assert_eq!(pdu.call_id, 1);
        let PduBody::Bind(b) = &pdu.body else {
            panic!("{pdu:?}")
        };
        assert_eq!(b.contexts[0].abstract_syntax, SRVSVC);
        assert_eq!(b.contexts[0].transfer_syntaxes, [SyntaxId::NDR]);
        assert_eq!(pdu.encode(), bytes);
    }

    /// Goal: the server's BIND_ACK accepts NDR, rejects NDR64 with reason 2, answers the
    /// feature negotiation context with negotiate_ack, and its bytes follow C706 12.6.4.4:
    /// the secondary address "\PIPE\srvsvc" with its NUL (13 bytes) padded to 4.
    #[test]
    fn bind_ack_results_and_layout() {
        let PduBody::Bind(b) = bind_pdu().body else {
            unreachable!()
        };
        let ack = b.accept(&[SRVSVC], 0x1234, "\\PIPE\\srvsvc");
        assert_eq!(
            ack.results
                .iter()
                .map(|r| (r.result, r.reason))
                .collect::<Vec<_>>(),
            [(0, 0), (2, 2), (3, 0)]
        );
        assert_eq!(ack.results[0].transfer_syntax, SyntaxId::NDR);
        let bytes = Pdu {
            flags: PFC_FIRST_FRAG | PFC_LAST_FRAG,
            call_id: 2,
            body: PduBody::BindAck(ack.clone()),
        }
        .encode();
        assert_eq!(&bytes[..4], &[5, 0, 12, 3]);
        assert_eq!(
            usize::from(u16::from_le_bytes([bytes[8], bytes[9]])),
            bytes.len()
        );
        assert_eq!(&bytes[24..26], &[13, 0]);
        assert_eq!(&bytes[26..39], b"\\PIPE\\srvsvc\0");
        assert_eq!(bytes[39], 0); // pad to 40
        assert_eq!(bytes[40], 3); // n_results
        assert_eq!(bytes.len(), 44 + 3 * 24);
        let back = Pdu::decode(&bytes).unwrap();
        assert_eq!(back.body, PduBody::BindAck(ack));
        let unknown = b.accept(&[], 1, "");
        assert_eq!(
            unknown.results[0].reason,
            result::REASON_ABSTRACT_SYNTAX_NOT_SUPPORTED
        );
    }

    /// Goal: every PDU type round-trips; fragmented, authenticated, big-endian, truncated
    /// and over-long inputs are refused.
    #[test]
    fn pdus_round_trip_and_refusals() {
        let pdus = [
            bind_pdu(),
            Pdu {
                flags: 3,
                call_id: 3,
                body: PduBody::Request(Request {
                    alloc_hint: 4,
                    context_id: 0,
                    opnum: 15,
                    object: None,
                    stub: vec![1, 2, 3, 4],
                }),
            },
            Pdu {
                flags: 3 | PFC_OBJECT_UUID,
                call_id: 3,
                body: PduBody::Request(Request {
                    alloc_hint: 0,
                    context_id: 1,
                    opnum: 2,
                    object: Some(Uuid([7; 16])),
                    stub: vec![],
                }),
            },
            Pdu {
                flags: 3,
                call_id: 3,
                body: PduBody::Response(Response {
                    alloc_hint: 2,
                    context_id: 0,
                    cancel_count: 0,
                    stub: vec![9, 9],
                }),
            },
            Pdu {
                flags: 3,
                call_id: 4,
                body: PduBody::Fault(Fault {
                    alloc_hint: 0,
                    context_id: 0,
                    cancel_count: 0,
                    status: fault::OP_RNG_ERROR,
                }),
            },
            Pdu {
                flags: 3,
                call_id: 5,
                body: PduBody::BindNak(BindNak {
                    reason: 0,
                    versions: vec![(5, 0)],
                }),
            },
        ];
        for p in pdus {
            let bytes = p.encode();
            assert_eq!(Pdu::decode(&bytes).as_ref(), Ok(&p));
            assert!(Pdu::decode(&bytes[..bytes.len() - 1]).is_err());
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Pdu::decode(&longer).is_err());
            let mut frag = bytes.clone();
            frag[3] &= !PFC_LAST_FRAG;
            assert!(Pdu::decode(&frag).is_err());
            let mut auth = bytes.clone();
            auth[10] = 8;
            assert!(Pdu::decode(&auth).is_err());
            let mut be = bytes.clone();
            be[4] = 0;
            assert!(Pdu::decode(&be).is_err());
        }
        assert_eq!(pdu_len(&[5, 0, 0, 3]), Ok(None));
    }

    /// Goal: a large response is split into fragments no larger than max_frag; only the
    /// first and last carry their flags, and the stubs reassemble.
    #[test]
    fn response_fragments_reassemble() {
        let stub: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let frags = response_fragments(7, 0, &stub, 4280);
        assert_eq!(frags.len(), 3);
        let mut all = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            assert!(f.len() <= 4280);
            assert!(Pdu::decode_fragment(f).is_ok());
            assert_eq!(Pdu::decode(f).is_ok(), frags.len() == 1);
            assert_eq!(f[3] & PFC_FIRST_FRAG != 0, i == 0);
            assert_eq!(f[3] & PFC_LAST_FRAG != 0, i == frags.len() - 1);
            all.extend_from_slice(&f[24..]);
        }
        assert_eq!(all, stub);
        assert_eq!(response_fragments(7, 0, &[], 4280).len(), 1);
    }

    /// Goal: NDR strings round-trip with their NUL and the reader refuses bad counts.
    #[test]
    fn ndr_strings() {
        let mut w = NdrWriter::new();
        w.u16(1);
        w.unique_string(Some("IPC$"));
        w.unique_string(None);
        w.u32(7);
        let b = w.into_inner();
        // u16, pad 2, referent, max 5, offset 0, actual 5, 10 bytes, pad 2, null, 7
        assert_eq!(b.len(), 2 + 2 + 4 + 12 + 10 + 2 + 4 + 4);
        let mut r = NdrReader::new(&b);
        assert_eq!(r.u16("a"), Ok(1));
        assert_eq!(r.unique_string("s").unwrap().as_deref(), Some("IPC$"));
        assert_eq!(r.unique_string("s"), Ok(None));
        assert_eq!(r.u32("x"), Ok(7));
        assert_eq!(r.finish("t"), Ok(()));
        let bad = hex::decode("020000000000000003000000410042004300").unwrap();
        assert!(NdrReader::new(&bad).string("s").is_err());
        let huge = hex::decode("ffffff7f00000000ffffff7f").unwrap();
        assert!(NdrReader::new(&huge).string("s").is_err());
    }

    proptest! {
        /// Goal: PDU decoding never panics, and whatever decodes re-encodes to the same bytes
        /// (the format is canonical apart from BIND_NAK padding).
        #[test]
        fn pdu_decode_never_panics(data in vec(any::<u8>(), 0..200)) {
            if let Ok(p) = Pdu::decode(&data)
                && !matches!(p.body, PduBody::BindNak(_)) {
                    let again = p.encode();
                    prop_assert_eq!(Pdu::decode(&again), Ok(p));
                }
        }
    }
}
