//! Commands on an open file: CLOSE ([MS-SMB2] 2.2.15/16), FLUSH (2.2.17/18), READ
//! (2.2.19/20), WRITE (2.2.21/22), LOCK (2.2.26/27) and OPLOCK_BREAK (2.2.23/24/25: oplock
//! and lease break notifications, acknowledgments and responses).

use super::create::{FileAttributes, LeaseState, OplockLevel};
use super::fileid::{BODY, FileId, body, flag_set, open_set, pad_empty_buffer, structure_size};
use super::le::Writer;
use super::limits;
use crate::wire::DecodeError;

/// The most lock elements one LOCK request may carry. Windows clients send one per request
/// (a few for batched unlocks); Samba caps at 64 K, we cap well below.
pub const LOCKS_MAX: usize = 1024;

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// [MS-SMB2] 2.2.15 SMB2 CLOSE Request.
#[doc(alias = "SMB2_CLOSE_REQUEST")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CloseRequest {
    /// Flags ([`CloseRequest::POSTQUERY_ATTRIB`]).
    pub flags: u16,
    /// The open to close.
    pub file_id: FileId,
}

impl CloseRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 24;
    /// SMB2_CLOSE_FLAG_POSTQUERY_ATTRIB: return the attributes in the response.
    pub const POSTQUERY_ATTRIB: u16 = 0x0001;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "CLOSE.StructureSize")?;
        let flags = r.u16("CLOSE.Flags")?;
        r.skip(4, "CLOSE.Reserved")?;
        let file_id = FileId::decode(&mut r)?;
        Ok(Self { flags, file_id })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(self.flags);
        w.u32(0);
        self.file_id.encode(w);
    }
}

/// [MS-SMB2] 2.2.16 SMB2 CLOSE Response. With POSTQUERY_ATTRIB unset, every attribute is 0.
#[doc(alias = "SMB2_CLOSE_RESPONSE")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct CloseResponse {
    /// Flags (POSTQUERY_ATTRIB when the attributes are valid).
    pub flags: u16,
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime.
    pub last_access_time: u64,
    /// LastWriteTime.
    pub last_write_time: u64,
    /// ChangeTime.
    pub change_time: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// EndofFile.
    pub end_of_file: u64,
    /// FileAttributes.
    pub file_attributes: FileAttributes,
}

impl CloseResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 60;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "CLOSE response.StructureSize")?;
        let flags = r.u16("CLOSE response.Flags")?;
        r.skip(4, "CLOSE response.Reserved")?;
        Ok(Self {
            flags,
            creation_time: r.u64("CLOSE response.CreationTime")?,
            last_access_time: r.u64("CLOSE response.LastAccessTime")?,
            last_write_time: r.u64("CLOSE response.LastWriteTime")?,
            change_time: r.u64("CLOSE response.ChangeTime")?,
            allocation_size: r.u64("CLOSE response.AllocationSize")?,
            end_of_file: r.u64("CLOSE response.EndofFile")?,
            file_attributes: FileAttributes(r.u32("CLOSE response.FileAttributes")?),
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(self.flags);
        w.u32(0);
        w.u64(self.creation_time);
        w.u64(self.last_access_time);
        w.u64(self.last_write_time);
        w.u64(self.change_time);
        w.u64(self.allocation_size);
        w.u64(self.end_of_file);
        w.u32(self.file_attributes.0);
    }
}

/// [MS-SMB2] 2.2.17 SMB2 FLUSH Request.
#[doc(alias = "SMB2_FLUSH_REQUEST")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlushRequest {
    /// The open to flush.
    pub file_id: FileId,
}

impl FlushRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 24;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "FLUSH.StructureSize")?;
        r.skip(6, "FLUSH.Reserved")?;
        Ok(Self {
            file_id: FileId::decode(&mut r)?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(Self::STRUCTURE_SIZE);
        w.zeros(6);
        self.file_id.encode(w);
    }
}

/// The 4-byte body (StructureSize 4, Reserved) shared by [MS-SMB2] 2.2.18 FLUSH, 2.2.27
/// LOCK responses (and ECHO, LOGOFF, TREE_DISCONNECT).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct EmptyResponse;

impl EmptyResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 4;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "StructureSize")?;
        r.skip(2, "Reserved")?;
        Ok(Self)
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(0);
    }
}

