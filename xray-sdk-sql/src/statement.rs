//! The subsegment of one statement: what every driver integration does, written once.

use xray_sdk_core::types::document::Exception;
use xray_sdk_core::types::{EntityId, Namespace};
use xray_sdk_core::{Entity, Recorder};

use crate::endpoint::XraySqlEndpoint;

/// How a statement reached the database: the `sql.preparation` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preparation {
    /// A statement, plain or prepared, with bind parameters (`statement`).
    Statement,
    /// A stored-procedure call (`call`).
    Call,
}

impl Preparation {
    /// The recorded value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Preparation::Statement => "statement",
            Preparation::Call => "call",
        }
    }

    /// `Call` for `CALL …` (and `{call …}`, `EXEC …`), `Statement` otherwise.
    pub fn of(query: &str) -> Self {
        let head = query.trim_start().trim_start_matches('{').trim_start();
        let word = head
            .split(|c: char| !c.is_ascii_alphabetic())
            .next()
            .unwrap_or_default();
        if word.eq_ignore_ascii_case("call") || word.eq_ignore_ascii_case("exec") {
            Preparation::Call
        } else {
            Preparation::Statement
        }
    }
}

/// A database's answer to a failed statement, as recorded: its code (SQLSTATE, or the engine's number) and message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XraySqlError<'a> {
    /// The database's code for the error (`42601`, `23505`, `1064`, …).
    pub code: Option<&'a str>,
    /// The database's message.
    pub message: &'a str,
    /// Whether the statement asked for something the data does not allow: an integrity-constraint violation
    /// (unique, foreign key, not null, check). Those are recorded as errors (`error: true`), as an HTTP 4xx is;
    /// every other database error is a fault.
    pub constraint_violation: bool,
}

impl<'a> XraySqlError<'a> {
    /// An error identified by its SQLSTATE (PostgreSQL, MySQL): class `23` is a constraint violation.
    pub fn sqlstate(code: Option<&'a str>, message: &'a str) -> Self {
        XraySqlError {
            code,
            message,
            constraint_violation: code.is_some_and(|c| c.len() == 5 && c.starts_with("23")),
        }
    }
}

/// The `remote` subsegment of one statement, named after its endpoint (`database@host`), with the `sql` block.
///
/// Integrations begin one per statement and keep it beside the statement's future or stream. The query text is
/// recorded as `sanitized_query` when the recorder's `stream_sql` setting is on (the default): the text as the
/// driver sends it, with its placeholders (`$1`, `?`) and never a bound value. Dropped before it is finished (the
/// statement's future was cancelled), the subsegment ends as a fault with metadata `xray.cancelled = true`.
#[derive(Debug)]
#[must_use = "the subsegment ends (as a fault) when this is dropped; call a finish method"]
pub struct XraySqlSubsegment {
    entity: Option<Entity>,
    stream_sql: bool,
}

impl XraySqlSubsegment {
    /// Begins a subsegment of the current entity for a statement sent to `endpoint`, and records the endpoint's
    /// `sql` block. `None` when there is nothing to record: no current entity (the recorder's context-missing
    /// strategy says whether that is logged), an unsampled trace, or the SDK disabled. The statement then runs
    /// untouched.
    pub fn begin(recorder: &Recorder, endpoint: &XraySqlEndpoint) -> Option<Self> {
        let guard = recorder
            .subsegment(endpoint.name())
            .namespace(Namespace::Remote)
            .begin_detached()
            .ok()?;
        if !guard.is_sampled() {
            // Nothing is recorded under an unsampled entity; the guard's end is a no-op.
            return None;
        }
        let entity = guard.into_entity();
        entity.set_sql(endpoint.sql().clone());
        Some(XraySqlSubsegment {
            entity: Some(entity),
            stream_sql: recorder.config().stream_sql,
        })
    }

    /// Records the statement: `preparation`, and the text as `sanitized_query` when the recorder's `stream_sql`
    /// setting is on.
    pub fn statement(&self, query: &str, preparation: Preparation) {
        if let Some(entity) = &self.entity {
            let stream_sql = self.stream_sql;
            entity.with_document(|doc| {
                if let Some(sql) = doc.sql.as_deref_mut() {
                    sql.preparation = Some(preparation.as_str().to_owned());
                    if stream_sql {
                        sql.sanitized_query = Some(query.to_owned());
                    }
                }
            });
        }
    }

    /// The subsegment (`None` once finished).
    pub fn entity(&self) -> Option<&Entity> {
        self.entity.as_ref()
    }

    /// Ends the subsegment of a statement that succeeded.
    pub fn finish(mut self) {
        if let Some(entity) = self.entity.take() {
            entity.end();
        }
    }

    /// Records the database's error and ends the subsegment: an exception with the code as its type and the
    /// message (marked `remote`), and the fault flag, or the error flag for a constraint violation.
    pub fn finish_database_error(mut self, error: XraySqlError<'_>) {
        if let Some(entity) = self.entity.take() {
            entity.add_exception(Exception {
                id: EntityId::new(),
                message: Some(error.message.to_owned()),
                type_name: Some(error.code.unwrap_or("database error").to_owned()),
                remote: Some(true),
                truncated: None,
                skipped: None,
                cause: None,
                stack: Vec::new(),
            });
            if error.constraint_violation {
                entity.with_document(|doc| {
                    doc.fault = None;
                    doc.error = Some(true);
                });
            }
            entity.end();
        }
    }

    /// Records an error that did not come from the database (I/O, a closed pool, a decoding error) as a fault with
    /// its `source()` chain, and ends the subsegment.
    pub fn finish_error(
        mut self,
        error: &(dyn std::error::Error + 'static),
        type_name: Option<&str>,
    ) {
        if let Some(entity) = self.entity.take() {
            entity.add_error_dyn(error, type_name, false);
            entity.end();
        }
    }
}

impl Drop for XraySqlSubsegment {
    fn drop(&mut self) {
        if let Some(entity) = self.entity.take() {
            entity.put_metadata_in("xray", "cancelled", &true);
            entity.set_fault();
            entity.end();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preparation_of_queries() {
        assert_eq!(Preparation::of("  call proc($1)"), Preparation::Call);
        assert_eq!(Preparation::of("{ CALL p(?) }"), Preparation::Call);
        assert_eq!(Preparation::of("EXEC p"), Preparation::Call);
        assert_eq!(Preparation::of("select 1"), Preparation::Statement);
        assert_eq!(Preparation::of("callers"), Preparation::Statement);
        assert_eq!(Preparation::of(""), Preparation::Statement);
    }

    #[test]
    fn constraint_violations_are_sqlstate_class_23() {
        let e = |code| XraySqlError::sqlstate(code, "m").constraint_violation;
        assert!(e(Some("23505")));
        assert!(!e(Some("42601")));
        assert!(!e(Some("2350")));
        assert!(!e(None));
    }
}
