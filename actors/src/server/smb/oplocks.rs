//! The server-wide table of SMB opens: share modes across connections, oplocks and leases
//! ([MS-SMB2] 3.3.1.10 – 3.3.1.12, 3.3.4.6, 3.3.4.7, 3.3.5.9, 3.3.5.22).
//!
//! Every open of a file or directory on a disk share registers here (connection, FileId,
//! access, share access, the oplock or lease it holds). A CREATE asks [`OpenTable::admit`]
//! whether it may open a node: the answer is a grant (the oplock level or lease state to hand
//! out), a sharing violation, or "wait": other opens hold caching that must be broken first.
//! The breaks are returned to the caller, which posts them to the holders' connections
//! ([`super::events::ConnEvent::Break`]) and answers STATUS_PENDING; the CREATE runs again when
//! the table changes (an acknowledgement, a close) or the break times out
//! ([`OpenTable::break_timeout`]; the holder is then taken to the level it was broken to, as
//! [MS-SMB2] 3.3.2.1 says).
//!
//! This is plain state behind one `std::sync::Mutex`: every critical section is a lookup or
//! an update of one node's entries, never awaits and never sends (the caller sends what the
//! table returns, after the lock is released).
//!
//! Bounds: one entry per open, and a connection holds at most [`super::state::OPENS_MAX`]
//! opens, so the table holds at most `OPENS_MAX × max_connections` entries; a lease exists
//! only while an open holds it, so there are never more leases than entries.

use std::collections::{HashMap, HashSet};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocol::smb2::create::{LeaseState, OplockLevel};
use protocol::smb2::status::NtStatus;
use tokio::sync::Notify;
use tokio::sync::futures::OwnedNotified;
use tokio::time::Instant;

use super::attrs::{access, share_conflict};
use crate::server::share::foreign::Recall;
use crate::server::share::{Node, ShareId};

/// How long a holder has to acknowledge a break (Windows: 35 s, [MS-SMB2] 3.3.2.1).
pub(crate) const BREAK_TIMEOUT: Duration = Duration::from_secs(35);

const R: u32 = LeaseState::READ_CACHING.0;
const H: u32 = LeaseState::HANDLE_CACHING.0;
const W: u32 = LeaseState::WRITE_CACHING.0;

/// A node on a share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct NodeKey {
    /// The share.
    pub(crate) share: ShareId,
    /// The inode and its generation.
    pub(crate) ino: u64,
    /// The generation.
    pub(crate) generation: u64,
    /// Which data stream: 0 for the node's own data, else the key of a named stream
    /// (super::streams::key). Each stream is a file of its own for share modes, oplocks and
    /// leases ([MS-FSA] 2.1.5.1.2: the checks run over the stream's opens).
    pub(crate) stream: u64,
}

impl NodeKey {
    /// The key of `node`'s own data on `share`.
    pub(crate) fn new(share: ShareId, node: Node) -> Self {
        Self {
            share,
            ino: node.ino.0,
            generation: node.generation.0,
            stream: 0,
        }
    }

    /// The key of `node`'s data stream `stream` (`None`: its own data) on `share`.
    pub(crate) fn of(share: ShareId, node: Node, stream: Option<&str>) -> Self {
        Self {
            stream: stream.map_or(0, super::streams::key),
            ..Self::new(share, node)
        }
    }
}

/// An open: its connection and its FileId (volatile part).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct OpenRef {
    /// The connection.
    pub(crate) conn: u64,
    /// The FileId.
    pub(crate) file: u64,
}

/// A lease's identity: the client's GUID and the lease key ([MS-SMB2] 3.3.1.12: leases live
/// in a per-client table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct LeaseId {
    /// ClientGuid of the connection that asked for it.
    pub(crate) client: [u8; 16],
    /// LeaseKey.
    pub(crate) key: [u8; 16],
}

/// What an open caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Caching {
    /// An oplock (possibly NONE).
    Oplock(OplockLevel),
    /// A lease, shared by every open with the same [`LeaseId`].
    Lease(LeaseId),
}

#[derive(Debug)]
struct Entry {
    open: OpenRef,
    access: u32,
    share_access: u32,
    caching: Caching,
    /// An oplock break sent and not acknowledged: the level it breaks to, and until when.
    breaking: Option<(OplockLevel, Instant)>,
    /// The open set the file's delete disposition (SET_INFO FileDispositionInformation): the
    /// file is delete-pending while it stays set ([MS-FSA] 2.1.5.14.3).
    delete_pending: bool,
}

impl Entry {
    /// Opens with only attribute or synchronize access ("stat opens") neither break
    /// oplocks nor keep exclusive ones from being granted.
    fn is_stat(&self) -> bool {
        is_stat(self.access)
    }
}

fn is_stat(acc: u32) -> bool {
    acc & !(access::FILE_READ_ATTRIBUTES | access::FILE_WRITE_ATTRIBUTES | access::SYNCHRONIZE) == 0
}

/// For leases, reading the security descriptor is an attribute-only open too: it breaks no
/// lease (smbtorture lease.statopen4; Windows and Samba alike), though it breaks oplocks.
fn is_lease_stat(acc: u32) -> bool {
    is_stat(acc & !access::READ_CONTROL)
}

#[derive(Debug)]
struct Lease {
    node: NodeKey,
    state: u32,
    epoch: u16,
    v2: bool,
    /// A lease break sent and not acknowledged: the state it asks for (the notification's
    /// NewLeaseState), and until when.
    breaking: Option<(u32, Instant)>,
    /// While breaking: the state the opens waiting on this lease need it at. Opens arriving
    /// during a break only lower it (no second notification); when the acknowledged state is
    /// still above it, the lease breaks again, in steps as Windows does: first to R plus
    /// this, then to this ([`OpenTable::ack_lease`]).
    required: u32,
    /// A directory lease (R or RH; [`OpenTable::dir_changed`] breaks it).
    dir: bool,
}

/// A lease an open holds, as [`OpenTable::caching_of`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeldLease {
    /// Its identity.
    pub(crate) id: LeaseId,
    /// Its state (R, W, H bits).
    pub(crate) state: u32,
    /// Its epoch (v2).
    pub(crate) epoch: u16,
    /// A v2 lease.
    pub(crate) v2: bool,
}

/// A break to deliver to a holder's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Break {
    /// An oplock break notification ([MS-SMB2] 2.2.23.1) for one open.
    Oplock {
        /// The open.
        open: OpenRef,
        /// The level it is broken to.
        level: OplockLevel,
    },
    /// A lease break notification ([MS-SMB2] 2.2.23.2), sent to the connection of one of the
    /// lease's opens.
    Lease {
        /// An open holding the lease (its connection gets the notification; its session
        /// encrypts it when required).
        open: OpenRef,
        /// The lease key.
        key: [u8; 16],
        /// The state before the break.
        current: u32,
        /// The state broken to.
        new: u32,
        /// The new epoch (v2 leases; 0 for v1).
        epoch: u16,
        /// The holder must acknowledge.
        ack: bool,
    },
}

impl Break {
    /// The open this break is for.
    pub(crate) fn open(&self) -> OpenRef {
        match self {
            Self::Oplock { open, .. } | Self::Lease { open, .. } => *open,
        }
    }

    /// The connection that must deliver this break.
    pub(crate) fn conn(&self) -> u64 {
        match self {
            Self::Oplock { open, .. } | Self::Lease { open, .. } => open.conn,
        }
    }
}

/// What a CREATE asks of the table.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Request {
    /// The open to be.
    pub(crate) open: OpenRef,
    /// Granted access.
    pub(crate) access: u32,
    /// Share access.
    pub(crate) share_access: u32,
    /// RequestedOplockLevel.
    pub(crate) oplock: OplockLevel,
    /// The lease asked for (SMB 2.1+): its id, the state wanted, v2 and the client's epoch.
    pub(crate) lease: Option<(LeaseId, u32, bool, u16)>,
    /// The open overwrites or supersedes the data.
    pub(crate) overwrite: bool,
    /// The node is a directory: no oplocks, and a lease only in the v2 form (SMB 3.x with
    /// SMB2_GLOBAL_CAP_DIRECTORY_LEASING), at most RH.
    pub(crate) is_dir: bool,
    /// The CREATE's first try, not a retry after a wait: a first try does not wait for a
    /// lease break already under way unless it needs what that break takes away.
    pub(crate) first: bool,
}

/// What an open is granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Grant {
    /// The oplock level to answer (LEASE when a lease is answered).
    pub(crate) oplock: OplockLevel,
    /// The lease answered: state, epoch, whether a break is in progress, and whether it is a
    /// v2 lease (the answer takes the lease's form, whatever form the request had:
    /// smbtorture lease.v2_epoch2, v2_epoch3).
    pub(crate) lease: Option<(u32, u16, bool, bool)>,
}

/// The table's answer to a CREATE.
#[derive(Debug)]
pub(crate) enum Admit {
    /// The open may proceed, and is registered ([`OpenTable::remove`] it if it fails).
    Granted(Grant),
    /// Share modes conflict.
    SharingViolation,
    /// Breaks are outstanding: wait for the table to change or `until`, then try again.
    Wait {
        /// When the earliest outstanding break times out.
        until: Instant,
        /// Fires when the table changes.
        changed: Changed,
    },
    /// The request is invalid (a lease key already used for another file).
    Invalid(NtStatus),
}

#[derive(Debug, Default)]
struct Inner {
    nodes: HashMap<NodeKey, Vec<Entry>>,
    where_is: HashMap<OpenRef, NodeKey>,
    leases: HashMap<LeaseId, Lease>,
    /// The opens of named streams by the key of their node's own data, with their access
    /// and share access: an open of the node's data asking for DELETE must respect them too.
    stream_opens: HashMap<NodeKey, Vec<(OpenRef, u32, u32)>>,
    /// Nodes whose delete-on-close open closed while other opens remained: delete-pending,
    /// deleted when the last open closes ([MS-FSA] 2.1.5.4). A node is here only while it
    /// has entries, so this is bounded like `nodes`.
    doomed: HashSet<NodeKey>,
    /// The leases of each leased directory (share, inode): a change to a directory costs a
    /// lookup here, and breaking its leases touches only them ([`OpenTable::dir_changed`]).
    /// Bounded like `leases`.
    dir_leases: HashMap<(ShareId, u64), Vec<LeaseId>>,
}

