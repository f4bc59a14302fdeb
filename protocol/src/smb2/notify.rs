//! CHANGE_NOTIFY ([MS-SMB2] 2.2.35 request, 2.2.36 response) and the FILE_NOTIFY_INFORMATION
//! entries its response carries ([MS-FSCC] 2.7.1).

use super::dir::{decode_buffer_response, encode_buffer_response};
use super::fileid::{FileId, body, flag_set, open_set};
use super::le::{Reader, Writer, from_utf16le, utf16le};
use super::limits;
use crate::wire::DecodeError;

flag_set! {
    /// [MS-SMB2] 2.2.35 CompletionFilter.
    CompletionFilter(u32) {
        /// FILE_NOTIFY_CHANGE_FILE_NAME.
        FILE_NAME = 0x0000_0001;
        /// FILE_NOTIFY_CHANGE_DIR_NAME.
        DIR_NAME = 0x0000_0002;
        /// FILE_NOTIFY_CHANGE_ATTRIBUTES.
        ATTRIBUTES = 0x0000_0004;
        /// FILE_NOTIFY_CHANGE_SIZE.
        SIZE = 0x0000_0008;
        /// FILE_NOTIFY_CHANGE_LAST_WRITE.
        LAST_WRITE = 0x0000_0010;
        /// FILE_NOTIFY_CHANGE_LAST_ACCESS.
        LAST_ACCESS = 0x0000_0020;
        /// FILE_NOTIFY_CHANGE_CREATION.
        CREATION = 0x0000_0040;
        /// FILE_NOTIFY_CHANGE_EA.
        EA = 0x0000_0080;
        /// FILE_NOTIFY_CHANGE_SECURITY.
        SECURITY = 0x0000_0100;
        /// FILE_NOTIFY_CHANGE_STREAM_NAME.
        STREAM_NAME = 0x0000_0200;
        /// FILE_NOTIFY_CHANGE_STREAM_SIZE.
        STREAM_SIZE = 0x0000_0400;
        /// FILE_NOTIFY_CHANGE_STREAM_WRITE.
        STREAM_WRITE = 0x0000_0800;
    }
}

/// [MS-SMB2] 2.2.35 SMB2 CHANGE_NOTIFY Request.
#[doc(alias = "SMB2_CHANGE_NOTIFY_REQUEST")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeNotifyRequest {
    /// Flags ([`ChangeNotifyRequest::WATCH_TREE`]).
    pub flags: u16,
    /// OutputBufferLength (≤ [`limits::TRANSACT_MAX`]).
    pub output_buffer_length: u32,
    /// The directory's open.
    pub file_id: FileId,
    /// CompletionFilter.
    pub completion_filter: CompletionFilter,
}

impl ChangeNotifyRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 32;
    /// SMB2_WATCH_TREE: watch the whole subtree.
    pub const WATCH_TREE: u16 = 0x0001;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "CHANGE_NOTIFY.StructureSize")?;
        let flags = r.u16("CHANGE_NOTIFY.Flags")?;
        let output_buffer_length = r.u32("CHANGE_NOTIFY.OutputBufferLength")?;
        if output_buffer_length as usize > limits::TRANSACT_MAX {
            return Err(DecodeError::TooLong {
                field: "CHANGE_NOTIFY.OutputBufferLength",
                len: u64::from(output_buffer_length),
                max: limits::TRANSACT_MAX as u64,
            });
        }
        let file_id = FileId::decode(&mut r)?;
        let completion_filter = CompletionFilter(r.u32("CHANGE_NOTIFY.CompletionFilter")?);
        r.skip(4, "CHANGE_NOTIFY.Reserved")?;
        Ok(Self {
            flags,
            output_buffer_length,
            file_id,
            completion_filter,
        })
    }

    /// Appends the body.
    pub fn encode(&self, w: &mut Writer) {
        w.u16(Self::STRUCTURE_SIZE);
        w.u16(self.flags);
        w.u32(self.output_buffer_length);
        self.file_id.encode(w);
        w.u32(self.completion_filter.0);
        w.u32(0);
    }
}

/// [MS-SMB2] 2.2.36 SMB2 CHANGE_NOTIFY Response: a buffer of FILE_NOTIFY_INFORMATION
/// entries (built by [`NotifyBuffer`]).
#[doc(alias = "SMB2_CHANGE_NOTIFY_RESPONSE")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeNotifyResponse<'a> {
    /// The entries.
    pub buffer: &'a [u8],
}

