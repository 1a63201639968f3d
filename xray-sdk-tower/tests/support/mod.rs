//! What the HTTP integration tests share: a recorder writing to memory, a sampler that remembers what it was asked,
//! and validation of every document against the official schema.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use serde_json::Value;
use xray_sdk_core::Recorder;
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::sampling::{Sampler, SamplingDecision, SamplingRequest};
use xray_sdk_types::Document;

/// Checks a document against the schema and the rules the schema leaves out, and returns it as JSON.
pub fn checked(doc: &Document) -> Value {
    let value = serde_json::to_value(doc).unwrap();
    xray_sdk_testdata::assert_schema_valid(&value);
    xray_sdk_types::validate::validate(&value).unwrap_or_else(|e| panic!("{e} in {value}"));
    value
}

/// What a sampler was asked: host, method, path.
pub type Asked = Arc<Mutex<Vec<(Option<String>, Option<String>, Option<String>)>>>;

/// A sampler that remembers every request and answers `sampled`.
#[derive(Debug, Clone)]
pub struct RecordingSampler {
    pub sampled: bool,
    pub asked: Asked,
}

impl Sampler for RecordingSampler {
    fn should_sample(&self, r: &SamplingRequest<'_>) -> SamplingDecision {
        self.asked.lock().unwrap().push((
            r.host.map(str::to_owned),
            r.method.map(str::to_owned),
            r.url_path.map(str::to_owned),
        ));
        SamplingDecision {
            sampled: self.sampled,
            rule_name: None,
        }
    }
}

/// A recorder named `svc` writing to a fresh in-memory emitter, with a sampler answering `sampled`.
pub fn recorder(sampled: bool) -> (Recorder, MemoryEmitter, Asked) {
    let emitter = MemoryEmitter::new();
    let asked = Asked::default();
    let recorder = Recorder::builder()
        .env(MapEnv::default())
        .service_name("svc")
        .emitter(emitter.clone())
        .sampler(RecordingSampler {
            sampled,
            asked: asked.clone(),
        })
        .build()
        .unwrap();
    (recorder, emitter, asked)
}

/// Waits until the emitter holds `n` documents (failing after 10 s rather than hanging), and takes them, each
/// checked; there must be exactly `n`.
pub async fn documents(emitter: &MemoryEmitter, n: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while emitter.documents().len() < n && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let docs = emitter.take();
    assert_eq!(docs.len(), n, "documents: {docs:#?}");
    docs.iter().map(checked).collect()
}
