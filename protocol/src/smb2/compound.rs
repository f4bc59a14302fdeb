//! Compounded messages ([MS-SMB2] 2.2.1, 3.2.4.1.4, 3.3.4.1.3, 3.3.5.2.7): one frame may
//! chain several SMB2 messages, each header's NextCommand giving the offset from that header
//! to the next 8-byte aligned one, 0 on the last.
//!
//! [`split`] cuts a frame into its elements; [`check_chain`] applies the rules about the
//! RELATED_OPERATIONS flag; [`CompoundBuilder`] joins encoded responses with padding and
//! NextCommand filled in.
//!
//! An element's bytes run to the start of the next element, so a non-last element includes
//! its padding (up to 7 bytes after the body). Signatures cover those bytes ([MS-SMB2]
//! 3.1.4.1 signs each element as NextCommand delimits it), so command decoders must accept
//! bytes after a body.

use std::ops::Range;

use super::header::{HEADER_LEN, HeaderFlags, NEXT_COMMAND_RANGE};
use super::limits;

/// One message of a frame: a compound element, or the whole frame when it is not compounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// Its offset in the frame.
    pub offset: usize,
    /// Its bytes, from its header to the next element's header (or the end of the frame).
    pub bytes: &'a [u8],
    /// Its header has RELATED_OPERATIONS set.
    pub related: bool,
}

/// What the server does about a [`CompoundError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompoundAction {
    /// Close the connection without a reply ([MS-SMB2] 3.3.5.2.6, 3.3.5.2.7: there is no
    /// trustworthy message boundary to answer).
    Disconnect,
    /// Answer every element with STATUS_INVALID_PARAMETER ([MS-SMB2] 3.3.5.2.7, 3.3.5.2.7.2).
    InvalidParameter,
}

/// Why a frame is not a valid compound.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CompoundError {
    /// An element (the last one, or the frame itself) is shorter than the 64-byte header
    /// ([MS-SMB2] 3.3.5.2.6: disconnect).
    #[error("element at {offset} is shorter than an SMB2 header")]
    Short {
        /// The element's offset in the frame.
        offset: usize,
    },
    /// A NextCommand is non-zero but smaller than a header, so elements would overlap.
    #[error("NextCommand {next} at {offset} is smaller than a header")]
    Overlap {
        /// The element's offset.
        offset: usize,
        /// Its NextCommand.
        next: u32,
    },
    /// A NextCommand is not a multiple of 8 ([MS-SMB2] 3.3.5.2.7: the server SHOULD
    /// disconnect).
    #[error("NextCommand {next} at {offset} is not 8-byte aligned")]
    Misaligned {
        /// The element's offset.
        offset: usize,
        /// Its NextCommand.
        next: u32,
    },
    /// A NextCommand points at or past the end of the frame.
    #[error("NextCommand {next} at {offset} points past the frame")]
    PastEnd {
        /// The element's offset.
        offset: usize,
        /// Its NextCommand.
        next: u32,
    },
    /// More elements than [`limits::COMPOUND_MAX`].
    #[error("more than {max} messages in one compound")]
    TooMany {
        /// The limit.
        max: usize,
    },
    /// The first element has RELATED_OPERATIONS set ([MS-SMB2] 3.3.5.2.7.2: the server
    /// SHOULD fail the chain; Windows and Samba answer INVALID_PARAMETER).
    #[error("the first message of a compound is marked related")]
    FirstRelated,
    /// Related and unrelated elements are mixed after the first ([MS-SMB2] 3.3.5.2.7: the
    /// server SHOULD fail each request with INVALID_PARAMETER).
    #[error("related and unrelated messages mixed in one compound")]
    MixedStyles,
}

impl CompoundError {
    /// What the server does about the error: every framing error disconnects; the
    /// related-operations rules of [`check_chain`] are answered with INVALID_PARAMETER.
    pub const fn action(&self) -> CompoundAction {
        match self {
            Self::Short { .. }
            | Self::Overlap { .. }
            | Self::Misaligned { .. }
            | Self::PastEnd { .. }
            | Self::TooMany { .. } => CompoundAction::Disconnect,
            Self::FirstRelated | Self::MixedStyles => CompoundAction::InvalidParameter,
        }
    }
}

