//! ONC RPC record marking over TCP (RFC 5531 §11): each record is a sequence of fragments,
//! each preceded by a 4-byte header whose top bit marks the last fragment and whose low 31 bits
//! give the fragment length.
//!
//! [`RecordDecoder`] is a sans-IO framing step: it returns `Ok(None)` until a whole record is
//! buffered, and an error for a stream that can never become valid (the connection is closed).
//! Every length is checked against the limits before any buffer grows.

use bytes::{Buf, Bytes, BytesMut};

use crate::wire::limits;

/// Why a byte stream is not valid record marking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A fragment header announced more than `limits::FRAGMENT_MAX` bytes.
    #[error("fragment of {len} bytes exceeds the limit {max}")]
    FragmentTooLong {
        /// Announced length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The fragments of one record add up to more than `limits::RECORD_MAX` bytes.
    #[error("record of at least {len} bytes exceeds the limit {max}")]
    RecordTooLong {
        /// Length so far.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More than `limits::FRAGMENTS_PER_RECORD_MAX` fragments in one record.
    #[error("more than {max} fragments in one record")]
    TooManyFragments {
        /// The limit.
        max: usize,
    },
}

/// The last-fragment bit of a fragment header.
const LAST: u32 = 0x8000_0000;

/// The fragment header for a fragment of `len` bytes.
///
/// # Panics
/// If `len` does not fit in 31 bits; replies are bounded far below that.
pub fn record_header(len: usize, last: bool) -> [u8; 4] {
    let len = u32::try_from(len)
        .ok()
        .filter(|&l| l < LAST)
        .expect("fragment length fits in 31 bits");
    (len | if last { LAST } else { 0 }).to_be_bytes()
}

/// Splits a TCP byte stream into records.
#[derive(Debug, Default)]
pub struct RecordDecoder {
    /// Fragments of the record being assembled.
    partial: BytesMut,
    fragments: usize,
}

impl RecordDecoder {
    /// A decoder with the default limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next complete record out of `buf`, if there is one.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, FrameError> {
        loop {
            if buf.len() < 4 {
                return Ok(None);
            }
            let header = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let len = (header & !LAST) as usize;
            let last = header & LAST != 0;
            if len > limits::FRAGMENT_MAX {
                return Err(FrameError::FragmentTooLong {
                    len,
                    max: limits::FRAGMENT_MAX,
                });
            }
            let total = self.partial.len() + len;
            if total > limits::RECORD_MAX {
                return Err(FrameError::RecordTooLong {
                    len: total,
                    max: limits::RECORD_MAX,
                });
            }
            if self.fragments + 1 > limits::FRAGMENTS_PER_RECORD_MAX {
                return Err(FrameError::TooManyFragments {
                    max: limits::FRAGMENTS_PER_RECORD_MAX,
                });
            }
            if buf.len() < 4 + len {
                // Make room for the rest of this fragment only; its length was checked above.
                buf.reserve(4 + len - buf.len());
                return Ok(None);
            }
            buf.advance(4);
            let frag = buf.split_to(len);
            self.fragments += 1;
            if last {
                self.fragments = 0;
                if self.partial.is_empty() {
                    return Ok(Some(frag.freeze()));
                }
                self.partial.extend_from_slice(&frag);
                return Ok(Some(std::mem::take(&mut self.partial).freeze()));
            }
            self.partial.extend_from_slice(&frag);
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn framed(payload: &[u8], split: &[usize]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut rest = payload;
        for (i, &n) in split.iter().enumerate() {
            let n = n.min(rest.len());
            let last = i + 1 == split.len();
            let n = if last { rest.len() } else { n };
            out.extend_from_slice(&record_header(n, last));
            out.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
        }
        out
    }

    /// Goal: a record split into fragments and fed a byte at a time comes out whole, once.
    #[test]
    fn reassembles_fragments_fed_bytewise() {
        let payload: Vec<u8> = (0..200u8).collect();
        let wire = framed(&payload, &[10, 50, 0, 140]);
        let mut d = RecordDecoder::new();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire {
            buf.extend_from_slice(&[b]);
            while let Some(r) = d.decode(&mut buf).unwrap() {
                got.push(r);
            }
        }
        assert_eq!(got, vec![Bytes::from(payload)]);
    }

    /// Goal: a 2 GiB fragment header is refused before anything is allocated.
    #[test]
    fn oversized_fragment_refused() {
        let mut buf = BytesMut::from(&0xFFFF_FFFFu32.to_be_bytes()[..]);
        let err = RecordDecoder::new().decode(&mut buf).unwrap_err();
        assert!(matches!(err, FrameError::FragmentTooLong { .. }));
        assert!(buf.capacity() < 1024);
    }

    /// Goal: endless tiny fragments are refused.
    #[test]
    fn too_many_fragments_refused() {
        let mut buf = BytesMut::new();
        for _ in 0..=limits::FRAGMENTS_PER_RECORD_MAX {
            buf.extend_from_slice(&record_header(1, false));
            buf.extend_from_slice(&[0]);
        }
        let mut d = RecordDecoder::new();
        assert_eq!(
            d.decode(&mut buf),
            Err(FrameError::TooManyFragments {
                max: limits::FRAGMENTS_PER_RECORD_MAX
            })
        );
    }

    proptest! {
        /// Goal: any payload and any fragmentation round-trips; random bytes never panic.
        #[test]
        fn round_trip(payload in proptest::collection::vec(any::<u8>(), 0..2000),
                      split in proptest::collection::vec(0usize..500, 1..6),
                      junk in proptest::collection::vec(any::<u8>(), 0..64)) {
            let wire = framed(&payload, &split);
            let mut buf = BytesMut::from(&wire[..]);
            let r = RecordDecoder::new().decode(&mut buf).unwrap();
            prop_assert_eq!(r, Some(Bytes::from(payload)));
            let mut jb = BytesMut::from(&junk[..]);
            let mut d = RecordDecoder::new();
            while let Ok(Some(_)) = d.decode(&mut jb) {}
        }
    }
}
