//! The SMB2 TRANSFORM_HEADER ([MS-SMB2] 2.2.41) that precedes an encrypted message. The
//! ciphers themselves (AES-CCM / AES-GCM over the message, with [`aad`] as additional data)
//! live with the session keys, not here.

use std::ops::Range;

use super::header::SessionId;
use super::le::Reader;
use crate::wire::DecodeError;

/// The TRANSFORM_HEADER length.
pub const TRANSFORM_HEADER_LEN: usize = 52;

/// Its ProtocolId: 0xFD 'S' 'M' 'B'.
pub const TRANSFORM_PROTOCOL_ID: [u8; 4] = [0xFD, b'S', b'M', b'B'];

/// The bytes of the header that are the AEAD's additional authenticated data: from the Nonce
/// to the end, 32 bytes ([MS-SMB2] 3.1.4.3: everything after the Signature).
pub const AAD_RANGE: Range<usize> = 20..TRANSFORM_HEADER_LEN;

/// Where the Signature (the AEAD tag) lies in the header.
pub const SIGNATURE_RANGE: Range<usize> = 4..20;

/// Flags (3.1.1) / EncryptionAlgorithm (3.0, 3.0.2, where 1 names AES-128-CCM): the one
/// defined value, "the message is encrypted".
pub const ENCRYPTED: u16 = 0x0001;

/// The SMB2 TRANSFORM_HEADER ([MS-SMB2] 2.2.41).
#[doc(alias = "SMB2 TRANSFORM_HEADER")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransformHeader {
    /// Signature: the AEAD tag over the encrypted message.
    pub signature: [u8; 16],
    /// Nonce: 11 bytes for AES-CCM, 12 for AES-GCM, the rest zero; chosen by the sender (a
    /// counter or random bytes passed in, never generated here).
    pub nonce: [u8; 16],
    /// OriginalMessageSize: the plaintext's length (equal to the ciphertext's).
    pub original_message_size: u32,
    /// Flags / EncryptionAlgorithm; [`ENCRYPTED`] is the only valid value.
    pub flags: u16,
    /// The session whose keys encrypt the message.
    pub session_id: SessionId,
}

impl TransformHeader {
    /// A header for a message of `original_message_size` bytes encrypted under `session_id`
    /// with `nonce`; the signature is zero until the cipher fills it.
    pub const fn new(nonce: [u8; 16], original_message_size: u32, session_id: SessionId) -> Self {
        Self {
            signature: [0; 16],
            nonce,
            original_message_size,
            flags: ENCRYPTED,
            session_id,
        }
    }

    /// Reads the 52-byte header at the start of `frame`, checking only the ProtocolId.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(frame);
        let protocol = r.array::<4>("ProtocolId")?;
        if protocol != TRANSFORM_PROTOCOL_ID {
            return Err(DecodeError::InvalidValue {
                field: "ProtocolId",
                value: u64::from(u32::from_le_bytes(protocol)),
            });
        }
        let signature = r.array("Signature")?;
        let nonce = r.array("Nonce")?;
        let original_message_size = r.u32("OriginalMessageSize")?;
        r.skip(2, "Reserved")?;
        let flags = r.u16("Flags")?;
        let session_id = SessionId(r.u64("SessionId")?);
        Ok(Self {
            signature,
            nonce,
            original_message_size,
            flags,
            session_id,
        })
    }

    /// Splits an encrypted frame into its header and ciphertext, with the checks a server
    /// makes before decrypting ([MS-SMB2] 3.3.5.2.1.1), each of which closes the connection:
    /// Flags must be [`ENCRYPTED`], the ciphertext non-empty and exactly OriginalMessageSize
    /// bytes long.
    pub fn split(frame: &[u8]) -> Result<(Self, &[u8]), DecodeError> {
        let h = Self::decode(frame)?;
        if h.flags != ENCRYPTED {
            return Err(DecodeError::InvalidValue {
                field: "TRANSFORM_HEADER Flags",
                value: u64::from(h.flags),
            });
        }
        let payload = &frame[TRANSFORM_HEADER_LEN..];
        if payload.is_empty() || payload.len() != h.original_message_size as usize {
            return Err(DecodeError::InvalidValue {
                field: "OriginalMessageSize",
                value: u64::from(h.original_message_size),
            });
        }
        Ok((h, payload))
    }

    /// The 52 header bytes.
    pub fn to_bytes(&self) -> [u8; TRANSFORM_HEADER_LEN] {
        let mut out = [0u8; TRANSFORM_HEADER_LEN];
        out[0..4].copy_from_slice(&TRANSFORM_PROTOCOL_ID);
        out[4..20].copy_from_slice(&self.signature);
        out[20..36].copy_from_slice(&self.nonce);
        out[36..40].copy_from_slice(&self.original_message_size.to_le_bytes());
        out[42..44].copy_from_slice(&self.flags.to_le_bytes());
        out[44..52].copy_from_slice(&self.session_id.0.to_le_bytes());
        out
    }
}

