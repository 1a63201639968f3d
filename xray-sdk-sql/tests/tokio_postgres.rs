//! tokio-postgres on a real PostgreSQL (127.0.0.1:5432, trust authentication, database `test`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::*;
use xray_sdk_core::Recorder;
use xray_sdk_sql::tokio_postgres::XrayPgClient;

const NAME: &str = "test@127.0.0.1";

async fn client(recorder: &Recorder) -> XrayPgClient {
    let config: tokio_postgres::Config = POSTGRES_URL.parse().unwrap();
    let (client, connection) = config
        .connect(tokio_postgres::NoTls)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (run .ci/install-deps)");
    tokio::spawn(connection);
    XrayPgClient::new(client, &config)
        .await
        .with_recorder(recorder.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_prepared_statements_and_errors() {
    let (recorder, emitter) = recorder(true);
    let client = client(&recorder).await;
    let version: String = client
        .client()
        .query_one("SHOW server_version", &[])
        .await
        .unwrap()
        .get(0);
    let sql = json!({
        "url": "postgres://postgres@127.0.0.1:5432/test",
        "database_type": "PostgreSQL",
        "database_version": version,
        "driver_version": "tokio-postgres 0.7",
        "user": "postgres",
    });
    let ((), segment) = in_segment(&recorder, &emitter, "tokio-postgres", async {
        client
            .batch_execute("DROP TABLE IF EXISTS xray_tpg_items; CREATE TABLE xray_tpg_items (id INT PRIMARY KEY, name TEXT)")
            .await
            .unwrap();
        let n = client
            .execute("INSERT INTO xray_tpg_items (id, name) VALUES ($1, $2)", &[&1_i32, &"bound-secret"])
            .await
            .unwrap();
        assert_eq!(n, 1);
        let select = client.prepare("SELECT name FROM xray_tpg_items WHERE id = $1").await.unwrap();
        let row = client.query_one(&select, &[&1_i32]).await.unwrap();
        assert_eq!(row.get::<_, String>(0), "bound-secret");
        assert!(client.query_opt(&select, &[&2_i32]).await.unwrap().is_none());
        let err = client.query("SELEC 1", &[]).await.unwrap_err();
        assert_eq!(err.code().unwrap().code(), "42601");
    })
    .await;
    let q = |text: &str| with_query(&sql, text);
    assert_eq!(
        subsegments(&segment),
        vec![
            ok(
                NAME,
                q(
                    "DROP TABLE IF EXISTS xray_tpg_items; CREATE TABLE xray_tpg_items (id INT PRIMARY KEY, name TEXT)"
                )
            ),
            ok(
                NAME,
                q("INSERT INTO xray_tpg_items (id, name) VALUES ($1, $2)")
            ),
            ok(NAME, q("SELECT name FROM xray_tpg_items WHERE id = $1")),
            ok(NAME, q("SELECT name FROM xray_tpg_items WHERE id = $1")),
            ok(NAME, q("SELECT name FROM xray_tpg_items WHERE id = $1")),
            failed(
                NAME,
                q("SELEC 1"),
                "42601",
                "syntax error at or near \"SELEC\"",
                false
            ),
        ]
    );
    assert_absent(&emitter, &[PG_PASSWORD, "bound-secret"]);
}
