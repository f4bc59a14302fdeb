//! PATHCONF (RFC 1813 §3.3.20): POSIX pathconf information for an object.

use crate::nfs3::types::{Nfs3Res, NfsFh3, PostOpAttr};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.20
#[doc(alias = "PATHCONF3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pathconf3Args<'a> {
    /// The object asked about.
    pub object: NfsFh3<'a>,
}

impl<'a> Decode<'a> for Pathconf3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            object: NfsFh3::decode(r)?,
        })
    }
}

impl Encode for Pathconf3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.object.encode(w);
    }
}

/// RFC 1813 §3.3.20
#[doc(alias = "PATHCONF3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pathconf3ResOk {
    /// The object's attributes.
    pub obj_attributes: PostOpAttr,
    /// Maximum number of hard links to an object.
    pub linkmax: u32,
    /// Maximum length of a name, in bytes.
    pub name_max: u32,
    /// Whether over-long names are refused (true) rather than silently truncated.
    pub no_trunc: bool,
    /// Whether only a privileged user may change an object's owner.
    pub chown_restricted: bool,
    /// Whether name comparisons ignore case.
    pub case_insensitive: bool,
    /// Whether the case of names is preserved.
    pub case_preserving: bool,
}

impl Decode<'_> for Pathconf3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj_attributes: PostOpAttr::decode(r)?,
            linkmax: r.u32("PATHCONF3resok.linkmax")?,
            name_max: r.u32("PATHCONF3resok.name_max")?,
            no_trunc: r.bool("PATHCONF3resok.no_trunc")?,
            chown_restricted: r.bool("PATHCONF3resok.chown_restricted")?,
            case_insensitive: r.bool("PATHCONF3resok.case_insensitive")?,
            case_preserving: r.bool("PATHCONF3resok.case_preserving")?,
        })
    }
}

impl Encode for Pathconf3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.obj_attributes.encode(w);
        w.u32(self.linkmax);
        w.u32(self.name_max);
        w.bool(self.no_trunc);
        w.bool(self.chown_restricted);
        w.bool(self.case_insensitive);
        w.bool(self.case_preserving);
    }
}

/// RFC 1813 §3.3.20
#[doc(alias = "PATHCONF3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pathconf3ResFail {
    /// The object's attributes.
    pub obj_attributes: PostOpAttr,
}

impl Decode<'_> for Pathconf3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            obj_attributes: PostOpAttr::decode(r)?,
        })
    }
}

impl Encode for Pathconf3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.obj_attributes.encode(w);
    }
}

/// RFC 1813 §3.3.20
#[doc(alias = "PATHCONF3res")]
pub type Pathconf3Res = Nfs3Res<Pathconf3ResOk, Pathconf3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, fh, post_op_attr, res};

    pub(crate) fn args() -> impl Strategy<Value = Pathconf3Args<'static>> {
        fh().prop_map(|object| Pathconf3Args { object })
    }

    pub(crate) fn result() -> impl Strategy<Value = Pathconf3Res> {
        res(
            (
                post_op_attr(),
                any::<u32>(),
                any::<u32>(),
                any::<[bool; 4]>(),
            )
                .prop_map(|(obj_attributes, linkmax, name_max, [a, b, c, d])| {
                    Pathconf3ResOk {
                        obj_attributes,
                        linkmax,
                        name_max,
                        no_trunc: a,
                        chown_restricted: b,
                        case_insensitive: c,
                        case_preserving: d,
                    }
                }),
            post_op_attr().prop_map(|obj_attributes| Pathconf3ResFail { obj_attributes }),
        )
    }

    proptest! {
        /// Goal: PATHCONF arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
