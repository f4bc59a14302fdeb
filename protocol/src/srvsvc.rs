//! The server service remote protocol ([MS-SRVS]) over `\PIPE\srvsvc`: the NDR stubs of the
//! three calls clients use to list shares and name the server — NetrShareEnum (opnum 15),
//! NetrShareGetInfo (16) and NetrServerGetInfo (21). Requests decode and encode (servers
//! decode them; test clients encode them); responses likewise. Stubs travel inside
//! [`crate::dcerpc`] REQUEST and RESPONSE PDUs.
//!
//! [`SrvsvcPipe`] is the server's end of one open of the pipe: SMB2 WRITE (or the write half of
//! FSCTL_PIPE_TRANSCEIVE) hands it bytes, SMB2 READ takes PDUs out.
//!
//! A level this module does not implement is answered with [`WError::INVALID_LEVEL`] and an
//! empty union arm (as Samba's IDL encodes its `[default]` case).

use std::collections::VecDeque;

use crate::dcerpc::{
    self, Fault, NdrReader, NdrWriter, PFC_FIRST_FRAG, PFC_LAST_FRAG, Pdu, PduBody, SyntaxId, Uuid,
};
use crate::wire::DecodeError;

/// The srvsvc interface 4b324fc8-1670-01d3-1278-5a47bf6ee188 version 3.0 ([MS-SRVS] 1.9).
pub const SRVSVC: SyntaxId = SyntaxId {
    uuid: Uuid::new(
        0x4b32_4fc8,
        0x1670,
        0x01d3,
        [0x12, 0x78, 0x5a, 0x47, 0xbf, 0x6e, 0xe1, 0x88],
    ),
    version: 3,
    version_minor: 0,
};

/// The pipe's name as a BIND_ACK's secondary address.
pub const PIPE_NAME: &str = "\\PIPE\\srvsvc";

/// Operation numbers ([MS-SRVS] 3.1.4).
pub mod opnum {
    /// NetrShareEnum.
    pub const NETR_SHARE_ENUM: u16 = 15;
    /// NetrShareGetInfo.
    pub const NETR_SHARE_GET_INFO: u16 = 16;
    /// NetrServerGetInfo.
    pub const NETR_SERVER_GET_INFO: u16 = 21;
}

/// Share types ([MS-SRVS] 2.2.2.4).
pub mod share_type {
    /// STYPE_DISKTREE: a disk share.
    pub const DISKTREE: u32 = 0;
    /// STYPE_PRINTQ.
    pub const PRINTQ: u32 = 1;
    /// STYPE_DEVICE.
    pub const DEVICE: u32 = 2;
    /// STYPE_IPC: the interprocess communication share.
    pub const IPC: u32 = 3;
    /// STYPE_SPECIAL: an administrative share (name ends with `$`).
    pub const SPECIAL: u32 = 0x8000_0000;
    /// STYPE_TEMPORARY.
    pub const TEMPORARY: u32 = 0x4000_0000;
    /// IPC$ as Windows lists it: STYPE_IPC | STYPE_SPECIAL.
    pub const IPC_HIDDEN: u32 = IPC | SPECIAL;
}

/// A Win32 error code as NET_API_STATUS / WERROR ([MS-ERREF] 2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WError(pub u32);

impl WError {
    /// ERROR_SUCCESS.
    pub const OK: Self = Self(0);
    /// ERROR_ACCESS_DENIED.
    pub const ACCESS_DENIED: Self = Self(5);
    /// ERROR_INVALID_PARAMETER.
    pub const INVALID_PARAMETER: Self = Self(87);
    /// ERROR_INVALID_LEVEL.
    pub const INVALID_LEVEL: Self = Self(124);
    /// ERROR_MORE_DATA.
    pub const MORE_DATA: Self = Self(234);
    /// NERR_NetNameNotFound: no share by that name.
    pub const NET_NAME_NOT_FOUND: Self = Self(2310);
}

/// One share as the SHARE_INFO_* levels describe it ([MS-SRVS] 2.2.4.22–2.2.4.26). Levels
/// that carry fewer fields ignore the rest when encoding and leave them default when
/// decoding.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Share {
    /// shi*_netname.
    pub name: String,
    /// shi*_type: see [`share_type`].
    pub share_type: u32,
    /// shi*_remark.
    pub remark: String,
    /// shi2_permissions (ignored by servers in user-level security; 0).
    pub permissions: u32,
    /// shi2_max_uses (0xFFFFFFFF: unlimited).
    pub max_uses: u32,
    /// shi2_current_uses.
    pub current_uses: u32,
    /// shi2_path, e.g. `C:\share`.
    pub path: String,
    /// shi501_flags / shi1005_flags (caching and DFS flags, [MS-SRVS] 2.2.4.29).
    pub flags: u32,
}

/// SERVER_INFO_100 / SERVER_INFO_101 ([MS-SRVS] 2.2.4.40, 2.2.4.41).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServerInfo {
    /// sv*_platform_id: PLATFORM_ID_NT = 500.
    pub platform_id: u32,
    /// sv*_name: the server's NetBIOS name.
    pub name: String,
    /// sv101_version_major.
    pub version_major: u32,
    /// sv101_version_minor.
    pub version_minor: u32,
    /// sv101_type: SV_TYPE_* bits.
    pub server_type: u32,
    /// sv101_comment.
    pub comment: String,
}

/// PLATFORM_ID_NT.
pub const PLATFORM_ID_NT: u32 = 500;
/// SV_TYPE_WORKSTATION | SV_TYPE_SERVER | SV_TYPE_SERVER_NT ([MS-SRVS] 2.2.2.7).
pub const SV_TYPE_DEFAULT: u32 = 0x0000_0001 | 0x0000_0002 | 0x0000_8000;

/// NetrShareEnum's inputs ([MS-SRVS] 3.1.4.8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareEnumRequest {
    /// ServerName, if sent.
    pub server_name: Option<String>,
    /// InfoStruct.Level: 0, 1, 2, 501, 502 or 503; we answer 0 and 1.
    pub level: u32,
    /// PreferedMaximumLength (0xFFFFFFFF: everything).
    pub prefered_maximum_length: u32,
    /// ResumeHandle, if sent.
    pub resume_handle: Option<u32>,
}

/// NetrShareGetInfo's inputs ([MS-SRVS] 3.1.4.10).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGetInfoRequest {
    /// ServerName, if sent.
    pub server_name: Option<String>,
    /// NetName: the share.
    pub net_name: String,
    /// Level.
    pub level: u32,
}

