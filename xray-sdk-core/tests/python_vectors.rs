//! The recorder-level vectors of the Python SDK (`python-sdk-vectors.json`): daemon addresses, the SDK switch,
//! the emitter's framing, the streaming scenario and the sampling argument of `begin_segment`. Where this SDK
//! deliberately differs, the case says so and asserts our behaviour.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use xray_sdk_core::Recorder;
use xray_sdk_core::config::{DaemonAddress, MapEnv};
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::sampling::{AlwaysSample, SamplingDecision};
use xray_sdk_types::framing::{DATAGRAM_PREFIX, PROTOCOL_HEADER};
use xray_sdk_types::{Document, TraceHeader, TraceId};

fn vectors() -> Value {
    serde_json::from_str(&xray_sdk_testdata::read_text("python-sdk-vectors.json")).unwrap()
}

fn cases<'a>(v: &'a Value, section: &str) -> &'a Vec<Value> {
    v[section]["cases"].as_array().unwrap()
}

#[test]
fn daemon_address() {
    let v = vectors();
    let cases = cases(&v, "daemon_address");
    assert_eq!(cases.len(), 24);
    for case in cases {
        let input = case["input"].as_str();
        // Our deliberate differences: surrounding and repeated whitespace are accepted, IPv6 is accepted in
        // brackets, and trailing junk, an empty host, a signed port or one outside 1..=65535 are errors at
        // configuration time instead of failures at send time.
        let ours: Option<Result<(&str, u16), ()>> = match input {
            Some(" 127.0.0.1:2000") => Some(Ok(("127.0.0.1", 2000))),
            Some("udp:127.0.0.1:2000  tcp:127.0.0.1:2000") => Some(Ok(("127.0.0.1", 2000))),
            Some("[::1]:2000") => Some(Ok(("::1", 2000))),
            Some("127.0.0.1:2000:extra")
            | Some("127.0.0.1:+2000")
            | Some("tcp:a:1:9 udp:b:2:9")
            | Some(":2000")
            | Some("127.0.0.1:70000")
            | Some("127.0.0.1:-1") => Some(Err(())),
            _ => None,
        };
        let parsed = match input {
            None => Ok(DaemonAddress::default()),
            Some(text) => DaemonAddress::parse(text),
        };
        match ours {
            Some(Ok((host, port))) => {
                let a = parsed.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                assert_eq!((a.udp.host.as_str(), a.udp.port), (host, port), "{input:?}");
            }
            Some(Err(())) => assert!(parsed.is_err(), "{input:?} should be rejected"),
            None if case.get("error").is_some() => {
                let err = parsed.expect_err(&format!("{input:?} should be rejected"));
                assert!(err.to_string().contains("invalid daemon address"), "{err}");
            }
            None => {
                let a = parsed.unwrap_or_else(|e| panic!("{input:?}: {e}"));
                let udp = &case["udp"];
                let tcp = &case["tcp"];
                assert_eq!(a.udp.host, udp[0].as_str().unwrap(), "{input:?}");
                assert_eq!(u64::from(a.udp.port), udp[1].as_u64().unwrap(), "{input:?}");
                assert_eq!(a.tcp.host, tcp[0].as_str().unwrap(), "{input:?}");
                assert_eq!(u64::from(a.tcp.port), tcp[1].as_u64().unwrap(), "{input:?}");
            }
        }
    }
}

#[test]
fn sdk_enabled() {
    let v = vectors();
    let cases = cases(&v, "sdk_enabled");
    assert_eq!(cases.len(), 22);
    for case in cases {
        let env = case["env_AWS_XRAY_SDK_ENABLED"].as_str();
        let arg = case["set_sdk_enabled_arg"].as_bool().unwrap();
        let expected = case["enabled"].as_bool().unwrap();
        let env = match env {
            Some(value) => MapEnv::new([("AWS_XRAY_SDK_ENABLED", value)]),
            None => MapEnv::default(),
        };
        let recorder = Recorder::builder()
            .env(env)
            .enabled(arg)
            .emitter(MemoryEmitter::new())
            .build()
            .unwrap();
        assert_eq!(recorder.is_enabled(), expected, "{case}");
    }
}

#[test]
fn emitter_framing() {
    let v = vectors();
    let e = &v["emitter"];
    assert_eq!(PROTOCOL_HEADER, e["protocol_header"].as_str().unwrap());
    assert_eq!(
        DATAGRAM_PREFIX,
        format!("{}{}", PROTOCOL_HEADER, e["delimiter"].as_str().unwrap())
    );
    // Python's body starts `{"id": "`; ours is compact JSON with the same first key.
    let prefix = e["example_prefix_bytes"]
        .as_str()
        .unwrap()
        .replace(": ", ":");
    let emitter = MemoryEmitter::new();
    let recorder = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    drop(recorder.begin_segment("framing"));
    let doc = &emitter.documents()[0];
    let mut datagrams = Vec::new();
    let mut buf = Vec::new();
    xray_sdk_core::emitter::encode::encode(Box::new(doc.clone()), 65_507, &mut buf, &mut |d| {
        datagrams.push(d.to_vec())
    });
    assert_eq!(datagrams.len(), 1);
    assert!(String::from_utf8_lossy(&datagrams[0]).starts_with(&prefix));
}

