//! ONC RPC authentication (RFC 5531 §8.2, §10 and Appendix A): the `opaque_auth` carried by
//! every call and accepted reply, the AUTH_SYS credential body, and [`Credentials`], the one
//! place that decides which credentials the server accepts and which [`AuthStat`] it answers
//! the others with.

use crate::rpc::CallHeader;
use crate::wire::{Decode, DecodeError, Encode, limits, open_set};
use crate::xdr::{Reader, Writer};

open_set! {
    /// RFC 5531 §8.2 `auth_flavor`, with the values IANA registered since (RFC 5531 §13.1).
    /// A newtype because new flavors keep being registered and must survive a round trip.
    #[doc(alias = "auth_flavor")]
    AuthFlavor, "auth_flavor" {
        /// No authentication (RFC 5531 §10.1); also called AUTH_NULL.
        AUTH_NONE = 0;
        /// Unix-style uid, gid and groups (RFC 5531 Appendix A); also called AUTH_UNIX.
        AUTH_SYS = 1;
        /// A server-issued shorthand for an earlier AUTH_SYS credential (RFC 5531 Appendix A).
        AUTH_SHORT = 2;
        /// Diffie-Hellman, also called AUTH_DES (RFC 2695).
        AUTH_DH = 3;
        /// Kerberos 4 (RFC 2695).
        AUTH_KERB = 4;
        /// RSA authentication.
        AUTH_RSA = 5;
        /// RPCSEC_GSS (RFC 2203, RFC 5403).
        RPCSEC_GSS = 6;
        /// RPC-over-TLS probe (RFC 9289 §4.1).
        AUTH_TLS = 7;
    }
}

open_set! {
    /// RFC 5531 §9 `auth_stat`: why a call was denied with AUTH_ERROR. The Rust names drop the
    /// spec's `AUTH_` prefix, as [`crate::nfs3::NfsStat3`] drops `NFS3ERR_`.
    #[doc(alias = "auth_stat")]
    AuthStat, "auth_stat" {
        /// Success (never sent in an AUTH_ERROR reply).
        OK = 0, "AUTH_OK";
        /// The credential is malformed or its seal is broken.
        BADCRED = 1, "AUTH_BADCRED";
        /// The server rejected the credential; the client must begin a new session (for
        /// AUTH_SHORT: fall back to its full AUTH_SYS credential).
        REJECTEDCRED = 2, "AUTH_REJECTEDCRED";
        /// The verifier is malformed or its seal is broken.
        BADVERF = 3, "AUTH_BADVERF";
        /// The verifier expired or was replayed.
        REJECTEDVERF = 4, "AUTH_REJECTEDVERF";
        /// Rejected for security reasons: the flavor is not one the server accepts.
        TOOWEAK = 5, "AUTH_TOOWEAK";
        /// The client found the reply's verifier bogus (client side only).
        INVALIDRESP = 6, "AUTH_INVALIDRESP";
        /// An unknown failure (client side only).
        FAILED = 7, "AUTH_FAILED";
        /// Kerberos generic error.
        KERB_GENERIC = 8, "AUTH_KERB_GENERIC";
        /// The Kerberos credential expired.
        TIMEEXPIRE = 9, "AUTH_TIMEEXPIRE";
        /// A problem with the Kerberos ticket file.
        TKT_FILE = 10, "AUTH_TKT_FILE";
        /// The Kerberos authenticator could not be decoded.
        DECODE = 11, "AUTH_DECODE";
        /// Wrong network address in the Kerberos ticket.
        NET_ADDR = 12, "AUTH_NET_ADDR";
        /// RPCSEC_GSS: no credentials for the user.
        RPCSEC_GSS_CREDPROBLEM = 13;
        /// RPCSEC_GSS: the server has no such context.
        RPCSEC_GSS_CTXPROBLEM = 14;
    }
}

/// RFC 5531 §8.2 `opaque_auth`: a flavor and a body of at most [`limits::AUTH_BODY_MAX`]
/// (400) bytes, borrowed from the message.
#[doc(alias = "opaque_auth")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpaqueAuth<'a> {
    /// How to interpret `body`.
    pub flavor: AuthFlavor,
    /// The flavor-specific body; at most 400 bytes.
    pub body: &'a [u8],
}

