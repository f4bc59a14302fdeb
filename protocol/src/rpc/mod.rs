//! ONC RPC version 2 (RFC 5531): call and reply messages, AUTH_NONE and AUTH_SYS credentials,
//! and TCP record marking ([`record`]).
//!
//! The server side decodes a call header with [`decode_call`], turns the credential into
//! [`Credentials`], and writes replies with the `encode_*` functions; clients (the simulator,
//! tests) use [`encode_call`] and [`decode_reply`].

pub mod record;

use std::fmt;

pub use self::record::{FrameError, RecordDecoder, record_header};
use crate::wire::{DecodeError, limits};
use crate::xdr::{Reader, Writer};

/// The only RPC protocol version (RFC 5531 §9: `rpcvers` must be 2).
pub const RPC_VERSION: u32 = 2;

/// A transaction id, chosen by the client and echoed in the reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Xid(pub u32);

macro_rules! open_set {
    ($(#[$m:meta])* $name:ident { $($(#[$cm:meta])* $c:ident = $v:expr),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u32);
        impl $name {
            $($(#[$cm])* pub const $c: Self = Self($v);)*
            /// The spec's name for this value, if it has one.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 { $($v => Some(stringify!($c)),)* _ => None }
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.name() { Some(n) => f.write_str(n), None => write!(f, "{}({})", stringify!($name), self.0) }
            }
        }
    };
}

open_set! {
    /// RFC 5531 §8.2 `auth_flavor`.
    #[doc(alias = "auth_flavor")]
    AuthFlavor {
        /// No authentication.
        AUTH_NONE = 0,
        /// Unix-style uid/gid credentials (AUTH_UNIX).
        AUTH_SYS = 1,
        /// Short-hand credential.
        AUTH_SHORT = 2,
        /// Diffie-Hellman.
        AUTH_DH = 3,
        /// RPCSEC_GSS.
        RPCSEC_GSS = 6,
    }
}

open_set! {
    /// RFC 5531 §9 `accept_stat`.
    #[doc(alias = "accept_stat")]
    AcceptStat {
        /// Executed successfully.
        SUCCESS = 0,
        /// The program is not served here.
        PROG_UNAVAIL = 1,
        /// The program version is not served; the reply carries the supported range.
        PROG_MISMATCH = 2,
        /// The procedure does not exist.
        PROC_UNAVAIL = 3,
        /// The arguments could not be decoded.
        GARBAGE_ARGS = 4,
        /// A server error (e.g. memory).
        SYSTEM_ERR = 5,
    }
}

open_set! {
    /// RFC 5531 §9 `auth_stat`.
    #[doc(alias = "auth_stat")]
    AuthStat {
        /// Success.
        OK = 0,
        /// Bad credential (seal broken).
        BADCRED = 1,
        /// The client must begin a new session.
        REJECTEDCRED = 2,
        /// Bad verifier.
        BADVERF = 3,
        /// Verifier expired or replayed.
        REJECTEDVERF = 4,
        /// Rejected for security reasons.
        TOOWEAK = 5,
    }
}

/// RFC 5531 §8.2 `opaque_auth`: a flavor and an opaque body of at most 400 bytes.
#[doc(alias = "opaque_auth")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpaqueAuth<'a> {
    /// The flavor.
    pub flavor: AuthFlavor,
    /// The body.
    pub body: &'a [u8],
}

impl<'a> OpaqueAuth<'a> {
    /// AUTH_NONE with an empty body.
    pub const NONE: Self = Self {
        flavor: AuthFlavor::AUTH_NONE,
        body: &[],
    };

    fn decode(r: &mut Reader<'a>, field: &'static str) -> Result<Self, DecodeError> {
        let flavor = AuthFlavor(r.u32(field)?);
        let body = r.opaque(limits::AUTH_BODY_MAX, field)?;
        Ok(Self { flavor, body })
    }

    fn encode(&self, w: &mut Writer) {
        w.u32(self.flavor.0);
        w.opaque(self.body);
    }
}

/// RFC 5531 Appendix A `authsys_parms`.
#[doc(alias = "authsys_parms", alias = "authunix_parms")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSys {
    /// Arbitrary id the client chose.
    pub stamp: u32,
    /// The client's host name (at most 255 bytes).
    pub machine_name: Vec<u8>,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Supplementary groups (at most 16).
    pub gids: Vec<u32>,
}

