//! Assembly of a trace: independent subsegments attached under their parents, whatever order they came in.
//!
//! Assembly runs in two steps. [`plan`] decides, from each document's [`Outline`] alone (its ids and start
//! time, not its content), which document each independent subsegment goes into; [`compose`] then moves the
//! documents into place. The API sends the plan with the documents ([`Plan::attached_to`]), so that a client
//! composes the trees itself and every document travels once.

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

/// What assembly needs to know of a document: its id, parent, kind and start, and the ids of the subsegments
/// embedded in it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Outline {
    /// `id`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub id: Option<String>,
    /// `parent_id`.
    #[serde(default, deserialize_with = "lenient_string")]
    pub parent_id: Option<String>,
    /// Whether the document has a `type` (an independent subsegment).
    #[serde(default, rename = "type", deserialize_with = "present")]
    pub subsegment: bool,
    /// `start_time`, if a number.
    #[serde(default, deserialize_with = "lenient_number")]
    pub start_time: Option<f64>,
    /// The embedded subsegments, in order.
    #[serde(default, deserialize_with = "lenient_outlines")]
    pub subsegments: Vec<Outline>,
}

fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::String(s) => Some(s),
        _ => None,
    })
}

fn lenient_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(Value::deserialize(d)?.as_f64())
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d)?;
    Ok(true)
}

fn lenient_outlines<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Outline>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(items) => items.iter().map(Outline::of).collect(),
        _ => Vec::new(),
    })
}

impl Outline {
    /// The outline of a document held as a value (anything but an object outlines as nothing).
    pub fn of(value: &Value) -> Outline {
        Outline {
            id: value.get("id").and_then(Value::as_str).map(str::to_owned),
            parent_id: value
                .get("parent_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            subsegment: value.get("type").is_some(),
            start_time: value.get("start_time").and_then(Value::as_f64),
            subsegments: value
                .get("subsegments")
                .and_then(Value::as_array)
                .map(|subs| subs.iter().map(Outline::of).collect())
                .unwrap_or_default(),
        }
    }

    /// The outline of a document's JSON text, read without keeping its content.
    pub fn parse(body: &[u8]) -> Outline {
        serde_json::from_slice(body).unwrap_or_else(|_| {
            serde_json::from_slice::<Value>(body)
                .map(|v| Outline::of(&v))
                .unwrap_or_default()
        })
    }

    fn start(&self) -> f64 {
        self.start_time.unwrap_or(f64::MAX)
    }
}

/// Where each document of a trace goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// For each document, the index of the document it is attached within (under the entity its `parent_id`
    /// names: the document itself or one of its embedded subsegments), or `None` for the roots.
    pub attached_to: Vec<Option<usize>>,
    /// The segments, by start time.
    pub segments: Vec<usize>,
    /// The independent subsegments at the top: those whose parent is not in the trace by start time, then those
    /// in a cycle or past [`MAX_ATTACH_DEPTH`].
    pub orphans: Vec<usize>,
}

struct Planner<'a> {
    outlines: &'a [Outline],
    children: HashMap<&'a str, Vec<usize>>,
    placed: Vec<bool>,
    attached_to: Vec<Option<usize>>,
}

impl<'a> Planner<'a> {
    /// Attaches, under `entity` (in document `host`) and its embedded subsegments, the subsegments that name
    /// them as parent; embedded subsegments first, deepest first, then the entity itself.
    fn attach(&mut self, host: usize, entity: &'a Outline, depth: usize) {
        if depth > MAX_ATTACH_DEPTH {
            return;
        }
        for sub in &entity.subsegments {
            self.attach(host, sub, depth + 1);
        }
        let Some(id) = entity.id.as_deref() else {
            return;
        };
        let Some(indices) = self.children.remove(id) else {
            return;
        };
        for index in indices {
            if !self.placed[index] {
                self.placed[index] = true;
                self.attached_to[index] = Some(host);
                self.attach(index, &self.outlines[index], depth + 1);
            }
        }
    }
}

/// Plans the trees of a trace from its documents' outlines (segments, and independent subsegments with `type`).
///
/// Each document is placed once. A subsegment goes under the first entity, in the order of [`Plan::segments`]
/// then [`Plan::orphans`], whose id is its `parent_id`.
pub fn plan(outlines: &[Outline]) -> Plan {
    let mut planner = Planner {
        outlines,
        children: HashMap::new(),
        placed: vec![false; outlines.len()],
        attached_to: vec![None; outlines.len()],
    };
    let mut segments = Vec::new();
    for (index, outline) in outlines.iter().enumerate() {
        if outline.subsegment {
            if let Some(parent) = outline.parent_id.as_deref() {
                planner.children.entry(parent).or_default().push(index);
            }
        } else {
            segments.push(index);
        }
    }
    segments.sort_by(|&a, &b| outlines[a].start().total_cmp(&outlines[b].start()));
    for &segment in &segments {
        planner.placed[segment] = true;
        planner.attach(segment, &outlines[segment], 0);
    }
    // What is left has no parent among the segments: start from the subsegments whose parent is not left.
    let left: HashSet<&str> = (0..outlines.len())
        .filter(|&i| !planner.placed[i])
        .filter_map(|i| outlines[i].id.as_deref())
        .collect();
    let mut roots: Vec<usize> = (0..outlines.len())
        .filter(|&i| {
            !planner.placed[i]
                && outlines[i]
                    .parent_id
                    .as_deref()
                    .is_none_or(|p| !left.contains(p))
        })
        .collect();
    roots.sort_by(|&a, &b| outlines[a].start().total_cmp(&outlines[b].start()));
    let mut orphans = Vec::new();
    for index in roots {
        if !planner.placed[index] {
            planner.placed[index] = true;
            planner.attach(index, &outlines[index], 0);
            orphans.push(index);
        }
    }
    // Cycles and over-deep chains: listed flat rather than lost.
    orphans.extend((0..outlines.len()).filter(|&i| !planner.placed[i]));
    Plan {
        attached_to: planner.attached_to,
        segments,
        orphans,
    }
}

