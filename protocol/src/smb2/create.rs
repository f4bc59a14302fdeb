//! CREATE ([MS-SMB2] 2.2.13 request, 2.2.14 response) and its create contexts (2.2.13.2,
//! 2.2.14.2), including the SMB3.1.1 POSIX extensions' create context.

use std::borrow::Cow;

use super::fileid::{BODY, FileId, body, flag_set, open_set, pad_empty_buffer};
use super::le::{Reader, Writer, from_utf16le, utf16le};
use super::limits;
use super::status::NtStatus;
use crate::wire::DecodeError;

open_set! {
    /// [MS-SMB2] 2.2.13 RequestedOplockLevel / 2.2.14 OplockLevel.
    OplockLevel(u8) {
        /// SMB2_OPLOCK_LEVEL_NONE.
        NONE = 0x00;
        /// SMB2_OPLOCK_LEVEL_II (shared read caching).
        II = 0x01;
        /// SMB2_OPLOCK_LEVEL_EXCLUSIVE.
        EXCLUSIVE = 0x08;
        /// SMB2_OPLOCK_LEVEL_BATCH.
        BATCH = 0x09;
        /// SMB2_OPLOCK_LEVEL_LEASE: the RqLs create context says what is wanted.
        LEASE = 0xFF;
    }
}

open_set! {
    /// [MS-SMB2] 2.2.13 ImpersonationLevel.
    ImpersonationLevel(u32) {
        /// Anonymous.
        ANONYMOUS = 0;
        /// Identification.
        IDENTIFICATION = 1;
        /// Impersonation (what clients send).
        IMPERSONATION = 2;
        /// Delegate.
        DELEGATE = 3;
    }
}

flag_set! {
    /// [MS-SMB2] 2.2.13.1 access mask (file, pipe and printer; directory names alias the
    /// same bits).
    #[doc(alias = "SMB2_ACCESS_MASK")]
    AccessMask(u32) {
        /// FILE_READ_DATA (FILE_LIST_DIRECTORY on a directory).
        FILE_READ_DATA = 0x0000_0001;
        /// FILE_WRITE_DATA (FILE_ADD_FILE on a directory).
        FILE_WRITE_DATA = 0x0000_0002;
        /// FILE_APPEND_DATA (FILE_ADD_SUBDIRECTORY on a directory).
        FILE_APPEND_DATA = 0x0000_0004;
        /// FILE_READ_EA.
        FILE_READ_EA = 0x0000_0008;
        /// FILE_WRITE_EA.
        FILE_WRITE_EA = 0x0000_0010;
        /// FILE_EXECUTE (FILE_TRAVERSE on a directory).
        FILE_EXECUTE = 0x0000_0020;
        /// FILE_DELETE_CHILD.
        FILE_DELETE_CHILD = 0x0000_0040;
        /// FILE_READ_ATTRIBUTES.
        FILE_READ_ATTRIBUTES = 0x0000_0080;
        /// FILE_WRITE_ATTRIBUTES.
        FILE_WRITE_ATTRIBUTES = 0x0000_0100;
        /// DELETE.
        DELETE = 0x0001_0000;
        /// READ_CONTROL.
        READ_CONTROL = 0x0002_0000;
        /// WRITE_DAC.
        WRITE_DAC = 0x0004_0000;
        /// WRITE_OWNER.
        WRITE_OWNER = 0x0008_0000;
        /// SYNCHRONIZE.
        SYNCHRONIZE = 0x0010_0000;
        /// ACCESS_SYSTEM_SECURITY.
        ACCESS_SYSTEM_SECURITY = 0x0100_0000;
        /// MAXIMUM_ALLOWED.
        MAXIMUM_ALLOWED = 0x0200_0000;
        /// GENERIC_ALL.
        GENERIC_ALL = 0x1000_0000;
        /// GENERIC_EXECUTE.
        GENERIC_EXECUTE = 0x2000_0000;
        /// GENERIC_WRITE.
        GENERIC_WRITE = 0x4000_0000;
        /// GENERIC_READ.
        GENERIC_READ = 0x8000_0000;
        /// FILE_LIST_DIRECTORY (directory alias of FILE_READ_DATA).
        FILE_LIST_DIRECTORY = 0x0000_0001;
        /// FILE_ADD_FILE (directory alias of FILE_WRITE_DATA).
        FILE_ADD_FILE = 0x0000_0002;
        /// FILE_ADD_SUBDIRECTORY (directory alias of FILE_APPEND_DATA).
        FILE_ADD_SUBDIRECTORY = 0x0000_0004;
        /// FILE_TRAVERSE (directory alias of FILE_EXECUTE).
        FILE_TRAVERSE = 0x0000_0020;
    }
}

flag_set! {
    /// [MS-FSCC] 2.6 file attributes.
    FileAttributes(u32) {
        /// FILE_ATTRIBUTE_READONLY.
        READONLY = 0x0000_0001;
        /// FILE_ATTRIBUTE_HIDDEN.
        HIDDEN = 0x0000_0002;
        /// FILE_ATTRIBUTE_SYSTEM.
        SYSTEM = 0x0000_0004;
        /// FILE_ATTRIBUTE_DIRECTORY.
        DIRECTORY = 0x0000_0010;
        /// FILE_ATTRIBUTE_ARCHIVE.
        ARCHIVE = 0x0000_0020;
        /// FILE_ATTRIBUTE_NORMAL (only valid alone).
        NORMAL = 0x0000_0080;
        /// FILE_ATTRIBUTE_TEMPORARY.
        TEMPORARY = 0x0000_0100;
        /// FILE_ATTRIBUTE_SPARSE_FILE.
        SPARSE_FILE = 0x0000_0200;
        /// FILE_ATTRIBUTE_REPARSE_POINT.
        REPARSE_POINT = 0x0000_0400;
        /// FILE_ATTRIBUTE_COMPRESSED.
        COMPRESSED = 0x0000_0800;
        /// FILE_ATTRIBUTE_OFFLINE.
        OFFLINE = 0x0000_1000;
        /// FILE_ATTRIBUTE_NOT_CONTENT_INDEXED.
        NOT_CONTENT_INDEXED = 0x0000_2000;
        /// FILE_ATTRIBUTE_ENCRYPTED.
        ENCRYPTED = 0x0000_4000;
        /// FILE_ATTRIBUTE_INTEGRITY_STREAM.
        INTEGRITY_STREAM = 0x0000_8000;
        /// FILE_ATTRIBUTE_NO_SCRUB_DATA.
        NO_SCRUB_DATA = 0x0002_0000;
    }
}

