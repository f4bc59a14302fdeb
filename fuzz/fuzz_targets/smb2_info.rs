//! QUERY_INFO / SET_INFO messages and every [MS-FSCC] information class decoder. Must never panic; what decodes must survive re-encoding.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_info(data));
