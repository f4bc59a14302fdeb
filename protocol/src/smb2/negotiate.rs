//! NEGOTIATE ([MS-SMB2] 2.2.3 request, 2.2.4 response) and the SMB 3.1.1 negotiate contexts
//! (2.2.3.1), including the SMB2_POSIX_EXTENSIONS_AVAILABLE context Samba and Linux use.

use super::header::{body_reader, expect_structure_size, flag_set, open_set, u16_len, u32_len};
use super::le::{Reader, Writer, from_utf16le};
use super::limits;
use crate::wire::DecodeError;

open_set! {
    /// A DialectRevision ([MS-SMB2] 2.2.3, 2.2.4).
    Dialect(u16) {
        /// SMB 2.0.2.
        SMB2_0_2 = 0x0202, "SMB 2.0.2";
        /// SMB 2.1.
        SMB2_1 = 0x0210, "SMB 2.1";
        /// The wildcard answer to an SMB1 multi-protocol NEGOTIATE that offered "SMB 2.???"
        /// ([MS-SMB2] 3.3.5.3.1): the client follows with an SMB2 NEGOTIATE.
        SMB2_WILDCARD = 0x02FF, "SMB 2.???";
        /// SMB 3.0.
        SMB3_0 = 0x0300, "SMB 3.0";
        /// SMB 3.0.2.
        SMB3_0_2 = 0x0302, "SMB 3.0.2";
        /// SMB 3.1.1.
        SMB3_1_1 = 0x0311, "SMB 3.1.1";
    }
}

impl Dialect {
    /// Whether the dialect belongs to the SMB 3.x family (encryption, multichannel, the
    /// SP800-108 key derivation).
    pub const fn is_smb3(self) -> bool {
        self.0 >= 0x0300 && self.0 != 0x02FF
    }
}

flag_set! {
    /// SecurityMode of NEGOTIATE (2 bytes, [MS-SMB2] 2.2.3 / 2.2.4) and of SESSION_SETUP
    /// (1 byte, 2.2.5).
    SecurityMode(u16) {
        /// Signing is enabled.
        SIGNING_ENABLED = 0x0001, "SMB2_NEGOTIATE_SIGNING_ENABLED";
        /// Signing is required.
        SIGNING_REQUIRED = 0x0002, "SMB2_NEGOTIATE_SIGNING_REQUIRED";
    }
}

flag_set! {
    /// Capabilities of NEGOTIATE ([MS-SMB2] 2.2.3 / 2.2.4) and SESSION_SETUP (2.2.5).
    Capabilities(u32) {
        /// DFS.
        DFS = 0x0000_0001, "SMB2_GLOBAL_CAP_DFS";
        /// Leasing.
        LEASING = 0x0000_0002, "SMB2_GLOBAL_CAP_LEASING";
        /// Multi-credit operations (large MTU).
        LARGE_MTU = 0x0000_0004, "SMB2_GLOBAL_CAP_LARGE_MTU";
        /// Multichannel.
        MULTI_CHANNEL = 0x0000_0008, "SMB2_GLOBAL_CAP_MULTI_CHANNEL";
        /// Persistent handles.
        PERSISTENT_HANDLES = 0x0000_0010, "SMB2_GLOBAL_CAP_PERSISTENT_HANDLES";
        /// Directory leasing.
        DIRECTORY_LEASING = 0x0000_0020, "SMB2_GLOBAL_CAP_DIRECTORY_LEASING";
        /// Encryption (3.0 and 3.0.2; 3.1.1 negotiates ciphers with a context instead).
        ENCRYPTION = 0x0000_0040, "SMB2_GLOBAL_CAP_ENCRYPTION";
        /// Server-to-client notifications (3.1.1).
        NOTIFICATIONS = 0x0000_0080, "SMB2_GLOBAL_CAP_NOTIFICATIONS";
    }
}

open_set! {
    /// ContextType of a negotiate context ([MS-SMB2] 2.2.3.1).
    NegotiateContextType(u16) {
        /// 2.2.3.1.1.
        PREAUTH_INTEGRITY_CAPABILITIES = 0x0001, "SMB2_PREAUTH_INTEGRITY_CAPABILITIES";
        /// 2.2.3.1.2.
        ENCRYPTION_CAPABILITIES = 0x0002, "SMB2_ENCRYPTION_CAPABILITIES";
        /// 2.2.3.1.3.
        COMPRESSION_CAPABILITIES = 0x0003, "SMB2_COMPRESSION_CAPABILITIES";
        /// 2.2.3.1.4.
        NETNAME_NEGOTIATE_CONTEXT_ID = 0x0005, "SMB2_NETNAME_NEGOTIATE_CONTEXT_ID";
        /// 2.2.3.1.5.
        TRANSPORT_CAPABILITIES = 0x0006, "SMB2_TRANSPORT_CAPABILITIES";
        /// 2.2.3.1.6.
        RDMA_TRANSFORM_CAPABILITIES = 0x0007, "SMB2_RDMA_TRANSFORM_CAPABILITIES";
        /// 2.2.3.1.7.
        SIGNING_CAPABILITIES = 0x0008, "SMB2_SIGNING_CAPABILITIES";
        /// The SMB3 POSIX extensions (Samba, Linux cifs and ksmbd; not in [MS-SMB2]).
        POSIX_EXTENSIONS_AVAILABLE = 0x0100, "SMB2_POSIX_EXTENSIONS_AVAILABLE";
    }
}

