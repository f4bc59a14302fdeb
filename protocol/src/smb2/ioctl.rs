//! IOCTL ([MS-SMB2] 2.2.31, 2.2.32) and the FSCTL payloads the server handles: validate
//! negotiate info, network interfaces, resume keys and server-side copy, symlink reparse
//! points ([MS-FSCC] 2.1.2.4), zero data and allocated ranges ([MS-FSCC] 2.3).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

use crate::smb2::info::FileIdBytes;
use crate::smb2::le::{Reader, Writer, from_utf16le, utf16le};
use crate::smb2::limits;
use crate::wire::DecodeError;

/// The SMB2 header's length: bodies start here.
const HEADER_LEN: usize = 64;

/// An IOCTL / FSCTL control code ([MS-SMB2] 2.2.31 `CtlCode`, [MS-FSCC] 2.3), an open set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CtlCode(pub u32);

impl CtlCode {
    /// FSCTL_DFS_GET_REFERRALS.
    pub const DFS_GET_REFERRALS: Self = Self(0x0006_0194);
    /// FSCTL_DFS_GET_REFERRALS_EX.
    pub const DFS_GET_REFERRALS_EX: Self = Self(0x0006_01B0);
    /// FSCTL_GET_NTFS_VOLUME_DATA.
    pub const GET_NTFS_VOLUME_DATA: Self = Self(0x0009_0064);
    /// FSCTL_GET_OBJECT_ID.
    pub const GET_OBJECT_ID: Self = Self(0x0009_009C);
    /// FSCTL_SET_REPARSE_POINT.
    pub const SET_REPARSE_POINT: Self = Self(0x0009_00A4);
    /// FSCTL_GET_REPARSE_POINT.
    pub const GET_REPARSE_POINT: Self = Self(0x0009_00A8);
    /// FSCTL_DELETE_REPARSE_POINT.
    pub const DELETE_REPARSE_POINT: Self = Self(0x0009_00AC);
    /// FSCTL_CREATE_OR_GET_OBJECT_ID.
    pub const CREATE_OR_GET_OBJECT_ID: Self = Self(0x0009_00C0);
    /// FSCTL_SET_SPARSE.
    pub const SET_SPARSE: Self = Self(0x0009_00C4);
    /// FSCTL_QUERY_ALLOCATED_RANGES.
    pub const QUERY_ALLOCATED_RANGES: Self = Self(0x0009_40CF);
    /// FSCTL_SET_ZERO_DATA.
    pub const SET_ZERO_DATA: Self = Self(0x0009_80C8);
    /// FSCTL_DUPLICATE_EXTENTS_TO_FILE.
    pub const DUPLICATE_EXTENTS_TO_FILE: Self = Self(0x0009_8344);
    /// FSCTL_PIPE_PEEK.
    pub const PIPE_PEEK: Self = Self(0x0011_400C);
    /// FSCTL_PIPE_WAIT.
    pub const PIPE_WAIT: Self = Self(0x0011_0018);
    /// FSCTL_PIPE_TRANSCEIVE.
    pub const PIPE_TRANSCEIVE: Self = Self(0x0011_C017);
    /// FSCTL_SRV_REQUEST_RESUME_KEY.
    pub const SRV_REQUEST_RESUME_KEY: Self = Self(0x0014_0078);
    /// FSCTL_LMR_REQUEST_RESILIENCY.
    pub const LMR_REQUEST_RESILIENCY: Self = Self(0x0014_01D4);
    /// FSCTL_QUERY_NETWORK_INTERFACE_INFO.
    pub const QUERY_NETWORK_INTERFACE_INFO: Self = Self(0x0014_01FC);
    /// FSCTL_VALIDATE_NEGOTIATE_INFO.
    pub const VALIDATE_NEGOTIATE_INFO: Self = Self(0x0014_0204);
    /// FSCTL_SRV_ENUMERATE_SNAPSHOTS.
    pub const SRV_ENUMERATE_SNAPSHOTS: Self = Self(0x0014_4064);
    /// FSCTL_SRV_COPYCHUNK.
    pub const SRV_COPYCHUNK: Self = Self(0x0014_40F2);
    /// FSCTL_SRV_READ_HASH.
    pub const SRV_READ_HASH: Self = Self(0x0014_41BB);
    /// FSCTL_SRV_COPYCHUNK_WRITE.
    pub const SRV_COPYCHUNK_WRITE: Self = Self(0x0014_80F2);
}

/// SMB2_0_IOCTL_IS_FSCTL: the only IOCTL `Flags` bit ([MS-SMB2] 2.2.31).
pub const IOCTL_IS_FSCTL: u32 = 0x0000_0001;

fn structure_size(r: &mut Reader<'_>, want: u16, field: &'static str) -> Result<(), DecodeError> {
    let got = r.u16(field)?;
    if got != want {
        return Err(DecodeError::InvalidValue {
            field,
            value: got.into(),
        });
    }
    Ok(())
}

fn check_max(v: u32, field: &'static str) -> Result<(), DecodeError> {
    if v as usize > limits::TRANSACT_MAX {
        return Err(DecodeError::TooLong {
            field,
            len: v.into(),
            max: limits::TRANSACT_MAX as u64,
        });
    }
    Ok(())
}

/// The (offset, count) buffer of an IOCTL message: inside the message, after the fixed part
/// (`body_end`, [MS-SMB2] 3.3.5.15), at most [`limits::TRANSACT_MAX`] bytes.
fn buffer_at(
    r: &Reader<'_>,
    off: u32,
    len: u32,
    body_end: usize,
    field: &'static str,
) -> Result<Vec<u8>, DecodeError> {
    if len != 0 && (off as usize) < body_end {
        return Err(DecodeError::InvalidValue {
            field,
            value: off.into(),
        });
    }
    Ok(
        r.slice_at(off as usize, len as usize, limits::TRANSACT_MAX, field)?
            .to_vec(),
    )
}

/// SMB2 IOCTL Request ([MS-SMB2] 2.2.31).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlRequest {
    /// CtlCode.
    pub ctl_code: CtlCode,
    /// FileId (all 0xFF for FSCTLs that need no open, e.g. VALIDATE_NEGOTIATE_INFO).
    pub file_id: FileIdBytes,
    /// The input buffer (the FSCTL's request payload).
    pub input: Vec<u8>,
    /// The request's output buffer (normally empty).
    pub output: Vec<u8>,
    /// MaxInputResponse.
    pub max_input_response: u32,
    /// MaxOutputResponse: the most output the client accepts.
    pub max_output_response: u32,
    /// Flags ([`IOCTL_IS_FSCTL`]).
    pub flags: u32,
}

