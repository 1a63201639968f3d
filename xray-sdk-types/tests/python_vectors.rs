//! The Python SDK's vectors (`testdata/python-sdk-vectors.json`, produced by running `aws-xray-sdk`
//! 2.14.0) against our types: every case of the sections that concern the wire model.
//!
//! Where we differ from Python on purpose, the case says so and asserts our behaviour. Each section counts its
//! cases, so that none is skipped silently.

// A test that meets the unexpected fails loudly: panicking is its way to report.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde::Deserialize;
use serde_json::{Value, json};
use xray_sdk_types::document::{Exception, Http, OrderedMap, StackFrame};
use xray_sdk_types::header::{HeaderError, SamplingFlag, TraceHeader};
use xray_sdk_types::id::IdError;
use xray_sdk_types::rules::{self, StatusFlags};
use xray_sdk_types::validate::{self, DocumentKind};
use xray_sdk_types::{AnnotationValue, Document, EntityId, TraceId};

#[derive(Deserialize)]
struct Section<T> {
    cases: Vec<T>,
}

/// The sections used here. Maps that keep Python's insertion order are read as [`OrderedMap`]s, since
/// `serde_json::Map` sorts its keys.
#[derive(Deserialize)]
struct Vectors {
    trace_header_parse: Section<ParseCase>,
    trace_header_format: Section<FormatCase>,
    ids: Ids,
    entity_name_sanitization: Section<NameCase>,
    annotations: Section<AnnotationCase>,
    metadata_namespace: Section<NamespaceCase>,
    http_meta: Section<HttpMetaCase>,
    apply_status_code: Section<StatusCase>,
    entity_serialization: Section<SerializationCase>,
    throwable_stack: Section<StackCase>,
}

fn vectors() -> Vectors {
    let text = xray_sdk_testdata::read_text("python-sdk-vectors.json");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("python-sdk-vectors.json: {e}"))
}

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";