impl<'a> OpaqueAuth<'a> {
    /// AUTH_NONE with an empty body (RFC 5531 §10.1), the verifier of every AUTH_NONE and
    /// AUTH_SYS call and of every reply this server sends.
    pub const NONE: Self = Self {
        flavor: AuthFlavor::AUTH_NONE,
        body: &[],
    };

    /// Reads an `opaque_auth`, naming `field` (`"cred"`, `"verf"`) in errors.
    pub fn decode_named(r: &mut Reader<'a>, field: &'static str) -> Result<Self, DecodeError> {
        let flavor = AuthFlavor(r.u32(field)?);
        let body = r.opaque(limits::AUTH_BODY_MAX, field)?;
        Ok(Self { flavor, body })
    }
}

impl<'a> Decode<'a> for OpaqueAuth<'a> {
    fn decode(r: &mut Reader<'a>) -> Result<Self, DecodeError> {
        Self::decode_named(r, "opaque_auth")
    }
}

impl Encode for OpaqueAuth<'_> {
    fn encode(&self, w: &mut Writer) {
        debug_assert!(
            self.body.len() <= limits::AUTH_BODY_MAX,
            "opaque_auth body over 400 bytes"
        );
        self.flavor.encode(w);
        w.opaque(self.body);
    }
}

/// RFC 5531 Appendix A `authsys_parms`: the body of an AUTH_SYS credential. Nothing in it is
/// verified; the server trusts it as far as the export's squash policy says.
#[doc(alias = "authsys_parms", alias = "authunix_parms")]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthSys {
    /// An arbitrary id the client chose.
    pub stamp: u32,
    /// The client's host name; at most [`limits::AUTH_MACHINE_NAME_MAX`] (255) bytes, not
    /// necessarily UTF-8.
    pub machine_name: Vec<u8>,
    /// Effective user id.
    pub uid: u32,
    /// Effective group id.
    pub gid: u32,
    /// Supplementary group ids; at most [`limits::AUTH_GIDS_MAX`] (16).
    pub gids: Vec<u32>,
}

impl AuthSys {
    /// Decodes a whole AUTH_SYS credential body: nothing may follow the parameters.
    pub fn from_body(body: &[u8]) -> Result<Self, DecodeError> {
        crate::wire::decode_exact(body, "authsys_parms")
    }

    /// The encoded credential body, ready for an [`OpaqueAuth`] with [`AuthFlavor::AUTH_SYS`].
    pub fn to_body(&self) -> Vec<u8> {
        crate::wire::encode_to_vec(self)
    }
}

impl Decode<'_> for AuthSys {
    fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
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
        Ok(Self {
            stamp,
            machine_name,
            uid,
            gid,
            gids,
        })
    }
}

impl Encode for AuthSys {
    fn encode(&self, w: &mut Writer) {
        debug_assert!(self.machine_name.len() <= limits::AUTH_MACHINE_NAME_MAX);
        debug_assert!(self.gids.len() <= limits::AUTH_GIDS_MAX);
        w.u32(self.stamp);
        w.string(&self.machine_name);
        w.u32(self.uid);
        w.u32(self.gid);
        w.u32(u32::try_from(self.gids.len()).expect("AUTH_SYS gids are bounded at 16"));
        for &g in &self.gids {
            w.u32(g);
        }
    }
}

/// The credentials a call may carry to this server, parsed from its `cred` and `verf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// AUTH_NONE: an anonymous caller (the export maps it to its anonymous uid/gid).
    None,
    /// AUTH_SYS: the uid, gid and groups the client claims.
    Sys(AuthSys),
}

