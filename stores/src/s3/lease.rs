//! The garbage scan lease: one small object, `<prefix>gc-lease`, naming the instance that runs
//! a full garbage scan of the prefix and until when (its clock). An instance takes the lease by
//! creating the object (a create-only PUT), or by replacing it once the time in it passed
//! (a PUT conditional on the ETag it read, so of two instances taking over an expired lease
//! only one succeeds); the holder renews it the same way while it scans and ends it by writing
//! an expiry in the past.
//!
//! The lease saves work, it does not make collection safe: every scan only deletes what is
//! garbage whoever else scans at the same time (see `collect_garbage`), so a holder that
//! stalls past its expiry, or clocks that disagree about when it expired, only cost a second
//! scan.

use bytes::Bytes;

/// The first line of a lease object.
const MAGIC: &str = "dittofs gc-lease 1";

/// The body of a lease held by `holder` until `expires_ms` (milliseconds since the epoch).
pub fn encode(holder: u64, expires_ms: u64) -> Bytes {
    Bytes::from(format!(
        "{MAGIC}\nholder {holder:016x}\nexpires_ms {expires_ms}\n"
    ))
}

/// The holder and expiry in a lease body; `None` if it is not one (then it counts as
/// expired, so a damaged lease cannot block scans for ever).
pub fn decode(body: &[u8]) -> Option<(u64, u64)> {
    let text = std::str::from_utf8(body).ok()?;
    let mut lines = text.lines();
    if lines.next()? != MAGIC {
        return None;
    }
    let holder = u64::from_str_radix(lines.next()?.strip_prefix("holder ")?, 16).ok()?;
    let expires = lines.next()?.strip_prefix("expires_ms ")?.parse().ok()?;
    Some((holder, expires))
}

/// A lease this instance holds: the ETag of its lease object (what a renewal must match)
/// and when it last wrote it.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) etag: String,
    pub(crate) written_ms: u64,
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};

    /// Goal: a lease body round-trips, and anything else reads as no lease.
    #[test]
    fn lease_bodies() {
        assert_eq!(decode(&encode(0xabc, 1234)), Some((0xabc, 1234)));
        assert_eq!(decode(b""), None);
        assert_eq!(
            decode(b"dittofs gc-lease 1\nholder zz\nexpires_ms 1\n"),
            None
        );
        assert_eq!(decode(b"something else\nholder 1\nexpires_ms 1\n"), None);
    }
}
