//! SPNEGO (RFC 4178, with Microsoft's NegTokenInit2 from [MS-SPNG] 2.2.1), sans-IO: the
//! security blobs of SMB2 NEGOTIATE and SESSION_SETUP around NTLMSSP.
//!
//! ```text
//! InitialContextToken ::= [APPLICATION 0] IMPLICIT SEQUENCE {     -- RFC 2743 3.1
//!     thisMech MechType,                                         -- 1.3.6.1.5.5.2
//!     innerContextToken NegotiationToken }
//! NegotiationToken ::= CHOICE { negTokenInit [0] NegTokenInit, negTokenResp [1] NegTokenResp }
//! NegTokenInit ::= SEQUENCE { mechTypes [0] MechTypeList, reqFlags [1] ContextFlags OPTIONAL,
//!     mechToken [2] OCTET STRING OPTIONAL, mechListMIC [3] OCTET STRING OPTIONAL }
//! NegTokenInit2 ::= SEQUENCE { mechTypes [0] .., reqFlags [1] .., mechToken [2] ..,
//!     negHints [3] NegHints OPTIONAL, mechListMIC [4] OCTET STRING OPTIONAL }
//! NegHints ::= SEQUENCE { hintName [0] GeneralString OPTIONAL,
//!     hintAddress [1] OCTET STRING OPTIONAL }
//! NegTokenResp ::= SEQUENCE { negState [0] ENUMERATED OPTIONAL, supportedMech [1] MechType
//!     OPTIONAL, responseToken [2] OCTET STRING OPTIONAL, mechListMIC [3] OCTET STRING OPTIONAL }
//! ```
//! (explicit tags throughout). The client's first token is the GSS-wrapped negTokenInit, later
//! tokens in both directions are bare negTokenResp; the server's NEGOTIATE response carries a
//! GSS-wrapped NegTokenInit2 "hint" listing the mechanisms it offers ([`neg_token_init2_hint`]).
//! Some clients skip SPNEGO and send raw NTLMSSP; [`decode_token`] recognises that.
//!
//! Decoding is strict DER (lengths through the `der` crate: minimal, definite, at most 4
//! bytes), fields in order, no trailing bytes, so whatever decodes re-encodes to the same bytes.
//! That matters: the mechListMIC is computed over the exact DER of the client's mechTypes,
//! which [`NegTokenInit::mech_types_der`] keeps.

use der::asn1::ObjectIdentifier;
use der::{Decode, Length, SliceReader};

use crate::ntlm::{self, AuthError, Authenticated};
use crate::wire::DecodeError;

/// The SPNEGO mechanism, 1.3.6.1.5.5.2 (RFC 4178 3).
pub const SPNEGO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.2");
/// NTLMSSP, 1.3.6.1.4.1.311.2.2.10 ([MS-SPNG] 1.9).
pub const NTLMSSP: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.2.10");
/// Kerberos 5, 1.2.840.113554.1.2.2 (RFC 4121).
pub const KRB5: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113554.1.2.2");
/// Microsoft's Kerberos 5 OID, 1.2.840.48018.1.2.2 ([MS-SPNG] 1.9).
pub const MS_KRB5: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.48018.1.2.2");
/// NEGOEX, 1.3.6.1.4.1.311.2.2.30 ([MS-NEGOEX]).
pub const NEGOEX: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.311.2.2.30");

/// The hintName Windows servers send ([MS-SPNG] 3.2.5.2).
pub const HINT_NAME: &str = "not_defined_in_RFC4178@please_ignore";

/// Limits on a peer's SPNEGO token.
pub mod limits {
    /// A whole token: the SMB2 security blob limit.
    pub const TOKEN_MAX: usize = crate::smb2::limits::SECURITY_BLOB_MAX;
    /// Mechanisms in one mechTypes list (Windows sends four: MS-KRB5, KRB5, NEGOEX, NTLMSSP).
    pub const MECH_TYPES_MAX: usize = 32;
}

/// negState (RFC 4178 4.2.2): an ENUMERATED kept as its value so unknown ones round-trip.
/// Values are 0..=127 (one DER content byte).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct NegState(pub u8);

impl NegState {
    /// The context is established.
    pub const ACCEPT_COMPLETED: Self = Self(0);
    /// More tokens are needed.
    pub const ACCEPT_INCOMPLETE: Self = Self(1);
    /// Authentication failed.
    pub const REJECT: Self = Self(2);
    /// The acceptor chose a mechanism other than the initiator's first; a mechListMIC is
    /// required (RFC 4178 5).
    pub const REQUEST_MIC: Self = Self(3);
}

impl core::fmt::Debug for NegState {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            0 => f.write_str("accept-completed"),
            1 => f.write_str("accept-incomplete"),
            2 => f.write_str("reject"),
            3 => f.write_str("request-mic"),
            n => write!(f, "NegState({n})"),
        }
    }
}

/// NegHints ([MS-SPNG] 2.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegHints {
    /// hintName, a GeneralString (bytes; Windows sends [`HINT_NAME`] in Latin-1).
    pub hint_name: Option<Vec<u8>>,
    /// hintAddress (never sent by Windows).
    pub hint_address: Option<Vec<u8>>,
}

/// NegTokenInit (RFC 4178 4.2.1) or NegTokenInit2 ([MS-SPNG] 2.2.1), told apart by
/// `neg_hints`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NegTokenInit {
    /// The mechanisms offered, most preferred first. Never empty in a decoded token.
    pub mech_types: Vec<ObjectIdentifier>,
    /// The exact DER of mechTypes (the MechTypeList SEQUENCE, tag and length included), over
    /// which the mechListMIC is computed (RFC 4178 5). Filled by the decoder and
    /// [`NegTokenInit::new`]; the encoder writes `mech_types`.
    pub mech_types_der: Vec<u8>,
    /// reqFlags: the BIT STRING's content bytes (RFC 4178 says SHOULD be omitted).
    pub req_flags: Option<Vec<u8>>,
    /// The optimistic token of the first mechanism.
    pub mech_token: Option<Vec<u8>>,
    /// negHints (only in NegTokenInit2).
    pub neg_hints: Option<NegHints>,
    /// mechListMIC.
    pub mech_list_mic: Option<Vec<u8>>,
}

/// NegTokenResp (RFC 4178 4.2.2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NegTokenResp {
    /// negState (absent in the client's later tokens).
    pub neg_state: Option<NegState>,
    /// The mechanism the acceptor chose (first reply only).
    pub supported_mech: Option<ObjectIdentifier>,
    /// The mechanism's token.
    pub response_token: Option<Vec<u8>>,
    /// mechListMIC.
    pub mech_list_mic: Option<Vec<u8>>,
}