impl Credentials {
    /// Interprets a call's credential and verifier, or gives the [`AuthStat`] to deny it with
    /// (an AUTH_ERROR reply, RFC 5531 §9):
    /// - a flavor other than AUTH_NONE, AUTH_SYS or AUTH_SHORT: [`AuthStat::TOOWEAK`], which
    ///   tells the client to pick another flavor from the list MOUNT gave it;
    /// - AUTH_SHORT: [`AuthStat::REJECTEDCRED`]; this server never issues shorthands, and the
    ///   client answers by resending its full AUTH_SYS credential (RFC 5531 Appendix A);
    /// - an AUTH_SYS body that does not decode, or an AUTH_NONE credential with a body (RFC
    ///   5531 §10.1 says it is empty): [`AuthStat::BADCRED`];
    /// - a verifier other than an empty AUTH_NONE, which is all AUTH_NONE and AUTH_SYS callers
    ///   send: [`AuthStat::BADVERF`].
    ///
    /// The credential is checked before the verifier so that an RPCSEC_GSS call, whose verifier
    /// is RPCSEC_GSS too, hears TOOWEAK rather than BADVERF.
    pub fn from_call(call: &CallHeader<'_>) -> Result<Self, AuthStat> {
        let creds = match call.cred.flavor {
            AuthFlavor::AUTH_NONE if call.cred.body.is_empty() => Self::None,
            AuthFlavor::AUTH_NONE => return Err(AuthStat::BADCRED),
            AuthFlavor::AUTH_SYS => AuthSys::from_body(call.cred.body)
                .map(Self::Sys)
                .map_err(|_| AuthStat::BADCRED)?,
            AuthFlavor::AUTH_SHORT => return Err(AuthStat::REJECTEDCRED),
            _ => return Err(AuthStat::TOOWEAK),
        };
        if call.verf != OpaqueAuth::NONE {
            return Err(AuthStat::BADVERF);
        }
        Ok(creds)
    }

    /// The flavor these credentials travel as.
    pub const fn flavor(&self) -> AuthFlavor {
        match self {
            Self::None => AuthFlavor::AUTH_NONE,
            Self::Sys(_) => AuthFlavor::AUTH_SYS,
        }
    }