/// The additional authenticated data of an encrypted message: bytes 20..52 of its transform
/// header (Nonce, OriginalMessageSize, Reserved, Flags, SessionId). A receiver passes the 52
/// bytes it received (Reserved as sent), not a re-encoded [`TransformHeader`].
pub fn aad(header: &[u8; TRANSFORM_HEADER_LEN]) -> &[u8] {
    &header[AAD_RANGE]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Goal: a header laid out from [MS-SMB2] 2.2.41 decodes, re-encodes, and its AAD is the
    /// last 32 bytes.
    #[test]
    fn layout() {
        let bytes = hex::decode(concat!(
            "fd534d42",
            "000102030405060708090a0b0c0d0e0f", // signature
            "a0a1a2a3a4a5a6a7a8a9aaab00000000", // nonce (GCM: 12 bytes)
            "68000000",
            "0000",
            "0100",
            "1100000000003000",
        ))
        .unwrap();
        let h = TransformHeader::decode(&bytes).unwrap();
        assert_eq!(h.original_message_size, 0x68);
        assert_eq!(h.flags, ENCRYPTED);
        assert_eq!(h.session_id, SessionId(0x0030_0000_0000_0011));
        assert_eq!(h.nonce[..12], bytes[20..32]);
        let out = h.to_bytes();
        assert_eq!(out.as_slice(), bytes.as_slice());
        assert_eq!(aad(&out), &bytes[20..52]);
        assert_eq!(aad(&out).len(), 32);
    }

    /// Goal: split checks the flags and that the ciphertext is OriginalMessageSize long.
    #[test]
    fn split_checks() {
        let h = TransformHeader::new([1; 16], 5, SessionId(3));
        let mut frame = h.to_bytes().to_vec();
        frame.extend_from_slice(b"abcde");
        assert_eq!(TransformHeader::split(&frame), Ok((h, &b"abcde"[..])));
        assert!(TransformHeader::split(&frame[..56]).is_err());
        assert!(TransformHeader::split(&frame[..52]).is_err());
        frame[42] = 2;
        assert!(TransformHeader::split(&frame).is_err());
        assert!(TransformHeader::decode(&frame).is_ok());
        frame[0] = 0xFE;
        assert!(TransformHeader::decode(&frame).is_err());
        assert!(TransformHeader::decode(&frame[..51]).is_err());
    }

    proptest! {
        /// Goal: headers round-trip; 52 arbitrary bytes with the right protocol id decode and
        /// re-encode unchanged except the Reserved field, which is written as zero.
        #[test]
        fn round_trip(sig: [u8; 16], nonce: [u8; 16], size: u32, flags: u16, sid: u64,
                      raw in proptest::collection::vec(any::<u8>(), 52)) {
            let h = TransformHeader { signature: sig, nonce, original_message_size: size, flags, session_id: SessionId(sid) };
            prop_assert_eq!(TransformHeader::decode(&h.to_bytes()), Ok(h));
            let mut raw = raw;
            raw[..4].copy_from_slice(&TRANSFORM_PROTOCOL_ID);
            raw[40] = 0;
            raw[41] = 0;
            prop_assert_eq!(TransformHeader::decode(&raw).unwrap().to_bytes().to_vec(), raw);
        }
    }
}
