//! The SMB1 multi-protocol NEGOTIATE ([MS-SMB2] 3.3.5.3.1, [MS-CIFS] 2.2.4.52.1): smbclient
//! and Windows clients may open a connection with an SMB1 SMB_COM_NEGOTIATE listing dialect
//! strings. A server that speaks only SMB2 answers with an SMB2 NEGOTIATE response naming
//! dialect 0x02FF when "SMB 2.???" is offered (the client then sends an SMB2 NEGOTIATE) or
//! 0x0202 when only "SMB 2.002" is; with neither, the connection is closed.
//!
//! Only what that decision needs is parsed; nothing is allocated.

use super::negotiate::Dialect;
use crate::wire::DecodeError;

/// The SMB1 protocol id 0xFF 'S' 'M' 'B' ([MS-CIFS] 2.2.3.1).
pub const SMB1_PROTOCOL_ID: [u8; 4] = [0xFF, b'S', b'M', b'B'];
/// SMB_COM_NEGOTIATE ([MS-CIFS] 2.2.2.1).
pub const SMB_COM_NEGOTIATE: u8 = 0x72;
/// The SMB1 header length ([MS-CIFS] 2.2.3.1).
pub const SMB1_HEADER_LEN: usize = 32;
/// The dialect string naming SMB 2.0.2.
pub const DIALECT_SMB2_002: &[u8] = b"SMB 2.002";
/// The dialect string naming "SMB 2.1 or later".
pub const DIALECT_SMB2_WILDCARD: &[u8] = b"SMB 2.???";

/// What an SMB1 NEGOTIATE request offers, as far as an SMB2 server cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Smb1Negotiate {
    /// Dialect strings in the request.
    pub dialect_count: usize,
    /// "SMB 2.002" is among them.
    pub offers_smb2_002: bool,
    /// "SMB 2.???" is among them.
    pub offers_smb2_wildcard: bool,
}

impl Smb1Negotiate {
    /// Parses an SMB1 frame that must be an SMB_COM_NEGOTIATE request: the 32-byte header
    /// (ProtocolId, Command 0x72, the rest unchecked), WordCount 0, ByteCount, then ByteCount
    /// bytes of dialects, each a BufferFormat byte 0x02 and a NUL-terminated OEM string.
    /// Bytes after ByteCount are ignored.
    pub fn decode(frame: &[u8]) -> Result<Self, DecodeError> {
        let header = frame.get(..SMB1_HEADER_LEN).ok_or(DecodeError::Truncated {
            field: "SMB1 header",
        })?;
        if header[..4] != SMB1_PROTOCOL_ID {
            return Err(DecodeError::InvalidValue {
                field: "SMB1 Protocol",
                value: u64::from(u32::from_le_bytes([
                    header[0], header[1], header[2], header[3],
                ])),
            });
        }
        if header[4] != SMB_COM_NEGOTIATE {
            return Err(DecodeError::InvalidValue {
                field: "SMB1 Command",
                value: u64::from(header[4]),
            });
        }
        let &[word_count, bc0, bc1, ref rest @ ..] = &frame[SMB1_HEADER_LEN..] else {
            return Err(DecodeError::Truncated {
                field: "SMB1 parameters",
            });
        };
        if word_count != 0 {
            return Err(DecodeError::InvalidValue {
                field: "SMB1 WordCount",
                value: u64::from(word_count),
            });
        }
        let byte_count = usize::from(u16::from_le_bytes([bc0, bc1]));
        let mut bytes = rest.get(..byte_count).ok_or(DecodeError::Truncated {
            field: "SMB1 Dialects",
        })?;
        let mut out = Self {
            dialect_count: 0,
            offers_smb2_002: false,
            offers_smb2_wildcard: false,
        };
        while let Some((&format, tail)) = bytes.split_first() {
            if format != 0x02 {
                return Err(DecodeError::InvalidValue {
                    field: "SMB1 BufferFormat",
                    value: u64::from(format),
                });
            }
            let nul = tail
                .iter()
                .position(|&b| b == 0)
                .ok_or(DecodeError::Truncated {
                    field: "SMB1 DialectString",
                })?;
            let name = &tail[..nul];
            out.dialect_count += 1;
            out.offers_smb2_002 |= name == DIALECT_SMB2_002;
            out.offers_smb2_wildcard |= name == DIALECT_SMB2_WILDCARD;
            bytes = &tail[nul + 1..];
        }
        Ok(out)
    }

    /// The DialectRevision of the SMB2 NEGOTIATE response that answers this request, for a
    /// server that implements SMB 2.1 or later ([MS-SMB2] 3.3.5.3.1): the wildcard 0x02FF if
    /// "SMB 2.???" is offered, else 0x0202 if "SMB 2.002" is, else `None` (no SMB2 dialect in
    /// common: close the connection).
    pub const fn smb2_dialect(&self) -> Option<Dialect> {
        if self.offers_smb2_wildcard {
            Some(Dialect::SMB2_WILDCARD)
        } else if self.offers_smb2_002 {
            Some(Dialect::SMB2_0_2)
        } else {
            None
        }
    }
}