flag_set! {
    /// [MS-SMB2] 2.2.13 ShareAccess.
    ShareAccess(u32) {
        /// FILE_SHARE_READ.
        READ = 0x1;
        /// FILE_SHARE_WRITE.
        WRITE = 0x2;
        /// FILE_SHARE_DELETE.
        DELETE = 0x4;
    }
}

open_set! {
    /// [MS-SMB2] 2.2.13 CreateDisposition.
    CreateDisposition(u32) {
        /// FILE_SUPERSEDE: replace if it exists, else create.
        SUPERSEDE = 0;
        /// FILE_OPEN: open if it exists, else fail.
        OPEN = 1;
        /// FILE_CREATE: fail if it exists, else create.
        CREATE = 2;
        /// FILE_OPEN_IF: open if it exists, else create.
        OPEN_IF = 3;
        /// FILE_OVERWRITE: overwrite if it exists, else fail.
        OVERWRITE = 4;
        /// FILE_OVERWRITE_IF: overwrite if it exists, else create.
        OVERWRITE_IF = 5;
    }
}

flag_set! {
    /// [MS-SMB2] 2.2.13 CreateOptions.
    CreateOptions(u32) {
        /// FILE_DIRECTORY_FILE.
        DIRECTORY_FILE = 0x0000_0001;
        /// FILE_WRITE_THROUGH.
        WRITE_THROUGH = 0x0000_0002;
        /// FILE_SEQUENTIAL_ONLY.
        SEQUENTIAL_ONLY = 0x0000_0004;
        /// FILE_NO_INTERMEDIATE_BUFFERING.
        NO_INTERMEDIATE_BUFFERING = 0x0000_0008;
        /// FILE_SYNCHRONOUS_IO_ALERT.
        SYNCHRONOUS_IO_ALERT = 0x0000_0010;
        /// FILE_SYNCHRONOUS_IO_NONALERT.
        SYNCHRONOUS_IO_NONALERT = 0x0000_0020;
        /// FILE_NON_DIRECTORY_FILE.
        NON_DIRECTORY_FILE = 0x0000_0040;
        /// FILE_COMPLETE_IF_OPLOCKED.
        COMPLETE_IF_OPLOCKED = 0x0000_0100;
        /// FILE_NO_EA_KNOWLEDGE.
        NO_EA_KNOWLEDGE = 0x0000_0200;
        /// FILE_OPEN_REMOTE_INSTANCE.
        OPEN_REMOTE_INSTANCE = 0x0000_0400;
        /// FILE_RANDOM_ACCESS.
        RANDOM_ACCESS = 0x0000_0800;
        /// FILE_DELETE_ON_CLOSE.
        DELETE_ON_CLOSE = 0x0000_1000;
        /// FILE_OPEN_BY_FILE_ID.
        OPEN_BY_FILE_ID = 0x0000_2000;
        /// FILE_OPEN_FOR_BACKUP_INTENT.
        OPEN_FOR_BACKUP_INTENT = 0x0000_4000;
        /// FILE_NO_COMPRESSION.
        NO_COMPRESSION = 0x0000_8000;
        /// FILE_OPEN_REQUIRING_OPLOCK.
        OPEN_REQUIRING_OPLOCK = 0x0001_0000;
        /// FILE_DISALLOW_EXCLUSIVE.
        DISALLOW_EXCLUSIVE = 0x0002_0000;
        /// FILE_RESERVE_OPFILTER.
        RESERVE_OPFILTER = 0x0010_0000;
        /// FILE_OPEN_REPARSE_POINT.
        OPEN_REPARSE_POINT = 0x0020_0000;
        /// FILE_OPEN_NO_RECALL.
        OPEN_NO_RECALL = 0x0040_0000;
        /// FILE_OPEN_FOR_FREE_SPACE_QUERY.
        OPEN_FOR_FREE_SPACE_QUERY = 0x0080_0000;
    }
}

open_set! {
    /// [MS-SMB2] 2.2.14 CreateAction.
    CreateAction(u32) {
        /// FILE_SUPERSEDED.
        SUPERSEDED = 0;
        /// FILE_OPENED.
        OPENED = 1;
        /// FILE_CREATED.
        CREATED = 2;
        /// FILE_OVERWRITTEN.
        OVERWRITTEN = 3;
    }
}

flag_set! {
    /// [MS-SMB2] 2.2.13.2.8 / 2.2.14.2.10 lease state bits.
    LeaseState(u32) {
        /// SMB2_LEASE_NONE.
        NONE = 0;
        /// SMB2_LEASE_READ_CACHING.
        READ_CACHING = 1;
        /// SMB2_LEASE_HANDLE_CACHING.
        HANDLE_CACHING = 2;
        /// SMB2_LEASE_WRITE_CACHING.
        WRITE_CACHING = 4;
    }
}

flag_set! {
    /// [MS-SMB2] 2.2.13.2.10 LeaseFlags.
    LeaseFlags(u32) {
        /// SMB2_LEASE_FLAG_BREAK_IN_PROGRESS (responses only).
        BREAK_IN_PROGRESS = 0x2;
        /// SMB2_LEASE_FLAG_PARENT_LEASE_KEY_SET (v2 only).
        PARENT_LEASE_KEY_SET = 0x4;
    }
}

/// [MS-SMB2] 2.2.13 SMB2 CREATE Request.
#[doc(alias = "SMB2_CREATE_REQUEST")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateRequest<'a> {
    /// SecurityFlags (reserved, 0).
    pub security_flags: u8,
    /// RequestedOplockLevel.
    pub oplock_level: OplockLevel,
    /// ImpersonationLevel.
    pub impersonation_level: ImpersonationLevel,
    /// SmbCreateFlags (reserved, 0).
    pub smb_create_flags: u64,
    /// DesiredAccess.
    pub desired_access: AccessMask,
    /// FileAttributes to set on a created file.
    pub file_attributes: FileAttributes,
    /// ShareAccess.
    pub share_access: ShareAccess,
    /// CreateDisposition.
    pub create_disposition: CreateDisposition,
    /// CreateOptions.
    pub create_options: CreateOptions,
    /// The path relative to the share root, as sent ("" is the share root; backslashes).
    pub name: String,
    /// Create contexts, in order.
    pub contexts: Vec<CreateContext<'a>>,
}

/// Fixed part of the CREATE request body before the buffer.
const CREATE_REQ_FIXED: usize = 56;
/// Fixed part of the CREATE response body before the buffer.
const CREATE_RESP_FIXED: usize = 88;

impl<'a> CreateRequest<'a> {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 57;

