//! The share's byte-range lock manager: plain state, owned by the share actor alone (its
//! `lock` mailbox, [`super::actor`]), so no lock of ours guards it and every change to a
//! node's locks happens in one place, in mailbox order.
//!
//! Semantics are Windows' ([MS-FSA] 2.1.5.8 lock, 2.1.5.9 unlock, 2.1.4.10 conflicts):
//! - 64-bit offsets and lengths; a range whose last byte would pass 2^64 − 1 is
//!   [`LockError::InvalidRange`]; a lock may lie anywhere, past the end of file too.
//! - Ranges overlap when `a.off <= b.last && a.last >= b.off` with `last = off + len − 1`
//!   computed without wrapping, so a zero-length lock at X overlaps exactly the ranges
//!   `[s, e]` with `s < X <= e`; two zero-length locks never overlap, and `{0, 0}` overlaps
//!   nothing.
//! - A held exclusive lock conflicts with every overlapping request of another owner, and
//!   with an exclusive lock request of its own owner (exclusive locks do not stack); its
//!   owner may still read, write and add shared locks under it. A held shared lock conflicts
//!   with every overlapping exclusive request and with writes, its owner's included.
//! - Unlock removes one lock of the owner with exactly that offset and length, an exclusive
//!   one first; none is [`LockError::RangeNotLocked`].
//!
//! Ownership is protocol-neutral ([`LockOwner`]): an SMB open (Windows locks belong to the
//! handle), or an NLM lock owner (NFSv3 clients, `server/nfs/nlm.rs`).
//!
//! NLM owners get POSIX (fcntl) semantics among their own locks, as clients expect: an owner
//! never conflicts with itself, a new lock replaces the parts of the owner's locks it covers
//! (upgrading, downgrading, splitting them: [`LockManager::lock`] with one range), and
//! [`LockManager::unlock_posix`] releases any sub-range, splitting what it cuts. Against
//! other owners (SMB opens included) the rules above hold unchanged, so an NFS lock blocks a
//! conflicting SMB lock and SMB I/O, and the reverse.
//!
//! Blocking requests wait in a FIFO queue per node and get their answer through a oneshot
//! when the conflicts are gone; a request (blocking or not) is refused or queued while an
//! earlier waiter it conflicts with is still waiting, so later requests never overtake.
//!
//! Bounds ([`Limits`]): locks per share, locks per owner, waiters per share. Past them a
//! request fails with [`LockError::NoLocks`] (SMB: STATUS_INSUFFICIENT_RESOURCES); nothing
//! here grows without limit.
//!
//! Gateways sharing one metadata store (`MetadataStore::shares_locks`) also agree with the
//! others through the store; the share actor does that ([`super::actor`]), and this manager
//! helps in two ways. In *confirm* mode ([`LockManager::confirm_grants`]) a waiter it grants
//! is not answered: the grant is handed to the actor ([`LockManager::take_granted`]), which
//! answers after the store confirmed it, or undoes it ([`LockManager::undo_grant`]) and
//! *parks* the waiter again ([`LockManager::park`]): a parked waiter keeps its place (later
//! requests it conflicts with still wait behind it) but is not granted until
//! [`LockManager::unpark_all`], which the actor calls on a timer.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::oneshot;

use super::Node;

/// Locks one share holds at most (all nodes, all owners).
pub(crate) const LOCKS_PER_SHARE_MAX: usize = 65_536;
/// Locks one owner (an SMB open) holds at most on a share.
pub(crate) const LOCKS_PER_OWNER_MAX: usize = 4_096;
/// Blocking requests one share keeps waiting at most.
pub(crate) const WAITERS_PER_SHARE_MAX: usize = 4_096;

/// The bounds a lock manager enforces.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Locks held on the share.
    pub(crate) locks: usize,
    /// Locks held by one owner.
    pub(crate) per_owner: usize,
    /// Requests waiting.
    pub(crate) waiters: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            locks: LOCKS_PER_SHARE_MAX,
            per_owner: LOCKS_PER_OWNER_MAX,
            waiters: WAITERS_PER_SHARE_MAX,
        }
    }
}

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum LockOwner {
    /// An SMB open: Windows byte-range locks belong to the handle they were taken on.
    Smb {
        /// The connection.
        conn: u64,
        /// The session the open belongs to.
        session: u64,
        /// The open (its FileId on that connection).
        open: u64,
    },
    /// An NLM lock owner (NFSv3 locking): the client host, its process id and the opaque
    /// owner it sends.
    Nlm {
        /// The client's host name (NLM `caller_name`, lossily UTF-8).
        host: String,
        /// The client's process id (svid).
        svid: u32,
        /// The opaque owner bytes.
        owner: Vec<u8>,
    },
}

/// Which owners a release concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// One SMB open (CLOSE).
    Open {
        /// Its connection.
        conn: u64,
        /// The open.
        open: u64,
    },
    /// Every open of an SMB session (LOGOFF). SMB closes each open of the session, which
    /// releases them one by one; this is for a front end that drops a session whole.
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "SMB releases per open as it closes each")
    )]
    Session {
        /// Its connection.
        conn: u64,
        /// The session.
        session: u64,
    },
    /// Every open of an SMB connection (the connection ended); see [`Scope::Session`].
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "SMB releases per open as it closes each")
    )]
    Connection {
        /// The connection.
        conn: u64,
    },
    /// Every NLM owner of one client host (NLM FREE_ALL, its SM_NOTIFY after a reboot).
    NlmHost {
        /// The host name.
        host: String,
    },
    /// One NLM owner (a process on a client that gave up its locks).
    #[cfg_attr(not(test), expect(dead_code, reason = "NLM frees by host"))]
    NlmOwner(LockOwner),
}

impl Scope {
    fn covers(&self, owner: &LockOwner) -> bool {
        match (self, owner) {
            (
                Self::Open { conn, open },
                LockOwner::Smb {
                    conn: c, open: o, ..
                },
            ) => *conn == *c && *open == *o,
            (
                Self::Session { conn, session },
                LockOwner::Smb {
                    conn: c,
                    session: s,
                    ..
                },
            ) => *conn == *c && *session == *s,
            (Self::Connection { conn }, LockOwner::Smb { conn: c, .. }) => *conn == *c,
            (Self::NlmHost { host }, LockOwner::Nlm { host: h, .. }) => host == h,
            (Self::NlmOwner(o), owner) => o == owner,
            (
                Self::Open { .. } | Self::Session { .. } | Self::Connection { .. },
                LockOwner::Nlm { .. },
            )
            | (Self::NlmHost { .. }, LockOwner::Smb { .. }) => false,
        }
    }
}

/// One range to lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LockRange {
    /// First byte.
    pub(crate) offset: u64,
    /// Bytes (0 is a zero-length lock).
    pub(crate) length: u64,
    /// Exclusive (else shared).
    pub(crate) exclusive: bool,
}

