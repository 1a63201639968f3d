//! Every fixture under `testdata/fixtures` against our types: documents round-trip through [`Document`]
//! unchanged and get the verdict `common::FIXTURES` states; datagrams split; header vectors parse as expected.

// A test that meets the unexpected fails loudly: panicking is its way to report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{FIXTURES, Ours, document_bytes, fixture_files};
use serde_json::Value;
use xray_sdk_types::header::{HeaderError, SamplingFlag, TraceHeader};
use xray_sdk_types::id::IdError;
use xray_sdk_types::validate::{self, DocumentKind};
use xray_sdk_types::{Document, EntityId, TraceId, framing};

/// Parses `bytes` into a [`Document`], serializes it, and checks that the JSON value did not change.
fn assert_round_trip(what: &str, bytes: &[u8]) -> Document {
    let original: Value = serde_json::from_slice(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    let text = std::str::from_utf8(bytes).unwrap_or_else(|e| panic!("{what}: {e}"));
    let doc = Document::from_json(text).unwrap_or_else(|e| panic!("{what}: {e}"));
    let json = doc.to_json().unwrap_or_else(|e| panic!("{what}: {e}"));
    let again: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(
        again, original,
        "{what}: the round trip changed the document"
    );
    assert_eq!(
        Document::from_json(&json).unwrap_or_else(|e| panic!("{what}: {e}")),
        doc,
        "{what}: the re-serialized document parses differently"
    );
    doc
}

#[test]
fn the_table_lists_every_fixture_file_once() {
    let mut listed: Vec<String> = FIXTURES.iter().map(|f| f.path.to_owned()).collect();
    listed.sort();
    let count = listed.len();
    listed.dedup();
    assert_eq!(listed.len(), count, "a fixture is listed twice");
    assert_eq!(
        fixture_files(),
        listed,
        "fixtures/ and the table in tests/common/mod.rs differ"
    );
    assert_eq!(count, 38);
}

#[test]
fn every_document_fixture_gets_its_stated_verdict() {
    let mut checked = 0;
    for fixture in FIXTURES {
        let path = fixture.path;
        if matches!(fixture.ours, Ours::NotADocument) {
            continue;
        }
        let bytes = document_bytes(path);
        let value: Value = serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
        match fixture.ours {
            Ours::Valid(kind) => {
                assert_round_trip(path, &bytes);
                assert_eq!(validate::validate(&value), Ok(kind), "{path}");
                assert_eq!(validate::validate_bytes(&bytes), Ok(kind), "{path}");
            }
            Ours::Fragment => {
                assert_round_trip(path, &bytes);
                assert_eq!(validate::validate_subsegment(&value), Ok(()), "{path}");
                // Without a trace_id, a fragment is no document of its own.
                let err = validate::validate(&value).expect_err(path);
                assert_eq!(
                    (err.path.as_str(), err.reason.code()),
                    ("$.trace_id", "missing_field"),
                    "{path}"
                );
            }
            Ours::Invalid { code, path: at } => {
                assert_round_trip(path, &bytes);
                let err = validate::validate(&value).expect_err(path);
                assert_eq!((err.path.as_str(), err.reason.code()), (at, code), "{path}");
            }
            Ours::Unparsable {
                error,
                code,
                path: at,
            } => {
                let text = std::str::from_utf8(&bytes).unwrap_or_else(|e| panic!("{path}: {e}"));
                let parse_error = Document::from_json(text).expect_err(path).to_string();
                assert!(
                    parse_error.contains(error),
                    "{path}: {parse_error:?} does not contain {error:?}"
                );
                let err = validate::validate(&value).expect_err(path);
                assert_eq!((err.path.as_str(), err.reason.code()), (at, code), "{path}");
            }
            Ours::NotADocument => unreachable!(),
        }
        checked += 1;
    }
    assert_eq!(checked, 32);
}

#[test]
fn typed_fields_are_read_into_their_fields() {
    // A round trip through `extra` alone would pass the test above; these fixtures must fill the typed fields.
    let doc = assert_round_trip(
        "awsValidAwsFields",
        &document_bytes("otel-collector-contrib/valid/awsValidAwsFields.json"),
    );
    assert_eq!(
        doc.trace_id,
        Some(TraceId::from_parts(0x5f2aebcc, 0xb475d14618c51eaa28753d37))
    );
    assert_eq!(doc.id, EntityId::from_u64(0xbda182a644eee9b3));
    assert_eq!(doc.start_time, 1596648396.6399446);
    assert_eq!(doc.end_time, Some(1596648396.6401389));
    let aws = doc.aws.as_ref().expect("aws");
    assert_eq!(aws.account_id.as_deref(), Some("000000000000"));
    let ec2 = aws.ec2.as_ref().expect("ec2");
    assert_eq!(ec2.instance_size.as_deref(), Some("m5.xlarge"));
    assert_eq!(ec2.ami_id.as_deref(), Some("ami-003634241a8fcdec0"));
    let ecs = aws.ecs.as_ref().expect("ecs");
    assert_eq!(ecs.container_id.as_deref(), Some("d8453812a556"));
    assert_eq!(ecs.availability_zone.as_deref(), Some("us-west-2c"));
    assert_eq!(
        aws.elastic_beanstalk.as_ref().and_then(|b| b.deployment_id),
        Some(32)
    );
    let request = doc
        .http
        .as_ref()
        .and_then(|h| h.request.as_ref())
        .expect("request");
    assert_eq!(request.x_forwarded_for, Some(true));
    assert_eq!(doc.extra.len(), 1);
    assert_eq!(doc.extra["Dummy"], false);

    let doc = assert_round_trip(
        "ecs-segment-ddb-sqs-sqlite",
        &document_bytes("python-sdk-generated/ecs-segment-ddb-sqs-sqlite.json"),
    );
    assert_eq!(doc.origin.as_deref(), Some("AWS::ECS::Container"));
    assert_eq!(doc.entity_count(), 9);
    assert!(doc.extra.is_empty());
    fn no_extra(doc: &Document) -> bool {
        doc.extra.is_empty() && doc.subsegments.iter().all(|s| no_extra(s))
    }
    assert!(no_extra(&doc), "a Python field went to `extra`");
}

#[test]
fn the_datagram_holds_the_pretty_printed_document() {
    let datagram = document_bytes("python-sdk-generated/ecs-segment-ddb-sqs-sqlite.datagram");
    let pretty = document_bytes("python-sdk-generated/ecs-segment-ddb-sqs-sqlite.json");
    let a: Value = serde_json::from_slice(&datagram).expect("datagram body");
    let b: Value = serde_json::from_slice(&pretty).expect("pretty body");
    assert_eq!(a, b);
    // 4767 bytes with the 30-byte header line.
    assert_eq!(datagram.len(), 4767 - framing::DATAGRAM_PREFIX.len());
}

#[test]
fn streamed_lambda_datagrams_are_independent_subsegments() {
    let text = xray_sdk_testdata::read_text(
        "fixtures/python-sdk-generated/lambda-streamed-subsegments.datagrams.json",
    );
    let datagrams: Vec<String> = serde_json::from_str(&text).expect("a list of strings");
    assert_eq!(datagrams.len(), 3);
    let parent = EntityId::from_u64(0x53995c3f42cd8ad8);
    let mut handler = None;
    for (i, datagram) in datagrams.iter().enumerate() {
        let what = format!("datagram {i}");
        let body =
            framing::split_datagram(datagram.as_bytes()).unwrap_or_else(|e| panic!("{what}: {e}"));
        let doc = assert_round_trip(&what, body);
        assert_eq!(
            validate::validate_bytes(body),
            Ok(DocumentKind::Subsegment),
            "{what}"
        );
        assert!(doc.is_subsegment());
        assert_eq!(
            doc.trace_id,
            Some(TraceId::parse("1-5759e988-bd862e3fe1be46a994272793").expect("trace id"))
        );
        // The same document as lambda-subsegment-{i+1}.json.
        let file = document_bytes(&format!(
            "python-sdk-generated/lambda-subsegment-{}.json",
            i + 1
        ));
        assert_eq!(
            serde_json::from_slice::<Value>(body).expect("body"),
            serde_json::from_slice::<Value>(&file).expect("file"),
            "{what}"
        );
        if doc.name == "handler" {
            handler = Some(doc.id);
            assert_eq!(doc.parent_id, Some(parent), "the header's Parent");
        }
    }
    // The two sqs calls hang under the handler subsegment.
    let handler = handler.expect("a handler subsegment");
    for datagram in &datagrams[..2] {
        let body = framing::split_datagram(datagram.as_bytes()).expect("datagram");
        let doc: Document = serde_json::from_slice(body).expect("document");
        assert_eq!(doc.parent_id, Some(handler));
    }
}

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

/// `trace-header/vectors.json`: real headers from AWS docs, ALB, SQS and Lambda, with the recommended behaviour.
#[test]
fn trace_header_vectors() {
    #[derive(serde::Deserialize)]
    struct Vectors {
        w3c_mapping: Vec<Value>,
        cases: Vec<Case>,
    }
    #[derive(serde::Deserialize)]
    struct Case {
        header: String,
    }
    let vectors: Vectors = serde_json::from_str(&xray_sdk_testdata::read_text(
        "fixtures/trace-header/vectors.json",
    ))
    .expect("vectors");

    let w3c = &vectors.w3c_mapping;
    assert_eq!(w3c.len(), 2);
    let id = TraceId::from_w3c(w3c[0]["w3c_trace_id"].as_str().expect("w3c id")).expect("w3c id");
    assert_eq!(id.to_string(), w3c[0]["xray_trace_id"]);
    let input = &w3c[1]["otel_inject_input"];
    let header = TraceHeader::new(
        TraceId::from_w3c(input["trace_id"].as_str().expect("trace_id")).expect("trace_id"),
        Some(EntityId::parse(input["span_id"].as_str().expect("span_id")).expect("span_id")),
        Some(SamplingFlag::from_decision(input["sampled"] == true)),
    );
    assert_eq!(header.to_string(), w3c[1]["header"]);

    let root = |s: &str| Some(TraceId::parse(s).expect("root"));
    let parent = |s: &str| Some(EntityId::parse(s).expect("parent"));
    let data = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };
    let expected: Vec<Result<TraceHeader, HeaderError>> = vec![
        Ok(TraceHeader {
            root: root(ROOT),
            parent: None,
            sampled: Some(SamplingFlag::Sampled),
            data: vec![],
        }),
        Ok(TraceHeader {
            root: root(ROOT),
            parent: parent(PARENT),
            sampled: Some(SamplingFlag::Sampled),
            data: vec![],
        }),
        // Lineage, in either shape, is kept opaque.
        Ok(TraceHeader {
            root: root(ROOT),
            parent: None,
            sampled: Some(SamplingFlag::Sampled),
            data: data(&[("Lineage", "a87bd80c:1|68fd508a:5|c512fbe3:2")]),
        }),
        Ok(TraceHeader {
            root: root(ROOT),
            parent: parent(PARENT),
            sampled: Some(SamplingFlag::Sampled),
            data: data(&[("Lineage", "1:a87bd80c:0")]),
        }),
        Ok(TraceHeader {
            root: root("1-64d38018-6a56d23a731e0cbe6ed85687"),
            parent: parent("1e4dbd311c45e826"),
            sampled: Some(SamplingFlag::NotSampled),
            data: data(&[("Lineage", "037bed70:0")]),
        }),
        // ALB's Self is dropped, even when it is not a valid trace id.
        Ok(TraceHeader {
            root: root("1-67891233-abcdef012345678912345678"),
            parent: parent(PARENT),
            sampled: Some(SamplingFlag::NotSampled),
            data: vec![],
        }),
        Ok(TraceHeader {
            root: root("1-67891233-abcdef012345678912345678"),
            parent: None,
            sampled: None,
            data: data(&[("CalledFrom", "app")]),
        }),
        Ok(TraceHeader {
            root: root(ROOT),
            parent: parent(PARENT),
            sampled: Some(SamplingFlag::Requested),
            data: vec![],
        }),
        Ok(TraceHeader {
            root: root(ROOT),
            parent: parent(PARENT),
            sampled: None,
            data: vec![],
        }),
        // Parts are trimmed.
        Ok(TraceHeader {
            root: root(ROOT),
            parent: parent(PARENT),
            sampled: Some(SamplingFlag::Sampled),
            data: vec![],
        }),
        // An empty Lineage is dropped.
        Ok(TraceHeader {
            root: root(ROOT),
            parent: parent(PARENT),
            sampled: Some(SamplingFlag::Sampled),
            data: vec![],
        }),
        Err(HeaderError::InvalidRoot {
            value: "1-5880168b-fd515828bs07678a3bb5a78c".to_owned(),
            source: IdError::NotHex,
        }),
        Err(HeaderError::InvalidRoot {
            value: "1-5759e988-bd862e3fe1be46a99427279".to_owned(),
            source: IdError::Length {
                expected: 35,
                found: 34,
            },
        }),
        Err(HeaderError::InvalidRoot {
            value: "1-05759e988-bd862e3fe1be46a994272793".to_owned(),
            source: IdError::Length {
                expected: 35,
                found: 36,
            },
        }),
    ];
    assert_eq!(vectors.cases.len(), expected.len());
    for (case, want) in vectors.cases.iter().zip(&expected) {
        let got = TraceHeader::parse(&case.header);
        assert_eq!(&got, want, "{:?}", case.header);
        // Read leniently, a header with an invalid Root keeps its other fields.
        let (lossy, dropped) = TraceHeader::parse_lossy(&case.header);
        match &got {
            Ok(header) => assert_eq!((&lossy, dropped.as_slice()), (header, &[][..])),
            Err(e) => {
                assert_eq!(dropped, std::slice::from_ref(e));
                assert_eq!(lossy.root, None);
                let sampled = case.header.contains("Sampled=1");
                assert_eq!(lossy.sampled, sampled.then_some(SamplingFlag::Sampled));
            }
        }
        if let Ok(header) = got {
            // What we send on is what we read, in canonical form.
            assert_eq!(
                TraceHeader::parse(&header.to_string()).as_ref(),
                Ok(&header)
            );
        }
    }
}

