//! QUERY_INFO ([MS-SMB2] 2.2.37, 2.2.38) and SET_INFO (2.2.39, 2.2.40) requests and responses.
//! The info buffers themselves are [MS-FSCC] classes ([`super::fscc`]) or security descriptors
//! ([`super::security`]); here they are opaque bytes.

use crate::smb2::fscc::{InfoType, decode_get_quota_list, encode_get_quota_list};
use crate::smb2::le::{Reader, Writer};
use crate::smb2::limits;
use crate::smb2::security::Sid;
use crate::wire::DecodeError;

/// A FileId (persistent and volatile halves, 8 bytes each) as raw bytes.
pub type FileIdBytes = [u8; 16];

/// The SMB2 header's length: bodies start here.
const HEADER_LEN: usize = 64;

/// QUERY_INFO `Flags` ([MS-SMB2] 2.2.37), used with FileFullEaInformation.
pub mod query_flags {
    /// SL_RESTART_SCAN.
    pub const RESTART_SCAN: u32 = 0x0000_0001;
    /// SL_RETURN_SINGLE_ENTRY.
    pub const RETURN_SINGLE_ENTRY: u32 = 0x0000_0002;
    /// SL_INDEX_SPECIFIED.
    pub const INDEX_SPECIFIED: u32 = 0x0000_0004;
}

fn body(msg: &[u8]) -> Reader<'_> {
    Reader::at(msg, HEADER_LEN)
}

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

/// A buffer that is not empty must start after the fixed part of the body (`body_end` from
/// the header start), as [MS-SMB2] 3.3.5.20 / 3.3.5.21 require.
fn check_offset(
    off: u16,
    len: u32,
    body_end: usize,
    field: &'static str,
) -> Result<(), DecodeError> {
    if len != 0 && usize::from(off) < body_end {
        return Err(DecodeError::InvalidValue {
            field,
            value: off.into(),
        });
    }
    Ok(())
}

fn check_max(v: u32, max: usize, field: &'static str) -> Result<(), DecodeError> {
    if v as usize > max {
        return Err(DecodeError::TooLong {
            field,
            len: v.into(),
            max: max as u64,
        });
    }
    Ok(())
}

/// SMB2 QUERY_INFO Request ([MS-SMB2] 2.2.37).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryInfoRequest {
    /// InfoType.
    pub info_type: InfoType,
    /// FileInfoClass: an [`super::fscc::FileInfoClass`] or [`super::fscc::FsInfoClass`]
    /// number depending on `info_type` (0 for security and quota).
    pub info_class: u8,
    /// OutputBufferLength: the most the client accepts, ≤ [`limits::TRANSACT_MAX`].
    pub output_buffer_length: u32,
    /// AdditionalInformation: for security, the [`super::security::secinfo`] bits wanted;
    /// for FileFullEaInformation, the EA index to start at.
    pub additional_information: u32,
    /// Flags (see [`query_flags`]).
    pub flags: u32,
    /// FileId.
    pub file_id: FileIdBytes,
    /// The input buffer (an EA name list for FileFullEaInformation, SMB2_QUERY_QUOTA_INFO
    /// for quota), usually empty.
    pub input_buffer: Vec<u8>,
}

impl QueryInfoRequest {
    /// `StructureSize`.
    pub const STRUCTURE_SIZE: u16 = 41;

    /// Decodes the body of `msg` (the message from its SMB2 header).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg);
        structure_size(
            &mut r,
            Self::STRUCTURE_SIZE,
            "QueryInfoRequest.StructureSize",
        )?;
        let info_type = InfoType(r.u8("QueryInfoRequest.InfoType")?);
        let info_class = r.u8("QueryInfoRequest.FileInfoClass")?;
        let output_buffer_length = r.u32("QueryInfoRequest.OutputBufferLength")?;
        check_max(
            output_buffer_length,
            limits::TRANSACT_MAX,
            "QueryInfoRequest.OutputBufferLength",
        )?;
        let in_off = r.u16("QueryInfoRequest.InputBufferOffset")?;
        r.skip(2, "QueryInfoRequest.Reserved")?;
        let in_len = r.u32("QueryInfoRequest.InputBufferLength")?;
        let additional_information = r.u32("QueryInfoRequest.AdditionalInformation")?;
        let flags = r.u32("QueryInfoRequest.Flags")?;
        let file_id = r.guid("QueryInfoRequest.FileId")?;
        check_offset(
            in_off,
            in_len,
            HEADER_LEN + 40,
            "QueryInfoRequest.InputBufferOffset",
        )?;
        let input_buffer = r
            .slice_at(
                in_off.into(),
                in_len as usize,
                limits::TRANSACT_MAX,
                "QueryInfoRequest.InputBuffer",
            )?
            .to_vec();
        Ok(Self {
            info_type,
            info_class,
            output_buffer_length,
            additional_information,
            flags,
            file_id,
            input_buffer,
        })
    }

    /// Appends the body to `w`, which holds the SMB2 header.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.info_type.0);
        w.u8(self.info_class);
        w.u32(self.output_buffer_length);
        w.u16((start + 40) as u16);
        w.u16(0);
        w.u32(self.input_buffer.len() as u32);
        w.u32(self.additional_information);
        w.u32(self.flags);
        w.bytes(&self.file_id);
        if self.input_buffer.is_empty() {
            w.u8(0);
        } else {
            w.bytes(&self.input_buffer);
        }
    }
}

