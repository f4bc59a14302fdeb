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

    proptest! {
        /// Goal: random bytes never panic the RPC, portmapper and MOUNT entry points (their
        /// re-encode assertions included).
        #[test]
        fn random_bytes(data in vec(any::<u8>(), 0..256)) {
            fuzz_record(&data);
            fuzz_rpc_call(&data);
            fuzz_portmap(&data);
            fuzz_mount(&data);
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
fn smb2_reencode(msg: &[u8], body: impl FnOnce(&mut crate::smb2::le::Writer)) -> Vec<u8> {
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
        let again = smb2_reencode(data, |w| req.encode(w));
        assert_eq!(
            NegotiateRequest::decode(&again).as_ref(),
            Ok(&req),
            "a NEGOTIATE request must survive re-encoding"
        );
    }
    if let Ok(resp) = NegotiateResponse::decode(data) {
        let again = smb2_reencode(data, |w| resp.encode(w));
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
                let again = smb2_reencode(msg, |w| v.encode(w));
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
