//! The cost of tracing one statement, as a ratio to the plain driver, measured side by side in one run.
//!
//! ```sh
//! cargo bench -p xray-sdk-sql --all-features --bench sql_overhead
//! ```
//!
//! Each case runs the same one-row `SELECT` with one bound value through the plain driver and through the traced
//! wrapper of that same pool, client or connection (so that both use the same connections) inside a sampled segment (ten statements per segment, documents dropped by the emitter), alternating
//! in rounds; it prints the median time per statement of each and their ratio. `POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) chooses the server; the PostgreSQL cases are skipped, with a line
//! saying so, when it does not answer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::time::Instant;

use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::Emitter;
use xray_sdk_core::sampling::AlwaysSample;
use xray_sdk_core::types::Document;
use xray_sdk_core::{FutureExt, Recorder};
use xray_sdk_sql::rusqlite::XraySqliteConnection;
use xray_sdk_sql::sqlx::XraySqlxPool;
use xray_sdk_sql::tokio_postgres::XrayPgClient;

const PER_SEGMENT: usize = 10;

/// Times `$plain` and `$traced` in one round, in an order that alternates between rounds; round 0 warms up.
macro_rules! alternate {
    ($round:expr, $p:ident, $t:ident, $plain:expr, $traced:expr) => {{
        let (a, b) = if $round % 2 == 0 {
            let a = $plain;
            (a, $traced)
        } else {
            let b = $traced;
            ($plain, b)
        };
        if $round > 0 {
            $p.push(a);
            $t.push(b);
        }
    }};
}
const ROUNDS: usize = 9;

/// Drops every document: the bench measures recording, not sending.
#[derive(Debug)]
struct Discard;

impl Emitter for Discard {
    fn emit(&self, _document: Box<Document>) {}
}

