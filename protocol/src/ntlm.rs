//! NTLMSSP ([MS-NLMP]), sans-IO: the three messages (NEGOTIATE, CHALLENGE, AUTHENTICATE), their
//! AV pairs, the server's [`Acceptor`] that checks an NTLMv2 response against an NT hash, NTLM
//! session security for SPNEGO's mechListMIC, and a small [`client`] for the simulator's and
//! tests' SMB clients.
//!
//! Nothing here reads a clock or draws random numbers: the server challenge, the CHALLENGE
//! timestamp and, on the client side, the client challenge and random session key are
//! arguments.
//!
//! Only NTLMv2 is accepted ([MS-NLMP] 3.3.2). NTLMv1, NTLM2 session responses and LM-only
//! responses are refused with [`AuthError::NtlmV1Refused`]: they are crackable offline and no
//! client we serve needs them. The proof is compared in constant time, an unknown user costs the
//! same work as a wrong password and fails the same way ([`AuthError::LogonFailure`]), and when
//! the client says it sent a MIC (MsvAvFlags bit 0x2 inside the proof-protected blob) the MIC
//! must verify.
//!
//! Every message is decoded from its own bytes: offsets in the `*Fields` (length, max length,
//! offset) triples are from the start of the NTLMSSP message, each checked against the message
//! and a limit from [`limits`] before anything is allocated.

use hmac::{Hmac, Mac};
use md4::Md4;
use md5::{Digest, Md5};
use rc4::consts::U16;
use rc4::{KeyInit, Rc4, StreamCipher};
use subtle::ConstantTimeEq;

use crate::smb2::le::{Reader, Writer, from_utf16le, utf16le};
use crate::smb2::status::NtStatus;
use crate::wire::DecodeError;

/// The 8-byte signature every NTLMSSP message starts with ([MS-NLMP] 2.2.1.1).
pub const SIGNATURE: [u8; 8] = *b"NTLMSSP\0";

/// Every size a peer's NTLMSSP message is checked against, with its reason.
pub mod limits {
    /// A whole NTLMSSP message: the SMB2 security blob limit (real messages are under 2 KiB).
    pub const MESSAGE_MAX: usize = crate::smb2::limits::SECURITY_BLOB_MAX;
    /// User, domain and workstation names, in bytes. Windows caps user principal names at 1024
    /// characters in the directory; sAMAccountName is 20 and NetBIOS names 15. 1 KiB of UTF-16
    /// (512 units) covers every real name with room to spare.
    pub const NAME_MAX: usize = 1024;
    /// LmChallengeResponse: 24 bytes for LMv2, LMv1 and the Z(24) that MIC-sending clients
    /// send; 1 byte for anonymous ([MS-NLMP] 2.2.2.3, 2.2.2.4, 3.2.5.1.2).
    pub const LM_RESPONSE_MAX: usize = 24;
    /// NtChallengeResponse: NTProofStr + the client blob, which echoes our target info and adds
    /// a few pairs (flags, SPN, channel bindings, single host): well under 1 KiB in practice.
    pub const NT_RESPONSE_MAX: usize = 8 * 1024;
    /// EncryptedRandomSessionKey: 16 bytes or nothing ([MS-NLMP] 2.2.1.3).
    pub const SESSION_KEY_MAX: usize = 16;
    /// The CHALLENGE's TargetName, in bytes.
    pub const TARGET_NAME_MAX: usize = 1024;
    /// The CHALLENGE's TargetInfo, in bytes (NetBIOS and DNS names of server and domain).
    pub const TARGET_INFO_MAX: usize = 8 * 1024;
    /// AV pairs in one list before MsvAvEOL ([MS-NLMP] 2.2.2.1 defines 11 ids).
    pub const AV_PAIRS_MAX: usize = 64;
    /// The NEGOTIATE's OEM domain and workstation names, in bytes.
    pub const OEM_NAME_MAX: usize = 1024;
}

/// NTLMSSP message types ([MS-NLMP] 2.2.1).
const NEGOTIATE_TYPE: u32 = 1;
const CHALLENGE_TYPE: u32 = 2;
const AUTHENTICATE_TYPE: u32 = 3;

/// Fixed part of a NEGOTIATE_MESSAGE before the Version field.
const NEGOTIATE_FIXED: usize = 32;
/// Fixed part of a CHALLENGE_MESSAGE before the Version field.
const CHALLENGE_FIXED: usize = 48;
/// Fixed part of an AUTHENTICATE_MESSAGE before the Version field.
const AUTHENTICATE_FIXED: usize = 64;
/// Offset of the MIC in an AUTHENTICATE_MESSAGE that carries one ([MS-NLMP] 2.2.1.3).
pub const MIC_OFFSET: usize = 72;
/// Length of the MIC.
pub const MIC_LEN: usize = 16;

/// NegotiateFlags ([MS-NLMP] 2.2.2.5): a bit set the peer may extend, so unknown bits are kept.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct NegotiateFlags(pub u32);

macro_rules! flags {
    ($($(#[doc = $doc:literal])* $konst:ident = $value:literal, $spec:literal;)*) => {
        impl NegotiateFlags {
            $(
                $(#[doc = $doc])*
                #[doc(alias = $spec)]
                pub const $konst: Self = Self($value);
            )*

            /// Every named flag with its spec name, lowest bit first.
            const NAMED: &'static [(Self, &'static str)] = &[$((Self::$konst, $spec),)*];
        }
    };
}

flags! {
    /// Strings are UTF-16LE.
    UNICODE = 0x0000_0001, "NTLMSSP_NEGOTIATE_UNICODE";
    /// Strings are in the OEM code page.
    OEM = 0x0000_0002, "NTLM_NEGOTIATE_OEM";
    /// The client asks for the server's TargetName.
    REQUEST_TARGET = 0x0000_0004, "NTLMSSP_REQUEST_TARGET";
    /// Message integrity (signing).
    SIGN = 0x0000_0010, "NTLMSSP_NEGOTIATE_SIGN";
    /// Message confidentiality (sealing).
    SEAL = 0x0000_0020, "NTLMSSP_NEGOTIATE_SEAL";
    /// Connectionless authentication.
    DATAGRAM = 0x0000_0040, "NTLMSSP_NEGOTIATE_DATAGRAM";
    /// LAN Manager session key computation (never with NTLMv2).
    LM_KEY = 0x0000_0080, "NTLMSSP_NEGOTIATE_LM_KEY";
    /// NTLM v1 session security (set by every client; NTLMv2 is configured, not negotiated).
    NTLM = 0x0000_0200, "NTLMSSP_NEGOTIATE_NTLM";
    /// An anonymous connection.
    ANONYMOUS = 0x0000_0800, "NTLMSSP_NEGOTIATE_ANONYMOUS";
    /// The NEGOTIATE carries a domain name.
    OEM_DOMAIN_SUPPLIED = 0x0000_1000, "NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED";
    /// The NEGOTIATE carries a workstation name.
    OEM_WORKSTATION_SUPPLIED = 0x0000_2000, "NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED";
    /// Signatures are present even without SIGN (dummy signatures).
    ALWAYS_SIGN = 0x0000_8000, "NTLMSSP_NEGOTIATE_ALWAYS_SIGN";
    /// TargetName is a domain name.
    TARGET_TYPE_DOMAIN = 0x0001_0000, "NTLMSSP_TARGET_TYPE_DOMAIN";
    /// TargetName is a server name.
    TARGET_TYPE_SERVER = 0x0002_0000, "NTLMSSP_TARGET_TYPE_SERVER";
    /// NTLM v2 session security (key derivation of [MS-NLMP] 3.4.5 with magic constants).
    EXTENDED_SESSIONSECURITY = 0x0008_0000, "NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY";
    /// An identify-level token.
    IDENTIFY = 0x0010_0000, "NTLMSSP_NEGOTIATE_IDENTIFY";
    /// The LMOWF session key (NTLMv1 only).
    REQUEST_NON_NT_SESSION_KEY = 0x0040_0000, "NTLMSSP_REQUEST_NON_NT_SESSION_KEY";
    /// The CHALLENGE carries TargetInfo.
    TARGET_INFO = 0x0080_0000, "NTLMSSP_NEGOTIATE_TARGET_INFO";
    /// The Version field is populated.
    VERSION = 0x0200_0000, "NTLMSSP_NEGOTIATE_VERSION";
    /// 128-bit session keys.
    NEGOTIATE_128 = 0x2000_0000, "NTLMSSP_NEGOTIATE_128";
    /// The client sends an RC4-encrypted random session key (key exchange).
    KEY_EXCH = 0x4000_0000, "NTLMSSP_NEGOTIATE_KEY_EXCH";
    /// 56-bit session keys.
    NEGOTIATE_56 = 0x8000_0000, "NTLMSSP_NEGOTIATE_56";
}

impl NegotiateFlags {
    /// No flags.
    pub const EMPTY: Self = Self(0);

    /// Every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// `self` with the bits of `other` added.
    pub const fn with(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The bits set in both.
    pub const fn intersect(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The client sends an encrypted random session key that becomes ExportedSessionKey:
    /// KEY_EXCH together with SIGN or SEAL ([MS-NLMP] 3.1.5.1.2, 3.2.5.1.2). KEY_EXCH alone
    /// does not count, as Windows servers read the spec (a client that sets only KEY_EXCH and
    /// still exchanges a key fails against them too).
    pub const fn exchanges_key(self) -> bool {
        self.contains(Self::KEY_EXCH) && self.0 & (Self::SIGN.0 | Self::SEAL.0) != 0
    }
}

impl core::ops::BitOr for NegotiateFlags {
    type Output = Self;
    fn bitor(self, rhs: Self) -> Self {
        self.with(rhs)
    }
}

impl core::ops::BitAnd for NegotiateFlags {
    type Output = Self;
    fn bitand(self, rhs: Self) -> Self {
        self.intersect(rhs)
    }
}

impl core::fmt::Debug for NegotiateFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "0x{:08x}", self.0)?;
        let mut sep = " (";
        let mut known = 0;
        for (flag, name) in Self::NAMED {
            if self.contains(*flag) {
                known |= flag.0;
                write!(f, "{sep}{}", name.trim_start_matches("NTLMSSP_"))?;
                sep = "|";
            }
        }
        if self.0 & !known != 0 {
            write!(f, "{sep}0x{:x}", self.0 & !known)?;
            sep = "|";
        }
        if sep == "|" {
            f.write_str(")")?;
        }
        Ok(())
    }
}

/// AvId ([MS-NLMP] 2.2.2.1): an open set, so unknown ids round-trip.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AvId(pub u16);

