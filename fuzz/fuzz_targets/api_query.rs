//! The query strings of the daemon's JSON API: see `xray_daemon::fuzzing::api_query`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xray_daemon::fuzzing::api_query(data));