/// NetrServerGetInfo's inputs ([MS-SRVS] 3.1.4.17).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerGetInfoRequest {
    /// ServerName, if sent.
    pub server_name: Option<String>,
    /// Level: 100, 101 or 102; we answer 100 and 101.
    pub level: u32,
}

/// The srvsvc requests this module decodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SrvsvcRequest {
    /// NetrShareEnum.
    ShareEnum(ShareEnumRequest),
    /// NetrShareGetInfo.
    ShareGetInfo(ShareGetInfoRequest),
    /// NetrServerGetInfo.
    ServerGetInfo(ServerGetInfoRequest),
}

/// Why a request could not be decoded: an opnum we do not implement (the server answers with
/// a nca_s_op_rng_error FAULT) or a malformed stub (RPC_X_BAD_STUB_DATA).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SrvsvcError {
    /// The opnum is not one of 15, 16, 21.
    #[error("srvsvc opnum {0} not implemented")]
    UnknownOpnum(u16),
    /// The stub did not decode.
    #[error(transparent)]
    Decode(#[from] DecodeError),
}

impl SrvsvcRequest {
    /// Decodes the stub of a REQUEST with `opnum`.
    pub fn decode(opnum: u16, stub: &[u8]) -> Result<Self, SrvsvcError> {
        let mut r = NdrReader::new(stub);
        let req = match opnum {
            opnum::NETR_SHARE_ENUM => {
                let server_name = r.unique_string("ServerName")?;
                let level = r.u32("Level")?;
                let tag = r.u32("ShareInfo switch")?;
                if tag != level {
                    return Err(DecodeError::InvalidValue {
                        field: "ShareInfo switch",
                        value: u64::from(tag),
                    }
                    .into());
                }
                if r.pointer("ShareInfo container")? {
                    let _entries = r.u32("EntriesRead")?;
                    if r.pointer("Buffer")? {
                        // Clients send an empty container; an array in a request is refused
                        // rather than parsed and thrown away.
                        return Err(DecodeError::InvalidValue {
                            field: "Buffer (non-null in a request)",
                            value: 1,
                        }
                        .into());
                    }
                }
                let prefered_maximum_length = r.u32("PreferedMaximumLength")?;
                let resume_handle = if r.pointer("ResumeHandle")? {
                    Some(r.u32("ResumeHandle")?)
                } else {
                    None
                };
                Self::ShareEnum(ShareEnumRequest {
                    server_name,
                    level,
                    prefered_maximum_length,
                    resume_handle,
                })
            }
            opnum::NETR_SHARE_GET_INFO => {
                let server_name = r.unique_string("ServerName")?;
                let net_name = r.string("NetName")?;
                let level = r.u32("Level")?;
                Self::ShareGetInfo(ShareGetInfoRequest {
                    server_name,
                    net_name,
                    level,
                })
            }
            opnum::NETR_SERVER_GET_INFO => {
                let server_name = r.unique_string("ServerName")?;
                let level = r.u32("Level")?;
                Self::ServerGetInfo(ServerGetInfoRequest { server_name, level })
            }
            other => return Err(SrvsvcError::UnknownOpnum(other)),
        };
        r.finish("srvsvc request")?;
        Ok(req)
    }

    /// The opnum of this request.
    pub const fn opnum(&self) -> u16 {
        match self {
            Self::ShareEnum(_) => opnum::NETR_SHARE_ENUM,
            Self::ShareGetInfo(_) => opnum::NETR_SHARE_GET_INFO,
            Self::ServerGetInfo(_) => opnum::NETR_SERVER_GET_INFO,
        }
    }

    /// The request stub, as a client marshals it.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        match self {
            Self::ShareEnum(q) => {
                w.unique_string(q.server_name.as_deref());
                w.u32(q.level);
                w.u32(q.level);
                w.pointer();
                w.u32(0);
                w.null();
                w.u32(q.prefered_maximum_length);
                match q.resume_handle {
                    Some(h) => {
                        w.pointer();
                        w.u32(h);
                    }
                    None => w.null(),
                }
            }
            Self::ShareGetInfo(q) => {
                w.unique_string(q.server_name.as_deref());
                w.string(&q.net_name);
                w.u32(q.level);
            }
            Self::ServerGetInfo(q) => {
                w.unique_string(q.server_name.as_deref());
                w.u32(q.level);
            }
        }
        w.into_inner()
    }
}

/// NetrShareEnum's outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareEnumResponse {
    /// The level answered (the request's).
    pub level: u32,
    /// The shares (for an unimplemented level, none).
    pub shares: Vec<Share>,
    /// TotalEntries.
    pub total_entries: u32,
    /// ResumeHandle, echoed when the client sent one.
    pub resume_handle: Option<u32>,
    /// The return value.
    pub status: WError,
}

impl ShareEnumResponse {
    /// Levels this module encodes for NetrShareEnum.
    pub const LEVELS: [u32; 2] = [0, 1];

    /// The answer to `req` listing `shares`: all of them in one reply (no paging), or
    /// INVALID_LEVEL for levels other than 0 and 1.
    pub fn answer(req: &ShareEnumRequest, shares: &[Share]) -> Self {
        let ok = Self::LEVELS.contains(&req.level);
        Self {
            level: req.level,
            shares: if ok { shares.to_vec() } else { Vec::new() },
            total_entries: if ok { shares.len() as u32 } else { 0 },
            resume_handle: req.resume_handle.map(|_| 0),
            status: if ok {
                WError::OK
            } else {
                WError::INVALID_LEVEL
            },
        }
    }

