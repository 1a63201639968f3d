//! What the SQL tests share: a recorder writing to memory, traced work inside one segment, schema validation, and
//! subsegments reduced to what does not change between runs.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;

use serde_json::{Value, json};
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::sampling::AlwaysSample;
use xray_sdk_core::{FutureExt, Recorder};
use xray_sdk_types::Document;

/// PostgreSQL with a password in the URL: the server trusts loopback connections and ignores it, and no document
/// may show it.
pub const POSTGRES_URL: &str = "postgres://postgres:pg-secret-pw@127.0.0.1:5432/test";
/// The password the tests put in URLs; never in a document.
pub const PG_PASSWORD: &str = "pg-secret-pw";
/// MariaDB as root, without password.
pub const MYSQL_ROOT_URL: &str = "mysql://root@127.0.0.1:3306/test";

/// Checks a document against the schema and the rules the schema leaves out, and returns it as JSON.
pub fn checked(doc: &Document) -> Value {
    let value = serde_json::to_value(doc).unwrap();
    xray_sdk_testdata::assert_schema_valid(&value);
    xray_sdk_types::validate::validate(&value).unwrap_or_else(|e| panic!("{e} in {value}"));
    value
}

/// A recorder named `svc` sampling everything, writing to a fresh in-memory emitter.
pub fn recorder(stream_sql: bool) -> (Recorder, MemoryEmitter) {
    let emitter = MemoryEmitter::new();
    let recorder = Recorder::builder()
        .env(MapEnv::default())
        .service_name("svc")
        .emitter(emitter.clone())
        .sampler(AlwaysSample)
        .stream_sql(stream_sql)
        .build()
        .unwrap();
    (recorder, emitter)
}

/// Runs `work` inside a segment named `name` and returns the segment's document, checked, taken from the
/// emitter among the others (other segments may end meanwhile).
pub async fn in_segment<F: Future>(
    recorder: &Recorder,
    emitter: &MemoryEmitter,
    name: &str,
    work: F,
) -> (F::Output, Value) {
    let segment = recorder.segment(name).begin_detached();
    let entity = segment.entity().clone();
    let id = entity.id().to_string();
    let output = work.in_entity(entity).await;
    segment.end();
    for _ in 0..200 {
        if let Some(doc) = emitter
            .documents()
            .iter()
            .find(|d| serde_json::to_value(d).unwrap()["id"] == id.as_str())
        {
            return (output, checked(doc));
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("segment {name} was not emitted: {:#?}", emitter.documents());
}

/// The segment's subsegments, each without what changes between runs (ids, times, the working directory), and
/// with each checked to belong to `segment`.
pub fn subsegments(segment: &Value) -> Vec<Value> {
    let subs = segment["subsegments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    subs.into_iter()
        .map(|mut s| {
            let obj = s.as_object_mut().unwrap();
            assert!(obj.remove("id").is_some());
            assert_eq!(obj.remove("parent_id").unwrap(), segment["id"]);
            let start = obj.remove("start_time").unwrap().as_f64().unwrap();
            let end = obj.remove("end_time").unwrap().as_f64().unwrap();
            assert!(end >= start, "{start} {end}");
            if let Some(cause) = obj.get_mut("cause") {
                let cause = cause.as_object_mut().unwrap();
                cause.remove("working_directory");
                for e in cause["exceptions"].as_array_mut().unwrap() {
                    assert!(e.as_object_mut().unwrap().remove("id").is_some());
                }
            }
            s
        })
        .collect()
}

/// A subsegment as recorded for a statement that succeeded.
pub fn ok(name: &str, sql: Value) -> Value {
    json!({ "name": name, "namespace": "remote", "type": "subsegment", "sql": sql })
}

/// A subsegment as recorded for a statement the database refused with `code` and `message`: a fault, or an
/// error for a constraint violation.
pub fn failed(name: &str, sql: Value, code: &str, message: &str, constraint: bool) -> Value {
    let flag = if constraint { "error" } else { "fault" };
    json!({
        "name": name,
        "namespace": "remote",
        "type": "subsegment",
        "sql": sql,
        flag: true,
        "cause": { "exceptions": [ { "message": message, "type": code, "remote": true } ] },
    })
}

/// `sql` with `sanitized_query` and `preparation` added.
pub fn with_query(sql: &Value, query: &str) -> Value {
    let mut sql = sql.clone();
    sql["sanitized_query"] = json!(query);
    sql["preparation"] = json!("statement");
    sql
}

/// Asserts that no document the emitter holds contains any of `secrets`.
pub fn assert_absent(emitter: &MemoryEmitter, secrets: &[&str]) {
    let all = serde_json::to_string(&emitter.documents()).unwrap();
    for secret in secrets {
        assert!(!all.contains(secret), "{secret} found in {all}");
    }
}
