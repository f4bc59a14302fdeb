//! RPC record marking: bytes fed to the record decoder in data-chosen chunks. Must never panic; what decodes must re-encode to its input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_record(data));
