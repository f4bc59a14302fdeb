//! CREATE (RFC 1813 §3.3.8): make a regular file.

use crate::nfs3::types::{CreateHow3, DirOpArgs3, Nfs3Res, PostOpAttr, PostOpFh3, WccData};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.8
#[doc(alias = "CREATE3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Create3Args<'a> {
    /// The directory and the new file's name.
    #[doc(alias = "where")]
    pub where_: DirOpArgs3<'a>,
    /// How to treat an existing file of that name, with initial attributes or a verifier.
    pub how: CreateHow3,
}

impl<'a> Decode<'a> for Create3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            where_: DirOpArgs3::decode(r)?,
            how: CreateHow3::decode(r)?,
        })
    }
}

impl Encode for Create3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.where_.encode(w);
        self.how.encode(w);
    }
}

/// RFC 1813 §3.3.8
#[doc(alias = "CREATE3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Create3ResOk {
    /// The new object's handle (servers should always send it).
    pub obj: PostOpFh3,
    /// The new object's attributes.
    pub obj_attributes: PostOpAttr,
    /// The parent directory's attributes around the operation.
    pub dir_wcc: WccData,
}

impl Decode<'_> for Create3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj: PostOpFh3::decode(r)?,
            obj_attributes: PostOpAttr::decode(r)?,
            dir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Create3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.obj.encode(w);
        self.obj_attributes.encode(w);
        self.dir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.8
#[doc(alias = "CREATE3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Create3ResFail {
    /// The parent directory's attributes around the failed attempt.
    pub dir_wcc: WccData,
}

impl Decode<'_> for Create3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Create3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.dir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.8
#[doc(alias = "CREATE3res")]
pub type Create3Res = Nfs3Res<Create3ResOk, Create3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::Createverf3;
    use crate::nfs3::types::tests::{
        check_round_trip, diropargs, post_op_attr, post_op_fh, res, sattr3, verf, wcc_data,
    };

    pub(crate) fn args() -> impl Strategy<Value = Create3Args<'static>> {
        let how = prop_oneof![
            sattr3().prop_map(CreateHow3::Unchecked),
            sattr3().prop_map(CreateHow3::Guarded),
            verf().prop_map(|v| CreateHow3::Exclusive(Createverf3(v))),
        ];
        (diropargs(), how).prop_map(|(where_, how)| Create3Args { where_, how })
    }

    pub(crate) fn result() -> impl Strategy<Value = Create3Res> {
        res(
            (post_op_fh(), post_op_attr(), wcc_data()).prop_map(
                |(obj, obj_attributes, dir_wcc)| Create3ResOk {
                    obj,
                    obj_attributes,
                    dir_wcc,
                },
            ),
            wcc_data().prop_map(|dir_wcc| Create3ResFail { dir_wcc }),
        )
    }

    proptest! {
        /// Goal: CREATE arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