/// A security blob from a client, as [`decode_token`] classifies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token<'a> {
    /// Raw NTLMSSP without SPNEGO (starts with "NTLMSSP\0"): answer raw too.
    Ntlmssp(&'a [u8]),
    /// The GSS-wrapped negTokenInit that starts an exchange.
    Init(NegTokenInit),
    /// A negTokenResp continuing one.
    Resp(NegTokenResp),
}

/// Classifies and decodes a client's security blob: raw NTLMSSP, a GSS-wrapped negTokenInit
/// (`0x60`), or a negTokenResp (`0xa1`).
pub fn decode_token(blob: &[u8]) -> Result<Token<'_>, DecodeError> {
    if blob.starts_with(&ntlm::SIGNATURE) {
        return Ok(Token::Ntlmssp(blob));
    }
    match blob.first() {
        Some(&APPLICATION_0) => unwrap_initial(blob).map(Token::Init),
        Some(&CTX_1) => unwrap_resp(blob).map(Token::Resp),
        Some(&b) => Err(DecodeError::InvalidValue {
            field: "SPNEGO token tag",
            value: u64::from(b),
        }),
        None => Err(DecodeError::Truncated {
            field: "SPNEGO token",
        }),
    }
}

/// Decodes an InitialContextToken carrying a negTokenInit or NegTokenInit2: the client's
/// first SESSION_SETUP token, or (client side) the server's NEGOTIATE hint.
pub fn unwrap_initial(blob: &[u8]) -> Result<NegTokenInit, DecodeError> {
    check_size(blob)?;
    let mut top = Der::new(blob);
    let gss = top.expect(APPLICATION_0, "InitialContextToken")?;
    top.finish("InitialContextToken")?;
    let mut gss = Der::new(gss);
    let oid = gss.expect(TAG_OID, "thisMech")?;
    if oid != SPNEGO.as_bytes() {
        return Err(DecodeError::InvalidValue {
            field: "thisMech",
            value: oid.len() as u64,
        });
    }
    let init = gss.expect(CTX_0, "negTokenInit")?;
    gss.finish("InitialContextToken")?;
    let mut choice = Der::new(init);
    let seq = choice.expect(TAG_SEQUENCE, "NegTokenInit")?;
    choice.finish("negTokenInit")?;
    NegTokenInit::decode_fields(seq)
}

/// Decodes a bare negTokenResp.
pub fn unwrap_resp(blob: &[u8]) -> Result<NegTokenResp, DecodeError> {
    check_size(blob)?;
    let mut top = Der::new(blob);
    let resp = top.expect(CTX_1, "negTokenResp")?;
    top.finish("negTokenResp")?;
    let mut choice = Der::new(resp);
    let seq = choice.expect(TAG_SEQUENCE, "NegTokenResp")?;
    choice.finish("negTokenResp")?;
    NegTokenResp::decode_fields(seq)
}

/// The server's NEGOTIATE-response security blob: a NegTokenInit2 offering NTLMSSP with the
/// hint name Windows sends ([MS-SPNG] 3.2.5.2).
pub fn neg_token_init2_hint() -> Vec<u8> {
    NegTokenInit {
        neg_hints: Some(NegHints {
            hint_name: Some(HINT_NAME.as_bytes().to_vec()),
            hint_address: None,
        }),
        ..NegTokenInit::new(vec![NTLMSSP], None)
    }
    .encode()
}

/// The server's answer carrying the NTLM CHALLENGE: accept-incomplete, supportedMech NTLMSSP.
pub fn accept_incomplete(ntlm_challenge: &[u8]) -> Vec<u8> {
    NegTokenResp {
        neg_state: Some(NegState::ACCEPT_INCOMPLETE),
        supported_mech: Some(NTLMSSP),
        response_token: Some(ntlm_challenge.to_vec()),
        mech_list_mic: None,
    }
    .encode()
}

/// The server's final answer: accept-completed, with its mechListMIC when the client sent one
/// ([`crate::ntlm::Authenticated::server_mic`] over [`NegTokenInit::mech_types_der`]).
pub fn accept_completed(mech_list_mic: Option<[u8; 16]>) -> Vec<u8> {
    NegTokenResp {
        neg_state: Some(NegState::ACCEPT_COMPLETED),
        supported_mech: None,
        response_token: None,
        mech_list_mic: mech_list_mic.map(|m| m.to_vec()),
    }
    .encode()
}

/// The server's answer when the client's first mechanism is not NTLMSSP (a Kerberos
/// optimistic token, say) but NTLMSSP is on its list: request-mic with supportedMech NTLMSSP
/// and no token, as RFC 4178 5 prescribes; the client then sends its NTLM NEGOTIATE in a
/// negTokenResp.
pub fn request_mic_ntlm() -> Vec<u8> {
    NegTokenResp {
        neg_state: Some(NegState::REQUEST_MIC),
        supported_mech: Some(NTLMSSP),
        response_token: None,
        mech_list_mic: None,
    }
    .encode()
}

/// The server's answer to a failed authentication: reject.
pub fn reject() -> Vec<u8> {
    NegTokenResp {
        neg_state: Some(NegState::REJECT),
        ..NegTokenResp::default()
    }
    .encode()
}

/// The server side of one SESSION_SETUP authentication: SPNEGO (or raw NTLMSSP) around an
/// [`ntlm::Acceptor`]. Feed each security blob the client sends to [`Acceptor::step`]; answer
/// [`Step::Continue`] with STATUS_MORE_PROCESSING_REQUIRED and its blob, [`Step::Complete`]
/// with success (after the server's own checks on the user, e.g. whether anonymous or guest is
/// allowed) and its blob, and an error with [`AuthError::status`] and an empty blob.
///
/// Flows handled:
/// - raw NTLMSSP: NEGOTIATE → CHALLENGE, AUTHENTICATE → done (empty final blob);
/// - negTokenInit with NTLMSSP first and its NEGOTIATE as the optimistic token →
///   accept-incomplete + CHALLENGE; negTokenResp with the AUTHENTICATE → accept-completed;
/// - negTokenInit listing NTLMSSP but not first (Windows puts Kerberos first) → request-mic
///   with supportedMech NTLMSSP; the client sends the NEGOTIATE in a negTokenResp; then as
///   above, with the mechListMIC mandatory (RFC 4178 5).
///
/// The client's mechListMIC (over the exact DER of the mechTypes it sent) is checked whenever
/// it is present, and required when the NTLM AUTHENTICATE carried a MIC or the mechanism was
/// not the client's first choice; the final reply then carries the server's mechListMIC.
#[derive(Debug)]
pub struct Acceptor {
    ntlm: ntlm::Acceptor,
    state: AcceptorState,
}

#[derive(Debug)]
enum AcceptorState {
    Start,
    /// request-mic sent; the client's NEGOTIATE comes in a negTokenResp.
    AwaitNegotiate {
        mech_types_der: Vec<u8>,
    },
    /// CHALLENGE sent inside SPNEGO.
    AwaitAuthenticate {
        mech_types_der: Vec<u8>,
        mic_required: bool,
    },
    /// CHALLENGE sent raw.
    AwaitRawAuthenticate,
    Done,
}

