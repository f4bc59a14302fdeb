//! The lock board: what the server acknowledged about byte-range locks, leases and I/O to the
//! lock scenario's shared files, in one order, and the checkers over it
//! ([`crate::lock_workload`]).
//!
//! Every client runs on the simulation's one thread, so [`LockBoard::tick`] numbers client
//! events in one total order consistent with the server's: a reply a client reads at tick `r`
//! was produced by the server before `r`, and a request sent at tick `s` is handled after `s`.
//!
//! A lock is *certainly held* from the tick its grant was read to the send tick of the latest
//! request whose reply came back on the same connection before its owner unlocked it (or
//! closed the open, or lost the connection): the server releases a lock only on an unlock, a
//! close or the end of the session or connection, and a later reply on the same connection
//! proves none of those happened before the request was handled. Likewise a lease is
//! certainly held in a state from the tick its grant (or acknowledged break) was read to the
//! send tick of the latest request whose reply came with no break notification read before it:
//! the server posts breaks to the holder's connection, which writes them before it reads the
//! next request ([`actors`]' SMB connection loop serves its mailbox before new input), so a
//! break decided before that request was read would have come first.
//!
//! The checkers, each failing the run with what was seen:
//! - **No conflicting grants**: two locks whose certain intervals overlap must not conflict
//!   (the rules of `actors/src/server/share/locks.rs`: owners differ and either is exclusive,
//!   or the same owner's later lock is exclusive).
//! - **No silent loss**: an I/O acknowledged while another owner's lock certainly covered its
//!   range must be one that lock allows (a read under another's shared lock; the owner's own
//!   I/O under its exclusive lock); the owner's unlock of a lock it holds on a live connection
//!   succeeds, its own reads and writes under it are not refused, and bytes it wrote under an
//!   exclusive lock read back unchanged while it holds it (checked by the workload).
//! - **Leases**: a WRITE acknowledged while another client certainly held a lease with read or
//!   write caching on the file fails the run (the break must have been sent, and for write
//!   caching acknowledged or timed out, first); two clients never certainly hold leases on a
//!   file together when either has write caching.

/// Which open a lock or an I/O belongs to: a client and its open's number (unique per client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owner {
    /// The client (1-based, `lN`).
    pub client: u32,
    /// The open's number at that client.
    pub open: u64,
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "l{}/open{}", self.client, self.open)
    }
}

/// Counters for the run's last line and the tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LockCounts {
    /// Locks granted.
    pub granted: u64,
    /// Lock requests refused (LOCK_NOT_GRANTED or FILE_LOCK_CONFLICT).
    pub refused: u64,
    /// Blocking requests that went to CANCEL.
    pub cancels: u64,
    /// Blocking requests granted after waiting (with or without a CANCEL sent).
    pub waited: u64,
    /// Unlocks that succeeded.
    pub unlocked: u64,
    /// Reads and writes refused with FILE_LOCK_CONFLICT.
    pub io_refused: u64,
    /// Pairs of locks on overlapping ranges (shared ones) found certainly held together.
    pub shared_overlaps: u64,
    /// Reads of bytes written under an exclusive lock, compared while it was still held.
    pub data_checked: u64,
    /// Lease break notifications read.
    pub breaks: u64,
    /// Lease breaks acknowledged.
    pub acks: u64,
    /// Writes to the leased file checked against other clients' leases.
    pub lease_writes: u64,
    /// Sessions replaced by a reconnect naming the previous one.
    pub replaced_sessions: u64,
}

#[derive(Debug, Clone)]
struct LockRec {
    owner: Owner,
    file: u32,
    off: u64,
    len: u64,
    excl: bool,
    g: u64,
    p: u64,
}

/// A READ or WRITE acknowledged with success.
#[derive(Debug, Clone, Copy)]
pub struct Io {
    /// The open it went through.
    pub owner: Owner,
    /// The lock file.
    pub file: u32,
    /// First byte.
    pub off: u64,
    /// Bytes.
    pub len: u64,
    /// A WRITE (else a READ).
    pub write: bool,
    /// The tick before it was sent.
    pub send: u64,
    /// The tick after its reply was read.
    pub recv: u64,
}

#[derive(Debug, Clone)]
struct LeaseSeg {
    client: u32,
    file: u32,
    state: u32,
    g: u64,
    p: u64,
}

#[derive(Debug, Clone)]
struct LeaseWrite {
    client: u32,
    file: u32,
    send: u64,
    recv: u64,
}

const R: u32 = 1;
const W: u32 = 4;

fn overlap(a_off: u64, a_len: u64, b_off: u64, b_len: u64) -> bool {
    a_off < b_off + b_len && b_off < a_off + a_len
}