impl NodeKey {
    /// The key of the node's own data (for any stream of it).
    fn base(self) -> Self {
        Self { stream: 0, ..self }
    }
}

impl Inner {
    /// Adds lease `id`, counting it when it is a directory's.
    fn add_lease(&mut self, id: LeaseId, lease: Lease) {
        if lease.dir {
            self.dir_leases
                .entry((lease.node.share, lease.node.ino))
                .or_default()
                .push(id);
        }
        self.leases.insert(id, lease);
    }

    /// Drops lease `id` (its last open closed).
    fn drop_lease(&mut self, id: LeaseId) {
        let Some(l) = self.leases.remove(&id) else {
            return;
        };
        if l.dir {
            let at = (l.node.share, l.node.ino);
            if let Some(ids) = self.dir_leases.get_mut(&at) {
                ids.retain(|i| *i != id);
                if ids.is_empty() {
                    self.dir_leases.remove(&at);
                }
            }
        }
    }

    /// Whether `key` is delete-pending: new opens fail with STATUS_DELETE_PENDING.
    fn delete_pending(&self, key: NodeKey) -> bool {
        self.doomed.contains(&key)
            || self
                .nodes
                .get(&key)
                .is_some_and(|v| v.iter().any(|e| e.delete_pending))
    }
}

/// The server-wide open table.
/// A wait for the next change of the open table, registered when made.
///
/// Not a `tokio::sync::watch`: its receivers wait on one of eight lists picked with tokio's
/// thread RNG, which nothing seeds, so two CREATEs waiting on the same break woke in an order
/// that differed between two runs of one simulator seed (sim `locks` 0x0). `Notify` wakes its
/// waiters from one list, in an order fixed by when they registered.
pub(crate) struct Changed(Pin<Box<OwnedNotified>>);

impl Changed {
    fn new(notify: &Arc<Notify>) -> Self {
        let mut n = Box::pin(notify.clone().notified_owned());
        // Registered now (under the table's lock), not at the first poll: a change made
        // before that poll still wakes it.
        n.as_mut().enable();
        Self(n)
    }

    /// Completes when the table changed after this wait was made.
    pub(crate) async fn changed(&mut self) {
        self.0.as_mut().await;
    }
}

impl std::fmt::Debug for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Changed")
    }
}

#[derive(Debug)]
pub(crate) struct OpenTable {
    inner: Mutex<Inner>,
    changed: Arc<Notify>,
    /// How long a break waits for its acknowledgement.
    pub(crate) break_timeout: Duration,
}

impl Default for OpenTable {
    fn default() -> Self {
        Self::new(BREAK_TIMEOUT)
    }
}

impl OpenTable {
    /// An empty table whose breaks time out after `break_timeout`.
    pub(crate) fn new(break_timeout: Duration) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            changed: Arc::new(Notify::new()),
            break_timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every critical section leaves the maps consistent before anything can panic.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The `Wait` answer: the waiter is registered while `g` still holds the lock, so no
    /// acknowledgement between here and the waiter's first poll is missed.
    fn wait(&self, g: std::sync::MutexGuard<'_, Inner>, changed: bool, until: Instant) -> Admit {
        if changed {
            self.bump();
        }
        let rx = Changed::new(&self.changed);
        drop(g);
        Admit::Wait { until, changed: rx }
    }

    /// Whether `key` has an open in the table.
    pub(crate) fn has(&self, key: NodeKey) -> bool {
        self.lock().nodes.contains_key(&key)
    }

    /// Whether any open of `share` is in the table.
    pub(crate) fn any_on(&self, share: ShareId) -> bool {
        self.lock().nodes.keys().any(|k| k.share == share)
    }

    fn bump(&self) {
        self.changed.notify_waiters();
    }

    /// A wait for the table's next change, registered now.
    pub(crate) fn watch(&self) -> Changed {
        Changed::new(&self.changed)
    }

    /// What the opens of `key` cache, as lease state bits (R, W, H): the union of their
    /// leases' states and their oplocks (batch: RWH, exclusive: RW, level II: R). A break
    /// not yet acknowledged still counts what it takes away: the holder has it until then.
    pub(crate) fn held(&self, key: NodeKey) -> u32 {
        let g = self.lock();
        g.nodes.get(&key).map_or(0, |v| {
            v.iter().fold(0, |bits, e| {
                bits | match e.caching {
                    Caching::Oplock(OplockLevel::BATCH) => R | W | H,
                    Caching::Oplock(OplockLevel::EXCLUSIVE) => R | W,
                    Caching::Oplock(OplockLevel::II) => R,
                    Caching::Oplock(_) => 0,
                    Caching::Lease(id) => g.leases.get(&id).map_or(0, |l| l.state),
                }
            })
        })
    }

    /// The access and share access of each open of `key`, for the share modes the other
    /// gateways see ([`super::gateways::mode_bits`]).
    pub(crate) fn modes_of(&self, key: NodeKey) -> Vec<(OpenRef, u32, u32)> {
        let g = self.lock();
        g.nodes.get(&key).map_or_else(Vec::new, |v| {
            v.iter()
                .map(|e| (e.open, e.access, e.share_access))
                .collect()
        })
    }

    /// The keys of the opens of inode `ino`'s own data on `share` (any generation). A scan
    /// of the table: for recall requests from other gateways, not for every request.
    pub(crate) fn keys_of(&self, share: ShareId, ino: u64) -> Vec<NodeKey> {
        let g = self.lock();
        g.nodes
            .keys()
            .filter(|k| k.share == share && k.ino == ino && k.stream == 0)
            .copied()
            .collect()
    }

    /// The keys of every open of a node's own data in the table (after a restart restored
    /// durable opens).
    pub(crate) fn keys(&self) -> Vec<NodeKey> {
        let g = self.lock();
        g.nodes.keys().filter(|k| k.stream == 0).copied().collect()
    }

