//! FSSTAT (RFC 1813 §3.3.18): volatile file system state (space and file slots).

use crate::nfs3::types::{Nfs3Res, NfsFh3, PostOpAttr};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.18
#[doc(alias = "FSSTAT3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fsstat3Args<'a> {
    /// Any handle in the file system (usually its root).
    pub fsroot: NfsFh3<'a>,
}

impl<'a> Decode<'a> for Fsstat3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            fsroot: NfsFh3::decode(r)?,
        })
    }
}

impl Encode for Fsstat3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.fsroot.encode(w);
    }
}

/// RFC 1813 §3.3.18
#[doc(alias = "FSSTAT3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fsstat3ResOk {
    /// The attributes of `fsroot`.
    pub obj_attributes: PostOpAttr,
    /// Total size of the file system, in bytes.
    pub tbytes: u64,
    /// Free bytes.
    pub fbytes: u64,
    /// Free bytes available to the caller (free minus any reserve).
    pub abytes: u64,
    /// Total file slots.
    pub tfiles: u64,
    /// Free file slots.
    pub ffiles: u64,
    /// Free file slots available to the caller.
    pub afiles: u64,
    /// Seconds for which these values are not expected to change; 0 means they change
    /// constantly.
    pub invarsec: u32,
}

impl Decode<'_> for Fsstat3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj_attributes: PostOpAttr::decode(r)?,
            tbytes: r.u64("FSSTAT3resok.tbytes")?,
            fbytes: r.u64("FSSTAT3resok.fbytes")?,
            abytes: r.u64("FSSTAT3resok.abytes")?,
            tfiles: r.u64("FSSTAT3resok.tfiles")?,
            ffiles: r.u64("FSSTAT3resok.ffiles")?,
            afiles: r.u64("FSSTAT3resok.afiles")?,
            invarsec: r.u32("FSSTAT3resok.invarsec")?,
        })
    }
}

impl Encode for Fsstat3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.obj_attributes.encode(w);
        w.u64(self.tbytes);
        w.u64(self.fbytes);
        w.u64(self.abytes);
        w.u64(self.tfiles);
        w.u64(self.ffiles);
        w.u64(self.afiles);
        w.u32(self.invarsec);
    }
}

/// RFC 1813 §3.3.18
#[doc(alias = "FSSTAT3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fsstat3ResFail {
    /// The attributes of `fsroot`.
    pub obj_attributes: PostOpAttr,
}

impl Decode<'_> for Fsstat3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj_attributes: PostOpAttr::decode(r)?,
        })
    }
}

impl Encode for Fsstat3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.obj_attributes.encode(w);
    }
}

/// RFC 1813 §3.3.18
#[doc(alias = "FSSTAT3res")]
pub type Fsstat3Res = Nfs3Res<Fsstat3ResOk, Fsstat3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, fh, post_op_attr, res};

    pub(crate) fn args() -> impl Strategy<Value = Fsstat3Args<'static>> {
        fh().prop_map(|fsroot| Fsstat3Args { fsroot })
    }

    pub(crate) fn result() -> impl Strategy<Value = Fsstat3Res> {
        res(
            (post_op_attr(), any::<[u64; 6]>(), any::<u32>()).prop_map(
                |(obj_attributes, [tbytes, fbytes, abytes, tfiles, ffiles, afiles], invarsec)| {
                    Fsstat3ResOk {
                        obj_attributes,
                        tbytes,
                        fbytes,
                        abytes,
                        tfiles,
                        ffiles,
                        afiles,
                        invarsec,
                    }
                },
            ),
            post_op_attr().prop_map(|obj_attributes| Fsstat3ResFail { obj_attributes }),
        )
    }

    proptest! {
        /// Goal: FSSTAT arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