/// The shared record; see the module docs.
#[derive(Debug, Default)]
pub struct LockBoard {
    seq: u64,
    locks: Vec<LockRec>,
    ios: Vec<Io>,
    leases: Vec<LeaseSeg>,
    lease_writes: Vec<LeaseWrite>,
    /// What was counted.
    pub counts: LockCounts,
}

impl LockBoard {
    /// The next tick.
    pub fn tick(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    /// A lock granted to `owner`, its grant read at `g`; returns its id.
    pub fn grant(
        &mut self,
        owner: Owner,
        file: u32,
        off: u64,
        len: u64,
        excl: bool,
        g: u64,
    ) -> usize {
        self.counts.granted += 1;
        self.locks.push(LockRec {
            owner,
            file,
            off,
            len,
            excl,
            g,
            p: g,
        });
        self.locks.len() - 1
    }

    /// Lock `id` is certainly held until `upto` (the send tick of a request answered on its
    /// connection); checks it against every other lock and acknowledged I/O.
    pub fn prove(&mut self, id: usize, upto: u64) -> Result<(), String> {
        if upto <= self.locks[id].p {
            return Ok(());
        }
        let old_p = self.locks[id].p;
        self.locks[id].p = upto;
        let l = self.locks[id].clone();
        let mut shared = 0;
        for (j, m) in self.locks.iter().enumerate() {
            if j == id
                || m.file != l.file
                || !overlap(l.off, l.len, m.off, m.len)
                || !(l.g < m.p && m.g < l.p)
            {
                continue;
            }
            let conflict = if l.owner == m.owner {
                // The later lock is the request; only an exclusive request conflicts with the
                // owner's own locks.
                if l.g > m.g { l.excl } else { m.excl }
            } else {
                l.excl || m.excl
            };
            if conflict {
                let (a, b) = if l.g < m.g { (&l, m) } else { (m, &l) };
                return Err(format!(
                    "conflicting locks granted together on f{}: {} {} {}+{} (granted by tick {}, \
                     held at least until {}) and {} {} {}+{} (granted by tick {}, held at least \
                     until {})",
                    l.file,
                    a.owner,
                    kind(a.excl),
                    a.off,
                    a.len,
                    a.g,
                    a.p,
                    b.owner,
                    kind(b.excl),
                    b.off,
                    b.len,
                    b.g,
                    b.p
                ));
            }
            // Count each pair of shared locks once, when its intervals first overlap.
            let before = l.g < m.p && m.g < old_p;
            if !before && l.owner != m.owner {
                shared += 1;
            }
        }
        self.counts.shared_overlaps += shared;
        let start = self.ios.partition_point(|io| io.recv <= l.g);
        for io in &self.ios[start..] {
            check_io(&l, io)?;
        }
        Ok(())
    }

    /// An I/O `owner` sent at `send` and whose success it read at `recv`; checked against
    /// every lock certainly held over `[send, recv]`.
    pub fn io(&mut self, io: Io) -> Result<(), String> {
        for l in &self.locks {
            check_io(l, &io)?;
        }
        self.ios.push(io);
        Ok(())
    }

    /// A lease in `state` held by `client` on `file`, its grant read at `g`; returns its id.
    pub fn lease(&mut self, client: u32, file: u32, state: u32, g: u64) -> usize {
        self.leases.push(LeaseSeg {
            client,
            file,
            state,
            g,
            p: g,
        });
        self.leases.len() - 1
    }

    /// Lease `id` certainly held in its state until `upto`.
    pub fn lease_prove(&mut self, id: usize, upto: u64) -> Result<(), String> {
        if upto <= self.leases[id].p {
            return Ok(());
        }
        self.leases[id].p = upto;
        let s = self.leases[id].clone();
        for w in &self.lease_writes {
            check_lease_write(&s, w)?;
        }
        for o in &self.leases {
            if o.client == s.client || o.file != s.file || !(s.g < o.p && o.g < s.p) {
                continue;
            }
            if (s.state | o.state) & W != 0 && s.state != 0 && o.state != 0 {
                return Err(format!(
                    "leases held together on f{}: l{} {} (ticks {}..{}) and l{} {} (ticks {}..{})",
                    s.file,
                    s.client,
                    crate::smb_client::lease_name(s.state),
                    s.g,
                    s.p,
                    o.client,
                    crate::smb_client::lease_name(o.state),
                    o.g,
                    o.p
                ));
            }
        }
        Ok(())
    }

    /// A WRITE by `client` to `file`, sent at `send`, its success read at `recv`.
    pub fn lease_write(
        &mut self,
        client: u32,
        file: u32,
        send: u64,
        recv: u64,
    ) -> Result<(), String> {
        self.counts.lease_writes += 1;
        let w = LeaseWrite {
            client,
            file,
            send,
            recv,
        };
        for s in &self.leases {
            check_lease_write(s, &w)?;
        }
        self.lease_writes.push(w);
        Ok(())
    }
}

fn kind(excl: bool) -> &'static str {
    if excl { "exclusive" } else { "shared" }
}

