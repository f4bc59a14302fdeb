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

/// The acceptor [`fuzz_ntlm`] authenticates against: fixed challenge, timestamp and names, with
/// the CHALLENGE already sent in answer to [`crate::ntlm::client::negotiate`]. Returns the
/// acceptor and its CHALLENGE, so seeds built against it authenticate for real.
pub fn ntlm_fuzz_acceptor() -> (crate::ntlm::Acceptor, Vec<u8>) {
    use crate::ntlm::{Acceptor, TargetNames, client};
    let names = TargetNames {
        nb_domain: "FUZZDOM".into(),
        nb_computer: "FUZZSRV".into(),
        dns_domain: "fuzz.test".into(),
        dns_computer: "srv.fuzz.test".into(),
    };
    let mut a = Acceptor::new([0x11; 8], 0x01d9_0000_0000_0000, names);
    let challenge = a
        .challenge(&client::negotiate())
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

/// SPNEGO: the bytes are decoded as a GSS-wrapped NegTokenInit(2) and as a negTokenResp; the
/// DER is strict, so whatever decodes must re-encode to the input.
pub fn fuzz_spnego(data: &[u8]) {
    use crate::spnego;
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
        fuzz_ntlm(&[]);
        fuzz_spnego(&[]);
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
