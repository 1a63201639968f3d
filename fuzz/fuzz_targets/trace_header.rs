//! `X-Amzn-Trace-Id` and `traceparent` headers and ids: see `xray_sdk_types::fuzzing::trace_header`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xray_sdk_types::fuzzing::trace_header(data));
