//! QUERY_DIRECTORY ([MS-SMB2] 2.2.33 request, 2.2.34 response), the directory information
//! classes it returns ([MS-FSCC] 2.4) plus the SMB3.1.1 POSIX extensions' class, and the
//! wildcard matching of search patterns ([MS-FSCC] 2.1.4.4).

use super::create::{FileAttributes, PosixCreateResponse};
use super::fileid::{BODY, FileId, body, flag_set, open_set, pad_empty_buffer};
use super::le::{Reader, Writer, from_utf16le, utf16le};
use super::limits;
use crate::wire::DecodeError;

open_set! {
    /// [MS-FSCC] 2.4 FileInformationClass values QUERY_DIRECTORY accepts.
    InfoClass(u8) {
        /// FileDirectoryInformation ([MS-FSCC] 2.4.10).
        DIRECTORY = 0x01;
        /// FileFullDirectoryInformation ([MS-FSCC] 2.4.17).
        FULL_DIRECTORY = 0x02;
        /// FileBothDirectoryInformation ([MS-FSCC] 2.4.8).
        BOTH_DIRECTORY = 0x03;
        /// FileNamesInformation ([MS-FSCC] 2.4.33).
        NAMES = 0x0C;
        /// FileIdBothDirectoryInformation ([MS-FSCC] 2.4.21).
        ID_BOTH_DIRECTORY = 0x25;
        /// FileIdFullDirectoryInformation ([MS-FSCC] 2.4.23).
        ID_FULL_DIRECTORY = 0x26;
        /// FileIdExtdDirectoryInformation ([MS-FSCC] 2.4.22).
        ID_EXTD_DIRECTORY = 0x3C;
        /// FileIdAllExtdDirectoryInformation ([MS-FSCC] 2.4.20).
        ID_ALL_EXTD_DIRECTORY = 0x50;
        /// SMB2_FIND_POSIX_INFORMATION: the SMB3.1.1 POSIX extensions' class (Samba, Linux).
        POSIX = 0x64;
    }
}

impl InfoClass {
    /// Whether [`DirBuffer`] and [`decode_entries`] handle this class (otherwise the
    /// server answers STATUS_INVALID_INFO_CLASS).
    pub const fn is_supported(self) -> bool {
        matches!(
            self.0,
            0x01 | 0x02 | 0x03 | 0x0C | 0x25 | 0x26 | 0x3C | 0x50 | 0x64
        )
    }

    /// Bytes before FileName in one entry of this class (for the POSIX class: without the
    /// variable SIDs and the name length word).
    pub const fn fixed_len(self) -> Option<usize> {
        match self.0 {
            0x01 => Some(64),
            0x02 => Some(68),
            0x03 => Some(94),
            0x0C => Some(12),
            0x25 => Some(104),
            0x26 => Some(80),
            0x3C => Some(88),
            0x50 => Some(96),
            0x64 => Some(88),
            _ => None,
        }
    }
}

flag_set! {
    /// [MS-SMB2] 2.2.33 QUERY_DIRECTORY Flags.
    QueryDirectoryFlags(u8) {
        /// SMB2_RESTART_SCANS: start from the beginning.
        RESTART_SCANS = 0x01;
        /// SMB2_RETURN_SINGLE_ENTRY: one entry only.
        RETURN_SINGLE_ENTRY = 0x02;
        /// SMB2_INDEX_SPECIFIED: resume at FileIndex.
        INDEX_SPECIFIED = 0x04;
        /// SMB2_REOPEN: restart with a new pattern.
        REOPEN = 0x10;
    }
}

/// [MS-SMB2] 2.2.33 SMB2 QUERY_DIRECTORY Request.
#[doc(alias = "SMB2_QUERY_DIRECTORY_REQUEST")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryDirectoryRequest {
    /// FileInformationClass.
    pub info_class: InfoClass,
    /// Flags.
    pub flags: QueryDirectoryFlags,
    /// FileIndex (with INDEX_SPECIFIED).
    pub file_index: u32,
    /// The directory's open.
    pub file_id: FileId,
    /// The search pattern ("*" for everything; see [`matches()`]).
    pub pattern: String,
    /// OutputBufferLength: at most this many bytes of entries (≤ [`limits::TRANSACT_MAX`]).
    pub output_buffer_length: u32,
}

