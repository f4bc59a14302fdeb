//! The SMB1 multi-protocol NEGOTIATE that clients may open with. Must never panic; the SMB2 dialect chosen must be one the request offered.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb1_negotiate(data));
