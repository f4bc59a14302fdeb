//! NFSv3 (RFC 1813): program 100003, version 3.
//!
//! The server side decodes a call's argument bytes with [`decode_call`] into a [`Call`], which
//! borrows names, handles and WRITE data from the input, and answers with a [`Reply`], whose
//! `Encode` writes the result body (everything after the RPC reply header). Test clients and the
//! simulator go the other way: they encode a `Call` and read results with [`decode_reply`].
//!
//! Every procedure's result is an [`Nfs3Res`]: `Ok(XXX3resok)` or `Fail(status, XXX3resfail)`.
//! Every length a peer sends is checked against [`crate::wire::limits`] before it is used, and
//! a call must consume its argument bytes exactly.
//!
//! Layout:
//! - [`types`]: status codes, handles, attributes and the other shared types (RFC 1813 §2.5).
//! - [`proc`]: one module per procedure with its arguments and results (RFC 1813 §3.3).

pub mod proc;
pub mod types;

use bytes::Bytes;

pub use self::proc::access::*;
pub use self::proc::commit::*;
pub use self::proc::create::*;
pub use self::proc::fsinfo::*;
pub use self::proc::fsstat::*;
pub use self::proc::getattr::*;
pub use self::proc::link::*;
pub use self::proc::lookup::*;
pub use self::proc::mkdir::*;
pub use self::proc::mknod::*;
pub use self::proc::pathconf::*;
pub use self::proc::read::*;
pub use self::proc::readdir::*;
pub use self::proc::readdirplus::*;
pub use self::proc::readlink::*;
pub use self::proc::remove::*;
pub use self::proc::rename::*;
pub use self::proc::rmdir::*;
pub use self::proc::setattr::*;
pub use self::proc::symlink::*;
pub use self::proc::write::*;
pub use self::types::*;
use crate::wire::{Decode, DecodeError, Encode};
use crate::xdr::{Reader, Writer};

/// RFC 1813 §1.3 (and the `program NFS_PROGRAM` definition): the ONC RPC program number.
#[doc(alias = "NFS_PROGRAM")]
pub const PROGRAM: u32 = 100_003;

/// RFC 1813 §1.3 (`version NFS_V3`): the program version this module implements.
#[doc(alias = "NFS_V3")]
pub const VERSION: u32 = 3;

