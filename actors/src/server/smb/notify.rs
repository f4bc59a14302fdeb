//! CHANGE_NOTIFY ([MS-SMB2] 2.2.35, 2.2.36, 3.3.5.19): the server-wide registry of directory
//! watches and the handler that waits on them.
//!
//! A watch belongs to one open directory (connection id + FileId) and starts with the first
//! CHANGE_NOTIFY on that handle, whose CompletionFilter, WATCH_TREE and OutputBufferLength it
//! keeps until the handle closes, as on Windows. Changes that
//! arrive while no CHANGE_NOTIFY is pending are buffered on the watch (up to the first
//! request's OutputBufferLength: past that the watch has overflowed and the next answer is
//! STATUS_NOTIFY_ENUM_DIR, so the client re-reads the directory), and the next CHANGE_NOTIFY
//! answers them at once. With nothing buffered the request goes asynchronous
//! ([`Out::pending`]): the connection answers STATUS_PENDING and keeps serving; the wait
//! ends when a change is delivered (from any connection's task), when the handle closes
//! (STATUS_NOTIFY_CLEANUP), or when CANCEL, LOGOFF or TREE_DISCONNECT end it
//! (STATUS_CANCELLED, [`super::events`]).
//!
//! Watches are matched by share and by the directory's path from the share root, compared
//! case-insensitively (names are case-preserving, lookups case-insensitive), so a WATCH_TREE
//! watch sees changes anywhere below its directory with the path relative to it. Changes are
//! reported by the SMB handlers that make them ([`Conn::notify_path`]). Changes made over NFS
//! have no path: they name the directory's inode ([`Watches::emit_at`]), which each watch
//! keeps too; a tree watch above that directory is told to re-read (STATUS_NOTIFY_ENUM_DIR).
//! Changes made through other gateways on a shared metadata store arrive the same way
//! (`share::foreign::follow`); when that feed may have missed some, every watch on the share
//! is told to re-read ([`Watches::overflow`]).
//!
//! Bounds: [`WATCHES_MAX`] watches in all and [`WATCHES_PER_CONN_MAX`] per connection (a
//! further CHANGE_NOTIFY fails with STATUS_INSUFFICIENT_RESOURCES), [`WAITERS_MAX`] pending
//! requests per watch, and each watch's buffer within its OutputBufferLength (at most
//! [`WATCH_BUFFER_MAX`]).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use protocol::smb2::notify::{
    ChangeNotifyRequest, ChangeNotifyResponse, CompletionFilter, FileNotifyInformation,
    NotifyAction, NotifyBuffer,
};
use protocol::smb2::status::NtStatus;
use stores::Modified;
use tokio::sync::oneshot;

use super::attrs::access;
use super::connection::{Conn, Handled, Out, Req, undecodable};
use super::events::Finish;
use super::state::OpenKind;
use crate::server::share::ShareId;

/// Watches the whole server keeps at once.
pub(crate) const WATCHES_MAX: usize = 2048;
/// Watches one connection keeps at once.
pub(crate) const WATCHES_PER_CONN_MAX: usize = 512;
/// Bytes of changes one watch buffers at most, whatever OutputBufferLength asks (Windows
/// caps a remote notification buffer at 64 KiB too): with [`WATCHES_MAX`] the registry
/// holds at most 128 MiB of changes.
pub(crate) const WATCH_BUFFER_MAX: usize = 64 * 1024;
/// CHANGE_NOTIFY requests pending at once on one handle (Windows queues them; smbtorture
/// notify.double sends two).
pub(crate) const WAITERS_MAX: usize = 16;

/// One change to report: `name` in directory `dir` (its path from the share root,
/// `\`-separated, "" for the root).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change<'a> {
    /// The directory holding the changed entry.
    pub(crate) dir: &'a str,
    /// The entry's name.
    pub(crate) name: &'a str,
    /// What happened.
    pub(crate) action: NotifyAction,
    /// Which CompletionFilter bits it answers to.
    pub(crate) filter: CompletionFilter,
}

