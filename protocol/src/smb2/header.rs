//! The SMB2 packet header ([MS-SMB2] 2.2.1) in its synchronous (2.2.1.2) and asynchronous
//! (2.2.1.1) forms, the command codes, the header flags, and the ERROR response body (2.2.2)
//! that any command may answer with.
//!
//! Also the two small macros the smb2 modules use for sets a peer can extend: `open_set`
//! (enumerations whose unknown values round-trip) and `flag_set` (bit masks).

use std::ops::Range;

use super::le::{Reader, Writer};
use super::status::NtStatus;
use crate::wire::DecodeError;

/// Declares a newtype over an integer for an enumeration the spec lists but a peer may extend
/// (STYLE §3): one associated const per listed value, `name()` giving the spec's spelling, and
/// a `Debug` that prints that name or the raw value.
macro_rules! open_set {
    (
        $(#[$meta:meta])*
        $name:ident($int:ty) {
            $($(#[doc = $doc:literal])* $konst:ident = $value:literal, $spec:literal;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub $int);

        impl $name {
            $(
                $(#[doc = $doc])*
                #[doc(alias = $spec)]
                pub const $konst: Self = Self($value);
            )*

            /// The spec's name for this value, or `None` for a value the spec does not list.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($value => Some($spec),)*
                    _ => None,
                }
            }

            /// Whether the value is one the spec lists.
            pub const fn is_known(self) -> bool {
                self.name().is_some()
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                match self.name() {
                    Some(name) => f.write_str(name),
                    None => write!(f, "{}({:#x})", stringify!($name), self.0),
                }
            }
        }
    };
}
pub(crate) use open_set;

/// Declares a newtype over an integer for a bit mask: one associated const per flag, set
/// operations, and a `Debug` in hex. Undefined bits are kept, so masks round-trip.
macro_rules! flag_set {
    (
        $(#[$meta:meta])*
        $name:ident($int:ty) {
            $($(#[doc = $doc:literal])* $konst:ident = $value:literal, $spec:literal;)*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name(pub $int);

        impl $name {
            $(
                $(#[doc = $doc])*
                #[doc(alias = $spec)]
                pub const $konst: Self = Self($value);
            )*

            /// No flag set.
            pub const EMPTY: Self = Self(0);

            /// Whether every bit of `other` is set in `self`.
            pub const fn contains(self, other: Self) -> bool {
                self.0 & other.0 == other.0
            }

            /// Whether any bit of `other` is set in `self`.
            pub const fn intersects(self, other: Self) -> bool {
                self.0 & other.0 != 0
            }

            /// `self` with the bits of `other` cleared.
            pub const fn without(self, other: Self) -> Self {
                Self(self.0 & !other.0)
            }

            /// No bit set.
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }
        }

        impl ::core::ops::BitOr for $name {
            type Output = Self;
            fn bitor(self, rhs: Self) -> Self {
                Self(self.0 | rhs.0)
            }
        }

        impl ::core::ops::BitOrAssign for $name {
            fn bitor_assign(&mut self, rhs: Self) {
                self.0 |= rhs.0;
            }
        }

        impl ::core::ops::BitAnd for $name {
            type Output = Self;
            fn bitand(self, rhs: Self) -> Self {
                Self(self.0 & rhs.0)
            }
        }

        impl ::core::fmt::Debug for $name {
            fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                write!(f, "{}({:#x})", stringify!($name), self.0)
            }
        }
    };
}
pub(crate) use flag_set;

/// The length of the SMB2 header, synchronous or asynchronous ([MS-SMB2] 2.2.1).
pub const HEADER_LEN: usize = 64;

/// The ProtocolId of an SMB2 message: 0xFE 'S' 'M' 'B' ([MS-SMB2] 2.2.1).
pub const PROTOCOL_ID: [u8; 4] = [0xFE, b'S', b'M', b'B'];

/// Where the Flags field lies in the header, for code that patches or peeks at it.
pub const FLAGS_RANGE: Range<usize> = 16..20;
/// Where NextCommand lies in the header ([`super::compound`] patches it).
pub const NEXT_COMMAND_RANGE: Range<usize> = 20..24;
/// Where the 16-byte Signature lies in the header (signing zeroes and fills it).
pub const SIGNATURE_RANGE: Range<usize> = 48..64;

open_set! {
    /// The Command field ([MS-SMB2] 2.2.1), in the spec's order. A request with a code not
    /// listed here makes the server disconnect without a reply ([MS-SMB2] 3.3.5.2.6); check
    /// with `is_known()`.
    #[doc(alias = "SMB2_COMMAND")]
    Command(u16) {
        /// 2.2.3 / 2.2.4.
        NEGOTIATE = 0x0000, "SMB2 NEGOTIATE";
        /// 2.2.5 / 2.2.6.
        SESSION_SETUP = 0x0001, "SMB2 SESSION_SETUP";
        /// 2.2.7 / 2.2.8.
        LOGOFF = 0x0002, "SMB2 LOGOFF";
        /// 2.2.9 / 2.2.10.
        TREE_CONNECT = 0x0003, "SMB2 TREE_CONNECT";
        /// 2.2.11 / 2.2.12.
        TREE_DISCONNECT = 0x0004, "SMB2 TREE_DISCONNECT";
        /// 2.2.13 / 2.2.14.
        CREATE = 0x0005, "SMB2 CREATE";
        /// 2.2.15 / 2.2.16.
        CLOSE = 0x0006, "SMB2 CLOSE";
        /// 2.2.17 / 2.2.18.
        FLUSH = 0x0007, "SMB2 FLUSH";
        /// 2.2.19 / 2.2.20.
        READ = 0x0008, "SMB2 READ";
        /// 2.2.21 / 2.2.22.
        WRITE = 0x0009, "SMB2 WRITE";
        /// 2.2.26 / 2.2.27.
        LOCK = 0x000A, "SMB2 LOCK";
        /// 2.2.31 / 2.2.32.
        IOCTL = 0x000B, "SMB2 IOCTL";
        /// 2.2.30 (no response).
        CANCEL = 0x000C, "SMB2 CANCEL";
        /// 2.2.28 / 2.2.29.
        ECHO = 0x000D, "SMB2 ECHO";
        /// 2.2.33 / 2.2.34.
        QUERY_DIRECTORY = 0x000E, "SMB2 QUERY_DIRECTORY";
        /// 2.2.35 / 2.2.36.
        CHANGE_NOTIFY = 0x000F, "SMB2 CHANGE_NOTIFY";
        /// 2.2.37 / 2.2.38.
        QUERY_INFO = 0x0010, "SMB2 QUERY_INFO";
        /// 2.2.39 / 2.2.40.
        SET_INFO = 0x0011, "SMB2 SET_INFO";
        /// 2.2.23 – 2.2.25 (break notifications, acknowledgments and responses).
        OPLOCK_BREAK = 0x0012, "SMB2 OPLOCK_BREAK";
    }
}

flag_set! {
    /// The header's Flags field ([MS-SMB2] 2.2.1.1).
    HeaderFlags(u32) {
        /// The message is a response.
        SERVER_TO_REDIR = 0x0000_0001, "SMB2_FLAGS_SERVER_TO_REDIR";
        /// The header is the asynchronous form (AsyncId instead of Reserved and TreeId).
        ASYNC_COMMAND = 0x0000_0002, "SMB2_FLAGS_ASYNC_COMMAND";
        /// The request is a related operation in a compound chain.
        RELATED_OPERATIONS = 0x0000_0004, "SMB2_FLAGS_RELATED_OPERATIONS";
        /// The message is signed.
        SIGNED = 0x0000_0008, "SMB2_FLAGS_SIGNED";
        /// The 3.1.1 priority value (bits 4-6).
        PRIORITY_MASK = 0x0000_0070, "SMB2_FLAGS_PRIORITY_MASK";
        /// The request is a DFS operation.
        DFS_OPERATIONS = 0x1000_0000, "SMB2_FLAGS_DFS_OPERATIONS";
        /// The request is a replay (3.x).
        REPLAY_OPERATION = 0x2000_0000, "SMB2_FLAGS_REPLAY_OPERATION";
    }
}

/// The MessageId of a request and of its response ([MS-SMB2] 2.2.1).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct MessageId(pub u64);

impl MessageId {
    /// 0xFFFFFFFFFFFFFFFF: the id of an unsolicited OPLOCK_BREAK notification.
    pub const UNSOLICITED: Self = Self(u64::MAX);
}

/// A SessionId ([MS-SMB2] 2.2.1); 0 means none.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct SessionId(pub u64);

/// A TreeId ([MS-SMB2] 2.2.1.2); 0 means none.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct TreeId(pub u32);

/// An AsyncId ([MS-SMB2] 2.2.1.1): names an operation the server answered with STATUS_PENDING.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct AsyncId(pub u64);

/// The 8 bytes at offset 32 of the header: AsyncId in the asynchronous form, Reserved and
/// TreeId in the synchronous one. Which form applies is the ASYNC_COMMAND flag.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HeaderId {
    /// [MS-SMB2] 2.2.1.2.
    Sync {
        /// Reserved (the client's process id in older clients; the server copies it back).
        reserved: u32,
        /// The tree the request is for.
        tree_id: TreeId,
    },
    /// [MS-SMB2] 2.2.1.1.
    Async {
        /// The operation's AsyncId.
        async_id: AsyncId,
    },
}

/// The SMB2 packet header ([MS-SMB2] 2.2.1). ProtocolId and StructureSize are implied; the
/// ASYNC_COMMAND bit of [`Header::flags`] follows [`Header::id`] when encoding (the encoder sets
/// or clears it), so the two cannot disagree on the wire.
#[doc(alias = "SMB2 Packet Header")]
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Header {
    /// CreditCharge: credits the request consumes (0 in 2.0.2).
    pub credit_charge: u16,
    /// Status in responses. In 3.x requests the low 16 bits are ChannelSequence and the high
    /// 16 bits Reserved; see [`Header::channel_sequence`].
    pub status: NtStatus,
    /// The command.
    pub command: Command,
    /// CreditRequest in requests, CreditResponse in responses.
    pub credits: u16,
    /// Flags.
    pub flags: HeaderFlags,
    /// Offset from this header to the next message of a compound, 8-byte aligned, or 0.
    pub next_command: u32,
    /// MessageId.
    pub message_id: MessageId,
    /// AsyncId, or Reserved and TreeId.
    pub id: HeaderId,
    /// SessionId.
    pub session_id: SessionId,
    /// Signature (zero when the message is not signed).
    pub signature: [u8; 16],
}

impl Header {
    /// A synchronous request header for `command` with every other field zero except one
    /// credit requested (for clients and tests).
    pub const fn new(command: Command) -> Self {
        Self {
            credit_charge: 0,
            status: NtStatus::SUCCESS,
            command,
            credits: 1,
            flags: HeaderFlags::EMPTY,
            next_command: 0,
            message_id: MessageId(0),
            id: HeaderId::Sync {
                reserved: 0,
                tree_id: TreeId(0),
            },
            session_id: SessionId(0),
            signature: [0; 16],
        }
    }

    /// Reads the header at the start of `msg` (one message: a compound element). Checks the
    /// ProtocolId and StructureSize; the body after the header is not looked at.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(msg);
        let protocol = r.array::<4>("ProtocolId")?;
        if protocol != PROTOCOL_ID {
            return Err(DecodeError::InvalidValue {
                field: "ProtocolId",
                value: u64::from(u32::from_le_bytes(protocol)),
            });
        }
        expect_structure_size(&mut r, 64)?;
        let credit_charge = r.u16("CreditCharge")?;
        let status = NtStatus(r.u32("Status")?);
        let command = Command(r.u16("Command")?);
        let credits = r.u16("CreditRequest")?;
        let flags = HeaderFlags(r.u32("Flags")?);
        let next_command = r.u32("NextCommand")?;
        let message_id = MessageId(r.u64("MessageId")?);
        let id = if flags.contains(HeaderFlags::ASYNC_COMMAND) {
            HeaderId::Async {
                async_id: AsyncId(r.u64("AsyncId")?),
            }
        } else {
            HeaderId::Sync {
                reserved: r.u32("Reserved")?,
                tree_id: TreeId(r.u32("TreeId")?),
            }
        };
        let session_id = SessionId(r.u64("SessionId")?);
        let signature = r.array("Signature")?;
        Ok(Self {
            credit_charge,
            status,
            command,
            credits,
            flags,
            next_command,
            message_id,
            id,
            session_id,
            signature,
        })
    }

    /// Appends the 64-byte header to `w` (normally an empty writer: offsets in the body are
    /// from the header start).
    pub fn encode(&self, w: &mut Writer) {
        w.bytes(&self.to_bytes());
    }

    /// The 64-byte header.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        let flags = match self.id {
            HeaderId::Sync { .. } => self.flags.without(HeaderFlags::ASYNC_COMMAND),
            HeaderId::Async { .. } => self.flags | HeaderFlags::ASYNC_COMMAND,
        };
        out[0..4].copy_from_slice(&PROTOCOL_ID);
        out[4..6].copy_from_slice(&64u16.to_le_bytes());
        out[6..8].copy_from_slice(&self.credit_charge.to_le_bytes());
        out[8..12].copy_from_slice(&self.status.0.to_le_bytes());
        out[12..14].copy_from_slice(&self.command.0.to_le_bytes());
        out[14..16].copy_from_slice(&self.credits.to_le_bytes());
        out[16..20].copy_from_slice(&flags.0.to_le_bytes());
        out[20..24].copy_from_slice(&self.next_command.to_le_bytes());
        out[24..32].copy_from_slice(&self.message_id.0.to_le_bytes());
        match self.id {
            HeaderId::Sync { reserved, tree_id } => {
                out[32..36].copy_from_slice(&reserved.to_le_bytes());
                out[36..40].copy_from_slice(&tree_id.0.to_le_bytes());
            }
            HeaderId::Async { async_id } => {
                out[32..40].copy_from_slice(&async_id.0.to_le_bytes());
            }
        }
        out[40..48].copy_from_slice(&self.session_id.0.to_le_bytes());
        out[48..64].copy_from_slice(&self.signature);
        out
    }

    /// The header of the response to the request whose header is `self` ([MS-SMB2]
    /// 3.3.4.1): same command, MessageId, CreditCharge, SessionId and TreeId (or AsyncId);
    /// SERVER_TO_REDIR set, RELATED_OPERATIONS kept (3.3.4.1.3: responses to related requests
    /// carry it), every other flag clear (signing sets SIGNED when it fills the signature);
    /// NextCommand 0 (the compound builder sets it); `status` and `credits` granted as given.
    pub fn response(&self, status: NtStatus, credits: u16) -> Self {
        Self {
            credit_charge: self.credit_charge,
            status,
            command: self.command,
            credits,
            flags: HeaderFlags::SERVER_TO_REDIR
                | (self.flags & HeaderFlags::RELATED_OPERATIONS)
                | (self.flags & HeaderFlags::ASYNC_COMMAND),
            next_command: 0,
            message_id: self.message_id,
            id: self.id,
            session_id: self.session_id,
            signature: [0; 16],
        }
    }

    /// This header in the asynchronous form with `async_id` (an interim STATUS_PENDING
    /// response and the final response that follows it, [MS-SMB2] 3.3.4.2).
    pub const fn with_async_id(mut self, async_id: AsyncId) -> Self {
        self.id = HeaderId::Async { async_id };
        self.flags = HeaderFlags(self.flags.0 | HeaderFlags::ASYNC_COMMAND.0);
        self
    }

    /// SERVER_TO_REDIR: the message is a response.
    pub const fn is_response(&self) -> bool {
        self.flags.contains(HeaderFlags::SERVER_TO_REDIR)
    }

    /// The header is in the asynchronous form.
    pub const fn is_async(&self) -> bool {
        matches!(self.id, HeaderId::Async { .. })
    }

    /// RELATED_OPERATIONS: a related element of a compound.
    pub const fn is_related(&self) -> bool {
        self.flags.contains(HeaderFlags::RELATED_OPERATIONS)
    }

    /// SIGNED.
    pub const fn is_signed(&self) -> bool {
        self.flags.contains(HeaderFlags::SIGNED)
    }

    /// The TreeId of a synchronous header.
    pub const fn tree_id(&self) -> Option<TreeId> {
        match self.id {
            HeaderId::Sync { tree_id, .. } => Some(tree_id),
            HeaderId::Async { .. } => None,
        }
    }

    /// The AsyncId of an asynchronous header.
    pub const fn async_id(&self) -> Option<AsyncId> {
        match self.id {
            HeaderId::Async { async_id } => Some(async_id),
            HeaderId::Sync { .. } => None,
        }
    }

    /// ChannelSequence: the low 16 bits of the Status field in a 3.x request ([MS-SMB2]
    /// 2.2.1.2).
    pub const fn channel_sequence(&self) -> u16 {
        (self.status.0 & 0xFFFF) as u16
    }

    /// The 3.1.1 priority (0-7) from the PRIORITY_MASK bits.
    pub const fn priority(&self) -> u8 {
        ((self.flags.0 & HeaderFlags::PRIORITY_MASK.0) >> 4) as u8
    }
}

/// Reads a StructureSize and checks it is `want`: every SMB2 body starts with one, and a
/// different value makes the request malformed ([MS-SMB2] 3.3.5.2.6).
pub(crate) fn expect_structure_size(r: &mut Reader<'_>, want: u16) -> Result<(), DecodeError> {
    let got = r.u16("StructureSize")?;
    if got == want {
        Ok(())
    } else {
        Err(DecodeError::InvalidValue {
            field: "StructureSize",
            value: u64::from(got),
        })
    }
}

/// A reader over `msg` positioned at the body, after the header, which must be complete.
pub(crate) fn body_reader(msg: &[u8]) -> Result<Reader<'_>, DecodeError> {
    if msg.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            field: "SMB2 header",
        });
    }
    Ok(Reader::at(msg, HEADER_LEN))
}