macro_rules! procedures {
    ($($variant:ident = $num:literal, $name:literal, $args:ident, $res:ident;)*) => {
        /// RFC 1813 §3.3: the NFSv3 procedures, in the spec's order; the discriminant is the
        /// RPC procedure number.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u32)]
        pub enum Nfs3Proc {
            /// `NULL` (RFC 1813 §3.3.0): does nothing; clients use it to ping.
            Null = 0,
            $(
                #[doc = concat!("`", $name, "` (RFC 1813 §3.3.", $num, ").")]
                $variant = $num,
            )*
        }

        impl Nfs3Proc {
            /// Every procedure, in procedure-number order.
            pub const ALL: [Self; 22] = [Self::Null, $(Self::$variant),*];

            /// The procedure with RPC procedure number `v`, or `None` (the RPC layer answers
            /// PROC_UNAVAIL).
            pub const fn from_u32(v: u32) -> Option<Self> {
                match v {
                    0 => Some(Self::Null),
                    $($num => Some(Self::$variant),)*
                    _ => None,
                }
            }

            /// The RPC procedure number.
            pub const fn as_u32(self) -> u32 {
                self as u32
            }

            /// The spec's name, e.g. `"LOOKUP"`, for logs and traces.
            pub const fn name(self) -> &'static str {
                match self {
                    Self::Null => "NULL",
                    $(Self::$variant => $name,)*
                }
            }
        }

        /// A decoded NFSv3 call: the procedure and its arguments, borrowing from the input.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Call<'a> {
            /// `NULL` (RFC 1813 §3.3.0): no arguments.
            Null,
            $(
                #[doc = concat!("`", $name, "` (RFC 1813 §3.3.", $num, ").")]
                $variant($args<'a>),
            )*
        }

        impl Call<'_> {
            /// The procedure called.
            pub const fn proc_(&self) -> Nfs3Proc {
                match self {
                    Self::Null => Nfs3Proc::Null,
                    $(Self::$variant(_) => Nfs3Proc::$variant,)*
                }
            }
        }

        impl Encode for Call<'_> {
            /// Writes the arguments only; the procedure number travels in the RPC header.
            fn encode(&self, w: &mut Writer) {
                match self {
                    Self::Null => {}
                    $(Self::$variant(args) => args.encode(w),)*
                }
            }
        }

        /// Decodes the arguments of procedure `proc_` from `args`, the bytes after the RPC call
        /// header. All of `args` must be consumed. An unknown procedure number is an error
        /// here; a server that wants to answer PROC_UNAVAIL rather than GARBAGE_ARGS checks
        /// [`Nfs3Proc::from_u32`] first.
        pub fn decode_call(proc_: u32, args: &[u8]) -> Result<Call<'_>, DecodeError> {
            let Some(p) = Nfs3Proc::from_u32(proc_) else {
                return Err(DecodeError::InvalidValue {
                    field: "NFSv3 procedure",
                    value: u64::from(proc_),
                });
            };
            let mut r = Reader::new(args);
            let call = match p {
                Nfs3Proc::Null => Call::Null,
                $(Nfs3Proc::$variant => Call::$variant($args::decode(&mut r)?),)*
            };
            r.finish("NFSv3 call arguments")?;
            Ok(call)
        }

        /// An NFSv3 result, one variant per procedure.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Reply {
            /// `NULL` (RFC 1813 §3.3.0): an empty result.
            Null,
            $(
                #[doc = concat!("`", $name, "` (RFC 1813 §3.3.", $num, ").")]
                $variant($res),
            )*
        }

        impl Reply {
            /// The procedure this answers.
            pub const fn proc_(&self) -> Nfs3Proc {
                match self {
                    Self::Null => Nfs3Proc::Null,
                    $(Self::$variant(_) => Nfs3Proc::$variant,)*
                }
            }

            /// The result's status; NULL counts as [`NfsStat3::OK`].
            pub const fn status(&self) -> NfsStat3 {
                match self {
                    Self::Null => NfsStat3::OK,
                    $(Self::$variant(res) => res.status(),)*
                }
            }
        }

        impl Encode for Reply {
            /// Writes the result body; the RPC reply header is the caller's.
            fn encode(&self, w: &mut Writer) {
                match self {
                    Self::Null => {}
                    $(Self::$variant(res) => res.encode(w),)*
                }
            }
        }

        $(
            impl From<$res> for Reply {
                fn from(res: $res) -> Self {
                    Self::$variant(res)
                }
            }
        )*

        /// Decodes the result of procedure `proc_` from `bytes`, the body after the RPC reply
        /// header. All of `bytes` must be consumed. Used by test clients and the simulator;
        /// list lengths are capped (see [`crate::wire::limits::DIR_ENTRIES_MAX`]).
        pub fn decode_reply(proc_: Nfs3Proc, bytes: &[u8]) -> Result<Reply, DecodeError> {
            let mut r = Reader::new(bytes);
            let reply = match proc_ {
                Nfs3Proc::Null => Reply::Null,
                $(Nfs3Proc::$variant => Reply::$variant($res::decode(&mut r)?),)*
            };
            r.finish("NFSv3 reply body")?;
            Ok(reply)
        }
    };
}

procedures! {
    Getattr = 1, "GETATTR", Getattr3Args, Getattr3Res;
    Setattr = 2, "SETATTR", Setattr3Args, Setattr3Res;
    Lookup = 3, "LOOKUP", Lookup3Args, Lookup3Res;
    Access = 4, "ACCESS", Access3Args, Access3Res;
    Readlink = 5, "READLINK", Readlink3Args, Readlink3Res;
    Read = 6, "READ", Read3Args, Read3Res;
    Write = 7, "WRITE", Write3Args, Write3Res;
    Create = 8, "CREATE", Create3Args, Create3Res;
    Mkdir = 9, "MKDIR", Mkdir3Args, Mkdir3Res;
    Symlink = 10, "SYMLINK", Symlink3Args, Symlink3Res;
    Mknod = 11, "MKNOD", Mknod3Args, Mknod3Res;
    Remove = 12, "REMOVE", Remove3Args, Remove3Res;
    Rmdir = 13, "RMDIR", Rmdir3Args, Rmdir3Res;
    Rename = 14, "RENAME", Rename3Args, Rename3Res;
    Link = 15, "LINK", Link3Args, Link3Res;
    Readdir = 16, "READDIR", Readdir3Args, Readdir3Res;
    Readdirplus = 17, "READDIRPLUS", Readdirplus3Args, Readdirplus3Res;
    Fsstat = 18, "FSSTAT", Fsstat3Args, Fsstat3Res;
    Fsinfo = 19, "FSINFO", Fsinfo3Args, Fsinfo3Res;
    Pathconf = 20, "PATHCONF", Pathconf3Args, Pathconf3Res;
    Commit = 21, "COMMIT", Commit3Args, Commit3Res;
}