/// What a pending CHANGE_NOTIFY is answered with.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// FILE_NOTIFY_INFORMATION entries ([MS-FSCC] 2.7.1).
    Buffer(Vec<u8>),
    /// An empty answer with this status (NOTIFY_ENUM_DIR, NOTIFY_CLEANUP).
    Status(NtStatus),
}

impl Delivery {
    /// The CHANGE_NOTIFY answer.
    fn answer(self) -> Out {
        match self {
            Self::Buffer(b) => {
                let mut w = Out::writer();
                ChangeNotifyResponse { buffer: &b }.encode(&mut w);
                Out::ok(w)
            }
            Self::Status(s) => Out::error(s),
        }
    }
}

/// A CHANGE_NOTIFY waiting for a change.
#[derive(Debug)]
struct Waiter {
    tx: oneshot::Sender<Delivery>,
    /// Its OutputBufferLength.
    max: usize,
}

/// One watched directory handle.
#[derive(Debug)]
struct Watch {
    share: ShareId,
    /// The directory's path components, lowercased.
    dir: Vec<String>,
    /// The directory's inode: how changes made without a path (over NFS) find the watch.
    node: u64,
    recursive: bool,
    filter: CompletionFilter,
    /// The first request's OutputBufferLength (at most [`WATCH_BUFFER_MAX`]): what the
    /// buffer holds.
    max: usize,
    /// Changes not yet answered.
    events: Vec<FileNotifyInformation>,
    /// Their size as FILE_NOTIFY_INFORMATION entries.
    bytes: usize,
    /// More changes came than `max` holds: the next answer is NOTIFY_ENUM_DIR.
    overflow: bool,
    /// Pending requests, oldest first.
    waiters: VecDeque<Waiter>,
    /// The directory itself was removed: every request answers STATUS_DELETE_PENDING.
    deleted: bool,
}

impl Watch {
    /// The name of `c` relative to this watch's directory, if the watch sees it.
    fn relative(&self, dir: &[&str], dir_lc: &[String], c: &Change<'_>) -> Option<String> {
        if !self.filter.intersects(c.filter) || dir_lc.len() < self.dir.len() {
            return None;
        }
        if dir_lc[..self.dir.len()] != self.dir[..] {
            return None;
        }
        let below = &dir[self.dir.len()..];
        if below.is_empty() {
            return Some(c.name.to_owned());
        }
        if !self.recursive {
            return None;
        }
        let mut rel = below.join("\\");
        rel.push('\\');
        rel.push_str(c.name);
        Some(rel)
    }

    /// Buffers one change, or marks the overflow.
    fn push(&mut self, info: FileNotifyInformation) {
        if self.overflow {
            return;
        }
        // One write after another reports the same change once.
        if info.action == NotifyAction::MODIFIED && self.events.last() == Some(&info) {
            return;
        }
        let size = (12 + 2 * info.name.encode_utf16().count()).next_multiple_of(4);
        if self.bytes + size > self.max {
            self.overflow = true;
            self.events.clear();
            self.bytes = 0;
            return;
        }
        self.bytes += size;
        self.events.push(info);
    }

    /// What is buffered, as an answer for a request of `max` bytes.
    fn delivery(&self, max: usize) -> Delivery {
        if self.overflow {
            return Delivery::Status(NtStatus::NOTIFY_ENUM_DIR);
        }
        let mut b = NotifyBuffer::new(max);
        for e in &self.events {
            if !b.push(e) {
                return Delivery::Status(NtStatus::NOTIFY_ENUM_DIR);
            }
        }
        Delivery::Buffer(b.finish())
    }

    fn has_news(&self) -> bool {
        self.overflow || !self.events.is_empty()
    }

    fn clear(&mut self) {
        self.events.clear();
        self.bytes = 0;
        self.overflow = false;
    }

