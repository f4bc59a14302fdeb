//! ONC RPC version 2 (RFC 5531): call and reply messages, AUTH_NONE and AUTH_SYS credentials,
//! and TCP record marking.
//!
//! A server reads records with [`RecordDecoder`], splits each into a [`CallHeader`] and the
//! procedure's argument bytes with [`decode_call`], turns the credential into [`Credentials`]
//! (or an [`AuthStat`] to deny the call with), and writes replies with [`encode_reply`] or the
//! `encode_*` shorthands, framed by [`record_header`]. When [`decode_call`] fails,
//! [`CallError::reply`] says whether and how to answer. Clients (the simulator, tests) go the
//! other way with [`encode_call`] and [`decode_reply`].
//!
//! Layout:
//! - [`record`]: record marking (RFC 5531 §11) and [`FrameError`].
//! - [`auth`]: `opaque_auth`, AUTH_SYS and the server's credential policy.
//! - this module: the message header (RFC 5531 §9).

pub mod auth;
pub mod record;

pub use self::auth::{AuthFlavor, AuthStat, AuthSys, Credentials, OpaqueAuth};
pub use self::record::{FrameError, RecordDecoder, encode_record, record_header};
use crate::wire::{Decode, DecodeError, Encode, open_set};
use crate::xdr::{Reader, Writer};

/// RFC 5531 §9: the only RPC protocol version; `rpcvers` must be 2, and RPC_MISMATCH replies
/// give 2 as both ends of the supported range.
pub const RPC_VERSION: u32 = 2;

/// RFC 5531 §9 `xid`: a transaction id the client chooses and the reply echoes. Clients use
/// it to match replies to calls; the server's duplicate request cache keys on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Xid(pub u32);

/// RFC 5531 §9 `msg_type`: whether a message is a call or a reply. A closed set: any other
/// value is not an RPC message.
#[doc(alias = "msg_type")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum MsgType {
    /// A call (`CALL`).
    Call = 0,
    /// A reply (`REPLY`).
    Reply = 1,
}

impl MsgType {
    /// The message type with wire value `v`, if RFC 5531 defines one.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::Call),
            1 => Some(Self::Reply),
            _ => None,
        }
    }
}

/// RFC 5531 §9 `reply_stat`: whether the server accepted the call's RPC version and
/// credentials. A closed set.
#[doc(alias = "reply_stat")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ReplyStat {
    /// `MSG_ACCEPTED`: an `accepted_reply` follows.
    #[doc(alias = "MSG_ACCEPTED")]
    Accepted = 0,
    /// `MSG_DENIED`: a `rejected_reply` follows.
    #[doc(alias = "MSG_DENIED")]
    Denied = 1,
}

impl ReplyStat {
    /// The reply status with wire value `v`, if RFC 5531 defines one.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::Accepted),
            1 => Some(Self::Denied),
            _ => None,
        }
    }
}

/// RFC 5531 §9 `reject_stat`: why a call was denied. A closed set.
#[doc(alias = "reject_stat")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum RejectStat {
    /// `RPC_MISMATCH`: the RPC version is not 2; the supported range follows.
    RpcMismatch = 0,
    /// `AUTH_ERROR`: the credentials were refused; an [`AuthStat`] follows.
    AuthError = 1,
}

impl RejectStat {
    /// The reject status with wire value `v`, if RFC 5531 defines one.
    pub const fn from_u32(v: u32) -> Option<Self> {
        match v {
            0 => Some(Self::RpcMismatch),
            1 => Some(Self::AuthError),
            _ => None,
        }
    }
}

