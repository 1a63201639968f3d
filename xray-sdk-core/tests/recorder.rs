//! The recorder through its public API, asserting on the exact documents emitted.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use serde_json::json;
use xray_sdk_core::config::{ContextMissing, MapEnv};
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::sampling::{AlwaysSample, NeverSample};
use xray_sdk_core::{ContextMissingError, Recorder, context};
use xray_sdk_types::header::SamplingFlag;
use xray_sdk_types::{Document, TraceHeader, TraceId};

fn recorder(emitter: &MemoryEmitter) -> Recorder {
    Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .service_name("svc")
        .emitter(emitter.clone())
        .build()
        .unwrap()
}

fn value(doc: &Document) -> serde_json::Value {
    serde_json::to_value(doc).unwrap()
}

#[test]
fn a_segment_with_nested_subsegments_is_sent_once_complete() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter);
    let t0 = UNIX_EPOCH + Duration::from_millis(1_700_000_000_250);
    let seg = rec.segment("web").start_time(t0).begin();
    seg.put_annotation("user", "alice");
    seg.put_annotation("n", 3);
    seg.put_annotation("ok", true);
    seg.put_annotation("bad key!", 1);
    seg.put_metadata_in("app", "cart", &json!({"items": 2}));
    seg.put_metadata_in("AWS.reserved", "x", &1);
    {
        let a = rec.begin_subsegment("a").unwrap();
        a.put_annotation("k", 1.5);
        let b = rec
            .subsegment("b")
            .start_time(t0 + Duration::from_millis(5))
            .begin()
            .unwrap();
        assert_eq!(context::current().unwrap().id(), b.id());
        b.end_at(t0 + Duration::from_millis(10));
        assert_eq!(context::current().unwrap().id(), a.id());
        assert!(emitter.documents().is_empty());
    }
    assert_eq!(context::current().unwrap().id(), seg.id());
    let seg_id = seg.id();
    let trace_id = seg.trace_id();
    seg.end_at(t0 + Duration::from_millis(500));
    assert!(context::current().is_none());

    let docs = emitter.documents();
    assert_eq!(docs.len(), 1);
    let v = value(&docs[0]);
    assert_eq!(v["id"], json!(seg_id.to_string()));
    assert_eq!(v["trace_id"], json!(trace_id.to_string()));
    assert_eq!(v["name"], json!("web"));
    assert_eq!(v["start_time"], json!(1_700_000_000.25));
    assert_eq!(v["end_time"], json!(1_700_000_000.75));
    assert_eq!(
        v["annotations"],
        json!({"user": "alice", "n": 3, "ok": true})
    );
    assert_eq!(v["metadata"], json!({"app": {"cart": {"items": 2}}}));
    assert_eq!(v["aws"]["xray"]["sdk"], json!("X-Ray for Rust"));
    assert_eq!(v["service"]["runtime"], json!("rust"));
    let a = &v["subsegments"][0];
    assert_eq!(a["name"], json!("a"));
    assert_eq!(a["parent_id"], json!(seg_id.to_string()));
    assert_eq!(a["type"], json!("subsegment"));
    assert_eq!(a["annotations"], json!({"k": 1.5}));
    let b = &a["subsegments"][0];
    assert_eq!(b["name"], json!("b"));
    assert_eq!(b["parent_id"], a["id"]);
    assert_eq!(b["start_time"], json!(1_700_000_000.255));
    assert_eq!(b["end_time"], json!(1_700_000_000.26));
    xray_sdk_types::validate::validate(&v).unwrap();
}

#[test]
fn unsampled_keeps_the_incoming_trace_id_and_records_nothing() {
    let emitter = MemoryEmitter::new();
    let rec = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .sampler(NeverSample)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    let header =
        TraceHeader::parse("Root=1-5759e988-bd862e3fe1be46a994272793;Lineage=1:a87bd80c:0")
            .unwrap();
    let seg = rec.segment("svc").trace_header(&header).begin();
    assert!(!seg.is_sampled());
    let sub = rec.begin_subsegment("call").unwrap();
    sub.put_annotation("k", 1);
    let h = sub.trace_header().unwrap();
    assert_eq!(
        h.to_string(),
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=1:a87bd80c:0"
    );
    drop(sub);
    drop(seg);
    assert!(emitter.documents().is_empty());
}