open_set! {
    /// A preauth integrity hash algorithm ([MS-SMB2] 2.2.3.1.1).
    HashAlgorithm(u16) {
        /// SHA-512.
        SHA_512 = 0x0001, "SHA-512";
    }
}

open_set! {
    /// An encryption cipher ([MS-SMB2] 2.2.3.1.2).
    Cipher(u16) {
        /// AES-128-CCM.
        AES_128_CCM = 0x0001, "AES-128-CCM";
        /// AES-128-GCM.
        AES_128_GCM = 0x0002, "AES-128-GCM";
        /// AES-256-CCM.
        AES_256_CCM = 0x0003, "AES-256-CCM";
        /// AES-256-GCM.
        AES_256_GCM = 0x0004, "AES-256-GCM";
    }
}

open_set! {
    /// A signing algorithm ([MS-SMB2] 2.2.3.1.7).
    SigningAlgorithm(u16) {
        /// HMAC-SHA256 (2.0.2, 2.1).
        HMAC_SHA256 = 0x0000, "HMAC-SHA256";
        /// AES-CMAC (3.0, 3.0.2, 3.1.1).
        AES_CMAC = 0x0001, "AES-CMAC";
        /// AES-GMAC (3.1.1).
        AES_GMAC = 0x0002, "AES-GMAC";
    }
}

open_set! {
    /// A compression algorithm ([MS-SMB2] 2.2.3.1.3). Parsed only: we never compress.
    CompressionAlgorithm(u16) {
        /// None.
        NONE = 0x0000, "COMPRESSION_NONE";
        /// LZNT1.
        LZNT1 = 0x0001, "COMPRESSION_LZNT1";
        /// Plain LZ77.
        LZ77 = 0x0002, "COMPRESSION_LZ77";
        /// LZ77 + Huffman.
        LZ77_HUFFMAN = 0x0003, "COMPRESSION_LZ77_HUFFMAN";
        /// Pattern scanning.
        PATTERN_V1 = 0x0004, "COMPRESSION_PATTERN_V1";
        /// LZ4.
        LZ4 = 0x0005, "COMPRESSION_LZ4";
    }
}

/// TRANSPORT_CAPABILITIES flag: the transport (QUIC) already secures the connection
/// ([MS-SMB2] 2.2.3.1.5).
pub const ACCEPT_TRANSPORT_LEVEL_SECURITY: u32 = 0x0000_0001;

/// The data of the SMB2_POSIX_EXTENSIONS_AVAILABLE context: the GUID
/// 93AD25509CB411E7B42383DE968BCD7C written byte for byte in that order, as Samba and the
/// Linux client send it.
pub const POSIX_EXTENSIONS_GUID: [u8; 16] = [
    0x93, 0xAD, 0x25, 0x50, 0x9C, 0xB4, 0x11, 0xE7, 0xB4, 0x23, 0x83, 0xDE, 0x96, 0x8B, 0xCD, 0x7C,
];

/// One negotiate context ([MS-SMB2] 2.2.3.1). Contexts of unknown type, and a POSIX context
/// whose data is not 16 bytes, are kept as [`NegotiateContext::Other`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NegotiateContext<'a> {
    /// SMB2_PREAUTH_INTEGRITY_CAPABILITIES (2.2.3.1.1).
    PreauthIntegrity {
        /// HashAlgorithms, in the sender's order.
        hash_algorithms: Vec<HashAlgorithm>,
        /// Salt (random bytes; 32 from Windows).
        salt: &'a [u8],
    },
    /// SMB2_ENCRYPTION_CAPABILITIES (2.2.3.1.2): the client's ciphers in preference order,
    /// or the one the server chose (0 for none).
    Encryption {
        /// Ciphers.
        ciphers: Vec<Cipher>,
    },
    /// SMB2_COMPRESSION_CAPABILITIES (2.2.3.1.3).
    Compression {
        /// Flags (chained compression).
        flags: u32,
        /// CompressionAlgorithms.
        algorithms: Vec<CompressionAlgorithm>,
    },
    /// SMB2_NETNAME_NEGOTIATE_CONTEXT_ID (2.2.3.1.4): the server name the client connected
    /// to, UTF-16LE without terminator (see [`NegotiateContext::net_name`]).
    NetName {
        /// NetName as sent.
        name_utf16: &'a [u8],
    },
    /// SMB2_TRANSPORT_CAPABILITIES (2.2.3.1.5).
    Transport {
        /// Flags ([`ACCEPT_TRANSPORT_LEVEL_SECURITY`]).
        flags: u32,
    },
    /// SMB2_RDMA_TRANSFORM_CAPABILITIES (2.2.3.1.6).
    Rdma {
        /// RDMATransformIds.
        transforms: Vec<u16>,
    },
    /// SMB2_SIGNING_CAPABILITIES (2.2.3.1.7).
    Signing {
        /// SigningAlgorithms, in preference order (one in a response).
        algorithms: Vec<SigningAlgorithm>,
    },
    /// SMB2_POSIX_EXTENSIONS_AVAILABLE with [`POSIX_EXTENSIONS_GUID`] (or another 16 bytes).
    Posix {
        /// The GUID.
        guid: [u8; 16],
    },
    /// Any other context, kept as it came.
    Other {
        /// ContextType.
        context_type: NegotiateContextType,
        /// Data.
        data: &'a [u8],
    },
}