    /// The credential body a client sends for these credentials (empty for AUTH_NONE).
    pub fn to_body(&self) -> Vec<u8> {
        match self {
            Self::None => Vec::new(),
            Self::Sys(sys) => sys.to_body(),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::rpc::Xid;

    fn call<'a>(cred: OpaqueAuth<'a>, verf: OpaqueAuth<'a>) -> CallHeader<'a> {
        CallHeader {
            xid: Xid(1),
            rpcvers: 2,
            prog: 100_003,
            vers: 3,
            proc_: 0,
            cred,
            verf,
        }
    }

    pub(crate) fn auth_sys() -> impl Strategy<Value = AuthSys> {
        (
            any::<u32>(),
            vec(any::<u8>(), 0..=limits::AUTH_MACHINE_NAME_MAX),
            any::<u32>(),
            any::<u32>(),
            vec(any::<u32>(), 0..=limits::AUTH_GIDS_MAX),
        )
            .prop_map(|(stamp, machine_name, uid, gid, gids)| AuthSys {
                stamp,
                machine_name,
                uid,
                gid,
                gids,
            })
    }

    /// Goal: an AUTH_SYS body as Linux writes it decodes field by field. Method: a hand-written
    /// hex fixture (stamp, "client1" padded to 8, uid 1000, gid 1000, two groups).
    #[test]
    fn auth_sys_fixture() {
        let hex = concat!(
            "5f3a9c01", // stamp
            "00000007", "636c6965", "6e743100", // "client1" + 1 byte of padding
            "000003e8", "000003e8", // uid, gid
            "00000002", "000003e8", "0000001b", // gids: 1000, 27
        );
        let body = hex::decode(hex).unwrap();
        let sys = AuthSys::from_body(&body).unwrap();
        assert_eq!(
            sys,
            AuthSys {
                stamp: 0x5f3a_9c01,
                machine_name: b"client1".to_vec(),
                uid: 1000,
                gid: 1000,
                gids: vec![1000, 27],
            }
        );
        assert_eq!(sys.to_body(), body);
        // A trailing word is refused rather than ignored.
        let mut long = body.clone();
        long.extend_from_slice(&[0; 4]);
        assert!(matches!(
            AuthSys::from_body(&long),
            Err(DecodeError::TrailingBytes { .. })
        ));
    }

    /// Goal: 17 groups or a 256-byte machine name are refused on their length words, before
    /// anything is allocated. Method: length words with no data behind them, so only the
    /// length check can produce `TooLong`.
    #[test]
    fn auth_sys_limits() {
        let mut w = Writer::new();
        w.u32(0);
        w.u32(256);
        assert!(matches!(
            AuthSys::from_body(w.as_slice()),
            Err(DecodeError::TooLong { len: 256, .. })
        ));
        let mut w = Writer::new();
        w.u32(0);
        w.opaque(b"h");
        w.u32(0);
        w.u32(0);
        w.u32(17);
        assert!(matches!(
            AuthSys::from_body(w.as_slice()),
            Err(DecodeError::TooLong { len: 17, .. })
        ));
    }

    /// Goal: every branch of the credential policy answers with the documented status.
    #[test]
    fn credential_policy() {
        let sys = AuthSys {
            stamp: 1,
            machine_name: b"vm".to_vec(),
            uid: 1000,
            gid: 100,
            gids: vec![100],
        };
        let body = sys.to_body();
        let sys_cred = OpaqueAuth {
            flavor: AuthFlavor::AUTH_SYS,
            body: &body,
        };
        let none = OpaqueAuth::NONE;
        assert_eq!(
            Credentials::from_call(&call(sys_cred, none)),
            Ok(Credentials::Sys(sys.clone()))
        );
        assert_eq!(
            Credentials::from_call(&call(none, none)),
            Ok(Credentials::None)
        );
        let with_body = |flavor, body| OpaqueAuth { flavor, body };
        let cases = [
            (
                with_body(AuthFlavor::AUTH_NONE, &[0u8; 4][..]),
                none,
                AuthStat::BADCRED,
            ),
            (
                with_body(AuthFlavor::AUTH_SYS, &body[..body.len() - 4]),
                none,
                AuthStat::BADCRED,
            ),
            (
                with_body(AuthFlavor::AUTH_SHORT, &[1u8; 8][..]),
                none,
                AuthStat::REJECTEDCRED,
            ),
            (
                with_body(AuthFlavor::AUTH_DH, &[][..]),
                none,
                AuthStat::TOOWEAK,
            ),
            (
                with_body(AuthFlavor::RPCSEC_GSS, &[][..]),
                with_body(AuthFlavor::RPCSEC_GSS, &[0u8; 4][..]),
                AuthStat::TOOWEAK,
            ),
            (with_body(AuthFlavor(999), &[][..]), none, AuthStat::TOOWEAK),
            (
                sys_cred,
                with_body(AuthFlavor::AUTH_SYS, &[][..]),
                AuthStat::BADVERF,
            ),
            (
                sys_cred,
                with_body(AuthFlavor::AUTH_NONE, &[0u8; 4][..]),
                AuthStat::BADVERF,
            ),
        ];
        for (cred, verf, want) in cases {
            assert_eq!(
                Credentials::from_call(&call(cred, verf)),
                Err(want),
                "{cred:?} {verf:?}"
            );
        }
        assert_eq!(Credentials::Sys(sys.clone()).to_body(), body);
        assert_eq!(Credentials::Sys(sys).flavor(), AuthFlavor::AUTH_SYS);
    }

    /// Goal: open sets print their spec names and keep unknown values.
    #[test]
    fn names() {
        assert_eq!(format!("{:?}", AuthStat::BADCRED), "AUTH_BADCRED");
        assert_eq!(format!("{}", AuthFlavor::AUTH_SYS), "AUTH_SYS");
        assert_eq!(format!("{:?}", AuthFlavor(400_000)), "AuthFlavor(400000)");
        assert_eq!(AuthStat(99).name(), None);
    }

    /// Goal: a 401-byte opaque_auth body is refused on its length word.
    #[test]
    fn opaque_auth_body_limit() {
        let mut w = Writer::new();
        w.u32(1);
        w.u32(401);
        let mut r = Reader::new(w.as_slice());
        assert_eq!(
            OpaqueAuth::decode_named(&mut r, "cred"),
            Err(DecodeError::TooLong {
                field: "cred",
                len: 401,
                max: 400
            })
        );
    }

    proptest! {
        /// Goal: AUTH_SYS bodies round-trip for every valid shape.
        #[test]
        fn auth_sys_round_trip(s in auth_sys()) {
            prop_assert_eq!(AuthSys::from_body(&s.to_body()), Ok(s));
        }

        /// Goal: opaque_auth round-trips for any flavor and any body up to 400 bytes.
        #[test]
        fn opaque_auth_round_trip(flavor in any::<u32>(), body in vec(any::<u8>(), 0..=400)) {
            let a = OpaqueAuth { flavor: AuthFlavor(flavor), body: &body };
            let bytes = crate::wire::encode_to_vec(&a);
            prop_assert_eq!(crate::wire::decode_exact::<OpaqueAuth<'_>>(&bytes, "opaque_auth"), Ok(a));
        }

        /// Goal: random credential bodies never panic the AUTH_SYS decoder.
        #[test]
        fn auth_sys_garbage(data in vec(any::<u8>(), 0..128)) {
            let _ = AuthSys::from_body(&data);
        }
    }
}
