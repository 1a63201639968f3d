//! Trace headers, traceparent headers and ids: nothing panics, and what parses formats to a stable form.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xray_sdk_types::header::TraceHeader;
use xray_sdk_types::{EntityId, TraceId};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(header) = TraceHeader::parse(text) {
        let formatted = header.to_string();
        assert_eq!(TraceHeader::parse(&formatted).as_ref(), Ok(&header));
        if let Some(traceparent) = header.to_traceparent() {
            let mapped = TraceHeader::from_traceparent(&traceparent);
            assert_eq!(mapped.map(|h| (h.root, h.parent)), Ok((header.root, header.parent)));
        }
    }
    if let Ok(header) = TraceHeader::from_traceparent(text) {
        let traceparent = header.to_traceparent();
        assert!(traceparent.is_some());
    }
    if let Ok(id) = TraceId::parse(text) {
        assert_eq!(id.to_string(), text);
    }
    if let Ok(id) = EntityId::parse(text) {
        assert_eq!(id.to_string(), text);
    }
});
