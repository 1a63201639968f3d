//! The lifecycle of entities and of the context: what is current after each begin and end, in any order,
//! and what a disabled SDK passes downstream.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use xray_sdk_core::config::{ContextMissing, MapEnv};
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::http::{ClientSubsegment, HttpOptions, IncomingRequest, ServerSegment};
use xray_sdk_core::sampling::AlwaysSample;
use xray_sdk_core::{ContextMissingError, Recorder, context};
use xray_sdk_types::TraceId;

fn recorder(emitter: &MemoryEmitter, env: MapEnv) -> Recorder {
    Recorder::builder()
        .env(env)
        .sampler(AlwaysSample)
        .service_name("svc")
        .context_missing(ContextMissing::RuntimeError)
        .emitter(emitter.clone())
        .build()
        .unwrap()
}

const INCOMING: &str =
    "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1";

fn request(trace_header: Option<&str>) -> IncomingRequest<'_> {
    IncomingRequest {
        method: "GET",
        host: Some("svc.internal"),
        path: "/",
        trace_header,
        ..IncomingRequest::default()
    }
}

/// The header an outgoing call sends from inside the segment of an incoming request.
fn outgoing_header(rec: &Recorder, incoming: Option<&str>) -> (Option<String>, Option<String>) {
    let segment = ServerSegment::begin(rec, &request(incoming), &HttpOptions::new());
    let _in_segment = context::enter(segment.entity().clone());
    let call = ClientSubsegment::begin(rec, "GET", "http://next.internal/", &HttpOptions::new())
        .expect("a segment is current");
    let header = call.trace_header();
    call.finish(200, None);
    let response = segment.response_header();
    segment.finish(200, None);
    (header, response)
}

#[test]
fn a_disabled_sdk_passes_the_incoming_header_on_unchanged() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter, MapEnv::new([("AWS_XRAY_SDK_ENABLED", "false")]));
    let (header, response) = outgoing_header(&rec, Some(INCOMING));
    assert_eq!(header.as_deref(), Some(INCOMING));
    assert_eq!(
        response.as_deref(),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793")
    );
    // Without an incoming header there is no trace to continue: no header downstream, none in the response.
    assert_eq!(outgoing_header(&rec, None), (None, None));
    assert!(emitter.documents().is_empty());
}

#[test]
fn a_call_with_no_segment_sends_no_trace_header() {
    let emitter = MemoryEmitter::new();
    let rec = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .context_missing(ContextMissing::IgnoreError)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    // The recorder's own calls under IGNORE_ERROR give an orphan subsegment: it carries no trace.
    let orphan = rec.begin_subsegment("orphan").unwrap();
    let call = ClientSubsegment::begin_under(
        orphan.entity(),
        "GET",
        "http://next.internal/",
        &HttpOptions::new(),
    );
    assert_eq!(call.trace_header(), None);
    assert_eq!(orphan.trace_header(), None);
    assert_eq!(orphan.trace_id(), TraceId::NOOP);
}

#[test]
fn turning_the_sdk_off_and_on_while_running() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter, MapEnv::default());
    rec.set_enabled(false);
    assert!(!rec.is_enabled());
    let (header, _) = outgoing_header(&rec, Some(INCOMING));
    assert_eq!(header.as_deref(), Some(INCOMING));
    assert!(emitter.documents().is_empty());
    // A clone shares the switch.
    rec.clone().set_enabled(true);
    let (header, _) = outgoing_header(&rec, Some(INCOMING));
    let docs = emitter.take();
    assert_eq!(docs.len(), 1);
    let call_id = docs[0].subsegments[0].id;
    assert_eq!(
        header,
        Some(format!(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent={call_id};Sampled=1;Lineage=a87bd80c:1"
        ))
    );
}

#[test]
fn a_subsegment_without_sampling_is_ended_and_the_segment_still_sent() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter, MapEnv::default());
    let segment = rec.begin_segment("web").into_entity();
    let quiet = rec
        .begin_subsegment_without_sampling("health")
        .unwrap()
        .into_entity();
    assert!(!quiet.is_sampled());
    assert_eq!(context::current(), Some(quiet.clone()));
    // Calls made inside carry the trace with Sampled=0.
    let header = quiet.trace_header().unwrap();
    assert_eq!(header.root, Some(segment.trace_id()));
    assert_eq!(header.sampled.map(|s| s.as_str()), Some("0"));
    rec.end_subsegment().unwrap();
    assert_eq!(context::current(), Some(segment.clone()));
    let traced = rec.begin_subsegment("traced").unwrap().into_entity();
    rec.end_subsegment().unwrap();
    rec.end_segment().unwrap();
    assert_eq!(context::current(), None);
    let docs = emitter.documents();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].id, segment.id());
    let names: Vec<_> = docs[0]
        .subsegments
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["traced"]);
    assert_eq!(docs[0].subsegments[0].id, traced.id());
}

