//! REMOVE (RFC 1813 §3.3.12): remove a non-directory entry from a directory.

use crate::nfs3::types::{DirOpArgs3, Nfs3Res, WccData};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.12
#[doc(alias = "REMOVE3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Remove3Args<'a> {
    /// The directory and the name of the entry to remove.
    pub object: DirOpArgs3<'a>,
}

impl<'a> Decode<'a> for Remove3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            object: DirOpArgs3::decode(r)?,
        })
    }
}

impl Encode for Remove3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.object.encode(w);
    }
}

/// RFC 1813 §3.3.12
#[doc(alias = "REMOVE3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Remove3ResOk {
    /// The directory's attributes around the removal.
    pub dir_wcc: WccData,
}

impl Decode<'_> for Remove3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Remove3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.dir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.12
#[doc(alias = "REMOVE3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Remove3ResFail {
    /// The directory's attributes around the failed attempt.
    pub dir_wcc: WccData,
}

impl Decode<'_> for Remove3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Remove3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.dir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.12
#[doc(alias = "REMOVE3res")]
pub type Remove3Res = Nfs3Res<Remove3ResOk, Remove3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, diropargs, res, wcc_data};

    pub(crate) fn args() -> impl Strategy<Value = Remove3Args<'static>> {
        diropargs().prop_map(|object| Remove3Args { object })
    }

    pub(crate) fn result() -> impl Strategy<Value = Remove3Res> {
        res(
            wcc_data().prop_map(|dir_wcc| Remove3ResOk { dir_wcc }),
            wcc_data().prop_map(|dir_wcc| Remove3ResFail { dir_wcc }),
        )
    }

    proptest! {
        /// Goal: REMOVE arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