    /// The response stub.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u32(self.level);
        w.u32(self.level);
        if Self::LEVELS.contains(&self.level) {
            w.pointer();
            w.u32(self.shares.len() as u32);
            if self.shares.is_empty() {
                w.null();
            } else {
                w.pointer();
                w.u32(self.shares.len() as u32);
                for s in &self.shares {
                    w.pointer();
                    if self.level == 1 {
                        w.u32(s.share_type);
                        w.pointer();
                    }
                }
                for s in &self.shares {
                    w.string(&s.name);
                    if self.level == 1 {
                        w.string(&s.remark);
                    }
                }
            }
        }
        w.u32(self.total_entries);
        match self.resume_handle {
            Some(h) => {
                w.pointer();
                w.u32(h);
            }
            None => w.null(),
        }
        w.u32(self.status.0);
        w.into_inner()
    }

    /// Decodes a response stub (what a client does). The entry count is checked against the
    /// stub's size before anything is allocated.
    pub fn decode(stub: &[u8]) -> Result<Self, DecodeError> {
        let mut r = NdrReader::new(stub);
        let level = r.u32("Level")?;
        let tag = r.u32("ShareInfo switch")?;
        if tag != level {
            return Err(DecodeError::InvalidValue {
                field: "ShareInfo switch",
                value: u64::from(tag),
            });
        }
        let mut shares = Vec::new();
        if Self::LEVELS.contains(&level) && r.pointer("container")? {
            let entries = r.u32("EntriesRead")? as usize;
            if r.pointer("Buffer")? {
                let count = r.u32("Buffer count")? as usize;
                // Each level-0 entry takes at least 4 bytes; level 1, 12.
                if count != entries || count > r.remaining() / 4 {
                    return Err(DecodeError::InvalidValue {
                        field: "Buffer count",
                        value: count as u64,
                    });
                }
                let mut fixed = Vec::with_capacity(count);
                for _ in 0..count {
                    let name = r.pointer("shi_netname")?;
                    let (ty, remark) = if level == 1 {
                        (r.u32("shi1_type")?, r.pointer("shi1_remark")?)
                    } else {
                        (0, false)
                    };
                    fixed.push((name, ty, remark));
                }
                for (name, ty, remark) in fixed {
                    shares.push(Share {
                        name: if name {
                            r.string("shi_netname")?
                        } else {
                            String::new()
                        },
                        share_type: ty,
                        remark: if remark {
                            r.string("shi1_remark")?
                        } else {
                            String::new()
                        },
                        ..Share::default()
                    });
                }
            } else if entries != 0 {
                return Err(DecodeError::InvalidValue {
                    field: "EntriesRead without Buffer",
                    value: entries as u64,
                });
            }
        }
        let total_entries = r.u32("TotalEntries")?;
        let resume_handle = if r.pointer("ResumeHandle")? {
            Some(r.u32("ResumeHandle")?)
        } else {
            None
        };
        let status = WError(r.u32("status")?);
        r.finish("NetrShareEnum response")?;
        Ok(Self {
            level,
            shares,
            total_entries,
            resume_handle,
            status,
        })
    }
}

/// NetrShareGetInfo's outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareGetInfoResponse {
    /// The level answered.
    pub level: u32,
    /// The share; `None` with an error status.
    pub share: Option<Share>,
    /// The return value.
    pub status: WError,
}

impl ShareGetInfoResponse {
    /// Levels this module encodes for NetrShareGetInfo.
    pub const LEVELS: [u32; 6] = [0, 1, 2, 501, 502, 1005];

    /// The answer to `req` given the share it names (`None`: no such share).
    pub fn answer(req: &ShareGetInfoRequest, share: Option<&Share>) -> Self {
        if !Self::LEVELS.contains(&req.level) {
            return Self {
                level: req.level,
                share: None,
                status: WError::INVALID_LEVEL,
            };
        }
        match share {
            Some(s) => Self {
                level: req.level,
                share: Some(s.clone()),
                status: WError::OK,
            },
            None => Self {
                level: req.level,
                share: None,
                status: WError::NET_NAME_NOT_FOUND,
            },
        }
    }

    /// The response stub.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u32(self.level);
        if Self::LEVELS.contains(&self.level) {
            match &self.share {
                None => w.null(),
                Some(s) => {
                    w.pointer();
                    encode_share(&mut w, self.level, s);
                }
            }
        }
        w.u32(self.status.0);
        w.into_inner()
    }

    /// Decodes a response stub.
    pub fn decode(stub: &[u8]) -> Result<Self, DecodeError> {
        let mut r = NdrReader::new(stub);
        let level = r.u32("Level")?;
        let share = if Self::LEVELS.contains(&level) && r.pointer("InfoStruct")? {
            Some(decode_share(&mut r, level)?)
        } else {
            None
        };
        let status = WError(r.u32("status")?);
        r.finish("NetrShareGetInfo response")?;
        Ok(Self {
            level,
            share,
            status,
        })
    }
}

/// One SHARE_INFO_<level> structure with its deferred strings.
fn encode_share(w: &mut NdrWriter, level: u32, s: &Share) {
    if level == 1005 {
        w.u32(s.flags);
        return;
    }
    w.pointer();
    if level == 0 {
        w.string(&s.name);
        return;
    }
    w.u32(s.share_type);
    w.pointer();
    let with_path = level == 2 || level == 502;
    if with_path {
        w.u32(s.permissions);
        w.u32(s.max_uses);
        w.u32(s.current_uses);
        w.pointer(); // path
        w.null(); // passwd
        if level == 502 {
            w.u32(0); // shi502_reserved: security descriptor size
            w.null(); // shi502_security_descriptor
        }
    }
    if level == 501 {
        w.u32(s.flags);
    }
    w.string(&s.name);
    w.string(&s.remark);
    if with_path {
        w.string(&s.path);
    }
}

fn decode_share(r: &mut NdrReader<'_>, level: u32) -> Result<Share, DecodeError> {
    let mut s = Share::default();
    if level == 1005 {
        s.flags = r.u32("shi1005_flags")?;
        return Ok(s);
    }
    let name = r.pointer("shi_netname")?;
    let mut remark = false;
    let mut path = false;
    let mut passwd = false;
    let mut sd = false;
    if level != 0 {
        s.share_type = r.u32("shi_type")?;
        remark = r.pointer("shi_remark")?;
    }
    if level == 2 || level == 502 {
        s.permissions = r.u32("shi_permissions")?;
        s.max_uses = r.u32("shi_max_uses")?;
        s.current_uses = r.u32("shi_current_uses")?;
        path = r.pointer("shi_path")?;
        passwd = r.pointer("shi_passwd")?;
        if level == 502 {
            let _reserved = r.u32("shi502_reserved")?;
            sd = r.pointer("shi502_security_descriptor")?;
        }
    }
    if level == 501 {
        s.flags = r.u32("shi501_flags")?;
    }
    if passwd || sd {
        return Err(DecodeError::InvalidValue {
            field: "shi_passwd / security descriptor (unsupported)",
            value: 1,
        });
    }
    if name {
        s.name = r.string("shi_netname")?;
    }
    if remark {
        s.remark = r.string("shi_remark")?;
    }
    if path {
        s.path = r.string("shi_path")?;
    }
    Ok(s)
}

/// NetrServerGetInfo's outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerGetInfoResponse {
    /// The level answered.
    pub level: u32,
    /// The information; `None` with an error status.
    pub info: Option<ServerInfo>,
    /// The return value.
    pub status: WError,
}

impl ServerGetInfoResponse {
    /// Levels this module encodes for NetrServerGetInfo.
    pub const LEVELS: [u32; 2] = [100, 101];