/// Why a lock operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum LockError {
    /// Another lock is in the way (SMB LOCK: STATUS_LOCK_NOT_GRANTED).
    #[error("lock not granted")]
    Conflict,
    /// The range passes the last 64-bit offset (STATUS_INVALID_LOCK_RANGE).
    #[error("invalid lock range")]
    InvalidRange,
    /// Unlock of a range the owner does not hold (STATUS_RANGE_NOT_LOCKED).
    #[error("range not locked")]
    RangeNotLocked,
    /// A bound of the lock manager is reached (STATUS_INSUFFICIENT_RESOURCES).
    #[error("no locks available")]
    NoLocks,
    /// A waiting request ended because its owner released everything (its open closed:
    /// SMB answers STATUS_RANGE_NOT_LOCKED, as Windows does) or it was cancelled.
    #[error("lock request cancelled")]
    Cancelled,
}

/// The answer a waiter gets.
pub(crate) type WaitReply = oneshot::Sender<Result<(), LockError>>;

/// What a lock request came to.
#[derive(Debug)]
pub(crate) enum Locked {
    /// Every range is held now.
    Granted,
    /// The (single, blocking) range waits: the answer comes on the receiver; `id` names it
    /// for [`LockManager::cancel`].
    Queued {
        /// The waiter's id.
        id: u64,
        /// Where the answer comes.
        rx: oneshot::Receiver<Result<(), LockError>>,
    },
}

/// An access to check against the locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Io {
    /// A read.
    Read,
    /// A write (or anything that changes the bytes: zeroing, copying into).
    Write,
}

#[derive(Debug)]
struct Held {
    owner: LockOwner,
    range: LockRange,
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    owner: LockOwner,
    range: LockRange,
    reply: WaitReply,
    /// Blocked by another gateway's lock: skipped by grants until unparked.
    parked: bool,
}

/// A waiter granted in confirm mode, not answered yet ([`LockManager::take_granted`]).
#[derive(Debug)]
pub(crate) struct Grant {
    /// The file.
    pub(crate) node: Node,
    /// The waiter's id.
    pub(crate) id: u64,
    /// Who holds it now.
    pub(crate) owner: LockOwner,
    /// What it holds now.
    pub(crate) range: LockRange,
    /// The owner's own locks the grant replaced (POSIX owners), for an undo.
    pub(crate) displaced: Vec<LockRange>,
    /// Where the answer goes.
    pub(crate) reply: WaitReply,
}

#[derive(Debug, Default)]
struct NodeLocks {
    held: Vec<Held>,
    waiting: VecDeque<Waiter>,
}

/// The last byte of a range, as a signed 128-bit number so a zero-length range at 0 ends at
/// −1 and nothing wraps.
fn last(offset: u64, length: u64) -> i128 {
    i128::from(offset) + i128::from(length) - 1
}

/// Whether two ranges overlap ([MS-FSA] 2.1.4.10; `{0, 0}` overlaps nothing).
pub(crate) fn overlap(a_off: u64, a_len: u64, b_off: u64, b_len: u64) -> bool {
    if (a_off == 0 && a_len == 0) || (b_off == 0 && b_len == 0) {
        return false;
    }
    i128::from(a_off) <= last(b_off, b_len) && last(a_off, a_len) >= i128::from(b_off)
}

/// Whether held lock `held` (of `holder`) is in the way of a lock request `req` by `owner`.
/// An NLM owner never conflicts with itself (POSIX: its new lock replaces the old).
fn lock_conflicts(holder: &LockOwner, held: LockRange, owner: &LockOwner, req: LockRange) -> bool {
    if !overlap(held.offset, held.length, req.offset, req.length) {
        return false;
    }
    if holder == owner && owner.is_posix() {
        return false;
    }
    if held.exclusive {
        holder != owner || req.exclusive
    } else {
        req.exclusive
    }
}

/// Whether a range is valid: its last byte is at most 2^64 − 1.
pub(crate) fn valid_range(offset: u64, length: u64) -> bool {
    length == 0 || offset.checked_add(length - 1).is_some()
}

impl LockOwner {
    /// Whether this owner's locks follow POSIX rules among themselves (NLM) rather than
    /// Windows' (SMB).
    fn is_posix(&self) -> bool {
        matches!(self, Self::Nlm { .. })
    }

    /// The owner as bytes, for the metadata store that shares locks between gateways:
    /// `S` and the connection, session and open (big-endian u64s), or `N`, the svid
    /// (big-endian u32), the host's length (big-endian u16), the host and the owner bytes.
    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        match self {
            Self::Smb {
                conn,
                session,
                open,
            } => {
                let mut b = Vec::with_capacity(25);
                b.push(b'S');
                for v in [conn, session, open] {
                    b.extend_from_slice(&v.to_be_bytes());
                }
                b
            }
            Self::Nlm { host, svid, owner } => {
                let host = &host.as_bytes()[..host.len().min(usize::from(u16::MAX))];
                let mut b = Vec::with_capacity(7 + host.len() + owner.len());
                b.push(b'N');
                b.extend_from_slice(&svid.to_be_bytes());
                b.extend_from_slice(&(host.len() as u16).to_be_bytes());
                b.extend_from_slice(host);
                b.extend_from_slice(owner);
                b
            }
        }
    }

    /// The owner [`LockOwner::to_bytes`] wrote (another gateway's, so never equal to one of
    /// ours); bytes it could not have written become an NLM owner with those bytes.
    pub(crate) fn from_bytes(b: &[u8]) -> Self {
        let u64_at = |i: usize| {
            b.get(i..i + 8)
                .and_then(|s| <[u8; 8]>::try_from(s).ok())
                .map(u64::from_be_bytes)
        };
        match b.first() {
            Some(b'S') if b.len() == 25 => {
                if let (Some(conn), Some(session), Some(open)) = (u64_at(1), u64_at(9), u64_at(17))
                {
                    return Self::Smb {
                        conn,
                        session,
                        open,
                    };
                }
            }
            Some(b'N') if b.len() >= 7 => {
                let svid = u32::from_be_bytes([b[1], b[2], b[3], b[4]]);
                let len = usize::from(u16::from_be_bytes([b[5], b[6]]));
                if let Some(host) = b.get(7..7 + len) {
                    return Self::Nlm {
                        host: String::from_utf8_lossy(host).into_owned(),
                        svid,
                        owner: b[7 + len..].to_vec(),
                    };
                }
            }
            _ => {}
        }
        Self::Nlm {
            host: String::new(),
            svid: 0,
            owner: b.to_vec(),
        }
    }
}

/// The end of a range (one past its last byte) as a 128-bit number.
fn end(r: LockRange) -> i128 {
    i128::from(r.offset) + i128::from(r.length)
}

/// The part of `r` in `[from, to)` (128-bit bounds), if any byte is left.
fn clip(r: LockRange, from: i128, to: i128) -> Option<LockRange> {
    let lo = i128::from(r.offset).max(from);
    let hi = end(r).min(to);
    (hi > lo).then(|| LockRange {
        offset: u64::try_from(lo).expect("clipped inside a valid range"),
        length: u64::try_from(hi - lo).expect("clipped inside a valid range"),
        exclusive: r.exclusive,
    })
}