impl<'a> ChangeNotifyResponse<'a> {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 9;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        Ok(Self {
            buffer: decode_buffer_response(msg, "CHANGE_NOTIFY response")?,
        })
    }

    /// Appends the body (the buffer at offset 0x48).
    pub fn encode(&self, w: &mut Writer) {
        encode_buffer_response(w, self.buffer);
    }
}

open_set! {
    /// [MS-FSCC] 2.7.1 FILE_NOTIFY_INFORMATION Action.
    NotifyAction(u32) {
        /// FILE_ACTION_ADDED.
        ADDED = 0x1;
        /// FILE_ACTION_REMOVED.
        REMOVED = 0x2;
        /// FILE_ACTION_MODIFIED.
        MODIFIED = 0x3;
        /// FILE_ACTION_RENAMED_OLD_NAME.
        RENAMED_OLD_NAME = 0x4;
        /// FILE_ACTION_RENAMED_NEW_NAME.
        RENAMED_NEW_NAME = 0x5;
        /// FILE_ACTION_ADDED_STREAM.
        ADDED_STREAM = 0x6;
        /// FILE_ACTION_REMOVED_STREAM.
        REMOVED_STREAM = 0x7;
        /// FILE_ACTION_MODIFIED_STREAM.
        MODIFIED_STREAM = 0x8;
        /// FILE_ACTION_REMOVED_BY_DELETE.
        REMOVED_BY_DELETE = 0x9;
        /// FILE_ACTION_ID_NOT_TUNNELLED.
        ID_NOT_TUNNELLED = 0xA;
        /// FILE_ACTION_TUNNELLED_ID_COLLISION.
        TUNNELLED_ID_COLLISION = 0xB;
    }
}

/// [MS-FSCC] 2.7.1 FILE_NOTIFY_INFORMATION: one change.
#[doc(alias = "FILE_NOTIFY_INFORMATION")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileNotifyInformation {
    /// What happened.
    pub action: NotifyAction,
    /// The name, relative to the watched directory (backslashes).
    pub name: String,
}

/// Builds a CHANGE_NOTIFY output buffer: entries 4-byte aligned, NextEntryOffset a multiple
/// of 4, the last 0 ([MS-FSCC] 2.7.1).
#[derive(Clone, Debug)]
pub struct NotifyBuffer {
    max: usize,
    buf: Vec<u8>,
    last: Option<usize>,
}

impl NotifyBuffer {
    /// An empty buffer of at most `max_bytes` (the request's OutputBufferLength).
    pub fn new(max_bytes: usize) -> Self {
        Self {
            max: max_bytes.min(limits::TRANSACT_MAX),
            buf: Vec::new(),
            last: None,
        }
    }

    /// Appends `info`; `false` when it does not fit (the server then answers
    /// STATUS_NOTIFY_ENUM_DIR, [MS-SMB2] 3.3.5.19).
    pub fn push(&mut self, info: &FileNotifyInformation) -> bool {
        let name = utf16le(&info.name);
        let at = self.buf.len().next_multiple_of(4);
        if at + 12 + name.len() > self.max {
            return false;
        }
        if let Some(prev) = self.last {
            let next = u32::try_from(at - prev).unwrap_or(0).to_le_bytes();
            self.buf[prev..prev + 4].copy_from_slice(&next);
        }
        self.buf.resize(at, 0);
        let mut w = Writer::with_capacity(12 + name.len());
        w.u32(0);
        w.u32(info.action.0);
        w.u32(u32::try_from(name.len()).unwrap_or(u32::MAX));
        w.bytes(&name);
        self.buf.extend_from_slice(w.as_slice());
        self.last = Some(at);
        true
    }

    /// Nothing pushed.
    pub const fn is_empty(&self) -> bool {
        self.last.is_none()
    }

    /// The finished buffer. The last entry's name is padded to 4 bytes as the spec asks.
    pub fn finish(mut self) -> Vec<u8> {
        let padded = self.buf.len().next_multiple_of(4);
        if padded <= self.max {
            self.buf.resize(padded, 0);
        }
        self.buf
    }
}

