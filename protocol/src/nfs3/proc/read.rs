//! READ (RFC 1813 §3.3.6): bytes from a regular file.
//!
//! The decoder does not cap `count`: RFC 1813 lets the server return fewer bytes than asked,
//! so the server clamps it to the `rtmax` it advertises in FSINFO. Result data is
//! [`Bytes`], so a server can hand over a store's buffer without copying, and
//! [`Read3ResOk::encode_head`] lets a transport send that buffer after the encoded header
//! instead of copying it into the reply.

use bytes::Bytes;

use crate::nfs3::types::{Nfs3Res, NfsFh3, PostOpAttr};
use crate::wire::{Decode, DecodeError, Encode, limits};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.6
#[doc(alias = "READ3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Read3Args<'a> {
    /// The file to read.
    pub file: NfsFh3<'a>,
    /// Byte offset to start reading at.
    pub offset: u64,
    /// Bytes wanted; unchecked here, the server clamps it to its `rtmax`.
    pub count: u32,
}

impl<'a> Decode<'a> for Read3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            file: NfsFh3::decode(r)?,
            offset: r.u64("READ3args.offset")?,
            count: r.u32("READ3args.count")?,
        })
    }
}

impl Encode for Read3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.file.encode(w);
        w.u64(self.offset);
        w.u32(self.count);
    }
}

/// RFC 1813 §3.3.6. The wire's `count` is always `data.len()`, so it is not stored twice; a
/// reply whose `count` differs from its data length is refused on decode.
#[doc(alias = "READ3resok")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read3ResOk {
    /// The file's attributes.
    pub file_attributes: PostOpAttr,
    /// Whether the read reached the end of the file.
    pub eof: bool,
    /// The bytes read; at most [`limits::IO_SIZE_MAX`].
    pub data: Bytes,
}

impl Read3ResOk {
    /// Encodes everything up to and including the data's length word. The full encoding is
    /// this, then `data`, then [`crate::xdr::pad_len`]`(data.len())` zero bytes.
    pub fn encode_head(&self, w: &mut Writer) {
        let count =
            u32::try_from(self.data.len()).expect("READ data is bounded by IO_SIZE_MAX (1 MiB)");
        self.file_attributes.encode(w);
        w.u32(count);
        w.bool(self.eof);
        w.u32(count);
    }
}

impl Decode<'_> for Read3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let file_attributes = PostOpAttr::decode(r)?;
        let count = r.u32("READ3resok.count")?;
        let eof = r.bool("READ3resok.eof")?;
        let data = r.opaque(limits::IO_SIZE_MAX, "READ3resok.data")?;
        if data.len() != count as usize {
            return Err(DecodeError::InvalidValue {
                field: "READ3resok.count",
                value: u64::from(count),
            });
        }
        Ok(Self {
            file_attributes,
            eof,
            data: Bytes::copy_from_slice(data),
        })
    }
}

impl Encode for Read3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.encode_head(w);
        w.opaque_fixed(&self.data);
    }
}

/// RFC 1813 §3.3.6
#[doc(alias = "READ3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Read3ResFail {
    /// The file's attributes.
    pub file_attributes: PostOpAttr,
}

impl Decode<'_> for Read3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            file_attributes: PostOpAttr::decode(r)?,
        })
    }
}

impl Encode for Read3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.file_attributes.encode(w);
    }
}

/// RFC 1813 §3.3.6
#[doc(alias = "READ3res")]
pub type Read3Res = Nfs3Res<Read3ResOk, Read3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, fh, post_op_attr, res};
    use crate::wire::{decode_exact, encode_to_vec};
    use crate::xdr::pad_len;

    pub(crate) fn args() -> impl Strategy<Value = Read3Args<'static>> {
        (fh(), any::<u64>(), any::<u32>()).prop_map(|(file, offset, count)| Read3Args {
            file,
            offset,
            count,
        })
    }

    pub(crate) fn result() -> impl Strategy<Value = Read3Res> {
        res(
            (post_op_attr(), any::<bool>(), vec(any::<u8>(), 0..2048)).prop_map(
                |(file_attributes, eof, data)| Read3ResOk {
                    file_attributes,
                    eof,
                    data: Bytes::from(data),
                },
            ),
            post_op_attr().prop_map(|file_attributes| Read3ResFail { file_attributes }),
        )
    }

    proptest! {
        /// Goal: READ arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }

        /// Goal: header + data + padding, as a vectored transport sends it, equals the plain
        /// encoding.
        #[test]
        fn head_then_data_equals_encoding(r in result()) {
            if let Nfs3Res::Ok(ok) = &r {
                let mut w = Writer::new();
                ok.encode_head(&mut w);
                let mut split = w.into_inner();
                split.extend_from_slice(&ok.data);
                split.extend(std::iter::repeat_n(0u8, pad_len(ok.data.len())));
                prop_assert_eq!(split, encode_to_vec(ok));
            }
        }
    }

    /// Goal: a reply whose `count` disagrees with its data length is refused.
    #[test]
    fn count_must_match_data() {
        let mut w = Writer::new();
        w.bool(false); // no attributes
        w.u32(5); // count
        w.bool(true); // eof
        w.opaque(b"abcd"); // 4 bytes of data
        assert_eq!(
            decode_exact::<Read3ResOk>(&w.into_inner(), "READ3resok"),
            Err(DecodeError::InvalidValue {
                field: "READ3resok.count",
                value: 5
            })
        );
    }
}
