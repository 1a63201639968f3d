//! What differs between sqlx's databases: how the endpoint is described and how the server's version is read.

use futures_core::future::BoxFuture;
use sqlx::{Connection, Database, Pool};

use crate::endpoint::XraySqlEndpoint;

/// A sqlx database that [`XraySqlxPool`](super::XraySqlxPool) can trace: `Postgres`, `MySql` and `Sqlite`, each
/// behind its cargo feature.
pub trait XraySqlxDatabase: Database + private::Sealed {
    /// The endpoint a pool with these options reaches, without the server's version.
    fn endpoint(options: &<Self::Connection as Connection>::Options) -> XraySqlEndpoint;

    /// Reads the server's version (one untraced query).
    fn read_version(pool: &Pool<Self>) -> BoxFuture<'_, Result<String, sqlx::Error>>;
}

mod private {
    pub trait Sealed {}
}

#[cfg(feature = "sqlx-postgres")]
impl private::Sealed for sqlx::Postgres {}

#[cfg(feature = "sqlx-postgres")]
impl XraySqlxDatabase for sqlx::Postgres {
    fn endpoint(options: &sqlx::postgres::PgConnectOptions) -> XraySqlEndpoint {
        XraySqlEndpoint::new("PostgreSQL", super::DRIVER_VERSION).server(
            "postgres",
            options.get_host(),
            Some(options.get_port()),
            options.get_database(),
            Some(options.get_username()),
        )
    }

    fn read_version(pool: &Pool<Self>) -> BoxFuture<'_, Result<String, sqlx::Error>> {
        Box::pin(sqlx::query_scalar::<_, String>("SHOW server_version").fetch_one(pool))
    }
}

#[cfg(feature = "sqlx-mysql")]
impl private::Sealed for sqlx::MySql {}

#[cfg(feature = "sqlx-mysql")]
impl XraySqlxDatabase for sqlx::MySql {
    fn endpoint(options: &sqlx::mysql::MySqlConnectOptions) -> XraySqlEndpoint {
        XraySqlEndpoint::new("MySQL", super::DRIVER_VERSION).server(
            "mysql",
            options.get_host(),
            Some(options.get_port()),
            options.get_database(),
            Some(options.get_username()),
        )
    }

    fn read_version(pool: &Pool<Self>) -> BoxFuture<'_, Result<String, sqlx::Error>> {
        Box::pin(sqlx::query_scalar::<_, String>("SELECT VERSION()").fetch_one(pool))
    }
}

#[cfg(feature = "sqlx-sqlite")]
impl private::Sealed for sqlx::Sqlite {}

#[cfg(feature = "sqlx-sqlite")]
impl XraySqlxDatabase for sqlx::Sqlite {
    fn endpoint(options: &sqlx::sqlite::SqliteConnectOptions) -> XraySqlEndpoint {
        let path = options.get_filename().to_string_lossy();
        // sqlx names each in-memory database `file:sqlx-in-memory-<n>` (a shared-cache URI).
        let path = if path.starts_with("file:sqlx-in-memory-") {
            ":memory:"
        } else {
            &path
        };
        XraySqlEndpoint::new("SQLite", super::DRIVER_VERSION).file(path)
    }

    fn read_version(pool: &Pool<Self>) -> BoxFuture<'_, Result<String, sqlx::Error>> {
        Box::pin(sqlx::query_scalar::<_, String>("SELECT sqlite_version()").fetch_one(pool))
    }
}