fn recorder() -> Recorder {
    Recorder::builder()
        .env(MapEnv::default())
        .service_name("bench")
        .emitter(Discard)
        .sampler(AlwaysSample)
        .build()
        .unwrap()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(name: &str, plain: Vec<f64>, traced: Vec<f64>) {
    let (p, t) = (median(plain), median(traced));
    println!(
        "{name:<36} plain {:>8.2} µs   traced {:>8.2} µs   overhead {:>6.2} µs   ratio {:.3}",
        p * 1e6,
        t * 1e6,
        (t - p) * 1e6,
        t / p
    );
}

/// Seconds per statement over `n` statements, `PER_SEGMENT` per sampled segment when `traced`.
fn time_sync(recorder: &Recorder, n: usize, traced: bool, mut run: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..n / PER_SEGMENT {
        let segment = traced.then(|| recorder.begin_segment("bench"));
        for _ in 0..PER_SEGMENT {
            run();
        }
        drop(segment);
    }
    start.elapsed().as_secs_f64() / n as f64
}

async fn time_async<F: Future<Output = ()>>(
    recorder: &Recorder,
    n: usize,
    traced: bool,
    mut run: impl FnMut() -> F,
) -> f64 {
    let start = Instant::now();
    for _ in 0..n / PER_SEGMENT {
        if traced {
            let segment = recorder.segment("bench").begin_detached();
            for _ in 0..PER_SEGMENT {
                run().in_entity(segment.entity().clone()).await;
            }
            segment.end();
        } else {
            for _ in 0..PER_SEGMENT {
                run().await;
            }
        }
    }
    start.elapsed().as_secs_f64() / n as f64
}

fn rusqlite_memory(recorder: &Recorder) {
    let plain = rusqlite::Connection::open_in_memory().unwrap();
    let traced = XraySqliteConnection::open_in_memory()
        .unwrap()
        .with_recorder(recorder.clone());
    let n = 20_000;
    let q = "SELECT ?1 + 1";
    let (mut p, mut t) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS + 1 {
        let plain_run = || {
            time_sync(recorder, n, false, || {
                let _: i64 = plain.query_row(q, [1], |r| r.get(0)).unwrap();
            })
        };
        let traced_run = || {
            time_sync(recorder, n, true, || {
                let _: i64 = traced.query_row(q, [1], |r| r.get(0)).unwrap();
            })
        };
        let (a, b) = if round % 2 == 0 {
            let a = plain_run();
            (a, traced_run())
        } else {
            let b = traced_run();
            (plain_run(), b)
        };
        if round > 0 {
            p.push(a);
            t.push(b);
        }
    }
    report("rusqlite, SQLite in memory", p, t);
}

async fn sqlx_sqlite_memory(recorder: &Recorder) {
    let plain = sqlx::SqlitePool::connect("sqlite::memory:").await.unwrap();
    let traced = XraySqlxPool::new(plain.clone())
        .await
        .with_recorder(recorder.clone());
    let n = 5_000;
    let (mut p, mut t, mut u) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS + 1 {
        let untraced = time_async(recorder, n, false, || async {
            let _: i64 = sqlx::query_scalar("SELECT ?1 + 1")
                .bind(1)
                .fetch_one(&traced)
                .await
                .unwrap();
        })
        .await;
        if round > 0 {
            u.push(untraced);
        }
        alternate!(
            round,
            p,
            t,
            {
                time_async(recorder, n, false, || async {
                    let _: i64 = sqlx::query_scalar("SELECT ?1 + 1")
                        .bind(1)
                        .fetch_one(&plain)
                        .await
                        .unwrap();
                })
                .await
            },
            {
                time_async(recorder, n, true, || async {
                    let _: i64 = sqlx::query_scalar("SELECT ?1 + 1")
                        .bind(1)
                        .fetch_one(&traced)
                        .await
                        .unwrap();
                })
                .await
            }
        );
    }
    report("sqlx, SQLite in memory", p.clone(), t);
    report("sqlx, SQLite in memory, no segment", p, u);
}

async fn postgres(recorder: &Recorder, url: &str) {
    let Ok(plain) = sqlx::PgPool::connect(url).await else {
        println!("PostgreSQL at {url} does not answer: its cases are skipped");
        return;
    };
    let traced = XraySqlxPool::<sqlx::Postgres>::connect(url)
        .await
        .unwrap()
        .with_recorder(recorder.clone());
    let n = 2_000;
    let (mut p, mut t) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS + 1 {
        alternate!(
            round,
            p,
            t,
            {
                time_async(recorder, n, false, || async {
                    let _: i32 = sqlx::query_scalar("SELECT $1::int4 + 1")
                        .bind(1)
                        .fetch_one(&plain)
                        .await
                        .unwrap();
                })
                .await
            },
            {
                time_async(recorder, n, true, || async {
                    let _: i32 = sqlx::query_scalar("SELECT $1::int4 + 1")
                        .bind(1)
                        .fetch_one(&traced)
                        .await
                        .unwrap();
                })
                .await
            }
        );
    }
    report("sqlx, PostgreSQL", p, t);

    let config: tokio_postgres::Config = url.parse().unwrap();
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    let (client2, connection2) = config.connect(tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection2);
    let traced = XrayPgClient::new(client2, &config)
        .await
        .with_recorder(recorder.clone());
    let (mut p, mut t) = (Vec::new(), Vec::new());
    for round in 0..ROUNDS + 1 {
        alternate!(
            round,
            p,
            t,
            {
                time_async(recorder, n, false, || async {
                    client
                        .query_one("SELECT $1::int4 + 1", &[&1_i32])
                        .await
                        .unwrap();
                })
                .await
            },
            {
                time_async(recorder, n, true, || async {
                    traced
                        .query_one("SELECT $1::int4 + 1", &[&1_i32])
                        .await
                        .unwrap();
                })
                .await
            }
        );
    }
    report("tokio-postgres, PostgreSQL", p, t);
}

fn main() {
    // `cargo test --benches` runs this with `--bench` absent: keep that quick.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let url = std::env::var("POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let recorder = recorder();
    println!(
        "median per statement over {ROUNDS} alternating rounds; {PER_SEGMENT} statements per sampled segment"
    );
    rusqlite_memory(&recorder);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        sqlx_sqlite_memory(&recorder).await;
        postgres(&recorder, &url).await;
    });
}