/// SMB2 QUERY_INFO Response ([MS-SMB2] 2.2.38).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryInfoResponse {
    /// The output buffer: an [MS-FSCC] class or a security descriptor.
    pub output_buffer: Vec<u8>,
}

impl QueryInfoResponse {
    /// `StructureSize`.
    pub const STRUCTURE_SIZE: u16 = 9;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg);
        structure_size(
            &mut r,
            Self::STRUCTURE_SIZE,
            "QueryInfoResponse.StructureSize",
        )?;
        let off = r.u16("QueryInfoResponse.OutputBufferOffset")?;
        let len = r.u32("QueryInfoResponse.OutputBufferLength")?;
        check_offset(
            off,
            len,
            HEADER_LEN + 8,
            "QueryInfoResponse.OutputBufferOffset",
        )?;
        let output_buffer = r
            .slice_at(
                off.into(),
                len as usize,
                limits::TRANSACT_MAX,
                "QueryInfoResponse.OutputBuffer",
            )?
            .to_vec();
        Ok(Self { output_buffer })
    }

    /// Appends the body to `w`, which holds the SMB2 header.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        w.u16(Self::STRUCTURE_SIZE);
        w.u16((start + 8) as u16);
        w.u32(self.output_buffer.len() as u32);
        if self.output_buffer.is_empty() {
            w.u8(0);
        } else {
            w.bytes(&self.output_buffer);
        }
    }
}

/// SMB2 SET_INFO Request ([MS-SMB2] 2.2.39).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetInfoRequest {
    /// InfoType.
    pub info_type: InfoType,
    /// FileInfoClass.
    pub info_class: u8,
    /// AdditionalInformation: for security, which parts of the descriptor to set.
    pub additional_information: u32,
    /// FileId.
    pub file_id: FileIdBytes,
    /// The buffer: an [MS-FSCC] class or a security descriptor.
    pub buffer: Vec<u8>,
}

impl SetInfoRequest {
    /// `StructureSize`.
    pub const STRUCTURE_SIZE: u16 = 33;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg);
        structure_size(&mut r, Self::STRUCTURE_SIZE, "SetInfoRequest.StructureSize")?;
        let info_type = InfoType(r.u8("SetInfoRequest.InfoType")?);
        let info_class = r.u8("SetInfoRequest.FileInfoClass")?;
        let len = r.u32("SetInfoRequest.BufferLength")?;
        let off = r.u16("SetInfoRequest.BufferOffset")?;
        r.skip(2, "SetInfoRequest.Reserved")?;
        let additional_information = r.u32("SetInfoRequest.AdditionalInformation")?;
        let file_id = r.guid("SetInfoRequest.FileId")?;
        check_offset(off, len, HEADER_LEN + 32, "SetInfoRequest.BufferOffset")?;
        let buffer = r
            .slice_at(
                off.into(),
                len as usize,
                limits::TRANSACT_MAX,
                "SetInfoRequest.Buffer",
            )?
            .to_vec();
        Ok(Self {
            info_type,
            info_class,
            additional_information,
            file_id,
            buffer,
        })
    }

    /// Appends the body to `w`, which holds the SMB2 header.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.info_type.0);
        w.u8(self.info_class);
        w.u32(self.buffer.len() as u32);
        w.u16((start + 32) as u16);
        w.u16(0);
        w.u32(self.additional_information);
        w.bytes(&self.file_id);
        if self.buffer.is_empty() {
            w.u8(0);
        } else {
            w.bytes(&self.buffer);
        }
    }
}

/// SMB2 SET_INFO Response ([MS-SMB2] 2.2.40): just its StructureSize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetInfoResponse;

impl SetInfoResponse {
    /// `StructureSize`.
    pub const STRUCTURE_SIZE: u16 = 2;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        structure_size(
            &mut body(msg),
            Self::STRUCTURE_SIZE,
            "SetInfoResponse.StructureSize",
        )?;
        Ok(Self)
    }

    /// Appends the body to `w`, which holds the SMB2 header.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(Self::STRUCTURE_SIZE);
    }
}

