//! READDIRPLUS (RFC 1813 §3.3.17): directory entries with their attributes and handles.
//!
//! The client sets two budgets. `dircount` counts only the directory information of each
//! entry: fileid, name and cookie ([`entryplus3_dircount`]). `maxcount` counts the whole
//! result ([`readdirplus3_res_overhead`] plus [`entryplus3_encoded_len`] per entry). A server
//! adds entries while both sums stay within their budgets:
//!
//! ```
//! use protocol::nfs3::{
//!     Cookie3, Cookieverf3, Entryplus3, PostOpAttr, PostOpFh3, Readdirplus3ResOk,
//!     entryplus3_dircount, entryplus3_encoded_len, readdirplus3_res_overhead,
//! };
//!
//! let (dircount, maxcount) = (100usize, 4096usize);
//! let dir_attributes = PostOpAttr::NONE;
//! let mut reply = Readdirplus3ResOk {
//!     dir_attributes,
//!     cookieverf: Cookieverf3::default(),
//!     entries: Vec::new(),
//!     eof: false,
//! };
//! let (mut dir_used, mut max_used) = (0, readdirplus3_res_overhead(&dir_attributes));
//! let mut source = (1..=50u64).map(|i| Entryplus3 {
//!     fileid: i,
//!     name: format!("file{i}").into_bytes(),
//!     cookie: Cookie3(i),
//!     name_attributes: PostOpAttr::NONE,
//!     name_handle: PostOpFh3::NONE,
//! });
//! reply.eof = loop {
//!     let Some(e) = source.next() else { break true };
//!     let (d, m) = (entryplus3_dircount(&e), entryplus3_encoded_len(&e));
//!     if dir_used + d > dircount || max_used + m > maxcount {
//!         break false;
//!     }
//!     (dir_used, max_used) = (dir_used + d, max_used + m);
//!     reply.entries.push(e);
//! };
//! assert_eq!(reply.entries.len(), 3); // 3 × (8 + 4 + 8 + 8) = 84; a fourth would make 112
//! assert!(!reply.eof);
//! assert_eq!(reply.encoded_len(), max_used);
//! ```

use crate::nfs3::types::{
    Cookie3, Cookieverf3, Nfs3Res, NfsFh3, PostOpAttr, PostOpFh3, read_list, read_name, write_list,
};
use crate::wire::{Decode, DecodeError, Encode, limits};
use crate::xdr::{Reader, Writer, pad_len};

/// RFC 1813 §3.3.17
#[doc(alias = "READDIRPLUS3args")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Readdirplus3Args<'a> {
    /// The directory to list.
    pub dir: NfsFh3<'a>,
    /// Where to resume: 0 for the start, else the cookie of the last entry already seen.
    pub cookie: Cookie3,
    /// The verifier returned with `cookie`; all zero with cookie 0.
    pub cookieverf: Cookieverf3,
    /// Maximum bytes of directory information (fileid, name, cookie of each entry).
    pub dircount: u32,
    /// Maximum bytes of the whole result; unchecked here, the server clamps it to
    /// [`limits::READDIR_REPLY_MAX`].
    pub maxcount: u32,
}

impl<'a> Decode<'a> for Readdirplus3Args<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir: NfsFh3::decode(r)?,
            cookie: Cookie3::decode(r)?,
            cookieverf: Cookieverf3::decode(r)?,
            dircount: r.u32("READDIRPLUS3args.dircount")?,
            maxcount: r.u32("READDIRPLUS3args.maxcount")?,
        })
    }
}

impl Encode for Readdirplus3Args<'_> {
    fn encode(&self, w: &mut Writer) {
        self.dir.encode(w);
        self.cookie.encode(w);
        self.cookieverf.encode(w);
        w.u32(self.dircount);
        w.u32(self.maxcount);
    }
}