impl IoctlRequest {
    /// `StructureSize`.
    pub const STRUCTURE_SIZE: u16 = 57;

    /// Decodes the body of `msg` (from its SMB2 header). Both buffers must lie inside the
    /// message after the fixed part; InputCount, OutputCount, MaxInputResponse and
    /// MaxOutputResponse must each be at most [`limits::TRANSACT_MAX`] ([MS-SMB2] 3.3.5.15:
    /// the server fails such requests with STATUS_INVALID_PARAMETER).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::at(msg, HEADER_LEN);
        structure_size(&mut r, Self::STRUCTURE_SIZE, "IoctlRequest.StructureSize")?;
        r.skip(2, "IoctlRequest.Reserved")?;
        let ctl_code = CtlCode(r.u32("IoctlRequest.CtlCode")?);
        let file_id = r.guid("IoctlRequest.FileId")?;
        let in_off = r.u32("IoctlRequest.InputOffset")?;
        let in_len = r.u32("IoctlRequest.InputCount")?;
        let max_input_response = r.u32("IoctlRequest.MaxInputResponse")?;
        let out_off = r.u32("IoctlRequest.OutputOffset")?;
        let out_len = r.u32("IoctlRequest.OutputCount")?;
        let max_output_response = r.u32("IoctlRequest.MaxOutputResponse")?;
        let flags = r.u32("IoctlRequest.Flags")?;
        r.skip(4, "IoctlRequest.Reserved2")?;
        check_max(max_input_response, "IoctlRequest.MaxInputResponse")?;
        check_max(max_output_response, "IoctlRequest.MaxOutputResponse")?;
        let end = HEADER_LEN + 56;
        Ok(Self {
            ctl_code,
            file_id,
            input: buffer_at(&r, in_off, in_len, end, "IoctlRequest.Input")?,
            output: buffer_at(&r, out_off, out_len, end, "IoctlRequest.Output")?,
            max_input_response,
            max_output_response,
            flags,
        })
    }

    /// Appends the body to `w`, which holds the SMB2 header: input at offset header + 56,
    /// output after it, 8-byte aligned.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(0);
        w.u32(self.ctl_code.0);
        w.bytes(&self.file_id);
        w.u32(0); // InputOffset, patched
        w.u32(self.input.len() as u32);
        w.u32(self.max_input_response);
        w.u32(0); // OutputOffset, patched
        w.u32(self.output.len() as u32);
        w.u32(self.max_output_response);
        w.u32(self.flags);
        w.u32(0);
        let in_off = w.len();
        w.patch_u32(start + 24, in_off as u32);
        w.bytes(&self.input);
        if !self.output.is_empty() {
            w.align(8);
            w.patch_u32(start + 36, w.len() as u32);
            w.bytes(&self.output);
        }
        if self.input.is_empty() && self.output.is_empty() {
            w.u8(0);
        }
    }
}

/// SMB2 IOCTL Response ([MS-SMB2] 2.2.32).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IoctlResponse {
    /// CtlCode, echoed.
    pub ctl_code: CtlCode,
    /// FileId, echoed.
    pub file_id: FileIdBytes,
    /// The input buffer (normally empty in a response).
    pub input: Vec<u8>,
    /// The output buffer (the FSCTL's response payload).
    pub output: Vec<u8>,
    /// Flags (0).
    pub flags: u32,
}

impl IoctlResponse {
    /// `StructureSize`.
    pub const STRUCTURE_SIZE: u16 = 49;

    /// A response for `req` carrying `output`.
    pub fn for_request(req: &IoctlRequest, output: Vec<u8>) -> Self {
        Self {
            ctl_code: req.ctl_code,
            file_id: req.file_id,
            input: Vec::new(),
            output,
            flags: 0,
        }
    }

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::at(msg, HEADER_LEN);
        structure_size(&mut r, Self::STRUCTURE_SIZE, "IoctlResponse.StructureSize")?;
        r.skip(2, "IoctlResponse.Reserved")?;
        let ctl_code = CtlCode(r.u32("IoctlResponse.CtlCode")?);
        let file_id = r.guid("IoctlResponse.FileId")?;
        let in_off = r.u32("IoctlResponse.InputOffset")?;
        let in_len = r.u32("IoctlResponse.InputCount")?;
        let out_off = r.u32("IoctlResponse.OutputOffset")?;
        let out_len = r.u32("IoctlResponse.OutputCount")?;
        let flags = r.u32("IoctlResponse.Flags")?;
        r.skip(4, "IoctlResponse.Reserved2")?;
        let end = HEADER_LEN + 48;
        Ok(Self {
            ctl_code,
            file_id,
            input: buffer_at(&r, in_off, in_len, end, "IoctlResponse.Input")?,
            output: buffer_at(&r, out_off, out_len, end, "IoctlResponse.Output")?,
            flags,
        })
    }

    /// Appends the body to `w`, which holds the SMB2 header. Both offsets point at header +
    /// 48 when the input is empty, as Windows sends them.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(0);
        w.u32(self.ctl_code.0);
        w.bytes(&self.file_id);
        w.u32(0); // InputOffset, patched
        w.u32(self.input.len() as u32);
        w.u32(0); // OutputOffset, patched
        w.u32(self.output.len() as u32);
        w.u32(self.flags);
        w.u32(0);
        w.patch_u32(start + 24, w.len() as u32);
        w.bytes(&self.input);
        if !self.input.is_empty() {
            w.align(8);
        }
        w.patch_u32(start + 32, w.len() as u32);
        w.bytes(&self.output);
    }
}

fn done(r: &Reader<'_>, field: &'static str) -> Result<(), DecodeError> {
    match r.remaining() {
        0 => Ok(()),
        count => Err(DecodeError::TrailingBytes { field, count }),
    }
}

/// VALIDATE_NEGOTIATE_INFO Request ([MS-SMB2] 2.2.31.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidateNegotiateInfoRequest {
    /// Capabilities the client sent in NEGOTIATE.
    pub capabilities: u32,
    /// The client GUID.
    pub guid: [u8; 16],
    /// SecurityMode.
    pub security_mode: u16,
    /// Dialects, at most [`limits::DIALECTS_MAX`].
    pub dialects: Vec<u16>,
}

