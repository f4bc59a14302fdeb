//! [MS-FSCC] file and file-system information classes (2.4, 2.5) that QUERY_INFO returns and
//! SET_INFO carries, the FILE_ATTRIBUTE_* (2.6) and file-system attribute (2.5.1) bits, and the
//! FILETIME ↔ unix time conversion.
//!
//! Each class is a struct implementing [`InfoClass`]: `decode(&[u8])` reads it from the start of
//! a QUERY_INFO output / SET_INFO input buffer (bytes after the structure are ignored, as
//! Windows does; a buffer that is too short is [`DecodeError::Truncated`], which a server
//! answers with STATUS_INFO_LENGTH_MISMATCH), `encode()` produces its bytes. Names are
//! UTF-16LE on the wire and `String` here, capped at [`limits::PATH_MAX`] bytes.

use crate::smb2::le::{Reader, Writer, from_utf16le, utf16le};
use crate::smb2::limits;
use crate::smb2::security::Sid;
use crate::wire::DecodeError;

/// Seconds between 1601-01-01 (the FILETIME epoch) and 1970-01-01.
pub const FILETIME_UNIX_EPOCH_SECS: i64 = 11_644_473_600;
const TICKS_PER_SEC: i128 = 10_000_000;

/// A FILETIME ([MS-DTYP] 2.3.3: 100 ns ticks since 1601-01-01 UTC) for a unix time.
/// Saturates: times before 1601 become 0, times past the largest valid FILETIME (`i64::MAX`
/// ticks) become `i64::MAX`; the special SET_INFO values 0 and `u64::MAX` (−1) are never
/// produced for a time after 1601.
pub fn filetime_from_unix(secs: i64, nanos: u32) -> u64 {
    let ticks = (i128::from(secs) + i128::from(FILETIME_UNIX_EPOCH_SECS)) * TICKS_PER_SEC
        + i128::from(nanos.min(999_999_999) / 100);
    ticks.clamp(0, i128::from(i64::MAX)) as u64
}

/// The unix time (seconds, nanoseconds) of a FILETIME. Values above `i64::MAX` ticks (not
/// valid FILETIMEs) are treated as `i64::MAX` ticks.
pub fn unix_from_filetime(ft: u64) -> (i64, u32) {
    let ticks = i128::from(ft.min(i64::MAX as u64));
    let secs = ticks.div_euclid(TICKS_PER_SEC) as i64 - FILETIME_UNIX_EPOCH_SECS;
    let nanos = (ticks.rem_euclid(TICKS_PER_SEC) * 100) as u32;
    (secs, nanos)
}

/// FILE_ATTRIBUTE_* ([MS-FSCC] 2.6).
pub mod attributes {
    /// FILE_ATTRIBUTE_READONLY.
    pub const READONLY: u32 = 0x0000_0001;
    /// FILE_ATTRIBUTE_HIDDEN.
    pub const HIDDEN: u32 = 0x0000_0002;
    /// FILE_ATTRIBUTE_SYSTEM.
    pub const SYSTEM: u32 = 0x0000_0004;
    /// FILE_ATTRIBUTE_DIRECTORY.
    pub const DIRECTORY: u32 = 0x0000_0010;
    /// FILE_ATTRIBUTE_ARCHIVE.
    pub const ARCHIVE: u32 = 0x0000_0020;
    /// FILE_ATTRIBUTE_NORMAL: no other attribute set (only valid alone).
    pub const NORMAL: u32 = 0x0000_0080;
    /// FILE_ATTRIBUTE_TEMPORARY.
    pub const TEMPORARY: u32 = 0x0000_0100;
    /// FILE_ATTRIBUTE_SPARSE_FILE.
    pub const SPARSE_FILE: u32 = 0x0000_0200;
    /// FILE_ATTRIBUTE_REPARSE_POINT.
    pub const REPARSE_POINT: u32 = 0x0000_0400;
    /// FILE_ATTRIBUTE_COMPRESSED.
    pub const COMPRESSED: u32 = 0x0000_0800;
    /// FILE_ATTRIBUTE_OFFLINE.
    pub const OFFLINE: u32 = 0x0000_1000;
    /// FILE_ATTRIBUTE_NOT_CONTENT_INDEXED.
    pub const NOT_CONTENT_INDEXED: u32 = 0x0000_2000;
    /// FILE_ATTRIBUTE_ENCRYPTED.
    pub const ENCRYPTED: u32 = 0x0000_4000;
    /// FILE_ATTRIBUTE_INTEGRITY_STREAM.
    pub const INTEGRITY_STREAM: u32 = 0x0000_8000;
    /// FILE_ATTRIBUTE_NO_SCRUB_DATA.
    pub const NO_SCRUB_DATA: u32 = 0x0002_0000;
    /// FILE_ATTRIBUTE_RECALL_ON_OPEN.
    pub const RECALL_ON_OPEN: u32 = 0x0004_0000;
    /// FILE_ATTRIBUTE_PINNED.
    pub const PINNED: u32 = 0x0008_0000;
    /// FILE_ATTRIBUTE_UNPINNED.
    pub const UNPINNED: u32 = 0x0010_0000;
    /// FILE_ATTRIBUTE_RECALL_ON_DATA_ACCESS.
    pub const RECALL_ON_DATA_ACCESS: u32 = 0x0040_0000;
}

/// File-system attribute flags of FileFsAttributeInformation ([MS-FSCC] 2.5.1).
pub mod fs_attributes {
    /// FILE_CASE_SENSITIVE_SEARCH.
    pub const CASE_SENSITIVE_SEARCH: u32 = 0x0000_0001;
    /// FILE_CASE_PRESERVED_NAMES.
    pub const CASE_PRESERVED_NAMES: u32 = 0x0000_0002;
    /// FILE_UNICODE_ON_DISK.
    pub const UNICODE_ON_DISK: u32 = 0x0000_0004;
    /// FILE_PERSISTENT_ACLS.
    pub const PERSISTENT_ACLS: u32 = 0x0000_0008;
    /// FILE_FILE_COMPRESSION.
    pub const FILE_COMPRESSION: u32 = 0x0000_0010;
    /// FILE_VOLUME_QUOTAS.
    pub const VOLUME_QUOTAS: u32 = 0x0000_0020;
    /// FILE_SUPPORTS_SPARSE_FILES.
    pub const SUPPORTS_SPARSE_FILES: u32 = 0x0000_0040;
    /// FILE_SUPPORTS_REPARSE_POINTS.
    pub const SUPPORTS_REPARSE_POINTS: u32 = 0x0000_0080;
    /// FILE_SUPPORTS_REMOTE_STORAGE.
    pub const SUPPORTS_REMOTE_STORAGE: u32 = 0x0000_0100;
    /// FILE_VOLUME_IS_COMPRESSED.
    pub const VOLUME_IS_COMPRESSED: u32 = 0x0000_8000;
    /// FILE_SUPPORTS_OBJECT_IDS.
    pub const SUPPORTS_OBJECT_IDS: u32 = 0x0001_0000;
    /// FILE_SUPPORTS_ENCRYPTION.
    pub const SUPPORTS_ENCRYPTION: u32 = 0x0002_0000;
    /// FILE_NAMED_STREAMS.
    pub const NAMED_STREAMS: u32 = 0x0004_0000;
    /// FILE_READ_ONLY_VOLUME.
    pub const READ_ONLY_VOLUME: u32 = 0x0008_0000;
    /// FILE_SEQUENTIAL_WRITE_ONCE.
    pub const SEQUENTIAL_WRITE_ONCE: u32 = 0x0010_0000;
    /// FILE_SUPPORTS_TRANSACTIONS.
    pub const SUPPORTS_TRANSACTIONS: u32 = 0x0020_0000;
    /// FILE_SUPPORTS_HARD_LINKS.
    pub const SUPPORTS_HARD_LINKS: u32 = 0x0040_0000;
    /// FILE_SUPPORTS_EXTENDED_ATTRIBUTES.
    pub const SUPPORTS_EXTENDED_ATTRIBUTES: u32 = 0x0080_0000;
    /// FILE_SUPPORTS_OPEN_BY_FILE_ID.
    pub const SUPPORTS_OPEN_BY_FILE_ID: u32 = 0x0100_0000;
    /// FILE_SUPPORTS_USN_JOURNAL.
    pub const SUPPORTS_USN_JOURNAL: u32 = 0x0200_0000;
    /// FILE_SUPPORTS_INTEGRITY_STREAMS.
    pub const SUPPORTS_INTEGRITY_STREAMS: u32 = 0x0400_0000;
    /// FILE_SUPPORTS_BLOCK_REFCOUNTING.
    pub const SUPPORTS_BLOCK_REFCOUNTING: u32 = 0x0800_0000;
    /// FILE_SUPPORTS_SPARSE_VDL.
    pub const SUPPORTS_SPARSE_VDL: u32 = 0x1000_0000;
    /// FILE_DAX_VOLUME.
    pub const DAX_VOLUME: u32 = 0x2000_0000;
    /// FILE_SUPPORTS_GHOSTING.
    pub const SUPPORTS_GHOSTING: u32 = 0x4000_0000;
}

