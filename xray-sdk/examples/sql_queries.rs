//! SQL statements traced by X-Ray: sqlx on PostgreSQL, MySQL/MariaDB and SQLite, plus tokio-postgres, diesel and
//! rusqlite, all inside one sampled segment.
//!
//! ```sh
//! cargo run -p xray-sdk --features sql --example sql_queries
//! ```
//!
//! `POSTGRES_URL` (default `postgres://postgres:example-secret@127.0.0.1:5432/test`) and `MYSQL_URL` (default
//! `mysql://root@127.0.0.1:3306/test`) choose the servers; SQLite runs in memory. The password in a URL is used to
//! connect and never recorded. Segments go to `AWS_XRAY_DAEMON_ADDRESS` (default 127.0.0.1:2000); run
//! `cargo run -p xray-daemon -- daemon` beside it to see the trace.

use std::time::Duration;

use diesel::connection::{Connection, SimpleConnection};
use xray_sdk::sql::diesel::XrayDieselInstrumentation;
use xray_sdk::sql::rusqlite::XraySqliteConnection;
use xray_sdk::sql::sqlx::{XraySqlxDatabase, XraySqlxPool};
use xray_sdk::sql::tokio_postgres::XrayPgClient;
use xray_sdk::{FutureExt, Recorder};

type Error = Box<dyn std::error::Error>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let postgres_url = std::env::var("POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres:example-secret@127.0.0.1:5432/test".to_owned());
    let mysql_url = std::env::var("MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());

    let recorder = Recorder::builder().service_name("sql-queries").build()?;
    let segment = recorder
        .segment("sql-queries")
        .sampled(true)
        .begin_detached();
    println!("trace {}", segment.entity().trace_id());

    async {
        match XraySqlxPool::<sqlx::Postgres>::connect(&postgres_url).await {
            Ok(pool) => sqlx_statements(&pool.with_recorder(recorder.clone()), "$1").await?,
            Err(e) => println!("PostgreSQL (sqlx): cannot connect: {e}"),
        }
        match XraySqlxPool::<sqlx::MySql>::connect(&mysql_url).await {
            Ok(pool) => sqlx_statements(&pool.with_recorder(recorder.clone()), "?").await?,
            Err(e) => println!("MySQL (sqlx): cannot connect: {e}"),
        }
        let sqlite = XraySqlxPool::<sqlx::Sqlite>::connect("sqlite::memory:").await?;
        sqlx_statements(&sqlite.with_recorder(recorder.clone()), "?1").await?;

        tokio_postgres_query(&recorder, &postgres_url).await;
        diesel_query(&recorder)?;
        rusqlite_query(&recorder)?;
        Ok::<_, Error>(())
    }
    .in_entity(segment.entity().clone())
    .await?;

    segment.end();
    recorder.flush(Duration::from_secs(2));
    Ok(())
}

/// A table, an insert with a bound value, a select, and a statement the database refuses.
async fn sqlx_statements<DB>(pool: &XraySqlxPool<DB>, placeholder: &str) -> Result<(), Error>
where
    DB: XraySqlxDatabase,
    for<'p> &'p XraySqlxPool<DB>: sqlx::Executor<'p, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments: sqlx::IntoArguments<DB>,
    String: for<'r> sqlx::Encode<'r, DB> + for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    usize: sqlx::ColumnIndex<DB::Row>,
{
    let database = pool.endpoint().name().to_owned();
    sqlx::query("CREATE TABLE IF NOT EXISTS xray_example_notes (body VARCHAR(200))")
        .execute(pool)
        .await?;
    let insert = format!("INSERT INTO xray_example_notes (body) VALUES ({placeholder})");
    sqlx::query(sqlx::AssertSqlSafe(insert))
        .bind("a bound value, never recorded".to_owned())
        .execute(pool)
        .await?;
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM xray_example_notes")
        .fetch_all(pool)
        .await?;
    println!("{database} (sqlx): {} notes", bodies.len());
    if let Err(e) = sqlx::query("SELEC 1").execute(pool).await {
        println!("{database} (sqlx): the syntax error is reported: {e}");
    }
    Ok(())
}

async fn tokio_postgres_query(recorder: &Recorder, url: &str) {
    let connected = async {
        let config: tokio_postgres::Config = url.parse()?;
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        tokio::spawn(connection);
        let client = XrayPgClient::new(client, &config)
            .await
            .with_recorder(recorder.clone());
        let row = client
            .query_one("SELECT count(*) FROM pg_tables", &[])
            .await?;
        Ok::<i64, tokio_postgres::Error>(row.get(0))
    };
    match connected.await {
        Ok(n) => println!("PostgreSQL (tokio-postgres): {n} tables"),
        Err(e) => println!("PostgreSQL (tokio-postgres): {e}"),
    }
}

fn diesel_query(recorder: &Recorder) -> Result<(), Error> {
    let mut conn = diesel::sqlite::SqliteConnection::establish(":memory:")?;
    conn.set_instrumentation(
        XrayDieselInstrumentation::new()
            .url(":memory:")
            .with_recorder(recorder.clone()),
    );
    conn.batch_execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")?;
    println!("SQLite (diesel): table created");
    Ok(())
}

fn rusqlite_query(recorder: &Recorder) -> Result<(), Error> {
    let conn = XraySqliteConnection::open_in_memory()?.with_recorder(recorder.clone());
    let version: String = conn.query_row("SELECT sqlite_version()", [], |row| row.get(0))?;
    println!("SQLite (rusqlite): version {version}");
    Ok(())
}
