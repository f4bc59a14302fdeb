//! QUERY_INFO and SET_INFO: file, file-system and security information over the share core.
//!
//! DOS attributes map onto the mode: READONLY is "no write bit"; setting it clears every write
//! bit, clearing it gives the owner write again. A security descriptor is built from the
//! owner, group and mode, unless a client stored one (super::acl); one written back is applied
//! to the owner and group (SIDs S-1-22-1-uid / S-1-22-2-gid) and its DACL to the closest mode,
//! and the DACL is stored whole beside the mode (super::acl). A SACL is ignored.

use bytes::Bytes;
use protocol::smb2::fscc::{
    self, FileAccessInformation, FileAlignmentInformation, FileAllInformation,
    FileAttributeTagInformation, FileBasicInformation, FileCompressionInformation,
    FileDispositionInformation, FileDispositionInformationEx, FileEaInformation,
    FileEndOfFileInformation, FileFsAttributeInformation, FileFsDeviceInformation,
    FileFsFullSizeInformation, FileFsObjectIdInformation, FileFsSectorSizeInformation,
    FileFsSizeInformation, FileFsVolumeInformation, FileInfoClass, FileInternalInformation,
    FileLinkInformation, FileModeInformation, FileNameInformation, FileNetworkOpenInformation,
    FilePositionInformation, FileRenameInformation, FileStandardInformation, FileStreamInformation,
    FsInfoClass, InfoClass, InfoType,
};
use protocol::smb2::info::{QueryInfoRequest, QueryInfoResponse, SetInfoRequest, SetInfoResponse};
use protocol::smb2::notify::{CompletionFilter, NotifyAction};
use protocol::smb2::security::{self, SecurityDescriptor};
use protocol::smb2::status::NtStatus;
use stores::{Attr, FileKind};

use super::attrs::{self, access};
use super::connection::{Conn, Handled, Out, Req, filetime, from_filetime, undecodable};
use super::files::{failed, lookup_ci, stream_allocation, stream_attributes, walk};
use super::names::SmbPath;
use super::state::OpenKind;
use crate::server::share::foreign::Recall;
use crate::server::share::{AttrChange, Node, TimeSet};

/// Bytes per reported allocation unit (4 KiB clusters of 8 sectors of 512 bytes).
const CLUSTER: u64 = 4096;

/// The file-system attributes we report ([MS-FSCC] 2.5.1): FILE_CASE_PRESERVED_NAMES,
/// FILE_UNICODE_ON_DISK, FILE_PERSISTENT_ACLS (mapped onto the mode),
/// FILE_SUPPORTS_SPARSE_FILES (the SPARSE_FILE attribute is stored, holes come from the
/// content store), FILE_SUPPORTS_REPARSE_POINTS (symlinks) and
/// FILE_SUPPORTS_EXTENDED_ATTRIBUTES (EAs are stored as `user.` extended attributes). Lookups
/// ignore case, so FILE_CASE_SENSITIVE_SEARCH is not set.
const FS_ATTRIBUTES: u32 =
    0x0000_0002 | 0x0000_0004 | 0x0000_0008 | 0x0000_0040 | 0x0000_0080 | 0x0080_0000;

