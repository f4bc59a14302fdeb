//! DCE/RPC PDU decoding and the srvsvc request/response stubs: must not panic; what decodes survives an encode/decode round trip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_dcerpc(data));