/// An SMB1 SMB_COM_NEGOTIATE request offering `dialects` (for test clients and the fuzz
/// corpus): the header with Flags2 asking for Unicode, NT status and extended security, as
/// Windows sends it, then the dialect strings. Dialect strings must not contain NUL.
pub fn encode_negotiate(dialects: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&SMB1_PROTOCOL_ID);
    out.push(SMB_COM_NEGOTIATE);
    out.extend_from_slice(&[0; 4]); // Status
    out.push(0x18); // Flags: case-insensitive, canonicalised paths
    out.extend_from_slice(&0xC853u16.to_le_bytes()); // Flags2
    out.extend_from_slice(&[0; 22 - 12]); // PIDHigh, SecurityFeatures
    out.extend_from_slice(&[0; 2]); // Reserved
    out.extend_from_slice(&[0xFF, 0xFF]); // TID
    out.extend_from_slice(&[0xFE, 0xFF]); // PIDLow
    out.extend_from_slice(&[0; 2]); // UID
    out.extend_from_slice(&[0; 2]); // MID
    out.push(0); // WordCount
    let count_at = out.len();
    out.extend_from_slice(&[0; 2]);
    for d in dialects {
        out.push(0x02);
        out.extend_from_slice(d.as_bytes());
        out.push(0);
    }
    let byte_count = u16::try_from(out.len() - count_at - 2).unwrap_or(u16::MAX);
    out[count_at..count_at + 2].copy_from_slice(&byte_count.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the request Windows sends (three dialects) is recognised and answered with the
    /// wildcard. Method: bytes laid out from [MS-CIFS] 2.2.4.52.1.
    #[test]
    fn windows_request() {
        let frame = hex::decode(concat!(
            "ff534d4272",
            "00000000",
            "18",
            "53c8",
            "0000",
            "0000000000000000",
            "0000",
            "ffff",
            "feff",
            "0000",
            "0000",
            "00",
            "2200",
            "024e54204c4d20302e313200", // NT LM 0.12
            "02534d4220322e30303200",   // SMB 2.002
            "02534d4220322e3f3f3f00",   // SMB 2.???
        ))
        .unwrap();
        assert_eq!(
            frame,
            encode_negotiate(&["NT LM 0.12", "SMB 2.002", "SMB 2.???"])
        );
        let n = Smb1Negotiate::decode(&frame).unwrap();
        assert_eq!(n.dialect_count, 3);
        assert!(n.offers_smb2_002 && n.offers_smb2_wildcard);
        assert_eq!(n.smb2_dialect(), Some(Dialect::SMB2_WILDCARD));
    }

    /// Goal: only "SMB 2.002" gives 0x0202; no SMB2 dialect gives none.
    #[test]
    fn dialect_choice() {
        let n = Smb1Negotiate::decode(&encode_negotiate(&["LANMAN1.0", "SMB 2.002"])).unwrap();
        assert_eq!(n.smb2_dialect(), Some(Dialect::SMB2_0_2));
        let n = Smb1Negotiate::decode(&encode_negotiate(&["NT LM 0.12"])).unwrap();
        assert_eq!(n.smb2_dialect(), None);
        let n = Smb1Negotiate::decode(&encode_negotiate(&[])).unwrap();
        assert_eq!(n.dialect_count, 0);
    }

    /// Goal: malformed requests are refused: wrong command, word count, buffer format, an
    /// unterminated string, a byte count past the end.
    #[test]
    fn rejects_malformed() {
        let good = encode_negotiate(&["SMB 2.002"]);
        let mut bad = good.clone();
        bad[4] = 0x73;
        assert!(Smb1Negotiate::decode(&bad).is_err());
        let mut bad = good.clone();
        bad[32] = 1;
        assert!(Smb1Negotiate::decode(&bad).is_err());
        let mut bad = good.clone();
        bad[35] = 0x03;
        assert!(Smb1Negotiate::decode(&bad).is_err());
        assert!(Smb1Negotiate::decode(&good[..good.len() - 1]).is_err());
        let mut bad = good.clone();
        *bad.last_mut().unwrap() = b'x';
        assert!(Smb1Negotiate::decode(&bad).is_err());
        assert!(Smb1Negotiate::decode(&good[..34]).is_err());
        assert!(Smb1Negotiate::decode(b"\xfeSMB").is_err());
    }

    proptest::proptest! {
        /// Goal: random bytes never panic the decoder.
        #[test]
        fn random_bytes(tail in proptest::collection::vec(0u8..4, 0..64)) {
            let mut frame = encode_negotiate(&[]);
            frame.truncate(33);
            frame.extend_from_slice(&tail);
            let _ = Smb1Negotiate::decode(&frame);
        }
    }
}
