//! diesel's instrumentation hook, on diesel's SQLite backend (the bundled SQLite that rusqlite and sqlx use).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use diesel::connection::{Connection, SimpleConnection};
use diesel::sql_types::{Integer, Text};
use diesel::sqlite::SqliteConnection;
use diesel::{QueryableByName, RunQueryDsl};
use serde_json::json;
use support::*;
use xray_sdk_sql::diesel::XrayDieselInstrumentation;

#[derive(QueryableByName, Debug)]
struct Named {
    #[diesel(sql_type = Text)]
    name: String,
}

#[tokio::test]
async fn queries_transactions_and_errors() {
    let (recorder, emitter) = recorder(true);
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    conn.set_instrumentation(
        XrayDieselInstrumentation::new()
            .url(":memory:")
            .database_version(rusqlite::version())
            .with_recorder(recorder.clone()),
    );
    let sql = json!({
        "url": "sqlite::memory:",
        "database_type": "SQLite",
        "database_version": rusqlite::version(),
        "driver_version": "diesel 2",
    });
    let ((), segment) = in_segment(&recorder, &emitter, "diesel", async {
        conn.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .unwrap();
        conn.transaction(|conn| {
            diesel::sql_query("INSERT INTO t (id, name) VALUES (?, ?)")
                .bind::<Integer, _>(1)
                .bind::<Text, _>("bound-secret")
                .execute(conn)
        })
        .unwrap();
        let rows: Vec<Named> = diesel::sql_query("SELECT name FROM t WHERE id = ?")
            .bind::<Integer, _>(1)
            .load(&mut conn)
            .unwrap();
        assert_eq!(rows[0].name, "bound-secret");
        diesel::sql_query("SELEC 1").execute(&mut conn).unwrap_err();
    })
    .await;
    let q = |text: &str| with_query(&sql, text);
    assert_eq!(
        subsegments(&segment),
        vec![
            ok(
                ":memory:",
                q("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            ),
            ok(":memory:", q("BEGIN")),
            ok(":memory:", q("INSERT INTO t (id, name) VALUES (?, ?)")),
            ok(":memory:", q("COMMIT")),
            ok(":memory:", q("SELECT name FROM t WHERE id = ?")),
            failed(
                ":memory:",
                q("SELEC 1"),
                "Unknown",
                "near \"SELEC\": syntax error",
                false
            ),
        ]
    );
    assert_absent(&emitter, &["bound-secret"]);
}
