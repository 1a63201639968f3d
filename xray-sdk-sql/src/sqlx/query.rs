//! One traced statement: the query handed on unchanged, and its result read on the way back.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use sqlx::database::Database;
use sqlx::error::{BoxDynError, DatabaseError, ErrorKind};
use sqlx::{Either, Execute, Executor, SqlStr};

use crate::statement::{Preparation, XraySqlError, XraySqlSubsegment};
pub(crate) use crate::tracer::Tracer as Tracing;

/// A query taken apart to read its text, and put back together: the same text, prepared statement, arguments
/// (or the error building them) and persistence, so the driver sees what it would have seen.
struct TracedQuery<DB: Database> {
    sql: SqlStr,
    statement: Option<DB::Statement>,
    arguments: Option<Result<Option<DB::Arguments>, BoxDynError>>,
    persistent: bool,
}

impl<DB: Database> TracedQuery<DB> {
    fn new<'q, E: Execute<'q, DB>>(mut query: E) -> Self {
        let persistent = query.persistent();
        let statement = query.statement().cloned();
        let arguments = Some(query.take_arguments());
        TracedQuery {
            sql: query.sql(),
            statement,
            arguments,
            persistent,
        }
    }
}

impl<'q, DB: Database> Execute<'q, DB> for TracedQuery<DB> {
    fn sql(self) -> SqlStr {
        self.sql
    }

    fn statement(&self) -> Option<&DB::Statement> {
        self.statement.as_ref()
    }

    fn take_arguments(&mut self) -> Result<Option<DB::Arguments>, BoxDynError> {
        self.arguments.take().unwrap_or(Ok(None))
    }

    fn persistent(&self) -> bool {
        self.persistent
    }
}

/// Begins the statement's subsegment and rebuilds the query; `None` (and the query untouched) when nothing is
/// recorded.
fn begin<'q, DB: Database, E: Execute<'q, DB>>(
    tracing: &Tracing,
    query: E,
) -> Result<(XraySqlSubsegment, TracedQuery<DB>), E> {
    let Some(span) = XraySqlSubsegment::begin(tracing.recorder(), &tracing.endpoint) else {
        return Err(query);
    };
    let query = TracedQuery::new(query);
    span.statement(query.sql.as_str(), Preparation::of(query.sql.as_str()));
    Ok((span, query))
}

/// Ends `span`, when there is one, with the outcome of its statement.
pub(crate) fn finish_outcome(span: Option<XraySqlSubsegment>, error: Option<&sqlx::Error>) {
    if let Some(span) = span {
        finish(span, error);
    }
}

/// Ends `span` with the outcome of its statement.
fn finish(span: XraySqlSubsegment, error: Option<&sqlx::Error>) {
    match error {
        None => span.finish(),
        Some(sqlx::Error::Database(e)) => {
            let code = e.code();
            span.finish_database_error(XraySqlError {
                code: code.as_deref(),
                message: e.message(),
                constraint_violation: is_constraint_violation(e.as_ref()),
            });
        }
        Some(e) => span.finish_error(e, Some("sqlx::Error")),
    }
}

fn is_constraint_violation(e: &dyn DatabaseError) -> bool {
    matches!(
        e.kind(),
        ErrorKind::UniqueViolation
            | ErrorKind::ForeignKeyViolation
            | ErrorKind::NotNullViolation
            | ErrorKind::CheckViolation
    )
}

/// One step of a statement's results: a result (rows affected) or a row.
type Step<DB> = Either<<DB as Database>::QueryResult, <DB as Database>::Row>;

/// The rows and results of `query` run on `executor`, in a subsegment.
pub(crate) fn fetch_many<'c, 'e, 'q, X, E>(
    tracing: &Tracing,
    executor: X,
    query: E,
) -> BoxStream<'e, Result<Step<X::Database>, sqlx::Error>>
where
    'c: 'e,
    'q: 'e,
    X: Executor<'c>,
    E: 'q + Execute<'q, X::Database>,
{
    match begin(tracing, query) {
        Err(query) => executor.fetch_many(query),
        Ok((span, query)) => Box::pin(TracedStream {
            inner: executor.fetch_many(query),
            span: Some(span),
        }),
    }
}

/// The optional row of `query` run on `executor`, in a subsegment.
pub(crate) fn fetch_optional<'c, 'e, 'q, X, E>(
    tracing: &Tracing,
    executor: X,
    query: E,
) -> BoxFuture<'e, Result<Option<<X::Database as Database>::Row>, sqlx::Error>>
where
    'c: 'e,
    'q: 'e,
    X: Executor<'c>,
    E: 'q + Execute<'q, X::Database>,
{
    match begin(tracing, query) {
        Err(query) => executor.fetch_optional(query),
        Ok((span, query)) => {
            let inner = executor.fetch_optional(query);
            Box::pin(async move {
                let result = inner.await;
                finish(span, result.as_ref().err());
                result
            })
        }
    }
}

/// A driver's stream, ending its subsegment when it ends, fails or is dropped (a caller that stops reading rows
/// early is not a fault).
struct TracedStream<'e, T> {
    inner: BoxStream<'e, Result<T, sqlx::Error>>,
    span: Option<XraySqlSubsegment>,
}

impl<T> Stream for TracedStream<'_, T> {
    type Item = Result<T, sqlx::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let poll = self.inner.as_mut().poll_next(cx);
        match &poll {
            Poll::Ready(None) => {
                if let Some(span) = self.span.take() {
                    finish(span, None);
                }
            }
            Poll::Ready(Some(Err(e))) => {
                if let Some(span) = self.span.take() {
                    finish(span, Some(e));
                }
            }
            _ => {}
        }
        poll
    }
}

impl<T> Drop for TracedStream<'_, T> {
    fn drop(&mut self) {
        if let Some(span) = self.span.take() {
            span.finish();
        }
    }
}