/// Splits an SMB2 frame (ProtocolId 0xFE 'SMB', already known from
/// [`super::framing::ProtocolId`]) into its elements by NextCommand. Each NextCommand must be
/// 0 (the last element, which runs to the end of the frame) or at least 64, a multiple of 8
/// and inside the frame; every element must hold a whole header; at most
/// [`limits::COMPOUND_MAX`] elements. Headers are not otherwise decoded. All errors are
/// [`CompoundAction::Disconnect`].
pub fn split(frame: &[u8]) -> Result<Vec<Element<'_>>, CompoundError> {
    let mut out = Vec::new();
    let mut offset = 0usize;
    loop {
        let rest = &frame[offset..];
        if rest.len() < HEADER_LEN {
            return Err(CompoundError::Short { offset });
        }
        if out.len() == limits::COMPOUND_MAX {
            return Err(CompoundError::TooMany {
                max: limits::COMPOUND_MAX,
            });
        }
        let flags = u32::from_le_bytes([rest[16], rest[17], rest[18], rest[19]]);
        let next = u32::from_le_bytes([rest[20], rest[21], rest[22], rest[23]]);
        let related = HeaderFlags(flags).contains(HeaderFlags::RELATED_OPERATIONS);
        if next == 0 {
            out.push(Element {
                offset,
                bytes: rest,
                related,
            });
            return Ok(out);
        }
        if (next as usize) < HEADER_LEN {
            return Err(CompoundError::Overlap { offset, next });
        }
        if !next.is_multiple_of(8) {
            return Err(CompoundError::Misaligned { offset, next });
        }
        if next as usize >= rest.len() {
            return Err(CompoundError::PastEnd { offset, next });
        }
        out.push(Element {
            offset,
            bytes: &rest[..next as usize],
            related,
        });
        offset += next as usize;
    }
}