/// Removes the bytes `[cut.offset, cut.offset + cut.length)` from `owner`'s locks in `held`
/// (POSIX unlock and replace): a lock inside goes, one across an edge is trimmed, one around
/// the cut is split in two. Returns (locks removed, locks added).
fn posix_cut(held: &mut Vec<Held>, owner: &LockOwner, cut: LockRange) -> (usize, usize) {
    let (from, to) = (i128::from(cut.offset), end(cut));
    let mut removed = 0;
    let mut added = Vec::new();
    held.retain(|h| {
        if h.owner != *owner || !(i128::from(h.range.offset) < to && end(h.range) > from) {
            return true;
        }
        removed += 1;
        added.extend(clip(h.range, i128::MIN, from));
        added.extend(clip(h.range, to, i128::MAX));
        false
    });
    let n = added.len();
    held.extend(added.into_iter().map(|range| Held {
        owner: owner.clone(),
        range,
    }));
    (removed, n)
}

/// The byte-range locks of one share.
#[derive(Debug, Default)]
pub(crate) struct LockManager {
    nodes: BTreeMap<(u64, u64), NodeLocks>,
    limits: Limits,
    held: usize,
    waiting: usize,
    per_owner: BTreeMap<LockOwner, usize>,
    next_waiter: u64,
    /// Where the number of held locks is published for readers outside the actor (I/O on
    /// a share without locks skips the mailbox): written before any grant is answered.
    gauge: Option<Arc<AtomicUsize>>,
    /// Confirm mode: waiters granted are handed over through `granted`, not answered.
    confirm: bool,
    /// Grants waiting for [`LockManager::take_granted`] (confirm mode only).
    granted: Vec<Grant>,
}

/// One lock fewer for `owner`.
fn dec(per_owner: &mut BTreeMap<LockOwner, usize>, owner: &LockOwner) {
    if let Some(c) = per_owner.get_mut(owner) {
        *c -= 1;
        if *c == 0 {
            per_owner.remove(owner);
        }
    }
}

fn key(node: Node) -> (u64, u64) {
    (node.ino.0, node.generation.0)
}

/// The manager's key of a node.
pub(crate) fn node_key(node: Node) -> (u64, u64) {
    key(node)
}

/// The node of a key [`node_key`] made.
pub(crate) fn node_of_key(k: (u64, u64)) -> Node {
    node_of(k)
}

fn node_of(k: (u64, u64)) -> Node {
    Node {
        ino: stores::InodeId(k.0),
        generation: stores::Generation(k.1),
    }
}

/// The parts of `owner`'s locks in `held` that lie inside `r` (what a POSIX lock on `r`
/// replaces).
fn inside(held: &[Held], owner: &LockOwner, r: LockRange) -> Vec<LockRange> {
    held.iter()
        .filter(|h| h.owner == *owner)
        .filter_map(|h| clip(h.range, i128::from(r.offset), end(r)))
        .collect()
}

impl LockManager {
    /// A manager with the given bounds.
    #[cfg(test)]
    pub(crate) fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// A manager that publishes its number of held locks in `gauge`.
    pub(crate) fn with_gauge(gauge: Arc<AtomicUsize>) -> Self {
        Self {
            gauge: Some(gauge),
            ..Self::default()
        }
    }