    /// The answer to `req` describing `info`.
    pub fn answer(req: &ServerGetInfoRequest, info: &ServerInfo) -> Self {
        if Self::LEVELS.contains(&req.level) {
            Self {
                level: req.level,
                info: Some(info.clone()),
                status: WError::OK,
            }
        } else {
            Self {
                level: req.level,
                info: None,
                status: WError::INVALID_LEVEL,
            }
        }
    }

    /// The response stub.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = NdrWriter::new();
        w.u32(self.level);
        if Self::LEVELS.contains(&self.level) {
            match &self.info {
                None => w.null(),
                Some(i) => {
                    w.pointer();
                    w.u32(i.platform_id);
                    w.pointer();
                    if self.level == 101 {
                        w.u32(i.version_major);
                        w.u32(i.version_minor);
                        w.u32(i.server_type);
                        w.pointer();
                    }
                    w.string(&i.name);
                    if self.level == 101 {
                        w.string(&i.comment);
                    }
                }
            }
        }
        w.u32(self.status.0);
        w.into_inner()
    }

    /// Decodes a response stub.
    pub fn decode(stub: &[u8]) -> Result<Self, DecodeError> {
        let mut r = NdrReader::new(stub);
        let level = r.u32("Level")?;
        let info = if Self::LEVELS.contains(&level) && r.pointer("InfoStruct")? {
            let mut i = ServerInfo {
                platform_id: r.u32("sv_platform_id")?,
                ..ServerInfo::default()
            };
            let name = r.pointer("sv_name")?;
            let mut comment = false;
            if level == 101 {
                i.version_major = r.u32("sv101_version_major")?;
                i.version_minor = r.u32("sv101_version_minor")?;
                i.server_type = r.u32("sv101_type")?;
                comment = r.pointer("sv101_comment")?;
            }
            if name {
                i.name = r.string("sv_name")?;
            }
            if comment {
                i.comment = r.string("sv101_comment")?;
            }
            Some(i)
        } else {
            None
        };
        let status = WError(r.u32("status")?);
        r.finish("NetrServerGetInfo response")?;
        Ok(Self {
            level,
            info,
            status,
        })
    }
}

/// The most bytes of replies a pipe queues before refusing writes: a client that writes
/// requests without reading the replies is stopped here.
pub const PIPE_OUTPUT_MAX: usize = 1 << 20;

/// Why a write to the pipe was refused. The server fails the SMB2 WRITE (or closes the pipe).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PipeError {
    /// The bytes are not a DCE/RPC stream (bad version, big-endian, frag_length too small).
    #[error("not a DCE/RPC PDU stream: {0}")]
    Framing(DecodeError),
    /// Replies not yet read exceed [`PIPE_OUTPUT_MAX`].
    #[error("pipe output full")]
    OutputFull,
}

/// One SMB2 READ's worth of a reply message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipeRead {
    /// The bytes (at most the READ's length).
    pub data: Vec<u8>,
    /// Whether the message has bytes left for the next READ: the server answers this READ
    /// with STATUS_BUFFER_OVERFLOW ([MS-SMB2] 3.3.5.12, message-mode pipes).
    pub more: bool,
}

/// The server end of one open of `\PIPE\srvsvc`: a DCE/RPC association serving the srvsvc
/// interface. Sans-IO: [`SrvsvcPipe::handle_write`] consumes what the client wrote (PDUs may be
/// split across writes) and queues replies; [`SrvsvcPipe::poll_read`] hands them out one pipe
/// message (PDU fragment) at a time.
#[derive(Debug, Clone)]
pub struct SrvsvcPipe {
    assoc_group_id: u32,
    /// Context ids accepted by BIND / ALTER_CONTEXT (at most 255 are remembered).
    bound: Vec<u16>,
    /// The client's max_recv_frag: the largest fragment we send.
    max_frag: u16,
    /// Bytes of a PDU not yet complete (at most [`dcerpc::PDU_MAX`]).
    input: Vec<u8>,
    /// Reply messages not yet read.
    output: VecDeque<Vec<u8>>,
    output_bytes: usize,
}

impl SrvsvcPipe {
    /// A fresh pipe; `assoc_group_id` (non-zero) names the association it creates.
    pub fn new(assoc_group_id: u32) -> Self {
        Self {
            assoc_group_id: assoc_group_id.max(1),
            bound: Vec::new(),
            max_frag: dcerpc::FRAG_MAX,
            input: Vec::new(),
            output: VecDeque::new(),
            output_bytes: 0,
        }
    }

    /// Consumes bytes the client wrote and queues the replies to every complete PDU. `shares`
    /// is the list this client may see (IPC$ included); `server` answers NetrServerGetInfo.
    /// Malformed PDUs get a FAULT or BIND_NAK; only a broken stream is an error.
    pub fn handle_write(
        &mut self,
        data: &[u8],
        shares: &[Share],
        server: &ServerInfo,
    ) -> Result<(), PipeError> {
        if self.output_bytes > PIPE_OUTPUT_MAX {
            return Err(PipeError::OutputFull);
        }
        let mut data = data;
        loop {
            // Take only as much as completes the current PDU, so the buffer never exceeds one
            // PDU whatever the client writes.
            let need = match dcerpc::pdu_len(&self.input).map_err(PipeError::Framing)? {
                Some(len) => len - self.input.len(),
                None => dcerpc::HEADER_LEN - self.input.len(),
            };
            let take = need.min(data.len());
            self.input.extend_from_slice(&data[..take]);
            data = &data[take..];
            match dcerpc::pdu_len(&self.input).map_err(PipeError::Framing)? {
                Some(len) if self.input.len() == len => {
                    let pdu = std::mem::take(&mut self.input);
                    self.handle_pdu(&pdu, shares, server);
                }
                _ => {}
            }
            if data.is_empty() {
                return Ok(());
            }
        }
    }

    /// The next reply bytes, at most `max` of them (`max` of 0 is treated as 1), or `None`
    /// when nothing is queued (the server then answers a READ with STATUS_PIPE_EMPTY or waits).
    pub fn poll_read(&mut self, max: usize) -> Option<PipeRead> {
        let max = max.max(1);
        let front = self.output.front_mut()?;
        if front.len() <= max {
            let data = self.output.pop_front()?;
            self.output_bytes -= data.len();
            Some(PipeRead { data, more: false })
        } else {
            let rest = front.split_off(max);
            let data = std::mem::replace(front, rest);
            self.output_bytes -= data.len();
            Some(PipeRead { data, more: true })
        }
    }

