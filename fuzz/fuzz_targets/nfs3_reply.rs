//! Every NFSv3 result decoder: 4 bytes of procedure number, then its result body. Must never panic; what decodes must re-encode to its input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_nfs3_reply(data));
