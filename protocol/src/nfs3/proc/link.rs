//! LINK (RFC 1813 §3.3.15): make a hard link to an existing file.

use crate::nfs3::types::{DirOpArgs3, Nfs3Res, NfsFh3, PostOpAttr, WccData};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.15
#[doc(alias = "LINK3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link3Args<'a> {
    /// The existing file.
    pub file: NfsFh3<'a>,
    /// The directory and name of the new link.
    pub link: DirOpArgs3<'a>,
}

impl<'a> Decode<'a> for Link3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            file: NfsFh3::decode(r)?,
            link: DirOpArgs3::decode(r)?,
        })
    }
}

impl Encode for Link3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.file.encode(w);
        self.link.encode(w);
    }
}

/// RFC 1813 §3.3.15
#[doc(alias = "LINK3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link3ResOk {
    /// The file's attributes after the link (its link count changed).
    pub file_attributes: PostOpAttr,
    /// The link directory's attributes around the operation.
    pub linkdir_wcc: WccData,
}

/// RFC 1813 §3.3.15
#[doc(alias = "LINK3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Link3ResFail {
    /// The file's attributes.
    pub file_attributes: PostOpAttr,
    /// The link directory's attributes around the failed attempt.
    pub linkdir_wcc: WccData,
}

impl Decode<'_> for Link3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            file_attributes: PostOpAttr::decode(r)?,
            linkdir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Link3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.file_attributes.encode(w);
        self.linkdir_wcc.encode(w);
    }
}

impl Decode<'_> for Link3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            file_attributes: PostOpAttr::decode(r)?,
            linkdir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Link3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.file_attributes.encode(w);
        self.linkdir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.15
#[doc(alias = "LINK3res")]
pub type Link3Res = Nfs3Res<Link3ResOk, Link3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, diropargs, fh, post_op_attr, res, wcc_data};

    pub(crate) fn args() -> impl Strategy<Value = Link3Args<'static>> {
        (fh(), diropargs()).prop_map(|(file, link)| Link3Args { file, link })
    }

    pub(crate) fn result() -> impl Strategy<Value = Link3Res> {
        res(
            (post_op_attr(), wcc_data()).prop_map(|(file_attributes, linkdir_wcc)| Link3ResOk {
                file_attributes,
                linkdir_wcc,
            }),
            (post_op_attr(), wcc_data()).prop_map(|(file_attributes, linkdir_wcc)| Link3ResFail {
                file_attributes,
                linkdir_wcc,
            }),
        )
    }

    proptest! {
        /// Goal: LINK arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
