//! RENAME (RFC 1813 §3.3.14): move a directory entry, atomically replacing any target.

use crate::nfs3::types::{DirOpArgs3, Nfs3Res, WccData};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.14
#[doc(alias = "RENAME3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rename3Args<'a> {
    /// The source directory and name.
    pub from: DirOpArgs3<'a>,
    /// The target directory and name.
    pub to: DirOpArgs3<'a>,
}

impl<'a> Decode<'a> for Rename3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            from: DirOpArgs3::decode(r)?,
            to: DirOpArgs3::decode(r)?,
        })
    }
}

impl Encode for Rename3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.from.encode(w);
        self.to.encode(w);
    }
}

/// RFC 1813 §3.3.14
#[doc(alias = "RENAME3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rename3ResOk {
    /// The source directory's attributes around the rename.
    pub fromdir_wcc: WccData,
    /// The target directory's attributes around the rename.
    pub todir_wcc: WccData,
}

/// RFC 1813 §3.3.14
#[doc(alias = "RENAME3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Rename3ResFail {
    /// The source directory's attributes around the failed attempt.
    pub fromdir_wcc: WccData,
    /// The target directory's attributes around the failed attempt.
    pub todir_wcc: WccData,
}

impl Decode<'_> for Rename3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            fromdir_wcc: WccData::decode(r)?,
            todir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Rename3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.fromdir_wcc.encode(w);
        self.todir_wcc.encode(w);
    }
}

impl Decode<'_> for Rename3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            fromdir_wcc: WccData::decode(r)?,
            todir_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Rename3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.fromdir_wcc.encode(w);
        self.todir_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.14
#[doc(alias = "RENAME3res")]
pub type Rename3Res = Nfs3Res<Rename3ResOk, Rename3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, diropargs, res, wcc_data};

    pub(crate) fn args() -> impl Strategy<Value = Rename3Args<'static>> {
        (diropargs(), diropargs()).prop_map(|(from, to)| Rename3Args { from, to })
    }

    pub(crate) fn result() -> impl Strategy<Value = Rename3Res> {
        res(
            (wcc_data(), wcc_data()).prop_map(|(fromdir_wcc, todir_wcc)| Rename3ResOk {
                fromdir_wcc,
                todir_wcc,
            }),
            (wcc_data(), wcc_data()).prop_map(|(fromdir_wcc, todir_wcc)| Rename3ResFail {
                fromdir_wcc,
                todir_wcc,
            }),
        )
    }

    proptest! {
        /// Goal: RENAME arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
