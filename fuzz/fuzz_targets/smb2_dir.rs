//! SMB2 QUERY_DIRECTORY / CHANGE_NOTIFY decoders, every directory information class, and the wildcard matcher. Must never panic; what decodes must re-encode to an equal value.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_dir(data));
