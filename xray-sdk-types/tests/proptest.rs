//! Properties: no input makes a parser panic, what we write reads back the same, and what we generate is valid.

// A test that meets the unexpected fails loudly: panicking is its way to report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::OnceLock;

use proptest::prelude::*;
use serde_json::{Value, json};
use xray_sdk_types::document::{Http, HttpRequest, HttpResponse};
use xray_sdk_types::framing::{self, DATAGRAM_PREFIX};
use xray_sdk_types::header::TraceHeader;
use xray_sdk_types::validate::{self, DocumentKind};
use xray_sdk_types::{AnnotationValue, Document, EntityId, Namespace, TraceId, rules};

/// Valid documents of every shape, to mutate.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    SEEDS.get_or_init(|| {
        [
            "awsdocs/segment-with-embedded-subsegment.json",
            "awsdocs/independent-subsegment.json",
            "otel-collector-contrib/valid/awsValidAwsFields.json",
            "otel-collector-contrib/valid/minCauseIsExceptionId.json",
            "python-sdk-generated/ecs-segment-ddb-sqs-sqlite.json",
        ]
        .iter()
        .map(|path| common::document_bytes(path))
        .collect()
    })
}

/// One `;`-separated field of a trace header, well- or ill-formed.
fn header_field() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9a-f]{8}".prop_map(|e| format!("Root=1-{e}-bd862e3fe1be46a994272793")),
        "[0-9a-fA-F-]{0,40}".prop_map(|v| format!("Root={v}")),
        "[0-9a-f]{16}".prop_map(|p| format!("Parent={p}")),
        "[0-9a-fx]{0,18}".prop_map(|p| format!("Parent={p}")),
        "[01?x ]{0,2}".prop_map(|s| format!("Sampled={s}")),
        "[ -~]{0,12}".prop_map(|v| format!("Self={v}")),
        "[0-9]{1,2}:[0-9a-f]{8}:[0-9]".prop_map(|l| format!("Lineage={l}")),
        ("[ \t]{0,2}[A-Za-z]{1,8}[ \t]{0,2}", "[ -:<-~]{0,12}")
            .prop_map(|(k, v)| format!("{k}={v}")),
        "[ -~]{0,16}",
        "\\PC{0,16}",
    ]
}

fn header_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::collection::vec(header_field(), 0..7).prop_map(|fields| fields.join(";")),
        any::<String>(),
    ]
}

/// A byte string that is often close to a valid document: a seed with a few bytes replaced, removed or added.
fn mutated_document() -> impl Strategy<Value = Vec<u8>> {
    let edit = (
        any::<prop::sample::Index>(),
        0u8..3,
        prop_oneof![
            any::<u8>(),
            prop::sample::select(b"{}[]\",:0123456789.-eE \\tfnru".to_vec()),
        ],
    );
    (0..5usize, prop::collection::vec(edit, 1..8)).prop_map(|(seed, edits)| {
        let mut bytes = seeds()[seed].clone();
        for (at, kind, byte) in edits {
            if bytes.is_empty() {
                bytes.push(byte);
                continue;
            }
            let i = at.index(bytes.len());
            match kind {
                0 => bytes[i] = byte,
                1 => {
                    bytes.remove(i);
                }
                _ => bytes.insert(i, byte),
            }
        }
        bytes
    })
}

fn annotation_value() -> impl Strategy<Value = AnnotationValue> {
    prop_oneof![
        any::<bool>().prop_map(AnnotationValue::from),
        any::<i64>().prop_map(AnnotationValue::from),
        any::<u64>().prop_map(AnnotationValue::from),
        (-1e12f64..1e12).prop_map(AnnotationValue::from),
        "\\PC{0,40}".prop_map(AnnotationValue::from),
    ]
}

fn json_leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-1e9f64..1e9).prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::from),
    ]
}

