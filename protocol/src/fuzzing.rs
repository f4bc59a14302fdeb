//! Entry points for the cargo-fuzz targets in `fuzz/` and the corpus replay test (feature
//! `fuzzing`). Each takes arbitrary bytes and must never panic on them; where a decoder is
//! strict enough that its encoding is canonical, the entry point also asserts that whatever
//! decodes re-encodes to the same bytes, so the fuzzer finds encoder bugs too.

use crate::nfs3;
use crate::wire::encode_to_vec;

/// NFSv3 call arguments: the first 4 bytes (big-endian) pick the procedure number, the rest
/// are the arguments given to [`nfs3::decode_call`].
pub fn fuzz_nfs3_call(data: &[u8]) {
    let Some((proc_, args)) = data.split_first_chunk::<4>() else {
        return;
    };
    if let Ok(call) = nfs3::decode_call(u32::from_be_bytes(*proc_), args) {
        assert_eq!(
            encode_to_vec(&call),
            args,
            "an accepted NFSv3 call must re-encode to its input"
        );
    }
}

/// NFSv3 result bodies, as test clients and the simulator decode them: the first 4 bytes
/// (big-endian) pick the procedure, the rest go to [`nfs3::decode_reply`].
pub fn fuzz_nfs3_reply(data: &[u8]) {
    let Some((proc_, body)) = data.split_first_chunk::<4>() else {
        return;
    };
    let Some(proc_) = nfs3::Nfs3Proc::from_u32(u32::from_be_bytes(*proc_)) else {
        return;
    };
    if let Ok(reply) = nfs3::decode_reply(proc_, body) {
        assert_eq!(
            encode_to_vec(&reply),
            body,
            "an accepted NFSv3 reply must re-encode to its input"
        );
    }
}

