//! FSINFO (RFC 1813 §3.3.19): static file system information: transfer sizes, maximum file
//! size, time granularity and the `FSF3_*` properties.

use crate::nfs3::types::{Nfs3Res, NfsFh3, Nfstime3, PostOpAttr};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.19
#[doc(alias = "FSINFO3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fsinfo3Args<'a> {
    /// Any handle in the file system (usually its root, right after MOUNT).
    pub fsroot: NfsFh3<'a>,
}

impl<'a> Decode<'a> for Fsinfo3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            fsroot: NfsFh3::decode(r)?,
        })
    }
}

impl Encode for Fsinfo3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.fsroot.encode(w);
    }
}

/// RFC 1813 §3.3.19
#[doc(alias = "FSINFO3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fsinfo3ResOk {
    /// The attributes of `fsroot`.
    pub obj_attributes: PostOpAttr,
    /// Largest READ the server accepts, in bytes.
    pub rtmax: u32,
    /// Preferred READ size, in bytes.
    pub rtpref: u32,
    /// Suggested multiple for READ sizes, in bytes.
    pub rtmult: u32,
    /// Largest WRITE the server accepts, in bytes.
    pub wtmax: u32,
    /// Preferred WRITE size, in bytes.
    pub wtpref: u32,
    /// Suggested multiple for WRITE sizes, in bytes.
    pub wtmult: u32,
    /// Preferred READDIR `count`, in bytes.
    pub dtpref: u32,
    /// Largest file size, in bytes.
    pub maxfilesize: u64,
    /// Time granularity the server stores (e.g. 1 ns, or 1 s).
    pub time_delta: Nfstime3,
    /// A bit mask of `FSF3_*` properties.
    pub properties: u32,
}

impl Decode<'_> for Fsinfo3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj_attributes: PostOpAttr::decode(r)?,
            rtmax: r.u32("FSINFO3resok.rtmax")?,
            rtpref: r.u32("FSINFO3resok.rtpref")?,
            rtmult: r.u32("FSINFO3resok.rtmult")?,
            wtmax: r.u32("FSINFO3resok.wtmax")?,
            wtpref: r.u32("FSINFO3resok.wtpref")?,
            wtmult: r.u32("FSINFO3resok.wtmult")?,
            dtpref: r.u32("FSINFO3resok.dtpref")?,
            maxfilesize: r.u64("FSINFO3resok.maxfilesize")?,
            time_delta: Nfstime3::decode(r)?,
            properties: r.u32("FSINFO3resok.properties")?,
        })
    }
}

impl Encode for Fsinfo3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.obj_attributes.encode(w);
        w.u32(self.rtmax);
        w.u32(self.rtpref);
        w.u32(self.rtmult);
        w.u32(self.wtmax);
        w.u32(self.wtpref);
        w.u32(self.wtmult);
        w.u32(self.dtpref);
        w.u64(self.maxfilesize);
        self.time_delta.encode(w);
        w.u32(self.properties);
    }
}

/// RFC 1813 §3.3.19
#[doc(alias = "FSINFO3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fsinfo3ResFail {
    /// The attributes of `fsroot`.
    pub obj_attributes: PostOpAttr,
}

impl Decode<'_> for Fsinfo3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj_attributes: PostOpAttr::decode(r)?,
        })
    }
}

impl Encode for Fsinfo3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.obj_attributes.encode(w);
    }
}

/// RFC 1813 §3.3.19
#[doc(alias = "FSINFO3res")]
pub type Fsinfo3Res = Nfs3Res<Fsinfo3ResOk, Fsinfo3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, fh, post_op_attr, res, time};

    pub(crate) fn args() -> impl Strategy<Value = Fsinfo3Args<'static>> {
        fh().prop_map(|fsroot| Fsinfo3Args { fsroot })
    }

    pub(crate) fn result() -> impl Strategy<Value = Fsinfo3Res> {
        res(
            (post_op_attr(), any::<[u32; 8]>(), any::<u64>(), time()).prop_map(
                |(
                    obj_attributes,
                    [
                        rtmax,
                        rtpref,
                        rtmult,
                        wtmax,
                        wtpref,
                        wtmult,
                        dtpref,
                        properties,
                    ],
                    maxfilesize,
                    time_delta,
                )| Fsinfo3ResOk {
                    obj_attributes,
                    rtmax,
                    rtpref,
                    rtmult,
                    wtmax,
                    wtpref,
                    wtmult,
                    dtpref,
                    maxfilesize,
                    time_delta,
                    properties,
                },
            ),
            post_op_attr().prop_map(|obj_attributes| Fsinfo3ResFail { obj_attributes }),
        )
    }

    proptest! {
        /// Goal: FSINFO arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
