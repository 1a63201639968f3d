//! The checks that the fuzz targets of `fuzz/` run on each input: each parses untrusted bytes the way this crate's
//! users do, and asserts what must hold of what it parses, beyond not panicking.
//!
//! Built only for this crate's tests and under `--cfg fuzzing` (as `cargo fuzz` builds): not part of the API. The
//! tests replay every input kept in `testdata/fuzz-regressions/<target>/` through the same function, so that a
//! crash the fuzzer found once is checked by every `cargo test`.

use std::path::Path;

use crate::sampling::LocalRules;
use crate::validate::validate_bytes;
use crate::{Document, EntityId, TraceHeader, TraceId};

/// `trace_header`: `X-Amzn-Trace-Id` and `traceparent` headers, and the ids alone.
///
/// A header that parses writes back to text that parses to the same header; what the lossy parser keeps writes
/// back to a header the strict parser accepts; the W3C mapping keeps the root and parent; an id writes back as
/// given.
pub fn trace_header(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (lossy, dropped) = TraceHeader::parse_lossy(text);
    let relossy = lossy.to_string();
    assert_eq!(
        TraceHeader::parse(&relossy).as_ref(),
        Ok(&lossy),
        "the lossy parse of {text:?} writes back as {relossy:?}"
    );
    if let Ok(header) = TraceHeader::parse(text) {
        assert!(dropped.is_empty(), "strict and lossy parses of {text:?}");
        assert_eq!(header, lossy);
        if let Some(traceparent) = header.to_traceparent() {
            let mapped = TraceHeader::from_traceparent(&traceparent);
            assert_eq!(
                mapped.map(|h| (h.root, h.parent)),
                Ok((header.root, header.parent))
            );
        }
    }
    if let Ok(header) = TraceHeader::from_traceparent(text) {
        let traceparent = header.to_traceparent();
        assert!(traceparent.is_some(), "{text:?} maps back to a traceparent");
        assert_eq!(
            traceparent.and_then(|t| TraceHeader::from_traceparent(&t).ok()),
            Some(header)
        );
    }
    if let Ok(id) = TraceId::parse(text) {
        assert_eq!(id.to_string(), text);
    }
    if let Ok(id) = EntityId::parse(text) {
        assert_eq!(id.to_string(), text);
    }
}

/// `document`: segment and subsegment documents, without the datagram header line.
///
/// A document that both validates and parses serializes, validates as the same kind, and parses back equal.
pub fn document(data: &[u8]) {
    let verdict = validate_bytes(data);
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let (Ok(kind), Ok(doc)) = (verdict, Document::from_json(text)) {
        let Ok(json) = doc.to_json() else {
            panic!("a parsed document does not serialize: {text}");
        };
        assert_eq!(validate_bytes(json.as_bytes()), Ok(kind), "{json}");
        assert_eq!(Document::from_json(&json).ok(), Some(doc), "{json}");
    }
}

/// `sampling_rules`: local sampling rules files, versions 1 and 2.
///
/// A file that loads writes back (in the version 2 form) to a file that loads to the same rules, and becomes one
/// API rule per custom rule plus the default rule.
pub fn sampling_rules(data: &[u8]) {
    let Ok(rules) = LocalRules::from_file_contents(Path::new("rules.json"), data) else {
        return;
    };
    let Ok(json) = serde_json::to_string(&rules) else {
        panic!("loaded rules do not serialize: {rules:?}");
    };
    let reloaded = match LocalRules::from_json(&json) {
        Ok(reloaded) => reloaded,
        Err(e) => panic!("the rules written back do not load ({e}): {json}"),
    };
    assert_eq!(reloaded.version(), 2);
    assert_eq!(reloaded.rules(), rules.rules(), "{json}");
    assert_eq!(reloaded.default_rule(), rules.default_rule(), "{json}");
    assert_eq!(rules.to_sampling_rules().len(), rules.rules().len() + 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_header_regressions() {
        xray_sdk_testdata::replay_fuzz_regressions("trace_header", trace_header);
    }

    #[test]
    fn document_regressions() {
        xray_sdk_testdata::replay_fuzz_regressions("document", document);
    }

    #[test]
    fn sampling_rules_regressions() {
        xray_sdk_testdata::replay_fuzz_regressions("sampling_rules", sampling_rules);
    }
}
