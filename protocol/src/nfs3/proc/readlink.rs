//! READLINK (RFC 1813 §3.3.5): the target of a symbolic link.

use crate::nfs3::types::{Nfs3Res, NfsFh3, PostOpAttr, read_path};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.5
#[doc(alias = "READLINK3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readlink3Args<'a> {
    /// The symbolic link.
    pub symlink: NfsFh3<'a>,
}

impl<'a> Decode<'a> for Readlink3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            symlink: NfsFh3::decode(r)?,
        })
    }
}

impl Encode for Readlink3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.symlink.encode(w);
    }
}

/// RFC 1813 §3.3.5
#[doc(alias = "READLINK3resok")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readlink3ResOk {
    /// The link's attributes.
    pub symlink_attributes: PostOpAttr,
    /// The link target (`nfspath3`): bytes, at most
    /// [`SYMLINK_TARGET_MAX`](crate::wire::limits::SYMLINK_TARGET_MAX).
    pub data: Vec<u8>,
}

impl Decode<'_> for Readlink3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            symlink_attributes: PostOpAttr::decode(r)?,
            data: read_path(r, "READLINK3resok.data")?.to_vec(),
        })
    }
}

impl Encode for Readlink3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.symlink_attributes.encode(w);
        w.string(&self.data);
    }
}

/// RFC 1813 §3.3.5
#[doc(alias = "READLINK3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readlink3ResFail {
    /// The link's attributes.
    pub symlink_attributes: PostOpAttr,
}

impl Decode<'_> for Readlink3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            symlink_attributes: PostOpAttr::decode(r)?,
        })
    }
}

impl Encode for Readlink3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.symlink_attributes.encode(w);
    }
}

/// RFC 1813 §3.3.5
#[doc(alias = "READLINK3res")]
pub type Readlink3Res = Nfs3Res<Readlink3ResOk, Readlink3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, fh, path, post_op_attr, res};

    pub(crate) fn args() -> impl Strategy<Value = Readlink3Args<'static>> {
        fh().prop_map(|symlink| Readlink3Args { symlink })
    }

    pub(crate) fn result() -> impl Strategy<Value = Readlink3Res> {
        res(
            (post_op_attr(), path()).prop_map(|(symlink_attributes, data)| Readlink3ResOk {
                symlink_attributes,
                data: data.to_vec(),
            }),
            post_op_attr().prop_map(|symlink_attributes| Readlink3ResFail { symlink_attributes }),
        )
    }

    proptest! {
        /// Goal: READLINK arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
