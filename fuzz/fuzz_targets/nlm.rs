//! Every NLM argument and result decoder. Must never panic; what decodes must re-encode to its input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_nlm(data));