/// SMB2_QUERY_QUOTA_INFO ([MS-SMB2] 2.2.37.1): the input buffer of a QUERY_INFO for
/// SMB2_0_INFO_QUOTA.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryQuotaInfo {
    /// ReturnSingle.
    pub return_single: bool,
    /// RestartScan.
    pub restart_scan: bool,
    /// The SIDs asked for (SidBuffer in FILE_GET_QUOTA_INFORMATION form, SidListLength
    /// bytes); when not empty, the start SID is ignored.
    pub sid_list: Vec<Sid>,
    /// The SID to start enumerating at (StartSidLength bytes at StartSidOffset, taken as an
    /// offset into SidBuffer).
    pub start_sid: Option<Sid>,
}

impl QueryQuotaInfo {
    /// Decodes the input buffer.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let return_single = r.u8("QueryQuotaInfo.ReturnSingle")? != 0;
        let restart_scan = r.u8("QueryQuotaInfo.RestartScan")? != 0;
        r.skip(2, "QueryQuotaInfo.Reserved")?;
        let list_len = r.u32("QueryQuotaInfo.SidListLength")? as usize;
        let start_len = r.u32("QueryQuotaInfo.StartSidLength")? as usize;
        let start_off = r.u32("QueryQuotaInfo.StartSidOffset")? as usize;
        let buf = r.bytes(r.remaining(), "QueryQuotaInfo.SidBuffer")?;
        if list_len != 0 {
            let list = buf.get(..list_len).ok_or(DecodeError::Truncated {
                field: "QueryQuotaInfo.SidListLength",
            })?;
            return Ok(Self {
                return_single,
                restart_scan,
                sid_list: decode_get_quota_list(list)?,
                start_sid: None,
            });
        }
        let start_sid = if start_len == 0 {
            None
        } else {
            let sid = start_off
                .checked_add(start_len)
                .and_then(|end| buf.get(start_off..end))
                .ok_or(DecodeError::Truncated {
                    field: "QueryQuotaInfo.StartSid",
                })?;
            Some(Sid::decode(sid)?)
        };
        Ok(Self {
            return_single,
            restart_scan,
            sid_list: Vec::new(),
            start_sid,
        })
    }

    /// The input buffer's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.u8(u8::from(self.return_single));
        w.u8(u8::from(self.restart_scan));
        w.u16(0);
        if self.sid_list.is_empty() {
            let sid = self.start_sid.as_ref().map(Sid::encode).unwrap_or_default();
            w.u32(0);
            w.u32(sid.len() as u32);
            w.u32(0);
            w.bytes(&sid);
        } else {
            let list = encode_get_quota_list(&self.sid_list);
            w.u32(list.len() as u32);
            w.u32(0);
            w.u32(0);
            w.bytes(&list);
        }
        w.into_inner()
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
    fn query_info_request_layout() {
        // [MS-SMB2] 2.2.37: StructureSize 41, InfoType, FileInfoClass, OutputBufferLength,
        // InputBufferOffset, Reserved, InputBufferLength, AdditionalInformation, Flags, FileId.
        let mut msg = vec![0u8; 64];
        msg.extend(
            hex::decode(concat!(
                "2900",
                "01",
                "12",
                "00000100",
                "6800",
                "0000",
                "00000000",
                "00000000",
                "00000000",
                "0102030405060708090a0b0c0d0e0f10",
                "00"
            ))
            .unwrap(),
        );
        let q = QueryInfoRequest::decode(&msg).unwrap();
        assert_eq!(q.info_type, InfoType::FILE);
        assert_eq!(q.info_class, 18);
        assert_eq!(q.output_buffer_length, 65536);
        assert_eq!(q.file_id[0], 1);
        assert!(q.input_buffer.is_empty());
        assert_eq!(with_header(|w| q.encode(w)), msg);
    }

    #[test]
    fn query_info_request_checks() {
        let q = QueryInfoRequest {
            info_type: InfoType::SECURITY,
            info_class: 0,
            output_buffer_length: 4096,
            additional_information: 7,
            flags: 0,
            file_id: [9; 16],
            input_buffer: b"abc".to_vec(),
        };
        let msg = with_header(|w| q.encode(w));
        assert_eq!(QueryInfoRequest::decode(&msg), Ok(q.clone()));
        let mut bad = msg.clone();
        bad[64] = 40;
        assert!(QueryInfoRequest::decode(&bad).is_err());
        let mut too_big = msg.clone();
        too_big[68..72].copy_from_slice(&(limits::TRANSACT_MAX as u32 + 1).to_le_bytes());
        assert!(matches!(
            QueryInfoRequest::decode(&too_big),
            Err(DecodeError::TooLong { .. })
        ));
        let mut past_end = msg.clone();
        past_end[76..80].copy_from_slice(&4u32.to_le_bytes());
        assert!(QueryInfoRequest::decode(&past_end).is_err());
        assert!(QueryInfoRequest::decode(&msg[..100]).is_err());
        let mut inside = msg.clone();
        inside[72..74].copy_from_slice(&80u16.to_le_bytes());
        assert!(QueryInfoRequest::decode(&inside).is_err());
        assert!(QueryInfoRequest::decode(&[]).is_err());
    }

    #[test]
    fn query_info_response_layout() {
        let r = QueryInfoResponse {
            output_buffer: vec![1, 2, 3, 4],
        };
        let msg = with_header(|w| r.encode(w));
        assert_eq!(hex::encode(&msg[64..]), "090048000400000001020304");
        assert_eq!(QueryInfoResponse::decode(&msg), Ok(r));
        let empty = with_header(|w| QueryInfoResponse::default().encode(w));
        assert_eq!(
            QueryInfoResponse::decode(&empty),
            Ok(QueryInfoResponse::default())
        );
    }

    #[test]
    fn set_info_layout() {
        // [MS-SMB2] 2.2.39: StructureSize 33, InfoType, FileInfoClass, BufferLength,
        // BufferOffset (0x60), Reserved, AdditionalInformation, FileId, Buffer.
        let mut msg = vec![0u8; 64];
        msg.extend(
            hex::decode(concat!(
                "2100",
                "01",
                "0d",
                "01000000",
                "6000",
                "0000",
                "00000000",
                "ffffffffffffffffffffffffffffffff",
                "01"
            ))
            .unwrap(),
        );
        let s = SetInfoRequest::decode(&msg).unwrap();
        assert_eq!(s.info_class, 13);
        assert_eq!(s.buffer, vec![1]);
        assert_eq!(with_header(|w| s.encode(w)), msg);
        let resp = with_header(|w| SetInfoResponse.encode(w));
        assert_eq!(&resp[64..], &[2, 0]);
        assert_eq!(SetInfoResponse::decode(&resp), Ok(SetInfoResponse));
        assert!(SetInfoResponse::decode(&msg).is_err());
    }

    #[test]
    fn query_quota_info() {
        // [MS-SMB2] 2.2.37.1: ReturnSingle, RestartScan, Reserved, SidListLength,
        // StartSidLength, StartSidOffset, SidBuffer.
        let q = QueryQuotaInfo {
            return_single: true,
            restart_scan: true,
            sid_list: vec![],
            start_sid: Some(Sid::everyone()),
        };
        let b = q.encode();
        assert_eq!(hex::encode(&b[..16]), "01010000000000000c00000000000000");
        assert_eq!(QueryQuotaInfo::decode(&b), Ok(q));
        let q = QueryQuotaInfo {
            return_single: false,
            restart_scan: true,
            sid_list: vec![Sid::unix_user(5), Sid::unix_user(6)],
            start_sid: None,
        };
        assert_eq!(QueryQuotaInfo::decode(&q.encode()), Ok(q));
        assert_eq!(
            QueryQuotaInfo::decode(&[0; 16]),
            Ok(QueryQuotaInfo::default())
        );
        let mut bad = QueryQuotaInfo {
            start_sid: Some(Sid::everyone()),
            ..Default::default()
        }
        .encode();
        bad[12] = 1;
        assert!(QueryQuotaInfo::decode(&bad).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(t in any::<u8>(), c in any::<u8>(), out in 0u32..=limits::TRANSACT_MAX as u32,
            ai in any::<u32>(), fl in any::<u32>(), fid in any::<[u8; 16]>(),
            buf in proptest::collection::vec(any::<u8>(), 0..64)) {
            let q = QueryInfoRequest { info_type: InfoType(t), info_class: c, output_buffer_length: out,
                additional_information: ai, flags: fl, file_id: fid, input_buffer: buf.clone() };
            prop_assert_eq!(QueryInfoRequest::decode(&with_header(|w| q.encode(w))), Ok(q));
            let s = SetInfoRequest { info_type: InfoType(t), info_class: c, additional_information: ai,
                file_id: fid, buffer: buf.clone() };
            prop_assert_eq!(SetInfoRequest::decode(&with_header(|w| s.encode(w))), Ok(s));
            let r = QueryInfoResponse { output_buffer: buf };
            prop_assert_eq!(QueryInfoResponse::decode(&with_header(|w| r.encode(w))), Ok(r));
        }

        #[test]
        fn decoders_never_panic(b in proptest::collection::vec(any::<u8>(), 0..160)) {
            let _ = QueryInfoRequest::decode(&b);
            let _ = QueryInfoResponse::decode(&b);
            let _ = SetInfoRequest::decode(&b);
            let _ = SetInfoResponse::decode(&b);
            let _ = QueryQuotaInfo::decode(&b);
        }
    }
}
