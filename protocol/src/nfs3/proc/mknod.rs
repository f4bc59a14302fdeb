//! MKNOD (RFC 1813 §3.3.11): make a special file (device, socket or named pipe).

use crate::nfs3::types::{DirOpArgs3, MknodData3, Nfs3Res, PostOpAttr, PostOpFh3, WccData};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.11
#[doc(alias = "MKNOD3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mknod3Args<'a> {
    /// The directory and the new object's name.
    #[doc(alias = "where")]
    pub where_: DirOpArgs3<'a>,
    /// The type of object and its type-specific data.
    pub what: MknodData3,
}

impl<'a> Decode<'a> for Mknod3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            where_: DirOpArgs3::decode(r)?,
            what: MknodData3::decode(r)?,
        })
    }
}

impl Encode for Mknod3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.where_.encode(w);
        self.what.encode(w);
    }
}

/// RFC 1813 §3.3.11
#[doc(alias = "MKNOD3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mknod3ResOk {
    /// The new object's handle (servers should always send it).
    pub obj: PostOpFh3,
    /// The new object's attributes.
    pub obj_attributes: PostOpAttr,
    /// The parent directory's attributes around the operation.
    pub dir_wcc: WccData,
}

impl Decode<'_> for Mknod3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj: PostOpFh3::decode(r)?,
            obj_attributes: PostOpAttr::decode(r)?,
            dir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Mknod3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.obj.encode(w);
        self.obj_attributes.encode(w);
        self.dir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.11
#[doc(alias = "MKNOD3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Mknod3ResFail {
    /// The parent directory's attributes around the failed attempt.
    pub dir_wcc: WccData,
}

impl Decode<'_> for Mknod3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Mknod3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.dir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.11
#[doc(alias = "MKNOD3res")]
pub type Mknod3Res = Nfs3Res<Mknod3ResOk, Mknod3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::DeviceData3;
    use crate::nfs3::types::tests::{
        check_round_trip, diropargs, post_op_attr, post_op_fh, res, sattr3, specdata, wcc_data,
    };

    pub(crate) fn args() -> impl Strategy<Value = Mknod3Args<'static>> {
        let device = || {
            (sattr3(), specdata()).prop_map(|(dev_attributes, spec)| DeviceData3 {
                dev_attributes,
                spec,
            })
        };
        let what = prop_oneof![
            device().prop_map(MknodData3::Chr),
            device().prop_map(MknodData3::Blk),
            sattr3().prop_map(MknodData3::Sock),
            sattr3().prop_map(MknodData3::Fifo),
            Just(MknodData3::Reg),
            Just(MknodData3::Dir),
            Just(MknodData3::Lnk),
        ];
        (diropargs(), what).prop_map(|(where_, what)| Mknod3Args { where_, what })
    }

    pub(crate) fn result() -> impl Strategy<Value = Mknod3Res> {
        res(
            (post_op_fh(), post_op_attr(), wcc_data()).prop_map(
                |(obj, obj_attributes, dir_wcc)| Mknod3ResOk {
                    obj,
                    obj_attributes,
                    dir_wcc,
                },
            ),
            wcc_data().prop_map(|dir_wcc| Mknod3ResFail { dir_wcc }),
        )
    }

    proptest! {
        /// Goal: MKNOD arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