open_set! {
    /// RFC 5531 §9 `accept_stat`: the outcome of a call the server accepted. A newtype so a
    /// client can report a status a newer server sends.
    #[doc(alias = "accept_stat")]
    AcceptStat, "accept_stat" {
        /// The procedure ran; its results follow.
        SUCCESS = 0;
        /// The program is not served here.
        PROG_UNAVAIL = 1;
        /// The program version is not served; the supported range follows. Write it with
        /// [`encode_prog_mismatch`], never [`encode_accepted`].
        PROG_MISMATCH = 2;
        /// The program has no such procedure.
        PROC_UNAVAIL = 3;
        /// The procedure's arguments could not be decoded.
        GARBAGE_ARGS = 4;
        /// A server error, e.g. memory allocation failure.
        SYSTEM_ERR = 5;
    }
}

/// RFC 5531 §9 `call_body`, with the `xid` and message type of its `rpc_msg`: everything in a
/// call before the procedure's arguments. Borrows the credential bodies from the record.
#[doc(alias = "call_body", alias = "rpc_msg")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallHeader<'a> {
    /// Transaction id.
    pub xid: Xid,
    /// RPC version; [`decode_call`] only returns headers where this is [`RPC_VERSION`].
    pub rpcvers: u32,
    /// Program number (100003 NFS, 100005 MOUNT, 100000 portmapper).
    pub prog: u32,
    /// Program version.
    pub vers: u32,
    /// Procedure number within the program version.
    pub proc_: u32,
    /// The caller's credential.
    pub cred: OpaqueAuth<'a>,
    /// The caller's verifier.
    pub verf: OpaqueAuth<'a>,
}

impl<'a> CallHeader<'a> {
    /// A version-2 call header with an AUTH_NONE verifier, as AUTH_NONE and AUTH_SYS clients
    /// send.
    pub const fn new(xid: Xid, prog: u32, vers: u32, proc_: u32, cred: OpaqueAuth<'a>) -> Self {
        Self {
            xid,
            rpcvers: RPC_VERSION,
            prog,
            vers,
            proc_,
            cred,
            verf: OpaqueAuth::NONE,
        }
    }
}

impl Encode for CallHeader<'_> {
    fn encode(&self, w: &mut Writer) {
        encode_call(w, self);
    }
}

/// Why a record is not a call the server can execute, and so what (if anything) to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CallError {
    /// Shorter than an xid and a message type: nothing identifies it as a call, so it is
    /// dropped.
    #[error("record too short for an RPC header")]
    Truncated,
    /// A REPLY (or an unknown message type) sent to the server: dropped, since answering a
    /// reply could start two peers answering each other forever.
    #[error("not a CALL message")]
    NotACall,
    /// `rpcvers` is not 2: answer RPC_MISMATCH with 2..=2 (RFC 5531 §9).
    #[error("RPC version is not 2")]
    RpcMismatch {
        /// The call's xid.
        xid: Xid,
    },
    /// A call whose header after the version (program, version, procedure, credential,
    /// verifier) does not decode: answer GARBAGE_ARGS, as the Linux server does.
    #[error("undecodable call header: {error}")]
    Garbage {
        /// The call's xid. Always present from [`decode_call`]; optional so a caller that
        /// fails earlier can still use this variant.
        xid: Option<Xid>,
        /// What was wrong.
        error: DecodeError,
    },
}

impl CallError {
    /// The xid of the offending call, when it was a call and its xid could be read.
    pub const fn xid(&self) -> Option<Xid> {
        match self {
            Self::Truncated | Self::NotACall => None,
            Self::RpcMismatch { xid } => Some(*xid),
            Self::Garbage { xid, .. } => *xid,
        }
    }

    /// The reply to send, if any: `(xid, status)` for [`encode_reply`]. `None` means drop
    /// the record without answering.
    pub const fn reply(&self) -> Option<(Xid, ReplyStatus)> {
        match self {
            Self::Truncated | Self::NotACall | Self::Garbage { xid: None, .. } => None,
            Self::RpcMismatch { xid } => Some((
                *xid,
                ReplyStatus::RpcMismatch {
                    low: RPC_VERSION,
                    high: RPC_VERSION,
                },
            )),
            Self::Garbage { xid: Some(xid), .. } => {
                Some((*xid, ReplyStatus::Accepted(AcceptStat::GARBAGE_ARGS)))
            }
        }
    }
}