impl AvId {
    /// The end of the list.
    #[doc(alias = "MsvAvEOL")]
    pub const EOL: Self = Self(0);
    /// The server's NetBIOS computer name (UTF-16).
    #[doc(alias = "MsvAvNbComputerName")]
    pub const NB_COMPUTER_NAME: Self = Self(1);
    /// The server's NetBIOS domain name (UTF-16).
    #[doc(alias = "MsvAvNbDomainName")]
    pub const NB_DOMAIN_NAME: Self = Self(2);
    /// The server's DNS computer name (UTF-16).
    #[doc(alias = "MsvAvDnsComputerName")]
    pub const DNS_COMPUTER_NAME: Self = Self(3);
    /// The server's DNS domain name (UTF-16).
    #[doc(alias = "MsvAvDnsDomainName")]
    pub const DNS_DOMAIN_NAME: Self = Self(4);
    /// The forest's DNS name (UTF-16).
    #[doc(alias = "MsvAvDnsTreeName")]
    pub const DNS_TREE_NAME: Self = Self(5);
    /// A 32-bit flag word; bit 0x2 says the AUTHENTICATE carries a MIC.
    #[doc(alias = "MsvAvFlags")]
    pub const FLAGS: Self = Self(6);
    /// A FILETIME: the server's time in a CHALLENGE, echoed by the client.
    #[doc(alias = "MsvAvTimestamp")]
    pub const TIMESTAMP: Self = Self(7);
    /// A Single_Host_Data structure ([MS-NLMP] 2.2.2.2).
    #[doc(alias = "MsvAvSingleHost")]
    pub const SINGLE_HOST: Self = Self(8);
    /// The SPN of the target server (UTF-16), sent by the client.
    #[doc(alias = "MsvAvTargetName")]
    pub const TARGET_NAME: Self = Self(9);
    /// An MD5 hash of gss_channel_bindings_struct, sent by the client.
    #[doc(alias = "MsvAvChannelBindings")]
    pub const CHANNEL_BINDINGS: Self = Self(10);
}

impl core::fmt::Debug for AvId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        const NAMES: [&str; 11] = [
            "MsvAvEOL",
            "MsvAvNbComputerName",
            "MsvAvNbDomainName",
            "MsvAvDnsComputerName",
            "MsvAvDnsDomainName",
            "MsvAvDnsTreeName",
            "MsvAvFlags",
            "MsvAvTimestamp",
            "MsvAvSingleHost",
            "MsvAvTargetName",
            "MsvAvChannelBindings",
        ];
        match NAMES.get(usize::from(self.0)) {
            Some(n) => f.write_str(n),
            None => write!(f, "AvId({})", self.0),
        }
    }
}

/// MsvAvFlags bit: the AUTHENTICATE_MESSAGE carries a MIC ([MS-NLMP] 2.2.2.1).
pub const AV_FLAG_MIC_PRESENT: u32 = 0x0000_0002;

/// One AV_PAIR ([MS-NLMP] 2.2.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AvPair {
    /// What the value is.
    pub id: AvId,
    /// The value (AvLen bytes).
    pub value: Vec<u8>,
}

/// An AV_PAIR list without its MsvAvEOL terminator, which [`AvPairs::encode`] adds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AvPairs(pub Vec<AvPair>);

impl AvPairs {
    /// Decodes pairs up to and including MsvAvEOL; bytes after it are ignored (the NTLMv2 client
    /// blob has four zero bytes there). A list without MsvAvEOL, an MsvAvEOL with a value, or
    /// more than [`limits::AV_PAIRS_MAX`] pairs is refused.
    pub fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(b);
        let mut pairs = Vec::new();
        loop {
            let id = AvId(r.u16("AvId")?);
            let len = usize::from(r.u16("AvLen")?);
            let value = r.bytes(len, "AV_PAIR value")?;
            if id == AvId::EOL {
                if len != 0 {
                    return Err(DecodeError::InvalidValue {
                        field: "MsvAvEOL length",
                        value: len as u64,
                    });
                }
                return Ok(Self(pairs));
            }
            if pairs.len() == limits::AV_PAIRS_MAX {
                return Err(DecodeError::TooLong {
                    field: "AV_PAIR list",
                    len: pairs.len() as u64 + 1,
                    max: limits::AV_PAIRS_MAX as u64,
                });
            }
            pairs.push(AvPair {
                id,
                value: value.to_vec(),
            });
        }
    }

    /// Appends the pairs and MsvAvEOL. Values longer than 65,535 bytes are cut to fit AvLen.
    pub fn encode(&self, w: &mut Writer) {
        for p in &self.0 {
            let v = &p.value[..p.value.len().min(usize::from(u16::MAX))];
            w.u16(p.id.0);
            w.u16(len16(v.len()));
            w.bytes(v);
        }
        w.u16(AvId::EOL.0);
        w.u16(0);
    }

    /// The encoding as a fresh buffer.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.into_inner()
    }

    /// The value of the first pair with `id`.
    pub fn get(&self, id: AvId) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|p| p.id == id)
            .map(|p| p.value.as_slice())
    }

    /// The first pair with `id` as a UTF-16LE string (`None` if absent or not valid UTF-16).
    pub fn string(&self, id: AvId) -> Option<String> {
        self.get(id).and_then(|v| from_utf16le(v, "AV_PAIR").ok())
    }

    /// MsvAvFlags, if present and 4 bytes long.
    pub fn flags(&self) -> Option<u32> {
        let v: [u8; 4] = self.get(AvId::FLAGS)?.try_into().ok()?;
        Some(u32::from_le_bytes(v))
    }

    /// MsvAvTimestamp (a FILETIME), if present and 8 bytes long.
    pub fn timestamp(&self) -> Option<u64> {
        let v: [u8; 8] = self.get(AvId::TIMESTAMP)?.try_into().ok()?;
        Some(u64::from_le_bytes(v))
    }

    /// Appends a UTF-16LE string pair.
    pub fn push_str(&mut self, id: AvId, s: &str) {
        self.0.push(AvPair {
            id,
            value: utf16le(s),
        });
    }

    /// Sets MsvAvFlags (replacing an existing pair, or appending one).
    pub fn set_flags(&mut self, flags: u32) {
        let value = flags.to_le_bytes().to_vec();
        match self.0.iter_mut().find(|p| p.id == AvId::FLAGS) {
            Some(p) => p.value = value,
            None => self.0.push(AvPair {
                id: AvId::FLAGS,
                value,
            }),
        }
    }
}

/// The VERSION structure ([MS-NLMP] 2.2.2.10): informational only, never used in a decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Version {
    /// ProductMajorVersion.
    pub major: u8,
    /// ProductMinorVersion.
    pub minor: u8,
    /// ProductBuild.
    pub build: u16,
    /// NTLMRevisionCurrent (0x0F, NTLMSSP_REVISION_W2K3).
    pub revision: u8,
}

impl Version {
    /// What we send: Windows 10 / Server 2022 numbering, NTLM revision 15.
    pub const OURS: Self = Self {
        major: 10,
        minor: 0,
        build: 20348,
        revision: 0x0F,
    };

    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let major = r.u8("Version")?;
        let minor = r.u8("Version")?;
        let build = r.u16("Version")?;
        r.skip(3, "Version")?;
        let revision = r.u8("Version")?;
        Ok(Self {
            major,
            minor,
            build,
            revision,
        })
    }

    fn encode(&self, w: &mut Writer) {
        w.u8(self.major);
        w.u8(self.minor);
        w.u16(self.build);
        w.zeros(3);
        w.u8(self.revision);
    }
}

/// NEGOTIATE_MESSAGE ([MS-NLMP] 2.2.1.1), client → server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegotiateMessage {
    /// What the client supports and asks for.
    pub flags: NegotiateFlags,
    /// DomainName in the OEM code page (meaningful only with OEM_DOMAIN_SUPPLIED).
    pub domain: Vec<u8>,
    /// Workstation in the OEM code page (meaningful only with OEM_WORKSTATION_SUPPLIED).
    pub workstation: Vec<u8>,
    /// The Version field, when the payload leaves room for it (see [`AuthenticateMessage`]).
    pub version: Option<Version>,
}

impl NegotiateMessage {
    /// Decodes a whole NEGOTIATE_MESSAGE.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = header(msg, NEGOTIATE_TYPE)?;
        let flags = NegotiateFlags(r.u32("NegotiateFlags")?);
        let domain = Field::read(&mut r, "DomainNameFields")?;
        let workstation = Field::read(&mut r, "WorkstationFields")?;
        let start = payload_start(msg, &[domain, workstation], NEGOTIATE_FIXED)?;
        let version = (start >= NEGOTIATE_FIXED + 8)
            .then(|| Version::decode(&mut r))
            .transpose()?;
        Ok(Self {
            flags,
            domain: domain.slice(&r, limits::OEM_NAME_MAX)?.to_vec(),
            workstation: workstation.slice(&r, limits::OEM_NAME_MAX)?.to_vec(),
            version,
        })
    }

    /// Encodes the message: fixed part, Version when present, then domain and workstation.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.bytes(&SIGNATURE);
        w.u32(NEGOTIATE_TYPE);
        w.u32(self.flags.0);
        let domain_at = w.len();
        w.zeros(8);
        let ws_at = w.len();
        w.zeros(8);
        if let Some(v) = &self.version {
            v.encode(&mut w);
        }
        put_payload(&mut w, domain_at, &self.domain);
        put_payload(&mut w, ws_at, &self.workstation);
        w.into_inner()
    }
}

/// CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2), server → client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChallengeMessage {
    /// The flags the server chose.
    pub flags: NegotiateFlags,
    /// TargetName as sent (UTF-16LE with UNICODE, else OEM); see [`ChallengeMessage::target_name`].
    pub target_name: Vec<u8>,
    /// The 8-byte server challenge.
    pub server_challenge: [u8; 8],
    /// TargetInfo: the server's names and timestamp.
    pub target_info: AvPairs,
    /// The Version field, when the payload leaves room for it.
    pub version: Option<Version>,
}

impl ChallengeMessage {
    /// Decodes a whole CHALLENGE_MESSAGE.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = header(msg, CHALLENGE_TYPE)?;
        let target_name = Field::read(&mut r, "TargetNameFields")?;
        let flags = NegotiateFlags(r.u32("NegotiateFlags")?);
        let server_challenge = r.array("ServerChallenge")?;
        r.skip(8, "Reserved")?;
        let target_info = Field::read(&mut r, "TargetInfoFields")?;
        let start = payload_start(msg, &[target_name, target_info], CHALLENGE_FIXED)?;
        let version = (start >= CHALLENGE_FIXED + 8)
            .then(|| Version::decode(&mut r))
            .transpose()?;
        let info = target_info.slice(&r, limits::TARGET_INFO_MAX)?;
        Ok(Self {
            flags,
            target_name: target_name.slice(&r, limits::TARGET_NAME_MAX)?.to_vec(),
            server_challenge,
            target_info: if info.is_empty() {
                AvPairs::default()
            } else {
                AvPairs::decode(info)?
            },
            version,
        })
    }

    /// Encodes the message: fixed part, Version when present, TargetName, TargetInfo (always
    /// written, with its MsvAvEOL).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.bytes(&SIGNATURE);
        w.u32(CHALLENGE_TYPE);
        let name_at = w.len();
        w.zeros(8);
        w.u32(self.flags.0);
        w.bytes(&self.server_challenge);
        w.zeros(8);
        let info_at = w.len();
        w.zeros(8);
        if let Some(v) = &self.version {
            v.encode(&mut w);
        }
        put_payload(&mut w, name_at, &self.target_name);
        put_payload(&mut w, info_at, &self.target_info.to_vec());
        w.into_inner()
    }

    /// TargetName as text, decoded per the UNICODE flag.
    pub fn target_name(&self) -> Result<String, DecodeError> {
        decode_string(self.flags, &self.target_name, "TargetName")
    }
}

/// AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3), client → server.
///
/// The Version and MIC fields are optional in practice: a client that sends neither starts its
/// payload at offset 64, one with a Version at 72, one with a MIC at 88. Decoding finds out
/// from the smallest payload offset (of the fields that have a length), as Windows and Samba
/// do; whether a MIC was *required* is decided later from the client's MsvAvFlags, which the
/// NTLMv2 proof protects ([`Acceptor::authenticate`]).
#[derive(Clone, PartialEq, Eq)]
pub struct AuthenticateMessage {
    /// The flags the client settled on.
    pub flags: NegotiateFlags,
    /// LmChallengeResponse (LMv2, Z(24), or one zero byte for anonymous).
    pub lm_response: Vec<u8>,
    /// NtChallengeResponse (an NTLMv2_RESPONSE, or empty for anonymous).
    pub nt_response: Vec<u8>,
    /// The user's domain.
    pub domain: String,
    /// The user name.
    pub user: String,
    /// The client machine's name.
    pub workstation: String,
    /// EncryptedRandomSessionKey (16 bytes with KEY_EXCH).
    pub encrypted_random_session_key: Vec<u8>,
    /// The Version field.
    pub version: Option<Version>,
    /// The MIC: HMAC_MD5(ExportedSessionKey, NEGOTIATE ‖ CHALLENGE ‖ AUTHENTICATE with the MIC
    /// zeroed) ([MS-NLMP] 3.1.5.1.2).
    pub mic: Option<[u8; 16]>,
}

impl core::fmt::Debug for AuthenticateMessage {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("AuthenticateMessage")
            .field("flags", &self.flags)
            .field("lm_response_len", &self.lm_response.len())
            .field("nt_response_len", &self.nt_response.len())
            .field("domain", &self.domain)
            .field("user", &self.user)
            .field("workstation", &self.workstation)
            .field("version", &self.version)
            .field("mic", &self.mic.is_some())
            .finish_non_exhaustive()
    }
}

impl AuthenticateMessage {
    /// Decodes a whole AUTHENTICATE_MESSAGE. Names are UTF-16LE with UNICODE, else OEM (read
    /// as Latin-1).
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = header(msg, AUTHENTICATE_TYPE)?;
        let lm = Field::read(&mut r, "LmChallengeResponseFields")?;
        let nt = Field::read(&mut r, "NtChallengeResponseFields")?;
        let domain = Field::read(&mut r, "DomainNameFields")?;
        let user = Field::read(&mut r, "UserNameFields")?;
        let ws = Field::read(&mut r, "WorkstationFields")?;
        let key = Field::read(&mut r, "EncryptedRandomSessionKeyFields")?;
        let flags = NegotiateFlags(r.u32("NegotiateFlags")?);
        let start = payload_start(msg, &[lm, nt, domain, user, ws, key], AUTHENTICATE_FIXED)?;
        let version = (start >= MIC_OFFSET)
            .then(|| Version::decode(&mut r))
            .transpose()?;
        let mic = (start >= MIC_OFFSET + MIC_LEN)
            .then(|| r.array::<16>("MIC"))
            .transpose()?;
        let string = |f: Field, what| decode_string(flags, f.slice(&r, limits::NAME_MAX)?, what);
        Ok(Self {
            flags,
            lm_response: lm.slice(&r, limits::LM_RESPONSE_MAX)?.to_vec(),
            nt_response: nt.slice(&r, limits::NT_RESPONSE_MAX)?.to_vec(),
            domain: string(domain, "DomainName")?,
            user: string(user, "UserName")?,
            workstation: string(ws, "Workstation")?,
            encrypted_random_session_key: key.slice(&r, limits::SESSION_KEY_MAX)?.to_vec(),
            version,
            mic,
        })
    }

    /// Encodes the message: fixed part, Version (zeros if absent but a MIC is present), MIC,
    /// then domain, user, workstation, LM and NT responses and the session key, in the order
    /// of [MS-NLMP] 4.2.4.3.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        w.bytes(&SIGNATURE);
        w.u32(AUTHENTICATE_TYPE);
        let at = w.len();
        w.zeros(6 * 8);
        w.u32(self.flags.0);
        if self.version.is_some() || self.mic.is_some() {
            match &self.version {
                Some(v) => v.encode(&mut w),
                None => w.zeros(8),
            }
        }
        if let Some(mic) = &self.mic {
            w.bytes(mic);
        }
        let f = self.flags;
        put_payload(&mut w, at + 16, &encode_string(f, &self.domain));
        put_payload(&mut w, at + 24, &encode_string(f, &self.user));
        put_payload(&mut w, at + 32, &encode_string(f, &self.workstation));
        put_payload(&mut w, at, &self.lm_response);
        put_payload(&mut w, at + 8, &self.nt_response);
        put_payload(&mut w, at + 40, &self.encrypted_random_session_key);
        w.into_inner()
    }
}

/// The parts of an NTLMv2_RESPONSE ([MS-NLMP] 2.2.2.8, 2.2.2.7) the server needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NtlmV2Response<'a> {
    /// NTProofStr.
    pub proof: [u8; 16],
    /// The NTLMv2_CLIENT_CHALLENGE as sent ("temp" in [MS-NLMP] 3.3.2), covered by the proof.
    pub blob: &'a [u8],
    /// The client's TimeStamp (FILETIME).
    pub timestamp: u64,
    /// ChallengeFromClient.
    pub client_challenge: [u8; 8],
    /// The client's AV pairs.
    pub av_pairs: AvPairs,
}

impl<'a> NtlmV2Response<'a> {
    /// The smallest NTLMv2 response: proof (16), blob header (28), MsvAvEOL (4).
    pub const MIN_LEN: usize = 16 + 28 + 4;

    /// Splits an NtChallengeResponse. RespType and HiRespType must be 1.
    pub fn decode(nt: &'a [u8]) -> Result<Self, DecodeError> {
        if nt.len() < Self::MIN_LEN {
            return Err(DecodeError::Truncated {
                field: "NTLMv2_RESPONSE",
            });
        }
        let mut r = Reader::new(nt);
        let proof = r.array("NTProofStr")?;
        let blob = &nt[16..];
        let resp_type = r.u8("RespType")?;
        let hi = r.u8("HiRespType")?;
        if resp_type != 1 || hi != 1 {
            return Err(DecodeError::InvalidValue {
                field: "RespType",
                value: (u64::from(resp_type) << 8) | u64::from(hi),
            });
        }
        r.skip(6, "Reserved1/2")?;
        let timestamp = r.u64("TimeStamp")?;
        let client_challenge = r.array("ChallengeFromClient")?;
        r.skip(4, "Reserved3")?;
        let av_pairs = AvPairs::decode(&nt[r.pos()..])?;
        Ok(Self {
            proof,
            blob,
            timestamp,
            client_challenge,
            av_pairs,
        })
    }
}

/// The names the server puts in its CHALLENGE (TargetName and TargetInfo).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TargetNames {
    /// NetBIOS domain (workgroup) name, e.g. `WORKGROUP`.
    pub nb_domain: String,
    /// NetBIOS computer name, e.g. `DITTOFS`.
    pub nb_computer: String,
    /// DNS domain name (may be empty).
    pub dns_domain: String,
    /// DNS computer name (may be empty).
    pub dns_computer: String,
}

/// Why an NTLM authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// A message was malformed.
    #[error("malformed NTLMSSP message: {0}")]
    Malformed(#[from] DecodeError),
    /// AUTHENTICATE before a CHALLENGE was sent, or a second AUTHENTICATE.
    #[error("NTLMSSP message out of order")]
    OutOfOrder,
    /// An NTLMv1, NTLM2-session or LM-only response: refused, only NTLMv2 is accepted.
    #[error("NTLMv1/LM responses are refused; only NTLMv2 is accepted")]
    NtlmV1Refused,
    /// Unknown user or wrong password (deliberately the same error).
    #[error("logon failure: unknown user or wrong password")]
    LogonFailure,
    /// The client announced a MIC (MsvAvFlags 0x2) but it is missing or does not verify; or
    /// (SPNEGO) a required mechListMIC is missing or does not verify.
    #[error("the AUTHENTICATE MIC or the SPNEGO mechListMIC is missing or wrong")]
    MicInvalid,
    /// SPNEGO: the client offers no mechanism we support (we support NTLMSSP only).
    #[error("the client offers no NTLMSSP mechanism")]
    NoCommonMechanism,
}

impl AuthError {
    /// The NTSTATUS a SESSION_SETUP response carries for this failure: malformed input is
    /// STATUS_INVALID_PARAMETER, everything else STATUS_LOGON_FAILURE (as Windows answers;
    /// no hint whether the user exists).
    pub const fn status(self) -> NtStatus {
        match self {
            Self::Malformed(_) => NtStatus::INVALID_PARAMETER,
            Self::OutOfOrder
            | Self::NtlmV1Refused
            | Self::LogonFailure
            | Self::MicInvalid
            | Self::NoCommonMechanism => NtStatus::LOGON_FAILURE,
        }
    }
}

/// A successful NTLM authentication ([`Acceptor::authenticate`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user name as the client sent it (the server maps it to an account).
    pub user: String,
    /// The domain as the client sent it.
    pub domain: String,
    /// The client's workstation name.
    pub workstation: String,
    /// ExportedSessionKey: the SMB2 session key (signing and encryption keys derive from it).
    /// All zeros for an anonymous logon.
    pub session_key: [u8; 16],
    /// Anonymous (null session) logon: no user, no NT response. The server decides whether
    /// to allow it (as a guest or not at all).
    pub anonymous: bool,
    /// The negotiated flags (ours in the CHALLENGE ∩ the client's in the AUTHENTICATE).
    pub flags: NegotiateFlags,
    /// The AUTHENTICATE carried a MIC and it verified. Such a client also sends a SPNEGO
    /// mechListMIC, which the server should then require and check
    /// ([`Authenticated::verify_client_mic`]).
    pub mic_verified: bool,
    /// The client's timestamp from the NTLMv2 blob (FILETIME), for logging clock skew.
    pub client_timestamp: Option<u64>,
}

impl core::fmt::Debug for Authenticated {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Authenticated")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .field("workstation", &self.workstation)
            .field("anonymous", &self.anonymous)
            .field("flags", &self.flags)
            .field("mic_verified", &self.mic_verified)
            .finish_non_exhaustive()
    }
}

impl Authenticated {
    /// The session security keys ([MS-NLMP] 3.4.5).
    pub fn keys(&self) -> SessionKeys {
        SessionKeys::derive(&self.session_key, self.flags)
    }

    /// Checks the client's SPNEGO mechListMIC over `data` (the DER of the client's mechTypes):
    /// an NTLMSSP_MESSAGE_SIGNATURE with the client-to-server keys and sequence number 0
    /// ([MS-NLMP] 3.4.4.2, [MS-SPNG] 3.1.5.1). Compared in constant time. Always false for an
    /// anonymous logon or without extended session security (which every NTLMv2 client
    /// negotiates and which [`SessionKeys`] requires).
    pub fn verify_client_mic(&self, data: &[u8], mic: &[u8]) -> bool {
        if self.anonymous
            || !self
                .flags
                .contains(NegotiateFlags::EXTENDED_SESSIONSECURITY)
        {
            return false;
        }
        let keys = self.keys();
        let expected = sign_with(
            self.flags,
            &keys.client_signing,
            &keys.client_sealing,
            0,
            data,
        );
        expected.as_slice().ct_eq(mic).into()
    }