/// What to answer after [`Acceptor::step`].
#[derive(Debug)]
pub enum Step {
    /// Send this blob with STATUS_MORE_PROCESSING_REQUIRED and wait for the next one.
    Continue(Vec<u8>),
    /// Authentication succeeded: send this blob (possibly empty) with the final response.
    Complete {
        /// The final security blob.
        blob: Vec<u8>,
        /// Who authenticated, and the session key.
        auth: Box<Authenticated>,
    },
}

impl Acceptor {
    /// Wraps an NTLM acceptor (which holds the server challenge, timestamp and names).
    pub fn new(ntlm: ntlm::Acceptor) -> Self {
        Self {
            ntlm,
            state: AcceptorState::Start,
        }
    }

    /// Processes the client's next security blob. `lookup(user, domain)` returns the NT hash
    /// of a user ([`ntlm::Acceptor::authenticate`]). Any error ends the exchange.
    pub fn step(
        &mut self,
        blob: &[u8],
        lookup: impl Fn(&str, &str) -> Option<[u8; 16]>,
    ) -> Result<Step, AuthError> {
        let state = core::mem::replace(&mut self.state, AcceptorState::Done);
        match (state, decode_token(blob)?) {
            (AcceptorState::Start, Token::Ntlmssp(negotiate)) => {
                let challenge = self.ntlm.challenge(negotiate)?;
                self.state = AcceptorState::AwaitRawAuthenticate;
                Ok(Step::Continue(challenge))
            }
            (AcceptorState::Start, Token::Init(init)) => {
                if let Some(negotiate) = init.ntlm_token() {
                    let challenge = self.ntlm.challenge(negotiate)?;
                    self.state = AcceptorState::AwaitAuthenticate {
                        mech_types_der: init.mech_types_der,
                        mic_required: false,
                    };
                    Ok(Step::Continue(accept_incomplete(&challenge)))
                } else if init.offers_ntlm() {
                    self.state = AcceptorState::AwaitNegotiate {
                        mech_types_der: init.mech_types_der,
                    };
                    Ok(Step::Continue(request_mic_ntlm()))
                } else {
                    Err(AuthError::NoCommonMechanism)
                }
            }
            (AcceptorState::AwaitNegotiate { mech_types_der }, Token::Resp(resp)) => {
                let negotiate = resp.response_token.ok_or(DecodeError::Truncated {
                    field: "responseToken",
                })?;
                let challenge = self.ntlm.challenge(&negotiate)?;
                self.state = AcceptorState::AwaitAuthenticate {
                    mech_types_der,
                    mic_required: true,
                };
                Ok(Step::Continue(
                    NegTokenResp {
                        neg_state: Some(NegState::ACCEPT_INCOMPLETE),
                        response_token: Some(challenge),
                        ..NegTokenResp::default()
                    }
                    .encode(),
                ))
            }
            (
                AcceptorState::AwaitAuthenticate {
                    mech_types_der,
                    mic_required,
                },
                Token::Resp(resp),
            ) => {
                let token = resp.response_token.ok_or(DecodeError::Truncated {
                    field: "responseToken",
                })?;
                let auth = self.ntlm.authenticate(&token, lookup)?;
                let reply_mic = match resp.mech_list_mic {
                    Some(mic) if !auth.anonymous => {
                        if !auth.verify_client_mic(&mech_types_der, &mic) {
                            return Err(AuthError::MicInvalid);
                        }
                        Some(auth.server_mic(&mech_types_der))
                    }
                    _ if !auth.anonymous && (mic_required || auth.mic_verified) => {
                        return Err(AuthError::MicInvalid);
                    }
                    _ => None,
                };
                Ok(Step::Complete {
                    blob: accept_completed(reply_mic),
                    auth: Box::new(auth),
                })
            }
            (AcceptorState::AwaitRawAuthenticate, Token::Ntlmssp(token)) => {
                let auth = self.ntlm.authenticate(token, lookup)?;
                Ok(Step::Complete {
                    blob: Vec::new(),
                    auth: Box::new(auth),
                })
            }
            _ => Err(AuthError::OutOfOrder),
        }
    }
}

impl NegTokenInit {
    /// A NegTokenInit offering `mech_types` with an optional optimistic token; fills
    /// `mech_types_der`.
    pub fn new(mech_types: Vec<ObjectIdentifier>, mech_token: Option<Vec<u8>>) -> Self {
        let mut t = Self {
            mech_types,
            mech_types_der: Vec::new(),
            req_flags: None,
            mech_token,
            neg_hints: None,
            mech_list_mic: None,
        };
        t.mech_types_der = t.encode_mech_types();
        t
    }

    /// The NTLMSSP token the client sent optimistically: `Some` only when NTLMSSP is its first
    /// (preferred) mechanism and a mechToken is present (RFC 4178 5: the token belongs to the
    /// first mechanism).
    pub fn ntlm_token(&self) -> Option<&[u8]> {
        (self.mech_types.first() == Some(&NTLMSSP))
            .then_some(self.mech_token.as_deref())
            .flatten()
    }

    /// NTLMSSP is among the mechanisms offered.
    pub fn offers_ntlm(&self) -> bool {
        self.mech_types.contains(&NTLMSSP)
    }

    /// The GSS-wrapped token: NegTokenInit2 layout when `neg_hints` is set (hints at `[3]`, MIC
    /// at `[4]`), plain NegTokenInit otherwise (MIC at `[3]`).
    pub fn encode(&self) -> Vec<u8> {
        let mut seq = Vec::new();
        if !self.mech_types.is_empty() {
            tlv(&mut seq, CTX_0, &self.encode_mech_types());
        }
        if let Some(f) = &self.req_flags {
            tlv(&mut seq, CTX_1, &wrap(TAG_BIT_STRING, f));
        }
        if let Some(t) = &self.mech_token {
            tlv(&mut seq, CTX_2, &wrap(TAG_OCTET_STRING, t));
        }
        let mic_tag = match &self.neg_hints {
            Some(h) => {
                let mut hints = Vec::new();
                if let Some(n) = &h.hint_name {
                    tlv(&mut hints, CTX_0, &wrap(TAG_GENERAL_STRING, n));
                }
                if let Some(a) = &h.hint_address {
                    tlv(&mut hints, CTX_1, &wrap(TAG_OCTET_STRING, a));
                }
                tlv(&mut seq, CTX_3, &wrap(TAG_SEQUENCE, &hints));
                CTX_4
            }
            None => CTX_3,
        };
        if let Some(m) = &self.mech_list_mic {
            tlv(&mut seq, mic_tag, &wrap(TAG_OCTET_STRING, m));
        }
        let mut gss = wrap(TAG_OID, SPNEGO.as_bytes());
        tlv(&mut gss, CTX_0, &wrap(TAG_SEQUENCE, &seq));
        wrap(APPLICATION_0, &gss)
    }