/// Decodes a call's header (RFC 5531 §9) from one record; returns it and the procedure's
/// argument bytes, which the program's own decoder must consume exactly.
///
/// Only a version-2 call is returned; see [`CallError`] for the rest. The credential bodies
/// are only bounded here (400 bytes); [`Credentials::from_call`] interprets them.
pub fn decode_call(record: &[u8]) -> Result<(CallHeader<'_>, &[u8]), CallError> {
    let mut r = Reader::new(record);
    let (Ok(xid), Ok(mtype)) = (r.u32("xid"), r.u32("msg_type")) else {
        return Err(CallError::Truncated);
    };
    let xid = Xid(xid);
    if MsgType::from_u32(mtype) != Some(MsgType::Call) {
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
    let cred = OpaqueAuth::decode_named(&mut r, "cred").map_err(garbage)?;
    let verf = OpaqueAuth::decode_named(&mut r, "verf").map_err(garbage)?;
    let header = CallHeader {
        xid,
        rpcvers,
        prog,
        vers,
        proc_,
        cred,
        verf,
    };
    Ok((header, r.rest()))
}

/// Writes a call's header (RFC 5531 §9); the caller appends the procedure's arguments.
pub fn encode_call(w: &mut Writer, call: &CallHeader<'_>) {
    w.u32(call.xid.0);
    w.u32(MsgType::Call as u32);
    w.u32(call.rpcvers);
    w.u32(call.prog);
    w.u32(call.vers);
    w.u32(call.proc_);
    call.cred.encode(w);
    call.verf.encode(w);
}

/// What a reply says (RFC 5531 §9 `reply_body`), without the procedure's results.
#[doc(
    alias = "reply_body",
    alias = "accepted_reply",
    alias = "rejected_reply"
)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyStatus {
    /// MSG_ACCEPTED with this status; for SUCCESS the results follow. Never PROG_MISMATCH,
    /// which carries a range and is [`ReplyStatus::ProgMismatch`].
    Accepted(AcceptStat),
    /// MSG_ACCEPTED, PROG_MISMATCH: the program versions the server supports.
    ProgMismatch {
        /// Lowest supported version.
        low: u32,
        /// Highest supported version.
        high: u32,
    },
    /// MSG_DENIED, RPC_MISMATCH: the RPC versions the server supports.
    RpcMismatch {
        /// Lowest supported version.
        low: u32,
        /// Highest supported version.
        high: u32,
    },
    /// MSG_DENIED, AUTH_ERROR: why the credentials were refused.
    AuthError(AuthStat),
}

impl ReplyStatus {
    /// Whether the procedure ran and its results follow.
    pub const fn is_success(&self) -> bool {
        matches!(self, Self::Accepted(AcceptStat::SUCCESS))
    }
}

/// Writes a reply header (RFC 5531 §9) with `status`; for a SUCCESS the caller appends the
/// procedure's results. Accepted replies carry an AUTH_NONE verifier: this server issues no
/// verifiers.
///
/// # Panics
/// On `Accepted(PROG_MISMATCH)`, which cannot be encoded without its range (a local bug).
pub fn encode_reply(w: &mut Writer, xid: Xid, status: ReplyStatus) {
    w.u32(xid.0);
    w.u32(MsgType::Reply as u32);
    match status {
        ReplyStatus::Accepted(stat) => {
            assert_ne!(
                stat,
                AcceptStat::PROG_MISMATCH,
                "PROG_MISMATCH needs its version range: use ReplyStatus::ProgMismatch"
            );
            accepted_head(w);
            stat.encode(w);
        }
        ReplyStatus::ProgMismatch { low, high } => {
            accepted_head(w);
            AcceptStat::PROG_MISMATCH.encode(w);
            w.u32(low);
            w.u32(high);
        }
        ReplyStatus::RpcMismatch { low, high } => {
            w.u32(ReplyStat::Denied as u32);
            w.u32(RejectStat::RpcMismatch as u32);
            w.u32(low);
            w.u32(high);
        }
        ReplyStatus::AuthError(stat) => {
            w.u32(ReplyStat::Denied as u32);
            w.u32(RejectStat::AuthError as u32);
            stat.encode(w);
        }
    }
}