/// FileDispositionInformationEx flags ([MS-FSCC] 2.4.12).
pub mod disposition_ex {
    /// FILE_DISPOSITION_DO_NOT_DELETE.
    pub const DO_NOT_DELETE: u32 = 0x0000_0000;
    /// FILE_DISPOSITION_DELETE.
    pub const DELETE: u32 = 0x0000_0001;
    /// FILE_DISPOSITION_POSIX_SEMANTICS.
    pub const POSIX_SEMANTICS: u32 = 0x0000_0002;
    /// FILE_DISPOSITION_FORCE_IMAGE_SECTION_CHECK.
    pub const FORCE_IMAGE_SECTION_CHECK: u32 = 0x0000_0004;
    /// FILE_DISPOSITION_ON_CLOSE.
    pub const ON_CLOSE: u32 = 0x0000_0008;
    /// FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE.
    pub const IGNORE_READONLY_ATTRIBUTE: u32 = 0x0000_0010;
}

/// The `InfoType` of QUERY_INFO / SET_INFO ([MS-SMB2] 2.2.37), an open set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InfoType(pub u8);

impl InfoType {
    /// SMB2_0_INFO_FILE.
    pub const FILE: Self = Self(1);
    /// SMB2_0_INFO_FILESYSTEM.
    pub const FILESYSTEM: Self = Self(2);
    /// SMB2_0_INFO_SECURITY.
    pub const SECURITY: Self = Self(3);
    /// SMB2_0_INFO_QUOTA.
    pub const QUOTA: Self = Self(4);
}

/// File information classes ([MS-FSCC] 2.4), an open set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileInfoClass(pub u8);

impl FileInfoClass {
    /// FileDirectoryInformation (QUERY_DIRECTORY).
    pub const DIRECTORY: Self = Self(1);
    /// FileFullDirectoryInformation (QUERY_DIRECTORY).
    pub const FULL_DIRECTORY: Self = Self(2);
    /// FileBothDirectoryInformation (QUERY_DIRECTORY).
    pub const BOTH_DIRECTORY: Self = Self(3);
    /// FileBasicInformation.
    pub const BASIC: Self = Self(4);
    /// FileStandardInformation.
    pub const STANDARD: Self = Self(5);
    /// FileInternalInformation.
    pub const INTERNAL: Self = Self(6);
    /// FileEaInformation.
    pub const EA: Self = Self(7);
    /// FileAccessInformation.
    pub const ACCESS: Self = Self(8);
    /// FileNameInformation.
    pub const NAME: Self = Self(9);
    /// FileRenameInformation.
    pub const RENAME: Self = Self(10);
    /// FileLinkInformation.
    pub const LINK: Self = Self(11);
    /// FileNamesInformation (QUERY_DIRECTORY).
    pub const NAMES: Self = Self(12);
    /// FileDispositionInformation.
    pub const DISPOSITION: Self = Self(13);
    /// FilePositionInformation.
    pub const POSITION: Self = Self(14);
    /// FileFullEaInformation.
    pub const FULL_EA: Self = Self(15);
    /// FileModeInformation.
    pub const MODE: Self = Self(16);
    /// FileAlignmentInformation.
    pub const ALIGNMENT: Self = Self(17);
    /// FileAllInformation.
    pub const ALL: Self = Self(18);
    /// FileAllocationInformation.
    pub const ALLOCATION: Self = Self(19);
    /// FileEndOfFileInformation.
    pub const END_OF_FILE: Self = Self(20);
    /// FileAlternateNameInformation.
    pub const ALTERNATE_NAME: Self = Self(21);
    /// FileStreamInformation.
    pub const STREAM: Self = Self(22);
    /// FilePipeInformation.
    pub const PIPE: Self = Self(23);
    /// FileCompressionInformation.
    pub const COMPRESSION: Self = Self(28);
    /// FileNetworkOpenInformation.
    pub const NETWORK_OPEN: Self = Self(34);
    /// FileAttributeTagInformation.
    pub const ATTRIBUTE_TAG: Self = Self(35);
    /// FileIdBothDirectoryInformation (QUERY_DIRECTORY).
    pub const ID_BOTH_DIRECTORY: Self = Self(37);
    /// FileIdFullDirectoryInformation (QUERY_DIRECTORY).
    pub const ID_FULL_DIRECTORY: Self = Self(38);
    /// FileValidDataLengthInformation.
    pub const VALID_DATA_LENGTH: Self = Self(39);
    /// FileShortNameInformation.
    pub const SHORT_NAME: Self = Self(40);
    /// FileNormalizedNameInformation.
    pub const NORMALIZED_NAME: Self = Self(48);
    /// FileIdInformation.
    pub const ID: Self = Self(59);
    /// FileDispositionInformationEx.
    pub const DISPOSITION_EX: Self = Self(64);
    /// FileRenameInformationEx.
    pub const RENAME_EX: Self = Self(65);
    /// SMB3.1.1 POSIX extensions: SMB2_FILE_POSIX_INFORMATION (Samba, Linux cifs).
    pub const POSIX: Self = Self(100);
}

/// File-system information classes ([MS-FSCC] 2.5), an open set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FsInfoClass(pub u8);

impl FsInfoClass {
    /// FileFsVolumeInformation.
    pub const VOLUME: Self = Self(1);
    /// FileFsLabelInformation.
    pub const LABEL: Self = Self(2);
    /// FileFsSizeInformation.
    pub const SIZE: Self = Self(3);
    /// FileFsDeviceInformation.
    pub const DEVICE: Self = Self(4);
    /// FileFsAttributeInformation.
    pub const ATTRIBUTE: Self = Self(5);
    /// FileFsControlInformation.
    pub const CONTROL: Self = Self(6);
    /// FileFsFullSizeInformation.
    pub const FULL_SIZE: Self = Self(7);
    /// FileFsObjectIdInformation.
    pub const OBJECT_ID: Self = Self(8);
    /// FileFsSectorSizeInformation.
    pub const SECTOR_SIZE: Self = Self(11);
    /// SMB3.1.1 POSIX extensions: SMB2_FS_POSIX_INFORMATION (Samba, Linux cifs).
    pub const POSIX: Self = Self(100);
}

/// One [MS-FSCC] information class: its info type and class number and its codec.
pub trait InfoClass: Sized {
    /// [`InfoType::FILE`] or [`InfoType::FILESYSTEM`].
    const INFO_TYPE: InfoType;
    /// The class number (`FileInfoClass` in QUERY_INFO / SET_INFO).
    const CLASS: u8;
    /// The fixed part's size: a QUERY_INFO whose OutputBufferLength is smaller fails with
    /// STATUS_INFO_LENGTH_MISMATCH; a larger one that cannot hold everything gets the
    /// truncated structure with STATUS_BUFFER_OVERFLOW ([MS-SMB2] 3.3.5.20.1; see [`fit_output`]).
    const MIN_SIZE: usize;
    /// Reads the structure at the reader's position.
    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError>;
    /// Appends the structure.
    fn write(&self, w: &mut Writer);

    /// Decodes from the start of `b`, ignoring bytes after the structure.
    fn decode(b: &[u8]) -> Result<Self, DecodeError> {
        Self::read(&mut Reader::new(b))
    }

    /// The structure's bytes.
    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_inner()
    }
}

/// How an encoded information class fits a QUERY_INFO OutputBufferLength.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FitOutput {
    /// Everything fits: STATUS_SUCCESS.
    Complete(Vec<u8>),
    /// Cut to OutputBufferLength: STATUS_BUFFER_OVERFLOW (a warning; the data is sent).
    Overflow(Vec<u8>),
    /// Not even the fixed part fits: STATUS_INFO_LENGTH_MISMATCH, no data.
    TooSmall,
}

/// Fits `encoded` (a class whose fixed part is `min_size` bytes, [`InfoClass::MIN_SIZE`]) to
/// the client's `output_buffer_length` ([MS-SMB2] 3.3.5.20.1). Length fields inside the cut
/// structure keep the full length, as Windows sends them.
pub fn fit_output(mut encoded: Vec<u8>, min_size: usize, output_buffer_length: u32) -> FitOutput {
    let max = output_buffer_length as usize;
    if max < min_size {
        FitOutput::TooSmall
    } else if encoded.len() <= max {
        FitOutput::Complete(encoded)
    } else {
        encoded.truncate(max);
        FitOutput::Overflow(encoded)
    }
}

/// FILE_GET_EA_INFORMATION ([MS-FSCC] 2.4.15.1): the EA names a QUERY_INFO for
/// FileFullEaInformation may list in its input buffer. Returns the names (without NULs).
pub fn decode_get_ea_list(b: &[u8]) -> Result<Vec<Vec<u8>>, DecodeError> {
    if b.is_empty() {
        return Ok(Vec::new());
    }
    walk_list(b, "FileGetEaInformation.NextEntryOffset", |e| {
        let mut er = Reader::new(e);
        er.skip(4, "GetEa.NextEntryOffset")?;
        let len = usize::from(er.u8("GetEa.EaNameLength")?);
        let name = er.bytes(len, "GetEa.EaName")?.to_vec();
        let nul = er.u8("GetEa.EaName")?;
        if nul != 0 {
            return Err(DecodeError::InvalidValue {
                field: "GetEa.EaName",
                value: nul.into(),
            });
        }
        Ok((name, er.pos()))
    })
}

