//! SMB2 direct-TCP framing: bytes fed to the frame decoder in data-chosen chunks; each frame is classified and split (compound, SMB1 NEGOTIATE, transform). Must never panic.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_frame(data));
