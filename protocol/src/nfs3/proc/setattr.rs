//! SETATTR (RFC 1813 §3.3.2): change an object's attributes, optionally guarded by its ctime.

use crate::nfs3::types::{Nfs3Res, NfsFh3, Nfstime3, Sattr3, WccData};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.2
#[doc(alias = "SETATTR3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setattr3Args<'a> {
    /// The object to change.
    pub object: NfsFh3<'a>,
    /// The attributes to set.
    pub new_attributes: Sattr3,
    /// `sattrguard3`: when `Some`, the server applies the change only if the object's ctime
    /// equals this value, and otherwise fails with NFS3ERR_NOT_SYNC.
    #[doc(alias = "sattrguard3")]
    pub guard: Option<Nfstime3>,
}

impl<'a> Decode<'a> for Setattr3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            object: NfsFh3::decode(r)?,
            new_attributes: Sattr3::decode(r)?,
            guard: r.option("sattrguard3.check", Nfstime3::decode)?,
        })
    }
}

impl Encode for Setattr3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.object.encode(w);
        self.new_attributes.encode(w);
        w.option(self.guard.as_ref(), |w, t| t.encode(w));
    }
}

/// RFC 1813 §3.3.2
#[doc(alias = "SETATTR3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Setattr3ResOk {
    /// The object's attributes around the change.
    pub obj_wcc: WccData,
}

/// RFC 1813 §3.3.2
#[doc(alias = "SETATTR3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Setattr3ResFail {
    /// The object's attributes around the failed attempt.
    pub obj_wcc: WccData,
}

impl Decode<'_> for Setattr3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Setattr3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.obj_wcc.encode(w);
    }
}

impl Decode<'_> for Setattr3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Setattr3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.obj_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.2
#[doc(alias = "SETATTR3res")]
pub type Setattr3Res = Nfs3Res<Setattr3ResOk, Setattr3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, fh, res, sattr3, time, wcc_data};

    pub(crate) fn args() -> impl Strategy<Value = Setattr3Args<'static>> {
        (fh(), sattr3(), proptest::option::of(time())).prop_map(
            |(object, new_attributes, guard)| Setattr3Args {
                object,
                new_attributes,
                guard,
            },
        )
    }

    pub(crate) fn result() -> impl Strategy<Value = Setattr3Res> {
        res(
            wcc_data().prop_map(|obj_wcc| Setattr3ResOk { obj_wcc }),
            wcc_data().prop_map(|obj_wcc| Setattr3ResFail { obj_wcc }),
        )
    }

    proptest! {
        /// Goal: SETATTR arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
