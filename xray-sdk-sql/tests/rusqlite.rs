//! rusqlite, in memory and in a file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use support::*;
use xray_sdk_sql::rusqlite::XraySqliteConnection;

#[tokio::test]
async fn statements_and_errors_in_memory() {
    let (recorder, emitter) = recorder(true);
    let conn = XraySqliteConnection::open_in_memory()
        .unwrap()
        .with_recorder(recorder.clone());
    let sql = json!({
        "url": "sqlite::memory:",
        "database_type": "SQLite",
        "database_version": rusqlite::version(),
        "driver_version": "rusqlite 0.43",
    });
    let ((), segment) = in_segment(&recorder, &emitter, "rusqlite", async {
        conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
            .unwrap();
        conn.execute(
            "INSERT INTO t (id, name) VALUES (?1, ?2)",
            (1, "bound-secret"),
        )
        .unwrap();
        let name: String = conn
            .query_row("SELECT name FROM t WHERE id = ?1", [1], |r| r.get(0))
            .unwrap();
        assert_eq!(name, "bound-secret");
        let none = conn.query_row("SELECT name FROM t WHERE id = ?1", [2], |r| {
            r.get::<_, String>(0)
        });
        assert!(matches!(none, Err(rusqlite::Error::QueryReturnedNoRows)));
        let ids = conn
            .query_map("SELECT id FROM t", [], |r| r.get::<_, i64>(0))
            .unwrap();
        assert_eq!(ids, vec![1]);
        conn.execute(
            "INSERT INTO t (id, name) VALUES (?1, ?2)",
            (2, "bound-secret"),
        )
        .unwrap_err();
        conn.execute("SELEC 1", []).unwrap_err();
    })
    .await;
    let q = |text: &str| with_query(&sql, text);
    assert_eq!(
        subsegments(&segment),
        vec![
            ok(
                ":memory:",
                q("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
            ),
            ok(":memory:", q("INSERT INTO t (id, name) VALUES (?1, ?2)")),
            ok(":memory:", q("SELECT name FROM t WHERE id = ?1")),
            ok(":memory:", q("SELECT name FROM t WHERE id = ?1")),
            ok(":memory:", q("SELECT id FROM t")),
            failed(
                ":memory:",
                q("INSERT INTO t (id, name) VALUES (?1, ?2)"),
                "2067",
                "UNIQUE constraint failed: t.name",
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

#[tokio::test]
async fn a_file_with_stream_sql_off() {
    let (recorder, emitter) = recorder(false);
    let dir = std::env::temp_dir().join(format!("xray-rusqlite-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.db");
    let conn = XraySqliteConnection::open(&path)
        .unwrap()
        .with_recorder(recorder.clone());
    let ((), segment) = in_segment(&recorder, &emitter, "file", async {
        conn.execute_batch("CREATE TABLE IF NOT EXISTS t (id INTEGER)")
            .unwrap();
    })
    .await;
    let sql = json!({
        "url": format!("sqlite://{}", conn.connection().path().unwrap()),
        "database_type": "SQLite",
        "database_version": rusqlite::version(),
        "driver_version": "rusqlite 0.43",
        "preparation": "statement",
    });
    assert_eq!(subsegments(&segment), vec![ok("app.db", sql)]);
    assert_absent(&emitter, &["CREATE"]);
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn prepared_statements_and_transactions() {
    let (recorder, emitter) = recorder(true);
    let mut conn = XraySqliteConnection::open_in_memory()
        .unwrap()
        .with_recorder(recorder.clone());
    conn.connection()
        .execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        .unwrap();
    let sql = json!({
        "url": "sqlite::memory:",
        "database_type": "SQLite",
        "database_version": rusqlite::version(),
        "driver_version": "rusqlite 0.43",
    });
    let ((), segment) = in_segment(&recorder, &emitter, "rusqlite", async {
        let tx = conn.transaction().unwrap();
        {
            let mut insert = tx.prepare("INSERT INTO t (name) VALUES (?1)").unwrap();
            for name in ["bound-ada", "bound-grace"] {
                assert_eq!(insert.execute([name]).unwrap(), 1);
            }
            insert.execute(["bound-ada"]).unwrap_err();
        }
        tx.commit().unwrap();

        let tx = conn.transaction().unwrap();
        tx.execute("DELETE FROM t", []).unwrap();
        let mut names = tx.prepare("SELECT name FROM t ORDER BY id").unwrap();
        assert!(
            names
                .query_map([], |r| r.get::<_, String>(0))
                .unwrap()
                .is_empty()
        );
        drop(names);
        tx.rollback().unwrap();

        let mut count = conn
            .prepare("SELECT count(*) FROM t WHERE name LIKE ?1")
            .unwrap();
        let n: i64 = count.query_row(["bound-%"], |r| r.get(0)).unwrap();
        assert_eq!(n, 2, "the rollback kept both rows");
        drop(count);
        assert!(conn.prepare("SELEC name FROM t").is_err());
    })
    .await;
    let q = |text: &str| with_query(&sql, text);
    let insert = "INSERT INTO t (name) VALUES (?1)";
    assert_eq!(
        subsegments(&segment),
        vec![
            ok(":memory:", q("BEGIN DEFERRED")),
            ok(":memory:", q(insert)),
            ok(":memory:", q(insert)),
            failed(
                ":memory:",
                q(insert),
                "2067",
                "UNIQUE constraint failed: t.name",
                true
            ),
            ok(":memory:", q("COMMIT")),
            ok(":memory:", q("BEGIN DEFERRED")),
            ok(":memory:", q("DELETE FROM t")),
            ok(":memory:", q("SELECT name FROM t ORDER BY id")),
            ok(":memory:", q("ROLLBACK")),
            ok(":memory:", q("SELECT count(*) FROM t WHERE name LIKE ?1")),
            failed(
                ":memory:",
                q("SELEC name FROM t"),
                "1",
                "near \"SELEC\": syntax error",
                false
            ),
        ]
    );
    assert_absent(&emitter, &["bound-ada", "bound-grace"]);
}
