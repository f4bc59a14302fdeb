//! ONC RPC call headers and credentials (AUTH_SYS), the error replies for broken headers, and the reply decoder. Must never panic; what decodes must re-encode to its input.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| protocol::fuzzing::fuzz_rpc_call(data));
