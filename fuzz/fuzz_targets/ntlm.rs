//! NTLMSSP: every message decoder and the NTLMv2 acceptor. Must never panic; what decodes must
//! survive encode → decode unchanged.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_ntlm(data));
