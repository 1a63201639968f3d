//! The `sql` block.

use serde::{Deserialize, Serialize};

/// The `sql` block of a subsegment that records a database query.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sql {
    /// A connection string, without password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,
    /// The database URL, without password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The query, with placeholders instead of user values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sanitized_query: Option<String>,
    /// The database engine, such as `PostgreSQL` or `SQLite`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_type: Option<String>,
    /// The version of the database engine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database_version: Option<String>,
    /// The name and version of the driver.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver_version: Option<String>,
    /// The database user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// `call` for a prepared call, `statement` for a plain statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preparation: Option<String>,
}
