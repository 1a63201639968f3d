//! `Executor` for the traced pool, connection and transaction, one set per database.
//!
//! Written per database rather than for every `DB` with `for<'c> &'c mut DB::Connection: Executor<'c>`: with that
//! bound, the trait solver overflows on the wrappers' own impls (as sqlx notes for its `PoolConnection`).

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use sqlx::{Describe, Either, Execute, Executor, SqlStr};

use super::query;
use super::{XraySqlxConnection, XraySqlxPool, XraySqlxTransaction};

macro_rules! traced_executors {
    ($db:ty) => {
        impl<'p> Executor<'p> for &XraySqlxPool<$db> {
            type Database = $db;

            fn fetch_many<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxStream<
                'e,
                Result<
                    Either<<$db as sqlx::Database>::QueryResult, <$db as sqlx::Database>::Row>,
                    sqlx::Error,
                >,
            >
            where
                'p: 'e,
                E: 'q + Execute<'q, $db>,
            {
                query::fetch_many(self.tracing(), self.pool(), query)
            }

            fn fetch_optional<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxFuture<'e, Result<Option<<$db as sqlx::Database>::Row>, sqlx::Error>>
            where
                'p: 'e,
                E: 'q + Execute<'q, $db>,
            {
                query::fetch_optional(self.tracing(), self.pool(), query)
            }

            fn prepare_with<'e>(
                self,
                sql: SqlStr,
                parameters: &'e [<$db as sqlx::Database>::TypeInfo],
            ) -> BoxFuture<'e, Result<<$db as sqlx::Database>::Statement, sqlx::Error>>
            where
                'p: 'e,
            {
                self.pool().prepare_with(sql, parameters)
            }

            #[doc(hidden)]
            fn describe<'e>(
                self,
                sql: SqlStr,
            ) -> BoxFuture<'e, Result<Describe<$db>, sqlx::Error>>
            where
                'p: 'e,
            {
                self.pool().describe(sql)
            }
        }

        traced_executors!(@conn $db, XraySqlxConnection);
        traced_executors!(@conn $db, XraySqlxTransaction);
    };
    (@conn $db:ty, $ty:ident) => {
        impl<'t> Executor<'t> for &'t mut $ty<$db> {
            type Database = $db;

            fn fetch_many<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxStream<
                'e,
                Result<
                    Either<<$db as sqlx::Database>::QueryResult, <$db as sqlx::Database>::Row>,
                    sqlx::Error,
                >,
            >
            where
                't: 'e,
                E: 'q + Execute<'q, $db>,
            {
                let (tracing, conn) = self.parts();
                query::fetch_many(tracing, conn, query)
            }

            fn fetch_optional<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxFuture<'e, Result<Option<<$db as sqlx::Database>::Row>, sqlx::Error>>
            where
                't: 'e,
                E: 'q + Execute<'q, $db>,
            {
                let (tracing, conn) = self.parts();
                query::fetch_optional(tracing, conn, query)
            }

            fn prepare_with<'e>(
                self,
                sql: SqlStr,
                parameters: &'e [<$db as sqlx::Database>::TypeInfo],
            ) -> BoxFuture<'e, Result<<$db as sqlx::Database>::Statement, sqlx::Error>>
            where
                't: 'e,
            {
                self.parts().1.prepare_with(sql, parameters)
            }

            #[doc(hidden)]
            fn describe<'e>(
                self,
                sql: SqlStr,
            ) -> BoxFuture<'e, Result<Describe<$db>, sqlx::Error>>
            where
                't: 'e,
            {
                self.parts().1.describe(sql)
            }
        }
    };
}

#[cfg(feature = "sqlx-postgres")]
traced_executors!(sqlx::Postgres);
#[cfg(feature = "sqlx-mysql")]
traced_executors!(sqlx::MySql);
#[cfg(feature = "sqlx-sqlite")]
traced_executors!(sqlx::Sqlite);