    /// The server's mechListMIC over `data`: the signature with the server-to-client keys and
    /// sequence number 0.
    pub fn server_mic(&self, data: &[u8]) -> [u8; 16] {
        let keys = self.keys();
        sign_with(
            self.flags,
            &keys.server_signing,
            &keys.server_sealing,
            0,
            data,
        )
    }
}

/// The server side of one NTLM exchange: NEGOTIATE in, CHALLENGE out, AUTHENTICATE in,
/// [`Authenticated`] out. One acceptor per SESSION_SETUP exchange, with a fresh random server
/// challenge; after [`Acceptor::authenticate`] (success or failure) it is spent.
#[derive(Clone, Debug)]
pub struct Acceptor {
    server_challenge: [u8; 8],
    timestamp: u64,
    names: TargetNames,
    state: AcceptorState,
}

#[derive(Clone, Debug)]
enum AcceptorState {
    Initial,
    Challenged {
        negotiate: Vec<u8>,
        challenge: Vec<u8>,
        flags: NegotiateFlags,
    },
    Done,
}

impl Acceptor {
    /// An acceptor that will challenge with `server_challenge` (8 bytes from the server's
    /// RNG) and put `timestamp_filetime` (the current time as a FILETIME: 100 ns ticks since
    /// 1601) in MsvAvTimestamp, which tells clients to send a MIC.
    pub fn new(server_challenge: [u8; 8], timestamp_filetime: u64, names: TargetNames) -> Self {
        Self {
            server_challenge,
            timestamp: timestamp_filetime,
            names,
            state: AcceptorState::Initial,
        }
    }

    /// Answers the client's NEGOTIATE_MESSAGE with a CHALLENGE_MESSAGE. The flags are ours
    /// (NTLM, TARGET_INFO, REQUEST_TARGET, ALWAYS_SIGN, a target type) plus what the client
    /// asked for among UNICODE (else OEM), EXTENDED_SESSIONSECURITY, VERSION, 128, 56,
    /// KEY_EXCH, SIGN and SEAL.
    pub fn challenge(&mut self, negotiate: &[u8]) -> Result<Vec<u8>, AuthError> {
        if !matches!(self.state, AcceptorState::Initial) {
            return Err(AuthError::OutOfOrder);
        }
        let neg = NegotiateMessage::decode(negotiate)?;
        let c = neg.flags;
        let mut flags = NegotiateFlags::NTLM
            | NegotiateFlags::TARGET_INFO
            | NegotiateFlags::REQUEST_TARGET
            | NegotiateFlags::ALWAYS_SIGN;
        flags = flags.with(if self.is_domain_target() {
            NegotiateFlags::TARGET_TYPE_DOMAIN
        } else {
            NegotiateFlags::TARGET_TYPE_SERVER
        });
        flags = flags.with(
            if !c.contains(NegotiateFlags::UNICODE) && c.contains(NegotiateFlags::OEM) {
                NegotiateFlags::OEM
            } else {
                NegotiateFlags::UNICODE
            },
        );
        for f in [
            NegotiateFlags::EXTENDED_SESSIONSECURITY,
            NegotiateFlags::VERSION,
            NegotiateFlags::NEGOTIATE_128,
            NegotiateFlags::NEGOTIATE_56,
            NegotiateFlags::KEY_EXCH,
            NegotiateFlags::SIGN,
            NegotiateFlags::SEAL,
        ] {
            if c.contains(f) {
                flags = flags.with(f);
            }
        }
        let target = if self.is_domain_target() {
            &self.names.nb_domain
        } else {
            &self.names.nb_computer
        };
        let mut info = AvPairs::default();
        info.push_str(AvId::NB_DOMAIN_NAME, &self.names.nb_domain);
        info.push_str(AvId::NB_COMPUTER_NAME, &self.names.nb_computer);
        if !self.names.dns_domain.is_empty() {
            info.push_str(AvId::DNS_DOMAIN_NAME, &self.names.dns_domain);
        }
        if !self.names.dns_computer.is_empty() {
            info.push_str(AvId::DNS_COMPUTER_NAME, &self.names.dns_computer);
        }
        if !self.names.dns_domain.is_empty() {
            info.push_str(AvId::DNS_TREE_NAME, &self.names.dns_domain);
        }
        info.0.push(AvPair {
            id: AvId::TIMESTAMP,
            value: self.timestamp.to_le_bytes().to_vec(),
        });
        let challenge = ChallengeMessage {
            flags,
            target_name: encode_string(flags, target),
            server_challenge: self.server_challenge,
            target_info: info,
            version: flags
                .contains(NegotiateFlags::VERSION)
                .then_some(Version::OURS),
        }
        .encode();
        self.state = AcceptorState::Challenged {
            negotiate: negotiate.to_vec(),
            challenge: challenge.clone(),
            flags,
        };
        Ok(challenge)
    }

    /// Checks the client's AUTHENTICATE_MESSAGE. `lookup(user, domain)` returns the user's NT
    /// hash (MD4 of the UTF-16LE password, [`nt_hash`]) or `None` for an unknown user; it
    /// should match user names case-insensitively, as Windows does (NTOWFv2 upper-cases the
    /// user anyway). The user may arrive as a UPN (`user@realm`) with an empty domain.
    ///
    /// NTLMv2 only ([MS-NLMP] 3.3.2): NTOWFv2 = HMAC_MD5(NT hash, UTF-16LE(UPPER(user) ‖
    /// domain)), NTProofStr = HMAC_MD5(NTOWFv2, ServerChallenge ‖ blob), compared in constant
    /// time. Clients disagree on the domain they hash, so the domain as sent, upper-cased,
    /// empty, and our NetBIOS domain and computer names are all tried; every candidate is
    /// computed whatever matches, and an unknown user is checked against a dummy hash, so the
    /// time taken says nothing about which users exist.
    ///
    /// The blob's timestamp is reported, not checked: the server challenge is fresh for each
    /// exchange, so a replayed AUTHENTICATE fails the proof anyway, and rejecting on clock skew
    /// would lock out clients whose clocks drift (nothing in SMB synchronises them).
    ///
    /// With KEY_EXCH and SIGN or SEAL negotiated, ExportedSessionKey = RC4(SessionBaseKey,
    /// EncryptedRandomSessionKey). When the blob's MsvAvFlags has bit 0x2 the MIC must equal
    /// HMAC_MD5(ExportedSessionKey, NEGOTIATE ‖ CHALLENGE ‖ AUTHENTICATE with a zero MIC).
    pub fn authenticate(
        &mut self,
        auth: &[u8],
        lookup: impl Fn(&str, &str) -> Option<[u8; 16]>,
    ) -> Result<Authenticated, AuthError> {
        let (negotiate, challenge, offered) =
            match core::mem::replace(&mut self.state, AcceptorState::Done) {
                AcceptorState::Challenged {
                    negotiate,
                    challenge,
                    flags,
                } => (negotiate, challenge, flags),
                other => {
                    self.state = other;
                    return Err(AuthError::OutOfOrder);
                }
            };
        let msg = AuthenticateMessage::decode(auth)?;
        let flags = offered.intersect(msg.flags);
        if msg.user.is_empty()
            && msg.nt_response.is_empty()
            && (msg.lm_response.is_empty() || msg.lm_response == [0])
        {
            return Ok(Authenticated {
                user: msg.user,
                domain: msg.domain,
                workstation: msg.workstation,
                session_key: [0; 16],
                anonymous: true,
                flags,
                mic_verified: false,
                client_timestamp: None,
            });
        }
        if msg.nt_response.len() <= 24 {
            // Empty (LM only), or the 24 bytes of NTLMv1 / NTLM2 session response.
            return Err(AuthError::NtlmV1Refused);
        }
        let v2 = NtlmV2Response::decode(&msg.nt_response)?;
        let hash = lookup(&msg.user, &msg.domain);
        let known = hash.is_some();
        let hash = hash.unwrap_or([0; 16]);

        let mut candidates: Vec<String> = Vec::with_capacity(5);
        for d in [
            msg.domain.clone(),
            upcase(&msg.domain),
            String::new(),
            self.names.nb_domain.clone(),
            self.names.nb_computer.clone(),
        ] {
            if !candidates.contains(&d) {
                candidates.push(d);
            }
        }
        let mut found: Option<[u8; 16]> = None;
        for d in &candidates {
            let owf = ntowfv2_from_hash(&hash, &msg.user, d);
            let proof = hmac_md5(&owf, &[&self.server_challenge, v2.blob]);
            let ok: bool = proof.ct_eq(&v2.proof).into();
            if ok && found.is_none() {
                found = Some(owf);
            }
        }
        let owf = match found {
            Some(owf) if known => owf,
            _ => return Err(AuthError::LogonFailure),
        };
        let session_base_key = hmac_md5(&owf, &[&v2.proof]);
        // [MS-NLMP] 3.4.5.1: with NTLMv2, KeyExchangeKey = SessionBaseKey.
        let key_exchange_key = session_base_key;
        let session_key = if flags.exchanges_key() {
            let enc: [u8; 16] = msg
                .encrypted_random_session_key
                .as_slice()
                .try_into()
                .map_err(|_| DecodeError::InvalidValue {
                    field: "EncryptedRandomSessionKey length",
                    value: msg.encrypted_random_session_key.len() as u64,
                })?;
            rc4(&key_exchange_key, &enc)
        } else {
            key_exchange_key
        };
        let mic_required = v2
            .av_pairs
            .flags()
            .is_some_and(|f| f & AV_FLAG_MIC_PRESENT != 0);
        if mic_required {
            let mic = msg.mic.ok_or(AuthError::MicInvalid)?;
            let expected = compute_mic(&session_key, &negotiate, &challenge, auth);
            let ok: bool = expected.ct_eq(&mic).into();
            if !ok {
                return Err(AuthError::MicInvalid);
            }
        }
        Ok(Authenticated {
            user: msg.user,
            domain: msg.domain,
            workstation: msg.workstation,
            session_key,
            anonymous: false,
            flags,
            mic_verified: mic_required,
            client_timestamp: Some(v2.timestamp),
        })
    }

    /// TargetName is the domain when we have a NetBIOS domain distinct from our computer name
    /// (a workgroup member), the computer otherwise.
    fn is_domain_target(&self) -> bool {
        !self.names.nb_domain.is_empty()
            && !self
                .names
                .nb_domain
                .eq_ignore_ascii_case(&self.names.nb_computer)
    }

    /// Test hook: an acceptor that already sent `challenge` (for the [MS-NLMP] 4.2.4 vectors).
    #[cfg(test)]
    fn challenged(server_challenge: [u8; 8], negotiate: &[u8], challenge: &[u8]) -> Self {
        let flags = ChallengeMessage::decode(challenge)
            .map(|c| c.flags)
            .unwrap_or_default();
        Self {
            server_challenge,
            timestamp: 0,
            names: TargetNames::default(),
            state: AcceptorState::Challenged {
                negotiate: negotiate.to_vec(),
                challenge: challenge.to_vec(),
                flags,
            },
        }
    }
}

