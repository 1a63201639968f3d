//! sqlx on SQLite, in memory and in a file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use sqlx::Sqlite;
use support::*;
use xray_sdk_sql::sqlx::XraySqlxPool;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_memory() {
    let (recorder, emitter) = recorder(true);
    let pool = XraySqlxPool::<Sqlite>::connect("sqlite::memory:")
        .await
        .unwrap()
        .with_recorder(recorder.clone());
    let version = rusqlite::version();
    let sql = json!({
        "url": "sqlite::memory:",
        "database_type": "SQLite",
        "database_version": version,
        "driver_version": "sqlx 0.9",
    });
    let ((), segment) = in_segment(&recorder, &emitter, "sqlite", async {
        let mut conn = pool.acquire().await.unwrap();
        sqlx::query("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query("INSERT INTO t (id, name) VALUES (?1, ?2)")
            .bind(1)
            .bind("bound-secret")
            .execute(&mut conn)
            .await
            .unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM t WHERE name = ?1")
            .bind("bound-secret")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 1);
        let err = sqlx::query("INSERT INTO t (id, name) VALUES (?1, NULL)")
            .bind(2)
            .execute(&mut conn)
            .await
            .unwrap_err();
        assert!(
            err.as_database_error().unwrap().is_check_violation()
                || err.as_database_error().unwrap().kind()
                    == sqlx::error::ErrorKind::NotNullViolation
        );
        sqlx::query("SELEC 1").execute(&mut conn).await.unwrap_err();
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
            ok(":memory:", q("INSERT INTO t (id, name) VALUES (?1, ?2)")),
            ok(":memory:", q("SELECT count(*) FROM t WHERE name = ?1")),
            failed(
                ":memory:",
                q("INSERT INTO t (id, name) VALUES (?1, NULL)"),
                "1299",
                "NOT NULL constraint failed: t.name",
                true
            ),
            failed(
                ":memory:",
                q("SELEC 1"),
                "1",
                "near \"SELEC\": syntax error",
                false
            ),
        ]
    );
    assert_absent(&emitter, &["bound-secret"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_a_file() {
    let dir = std::env::temp_dir().join(format!("xray-sqlx-sqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("orders.db");
    let _ = std::fs::remove_file(&path);
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let (recorder, emitter) = recorder(true);
    let pool = XraySqlxPool::<Sqlite>::connect(&url)
        .await
        .unwrap()
        .with_recorder(recorder.clone());
    let ((), segment) = in_segment(&recorder, &emitter, "file", async {
        sqlx::query("CREATE TABLE IF NOT EXISTS t (id INTEGER)")
            .execute(&pool)
            .await
            .unwrap();
    })
    .await;
    let sql = json!({
        "url": format!("sqlite://{}", path.display()),
        "database_type": "SQLite",
        "database_version": rusqlite::version(),
        "driver_version": "sqlx 0.9",
    });
    assert_eq!(
        subsegments(&segment),
        vec![ok(
            "orders.db",
            with_query(&sql, "CREATE TABLE IF NOT EXISTS t (id INTEGER)")
        )]
    );
    drop(pool);
    let _ = std::fs::remove_dir_all(&dir);
}