/// RFC 1813 §3.3.17: one directory entry with its attributes and handle.
#[doc(alias = "entryplus3")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entryplus3 {
    /// The entry's file id.
    pub fileid: u64,
    /// The entry's name; at most [`limits::NAME_MAX`] bytes.
    pub name: Vec<u8>,
    /// The cookie to resume after this entry.
    pub cookie: Cookie3,
    /// The entry's attributes.
    pub name_attributes: PostOpAttr,
    /// The entry's handle.
    pub name_handle: PostOpFh3,
}

impl Decode<'_> for Entryplus3 {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            fileid: r.u64("entryplus3.fileid")?,
            name: read_name(r, "entryplus3.name")?.to_vec(),
            cookie: Cookie3::decode(r)?,
            name_attributes: PostOpAttr::decode(r)?,
            name_handle: PostOpFh3::decode(r)?,
        })
    }
}

impl Encode for Entryplus3 {
    fn encode(&self, w: &mut Writer) {
        w.u64(self.fileid);
        w.string(&self.name);
        self.cookie.encode(w);
        self.name_attributes.encode(w);
        self.name_handle.encode(w);
    }
}

/// Bytes `e` counts against `dircount`: fileid (8), name (4 + padded length) and cookie (8),
/// the parts RFC 1813 §3.3.17 calls directory information (attributes and handle excluded).
pub fn entryplus3_dircount(e: &Entryplus3) -> usize {
    8 + 4 + e.name.len() + pad_len(e.name.len()) + 8
}

/// Bytes `e` adds to a READDIRPLUS result (counted against `maxcount`): the list pointer before
/// it (4), its directory information, attributes and handle.
pub fn entryplus3_encoded_len(e: &Entryplus3) -> usize {
    4 + entryplus3_dircount(e) + e.name_attributes.encoded_len() + e.name_handle.encoded_len()
}

/// Bytes of a whole successful READDIRPLUS result with no entries: status (4), the directory's
/// attributes, the cookie verifier (8), the list terminator (4) and `eof` (4). The status is
/// counted although `maxcount` covers only `READDIRPLUS3resok`, which keeps a server that stays
/// within `maxcount` on the safe side.
pub fn readdirplus3_res_overhead(dir_attributes: &PostOpAttr) -> usize {
    4 + dir_attributes.encoded_len() + 8 + 4 + 4
}

/// RFC 1813 §3.3.17 (`READDIRPLUS3resok` with its `dirlistplus3` inlined).
#[doc(alias = "READDIRPLUS3resok", alias = "dirlistplus3")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Readdirplus3ResOk {
    /// The directory's attributes.
    pub dir_attributes: PostOpAttr,
    /// The verifier the client sends back with the next cookie.
    pub cookieverf: Cookieverf3,
    /// The entries, in directory order; the wire's linked list.
    pub entries: Vec<Entryplus3>,
    /// Whether the last entry is the end of the directory.
    pub eof: bool,
}

impl Readdirplus3ResOk {
    /// Bytes of the whole result encoded as `Nfs3Res::Ok(self)`, status included:
    /// [`readdirplus3_res_overhead`] plus [`entryplus3_encoded_len`] of each entry.
    pub fn encoded_len(&self) -> usize {
        readdirplus3_res_overhead(&self.dir_attributes)
            + self
                .entries
                .iter()
                .map(entryplus3_encoded_len)
                .sum::<usize>()
    }

    /// The sum of [`entryplus3_dircount`] over the entries, to compare with `dircount`.
    pub fn dircount(&self) -> usize {
        self.entries.iter().map(entryplus3_dircount).sum()
    }
}

impl Decode<'_> for Readdirplus3ResOk {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir_attributes: PostOpAttr::decode(r)?,
            cookieverf: Cookieverf3::decode(r)?,
            entries: read_list(
                r,
                "dirlistplus3.entries",
                limits::DIR_ENTRIES_MAX,
                Entryplus3::decode,
            )?,
            eof: r.bool("dirlistplus3.eof")?,
        })
    }
}

