//! Segment and subsegment documents: see `xray_sdk_types::fuzzing::document`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xray_sdk_types::fuzzing::document(data));