/// Reads a body that is StructureSize 4 and a reserved word (LOGOFF, TREE_DISCONNECT, ECHO,
/// CANCEL: [MS-SMB2] 2.2.7, 2.2.8, 2.2.11, 2.2.12, 2.2.28 - 2.2.30). Reserved is ignored.
pub(crate) fn decode_empty_body(msg: &[u8]) -> Result<(), DecodeError> {
    let mut r = body_reader(msg)?;
    expect_structure_size(&mut r, 4)?;
    r.skip(2, "Reserved")
}

/// Converts an offset or length this side produced to a 16-bit wire field. Bodies we encode
/// are bounded well below 64 KiB wherever a 16-bit field describes them, so saturation never
/// happens in practice; if it did, the peer would reject the message as malformed rather than
/// we panicking.
pub(crate) fn u16_len(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// As [`u16_len`], for 32-bit fields.
pub(crate) fn u32_len(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The SMB2 ERROR response body ([MS-SMB2] 2.2.2), sent for any command that failed. Its
/// StructureSize is 9 whatever the data: with ByteCount 0 the body still carries one byte of
/// ErrorData (zero), as Windows and Samba send it.
#[doc(alias = "SMB2 ERROR Response")]
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct ErrorResponse<'a> {
    /// ErrorContextCount: the number of error contexts in `error_data` (3.1.1), else 0.
    pub error_context_count: u8,
    /// ErrorData: ByteCount bytes (error contexts in 3.1.1, or a command-specific structure
    /// such as the symbolic-link error response, 2.2.2.2).
    pub error_data: &'a [u8],
}

impl<'a> ErrorResponse<'a> {
    /// The plain error body: no contexts, no data.
    pub const EMPTY: ErrorResponse<'static> = ErrorResponse {
        error_context_count: 0,
        error_data: &[],
    };

    /// Reads the body of `msg` (a whole message, header included). A ByteCount of 0 may be
    /// followed by the one pad byte or by nothing.
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = body_reader(msg)?;
        expect_structure_size(&mut r, 9)?;
        let error_context_count = r.u8("ErrorContextCount")?;
        r.skip(1, "Reserved")?;
        let byte_count = r.u32("ByteCount")? as usize;
        let error_data = r.bytes(byte_count, "ErrorData")?;
        Ok(Self {
            error_context_count,
            error_data,
        })
    }

    /// Appends the body to `w`.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(9);
        w.u8(self.error_context_count);
        w.u8(0);
        w.u32(u32_len(self.error_data.len()));
        if self.error_data.is_empty() {
            w.u8(0);
        } else {
            w.bytes(self.error_data);
        }
    }

    /// The 3.1.1 error contexts ([MS-SMB2] 2.2.2.1) in `error_data`: ErrorContextCount
    /// structures, each ErrorDataLength, ErrorId and data, the next one 8-byte aligned from
    /// the start of ErrorData. At most 8 are read (the spec defines two ErrorIds).
    pub fn contexts(&self) -> Result<Vec<ErrorContext<'a>>, DecodeError> {
        const ERROR_CONTEXTS_MAX: usize = 8;
        let count = usize::from(self.error_context_count);
        if count > ERROR_CONTEXTS_MAX {
            return Err(DecodeError::TooLong {
                field: "ErrorContextCount",
                len: count as u64,
                max: ERROR_CONTEXTS_MAX as u64,
            });
        }
        let mut r = Reader::new(self.error_data);
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            if i > 0 {
                let pad = r.pos().next_multiple_of(8) - r.pos();
                r.skip(pad, "ErrorContext padding")?;
            }
            let len = r.u32("ErrorDataLength")? as usize;
            let error_id = r.u32("ErrorId")?;
            let data = r.bytes(len, "ErrorContextData")?;
            out.push(ErrorContext { error_id, data });
        }
        Ok(out)
    }
}

