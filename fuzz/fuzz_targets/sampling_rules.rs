//! Local sampling rules files: see `xray_sdk_types::fuzzing::sampling_rules`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xray_sdk_types::fuzzing::sampling_rules(data));