/// The FILE_GET_EA_INFORMATION list for `names` (4-byte aligned entries; names longer than
/// 255 bytes are cut).
pub fn encode_get_ea_list(names: &[Vec<u8>]) -> Vec<u8> {
    let mut w = Writer::new();
    write_list(&mut w, names, 4, |n, w| {
        let n = &n[..n.len().min(255)];
        w.u32(0);
        w.u8(n.len() as u8);
        w.bytes(n);
        w.u8(0);
    });
    w.into_inner()
}

/// Reads a `u32` byte length and that many bytes of UTF-16LE name.
fn read_name32(r: &mut Reader<'_>, field: &'static str) -> Result<String, DecodeError> {
    let len = r.u32(field)? as usize;
    read_name(r, len, field)
}

fn read_name(r: &mut Reader<'_>, len: usize, field: &'static str) -> Result<String, DecodeError> {
    if len > limits::PATH_MAX {
        return Err(DecodeError::TooLong {
            field,
            len: len as u64,
            max: limits::PATH_MAX as u64,
        });
    }
    from_utf16le(r.bytes(len, field)?, field)
}

fn write_name32(w: &mut Writer, name: &str) {
    let b = utf16le(name);
    w.u32(b.len() as u32);
    w.bytes(&b);
}

/// Zero bytes until `w` is `align`-aligned relative to `base`.
fn pad_from(w: &mut Writer, base: usize, align: usize) {
    let rel = w.len() - base;
    w.zeros(rel.next_multiple_of(align) - rel);
}

/// Declares a fixed-layout information class: fields are read and written in order.
macro_rules! fixed_class {
    (
        $(#[$meta:meta])*
        $name:ident: $ty:ident, $class:expr, size $size:expr;
        $( $(#[$fmeta:meta])* $field:ident: $fty:tt ),* $(,)?
        $(; reserved $res:expr)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: fixed_class!(@ty $fty), )*
        }

        impl $name {
            /// The structure's size on the wire.
            pub const SIZE: usize = $size;
        }

        impl InfoClass for $name {
            const INFO_TYPE: InfoType = InfoType::$ty;
            const CLASS: u8 = $class;
            const MIN_SIZE: usize = $size;

            fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let v = Self {
                    $( $field: fixed_class!(@read r, $fty, concat!(stringify!($name), ".", stringify!($field))), )*
                };
                $( r.skip($res, concat!(stringify!($name), ".Reserved"))?; )?
                Ok(v)
            }

            fn write(&self, w: &mut Writer) {
                $( fixed_class!(@write w, $fty, self.$field); )*
                $( w.zeros($res); )?
            }
        }
    };
    (@ty u8) => { u8 };
    (@ty u16) => { u16 };
    (@ty u32) => { u32 };
    (@ty u64) => { u64 };
    (@ty bool) => { bool };
    (@ty guid) => { [u8; 16] };
    (@read $r:ident, u8, $f:expr) => { $r.u8($f)? };
    (@read $r:ident, u16, $f:expr) => { $r.u16($f)? };
    (@read $r:ident, u32, $f:expr) => { $r.u32($f)? };
    (@read $r:ident, u64, $f:expr) => { $r.u64($f)? };
    (@read $r:ident, bool, $f:expr) => { $r.u8($f)? != 0 };
    (@read $r:ident, guid, $f:expr) => { $r.guid($f)? };
    (@write $w:ident, u8, $v:expr) => { $w.u8($v) };
    (@write $w:ident, u16, $v:expr) => { $w.u16($v) };
    (@write $w:ident, u32, $v:expr) => { $w.u32($v) };
    (@write $w:ident, u64, $v:expr) => { $w.u64($v) };
    (@write $w:ident, bool, $v:expr) => { $w.u8(u8::from($v)) };
    (@write $w:ident, guid, $v:expr) => { $w.bytes(&$v) };
}

fixed_class! {
    /// FileBasicInformation ([MS-FSCC] 2.4.7): times as FILETIMEs (in SET_INFO, 0 means
    /// "leave unchanged" and `u64::MAX` "stop updating"), and the attributes (0 in SET_INFO
    /// means unchanged).
    FileBasicInformation: FILE, 4, size 40;
    /// CreationTime.
    creation_time: u64,
    /// LastAccessTime.
    last_access_time: u64,
    /// LastWriteTime.
    last_write_time: u64,
    /// ChangeTime.
    change_time: u64,
    /// FileAttributes (see [`attributes`]).
    file_attributes: u32;
    reserved 4
}

fixed_class! {
    /// FileStandardInformation ([MS-FSCC] 2.4.41).
    FileStandardInformation: FILE, 5, size 24;
    /// AllocationSize.
    allocation_size: u64,
    /// EndOfFile.
    end_of_file: u64,
    /// NumberOfLinks.
    number_of_links: u32,
    /// DeletePending.
    delete_pending: bool,
    /// Directory.
    directory: bool;
    reserved 2
}

fixed_class! {
    /// FileInternalInformation ([MS-FSCC] 2.4.22): the file's 64-bit id.
    FileInternalInformation: FILE, 6, size 8;
    /// IndexNumber.
    index_number: u64
}

fixed_class! {
    /// FileEaInformation ([MS-FSCC] 2.4.13).
    FileEaInformation: FILE, 7, size 4;
    /// EaSize: bytes of the FILE_FULL_EA_INFORMATION list.
    ea_size: u32
}

fixed_class! {
    /// FileAccessInformation ([MS-FSCC] 2.4.1): the open's granted access.
    FileAccessInformation: FILE, 8, size 4;
    /// AccessFlags.
    access_flags: u32
}

fixed_class! {
    /// FileDispositionInformation ([MS-FSCC] 2.4.11).
    FileDispositionInformation: FILE, 13, size 1;
    /// DeletePending.
    delete_pending: bool
}

fixed_class! {
    /// FilePositionInformation ([MS-FSCC] 2.4.35).
    FilePositionInformation: FILE, 14, size 8;
    /// CurrentByteOffset.
    current_byte_offset: u64
}

fixed_class! {
    /// FileModeInformation ([MS-FSCC] 2.4.26).
    FileModeInformation: FILE, 16, size 4;
    /// Mode (FILE_WRITE_THROUGH, FILE_SEQUENTIAL_ONLY, ...).
    mode: u32
}

fixed_class! {
    /// FileAlignmentInformation ([MS-FSCC] 2.4.3).
    FileAlignmentInformation: FILE, 17, size 4;
    /// AlignmentRequirement (0 = byte aligned).
    alignment_requirement: u32
}

fixed_class! {
    /// FileAllocationInformation ([MS-FSCC] 2.4.4).
    FileAllocationInformation: FILE, 19, size 8;
    /// AllocationSize.
    allocation_size: u64
}

fixed_class! {
    /// FileEndOfFileInformation ([MS-FSCC] 2.4.14).
    FileEndOfFileInformation: FILE, 20, size 8;
    /// EndOfFile.
    end_of_file: u64
}

fixed_class! {
    /// FileCompressionInformation ([MS-FSCC] 2.4.9).
    FileCompressionInformation: FILE, 28, size 16;
    /// CompressedFileSize.
    compressed_file_size: u64,
    /// CompressionFormat (0 = COMPRESSION_FORMAT_NONE).
    compression_format: u16,
    /// CompressionUnitShift.
    compression_unit_shift: u8,
    /// ChunkShift.
    chunk_shift: u8,
    /// ClusterShift.
    cluster_shift: u8;
    reserved 3
}

fixed_class! {
    /// FileNetworkOpenInformation ([MS-FSCC] 2.4.29).
    FileNetworkOpenInformation: FILE, 34, size 56;
    /// CreationTime.
    creation_time: u64,
    /// LastAccessTime.
    last_access_time: u64,
    /// LastWriteTime.
    last_write_time: u64,
    /// ChangeTime.
    change_time: u64,
    /// AllocationSize.
    allocation_size: u64,
    /// EndOfFile.
    end_of_file: u64,
    /// FileAttributes.
    file_attributes: u32;
    reserved 4
}

fixed_class! {
    /// FileAttributeTagInformation ([MS-FSCC] 2.4.6).
    FileAttributeTagInformation: FILE, 35, size 8;
    /// FileAttributes.
    file_attributes: u32,
    /// ReparseTag (0 unless FILE_ATTRIBUTE_REPARSE_POINT).
    reparse_tag: u32
}

fixed_class! {
    /// FileDispositionInformationEx ([MS-FSCC] 2.4.12).
    FileDispositionInformationEx: FILE, 64, size 4;
    /// Flags (see [`disposition_ex`]).
    flags: u32
}

fixed_class! {
    /// FilePipeInformation ([MS-FSCC] 2.4.33).
    FilePipeInformation: FILE, 23, size 8;
    /// ReadMode (0 byte stream, 1 message).
    read_mode: u32,
    /// CompletionMode (0 queue, 1 complete).
    completion_mode: u32
}

fixed_class! {
    /// FileValidDataLengthInformation ([MS-FSCC] 2.4.49).
    FileValidDataLengthInformation: FILE, 39, size 8;
    /// ValidDataLength.
    valid_data_length: u64
}

fixed_class! {
    /// FileIdInformation ([MS-FSCC] 2.4.23): the volume serial number and a 128-bit file id.
    FileIdInformation: FILE, 59, size 24;
    /// VolumeSerialNumber.
    volume_serial_number: u64,
    /// FileId: 16 bytes.
    file_id: guid
}