impl Reply {
    /// Encodes the reply like `Encode::encode`, except that a successful READ's data bytes
    /// and their padding are left out and returned instead, so a transport can send them
    /// from the store's buffer without copying: the full body is `w`'s new bytes, then the
    /// returned data, then [`crate::xdr::pad_len`]`(data.len())` zero bytes. Every other
    /// reply is encoded whole and `None` is returned.
    pub fn encode_head(&self, w: &mut Writer) -> Option<Bytes> {
        match self {
            Self::Read(Nfs3Res::Ok(ok)) => {
                NfsStat3::OK.encode(w);
                ok.encode_head(w);
                Some(ok.data.clone())
            }
            other => {
                other.encode(w);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::nfs3::types::tests::leak;
    use crate::wire::encode_to_vec;
    use crate::xdr::pad_len;

    fn call() -> impl Strategy<Value = Call<'static>> {
        prop_oneof![
            Just(Call::Null),
            proc::getattr::tests::args().prop_map(Call::Getattr),
            proc::setattr::tests::args().prop_map(Call::Setattr),
            proc::lookup::tests::args().prop_map(Call::Lookup),
            proc::access::tests::args().prop_map(Call::Access),
            proc::readlink::tests::args().prop_map(Call::Readlink),
            proc::read::tests::args().prop_map(Call::Read),
            proc::write::tests::args().prop_map(Call::Write),
            proc::create::tests::args().prop_map(Call::Create),
            proc::mkdir::tests::args().prop_map(Call::Mkdir),
            proc::symlink::tests::args().prop_map(Call::Symlink),
            proc::mknod::tests::args().prop_map(Call::Mknod),
            proc::remove::tests::args().prop_map(Call::Remove),
            proc::rmdir::tests::args().prop_map(Call::Rmdir),
            proc::rename::tests::args().prop_map(Call::Rename),
            proc::link::tests::args().prop_map(Call::Link),
            proc::readdir::tests::args().prop_map(Call::Readdir),
            proc::readdirplus::tests::args().prop_map(Call::Readdirplus),
            proc::fsstat::tests::args().prop_map(Call::Fsstat),
            proc::fsinfo::tests::args().prop_map(Call::Fsinfo),
            proc::pathconf::tests::args().prop_map(Call::Pathconf),
            proc::commit::tests::args().prop_map(Call::Commit),
        ]
    }

    fn reply() -> impl Strategy<Value = Reply> {
        prop_oneof![
            Just(Reply::Null),
            proc::getattr::tests::result().prop_map(Reply::Getattr),
            proc::setattr::tests::result().prop_map(Reply::Setattr),
            proc::lookup::tests::result().prop_map(Reply::Lookup),
            proc::access::tests::result().prop_map(Reply::Access),
            proc::readlink::tests::result().prop_map(Reply::Readlink),
            proc::read::tests::result().prop_map(Reply::Read),
            proc::write::tests::result().prop_map(Reply::Write),
            proc::create::tests::result().prop_map(Reply::Create),
            proc::mkdir::tests::result().prop_map(Reply::Mkdir),
            proc::symlink::tests::result().prop_map(Reply::Symlink),
            proc::mknod::tests::result().prop_map(Reply::Mknod),
            proc::remove::tests::result().prop_map(Reply::Remove),
            proc::rmdir::tests::result().prop_map(Reply::Rmdir),
            proc::rename::tests::result().prop_map(Reply::Rename),
            proc::link::tests::result().prop_map(Reply::Link),
            proc::readdir::tests::result().prop_map(Reply::Readdir),
            proc::readdirplus::tests::result().prop_map(Reply::Readdirplus),
            proc::fsstat::tests::result().prop_map(Reply::Fsstat),
            proc::fsinfo::tests::result().prop_map(Reply::Fsinfo),
            proc::pathconf::tests::result().prop_map(Reply::Pathconf),
            proc::commit::tests::result().prop_map(Reply::Commit),
        ]
    }

    proptest! {
        /// Goal: `decode_call(encode(c)) == c` for every procedure through the dispatching
        /// entry point the server uses, including its trailing-bytes check.
        #[test]
        fn call_round_trip(c in call()) {
            let bytes = encode_to_vec(&c);
            let back = decode_call(c.proc_().as_u32(), &bytes);
            prop_assert_eq!(back, Ok(c));
        }

        /// Goal: `decode_reply(encode(r)) == r` for every procedure, and the split encoding a
        /// vectored transport uses reassembles to the same bytes.
        #[test]
        fn reply_round_trip(r in reply()) {
            let bytes = encode_to_vec(&r);
            prop_assert_eq!(decode_reply(r.proc_(), &bytes), Ok(r.clone()));
            let mut w = Writer::new();
            let split = match r.encode_head(&mut w) {
                Some(data) => {
                    let mut v = w.into_inner();
                    v.extend_from_slice(&data);
                    v.extend(std::iter::repeat_n(0u8, pad_len(data.len())));
                    v
                }
                None => w.into_inner(),
            };
            prop_assert_eq!(split, bytes);
        }

        /// Goal: a valid call followed by extra bytes is refused (the RPC layer answers
        /// GARBAGE_ARGS). Method: append 1..8 bytes to a valid encoding.
        #[test]
        fn trailing_bytes_rejected(c in call(), extra in vec(any::<u8>(), 1..8)) {
            let mut bytes = encode_to_vec(&c);
            let n = extra.len();
            bytes.extend(extra);
            let is_trailing = matches!(
                decode_call(c.proc_().as_u32(), &bytes),
                Err(DecodeError::TrailingBytes { count, .. }) if count == n
            );
            prop_assert!(is_trailing);
        }

        /// Goal: nothing a peer sends makes `decode_call` panic, and anything it accepts
        /// re-encodes to exactly the input (decoding is strict, so the encoding is canonical).
        /// Method: random procedure numbers (mostly valid) and random bytes.
        #[test]
        fn random_bytes_never_panic(
            proc_ in prop_oneof![0u32..22, any::<u32>()],
            bytes in vec(any::<u8>(), 0..256),
        ) {
            if let Ok(call) = decode_call(proc_, &bytes) {
                prop_assert_eq!(encode_to_vec(&call), bytes);
            }
        }

        /// Goal: damaged valid calls (truncated, or one byte changed) never panic, and a
        /// truncated one is always refused. Method: start from a valid encoding.
        #[test]
        fn mutated_calls_never_panic(
            c in call(),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            xor in 1u8..,
        ) {
            let bytes = leak(encode_to_vec(&c));
            let p = c.proc_().as_u32();
            if !bytes.is_empty() {
                let at = cut.index(bytes.len());
                prop_assert!(decode_call(p, &bytes[..at]).is_err());
                let mut changed = bytes.to_vec();
                changed[flip.index(bytes.len())] ^= xor;
                if let Ok(call) = decode_call(p, &changed) {
                    prop_assert_eq!(encode_to_vec(&call), changed);
                }
            }
        }

        /// Goal: `decode_reply` never panics on garbage or on a damaged valid reply, and what
        /// it accepts re-encodes to the same bytes (the property `fuzz_nfs3_reply` asserts).
        #[test]
        fn damaged_replies_never_panic(
            r in reply(),
            garbage in vec(any::<u8>(), 0..256),
            flip in any::<prop::sample::Index>(),
            xor in 1u8..,
        ) {
            let p = r.proc_();
            if let Ok(back) = decode_reply(p, &garbage) {
                prop_assert_eq!(encode_to_vec(&back), garbage);
            }
            let mut changed = encode_to_vec(&r);
            if !changed.is_empty() {
                let at = flip.index(changed.len());
                changed[at] ^= xor;
                if let Ok(back) = decode_reply(p, &changed) {
                    prop_assert_eq!(encode_to_vec(&back), changed);
                }
            }
        }
    }

    /// Goal: procedure numbers follow RFC 1813's order and nothing past COMMIT exists.
    #[test]
    fn procedure_numbers() {
        for (i, p) in Nfs3Proc::ALL.iter().enumerate() {
            assert_eq!(p.as_u32() as usize, i);
            assert_eq!(Nfs3Proc::from_u32(i as u32), Some(*p));
        }
        assert_eq!(Nfs3Proc::from_u32(3), Some(Nfs3Proc::Lookup));
        assert_eq!(Nfs3Proc::Readdirplus.as_u32(), 17);
        assert_eq!(Nfs3Proc::Commit.name(), "COMMIT");
        assert_eq!(Nfs3Proc::from_u32(22), None);
        assert_eq!(
            decode_call(22, &[]),
            Err(DecodeError::InvalidValue {
                field: "NFSv3 procedure",
                value: 22
            })
        );
        assert_eq!(decode_call(0, &[]), Ok(Call::Null));
        assert!(decode_call(0, &[0, 0, 0, 0]).is_err());
    }
}