    /// Decodes the request body of `msg` (header included).
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "CREATE.StructureSize")?;
        let security_flags = r.u8("CREATE.SecurityFlags")?;
        let oplock_level = OplockLevel(r.u8("CREATE.RequestedOplockLevel")?);
        let impersonation_level = ImpersonationLevel(r.u32("CREATE.ImpersonationLevel")?);
        let smb_create_flags = r.u64("CREATE.SmbCreateFlags")?;
        r.skip(8, "CREATE.Reserved")?;
        let desired_access = AccessMask(r.u32("CREATE.DesiredAccess")?);
        let file_attributes = FileAttributes(r.u32("CREATE.FileAttributes")?);
        let share_access = ShareAccess(r.u32("CREATE.ShareAccess")?);
        let create_disposition = CreateDisposition(r.u32("CREATE.CreateDisposition")?);
        let create_options = CreateOptions(r.u32("CREATE.CreateOptions")?);
        let name_off = r.u16("CREATE.NameOffset")?;
        let name_len = r.u16("CREATE.NameLength")?;
        let ctx_off = r.u32("CREATE.CreateContextsOffset")?;
        let ctx_len = r.u32("CREATE.CreateContextsLength")?;
        let name = r.slice_at(
            usize::from(name_off),
            usize::from(name_len),
            limits::PATH_MAX,
            "CREATE.Name",
        )?;
        let name = from_utf16le(name, "CREATE.Name")?;
        let contexts = contexts_at(&r, ctx_off, ctx_len)?;
        Ok(Self {
            security_flags,
            oplock_level,
            impersonation_level,
            smb_create_flags,
            desired_access,
            file_attributes,
            share_access,
            create_disposition,
            create_options,
            name,
            contexts,
        })
    }

    /// Appends the body to `w` (which holds the header).
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.security_flags);
        w.u8(self.oplock_level.0);
        w.u32(self.impersonation_level.0);
        w.u64(self.smb_create_flags);
        w.zeros(8);
        w.u32(self.desired_access.0);
        w.u32(self.file_attributes.0);
        w.u32(self.share_access.0);
        w.u32(self.create_disposition.0);
        w.u32(self.create_options.0);
        let name = utf16le(&self.name);
        w.u16(to_u16(start + CREATE_REQ_FIXED));
        w.u16(to_u16(name.len()));
        let ctx_fields = w.len();
        w.u32(0);
        w.u32(0);
        w.bytes(&name);
        if !self.contexts.is_empty() {
            w.align(8);
            let off = w.len();
            encode_contexts(w, &self.contexts);
            w.patch_u32(ctx_fields, to_u32(off));
            w.patch_u32(ctx_fields + 4, to_u32(w.len() - off));
        }
        pad_empty_buffer(w, start, Self::STRUCTURE_SIZE);
    }

    /// The first context named `name` (see [`names`]).
    pub fn context(&self, name: &[u8]) -> Option<&CreateContext<'a>> {
        find_context(&self.contexts, name)
    }
}

/// [MS-SMB2] 2.2.14 SMB2 CREATE Response.
#[doc(alias = "SMB2_CREATE_RESPONSE")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateResponse<'a> {
    /// OplockLevel granted.
    pub oplock_level: OplockLevel,
    /// Flags (SMB2_CREATE_FLAG_REPARSEPOINT = 1, 3.1.1 only).
    pub flags: u8,
    /// CreateAction.
    pub create_action: CreateAction,
    /// CreationTime (FILETIME).
    pub creation_time: u64,
    /// LastAccessTime (FILETIME).
    pub last_access_time: u64,
    /// LastWriteTime (FILETIME).
    pub last_write_time: u64,
    /// ChangeTime (FILETIME).
    pub change_time: u64,
    /// AllocationSize.
    pub allocation_size: u64,
    /// EndofFile.
    pub end_of_file: u64,
    /// FileAttributes.
    pub file_attributes: FileAttributes,
    /// The new open's FileId.
    pub file_id: FileId,
    /// Response create contexts.
    pub contexts: Vec<CreateContext<'a>>,
}

impl<'a> CreateResponse<'a> {
    /// StructureSize.
    pub const STRUCTURE_SIZE: u16 = 89;
    /// SMB2_CREATE_FLAG_REPARSEPOINT.
    pub const FLAG_REPARSEPOINT: u8 = 0x01;

    /// Decodes the response body of `msg` (header included).
    pub fn decode(msg: &'a [u8]) -> Result<Self, DecodeError> {
        let mut r = body(msg, Self::STRUCTURE_SIZE, "CREATE response.StructureSize")?;
        let oplock_level = OplockLevel(r.u8("CREATE response.OplockLevel")?);
        let flags = r.u8("CREATE response.Flags")?;
        let create_action = CreateAction(r.u32("CREATE response.CreateAction")?);
        let creation_time = r.u64("CREATE response.CreationTime")?;
        let last_access_time = r.u64("CREATE response.LastAccessTime")?;
        let last_write_time = r.u64("CREATE response.LastWriteTime")?;
        let change_time = r.u64("CREATE response.ChangeTime")?;
        let allocation_size = r.u64("CREATE response.AllocationSize")?;
        let end_of_file = r.u64("CREATE response.EndofFile")?;
        let file_attributes = FileAttributes(r.u32("CREATE response.FileAttributes")?);
        r.skip(4, "CREATE response.Reserved2")?;
        let file_id = FileId::decode(&mut r)?;
        let ctx_off = r.u32("CREATE response.CreateContextsOffset")?;
        let ctx_len = r.u32("CREATE response.CreateContextsLength")?;
        let contexts = contexts_at(&r, ctx_off, ctx_len)?;
        Ok(Self {
            oplock_level,
            flags,
            create_action,
            creation_time,
            last_access_time,
            last_write_time,
            change_time,
            allocation_size,
            end_of_file,
            file_attributes,
            file_id,
            contexts,
        })
    }

    /// Appends the body to `w` (which holds the header).
    pub fn encode(&self, w: &mut Writer) {
        let start = w.len();
        w.u16(Self::STRUCTURE_SIZE);
        w.u8(self.oplock_level.0);
        w.u8(self.flags);
        w.u32(self.create_action.0);
        w.u64(self.creation_time);
        w.u64(self.last_access_time);
        w.u64(self.last_write_time);
        w.u64(self.change_time);
        w.u64(self.allocation_size);
        w.u64(self.end_of_file);
        w.u32(self.file_attributes.0);
        w.zeros(4);
        self.file_id.encode(w);
        let ctx_fields = w.len();
        w.u32(0);
        w.u32(0);
        debug_assert_eq!(w.len(), start + CREATE_RESP_FIXED);
        if !self.contexts.is_empty() {
            w.align(8);
            let off = w.len();
            encode_contexts(w, &self.contexts);
            w.patch_u32(ctx_fields, to_u32(off));
            w.patch_u32(ctx_fields + 4, to_u32(w.len() - off));
        }
        pad_empty_buffer(w, start, Self::STRUCTURE_SIZE);
    }