    /// Whether a CREATE may open `key` now; breaks to send are appended to `breaks` (also
    /// when the answer is not `Wait`: level II breaks need no acknowledgement).
    pub(crate) fn admit(
        &self,
        key: NodeKey,
        req: &Request,
        now: Instant,
        breaks: &mut Vec<Break>,
    ) -> Admit {
        let timeout = self.break_timeout;
        let mut g = self.lock();
        let inner = &mut *g;
        let mut changed = expire(inner, key, now);
        let own_lease = req.lease.map(|(id, ..)| id);
        if let Some(id) = own_lease
            && let Some(l) = inner.leases.get(&id)
            && l.node != key
        {
            // [MS-SMB2] 3.3.5.9.8: a lease key names one file.
            return Admit::Invalid(NtStatus::INVALID_PARAMETER);
        }
        // [MS-FSA] 2.1.5.1.2: a delete-pending file cannot be opened, whatever other opens
        // hold; nothing is broken (smbtorture oplock.doc).
        if inner.delete_pending(key) {
            drop(g);
            if changed {
                self.bump();
            }
            return Admit::Invalid(NtStatus::DELETE_PENDING);
        }
        let mut waiting: Option<Instant> = None;
        // 1. Share modes. An open in the way fails the CREATE at once unless it may still
        //    let go: a batch oplock holder (broken first, it may close, [MS-FSA] 2.1.5.1.2)
        //    or another lease with handle caching (broken to drop it, [MS-SMB2] 3.3.4.7).
        //    An exclusive oplock is not broken for an open that would fail anyway.
        // 0. Deleting a file deletes its streams: an open of its own data asking for DELETE
        //    is refused while a stream open does not share delete ([MS-FSA] 2.1.5.1.2).
        if key.stream == 0
            && req.access & access::DELETE != 0
            && inner.stream_opens.get(&key).is_some_and(|v| {
                v.iter()
                    .any(|&(_, acc, share)| share_conflict(acc, share, access::DELETE, 0x7))
            })
        {
            drop(g);
            if changed {
                self.bump();
            }
            return Admit::SharingViolation;
        }
        // Share modes are in the way of an open that may still yield.
        let mut violation = false;
        if let Some(entries) = inner.nodes.get(&key) {
            for e in entries {
                if !share_conflict(e.access, e.share_access, req.access, req.share_access) {
                    continue;
                }
                let may_yield = match e.caching {
                    Caching::Oplock(l) => l == OplockLevel::BATCH,
                    Caching::Lease(id) if Some(id) != own_lease => {
                        inner.leases.get(&id).is_some_and(|l| {
                            l.state & H != 0 || l.breaking.is_some_and(|(to, _)| to & H != 0)
                        })
                    }
                    Caching::Lease(_) => false,
                };
                if !may_yield {
                    drop(g);
                    if changed {
                        self.bump();
                    }
                    return Admit::SharingViolation;
                }
                violation = true;
            }
        }
        let delay_mask = if violation { H } else { W };
        // 2. Caching that conflicts with the new open: batch and exclusive oplocks break to
        //    level II (none when the new open overwrites), write caching of other leases
        //    goes (read caching too on overwrite), handle caching of leases in the way goes.
        //    Opens that only read or write attributes break nothing unless they overwrite.
        let breaks_oplocks = !is_stat(req.access) || req.overwrite;
        let breaks_leases = !is_lease_stat(req.access) || req.overwrite;
        if let Some(entries) = inner.nodes.get_mut(&key)
            && (breaks_oplocks || breaks_leases)
        {
            for e in entries.iter_mut() {
                match e.caching {
                    Caching::Oplock(_) if !breaks_oplocks => {}
                    Caching::Lease(_) if !breaks_leases => {}
                    Caching::Oplock(level) => {
                        if let Some((_, until)) = e.breaking {
                            note_wait(until, &mut waiting);
                            continue;
                        }
                        if level == OplockLevel::BATCH || level == OplockLevel::EXCLUSIVE {
                            let to = if req.overwrite {
                                OplockLevel::NONE
                            } else {
                                OplockLevel::II
                            };
                            let until = now + timeout;
                            e.breaking = Some((to, until));
                            breaks.push(Break::Oplock {
                                open: e.open,
                                level: to,
                            });
                            note_wait(until, &mut waiting);
                        } else if level == OplockLevel::II && req.overwrite {
                            e.caching = Caching::Oplock(OplockLevel::NONE);
                            breaks.push(Break::Oplock {
                                open: e.open,
                                level: OplockLevel::NONE,
                            });
                            changed = true;
                        }
                    }
                    Caching::Lease(id) => {
                        if Some(id) == own_lease {
                            continue;
                        }
                        let Some(l) = inner.leases.get_mut(&id) else {
                            continue;
                        };
                        let current = l.state;
                        let was_breaking = l.breaking.map(|(_, until)| until);
                        // What the new open leaves the lease, as Windows decides it
                        // (smbtorture lease.breaking1-4, lease.sharing_violation): when share
                        // modes are in the way only handle caching goes (the holder may close
                        // its cached handles, [MS-FSA] 2.1.5.1.2; the open then fails unless
                        // it does), overwrite or not; else an overwrite leaves nothing and
                        // any other open takes write caching.
                        let to = if violation {
                            current & !H
                        } else if req.overwrite {
                            0
                        } else {
                            current & !W
                        };
                        if current & !to == 0 {
                            // Nothing to take; a break under way still settles first.
                            if let Some(until) = was_breaking {
                                note_wait(until, &mut waiting);
                            }
                            continue;
                        }
                        let until = if let Some(until) = was_breaking {
                            // A break is under way: no second notification; what it must
                            // reach only goes lower, and the acknowledgement breaks on.
                            l.required &= to;
                            until
                        } else {
                            let until = now + timeout;
                            if let Some(b) = lease_break(l, id.key, e.open, to, until, true) {
                                if !matches!(b, Break::Lease { ack: true, .. }) {
                                    changed = true;
                                }
                                breaks.push(b);
                            }
                            until
                        };
                        // The open waits while the lease holds what it cannot open beside
                        // (write caching; handle caching when share modes are in the way),
                        // and on a retry for a break already under way; a first try that
                        // needs nothing else of the lease goes ahead (lease.breaking4).
                        if current & delay_mask != 0 || (was_breaking.is_some() && !req.first) {
                            note_wait(until, &mut waiting);
                        }
                    }
                }
            }
        }
        if let Some(until) = waiting {
            return self.wait(g, changed, until);
        }
        // 3. The grant.
        // Alone: no other open but attribute-only ones that cache nothing.
        let alone = !inner.nodes.get(&key).is_some_and(|v| {
            v.iter().any(|e| {
                Some(e.caching) != own_lease.map(Caching::Lease)
                    && !(e.is_stat() && e.caching == Caching::Oplock(OplockLevel::NONE))
            })
        });
        // A directory is leased only in the v2 form ([MS-SMB2] 3.3.5.9.11; Windows and Samba
        // ignore a v1 request on a directory): at most RH, never W (smbtorture
        // dirlease.leases asks RWH and is given RH, RW and is given R).
        let dir_lease = req.is_dir && req.lease.is_some_and(|(_, _, v2, _)| v2);
        let grant = if req.is_dir && !dir_lease {
            Grant {
                oplock: OplockLevel::NONE,
                lease: None,
            }
        } else if let Some((id, wanted, v2, epoch)) = req.lease {
            let wanted = wanted & if req.is_dir { R | H } else { R | W | H };
            // Write or handle caching without read caching is not a lease Windows grants.
            let wanted = if wanted & R == 0 { 0 } else { wanted };
            // Beside an oplock (of a client that does not speak leases) handle caching is
            // not granted either (smbtorture lease.oplock).
            let oplocks_beside = inner.nodes.get(&key).is_some_and(|v| {
                v.iter()
                    .any(|e| matches!(e.caching, Caching::Oplock(l) if l != OplockLevel::NONE))
            });
            let allowed = if req.is_dir {
                R | H
            } else if alone {
                R | W | H
            } else if oplocks_beside {
                R
            } else {
                R | H
            };
            match inner.leases.get_mut(&id) {
                Some(l) => {
                    // An upgrade happens only to a strict superset that can be held beside
                    // the other opens, whole or not at all (smbtorture lease.upgrade2/3).
                    if l.breaking.is_none()
                        && wanted & l.state == l.state
                        && wanted != l.state
                        && wanted & !allowed == 0
                    {
                        l.state = wanted;
                        if l.v2 {
                            l.epoch = l.epoch.wrapping_add(1);
                        }
                    }
                    Grant {
                        oplock: OplockLevel::LEASE,
                        lease: Some((l.state, l.epoch, l.breaking.is_some(), l.v2)),
                    }
                }
                None => {
                    let state = wanted & allowed;
                    let epoch = if v2 { epoch.wrapping_add(1) } else { 0 };
                    inner.add_lease(
                        id,
                        Lease {
                            node: key,
                            state,
                            epoch,
                            v2,
                            breaking: None,
                            required: 0,
                            dir: req.is_dir,
                        },
                    );
                    Grant {
                        oplock: OplockLevel::LEASE,
                        lease: Some((state, epoch, false, v2)),
                    }
                }
            }
        } else {
            let shared = inner.nodes.get(&key).is_some_and(|v| !v.is_empty());
            // Beside a lease with handle caching an oplock is not granted at all (smbtorture
            // lease.oplock; Windows and Samba alike).
            let handle_lease = inner.nodes.get(&key).is_some_and(|v| {
                v.iter().any(|e| match e.caching {
                    Caching::Lease(id) => inner.leases.get(&id).is_some_and(|l| l.state & H != 0),
                    Caching::Oplock(_) => false,
                })
            });
            let level = match req.oplock {
                _ if handle_lease => OplockLevel::NONE,
                // An attribute-only open beside others gets none ([MS-FSA] 2.1.5.17).
                _ if is_stat(req.access) && shared && !req.overwrite => OplockLevel::NONE,
                OplockLevel::BATCH | OplockLevel::EXCLUSIVE if alone => req.oplock,
                OplockLevel::BATCH | OplockLevel::EXCLUSIVE | OplockLevel::II => OplockLevel::II,
                _ => OplockLevel::NONE,
            };
            Grant {
                oplock: level,
                lease: None,
            }
        };
        // The open is registered at once, so a CREATE on another connection sees it even
        // before this one answers; the caller removes it if the open fails after all.
        let caching = match (req.lease, grant.lease) {
            (Some((id, ..)), Some(_)) => Caching::Lease(id),
            _ => Caching::Oplock(grant.oplock),
        };
        inner.where_is.insert(req.open, key);
        if key.stream != 0 {
            inner.stream_opens.entry(key.base()).or_default().push((
                req.open,
                req.access,
                req.share_access,
            ));
        }
        inner.nodes.entry(key).or_default().push(Entry {
            open: req.open,
            access: req.access,
            share_access: req.share_access,
            caching,
            breaking: None,
            delete_pending: false,
        });
        drop(g);
        if changed {
            self.bump();
        }
        Admit::Granted(grant)
    }

    /// Puts back durable open `open` of `key` as a restart found it recorded
    /// ([`super::durable_store::restore`]): its share access, and its oplock or its lease
    /// (restored once for every open sharing it), with no break under way.
    pub(crate) fn restore(
        &self,
        key: NodeKey,
        open: OpenRef,
        access: u32,
        share_access: u32,
        oplock: OplockLevel,
        lease: Option<HeldLease>,
    ) {
        let mut g = self.lock();
        let caching = match lease {
            Some(l) => {
                if !g.leases.contains_key(&l.id) {
                    g.add_lease(
                        l.id,
                        Lease {
                            node: key,
                            state: l.state,
                            epoch: l.epoch,
                            v2: l.v2,
                            breaking: None,
                            required: 0,
                            // Durable opens are of files only.
                            dir: false,
                        },
                    );
                }
                Caching::Lease(l.id)
            }
            None => Caching::Oplock(oplock),
        };
        g.where_is.insert(open, key);
        g.nodes.entry(key).or_default().push(Entry {
            open,
            access,
            share_access,
            caching,
            breaking: None,
            delete_pending: false,
        });
        drop(g);
        self.bump();
    }

    /// Forgets an open (closed, or its connection ended); waiting CREATEs look again.
    /// `delete_on_close`: the open deletes its file when it closes. Returns whether the file
    /// is to be deleted now: this was its last open and it was delete-on-close or
    /// delete-pending. When other opens remain, a delete-on-close open leaves the file
    /// delete-pending, and the last open to close deletes it ([MS-FSA] 2.1.5.4).
    pub(crate) fn remove(&self, open: OpenRef, delete_on_close: bool) -> bool {
        match self.take(open, delete_on_close) {
            Some(delete) => {
                self.bump();
                delete
            }
            // Never registered (a CREATE that failed or waits): nothing changes, nobody wakes.
            None => delete_on_close,
        }
    }

    /// [`Self::remove`] without waking the CREATEs that wait on the table: the caller calls
    /// [`Self::changed`] when it is done (after deleting the file, say).
    pub(crate) fn remove_quietly(&self, open: OpenRef, delete_on_close: bool) -> bool {
        self.take(open, delete_on_close).unwrap_or(delete_on_close)
    }