impl AuthSys {
    /// Decodes an AUTH_SYS credential body; the whole body must be consumed.
    pub fn decode(body: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(body);
        let stamp = r.u32("authsys.stamp")?;
        let machine_name = r
            .string(limits::AUTH_MACHINE_NAME_MAX, "authsys.machinename")?
            .to_vec();
        let uid = r.u32("authsys.uid")?;
        let gid = r.u32("authsys.gid")?;
        let n = r.array_len(limits::AUTH_GIDS_MAX, 4, "authsys.gids")?;
        let mut gids = Vec::with_capacity(n);
        for _ in 0..n {
            gids.push(r.u32("authsys.gids")?);
        }
        r.finish("authsys_parms")?;
        Ok(Self {
            stamp,
            machine_name,
            uid,
            gid,
            gids,
        })
    }

    /// Encodes the credential body.
    pub fn encode(&self, w: &mut Writer) {
        w.u32(self.stamp);
        w.string(&self.machine_name);
        w.u32(self.uid);
        w.u32(self.gid);
        w.u32(self.gids.len() as u32);
        for g in &self.gids {
            w.u32(*g);
        }
    }

    /// The encoded body as bytes.
    pub fn to_body(&self) -> Vec<u8> {
        let mut w = Writer::new();
        self.encode(&mut w);
        w.into_inner()
    }
}

/// The credentials a server accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// AUTH_NONE: anonymous.
    None,
    /// AUTH_SYS.
    Sys(AuthSys),
}

impl Credentials {
    /// Interprets a call's credential and verifier, or the AUTH_ERROR status to answer with.
    pub fn from_call(call: &CallHeader<'_>) -> Result<Self, AuthStat> {
        // We issue no verifiers: anything but AUTH_NONE in the verifier is refused.
        if call.verf.flavor != AuthFlavor::AUTH_NONE {
            return Err(AuthStat::BADVERF);
        }
        match call.cred.flavor {
            AuthFlavor::AUTH_NONE => Ok(Self::None),
            AuthFlavor::AUTH_SYS => AuthSys::decode(call.cred.body)
                .map(Self::Sys)
                .map_err(|_| AuthStat::BADCRED),
            // RPCSEC_GSS, AUTH_DH and anything else: tell the client to use something weaker
            // that we support.
            _ => Err(AuthStat::TOOWEAK),
        }
    }
}

/// The header of a CALL message (RFC 5531 §9 `call_body`).
#[doc(alias = "call_body")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallHeader<'a> {
    /// Transaction id.
    pub xid: Xid,
    /// RPC version; 2.
    pub rpcvers: u32,
    /// Program number.
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure number.
    pub proc_: u32,
    /// Credential.
    pub cred: OpaqueAuth<'a>,
    /// Verifier.
    pub verf: OpaqueAuth<'a>,
}

/// Why a record is not a call we can execute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Too short to even hold an xid and a message type: nothing can be answered.
    #[error("record too short for an RPC header")]
    Truncated,
    /// A REPLY (or another message type) sent to a server: ignored.
    #[error("not a CALL message")]
    NotACall,
    /// `rpcvers` is not 2: answer RPC_MISMATCH.
    #[error("RPC version mismatch")]
    RpcMismatch {
        /// The call's xid.
        xid: Xid,
    },
    /// The header after the xid did not decode: answer GARBAGE_ARGS when the xid is known.
    #[error("undecodable call header: {error}")]
    Garbage {
        /// The call's xid.
        xid: Option<Xid>,
        /// What was wrong.
        error: DecodeError,
    },
}

/// Message types (RFC 5531 §9 `msg_type`).
const CALL: u32 = 0;
const REPLY: u32 = 1;
/// `reply_stat`.
const MSG_ACCEPTED: u32 = 0;
const MSG_DENIED: u32 = 1;
/// `reject_stat`.
const RPC_MISMATCH: u32 = 0;
const AUTH_ERROR: u32 = 1;

/// Decodes a call header; returns it and the procedure's argument bytes.
pub fn decode_call(record: &[u8]) -> Result<(CallHeader<'_>, &[u8]), CallError> {
    let mut r = Reader::new(record);
    let (Ok(xid), Ok(mtype)) = (r.u32("xid"), r.u32("msg_type")) else {
        return Err(CallError::Truncated);
    };
    let xid = Xid(xid);
    if mtype != CALL {
        return Err(CallError::NotACall);
    }
    let garbage = |error| CallError::Garbage {
        xid: Some(xid),
        error,
    };
    let rpcvers = r.u32("rpcvers").map_err(garbage)?;
    if rpcvers != RPC_VERSION {
        return Err(CallError::RpcMismatch { xid });
    }
    let prog = r.u32("prog").map_err(garbage)?;
    let vers = r.u32("vers").map_err(garbage)?;
    let proc_ = r.u32("proc").map_err(garbage)?;
    let cred = OpaqueAuth::decode(&mut r, "cred").map_err(garbage)?;
    let verf = OpaqueAuth::decode(&mut r, "verf").map_err(garbage)?;
    Ok((
        CallHeader {
            xid,
            rpcvers,
            prog,
            vers,
            proc_,
            cred,
            verf,
        },
        r.rest(),
    ))
}

