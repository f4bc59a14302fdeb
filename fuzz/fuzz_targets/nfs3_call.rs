//! Every NFSv3 argument decoder: 4 bytes of procedure number, then its arguments. Must never panic; what decodes must re-encode to its input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_nfs3_call(data));
