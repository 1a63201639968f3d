//! The bodies of the daemon's sampling API: see `xray_daemon::fuzzing::sampling_body`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xray_daemon::fuzzing::sampling_body(data));
