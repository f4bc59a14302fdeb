//! The SMB2 TRANSFORM_HEADER and the split of an encrypted frame. Must never panic; what decodes must re-encode to its input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_transform(data));