/// [MS-SMB2] 2.2.18 SMB2 FLUSH Response.
pub type FlushResponse = EmptyResponse;
/// [MS-SMB2] 2.2.27 SMB2 LOCK Response.
pub type LockResponse = EmptyResponse;

flag_set! {
    /// [MS-SMB2] 2.2.19 READ Flags.
    ReadFlags(u8) {
        /// SMB2_READFLAG_READ_UNBUFFERED (3.0.2+).
        UNBUFFERED = 0x01;
        /// SMB2_READFLAG_REQUEST_COMPRESSED (3.1.1).
        REQUEST_COMPRESSED = 0x02;
    }
}

open_set! {
    /// [MS-SMB2] 2.2.19 Channel (RDMA; we only serve SMB2_CHANNEL_NONE).
    Channel(u32) {
        /// SMB2_CHANNEL_NONE.
        NONE = 0;
        /// SMB2_CHANNEL_RDMA_V1.
        RDMA_V1 = 1;
        /// SMB2_CHANNEL_RDMA_V1_INVALIDATE.
        RDMA_V1_INVALIDATE = 2;
        /// SMB2_CHANNEL_RDMA_TRANSFORM.
        RDMA_TRANSFORM = 3;
    }
}

/// [MS-SMB2] 2.2.19 SMB2 READ Request.
#[doc(alias = "SMB2_READ_REQUEST")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadRequest<'a> {
    /// Padding: the DataOffset the client wants in the response (we always use 0x50).
    pub padding: u8,
    /// Flags.
    pub flags: ReadFlags,
    /// Length to read (≤ [`limits::IO_MAX`]).
    pub length: u32,
    /// Offset in the file.
    pub offset: u64,
    /// The open.
    pub file_id: FileId,
    /// MinimumCount: fewer bytes than this is a failure.
    pub minimum_count: u32,
    /// Channel.
    pub channel: Channel,
    /// RemainingBytes (a hint).
    pub remaining_bytes: u32,
    /// ReadChannelInfo (RDMA descriptors), as sent.
    pub channel_info: &'a [u8],
}

/// Bytes of READ/WRITE channel info we accept (a few RDMA buffer descriptors).
const CHANNEL_INFO_MAX: usize = 1024;

impl<'a> ReadRequest<'a> {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 49;

    /// Decodes the body of `msg`. A Length above [`limits::IO_MAX`] is refused.
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "READ.StructureSize")?;
        let padding = r.u8("READ.Padding")?;
        let flags = ReadFlags(r.u8("READ.Flags")?);
        let length = r.u32("READ.Length")?;
        if length as usize > limits::IO_MAX {
            return Err(DecodeError::TooLong {
                field: "READ.Length",
                len: u64::from(length),
                max: limits::IO_MAX as u64,
            });
        }
        let offset = r.u64("READ.Offset")?;
        let file_id = FileId::decode(&mut r)?;
        let minimum_count = r.u32("READ.MinimumCount")?;
        let channel = Channel(r.u32("READ.Channel")?);
        let remaining_bytes = r.u32("READ.RemainingBytes")?;
        let ci_off = r.u16("READ.ReadChannelInfoOffset")?;
        let ci_len = r.u16("READ.ReadChannelInfoLength")?;
        let channel_info = r.slice_at(
            usize::from(ci_off),
            usize::from(ci_len),
            CHANNEL_INFO_MAX,
            "READ.ReadChannelInfo",
        )?;
        Ok(Self {
            padding,
            flags,
            length,
            offset,
            file_id,
            minimum_count,
            channel,
            remaining_bytes,
            channel_info,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.padding);
        w.u8(self.flags.0);
        w.u32(self.length);
        w.u64(self.offset);
        self.file_id.encode(w);
        w.u32(self.minimum_count);
        w.u32(self.channel.0);
        w.u32(self.remaining_bytes);
        if self.channel_info.is_empty() {
            w.u16(0);
            w.u16(0);
        } else {
            w.u16(u16::try_from(start + 48).unwrap_or(u16::MAX));
            w.u16(u16::try_from(self.channel_info.len()).unwrap_or(u16::MAX));
            w.bytes(self.channel_info);
        }
        pad_empty_buffer(w, start, Self::STRUCTURE_SIZE);
    }
}

