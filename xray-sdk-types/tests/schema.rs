//! Documents against the official segment-document JSON schema (draft-04) and against our `validate`: documents
//! built through the API pass both, and for every fixture the two agree, except where `common::Stricter` says we
//! are stricter on purpose.

// A test that meets the unexpected fails loudly: panicking is its way to report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{FIXTURES, Ours, Stricter, document_bytes};
use jsonschema::Validator;
use serde_json::{Value, json};
use xray_sdk_types::document::{
    Aws, Cause, CauseDetails, DocumentType, Ec2, Ecs, Exception, Http, HttpRequest, HttpResponse,
    MetadataValue, Service, Sql, StackFrame, XraySdk,
};
use xray_sdk_types::validate::{self, DocumentKind};
use xray_sdk_types::{Document, EntityId, Namespace, TraceId};

fn schema() -> Value {
    let text = xray_sdk_testdata::read_text("schema/xray-segmentdocument-schema-v1.0.0.json");
    serde_json::from_str(&text).expect("the schema is JSON")
}

/// The schema of a whole document.
fn document_schema() -> Validator {
    jsonschema::draft4::new(&schema()).expect("the schema compiles")
}

/// The schema's `#/definitions/subsegment`, for embedded subsegment bodies.
fn subsegment_schema() -> Validator {
    let schema = schema();
    let wrapper = json!({
        "$schema": "http://json-schema.org/draft-04/schema#",
        "$ref": "#/definitions/subsegment",
        "definitions": schema["definitions"],
    });
    jsonschema::draft4::new(&wrapper).expect("the subsegment schema compiles")
}