    /// Reply bytes queued.
    pub const fn pending(&self) -> usize {
        self.output_bytes
    }

    fn push(&mut self, pdu: Vec<u8>) {
        self.output_bytes += pdu.len();
        self.output.push_back(pdu);
    }

    fn handle_pdu(&mut self, bytes: &[u8], shares: &[Share], server: &ServerInfo) {
        let call_id = bytes
            .get(12..16)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
        let ptype = bytes.get(2).copied().unwrap_or(0xff);
        let single = PFC_FIRST_FRAG | PFC_LAST_FRAG;
        let pdu = match Pdu::decode(bytes) {
            Ok(p) => p,
            Err(_) if ptype == dcerpc::ptype::BIND || ptype == dcerpc::ptype::ALTER_CONTEXT => {
                let nak = PduBody::BindNak(dcerpc::BindNak {
                    reason: 0,
                    versions: vec![(5, 0)],
                });
                self.push(
                    Pdu {
                        flags: single,
                        call_id,
                        body: nak,
                    }
                    .encode(),
                );
                return;
            }
            Err(_) => return self.fault(call_id, 0, dcerpc::fault::PROTO_ERROR),
        };
        match pdu.body {
            PduBody::Bind(b) | PduBody::AlterContext(b) => {
                // The pipe is its own association group; a group id the client names is
                // answered with ours (clients use the one the BIND_ACK returns).
                let is_bind = ptype == dcerpc::ptype::BIND;
                let addr = if is_bind { PIPE_NAME } else { "" };
                let ack = b.accept(&[SRVSVC], self.assoc_group_id, addr);
                self.max_frag = ack.max_xmit_frag;
                for (c, r) in b.contexts.iter().zip(&ack.results) {
                    if r.result == dcerpc::result::ACCEPTANCE
                        && !self.bound.contains(&c.context_id)
                        && self.bound.len() < 255
                    {
                        self.bound.push(c.context_id);
                    }
                }
                let body = if is_bind {
                    PduBody::BindAck(ack)
                } else {
                    PduBody::AlterContextResp(ack)
                };
                self.push(
                    Pdu {
                        flags: single,
                        call_id,
                        body,
                    }
                    .encode(),
                );
            }
            PduBody::Request(q) => {
                if !self.bound.contains(&q.context_id) {
                    return self.fault(call_id, q.context_id, dcerpc::fault::UNKNOWN_IF);
                }
                match SrvsvcRequest::decode(q.opnum, &q.stub) {
                    Ok(req) => {
                        let stub = req.answer(shares, server);
                        for frag in
                            dcerpc::response_fragments(call_id, q.context_id, &stub, self.max_frag)
                        {
                            self.push(frag);
                        }
                    }
                    Err(SrvsvcError::UnknownOpnum(_)) => {
                        self.fault(call_id, q.context_id, dcerpc::fault::OP_RNG_ERROR);
                    }
                    Err(SrvsvcError::Decode(_)) => {
                        self.fault(call_id, q.context_id, dcerpc::fault::BAD_STUB_DATA);
                    }
                }
            }
            _ => self.fault(call_id, 0, dcerpc::fault::PROTO_ERROR),
        }
    }

    fn fault(&mut self, call_id: u32, context_id: u16, status: u32) {
        let body = PduBody::Fault(Fault {
            alloc_hint: 0,
            context_id,
            cancel_count: 0,
            status,
        });
        self.push(
            Pdu {
                flags: PFC_FIRST_FRAG | PFC_LAST_FRAG,
                call_id,
                body,
            }
            .encode(),
        );
    }
}