    /// The first context named `name`.
    pub fn context(&self, name: &[u8]) -> Option<&CreateContext<'a>> {
        self.contexts.iter().find(|c| c.name.as_ref() == name)
    }
}

/// Saturating conversions for lengths an encoder wrote itself (bounded by the limits).
fn to_u16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn contexts_at<'a>(
    r: &Reader<'a>,
    off: u32,
    len: u32,
) -> Result<Vec<CreateContext<'a>>, DecodeError> {
    if len == 0 {
        return Ok(Vec::new());
    }
    if !off.is_multiple_of(8) || (off as usize) < BODY {
        return Err(DecodeError::InvalidValue {
            field: "CreateContextsOffset",
            value: u64::from(off),
        });
    }
    let buf = r.slice_at(
        off as usize,
        len as usize,
        limits::CREATE_CONTEXTS_MAX,
        "CreateContexts",
    )?;
    CreateContext::decode_list(buf)
}

/// [MS-SMB2] 2.2.13.2 SMB2_CREATE_CONTEXT: a tagged blob. Requests borrow from the message;
/// responses the server builds own their data.
#[doc(alias = "SMB2_CREATE_CONTEXT")]
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateContext<'a> {
    /// The tag: four ASCII bytes ("MxAc") or a 16-byte GUID (POSIX).
    pub name: Cow<'a, [u8]>,
    /// The context's data.
    pub data: Cow<'a, [u8]>,
}

/// Create context names ([MS-SMB2] 2.2.13.2, 2.2.14.2).
pub mod names {
    /// SMB2_CREATE_EA_BUFFER.
    pub const EXTA: &[u8] = b"ExtA";
    /// SMB2_CREATE_SD_BUFFER.
    pub const SECD: &[u8] = b"SecD";
    /// SMB2_CREATE_DURABLE_HANDLE_REQUEST / RESPONSE.
    pub const DHNQ: &[u8] = b"DHnQ";
    /// SMB2_CREATE_DURABLE_HANDLE_RECONNECT.
    pub const DHNC: &[u8] = b"DHnC";
    /// SMB2_CREATE_ALLOCATION_SIZE.
    pub const ALSI: &[u8] = b"AlSi";
    /// SMB2_CREATE_QUERY_MAXIMAL_ACCESS_REQUEST / RESPONSE.
    pub const MXAC: &[u8] = b"MxAc";
    /// SMB2_CREATE_TIMEWARP_TOKEN.
    pub const TWRP: &[u8] = b"TWrp";
    /// SMB2_CREATE_QUERY_ON_DISK_ID.
    pub const QFID: &[u8] = b"QFid";
    /// SMB2_CREATE_REQUEST_LEASE (v1 and v2).
    pub const RQLS: &[u8] = b"RqLs";
    /// SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 / RESPONSE_V2.
    pub const DH2Q: &[u8] = b"DH2Q";
    /// SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2.
    pub const DH2C: &[u8] = b"DH2C";
    /// SMB3.1.1 POSIX extensions: the create context's name, GUID
    /// 93AD2550-9CB4-11E7-B423-83DE968BCD7C as the bytes on the wire.
    pub const POSIX: &[u8] = &[
        0x93, 0xAD, 0x25, 0x50, 0x9C, 0xB4, 0x11, 0xE7, 0xB4, 0x23, 0x83, 0xDE, 0x96, 0x8B, 0xCD,
        0x7C,
    ];
    /// SMB2_CREATE_APP_INSTANCE_ID ([MS-SMB2] 2.2.13.2.13): GUID
    /// 45BCA66A-EFA7-F74A-9008-FA462E144D74 as the bytes on the wire.
    pub const APP_INSTANCE_ID: &[u8] = &[
        0x45, 0xBC, 0xA6, 0x6A, 0xEF, 0xA7, 0xF7, 0x4A, 0x90, 0x08, 0xFA, 0x46, 0x2E, 0x14, 0x4D,
        0x74,
    ];
}

/// [MS-SMB2] 2.2.13.2.13 SMB2_CREATE_APP_INSTANCE_ID (20 bytes: StructureSize 20, Reserved,
/// AppInstanceId): the AppInstanceId.
pub fn decode_app_instance_id(data: &[u8]) -> Result<[u8; 16], DecodeError> {
    let b: [u8; 20] = exact(data, "AppInstanceId")?;
    if le_u16(&b, 0) != 20 {
        return Err(DecodeError::InvalidValue {
            field: "AppInstanceId.StructureSize",
            value: u64::from(le_u16(&b, 0)),
        });
    }
    let mut id = [0u8; 16];
    id.copy_from_slice(&b[4..]);
    Ok(id)
}

/// Size of the SMB2_CREATE_CONTEXT header before the name.
const CONTEXT_HEADER: usize = 16;

impl<'a> CreateContext<'a> {
    /// A context with owned name and data (what a server puts in a response).
    pub fn owned(name: &[u8], data: Vec<u8>) -> CreateContext<'static> {
        CreateContext {
            name: Cow::Owned(name.to_vec()),
            data: Cow::Owned(data),
        }
    }

    /// Decodes a chain of contexts (`buf` starts at the first one). Checks each Next
    /// (8-aligned, past this header, inside the buffer), NameOffset/NameLength and
    /// DataOffset (8-aligned)/DataLength against the context's own extent.
    pub fn decode_list(buf: &'a [u8]) -> Result<Vec<Self>, DecodeError> {
        let mut out = Vec::new();
        let mut pos = 0usize;
        loop {
            let rest = buf.get(pos..).ok_or(DecodeError::Truncated {
                field: "CreateContext",
            })?;
            let mut r = Reader::new(rest);
            let next = r.u32("CreateContext.Next")? as usize;
            let name_off = usize::from(r.u16("CreateContext.NameOffset")?);
            let name_len = usize::from(r.u16("CreateContext.NameLength")?);
            r.skip(2, "CreateContext.Reserved")?;
            let data_off = usize::from(r.u16("CreateContext.DataOffset")?);
            let data_len = r.u32("CreateContext.DataLength")? as usize;
            let extent = if next == 0 {
                rest.len()
            } else {
                if !next.is_multiple_of(8) || next < CONTEXT_HEADER || next > rest.len() {
                    return Err(DecodeError::InvalidValue {
                        field: "CreateContext.Next",
                        value: next as u64,
                    });
                }
                next
            };
            let within = &rest[..extent];
            if name_len == 0 || name_off < CONTEXT_HEADER {
                return Err(DecodeError::InvalidValue {
                    field: "CreateContext.NameOffset",
                    value: name_off as u64,
                });
            }
            let name = Reader::new(within).slice_at(
                name_off,
                name_len,
                within.len(),
                "CreateContext.Name",
            )?;
            let data = if data_len == 0 {
                &[][..]
            } else {
                // The data is 8-aligned and follows the name ([MS-SMB2] 2.2.13.2).
                if data_off % 8 != 0 || data_off < name_off + name_len {
                    return Err(DecodeError::InvalidValue {
                        field: "CreateContext.DataOffset",
                        value: data_off as u64,
                    });
                }
                Reader::new(within).slice_at(
                    data_off,
                    data_len,
                    within.len(),
                    "CreateContext.Data",
                )?
            };
            out.push(Self {
                name: Cow::Borrowed(name),
                data: Cow::Borrowed(data),
            });
            if next == 0 {
                return Ok(out);
            }
            pos += next;
        }
    }
}

