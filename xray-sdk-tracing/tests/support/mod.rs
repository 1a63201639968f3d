//! What the bridge's tests share: a recorder writing to memory, subscribers with the layer, and documents
//! checked against the schema and reduced to what a test can compare exactly.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io;
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value};
use tracing_subscriber::layer::SubscriberExt;
use xray_sdk_core::Recorder;
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::sampling::{Sampler, SamplingDecision, SamplingRequest};
use xray_sdk_tracing::XrayLayer;
use xray_sdk_types::Document;

/// Checks a document against the schema and the rules the schema leaves out, and returns it as JSON.
pub fn checked(doc: &Document) -> Value {
    let value = serde_json::to_value(doc).unwrap();
    xray_sdk_testdata::assert_schema_valid(&value);
    xray_sdk_types::validate::validate(&value).unwrap_or_else(|e| panic!("{e} in {value}"));
    value
}

/// A sampler that answers `sampled` and counts how often it was asked.
#[derive(Debug, Clone)]
pub struct FixedSampler {
    pub sampled: bool,
    pub asked: Arc<Mutex<Vec<String>>>,
}

impl Sampler for FixedSampler {
    fn should_sample(&self, r: &SamplingRequest<'_>) -> SamplingDecision {
        self.asked.lock().unwrap().push(r.service_name.to_string());
        SamplingDecision {
            sampled: self.sampled,
            rule_name: None,
        }
    }
}

/// A recorder named `svc` writing to a fresh in-memory emitter, whose sampler answers `sampled`.
pub fn recorder(sampled: bool) -> (Recorder, MemoryEmitter) {
    let (recorder, emitter, _) = recorder_asked(sampled);
    (recorder, emitter)
}

/// [`recorder`], with what its sampler was asked.
pub fn recorder_asked(sampled: bool) -> (Recorder, MemoryEmitter, Arc<Mutex<Vec<String>>>) {
    let emitter = MemoryEmitter::new();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let recorder = Recorder::builder()
        .env(MapEnv::default())
        .service_name("svc")
        .emitter(emitter.clone())
        .sampler(FixedSampler {
            sampled,
            asked: asked.clone(),
        })
        .build()
        .unwrap();
    (recorder, emitter, asked)
}

/// A subscriber of the registry and `layer`.
pub fn subscriber(layer: XrayLayer) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(layer)
}

/// The documents sent so far, each checked, as one reduced tree per segment (see [`shape`]).
pub fn shapes(emitter: &MemoryEmitter) -> Vec<Value> {
    emitter
        .take()
        .iter()
        .map(|d| shape(&checked(d), None))
        .collect()
}

/// A document reduced to what is the same on every run: ids, trace ids and times are checked (a child's
/// `parent_id` is its parent's id and its `type` is `subsegment`, a child starts and ends within its parent) and removed, exceptions' ids
/// and causes become their messages, the working directory is removed, and subsegments are sorted by name.
pub fn shape(doc: &Value, parent: Option<&Value>) -> Value {
    shape_with(doc, parent, true)
}

/// [`shape`], where children may end after their parent when `ends_within` is false (a span that outlives the
/// X-Ray entity it began under, such as tower-http's, which lasts until the response body is sent).
pub fn shape_with(doc: &Value, parent: Option<&Value>, ends_within: bool) -> Value {
    let mut doc = doc.as_object().unwrap().clone();
    let id = doc.remove("id").unwrap();
    let start = doc.remove("start_time").unwrap().as_f64().unwrap();
    let end = doc.remove("end_time").unwrap().as_f64().unwrap();
    assert!(start <= end, "{doc:?}");
    doc.remove("trace_id");
    if let Some(parent) = parent {
        assert_eq!(doc.remove("parent_id").as_ref(), Some(&parent["id"]));
        assert_eq!(doc.remove("type"), Some(Value::from("subsegment")));
        assert!(parent["start_time"].as_f64().unwrap() <= start);
        assert!(!ends_within || end <= parent["end_time"].as_f64().unwrap());
    }
    doc.remove("aws");
    doc.remove("service");
    if let Some(Value::Object(cause)) = doc.get_mut("cause") {
        cause.remove("working_directory");
        let exceptions = cause["exceptions"].as_array().unwrap().clone();
        let message_of = |id: &Value| {
            exceptions
                .iter()
                .find(|e| e["id"] == *id)
                .map(|e| e["message"].clone())
                .unwrap()
        };
        let reduced: Vec<Value> = exceptions
            .iter()
            .map(|e| {
                let mut e = e.as_object().unwrap().clone();
                e.remove("id");
                if let Some(cause) = e.remove("cause") {
                    e.insert("cause".into(), message_of(&cause));
                }
                Value::Object(e)
            })
            .collect();
        cause.insert("exceptions".into(), Value::Array(reduced));
    }
    let full = Value::Object({
        let mut m = doc.clone();
        m.insert("id".into(), id);
        m.insert("start_time".into(), start.into());
        m.insert("end_time".into(), end.into());
        m
    });
    if let Some(Value::Array(subs)) = doc.remove("subsegments") {
        let mut subs: Vec<Value> = subs
            .iter()
            .map(|s| shape_with(s, Some(&full), ends_within))
            .collect();
        subs.sort_by_key(|s| s.to_string());
        doc.insert("subsegments".into(), Value::Array(subs));
    }
    Value::Object(doc)
}

/// An object from pairs, for expected shapes.
pub fn obj(pairs: &[(&str, Value)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect::<Map<_, _>>(),
    )
}

/// A writer of log lines into a shared buffer, for `fmt` layers under test.
#[derive(Debug, Clone, Default)]
pub struct Lines(pub Arc<Mutex<Vec<u8>>>);

impl Lines {
    /// The lines written so far.
    pub fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
    type Writer = Lines;

    fn make_writer(&'a self) -> Lines {
        self.clone()
    }
}
