//! SMB2 compounds: a frame split by NextCommand, each element's header decoded. Must never panic; headers re-encode and the split re-joins to its input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_compound(data));
