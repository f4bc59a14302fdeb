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
/// sizes come from the data itself, until it needs more input or reports a broken stream.
pub fn fuzz_record(data: &[u8]) {
    let mut d = crate::rpc::RecordDecoder::new();
    let mut buf = bytes::BytesMut::new();
    let mut rest = data;
    while !rest.is_empty() {
        let n = (usize::from(rest[0]) % 64 + 1).min(rest.len());
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        loop {
            match d.decode(&mut buf) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
}

/// An ONC RPC call header and its credentials.
pub fn fuzz_rpc_call(data: &[u8]) {
    if let Ok((call, _)) = crate::rpc::decode_call(data) {
        let _ = crate::rpc::Credentials::from_call(&call);
    }
    let _ = crate::rpc::decode_reply(data);
}

/// Portmapper arguments and results.
pub fn fuzz_portmap(data: &[u8]) {
    let _ = crate::portmap::decode_mapping(data);
    let _ = crate::portmap::decode_dump(data);
}

/// MOUNT arguments and results.
pub fn fuzz_mount(data: &[u8]) {
    let _ = crate::mount3::decode_dirpath(data);
    let _ = crate::mount3::decode_mnt_res(data);
    let _ = crate::mount3::decode_mount_list(data);
    let _ = crate::mount3::decode_exports(data);
}