impl<'a> NegotiateContext<'a> {
    /// The POSIX extensions context as Samba and Linux send it.
    pub const POSIX: NegotiateContext<'static> = NegotiateContext::Posix {
        guid: POSIX_EXTENSIONS_GUID,
    };

    /// Its ContextType.
    pub const fn context_type(&self) -> NegotiateContextType {
        match self {
            Self::PreauthIntegrity { .. } => NegotiateContextType::PREAUTH_INTEGRITY_CAPABILITIES,
            Self::Encryption { .. } => NegotiateContextType::ENCRYPTION_CAPABILITIES,
            Self::Compression { .. } => NegotiateContextType::COMPRESSION_CAPABILITIES,
            Self::NetName { .. } => NegotiateContextType::NETNAME_NEGOTIATE_CONTEXT_ID,
            Self::Transport { .. } => NegotiateContextType::TRANSPORT_CAPABILITIES,
            Self::Rdma { .. } => NegotiateContextType::RDMA_TRANSFORM_CAPABILITIES,
            Self::Signing { .. } => NegotiateContextType::SIGNING_CAPABILITIES,
            Self::Posix { .. } => NegotiateContextType::POSIX_EXTENSIONS_AVAILABLE,
            Self::Other { context_type, .. } => *context_type,
        }
    }

    /// The NetName of a NETNAME context as a string.
    pub fn net_name(&self) -> Option<Result<String, DecodeError>> {
        match self {
            Self::NetName { name_utf16 } => Some(from_utf16le(name_utf16, "NetName")),
            _ => None,
        }
    }

    /// Parses the Data of a context of type `ty`. Data beyond what the structure needs is
    /// ignored (reserved space); a list whose count exceeds the data is an error.
    fn decode_data(ty: NegotiateContextType, data: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        Ok(match ty {
            NegotiateContextType::PREAUTH_INTEGRITY_CAPABILITIES => {
                let count = r.u16("HashAlgorithmCount")?;
                let salt_len = usize::from(r.u16("SaltLength")?);
                let hash_algorithms = u16_list(&mut r, count, "HashAlgorithms")?
                    .map(HashAlgorithm)
                    .collect();
                let salt = r.bytes(salt_len, "Salt")?;
                Self::PreauthIntegrity {
                    hash_algorithms,
                    salt,
                }
            }
            NegotiateContextType::ENCRYPTION_CAPABILITIES => {
                let count = r.u16("CipherCount")?;
                let ciphers = u16_list(&mut r, count, "Ciphers")?.map(Cipher).collect();
                Self::Encryption { ciphers }
            }
            NegotiateContextType::COMPRESSION_CAPABILITIES => {
                let count = r.u16("CompressionAlgorithmCount")?;
                r.skip(2, "Padding")?;
                let flags = r.u32("Flags")?;
                let algorithms = u16_list(&mut r, count, "CompressionAlgorithms")?
                    .map(CompressionAlgorithm)
                    .collect();
                Self::Compression { flags, algorithms }
            }
            NegotiateContextType::NETNAME_NEGOTIATE_CONTEXT_ID => {
                Self::NetName { name_utf16: data }
            }
            NegotiateContextType::TRANSPORT_CAPABILITIES => Self::Transport {
                flags: r.u32("Flags")?,
            },
            NegotiateContextType::RDMA_TRANSFORM_CAPABILITIES => {
                let count = r.u16("TransformCount")?;
                r.skip(6, "Reserved")?;
                let transforms = u16_list(&mut r, count, "RDMATransformIds")?.collect();
                Self::Rdma { transforms }
            }
            NegotiateContextType::SIGNING_CAPABILITIES => {
                let count = r.u16("SigningAlgorithmCount")?;
                let algorithms = u16_list(&mut r, count, "SigningAlgorithms")?
                    .map(SigningAlgorithm)
                    .collect();
                Self::Signing { algorithms }
            }
            NegotiateContextType::POSIX_EXTENSIONS_AVAILABLE if data.len() == 16 => Self::Posix {
                guid: r.array("PosixGuid")?,
            },
            context_type => Self::Other { context_type, data },
        })
    }

    fn encode_data(&self, w: &mut Writer) {
        match self {
            Self::PreauthIntegrity {
                hash_algorithms,
                salt,
            } => {
                w.u16(u16_len(hash_algorithms.len()));
                w.u16(u16_len(salt.len()));
                hash_algorithms.iter().for_each(|h| w.u16(h.0));
                w.bytes(salt);
            }
            Self::Encryption { ciphers } => {
                w.u16(u16_len(ciphers.len()));
                ciphers.iter().for_each(|c| w.u16(c.0));
            }
            Self::Compression { flags, algorithms } => {
                w.u16(u16_len(algorithms.len()));
                w.u16(0);
                w.u32(*flags);
                algorithms.iter().for_each(|a| w.u16(a.0));
            }
            Self::NetName { name_utf16 } => w.bytes(name_utf16),
            Self::Transport { flags } => w.u32(*flags),
            Self::Rdma { transforms } => {
                w.u16(u16_len(transforms.len()));
                w.zeros(6);
                transforms.iter().for_each(|&t| w.u16(t));
            }
            Self::Signing { algorithms } => {
                w.u16(u16_len(algorithms.len()));
                algorithms.iter().for_each(|a| w.u16(a.0));
            }
            Self::Posix { guid } => w.bytes(guid),
            Self::Other { data, .. } => w.bytes(data),
        }
    }
}

