//! The server's credit window for one SMB2 connection ([MS-SMB2] 3.3.1.1 "Algorithm for
//! Handling Available Message Sequence Numbers by the Server", 3.3.1.2 "Algorithm for the
//! Granting of Credits", 3.3.5.2.3 "Verifying the Sequence Number", 3.3.4.1.2 "Granting
//! Credits to the Client"), sans-IO.
//!
//! The window is Connection.CommandSequenceWindow: the message ids the client may still use.
//! It starts as {0}. Each request consumes the ids `[MessageId, MessageId + CreditCharge)`
//! (a charge of 0, as SMB 2.0.2 clients send, counts as 1); each response extends the window
//! at its top by the credits it grants. Ids are granted contiguously, so the window is the
//! range `[low, high)` minus the ids already used above `low`, kept as a bitmap whose length
//! is `high - low`. Grants never let `high - low` exceed the configured maximum, so the bitmap
//! is bounded and so is the client's 16-bit credit count.
//!
//! CANCEL requests consume no id ([MS-SMB2] 3.3.5.2.3): the server does not call
//! [`CreditWindow::check`] for them.

use std::collections::VecDeque;

/// The largest window a server should allow by default: Windows Server's default
/// (Smb2CreditsMax 8192).
pub const DEFAULT_CREDITS_MAX: u16 = 8192;

/// The MessageId reserved for oplock and lease break notifications ([MS-SMB2] 2.2.1.2);
/// never granted.
pub const RESERVED_MESSAGE_ID: u64 = u64::MAX;

/// Why a request's message ids are refused. The server answers by dropping the connection
/// ([MS-SMB2] 3.3.5.2.3: "the server MUST terminate the connection").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CreditError {
    /// Some id in the range was never granted (below the window, beyond it, or the range
    /// overflows the 64-bit id space).
    #[error("message id {0} is outside the credit window")]
    OutsideWindow(u64),
    /// Some id in the range was already used.
    #[error("message id {0} was already used")]
    Reused(u64),
}

/// The credit window of one connection.
#[derive(Debug, Clone)]
pub struct CreditWindow {
    /// Every id below `low` is used.
    low: u64,
    /// Ids `>= high` are not granted yet; `high - low <= max`.
    high: u64,
    /// `used[i]` tells whether id `low + i` is used; `used.len() == high - low` and the front,
    /// when present, is always `false` (a used front is popped).
    used: VecDeque<bool>,
    /// Ids in `[low, high)` that are used.
    used_count: u64,
    /// The largest `high - low` grants may create.
    max: u16,
    /// Charges of the current compound's earlier elements, not yet answered by a grant.
    pending_charge: u32,
    /// Credits requested by the current compound's earlier elements.
    pending_request: u32,
}

impl CreditWindow {
    /// A fresh connection's window: id 0 is granted ([MS-SMB2] 3.3.1.1: "the server MUST
    /// initialize CommandSequenceWindow to {0}"). `max` (at least 1) bounds the window and
    /// so the credits a client can hold.
    pub fn new(max: u16) -> Self {
        Self {
            low: 0,
            high: 1,
            used: VecDeque::from([false]),
            used_count: 0,
            max: max.max(1),
            pending_charge: 0,
            pending_request: 0,
        }
    }

    /// Credits the client holds: granted ids not yet used.
    pub fn outstanding(&self) -> u64 {
        self.high - self.low - self.used_count
    }

    /// The lowest id not known to be used (the window's start).
    pub const fn low(&self) -> u64 {
        self.low
    }

    /// One past the highest granted id.
    pub const fn high(&self) -> u64 {
        self.high
    }

    /// Checks and consumes the ids of a request ([MS-SMB2] 3.3.5.2.3): every id in
    /// `[message_id, message_id + max(credit_charge, 1))` must be granted and unused. On
    /// success they are marked used; on failure nothing changes. When
    /// Connection.SupportsMultiCredit is false (SMB 2.0.2) the header's CreditCharge is
    /// ignored: pass 0. An SMB1 SMB_COM_NEGOTIATE counts as message id 0.
    pub fn check(&mut self, message_id: u64, credit_charge: u16) -> Result<(), CreditError> {
        let charge = u64::from(credit_charge.max(1));
        let end = message_id
            .checked_add(charge)
            .ok_or(CreditError::OutsideWindow(message_id))?;
        if message_id < self.low || end > self.high {
            return Err(CreditError::OutsideWindow(message_id));
        }
        let start = (message_id - self.low) as usize;
        let n = charge as usize;
        if let Some(i) = (start..start + n).find(|&i| self.used[i]) {
            return Err(CreditError::Reused(self.low + i as u64));
        }
        for i in start..start + n {
            self.used[i] = true;
        }
        self.used_count += charge;
        while self.used.front() == Some(&true) {
            self.used.pop_front();
            self.low += 1;
            self.used_count -= 1;
        }
        Ok(())
    }

