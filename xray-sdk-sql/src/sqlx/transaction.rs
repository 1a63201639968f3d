//! Traced connections and transactions taken from an `XraySqlxPool`.

use std::sync::Arc;

use sqlx::Transaction;
use sqlx::pool::PoolConnection;

use super::XraySqlxDatabase;
use super::query::{Tracing, finish_outcome};

/// A connection taken from an [`XraySqlxPool`](super::XraySqlxPool): `&mut XraySqlxConnection` is an
/// [`Executor`](sqlx::Executor) whose statements are traced. Back to the pool on drop.
#[derive(Debug)]
pub struct XraySqlxConnection<DB: XraySqlxDatabase> {
    conn: PoolConnection<DB>,
    tracing: Arc<Tracing>,
}

impl<DB: XraySqlxDatabase> XraySqlxConnection<DB> {
    pub(super) fn new(conn: PoolConnection<DB>, tracing: Arc<Tracing>) -> Self {
        XraySqlxConnection { conn, tracing }
    }

    pub(super) fn parts(&mut self) -> (&Tracing, &mut DB::Connection) {
        (&self.tracing, &mut self.conn)
    }

    /// The connection, for what is not traced.
    pub fn inner_mut(&mut self) -> &mut PoolConnection<DB> {
        &mut self.conn
    }

    /// The connection, unwrapped.
    pub fn into_inner(self) -> PoolConnection<DB> {
        self.conn
    }
}

/// A transaction begun by [`XraySqlxPool::begin`](super::XraySqlxPool::begin): `&mut XraySqlxTransaction` is an
/// [`Executor`](sqlx::Executor) whose statements are traced, and [`commit`](Self::commit) and [`rollback`](Self::rollback) are
/// subsegments (`COMMIT`, `ROLLBACK`). Dropped without either, sqlx rolls it back, untraced.
#[derive(Debug)]
pub struct XraySqlxTransaction<DB: XraySqlxDatabase> {
    tx: Transaction<'static, DB>,
    tracing: Arc<Tracing>,
}

impl<DB: XraySqlxDatabase> XraySqlxTransaction<DB> {
    pub(super) fn new(tx: Transaction<'static, DB>, tracing: Arc<Tracing>) -> Self {
        XraySqlxTransaction { tx, tracing }
    }

    /// Commits, in a `COMMIT` subsegment.
    ///
    /// # Errors
    /// The error of [`Transaction::commit`].
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let span = self.tracing.begin("COMMIT");
        let result = self.tx.commit().await;
        finish_outcome(span, result.as_ref().err());
        result
    }

    /// Rolls back, in a `ROLLBACK` subsegment.
    ///
    /// # Errors
    /// The error of [`Transaction::rollback`].
    pub async fn rollback(self) -> Result<(), sqlx::Error> {
        let span = self.tracing.begin("ROLLBACK");
        let result = self.tx.rollback().await;
        finish_outcome(span, result.as_ref().err());
        result
    }

    pub(super) fn parts(&mut self) -> (&Tracing, &mut DB::Connection) {
        (&self.tracing, &mut self.tx)
    }

    /// The transaction, for what is not traced.
    pub fn inner_mut(&mut self) -> &mut Transaction<'static, DB> {
        &mut self.tx
    }
}
