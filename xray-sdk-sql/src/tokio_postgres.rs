//! tokio-postgres: [`XrayPgClient`], a client whose statements are traced, and its transactions
//! ([`XrayPgTransaction`]).
//!
//! ```no_run
//! # async fn run() -> Result<(), tokio_postgres::Error> {
//! use xray_sdk_sql::tokio_postgres::XrayPgClient;
//!
//! let config: tokio_postgres::Config = "host=127.0.0.1 user=app dbname=orders".parse()?;
//! let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
//! tokio::spawn(connection);
//! let mut client = XrayPgClient::new(client, &config).await;
//! let rows = client.query("SELECT id FROM orders WHERE customer = $1", &[&42_i64]).await?;
//!
//! let tx = client.transaction().await?; // BEGIN, each statement and COMMIT: a subsegment each
//! tx.execute("UPDATE orders SET shipped = true WHERE customer = $1", &[&42_i64]).await?;
//! tx.commit().await?;
//! # Ok(()) }
//! ```

use tokio_postgres::config::Host;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Row, Statement, Transaction};
use xray_sdk_core::Recorder;

use crate::endpoint::XraySqlEndpoint;
use crate::statement::{XraySqlError, XraySqlSubsegment};
use crate::tracer::Tracer;

/// The `driver_version` recorded for tokio-postgres.
pub const DRIVER_VERSION: &str = "tokio-postgres 0.7";

/// A tokio-postgres [`Client`] whose statements are traced: each is a `remote` subsegment of the current entity.
///
/// The methods mirror the client's; what is not traced is reached through [`client`](Self::client). A client is
/// shared by reference between tasks, as tokio-postgres allows; each statement belongs to the entity current in
/// the task that runs it.
#[derive(Debug)]
pub struct XrayPgClient {
    client: Client,
    tracer: Tracer,
}

/// A statement prepared by [`XrayPgClient::prepare`], which keeps its text for the `sql` block.
#[derive(Debug, Clone)]
pub struct XrayPgStatement {
    statement: Statement,
    text: String,
}

impl XrayPgStatement {
    /// The prepared statement.
    pub fn statement(&self) -> &Statement {
        &self.statement
    }
}

/// What [`XrayPgClient`] runs: SQL text (`&str`, `String`) or an [`XrayPgStatement`].
pub trait XrayPgQuery: private::Sealed {
    /// The text recorded.
    #[doc(hidden)]
    fn text(&self) -> &str;
    /// The statement handed to tokio-postgres.
    #[doc(hidden)]
    fn prepared(&self) -> Option<&Statement>;
}

mod private {
    pub trait Sealed {}
}

impl private::Sealed for str {}
impl XrayPgQuery for str {
    fn text(&self) -> &str {
        self
    }
    fn prepared(&self) -> Option<&Statement> {
        None
    }
}

impl private::Sealed for String {}
impl XrayPgQuery for String {
    fn text(&self) -> &str {
        self
    }
    fn prepared(&self) -> Option<&Statement> {
        None
    }
}

impl private::Sealed for XrayPgStatement {}
impl XrayPgQuery for XrayPgStatement {
    fn text(&self) -> &str {
        &self.text
    }
    fn prepared(&self) -> Option<&Statement> {
        Some(&self.statement)
    }
}

/// Runs `$method` on `$client` (the client or a transaction) with the query as text or as a prepared statement,
/// in a subsegment of `$tracer`.
macro_rules! run {
    ($tracer:expr, $client:expr, $query:ident, $method:ident $(, $arg:expr)*) => {{
        let span = $tracer.begin($query.text());
        let result = match $query.prepared() {
            Some(statement) => $client.$method(statement $(, $arg)*).await,
            None => $client.$method($query.text() $(, $arg)*).await,
        };
        finish(span, result.as_ref().err());
        result
    }};
}

/// The methods of a traced client or transaction: `$inner` is the field holding the tokio-postgres one.
macro_rules! traced_methods {
    ($inner:ident, $what:literal) => {
        #[doc = concat!("Prepares `query` ([`", $what, "::prepare`]), in a subsegment.")]
        ///
        /// # Errors
        /// The error of preparing it.
        pub async fn prepare(&self, query: &str) -> Result<XrayPgStatement, tokio_postgres::Error> {
            let span = self.tracer.begin(query);
            let result = self.$inner.prepare(query).await;
            finish(span, result.as_ref().err());
            Ok(XrayPgStatement {
                statement: result?,
                text: query.to_owned(),
            })
        }

        #[doc = concat!("[`", $what, "::query`], in a subsegment.")]
        ///
        /// # Errors
        /// The error of running it.
        pub async fn query<Q: XrayPgQuery + ?Sized>(
            &self,
            query: &Q,
            params: &[&(dyn ToSql + Sync)],
        ) -> Result<Vec<Row>, tokio_postgres::Error> {
            run!(self.tracer, self.$inner, query, query, params)
        }

        #[doc = concat!("[`", $what, "::query_one`], in a subsegment.")]
        ///
        /// # Errors
        /// The error of running it (no row, or more than one, is an error there, not in the trace).
        pub async fn query_one<Q: XrayPgQuery + ?Sized>(
            &self,
            query: &Q,
            params: &[&(dyn ToSql + Sync)],
        ) -> Result<Row, tokio_postgres::Error> {
            run!(self.tracer, self.$inner, query, query_one, params)
        }

        #[doc = concat!("[`", $what, "::query_opt`], in a subsegment.")]
        ///
        /// # Errors
        /// The error of running it.
        pub async fn query_opt<Q: XrayPgQuery + ?Sized>(
            &self,
            query: &Q,
            params: &[&(dyn ToSql + Sync)],
        ) -> Result<Option<Row>, tokio_postgres::Error> {
            run!(self.tracer, self.$inner, query, query_opt, params)
        }

        #[doc = concat!("[`", $what, "::execute`], in a subsegment.")]
        ///
        /// # Errors
        /// The error of running it.
        pub async fn execute<Q: XrayPgQuery + ?Sized>(
            &self,
            query: &Q,
            params: &[&(dyn ToSql + Sync)],
        ) -> Result<u64, tokio_postgres::Error> {
            run!(self.tracer, self.$inner, query, execute, params)
        }

        #[doc = concat!("[`", $what, "::batch_execute`] (statements without parameters, separated by `;`), in one subsegment.")]
        ///
        /// # Errors
        /// The error of running them.
        pub async fn batch_execute(&self, query: &str) -> Result<(), tokio_postgres::Error> {
            let span = self.tracer.begin(query);
            let result = self.$inner.batch_execute(query).await;
            finish(span, result.as_ref().err());
            result
        }
    };
}

