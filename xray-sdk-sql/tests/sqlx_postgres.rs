//! sqlx on a real PostgreSQL (127.0.0.1:5432, trust authentication, database `test`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use sqlx::{Postgres, Row};
use support::*;
use xray_sdk_core::Recorder;
use xray_sdk_sql::sqlx::XraySqlxPool;

const NAME: &str = "test@127.0.0.1";

async fn pool(recorder: &Recorder) -> XraySqlxPool<Postgres> {
    XraySqlxPool::<Postgres>::connect(POSTGRES_URL)
        .await
        .expect("PostgreSQL on 127.0.0.1:5432 (run .ci/install-deps)")
        .with_recorder(recorder.clone())
}

async fn server_version() -> String {
    let pool = sqlx::PgPool::connect(POSTGRES_URL).await.unwrap();
    sqlx::query_scalar("SHOW server_version")
        .fetch_one(&pool)
        .await
        .unwrap()
}

async fn endpoint_sql() -> Value {
    json!({
        "url": "postgres://postgres@127.0.0.1:5432/test",
        "database_type": "PostgreSQL",
        "database_version": server_version().await,
        "driver_version": "sqlx 0.9",
        "user": "postgres",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_errors_and_bound_values() {
    let (recorder, emitter) = recorder(true);
    let pool = pool(&recorder).await;
    let sql = endpoint_sql().await;
    let ((), segment) = in_segment(&recorder, &emitter, "statements", async {
        sqlx::query("DROP TABLE IF EXISTS xray_sqlx_pg_items")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE xray_sqlx_pg_items (id INT PRIMARY KEY, name TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO xray_sqlx_pg_items (id, name) VALUES ($1, $2)")
            .bind(1)
            .bind("bound-value-never-recorded")
            .execute(&pool)
            .await
            .unwrap();
        let row = sqlx::query("SELECT name FROM xray_sqlx_pg_items WHERE id = $1")
            .bind(1)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>(0), "bound-value-never-recorded");
        let missing = sqlx::query("SELECT name FROM xray_sqlx_pg_items WHERE id = $1")
            .bind(2)
            .fetch_optional(&pool)
            .await
            .unwrap();
        assert!(missing.is_none());
        let syntax = sqlx::query("SELEC 1").execute(&pool).await.unwrap_err();
        assert_eq!(syntax.as_database_error().unwrap().code().unwrap(), "42601");
        let duplicate = sqlx::query("INSERT INTO xray_sqlx_pg_items (id, name) VALUES ($1, $2)")
            .bind(1)
            .bind("other")
            .execute(&pool)
            .await
            .unwrap_err();
        assert!(duplicate.as_database_error().unwrap().is_unique_violation());
        let rows = sqlx::query("SELECT id FROM xray_sqlx_pg_items")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert_eq!(rows.len(), 1);
    })
    .await;
    let q = |text: &str| with_query(&sql, text);
    assert_eq!(
        subsegments(&segment),
        vec![
            ok(NAME, q("DROP TABLE IF EXISTS xray_sqlx_pg_items")),
            ok(
                NAME,
                q("CREATE TABLE xray_sqlx_pg_items (id INT PRIMARY KEY, name TEXT NOT NULL)")
            ),
            ok(
                NAME,
                q("INSERT INTO xray_sqlx_pg_items (id, name) VALUES ($1, $2)")
            ),
            ok(NAME, q("SELECT name FROM xray_sqlx_pg_items WHERE id = $1")),
            ok(NAME, q("SELECT name FROM xray_sqlx_pg_items WHERE id = $1")),
            failed(
                NAME,
                q("SELEC 1"),
                "42601",
                "syntax error at or near \"SELEC\"",
                false
            ),
            failed(
                NAME,
                q("INSERT INTO xray_sqlx_pg_items (id, name) VALUES ($1, $2)"),
                "23505",
                "duplicate key value violates unique constraint \"xray_sqlx_pg_items_pkey\"",
                true,
            ),
            ok(NAME, q("SELECT id FROM xray_sqlx_pg_items")),
        ]
    );
    assert_absent(
        &emitter,
        &[PG_PASSWORD, "bound-value-never-recorded", "other"],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transactions_commit_and_roll_back() {
    let (recorder, emitter) = recorder(true);
    let pool = pool(&recorder).await;
    let sql = endpoint_sql().await;
    sqlx::query("DROP TABLE IF EXISTS xray_sqlx_pg_tx")
        .execute(pool.pool())
        .await
        .unwrap();
    sqlx::query("CREATE TABLE xray_sqlx_pg_tx (id INT PRIMARY KEY)")
        .execute(pool.pool())
        .await
        .unwrap();
    let ((), segment) = in_segment(&recorder, &emitter, "transactions", async {
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO xray_sqlx_pg_tx (id) VALUES ($1)")
            .bind(1)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO xray_sqlx_pg_tx (id) VALUES ($1)")
            .bind(2)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.rollback().await.unwrap();
        let mut conn = pool.acquire().await.unwrap();
        let ids: Vec<i32> = sqlx::query_scalar("SELECT id FROM xray_sqlx_pg_tx ORDER BY id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        assert_eq!(ids, vec![1]);
    })
    .await;
    let q = |text: &str| with_query(&sql, text);
    assert_eq!(
        subsegments(&segment),
        vec![
            ok(NAME, q("BEGIN")),
            ok(NAME, q("INSERT INTO xray_sqlx_pg_tx (id) VALUES ($1)")),
            ok(NAME, q("COMMIT")),
            ok(NAME, q("BEGIN")),
            ok(NAME, q("INSERT INTO xray_sqlx_pg_tx (id) VALUES ($1)")),
            ok(NAME, q("ROLLBACK")),
            ok(NAME, q("SELECT id FROM xray_sqlx_pg_tx ORDER BY id")),
        ]
    );
}

/// Many tasks share one pool, each under a segment of its own: every segment holds its own statement only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_keep_their_statements() {
    let (recorder, emitter) = recorder(true);
    let pool = pool(&recorder).await;
    let sql = endpoint_sql().await;
    let tasks: Vec<_> = (0..24)
        .map(|i| {
            let (recorder, emitter, pool) = (recorder.clone(), emitter.clone(), pool.clone());
            tokio::spawn(async move {
                let name = format!("task-{i}");
                let query = format!("SELECT $1::int4 + {i} AS task_{i}, pg_sleep(0.01)::text");
                let (n, segment) = in_segment(&recorder, &emitter, &name, async {
                    let row = sqlx::query(sqlx::AssertSqlSafe(query.clone()))
                        .bind(100)
                        .fetch_one(&pool)
                        .await
                        .unwrap();
                    row.get::<i32, _>(0)
                })
                .await;
                assert_eq!(n, 100 + i);
                (segment, query)
            })
        })
        .collect();
    for task in tasks {
        let (segment, query) = task.await.unwrap();
        assert_eq!(
            subsegments(&segment),
            vec![ok(NAME, with_query(&sql, &query))]
        );
    }
    assert_eq!(emitter.documents().len(), 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_sql_off_records_no_query() {
    let (recorder, emitter) = recorder(false);
    let pool = pool(&recorder).await;
    let mut sql = endpoint_sql().await;
    let ((), segment) = in_segment(&recorder, &emitter, "quiet", async {
        sqlx::query("SELECT $1::text")
            .bind("x")
            .fetch_one(&pool)
            .await
            .unwrap();
    })
    .await;
    sql["preparation"] = json!("statement");
    assert_eq!(subsegments(&segment), vec![ok(NAME, sql)]);
    assert_absent(&emitter, &["SELECT"]);
}

/// Without a current segment (and under an unsampled one) statements run as they would untraced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untraced_statements_run_unchanged() {
    let (recorder, emitter) = recorder(true);
    let pool = pool(&recorder).await;
    let n: i32 = sqlx::query_scalar("SELECT 41 + $1")
        .bind(1)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 42);
    let err = sqlx::query("SELEC").execute(&pool).await.unwrap_err();
    assert!(err.as_database_error().is_some());
    assert!(emitter.documents().is_empty());
}
