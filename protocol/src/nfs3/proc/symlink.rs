//! SYMLINK (RFC 1813 §3.3.10): make a symbolic link.

use crate::nfs3::types::{DirOpArgs3, Nfs3Res, PostOpAttr, PostOpFh3, Sattr3, WccData, read_path};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.10
#[doc(alias = "symlinkdata3")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SymlinkData3<'a> {
    /// Initial attributes of the link.
    pub symlink_attributes: Sattr3,
    /// The link target (`nfspath3`); at most
    /// [`SYMLINK_TARGET_MAX`](crate::wire::limits::SYMLINK_TARGET_MAX) bytes, not necessarily
    /// UTF-8, stored as given.
    pub symlink_data: &'a [u8],
}

impl<'a> Decode<'a> for SymlinkData3<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            symlink_attributes: Sattr3::decode(r)?,
            symlink_data: read_path(r, "symlinkdata3.symlink_data")?,
        })
    }
}

impl Encode for SymlinkData3<'_> {
    fn encode(&self, w: &mut Writer) {
        self.symlink_attributes.encode(w);
        w.string(self.symlink_data);
    }
}

/// RFC 1813 §3.3.10
#[doc(alias = "SYMLINK3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symlink3Args<'a> {
    /// The directory and the new link's name.
    #[doc(alias = "where")]
    pub where_: DirOpArgs3<'a>,
    /// The link's attributes and target.
    pub symlink: SymlinkData3<'a>,
}

impl<'a> Decode<'a> for Symlink3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            where_: DirOpArgs3::decode(r)?,
            symlink: SymlinkData3::decode(r)?,
        })
    }
}

impl Encode for Symlink3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.where_.encode(w);
        self.symlink.encode(w);
    }
}

/// RFC 1813 §3.3.10
#[doc(alias = "SYMLINK3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Symlink3ResOk {
    /// The new object's handle (servers should always send it).
    pub obj: PostOpFh3,
    /// The new object's attributes.
    pub obj_attributes: PostOpAttr,
    /// The parent directory's attributes around the operation.
    pub dir_wcc: WccData,
}

impl Decode<'_> for Symlink3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj: PostOpFh3::decode(r)?,
            obj_attributes: PostOpAttr::decode(r)?,
            dir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Symlink3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.obj.encode(w);
        self.obj_attributes.encode(w);
        self.dir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.10
#[doc(alias = "SYMLINK3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Symlink3ResFail {
    /// The parent directory's attributes around the failed attempt.
    pub dir_wcc: WccData,
}

impl Decode<'_> for Symlink3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Symlink3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.dir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.10
#[doc(alias = "SYMLINK3res")]
pub type Symlink3Res = Nfs3Res<Symlink3ResOk, Symlink3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{
        check_round_trip, diropargs, path, post_op_attr, post_op_fh, res, sattr3, wcc_data,
    };
    use crate::wire::{decode_exact, limits};

    pub(crate) fn args() -> impl Strategy<Value = Symlink3Args<'static>> {
        (diropargs(), sattr3(), path()).prop_map(|(where_, symlink_attributes, symlink_data)| {
            Symlink3Args {
                where_,
                symlink: SymlinkData3 {
                    symlink_attributes,
                    symlink_data,
                },
            }
        })
    }

    pub(crate) fn result() -> impl Strategy<Value = Symlink3Res> {
        res(
            (post_op_fh(), post_op_attr(), wcc_data()).prop_map(
                |(obj, obj_attributes, dir_wcc)| Symlink3ResOk {
                    obj,
                    obj_attributes,
                    dir_wcc,
                },
            ),
            wcc_data().prop_map(|dir_wcc| Symlink3ResFail { dir_wcc }),
        )
    }

    proptest! {
        /// Goal: SYMLINK arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }

    /// Goal: a link target longer than SYMLINK_TARGET_MAX is refused on its length word.
    #[test]
    fn oversized_target_rejected() {
        let mut w = Writer::new();
        w.opaque(&[1; 4]);
        w.string(b"link");
        Sattr3::default().encode(&mut w);
        w.u32(limits::SYMLINK_TARGET_MAX as u32 + 1);
        assert_eq!(
            decode_exact::<Symlink3Args<'_>>(&w.into_inner(), "SYMLINK3args"),
            Err(DecodeError::TooLong {
                field: "symlinkdata3.symlink_data",
                len: limits::SYMLINK_TARGET_MAX as u64 + 1,
                max: limits::SYMLINK_TARGET_MAX as u64
            })
        );
    }
}
