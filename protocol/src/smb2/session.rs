//! SESSION_SETUP ([MS-SMB2] 2.2.5 request, 2.2.6 response) and LOGOFF (2.2.7, 2.2.8).

use super::header::{SessionId, body_reader, expect_structure_size, flag_set, u16_len};
use super::le::Writer;
use super::limits;
use super::negotiate::{Capabilities, SecurityMode};
use crate::wire::DecodeError;

flag_set! {
    /// Flags of the SESSION_SETUP request ([MS-SMB2] 2.2.5).
    SessionSetupFlags(u8) {
        /// Bind this connection to an existing session (multichannel, 3.x).
        BINDING = 0x01, "SMB2_SESSION_FLAG_BINDING";
    }
}

flag_set! {
    /// SessionFlags of the SESSION_SETUP response ([MS-SMB2] 2.2.6).
    SessionFlags(u16) {
        /// The client was authenticated as guest.
        IS_GUEST = 0x0001, "SMB2_SESSION_FLAG_IS_GUEST";
        /// The client was authenticated anonymously.
        IS_NULL = 0x0002, "SMB2_SESSION_FLAG_IS_NULL";
        /// The session's messages must be encrypted (3.x).
        ENCRYPT_DATA = 0x0004, "SMB2_SESSION_FLAG_ENCRYPT_DATA";
    }
}

/// The SMB2 SESSION_SETUP request ([MS-SMB2] 2.2.5).
#[doc(alias = "SMB2 SESSION_SETUP Request")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSetupRequest<'a> {
    /// Flags.
    pub flags: SessionSetupFlags,
    /// SecurityMode (one byte on the wire; the high byte of the newtype is dropped).
    pub security_mode: SecurityMode,
    /// Capabilities (only DFS is meaningful).
    pub capabilities: Capabilities,
    /// Channel (MUST be 0).
    pub channel: u32,
    /// PreviousSessionId: a session of this client to tear down (reconnect).
    pub previous_session_id: SessionId,
    /// The GSS (SPNEGO) token, up to [`limits::SECURITY_BLOB_MAX`].
    pub security_buffer: &'a [u8],
}

impl<'a> SessionSetupRequest<'a> {
    /// Reads the request from `msg` (the whole message, header included).
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = body_reader(msg)?;
        expect_structure_size(&mut r, 25)?;
        let flags = SessionSetupFlags(r.u8("Flags")?);
        let security_mode = SecurityMode(u16::from(r.u8("SecurityMode")?));
        let capabilities = Capabilities(r.u32("Capabilities")?);
        let channel = r.u32("Channel")?;
        let offset = usize::from(r.u16("SecurityBufferOffset")?);
        let len = usize::from(r.u16("SecurityBufferLength")?);
        let previous_session_id = SessionId(r.u64("PreviousSessionId")?);
        let security_buffer =
            r.slice_at(offset, len, limits::SECURITY_BLOB_MAX, "SecurityBuffer")?;
        Ok(Self {
            flags,
            security_mode,
            capabilities,
            channel,
            previous_session_id,
            security_buffer,
        })
    }

    /// Appends the body to `w`, which holds the 64-byte header; the buffer follows the fixed
    /// part at offset 88.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(25);
        w.u8(self.flags.0);
        w.u8(self.security_mode.0 as u8);
        w.u32(self.capabilities.0);
        w.u32(self.channel);
        w.u16(u16_len(w.len() + 12));
        w.u16(u16_len(self.security_buffer.len()));
        w.u64(self.previous_session_id.0);
        w.bytes(self.security_buffer);
    }
}

/// The SMB2 SESSION_SETUP response ([MS-SMB2] 2.2.6); the status in the header says whether
/// another leg follows (STATUS_MORE_PROCESSING_REQUIRED).
#[doc(alias = "SMB2 SESSION_SETUP Response")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionSetupResponse<'a> {
    /// SessionFlags.
    pub session_flags: SessionFlags,
    /// The GSS (SPNEGO) token, up to [`limits::SECURITY_BLOB_MAX`].
    pub security_buffer: &'a [u8],
}

impl<'a> SessionSetupResponse<'a> {
    /// Reads the response from `msg` (the whole message, header included).
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = body_reader(msg)?;
        expect_structure_size(&mut r, 9)?;
        let session_flags = SessionFlags(r.u16("SessionFlags")?);
        let offset = usize::from(r.u16("SecurityBufferOffset")?);
        let len = usize::from(r.u16("SecurityBufferLength")?);
        let security_buffer =
            r.slice_at(offset, len, limits::SECURITY_BLOB_MAX, "SecurityBuffer")?;
        Ok(Self {
            session_flags,
            security_buffer,
        })
    }

    /// Appends the body to `w`, which holds the 64-byte header; the buffer follows at offset
    /// 72 (an empty buffer still gets its offset, as Windows sends it).
    pub fn encode(&self, w: &mut Writer) {
        w.u16(9);
        w.u16(self.session_flags.0);
        w.u16(u16_len(w.len() + 4));
        w.u16(u16_len(self.security_buffer.len()));
        w.bytes(self.security_buffer);
    }
}

/// The SMB2 LOGOFF request ([MS-SMB2] 2.2.7): StructureSize 4 and a reserved word.
#[doc(alias = "SMB2 LOGOFF Request")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogoffRequest;

