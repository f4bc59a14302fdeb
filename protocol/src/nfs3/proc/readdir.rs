//! READDIR (RFC 1813 §3.3.16): names and file ids in a directory, from a cookie onwards.
//!
//! The entries travel as an XDR linked list (`entry3 *nextentry`); here they are a `Vec`. The
//! client bounds the reply with `count`, the size of the whole result in bytes. A server fills
//! [`Readdir3ResOk::entries`] starting from [`readdir3_res_overhead`] and adds
//! [`entry3_encoded_len`] per entry, stopping before the sum would exceed `count` (and
//! setting `eof` only if it ran out of entries rather than room).

use crate::nfs3::types::{
    Cookie3, Cookieverf3, Nfs3Res, NfsFh3, PostOpAttr, read_list, read_name, write_list,
};
use crate::wire::{Decode, DecodeError, Encode, limits};
use crate::xdr::{Reader, Writer, pad_len};

/// RFC 1813 §3.3.16
#[doc(alias = "READDIR3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readdir3Args<'a> {
    /// The directory to list.
    pub dir: NfsFh3<'a>,
    /// Where to resume: 0 for the start, else the cookie of the last entry already seen.
    pub cookie: Cookie3,
    /// The verifier returned with `cookie`; all zero with cookie 0.
    pub cookieverf: Cookieverf3,
    /// Maximum bytes of result the client accepts (all XDR overhead included); unchecked here,
    /// the server clamps it to [`limits::READDIR_REPLY_MAX`].
    pub count: u32,
}

impl<'a> Decode<'a> for Readdir3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir: NfsFh3::decode(r)?,
            cookie: Cookie3::decode(r)?,
            cookieverf: Cookieverf3::decode(r)?,
            count: r.u32("READDIR3args.count")?,
        })
    }
}

impl Encode for Readdir3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.dir.encode(w);
        self.cookie.encode(w);
        self.cookieverf.encode(w);
        w.u32(self.count);
    }
}

/// RFC 1813 §3.3.16: one directory entry.
#[doc(alias = "entry3")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry3 {
    /// The entry's file id (the same value as `fattr3.fileid`).
    pub fileid: u64,
    /// The entry's name; at most [`limits::NAME_MAX`] bytes.
    pub name: Vec<u8>,
    /// The cookie to resume after this entry.
    pub cookie: Cookie3,
}

impl Decode<'_> for Entry3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            fileid: r.u64("entry3.fileid")?,
            name: read_name(r, "entry3.name")?.to_vec(),
            cookie: Cookie3::decode(r)?,
        })
    }
}

impl Encode for Entry3 {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.fileid);
        w.string(&self.name);
        self.cookie.encode(w);
    }
}

/// Bytes `e` adds to a READDIR result: the list pointer before it (4), fileid (8), the name
/// (4 + padded length) and cookie (8).
pub fn entry3_encoded_len(e: &Entry3) -> usize {
    4 + 8 + 4 + e.name.len() + pad_len(e.name.len()) + 8
}

/// Bytes of a whole successful READDIR result with no entries: status (4), the directory's
/// attributes, the cookie verifier (8), the list terminator (4) and `eof` (4). The status is
/// counted although RFC 1813's `count` covers only `READDIR3resok`, which keeps a server that
/// stays within `count` on the safe side.
pub fn readdir3_res_overhead(dir_attributes: &PostOpAttr) -> usize {
    4 + dir_attributes.encoded_len() + 8 + 4 + 4
}

/// RFC 1813 §3.3.16 (`READDIR3resok` with its `dirlist3` inlined).
#[doc(alias = "READDIR3resok", alias = "dirlist3")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readdir3ResOk {
    /// The directory's attributes.
    pub dir_attributes: PostOpAttr,
    /// The verifier the client sends back with the next cookie.
    pub cookieverf: Cookieverf3,
    /// The entries, in directory order; the wire's linked list.
    pub entries: Vec<Entry3>,
    /// Whether the last entry is the end of the directory.
    pub eof: bool,
}

