//! Assembly of a trace: independent subsegments attached under their parents, whatever order they came in.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How deep independent subsegments are attached under one another; deeper chains are left as orphans, so that
/// hostile input cannot exhaust the stack.
pub const MAX_ATTACH_DEPTH: usize = 128;

/// A trace's documents, as trees.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AssembledTrace {
    /// The segments, by start time, each with its embedded subsegments and the independent subsegments whose
    /// `parent_id` is the segment or one of its subsegments, appended to that entity's `subsegments` (sorted by
    /// start time).
    pub segments: Vec<Value>,
    /// Independent subsegments whose parent is not in the trace (yet), with their own children attached. In a
    /// Lambda function the parent is the facade segment, which is never sent.
    pub orphans: Vec<Value>,
}

fn id_of(value: &Value) -> Option<&str> {
    value.get("id").and_then(Value::as_str)
}

fn parent_of(value: &Value) -> Option<&str> {
    value.get("parent_id").and_then(Value::as_str)
}

fn start_of(value: &Value) -> f64 {
    value
        .get("start_time")
        .and_then(Value::as_f64)
        .unwrap_or(f64::MAX)
}

fn by_start(a: &Value, b: &Value) -> std::cmp::Ordering {
    start_of(a).total_cmp(&start_of(b))
}

struct Pool {
    subsegments: Vec<Option<Value>>,
    children: HashMap<String, Vec<usize>>,
}

impl Pool {
    /// Attaches, under `entity` and its embedded subsegments, the pooled subsegments that name them as parent.
    fn attach(&mut self, entity: &mut Value, depth: usize) {
        if depth > MAX_ATTACH_DEPTH {
            return;
        }
        let Some(obj) = entity.as_object_mut() else {
            return;
        };
        if let Some(Value::Array(embedded)) = obj.get_mut("subsegments") {
            for sub in embedded.iter_mut() {
                self.attach(sub, depth + 1);
            }
        }
        let Some(id) = obj.get("id").and_then(Value::as_str) else {
            return;
        };
        let Some(indices) = self.children.remove(id) else {
            return;
        };
        let mut found = Vec::new();
        for index in indices {
            if let Some(mut child) = self.subsegments.get_mut(index).and_then(Option::take) {
                self.attach(&mut child, depth + 1);
                found.push(child);
            }
        }
        if found.is_empty() {
            return;
        }
        let subs = obj
            .entry("subsegments")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !subs.is_array() {
            *subs = Value::Array(Vec::new());
        }
        if let Value::Array(subs) = subs {
            subs.extend(found);
            subs.sort_by(by_start);
        }
    }
}

/// Builds the trees of a trace from its documents (segments, and independent subsegments with `type`).
///
/// Each document appears once in the result. A document whose id repeats is kept once (the later one).
pub fn assemble(documents: Vec<Value>) -> AssembledTrace {
    let mut segments = Vec::new();
    let mut pool = Pool {
        subsegments: Vec::new(),
        children: HashMap::new(),
    };
    for doc in documents {
        if doc.get("type").is_some() {
            if let Some(parent) = parent_of(&doc) {
                pool.children
                    .entry(parent.to_owned())
                    .or_default()
                    .push(pool.subsegments.len());
            }
            pool.subsegments.push(Some(doc));
        } else {
            segments.push(doc);
        }
    }
    segments.sort_by(by_start);
    for segment in &mut segments {
        pool.attach(segment, 0);
    }
    // What is left has no parent among the segments: start from the subsegments whose parent is not pooled.
    let pooled: HashSet<String> = pool
        .subsegments
        .iter()
        .flatten()
        .filter_map(|s| id_of(s).map(str::to_owned))
        .collect();
    let mut roots: Vec<usize> = (0..pool.subsegments.len())
        .filter(|&i| {
            pool.subsegments[i]
                .as_ref()
                .is_some_and(|s| parent_of(s).is_none_or(|p| !pooled.contains(p)))
        })
        .collect();
    roots.sort_by(
        |&a, &b| match (&pool.subsegments[a], &pool.subsegments[b]) {
            (Some(a), Some(b)) => by_start(a, b),
            _ => std::cmp::Ordering::Equal,
        },
    );
    let mut orphans = Vec::new();
    for index in roots {
        if let Some(mut orphan) = pool.subsegments[index].take() {
            pool.attach(&mut orphan, 0);
            orphans.push(orphan);
        }
    }
    // Cycles and over-deep chains: listed flat rather than lost.
    orphans.extend(pool.subsegments.into_iter().flatten());
    AssembledTrace { segments, orphans }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn sub(id: &str, parent: &str, start: f64) -> Value {
        json!({"id": id, "parent_id": parent, "type": "subsegment", "start_time": start, "name": id})
    }

    #[test]
    fn attaches_in_any_order() {
        let segment = json!({"id": "a000000000000001", "name": "web", "start_time": 1.0,
            "subsegments": [{"id": "b000000000000001", "name": "embedded", "start_time": 1.5}]});
        let docs = vec![
            sub("c000000000000002", "c000000000000001", 3.0),
            sub("c000000000000001", "b000000000000001", 2.0),
            sub("c000000000000003", "a000000000000001", 1.2),
            segment,
        ];
        let trace = assemble(docs);
        assert_eq!(trace.orphans, Vec::<Value>::new());
        assert_eq!(trace.segments.len(), 1);
        let top = &trace.segments[0]["subsegments"];
        assert_eq!(top[0]["id"], "c000000000000003");
        assert_eq!(top[1]["id"], "b000000000000001");
        assert_eq!(top[1]["subsegments"][0]["id"], "c000000000000001");
        assert_eq!(
            top[1]["subsegments"][0]["subsegments"][0]["id"],
            "c000000000000002"
        );
    }

    #[test]
    fn keeps_orphans_and_cycles() {
        let docs = vec![
            sub("d000000000000002", "d000000000000001", 2.0),
            sub("d000000000000001", "ffffffffffffffff", 1.0),
            sub("e000000000000001", "e000000000000002", 5.0),
            sub("e000000000000002", "e000000000000001", 6.0),
        ];
        let trace = assemble(docs);
        assert_eq!(trace.segments, Vec::<Value>::new());
        assert_eq!(trace.orphans.len(), 3);
        assert_eq!(trace.orphans[0]["id"], "d000000000000001");
        assert_eq!(trace.orphans[0]["subsegments"][0]["id"], "d000000000000002");
        assert_eq!(trace.orphans[1]["id"], "e000000000000001");
        assert_eq!(trace.orphans[2]["id"], "e000000000000002");
    }

    #[test]
    fn survives_a_long_chain() {
        let mut docs = vec![json!({"id": "0000000000000000", "name": "root", "start_time": 0.0})];
        for i in 1..1000u64 {
            docs.push(sub(
                &format!("{i:016x}"),
                &format!("{:016x}", i - 1),
                i as f64,
            ));
        }
        let trace = assemble(docs);
        fn count(v: &Value) -> usize {
            1 + v["subsegments"]
                .as_array()
                .map_or(0, |s| s.iter().map(count).sum())
        }
        assert_eq!(trace.segments.len(), 1);
        assert_eq!(count(&trace.segments[0]), MAX_ATTACH_DEPTH + 2);
        let in_orphans: usize = trace.orphans.iter().map(count).sum();
        assert_eq!(in_orphans, 1000 - (MAX_ATTACH_DEPTH + 2));
    }
}