#[test]
fn end_segment_from_inside_a_subsegment_without_sampling_ends_the_real_segment() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter, MapEnv::default());
    let segment = rec.begin_segment("web").into_entity();
    let _quiet = rec
        .begin_subsegment_without_sampling("health")
        .unwrap()
        .into_entity();
    rec.end_segment().unwrap();
    assert!(segment.is_sent());
    assert_eq!(emitter.documents().len(), 1);
    assert_eq!(context::current(), None);
}

#[test]
fn nothing_is_current_once_the_last_subsegment_sends_the_segment() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter, MapEnv::default());
    let segment = rec.begin_segment("web").into_entity();
    let _work = rec.begin_subsegment("work").unwrap().into_entity();
    // The segment ends first and waits for its subsegment.
    rec.end_segment().unwrap();
    assert_eq!(emitter.documents().len(), 0);
    rec.end_subsegment().unwrap();
    assert!(segment.is_sent());
    assert_eq!(emitter.documents().len(), 1);
    assert_eq!(context::current(), None);
    // A later subsegment finds no segment: the strategy fires instead of recording nothing in silence.
    assert_eq!(
        rec.begin_subsegment("late").err(),
        Some(ContextMissingError)
    );
}

#[test]
fn guards_dropped_out_of_order_never_make_an_ended_entity_current() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter, MapEnv::default());
    let segment = rec.begin_segment("web");
    let outer = rec.begin_subsegment("outer").unwrap();
    let inner = rec.begin_subsegment("inner").unwrap();
    let outer_id = outer.id();
    drop(outer);
    assert_eq!(context::current().map(|e| e.id()), Some(inner.id()));
    drop(inner);
    // `outer` has ended: its parent, the segment, is current again.
    assert_eq!(context::current().map(|e| e.id()), Some(segment.id()));
    let after = rec.begin_subsegment("after").unwrap();
    drop(after);
    drop(segment);
    assert_eq!(context::current(), None);
    let docs = emitter.documents();
    assert_eq!(docs.len(), 1);
    let names: Vec<_> = docs[0]
        .subsegments
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, ["outer", "after"]);
    assert_eq!(docs[0].subsegments[0].id, outer_id);
    assert_eq!(docs[0].subsegments[0].subsegments[0].name, "inner");
}

#[test]
fn an_http_segment_without_a_configured_name_is_named_after_the_executable() {
    let emitter = MemoryEmitter::new();
    let rec = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    let exe = std::env::current_exe().unwrap();
    let stem = exe.file_stem().unwrap().to_str().unwrap();
    assert_eq!(rec.segment_name(Some("svc.internal")), stem);
    let named = Recorder::builder()
        .env(MapEnv::new([("AWS_XRAY_TRACING_NAME", "from-env")]))
        .emitter(emitter.clone())
        .build()
        .unwrap();
    assert_eq!(named.segment_name(None), "from-env");
}

#[test]
fn segments_record_the_runtime_and_its_version() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter, MapEnv::default());
    drop(rec.begin_segment("web"));
    let service = emitter.documents()[0].service.clone().unwrap();
    assert_eq!(service.runtime.as_deref(), Some("rust"));
    let version = service.runtime_version.unwrap();
    assert_eq!(version, xray_sdk_core::recorder::RUSTC_VERSION);
    assert!(
        version.split('.').count() >= 3 && version.starts_with("1."),
        "{version}"
    );
}

#[derive(Debug, thiserror::Error)]
#[error("stock is empty")]
struct OutOfStock;

#[test]
fn try_in_segment_and_subsegment_record_a_returned_error() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter, MapEnv::default());
    let result: Result<u32, OutOfStock> = rec.try_in_segment("order", |_| {
        rec.try_in_subsegment("reserve", |_| Err::<u32, _>(OutOfStock))
            .unwrap()
    });
    assert!(result.is_err());
    let docs = emitter.documents();
    let segment = serde_json::to_value(&docs[0]).unwrap();
    let sub = &segment["subsegments"][0];
    assert_eq!(sub["fault"], true);
    let exception = &sub["cause"]["exceptions"][0];
    assert_eq!(exception["message"], "stock is empty");
    assert_eq!(exception["type"], "OutOfStock");
    // The same error reaching the segment is referred to by the subsegment's exception id.
    assert_eq!(segment["fault"], true);
    assert_eq!(segment["cause"], exception["id"]);
    // Ok results record nothing.
    let ok: Result<u32, OutOfStock> = rec.try_in_segment("fine", |_| Ok(1));
    assert_eq!(ok.unwrap(), 1);
    assert_eq!(emitter.documents()[1].fault, None);
}

#[test]
fn an_entity_reports_whether_it_has_ended() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter, MapEnv::default());
    let segment = rec.begin_segment("web").into_entity();
    let sub = rec.begin_subsegment("sub").unwrap().into_entity();
    assert!(!sub.has_ended());
    sub.end();
    assert!(sub.has_ended());
    assert!(!segment.has_ended());
    segment.end();
    assert!(segment.has_ended());
}
