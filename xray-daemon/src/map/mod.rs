//! The service map: which service called which, computed from stored traces.
//!
//! One node per service (a segment's name and origin) and per downstream resource that is not traced itself (a
//! `remote` or `aws` subsegment: a database, an AWS service, an HTTP API). An edge goes from a segment's service
//! to the service of each segment whose `parent_id` is one of its subsegments, and from a segment's service to
//! each `remote`/`aws` subsegment of it that has no traced segment downstream. Edges carry the request count,
//! the error, throttle and fault counts and rates, and the latency (average and 95th percentile) as the caller's
//! subsegment measured it.
//!
//! Independent subsegments are attached to their segments first ([`crate::trace::assemble()`]); subsegments whose
//! segment is not in the trace (the orphans, such as those of a Lambda function's facade segment) call from no
//! known service and add no edge.

mod stats;

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use stats::{Latency, Sample, Stats};

use crate::trace::assemble;

/// How deep subsegments are walked; deeper ones are ignored, so that hostile input cannot exhaust the stack.
const MAX_DEPTH: usize = 64;

/// What a node stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NodeKind {
    /// A traced service: it sent segments.
    Service,
    /// A downstream resource known only from its callers' `remote` or `aws` subsegments.
    Remote,
}

/// A node of the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// A stable identifier, unique in the map: `kind:type:name`.
    pub id: String,
    /// The service's (segment's) or resource's (subsegment's) name.
    pub name: String,
    /// Traced service or untraced resource.
    pub kind: NodeKind,
    /// The type: a segment's `origin` (such as `AWS::EC2::Instance`) or `service`; for resources `AWS::<name>`
    /// (namespace `aws`), `Database::SQL` (subsegments with `sql`) or `remote`.
    #[serde(rename = "type")]
    pub node_type: String,
    /// For services, their segments; for resources, the calls made to them.
    pub stats: Stats,
}

/// An edge of the map: calls from one node to another.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Edge {
    /// The caller's node id.
    pub source: String,
    /// The callee's node id.
    pub target: String,
    /// The calls, as the caller's subsegments measured them.
    pub stats: Stats,
}

/// The body of `GET /api/map`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceMap {
    /// The start of the time range asked for, epoch seconds.
    pub from: Option<f64>,
    /// The end of the time range asked for, epoch seconds.
    pub to: Option<f64>,
    /// How many traces the map was computed from.
    pub traces: usize,
    /// Whether more traces started in the range than were read (the newest are read).
    pub truncated: bool,
    /// The nodes, sorted by kind, type and name.
    pub nodes: Vec<Node>,
    /// The edges, sorted by source then target.
    pub edges: Vec<Edge>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct NodeKey {
    kind: NodeKind,
    node_type: String,
    name: String,
}

impl NodeKey {
    fn id(&self) -> String {
        let kind = match self.kind {
            NodeKind::Service => "service",
            NodeKind::Remote => "remote",
        };
        format!("{kind}:{}:{}", self.node_type, self.name)
    }
}

/// Builds a [`ServiceMap`] from traces, one trace at a time.
#[derive(Debug, Default)]
pub struct MapBuilder {
    nodes: BTreeMap<NodeKey, Vec<Sample>>,
    edges: BTreeMap<(NodeKey, NodeKey), Vec<Sample>>,
    traces: usize,
}

fn text<'a>(entity: &'a Value, key: &str) -> Option<&'a str> {
    entity.get(key).and_then(Value::as_str)
}