/// Appends a chain of contexts at `w.len()` (which must be 8-aligned from the message start:
/// the callers align first). Names go at offset 16, data 8-aligned after the name, each
/// following context 8-aligned; the last Next is 0.
pub fn encode_contexts(w: &mut Writer, contexts: &[CreateContext<'_>]) {
    let mut prev_next: Option<(usize, usize)> = None;
    for c in contexts {
        w.align(8);
        let start = w.len();
        if let Some((field, prev_start)) = prev_next {
            w.patch_u32(field, to_u32(start - prev_start));
        }
        let next_field = w.len();
        w.u32(0);
        w.u16(to_u16(CONTEXT_HEADER));
        w.u16(to_u16(c.name.len()));
        w.u16(0);
        let data_off_field = w.len();
        w.u16(0);
        w.u32(to_u32(c.data.len()));
        w.bytes(&c.name);
        if !c.data.is_empty() {
            w.align(8);
            let data_off = w.len() - start;
            w.patch_u16(data_off_field, to_u16(data_off));
            w.bytes(&c.data);
        }
        prev_next = Some((next_field, start));
    }
}

/// Finds the first context named `name` in a list.
pub fn find_context<'c, 'a>(
    contexts: &'c [CreateContext<'a>],
    name: &[u8],
) -> Option<&'c CreateContext<'a>> {
    contexts.iter().find(|c| c.name.as_ref() == name)
}

fn exact<const N: usize>(data: &[u8], field: &'static str) -> Result<[u8; N], DecodeError> {
    <[u8; N]>::try_from(data).map_err(|_| DecodeError::InvalidValue {
        field,
        value: data.len() as u64,
    })
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

/// [MS-SMB2] 2.2.13.2.5 SMB2_CREATE_QUERY_MAXIMAL_ACCESS_REQUEST: empty, or a FILETIME the
/// file must not have been modified after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MxAcRequest {
    /// Timestamp, if present.
    pub timestamp: Option<u64>,
}

impl MxAcRequest {
    /// Parses the context's data (0 or 8 bytes).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        match data.len() {
            0 => Ok(Self { timestamp: None }),
            8 => Ok(Self {
                timestamp: Some(le_u64(data, 0)),
            }),
            n => Err(DecodeError::InvalidValue {
                field: "MxAc.Timestamp",
                value: n as u64,
            }),
        }
    }

    /// The context's data.
    pub fn encode(&self) -> Vec<u8> {
        self.timestamp
            .map(|t| t.to_le_bytes().to_vec())
            .unwrap_or_default()
    }
}

/// [MS-SMB2] 2.2.14.2.5 SMB2_CREATE_QUERY_MAXIMAL_ACCESS_RESPONSE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MxAcResponse {
    /// QueryStatus.
    pub query_status: NtStatus,
    /// MaximalAccess granted to the caller.
    pub maximal_access: AccessMask,
}

impl MxAcResponse {
    /// Parses the context's data (8 bytes).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 8] = exact(data, "MxAc response")?;
        Ok(Self {
            query_status: NtStatus(le_u32(&b, 0)),
            maximal_access: AccessMask(le_u32(&b, 4)),
        })
    }

    /// The context's data.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(8);
        v.extend_from_slice(&self.query_status.0.to_le_bytes());
        v.extend_from_slice(&self.maximal_access.0.to_le_bytes());
        v
    }

    /// The response context.
    pub fn context(&self) -> CreateContext<'static> {
        CreateContext::owned(names::MXAC, self.encode())
    }
}

/// [MS-SMB2] 2.2.14.2.9 SMB2_CREATE_QUERY_ON_DISK_ID response: 32 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QFidResponse {
    /// DiskFileId (the inode number).
    pub disk_file_id: u64,
    /// VolumeId.
    pub volume_id: u64,
}

impl QFidResponse {
    /// Parses the context's data (DiskFileId 8, VolumeId 8, Reserved 16).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 32] = exact(data, "QFid response")?;
        Ok(Self {
            disk_file_id: le_u64(&b, 0),
            volume_id: le_u64(&b, 8),
        })
    }

    /// The context's data.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(32);
        v.extend_from_slice(&self.disk_file_id.to_le_bytes());
        v.extend_from_slice(&self.volume_id.to_le_bytes());
        v.resize(32, 0);
        v
    }

    /// The response context.
    pub fn context(&self) -> CreateContext<'static> {
        CreateContext::owned(names::QFID, self.encode())
    }
}

/// [MS-SMB2] 2.2.13.2.8 SMB2_CREATE_REQUEST_LEASE (v1, 32 bytes) and 2.2.13.2.10
/// SMB2_CREATE_REQUEST_LEASE_V2 (52 bytes); the responses (2.2.14.2.10/11) have the same
/// layouts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// LeaseKey chosen by the client.
    pub key: [u8; 16],
    /// LeaseState requested or granted.
    pub state: LeaseState,
    /// LeaseFlags.
    pub flags: LeaseFlags,
    /// LeaseDuration (reserved, 0).
    pub duration: u64,
    /// Version-2 fields, when the context is the 52-byte form.
    pub v2: Option<LeaseV2>,
}

/// The fields only SMB2_CREATE_REQUEST_LEASE_V2 has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseV2 {
    /// ParentLeaseKey (valid when PARENT_LEASE_KEY_SET).
    pub parent_key: [u8; 16],
    /// Epoch.
    pub epoch: u16,
}