/// Encodes a call header; the caller appends the arguments.
pub fn encode_call(w: &mut Writer, call: &CallHeader<'_>) {
    w.u32(call.xid.0);
    w.u32(CALL);
    w.u32(call.rpcvers);
    w.u32(call.prog);
    w.u32(call.vers);
    w.u32(call.proc_);
    call.cred.encode(w);
    call.verf.encode(w);
}

fn accepted_head(w: &mut Writer, xid: Xid) {
    w.u32(xid.0);
    w.u32(REPLY);
    w.u32(MSG_ACCEPTED);
    OpaqueAuth::NONE.encode(w);
}

/// An accepted reply with `stat` (for SUCCESS the caller appends the results). PROG_MISMATCH
/// needs its range: use [`encode_prog_mismatch`].
pub fn encode_accepted(w: &mut Writer, xid: Xid, stat: AcceptStat) {
    accepted_head(w, xid);
    w.u32(stat.0);
}

/// An accepted reply with PROG_MISMATCH and the supported version range.
pub fn encode_prog_mismatch(w: &mut Writer, xid: Xid, low: u32, high: u32) {
    encode_accepted(w, xid, AcceptStat::PROG_MISMATCH);
    w.u32(low);
    w.u32(high);
}

/// A denied reply: RPC_MISMATCH with the supported RPC version range.
pub fn encode_rpc_mismatch(w: &mut Writer, xid: Xid, low: u32, high: u32) {
    w.u32(xid.0);
    w.u32(REPLY);
    w.u32(MSG_DENIED);
    w.u32(RPC_MISMATCH);
    w.u32(low);
    w.u32(high);
}

/// A denied reply: AUTH_ERROR with `stat`.
pub fn encode_auth_error(w: &mut Writer, xid: Xid, stat: AuthStat) {
    w.u32(xid.0);
    w.u32(REPLY);
    w.u32(MSG_DENIED);
    w.u32(AUTH_ERROR);
    w.u32(stat.0);
}

/// What a reply says, for clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyStatus {
    /// Accepted with this status; for SUCCESS the results follow in [`ReplyHeader::body`].
    Accepted(AcceptStat),
    /// Accepted with PROG_MISMATCH and the supported range.
    ProgMismatch {
        /// Lowest supported version.
        low: u32,
        /// Highest supported version.
        high: u32,
    },
    /// Denied: RPC version mismatch.
    RpcMismatch {
        /// Lowest supported version.
        low: u32,
        /// Highest supported version.
        high: u32,
    },
    /// Denied: authentication error.
    AuthError(AuthStat),
}

/// A decoded reply header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader<'a> {
    /// The xid being answered.
    pub xid: Xid,
    /// The outcome.
    pub status: ReplyStatus,
    /// The procedure's results (empty unless SUCCESS).
    pub body: &'a [u8],
}

