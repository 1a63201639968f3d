//! Errors recorded on a subsegment and again on its parent: the same error is referenced by id, anything
//! else is recorded in full, with its own type and message.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt;

use serde_json::{Value, json};
use xray_sdk_core::Recorder;
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::sampling::AlwaysSample;

fn recorder(emitter: &MemoryEmitter) -> Recorder {
    Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .service_name("svc")
        .max_trace_back(0)
        .emitter(emitter.clone())
        .build()
        .unwrap()
}

/// An error with a fixed message and an optional source.
#[derive(Debug)]
struct Wrapper {
    message: &'static str,
    source: Option<std::io::Error>,
}

impl fmt::Display for Wrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }
}

impl std::error::Error for Wrapper {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.as_ref().map(|e| e as _)
    }
}

fn not_found() -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::NotFound, "no such file")
}

/// Records `child_error` on a subsegment, then `parent_error` on the segment; returns the segment's
/// document.
fn recorded(
    child_error: &(dyn std::error::Error + 'static),
    parent_error: impl FnOnce() -> Box<dyn std::error::Error + 'static>,
) -> Value {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter);
    let seg = rec.begin_segment("svc");
    {
        let sub = rec.begin_subsegment("load").unwrap();
        sub.add_error_dyn(child_error, None, false);
    }
    seg.entity()
        .add_error_dyn(parent_error().as_ref(), None, false);
    drop(seg);
    let docs = emitter.documents();
    assert_eq!(docs.len(), 1);
    let v = serde_json::to_value(&docs[0]).unwrap();
    xray_sdk_types::validate::validate(&v).unwrap();
    v
}

fn cwd() -> Value {
    json!(std::env::current_dir().unwrap().display().to_string())
}

#[test]
fn the_same_error_propagating_is_referenced_by_id() {
    let error = Wrapper {
        message: "loading config failed",
        source: Some(not_found()),
    };
    let v = recorded(&error, || {
        Box::new(Wrapper {
            message: "loading config failed",
            source: Some(not_found()),
        })
    });
    let child = &v["subsegments"][0]["cause"];
    let ids = [
        child["exceptions"][0]["id"].clone(),
        child["exceptions"][1]["id"].clone(),
    ];
    assert_eq!(
        *child,
        json!({
            "working_directory": cwd(),
            "exceptions": [
                {"id": ids[0], "message": "loading config failed", "type": "Wrapper", "remote": false,
                 "cause": ids[1]},
                {"id": ids[1], "message": "no such file", "type": "Custom", "remote": false},
            ]
        })
    );
    assert_eq!(v["cause"], ids[0]);
}

#[test]
fn a_wrapper_of_a_recorded_error_keeps_its_type_and_message() {
    let v = recorded(&not_found(), || {
        Box::new(Wrapper {
            message: "loading config failed",
            source: Some(not_found()),
        })
    });
    let child = &v["subsegments"][0]["cause"];
    let inner = child["exceptions"][0]["id"].clone();
    assert_eq!(
        *child,
        json!({
            "working_directory": cwd(),
            "exceptions": [
                {"id": inner, "message": "no such file", "type": "Custom", "remote": false},
            ]
        })
    );
    let outer = v["cause"]["exceptions"][0]["id"].clone();
    assert_eq!(
        v["cause"],
        json!({
            "working_directory": cwd(),
            "exceptions": [
                {"id": outer, "message": "loading config failed", "type": "Wrapper", "remote": false,
                 "cause": inner},
            ]
        })
    );
}

#[test]
fn unrelated_errors_with_the_same_message_are_both_recorded() {
    let v = recorded(&not_found(), || {
        Box::new(Wrapper {
            message: "no such file",
            source: None,
        })
    });
    let child = v["subsegments"][0]["cause"]["exceptions"][0]["id"].clone();
    let own = v["cause"]["exceptions"][0]["id"].clone();
    assert_ne!(own, child);
    assert_eq!(
        v["cause"],
        json!({
            "working_directory": cwd(),
            "exceptions": [
                {"id": own, "message": "no such file", "type": "Wrapper", "remote": false},
            ]
        })
    );
}