/// The SMB2 LOGOFF response ([MS-SMB2] 2.2.8): StructureSize 4 and a reserved word.
#[doc(alias = "SMB2 LOGOFF Response")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LogoffResponse;

/// Declares decode/encode for a body that is StructureSize 4 and a reserved word.
macro_rules! empty_body {
    ($($ty:ty),*) => {$(
        impl $ty {
            /// Reads the body of `msg` (the whole message, header included): StructureSize 4,
            /// then Reserved, which is ignored.
            pub fn decode(msg: &[u8]) -> Result<Self, crate::wire::DecodeError> {
                crate::smb2::header::decode_empty_body(msg).map(|()| Self)
            }

            /// Appends the body to `w`, which holds the 64-byte header.
            pub fn encode(&self, w: &mut crate::smb2::le::Writer) {
                w.u16(4);
                w.u16(0);
            }
        }
    )*};
}
pub(crate) use empty_body;

empty_body!(LogoffRequest, LogoffResponse);

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::smb2::header::{Command, Header};

    fn with_header(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        Header::new(Command::SESSION_SETUP).encode(&mut w);
        f(&mut w);
        w.into_inner()
    }

    /// Goal: a request laid out from [MS-SMB2] 2.2.5 decodes and re-encodes: buffer at 88.
    #[test]
    fn request_layout() {
        let body = concat!(
            "1900",
            "01",
            "02",
            "01000000",
            "00000000",
            "5800",
            "0400",
            "2a00000000000000",
            "60484e54",
        );
        let mut msg = Header::new(Command::SESSION_SETUP).to_bytes().to_vec();
        msg.extend_from_slice(&hex::decode(body).unwrap());
        let req = SessionSetupRequest::decode(&msg).unwrap();
        assert_eq!(req.flags, SessionSetupFlags::BINDING);
        assert_eq!(req.security_mode, SecurityMode::SIGNING_REQUIRED);
        assert_eq!(req.capabilities, Capabilities::DFS);
        assert_eq!(req.previous_session_id, SessionId(42));
        assert_eq!(req.security_buffer, b"\x60\x48\x4e\x54");
        assert_eq!(with_header(|w| req.encode(w)), msg);
    }

    /// Goal: a response laid out from [MS-SMB2] 2.2.6 (buffer at 72) decodes and re-encodes;
    /// a buffer past the end or over the limit is refused.
    #[test]
    fn response_layout() {
        let mut msg = Header::new(Command::SESSION_SETUP).to_bytes().to_vec();
        msg.extend_from_slice(&hex::decode("0900050048000300a1b2c3").unwrap());
        let resp = SessionSetupResponse::decode(&msg).unwrap();
        assert_eq!(
            resp.session_flags,
            SessionFlags::IS_GUEST | SessionFlags::ENCRYPT_DATA
        );
        assert_eq!(resp.security_buffer, &[0xa1, 0xb2, 0xc3]);
        assert_eq!(with_header(|w| resp.encode(w)), msg);
        assert!(SessionSetupResponse::decode(&msg[..msg.len() - 1]).is_err());
        let big = vec![0u8; limits::SECURITY_BLOB_MAX + 1];
        let over = with_header(|w| {
            SessionSetupRequest {
                flags: SessionSetupFlags::EMPTY,
                security_mode: SecurityMode::EMPTY,
                capabilities: Capabilities::EMPTY,
                channel: 0,
                previous_session_id: SessionId(0),
                security_buffer: &big[..limits::SECURITY_BLOB_MAX],
            }
            .encode(w)
        });
        assert!(SessionSetupRequest::decode(&over).is_ok());
    }

    /// Goal: LOGOFF bodies are StructureSize 4 and a reserved word ([MS-SMB2] 2.2.7/2.2.8).
    #[test]
    fn logoff() {
        let msg = with_header(|w| LogoffRequest.encode(w));
        assert_eq!(&msg[64..], &[4, 0, 0, 0]);
        assert_eq!(LogoffRequest::decode(&msg), Ok(LogoffRequest));
        assert_eq!(LogoffResponse::decode(&msg), Ok(LogoffResponse));
        assert!(LogoffRequest::decode(&msg[..67]).is_err());
        let mut bad = msg;
        bad[64] = 5;
        assert!(LogoffResponse::decode(&bad).is_err());
    }

    proptest! {
        /// Goal: requests and responses round-trip.
        #[test]
        fn round_trip(flags: u8, sm: u8, caps: u32, channel: u32, prev: u64, sf: u16,
                      blob in vec(any::<u8>(), 0..200)) {
            let req = SessionSetupRequest {
                flags: SessionSetupFlags(flags),
                security_mode: SecurityMode(u16::from(sm)),
                capabilities: Capabilities(caps),
                channel,
                previous_session_id: SessionId(prev),
                security_buffer: &blob,
            };
            let msg = with_header(|w| req.encode(w));
            prop_assert_eq!(SessionSetupRequest::decode(&msg), Ok(req));
            let resp = SessionSetupResponse { session_flags: SessionFlags(sf), security_buffer: &blob };
            let msg = with_header(|w| resp.encode(w));
            prop_assert_eq!(SessionSetupResponse::decode(&msg), Ok(resp));
        }
    }
}
