//! The file store across restarts, and retention by size and by age.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use xray_daemon::{Config, Daemon, Retention, StoreLocation};

fn trace_id(n: u32) -> String {
    format!("1-5759e988-{n:024x}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_survive_a_restart_of_a_file_store() {
    let dir = temp_dir("restart");
    let path = dir.join("nested").join("traces.sqlite3");
    let config = Config {
        store: StoreLocation::File(path.clone()),
        ..Config::ephemeral()
    };
    let daemon = Daemon::start(config.clone()).await.unwrap();
    let docs: Vec<String> = (1..=3)
        .map(|n| {
            segment(
                &trace_id(n),
                &format!("{n:016x}"),
                "web",
                100.0 + f64::from(n),
                Some(101.0 + f64::from(n)),
                json!({"annotations": {"n": n}}),
            )
        })
        .collect();
    send_documents(&daemon, &docs);
    settle(&daemon, 3).await;
    let final_stats = daemon.shutdown().await.unwrap();
    assert_eq!(final_stats.stored, 3);
    assert!(path.is_file());

    let daemon = Daemon::start(config.clone()).await.unwrap();
    let list: Value = api(&daemon, "/api/traces").await;
    assert_eq!(ids(&list), [trace_id(3), trace_id(2), trace_id(1)]);
    assert_eq!(list["latest_seq"], 3);
    let trace: Value = api(&daemon, &format!("/api/traces/{}", trace_id(2))).await;
    assert_eq!(
        trace["documents"],
        json!([serde_json::from_str::<Value>(&docs[1]).unwrap()])
    );
    // The new daemon's counters start at zero; the store's do not.
    let stats: Value = api(&daemon, "/api/stats").await;
    assert_eq!(stats["stored"], 0);
    assert_eq!(stats["store"]["traces"], 3);
    assert_eq!(stats["store"]["documents"], 3);

    // A later document of an old trace joins it, and sequence numbers go on.
    send_documents(
        &daemon,
        &[subsegment(
            &trace_id(1),
            "00000000000000f1",
            &format!("{:016x}", 1),
            "late",
            101.2,
            101.3,
        )],
    );
    settle(&daemon, 1).await;
    let news: Value = api(&daemon, "/api/traces?after_seq=3").await;
    assert_eq!(ids(&news), [trace_id(1)]);
    assert_eq!(news["traces"][0]["seq"], 4);
    assert_eq!(news["traces"][0]["documents"], 2);
    daemon.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_that_is_not_a_database_is_a_clear_error() {
    let dir = temp_dir("notdb");
    let path = dir.join("traces.sqlite3");
    std::fs::write(&path, vec![b'x'; 4096]).unwrap();
    let config = Config {
        store: StoreLocation::File(path),
        ..Config::ephemeral()
    };
    let error = Daemon::start(config).await.unwrap_err();
    assert_eq!(error.to_string(), "trace store: file is not a database");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_traces_go_when_the_store_is_full() {
    let doc = |n: u32| {
        segment(
            &trace_id(n),
            &format!("{n:016x}"),
            "web",
            100.0 + f64::from(n),
            Some(101.0 + f64::from(n)),
            json!({"metadata": {"pad": {"x": "y".repeat(900)}}}),
        )
    };
    let size = doc(1).len() as u64;
    let config = Config {
        retention: Retention {
            max_bytes: 20 * size,
            ..Retention::default()
        },
        ..Config::ephemeral()
    };
    let daemon = Daemon::start(config).await.unwrap();
    for n in 1..=100 {
        send_documents(&daemon, &[doc(n)]);
    }
    let stats = settle(&daemon, 100).await;
    assert_eq!(stats.stored, 100);
    let body: Value = api(&daemon, "/api/stats").await;
    let kept = body["store"]["traces"].as_u64().unwrap();
    assert!((18..=20).contains(&kept), "{kept} traces kept");
    assert_eq!(body["store"]["bytes"].as_u64().unwrap(), kept * size);
    let list: Value = api(&daemon, "/api/traces?limit=1000").await;
    let expected: Vec<String> = (0..kept as u32).map(|i| trace_id(100 - i)).collect();
    assert_eq!(ids(&list), expected);
    daemon.shutdown().await.unwrap();
}

/// Invalid documents kept for inspection count toward the size limit, and take at most a tenth of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_documents_count_toward_the_size_limit() {
    let max_bytes = 100_000u64;
    let config = Config {
        retention: Retention {
            max_bytes,
            ..Retention::default()
        },
        ..Config::ephemeral()
    };
    let daemon = Daemon::start(config).await.unwrap();
    // No header line: each is kept whole (4,000 bytes) with its reason.
    let datagrams: Vec<Vec<u8>> = (0..100u32)
        .map(|n| format!("{n:04}{}", "x".repeat(3996)).into_bytes())
        .collect();
    send_raw(&daemon, &datagrams);
    let stats = settle(&daemon, 100).await;
    assert_eq!(stats.invalid.get("missing_header"), Some(&100));
    let kept: Vec<Value> = api(&daemon, "/api/invalid?limit=1000").await;
    let kept_bytes: u64 = kept
        .iter()
        .map(|d| (d["body"].as_str().unwrap().len() + d["message"].as_str().unwrap().len()) as u64)
        .sum();
    assert!(!kept.is_empty());
    assert!(kept_bytes <= max_bytes / 10, "{kept_bytes} bytes kept");
    // The newest are kept.
    assert!(kept[0]["body"].as_str().unwrap().starts_with("0099"));
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traces_expire_by_age() {
    let config = Config {
        retention: Retention {
            max_age: Duration::from_secs(1),
            ..Retention::default()
        },
        ..Config::ephemeral()
    };
    let daemon = Daemon::start(config).await.unwrap();
    send_documents(
        &daemon,
        &[segment(
            &trace_id(1),
            "0000000000000001",
            "web",
            1.0,
            Some(2.0),
            json!({}),
        )],
    );
    // Stored (it may already be gone from the list: it is old after a second, however busy the machine).
    assert_eq!(settle(&daemon, 1).await.stored, 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let list: Value = api(&daemon, "/api/traces").await;
        if ids(&list).is_empty() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the trace did not expire"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stats: Value = api(&daemon, "/api/stats").await;
    assert_eq!(
        stats["store"],
        json!({"traces": 0, "documents": 0, "bytes": 0})
    );
    daemon.shutdown().await.unwrap();
}

/// Another program's SQLite file, a store with a conflicting `documents` table, and a newer store are refused
/// with a clear error, and left as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_and_conflicting_files_are_refused_untouched() {
    let dir = temp_dir("foreign");
    let cases = [
        (
            "foreign.sqlite3",
            "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT); PRAGMA user_version = 7;",
            "it holds other tables (customers)",
        ),
        (
            "conflicting.sqlite3",
            "CREATE TABLE documents (id INTEGER PRIMARY KEY, content TEXT);",
            "its table documents lacks the columns trace_id, parent_id, kind, name, start_time, end_time, \
             in_progress, received_at, body",
        ),
        (
            "newer.sqlite3",
            "CREATE TABLE traces (trace_id TEXT); PRAGMA user_version = 99;",
            "it is version 99 of the store, newer than this daemon's 3",
        ),
    ];
    for (name, sql, reason) in cases {
        let path = dir.join(name);
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(sql).unwrap();
        drop(conn);
        let before = std::fs::read(&path).unwrap();
        let config = Config {
            store: StoreLocation::File(path.clone()),
            ..Config::ephemeral()
        };
        let error = Daemon::start(config).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "{} is not a trace store of this daemon: {reason}; choose another file with --db",
                path.display()
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), before, "{name} was changed");
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// The counts `GET /api/stats` shows are kept as traces come and go, never recounted: they equal a recount
/// after inserts (new traces, later documents of a trace, a complete document replacing its in-progress
/// version), invalid documents, removal by size, and a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_counts_equal_a_recount_after_inserts_retention_and_invalid_documents() {
    let dir = temp_dir("kept-counts");
    let doc = |n: u32, end: Option<f64>| {
        segment(
            &trace_id(n),
            &format!("{n:016x}"),
            "web",
            100.0 + f64::from(n),
            end,
            json!({"annotations": {"n": n, "customer": format!("c{}", n % 3)},
                   "metadata": {"pad": {"x": "y".repeat(900)}}}),
        )
    };
    let size = doc(1, Some(1.0)).len() as u64;
    let config = Config {
        store: StoreLocation::File(dir.join("traces.sqlite3")),
        retention: Retention {
            max_bytes: 40 * size,
            ..Retention::default()
        },
        ..Config::ephemeral()
    };
    let daemon = Daemon::start(config.clone()).await.unwrap();
    let check = |daemon: &xray_daemon::DaemonHandle| {
        let kept = daemon.store().counts().unwrap();
        assert_eq!(kept, daemon.store().recount().unwrap());
        kept
    };
    // In progress first, then complete; a second document in some traces; junk.
    for n in 1..=30 {
        send_documents(&daemon, &[doc(n, None)]);
    }
    settle(&daemon, 30).await;
    assert_eq!(check(&daemon).traces, 30);
    for n in 1..=30 {
        let mut docs = vec![doc(n, Some(101.5 + f64::from(n)))];
        if n % 2 == 0 {
            docs.push(subsegment(
                &trace_id(n),
                &format!("{:016x}", 1000 + n),
                &format!("{n:016x}"),
                "db",
                100.2 + f64::from(n),
                100.3 + f64::from(n),
            ));
        }
        send_documents(&daemon, &docs);
    }
    send_raw(&daemon, &[b"junk".to_vec(), datagram(b"{\"name\":\"x\"}")]);
    settle(&daemon, 30 + 30 + 15 + 2).await;
    let counts = check(&daemon);
    assert_eq!((counts.traces, counts.documents), (30, 45));
    // Past the size limit: the oldest traces go.
    for n in 31..=100 {
        send_documents(&daemon, &[doc(n, Some(101.0 + f64::from(n)))]);
    }
    settle(&daemon, 77 + 70).await;
    let counts = check(&daemon);
    assert!(
        (20..=40).contains(&counts.traces),
        "{} traces kept",
        counts.traces
    );
    let stats: Value = api(&daemon, "/api/stats").await;
    assert_eq!(
        stats["store"],
        serde_json::to_value(daemon.store().recount().unwrap()).unwrap()
    );
    // The annotation index forgets the traces removed.
    let list: Value = api(&daemon, "/api/traces?annotation=n=1").await;
    assert_eq!(ids(&list), Vec::<String>::new());
    let list: Value = api(&daemon, "/api/traces?annotation=n=100").await;
    assert_eq!(ids(&list), [trace_id(100)]);
    daemon.shutdown().await.unwrap();

    let daemon = Daemon::start(config).await.unwrap();
    assert_eq!(check(&daemon), counts);
    daemon.shutdown().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
}
