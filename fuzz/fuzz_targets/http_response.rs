//! The SDK's HTTP/1.1 response parser (sampling API, metadata services): see `xray_sdk_core::fuzzing::http_response`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xray_sdk_core::fuzzing::http_response(data));