/// Decodes a buffer of FILE_NOTIFY_INFORMATION entries. Each NextEntryOffset must be a
/// multiple of 4, move past the entry's name and stay inside the buffer.
pub fn decode_notify_entries(buf: &[u8]) -> Result<Vec<FileNotifyInformation>, DecodeError> {
    let mut out = Vec::new();
    if buf.is_empty() {
        return Ok(out);
    }
    let mut pos = 0usize;
    loop {
        let entry = &buf[pos..];
        let mut r = Reader::new(entry);
        let next = r.u32("FILE_NOTIFY_INFORMATION.NextEntryOffset")? as usize;
        let action = NotifyAction(r.u32("FILE_NOTIFY_INFORMATION.Action")?);
        let len = r.u32("FILE_NOTIFY_INFORMATION.FileNameLength")? as usize;
        let name = r.slice_at(
            12,
            len,
            limits::PATH_MAX,
            "FILE_NOTIFY_INFORMATION.FileName",
        )?;
        out.push(FileNotifyInformation {
            action,
            name: from_utf16le(name, "FILE_NOTIFY_INFORMATION.FileName")?,
        });
        if next == 0 {
            return Ok(out);
        }
        if !next.is_multiple_of(4) || next < 12 + len || next >= entry.len() {
            return Err(DecodeError::InvalidValue {
                field: "FILE_NOTIFY_INFORMATION.NextEntryOffset",
                value: next as u64,
            });
        }
        pos += next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdr() -> Writer {
        let mut w = Writer::new();
        w.zeros(64);
        w
    }

    /// Goal: the request matches [MS-SMB2] 2.2.35 byte for byte and round-trips.
    #[test]
    fn request_layout_from_the_spec() {
        let req = ChangeNotifyRequest {
            flags: ChangeNotifyRequest::WATCH_TREE,
            output_buffer_length: 0x800,
            file_id: FileId {
                persistent: 1,
                volatile: 2,
            },
            completion_filter: CompletionFilter::FILE_NAME | CompletionFilter::DIR_NAME,
        };
        let mut w = hdr();
        req.encode(&mut w);
        let m = w.into_inner();
        let expected = hex::decode(concat!(
            "2000",
            "0100",
            "00080000",
            "0100000000000000",
            "0200000000000000",
            "03000000",
            "00000000",
        ))
        .unwrap();
        assert_eq!(&m[64..], &expected[..]);
        assert_eq!(ChangeNotifyRequest::decode(&m), Ok(req));
        let mut big = m.clone();
        big[68..72].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(ChangeNotifyRequest::decode(&big).is_err());
    }

    /// Goal: FILE_NOTIFY_INFORMATION entries follow [MS-FSCC] 2.7.1 (4-byte alignment,
    /// last NextEntryOffset 0) and round-trip inside a CHANGE_NOTIFY response.
    #[test]
    fn entries_round_trip() {
        let infos = vec![
            FileNotifyInformation {
                action: NotifyAction::RENAMED_OLD_NAME,
                name: "a".into(),
            },
            FileNotifyInformation {
                action: NotifyAction::RENAMED_NEW_NAME,
                name: "dir\\bb".into(),
            },
        ];
        let mut b = NotifyBuffer::new(1000);
        for i in &infos {
            assert!(b.push(i));
        }
        let buf = b.finish();
        assert_eq!(
            &buf[..16],
            &[16, 0, 0, 0, 4, 0, 0, 0, 2, 0, 0, 0, b'a', 0, 0, 0]
        );
        assert_eq!(buf.len() % 4, 0);
        assert_eq!(decode_notify_entries(&buf), Ok(infos.clone()));
        let mut w = hdr();
        ChangeNotifyResponse { buffer: &buf }.encode(&mut w);
        let m = w.into_inner();
        let back = ChangeNotifyResponse::decode(&m).unwrap();
        assert_eq!(decode_notify_entries(back.buffer), Ok(infos));

        let mut small = NotifyBuffer::new(14);
        assert!(small.push(&FileNotifyInformation {
            action: NotifyAction::ADDED,
            name: "x".into()
        }));
        assert!(!small.push(&FileNotifyInformation {
            action: NotifyAction::ADDED,
            name: "y".into()
        }));
        let mut bad = buf.clone();
        bad[0] = 6;
        assert!(decode_notify_entries(&bad).is_err());
        bad[0] = 200;
        assert!(decode_notify_entries(&bad).is_err());
    }
}
