//! The traced pool.

use std::sync::Arc;

use sqlx::Pool;
use xray_sdk_core::Recorder;

use super::XraySqlxDatabase;
use super::query::Tracing;
use super::transaction::{XraySqlxConnection, XraySqlxTransaction};

/// A sqlx [`Pool`] whose statements are traced: `&XraySqlxPool` is an [`Executor`](sqlx::Executor), so
/// `query(…).fetch_all(&pool)` works unchanged.
///
/// Cheap to clone (the pool and the tracing settings are shared). Each statement is a `remote` subsegment of the
/// entity current where it runs, so many tasks may share one pool, each under its own segment.
#[derive(Debug)]
pub struct XraySqlxPool<DB: XraySqlxDatabase> {
    pool: Pool<DB>,
    tracing: Arc<Tracing>,
}

impl<DB: XraySqlxDatabase> Clone for XraySqlxPool<DB> {
    fn clone(&self) -> Self {
        XraySqlxPool {
            pool: self.pool.clone(),
            tracing: self.tracing.clone(),
        }
    }
}

impl<DB: XraySqlxDatabase> XraySqlxPool<DB> {
    /// Connects a pool to `url` (as [`Pool::connect`] does) and wraps it.
    ///
    /// # Errors
    /// The error of [`Pool::connect`].
    pub async fn connect(url: &str) -> Result<Self, sqlx::Error> {
        Ok(Self::new(Pool::connect(url).await?).await)
    }

    /// Wraps `pool`, reading the server's version once (a failure to read it is logged at debug level and leaves
    /// `database_version` out). Statements are recorded with the global recorder until
    /// [`with_recorder`](Self::with_recorder) says otherwise.
    pub async fn new(pool: Pool<DB>) -> Self {
        let mut endpoint = DB::endpoint(&pool.connect_options());
        match DB::read_version(&pool).await {
            Ok(version) => endpoint = endpoint.database_version(version),
            Err(e) => log::debug!("X-Ray: the database's version could not be read: {e}"),
        }
        XraySqlxPool {
            pool,
            tracing: Arc::new(Tracing::new(endpoint)),
        }
    }

    /// Records with `recorder` rather than the global recorder.
    pub fn with_recorder(self, recorder: Recorder) -> Self {
        XraySqlxPool {
            pool: self.pool,
            tracing: Arc::new(Tracing {
                recorder: Some(recorder),
                ..Tracing::new(self.tracing.endpoint.clone())
            }),
        }
    }

    /// The endpoint recorded in every statement's `sql` block.
    pub fn endpoint(&self) -> &crate::XraySqlEndpoint {
        &self.tracing.endpoint
    }

    pub(super) fn tracing(&self) -> &Tracing {
        &self.tracing
    }

    /// The pool, for what is not traced (its options, `close`, …).
    pub fn pool(&self) -> &Pool<DB> {
        &self.pool
    }

    /// The pool, unwrapped.
    pub fn into_inner(self) -> Pool<DB> {
        self.pool
    }

    /// Takes a connection from the pool, whose statements are traced.
    ///
    /// # Errors
    /// The error of [`Pool::acquire`].
    pub async fn acquire(&self) -> Result<XraySqlxConnection<DB>, sqlx::Error> {
        Ok(XraySqlxConnection::new(
            self.pool.acquire().await?,
            self.tracing.clone(),
        ))
    }

    /// Begins a transaction, recording `BEGIN` as a subsegment.
    ///
    /// # Errors
    /// The error of [`Pool::begin`].
    pub async fn begin(&self) -> Result<XraySqlxTransaction<DB>, sqlx::Error> {
        let span = self.tracing.begin("BEGIN");
        let result = self.pool.begin().await;
        super::query::finish_outcome(span, result.as_ref().err());
        Ok(XraySqlxTransaction::new(result?, self.tracing.clone()))
    }
}