/// `count` little-endian u16s from `r`, checked against the bytes left before anything is
/// allocated.
fn u16_list<'r>(
    r: &mut Reader<'r>,
    count: u16,
    field: &'static str,
) -> Result<impl Iterator<Item = u16> + 'r, DecodeError> {
    let b = r.bytes(usize::from(count) * 2, field)?;
    Ok(b.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])))
}

/// Reads `count` negotiate contexts, the first at `offset` from the message start, each next
/// one at the following 8-byte boundary ([MS-SMB2] 2.2.3.1).
fn decode_contexts<'a>(
    msg: &'a [u8],
    offset: usize,
    count: u16,
) -> Result<Vec<NegotiateContext<'a>>, DecodeError> {
    let count = usize::from(count);
    if count > limits::NEGOTIATE_CONTEXTS_MAX {
        return Err(DecodeError::TooLong {
            field: "NegotiateContextCount",
            len: count as u64,
            max: limits::NEGOTIATE_CONTEXTS_MAX as u64,
        });
    }
    let r = Reader::new(msg);
    let mut out = Vec::with_capacity(count);
    let mut pos = offset;
    for i in 0..count {
        if i > 0 {
            pos = pos.next_multiple_of(8);
        }
        let mut head = Reader::new(r.slice_at(pos, 8, 8, "NegotiateContext")?);
        let ty = NegotiateContextType(head.u16("ContextType")?);
        let len = usize::from(head.u16("DataLength")?);
        let data = r.slice_at(pos + 8, len, usize::from(u16::MAX), "NegotiateContext Data")?;
        out.push(NegotiateContext::decode_data(ty, data)?);
        pos += 8 + len;
    }
    Ok(out)
}