    /// Locks held on the share.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        self.held
    }

    fn publish(&self) {
        if let Some(g) = &self.gauge {
            g.store(self.held, Ordering::Release);
        }
    }

    /// Requests waiting on the share.
    #[cfg(test)]
    pub(crate) fn waiting(&self) -> usize {
        self.waiting
    }

    /// Takes every range of `ranges` for `owner` on `node`, all or none: a range that cannot
    /// be granted undoes the ones before it. A single range with `wait` that conflicts is
    /// queued instead of refused.
    pub(crate) fn lock(
        &mut self,
        node: Node,
        owner: &LockOwner,
        ranges: &[LockRange],
        wait: bool,
    ) -> Result<Locked, LockError> {
        let n = self.nodes.entry(key(node)).or_default();
        let mut taken = 0usize;
        let mut failure = None;
        for r in ranges {
            if !valid_range(r.offset, r.length) {
                failure = Some(LockError::InvalidRange);
                break;
            }
            let blocked = n
                .held
                .iter()
                .any(|h| lock_conflicts(&h.owner, h.range, owner, *r))
                || n.waiting
                    .iter()
                    .any(|w| w.owner != *owner && lock_conflicts(&w.owner, w.range, owner, *r));
            if blocked {
                failure = Some(LockError::Conflict);
                break;
            }
            let mine = self.per_owner.get(owner).copied().unwrap_or(0);
            if self.held >= self.limits.locks || mine >= self.limits.per_owner {
                failure = Some(LockError::NoLocks);
                break;
            }
            if owner.is_posix() {
                // POSIX replace: the new lock takes over the bytes of the owner's own locks
                // it covers. NLM sends one range per request, so nothing needs undoing.
                let (removed, added) = posix_cut(&mut n.held, owner, *r);
                self.held = self.held + added - removed;
                let c = self.per_owner.entry(owner.clone()).or_insert(0);
                *c = *c + added - removed;
            }
            n.held.push(Held {
                owner: owner.clone(),
                range: *r,
            });
            self.held += 1;
            *self.per_owner.entry(owner.clone()).or_insert(0) += 1;
            taken += 1;
        }
        let Some(err) = failure else {
            self.publish();
            return Ok(Locked::Granted);
        };
        // All or nothing: undo what this request took (the newest `taken` of this owner's
        // locks are exactly its own, pushed last).
        for _ in 0..taken {
            if let Some(pos) = n.held.iter().rposition(|h| h.owner == *owner) {
                n.held.remove(pos);
                self.held -= 1;
                dec(&mut self.per_owner, owner);
            }
        }
        if err == LockError::Conflict && wait && ranges.len() == 1 {
            if self.waiting >= self.limits.waiters {
                self.forget_if_empty(node);
                return Err(LockError::NoLocks);
            }
            let (reply, rx) = oneshot::channel();
            self.next_waiter += 1;
            let id = self.next_waiter;
            let n = self.nodes.entry(key(node)).or_default();
            n.waiting.push_back(Waiter {
                id,
                owner: owner.clone(),
                range: ranges[0],
                reply,
                parked: false,
            });
            self.waiting += 1;
            return Ok(Locked::Queued { id, rx });
        }
        self.forget_if_empty(node);
        Err(err)
    }

    /// Removes one lock of `owner` on `node` with exactly this offset and length (an
    /// exclusive one first, [MS-FSA] 2.1.5.9), then grants what waited on it.
    pub(crate) fn unlock(
        &mut self,
        node: Node,
        owner: &LockOwner,
        offset: u64,
        length: u64,
    ) -> Result<(), LockError> {
        if !valid_range(offset, length) {
            return Err(LockError::InvalidRange);
        }
        let Some(n) = self.nodes.get_mut(&key(node)) else {
            return Err(LockError::RangeNotLocked);
        };
        let mut found = None;
        for (i, h) in n.held.iter().enumerate() {
            if h.owner == *owner && h.range.offset == offset && h.range.length == length {
                found = Some(i);
                if h.range.exclusive {
                    break;
                }
            }
        }
        let Some(i) = found else {
            return Err(LockError::RangeNotLocked);
        };
        n.held.remove(i);
        self.held -= 1;
        self.owner_dec(owner);
        self.wake(node);
        Ok(())
    }

    /// POSIX unlock for an NLM owner: releases every byte of `[offset, offset + length)`
    /// that `owner` holds on `node`, trimming or splitting locks that reach outside it, then
    /// grants what waited. Unlocking bytes the owner does not hold is not an error (POSIX).
    pub(crate) fn unlock_posix(
        &mut self,
        node: Node,
        owner: &LockOwner,
        offset: u64,
        length: u64,
    ) -> Result<(), LockError> {
        if !valid_range(offset, length) {
            return Err(LockError::InvalidRange);
        }
        let Some(n) = self.nodes.get_mut(&key(node)) else {
            return Ok(());
        };
        let cut = LockRange {
            offset,
            length,
            exclusive: true,
        };
        let (removed, added) = posix_cut(&mut n.held, owner, cut);
        self.held = self.held + added - removed;
        for _ in 0..removed {
            self.owner_dec(owner);
        }
        if added > 0 {
            *self.per_owner.entry(owner.clone()).or_insert(0) += added;
        }
        self.wake(node);
        Ok(())
    }

    /// The first held lock that would stop `owner` from taking `range` on `node` (NLM TEST,
    /// POSIX F_GETLK): its owner and range; `None` when the lock would be granted now.
    pub(crate) fn test(
        &self,
        node: Node,
        owner: &LockOwner,
        range: LockRange,
    ) -> Option<(LockOwner, LockRange)> {
        let n = self.nodes.get(&key(node))?;
        n.held
            .iter()
            .find(|h| lock_conflicts(&h.owner, h.range, owner, range))
            .map(|h| (h.owner.clone(), h.range))
    }

    /// Whether `owner` may do `io` on `[offset, offset + length)` of `node`: a conflict is
    /// [`LockError::Conflict`] (SMB: STATUS_FILE_LOCK_CONFLICT). Zero-length accesses never
    /// conflict. Waiters do not count: they hold nothing yet.
    pub(crate) fn check(
        &self,
        node: Node,
        owner: &LockOwner,
        io: Io,
        offset: u64,
        length: u64,
    ) -> Result<(), LockError> {
        if length == 0 {
            return Ok(());
        }
        let Some(n) = self.nodes.get(&key(node)) else {
            return Ok(());
        };
        // A range reaching past the last offset is checked up to it.
        let length = length.min(u64::MAX - offset).max(1);
        let blocked = n.held.iter().any(|h| {
            overlap(h.range.offset, h.range.length, offset, length)
                && if h.range.exclusive {
                    h.owner != *owner
                } else {
                    io == Io::Write
                }
        });
        if blocked {
            Err(LockError::Conflict)
        } else {
            Ok(())
        }
    }

    /// Drops every lock the owners in `scope` hold, answers their waiting requests
    /// [`LockError::Cancelled`], and grants what waited on the locks dropped.
    pub(crate) fn release(&mut self, scope: &Scope) {
        let keys: Vec<(u64, u64)> = self.nodes.keys().copied().collect();
        for k in keys {
            let Some(n) = self.nodes.get_mut(&k) else {
                continue;
            };
            let mut dropped = Vec::new();
            n.held.retain(|h| {
                if scope.covers(&h.owner) {
                    dropped.push(h.owner.clone());
                    false
                } else {
                    true
                }
            });
            let mut gone = Vec::new();
            let mut kept = VecDeque::with_capacity(n.waiting.len());
            for w in n.waiting.drain(..) {
                if scope.covers(&w.owner) {
                    gone.push(w);
                } else {
                    kept.push_back(w);
                }
            }
            n.waiting = kept;
            for o in &dropped {
                self.held -= 1;
                self.owner_dec(o);
            }
            for w in gone {
                self.waiting -= 1;
                let _ = w.reply.send(Err(LockError::Cancelled));
            }
            self.wake_key(k);
        }
    }

    /// Gives every lock held by the owners in `scope` to `to` (an SMB durable open reconnected
    /// on another connection keeps its locks, [MS-SMB2] 3.3.5.9.7). Waiting requests are left
    /// alone: a disconnected open has none (its connection's end cancelled them).
    pub(crate) fn reown(&mut self, scope: Scope, to: &LockOwner) {
        let mut moved = 0usize;
        for n in self.nodes.values_mut() {
            for h in n.held.iter_mut().filter(|h| scope.covers(&h.owner)) {
                dec(&mut self.per_owner, &h.owner);
                h.owner = to.clone();
                moved += 1;
            }
        }
        if moved > 0 {
            *self.per_owner.entry(to.clone()).or_insert(0) += moved;
        }
    }

    /// Removes waiting request `id` (its requester gave up); a request already granted is
    /// left alone (the requester unlocks what it was granted).
    pub(crate) fn cancel(&mut self, node: Node, id: u64) {
        let Some(n) = self.nodes.get_mut(&key(node)) else {
            return;
        };
        if let Some(pos) = n.waiting.iter().position(|w| w.id == id) {
            if let Some(w) = n.waiting.remove(pos) {
                let _ = w.reply.send(Err(LockError::Cancelled));
            }
            self.waiting -= 1;
            self.wake(node);
        }
    }

    /// Switches confirm mode on: waiters granted from now on are handed to
    /// [`LockManager::take_granted`] instead of being answered.
    pub(crate) fn confirm_grants(&mut self) {
        self.confirm = true;
    }

    /// The grants made in confirm mode since the last call.
    pub(crate) fn take_granted(&mut self) -> Vec<Grant> {
        std::mem::take(&mut self.granted)
    }

    /// The parts of `owner`'s locks on `node` inside each of `ranges` (what a POSIX lock on
    /// each would replace); empty lists for an SMB owner, whose locks stack.
    pub(crate) fn displaced(
        &self,
        node: Node,
        owner: &LockOwner,
        ranges: &[LockRange],
    ) -> Vec<Vec<LockRange>> {
        let n = self.nodes.get(&key(node));
        ranges
            .iter()
            .map(|r| match n {
                Some(n) if owner.is_posix() => inside(&n.held, owner, *r),
                _ => Vec::new(),
            })
            .collect()
    }

    /// The locks `owner` holds on `node`.
    pub(crate) fn owner_ranges(&self, node: Node, owner: &LockOwner) -> Vec<LockRange> {
        self.nodes.get(&key(node)).map_or_else(Vec::new, |n| {
            n.held
                .iter()
                .filter(|h| h.owner == *owner)
                .map(|h| h.range)
                .collect()
        })
    }

    /// Every (node, owner) pair of the owners in `scope` that holds a lock, in order.
    pub(crate) fn holders(&self, scope: &Scope) -> Vec<(Node, LockOwner)> {
        let mut out = std::collections::BTreeSet::new();
        for (k, n) in &self.nodes {
            for h in n.held.iter().filter(|h| scope.covers(&h.owner)) {
                out.insert((*k, h.owner.clone()));
            }
        }
        out.into_iter().map(|(k, o)| (node_of(k), o)).collect()
    }

    /// Takes back a grant of `range` to `owner` on `node` (the other gateways refused it):
    /// removes that lock and, for a POSIX owner, gives back the parts of its own locks the
    /// grant had replaced (`displaced`); then grants what can go. Whether the lock was still
    /// held (it is not once its owner released everything meanwhile).
    pub(crate) fn undo_grant(
        &mut self,
        node: Node,
        owner: &LockOwner,
        range: LockRange,
        displaced: &[LockRange],
    ) -> bool {
        let Some(n) = self.nodes.get_mut(&key(node)) else {
            return false;
        };
        let Some(pos) = n
            .held
            .iter()
            .rposition(|h| h.owner == *owner && h.range == range)
        else {
            return false;
        };
        n.held.remove(pos);
        self.held -= 1;
        dec(&mut self.per_owner, owner);
        if owner.is_posix() {
            for r in displaced {
                n.held.push(Held {
                    owner: owner.clone(),
                    range: *r,
                });
            }
            self.held += displaced.len();
            if !displaced.is_empty() {
                *self.per_owner.entry(owner.clone()).or_insert(0) += displaced.len();
            }
        }
        self.wake(node);
        true
    }

    /// Queues a parked waiter for `owner` on `node` (blocked by another gateway's lock): with
    /// `id` (a waiter granted and taken back, which keeps its id and goes first) or a new
    /// one (a request granted at once and taken back, which goes last). Returns its id and,
    /// for a new waiter, where its answer comes.
    pub(crate) fn park(
        &mut self,
        node: Node,
        owner: &LockOwner,
        range: LockRange,
        again: Option<(u64, WaitReply)>,
    ) -> (u64, Option<oneshot::Receiver<Result<(), LockError>>>) {
        let n = self.nodes.entry(key(node)).or_default();
        self.waiting += 1;
        match again {
            Some((id, reply)) => {
                n.waiting.push_front(Waiter {
                    id,
                    owner: owner.clone(),
                    range,
                    reply,
                    parked: true,
                });
                (id, None)
            }
            None => {
                let (reply, rx) = oneshot::channel();
                self.next_waiter += 1;
                let id = self.next_waiter;
                n.waiting.push_back(Waiter {
                    id,
                    owner: owner.clone(),
                    range,
                    reply,
                    parked: true,
                });
                (id, Some(rx))
            }
        }
    }

    /// Whether a waiter is parked.
    pub(crate) fn has_parked(&self) -> bool {
        self.nodes
            .values()
            .any(|n| n.waiting.iter().any(|w| w.parked))
    }

    /// Unparks every parked waiter and grants what can go (in confirm mode, to be confirmed
    /// again).
    pub(crate) fn unpark_all(&mut self) {
        let keys: Vec<(u64, u64)> = self
            .nodes
            .iter()
            .filter(|(_, n)| n.waiting.iter().any(|w| w.parked))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            if let Some(n) = self.nodes.get_mut(&k) {
                for w in &mut n.waiting {
                    w.parked = false;
                }
            }
            self.wake_key(k);
        }
    }

    fn owner_dec(&mut self, owner: &LockOwner) {
        dec(&mut self.per_owner, owner);
    }

    fn forget_if_empty(&mut self, node: Node) {
        let k = key(node);
        if self
            .nodes
            .get(&k)
            .is_some_and(|n| n.held.is_empty() && n.waiting.is_empty())
        {
            self.nodes.remove(&k);
        }
    }

    fn wake(&mut self, node: Node) {
        self.wake_key(key(node));
    }

    /// Grants, in FIFO order, every waiter on node `k` that conflicts neither with a held
    /// lock nor with an earlier waiter still waiting; waiters whose requester is gone are
    /// dropped.
    fn wake_key(&mut self, k: (u64, u64)) {
        let Some(n) = self.nodes.get_mut(&k) else {
            return;
        };
        let mut still: VecDeque<Waiter> = VecDeque::with_capacity(n.waiting.len());
        let mut granted = Vec::new();
        let mut dropped = 0usize;
        let mut confirmed = 0usize;
        for w in n.waiting.drain(..) {
            if w.reply.is_closed() {
                dropped += 1;
                continue;
            }
            if w.parked {
                still.push_back(w);
                continue;
            }
            let blocked = n
                .held
                .iter()
                .any(|h| lock_conflicts(&h.owner, h.range, &w.owner, w.range))
                || still.iter().any(|e| {
                    e.owner != w.owner && lock_conflicts(&e.owner, e.range, &w.owner, w.range)
                });
            let mine = self.per_owner.get(&w.owner).copied().unwrap_or(0);
            if blocked || self.held >= self.limits.locks || mine >= self.limits.per_owner {
                still.push_back(w);
                continue;
            }
            let mut displaced = Vec::new();
            if w.owner.is_posix() {
                displaced = inside(&n.held, &w.owner, w.range);
                let (removed, added) = posix_cut(&mut n.held, &w.owner, w.range);
                self.held = self.held + added - removed;
                let c = self.per_owner.entry(w.owner.clone()).or_insert(0);
                *c = *c + added - removed;
            }
            n.held.push(Held {
                owner: w.owner.clone(),
                range: w.range,
            });
            self.held += 1;
            *self.per_owner.entry(w.owner.clone()).or_insert(0) += 1;
            if self.confirm {
                confirmed += 1;
                self.granted.push(Grant {
                    node: node_of(k),
                    id: w.id,
                    owner: w.owner,
                    range: w.range,
                    displaced,
                    reply: w.reply,
                });
                continue;
            }
            granted.push(w);
        }
        n.waiting = still;
        self.waiting -= dropped + granted.len() + confirmed;
        if let Some(g) = &self.gauge {
            g.store(self.held, Ordering::Release);
        }
        for w in granted {
            if w.reply.send(Ok(())).is_err() {
                // The requester went away between the check and now: take it back.
                if let Some(pos) = n
                    .held
                    .iter()
                    .rposition(|h| h.owner == w.owner && h.range == w.range)
                {
                    n.held.remove(pos);
                    self.held -= 1;
                    dec(&mut self.per_owner, &w.owner);
                }
            }
        }
        if n.held.is_empty() && n.waiting.is_empty() {
            self.nodes.remove(&k);
        }
        self.publish();
    }
}

