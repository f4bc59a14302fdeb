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
}
