//! Entry points for the cargo-fuzz targets in `fuzz/` and the corpus replay test (feature
//! `fuzzing`). Each takes arbitrary bytes and must never panic on them; where a decoder is
//! strict enough that its encoding is canonical, the entry point also asserts that whatever
//! decodes re-encodes to the same bytes, so the fuzzer finds encoder bugs too.

use crate::nfs3;
use crate::wire::encode_to_vec;

/// NFSv3 call arguments: the first 4 bytes (big-endian) pick the procedure number, the rest
/// are the arguments given to [`nfs3::decode_call`].
pub fn fuzz_nfs3_call(data: &[u8]) {
    let Some((proc_, args)) = data.split_first_chunk::<4>() else {
        return;
    };
    if let Ok(call) = nfs3::decode_call(u32::from_be_bytes(*proc_), args) {
        assert_eq!(
            encode_to_vec(&call),
            args,
            "an accepted NFSv3 call must re-encode to its input"
        );
    }
}

/// NFSv3 result bodies, as test clients and the simulator decode them: the first 4 bytes
/// (big-endian) pick the procedure, the rest go to [`nfs3::decode_reply`].
pub fn fuzz_nfs3_reply(data: &[u8]) {
    let Some((proc_, body)) = data.split_first_chunk::<4>() else {
        return;
    };
    let Some(proc_) = nfs3::Nfs3Proc::from_u32(u32::from_be_bytes(*proc_)) else {
        return;
    };
    if let Ok(reply) = nfs3::decode_reply(proc_, body) {
        assert_eq!(
            encode_to_vec(&reply),
            body,
            "an accepted NFSv3 reply must re-encode to its input"
        );
    }
}