impl SrvsvcRequest {
    /// The response stub for this request: `shares` is the list the client may see (names
    /// match case-insensitively for NetrShareGetInfo), `server` describes the server.
    pub fn answer(&self, shares: &[Share], server: &ServerInfo) -> Vec<u8> {
        match self {
            Self::ShareEnum(q) => ShareEnumResponse::answer(q, shares).encode(),
            Self::ShareGetInfo(q) => {
                let want = q.net_name.to_lowercase();
                let share = shares.iter().find(|s| s.name.to_lowercase() == want);
                ShareGetInfoResponse::answer(q, share).encode()
            }
            Self::ServerGetInfo(q) => ServerGetInfoResponse::answer(q, server).encode(),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn shares() -> Vec<Share> {
        vec![
            Share {
                name: "export".into(),
                share_type: share_type::DISKTREE,
                remark: "DittoFS".into(),
                path: "C:\\export".into(),
                max_uses: u32::MAX,
                ..Share::default()
            },
            Share {
                name: "IPC$".into(),
                share_type: share_type::IPC_HIDDEN,
                remark: "Remote IPC".into(),
                ..Share::default()
            },
        ]
    }

    /// Goal: a NetrShareEnum request marshalled by hand per [MS-SRVS] 3.1.4.8 and NDR
    /// (unique ServerName "\\srv", level 1 with an empty container, no resume handle)
    /// decodes.
    #[test]
    fn share_enum_request_from_spec_bytes() {
        let stub = hex::decode(concat!(
            "00000200", // ServerName referent
            "06000000",
            "00000000",
            "06000000", // max, offset, actual
            "5c005c00730072007600",
            "0000", // "\\srv" NUL
            "01000000",
            "01000000", // Level, switch
            "04000200",
            "00000000",
            "00000000", // container ptr, EntriesRead, Buffer null
            "ffffffff", // PreferedMaximumLength
            "00000000", // ResumeHandle null
        ))
        .unwrap();
        let req = SrvsvcRequest::decode(15, &stub).unwrap();
        assert_eq!(
            req,
            SrvsvcRequest::ShareEnum(ShareEnumRequest {
                server_name: Some("\\\\srv".into()),
                level: 1,
                prefered_maximum_length: u32::MAX,
                resume_handle: None,
            })
        );
        assert_eq!(req.encode(), stub);
    }

    /// Goal: every request round-trips; unknown opnums and bad stubs are refused.
    #[test]
    fn requests_round_trip() {
        let reqs = [
            SrvsvcRequest::ShareEnum(ShareEnumRequest {
                server_name: None,
                level: 0,
                prefered_maximum_length: 0x1000,
                resume_handle: Some(3),
            }),
            SrvsvcRequest::ShareGetInfo(ShareGetInfoRequest {
                server_name: Some("srv".into()),
                net_name: "export".into(),
                level: 502,
            }),
            SrvsvcRequest::ServerGetInfo(ServerGetInfoRequest {
                server_name: Some("\\\\192.0.2.1".into()),
                level: 101,
            }),
        ];
        for q in reqs {
            let stub = q.encode();
            assert_eq!(SrvsvcRequest::decode(q.opnum(), &stub), Ok(q.clone()));
            assert!(SrvsvcRequest::decode(q.opnum(), &stub[..stub.len() - 1]).is_err());
        }
        assert_eq!(
            SrvsvcRequest::decode(99, &[]),
            Err(SrvsvcError::UnknownOpnum(99))
        );
    }

    /// Goal: the level-1 share list has the NDR layout [MS-SRVS] 2.2.4.33 and 2.2.4.23 give
    /// (fixed parts first, then each entry's strings), lists IPC$ as STYPE_IPC_HIDDEN, and
    /// decodes back.
    #[test]
    fn share_enum_level1_layout() {
        let req = ShareEnumRequest {
            server_name: None,
            level: 1,
            prefered_maximum_length: u32::MAX,
            resume_handle: None,
        };
        let resp = ShareEnumResponse::answer(&req, &shares());
        let stub = resp.encode();
        let u32_at = |i: usize| u32::from_le_bytes(stub[i..i + 4].try_into().unwrap());
        assert_eq!((u32_at(0), u32_at(4)), (1, 1)); // level, switch
        assert_eq!(u32_at(12), 2); // EntriesRead
        assert_eq!(u32_at(20), 2); // conformance
        assert_eq!(u32_at(24 + 12 + 4), share_type::IPC_HIDDEN); // second entry's type
        assert_eq!(
            &stub[stub.len() - 12..],
            &[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        let back = ShareEnumResponse::decode(&stub).unwrap();
        assert_eq!(back.shares[1].name, "IPC$");
        assert_eq!(back.shares[1].share_type, 0x8000_0003);
        assert_eq!(back.shares[0].remark, "DittoFS");
        assert_eq!(back.encode(), stub);
        let zero = ShareEnumResponse::answer(
            &ShareEnumRequest {
                level: 0,
                ..req.clone()
            },
            &shares(),
        );
        assert_eq!(
            ShareEnumResponse::decode(&zero.encode()).unwrap().shares[0].name,
            "export"
        );
        let bad = ShareEnumResponse::answer(&ShareEnumRequest { level: 2, ..req }, &shares());
        assert_eq!(bad.status, WError::INVALID_LEVEL);
        assert_eq!(ShareEnumResponse::decode(&bad.encode()), Ok(bad));
    }

    /// Goal: NetrShareGetInfo answers every implemented level and round-trips; unknown levels
    /// and missing shares get their errors.
    #[test]
    fn share_get_info_levels() {
        let s = &shares()[0];
        for level in ShareGetInfoResponse::LEVELS {
            let req = ShareGetInfoRequest {
                server_name: None,
                net_name: "export".into(),
                level,
            };
            let resp = ShareGetInfoResponse::answer(&req, Some(s));
            let back = ShareGetInfoResponse::decode(&resp.encode()).unwrap();
            assert_eq!(back.encode(), resp.encode(), "level {level}");
            let got = back.share.unwrap();
            if level != 1005 {
                assert_eq!(got.name, "export");
            }
            if [2, 502].contains(&level) {
                assert_eq!(got.path, "C:\\export");
            }
            let missing = ShareGetInfoResponse::answer(&req, None);
            assert_eq!(missing.status, WError::NET_NAME_NOT_FOUND);
            assert_eq!(ShareGetInfoResponse::decode(&missing.encode()), Ok(missing));
        }
        let req = ShareGetInfoRequest {
            server_name: None,
            net_name: "x".into(),
            level: 7,
        };
        let r = ShareGetInfoResponse::answer(&req, Some(s));
        assert_eq!(r.status, WError::INVALID_LEVEL);
        assert_eq!(r.encode(), [7, 0, 0, 0, 124, 0, 0, 0]);
    }

    /// Goal: NetrServerGetInfo levels 100 and 101 round-trip; 102 is INVALID_LEVEL.
    #[test]
    fn server_get_info_levels() {
        let info = ServerInfo {
            platform_id: PLATFORM_ID_NT,
            name: "DITTOFS".into(),
            version_major: 10,
            version_minor: 0,
            server_type: SV_TYPE_DEFAULT,
            comment: "DittoFS".into(),
        };
        for level in [100, 101] {
            let req = ServerGetInfoRequest {
                server_name: None,
                level,
            };
            let resp = ServerGetInfoResponse::answer(&req, &info);
            let back = ServerGetInfoResponse::decode(&resp.encode()).unwrap();
            assert_eq!(back.info.as_ref().unwrap().name, "DITTOFS");
            assert_eq!(back.encode(), resp.encode());
        }
        let resp = ServerGetInfoResponse::answer(
            &ServerGetInfoRequest {
                server_name: None,
                level: 102,
            },
            &info,
        );
        assert_eq!(resp.status, WError::INVALID_LEVEL);
    }

    /// Goal: stubs captured from Windows (published as test data with SMBLibrary's
    /// RPCTests) decode: a NetrShareEnum level-1 request, a NetrShareGetInfo request whose
    /// alignment padding is not zero, a level-1 share list (C$, ADMIN$ as STYPE_SPECIAL, IPC$
    /// as STYPE_IPC_HIDDEN, with garbage in string padding) and a NetrServerGetInfo level-101
    /// response; and our encoding of the decoded values decodes to the same values.
    #[test]
    fn windows_captures_decode() {
        let enum_req = hex::decode(concat!(
            "000002000f000000000000000f0000005c005c003100390032002e003100360038002e0031002e00",
            "35003700000000000100000001000000040002000000000000000000ffffffff00000000",
        ))
        .unwrap();
        assert_eq!(
            SrvsvcRequest::decode(15, &enum_req),
            Ok(SrvsvcRequest::ShareEnum(ShareEnumRequest {
                server_name: Some("\\\\192.168.1.57".into()),
                level: 1,
                prefered_maximum_length: u32::MAX,
                resume_handle: None,
            }))
        );
        assert_eq!(
            SrvsvcRequest::decode(15, &enum_req).unwrap().encode(),
            enum_req
        );
        let get_req = hex::decode(concat!(
            "000002000f000000000000000f0000005c005c003100390032002e003100360038002e0031002e00",
            "35003200000000000700000000000000070000005300680061007200650064000000b76c02000000",
        ))
        .unwrap();
        assert_eq!(
            SrvsvcRequest::decode(16, &get_req),
            Ok(SrvsvcRequest::ShareGetInfo(ShareGetInfoRequest {
                server_name: Some("\\\\192.168.1.52".into()),
                net_name: "Shared".into(),
                level: 2,
            }))
        );
        let mut zero_padded = get_req.clone();
        let n = zero_padded.len();
        zero_padded[n - 6..n - 4].fill(0);
        assert_eq!(
            SrvsvcRequest::decode(16, &get_req).unwrap().encode(),
            zero_padded
        );
        let enum_resp = hex::decode(concat!(
            "01000000010000000000020004000000040002000400000008000200000000800c00020010000200",
            "000000001400020018000200030000801c0002002000020000000080240002000300000000000000",
            "0300000043002400000069000e000000000000000e000000440065006600610075006c0074002000",
            "73006800610072006500000007000000000000000700000053006800610072006500640000004100",
            "01000000000000000100000000000000050000000000000005000000490050004300240000002400",
            "0b000000000000000b000000520065006d006f007400650020004900500043000000680007000000",
            "0000000007000000410044004d0049004e002400000000000d000000000000000d00000052006500",
            "6d006f00740065002000410064006d0069006e0000000000040000000000000000000000",
        ))
        .unwrap();
        let list = ShareEnumResponse::decode(&enum_resp).unwrap();
        let names: Vec<_> = list
            .shares
            .iter()
            .map(|s| (s.name.as_str(), s.share_type))
            .collect();
        assert_eq!(
            names,
            [
                ("C$", 0x8000_0000),
                ("Shared", 0),
                ("IPC$", share_type::IPC_HIDDEN),
                ("ADMIN$", 0x8000_0000)
            ]
        );
        assert_eq!(list.shares[2].remark, "Remote IPC");
        assert_eq!(
            (list.total_entries, list.resume_handle, list.status),
            (4, None, WError::OK)
        );
        // Our encoding is Windows' byte for byte (referent ids included), except that we pad
        // strings with zeros where Windows left garbage.
        let mut zero_padded = enum_resp.clone();
        for i in [90, 158, 198, 234] {
            zero_padded[i] = 0;
        }
        assert_eq!(list.encode(), zero_padded);
        let server = hex::decode(concat!(
            "6500000000000200f401000004000200050000000200000003908400080002000d000000000000000d000000",
            "3100390032002e003100360038002e0031002e00350037000000000001000000000000000100000000005500",
            "00000000",
        ))
        .unwrap();
        let info = ServerGetInfoResponse::decode(&server).unwrap();
        let i = info.info.clone().unwrap();
        assert_eq!(
            (
                i.platform_id,
                i.name.as_str(),
                i.version_major,
                i.version_minor
            ),
            (500, "192.168.1.57", 5, 2)
        );
        assert_eq!((i.server_type, i.comment.as_str()), (0x0084_9003, ""));
        let mut zero_padded = server.clone();
        zero_padded[86] = 0;
        assert_eq!(info.encode(), zero_padded);
    }

    fn pipe_bind(pipe: &mut SrvsvcPipe, call_id: u32) -> dcerpc::BindAck {
        let bind = Pdu {
            flags: PFC_FIRST_FRAG | PFC_LAST_FRAG,
            call_id,
            body: PduBody::Bind(dcerpc::Bind {
                max_xmit_frag: 4280,
                max_recv_frag: 1024,
                assoc_group_id: 0,
                contexts: vec![dcerpc::ContextElem {
                    context_id: 0,
                    abstract_syntax: SRVSVC,
                    transfer_syntaxes: vec![SyntaxId::NDR],
                }],
            }),
        }
        .encode();
        // Split across two writes, as a client may.
        pipe.handle_write(&bind[..10], &[], &ServerInfo::default())
            .unwrap();
        assert!(pipe.poll_read(4280).is_none());
        pipe.handle_write(&bind[10..], &[], &ServerInfo::default())
            .unwrap();
        let read = pipe.poll_read(4280).unwrap();
        assert!(!read.more);
        let pdu = Pdu::decode(&read.data).unwrap();
        assert_eq!(pdu.call_id, call_id);
        let PduBody::BindAck(ack) = pdu.body else {
            panic!("{pdu:?}")
        };
        ack
    }

    fn call(
        pipe: &mut SrvsvcPipe,
        shares: &[Share],
        req: &SrvsvcRequest,
        context_id: u16,
    ) -> Vec<Pdu> {
        let pdu = Pdu {
            flags: PFC_FIRST_FRAG | PFC_LAST_FRAG,
            call_id: 9,
            body: PduBody::Request(dcerpc::Request {
                alloc_hint: 0,
                context_id,
                opnum: req.opnum(),
                object: None,
                stub: req.encode(),
            }),
        };
        pipe.handle_write(&pdu.encode(), shares, &ServerInfo::default())
            .unwrap();
        let mut out = Vec::new();
        while let Some(r) = pipe.poll_read(usize::MAX) {
            out.push(Pdu::decode_fragment(&r.data).unwrap());
        }
        out
    }

    /// Goal: the pipe end to end: BIND (split across writes) is acknowledged with
    /// \\PIPE\\srvsvc, NetrShareEnum lists the shares with IPC$, a long list comes back in
    /// fragments no larger than the client's max_recv_frag, a short READ gets the rest on
    /// the next READ, and unbound contexts, unknown opnums and bad stubs get FAULTs.
    #[test]
    fn pipe_serves_share_enum() {
        let mut pipe = SrvsvcPipe::new(0x1234);
        let ack = pipe_bind(&mut pipe, 1);
        assert_eq!(ack.secondary_address, PIPE_NAME);
        assert_eq!(ack.results[0].result, dcerpc::result::ACCEPTANCE);
        assert_eq!(ack.max_xmit_frag, 1024);

        let req = SrvsvcRequest::ShareEnum(ShareEnumRequest {
            server_name: None,
            level: 1,
            prefered_maximum_length: u32::MAX,
            resume_handle: None,
        });
        let out = call(&mut pipe, &shares(), &req, 0);
        assert_eq!(out.len(), 1);
        let PduBody::Response(resp) = &out[0].body else {
            panic!("{out:?}")
        };
        let list = ShareEnumResponse::decode(&resp.stub).unwrap();
        assert!(
            list.shares
                .iter()
                .any(|s| s.name == "IPC$" && s.share_type == 0x8000_0003)
        );

        let many: Vec<Share> = (0..100)
            .map(|i| Share {
                name: format!("share{i}"),
                remark: "a remark".into(),
                ..Share::default()
            })
            .collect();
        let out = call(&mut pipe, &many, &req, 0);
        assert!(out.len() > 1);
        let mut stub = Vec::new();
        for (i, p) in out.iter().enumerate() {
            assert_eq!(p.flags & PFC_FIRST_FRAG != 0, i == 0);
            assert_eq!(p.flags & PFC_LAST_FRAG != 0, i == out.len() - 1);
            assert!(p.encode().len() <= 1024);
            let PduBody::Response(r) = &p.body else {
                panic!()
            };
            stub.extend_from_slice(&r.stub);
        }
        assert_eq!(ShareEnumResponse::decode(&stub).unwrap().shares.len(), 100);

        let get = SrvsvcRequest::ShareGetInfo(ShareGetInfoRequest {
            server_name: None,
            net_name: "EXPORT".into(),
            level: 1,
        });
        let pdu = Pdu {
            flags: 3,
            call_id: 4,
            body: PduBody::Request(dcerpc::Request {
                alloc_hint: 0,
                context_id: 0,
                opnum: get.opnum(),
                object: None,
                stub: get.encode(),
            }),
        };
        pipe.handle_write(&pdu.encode(), &shares(), &ServerInfo::default())
            .unwrap();
        let first = pipe.poll_read(10).unwrap();
        assert!(first.more);
        let rest = pipe.poll_read(4280).unwrap();
        assert!(!rest.more);
        let whole = [first.data, rest.data].concat();
        let PduBody::Response(r) = Pdu::decode(&whole).unwrap().body else {
            panic!()
        };
        assert_eq!(
            ShareGetInfoResponse::decode(&r.stub)
                .unwrap()
                .share
                .unwrap()
                .name,
            "export"
        );

        let fault = |out: &[Pdu]| match &out[0].body {
            PduBody::Fault(f) => f.status,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            fault(&call(&mut pipe, &[], &req, 5)),
            dcerpc::fault::UNKNOWN_IF
        );
        let mut bad = Pdu::decode(
            &Pdu {
                flags: 3,
                call_id: 5,
                body: PduBody::Request(dcerpc::Request {
                    alloc_hint: 0,
                    context_id: 0,
                    opnum: 99,
                    object: None,
                    stub: vec![],
                }),
            }
            .encode(),
        )
        .unwrap();
        pipe.handle_write(&bad.encode(), &[], &ServerInfo::default())
            .unwrap();
        let f = Pdu::decode(&pipe.poll_read(4280).unwrap().data).unwrap();
        assert!(matches!(
            f.body,
            PduBody::Fault(Fault {
                status: dcerpc::fault::OP_RNG_ERROR,
                ..
            })
        ));
        if let PduBody::Request(q) = &mut bad.body {
            q.opnum = 15;
            q.stub = vec![1, 2, 3];
        }
        pipe.handle_write(&bad.encode(), &[], &ServerInfo::default())
            .unwrap();
        let f = Pdu::decode(&pipe.poll_read(4280).unwrap().data).unwrap();
        assert!(matches!(
            f.body,
            PduBody::Fault(Fault {
                status: dcerpc::fault::BAD_STUB_DATA,
                ..
            })
        ));
        assert_eq!(pipe.pending(), 0);

        assert!(matches!(
            pipe.handle_write(
                &[4, 0, 0, 0, 0x10, 0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0],
                &[],
                &ServerInfo::default()
            ),
            Err(PipeError::Framing(_))
        ));
    }

    proptest! {
        /// Goal: how the client splits its writes does not change what the pipe answers.
        /// Method: a BIND and a NetrShareEnum call written at once and in random pieces.
        #[test]
        fn pipe_ignores_write_boundaries(cuts in vec(0usize..400, 0..6)) {
            let bind = Pdu {
                flags: PFC_FIRST_FRAG | PFC_LAST_FRAG,
                call_id: 1,
                body: PduBody::Bind(dcerpc::Bind {
                    max_xmit_frag: 4280,
                    max_recv_frag: 4280,
                    assoc_group_id: 0,
                    contexts: vec![dcerpc::ContextElem {
                        context_id: 0,
                        abstract_syntax: SRVSVC,
                        transfer_syntaxes: vec![SyntaxId::NDR],
                    }],
                }),
            };
            let req = SrvsvcRequest::ShareEnum(ShareEnumRequest {
                server_name: None,
                level: 1,
                prefered_maximum_length: u32::MAX,
                resume_handle: None,
            });
            let call = Pdu {
                flags: PFC_FIRST_FRAG | PFC_LAST_FRAG,
                call_id: 2,
                body: PduBody::Request(dcerpc::Request {
                    alloc_hint: 0,
                    context_id: 0,
                    opnum: req.opnum(),
                    object: None,
                    stub: req.encode(),
                }),
            };
            let stream = [bind.encode(), call.encode()].concat();
            let drain = |pipe: &mut SrvsvcPipe| {
                let mut out = Vec::new();
                while let Some(r) = pipe.poll_read(4280) {
                    out.push(r.data);
                }
                out
            };
            let mut whole = SrvsvcPipe::new(7);
            whole.handle_write(&stream, &shares(), &ServerInfo::default()).unwrap();
            let expected = drain(&mut whole);
            prop_assert_eq!(expected.len(), 2);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % stream.len()).collect();
            cuts.sort_unstable();
            let mut pieces = SrvsvcPipe::new(7);
            let mut at = 0;
            for c in cuts.into_iter().chain([stream.len()]) {
                pieces.handle_write(&stream[at..c.max(at)], &shares(), &ServerInfo::default()).unwrap();
                at = c.max(at);
            }
            prop_assert_eq!(drain(&mut pieces), expected);
        }

        /// Goal: request and response decoders never panic on arbitrary stubs, and whatever
        /// decodes re-encodes to something that decodes to the same value.
        #[test]
        fn decoders_never_panic(data in vec(any::<u8>(), 0..160), op in 14u16..23) {
            let mut pipe = SrvsvcPipe::new(1);
            let _ = pipe.handle_write(&data, &shares(), &ServerInfo::default());
            while pipe.poll_read(64).is_some() {}
            if let Ok(q) = SrvsvcRequest::decode(op, &data) {
                prop_assert_eq!(SrvsvcRequest::decode(op, &q.encode()), Ok(q));
            }
            if let Ok(p) = ShareEnumResponse::decode(&data) {
                prop_assert_eq!(ShareEnumResponse::decode(&p.encode()), Ok(p));
            }
            if let Ok(p) = ShareGetInfoResponse::decode(&data) {
                prop_assert_eq!(ShareGetInfoResponse::decode(&p.encode()), Ok(p));
            }
            if let Ok(p) = ServerGetInfoResponse::decode(&data) {
                prop_assert_eq!(ServerGetInfoResponse::decode(&p.encode()), Ok(p));
            }
        }
    }
}