fn root(text: &str) -> TraceId {
    TraceId::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn parent(text: &str) -> EntityId {
    EntityId::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Python's `sampled` as the vectors write it: `1`, `0`, `"?"` or `null`.
fn sampled(value: &Value) -> Option<SamplingFlag> {
    match value {
        Value::Null => None,
        v if v == 1 => Some(SamplingFlag::Sampled),
        v if v == 0 => Some(SamplingFlag::NotSampled),
        v if v == "?" => Some(SamplingFlag::Requested),
        other => panic!("unexpected sampled {other}"),
    }
}

#[derive(Deserialize)]
struct ParseCase {
    input: Option<String>,
    root: Option<String>,
    parent: Option<String>,
    sampled: Value,
    data: Option<OrderedMap<String>>,
    treated_as_malformed: bool,
    to_header_str: String,
}

/// Our result for a `trace_header_parse` input where it differs from Python's on purpose (see the `header`
/// module documentation), or `None` where we agree.
fn deliberate_parse_difference(input: &str) -> Option<Result<TraceHeader, HeaderError>> {
    let full = || {
        TraceHeader::new(
            root(ROOT),
            Some(parent(PARENT)),
            Some(SamplingFlag::Sampled),
        )
    };
    let invalid_root = |value: &str, source| {
        Err(HeaderError::InvalidRoot {
            value: value.to_owned(),
            source,
        })
    };
    let header = match input {
        // Python keeps " Parent" and " Sampled" as unknown keys and loses the parent; we trim each field.
        "Root=1-5759e988-bd862e3fe1be46a994272793; Parent=53995c3f42cd8ad8; Sampled=1" => {
            Ok(full())
        }
        // Python rejects the whole header for the empty field a trailing ';' or a ';;' leaves; we skip it.
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;" => Ok(full()),
        "Root=1-5759e988-bd862e3fe1be46a994272793;;Parent=53995c3f42cd8ad8" => {
            Ok(TraceHeader::new(root(ROOT), Some(parent(PARENT)), None))
        }
        // Python keeps "bar" and drops what follows a second '='; we keep the whole value.
        "Root=1-5759e988-bd862e3fe1be46a994272793;Foo=bar=baz" => {
            let mut header = TraceHeader::new(root(ROOT), None, None);
            header.data.push(("Foo".to_owned(), "bar=baz".to_owned()));
            Ok(header)
        }
        // Python accepts any Root text; an invalid Root is an error for us, so that it never reaches a document.
        "Root=a;Root=b" => invalid_root(
            "a",
            IdError::Length {
                expected: 35,
                found: 1,
            },
        ),
        "Root=" => invalid_root(
            "",
            IdError::Length {
                expected: 35,
                found: 0,
            },
        ),
        // (The value keeps its second '=', as above.)
        "Root=1-5759e988-bd862e3fe1be46a994272793,Parent=53995c3f42cd8ad8" => invalid_root(
            "1-5759e988-bd862e3fe1be46a994272793,Parent=53995c3f42cd8ad8",
            IdError::Length {
                expected: 35,
                found: 59,
            },
        ),
        // Python stores the empty key; a field with an empty key is malformed for us.
        "=v" => Err(HeaderError::MalformedField("=v".to_owned())),
        // Python keeps "Root " as an unknown key; we trim it and read the Root.
        "Root = 1-5759e988-bd862e3fe1be46a994272793" => {
            Ok(TraceHeader::new(root(ROOT), None, None))
        }
        _ => return None,
    };
    Some(header)
}

#[test]
fn trace_header_parse() {
    let cases = vectors().trace_header_parse.cases;
    assert_eq!(cases.len(), 30);
    let (mut same, mut different) = (0, 0);
    for case in &cases {
        // Python's `from_header_str(None)` has no counterpart: a missing header is an `Option` the caller
        // never parses. It gives what the empty text gives.
        let input = case.input.as_deref().unwrap_or("");
        let got = TraceHeader::parse(input);
        let expected = match deliberate_parse_difference(input) {
            Some(ours) => {
                different += 1;
                ours
            }
            None if case.treated_as_malformed => {
                same += 1;
                // Python logs and returns an empty header; we return the error, and the caller starts afresh.
                Err(HeaderError::MalformedField(input.trim().to_owned()))
            }
            None => {
                same += 1;
                let data = case
                    .data
                    .as_ref()
                    .map(|d| d.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect())
                    .unwrap_or_default();
                Ok(TraceHeader {
                    root: case.root.as_deref().map(root),
                    parent: case.parent.as_deref().map(parent),
                    sampled: sampled(&case.sampled),
                    data,
                })
            }
        };
        assert_eq!(got, expected, "{input:?}");
        // The lossy form keeps what the strict one reads, and reports the field the strict one stops at.
        let (lossy, dropped) = TraceHeader::parse_lossy(input);
        match &got {
            Ok(header) => assert_eq!((&lossy, dropped.as_slice()), (header, &[][..]), "{input:?}"),
            Err(e) => assert_eq!(dropped.first(), Some(e), "{input:?}"),
        }
        if let Ok(header) = &got {
            if deliberate_parse_difference(input).is_none() {
                assert_eq!(header.to_string(), case.to_header_str, "{input:?}");
            } else {
                // Whatever we read, we write in canonical form, which reads back the same.
                assert_eq!(TraceHeader::parse(&header.to_string()).as_ref(), Ok(header));
            }
        }
    }
    assert_eq!((same, different), (21, 9));
}

#[derive(Deserialize)]
struct FormatCase {
    args: FormatArgs,
    sampled_normalized: Value,
    to_header_str: String,
}

#[derive(Deserialize)]
struct FormatArgs {
    root: Option<String>,
    parent: Option<String>,
    #[serde(default)]
    sampled: Value,
    data: Option<OrderedMap<String>>,
}

#[test]
fn trace_header_format() {
    let cases = vectors().trace_header_format.cases;
    assert_eq!(cases.len(), 12);
    let mut count = 0;
    for case in &cases {
        let args = &case.args;
        // Python drops empty ids when formatting; our fields are `Option`s and an empty id cannot exist.
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        // Python normalizes loosely typed `sampled` values; ours is a `SamplingFlag`. A boolean maps through
        // `from_decision`, anything else through our parser's reading of `Sampled=<value>`.
        let flag = match &args.sampled {
            Value::Null => None,
            Value::Bool(b) => Some(SamplingFlag::from_decision(*b)),
            Value::String(s) => header_sampled(s),
            other => header_sampled(&other.to_string()),
        };
        assert_eq!(
            flag,
            sampled(&case.sampled_normalized),
            "{:?}",
            args.sampled
        );
        let header = TraceHeader {
            root: non_empty(&args.root).map(|s| root(&s)),
            parent: non_empty(&args.parent).map(|s| parent(&s)),
            sampled: flag,
            data: args
                .data
                .iter()
                .flat_map(|d| d.iter())
                .map(|(k, v)| (k.to_owned(), v.clone()))
                .collect(),
        };
        assert_eq!(header.to_string(), case.to_header_str);
        count += 1;
    }
    assert_eq!(count, 12);
}

fn header_sampled(value: &str) -> Option<SamplingFlag> {
    TraceHeader::parse(&format!("Sampled={value}"))
        .unwrap_or_else(|e| panic!("{value}: {e}"))
        .sampled
}

#[derive(Deserialize)]
struct Ids {
    trace_id_regex: String,
    trace_id_length: usize,
    entity_id_regex: String,
    exception_id_regex: String,
    noop_trace_id: String,
    noop_entity_id: String,
    notes: String,
}

fn is_lower_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[test]
fn ids() {
    let ids = vectors().ids;
    // The seven facts of the section, each checked below.
    assert_eq!(ids.trace_id_regex, "^1-[0-9a-f]{8}-[0-9a-f]{24}$");
    assert_eq!(ids.entity_id_regex, "^[0-9a-f]{16}$");
    assert_eq!(ids.exception_id_regex, ids.entity_id_regex);
    assert_eq!(ids.trace_id_length, TraceId::LEN);
    assert_eq!(TraceId::NOOP.to_string(), ids.noop_trace_id);
    assert_eq!(EntityId::NOOP.to_string(), ids.noop_entity_id);
    // Python does not zero-pad the time part; before 2106 that makes no difference, and ours always has 8 digits.
    assert!(ids.notes.contains("not zero padded"));
    assert_eq!(
        TraceId::from_parts(0xf, 1).to_string(),
        "1-0000000f-000000000000000000000001"
    );
    for _ in 0..1000 {
        let trace = TraceId::new().to_string();
        let (version, rest) = trace.split_at(2);
        assert_eq!(version, "1-");
        assert!(
            is_lower_hex(&rest[..8], 8) && &rest[8..9] == "-" && is_lower_hex(&rest[9..], 24),
            "{trace}"
        );
        // Entity and exception ids have the same form.
        assert!(is_lower_hex(&EntityId::new().to_string(), 16));
    }
    // Python uses incoming ids verbatim; we parse them, and refuse upper-case hex.
    assert_eq!(TraceId::parse(&ids.noop_trace_id), Ok(TraceId::NOOP));
    assert_eq!(EntityId::parse("53995C3F42CD8AD8"), Err(IdError::NotHex));
}

#[derive(Deserialize)]
struct NameCase {
    input: String,
    sanitized: String,
}

#[test]
fn entity_name_sanitization() {
    let cases = vectors().entity_name_sanitization.cases;
    assert_eq!(cases.len(), 10);
    for case in &cases {
        assert_eq!(
            rules::sanitize_name(&case.input),
            case.sanitized,
            "{:?}",
            case.input
        );
        // Python keeps the empty name for subsegments (and refuses it for segments); X-Ray refuses it.
        assert_eq!(
            rules::is_valid_name(&case.sanitized),
            !case.sanitized.is_empty()
        );
    }
}

#[derive(Deserialize)]
struct AnnotationCase {
    key: Value,
    value: Value,
    stored: bool,
}

#[test]
fn annotations() {
    let cases = vectors().annotations.cases;
    assert_eq!(cases.len(), 17);
    let mut stored = 0;
    for case in &cases {
        let Value::String(key) = &case.key else {
            // A non-string key cannot be written in Rust: keys are `&str`. Python refuses it too.
            assert!(!case.stored, "{:?}", case.key);
            continue;
        };
        let value = serde_json::from_value::<AnnotationValue>(case.value.clone());
        let ours = rules::is_valid_annotation_key(key) && value.is_ok();
        if key.is_empty() {
            // Python stores the empty key, which the schema's `^[a-zA-Z0-9_]{1,500}$` refuses; we refuse it.
            assert!(case.stored);
            assert!(!ours);
        } else {
            assert_eq!(ours, case.stored, "{key:?} = {}", case.value);
        }
        // A refused value is one X-Ray does not index: an object, a list or null.
        assert_eq!(
            value.is_ok(),
            !(case.value.is_object() || case.value.is_array() || case.value.is_null())
        );
        if let Ok(value) = value {
            let mut doc = Document::new(parent(PARENT), "annotated", 1.5e9);
            doc.trace_id = Some(root(ROOT));
            doc.end_time = Some(1.5e9 + 1.0);
            doc.annotations.insert(key.as_str(), value);
            let checked = validate::validate(&serde_json::to_value(&doc).expect("document"));
            if ours {
                stored += 1;
                assert_eq!(checked, Ok(DocumentKind::Segment), "{key:?}");
                let written = &serde_json::to_value(&doc).expect("document")["annotations"][key];
                if key == "big" {
                    // 2^70 is beyond u64: it is read as a double, which is what X-Ray stores.
                    assert_eq!(written.as_f64(), Some(1_180_591_620_717_411_303_424.0));
                } else {
                    assert_eq!(written, &case.value);
                }
            } else {
                assert_eq!(
                    checked.map_err(|e| e.reason.code()),
                    Err("invalid_annotation_key"),
                    "{key:?}"
                );
            }
        }
    }
    assert_eq!(stored, 8);
    // Values given as Rust types become the same JSON.
    assert_eq!(
        serde_json::to_value(AnnotationValue::from(1.5)).ok(),
        Some(json!(1.5))
    );
    assert_eq!(
        serde_json::to_value(AnnotationValue::from(-5)).ok(),
        Some(json!(-5))
    );
    assert_eq!(
        serde_json::to_value(AnnotationValue::from(false)).ok(),
        Some(json!(false))
    );
    assert_eq!(
        serde_json::to_value(AnnotationValue::from("")).ok(),
        Some(json!(""))
    );
}

#[derive(Deserialize)]
struct NamespaceCase {
    namespace: Value,
    stored: bool,
}

#[test]
fn metadata_namespace() {
    let cases = vectors().metadata_namespace.cases;
    assert_eq!(cases.len(), 7);
    let mut reserved = 0;
    for case in &cases {
        match &case.namespace {
            Value::String(ns) => {
                assert_eq!(
                    !rules::is_reserved_metadata_namespace(ns),
                    case.stored,
                    "{ns:?}"
                );
                reserved += usize::from(!case.stored);
            }
            // A namespace is a `&str` in Rust; Python refuses the number.
            other => assert!(!case.stored, "{other}"),
        }
    }
    assert_eq!(reserved, 2);
}

#[derive(Deserialize)]
struct HttpMetaCase {
    puts: Vec<(String, Value)>,
    http: Value,
    flags: Value,
}

/// What `put_http_meta` stores, in the shape of our `Http` block. The recorder in `xray-sdk-core` has typed
/// setters; here only the wire shape and the status flags are under test.
fn apply_http_puts(puts: &[(String, Value)]) -> (Http, StatusFlags) {
    let mut http = Http::default();
    let mut flags = StatusFlags::default();
    let text = |v: &Value| v.as_str().map(str::to_owned);
    for (key, value) in puts {
        if value.is_null() {
            continue; // None is ignored.
        }
        match key.as_str() {
            "url" => http.request_mut().url = text(value),
            "method" => http.request_mut().method = text(value).map(Into::into),
            "user_agent" => http.request_mut().user_agent = text(value),
            "client_ip" => http.request_mut().client_ip = text(value).map(Into::into),
            "x_forwarded_for" => http.request_mut().x_forwarded_for = value.as_bool(),
            "status" => {
                // Python int()-converts a status given as text.
                let status = match value {
                    Value::String(s) => s.parse::<u16>().expect("numeric status"),
                    v => v
                        .as_u64()
                        .and_then(|n| u16::try_from(n).ok())
                        .expect("status"),
                };
                http.response_mut().status = Some(status);
                flags = rules::status_flags(status);
            }
            "content_length" => http.response_mut().content_length = value.as_i64(),
            // Python drops other keys, `traced` among them (our `HttpRequest::traced` is set by outgoing-call
            // integrations on subsegments, not through this call).
            _ => {}
        }
    }
    (http, flags)
}

fn flags_value(flags: StatusFlags) -> Value {
    let mut map = serde_json::Map::new();
    for (name, set) in [
        ("error", flags.error),
        ("throttle", flags.throttle),
        ("fault", flags.fault),
    ] {
        if set {
            map.insert(name.to_owned(), Value::Bool(true));
        }
    }
    Value::Object(map)
}

#[test]
fn http_meta() {
    let cases = vectors().http_meta.cases;
    assert_eq!(cases.len(), 12);
    for case in &cases {
        let (http, flags) = apply_http_puts(&case.puts);
        assert_eq!(
            serde_json::to_value(&http).ok().as_ref(),
            Some(&case.http),
            "{:?}",
            case.puts
        );
        assert_eq!(flags_value(flags), case.flags, "{:?}", case.puts);
        // The block parses back to itself.
        assert_eq!(
            serde_json::from_value::<Http>(case.http.clone()).ok(),
            Some(http)
        );
    }
}

#[derive(Deserialize)]
struct StatusCase {
    status: Option<u16>,
    error: bool,
    fault: bool,
    throttle: bool,
}

#[test]
fn apply_status_code() {
    let cases = vectors().apply_status_code.cases;
    assert_eq!(cases.len(), 18);
    for case in &cases {
        // No status sets no flag.
        let flags = case.status.map(rules::status_flags).unwrap_or_default();
        assert_eq!(
            flags,
            StatusFlags {
                error: case.error,
                throttle: case.throttle,
                fault: case.fault,
            },
            "{:?}",
            case.status
        );
    }
}

#[derive(Deserialize)]
struct SerializationCase {
    label: String,
    serialized: String,
}

fn no_extra_fields(doc: &Document) -> bool {
    doc.extra.is_empty() && doc.subsegments.iter().all(|s| no_extra_fields(s))
}

#[test]
fn entity_serialization() {
    let cases = vectors().entity_serialization.cases;
    assert_eq!(cases.len(), 11);
    let mut round_trips = 0;
    for case in &cases {
        let label = case.label.as_str();
        let python: Value =
            serde_json::from_str(&case.serialized).unwrap_or_else(|e| panic!("{label}: {e}"));
        if label.starts_with("sampled segment containing an unsampled DummySubsegment") {
            // Python writes unsampled subsegments into a sampled parent with the namespace "dummy", which X-Ray
            // does not define. Our namespace is one of aws, remote and local: we refuse such a document, and our
            // recorder never writes unsampled subsegments into a document.
            let err = Document::from_json(&case.serialized)
                .expect_err(label)
                .to_string();
            assert!(err.contains("unknown variant `dummy`"), "{err}");
            let invalid = validate::validate(&python).expect_err(label);
            assert_eq!(
                (invalid.path.as_str(), invalid.reason.code()),
                ("$.subsegments[0].namespace", "invalid_namespace")
            );
            continue;
        }
        let doc = Document::from_json(&case.serialized).unwrap_or_else(|e| panic!("{label}: {e}"));
        // Python's quirks (`in_progress: false` beside `end_time`, `type` and `trace_id` on embedded
        // subsegments, an integral `end_time`) are kept.
        let ours: Value = serde_json::from_str(&doc.to_json().expect("json")).expect("our json");
        assert_eq!(ours, python, "{label}");
        assert!(
            no_extra_fields(&doc),
            "{label}: a Python field is not a typed field"
        );
        let kind = if doc.is_subsegment() {
            DocumentKind::Subsegment
        } else {
            DocumentKind::Segment
        };
        assert_eq!(validate::validate(&python), Ok(kind), "{label}");
        round_trips += 1;
    }
    assert_eq!(round_trips, 10);
}

#[derive(Deserialize)]
struct StackCase {
    stack_out: Value,
}

#[test]
fn throwable_stack() {
    // Turning raw frames into these (basename, trimming, dropping the SDK's own frames) is the recorder's work in
    // `xray-sdk-core`; here we check the wire shape of the frames that come out.
    let cases = vectors().throwable_stack.cases;
    assert_eq!(cases.len(), 5);
    let mut shaped = 0;
    for case in &cases {
        let mut exception = Exception {
            id: parent("aaaaaaaaaaaaaaaa"),
            message: None,
            type_name: Some("ValueError".to_owned()),
            remote: Some(false),
            truncated: None,
            skipped: None,
            cause: None,
            stack: Vec::new(),
        };
        if case.stack_out == "ABSENT" {
            // No stack: no `stack` key.
            let written = serde_json::to_value(&exception).expect("exception");
            assert_eq!(
                written,
                json!({"id": "aaaaaaaaaaaaaaaa", "type": "ValueError", "remote": false})
            );
            shaped += 1;
            continue;
        }
        let frames = serde_json::from_value::<Vec<StackFrame>>(case.stack_out.clone());
        if case.stack_out[0]["line"] == "line" {
            // Python passes a non-integer line through; the schema (and our `u32`) require an integer.
            let err = frames.expect_err("a textual line").to_string();
            assert!(
                err.contains("invalid type: string \"line\", expected u32"),
                "{err}"
            );
            continue;
        }
        exception.stack = frames.unwrap_or_else(|e| panic!("{}: {e}", case.stack_out));
        let written = serde_json::to_value(&exception).expect("exception");
        if exception.stack.is_empty() {
            // Python omits an empty stack, and so do we.
            assert!(written.get("stack").is_none());
        } else {
            assert_eq!(written["stack"], case.stack_out);
        }
        // The frames are valid in a document.
        let mut doc = Document::new(parent(PARENT), "failed", 1.5e9);
        doc.trace_id = Some(root(ROOT));
        doc.end_time = Some(1.5e9 + 1.0);
        doc.fault = Some(true);
        doc.cause = Some(xray_sdk_types::document::Cause::Details(
            xray_sdk_types::document::CauseDetails {
                working_directory: Some("/app".to_owned()),
                paths: Vec::new(),
                exceptions: vec![exception],
            },
        ));
        let value = serde_json::to_value(&doc).expect("document");
        assert_eq!(validate::validate(&value), Ok(DocumentKind::Segment));
        shaped += 1;
    }
    assert_eq!(shaped, 4);
}
