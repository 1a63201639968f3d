//! Trace trees as indented text, for `xray tail`.

use std::collections::{HashMap, HashSet};
use std::fmt::Write;

use serde_json::Value;

use crate::api::traces::TraceDetail;

/// How deep the printed tree goes.
const MAX_DEPTH: usize = 64;

fn millis(seconds: f64) -> String {
    format!("{:.1} ms", seconds * 1000.0)
}

fn entity_line(entity: &Value, trace_start: f64) -> String {
    let name = entity.get("name").and_then(Value::as_str).unwrap_or("?");
    let start = entity.get("start_time").and_then(Value::as_f64);
    let end = entity.get("end_time").and_then(Value::as_f64);
    let mut line = name.to_owned();
    if let Some(operation) = entity.pointer("/aws/operation").and_then(Value::as_str) {
        let _ = write!(line, " {operation}");
    }
    if let Some(method) = entity
        .pointer("/http/request/method")
        .and_then(Value::as_str)
    {
        let _ = write!(line, " {method}");
    }
    if let Some(url) = entity.pointer("/http/request/url").and_then(Value::as_str) {
        let _ = write!(line, " {url}");
    }
    if let Some(status) = entity
        .pointer("/http/response/status")
        .and_then(Value::as_i64)
    {
        let _ = write!(line, " → {status}");
    }
    match (start, end) {
        (Some(start), Some(end)) => {
            let _ = write!(line, "  {}", millis(end - start));
        }
        _ => line.push_str("  (in progress)"),
    }
    if let Some(start) = start {
        let _ = write!(line, "  at +{}", millis(start - trace_start));
    }
    for (flag, label) in [
        ("fault", "FAULT"),
        ("throttle", "THROTTLE"),
        ("error", "ERROR"),
    ] {
        if entity.get(flag).and_then(Value::as_bool) == Some(true) {
            let _ = write!(line, "  {label}");
        }
    }
    line
}

/// Segments by the id of the entity that called them (their `parent_id`).
type Callees<'a> = HashMap<&'a str, Vec<&'a Value>>;

fn write_entity(
    out: &mut String,
    entity: &Value,
    depth: usize,
    trace_start: f64,
    callees: &Callees<'_>,
) {
    let indent = "  ".repeat(depth + 1);
    let _ = writeln!(out, "{indent}{}", entity_line(entity, trace_start));
    if depth >= MAX_DEPTH {
        return;
    }
    if let Some(subs) = entity.get("subsegments").and_then(Value::as_array) {
        for sub in subs {
            write_entity(out, sub, depth + 1, trace_start, callees);
        }
    }
    // The segments of downstream services this entity called, under the call.
    if let Some(id) = entity.get("id").and_then(Value::as_str) {
        for callee in callees.get(id).into_iter().flatten() {
            write_entity(out, callee, depth + 1, trace_start, callees);
        }
    }
}

fn collect_ids<'a>(entity: &'a Value, ids: &mut HashSet<&'a str>) {
    if let Some(id) = entity.get("id").and_then(Value::as_str) {
        ids.insert(id);
    }
    for sub in entity
        .get("subsegments")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        collect_ids(sub, ids);
    }
}

/// Renders a trace: a header line with its id, root service, duration and status, then its segments and their
/// subsegments indented by nesting, then the subsegments whose parent was not received.
pub fn render(trace: &TraceDetail) -> String {
    let s = &trace.summary;
    let mut out = String::new();
    let duration = s.duration.map_or_else(|| "in progress".to_owned(), millis);
    let _ = write!(
        out,
        "{}  {}  {}  {}",
        s.id,
        s.root_service,
        duration,
        s.status.as_str()
    );
    if let (Some(method), Some(url)) = (&s.http.method, &s.http.url) {
        let _ = write!(out, "  {method} {url}");
    }
    if let Some(status) = s.http.status {
        let _ = write!(out, " → {status}");
    }
    for (key, values) in &s.annotations {
        let values: Vec<String> = values.iter().map(Value::to_string).collect();
        let _ = write!(out, "  {key}={}", values.join(","));
    }
    out.push('\n');
    let assembled = trace.assembled();
    let mut ids = HashSet::new();
    for segment in &assembled.segments {
        collect_ids(segment, &mut ids);
    }
    let mut callees: Callees<'_> = HashMap::new();
    let mut roots = Vec::new();
    for segment in &assembled.segments {
        match segment.get("parent_id").and_then(Value::as_str) {
            Some(parent) if ids.contains(parent) => {
                callees.entry(parent).or_default().push(segment)
            }
            _ => roots.push(segment),
        }
    }
    for segment in roots {
        write_entity(&mut out, segment, 0, s.start_time, &callees);
    }
    for orphan in &assembled.orphans {
        let parent = orphan
            .get("parent_id")
            .and_then(Value::as_str)
            .unwrap_or("?");
        let _ = writeln!(out, "  (parent {parent} not received)");
        write_entity(&mut out, orphan, 1, s.start_time, &callees);
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;
    use crate::store::query::{HttpSummary, TraceStatus, TraceSummary};

    #[test]
    fn renders_an_indented_tree() {
        let trace = TraceDetail {
            id: "1-5759e988-bd862e3fe1be46a994272793".to_owned(),
            summary: TraceSummary {
                id: "1-5759e988-bd862e3fe1be46a994272793".to_owned(),
                root_service: "web".to_owned(),
                start_time: 10.0,
                end_time: Some(10.25),
                duration: Some(0.25),
                status: TraceStatus::Fault,
                http: HttpSummary {
                    method: Some("GET".to_owned()),
                    url: Some("http://x/".to_owned()),
                    status: Some(500),
                },
                annotations: BTreeMap::from([("user".to_owned(), vec![json!("ann")])]),
                segments: 1,
                documents: 2,
                updated_at: 11.0,
                seq: 2,
            },
            documents: vec![
                json!({"name": "web", "start_time": 10.0, "end_time": 10.25, "fault": true,
                "subsegments": [{"name": "DynamoDB", "start_time": 10.0625, "end_time": 10.125,
                                 "aws": {"operation": "PutItem"}}]}),
                json!({"name": "lost", "id": "00000000000000c1", "type": "subsegment",
                    "parent_id": "0123456789abcdef", "start_time": 10.5, "in_progress": true}),
            ],
            attached_to: vec![None, None],
            offset: 0,
            total: 2,
            next_offset: None,
        };
        assert_eq!(
            render(&trace),
            "1-5759e988-bd862e3fe1be46a994272793  web  250.0 ms  fault  GET http://x/ → 500  user=\"ann\"\n\
             \x20 web  250.0 ms  at +0.0 ms  FAULT\n\
             \x20   DynamoDB PutItem  62.5 ms  at +62.5 ms\n\
             \x20 (parent 0123456789abcdef not received)\n\
             \x20   lost  (in progress)  at +500.0 ms\n"
        );
    }
}