/// Checks the related-operations rules of a split compound ([MS-SMB2] 3.3.5.2.7): the first
/// element must not be related; after it, either all elements are related or none is. Errors
/// are [`CompoundAction::InvalidParameter`]. A server may choose to process mixed chains as
/// Windows does (each related element inherits from its predecessor); this check is for
/// servers that follow the SHOULD.
pub fn check_chain(elements: &[Element<'_>]) -> Result<(), CompoundError> {
    let Some((first, rest)) = elements.split_first() else {
        return Ok(());
    };
    if first.related {
        return Err(CompoundError::FirstRelated);
    }
    let related = rest.iter().filter(|e| e.related).count();
    if related != 0 && related != rest.len() {
        return Err(CompoundError::MixedStyles);
    }
    Ok(())
}

/// Joins encoded messages into one compound frame ([MS-SMB2] 3.3.4.1.3): each message after
/// the first starts 8-byte aligned, the zero padding belongs to the message before it (and
/// the last message is padded as well), and every NextCommand but the last is set to the
/// distance between headers (the last is set to 0). Sign each element after [`CompoundBuilder::finish`], over the ranges it returns.
#[derive(Debug, Default, Clone)]
pub struct CompoundBuilder {
    buf: Vec<u8>,
    starts: Vec<usize>,
}

impl CompoundBuilder {
    /// An empty compound.
    pub const fn new() -> Self {
        Self {
            buf: Vec::new(),
            starts: Vec::new(),
        }
    }

    /// Messages pushed so far.
    pub fn len(&self) -> usize {
        self.starts.len()
    }

    /// Nothing pushed yet.
    pub fn is_empty(&self) -> bool {
        self.starts.is_empty()
    }

    /// Bytes so far (what the frame would be without further messages).
    pub fn frame_len(&self) -> usize {
        self.buf.len()
    }

    /// Appends one encoded message (64-byte header and body). A message shorter than a header
    /// is appended as it is (a bug of the caller's; NextCommand is then not patched in it).
    pub fn push(&mut self, msg: &[u8]) {
        if let Some(&prev) = self.starts.last() {
            let padded = self.buf.len().next_multiple_of(8);
            self.buf.resize(padded, 0);
            let next = u32::try_from(padded - prev).unwrap_or(0);
            patch_next_command(&mut self.buf[prev..], next);
        }
        self.starts.push(self.buf.len());
        self.buf.extend_from_slice(msg);
        let last = self.buf.len() - msg.len();
        patch_next_command(&mut self.buf[last..], 0);
    }

    /// The frame and each element's byte range in it (padding included, as signing covers it).
    /// In a compound of two or more messages the last one is padded to 8 bytes too ([MS-SMB2]
    /// 3.3.4.1.3: "the length of the last response ... SHOULD be padded", as Samba does); a
    /// single message is left as it is.
    pub fn finish(mut self) -> (Vec<u8>, Vec<Range<usize>>) {
        if self.starts.len() > 1 {
            let padded = self.buf.len().next_multiple_of(8);
            self.buf.resize(padded, 0);
        }
        let mut ranges = Vec::with_capacity(self.starts.len());
        for (i, &s) in self.starts.iter().enumerate() {
            let end = self.starts.get(i + 1).copied().unwrap_or(self.buf.len());
            ranges.push(s..end);
        }
        (self.buf, ranges)
    }
}

/// Joins `msgs` into one compound frame (see [`CompoundBuilder`]).
pub fn join(msgs: &[&[u8]]) -> Vec<u8> {
    let mut b = CompoundBuilder::new();
    for m in msgs {
        b.push(m);
    }
    b.finish().0
}

fn patch_next_command(msg: &mut [u8], next: u32) {
    if let Some(dst) = msg.get_mut(NEXT_COMMAND_RANGE) {
        dst.copy_from_slice(&next.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::smb2::header::{Command, Header};

    fn msg(command: Command, related: bool, body: &[u8]) -> Vec<u8> {
        let mut h = Header::new(command);
        if related {
            h.flags = HeaderFlags::RELATED_OPERATIONS;
        }
        let mut v = h.to_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    /// Goal: a CREATE + QUERY_INFO + CLOSE chain as Linux sends it splits at the padded
    /// offsets, with the padding in the elements and the related flags reported.
    #[test]
    fn split_three() {
        let a = msg(Command::CREATE, false, &[1; 57]);
        let b = msg(Command::QUERY_INFO, true, &[2; 41]);
        let c = msg(Command::CLOSE, true, &[3; 24]);
        let frame = join(&[&a, &b, &c]);
        let e = split(&frame).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].offset, 0);
        assert_eq!(e[0].bytes.len(), 128); // 121 rounded up to 8
        assert_eq!(e[1].offset, 128);
        assert_eq!(e[1].bytes.len(), 112); // 105 rounded up
        assert_eq!(e[2].offset, 240);
        assert_eq!(e[2].bytes.len(), 88); // 88 is already a multiple of 8
        let (padded, ranges) = {
            let mut b = CompoundBuilder::new();
            b.push(&a);
            b.push(&c[..85]);
            b.finish()
        };
        assert_eq!(padded.len(), 128 + 88); // the last element padded from 85 to 88
        assert_eq!(ranges, vec![0..128, 128..216]);
        let (single, _) = {
            let mut b = CompoundBuilder::new();
            b.push(&a);
            b.finish()
        };
        assert_eq!(single, a); // a lone message is not padded
        assert_eq!(Header::decode(e[0].bytes).unwrap().next_command, 128);
        assert_eq!(Header::decode(e[2].bytes).unwrap().next_command, 0);
        assert_eq!(
            e.iter().map(|e| e.related).collect::<Vec<_>>(),
            [false, true, true]
        );
        assert_eq!(check_chain(&e), Ok(()));
    }

    /// Goal: each malformed NextCommand gives its typed error, all of them disconnects.
    #[test]
    fn split_errors() {
        let a = msg(Command::ECHO, false, &[0; 8]);
        let two = join(&[&a, &a]);
        let with_next = |next: u32| {
            let mut f = two.clone();
            f[20..24].copy_from_slice(&next.to_le_bytes());
            f
        };
        assert_eq!(
            split(&with_next(8)),
            Err(CompoundError::Overlap { offset: 0, next: 8 })
        );
        assert_eq!(
            split(&with_next(68)),
            Err(CompoundError::Misaligned {
                offset: 0,
                next: 68
            })
        );
        assert_eq!(
            split(&with_next(144)),
            Err(CompoundError::PastEnd {
                offset: 0,
                next: 144
            })
        );
        assert_eq!(
            split(&with_next(88)),
            Err(CompoundError::Short { offset: 88 })
        );
        assert_eq!(split(&a[..63]), Err(CompoundError::Short { offset: 0 }));
        let e = split(&with_next(88)).unwrap_err();
        assert_eq!(e.action(), CompoundAction::Disconnect);
    }

    /// Goal: more than COMPOUND_MAX elements are refused.
    #[test]
    fn too_many() {
        let a = msg(Command::ECHO, false, &[0; 8]);
        let parts: Vec<&[u8]> = vec![&a; limits::COMPOUND_MAX];
        assert_eq!(split(&join(&parts)).unwrap().len(), limits::COMPOUND_MAX);
        let parts: Vec<&[u8]> = vec![&a; limits::COMPOUND_MAX + 1];
        assert_eq!(
            split(&join(&parts)),
            Err(CompoundError::TooMany {
                max: limits::COMPOUND_MAX
            })
        );
    }

    /// Goal: the related-operations rules: first related, mixed styles.
    #[test]
    fn chain_rules() {
        let u = msg(Command::ECHO, false, &[]);
        let r = msg(Command::ECHO, true, &[]);
        let check = |parts: &[&[u8]]| check_chain(&split(&join(parts)).unwrap());
        assert_eq!(check(&[&r]), Err(CompoundError::FirstRelated));
        assert_eq!(check(&[&u, &r, &u]), Err(CompoundError::MixedStyles));
        assert_eq!(check(&[&u, &u, &u]), Ok(()));
        assert_eq!(check(&[&u]), Ok(()));
        assert_eq!(
            CompoundError::MixedStyles.action(),
            CompoundAction::InvalidParameter
        );
    }

    proptest! {
        /// Goal: splitting what the builder joined gives back the parts (with NextCommand set
        /// and zero padding), and the builder's ranges match the split.
        #[test]
        fn join_then_split(bodies in proptest::collection::vec(
                (any::<bool>(), proptest::collection::vec(any::<u8>(), 0..40)), 1..8)) {
            let msgs: Vec<Vec<u8>> =
                bodies.iter().map(|(rel, b)| msg(Command::READ, *rel, b)).collect();
            let mut builder = CompoundBuilder::new();
            for m in &msgs {
                builder.push(m);
            }
            let (frame, ranges) = builder.finish();
            let elements = split(&frame).unwrap();
            prop_assert_eq!(elements.len(), msgs.len());
            for ((e, m), r) in elements.iter().zip(&msgs).zip(&ranges) {
                prop_assert_eq!(e.offset, r.start);
                prop_assert_eq!(e.bytes.len(), r.len());
                prop_assert_eq!(&e.bytes[..20], &m[..20]);
                prop_assert_eq!(&e.bytes[24..m.len()], &m[24..]);
                prop_assert!(e.bytes[m.len()..].iter().all(|&b| b == 0));
                prop_assert!(e.bytes.len() - m.len() < 8);
                prop_assert_eq!(e.offset % 8, 0);
            }
        }

        /// Goal: no input panics the splitter, and what it returns tiles the frame.
        #[test]
        fn random_frames(data in proptest::collection::vec(any::<u8>(), 0..600),
                         nexts in proptest::collection::vec(0u32..300, 0..6)) {
            let mut data = data;
            for (i, n) in nexts.iter().enumerate() {
                let at = i * 72 + 20;
                if let Some(dst) = data.get_mut(at..at + 4) {
                    dst.copy_from_slice(&(n & !7).to_le_bytes());
                }
            }
            if let Ok(e) = split(&data) {
                let total: usize = e.iter().map(|e| e.bytes.len()).sum();
                prop_assert_eq!(total, data.len());
                let _ = check_chain(&e);
            }
        }
    }
}
