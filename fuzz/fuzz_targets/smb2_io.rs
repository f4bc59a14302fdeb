//! SMB2 CLOSE, FLUSH, READ, WRITE, LOCK and OPLOCK_BREAK decoders (first byte picks one). Must never panic; what decodes must re-encode to an equal value.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_io(data));
