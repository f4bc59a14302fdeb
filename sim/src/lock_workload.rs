//! The lock scenario's SMB clients (`l1`…, [`crate::spec::Scenario::lock_clients`]): they
//! take and release byte-range locks on two shared files, write and read under them, and hold
//! leases on a third file the others write, while the nemesis partitions, holds and resets
//! their links and crashes the server. What the server acknowledged goes on the
//! [`LockBoard`], whose checkers fail the run on conflicting grants, locks lost while their
//! holder lives, and writes acknowledged under another client's unbroken lease.
//!
//! Files, in directory `locks`: `f0` and `f1` (locks and I/O on bytes 0..64) and `leased`
//! (leases). Each session opens all three; the lease asked for on `leased` (RWH, RH or R) is
//! drawn per open, with a lease key fresh per open.
//!
//! A call without an answer (partition, hold, reset, server crash) drops the connection: the
//! client logs in again naming the old session (PreviousSessionId), so the server closes the
//! old session's opens and releases its locks, and opens the files anew. Sometimes a client
//! drops its connection on purpose (a client restart) and does the same.
//!
//! Every reply on a connection proves the client's locks on it still held (see
//! [`crate::lock_board`]); lease break notifications are acknowledged right after the call
//! during which they arrived. At the end, with the faults stopped, each client takes an
//! exclusive lock on all of each file (blocking, cancelling and retrying until granted),
//! writes it, reads it back and unlocks: locks leaked by an old session would stop it there.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use actors::runtime::fnv1a64;
use protocol::smb2::create::CreateDisposition;
use protocol::smb2::file::{LeaseBreakFlags, LockElement, LockFlags};
use protocol::smb2::fileid::FileId;
use protocol::smb2::status::NtStatus;
use rand::{Rng, RngCore};

use crate::Error;
use crate::lock_board::{Io, LockBoard, Owner};
use crate::smb_client::{ALICE_PASSWORD, Lost, SmbClient, pick_dialects};
use crate::smb_workload::{now, transient};
use crate::workload::{WorkerStats, check};

/// Lock files (`locks\f0`, ...).
const LOCK_FILES: u32 = 2;
/// The board's number for `locks\leased`.
const LEASED: u32 = LOCK_FILES;
/// Locks and I/O fall inside bytes 0..SPAN of each lock file.
const SPAN: u64 = 64;

#[derive(Debug, Clone)]
struct Held {
    file: u32,
    off: u64,
    len: u64,
    excl: bool,
    id: usize,
    /// Bytes this client wrote under the lock (exclusive locks), by offset in the range.
    data: Vec<Option<u8>>,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    fid: FileId,
    owner: Owner,
}

/// One lock client.
pub struct LockWorker {
    name: String,
    idx: u32,
    c: SmbClient,
    board: Rc<RefCell<LockBoard>>,
    dialects: &'static [u16],
    opens: Vec<Option<Open>>,
    leased: Option<Open>,
    lease_key: [u8; 16],
    lease_state: u32,
    lease_seg: Option<usize>,
    held: Vec<Held>,
    next_open: u64,
    last_session: u64,
    stats: WorkerStats,
}

