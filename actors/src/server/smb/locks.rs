//! SMB2 LOCK ([MS-SMB2] 3.3.5.14) over the share's byte-range lock manager
//! ([`crate::server::share::locks`]), and the lock checks READ, WRITE and the FSCTLs make.
//!
//! - The first element decides: UNLOCK elements are processed in turn and a failure stops
//!   them (earlier unlocks stay); lock elements are all or nothing, and a request of several
//!   must fail immediately (every element FAIL_IMMEDIATELY), as Windows and Samba check.
//! - A single lock without FAIL_IMMEDIATELY that conflicts waits: the request answers
//!   STATUS_PENDING and its wait holds the manager's oneshot. CANCEL ends it with
//!   STATUS_CANCELLED and removes the waiter; closing the open (also by LOGOFF or
//!   TREE_DISCONNECT) ends it with STATUS_RANGE_NOT_LOCKED, as Windows answers.
//! - Lock sequence replay (dialects 2.1+): on resilient opens (FSCTL_LMR_REQUEST_RESILIENCY),
//!   and on every open when the connection offers multichannel (3.x), a LOCK whose
//!   LockSequenceIndex (1..=64) repeats the number of the last successful one is answered
//!   success without being run again. A blocking lock granted later does not record its
//!   number (the wait cannot reach the open).
//! - Taking a lock breaks level II oplocks (the locker's own too) and other opens' read
//!   leases to none ([MS-FSA] 2.1.4.12, LOCK_CONTROL; smbtorture oplock.brl1-3, lease.lock1).

use protocol::smb2::file::{EmptyResponse, LockFlags, LockRequest};
use protocol::smb2::negotiate::Capabilities;
use protocol::smb2::status::NtStatus;
use tokio::sync::oneshot;

use super::connection::{Conn, Handled, Out, Req, undecodable};
use super::durable_store::record_locks;
use super::events::Finish;
use super::oplocks::{NodeKey, OpenRef};
use super::state::{OpenKind, OpenLocks};
use crate::server::share::actor::LockMsg;
use crate::server::share::locks::{Io, LockError, LockOwner, LockRange, Locked};
use crate::server::share::{Node, ShareHandle};

/// The status of a failed lock or unlock.
fn lock_status(e: LockError) -> NtStatus {
    match e {
        LockError::Conflict => NtStatus::LOCK_NOT_GRANTED,
        LockError::InvalidRange => NtStatus::INVALID_LOCK_RANGE,
        LockError::RangeNotLocked | LockError::Cancelled => NtStatus::RANGE_NOT_LOCKED,
        LockError::NoLocks => NtStatus::INSUFFICIENT_RESOURCES,
    }
}

/// The status of a READ, WRITE or FSCTL refused by a lock.
pub(crate) fn io_status(e: LockError) -> NtStatus {
    match e {
        LockError::NoLocks => NtStatus::INSUFFICIENT_RESOURCES,
        _ => NtStatus::FILE_LOCK_CONFLICT,
    }
}

/// The flag combinations a lock element may carry ([MS-SMB2] 2.2.26.1).
fn lock_flags_valid(f: LockFlags) -> bool {
    let s = LockFlags::SHARED.0;
    let x = LockFlags::EXCLUSIVE.0;
    let i = LockFlags::FAIL_IMMEDIATELY.0;
    matches!(f.0, v if v == s || v == x || v == s | i || v == x | i)
}

impl Conn {
    /// The owner of open `id`'s byte-range locks.
    pub(crate) fn lock_owner(&self, id: u64) -> LockOwner {
        LockOwner::Smb {
            conn: self.id,
            session: self.opens.get(&id).map_or(0, |o| o.session),
            open: id,
        }
    }

    /// Whether open `id` may do `io` on `[offset, offset + length)` of `node`, against the
    /// other opens' byte-range locks (STATUS_FILE_LOCK_CONFLICT when not).
    pub(crate) async fn check_io(
        &self,
        share: &ShareHandle,
        id: u64,
        node: Node,
        io: Io,
        offset: u64,
        length: u64,
    ) -> Result<(), NtStatus> {
        share
            .check_io(node, &self.lock_owner(id), io, offset, length)
            .await
            .map_err(io_status)
    }

