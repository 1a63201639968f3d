//! Validation of whole documents, as X-Ray would judge them.
//!
//! [`validate`] checks what the official segment-document schema checks (required fields, types, name and
//! annotation-key patterns, string lengths) and what it misses: ids in lower-case hex, `end_time` or
//! `in_progress: true` but not both, `end_time` not before `start_time`, the fields an independent subsegment
//! needs (`type`, `trace_id`, `parent_id`), and the 64 KiB size limit ([`validate_bytes`]).

use serde_json::{Map, Value};

use crate::id::{EntityId, TraceId};
use crate::rules::{
    MAX_ANNOTATION_VALUE_LEN, MAX_STRING_LEN, is_valid_annotation_key, is_valid_name,
};

/// The largest document X-Ray accepts: 64 KiB.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// What a valid document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A segment.
    Segment,
    /// An independent subsegment.
    Subsegment,
}

/// Why a document is invalid: where, and a stable reason code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ValidationError {
    /// A JSON path to the offending field, such as `$.subsegments[2].id`.
    pub path: String,
    /// What is wrong there.
    pub reason: Reason,
}

/// The reasons a document can be invalid. [`Reason::code`] gives a stable short name for counting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Reason {
    /// The text is not JSON.
    #[error("not JSON: {0}")]
    NotJson(String),
    /// The document is larger than [`MAX_DOCUMENT_BYTES`].
    #[error("document of {0} bytes exceeds the 64 KiB limit")]
    TooLarge(usize),
    /// A required field is absent.
    #[error("required field is missing")]
    Missing,
    /// A field has the wrong JSON type.
    #[error("expected {0}")]
    WrongType(&'static str),
    /// An id is not 16 lower-case hex digits.
    #[error("not a 16-hex-digit id")]
    InvalidId,
    /// A trace id is not `1-<8 hex>-<24 hex>`.
    #[error("not a valid trace id")]
    InvalidTraceId,
    /// A name is empty, too long, or holds a character X-Ray does not allow.
    #[error("invalid name")]
    InvalidName,
    /// A string is longer than allowed.
    #[error("longer than {0} characters")]
    TooLong(usize),
    /// An annotation key is not 1 to 500 of `[A-Za-z0-9_]`.
    #[error("invalid annotation key")]
    InvalidAnnotationKey,
    /// `namespace` is not `aws`, `remote` or `local`.
    #[error("namespace must be aws, remote or local")]
    InvalidNamespace,
    /// `type` is not `subsegment`.
    #[error("type must be \"subsegment\"")]
    InvalidType,
    /// Neither `end_time` nor `in_progress: true`.
    #[error("needs end_time or in_progress: true")]
    NotEndedNorInProgress,
    /// Both `end_time` and `in_progress: true`.
    #[error("has both end_time and in_progress: true")]
    EndedAndInProgress,
    /// `end_time` is before `start_time`.
    #[error("end_time is before start_time")]
    EndBeforeStart,
    /// An independent subsegment without `parent_id`.
    #[error("an independent subsegment needs parent_id")]
    SubsegmentWithoutParent,
}

impl Reason {
    /// A stable short name, for counters and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Reason::NotJson(_) => "not_json",
            Reason::TooLarge(_) => "too_large",
            Reason::Missing => "missing_field",
            Reason::WrongType(_) => "wrong_type",
            Reason::InvalidId => "invalid_id",
            Reason::InvalidTraceId => "invalid_trace_id",
            Reason::InvalidName => "invalid_name",
            Reason::TooLong(_) => "too_long",
            Reason::InvalidAnnotationKey => "invalid_annotation_key",
            Reason::InvalidNamespace => "invalid_namespace",
            Reason::InvalidType => "invalid_type",
            Reason::NotEndedNorInProgress => "not_ended_nor_in_progress",
            Reason::EndedAndInProgress => "ended_and_in_progress",
            Reason::EndBeforeStart => "end_before_start",
            Reason::SubsegmentWithoutParent => "subsegment_without_parent",
        }
    }
}

type Check = Result<(), ValidationError>;

fn fail(path: &str, reason: Reason) -> ValidationError {
    ValidationError {
        path: path.to_owned(),
        reason,
    }
}