    fn encode_mech_types(&self) -> Vec<u8> {
        let mut list = Vec::new();
        for m in &self.mech_types {
            tlv(&mut list, TAG_OID, m.as_bytes());
        }
        wrap(TAG_SEQUENCE, &list)
    }

    fn decode_fields(seq: &[u8]) -> Result<Self, DecodeError> {
        let mut d = Der::new(seq);
        let mut t = Self {
            mech_types: Vec::new(),
            mech_types_der: Vec::new(),
            req_flags: None,
            mech_token: None,
            neg_hints: None,
            mech_list_mic: None,
        };
        let mut last: Option<u8> = None;
        while !d.is_empty() {
            let (tag, content, _) = d.any("NegTokenInit field")?;
            if last.is_some_and(|l| tag <= l) || t.mech_list_mic.is_some() {
                return Err(out_of_order(tag));
            }
            last = Some(tag);
            match tag {
                CTX_0 => {
                    let mut inner = Der::new(content);
                    let (list, whole) = inner.expect_whole(TAG_SEQUENCE, "mechTypes")?;
                    inner.finish("mechTypes")?;
                    t.mech_types = decode_mech_types(list)?;
                    t.mech_types_der = whole.to_vec();
                }
                CTX_1 => t.req_flags = Some(single(content, TAG_BIT_STRING, "reqFlags")?.to_vec()),
                CTX_2 => {
                    t.mech_token = Some(single(content, TAG_OCTET_STRING, "mechToken")?.to_vec())
                }
                CTX_3 => {
                    let mut inner = Der::new(content);
                    let (tag, value, _) = inner.any("negHints/mechListMIC")?;
                    inner.finish("negHints/mechListMIC")?;
                    match tag {
                        TAG_SEQUENCE => t.neg_hints = Some(decode_hints(value)?),
                        TAG_OCTET_STRING => t.mech_list_mic = Some(value.to_vec()),
                        other => return Err(out_of_order(other)),
                    }
                }
                // mechListMIC at [4] only in NegTokenInit2, that is after negHints.
                CTX_4 if t.neg_hints.is_some() => {
                    t.mech_list_mic =
                        Some(single(content, TAG_OCTET_STRING, "mechListMIC")?.to_vec());
                }
                other => return Err(out_of_order(other)),
            }
        }
        if t.mech_types.is_empty() {
            return Err(DecodeError::Truncated { field: "mechTypes" });
        }
        Ok(t)
    }
}

impl NegTokenResp {
    /// The bare negTokenResp (`0xa1 …`).
    pub fn encode(&self) -> Vec<u8> {
        let mut seq = Vec::new();
        if let Some(s) = self.neg_state {
            tlv(&mut seq, CTX_0, &wrap(TAG_ENUMERATED, &[s.0]));
        }
        if let Some(m) = &self.supported_mech {
            tlv(&mut seq, CTX_1, &wrap(TAG_OID, m.as_bytes()));
        }
        if let Some(t) = &self.response_token {
            tlv(&mut seq, CTX_2, &wrap(TAG_OCTET_STRING, t));
        }
        if let Some(m) = &self.mech_list_mic {
            tlv(&mut seq, CTX_3, &wrap(TAG_OCTET_STRING, m));
        }
        wrap(CTX_1, &wrap(TAG_SEQUENCE, &seq))
    }

    fn decode_fields(seq: &[u8]) -> Result<Self, DecodeError> {
        let mut d = Der::new(seq);
        let mut t = Self::default();
        let mut last: Option<u8> = None;
        while !d.is_empty() {
            let (tag, content, _) = d.any("NegTokenResp field")?;
            if last.is_some_and(|l| tag <= l) {
                return Err(out_of_order(tag));
            }
            last = Some(tag);
            match tag {
                CTX_0 => {
                    let v = single(content, TAG_ENUMERATED, "negState")?;
                    match v {
                        [b] if *b < 0x80 => t.neg_state = Some(NegState(*b)),
                        _ => {
                            return Err(DecodeError::InvalidValue {
                                field: "negState",
                                value: v.len() as u64,
                            });
                        }
                    }
                }
                CTX_1 => t.supported_mech = Some(oid(single(content, TAG_OID, "supportedMech")?)?),
                CTX_2 => {
                    t.response_token =
                        Some(single(content, TAG_OCTET_STRING, "responseToken")?.to_vec());
                }
                CTX_3 => {
                    t.mech_list_mic =
                        Some(single(content, TAG_OCTET_STRING, "mechListMIC")?.to_vec());
                }
                other => return Err(out_of_order(other)),
            }
        }
        Ok(t)
    }
}

/// Client-side helpers for the simulator's and tests' SMB clients.
pub mod client {
    use super::*;

    /// The client's first token: a NegTokenInit offering NTLMSSP with its NEGOTIATE as the
    /// optimistic token.
    pub fn init(ntlm_negotiate: &[u8]) -> NegTokenInit {
        NegTokenInit::new(vec![NTLMSSP], Some(ntlm_negotiate.to_vec()))
    }

    /// The client's second token: a negTokenResp carrying the NTLM AUTHENTICATE and the
    /// mechListMIC over the mechTypes it sent.
    pub fn resp(ntlm_authenticate: &[u8], mech_list_mic: Option<[u8; 16]>) -> Vec<u8> {
        NegTokenResp {
            neg_state: None,
            supported_mech: None,
            response_token: Some(ntlm_authenticate.to_vec()),
            mech_list_mic: mech_list_mic.map(|m| m.to_vec()),
        }
        .encode()
    }
}

// Identifier octets (X.690 8.1.2): universal, context-specific [n] constructed, [APPLICATION 0].
const TAG_BIT_STRING: u8 = 0x03;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_ENUMERATED: u8 = 0x0a;
const TAG_GENERAL_STRING: u8 = 0x1b;
const TAG_SEQUENCE: u8 = 0x30;
const APPLICATION_0: u8 = 0x60;
const CTX_0: u8 = 0xa0;
const CTX_1: u8 = 0xa1;
const CTX_2: u8 = 0xa2;
const CTX_3: u8 = 0xa3;
const CTX_4: u8 = 0xa4;

fn check_size(blob: &[u8]) -> Result<(), DecodeError> {
    if blob.len() > limits::TOKEN_MAX {
        return Err(DecodeError::TooLong {
            field: "SPNEGO token",
            len: blob.len() as u64,
            max: limits::TOKEN_MAX as u64,
        });
    }
    Ok(())
}

fn out_of_order(tag: u8) -> DecodeError {
    DecodeError::InvalidValue {
        field: "SPNEGO field tag",
        value: u64::from(tag),
    }
}