    /// The CreditResponse for the response to a request that asked for `requested` credits
    /// and was charged `charge` ([MS-SMB2] 3.3.1.2, 3.3.4.1.2), extending the window by what
    /// it returns. Within a compound, elements before the last get 0 and their requests and
    /// charges are carried to the last element (`last_in_compound`), so every element's
    /// charge is answered exactly once. The grant is at least the credits the compound
    /// consumed and at least 1, more if the client asked, but never lets the window exceed the
    /// maximum, never reaches the reserved id `u64::MAX`, and so never overflows the client's
    /// 16-bit count. If the client already holds the maximum, it gets 0 (it still has
    /// credits). Call it once per request: for a request answered asynchronously, with the
    /// interim response ([MS-SMB2] 3.3.4.2), and send 0 in the final response.
    pub fn grant(&mut self, requested: u16, charge: u16, last_in_compound: bool) -> u16 {
        self.pending_charge += u32::from(charge.max(1));
        self.pending_request += u32::from(requested);
        if !last_in_compound {
            return 0;
        }
        let want = self.pending_request.max(self.pending_charge).max(1);
        self.pending_charge = 0;
        self.pending_request = 0;
        let span = self.high - self.low;
        let room_window = u64::from(self.max).saturating_sub(span);
        let room_ids = RESERVED_MESSAGE_ID - self.high;
        let g = u64::from(want).min(room_window).min(room_ids);
        let g = u16::try_from(g).unwrap_or(u16::MAX);
        self.high += u64::from(g);
        self.used.extend(std::iter::repeat_n(false, usize::from(g)));
        g
    }
}

impl Default for CreditWindow {
    fn default() -> Self {
        Self::new(DEFAULT_CREDITS_MAX)
    }
}