/// RPC record marking: the bytes are fed to a [`crate::rpc::RecordDecoder`] in chunks whose
/// sizes come from the data itself, until the data is used up or the decoder reports a broken
/// stream. Every record returned must respect the record limit.
pub fn fuzz_record(data: &[u8]) {
    let mut d = crate::rpc::RecordDecoder::new();
    let mut buf = bytes::BytesMut::new();
    let mut rest = data;
    while let Some(&first) = rest.first() {
        let n = (usize::from(first) % 64 + 1).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match d.decode(&mut buf) {
                Ok(Some(record)) => assert!(
                    record.len() <= crate::wire::limits::RECORD_MAX,
                    "a record over RECORD_MAX was returned"
                ),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// An ONC RPC call header, its credentials, and the reply the server would send for a broken
/// header; the same bytes also go through the reply decoder. A call that decodes must
/// re-encode to its input (the header encoding is canonical).
pub fn fuzz_rpc_call(data: &[u8]) {
    use crate::rpc;
    match rpc::decode_call(data) {
        Ok((call, args)) => {
            let _ = rpc::Credentials::from_call(&call);
            let mut again = encode_to_vec(&call);
            again.extend_from_slice(args);
            assert_eq!(
                again, data,
                "an accepted RPC call must re-encode to its input"
            );
        }
        Err(e) => {
            if let Some((xid, status)) = e.reply() {
                rpc::encode_reply(&mut crate::xdr::Writer::new(), xid, status);
            }
        }
    }
    let _ = rpc::decode_reply(data);
}

/// Portmapper arguments and results: the bytes are decoded as the arguments and as the results
/// of every procedure, and whatever decodes must re-encode to its input.
pub fn fuzz_portmap(data: &[u8]) {
    use crate::portmap::{self, PortmapProc};
    for p in PortmapProc::ALL {
        if let Ok(call) = portmap::decode_call(p.as_u32(), data) {
            assert_eq!(encode_to_vec(&call), data, "portmapper call must re-encode");
        }
        if let Ok(reply) = portmap::decode_reply(p, data) {
            assert_eq!(
                encode_to_vec(&reply),
                data,
                "portmapper reply must re-encode"
            );
        }
    }
}

/// MOUNT arguments and results: the bytes are decoded as the arguments and as the results of
/// every procedure, and whatever decodes must re-encode to its input.
pub fn fuzz_mount(data: &[u8]) {
    use crate::mount3::{self, MountProc};
    for p in MountProc::ALL {
        if let Ok(call) = mount3::decode_call(p.as_u32(), data) {
            assert_eq!(encode_to_vec(&call), data, "MOUNT call must re-encode");
        }
        if let Ok(reply) = mount3::decode_reply(p, data) {
            assert_eq!(encode_to_vec(&reply), data, "MOUNT reply must re-encode");
        }
    }
}

/// Re-encodes an SMB2 message body after the 64-byte header it was decoded with.
fn reencode_with_header(
    header: &[u8],
    encode: impl FnOnce(&mut crate::smb2::le::Writer),
) -> Vec<u8> {
    let mut w = crate::smb2::le::Writer::new();
    w.bytes(header.get(..64).unwrap_or(header));
    encode(&mut w);
    w.into_inner()
}

/// QUERY_INFO / SET_INFO messages and every [MS-FSCC] information class decoder: the first
/// byte picks the decoder (0–3: query request, query response, set request, set response,
/// each given a whole message from its SMB2 header; 4–127: that file information class;
/// 0x80 | n: file-system information class n; classes [`crate::smb2::fscc::AnyInfo`] does
/// not know are skipped; 0x80: a FILE_GET_EA_INFORMATION name list; 0xFF: an
/// SMB2_QUERY_QUOTA_INFO and a FILE_QUOTA_INFORMATION list). Whatever decodes must decode
/// again to the same value after re-encoding.
pub fn fuzz_smb2_info(data: &[u8]) {
    use crate::smb2::fscc::{AnyInfo, InfoType};
    use crate::smb2::info::{QueryInfoRequest, QueryInfoResponse, SetInfoRequest, SetInfoResponse};
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel {
        0 => {
            if let Ok(v) = QueryInfoRequest::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(
                    QueryInfoRequest::decode(&again),
                    Ok(v),
                    "QUERY_INFO request"
                );
            }
        }
        1 => {
            if let Ok(v) = QueryInfoResponse::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(
                    QueryInfoResponse::decode(&again),
                    Ok(v),
                    "QUERY_INFO response"
                );
            }
        }
        2 => {
            if let Ok(v) = SetInfoRequest::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(SetInfoRequest::decode(&again), Ok(v), "SET_INFO request");
            }
        }
        3 => {
            if let Ok(v) = SetInfoResponse::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(SetInfoResponse::decode(&again), Ok(v), "SET_INFO response");
            }
        }
        0xff => {
            if let Ok(v) = crate::smb2::info::QueryQuotaInfo::decode(rest) {
                let b = v.encode();
                assert_eq!(
                    crate::smb2::info::QueryQuotaInfo::decode(&b),
                    Ok(v),
                    "quota query"
                );
            }
            let t = InfoType::QUOTA;
            if let Ok(Some(v)) = AnyInfo::decode(t, 0, rest) {
                assert_eq!(
                    AnyInfo::decode(t, 0, &v.encode()),
                    Ok(Some(v)),
                    "quota list"
                );
            }
        }
        0x80 => {
            if let Ok(names) = crate::smb2::fscc::decode_get_ea_list(rest) {
                let b = crate::smb2::fscc::encode_get_ea_list(&names);
                assert_eq!(
                    crate::smb2::fscc::decode_get_ea_list(&b),
                    Ok(names),
                    "EA names"
                );
            }
        }
        _ => {
            let (t, c) = if sel & 0x80 != 0 {
                (InfoType::FILESYSTEM, sel & 0x7f)
            } else {
                (InfoType::FILE, sel)
            };
            if let Ok(Some(v)) = AnyInfo::decode(t, c, rest) {
                assert_eq!(
                    AnyInfo::decode(t, c, &v.encode()),
                    Ok(Some(v)),
                    "information class {c} of type {}",
                    t.0
                );
            }
        }
    }
}

