//! CREATE, CLOSE, FLUSH, READ, WRITE, LOCK and OPLOCK_BREAK over the share core, with the
//! path walk (case-insensitive, case-preserving) and the access checks CREATE makes.

use bytes::Bytes;
use protocol::smb2::create::{
    CreateAction, CreateDisposition, CreateOptions, CreateRequest, CreateResponse, FileAttributes,
    Lease, LeaseFlags, LeaseState, LeaseV2, MxAcResponse, OplockLevel, PosixCreateRequest,
    QFidResponse, names,
};
use protocol::smb2::file::{
    CloseRequest, CloseResponse, EmptyResponse, FlushRequest, LeaseBreakAck, LeaseBreakFlags,
    LeaseBreakNotification, OplockBreak, OplockBreakMessage, ReadRequest, ReadResponse, WriteFlags,
    WriteRequest, WriteResponse,
};
use protocol::smb2::fileid::FileId;
use protocol::smb2::fscc::InfoClass as _;
use protocol::smb2::header::{Command, HEADER_LEN, Header, HeaderFlags, MessageId};
use protocol::smb2::notify::{CompletionFilter, NotifyAction};
use protocol::smb2::security::{SecurityDescriptor, Sid, control};
use protocol::smb2::status::NtStatus;
use stores::{Attr, FileKind, StoreError};

use super::attrs::{self, access};
use super::connection::{Conn, Handled, Out, Req, filetime, tid, undecodable};
use super::durable::{Ask, Creating};
use super::errors::op_status;
use super::events::Finish;
use super::names::SmbPath;
use super::notify;
use super::oplocks::{Admit, Break, Grant, LeaseId, NodeKey, OpenRef, Request};
use super::state::{DirScan, OPENS_MAX, Open, OpenKind, TreeKind};
use crate::server::share::actor::Failure;
use crate::server::share::foreign::Recall;
use crate::server::share::locks::{Io, LockOwner, LockRange};
use crate::server::share::{
    AttrChange, Caller, CreateMode, NewKind, Node, Rights, ShareHandle, ShareId, Stability,
};

/// The pending answer of a request that waits on the open table: it runs again
/// ([`Finish::Retry`]) once the table changes or at `until` (the earliest outstanding break's
/// timeout), holding `keep` (a replay guard, say) until then.
fn retry_on_change(
    until: tokio::time::Instant,
    mut changed: super::oplocks::Changed,
    keep: impl Send + 'static,
) -> Out {
    Out::pending(async move {
        let _keep = keep;
        tokio::select! {
            biased;
            () = changed.changed() => {}
            () = tokio::time::sleep_until(until) => {}
        }
        Finish::Retry
    })
}

/// The lease context answering `asked`: the granted state and epoch, in the form of the lease
/// as it was first granted (`v2`), whatever form this request used (Windows answers a v1
/// request on a v2 lease with a v2 context, and the reverse; smbtorture lease.v2_epoch2/3).
fn lease_response(asked: &Lease, state: u32, epoch: u16, breaking: bool, v2: bool) -> Lease {
    let mut answer = asked.response(LeaseState(state), epoch, breaking);
    answer.v2 = v2.then(|| LeaseV2 {
        parent_key: asked.v2.map_or([0; 16], |v| v.parent_key),
        epoch,
    });
    if answer.v2.is_none() {
        answer.flags = LeaseFlags(answer.flags.0 & !LeaseFlags::PARENT_LEASE_KEY_SET.0);
    }
    answer
}

/// The largest file size NTFS allows (16 TiB - 64 KiB): writes starting there fail as on
/// Windows.
const MAX_FILE_SIZE: u64 = 0xFFF_FFFF_0000;

/// FILE_ATTRIBUTE_ENCRYPTED.
const ENCRYPTED: u32 = 0x4000;
/// How long a FLUSH waits for the write-back before it goes asynchronous.
const FLUSH_SYNC_MAX: std::time::Duration = std::time::Duration::from_secs(1);

/// The status of a share failure.
pub(crate) fn failed(f: Failure) -> NtStatus {
    op_status(&f.error)
}

/// Looks `name` up in `dir`: the exact spelling, else the entry equal ignoring case (the
/// smallest in byte order when a case-sensitive client made several).
/// Returns the stored name with its attributes, `None` when nothing matches.
pub(crate) async fn lookup_ci(
    share: &ShareHandle,
    caller: &Caller,
    dir: &Attr,
    name: &str,
) -> Result<Option<(String, Attr)>, NtStatus> {
    match share
        .lookup(
            caller.clone(),
            Node::from(dir),
            Bytes::copy_from_slice(name.as_bytes()),
        )
        .await
    {
        Ok((a, _)) => return Ok(Some((name.to_owned(), a))),
        Err(f)
            if matches!(
                f.error,
                crate::server::share::OpError::Store(StoreError::NotFound)
            ) => {}
        Err(f) => return Err(failed(f)),
    }
    // The store's case-fold index answers at the cost of a lookup, however large the
    // directory (a scan per miss made every create in a big directory cost its size).
    match share
        .lookup_folded(
            caller.clone(),
            Node::from(dir),
            Bytes::copy_from_slice(name.as_bytes()),
        )
        .await
    {
        Ok((stored, a, _)) => match String::from_utf8(stored) {
            Ok(stored) => Ok(Some((stored, a))),
            // fold_case folds only UTF-8 names, so a UTF-8 probe matches only UTF-8 names.
            Err(_) => Ok(None),
        },
        Err(f)
            if matches!(
                f.error,
                crate::server::share::OpError::Store(StoreError::NotFound)
            ) =>
        {
            Ok(None)
        }
        Err(f) => Err(failed(f)),
    }
}

/// Walks `components` from the share root; every one must be a directory.
pub(crate) async fn walk(
    share: &ShareHandle,
    caller: &Caller,
    components: &[String],
) -> Result<Attr, NtStatus> {
    Ok(walk_stored(share, caller, components).await?.0)
}

/// [`walk`], with the components as stored (the spelling they were created with).
pub(crate) async fn walk_stored(
    share: &ShareHandle,
    caller: &Caller,
    components: &[String],
) -> Result<(Attr, Vec<String>), NtStatus> {
    let mut dir = share
        .getattr(caller.clone(), share.root())
        .await
        .map_err(failed)?;
    let mut stored = Vec::with_capacity(components.len());
    for c in components {
        match lookup_ci(share, caller, &dir, c).await? {
            Some((name, a)) if a.kind == FileKind::Directory => {
                dir = a;
                stored.push(name);
            }
            Some(_) | None => return Err(NtStatus::OBJECT_PATH_NOT_FOUND),
        }
    }
    Ok((dir, stored))
}

impl Conn {
    /// The FileId the next open will get (the open table learns it before the open exists).
    fn next_file_id(&self) -> Result<u64, NtStatus> {
        if self.opens.len() >= OPENS_MAX {
            return Err(NtStatus::INSUFFICIENT_RESOURCES);
        }
        let mut id = self.next_file;
        while id == 0 || id == u64::MAX || self.opens.contains_key(&id) {
            id = id.wrapping_add(1);
        }
        Ok(id)
    }

    /// Allocates a FileId for `open` (its persistent part is the open's own when it has one,
    /// a durable open's).
    pub(crate) fn insert_open(&mut self, mut open: Open) -> Result<FileId, NtStatus> {
        let id = self.next_file_id()?;
        self.next_file = id.wrapping_add(1);
        if open.persistent == 0 {
            open.persistent = id;
        }
        let persistent = open.persistent;
        self.opens.insert(id, open);
        Ok(FileId {
            persistent,
            volatile: id,
        })
    }

    /// The open a request names, checked against its session and tree.
    pub(crate) fn open_of(&self, req: &Req<'_>, id: FileId) -> Result<u64, NtStatus> {
        // The session is checked before the handle ([MS-SMB2] 3.3.5.2.9).
        self.session(req.hdr)?;
        let id = req.file_id(id)?;
        let open = self.opens.get(&id.volatile).ok_or(NtStatus::FILE_CLOSED)?;
        if id.persistent != open.persistent
            || open.session != req.hdr.session_id.0
            || open.tree != tid(req.hdr)
        {
            return Err(NtStatus::FILE_CLOSED);
        }
        open.replay_eligible
            .store(false, std::sync::atomic::Ordering::Relaxed);
        self.note_channel_sequence(req, open);
        Ok(id.volatile)
    }

    /// The share and caller of the tree an open lives on.
    pub(crate) fn share_of(&self, open: &Open) -> Result<(ShareHandle, Caller), NtStatus> {
        let tree = self
            .sessions
            .get(&open.session)
            .and_then(|s| s.trees.get(&open.tree))
            .ok_or(NtStatus::NETWORK_NAME_DELETED)?;
        match &tree.kind {
            TreeKind::Disk { share, .. } => Ok((share.clone(), tree.caller.clone())),
            TreeKind::Ipc => Err(NtStatus::INVALID_DEVICE_REQUEST),
        }
    }

    /// CREATE ([MS-SMB2] 3.3.5.9): every disposition, directory / non-directory, delete on
    /// close, write-through; MxAc, QFid, POSIX and lease contexts; share modes, oplocks and
    /// leases across connections ([`super::oplocks`]).
    pub(crate) async fn create(&mut self, req: Req<'_>) -> Handled {
        let file = self.next_file_id()?;
        let me = OpenRef {
            conn: self.id,
            file,
        };
        let server = self.server.clone();
        let _settle = super::gateways::Opening::new(&server.published, me);
        let out = self.create_open(req, file).await;
        // An open the table admitted but that failed later (or waits) leaves no entry.
        if !self.opens.contains_key(&file) {
            self.server.opens.remove(me, false);
        }
        out
    }