impl QueryDirectoryRequest {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 33;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &[u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "QUERY_DIRECTORY.StructureSize")?;
        let info_class = InfoClass(r.u8("QUERY_DIRECTORY.FileInformationClass")?);
        let flags = QueryDirectoryFlags(r.u8("QUERY_DIRECTORY.Flags")?);
        let file_index = r.u32("QUERY_DIRECTORY.FileIndex")?;
        let file_id = FileId::decode(&mut r)?;
        let name_off = r.u16("QUERY_DIRECTORY.FileNameOffset")?;
        let name_len = r.u16("QUERY_DIRECTORY.FileNameLength")?;
        let output_buffer_length = r.u32("QUERY_DIRECTORY.OutputBufferLength")?;
        if output_buffer_length as usize > limits::TRANSACT_MAX {
            return Err(DecodeError::TooLong {
                field: "QUERY_DIRECTORY.OutputBufferLength",
                len: u64::from(output_buffer_length),
                max: limits::TRANSACT_MAX as u64,
            });
        }
        let name = r.slice_at(
            usize::from(name_off),
            usize::from(name_len),
            limits::PATH_MAX,
            "QUERY_DIRECTORY.FileName",
        )?;
        Ok(Self {
            info_class,
            flags,
            file_index,
            file_id,
            pattern: from_utf16le(name, "QUERY_DIRECTORY.FileName")?,
            output_buffer_length,
        })
    }

    /// Appends the body (the pattern at offset 0x60).
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.info_class.0);
        w.u8(self.flags.0);
        w.u32(self.file_index);
        self.file_id.encode(w);
        let name = utf16le(&self.pattern);
        w.u16(u16::try_from(start + 32).unwrap_or(u16::MAX));
        w.u16(u16::try_from(name.len()).unwrap_or(u16::MAX));
        w.u32(self.output_buffer_length);
        w.bytes(&name);
        pad_empty_buffer(w, start, Self::STRUCTURE_SIZE);
    }
}

/// [MS-SMB2] 2.2.34 SMB2 QUERY_DIRECTORY Response (and 2.2.36 CHANGE_NOTIFY Response, the
/// same layout): a buffer at an offset.
#[doc(alias = "SMB2_QUERY_DIRECTORY_RESPONSE")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QueryDirectoryResponse<'a> {
    /// The entries, as built by [`DirBuffer`].
    pub buffer: &'a [u8],
}

impl<'a> QueryDirectoryResponse<'a> {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 9;

    /// Decodes the body of `msg`.
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        Ok(Self {
            buffer: decode_buffer_response(msg, "QUERY_DIRECTORY response")?,
        })
    }

    /// Appends the body (the buffer at offset 0x48).
    pub fn encode(&self, w: &mut Writer) {
        encode_buffer_response(w, self.buffer);
    }
}

/// The StructureSize-9 (OutputBufferOffset, OutputBufferLength, Buffer) body shared by
/// QUERY_DIRECTORY, CHANGE_NOTIFY and QUERY_INFO responses.
pub(crate) fn decode_buffer_response<'a>(
    msg: &'a [u8],
    field: &'static str,
) -> Result<&'a [u8], DecodeError> {
    let mut r = body(msg, 9, field)?;
    let off = r.u16(field)?;
    let len = r.u32(field)?;
    if len != 0 && usize::from(off) < BODY + 8 {
        return Err(DecodeError::InvalidValue {
            field,
            value: u64::from(off),
        });
    }
    r.slice_at(usize::from(off), len as usize, limits::TRANSACT_MAX, field)
}

/// Appends a StructureSize-9 buffer body.
pub(crate) fn encode_buffer_response(w: &mut Writer, buffer: &[u8]) {
    let start = w.len();
    w.u16(9);
    w.u16(u16::try_from(start + 8).unwrap_or(u16::MAX));
    w.u32(u32::try_from(buffer.len()).unwrap_or(u32::MAX));
    w.bytes(buffer);
    pad_empty_buffer(w, start, 9);
}

/// The POSIX extensions' fields of a directory entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PosixEntryInfo {
    /// Hard links.
    pub nlinks: u32,
    /// POSIX mode (type and permission bits).
    pub mode: u32,
    /// DeviceId (of the file's filesystem; 0 is fine).
    pub device_id: u32,
    /// Owner SID, binary form ([`super::create::unix_sid`]).
    pub owner_sid: Vec<u8>,
    /// Group SID, binary form.
    pub group_sid: Vec<u8>,
}