/// The part of an accepted reply between the message type and the `accept_stat`.
fn accepted_head(w: &mut Writer) {
    w.u32(ReplyStat::Accepted as u32);
    OpaqueAuth::NONE.encode(w);
}

/// An accepted reply with `stat`: SUCCESS (the caller appends the results), PROG_UNAVAIL,
/// PROC_UNAVAIL, GARBAGE_ARGS or SYSTEM_ERR. PROG_MISMATCH needs its range: use
/// [`encode_prog_mismatch`].
///
/// # Panics
/// On PROG_MISMATCH (a local bug).
pub fn encode_accepted(w: &mut Writer, xid: Xid, stat: AcceptStat) {
    encode_reply(w, xid, ReplyStatus::Accepted(stat));
}

/// An accepted reply with PROG_MISMATCH and the supported program version range.
pub fn encode_prog_mismatch(w: &mut Writer, xid: Xid, low: u32, high: u32) {
    encode_reply(w, xid, ReplyStatus::ProgMismatch { low, high });
}

/// A denied reply: RPC_MISMATCH with the supported RPC version range (2..=2 here).
pub fn encode_rpc_mismatch(w: &mut Writer, xid: Xid, low: u32, high: u32) {
    encode_reply(w, xid, ReplyStatus::RpcMismatch { low, high });
}

/// A denied reply: AUTH_ERROR with `stat`.
pub fn encode_auth_error(w: &mut Writer, xid: Xid, stat: AuthStat) {
    encode_reply(w, xid, ReplyStatus::AuthError(stat));
}

/// A decoded reply header (for clients).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyHeader<'a> {
    /// The xid being answered.
    pub xid: Xid,
    /// The outcome.
    pub status: ReplyStatus,
    /// The procedure's results: the rest of the record for SUCCESS, empty otherwise.
    pub body: &'a [u8],
}

/// Decodes a reply message (RFC 5531 §9). The verifier of an accepted reply is checked for
/// length and skipped: the clients built on this crate use AUTH_NONE and AUTH_SYS, whose
/// replies carry AUTH_NONE verifiers. Anything after a non-SUCCESS reply is refused.
pub fn decode_reply(record: &[u8]) -> Result<ReplyHeader<'_>, DecodeError> {
    let mut r = Reader::new(record);
    let xid = Xid(r.u32("xid")?);
    let mtype = r.u32("msg_type")?;
    if MsgType::from_u32(mtype) != Some(MsgType::Reply) {
        return Err(invalid("msg_type", mtype));
    }
    let reply_stat = r.u32("reply_stat")?;
    let status = match ReplyStat::from_u32(reply_stat) {
        Some(ReplyStat::Accepted) => {
            OpaqueAuth::decode_named(&mut r, "verf")?;
            match AcceptStat::decode(&mut r)? {
                AcceptStat::PROG_MISMATCH => ReplyStatus::ProgMismatch {
                    low: r.u32("mismatch_info.low")?,
                    high: r.u32("mismatch_info.high")?,
                },
                stat => ReplyStatus::Accepted(stat),
            }
        }
        Some(ReplyStat::Denied) => {
            let reject_stat = r.u32("reject_stat")?;
            match RejectStat::from_u32(reject_stat) {
                Some(RejectStat::RpcMismatch) => ReplyStatus::RpcMismatch {
                    low: r.u32("mismatch_info.low")?,
                    high: r.u32("mismatch_info.high")?,
                },
                Some(RejectStat::AuthError) => ReplyStatus::AuthError(AuthStat::decode(&mut r)?),
                None => return Err(invalid("reject_stat", reject_stat)),
            }
        }
        None => return Err(invalid("reply_stat", reply_stat)),
    };
    if !status.is_success() {
        r.finish("rpc reply")?;
    }
    Ok(ReplyHeader {
        xid,
        status,
        body: r.rest(),
    })
}

