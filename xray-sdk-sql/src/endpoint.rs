//! What is recorded about a database connection: fixed once, when connecting, and shared by every statement.

use xray_sdk_core::types::document::Sql;

/// A database as the `sql` block describes it: engine, server version, driver, URL without password, user; and the
/// name of the subsegments, `database@host` (the database file's name for SQLite).
///
/// Built once per connection or pool (the server version is read then, never per statement) and shared by the
/// statements' subsegments. Nothing here can hold a password: URLs are rebuilt from their parts, without the
/// password and without the query string (which may carry one, as in `?password=…`).
#[derive(Debug, Clone, PartialEq)]
pub struct XraySqlEndpoint {
    name: String,
    sql: Sql,
}

impl XraySqlEndpoint {
    /// An endpoint of `database_type` (such as `PostgreSQL`) reached through `driver_version` (such as
    /// `sqlx 0.9`), named `database` until [`server`](Self::server) or [`file`](Self::file) names it.
    pub fn new(database_type: &str, driver_version: &str) -> Self {
        XraySqlEndpoint {
            name: "database".to_owned(),
            sql: Sql {
                database_type: Some(database_type.to_owned()),
                driver_version: Some(driver_version.to_owned()),
                ..Sql::default()
            },
        }
    }

    /// A server database: the URL `scheme://user@host:port/database` (no password), the user, and the name
    /// `database@host`.
    pub fn server(
        mut self,
        scheme: &str,
        host: &str,
        port: Option<u16>,
        database: Option<&str>,
        user: Option<&str>,
    ) -> Self {
        let host_in_url = if host.contains(':') && !host.starts_with('[') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let mut url = format!("{scheme}://");
        if let Some(user) = user.filter(|u| !u.is_empty()) {
            push_encoded(&mut url, user);
            url.push('@');
            self.sql.user = Some(user.to_owned());
        }
        url.push_str(&host_in_url);
        if let Some(port) = port {
            url.push(':');
            url.push_str(&port.to_string());
        }
        url.push('/');
        push_encoded(&mut url, database.unwrap_or_default());
        self.sql.url = Some(url);
        self.name = match database.filter(|d| !d.is_empty()) {
            Some(database) => format!("{database}@{host}"),
            None => host.to_owned(),
        };
        self
    }

    /// A server database described by a URL such as `postgres://user:password@host:5432/db?sslmode=disable`:
    /// the same as [`server`](Self::server) with the URL's parts. The password and the query string are left out.
    /// A URL that cannot be read leaves the endpoint as it was, with a debug log line.
    pub fn server_url(self, url: &str) -> Self {
        match UrlParts::parse(url) {
            Some(p) => {
                let user = p.user.map(percent_decode);
                let database = p.database.map(percent_decode);
                self.server(
                    p.scheme,
                    p.host,
                    p.port,
                    database.as_deref(),
                    user.as_deref(),
                )
            }
            None => {
                log::debug!("X-Ray: database URL without a host is not recorded");
                self
            }
        }
    }

    /// A SQLite database in `path` (`:memory:` or empty for an in-memory database): the URL `sqlite://<path>`
    /// (`sqlite::memory:` in memory) and the name of the file (`:memory:` in memory).
    pub fn file(mut self, path: &str) -> Self {
        if path.is_empty() || path == ":memory:" {
            self.sql.url = Some("sqlite::memory:".to_owned());
            self.name = ":memory:".to_owned();
        } else {
            self.sql.url = Some(format!("sqlite://{path}"));
            self.name = path
                .rsplit(['/', '\\'])
                .next()
                .filter(|n| !n.is_empty())
                .unwrap_or(path)
                .to_owned();
        }
        self
    }

    /// The server's version, as the server reports it.
    pub fn database_version(mut self, version: impl Into<String>) -> Self {
        self.sql.database_version = Some(version.into());
        self
    }

    /// The subsegments' name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The `sql` block without the statement's fields (`preparation`, `sanitized_query`).
    pub fn sql(&self) -> &Sql {
        &self.sql
    }
}

/// Appends `part` with the characters that would change a URL's structure escaped.
fn push_encoded(url: &mut String, part: &str) {
    for c in part.chars() {
        match c {
            '%' | '@' | ':' | '/' | '?' | '#' | '[' | ']' | ' ' => {
                url.push_str(&format!("%{:02X}", c as u32));
            }
            c => url.push(c),
        }
    }
}

/// The parts of `scheme://[user[:password]@]host[:port][/database][?query][#fragment]` that are recorded.
struct UrlParts<'a> {
    scheme: &'a str,
    user: Option<&'a str>,
    host: &'a str,
    port: Option<u16>,
    database: Option<&'a str>,
}

impl<'a> UrlParts<'a> {
    fn parse(url: &'a str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let rest = &rest[..rest.find(['?', '#']).unwrap_or(rest.len())];
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let user = userinfo
            .map(|u| u.split_once(':').map_or(u, |(user, _password)| user))
            .filter(|u| !u.is_empty());
        let (host, port) = if let Some(bracketed) = host_port.strip_prefix('[') {
            let (host, after) = bracketed.split_once(']')?;
            (host, after.strip_prefix(':'))
        } else {
            match host_port.rsplit_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (host_port, None),
            }
        };
        if host.is_empty() {
            return None;
        }
        let port = port.and_then(|p| p.parse().ok());
        let database = Some(path).filter(|p| !p.is_empty());
        Some(UrlParts {
            scheme,
            user,
            host,
            port,
            database,
        })
    }
}

/// Decodes the `%XX` escapes of a URL's user or database name (a malformed escape is kept as it is).
fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_lose_password_and_query() {
        let e = XraySqlEndpoint::new("PostgreSQL", "sqlx 0.9").server_url(
            "postgres://app%40corp:s3cret@DB.example.com:5432/orders?password=x&sslmode=off#f",
        );
        assert_eq!(e.name(), "orders@DB.example.com");
        assert_eq!(
            e.sql().url.as_deref(),
            Some("postgres://app%40corp@DB.example.com:5432/orders")
        );
        assert_eq!(e.sql().user.as_deref(), Some("app@corp"));
    }

    #[test]
    fn urls_without_user_port_or_database() {
        let e = XraySqlEndpoint::new("MySQL", "sqlx 0.9").server_url("mysql://[::1]");
        assert_eq!(e.name(), "::1");
        assert_eq!(e.sql().url.as_deref(), Some("mysql://[::1]/"));
        assert_eq!(e.sql().user, None);
        let bad = XraySqlEndpoint::new("MySQL", "sqlx 0.9").server_url("not a url");
        assert_eq!(bad.name(), "database");
        assert_eq!(bad.sql().url, None);
        let odd = XraySqlEndpoint::new("MySQL", "sqlx 0.9").server_url("mysql://h:99999/%zz%4");
        assert_eq!(odd.sql().url.as_deref(), Some("mysql://h/%25zz%254"));
    }

    #[test]
    fn sqlite_files() {
        let e = XraySqlEndpoint::new("SQLite", "rusqlite 0.43").file("/var/lib/app/data.db");
        assert_eq!(e.name(), "data.db");
        assert_eq!(
            e.sql().url.as_deref(),
            Some("sqlite:///var/lib/app/data.db")
        );
        let m = XraySqlEndpoint::new("SQLite", "rusqlite 0.43").file(":memory:");
        assert_eq!(m.name(), ":memory:");
        assert_eq!(m.sql().url.as_deref(), Some("sqlite::memory:"));
    }
}
