//! Documents to datagrams, never over the UDP limit.
//!
//! A document that fits is sent whole. One that does not is split: its largest subsegments are taken out and
//! sent as independent subsegments (recursively, so each of them fits too) until the rest fits. A single
//! entity that is still too large alone is trimmed — its metadata first, then its exceptions' stacks, then
//! its annotations and long strings — and marked with metadata `xray.trimmed` listing what went, rather than
//! being dropped.

use serde_json::Value;
use xray_sdk_types::document::{Cause, DocumentType, MetadataValue};
use xray_sdk_types::framing::{DATAGRAM_PREFIX, MAX_DATAGRAM_SIZE};
use xray_sdk_types::{Document, TraceId};

/// What happened while encoding one document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeReport {
    /// Datagrams produced.
    pub datagrams: usize,
    /// Subsegments taken out of their parent and sent on their own because the whole was too large.
    pub split: usize,
    /// Entities trimmed because they were too large alone.
    pub trimmed: usize,
    /// Entities that could not be made small enough and were dropped (only possible with a tiny limit).
    pub dropped: usize,
}

/// Encodes `doc` into datagrams of at most `max_datagram` bytes (header line included) and hands each to
/// `send`. `buf` is scratch space, reused between calls.
pub fn encode(
    doc: Box<Document>,
    max_datagram: usize,
    buf: &mut Vec<u8>,
    send: &mut dyn FnMut(&[u8]),
) -> EncodeReport {
    let mut report = EncodeReport::default();
    let max_doc = max_datagram
        .min(MAX_DATAGRAM_SIZE)
        .saturating_sub(DATAGRAM_PREFIX.len());
    encode_into(doc, max_doc, buf, send, &mut report);
    report
}

fn serialize(doc: &Document, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    buf.extend_from_slice(DATAGRAM_PREFIX.as_bytes());
    doc.write_json(buf).is_ok()
}

fn body_len(buf: &[u8]) -> usize {
    buf.len() - DATAGRAM_PREFIX.len()
}

fn encode_into(
    mut doc: Box<Document>,
    max_doc: usize,
    buf: &mut Vec<u8>,
    send: &mut dyn FnMut(&[u8]),
    report: &mut EncodeReport,
) {
    if !serialize(&doc, buf) {
        report.dropped += 1;
        return;
    }
    if body_len(buf) <= max_doc {
        send(buf);
        report.datagrams += 1;
        super::reuse::recycle(doc);
        return;
    }
    if !doc.subsegments.is_empty() {
        let trace_id = doc.trace_id.unwrap_or(TraceId::NOOP);
        let parent_id = doc.id;
        let mut sized: Vec<(usize, Box<Document>)> = std::mem::take(&mut doc.subsegments)
            .into_iter()
            .map(|child| {
                buf.clear();
                let len = match child.write_json(buf) {
                    Ok(()) => buf.len(),
                    Err(_) => usize::MAX,
                };
                (len, child)
            })
            .collect();
        sized.sort_by_key(|(len, _)| *len);
        // Take the largest children out until the rest fits (with room for the commas between them).
        let parent_alone = if serialize(&doc, buf) {
            body_len(buf)
        } else {
            usize::MAX
        };
        let mut total = parent_alone.saturating_add(
            sized
                .iter()
                .map(|(len, _)| len.saturating_add(1))
                .sum::<usize>(),
        );
        while total > max_doc {
            let Some((len, mut child)) = sized.pop() else {
                break;
            };
            total = total.saturating_sub(len.saturating_add(1));
            child.kind = Some(DocumentType::Subsegment);
            child.trace_id = Some(trace_id);
            child.parent_id = Some(parent_id);
            report.split += 1;
            encode_into(child, max_doc, buf, send, report);
        }
        doc.subsegments = sized.into_iter().map(|(_, d)| d).collect();
        // What remains fits unless the estimate was off; the recursion settles that.
        encode_into(doc, max_doc, buf, send, report);
        return;
    }
    trim(&mut doc, max_doc, buf, report);
    if serialize(&doc, buf) && body_len(buf) <= max_doc {
        send(buf);
        report.datagrams += 1;
    } else {
        report.dropped += 1;
    }
}

fn trim(doc: &mut Document, max_doc: usize, buf: &mut Vec<u8>, report: &mut EncodeReport) {
    report.trimmed += 1;
    let mut trimmed: Vec<&'static str> = Vec::new();
    type Step = (&'static str, fn(&mut Document));
    let steps: [Step; 5] = [
        ("metadata", |d| d.metadata = Default::default()),
        ("stack", |d| {
            if let Some(Cause::Details(details)) = &mut d.cause {
                for e in &mut details.exceptions {
                    e.stack.clear();
                }
            }
        }),
        ("annotations", |d| d.annotations = Default::default()),
        ("extra", |d| {
            d.extra.clear();
            if let Some(aws) = &mut d.aws {
                aws.extra.clear();
            }
        }),
        ("strings", |d| {
            if let Some(sql) = &mut d.sql {
                sql.sanitized_query = None;
            }
            if let Some(Cause::Details(details)) = &mut d.cause {
                details.exceptions.truncate(1);
                for e in &mut details.exceptions {
                    if let Some(m) = &mut e.message {
                        truncate_chars(m, 1024);
                    }
                }
            }
            if let Some(req) = d.http.as_mut().and_then(|h| h.request.as_mut()) {
                for s in [&mut req.url, &mut req.user_agent].into_iter().flatten() {
                    truncate_chars(s, 250);
                }
            }
        }),
    ];
    for (name, step) in steps {
        step(doc);
        trimmed.push(name);
        let mut marked = doc.clone();
        mark(&mut marked, &trimmed);
        if serialize(&marked, buf) && body_len(buf) <= max_doc {
            *doc = marked;
            return;
        }
    }
    mark(doc, &trimmed);
}

fn mark(doc: &mut Document, trimmed: &[&'static str]) {
    let list = Value::Array(
        trimmed
            .iter()
            .map(|s| Value::String((*s).to_owned()))
            .collect(),
    );
    doc.metadata
        .get_or_insert_with("xray", Default::default)
        .insert("trimmed", MetadataValue::from(list));
}

fn truncate_chars(s: &mut String, max: usize) {
    if let Some((i, _)) = s.char_indices().nth(max) {
        s.truncate(i);
    }
}