    /// Takes `open`'s entry out; `None` when it has none.
    fn take(&self, open: OpenRef, delete_on_close: bool) -> Option<bool> {
        let mut g = self.lock();
        let inner = &mut *g;
        let key = inner.where_is.remove(&open)?;
        if key.stream != 0
            && let Some(v) = inner.stream_opens.get_mut(&key.base())
        {
            v.retain(|(o, ..)| *o != open);
            if v.is_empty() {
                inner.stream_opens.remove(&key.base());
            }
        }
        let mut lease = None;
        let mut last = true;
        let mut unheld = None;
        if let Some(v) = inner.nodes.get_mut(&key) {
            if let Some(i) = v.iter().position(|e| e.open == open) {
                if let Caching::Lease(id) = v[i].caching {
                    lease = Some(id);
                }
                v.swap_remove(i);
            }
            if let Some(id) = lease
                && !v.iter().any(|e| e.caching == Caching::Lease(id))
            {
                unheld = Some(id);
            }
            last = v.is_empty();
            if last {
                inner.nodes.remove(&key);
            }
        }
        if let Some(id) = unheld {
            inner.drop_lease(id);
        }
        let delete = if last {
            inner.doomed.remove(&key) || delete_on_close
        } else {
            if delete_on_close {
                inner.doomed.insert(key);
            }
            false
        };
        drop(g);
        Some(delete)
    }

    /// Wakes the CREATEs waiting on the table (after [`Self::remove_quietly`]).
    pub(crate) fn changed(&self) {
        self.bump();
    }

    /// Sets or clears the delete disposition an open set on its file (SET_INFO
    /// FileDispositionInformation): while set, the file is delete-pending.
    pub(crate) fn set_delete_pending(&self, open: OpenRef, on: bool) {
        let mut g = self.lock();
        let inner = &mut *g;
        let Some(key) = inner.where_is.get(&open).copied() else {
            return;
        };
        if let Some(e) = inner
            .nodes
            .get_mut(&key)
            .and_then(|v| v.iter_mut().find(|e| e.open == open))
        {
            e.delete_pending = on;
        }
    }

    /// Open `open` now names `key` (its stream was renamed): its entry moves there, with its
    /// caching (a lease it holds follows it); waiting CREATEs look again.
    pub(crate) fn moved(&self, open: OpenRef, key: NodeKey) {
        let mut g = self.lock();
        let inner = &mut *g;
        let Some(old) = inner.where_is.get(&open).copied() else {
            return;
        };
        if old == key {
            return;
        }
        let Some(v) = inner.nodes.get_mut(&old) else {
            return;
        };
        let Some(i) = v.iter().position(|e| e.open == open) else {
            return;
        };
        let entry = v.swap_remove(i);
        if v.is_empty() {
            inner.nodes.remove(&old);
        }
        if let Caching::Lease(id) = entry.caching
            && let Some(l) = inner.leases.get_mut(&id)
        {
            l.node = key;
        }
        if old.stream != 0
            && let Some(v) = inner.stream_opens.get_mut(&old.base())
        {
            v.retain(|(o, ..)| *o != open);
            if v.is_empty() {
                inner.stream_opens.remove(&old.base());
            }
        }
        if key.stream != 0 {
            inner.stream_opens.entry(key.base()).or_default().push((
                open,
                entry.access,
                entry.share_access,
            ));
        }
        inner.where_is.insert(open, key);
        inner.nodes.entry(key).or_default().push(entry);
        drop(g);
        self.bump();
    }

    /// What open `open` caches, for durable handles ([MS-SMB2] 3.3.5.9.6): `None` when it is
    /// unknown or a break of it is in progress (a break cannot outlive its connection), else
    /// its oplock level and, for a lease, the lease's id, state, epoch and version.
    pub(crate) fn caching_of(&self, open: OpenRef) -> Option<(OplockLevel, Option<HeldLease>)> {
        let g = self.lock();
        let key = g.where_is.get(&open)?;
        let e = g.nodes.get(key)?.iter().find(|e| e.open == open)?;
        if e.breaking.is_some() {
            return None;
        }
        match e.caching {
            Caching::Oplock(l) => Some((l, None)),
            Caching::Lease(id) => {
                let l = g.leases.get(&id)?;
                if l.breaking.is_some() {
                    return None;
                }
                Some((
                    OplockLevel::LEASE,
                    Some(HeldLease {
                        id,
                        state: l.state,
                        epoch: l.epoch,
                        v2: l.v2,
                    }),
                ))
            }
        }
    }

    /// Open `from` is now `to` (a durable open reconnected on another connection, [MS-SMB2]
    /// 3.3.5.9.7): its entry, share modes, caching and delete disposition carry over.
    /// Returns false when `from` is not in the table.
    pub(crate) fn rekey(&self, from: OpenRef, to: OpenRef) -> bool {
        let mut g = self.lock();
        let inner = &mut *g;
        let Some(key) = inner.where_is.remove(&from) else {
            return false;
        };
        inner.where_is.insert(to, key);
        if let Some(e) = inner
            .nodes
            .get_mut(&key)
            .and_then(|v| v.iter_mut().find(|e| e.open == from))
        {
            e.open = to;
        }
        if let Some(v) = inner.stream_opens.get_mut(&key.base()) {
            for (o, ..) in v.iter_mut().filter(|(o, ..)| *o == from) {
                *o = to;
            }
        }
        true
    }

    /// The oplock level an open holds (NONE for leases and unknown opens).
    #[cfg(test)]
    pub(crate) fn oplock_of(&self, open: OpenRef) -> OplockLevel {
        let g = self.lock();
        g.where_is
            .get(&open)
            .and_then(|k| g.nodes.get(k))
            .and_then(|v| v.iter().find(|e| e.open == open))
            .map_or(OplockLevel::NONE, |e| match e.caching {
                Caching::Oplock(l) => l,
                Caching::Lease(_) => OplockLevel::NONE,
            })
    }

    /// An oplock break acknowledgement ([MS-SMB2] 3.3.5.22.1): the level the open now holds,
    /// or the status to answer.
    pub(crate) fn ack_oplock(
        &self,
        open: OpenRef,
        level: OplockLevel,
    ) -> Result<OplockLevel, NtStatus> {
        let mut g = self.lock();
        let inner = &mut *g;
        let key = *inner.where_is.get(&open).ok_or(NtStatus::FILE_CLOSED)?;
        let e = inner
            .nodes
            .get_mut(&key)
            .and_then(|v| v.iter_mut().find(|e| e.open == open))
            .ok_or(NtStatus::FILE_CLOSED)?;
        let (Caching::Oplock(_), Some((to, _))) = (e.caching, e.breaking) else {
            // No break in progress on this open: Windows and Samba answer
            // INVALID_OPLOCK_PROTOCOL (smbtorture oplock.levelii500), where 3.3.5.22.1 says
            // INVALID_DEVICE_STATE.
            return Err(NtStatus::INVALID_OPLOCK_PROTOCOL);
        };
        e.breaking = None;
        // A wrong level ends the break with no oplock left: LEASE is a parameter error;
        // anything but NONE or II, or II when the break was to NONE, breaks the protocol.
        let result = if level == OplockLevel::LEASE {
            Err(NtStatus::INVALID_PARAMETER)
        } else if (level != OplockLevel::NONE && level != OplockLevel::II)
            || (to == OplockLevel::NONE && level == OplockLevel::II)
        {
            Err(NtStatus::INVALID_OPLOCK_PROTOCOL)
        } else {
            Ok(level)
        };
        e.caching = Caching::Oplock(*result.as_ref().unwrap_or(&OplockLevel::NONE));
        drop(g);
        self.bump();
        result
    }

    /// A lease break acknowledgement ([MS-SMB2] 3.3.5.22.2): `Ok` when taken, else the status.
    /// When an open that arrived during the break needs the lease lower than acknowledged,
    /// the lease breaks again at once (appended to `breaks`), in steps as Windows does: from
    /// a state with write or handle caching to R plus what is needed (acknowledged again),
    /// then from R to what is needed (smbtorture lease.breaking3, v2_breaking3).
    pub(crate) fn ack_lease(
        &self,
        id: LeaseId,
        state: u32,
        now: Instant,
        breaks: &mut Vec<Break>,
    ) -> Result<(), NtStatus> {
        let timeout = self.break_timeout;
        let mut g = self.lock();
        let inner = &mut *g;
        let Some(l) = inner.leases.get_mut(&id) else {
            return Err(NtStatus::OBJECT_NAME_NOT_FOUND);
        };
        let Some((to, _)) = l.breaking else {
            return Err(NtStatus::UNSUCCESSFUL);
        };
        if state & !to != 0 {
            return Err(NtStatus::REQUEST_NOT_ACCEPTED);
        }
        l.state = state;
        l.breaking = None;
        if state & !l.required != 0 {
            let mut next = l.required;
            if state & (W | H) != 0 {
                next |= R;
            }
            let holder = inner.nodes.get(&l.node).and_then(|v| {
                v.iter()
                    .find(|e| e.caching == Caching::Lease(id))
                    .map(|e| e.open)
            });
            // Windows moves a v2 epoch on here only when write caching goes
            // (lease.v2_breaking3: RH to R keeps it).
            let bump = state & W != 0;
            let required = l.required;
            if let Some(open) = holder
                && let Some(b) = lease_break(l, id.key, open, next, now + timeout, bump)
            {
                breaks.push(b);
            }
            // The step asks for `next`; what the waiting opens need stays.
            l.required = required;
        }
        drop(g);
        self.bump();
        Ok(())
    }

    /// Another open wrote to `key` (or changed its size): level II oplocks and read leases of
    /// other opens break to none. Nobody waits for these breaks: level II and R need no
    /// acknowledgement (3.3.4.6), and an RH lease acknowledges only its handle caching.
    pub(crate) fn written(
        &self,
        key: NodeKey,
        now: Instant,
        by: Option<OpenRef>,
        breaks: &mut Vec<Break>,
    ) {
        // Read leases break to none, handle caching and all, as on Windows (smbtorture
        // lease.complex1, lease.timeout).
        self.break_shared(key, now, by, 0, breaks);
    }

