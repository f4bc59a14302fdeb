//! SMB2 NEGOTIATE request and response decoders with their negotiate contexts. Must never panic; what decodes must decode the same after re-encoding.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_negotiate(data));
