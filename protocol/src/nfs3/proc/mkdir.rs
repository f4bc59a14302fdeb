//! MKDIR (RFC 1813 §3.3.9): make a directory.

use crate::nfs3::types::{DirOpArgs3, Nfs3Res, PostOpAttr, PostOpFh3, Sattr3, WccData};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.9
#[doc(alias = "MKDIR3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mkdir3Args<'a> {
    /// The parent directory and the new directory's name.
    #[doc(alias = "where")]
    pub where_: DirOpArgs3<'a>,
    /// Initial attributes.
    pub attributes: Sattr3,
}

impl<'a> Decode<'a> for Mkdir3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            where_: DirOpArgs3::decode(r)?,
            attributes: Sattr3::decode(r)?,
        })
    }
}

impl Encode for Mkdir3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.where_.encode(w);
        self.attributes.encode(w);
    }
}

/// RFC 1813 §3.3.9
#[doc(alias = "MKDIR3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mkdir3ResOk {
    /// The new object's handle (servers should always send it).
    pub obj: PostOpFh3,
    /// The new object's attributes.
    pub obj_attributes: PostOpAttr,
    /// The parent directory's attributes around the operation.
    pub dir_wcc: WccData,
}

impl Decode<'_> for Mkdir3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj: PostOpFh3::decode(r)?,
            obj_attributes: PostOpAttr::decode(r)?,
            dir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Mkdir3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.obj.encode(w);
        self.obj_attributes.encode(w);
        self.dir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.9
#[doc(alias = "MKDIR3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mkdir3ResFail {
    /// The parent directory's attributes around the failed attempt.
    pub dir_wcc: WccData,
}

impl Decode<'_> for Mkdir3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Mkdir3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.dir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.9
#[doc(alias = "MKDIR3res")]
pub type Mkdir3Res = Nfs3Res<Mkdir3ResOk, Mkdir3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{
        check_round_trip, diropargs, post_op_attr, post_op_fh, res, sattr3, wcc_data,
    };

    pub(crate) fn args() -> impl Strategy<Value = Mkdir3Args<'static>> {
        (diropargs(), sattr3()).prop_map(|(where_, attributes)| Mkdir3Args { where_, attributes })
    }

    pub(crate) fn result() -> impl Strategy<Value = Mkdir3Res> {
        res(
            (post_op_fh(), post_op_attr(), wcc_data()).prop_map(
                |(obj, obj_attributes, dir_wcc)| Mkdir3ResOk {
                    obj,
                    obj_attributes,
                    dir_wcc,
                },
            ),
            wcc_data().prop_map(|dir_wcc| Mkdir3ResFail { dir_wcc }),
        )
    }

    proptest! {
        /// Goal: MKDIR arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