impl Lease {
    /// Parses a 32-byte (v1) or 52-byte (v2) RqLs context.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        if data.len() != 32 && data.len() != 52 {
            return Err(DecodeError::InvalidValue {
                field: "RqLs length",
                value: data.len() as u64,
            });
        }
        let mut r = Reader::new(data);
        let key = r.guid("RqLs.LeaseKey")?;
        let state = LeaseState(r.u32("RqLs.LeaseState")?);
        let flags = LeaseFlags(r.u32("RqLs.LeaseFlags")?);
        let duration = r.u64("RqLs.LeaseDuration")?;
        let v2 = if data.len() == 52 {
            let parent_key = r.guid("RqLs.ParentLeaseKey")?;
            let epoch = r.u16("RqLs.Epoch")?;
            r.skip(2, "RqLs.Reserved")?;
            Some(LeaseV2 { parent_key, epoch })
        } else {
            None
        };
        Ok(Self {
            key,
            state,
            flags,
            duration,
            v2,
        })
    }

    /// The context's data (32 or 52 bytes).
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(52);
        w.bytes(&self.key);
        w.u32(self.state.0);
        w.u32(self.flags.0);
        w.u64(self.duration);
        if let Some(v2) = self.v2 {
            w.bytes(&v2.parent_key);
            w.u16(v2.epoch);
            w.u16(0);
        }
        w.into_inner()
    }

    /// The response a server grants for this request: the same key and version, `state`
    /// granted, `epoch` (v2 only), BREAK_IN_PROGRESS when `breaking`.
    pub fn response(&self, state: LeaseState, epoch: u16, breaking: bool) -> Self {
        let mut flags = self.flags & LeaseFlags::PARENT_LEASE_KEY_SET;
        if breaking {
            flags |= LeaseFlags::BREAK_IN_PROGRESS;
        }
        Self {
            key: self.key,
            state,
            flags,
            duration: 0,
            v2: self.v2.map(|v| LeaseV2 {
                parent_key: v.parent_key,
                epoch,
            }),
        }
    }

    /// The RqLs context carrying this lease.
    pub fn context(&self) -> CreateContext<'static> {
        CreateContext::owned(names::RQLS, self.encode())
    }
}

/// [MS-SMB2] 2.2.13.2.3 SMB2_CREATE_DURABLE_HANDLE_REQUEST (DHnQ): 16 reserved bytes.
pub fn decode_dhnq(data: &[u8]) -> Result<(), DecodeError> {
    exact::<16>(data, "DHnQ").map(|_| ())
}

/// [MS-SMB2] 2.2.14.2.3 SMB2_CREATE_DURABLE_HANDLE_RESPONSE: 8 reserved bytes.
pub fn dhnq_response() -> CreateContext<'static> {
    CreateContext::owned(names::DHNQ, vec![0; 8])
}

/// [MS-SMB2] 2.2.13.2.4 SMB2_CREATE_DURABLE_HANDLE_RECONNECT (DHnC): the FileId to reopen.
pub fn decode_dhnc(data: &[u8]) -> Result<FileId, DecodeError> {
    exact::<16>(data, "DHnC").map(FileId::from_bytes)
}

/// [MS-SMB2] 2.2.13.2.11 SMB2_CREATE_DURABLE_HANDLE_REQUEST_V2 (DH2Q, 32 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurableV2Request {
    /// Timeout in milliseconds (0: server's choice).
    pub timeout: u32,
    /// Flags (SMB2_DHANDLE_FLAG_PERSISTENT = 2).
    pub flags: u32,
    /// CreateGuid identifying the open across replays.
    pub create_guid: [u8; 16],
}

impl DurableV2Request {
    /// SMB2_DHANDLE_FLAG_PERSISTENT.
    pub const FLAG_PERSISTENT: u32 = 0x2;

    /// Parses the context's data.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 32] = exact(data, "DH2Q")?;
        let mut create_guid = [0u8; 16];
        create_guid.copy_from_slice(&b[16..]);
        Ok(Self {
            timeout: le_u32(&b, 0),
            flags: le_u32(&b, 4),
            create_guid,
        })
    }

    /// The context's data.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::with_capacity(32);
        w.u32(self.timeout);
        w.u32(self.flags);
        w.zeros(8);
        w.bytes(&self.create_guid);
        w.into_inner()
    }

    /// [MS-SMB2] 2.2.14.2.12 SMB2_CREATE_DURABLE_HANDLE_RESPONSE_V2 (Timeout, Flags).
    pub fn response(timeout: u32, flags: u32) -> CreateContext<'static> {
        let mut v = timeout.to_le_bytes().to_vec();
        v.extend_from_slice(&flags.to_le_bytes());
        CreateContext::owned(names::DH2Q, v)
    }
}

/// [MS-SMB2] 2.2.13.2.12 SMB2_CREATE_DURABLE_HANDLE_RECONNECT_V2 (DH2C, 36 bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DurableV2Reconnect {
    /// The FileId to reopen.
    pub file_id: FileId,
    /// CreateGuid of the original open.
    pub create_guid: [u8; 16],
    /// Flags (SMB2_DHANDLE_FLAG_PERSISTENT).
    pub flags: u32,
}

impl DurableV2Reconnect {
    /// Parses the context's data.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 36] = exact(data, "DH2C")?;
        let mut id = [0u8; 16];
        id.copy_from_slice(&b[..16]);
        let mut create_guid = [0u8; 16];
        create_guid.copy_from_slice(&b[16..32]);
        Ok(Self {
            file_id: FileId::from_bytes(id),
            create_guid,
            flags: le_u32(&b, 32),
        })
    }

    /// The context's data.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = self.file_id.to_bytes().to_vec();
        v.extend_from_slice(&self.create_guid);
        v.extend_from_slice(&self.flags.to_le_bytes());
        v
    }
}

/// The most sub-authorities a SID can have ([MS-DTYP] 2.4.2.2).
pub const SID_SUBAUTH_MAX: usize = 15;

/// Reads one SID in its binary form ([MS-DTYP] 2.4.2.2: Revision, SubAuthorityCount,
/// 6-byte IdentifierAuthority, SubAuthorityCount × u32) and returns its bytes.
pub fn read_sid<'a>(r: &mut Reader<'a>, field: &'static str) -> Result<&'a [u8], DecodeError> {
    let start = r.pos();
    let mut peek = r.clone();
    let rev = peek.u8(field)?;
    let count = peek.u8(field)?;
    if rev != 1 || usize::from(count) > SID_SUBAUTH_MAX {
        return Err(DecodeError::InvalidValue {
            field,
            value: u64::from(count),
        });
    }
    let b = r.bytes(8 + 4 * usize::from(count), field)?;
    debug_assert_eq!(r.pos(), start + b.len());
    Ok(b)
}

