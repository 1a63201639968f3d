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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_and_roll_back() {
    let (recorder, emitter) = recorder(true);
    let mut client = client(&recorder).await;
    client
        .client()
        .batch_execute(
            "DROP TABLE IF EXISTS xray_tpg_tx; CREATE TABLE xray_tpg_tx (id INT PRIMARY KEY, name TEXT)",
        )
        .await
        .unwrap();
    let sql = client.endpoint().sql().clone();
    let ((), segment) = in_segment(&recorder, &emitter, "tokio-postgres", async {
        let tx = client.transaction().await.unwrap();
        let insert = tx
            .prepare("INSERT INTO xray_tpg_tx (id, name) VALUES ($1, $2)")
            .await
            .unwrap();
        for (id, name) in [(1_i32, "bound-ada"), (2, "bound-grace")] {
            assert_eq!(tx.execute(&insert, &[&id, &name]).await.unwrap(), 1);
        }
        tx.commit().await.unwrap();

        let tx = client.transaction().await.unwrap();
        tx.execute("DELETE FROM xray_tpg_tx", &[]).await.unwrap();
        let err = tx
            .execute("INSERT INTO xray_tpg_tx (id) VALUES ($1)", &[&"x"])
            .await;
        assert!(
            err.is_err(),
            "a text is not an INT: refused before it is sent"
        );
        tx.rollback().await.unwrap();

        let row = client
            .query_one("SELECT count(*) FROM xray_tpg_tx", &[])
            .await
            .unwrap();
        assert_eq!(row.get::<_, i64>(0), 2, "the rollback kept both rows");
    })
    .await;
    let sql = serde_json::to_value(sql).unwrap();
    let q = |text: &str| with_query(&sql, text);
    let subsegments = subsegments(&segment);
    let insert = "INSERT INTO xray_tpg_tx (id, name) VALUES ($1, $2)";
    assert_eq!(
        subsegments[..6],
        vec![
            ok(NAME, q("BEGIN")),
            ok(NAME, q(insert)),
            ok(NAME, q(insert)),
            ok(NAME, q(insert)),
            ok(NAME, q("COMMIT")),
            ok(NAME, q("BEGIN")),
        ]
    );
    assert_eq!(subsegments[6], ok(NAME, q("DELETE FROM xray_tpg_tx")));
    assert_eq!(
        subsegments[7]["sql"]["sanitized_query"],
        "INSERT INTO xray_tpg_tx (id) VALUES ($1)"
    );
    assert_eq!(subsegments[7]["fault"], true, "{}", subsegments[7]);
    assert_eq!(
        subsegments[8..],
        vec![
            ok(NAME, q("ROLLBACK")),
            ok(NAME, q("SELECT count(*) FROM xray_tpg_tx")),
        ]
    );
    assert_absent(&emitter, &[PG_PASSWORD, "bound-ada", "bound-grace"]);
}
