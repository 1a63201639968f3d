//! diesel's process-wide hook: every connection established afterwards is traced with the global recorder, and
//! named after the URL it was established with.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use diesel::connection::{Connection, SimpleConnection};
use diesel::sqlite::SqliteConnection;
use serde_json::json;
use support::*;
use xray_sdk_sql::diesel::XrayDieselInstrumentation;

#[tokio::test]
async fn every_new_connection_is_traced() {
    let (recorder, emitter) = recorder(true);
    let _flush = xray_sdk_core::install(recorder.clone()).unwrap();
    XrayDieselInstrumentation::install_default().unwrap();
    let dir = std::env::temp_dir().join(format!("xray-diesel-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("shop.db");
    let path = path.to_str().unwrap();
    let mut conn = SqliteConnection::establish(path).unwrap();
    let ((), segment) = in_segment(&recorder, &emitter, "default", async {
        conn.batch_execute("CREATE TABLE IF NOT EXISTS t (id INTEGER)")
            .unwrap();
    })
    .await;
    let sql = json!({
        "url": format!("sqlite://{path}"),
        "database_type": "SQLite",
        "driver_version": "diesel 2",
    });
    assert_eq!(
        subsegments(&segment),
        vec![ok(
            "shop.db",
            with_query(&sql, "CREATE TABLE IF NOT EXISTS t (id INTEGER)")
        )]
    );
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}