fixed_class! {
    /// FileFsControlInformation ([MS-FSCC] 2.5.2): quota settings.
    FileFsControlInformation: FILESYSTEM, 6, size 48;
    /// FreeSpaceStartFiltering.
    free_space_start_filtering: u64,
    /// FreeSpaceThreshold.
    free_space_threshold: u64,
    /// FreeSpaceStopFiltering.
    free_space_stop_filtering: u64,
    /// DefaultQuotaThreshold.
    default_quota_threshold: u64,
    /// DefaultQuotaLimit.
    default_quota_limit: u64,
    /// FileSystemControlFlags.
    file_system_control_flags: u32;
    reserved 4
}

fixed_class! {
    /// FileFsSizeInformation ([MS-FSCC] 2.5.8).
    FileFsSizeInformation: FILESYSTEM, 3, size 24;
    /// TotalAllocationUnits.
    total_allocation_units: u64,
    /// AvailableAllocationUnits.
    available_allocation_units: u64,
    /// SectorsPerAllocationUnit.
    sectors_per_allocation_unit: u32,
    /// BytesPerSector.
    bytes_per_sector: u32
}

fixed_class! {
    /// FileFsDeviceInformation ([MS-FSCC] 2.5.10).
    FileFsDeviceInformation: FILESYSTEM, 4, size 8;
    /// DeviceType (FILE_DEVICE_DISK = 7).
    device_type: u32,
    /// Characteristics (FILE_REMOTE_DEVICE 0x10, FILE_DEVICE_IS_MOUNTED 0x20, ...).
    characteristics: u32
}

fixed_class! {
    /// FileFsFullSizeInformation ([MS-FSCC] 2.5.4).
    FileFsFullSizeInformation: FILESYSTEM, 7, size 32;
    /// TotalAllocationUnits.
    total_allocation_units: u64,
    /// CallerAvailableAllocationUnits.
    caller_available_allocation_units: u64,
    /// ActualAvailableAllocationUnits.
    actual_available_allocation_units: u64,
    /// SectorsPerAllocationUnit.
    sectors_per_allocation_unit: u32,
    /// BytesPerSector.
    bytes_per_sector: u32
}

fixed_class! {
    /// FileFsSectorSizeInformation ([MS-FSCC] 2.5.7).
    FileFsSectorSizeInformation: FILESYSTEM, 11, size 28;
    /// LogicalBytesPerSector.
    logical_bytes_per_sector: u32,
    /// PhysicalBytesPerSectorForAtomicity.
    physical_bytes_per_sector_for_atomicity: u32,
    /// PhysicalBytesPerSectorForPerformance.
    physical_bytes_per_sector_for_performance: u32,
    /// FileSystemEffectivePhysicalBytesPerSectorForAtomicity.
    effective_physical_bytes_per_sector_for_atomicity: u32,
    /// Flags (SSINFO_FLAGS_*).
    flags: u32,
    /// ByteOffsetForSectorAlignment.
    byte_offset_for_sector_alignment: u32,
    /// ByteOffsetForPartitionAlignment.
    byte_offset_for_partition_alignment: u32
}

fixed_class! {
    /// SMB2_FS_POSIX_INFORMATION (class 100 of the SMB3.1.1 POSIX extensions, as Samba and
    /// Linux cifs lay it out: FILE_SYSTEM_POSIX_INFO).
    FileFsPosixInformation: FILESYSTEM, 100, size 56;
    /// OptimalTransferSize.
    optimal_transfer_size: u32,
    /// BlockSize.
    block_size: u32,
    /// TotalBlocks.
    total_blocks: u64,
    /// BlocksAvail (free blocks).
    blocks_avail: u64,
    /// UserBlocksAvail (free blocks for unprivileged users).
    user_blocks_avail: u64,
    /// TotalFileNodes.
    total_file_nodes: u64,
    /// FreeFileNodes.
    free_file_nodes: u64,
    /// FileSysIdentifier.
    file_sys_identifier: u64
}

/// SSINFO_FLAGS_* of FileFsSectorSizeInformation ([MS-FSCC] 2.5.7).
pub mod sector_size_flags {
    /// SSINFO_FLAGS_ALIGNED_DEVICE.
    pub const ALIGNED_DEVICE: u32 = 0x1;
    /// SSINFO_FLAGS_PARTITION_ALIGNED_ON_DEVICE.
    pub const PARTITION_ALIGNED_ON_DEVICE: u32 = 0x2;
    /// SSINFO_FLAGS_NO_SEEK_PENALTY.
    pub const NO_SEEK_PENALTY: u32 = 0x4;
    /// SSINFO_FLAGS_TRIM_ENABLED.
    pub const TRIM_ENABLED: u32 = 0x8;
}

/// FILE_DEVICE_DISK, the DeviceType of FileFsDeviceInformation for a disk share.
pub const FILE_DEVICE_DISK: u32 = 0x0000_0007;
/// FILE_REMOTE_DEVICE characteristic.
pub const FILE_REMOTE_DEVICE: u32 = 0x0000_0010;
/// FILE_DEVICE_IS_MOUNTED characteristic.
pub const FILE_DEVICE_IS_MOUNTED: u32 = 0x0000_0020;

/// Declares a class that is a `u32` byte length and a UTF-16 name.
macro_rules! name_class {
    ($(#[$meta:meta])* $name:ident, $class:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// FileName.
            pub file_name: String,
        }

        impl InfoClass for $name {
            const INFO_TYPE: InfoType = InfoType::FILE;
            const CLASS: u8 = $class;
            const MIN_SIZE: usize = 4;

            fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                Ok(Self {
                    file_name: read_name32(r, concat!(stringify!($name), ".FileName"))?,
                })
            }

            fn write(&self, w: &mut Writer) {
                write_name32(w, &self.file_name);
            }
        }
    };
}

name_class! {
    /// FileNameInformation ([MS-FSCC] 2.4.28): FileNameLength and FileName.
    FileNameInformation, 9
}
name_class! {
    /// FileAlternateNameInformation ([MS-FSCC] 2.4.5): the 8.3 name.
    FileAlternateNameInformation, 21
}
name_class! {
    /// FileNormalizedNameInformation ([MS-FSCC] 2.4.30).
    FileNormalizedNameInformation, 48
}
name_class! {
    /// FileShortNameInformation ([MS-FSCC] 2.4.39): sets the 8.3 name.
    FileShortNameInformation, 40
}

/// Declares the SMB2 shape of FileRenameInformation / FileLinkInformation.
macro_rules! rename_class {
    ($(#[$meta:meta])* $name:ident, $class:expr) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            /// ReplaceIfExists.
            pub replace_if_exists: bool,
            /// RootDirectory: must be 0 over SMB2.
            pub root_directory: u64,
            /// FileName: the target path relative to the share root.
            pub file_name: String,
        }

        impl InfoClass for $name {
            const INFO_TYPE: InfoType = InfoType::FILE;
            const CLASS: u8 = $class;
            const MIN_SIZE: usize = 20;

            fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                let replace_if_exists = r.u8(concat!(stringify!($name), ".ReplaceIfExists"))? != 0;
                r.skip(7, concat!(stringify!($name), ".Reserved"))?;
                let root_directory = r.u64(concat!(stringify!($name), ".RootDirectory"))?;
                let file_name = read_name32(r, concat!(stringify!($name), ".FileName"))?;
                Ok(Self {
                    replace_if_exists,
                    root_directory,
                    file_name,
                })
            }

            fn write(&self, w: &mut Writer) {
                w.u8(u8::from(self.replace_if_exists));
                w.zeros(7);
                w.u64(self.root_directory);
                write_name32(w, &self.file_name);
            }
        }
    };
}

rename_class! {
    /// FileRenameInformation, SMB2 form ([MS-FSCC] 2.4.37.2): ReplaceIfExists, 7 reserved
    /// bytes, RootDirectory (u64), FileNameLength, FileName.
    FileRenameInformation, 10
}
rename_class! {
    /// FileLinkInformation, SMB2 form ([MS-FSCC] 2.4.24.2): same layout as
    /// [`FileRenameInformation`].
    FileLinkInformation, 11
}

/// The most entries we decode from an EA or stream list (each costs an allocation).
pub const LIST_ENTRIES_MAX: usize = 4096;

/// One FILE_FULL_EA_INFORMATION entry ([MS-FSCC] 2.4.15).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FullEa {
    /// Flags (FILE_NEED_EA 0x80).
    pub flags: u8,
    /// EaName: 8-bit characters, without the terminating NUL.
    pub name: Vec<u8>,
    /// EaValue.
    pub value: Vec<u8>,
}

/// FileFullEaInformation ([MS-FSCC] 2.4.15): a list of FILE_FULL_EA_INFORMATION entries,
/// each 4-byte aligned and linked by NextEntryOffset.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileFullEaInformation {
    /// The entries, in order.
    pub entries: Vec<FullEa>,
}

