//! SPNEGO: NegTokenInit(2) and NegTokenResp decoders. Must never panic; what decodes must
//! re-encode to its input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_spnego(data));
