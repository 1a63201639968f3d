//! sqlx on a real MariaDB (127.0.0.1:3306, `root` without password, database `test`), through a user with a
//! password that no document may show.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::{Value, json};
use sqlx::{MySql, Row};
use support::*;
use xray_sdk_sql::sqlx::XraySqlxPool;

const NAME: &str = "test@127.0.0.1";
const PASSWORD: &str = "my-secret-pw";
const USER_URL: &str = "mysql://xray_sql_test:my-secret-pw@127.0.0.1:3306/test";

/// Creates the test user (idempotent) and reads the server's version, as root.
async fn setup() -> String {
    let root = sqlx::MySqlPool::connect(MYSQL_ROOT_URL)
        .await
        .expect("MariaDB on 127.0.0.1:3306 (run .ci/install-deps)");
    sqlx::raw_sql("CREATE USER IF NOT EXISTS 'xray_sql_test'@'%' IDENTIFIED BY 'my-secret-pw'; GRANT ALL ON test.* TO 'xray_sql_test'@'%'")
        .execute(&root)
        .await
        .unwrap();
    sqlx::query_scalar("SELECT VERSION()")
        .fetch_one(&root)
        .await
        .unwrap()
}

fn endpoint_sql(version: &str) -> Value {
    json!({
        "url": "mysql://xray_sql_test@127.0.0.1:3306/test",
        "database_type": "MySQL",
        "database_version": version,
        "driver_version": "sqlx 0.9",
        "user": "xray_sql_test",
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn statements_errors_and_transactions() {
    let version = setup().await;
    let (recorder, emitter) = recorder(true);
    let pool = XraySqlxPool::<MySql>::connect(USER_URL)
        .await
        .unwrap()
        .with_recorder(recorder.clone());
    let sql = endpoint_sql(&version);
    let ((), segment) = in_segment(&recorder, &emitter, "mysql", async {
        sqlx::query("DROP TABLE IF EXISTS xray_sqlx_my_items")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE xray_sqlx_my_items (id INT PRIMARY KEY, name TEXT NOT NULL)")
            .execute(&pool)
            .await
            .unwrap();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query("INSERT INTO xray_sqlx_my_items (id, name) VALUES (?, ?)")
            .bind(1)
            .bind("bound-value-never-recorded")
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let row = sqlx::query("SELECT name FROM xray_sqlx_my_items WHERE id = ?")
            .bind(1)
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(row.get::<String, _>(0), "bound-value-never-recorded");
        let err = sqlx::query("SELEC 1").execute(&pool).await.unwrap_err();
        assert!(err.as_database_error().is_some());
        let dup = sqlx::query("INSERT INTO xray_sqlx_my_items (id, name) VALUES (?, ?)")
            .bind(1)
            .bind("other")
            .execute(&pool)
            .await
            .unwrap_err();
        assert!(dup.as_database_error().unwrap().is_unique_violation());
    })
    .await;
    let q = |text: &str| with_query(&sql, text);
    assert_eq!(
        subsegments(&segment),
        vec![
            ok(NAME, q("DROP TABLE IF EXISTS xray_sqlx_my_items")),
            ok(
                NAME,
                q("CREATE TABLE xray_sqlx_my_items (id INT PRIMARY KEY, name TEXT NOT NULL)")
            ),
            ok(NAME, q("BEGIN")),
            ok(
                NAME,
                q("INSERT INTO xray_sqlx_my_items (id, name) VALUES (?, ?)")
            ),
            ok(NAME, q("COMMIT")),
            ok(NAME, q("SELECT name FROM xray_sqlx_my_items WHERE id = ?")),
            failed(
                NAME,
                q("SELEC 1"),
                "42000",
                "You have an error in your SQL syntax; check the manual that corresponds to your MariaDB server version for the right syntax to use near 'SELEC 1' at line 1",
                false,
            ),
            failed(
                NAME,
                q("INSERT INTO xray_sqlx_my_items (id, name) VALUES (?, ?)"),
                "23000",
                "Duplicate entry '1' for key 'PRIMARY'",
                true,
            ),
        ]
    );
    assert_absent(&emitter, &[PASSWORD, "bound-value-never-recorded", "other"]);
}