    /// LOCK ([MS-SMB2] 3.3.5.14).
    pub(crate) async fn lock(&mut self, req: Req<'_>) -> Handled {
        let r = LockRequest::decode(req.msg).map_err(undecodable)?;
        let id = self.open_of(&req, r.file_id)?;
        let open = self.opens.get(&id).ok_or(NtStatus::FILE_CLOSED)?;
        let node = match &open.kind {
            OpenKind::Node { is_dir: true, .. } => return Err(NtStatus::INVALID_PARAMETER),
            OpenKind::Node { node, .. } => *node,
            OpenKind::Pipe { .. } => return Err(NtStatus::INVALID_DEVICE_REQUEST),
        };
        let (share, _) = self.share_of(open)?;
        // A durable open whose share records its locks: every change is recorded before it
        // is answered (super::durable_store::record_locks).
        let recorded = (open.durable.is_some() && share.keeps_durable()).then_some(open.persistent);
        // Lock sequence replay ([MS-SMB2] 3.3.5.14): a repeated number is a replay of a
        // request that already succeeded; otherwise the entry is invalid until this one
        // succeeds.
        let neg = self.neg.as_ref().ok_or(NtStatus::INVALID_PARAMETER)?;
        let multichannel = neg.is_smb3()
            && Capabilities(neg.server_capabilities).contains(Capabilities::MULTI_CHANNEL);
        let checked = neg.dialect != 0x0202 && (open.locks.resilient || multichannel);
        let index = r.sequence_index() as usize;
        let slot = (checked && (1..=64).contains(&index)).then(|| index - 1);
        let number = r.sequence_number();
        if let Some(i) = slot {
            if open.locks.sequence[i] == number {
                tracing::debug!(index, number, "LOCK replay; answered without running it");
                return Ok(lock_ok());
            }
            if let Some(o) = self.opens.get_mut(&id) {
                o.locks.sequence[i] = OpenLocks::INVALID;
            }
        }
        let owner = self.lock_owner(id);
        let first = r.locks[0].flags;
        let out = if first == LockFlags::UNLOCK {
            // Unlocks in turn; an element that is not a plain UNLOCK stops them with
            // INVALID_PARAMETER after the ones before it.
            let valid = r
                .locks
                .iter()
                .take_while(|e| e.flags == LockFlags::UNLOCK)
                .count();
            let ranges = r.locks[..valid]
                .iter()
                .map(|e| (e.offset, e.length))
                .collect();
            let (unlocked, result) = share.unlock(node, owner.clone(), ranges).await;
            if unlocked > 0
                && let Some(persistent) = recorded
            {
                record_locks(&share, node, owner, persistent).await;
            }
            result.map_err(lock_status)?;
            if valid < r.locks.len() {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            lock_ok()
        } else {
            if !lock_flags_valid(first) {
                return Err(NtStatus::INVALID_PARAMETER);
            }
            let many = r.locks.len() > 1;
            for e in &r.locks {
                if !lock_flags_valid(e.flags)
                    || many && !e.flags.contains(LockFlags::FAIL_IMMEDIATELY)
                {
                    return Err(NtStatus::INVALID_PARAMETER);
                }
            }
            let ranges: Vec<LockRange> = r
                .locks
                .iter()
                .map(|e| LockRange {
                    offset: e.offset,
                    length: e.length,
                    exclusive: e.flags.contains(LockFlags::EXCLUSIVE),
                })
                .collect();
            let wait = !many && !first.contains(LockFlags::FAIL_IMMEDIATELY);
            if let Some(o) = self.opens.get_mut(&id) {
                o.locks.used = true;
            }
            self.lock_breaks(&share, id, node);
            match share.lock(node, owner.clone(), ranges.clone(), wait).await {
                Ok(Locked::Granted) => {
                    if let Some(persistent) = recorded {
                        record_locks(&share, node, owner, persistent).await;
                    }
                    lock_ok()
                }
                Ok(Locked::Queued { id: waiter, rx }) => {
                    tracing::debug!(waiter, "LOCK waits for a conflicting lock");
                    let pending = PendingLock {
                        share,
                        node,
                        owner,
                        range: ranges[0],
                        waiter,
                        rx: Some(rx),
                        recorded,
                    };
                    return Ok(Out::pending(pending.wait()));
                }
                Err(e) => return Err(lock_status(e)),
            }
        };
        if let Some(i) = slot
            && let Some(o) = self.opens.get_mut(&id)
        {
            o.locks.sequence[i] = number;
        }
        Ok(out)
    }

    /// A lock is taken on `node` through open `id`: level II oplocks and other opens' read
    /// leases break to none.
    fn lock_breaks(&self, share: &ShareHandle, id: u64, node: Node) {
        let mut breaks = Vec::new();
        self.server.opens.locked(
            NodeKey::new(share.id(), node),
            self.server.env.now(),
            OpenRef {
                conn: self.id,
                file: id,
            },
            &mut breaks,
        );
        self.send_breaks(breaks);
    }

    /// Releases open `id`'s locks and waiting lock requests (it is closing), if it has any.
    pub(crate) async fn release_locks(&self, share: &ShareHandle, id: u64, locks: &OpenLocks) {
        if locks.used {
            share
                .release_locks(crate::server::share::locks::Scope::Open {
                    conn: self.id,
                    open: id,
                })
                .await;
        }
    }

    /// FSCTL_LMR_REQUEST_RESILIENCY ([MS-SMB2] 3.3.5.15.9): the open becomes resilient: its
    /// LOCK sequence numbers are checked. Resilient opens are not kept across a disconnect
    /// (durable ones are, super::durable).
    pub(crate) fn request_resiliency(&mut self, id: u64, input: &[u8]) -> Result<(), NtStatus> {
        if self.neg.as_ref().is_none_or(|n| n.dialect == 0x0202) {
            return Err(NtStatus::INVALID_DEVICE_REQUEST);
        }
        let timeout = input
            .get(..4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .filter(|_| input.len() >= 8)
            .ok_or(NtStatus::INVALID_PARAMETER)?;
        // Windows' MaxResiliencyTimeout: 5 minutes.
        if timeout > 300_000 {
            return Err(NtStatus::INVALID_PARAMETER);
        }
        let open = self.opens.get_mut(&id).ok_or(NtStatus::FILE_CLOSED)?;
        if !matches!(open.kind, OpenKind::Node { .. }) {
            return Err(NtStatus::INVALID_DEVICE_REQUEST);
        }
        open.locks.resilient = true;
        Ok(())
    }
}

/// The LOCK response.
fn lock_ok() -> Out {
    let mut w = Out::writer();
    EmptyResponse.encode(&mut w);
    Out::ok(w)
}

/// A blocking lock waiting in the share's queue. Dropped before its answer (CANCEL, the
/// connection's end, a compound that cannot wait), it takes its request back: the waiter
/// is cancelled, or a grant that raced with the drop is unlocked.
struct PendingLock {
    share: ShareHandle,
    node: Node,
    owner: LockOwner,
    range: LockRange,
    waiter: u64,
    rx: Option<oneshot::Receiver<Result<(), LockError>>>,
    /// The persistent id of the durable open asking, when its share records its locks: a
    /// grant is recorded before it is answered.
    recorded: Option<u64>,
}

impl PendingLock {
    async fn wait(mut self) -> Finish {
        let result = match self.rx.as_mut() {
            Some(rx) => rx.await.unwrap_or(Err(LockError::Cancelled)),
            None => Err(LockError::Cancelled),
        };
        self.rx = None;
        if result.is_ok()
            && let Some(persistent) = self.recorded
        {
            record_locks(&self.share, self.node, self.owner.clone(), persistent).await;
        }
        Finish::Done(match result {
            Ok(()) => lock_ok(),
            Err(e) => Out::error(lock_status(e)),
        })
    }
}

impl Drop for PendingLock {
    fn drop(&mut self) {
        let Some(mut rx) = self.rx.take() else {
            return;
        };
        match rx.try_recv() {
            Ok(Ok(())) => {
                let (reply, _) = oneshot::channel();
                self.share.post_lock_msg(LockMsg::Unlock {
                    node: self.node,
                    owner: self.owner.clone(),
                    ranges: vec![(self.range.offset, self.range.length)],
                    reply,
                });
            }
            Ok(Err(_)) | Err(oneshot::error::TryRecvError::Closed) => {}
            Err(oneshot::error::TryRecvError::Empty) => {
                drop(rx);
                self.share.post_lock_msg(LockMsg::Cancel {
                    node: self.node,
                    id: self.waiter,
                });
            }
        }
    }
}