fn schema_errors(validator: &Validator, value: &Value) -> Vec<String> {
    validator
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

const TRACE: TraceId = TraceId::from_parts(0x5759e988, 0xbd862e3fe1be46a994272793);
const T0: f64 = 1_500_000_000.25;

fn id(n: u64) -> EntityId {
    EntityId::from_u64(n)
}

/// A segment with every block the API has.
fn full_segment() -> Document {
    let mut segment = Document::new(id(0x53995c3f42cd8ad8), "checkout service", T0);
    segment.trace_id = Some(TRACE);
    segment.parent_id = Some(id(0x0123456789abcdef));
    segment.end_time = Some(T0 + 1.5);
    segment.origin = Some("AWS::ECS::Container".to_owned());
    segment.user = Some("alice".to_owned());
    segment.resource_arn = Some("arn:aws:ecs:us-east-2:123456789012:task/abc".to_owned());
    segment.http = Some(Box::new(Http {
        request: Some(HttpRequest {
            method: Some("POST".into()),
            url: Some("https://example.com/cart?id=1".to_owned()),
            user_agent: Some("curl/8.0".to_owned()),
            client_ip: Some("203.0.113.9".into()),
            x_forwarded_for: Some(true),
            traced: None,
        }),
        response: Some(HttpResponse {
            status: Some(500),
            content_length: Some(1234),
        }),
    }));
    segment.aws = Some(Box::new(Aws {
        account_id: Some("123456789012".to_owned()),
        ec2: Some(Ec2 {
            instance_id: Some("i-0123456789abcdef0".to_owned()),
            availability_zone: Some("us-east-2a".to_owned()),
            instance_size: Some("t3.large".to_owned()),
            ami_id: Some("ami-0123".to_owned()),
            ..Ec2::default()
        }),
        ecs: Some(Ecs {
            container: Some("ip-10-0-0-1".to_owned()),
            container_id: Some("d8453812a556".to_owned()),
            container_arn: Some("arn:aws:ecs:us-east-2:123456789012:container/x".to_owned()),
            ..Ecs::default()
        }),
        xray: Some(XraySdk {
            sdk: Some("X-Ray for Rust".into()),
            sdk_version: Some("0.1.0".into()),
            auto_instrumentation: Some(false),
            sampling_rule_name: Some("default".into()),
            ..XraySdk::default()
        }),
        ..Aws::default()
    }));
    segment.service = Some(Box::new(Service {
        version: Some("1.2.3".into()),
        runtime: Some("rust".into()),
        runtime_version: Some("1.95.0".into()),
        ..Service::default()
    }));
    segment.annotations.insert("customer", "gold".into());
    segment.annotations.insert("items", 3.into());
    segment.annotations.insert("total", 19.99.into());
    segment.annotations.insert("first_order", true.into());
    segment.annotations.insert("negative_count", (-2).into());
    segment
        .metadata
        .get_or_insert_with("default", Default::default)
        .insert(
            "cart",
            MetadataValue::from(json!({"items": [1, 2, 3], "coupon": null})),
        );
    segment
        .metadata
        .get_or_insert_with("debug", Default::default)
        .insert("retries", MetadataValue::from(json!(2)));
    segment.fault = Some(true);
    segment.cause = Some(Cause::Details(CauseDetails {
        working_directory: Some("/srv/app".to_owned()),
        paths: vec!["/srv/app/src/main.rs".to_owned()],
        exceptions: vec![
            Exception {
                id: id(0xaaaaaaaaaaaaaaaa),
                message: Some("connection reset".to_owned()),
                type_name: Some("std::io::Error".to_owned()),
                remote: Some(true),
                truncated: Some(4),
                skipped: Some(1),
                cause: Some(id(0xbbbbbbbbbbbbbbbb)),
                stack: vec![
                    StackFrame {
                        path: Some("src/cart.rs".to_owned()),
                        line: Some(42),
                        label: Some("cart::checkout".to_owned()),
                    },
                    StackFrame {
                        path: Some("src/main.rs".to_owned()),
                        line: Some(7),
                        label: Some("main".to_owned()),
                    },
                ],
            },
            Exception {
                id: id(0xbbbbbbbbbbbbbbbb),
                message: None,
                type_name: Some("Timeout".to_owned()),
                remote: Some(false),
                truncated: None,
                skipped: None,
                cause: None,
                stack: Vec::new(),
            },
        ],
    }));

    let mut query = Document::new(id(0x2222222222222222), "orders@db.internal", T0 + 0.2);
    query.end_time = Some(T0 + 0.3);
    query.namespace = Some(Namespace::Remote);
    query.sql = Some(Box::new(Sql {
        url: Some("postgresql://db.internal:5432/orders".to_owned()),
        sanitized_query: Some("SELECT * FROM orders WHERE id = $1".to_owned()),
        database_type: Some("PostgreSQL".to_owned()),
        database_version: Some("16.2".to_owned()),
        driver_version: Some("sqlx-0.8".to_owned()),
        user: Some("app".to_owned()),
        preparation: Some("statement".to_owned()),
        connection_string: None,
    }));

    let mut dynamodb = Document::new(id(0x3333333333333333), "DynamoDB", T0 + 0.4);
    dynamodb.end_time = Some(T0 + 0.6);
    dynamodb.namespace = Some(Namespace::Aws);
    dynamodb.error = Some(true);
    dynamodb.throttle = Some(true);
    dynamodb.http = Some(Box::new(Http {
        request: None,
        response: Some(HttpResponse {
            status: Some(429),
            content_length: Some(-1),
        }),
    }));
    dynamodb.aws = Some(Box::new(Aws {
        operation: Some("PutItem".to_owned()),
        region: Some("us-east-2".to_owned()),
        request_id: Some("ABC123".to_owned()),
        retries: Some(2),
        table_name: Some("orders".to_owned()),
        resource_names: Some(vec!["orders".to_owned()]),
        ..Aws::default()
    }));
    dynamodb.precursor_ids = vec![query.id];

    let mut local = Document::new(id(0x1111111111111111), "place order", T0 + 0.1);
    local.end_time = Some(T0 + 1.0);
    local.namespace = Some(Namespace::Local);
    local.annotations.insert("step", "place".into());
    local.cause = Some(Cause::ExceptionId(id(0xaaaaaaaaaaaaaaaa)));
    local.fault = Some(true);
    local.subsegments = vec![Box::new(query), Box::new(dynamodb)];
    segment.subsegments = vec![Box::new(local)];
    segment
}

/// A subsegment sent on its own, as when streamed.
fn independent_subsegment() -> Document {
    let mut sub = Document::new(id(0x4444444444444444), "api.example.com", T0 + 0.5);
    sub.kind = Some(DocumentType::Subsegment);
    sub.trace_id = Some(TRACE);
    sub.parent_id = Some(id(0x53995c3f42cd8ad8));
    sub.end_time = Some(T0 + 0.75);
    sub.namespace = Some(Namespace::Remote);
    sub.traced = Some(true);
    sub.http = Some(Box::new(Http {
        request: Some(HttpRequest {
            method: Some("GET".into()),
            url: Some("https://api.example.com/health".to_owned()),
            traced: Some(true),
            ..HttpRequest::default()
        }),
        response: Some(HttpResponse {
            status: Some(200),
            content_length: Some(861),
        }),
    }));
    sub
}

/// A segment sent before it ends.
fn in_progress_segment() -> Document {
    let mut segment = Document::new(id(0x5555555555555555), "long job", T0);
    segment.trace_id = Some(TRACE);
    segment.in_progress = Some(true);
    segment
}

#[test]
fn documents_built_through_the_api_are_valid() {
    let validator = document_schema();
    let cases = [
        ("full segment", full_segment(), DocumentKind::Segment, 4),
        (
            "independent subsegment",
            independent_subsegment(),
            DocumentKind::Subsegment,
            1,
        ),
        (
            "in-progress segment",
            in_progress_segment(),
            DocumentKind::Segment,
            1,
        ),
    ];
    for (what, doc, kind, entities) in cases {
        assert_eq!(doc.entity_count(), entities, "{what}");
        let json = doc.to_json().expect("json");
        let value: Value = serde_json::from_str(&json).expect("value");
        assert_eq!(
            schema_errors(&validator, &value),
            Vec::<String>::new(),
            "{what}"
        );
        assert_eq!(validate::validate(&value), Ok(kind), "{what}");
        assert_eq!(
            validate::validate_bytes(json.as_bytes()),
            Ok(kind),
            "{what}"
        );
        assert_eq!(Document::from_json(&json).ok(), Some(doc), "{what}");
    }
}

#[test]
fn the_full_segment_has_the_expected_shape() {
    let value = serde_json::to_value(full_segment()).expect("value");
    assert_eq!(value["end_time"], json!(1_500_000_001.75));
    assert_eq!(
        value["annotations"],
        json!({"customer": "gold", "items": 3, "total": 19.99, "first_order": true, "negative_count": -2})
    );
    assert_eq!(value["metadata"]["debug"], json!({"retries": 2}));
    assert_eq!(
        value["cause"]["exceptions"][0]["stack"][0],
        json!({"path": "src/cart.rs", "line": 42, "label": "cart::checkout"})
    );
    assert_eq!(value["cause"]["exceptions"][0]["cause"], "bbbbbbbbbbbbbbbb");
    assert!(value["cause"]["exceptions"][1].get("stack").is_none());
    let local = &value["subsegments"][0];
    assert_eq!(local["cause"], "aaaaaaaaaaaaaaaa");
    assert_eq!(
        local["subsegments"][0]["sql"]["database_type"],
        "PostgreSQL"
    );
    assert_eq!(
        local["subsegments"][1]["precursor_ids"],
        json!(["2222222222222222"])
    );
    assert_eq!(local["subsegments"][1]["aws"]["retries"], 2);
    assert_eq!(value["aws"]["xray"]["sdk"], "X-Ray for Rust");
}

/// The schema is not a pushover: without this, a validator that accepts everything would pass every test here.
#[test]
fn the_schema_refuses_what_it_should() {
    let validator = document_schema();
    let mut value = serde_json::to_value(full_segment()).expect("value");
    assert!(validator.is_valid(&value));
    let mut bad = value.clone();
    bad["annotations"]["dotted.key"] = json!(1);
    assert!(!validator.is_valid(&bad));
    let mut bad = value.clone();
    bad["http"]["request"]["url"] = json!("x".repeat(251));
    assert!(!validator.is_valid(&bad));
    let mut bad = value.clone();
    bad["name"] = json!("no<angle>brackets");
    assert!(!validator.is_valid(&bad));
    value.as_object_mut().expect("object").remove("trace_id");
    assert!(!validator.is_valid(&value));
}

#[test]
fn our_validate_and_the_schema_agree_on_every_fixture() {
    let (whole, fragment) = (document_schema(), subsegment_schema());
    let mut compared = 0;
    for fixture in FIXTURES {
        let Some(schema_valid) = fixture.schema_valid else {
            continue;
        };
        let path = fixture.path;
        let value: Value =
            serde_json::from_slice(&document_bytes(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
        let (validator, ours) = match fixture.ours {
            Ours::Fragment => (&fragment, validate::validate_subsegment(&value).is_ok()),
            _ => (&whole, validate::validate(&value).is_ok()),
        };
        assert_eq!(
            validator.is_valid(&value),
            schema_valid,
            "{path}: {:?}",
            schema_errors(validator, &value)
        );
        // Our verdict must be the table's.
        assert_eq!(
            ours,
            matches!(fixture.ours, Ours::Valid(_) | Ours::Fragment),
            "{path}"
        );
        match fixture.stricter {
            Stricter::No => assert_eq!(ours, schema_valid, "{path}"),
            // Where we differ, we are the stricter one.
            Stricter::HexIds | Stricter::EndTimeOrInProgress => {
                assert!(schema_valid && !ours, "{path}");
            }
        }
        compared += 1;
    }
    assert_eq!(compared, 32);
    let stricter: Vec<_> = FIXTURES
        .iter()
        .filter(|f| f.stricter != Stricter::No)
        .map(|f| (f.path, f.stricter))
        .collect();
    assert_eq!(
        stricter,
        [
            (
                "otel-collector-contrib/edge-or-invalid/segmentWithParentId.json",
                Stricter::EndTimeOrInProgress
            ),
            (
                "otel-collector-contrib/valid/minCauseIsExceptionId.json",
                Stricter::HexIds
            ),
        ]
    );
}

/// The rules the schema does not check, each on a document the schema accepts.
#[test]
fn where_we_are_stricter_than_the_schema() {
    let validator = document_schema();
    let base = || serde_json::to_value(independent_subsegment()).expect("value");
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "upper-case id",
            with(base(), "id", json!("53995C3F42CD8AD8")),
            "$.id",
            "invalid_id",
        ),
        (
            "non-hex parent_id",
            with(base(), "parent_id", json!("zzzzzzzzzzzzzzzz")),
            "$.parent_id",
            "invalid_id",
        ),
        (
            "upper-case trace id",
            with(
                base(),
                "trace_id",
                json!("1-5759E988-BD862E3FE1BE46A994272793"),
            ),
            "$.trace_id",
            "invalid_trace_id",
        ),
        (
            "non-hex exception id as cause",
            with(base(), "cause", json!("abcdefghijklmnop")),
            "$.cause",
            "invalid_id",
        ),
        (
            "neither end_time nor in_progress",
            without(base(), "end_time"),
            "$.end_time",
            "not_ended_nor_in_progress",
        ),
        (
            "end_time and in_progress: true",
            with(base(), "in_progress", json!(true)),
            "$.in_progress",
            "ended_and_in_progress",
        ),
        (
            "ends before it starts",
            with(base(), "end_time", json!(T0)),
            "$.end_time",
            "end_before_start",
        ),
        (
            "independent subsegment without parent_id",
            without(base(), "parent_id"),
            "$.parent_id",
            "subsegment_without_parent",
        ),
        (
            "type other than subsegment",
            with(base(), "type", json!("segment")),
            "$.type",
            "invalid_type",
        ),
        (
            "unknown namespace",
            with(base(), "namespace", json!("dummy")),
            "$.namespace",
            "invalid_namespace",
        ),
    ];
    for (what, value, path, code) in cases {
        assert!(
            validator.is_valid(&value),
            "{what}: {:?}",
            schema_errors(&validator, &value)
        );
        let err = validate::validate(&value).expect_err(what);
        assert_eq!(
            (err.path.as_str(), err.reason.code()),
            (path, code),
            "{what}"
        );
    }
}

fn with(mut value: Value, key: &str, field: Value) -> Value {
    value[key] = field;
    value
}

fn without(mut value: Value, key: &str) -> Value {
    value.as_object_mut().expect("object").remove(key);
    value
}