fn oid(content: &[u8]) -> Result<ObjectIdentifier, DecodeError> {
    ObjectIdentifier::from_bytes(content).map_err(|_| DecodeError::InvalidValue {
        field: "OBJECT IDENTIFIER",
        value: content.len() as u64,
    })
}

fn decode_mech_types(list: &[u8]) -> Result<Vec<ObjectIdentifier>, DecodeError> {
    let mut d = Der::new(list);
    let mut out = Vec::new();
    while !d.is_empty() {
        if out.len() == limits::MECH_TYPES_MAX {
            return Err(DecodeError::TooLong {
                field: "mechTypes",
                len: out.len() as u64 + 1,
                max: limits::MECH_TYPES_MAX as u64,
            });
        }
        out.push(oid(d.expect(TAG_OID, "MechType")?)?);
    }
    Ok(out)
}

fn decode_hints(seq: &[u8]) -> Result<NegHints, DecodeError> {
    let mut d = Der::new(seq);
    let mut h = NegHints {
        hint_name: None,
        hint_address: None,
    };
    let mut last: Option<u8> = None;
    while !d.is_empty() {
        let (tag, content, _) = d.any("NegHints field")?;
        if last.is_some_and(|l| tag <= l) {
            return Err(out_of_order(tag));
        }
        last = Some(tag);
        match tag {
            CTX_0 => h.hint_name = Some(single(content, TAG_GENERAL_STRING, "hintName")?.to_vec()),
            CTX_1 => {
                h.hint_address = Some(single(content, TAG_OCTET_STRING, "hintAddress")?.to_vec());
            }
            other => return Err(out_of_order(other)),
        }
    }
    Ok(h)
}

/// The content of the single TLV (with `tag`) that makes up `content` (an explicit tag's body).
fn single<'a>(content: &'a [u8], tag: u8, field: &'static str) -> Result<&'a [u8], DecodeError> {
    let mut d = Der::new(content);
    let v = d.expect(tag, field)?;
    d.finish(field)?;
    Ok(v)
}

/// A DER TLV reader over one level of nesting. Tags are single identifier octets read here (the
/// high-tag-number form never occurs in SPNEGO and is refused): `der` 0.7's `Tag` cannot
/// represent GeneralString (0x1b), which NegHints uses, and SPNEGO's explicit context tags are
/// simpler to walk by hand than through its derive-less API. Lengths are decoded by the `der`
/// crate, which refuses indefinite and non-minimal encodings; OIDs are validated by it too.
struct Der<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Der<'a> {
    const fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The next TLV: (tag, content, whole encoding).
    fn any(&mut self, field: &'static str) -> Result<(u8, &'a [u8], &'a [u8]), DecodeError> {
        let start = self.pos;
        let rest = self.buf.get(start..).unwrap_or_default();
        let (&tag, after_tag) = rest.split_first().ok_or(DecodeError::Truncated { field })?;
        if tag & 0x1f == 0x1f {
            return Err(DecodeError::InvalidValue {
                field,
                value: u64::from(tag),
            });
        }
        let bad_len = |_| DecodeError::InvalidValue {
            field,
            value: u64::from(tag),
        };
        let mut r = SliceReader::new(after_tag).map_err(bad_len)?;
        let len = Length::decode(&mut r).map_err(bad_len)?;
        let len_bytes = usize::try_from(der::Reader::position(&r)).map_err(bad_len)?;
        let len = usize::try_from(len).map_err(bad_len)?;
        let content_start = start + 1 + len_bytes;
        let end = content_start
            .checked_add(len)
            .filter(|&e| e <= self.buf.len())
            .ok_or(DecodeError::Truncated { field })?;
        self.pos = end;
        Ok((tag, &self.buf[content_start..end], &self.buf[start..end]))
    }

    /// The next TLV, which must have `tag`: its content.
    fn expect(&mut self, tag: u8, field: &'static str) -> Result<&'a [u8], DecodeError> {
        self.expect_whole(tag, field).map(|(c, _)| c)
    }

    /// The next TLV, which must have `tag`: its content and whole encoding.
    fn expect_whole(
        &mut self,
        tag: u8,
        field: &'static str,
    ) -> Result<(&'a [u8], &'a [u8]), DecodeError> {
        let (t, content, whole) = self.any(field)?;
        if t != tag {
            return Err(DecodeError::InvalidValue {
                field,
                value: u64::from(t),
            });
        }
        Ok((content, whole))
    }

    fn finish(&self, field: &'static str) -> Result<(), DecodeError> {
        match self.buf.len().saturating_sub(self.pos) {
            0 => Ok(()),
            count => Err(DecodeError::TrailingBytes { field, count }),
        }
    }
}

/// Appends a TLV with a minimal DER length (X.690 8.1.3, 10.1).
fn tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let be = (n as u64).to_be_bytes();
        let skip = be.iter().take_while(|&&b| b == 0).count();
        out.push(0x80 | (be.len() - skip) as u8);
        out.extend_from_slice(&be[skip..]);
    }
    out.extend_from_slice(content);
}