/// Validates a document given as bytes: size, JSON syntax, then [`validate`].
///
/// # Errors
/// The first problem found.
pub fn validate_bytes(bytes: &[u8]) -> Result<DocumentKind, ValidationError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(fail("$", Reason::TooLarge(bytes.len())));
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| fail("$", Reason::NotJson(e.to_string())))?;
    validate(&value)
}

/// Validates a segment or independent subsegment.
///
/// # Errors
/// The first problem found, with its path.
pub fn validate(doc: &Value) -> Result<DocumentKind, ValidationError> {
    let obj = doc
        .as_object()
        .ok_or_else(|| fail("$", Reason::WrongType("an object")))?;
    check_entity(obj, "$", true)?;
    match obj.get("type") {
        Some(_) => {
            if !obj.contains_key("parent_id") {
                return Err(fail("$.parent_id", Reason::SubsegmentWithoutParent));
            }
            Ok(DocumentKind::Subsegment)
        }
        None => Ok(DocumentKind::Segment),
    }
}

/// Validates an embedded subsegment (no `trace_id` needed), such as the fragments the X-Ray guide shows.
///
/// # Errors
/// The first problem found, with its path.
pub fn validate_subsegment(doc: &Value) -> Result<(), ValidationError> {
    let obj = doc
        .as_object()
        .ok_or_else(|| fail("$", Reason::WrongType("an object")))?;
    check_entity(obj, "$", false)
}

fn field<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key)
}

fn check_entity(obj: &Map<String, Value>, path: &str, root: bool) -> Check {
    let at = |key: &str| format!("{path}.{key}");

    match field(obj, "name") {
        None => return Err(fail(&at("name"), Reason::Missing)),
        Some(Value::String(name)) if is_valid_name(name) => {}
        Some(Value::String(_)) => return Err(fail(&at("name"), Reason::InvalidName)),
        Some(_) => return Err(fail(&at("name"), Reason::WrongType("a string"))),
    }
    check_id(field(obj, "id"), &at("id"), true)?;
    match field(obj, "trace_id") {
        None if root => return Err(fail(&at("trace_id"), Reason::Missing)),
        None => {}
        Some(Value::String(t)) if TraceId::parse(t).is_ok() => {}
        Some(Value::String(_)) => return Err(fail(&at("trace_id"), Reason::InvalidTraceId)),
        Some(_) => return Err(fail(&at("trace_id"), Reason::WrongType("a string"))),
    }
    let start = match field(obj, "start_time") {
        None => return Err(fail(&at("start_time"), Reason::Missing)),
        Some(v) => v
            .as_f64()
            .ok_or_else(|| fail(&at("start_time"), Reason::WrongType("a number")))?,
    };
    let end = match field(obj, "end_time") {
        None => None,
        Some(v) => Some(
            v.as_f64()
                .ok_or_else(|| fail(&at("end_time"), Reason::WrongType("a number")))?,
        ),
    };
    let in_progress = check_bool(obj, "in_progress", path)?.unwrap_or(false);
    match (end, in_progress) {
        (None, false) => return Err(fail(&at("end_time"), Reason::NotEndedNorInProgress)),
        (Some(_), true) => return Err(fail(&at("in_progress"), Reason::EndedAndInProgress)),
        (Some(end), false) if end < start => {
            return Err(fail(&at("end_time"), Reason::EndBeforeStart));
        }
        _ => {}
    }
    check_id(field(obj, "parent_id"), &at("parent_id"), false)?;
    match field(obj, "type") {
        None => {}
        Some(Value::String(t)) if t == "subsegment" => {}
        Some(_) => return Err(fail(&at("type"), Reason::InvalidType)),
    }
    match field(obj, "namespace") {
        None => {}
        Some(Value::String(n)) if matches!(n.as_str(), "aws" | "remote" | "local") => {}
        Some(_) => return Err(fail(&at("namespace"), Reason::InvalidNamespace)),
    }
    for flag in ["error", "throttle", "fault", "traced"] {
        check_bool(obj, flag, path)?;
    }
    check_string(obj, "user", path, Some(MAX_STRING_LEN))?;
    check_string(obj, "origin", path, None)?;
    check_string(obj, "resource_arn", path, None)?;
    if let Some(ids) = field(obj, "precursor_ids") {
        let ids = ids
            .as_array()
            .ok_or_else(|| fail(&at("precursor_ids"), Reason::WrongType("an array")))?;
        for (i, id) in ids.iter().enumerate() {
            check_id(Some(id), &format!("{path}.precursor_ids[{i}]"), true)?;
        }
    }
    if let Some(http) = field(obj, "http") {
        check_http(http, &at("http"))?;
    }
    if let Some(aws) = field(obj, "aws") {
        check_aws(aws, &at("aws"))?;
    }
    if let Some(sql) = field(obj, "sql") {
        let sql = object(sql, &at("sql"))?;
        for key in [
            "connection_string",
            "url",
            "sanitized_query",
            "database_type",
            "database_version",
            "driver_version",
            "preparation",
        ] {
            check_string(sql, key, &at("sql"), None)?;
        }
        check_string(sql, "user", &at("sql"), Some(MAX_STRING_LEN))?;
    }
    if let Some(service) = field(obj, "service") {
        let service = object(service, &at("service"))?;
        check_string(service, "version", &at("service"), None)?;
    }
    if let Some(annotations) = field(obj, "annotations") {
        check_annotations(annotations, &at("annotations"))?;
    }
    if let Some(metadata) = field(obj, "metadata") {
        let metadata = object(metadata, &at("metadata"))?;
        for (ns, value) in metadata {
            object(value, &format!("{path}.metadata.{ns}"))?;
        }
    }
    if let Some(cause) = field(obj, "cause") {
        check_cause(cause, &at("cause"))?;
    }
    if let Some(subs) = field(obj, "subsegments") {
        let subs = subs
            .as_array()
            .ok_or_else(|| fail(&at("subsegments"), Reason::WrongType("an array")))?;
        for (i, sub) in subs.iter().enumerate() {
            let sub_path = format!("{path}.subsegments[{i}]");
            let sub = object(sub, &sub_path)?;
            check_entity(sub, &sub_path, false)?;
        }
    }
    Ok(())
}