/// One SMB2 ERROR Context ([MS-SMB2] 2.2.2.1), as carried in a 3.1.1 ERROR response.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ErrorContext<'a> {
    /// ErrorId: [`ErrorContext::DEFAULT`] or [`ErrorContext::SHARE_REDIRECT`].
    pub error_id: u32,
    /// ErrorContextData.
    pub data: &'a [u8],
}

impl ErrorContext<'_> {
    /// SMB2_ERROR_ID_DEFAULT: the data is what a pre-3.1.1 ERROR response would carry.
    pub const DEFAULT: u32 = 0;
    /// SMB2_ERROR_ID_SHARE_REDIRECT ("SRdr").
    pub const SHARE_REDIRECT: u32 = 0x7264_5253;

    /// Encodes `contexts` as ErrorData (each after the first 8-byte aligned from the start of
    /// ErrorData); pair it with ErrorContextCount = `contexts.len()`.
    pub fn encode_all(contexts: &[ErrorContext<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for (i, c) in contexts.iter().enumerate() {
            if i > 0 {
                out.resize(out.len().next_multiple_of(8), 0);
            }
            out.extend_from_slice(&u32_len(c.data.len()).to_le_bytes());
            out.extend_from_slice(&c.error_id.to_le_bytes());
            out.extend_from_slice(c.data);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Goal: a synchronous request header laid out by hand from [MS-SMB2] 2.2.1.2 decodes
    /// field by field and re-encodes to the same bytes.
    #[test]
    fn sync_header_layout() {
        let bytes = hex::decode(concat!(
            "fe534d42",
            "4000",
            "0100",
            "05000000",
            "0300",
            "1f00",
            "0c000000",
            "00000000",
            "0700000000000000",
            "fffe0000",
            "01000000",
            "1100000000002000",
            "00000000000000000000000000000000"
        ))
        .unwrap();
        let h = Header::decode(&bytes).unwrap();
        assert_eq!(h.command, Command::TREE_CONNECT);
        assert_eq!(h.credit_charge, 1);
        assert_eq!(h.channel_sequence(), 5);
        assert_eq!(h.credits, 31);
        assert!(h.is_related() && h.is_signed() && !h.is_response() && !h.is_async());
        assert_eq!(h.message_id, MessageId(7));
        assert_eq!(h.tree_id(), Some(TreeId(1)));
        assert_eq!(
            h.id,
            HeaderId::Sync {
                reserved: 0xfeff,
                tree_id: TreeId(1)
            }
        );
        assert_eq!(h.session_id, SessionId(0x0020_0000_0000_0011));
        assert_eq!(h.to_bytes().as_slice(), bytes.as_slice());
    }

    /// Goal: the asynchronous form reads AsyncId at offset 32; the response helper keeps it.
    #[test]
    fn async_header_and_response() {
        let mut req = Header::new(Command::CHANGE_NOTIFY);
        req.message_id = MessageId(9);
        req.flags = HeaderFlags::RELATED_OPERATIONS | HeaderFlags::SIGNED;
        req.session_id = SessionId(77);
        let resp = req
            .response(NtStatus::PENDING, 3)
            .with_async_id(AsyncId(0x1122));
        let bytes = resp.to_bytes();
        assert_eq!(&bytes[32..40], &0x1122u64.to_le_bytes());
        assert_eq!(u32::from_le_bytes(bytes[16..20].try_into().unwrap()), 0b111);
        let back = Header::decode(&bytes).unwrap();
        assert_eq!(back, resp);
        assert!(back.is_response() && back.is_async() && !back.is_signed());
        assert_eq!(back.async_id(), Some(AsyncId(0x1122)));
        assert_eq!(back.status, NtStatus::PENDING);
        assert_eq!(back.credits, 3);
    }

    /// Goal: wrong protocol ids, structure sizes and short inputs are refused.
    #[test]
    fn header_rejects() {
        let good = Header::new(Command::ECHO).to_bytes();
        assert!(Header::decode(&good[..63]).is_err());
        let mut bad = good;
        bad[0] = 0xFF;
        assert!(Header::decode(&bad).is_err());
        let mut bad = good;
        bad[4] = 65;
        assert!(Header::decode(&bad).is_err());
        assert!(Command(0x13).name().is_none());
        assert_eq!(format!("{:?}", Command::OPLOCK_BREAK), "SMB2 OPLOCK_BREAK");
    }

    /// Goal: the ERROR body with ByteCount 0 is 9 bytes (the pad byte), as [MS-SMB2] 2.2.2
    /// requires, and decodes with or without that byte; with data it carries exactly the data.
    #[test]
    fn error_response_layout() {
        let mut w = Writer::new();
        Header::new(Command::CREATE).encode(&mut w);
        ErrorResponse::EMPTY.encode(&mut w);
        assert_eq!(&w.as_slice()[64..], &[9, 0, 0, 0, 0, 0, 0, 0, 0]);
        let msg = w.into_inner();
        assert_eq!(ErrorResponse::decode(&msg), Ok(ErrorResponse::EMPTY));
        assert_eq!(ErrorResponse::decode(&msg[..72]), Ok(ErrorResponse::EMPTY));
        let e = ErrorResponse {
            error_context_count: 1,
            error_data: &[1, 2, 3, 4, 5, 6, 7, 8],
        };
        let mut w = Writer::new();
        Header::new(Command::CREATE).encode(&mut w);
        e.encode(&mut w);
        assert_eq!(w.len(), 64 + 8 + 8);
        assert_eq!(ErrorResponse::decode(w.as_slice()), Ok(e));
        let mut short = w.into_inner();
        short[68] = 9;
        assert!(ErrorResponse::decode(&short).is_err());
    }

    /// Goal: 3.1.1 error contexts ([MS-SMB2] 2.2.2.1) laid out by hand parse, the second one
    /// at the 8-byte boundary, and encode back to the same bytes.
    #[test]
    fn error_contexts() {
        let data = hex::decode(concat!(
            "03000000", "00000000", "aabbcc", "00000000", "00", // 11 bytes, pad to 16
            "02000000", "53526472", "0102",
        ))
        .unwrap();
        let e = ErrorResponse {
            error_context_count: 2,
            error_data: &data,
        };
        let want = vec![
            ErrorContext {
                error_id: ErrorContext::DEFAULT,
                data: &[0xaa, 0xbb, 0xcc],
            },
            ErrorContext {
                error_id: ErrorContext::SHARE_REDIRECT,
                data: &[1, 2],
            },
        ];
        assert_eq!(e.contexts(), Ok(want.clone()));
        assert_eq!(ErrorContext::encode_all(&want), data);
        let short = ErrorResponse {
            error_context_count: 3,
            error_data: &data,
        };
        assert!(short.contexts().is_err());
    }

    fn any_header() -> impl Strategy<Value = Header> {
        (
            any::<(u16, u32, u16, u16, u32, u32, u64)>(),
            prop_oneof![
                any::<(u32, u32)>().prop_map(|(reserved, t)| HeaderId::Sync {
                    reserved,
                    tree_id: TreeId(t)
                }),
                any::<u64>().prop_map(|a| HeaderId::Async {
                    async_id: AsyncId(a)
                }),
            ],
            any::<(u64, [u8; 16])>(),
        )
            .prop_map(|((cc, st, cmd, cr, fl, nc, mid), id, (sid, sig))| {
                let flags = HeaderFlags(fl).without(HeaderFlags::ASYNC_COMMAND);
                let flags = match id {
                    HeaderId::Async { .. } => flags | HeaderFlags::ASYNC_COMMAND,
                    HeaderId::Sync { .. } => flags,
                };
                Header {
                    credit_charge: cc,
                    status: NtStatus(st),
                    command: Command(cmd),
                    credits: cr,
                    flags,
                    next_command: nc,
                    message_id: MessageId(mid),
                    id,
                    session_id: SessionId(sid),
                    signature: sig,
                }
            })
    }

    proptest! {
        /// Goal: every header round-trips, and any 64 bytes that decode re-encode unchanged.
        #[test]
        fn header_round_trip(h in any_header(), raw in proptest::collection::vec(any::<u8>(), 64)) {
            prop_assert_eq!(Header::decode(&h.to_bytes()), Ok(h));
            let mut raw = raw;
            raw[..6].copy_from_slice(&[0xFE, b'S', b'M', b'B', 64, 0]);
            let d = Header::decode(&raw).unwrap();
            prop_assert_eq!(d.to_bytes().to_vec(), raw);
        }

        /// Goal: ERROR bodies round-trip.
        #[test]
        fn error_round_trip(count: u8, data in proptest::collection::vec(any::<u8>(), 0..40)) {
            let e = ErrorResponse { error_context_count: count, error_data: &data };
            let mut w = Writer::new();
            Header::new(Command::READ).encode(&mut w);
            e.encode(&mut w);
            prop_assert_eq!(ErrorResponse::decode(w.as_slice()), Ok(e));
        }
    }
}