#[test]
fn incoming_sampled_flags_are_honoured() {
    let emitter = MemoryEmitter::new();
    let rec = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .sampler(NeverSample)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    let root = TraceId::parse("1-5759e988-bd862e3fe1be46a994272793").unwrap();
    let header = TraceHeader::new(
        root,
        "53995c3f42cd8ad8".parse().ok(),
        Some(SamplingFlag::Sampled),
    );
    let seg = rec.segment("svc").trace_header(&header).begin();
    assert!(seg.is_sampled());
    assert_eq!(seg.trace_header().unwrap().root, Some(root));
    assert_eq!(seg.trace_header().unwrap().parent, Some(seg.id()));
    drop(seg);
    let docs = emitter.documents();
    assert_eq!(docs[0].parent_id.unwrap().to_string(), "53995c3f42cd8ad8");
    assert_eq!(docs[0].trace_id, Some(root));
}

#[test]
fn context_missing_strategies() {
    let emitter = MemoryEmitter::new();
    for (strategy, errs) in [
        (ContextMissing::RuntimeError, true),
        (ContextMissing::LogError, false),
        (ContextMissing::IgnoreError, false),
    ] {
        let rec = Recorder::builder()
            .env(MapEnv::default())
            .sampler(AlwaysSample)
            .context_missing(strategy)
            .emitter(emitter.clone())
            .build()
            .unwrap();
        let r = rec.begin_subsegment("orphan");
        assert_eq!(r.is_err(), errs, "{strategy}");
        if let Ok(g) = r {
            assert!(!g.is_sampled());
        }
        assert_eq!(
            matches!(rec.put_annotation("k", 1), Err(ContextMissingError)),
            errs
        );
        assert_eq!(rec.end_segment().is_err(), errs);
        assert_eq!(rec.end_subsegment().is_err(), errs);
        assert_eq!(rec.current_segment().is_err(), errs);
    }
    assert!(emitter.documents().is_empty());
}

#[test]
fn env_overrides_code() {
    let rec = Recorder::builder()
        .env(MapEnv::new([
            ("AWS_XRAY_CONTEXT_MISSING", "RUNTIME_ERROR"),
            ("AWS_XRAY_TRACING_NAME", "from-env"),
            (
                "AWS_XRAY_DAEMON_ADDRESS",
                "tcp:127.0.0.1:3000 udp:127.0.0.2:3001",
            ),
        ]))
        .service_name("from-code")
        .daemon_address("127.0.0.1:9")
        .emitter(MemoryEmitter::new())
        .build()
        .unwrap();
    assert_eq!(rec.config().service_name.as_deref(), Some("from-env"));
    assert_eq!(rec.config().context_missing, ContextMissing::RuntimeError);
    assert_eq!(
        rec.config().daemon_address.udp.to_string(),
        "127.0.0.2:3001"
    );
    let bad = Recorder::builder()
        .env(MapEnv::new([("AWS_XRAY_DAEMON_ADDRESS", "nonsense")]))
        .build()
        .unwrap_err();
    assert!(bad.to_string().contains("AWS_XRAY_DAEMON_ADDRESS"), "{bad}");
    let disabled = Recorder::builder()
        .env(MapEnv::new([("AWS_XRAY_SDK_ENABLED", "false")]))
        .build()
        .unwrap();
    let seg = disabled.begin_segment("x");
    assert!(!seg.is_sampled());
}

#[test]
fn streaming_follows_the_reference_scenario() {
    let emitter = MemoryEmitter::new();
    let rec = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .streaming_threshold(2)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    let names = |docs: Vec<Document>| docs.iter().map(|d| d.name.clone()).collect::<Vec<_>>();
    let seg = rec.begin_segment("seg");
    let a = rec.begin_subsegment("a").unwrap();
    rec.begin_subsegment("a1").unwrap().end();
    assert!(emitter.documents().is_empty());
    rec.begin_subsegment("a2").unwrap().end();
    let streamed = emitter.take();
    assert_eq!(names(streamed.clone()), ["a1", "a2"]);
    for d in &streamed {
        assert_eq!(d.trace_id, Some(seg.trace_id()));
        assert_eq!(d.parent_id, Some(a.id()));
        xray_sdk_types::validate::validate(&value(d)).unwrap();
    }
    rec.begin_subsegment("a3").unwrap().end();
    assert!(emitter.documents().is_empty());
    drop(a);
    let b = rec.begin_subsegment("b").unwrap().into_entity();
    rec.end_segment().unwrap();
    assert!(emitter.documents().is_empty());
    b.end();
    let docs = emitter.take();
    assert_eq!(names(docs.clone()), ["seg"]);
    let v = value(&docs[0]);
    assert_eq!(v["subsegments"][0]["name"], json!("a"));
    assert_eq!(v["subsegments"][0]["subsegments"][0]["name"], json!("a3"));
    assert_eq!(v["subsegments"][1]["name"], json!("b"));
}