/// Walks a NextEntryOffset-linked list in `b`, calling `entry` on each entry's bytes (from
/// its start to the end of the buffer). The offset must move past the entry `entry` parsed
/// (its returned size) and stay inside the buffer.
fn walk_list<T>(
    b: &[u8],
    field: &'static str,
    mut entry: impl FnMut(&[u8]) -> Result<(T, usize), DecodeError>,
) -> Result<Vec<T>, DecodeError> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    loop {
        if out.len() == LIST_ENTRIES_MAX {
            return Err(DecodeError::TooLong {
                field,
                len: out.len() as u64 + 1,
                max: LIST_ENTRIES_MAX as u64,
            });
        }
        let rest = b.get(pos..).ok_or(DecodeError::Truncated { field })?;
        let next = Reader::new(rest).u32(field)? as usize;
        let (v, size) = entry(rest)?;
        out.push(v);
        if next == 0 {
            return Ok(out);
        }
        if next < size || next >= rest.len() {
            return Err(DecodeError::InvalidValue {
                field,
                value: next as u64,
            });
        }
        pos += next;
    }
}

/// Writes entries linked by NextEntryOffset (the first `u32` of each), each aligned to
/// `align` from the list's start.
fn write_list<T>(w: &mut Writer, items: &[T], align: usize, mut one: impl FnMut(&T, &mut Writer)) {
    let base = w.len();
    let mut prev: Option<usize> = None;
    for item in items {
        if let Some(p) = prev {
            pad_from(w, base, align);
            w.patch_u32(p, (w.len() - p) as u32);
        }
        prev = Some(w.len());
        one(item, w);
    }
}

impl FullEa {
    /// Bytes this entry takes without alignment padding.
    pub fn len(&self) -> usize {
        8 + self.name.len() + 1 + self.value.len()
    }

    /// True if the name and value are both empty.
    pub fn is_empty(&self) -> bool {
        self.name.is_empty() && self.value.is_empty()
    }
}

impl InfoClass for FileFullEaInformation {
    const INFO_TYPE: InfoType = InfoType::FILE;
    const CLASS: u8 = 15;
    const MIN_SIZE: usize = 0;

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let b = r.bytes(r.remaining(), "FileFullEaInformation")?;
        let entries = walk_list(b, "FileFullEaInformation.NextEntryOffset", |e| {
            let mut er = Reader::new(e);
            er.skip(4, "FullEa.NextEntryOffset")?;
            let flags = er.u8("FullEa.Flags")?;
            let name_len = usize::from(er.u8("FullEa.EaNameLength")?);
            let value_len = usize::from(er.u16("FullEa.EaValueLength")?);
            let name = er.bytes(name_len, "FullEa.EaName")?.to_vec();
            let nul = er.u8("FullEa.EaName")?;
            if nul != 0 {
                return Err(DecodeError::InvalidValue {
                    field: "FullEa.EaName",
                    value: nul.into(),
                });
            }
            let value = er.bytes(value_len, "FullEa.EaValue")?.to_vec();
            Ok((FullEa { flags, name, value }, er.pos()))
        })?;
        Ok(Self { entries })
    }

    /// Names longer than 255 bytes or values longer than 65535 are cut to fit their length
    /// fields (callers validate EAs before building them).
    fn write(&self, w: &mut Writer) {
        write_list(w, &self.entries, 4, |ea, w| {
            let name = &ea.name[..ea.name.len().min(255)];
            let value = &ea.value[..ea.value.len().min(usize::from(u16::MAX))];
            w.u32(0);
            w.u8(ea.flags);
            w.u8(name.len() as u8);
            w.u16(value.len() as u16);
            w.bytes(name);
            w.u8(0);
            w.bytes(value);
        });
    }
}

/// One FILE_STREAM_INFORMATION entry ([MS-FSCC] 2.4.43).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamEntry {
    /// StreamName, e.g. `::$DATA` for the unnamed data stream or `:name:$DATA`.
    pub name: String,
    /// StreamSize.
    pub size: u64,
    /// StreamAllocationSize.
    pub allocation_size: u64,
}

/// FileStreamInformation ([MS-FSCC] 2.4.43): the file's streams, entries 8-byte aligned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileStreamInformation {
    /// The streams; empty for a directory with no named streams.
    pub streams: Vec<StreamEntry>,
}

impl FileStreamInformation {
    /// The unnamed data stream of a plain file: `::$DATA`.
    pub fn data_only(size: u64, allocation_size: u64) -> Self {
        Self {
            streams: vec![StreamEntry {
                name: "::$DATA".to_owned(),
                size,
                allocation_size,
            }],
        }
    }
}

impl InfoClass for FileStreamInformation {
    const INFO_TYPE: InfoType = InfoType::FILE;
    const CLASS: u8 = 22;
    const MIN_SIZE: usize = 0;

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let b = r.bytes(r.remaining(), "FileStreamInformation")?;
        if b.is_empty() {
            return Ok(Self::default());
        }
        let streams = walk_list(b, "FileStreamInformation.NextEntryOffset", |e| {
            let mut er = Reader::new(e);
            er.skip(4, "Stream.NextEntryOffset")?;
            let len = er.u32("Stream.StreamNameLength")? as usize;
            let size = er.u64("Stream.StreamSize")?;
            let allocation_size = er.u64("Stream.StreamAllocationSize")?;
            let name = read_name(&mut er, len, "Stream.StreamName")?;
            Ok((
                StreamEntry {
                    name,
                    size,
                    allocation_size,
                },
                er.pos(),
            ))
        })?;
        Ok(Self { streams })
    }

    fn write(&self, w: &mut Writer) {
        write_list(w, &self.streams, 8, |s, w| {
            let name = utf16le(&s.name);
            w.u32(0);
            w.u32(name.len() as u32);
            w.u64(s.size);
            w.u64(s.allocation_size);
            w.bytes(&name);
        });
    }
}

/// FileAllInformation ([MS-FSCC] 2.4.2): basic, standard, internal, EA, access, position,
/// mode, alignment and name information in one buffer (100 bytes + the name).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileAllInformation {
    /// BasicInformation.
    pub basic: FileBasicInformation,
    /// StandardInformation.
    pub standard: FileStandardInformation,
    /// InternalInformation.
    pub internal: FileInternalInformation,
    /// EaInformation.
    pub ea: FileEaInformation,
    /// AccessInformation.
    pub access: FileAccessInformation,
    /// PositionInformation.
    pub position: FilePositionInformation,
    /// ModeInformation.
    pub mode: FileModeInformation,
    /// AlignmentInformation.
    pub alignment: FileAlignmentInformation,
    /// NameInformation.
    pub name: FileNameInformation,
}

impl FileAllInformation {
    /// The fixed part's size (everything before the name's characters).
    pub const FIXED_SIZE: usize = 100;
}

impl InfoClass for FileAllInformation {
    const INFO_TYPE: InfoType = InfoType::FILE;
    const CLASS: u8 = 18;
    const MIN_SIZE: usize = Self::FIXED_SIZE;

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            basic: FileBasicInformation::read(r)?,
            standard: FileStandardInformation::read(r)?,
            internal: FileInternalInformation::read(r)?,
            ea: FileEaInformation::read(r)?,
            access: FileAccessInformation::read(r)?,
            position: FilePositionInformation::read(r)?,
            mode: FileModeInformation::read(r)?,
            alignment: FileAlignmentInformation::read(r)?,
            name: FileNameInformation::read(r)?,
        })
    }

    fn write(&self, w: &mut Writer) {
        self.basic.write(w);
        self.standard.write(w);
        self.internal.write(w);
        self.ea.write(w);
        self.access.write(w);
        self.position.write(w);
        self.mode.write(w);
        self.alignment.write(w);
        self.name.write(w);
    }
}

/// SMB2_FILE_POSIX_INFORMATION (class 100 of the SMB3.1.1 POSIX extensions; Samba's
/// `smb3_file_posix_information`, Linux cifs `smb311_posix_qinfo`): the network-open times
/// and sizes, attributes, inode and device, then link count, reparse tag, mode and the owner
/// and group SIDs (variable length, unaligned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilePosixInformation {
    /// CreationTime.
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
    /// DosAttributes.
    pub file_attributes: u32,
    /// Inode.
    pub inode: u64,
    /// DeviceId.
    pub device: u32,
    /// Reserved (Zero).
    pub reserved: u32,
    /// HardLinks.
    pub nlinks: u32,
    /// ReparseTag.
    pub reparse_tag: u32,
    /// Mode: the POSIX permission bits (newer Samba also puts the file type in bits 12..).
    pub mode: u32,
    /// Owner SID.
    pub owner: Sid,
    /// Group SID.
    pub group: Sid,
}

impl InfoClass for FilePosixInformation {
    const INFO_TYPE: InfoType = InfoType::FILE;
    const CLASS: u8 = 100;
    const MIN_SIZE: usize = 80;

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            creation_time: r.u64("PosixInfo.CreationTime")?,
            last_access_time: r.u64("PosixInfo.LastAccessTime")?,
            last_write_time: r.u64("PosixInfo.LastWriteTime")?,
            change_time: r.u64("PosixInfo.ChangeTime")?,
            end_of_file: r.u64("PosixInfo.EndOfFile")?,
            allocation_size: r.u64("PosixInfo.AllocationSize")?,
            file_attributes: r.u32("PosixInfo.DosAttributes")?,
            inode: r.u64("PosixInfo.Inode")?,
            device: r.u32("PosixInfo.DeviceId")?,
            reserved: r.u32("PosixInfo.Zero")?,
            nlinks: r.u32("PosixInfo.HardLinks")?,
            reparse_tag: r.u32("PosixInfo.ReparseTag")?,
            mode: r.u32("PosixInfo.Mode")?,
            owner: Sid::read(r)?,
            group: Sid::read(r)?,
        })
    }

    fn write(&self, w: &mut Writer) {
        w.u64(self.creation_time);
        w.u64(self.last_access_time);
        w.u64(self.last_write_time);
        w.u64(self.change_time);
        w.u64(self.end_of_file);
        w.u64(self.allocation_size);
        w.u32(self.file_attributes);
        w.u64(self.inode);
        w.u32(self.device);
        w.u32(self.reserved);
        w.u32(self.nlinks);
        w.u32(self.reparse_tag);
        w.u32(self.mode);
        self.owner.write(w);
        self.group.write(w);
    }
}

