//! Datagrams and documents: nothing panics, and a document that both validates and parses is written back valid.
#![no_main]

use libfuzzer_sys::fuzz_target;
use xray_sdk_types::validate::validate_bytes;
use xray_sdk_types::{Document, framing};

fuzz_target!(|data: &[u8]| {
    // Datagrams as the daemon receives them; anything else as a bare document.
    let body = framing::split_datagram(data).unwrap_or(data);
    let verdict = validate_bytes(body);
    let Ok(text) = std::str::from_utf8(body) else {
        return;
    };
    if let (Ok(kind), Ok(doc)) = (verdict, Document::from_json(text)) {
        let json = doc.to_json().expect("a parsed document serializes");
        assert_eq!(validate_bytes(json.as_bytes()), Ok(kind));
        assert_eq!(Document::from_json(&json).ok(), Some(doc));
    }
});