#[test]
fn panics_and_errors_are_recorded() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter);
    let seg = rec.begin_segment("svc");
    let seg_entity = seg.entity().clone();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _sub = rec.begin_subsegment("boom").unwrap();
        panic!("kaboom");
    }));
    assert!(r.is_err());
    let err = "x".parse::<u32>().unwrap_err();
    {
        let sub = rec.begin_subsegment("parse").unwrap();
        sub.add_error(&err);
    }
    seg_entity.add_error(&err);
    drop(seg);
    let v = value(&emitter.documents()[0]);
    let boom = &v["subsegments"][0];
    assert_eq!(boom["fault"], json!(true));
    assert_eq!(boom["cause"]["exceptions"][0]["type"], json!("panic"));
    let parse = &v["subsegments"][1];
    assert_eq!(
        parse["cause"]["exceptions"][0]["type"],
        json!("ParseIntError")
    );
    assert_eq!(
        parse["cause"]["exceptions"][0]["message"],
        json!("invalid digit found in string")
    );
    // The segment refers to the exception its subsegment recorded, by id.
    assert_eq!(v["cause"], parse["cause"]["exceptions"][0]["id"]);
    assert_eq!(v["fault"], json!(true));
    xray_sdk_types::validate::validate(&v).unwrap();
}

#[test]
fn memory_stays_bounded_whatever_the_host_records() {
    let emitter = MemoryEmitter::new();
    // No streaming: every subsegment stays in memory until the segment ends.
    let rec = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .streaming_threshold(usize::MAX)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    let seg = rec.begin_segment("busy");
    for i in 0..300 {
        seg.put_annotation(&format!("k{i}"), i);
        seg.put_metadata(&format!("m{i}"), &i);
    }
    // Existing keys can still be updated at the limit.
    seg.put_annotation("k0", "updated");
    for _ in 0..10_050 {
        rec.begin_subsegment("step").unwrap().end();
    }
    drop(seg);
    let docs = emitter.documents();
    let entities: usize = docs.iter().map(Document::entity_count).sum();
    assert_eq!(entities, 1 + xray_sdk_core::entity::MAX_SUBSEGMENTS);
    let segment = docs.iter().find(|d| !d.is_subsegment()).unwrap();
    assert_eq!(
        segment.annotations.len(),
        xray_sdk_core::entity::MAX_ANNOTATIONS
    );
    assert_eq!(
        segment.annotations.get("k0"),
        Some(&xray_sdk_types::AnnotationValue::from("updated"))
    );
    let metadata: usize = segment.metadata.iter().map(|(_, m)| m.len()).sum();
    assert_eq!(metadata, xray_sdk_core::entity::MAX_METADATA_ENTRIES);
}

#[test]
fn a_streamed_segment_records_any_number_of_subsegments() {
    // With streaming, subsegments leave as they complete: a long batch job is not cut off at the in-memory
    // limit, and each end visits only what completed since the last stream.
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter);
    let seg = rec.begin_segment("batch");
    let total = 2 * xray_sdk_core::entity::MAX_SUBSEGMENTS + 7;
    for i in 0..total {
        let step = rec.begin_subsegment("step").unwrap();
        step.put_annotation("i", i as i64);
        if i % 2 == 0 {
            // a nested one too, so that streaming finds subtrees at two depths
            rec.begin_subsegment("inner").unwrap().end();
        }
    }
    drop(seg);
    let docs = emitter.take();
    let entities: usize = docs.iter().map(Document::entity_count).sum();
    assert_eq!(entities, 1 + total + total.div_ceil(2));
    let mut seen: Vec<i64> = Vec::new();
    fn walk(doc: &Document, seen: &mut Vec<i64>) {
        if let Some(xray_sdk_types::AnnotationValue::Number(n)) = doc.annotations.get("i") {
            seen.push(n.as_i64().unwrap());
        }
        for sub in &doc.subsegments {
            walk(sub, seen);
        }
    }
    for doc in &docs {
        walk(doc, &mut seen);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..total as i64).collect::<Vec<_>>());
}
