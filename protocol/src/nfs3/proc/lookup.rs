//! LOOKUP (RFC 1813 §3.3.3): find a name in a directory and return its handle.

use crate::nfs3::types::{DirOpArgs3, Nfs3Res, NfsFh3Buf, PostOpAttr};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.3
#[doc(alias = "LOOKUP3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup3Args<'a> {
    /// The directory to search and the name to look for.
    pub what: DirOpArgs3<'a>,
}

impl<'a> Decode<'a> for Lookup3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            what: DirOpArgs3::decode(r)?,
        })
    }
}

impl Encode for Lookup3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.what.encode(w);
    }
}

/// RFC 1813 §3.3.3
#[doc(alias = "LOOKUP3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup3ResOk {
    /// The handle of the object found.
    pub object: NfsFh3Buf,
    /// The object's attributes.
    pub obj_attributes: PostOpAttr,
    /// The directory's attributes.
    pub dir_attributes: PostOpAttr,
}

impl Decode<'_> for Lookup3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            object: NfsFh3Buf::decode(r)?,
            obj_attributes: PostOpAttr::decode(r)?,
            dir_attributes: PostOpAttr::decode(r)?,
        })
    }
}

impl Encode for Lookup3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.object.encode(w);
        self.obj_attributes.encode(w);
        self.dir_attributes.encode(w);
    }
}

/// RFC 1813 §3.3.3
#[doc(alias = "LOOKUP3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lookup3ResFail {
    /// The directory's attributes.
    pub dir_attributes: PostOpAttr,
}

impl Decode<'_> for Lookup3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir_attributes: PostOpAttr::decode(r)?,
        })
    }
}

impl Encode for Lookup3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.dir_attributes.encode(w);
    }
}

/// RFC 1813 §3.3.3
#[doc(alias = "LOOKUP3res")]
pub type Lookup3Res = Nfs3Res<Lookup3ResOk, Lookup3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, diropargs, fh_buf, post_op_attr, res};
    use crate::wire::{DecodeError, decode_exact, limits};

    pub(crate) fn args() -> impl Strategy<Value = Lookup3Args<'static>> {
        diropargs().prop_map(|what| Lookup3Args { what })
    }

    pub(crate) fn result() -> impl Strategy<Value = Lookup3Res> {
        res(
            (fh_buf(), post_op_attr(), post_op_attr()).prop_map(
                |(object, obj_attributes, dir_attributes)| Lookup3ResOk {
                    object,
                    obj_attributes,
                    dir_attributes,
                },
            ),
            post_op_attr().prop_map(|dir_attributes| Lookup3ResFail { dir_attributes }),
        )
    }

    proptest! {
        /// Goal: LOOKUP arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }

    /// Goal: decode a LOOKUP call body shaped like a Linux client's (a 28-byte handle, the name
    /// "hello.txt" with 3 padding bytes). Method: a hand-written hex fixture, checked field by
    /// field, then re-encoded byte for byte.
    #[test]
    fn fixture_linux_lookup() {
        let hex = concat!(
            "0000001c", // handle length 28
            "01000601", "a1b2c3d4", "e5f60718", "293a4b5c", "6d7e8f90", // handle bytes
            "00000002", "00000080", // (inode, generation)
            "00000009", // name length 9
            "68656c6c", "6f2e7478", "74000000", // "hello.txt" + pad
        );
        let bytes = hex::decode(hex).unwrap();
        let args: Lookup3Args<'_> = decode_exact(&bytes, "LOOKUP3args").unwrap();
        assert_eq!(args.what.dir.as_bytes().len(), 28);
        assert_eq!(&args.what.dir.as_bytes()[..4], &[0x01, 0x00, 0x06, 0x01]);
        assert_eq!(args.what.name, b"hello.txt");
        assert_eq!(crate::wire::encode_to_vec(&args), bytes);

        // The same call with a non-zero padding byte is refused (RFC 4506 §4.10).
        let mut bad = bytes.clone();
        let last = bad.len() - 1;
        bad[last] = 1;
        assert_eq!(
            decode_exact::<Lookup3Args<'_>>(&bad, "LOOKUP3args"),
            Err(DecodeError::NonZeroPadding {
                field: "diropargs3.name"
            })
        );
    }

    /// Goal: a name longer than NAME_WIRE_MAX is refused on its length word, while one just
    /// over NAME_MAX decodes (the server answers it NFS3ERR_NAMETOOLONG). Method: a valid
    /// handle followed by names of NAME_MAX + 1 and NAME_WIRE_MAX + 1 bytes.
    #[test]
    fn oversized_name_rejected() {
        let args = |len: usize| {
            let mut w = Writer::new();
            w.opaque(&[1, 2, 3, 4]);
            w.string(&vec![b'a'; len]);
            w.into_inner()
        };
        let long = args(limits::NAME_MAX + 1);
        let decoded = decode_exact::<Lookup3Args<'_>>(&long, "LOOKUP3args").unwrap();
        assert_eq!(decoded.what.name.len(), limits::NAME_MAX + 1);
        assert_eq!(
            decode_exact::<Lookup3Args<'_>>(&args(limits::NAME_WIRE_MAX + 1), "LOOKUP3args"),
            Err(DecodeError::TooLong {
                field: "diropargs3.name",
                len: limits::NAME_WIRE_MAX as u64 + 1,
                max: limits::NAME_WIRE_MAX as u64
            })
        );
    }
}