/// One directory entry, as a server fills it and a client decodes it; each class carries
/// a subset of these fields.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DirEntry {
    /// The name (one component).
    pub name: String,
    /// FileIndex (0 on filesystems without stable positions).
    pub file_index: u32,
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime.
    pub last_access_time: u64,
    /// LastWriteTime.
    pub last_write_time: u64,
    /// ChangeTime.
    pub change_time: u64,
    /// EndOfFile.
    pub end_of_file: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// FileAttributes.
    pub attributes: FileAttributes,
    /// EaSize. [MS-FSCC] 2.4: in classes without a ReparsePointTag field, a reparse point's
    /// tag is sent here instead.
    pub ea_size: u32,
    /// ReparsePointTag (valid with FILE_ATTRIBUTE_REPARSE_POINT).
    pub reparse_tag: u32,
    /// FileId (the inode number); 128-bit classes carry it in the low 8 bytes.
    pub file_id: u64,
    /// The 8.3 short name (Both classes), if any.
    pub short_name: Option<String>,
    /// The POSIX fields (POSIX class).
    pub posix: Option<PosixEntryInfo>,
}

impl DirEntry {
    /// EaSize as the classes without a tag field carry it.
    fn ea_or_tag(&self) -> u32 {
        if self.attributes.contains(FileAttributes::REPARSE_POINT) {
            self.reparse_tag
        } else {
            self.ea_size
        }
    }
}