/// [MS-SMB2] 2.2.20 SMB2 READ Response. The server writes the fixed part with
/// [`ReadResponse::encode_head`] and appends the data itself (no second copy);
/// [`ReadResponse::encode`] does both for a slice in hand.
#[doc(alias = "SMB2_READ_RESPONSE")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadResponse<'a> {
    /// The data read.
    pub data: &'a [u8],
    /// DataRemaining (RDMA only; 0).
    pub data_remaining: u32,
    /// Flags (SMB2_READFLAG_RESPONSE_RDMA_TRANSFORM = 1).
    pub flags: u32,
}

impl<'a> ReadResponse<'a> {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 17;
    /// Where the data starts from the header: right after the 16-byte fixed part.
    pub const DATA_OFFSET: usize = BODY + 16;

    /// Decodes the body of `msg`, borrowing the data.
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "READ response.StructureSize")?;
        let off = r.u8("READ response.DataOffset")?;
        r.skip(1, "READ response.Reserved")?;
        let len = r.u32("READ response.DataLength")?;
        let data_remaining = r.u32("READ response.DataRemaining")?;
        let flags = r.u32("READ response.Flags")?;
        if len != 0 && usize::from(off) < Self::DATA_OFFSET {
            return Err(DecodeError::InvalidValue {
                field: "READ response.DataOffset",
                value: u64::from(off),
            });
        }
        let data = r.slice_at(
            usize::from(off),
            len as usize,
            limits::IO_MAX,
            "READ response.Data",
        )?;
        Ok(Self {
            data,
            data_remaining,
            flags,
        })
    }

    /// Appends the 16-byte fixed part announcing `data_len` bytes, and returns the offset
    /// where the data must go (`w.len()` afterwards, [`ReadResponse::DATA_OFFSET`] in a
    /// message of its own). The caller appends exactly `data_len` bytes; for `data_len`
    /// 0 it should append the one padding byte StructureSize counts (or call
    /// [`ReadResponse::encode`]).
    pub fn encode_head(w: &mut Writer, data_len: u32, data_remaining: u32, flags: u32) -> usize {
        let data_off = w.len() + 16;
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(u8::try_from(data_off).unwrap_or(u8::MAX));
        w.u8(0);
        w.u32(data_len);
        w.u32(data_remaining);
        w.u32(flags);
        data_off
    }

    /// Appends the whole body, data included.
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        Self::encode_head(w, to_u32(self.data.len()), self.data_remaining, self.flags);
        w.bytes(self.data);
        pad_empty_buffer(w, start, Self::STRUCTURE_SIZE);
    }
}

flag_set! {
    /// [MS-SMB2] 2.2.21 WRITE Flags.
    WriteFlags(u32) {
        /// SMB2_WRITEFLAG_WRITE_THROUGH: stable before replying.
        WRITE_THROUGH = 0x1;
        /// SMB2_WRITEFLAG_WRITE_UNBUFFERED.
        UNBUFFERED = 0x2;
    }
}

/// [MS-SMB2] 2.2.21 SMB2 WRITE Request. The data borrows from the message.
#[doc(alias = "SMB2_WRITE_REQUEST")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteRequest<'a> {
    /// Offset in the file.
    pub offset: u64,
    /// The open.
    pub file_id: FileId,
    /// Channel.
    pub channel: Channel,
    /// RemainingBytes (a hint).
    pub remaining_bytes: u32,
    /// WriteChannelInfo (RDMA), as sent.
    pub channel_info: &'a [u8],
    /// Flags.
    pub flags: WriteFlags,
    /// The data (inside the message, ≤ [`limits::IO_MAX`]).
    pub data: &'a [u8],
}