impl ValidateNegotiateInfoRequest {
    /// Decodes the IOCTL input buffer.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let capabilities = r.u32("ValidateNegotiateInfo.Capabilities")?;
        let guid = r.guid("ValidateNegotiateInfo.Guid")?;
        let security_mode = r.u16("ValidateNegotiateInfo.SecurityMode")?;
        let count = usize::from(r.u16("ValidateNegotiateInfo.DialectCount")?);
        if count > limits::DIALECTS_MAX {
            return Err(DecodeError::TooLong {
                field: "ValidateNegotiateInfo.DialectCount",
                len: count as u64,
                max: limits::DIALECTS_MAX as u64,
            });
        }
        let mut dialects = Vec::with_capacity(count);
        for _ in 0..count {
            dialects.push(r.u16("ValidateNegotiateInfo.Dialects")?);
        }
        done(&r, "ValidateNegotiateInfoRequest")?;
        Ok(Self {
            capabilities,
            guid,
            security_mode,
            dialects,
        })
    }

    /// The input buffer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.capabilities);
        w.bytes(&self.guid);
        w.u16(self.security_mode);
        w.u16(self.dialects.len() as u16);
        for d in &self.dialects {
            w.u16(*d);
        }
        w.into_inner()
    }
}

/// VALIDATE_NEGOTIATE_INFO Response ([MS-SMB2] 2.2.32.6): what the server negotiated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidateNegotiateInfoResponse {
    /// The server's Capabilities.
    pub capabilities: u32,
    /// The server GUID.
    pub guid: [u8; 16],
    /// The server's SecurityMode.
    pub security_mode: u16,
    /// The negotiated dialect.
    pub dialect: u16,
}

impl ValidateNegotiateInfoResponse {
    /// Decodes the IOCTL output buffer (24 bytes).
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let v = Self {
            capabilities: r.u32("ValidateNegotiateInfoResponse.Capabilities")?,
            guid: r.guid("ValidateNegotiateInfoResponse.Guid")?,
            security_mode: r.u16("ValidateNegotiateInfoResponse.SecurityMode")?,
            dialect: r.u16("ValidateNegotiateInfoResponse.Dialect")?,
        };
        done(&r, "ValidateNegotiateInfoResponse")?;
        Ok(v)
    }

    /// The output buffer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.capabilities);
        w.bytes(&self.guid);
        w.u16(self.security_mode);
        w.u16(self.dialect);
        w.into_inner()
    }
}

/// NETWORK_INTERFACE_INFO `Capability` bits ([MS-SMB2] 2.2.32.5).
pub mod interface_capability {
    /// RSS_CAPABLE.
    pub const RSS: u32 = 0x0000_0001;
    /// RDMA_CAPABLE.
    pub const RDMA: u32 = 0x0000_0002;
}

/// The most interfaces we decode from one FSCTL_QUERY_NETWORK_INTERFACE_INFO response.
pub const NETWORK_INTERFACES_MAX: usize = 256;

/// One NETWORK_INTERFACE_INFO ([MS-SMB2] 2.2.32.5): 152 bytes, linked by `Next`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkInterfaceInfo {
    /// IfIndex.
    pub if_index: u32,
    /// Capability (see [`interface_capability`]).
    pub capability: u32,
    /// LinkSpeed in bits per second.
    pub link_speed: u64,
    /// SockAddr_Storage ([MS-SMB2] 2.2.32.5.1): IPv4 (family 0x0002) or IPv6 (0x0017). The
    /// port (and IPv6 flow info and scope id) should be 0.
    pub addr: SocketAddr,
}

impl NetworkInterfaceInfo {
    /// Size of one entry.
    pub const LEN: usize = 152;
    const FAMILY_V4: u16 = 0x0002;
    const FAMILY_V6: u16 = 0x0017;

    fn read(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        r.skip(4, "NetworkInterfaceInfo.Next")?;
        let if_index = r.u32("NetworkInterfaceInfo.IfIndex")?;
        let capability = r.u32("NetworkInterfaceInfo.Capability")?;
        r.skip(4, "NetworkInterfaceInfo.Reserved")?;
        let link_speed = r.u64("NetworkInterfaceInfo.LinkSpeed")?;
        let mut sa = Reader::new(r.bytes(128, "NetworkInterfaceInfo.SockAddr_Storage")?);
        let family = sa.u16("SockAddr.Family")?;
        let port = u16::from_be_bytes(sa.array("SockAddr.Port")?);
        let addr = match family {
            Self::FAMILY_V4 => {
                let ip = Ipv4Addr::from(sa.array::<4>("SockAddr.IPv4Address")?);
                SocketAddr::V4(SocketAddrV4::new(ip, port))
            }
            Self::FAMILY_V6 => {
                let flow = sa.u32("SockAddr.FlowInfo")?;
                let ip = Ipv6Addr::from(sa.array::<16>("SockAddr.IPv6Address")?);
                let scope = sa.u32("SockAddr.ScopeId")?;
                SocketAddr::V6(SocketAddrV6::new(ip, port, flow, scope))
            }
            other => {
                return Err(DecodeError::InvalidValue {
                    field: "SockAddr.Family",
                    value: other.into(),
                });
            }
        };
        Ok(Self {
            if_index,
            capability,
            link_speed,
            addr,
        })
    }

    fn write(&self, w: &mut Writer, next: u32) {
        w.u32(next);
        w.u32(self.if_index);
        w.u32(self.capability);
        w.u32(0);
        w.u64(self.link_speed);
        let sa_start = w.len();
        match self.addr {
            SocketAddr::V4(a) => {
                w.u16(Self::FAMILY_V4);
                w.bytes(&a.port().to_be_bytes());
                w.bytes(&a.ip().octets());
            }
            SocketAddr::V6(a) => {
                w.u16(Self::FAMILY_V6);
                w.bytes(&a.port().to_be_bytes());
                w.u32(a.flowinfo());
                w.bytes(&a.ip().octets());
                w.u32(a.scope_id());
            }
        }
        w.zeros(128 - (w.len() - sa_start));
    }

    /// Decodes the FSCTL_QUERY_NETWORK_INTERFACE_INFO output buffer: entries linked by
    /// `Next` (an offset from the entry, at least 152, staying inside the buffer).
    pub fn decode_list(b: &[u8]) -> Result<Vec<Self>, DecodeError> {
        let mut out = Vec::new();
        let mut pos = 0usize;
        loop {
            if out.len() == NETWORK_INTERFACES_MAX {
                return Err(DecodeError::TooLong {
                    field: "NetworkInterfaceInfo",
                    len: out.len() as u64 + 1,
                    max: NETWORK_INTERFACES_MAX as u64,
                });
            }
            let e = b.get(pos..).ok_or(DecodeError::Truncated {
                field: "NetworkInterfaceInfo",
            })?;
            let next = Reader::new(e).u32("NetworkInterfaceInfo.Next")? as usize;
            out.push(Self::read(e)?);
            if next == 0 {
                return Ok(out);
            }
            if next < Self::LEN || next >= e.len() {
                return Err(DecodeError::InvalidValue {
                    field: "NetworkInterfaceInfo.Next",
                    value: next as u64,
                });
            }
            pos += next;
        }
    }

