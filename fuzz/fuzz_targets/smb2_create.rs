//! SMB2 CREATE request/response and create-context decoders. Must never panic; what decodes must re-encode to an equal value.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_create(data));