/// [MS-DTYP] security: the first byte picks the decoder (0: self-relative security
/// descriptor, also mapped to a mode; 1: a SID in text form; 2: a binary SID; 3: an ACL).
/// Decoded values must survive re-encoding; binary SIDs re-encode to their input.
pub fn fuzz_smb2_security(data: &[u8]) {
    use crate::smb2::security::{Acl, SecurityDescriptor, Sid, to_mode, to_mode_ignoring_others};
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 4 {
        0 => {
            if let Ok(sd) = SecurityDescriptor::decode(rest) {
                let bytes = sd.encode();
                let again = SecurityDescriptor::decode(&bytes);
                assert_eq!(again.as_ref(), Ok(&sd), "security descriptor");
                assert_eq!(sd.encode(), bytes, "security descriptor encoding is stable");
                let _ = to_mode(&sd);
                let _ = to_mode_ignoring_others(&sd, sd.owner.as_ref(), sd.group.as_ref());
                let _ = sd.filtered(u32::from(sel));
            }
        }
        1 => {
            if let Some(sid) = std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.parse::<Sid>().ok())
            {
                assert_eq!(sid.to_string().parse::<Sid>(), Ok(sid.clone()), "SID text");
                assert_eq!(Sid::decode(&sid.encode()), Ok(sid), "SID binary");
            }
        }
        2 => {
            if let Ok(sid) = Sid::decode(rest) {
                assert_eq!(sid.encode(), rest, "binary SID");
                assert_eq!(sid.to_string().parse::<Sid>(), Ok(sid), "SID text");
            }
        }
        _ => {
            if let Ok(acl) = Acl::decode(rest) {
                let mut w = crate::smb2::le::Writer::new();
                acl.write(&mut w);
                assert_eq!(Acl::decode(w.as_slice()), Ok(acl), "ACL");
            }
        }
    }
}

