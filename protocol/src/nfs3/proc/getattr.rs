//! GETATTR (RFC 1813 §3.3.1): the attributes of an object.

use crate::nfs3::types::{Fattr3, Nfs3Res, NfsFh3};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.1
#[doc(alias = "GETATTR3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Getattr3Args<'a> {
    /// The object whose attributes are wanted.
    pub object: NfsFh3<'a>,
}

impl<'a> Decode<'a> for Getattr3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            object: NfsFh3::decode(r)?,
        })
    }
}

impl Encode for Getattr3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.object.encode(w);
    }
}

/// RFC 1813 §3.3.1
#[doc(alias = "GETATTR3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Getattr3ResOk {
    /// The object's attributes.
    pub obj_attributes: Fattr3,
}

impl Decode<'_> for Getattr3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj_attributes: Fattr3::decode(r)?,
        })
    }
}

impl Encode for Getattr3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.obj_attributes.encode(w);
    }
}

/// RFC 1813 §3.3.1: a failed GETATTR carries nothing but its status (`default: void`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Getattr3ResFail;

impl Decode<'_> for Getattr3ResFail {
    fn decode(_r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self)
    }
}

impl Encode for Getattr3ResFail {
    fn encode(&self, _w: &mut Writer) {}
}

/// RFC 1813 §3.3.1
#[doc(alias = "GETATTR3res")]
pub type Getattr3Res = Nfs3Res<Getattr3ResOk, Getattr3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, fattr3, fh, res};

    pub(crate) fn args() -> impl Strategy<Value = Getattr3Args<'static>> {
        fh().prop_map(|object| Getattr3Args { object })
    }

    pub(crate) fn result() -> impl Strategy<Value = Getattr3Res> {
        res(
            fattr3().prop_map(|obj_attributes| Getattr3ResOk { obj_attributes }),
            Just(Getattr3ResFail),
        )
    }

    proptest! {
        /// Goal: GETATTR arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
