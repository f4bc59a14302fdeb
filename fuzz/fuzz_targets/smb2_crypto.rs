//! SMB2 signing and TRANSFORM_HEADER encryption with a fixed key: decrypt and verify of garbage must not panic; encrypt/decrypt and sign/verify round-trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_smb2_crypto(data));