fn object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, ValidationError> {
    value
        .as_object()
        .ok_or_else(|| fail(path, Reason::WrongType("an object")))
}

fn check_id(value: Option<&Value>, path: &str, required: bool) -> Check {
    match value {
        None if required => Err(fail(path, Reason::Missing)),
        None => Ok(()),
        Some(Value::String(id)) if EntityId::parse(id).is_ok() => Ok(()),
        Some(Value::String(_)) => Err(fail(path, Reason::InvalidId)),
        Some(_) => Err(fail(path, Reason::WrongType("a string"))),
    }
}

fn check_bool(
    obj: &Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<Option<bool>, ValidationError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(fail(
            &format!("{path}.{key}"),
            Reason::WrongType("a boolean"),
        )),
    }
}

fn check_string(obj: &Map<String, Value>, key: &str, path: &str, max: Option<usize>) -> Check {
    match obj.get(key) {
        None => Ok(()),
        Some(Value::String(s)) => match max {
            Some(max) if s.chars().count() > max => {
                Err(fail(&format!("{path}.{key}"), Reason::TooLong(max)))
            }
            _ => Ok(()),
        },
        Some(_) => Err(fail(
            &format!("{path}.{key}"),
            Reason::WrongType("a string"),
        )),
    }
}

fn check_number(obj: &Map<String, Value>, key: &str, path: &str) -> Check {
    match obj.get(key) {
        None | Some(Value::Number(_)) => Ok(()),
        Some(_) => Err(fail(
            &format!("{path}.{key}"),
            Reason::WrongType("a number"),
        )),
    }
}

fn check_http(http: &Value, path: &str) -> Check {
    let http = object(http, path)?;
    if let Some(request) = http.get("request") {
        let req_path = format!("{path}.request");
        let request = object(request, &req_path)?;
        for key in ["method", "url", "user_agent", "client_ip"] {
            check_string(request, key, &req_path, Some(MAX_STRING_LEN))?;
        }
        check_bool(request, "x_forwarded_for", &req_path)?;
        check_bool(request, "traced", &req_path)?;
    }
    if let Some(response) = http.get("response") {
        let resp_path = format!("{path}.response");
        let response = object(response, &resp_path)?;
        check_number(response, "status", &resp_path)?;
        check_number(response, "content_length", &resp_path)?;
    }
    Ok(())
}