fn invalid(field: &'static str, value: u32) -> DecodeError {
    DecodeError::InvalidValue {
        field,
        value: u64::from(value),
    }
}

#[cfg(test)]
mod tests {
    use bytes::BytesMut;
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::wire::limits;

    /// A NULL call to NFSv3 with AUTH_SYS (uid 0, gid 0, groups [0], machine "client1"), as
    /// a Linux client sends it when probing a server, record marking included.
    const NULL_CALL_HEX: &str = concat!(
        "80000048", // last fragment, 72 bytes
        "5f3a9c01", // xid
        "00000000", // CALL
        "00000002", // rpcvers
        "000186a3", // prog 100003
        "00000003", // vers 3
        "00000000", // proc NULL
        "00000001", "00000020", // cred: AUTH_SYS, 32 bytes
        "65f1c2a8", // stamp
        "00000007", "636c6965", "6e743100", // "client1" + padding
        "00000000", "00000000", // uid, gid
        "00000001", "00000000", // gids: [0]
        "00000000", "00000000", // verf: AUTH_NONE, empty
    );

    /// Goal: a captured-shape NULL call goes through framing, header decoding and the
    /// credential policy, and the SUCCESS reply is byte-exact. Method: hex fixtures.
    #[test]
    fn null_call_fixture() {
        let wire = hex::decode(NULL_CALL_HEX).unwrap();
        let mut buf = BytesMut::from(&wire[..]);
        let record = RecordDecoder::new().decode(&mut buf).unwrap().unwrap();
        assert!(buf.is_empty());
        let (call, args) = decode_call(&record).unwrap();
        assert_eq!(call.xid, Xid(0x5f3a_9c01));
        assert_eq!(
            (call.rpcvers, call.prog, call.vers, call.proc_),
            (2, 100_003, 3, 0)
        );
        assert_eq!(call.cred.flavor, AuthFlavor::AUTH_SYS);
        assert_eq!(call.verf, OpaqueAuth::NONE);
        assert!(args.is_empty());
        let Ok(Credentials::Sys(sys)) = Credentials::from_call(&call) else {
            panic!("AUTH_SYS expected");
        };
        assert_eq!((sys.uid, sys.gid, &sys.gids[..]), (0, 0, &[0][..]));
        assert_eq!(sys.machine_name, b"client1");
        assert_eq!(crate::wire::encode_to_vec(&call), &wire[4..]);

        let mut w = Writer::new();
        encode_accepted(&mut w, call.xid, AcceptStat::SUCCESS);
        let reply = encode_record(w.as_slice());
        let want = concat!(
            "80000018", // last fragment, 24 bytes
            "5f3a9c01", "00000001", // xid, REPLY
            "00000000", // MSG_ACCEPTED
            "00000000", "00000000", // verf: AUTH_NONE, empty
            "00000000", // SUCCESS
        );
        assert_eq!(hex::encode(reply), want);
    }

