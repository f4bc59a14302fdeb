//! WRITE (RFC 1813 §3.3.7): bytes into a regular file.
//!
//! RFC 1813 sends the length twice: `count` and the opaque `data`'s own length word. The RFC
//! does not say what a server does when they differ; Linux's nfsd refuses the call, and so do
//! we: a `count` different from the data length is a decode error (GARBAGE_ARGS). Because the
//! two are equal, [`Write3Args`] stores only `data`, and encoding writes `data.len()` as
//! `count`. Data is capped at [`limits::IO_SIZE_MAX`], the `wtmax` FSINFO advertises.

use crate::nfs3::types::{Nfs3Res, NfsFh3, StableHow, WccData, Writeverf3};
use crate::wire::{Decode, DecodeError, Encode, limits};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §3.3.7
#[doc(alias = "WRITE3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Write3Args<'a> {
    /// The file to write.
    pub file: NfsFh3<'a>,
    /// Byte offset to start writing at.
    pub offset: u64,
    /// How durable the data must be before the reply.
    pub stable: StableHow,
    /// The bytes to write, borrowed from the call; at most [`limits::IO_SIZE_MAX`]. The wire's
    /// `count` equals `data.len()`.
    pub data: &'a [u8],
}

impl<'a> Decode<'a> for Write3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        let file = NfsFh3::decode(r)?;
        let offset = r.u64("WRITE3args.offset")?;
        let count = r.u32("WRITE3args.count")?;
        let stable = StableHow::decode(r)?;
        let data = r.opaque(limits::IO_SIZE_MAX, "WRITE3args.data")?;
        if data.len() != count as usize {
            return Err(DecodeError::InvalidValue {
                field: "WRITE3args.count",
                value: u64::from(count),
            });
        }
        Ok(Self {
            file,
            offset,
            stable,
            data,
        })
    }
}

impl Encode for Write3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        let count =
            u32::try_from(self.data.len()).expect("WRITE data is bounded by IO_SIZE_MAX (1 MiB)");
        self.file.encode(w);
        w.u64(self.offset);
        w.u32(count);
        self.stable.encode(w);
        w.opaque(self.data);
    }
}

/// RFC 1813 §3.3.7
#[doc(alias = "WRITE3resok")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Write3ResOk {
    /// The file's attributes around the write.
    pub file_wcc: WccData,
    /// Bytes written (may be fewer than sent).
    pub count: u32,
    /// How durable the server made the data; at least what was asked for.
    pub committed: StableHow,
    /// The server's current write verifier.
    pub verf: Writeverf3,
}

impl Decode<'_> for Write3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            file_wcc: WccData::decode(r)?,
            count: r.u32("WRITE3resok.count")?,
            committed: StableHow::decode(r)?,
            verf: Writeverf3::decode(r)?,
        })
    }
}

impl Encode for Write3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.file_wcc.encode(w);
        w.u32(self.count);
        self.committed.encode(w);
        self.verf.encode(w);
    }
}

/// RFC 1813 §3.3.7
#[doc(alias = "WRITE3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Write3ResFail {
    /// The file's attributes around the failed write.
    pub file_wcc: WccData,
}

impl Decode<'_> for Write3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            file_wcc: WccData::decode(r)?,
        })
    }
}

impl Encode for Write3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.file_wcc.encode(w);
    }
}

/// RFC 1813 §3.3.7
#[doc(alias = "WRITE3res")]
pub type Write3Res = Nfs3Res<Write3ResOk, Write3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, fh, leak, res, stable_how, verf, wcc_data};
    use crate::wire::{decode_exact, encode_to_vec};

    pub(crate) fn args() -> impl Strategy<Value = Write3Args<'static>> {
        (fh(), any::<u64>(), stable_how(), vec(any::<u8>(), 0..2048)).prop_map(
            |(file, offset, stable, data)| Write3Args {
                file,
                offset,
                stable,
                data: leak(data),
            },
        )
    }

    pub(crate) fn result() -> impl Strategy<Value = Write3Res> {
        res(
            (wcc_data(), any::<u32>(), stable_how(), verf()).prop_map(
                |(file_wcc, count, committed, verf)| Write3ResOk {
                    file_wcc,
                    count,
                    committed,
                    verf: Writeverf3(verf),
                },
            ),
            wcc_data().prop_map(|file_wcc| Write3ResFail { file_wcc }),
        )
    }

    proptest! {
        /// Goal: WRITE arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }
    }

    /// Goal: decode a WRITE call body shaped like a Linux client's: 28-byte handle, offset
    /// 4096, count 5, UNSTABLE, data "hello" with 3 padding bytes. Method: hex fixture.
    #[test]
    fn fixture_linux_write() {
        let hex = concat!(
            "0000001c", // handle length 28
            "01000601", "a1b2c3d4", "e5f60718", "293a4b5c", "6d7e8f90", // handle bytes
            "00000003", "00000080", "00000000", "00001000", // offset 4096
            "00000005", // count 5
            "00000000", // UNSTABLE
            "00000005", // data length 5
            "68656c6c", "6f000000", // "hello" + pad
        );
        let bytes = hex::decode(hex).unwrap();
        let args: Write3Args<'_> = decode_exact(&bytes, "WRITE3args").unwrap();
        assert_eq!(args.file.as_bytes().len(), 28);
        assert_eq!(args.offset, 4096);
        assert_eq!(args.stable, StableHow::Unstable);
        assert_eq!(args.data, b"hello");
        assert_eq!(encode_to_vec(&args), bytes);
    }

    /// Goal: `count` must equal the data length (see the module docs for why).
    #[test]
    fn count_mismatch_rejected() {
        let mut w = Writer::new();
        w.opaque(&[9; 8]);
        w.u64(0);
        w.u32(6); // count says 6
        w.u32(2); // FILE_SYNC
        w.opaque(b"hello"); // data has 5
        assert_eq!(
            decode_exact::<Write3Args<'_>>(&w.into_inner(), "WRITE3args"),
            Err(DecodeError::InvalidValue {
                field: "WRITE3args.count",
                value: 6
            })
        );
    }

    /// Goal: data of exactly IO_SIZE_MAX is accepted and one byte more is refused on the
    /// length word, before the bytes are read.
    #[test]
    fn data_limit() {
        let fh = NfsFh3::new(&[1; 8]).unwrap();
        let big = vec![0xab; limits::IO_SIZE_MAX];
        let ok = Write3Args {
            file: fh,
            offset: 0,
            stable: StableHow::FileSync,
            data: &big,
        };
        let bytes = encode_to_vec(&ok);
        assert_eq!(decode_exact::<Write3Args<'_>>(&bytes, "w"), Ok(ok));

        let mut w = Writer::new();
        fh.encode(&mut w);
        w.u64(0);
        w.u32(limits::IO_SIZE_MAX as u32 + 1);
        w.u32(2);
        w.u32(limits::IO_SIZE_MAX as u32 + 1); // length word only, no data follows
        assert_eq!(
            decode_exact::<Write3Args<'_>>(&w.into_inner(), "w"),
            Err(DecodeError::TooLong {
                field: "WRITE3args.data",
                len: limits::IO_SIZE_MAX as u64 + 1,
                max: limits::IO_SIZE_MAX as u64
            })
        );
    }
}
