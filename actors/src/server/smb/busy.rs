//! Backpressure for a busy store ([`stores::StoreError::Busy`]: PostgreSQL contention past its
//! retry deadline, for instance). Contention is never a failure the client sees at once: the
//! request goes asynchronous ([MS-SMB2] 3.3.4.2: an interim STATUS_PENDING with an AsyncId,
//! through [`super::events`]) and runs again after a pause (50 ms doubling to 1 s) until it
//! gets another answer or [`BUSY_DEADLINE`] passes since it first met a busy store; only then
//! does it answer STATUS_DEVICE_NOT_READY. CANCEL, a logoff or a tree or file close ends the
//! wait with STATUS_CANCELLED, as for any asynchronous operation.
//!
//! A busy answer is recognised by its status: [`super::errors::status`] gives
//! STATUS_DEVICE_NOT_READY to `Busy` and to nothing else. An element of a compound other than
//! the last keeps the immediate answer (only the last element may go asynchronous there, and
//! failing the rest of the compound with STATUS_INTERNAL_ERROR would be worse).

use std::time::Duration;

use protocol::smb2::header::Header;
use protocol::smb2::status::NtStatus;

use super::connection::{Conn, Out};
use super::events::{ASYNC_MAX, Finish};

/// How long a request keeps retrying a busy store before it answers
/// STATUS_DEVICE_NOT_READY. Clients wait for the final answer of a request answered
/// STATUS_PENDING without a timeout of their own (they keep the connection alive with ECHO).
pub(crate) const BUSY_DEADLINE: Duration = Duration::from_secs(30);

/// The first pause before a retry; each further one doubles, up to [`BUSY_PAUSE_MAX`].
const BUSY_PAUSE_FIRST: Duration = Duration::from_millis(50);
/// The longest pause between retries.
const BUSY_PAUSE_MAX: Duration = Duration::from_secs(1);

/// The pause before retry number `tries` (0-based).
fn pause(tries: u32) -> Duration {
    BUSY_PAUSE_FIRST
        .saturating_mul(1u32 << tries.min(10))
        .min(BUSY_PAUSE_MAX)
}

impl Conn {
    /// `out`, the answer to request `hdr`, unless it is a busy store's and the request may go
    /// asynchronous (`may_wait`): then an answer that waits a pause and runs the request again.
    pub(crate) fn busy_retry(&mut self, hdr: &Header, out: Out, may_wait: bool) -> Out {
        let key = (hdr.session_id.0, hdr.message_id.0);
        if out.status != NtStatus::DEVICE_NOT_READY || out.wait.is_some() || !may_wait {
            self.busy.remove(&key);
            return out;
        }
        let now = self.server.env.now();
        let (since, tries) = self.busy.get(&key).copied().unwrap_or((now, 0));
        // Bounded like the asynchronous operations themselves.
        let full = self.busy.len() >= ASYNC_MAX && !self.busy.contains_key(&key);
        if now.duration_since(since) >= BUSY_DEADLINE || full {
            self.busy.remove(&key);
            tracing::info!(
                command = ?hdr.command,
                waited = ?now.duration_since(since),
                tries,
                "store still busy; answering STATUS_DEVICE_NOT_READY"
            );
            return out;
        }
        if tries == 0 {
            tracing::debug!(command = ?hdr.command, "store busy; retrying asynchronously");
        }
        self.busy.insert(key, (since, tries.saturating_add(1)));
        let pause = pause(tries);
        Out::pending(async move {
            tokio::time::sleep(pause).await;
            Finish::Retry
        })
    }

    /// Forgets the retry state of request `hdr` (its asynchronous operation ended otherwise:
    /// cancelled, or the connection ends).
    pub(crate) fn busy_forget(&mut self, hdr: &Header) {
        self.busy.remove(&(hdr.session_id.0, hdr.message_id.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Goal: the pauses grow from 50 ms and stop growing at 1 s, whatever the count.
    #[test]
    fn pauses_double_to_a_cap() {
        assert_eq!(pause(0), Duration::from_millis(50));
        assert_eq!(pause(1), Duration::from_millis(100));
        assert_eq!(pause(4), Duration::from_millis(800));
        assert_eq!(pause(5), Duration::from_secs(1));
        assert_eq!(pause(u32::MAX), Duration::from_secs(1));
    }
}