/// NT hash: MD4(UTF-16LE(password)) ([MS-NLMP] 3.3.1 NTOWFv1), what the user store keeps.
pub fn nt_hash(password: &str) -> [u8; 16] {
    Md4::digest(utf16le(password)).into()
}

/// NTOWFv2 from an NT hash: HMAC_MD5(NT hash, UTF-16LE(UPPER(user) ‖ domain)) ([MS-NLMP] 3.3.2).
pub fn ntowfv2_from_hash(nt_hash: &[u8; 16], user: &str, domain: &str) -> [u8; 16] {
    let mut s = upcase(user);
    s.push_str(domain);
    hmac_md5(nt_hash, &[&utf16le(&s)])
}

/// Upper-cases as Windows does (RtlUpcaseUnicodeString): one character to one character, so a
/// character whose upper case is several characters (`ß` → `SS`) stays as it is. Rust's
/// `to_uppercase` would change the string's length and the NTOWFv2 input with it.
fn upcase(s: &str) -> String {
    s.chars()
        .map(|c| {
            let mut u = c.to_uppercase();
            match (u.next(), u.next()) {
                (Some(one), None) => one,
                _ => c,
            }
        })
        .collect()
}

/// The four session security keys ([MS-NLMP] 3.4.5.2, 3.4.5.3), for extended session
/// security (the only kind NTLMv2 clients negotiate).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionKeys {
    /// Client-to-server signing key.
    pub client_signing: [u8; 16],
    /// Client-to-server sealing key.
    pub client_sealing: [u8; 16],
    /// Server-to-client signing key.
    pub server_signing: [u8; 16],
    /// Server-to-client sealing key.
    pub server_sealing: [u8; 16],
}

impl core::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SessionKeys(..)")
    }
}

impl SessionKeys {
    /// SIGNKEY = MD5(ExportedSessionKey ‖ magic); SEALKEY = MD5(key ‖ magic) where key is the
    /// whole exported key with NEGOTIATE_128, its first 7 bytes with NEGOTIATE_56, else 5.
    pub fn derive(exported_session_key: &[u8; 16], flags: NegotiateFlags) -> Self {
        let k = exported_session_key;
        let seal_len = if flags.contains(NegotiateFlags::NEGOTIATE_128) {
            16
        } else if flags.contains(NegotiateFlags::NEGOTIATE_56) {
            7
        } else {
            5
        };
        let md5 = |key: &[u8], magic: &[u8]| -> [u8; 16] {
            let mut h = Md5::new();
            h.update(key);
            h.update(magic);
            h.finalize().into()
        };
        Self {
            client_signing: md5(
                k,
                b"session key to client-to-server signing key magic constant\0",
            ),
            client_sealing: md5(
                &k[..seal_len],
                b"session key to client-to-server sealing key magic constant\0",
            ),
            server_signing: md5(
                k,
                b"session key to server-to-client signing key magic constant\0",
            ),
            server_sealing: md5(
                &k[..seal_len],
                b"session key to server-to-client sealing key magic constant\0",
            ),
        }
    }
}

/// An RC4 sealing handle ([MS-NLMP] 3.4.3): one keystream per direction, shared by sealing and
/// the checksum encryption of [`mac`], so the order of calls matters.
pub struct SealingHandle(Rc4<U16>);

impl core::fmt::Debug for SealingHandle {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SealingHandle(..)")
    }
}

impl SealingHandle {
    /// A fresh handle keyed with a sealing key.
    pub fn new(sealing_key: &[u8; 16]) -> Self {
        Self(Rc4::new(&(*sealing_key).into()))
    }

    /// Encrypts or decrypts `data` in place, advancing the keystream.
    pub fn apply(&mut self, data: &mut [u8]) {
        self.0.apply_keystream(data);
    }
}

/// NTLMSSP_MESSAGE_SIGNATURE with extended session security ([MS-NLMP] 3.4.4.2, 2.2.2.9.1):
/// Version 1 ‖ HMAC_MD5(sign_key, seqnum ‖ message)[0..8] (RC4-encrypted with `seal` when
/// KEY_EXCH was negotiated; pass `None` otherwise) ‖ seqnum.
pub fn mac(
    sign_key: &[u8; 16],
    seal: Option<&mut SealingHandle>,
    seqnum: u32,
    message: &[u8],
) -> [u8; 16] {
    let seq = seqnum.to_le_bytes();
    let h = hmac_md5(sign_key, &[&seq, message]);
    let mut checksum = [0u8; 8];
    checksum.copy_from_slice(&h[..8]);
    if let Some(handle) = seal {
        handle.apply(&mut checksum);
    }
    let mut out = [0u8; 16];
    out[..4].copy_from_slice(&1u32.to_le_bytes());
    out[4..12].copy_from_slice(&checksum);
    out[12..].copy_from_slice(&seq);
    out
}

/// A signature with a fresh sealing handle, as SPNEGO's mechListMIC uses (the first and only
/// NTLM signature on an SMB connection).
fn sign_with(
    flags: NegotiateFlags,
    sign_key: &[u8; 16],
    seal_key: &[u8; 16],
    seqnum: u32,
    data: &[u8],
) -> [u8; 16] {
    let mut handle = SealingHandle::new(seal_key);
    let seal = flags
        .contains(NegotiateFlags::KEY_EXCH)
        .then_some(&mut handle);
    mac(sign_key, seal, seqnum, data)
}

/// MIC = HMAC_MD5(ExportedSessionKey, NEGOTIATE ‖ CHALLENGE ‖ AUTHENTICATE with the MIC field
/// zeroed) ([MS-NLMP] 3.1.5.1.2, 3.2.5.1.2).
fn compute_mic(
    session_key: &[u8; 16],
    negotiate: &[u8],
    challenge: &[u8],
    auth: &[u8],
) -> [u8; 16] {
    let mut zeroed = auth.to_vec();
    if let Some(mic) = zeroed.get_mut(MIC_OFFSET..MIC_OFFSET + MIC_LEN) {
        mic.fill(0);
    }
    hmac_md5(session_key, &[negotiate, challenge, &zeroed])
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut m = <Hmac<Md5> as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

fn rc4(key: &[u8; 16], data: &[u8; 16]) -> [u8; 16] {
    let mut out = *data;
    SealingHandle::new(key).apply(&mut out);
    out
}

/// A (length, offset) pair from a `*Fields` triple; MaxLen is ignored, as [MS-NLMP] says.
#[derive(Clone, Copy)]
struct Field {
    len: usize,
    offset: usize,
    name: &'static str,
}

impl Field {
    fn read(r: &mut Reader<'_>, name: &'static str) -> Result<Self, DecodeError> {
        let len = usize::from(r.u16(name)?);
        r.skip(2, name)?;
        let offset = r.u32(name)? as usize;
        Ok(Self { len, offset, name })
    }

    fn slice<'a>(&self, r: &Reader<'a>, max: usize) -> Result<&'a [u8], DecodeError> {
        r.slice_at(self.offset, self.len, max, self.name)
    }
}

/// Checks the signature and MessageType and the overall size; returns a reader after them.
fn header(msg: &[u8], kind: u32) -> Result<Reader<'_>, DecodeError> {
    if msg.len() > limits::MESSAGE_MAX {
        return Err(DecodeError::TooLong {
            field: "NTLMSSP message",
            len: msg.len() as u64,
            max: limits::MESSAGE_MAX as u64,
        });
    }
    let mut r = Reader::new(msg);
    if r.bytes(8, "Signature")? != SIGNATURE {
        return Err(DecodeError::InvalidValue {
            field: "Signature",
            value: 0,
        });
    }
    let t = r.u32("MessageType")?;
    if t != kind {
        return Err(DecodeError::InvalidValue {
            field: "MessageType",
            value: u64::from(t),
        });
    }
    Ok(r)
}

/// Where the payload starts: the smallest offset of a non-empty field, or the message end when
/// every field is empty. A non-empty field may not overlap the fixed part.
fn payload_start(msg: &[u8], fields: &[Field], fixed: usize) -> Result<usize, DecodeError> {
    let mut start = msg.len();
    for f in fields.iter().filter(|f| f.len > 0) {
        if f.offset < fixed {
            return Err(DecodeError::InvalidValue {
                field: f.name,
                value: f.offset as u64,
            });
        }
        start = start.min(f.offset);
    }
    Ok(start)
}

/// Appends `data` to the payload and fills in its `*Fields` triple at `at`.
fn put_payload(w: &mut Writer, at: usize, data: &[u8]) {
    let offset = u32::try_from(w.len()).unwrap_or(u32::MAX);
    let len = len16(data.len());
    w.bytes(data);
    w.patch_u16(at, len);
    w.patch_u16(at + 2, len);
    w.patch_u32(at + 4, offset);
}

fn len16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn decode_string(
    flags: NegotiateFlags,
    b: &[u8],
    field: &'static str,
) -> Result<String, DecodeError> {
    if flags.contains(NegotiateFlags::UNICODE) {
        from_utf16le(b, field)
    } else {
        // The OEM code page is the client's; Latin-1 keeps every byte and round-trips.
        Ok(b.iter().map(|&c| char::from(c)).collect())
    }
}

fn encode_string(flags: NegotiateFlags, s: &str) -> Vec<u8> {
    if flags.contains(NegotiateFlags::UNICODE) {
        utf16le(s)
    } else {
        s.chars().map(|c| u8::try_from(c).unwrap_or(b'?')).collect()
    }
}

/// A minimal NTLMv2 client for the simulator's and tests' SMB clients (not used by the
/// server): build the NEGOTIATE, then the AUTHENTICATE answering the server's CHALLENGE.
pub mod client {
    use super::*;

    /// The flags [`negotiate`] asks for.
    pub const FLAGS: NegotiateFlags = NegotiateFlags(
        NegotiateFlags::UNICODE.0
            | NegotiateFlags::REQUEST_TARGET.0
            | NegotiateFlags::SIGN.0
            | NegotiateFlags::SEAL.0
            | NegotiateFlags::NTLM.0
            | NegotiateFlags::ALWAYS_SIGN.0
            | NegotiateFlags::EXTENDED_SESSIONSECURITY.0
            | NegotiateFlags::VERSION.0
            | NegotiateFlags::NEGOTIATE_128.0
            | NegotiateFlags::KEY_EXCH.0
            | NegotiateFlags::NEGOTIATE_56.0,
    );

    /// The NEGOTIATE_MESSAGE. Always the same bytes: [`authenticate`]'s MIC covers them.
    pub fn negotiate() -> Vec<u8> {
        NegotiateMessage {
            flags: FLAGS,
            domain: Vec::new(),
            workstation: Vec::new(),
            version: Some(Version::OURS),
        }
        .encode()
    }

    /// The client's result: the AUTHENTICATE_MESSAGE to send and the keys it implies.
    #[derive(Clone, Debug)]
    pub struct ClientAuthenticate {
        /// The AUTHENTICATE_MESSAGE bytes.
        pub message: Vec<u8>,
        /// ExportedSessionKey (the SMB2 session key).
        pub session_key: [u8; 16],
        /// The negotiated flags.
        pub flags: NegotiateFlags,
    }