impl<'a> WriteRequest<'a> {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 49;
    /// Where encoders put the data: right after the 48-byte fixed part.
    pub const DATA_OFFSET: usize = BODY + 48;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "WRITE.StructureSize")?;
        let data_off = r.u16("WRITE.DataOffset")?;
        let len = r.u32("WRITE.Length")?;
        let offset = r.u64("WRITE.Offset")?;
        let file_id = FileId::decode(&mut r)?;
        let channel = Channel(r.u32("WRITE.Channel")?);
        let remaining_bytes = r.u32("WRITE.RemainingBytes")?;
        let ci_off = r.u16("WRITE.WriteChannelInfoOffset")?;
        let ci_len = r.u16("WRITE.WriteChannelInfoLength")?;
        let flags = WriteFlags(r.u32("WRITE.Flags")?);
        if len != 0 && usize::from(data_off) < BODY + 48 {
            return Err(DecodeError::InvalidValue {
                field: "WRITE.DataOffset",
                value: u64::from(data_off),
            });
        }
        let data = r.slice_at(
            usize::from(data_off),
            len as usize,
            limits::IO_MAX,
            "WRITE.Data",
        )?;
        let channel_info = r.slice_at(
            usize::from(ci_off),
            usize::from(ci_len),
            CHANNEL_INFO_MAX,
            "WRITE.WriteChannelInfo",
        )?;
        Ok(Self {
            offset,
            file_id,
            channel,
            remaining_bytes,
            channel_info,
            flags,
            data,
        })
    }

    /// Appends the body: the fixed part, the channel info if any, then the data (at
    /// [`WriteRequest::DATA_OFFSET`] when there is no channel info; offsets stay small
    /// whatever the data length).
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        let ci_len = self.channel_info.len();
        let ci_off = start + 48;
        let data_off = ci_off + ci_len;
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(u16::try_from(data_off).unwrap_or(u16::MAX));
        w.u32(to_u32(self.data.len()));
        w.u64(self.offset);
        self.file_id.encode(w);
        w.u32(self.channel.0);
        w.u32(self.remaining_bytes);
        if ci_len == 0 {
            w.u16(0);
            w.u16(0);
        } else {
            w.u16(u16::try_from(ci_off).unwrap_or(u16::MAX));
            w.u16(u16::try_from(ci_len).unwrap_or(u16::MAX));
        }
        w.u32(self.flags.0);
        w.bytes(self.channel_info);
        w.bytes(self.data);
        pad_empty_buffer(w, start, Self::STRUCTURE_SIZE);
    }
}

/// [MS-SMB2] 2.2.22 SMB2 WRITE Response.
#[doc(alias = "SMB2_WRITE_RESPONSE")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct WriteResponse {
    /// Count of bytes written.
    pub count: u32,
    /// Remaining (reserved, 0).
    pub remaining: u32,
}

impl WriteResponse {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 17;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "WRITE response.StructureSize")?;
        r.skip(2, "WRITE response.Reserved")?;
        let count = r.u32("WRITE response.Count")?;
        let remaining = r.u32("WRITE response.Remaining")?;
        r.skip(4, "WRITE response.WriteChannelInfo")?;
        Ok(Self { count, remaining })
    }

    /// Appends the body (16 bytes and the one padding byte StructureSize counts).
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(0);
        w.u32(self.count);
        w.u32(self.remaining);
        w.u16(0);
        w.u16(0);
        pad_empty_buffer(w, start, Self::STRUCTURE_SIZE);
    }
}

flag_set! {
    /// [MS-SMB2] 2.2.26.1 SMB2_LOCK_ELEMENT Flags.
    LockFlags(u32) {
        /// SMB2_LOCKFLAG_SHARED_LOCK.
        SHARED = 0x01;
        /// SMB2_LOCKFLAG_EXCLUSIVE_LOCK.
        EXCLUSIVE = 0x02;
        /// SMB2_LOCKFLAG_UNLOCK.
        UNLOCK = 0x04;
        /// SMB2_LOCKFLAG_FAIL_IMMEDIATELY.
        FAIL_IMMEDIATELY = 0x10;
    }
}

/// [MS-SMB2] 2.2.26.1 SMB2_LOCK_ELEMENT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LockElement {
    /// First byte of the range.
    pub offset: u64,
    /// Bytes in the range.
    pub length: u64,
    /// Flags (the valid combinations are checked by the server, [MS-SMB2] 3.3.5.14).
    pub flags: LockFlags,
}

/// [MS-SMB2] 2.2.26 SMB2 LOCK Request.
#[doc(alias = "SMB2_LOCK_REQUEST")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LockRequest {
    /// LockSequenceNumber (low 4 bits) and LockSequenceIndex (high 28 bits), as one word.
    pub lock_sequence: u32,
    /// The open.
    pub file_id: FileId,
    /// The locks (1 ..= [`LOCKS_MAX`]).
    pub locks: Vec<LockElement>,
}

