//! SMB2 SESSION_SETUP, LOGOFF, TREE_CONNECT, TREE_DISCONNECT, ECHO, CANCEL and ERROR bodies, picked by the first byte. Must never panic; what decodes must decode the same after re-encoding.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_session(data));