/// The binary SID S-1-22-`kind`-`id`, Samba's and the Linux client's Unix user (kind 1) and
/// group (kind 2) SIDs, as the POSIX create context and directory entries carry them.
pub fn unix_sid(kind: u32, id: u32) -> Vec<u8> {
    let mut v = vec![1, 2, 0, 0, 0, 0, 0, 22];
    v.extend_from_slice(&kind.to_le_bytes());
    v.extend_from_slice(&id.to_le_bytes());
    v
}

/// SMB3.1.1 POSIX extensions create context request: the POSIX mode for a created file
/// (Samba's smb3_posix_extensions.md, "SMB2_CREATE_POSIX_CONTEXT").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PosixCreateRequest {
    /// Mode bits (permissions; the file type is implied by the create options).
    pub mode: u32,
}

impl PosixCreateRequest {
    /// Parses the context's data (u32 mode).
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let b: [u8; 4] = exact(data, "POSIX create context")?;
        Ok(Self {
            mode: u32::from_le_bytes(b),
        })
    }

    /// The request context.
    pub fn context(&self) -> CreateContext<'static> {
        CreateContext::owned(names::POSIX, self.mode.to_le_bytes().to_vec())
    }
}

/// SMB3.1.1 POSIX extensions create context response (Linux `create_posix_rsp`, Samba
/// `smb3_posix_cc_info`): nlinks, reparse tag, mode, then the owner and group SIDs in their
/// variable-length binary form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PosixCreateResponse {
    /// Hard links.
    pub nlinks: u32,
    /// Reparse tag (0 unless a reparse point).
    pub reparse_tag: u32,
    /// POSIX mode bits (type and permissions).
    pub mode: u32,
    /// Owner SID, binary form (see [`unix_sid`]).
    pub owner_sid: Vec<u8>,
    /// Group SID, binary form.
    pub group_sid: Vec<u8>,
}

impl PosixCreateResponse {
    /// Parses the context's data.
    pub fn decode(data: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(data);
        let v = Self::read(&mut r)?;
        if r.remaining() != 0 {
            return Err(DecodeError::TrailingBytes {
                field: "POSIX create response",
                count: r.remaining(),
            });
        }
        Ok(v)
    }