    /// Goal: each broken header maps to the documented CallError and reply.
    #[test]
    fn call_errors() {
        assert_eq!(decode_call(&[0; 7]), Err(CallError::Truncated));

        let mut w = Writer::new();
        encode_accepted(&mut w, Xid(1), AcceptStat::SUCCESS);
        assert_eq!(decode_call(w.as_slice()), Err(CallError::NotACall));
        assert_eq!(
            decode_call(&hex::decode("0000000100000002").unwrap()),
            Err(CallError::NotACall)
        );

        let v3 = hex::decode("000000090000000000000003").unwrap();
        let err = decode_call(&v3).unwrap_err();
        assert_eq!(err, CallError::RpcMismatch { xid: Xid(9) });
        assert_eq!(
            err.reply(),
            Some((Xid(9), ReplyStatus::RpcMismatch { low: 2, high: 2 }))
        );

        // Version 2 but the header stops after the procedure number.
        let short = hex::decode("0000000a00000000000000020001869f0000000300000000").unwrap();
        let err = decode_call(&short).unwrap_err();
        assert!(matches!(
            err,
            CallError::Garbage {
                xid: Some(Xid(10)),
                ..
            }
        ));
        assert_eq!(
            err.reply(),
            Some((Xid(10), ReplyStatus::Accepted(AcceptStat::GARBAGE_ARGS)))
        );
        assert_eq!(CallError::NotACall.reply(), None);
        assert_eq!(CallError::Truncated.xid(), None);
    }

    /// Goal: a credential body longer than 400 bytes is refused on its length word.
    #[test]
    fn oversized_credential_is_garbage() {
        let mut w = Writer::new();
        w.raw(&hex::decode("0000000b00000000000000020001869f0000000300000000").unwrap());
        w.u32(1);
        w.u32(401);
        assert_eq!(
            decode_call(w.as_slice()),
            Err(CallError::Garbage {
                xid: Some(Xid(11)),
                error: DecodeError::TooLong {
                    field: "cred",
                    len: 401,
                    max: limits::AUTH_BODY_MAX as u64
                }
            })
        );
    }

    /// Goal: every reply shape has the bytes RFC 5531 §9 gives it. Method: hex fixtures.
    #[test]
    fn reply_fixtures() {
        let cases = [
            (
                ReplyStatus::Accepted(AcceptStat::PROC_UNAVAIL),
                "00000000000000000000000000000003",
            ),
            (
                ReplyStatus::ProgMismatch { low: 3, high: 3 },
                "000000000000000000000000000000020000000300000003",
            ),
            (
                ReplyStatus::RpcMismatch { low: 2, high: 2 },
                "00000001000000000000000200000002",
            ),
            (
                ReplyStatus::AuthError(AuthStat::TOOWEAK),
                "000000010000000100000005",
            ),
        ];
        for (status, tail) in cases {
            let mut w = Writer::new();
            encode_reply(&mut w, Xid(7), status);
            assert_eq!(hex::encode(w.as_slice()), format!("0000000700000001{tail}"));
            let got = decode_reply(w.as_slice()).unwrap();
            assert_eq!((got.xid, got.status, got.body), (Xid(7), status, &[][..]));
        }
    }

    /// Goal: decode_reply refuses bytes after a non-SUCCESS reply, and unknown discriminants.
    #[test]
    fn reply_strictness() {
        let mut w = Writer::new();
        encode_accepted(&mut w, Xid(1), AcceptStat::GARBAGE_ARGS);
        w.u32(0);
        assert!(matches!(
            decode_reply(w.as_slice()),
            Err(DecodeError::TrailingBytes { .. })
        ));
        let bad = hex::decode("000000010000000100000002").unwrap();
        assert_eq!(
            decode_reply(&bad),
            Err(DecodeError::InvalidValue {
                field: "reply_stat",
                value: 2
            })
        );
        let bad = hex::decode("00000001000000010000000100000002").unwrap();
        assert_eq!(
            decode_reply(&bad),
            Err(DecodeError::InvalidValue {
                field: "reject_stat",
                value: 2
            })
        );
        assert!(decode_reply(&hex::decode(&NULL_CALL_HEX[8..]).unwrap()).is_err());
    }

    /// Goal: encoding PROG_MISMATCH without its range is caught as the local bug it is.
    #[test]
    #[should_panic(expected = "PROG_MISMATCH needs its version range")]
    fn prog_mismatch_without_range_panics() {
        encode_accepted(&mut Writer::new(), Xid(1), AcceptStat::PROG_MISMATCH);
    }