/// FileFsVolumeInformation ([MS-FSCC] 2.5.9).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileFsVolumeInformation {
    /// VolumeCreationTime.
    pub volume_creation_time: u64,
    /// VolumeSerialNumber.
    pub volume_serial_number: u32,
    /// SupportsObjects.
    pub supports_objects: bool,
    /// VolumeLabel.
    pub volume_label: String,
}

impl InfoClass for FileFsVolumeInformation {
    const INFO_TYPE: InfoType = InfoType::FILESYSTEM;
    const CLASS: u8 = 1;
    const MIN_SIZE: usize = 18;

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let volume_creation_time = r.u64("FsVolume.VolumeCreationTime")?;
        let volume_serial_number = r.u32("FsVolume.VolumeSerialNumber")?;
        let len = r.u32("FsVolume.VolumeLabelLength")? as usize;
        let supports_objects = r.u8("FsVolume.SupportsObjects")? != 0;
        r.skip(1, "FsVolume.Reserved")?;
        let volume_label = read_name(r, len, "FsVolume.VolumeLabel")?;
        Ok(Self {
            volume_creation_time,
            volume_serial_number,
            supports_objects,
            volume_label,
        })
    }

    fn write(&self, w: &mut Writer) {
        let label = utf16le(&self.volume_label);
        w.u64(self.volume_creation_time);
        w.u32(self.volume_serial_number);
        w.u32(label.len() as u32);
        w.u8(u8::from(self.supports_objects));
        w.u8(0);
        w.bytes(&label);
    }
}

/// FileFsAttributeInformation ([MS-FSCC] 2.5.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileFsAttributeInformation {
    /// FileSystemAttributes (see [`fs_attributes`]).
    pub file_system_attributes: u32,
    /// MaximumComponentNameLength (255 for most file systems).
    pub maximum_component_name_length: u32,
    /// FileSystemName, e.g. "NTFS".
    pub file_system_name: String,
}

impl InfoClass for FileFsAttributeInformation {
    const INFO_TYPE: InfoType = InfoType::FILESYSTEM;
    const CLASS: u8 = 5;
    const MIN_SIZE: usize = 12;

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            file_system_attributes: r.u32("FsAttribute.FileSystemAttributes")?,
            maximum_component_name_length: r.u32("FsAttribute.MaximumComponentNameLength")?,
            file_system_name: read_name32(r, "FsAttribute.FileSystemName")?,
        })
    }

    fn write(&self, w: &mut Writer) {
        w.u32(self.file_system_attributes);
        w.u32(self.maximum_component_name_length);
        write_name32(w, &self.file_system_name);
    }
}

/// FileFsObjectIdInformation ([MS-FSCC] 2.5.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileFsObjectIdInformation {
    /// ObjectId: the volume's GUID.
    pub object_id: [u8; 16],
    /// ExtendedInfo: 48 bytes.
    pub extended_info: [u8; 48],
}

impl Default for FileFsObjectIdInformation {
    fn default() -> Self {
        Self {
            object_id: [0; 16],
            extended_info: [0; 48],
        }
    }
}

impl InfoClass for FileFsObjectIdInformation {
    const INFO_TYPE: InfoType = InfoType::FILESYSTEM;
    const CLASS: u8 = 8;
    const MIN_SIZE: usize = 64;

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            object_id: r.guid("FsObjectId.ObjectId")?,
            extended_info: r.array("FsObjectId.ExtendedInfo")?,
        })
    }

    fn write(&self, w: &mut Writer) {
        w.bytes(&self.object_id);
        w.bytes(&self.extended_info);
    }
}

/// One FILE_QUOTA_INFORMATION entry ([MS-FSCC] 2.4.41).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaEntry {
    /// ChangeTime (FILETIME).
    pub change_time: u64,
    /// QuotaUsed in bytes.
    pub quota_used: u64,
    /// QuotaThreshold in bytes (`u64::MAX`: none).
    pub quota_threshold: u64,
    /// QuotaLimit in bytes (`u64::MAX`: none).
    pub quota_limit: u64,
    /// The user's SID.
    pub sid: Sid,
}

/// The SMB2_0_INFO_QUOTA buffer: FILE_QUOTA_INFORMATION entries ([MS-FSCC] 2.4.41), 8-byte
/// aligned, linked by NextEntryOffset. QUERY_INFO returns it; SET_INFO carries it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FileQuotaInformation {
    /// The entries.
    pub entries: Vec<QuotaEntry>,
}

impl InfoClass for FileQuotaInformation {
    const INFO_TYPE: InfoType = InfoType::QUOTA;
    const CLASS: u8 = 0;
    const MIN_SIZE: usize = 0;

    fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let b = r.bytes(r.remaining(), "FileQuotaInformation")?;
        if b.is_empty() {
            return Ok(Self::default());
        }
        let entries = walk_list(b, "FileQuotaInformation.NextEntryOffset", |e| {
            let mut er = Reader::new(e);
            er.skip(4, "Quota.NextEntryOffset")?;
            let sid_len = er.u32("Quota.SidLength")? as usize;
            let change_time = er.u64("Quota.ChangeTime")?;
            let quota_used = er.u64("Quota.QuotaUsed")?;
            let quota_threshold = er.u64("Quota.QuotaThreshold")?;
            let quota_limit = er.u64("Quota.QuotaLimit")?;
            let sid = Sid::decode(er.bytes(sid_len, "Quota.Sid")?)?;
            let entry = QuotaEntry {
                change_time,
                quota_used,
                quota_threshold,
                quota_limit,
                sid,
            };
            Ok((entry, er.pos()))
        })?;
        Ok(Self { entries })
    }

    fn write(&self, w: &mut Writer) {
        write_list(w, &self.entries, 8, |q, w| {
            w.u32(0);
            w.u32(q.sid.len() as u32);
            w.u64(q.change_time);
            w.u64(q.quota_used);
            w.u64(q.quota_threshold);
            w.u64(q.quota_limit);
            q.sid.write(w);
        });
    }
}

/// FILE_GET_QUOTA_INFORMATION ([MS-FSCC] 2.4.41.1): the SIDs an SMB2_QUERY_QUOTA_INFO
/// lists, 4-byte aligned entries of NextEntryOffset, SidLength, Sid.
pub fn decode_get_quota_list(b: &[u8]) -> Result<Vec<Sid>, DecodeError> {
    if b.is_empty() {
        return Ok(Vec::new());
    }
    walk_list(b, "FileGetQuotaInformation.NextEntryOffset", |e| {
        let mut er = Reader::new(e);
        er.skip(4, "GetQuota.NextEntryOffset")?;
        let len = er.u32("GetQuota.SidLength")? as usize;
        let sid = Sid::decode(er.bytes(len, "GetQuota.Sid")?)?;
        Ok((sid, er.pos()))
    })
}

/// The FILE_GET_QUOTA_INFORMATION list for `sids`.
pub fn encode_get_quota_list(sids: &[Sid]) -> Vec<u8> {
    let mut w = Writer::new();
    write_list(&mut w, sids, 4, |sid, w| {
        w.u32(0);
        w.u32(sid.len() as u32);
        sid.write(w);
    });
    w.into_inner()
}

/// Any decoded information class, for code (fuzzing, tracing) that handles them by number.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(missing_docs, reason = "each variant is the class of the same name")]
pub enum AnyInfo {
    Basic(FileBasicInformation),
    Standard(FileStandardInformation),
    Internal(FileInternalInformation),
    Ea(FileEaInformation),
    Access(FileAccessInformation),
    Name(FileNameInformation),
    Rename(FileRenameInformation),
    Link(FileLinkInformation),
    Disposition(FileDispositionInformation),
    Position(FilePositionInformation),
    FullEa(FileFullEaInformation),
    Mode(FileModeInformation),
    Alignment(FileAlignmentInformation),
    All(FileAllInformation),
    Allocation(FileAllocationInformation),
    EndOfFile(FileEndOfFileInformation),
    AlternateName(FileAlternateNameInformation),
    Stream(FileStreamInformation),
    Compression(FileCompressionInformation),
    NetworkOpen(FileNetworkOpenInformation),
    AttributeTag(FileAttributeTagInformation),
    NormalizedName(FileNormalizedNameInformation),
    DispositionEx(FileDispositionInformationEx),
    Pipe(FilePipeInformation),
    ValidDataLength(FileValidDataLengthInformation),
    ShortName(FileShortNameInformation),
    Id(FileIdInformation),
    Posix(FilePosixInformation),
    FsVolume(FileFsVolumeInformation),
    FsSize(FileFsSizeInformation),
    FsDevice(FileFsDeviceInformation),
    FsAttribute(FileFsAttributeInformation),
    FsFullSize(FileFsFullSizeInformation),
    FsObjectId(FileFsObjectIdInformation),
    FsSectorSize(FileFsSectorSizeInformation),
    FsPosix(FileFsPosixInformation),
    FsControl(FileFsControlInformation),
    Quota(FileQuotaInformation),
}

