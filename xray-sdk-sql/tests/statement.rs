//! The driver-neutral statement subsegment: what every integration records, without a database.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::*;
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::sampling::NeverSample;
use xray_sdk_core::{FutureExt, Recorder};
use xray_sdk_sql::{Preparation, XraySqlEndpoint, XraySqlError, XraySqlSubsegment};

fn endpoint() -> XraySqlEndpoint {
    XraySqlEndpoint::new("PostgreSQL", "my-driver 1")
        .server_url("postgresql://svc:hunter2@db.example.com:6432/shop?password=hunter3")
        .database_version("16.1")
}

#[tokio::test]
async fn calls_cancellations_and_errors() {
    let (recorder, emitter) = recorder(true);
    let e = endpoint();
    let ((), segment) = in_segment(&recorder, &emitter, "neutral", async {
        let call = XraySqlSubsegment::begin(&recorder, &e).unwrap();
        call.statement("CALL restock($1)", Preparation::of("CALL restock($1)"));
        call.finish();
        let cancelled = XraySqlSubsegment::begin(&recorder, &e).unwrap();
        cancelled.statement("SELECT pg_sleep($1)", Preparation::Statement);
        drop(cancelled);
        let io = XraySqlSubsegment::begin(&recorder, &e).unwrap();
        io.finish_error(
            &std::io::Error::other("connection reset"),
            Some("io::Error"),
        );
        let refused = XraySqlSubsegment::begin(&recorder, &e).unwrap();
        refused.finish_database_error(XraySqlError::sqlstate(
            Some("23503"),
            "violates foreign key",
        ));
    })
    .await;
    let sql = json!({
        "url": "postgresql://svc@db.example.com:6432/shop",
        "database_type": "PostgreSQL",
        "database_version": "16.1",
        "driver_version": "my-driver 1",
        "user": "svc",
    });
    let mut call = sql.clone();
    call["preparation"] = json!("call");
    call["sanitized_query"] = json!("CALL restock($1)");
    let mut cancelled = ok(
        "shop@db.example.com",
        with_query(&sql, "SELECT pg_sleep($1)"),
    );
    cancelled["fault"] = json!(true);
    cancelled["metadata"] = json!({ "xray": { "cancelled": true } });
    let subs = subsegments(&segment);
    assert_eq!(subs[0], ok("shop@db.example.com", call));
    assert_eq!(subs[1], cancelled);
    assert_eq!(subs[2]["fault"], json!(true));
    assert_eq!(
        subs[2]["cause"]["exceptions"][0]["message"],
        json!("connection reset")
    );
    assert_eq!(
        subs[3],
        failed(
            "shop@db.example.com",
            sql.clone(),
            "23503",
            "violates foreign key",
            true
        )
    );
    assert_eq!(subs.len(), 4);
    assert_absent(&emitter, &["hunter2", "hunter3"]);
}

#[test]
fn nothing_is_recorded_outside_a_segment_or_when_unsampled() {
    let (recorder, emitter) = recorder(true);
    assert!(XraySqlSubsegment::begin(&recorder, &endpoint()).is_none());
    let unsampled = Recorder::builder()
        .env(MapEnv::default())
        .emitter(MemoryEmitter::new())
        .sampler(NeverSample)
        .build()
        .unwrap();
    let segment = unsampled.segment("quiet").begin_detached();
    let span = async { XraySqlSubsegment::begin(&unsampled, &endpoint()).is_none() };
    let none = futures_executor_block_on(span.in_entity(segment.entity().clone()));
    assert!(none);
    assert!(emitter.documents().is_empty());
}

fn futures_executor_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}
