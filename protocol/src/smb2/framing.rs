//! The direct-TCP transport ([MS-SMB2] 2.1): every SMB2 frame on the stream is preceded by a
//! 4-byte header, a zero byte then the frame length as 24 bits, big-endian. A frame holds one
//! SMB2 message, a compound of them, an encrypted TRANSFORM message, or (first thing on a
//! connection, from clients that still speak it) an SMB1 NEGOTIATE.
//!
//! [`FrameDecoder`] is the sans-IO framing step, like [`crate::rpc::RecordDecoder`]: `Ok(None)`
//! until a whole frame is buffered, `Err` for a stream that can never become valid (the server
//! closes the connection). [`ProtocolId::of`] then says what the frame holds.

use bytes::{Buf, Bytes, BytesMut};

use super::limits;

/// Why a byte stream is not valid direct-TCP framing. Either way the connection is closed
/// without a reply: there is no frame boundary left to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The first byte of the transport header was not zero ([MS-SMB2] 2.1: "Zero (1 byte)").
    /// NetBIOS session-service packets (keep-alives, session requests) look like this; they
    /// belong on port 139, which we do not serve.
    #[error("transport header starts with {0:#04x}, not zero")]
    NotZero(u8),
    /// The frame is longer than the decoder's maximum.
    #[error("frame of {len} bytes exceeds the limit {max}")]
    TooLong {
        /// Announced length.
        len: usize,
        /// The limit in force.
        max: usize,
    },
}

/// The largest length the 24-bit StreamProtocolLength can express.
pub const STREAM_LEN_MAX: usize = 0x00FF_FFFF;

/// The 4-byte direct-TCP header for a frame of `len` bytes ([MS-SMB2] 2.1).
///
/// # Panics
/// If `len` exceeds 24 bits ([`STREAM_LEN_MAX`]); frames this side builds are bounded by
/// [`limits::FRAME_MAX`], far below.
pub fn frame_header(len: usize) -> [u8; 4] {
    assert!(
        len <= STREAM_LEN_MAX,
        "an SMB2 frame we build fits the 24-bit stream length"
    );
    (len as u32).to_be_bytes()
}

/// `payload` with its direct-TCP header in front (a copy; a writer that can do vectored I/O
/// sends [`frame_header`] and the payload separately).
///
/// # Panics
/// As [`frame_header`].
pub fn encode_frame(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&frame_header(payload.len()));
    out.extend_from_slice(payload);
    out
}

/// Splits a TCP byte stream into direct-TCP frames. One decoder serves one connection; after
/// an error the connection must be closed.
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    max: usize,
}

impl Default for FrameDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl FrameDecoder {
    /// A decoder accepting frames up to [`limits::FRAME_MAX`].
    pub const fn new() -> Self {
        Self {
            max: limits::FRAME_MAX,
        }
    }

    /// A decoder accepting frames up to `max` bytes, capped at [`limits::FRAME_MAX`] (a
    /// server may lower it before NEGOTIATE, when only small requests are legal).
    pub fn with_max(max: usize) -> Self {
        Self {
            max: max.min(limits::FRAME_MAX),
        }
    }

    /// The largest frame accepted.
    pub const fn max(&self) -> usize {
        self.max
    }

    /// Changes the largest frame accepted (capped at [`limits::FRAME_MAX`]).
    pub fn set_max(&mut self, max: usize) {
        self.max = max.min(limits::FRAME_MAX);
    }

    /// Takes the next complete frame (without its transport header) out of `buf`: `Ok(None)`
    /// means more bytes are needed, `Err` a broken stream. Call it again after `Ok(Some(_))`:
    /// `buf` may hold further frames. The length is checked on the header, before any buffer
    /// grows; then `buf` reserves room for this frame only.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        let Some(&[zero, a, b, c]) = buf.first_chunk::<4>() else {
            return Ok(None);
        };
        if zero != 0 {
            return Err(FrameError::NotZero(zero));
        }
        let len = u32::from_be_bytes([0, a, b, c]) as usize;
        if len > self.max {
            return Err(FrameError::TooLong { len, max: self.max });
        }
        if buf.len() < 4 + len {
            buf.reserve(4 + len - buf.len());
            return Ok(None);
        }
        buf.advance(4);
        Ok(Some(buf.split_to(len).freeze()))
    }
}

/// What a frame holds, from its first four bytes ([MS-SMB2] 3.3.5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProtocolId {
    /// 0xFE 'SMB': one SMB2 message or a compound of them.
    Smb2,
    /// 0xFD 'SMB': an SMB2 TRANSFORM_HEADER and an encrypted message ([MS-SMB2] 2.2.41).
    Transform,
    /// 0xFC 'SMB': a COMPRESSION_TRANSFORM_HEADER ([MS-SMB2] 2.2.42). We never negotiate
    /// compression, so a client sending one is broken: close the connection.
    Compression,
    /// 0xFF 'SMB': an SMB1 message; only SMB_COM_NEGOTIATE is answered
    /// ([`super::smb1`], [MS-SMB2] 3.3.5.3).
    Smb1,
    /// Anything else, including frames shorter than 4 bytes: close the connection.
    Unknown,
}