impl Conn {
    /// QUERY_INFO ([MS-SMB2] 3.3.5.20).
    pub(crate) async fn query_info(&mut self, req: Req<'_>) -> Handled {
        let r = QueryInfoRequest::decode(req.msg).map_err(undecodable)?;
        let fid = protocol::smb2::fileid::FileId::from_bytes(r.file_id);
        let id = self.open_of(&req, fid)?;
        let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let OpenKind::Node {
            node,
            name,
            path,
            is_dir,
            stream,
            ..
        } = &open.kind
        else {
            // Named pipes: only the standard information clients ask about.
            return Err(NtStatus::NOT_SUPPORTED);
        };
        let (node, name, path, is_dir, stream) =
            (*node, name.clone(), path.clone(), *is_dir, stream.clone());
        let (access_mask, delete_pending, position, requested_allocation, file_mode) = (
            open.access,
            open.delete_on_close,
            open.position,
            open.allocation,
            open.mode,
        );
        let (share, caller) = self.share_of(open)?;
        let posix = self.neg.as_ref().is_some_and(|n| n.posix);
        let a = share.getattr(caller.clone(), node).await.map_err(failed)?;
        // The stored DOS attributes and EaSize, read only for the classes that report them.
        let meta = if r.info_type == InfoType::FILE
            && matches!(
                FileInfoClass(r.info_class),
                FileInfoClass::BASIC
                    | FileInfoClass::ALL
                    | FileInfoClass::EA
                    | FileInfoClass::NETWORK_OPEN
                    | FileInfoClass::ATTRIBUTE_TAG
                    | FileInfoClass::POSIX
            ) {
            attrs::meta(&share, &caller, node).await?
        } else {
            attrs::Meta::default()
        };
        // What this handle reports as allocated: the AlSi asked for at creation, if larger.
        // A stream open reports its stream's size, its file's times and attributes (less
        // DIRECTORY), and names itself `path:stream`.
        let stream_size = match &stream {
            Some(s) => Some(super::streams::size(&share, &caller, node, s).await?),
            None => None,
        };
        let allocation = match stream_size {
            Some(size) => stream_allocation(size),
            None => attrs::allocation(&a).max(requested_allocation),
        };
        let end_of_file = stream_size.unwrap_or_else(|| attrs::end_of_file(&a));
        let dos_bits = match &stream {
            Some(_) => stream_attributes(&a, &name, meta.dos),
            None => attrs::dos(&a, &name, meta.dos),
        };
        let path = match &stream {
            Some(s) => format!("{path}:{s}"),
            None => path,
        };
        let (buf, fixed): (Vec<u8>, usize) = match r.info_type {
            InfoType::FILE => {
                let class = FileInfoClass(r.info_class);
                // [MS-FSA] 2.1.5.12: what each class needs of the open; the rest need nothing.
                let needs = match class {
                    FileInfoClass::BASIC
                    | FileInfoClass::ALL
                    | FileInfoClass::NETWORK_OPEN
                    | FileInfoClass::ATTRIBUTE_TAG
                    | FileInfoClass::POSIX => access::FILE_READ_ATTRIBUTES,
                    FileInfoClass::FULL_EA => access::FILE_READ_EA,
                    _ => 0,
                };
                if access_mask & needs != needs {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                let basic = FileBasicInformation {
                    file_attributes: dos_bits,
                    ..basic(&a, &name, meta.dos)
                };
                let standard = FileStandardInformation {
                    allocation_size: allocation,
                    end_of_file,
                    // A name about to go no longer counts ([MS-FSCC] 2.4.41; smbtorture
                    // setinfo).
                    number_of_links: if delete_pending {
                        a.nlink.saturating_sub(1)
                    } else {
                        a.nlink
                    },
                    delete_pending,
                    directory: is_dir,
                };
                match class {
                    FileInfoClass::FULL_EA => {
                        return self.query_eas(&share, &caller, node, &r).await;
                    }
                    FileInfoClass::BASIC => (basic.encode(), 40),
                    FileInfoClass::STANDARD => (standard.encode(), 24),
                    FileInfoClass::INTERNAL => (
                        FileInternalInformation {
                            index_number: a.ino.0,
                        }
                        .encode(),
                        8,
                    ),
                    FileInfoClass::EA => (
                        FileEaInformation {
                            ea_size: meta.ea_size,
                        }
                        .encode(),
                        4,
                    ),
                    FileInfoClass::ACCESS => (
                        FileAccessInformation {
                            access_flags: access_mask,
                        }
                        .encode(),
                        4,
                    ),
                    FileInfoClass::POSITION => (
                        FilePositionInformation {
                            current_byte_offset: position,
                        }
                        .encode(),
                        8,
                    ),
                    FileInfoClass::MODE => (FileModeInformation { mode: file_mode }.encode(), 4),
                    FileInfoClass::ALIGNMENT => (
                        FileAlignmentInformation {
                            alignment_requirement: 0,
                        }
                        .encode(),
                        4,
                    ),
                    FileInfoClass::ALL => (
                        FileAllInformation {
                            basic,
                            standard,
                            internal: FileInternalInformation {
                                index_number: a.ino.0,
                            },
                            ea: FileEaInformation {
                                ea_size: meta.ea_size,
                            },
                            access: FileAccessInformation {
                                access_flags: access_mask,
                            },
                            position: FilePositionInformation {
                                current_byte_offset: position,
                            },
                            mode: FileModeInformation { mode: file_mode },
                            alignment: FileAlignmentInformation {
                                alignment_requirement: 0,
                            },
                            name: FileNameInformation {
                                file_name: format!("\\{path}"),
                            },
                        }
                        .encode(),
                        // Windows' smallest buffer is sizeof(FILE_ALL_INFORMATION): the name
                        // information padded to 8 (see [`PADDED_NAME_FIXED`]).
                        FileAllInformation::FIXED_SIZE + 4,
                    ),
                    // SMB 3.1.1's ([MS-SMB2] 3.3.5.20.1; smbtorture getinfo.normalized).
                    FileInfoClass::NORMALIZED_NAME
                        if self.neg.as_ref().is_none_or(|n| n.dialect < 0x0311) =>
                    {
                        return Err(NtStatus::NOT_SUPPORTED);
                    }
                    FileInfoClass::NAME | FileInfoClass::NORMALIZED_NAME => (
                        FileNameInformation {
                            file_name: if class == FileInfoClass::NAME {
                                format!("\\{path}")
                            } else {
                                path.clone()
                            },
                        }
                        .encode(),
                        PADDED_NAME_FIXED,
                    ),
                    FileInfoClass::ALTERNATE_NAME => (
                        fscc::FileAlternateNameInformation {
                            file_name: short_name(&name),
                        }
                        .encode(),
                        PADDED_NAME_FIXED,
                    ),
                    FileInfoClass::STREAM => {
                        // A file's own data first (`::$DATA`; a directory has none), then its
                        // named streams ([MS-FSCC] 2.4.44), whichever stream is open.
                        let mut s = if a.kind == FileKind::Directory {
                            FileStreamInformation {
                                streams: Vec::new(),
                            }
                        } else {
                            FileStreamInformation::data_only(
                                attrs::end_of_file(&a),
                                attrs::allocation(&a).max(if stream.is_none() {
                                    requested_allocation
                                } else {
                                    0
                                }),
                            )
                        };
                        for e in super::streams::list(&share, &caller, node).await? {
                            s.streams.push(fscc::StreamEntry {
                                name: format!(":{}:$DATA", e.name),
                                size: e.size,
                                allocation_size: stream_allocation(e.size),
                            });
                        }
                        // sizeof(FILE_STREAM_INFORMATION): 24 bytes, one name character,
                        // padded to 8.
                        (s.encode(), 32)
                    }
                    FileInfoClass::COMPRESSION => (
                        FileCompressionInformation {
                            compressed_file_size: end_of_file,
                            compression_format: 0,
                            compression_unit_shift: 0,
                            chunk_shift: 0,
                            cluster_shift: 0,
                        }
                        .encode(),
                        16,
                    ),
                    FileInfoClass::NETWORK_OPEN => (
                        FileNetworkOpenInformation {
                            creation_time: filetime(a.btime),
                            last_access_time: filetime(a.atime),
                            last_write_time: filetime(a.mtime),
                            change_time: filetime(a.ctime),
                            allocation_size: allocation,
                            end_of_file,
                            file_attributes: dos_bits,
                        }
                        .encode(),
                        56,
                    ),
                    FileInfoClass::ATTRIBUTE_TAG => (
                        FileAttributeTagInformation {
                            file_attributes: dos_bits,
                            reparse_tag: if a.kind == FileKind::Symlink {
                                0xA000_000C
                            } else {
                                0
                            },
                        }
                        .encode(),
                        8,
                    ),
                    FileInfoClass::POSIX if posix => (posix_info(&a, &name, meta.dos).encode(), 0),
                    _ => return Err(NtStatus::INVALID_INFO_CLASS),
                }
            }
            InfoType::FILESYSTEM => {
                let (_, usage) = share.fsstat(caller.clone(), node).await.map_err(failed)?;
                let total = usage.bytes_total / CLUSTER;
                let free = usage.bytes_free / CLUSTER;
                match FsInfoClass(r.info_class) {
                    FsInfoClass::VOLUME => {
                        let label = self
                            .server
                            .shares
                            .values()
                            .find(|(export, _)| {
                                self.server
                                    .registry
                                    .by_name(export)
                                    .is_some_and(|reg| reg.handle.id() == share.id())
                            })
                            .map_or_else(String::new, |(_, smb)| smb.name.clone());
                        (
                            FileFsVolumeInformation {
                                volume_creation_time: self.server.start_time,
                                volume_serial_number: share.id().0,
                                supports_objects: false,
                                volume_label: label,
                            }
                            .encode(),
                            // sizeof(FILE_FS_VOLUME_INFORMATION): 18 bytes, one label
                            // character, padded to 8.
                            24,
                        )
                    }
                    FsInfoClass::SIZE => (
                        FileFsSizeInformation {
                            total_allocation_units: total,
                            available_allocation_units: free,
                            sectors_per_allocation_unit: 8,
                            bytes_per_sector: 512,
                        }
                        .encode(),
                        24,
                    ),
                    FsInfoClass::DEVICE => (
                        FileFsDeviceInformation {
                            // FILE_DEVICE_DISK; FILE_DEVICE_IS_MOUNTED.
                            device_type: 0x0000_0007,
                            characteristics: 0x0000_0020,
                        }
                        .encode(),
                        8,
                    ),
                    FsInfoClass::ATTRIBUTE => (
                        FileFsAttributeInformation {
                            file_system_attributes: FS_ATTRIBUTES,
                            maximum_component_name_length: 255,
                            file_system_name: "NTFS".to_owned(),
                        }
                        .encode(),
                        // sizeof(FILE_FS_ATTRIBUTE_INFORMATION): 12 bytes, one name
                        // character, padded to 4.
                        16,
                    ),
                    FsInfoClass::FULL_SIZE => (
                        FileFsFullSizeInformation {
                            total_allocation_units: total,
                            caller_available_allocation_units: free,
                            actual_available_allocation_units: free,
                            sectors_per_allocation_unit: 8,
                            bytes_per_sector: 512,
                        }
                        .encode(),
                        32,
                    ),
                    FsInfoClass::CONTROL => (
                        fscc::FileFsControlInformation {
                            free_space_start_filtering: 0,
                            free_space_threshold: 0,
                            free_space_stop_filtering: 0,
                            default_quota_threshold: u64::MAX,
                            default_quota_limit: u64::MAX,
                            file_system_control_flags: 0,
                        }
                        .encode(),
                        48,
                    ),
                    FsInfoClass::OBJECT_ID => (
                        FileFsObjectIdInformation {
                            object_id: [0; 16],
                            extended_info: [0; 48],
                        }
                        .encode(),
                        64,
                    ),
                    FsInfoClass::SECTOR_SIZE => (
                        FileFsSectorSizeInformation {
                            logical_bytes_per_sector: 512,
                            physical_bytes_per_sector_for_atomicity: 4096,
                            physical_bytes_per_sector_for_performance: 4096,
                            effective_physical_bytes_per_sector_for_atomicity: 4096,
                            // SSINFO_FLAGS_ALIGNED_DEVICE | PARTITION_ALIGNED_ON_DEVICE.
                            flags: 0x3,
                            byte_offset_for_sector_alignment: 0,
                            byte_offset_for_partition_alignment: 0,
                        }
                        .encode(),
                        28,
                    ),
                    FsInfoClass::POSIX if posix => (
                        fscc::FileFsPosixInformation {
                            optimal_transfer_size: 1 << 20,
                            block_size: CLUSTER as u32,
                            total_blocks: total,
                            blocks_avail: free,
                            user_blocks_avail: free,
                            total_file_nodes: usage.files_total,
                            free_file_nodes: usage.files_free,
                            file_sys_identifier: u64::from(share.id().0),
                        }
                        .encode(),
                        56,
                    ),
                    _ => return Err(NtStatus::INVALID_INFO_CLASS),
                }
            }
            InfoType::SECURITY => {
                if access_mask & access::READ_CONTROL == 0 {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                // The stored descriptor while it is current, else the one the mode gives.
                let sd = match super::acl::stored(&share, &caller, &a).await? {
                    Some(sd) => sd.filtered(r.additional_information),
                    None => {
                        security::from_mode(a.uid, a.gid, a.mode, is_dir, r.additional_information)
                    }
                };
                let bytes = sd.encode();
                if bytes.len() > r.output_buffer_length as usize {
                    // The client asks again with the size this carries ([MS-SMB2] 3.3.5.20.3).
                    let need = u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes();
                    let mut w = Out::writer();
                    protocol::smb2::header::ErrorResponse {
                        error_context_count: 0,
                        error_data: &need,
                    }
                    .encode(&mut w);
                    return Ok(Out::with_status(NtStatus::BUFFER_TOO_SMALL, w));
                }
                (bytes, 0)
            }
            _ => return Err(NtStatus::NOT_SUPPORTED),
        };
        // Classes that end in a name or a list are cut to the buffer (STATUS_BUFFER_OVERFLOW)
        // once their fixed part fits; every other class must fit whole
        // (STATUS_INFO_LENGTH_MISMATCH), as Windows answers.
        let variable = match r.info_type {
            InfoType::FILE => matches!(
                FileInfoClass(r.info_class),
                FileInfoClass::ALL
                    | FileInfoClass::NAME
                    | FileInfoClass::NORMALIZED_NAME
                    | FileInfoClass::ALTERNATE_NAME
                    | FileInfoClass::STREAM
            ),
            InfoType::FILESYSTEM => matches!(
                FsInfoClass(r.info_class),
                FsInfoClass::VOLUME | FsInfoClass::ATTRIBUTE
            ),
            _ => false,
        };
        let min = if variable { fixed } else { buf.len() };
        let (status, buf) = match fscc::fit_output(buf, min, r.output_buffer_length) {
            fscc::FitOutput::Complete(b) => (NtStatus::SUCCESS, b),
            fscc::FitOutput::Overflow(b) => (NtStatus::BUFFER_OVERFLOW, b),
            fscc::FitOutput::TooSmall => return Err(NtStatus::INFO_LENGTH_MISMATCH),
        };
        let mut w = Out::writer();
        QueryInfoResponse { output_buffer: buf }.encode(&mut w);
        Ok(Out::with_status(status, w))
    }

    /// QUERY_INFO FileFullEaInformation ([MS-FSCC] 2.4.15): the EAs the input buffer names
    /// (a FILE_GET_EA_INFORMATION list), or all of them; whole entries only, as many as fit
    /// (STATUS_BUFFER_OVERFLOW when some do not, STATUS_BUFFER_TOO_SMALL when none does).
    async fn query_eas(
        &self,
        share: &crate::server::share::ShareHandle,
        caller: &crate::server::share::Caller,
        node: Node,
        r: &QueryInfoRequest,
    ) -> Handled {
        let wanted = fscc::decode_get_ea_list(&r.input_buffer)
            .map_err(|_| NtStatus::EA_LIST_INCONSISTENT)?;
        let mut eas = super::ea::read(share, caller, node, &wanted).await?;
        if eas.is_empty() {
            return Err(NtStatus::NO_EAS_ON_FILE);
        }
        let single = r.flags & protocol::smb2::info::query_flags::RETURN_SINGLE_ENTRY != 0;
        if single {
            eas.truncate(1);
        }
        let max = r.output_buffer_length as usize;
        let all = eas.len();
        // Entries are 4-byte aligned, the last one unpadded: keep the longest prefix that fits.
        let mut entries_kept = 0;
        let mut used = 0usize;
        for e in &eas {
            if used + e.len() > max {
                break;
            }
            used += e.len().next_multiple_of(4);
            entries_kept += 1;
        }
        eas.truncate(entries_kept);
        let buf = fscc::FileFullEaInformation { entries: eas }.encode();
        if entries_kept == 0 {
            return Err(NtStatus::BUFFER_TOO_SMALL);
        }
        let status = if entries_kept < all {
            NtStatus::BUFFER_OVERFLOW
        } else {
            NtStatus::SUCCESS
        };
        let mut w = Out::writer();
        QueryInfoResponse { output_buffer: buf }.encode(&mut w);
        Ok(Out::with_status(status, w))
    }

    /// SET_INFO ([MS-SMB2] 3.3.5.21).
    pub(crate) async fn set_info(&mut self, req: Req<'_>) -> Handled {
        let r = SetInfoRequest::decode(req.msg).map_err(undecodable)?;
        let fid = protocol::smb2::fileid::FileId::from_bytes(r.file_id);
        let id = self.open_of(&req, fid)?;
        self.channel_sequence(&req, id)?;
        let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let OpenKind::Node {
            node,
            parent,
            name,
            is_dir,
            stream,
            ..
        } = &open.kind
        else {
            return Err(NtStatus::NOT_SUPPORTED);
        };
        let (node, parent, name, is_dir, stream) =
            (*node, *parent, name.clone(), *is_dir, stream.clone());
        let open_path = match &open.kind {
            OpenKind::Node { path, .. } => path.clone(),
            OpenKind::Pipe { .. } => String::new(),
        };
        let open_tree = open.tree;
        let access_mask = open.access;
        // Rename and link targets are `/`-separated on a POSIX-extensions handle.
        let posix_paths = open.posix_paths;
        let (share, caller) = self.share_of(open)?;
        // Read-only trees may still set the position.
        let position = r.info_type == InfoType::FILE && r.info_class == FileInfoClass::POSITION.0;
        if !(caller.permission.can_write() || position) {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let b = &r.buffer;
        let bad = |_| NtStatus::INFO_LENGTH_MISMATCH;
        match r.info_type {
            InfoType::FILE => match FileInfoClass(r.info_class) {
                FileInfoClass::BASIC => {
                    if access_mask & access::FILE_WRITE_ATTRIBUTES == 0 {
                        return Err(NtStatus::ACCESS_DENIED);
                    }
                    let info = FileBasicInformation::decode(b).map_err(bad)?;
                    let a = share.getattr(caller.clone(), node).await.map_err(failed)?;
                    let time = |t: u64| match t {
                        // 0: leave it; -1: stop updating it (we never update it implicitly).
                        0 | u64::MAX => TimeSet::Keep,
                        t => TimeSet::Client(from_filetime(t)),
                    };
                    let mut change = AttrChange {
                        atime: time(info.last_access_time),
                        mtime: time(info.last_write_time),
                        btime: time(info.creation_time),
                        ctime: time(info.change_time),
                        ..AttrChange::default()
                    };
                    if a.kind == FileKind::Directory && info.file_attributes & attrs::TEMPORARY != 0
                    {
                        // FILE_ATTRIBUTE_TEMPORARY is for files only.
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    if a.kind != FileKind::Directory && info.file_attributes & attrs::DIRECTORY != 0
                    {
                        // A file cannot become a directory ([MS-FSA] 2.1.5.14.2).
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    // Attributes (0: leave them) go to the mode (READONLY) and the stored
                    // DOS attributes; the bits a client cannot set stay as they are.
                    let mut dos = None;
                    if info.file_attributes != 0 {
                        let meta = attrs::meta(&share, &caller, node).await?;
                        let bits = (meta.dos.bits(&a) & !attrs::SETTABLE)
                            | (info.file_attributes & attrs::SETTABLE);
                        dos = Some((meta.dos, bits));
                        let mode = attrs::mode_for(&a, info.file_attributes);
                        if mode != a.mode {
                            change.mode = Some(mode);
                        }
                    }
                    // A ChangeTime set through this handle sticks for later changes through
                    // it ([MS-FSA] Open.UserSetChangeTime).
                    let user_ctime = match change.ctime {
                        TimeSet::Client(t) => Some(t),
                        _ => self.opens.get(&id).and_then(|o| o.user_ctime),
                    };
                    if let Some((old, bits)) = dos {
                        attrs::store_dos(&share, &caller, &a, old, bits).await?;
                        if change.ctime == TimeSet::Keep
                            && let Some(t) = user_ctime
                        {
                            change.ctime = TimeSet::Client(t);
                        }
                    }
                    if change.mode.is_some()
                        && change.ctime == TimeSet::Keep
                        && let Some(t) = user_ctime
                    {
                        change.ctime = TimeSet::Client(t);
                    }
                    if change != AttrChange::default() {
                        share
                            .setattr(caller, node, change, None)
                            .await
                            .map_err(failed)?;
                    }
                    let filter = basic_filter(&info);
                    if !filter.is_empty() {
                        self.notify_open(id, filter);
                        self.parent_changed(id, filter);
                    }
                    if let Some(o) = self.opens.get_mut(&id) {
                        o.user_ctime = user_ctime;
                        if dos.is_some() {
                            // ARCHIVE was set as the client asked: the next write sets it again.
                            o.archived = false;
                        }
                    }
                }
                FileInfoClass::FULL_EA => {
                    if access_mask & access::FILE_WRITE_EA == 0 {
                        return Err(NtStatus::ACCESS_DENIED);
                    }
                    let info = fscc::FileFullEaInformation::decode(b)
                        .map_err(|_| NtStatus::EA_LIST_INCONSISTENT)?;
                    super::ea::check(&info.entries)?;
                    super::ea::write(&share, &caller, node, &info.entries).await?;
                }
                FileInfoClass::END_OF_FILE => {
                    if access_mask & access::FILE_WRITE_DATA == 0 {
                        return Err(NtStatus::ACCESS_DENIED);
                    }
                    if is_dir {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    let info = FileEndOfFileInformation::decode(b).map_err(bad)?;
                    if let Some(stream) = &stream {
                        super::streams::set_size(&share, &caller, node, stream, info.end_of_file)
                            .await?;
                        self.data_changed(id);
                        self.notify_stream(id, CompletionFilter::STREAM_SIZE);
                    } else {
                        self.set_size(id, node, info.end_of_file).await?;
                        self.notify_open(id, CompletionFilter::SIZE | CompletionFilter::LAST_WRITE);
                        self.parent_changed(
                            id,
                            CompletionFilter::SIZE | CompletionFilter::LAST_WRITE,
                        );
                    }
                }
                FileInfoClass::ALLOCATION => {
                    if access_mask & access::FILE_WRITE_DATA == 0 {
                        return Err(NtStatus::ACCESS_DENIED);
                    }
                    let info = fscc::FileAllocationInformation::decode(b).map_err(bad)?;
                    if let Some(stream) = &stream {
                        // A smaller allocation cuts the stream; a larger one is a hint.
                        let size = super::streams::size(&share, &caller, node, stream).await?;
                        if info.allocation_size < size {
                            super::streams::set_size(
                                &share,
                                &caller,
                                node,
                                stream,
                                info.allocation_size,
                            )
                            .await?;
                            self.data_changed(id);
                            self.notify_stream(id, CompletionFilter::STREAM_SIZE);
                        }
                        let mut w = Out::writer();
                        SetInfoResponse.encode(&mut w);
                        return Ok(Out::ok(w));
                    }
                    let a = share.getattr(caller, node).await.map_err(failed)?;
                    // A smaller allocation truncates; a larger one is a hint the store need not
                    // keep, reported back through this handle as Windows would (smbtorture
                    // setinfo).
                    if !is_dir && info.allocation_size < a.size {
                        self.set_size(id, node, info.allocation_size).await?;
                        self.notify_open(id, CompletionFilter::SIZE | CompletionFilter::LAST_WRITE);
                        self.parent_changed(
                            id,
                            CompletionFilter::SIZE | CompletionFilter::LAST_WRITE,
                        );
                    } else if !is_dir {
                        // Any other change of allocation breaks level II oplocks and read
                        // leases of other opens too, as a write does (smbtorture
                        // oplock.batch12).
                        self.data_changed(id);
                    }
                    if !is_dir && let Some(o) = self.opens.get_mut(&id) {
                        o.allocation = info
                            .allocation_size
                            .div_ceil(CLUSTER)
                            .saturating_mul(CLUSTER);
                    }
                }
                FileInfoClass::DISPOSITION | FileInfoClass::DISPOSITION_EX => {
                    let delete = if FileInfoClass(r.info_class) == FileInfoClass::DISPOSITION {
                        FileDispositionInformation::decode(b)
                            .map_err(bad)?
                            .delete_pending
                    } else {
                        FileDispositionInformationEx::decode(b).map_err(bad)?.flags
                            & fscc::disposition_ex::DELETE
                            != 0
                    };
                    if delete {
                        if access_mask & access::DELETE == 0 {
                            return Err(NtStatus::ACCESS_DENIED);
                        }
                        let a = share.getattr(caller.clone(), node).await.map_err(failed)?;
                        if !is_dir && a.mode & 0o222 == 0 {
                            return Err(NtStatus::CANNOT_DELETE);
                        }
                        if is_dir && self.dir_has_entries(&share, &caller, &a).await? {
                            return Err(NtStatus::DIRECTORY_NOT_EMPTY);
                        }
                    }
                    if let Some(o) = self.opens.get_mut(&id) {
                        o.delete_on_close = delete;
                    }
                    // Delete-pending for every connection from now on (smbtorture
                    // oplock.doc): new opens fail with STATUS_DELETE_PENDING.
                    let me = super::oplocks::OpenRef {
                        conn: self.id,
                        file: id,
                    };
                    self.server.opens.set_delete_pending(me, delete);
                    if delete && stream.is_none() {
                        let mut breaks = Vec::new();
                        let key = super::oplocks::NodeKey::new(share.id(), node);
                        let now = self.server.env.now();
                        self.server.opens.deleting(key, now, me, &mut breaks);
                        self.send_breaks(breaks);
                    }
                }
                FileInfoClass::POSITION => {
                    let info = FilePositionInformation::decode(b).map_err(bad)?;
                    if let Some(o) = self.opens.get_mut(&id) {
                        o.position = info.current_byte_offset;
                    }
                }
                FileInfoClass::MODE => {
                    // [MS-FSCC] 2.4.26: only these bits may be set through an open.
                    const SETTABLE_MODE: u32 = 0x2 | 0x4 | 0x8 | 0x10 | 0x20;
                    let mode = FileModeInformation::decode(b).map_err(bad)?.mode;
                    if mode & !SETTABLE_MODE != 0 {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    if let Some(o) = self.opens.get_mut(&id) {
                        o.mode = mode;
                        o.write_through = mode & 0x2 != 0;
                    }
                }
                FileInfoClass::RENAME => {
                    if access_mask & access::DELETE == 0 {
                        return Err(NtStatus::ACCESS_DENIED);
                    }
                    let info = FileRenameInformation::decode(b).map_err(bad)?;
                    // A stream is renamed within its file (`:new[:$DATA]`, [MS-FSCC] 2.4.42);
                    // a file is not renamed to a stream nor a stream to a file.
                    if info.file_name.starts_with(':') || stream.is_some() {
                        let Some(from) = &stream else {
                            return Err(NtStatus::INVALID_PARAMETER);
                        };
                        let probe = SmbPath::parse(&format!("x{}", info.file_name))
                            .map_err(|_| NtStatus::OBJECT_NAME_INVALID)?;
                        let Some(to) = probe.stream.filter(|_| info.file_name.starts_with(':'))
                        else {
                            return Err(NtStatus::INVALID_PARAMETER);
                        };
                        if let Some(existing) =
                            super::streams::find(&share, &caller, node, &to).await?
                            && !existing.name.eq_ignore_ascii_case(from)
                        {
                            if !info.replace_if_exists {
                                return Err(NtStatus::OBJECT_NAME_COLLISION);
                            }
                            super::streams::remove(&share, &caller, node, &existing.name).await?;
                        }
                        super::streams::rename(&share, &caller, node, from, &to).await?;
                        // Share modes and oplocks of this open now belong to the new name.
                        self.server.opens.moved(
                            super::oplocks::OpenRef {
                                conn: self.id,
                                file: id,
                            },
                            super::oplocks::NodeKey::of(share.id(), node, Some(&to)),
                        );
                        if let Some(o) = self.opens.get_mut(&id)
                            && let OpenKind::Node { stream, .. } = &mut o.kind
                        {
                            *stream = Some(to);
                        }
                        let mut w = Out::writer();
                        SetInfoResponse.encode(&mut w);
                        return Ok(Out::ok(w));
                    }
                    // A directory with an open file below it keeps its name (Windows answers
                    // ACCESS_DENIED; only this connection's opens are known here).
                    if is_dir && self.has_open_below(open_tree, &open_path) {
                        return Err(NtStatus::ACCESS_DENIED);
                    }
                    // The rename acts as an open of the parent directory that adds an entry
                    // (FILE_ADD_FILE) sharing read and write, not delete: an open of the parent
                    // with DELETE access, or one that shares nothing, is a sharing violation
                    // (smbtorture rename.*_delete_access; this connection's opens only).
                    if self.opens.values().any(|o| {
                        matches!(&o.kind, OpenKind::Node { node: n, .. } if *n == parent)
                            && attrs::share_conflict(
                                o.access,
                                o.share_access,
                                access::FILE_WRITE_DATA,
                                0x3,
                            )
                    }) {
                        return Err(NtStatus::SHARING_VIOLATION);
                    }
                    let target = SmbPath::parse_as(&info.file_name, posix_paths)?;
                    let Some(to_name) = target.name() else {
                        return Err(NtStatus::OBJECT_NAME_INVALID);
                    };
                    let to_dir = walk(&share, &caller, target.parent()).await?;
                    let same_dir = Node::from(&to_dir) == parent;
                    let existing = lookup_ci(&share, &caller, &to_dir, to_name).await?;
                    let case_only = same_dir
                        && existing
                            .as_ref()
                            .is_some_and(|(_, e)| Node::from(e) == node);
                    if let Some((stored, e)) = &existing
                        && !case_only
                    {
                        if !info.replace_if_exists {
                            return Err(NtStatus::OBJECT_NAME_COLLISION);
                        }
                        if e.kind == FileKind::Directory {
                            return Err(NtStatus::ACCESS_DENIED);
                        }
                        if self.is_open(Node::from(e)) {
                            return Err(NtStatus::ACCESS_DENIED);
                        }
                        let _ = stored;
                    }
                    let dest = match &existing {
                        Some((stored, _)) if !case_only => stored.clone(),
                        _ => to_name.to_owned(),
                    };
                    // Other opens' handle caching goes first: the rename waits until their
                    // holders acknowledge (or the break times out), as on Windows
                    // (smbtorture lease.rename_wait, lease.v2_rename). This open's own lease
                    // stays.
                    if let Some(wait) = self.recall_for(
                        super::oplocks::NodeKey::new(share.id(), node),
                        id,
                        Recall::Name,
                    ) {
                        return Ok(wait);
                    }
                    share
                        .rename(
                            caller,
                            parent,
                            Bytes::copy_from_slice(name.as_bytes()),
                            Node::from(&to_dir),
                            Bytes::copy_from_slice(dest.as_bytes()),
                        )
                        .await
                        .map_err(failed)?;
                    let mut comps = target.components.clone();
                    if let Some(last) = comps.last_mut() {
                        last.clone_from(&dest);
                    }
                    let new_path = comps.join("\\");
                    self.notify_rename(share.id(), &open_path, &new_path, same_dir, is_dir);
                    let parent_key = self.opens.get(&id).and_then(|o| o.parent_lease);
                    self.dir_changed(share.id(), parent, parent_key);
                    if !same_dir {
                        self.dir_changed(share.id(), Node::from(&to_dir), parent_key);
                    }
                    if let Some(o) = self.opens.get_mut(&id)
                        && let OpenKind::Node {
                            parent, name, path, ..
                        } = &mut o.kind
                    {
                        *parent = Node::from(&to_dir);
                        *name = dest;
                        *path = new_path;
                    }
                }
                FileInfoClass::LINK => {
                    let info = FileLinkInformation::decode(b).map_err(bad)?;
                    if is_dir {
                        return Err(NtStatus::FILE_IS_A_DIRECTORY);
                    }
                    if stream.is_some() {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    // The rename acts as an open of the parent directory that adds an entry
                    // (FILE_ADD_FILE) sharing read and write, not delete: an open of the parent
                    // with DELETE access, or one that shares nothing, is a sharing violation
                    // (smbtorture rename.*_delete_access; this connection's opens only).
                    if self.opens.values().any(|o| {
                        matches!(&o.kind, OpenKind::Node { node: n, .. } if *n == parent)
                            && attrs::share_conflict(
                                o.access,
                                o.share_access,
                                access::FILE_WRITE_DATA,
                                0x3,
                            )
                    }) {
                        return Err(NtStatus::SHARING_VIOLATION);
                    }
                    let target = SmbPath::parse_as(&info.file_name, posix_paths)?;
                    let Some(to_name) = target.name() else {
                        return Err(NtStatus::OBJECT_NAME_INVALID);
                    };
                    let to_dir = walk(&share, &caller, target.parent()).await?;
                    if let Some((stored, e)) = lookup_ci(&share, &caller, &to_dir, to_name).await? {
                        if !info.replace_if_exists || e.kind == FileKind::Directory {
                            return Err(NtStatus::OBJECT_NAME_COLLISION);
                        }
                        share
                            .remove(
                                caller.clone(),
                                Node::from(&to_dir),
                                Bytes::copy_from_slice(stored.as_bytes()),
                                false,
                            )
                            .await
                            .map_err(failed)?;
                    }
                    share
                        .link(
                            caller,
                            node,
                            Node::from(&to_dir),
                            Bytes::copy_from_slice(to_name.as_bytes()),
                        )
                        .await
                        .map_err(failed)?;
                    self.notify_path(
                        share.id(),
                        &target.components.join("\\"),
                        NotifyAction::ADDED,
                        CompletionFilter::FILE_NAME,
                    );
                    let parent_key = self.opens.get(&id).and_then(|o| o.parent_lease);
                    self.dir_changed(share.id(), Node::from(&to_dir), parent_key);
                }
                _ => return Err(NtStatus::INVALID_INFO_CLASS),
            },
            InfoType::SECURITY => {
                let sd = SecurityDescriptor::decode(b).map_err(undecodable)?;
                let additional = r.additional_information;
                let a = share.getattr(caller.clone(), node).await.map_err(failed)?;
                tracing::debug!(
                    additional = format_args!("{additional:#x}"),
                    access = format_args!("{access_mask:#x}"),
                    owner = ?sd.owner,
                    group = ?sd.group,
                    "SET_INFO security"
                );
                let change = sd_change(&sd, &a, additional, access_mask)?;
                let current = super::acl::stored(&share, &caller, &a).await?;
                let had_stored = current.is_some();
                let after = if change == AttrChange::default() {
                    a.clone()
                } else {
                    let done = share
                        .setattr(caller.clone(), node, change, None)
                        .await
                        .map_err(failed)?;
                    match done.after {
                        Some(after) => after,
                        None => share.getattr(caller.clone(), node).await.map_err(failed)?,
                    }
                };
                // A DACL is kept whole (the mode only says what it can of it); a descriptor
                // already stored is kept up to date with a new owner or group.
                if additional & security::secinfo::DACL != 0 || current.is_some() {
                    let base = current.unwrap_or_else(|| {
                        security::from_mode(a.uid, a.gid, a.mode, is_dir, SD_PARTS)
                    });
                    let merged = merged_sd(base, &sd, additional, &after);
                    let synthesized =
                        security::from_mode(after.uid, after.gid, after.mode, is_dir, SD_PARTS);
                    if merged.dacl == synthesized.dacl {
                        // The mode says it all: nothing to keep beside it.
                        if had_stored {
                            super::acl::forget(&share, &caller, &after).await?;
                        }
                    } else {
                        super::acl::store(&share, &caller, &after, &merged).await?;
                    }
                }
                if after.mode != a.mode
                    || after.uid != a.uid
                    || after.gid != a.gid
                    || additional & security::secinfo::DACL != 0
                {
                    self.notify_open(id, CompletionFilter::SECURITY);
                    self.announce_open(id, CompletionFilter::SECURITY);
                }
            }
            InfoType::FILESYSTEM => return Err(NtStatus::ACCESS_DENIED),
            _ => return Err(NtStatus::NOT_SUPPORTED),
        }
        let mut w = Out::writer();
        SetInfoResponse.encode(&mut w);
        Ok(Out::ok(w))
    }

    /// Sets the size of the file open as `id`.
    async fn set_size(&mut self, id: u64, node: Node, size: u64) -> Result<(), NtStatus> {
        let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let (share, caller) = self.share_of(open)?;
        share
            .setattr(
                caller,
                node,
                AttrChange {
                    size: Some(size),
                    ..AttrChange::default()
                },
                None,
            )
            .await
            .map_err(failed)?;
        // Other opens' read caching no longer holds.
        self.data_changed(id);
        Ok(())
    }

    /// Whether `node` is open on this connection.
    pub(crate) fn is_open(&self, node: Node) -> bool {
        self.opens
            .values()
            .any(|o| matches!(&o.kind, OpenKind::Node { node: n, .. } if *n == node))
    }

    /// Whether an open of tree `tree` names a path inside directory `dir` (a share path).
    fn has_open_below(&self, tree: u32, dir: &str) -> bool {
        let prefix = format!("{dir}\\");
        self.opens.values().any(|o| {
            o.tree == tree
                && matches!(&o.kind, OpenKind::Node { path, .. }
                    if path.len() > prefix.len()
                        && path.is_char_boundary(prefix.len())
                        && path[..prefix.len()].eq_ignore_ascii_case(&prefix))
        })
    }

    /// Whether directory `dir` has entries besides "." and "..".
    async fn dir_has_entries(
        &self,
        share: &crate::server::share::ShareHandle,
        caller: &crate::server::share::Caller,
        dir: &Attr,
    ) -> Result<bool, NtStatus> {
        let listing = share
            .readdir(
                caller.clone(),
                Node::from(dir),
                stores::Cookie::START,
                crate::server::share::COOKIE_VERIFIER,
                3,
                false,
            )
            .await
            .map_err(failed)?;
        Ok(listing
            .entries
            .iter()
            .any(|e| e.name != b"." && e.name != b".."))
    }
}

/// The smallest OutputBufferLength Windows accepts for a class that is one name
/// (FileNameInformation, FileAlternateNameInformation): the C structure's size, its length
/// field and one UTF-16 character padded to 8 ([MS-SMB2] 3.3.5.20.1: a buffer smaller than
/// the fixed structure is STATUS_INFO_LENGTH_MISMATCH; smbtorture getinfo.qfile_buffercheck).
const PADDED_NAME_FIXED: usize = 8;

/// The 8.3 name of `name` (FileAlternateNameInformation): the name itself, upper-cased, when
/// it already is one; otherwise up to six characters of its base, `~1`, and up to three of its
/// extension, as Windows forms them. Short names are not stored, so two long names may share
/// one; clients only show them.
pub(crate) fn short_name(name: &str) -> String {
    let valid = |c: char| c.is_ascii_alphanumeric() || "!#$%&'()-@^_`{}~".contains(c);
    let (base, ext) = match name.rsplit_once('.') {
        Some((b, e)) if !b.is_empty() => (b, e),
        _ => (name, ""),
    };
    if (1..=8).contains(&base.len())
        && ext.len() <= 3
        && base.chars().all(valid)
        && ext.chars().all(valid)
    {
        return name.to_ascii_uppercase();
    }
    let pick = |s: &str, n: usize| -> String {
        s.chars()
            .filter(|&c| valid(c))
            .take(n)
            .collect::<String>()
            .to_ascii_uppercase()
    };
    let mut out = pick(base, 6);
    if out.is_empty() {
        out.push('_');
    }
    out.push_str("~1");
    let ext = pick(ext, 3);
    if !ext.is_empty() {
        out.push('.');
        out.push_str(&ext);
    }
    out
}

/// FileBasicInformation of `a`.
/// The CHANGE_NOTIFY filter bits a FileBasicInformation SET_INFO answers to: what it sets,
/// whether or not the share stores it; a ChangeTime alone answers
/// to none, as on Windows (smbtorture notify.mask).
fn basic_filter(info: &FileBasicInformation) -> CompletionFilter {
    let set = |t: u64| t != 0 && t != u64::MAX;
    let mut f = CompletionFilter(0);
    if info.file_attributes != 0 {
        f |= CompletionFilter::ATTRIBUTES;
    }
    if set(info.last_write_time) {
        f |= CompletionFilter::LAST_WRITE;
    }
    if set(info.last_access_time) {
        f |= CompletionFilter::LAST_ACCESS;
    }
    if set(info.creation_time) {
        f |= CompletionFilter::CREATION;
    }
    f
}

fn basic(a: &Attr, name: &str, stored: attrs::StoredDos) -> FileBasicInformation {
    FileBasicInformation {
        creation_time: filetime(a.btime),
        last_access_time: filetime(a.atime),
        last_write_time: filetime(a.mtime),
        change_time: filetime(a.ctime),
        file_attributes: attrs::dos(a, name, stored),
    }
}

/// The SMB 3.1.1 POSIX information of `a`.
fn posix_info(a: &Attr, name: &str, stored: attrs::StoredDos) -> fscc::FilePosixInformation {
    let p = attrs::posix_info(a);
    fscc::FilePosixInformation {
        creation_time: filetime(a.btime),
        last_access_time: filetime(a.atime),
        last_write_time: filetime(a.mtime),
        change_time: filetime(a.ctime),
        end_of_file: attrs::end_of_file(a),
        allocation_size: attrs::allocation(a),
        file_attributes: attrs::dos(a, name, stored),
        inode: a.ino.0,
        device: 0,
        reserved: 0,
        nlinks: a.nlink,
        reparse_tag: 0,
        mode: p.mode & 0o7777,
        owner: security::Sid::unix_user(a.uid),
        group: security::Sid::unix_group(a.gid),
    }
}

/// The attribute change a security descriptor written with `additional` asks for.
fn sd_change(
    sd: &SecurityDescriptor,
    a: &Attr,
    additional: u32,
    access_mask: u32,
) -> Result<AttrChange, NtStatus> {
    const OWNER: u32 = 0x1;
    const GROUP: u32 = 0x2;
    const DACL: u32 = 0x4;
    let mut change = AttrChange::default();
    // The owner needs WRITE_OWNER, as in Windows. The group may also come with WRITE_DAC:
    // Linux cifs sends chgrp as GROUP | DACL on a handle opened for WRITE_DAC only. Only a
    // file's owner (or root) is granted either right, and the share applies chown(2)'s rule
    // (a non-root owner may only pick a group it is a member of) to the resulting gid.
    if additional & OWNER != 0 && access_mask & access::WRITE_OWNER == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if additional & GROUP != 0 && access_mask & (access::WRITE_OWNER | access::WRITE_DAC) == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if additional & DACL != 0 && access_mask & access::WRITE_DAC == 0 {
        return Err(NtStatus::ACCESS_DENIED);
    }
    if additional & OWNER != 0
        && let Some(owner) = &sd.owner
    {
        let uid = owner.as_unix_user().ok_or(NtStatus::INVALID_PARAMETER)?;
        if uid != a.uid {
            change.uid = Some(uid);
        }
    }
    if additional & GROUP != 0
        && let Some(group) = &sd.group
    {
        let gid = group.as_unix_group().ok_or(NtStatus::INVALID_PARAMETER)?;
        if gid != a.gid {
            change.gid = Some(gid);
        }
    }
    if additional & DACL != 0 {
        // A DACL of owner / group / Everyone allow ACEs (or with an S-1-5-88-3 mode SID) says
        // the mode exactly, the sticky bit as FILE_DELETE_CHILD the way the Linux cifs client
        // writes it; any other DACL gives the closest mode. Either way the DACL itself is
        // stored beside it (super::acl).
        let uid = change.uid.unwrap_or(a.uid);
        let gid = change.gid.unwrap_or(a.gid);
        let owner = security::Sid::unix_user(uid);
        let group = security::Sid::unix_group(gid);
        let mode = if let Some(bits) = security::to_mode_with(sd, Some(&owner), Some(&group)) {
            // A mode ACE says all twelve bits; other DACLs say the permissions and the sticky
            // bit, and set-user/group-ID stay as they were.
            let said = if security::nfs_mode_ace(sd).is_some() {
                0o7777
            } else {
                0o1777
            };
            (a.mode & !said) | (bits & said)
        } else {
            let dacl_only = dacl_of(sd);
            let bits = protocol::smb2::acl::closest_mode(&dacl_only, uid, gid);
            (a.mode & !0o777) | (bits & 0o777)
        };
        if mode != a.mode {
            change.mode = Some(mode);
        }
    }
    Ok(change)
}

/// The owner, group and DACL parts of a descriptor (what QUERY_INFO asks for by default and
/// what is stored).
const SD_PARTS: u32 = security::secinfo::OWNER | security::secinfo::GROUP | security::secinfo::DACL;

/// The DACL a SET_INFO with DACL_SECURITY_INFORMATION sets: the one in `sd`, or a NULL DACL
/// when `sd` does not have DACL_PRESENT (as Windows reads it), with the DACL control bits the
/// client gave.
fn dacl_of(sd: &SecurityDescriptor) -> SecurityDescriptor {
    use security::control::*;
    let keep = DACL_PROTECTED | DACL_AUTO_INHERITED | DACL_DEFAULTED;
    let dacl = if sd.control & DACL_PRESENT != 0 {
        sd.dacl.as_ref().map(protocol::smb2::acl::map_generic_aces)
    } else {
        None
    };
    SecurityDescriptor {
        control: SELF_RELATIVE | DACL_PRESENT | (sd.control & keep),
        owner: None,
        group: None,
        sacl: None,
        dacl,
    }
}

/// The descriptor in force after a SET_INFO: the DACL from `sd` when `additional` names it,
/// else `base`'s; owner and group always the node's (`after`), since they are stored as the
/// node's uid and gid. SACLs are not kept.
fn merged_sd(
    base: SecurityDescriptor,
    sd: &SecurityDescriptor,
    additional: u32,
    after: &Attr,
) -> SecurityDescriptor {
    use security::control::*;
    let dacl_part = if additional & security::secinfo::DACL != 0 {
        dacl_of(sd)
    } else {
        base
    };
    SecurityDescriptor {
        control: SELF_RELATIVE
            | DACL_PRESENT
            | (dacl_part.control & (DACL_PROTECTED | DACL_AUTO_INHERITED | DACL_DEFAULTED)),
        owner: Some(security::Sid::unix_user(after.uid)),
        group: Some(security::Sid::unix_group(after.gid)),
        sacl: None,
        dacl: dacl_part.dacl,
    }
}

#[cfg(test)]
mod tests {
    use super::short_name;

    /// Goal: 8.3 names stay (upper-cased); long ones are shortened the way Windows shows them.
    #[test]
    fn short_names() {
        assert_eq!(short_name("readme.txt"), "README.TXT");
        assert_eq!(short_name("a long file name.jpeg"), "ALONGF~1.JPE");
        assert_eq!(short_name(".profile"), "PROFIL~1");
        assert_eq!(short_name("日本語"), "_~1");
    }
}
