//! The SMB2 credit window driven by an operation sequence: must not panic; the window stays bounded and an id is accepted at most once.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_credits(data));