    /// Entries of directory `ino` on `share` changed (added, removed, renamed, or a child's
    /// attributes or data): every lease on the directory breaks to none, but the lease
    /// `except` names (the ParentLeaseKey of the open that made the change, [MS-FSA]
    /// 2.1.4.12.2 with PARENT_OBJECT; [MS-SMB2] 3.3.1.4 READ caching on a directory). Nobody
    /// waits: the change is made; a lease with handle caching acknowledges the break
    /// (smbtorture lease.v2_request: RH to none, epoch on). A lease already breaking breaks
    /// on to none when acknowledged.
    pub(crate) fn dir_changed(
        &self,
        share: ShareId,
        ino: u64,
        except: Option<LeaseId>,
        now: Instant,
        breaks: &mut Vec<Break>,
    ) {
        let timeout = self.break_timeout;
        let mut g = self.lock();
        let inner = &mut *g;
        let Some(ids) = inner.dir_leases.get(&(share, ino)) else {
            return;
        };
        let mut changed = false;
        for id in ids.iter().filter(|id| Some(**id) != except) {
            let Some(l) = inner.leases.get_mut(id) else {
                continue;
            };
            if l.breaking.is_some() {
                l.required = 0;
                continue;
            }
            let Some(holder) = inner.nodes.get(&l.node).and_then(|v| {
                v.iter()
                    .find(|e| e.caching == Caching::Lease(*id))
                    .map(|e| e.open)
            }) else {
                continue;
            };
            if let Some(b) = lease_break(l, id.key, holder, 0, now + timeout, true) {
                breaks.push(b);
                changed = true;
            }
        }
        drop(g);
        if changed {
            self.bump();
        }
    }

    /// Breaks every directory lease on `share` to none ([`Self::dir_changed`] for all of its
    /// directories): changes to them may have been missed.
    pub(crate) fn dir_changed_all(&self, share: ShareId, now: Instant, breaks: &mut Vec<Break>) {
        let dirs: Vec<u64> = {
            let g = self.lock();
            g.dir_leases
                .keys()
                .filter(|(s, _)| *s == share)
                .map(|&(_, ino)| ino)
                .collect()
        };
        for ino in dirs {
            self.dir_changed(share, ino, None, now, breaks);
        }
    }

    /// Whether a directory of `share` holds a lease.
    pub(crate) fn dir_leased(&self, share: ShareId) -> bool {
        self.lock().dir_leases.keys().any(|(s, _)| *s == share)
    }

    /// Every level II oplock on `key` breaks to none, `by`'s own too (smbtorture
    /// oplock.batch1, brl1), and each read lease of another lease key than `by`'s breaks to
    /// its state masked by `keep`.
    fn break_shared(
        &self,
        key: NodeKey,
        now: Instant,
        by: Option<OpenRef>,
        keep: u32,
        breaks: &mut Vec<Break>,
    ) {
        let timeout = self.break_timeout;
        let mut g = self.lock();
        let inner = &mut *g;
        let Some(entries) = inner.nodes.get_mut(&key) else {
            return;
        };
        let own = by.and_then(|o| entries.iter().find(|e| e.open == o).map(|e| e.caching));
        let mut changed = false;
        for e in entries.iter_mut() {
            match e.caching {
                Caching::Oplock(OplockLevel::II) => {
                    e.caching = Caching::Oplock(OplockLevel::NONE);
                    breaks.push(Break::Oplock {
                        open: e.open,
                        level: OplockLevel::NONE,
                    });
                    changed = true;
                }
                Caching::Lease(id) if Some(Caching::Lease(id)) != own && Some(e.open) != by => {
                    if let Some(l) = inner.leases.get_mut(&id)
                        && l.breaking.is_none()
                        && l.state & R != 0
                        && let Some(b) =
                            lease_break(l, id.key, e.open, l.state & keep, now + timeout, true)
                    {
                        breaks.push(b);
                        changed = true;
                    }
                }
                _ => {}
            }
        }
        drop(g);
        if changed {
            self.bump();
        }
    }
}

impl OpenTable {
    /// Open `by` makes `key` delete-pending (a delete-on-close open, or the disposition set):
    /// other leases lose handle caching, so their holders close the handles they keep for
    /// reuse and the delete can happen (smbtorture lease.unlink; Windows and Samba alike).
    /// Nobody waits for the acknowledgements; oplocks are left as they are.
    pub(crate) fn deleting(
        &self,
        key: NodeKey,
        now: Instant,
        by: OpenRef,
        breaks: &mut Vec<Break>,
    ) {
        let timeout = self.break_timeout;
        let mut g = self.lock();
        let inner = &mut *g;
        let Some(entries) = inner.nodes.get(&key) else {
            return;
        };
        let own = entries.iter().find(|e| e.open == by).map(|e| e.caching);
        let mut changed = false;
        for e in entries {
            let Caching::Lease(id) = e.caching else {
                continue;
            };
            if Some(e.caching) == own {
                continue;
            }
            if let Some(l) = inner.leases.get_mut(&id)
                && l.breaking.is_none()
                && l.state & H != 0
                && let Some(b) = lease_break(l, id.key, e.open, l.state & !H, now + timeout, true)
            {
                breaks.push(b);
                changed = true;
            }
        }
        drop(g);
        if changed {
            self.bump();
        }
    }
}

impl OpenTable {
    /// A byte-range lock is being taken on `key` through open `by` ([MS-FSA] 2.1.4.12,
    /// LOCK_CONTROL): every level II oplock breaks to none, the locker's own too
    /// (smbtorture oplock.brl1, brl3), and read leases of other lease keys break to none
    /// (lease.lock1); batch and exclusive oplocks are untouched (oplock.brl2).
    pub(crate) fn locked(&self, key: NodeKey, now: Instant, by: OpenRef, breaks: &mut Vec<Break>) {
        self.break_shared(key, now, Some(by), 0, breaks);
    }

    /// Another protocol changes `key` without an open ([`Recall`]): the caching it
    /// invalidates breaks, and the answer says until when the change must wait (the earliest
    /// outstanding break it depends on) and what wakes the waiter; `None`: go ahead.
    ///
    /// - [`Recall::Data`] (a write or size change): batch and exclusive oplocks break to none
    ///   and must be acknowledged (the holder flushes its cached writes first); level II
    ///   oplocks go at once; leases keep only handle caching, and the change waits only while
    ///   a lease still has write caching to give back.
    /// - [`Recall::Name`] (remove, rename): batch oplocks break to level II and leases lose
    ///   handle caching, both acknowledged (the holder closes handles it kept for reuse);
    ///   read and write caching of the data stay.
    ///
    /// Called again after every wake-up until it answers `None`; breaks whose time ran out
    /// take effect first, so the loop ends by the break timeout at the latest.
    ///
    /// `except`: an SMB open making the change itself (a rename through a handle): its own
    /// oplock and lease, shared by its other opens, are left alone.
    pub(crate) fn recall(
        &self,
        key: NodeKey,
        now: Instant,
        change: Recall,
        except: Option<OpenRef>,
        breaks: &mut Vec<Break>,
    ) -> Option<(Instant, Changed)> {
        let timeout = self.break_timeout;
        let mut g = self.lock();
        let inner = &mut *g;
        let mut changed = expire(inner, key, now);
        let mut waiting: Option<Instant> = None;
        let (keep, depends) = match change {
            Recall::Data => (H, W),
            Recall::Name => (R | W, H),
        };
        if let Some(entries) = inner.nodes.get_mut(&key) {
            let own = except.and_then(|o| {
                entries
                    .iter()
                    .find(|e| e.open == o)
                    .and_then(|e| match e.caching {
                        Caching::Lease(id) => Some(id),
                        Caching::Oplock(_) => None,
                    })
            });
            for e in entries.iter_mut() {
                if Some(e.open) == except {
                    continue;
                }
                match e.caching {
                    Caching::Lease(id) if Some(id) == own => {}
                    Caching::Oplock(level) => {
                        if let Some((_, until)) = e.breaking {
                            // A break under way (for an SMB open, say): wait for it while the
                            // holder still caches what this change depends on; once it is
                            // answered, the next call breaks what is left.
                            let holds = match change {
                                Recall::Data => {
                                    matches!(level, OplockLevel::BATCH | OplockLevel::EXCLUSIVE)
                                }
                                Recall::Name => level == OplockLevel::BATCH,
                            };
                            if holds {
                                note_wait(until, &mut waiting);
                            }
                            continue;
                        }
                        let to = match (change, level) {
                            (Recall::Data, OplockLevel::BATCH | OplockLevel::EXCLUSIVE) => {
                                OplockLevel::NONE
                            }
                            (Recall::Name, OplockLevel::BATCH) => OplockLevel::II,
                            (Recall::Data, OplockLevel::II) => {
                                e.caching = Caching::Oplock(OplockLevel::NONE);
                                breaks.push(Break::Oplock {
                                    open: e.open,
                                    level: OplockLevel::NONE,
                                });
                                changed = true;
                                continue;
                            }
                            _ => continue,
                        };
                        let until = now + timeout;
                        e.breaking = Some((to, until));
                        breaks.push(Break::Oplock {
                            open: e.open,
                            level: to,
                        });
                        note_wait(until, &mut waiting);
                    }
                    Caching::Lease(id) => {
                        let Some(l) = inner.leases.get_mut(&id) else {
                            continue;
                        };
                        if let Some((_, until)) = l.breaking {
                            // As for oplocks: wait while the lease still holds what this
                            // change depends on; the next call breaks what is left.
                            if l.state & depends != 0 {
                                note_wait(until, &mut waiting);
                            }
                            continue;
                        }
                        if l.state & !keep == 0 {
                            continue;
                        }
                        let dropped = l.state & depends != 0;
                        if let Some(b) =
                            lease_break(l, id.key, e.open, l.state & keep, now + timeout, true)
                        {
                            match b {
                                Break::Lease { ack: true, .. } if dropped => {
                                    note_wait(now + timeout, &mut waiting);
                                }
                                _ => changed = true,
                            }
                            breaks.push(b);
                        }
                    }
                }
            }
        }
        let rx = waiting.map(|until| (until, Changed::new(&self.changed)));
        drop(g);
        if changed || !breaks.is_empty() {
            self.bump();
        }
        rx
    }
}

