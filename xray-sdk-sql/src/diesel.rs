//! diesel: [`XrayDieselInstrumentation`], an [`Instrumentation`] whose queries become subsegments.
//!
//! Per connection, or for every connection the process establishes:
//!
//! ```no_run
//! use diesel::connection::Connection;
//! use xray_sdk_sql::diesel::XrayDieselInstrumentation;
//!
//! # fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Every connection established from now on (named after the URL it is established with):
//! XrayDieselInstrumentation::install_default()?;
//! let mut conn = diesel::sqlite::SqliteConnection::establish("app.db")?;
//!
//! // Or one connection established before:
//! conn.set_instrumentation(XrayDieselInstrumentation::new().url("app.db"));
//! # Ok(()) }
//! ```
//!
//! diesel announces each query with its text and bound values; only the text (up to diesel's ` -- binds: `) is
//! recorded, under `stream_sql`. Transactions appear as their own statements (`BEGIN`, `COMMIT`, `ROLLBACK`,
//! `SAVEPOINT …`), as diesel runs them. The hook cannot run a query of its own, so `database_version` is recorded
//! only when given ([`database_version`](XrayDieselInstrumentation::database_version)).

use diesel::connection::{Instrumentation, InstrumentationEvent};
use diesel::result::{DatabaseErrorKind, Error};
use xray_sdk_core::Recorder;

use crate::endpoint::XraySqlEndpoint;
use crate::statement::{XraySqlError, XraySqlSubsegment};
use crate::tracer::Tracer;

/// The `driver_version` recorded for diesel.
pub const DRIVER_VERSION: &str = "diesel 2";

/// The most queries of one connection open at once (they do not nest in diesel; this bounds memory should a
/// `FinishQuery` event ever go missing).
const MAX_OPEN: usize = 8;

/// diesel's [`Instrumentation`] hook recording each query as a `remote` subsegment of the current entity.
///
/// One per connection (diesel connections are used by one thread at a time). The endpoint comes from the URL the
/// connection is established with (or [`url`](Self::url)): `postgres://`/`postgresql://` is PostgreSQL,
/// `mysql://` MySQL, anything else a SQLite file.
#[derive(Debug)]
pub struct XrayDieselInstrumentation {
    tracer: Tracer,
    version: Option<String>,
    open: Vec<XraySqlSubsegment>,
}

impl Default for XrayDieselInstrumentation {
    fn default() -> Self {
        Self::new()
    }
}

impl XrayDieselInstrumentation {
    /// A hook recording with the global recorder, for a connection whose URL it will be told.
    pub fn new() -> Self {
        XrayDieselInstrumentation {
            tracer: Tracer::new(XraySqlEndpoint::new("SQLite", DRIVER_VERSION)),
            version: None,
            open: Vec::new(),
        }
    }

    /// Installs the hook for every connection established from now on in this process
    /// ([`diesel::connection::set_default_instrumentation`]), recording with the global recorder.
    ///
    /// # Errors
    /// diesel's, when its setting is poisoned.
    pub fn install_default() -> diesel::QueryResult<()> {
        diesel::connection::set_default_instrumentation(|| {
            Some(Box::new(XrayDieselInstrumentation::new()))
        })
    }

    /// Records with `recorder` rather than the global recorder.
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.tracer.recorder = Some(recorder);
        self
    }

    /// The URL (or SQLite path) of the connection, for a hook set after the connection was established. The
    /// password is never recorded.
    pub fn url(mut self, url: &str) -> Self {
        self.set_url(url);
        self
    }

    /// The server's version, recorded as `database_version`.
    pub fn database_version(mut self, version: impl Into<String>) -> Self {
        let version = version.into();
        self.tracer.endpoint = self
            .tracer
            .endpoint
            .clone()
            .database_version(version.clone());
        self.version = Some(version);
        self
    }

    /// The endpoint recorded in every query's `sql` block.
    pub fn endpoint(&self) -> &XraySqlEndpoint {
        &self.tracer.endpoint
    }

    fn set_url(&mut self, url: &str) {
        let endpoint = match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("postgres" | "postgresql") => {
                XraySqlEndpoint::new("PostgreSQL", DRIVER_VERSION).server_url(url)
            }
            Some("mysql" | "mariadb") => {
                XraySqlEndpoint::new("MySQL", DRIVER_VERSION).server_url(url)
            }
            _ => {
                let path = url.strip_prefix("file:").unwrap_or(url);
                let path = &path[..path.find('?').unwrap_or(path.len())];
                XraySqlEndpoint::new("SQLite", DRIVER_VERSION).file(path)
            }
        };
        self.tracer.endpoint = match &self.version {
            Some(version) => endpoint.database_version(version.clone()),
            None => endpoint,
        };
    }
}

impl Instrumentation for XrayDieselInstrumentation {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        match event {
            InstrumentationEvent::StartEstablishConnection { url, .. } => self.set_url(url),
            InstrumentationEvent::StartQuery { query, .. } => {
                if self.open.len() >= MAX_OPEN {
                    return;
                }
                // diesel's text ends with ` -- binds: [values]`: only what comes before is kept.
                let span = self.tracer.begin_with(|| {
                    let mut text = query.to_string();
                    if let Some(end) = text.find(" -- binds: ") {
                        text.truncate(end);
                    }
                    text
                });
                if let Some(span) = span {
                    self.open.push(span);
                }
            }
            InstrumentationEvent::FinishQuery { error, .. } => {
                if let Some(span) = self.open.pop() {
                    finish(span, error);
                }
            }
            _ => {}
        }
    }
}

fn finish(span: XraySqlSubsegment, error: Option<&Error>) {
    match error {
        None | Some(Error::NotFound) => span.finish(),
        Some(Error::DatabaseError(kind, info)) => {
            let code = format!("{kind:?}");
            span.finish_database_error(XraySqlError {
                code: Some(&code),
                message: info.message(),
                constraint_violation: matches!(
                    kind,
                    DatabaseErrorKind::UniqueViolation
                        | DatabaseErrorKind::ForeignKeyViolation
                        | DatabaseErrorKind::NotNullViolation
                        | DatabaseErrorKind::CheckViolation
                ),
            });
        }
        Some(e) => span.finish_error(e, Some("diesel::result::Error")),
    }
}