impl XrayPgClient {
    /// Wraps `client`, connected with `config`, and reads the server's version once (`SHOW server_version`; a
    /// failure is logged at debug level and leaves `database_version` out). Statements are recorded with the
    /// global recorder until [`with_recorder`](Self::with_recorder) says otherwise.
    pub async fn new(client: Client, config: &Config) -> Self {
        let mut endpoint = endpoint(config);
        match client.query_one("SHOW server_version", &[]).await {
            Ok(row) => match row.try_get::<_, String>(0) {
                Ok(version) => endpoint = endpoint.database_version(version),
                Err(e) => log::debug!("X-Ray: unexpected server_version: {e}"),
            },
            Err(e) => log::debug!("X-Ray: the database's version could not be read: {e}"),
        }
        XrayPgClient {
            client,
            tracer: Tracer::new(endpoint),
        }
    }

    /// Records with `recorder` rather than the global recorder.
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.tracer.recorder = Some(recorder);
        self
    }

    /// The endpoint recorded in every statement's `sql` block.
    pub fn endpoint(&self) -> &XraySqlEndpoint {
        &self.tracer.endpoint
    }

    /// The client, for what is not traced.
    pub fn client(&self) -> &Client {
        &self.client
    }

    traced_methods!(client, "Client");

    /// Starts a transaction ([`Client::transaction`]): `BEGIN`, every statement run in it, and `COMMIT` or
    /// `ROLLBACK` are subsegments.
    ///
    /// # Errors
    /// The error of [`Client::transaction`].
    pub async fn transaction(&mut self) -> Result<XrayPgTransaction<'_>, tokio_postgres::Error> {
        let span = self.tracer.begin("BEGIN");
        let result = self.client.transaction().await;
        finish(span, result.as_ref().err());
        Ok(XrayPgTransaction {
            tx: result?,
            tracer: &self.tracer,
        })
    }
}

/// A transaction of an [`XrayPgClient`]: its statements are traced as the client's are, and so are
/// [`commit`](Self::commit) and [`rollback`](Self::rollback). Dropped without either, it rolls back as
/// tokio-postgres's does, without a subsegment.
pub struct XrayPgTransaction<'client> {
    tx: Transaction<'client>,
    tracer: &'client Tracer,
}

impl std::fmt::Debug for XrayPgTransaction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XrayPgTransaction")
            .field("endpoint", &self.tracer.endpoint)
            .finish_non_exhaustive()
    }
}

impl<'client> XrayPgTransaction<'client> {
    traced_methods!(tx, "Transaction");

    /// The transaction, for what is not traced.
    pub fn transaction(&self) -> &Transaction<'client> {
        &self.tx
    }

    /// `COMMIT`, in a subsegment.
    ///
    /// # Errors
    /// The error of [`Transaction::commit`].
    pub async fn commit(self) -> Result<(), tokio_postgres::Error> {
        let span = self.tracer.begin("COMMIT");
        let result = self.tx.commit().await;
        finish(span, result.as_ref().err());
        result
    }

    /// `ROLLBACK`, in a subsegment.
    ///
    /// # Errors
    /// The error of [`Transaction::rollback`].
    pub async fn rollback(self) -> Result<(), tokio_postgres::Error> {
        let span = self.tracer.begin("ROLLBACK");
        let result = self.tx.rollback().await;
        finish(span, result.as_ref().err());
        result
    }
}

/// The endpoint of a connection made with `config`: its first host and port.
fn endpoint(config: &Config) -> XraySqlEndpoint {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    XraySqlEndpoint::new("PostgreSQL", DRIVER_VERSION).server(
        "postgres",
        &host,
        Some(config.get_ports().first().copied().unwrap_or(5432)),
        config.get_dbname(),
        config.get_user(),
    )
}

fn finish(span: Option<XraySqlSubsegment>, error: Option<&tokio_postgres::Error>) {
    let Some(span) = span else { return };
    match error {
        None => span.finish(),
        Some(e) => match e.as_db_error() {
            Some(db) => span.finish_database_error(XraySqlError::sqlstate(
                Some(db.code().code()),
                db.message(),
            )),
            // `query_one` without a row: the statement ran; the caller's expectation failed.
            None if e
                .to_string()
                .contains("query returned an unexpected number of rows") =>
            {
                span.finish()
            }
            None => span.finish_error(e, Some("tokio_postgres::Error")),
        },
    }
}