#[cfg(test)]
mod tests {
    use stores::{Generation, InodeId};

    use super::*;

    fn node(i: u64) -> Node {
        Node {
            ino: InodeId(i),
            generation: Generation(1),
        }
    }

    fn smb(open: u64) -> LockOwner {
        LockOwner::Smb {
            conn: 1,
            session: 7,
            open,
        }
    }

    fn ex(offset: u64, length: u64) -> LockRange {
        LockRange {
            offset,
            length,
            exclusive: true,
        }
    }

    fn sh(offset: u64, length: u64) -> LockRange {
        LockRange {
            offset,
            length,
            exclusive: false,
        }
    }

    fn take(m: &mut LockManager, o: &LockOwner, r: LockRange) -> Result<(), LockError> {
        m.lock(node(1), o, &[r], false).map(|_| ())
    }

    /// Goal: exclusive and shared locks conflict across owners as Windows' do, and stack on
    /// one owner as Windows' do (smbtorture smb2.lock.stacking, contend, overlap).
    #[test]
    fn conflicts_and_stacking() {
        let mut m = LockManager::default();
        let (a, b) = (smb(1), smb(2));
        take(&mut m, &a, ex(0, 10)).unwrap();
        assert_eq!(take(&mut m, &b, sh(5, 1)), Err(LockError::Conflict));
        assert_eq!(take(&mut m, &b, ex(9, 5)), Err(LockError::Conflict));
        take(&mut m, &b, ex(10, 5)).unwrap();
        // The owner stacks shared locks on its exclusive one, never a second exclusive.
        take(&mut m, &a, sh(0, 10)).unwrap();
        assert_eq!(take(&mut m, &a, ex(0, 10)), Err(LockError::Conflict));
        // Shared locks of different owners overlap freely.
        take(&mut m, &a, sh(100, 10)).unwrap();
        take(&mut m, &b, sh(105, 10)).unwrap();
        assert_eq!(m.held(), 5);
    }

