//! COMMIT (RFC 1813 §3.3.21): make earlier UNSTABLE writes in a byte range durable.

use crate::nfs3::types::{Nfs3Res, NfsFh3, WccData, Writeverf3};
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.21
#[doc(alias = "COMMIT3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Commit3Args<'a> {
    /// The file.
    pub file: NfsFh3<'a>,
    /// Start of the range, in bytes.
    pub offset: u64,
    /// Length of the range, in bytes; 0 means from `offset` to the end of the file.
    pub count: u32,
}

impl<'a> Decode<'a> for Commit3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            file: NfsFh3::decode(r)?,
            offset: r.u64("COMMIT3args.offset")?,
            count: r.u32("COMMIT3args.count")?,
        })
    }
}

impl Encode for Commit3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.file.encode(w);
        w.u64(self.offset);
        w.u32(self.count);
    }
}

/// RFC 1813 §3.3.21
#[doc(alias = "COMMIT3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Commit3ResOk {
    /// The file's attributes around the commit.
    pub file_wcc: WccData,
    /// The server's write verifier; if it differs from the one WRITE returned, the client
    /// must resend its uncommitted data.
    pub verf: Writeverf3,
}

impl Decode<'_> for Commit3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            file_wcc: WccData::decode(r)?,
            verf: Writeverf3::decode(r)?,
        })
    }
}

impl Encode for Commit3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.file_wcc.encode(w);
        self.verf.encode(w);
    }
}

/// RFC 1813 §3.3.21
#[doc(alias = "COMMIT3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Commit3ResFail {
    /// The file's attributes around the failed commit.
    pub file_wcc: WccData,
}

impl Decode<'_> for Commit3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            file_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Commit3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.file_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.21
#[doc(alias = "COMMIT3res")]
pub type Commit3Res = Nfs3Res<Commit3ResOk, Commit3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, fh, res, verf, wcc_data};

    pub(crate) fn args() -> impl Strategy<Value = Commit3Args<'static>> {
        (fh(), any::<u64>(), any::<u32>()).prop_map(|(file, offset, count)| Commit3Args {
            file,
            offset,
            count,
        })
    }

    pub(crate) fn result() -> impl Strategy<Value = Commit3Res> {
        res(
            (wcc_data(), verf()).prop_map(|(file_wcc, verf)| Commit3ResOk {
                file_wcc,
                verf: Writeverf3(verf),
            }),
            wcc_data().prop_map(|file_wcc| Commit3ResFail { file_wcc }),
        )
    }

    proptest! {
        /// Goal: COMMIT arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }
}