/// A closed or in-progress entity with generated names, ids, times, annotations, metadata and http.
fn entity() -> impl Strategy<Value = Document> {
    (
        (
            any::<u64>(),
            "\\PC{1,60}",
            1.0e9f64..2.0e9,
            prop::option::of(0.0f64..1.0e4),
        ),
        prop::collection::vec(("[A-Za-z0-9_]{1,20}", annotation_value()), 0..5),
        prop::collection::vec(("\\PC{1,10}", "\\PC{0,10}", json_leaf()), 0..4),
        prop::option::of((100u16..600, -1i64..100_000, "[A-Z]{3,6}")),
        prop::option::of(prop::sample::select(vec![
            Namespace::Aws,
            Namespace::Remote,
            Namespace::Local,
        ])),
    )
        .prop_filter_map(
            "an empty name after sanitizing",
            |((id, name, start, duration), annotations, metadata, http, namespace)| {
                let name = rules::sanitize_name(&name).into_owned();
                if name.is_empty() {
                    return None;
                }
                // Microsecond precision, as the recorder writes.
                let start = (start * 1e6).round() / 1e6;
                let mut doc = Document::new(EntityId::from_u64(id), name, start);
                match duration {
                    Some(d) => doc.end_time = Some(start + d),
                    None => doc.in_progress = Some(true),
                }
                for (key, value) in annotations {
                    doc.annotations.insert(key, value);
                }
                for (namespace, key, value) in metadata {
                    if !rules::is_reserved_metadata_namespace(&namespace) {
                        doc.metadata
                            .get_or_insert_with(&namespace, Default::default)
                            .insert(key, xray_sdk_types::document::MetadataValue::from(value));
                    }
                }
                if let Some((status, length, method)) = http {
                    let flags = rules::status_flags(status);
                    doc.http = Some(Box::new(Http {
                        request: Some(HttpRequest {
                            method: Some(method.into()),
                            ..HttpRequest::default()
                        }),
                        response: Some(HttpResponse {
                            status: Some(status),
                            content_length: Some(length),
                        }),
                    }));
                    doc.error = flags.error.then_some(true);
                    doc.throttle = flags.throttle.then_some(true);
                    doc.fault = flags.fault.then_some(true);
                }
                doc.namespace = namespace;
                Some(doc)
            },
        )
}