/// Appends `contexts` at the next 8-byte boundary, each aligned, and returns the offset of the
/// first (0 when there are none).
fn encode_contexts(w: &mut Writer, contexts: &[NegotiateContext<'_>]) -> usize {
    if contexts.is_empty() {
        return 0;
    }
    w.align(8);
    let first = w.len();
    for c in contexts {
        w.align(8);
        w.u16(c.context_type().0);
        let len_at = w.len();
        w.u16(0);
        w.u32(0);
        let start = w.len();
        c.encode_data(w);
        w.patch_u16(len_at, u16_len(w.len() - start));
    }
    first
}

/// The first context of `ty`, and whether a known context type appears twice (3.3.5.4: the
/// server fails such a NEGOTIATE with STATUS_INVALID_PARAMETER).
fn duplicated(contexts: &[NegotiateContext<'_>]) -> Option<NegotiateContextType> {
    contexts.iter().enumerate().find_map(|(i, c)| {
        let t = c.context_type();
        (t.is_known() && contexts[..i].iter().any(|p| p.context_type() == t)).then_some(t)
    })
}

/// The SMB2 NEGOTIATE request ([MS-SMB2] 2.2.3).
#[doc(alias = "SMB2 NEGOTIATE Request")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateRequest<'a> {
    /// SecurityMode.
    pub security_mode: SecurityMode,
    /// Capabilities.
    pub capabilities: Capabilities,
    /// ClientGuid (zero from 2.0.2 clients).
    pub client_guid: [u8; 16],
    /// ClientStartTime: the 8 bytes after ClientGuid when 3.1.1 is not offered (MUST be 0);
    /// decoded as 0 and not written when it is (those bytes then hold the context offset and
    /// count).
    pub client_start_time: u64,
    /// Dialects, 1 to [`limits::DIALECTS_MAX`].
    pub dialects: Vec<Dialect>,
    /// NegotiateContextList (only when 3.1.1 is offered), up to
    /// [`limits::NEGOTIATE_CONTEXTS_MAX`].
    pub contexts: Vec<NegotiateContext<'a>>,
}

impl<'a> NegotiateRequest<'a> {
    /// Reads the request from `msg` (the whole message, header included).
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = body_reader(msg)?;
        expect_structure_size(&mut r, 36)?;
        let dialect_count = r.u16("DialectCount")?;
        if dialect_count == 0 {
            return Err(DecodeError::InvalidValue {
                field: "DialectCount",
                value: 0,
            });
        }
        if usize::from(dialect_count) > limits::DIALECTS_MAX {
            return Err(DecodeError::TooLong {
                field: "Dialects",
                len: u64::from(dialect_count),
                max: limits::DIALECTS_MAX as u64,
            });
        }
        let security_mode = SecurityMode(r.u16("SecurityMode")?);
        r.skip(2, "Reserved")?;
        let capabilities = Capabilities(r.u32("Capabilities")?);
        let client_guid = r.guid("ClientGuid")?;
        let mut tail = Reader::new(r.bytes(8, "ClientStartTime")?);
        let dialects: Vec<Dialect> = u16_list(&mut r, dialect_count, "Dialects")?
            .map(Dialect)
            .collect();
        let (client_start_time, contexts) = if dialects.contains(&Dialect::SMB3_1_1) {
            let offset = tail.u32("NegotiateContextOffset")? as usize;
            let count = tail.u16("NegotiateContextCount")?;
            (0, decode_contexts(msg, offset, count)?)
        } else {
            (tail.u64("ClientStartTime")?, Vec::new())
        };
        Ok(Self {
            security_mode,
            capabilities,
            client_guid,
            client_start_time,
            dialects,
            contexts,
        })
    }

    /// Appends the body to `w`, which holds the 64-byte header. Contexts are written only when
    /// 3.1.1 is among the dialects.
    pub fn encode(&self, w: &mut Writer) {
        let has_311 = self.offers(Dialect::SMB3_1_1);
        w.u16(36);
        w.u16(u16_len(self.dialects.len()));
        w.u16(self.security_mode.0);
        w.u16(0);
        w.u32(self.capabilities.0);
        w.bytes(&self.client_guid);
        let tail_at = w.len();
        if has_311 {
            w.u32(0);
            w.u16(u16_len(self.contexts.len()));
            w.u16(0);
        } else {
            w.u64(self.client_start_time);
        }
        self.dialects.iter().for_each(|d| w.u16(d.0));
        if has_311 {
            let offset = encode_contexts(w, &self.contexts);
            w.patch_u32(tail_at, u32_len(offset));
        }
    }

    /// Whether `dialect` is offered.
    pub fn offers(&self, dialect: Dialect) -> bool {
        self.dialects.contains(&dialect)
    }

    /// The highest of `supported` that the client offers ([MS-SMB2] 3.3.5.4), if any.
    pub fn select_dialect(&self, supported: &[Dialect]) -> Option<Dialect> {
        supported
            .iter()
            .copied()
            .filter(|d| *d != Dialect::SMB2_WILDCARD && self.offers(*d))
            .max()
    }

    /// The first context of type `ty`.
    pub fn context(&self, ty: NegotiateContextType) -> Option<&NegotiateContext<'a>> {
        self.contexts.iter().find(|c| c.context_type() == ty)
    }

    /// A known context type that appears more than once ([MS-SMB2] 3.3.5.4 fails the request
    /// with STATUS_INVALID_PARAMETER for duplicated preauth, encryption, compression, RDMA and
    /// signing contexts).
    pub fn duplicated_context(&self) -> Option<NegotiateContextType> {
        duplicated(&self.contexts)
    }

    /// Whether the client offers the POSIX extensions.
    pub fn offers_posix(&self) -> bool {
        self.contexts.iter().any(
            |c| matches!(c, NegotiateContext::Posix { guid } if *guid == POSIX_EXTENSIONS_GUID),
        )
    }
}

/// The SMB2 NEGOTIATE response ([MS-SMB2] 2.2.4).
#[doc(alias = "SMB2 NEGOTIATE Response")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateResponse<'a> {
    /// SecurityMode.
    pub security_mode: SecurityMode,
    /// DialectRevision.
    pub dialect: Dialect,
    /// ServerGuid.
    pub server_guid: [u8; 16],
    /// Capabilities.
    pub capabilities: Capabilities,
    /// MaxTransactSize.
    pub max_transact_size: u32,
    /// MaxReadSize.
    pub max_read_size: u32,
    /// MaxWriteSize.
    pub max_write_size: u32,
    /// SystemTime: the server's clock as a FILETIME (100 ns since 1601), passed in.
    pub system_time: u64,
    /// ServerStartTime (FILETIME; 0 is allowed).
    pub server_start_time: u64,
    /// Buffer: the SPNEGO hint (GSS token), up to [`limits::SECURITY_BLOB_MAX`].
    pub security_buffer: &'a [u8],
    /// NegotiateContextList, only for dialect 3.1.1 (ignored by the encoder otherwise).
    pub contexts: Vec<NegotiateContext<'a>>,
}