impl Readdir3ResOk {
    /// Bytes of the whole result encoded as `Nfs3Res::Ok(self)`, status included:
    /// [`readdir3_res_overhead`] plus [`entry3_encoded_len`] of each entry.
    pub fn encoded_len(&self) -> usize {
        readdir3_res_overhead(&self.dir_attributes)
            + self.entries.iter().map(entry3_encoded_len).sum::<usize>()
    }
}

impl Decode<'_> for Readdir3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir_attributes: PostOpAttr::decode(r)?,
            cookieverf: Cookieverf3::decode(r)?,
            entries: read_list(
                r,
                "dirlist3.entries",
                limits::DIR_ENTRIES_MAX,
                Entry3::decode,
            )?,
            eof: r.bool("dirlist3.eof")?,
        })
    }
}

impl Encode for Readdir3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.dir_attributes.encode(w);
        self.cookieverf.encode(w);
        write_list(w, &self.entries, |w, e| e.encode(w));
        w.bool(self.eof);
    }
}

/// RFC 1813 §3.3.16
#[doc(alias = "READDIR3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readdir3ResFail {
    /// The directory's attributes.
    pub dir_attributes: PostOpAttr,
}

impl Decode<'_> for Readdir3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir_attributes: PostOpAttr::decode(r)?,
        })
    }
}

impl Encode for Readdir3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.dir_attributes.encode(w);
    }
}

/// RFC 1813 §3.3.16
#[doc(alias = "READDIR3res")]
pub type Readdir3Res = Nfs3Res<Readdir3ResOk, Readdir3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{check_round_trip, fh, name_owned, post_op_attr, res, verf};
    use crate::wire::{decode_exact, encode_to_vec};

    pub(crate) fn args() -> impl Strategy<Value = Readdir3Args<'static>> {
        (fh(), any::<u64>(), verf(), any::<u32>()).prop_map(|(dir, cookie, verf, count)| {
            Readdir3Args {
                dir,
                cookie: Cookie3(cookie),
                cookieverf: Cookieverf3(verf),
                count,
            }
        })
    }

    pub(crate) fn entry() -> impl Strategy<Value = Entry3> {
        (any::<u64>(), name_owned(), any::<u64>()).prop_map(|(fileid, name, cookie)| Entry3 {
            fileid,
            name,
            cookie: Cookie3(cookie),
        })
    }

    pub(crate) fn result_ok() -> impl Strategy<Value = Readdir3ResOk> {
        (post_op_attr(), verf(), vec(entry(), 0..8), any::<bool>()).prop_map(
            |(dir_attributes, verf, entries, eof)| Readdir3ResOk {
                dir_attributes,
                cookieverf: Cookieverf3(verf),
                entries,
                eof,
            },
        )
    }

    pub(crate) fn result() -> impl Strategy<Value = Readdir3Res> {
        res(
            result_ok(),
            post_op_attr().prop_map(|dir_attributes| Readdir3ResFail { dir_attributes }),
        )
    }

    proptest! {
        /// Goal: READDIR arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }

        /// Goal: the size helpers a server budgets `count` with agree exactly with the
        /// encoder. Method: compare `encoded_len` to the length of the real encoding.
        #[test]
        fn size_helpers_match_encoding(ok in result_ok()) {
            let len = ok.encoded_len();
            prop_assert_eq!(len, encode_to_vec(&Readdir3Res::Ok(ok)).len());
        }
    }

    /// Goal: a reply whose list is longer than DIR_ENTRIES_MAX is refused once the cap is
    /// reached, without reading (or allocating for) the rest.
    #[test]
    fn entry_count_capped() {
        let mut w = Writer::new();
        w.bool(false); // no dir attributes
        w.opaque_fixed(&[0; 8]);
        for i in 0..=limits::DIR_ENTRIES_MAX as u64 {
            w.bool(true);
            Entry3 {
                fileid: i,
                name: Vec::new(),
                cookie: Cookie3(i),
            }
            .encode(&mut w);
        }
        w.bool(false);
        w.bool(true);
        assert_eq!(
            decode_exact::<Readdir3ResOk>(&w.into_inner(), "READDIR3resok"),
            Err(DecodeError::TooLong {
                field: "dirlist3.entries",
                len: limits::DIR_ENTRIES_MAX as u64 + 1,
                max: limits::DIR_ENTRIES_MAX as u64
            })
        );
    }
}