    /// Goal: zero-length locks follow [MS-FSA] 2.1.4.10 (smbtorture smb2.lock.zerobytelength
    /// table): a zero-length lock at 10 conflicts with [9, 10] and [9, 11] only.
    #[test]
    fn zero_length_locks() {
        let cases = [
            ((10, 0), (10, 0), true),
            ((10, 0), (9, 1), true),
            ((10, 0), (10, 1), true),
            ((10, 0), (11, 1), true),
            ((10, 0), (9, 2), false),
            ((10, 0), (10, 2), true),
            ((10, 0), (9, 3), false),
            ((9, 2), (10, 0), false),
            ((9, 3), (10, 0), false),
            ((0, 0), (0, 0), true),
        ];
        for ((o1, l1), (o2, l2), ok) in cases {
            for second in [smb(1), smb(2)] {
                let mut m = LockManager::default();
                take(&mut m, &smb(1), ex(o1, l1)).unwrap();
                assert_eq!(
                    take(&mut m, &second, ex(o2, l2)).is_ok(),
                    ok,
                    "{o1}/{l1} then {o2}/{l2} by {second:?}"
                );
            }
        }
    }

    /// Goal: ranges up to the last 64-bit offset lock; ranges past it are INVALID_LOCK_RANGE.
    #[test]
    fn ranges_up_to_2_64() {
        let mut m = LockManager::default();
        take(&mut m, &smb(1), ex(u64::MAX, 1)).unwrap();
        take(&mut m, &smb(1), ex(u64::MAX, 0)).unwrap();
        assert_eq!(
            take(&mut m, &smb(2), ex(u64::MAX, 1)),
            Err(LockError::Conflict)
        );
        assert_eq!(
            take(&mut m, &smb(1), ex(u64::MAX, 2)),
            Err(LockError::InvalidRange)
        );
        assert_eq!(
            take(&mut m, &smb(1), ex(u64::MAX, u64::MAX)),
            Err(LockError::InvalidRange)
        );
        take(&mut m, &smb(1), ex(1 << 63, 1)).unwrap();
        assert_eq!(
            take(&mut m, &smb(2), ex((1 << 63) - 1, 2)),
            Err(LockError::Conflict)
        );
    }

    /// Goal: unlock removes one exactly matching lock of the owner, exclusive first, and a
    /// range not held (or held by another owner, or with another length) is RANGE_NOT_LOCKED.
    #[test]
    fn unlock_exact_ranges() {
        let mut m = LockManager::default();
        let (a, b) = (smb(1), smb(2));
        take(&mut m, &a, ex(10, 10)).unwrap();
        take(&mut m, &a, sh(10, 10)).unwrap();
        assert_eq!(
            m.unlock(node(1), &b, 10, 10),
            Err(LockError::RangeNotLocked)
        );
        assert_eq!(m.unlock(node(1), &a, 10, 5), Err(LockError::RangeNotLocked));
        m.unlock(node(1), &a, 10, 10).unwrap();
        // The exclusive one went: another owner may share now, not write.
        take(&mut m, &b, sh(5, 10)).unwrap();
        assert_eq!(
            m.check(node(1), &b, Io::Write, 12, 1),
            Err(LockError::Conflict)
        );
        m.unlock(node(1), &a, 10, 10).unwrap();
        assert_eq!(
            m.unlock(node(1), &a, 10, 10),
            Err(LockError::RangeNotLocked)
        );
        assert_eq!(
            m.unlock(node(2), &a, 10, 10),
            Err(LockError::RangeNotLocked)
        );
    }

    /// Goal: an upgrade from shared to exclusive by the same owner is refused while its
    /// shared lock is held (Windows does not convert), and granted once it is unlocked.
    #[test]
    fn upgrade() {
        let mut m = LockManager::default();
        let a = smb(1);
        take(&mut m, &a, sh(0, 10)).unwrap();
        assert_eq!(take(&mut m, &a, ex(0, 10)), Err(LockError::Conflict));
        m.unlock(node(1), &a, 0, 10).unwrap();
        take(&mut m, &a, ex(0, 10)).unwrap();
    }

    /// Goal: a request of several ranges is all or nothing.
    #[test]
    fn all_or_nothing() {
        let mut m = LockManager::default();
        let (a, b) = (smb(1), smb(2));
        take(&mut m, &b, ex(10, 10)).unwrap();
        let r = m.lock(node(1), &a, &[ex(0, 10), ex(10, 10)], false);
        assert!(matches!(r, Err(LockError::Conflict)));
        assert_eq!(m.held(), 1);
        take(&mut m, &b, ex(0, 10)).unwrap();
    }

    /// Goal: I/O checks: others' exclusive locks stop reads and writes, shared locks stop
    /// writes (the owner's own too), the owner's exclusive lock stops nothing of its own.
    #[test]
    fn io_checks() {
        let mut m = LockManager::default();
        let (a, b) = (smb(1), smb(2));
        take(&mut m, &a, ex(0, 100)).unwrap();
        take(&mut m, &a, sh(100, 100)).unwrap();
        let n = node(1);
        assert_eq!(m.check(n, &a, Io::Read, 0, 10), Ok(()));
        assert_eq!(m.check(n, &a, Io::Write, 0, 10), Ok(()));
        assert_eq!(m.check(n, &b, Io::Read, 50, 10), Err(LockError::Conflict));
        assert_eq!(m.check(n, &b, Io::Write, 99, 10), Err(LockError::Conflict));
        assert_eq!(m.check(n, &a, Io::Read, 150, 10), Ok(()));
        assert_eq!(m.check(n, &b, Io::Read, 150, 10), Ok(()));
        assert_eq!(m.check(n, &a, Io::Write, 150, 10), Err(LockError::Conflict));
        assert_eq!(m.check(n, &b, Io::Write, 200, 10), Ok(()));
        assert_eq!(m.check(n, &b, Io::Read, 5, 0), Ok(()));
        assert_eq!(m.check(node(2), &b, Io::Write, 0, 10), Ok(()));
    }