fn start_of(value: &Value) -> f64 {
    value
        .get("start_time")
        .and_then(Value::as_f64)
        .unwrap_or(f64::MAX)
}

/// Appends each group of `groups` to the `subsegments` of the entity whose id is the group's key, looking at
/// `entity`'s embedded subsegments first (deepest first, as [`plan`] looks) and never into what was appended.
fn place(entity: &mut Value, groups: &mut HashMap<String, Vec<Value>>, depth: usize) {
    if groups.is_empty() || depth > MAX_ATTACH_DEPTH {
        return;
    }
    let Some(obj) = entity.as_object_mut() else {
        return;
    };
    if let Some(Value::Array(embedded)) = obj.get_mut("subsegments") {
        for sub in embedded.iter_mut() {
            place(sub, groups, depth + 1);
        }
    }
    let Some(found) = obj
        .get("id")
        .and_then(Value::as_str)
        .and_then(|id| groups.remove(id))
    else {
        return;
    };
    let subs = obj
        .entry("subsegments")
        .or_insert_with(|| Value::Array(Vec::new()));
    if !subs.is_array() {
        *subs = Value::Array(Vec::new());
    }
    if let Value::Array(subs) = subs {
        subs.extend(found);
        subs.sort_by(|a, b| start_of(a).total_cmp(&start_of(b)));
    }
}

struct Composer {
    slots: Vec<Option<Value>>,
    children: Vec<Vec<usize>>,
    stray: Vec<Value>,
}

impl Composer {
    /// Document `index` with its attached documents in place (each built first), unless it was taken already.
    fn build(&mut self, index: usize, depth: usize) -> Option<Value> {
        let mut doc = self.slots.get_mut(index)?.take()?;
        let mut groups: HashMap<String, Vec<Value>> = HashMap::new();
        for child in std::mem::take(&mut self.children[index]) {
            // A plan deeper than any [`plan`] makes: the rest is left flat.
            if depth > MAX_ATTACH_DEPTH + 1 {
                self.children[index].push(child);
                continue;
            }
            if let Some(value) = self.build(child, depth + 1) {
                let parent = value
                    .get("parent_id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                groups.entry(parent).or_default().push(value);
            }
        }
        place(&mut doc, &mut groups, 0);
        self.stray.extend(groups.into_values().flatten());
        Some(doc)
    }
}

/// Moves the documents into the trees `plan` describes (the plan of these documents' outlines). Documents the
/// plan leaves out, or puts where their parent is not, end among the orphans.
pub fn compose(documents: Vec<Value>, plan: &Plan) -> AssembledTrace {
    let count = documents.len();
    let mut children = vec![Vec::new(); count];
    for (index, host) in plan.attached_to.iter().enumerate().take(count) {
        if let Some(host) = host.filter(|&h| h < count && h != index) {
            children[host].push(index);
        }
    }
    let mut composer = Composer {
        slots: documents.into_iter().map(Some).collect(),
        children,
        stray: Vec::new(),
    };
    let segments: Vec<Value> = plan
        .segments
        .iter()
        .filter_map(|&i| composer.build(i, 0))
        .collect();
    let mut orphans: Vec<Value> = plan
        .orphans
        .iter()
        .filter_map(|&i| composer.build(i, 0))
        .collect();
    orphans.append(&mut composer.stray);
    orphans.extend(composer.slots.into_iter().flatten());
    AssembledTrace { segments, orphans }
}

/// Builds the trees of a trace from its documents (segments, and independent subsegments with `type`):
/// [`plan`] then [`compose`].
///
/// Each document appears once in the result.
pub fn assemble(documents: Vec<Value>) -> AssembledTrace {
    let outlines: Vec<Outline> = documents.iter().map(Outline::of).collect();
    compose(documents, &plan(&outlines))
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
        let outlines: Vec<Outline> = docs.iter().map(Outline::of).collect();
        assert_eq!(
            plan(&outlines),
            Plan {
                attached_to: vec![Some(1), Some(3), Some(3), None],
                segments: vec![3],
                orphans: vec![],
            }
        );
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
    fn outlines_from_text_and_from_values_agree() {
        let doc = json!({"id": "a000000000000001", "trace_id": "1-5759e988-bd862e3fe1be46a994272793",
            "name": "web", "start_time": 1.5, "parent_id": "f000000000000001", "type": "subsegment",
            "metadata": {"big": "x"}, "subsegments": [{"id": "b000000000000001", "start_time": 2,
            "subsegments": [{"id": "c000000000000001"}]}, "junk"]});
        let text = serde_json::to_vec(&doc).unwrap();
        assert_eq!(Outline::parse(&text), Outline::of(&doc));
        assert_eq!(
            Outline::of(&doc).subsegments[0].subsegments[0]
                .id
                .as_deref(),
            Some("c000000000000001")
        );
        assert_eq!(Outline::parse(b"not json"), Outline::default());
        let odd = json!({"id": 5, "start_time": "x", "subsegments": {"id": "z"}});
        assert_eq!(
            Outline::parse(&serde_json::to_vec(&odd).unwrap()),
            Outline::of(&odd)
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
