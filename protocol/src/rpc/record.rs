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

/// The fragment header (RFC 5531 §11) for a fragment of `len` bytes; `last` marks the final
/// fragment of its record. Servers write each reply as one fragment: this header with `last`
/// set, then the reply.
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

/// `payload` as one record of a single, last fragment (RFC 5531 §11): its header, then the
/// payload. Copies the payload; a writer that can do vectored I/O can send [`record_header`]
/// and the payload separately instead.
///
/// # Panics
/// If `payload` is 2 GiB or longer.
pub fn encode_record(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + payload.len());
    out.extend_from_slice(&record_header(payload.len(), true));
    out.extend_from_slice(payload);
    out
}

/// Splits a TCP byte stream into records (RFC 5531 §11), concatenating each record's
/// fragments. One decoder serves one connection; after it returns an error the stream has no
/// recoverable record boundary and the connection must be closed.
///
/// Limits, each checked on the fragment header before any buffer grows:
/// [`limits::FRAGMENT_MAX`] per fragment, [`limits::RECORD_MAX`] per record and
/// [`limits::FRAGMENTS_PER_RECORD_MAX`] fragments per record (which also bounds runs of
/// empty fragments). A connection therefore holds at most one record plus one fragment.
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

    /// Takes the next complete record out of `buf`, if there is one: `Ok(None)` means more
    /// bytes are needed (any complete fragments have been moved out of `buf` already), `Err`
    /// a broken stream. Call it again after `Ok(Some(_))`: `buf` may hold further records.
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

    /// Goal: fragments that add up to more than RECORD_MAX are refused on the header of the
    /// fragment that would cross the limit, before its bytes are buffered. Method: one full
    /// fragment of FRAGMENT_MAX bytes, then a header for one more byte.
    #[test]
    fn oversized_record_refused() {
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&record_header(limits::FRAGMENT_MAX, false));
        buf.resize(4 + limits::FRAGMENT_MAX, 0);
        let mut d = RecordDecoder::new();
        assert_eq!(d.decode(&mut buf), Ok(None));
        assert!(buf.is_empty());
        // A fresh buffer, so its capacity shows whether the decoder reserved anything.
        let mut buf =
            BytesMut::from(&record_header(limits::RECORD_MAX + 1 - limits::FRAGMENT_MAX, true)[..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(FrameError::RecordTooLong {
                len: limits::RECORD_MAX + 1,
                max: limits::RECORD_MAX
            })
        );
        assert!(buf.capacity() < 1024);
    }

    /// Goal: a legal fragment header makes the decoder reserve room for that fragment only.
    #[test]
    fn reserve_is_bounded_by_the_fragment() {
        let mut buf = BytesMut::from(&record_header(1000, true)[..]);
        assert_eq!(RecordDecoder::new().decode(&mut buf), Ok(None));
        assert!(buf.capacity() >= 1004);
        assert!(buf.capacity() < 1004 + 1024);
        let mut buf = BytesMut::from(&record_header(limits::FRAGMENT_MAX + 1, true)[..]);
        assert!(RecordDecoder::new().decode(&mut buf).is_err());
        assert!(buf.capacity() < 1024);
    }

    /// Goal: several records in one buffer come out one per call, including an empty record
    /// and one made of empty fragments; the decoder then waits for more.
    #[test]
    fn back_to_back_records() {
        let mut wire = encode_record(b"one");
        wire.extend_from_slice(&encode_record(b""));
        wire.extend_from_slice(&framed(b"", &[0, 0, 0]));
        wire.extend_from_slice(&framed(b"three", &[2, 3]));
        wire.extend_from_slice(&record_header(10, true)[..2]);
        let mut buf = BytesMut::from(&wire[..]);
        let mut d = RecordDecoder::new();
        let mut got = Vec::new();
        while let Some(r) = d.decode(&mut buf).unwrap() {
            got.push(r);
        }
        let want: Vec<Bytes> = vec![
            Bytes::from_static(b"one"),
            Bytes::new(),
            Bytes::new(),
            Bytes::from_static(b"three"),
        ];
        assert_eq!(got, want);
        assert_eq!(buf.len(), 2);
    }

    /// Goal: the fragment header has the last-fragment bit on top and the length below.
    #[test]
    fn header_layout() {
        assert_eq!(record_header(0x1234, true), [0x80, 0x00, 0x12, 0x34]);
        assert_eq!(record_header(5, false), [0, 0, 0, 5]);
        assert_eq!(encode_record(b"ab"), vec![0x80, 0, 0, 2, b'a', b'b']);
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

        /// Goal: random bytes fed in random chunks never panic, and every record the decoder
        /// returns respects the record limit.
        #[test]
        fn random_chunks_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512),
                                     chunks in proptest::collection::vec(1usize..64, 1..32)) {
            let mut d = RecordDecoder::new();
            let mut buf = BytesMut::new();
            let mut rest = &data[..];
            'feed: for n in chunks.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let n = (*n).min(rest.len());
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                loop {
                    match d.decode(&mut buf) {
                        Ok(Some(r)) => prop_assert!(r.len() <= limits::RECORD_MAX),
                        Ok(None) => break,
                        Err(_) => break 'feed,
                    }
                }
            }
        }
    }
}