/// A segment with up to two levels of subsegments.
fn segment() -> impl Strategy<Value = Document> {
    (
        entity(),
        any::<u32>(),
        any::<u128>(),
        prop::collection::vec((entity(), prop::collection::vec(entity(), 0..3)), 0..4),
    )
        .prop_map(|(mut segment, epoch, random, children)| {
            segment.trace_id = Some(TraceId::from_parts(epoch, random));
            segment.namespace = None;
            segment.subsegments = children
                .into_iter()
                .map(|(mut child, grandchildren)| {
                    child.subsegments = grandchildren.into_iter().map(Box::new).collect();
                    Box::new(child)
                })
                .collect();
            segment
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn header_parsing_never_panics_and_formatting_is_stable(text in header_text()) {
        if let Ok(header) = TraceHeader::parse(&text) {
            let formatted = header.to_string();
            prop_assert_eq!(TraceHeader::parse(&formatted), Ok(header.clone()));
            // The canonical form is a fixed point.
            prop_assert_eq!(TraceHeader::parse(&formatted).map(|h| h.to_string()), Ok(formatted));
        }
    }

    #[test]
    fn traceparent_parsing_never_panics(
        text in prop_oneof![
            "[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(-[0-9a-f]{0,4})?",
            "[0-9a-fA-F+-]{0,60}",
            any::<String>(),
        ]
    ) {
        if let Ok(header) = TraceHeader::from_traceparent(&text) {
            let traceparent = header.to_traceparent().expect("a parsed traceparent has a root and a parent");
            prop_assert_eq!(TraceHeader::from_traceparent(&traceparent), Ok(header));
        }
    }

    #[test]
    fn id_parsing_never_panics(text in prop_oneof!["1-[0-9a-fA-F]{8}-[0-9a-f]{24}", "[0-9a-fA-F]{16}", any::<String>()]) {
        if let Ok(id) = TraceId::parse(&text) {
            prop_assert_eq!(id.to_string(), text.clone());
        }
        if let Ok(id) = EntityId::parse(&text) {
            prop_assert_eq!(id.to_string(), text.clone());
        }
        if let Ok(id) = TraceId::from_w3c(&text) {
            prop_assert_eq!(id.to_w3c(), text);
        }
    }

    #[test]
    fn ids_read_back(epoch in any::<u32>(), random in any::<u128>(), entity in any::<u64>()) {
        let trace = TraceId::from_parts(epoch, random);
        prop_assert_eq!(trace.random(), random & ((1u128 << 96) - 1));
        prop_assert_eq!(TraceId::parse(&trace.to_string()), Ok(trace));
        let json = serde_json::to_string(&trace).expect("json");
        prop_assert_eq!(serde_json::from_str::<TraceId>(&json).ok(), Some(trace));
        if !trace.is_noop() {
            prop_assert_eq!(TraceId::from_w3c(&trace.to_w3c()), Ok(trace));
        }
        let entity = EntityId::from_u64(entity);
        prop_assert_eq!(EntityId::parse(&entity.to_string()), Ok(entity));
    }

    #[test]
    fn generated_ids_read_back(_round in 0..64u8) {
        let (trace, entity) = (TraceId::new(), EntityId::new());
        prop_assert_eq!(TraceId::parse(&trace.to_string()), Ok(trace));
        prop_assert_eq!(TraceId::from_w3c(&trace.to_w3c()), Ok(trace));
        prop_assert!(!entity.is_noop());
        prop_assert_eq!(EntityId::parse(&entity.to_string()), Ok(entity));
    }

    #[test]
    fn splitting_datagrams_never_panics(
        bytes in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..128),
            prop::collection::vec(any::<u8>(), 0..64).prop_map(|body| [DATAGRAM_PREFIX.as_bytes(), &body].concat()),
        ]
    ) {
        if let Ok(body) = framing::split_datagram(&bytes) {
            prop_assert!(bytes.ends_with(body));
            prop_assert!(!body.iter().all(u8::is_ascii_whitespace));
        }
        let mut framed = Vec::new();
        framing::write_datagram(&mut framed, &bytes);
        if !bytes.iter().all(u8::is_ascii_whitespace) {
            prop_assert_eq!(framing::split_datagram(&framed), Ok(&bytes[..]));
        }
    }

    #[test]
    fn document_parsing_never_panics_on_arbitrary_text(text in any::<String>()) {
        let _ = Document::from_json(&text);
        let _ = validate::validate_bytes(text.as_bytes());
    }

    #[test]
    fn mutated_documents_never_panic_and_stay_valid_through_a_round_trip(bytes in mutated_document()) {
        let verdict = validate::validate_bytes(&bytes);
        let parsed = std::str::from_utf8(&bytes).ok().map(Document::from_json);
        if let (Ok(kind), Some(Ok(doc))) = (verdict, parsed) {
            // What both accept, we write back in a form that is still valid, and of the same kind.
            let json = doc.to_json().expect("json");
            prop_assert_eq!(validate::validate_bytes(json.as_bytes()), Ok(kind));
            prop_assert_eq!(Document::from_json(&json).ok(), Some(doc));
        }
    }

    #[test]
    fn sanitized_names_are_valid(name in "\\PC{0,250}") {
        let sanitized = rules::sanitize_name(&name);
        prop_assert!(sanitized.chars().count() <= rules::MAX_NAME_LEN);
        if !sanitized.is_empty() {
            prop_assert!(rules::is_valid_name(&sanitized));
            let doc = json!({"name": sanitized, "id": "53995c3f42cd8ad8", "trace_id": "1-5759e988-bd862e3fe1be46a994272793", "start_time": 1.5e9, "in_progress": true});
            prop_assert!(xray_sdk_testdata::schema().is_valid(&doc), "the schema refuses {:?}", sanitized);
        }
        // Sanitizing is idempotent, and leaves valid names alone.
        prop_assert_eq!(rules::sanitize_name(&sanitized), sanitized.clone());
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn generated_documents_are_valid_and_read_back(segment in segment()) {
        let json = segment.to_json().expect("json");
        prop_assert_eq!(validate::validate_bytes(json.as_bytes()), Ok(DocumentKind::Segment));
        let value: Value = serde_json::from_str(&json).expect("value");
        let errors: Vec<String> = xray_sdk_testdata::schema().iter_errors(&value).map(|e| format!("{}: {e}", e.instance_path())).collect();
        prop_assert!(errors.is_empty(), "{:?}", errors);
        let mut fast = Vec::new();
        segment.write_json(&mut fast).expect("write_json");
        prop_assert_eq!(String::from_utf8(fast).expect("utf-8"), json.clone());
        prop_assert_eq!(Document::from_json(&json).ok(), Some(segment));
    }

    #[test]
    fn the_fast_writer_matches_serde_on_any_strings(name in any::<String>(), key in any::<String>(), text in any::<String>(), t in any::<f64>()) {
        let mut doc = Document::new(xray_sdk_types::EntityId::new(), name, if t.is_finite() { t } else { 0.0 });
        doc.annotations.insert(key.clone(), AnnotationValue::from(text.clone()));
        doc.user = Some(text);
        doc.extra.insert(key, Value::Bool(true));
        let mut fast = Vec::new();
        doc.write_json(&mut fast).expect("write_json");
        prop_assert_eq!(fast, serde_json::to_vec(&doc).expect("serde"));
    }

    #[test]
    fn the_fast_writer_matches_serde_on_times(
        micros in 1_000_000u64..8_589_934_592_000_000,
        any_time in 0.0f64..9.0e9,
        end in prop::sample::select(vec![1.0, 1.5, 8_589_934_591.999_999, 8_589_934_592.5, 1e16, 0.25]),
    ) {
        for t in [micros as f64 / 1e6, any_time, end, (micros / 1000) as f64 / 1e3] {
            let doc = Document::new(EntityId::from_u64(1), "t", t);
            let mut fast = Vec::new();
            doc.write_json(&mut fast).expect("write_json");
            prop_assert_eq!(String::from_utf8(fast).expect("utf-8"), serde_json::to_string(&doc).expect("serde"), "{}", t);
        }
    }

    #[test]
    fn the_fast_writer_matches_serde_on_http_aws_and_service(
        texts in prop::collection::vec(prop::option::of(any::<String>()), 16),
        flags in prop::collection::vec(prop::option::of(any::<bool>()), 3),
        status in prop::option::of(any::<u16>()),
        length in prop::option::of(any::<i64>()),
        retries in prop::option::of(any::<u32>()),
        extra_key in any::<String>(),
        with_blocks in any::<(bool, bool, bool, bool)>(),
    ) {
        use xray_sdk_types::document::{Aws, Ec2, Service, XraySdk};
        let t = |i: usize| texts[i].clone();
        let extra = |present: bool| {
            let mut map = serde_json::Map::new();
            if present {
                map.insert(extra_key.clone(), json!({"nested": [1, "two"]}));
            }
            map
        };
        let mut doc = Document::new(EntityId::from_u64(7), "blocks", 1.5e9);
        if with_blocks.0 {
            doc.http = Some(Box::new(Http {
                request: Some(HttpRequest {
                    method: t(0).map(Into::into),
                    url: t(1),
                    user_agent: t(2),
                    client_ip: t(3).map(Into::into),
                    x_forwarded_for: flags[0],
                    traced: flags[1],
                }),
                response: with_blocks.1.then_some(HttpResponse { status, content_length: length }),
            }));
        }
        doc.aws = Some(Box::new(Aws {
            account_id: t(4),
            operation: t(5),
            region: t(6),
            request_id: t(7),
            retries,
            queue_url: t(8),
            table_name: t(9),
            resource_names: t(10).map(|n| vec![n]),
            ec2: with_blocks.2.then(|| Ec2 { instance_id: t(11), ..Ec2::default() }),
            xray: Some(XraySdk {
                sdk: t(12).map(Into::into),
                sdk_version: t(13).map(Into::into),
                auto_instrumentation: flags[2],
                sampling_rule_name: t(14).map(Into::into),
                extra: extra(with_blocks.3),
            }),
            extra: extra(with_blocks.2),
            ..Aws::default()
        }));
        doc.service = Some(Box::new(Service {
            version: t(15).map(Into::into),
            runtime: t(0).map(Into::into),
            runtime_version: t(1).map(Into::into),
            compiler: t(2).map(Into::into),
            compiler_version: t(3).map(Into::into),
            extra: extra(with_blocks.1),
        }));
        let mut fast = Vec::new();
        doc.write_json(&mut fast).expect("write_json");
        prop_assert_eq!(String::from_utf8(fast).expect("utf-8"), serde_json::to_string(&doc).expect("serde"));
    }
}
