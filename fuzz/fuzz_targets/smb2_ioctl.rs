//! IOCTL messages, every FSCTL payload decoder and Minshall-French symlink files. Must never panic; what decodes must survive re-encoding.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_ioctl(data));