    /// Goal: a waiter is granted when the conflict goes; waiters are served in order and a
    /// later request never overtakes an earlier waiter it conflicts with.
    #[test]
    fn fifo_fairness() {
        let mut m = LockManager::default();
        let (a, b, c) = (smb(1), smb(2), smb(3));
        take(&mut m, &a, sh(0, 10)).unwrap();
        let Ok(Locked::Queued { rx: mut rb, .. }) = m.lock(node(1), &b, &[ex(0, 10)], true) else {
            panic!("b should wait");
        };
        // c's shared lock would fit beside a's, but b asked first for an exclusive one.
        assert_eq!(take(&mut m, &c, sh(5, 1)), Err(LockError::Conflict));
        let Ok(Locked::Queued { rx: mut rc, .. }) = m.lock(node(1), &c, &[sh(5, 1)], true) else {
            panic!("c should wait");
        };
        assert_eq!(m.waiting(), 2);
        m.unlock(node(1), &a, 0, 10).unwrap();
        assert_eq!(rb.try_recv(), Ok(Ok(())));
        assert!(rc.try_recv().is_err(), "c waits for b");
        m.unlock(node(1), &b, 0, 10).unwrap();
        assert_eq!(rc.try_recv(), Ok(Ok(())));
        assert_eq!(m.waiting(), 0);
        assert_eq!(m.held(), 1);
    }

    /// Goal: cancelling a waiter removes it (the next one is served), and a waiter whose
    /// requester dropped its receiver is skipped.
    #[test]
    fn cancellation() {
        let mut m = LockManager::default();
        let (a, b, c) = (smb(1), smb(2), smb(3));
        take(&mut m, &a, ex(0, 10)).unwrap();
        let Ok(Locked::Queued { id, rx: mut rb }) = m.lock(node(1), &b, &[ex(0, 10)], true) else {
            panic!("b should wait");
        };
        let Ok(Locked::Queued { rx: rc, .. }) = m.lock(node(1), &c, &[ex(0, 10)], true) else {
            panic!("c should wait");
        };
        m.cancel(node(1), id);
        assert_eq!(rb.try_recv(), Ok(Err(LockError::Cancelled)));
        drop(rc);
        m.unlock(node(1), &a, 0, 10).unwrap();
        assert_eq!(m.waiting(), 0);
        assert_eq!(m.held(), 0);
        take(&mut m, &b, ex(0, 10)).unwrap();
    }

    /// Goal: releasing an open drops its locks and its waiting requests and serves the
    /// others; releasing a session or connection covers its opens only.
    #[test]
    fn release_on_close() {
        let mut m = LockManager::default();
        let (a, b) = (smb(1), smb(2));
        take(&mut m, &a, ex(0, 10)).unwrap();
        take(&mut m, &b, ex(20, 10)).unwrap();
        let Ok(Locked::Queued { rx: mut ra, .. }) = m.lock(node(1), &a, &[ex(20, 1)], true) else {
            panic!("a should wait");
        };
        let Ok(Locked::Queued { rx: mut rb, .. }) = m.lock(node(1), &b, &[ex(0, 1)], true) else {
            panic!("b should wait");
        };
        m.release(&Scope::Open { conn: 1, open: 1 });
        assert_eq!(ra.try_recv(), Ok(Err(LockError::Cancelled)));
        assert_eq!(rb.try_recv(), Ok(Ok(())));
        let other = LockOwner::Smb {
            conn: 2,
            session: 7,
            open: 1,
        };
        take(&mut m, &other, ex(100, 1)).unwrap();
        m.release(&Scope::Session {
            conn: 1,
            session: 7,
        });
        assert_eq!(m.held(), 1);
        m.release(&Scope::Connection { conn: 2 });
        assert_eq!(m.held(), 0);
        assert!(m.nodes.is_empty());
    }

    /// Goal: the locks of a reconnected durable open move to its new owner: they still
    /// conflict with others, the new owner may unlock them, the old owner holds nothing.
    #[test]
    fn reown_moves_locks() {
        let mut m = LockManager::default();
        let (old, other) = (smb(1), smb(2));
        let new = LockOwner::Smb {
            conn: 9,
            session: 3,
            open: 4,
        };
        take(&mut m, &old, ex(0, 10)).unwrap();
        take(&mut m, &old, sh(20, 5)).unwrap();
        m.reown(Scope::Open { conn: 1, open: 1 }, &new);
        assert_eq!(m.held(), 2);
        assert_eq!(take(&mut m, &other, ex(5, 1)), Err(LockError::Conflict));
        assert_eq!(
            m.unlock(node(1), &old, 0, 10),
            Err(LockError::RangeNotLocked)
        );
        assert_eq!(m.check(node(1), &new, Io::Write, 0, 10), Ok(()));
        m.unlock(node(1), &new, 0, 10).unwrap();
        m.unlock(node(1), &new, 20, 5).unwrap();
        assert!(m.per_owner.is_empty() && m.nodes.is_empty());
    }

    /// Goal: the bounds hold: per owner, per share and waiters, each answered NoLocks.
    #[test]
    fn bounds() {
        let mut m = LockManager::with_limits(Limits {
            locks: 3,
            per_owner: 2,
            waiters: 1,
        });
        let (a, b) = (smb(1), smb(2));
        take(&mut m, &a, ex(0, 1)).unwrap();
        take(&mut m, &a, ex(1, 1)).unwrap();
        assert_eq!(take(&mut m, &a, ex(2, 1)), Err(LockError::NoLocks));
        take(&mut m, &b, ex(3, 1)).unwrap();
        assert_eq!(take(&mut m, &b, ex(4, 1)), Err(LockError::NoLocks));
        assert!(matches!(
            m.lock(node(1), &b, &[ex(0, 1)], true),
            Ok(Locked::Queued { .. })
        ));
        assert!(matches!(
            m.lock(node(1), &b, &[ex(1, 1)], true),
            Err(LockError::NoLocks)
        ));
    }

    fn nlm(host: &str, svid: u32) -> LockOwner {
        LockOwner::Nlm {
            host: host.to_owned(),
            svid,
            owner: format!("{svid}@{host}").into_bytes(),
        }
    }