    fn status() -> impl Strategy<Value = ReplyStatus> {
        prop_oneof![
            any::<u32>()
                .prop_filter("PROG_MISMATCH has its own variant", |s| *s != 2)
                .prop_map(|s| ReplyStatus::Accepted(AcceptStat(s))),
            (any::<u32>(), any::<u32>())
                .prop_map(|(low, high)| ReplyStatus::ProgMismatch { low, high }),
            (any::<u32>(), any::<u32>())
                .prop_map(|(low, high)| ReplyStatus::RpcMismatch { low, high }),
            any::<u32>().prop_map(|s| ReplyStatus::AuthError(AuthStat(s))),
        ]
    }

    proptest! {
        /// Goal: every reply shape round-trips through encode_reply and decode_reply, with the
        /// results of a SUCCESS left in the body.
        #[test]
        fn reply_round_trip(xid in any::<u32>(), st in status(), results in vec(any::<u8>(), 0..64)) {
            let xid = Xid(xid);
            let mut w = Writer::new();
            encode_reply(&mut w, xid, st);
            if st.is_success() {
                w.raw(&results);
            }
            let got = decode_reply(w.as_slice()).unwrap();
            prop_assert_eq!(got.xid, xid);
            prop_assert_eq!(got.status, st);
            prop_assert_eq!(got.body, if st.is_success() { &results[..] } else { &[][..] });
        }

        /// Goal: every call header round-trips through encode_call and decode_call, leaving
        /// the arguments untouched.
        #[test]
        fn call_round_trip(xid in any::<u32>(), prog in any::<u32>(), vers in any::<u32>(),
                           proc_ in any::<u32>(),
                           cred in (any::<u32>(), vec(any::<u8>(), 0..=400)),
                           verf in (any::<u32>(), vec(any::<u8>(), 0..=400)),
                           args in vec(any::<u8>(), 0..64)) {
            let mut call = CallHeader::new(Xid(xid), prog, vers, proc_, OpaqueAuth {
                flavor: AuthFlavor(cred.0),
                body: &cred.1,
            });
            call.verf = OpaqueAuth { flavor: AuthFlavor(verf.0), body: &verf.1 };
            let mut w = Writer::new();
            encode_call(&mut w, &call);
            w.raw(&args);
            let bytes = w.into_inner();
            let (got, got_args) = decode_call(&bytes).unwrap();
            prop_assert_eq!(got, call);
            prop_assert_eq!(got_args, &args[..]);
        }

        /// Goal: AUTH_SYS credentials survive a whole call and come back out of the policy.
        #[test]
        fn auth_sys_call_round_trip(sys in auth::tests::auth_sys()) {
            let body = sys.to_body();
            let call = CallHeader::new(Xid(1), 100_005, 3, 1, OpaqueAuth {
                flavor: AuthFlavor::AUTH_SYS,
                body: &body,
            });
            let bytes = crate::wire::encode_to_vec(&call);
            let (got, _) = decode_call(&bytes).unwrap();
            prop_assert_eq!(Credentials::from_call(&got), Ok(Credentials::Sys(sys)));
        }

        /// Goal: random bytes never panic the call or reply decoders or the credential policy.
        #[test]
        fn random_bytes_never_panic(data in vec(any::<u8>(), 0..256)) {
            match decode_call(&data) {
                Ok((c, _)) => {
                    let _ = Credentials::from_call(&c);
                }
                Err(e) => {
                    let _ = e.reply();
                }
            }
            let _ = decode_reply(&data);
        }

        /// Goal: random bytes behind a valid call prefix (the likeliest garbage) never panic.
        #[test]
        fn random_header_tail_never_panics(tail in vec(any::<u8>(), 0..128)) {
            let mut data = hex::decode("0000000c0000000000000002").unwrap();
            data.extend_from_slice(&tail);
            if let Ok((c, _)) = decode_call(&data) {
                let _ = Credentials::from_call(&c);
            }
        }
    }
}