/// RPC record marking: the bytes are fed to a [`crate::rpc::RecordDecoder`] in chunks whose
/// sizes come from the data itself, until the data is used up or the decoder reports a broken
/// stream. Every record returned must respect the record limit.
pub fn fuzz_record(data: &[u8]) {
    let mut d = crate::rpc::RecordDecoder::new();
    let mut buf = bytes::BytesMut::new();
    let mut rest = data;
    while let Some(&first) = rest.first() {
        let n = (usize::from(first) % 64 + 1).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match d.decode(&mut buf) {
                Ok(Some(record)) => assert!(
                    record.len() <= crate::wire::limits::RECORD_MAX,
                    "a record over RECORD_MAX was returned"
                ),
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// An ONC RPC call header, its credentials, and the reply the server would send for a broken
/// header; the same bytes also go through the reply decoder. A call that decodes must
/// re-encode to its input (the header encoding is canonical).
pub fn fuzz_rpc_call(data: &[u8]) {
    use crate::rpc;
    match rpc::decode_call(data) {
        Ok((call, args)) => {
            let _ = rpc::Credentials::from_call(&call);
            let mut again = encode_to_vec(&call);
            again.extend_from_slice(args);
            assert_eq!(
                again, data,
                "an accepted RPC call must re-encode to its input"
            );
        }
        Err(e) => {
            if let Some((xid, status)) = e.reply() {
                rpc::encode_reply(&mut crate::xdr::Writer::new(), xid, status);
            }
        }
    }
    let _ = rpc::decode_reply(data);
}

/// Portmapper arguments and results: the bytes are decoded as the arguments and as the results
/// of every procedure, and whatever decodes must re-encode to its input.
pub fn fuzz_portmap(data: &[u8]) {
    use crate::portmap::{self, PortmapProc};
    for p in PortmapProc::ALL {
        if let Ok(call) = portmap::decode_call(p.as_u32(), data) {
            assert_eq!(encode_to_vec(&call), data, "portmapper call must re-encode");
        }
        if let Ok(reply) = portmap::decode_reply(p, data) {
            assert_eq!(
                encode_to_vec(&reply),
                data,
                "portmapper reply must re-encode"
            );
        }
    }
}

/// MOUNT arguments and results: the bytes are decoded as the arguments and as the results of
/// every procedure, and whatever decodes must re-encode to its input.
pub fn fuzz_mount(data: &[u8]) {
    use crate::mount3::{self, MountProc};
    for p in MountProc::ALL {
        if let Ok(call) = mount3::decode_call(p.as_u32(), data) {
            assert_eq!(encode_to_vec(&call), data, "MOUNT call must re-encode");
        }
        if let Ok(reply) = mount3::decode_reply(p, data) {
            assert_eq!(encode_to_vec(&reply), data, "MOUNT reply must re-encode");
        }
    }
}

/// NLM v4 arguments and results: the bytes are decoded as the arguments and as the results of
/// every procedure, and whatever decodes must re-encode to its input.
pub fn fuzz_nlm(data: &[u8]) {
    use crate::nlm4::{self, NlmProc};
    for p in NlmProc::ALL {
        if let Ok(call) = nlm4::decode_call(p.as_u32(), data) {
            assert_eq!(encode_to_vec(&call), data, "NLM call must re-encode");
        }
        if let Ok(reply) = nlm4::decode_reply(p, data) {
            assert_eq!(encode_to_vec(&reply), data, "NLM reply must re-encode");
        }
    }
}

/// NSM v1 arguments and results: the bytes are decoded as the arguments and as the results of
/// every procedure, and whatever decodes must re-encode to its input.
pub fn fuzz_nsm(data: &[u8]) {
    use crate::nsm::{self, NsmProc};
    for p in NsmProc::ALL {
        if let Ok(call) = nsm::decode_call(p.as_u32(), data) {
            assert_eq!(encode_to_vec(&call), data, "NSM call must re-encode");
        }
        if let Ok(reply) = nsm::decode_reply(p, data) {
            assert_eq!(encode_to_vec(&reply), data, "NSM reply must re-encode");
        }
    }
}

/// A message for the SMB2 body decoders: a zeroed 64-byte header, then `body`.
fn smb2_message(body: &[u8]) -> Vec<u8> {
    let mut m = vec![0u8; 64];
    m.extend_from_slice(body);
    m
}

/// Re-encodes `v` after a zeroed header, for the decode → encode → decode checks.
fn smb2_reencode(encode: impl FnOnce(&mut crate::smb2::le::Writer)) -> Vec<u8> {
    let mut w = crate::smb2::le::Writer::new();
    w.zeros(64);
    encode(&mut w);
    w.into_inner()
}

/// CREATE: the first byte picks the request (0), the response (1) or a bare create-context
/// chain with every typed context parser (other values); the rest is the body. SMB2 bodies
/// address buffers by offset, so several encodings decode alike: what decodes must re-encode
/// to something that decodes to the same value.
pub fn fuzz_smb2_create(data: &[u8]) {
    use crate::smb2::create::{
        CreateContext, CreateRequest, CreateResponse, DurableV2Reconnect, DurableV2Request, Lease,
        MxAcRequest, MxAcResponse, PosixCreateRequest, PosixCreateResponse, QFidResponse,
        decode_dhnc, decode_dhnq, encode_contexts,
    };
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let msg = smb2_message(body);
    match sel {
        0 => {
            if let Ok(req) = CreateRequest::decode(&msg) {
                let again = smb2_reencode(|w| req.encode(w));
                assert_eq!(
                    CreateRequest::decode(&again).as_ref(),
                    Ok(&req),
                    "CREATE request"
                );
            }
        }
        1 => {
            if let Ok(resp) = CreateResponse::decode(&msg) {
                let again = smb2_reencode(|w| resp.encode(w));
                assert_eq!(
                    CreateResponse::decode(&again).as_ref(),
                    Ok(&resp),
                    "CREATE response"
                );
            }
        }
        _ => {
            if let Ok(list) = CreateContext::decode_list(body) {
                let mut w = crate::smb2::le::Writer::new();
                encode_contexts(&mut w, &list);
                assert_eq!(
                    CreateContext::decode_list(w.as_slice()).as_ref(),
                    Ok(&list),
                    "create contexts"
                );
                for c in &list {
                    let d = c.data.as_ref();
                    if let Ok(v) = MxAcRequest::decode(d) {
                        assert_eq!(MxAcRequest::decode(&v.encode()), Ok(v));
                    }
                    if let Ok(v) = MxAcResponse::decode(d) {
                        assert_eq!(v.encode(), d);
                    }
                    if let Ok(v) = QFidResponse::decode(d) {
                        assert_eq!(QFidResponse::decode(&v.encode()), Ok(v));
                    }
                    if let Ok(v) = Lease::decode(d) {
                        assert_eq!(Lease::decode(&v.encode()), Ok(v));
                    }
                    if let Ok(v) = DurableV2Request::decode(d) {
                        assert_eq!(DurableV2Request::decode(&v.encode()), Ok(v));
                    }
                    if let Ok(v) = DurableV2Reconnect::decode(d) {
                        assert_eq!(v.encode(), d);
                    }
                    if let Ok(v) = PosixCreateRequest::decode(d) {
                        assert_eq!(v.context().data.as_ref(), d);
                    }
                    if let Ok(v) = PosixCreateResponse::decode(d) {
                        assert_eq!(v.encode(), d);
                    }
                    let _ = decode_dhnq(d);
                    let _ = decode_dhnc(d);
                }
            }
        }
    }
}

/// CLOSE, FLUSH, READ, WRITE, LOCK and OPLOCK_BREAK: the first byte (mod 10) picks the
/// message, the rest is its body; what decodes must re-encode to something that decodes to
/// the same value.
pub fn fuzz_smb2_io(data: &[u8]) {
    use crate::smb2::file::{
        CloseRequest, CloseResponse, EmptyResponse, FlushRequest, LockRequest, OplockBreakMessage,
        ReadRequest, ReadResponse, WriteRequest, WriteResponse,
    };
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let msg = smb2_message(body);
    macro_rules! check {
        ($ty:ty) => {
            if let Ok(v) = <$ty>::decode(&msg) {
                let again = smb2_reencode(|w| v.encode(w));
                assert_eq!(<$ty>::decode(&again), Ok(v), stringify!($ty));
            }
        };
    }
    match sel % 10 {
        0 => check!(CloseRequest),
        1 => check!(CloseResponse),
        2 => check!(FlushRequest),
        3 => check!(EmptyResponse),
        4 => check!(ReadRequest<'_>),
        5 => check!(ReadResponse<'_>),
        6 => check!(WriteRequest<'_>),
        7 => check!(WriteResponse),
        8 => check!(LockRequest),
        _ => check!(OplockBreakMessage),
    }
}

/// QUERY_DIRECTORY and CHANGE_NOTIFY: the first byte picks the request or response of
/// either (0-3), FILE_NOTIFY_INFORMATION entries (4), the wildcard matcher (5: the rest is
/// split at its first NUL into pattern and name), or a directory information class's
/// decoder (6 and up, one per class). Decoded values must re-encode to something that
/// decodes to the same value; the matcher must not panic and a literal name matches itself.
pub fn fuzz_smb2_dir(data: &[u8]) {
    use crate::smb2::dir::{
        DirBuffer, InfoClass, QueryDirectoryRequest, QueryDirectoryResponse, decode_entries,
        has_wildcards, matches,
    };
    use crate::smb2::notify::{
        ChangeNotifyRequest, ChangeNotifyResponse, NotifyBuffer, decode_notify_entries,
    };
    const CLASSES: [InfoClass; 9] = [
        InfoClass::DIRECTORY,
        InfoClass::FULL_DIRECTORY,
        InfoClass::BOTH_DIRECTORY,
        InfoClass::NAMES,
        InfoClass::ID_BOTH_DIRECTORY,
        InfoClass::ID_FULL_DIRECTORY,
        InfoClass::ID_EXTD_DIRECTORY,
        InfoClass::ID_ALL_EXTD_DIRECTORY,
        InfoClass::POSIX,
    ];
    let Some((&sel, body)) = data.split_first() else {
        return;
    };
    let msg = smb2_message(body);
    match sel {
        0 => {
            if let Ok(v) = QueryDirectoryRequest::decode(&msg) {
                let again = smb2_reencode(|w| v.encode(w));
                assert_eq!(QueryDirectoryRequest::decode(&again).as_ref(), Ok(&v));
            }
        }
        1 => {
            if let Ok(v) = QueryDirectoryResponse::decode(&msg) {
                let again = smb2_reencode(|w| v.encode(w));
                assert_eq!(QueryDirectoryResponse::decode(&again), Ok(v));
            }
        }
        2 => {
            if let Ok(v) = ChangeNotifyRequest::decode(&msg) {
                let again = smb2_reencode(|w| v.encode(w));
                assert_eq!(ChangeNotifyRequest::decode(&again), Ok(v));
            }
        }
        3 => {
            if let Ok(v) = ChangeNotifyResponse::decode(&msg) {
                let again = smb2_reencode(|w| v.encode(w));
                assert_eq!(ChangeNotifyResponse::decode(&again), Ok(v));
            }
        }
        4 => {
            if let Ok(list) = decode_notify_entries(body) {
                let mut b = NotifyBuffer::new(usize::MAX);
                for e in &list {
                    assert!(b.push(e), "a decoded notify entry fits");
                }
                assert_eq!(decode_notify_entries(&b.finish()).as_ref(), Ok(&list));
            }
        }
        5 => {
            let (p, n) = match body.iter().position(|&b| b == 0) {
                Some(i) => (&body[..i], &body[i + 1..]),
                None => (body, &[][..]),
            };
            let p = String::from_utf8_lossy(p);
            let n = String::from_utf8_lossy(n);
            let _ = matches(&p, &n);
            assert!(matches("*", &n));
            if !has_wildcards(&n) {
                assert!(matches(&n, &n), "a literal name matches itself");
            }
        }
        _ => {
            let class = CLASSES[usize::from(sel - 6) % CLASSES.len()];
            if let Ok(list) = decode_entries(class, body) {
                let mut b = DirBuffer::new(class, usize::MAX);
                for e in &list {
                    assert!(b.push(e), "a decoded directory entry fits");
                }
                assert_eq!(decode_entries(class, &b.finish()).as_ref(), Ok(&list));
            }
        }
    }
}

/// A fresh NTLM acceptor with the fixed challenge, timestamp and names the fuzz entry points
/// and their seeds share.
pub fn ntlm_fuzz_fresh() -> crate::ntlm::Acceptor {
    use crate::ntlm::{Acceptor, TargetNames};
    let names = TargetNames {
        nb_domain: "FUZZDOM".into(),
        nb_computer: "FUZZSRV".into(),
        dns_domain: "fuzz.test".into(),
        dns_computer: "srv.fuzz.test".into(),
    };
    Acceptor::new([0x11; 8], 0x01d9_0000_0000_0000, names)
}

/// The acceptor [`fuzz_ntlm`] authenticates against: [`ntlm_fuzz_fresh`] with the CHALLENGE
/// already sent in answer to [`crate::ntlm::client::negotiate`]. Returns the acceptor and its
/// CHALLENGE, so seeds built against it authenticate for real.
pub fn ntlm_fuzz_acceptor() -> (crate::ntlm::Acceptor, Vec<u8>) {
    let mut a = ntlm_fuzz_fresh();
    let challenge = a
        .challenge(&crate::ntlm::client::negotiate())
        .expect("the acceptor answers our own NEGOTIATE");
    (a, challenge)
}

/// The user database behind [`ntlm_fuzz_acceptor`]: "user" with password "password".
pub fn ntlm_fuzz_lookup(user: &str, _domain: &str) -> Option<[u8; 16]> {
    user.eq_ignore_ascii_case("user")
        .then(|| crate::ntlm::nt_hash("password"))
}

/// NTLMSSP: the bytes are decoded as each of the three messages, as an NTLMv2 response and as
/// an AV pair list, and given to an acceptor as a NEGOTIATE and (after a fixed CHALLENGE) as an
/// AUTHENTICATE. NTLM messages are not canonical (payload order and gaps are free), so instead
/// of re-encoding to the input, whatever decodes must survive encode → decode unchanged.
pub fn fuzz_ntlm(data: &[u8]) {
    use crate::ntlm::{
        Acceptor, AuthenticateMessage, AvPairs, ChallengeMessage, NegotiateMessage, NtlmV2Response,
        TargetNames,
    };
    if let Ok(m) = NegotiateMessage::decode(data) {
        assert_eq!(
            NegotiateMessage::decode(&m.encode()).as_ref(),
            Ok(&m),
            "NEGOTIATE must survive encode/decode"
        );
    }
    if let Ok(m) = ChallengeMessage::decode(data) {
        assert_eq!(
            ChallengeMessage::decode(&m.encode()).as_ref(),
            Ok(&m),
            "CHALLENGE must survive encode/decode"
        );
    }
    if let Ok(m) = AuthenticateMessage::decode(data) {
        assert_eq!(
            AuthenticateMessage::decode(&m.encode()).as_ref(),
            Ok(&m),
            "AUTHENTICATE must survive encode/decode"
        );
    }
    let _ = NtlmV2Response::decode(data);
    let _ = AvPairs::decode(data);
    let (mut acceptor, _) = ntlm_fuzz_acceptor();
    if let Ok(ok) = acceptor.authenticate(data, ntlm_fuzz_lookup) {
        let _ = ok.server_mic(data);
        let _ = ok.verify_client_mic(data, data);
    }
    let _ = Acceptor::new([0; 8], 0, TargetNames::default()).challenge(data);
}

/// SPNEGO: the bytes are decoded as a GSS-wrapped NegTokenInit(2) and as a negTokenResp (the
/// DER is strict, so whatever decodes must re-encode to the input), and given to the server's
/// [`crate::spnego::Acceptor`] as a first token and as the token after our client's init.
pub fn fuzz_spnego(data: &[u8]) {
    use crate::{ntlm, spnego};
    let mut first = spnego::Acceptor::new(ntlm_fuzz_fresh());
    if let Ok(spnego::Step::Continue(_)) = first.step(data, ntlm_fuzz_lookup) {
        let _ = first.step(data, ntlm_fuzz_lookup);
    }
    let mut second = spnego::Acceptor::new(ntlm_fuzz_fresh());
    let init = spnego::client::init(&ntlm::client::negotiate()).encode();
    if second.step(&init, ntlm_fuzz_lookup).is_ok() {
        let _ = second.step(data, ntlm_fuzz_lookup);
    }
    if let Ok(t) = spnego::unwrap_initial(data) {
        assert_eq!(
            t.encode(),
            data,
            "a NegTokenInit must re-encode to its input"
        );
        let _ = t.ntlm_token();
    }
    if let Ok(t) = spnego::unwrap_resp(data) {
        assert_eq!(
            t.encode(),
            data,
            "a NegTokenResp must re-encode to its input"
        );
    }
    let _ = spnego::decode_token(data);
}

/// Valid inputs for the `ntlm` target, from the encoders (the seed corpus).
pub fn ntlm_seeds() -> Vec<Vec<u8>> {
    use crate::ntlm::{NegotiateFlags, NegotiateMessage, client, nt_hash};
    let (_, challenge) = ntlm_fuzz_acceptor();
    let auth = client::authenticate(
        &challenge,
        "user",
        "FUZZDOM",
        &nt_hash("password"),
        [0x22; 8],
        0x01d9_0000_0000_0001,
        [0x33; 16],
    )
    .expect("our own CHALLENGE decodes");
    let wrong = client::authenticate(
        &challenge,
        "user",
        "",
        &nt_hash("wrong"),
        [0x44; 8],
        0,
        [0x55; 16],
    )
    .expect("our own CHALLENGE decodes");
    let oem = NegotiateMessage {
        flags: NegotiateFlags::OEM
            | NegotiateFlags::NTLM
            | NegotiateFlags::OEM_DOMAIN_SUPPLIED
            | NegotiateFlags::OEM_WORKSTATION_SUPPLIED,
        domain: b"DOM".to_vec(),
        workstation: b"WS".to_vec(),
        version: None,
    }
    .encode();
    vec![
        client::negotiate(),
        oem,
        challenge.clone(),
        auth.message,
        wrong.message,
        client::anonymous(&challenge).expect("our own CHALLENGE decodes"),
    ]
}

/// Valid inputs for the `spnego` target, from the encoders (the seed corpus).
pub fn spnego_seeds() -> Vec<Vec<u8>> {
    use crate::ntlm;
    use crate::spnego::{self, NegTokenInit};
    let (_, challenge) = ntlm_fuzz_acceptor();
    let auth = ntlm::client::authenticate(
        &challenge,
        "user",
        "FUZZDOM",
        &ntlm::nt_hash("password"),
        [0x22; 8],
        0,
        [0x33; 16],
    )
    .expect("our own CHALLENGE decodes");
    let init = spnego::client::init(&ntlm::client::negotiate());
    let mic = auth.client_mic(&init.mech_types_der);
    vec![
        init.encode(),
        spnego::neg_token_init2_hint(),
        NegTokenInit::new(
            vec![
                spnego::MS_KRB5,
                spnego::KRB5,
                spnego::NEGOEX,
                spnego::NTLMSSP,
            ],
            Some(vec![0x60, 0x03, 0x06, 0x01, 0x00]),
        )
        .encode(),
        spnego::accept_incomplete(&challenge),
        spnego::client::resp(&auth.message, Some(mic)),
        spnego::accept_completed(Some([0x01; 16])),
        spnego::accept_completed(None),
        spnego::request_mic_ntlm(),
        spnego::reject(),
    ]
}

/// SMB2 signing and encryption: the bytes are decrypted as a TRANSFORM_HEADER frame with a
/// fixed key under every cipher (never authenticating, never panicking) and checked as a
/// signed message under every signing algorithm; then they are encrypted and must decrypt
/// back, and signed and must verify.
pub fn fuzz_smb2_crypto(data: &[u8]) {
    use crate::smb2::crypto::{self, Cipher, SigningAlgorithm, TransformHeader};
    for id in 1..=4 {
        let Some(cipher) = Cipher::from_id(id) else {
            continue;
        };
        let key = vec![0x5a; cipher.key_len()];
        let _ = TransformHeader::decode(data);
        // A corpus input may be a real frame under this key, so success is allowed.
        let _ = crypto::decrypt(cipher, &key, data);
        if !data.is_empty() {
            let nonce = vec![0x11; cipher.nonce_len()];
            let frame =
                crypto::encrypt(cipher, &key, &nonce, 9, data).expect("valid key and nonce");
            assert_eq!(
                crypto::decrypt(cipher, &key, &frame).as_deref(),
                Ok(data),
                "encrypt then decrypt must round-trip"
            );
        }
    }
    for alg in [
        SigningAlgorithm::HmacSha256,
        SigningAlgorithm::AesCmac,
        SigningAlgorithm::AesGmac,
    ] {
        let _ = crypto::verify(alg, &[0x5a; 16], data);
        let mut msg = data.to_vec();
        if crypto::sign(alg, &[0x5a; 16], &mut msg).is_ok() {
            assert!(
                crypto::verify(alg, &[0x5a; 16], &msg),
                "a signed message must verify"
            );
        }
    }
}

/// The SMB2 credit window: the bytes are a sequence of operations (4 bytes each: a kind, an
/// id offset from the window's start, a charge, a request). Checks and grants must never
/// panic, the window never exceeds its maximum, and an id accepted once is refused after.
pub fn fuzz_credits(data: &[u8]) {
    use crate::smb2::credits::CreditWindow;
    let max = data.first().map_or(1, |&b| u16::from(b) + 1);
    let mut w = CreditWindow::new(max);
    for op in data.get(1..).unwrap_or_default().chunks_exact(4) {
        let (kind, off, charge, req) = (op[0], op[1], op[2], op[3]);
        match kind % 4 {
            0 | 1 => {
                let id = w
                    .low()
                    .wrapping_add(u64::from(off))
                    .wrapping_sub(u64::from(kind >> 6));
                let before = w.outstanding();
                if w.check(id, u16::from(charge % 8)).is_ok() {
                    assert!(w.check(id, u16::from(charge % 8)).is_err(), "id reused");
                    assert!(w.outstanding() < before);
                } else {
                    assert_eq!(
                        w.outstanding(),
                        before,
                        "a refused check changed the window"
                    );
                }
            }
            2 => {
                let _ = w.check(u64::MAX - u64::from(off), u16::from(charge));
            }
            _ => {
                w.grant(u16::from(req) * 16, u16::from(charge % 8), kind & 0x80 != 0);
            }
        }
        assert!(
            w.high() - w.low() <= u64::from(max),
            "window beyond its maximum"
        );
        assert!(w.outstanding() <= w.high() - w.low());
    }
}

/// DCE/RPC and srvsvc: the bytes are decoded as a PDU (what decodes must survive an
/// encode/decode round trip; a REQUEST's stub is decoded as a srvsvc request) and as the stub
/// of every srvsvc request and response, with the same round-trip check.
pub fn fuzz_dcerpc(data: &[u8]) {
    use crate::dcerpc::{Pdu, PduBody};
    use crate::srvsvc::{
        ServerGetInfoResponse, ShareEnumResponse, ShareGetInfoResponse, SrvsvcRequest, opnum,
    };
    if let Ok(pdu) = Pdu::decode(data) {
        if !matches!(pdu.body, PduBody::BindNak(_)) {
            assert_eq!(
                Pdu::decode(&pdu.encode()).as_ref(),
                Ok(&pdu),
                "PDU must re-decode"
            );
        }
        if let PduBody::Request(q) = &pdu.body
            && let Ok(req) = SrvsvcRequest::decode(q.opnum, &q.stub)
        {
            assert_eq!(SrvsvcRequest::decode(q.opnum, &req.encode()), Ok(req));
        }
    }
    if let Ok(pdu) = Pdu::decode_fragment(data) {
        assert!(
            Pdu::decode_fragment(&pdu.encode()).is_ok(),
            "fragment must re-decode"
        );
    }
    // The whole server end: whatever the client writes, the pipe answers or refuses cleanly.
    let mut pipe = crate::srvsvc::SrvsvcPipe::new(1);
    let ipc = crate::srvsvc::Share {
        name: "IPC$".into(),
        share_type: crate::srvsvc::share_type::IPC_HIDDEN,
        ..Default::default()
    };
    let _ = pipe.handle_write(data, &[ipc], &Default::default());
    while pipe.poll_read(1024).is_some() {}
    for op in [
        opnum::NETR_SHARE_ENUM,
        opnum::NETR_SHARE_GET_INFO,
        opnum::NETR_SERVER_GET_INFO,
    ] {
        if let Ok(req) = SrvsvcRequest::decode(op, data) {
            assert_eq!(
                SrvsvcRequest::decode(op, &req.encode()),
                Ok(req),
                "srvsvc request"
            );
        }
    }
    if let Ok(p) = ShareEnumResponse::decode(data) {
        assert_eq!(
            ShareEnumResponse::decode(&p.encode()),
            Ok(p),
            "NetrShareEnum response"
        );
    }
    if let Ok(p) = ShareGetInfoResponse::decode(data) {
        assert_eq!(
            ShareGetInfoResponse::decode(&p.encode()),
            Ok(p),
            "NetrShareGetInfo response"
        );
    }
    if let Ok(p) = ServerGetInfoResponse::decode(data) {
        assert_eq!(
            ServerGetInfoResponse::decode(&p.encode()),
            Ok(p),
            "NetrServerGetInfo response"
        );
    }
}

/// Re-encodes an SMB2 message body after the 64-byte header it was decoded with.
fn reencode_with_header(
    header: &[u8],
    encode: impl FnOnce(&mut crate::smb2::le::Writer),
) -> Vec<u8> {
    let mut w = crate::smb2::le::Writer::new();
    w.bytes(header.get(..64).unwrap_or(header));
    encode(&mut w);
    w.into_inner()
}

/// QUERY_INFO / SET_INFO messages and every [MS-FSCC] information class decoder: the first
/// byte picks the decoder (0–3: query request, query response, set request, set response,
/// each given a whole message from its SMB2 header; 4–127: that file information class;
/// 0x80 | n: file-system information class n; classes [`crate::smb2::fscc::AnyInfo`] does
/// not know are skipped; 0x80: a FILE_GET_EA_INFORMATION name list; 0xFF: an
/// SMB2_QUERY_QUOTA_INFO and a FILE_QUOTA_INFORMATION list). Whatever decodes must decode
/// again to the same value after re-encoding.
pub fn fuzz_smb2_info(data: &[u8]) {
    use crate::smb2::fscc::{AnyInfo, InfoType};
    use crate::smb2::info::{QueryInfoRequest, QueryInfoResponse, SetInfoRequest, SetInfoResponse};
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel {
        0 => {
            if let Ok(v) = QueryInfoRequest::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(
                    QueryInfoRequest::decode(&again),
                    Ok(v),
                    "QUERY_INFO request"
                );
            }
        }
        1 => {
            if let Ok(v) = QueryInfoResponse::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(
                    QueryInfoResponse::decode(&again),
                    Ok(v),
                    "QUERY_INFO response"
                );
            }
        }
        2 => {
            if let Ok(v) = SetInfoRequest::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(SetInfoRequest::decode(&again), Ok(v), "SET_INFO request");
            }
        }
        3 => {
            if let Ok(v) = SetInfoResponse::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(SetInfoResponse::decode(&again), Ok(v), "SET_INFO response");
            }
        }
        0xff => {
            if let Ok(v) = crate::smb2::info::QueryQuotaInfo::decode(rest) {
                let b = v.encode();
                assert_eq!(
                    crate::smb2::info::QueryQuotaInfo::decode(&b),
                    Ok(v),
                    "quota query"
                );
            }
            let t = InfoType::QUOTA;
            if let Ok(Some(v)) = AnyInfo::decode(t, 0, rest) {
                assert_eq!(
                    AnyInfo::decode(t, 0, &v.encode()),
                    Ok(Some(v)),
                    "quota list"
                );
            }
        }
        0x80 => {
            if let Ok(names) = crate::smb2::fscc::decode_get_ea_list(rest) {
                let b = crate::smb2::fscc::encode_get_ea_list(&names);
                assert_eq!(
                    crate::smb2::fscc::decode_get_ea_list(&b),
                    Ok(names),
                    "EA names"
                );
            }
        }
        _ => {
            let (t, c) = if sel & 0x80 != 0 {
                (InfoType::FILESYSTEM, sel & 0x7f)
            } else {
                (InfoType::FILE, sel)
            };
            if let Ok(Some(v)) = AnyInfo::decode(t, c, rest) {
                assert_eq!(
                    AnyInfo::decode(t, c, &v.encode()),
                    Ok(Some(v)),
                    "information class {c} of type {}",
                    t.0
                );
            }
        }
    }
}

/// [MS-DTYP] security: the first byte picks the decoder (0: self-relative security
/// descriptor, also mapped to a mode; 1: a SID in text form; 2: a binary SID; 3: an ACL; 4: the
/// stored form of a descriptor, `dittofs.ntacl`, with the access check, MAXIMUM_ALLOWED and
/// inheritance run over it). Decoded values must survive re-encoding; binary SIDs re-encode to
/// their input.
pub fn fuzz_smb2_security(data: &[u8]) {
    use crate::smb2::security::{Acl, SecurityDescriptor, Sid, to_mode, to_mode_ignoring_others};
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 5 {
        0 => {
            if let Ok(sd) = SecurityDescriptor::decode(rest) {
                let bytes = sd.encode();
                let again = SecurityDescriptor::decode(&bytes);
                assert_eq!(again.as_ref(), Ok(&sd), "security descriptor");
                assert_eq!(sd.encode(), bytes, "security descriptor encoding is stable");
                let _ = to_mode(&sd);
                let _ = to_mode_ignoring_others(&sd, sd.owner.as_ref(), sd.group.as_ref());
                let _ = sd.filtered(u32::from(sel));
            }
        }
        1 => {
            if let Some(sid) = std::str::from_utf8(rest)
                .ok()
                .and_then(|s| s.parse::<Sid>().ok())
            {
                assert_eq!(sid.to_string().parse::<Sid>(), Ok(sid.clone()), "SID text");
                assert_eq!(Sid::decode(&sid.encode()), Ok(sid), "SID binary");
            }
        }
        2 => {
            if let Ok(sid) = Sid::decode(rest) {
                assert_eq!(sid.encode(), rest, "binary SID");
                assert_eq!(sid.to_string().parse::<Sid>(), Ok(sid), "SID text");
            }
        }
        3 => {
            if let Ok(acl) = Acl::decode(rest) {
                let mut w = crate::smb2::le::Writer::new();
                acl.write(&mut w);
                assert_eq!(Acl::decode(w.as_slice()), Ok(acl), "ACL");
            }
        }
        _ => {
            // The stored form of a descriptor (the `dittofs.ntacl` attribute) and everything
            // the SMB front end computes from one.
            use crate::smb2::acl::{self, StoredSd, Token};
            if let Ok(stored) = StoredSd::decode(rest) {
                assert_eq!(
                    StoredSd::decode(&stored.encode()).as_ref(),
                    Ok(&stored),
                    "stored descriptor"
                );
                let sd = &stored.sd;
                let token = Token::unix(1, 2, &[3], sel & 1 == 0);
                let max = acl::maximum_allowed(sd, &token);
                assert_eq!(
                    max & !acl::FILE_VALID_RIGHTS,
                    0,
                    "maximum within file rights"
                );
                let desired = u32::from(sel).wrapping_mul(0x0101_0101) & acl::FILE_VALID_RIGHTS;
                assert_eq!(
                    acl::access_check(sd, &token, desired).is_some(),
                    desired & !max == 0,
                    "request and MAXIMUM_ALLOWED modes agree"
                );
                let owner = Sid::unix_user(1);
                let group = Sid::unix_group(2);
                for is_dir in [false, true] {
                    if let Some(child) = acl::inherited_descriptor(sd, is_dir, &owner, &group) {
                        let again = SecurityDescriptor::decode(&child.encode());
                        assert_eq!(again.as_ref(), Ok(&child), "inherited descriptor");
                    }
                }
                let _ = acl::closest_mode(sd, 1, 2);
            }
        }
    }
}

/// IOCTL messages, every FSCTL payload decoder and Minshall-French symlink files: the first
/// byte picks the decoder (0: IOCTL request, 1: IOCTL response, as whole messages from the
/// SMB2 header; 2–10: FSCTL payloads; 11: FSCTL_SET_SPARSE's input, the symlink error
/// response, FILE_OBJECTID_BUFFER and FSCTL_PIPE_WAIT's input; 12: an MF symlink file). Decoded values must survive
/// re-encoding; fixed payloads re-encode to their input.
pub fn fuzz_smb2_ioctl(data: &[u8]) {
    use crate::smb2::ioctl::*;
    use crate::smb2::mfsymlink;
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 13 {
        0 => {
            if let Ok(v) = IoctlRequest::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(IoctlRequest::decode(&again), Ok(v), "IOCTL request");
            }
        }
        1 => {
            if let Ok(v) = IoctlResponse::decode(rest) {
                let again = reencode_with_header(rest, |w| v.encode(w));
                assert_eq!(IoctlResponse::decode(&again), Ok(v), "IOCTL response");
            }
        }
        2 => {
            if let Ok(v) = ValidateNegotiateInfoRequest::decode(rest) {
                assert_eq!(v.encode(), rest, "VALIDATE_NEGOTIATE_INFO request");
            }
        }
        3 => {
            if let Ok(v) = ValidateNegotiateInfoResponse::decode(rest) {
                assert_eq!(v.encode(), rest, "VALIDATE_NEGOTIATE_INFO response");
            }
        }
        4 => {
            if let Ok(v) = NetworkInterfaceInfo::decode_list(rest) {
                let b = NetworkInterfaceInfo::encode_list(&v);
                assert_eq!(NetworkInterfaceInfo::decode_list(&b), Ok(v), "interfaces");
            }
        }
        5 => {
            if let Ok(v) = ResumeKeyResponse::decode(rest) {
                assert_eq!(v.encode(), rest, "resume key");
            }
        }
        6 => {
            if let Ok(v) = CopyChunkRequest::decode(rest) {
                assert_eq!(
                    CopyChunkRequest::decode(&v.encode()),
                    Ok(v.clone()),
                    "copychunk"
                );
                let _ = v.within_limits();
            }
        }
        7 => {
            if let Ok(v) = CopyChunkResponse::decode(rest) {
                assert_eq!(v.encode(), rest, "copychunk response");
            }
        }
        8 => {
            if let Ok(v) = ReparseData::decode(rest) {
                assert_eq!(ReparseData::decode(&v.encode()), Ok(v), "reparse data");
            }
        }
        9 => {
            if let Ok(v) = FileZeroDataInformation::decode(rest) {
                assert_eq!(v.encode(), rest, "zero data");
            }
        }
        10 => {
            if let Ok(v) = AllocatedRange::decode_list(rest) {
                assert_eq!(AllocatedRange::encode_list(&v), rest, "allocated ranges");
            }
        }
        11 => {
            let _ = decode_set_sparse(rest);
            if let Ok(v) = ObjectIdBuffer::decode(rest) {
                assert_eq!(v.encode(), rest, "object id");
            }
            // TimeoutSpecified is any non-zero byte for true and the padding is ignored, so
            // the value, not the bytes, must survive a re-encode (fuzz/regressions/smb2_ioctl).
            if let Ok(v) = PipeWaitRequest::decode(rest) {
                assert_eq!(PipeWaitRequest::decode(&v.encode()), Ok(v), "pipe wait");
            }
            if let Ok(v) = SymlinkErrorResponse::decode(rest) {
                let b = v.encode();
                assert_eq!(
                    SymlinkErrorResponse::decode(&b),
                    Ok(v),
                    "symlink error response"
                );
            }
        }
        _ => {
            if let Some(target) = mfsymlink::decode(rest) {
                let file = mfsymlink::encode(target);
                assert_eq!(
                    file.as_deref().and_then(mfsymlink::decode),
                    Some(target),
                    "MF symlink"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Goal: the fuzz entry points accept the inputs their targets start from (valid
    /// messages) without tripping their own assertions.
    #[test]
    fn seeds_pass() {
        let null_call = hex::decode(concat!(
            "00000001", "00000000", "00000002", "000186a3", "00000003", "00000000", "00000000",
            "00000000", "00000000", "00000000",
        ))
        .unwrap();
        fuzz_rpc_call(&null_call);
        fuzz_record(&crate::rpc::encode_record(&null_call));
        fuzz_portmap(&hex::decode("000186a5000000030000000600000000").unwrap());
        fuzz_mount(&hex::decode("000000072f6578706f727400").unwrap());
        fuzz_mount(&[]);
        fuzz_portmap(&[]);
    }

    /// Goal: the NTLM and SPNEGO seeds pass their entry points, and the NTLM seed built
    /// against the fuzz acceptor really authenticates (so the fuzzer starts on the success path).
    #[test]
    fn auth_seeds_pass() {
        for s in ntlm_seeds() {
            fuzz_ntlm(&s);
        }
        for s in spnego_seeds() {
            fuzz_spnego(&s);
        }
        let (mut a, _) = ntlm_fuzz_acceptor();
        let ok = a.authenticate(&ntlm_seeds()[3], ntlm_fuzz_lookup).unwrap();
        assert!(ok.mic_verified);
        // The SPNEGO seeds 0 (init) and 4 (AUTHENTICATE with mechListMIC) complete a session.
        let seeds = spnego_seeds();
        let mut s = crate::spnego::Acceptor::new(ntlm_fuzz_fresh());
        s.step(&seeds[0], ntlm_fuzz_lookup).unwrap();
        assert!(matches!(
            s.step(&seeds[4], ntlm_fuzz_lookup),
            Ok(crate::spnego::Step::Complete { .. })
        ));
        fuzz_ntlm(&[]);
        fuzz_spnego(&[]);
    }

    /// Goal: a poor man's fuzzer on the stable toolchain: seeded byte mutations (overwrite,
    /// truncate, extend) of every NTLM and SPNEGO seed go through the entry points, whose
    /// round-trip assertions must hold.
    #[test]
    fn mutated_auth_seeds() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        type Entry = fn(&[u8]);
        let targets: [(Entry, Vec<Vec<u8>>); 2] =
            [(fuzz_ntlm, ntlm_seeds()), (fuzz_spnego, spnego_seeds())];
        for (entry, seeds) in targets {
            for seed in &seeds {
                for _ in 0..400 {
                    let mut m = seed.clone();
                    for _ in 0..1 + next() % 4 {
                        let i = (next() as usize) % m.len().max(1);
                        match next() % 6 {
                            0 => m.truncate(i),
                            1 => m.push(next() as u8),
                            2 if i < m.len() => m[i] = m[i].wrapping_add(1),
                            3 if i < m.len() => m[i] = m[i].wrapping_sub(1),
                            _ if i < m.len() => m[i] = next() as u8,
                            _ => {}
                        }
                    }
                    entry(&m);
                }
            }
        }
    }

    /// Goal: the committed NTLM and SPNEGO corpora (encoder output plus the MS-NLMP 4.2.4
    /// messages and a captured Windows exchange) replay through their entry points here too,
    /// since the workspace-level replay test needs the heavy `tests` crate.
    #[test]
    fn committed_auth_corpora_replay() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        type Entry = fn(&[u8]);
        let targets: [(&str, Entry); 2] = [("ntlm", fuzz_ntlm), ("spnego", fuzz_spnego)];
        for (target, entry) in targets {
            let files: Vec<_> = std::fs::read_dir(root.join(target)).unwrap().collect();
            assert!(files.len() >= 5, "{target}: {} seeds", files.len());
            for f in files {
                entry(&std::fs::read(f.unwrap().path()).unwrap());
            }
        }
    }

    /// Writes the NTLM and SPNEGO seed corpora into fuzz/corpus/{ntlm,spnego}/, named by the
    /// first 40 hex digits of their SHA-256. Run by hand after changing an encoder:
    /// `cargo test -p protocol --features fuzzing --lib write_auth_seeds -- --ignored`.
    #[test]
    #[ignore = "writes into the source tree; run by hand"]
    fn write_auth_seeds() {
        use sha2::{Digest, Sha256};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        for (target, seeds) in [("ntlm", ntlm_seeds()), ("spnego", spnego_seeds())] {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            for s in seeds {
                let name = hex::encode(Sha256::digest(&s))[..40].to_string();
                std::fs::write(dir.join(name), s).unwrap();
            }
        }
    }

    proptest! {
        /// Goal: random bytes never panic the RPC, portmapper and MOUNT entry points (their
        /// re-encode assertions included).
        #[test]
        fn random_bytes(data in vec(any::<u8>(), 0..256)) {
            fuzz_record(&data);
            fuzz_rpc_call(&data);
            fuzz_portmap(&data);
            fuzz_mount(&data);
            fuzz_ntlm(&data);
            fuzz_spnego(&data);
        }
    }

    /// Valid inputs for the SMB2 file-command targets, built with the encoders: (target,
    /// input). They seed fuzz/corpus/smb2_{create,io,dir}/ (see `write_smb2_corpus`).
    fn smb2_seeds() -> Vec<(&'static str, Vec<u8>)> {
        use crate::smb2::create::*;
        use crate::smb2::dir::*;
        use crate::smb2::file::*;
        use crate::smb2::fileid::FileId;
        use crate::smb2::le::Writer;
        use crate::smb2::notify::*;

        fn body(sel: u8, f: impl FnOnce(&mut Writer)) -> Vec<u8> {
            let mut w = Writer::new();
            w.zeros(64);
            f(&mut w);
            let mut v = vec![sel];
            v.extend_from_slice(&w.as_slice()[64..]);
            v
        }
        let fid = FileId {
            persistent: 1,
            volatile: 0x1234,
        };
        let lease = Lease {
            key: [5; 16],
            state: LeaseState::READ_CACHING | LeaseState::WRITE_CACHING,
            flags: LeaseFlags::default(),
            duration: 0,
            v2: Some(LeaseV2 {
                parent_key: [0; 16],
                epoch: 3,
            }),
        };
        let posix = PosixCreateResponse {
            nlinks: 1,
            reparse_tag: 0,
            mode: 0o40755,
            owner_sid: unix_sid(1, 1000),
            group_sid: unix_sid(2, 1000),
        };
        let req = CreateRequest {
            security_flags: 0,
            oplock_level: OplockLevel::LEASE,
            impersonation_level: ImpersonationLevel::IMPERSONATION,
            smb_create_flags: 0,
            desired_access: AccessMask::GENERIC_READ | AccessMask::SYNCHRONIZE,
            file_attributes: FileAttributes::NORMAL,
            share_access: ShareAccess::READ | ShareAccess::WRITE | ShareAccess::DELETE,
            create_disposition: CreateDisposition::OPEN_IF,
            create_options: CreateOptions::NON_DIRECTORY_FILE,
            name: "dir\\file.txt".into(),
            contexts: vec![
                CreateContext::owned(names::MXAC, vec![]),
                CreateContext::owned(names::QFID, vec![]),
                lease.context(),
                CreateContext::owned(
                    names::DH2Q,
                    DurableV2Request {
                        timeout: 0,
                        flags: 0,
                        create_guid: [9; 16],
                    }
                    .encode(),
                ),
                PosixCreateRequest { mode: 0o644 }.context(),
            ],
        };
        let resp = CreateResponse {
            oplock_level: OplockLevel::LEASE,
            flags: 0,
            create_action: CreateAction::OPENED,
            creation_time: 133_000_000_000_000_000,
            last_access_time: 133_000_000_000_000_001,
            last_write_time: 133_000_000_000_000_002,
            change_time: 133_000_000_000_000_003,
            allocation_size: 4096,
            end_of_file: 12,
            file_attributes: FileAttributes::ARCHIVE,
            file_id: fid,
            contexts: vec![
                MxAcResponse {
                    query_status: crate::smb2::status::NtStatus::SUCCESS,
                    maximal_access: AccessMask(0x001f_01ff),
                }
                .context(),
                QFidResponse {
                    disk_file_id: 77,
                    volume_id: 1,
                }
                .context(),
                lease.response(LeaseState::READ_CACHING, 4, false).context(),
                posix.context(),
            ],
        };
        let mut out = vec![
            ("smb2_create", body(0, |w| req.encode(w))),
            (
                "smb2_create",
                body(0, |w| {
                    CreateRequest {
                        name: String::new(),
                        contexts: vec![],
                        create_options: CreateOptions::DIRECTORY_FILE,
                        ..req.clone()
                    }
                    .encode(w)
                }),
            ),
            ("smb2_create", body(1, |w| resp.encode(w))),
            (
                "smb2_create",
                body(1, |w| {
                    CreateResponse {
                        contexts: vec![],
                        ..resp.clone()
                    }
                    .encode(w)
                }),
            ),
        ];
        for ctxs in [&req.contexts, &resp.contexts] {
            let mut w = Writer::new();
            encode_contexts(&mut w, ctxs);
            let mut v = vec![2];
            v.extend_from_slice(w.as_slice());
            out.push(("smb2_create", v));
        }

        let io: Vec<Vec<u8>> = vec![
            body(0, |w| {
                CloseRequest {
                    flags: CloseRequest::POSTQUERY_ATTRIB,
                    file_id: fid,
                }
                .encode(w)
            }),
            body(1, |w| {
                CloseResponse {
                    flags: 1,
                    end_of_file: 10,
                    file_attributes: FileAttributes::ARCHIVE,
                    ..CloseResponse::default()
                }
                .encode(w)
            }),
            body(2, |w| FlushRequest { file_id: fid }.encode(w)),
            body(3, |w| EmptyResponse.encode(w)),
            body(4, |w| {
                ReadRequest {
                    padding: 0x50,
                    flags: ReadFlags::default(),
                    length: 65536,
                    offset: 0,
                    file_id: fid,
                    minimum_count: 0,
                    channel: Channel::NONE,
                    remaining_bytes: 0,
                    channel_info: &[],
                }
                .encode(w)
            }),
            body(5, |w| {
                ReadResponse {
                    data: b"file contents",
                    data_remaining: 0,
                    flags: 0,
                }
                .encode(w)
            }),
            body(6, |w| {
                WriteRequest {
                    offset: 4096,
                    file_id: fid,
                    channel: Channel::NONE,
                    remaining_bytes: 0,
                    channel_info: &[],
                    flags: WriteFlags::WRITE_THROUGH,
                    data: b"hello, world",
                }
                .encode(w)
            }),
            body(7, |w| {
                WriteResponse {
                    count: 12,
                    remaining: 0,
                }
                .encode(w)
            }),
            body(8, |w| {
                LockRequest {
                    lock_sequence: 0x11,
                    file_id: fid,
                    locks: vec![
                        LockElement {
                            offset: 0,
                            length: 100,
                            flags: LockFlags::EXCLUSIVE | LockFlags::FAIL_IMMEDIATELY,
                        },
                        LockElement {
                            offset: 200,
                            length: 1,
                            flags: LockFlags::UNLOCK,
                        },
                    ],
                }
                .encode(w)
            }),
            body(9, |w| {
                OplockBreak {
                    oplock_level: OplockLevel::II,
                    file_id: fid,
                }
                .encode(w)
            }),
            body(9, |w| {
                LeaseBreakNotification {
                    new_epoch: 5,
                    flags: LeaseBreakFlags::ACK_REQUIRED,
                    lease_key: [5; 16],
                    current_state: LeaseState(7),
                    new_state: LeaseState::READ_CACHING,
                    break_reason: 0,
                    access_mask_hint: 0,
                    share_mask_hint: 0,
                }
                .encode(w)
            }),
            body(9, |w| {
                LeaseBreakAck {
                    flags: 0,
                    lease_key: [5; 16],
                    state: LeaseState::READ_CACHING,
                    duration: 0,
                }
                .encode(w)
            }),
        ];
        out.extend(io.into_iter().map(|v| ("smb2_io", v)));

        let mut dir: Vec<Vec<u8>> = vec![
            body(0, |w| {
                QueryDirectoryRequest {
                    info_class: InfoClass::ID_BOTH_DIRECTORY,
                    flags: QueryDirectoryFlags::RESTART_SCANS,
                    file_index: 0,
                    file_id: fid,
                    pattern: "*".into(),
                    output_buffer_length: 65536,
                }
                .encode(w)
            }),
            body(2, |w| {
                ChangeNotifyRequest {
                    flags: ChangeNotifyRequest::WATCH_TREE,
                    output_buffer_length: 4096,
                    file_id: fid,
                    completion_filter: CompletionFilter::FILE_NAME | CompletionFilter::DIR_NAME,
                }
                .encode(w)
            }),
        ];
        let mut nb = NotifyBuffer::new(4096);
        nb.push(&FileNotifyInformation {
            action: NotifyAction::RENAMED_OLD_NAME,
            name: "old.txt".into(),
        });
        nb.push(&FileNotifyInformation {
            action: NotifyAction::RENAMED_NEW_NAME,
            name: "sub\\new.txt".into(),
        });
        let notify = nb.finish();
        dir.push(body(3, |w| {
            ChangeNotifyResponse { buffer: &notify }.encode(w)
        }));
        let mut v = vec![4];
        v.extend_from_slice(&notify);
        dir.push(v);
        for (p, n) in [("*.txt", "a.TXT"), ("<.txt", "a.b.txt"), ("a?c\"", "abc")] {
            let mut v = vec![5];
            v.extend_from_slice(p.as_bytes());
            v.push(0);
            v.extend_from_slice(n.as_bytes());
            dir.push(v);
        }
        let entries = [
            DirEntry {
                name: ".".into(),
                attributes: FileAttributes::DIRECTORY,
                file_id: 1,
                ..DirEntry::default()
            },
            DirEntry {
                name: "file.txt".into(),
                creation_time: 133_000_000_000_000_000,
                end_of_file: 12,
                allocation_size: 4096,
                attributes: FileAttributes::ARCHIVE,
                file_id: 77,
                short_name: Some("FILE.TXT".into()),
                posix: Some(PosixEntryInfo {
                    nlinks: 1,
                    mode: 0o100644,
                    device_id: 0,
                    owner_sid: unix_sid(1, 1000),
                    group_sid: unix_sid(2, 1000),
                }),
                ..DirEntry::default()
            },
        ];
        let classes = [
            InfoClass::DIRECTORY,
            InfoClass::FULL_DIRECTORY,
            InfoClass::BOTH_DIRECTORY,
            InfoClass::NAMES,
            InfoClass::ID_BOTH_DIRECTORY,
            InfoClass::ID_FULL_DIRECTORY,
            InfoClass::ID_EXTD_DIRECTORY,
            InfoClass::ID_ALL_EXTD_DIRECTORY,
            InfoClass::POSIX,
        ];
        for (i, class) in classes.into_iter().enumerate() {
            let mut b = DirBuffer::new(class, 65536);
            for e in &entries {
                assert!(b.push(e));
            }
            let buf = b.finish();
            if class == InfoClass::ID_BOTH_DIRECTORY {
                dir.push(body(1, |w| {
                    QueryDirectoryResponse { buffer: &buf }.encode(w)
                }));
            }
            let mut v = vec![6 + i as u8];
            v.extend_from_slice(&buf);
            dir.push(v);
        }
        out.extend(dir.into_iter().map(|v| ("smb2_dir", v)));
        out
    }

    fn smb2_entry(target: &str) -> fn(&[u8]) {
        match target {
            "smb2_create" => fuzz_smb2_create,
            "smb2_io" => fuzz_smb2_io,
            _ => fuzz_smb2_dir,
        }
    }

    /// Goal: the SMB2 file-command entry points accept valid messages built by the encoders
    /// (each one decodes, so the re-encode assertions run).
    #[test]
    fn smb2_seeds_pass() {
        for (target, input) in smb2_seeds() {
            smb2_entry(target)(&input);
        }
        fuzz_smb2_create(&[]);
        fuzz_smb2_io(&[]);
        fuzz_smb2_dir(&[]);
    }

    /// Goal: the committed corpus of the SMB2 file-command targets replays cleanly (the same
    /// check as tests/tests/fuzz_corpus.rs, without building the tests crate).
    #[test]
    fn smb2_corpus_replays() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        for target in ["smb2_create", "smb2_io", "smb2_dir"] {
            let dir = root.join(target);
            let files: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
            assert!(files.len() >= 5, "{target}: {} seeds", files.len());
            for f in files {
                let bytes = std::fs::read(f.unwrap().path()).unwrap();
                smb2_entry(target)(&bytes);
            }
        }
    }

    /// Writes the seeds of `smb2_seeds` into fuzz/corpus/<target>/<first 40 hex digits of
    /// their SHA-256>. Run by hand: `cargo test -p protocol --features fuzzing --lib
    /// write_smb2_corpus -- --ignored`.
    #[test]
    #[ignore = "writes fuzz/corpus; run by hand to regenerate the seeds"]
    fn write_smb2_corpus() {
        use sha2::{Digest, Sha256};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
        for (target, input) in smb2_seeds() {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            let name = hex::encode(Sha256::digest(&input))[..40].to_string();
            std::fs::write(dir.join(name), &input).unwrap();
        }
    }

    proptest! {
        /// Goal: random bytes never panic the SMB2 file-command entry points (their
        /// re-encode assertions included), whichever message the first byte picks.
        #[test]
        fn smb2_random_bytes(data in vec(any::<u8>(), 0..400)) {
            fuzz_smb2_create(&data);
            fuzz_smb2_io(&data);
            fuzz_smb2_dir(&data);
        }
    }
}

/// SMB2 direct-TCP framing: the bytes are fed to a [`crate::smb2::framing::FrameDecoder`] in
/// chunks whose sizes come from the data, until the data is used up or the stream is broken.
/// Each frame must respect the limit; SMB2 frames are split into compounds, SMB1 frames parsed
/// as a multi-protocol NEGOTIATE and encrypted frames split at their transform header.
pub fn fuzz_smb2_frame(data: &[u8]) {
    use crate::smb2::framing::{FrameDecoder, ProtocolId};
    use crate::smb2::{compound, limits, smb1, transform};
    let mut d = FrameDecoder::new();
    let mut buf = bytes::BytesMut::new();
    let mut rest = data;
    while let Some(&first) = rest.first() {
        let n = (usize::from(first) % 64 + 1).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match d.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(frame.len() <= limits::FRAME_MAX, "a frame over FRAME_MAX");
                    match ProtocolId::of(&frame) {
                        ProtocolId::Smb2 => {
                            let _ = compound::split(&frame);
                        }
                        ProtocolId::Smb1 => {
                            let _ = smb1::Smb1Negotiate::decode(&frame);
                        }
                        ProtocolId::Transform => {
                            let _ = transform::TransformHeader::split(&frame);
                        }
                        ProtocolId::Compression | ProtocolId::Unknown => {}
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// SMB2 compounds: the bytes are one frame, split by NextCommand; each element's header is
/// decoded and must re-encode to its first 64 bytes, the elements must tile the frame, and
/// joining them again with the compound builder must give the frame back (plus the padding of
/// the last element).
pub fn fuzz_smb2_compound(data: &[u8]) {
    use crate::smb2::compound;
    use crate::smb2::header::Header;
    let Ok(elements) = compound::split(data) else {
        return;
    };
    let _ = compound::check_chain(&elements);
    let mut at = 0;
    for e in &elements {
        assert_eq!(e.offset, at, "compound elements must tile the frame");
        at += e.bytes.len();
        if let Ok(h) = Header::decode(e.bytes) {
            assert_eq!(
                h.to_bytes().as_slice(),
                &e.bytes[..64],
                "a decoded SMB2 header must re-encode to its bytes"
            );
        }
    }
    assert_eq!(at, data.len(), "compound elements must cover the frame");
    let parts: Vec<&[u8]> = elements.iter().map(|e| e.bytes).collect();
    let joined = compound::join(&parts);
    assert_eq!(
        &joined[..data.len()],
        data,
        "re-joining a split compound must give the frame back"
    );
    assert!(
        joined.len() - data.len() < 8 && joined[data.len()..].iter().all(|&b| b == 0),
        "the builder pads the last element of a compound with fewer than 8 zeros"
    );
}

/// Encodes `body` after the first 64 bytes of `msg` (its header, whatever they hold), as the
/// SMB2 entry points re-encode a decoded message.
fn reencode_after_header(msg: &[u8], body: impl FnOnce(&mut crate::smb2::le::Writer)) -> Vec<u8> {
    let mut w = crate::smb2::le::Writer::new();
    w.bytes(&msg[..64.min(msg.len())]);
    body(&mut w);
    w.into_inner()
}

/// SMB2 NEGOTIATE: the bytes are one message (header and body) given to the request and the
/// response decoders; whatever decodes must decode again, equal, after re-encoding (the
/// encoding is not canonical: reserved fields, padding and offsets may differ).
pub fn fuzz_smb2_negotiate(data: &[u8]) {
    use crate::smb2::negotiate::{NegotiateRequest, NegotiateResponse};
    if let Ok(req) = NegotiateRequest::decode(data) {
        let again = reencode_after_header(data, |w| req.encode(w));
        assert_eq!(
            NegotiateRequest::decode(&again).as_ref(),
            Ok(&req),
            "a NEGOTIATE request must survive re-encoding"
        );
    }
    if let Ok(resp) = NegotiateResponse::decode(data) {
        let again = reencode_after_header(data, |w| resp.encode(w));
        assert_eq!(
            NegotiateResponse::decode(&again).as_ref(),
            Ok(&resp),
            "a NEGOTIATE response must survive re-encoding"
        );
    }
}

/// SMB2 session-level commands: the first byte picks the decoder (SESSION_SETUP, LOGOFF,
/// TREE_CONNECT, TREE_DISCONNECT, ECHO, CANCEL requests and responses, and the ERROR body),
/// the rest is one message (header and body). Whatever decodes must decode again, equal, after
/// re-encoding.
pub fn fuzz_smb2_session(data: &[u8]) {
    use crate::smb2::header::ErrorResponse;
    use crate::smb2::misc::{CancelRequest, EchoRequest, EchoResponse};
    use crate::smb2::session::{
        LogoffRequest, LogoffResponse, SessionSetupRequest, SessionSetupResponse,
    };
    use crate::smb2::tree::{
        TreeConnectRequest, TreeConnectResponse, TreeDisconnectRequest, TreeDisconnectResponse,
    };
    let Some((&which, msg)) = data.split_first() else {
        return;
    };
    if let Ok(e) = ErrorResponse::decode(msg) {
        let _ = e.contexts();
    }
    macro_rules! check {
        ($ty:ty) => {
            if let Ok(v) = <$ty>::decode(msg) {
                let again = reencode_after_header(msg, |w| v.encode(w));
                assert_eq!(
                    <$ty>::decode(&again).as_ref(),
                    Ok(&v),
                    concat!(stringify!($ty), " must survive re-encoding")
                );
            }
        };
    }
    match which % 12 {
        0 => check!(SessionSetupRequest<'_>),
        1 => check!(SessionSetupResponse<'_>),
        2 => check!(LogoffRequest),
        3 => check!(LogoffResponse),
        4 => check!(TreeConnectRequest<'_>),
        5 => check!(TreeConnectResponse),
        6 => check!(TreeDisconnectRequest),
        7 => check!(TreeDisconnectResponse),
        8 => check!(EchoRequest),
        9 => check!(EchoResponse),
        10 => check!(CancelRequest),
        _ => check!(ErrorResponse<'_>),
    }
}

/// The SMB2 TRANSFORM_HEADER: a header that decodes must re-encode to its 52 bytes (Reserved
/// aside, which is written as zero: a receiver takes the AAD from the bytes it received, with
/// [`crate::smb2::transform::aad`], never from a re-encoding), and the frame is also split as a server would before
/// decrypting.
pub fn fuzz_smb2_transform(data: &[u8]) {
    use crate::smb2::transform::{self, TRANSFORM_HEADER_LEN, TransformHeader};
    if let Ok(h) = TransformHeader::decode(data) {
        let mut raw = [0u8; TRANSFORM_HEADER_LEN];
        raw.copy_from_slice(&data[..TRANSFORM_HEADER_LEN]);
        raw[40..42].fill(0);
        let bytes = h.to_bytes();
        assert_eq!(bytes, raw, "a transform header must re-encode");
        assert_eq!(
            transform::aad(&bytes),
            &raw[20..52],
            "the AAD is bytes 20..52"
        );
    }
    if let Ok((h, payload)) = TransformHeader::split(data) {
        assert_eq!(payload.len(), h.original_message_size as usize);
    }
}

/// The SMB1 multi-protocol NEGOTIATE: what decodes must be consistent (the dialect chosen is
/// one the request offered).
pub fn fuzz_smb1_negotiate(data: &[u8]) {
    use crate::smb2::negotiate::Dialect;
    use crate::smb2::smb1::Smb1Negotiate;
    if let Ok(n) = Smb1Negotiate::decode(data) {
        match n.smb2_dialect() {
            Some(Dialect::SMB2_WILDCARD) => assert!(n.offers_smb2_wildcard),
            Some(d) => assert!(d == Dialect::SMB2_0_2 && n.offers_smb2_002),
            None => assert!(!n.offers_smb2_002 && !n.offers_smb2_wildcard),
        }
        assert!(
            n.dialect_count * 2 <= data.len(),
            "each dialect takes two bytes at least"
        );
    }
}

/// Seed inputs for the SMB2 envelope fuzz targets, built by the encoders, and the test that
/// writes them to `fuzz/corpus/<target>/` (run with `--ignored` to regenerate).
#[cfg(test)]
mod smb2_envelope_seeds {
    use std::path::PathBuf;

    use super::*;
    use crate::smb2::compound;
    use crate::smb2::framing::encode_frame;
    use crate::smb2::header::{
        Command, ErrorContext, ErrorResponse, Header, MessageId, SessionId, TreeId,
    };
    use crate::smb2::le::Writer;
    use crate::smb2::misc::{CancelRequest, EchoRequest, EchoResponse};
    use crate::smb2::negotiate::*;
    use crate::smb2::session::*;
    use crate::smb2::smb1::encode_negotiate;
    use crate::smb2::status::NtStatus;
    use crate::smb2::transform::TransformHeader;
    use crate::smb2::tree::*;

    type Target = (&'static str, fn(&[u8]));

    const TARGETS: [Target; 6] = [
        ("smb2_frame", fuzz_smb2_frame),
        ("smb2_compound", fuzz_smb2_compound),
        ("smb2_negotiate", fuzz_smb2_negotiate),
        ("smb2_session", fuzz_smb2_session),
        ("smb2_transform", fuzz_smb2_transform),
        ("smb1_negotiate", fuzz_smb1_negotiate),
    ];

    fn msg(command: Command, response: bool, body: impl FnOnce(&mut Writer)) -> Vec<u8> {
        let mut h = Header::new(command);
        h.message_id = MessageId(3);
        h.session_id = SessionId(0x11);
        h.id = crate::smb2::header::HeaderId::Sync {
            reserved: 0xfeff,
            tree_id: TreeId(1),
        };
        if response {
            h = h.response(NtStatus::SUCCESS, 1);
        }
        let mut w = Writer::new();
        h.encode(&mut w);
        body(&mut w);
        w.into_inner()
    }

    fn negotiate_request_311() -> Vec<u8> {
        let req = NegotiateRequest {
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities(0x7f),
            client_guid: [0x42; 16],
            client_start_time: 0,
            dialects: vec![
                Dialect::SMB2_0_2,
                Dialect::SMB2_1,
                Dialect::SMB3_0,
                Dialect::SMB3_0_2,
                Dialect::SMB3_1_1,
            ],
            contexts: vec![
                NegotiateContext::PreauthIntegrity {
                    hash_algorithms: vec![HashAlgorithm::SHA_512],
                    salt: &[7; 32],
                },
                NegotiateContext::Encryption {
                    ciphers: vec![Cipher::AES_128_GCM, Cipher::AES_128_CCM],
                },
                NegotiateContext::Signing {
                    algorithms: vec![SigningAlgorithm::AES_GMAC, SigningAlgorithm::AES_CMAC],
                },
                NegotiateContext::NetName {
                    name_utf16: &[b's', 0, b'r', 0, b'v', 0],
                },
                NegotiateContext::Compression {
                    flags: 0,
                    algorithms: vec![CompressionAlgorithm::LZ77],
                },
                NegotiateContext::POSIX,
            ],
        };
        msg(Command::NEGOTIATE, false, |w| req.encode(w))
    }

    fn negotiate_seeds() -> Vec<Vec<u8>> {
        let old = NegotiateRequest {
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::EMPTY,
            client_guid: [0; 16],
            client_start_time: 0,
            dialects: vec![Dialect::SMB2_0_2, Dialect::SMB2_1],
            contexts: vec![],
        };
        let resp = |dialect: Dialect, contexts: Vec<NegotiateContext<'static>>| {
            let r = NegotiateResponse {
                security_mode: SecurityMode::SIGNING_ENABLED,
                dialect,
                server_guid: [0x24; 16],
                capabilities: Capabilities::LARGE_MTU | Capabilities::LEASING,
                max_transact_size: 8 << 20,
                max_read_size: 8 << 20,
                max_write_size: 8 << 20,
                system_time: 133_000_000_000_000_000,
                server_start_time: 0,
                security_buffer: &[0x60, 0x28, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02],
                contexts,
            };
            msg(Command::NEGOTIATE, true, |w| r.encode(w))
        };
        vec![
            negotiate_request_311(),
            msg(Command::NEGOTIATE, false, |w| old.encode(w)),
            resp(
                Dialect::SMB3_1_1,
                vec![
                    NegotiateContext::PreauthIntegrity {
                        hash_algorithms: vec![HashAlgorithm::SHA_512],
                        salt: &[9; 32],
                    },
                    NegotiateContext::Encryption {
                        ciphers: vec![Cipher::AES_128_GCM],
                    },
                    NegotiateContext::Signing {
                        algorithms: vec![SigningAlgorithm::AES_GMAC],
                    },
                    NegotiateContext::POSIX,
                ],
            ),
            resp(Dialect::SMB2_1, vec![]),
            resp(Dialect::SMB2_WILDCARD, vec![]),
        ]
    }

    fn session_seeds() -> Vec<Vec<u8>> {
        let tagged = |tag: u8, m: Vec<u8>| {
            let mut v = vec![tag];
            v.extend_from_slice(&m);
            v
        };
        let ss_req = SessionSetupRequest {
            flags: SessionSetupFlags::EMPTY,
            security_mode: SecurityMode::SIGNING_ENABLED,
            capabilities: Capabilities::DFS,
            channel: 0,
            previous_session_id: SessionId(0),
            security_buffer: b"\x60\x48\x06\x06\x2b\x06\x01\x05\x05\x02NTLMSSP\0\x01\0\0\0",
        };
        let ss_resp = SessionSetupResponse {
            session_flags: SessionFlags::IS_GUEST,
            security_buffer: b"\xa1\x07\x30\x05\xa0\x03\x0a\x01\x00",
        };
        let tc_req = TreeConnectRequest {
            flags: TreeConnectFlags::EMPTY,
            path: "\\\\server\\share".into(),
            contexts: vec![],
        };
        let tc_ext = TreeConnectRequest {
            flags: TreeConnectFlags::EXTENSION_PRESENT,
            path: "\\\\h\\IPC$".into(),
            contexts: vec![TreeConnectContext {
                context_type: 1,
                data: &[1, 2, 3, 4],
            }],
        };
        let tc_resp = TreeConnectResponse {
            share_type: ShareType::DISK,
            share_flags: ShareFlags::NO_CACHING | ShareFlags::ENCRYPT_DATA,
            capabilities: ShareCapabilities::EMPTY,
            maximal_access: 0x001f_01ff,
        };
        let err = ErrorResponse {
            error_context_count: 0,
            error_data: &[],
        };
        vec![
            tagged(0, msg(Command::SESSION_SETUP, false, |w| ss_req.encode(w))),
            tagged(1, msg(Command::SESSION_SETUP, true, |w| ss_resp.encode(w))),
            tagged(2, msg(Command::LOGOFF, false, |w| LogoffRequest.encode(w))),
            tagged(3, msg(Command::LOGOFF, true, |w| LogoffResponse.encode(w))),
            tagged(4, msg(Command::TREE_CONNECT, false, |w| tc_req.encode(w))),
            tagged(4, msg(Command::TREE_CONNECT, false, |w| tc_ext.encode(w))),
            tagged(5, msg(Command::TREE_CONNECT, true, |w| tc_resp.encode(w))),
            tagged(
                6,
                msg(Command::TREE_DISCONNECT, false, |w| {
                    TreeDisconnectRequest.encode(w)
                }),
            ),
            tagged(
                7,
                msg(Command::TREE_DISCONNECT, true, |w| {
                    TreeDisconnectResponse.encode(w)
                }),
            ),
            tagged(8, msg(Command::ECHO, false, |w| EchoRequest.encode(w))),
            tagged(9, msg(Command::ECHO, true, |w| EchoResponse.encode(w))),
            tagged(10, msg(Command::CANCEL, false, |w| CancelRequest.encode(w))),
            tagged(11, msg(Command::CREATE, true, |w| err.encode(w))),
            tagged(
                11,
                msg(Command::TREE_CONNECT, true, |w| {
                    ErrorResponse {
                        error_context_count: 2,
                        error_data: &ErrorContext::encode_all(&[
                            ErrorContext {
                                error_id: ErrorContext::DEFAULT,
                                data: &[1, 2, 3],
                            },
                            ErrorContext {
                                error_id: ErrorContext::SHARE_REDIRECT,
                                data: &[0; 12],
                            },
                        ]),
                    }
                    .encode(w)
                }),
            ),
        ]
    }

    fn compound_seeds() -> Vec<Vec<u8>> {
        let echo = msg(Command::ECHO, false, |w| EchoRequest.encode(w));
        let mut related = msg(Command::TREE_DISCONNECT, false, |w| {
            TreeDisconnectRequest.encode(w)
        });
        related[16] |= 4;
        let odd = msg(Command::LOGOFF, false, |w| {
            LogoffRequest.encode(w);
            w.u8(0);
        });
        vec![
            echo.clone(),
            compound::join(&[&echo, &related, &related]),
            compound::join(&[&odd, &echo, &odd]),
            negotiate_request_311(),
        ]
    }

    fn transform_seeds() -> Vec<Vec<u8>> {
        let plain = msg(Command::ECHO, false, |w| EchoRequest.encode(w));
        let mut gcm_nonce = [0u8; 16];
        gcm_nonce[..12].copy_from_slice(&[0xa5; 12]);
        let mut ccm_nonce = [0u8; 16];
        ccm_nonce[..11].copy_from_slice(&[0x5a; 11]);
        let frame = |nonce| {
            let mut h = TransformHeader::new(nonce, plain.len() as u32, SessionId(0x11));
            h.signature = [0xcc; 16];
            let mut v = h.to_bytes().to_vec();
            v.extend_from_slice(&plain);
            v
        };
        vec![frame(gcm_nonce), frame(ccm_nonce)]
    }

    fn smb1_seeds() -> Vec<Vec<u8>> {
        vec![
            encode_negotiate(&["NT LM 0.12", "SMB 2.002", "SMB 2.???"]),
            encode_negotiate(&[
                "PC NETWORK PROGRAM 1.0",
                "MICROSOFT NETWORKS 1.03",
                "MICROSOFT NETWORKS 3.0",
                "LANMAN1.0",
                "LM1.2X002",
                "DOS LANMAN2.1",
                "LANMAN2.1",
                "Samba",
                "NT LANMAN 1.0",
                "NT LM 0.12",
                "SMB 2.002",
                "SMB 2.???",
            ]),
            encode_negotiate(&["NT LM 0.12", "SMB 2.002"]),
            encode_negotiate(&["NT LM 0.12"]),
        ]
    }

    fn frame_seeds() -> Vec<Vec<u8>> {
        let mut two = encode_frame(&smb1_seeds()[0]);
        two.extend_from_slice(&encode_frame(&negotiate_request_311()));
        vec![
            encode_frame(&negotiate_request_311()),
            encode_frame(&compound_seeds()[1]),
            encode_frame(&transform_seeds()[0]),
            two,
        ]
    }

    fn seeds() -> Vec<(&'static str, Vec<Vec<u8>>)> {
        vec![
            ("smb2_frame", frame_seeds()),
            ("smb2_compound", compound_seeds()),
            ("smb2_negotiate", negotiate_seeds()),
            ("smb2_session", session_seeds()),
            ("smb2_transform", transform_seeds()),
            ("smb1_negotiate", smb1_seeds()),
        ]
    }

    fn corpus_dir(target: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target)
    }

    fn entry(target: &str) -> fn(&[u8]) {
        TARGETS
            .iter()
            .find(|(t, _)| *t == target)
            .map(|(_, f)| *f)
            .unwrap()
    }

    /// Goal: every seed goes through its entry point without tripping its assertions, and
    /// the seeds decode as what they are meant to be (so the corpus starts deep).
    #[test]
    fn seeds_pass_and_decode() {
        for (target, inputs) in seeds() {
            for input in &inputs {
                entry(target)(input);
            }
        }
        for m in negotiate_seeds().iter().take(2) {
            NegotiateRequest::decode(m).unwrap();
        }
        for s in session_seeds() {
            assert!(s.len() > 64 + 4);
        }
        for f in compound_seeds() {
            compound::split(&f).unwrap();
        }
        for t in transform_seeds() {
            TransformHeader::split(&t).unwrap();
        }
    }

    /// Goal: the committed corpus of each SMB2 envelope target replays through its entry
    /// point (the stable-toolchain replay without the tests crate).
    #[test]
    fn committed_corpus_replays() {
        for (target, f) in TARGETS {
            let dir = corpus_dir(target);
            let Ok(entries) = std::fs::read_dir(&dir) else {
                panic!("{} is missing", dir.display());
            };
            let mut n = 0;
            for e in entries {
                f(&std::fs::read(e.unwrap().path()).unwrap());
                n += 1;
            }
            assert!(n >= 2, "{target}: {n} corpus inputs");
        }
    }

    /// Writes the seeds to fuzz/corpus/<target>/, named by the hex of the first 20 bytes of
    /// their SHA-256. Run: `cargo test -p protocol --features fuzzing --lib write_smb2_corpus
    /// -- --ignored`.
    #[test]
    #[ignore = "writes files into fuzz/corpus"]
    fn write_smb2_corpus() {
        use sha2::Digest;
        for (target, inputs) in seeds() {
            let dir = corpus_dir(target);
            std::fs::create_dir_all(&dir).unwrap();
            for input in inputs {
                let name = hex::encode(&sha2::Sha256::digest(&input)[..20]);
                std::fs::write(dir.join(name), input).unwrap();
            }
        }
    }

    proptest::proptest! {
        /// Goal: random bytes never panic the SMB2 envelope entry points, nor trip their
        /// re-encoding assertions.
        #[test]
        fn random_bytes(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            for (_, f) in TARGETS {
                f(&data);
            }
        }

        /// Goal: mutated seeds (a few bytes changed) never trip the assertions either; they
        /// reach deeper than random bytes.
        #[test]
        fn mutated_seeds(which in 0usize..64,
                         muts in proptest::collection::vec((0usize..400, proptest::prelude::any::<u8>()), 1..5)) {
            let all: Vec<(&str, Vec<u8>)> = seeds()
                .into_iter()
                .flat_map(|(t, v)| v.into_iter().map(move |i| (t, i)))
                .collect();
            let (target, mut input) = all[which % all.len()].clone();
            for (at, byte) in muts {
                let at = at % input.len();
                input[at] = byte;
            }
            entry(target)(&input);
        }
    }
}

#[cfg(test)]
mod crypto_credit_dcerpc_tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Writes the seed corpora of the SMB2 crypto, credits and DCE/RPC targets from the
    /// encoders (run by hand: `cargo test -p protocol --features fuzzing --lib
    /// write_smb_seed_corpus -- --ignored`); file names are a hash of the content.
    #[test]
    #[ignore = "writes fuzz/corpus; run by hand"]
    fn write_smb_seed_corpus() {
        use sha2::{Digest, Sha256};

        use crate::dcerpc::{
            Bind, ContextElem, PFC_FIRST_FRAG, PFC_LAST_FRAG, Pdu, PduBody, Request, SyntaxId,
        };
        use crate::smb2::crypto::{self, Cipher, SigningAlgorithm};
        use crate::srvsvc::{self, Share, ShareEnumRequest, SrvsvcRequest};

        fn write(target: &str, data: &[u8]) {
            let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../fuzz/corpus")
                .join(target);
            std::fs::create_dir_all(&dir).unwrap();
            let name = hex::encode(&Sha256::digest(data)[..20]);
            std::fs::write(dir.join(name), data).unwrap();
        }

        let mut msg = vec![0u8; 72];
        msg[..4].copy_from_slice(b"\xfeSMB");
        msg[4] = 64;
        msg[64..].copy_from_slice(b"payload!");
        for id in 1..=4 {
            let c = Cipher::from_id(id).unwrap();
            let frame =
                crypto::encrypt(c, &vec![0x5a; c.key_len()], &[id as u8; 16], 9, &msg).unwrap();
            write("smb2_crypto", &frame);
        }
        for alg in [
            SigningAlgorithm::HmacSha256,
            SigningAlgorithm::AesCmac,
            SigningAlgorithm::AesGmac,
        ] {
            let mut m = msg.clone();
            crypto::sign(alg, &[0x5a; 16], &mut m).unwrap();
            write("smb2_crypto", &m);
        }
        write("smb2_crypto", &[0xfd, b'S', b'M', b'B']);

        write("credits", &[7, 0, 0, 1, 0, 3, 0, 0, 5]);
        write(
            "credits",
            &[255, 3, 0, 0, 200, 0, 0, 1, 0, 1, 1, 3, 0, 131, 0, 0, 4],
        );
        write("credits", &[0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 1, 1, 0]);
        write(
            "credits",
            &[31, 0, 0, 0, 0, 131, 0, 2, 255, 0, 1, 7, 0, 1, 9, 0, 0],
        );

        let bind = Pdu {
            flags: PFC_FIRST_FRAG | PFC_LAST_FRAG,
            call_id: 1,
            body: PduBody::Bind(Bind {
                max_xmit_frag: 4280,
                max_recv_frag: 4280,
                assoc_group_id: 0,
                contexts: vec![ContextElem {
                    context_id: 0,
                    abstract_syntax: srvsvc::SRVSVC,
                    transfer_syntaxes: vec![SyntaxId::NDR],
                }],
            }),
        };
        write("dcerpc", &bind.encode());
        let PduBody::Bind(b) = &bind.body else {
            unreachable!()
        };
        let ack = Pdu {
            flags: 3,
            call_id: 1,
            body: PduBody::BindAck(b.accept(&[srvsvc::SRVSVC], 0x5364, srvsvc::PIPE_NAME)),
        };
        write("dcerpc", &ack.encode());
        let enum_req = SrvsvcRequest::ShareEnum(ShareEnumRequest {
            server_name: Some("\\\\srv".into()),
            level: 1,
            prefered_maximum_length: u32::MAX,
            resume_handle: Some(0),
        });
        let req = Pdu {
            flags: 3,
            call_id: 2,
            body: PduBody::Request(Request {
                alloc_hint: 0,
                context_id: 0,
                opnum: 15,
                object: None,
                stub: enum_req.encode(),
            }),
        };
        write("dcerpc", &req.encode());
        // BIND then REQUEST in one write: the pipe binds, then answers the call.
        write("dcerpc", &[bind.encode(), req.encode()].concat());
        write("dcerpc", &enum_req.encode());
        let shares = [
            Share {
                name: "export".into(),
                remark: "DittoFS".into(),
                ..Share::default()
            },
            Share {
                name: "IPC$".into(),
                share_type: srvsvc::share_type::IPC_HIDDEN,
                ..Share::default()
            },
        ];
        let SrvsvcRequest::ShareEnum(q) = &enum_req else {
            unreachable!()
        };
        write(
            "dcerpc",
            &srvsvc::ShareEnumResponse::answer(q, &shares).encode(),
        );
        let gi = srvsvc::ShareGetInfoRequest {
            server_name: None,
            net_name: "export".into(),
            level: 2,
        };
        write("dcerpc", &SrvsvcRequest::ShareGetInfo(gi.clone()).encode());
        write(
            "dcerpc",
            &srvsvc::ShareGetInfoResponse::answer(&gi, Some(&shares[0])).encode(),
        );
        let si = srvsvc::ServerGetInfoRequest {
            server_name: None,
            level: 101,
        };
        write("dcerpc", &SrvsvcRequest::ServerGetInfo(si.clone()).encode());
        let info = srvsvc::ServerInfo {
            platform_id: srvsvc::PLATFORM_ID_NT,
            name: "DITTOFS".into(),
            ..srvsvc::ServerInfo::default()
        };
        write(
            "dcerpc",
            &srvsvc::ServerGetInfoResponse::answer(&si, &info).encode(),
        );
    }

    proptest! {
        /// Goal: random bytes never panic the SMB2 crypto, credit window and DCE/RPC entry
        /// points.
        #[test]
        fn random_bytes(data in vec(any::<u8>(), 0..256)) {
            fuzz_smb2_crypto(&data);
            fuzz_credits(&data);
            fuzz_dcerpc(&data);
        }
    }
}

#[cfg(test)]
mod smb2_info_tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    /// Valid inputs for the SMB2 info, security and ioctl targets, built by the encoders:
    /// (target, input). The committed seed corpus is these (see `write_smb2_info_corpus`).
    fn smb2_info_seeds() -> Vec<(&'static str, Vec<u8>)> {
        use crate::smb2::fscc::*;
        use crate::smb2::info::*;
        use crate::smb2::ioctl::*;
        use crate::smb2::le::Writer;
        use crate::smb2::security::*;

        let msg = |sel: u8, f: &dyn Fn(&mut Writer)| {
            let mut w = Writer::new();
            w.bytes(&[0xfe, b'S', b'M', b'B', 64, 0]);
            w.zeros(58);
            f(&mut w);
            [vec![sel], w.into_inner()].concat()
        };
        let tagged = |sel: u8, b: Vec<u8>| [vec![sel], b].concat();
        let class_sel = |t: InfoType, c: u8| {
            if t == InfoType::FILESYSTEM {
                0x80 | c
            } else {
                c
            }
        };
        let any = |v: AnyInfo, t: InfoType, c: u8| tagged(class_sel(t, c), v.encode());
        let fid = [0x11; 16];
        let mut out = vec![];
        let info = "smb2_info";
        out.push((
            info,
            msg(0, &|w| {
                QueryInfoRequest {
                    info_type: InfoType::FILE,
                    info_class: 18,
                    output_buffer_length: 4096,
                    additional_information: 0,
                    flags: 0,
                    file_id: fid,
                    input_buffer: vec![],
                }
                .encode(w)
            }),
        ));
        out.push((
            info,
            msg(0, &|w| {
                QueryInfoRequest {
                    info_type: InfoType::SECURITY,
                    info_class: 0,
                    output_buffer_length: 4096,
                    additional_information: 7,
                    flags: 0,
                    file_id: fid,
                    input_buffer: vec![],
                }
                .encode(w)
            }),
        ));
        out.push((
            info,
            msg(1, &|w| {
                QueryInfoResponse {
                    output_buffer: FileStandardInformation::default().encode(),
                }
                .encode(w)
            }),
        ));
        out.push((
            info,
            msg(2, &|w| {
                SetInfoRequest {
                    info_type: InfoType::FILE,
                    info_class: 10,
                    additional_information: 0,
                    file_id: fid,
                    buffer: FileRenameInformation {
                        replace_if_exists: true,
                        root_directory: 0,
                        file_name: "dir\\new.txt".into(),
                    }
                    .encode(),
                }
                .encode(w)
            }),
        ));
        out.push((info, msg(3, &|w| SetInfoResponse.encode(w))));
        out.push((
            info,
            tagged(
                0x80,
                encode_get_ea_list(&[b"user.x".to_vec(), b"y".to_vec()]),
            ),
        ));
        out.push((
            info,
            tagged(
                0xff,
                FileQuotaInformation {
                    entries: vec![QuotaEntry {
                        change_time: 1,
                        quota_used: 4096,
                        quota_threshold: u64::MAX,
                        quota_limit: u64::MAX,
                        sid: Sid::unix_user(1000),
                    }],
                }
                .encode(),
            ),
        ));
        out.push((
            info,
            tagged(
                0xff,
                QueryQuotaInfo {
                    return_single: false,
                    restart_scan: true,
                    sid_list: vec![Sid::unix_user(1000)],
                    start_sid: None,
                }
                .encode(),
            ),
        ));
        out.push((
            info,
            tagged(
                0x8b,
                FileFsSectorSizeInformation {
                    logical_bytes_per_sector: 512,
                    physical_bytes_per_sector_for_atomicity: 4096,
                    physical_bytes_per_sector_for_performance: 4096,
                    effective_physical_bytes_per_sector_for_atomicity: 4096,
                    flags: 3,
                    byte_offset_for_sector_alignment: 0,
                    byte_offset_for_partition_alignment: 0,
                }
                .encode(),
            ),
        ));
        out.push((
            info,
            tagged(
                59,
                FileIdInformation {
                    volume_serial_number: 7,
                    file_id: [1; 16],
                }
                .encode(),
            ),
        ));
        let times = FileBasicInformation {
            creation_time: 133_000_000_000_000_000,
            last_access_time: 1,
            last_write_time: 2,
            change_time: 3,
            file_attributes: attributes::ARCHIVE,
        };
        out.push((info, any(AnyInfo::Basic(times), InfoType::FILE, 4)));
        out.push((
            info,
            any(
                AnyInfo::All(FileAllInformation {
                    basic: times,
                    name: FileNameInformation {
                        file_name: "\\a.txt".into(),
                    },
                    ..Default::default()
                }),
                InfoType::FILE,
                18,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::Stream(FileStreamInformation {
                    streams: vec![
                        StreamEntry {
                            name: "::$DATA".into(),
                            size: 10,
                            allocation_size: 4096,
                        },
                        StreamEntry {
                            name: ":s:$DATA".into(),
                            size: 1,
                            allocation_size: 8,
                        },
                    ],
                }),
                InfoType::FILE,
                22,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::FullEa(FileFullEaInformation {
                    entries: vec![
                        FullEa {
                            flags: 0,
                            name: b"user.a".to_vec(),
                            value: b"1".to_vec(),
                        },
                        FullEa {
                            flags: 0x80,
                            name: b"B".to_vec(),
                            value: vec![],
                        },
                    ],
                }),
                InfoType::FILE,
                15,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::NetworkOpen(FileNetworkOpenInformation {
                    end_of_file: 5,
                    ..Default::default()
                }),
                InfoType::FILE,
                34,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::Posix(FilePosixInformation {
                    creation_time: 1,
                    last_access_time: 2,
                    last_write_time: 3,
                    change_time: 4,
                    end_of_file: 5,
                    allocation_size: 6,
                    file_attributes: 0x10,
                    inode: 7,
                    device: 8,
                    reserved: 0,
                    nlinks: 2,
                    reparse_tag: 0,
                    mode: 0o755,
                    owner: Sid::unix_user(0),
                    group: Sid::unix_group(0),
                }),
                InfoType::FILE,
                100,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::FsAttribute(FileFsAttributeInformation {
                    file_system_attributes: 0x8f,
                    maximum_component_name_length: 255,
                    file_system_name: "NTFS".into(),
                }),
                InfoType::FILESYSTEM,
                5,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::FsVolume(FileFsVolumeInformation {
                    volume_creation_time: 1,
                    volume_serial_number: 2,
                    supports_objects: false,
                    volume_label: "share".into(),
                }),
                InfoType::FILESYSTEM,
                1,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::FsFullSize(FileFsFullSizeInformation {
                    total_allocation_units: 100,
                    caller_available_allocation_units: 50,
                    actual_available_allocation_units: 50,
                    sectors_per_allocation_unit: 8,
                    bytes_per_sector: 512,
                }),
                InfoType::FILESYSTEM,
                7,
            ),
        ));
        out.push((
            info,
            any(
                AnyInfo::DispositionEx(FileDispositionInformationEx {
                    flags: disposition_ex::DELETE | disposition_ex::POSIX_SEMANTICS,
                }),
                InfoType::FILE,
                64,
            ),
        ));

        let sec = "smb2_security";
        out.push((
            sec,
            tagged(0, from_mode(1000, 100, 0o755, true, 0xf).encode()),
        ));
        out.push((
            sec,
            tagged(0, from_mode(0, 0, 0o600, false, secinfo::DACL).encode()),
        ));
        out.push((
            sec,
            tagged(
                0,
                SecurityDescriptor {
                    control: control::SELF_RELATIVE | control::DACL_PRESENT,
                    owner: Some(Sid::builtin_administrators()),
                    group: Some(Sid::local_system()),
                    sacl: Some(Acl::new(vec![])),
                    dacl: None,
                }
                .encode(),
            ),
        ));
        out.push((
            sec,
            tagged(1, b"S-1-5-21-1004336348-1177238915-682003330-512".to_vec()),
        ));
        out.push((sec, tagged(1, b"S-1-22-1-1000".to_vec())));
        out.push((sec, tagged(2, Sid::everyone().encode())));
        let mut acl = Writer::new();
        Acl::new(vec![
            Ace::allow(
                Sid::everyone(),
                access::FILE_GENERIC_READ,
                ace_flags::OBJECT_INHERIT,
            ),
            Ace::deny(Sid::unix_group(5), access::FILE_WRITE_DATA, 0),
        ])
        .write(&mut acl);
        out.push((sec, tagged(3, acl.into_inner())));

        let io = "smb2_ioctl";
        let vni = ValidateNegotiateInfoRequest {
            capabilities: 0x7f,
            guid: [0xaa; 16],
            security_mode: 1,
            dialects: vec![0x0202, 0x0210, 0x0300, 0x0302, 0x0311],
        };
        out.push((
            io,
            msg(0, &|w| {
                IoctlRequest {
                    ctl_code: CtlCode::VALIDATE_NEGOTIATE_INFO,
                    file_id: [0xff; 16],
                    input: vni.encode(),
                    output: vec![],
                    max_input_response: 0,
                    max_output_response: 24,
                    flags: IOCTL_IS_FSCTL,
                }
                .encode(w)
            }),
        ));
        out.push((
            io,
            msg(1, &|w| {
                IoctlResponse {
                    ctl_code: CtlCode::SRV_REQUEST_RESUME_KEY,
                    file_id: fid,
                    input: vec![],
                    output: ResumeKeyResponse {
                        resume_key: [5; 24],
                        context: vec![],
                    }
                    .encode(),
                    flags: 0,
                }
                .encode(w)
            }),
        ));
        out.push((io, tagged(2, vni.encode())));
        out.push((
            io,
            tagged(
                3,
                ValidateNegotiateInfoResponse {
                    capabilities: 0x2f,
                    guid: [0xbb; 16],
                    security_mode: 1,
                    dialect: 0x0311,
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                4,
                NetworkInterfaceInfo::encode_list(&[
                    NetworkInterfaceInfo {
                        if_index: 1,
                        capability: interface_capability::RSS,
                        link_speed: 1_000_000_000,
                        addr: "10.0.0.2:0".parse().unwrap(),
                    },
                    NetworkInterfaceInfo {
                        if_index: 2,
                        capability: 0,
                        link_speed: 1_000_000_000,
                        addr: "[fd00::2]:0".parse().unwrap(),
                    },
                ]),
            ),
        ));
        out.push((
            io,
            tagged(
                5,
                ResumeKeyResponse {
                    resume_key: [9; 24],
                    context: vec![],
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                6,
                CopyChunkRequest {
                    source_key: [9; 24],
                    chunks: vec![
                        CopyChunk {
                            source_offset: 0,
                            target_offset: 0,
                            length: 65536,
                        },
                        CopyChunk {
                            source_offset: 65536,
                            target_offset: 65536,
                            length: 100,
                        },
                    ],
                }
                .encode(),
            ),
        ));
        out.push((io, tagged(7, CopyChunkResponse::LIMITS.encode())));
        out.push((
            io,
            tagged(
                8,
                ReparseData::Symlink(SymlinkReparse {
                    substitute_name: "..\\target".into(),
                    print_name: "..\\target".into(),
                    flags: SYMLINK_FLAG_RELATIVE,
                })
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                9,
                FileZeroDataInformation {
                    file_offset: 4096,
                    beyond_final_zero: 8192,
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                10,
                AllocatedRange::encode_list(&[AllocatedRange {
                    file_offset: 0,
                    length: 65536,
                }]),
            ),
        ));
        out.push((io, tagged(11, vec![1])));
        out.push((
            io,
            tagged(
                11,
                ObjectIdBuffer {
                    object_id: [3; 16],
                    birth_volume_id: [4; 16],
                    birth_object_id: [3; 16],
                    domain_id: [0; 16],
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                11,
                PipeWaitRequest {
                    timeout: 0,
                    timeout_specified: false,
                    name: "srvsvc".into(),
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                11,
                SymlinkErrorResponse {
                    unparsed_path_length: 0,
                    link: SymlinkReparse {
                        substitute_name: "\\??\\C:\\x".into(),
                        print_name: "C:\\x".into(),
                        flags: 0,
                    },
                }
                .encode(),
            ),
        ));
        out.push((
            io,
            tagged(
                12,
                crate::smb2::mfsymlink::encode(b"../some/target").unwrap(),
            ),
        ));
        out
    }

    /// Goal: the SMB2 info, security and ioctl entry points accept valid inputs from the
    /// encoders, and every seed is something the decoders accept.
    #[test]
    fn smb2_info_seeds_pass() {
        use crate::smb2::fscc::{AnyInfo, InfoType};
        use crate::smb2::{info, ioctl, mfsymlink, security};
        for (target, input) in smb2_info_seeds() {
            let (sel, rest) = (input[0], &input[1..]);
            let accepted = match (target, sel) {
                ("smb2_info", 0) => info::QueryInfoRequest::decode(rest).is_ok(),
                ("smb2_info", 1) => info::QueryInfoResponse::decode(rest).is_ok(),
                ("smb2_info", 2) => info::SetInfoRequest::decode(rest).is_ok(),
                ("smb2_info", 3) => info::SetInfoResponse::decode(rest).is_ok(),
                ("smb2_info", 0x80) => crate::smb2::fscc::decode_get_ea_list(rest).is_ok(),
                ("smb2_info", 0xff) => {
                    info::QueryQuotaInfo::decode(rest).is_ok()
                        || matches!(AnyInfo::decode(InfoType::QUOTA, 0, rest), Ok(Some(_)))
                }
                ("smb2_info", n) => {
                    let t = if n & 0x80 != 0 {
                        InfoType::FILESYSTEM
                    } else {
                        InfoType::FILE
                    };
                    matches!(AnyInfo::decode(t, n & 0x7f, rest), Ok(Some(_)))
                }
                ("smb2_security", 0) => security::SecurityDescriptor::decode(rest).is_ok(),
                ("smb2_security", 1) => std::str::from_utf8(rest)
                    .unwrap()
                    .parse::<security::Sid>()
                    .is_ok(),
                ("smb2_security", 2) => security::Sid::decode(rest).is_ok(),
                ("smb2_security", _) => security::Acl::decode(rest).is_ok(),
                (_, 0) => ioctl::IoctlRequest::decode(rest).is_ok(),
                (_, 1) => ioctl::IoctlResponse::decode(rest).is_ok(),
                (_, 2) => ioctl::ValidateNegotiateInfoRequest::decode(rest).is_ok(),
                (_, 3) => ioctl::ValidateNegotiateInfoResponse::decode(rest).is_ok(),
                (_, 4) => ioctl::NetworkInterfaceInfo::decode_list(rest).is_ok(),
                (_, 5) => ioctl::ResumeKeyResponse::decode(rest).is_ok(),
                (_, 6) => ioctl::CopyChunkRequest::decode(rest).is_ok(),
                (_, 7) => ioctl::CopyChunkResponse::decode(rest).is_ok(),
                (_, 8) => ioctl::ReparseData::decode(rest).is_ok(),
                (_, 9) => ioctl::FileZeroDataInformation::decode(rest).is_ok(),
                (_, 10) => ioctl::AllocatedRange::decode_list(rest).is_ok(),
                (_, 11) => {
                    ioctl::decode_set_sparse(rest).is_ok()
                        || ioctl::SymlinkErrorResponse::decode(rest).is_ok()
                        || ioctl::ObjectIdBuffer::decode(rest).is_ok()
                        || ioctl::PipeWaitRequest::decode(rest).is_ok()
                }
                (_, _) => mfsymlink::decode(rest).is_some(),
            };
            assert!(
                accepted,
                "{target} seed {sel} is not accepted by its decoder"
            );
            match target {
                "smb2_info" => fuzz_smb2_info(&input),
                "smb2_security" => fuzz_smb2_security(&input),
                _ => fuzz_smb2_ioctl(&input),
            }
        }
    }

    /// Writes the seed corpus for smb2_info, smb2_security and smb2_ioctl into
    /// `$DITTOFS_WRITE_CORPUS/<target>/` (files named by the SHA-256 of their contents, cut
    /// to 40 hex digits). Run with `DITTOFS_WRITE_CORPUS=../fuzz/corpus cargo test -p
    /// protocol --features fuzzing --lib write_smb2_info_corpus -- --ignored`.
    #[test]
    #[ignore = "writes files; run by hand to regenerate the seed corpus"]
    fn write_smb2_info_corpus() {
        use sha2::{Digest, Sha256};
        let root = std::path::PathBuf::from(std::env::var("DITTOFS_WRITE_CORPUS").unwrap());
        for (target, input) in smb2_info_seeds() {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            let name = hex::encode(Sha256::digest(&input))[..40].to_owned();
            std::fs::write(dir.join(name), &input).unwrap();
        }
    }

    proptest! {
        /// Goal: random bytes never panic the SMB2 info, security and ioctl entry points.
        #[test]
        fn smb2_info_random_bytes(data in vec(any::<u8>(), 0..300)) {
            fuzz_smb2_info(&data);
            fuzz_smb2_security(&data);
            fuzz_smb2_ioctl(&data);
        }
    }
}

#[cfg(test)]
mod lock_manager_tests {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;
    use crate::nlm4::{self, NetObj, Nlm4Lock, Nlm4LockArgs, Nlm4Notify, Nlm4TestArgs};
    use crate::nsm::{self, Mon, MonId, MyId, StatChge};

    /// The seeds of the nlm and nsm targets: a LOCK, TEST and FREE_ALL as Linux sends them,
    /// and SM_MON, SM_NOTIFY as statd sends them.
    fn seeds() -> Vec<(&'static str, Vec<u8>)> {
        let alock = Nlm4Lock {
            caller_name: b"vm",
            fh: NetObj(&[7; 37]),
            oh: NetObj(b"1234@vm"),
            svid: 1234,
            l_offset: 0,
            l_len: 100,
        };
        let lock = nlm4::Call::Lock(Nlm4LockArgs {
            cookie: NetObj(&[0, 0, 0, 1]),
            block: true,
            exclusive: true,
            alock,
            reclaim: false,
            state: 3,
        });
        let test = nlm4::Call::Test(Nlm4TestArgs {
            cookie: NetObj(&[0, 0, 0, 2]),
            exclusive: false,
            alock,
        });
        let free = nlm4::Call::FreeAll(Nlm4Notify {
            name: b"vm",
            state: 5,
        });
        let my_id = MyId {
            my_name: b"vm",
            my_prog: 100_021,
            my_vers: 3,
            my_proc: 16,
        };
        let mon = nsm::Call::Mon(Mon {
            mon_id: MonId {
                mon_name: b"server",
                my_id,
            },
            priv_: [1; 16],
        });
        let notify = nsm::Call::Notify(StatChge {
            mon_name: b"vm",
            state: 7,
        });
        vec![
            ("nlm", encode_to_vec(&lock)),
            ("nlm", encode_to_vec(&test)),
            ("nlm", encode_to_vec(&free)),
            ("nsm", encode_to_vec(&mon)),
            ("nsm", encode_to_vec(&notify)),
        ]
    }

    fn entry(target: &str) -> fn(&[u8]) {
        match target {
            "nlm" => fuzz_nlm,
            _ => fuzz_nsm,
        }
    }

    /// Goal: the seeds pass their entry points and decode as what they are meant to be.
    #[test]
    fn seeds_pass() {
        for (target, input) in seeds() {
            entry(target)(&input);
        }
        let s = seeds();
        assert!(matches!(
            nlm4::decode_call(2, &s[0].1),
            Ok(nlm4::Call::Lock(_))
        ));
        assert!(matches!(
            nsm::decode_call(2, &s[3].1),
            Ok(nsm::Call::Mon(_))
        ));
    }

    /// Goal: the committed corpus of the nlm and nsm targets replays through its entry point.
    #[test]
    fn committed_corpus_replays() {
        for target in ["nlm", "nsm"] {
            let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../fuzz/corpus")
                .join(target);
            let entries =
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
            let mut n = 0;
            for e in entries {
                entry(target)(&std::fs::read(e.unwrap().path()).unwrap());
                n += 1;
            }
            assert!(n >= 2, "{target}: {n} corpus inputs");
        }
    }

    /// Writes the seed corpus for nlm and nsm into `$DITTOFS_WRITE_CORPUS/<target>/` (files
    /// named by the SHA-256 of their contents, cut to 40 hex digits). Run with
    /// `DITTOFS_WRITE_CORPUS=../fuzz/corpus cargo test -p protocol --features fuzzing --lib
    /// write_lock_manager_corpus -- --ignored`.
    #[test]
    #[ignore = "writes files; run by hand to regenerate the seed corpus"]
    fn write_lock_manager_corpus() {
        use sha2::{Digest, Sha256};
        let root = std::path::PathBuf::from(std::env::var("DITTOFS_WRITE_CORPUS").unwrap());
        for (target, input) in seeds() {
            let dir = root.join(target);
            std::fs::create_dir_all(&dir).unwrap();
            let name = hex::encode(Sha256::digest(&input))[..40].to_owned();
            std::fs::write(dir.join(name), &input).unwrap();
        }
    }

    proptest! {
        /// Goal: random and mutated bytes never panic the NLM and NSM entry points.
        #[test]
        fn lock_manager_random_bytes(data in vec(any::<u8>(), 0..300), which in 0usize..5,
                                     muts in vec((0usize..200, any::<u8>()), 0..4)) {
            fuzz_nlm(&data);
            fuzz_nsm(&data);
            let (target, mut input) = seeds()[which].clone();
            for (at, b) in muts {
                if let Some(x) = input.get_mut(at) {
                    *x = b;
                }
            }
            entry(target)(&input);
        }
    }
}