    /// Asks the open table whether `treq` may open `key`: the grant, or the answer to give
    /// now (pending until breaks are acknowledged, or an error).
    /// `creating`: the CREATE's DH2Q CreateGuid; while it waits, a replay of it is answered
    /// STATUS_FILE_NOT_AVAILABLE ([`super::durable::Creating`]).
    fn admit(
        &self,
        key: NodeKey,
        treq: &Request,
        creating: Option<[u8; 16]>,
    ) -> Result<Grant, Box<Out>> {
        let mut breaks = Vec::new();
        let now = self.server.env.now();
        let admit = self.server.opens.admit(key, treq, now, &mut breaks);
        self.send_breaks(breaks);
        match admit {
            Admit::Granted(g) => Ok(g),
            Admit::SharingViolation => Err(Box::new(Out::error(NtStatus::SHARING_VIOLATION))),
            Admit::Invalid(status) => Err(Box::new(Out::error(status))),
            Admit::Wait { until, changed } => {
                tracing::debug!("CREATE waits for an oplock or lease break");
                let client = self.neg.as_ref().map_or([0; 16], |n| n.client_guid);
                let guard = creating.and_then(|g| Creating::begin(&self.server, client, g));
                Err(Box::new(retry_on_change(until, changed, guard)))
            }
        }
    }

    /// No write caching over byte-range locks: a file someone holds locks on (over NFS, or
    /// another SMB open) gets neither a lease with write caching nor a batch or exclusive
    /// oplock, since a client holding one keeps its own locks to itself (Linux cifs does) and
    /// they would not meet the others in the share's lock manager. Windows likewise grants no
    /// exclusive oplock over byte-range locks (FsRtlCheckLockForOplockRequest).
    async fn caching_over_locks(
        &self,
        share: &ShareHandle,
        node: Node,
        mut treq: Request,
    ) -> Request {
        let w = LeaseState::WRITE_CACHING.0;
        let exclusive = matches!(treq.oplock, OplockLevel::BATCH | OplockLevel::EXCLUSIVE);
        if !exclusive && treq.lease.is_none_or(|l| l.1 & w == 0) {
            return treq;
        }
        // An owner that holds nothing: any lock on the file conflicts with its whole-file probe.
        let probe = LockOwner::Smb {
            conn: self.id,
            session: 0,
            open: u64::MAX,
        };
        let whole = LockRange {
            offset: 0,
            length: u64::MAX,
            exclusive: true,
        };
        if let Ok(Some(_)) = share.test_lock(node, probe, whole).await {
            tracing::debug!("locks on the file: no write caching granted");
            if let Some(l) = &mut treq.lease {
                l.1 &= !w;
            }
            if exclusive {
                treq.oplock = OplockLevel::II;
            }
        }
        treq
    }

    /// A change through open `id` to `key` ([`Recall`]) must first take the caching it
    /// invalidates from the other opens: `None` when nothing is left to wait for, else the
    /// pending answer that runs the request again once the table changes or the earliest
    /// break times out.
    pub(crate) fn recall_for(&self, key: NodeKey, id: u64, change: Recall) -> Option<Out> {
        let mut breaks = Vec::new();
        let by = OpenRef {
            conn: self.id,
            file: id,
        };
        let wait =
            self.server
                .opens
                .recall(key, self.server.env.now(), change, Some(by), &mut breaks);
        self.send_breaks(breaks);
        let Some((until, changed)) = wait else {
            // This gateway's opens let go: the other gateways' clients next.
            if key.stream != 0 {
                return None;
            }
            let change = crate::server::share::gateways::cache_change(change);
            return self
                .server
                .published
                .recall_change(&self.server, key, change);
        };
        tracing::debug!("waits for other opens' caching to break");
        Some(retry_on_change(until, changed, ()))
    }

    /// Posts breaks to the connections of the opens they concern.
    pub(crate) fn send_breaks(&self, breaks: Vec<Break>) {
        self.server.send_breaks(breaks);
    }

    /// The node open as `id` changed its attributes, size or times (`filter`: which, as
    /// CHANGE_NOTIFY filter bits): its directory's leases break, but the one its lease names
    /// as parent, and other gateways are told ([`Self::announce_open`]).
    pub(crate) fn parent_changed(&self, id: u64, filter: CompletionFilter) {
        let Some(open) = self.opens.get(&id) else {
            return;
        };
        let OpenKind::Node { parent, .. } = &open.kind else {
            return;
        };
        if let Ok((share, _)) = self.share_of(open) {
            self.dir_changed(share.id(), *parent, open.parent_lease);
        }
        self.announce_open(id, filter);
    }

    /// Tells the other gateways sharing the metadata store that the node open as `id` was
    /// modified (`filter`: which, as CHANGE_NOTIFY filter bits), so their watchers of its
    /// directory get a MODIFIED and their leases on the directory break
    /// ([`crate::server::share::foreign::announce`]; nothing on a store no other gateway
    /// shares). Named streams are not announced.
    pub(crate) fn announce_open(&self, id: u64, filter: CompletionFilter) {
        let Some(open) = self.opens.get(&id) else {
            return;
        };
        let OpenKind::Node {
            parent,
            name,
            is_dir,
            stream: None,
            ..
        } = &open.kind
        else {
            return;
        };
        if let Ok((share, _)) = self.share_of(open) {
            crate::server::share::foreign::announce(
                &share,
                *parent,
                name.as_bytes(),
                *is_dir,
                notify::filter_modified(filter),
            );
        }
    }

    /// Entries of directory `dir` on `share` changed through this connection, by an open
    /// (or a CREATE) whose lease named `parent_key` as its ParentLeaseKey: the directory's
    /// leases break, but the one of this client with that key
    /// ([`super::oplocks::OpenTable::dir_changed`]).
    pub(crate) fn dir_changed(&self, share: ShareId, dir: Node, parent_key: Option<[u8; 16]>) {
        let client = self.neg.as_ref().map_or([0; 16], |n| n.client_guid);
        self.server
            .dir_changed(share, dir, parent_key.map(|key| LeaseId { client, key }));
    }

    /// Tells the open table that open `id` changed its file's data: other opens' read caching
    /// breaks.
    pub(crate) fn data_changed(&self, id: u64) {
        let Some(open) = self.opens.get(&id) else {
            return;
        };
        let OpenKind::Node { node, stream, .. } = &open.kind else {
            return;
        };
        let Ok((share, _)) = self.share_of(open) else {
            return;
        };
        if stream.is_none() {
            self.server
                .published
                .written(&self.server, NodeKey::new(share.id(), *node));
        }
        let mut breaks = Vec::new();
        self.server.opens.written(
            NodeKey::of(share.id(), *node, stream.as_deref()),
            self.server.env.now(),
            Some(OpenRef {
                conn: self.id,
                file: id,
            }),
            &mut breaks,
        );
        self.send_breaks(breaks);
    }