    /// Reads the fields from `r` (shared with the POSIX directory entry).
    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            nlinks: r.u32("POSIX.HardLinks")?,
            reparse_tag: r.u32("POSIX.ReparseTag")?,
            mode: r.u32("POSIX.Mode")?,
            owner_sid: read_sid(r, "POSIX.OwnerSid")?.to_vec(),
            group_sid: read_sid(r, "POSIX.GroupSid")?.to_vec(),
        })
    }

    /// Writes the fields to `w`.
    pub(crate) fn write(&self, w: &mut Writer) {
        w.u32(self.nlinks);
        w.u32(self.reparse_tag);
        w.u32(self.mode);
        w.bytes(&self.owner_sid);
        w.bytes(&self.group_sid);
    }

    /// The context's data.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.write(&mut w);
        w.into_inner()
    }

    /// The response context.
    pub fn context(&self) -> CreateContext<'static> {
        CreateContext::owned(names::POSIX, self.encode())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn with_header() -> Writer {
        let mut w = Writer::new();
        w.zeros(BODY);
        w
    }

    fn request() -> CreateRequest<'static> {
        CreateRequest {
            security_flags: 0,
            oplock_level: OplockLevel::LEASE,
            impersonation_level: ImpersonationLevel::IMPERSONATION,
            smb_create_flags: 0,
            desired_access: AccessMask::FILE_READ_DATA | AccessMask::SYNCHRONIZE,
            file_attributes: FileAttributes::NORMAL,
            share_access: ShareAccess::READ | ShareAccess::WRITE,
            create_disposition: CreateDisposition::OPEN_IF,
            create_options: CreateOptions::NON_DIRECTORY_FILE,
            name: "dir\\a.txt".into(),
            contexts: vec![
                CreateContext::owned(names::MXAC, vec![]),
                CreateContext::owned(names::QFID, vec![]),
                Lease {
                    key: [7; 16],
                    state: LeaseState::READ_CACHING | LeaseState::HANDLE_CACHING,
                    flags: LeaseFlags::default(),
                    duration: 0,
                    v2: Some(LeaseV2 {
                        parent_key: [0; 16],
                        epoch: 1,
                    }),
                }
                .context(),
                PosixCreateRequest { mode: 0o644 }.context(),
            ],
        }
    }

    /// Goal: a request with every kind of context the server parses round-trips, and the
    /// typed contexts parse from it.
    #[test]
    fn request_round_trips_with_contexts() {
        let req = request();
        let mut w = with_header();
        req.encode(&mut w);
        let msg = w.into_inner();
        let back = CreateRequest::decode(&msg).unwrap();
        assert_eq!(back, req);
        let rqls = back.context(names::RQLS).unwrap();
        let lease = Lease::decode(&rqls.data).unwrap();
        assert_eq!(lease.v2.unwrap().epoch, 1);
        let posix = find_context(&back.contexts, names::POSIX).unwrap();
        assert_eq!(PosixCreateRequest::decode(&posix.data).unwrap().mode, 0o644);
        assert_eq!(
            MxAcRequest::decode(&find_context(&back.contexts, names::MXAC).unwrap().data),
            Ok(MxAcRequest { timestamp: None })
        );
    }

    /// Goal: the request layout matches [MS-SMB2] 2.2.13 byte for byte: fixed fields, the
    /// name at 0x78, one context 8-aligned after it with its name at 16 and data 8-aligned.
    #[test]
    fn request_layout_from_the_spec() {
        let req = CreateRequest {
            security_flags: 0,
            oplock_level: OplockLevel::NONE,
            impersonation_level: ImpersonationLevel::IMPERSONATION,
            smb_create_flags: 0,
            desired_access: AccessMask(0x0012_0089),
            file_attributes: FileAttributes(0),
            share_access: ShareAccess(7),
            create_disposition: CreateDisposition::OPEN,
            create_options: CreateOptions(0x20),
            name: "a".into(),
            contexts: vec![CreateContext::owned(b"MxAc", vec![])],
        };
        let mut w = with_header();
        req.encode(&mut w);
        let msg = w.into_inner();
        let body = &msg[64..];
        let expected = hex::decode(concat!(
            "3900",             // StructureSize 57
            "00",               // SecurityFlags
            "00",               // RequestedOplockLevel
            "02000000",         // ImpersonationLevel
            "0000000000000000", // SmbCreateFlags
            "0000000000000000", // Reserved
            "89001200",         // DesiredAccess
            "00000000",         // FileAttributes
            "07000000",         // ShareAccess
            "01000000",         // CreateDisposition
            "20000000",         // CreateOptions
            "7800",             // NameOffset 0x78
            "0200",             // NameLength
            "80000000",         // CreateContextsOffset 0x80
            "14000000",         // CreateContextsLength 20
            "6100",             // "a"
            "000000000000",     // pad to 0x80
            "00000000",         // Next
            "1000",             // NameOffset
            "0400",             // NameLength
            "0000",             // Reserved
            "0000",             // DataOffset
            "00000000",         // DataLength
            "4d784163",         // "MxAc"
        ))
        .unwrap();
        assert_eq!(body, &expected[..]);
        assert_eq!(CreateRequest::decode(&msg).unwrap(), req);
    }

    #[test]
    fn response_round_trips() {
        let resp = CreateResponse {
            oplock_level: OplockLevel::LEASE,
            flags: 0,
            create_action: CreateAction::CREATED,
            creation_time: 1,
            last_access_time: 2,
            last_write_time: 3,
            change_time: 4,
            allocation_size: 4096,
            end_of_file: 10,
            file_attributes: FileAttributes::ARCHIVE,
            file_id: FileId {
                persistent: 5,
                volatile: 6,
            },
            contexts: vec![
                MxAcResponse {
                    query_status: NtStatus::SUCCESS,
                    maximal_access: AccessMask(0x001f_01ff),
                }
                .context(),
                QFidResponse {
                    disk_file_id: 42,
                    volume_id: 7,
                }
                .context(),
                PosixCreateResponse {
                    nlinks: 1,
                    reparse_tag: 0,
                    mode: 0o100644,
                    owner_sid: unix_sid(1, 1000),
                    group_sid: unix_sid(2, 100),
                }
                .context(),
            ],
        };
        let mut w = with_header();
        resp.encode(&mut w);
        let msg = w.into_inner();
        assert_eq!(
            u32::from_le_bytes(msg[64 + 80..64 + 84].try_into().unwrap()),
            0x98
        );
        let back = CreateResponse::decode(&msg).unwrap();
        assert_eq!(back, resp);
        let p = PosixCreateResponse::decode(&back.context(names::POSIX).unwrap().data).unwrap();
        assert_eq!(p.owner_sid, unix_sid(1, 1000));
        let q = QFidResponse::decode(&back.context(names::QFID).unwrap().data).unwrap();
        assert_eq!(q.disk_file_id, 42);
        let m = MxAcResponse::decode(&back.context(names::MXAC).unwrap().data).unwrap();
        assert_eq!(m.maximal_access, AccessMask(0x001f_01ff));
        // No contexts: the body is exactly StructureSize bytes.
        let mut w = with_header();
        CreateResponse {
            contexts: vec![],
            ..resp
        }
        .encode(&mut w);
        assert_eq!(w.len(), 64 + 89);
    }

    #[test]
    fn contexts_reject_bad_offsets() {
        let mut w = Writer::new();
        encode_contexts(
            &mut w,
            &[
                CreateContext::owned(b"AAAA", vec![1, 2, 3]),
                CreateContext::owned(b"BBBB", vec![4]),
            ],
        );
        let good = w.into_inner();
        assert_eq!(CreateContext::decode_list(&good).unwrap().len(), 2);
        // Next not 8-aligned.
        let mut bad = good.clone();
        bad[0] = 20;
        assert!(CreateContext::decode_list(&bad).is_err());
        // Next past the end.
        let mut bad = good.clone();
        bad[0] = 200;
        assert!(CreateContext::decode_list(&bad).is_err());
        // DataOffset not aligned.
        let mut bad = good.clone();
        bad[10] = 20;
        assert!(CreateContext::decode_list(&bad).is_err());
        // Name outside this context.
        let mut bad = good.clone();
        bad[4] = 40;
        assert!(CreateContext::decode_list(&bad).is_err());
        assert!(CreateContext::decode_list(&good[..10]).is_err());
    }

    #[test]
    fn durable_and_lease_contexts() {
        let d = DurableV2Request {
            timeout: 60_000,
            flags: 0,
            create_guid: [9; 16],
        };
        assert_eq!(DurableV2Request::decode(&d.encode()), Ok(d));
        let c = DurableV2Reconnect {
            file_id: FileId {
                persistent: 1,
                volatile: 2,
            },
            create_guid: [3; 16],
            flags: 0,
        };
        assert_eq!(DurableV2Reconnect::decode(&c.encode()), Ok(c));
        assert!(decode_dhnq(&[0; 16]).is_ok());
        let mut app = vec![20, 0, 0, 0];
        app.extend_from_slice(&[7; 16]);
        assert_eq!(decode_app_instance_id(&app), Ok([7; 16]));
        app[0] = 24;
        assert!(decode_app_instance_id(&app).is_err());
        assert!(decode_app_instance_id(&app[..19]).is_err());
        assert!(decode_dhnq(&[0; 15]).is_err());
        let v1 = Lease {
            key: [1; 16],
            state: LeaseState::READ_CACHING,
            flags: LeaseFlags::default(),
            duration: 0,
            v2: None,
        };
        assert_eq!(v1.encode().len(), 32);
        assert_eq!(Lease::decode(&v1.encode()), Ok(v1));
        let granted = v1.response(LeaseState::READ_CACHING, 0, true);
        assert!(granted.flags.contains(LeaseFlags::BREAK_IN_PROGRESS));
        assert!(Lease::decode(&[0; 33]).is_err());
        assert!(MxAcRequest::decode(&[0; 7]).is_err());
        assert_eq!(
            MxAcRequest::decode(&5u64.to_le_bytes()),
            Ok(MxAcRequest { timestamp: Some(5) })
        );
    }

    #[test]
    fn posix_sid_rejects_bad_counts() {
        let mut data = vec![1, 0, 0, 0, 2, 0, 0, 0, 0xa4, 1, 0, 0];
        data.extend_from_slice(&[1, 16, 0, 0, 0, 0, 0, 22]);
        assert!(PosixCreateResponse::decode(&data).is_err());
    }

    proptest! {
        /// Goal: arbitrary field values and names round-trip through the request codec.
        #[test]
        fn request_fields_round_trip(
            access in any::<u32>(), opts in any::<u32>(), disp in any::<u32>(),
            name in "[a-zA-Z0-9\\\\. ]{0,40}", data in proptest::collection::vec(any::<u8>(), 0..40)
        ) {
            let req = CreateRequest {
                desired_access: AccessMask(access),
                create_options: CreateOptions(opts),
                create_disposition: CreateDisposition(disp),
                name,
                contexts: vec![CreateContext::owned(b"Test", data)],
                ..request()
            };
            let mut w = with_header();
            req.encode(&mut w);
            let msg = w.into_inner();
            prop_assert_eq!(CreateRequest::decode(&msg).unwrap(), req);
        }
    }
}