    impl ClientAuthenticate {
        /// The client's SPNEGO mechListMIC over `data` (client-to-server keys, seqnum 0).
        pub fn client_mic(&self, data: &[u8]) -> [u8; 16] {
            let keys = SessionKeys::derive(&self.session_key, self.flags);
            sign_with(
                self.flags,
                &keys.client_signing,
                &keys.client_sealing,
                0,
                data,
            )
        }

        /// Checks the server's mechListMIC over `data` (server-to-client keys, seqnum 0).
        pub fn verify_server_mic(&self, data: &[u8], mic: &[u8]) -> bool {
            let keys = SessionKeys::derive(&self.session_key, self.flags);
            let expected = sign_with(
                self.flags,
                &keys.server_signing,
                &keys.server_sealing,
                0,
                data,
            );
            expected.as_slice().ct_eq(mic).into()
        }
    }

    /// Answers `challenge` (the server's CHALLENGE_MESSAGE) with an NTLMv2 AUTHENTICATE for
    /// `user` in `domain` whose NT hash is `nt_hash`. `client_challenge` and
    /// `random_session_key` come from the caller's RNG, `timestamp` (FILETIME) from its clock;
    /// the server's MsvAvTimestamp is used instead when present, and then the message carries
    /// a MIC ([MS-NLMP] 3.1.5.1.2) computed over [`negotiate`]'s bytes.
    pub fn authenticate(
        challenge: &[u8],
        user: &str,
        domain: &str,
        nt_hash: &[u8; 16],
        client_challenge: [u8; 8],
        timestamp: u64,
        random_session_key: [u8; 16],
    ) -> Result<ClientAuthenticate, DecodeError> {
        let ch = ChallengeMessage::decode(challenge)?;
        let flags = ch.flags.intersect(FLAGS);
        let server_ts = ch.target_info.timestamp();
        let with_mic = server_ts.is_some();
        let mut pairs = ch.target_info.clone();
        if with_mic {
            let f = pairs.flags().unwrap_or(0) | AV_FLAG_MIC_PRESENT;
            pairs.set_flags(f);
        }
        let mut blob = Writer::new();
        blob.u8(1);
        blob.u8(1);
        blob.zeros(6);
        blob.u64(server_ts.unwrap_or(timestamp));
        blob.bytes(&client_challenge);
        blob.zeros(4);
        pairs.encode(&mut blob);
        blob.zeros(4);
        let blob = blob.into_inner();

        let owf = ntowfv2_from_hash(nt_hash, user, domain);
        let proof = hmac_md5(&owf, &[&ch.server_challenge, &blob]);
        let mut nt_response = proof.to_vec();
        nt_response.extend_from_slice(&blob);
        let lm_response = if with_mic {
            vec![0; 24]
        } else {
            let mut lm = hmac_md5(&owf, &[&ch.server_challenge, &client_challenge]).to_vec();
            lm.extend_from_slice(&client_challenge);
            lm
        };
        let session_base_key = hmac_md5(&owf, &[&proof]);
        let (encrypted, session_key) = if flags.exchanges_key() {
            (
                rc4(&session_base_key, &random_session_key).to_vec(),
                random_session_key,
            )
        } else {
            (Vec::new(), session_base_key)
        };
        let mut msg = AuthenticateMessage {
            flags,
            lm_response,
            nt_response,
            domain: domain.to_owned(),
            user: user.to_owned(),
            workstation: String::new(),
            encrypted_random_session_key: encrypted,
            version: Some(Version::OURS),
            mic: with_mic.then_some([0; 16]),
        }
        .encode();
        if with_mic {
            let mic = compute_mic(&session_key, &negotiate(), challenge, &msg);
            msg[MIC_OFFSET..MIC_OFFSET + MIC_LEN].copy_from_slice(&mic);
        }
        Ok(ClientAuthenticate {
            message: msg,
            session_key,
            flags,
        })
    }

    /// An anonymous AUTHENTICATE_MESSAGE ([MS-NLMP] 3.2.5.1.2): empty user and NT response,
    /// a one-byte zero LM response.
    pub fn anonymous(challenge: &[u8]) -> Result<Vec<u8>, DecodeError> {
        let ch = ChallengeMessage::decode(challenge)?;
        Ok(AuthenticateMessage {
            flags: ch.flags.intersect(FLAGS).with(NegotiateFlags::ANONYMOUS),
            lm_response: vec![0],
            nt_response: Vec::new(),
            domain: String::new(),
            user: String::new(),
            workstation: String::new(),
            encrypted_random_session_key: Vec::new(),
            version: Some(Version::OURS),
            mic: None,
        }
        .encode())
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    fn h16(s: &str) -> [u8; 16] {
        h(s).try_into().unwrap()
    }

    // [MS-NLMP] 4.2.1 common values and 4.2.4 NTLMv2 results.
    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];
    const RANDOM_SESSION_KEY: [u8; 16] = [0x55; 16];

    /// [MS-NLMP] 4.2.4.3: the CHALLENGE_MESSAGE of the NTLMv2 example.
    fn spec_challenge() -> Vec<u8> {
        h(
            "4e544c4d53535000 02000000 0c000c00 38000000 33828ae2 0123456789abcdef
           0000000000000000 24002400 44000000 060070170000000f
           530065007200760065007200
           02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000",
        )
    }

    /// [MS-NLMP] 4.2.4.3: the AUTHENTICATE_MESSAGE of the NTLMv2 example (no MIC).
    fn spec_authenticate() -> Vec<u8> {
        h(
            "4e544c4d53535000 03000000 18001800 6c000000 54005400 84000000
           0c000c00 48000000 08000800 54000000 10001000 5c000000 10001000 d8000000
           358288e2 0501280a0000000f
           44006f006d00610069006e00 5500730065007200 43004f004d0050005500540045005200
           86c35097ac9cec102554764a57cccc19 aaaaaaaaaaaaaaaa
           68cd0ab851e51c96aabc927bebef6a1c
           0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000
           02000c0044006f006d00610069006e00 01000c00530065007200760065007200 00000000
           00000000
           c5dad2544fc9799094ce1ce90bc9d03e",
        )
    }