fn wrap(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(content.len() + 6);
    tlv(&mut v, tag, content);
    v
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::ntlm;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s.replace([' ', '\n'], "")).unwrap()
    }

    /// Goal: the client's first token has the layout Windows and Samba clients send (GSS
    /// wrapper, mechTypes [NTLMSSP], mechToken holding a 40-byte NEGOTIATE), byte for byte.
    #[test]
    fn client_init_layout() {
        let neg = ntlm::client::negotiate();
        assert_eq!(neg.len(), 40);
        let b = client::init(&neg).encode();
        let mut expected = h("6048 0606 2b0601050502 a03e 303c
                              a00e 300c 060a 2b06010401823702020a
                              a22a 0428");
        expected.extend_from_slice(&neg);
        assert_eq!(b, expected);
        let init = unwrap_initial(&b).unwrap();
        assert_eq!(init.mech_types, vec![NTLMSSP]);
        assert_eq!(init.mech_types_der, h("300c 060a 2b06010401823702020a"));
        assert_eq!(init.ntlm_token(), Some(neg.as_slice()));
        assert_eq!(decode_token(&b).unwrap(), Token::Init(init));
    }

    /// Goal: tokens captured from a Windows client and a Windows Server 2019 domain controller
    /// (published as test data in a Python SMB library) decode to what they hold and re-encode
    /// to the same bytes: the client's negTokenInit (inner token, here wrapped the way clients
    /// send it), the server's accept-incomplete carrying its NTLM CHALLENGE, and its final
    /// accept-completed with a mechListMIC.
    #[test]
    fn captured_windows_tokens() {
        let init = h("6048 0606 2b0601050502
            a03e303ca00e300c060a2b06010401823702020aa22a04284e544c4d5353500001000000978208e2
            000000000000000000000000000000000a00d73a0000000f");
        let t = unwrap_initial(&init).unwrap();
        assert_eq!(t.mech_types, vec![NTLMSSP]);
        let neg = ntlm::NegotiateMessage::decode(t.ntlm_token().unwrap()).unwrap();
        assert_eq!(neg.flags, ntlm::NegotiateFlags(0xe208_8297));
        assert_eq!(t.encode(), init);

        let resp = h(
            "a181ce3081cba0030a0101a10c060a2b06010401823702020aa281b50481b24e544c4d535350000200
            00000800080038000000158289e2a7314a557bdb11bf000000000000000072007200400000000a006345
            0000000f540045005300540002000800540045005300540001001200570049004e003200300031003900
            410044000400120074006500730074002e0063006f007200700003002600570049004e00320030003100
            3900410044002e0074006500730074002e0063006f007200700007000800aec600bfc5fdd40100000000",
        );
        let r = unwrap_resp(&resp).unwrap();
        assert_eq!(r.neg_state, Some(NegState::ACCEPT_INCOMPLETE));
        assert_eq!(r.supported_mech, Some(NTLMSSP));
        let ch = ntlm::ChallengeMessage::decode(r.response_token.as_deref().unwrap()).unwrap();
        assert_eq!(ch.target_name().unwrap(), "TEST");
        assert_eq!(
            ch.target_info
                .string(ntlm::AvId::DNS_COMPUTER_NAME)
                .as_deref(),
            Some("WIN2019AD.test.corp")
        );
        assert!(ch.target_info.timestamp().is_some());
        assert_eq!(r.encode(), resp);
        // Our client can answer a real server's CHALLENGE.
        let auth = ntlm::client::authenticate(
            r.response_token.as_deref().unwrap(),
            "u",
            "TEST",
            &ntlm::nt_hash("p"),
            [1; 8],
            0,
            [2; 16],
        )
        .unwrap();
        assert!(
            ntlm::AuthenticateMessage::decode(&auth.message)
                .unwrap()
                .mic
                .is_some()
        );

        let fin = h("a11b3019a0030a0100a3120410010000006b65125a00bb9ab400000000");
        let f = unwrap_resp(&fin).unwrap();
        assert_eq!(f.neg_state, Some(NegState::ACCEPT_COMPLETED));
        assert_eq!(f.mech_list_mic.as_ref().map(Vec::len), Some(16));
        assert_eq!(f.encode(), fin);
    }

    /// Goal: a Samba SMB2 server and smbclient exchange recorded on the wire (published as test
    /// data of a protocol analyser): Samba's NEGOTIATE hint is byte for byte ours; the client's
    /// init, the server's CHALLENGE, the client's AUTHENTICATE (MIC, mechListMIC) and the final
    /// accept-completed decode and re-encode unchanged.
    #[test]
    fn captured_samba_exchange() {
        let hint = h(
            "604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa32a3028a0261b246e6f74
            5f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265",
        );
        assert_eq!(neg_token_init2_hint(), hint);

        let init = h(
            "604806062b0601050502a03e303ca00e300c060a2b06010401823702020aa22a04284e544c4d5353
            5000010000001582086200000000280000000000000028000000060100000000000f",
        );
        let t = unwrap_initial(&init).unwrap();
        assert_eq!(t.encode(), init);
        let neg = ntlm::NegotiateMessage::decode(t.ntlm_token().unwrap()).unwrap();
        assert_eq!(neg.flags, ntlm::NegotiateFlags(0x6208_8215));

        let chal = h("a18181307fa0030a0101a10c060a2b06010401823702020aa26a04684e544c4d5353500002000000
            0400040038000000 15828a62ee340552f90ba10700000000000000002c002c003c000000060100000000000f
            56004d000200040056004d000100040056004d00040000000300040076006d0007000800f868ba594958dd01
            00000000");
        let r = unwrap_resp(&chal).unwrap();
        assert_eq!(r.encode(), chal);
        let ch = ntlm::ChallengeMessage::decode(r.response_token.as_deref().unwrap()).unwrap();
        assert_eq!(ch.target_name().unwrap(), "VM");
        assert_eq!(
            ch.target_info.get(ntlm::AvId::DNS_DOMAIN_NAME),
            Some(&[][..])
        );

        let auth = h("a182018830820184a282016c048201684e544c4d53535000030000001800180058000000c800c800
            700000000e000e00380100000e000e00460100000400040054010000100010005801000015820862060100
            000000000fd327069c6fddb85eb4dd53cb144fe11f00000000000000000000000000000000000000000000
            000016bed43b34365fb9f0a6ffc3180a232c0101000000000000f868ba594958dd01d323eaad736575e600
            0000000200040056004d000100040056004d00040000000300040076006d0007000800f868ba594958dd01
            06000400020000000800300030000000000000000000000000000000 2e70b67a5e83adfdaaa3277864ec56bc
            31b29d1ba1ee1f39b98239aa27a112510a00100000000000000000000000000000000000 09001c0063006900
            660073002f003100320037002e0030002e0030002e0031000000000054004500530054004700520050007300
            6d006200750073006500720056004d00e5593b35d2acf5ea96e39c192621b740a312041001000000 3ff2f9
            19270439aa00000000");
        let Token::Resp(r) = decode_token(&auth).unwrap() else {
            panic!("a negTokenResp")
        };
        assert_eq!(r.neg_state, None);
        assert_eq!(r.encode(), auth);
        assert_eq!(r.mech_list_mic.as_ref().map(Vec::len), Some(16));
        let a = ntlm::AuthenticateMessage::decode(r.response_token.as_deref().unwrap()).unwrap();
        assert_eq!((a.user.as_str(), a.domain.as_str()), ("smbuser", "TESTGRP"));
        assert!(a.mic.is_some());
        let v2 = ntlm::NtlmV2Response::decode(&a.nt_response).unwrap();
        assert_eq!(v2.av_pairs.flags(), Some(ntlm::AV_FLAG_MIC_PRESENT));
        assert_eq!(
            v2.av_pairs.string(ntlm::AvId::TARGET_NAME).as_deref(),
            Some("cifs/127.0.0.1")
        );

        let fin = h("a11b3019a0030a0100a312041001000000ad00516c3edac27200000000");
        assert_eq!(unwrap_resp(&fin).unwrap().encode(), fin);
    }

    /// Goal: the server's NEGOTIATE hint matches the NegTokenInit2 Windows servers send
    /// ([MS-SPNG] 2.2.1, 3.2.5.2), and decodes back with its hint.
    #[test]
    fn neg_token_init2_layout() {
        let b = neg_token_init2_hint();
        assert_eq!(HINT_NAME.len(), 0x24);
        let mut expected = h("6048 0606 2b0601050502 a03e 303c
                              a00e 300c 060a 2b06010401823702020a
                              a32a 3028 a026 1b24");
        expected.extend_from_slice(HINT_NAME.as_bytes());
        assert_eq!(b, expected);
        let init = unwrap_initial(&b).unwrap();
        assert_eq!(
            init.neg_hints.as_ref().and_then(|h| h.hint_name.as_deref()),
            Some(HINT_NAME.as_bytes())
        );
        assert_eq!(init.mech_token, None);
        assert_eq!(init.encode(), b);
    }

    /// Goal: the server's responses have the familiar Windows layouts.
    #[test]
    fn server_resp_layouts() {
        let ch = vec![0xcc; 200];
        let b = accept_incomplete(&ch);
        let mut expected = h("a181e4 3081e1 a0030a0101 a10c060a2b06010401823702020a a281cb 0481c8");
        expected.extend_from_slice(&ch);
        assert_eq!(b, expected);
        let r = unwrap_resp(&b).unwrap();
        assert_eq!(r.neg_state, Some(NegState::ACCEPT_INCOMPLETE));
        assert_eq!(r.supported_mech, Some(NTLMSSP));
        assert_eq!(r.response_token.as_deref(), Some(ch.as_slice()));

        let b = accept_completed(Some([0x01; 16]));
        let mut expected = h("a11b 3019 a0030a0100 a312 0410");
        expected.extend_from_slice(&[0x01; 16]);
        assert_eq!(b, expected);
        assert_eq!(accept_completed(None), h("a107 3005 a0030a0100"));
        assert_eq!(reject(), h("a107 3005 a0030a0102"));
        assert_eq!(
            unwrap_resp(&request_mic_ntlm()).unwrap().neg_state,
            Some(NegState::REQUEST_MIC)
        );
    }

    /// Goal: a Windows-style init offering Kerberos first yields no NTLM token (the optimistic
    /// token is Kerberos) but says NTLM is offered.
    #[test]
    fn kerberos_first_has_no_ntlm_token() {
        let t = NegTokenInit::new(vec![MS_KRB5, KRB5, NEGOEX, NTLMSSP], Some(vec![0x60, 0x00]));
        let d = unwrap_initial(&t.encode()).unwrap();
        assert_eq!(d, t);
        assert_eq!(
            d.mech_types_der,
            h("302e 0609 2a864882f712010202 0609 2a864886f712010202
               060a 2b06010401823702021e 060a 2b06010401823702020a")
        );
        assert!(d.offers_ntlm());
        assert_eq!(d.ntlm_token(), None);
    }

    /// Goal: raw NTLMSSP is recognised; non-minimal lengths, indefinite lengths, trailing
    /// bytes, wrong OIDs and out-of-order fields are refused.
    #[test]
    fn strictness() {
        let neg = ntlm::client::negotiate();
        assert_eq!(decode_token(&neg).unwrap(), Token::Ntlmssp(&neg));
        assert!(decode_token(&[]).is_err());
        assert!(decode_token(&[0x30, 0x00]).is_err());
        // accept-completed with a long-form length where the short form fits.
        assert!(unwrap_resp(&h("a18107 3005 a0030a0100")).is_err());
        assert!(unwrap_resp(&h("a180 3005 a0030a0100 0000")).is_err());
        assert!(unwrap_resp(&h("a107 3005 a0030a0100 00")).is_err());
        // negState after supportedMech.
        assert!(unwrap_resp(&h("a115 3013 a10c060a2b06010401823702020a a0030a0100")).is_err());
        // Kerberos OID as thisMech.
        let mut b = client::init(&neg).encode();
        b[4] ^= 1;
        assert!(unwrap_initial(&b).is_err());
        // Empty mechTypes.
        assert!(unwrap_initial(&h("600e 0606 2b0601050502 a004 3002 a000")).is_err());
    }

    /// Goal: a whole SPNEGO-wrapped NTLM exchange between the test client and the server
    /// helpers, with mechListMICs checked both ways over the client's exact mechTypes DER.
    #[test]
    fn end_to_end_with_mech_list_mic() {
        let names = ntlm::TargetNames {
            nb_domain: "WORKGROUP".into(),
            nb_computer: "DITTOFS".into(),
            ..Default::default()
        };
        let mut acceptor = ntlm::Acceptor::new([9; 8], 1, names);
        let init_blob = client::init(&ntlm::client::negotiate()).encode();

        let Token::Init(init) = decode_token(&init_blob).unwrap() else {
            panic!("init expected")
        };
        let challenge = acceptor.challenge(init.ntlm_token().unwrap()).unwrap();
        let resp1 = accept_incomplete(&challenge);

        let r = unwrap_resp(&resp1).unwrap();
        let auth = ntlm::client::authenticate(
            &r.response_token.unwrap(),
            "bob",
            "WORKGROUP",
            &ntlm::nt_hash("pw"),
            [3; 8],
            5,
            [4; 16],
        )
        .unwrap();
        let mic = auth.client_mic(&client::init(&[]).mech_types_der);
        let resp2 = client::resp(&auth.message, Some(mic));

        let Token::Resp(r2) = decode_token(&resp2).unwrap() else {
            panic!("resp expected")
        };
        let ok = acceptor
            .authenticate(&r2.response_token.unwrap(), |u, _| {
                (u == "bob").then(|| ntlm::nt_hash("pw"))
            })
            .unwrap();
        assert!(ok.mic_verified);
        assert!(ok.verify_client_mic(&init.mech_types_der, &r2.mech_list_mic.unwrap()));
        let fin = accept_completed(Some(ok.server_mic(&init.mech_types_der)));
        let f = unwrap_resp(&fin).unwrap();
        assert_eq!(f.neg_state, Some(NegState::ACCEPT_COMPLETED));
        assert!(auth.verify_server_mic(&init.mech_types_der, &f.mech_list_mic.unwrap()));
    }

    fn server() -> Acceptor {
        let names = ntlm::TargetNames {
            nb_domain: "WORKGROUP".into(),
            nb_computer: "DITTOFS".into(),
            ..Default::default()
        };
        Acceptor::new(ntlm::Acceptor::new([9; 8], 1, names))
    }

    fn bob(u: &str, _d: &str) -> Option<[u8; 16]> {
        (u == "bob").then(|| ntlm::nt_hash("pw"))
    }

    fn bob_auth(challenge: &[u8], pw: &str) -> ntlm::client::ClientAuthenticate {
        ntlm::client::authenticate(
            challenge,
            "bob",
            "WORKGROUP",
            &ntlm::nt_hash(pw),
            [3; 8],
            5,
            [4; 16],
        )
        .unwrap()
    }

    /// Goal: the server session completes the optimistic NTLMSSP flow with mechListMICs both
    /// ways, and refuses a missing or wrong mechListMIC after an NTLM MIC.
    #[test]
    fn session_optimistic_flow() {
        let init = client::init(&ntlm::client::negotiate());
        for case in ["good", "missing", "wrong"] {
            let mut s = server();
            let Step::Continue(b) = s.step(&init.encode(), bob).unwrap() else {
                panic!("continue expected")
            };
            let ch = unwrap_resp(&b).unwrap().response_token.unwrap();
            let auth = bob_auth(&ch, "pw");
            let mic = match case {
                "good" => Some(auth.client_mic(&init.mech_types_der)),
                "missing" => None,
                _ => Some(auth.client_mic(b"something else")),
            };
            let r = s.step(&client::resp(&auth.message, mic), bob);
            if case == "good" {
                let Ok(Step::Complete { blob, auth: ok }) = r else {
                    panic!("complete expected: {r:?}")
                };
                assert_eq!(ok.user, "bob");
                let f = unwrap_resp(&blob).unwrap();
                assert_eq!(f.neg_state, Some(NegState::ACCEPT_COMPLETED));
                assert!(auth.verify_server_mic(&init.mech_types_der, &f.mech_list_mic.unwrap()));
            } else {
                assert_eq!(r.unwrap_err(), AuthError::MicInvalid, "{case}");
            }
        }
    }

    /// Goal: Kerberos first → request-mic, then NEGOTIATE in a negTokenResp, CHALLENGE,
    /// AUTHENTICATE with mechListMIC → complete. A wrong password fails with LogonFailure.
    #[test]
    fn session_kerberos_first_flow() {
        let init = NegTokenInit::new(vec![MS_KRB5, KRB5, NTLMSSP], Some(vec![0x60, 0x00]));
        for pw in ["pw", "nope"] {
            let mut s = server();
            let Step::Continue(b) = s.step(&init.encode(), bob).unwrap() else {
                panic!("continue expected")
            };
            let r = unwrap_resp(&b).unwrap();
            assert_eq!(r.neg_state, Some(NegState::REQUEST_MIC));
            assert_eq!(r.supported_mech, Some(NTLMSSP));
            let neg = NegTokenResp {
                response_token: Some(ntlm::client::negotiate()),
                ..NegTokenResp::default()
            };
            let Step::Continue(b) = s.step(&neg.encode(), bob).unwrap() else {
                panic!("continue expected")
            };
            let ch = unwrap_resp(&b).unwrap().response_token.unwrap();
            let auth = bob_auth(&ch, pw);
            let mic = auth.client_mic(&init.mech_types_der);
            let r = s.step(&client::resp(&auth.message, Some(mic)), bob);
            match pw {
                "pw" => assert!(matches!(r, Ok(Step::Complete { .. }))),
                _ => assert_eq!(r.unwrap_err(), AuthError::LogonFailure),
            }
        }
    }

    /// Goal: raw NTLMSSP works end to end; no NTLMSSP on offer, tokens out of order, and steps
    /// after the end are refused.
    #[test]
    fn session_raw_and_errors() {
        let mut s = server();
        let Step::Continue(ch) = s.step(&ntlm::client::negotiate(), bob).unwrap() else {
            panic!("continue expected")
        };
        let auth = bob_auth(&ch, "pw");
        let Ok(Step::Complete { blob, .. }) = s.step(&auth.message, bob) else {
            panic!("complete expected")
        };
        assert!(blob.is_empty());
        assert_eq!(
            s.step(&auth.message, bob).unwrap_err(),
            AuthError::OutOfOrder
        );

        let mut s = server();
        let krb_only = NegTokenInit::new(vec![KRB5], None).encode();
        assert_eq!(
            s.step(&krb_only, bob).unwrap_err(),
            AuthError::NoCommonMechanism
        );

        let mut s = server();
        assert_eq!(
            s.step(&accept_completed(None), bob).unwrap_err(),
            AuthError::OutOfOrder
        );
        let mut s = server();
        assert!(matches!(s.step(b"junk", bob), Err(AuthError::Malformed(_))));
    }

    fn arb_oid() -> impl Strategy<Value = ObjectIdentifier> {
        prop_oneof![
            Just(NTLMSSP),
            Just(KRB5),
            Just(MS_KRB5),
            Just(NEGOEX),
            Just(SPNEGO)
        ]
    }

    fn opt_bytes() -> impl Strategy<Value = Option<Vec<u8>>> {
        proptest::option::of(vec(any::<u8>(), 0..300))
    }

    proptest! {
        /// Goal: every NegTokenInit / NegTokenInit2 round-trips.
        #[test]
        fn init_round_trips(
            mechs in vec(arb_oid(), 1..5),
            req_flags in proptest::option::of(vec(any::<u8>(), 0..3)),
            token in opt_bytes(),
            hints in proptest::option::of((opt_bytes(), opt_bytes())),
            mic in proptest::option::of(vec(any::<u8>(), 16..=16)),
        ) {
            let mut t = NegTokenInit::new(mechs, token);
            t.req_flags = req_flags;
            t.neg_hints = hints.map(|(n, a)| NegHints { hint_name: n, hint_address: a });
            t.mech_list_mic = mic;
            let b = t.encode();
            prop_assert_eq!(unwrap_initial(&b).unwrap(), t);
        }

        /// Goal: every NegTokenResp round-trips.
        #[test]
        fn resp_round_trips(
            state in proptest::option::of(0u8..0x80),
            mech in proptest::option::of(arb_oid()),
            token in opt_bytes(),
            mic in opt_bytes(),
        ) {
            let t = NegTokenResp {
                neg_state: state.map(NegState),
                supported_mech: mech,
                response_token: token,
                mech_list_mic: mic,
            };
            prop_assert_eq!(unwrap_resp(&t.encode()).unwrap(), t);
        }

        /// Goal: no input panics the decoders; what decodes re-encodes to the same bytes.
        #[test]
        fn garbage_never_panics(data in vec(any::<u8>(), 0..200)) {
            if let Ok(t) = unwrap_initial(&data) {
                prop_assert_eq!(t.encode(), data.clone());
            }
            if let Ok(t) = unwrap_resp(&data) {
                prop_assert_eq!(t.encode(), data.clone());
            }
            let _ = decode_token(&data);
        }

        /// Goal: mutations of a valid token never panic and keep the re-encoding property.
        #[test]
        fn mutated_tokens(i in 0usize..120, b in any::<u8>(), which in 0u8..3) {
            let mut t = match which {
                0 => neg_token_init2_hint(),
                1 => client::init(&ntlm::client::negotiate()).encode(),
                _ => accept_incomplete(&[1, 2, 3]),
            };
            let i = i % t.len();
            t[i] = b;
            if let Ok(x) = unwrap_initial(&t) {
                prop_assert_eq!(x.encode(), t.clone());
            }
            if let Ok(x) = unwrap_resp(&t) {
                prop_assert_eq!(x.encode(), t.clone());
            }
        }
    }
}
