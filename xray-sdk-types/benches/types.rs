//! Benchmarks of the hot paths of the wire model: id generation, trace-header parsing and formatting, and
//! serializing a segment with ten subsegments.
//!
//! Run with `cargo bench -p xray-sdk-types -- --warm-up-time 1 --measurement-time 3`.

// `criterion_group!` defines a public function without documentation.
#![allow(missing_docs)]

use std::hint::black_box;
use xray_sdk_types::document::MetadataValue;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use xray_sdk_types::{Document, EntityId, Namespace, TraceHeader, TraceId};

const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn ids(c: &mut Criterion) {
    c.bench_function("TraceId::new", |b| b.iter(|| black_box(TraceId::new())));
    c.bench_function("EntityId::new", |b| b.iter(|| black_box(EntityId::new())));
}

fn header(c: &mut Criterion) {
    c.bench_function("TraceHeader::parse", |b| {
        b.iter(|| TraceHeader::parse(black_box(HEADER)))
    });
    let parsed = TraceHeader::parse(HEADER).unwrap_or_default();
    assert_eq!(parsed.to_string(), HEADER);
    c.bench_function("TraceHeader::to_string", |b| {
        b.iter(|| black_box(&parsed).to_string())
    });
}

/// A closed segment with 10 subsegments, each with 2 annotations and 1 metadata entry.
fn segment_with_subsegments() -> Document {
    let start = 1_700_000_000.123_456;
    let mut segment = Document::new(EntityId::from_u64(0x53995c3f42cd8ad8), "checkout", start);
    segment.trace_id = TraceId::parse("1-5759e988-bd862e3fe1be46a994272793").ok();
    segment.end_time = Some(start + 0.5);
    for i in 0..10u32 {
        let offset = f64::from(i) * 0.01;
        let mut sub = Document::new(
            EntityId::from_u64(0x1000 + u64::from(i)),
            format!("call-{i}"),
            start + offset,
        );
        sub.end_time = Some(start + offset + 0.005);
        sub.namespace = Some(Namespace::Remote);
        sub.annotations.insert("attempt", i.into());
        sub.annotations.insert("tenant", "acme".into());
        sub.metadata
            .get_or_insert_with("default", Default::default)
            .insert(
                "request",
                MetadataValue::from(json!({"path": "/items", "size": 512})),
            );
        segment.subsegments.push(Box::new(sub));
    }
    segment
}

fn serialize(c: &mut Criterion) {
    let segment = segment_with_subsegments();
    let bytes = segment.to_json().map(|j| j.len()).unwrap_or_default();
    assert!(bytes > 1000, "{bytes}");
    c.bench_function("Document::to_json (10 subsegments)", |b| {
        b.iter(|| black_box(&segment).to_json())
    });
    c.bench_function("serde_json::to_vec (10 subsegments)", |b| {
        b.iter(|| serde_json::to_vec(black_box(&segment)))
    });
    c.bench_function("Document::write_json (10 subsegments)", |b| {
        let mut out = Vec::with_capacity(4096);
        b.iter(|| {
            out.clear();
            black_box(&segment).write_json(&mut out)
        })
    });
    c.bench_function("Document::from_json (10 subsegments)", |b| {
        let json = segment.to_json().unwrap_or_default();
        b.iter(|| Document::from_json(black_box(&json)))
    });
}

criterion_group!(benches, ids, header, serialize);
criterion_main!(benches);