/// Starts breaking lease `l` (key `key`, held by `open`) to `new`; `None` when nothing
/// changes. Breaks from a state with write or handle caching need an acknowledgement (until
/// `until`); others take effect at once. `bump`: a v2 lease's epoch moves on.
fn lease_break(
    l: &mut Lease,
    key: [u8; 16],
    open: OpenRef,
    new: u32,
    until: Instant,
    bump: bool,
) -> Option<Break> {
    if new == l.state {
        return None;
    }
    let current = l.state;
    let ack = current & (W | H) != 0;
    if l.v2 && bump {
        l.epoch = l.epoch.wrapping_add(1);
    }
    if ack {
        l.breaking = Some((new, until));
        l.required = new;
    } else {
        l.state = new;
    }
    Some(Break::Lease {
        open,
        key,
        current,
        new,
        epoch: if l.v2 { l.epoch } else { 0 },
        ack,
    })
}

fn note_wait(t: Instant, w: &mut Option<Instant>) {
    *w = Some(w.map_or(t, |x| x.min(t)));
}

/// Breaks on `key` whose time ran out take effect ([MS-SMB2] 3.3.2.1). Returns whether
/// anything changed.
fn expire(inner: &mut Inner, key: NodeKey, now: Instant) -> bool {
    let mut changed = false;
    if let Some(v) = inner.nodes.get_mut(&key) {
        for e in v.iter_mut() {
            if let Some((to, until)) = e.breaking
                && until <= now
            {
                e.caching = Caching::Oplock(to);
                e.breaking = None;
                changed = true;
            }
        }
    }
    // A lease whose break was not acknowledged in time loses everything ([MS-SMB2]
    // 3.3.2.5; smbtorture lease.timeout reads it back as none).
    for l in inner.leases.values_mut() {
        if l.node == key
            && let Some((_, until)) = l.breaking
            && until <= now
        {
            l.state = 0;
            l.breaking = None;
            changed = true;
        }
    }
    changed
}