impl<'a> NegotiateResponse<'a> {
    /// Reads the response from `msg` (the whole message, header included).
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = body_reader(msg)?;
        expect_structure_size(&mut r, 65)?;
        let security_mode = SecurityMode(r.u16("SecurityMode")?);
        let dialect = Dialect(r.u16("DialectRevision")?);
        let context_count = r.u16("NegotiateContextCount")?;
        let server_guid = r.guid("ServerGuid")?;
        let capabilities = Capabilities(r.u32("Capabilities")?);
        let max_transact_size = r.u32("MaxTransactSize")?;
        let max_read_size = r.u32("MaxReadSize")?;
        let max_write_size = r.u32("MaxWriteSize")?;
        let system_time = r.u64("SystemTime")?;
        let server_start_time = r.u64("ServerStartTime")?;
        let sb_offset = usize::from(r.u16("SecurityBufferOffset")?);
        let sb_len = usize::from(r.u16("SecurityBufferLength")?);
        let context_offset = r.u32("NegotiateContextOffset")? as usize;
        let security_buffer = r.slice_at(
            sb_offset,
            sb_len,
            limits::SECURITY_BLOB_MAX,
            "SecurityBuffer",
        )?;
        let contexts = if dialect == Dialect::SMB3_1_1 {
            decode_contexts(msg, context_offset, context_count)?
        } else {
            Vec::new()
        };
        Ok(Self {
            security_mode,
            dialect,
            server_guid,
            capabilities,
            max_transact_size,
            max_read_size,
            max_write_size,
            system_time,
            server_start_time,
            security_buffer,
            contexts,
        })
    }

    /// Appends the body to `w`, which holds the 64-byte header: the fixed part, the security
    /// buffer at offset 128, then (3.1.1 only) the contexts from the next 8-byte boundary.
    pub fn encode(&self, w: &mut Writer) {
        let has_contexts = self.dialect == Dialect::SMB3_1_1;
        let contexts: &[NegotiateContext<'_>] = if has_contexts { &self.contexts } else { &[] };
        w.u16(65);
        w.u16(self.security_mode.0);
        w.u16(self.dialect.0);
        w.u16(u16_len(contexts.len()));
        w.bytes(&self.server_guid);
        w.u32(self.capabilities.0);
        w.u32(self.max_transact_size);
        w.u32(self.max_read_size);
        w.u32(self.max_write_size);
        w.u64(self.system_time);
        w.u64(self.server_start_time);
        w.u16(u16_len(w.len() + 8));
        w.u16(u16_len(self.security_buffer.len()));
        let context_offset_at = w.len();
        w.u32(0);
        w.bytes(self.security_buffer);
        let offset = encode_contexts(w, contexts);
        w.patch_u32(context_offset_at, u32_len(offset));
    }

    /// The first context of type `ty`.
    pub fn context(&self, ty: NegotiateContextType) -> Option<&NegotiateContext<'a>> {
        self.contexts.iter().find(|c| c.context_type() == ty)
    }

    /// A known context type that appears more than once (a client rejects such a response).
    pub fn duplicated_context(&self) -> Option<NegotiateContextType> {
        duplicated(&self.contexts)
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::smb2::header::{Command, Header};

    fn with_header(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = Writer::new();
        Header::new(Command::NEGOTIATE).encode(&mut w);
        f(&mut w);
        w.into_inner()
    }

    /// Goal: a 3.1.1 NEGOTIATE request laid out by hand from [MS-SMB2] 2.2.3 and 2.2.3.1
    /// (five dialects, preauth + encryption + signing + POSIX contexts, 8-byte aligned)
    /// decodes, and the encoder produces the same bytes.
    #[test]
    fn request_layout() {
        let body = concat!(
            "2400",
            "0500",
            "0100",
            "0000",
            "7f000000",
            "00112233445566778899aabbccddeeff", // ClientGuid
            "70000000",
            "0400",
            "0000", // context offset 0x70, count 4
            "0202",
            "1002",
            "0003",
            "0203",
            "1103", // dialects: ends at 64+36+10 = 110
            "0000", // pad to 112
            // preauth: type 1, len 38, SHA-512, 32-byte salt
            "0100",
            "2600",
            "00000000",
            "0100",
            "2000",
            "0100",
            "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
            "0000", // 112+8+38 = 158 -> pad to 160
            // encryption: AES-128-GCM, AES-128-CCM
            "0200",
            "0600",
            "00000000",
            "0200",
            "0200",
            "0100",
            "0000", // 160+14 = 174 -> 176
            // signing: AES-GMAC, AES-CMAC
            "0800",
            "0600",
            "00000000",
            "0200",
            "0200",
            "0100",
            "0000", // 190 -> 192
            "0001",
            "1000",
            "00000000",
            "93ad25509cb411e7b42383de968bcd7c",
        );
        let mut msg = Header::new(Command::NEGOTIATE).to_bytes().to_vec();
        msg.extend_from_slice(&hex::decode(body).unwrap());
        let req = NegotiateRequest::decode(&msg).unwrap();
        assert_eq!(req.dialects.len(), 5);
        assert_eq!(req.security_mode, SecurityMode::SIGNING_ENABLED);
        assert_eq!(req.capabilities.0, 0x7f);
        assert_eq!(req.contexts.len(), 4);
        let salt: Vec<u8> = (0..32).collect();
        assert_eq!(
            req.contexts[0],
            NegotiateContext::PreauthIntegrity {
                hash_algorithms: vec![HashAlgorithm::SHA_512],
                salt: &salt
            }
        );
        assert_eq!(
            req.contexts[1],
            NegotiateContext::Encryption {
                ciphers: vec![Cipher::AES_128_GCM, Cipher::AES_128_CCM]
            }
        );
        assert_eq!(
            req.context(NegotiateContextType::SIGNING_CAPABILITIES),
            Some(&NegotiateContext::Signing {
                algorithms: vec![SigningAlgorithm::AES_GMAC, SigningAlgorithm::AES_CMAC]
            })
        );
        assert!(req.offers_posix());
        assert_eq!(req.duplicated_context(), None);
        assert_eq!(
            req.select_dialect(&[Dialect::SMB2_1, Dialect::SMB3_0_2]),
            Some(Dialect::SMB3_0_2)
        );
        assert_eq!(with_header(|w| req.encode(w)), msg);
    }

    /// Goal: a 2.x request carries ClientStartTime, not a context offset.
    #[test]
    fn request_without_311() {
        let req = NegotiateRequest {
            security_mode: SecurityMode::SIGNING_REQUIRED,
            capabilities: Capabilities::EMPTY,
            client_guid: [7; 16],
            client_start_time: 0x0102_0304,
            dialects: vec![Dialect::SMB2_0_2, Dialect::SMB2_1],
            contexts: vec![NegotiateContext::POSIX],
        };
        let msg = with_header(|w| req.encode(w));
        assert_eq!(msg.len(), 64 + 36 + 4);
        assert_eq!(&msg[64 + 28..64 + 36], &0x0102_0304u64.to_le_bytes());
        let back = NegotiateRequest::decode(&msg).unwrap();
        assert_eq!(back.contexts, vec![]);
        assert_eq!(back.client_start_time, 0x0102_0304);
    }

    /// Goal: requests breaking the limits or the structure are refused: zero or too many
    /// dialects, too many contexts, a context past the end, a bad StructureSize.
    #[test]
    fn request_rejects() {
        let mut req = NegotiateRequest {
            security_mode: SecurityMode::EMPTY,
            capabilities: Capabilities::EMPTY,
            client_guid: [0; 16],
            client_start_time: 0,
            dialects: vec![],
            contexts: vec![],
        };
        assert!(NegotiateRequest::decode(&with_header(|w| req.encode(w))).is_err());
        req.dialects = vec![Dialect::SMB2_1; limits::DIALECTS_MAX + 1];
        assert!(matches!(
            NegotiateRequest::decode(&with_header(|w| req.encode(w))),
            Err(DecodeError::TooLong { .. })
        ));
        req.dialects = vec![Dialect::SMB3_1_1];
        req.contexts = vec![NegotiateContext::POSIX; limits::NEGOTIATE_CONTEXTS_MAX + 1];
        assert!(matches!(
            NegotiateRequest::decode(&with_header(|w| req.encode(w))),
            Err(DecodeError::TooLong { .. })
        ));
        req.contexts = vec![NegotiateContext::POSIX; 2];
        let msg = with_header(|w| req.encode(w));
        assert_eq!(
            NegotiateRequest::decode(&msg).unwrap().duplicated_context(),
            Some(NegotiateContextType::POSIX_EXTENSIONS_AVAILABLE)
        );
        assert!(NegotiateRequest::decode(&msg[..msg.len() - 1]).is_err());
        let mut bad = msg.clone();
        bad[64] = 37;
        assert!(NegotiateRequest::decode(&bad).is_err());
        // A context list count the data cannot hold.
        req.contexts = vec![NegotiateContext::Encryption {
            ciphers: vec![Cipher::AES_256_GCM],
        }];
        let mut msg = with_header(|w| req.encode(w));
        let n = msg.len();
        msg[n - 4] = 9;
        assert!(NegotiateRequest::decode(&msg).is_err());
    }

    /// Goal: a 3.1.1 response laid out from [MS-SMB2] 2.2.4 (security buffer at 128, contexts
    /// after it 8-aligned) round-trips; a 3.0.2 response has no contexts.
    #[test]
    fn response_layout() {
        let blob = [0x60u8, 0x01, 0x02];
        let resp = NegotiateResponse {
            security_mode: SecurityMode::SIGNING_ENABLED,
            dialect: Dialect::SMB3_1_1,
            server_guid: [9; 16],
            capabilities: Capabilities::LARGE_MTU | Capabilities::LEASING,
            max_transact_size: 8 << 20,
            max_read_size: 8 << 20,
            max_write_size: 8 << 20,
            system_time: 133_000_000_000_000_000,
            server_start_time: 0,
            security_buffer: &blob,
            contexts: vec![
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![HashAlgorithm::SHA_512],
                    salt: &[5; 32],
                },
                NegotiateContext::Encryption {
                    ciphers: vec![Cipher::AES_128_GCM],
                },
            ],
        };
        let msg = with_header(|w| resp.encode(w));
        assert_eq!(&msg[64..66], &65u16.to_le_bytes());
        assert_eq!(&msg[64 + 6..64 + 8], &2u16.to_le_bytes()); // context count
        assert_eq!(&msg[64 + 56..64 + 60], &[128, 0, 3, 0]); // blob offset, length
        assert_eq!(&msg[64 + 60..64 + 64], &136u32.to_le_bytes()); // contexts at align8(131)
        assert_eq!(&msg[128..131], &blob);
        assert_eq!(&msg[136..138], &[1, 0]);
        assert_eq!(NegotiateResponse::decode(&msg), Ok(resp.clone()));
        let old = NegotiateResponse {
            dialect: Dialect::SMB3_0_2,
            ..resp
        };
        let msg = with_header(|w| old.encode(w));
        assert_eq!(msg.len(), 131);
        let back = NegotiateResponse::decode(&msg).unwrap();
        assert_eq!(back.contexts, vec![]);
        assert_eq!(back.security_buffer, &blob);
    }

    fn any_context() -> impl Strategy<Value = NegotiateContext<'static>> {
        let leak = |v: Vec<u8>| -> &'static [u8] { Vec::leak(v) };
        prop_oneof![
            (vec(any::<u16>(), 0..4), vec(any::<u8>(), 0..40)).prop_map(move |(h, s)| {
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: h.into_iter().map(HashAlgorithm).collect(),
                    salt: leak(s),
                }
            }),
            vec(any::<u16>(), 0..5).prop_map(|c| NegotiateContext::Encryption {
                ciphers: c.into_iter().map(Cipher).collect()
            }),
            (any::<u32>(), vec(any::<u16>(), 0..5)).prop_map(|(flags, a)| {
                NegotiateContext::Compression {
                    flags,
                    algorithms: a.into_iter().map(CompressionAlgorithm).collect(),
                }
            }),
            vec(any::<u8>(), 0..20).prop_map(move |n| NegotiateContext::NetName {
                name_utf16: leak(n)
            }),
            any::<u32>().prop_map(|flags| NegotiateContext::Transport { flags }),
            vec(any::<u16>(), 0..3).prop_map(|transforms| NegotiateContext::Rdma { transforms }),
            vec(any::<u16>(), 0..3).prop_map(|a| NegotiateContext::Signing {
                algorithms: a.into_iter().map(SigningAlgorithm).collect()
            }),
            any::<[u8; 16]>().prop_map(|guid| NegotiateContext::Posix { guid }),
            (0x0200u16..0x0300, vec(any::<u8>(), 0..20)).prop_map(move |(t, d)| {
                NegotiateContext::Other {
                    context_type: NegotiateContextType(t),
                    data: leak(d),
                }
            }),
        ]
    }

    proptest! {
        /// Goal: any request round-trips through encode and decode.
        #[test]
        fn request_round_trip(
            sm: u16, caps: u32, guid: [u8; 16], start: u64,
            dialects in vec(any::<u16>(), 1..8), with_311: bool,
            contexts in vec(any_context(), 0..6),
        ) {
            let mut dialects: Vec<Dialect> = dialects.into_iter().map(Dialect).collect();
            dialects.retain(|d| *d != Dialect::SMB3_1_1);
            if with_311 {
                dialects.push(Dialect::SMB3_1_1);
            }
            let req = NegotiateRequest {
                security_mode: SecurityMode(sm),
                capabilities: Capabilities(caps),
                client_guid: guid,
                client_start_time: if with_311 { 0 } else { start },
                dialects,
                contexts: if with_311 { contexts } else { vec![] },
            };
            let msg = with_header(|w| req.encode(w));
            prop_assert_eq!(NegotiateRequest::decode(&msg), Ok(req));
        }

        /// Goal: any response round-trips.
        #[test]
        fn response_round_trip(
            sm: u16, dialect in prop_oneof![Just(0x0311u16), any::<u16>()], guid: [u8; 16],
            caps: u32, sizes: (u32, u32, u32), times: (u64, u64),
            blob in vec(any::<u8>(), 0..100), contexts in vec(any_context(), 0..6),
        ) {
            let resp = NegotiateResponse {
                security_mode: SecurityMode(sm),
                dialect: Dialect(dialect),
                server_guid: guid,
                capabilities: Capabilities(caps),
                max_transact_size: sizes.0,
                max_read_size: sizes.1,
                max_write_size: sizes.2,
                system_time: times.0,
                server_start_time: times.1,
                security_buffer: &blob,
                contexts: if dialect == 0x0311 { contexts } else { vec![] },
            };
            let msg = with_header(|w| resp.encode(w));
            prop_assert_eq!(NegotiateResponse::decode(&msg), Ok(resp));
        }

        /// Goal: random bodies never panic either decoder.
        #[test]
        fn random_bodies(body in vec(any::<u8>(), 0..300)) {
            let mut msg = Header::new(Command::NEGOTIATE).to_bytes().to_vec();
            msg.extend_from_slice(&body);
            let _ = NegotiateRequest::decode(&msg);
            let _ = NegotiateResponse::decode(&msg);
            if msg.len() > 66 {
                msg[64] = 36;
                msg[65] = 0;
                let _ = NegotiateRequest::decode(&msg);
                msg[64] = 65;
                let _ = NegotiateResponse::decode(&msg);
            }
        }
    }
}
