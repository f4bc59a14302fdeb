//! ACCESS (RFC 1813 §3.3.4): which of the asked-for permissions the caller has on an object.
//! The bits are the `ACCESS3_*` constants in [`crate::nfs3::types`].

use crate::nfs3::types::{Nfs3Res, NfsFh3, PostOpAttr};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.4
#[doc(alias = "ACCESS3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access3Args<'a> {
    /// The object to check.
    pub object: NfsFh3<'a>,
    /// A bit mask of `ACCESS3_*` permissions to check; unknown bits are kept as sent.
    pub access: u32,
}

impl<'a> Decode<'a> for Access3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            object: NfsFh3::decode(r)?,
            access: r.u32("ACCESS3args.access")?,
        })
    }
}

impl Encode for Access3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.object.encode(w);
        w.u32(self.access);
    }
}

/// RFC 1813 §3.3.4
#[doc(alias = "ACCESS3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Access3ResOk {
    /// The object's attributes.
    pub obj_attributes: PostOpAttr,
    /// The subset of the asked-for `ACCESS3_*` bits that the caller has.
    pub access: u32,
}

impl Decode<'_> for Access3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj_attributes: PostOpAttr::decode(r)?,
            access: r.u32("ACCESS3resok.access")?,
        })
    }
}

impl Encode for Access3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.obj_attributes.encode(w);
        w.u32(self.access);
    }
}

/// RFC 1813 §3.3.4
#[doc(alias = "ACCESS3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Access3ResFail {
    /// The object's attributes.
    pub obj_attributes: PostOpAttr,
}

impl Decode<'_> for Access3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj_attributes: PostOpAttr::decode(r)?,
        })
    }
}

impl Encode for Access3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.obj_attributes.encode(w);
    }
}

/// RFC 1813 §3.3.4
#[doc(alias = "ACCESS3res")]
pub type Access3Res = Nfs3Res<Access3ResOk, Access3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, fh, post_op_attr, res};

    pub(crate) fn args() -> impl Strategy<Value = Access3Args<'static>> {
        (fh(), any::<u32>()).prop_map(|(object, access)| Access3Args { object, access })
    }

    pub(crate) fn result() -> impl Strategy<Value = Access3Res> {
        res(
            (post_op_attr(), any::<u32>()).prop_map(|(obj_attributes, access)| Access3ResOk {
                obj_attributes,
                access,
            }),
            post_op_attr().prop_map(|obj_attributes| Access3ResFail { obj_attributes }),
        )
    }

    proptest! {
        /// Goal: ACCESS arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