impl std::fmt::Debug for LockWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LockWorker")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl LockWorker {
    /// Client number `idx` (`l<idx>`) using `c`, recording on `board`.
    pub fn new(idx: u32, mut c: SmbClient, board: Rc<RefCell<LockBoard>>) -> Self {
        let dialects = pick_dialects(c.rng());
        Self {
            name: format!("l{idx}"),
            idx,
            c,
            board,
            dialects,
            opens: vec![None; LOCK_FILES as usize],
            leased: None,
            lease_key: [0; 16],
            lease_state: 0,
            lease_seg: None,
            held: Vec::new(),
            next_open: 0,
            last_session: 0,
            stats: WorkerStats::default(),
        }
    }

    fn tick(&self) -> u64 {
        self.board.borrow_mut().tick()
    }

    /// Works until `fault_end`, then takes every file whole under an exclusive lock.
    pub async fn run(mut self, fault_end: Duration) -> Result<WorkerStats, Error> {
        while now() < fault_end {
            let think = self.c.rng().random_range(0..100);
            tokio::time::sleep(Duration::from_millis(think)).await;
            if !self.ready() {
                self.reconnect().await?;
                self.handle_breaks().await?;
                continue;
            }
            self.step().await?;
            self.handle_breaks().await?;
            self.stats.ops += 1;
        }
        self.finish().await?;
        self.stats.finished_at = now();
        self.c.note(format_args!(
            "C   finished: {} ops, {} sessions",
            self.stats.ops, self.stats.recoveries
        ));
        Ok(self.stats)
    }

    fn ready(&self) -> bool {
        self.c.connected() && self.opens.iter().all(Option::is_some) && self.leased.is_some()
    }

    /// The connection is gone (or given up): nothing held on it is proved any more.
    fn forget_session(&mut self) {
        self.held.clear();
        self.lease_seg = None;
        self.lease_state = 0;
        self.opens.iter_mut().for_each(|o| *o = None);
        self.leased = None;
    }

    /// After a call: a reply proves the connection's locks (and, with no break read before
    /// it, the lease) held until `send`; `None` (lost) forgets the session. Breaks read during
    /// the call wait for [`LockWorker::handle_breaks`] after the operation, so that what the
    /// operation released is off the list before the acknowledgement's reply proves the rest.
    async fn after<T>(&mut self, send: u64, r: Result<T, Lost>) -> Result<Option<T>, Error> {
        let Ok(v) = r else {
            self.forget_session();
            return Ok(None);
        };
        self.proved(send)?;
        Ok(Some(v))
    }

    fn proved(&mut self, send: u64) -> Result<(), Error> {
        let mut b = self.board.borrow_mut();
        for h in &self.held {
            b.prove(h.id, send).map_err(Error::Check)?;
        }
        if let Some(s) = self.lease_seg
            && !self.c.has_breaks()
        {
            b.lease_prove(s, send).map_err(Error::Check)?;
        }
        Ok(())
    }

    async fn handle_breaks(&mut self) -> Result<(), Error> {
        loop {
            let breaks = self.c.take_breaks();
            if breaks.is_empty() {
                return Ok(());
            }
            for n in breaks {
                self.board.borrow_mut().counts.breaks += 1;
                if n.lease_key != self.lease_key || self.leased.is_none() {
                    continue;
                }
                // The segment ends: the server changed the state before the notification.
                self.lease_seg = None;
                self.lease_state = n.new_state.0;
                if n.flags.contains(LeaseBreakFlags::ACK_REQUIRED) {
                    let send = self.tick();
                    let r = self
                        .c
                        .lease_break_ack(self.lease_key, n.new_state.0)
                        .await?;
                    let Ok(st) = r else {
                        self.forget_session();
                        return Ok(());
                    };
                    let recv = self.tick();
                    self.proved(send)?;
                    if st == NtStatus::SUCCESS {
                        self.board.borrow_mut().counts.acks += 1;
                        self.start_lease(recv);
                    } else {
                        // The break timed out first: the server took the lease down itself.
                        self.lease_state = 0;
                    }
                } else {
                    let t = self.tick();
                    self.start_lease(t);
                }
            }
        }
    }

    fn start_lease(&mut self, at: u64) {
        self.lease_seg = (self.lease_state != 0).then(|| {
            self.board
                .borrow_mut()
                .lease(self.idx, LEASED, self.lease_state, at)
        });
    }

    /// Logs in (naming the previous session), opens `locks\f*` and `locks\leased`.
    async fn reconnect(&mut self) -> Result<(), Error> {
        if !self.c.connected() {
            self.forget_session();
            self.c.previous_session = self.last_session;
            while !self.c.connected() {
                match self
                    .c
                    .login(self.dialects, "alice", ALICE_PASSWORD, "export")
                    .await?
                {
                    Ok(NtStatus::SUCCESS) => {}
                    Ok(st) => return Err(Error::Check(format!("login failed: {st}"))),
                    Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
                }
            }
            if self.last_session != 0 {
                self.board.borrow_mut().counts.replaced_sessions += 1;
            }
            self.last_session = self.c.session_id();
            self.stats.recoveries += 1;
            let send = self.tick();
            let r = self
                .c
                .create("locks", CreateDisposition::OPEN_IF, true, false)
                .await?;
            let Some((st, o)) = self.after(send, r).await? else {
                return Ok(());
            };
            if st != NtStatus::SUCCESS {
                check(transient(st), || format!("CREATE dir locks: {st}"))?;
                self.c.disconnect();
                return Ok(());
            }
            if let Some(o) = o {
                let send = self.tick();
                let r = self.c.close(o.file_id).await?;
                if self.after(send, r).await?.is_none() {
                    return Ok(());
                }
            }
        }
        for f in 0..LOCK_FILES {
            if self.opens[f as usize].is_some() {
                continue;
            }
            let Some(open) = self.open(&format!("locks\\f{f}"), None).await? else {
                return Ok(());
            };
            self.opens[f as usize] = Some(open.0);
        }
        if self.leased.is_none() {
            self.open_leased().await?;
        }
        Ok(())
    }

    /// CREATE OPEN_IF `path` (with a lease); `None` when lost or refused.
    async fn open(
        &mut self,
        path: &str,
        lease: Option<([u8; 16], u32)>,
    ) -> Result<Option<(Open, u32)>, Error> {
        let send = self.tick();
        let r = self
            .c
            .create_leased(path, CreateDisposition::OPEN_IF, false, false, lease)
            .await?;
        let Some((st, o)) = self.after(send, r).await? else {
            return Ok(None);
        };
        if st != NtStatus::SUCCESS {
            check(transient(st), || format!("CREATE {path}: {st}"))?;
            self.c.disconnect();
            self.forget_session();
            return Ok(None);
        }
        let o = o.ok_or_else(|| Error::Check("CREATE without an open".into()))?;
        self.next_open += 1;
        let owner = Owner {
            client: self.idx,
            open: self.next_open,
        };
        Ok(Some((
            Open {
                fid: o.file_id,
                owner,
            },
            o.lease,
        )))
    }

    async fn open_leased(&mut self) -> Result<(), Error> {
        let want = match self.c.rng().random_range(0..3) {
            0 => 7, // RWH
            1 => 3, // RH
            _ => 1, // R
        };
        let key = fnv1a64(format!("{} lease {}", self.name, self.next_open + 1).as_bytes());
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&key.to_le_bytes());
        k[8..].copy_from_slice(&u64::from(self.idx).to_le_bytes());
        let Some((open, granted)) = self.open("locks\\leased", Some((k, want))).await? else {
            return Ok(());
        };
        let recv = self.tick();
        self.leased = Some(open);
        self.lease_key = k;
        self.lease_state = granted;
        self.start_lease(recv);
        Ok(())
    }

    async fn step(&mut self) -> Result<(), Error> {
        let roll = self.c.rng().random_range(0..100);
        match roll {
            0..30 => self.lock().await,
            30..50 => self.unlock().await,
            50..65 => self.write_under().await,
            65..75 => self.read_under().await.map(drop),
            75..85 => self.write_anywhere().await,
            85..97 => self.leased_op().await,
            _ => {
                // A client restart: the connection goes without a word.
                self.c.note("C   restart: connection dropped by the client");
                self.c.disconnect();
                self.forget_session();
                Ok(())
            }
        }
    }

    fn open_of(&self, f: u32) -> Result<Open, Error> {
        self.opens[f as usize].ok_or_else(|| Error::Check("no open".into()))
    }

    async fn lock(&mut self) -> Result<(), Error> {
        let f = self.c.rng().random_range(0..LOCK_FILES);
        let off = self.c.rng().random_range(0..SPAN - 16);
        let len = self.c.rng().random_range(1..=16);
        let excl = self.c.rng().random_bool(0.5);
        let blocking = self.c.rng().random_bool(0.4);
        let wait = Duration::from_millis(self.c.rng().random_range(100..1_500));
        self.take(f, off, len, excl, blocking.then_some(wait))
            .await
            .map(drop)
    }

    /// LOCK; `Some(true)` when granted.
    async fn take(
        &mut self,
        f: u32,
        off: u64,
        len: u64,
        excl: bool,
        wait: Option<Duration>,
    ) -> Result<Option<bool>, Error> {
        let open = self.open_of(f)?;
        let mut flags = if excl {
            LockFlags::EXCLUSIVE
        } else {
            LockFlags::SHARED
        };
        if wait.is_none() {
            flags |= LockFlags::FAIL_IMMEDIATELY;
        }
        let el = LockElement {
            offset: off,
            length: len,
            flags,
        };
        let send = self.tick();
        let (r, cancelled) = match wait {
            None => match self.c.lock(open.fid, &[el]).await? {
                Ok(st) => (Ok(st), false),
                Err(l) => (Err(l), false),
            },
            Some(w) => match self.c.lock_blocking(open.fid, el, w).await? {
                Ok((st, c)) => (Ok(st), c),
                Err(l) => (Err(l), false),
            },
        };
        let recv = self.tick();
        let Some(st) = self.after(send, r).await? else {
            return Ok(None);
        };
        if cancelled {
            self.board.borrow_mut().counts.cancels += 1;
        }
        if st == NtStatus::SUCCESS {
            if wait.is_some() {
                self.board.borrow_mut().counts.waited += 1;
            }
            let id = self
                .board
                .borrow_mut()
                .grant(open.owner, f, off, len, excl, recv);
            self.held.push(Held {
                file: f,
                off,
                len,
                excl,
                id,
                data: vec![None; len as usize],
            });
            return Ok(Some(true));
        }
        if st == NtStatus::LOCK_NOT_GRANTED || st == NtStatus::FILE_LOCK_CONFLICT {
            self.board.borrow_mut().counts.refused += 1;
            return Ok(Some(false));
        }
        check(st == NtStatus::CANCELLED && cancelled, || {
            format!(
                "LOCK f{f} {} {off}+{len}{}: {st}",
                if excl { "exclusive" } else { "shared" },
                if wait.is_some() { " blocking" } else { "" }
            )
        })?;
        Ok(Some(false))
    }

    async fn unlock(&mut self) -> Result<(), Error> {
        if self.held.is_empty() {
            return self.lock().await;
        }
        let i = self.c.rng().random_range(0..self.held.len());
        self.release(i).await.map(drop)
    }

    /// Unlocks held lock `i`; `false` when the connection was lost.
    async fn release(&mut self, i: usize) -> Result<bool, Error> {
        let h = self.held[i].clone();
        let open = self.open_of(h.file)?;
        let el = LockElement {
            offset: h.off,
            length: h.len,
            flags: LockFlags::UNLOCK,
        };
        let send = self.tick();
        let r = self.c.lock(open.fid, &[el]).await?;
        let Some(st) = self.after(send, r).await? else {
            return Ok(false);
        };
        check(st == NtStatus::SUCCESS, || {
            format!(
                "unlock of f{} {} {}+{} by {} on a live connection: {st} (the lock was lost \
                 while its holder lived)",
                h.file,
                if h.excl { "exclusive" } else { "shared" },
                h.off,
                h.len,
                open.owner
            )
        })?;
        // The server removes an exclusive lock of that range first.
        let pos = self
            .held
            .iter()
            .position(|x| x.file == h.file && x.off == h.off && x.len == h.len && x.excl)
            .or_else(|| {
                self.held
                    .iter()
                    .position(|x| x.file == h.file && x.off == h.off && x.len == h.len)
            })
            .expect("the lock is held");
        self.held.remove(pos);
        self.board.borrow_mut().counts.unlocked += 1;
        Ok(true)
    }

    /// Whether the owner of file `f` holds a shared lock overlapping `off..off+len`.
    fn own_shared(&self, f: u32, off: u64, len: u64) -> bool {
        self.held
            .iter()
            .any(|h| h.file == f && !h.excl && h.off < off + len && off < h.off + h.len)
    }

    async fn write_under(&mut self) -> Result<(), Error> {
        let cands: Vec<usize> = (0..self.held.len())
            .filter(|&i| {
                let h = &self.held[i];
                h.excl && !self.own_shared(h.file, h.off, h.len)
            })
            .collect();
        if cands.is_empty() {
            return self.lock().await;
        }
        let i = cands[self.c.rng().random_range(0..cands.len())];
        let h = self.held[i].clone();
        let a = self.c.rng().random_range(0..h.len);
        let b = self.c.rng().random_range(a + 1..=h.len);
        let mut data = vec![0u8; (b - a) as usize];
        self.c.rng().fill_bytes(&mut data);
        let Some(st) = self.write(h.file, h.off + a, &data).await? else {
            return Ok(());
        };
        let open = self.open_of(h.file)?;
        check(st == NtStatus::SUCCESS || transient(st), || {
            format!(
                "WRITE f{} {}+{} by {} under its own exclusive lock {}+{}: {st}",
                h.file,
                h.off + a,
                b - a,
                open.owner,
                h.off,
                h.len
            )
        })?;
        // Other locks of this owner covering these bytes see them too.
        let off = h.off + a;
        for x in &mut self.held {
            if x.file != h.file || !x.excl {
                continue;
            }
            for (j, byte) in data.iter().enumerate() {
                let at = off + j as u64;
                if (x.off..x.off + x.len).contains(&at) {
                    x.data[(at - x.off) as usize] = (st == NtStatus::SUCCESS).then_some(*byte);
                }
            }
        }
        Ok(())
    }

    /// WRITE to lock file `f`; records a success on the board. `None`: lost.
    async fn write(&mut self, f: u32, off: u64, data: &[u8]) -> Result<Option<NtStatus>, Error> {
        let open = self.open_of(f)?;
        let send = self.tick();
        let r = self.c.write(open.fid, off, data, false).await?;
        let recv = self.tick();
        let Some((st, n)) = self.after(send, r).await? else {
            return Ok(None);
        };
        if st == NtStatus::SUCCESS {
            check(n as usize == data.len(), || {
                format!("WRITE f{f}: count {n}")
            })?;
            self.board
                .borrow_mut()
                .io(Io {
                    owner: open.owner,
                    file: f,
                    off,
                    len: data.len() as u64,
                    write: true,
                    send,
                    recv,
                })
                .map_err(Error::Check)?;
        } else if st == NtStatus::FILE_LOCK_CONFLICT {
            self.board.borrow_mut().counts.io_refused += 1;
        }
        Ok(Some(st))
    }

    async fn write_anywhere(&mut self) -> Result<(), Error> {
        let f = self.c.rng().random_range(0..LOCK_FILES);
        let off = self.c.rng().random_range(0..SPAN - 8);
        let len = self.c.rng().random_range(1..=8u64);
        let mut data = vec![0u8; len as usize];
        self.c.rng().fill_bytes(&mut data);
        let Some(st) = self.write(f, off, &data).await? else {
            return Ok(());
        };
        check(
            st == NtStatus::SUCCESS || st == NtStatus::FILE_LOCK_CONFLICT || transient(st),
            || format!("WRITE f{f} {off}+{len}: {st}"),
        )?;
        for x in &mut self.held {
            if x.file != f || !x.excl {
                continue;
            }
            for (j, byte) in data.iter().enumerate() {
                let at = off + j as u64;
                if (x.off..x.off + x.len).contains(&at) && st != NtStatus::FILE_LOCK_CONFLICT {
                    x.data[(at - x.off) as usize] = (st == NtStatus::SUCCESS).then_some(*byte);
                }
            }
        }
        Ok(())
    }

    /// READ a held lock's range; the bytes compared with what was written under it.
    async fn read_under(&mut self) -> Result<u64, Error> {
        if self.held.is_empty() {
            return self.lock().await.map(|()| 0);
        }
        let i = self.c.rng().random_range(0..self.held.len());
        let h = self.held[i].clone();
        let open = self.open_of(h.file)?;
        let send = self.tick();
        let r = self.c.read(open.fid, h.off, h.len as u32).await?;
        let recv = self.tick();
        let Some((st, d)) = self.after(send, r).await? else {
            return Ok(0);
        };
        if transient(st) || st == NtStatus::END_OF_FILE {
            check(h.data.iter().all(Option::is_none) || transient(st), || {
                format!(
                    "READ f{} {}+{} under {}'s lock: END_OF_FILE, it wrote bytes there",
                    h.file, h.off, h.len, open.owner
                )
            })?;
            return Ok(0);
        }
        check(st == NtStatus::SUCCESS, || {
            format!(
                "READ f{} {}+{} by {} under its own {} lock: {st}",
                h.file,
                h.off,
                h.len,
                open.owner,
                if h.excl { "exclusive" } else { "shared" }
            )
        })?;
        self.board
            .borrow_mut()
            .io(Io {
                owner: open.owner,
                file: h.file,
                off: h.off,
                len: d.len() as u64,
                write: false,
                send,
                recv,
            })
            .map_err(Error::Check)?;
        // The lock is still held (this reply proves it), so nobody else wrote here.
        let Some(now_held) = self.held.iter().find(|x| x.id == h.id) else {
            return Ok(0);
        };
        let mut checked = 0;
        if now_held.excl {
            for (j, want) in now_held.data.iter().enumerate() {
                let Some(want) = want else { continue };
                let got = d.get(j).copied();
                check(got == Some(*want), || {
                    format!(
                        "READ f{} byte {} under {}'s exclusive lock {}+{}: {got:?}, it wrote \
                         {want:#04x} under the lock",
                        h.file,
                        h.off + j as u64,
                        open.owner,
                        h.off,
                        h.len
                    )
                })?;
                checked += 1;
            }
        }
        self.board.borrow_mut().counts.data_checked += checked;
        Ok(checked)
    }

    async fn leased_op(&mut self) -> Result<(), Error> {
        let Some(open) = self.leased else {
            return Ok(());
        };
        match self.c.rng().random_range(0..10) {
            0..6 => {
                let off = self.c.rng().random_range(0..256);
                let mut data = vec![0u8; self.c.rng().random_range(1..64)];
                self.c.rng().fill_bytes(&mut data);
                let send = self.tick();
                let r = self.c.write(open.fid, off, &data, false).await?;
                let recv = self.tick();
                let Some((st, _)) = self.after(send, r).await? else {
                    return Ok(());
                };
                if st == NtStatus::SUCCESS {
                    self.board
                        .borrow_mut()
                        .lease_write(self.idx, LEASED, send, recv)
                        .map_err(Error::Check)?;
                } else {
                    check(transient(st), || format!("WRITE locks\\leased: {st}"))?;
                }
                Ok(())
            }
            6..8 => {
                let send = self.tick();
                let r = self.c.read(open.fid, 0, 256).await?;
                let Some((st, _)) = self.after(send, r).await? else {
                    return Ok(());
                };
                check(
                    st == NtStatus::SUCCESS || st == NtStatus::END_OF_FILE || transient(st),
                    || format!("READ locks\\leased: {st}"),
                )
            }
            _ => {
                // Close and open again with a new lease.
                self.lease_seg = None;
                self.lease_state = 0;
                self.leased = None;
                let send = self.tick();
                let r = self.c.close(open.fid).await?;
                let Some(st) = self.after(send, r).await? else {
                    return Ok(());
                };
                check(st == NtStatus::SUCCESS, || {
                    format!("CLOSE locks\\leased: {st}")
                })?;
                self.open_leased().await
            }
        }
    }

    /// With the faults stopped: unlock what is held, then take each lock file whole under an
    /// exclusive lock, write it, read it back and unlock.
    async fn finish(&mut self) -> Result<(), Error> {
        let mut done = vec![false; LOCK_FILES as usize];
        loop {
            self.handle_breaks().await?;
            if !self.ready() {
                self.reconnect().await?;
                continue;
            }
            while !self.held.is_empty() && self.ready() {
                if !self.release(0).await? {
                    break;
                }
                self.handle_breaks().await?;
            }
            if !self.ready() {
                continue;
            }
            for f in 0..LOCK_FILES {
                self.handle_breaks().await?;
                if done[f as usize] || !self.ready() {
                    continue;
                }
                let Some(true) = self
                    .take(f, 0, SPAN, true, Some(Duration::from_millis(2_000)))
                    .await?
                else {
                    continue;
                };
                let mut data = vec![0u8; SPAN as usize];
                self.c.rng().fill_bytes(&mut data);
                let Some(st) = self.write(f, 0, &data).await? else {
                    continue;
                };
                if transient(st) {
                    continue;
                }
                check(st == NtStatus::SUCCESS, || {
                    format!("final WRITE f{f} under an exclusive lock of all of it: {st}")
                })?;
                if let Some(h) = self.held.last_mut() {
                    h.data = data.iter().map(|&b| Some(b)).collect();
                }
                let checked = self.read_under_last().await?;
                if !self.ready() {
                    continue;
                }
                check(checked == SPAN, || {
                    format!("final READ f{f} checked {checked} bytes of {SPAN}")
                })?;
                if self.release(self.held.len() - 1).await? {
                    done[f as usize] = true;
                }
            }
            if done.iter().all(|d| *d) && self.held.is_empty() {
                return Ok(());
            }
        }
    }

    async fn read_under_last(&mut self) -> Result<u64, Error> {
        let last = self.held.len() - 1;
        let h = self.held.remove(last);
        self.held.insert(0, h);
        // read_under picks at random: make the pick certain by holding one lock at a time
        // here (finish released everything before).
        debug_assert_eq!(self.held.len(), 1);
        self.read_under().await
    }
}
