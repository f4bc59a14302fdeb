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