impl LockRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 48;

    /// LockSequenceNumber (4 bits).
    pub const fn sequence_number(&self) -> u8 {
        (self.lock_sequence & 0xF) as u8
    }

    /// LockSequenceIndex (28 bits).
    pub const fn sequence_index(&self) -> u32 {
        self.lock_sequence >> 4
    }

    /// Decodes the body of `msg`. LockCount must be 1 ..= [`LOCKS_MAX`] and the elements
    /// inside the message.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "LOCK.StructureSize")?;
        let count = usize::from(r.u16("LOCK.LockCount")?);
        if count == 0 {
            return Err(DecodeError::InvalidValue {
                field: "LOCK.LockCount",
                value: 0,
            });
        }
        if count > LOCKS_MAX {
            return Err(DecodeError::TooLong {
                field: "LOCK.LockCount",
                len: count as u64,
                max: LOCKS_MAX as u64,
            });
        }
        let lock_sequence = r.u32("LOCK.LockSequence")?;
        let file_id = FileId::decode(&mut r)?;
        if r.remaining() < count * 24 {
            return Err(DecodeError::Truncated {
                field: "LOCK.Locks",
            });
        }
        let mut locks = Vec::with_capacity(count);
        for _ in 0..count {
            let offset = r.u64("LOCK_ELEMENT.Offset")?;
            let length = r.u64("LOCK_ELEMENT.Length")?;
            let flags = LockFlags(r.u32("LOCK_ELEMENT.Flags")?);
            r.skip(4, "LOCK_ELEMENT.Reserved")?;
            locks.push(LockElement {
                offset,
                length,
                flags,
            });
        }
        Ok(Self {
            lock_sequence,
            file_id,
            locks,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(u16::try_from(self.locks.len()).unwrap_or(u16::MAX));
        w.u32(self.lock_sequence);
        self.file_id.encode(w);
        for l in &self.locks {
            w.u64(l.offset);
            w.u64(l.length);
            w.u32(l.flags.0);
            w.u32(0);
        }
    }
}

/// [MS-SMB2] 2.2.23.1 / 2.2.24.1 / 2.2.25.1: the oplock break notification, acknowledgment
/// and response share one 24-byte layout.
#[doc(alias = "SMB2_OPLOCK_BREAK")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OplockBreak {
    /// The new oplock level (the level broken to, acknowledged, or granted).
    pub oplock_level: OplockLevel,
    /// The open.
    pub file_id: FileId,
}

impl OplockBreak {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 24;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "OPLOCK_BREAK.StructureSize")?;
        let oplock_level = OplockLevel(r.u8("OPLOCK_BREAK.OplockLevel")?);
        r.skip(5, "OPLOCK_BREAK.Reserved")?;
        Ok(Self {
            oplock_level,
            file_id: FileId::decode(&mut r)?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.oplock_level.0);
        w.zeros(5);
        self.file_id.encode(w);
    }
}

flag_set! {
    /// [MS-SMB2] 2.2.23.2 lease break notification Flags.
    LeaseBreakFlags(u32) {
        /// SMB2_NOTIFY_BREAK_LEASE_FLAG_ACK_REQUIRED.
        ACK_REQUIRED = 0x01;
    }
}

/// [MS-SMB2] 2.2.23.2 Lease Break Notification (server to client).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseBreakNotification {
    /// NewEpoch (v2 leases; 0 otherwise).
    pub new_epoch: u16,
    /// Flags.
    pub flags: LeaseBreakFlags,
    /// LeaseKey.
    pub lease_key: [u8; 16],
    /// CurrentLeaseState.
    pub current_state: LeaseState,
    /// NewLeaseState.
    pub new_state: LeaseState,
    /// BreakReason (reserved, 0).
    pub break_reason: u32,
    /// AccessMaskHint (reserved, 0).
    pub access_mask_hint: u32,
    /// ShareMaskHint (reserved, 0).
    pub share_mask_hint: u32,
}

impl LeaseBreakNotification {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 44;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "LEASE_BREAK.StructureSize")?;
        Ok(Self {
            new_epoch: r.u16("LEASE_BREAK.NewEpoch")?,
            flags: LeaseBreakFlags(r.u32("LEASE_BREAK.Flags")?),
            lease_key: r.guid("LEASE_BREAK.LeaseKey")?,
            current_state: LeaseState(r.u32("LEASE_BREAK.CurrentLeaseState")?),
            new_state: LeaseState(r.u32("LEASE_BREAK.NewLeaseState")?),
            break_reason: r.u32("LEASE_BREAK.BreakReason")?,
            access_mask_hint: r.u32("LEASE_BREAK.AccessMaskHint")?,
            share_mask_hint: r.u32("LEASE_BREAK.ShareMaskHint")?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(self.new_epoch);
        w.u32(self.flags.0);
        w.bytes(&self.lease_key);
        w.u32(self.current_state.0);
        w.u32(self.new_state.0);
        w.u32(self.break_reason);
        w.u32(self.access_mask_hint);
        w.u32(self.share_mask_hint);
    }
}