/// The fast writer produces exactly serde's bytes for every document fixture that parses.
#[test]
fn the_fast_writer_matches_serde_on_every_fixture() {
    let mut checked = 0;
    for path in common::fixture_files() {
        let bytes = common::document_bytes(&path);
        let Ok(doc) = serde_json::from_slice::<xray_sdk_types::Document>(&bytes) else {
            continue;
        };
        let mut fast = Vec::new();
        doc.write_json(&mut fast).unwrap();
        assert_eq!(
            String::from_utf8(fast).unwrap(),
            serde_json::to_string(&doc).unwrap(),
            "{path}"
        );
        checked += 1;
    }
    assert!(checked >= 25, "only {checked} fixtures parsed");
}

/// A document reset for reuse keeps nothing of the entity it held, whatever that held.
#[test]
fn a_reset_document_is_a_new_one() {
    let mut reset = 0;
    for path in common::fixture_files() {
        let bytes = common::document_bytes(&path);
        let Ok(mut doc) = serde_json::from_slice::<xray_sdk_types::Document>(&bytes) else {
            continue;
        };
        let id = xray_sdk_types::EntityId::from_u64(42);
        doc.reset(id, "again", 1_700_000_000.5);
        assert_eq!(
            doc,
            xray_sdk_types::Document::new(id, "again", 1_700_000_000.5),
            "{path}"
        );
        reset += 1;
    }
    assert!(reset >= 25, "only {reset} fixtures parsed");
}