    /// The output buffer for `list`, entries back to back.
    pub fn encode_list(list: &[Self]) -> Vec<u8> {
        let mut w = Writer::with_capacity(list.len() * Self::LEN);
        for (i, e) in list.iter().enumerate() {
            let next = if i + 1 == list.len() {
                0
            } else {
                Self::LEN as u32
            };
            e.write(&mut w, next);
        }
        w.into_inner()
    }
}

/// SRV_REQUEST_RESUME_KEY response ([MS-SMB2] 2.2.32.3): the key a COPYCHUNK names its
/// source by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResumeKeyResponse {
    /// ResumeKey: 24 opaque bytes.
    pub resume_key: [u8; 24],
    /// Context (ContextLength bytes, normally empty).
    pub context: Vec<u8>,
}

impl ResumeKeyResponse {
    /// Decodes the IOCTL output buffer.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let resume_key = r.array("ResumeKey.ResumeKey")?;
        let len = r.u32("ResumeKey.ContextLength")? as usize;
        let context = r.bytes(len, "ResumeKey.Context")?.to_vec();
        done(&r, "ResumeKeyResponse")?;
        Ok(Self {
            resume_key,
            context,
        })
    }

    /// The output buffer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.bytes(&self.resume_key);
        w.u32(self.context.len() as u32);
        w.bytes(&self.context);
        w.into_inner()
    }
}

/// The most chunks in one copy request we accept (Windows' ServerSideCopyMaxNumberofChunks).
pub const COPYCHUNK_MAX_CHUNKS: u32 = 256;
/// The largest single chunk (Windows' ServerSideCopyMaxChunkSize, 1 MiB).
pub const COPYCHUNK_MAX_CHUNK_SIZE: u32 = 1 << 20;
/// The most bytes in one copy request (Windows' ServerSideCopyMaxDataSize, 16 MiB).
pub const COPYCHUNK_MAX_TOTAL: u32 = 16 << 20;

/// One SRV_COPYCHUNK ([MS-SMB2] 2.2.31.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyChunk {
    /// SourceOffset.
    pub source_offset: u64,
    /// TargetOffset.
    pub target_offset: u64,
    /// Length.
    pub length: u32,
}

/// SRV_COPYCHUNK_COPY ([MS-SMB2] 2.2.31.1): the input of FSCTL_SRV_COPYCHUNK and
/// FSCTL_SRV_COPYCHUNK_WRITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyChunkRequest {
    /// SourceKey: a resume key from FSCTL_SRV_REQUEST_RESUME_KEY.
    pub source_key: [u8; 24],
    /// The chunks.
    pub chunks: Vec<CopyChunk>,
}

impl CopyChunkRequest {
    /// Decodes the IOCTL input buffer. A ChunkCount over [`COPYCHUNK_MAX_CHUNKS`] is
    /// [`DecodeError::TooLong`] with field `"CopyChunk.ChunkCount"`: the server then answers
    /// STATUS_INVALID_PARAMETER with [`CopyChunkResponse::LIMITS`] ([MS-SMB2] 3.3.5.15.6).
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let source_key = r.array("CopyChunk.SourceKey")?;
        let count = r.u32("CopyChunk.ChunkCount")?;
        if count > COPYCHUNK_MAX_CHUNKS {
            return Err(DecodeError::TooLong {
                field: "CopyChunk.ChunkCount",
                len: count.into(),
                max: COPYCHUNK_MAX_CHUNKS.into(),
            });
        }
        r.skip(4, "CopyChunk.Reserved")?;
        let mut chunks = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let source_offset = r.u64("CopyChunk.SourceOffset")?;
            let target_offset = r.u64("CopyChunk.TargetOffset")?;
            let length = r.u32("CopyChunk.Length")?;
            r.skip(4, "CopyChunk.Reserved")?;
            chunks.push(CopyChunk {
                source_offset,
                target_offset,
                length,
            });
        }
        done(&r, "CopyChunkRequest")?;
        Ok(Self { source_key, chunks })
    }

    /// The input buffer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(32 + 24 * self.chunks.len());
        w.bytes(&self.source_key);
        w.u32(self.chunks.len() as u32);
        w.u32(0);
        for c in &self.chunks {
            w.u64(c.source_offset);
            w.u64(c.target_offset);
            w.u32(c.length);
            w.u32(0);
        }
        w.into_inner()
    }

    /// True if the request is within the server's limits ([MS-SMB2] 3.3.5.15.6): no empty
    /// or oversized chunk and at most [`COPYCHUNK_MAX_TOTAL`] bytes in all. Otherwise the
    /// server answers STATUS_INVALID_PARAMETER with [`CopyChunkResponse::LIMITS`].
    pub fn within_limits(&self) -> bool {
        self.chunks.len() <= COPYCHUNK_MAX_CHUNKS as usize
            && self
                .chunks
                .iter()
                .all(|c| c.length != 0 && c.length <= COPYCHUNK_MAX_CHUNK_SIZE)
            && self.chunks.iter().map(|c| u64::from(c.length)).sum::<u64>()
                <= u64::from(COPYCHUNK_MAX_TOTAL)
    }
}

/// SRV_COPYCHUNK_RESPONSE ([MS-SMB2] 2.2.32.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CopyChunkResponse {
    /// ChunksWritten (or, with STATUS_INVALID_PARAMETER, the maximum chunk count).
    pub chunks_written: u32,
    /// ChunkBytesWritten (or the maximum chunk size).
    pub chunk_bytes_written: u32,
    /// TotalBytesWritten (or the maximum total).
    pub total_bytes_written: u32,
}

impl CopyChunkResponse {
    /// The response that reports the server's limits with STATUS_INVALID_PARAMETER.
    pub const LIMITS: Self = Self {
        chunks_written: COPYCHUNK_MAX_CHUNKS,
        chunk_bytes_written: COPYCHUNK_MAX_CHUNK_SIZE,
        total_bytes_written: COPYCHUNK_MAX_TOTAL,
    };

    /// Decodes the IOCTL output buffer (12 bytes).
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let v = Self {
            chunks_written: r.u32("CopyChunkResponse.ChunksWritten")?,
            chunk_bytes_written: r.u32("CopyChunkResponse.ChunkBytesWritten")?,
            total_bytes_written: r.u32("CopyChunkResponse.TotalBytesWritten")?,
        };
        done(&r, "CopyChunkResponse")?;
        Ok(v)
    }

    /// The output buffer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u32(self.chunks_written);
        w.u32(self.chunk_bytes_written);
        w.u32(self.total_bytes_written);
        w.into_inner()
    }
}