    /// The ranges `o` holds on node 1, sorted.
    fn ranges(m: &LockManager, o: &LockOwner) -> Vec<(u64, u64, bool)> {
        let mut v: Vec<_> = m.nodes.get(&key(node(1))).map_or_else(Vec::new, |n| {
            n.held
                .iter()
                .filter(|h| h.owner == *o)
                .map(|h| (h.range.offset, h.range.length, h.range.exclusive))
                .collect()
        });
        v.sort_unstable();
        v
    }

    /// Goal: an NLM owner gets POSIX semantics among its own locks: a new lock replaces the
    /// bytes it covers (upgrade, downgrade, split), a partial unlock trims or splits, unlocking
    /// what it does not hold succeeds, and the counts stay exact. Method: one owner, checked
    /// range by range.
    #[test]
    fn posix_owner_replaces_and_splits() {
        let mut m = LockManager::default();
        let a = nlm("a", 1);
        take(&mut m, &a, sh(0, 100)).unwrap();
        // Upgrade the middle: shared 0..40, exclusive 40..60, shared 60..100.
        take(&mut m, &a, ex(40, 20)).unwrap();
        assert_eq!(
            ranges(&m, &a),
            [(0, 40, false), (40, 20, true), (60, 40, false)]
        );
        assert_eq!(m.held(), 3);
        // A second exclusive lock over its own exclusive one is no conflict.
        take(&mut m, &a, ex(50, 20)).unwrap();
        assert_eq!(
            ranges(&m, &a),
            [
                (0, 40, false),
                (40, 10, true),
                (50, 20, true),
                (70, 30, false)
            ]
        );
        // Unlock across three locks; unlock of nothing held is fine.
        m.unlock_posix(node(1), &a, 30, 45).unwrap();
        assert_eq!(ranges(&m, &a), [(0, 30, false), (75, 25, false)]);
        m.unlock_posix(node(1), &a, 1000, 5).unwrap();
        m.unlock_posix(node(2), &a, 0, 5).unwrap();
        assert_eq!(m.held(), 2);
        assert_eq!(m.per_owner.get(&a), Some(&2));
        m.unlock_posix(node(1), &a, 0, u64::MAX).unwrap();
        assert_eq!(m.held(), 0);
        assert!(m.per_owner.is_empty());
    }

    /// Goal: NLM owners conflict with each other and with SMB opens both ways, for locks and
    /// for SMB I/O; TEST names the holder; a waiter of one protocol is granted when the
    /// other's lock goes. Method: two NLM owners and an SMB open on one node.
    #[test]
    fn nlm_and_smb_conflict() {
        let mut m = LockManager::default();
        let (a, b, s) = (nlm("a", 1), nlm("b", 2), smb(1));
        take(&mut m, &a, ex(0, 10)).unwrap();
        assert_eq!(take(&mut m, &b, sh(5, 1)), Err(LockError::Conflict));
        assert_eq!(take(&mut m, &s, sh(5, 1)), Err(LockError::Conflict));
        assert_eq!(m.test(node(1), &s, sh(5, 1)), Some((a.clone(), ex(0, 10))));
        assert_eq!(m.test(node(1), &a, ex(5, 1)), None, "never its own holder");
        assert_eq!(
            m.check(node(1), &s, Io::Read, 0, 1),
            Err(LockError::Conflict)
        );
        // The SMB open waits; the NLM unlock grants it; then NLM is refused.
        let Ok(Locked::Queued { mut rx, .. }) = m.lock(node(1), &s, &[ex(0, 10)], true) else {
            panic!("not queued")
        };
        m.unlock_posix(node(1), &a, 0, 10).unwrap();
        assert_eq!(rx.try_recv(), Ok(Ok(())));
        assert_eq!(take(&mut m, &a, sh(9, 1)), Err(LockError::Conflict));
        assert_eq!(m.test(node(1), &b, sh(0, 1)), Some((s.clone(), ex(0, 10))));
        // Releasing a host drops only that host's locks.
        take(&mut m, &b, sh(20, 5)).unwrap();
        take(&mut m, &a, sh(20, 5)).unwrap();
        m.release(&Scope::NlmHost { host: "b".into() });
        assert_eq!(ranges(&m, &b), []);
        assert_eq!(ranges(&m, &a), [(20, 5, false)]);
        m.release(&Scope::NlmOwner(a.clone()));
        assert_eq!(ranges(&m, &a), []);
        assert_eq!(m.held(), 1);
    }

    /// Goal: owner bytes round-trip for both kinds, and junk decodes without panicking.
    #[test]
    fn owner_bytes_round_trip() {
        for o in [smb(3), nlm("client.example", 77)] {
            assert_eq!(LockOwner::from_bytes(&o.to_bytes()), o);
        }
        for junk in [&b""[..], b"S", b"N\0\0\0\x01\xff\xff", b"xyz"] {
            let _ = LockOwner::from_bytes(junk);
        }
    }

    /// Goal: in confirm mode a granted waiter is handed over, not answered; undoing the
    /// grant restores a POSIX owner's replaced locks; a parked waiter keeps later conflicting
    /// requests behind it and is granted again only after unpark. Method: one node, an NLM
    /// owner upgrading under another owner's shared lock.
    #[test]
    fn confirm_mode_park_and_undo() {
        let mut m = LockManager::default();
        m.confirm_grants();
        let (a, b, c) = (nlm("a", 1), nlm("b", 2), nlm("c", 3));
        take(&mut m, &a, sh(0, 10)).unwrap();
        take(&mut m, &b, sh(0, 10)).unwrap();
        let Ok(Locked::Queued { id, mut rx }) = m.lock(node(1), &a, &[ex(0, 10)], true) else {
            panic!("a should wait");
        };
        m.unlock_posix(node(1), &b, 0, 10).unwrap();
        assert!(
            rx.try_recv().is_err(),
            "not answered before the confirmation"
        );
        let mut grants = m.take_granted();
        assert_eq!(grants.len(), 1);
        let g = grants.pop().expect("one grant");
        assert_eq!((g.id, g.range), (id, ex(0, 10)));
        assert_eq!(g.displaced, vec![sh(0, 10)]);
        assert_eq!(ranges(&m, &a), [(0, 10, true)]);
        // Another gateway refuses it: back to a's shared lock, and a waits parked.
        assert!(m.undo_grant(g.node, &g.owner, g.range, &g.displaced));
        assert_eq!(ranges(&m, &a), [(0, 10, false)]);
        m.park(g.node, &g.owner, g.range, Some((g.id, g.reply)));
        assert!(m.has_parked());
        assert_eq!(take(&mut m, &c, sh(5, 1)), Err(LockError::Conflict));
        m.unlock_posix(node(1), &c, 0, 1).unwrap();
        assert!(
            m.take_granted().is_empty(),
            "parked waiters are not granted"
        );
        m.unpark_all();
        let g = m.take_granted().pop().expect("granted again after unpark");
        g.reply.send(Ok(())).expect("a waits");
        assert_eq!(rx.try_recv(), Ok(Ok(())));
        assert!(!m.has_parked());
        assert_eq!(m.waiting(), 0);
        assert_eq!(m.held(), 1);
    }
}
