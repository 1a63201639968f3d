//! The daemon's UDP datagrams: see `xray_daemon::fuzzing::datagram`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| xray_daemon::fuzzing::datagram(data));