/// IOCTL messages, every FSCTL payload decoder and Minshall-French symlink files: the first
/// byte picks the decoder (0: IOCTL request, 1: IOCTL response, as whole messages from the
/// SMB2 header; 2–10: FSCTL payloads; 11: FSCTL_SET_SPARSE's input, the symlink error
/// response, FILE_OBJECTID_BUFFER and FSCTL_PIPE_WAIT's input; 12: an MF symlink file). Decoded values must survive
/// re-encoding; fixed payloads re-encode to their input.
pub fn fuzz_smb2_ioctl(data: &[u8]) {
    use crate::smb2::ioctl::*;
    use crate::smb2::mfsymlink;
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 13 {
        0 => {
            if let Ok(v) = IoctlRequest::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(IoctlRequest::decode(&again), Ok(v), "IOCTL request");
            }
        }
        1 => {
            if let Ok(v) = IoctlResponse::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(IoctlResponse::decode(&again), Ok(v), "IOCTL response");
            }
        }
        2 => {
            if let Ok(v) = ValidateNegotiateInfoRequest::decode(rest) {
                assert_eq!(v.encode(), rest, "VALIDATE_NEGOTIATE_INFO request");
            }
        }
        3 => {
            if let Ok(v) = ValidateNegotiateInfoResponse::decode(rest) {
                assert_eq!(v.encode(), rest, "VALIDATE_NEGOTIATE_INFO response");
            }
        }
        4 => {
            if let Ok(v) = NetworkInterfaceInfo::decode_list(rest) {
                let b = NetworkInterfaceInfo::encode_list(&v);
                assert_eq!(NetworkInterfaceInfo::decode_list(&b), Ok(v), "interfaces");
            }
        }
        5 => {
            if let Ok(v) = ResumeKeyResponse::decode(rest) {
                assert_eq!(v.encode(), rest, "resume key");
            }
        }
        6 => {
            if let Ok(v) = CopyChunkRequest::decode(rest) {
                assert_eq!(
                    CopyChunkRequest::decode(&v.encode()),
                    Ok(v.clone()),
                    "copychunk"
                );
                let _ = v.within_limits();
            }
        }
        7 => {
            if let Ok(v) = CopyChunkResponse::decode(rest) {
                assert_eq!(v.encode(), rest, "copychunk response");
            }
        }
        8 => {
            if let Ok(v) = ReparseData::decode(rest) {
                assert_eq!(ReparseData::decode(&v.encode()), Ok(v), "reparse data");
            }
        }
        9 => {
            if let Ok(v) = FileZeroDataInformation::decode(rest) {
                assert_eq!(v.encode(), rest, "zero data");
            }
        }
        10 => {
            if let Ok(v) = AllocatedRange::decode_list(rest) {
                assert_eq!(AllocatedRange::encode_list(&v), rest, "allocated ranges");
            }
        }
        11 => {
            let _ = decode_set_sparse(rest);
            if let Ok(v) = ObjectIdBuffer::decode(rest) {
                assert_eq!(v.encode(), rest, "object id");
            }
            if let Ok(v) = PipeWaitRequest::decode(rest) {
                assert_eq!(v.encode(), rest, "pipe wait");
            }
            if let Ok(v) = SymlinkErrorResponse::decode(rest) {
                let b = v.encode();
                assert_eq!(
                    SymlinkErrorResponse::decode(&b),
                    Ok(v),
                    "symlink error response"
                );
            }
        }
        _ => {
            if let Some(target) = mfsymlink::decode(rest) {
                let file = mfsymlink::encode(target);
                assert_eq!(
                    file.as_deref().and_then(mfsymlink::decode),
                    Some(target),
                    "MF symlink"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Goal: the fuzz entry points accept the inputs their targets start from (valid
    /// messages) without tripping their own assertions.
    #[test]
    fn seeds_pass() {
        let null_call = hex::decode(concat!(
            "00000001", "00000000", "00000002", "000186a3", "00000003", "00000000", "00000000",
            "00000000", "00000000", "00000000",
        ))
        .unwrap();
        fuzz_rpc_call(&null_call);
        fuzz_record(&crate::rpc::encode_record(&null_call));
        fuzz_portmap(&hex::decode("000186a5000000030000000600000000").unwrap());
        fuzz_mount(&hex::decode("000000072f6578706f727400").unwrap());
        fuzz_mount(&[]);
        fuzz_portmap(&[]);
    }

    proptest! {
        /// Goal: random bytes never panic the RPC, portmapper and MOUNT entry points (their
        /// re-encode assertions included).
        #[test]
        fn random_bytes(data in vec(any::<u8>(), 0..256)) {
            fuzz_record(&data);
            fuzz_rpc_call(&data);
            fuzz_portmap(&data);
            fuzz_mount(&data);
        }
    }
    /// Valid inputs for the SMB2 info, security and ioctl targets, built by the encoders:
    /// (target, input). The committed seed corpus is these (see `write_smb2_info_corpus`).
    fn smb2_info_seeds() -> Vec<(&'static str, Vec<u8>)> {
        use crate::smb2::fscc::*;
        use crate::smb2::info::*;
        use crate::smb2::ioctl::*;
        use crate::smb2::le::Writer;
        use crate::smb2::security::*;

        let msg = |sel: u8, f: &dyn Fn(&mut Writer)| {
            let mut w = Writer::new();
            w.bytes(&[0xfe, b'S', b'M', b'B', 64, 0]);
            w.zeros(58);
            f(&mut w);
            [vec![sel], w.into_inner()].concat()
        };
        let tagged = |sel: u8, b: Vec<u8>| [vec![sel], b].concat();
        let class_sel = |t: InfoType, c: u8| {
            if t == InfoType::FILESYSTEM {
                0x80 | c
            } else {
                c
            }
        };
        let any = |v: AnyInfo, t: InfoType, c: u8| tagged(class_sel(t, c), v.encode());
        let fid = [0x11; 16];
        let mut out = vec![];
        let info = "smb2_info";
        out.push((
            info,
            msg(0, &|w| {
                QueryInfoRequest {
                    info_type: InfoType::FILE,
                    info_class: 18,
                    output_buffer_length: 4096,
                    additional_information: 0,
                    flags: 0,
                    file_id: fid,
                    input_buffer: vec![],
                }
                .encode(w)
            }),
        ));
        out.push((
            info,
            msg(0, &|w| {
                QueryInfoRequest {
                    info_type: InfoType::SECURITY,
                    info_class: 0,
                    output_buffer_length: 4096,
                    additional_information: 7,
                    flags: 0,
                    file_id: fid,
                    input_buffer: vec![],
                }
                .encode(w)
            }),
        ));
        out.push((
            info,
            msg(1, &|w| {
                QueryInfoResponse {
                    output_buffer: FileStandardInformation::default().encode(),
                }
                .encode(w)
            }),
        ));
        out.push((
            info,
            msg(2, &|w| {
                SetInfoRequest {
                    info_type: InfoType::FILE,
                    info_class: 10,
                    additional_information: 0,
                    file_id: fid,
                    buffer: FileRenameInformation {
                        replace_if_exists: true,
                        root_directory: 0,
                        file_name: "dir\\new.txt".into(),
                    }
                    .encode(),
                }
                .encode(w)
            }),
        ));
        out.push((info, msg(3, &|w| SetInfoResponse.encode(w))));
        out.push((
            info,
            tagged(
                0x80,
                encode_get_ea_list(&[b"user.x".to_vec(), b"y".to_vec()]),
            ),
        ));
        out.push((
            info,
            tagged(
                0xff,
                FileQuotaInformation {
                    entries: vec![QuotaEntry {
                        change_time: 1,
                        quota_used: 4096,
                        quota_threshold: u64::MAX,
                        quota_limit: u64::MAX,
                        sid: Sid::unix_user(1000),
                    }],
                }
                .encode(),
            ),
        ));
        out.push((
            info,
            tagged(
                0xff,
                QueryQuotaInfo {
                    return_single: false,
                    restart_scan: true,
                    sid_list: vec![Sid::unix_user(1000)],
                    start_sid: None,
                }
                .encode(),
            ),
        ));
        out.push((
            info,
            tagged(
                0x8b,
                FileFsSectorSizeInformation {
                    logical_bytes_per_sector: 512,
                    physical_bytes_per_sector_for_atomicity: 4096,
                    physical_bytes_per_sector_for_performance: 4096,
                    effective_physical_bytes_per_sector_for_atomicity: 4096,
                    flags: 3,
                    byte_offset_for_sector_alignment: 0,
                    byte_offset_for_partition_alignment: 0,
                }
                .encode(),
            ),
        ));
        out.push((
            info,
            tagged(
                59,
                FileIdInformation {
                    volume_serial_number: 7,
                    file_id: [1; 16],
                }
                .encode(),
            ),
        ));
        let times = FileBasicInformation {
            creation_time: 133_000_000_000_000_000,
            last_access_time: 1,
            last_write_time: 2,
            change_time: 3,
            file_attributes: attributes::ARCHIVE,
        };
        out.push((info, any(AnyInfo::Basic(times), InfoType::FILE, 4)));
        out.push((
            info,
            any(
                AnyInfo::All(FileAllInformation {
                    basic: times,
                    name: FileNameInformation {
                        file_name: "\\a.txt".into(),
                    },
                    ..Default::default()
                }),
                InfoType::FILE,
                18,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::Stream(FileStreamInformation {
                    streams: vec![
                        StreamEntry {
                            name: "::$DATA".into(),
                            size: 10,
                            allocation_size: 4096,
                        },
                        StreamEntry {
                            name: ":s:$DATA".into(),
                            size: 1,
                            allocation_size: 8,
                        },
                    ],
                }),
                InfoType::FILE,
                22,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::FullEa(FileFullEaInformation {
                    entries: vec![
                        FullEa {
                            flags: 0,
                            name: b"user.a".to_vec(),
                            value: b"1".to_vec(),
                        },
                        FullEa {
                            flags: 0x80,
                            name: b"B".to_vec(),
                            value: vec![],
                        },
                    ],
                }),
                InfoType::FILE,
                15,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::NetworkOpen(FileNetworkOpenInformation {
                    end_of_file: 5,
                    ..Default::default()
                }),
                InfoType::FILE,
                34,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::Posix(FilePosixInformation {
                    creation_time: 1,
                    last_access_time: 2,
                    last_write_time: 3,
                    change_time: 4,
                    end_of_file: 5,
                    allocation_size: 6,
                    file_attributes: 0x10,
                    inode: 7,
                    device: 8,
                    reserved: 0,
                    nlinks: 2,
                    reparse_tag: 0,
                    mode: 0o755,
                    owner: Sid::unix_user(0),
                    group: Sid::unix_group(0),
                }),
                InfoType::FILE,
                100,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::FsAttribute(FileFsAttributeInformation {
                    file_system_attributes: 0x8f,
                    maximum_component_name_length: 255,
                    file_system_name: "NTFS".into(),
                }),
                InfoType::FILESYSTEM,
                5,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::FsVolume(FileFsVolumeInformation {
                    volume_creation_time: 1,
                    volume_serial_number: 2,
                    supports_objects: false,
                    volume_label: "share".into(),
                }),
                InfoType::FILESYSTEM,
                1,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::FsFullSize(FileFsFullSizeInformation {
                    total_allocation_units: 100,
                    caller_available_allocation_units: 50,
                    actual_available_allocation_units: 50,
                    sectors_per_allocation_unit: 8,
                    bytes_per_sector: 512,
                }),
                InfoType::FILESYSTEM,
                7,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::DispositionEx(FileDispositionInformationEx {
                    flags: disposition_ex::DELETE | disposition_ex::POSIX_SEMANTICS,
                }),
                InfoType::FILE,
                64,
            ),
        ));

        let sec = "smb2_security";
        out.push((
            sec,
            tagged(0, from_mode(1000, 100, 0o755, true, 0xf).encode()),
        ));
        out.push((
            sec,
            tagged(0, from_mode(0, 0, 0o600, false, secinfo::DACL).encode()),
        ));
        out.push((
            sec,
            tagged(
                0,
                SecurityDescriptor {
                    control: control::SELF_RELATIVE | control::DACL_PRESENT,
                    owner: Some(Sid::builtin_administrators()),
                    group: Some(Sid::local_system()),
                    sacl: Some(Acl::new(vec![])),
                    dacl: None,
                }
                .encode(),
            ),
        ));
        out.push((
            sec,
            tagged(1, b"S-1-5-21-1004336348-1177238915-682003330-512".to_vec()),
        ));
        out.push((sec, tagged(1, b"S-1-22-1-1000".to_vec())));
        out.push((sec, tagged(2, Sid::everyone().encode())));
        let mut acl = Writer::new();
        Acl::new(vec![
            Ace::allow(
                Sid::everyone(),
                access::FILE_GENERIC_READ,
                ace_flags::OBJECT_INHERIT,
            ),
            Ace::deny(Sid::unix_group(5), access::FILE_WRITE_DATA, 0),
        ])
        .write(&mut acl);
        out.push((sec, tagged(3, acl.into_inner())));

        let io = "smb2_ioctl";
        let vni = ValidateNegotiateInfoRequest {
            capabilities: 0x7f,
            guid: [0xaa; 16],
            security_mode: 1,
            dialects: vec![0x0202, 0x0210, 0x0300, 0x0302, 0x0311],
        };
        out.push((
            io,
            msg(0, &|w| {
                IoctlRequest {
                    ctl_code: CtlCode::VALIDATE_NEGOTIATE_INFO,
                    file_id: [0xff; 16],
                    input: vni.encode(),
                    output: vec![],
                    max_input_response: 0,
                    max_output_response: 24,
                    flags: IOCTL_IS_FSCTL,
                }
                .encode(w)
            }),
        ));
        out.push((
            io,
            msg(1, &|w| {
                IoctlResponse {
                    ctl_code: CtlCode::SRV_REQUEST_RESUME_KEY,
                    file_id: fid,
                    input: vec![],
                    output: ResumeKeyResponse {
                        resume_key: [5; 24],
                        context: vec![],
                    }
                    .encode(),
                    flags: 0,
                }
                .encode(w)
            }),
        ));
        out.push((io, tagged(2, vni.encode())));
        out.push((
            io,
            tagged(
                3,
                ValidateNegotiateInfoResponse {
                    capabilities: 0x2f,
                    guid: [0xbb; 16],
                    security_mode: 1,
                    dialect: 0x0311,
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                4,
                NetworkInterfaceInfo::encode_list(&[
                    NetworkInterfaceInfo {
                        if_index: 1,
                        capability: interface_capability::RSS,
                        link_speed: 1_000_000_000,
                        addr: "10.0.0.2:0".parse().unwrap(),
                    },
                    NetworkInterfaceInfo {
                        if_index: 2,
                        capability: 0,
                        link_speed: 1_000_000_000,
                        addr: "[fd00::2]:0".parse().unwrap(),
                    },
                ]),
            ),
        ));
        out.push((
            io,
            tagged(
                5,
                ResumeKeyResponse {
                    resume_key: [9; 24],
                    context: vec![],
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                6,
                CopyChunkRequest {
                    source_key: [9; 24],
                    chunks: vec![
                        CopyChunk {
                            source_offset: 0,
                            target_offset: 0,
                            length: 65536,
                        },
                        CopyChunk {
                            source_offset: 65536,
                            target_offset: 65536,
                            length: 100,
                        },
                    ],
                }
                .encode(),
            ),
        ));
        out.push((io, tagged(7, CopyChunkResponse::LIMITS.encode())));
        out.push((
            io,
            tagged(
                8,
                ReparseData::Symlink(SymlinkReparse {
                    substitute_name: "..\\target".into(),
                    print_name: "..\\target".into(),
                    flags: SYMLINK_FLAG_RELATIVE,
                })
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                9,
                FileZeroDataInformation {
                    file_offset: 4096,
                    beyond_final_zero: 8192,
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                10,
                AllocatedRange::encode_list(&[AllocatedRange {
                    file_offset: 0,
                    length: 65536,
                }]),
            ),
        ));
        out.push((io, tagged(11, vec![1])));
        out.push((
            io,
            tagged(
                11,
                ObjectIdBuffer {
                    object_id: [3; 16],
                    birth_volume_id: [4; 16],
                    birth_object_id: [3; 16],
                    domain_id: [0; 16],
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                11,
                PipeWaitRequest {
                    timeout: 0,
                    timeout_specified: false,
                    name: "srvsvc".into(),
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                11,
                SymlinkErrorResponse {
                    unparsed_path_length: 0,
                    link: SymlinkReparse {
                        substitute_name: "\\??\\C:\\x".into(),
                        print_name: "C:\\x".into(),
                        flags: 0,
                    },
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                12,
                crate::smb2::mfsymlink::encode(b"../some/target").unwrap(),
            ),
        ));
        out
    }

    /// Goal: the SMB2 info, security and ioctl entry points accept valid inputs from the
    /// encoders, and every seed is something the decoders accept.
    #[test]
    fn smb2_info_seeds_pass() {
        use crate::smb2::fscc::{AnyInfo, InfoType};
        use crate::smb2::{info, ioctl, mfsymlink, security};
        for (target, input) in smb2_info_seeds() {
            let (sel, rest) = (input[0], &input[1..]);
            let accepted = match (target, sel) {
                ("smb2_info", 0) => info::QueryInfoRequest::decode(rest).is_ok(),
                ("smb2_info", 1) => info::QueryInfoResponse::decode(rest).is_ok(),
                ("smb2_info", 2) => info::SetInfoRequest::decode(rest).is_ok(),
                ("smb2_info", 3) => info::SetInfoResponse::decode(rest).is_ok(),
                ("smb2_info", 0x80) => crate::smb2::fscc::decode_get_ea_list(rest).is_ok(),
                ("smb2_info", 0xff) => {
                    info::QueryQuotaInfo::decode(rest).is_ok()
                        || matches!(AnyInfo::decode(InfoType::QUOTA, 0, rest), Ok(Some(_)))
                }
                ("smb2_info", n) => {
                    let t = if n & 0x80 != 0 {
                        InfoType::FILESYSTEM
                    } else {
                        InfoType::FILE
                    };
                    matches!(AnyInfo::decode(t, n & 0x7f, rest), Ok(Some(_)))
                }
                ("smb2_security", 0) => security::SecurityDescriptor::decode(rest).is_ok(),
                ("smb2_security", 1) => std::str::from_utf8(rest)
                    .unwrap()
                    .parse::<security::Sid>()
                    .is_ok(),
                ("smb2_security", 2) => security::Sid::decode(rest).is_ok(),
                ("smb2_security", _) => security::Acl::decode(rest).is_ok(),
                (_, 0) => ioctl::IoctlRequest::decode(rest).is_ok(),
                (_, 1) => ioctl::IoctlResponse::decode(rest).is_ok(),
                (_, 2) => ioctl::ValidateNegotiateInfoRequest::decode(rest).is_ok(),
                (_, 3) => ioctl::ValidateNegotiateInfoResponse::decode(rest).is_ok(),
                (_, 4) => ioctl::NetworkInterfaceInfo::decode_list(rest).is_ok(),
                (_, 5) => ioctl::ResumeKeyResponse::decode(rest).is_ok(),
                (_, 6) => ioctl::CopyChunkRequest::decode(rest).is_ok(),
                (_, 7) => ioctl::CopyChunkResponse::decode(rest).is_ok(),
                (_, 8) => ioctl::ReparseData::decode(rest).is_ok(),
                (_, 9) => ioctl::FileZeroDataInformation::decode(rest).is_ok(),
                (_, 10) => ioctl::AllocatedRange::decode_list(rest).is_ok(),
                (_, 11) => {
                    ioctl::decode_set_sparse(rest).is_ok()
                        || ioctl::SymlinkErrorResponse::decode(rest).is_ok()
                        || ioctl::ObjectIdBuffer::decode(rest).is_ok()
                        || ioctl::PipeWaitRequest::decode(rest).is_ok()
                }
                (_, _) => mfsymlink::decode(rest).is_some(),
            };
            assert!(
                accepted,
                "{target} seed {sel} is not accepted by its decoder"
            );
            match target {
                "smb2_info" => fuzz_smb2_info(&input),
                "smb2_security" => fuzz_smb2_security(&input),
                _ => fuzz_smb2_ioctl(&input),
            }
        }
    }

    /// Writes the seed corpus for smb2_info, smb2_security and smb2_ioctl into
    /// `$DITTOFS_WRITE_CORPUS/<target>/` (files named by the SHA-256 of their contents, cut
    /// to 40 hex digits). Run with `DITTOFS_WRITE_CORPUS=../fuzz/corpus cargo test -p
    /// protocol --features fuzzing --lib write_smb2_info_corpus -- --ignored`.
    #[test]
    #[ignore = "writes files; run by hand to regenerate the seed corpus"]
    fn write_smb2_info_corpus() {
        use sha2::{Digest, Sha256};
        let root = std::path::PathBuf::from(std::env::var("DITTOFS_WRITE_CORPUS").unwrap());
        for (target, input) in smb2_info_seeds() {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            let name = hex::encode(Sha256::digest(&input))[..40].to_owned();
            std::fs::write(dir.join(name), &input).unwrap();
        }
    }

    proptest! {
        /// Goal: random bytes never panic the SMB2 info, security and ioctl entry points.
        #[test]
        fn smb2_info_random_bytes(data in vec(any::<u8>(), 0..300)) {
            fuzz_smb2_info(&data);
            fuzz_smb2_security(&data);
            fuzz_smb2_ioctl(&data);
        }
    }
}
