//! IOCTL ([MS-SMB2] 3.3.5.15): validate-negotiate, network interfaces, named-pipe transceive
//! (srvsvc), server-side copy (resume key + copychunk), symlink reparse points, and the
//! sparse-file controls Windows sends.

use bytes::Bytes;
use protocol::smb2::fileid::FileId;
use protocol::smb2::ioctl::{
    AllocatedRange, CopyChunkRequest, CopyChunkResponse, CtlCode, FileZeroDataInformation,
    IOCTL_IS_FSCTL, IoctlRequest, IoctlResponse, NetworkInterfaceInfo, ReparseData,
    ResumeKeyResponse, SYMLINK_FLAG_RELATIVE, SymlinkReparse, ValidateNegotiateInfoRequest,
    ValidateNegotiateInfoResponse,
};
use protocol::smb2::status::NtStatus;
use stores::FileKind;

use super::attrs::{self, access};
use super::connection::{Conn, Handled, Out, Req, undecodable};
use super::files::failed;
use super::state::OpenKind;
use crate::server::share::locks::Io;
use crate::server::share::{AttrChange, NewKind, Node, Stability};

impl Conn {
    /// IOCTL.
    pub(crate) async fn ioctl(&mut self, req: Req<'_>) -> Handled {
        let r = IoctlRequest::decode(req.msg).map_err(undecodable)?;
        if r.flags & IOCTL_IS_FSCTL == 0 {
            return Err(NtStatus::NOT_SUPPORTED);
        }
        // Requests that name no open.
        match r.ctl_code {
            CtlCode::VALIDATE_NEGOTIATE_INFO => return self.validate_negotiate(&req, &r),
            CtlCode::QUERY_NETWORK_INTERFACE_INFO => {
                self.session(req.hdr)?;
                // [MS-SMB2] 3.3.5.15.11: the request names no open; any FileId but the
                // all-ones one is a bad parameter (checked before the output size, as
                // Windows does: smbtorture ioctl.bug14788.NETWORK_INTERFACE).
                if !FileId::from_bytes(r.file_id).is_related() {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                // The address the client reached us on; RSS_CAPABLE tells a multichannel
                // client it may open further connections to it. The link speed is not
                // measured: a nominal 10 Gb/s.
                let capability = if self.server.settings.multichannel {
                    protocol::smb2::ioctl::interface_capability::RSS
                } else {
                    0
                };
                let mut addr = self.local;
                addr.set_port(0);
                let list = [NetworkInterfaceInfo {
                    if_index: 1,
                    capability,
                    link_speed: 10_000_000_000,
                    addr,
                }];
                return self.ioctl_ok(&r, NetworkInterfaceInfo::encode_list(&list));
            }
            CtlCode::DFS_GET_REFERRALS | CtlCode::DFS_GET_REFERRALS_EX => {
                self.session(req.hdr)?;
                return Err(NtStatus::FS_DRIVER_REQUIRED);
            }
            _ => {}
        }
        let id = self.open_of(&req, FileId::from_bytes(r.file_id))?;
        self.channel_sequence(&req, id)?;
        match r.ctl_code {
            CtlCode::PIPE_TRANSCEIVE => {
                let out = self.pipe_transact(id, &r.input)?;
                let max = r.max_output_response as usize;
                if out.len() > max {
                    // What does not fit is read with READ ([MS-SMB2] 3.3.5.15.1).
                    let (now, later) = out.split_at(max);
                    if let Some(OpenKind::Pipe { out: queued, .. }) =
                        self.opens.get_mut(&id).map(|o| &mut o.kind)
                    {
                        queued.extend_from_slice(later);
                    }
                    let mut w = Out::writer();
                    IoctlResponse::for_request(&r, now.to_vec()).encode(&mut w);
                    return Ok(Out::with_status(NtStatus::BUFFER_OVERFLOW, w));
                }
                self.ioctl_ok(&r, out)
            }
            CtlCode::SRV_REQUEST_RESUME_KEY => {
                let mut key = [0u8; 24];
                key[..8].copy_from_slice(&id.to_le_bytes());
                key[8..].copy_from_slice(&self.resume_secret);
                // ResumeKey, ContextLength 0, then the 4 reserved context bytes Windows and
                // Samba send ([MS-SMB2] 2.2.32.3); clients parse 32 bytes.
                let mut out = ResumeKeyResponse {
                    resume_key: key,
                    context: Vec::new(),
                }
                .encode();
                out.resize(32, 0);
                self.ioctl_ok(&r, out)
            }
            CtlCode::SRV_COPYCHUNK | CtlCode::SRV_COPYCHUNK_WRITE => self.copychunk(&r, id).await,
            CtlCode::GET_REPARSE_POINT => {
                let (node, share, caller) = self.node_of(id)?;
                let a = share.getattr(caller.clone(), node).await.map_err(failed)?;
                if a.kind != FileKind::Symlink {
                    return Err(NtStatus::NOT_A_REPARSE_POINT);
                }
                let (_, target) = share.readlink(caller, node).await.map_err(failed)?;
                let target = String::from_utf8_lossy(&target).into_owned();
                let relative = !target.starts_with('/');
                let win = target.replace('/', "\\");
                let data = ReparseData::Symlink(SymlinkReparse {
                    substitute_name: win.clone(),
                    print_name: win,
                    flags: if relative { SYMLINK_FLAG_RELATIVE } else { 0 },
                });
                self.ioctl_ok(&r, data.encode())
            }
            CtlCode::SET_REPARSE_POINT => self.set_reparse(&r, id).await,
            CtlCode::SET_SPARSE => self.set_sparse(&r, id).await,
            CtlCode::SET_ZERO_DATA => self.set_zero_data(&r, id).await,
            CtlCode::LMR_REQUEST_RESILIENCY => {
                self.request_resiliency(id, &r.input)?;
                self.ioctl_ok(&r, Vec::new())
            }
            // No compression: GET answers COMPRESSION_FORMAT_NONE, SET accepts only NONE.
            CtlCode(0x0009_003C) => {
                self.node_of(id)?;
                self.ioctl_ok(&r, vec![0, 0])
            }
            CtlCode(0x0009_C040) => {
                self.node_of(id)?;
                match r.input.get(..2) {
                    Some([0, 0]) => self.ioctl_ok(&r, Vec::new()),
                    Some(_) => Err(NtStatus::NOT_SUPPORTED),
                    None => Err(NtStatus::INVALID_PARAMETER),
                }
            }
            CtlCode::GET_OBJECT_ID | CtlCode::CREATE_OR_GET_OBJECT_ID => {
                // The object id is the inode number: stable for the file's life.
                let (node, share, _) = self.node_of(id)?;
                let mut object_id = [0u8; 16];
                object_id[..8].copy_from_slice(&node.ino.0.to_le_bytes());
                object_id[8..12].copy_from_slice(&share.id().0.to_le_bytes());
                let mut volume = [0u8; 16];
                volume[..4].copy_from_slice(&share.id().0.to_le_bytes());
                let buf = protocol::smb2::ioctl::ObjectIdBuffer {
                    object_id,
                    birth_volume_id: volume,
                    birth_object_id: object_id,
                    domain_id: [0; 16],
                };
                self.ioctl_ok(&r, buf.encode())
            }
            CtlCode::QUERY_ALLOCATED_RANGES => self.query_allocated_ranges(&r, id).await,
            _ => Err(NtStatus::INVALID_DEVICE_REQUEST),
        }
    }

    fn ioctl_ok(&self, r: &IoctlRequest, output: Vec<u8>) -> Handled {
        if output.len() > r.max_output_response as usize {
            return Err(NtStatus::BUFFER_TOO_SMALL);
        }
        let mut w = Out::writer();
        IoctlResponse::for_request(r, output).encode(&mut w);
        Ok(Out::ok(w))
    }

    /// FSCTL_VALIDATE_NEGOTIATE_INFO ([MS-SMB2] 3.3.5.15.12): what the client says it sent and
    /// received must match what this connection negotiated; otherwise someone tampered with
    /// the unsigned NEGOTIATE and the connection is closed.
    fn validate_negotiate(&mut self, req: &Req<'_>, r: &IoctlRequest) -> Handled {
        self.session(req.hdr)?;
        let neg = self.neg.clone().ok_or(NtStatus::INVALID_PARAMETER)?;
        let v = ValidateNegotiateInfoRequest::decode(&r.input).map_err(|_| {
            self.close = true;
            NtStatus::INVALID_PARAMETER
        })?;
        let ok = v.capabilities == neg.client_capabilities
            && v.guid == neg.client_guid
            && v.security_mode == neg.client_security_mode
            && v.dialects == neg.client_dialects;
        if !ok {
            tracing::warn!("VALIDATE_NEGOTIATE_INFO does not match the negotiation; closing");
            self.close = true;
            return Err(NtStatus::ACCESS_DENIED);
        }
        self.ioctl_ok(
            r,
            ValidateNegotiateInfoResponse {
                capabilities: neg.server_capabilities,
                guid: self.server.guid,
                security_mode: neg.server_security_mode,
                dialect: neg.dialect,
            }
            .encode(),
        )
    }

    /// FSCTL_SET_SPARSE ([MS-FSCC] 2.3.64, [MS-FSA] 2.1.5.9.36): sets or clears the stored
    /// SPARSE_FILE attribute. No buffer means set; only the first byte of a longer one counts
    /// (Windows accepts oversized buffers). Directories cannot be sparse.
    async fn set_sparse(&mut self, r: &IoctlRequest, id: u64) -> Handled {
        let (node, share, caller) = self.data_node_of(id)?;
        let access_mask = self.opens.get(&id).map_or(0, |o| o.access);
        if access_mask
            & (access::FILE_WRITE_DATA | access::FILE_WRITE_ATTRIBUTES | access::FILE_APPEND_DATA)
            == 0
        {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let a = share.getattr(caller.clone(), node).await.map_err(failed)?;
        if a.kind == FileKind::Directory {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let set = r.input.first().is_none_or(|&b| b != 0);
        let meta = attrs::meta(&share, &caller, node).await?;
        let old = meta.dos.bits(&a);
        let bits = if set {
            old | attrs::SPARSE_FILE
        } else {
            old & !attrs::SPARSE_FILE
        };
        attrs::store_dos(&share, &caller, &a, meta.dos, bits).await?;
        self.ioctl_ok(r, Vec::new())
    }

    /// FSCTL_QUERY_ALLOCATED_RANGES ([MS-FSCC] 2.3.51, [MS-FSA] 2.1.5.9.21): the data ranges
    /// inside the one range asked about. A file that is not sparse is data from start to end
    /// (as Windows and Samba report it, whatever the store deallocated); a sparse file's holes
    /// come from the content store. Ranges that do not fit the output are left out
    /// (BUFFER_OVERFLOW, or BUFFER_TOO_SMALL when none fits).
    async fn query_allocated_ranges(&mut self, r: &IoctlRequest, id: u64) -> Handled {
        let (node, share, caller) = self.data_node_of(id)?;
        let access_mask = self.opens.get(&id).map_or(0, |o| o.access);
        if access_mask & (access::FILE_READ_DATA | access::FILE_WRITE_DATA) == 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        // The first range counts; a longer buffer is accepted, as Windows does.
        let asked = r
            .input
            .get(..16)
            .and_then(|b| AllocatedRange::decode_list(b).ok())
            .and_then(|l| l.first().copied())
            .ok_or(NtStatus::INVALID_PARAMETER)?;
        let (Ok(off), Ok(len)) = (
            i64::try_from(asked.file_offset),
            i64::try_from(asked.length),
        ) else {
            return Err(NtStatus::INVALID_PARAMETER);
        };
        if off.checked_add(len).is_none() {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let (off, len) = (asked.file_offset, asked.length);
        let a = share.getattr(caller.clone(), node).await.map_err(failed)?;
        if a.kind == FileKind::Directory {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let meta = attrs::meta(&share, &caller, node).await?;
        let ranges: Vec<(u64, u64)> = if meta.dos.bits(&a) & attrs::SPARSE_FILE != 0 {
            share
                .allocated(caller, node, off, len)
                .await
                .map_err(failed)?
        } else {
            let end = off.saturating_add(len).min(a.size);
            if end > off {
                vec![(off, end - off)]
            } else {
                Vec::new()
            }
        };
        let fit = (r.max_output_response as usize) / 16;
        let list: Vec<AllocatedRange> = ranges
            .iter()
            .take(fit)
            .map(|&(file_offset, length)| AllocatedRange {
                file_offset,
                length,
            })
            .collect();
        if list.len() < ranges.len() {
            if list.is_empty() {
                return Err(NtStatus::BUFFER_TOO_SMALL);
            }
            let mut w = Out::writer();
            IoctlResponse::for_request(r, AllocatedRange::encode_list(&list)).encode(&mut w);
            return Ok(Out::with_status(NtStatus::BUFFER_OVERFLOW, w));
        }
        self.ioctl_ok(r, AllocatedRange::encode_list(&list))
    }

    /// FSCTL_SET_ZERO_DATA ([MS-FSCC] 2.3.85, [MS-FSA] 2.1.5.9.39): zeroes the range (never past
    /// the end of file), deallocating it where the content store can.
    async fn set_zero_data(&mut self, r: &IoctlRequest, id: u64) -> Handled {
        let (node, share, caller) = self.data_node_of(id)?;
        let access_mask = self.opens.get(&id).map_or(0, |o| o.access);
        let z =
            FileZeroDataInformation::decode(&r.input).map_err(|_| NtStatus::INVALID_PARAMETER)?;
        if z.file_offset > z.beyond_final_zero || i64::try_from(z.beyond_final_zero).is_err() {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        if access_mask & access::FILE_WRITE_DATA == 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let a = share.getattr(caller.clone(), node).await.map_err(failed)?;
        if a.kind == FileKind::Directory {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let len = z.beyond_final_zero - z.file_offset;
        self.check_io(&share, id, node, Io::Write, z.file_offset, len)
            .await?;
        if len > 0 {
            share
                .punch(caller, node, z.file_offset, len)
                .await
                .map_err(failed)?;
        }
        self.ioctl_ok(r, Vec::new())
    }

    /// The node, share and caller of open `id`.
    fn node_of(
        &self,
        id: u64,
    ) -> Result<
        (
            Node,
            crate::server::share::ShareHandle,
            crate::server::share::Caller,
        ),
        NtStatus,
    > {
        let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let OpenKind::Node { node, .. } = &open.kind else {
            return Err(NtStatus::INVALID_DEVICE_REQUEST);
        };
        let (share, caller) = self.share_of(open)?;
        Ok((*node, share, caller))
    }

    /// The named stream open as `id`, if it is a stream open.
    fn stream_of(&self, id: u64) -> Option<String> {
        match self.opens.get(&id).map(|o| &o.kind) {
            Some(OpenKind::Node { stream, .. }) => stream.clone(),
            _ => None,
        }
    }

    /// [`Self::node_of`] for the controls that work on a file's own data only (sparse
    /// ranges, zeroing, reparse points): a stream open is refused.
    fn data_node_of(
        &self,
        id: u64,
    ) -> Result<
        (
            Node,
            crate::server::share::ShareHandle,
            crate::server::share::Caller,
        ),
        NtStatus,
    > {
        if self.stream_of(id).is_some() {
            return Err(NtStatus::INVALID_DEVICE_REQUEST);
        }
        self.node_of(id)
    }

    /// FSCTL_SRV_COPYCHUNK(_WRITE): server-side copy from the open the resume key names into
    /// the open the IOCTL names.
    async fn copychunk(&mut self, r: &IoctlRequest, target: u64) -> Handled {
        if (r.max_output_response as usize) < 12 {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let c = CopyChunkRequest::decode(&r.input).map_err(undecodable)?;
        if !c.within_limits() {
            let mut w = Out::writer();
            IoctlResponse::for_request(r, CopyChunkResponse::LIMITS.encode()).encode(&mut w);
            return Ok(Out::with_status(NtStatus::INVALID_PARAMETER, w));
        }
        if c.source_key[8..] != self.resume_secret {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        }
        let source = u64::from_le_bytes(c.source_key[..8].try_into().unwrap_or_default());
        let src = self
            .opens
            .get(&source)
            .ok_or(NtStatus::OBJECT_NAME_NOT_FOUND)?;
        // Execute access reads the data too (smbtorture ioctl.copy_chunk_bad_access).
        if src.access & (access::FILE_READ_DATA | access::FILE_EXECUTE) == 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let dst = self.opens.get(&target).ok_or(NtStatus::FILE_CLOSED)?;
        if dst.access & access::FILE_WRITE_DATA == 0
            || r.ctl_code == CtlCode::SRV_COPYCHUNK && dst.access & access::FILE_READ_DATA == 0
        {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let (src_node, src_share, src_caller) = self.node_of(source)?;
        let (dst_node, dst_share, dst_caller) = self.node_of(target)?;
        // Either side may be a named stream (smbtorture ioctl.copy-chunk streams).
        let (src_stream, dst_stream) = (self.stream_of(source), self.stream_of(target));
        if src_share.id() != dst_share.id() {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        }
        let mut written = 0u32;
        let mut bytes = 0u32;
        for chunk in &c.chunks {
            // Byte-range locks of other opens stop the copy as they stop READ and WRITE
            // (Windows Server 2012 on; smbtorture ioctl.copy_chunk_src_lock / dest_lock).
            let len = u64::from(chunk.length);
            let locked = match self
                .check_io(
                    &src_share,
                    source,
                    src_node,
                    Io::Read,
                    chunk.source_offset,
                    len,
                )
                .await
            {
                Ok(()) => {
                    self.check_io(
                        &dst_share,
                        target,
                        dst_node,
                        Io::Write,
                        chunk.target_offset,
                        len,
                    )
                    .await
                }
                Err(e) => Err(e),
            };
            if let Err(status) = locked {
                let mut w = Out::writer();
                let counts = CopyChunkResponse {
                    chunks_written: written,
                    chunk_bytes_written: 0,
                    total_bytes_written: bytes,
                };
                IoctlResponse::for_request(r, counts.encode()).encode(&mut w);
                return Ok(Out::with_status(status, w));
            }
            let data = match &src_stream {
                Some(s) => {
                    super::streams::read(
                        &src_share,
                        &src_caller,
                        src_node,
                        s,
                        chunk.source_offset,
                        chunk.length,
                    )
                    .await?
                }
                None => {
                    src_share
                        .read(
                            src_caller.clone(),
                            src_node,
                            chunk.source_offset,
                            chunk.length,
                        )
                        .await
                        .map_err(failed)?
                        .1
                }
            };
            if data.len() < chunk.length as usize {
                // Reading past the end of the source: what was copied so far is reported.
                let mut w = Out::writer();
                let counts = CopyChunkResponse {
                    chunks_written: written,
                    chunk_bytes_written: 0,
                    total_bytes_written: bytes,
                };
                IoctlResponse::for_request(r, counts.encode()).encode(&mut w);
                return Ok(Out::with_status(NtStatus::INVALID_VIEW_SIZE, w));
            }
            match &dst_stream {
                Some(s) => {
                    super::streams::write(
                        &dst_share,
                        &dst_caller,
                        dst_node,
                        s,
                        chunk.target_offset,
                        &data,
                    )
                    .await?;
                }
                None => {
                    dst_share
                        .write(
                            dst_caller.clone(),
                            dst_node,
                            chunk.target_offset,
                            data,
                            Stability::Unstable,
                        )
                        .await
                        .map_err(failed)?;
                }
            }
            written += 1;
            bytes = bytes.saturating_add(chunk.length);
        }
        if let Some(o) = self.opens.get_mut(&target) {
            o.dirty = true;
        }
        self.ioctl_ok(
            r,
            CopyChunkResponse {
                chunks_written: written,
                chunk_bytes_written: 0,
                total_bytes_written: bytes,
            }
            .encode(),
        )
    }

    /// FSCTL_SET_REPARSE_POINT with a symlink: Windows creates a file, then makes it a
    /// symlink; the (empty) file is replaced by a symlink of the same name.
    async fn set_reparse(&mut self, r: &IoctlRequest, id: u64) -> Handled {
        let data = ReparseData::decode(&r.input).map_err(undecodable)?;
        let ReparseData::Symlink(link) = data else {
            return Err(NtStatus::IO_REPARSE_TAG_NOT_HANDLED);
        };
        let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        if open.access & (access::FILE_WRITE_DATA | access::FILE_WRITE_ATTRIBUTES) == 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let OpenKind::Node {
            node,
            parent,
            name,
            stream: None,
            ..
        } = &open.kind
        else {
            return Err(NtStatus::INVALID_DEVICE_REQUEST);
        };
        let (node, parent, name) = (*node, *parent, name.clone());
        let (share, caller) = self.share_of(open)?;
        let a = share.getattr(caller.clone(), node).await.map_err(failed)?;
        if a.kind != FileKind::Regular || a.size != 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let target = link.substitute_name.replace('\\', "/");
        share
            .remove(
                caller.clone(),
                parent,
                Bytes::copy_from_slice(name.as_bytes()),
                false,
            )
            .await
            .map_err(failed)?;
        let made = share
            .make(
                caller,
                parent,
                Bytes::copy_from_slice(name.as_bytes()),
                NewKind::Symlink(target.into_bytes()),
                AttrChange::default(),
            )
            .await
            .map_err(failed)?;
        if let Some(o) = self.opens.get_mut(&id)
            && let OpenKind::Node { node, .. } = &mut o.kind
        {
            *node = Node::from(&made.attr);
        }
        self.ioctl_ok(r, Vec::new())
    }
}