#[test]
fn streaming_scenario() {
    let v = vectors();
    let s = &v["streaming_scenario"];
    let threshold = s["threshold"].as_u64().unwrap() as usize;
    let emitter = MemoryEmitter::new();
    let recorder = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .streaming_threshold(threshold)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    let mut segment = None;
    let mut open: Vec<xray_sdk_core::Entity> = Vec::new();
    let steps = s["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 12);
    for step in steps {
        let op = step["op"].as_str().unwrap();
        let arg = op.split('\'').nth(1);
        if op.starts_with("begin_segment") {
            segment = Some(recorder.begin_segment(arg.unwrap()).into_entity());
        } else if op.starts_with("begin_subsegment") {
            open.push(
                recorder
                    .begin_subsegment(arg.unwrap())
                    .unwrap()
                    .into_entity(),
            );
        } else if op.starts_with("end_subsegment") {
            open.pop().unwrap();
            recorder.end_subsegment().unwrap();
        } else if op.starts_with("end_segment") {
            recorder.end_segment().unwrap();
        } else {
            panic!("unknown step {op}");
        }
        let emitted = emitter.take();
        let expected = step["emitted"].as_array().unwrap();
        assert_eq!(emitted.len(), expected.len(), "{op}");
        for (doc, want) in emitted.iter().zip(expected) {
            assert_shape(doc, want, op);
        }
    }
    assert!(segment.unwrap().is_sent());
}

/// Checks the names, `type` and nesting that the vector lists.
fn assert_shape(doc: &Document, want: &Value, op: &str) {
    assert_eq!(doc.name, want["name"].as_str().unwrap(), "{op}");
    assert_eq!(
        doc.is_subsegment(),
        want.get("type").is_some(),
        "{op}: type of {}",
        doc.name
    );
    let subs = want["subsegments"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    assert_eq!(
        doc.subsegments.len(),
        subs.len(),
        "{op}: children of {}",
        doc.name
    );
    for (d, w) in doc.subsegments.iter().zip(subs) {
        assert_shape(d, w, op);
    }
}

#[test]
fn begin_segment_sampling_arg() {
    let v = vectors();
    let cases = cases(&v, "begin_segment_sampling_arg");
    assert_eq!(cases.len(), 6);
    let root = TraceId::parse("1-5759e988-bd862e3fe1be46a994272793").unwrap();
    let header = TraceHeader::new(root, "53995c3f42cd8ad8".parse().ok(), None);
    for case in cases {
        let label = case["label"].as_str().unwrap();
        let decision = match label {
            "sampling=None, recorder.sampling False" => None,
            "sampling=0" | "sampling=False" => Some(SamplingDecision::NOT_SAMPLED),
            "sampling=1" | "sampling=True" => Some(SamplingDecision::SAMPLED),
            "sampling='myrule'" => Some(SamplingDecision {
                sampled: true,
                rule_name: Some("myrule".into()),
            }),
            other => panic!("unknown case {other}"),
        };
        let emitter = MemoryEmitter::new();
        let recorder = Recorder::builder()
            .env(MapEnv::default())
            .sampler(AlwaysSample)
            .emitter(emitter.clone())
            .build()
            .unwrap();
        let mut builder = recorder.segment("seg").trace_header(&header);
        if let Some(d) = decision {
            builder = builder.decision(d);
        }
        let segment = builder.begin();
        let sampled = case["type"] == "Segment";
        assert_eq!(segment.is_sampled(), sampled, "{label}");
        assert_eq!(
            segment.id().is_noop(),
            case["id_is_noop"].as_bool().unwrap(),
            "{label}"
        );
        // Deliberate difference: an unsampled segment keeps the incoming trace id (Python discards it for
        // the no-op id), so that logs and downstream calls stay correlated.
        assert_eq!(segment.trace_id(), root, "{label}");
        drop(segment);
        let docs = emitter.documents();
        if sampled {
            let doc = &docs[0];
            assert_eq!(
                doc.parent_id.map(|p| p.to_string()).as_deref(),
                case["parent_id"].as_str()
            );
            let rule = doc
                .aws
                .as_ref()
                .and_then(|a| a.xray.as_ref())
                .and_then(|x| x.sampling_rule_name.as_deref());
            assert_eq!(rule, case["sampling_rule_name"].as_str(), "{label}");
        } else {
            assert!(docs.is_empty(), "{label}");
        }
    }
}
