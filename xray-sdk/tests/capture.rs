//! `#[capture]` on functions, methods and async functions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use serde_json::json;
use xray_sdk::config::MapEnv;
use xray_sdk::emitter::MemoryEmitter;
use xray_sdk::sampling::AlwaysSample;
use xray_sdk::{Recorder, capture, context};

#[derive(Debug)]
struct NotFound;

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("user not found")
    }
}
impl std::error::Error for NotFound {}

#[capture]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[capture("lookup user")]
fn lookup(id: u32) -> Result<String, NotFound> {
    if id == 0 {
        return Err(NotFound);
    }
    let parsed: u32 = "7".parse().map_err(|_| NotFound)?;
    Ok(format!("user{}", id + parsed))
}

#[capture(name = "string error")]
fn string_error() -> Result<(), String> {
    Err("plain text failure".to_owned())
}

#[capture]
fn explode() {
    panic!("kaboom");
}

struct Store {
    prefix: &'static str,
}

impl Store {
    #[capture]
    fn key(&self, id: u32) -> String {
        format!("{}{}", self.prefix, id)
    }

    #[capture]
    async fn load(&self, id: u32) -> Result<String, NotFound> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        let inner = add(id, 1);
        if inner > 100 {
            Err(NotFound)
        } else {
            Ok(self.key(inner))
        }
    }
}

fn recorder(emitter: &MemoryEmitter) -> Recorder {
    Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .emitter(emitter.clone())
        .build()
        .unwrap()
}

#[test]
fn sync_functions_become_subsegments() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter);
    {
        let _seg = rec.begin_segment("svc");
        assert_eq!(add(1, 2), 3);
        assert_eq!(lookup(1).unwrap(), "user8");
        assert!(lookup(0).is_err());
        assert!(string_error().is_err());
        assert!(std::panic::catch_unwind(explode).is_err());
        assert_eq!(Store { prefix: "k" }.key(5), "k5");
    }
    let doc = serde_json::to_value(&emitter.documents()[0]).unwrap();
    let subs = doc["subsegments"].as_array().unwrap();
    let names: Vec<&str> = subs.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "add",
            "lookup user",
            "lookup user",
            "string error",
            "explode",
            "key"
        ]
    );
    assert_eq!(subs[0].get("fault"), None);
    assert_eq!(subs[1].get("cause"), None);
    assert_eq!(subs[2]["fault"], json!(true));
    assert_eq!(subs[2]["cause"]["exceptions"][0]["type"], json!("NotFound"));
    assert_eq!(
        subs[2]["cause"]["exceptions"][0]["message"],
        json!("user not found")
    );
    assert_eq!(
        subs[3]["cause"]["exceptions"][0]["message"],
        json!("plain text failure")
    );
    assert_eq!(subs[3]["cause"]["exceptions"][0]["type"], json!("String"));
    assert_eq!(subs[4]["cause"]["exceptions"][0]["type"], json!("panic"));
    assert_eq!(
        subs[4]["cause"]["exceptions"][0]["message"],
        json!("kaboom")
    );
    xray_sdk::types::validate::validate(&doc).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_functions_and_methods_become_subsegments() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter);
    let segment = rec.segment("async").begin_detached();
    let store = Store { prefix: "id-" };
    let (a, b) = {
        use xray_sdk::FutureExt;
        async { (store.load(1).await, store.load(500).await) }
            .in_entity(segment.entity().clone())
            .await
    };
    assert_eq!(a.unwrap(), "id-2");
    assert!(b.is_err());
    assert!(context::current().is_none());
    segment.end();
    let doc = serde_json::to_value(&emitter.documents()[0]).unwrap();
    let subs = doc["subsegments"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0]["name"], json!("load"));
    let inner: Vec<&str> = subs[0]["subsegments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(inner, ["add", "key"]);
    assert_eq!(subs[1]["fault"], json!(true));
    assert_eq!(subs[1]["subsegments"][0]["name"], json!("add"));
}

#[test]
fn without_a_segment_the_function_still_runs() {
    assert_eq!(add(2, 2), 4);
    assert!(context::current().is_none());
}
