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
        if let PduBody::Request(q) = &pdu.body {
            if let Ok(req) = SrvsvcRequest::decode(q.opnum, &q.stub) {
                assert_eq!(SrvsvcRequest::decode(q.opnum, &req.encode()), Ok(req));
            }
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
        /// Goal: random bytes never panic the RPC, portmapper and MOUNT entry points (their
        /// re-encode assertions included).
        #[test]
        fn random_bytes(data in vec(any::<u8>(), 0..256)) {
            fuzz_record(&data);
            fuzz_rpc_call(&data);
            fuzz_portmap(&data);
            fuzz_mount(&data);
            fuzz_smb2_crypto(&data);
            fuzz_credits(&data);
            fuzz_dcerpc(&data);
        }
    }
}
