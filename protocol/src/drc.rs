//! The duplicate request cache (DRC): replays the saved reply for a retransmitted
//! non-idempotent ONC RPC call instead of executing it twice.
//!
//! A client that loses a reply (a dropped connection, a timeout) retransmits the call with the
//! same xid, often on a new connection. Executing REMOVE or RENAME twice turns a success into a
//! spurious NFS3ERR_NOENT; executing a stale WRITE twice can overwrite newer data. The cache
//! keys an entry by client, xid, program, version, procedure and a hash of the arguments (xids
//! alone collide across clients and after a client reboot).
//!
//! Sans-IO: the caller supplies `now`; nothing here sleeps or spawns. Bounded by entry count.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

/// Identifies one call.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DrcKey<C> {
    /// The client (an address without the port: clients reconnect from new ports).
    pub client: C,
    /// RPC transaction id.
    pub xid: u32,
    /// Program, version and procedure.
    pub prog_vers_proc: (u32, u32, u32),
    /// A hash of the argument bytes, so an xid reused for a different call is not confused.
    pub args_hash: u64,
}

/// What the cache says about an incoming call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DrcLookup<R> {
    /// Not seen: execute it, then call [`Drc::complete`] (or [`Drc::abandon`]).
    New,
    /// The same call is being executed right now: drop this copy; the client retransmits again
    /// and then gets the saved reply.
    InProgress,
    /// Already executed: send this saved reply.
    Replay(R),
}

#[derive(Debug)]
enum State<R> {
    InProgress,
    Done(R),
}

#[derive(Debug)]
struct Entry<R> {
    state: State<R>,
    created: Instant,
}

/// The cache. `C` identifies clients, `R` is a saved reply (e.g. `bytes::Bytes`).
#[derive(Debug)]
pub struct Drc<C: Ord + Clone, R: Clone> {
    entries: BTreeMap<DrcKey<C>, Entry<R>>,
    order: VecDeque<DrcKey<C>>,
    capacity: usize,
    ttl: Duration,
}

impl<C: Ord + Clone, R: Clone> Drc<C, R> {
    /// A cache holding at most `capacity` entries, each kept at most `ttl`.
    ///
    /// Linux retransmits after 60 s by default (`timeo=600`) and retries three times before a
    /// major timeout, so a few minutes of memory covers a realistic retransmission.
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self {
            entries: BTreeMap::new(),
            order: VecDeque::new(),
            capacity: capacity.max(1),
            ttl,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Looks up `key`; a new key is recorded as in progress.
    pub fn handle_call(&mut self, key: DrcKey<C>, now: Instant) -> DrcLookup<R> {
        self.expire(now);
        if let Some(e) = self.entries.get(&key) {
            return match &e.state {
                State::InProgress => DrcLookup::InProgress,
                State::Done(r) => DrcLookup::Replay(r.clone()),
            };
        }
        while self.entries.len() >= self.capacity {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&old);
        }
        self.order.push_back(key.clone());
        self.entries.insert(
            key,
            Entry {
                state: State::InProgress,
                created: now,
            },
        );
        DrcLookup::New
    }

    /// Saves the reply for a call that [`Drc::handle_call`] reported as new.
    pub fn complete(&mut self, key: &DrcKey<C>, reply: R) {
        if let Some(e) = self.entries.get_mut(key) {
            e.state = State::Done(reply);
        }
    }

    /// Forgets a call that produced no reply worth replaying (e.g. the server shut down).
    pub fn abandon(&mut self, key: &DrcKey<C>) {
        self.entries.remove(key);
        // The key stays in `order` until it reaches the front; removing a missing key is cheap.
    }

    fn expire(&mut self, now: Instant) {
        while let Some(front) = self.order.front() {
            match self.entries.get(front) {
                Some(e) if now.saturating_duration_since(e.created) < self.ttl => break,
                _ => {
                    let k = self.order.pop_front().expect("front exists");
                    if self
                        .entries
                        .get(&k)
                        .is_some_and(|e| now.saturating_duration_since(e.created) >= self.ttl)
                    {
                        self.entries.remove(&k);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(xid: u32) -> DrcKey<u8> {
        DrcKey {
            client: 1,
            xid,
            prog_vers_proc: (100003, 3, 12),
            args_hash: 99,
        }
    }

    /// Goal: a retransmission during execution is dropped, after completion replayed.
    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "the test needs some base instant; only differences matter"
    )]
    fn replay_after_completion() {
        let t0 = Instant::now();
        let mut d: Drc<u8, &'static str> = Drc::new(8, Duration::from_secs(60));
        assert_eq!(d.handle_call(key(1), t0), DrcLookup::New);
        assert_eq!(d.handle_call(key(1), t0), DrcLookup::InProgress);
        d.complete(&key(1), "ok");
        assert_eq!(d.handle_call(key(1), t0), DrcLookup::Replay("ok"));
        // A different argument hash with the same xid is a different call.
        let mut other = key(1);
        other.args_hash = 5;
        assert_eq!(d.handle_call(other, t0), DrcLookup::New);
    }

    /// Goal: capacity and ttl bound the cache.
    #[test]
    #[expect(
        clippy::disallowed_methods,
        reason = "the test needs some base instant; only differences matter"
    )]
    fn bounded_by_capacity_and_ttl() {
        let t0 = Instant::now();
        let mut d: Drc<u8, u32> = Drc::new(4, Duration::from_secs(10));
        for x in 0..10 {
            assert_eq!(d.handle_call(key(x), t0), DrcLookup::New);
            d.complete(&key(x), x);
        }
        assert_eq!(d.len(), 4);
        assert_eq!(d.handle_call(key(9), t0), DrcLookup::Replay(9));
        assert_eq!(
            d.handle_call(key(0), t0 + Duration::from_secs(11)),
            DrcLookup::New
        );
        assert_eq!(d.len(), 1);
    }
}