/// The CreditCharge a READ, WRITE, IOCTL or QUERY_DIRECTORY of `len` payload bytes needs with
/// multi-credit support ([MS-SMB2] 3.1.5.2): `ceil(len / 65536)`, at least 1.
pub fn charge_for(len: u64) -> u16 {
    u16::try_from(len.div_ceil(65_536).max(1)).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Goal: a fresh window grants exactly id 0; reuse and ids beyond the window fail; a
    /// failed check changes nothing.
    #[test]
    fn starts_with_id_zero() {
        let mut w = CreditWindow::new(16);
        assert_eq!(w.outstanding(), 1);
        assert_eq!(w.check(1, 1), Err(CreditError::OutsideWindow(1)));
        assert_eq!(w.check(0, 0), Ok(()));
        assert_eq!(w.check(0, 1), Err(CreditError::OutsideWindow(0)));
        assert_eq!(w.outstanding(), 0);
        assert_eq!(w.grant(10, 1, true), 10);
        assert_eq!((w.low(), w.high()), (1, 11));
        assert_eq!(w.check(3, 2), Ok(()));
        assert_eq!(w.check(4, 1), Err(CreditError::Reused(4)));
        assert_eq!(w.check(2, 3), Err(CreditError::Reused(3)));
        assert_eq!(w.check(9, 3), Err(CreditError::OutsideWindow(9)));
        assert_eq!(w.outstanding(), 8);
        assert_eq!(w.check(1, 2), Ok(()));
        assert_eq!(w.low(), 5);
    }

    /// Goal: grants stop at the maximum window, and a client holding the maximum gets 0.
    #[test]
    fn window_is_bounded() {
        let mut w = CreditWindow::new(8);
        w.check(0, 1).unwrap();
        assert_eq!(w.grant(1000, 1, true), 8);
        assert_eq!(w.grant(1000, 1, true), 0);
        w.check(1, 3).unwrap();
        assert_eq!(w.grant(1000, 3, true), 3);
        assert_eq!(w.outstanding(), 8);
        assert!(w.used.len() <= 8);
    }

    /// Goal: in a compound only the last element grants, and it returns every element's
    /// charge.
    #[test]
    fn compound_grants_once() {
        let mut w = CreditWindow::new(64);
        w.check(0, 1).unwrap();
        w.grant(3, 1, true);
        for id in 1..4 {
            w.check(id, 1).unwrap();
        }
        assert_eq!(w.grant(0, 1, false), 0);
        assert_eq!(w.grant(0, 1, false), 0);
        assert_eq!(w.grant(0, 1, true), 3);
        assert_eq!(w.outstanding(), 3);
    }

    /// Goal: ids near the top of the 64-bit space fail cleanly and the reserved id
    /// u64::MAX is never granted.
    #[test]
    fn u64_wrap_fails_cleanly() {
        let mut w = CreditWindow::new(8);
        assert_eq!(
            w.check(u64::MAX, 2),
            Err(CreditError::OutsideWindow(u64::MAX))
        );
        assert_eq!(
            w.check(u64::MAX - 1, 5),
            Err(CreditError::OutsideWindow(u64::MAX - 1))
        );
        w.low = u64::MAX - 3;
        w.high = u64::MAX - 2;
        assert_eq!(w.grant(100, 1, true), 2);
        assert_eq!(w.high(), u64::MAX);
        w.check(u64::MAX - 3, 3).unwrap();
        assert_eq!(w.grant(100, 1, true), 0);
        assert_eq!(
            w.check(u64::MAX, 1),
            Err(CreditError::OutsideWindow(u64::MAX))
        );
    }

    /// Goal: the multi-credit charge is ceil(len / 64 KiB), at least 1, saturating.
    #[test]
    fn charge_for_payloads() {
        assert_eq!(charge_for(0), 1);
        assert_eq!(charge_for(1), 1);
        assert_eq!(charge_for(65_536), 1);
        assert_eq!(charge_for(65_537), 2);
        assert_eq!(charge_for(8 << 20), 128);
        assert_eq!(charge_for(u64::MAX), u16::MAX);
    }

    proptest! {
        /// Goal: a well-behaved client never sees an error and never runs out of credits.
        /// Method: the client model holds the next unused id and its credit count; each step
        /// it sends a compound of 1–4 requests with charges it can afford (ids in order),
        /// some responses are delayed, and it adds whatever each response grants.
        #[test]
        fn well_behaved_client_never_stalls(
            steps in vec((1usize..5, vec((0u16..5, 0u16..40), 4), any::<bool>()), 1..200),
            max in 1u16..300,
        ) {
            let mut w = CreditWindow::new(max);
            let (mut next, mut credits) = (0u64, 1u64);
            let mut delayed: Vec<(u16, u16, bool)> = Vec::new();
            for (n, reqs, delay) in steps {
                prop_assert!(credits >= 1 || !delayed.is_empty());
                if credits == 0 {
                    for (req, charge, last) in delayed.drain(..) {
                        credits += u64::from(w.grant(req, charge, last));
                    }
                    prop_assert!(credits >= 1);
                }
                let mut answers = Vec::new();
                for (i, &(charge, req)) in reqs.iter().take(n).enumerate() {
                    let c = u64::from(charge.max(1));
                    if c > credits {
                        break;
                    }
                    prop_assert_eq!(w.check(next, charge), Ok(()));
                    next += c;
                    credits -= c;
                    answers.push((req, charge, i));
                }
                let count = answers.len();
                for (req, charge, i) in answers {
                    let last = i + 1 == count;
                    if delay {
                        delayed.push((req, charge, last));
                    } else {
                        credits += u64::from(w.grant(req, charge, last));
                    }
                }
                prop_assert_eq!(credits, w.outstanding());
                prop_assert!(w.high() - w.low() <= u64::from(max));
                prop_assert!(w.used.len() as u64 == w.high() - w.low());
            }
        }

        /// Goal: arbitrary checks and grants never panic and keep the invariants: the bitmap
        /// matches the window, the window never exceeds the maximum, outstanding credits are
        /// consistent with the bitmap, and a used id is never accepted again.
        #[test]
        fn arbitrary_ops_keep_invariants(
            ops in vec((any::<bool>(), any::<u64>(), any::<u16>(), any::<bool>()), 0..200),
            max in 1u16..100,
        ) {
            let mut w = CreditWindow::new(max);
            for (is_check, id, n, last) in ops {
                if is_check {
                    let id = if id % 2 == 0 { w.low() + id % 200 } else { id };
                    let before = w.clone();
                    match w.check(id, n % 8) {
                        Ok(()) => prop_assert!(w.check(id, n % 8).is_err()),
                        Err(_) => prop_assert_eq!(before.outstanding(), w.outstanding()),
                    }
                } else {
                    w.grant(n, n % 8, last);
                }
                prop_assert_eq!(w.used.len() as u64, w.high() - w.low());
                prop_assert!(w.high() - w.low() <= u64::from(max));
                prop_assert_eq!(w.used.iter().filter(|&&u| u).count() as u64, w.used_count);
                prop_assert!(w.used.front() != Some(&true));
            }
        }
    }
}