#[cfg(test)]
// The table takes time as an argument; these tests need only some instant to start from.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    const KEY: NodeKey = NodeKey {
        share: ShareId(1),
        ino: 7,
        generation: 1,
        stream: 0,
    };
    const RW: u32 = access::FILE_READ_DATA | access::FILE_WRITE_DATA;

    fn open(conn: u64, file: u64) -> OpenRef {
        OpenRef { conn, file }
    }

    fn req(o: OpenRef, oplock: OplockLevel) -> Request {
        Request {
            open: o,
            access: RW,
            share_access: 7,
            oplock,
            lease: None,
            overwrite: false,
            is_dir: false,
            first: true,
        }
    }

    fn lease(o: OpenRef, key: u8, state: u32) -> Request {
        Request {
            lease: Some((
                LeaseId {
                    client: [o.conn as u8; 16],
                    key: [key; 16],
                },
                state,
                true,
                0,
            )),
            ..req(o, OplockLevel::LEASE)
        }
    }

    fn granted(a: Admit) -> Grant {
        match a {
            Admit::Granted(g) => g,
            other => panic!("expected a grant, got {other:?}"),
        }
    }

    /// Goal: a directory is leased RH at most, and only in the v2 form; a change of its
    /// entries breaks its leases to none but the one named as the changer's parent, and the
    /// count of directory leases goes when their last open closes. Method: two v2 leases on
    /// a directory (RWH asked: RH granted), a v1 request (no lease), `dir_changed` with one
    /// lease excepted, then closes.
    #[test]
    fn directory_leases_break_on_changes_but_the_parents() {
        let t = OpenTable::default();
        let now = Instant::now();
        let mut breaks = Vec::new();
        let dir = |r: Request| Request { is_dir: true, ..r };
        let g = granted(t.admit(KEY, &dir(lease(open(1, 1), 1, R | W | H)), now, &mut breaks));
        assert_eq!(g.lease.map(|l| l.0), Some(R | H));
        let g = granted(t.admit(KEY, &dir(lease(open(2, 1), 2, R | W)), now, &mut breaks));
        assert_eq!(g.lease.map(|l| l.0), Some(R));
        let mut v1 = dir(lease(open(3, 1), 3, R | H));
        if let Some(l) = v1.lease.as_mut() {
            l.2 = false;
        }
        let g = granted(t.admit(KEY, &v1, now, &mut breaks));
        assert_eq!((g.oplock, g.lease), (OplockLevel::NONE, None));
        assert!(breaks.is_empty(), "{breaks:?}");
        assert!(t.dir_leased(KEY.share));

        let first = LeaseId {
            client: [1; 16],
            key: [1; 16],
        };
        t.dir_changed(KEY.share, KEY.ino, Some(first), now, &mut breaks);
        assert!(
            matches!(breaks.as_slice(), [Break::Lease { key, current, new: 0, ack: false, .. }]
                if *key == [2; 16] && *current == R),
            "{breaks:?}"
        );
        breaks.clear();
        t.dir_changed(KEY.share, KEY.ino, None, now, &mut breaks);
        assert!(
            matches!(breaks.as_slice(), [Break::Lease { key, current, new: 0, ack: true, .. }]
                if *key == [1; 16] && *current == R | H),
            "{breaks:?}"
        );
        // Another directory's change breaks nothing here.
        breaks.clear();
        t.dir_changed(KEY.share, KEY.ino + 1, None, now, &mut breaks);
        assert!(breaks.is_empty());

        for o in [open(1, 1), open(2, 1), open(3, 1)] {
            t.remove(o, false);
        }
        assert!(!t.dir_leased(KEY.share));
    }

    /// Goal: an NFS write recalls SMB write caching and waits only for it. Method: an RWH
    /// lease and, on another file, a level II oplock and an RH lease; `recall(Data)` breaks
    /// RWH to H and answers "wait" until the holder acknowledges, then "go"; level II breaks
    /// to none and RH to H without making the change wait.
    #[tokio::test]
    async fn data_recall_waits_for_write_caching_only() {
        let t = OpenTable::default();
        let now = Instant::now();
        let mut breaks = Vec::new();
        let g = granted(t.admit(KEY, &lease(open(1, 1), 1, R | W | H), now, &mut breaks));
        assert_eq!(g.lease.map(|l| l.0), Some(R | W | H));
        let wait = t.recall(KEY, now, Recall::Data, None, &mut breaks);
        assert!(wait.is_some(), "write caching must be given back first");
        assert!(matches!(
            breaks.as_slice(),
            [Break::Lease { new, ack: true, .. }] if *new == H
        ));
        // Asked again before the acknowledgement: still waiting, no second break.
        breaks.clear();
        assert!(
            t.recall(KEY, now, Recall::Data, None, &mut breaks)
                .is_some()
        );
        assert!(breaks.is_empty());
        let id = LeaseId {
            client: [1; 16],
            key: [1; 16],
        };
        t.ack_lease(id, H, Instant::now(), &mut Vec::new()).unwrap();
        assert!(
            t.recall(KEY, now, Recall::Data, None, &mut breaks)
                .is_none()
        );
        assert!(breaks.is_empty());

        let (second, third) = (NodeKey { ino: 8, ..KEY }, NodeKey { ino: 9, ..KEY });
        granted(t.admit(second, &req(open(2, 1), OplockLevel::II), now, &mut breaks));
        let g = granted(t.admit(third, &lease(open(3, 1), 3, R | H), now, &mut breaks));
        assert_eq!(g.lease.map(|l| l.0), Some(R | H));
        breaks.clear();
        assert!(
            t.recall(second, now, Recall::Data, None, &mut breaks)
                .is_none()
        );
        assert!(matches!(
            breaks.as_slice(),
            [Break::Oplock { level, .. }] if *level == OplockLevel::NONE
        ));
        breaks.clear();
        assert!(
            t.recall(third, now, Recall::Data, None, &mut breaks)
                .is_none()
        );
        assert!(matches!(
            breaks.as_slice(),
            [Break::Lease { new, .. }] if *new == H
        ));
    }

    /// Goal: an NFS remove or rename recalls handle caching. Method: a batch oplock and an
    /// RWH lease on two files; `recall(Name)` breaks the batch oplock to level II and the
    /// lease to RW, and waits for each; when nobody acknowledges, the break timeout lets the
    /// change go and the holders are at the broken-to level.
    #[tokio::test]
    async fn name_recall_breaks_handle_caching_until_timeout() {
        let t = OpenTable::new(Duration::from_millis(10));
        let now = Instant::now();
        let mut breaks = Vec::new();
        granted(t.admit(KEY, &req(open(1, 1), OplockLevel::BATCH), now, &mut breaks));
        let (until, _) = t
            .recall(KEY, now, Recall::Name, None, &mut breaks)
            .expect("the batch oplock must be broken first");
        assert!(matches!(
            breaks.as_slice(),
            [Break::Oplock { level, .. }] if *level == OplockLevel::II
        ));
        assert!(
            t.recall(KEY, until, Recall::Name, None, &mut Vec::new())
                .is_none()
        );
        assert_eq!(t.oplock_of(open(1, 1)), OplockLevel::II);

        let other = NodeKey { ino: 8, ..KEY };
        breaks.clear();
        granted(t.admit(other, &lease(open(2, 1), 2, R | W | H), now, &mut breaks));
        assert!(
            t.recall(other, now, Recall::Name, None, &mut breaks)
                .is_some()
        );
        assert!(matches!(
            breaks.as_slice(),
            [Break::Lease { new, ack: true, .. }] if *new == R | W
        ));
        // Read and write caching survive a name change.
        assert!(
            t.recall(
                other,
                now + Duration::from_millis(10),
                Recall::Name,
                None,
                &mut Vec::new()
            )
            .is_none()
        );
        assert!(
            t.recall(
                other,
                now + Duration::from_millis(10),
                Recall::Name,
                None,
                &mut Vec::new()
            )
            .is_none()
        );
    }

    /// Goal: delete-pending is seen across connections. An open that sets the delete
    /// disposition makes other opens fail with DELETE_PENDING without breaking the batch
    /// oplock it holds (smbtorture oplock.doc); clearing it lets them in again. A
    /// delete-on-close open closing while another remains leaves the node delete-pending,
    /// and the last close deletes it.
    #[tokio::test]
    async fn delete_pending_across_connections() {
        let t = OpenTable::default();
        let now = Instant::now();
        let mut breaks = Vec::new();
        granted(t.admit(KEY, &req(open(1, 1), OplockLevel::BATCH), now, &mut breaks));
        t.set_delete_pending(open(1, 1), true);
        assert!(matches!(
            t.admit(KEY, &req(open(2, 1), OplockLevel::NONE), now, &mut breaks),
            Admit::Invalid(NtStatus::DELETE_PENDING)
        ));
        assert!(breaks.is_empty(), "a delete-pending open breaks nothing");
        t.set_delete_pending(open(1, 1), false);
        // Cleared: the next open breaks the batch oplock as usual.
        let second = req(open(2, 1), OplockLevel::NONE);
        assert!(matches!(
            t.admit(KEY, &second, now, &mut breaks),
            Admit::Wait { .. }
        ));
        assert_eq!(breaks.len(), 1);
        assert_eq!(
            t.ack_oplock(open(1, 1), OplockLevel::II),
            Ok(OplockLevel::II)
        );
        granted(t.admit(KEY, &second, now, &mut breaks));
        // Delete-on-close closing first: the other open keeps the node, now doomed.
        assert!(!t.remove(open(1, 1), true));
        breaks.clear();
        assert!(matches!(
            t.admit(KEY, &req(open(3, 1), OplockLevel::NONE), now, &mut breaks),
            Admit::Invalid(NtStatus::DELETE_PENDING)
        ));
        assert!(t.remove(open(2, 1), false), "the last close deletes");
        granted(t.admit(KEY, &req(open(3, 1), OplockLevel::NONE), now, &mut breaks));
        assert!(!t.remove(open(3, 1), false));
    }

    /// Goal: a batch oplock is granted to a lone open; a second open from another
    /// connection breaks it to level II and waits; after the acknowledgement the second open
    /// gets level II, and a write by one breaks the other's level II to none without waiting.
    #[tokio::test]
    async fn batch_breaks_to_level_two() {
        let t = OpenTable::default();
        let now = Instant::now();
        let mut breaks = Vec::new();
        let g = granted(t.admit(KEY, &req(open(1, 1), OplockLevel::BATCH), now, &mut breaks));
        assert_eq!(g.oplock, OplockLevel::BATCH);
        assert!(breaks.is_empty());
        let second = req(open(2, 1), OplockLevel::BATCH);
        let Admit::Wait { .. } = t.admit(KEY, &second, now, &mut breaks) else {
            panic!("the second open must wait for the break");
        };
        assert_eq!(
            breaks,
            vec![Break::Oplock {
                open: open(1, 1),
                level: OplockLevel::II
            }]
        );
        // Still breaking: waits again, no second notification.
        breaks.clear();
        assert!(matches!(
            t.admit(KEY, &second, now, &mut breaks),
            Admit::Wait { .. }
        ));
        assert!(breaks.is_empty());
        assert_eq!(
            t.ack_oplock(open(1, 1), OplockLevel::II),
            Ok(OplockLevel::II)
        );
        // Acknowledging again: no break in progress.
        assert_eq!(
            t.ack_oplock(open(1, 1), OplockLevel::II),
            Err(NtStatus::INVALID_OPLOCK_PROTOCOL)
        );
        let g = granted(t.admit(KEY, &second, now, &mut breaks));
        assert_eq!(g.oplock, OplockLevel::II);
        t.written(KEY, now, Some(open(2, 1)), &mut breaks);
        // Every level II oplock breaks, the writer's own too.
        assert_eq!(
            breaks,
            vec![
                Break::Oplock {
                    open: open(1, 1),
                    level: OplockLevel::NONE
                },
                Break::Oplock {
                    open: open(2, 1),
                    level: OplockLevel::NONE
                }
            ]
        );
        assert_eq!(t.oplock_of(open(1, 1)), OplockLevel::NONE);
        t.remove(open(1, 1), false);
        t.remove(open(2, 1), false);
        assert!(t.lock().nodes.is_empty() && t.lock().leases.is_empty());
    }

    /// Goal: a break nobody acknowledges takes effect when its time runs out.
    #[tokio::test]
    async fn unacknowledged_break_times_out() {
        let t = OpenTable::new(Duration::from_millis(10));
        let now = Instant::now();
        let mut breaks = Vec::new();
        granted(t.admit(
            KEY,
            &req(open(1, 1), OplockLevel::EXCLUSIVE),
            now,
            &mut breaks,
        ));
        let second = req(open(2, 1), OplockLevel::NONE);
        let Admit::Wait { until, .. } = t.admit(KEY, &second, now, &mut breaks) else {
            panic!("must wait");
        };
        let g = granted(t.admit(KEY, &second, until, &mut breaks));
        assert_eq!(g.oplock, OplockLevel::NONE);
        assert_eq!(t.oplock_of(open(1, 1)), OplockLevel::II);
    }

    /// Goal: share modes apply across connections; a stat open takes no part.
    #[tokio::test]
    async fn share_modes_across_connections() {
        let t = OpenTable::default();
        let now = Instant::now();
        let mut breaks = Vec::new();
        let exclusive = Request {
            share_access: 0,
            ..req(open(1, 1), OplockLevel::NONE)
        };
        granted(t.admit(KEY, &exclusive, now, &mut breaks));
        assert!(matches!(
            t.admit(KEY, &req(open(2, 1), OplockLevel::NONE), now, &mut breaks),
            Admit::SharingViolation
        ));
        let stat = Request {
            access: access::FILE_READ_ATTRIBUTES,
            ..req(open(2, 2), OplockLevel::NONE)
        };
        granted(t.admit(KEY, &stat, now, &mut breaks));
        t.remove(open(1, 1), false);
        granted(t.admit(KEY, &req(open(2, 1), OplockLevel::NONE), now, &mut breaks));
    }

    fn lease_breaks(breaks: &[Break]) -> Vec<(u32, u32, bool)> {
        breaks
            .iter()
            .filter_map(|b| match *b {
                Break::Lease {
                    current, new, ack, ..
                } => Some((current, new, ack)),
                Break::Oplock { .. } => None,
            })
            .collect()
    }

    /// Goal: opens arriving while a lease break is under way behave as on Windows and Samba
    /// (smbtorture lease.breaking3): no second notification, and after the acknowledgement
    /// the lease breaks on in steps, RH to R (acknowledged) then R to none, before the
    /// waiting opens go ahead. Method: an RWH lease; a plain open breaks it to RH and waits;
    /// an overwrite open (first try) sends nothing and waits too; each acknowledgement is
    /// followed by the next break; both opens are granted at the end.
    #[tokio::test]
    async fn breaks_continue_in_steps_after_acknowledgement() {
        let t = OpenTable::default();
        let now = Instant::now();
        let id = LeaseId {
            client: [1; 16],
            key: [1; 16],
        };
        let mut breaks = Vec::new();
        granted(t.admit(KEY, &lease(open(1, 1), 1, R | W | H), now, &mut breaks));
        let plain = req(open(2, 1), OplockLevel::NONE);
        assert!(matches!(
            t.admit(KEY, &plain, now, &mut breaks),
            Admit::Wait { .. }
        ));
        assert_eq!(lease_breaks(&breaks), [(R | W | H, R | H, true)]);
        breaks.clear();
        let overwrite = Request {
            overwrite: true,
            ..req(open(2, 2), OplockLevel::NONE)
        };
        assert!(matches!(
            t.admit(KEY, &overwrite, now, &mut breaks),
            Admit::Wait { .. }
        ));
        assert!(breaks.is_empty(), "no second notification during a break");

        t.ack_lease(id, R | H, now, &mut breaks).unwrap();
        assert_eq!(lease_breaks(&breaks), [(R | H, R, true)]);
        breaks.clear();
        let retry = Request {
            first: false,
            ..plain
        };
        assert!(matches!(
            t.admit(KEY, &retry, now, &mut breaks),
            Admit::Wait { .. }
        ));
        t.ack_lease(id, R, now, &mut breaks).unwrap();
        assert_eq!(lease_breaks(&breaks), [(R, 0, false)]);
        granted(t.admit(KEY, &retry, now, &mut breaks));
        granted(t.admit(
            KEY,
            &Request {
                first: false,
                ..overwrite
            },
            now,
            &mut breaks,
        ));
    }

    /// Goal: an overwrite breaks an RH lease to none without waiting (nothing written is
    /// cached), and a second one during that break sends nothing and does not wait either
    /// (smbtorture lease.breaking4). Method: the table's answers and breaks.
    #[tokio::test]
    async fn overwrite_of_a_read_handle_lease_does_not_wait() {
        let t = OpenTable::default();
        let now = Instant::now();
        let mut breaks = Vec::new();
        granted(t.admit(KEY, &lease(open(1, 1), 1, R | H), now, &mut breaks));
        let overwrite = Request {
            overwrite: true,
            ..req(open(2, 1), OplockLevel::NONE)
        };
        granted(t.admit(KEY, &overwrite, now, &mut breaks));
        assert_eq!(lease_breaks(&breaks), [(R | H, 0, true)]);
        t.remove(overwrite.open, false);
        breaks.clear();
        granted(t.admit(KEY, &overwrite, now, &mut breaks));
        assert!(breaks.is_empty());
        let g = granted(t.admit(KEY, &lease(open(1, 2), 1, 0), now, &mut breaks));
        assert_eq!(g.lease.map(|l| (l.0, l.2)), Some((R | H, true)));
    }

    /// Goal: a lone lease gets RWH; another client's lease breaks it to RH (acknowledged,
    /// epoch bumped) and then gets RH itself; the same key on a second open shares the lease;
    /// a lease key used for another file is refused; acks of states beyond the break fail.
    #[tokio::test]
    async fn leases_break_and_share() {
        let t = OpenTable::default();
        let now = Instant::now();
        let mut breaks = Vec::new();
        let a = lease(open(1, 1), 1, R | W | H);
        let g = granted(t.admit(KEY, &a, now, &mut breaks));
        assert_eq!(g.lease, Some((R | W | H, 1, false, true)));
        let same = lease(open(1, 2), 1, R | W | H);
        let g = granted(t.admit(KEY, &same, now, &mut breaks));
        assert_eq!(
            g.lease,
            Some((R | W | H, 1, false, true)),
            "same key shares the lease"
        );
        let other = lease(open(2, 1), 2, R | W | H);
        assert!(matches!(
            t.admit(KEY, &other, now, &mut breaks),
            Admit::Wait { .. }
        ));
        assert_eq!(breaks.len(), 1);
        let Break::Lease {
            current,
            new,
            ack,
            epoch,
            ..
        } = breaks[0]
        else {
            panic!("a lease break");
        };
        assert_eq!((current, new, ack, epoch), (R | W | H, R | H, true, 2));
        let id = LeaseId {
            client: [1; 16],
            key: [1; 16],
        };
        assert_eq!(
            t.ack_lease(id, R | W | H, Instant::now(), &mut Vec::new()),
            Err(NtStatus::REQUEST_NOT_ACCEPTED)
        );
        assert_eq!(
            t.ack_lease(id, R | H, Instant::now(), &mut Vec::new()),
            Ok(())
        );
        assert_eq!(
            t.ack_lease(id, R | H, Instant::now(), &mut Vec::new()),
            Err(NtStatus::UNSUCCESSFUL)
        );
        let g = granted(t.admit(KEY, &other, now, &mut breaks));
        assert_eq!(g.lease, Some((R | H, 1, false, true)));
        let elsewhere = NodeKey { ino: 8, ..KEY };
        assert!(matches!(
            t.admit(elsewhere, &lease(open(1, 3), 1, R), now, &mut breaks),
            Admit::Invalid(NtStatus::INVALID_PARAMETER)
        ));
        for o in [open(1, 1), open(1, 2), open(2, 1)] {
            t.remove(o, false);
        }
        assert!(t.lock().leases.is_empty());
    }
    /// Goal: a durable open moving to another connection keeps its place in the table:
    /// after `rekey` the new name holds the batch oplock and the share mode (a conflicting
    /// open still waits on its break, addressed to the new name), the old name is gone; a
    /// break in progress makes `caching_of` answer `None` (not durable any more).
    #[tokio::test]
    async fn rekey_keeps_caching_and_share_modes() {
        let t = OpenTable::default();
        let now = Instant::now();
        let mut breaks = Vec::new();
        let (old, new) = (open(1, 1), open(9, 4));
        granted(t.admit(KEY, &req(old, OplockLevel::BATCH), now, &mut breaks));
        assert_eq!(t.caching_of(old), Some((OplockLevel::BATCH, None)));
        assert!(t.rekey(old, new));
        assert!(!t.rekey(old, new), "the old name is gone");
        assert_eq!(t.caching_of(old), None);
        assert_eq!(t.caching_of(new), Some((OplockLevel::BATCH, None)));
        assert!(matches!(
            t.admit(KEY, &req(open(2, 1), OplockLevel::NONE), now, &mut breaks),
            Admit::Wait { .. }
        ));
        assert_eq!(breaks[0].open(), new);
        assert_eq!(t.caching_of(new), None, "breaking");
        assert!(!t.remove(new, false));
        let g = t.lock();
        assert!(g.where_is.is_empty() && g.nodes.is_empty());
    }

    /// Goal: an open restored after a restart (a durable open from the metadata store) is in
    /// the table as it was recorded: its lease answers `caching_of` and is shared by a second
    /// restored open with the same key, a conflicting open waits for a break addressed to it,
    /// and its share access refuses an open it does not allow. Method: restore a leased open
    /// and a batch one, admit conflicting opens.
    #[tokio::test]
    async fn restore_puts_back_share_modes_and_caching() {
        let t = OpenTable::default();
        let now = Instant::now();
        let mut breaks = Vec::new();
        let id = LeaseId {
            client: [3; 16],
            key: [4; 16],
        };
        let held = HeldLease {
            id,
            state: R | W | H,
            epoch: 3,
            v2: true,
        };
        let (a, b) = (open(0, 1 << 48), open(0, (1 << 48) + 1));
        t.restore(KEY, a, RW, 7, OplockLevel::LEASE, Some(held));
        t.restore(KEY, b, RW, 7, OplockLevel::LEASE, Some(held));
        assert_eq!(t.caching_of(a), Some((OplockLevel::LEASE, Some(held))));
        assert_eq!(t.lock().leases.len(), 1, "one lease for both opens");
        assert!(matches!(
            t.admit(KEY, &req(open(5, 1), OplockLevel::NONE), now, &mut breaks),
            Admit::Wait { .. }
        ));
        assert!(matches!(breaks[0], Break::Lease { key, .. } if key == [4; 16]));
        assert!([a, b].contains(&breaks[0].open()));

        let other = NodeKey { ino: 8, ..KEY };
        let c = open(0, (1 << 48) + 2);
        t.restore(other, c, RW, 0, OplockLevel::II, None);
        assert_eq!(t.caching_of(c), Some((OplockLevel::II, None)));
        assert!(matches!(
            t.admit(other, &req(open(6, 1), OplockLevel::NONE), now, &mut breaks),
            Admit::SharingViolation
        ));
        t.remove(c, false);
        granted(t.admit(other, &req(open(6, 1), OplockLevel::NONE), now, &mut breaks));
    }

    /// Goal: a named stream is a file of its own for oplocks and share modes (smbtorture
    /// oplock.stream1, batch26), but an open of the file's own data asking for DELETE is
    /// refused while a stream open does not share delete, and admitted once it closes.
    #[tokio::test]
    async fn streams_are_files_of_their_own() {
        let t = OpenTable::default();
        let now = Instant::now();
        let mut breaks = Vec::new();
        let stream = NodeKey {
            stream: crate::server::smb::streams::key("Stream One"),
            ..KEY
        };
        let g = granted(t.admit(KEY, &req(open(1, 1), OplockLevel::BATCH), now, &mut breaks));
        assert_eq!(g.oplock, OplockLevel::BATCH);
        let exclusive = Request {
            share_access: 0,
            ..req(open(2, 1), OplockLevel::BATCH)
        };
        let g = granted(t.admit(stream, &exclusive, now, &mut breaks));
        assert_eq!(
            g.oplock,
            OplockLevel::BATCH,
            "the base's oplock does not count"
        );
        assert!(breaks.is_empty(), "nothing breaks across streams");
        t.remove(open(1, 1), false);
        let delete = Request {
            access: access::DELETE,
            ..req(open(3, 1), OplockLevel::NONE)
        };
        assert!(matches!(
            t.admit(KEY, &delete, now, &mut breaks),
            Admit::SharingViolation
        ));
        // Renamed, the stream's open keeps its share mode and oplock under the new name only:
        // an open of the new name waits for its batch oplock to break, one of the old name is
        // free.
        let renamed = NodeKey {
            stream: crate::server::smb::streams::key("renamed"),
            ..KEY
        };
        t.moved(open(2, 1), renamed);
        assert!(matches!(
            t.admit(
                renamed,
                &req(open(4, 1), OplockLevel::NONE),
                now,
                &mut breaks
            ),
            Admit::Wait { .. }
        ));
        granted(t.admit(
            stream,
            &req(open(4, 2), OplockLevel::NONE),
            now,
            &mut breaks,
        ));
        t.remove(open(4, 2), false);
        t.remove(open(2, 1), false);
        granted(t.admit(KEY, &delete, now, &mut breaks));
        t.remove(open(3, 1), false);
        let g = t.lock();
        assert!(g.nodes.is_empty() && g.stream_opens.is_empty());
    }

    /// Goal: what the table reports a node's opens cache (published for other gateways)
    /// follows grants, breaks and closes, a break under way still counting what it takes.
    /// Method: a batch oplock, its break to level II before and after the acknowledgement,
    /// leases beside it and after it closed, then closes; and the keys of an inode's opens.
    #[tokio::test]
    async fn held_follows_grants_breaks_and_closes() {
        let t = OpenTable::default();
        let now = Instant::now();
        let mut breaks = Vec::new();
        assert_eq!(t.held(KEY), 0);
        granted(t.admit(KEY, &req(open(1, 1), OplockLevel::BATCH), now, &mut breaks));
        assert_eq!(t.held(KEY), R | W | H);
        assert_eq!(t.keys_of(KEY.share, KEY.ino), vec![KEY]);
        assert!(t.keys_of(KEY.share, KEY.ino + 1).is_empty());
        // A name recall breaks batch to level II: until acknowledged, batch still counts.
        let wait = t.recall(KEY, now, Recall::Name, None, &mut breaks);
        assert!(wait.is_some());
        assert_eq!(t.held(KEY), R | W | H);
        assert_eq!(
            t.ack_oplock(open(1, 1), OplockLevel::II),
            Ok(OplockLevel::II)
        );
        assert_eq!(t.held(KEY), R);
        // A lease beside the oplock (granted R only there), then alone: a second lease key
        // alone with it gets RH, which adds H.
        granted(t.admit(KEY, &lease(open(2, 1), 2, R | H), now, &mut breaks));
        assert_eq!(t.held(KEY), R);
        t.remove(open(1, 1), false);
        assert_eq!(t.held(KEY), R);
        granted(t.admit(KEY, &lease(open(3, 1), 3, R | H), now, &mut breaks));
        assert_eq!(t.held(KEY), R | H);
        t.remove(open(2, 1), false);
        t.remove(open(3, 1), false);
        assert_eq!(t.held(KEY), 0);
        assert!(t.keys().is_empty());
    }
}