fn subsegments(entity: &Value) -> &[Value] {
    entity
        .get("subsegments")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn service_key(segment: &Value) -> NodeKey {
    NodeKey {
        kind: NodeKind::Service,
        node_type: text(segment, "origin").unwrap_or("service").to_owned(),
        name: text(segment, "name").unwrap_or("?").to_owned(),
    }
}

fn resource_key(subsegment: &Value, namespace: &str) -> NodeKey {
    let name = text(subsegment, "name").unwrap_or("?");
    let node_type = if namespace == "aws" {
        if name.starts_with("AWS::") {
            name.to_owned()
        } else {
            format!("AWS::{name}")
        }
    } else if subsegment.get("sql").is_some_and(Value::is_object) {
        "Database::SQL".to_owned()
    } else {
        "remote".to_owned()
    };
    NodeKey {
        kind: NodeKind::Remote,
        node_type,
        name: name.to_owned(),
    }
}

fn is_call(subsegment: &Value) -> Option<&str> {
    text(subsegment, "namespace").filter(|ns| matches!(*ns, "remote" | "aws"))
}

/// Records `id → (index of its segment, the subsegment)` for every subsegment under `entity`.
fn index_subsegments<'a>(
    entity: &'a Value,
    segment: usize,
    index: &mut HashMap<&'a str, (usize, &'a Value)>,
    depth: usize,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for sub in subsegments(entity) {
        if let Some(id) = text(sub, "id") {
            index.entry(id).or_insert((segment, sub));
        }
        index_subsegments(sub, segment, index, depth + 1);
    }
}

/// Whether `entity` or one of its subsegments is the parent of a traced segment.
fn leads_downstream(entity: &Value, called: &HashSet<&str>, depth: usize) -> bool {
    if depth > MAX_DEPTH {
        return false;
    }
    text(entity, "id").is_some_and(|id| called.contains(id))
        || subsegments(entity)
            .iter()
            .any(|sub| leads_downstream(sub, called, depth + 1))
}

impl MapBuilder {
    /// An empty map.
    pub fn new() -> MapBuilder {
        MapBuilder::default()
    }

    /// Adds one trace, given all its documents (segments and independent subsegments, in any order).
    pub fn add_trace(&mut self, documents: Vec<Value>) {
        self.traces += 1;
        let trace = assemble(documents.into_iter().filter(Value::is_object).collect());
        let segments = &trace.segments;
        let mut index = HashMap::new();
        for (position, segment) in segments.iter().enumerate() {
            index_subsegments(segment, position, &mut index, 0);
        }

        let mut called = HashSet::new();
        for segment in segments {
            let key = service_key(segment);
            let sample = Sample::of(segment);
            self.nodes.entry(key.clone()).or_default().push(sample);
            let Some(parent) = text(segment, "parent_id") else {
                continue;
            };
            let Some(&(caller, subsegment)) = index.get(parent) else {
                continue;
            };
            called.insert(parent);
            // The caller's subsegment measured the call; while it is still open, the callee's segment did.
            let measured = Some(Sample::of(subsegment))
                .filter(|s| s.duration.is_some())
                .unwrap_or(sample);
            self.edges
                .entry((service_key(&segments[caller]), key))
                .or_default()
                .push(measured);
        }

        for segment in segments {
            let caller = service_key(segment);
            self.add_resource_calls(segment, &caller, &called, 0);
        }
    }

    /// Adds an edge for every `remote`/`aws` subsegment under `entity` that leads to no traced segment (nested
    /// calls inside such a subsegment belong to it).
    fn add_resource_calls(
        &mut self,
        entity: &Value,
        caller: &NodeKey,
        called: &HashSet<&str>,
        depth: usize,
    ) {
        if depth > MAX_DEPTH {
            return;
        }
        for sub in subsegments(entity) {
            match is_call(sub) {
                Some(namespace) if !leads_downstream(sub, called, depth + 1) => {
                    let key = resource_key(sub, namespace);
                    let sample = Sample::of(sub);
                    self.nodes.entry(key.clone()).or_default().push(sample);
                    self.edges
                        .entry((caller.clone(), key))
                        .or_default()
                        .push(sample);
                }
                _ => self.add_resource_calls(sub, caller, called, depth + 1),
            }
        }
    }

    /// The map of every trace added.
    pub fn build(self) -> ServiceMap {
        ServiceMap {
            traces: self.traces,
            nodes: self
                .nodes
                .into_iter()
                .map(|(key, samples)| Node {
                    id: key.id(),
                    stats: Stats::from_samples(&samples),
                    name: key.name,
                    kind: key.kind,
                    node_type: key.node_type,
                })
                .collect(),
            edges: self
                .edges
                .into_iter()
                .map(|((source, target), samples)| Edge {
                    source: source.id(),
                    target: target.id(),
                    stats: Stats::from_samples(&samples),
                })
                .collect(),
            ..ServiceMap::default()
        }
    }
}

#[cfg(test)]
mod tests;