/// Reparse tags ([MS-FSCC] 2.1.2.1).
pub mod reparse_tag {
    /// IO_REPARSE_TAG_MOUNT_POINT.
    pub const MOUNT_POINT: u32 = 0xA000_0003;
    /// IO_REPARSE_TAG_SYMLINK.
    pub const SYMLINK: u32 = 0xA000_000C;
    /// IO_REPARSE_TAG_NFS (Linux cifs special files: fifos, sockets, devices).
    pub const NFS: u32 = 0x8000_0014;
    /// IO_REPARSE_TAG_LX_SYMLINK (WSL symlinks).
    pub const LX_SYMLINK: u32 = 0xA000_001D;
}

/// SYMLINK_FLAG_RELATIVE: the substitute name is relative to the link's directory.
pub const SYMLINK_FLAG_RELATIVE: u32 = 0x0000_0001;

/// A symbolic link's reparse data ([MS-FSCC] 2.1.2.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SymlinkReparse {
    /// SubstituteName: the target (`\??\C:\x` absolute, or a relative path).
    pub substitute_name: String,
    /// PrintName: the target as shown to users.
    pub print_name: String,
    /// Flags ([`SYMLINK_FLAG_RELATIVE`]).
    pub flags: u32,
}

/// A REPARSE_DATA_BUFFER ([MS-FSCC] 2.1.2.2): FSCTL_GET_REPARSE_POINT output and
/// FSCTL_SET_REPARSE_POINT input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReparseData {
    /// IO_REPARSE_TAG_SYMLINK.
    Symlink(SymlinkReparse),
    /// Any other tag, with its data as sent.
    Other {
        /// ReparseTag.
        tag: u32,
        /// The DataBuffer (ReparseDataLength bytes).
        data: Vec<u8>,
    },
}

impl ReparseData {
    /// ReparseTag.
    pub const fn tag(&self) -> u32 {
        match self {
            Self::Symlink(_) => reparse_tag::SYMLINK,
            Self::Other { tag, .. } => *tag,
        }
    }

    /// Decodes a REPARSE_DATA_BUFFER; bytes after ReparseDataLength are refused. A symlink's
    /// name offsets are relative to its PathBuffer and must lie inside it.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let tag = r.u32("Reparse.ReparseTag")?;
        let len = usize::from(r.u16("Reparse.ReparseDataLength")?);
        r.skip(2, "Reparse.Reserved")?;
        let data = r.bytes(len, "Reparse.DataBuffer")?;
        done(&r, "ReparseData")?;
        if tag != reparse_tag::SYMLINK {
            return Ok(Self::Other {
                tag,
                data: data.to_vec(),
            });
        }
        let mut d = Reader::new(data);
        let sub_off = usize::from(d.u16("Symlink.SubstituteNameOffset")?);
        let sub_len = usize::from(d.u16("Symlink.SubstituteNameLength")?);
        let print_off = usize::from(d.u16("Symlink.PrintNameOffset")?);
        let print_len = usize::from(d.u16("Symlink.PrintNameLength")?);
        let flags = d.u32("Symlink.Flags")?;
        let path = &data[12..];
        let name = |off: usize, len: usize, field| {
            let b = path
                .get(off..off + len)
                .ok_or(DecodeError::Truncated { field })?;
            from_utf16le(b, field)
        };
        Ok(Self::Symlink(SymlinkReparse {
            substitute_name: name(sub_off, sub_len, "Symlink.SubstituteName")?,
            print_name: name(print_off, print_len, "Symlink.PrintName")?,
            flags,
        }))
    }

    /// The buffer's bytes: for a symlink, the substitute name then the print name. Data
    /// longer than a `u16` length allows is cut (callers keep names to path length limits).
    pub fn encode(&self) -> Vec<u8> {
        let mut data = Writer::new();
        match self {
            Self::Symlink(s) => {
                let sub = utf16le(&s.substitute_name);
                let print = utf16le(&s.print_name);
                data.u16(0);
                data.u16(sub.len() as u16);
                data.u16(sub.len() as u16);
                data.u16(print.len() as u16);
                data.u32(s.flags);
                data.bytes(&sub);
                data.bytes(&print);
            }
            Self::Other { data: d, .. } => data.bytes(d),
        }
        let mut data = data.into_inner();
        data.truncate(usize::from(u16::MAX));
        let mut w = Writer::with_capacity(8 + data.len());
        w.u32(self.tag());
        w.u16(data.len() as u16);
        w.u16(0);
        w.bytes(&data);
        w.into_inner()
    }
}

/// The Symbolic Link Error Response ([MS-SMB2] 2.2.2.2.1): the ErrorData of a CREATE that
/// fails with STATUS_STOPPED_ON_SYMLINK, telling the client where the link points.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SymlinkErrorResponse {
    /// UnparsedPathLength: bytes (UTF-16) of the create path left after the link.
    pub unparsed_path_length: u16,
    /// The link: substitute and print names and flags.
    pub link: SymlinkReparse,
}

impl SymlinkErrorResponse {
    /// SymLinkErrorTag: "SYML".
    pub const ERROR_TAG: u32 = 0x4C4D_5953;
    /// The size before PathBuffer.
    pub const FIXED_LEN: usize = 28;