/// [MS-SMB2] 2.2.24.2 Lease Break Acknowledgment and 2.2.25.2 Lease Break Response (same
/// 36-byte layout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseBreakAck {
    /// Flags (reserved, 0).
    pub flags: u32,
    /// LeaseKey.
    pub lease_key: [u8; 16],
    /// LeaseState acknowledged / granted.
    pub state: LeaseState,
    /// LeaseDuration (reserved, 0).
    pub duration: u64,
}

impl LeaseBreakAck {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 36;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "LEASE_BREAK_ACK.StructureSize")?;
        r.skip(2, "LEASE_BREAK_ACK.Reserved")?;
        Ok(Self {
            flags: r.u32("LEASE_BREAK_ACK.Flags")?,
            lease_key: r.guid("LEASE_BREAK_ACK.LeaseKey")?,
            state: LeaseState(r.u32("LEASE_BREAK_ACK.LeaseState")?),
            duration: r.u64("LEASE_BREAK_ACK.LeaseDuration")?,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(0);
        w.u32(self.flags);
        w.bytes(&self.lease_key);
        w.u32(self.state.0);
        w.u64(self.duration);
    }
}

/// Any OPLOCK_BREAK body, told apart by StructureSize ([MS-SMB2] 3.3.5.22: 24 is an oplock
/// break acknowledgment, 36 a lease break acknowledgment; a client sees 24 or 44).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OplockBreakMessage {
    /// Oplock break notification / acknowledgment / response.
    Oplock(OplockBreak),
    /// Lease break notification.
    LeaseNotification(LeaseBreakNotification),
    /// Lease break acknowledgment / response.
    LeaseAck(LeaseBreakAck),
}

