//! Spans on one thread: nesting both ways with X-Ray subsegments, field mapping, names, errors, `#[instrument]`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use tracing::{error, info_span, instrument};
use xray_sdk_tracing::XrayLayer;

use support::{recorder, shapes, subscriber};

#[instrument(fields(order_id = 42, xray.customer = "alice"))]
fn checkout(items: u32) -> u32 {
    validate(items);
    items * 2
}

#[instrument]
fn validate(items: u32) {
    tracing::info!(items, "validating");
}

#[test]
fn spans_nest_with_xray_subsegments_both_ways() {
    let (recorder, emitter) = recorder(true);
    let layer = XrayLayer::new();
    tracing::subscriber::with_default(subscriber(layer), || {
        let _segment = recorder.segment("svc").begin();
        let outer = info_span!("outer").entered();
        {
            // An X-Ray subsegment inside a span is the span's child...
            let _sub = recorder.begin_subsegment("xray-inner").unwrap();
            // ...and a span inside an X-Ray subsegment is the subsegment's child.
            let _inner = info_span!("span-in-xray").entered();
        }
        drop(outer);
        // Once the span exits, the segment is current again.
        let _after = info_span!("after").entered();
    });
    assert_eq!(
        shapes(&emitter),
        vec![json!({
            "name": "svc",
            "subsegments": [
                {"name": "after"},
                {"name": "outer", "subsegments": [
                    {"name": "xray-inner", "subsegments": [{"name": "span-in-xray"}]}
                ]}
            ]
        })]
    );
}

#[test]
fn instrument_on_sync_functions_records_fields() {
    let (recorder, emitter) = recorder(true);
    let layer = XrayLayer::builder().annotation("order_id").build();
    tracing::subscriber::with_default(subscriber(layer), || {
        let _segment = recorder.segment("svc").begin();
        assert_eq!(checkout(3), 6);
    });
    assert_eq!(
        shapes(&emitter),
        vec![json!({
            "name": "svc",
            "subsegments": [{
                "name": "checkout",
                "annotations": {"order_id": 42, "customer": "alice"},
                "metadata": {"tracing": {"items": 3}},
                "subsegments": [{"name": "validate", "metadata": {"tracing": {"items": 3}}}]
            }]
        })]
    );
}

#[derive(Debug)]
struct Declined(std::io::Error);

impl std::fmt::Display for Declined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("card declined")
    }
}

impl std::error::Error for Declined {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

#[test]
fn field_mapping_names_and_errors() {
    let (recorder, emitter) = recorder(true);
    let layer = XrayLayer::builder()
        .annotation("user.id")
        .annotation_prefix("ann_")
        .build();
    tracing::subscriber::with_default(subscriber(layer), || {
        let _segment = recorder.segment("svc").begin();
        let span = info_span!(
            "GET /orders",
            otel.name = "list orders",
            otel.kind = "server",
            user.id = 7u64,
            ann_ratio = 0.5,
            ann_ok = true,
            ann_weird_ключ = "x",
            note = ?vec![1, 2],
            later = tracing::field::Empty,
            error = tracing::field::Empty,
        );
        let _entered = span.enter();
        span.record("later", "recorded");
        span.record("otel.name", "renamed orders");
        {
            let _charge = info_span!("charge").entered();
            error!(
                error = &Declined(std::io::Error::other("insufficient funds"))
                    as &(dyn std::error::Error + 'static),
                "payment failed"
            );
        }
        span.record("error", "request failed");
        // Events below ERROR record nothing.
        tracing::warn!(error = "ignored", "a warning");
        // An ERROR event without a message: its `error` alone.
        error!(error = "only error");
    });
    assert_eq!(
        shapes(&emitter),
        vec![json!({
            "name": "svc",
            "subsegments": [{
                "name": "renamed orders",
                "annotations": {"user_id": 7, "ratio": 0.5, "ok": true, "weird_____": "x"},
                "metadata": {"tracing": {"note": "[1, 2]", "later": "recorded"}},
                "fault": true,
                "cause": {"exceptions": [
                    {"message": "request failed"},
                    {"message": "only error"},
                ]},
                "subsegments": [{
                    "name": "charge",
                    "fault": true,
                    "cause": {"exceptions": [
                        {"message": "payment failed", "cause": "card declined"},
                        {"message": "card declined", "cause": "insufficient funds"},
                        {"message": "insufficient funds"},
                    ]}
                }]
            }]
        })]
    );
}

#[test]
fn bad_input_is_recorded_safely() {
    let (recorder, emitter) = recorder(true);
    tracing::subscriber::with_default(subscriber(XrayLayer::new()), || {
        let _segment = recorder.segment("svc").begin();
        // An empty `otel.name`, a name with characters X-Ray refuses, a number JSON cannot hold.
        let _empty = info_span!("unnamed", otel.name = "").entered();
        let _odd = info_span!("odd", otel.name = "a<b>{c}", xray.ratio = f64::NAN).entered();
        // Spans exited out of order.
        let first = info_span!("first");
        let second = info_span!("second");
        let a = first.enter();
        let b = second.enter();
        drop(a);
        drop(b);
        // A span closed on another thread than the one that made it.
        let moved = info_span!("moved");
        std::thread::spawn(move || drop(moved)).join().unwrap();
        // More spans than a segment holds at once: each ends before the next begins, so the segment streams
        // them out as it goes and keeps them all.
        for _ in 0..xray_sdk_core::entity::MAX_SUBSEGMENTS + 5 {
            let _many = info_span!("many").entered();
        }
    });
    let docs = emitter.take();
    assert!(!docs.is_empty());
    for doc in &docs {
        support::checked(doc);
    }
    let all: Vec<serde_json::Value> = docs
        .iter()
        .map(|d| serde_json::to_value(d).unwrap())
        .collect();
    let text = serde_json::to_string(&all).unwrap();
    // The empty name falls back to the span's name.
    assert!(text.contains(r#""name":"unnamed""#));
    assert!(text.contains(r#""ratio":"NaN""#), "{text}");
    for name in ["first", "second", "moved"] {
        assert!(text.contains(&format!(r#""name":"{name}""#)), "{name}");
    }
    let many = text.matches(r#""name":"many""#).count();
    assert_eq!(many, xray_sdk_core::entity::MAX_SUBSEGMENTS + 5);
    assert!(docs.len() > 1);
}
