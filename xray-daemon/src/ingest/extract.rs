//! The fields of a valid document that the store indexes.

use serde_json::{Map, Value};

/// The status flags of a document, as bits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags(pub u8);

impl Flags {
    /// `error: true` (a 4xx).
    pub const ERROR: u8 = 1;
    /// `throttle: true` (a 429).
    pub const THROTTLE: u8 = 2;
    /// `fault: true` (a 5xx).
    pub const FAULT: u8 = 4;

    /// The status name of these flags: `fault`, then `throttle`, then `error` win; else `ok`.
    pub fn status(self) -> &'static str {
        if self.0 & Self::FAULT != 0 {
            "fault"
        } else if self.0 & Self::THROTTLE != 0 {
            "throttle"
        } else if self.0 & Self::ERROR != 0 {
            "error"
        } else {
            "ok"
        }
    }
}

/// A valid document, ready for the store: its body as received and the fields the store indexes.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The trace id.
    pub trace_id: String,
    /// The document's entity id.
    pub id: String,
    /// The parent entity id, if any.
    pub parent_id: Option<String>,
    /// Whether this is an independent subsegment (else a segment).
    pub subsegment: bool,
    /// The entity's name (the service name, for a segment).
    pub name: String,
    /// `start_time`, epoch seconds.
    pub start_time: f64,
    /// `end_time`, epoch seconds, if ended.
    pub end_time: Option<f64>,
    /// `in_progress: true`.
    pub in_progress: bool,
    /// The document's own error, throttle and fault flags.
    pub flags: Flags,
    /// `http.request.method`.
    pub http_method: Option<String>,
    /// `http.request.url`.
    pub http_url: Option<String>,
    /// `http.response.status`.
    pub http_status: Option<i64>,
    /// Every annotation of the document and its embedded subsegments: key, value as JSON text, value as number.
    pub annotations: Vec<(String, String, Option<f64>)>,
    /// The document, byte for byte as received.
    pub body: Vec<u8>,
    /// When the daemon received it, epoch seconds.
    pub received_at: f64,
}

impl Record {
    /// Reads the indexed fields from a document that [`xray_sdk_types::validate::validate`] accepted. Returns
    /// `None` if a required field is somehow absent (it never is after validation).
    pub fn from_valid(doc: &Value, body: Vec<u8>, received_at: f64) -> Option<Record> {
        let obj = doc.as_object()?;
        let text =
            |o: &Map<String, Value>, k: &str| o.get(k).and_then(Value::as_str).map(str::to_owned);
        let flag = |k: &str, bit: u8| {
            if obj.get(k).and_then(Value::as_bool) == Some(true) {
                bit
            } else {
                0
            }
        };
        let http = obj.get("http").and_then(Value::as_object);
        let request = http
            .and_then(|h| h.get("request"))
            .and_then(Value::as_object);
        let response = http
            .and_then(|h| h.get("response"))
            .and_then(Value::as_object);
        let mut annotations = Vec::new();
        collect_annotations(obj, &mut annotations, 0);
        Some(Record {
            trace_id: text(obj, "trace_id")?,
            id: text(obj, "id")?,
            parent_id: text(obj, "parent_id"),
            subsegment: obj.contains_key("type"),
            name: text(obj, "name")?,
            start_time: obj.get("start_time").and_then(Value::as_f64)?,
            end_time: obj.get("end_time").and_then(Value::as_f64),
            in_progress: obj.get("in_progress").and_then(Value::as_bool) == Some(true),
            flags: Flags(
                flag("error", Flags::ERROR)
                    | flag("throttle", Flags::THROTTLE)
                    | flag("fault", Flags::FAULT),
            ),
            http_method: request.and_then(|r| text(r, "method")),
            http_url: request.and_then(|r| text(r, "url")),
            http_status: response
                .and_then(|r| r.get("status"))
                .and_then(|s| s.as_i64().or_else(|| s.as_f64().map(|f| f as i64))),
            annotations,
            body,
            received_at,
        })
    }
}

/// Embedded subsegments nest; the walk stops at a depth no real document reaches.
const MAX_DEPTH: usize = 64;

fn collect_annotations(
    obj: &Map<String, Value>,
    out: &mut Vec<(String, String, Option<f64>)>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    if let Some(annotations) = obj.get("annotations").and_then(Value::as_object) {
        for (key, value) in annotations {
            let json = value.to_string();
            let entry = (key.clone(), json, value.as_f64());
            if !out.contains(&entry) {
                out.push(entry);
            }
        }
    }
    if let Some(subs) = obj.get("subsegments").and_then(Value::as_array) {
        for sub in subs.iter().filter_map(Value::as_object) {
            collect_annotations(sub, out, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_indexed_fields() {
        let doc: Value = serde_json::json!({
            "trace_id": "1-5759e988-bd862e3fe1be46a994272793", "id": "53995c3f42cd8ad8", "name": "api",
            "start_time": 10.5, "end_time": 11.0, "fault": true, "error": false,
            "http": {"request": {"method": "GET", "url": "http://x/y"}, "response": {"status": 503}},
            "annotations": {"a": "x", "n": 2},
            "subsegments": [{"id": "53995c3f42cd8ad9", "name": "s", "start_time": 10.6, "end_time": 10.7,
                              "annotations": {"a": "x", "b": true}}]
        });
        let r = Record::from_valid(&doc, b"{}".to_vec(), 99.0).unwrap();
        assert_eq!(r.trace_id, "1-5759e988-bd862e3fe1be46a994272793");
        assert_eq!(r.id, "53995c3f42cd8ad8");
        assert_eq!(r.parent_id, None);
        assert!(!r.subsegment);
        assert_eq!(r.flags, Flags(Flags::FAULT));
        assert_eq!(r.flags.status(), "fault");
        assert_eq!(r.http_method.as_deref(), Some("GET"));
        assert_eq!(r.http_url.as_deref(), Some("http://x/y"));
        assert_eq!(r.http_status, Some(503));
        assert_eq!(
            r.annotations,
            vec![
                ("a".to_owned(), "\"x\"".to_owned(), None),
                ("n".to_owned(), "2".to_owned(), Some(2.0)),
                ("b".to_owned(), "true".to_owned(), None),
            ]
        );
    }

    #[test]
    fn status_precedence() {
        assert_eq!(Flags(0).status(), "ok");
        assert_eq!(Flags(Flags::ERROR).status(), "error");
        assert_eq!(Flags(Flags::ERROR | Flags::THROTTLE).status(), "throttle");
        assert_eq!(Flags(7).status(), "fault");
    }
}