    async fn create_open(&mut self, req: Req<'_>, file: u64) -> Handled {
        let r = CreateRequest::decode(req.msg).map_err(undecodable)?;
        tracing::trace!(
            name = %r.name,
            disposition = r.create_disposition.0,
            options = format_args!("{:#x}", r.create_options.0),
            access = format_args!("{:#x}", r.desired_access.0),
            "CREATE"
        );
        let tree = self.tree(&req)?.clone();
        let name = r.name.clone();
        let (share, caller) = match &tree.kind {
            TreeKind::Ipc => return self.open_pipe(&req, &name),
            TreeKind::Disk { share, .. } => (share.clone(), tree.caller.clone()),
        };
        // Durable handles: a reconnect ignores the rest of the request; a DH2Q naming an open
        // already made is a replay ([`super::durable`]).
        let dialect = self.neg.as_ref().map_or(0, |n| n.dialect);
        let ask = Ask::of(&r, dialect)?;
        match ask {
            Ask::ReconnectV1(p) => return self.reconnect(&req, &r, file, p, None).await,
            Ask::ReconnectV2(p, g) => return self.reconnect(&req, &r, file, p, Some(g)).await,
            Ask::V2(d) => {
                if let Some(answer) = self.replay(&req, &r, &d).await {
                    return answer;
                }
            }
            Ask::None | Ask::V1 => {}
        }
        // Another client's open of this file under the same AppInstanceId is closed first
        // (a failover of a clustered application, [MS-SMB2] 3.3.5.9.13).
        let app_instance = self.app_instance(&r, dialect, share.id()).await?;
        let disposition = r.create_disposition;
        if disposition.0 > CreateDisposition::OVERWRITE_IF.0 {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        // [MS-SMB2] 3.3.5.9: reserved option bits, share access and attribute bits beyond
        // the defined ones, and unknown impersonation levels are refused.
        if r.impersonation_level.0 > 3 {
            return Err(NtStatus::BAD_IMPERSONATION_LEVEL);
        }
        if r.create_options.0 & 0xFF00_0000 != 0 || r.share_access.0 & !0x7 != 0 {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        // Rights no file has (reserved bits): nobody is granted them.
        if r.desired_access.0 & 0x0CE0_FE00 != 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        // Reading or writing a SACL needs SeSecurityPrivilege, which no session here holds
        // (Samba answers the same for users without it; smbtorture maximum_allowed and
        // create.gentest expect the open refused).
        if r.desired_access.0 & access::ACCESS_SYSTEM_SECURITY != 0 {
            return Err(NtStatus::PRIVILEGE_NOT_HELD);
        }
        // Options this server does not implement, refused as Windows refuses them
        // (FILE_CREATE_TREE_CONNECTION, FILE_OPEN_BY_FILE_ID, FILE_RESERVE_OPFILTER;
        // smbtorture create.gentest).
        if r.create_options.0 & 0x0010_2080 != 0 {
            return Err(NtStatus::NOT_SUPPORTED);
        }
        // Attributes no file can be created with (VOLUME, DEVICE, INTEGRITY_STREAM and the
        // undefined bits above 0x8000), and context tags shorter than four bytes, are refused
        // as Windows refuses them (smbtorture create.gentest, create.blob).
        if r.file_attributes.0 & 0xFFFF_8048 != 0 || r.contexts.iter().any(|c| c.name.len() < 4) {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        // No encryption (EFS) here: refused as a standalone Windows server refuses it.
        if r.file_attributes.0 & ENCRYPTED != 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        // No snapshots are kept: a previous version (TWrp) does not exist.
        if r.context(names::TWRP).is_some() {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        }
        if r.name.starts_with('\\') {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        // EAs to give a new or overwritten file (ExtA), checked before anything changes.
        let create_eas = match r.context(names::EXTA) {
            Some(c) => {
                let list = protocol::smb2::fscc::FileFullEaInformation::decode(&c.data)
                    .map_err(|_| NtStatus::EA_LIST_INCONSISTENT)?;
                super::ea::check(&list.entries)?;
                Some(list.entries)
            }
            None => None,
        };
        let options = r.create_options;
        let want_dir = options.contains(CreateOptions::DIRECTORY_FILE);
        let want_file = options.contains(CreateOptions::NON_DIRECTORY_FILE);
        if want_dir && want_file {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        // A security descriptor for the new node (SecD, [MS-SMB2] 2.2.13.2.2).
        let secd = match r.context(names::SECD) {
            Some(c) => {
                Some(SecurityDescriptor::decode(&c.data).map_err(|_| NtStatus::INVALID_PARAMETER)?)
            }
            None => None,
        };
        let posix_req = r
            .context(names::POSIX)
            .and_then(|c| PosixCreateRequest::decode(&c.data).ok());
        // POSIX-extensions opens name paths with `/` (Linux cifs `posix`).
        let posix_open = posix_req.is_some() && self.neg.as_ref().is_some_and(|n| n.posix);
        let path = SmbPath::parse_as(&name, posix_open)?;
        let read_only_tree = !caller.permission.can_write();

        // The directory and the existing node, if any, and the path as stored.
        let (dir, existing, stored_name, stored_dirs) = match path.name() {
            None => {
                let root = share
                    .getattr(caller.clone(), share.root())
                    .await
                    .map_err(failed)?;
                (root.clone(), Some(root), String::new(), Vec::new())
            }
            Some(n) => {
                let (dir, stored_dirs) = walk_stored(&share, &caller, path.parent()).await?;
                match lookup_ci(&share, &caller, &dir, n).await? {
                    Some((stored, a)) => (dir, Some(a), stored, stored_dirs),
                    None => (dir, None, n.to_owned(), stored_dirs),
                }
            }
        };
        let stored_path = {
            let mut p = stored_dirs;
            if path.name().is_some() {
                p.push(stored_name.clone());
            }
            p.join("\\")
        };
        if path.default_stream || path.stream.is_some() {
            // A data stream is never a directory ([MS-FSA] 2.1.5.1: a stream open with
            // FILE_DIRECTORY_FILE is refused; a directory has no default data stream).
            if want_dir {
                return Err(NtStatus::NOT_A_DIRECTORY);
            }
            if path.default_stream
                && existing
                    .as_ref()
                    .is_some_and(|a| a.kind == FileKind::Directory)
            {
                return Err(NtStatus::FILE_IS_A_DIRECTORY);
            }
        }
        if let Some(stream) = &path.stream {
            let target = StreamTarget {
                dir,
                existing,
                stored_name,
                stored_path,
                stream: stream.clone(),
                posix_open,
            };
            return self
                .create_stream(&req, &r, file, share, caller, target)
                .await;
        }
        let mut action = CreateAction::OPENED;
        let desired = r.desired_access.0;
        let mut checked_access = None;
        // The oplock or lease asked for: leases from SMB 2.1 on, with the RqLs context.
        let (lease_req, treq) = self.table_request(&r, file);
        // The directory lease this open's changes leave alone (its ParentLeaseKey).
        let parent_lease = lease_req.as_ref().and_then(|l| {
            l.v2.filter(|_| l.flags.0 & LeaseFlags::PARENT_LEASE_KEY_SET.0 != 0)
                .map(|v| v.parent_key)
        });
        let mut grant: Option<Grant> = None;
        // Whether the node has a current stored descriptor: then its write bits mirror the
        // DACL, not the DOS READONLY attribute.
        let mut has_acl = false;
        // The stored DOS attributes of an existing node (and its EA size).
        let mut existing_meta = None;
        let attr = match existing {
            Some(a) => {
                if disposition == CreateDisposition::CREATE {
                    return Err(NtStatus::OBJECT_NAME_COLLISION);
                }
                // Access is checked on the existing node before anything changes it.
                let (granted, acl_stored) = self.granted_access(&share, &caller, &a, &dir).await?;
                has_acl = acl_stored;
                let wanted = access::wanted(desired, granted, a.kind == FileKind::Directory);
                if wanted & !granted != 0 {
                    tracing::debug!(
                        wanted = format_args!("{wanted:#x}"),
                        granted = format_args!("{granted:#x}"),
                        "CREATE: access denied"
                    );
                    return Err(NtStatus::ACCESS_DENIED);
                }
                if options.contains(CreateOptions::DELETE_ON_CLOSE) && wanted & access::DELETE == 0
                {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                checked_access = Some((wanted, granted));
                let is_dir = a.kind == FileKind::Directory;
                if want_dir && !is_dir {
                    return Err(NtStatus::NOT_A_DIRECTORY);
                }
                if want_file && is_dir {
                    return Err(NtStatus::FILE_IS_A_DIRECTORY);
                }
                let overwrite = matches!(
                    disposition,
                    CreateDisposition::SUPERSEDE
                        | CreateDisposition::OVERWRITE
                        | CreateDisposition::OVERWRITE_IF
                );
                let meta = attrs::meta(&share, &caller, Node::from(&a)).await?;
                existing_meta = Some(meta);
                // Share modes, oplocks and leases of other opens, before anything changes.
                let treq = Request {
                    overwrite,
                    is_dir,
                    access: wanted,
                    ..treq
                };
                let treq = self.caching_over_locks(&share, Node::from(&a), treq).await;
                // Other gateways' handles' share modes (their clients' handle caching may
                // have to go first).
                match self
                    .server
                    .published
                    .sharing_elsewhere(
                        &self.server,
                        NodeKey::new(share.id(), Node::from(&a)),
                        treq.access,
                        treq.share_access,
                    )
                    .await
                {
                    Ok(()) => {}
                    Err(Some(answer)) => return Ok(answer),
                    Err(None) => return Err(NtStatus::SHARING_VIOLATION),
                }
                // Other gateways' clients' caching in this open's way goes first.
                if let Some(wait) = self.server.published.recall_for_open(
                    &self.server,
                    NodeKey::new(share.id(), Node::from(&a)),
                    treq.access,
                    overwrite,
                    options.contains(CreateOptions::DELETE_ON_CLOSE),
                ) {
                    return Ok(wait);
                }
                match self.admit(
                    NodeKey::new(share.id(), Node::from(&a)),
                    &treq,
                    ask.creating(),
                ) {
                    Ok(g) => grant = Some(g),
                    Err(answer) => return Ok(*answer),
                }
                if overwrite {
                    if is_dir {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    // Overwriting a hidden or system file must say so ([MS-FSA] 2.1.5.1.2.1).
                    let kept = meta.dos.bits(&a) & (attrs::HIDDEN | attrs::SYSTEM);
                    if kept & !r.file_attributes.0 != 0 {
                        return Err(NtStatus::ACCESS_DENIED);
                    }
                    if read_only_tree {
                        return Err(NtStatus::ACCESS_DENIED);
                    }
                    let change = share
                        .setattr(
                            caller.clone(),
                            Node::from(&a),
                            AttrChange {
                                size: Some(0),
                                ..AttrChange::default()
                            },
                            None,
                        )
                        .await
                        .map_err(failed)?;
                    action = if disposition == CreateDisposition::SUPERSEDE {
                        CreateAction::SUPERSEDED
                    } else {
                        CreateAction::OVERWRITTEN
                    };
                    change.after.unwrap_or(a)
                } else {
                    a
                }
            }
            None => {
                if matches!(
                    disposition,
                    CreateDisposition::OPEN | CreateDisposition::OVERWRITE
                ) {
                    return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
                }
                if read_only_tree {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                // A read-only file could never be deleted on close: refused before it exists.
                if options.contains(CreateOptions::DELETE_ON_CLOSE)
                    && r.file_attributes.contains(FileAttributes::READONLY)
                    && !want_dir
                {
                    return Err(NtStatus::CANNOT_DELETE);
                }
                let mode =
                    posix_req.map_or(if want_dir { 0o755 } else { 0o644 }, |p| p.mode & 0o7777);
                let mode = if r.file_attributes.contains(FileAttributes::READONLY) && !want_dir {
                    mode & !0o222
                } else {
                    mode
                };
                // A directory with a stored descriptor must also allow adding the entry
                // (FILE_ADD_FILE / FILE_ADD_SUBDIRECTORY, [MS-FSA] 2.1.5.1.1); it is also what
                // the new node inherits from.
                let parent_sd = super::acl::stored(&share, &caller, &dir).await?;
                let add = if want_dir {
                    access::FILE_APPEND_DATA
                } else {
                    access::FILE_WRITE_DATA
                };
                if super::acl::narrow(add, parent_sd.as_ref(), &caller, None) != add {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                let what = if want_dir {
                    NewKind::Directory
                } else {
                    NewKind::Regular(CreateMode::Guarded)
                };
                let made = share
                    .make(
                        caller.clone(),
                        Node::from(&dir),
                        Bytes::copy_from_slice(stored_name.as_bytes()),
                        what,
                        AttrChange {
                            mode: Some(mode),
                            ..AttrChange::default()
                        },
                    )
                    .await;
                match made {
                    Ok(made) => {
                        action = CreateAction::CREATED;
                        // The descriptor the client gave, or the one inherited from a parent
                        // with a stored descriptor, is stored on the new node.
                        let owner = Sid::unix_user(made.attr.uid);
                        let group = Sid::unix_group(made.attr.gid);
                        let sd = match &secd {
                            Some(given) if given.control & control::DACL_PRESENT != 0 => {
                                Some(given_sd(given, owner, group))
                            }
                            _ => parent_sd.as_ref().and_then(|p| {
                                protocol::smb2::acl::inherited_descriptor(
                                    p, want_dir, &owner, &group,
                                )
                            }),
                        };
                        match sd {
                            Some(sd) => {
                                has_acl = true;
                                apply_new_sd(&share, &caller, made.attr, &sd).await?
                            }
                            None => made.attr,
                        }
                    }
                    // Another opener (another connection) made the name between the lookup
                    // and here: OPEN_IF / OVERWRITE_IF open what it made.
                    Err(f)
                        if matches!(
                            f.error,
                            crate::server::share::OpError::Store(StoreError::Exists)
                        ) && disposition != CreateDisposition::CREATE =>
                    {
                        match lookup_ci(&share, &caller, &dir, &stored_name).await? {
                            Some((_, a)) if (a.kind == FileKind::Directory) == want_dir => a,
                            _ => return Err(failed(f)),
                        }
                    }
                    Err(f) => return Err(failed(f)),
                }
            }
        };
        // The DOS attributes: a new or overwritten file takes those asked for (the ones CREATE
        // may set) plus ARCHIVE, a new directory those asked for; an opened node keeps its own.
        let stored = match (action, existing_meta) {
            (CreateAction::OPENED, Some(meta)) => meta.dos,
            (CreateAction::OPENED, None) => {
                attrs::meta(&share, &caller, Node::from(&attr))
                    .await
                    .unwrap_or_default()
                    .dos
            }
            (_, old) => {
                let bits = attrs::at_create(attr.kind, r.file_attributes.0);
                let old = old.map(|m| m.dos).unwrap_or_default();
                attrs::store_dos(&share, &caller, &attr, old, bits).await?;
                if let Some(eas) = &create_eas {
                    super::ea::write(&share, &caller, Node::from(&attr), eas).await?;
                }
                attrs::StoredDos(Some(bits))
            }
        };
        // What the mode bits and the share permission allow, against what was asked (checked
        // above for existing nodes; a new node's creator gets what it asked for).
        let (access_mask, granted) = match checked_access {
            Some(x) => x,
            None => {
                let (granted, _) = self.granted_access(&share, &caller, &attr, &dir).await?;
                let wanted = access::wanted(desired, granted, attr.kind == FileKind::Directory);
                (wanted, granted)
            }
        };
        let delete_on_close = options.contains(CreateOptions::DELETE_ON_CLOSE);
        if delete_on_close {
            if access_mask & access::DELETE == 0 {
                return Err(NtStatus::ACCESS_DENIED);
            }
            if attr.kind != FileKind::Directory && attr.mode & 0o222 == 0 && !has_acl {
                return Err(NtStatus::CANNOT_DELETE);
            }
        }
        let node = Node::from(&attr);
        let grant = match grant {
            Some(g) => g,
            // A node this CREATE made (or found made meanwhile) registers now.
            None => {
                let treq = Request {
                    is_dir: attr.kind == FileKind::Directory,
                    access: access_mask,
                    ..treq
                };
                match self.admit(NodeKey::new(share.id(), node), &treq, ask.creating()) {
                    Ok(g) => g,
                    Err(answer) => return Ok(*answer),
                }
            }
        };
        // Other gateways on this share's metadata store must find this caching before the
        // client learns of it (super::gateways). Caching that cannot be published is not
        // granted: the open fails (and leaves the table) as any open whose store fails.
        // Its share modes too: an open that uses the data or may delete the file is
        // published, so other gateways' opens respect it.
        let caches = grant.lease.is_some_and(|l| l.0 != 0)
            || matches!(
                grant.oplock,
                OplockLevel::BATCH | OplockLevel::EXCLUSIVE | OplockLevel::II
            )
            || !super::gateways::mode_bits(access_mask, r.share_access.0).is_none();
        // The share modes are claimed in the same store step that checks the other gateways'
        // rows, so of two gateways opening the file at once with conflicting modes one fails
        // here (both may have passed sharing_elsewhere above).
        if caches && self.server.published.shares(share.id()) {
            let key = NodeKey::new(share.id(), node);
            let opening = super::gateways::mode_bits(access_mask, r.share_access.0);
            let published = if opening.is_none() {
                self.server
                    .published
                    .sync(&self.server, key)
                    .await
                    .map(|()| true)
            } else {
                let me = OpenRef {
                    conn: self.id,
                    file,
                };
                self.server
                    .published
                    .claim(&self.server, key, me, opening)
                    .await
            };
            match published {
                Ok(true) => {}
                Ok(false) => {
                    tracing::debug!(
                        ino = node.ino.0,
                        "another gateway's handle claimed the file first: sharing violation"
                    );
                    return Err(NtStatus::SHARING_VIOLATION);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot publish the caching granted for the other gateways; the open fails");
                    return Err(super::errors::status(&e));
                }
            }
        }
        // An allocation size asked for at creation (AlSi) is reported back.
        let requested_allocation = r
            .context(names::ALSI)
            .filter(|_| action != CreateAction::OPENED && attr.kind != FileKind::Directory)
            .and_then(|c| c.data.get(..8).and_then(|b| b.try_into().ok()))
            .map_or(0, |b: [u8; 8]| {
                u64::from_le_bytes(b).div_ceil(4096).saturating_mul(4096)
            });
        let is_dir = attr.kind == FileKind::Directory;
        if delete_on_close {
            // The file (or directory) is to go: other leases give up handle caching.
            let mut breaks = Vec::new();
            let me = OpenRef {
                conn: self.id,
                file,
            };
            let now = self.server.env.now();
            let key = NodeKey::new(share.id(), node);
            self.server.opens.deleting(key, now, me, &mut breaks);
            self.send_breaks(breaks);
        }
        let durable = self.durability(ask, &grant, is_dir, req.hdr.session_id.0);
        let fid = self.insert_open(Open {
            session: req.hdr.session_id.0,
            tree: tid(req.hdr),
            kind: OpenKind::Node {
                node,
                parent: Node::from(&dir),
                name: stored_name.clone(),
                path: stored_path.clone(),
                is_dir,
                stream: None,
            },
            access: access_mask,
            share_access: r.share_access.0,
            delete_on_close,
            write_through: options.contains(CreateOptions::WRITE_THROUGH),
            dirty: false,
            unflushed: None,
            scan: DirScan::default(),
            posix_paths: posix_open,
            position: 0,
            allocation: requested_allocation,
            archived: stored.bits(&attr) & attrs::ARCHIVE != 0,
            user_ctime: None,
            // FileModeInformation starts as the create options that are modes (write-through,
            // sequential, no buffering, synchronous I/O).
            mode: options.0 & 0x3E,
            locks: super::state::OpenLocks::default(),
            persistent: durable
                .as_ref()
                .map_or(0, |_| self.server.durable.fresh_persistent()),
            durable: durable.as_ref().map(|(d, _)| *d),
            create_guid: match ask {
                Ask::V2(d) => Some((d.create_guid, action.0)),
                _ => None,
            },
            replay_eligible: matches!(ask, Ask::V2(_)).into(),
            app_instance,
            channel_sequence: req.hdr.channel_sequence().into(),
            parent_lease,
            wrote: stores::Modified::default(),
        })?;
        if durable.is_some() {
            // Before the answer: a client told its open is durable finds it after a crash.
            self.record_durable(fid.volatile).await;
        }
        if let Some(app) = app_instance {
            self.server.durable.app_register(
                app,
                OpenRef {
                    conn: self.id,
                    file: fid.volatile,
                },
                self.neg.as_ref().map_or([0; 16], |n| n.client_guid),
                share.id().0,
                stored_path.to_lowercase(),
            );
        }
        if action != CreateAction::OPENED {
            let (filter, what) = if action == CreateAction::CREATED {
                (notify::name_filter(is_dir), NotifyAction::ADDED)
            } else {
                (
                    CompletionFilter::SIZE | CompletionFilter::LAST_WRITE,
                    NotifyAction::MODIFIED,
                )
            };
            self.notify_path(share.id(), &stored_path, what, filter);
            self.dir_changed(share.id(), Node::from(&dir), parent_lease);
        }
        let mut contexts = id_contexts(&r, granted, attr.ino.0, share.id().0);
        if posix_req.is_some() && self.neg.as_ref().is_some_and(|n| n.posix) {
            contexts.push(attrs::posix_info(&attr).context());
        }
        if let (Some(l), Some((state, epoch, breaking, v2))) = (lease_req, grant.lease) {
            contexts.push(lease_response(&l, state, epoch, breaking, v2).context());
        }
        if let Some((_, c)) = durable {
            contexts.push(c);
        }
        let mut w = Out::writer();
        CreateResponse {
            oplock_level: grant.oplock,
            flags: 0,
            create_action: action,
            creation_time: filetime(attr.btime),
            last_access_time: filetime(attr.atime),
            last_write_time: filetime(attr.mtime),
            change_time: filetime(attr.ctime),
            allocation_size: attrs::allocation(&attr).max(requested_allocation),
            end_of_file: attrs::end_of_file(&attr),
            file_attributes: FileAttributes(attrs::dos(&attr, &stored_name, stored)),
            file_id: fid,
            contexts,
        }
        .encode(&mut w);
        let mut out = Out::ok(w);
        out.file_id = Some(fid);
        Ok(out)
    }

    /// The lease a CREATE asks for (leases from SMB 2.1 on, with the RqLs context; v2 leases
    /// from 3.0) and the open-table request for it (access and overwrite filled in later).
    fn table_request(&self, r: &CreateRequest<'_>, file: u64) -> (Option<Lease>, Request) {
        let dialect = self.neg.as_ref().map_or(0, |n| n.dialect);
        let lease_req = if r.oplock_level == OplockLevel::LEASE && dialect >= 0x0210 {
            r.context(names::RQLS)
                .and_then(|c| Lease::decode(&c.data).ok())
                // v2 leases (with epochs) are SMB 3.x's.
                .filter(|l| l.v2.is_none() || dialect >= 0x0300)
        } else {
            None
        };
        let client = self.neg.as_ref().map_or([0; 16], |n| n.client_guid);
        let treq = Request {
            open: OpenRef {
                conn: self.id,
                file,
            },
            access: 0,
            share_access: r.share_access.0,
            oplock: r.oplock_level,
            lease: lease_req.map(|l| {
                (
                    LeaseId { client, key: l.key },
                    l.state.0,
                    l.v2.is_some(),
                    l.v2.map_or(0, |v| v.epoch),
                )
            }),
            overwrite: false,
            is_dir: false,
            first: !self.retrying,
        };
        (lease_req, treq)
    }

    /// CREATE of a named data stream (`file:stream`, super::streams): the base file or
    /// directory is opened, or created (an empty file) unless the stream is only to be
    /// opened; access is what the base grants; the disposition applies to the stream; share
    /// modes and oplocks are the stream's own ([MS-FSA] 2.1.5.1). `r` was checked by
    /// [`Self::create_open`].
    async fn create_stream(
        &mut self,
        req: &Req<'_>,
        r: &CreateRequest<'_>,
        file: u64,
        share: ShareHandle,
        caller: Caller,
        t: StreamTarget,
    ) -> Handled {
        let disposition = r.create_disposition;
        let options = r.create_options;
        let read_only_tree = !caller.permission.can_write();
        // 1. The base: the existing node, or a new empty file (Samba opens the base with
        //    OPEN_IF for every disposition but OPEN).
        let (base, new_base) = match t.existing {
            Some(a) => (a, false),
            None => {
                if matches!(
                    disposition,
                    CreateDisposition::OPEN | CreateDisposition::OVERWRITE
                ) {
                    return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
                }
                if read_only_tree {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                let parent_sd = super::acl::stored(&share, &caller, &t.dir).await?;
                if super::acl::narrow(access::FILE_WRITE_DATA, parent_sd.as_ref(), &caller, None)
                    != access::FILE_WRITE_DATA
                {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                let mode = if r.file_attributes.contains(FileAttributes::READONLY) {
                    0o444
                } else {
                    0o644
                };
                let made = share
                    .make(
                        caller.clone(),
                        Node::from(&t.dir),
                        Bytes::copy_from_slice(t.stored_name.as_bytes()),
                        NewKind::Regular(CreateMode::Guarded),
                        AttrChange {
                            mode: Some(mode),
                            ..AttrChange::default()
                        },
                    )
                    .await;
                let a = match made {
                    Ok(made) => {
                        let bits = attrs::at_create(FileKind::Regular, r.file_attributes.0);
                        attrs::store_dos(&share, &caller, &made.attr, attrs::StoredDos(None), bits)
                            .await?;
                        self.notify_path(
                            share.id(),
                            &t.stored_path,
                            NotifyAction::ADDED,
                            notify::name_filter(false),
                        );
                        made.attr
                    }
                    // Made meanwhile by another opener: use it.
                    Err(f)
                        if matches!(
                            f.error,
                            crate::server::share::OpError::Store(StoreError::Exists)
                        ) =>
                    {
                        match lookup_ci(&share, &caller, &t.dir, &t.stored_name).await? {
                            Some((_, a)) => a,
                            None => return Err(failed(f)),
                        }
                    }
                    Err(f) => return Err(failed(f)),
                };
                (a, true)
            }
        };
        if base.kind == FileKind::Symlink {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        }
        let node = Node::from(&base);
        // 2. Access: what the base grants (a new base's creator gets what it asked for).
        let (granted, _) = self.granted_access(&share, &caller, &base, &t.dir).await?;
        let wanted = access::wanted(r.desired_access.0, granted, false);
        if !new_base && wanted & !granted != 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let delete_on_close = options.contains(CreateOptions::DELETE_ON_CLOSE);
        if delete_on_close && wanted & access::DELETE == 0 {
            return Err(NtStatus::ACCESS_DENIED);
        }
        // 3. The stream and the disposition.
        let found = super::streams::find(&share, &caller, node, &t.stream).await?;
        let overwrite = matches!(
            disposition,
            CreateDisposition::SUPERSEDE
                | CreateDisposition::OVERWRITE
                | CreateDisposition::OVERWRITE_IF
        );
        match (&found, disposition) {
            (Some(_), CreateDisposition::CREATE) => {
                return Err(NtStatus::OBJECT_NAME_COLLISION);
            }
            (None, CreateDisposition::OPEN | CreateDisposition::OVERWRITE) => {
                return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
            }
            _ => {}
        }
        if (found.is_none() || overwrite) && read_only_tree {
            return Err(NtStatus::ACCESS_DENIED);
        }
        let stream = found
            .as_ref()
            .map_or_else(|| t.stream.clone(), |s| s.name.clone());
        // 4. Share modes and oplocks among the stream's opens.
        let (lease_req, treq) = self.table_request(r, file);
        let treq = Request {
            access: wanted,
            overwrite: found.is_some() && overwrite,
            ..treq
        };
        let grant = match self.admit(NodeKey::of(share.id(), node, Some(&stream)), &treq, None) {
            Ok(g) => g,
            Err(answer) => return Ok(*answer),
        };
        // 5. Create or empty it.
        let (action, size) = match &found {
            None => {
                super::streams::create(&share, &caller, node, &stream).await?;
                (CreateAction::CREATED, 0)
            }
            Some(_) if overwrite => {
                super::streams::create(&share, &caller, node, &stream).await?;
                let action = if disposition == CreateDisposition::SUPERSEDE {
                    CreateAction::SUPERSEDED
                } else {
                    CreateAction::OVERWRITTEN
                };
                (action, 0)
            }
            Some(s) => (CreateAction::OPENED, s.size),
        };
        let meta = attrs::meta(&share, &caller, node).await.unwrap_or_default();
        let fid = self.insert_open(Open {
            session: req.hdr.session_id.0,
            tree: tid(req.hdr),
            kind: OpenKind::Node {
                node,
                parent: Node::from(&t.dir),
                name: t.stored_name.clone(),
                path: t.stored_path.clone(),
                is_dir: false,
                stream: Some(stream.clone()),
            },
            access: wanted,
            share_access: r.share_access.0,
            delete_on_close,
            write_through: options.contains(CreateOptions::WRITE_THROUGH),
            dirty: false,
            unflushed: None,
            scan: DirScan::default(),
            posix_paths: t.posix_open,
            position: 0,
            allocation: 0,
            archived: true,
            user_ctime: None,
            mode: options.0 & 0x3E,
            locks: super::state::OpenLocks::default(),
            persistent: 0,
            durable: None,
            create_guid: None,
            replay_eligible: false.into(),
            app_instance: None,
            channel_sequence: 0.into(),
            parent_lease: None,
            wrote: stores::Modified::default(),
        })?;
        if action != CreateAction::OPENED {
            let (what, filter) = if action == CreateAction::CREATED {
                (NotifyAction::ADDED_STREAM, CompletionFilter::STREAM_NAME)
            } else {
                (
                    NotifyAction::MODIFIED_STREAM,
                    CompletionFilter::STREAM_SIZE | CompletionFilter::STREAM_WRITE,
                )
            };
            self.notify_path(
                share.id(),
                &format!("{}:{stream}", t.stored_path),
                what,
                filter,
            );
        }
        // A stream has its file's id ([MS-FSCC] 2.4.20; smbtorture fileid).
        let mut contexts = id_contexts(r, granted, base.ino.0, share.id().0);
        if let (Some(l), Some((state, epoch, breaking, v2))) = (lease_req, grant.lease) {
            contexts.push(lease_response(&l, state, epoch, breaking, v2).context());
        }
        let mut w = Out::writer();
        CreateResponse {
            oplock_level: grant.oplock,
            flags: 0,
            create_action: action,
            creation_time: filetime(base.btime),
            last_access_time: filetime(base.atime),
            last_write_time: filetime(base.mtime),
            change_time: filetime(base.ctime),
            allocation_size: stream_allocation(size),
            end_of_file: size,
            file_attributes: FileAttributes(stream_attributes(&base, &t.stored_name, meta.dos)),
            file_id: fid,
            contexts,
        }
        .encode(&mut w);
        let mut out = Out::ok(w);
        out.file_id = Some(fid);
        Ok(out)
    }

    /// The access mask `caller` has on `a` (in directory `dir`): what the mode bits and the
    /// share permission give, narrowed by `a`'s stored descriptor if it has a current one
    /// (super::acl::narrow); with whether it has.
    pub(crate) async fn granted_access(
        &self,
        share: &ShareHandle,
        caller: &Caller,
        a: &Attr,
        dir: &Attr,
    ) -> Result<(u32, bool), NtStatus> {
        let mode_granted = self.mode_access(share, caller, a, dir).await?;
        let Some(sd) = super::acl::stored(share, caller, a).await? else {
            return Ok((mode_granted, false));
        };
        let parent = if a.ino == dir.ino {
            None
        } else {
            // What the parent gives for the two rights that reach its entries: delete-child
            // when the mode lets the caller remove entries, list when it may read it, each
            // narrowed by the parent's own stored descriptor.
            let (_, dr) = share
                .access(
                    caller.clone(),
                    Node::from(dir),
                    Rights::READ | Rights::DELETE | Rights::MODIFY,
                )
                .await
                .map_err(failed)?;
            let mut p = 0;
            if dr.contains(Rights::DELETE) || dr.contains(Rights::MODIFY) {
                p |= access::FILE_DELETE_CHILD;
            }
            if dr.contains(Rights::READ) {
                p |= access::FILE_READ_DATA;
            }
            let psd = super::acl::stored(share, caller, dir).await?;
            Some(super::acl::narrow(p, psd.as_ref(), caller, None))
        };
        Ok((
            super::acl::narrow(mode_granted, Some(&sd), caller, parent),
            true,
        ))
    }

    /// The access mask the mode bits and the share permission give `caller` on `a` (in
    /// directory `dir`).
    async fn mode_access(
        &self,
        share: &ShareHandle,
        caller: &Caller,
        a: &Attr,
        dir: &Attr,
    ) -> Result<u32, NtStatus> {
        let all = Rights::READ
            | Rights::LOOKUP
            | Rights::MODIFY
            | Rights::EXTEND
            | Rights::DELETE
            | Rights::EXECUTE;
        let (_, rights) = share
            .access(caller.clone(), Node::from(a), all)
            .await
            .map_err(failed)?;
        let delete = if a.ino == dir.ino {
            false
        } else {
            let (_, dr) = share
                .access(
                    caller.clone(),
                    Node::from(dir),
                    Rights::DELETE | Rights::MODIFY,
                )
                .await
                .map_err(failed)?;
            dr.contains(Rights::DELETE) || dr.contains(Rights::MODIFY)
        };
        let owner = caller.uid == 0 || caller.uid == a.uid;
        Ok(access::from_rights(
            rights,
            a.kind == FileKind::Directory,
            delete,
            owner,
            caller.permission.can_write(),
        ))
    }

    /// CLOSE: commits what the open wrote, deletes a delete-on-close node, answers the
    /// attributes when asked.
    pub(crate) async fn close_file(&mut self, req: Req<'_>) -> Handled {
        let r = CloseRequest::decode(req.msg).map_err(undecodable)?;
        let id = self.open_of(&req, r.file_id)?;
        let post = r.flags & CloseRequest::POSTQUERY_ATTRIB != 0;
        let attr = if post {
            match self.opens.get(&id).map(|o| &o.kind) {
                Some(OpenKind::Node {
                    node, name, stream, ..
                }) => {
                    let (node, name, stream) = (*node, name.clone(), stream.clone());
                    let o = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
                    let (share, caller) = self.share_of(o)?;
                    match share.getattr(caller.clone(), node).await {
                        Ok(a) => {
                            let meta = attrs::meta(&share, &caller, node).await.unwrap_or_default();
                            let sizes = match &stream {
                                Some(s) => {
                                    let size = super::streams::size(&share, &caller, node, s)
                                        .await
                                        .unwrap_or(0);
                                    (
                                        stream_allocation(size),
                                        size,
                                        stream_attributes(&a, &name, meta.dos),
                                    )
                                }
                                None => (
                                    attrs::allocation(&a),
                                    attrs::end_of_file(&a),
                                    attrs::dos(&a, &name, meta.dos),
                                ),
                            };
                            Some((a, sizes))
                        }
                        Err(_) => None,
                    }
                }
                _ => None,
            }
        } else {
            None
        };
        let deleted = self.release_open(id).await;
        let mut w = Out::writer();
        let resp = match attr {
            Some((a, (allocation_size, end_of_file, file_attributes))) if !deleted => {
                CloseResponse {
                    flags: CloseRequest::POSTQUERY_ATTRIB,
                    creation_time: filetime(a.btime),
                    last_access_time: filetime(a.atime),
                    last_write_time: filetime(a.mtime),
                    change_time: filetime(a.ctime),
                    allocation_size,
                    end_of_file,
                    file_attributes: FileAttributes(file_attributes),
                }
            }
            _ => CloseResponse::default(),
        };
        resp.encode(&mut w);
        Ok(Out::ok(w))
    }

    /// Forgets open `id`: commits its writes and carries out delete-on-close. Returns whether
    /// the node was deleted.
    pub(crate) async fn release_open(&mut self, id: u64) -> bool {
        let Some(open) = self.opens.remove(&id) else {
            return false;
        };
        // The open table knows the node's opens on every connection: only the last one
        // deletes a delete-on-close or delete-pending node.
        let delete = self.server.opens.remove(
            OpenRef {
                conn: self.id,
                file: id,
            },
            open.delete_on_close,
        );
        self.server.watches.close(self.id, id);
        if open.app_instance.is_some() {
            self.server.durable.app_forget(OpenRef {
                conn: self.id,
                file: id,
            });
        }
        if let OpenKind::Node { .. } = &open.kind
            && let Ok((share, _)) = self.share_of(&open)
        {
            self.release_locks(&share, id, &open.locks).await;
            super::durable_store::forget(&share, &open).await;
        }
        let OpenKind::Node {
            node,
            parent,
            name,
            path,
            is_dir,
            stream,
        } = &open.kind
        else {
            return false;
        };
        let Ok((share, caller)) = self.share_of(&open) else {
            return false;
        };
        if open.dirty
            && let Err(f) = share.commit(caller.clone(), *node).await
        {
            tracing::warn!(error = %f.error, "commit at close failed");
        }
        // A file written through this open changed its directory's listing (size, times):
        // the directory's leases break now, once, rather than at every write (Windows and
        // Samba alike; smbtorture lease.v2_request).
        if !open.wrote.is_empty() {
            self.dir_changed(share.id(), *parent, open.parent_lease);
            if stream.is_none() {
                crate::server::share::foreign::announce(
                    &share,
                    *parent,
                    name.as_bytes(),
                    *is_dir,
                    open.wrote,
                );
            }
        }
        if !open.delete_on_close && !delete {
            return false;
        }
        // Only the last open of the node (of the stream, for a stream) deletes it, on any
        // connection; opens of its named streams alone do not keep the node (they answer
        // FILE_CLOSED afterwards).
        let same = |o: &Open| matches!(&o.kind, OpenKind::Node { node: n, stream: s, .. } if n == node && s == stream);
        let still_open = !delete || self.opens.values().any(same);
        if still_open {
            if let Some(other) = self.opens.values_mut().find(|o| same(o)) {
                other.delete_on_close = true;
            }
            // A directory now delete-pending ends the watches on it (smbtorture
            // notify.rmdir1/2).
            if *is_dir && stream.is_none() {
                self.server.watches.delete_pending(share.id(), path);
            }
            return false;
        }
        if let Some(stream) = stream {
            tracing::trace!(%name, %stream, "stream delete on close");
            return match super::streams::remove(&share, &caller, *node, stream).await {
                Ok(()) => {
                    self.notify_path(
                        share.id(),
                        &format!("{path}:{stream}"),
                        NotifyAction::REMOVED_STREAM,
                        CompletionFilter::STREAM_NAME,
                    );
                    true
                }
                Err(status) => {
                    tracing::debug!(?status, "stream delete on close failed");
                    false
                }
            };
        }
        tracing::trace!(%name, "delete on close");
        match share
            .remove(
                caller,
                *parent,
                Bytes::copy_from_slice(name.as_bytes()),
                *is_dir,
            )
            .await
        {
            Ok(_) => {
                let filter = notify::name_filter(*is_dir);
                self.notify_path(share.id(), path, NotifyAction::REMOVED, filter);
                self.dir_changed(share.id(), *parent, open.parent_lease);
                true
            }
            Err(f) => {
                tracing::debug!(error = %f.error, "delete on close failed");
                false
            }
        }
    }

    /// FLUSH: everything written to the file is durable when this answers.
    pub(crate) async fn flush(&mut self, req: Req<'_>) -> Handled {
        let r = FlushRequest::decode(req.msg).map_err(undecodable)?;
        let id = self.open_of(&req, r.file_id)?;
        let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        if let OpenKind::Node { node, .. } = &open.kind {
            if open.access & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) == 0 {
                return Err(NtStatus::ACCESS_DENIED);
            }
            let node = *node;
            let (share, caller) = self.share_of(open)?;
            // A commit that waits on a slow store or a full write-back queue goes
            // asynchronous after FLUSH_SYNC_MAX ([MS-SMB2] 3.3.4.2: an interim answer for a
            // request that may block): the client hears STATUS_PENDING and the connection
            // keeps serving. When the write-back is done the FLUSH runs again, now at once,
            // and answers with this open's state (the first commit's reply is dropped, the
            // share finishes it anyway).
            let quick =
                tokio::time::timeout(FLUSH_SYNC_MAX, share.commit(caller.clone(), node)).await;
            let committed = match quick {
                Ok(c) => c.map_err(failed)?,
                Err(_) => {
                    return Ok(Out::pending(async move {
                        let _ = share.commit(caller, node).await;
                        Finish::Retry
                    }));
                }
            };
            if let Some(o) = self.opens.get_mut(&id) {
                o.dirty = false;
                // Bytes an earlier WRITE acknowledged were dropped by the write-back cache
                // (a flush refused for good changes the verifier): say so, as NFS clients
                // learn it from COMMIT's verifier.
                if let Some((v, mixed)) = o.unflushed.take()
                    && (mixed || v != committed.verifier)
                {
                    return Err(NtStatus::LOST_WRITEBEHIND_DATA);
                }
            }
        }
        let mut w = Out::writer();
        EmptyResponse.encode(&mut w);
        Ok(Out::ok(w))
    }

    /// READ.
    pub(crate) async fn read(&mut self, req: Req<'_>) -> Handled {
        let r = ReadRequest::decode(req.msg).map_err(undecodable)?;
        let id = self.open_of(&req, r.file_id)?;
        if r.offset.saturating_add(u64::from(r.length)) > i64::MAX as u64 {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let max = self.max_io();
        if r.length as usize > max {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let open = self.opens.get_mut(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let data: Bytes = match &mut open.kind {
            OpenKind::Pipe { out, .. } => {
                let n = out.len().min(r.length as usize);
                if n == 0 {
                    return Err(NtStatus::PIPE_DISCONNECTED);
                }
                Bytes::from(out.drain(..n).collect::<Vec<u8>>())
            }
            OpenKind::Node {
                node,
                is_dir,
                stream,
                ..
            } => {
                if *is_dir {
                    return Err(NtStatus::INVALID_DEVICE_REQUEST);
                }
                if open.access & (access::FILE_READ_DATA | access::FILE_EXECUTE) == 0 {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                let (node, stream) = (*node, stream.clone());
                let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
                let (share, caller) = self.share_of(open)?;
                if stream.is_none() {
                    self.check_io(&share, id, node, Io::Read, r.offset, u64::from(r.length))
                        .await?;
                }
                let data = match &stream {
                    Some(s) => {
                        super::streams::read(&share, &caller, node, s, r.offset, r.length).await?
                    }
                    None => {
                        share
                            .read(caller, node, r.offset, r.length)
                            .await
                            .map_err(failed)?
                            .1
                    }
                };
                if data.is_empty() && r.length > 0
                    || (data.len() as u64) < u64::from(r.minimum_count)
                {
                    return Err(NtStatus::END_OF_FILE);
                }
                if let Some(o) = self.opens.get_mut(&id) {
                    o.position = r.offset + data.len() as u64;
                }
                data
            }
        };
        let mut w = Out::writer();
        ReadResponse {
            data: &data,
            data_remaining: 0,
            flags: 0,
        }
        .encode(&mut w);
        Ok(Out::ok(w))
    }

    /// The largest READ or WRITE the negotiated dialect allows.
    pub(crate) fn max_io(&self) -> usize {
        match self.neg.as_ref() {
            Some(n) if n.dialect == 0x0202 => 65_536,
            _ => protocol::smb2::limits::IO_MAX,
        }
    }

    /// WRITE: unstable unless the open or the request asks for write-through (then durable
    /// when it answers).
    pub(crate) async fn write(&mut self, req: Req<'_>) -> Handled {
        let r = WriteRequest::decode(req.msg).map_err(undecodable)?;
        let id = self.open_of(&req, r.file_id)?;
        self.channel_sequence(&req, id)?;
        let len = r.data.len() as u64;
        // All ones means "at end of file", for append-only opens only (checked below).
        if r.offset != u64::MAX {
            if r.offset.saturating_add(len) > i64::MAX as u64 {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            // Past the largest file NTFS holds, as Windows answers (smbtorture rw.invalid).
            if len > 0 && r.offset >= MAX_FILE_SIZE {
                return Err(NtStatus::INVALID_PARAMETER);
            }
        }
        if r.data.len() > self.max_io() {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let count = r.data.len();
        match &open.kind {
            OpenKind::Pipe { .. } => {
                let data = r.data.to_vec();
                self.pipe_write(id, &data)?;
            }
            OpenKind::Node {
                node,
                is_dir,
                stream: Some(stream),
                ..
            } => {
                debug_assert!(!*is_dir, "a stream open is never a directory");
                if open.access & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) == 0 {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                let (node, stream) = (*node, stream.clone());
                let (share, caller) = self.share_of(open)?;
                let offset = if r.offset == u64::MAX {
                    if open.access & access::FILE_WRITE_DATA != 0 {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    super::streams::size(&share, &caller, node, &stream).await?
                } else {
                    r.offset
                };
                let (before, after) =
                    super::streams::write(&share, &caller, node, &stream, offset, r.data).await?;
                self.data_changed(id);
                let mut filter = CompletionFilter::STREAM_WRITE;
                if before != after {
                    filter |= CompletionFilter::STREAM_SIZE;
                }
                self.notify_stream(id, filter);
                if let Some(o) = self.opens.get_mut(&id) {
                    o.position = offset + count as u64;
                }
            }
            OpenKind::Node { node, is_dir, .. } => {
                if *is_dir {
                    return Err(NtStatus::INVALID_DEVICE_REQUEST);
                }
                if open.access & (access::FILE_WRITE_DATA | access::FILE_APPEND_DATA) == 0 {
                    return Err(NtStatus::ACCESS_DENIED);
                }
                let stability = if open.write_through || r.flags.contains(WriteFlags::WRITE_THROUGH)
                {
                    Stability::FileSync
                } else {
                    Stability::Unstable
                };
                let node = *node;
                let (share, caller) = self.share_of(open)?;
                // An offset of all ones means "at end of file" for append-only opens.
                let offset = if r.offset == u64::MAX {
                    if open.access & access::FILE_WRITE_DATA != 0 {
                        return Err(NtStatus::INVALID_PARAMETER);
                    }
                    share
                        .getattr(caller.clone(), node)
                        .await
                        .map_err(failed)?
                        .size
                } else {
                    r.offset
                };
                self.check_io(&share, id, node, Io::Write, offset, count as u64)
                    .await?;
                let written = share
                    .write(
                        caller,
                        node,
                        offset,
                        Bytes::copy_from_slice(r.data),
                        stability,
                    )
                    .await
                    .map_err(failed)?;
                self.data_changed(id);
                if count > 0
                    && self.opens.get(&id).is_some_and(|o| !o.archived)
                    && let Some(o) = self.opens.get(&id)
                {
                    // Written data marks the file for backup (FILE_ATTRIBUTE_ARCHIVE), as
                    // Windows does; once per open.
                    // The data is written: a failure here only leaves the attribute behind.
                    let (share, caller) = self.share_of(o)?;
                    if let Ok(a) = share.getattr(caller.clone(), node).await
                        && let Ok(meta) = attrs::meta(&share, &caller, node).await
                    {
                        let bits = meta.dos.bits(&a);
                        if bits & attrs::ARCHIVE == 0
                            && let Err(status) = attrs::store_dos(
                                &share,
                                &caller,
                                &a,
                                meta.dos,
                                bits | attrs::ARCHIVE,
                            )
                            .await
                        {
                            tracing::debug!(?status, "setting ARCHIVE after a write failed");
                        }
                    }
                }
                let mut filter = CompletionFilter::LAST_WRITE;
                if written.change.before.as_ref().map(|a| a.size)
                    != written.change.after.as_ref().map(|a| a.size)
                {
                    filter |= CompletionFilter::SIZE;
                }
                self.notify_open(id, filter);
                if let Some(o) = self.opens.get_mut(&id) {
                    o.position = offset + count as u64;
                    if count > 0 {
                        o.archived = true;
                        o.wrote |= notify::filter_modified(filter);
                    }
                    if stability == Stability::Unstable {
                        o.dirty = true;
                        o.unflushed = match o.unflushed {
                            None => Some((written.verifier, false)),
                            Some((v, mixed)) => Some((v, mixed || v != written.verifier)),
                        };
                    }
                }
            }
        }
        let mut w = Out::writer();
        WriteResponse {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            remaining: 0,
        }
        .encode(&mut w);
        Ok(Out::ok(w))
    }

    /// OPLOCK_BREAK ([MS-SMB2] 3.3.5.22): an oplock break acknowledgement (answered with the
    /// level now held) or a lease break acknowledgement (answered with the state now held).
    pub(crate) fn oplock_break(&mut self, req: Req<'_>) -> Handled {
        let msg = OplockBreakMessage::decode(req.msg).map_err(undecodable)?;
        let mut w = Out::writer();
        match msg {
            OplockBreakMessage::Oplock(ack) => {
                let id = self.open_of(&req, ack.file_id)?;
                let level = self.server.opens.ack_oplock(
                    OpenRef {
                        conn: self.id,
                        file: id,
                    },
                    ack.oplock_level,
                )?;
                OplockBreak {
                    oplock_level: level,
                    file_id: ack.file_id,
                }
                .encode(&mut w);
            }
            OplockBreakMessage::LeaseAck(ack) => {
                self.session(req.hdr)?;
                let neg = self.neg.as_ref().ok_or(NtStatus::INVALID_PARAMETER)?;
                if neg.dialect < 0x0210 {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
                let id = LeaseId {
                    client: neg.client_guid,
                    key: ack.lease_key,
                };
                let mut breaks = Vec::new();
                let now = self.server.env.now();
                let taken = self
                    .server
                    .opens
                    .ack_lease(id, ack.state.0, now, &mut breaks);
                // A further break goes out after this answer (the connection sends queued
                // breaks after the response in hand).
                self.send_breaks(breaks);
                taken?;
                LeaseBreakAck {
                    flags: 0,
                    lease_key: ack.lease_key,
                    state: ack.state,
                    duration: 0,
                }
                .encode(&mut w);
            }
            // Only the server sends notifications.
            OplockBreakMessage::LeaseNotification(_) => return Err(NtStatus::INVALID_PARAMETER),
        }
        Ok(Out::ok(w))
    }

    /// The notification frame for a break another connection (or this one) decided
    /// ([MS-SMB2] 3.3.4.6, 3.3.4.7): unsolicited (MessageId all ones), no session or tree in
    /// its header, encrypted for the open's session when that session or tree encrypts.
    /// `None` when the open is gone meanwhile.
    pub(crate) fn break_notification(&mut self, b: &Break) -> Option<Vec<u8>> {
        let file = match b {
            Break::Oplock { open, .. } | Break::Lease { open, .. } => open.file,
        };
        let open = self.opens.get(&file)?;
        let persistent = open.persistent;
        let session = open.session;
        let encrypt = self
            .sessions
            .get(&session)
            .is_some_and(|s| s.encrypt_data || s.trees.get(&open.tree).is_some_and(|t| t.encrypt));
        let mut hdr = Header::new(Command::OPLOCK_BREAK);
        hdr.flags = HeaderFlags::SERVER_TO_REDIR;
        hdr.message_id = MessageId::UNSOLICITED;
        hdr.credits = 0;
        let mut w = Out::writer();
        match *b {
            Break::Oplock { level, .. } => OplockBreak {
                oplock_level: level,
                file_id: FileId {
                    persistent,
                    volatile: file,
                },
            }
            .encode(&mut w),
            Break::Lease {
                key,
                current,
                new,
                epoch,
                ack,
                ..
            } => LeaseBreakNotification {
                new_epoch: epoch,
                flags: if ack {
                    LeaseBreakFlags::ACK_REQUIRED
                } else {
                    LeaseBreakFlags(0)
                },
                lease_key: key,
                current_state: LeaseState(current),
                new_state: LeaseState(new),
                break_reason: 0,
                access_mask_hint: 0,
                share_mask_hint: 0,
            }
            .encode(&mut w),
        }
        let mut bytes = w.into_inner();
        bytes[..HEADER_LEN].copy_from_slice(&hdr.to_bytes());
        tracing::debug!(?b, "break notification");
        if encrypt {
            let enc = self.encrypt(session, &bytes);
            if enc.is_none() {
                self.close = true;
            }
            return enc;
        }
        Some(bytes)
    }

    /// Opens a named pipe on IPC$ (`srvsvc`).
    fn open_pipe(&mut self, req: &Req<'_>, name: &str) -> Handled {
        let name = name.trim_start_matches('\\').to_ascii_lowercase();
        if name != "srvsvc" {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        }
        let fid = self.insert_open(Open {
            session: req.hdr.session_id.0,
            tree: tid(req.hdr),
            kind: OpenKind::Pipe { out: Vec::new() },
            access: access::FILE_READ_DATA | access::FILE_WRITE_DATA,
            share_access: 7,
            delete_on_close: false,
            write_through: false,
            dirty: false,
            unflushed: None,
            scan: DirScan::default(),
            posix_paths: false,
            position: 0,
            allocation: 0,
            archived: false,
            user_ctime: None,
            mode: 0,
            locks: super::state::OpenLocks::default(),
            persistent: 0,
            durable: None,
            create_guid: None,
            replay_eligible: false.into(),
            app_instance: None,
            channel_sequence: 0.into(),
            parent_lease: None,
            wrote: stores::Modified::default(),
        })?;
        let mut w = Out::writer();
        CreateResponse {
            oplock_level: OplockLevel::NONE,
            flags: 0,
            create_action: CreateAction::OPENED,
            creation_time: 0,
            last_access_time: 0,
            last_write_time: 0,
            change_time: 0,
            allocation_size: 4096,
            end_of_file: 0,
            file_attributes: FileAttributes::NORMAL,
            file_id: fid,
            contexts: Vec::new(),
        }
        .encode(&mut w);
        let mut out = Out::ok(w);
        out.file_id = Some(fid);
        Ok(out)
    }
}

/// What a stream CREATE found of its base (see [`Conn::create_stream`]).
struct StreamTarget {
    /// The base's directory.
    dir: Attr,
    /// The base, if it exists.
    existing: Option<Attr>,
    /// The base's name in `dir`, as stored (as given when it does not exist yet).
    stored_name: String,
    /// The base's path from the share root, as stored.
    stored_path: String,
    /// The stream's name as given.
    stream: String,
    /// Opened with the POSIX create context.
    posix_open: bool,
}

/// The allocation reported for a stream of `size` bytes: whole 4 KiB clusters.
pub(crate) fn stream_allocation(size: u64) -> u64 {
    size.div_ceil(4096).saturating_mul(4096)
}

/// The attributes a stream of `base` reports: its base's, but never DIRECTORY (a stream of a
/// directory holds data, as Samba's streams_xattr reports it), NORMAL when none is left.
pub(crate) fn stream_attributes(base: &Attr, name: &str, stored: attrs::StoredDos) -> u32 {
    let bits = attrs::dos(base, name, stored) & !(attrs::DIRECTORY | FileAttributes::NORMAL.0);
    if bits == 0 {
        FileAttributes::NORMAL.0
    } else {
        bits
    }
}

/// The descriptor a new node gets from a SecD context that has a DACL: that DACL (NULL when
/// the context says so) with its control bits, and the node's real owner and group. An owner
/// or group in the context is not applied: the creator owns what it creates.
fn given_sd(given: &SecurityDescriptor, owner: Sid, group: Sid) -> SecurityDescriptor {
    let keep = control::DACL_PROTECTED | control::DACL_AUTO_INHERITED | control::DACL_DEFAULTED;
    SecurityDescriptor {
        control: control::SELF_RELATIVE | control::DACL_PRESENT | (given.control & keep),
        owner: Some(owner),
        group: Some(group),
        sacl: None,
        dacl: given
            .dacl
            .as_ref()
            .map(protocol::smb2::acl::map_generic_aces),
    }
}

/// Gives new node `a` the mode closest to `sd` and stores `sd` beside it; returns the
/// attributes after.
async fn apply_new_sd(
    share: &ShareHandle,
    caller: &Caller,
    a: Attr,
    sd: &SecurityDescriptor,
) -> Result<Attr, NtStatus> {
    let bits = protocol::smb2::acl::closest_mode(sd, a.uid, a.gid);
    let mode = (a.mode & !0o777) | bits;
    let a = if mode == a.mode {
        a
    } else {
        let change = share
            .setattr(
                caller.clone(),
                Node::from(&a),
                AttrChange {
                    mode: Some(mode),
                    ..AttrChange::default()
                },
                None,
            )
            .await
            .map_err(failed)?;
        match change.after {
            Some(after) => after,
            None => share
                .getattr(caller.clone(), Node::from(&a))
                .await
                .map_err(failed)?,
        }
    };
    super::acl::store(share, caller, &a, sd).await?;
    Ok(a)
}

/// The MxAc (maximal access `granted`) and QFid (file `ino` on share volume `volume`) create
/// contexts a CREATE answers when `r` asked for them.
fn id_contexts(
    r: &CreateRequest<'_>,
    granted: u32,
    ino: u64,
    volume: impl Into<u64>,
) -> Vec<protocol::smb2::create::CreateContext<'static>> {
    let mut contexts = Vec::new();
    if r.context(names::MXAC).is_some() {
        contexts.push(
            MxAcResponse {
                query_status: NtStatus::SUCCESS,
                maximal_access: protocol::smb2::create::AccessMask(granted),
            }
            .context(),
        );
    }
    if r.context(names::QFID).is_some() {
        contexts.push(
            QFidResponse {
                disk_file_id: ino,
                volume_id: volume.into(),
            }
            .context(),
        );
    }
    contexts
}
