//! ONC RPC pieces every NFS-side program shares: program numbers, the connection's identity
//! and building a reply record body.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use protocol::xdr::Writer;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The portmapper (RFC 1833).
pub(crate) const PROG_PORTMAP: u32 = 100_000;
/// NFS (RFC 1813).
pub(crate) const PROG_NFS: u32 = 100_003;
/// MOUNT (RFC 1813 Appendix I).
pub(crate) const PROG_MOUNT: u32 = 100_005;
/// The Network Lock Manager (X/Open XNFS).
pub(crate) const PROG_NLM: u32 = protocol::nlm4::PROGRAM;
/// The Network Status Monitor (X/Open XNFS).
pub(crate) const PROG_NSM: u32 = protocol::nsm::PROGRAM;

/// A connection's identity, for logs, the DRC and export checks.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnInfo {
    /// Server-wide connection number, for logs.
    pub(crate) id: u64,
    /// The client's address.
    pub(crate) peer: SocketAddr,
}

/// Builds a reply record body.
pub(crate) fn reply(f: impl FnOnce(&mut Writer)) -> Bytes {
    let mut w = Writer::with_capacity(128);
    f(&mut w);
    Bytes::from(w.into_inner())
}

/// A server-wide budget of bytes (a semaphore counting bytes): callers wait for room.
#[derive(Debug, Clone)]
pub(crate) struct ByteBudget {
    sem: Arc<Semaphore>,
    max: usize,
}

impl ByteBudget {
    /// A budget of `max` bytes (at least 1).
    pub(crate) fn new(max: usize) -> Self {
        let max = max.clamp(1, Semaphore::MAX_PERMITS);
        Self {
            sem: Arc::new(Semaphore::new(max)),
            max,
        }
    }

    /// Waits until `len` bytes fit, and holds them until the permit is dropped. A charge
    /// larger than the whole budget takes all of it rather than waiting forever.
    pub(crate) async fn reserve(&self, len: usize) -> OwnedSemaphorePermit {
        let charge = u32::try_from(len.clamp(1, self.max)).unwrap_or(u32::MAX);
        self.sem
            .clone()
            .acquire_many_owned(charge)
            .await
            .expect("byte budget semaphore is never closed")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Goal: a byte budget makes a reservation wait while the bytes are held elsewhere, lets it
    /// through when they are released, and never blocks for ever on a charge larger than the
    /// whole budget. Method: a 100-byte budget, reservations of 60, 60 and 1000 bytes.
    #[tokio::test(flavor = "current_thread")]
    async fn waits_for_room_and_never_for_ever() {
        let b = ByteBudget::new(100);
        let first = b.reserve(60).await;
        let waited = tokio::time::timeout(Duration::from_millis(50), b.reserve(60)).await;
        assert!(waited.is_err(), "60 + 60 bytes do not fit in 100");
        drop(first);
        let second = tokio::time::timeout(Duration::from_millis(50), b.reserve(60))
            .await
            .expect("room after the first reply was written");
        drop(second);
        let all = tokio::time::timeout(Duration::from_millis(50), b.reserve(1000))
            .await
            .expect("a charge above the budget takes the whole budget");
        assert_eq!(b.sem.available_permits(), 0);
        drop(all);
        assert_eq!(b.sem.available_permits(), 100);
    }
}