impl OplockBreakMessage {
    /// Decodes whichever form the StructureSize names.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        match structure_size(msg) {
            Some(OplockBreak::STRUCTURE_SIZE) => OplockBreak::decode(msg).map(Self::Oplock),
            Some(LeaseBreakNotification::STRUCTURE_SIZE) => {
                LeaseBreakNotification::decode(msg).map(Self::LeaseNotification)
            }
            Some(LeaseBreakAck::STRUCTURE_SIZE) => LeaseBreakAck::decode(msg).map(Self::LeaseAck),
            Some(other) => Err(DecodeError::InvalidValue {
                field: "OPLOCK_BREAK.StructureSize",
                value: u64::from(other),
            }),
            None => Err(DecodeError::Truncated {
                field: "OPLOCK_BREAK.StructureSize",
            }),
        }
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        match self {
            Self::Oplock(m) => m.encode(w),
            Self::LeaseNotification(m) => m.encode(w),
            Self::LeaseAck(m) => m.encode(w),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn hdr() -> Writer {
        let mut w = Writer::new();
        w.zeros(BODY);
        w
    }

    fn msg(f: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut w = hdr();
        f(&mut w);
        w.into_inner()
    }

    const FID: FileId = FileId {
        persistent: 0x11,
        volatile: 0x22,
    };

    #[test]
    fn close_and_flush_round_trip() {
        let c = CloseRequest {
            flags: CloseRequest::POSTQUERY_ATTRIB,
            file_id: FID,
        };
        let m = msg(|w| c.encode(w));
        assert_eq!(m.len(), 64 + 24);
        assert_eq!(CloseRequest::decode(&m), Ok(c));
        let resp = CloseResponse {
            flags: 1,
            creation_time: 1,
            last_access_time: 2,
            last_write_time: 3,
            change_time: 4,
            allocation_size: 5,
            end_of_file: 6,
            file_attributes: FileAttributes::ARCHIVE,
        };
        let m = msg(|w| resp.encode(w));
        assert_eq!(m.len(), 64 + 60);
        assert_eq!(CloseResponse::decode(&m), Ok(resp));
        let f = FlushRequest { file_id: FID };
        assert_eq!(FlushRequest::decode(&msg(|w| f.encode(w))), Ok(f));
        assert_eq!(
            FlushResponse::decode(&msg(|w| EmptyResponse.encode(w))),
            Ok(EmptyResponse)
        );
        assert!(CloseRequest::decode(&m).is_err());
    }

    /// Goal: the READ request and response layouts match [MS-SMB2] 2.2.19 / 2.2.20 (data at
    /// 0x50).
    #[test]
    fn read_layout_from_the_spec() {
        let req = ReadRequest {
            padding: 0x50,
            flags: ReadFlags::default(),
            length: 0x1_0000,
            offset: 0x2000,
            file_id: FID,
            minimum_count: 0,
            channel: Channel::NONE,
            remaining_bytes: 0,
            channel_info: &[],
        };
        let m = msg(|w| req.encode(w));
        let expected = hex::decode(concat!(
            "3100",
            "50",
            "00",
            "00000100",
            "0020000000000000",
            "1100000000000000",
            "2200000000000000",
            "00000000",
            "00000000",
            "00000000",
            "0000",
            "0000",
            "00",
        ))
        .unwrap();
        assert_eq!(&m[64..], &expected[..]);
        assert_eq!(ReadRequest::decode(&m), Ok(req));

        let resp = ReadResponse {
            data: b"hello",
            data_remaining: 0,
            flags: 0,
        };
        let m = msg(|w| resp.encode(w));
        let expected = hex::decode("1100500005000000000000000000000068656c6c6f").unwrap();
        assert_eq!(&m[64..], &expected[..]);
        assert_eq!(ReadResponse::decode(&m), Ok(resp));

        // The zero-copy path: head then data appended by the caller.
        let mut w = hdr();
        let at = ReadResponse::encode_head(&mut w, 5, 0, 0);
        assert_eq!(at, ReadResponse::DATA_OFFSET);
        assert_eq!(at, 0x50);
        w.bytes(b"hello");
        assert_eq!(w.as_slice(), &m[..]);
        // Empty data still pads to StructureSize.
        let m = msg(|w| {
            ReadResponse {
                data: &[],
                data_remaining: 0,
                flags: 0,
            }
            .encode(w)
        });
        assert_eq!(m.len(), 64 + 17);
        assert_eq!(ReadResponse::decode(&m).unwrap().data, b"");
    }

    #[test]
    fn read_rejects_oversized_length_and_bad_offset() {
        let req = ReadRequest {
            padding: 0,
            flags: ReadFlags::default(),
            length: (limits::IO_MAX + 1) as u32,
            offset: 0,
            file_id: FID,
            minimum_count: 0,
            channel: Channel::NONE,
            remaining_bytes: 0,
            channel_info: &[],
        };
        assert!(ReadRequest::decode(&msg(|w| req.encode(w))).is_err());
        let mut m = msg(|w| {
            ReadResponse {
                data: b"abc",
                data_remaining: 0,
                flags: 0,
            }
            .encode(w)
        });
        m[66] = 0x10;
        assert!(ReadResponse::decode(&m).is_err());
        m[66] = 0xff;
        assert!(ReadResponse::decode(&m).is_err());
    }

    /// Goal: the WRITE request layout matches [MS-SMB2] 2.2.21 (data at 0x70) and its data
    /// must lie inside the message.
    #[test]
    fn write_layout_from_the_spec() {
        let req = WriteRequest {
            offset: 7,
            file_id: FID,
            channel: Channel::NONE,
            remaining_bytes: 0,
            channel_info: &[],
            flags: WriteFlags::WRITE_THROUGH,
            data: b"abc",
        };
        let m = msg(|w| req.encode(w));
        let expected = hex::decode(concat!(
            "3100",
            "7000",
            "03000000",
            "0700000000000000",
            "1100000000000000",
            "2200000000000000",
            "00000000",
            "00000000",
            "0000",
            "0000",
            "01000000",
            "616263",
        ))
        .unwrap();
        assert_eq!(&m[64..], &expected[..]);
        assert_eq!(WriteRequest::decode(&m), Ok(req));
        assert!(WriteRequest::decode(&m[..m.len() - 1]).is_err());
        let mut bad = m.clone();
        bad[66] = 0x20;
        assert!(WriteRequest::decode(&bad).is_err());

        let resp = WriteResponse {
            count: 3,
            remaining: 0,
        };
        let m = msg(|w| resp.encode(w));
        assert_eq!(
            &m[64..],
            &hex::decode("1100000003000000000000000000000000").unwrap()[..]
        );
        assert_eq!(WriteResponse::decode(&m), Ok(resp));
    }

    /// Goal: LOCK follows [MS-SMB2] 2.2.26 and refuses counts of 0, above the limit, or
    /// larger than the message.
    #[test]
    fn lock_round_trips_and_checks_count() {
        let req = LockRequest {
            lock_sequence: 0x35,
            file_id: FID,
            locks: vec![
                LockElement {
                    offset: 0,
                    length: 10,
                    flags: LockFlags::EXCLUSIVE | LockFlags::FAIL_IMMEDIATELY,
                },
                LockElement {
                    offset: 100,
                    length: 1,
                    flags: LockFlags::UNLOCK,
                },
            ],
        };
        let m = msg(|w| req.encode(w));
        assert_eq!(m.len(), 64 + 24 + 48);
        assert_eq!(&m[64..70], &[48, 0, 2, 0, 0x35, 0]);
        let back = LockRequest::decode(&m).unwrap();
        assert_eq!(back, req);
        assert_eq!(back.sequence_number(), 5);
        assert_eq!(back.sequence_index(), 3);
        let mut bad = m.clone();
        bad[66] = 3;
        assert!(LockRequest::decode(&bad).is_err());
        bad[66] = 0;
        assert!(LockRequest::decode(&bad).is_err());
        bad[66..68].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(LockRequest::decode(&bad).is_err());
    }

    #[test]
    fn oplock_and_lease_breaks_round_trip() {
        let o = OplockBreakMessage::Oplock(OplockBreak {
            oplock_level: OplockLevel::II,
            file_id: FID,
        });
        let m = msg(|w| o.encode(w));
        assert_eq!(m.len(), 64 + 24);
        assert_eq!(OplockBreakMessage::decode(&m), Ok(o));
        let n = OplockBreakMessage::LeaseNotification(LeaseBreakNotification {
            new_epoch: 2,
            flags: LeaseBreakFlags::ACK_REQUIRED,
            lease_key: [3; 16],
            current_state: LeaseState(7),
            new_state: LeaseState::READ_CACHING,
            break_reason: 0,
            access_mask_hint: 0,
            share_mask_hint: 0,
        });
        let m = msg(|w| n.encode(w));
        assert_eq!(m.len(), 64 + 44);
        assert_eq!(OplockBreakMessage::decode(&m), Ok(n));
        let a = OplockBreakMessage::LeaseAck(LeaseBreakAck {
            flags: 0,
            lease_key: [3; 16],
            state: LeaseState::READ_CACHING,
            duration: 0,
        });
        let m = msg(|w| a.encode(w));
        assert_eq!(m.len(), 64 + 36);
        assert_eq!(OplockBreakMessage::decode(&m), Ok(a));
        assert!(OplockBreakMessage::decode(&m[..70]).is_err());
        assert!(OplockBreakMessage::decode(&[0; 64]).is_err());
    }

    proptest! {
        /// Goal: any WRITE payload and field values round-trip.
        #[test]
        fn write_round_trips(data in vec(any::<u8>(), 0..300), off in any::<u64>(), flags in any::<u32>(),
                             ci in vec(any::<u8>(), 0..20)) {
            let req = WriteRequest {
                offset: off, file_id: FID, channel: Channel::NONE, remaining_bytes: 0,
                channel_info: &ci, flags: WriteFlags(flags), data: &data,
            };
            let m = msg(|w| req.encode(w));
            prop_assert_eq!(WriteRequest::decode(&m), Ok(req));
        }

        /// Goal: any READ fields round-trip.
        #[test]
        fn read_round_trips(len in 0u32..=limits::IO_MAX as u32, off in any::<u64>(), min in any::<u32>(),
                            ci in vec(any::<u8>(), 0..20)) {
            let req = ReadRequest {
                padding: 0x50, flags: ReadFlags::UNBUFFERED, length: len, offset: off, file_id: FID,
                minimum_count: min, channel: Channel::RDMA_V1, remaining_bytes: 1, channel_info: &ci,
            };
            let m = msg(|w| req.encode(w));
            prop_assert_eq!(ReadRequest::decode(&m), Ok(req));
        }
    }
}
