//! QUERY_DIRECTORY (CHANGE_NOTIFY is in `notify`).
//!
//! Enumeration state lives in the open: the share's cookie of the last entry read and the
//! entries read but not yet returned (a page that did not fit), so a resumed listing neither
//! repeats nor skips entries; RESTART_SCANS and REOPEN start over.

use std::collections::VecDeque;

use protocol::smb2::dir::{
    DirBuffer, DirEntry, InfoClass, PosixEntryInfo, QueryDirectoryFlags, QueryDirectoryRequest,
    QueryDirectoryResponse, matches,
};
use protocol::smb2::status::NtStatus;
use stores::{Attr, FileKind};

use super::attrs;
use super::connection::{Conn, Handled, Out, Req, filetime, undecodable};
use super::files::failed;
use super::state::{OpenKind, Pending};
use crate::server::share::Node;

/// Entries asked of the share per page.
const PAGE: usize = 256;

/// The directory entry of `name` with attributes `a` and what the store holds beyond them.
pub(crate) fn entry(name: &str, a: &Attr, posix: bool, meta: attrs::Meta) -> DirEntry {
    DirEntry {
        name: name.to_owned(),
        file_index: 0,
        creation_time: filetime(a.btime),
        last_access_time: filetime(a.atime),
        last_write_time: filetime(a.mtime),
        change_time: filetime(a.ctime),
        end_of_file: attrs::end_of_file(a),
        allocation_size: attrs::allocation(a),
        attributes: protocol::smb2::create::FileAttributes(attrs::dos(a, name, meta.dos)),
        ea_size: meta.ea_size,
        reparse_tag: if a.kind == FileKind::Symlink {
            0xA000_000C
        } else {
            0
        },
        file_id: a.ino.0,
        short_name: (name != "." && name != "..").then(|| super::info::short_name(name)),
        posix: posix.then(|| {
            let p = attrs::posix_info(a);
            PosixEntryInfo {
                nlinks: p.nlinks,
                mode: p.mode,
                device_id: 0,
                owner_sid: p.owner_sid,
                group_sid: p.group_sid,
            }
        }),
    }
}

impl Conn {
    /// QUERY_DIRECTORY ([MS-SMB2] 3.3.5.18).
    pub(crate) async fn query_directory(&mut self, req: Req<'_>) -> Handled {
        let r = QueryDirectoryRequest::decode(req.msg).map_err(undecodable)?;
        let id = self.open_of(&req, r.file_id)?;
        if !r.info_class.is_supported() {
            return Err(NtStatus::INVALID_INFO_CLASS);
        }
        let posix = r.info_class == InfoClass::POSIX;
        let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let OpenKind::Node { node, is_dir, .. } = &open.kind else {
            return Err(NtStatus::INVALID_PARAMETER);
        };
        if !is_dir {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        if open.access & attrs::access::FILE_READ_DATA == 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let node: Node = *node;
        let (share, caller) = self.share_of(open)?;
        let open = self.opens.get_mut(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let restart = r
            .flags
            .intersects(QueryDirectoryFlags::RESTART_SCANS | QueryDirectoryFlags::REOPEN);
        if restart || open.scan.pattern.is_none() {
            open.scan = Default::default();
            let p = if r.pattern.is_empty() {
                "*".to_owned()
            } else {
                r.pattern.clone()
            };
            open.scan.pattern = Some(p);
        }
        let pattern = open.scan.pattern.clone().unwrap_or_else(|| "*".to_owned());
        let single = r.flags.contains(QueryDirectoryFlags::RETURN_SINGLE_ENTRY);
        let mut buf = DirBuffer::new(r.info_class, r.output_buffer_length as usize);
        // The cookie after the last entry taken from a page: where the next call resumes.
        let mut resume = open.scan.cookie;
        loop {
            // Fill from what is pending first.
            while let Some(e) = open.scan.pending.front() {
                let Some(meta) = e.meta else {
                    // Not matching the pattern, or a kind Windows does not show.
                    resume = e.cookie;
                    open.scan.pending.pop_front();
                    continue;
                };
                if !buf.push(&entry(&e.name, &e.attr, posix, meta)) {
                    break;
                }
                tracing::trace!(name = %e.name, "QUERY_DIRECTORY entry");
                resume = e.cookie;
                open.scan.pending.pop_front();
                open.scan.returned_any = true;
                if single {
                    break;
                }
            }
            let full = !open.scan.pending.is_empty() || (single && !buf.is_empty());
            if full || open.scan.eof {
                break;
            }
            let listing = share
                .readdir(
                    caller.clone(),
                    node,
                    open.scan.cookie,
                    crate::server::share::COOKIE_VERIFIER,
                    PAGE,
                    true,
                )
                .await
                .map_err(failed)?;
            let mut page = VecDeque::with_capacity(listing.entries.len());
            for e in listing.entries {
                open.scan.cookie = e.cookie;
                if let Ok(name) = String::from_utf8(e.name) {
                    page.push_back(Pending {
                        name,
                        attr: e.attr,
                        cookie: e.cookie,
                        meta: None,
                    });
                }
            }
            open.scan.eof = listing.eof || page.is_empty();
            // What the store holds beyond the attributes (DOS attributes, EA size), for the
            // entries that will be returned, in one message for the page. An entry removed
            // since the page was read still lists, with defaults.
            let shown: Vec<usize> = (0..page.len())
                .filter(|&i| {
                    matches(&pattern, &page[i].name) && (posix || !hidden_kind(&page[i].attr))
                })
                .collect();
            if !shown.is_empty() {
                let nodes = shown.iter().map(|&i| Node::from(&page[i].attr)).collect();
                let metas = attrs::meta_many(&share, &caller, nodes).await?;
                for (i, meta) in shown.into_iter().zip(metas) {
                    page[i].meta = Some(meta);
                }
            }
            open.scan.pending = page;
        }
        let left_over = !open.scan.pending.is_empty();
        if left_over {
            // Drop what did not fit; the next call reads it again from `resume`.
            open.scan.cookie = resume;
            open.scan.eof = false;
        }
        // Free the page itself, not only its entries (clear() would keep the capacity).
        open.scan.pending = VecDeque::new();
        if buf.is_empty() {
            if left_over {
                // Not even one entry fits the client's buffer.
                return Err(NtStatus::INFO_LENGTH_MISMATCH);
            }
            return Err(if open.scan.returned_any {
                NtStatus::NO_MORE_FILES
            } else {
                NtStatus::NO_SUCH_FILE
            });
        }
        let bytes = buf.finish();
        let mut w = Out::writer();
        QueryDirectoryResponse { buffer: &bytes }.encode(&mut w);
        Ok(Out::ok(w))
    }
}

/// Devices, fifos and sockets are not shown to Windows clients (they cannot open them); the
/// POSIX class shows them.
fn hidden_kind(a: &Attr) -> bool {
    !matches!(
        a.kind,
        FileKind::Regular | FileKind::Directory | FileKind::Symlink
    )
}