    /// The directory is deleted, or will be when its last handle closes: every request
    /// answers STATUS_DELETE_PENDING.
    fn delete_pending(&mut self) {
        self.deleted = true;
        for waiter in self.waiters.drain(..) {
            let _ = waiter.tx.send(Delivery::Status(NtStatus::DELETE_PENDING));
        }
    }

    /// Answers the oldest live waiter with what is buffered, if both exist.
    fn deliver(&mut self) {
        while self.has_news() {
            let Some(w) = self.waiters.pop_front() else {
                return;
            };
            if w.tx.is_closed() {
                continue;
            }
            if w.tx.send(self.delivery(w.max)).is_ok() {
                self.clear();
            }
        }
    }
}

/// What [`Watches::request`] decided.
#[derive(Debug)]
pub(crate) enum Request {
    /// Answer now.
    Ready(Delivery),
    /// Wait for this.
    Wait(oneshot::Receiver<Delivery>),
}

/// Every watch on the server, by (connection id, open id).
#[derive(Debug, Default)]
pub(crate) struct Watches {
    map: Mutex<BTreeMap<(u64, u64), Watch>>,
    /// How many watches exist: changes skip the lock while there are none.
    count: AtomicUsize,
}

impl Watches {
    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<(u64, u64), Watch>> {
        // Every critical section leaves the map consistent (no await, no partial update a
        // panic could interrupt), so a poisoned lock is still usable.
        self.map
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A CHANGE_NOTIFY on open `open` of connection `conn`, a directory at `dir` on `share`.
    pub(crate) fn request(
        &self,
        conn: u64,
        open: u64,
        share: ShareId,
        dir: &str,
        node: u64,
        r: &ChangeNotifyRequest,
    ) -> Result<Request, NtStatus> {
        let max = (r.output_buffer_length as usize).min(WATCH_BUFFER_MAX);
        let mut map = self.lock();
        if !map.contains_key(&(conn, open)) {
            let on_conn = map.range((conn, 0)..=(conn, u64::MAX)).count();
            if map.len() >= WATCHES_MAX || on_conn >= WATCHES_PER_CONN_MAX {
                tracing::info!(total = map.len(), on_conn, "too many CHANGE_NOTIFY watches");
                return Err(NtStatus::INSUFFICIENT_RESOURCES);
            }
            map.insert(
                (conn, open),
                Watch {
                    share,
                    dir: components(dir).map(str::to_lowercase).collect(),
                    node,
                    // The first request fixes the filter, WATCH_TREE and the buffer's size
                    // until the handle closes, as on Windows (smbtorture notify.mask-change:
                    // a later mask is ignored; notify.valid-req: after a first request of 1
                    // byte every answer is NOTIFY_ENUM_DIR).
                    recursive: r.flags & ChangeNotifyRequest::WATCH_TREE != 0,
                    filter: r.completion_filter,
                    max,
                    events: Vec::new(),
                    bytes: 0,
                    overflow: false,
                    waiters: VecDeque::new(),
                    deleted: false,
                },
            );
            self.count.store(map.len(), Ordering::Relaxed);
        }
        let w = map
            .get_mut(&(conn, open))
            .expect("the watch was found or inserted above under the same lock");
        w.waiters.retain(|w| !w.tx.is_closed());
        if w.deleted {
            return Ok(Request::Ready(Delivery::Status(NtStatus::DELETE_PENDING)));
        }
        if w.waiters.is_empty() && w.has_news() {
            let d = w.delivery(max);
            w.clear();
            return Ok(Request::Ready(d));
        }
        if w.waiters.len() >= WAITERS_MAX {
            return Err(NtStatus::INSUFFICIENT_RESOURCES);
        }
        let (tx, rx) = oneshot::channel();
        w.waiters.push_back(Waiter { tx, max });
        Ok(Request::Wait(rx))
    }

    /// Open `open` of connection `conn` closed: its pending requests answer
    /// STATUS_NOTIFY_CLEANUP and its watch ends.
    pub(crate) fn close(&self, conn: u64, open: u64) {
        if self.is_idle() {
            return;
        }
        let mut map = self.lock();
        if let Some(w) = map.remove(&(conn, open)) {
            for waiter in w.waiters {
                let _ = waiter.tx.send(Delivery::Status(NtStatus::NOTIFY_CLEANUP));
            }
        }
        self.count.store(map.len(), Ordering::Relaxed);
    }

    /// The directory at `path` on `share` will be deleted when its last handle closes:
    /// watches on it answer STATUS_DELETE_PENDING from now on.
    pub(crate) fn delete_pending(&self, share: ShareId, path: &str) {
        if self.is_idle() {
            return;
        }
        let dir: Vec<String> = components(path).map(str::to_lowercase).collect();
        let mut map = self.lock();
        for w in map
            .values_mut()
            .filter(|w| w.share == share && w.dir == dir)
        {
            w.delete_pending();
        }
    }

    /// Whether a watch on `share` exists (`None`: none), and whether one watches a tree.
    pub(crate) fn watching(&self, share: ShareId) -> Option<bool> {
        if self.is_idle() {
            return None;
        }
        let map = self.lock();
        let mut on_share = map.values().filter(|w| w.share == share).peekable();
        on_share.peek()?;
        Some(on_share.any(|w| w.recursive))
    }

    /// Reports changes made without a path (over NFS): `changes` of entries (name, action,
    /// filter) in the directory whose inode is `dir`, whose ancestors up to the share root
    /// are `ancestors` (nearest first; empty when no tree watch needs them). A watch on `dir`
    /// gets the entries; a tree watch on an ancestor cannot be told the path below it and is
    /// answered STATUS_NOTIFY_ENUM_DIR, which makes its client read the directory again.
    pub(crate) fn emit_at(
        &self,
        share: ShareId,
        dir: u64,
        ancestors: &[u64],
        changes: &[(&str, NotifyAction, CompletionFilter)],
    ) {
        if self.is_idle() {
            return;
        }
        let mut map = self.lock();
        for w in map.values_mut().filter(|w| w.share == share) {
            let mut any = false;
            if w.node == dir {
                for &(name, action, filter) in changes {
                    if w.filter.intersects(filter) {
                        w.push(FileNotifyInformation {
                            action,
                            name: name.to_owned(),
                        });
                        any = true;
                    }
                }
            } else if w.recursive
                && ancestors.contains(&w.node)
                && changes.iter().any(|c| w.filter.intersects(c.2))
            {
                w.overflow = true;
                any = true;
            }
            if any {
                w.deliver();
            }
        }
    }

    /// Changes on `share` may have been missed (another gateway's could not be followed):
    /// every watch on it answers STATUS_NOTIFY_ENUM_DIR next, so its client reads the
    /// directory again.
    pub(crate) fn overflow(&self, share: ShareId) {
        if self.is_idle() {
            return;
        }
        let mut map = self.lock();
        for w in map.values_mut().filter(|w| w.share == share) {
            w.overflow = true;
            w.events.clear();
            w.bytes = 0;
            w.deliver();
        }
    }

    /// No watch exists.
    pub(crate) fn is_idle(&self) -> bool {
        self.count.load(Ordering::Relaxed) == 0
    }

    /// Reports `changes` (one operation's, answered together) on `share` to every watch that
    /// sees them.
    pub(crate) fn emit(&self, share: ShareId, changes: &[Change<'_>]) {
        if self.is_idle() {
            return;
        }
        let split: Vec<(Vec<&str>, Vec<String>)> = changes
            .iter()
            .map(|c| {
                let dir: Vec<&str> = components(c.dir).collect();
                let lc = dir.iter().map(|d| d.to_lowercase()).collect();
                (dir, lc)
            })
            .collect();
        let mut map = self.lock();
        for w in map.values_mut().filter(|w| w.share == share) {
            // The watched directory itself removed ([MS-FSA] 2.1.5.4: its pending
            // notifications complete with STATUS_DELETE_PENDING; smbtorture notify.rmdir*).
            if changes.iter().zip(&split).any(|(c, (_, lc))| {
                c.action == NotifyAction::REMOVED
                    && c.filter.contains(CompletionFilter::DIR_NAME)
                    && lc.len() + 1 == w.dir.len()
                    && w.dir[..lc.len()] == lc[..]
                    && w.dir.last() == Some(&c.name.to_lowercase())
            }) {
                w.delete_pending();
                continue;
            }
            let mut any = false;
            for (c, (dir, lc)) in changes.iter().zip(&split) {
                if let Some(name) = w.relative(dir, lc, c) {
                    w.push(FileNotifyInformation {
                        action: c.action,
                        name,
                    });
                    any = true;
                }
            }
            if any {
                w.deliver();
            }
        }
    }
}

/// The components of a `\`-separated path ("" has none).
fn components(path: &str) -> impl Iterator<Item = &str> {
    path.split('\\').filter(|c| !c.is_empty())
}

/// A path's directory and last component.
pub(crate) fn split_path(path: &str) -> (&str, &str) {
    path.rsplit_once('\\').unwrap_or(("", path))
}

/// The pairs of a modification's bits and the CHANGE_NOTIFY filter bits they answer to.
const MODIFIED_FILTERS: [(Modified, CompletionFilter); 7] = [
    (Modified::SIZE, CompletionFilter::SIZE),
    (Modified::WRITE, CompletionFilter::LAST_WRITE),
    (Modified::ATTRIBUTES, CompletionFilter::ATTRIBUTES),
    (Modified::ACCESS_TIME, CompletionFilter::LAST_ACCESS),
    (Modified::CREATION_TIME, CompletionFilter::CREATION),
    (Modified::XATTRS, CompletionFilter::EA),
    (Modified::SECURITY, CompletionFilter::SECURITY),
];

/// The filter bits a modification (announced by another gateway, or made through NFS)
/// answers to.
pub(crate) fn modified_filter(m: Modified) -> CompletionFilter {
    MODIFIED_FILTERS
        .iter()
        .filter(|(bit, _)| m.intersects(*bit))
        .fold(CompletionFilter(0), |f, (_, c)| f | *c)
}

/// The modification a MODIFIED event with `filter` tells of (its other bits have none).
pub(crate) fn filter_modified(filter: CompletionFilter) -> Modified {
    MODIFIED_FILTERS
        .iter()
        .filter(|(_, c)| filter.intersects(*c))
        .fold(Modified::default(), |m, (bit, _)| m | *bit)
}

/// The filter bit a name change of a file or directory answers to.
pub(crate) fn name_filter(is_dir: bool) -> CompletionFilter {
    if is_dir {
        CompletionFilter::DIR_NAME
    } else {
        CompletionFilter::FILE_NAME
    }
}

impl Conn {
    /// CHANGE_NOTIFY ([MS-SMB2] 3.3.5.19): answers what the handle's watch buffered, or waits
    /// (asynchronously) for the next change below the directory.
    pub(crate) fn change_notify(&mut self, req: Req<'_>) -> Handled {
        let r = ChangeNotifyRequest::decode(req.msg).map_err(undecodable)?;
        let id = self.open_of(&req, r.file_id)?;
        let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let OpenKind::Node {
            is_dir: true,
            path,
            node,
            ..
        } = &open.kind
        else {
            return Err(NtStatus::INVALID_PARAMETER);
        };
        // FILE_LIST_DIRECTORY is FILE_READ_DATA's bit on a directory.
        if open.access & access::FILE_READ_DATA == 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let (share, _) = self.share_of(open)?;
        match self
            .server
            .watches
            .request(self.id, id, share.id(), path, node.ino.0, &r)?
        {
            Request::Ready(d) => Ok(d.answer()),
            Request::Wait(rx) => Ok(Out::pending(async move {
                // A dropped sender means the watch ended without a word: as a close.
                Finish::Done(
                    rx.await
                        .unwrap_or(Delivery::Status(NtStatus::NOTIFY_CLEANUP))
                        .answer(),
                )
            })),
        }
    }

    /// Session `sid` ended without closing its handles (a failed re-authentication): the
    /// CHANGE_NOTIFYs waiting on them answer STATUS_NOTIFY_CLEANUP.
    pub(crate) fn end_watches_of_session(&self, sid: u64) {
        for (&id, o) in &self.opens {
            if o.session == sid {
                self.server.watches.close(self.id, id);
            }
        }
    }

    /// Reports a change of the entry at `path` (from the share root) on `share`.
    pub(crate) fn notify_path(
        &self,
        share: ShareId,
        path: &str,
        action: NotifyAction,
        filter: CompletionFilter,
    ) {
        let (dir, name) = split_path(path);
        self.server.watches.emit(
            share,
            &[Change {
                dir,
                name,
                action,
                filter,
            }],
        );
    }

    /// Reports a rename of the entry at `from` to `to` on `share`: RENAMED_OLD_NAME and
    /// RENAMED_NEW_NAME within one directory, REMOVED and ADDED across directories.
    pub(crate) fn notify_rename(
        &self,
        share: ShareId,
        from: &str,
        to: &str,
        same_dir: bool,
        is_dir: bool,
    ) {
        let (from_dir, from_name) = split_path(from);
        let (to_dir, to_name) = split_path(to);
        let (old, new) = if same_dir {
            (
                NotifyAction::RENAMED_OLD_NAME,
                NotifyAction::RENAMED_NEW_NAME,
            )
        } else {
            (NotifyAction::REMOVED, NotifyAction::ADDED)
        };
        let filter = name_filter(is_dir);
        self.server.watches.emit(
            share,
            &[
                Change {
                    dir: from_dir,
                    name: from_name,
                    action: old,
                    filter,
                },
                Change {
                    dir: to_dir,
                    name: to_name,
                    action: new,
                    filter,
                },
            ],
        );
    }

    /// Reports a change of the file or directory open as `id` (a MODIFIED of its data or
    /// attributes).
    pub(crate) fn notify_open(&self, id: u64, filter: CompletionFilter) {
        if self.server.watches.is_idle() {
            return;
        }
        let Some(open) = self.opens.get(&id) else {
            return;
        };
        let OpenKind::Node { path, .. } = &open.kind else {
            return;
        };
        if let Ok((share, _)) = self.share_of(open) {
            self.notify_path(share.id(), path, NotifyAction::MODIFIED, filter);
        }
    }

    /// Reports that the named stream open as `id` changed (`filter`: STREAM_SIZE,
    /// STREAM_WRITE) as FILE_ACTION_MODIFIED_STREAM on `path:stream`.
    pub(crate) fn notify_stream(&self, id: u64, filter: CompletionFilter) {
        if self.server.watches.is_idle() {
            return;
        }
        let Some(open) = self.opens.get(&id) else {
            return;
        };
        let OpenKind::Node {
            path,
            stream: Some(stream),
            ..
        } = &open.kind
        else {
            return;
        };
        if let Ok((share, _)) = self.share_of(open) {
            self.notify_path(
                share.id(),
                &format!("{path}:{stream}"),
                NotifyAction::MODIFIED_STREAM,
                filter,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use protocol::smb2::fileid::FileId;
    use protocol::smb2::notify::decode_notify_entries;

    use super::*;

    fn req(recursive: bool, filter: CompletionFilter, len: u32) -> ChangeNotifyRequest {
        ChangeNotifyRequest {
            flags: if recursive {
                ChangeNotifyRequest::WATCH_TREE
            } else {
                0
            },
            output_buffer_length: len,
            file_id: FileId {
                persistent: 1,
                volatile: 1,
            },
            completion_filter: filter,
        }
    }

    fn added<'a>(dir: &'a str, name: &'a str) -> Change<'a> {
        Change {
            dir,
            name,
            action: NotifyAction::ADDED,
            filter: CompletionFilter::FILE_NAME,
        }
    }

    fn names(d: Delivery) -> Vec<String> {
        match d {
            Delivery::Buffer(b) => decode_notify_entries(&b)
                .unwrap()
                .into_iter()
                .map(|e| e.name)
                .collect(),
            Delivery::Status(s) => vec![format!("{s}")],
        }
    }

    /// Goal: a change wakes the pending request of a watch on its directory, and a tree
    /// watch higher up gets the path relative to its directory (matched case-insensitively);
    /// a flat watch higher up and watches on other shares see nothing.
    #[tokio::test]
    async fn changes_reach_matching_watches() {
        let w = Watches::default();
        let s = ShareId(7);
        let name = CompletionFilter::FILE_NAME;
        let Request::Wait(rx_dir) = w
            .request(1, 1, s, "A\\b", 0, &req(false, name, 1000))
            .unwrap()
        else {
            panic!("nothing buffered yet")
        };
        let Request::Wait(rx_tree) = w.request(1, 2, s, "a", 0, &req(true, name, 1000)).unwrap()
        else {
            panic!("nothing buffered yet")
        };
        let Request::Wait(mut rx_flat) =
            w.request(2, 1, s, "a", 0, &req(false, name, 1000)).unwrap()
        else {
            panic!("nothing buffered yet")
        };
        let Request::Wait(mut rx_other) = w
            .request(2, 2, ShareId(8), "a\\b", 0, &req(true, name, 1000))
            .unwrap()
        else {
            panic!("nothing buffered yet")
        };
        w.emit(s, &[added("a\\B", "New.txt")]);
        assert_eq!(names(rx_dir.await.unwrap()), vec!["New.txt"]);
        assert_eq!(names(rx_tree.await.unwrap()), vec!["B\\New.txt"]);
        assert!(rx_flat.try_recv().is_err());
        assert!(rx_other.try_recv().is_err());
    }

    /// Goal: changes that arrive with no request pending are buffered and answered by the
    /// next request at once; more than its OutputBufferLength holds answers
    /// STATUS_NOTIFY_ENUM_DIR; a filter that does not match buffers nothing; a close
    /// answers STATUS_NOTIFY_CLEANUP and ends the watch.
    #[tokio::test]
    async fn buffering_overflow_filter_and_close() {
        let w = Watches::default();
        let s = ShareId(1);
        let r = req(false, CompletionFilter::FILE_NAME, 64);
        let Request::Wait(rx) = w.request(1, 1, s, "", 0, &r).unwrap() else {
            panic!("nothing buffered yet")
        };
        drop(rx); // cancelled: the watch stays and buffers
        w.emit(s, &[added("", "x")]);
        w.emit(
            s,
            &[Change {
                filter: CompletionFilter::DIR_NAME,
                ..added("", "d")
            }],
        );
        let Request::Ready(d) = w.request(1, 1, s, "", 0, &r).unwrap() else {
            panic!("a change was buffered")
        };
        assert_eq!(names(d), vec!["x"]);
        for i in 0..10 {
            w.emit(s, &[added("", &format!("file-{i}"))]);
        }
        let Request::Ready(d) = w.request(1, 1, s, "", 0, &r).unwrap() else {
            panic!("changes were buffered")
        };
        assert!(matches!(d, Delivery::Status(NtStatus::NOTIFY_ENUM_DIR)));
        let Request::Wait(rx) = w.request(1, 1, s, "", 0, &r).unwrap() else {
            panic!("the overflow was answered")
        };
        w.close(1, 1);
        assert!(matches!(
            rx.await.unwrap(),
            Delivery::Status(NtStatus::NOTIFY_CLEANUP)
        ));
        assert!(w.is_idle());
    }

    /// Goal: removing the watched directory answers its pending request and every later one
    /// STATUS_DELETE_PENDING; removing a sibling does not.
    #[tokio::test]
    async fn removing_the_watched_directory() {
        let w = Watches::default();
        let s = ShareId(1);
        let r = req(false, CompletionFilter::FILE_NAME, 1000);
        let Request::Wait(mut rx) = w.request(1, 1, s, "a\\Dir", 0, &r).unwrap() else {
            panic!("nothing buffered yet")
        };
        let rmdir = |name| Change {
            dir: "A",
            name,
            action: NotifyAction::REMOVED,
            filter: CompletionFilter::DIR_NAME,
        };
        w.emit(s, &[rmdir("other")]);
        assert!(rx.try_recv().is_err());
        w.emit(s, &[rmdir("dir")]);
        assert!(matches!(
            rx.await.unwrap(),
            Delivery::Status(NtStatus::DELETE_PENDING)
        ));
        assert!(matches!(
            w.request(1, 1, s, "a\\Dir", 0, &r).unwrap(),
            Request::Ready(Delivery::Status(NtStatus::DELETE_PENDING))
        ));
    }

    /// Goal: when changes on a share may have been missed, a pending request on every watch
    /// of that share answers STATUS_NOTIFY_ENUM_DIR, a watch with none pending answers it
    /// next, and watches on other shares are untouched.
    #[tokio::test]
    async fn lost_track_overflows_the_share() {
        let w = Watches::default();
        let r = req(false, CompletionFilter::FILE_NAME, 1000);
        let Request::Wait(rx) = w.request(1, 1, ShareId(1), "a", 5, &r).unwrap() else {
            panic!("nothing buffered yet")
        };
        let Request::Wait(rx_idle) = w.request(1, 2, ShareId(1), "", 6, &r).unwrap() else {
            panic!("nothing buffered yet")
        };
        drop(rx_idle);
        let Request::Wait(mut rx_other) = w.request(2, 1, ShareId(2), "", 7, &r).unwrap() else {
            panic!("nothing buffered yet")
        };
        w.emit(ShareId(1), &[added("", "buffered")]);
        w.overflow(ShareId(1));
        assert!(matches!(
            rx.await.unwrap(),
            Delivery::Status(NtStatus::NOTIFY_ENUM_DIR)
        ));
        assert!(matches!(
            w.request(1, 2, ShareId(1), "", 6, &r).unwrap(),
            Request::Ready(Delivery::Status(NtStatus::NOTIFY_ENUM_DIR))
        ));
        assert!(rx_other.try_recv().is_err());
    }

    /// Goal: the number of watches is bounded per connection.
    /// Goal: a modification announced by another gateway or made over NFS reaches exactly the
    /// watches whose filter names what changed, and an SMB change's filter bits survive the
    /// trip through the store's bits. Method: map each bit both ways, then a mixed set.
    #[test]
    fn modification_bits_map_to_filters_and_back() {
        for (bit, filter) in MODIFIED_FILTERS {
            assert_eq!(modified_filter(bit), filter);
            assert_eq!(filter_modified(filter), bit);
        }
        assert_eq!(modified_filter(Modified::ALL).0, 0x1fc);
        let names = CompletionFilter::FILE_NAME | CompletionFilter::DIR_NAME;
        assert!(
            filter_modified(names).is_empty(),
            "names are no modification"
        );
        let f = CompletionFilter::SIZE | CompletionFilter::LAST_WRITE;
        assert_eq!(modified_filter(filter_modified(f)), f);
    }

    #[test]
    fn watches_are_bounded() {
        let w = Watches::default();
        let r = req(false, CompletionFilter::FILE_NAME, 64);
        for open in 0..WATCHES_PER_CONN_MAX as u64 {
            w.request(1, open, ShareId(1), "", 0, &r).unwrap();
        }
        assert_eq!(
            w.request(1, u64::MAX, ShareId(1), "", 0, &r).unwrap_err(),
            NtStatus::INSUFFICIENT_RESOURCES
        );
        assert!(w.request(2, 0, ShareId(1), "", 0, &r).is_ok());
    }
}