    /// Goal: the NTLMv2 key computations reproduce [MS-NLMP] 4.2.4.1–4.2.4.2 (NTOWFv2, the
    /// LMv2 and NTLMv2 responses, SessionBaseKey, EncryptedRandomSessionKey).
    #[test]
    fn spec_ntlmv2_vectors() {
        let nt = nt_hash("Password");
        assert_eq!(nt, h16("a4f49c406510bdcab6824ee7c30fd852"));
        let owf = ntowfv2_from_hash(&nt, "User", "Domain");
        assert_eq!(owf, h16("0c868a403bfd7a93a3001ef22ef02e3f"));
        let lm = hmac_md5(&owf, &[&SERVER_CHALLENGE, &CLIENT_CHALLENGE]);
        assert_eq!(lm, h16("86c35097ac9cec102554764a57cccc19"));
        let temp = h("0101000000000000 0000000000000000 aaaaaaaaaaaaaaaa 00000000
                      02000c0044006f006d00610069006e00 01000c00530065007200760065007200
                      00000000 00000000");
        let proof = hmac_md5(&owf, &[&SERVER_CHALLENGE, &temp]);
        assert_eq!(proof, h16("68cd0ab851e51c96aabc927bebef6a1c"));
        let base = hmac_md5(&owf, &[&proof]);
        assert_eq!(base, h16("8de40ccadbc14a82f15cb0ad0de95ca3"));
        assert_eq!(
            rc4(&base, &RANDOM_SESSION_KEY),
            h16("c5dad2544fc9799094ce1ce90bc9d03e")
        );
    }

    /// Goal: the spec's CHALLENGE and AUTHENTICATE messages decode to their documented fields
    /// and re-encode to the same bytes (the encoders use the spec's field order).
    #[test]
    fn spec_messages_decode_and_reencode() {
        let ch = ChallengeMessage::decode(&spec_challenge()).unwrap();
        assert_eq!(ch.flags, NegotiateFlags(0xe28a_8233));
        assert_eq!(ch.server_challenge, SERVER_CHALLENGE);
        assert_eq!(ch.target_name().unwrap(), "Server");
        assert_eq!(
            ch.target_info.string(AvId::NB_DOMAIN_NAME).as_deref(),
            Some("Domain")
        );
        assert_eq!(
            ch.target_info.string(AvId::NB_COMPUTER_NAME).as_deref(),
            Some("Server")
        );
        assert_eq!(
            ch.version,
            Some(Version {
                major: 6,
                minor: 0,
                build: 6000,
                revision: 15
            })
        );
        assert_eq!(ch.encode(), spec_challenge());

        let auth = AuthenticateMessage::decode(&spec_authenticate()).unwrap();
        assert_eq!(auth.user, "User");
        assert_eq!(auth.domain, "Domain");
        assert_eq!(auth.workstation, "COMPUTER");
        assert_eq!(auth.mic, None);
        assert_eq!(auth.version.map(|v| v.build), Some(2600));
        assert_eq!(auth.nt_response.len(), 84);
        assert_eq!(auth.encode(), spec_authenticate());
    }

    /// Goal: the acceptor accepts the spec's AUTHENTICATE for "User"/"Password" and recovers
    /// the random session key 0x55.. through KEY_EXCH; a wrong password fails.
    #[test]
    fn acceptor_accepts_spec_authenticate() {
        let neg = client::negotiate();
        let mut a = Acceptor::challenged(SERVER_CHALLENGE, &neg, &spec_challenge());
        let ok = a
            .authenticate(&spec_authenticate(), |u, d| {
                assert_eq!((u, d), ("User", "Domain"));
                Some(nt_hash("Password"))
            })
            .unwrap();
        assert_eq!(ok.session_key, RANDOM_SESSION_KEY);
        assert!(!ok.anonymous);
        assert!(!ok.mic_verified);
        assert_eq!(ok.client_timestamp, Some(0));
        let mut a = Acceptor::challenged(SERVER_CHALLENGE, &neg, &spec_challenge());
        assert_eq!(
            a.authenticate(&spec_authenticate(), |_, _| Some(nt_hash("password"))),
            Err(AuthError::LogonFailure)
        );
    }

    /// A captured Windows NTLMv2 exchange with a MIC, published with its password in the
    /// tests of a .NET WinRM client (WinRm.NET): user `cbatt-adm@DAN.VMCLOUD` (a UPN, empty
    /// domain), password `root4EDMZ`, a Windows 10.0.26100 NEGOTIATE, a real server CHALLENGE
    /// with a timestamp, and an AUTHENTICATE carrying MsvAvFlags, MsvAvSingleHost,
    /// MsvAvChannelBindings and MsvAvTargetName.
    fn captured() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let neg =
            h("4e544c4d5353500001000000b78208e2000000000000000000000000000000000a00f4650000000f");
        let ch = h("
            4e544c4d53535000020000001400140038000000358289e297e76a78f22b760d0000000000000000a400a4004c000000
            0a007c4f0000000f440041004e0056004d0043004c004f005500440002001400440041004e0056004d0043004c004f00
            55004400010014004f0050002d004100470045004e0054002d00320004001600640061006e002e0076006d0063006c00
            6f007500640003002c006f0070002d006100670065006e0074002d0032002e00640061006e002e0076006d0063006c00
            6f007500640005001600640061006e002e0076006d0063006c006f0075006400070008007ec61bfb11d0db0100000000");
        let auth = h("
            4e544c4d5353500003000000180018009000000048014801a800000000000000580000002a002a00580000000e000e00
            8200000010001000f0010000358288e20a00f4650000000f19538b7e0acdb95e06f9b8f9967b43316300620061007400
            74002d00610064006d004000440041004e002e0056004d0043004c004f005500440043004f00440059002d0050003200
            000000000000000000000000000000000000000000000000a44a9fbcff24f5fd4ec21fa5cf0c88420101000000000000
            7ec61bfb11d0db019982de956c8a67560000000002001400440041004e0056004d0043004c004f005500440001001400
            4f0050002d004100470045004e0054002d00320004001600640061006e002e0076006d0063006c006f00750064000300
            2c006f0070002d006100670065006e0074002d0032002e00640061006e002e0076006d0063006c006f00750064000500
            1600640061006e002e0076006d0063006c006f0075006400070008007ec61bfb11d0db01060004000200000008003000
            3000000000000000010000000020000045ac2aeb412f869e5d1a50be79c1cfb32b161b2af3ce66d56a6d06dc5ba3823c
            0a001000000000000000000000000000000000000900200048004f00530054002f00310030002e0033002e0036003300
            2e003200330037000000000000000000eb46ee01d11f7119ca5fb9e6b8377ae8");
        (neg, ch, auth)
    }

    /// Goal: a real Windows client's AUTHENTICATE (UPN user, empty domain, MIC, single-host and
    /// channel-binding pairs) verifies, MIC included, and yields the captured exported session
    /// key; one flipped bit anywhere in the message makes it fail.
    #[test]
    fn captured_windows_exchange_verifies() {
        let (neg, ch, auth) = captured();
        let n = NegotiateMessage::decode(&neg).unwrap();
        assert_eq!(n.version.map(|v| v.build), Some(26100));
        let c = ChallengeMessage::decode(&ch).unwrap();
        assert_eq!(c.target_name().unwrap(), "DANVMCLOUD");
        assert_eq!(c.target_info.timestamp(), Some(0x01db_d011_fb1b_c67e));
        let m = AuthenticateMessage::decode(&auth).unwrap();
        assert_eq!(
            (m.user.as_str(), m.domain.as_str()),
            ("cbatt-adm@DAN.VMCLOUD", "")
        );
        assert_eq!(m.workstation, "CODY-P2");
        assert_eq!(m.mic, Some(h16("19538b7e0acdb95e06f9b8f9967b4331")));
        let lookup = |u: &str, d: &str| {
            assert_eq!((u, d), ("cbatt-adm@DAN.VMCLOUD", ""));
            Some(nt_hash("root4EDMZ"))
        };
        let mut a = Acceptor::challenged(c.server_challenge, &neg, &ch);
        let ok = a.authenticate(&auth, lookup).unwrap();
        assert!(ok.mic_verified);
        assert_eq!(ok.session_key, h16("8489342b319cc0f2ca0c27b18fb19c62"));
        assert_eq!(ok.client_timestamp, Some(0x01db_d011_fb1b_c67e));

        let mut a = Acceptor::challenged(c.server_challenge, &neg, &ch);
        assert_eq!(
            a.authenticate(&auth, |_, _| Some(nt_hash("root4EDMz"))),
            Err(AuthError::LogonFailure)
        );
        // The workstation name is covered only by the MIC: changing it must be caught there.
        let ws = 0x82; // WorkstationFields offset
        let mut bad = auth.clone();
        bad[ws] ^= 0x20;
        let mut a = Acceptor::challenged(c.server_challenge, &neg, &ch);
        assert_eq!(a.authenticate(&bad, lookup), Err(AuthError::MicInvalid));
        // So is the NEGOTIATE the server saw.
        let mut neg2 = neg.clone();
        neg2[12] ^= 0x10;
        let mut a = Acceptor::challenged(c.server_challenge, &neg2, &ch);
        assert_eq!(a.authenticate(&auth, lookup), Err(AuthError::MicInvalid));
    }

    /// Goal: the session security keys and signature match [MS-NLMP] 4.2.4.4 (client-to-server
    /// keys from RandomSessionKey 0x55.., seal then sign "Plaintext" with seqnum 0).
    #[test]
    fn spec_session_security() {
        let flags = NegotiateFlags(0xe28a_8233);
        let keys = SessionKeys::derive(&RANDOM_SESSION_KEY, flags);
        assert_eq!(keys.client_sealing, h16("59f600973cc4960a25480a7c196e4c58"));
        assert_eq!(keys.client_signing, h16("4788dc861b4782f35d43fd98fe1a2d39"));
        let plain = utf16le("Plaintext");
        let mut handle = SealingHandle::new(&keys.client_sealing);
        let mut sealed = plain.clone();
        handle.apply(&mut sealed);
        assert_eq!(sealed, h("54e50165bf1936dc996020c1811b0f06fb5f"));
        let sig = mac(&keys.client_signing, Some(&mut handle), 0, &plain);
        assert_eq!(sig, h16("010000007fb38ec5c55d497600000000"));
    }

    fn names() -> TargetNames {
        TargetNames {
            nb_domain: "WORKGROUP".into(),
            nb_computer: "DITTOFS".into(),
            dns_domain: "example.test".into(),
            dns_computer: "dittofs.example.test".into(),
        }
    }

    struct Run {
        acceptor: Acceptor,
        challenge: Vec<u8>,
    }

    fn start() -> Run {
        let mut acceptor = Acceptor::new([7; 8], 133_000_000_000_000_000, names());
        let challenge = acceptor.challenge(&client::negotiate()).unwrap();
        Run {
            acceptor,
            challenge,
        }
    }

    fn users(user: &str, _domain: &str) -> Option<[u8; 16]> {
        user.eq_ignore_ascii_case("alice")
            .then(|| nt_hash("correct horse"))
    }

    fn client_auth(
        challenge: &[u8],
        user: &str,
        domain: &str,
        pw: &str,
    ) -> client::ClientAuthenticate {
        client::authenticate(
            challenge,
            user,
            domain,
            &nt_hash(pw),
            [0x11; 8],
            1,
            [0x22; 16],
        )
        .unwrap()
    }

    /// Goal: our client and acceptor complete an exchange end to end: the CHALLENGE carries our
    /// names and timestamp, the AUTHENTICATE a verified MIC, both sides agree on the session
    /// key, and the mechListMIC helpers agree in both directions.
    #[test]
    fn end_to_end_with_mic() {
        let mut run = start();
        let ch = ChallengeMessage::decode(&run.challenge).unwrap();
        assert_eq!(ch.target_name().unwrap(), "WORKGROUP");
        assert!(ch.flags.contains(NegotiateFlags::TARGET_TYPE_DOMAIN));
        assert!(
            ch.flags
                .contains(NegotiateFlags::KEY_EXCH | NegotiateFlags::SEAL)
        );
        assert_eq!(ch.target_info.timestamp(), Some(133_000_000_000_000_000));
        assert_eq!(
            ch.target_info.string(AvId::DNS_COMPUTER_NAME).as_deref(),
            Some("dittofs.example.test")
        );
        let c = client_auth(&run.challenge, "Alice", "WORKGROUP", "correct horse");
        let msg = AuthenticateMessage::decode(&c.message).unwrap();
        assert!(msg.mic.is_some());
        assert_eq!(msg.lm_response, vec![0; 24]);
        let ok = run.acceptor.authenticate(&c.message, users).unwrap();
        assert!(ok.mic_verified);
        assert_eq!(ok.user, "Alice");
        assert_eq!(ok.session_key, [0x22; 16]);
        assert_eq!(ok.session_key, c.session_key);
        assert_eq!(ok.flags, c.flags);
        let data = b"mechTypes DER";
        assert!(ok.verify_client_mic(data, &c.client_mic(data)));
        assert!(!ok.verify_client_mic(b"other", &c.client_mic(data)));
        assert!(c.verify_server_mic(data, &ok.server_mic(data)));
        // A second AUTHENTICATE on a spent acceptor is refused.
        assert_eq!(
            run.acceptor.authenticate(&c.message, users),
            Err(AuthError::OutOfOrder)
        );
    }

    /// Goal: user names upper-case one character to one character, as Windows does.
    #[test]
    fn upcase_is_simple_case_mapping() {
        assert_eq!(upcase("straße"), "STRAßE");
        assert_eq!(upcase("élise"), "ÉLISE");
        assert_eq!(
            ntowfv2_from_hash(&[1; 16], "straße", "d"),
            ntowfv2_from_hash(&[1; 16], "STRAßE", "d")
        );
    }

    /// Goal: KEY_EXCH without SIGN or SEAL exchanges no key: both sides use SessionBaseKey.
    #[test]
    fn key_exch_needs_sign_or_seal() {
        assert!(!NegotiateFlags::KEY_EXCH.exchanges_key());
        assert!((NegotiateFlags::KEY_EXCH | NegotiateFlags::SIGN).exchanges_key());
        let neg = NegotiateMessage {
            flags: NegotiateFlags::UNICODE
                | NegotiateFlags::NTLM
                | NegotiateFlags::KEY_EXCH
                | NegotiateFlags::EXTENDED_SESSIONSECURITY,
            domain: Vec::new(),
            workstation: Vec::new(),
            version: None,
        }
        .encode();
        // No timestamp, so no MIC: the MIC would cover client::negotiate(), not `neg`.
        let mut ch =
            ChallengeMessage::decode(&Acceptor::new([5; 8], 7, names()).challenge(&neg).unwrap())
                .unwrap();
        ch.target_info.0.retain(|p| p.id != AvId::TIMESTAMP);
        let ch = ch.encode();
        let mut a = Acceptor::challenged([5; 8], &neg, &ch);
        let c = client_auth(&ch, "alice", "WORKGROUP", "correct horse");
        assert!(c.message.len() > 100);
        assert!(
            AuthenticateMessage::decode(&c.message)
                .unwrap()
                .encrypted_random_session_key
                .is_empty()
        );
        let ok = a.authenticate(&c.message, users).unwrap();
        assert_ne!(ok.session_key, [0x22; 16]);
        assert_eq!(ok.session_key, c.session_key);
    }

    /// Goal: a wrong password and an unknown user fail the same way.
    #[test]
    fn wrong_password_and_unknown_user() {
        let mut run = start();
        let c = client_auth(&run.challenge, "alice", "WORKGROUP", "Correct horse");
        assert_eq!(
            run.acceptor.authenticate(&c.message, users),
            Err(AuthError::LogonFailure)
        );
        let mut run = start();
        let c = client_auth(&run.challenge, "mallory", "WORKGROUP", "correct horse");
        assert_eq!(
            run.acceptor.authenticate(&c.message, users),
            Err(AuthError::LogonFailure)
        );
        assert_eq!(AuthError::LogonFailure.status(), NtStatus::LOGON_FAILURE);
    }

    /// Goal: clients hash the domain in different spellings; lower, upper, empty, our
    /// computer name all verify (the domain field sent stays the one the client hashed with).
    #[test]
    fn domain_spellings() {
        for d in ["workgroup", "WORKGROUP", "", "DITTOFS", "Workgroup"] {
            let mut run = start();
            let c = client_auth(&run.challenge, "alice", d, "correct horse");
            let ok = run.acceptor.authenticate(&c.message, users);
            assert!(ok.is_ok(), "domain {d:?}: {ok:?}");
        }
        // A client that hashed with our NetBIOS domain but sent another domain name (no MIC
        // here: changing the domain field would break it).
        let mut a = Acceptor::new([7; 8], 0, names());
        let mut ch = ChallengeMessage::decode(&a.challenge(&client::negotiate()).unwrap()).unwrap();
        ch.target_info.0.retain(|p| p.id != AvId::TIMESTAMP);
        let c = client_auth(&ch.encode(), "alice", "WORKGROUP", "correct horse");
        let mut m = AuthenticateMessage::decode(&c.message).unwrap();
        m.domain = "ELSEWHERE".into();
        assert!(a.authenticate(&m.encode(), users).is_ok());
    }

    /// Goal: a tampered MIC, a stripped MIC, or a changed message under the MIC all fail.
    #[test]
    fn tampered_mic_fails() {
        let mut run = start();
        let c = client_auth(&run.challenge, "alice", "WORKGROUP", "correct horse");
        let mut bad = c.message.clone();
        bad[MIC_OFFSET] ^= 1;
        assert_eq!(
            run.acceptor.authenticate(&bad, users),
            Err(AuthError::MicInvalid)
        );

        // The MIC field removed (payload moved down to 72): the blob still says MIC present.
        let mut run = start();
        let c = client_auth(&run.challenge, "alice", "WORKGROUP", "correct horse");
        let mut m = AuthenticateMessage::decode(&c.message).unwrap();
        m.mic = None;
        assert_eq!(
            run.acceptor.authenticate(&m.encode(), users),
            Err(AuthError::MicInvalid)
        );

        // Flags changed after the MIC was computed (a downgrade attempt).
        let mut run = start();
        let c = client_auth(&run.challenge, "alice", "WORKGROUP", "correct horse");
        let mut m = AuthenticateMessage::decode(&c.message).unwrap();
        m.flags = NegotiateFlags(m.flags.0 & !NegotiateFlags::SEAL.0);
        assert_eq!(
            run.acceptor.authenticate(&m.encode(), users),
            Err(AuthError::MicInvalid)
        );
    }

    /// Goal: the blob's MIC flag is covered by the proof: clearing it breaks the logon rather
    /// than skipping the MIC check.
    #[test]
    fn stripping_the_mic_flag_breaks_the_proof() {
        let mut run = start();
        let c = client_auth(&run.challenge, "alice", "WORKGROUP", "correct horse");
        let mut m = AuthenticateMessage::decode(&c.message).unwrap();
        let v2 = NtlmV2Response::decode(&m.nt_response).unwrap();
        let mut pairs = v2.av_pairs.clone();
        pairs.set_flags(0);
        let mut nt = m.nt_response[..16 + 28].to_vec();
        nt.extend_from_slice(&pairs.to_vec());
        nt.extend_from_slice(&[0; 4]);
        m.nt_response = nt;
        m.mic = None;
        assert_eq!(
            run.acceptor.authenticate(&m.encode(), users),
            Err(AuthError::LogonFailure)
        );
    }

    /// Goal: anonymous logons are recognised and left to the server; NTLMv1 and LM-only are
    /// refused; AUTHENTICATE before CHALLENGE is out of order.
    #[test]
    fn anonymous_v1_and_order() {
        let mut run = start();
        let anon = client::anonymous(&run.challenge).unwrap();
        let ok = run.acceptor.authenticate(&anon, users).unwrap();
        assert!(ok.anonymous);
        assert_eq!(ok.session_key, [0; 16]);

        let mut run = start();
        let c = client_auth(&run.challenge, "alice", "", "correct horse");
        let mut m = AuthenticateMessage::decode(&c.message).unwrap();
        m.nt_response.truncate(24);
        m.mic = None;
        assert_eq!(
            run.acceptor.authenticate(&m.encode(), users),
            Err(AuthError::NtlmV1Refused)
        );
        let mut run = start();
        m.nt_response.clear();
        assert_eq!(
            run.acceptor.authenticate(&m.encode(), users),
            Err(AuthError::NtlmV1Refused)
        );

        let mut a = Acceptor::new([0; 8], 0, names());
        assert_eq!(
            a.authenticate(&c.message, users),
            Err(AuthError::OutOfOrder)
        );
        assert!(matches!(
            a.challenge(b"NTLMSSP\0\x03\0\0\0"),
            Err(AuthError::Malformed(_))
        ));
    }

    /// Goal: a NEGOTIATE without UNICODE but with OEM gets OEM strings; flags the client did
    /// not ask for (SEAL, KEY_EXCH) are not offered.
    #[test]
    fn challenge_flags_follow_the_client() {
        let neg = NegotiateMessage {
            flags: NegotiateFlags::OEM | NegotiateFlags::NTLM | NegotiateFlags::SIGN,
            domain: Vec::new(),
            workstation: Vec::new(),
            version: None,
        }
        .encode();
        let mut a = Acceptor::new([1; 8], 0, names());
        let ch = ChallengeMessage::decode(&a.challenge(&neg).unwrap()).unwrap();
        assert!(
            ch.flags
                .contains(NegotiateFlags::OEM | NegotiateFlags::SIGN)
        );
        assert!(!ch.flags.contains(NegotiateFlags::UNICODE));
        assert!(!ch.flags.contains(NegotiateFlags::SEAL));
        assert!(!ch.flags.contains(NegotiateFlags::KEY_EXCH));
        assert_eq!(ch.target_name, b"WORKGROUP");
        assert_eq!(ch.version, None);
    }

    /// Goal: a NEGOTIATE as Windows sends it (flags 0xe2088297, version 10.0.19041, empty
    /// payload at offset 40) decodes.
    #[test]
    fn windows_negotiate_layout() {
        let b = h(
            "4e544c4d53535000 01000000 978208e2 0000000028000000 0000000028000000
                   0a00614a0000000f",
        );
        let n = NegotiateMessage::decode(&b).unwrap();
        assert_eq!(n.flags, NegotiateFlags(0xe208_8297));
        assert_eq!(n.version.map(|v| (v.major, v.build)), Some((10, 19041)));
        assert!(n.domain.is_empty());
        assert_eq!(NegotiateMessage::decode(&n.encode()).unwrap(), n);
    }

    /// Goal: offsets into the fixed part, out of range, or over a limit are refused.
    #[test]
    fn bad_offsets_are_refused() {
        let mut b = spec_authenticate();
        b[16..20].copy_from_slice(&12u32.to_le_bytes()); // LM response inside the header
        assert!(AuthenticateMessage::decode(&b).is_err());
        let mut b = spec_authenticate();
        b[24..28].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        assert!(AuthenticateMessage::decode(&b).is_err());
        let mut b = spec_authenticate();
        b[12..14].copy_from_slice(&100u16.to_le_bytes()); // LM response longer than 24
        assert!(matches!(
            AuthenticateMessage::decode(&b),
            Err(DecodeError::TooLong { .. })
        ));
        assert!(AvPairs::decode(&h("0200040041004200")).is_err(), "no EOL");
        assert!(
            AvPairs::decode(&h("00000100ff")).is_err(),
            "EOL with a value"
        );
    }

    fn arb_flags() -> impl Strategy<Value = NegotiateFlags> {
        any::<u32>().prop_map(NegotiateFlags)
    }

    fn arb_version() -> impl Strategy<Value = Option<Version>> {
        proptest::option::of(
            (any::<u8>(), any::<u8>(), any::<u16>(), any::<u8>()).prop_map(
                |(major, minor, build, revision)| Version {
                    major,
                    minor,
                    build,
                    revision,
                },
            ),
        )
    }

    proptest! {
        /// Goal: NEGOTIATE round-trips through encode/decode.
        #[test]
        fn negotiate_round_trips(
            flags in arb_flags(),
            domain in vec(any::<u8>(), 0..20),
            workstation in vec(any::<u8>(), 0..20),
            version in arb_version(),
        ) {
            let m = NegotiateMessage { flags, domain, workstation, version };
            prop_assert_eq!(NegotiateMessage::decode(&m.encode()).unwrap(), m);
        }

        /// Goal: CHALLENGE round-trips, AV pairs included.
        #[test]
        fn challenge_round_trips(
            flags in arb_flags(),
            target_name in vec(any::<u8>(), 0..20),
            server_challenge in any::<[u8; 8]>(),
            pairs in vec((1u16..20, vec(any::<u8>(), 0..12)), 0..6),
            version in arb_version(),
        ) {
            let target_info = AvPairs(pairs.into_iter().map(|(id, value)| AvPair { id: AvId(id), value }).collect());
            let m = ChallengeMessage { flags, target_name, server_challenge, target_info, version };
            prop_assert_eq!(ChallengeMessage::decode(&m.encode()).unwrap(), m);
        }

        /// Goal: AUTHENTICATE round-trips in Unicode, with and without Version and MIC.
        #[test]
        fn authenticate_round_trips(
            flags in arb_flags(),
            lm in vec(any::<u8>(), 0..=24),
            nt in vec(any::<u8>(), 0..100),
            domain in "[a-zA-Zé😀]{0,8}",
            user in "[a-zA-Z@.]{0,8}",
            workstation in "[A-Z0-9]{0,8}",
            key in proptest::option::of(any::<[u8; 16]>()),
            version in arb_version(),
            mic in proptest::option::of(any::<[u8; 16]>()),
        ) {
            let flags = flags.with(NegotiateFlags::UNICODE);
            let m = AuthenticateMessage {
                flags, lm_response: lm, nt_response: nt, domain, user, workstation,
                encrypted_random_session_key: key.map(|k| k.to_vec()).unwrap_or_default(),
                version: version.or(mic.map(|_| Version { major: 0, minor: 0, build: 0, revision: 0 })),
                mic,
            };
            prop_assert_eq!(AuthenticateMessage::decode(&m.encode()).unwrap(), m);
        }

        /// Goal: no input panics a decoder or the acceptor.
        #[test]
        fn garbage_never_panics(data in vec(any::<u8>(), 0..300)) {
            let _ = NegotiateMessage::decode(&data);
            let _ = ChallengeMessage::decode(&data);
            let _ = AuthenticateMessage::decode(&data);
            let _ = NtlmV2Response::decode(&data);
            let _ = AvPairs::decode(&data);
            let mut run = start();
            let _ = run.acceptor.authenticate(&data, users);
            let mut a = Acceptor::new([0; 8], 0, names());
            let _ = a.challenge(&data);
        }

        /// Goal: garbage after a valid header (signature and type) never panics either.
        #[test]
        fn garbage_after_header_never_panics(kind in 1u32..4, data in vec(any::<u8>(), 0..200)) {
            let mut b = SIGNATURE.to_vec();
            b.extend_from_slice(&kind.to_le_bytes());
            b.extend_from_slice(&data);
            let _ = NegotiateMessage::decode(&b);
            let _ = ChallengeMessage::decode(&b);
            let _ = AuthenticateMessage::decode(&b);
            let mut run = start();
            let _ = run.acceptor.authenticate(&b, users);
        }
    }
}
