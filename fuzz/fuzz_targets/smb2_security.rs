//! [MS-DTYP] security descriptors, ACLs and SIDs (binary and text). Must never panic; what decodes must survive re-encoding.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_security(data));