fn check_aws(aws: &Value, path: &str) -> Check {
    let aws = object(aws, path)?;
    for key in [
        "account_id",
        "operation",
        "region",
        "request_id",
        "queue_url",
        "table_name",
    ] {
        check_string(aws, key, path, None)?;
    }
    check_number(aws, "retries", path)?;
    for (block, keys) in [
        ("ec2", &["instance_id", "availability_zone"][..]),
        ("ecs", &["container"][..]),
        (
            "elastic_beanstalk",
            &["environment_name", "version_label"][..],
        ),
        ("xray", &["sdk", "sdk_version"][..]),
    ] {
        if let Some(value) = aws.get(block) {
            let block_path = format!("{path}.{block}");
            let obj = object(value, &block_path)?;
            for key in keys {
                check_string(obj, key, &block_path, None)?;
            }
            if block == "elastic_beanstalk" {
                check_number(obj, "deployment_id", &block_path)?;
            }
        }
    }
    Ok(())
}

fn check_annotations(annotations: &Value, path: &str) -> Check {
    let annotations = object(annotations, path)?;
    for (key, value) in annotations {
        let key_path = format!("{path}.{key}");
        if !is_valid_annotation_key(key) {
            return Err(fail(&key_path, Reason::InvalidAnnotationKey));
        }
        match value {
            Value::Bool(_) | Value::Number(_) => {}
            Value::String(s) if s.chars().count() <= MAX_ANNOTATION_VALUE_LEN => {}
            Value::String(_) => {
                return Err(fail(&key_path, Reason::TooLong(MAX_ANNOTATION_VALUE_LEN)));
            }
            _ => {
                return Err(fail(
                    &key_path,
                    Reason::WrongType("a string, number or boolean"),
                ));
            }
        }
    }
    Ok(())
}

fn check_cause(cause: &Value, path: &str) -> Check {
    match cause {
        Value::String(_) => check_id(Some(cause), path, true),
        Value::Object(obj) => {
            check_string(obj, "working_directory", path, None)?;
            if let Some(paths) = obj.get("paths") {
                let paths = paths
                    .as_array()
                    .ok_or_else(|| fail(&format!("{path}.paths"), Reason::WrongType("an array")))?;
                if !paths.iter().all(Value::is_string) {
                    return Err(fail(&format!("{path}.paths"), Reason::WrongType("strings")));
                }
            }
            if let Some(exceptions) = obj.get("exceptions") {
                let exceptions = exceptions.as_array().ok_or_else(|| {
                    fail(&format!("{path}.exceptions"), Reason::WrongType("an array"))
                })?;
                for (i, e) in exceptions.iter().enumerate() {
                    check_exception(e, &format!("{path}.exceptions[{i}]"))?;
                }
            }
            Ok(())
        }
        _ => Err(fail(
            path,
            Reason::WrongType("an exception id or an object"),
        )),
    }
}

fn check_exception(exception: &Value, path: &str) -> Check {
    let e = object(exception, path)?;
    check_id(e.get("id"), &format!("{path}.id"), true)?;
    check_string(e, "message", path, None)?;
    check_string(e, "type", path, None)?;
    check_bool(e, "remote", path)?;
    for key in ["truncated", "skipped"] {
        match e.get(key) {
            None => {}
            Some(v) if v.is_i64() || v.is_u64() => {}
            Some(_) => {
                return Err(fail(
                    &format!("{path}.{key}"),
                    Reason::WrongType("an integer"),
                ));
            }
        }
    }
    check_id(e.get("cause"), &format!("{path}.cause"), false)?;
    if let Some(stack) = e.get("stack") {
        let stack = stack
            .as_array()
            .ok_or_else(|| fail(&format!("{path}.stack"), Reason::WrongType("an array")))?;
        for (i, frame) in stack.iter().enumerate() {
            let frame_path = format!("{path}.stack[{i}]");
            let frame = object(frame, &frame_path)?;
            check_string(frame, "path", &frame_path, None)?;
            check_string(frame, "label", &frame_path, None)?;
            match frame.get("line") {
                None => {}
                Some(v) if v.is_i64() || v.is_u64() => {}
                Some(_) => {
                    return Err(fail(
                        &format!("{frame_path}.line"),
                        Reason::WrongType("an integer"),
                    ));
                }
            }
        }
    }
    Ok(())
}