    /// Decodes the ErrorData. SymLinkLength must cover the fixed part and fit in `b`; the
    /// name offsets are relative to PathBuffer and must stay inside the structure.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let len = r.u32("SymlinkError.SymLinkLength")? as usize;
        if len < Self::FIXED_LEN - 4 || len > b.len() - 4 {
            return Err(DecodeError::InvalidValue {
                field: "SymlinkError.SymLinkLength",
                value: len as u64,
            });
        }
        let tag = r.u32("SymlinkError.SymLinkErrorTag")?;
        if tag != Self::ERROR_TAG {
            return Err(DecodeError::InvalidValue {
                field: "SymlinkError.SymLinkErrorTag",
                value: tag.into(),
            });
        }
        let reparse = r.u32("SymlinkError.ReparseTag")?;
        if reparse != reparse_tag::SYMLINK {
            return Err(DecodeError::InvalidValue {
                field: "SymlinkError.ReparseTag",
                value: reparse.into(),
            });
        }
        r.skip(2, "SymlinkError.ReparseDataLength")?;
        let unparsed_path_length = r.u16("SymlinkError.UnparsedPathLength")?;
        let sub_off = usize::from(r.u16("SymlinkError.SubstituteNameOffset")?);
        let sub_len = usize::from(r.u16("SymlinkError.SubstituteNameLength")?);
        let print_off = usize::from(r.u16("SymlinkError.PrintNameOffset")?);
        let print_len = usize::from(r.u16("SymlinkError.PrintNameLength")?);
        let flags = r.u32("SymlinkError.Flags")?;
        let path = &b[Self::FIXED_LEN..len + 4];
        let name = |off: usize, n: usize, field| {
            let s = path
                .get(off..off + n)
                .ok_or(DecodeError::Truncated { field })?;
            from_utf16le(s, field)
        };
        Ok(Self {
            unparsed_path_length,
            link: SymlinkReparse {
                substitute_name: name(sub_off, sub_len, "SymlinkError.SubstituteName")?,
                print_name: name(print_off, print_len, "SymlinkError.PrintName")?,
                flags,
            },
        })
    }

    /// The ErrorData bytes: substitute name then print name. ReparseDataLength counts from
    /// SubstituteNameOffset to the end of PathBuffer, as in a REPARSE_DATA_BUFFER.
    pub fn encode(&self) -> Vec<u8> {
        let sub = utf16le(&self.link.substitute_name);
        let print = utf16le(&self.link.print_name);
        let path_len = sub.len() + print.len();
        let mut w = Writer::with_capacity(Self::FIXED_LEN + path_len);
        w.u32((Self::FIXED_LEN - 4 + path_len) as u32);
        w.u32(Self::ERROR_TAG);
        w.u32(reparse_tag::SYMLINK);
        w.u16((12 + path_len).min(usize::from(u16::MAX)) as u16);
        w.u16(self.unparsed_path_length);
        w.u16(0);
        w.u16(sub.len() as u16);
        w.u16(sub.len() as u16);
        w.u16(print.len() as u16);
        w.u32(self.link.flags);
        w.bytes(&sub);
        w.bytes(&print);
        w.into_inner()
    }
}

/// FILE_OBJECTID_BUFFER ([MS-FSCC] 2.1.3): the output of FSCTL_GET_OBJECT_ID and
/// FSCTL_CREATE_OR_GET_OBJECT_ID (64 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ObjectIdBuffer {
    /// ObjectId: the file's 16-byte id.
    pub object_id: [u8; 16],
    /// BirthVolumeId.
    pub birth_volume_id: [u8; 16],
    /// BirthObjectId.
    pub birth_object_id: [u8; 16],
    /// DomainId (zero).
    pub domain_id: [u8; 16],
}

impl ObjectIdBuffer {
    /// Decodes the 64-byte buffer.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let v = Self {
            object_id: r.guid("ObjectId.ObjectId")?,
            birth_volume_id: r.guid("ObjectId.BirthVolumeId")?,
            birth_object_id: r.guid("ObjectId.BirthObjectId")?,
            domain_id: r.guid("ObjectId.DomainId")?,
        };
        done(&r, "ObjectIdBuffer")?;
        Ok(v)
    }

    /// The 64 bytes.
    pub fn encode(&self) -> Vec<u8> {
        [
            self.object_id,
            self.birth_volume_id,
            self.birth_object_id,
            self.domain_id,
        ]
        .concat()
    }
}

/// FSCTL_PIPE_WAIT_REQUEST ([MS-FSCC] 2.3.49): wait for a named pipe to become available.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PipeWaitRequest {
    /// Timeout in 100 ns units (negative: relative), meaningful if `timeout_specified`.
    pub timeout: i64,
    /// TimeoutSpecified.
    pub timeout_specified: bool,
    /// Name: the pipe's name, without `\\pipe\\`.
    pub name: String,
}

impl PipeWaitRequest {
    /// Decodes the IOCTL input buffer.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let timeout = r.u64("PipeWait.Timeout")? as i64;
        let len = r.u32("PipeWait.NameLength")? as usize;
        let timeout_specified = r.u8("PipeWait.TimeoutSpecified")? != 0;
        r.skip(1, "PipeWait.Padding")?;
        if len > limits::PATH_MAX {
            return Err(DecodeError::TooLong {
                field: "PipeWait.Name",
                len: len as u64,
                max: limits::PATH_MAX as u64,
            });
        }
        let name = from_utf16le(r.bytes(len, "PipeWait.Name")?, "PipeWait.Name")?;
        done(&r, "PipeWaitRequest")?;
        Ok(Self {
            timeout,
            timeout_specified,
            name,
        })
    }

    /// The input buffer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let name = utf16le(&self.name);
        let mut w = Writer::with_capacity(14 + name.len());
        w.u64(self.timeout as u64);
        w.u32(name.len() as u32);
        w.u8(u8::from(self.timeout_specified));
        w.u8(0);
        w.bytes(&name);
        w.into_inner()
    }
}

/// FILE_ZERO_DATA_INFORMATION ([MS-FSCC] 2.3.85): FSCTL_SET_ZERO_DATA's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileZeroDataInformation {
    /// FileOffset: the first byte to zero.
    pub file_offset: u64,
    /// BeyondFinalZero: one past the last byte to zero.
    pub beyond_final_zero: u64,
}

impl FileZeroDataInformation {
    /// Decodes the 16-byte input buffer.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let v = Self {
            file_offset: r.u64("ZeroData.FileOffset")?,
            beyond_final_zero: r.u64("ZeroData.BeyondFinalZero")?,
        };
        done(&r, "FileZeroDataInformation")?;
        Ok(v)
    }

    /// The 16 bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u64(self.file_offset);
        w.u64(self.beyond_final_zero);
        w.into_inner()
    }
}

/// FILE_ALLOCATED_RANGE_BUFFER ([MS-FSCC] 2.3.52): FSCTL_QUERY_ALLOCATED_RANGES' input (one)
/// and output (a list).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AllocatedRange {
    /// FileOffset.
    pub file_offset: u64,
    /// Length.
    pub length: u64,
}

impl AllocatedRange {
    /// Decodes a list of 16-byte ranges (the input is a list of one).
    pub fn decode_list(b: &[u8]) -> Result<Vec<Self>, DecodeError> {
        if !b.len().is_multiple_of(16) {
            return Err(DecodeError::TrailingBytes {
                field: "AllocatedRange",
                count: b.len() % 16,
            });
        }
        let mut r = Reader::new(b);
        let mut out = Vec::with_capacity(b.len() / 16);
        while r.remaining() != 0 {
            out.push(Self {
                file_offset: r.u64("AllocatedRange.FileOffset")?,
                length: r.u64("AllocatedRange.Length")?,
            });
        }
        Ok(out)
    }