impl Encode for Readdirplus3ResOk {
    fn encode(&self, w: &mut Writer) {
        self.dir_attributes.encode(w);
        self.cookieverf.encode(w);
        write_list(w, &self.entries, |w, e| e.encode(w));
        w.bool(self.eof);
    }
}

/// RFC 1813 §3.3.17
#[doc(alias = "READDIRPLUS3resfail")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Readdirplus3ResFail {
    /// The directory's attributes.
    pub dir_attributes: PostOpAttr,
}

impl Decode<'_> for Readdirplus3ResFail {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            dir_attributes: PostOpAttr::decode(r)?,
        })
    }
}

impl Encode for Readdirplus3ResFail {
    fn encode(&self, w: &mut Writer) {
        self.dir_attributes.encode(w);
    }
}

/// RFC 1813 §3.3.17
#[doc(alias = "READDIRPLUS3res")]
pub type Readdirplus3Res = Nfs3Res<Readdirplus3ResOk, Readdirplus3ResFail>;

#[cfg(test)]
pub(crate) mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::{
        check_round_trip, fh, name_owned, post_op_attr, post_op_fh, res, verf,
    };
    use crate::wire::encode_to_vec;

    pub(crate) fn args() -> impl Strategy<Value = Readdirplus3Args<'static>> {
        (fh(), any::<u64>(), verf(), any::<u32>(), any::<u32>()).prop_map(
            |(dir, cookie, verf, dircount, maxcount)| Readdirplus3Args {
                dir,
                cookie: Cookie3(cookie),
                cookieverf: Cookieverf3(verf),
                dircount,
                maxcount,
            },
        )
    }

    pub(crate) fn entry() -> impl Strategy<Value = Entryplus3> {
        (
            any::<u64>(),
            name_owned(),
            any::<u64>(),
            post_op_attr(),
            post_op_fh(),
        )
            .prop_map(
                |(fileid, name, cookie, name_attributes, name_handle)| Entryplus3 {
                    fileid,
                    name,
                    cookie: Cookie3(cookie),
                    name_attributes,
                    name_handle,
                },
            )
    }

    pub(crate) fn result_ok() -> impl Strategy<Value = Readdirplus3ResOk> {
        (post_op_attr(), verf(), vec(entry(), 0..8), any::<bool>()).prop_map(
            |(dir_attributes, verf, entries, eof)| Readdirplus3ResOk {
                dir_attributes,
                cookieverf: Cookieverf3(verf),
                entries,
                eof,
            },
        )
    }

    pub(crate) fn result() -> impl Strategy<Value = Readdirplus3Res> {
        res(
            result_ok(),
            post_op_attr().prop_map(|dir_attributes| Readdirplus3ResFail { dir_attributes }),
        )
    }

    proptest! {
        /// Goal: READDIRPLUS arguments and results survive encode then decode unchanged.
        #[test]
        fn round_trip(a in args(), r in result()) {
            check_round_trip(&a)?;
            check_round_trip(&r)?;
        }

        /// Goal: the size helpers a server budgets `maxcount` and `dircount` with agree with
        /// the encoder. Method: compare with the real encoding, and check each entry's
        /// dircount share is exactly its fileid + name + cookie encoding.
        #[test]
        fn size_helpers_match_encoding(ok in result_ok()) {
            prop_assert_eq!(ok.encoded_len(), encode_to_vec(&Readdirplus3Res::Ok(ok.clone())).len());
            for e in &ok.entries {
                let mut w = Writer::new();
                w.u64(e.fileid);
                w.string(&e.name);
                e.cookie.encode(&mut w);
                prop_assert_eq!(entryplus3_dircount(e), w.len());
                prop_assert_eq!(entryplus3_encoded_len(e), 4 + encode_to_vec(e).len());
            }
        }
    }
}
