//! SQS-triggered functions: the records of an event, linked to the traces of their messages.
//!
//! A message sent by a traced producer carries the producer's trace header in its `AWSTraceHeader` system
//! attribute. Lambda links the function's own segment to those traces; these helpers let the function's
//! subsegments say which messages' traces their work belongs to, as X-Ray trace links (`links`:
//! `[{trace_id, id, attributes}]`, at most [`MAX_LINKS`] per document, as X-Ray accepts).
//!
//! Only what tracing needs is read from the event (each record's `messageId` and `attributes.AWSTraceHeader`),
//! with serde from the event's JSON: no dependency on an events crate. With `aws_lambda_events`' `SqsEvent` as
//! the payload, pass each message's attribute to [`link_message`] instead.

use serde::Deserialize;
use serde_json::{Map, Value};
use xray_sdk_core::Entity;
use xray_sdk_core::types::TraceHeader;
use xray_sdk_core::types::header::SamplingFlag;

/// The most links X-Ray accepts on one segment or subsegment.
pub const MAX_LINKS: usize = 20;

/// The name of the SQS message system attribute that carries the producer's trace header.
pub const TRACE_HEADER_ATTRIBUTE: &str = "AWSTraceHeader";

/// The parts of an SQS event (`{"Records": [...]}`) that tracing reads. Deserialize it from the event's JSON
/// (for example from a `serde_json::Value` payload with `XraySqsEvent::deserialize(&value)`); other fields are
/// ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct XraySqsEvent {
    /// The records.
    #[serde(rename = "Records", default)]
    pub records: Vec<XraySqsRecord>,
}

/// One record of an SQS event, as tracing reads it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct XraySqsRecord {
    /// `messageId`.
    #[serde(rename = "messageId", default)]
    pub message_id: Option<String>,
    /// `attributes.AWSTraceHeader`: the producer's trace header, when it was traced.
    #[serde(
        rename = "attributes",
        default,
        deserialize_with = "trace_header_attribute"
    )]
    pub aws_trace_header: Option<String>,
}

fn trace_header_attribute<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let attributes = Option::<Map<String, Value>>::deserialize(deserializer)?;
    Ok(attributes
        .and_then(|mut a| a.remove(TRACE_HEADER_ATTRIBUTE))
        .and_then(|v| match v {
            Value::String(s) => Some(s),
            _ => None,
        }))
}

impl XraySqsRecord {
    /// The producer's trace header, when the message has a well-formed one.
    pub fn trace_header(&self) -> Option<TraceHeader> {
        self.aws_trace_header
            .as_deref()
            .and_then(|text| TraceHeader::parse(text).ok())
    }

    /// Whether the producer sampled the message's trace: the header has the field `Sampled=1`, whatever the
    /// rest holds (as the other SDKs' helpers answer, except that `Sampled=10` is not taken for `Sampled=1`).
    pub fn is_sampled(&self) -> bool {
        self.aws_trace_header
            .as_deref()
            .is_some_and(|text| text.split(';').any(|field| field.trim() == "Sampled=1"))
    }
}

/// Links `entity` to the trace of every record of `event` whose producer was traced and sampled (a header with
/// `Root`, `Parent` and not `Sampled=0`), up to [`MAX_LINKS`] links in all. Returns how many links were added.
pub fn link_sqs_records(entity: &Entity, event: &XraySqsEvent) -> usize {
    event
        .records
        .iter()
        .filter(|r| {
            link_message(
                entity,
                r.aws_trace_header.as_deref(),
                r.message_id.as_deref(),
            )
        })
        .count()
}

/// Links `entity` to the trace of one message, given its `AWSTraceHeader` attribute and its id. Returns whether
/// a link was added: not for a missing or malformed header, one without `Root` or `Parent`, `Sampled=0`, an
/// unrecorded entity, or one that already holds [`MAX_LINKS`] links.
pub fn link_message(
    entity: &Entity,
    aws_trace_header: Option<&str>,
    message_id: Option<&str>,
) -> bool {
    let Some(header) = aws_trace_header.and_then(|text| TraceHeader::parse(text).ok()) else {
        return false;
    };
    let (Some(root), Some(parent)) = (header.root, header.parent) else {
        return false;
    };
    if header.sampled == Some(SamplingFlag::NotSampled) {
        return false;
    }
    let mut link = Map::new();
    link.insert("trace_id".into(), Value::String(root.to_string()));
    link.insert("id".into(), Value::String(parent.to_string()));
    if let Some(id) = message_id {
        let mut attributes = Map::new();
        attributes.insert("messaging.message.id".into(), Value::String(id.to_owned()));
        link.insert("attributes".into(), Value::Object(attributes));
    }
    entity
        .with_document(|doc| {
            let links = doc
                .extra
                .entry("links")
                .or_insert_with(|| Value::Array(Vec::new()));
            match links {
                Value::Array(links) if links.len() < MAX_LINKS => {
                    links.push(Value::Object(link));
                    true
                }
                _ => false,
            }
        })
        .unwrap_or(false)
}