impl ProtocolId {
    /// Classifies a frame by its protocol id.
    pub fn of(frame: &[u8]) -> Self {
        match frame.first_chunk::<4>() {
            Some([0xFE, b'S', b'M', b'B']) => Self::Smb2,
            Some([0xFD, b'S', b'M', b'B']) => Self::Transform,
            Some([0xFC, b'S', b'M', b'B']) => Self::Compression,
            Some([0xFF, b'S', b'M', b'B']) => Self::Smb1,
            _ => Self::Unknown,
        }
    }

    /// Whether the server can process the frame (SMB2, encrypted SMB2, or an SMB1 NEGOTIATE
    /// candidate); otherwise it closes the connection.
    pub const fn is_supported(self) -> bool {
        matches!(self, Self::Smb2 | Self::Transform | Self::Smb1)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Goal: the transport header is a zero byte and a 24-bit big-endian length ([MS-SMB2]
    /// 2.1), and frames back to back come out one per call, fed a byte at a time.
    #[test]
    fn header_layout_and_bytewise_feed() {
        assert_eq!(frame_header(0x0012_3456), [0x00, 0x12, 0x34, 0x56]);
        let mut wire = encode_frame(b"\xfeSMBone");
        wire.extend_from_slice(&encode_frame(b""));
        wire.extend_from_slice(&encode_frame(b"\xfdSMB"));
        let mut d = FrameDecoder::new();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire {
            buf.extend_from_slice(&[b]);
            while let Some(f) = d.decode(&mut buf).unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got.len(), 3);
        assert_eq!(ProtocolId::of(&got[0]), ProtocolId::Smb2);
        assert_eq!(ProtocolId::of(&got[1]), ProtocolId::Unknown);
        assert_eq!(ProtocolId::of(&got[2]), ProtocolId::Transform);
        assert!(buf.is_empty());
    }

    /// Goal: a frame over the maximum is refused on its header, before anything is reserved;
    /// a legal header reserves room for its frame only; a NetBIOS keep-alive is refused.
    #[test]
    fn limits_and_reservation() {
        let mut d = FrameDecoder::with_max(1000);
        let mut buf = BytesMut::from(&frame_header(1001)[..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(FrameError::TooLong {
                len: 1001,
                max: 1000
            })
        );
        assert!(buf.capacity() < 1024);
        let mut buf = BytesMut::from(&frame_header(1000)[..]);
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert!(buf.capacity() >= 1004 && buf.capacity() < 2048);
        let mut buf = BytesMut::from(&[0xFFu8, 0xFF, 0xFF, 0xFF][..]);
        assert!(matches!(
            FrameDecoder::new().decode(&mut buf),
            Err(FrameError::NotZero(0xFF))
        ));
        let mut buf = BytesMut::from(&[0x85u8, 0, 0, 0][..]);
        assert_eq!(
            FrameDecoder::new().decode(&mut buf),
            Err(FrameError::NotZero(0x85))
        );
        assert_eq!(FrameDecoder::with_max(usize::MAX).max(), limits::FRAME_MAX);
    }

    /// Goal: the four protocol ids are told apart.
    #[test]
    fn protocol_ids() {
        assert_eq!(ProtocolId::of(b"\xfcSMB...."), ProtocolId::Compression);
        assert_eq!(ProtocolId::of(b"\xffSMBr"), ProtocolId::Smb1);
        assert_eq!(ProtocolId::of(b"\xfeSM"), ProtocolId::Unknown);
        assert!(!ProtocolId::Compression.is_supported());
        assert!(ProtocolId::Smb1.is_supported());
    }

    proptest! {
        /// Goal: random bytes fed in random chunks never panic, and frames respect the limit.
        #[test]
        fn random_chunks(data in proptest::collection::vec(any::<u8>(), 0..512),
                         chunks in proptest::collection::vec(1usize..64, 1..16),
                         max in 0usize..300) {
            let mut d = FrameDecoder::with_max(max);
            let mut buf = BytesMut::new();
            let mut rest = &data[..];
            'feed: for n in chunks.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let n = (*n).min(rest.len());
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                loop {
                    match d.decode(&mut buf) {
                        Ok(Some(f)) => prop_assert!(f.len() <= max),
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
            }
        }

        /// Goal: any payload framed comes back whole.
        #[test]
        fn round_trip(payload in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let mut buf = BytesMut::from(&encode_frame(&payload)[..]);
            prop_assert_eq!(FrameDecoder::new().decode(&mut buf), Ok(Some(Bytes::from(payload))));
            prop_assert!(buf.is_empty());
        }
    }
}