    /// The bytes of `list`.
    pub fn encode_list(list: &[Self]) -> Vec<u8> {
        let mut w = Writer::with_capacity(16 * list.len());
        for a in list {
            w.u64(a.file_offset);
            w.u64(a.length);
        }
        w.into_inner()
    }
}

/// FILE_SET_SPARSE_BUFFER ([MS-FSCC] 2.3.64): FSCTL_SET_SPARSE's optional input. An empty
/// buffer means "set sparse".
pub fn decode_set_sparse(b: &[u8]) -> Result<bool, DecodeError> {
    match b {
        [] => Ok(true),
        [v] => Ok(*v != 0),
        _ => Err(DecodeError::TrailingBytes {
            field: "FileSetSparseBuffer",
            count: b.len() - 1,
        }),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn with_header(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        w.zeros(HEADER_LEN);
        f(&mut w);
        w.into_inner()
    }

    #[test]
    fn ioctl_request_layout() {
        // [MS-SMB2] 2.2.31: a VALIDATE_NEGOTIATE_INFO request as Windows sends it, input at
        // 0x78 (header + 56), output offset 0x78 count 0, MaxOutputResponse 24, IS_FSCTL.
        let vni = ValidateNegotiateInfoRequest {
            capabilities: 0x7f,
            guid: [0xaa; 16],
            security_mode: 1,
            dialects: vec![0x0202, 0x0210, 0x0300, 0x0302],
        };
        let input = vni.encode();
        assert_eq!(input.len(), 24 + 8);
        let mut msg = vec![0u8; 64];
        msg.extend(
            hex::decode(concat!(
                "3900",
                "0000",
                "04021400",
                "ffffffffffffffffffffffffffffffff",
                "78000000",
                "20000000",
                "00000000",
                "00000000",
                "00000000",
                "18000000",
                "01000000",
                "00000000",
            ))
            .unwrap(),
        );
        msg.extend(&input);
        let req = IoctlRequest::decode(&msg).unwrap();
        assert_eq!(req.ctl_code, CtlCode::VALIDATE_NEGOTIATE_INFO);
        assert_eq!(req.max_output_response, 24);
        assert_eq!(req.flags, IOCTL_IS_FSCTL);
        assert!(req.output.is_empty());
        assert_eq!(ValidateNegotiateInfoRequest::decode(&req.input), Ok(vni));
        assert_eq!(
            IoctlRequest::decode(&with_header(|w| req.encode(w))),
            Ok(req)
        );
    }

    #[test]
    fn ioctl_checks() {
        let req = IoctlRequest {
            ctl_code: CtlCode::PIPE_TRANSCEIVE,
            file_id: [1; 16],
            input: vec![5; 10],
            output: vec![6; 3],
            max_input_response: 0,
            max_output_response: 4280,
            flags: IOCTL_IS_FSCTL,
        };
        let msg = with_header(|w| req.encode(w));
        assert_eq!(IoctlRequest::decode(&msg), Ok(req));
        let mut bad = msg.clone();
        bad[64 + 28..64 + 32].copy_from_slice(&100u32.to_le_bytes()); // InputCount past the end
        assert!(IoctlRequest::decode(&bad).is_err());
        let mut bad = msg.clone();
        bad[64 + 32..64 + 36].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            IoctlRequest::decode(&bad),
            Err(DecodeError::TooLong { .. })
        ));
        let mut bad = msg.clone();
        bad[64 + 24..64 + 28].copy_from_slice(&64u32.to_le_bytes()); // input inside the body
        assert!(IoctlRequest::decode(&bad).is_err());
        let mut bad = msg;
        bad[64] = 56;
        assert!(IoctlRequest::decode(&bad).is_err());

        let resp = IoctlResponse {
            ctl_code: CtlCode::VALIDATE_NEGOTIATE_INFO,
            file_id: [0xff; 16],
            input: vec![],
            output: vec![1, 2, 3],
            flags: 0,
        };
        let msg = with_header(|w| resp.encode(w));
        // Both offsets at 0x70 (header + 48).
        assert_eq!(&msg[64 + 24..64 + 28], &0x70u32.to_le_bytes());
        assert_eq!(&msg[64 + 32..64 + 36], &0x70u32.to_le_bytes());
        assert_eq!(IoctlResponse::decode(&msg), Ok(resp));
    }

    #[test]
    fn network_interfaces() {
        let list = vec![
            NetworkInterfaceInfo {
                if_index: 2,
                capability: interface_capability::RSS,
                link_speed: 10_000_000_000,
                addr: "192.168.1.5:0".parse().unwrap(),
            },
            NetworkInterfaceInfo {
                if_index: 3,
                capability: 0,
                link_speed: 1_000_000_000,
                addr: "[fe80::1]:0".parse().unwrap(),
            },
        ];
        let b = NetworkInterfaceInfo::encode_list(&list);
        assert_eq!(b.len(), 304);
        assert_eq!(&b[..4], &152u32.to_le_bytes());
        // [MS-SMB2] 2.2.32.5.1.1: family 0x0002, port 0, address, 8 reserved bytes.
        assert_eq!(&b[24..32], &[2, 0, 0, 0, 192, 168, 1, 5]);
        assert_eq!(&b[176..178], &[0x17, 0]);
        assert_eq!(NetworkInterfaceInfo::decode_list(&b), Ok(list));
        let mut bad = b.clone();
        bad[0] = 100;
        assert!(NetworkInterfaceInfo::decode_list(&bad).is_err());
        let mut bad = b;
        bad[24] = 9;
        assert!(NetworkInterfaceInfo::decode_list(&bad).is_err());
    }

    #[test]
    fn copychunk() {
        let req = CopyChunkRequest {
            source_key: [7; 24],
            chunks: vec![CopyChunk {
                source_offset: 0,
                target_offset: 4096,
                length: 4096,
            }],
        };
        let b = req.encode();
        assert_eq!(b.len(), 32 + 24);
        assert_eq!(&b[24..28], &1u32.to_le_bytes());
        assert_eq!(CopyChunkRequest::decode(&b), Ok(req.clone()));
        assert!(req.within_limits());
        let mut big = b.clone();
        big[24..28].copy_from_slice(&257u32.to_le_bytes());
        assert!(matches!(
            CopyChunkRequest::decode(&big),
            Err(DecodeError::TooLong {
                field: "CopyChunk.ChunkCount",
                ..
            })
        ));
        let mut short = b;
        short[24..28].copy_from_slice(&2u32.to_le_bytes());
        assert!(CopyChunkRequest::decode(&short).is_err());
        let too_long = CopyChunkRequest {
            source_key: [0; 24],
            chunks: vec![CopyChunk {
                source_offset: 0,
                target_offset: 0,
                length: COPYCHUNK_MAX_CHUNK_SIZE + 1,
            }],
        };
        assert!(!too_long.within_limits());
        assert_eq!(
            hex::encode(CopyChunkResponse::LIMITS.encode()),
            "000100000000100000000001"
        );
        let r = CopyChunkResponse {
            chunks_written: 1,
            chunk_bytes_written: 0,
            total_bytes_written: 4096,
        };
        assert_eq!(CopyChunkResponse::decode(&r.encode()), Ok(r));
        let k = ResumeKeyResponse {
            resume_key: [3; 24],
            context: vec![],
        };
        assert_eq!(k.encode().len(), 28);
        assert_eq!(ResumeKeyResponse::decode(&k.encode()), Ok(k));
    }

    #[test]
    fn symlink_reparse_layout() {
        // [MS-FSCC] 2.1.2.4: tag, ReparseDataLength, Reserved, SubstituteNameOffset/Length,
        // PrintNameOffset/Length, Flags, PathBuffer.
        let s = ReparseData::Symlink(SymlinkReparse {
            substitute_name: "a\\b".into(),
            print_name: "a\\b".into(),
            flags: SYMLINK_FLAG_RELATIVE,
        });
        let b = s.encode();
        assert_eq!(
            hex::encode(&b),
            concat!(
                "0c0000a0",
                "1800",
                "0000",
                "0000",
                "0600",
                "0600",
                "0600",
                "01000000",
                "61005c006200",
                "61005c006200"
            )
        );
        assert_eq!(ReparseData::decode(&b), Ok(s));
        let mut bad = b.clone();
        bad[12] = 0x20; // PrintNameOffset past the PathBuffer
        assert!(ReparseData::decode(&bad).is_err());
        let other = ReparseData::Other {
            tag: reparse_tag::NFS,
            data: vec![1, 2, 3],
        };
        assert_eq!(ReparseData::decode(&other.encode()), Ok(other));
        let mut trailing = b;
        trailing.push(0);
        assert!(ReparseData::decode(&trailing).is_err());
    }

    #[test]
    fn symlink_error_response() {
        let e = SymlinkErrorResponse {
            unparsed_path_length: 4,
            link: SymlinkReparse {
                substitute_name: "t".into(),
                print_name: "t".into(),
                flags: SYMLINK_FLAG_RELATIVE,
            },
        };
        let b = e.encode();
        assert_eq!(
            hex::encode(&b),
            concat!(
                "1c000000", "53594d4c", "0c0000a0", "1000", "0400", "0000", "0200", "0200", "0200",
                "01000000", "7400", "7400"
            )
        );
        assert_eq!(SymlinkErrorResponse::decode(&b), Ok(e));
        let mut bad = b.clone();
        bad[4] = 0;
        assert!(SymlinkErrorResponse::decode(&bad).is_err());
        let mut bad = b.clone();
        bad[0] = 0x40;
        assert!(SymlinkErrorResponse::decode(&bad).is_err());
        assert!(SymlinkErrorResponse::decode(&b[..27]).is_err());
    }

    #[test]
    fn object_id_and_pipe_wait() {
        let o = ObjectIdBuffer {
            object_id: [1; 16],
            birth_volume_id: [2; 16],
            birth_object_id: [1; 16],
            domain_id: [0; 16],
        };
        let b = o.encode();
        assert_eq!(b.len(), 64);
        assert_eq!(&b[16..18], &[2, 2]);
        assert_eq!(ObjectIdBuffer::decode(&b), Ok(o));
        assert!(ObjectIdBuffer::decode(&b[..63]).is_err());
        // [MS-FSCC] 2.3.49: Timeout(8) NameLength(4) TimeoutSpecified(1) Padding(1) Name.
        let p = PipeWaitRequest {
            timeout: -10_000_000,
            timeout_specified: true,
            name: "srvsvc".into(),
        };
        let b = p.encode();
        assert_eq!(&b[8..14], &[12, 0, 0, 0, 1, 0]);
        assert_eq!(b.len(), 14 + 12);
        assert_eq!(PipeWaitRequest::decode(&b), Ok(p));
    }

    #[test]
    fn small_fsctls() {
        let z = FileZeroDataInformation {
            file_offset: 1,
            beyond_final_zero: 9,
        };
        assert_eq!(FileZeroDataInformation::decode(&z.encode()), Ok(z));
        let l = vec![
            AllocatedRange {
                file_offset: 0,
                length: 5,
            },
            AllocatedRange {
                file_offset: 8,
                length: 1,
            },
        ];
        assert_eq!(
            AllocatedRange::decode_list(&AllocatedRange::encode_list(&l)),
            Ok(l)
        );
        assert!(AllocatedRange::decode_list(&[0; 17]).is_err());
        assert_eq!(decode_set_sparse(&[]), Ok(true));
        assert_eq!(decode_set_sparse(&[0]), Ok(false));
        assert!(decode_set_sparse(&[0, 0]).is_err());
        let v = ValidateNegotiateInfoResponse {
            capabilities: 1,
            guid: [2; 16],
            security_mode: 1,
            dialect: 0x0311,
        };
        assert_eq!(v.encode().len(), 24);
        assert_eq!(ValidateNegotiateInfoResponse::decode(&v.encode()), Ok(v));
    }

    proptest! {
        #[test]
        fn ioctl_round_trips(code in any::<u32>(), fid in any::<[u8; 16]>(),
            input in proptest::collection::vec(any::<u8>(), 0..40),
            output in proptest::collection::vec(any::<u8>(), 0..40),
            mi in 0u32..65536, mo in 0u32..65536, flags in any::<u32>()) {
            let req = IoctlRequest { ctl_code: CtlCode(code), file_id: fid, input: input.clone(), output: output.clone(),
                max_input_response: mi, max_output_response: mo, flags };
            prop_assert_eq!(IoctlRequest::decode(&with_header(|w| req.encode(w))), Ok(req));
            let resp = IoctlResponse { ctl_code: CtlCode(code), file_id: fid, input, output, flags };
            prop_assert_eq!(IoctlResponse::decode(&with_header(|w| resp.encode(w))), Ok(resp));
        }

        #[test]
        fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = IoctlRequest::decode(&b);
            let _ = IoctlResponse::decode(&b);
            let _ = ReparseData::decode(&b);
            let _ = SymlinkErrorResponse::decode(&b);
            let _ = PipeWaitRequest::decode(&b);
            let _ = NetworkInterfaceInfo::decode_list(&b);
            let _ = CopyChunkRequest::decode(&b);
            let _ = ValidateNegotiateInfoRequest::decode(&b);
        }
    }
}