macro_rules! any_info {
    ($($variant:ident($ty:ident)),* $(,)?) => {
        impl AnyInfo {
            /// Decodes `b` as class `class` of `info_type`; `Ok(None)` for a class this module
            /// does not know.
            pub fn decode(info_type: InfoType, class: u8, b: &[u8]) -> Result<Option<Self>, DecodeError> {
                $(
                    if info_type == $ty::INFO_TYPE && class == $ty::CLASS {
                        return $ty::decode(b).map(|v| Some(Self::$variant(v)));
                    }
                )*
                Ok(None)
            }

            /// The encoded bytes.
            pub fn encode(&self) -> Vec<u8> {
                match self {
                    $(Self::$variant(v) => v.encode(),)*
                }
            }

            /// Every (info type, class) pair [`AnyInfo::decode`] knows.
            pub const CLASSES: &[(InfoType, u8)] = &[$(($ty::INFO_TYPE, $ty::CLASS)),*];
        }
    };
}

any_info! {
    Basic(FileBasicInformation),
    Standard(FileStandardInformation),
    Internal(FileInternalInformation),
    Ea(FileEaInformation),
    Access(FileAccessInformation),
    Name(FileNameInformation),
    Rename(FileRenameInformation),
    Link(FileLinkInformation),
    Disposition(FileDispositionInformation),
    Position(FilePositionInformation),
    FullEa(FileFullEaInformation),
    Mode(FileModeInformation),
    Alignment(FileAlignmentInformation),
    All(FileAllInformation),
    Allocation(FileAllocationInformation),
    EndOfFile(FileEndOfFileInformation),
    AlternateName(FileAlternateNameInformation),
    Stream(FileStreamInformation),
    Compression(FileCompressionInformation),
    NetworkOpen(FileNetworkOpenInformation),
    AttributeTag(FileAttributeTagInformation),
    NormalizedName(FileNormalizedNameInformation),
    DispositionEx(FileDispositionInformationEx),
    Pipe(FilePipeInformation),
    ValidDataLength(FileValidDataLengthInformation),
    ShortName(FileShortNameInformation),
    Id(FileIdInformation),
    Posix(FilePosixInformation),
    FsVolume(FileFsVolumeInformation),
    FsSize(FileFsSizeInformation),
    FsDevice(FileFsDeviceInformation),
    FsAttribute(FileFsAttributeInformation),
    FsFullSize(FileFsFullSizeInformation),
    FsObjectId(FileFsObjectIdInformation),
    FsSectorSize(FileFsSectorSizeInformation),
    FsPosix(FileFsPosixInformation),
    FsControl(FileFsControlInformation),
    Quota(FileQuotaInformation),
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn filetime_conversions() {
        assert_eq!(filetime_from_unix(0, 0), 116_444_736_000_000_000);
        assert_eq!(unix_from_filetime(116_444_736_000_000_000), (0, 0));
        assert_eq!(filetime_from_unix(1, 123_456_789), 116_444_736_011_234_567);
        assert_eq!(
            unix_from_filetime(116_444_736_011_234_567),
            (1, 123_456_700)
        );
        assert_eq!(filetime_from_unix(-FILETIME_UNIX_EPOCH_SECS, 0), 0);
        assert_eq!(filetime_from_unix(i64::MIN, 0), 0);
        assert_eq!(filetime_from_unix(i64::MAX, 999_999_999), i64::MAX as u64);
        assert_eq!(unix_from_filetime(0), (-FILETIME_UNIX_EPOCH_SECS, 0));
        assert_eq!(
            unix_from_filetime(u64::MAX),
            unix_from_filetime(i64::MAX as u64)
        );
        // Before 1970: -1.5 s.
        assert_eq!(
            unix_from_filetime(filetime_from_unix(-2, 500_000_000)),
            (-2, 500_000_000)
        );
    }

    proptest! {
        #[test]
        fn filetime_round_trips_to_100ns(secs in -FILETIME_UNIX_EPOCH_SECS..(1i64 << 36), nanos in 0u32..1_000_000_000) {
            prop_assert_eq!(unix_from_filetime(filetime_from_unix(secs, nanos)), (secs, nanos / 100 * 100));
        }

        #[test]
        fn any_class_decoder_never_panics_and_round_trips(
            idx in 0..AnyInfo::CLASSES.len(),
            b in proptest::collection::vec(any::<u8>(), 0..160),
        ) {
            let (t, c) = AnyInfo::CLASSES[idx];
            if let Ok(Some(v)) = AnyInfo::decode(t, c, &b) {
                prop_assert_eq!(AnyInfo::decode(t, c, &v.encode()), Ok(Some(v)));
            }
        }
    }

    fn arb_name() -> impl Strategy<Value = String> {
        proptest::collection::vec(any::<char>(), 0..12).prop_map(|v| v.into_iter().collect())
    }

    proptest! {
        #[test]
        fn lists_and_names_round_trip(
            streams in proptest::collection::vec((arb_name(), any::<u64>(), any::<u64>()), 0..5),
            eas in proptest::collection::vec((any::<u8>(), proptest::collection::vec(1u8..=255, 0..20),
                proptest::collection::vec(any::<u8>(), 0..20)), 1..5),
            name in arb_name(),
            replace in any::<bool>(),
        ) {
            let v = FileStreamInformation { streams: streams.into_iter()
                .map(|(name, size, allocation_size)| StreamEntry { name, size, allocation_size }).collect() };
            prop_assert_eq!(FileStreamInformation::decode(&v.encode()), Ok(v));
            let v = FileFullEaInformation { entries: eas.into_iter()
                .map(|(flags, name, value)| FullEa { flags, name, value }).collect() };
            prop_assert_eq!(FileFullEaInformation::decode(&v.encode()), Ok(v));
            let v = FileAllInformation { name: FileNameInformation { file_name: name.clone() }, ..Default::default() };
            prop_assert_eq!(FileAllInformation::decode(&v.encode()), Ok(v));
            let v = FileLinkInformation { replace_if_exists: replace, root_directory: 0, file_name: name };
            prop_assert_eq!(FileLinkInformation::decode(&v.encode()), Ok(v));
        }
    }

    #[test]
    fn quota_lists() {
        let q = FileQuotaInformation {
            entries: vec![
                QuotaEntry {
                    change_time: 1,
                    quota_used: 2,
                    quota_threshold: u64::MAX,
                    quota_limit: u64::MAX,
                    sid: Sid::unix_user(1000),
                },
                QuotaEntry {
                    change_time: 3,
                    quota_used: 4,
                    quota_threshold: 5,
                    quota_limit: 6,
                    sid: Sid::everyone(),
                },
            ],
        };
        let b = q.encode();
        // [MS-FSCC] 2.4.41: 40 bytes, then the SID (16 bytes): NextEntryOffset 56.
        assert_eq!(&b[..8], &[56, 0, 0, 0, 16, 0, 0, 0]);
        assert_eq!(b.len(), 56 + 40 + 12);
        assert_eq!(FileQuotaInformation::decode(&b), Ok(q));
        let sids = vec![Sid::unix_user(1), Sid::everyone()];
        let l = encode_get_quota_list(&sids);
        assert_eq!(&l[..4], &24u32.to_le_bytes());
        assert_eq!(decode_get_quota_list(&l), Ok(sids));
        let mut bad = l;
        bad[4] = 17;
        assert!(decode_get_quota_list(&bad).is_err());
    }

    #[test]
    fn classes_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for &(t, c) in AnyInfo::CLASSES {
            assert!(seen.insert((t, c)), "{t:?} {c} twice");
        }
        assert_eq!(AnyInfo::decode(InfoType::FILE, 99, &[]), Ok(None));
    }

    #[test]
    fn fixed_sizes_match_the_spec() {
        assert_eq!(FileBasicInformation::default().encode().len(), 40);
        assert_eq!(FileStandardInformation::default().encode().len(), 24);
        assert_eq!(FileInternalInformation::default().encode().len(), 8);
        assert_eq!(FileEaInformation::default().encode().len(), 4);
        assert_eq!(FileAccessInformation::default().encode().len(), 4);
        assert_eq!(FileDispositionInformation::default().encode().len(), 1);
        assert_eq!(FilePositionInformation::default().encode().len(), 8);
        assert_eq!(FileModeInformation::default().encode().len(), 4);
        assert_eq!(FileAlignmentInformation::default().encode().len(), 4);
        assert_eq!(FileAllocationInformation::default().encode().len(), 8);
        assert_eq!(FileEndOfFileInformation::default().encode().len(), 8);
        assert_eq!(FileCompressionInformation::default().encode().len(), 16);
        assert_eq!(FileNetworkOpenInformation::default().encode().len(), 56);
        assert_eq!(FileAttributeTagInformation::default().encode().len(), 8);
        assert_eq!(FileDispositionInformationEx::default().encode().len(), 4);
        assert_eq!(FileFsSizeInformation::default().encode().len(), 24);
        assert_eq!(FileFsDeviceInformation::default().encode().len(), 8);
        assert_eq!(FileFsFullSizeInformation::default().encode().len(), 32);
        assert_eq!(FileFsSectorSizeInformation::default().encode().len(), 28);
        assert_eq!(FileFsPosixInformation::default().encode().len(), 56);
        assert_eq!(FileFsObjectIdInformation::default().encode().len(), 64);
        assert_eq!(FileFsControlInformation::default().encode().len(), 48);
        assert_eq!(FileIdInformation::default().encode().len(), 24);
        assert_eq!(FilePipeInformation::default().encode().len(), 8);
        assert_eq!(FileValidDataLengthInformation::default().encode().len(), 8);
        assert_eq!(
            FileAllInformation::default().encode().len(),
            FileAllInformation::FIXED_SIZE
        );
        assert_eq!(FileFsVolumeInformation::default().encode().len(), 18);
        assert_eq!(FileFsAttributeInformation::default().encode().len(), 12);
        assert_eq!(FileRenameInformation::default().encode().len(), 20);
        assert_eq!(FileBasicInformation::SIZE, 40);
        assert_eq!(FileNetworkOpenInformation::SIZE, 56);
    }

    #[test]
    fn basic_information_layout() {
        // [MS-FSCC] 2.4.7: four 8-byte times, FileAttributes, 4 reserved bytes.
        let v = FileBasicInformation {
            creation_time: 0x0102_0304_0506_0708,
            last_access_time: 2,
            last_write_time: 3,
            change_time: 4,
            file_attributes: attributes::DIRECTORY | attributes::ARCHIVE,
        };
        let b = v.encode();
        assert_eq!(&b[..8], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(&b[32..40], &[0x30, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(FileBasicInformation::decode(&b), Ok(v));
        assert!(FileBasicInformation::decode(&b[..39]).is_err());
    }

    #[test]
    fn rename_information_smb2_layout() {
        // [MS-FSCC] 2.4.37.2: ReplaceIfExists(1) Reserved(7) RootDirectory(8)
        // FileNameLength(4) FileName.
        let b = hex::decode("01000000000000000000000000000000060000006100620063000000").unwrap();
        let v = FileRenameInformation::decode(&b).unwrap();
        assert!(v.replace_if_exists);
        assert_eq!(v.root_directory, 0);
        assert_eq!(v.file_name, "abc");
        assert_eq!(v.encode(), b[..26]);
        let bad_len = hex::decode("0100000000000000000000000000000007000000610062006300").unwrap();
        assert!(FileRenameInformation::decode(&bad_len).is_err());
        let huge = hex::decode("01000000000000000000000000000000ffffffff").unwrap();
        assert!(matches!(
            FileRenameInformation::decode(&huge),
            Err(DecodeError::TooLong { .. })
        ));
    }

    #[test]
    fn all_information_is_the_concatenation() {
        let v = FileAllInformation {
            basic: FileBasicInformation {
                creation_time: 1,
                last_access_time: 2,
                last_write_time: 3,
                change_time: 4,
                file_attributes: 0x20,
            },
            standard: FileStandardInformation {
                allocation_size: 4096,
                end_of_file: 10,
                number_of_links: 1,
                delete_pending: false,
                directory: false,
            },
            internal: FileInternalInformation { index_number: 77 },
            access: FileAccessInformation {
                access_flags: 0x0012_019f,
            },
            name: FileNameInformation {
                file_name: "\\a\\b.txt".into(),
            },
            ..Default::default()
        };
        let b = v.encode();
        assert_eq!(b.len(), 100 + 16);
        assert_eq!(&b[..40], &v.basic.encode()[..]);
        assert_eq!(&b[40..64], &v.standard.encode()[..]);
        assert_eq!(&b[64..72], &77u64.to_le_bytes());
        assert_eq!(&b[96..100], &16u32.to_le_bytes());
        assert_eq!(FileAllInformation::decode(&b), Ok(v));
    }

    #[test]
    fn stream_information_list() {
        let v = FileStreamInformation {
            streams: vec![
                StreamEntry {
                    name: "::$DATA".into(),
                    size: 5,
                    allocation_size: 4096,
                },
                StreamEntry {
                    name: ":x:$DATA".into(),
                    size: 1,
                    allocation_size: 8,
                },
            ],
        };
        let b = v.encode();
        // First entry: 24 + 14 bytes of name, padded to 40: NextEntryOffset = 40.
        assert_eq!(&b[..4], &40u32.to_le_bytes());
        assert_eq!(&b[4..8], &14u32.to_le_bytes());
        assert_eq!(&b[40..44], &0u32.to_le_bytes());
        assert_eq!(b.len(), 40 + 24 + 16);
        assert_eq!(FileStreamInformation::decode(&b), Ok(v));
        assert_eq!(
            FileStreamInformation::decode(&[]),
            Ok(FileStreamInformation::default())
        );
        // A NextEntryOffset that points back into the entry is refused.
        let mut bad = b.clone();
        bad[0] = 8;
        assert!(FileStreamInformation::decode(&bad).is_err());
        // One that points past the end too.
        let mut bad = b;
        bad[0] = 200;
        assert!(FileStreamInformation::decode(&bad).is_err());
    }

    #[test]
    fn full_ea_list() {
        // [MS-FSCC] 2.4.15: NextEntryOffset Flags EaNameLength EaValueLength EaName NUL EaValue.
        let b = hex::decode(concat!(
            "10000000", "00", "02", "0300", "6162", "00", "78797a", "0000", "00000000", "80", "01",
            "0000", "63", "00",
        ))
        .unwrap();
        let v = FileFullEaInformation::decode(&b).unwrap();
        assert_eq!(v.entries.len(), 2);
        assert_eq!(v.entries[0].name, b"ab");
        assert_eq!(v.entries[0].value, b"xyz");
        assert_eq!(v.entries[1].flags, 0x80);
        assert_eq!(v.encode(), b);
        let mut no_nul = b.clone();
        no_nul[10] = 1;
        assert!(FileFullEaInformation::decode(&no_nul).is_err());
    }

    #[test]
    fn fitting_and_ea_names() {
        let all = FileAllInformation {
            name: FileNameInformation {
                file_name: "\\long-name.txt".into(),
            },
            ..Default::default()
        }
        .encode();
        let n = all.len();
        assert_eq!(
            fit_output(all.clone(), FileAllInformation::MIN_SIZE, 99),
            FitOutput::TooSmall
        );
        assert!(
            matches!(fit_output(all.clone(), FileAllInformation::MIN_SIZE, 104), FitOutput::Overflow(b) if b.len() == 104)
        );
        assert_eq!(
            fit_output(all.clone(), FileAllInformation::MIN_SIZE, n as u32),
            FitOutput::Complete(all)
        );
        let names = vec![b"user.a".to_vec(), b"B".to_vec()];
        let b = encode_get_ea_list(&names);
        // "user.a": 4 + 1 + 6 + 1 = 12; "B": 4 + 1 + 1 + 1 = 7.
        assert_eq!(&b[..4], &12u32.to_le_bytes());
        assert_eq!(b.len(), 19);
        assert_eq!(decode_get_ea_list(&b), Ok(names));
        assert_eq!(decode_get_ea_list(&[]), Ok(vec![]));
        assert!(decode_get_ea_list(&b[..18]).is_err());
    }

    #[test]
    fn posix_information_layout() {
        let v = FilePosixInformation {
            creation_time: 1,
            last_access_time: 2,
            last_write_time: 3,
            change_time: 4,
            end_of_file: 5,
            allocation_size: 6,
            file_attributes: 0x20,
            inode: 7,
            device: 8,
            reserved: 0,
            nlinks: 1,
            reparse_tag: 0,
            mode: 0o644,
            owner: Sid::unix_user(1000),
            group: Sid::unix_group(1000),
        };
        let b = v.encode();
        // 4 times + 2 sizes (48), attributes (4), inode (8), device + zero (8), nlinks,
        // reparse tag, mode (12) = 80, then two 16-byte SIDs.
        assert_eq!(b.len(), 80 + 16 + 16);
        assert_eq!(&b[76..80], &0o644u32.to_le_bytes());
        assert_eq!(FilePosixInformation::decode(&b), Ok(v));
    }

    #[test]
    fn fs_classes() {
        let v = FileFsAttributeInformation {
            file_system_attributes: fs_attributes::CASE_SENSITIVE_SEARCH
                | fs_attributes::CASE_PRESERVED_NAMES
                | fs_attributes::UNICODE_ON_DISK,
            maximum_component_name_length: 255,
            file_system_name: "NTFS".into(),
        };
        assert_eq!(
            hex::encode(v.encode()),
            "07000000ff000000080000004e00540046005300"
        );
        assert_eq!(FileFsAttributeInformation::decode(&v.encode()), Ok(v));
        let v = FileFsVolumeInformation {
            volume_creation_time: 9,
            volume_serial_number: 0xabcd,
            supports_objects: false,
            volume_label: "share".into(),
        };
        let b = v.encode();
        assert_eq!(&b[12..16], &10u32.to_le_bytes());
        assert_eq!(b.len(), 28);
        assert_eq!(FileFsVolumeInformation::decode(&b), Ok(v));
    }
}
