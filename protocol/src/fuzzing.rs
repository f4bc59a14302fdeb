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