/// The null SID S-1-0-0, sent when a POSIX entry has no owner/group.
const NULL_SID: [u8; 12] = [1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

/// Writes one entry of `class` (NextEntryOffset 0). `None` for a class we do not support.
fn encode_entry(class: InfoClass, e: &DirEntry) -> Option<Vec<u8>> {
    let fixed = class.fixed_len()?;
    let name = utf16le(&e.name);
    let name_len = u32::try_from(name.len()).unwrap_or(u32::MAX);
    let mut w = Writer::with_capacity(fixed + name.len() + 32);
    w.u32(0);
    w.u32(e.file_index);
    if class == InfoClass::NAMES {
        w.u32(name_len);
        w.bytes(&name);
        return Some(w.into_inner());
    }
    w.u64(e.creation_time);
    w.u64(e.last_access_time);
    w.u64(e.last_write_time);
    w.u64(e.change_time);
    w.u64(e.end_of_file);
    w.u64(e.allocation_size);
    w.u32(e.attributes.0);
    if class == InfoClass::POSIX {
        let default = PosixEntryInfo {
            nlinks: 1,
            mode: 0,
            device_id: 0,
            owner_sid: NULL_SID.to_vec(),
            group_sid: NULL_SID.to_vec(),
        };
        let p = e.posix.as_ref().unwrap_or(&default);
        w.u64(e.file_id);
        w.u32(p.device_id);
        w.u32(0);
        w.u32(p.nlinks);
        w.u32(e.reparse_tag);
        w.u32(p.mode);
        w.bytes(&p.owner_sid);
        w.bytes(&p.group_sid);
        w.u32(name_len);
        w.bytes(&name);
        return Some(w.into_inner());
    }
    w.u32(name_len);
    match class {
        InfoClass::DIRECTORY => {}
        InfoClass::FULL_DIRECTORY => w.u32(e.ea_or_tag()),
        InfoClass::ID_FULL_DIRECTORY => {
            w.u32(e.ea_or_tag());
            w.u32(0);
            w.u64(e.file_id);
        }
        InfoClass::BOTH_DIRECTORY | InfoClass::ID_BOTH_DIRECTORY => {
            w.u32(e.ea_or_tag());
            let short = e
                .short_name
                .as_deref()
                .map(utf16le)
                .filter(|s| s.len() <= 24)
                .unwrap_or_default();
            w.u8(u8::try_from(short.len()).unwrap_or(0));
            w.u8(0);
            w.bytes(&short);
            w.zeros(24 - short.len());
            if class == InfoClass::ID_BOTH_DIRECTORY {
                w.u16(0);
                w.u64(e.file_id);
            }
        }
        InfoClass::ID_EXTD_DIRECTORY => {
            w.u32(e.ea_size);
            w.u32(e.reparse_tag);
            w.u64(e.file_id);
            w.u64(0);
        }
        InfoClass::ID_ALL_EXTD_DIRECTORY => {
            w.u32(e.ea_size);
            w.u32(e.reparse_tag);
            w.u64(e.file_id);
            w.u64(e.file_id);
            w.u64(0);
        }
        _ => return None,
    }
    debug_assert_eq!(w.len(), fixed);
    w.bytes(&name);
    Some(w.into_inner())
}

/// Builds a QUERY_DIRECTORY output buffer ([MS-FSCC] 2.4: entries 8-byte aligned, each
/// NextEntryOffset pointing at the next, the last one 0, no padding after it).
#[derive(Clone, Debug)]
pub struct DirBuffer {
    class: InfoClass,
    max: usize,
    buf: Vec<u8>,
    last: Option<usize>,
    count: usize,
}

impl DirBuffer {
    /// An empty buffer for `class` holding at most `max_bytes` (the request's
    /// OutputBufferLength).
    pub fn new(class: InfoClass, max_bytes: usize) -> Self {
        Self {
            class,
            max: max_bytes.min(limits::TRANSACT_MAX),
            buf: Vec::new(),
            last: None,
            count: 0,
        }
    }

    /// Appends `entry`; `false` (and nothing appended) when it does not fit or the class is
    /// not supported. A server that cannot fit even the first entry answers
    /// STATUS_BUFFER_OVERFLOW / STATUS_INFO_LENGTH_MISMATCH per [MS-SMB2] 3.3.5.18.
    pub fn push(&mut self, entry: &DirEntry) -> bool {
        let Some(bytes) = encode_entry(self.class, entry) else {
            return false;
        };
        let at = self.buf.len().next_multiple_of(8);
        if at + bytes.len() > self.max {
            return false;
        }
        if let Some(prev) = self.last {
            let next = u32::try_from(at - prev).unwrap_or(0).to_le_bytes();
            self.buf[prev..prev + 4].copy_from_slice(&next);
        }
        self.buf.resize(at, 0);
        self.buf.extend_from_slice(&bytes);
        self.last = Some(at);
        self.count += 1;
        true
    }

    /// Entries pushed.
    pub const fn count(&self) -> usize {
        self.count
    }

    /// No entry pushed.
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bytes so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// The finished buffer.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Decodes a buffer of `class` entries (what a client does with a QUERY_DIRECTORY
/// response). Every NextEntryOffset must move past the current entry's name and stay in
/// the buffer.
pub fn decode_entries(class: InfoClass, buf: &[u8]) -> Result<Vec<DirEntry>, DecodeError> {
    let fixed = class.fixed_len().ok_or(DecodeError::InvalidValue {
        field: "FileInformationClass",
        value: u64::from(class.0),
    })?;
    let mut out = Vec::new();
    let mut pos = 0usize;
    if buf.is_empty() {
        return Ok(out);
    }
    loop {
        let entry = &buf[pos..];
        if entry.len() < fixed {
            return Err(DecodeError::Truncated {
                field: "directory entry",
            });
        }
        let (e, used) = decode_entry(class, entry)?;
        out.push(e);
        let next = u32::from_le_bytes([entry[0], entry[1], entry[2], entry[3]]) as usize;
        if next == 0 {
            return Ok(out);
        }
        if next < used || next >= entry.len() {
            return Err(DecodeError::InvalidValue {
                field: "NextEntryOffset",
                value: next as u64,
            });
        }
        pos += next;
    }
}

/// Decodes one entry at the start of `b`; returns it and the bytes it used.
fn decode_entry(class: InfoClass, b: &[u8]) -> Result<(DirEntry, usize), DecodeError> {
    let mut r = Reader::new(b);
    r.skip(4, "NextEntryOffset")?;
    let mut e = DirEntry {
        file_index: r.u32("FileIndex")?,
        ..DirEntry::default()
    };
    if class == InfoClass::NAMES {
        let len = r.u32("FileNameLength")? as usize;
        e.name = name_at(&r, len)?;
        return Ok((e, r.pos() + len));
    }
    e.creation_time = r.u64("CreationTime")?;
    e.last_access_time = r.u64("LastAccessTime")?;
    e.last_write_time = r.u64("LastWriteTime")?;
    e.change_time = r.u64("ChangeTime")?;
    e.end_of_file = r.u64("EndOfFile")?;
    e.allocation_size = r.u64("AllocationSize")?;
    e.attributes = FileAttributes(r.u32("FileAttributes")?);
    if class == InfoClass::POSIX {
        e.file_id = r.u64("Inode")?;
        let device_id = r.u32("DeviceId")?;
        r.skip(4, "Zero")?;
        let p = PosixCreateResponse::read(&mut r)?;
        e.reparse_tag = p.reparse_tag;
        e.posix = Some(PosixEntryInfo {
            nlinks: p.nlinks,
            mode: p.mode,
            device_id,
            owner_sid: p.owner_sid,
            group_sid: p.group_sid,
        });
        let len = r.u32("FileNameLength")? as usize;
        e.name = name_at(&r, len)?;
        return Ok((e, r.pos() + len));
    }
    let len = r.u32("FileNameLength")? as usize;
    let set_ea_or_tag = |e: &mut DirEntry, v: u32| {
        e.ea_size = v;
        if e.attributes.contains(FileAttributes::REPARSE_POINT) {
            e.reparse_tag = v;
        }
    };
    match class {
        InfoClass::DIRECTORY => {}
        InfoClass::FULL_DIRECTORY => set_ea_or_tag(&mut e, r.u32("EaSize")?),
        InfoClass::ID_FULL_DIRECTORY => {
            set_ea_or_tag(&mut e, r.u32("EaSize")?);
            r.skip(4, "Reserved")?;
            e.file_id = r.u64("FileId")?;
        }
        InfoClass::BOTH_DIRECTORY | InfoClass::ID_BOTH_DIRECTORY => {
            set_ea_or_tag(&mut e, r.u32("EaSize")?);
            let short_len = usize::from(r.u8("ShortNameLength")?);
            r.skip(1, "Reserved1")?;
            let short = r.bytes(24, "ShortName")?;
            let short = short.get(..short_len).ok_or(DecodeError::InvalidValue {
                field: "ShortNameLength",
                value: short_len as u64,
            })?;
            if !short.is_empty() {
                e.short_name = Some(from_utf16le(short, "ShortName")?);
            }
            if class == InfoClass::ID_BOTH_DIRECTORY {
                r.skip(2, "Reserved2")?;
                e.file_id = r.u64("FileId")?;
            }
        }
        InfoClass::ID_EXTD_DIRECTORY => {
            e.ea_size = r.u32("EaSize")?;
            e.reparse_tag = r.u32("ReparsePointTag")?;
            e.file_id = r.u64("FileId")?;
            r.skip(8, "FileId high")?;
        }
        InfoClass::ID_ALL_EXTD_DIRECTORY => {
            e.ea_size = r.u32("EaSize")?;
            e.reparse_tag = r.u32("ReparsePointTag")?;
            e.file_id = r.u64("FileId")?;
            r.skip(16, "FileId128")?;
        }
        _ => {
            return Err(DecodeError::InvalidValue {
                field: "FileInformationClass",
                value: u64::from(class.0),
            });
        }
    }
    e.name = name_at(&r, len)?;
    Ok((e, r.pos() + len))
}

fn name_at(r: &Reader<'_>, len: usize) -> Result<String, DecodeError> {
    let b = r.slice_at(r.pos(), len, limits::PATH_MAX, "FileName")?;
    from_utf16le(b, "FileName")
}

/// Whether `pattern` has wildcard characters ([MS-FSCC] 2.1.4.4: `*`, `?`, `<`, `>`, `"`).
pub fn has_wildcards(pattern: &str) -> bool {
    pattern.contains(['*', '?', '<', '>', '"'])
}

/// Simple case folding (one-to-one lowercase; characters whose lowercase is several
/// characters stay as they are).
fn fold(c: char) -> char {
    let mut l = c.to_lowercase();
    match (l.next(), l.next()) {
        (Some(a), None) => a,
        _ => c,
    }
}

/// [MS-FSCC] 2.1.4.4 "Algorithm for Determining if a FileName Is in an Expression",
/// case-insensitively: `*` matches any run of characters; `?` any one character; `<`
/// (DOS_STAR) any run that does not consume the name's final `.`; `>` (DOS_QM) any one
/// character, or nothing before a `.` or the end of the name; `"` (DOS_DOT) a `.`, or
/// nothing at the end of the name. Runs in O(pattern × name) time and O(pattern) space.
pub fn matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<char> = pattern.chars().map(fold).collect();
    let s: Vec<char> = name.chars().map(fold).collect();
    let m = p.len();
    let n = s.len();
    let last_dot = s.iter().rposition(|&c| c == '.');
    let mut cur = vec![false; m + 1];
    let mut next = vec![false; m + 1];
    cur[0] = true;
    for j in 0..=n {
        let here = s.get(j).copied();
        // Zero-width moves at name position j; they only go forward, so one pass suffices.
        for i in 0..m {
            if cur[i] {
                let skip = match p[i] {
                    '*' | '<' => true,
                    '>' => here.is_none_or(|c| c == '.'),
                    '"' => here.is_none(),
                    _ => false,
                };
                if skip {
                    cur[i + 1] = true;
                }
            }
        }
        let Some(c) = here else {
            break;
        };
        next.iter_mut().for_each(|b| *b = false);
        let mut any = false;
        for i in 0..m {
            if !cur[i] {
                continue;
            }
            let (stay, advance) = match p[i] {
                '*' => (true, false),
                '<' => (last_dot != Some(j), false),
                '?' => (false, true),
                '>' => (false, c != '.'),
                '"' => (false, c == '.'),
                lit => (false, lit == c),
            };
            if stay {
                next[i] = true;
                any = true;
            }
            if advance {
                next[i + 1] = true;
                any = true;
            }
        }
        if !any {
            return false;
        }
        std::mem::swap(&mut cur, &mut next);
    }
    cur[m]
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::smb2::create::unix_sid;

    const ALL: [InfoClass; 9] = [
        InfoClass::DIRECTORY,
        InfoClass::FULL_DIRECTORY,
        InfoClass::BOTH_DIRECTORY,
        InfoClass::NAMES,
        InfoClass::ID_BOTH_DIRECTORY,
        InfoClass::ID_FULL_DIRECTORY,
        InfoClass::ID_EXTD_DIRECTORY,
        InfoClass::ID_ALL_EXTD_DIRECTORY,
        InfoClass::POSIX,
    ];

    fn entry(name: &str) -> DirEntry {
        DirEntry {
            name: name.into(),
            file_index: 0,
            creation_time: 1,
            last_access_time: 2,
            last_write_time: 3,
            change_time: 4,
            end_of_file: 5,
            allocation_size: 4096,
            attributes: FileAttributes::ARCHIVE,
            ea_size: 0,
            reparse_tag: 0,
            file_id: 99,
            short_name: Some("A~1.TXT".into()),
            posix: Some(PosixEntryInfo {
                nlinks: 2,
                mode: 0o100644,
                device_id: 0,
                owner_sid: unix_sid(1, 1000),
                group_sid: unix_sid(2, 1000),
            }),
        }
    }

    /// What `class` keeps of `e`.
    fn project(class: InfoClass, e: &DirEntry) -> DirEntry {
        let mut p = DirEntry {
            name: e.name.clone(),
            file_index: e.file_index,
            ..DirEntry::default()
        };
        if class == InfoClass::NAMES {
            return p;
        }
        p.creation_time = e.creation_time;
        p.last_access_time = e.last_access_time;
        p.last_write_time = e.last_write_time;
        p.change_time = e.change_time;
        p.end_of_file = e.end_of_file;
        p.allocation_size = e.allocation_size;
        p.attributes = e.attributes;
        match class {
            InfoClass::DIRECTORY => {}
            InfoClass::POSIX => {
                p.file_id = e.file_id;
                p.reparse_tag = e.reparse_tag;
                p.posix = e.posix.clone();
            }
            InfoClass::ID_EXTD_DIRECTORY | InfoClass::ID_ALL_EXTD_DIRECTORY => {
                p.ea_size = e.ea_size;
                p.reparse_tag = e.reparse_tag;
                p.file_id = e.file_id;
            }
            _ => {
                p.ea_size = e.ea_size;
                if class == InfoClass::ID_FULL_DIRECTORY || class == InfoClass::ID_BOTH_DIRECTORY {
                    p.file_id = e.file_id;
                }
                if class == InfoClass::BOTH_DIRECTORY || class == InfoClass::ID_BOTH_DIRECTORY {
                    p.short_name = e.short_name.clone();
                }
            }
        }
        p
    }

    /// Goal: every class's buffer decodes back to what the class carries, entries are
    /// 8-aligned with the last NextEntryOffset 0, and push refuses what does not fit.
    #[test]
    fn every_class_round_trips() {
        let entries = [entry("a.txt"), entry("longer name.bin"), entry("ü")];
        for class in ALL {
            let mut b = DirBuffer::new(class, 64 * 1024);
            for e in &entries {
                assert!(b.push(e), "{class:?}");
            }
            assert_eq!(b.count(), 3);
            let buf = b.finish();
            let got = decode_entries(class, &buf).unwrap();
            let want: Vec<_> = entries.iter().map(|e| project(class, e)).collect();
            assert_eq!(got, want, "{class:?}");
            // Offsets: aligned and the last is 0.
            let mut pos = 0;
            loop {
                assert_eq!(pos % 8, 0);
                let next = u32::from_le_bytes(buf[pos..pos + 4].try_into().unwrap()) as usize;
                if next == 0 {
                    break;
                }
                pos += next;
            }
            // A buffer exactly one entry long takes one entry only.
            let one = encode_entry(class, &entries[0]).unwrap().len();
            let mut b = DirBuffer::new(class, one);
            assert!(b.push(&entries[0]));
            assert!(!b.push(&entries[1]));
            assert_eq!(b.len(), one);
            assert!(!DirBuffer::new(class, one - 1).push(&entries[0]));
        }
        assert!(!DirBuffer::new(InfoClass(0x7f), 1000).push(&entries[0]));
    }

    /// Goal: FileIdBothDirectoryInformation matches [MS-FSCC] 2.4.21 byte for byte.
    #[test]
    fn id_both_layout_from_the_spec() {
        let e = DirEntry {
            name: "ab".into(),
            attributes: FileAttributes::DIRECTORY,
            file_id: 0x0102,
            ea_size: 0,
            short_name: None,
            ..DirEntry::default()
        };
        let mut b = DirBuffer::new(InfoClass::ID_BOTH_DIRECTORY, 1000);
        assert!(b.push(&e));
        let buf = b.finish();
        let mut want = vec![0u8; 104];
        want[56..60].copy_from_slice(&0x10u32.to_le_bytes()); // FileAttributes
        want[60..64].copy_from_slice(&4u32.to_le_bytes()); // FileNameLength
        want[96..104].copy_from_slice(&0x0102u64.to_le_bytes()); // FileId
        want.extend_from_slice(&[b'a', 0, b'b', 0]);
        assert_eq!(buf, want);
    }

    /// Goal: the POSIX class follows the Linux client's `smb2_posix_info` layout: inode at
    /// 60, links/tag/mode at 76, then the SIDs, the name length and the name.
    #[test]
    fn posix_layout() {
        let mut e = entry("x");
        e.file_id = 7;
        let mut b = DirBuffer::new(InfoClass::POSIX, 1000);
        assert!(b.push(&e));
        let buf = b.finish();
        assert_eq!(&buf[60..68], &7u64.to_le_bytes());
        assert_eq!(&buf[76..80], &2u32.to_le_bytes());
        assert_eq!(&buf[84..88], &0o100644u32.to_le_bytes());
        assert_eq!(&buf[88..104], &unix_sid(1, 1000)[..]);
        assert_eq!(&buf[120..124], &2u32.to_le_bytes());
        assert_eq!(&buf[124..], &[b'x', 0]);
    }

    #[test]
    fn decode_rejects_bad_offsets() {
        let mut b = DirBuffer::new(InfoClass::DIRECTORY, 1000);
        assert!(b.push(&entry("aaaa")));
        assert!(b.push(&entry("b")));
        let buf = b.finish();
        let mut bad = buf.clone();
        bad[0] = 8; // points inside the first entry
        assert!(decode_entries(InfoClass::DIRECTORY, &bad).is_err());
        let mut bad = buf.clone();
        bad[0..4].copy_from_slice(&1000u32.to_le_bytes());
        assert!(decode_entries(InfoClass::DIRECTORY, &bad).is_err());
        assert!(decode_entries(InfoClass::DIRECTORY, &buf[..buf.len() - 1]).is_err());
        assert!(decode_entries(InfoClass(0x7f), &buf).is_err());
        assert_eq!(decode_entries(InfoClass::DIRECTORY, &[]), Ok(vec![]));
    }

    /// Goal: the request layout matches [MS-SMB2] 2.2.33 (pattern at 0x60) and both
    /// messages round-trip.
    #[test]
    fn query_directory_round_trips() {
        let req = QueryDirectoryRequest {
            info_class: InfoClass::ID_BOTH_DIRECTORY,
            flags: QueryDirectoryFlags::RESTART_SCANS,
            file_index: 0,
            file_id: FileId {
                persistent: 1,
                volatile: 2,
            },
            pattern: "*".into(),
            output_buffer_length: 65536,
        };
        let mut w = Writer::new();
        w.zeros(64);
        req.encode(&mut w);
        let m = w.into_inner();
        let expected = hex::decode(concat!(
            "2100",
            "25",
            "01",
            "00000000",
            "0100000000000000",
            "0200000000000000",
            "6000",
            "0200",
            "00000100",
            "2a00",
        ))
        .unwrap();
        assert_eq!(&m[64..], &expected[..]);
        assert_eq!(QueryDirectoryRequest::decode(&m), Ok(req.clone()));
        let mut big = m.clone();
        big[64 + 28..64 + 32].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(QueryDirectoryRequest::decode(&big).is_err());

        let resp = QueryDirectoryResponse {
            buffer: b"entries!",
        };
        let mut w = Writer::new();
        w.zeros(64);
        resp.encode(&mut w);
        let m = w.into_inner();
        assert_eq!(&m[64..72], &[9, 0, 0x48, 0, 8, 0, 0, 0]);
        assert_eq!(QueryDirectoryResponse::decode(&m), Ok(resp));
    }

    #[test]
    fn wildcards() {
        assert!(matches("*", "anything"));
        assert!(matches("*", ""));
        assert!(matches("*.txt", "a.txt"));
        assert!(matches("*.txt", "A.TXT"));
        assert!(matches("*.txt", ".txt"));
        assert!(!matches("*.txt", "a.txt.bak"));
        assert!(matches("*.TXT", "b.c.txt"));
        assert!(matches("a?c", "abc"));
        assert!(matches("a?c", "A.C"));
        assert!(!matches("a?c", "ac"));
        assert!(!matches("a?c", "abbc"));
        assert!(matches("abc", "ABC"));
        assert!(!matches("abc", "abcd"));
        assert!(matches("<.txt", "a.txt"));
        assert!(matches("<.txt", "a.b.txt"));
        assert!(!matches("<.txt", "a.txt.x"));
        assert!(matches("<", "noext"));
        assert!(!matches("<", "has.ext"));
        assert!(matches("<.*", "has.ext"));
        assert!(matches(">>>.txt", "ab.txt"));
        assert!(matches(">>>.txt", "abc.txt"));
        assert!(!matches(">>>.txt", "abcd.txt"));
        assert!(matches("a\"", "a"));
        assert!(matches("a\"", "a."));
        assert!(!matches("a\"", "ab"));
        assert!(matches("Ü*", "über"));
        assert!(matches("", ""));
        assert!(!matches("", "a"));
        assert!(matches("**a**", "bab"));
        assert!(has_wildcards("a*"));
        assert!(!has_wildcards("plain.txt"));
    }

    proptest! {
        /// Goal: a literal pattern matches exactly its own name, in any case; `*` plus the
        /// name's tail matches it.
        #[test]
        fn literal_patterns(name in "[a-zA-Z0-9 ._-]{0,20}") {
            prop_assert!(matches(&name, &name));
            prop_assert!(matches(&name.to_uppercase(), &name));
            let tail: String = name.chars().skip(name.len() / 2).collect();
            let pattern = format!("*{tail}");
            prop_assert!(matches(&pattern, &name));
        }

        /// Goal: arbitrary patterns and names never panic.
        #[test]
        fn never_panics(p in "[*?<>\".a-c]{0,12}", n in "[.a-c]{0,12}") {
            let _ = matches(&p, &n);
        }
    }
}