/// Decodes a reply message.
pub fn decode_reply(record: &[u8]) -> Result<ReplyHeader<'_>, DecodeError> {
    let mut r = Reader::new(record);
    let xid = Xid(r.u32("xid")?);
    let mtype = r.u32("msg_type")?;
    if mtype != REPLY {
        return Err(DecodeError::InvalidValue {
            field: "msg_type",
            value: u64::from(mtype),
        });
    }
    let status = match r.u32("reply_stat")? {
        MSG_ACCEPTED => {
            let _verf = OpaqueAuth::decode(&mut r, "verf")?;
            match AcceptStat(r.u32("accept_stat")?) {
                AcceptStat::PROG_MISMATCH => ReplyStatus::ProgMismatch {
                    low: r.u32("mismatch_info.low")?,
                    high: r.u32("mismatch_info.high")?,
                },
                s => ReplyStatus::Accepted(s),
            }
        }
        MSG_DENIED => match r.u32("reject_stat")? {
            RPC_MISMATCH => ReplyStatus::RpcMismatch {
                low: r.u32("mismatch_info.low")?,
                high: r.u32("mismatch_info.high")?,
            },
            AUTH_ERROR => ReplyStatus::AuthError(AuthStat(r.u32("auth_stat")?)),
            v => {
                return Err(DecodeError::InvalidValue {
                    field: "reject_stat",
                    value: u64::from(v),
                });
            }
        },
        v => {
            return Err(DecodeError::InvalidValue {
                field: "reply_stat",
                value: u64::from(v),
            });
        }
    };
    Ok(ReplyHeader {
        xid,
        status,
        body: r.rest(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// Goal: a NULL call as Linux sends it (AUTH_SYS) decodes field by field.
    #[test]
    fn decode_null_call_with_auth_sys() {
        let sys = AuthSys {
            stamp: 7,
            machine_name: b"vm".to_vec(),
            uid: 1000,
            gid: 100,
            gids: vec![100, 27],
        };
        let body = sys.to_body();
        let mut w = Writer::new();
        let hdr = CallHeader {
            xid: Xid(0x1234),
            rpcvers: 2,
            prog: 100_003,
            vers: 3,
            proc_: 0,
            cred: OpaqueAuth {
                flavor: AuthFlavor::AUTH_SYS,
                body: &body,
            },
            verf: OpaqueAuth::NONE,
        };
        encode_call(&mut w, &hdr);
        let bytes = w.into_inner();
        let (got, args) = decode_call(&bytes).unwrap();
        assert_eq!(got, hdr);
        assert!(args.is_empty());
        assert_eq!(Credentials::from_call(&got), Ok(Credentials::Sys(sys)));
    }

    /// Goal: RPC version 3 yields RpcMismatch with the xid; a reply is not a call.
    #[test]
    fn version_and_type_errors() {
        let mut w = Writer::new();
        w.u32(9);
        w.u32(CALL);
        w.u32(3);
        assert_eq!(
            decode_call(w.as_slice()),
            Err(CallError::RpcMismatch { xid: Xid(9) })
        );
        let mut w = Writer::new();
        encode_accepted(&mut w, Xid(1), AcceptStat::SUCCESS);
        assert_eq!(decode_call(w.as_slice()), Err(CallError::NotACall));
    }

    /// Goal: more than 16 gids or an over-long machine name is a bad credential.
    #[test]
    fn auth_sys_limits() {
        let sys = AuthSys {
            stamp: 0,
            machine_name: vec![],
            uid: 0,
            gid: 0,
            gids: vec![1; 17],
        };
        assert!(AuthSys::decode(&sys.to_body()).is_err());
        let sys = AuthSys {
            stamp: 0,
            machine_name: vec![b'a'; 256],
            uid: 0,
            gid: 0,
            gids: vec![],
        };
        assert!(AuthSys::decode(&sys.to_body()).is_err());
    }

    fn status() -> impl Strategy<Value = ReplyStatus> {
        prop_oneof![
            (0u32..8)
                .prop_filter("not mismatch", |s| *s != 2)
                .prop_map(|s| ReplyStatus::Accepted(AcceptStat(s))),
            (any::<u32>(), any::<u32>())
                .prop_map(|(low, high)| ReplyStatus::ProgMismatch { low, high }),
            (any::<u32>(), any::<u32>())
                .prop_map(|(low, high)| ReplyStatus::RpcMismatch { low, high }),
            any::<u32>().prop_map(|s| ReplyStatus::AuthError(AuthStat(s))),
        ]
    }

    proptest! {
        /// Goal: every reply shape round-trips through the encoders and decode_reply.
        #[test]
        fn reply_round_trip(xid in any::<u32>(), st in status()) {
            let xid = Xid(xid);
            let mut w = Writer::new();
            match st {
                ReplyStatus::Accepted(s) => encode_accepted(&mut w, xid, s),
                ReplyStatus::ProgMismatch { low, high } => encode_prog_mismatch(&mut w, xid, low, high),
                ReplyStatus::RpcMismatch { low, high } => encode_rpc_mismatch(&mut w, xid, low, high),
                ReplyStatus::AuthError(s) => encode_auth_error(&mut w, xid, s),
            }
            let got = decode_reply(w.as_slice()).unwrap();
            prop_assert_eq!(got.xid, xid);
            prop_assert_eq!(got.status, st);
        }

        /// Goal: AUTH_SYS round-trips for every valid shape.
        #[test]
        fn auth_sys_round_trip(stamp in any::<u32>(), name in proptest::collection::vec(any::<u8>(), 0..=255),
                               uid in any::<u32>(), gid in any::<u32>(),
                               gids in proptest::collection::vec(any::<u32>(), 0..=16)) {
            let s = AuthSys { stamp, machine_name: name, uid, gid, gids };
            prop_assert_eq!(AuthSys::decode(&s.to_body()), Ok(s));
        }

        /// Goal: random bytes never panic the call or reply decoders.
        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok((c, _)) = decode_call(&data) {
                let _ = Credentials::from_call(&c);
            }
            let _ = decode_reply(&data);
        }
    }
}
