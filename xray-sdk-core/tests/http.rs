//! The framework-neutral HTTP logic against the Python SDK's vectors, and the server and client helpers'
//! documents.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::IpAddr;

use serde_json::{Value, json};
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::http::{
    ClientSubsegment, HttpOptions, IncomingRequest, ServerSegment, response_header_value,
    sanitize_url, url_host,
};
use xray_sdk_core::sampling::SamplingDecision;
use xray_sdk_core::{Recorder, context};
use xray_sdk_types::TraceHeader;

fn vectors() -> Value {
    serde_json::from_str(&xray_sdk_testdata::read_text("python-sdk-vectors.json")).unwrap()
}

fn recorder(emitter: &MemoryEmitter) -> Recorder {
    Recorder::builder()
        .env(MapEnv::default())
        .sampler(xray_sdk_core::sampling::AlwaysSample)
        .service_name("svc")
        .emitter(emitter.clone())
        .build()
        .unwrap()
}

#[test]
fn response_header_vectors() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter);
    let v = vectors();
    for case in v["response_header"]["cases"].as_array().unwrap() {
        let incoming = case["incoming_header"]
            .as_str()
            .map(|h| TraceHeader::parse(h).unwrap());
        let trace_header = TraceHeader::parse(&format!(
            "Root={}",
            case["segment_trace_id"].as_str().unwrap()
        ))
        .unwrap();
        let sampled = case["segment_sampled"].as_bool().unwrap();
        let segment = rec
            .segment("svc")
            .trace_header(&trace_header)
            .decision(SamplingDecision {
                sampled,
                rule_name: None,
            })
            .begin_detached();
        assert_eq!(
            response_header_value(incoming.as_ref(), segment.entity()),
            case["response_header"].as_str().unwrap(),
            "{case}"
        );
    }
}

#[test]
fn url_vectors() {
    let v = vectors();
    for case in v["ext_util"]["strip_url"].as_array().unwrap() {
        let Some(input) = case["in"].as_str() else {
            continue;
        };
        let expected = case["out"].as_str().unwrap();
        // Python keeps `user:password@` and a fragment without a query; this SDK removes both, on purpose.
        let expected = match input {
            "http://u:p@h:1/p?q#f" => "http://h:1/p",
            "http://h/p#frag" => "http://h/p",
            _ => expected,
        };
        assert_eq!(sanitize_url(input, false), expected, "{case}");
    }
    for case in v["ext_util"]["get_hostname"].as_array().unwrap() {
        let expected = case["out"].as_str().unwrap();
        let got = case["in"]
            .as_str()
            .and_then(url_host)
            .map_or("UNKNOWN HOST".to_owned(), str::to_ascii_lowercase);
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn a_server_segment_records_the_request_and_the_response() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter);
    let request = IncomingRequest {
        method: "POST",
        scheme: Some("https"),
        host: Some("api.example.com:8443"),
        path: "/orders",
        query: Some("token=abc"),
        user_agent: Some("curl/8"),
        x_forwarded_for: None,
        peer_addr: Some(IpAddr::from([192, 0, 2, 1])),
        trace_header: Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?;Lineage=x:1"),
        traceparent: None,
    };
    let segment = ServerSegment::begin(&rec, &request, &HttpOptions::new());
    assert_eq!(
        segment.response_header().as_deref(),
        Some("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1")
    );
    segment.record_route("/orders");
    let outgoing = {
        let _in = context::enter(segment.entity().clone());
        ClientSubsegment::begin(
            &rec,
            "GET",
            "http://Stock.internal:81/items?id=1",
            &HttpOptions::new(),
        )
        .unwrap()
    };
    let header = outgoing.trace_header();
    outgoing.finish(201, Some(12));
    segment.finish(201, Some(2));

    let docs = emitter.take();
    let doc = serde_json::to_value(&docs[0]).unwrap();
    assert_eq!(doc["name"], "svc");
    assert_eq!(
        doc["http"],
        json!({
            "request": {"method": "POST", "url": "https://api.example.com:8443/orders", "user_agent": "curl/8",
                        "client_ip": "192.0.2.1"},
            "response": {"status": 201, "content_length": 2},
        })
    );
    let sub = &doc["subsegments"][0];
    assert_eq!(sub["name"], "stock.internal");
    assert_eq!(
        sub["http"],
        json!({
            "request": {"method": "GET", "url": "http://Stock.internal:81/items", "traced": true},
            "response": {"status": 201, "content_length": 12},
        })
    );
    assert_eq!(
        header,
        Some(format!(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent={};Sampled=1;Lineage=x:1",
            sub["id"].as_str().unwrap()
        ))
    );
}

#[test]
fn without_a_current_entity_there_is_no_client_subsegment() {
    let emitter = MemoryEmitter::new();
    let rec = Recorder::builder()
        .env(MapEnv::default())
        .context_missing(xray_sdk_core::config::ContextMissing::RuntimeError)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    assert!(ClientSubsegment::begin(&rec, "GET", "http://h/", &HttpOptions::new()).is_none());
    assert!(emitter.documents().is_empty());
}

/// A malformed field of the incoming header costs that field only, and upper-case ids are the same trace:
/// the request continues the caller's trace with the caller's decision, which a sampler that never samples
/// would otherwise overturn.
#[test]
fn a_malformed_trace_header_field_keeps_the_others() {
    let emitter = MemoryEmitter::new();
    let rec = Recorder::builder()
        .env(MapEnv::default())
        .sampler(xray_sdk_core::sampling::NeverSample)
        .service_name("svc")
        .emitter(emitter.clone())
        .build()
        .unwrap();
    let root = "1-5759e988-bd862e3fe1be46a994272793";
    let cases = [
        (
            "Root=1-5759E988-BD862E3FE1BE46A994272793;Parent=53995C3F42CD8AD8;Sampled=1",
            Some("53995c3f42cd8ad8"),
        ),
        (
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=xyz;Sampled=1",
            None,
        ),
        (
            "junk;Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
            Some("53995c3f42cd8ad8"),
        ),
    ];
    for (header, parent) in cases {
        let request = IncomingRequest {
            method: "GET",
            scheme: None,
            host: Some("svc.example.com"),
            path: "/",
            query: None,
            user_agent: None,
            x_forwarded_for: None,
            peer_addr: None,
            trace_header: Some(header),
            traceparent: None,
        };
        let segment = ServerSegment::begin(&rec, &request, &HttpOptions::new());
        assert_eq!(
            segment.response_header(),
            Some(format!("Root={root}")),
            "{header}"
        );
        segment.finish(200, None);
        let docs = emitter.take();
        assert_eq!(docs.len(), 1, "{header}");
        let doc = serde_json::to_value(&docs[0]).unwrap();
        assert_eq!(doc["trace_id"], json!(root), "{header}");
        assert_eq!(doc["parent_id"], json!(parent), "{header}");
        xray_sdk_types::validate::validate(&doc).unwrap();
    }
}