/// Fails when `io` was acknowledged inside `l`'s certain interval and `l` forbids it.
fn check_io(l: &LockRec, io: &Io) -> Result<(), String> {
    if l.file != io.file
        || !overlap(l.off, l.len, io.off, io.len)
        || !(l.g < io.send && io.recv < l.p)
    {
        return Ok(());
    }
    let forbidden = if io.write {
        l.owner != io.owner || !l.excl
    } else {
        l.owner != io.owner && l.excl
    };
    if forbidden {
        return Err(format!(
            "{} by {} of f{} {}+{} acknowledged (sent at tick {}, answered by {}) while {} \
             certainly held a {} lock {}+{} (ticks {}..{})",
            if io.write { "WRITE" } else { "READ" },
            io.owner,
            io.file,
            io.off,
            io.len,
            io.send,
            io.recv,
            l.owner,
            kind(l.excl),
            l.off,
            l.len,
            l.g,
            l.p
        ));
    }
    Ok(())
}

fn check_lease_write(s: &LeaseSeg, w: &LeaseWrite) -> Result<(), String> {
    if s.client == w.client || s.file != w.file || s.state & (R | W) == 0 {
        return Ok(());
    }
    if s.g < w.send && w.recv < s.p {
        return Err(format!(
            "a WRITE by l{} to f{} was acknowledged (sent at tick {}, answered by {}) while l{} \
             certainly held lease {} (ticks {}..{}) with no break",
            w.client,
            w.file,
            w.send,
            w.recv,
            s.client,
            crate::smb_client::lease_name(s.state),
            s.g,
            s.p
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn io(owner: Owner, off: u64, len: u64, send: u64, recv: u64) -> Io {
        Io {
            owner,
            file: 0,
            off,
            len,
            write: true,
            send,
            recv,
        }
    }

    /// Goal: the checkers fire on what they must and not on what is allowed. Method: feed the
    /// board hand-made histories.
    #[test]
    fn checkers() {
        let a = Owner { client: 1, open: 1 };
        let b = Owner { client: 2, open: 1 };
        // Shared locks of two owners held together: fine.
        let mut board = LockBoard::default();
        let x = board.grant(a, 0, 0, 10, false, 1);
        let y = board.grant(b, 0, 5, 10, false, 2);
        board.prove(x, 5).unwrap();
        board.prove(y, 6).unwrap();
        // An exclusive one of a third overlapping both: caught when proved.
        let z = board.grant(Owner { client: 3, open: 1 }, 0, 8, 1, true, 3);
        assert!(board.prove(z, 4).is_err());
        // Disjoint intervals never conflict: a released lock followed by an exclusive one.
        let mut board = LockBoard::default();
        let x = board.grant(a, 0, 0, 10, true, 1);
        board.prove(x, 4).unwrap();
        let y = board.grant(b, 0, 0, 10, true, 5);
        board.prove(y, 9).unwrap();
        // The owner's shared lock under its exclusive one is allowed, not the reverse.
        let mut board = LockBoard::default();
        let x = board.grant(a, 0, 0, 10, true, 1);
        let y = board.grant(a, 0, 0, 10, false, 2);
        board.prove(x, 5).unwrap();
        board.prove(y, 5).unwrap();
        let z = board.grant(a, 0, 3, 2, true, 3);
        board.prove(z, 8).unwrap_err();
        // A write by another owner inside a certainly held lock; the owner's own write under
        // its exclusive lock is fine.
        let mut board = LockBoard::default();
        let x = board.grant(a, 0, 0, 10, true, 1);
        board.io(io(a, 0, 4, 2, 3)).unwrap();
        board.io(io(b, 2, 4, 4, 5)).unwrap();
        assert!(board.prove(x, 6).is_err());
        // Leases: a write by another client inside a read lease's certain interval.
        let mut board = LockBoard::default();
        board.lease_write(2, 2, 1, 2).unwrap();
        let s = board.lease(1, 2, R, 3);
        board.lease_prove(s, 5).unwrap();
        board.lease_write(2, 2, 6, 7).unwrap();
        assert!(board.lease_prove(s, 8).is_err());
    }
}
