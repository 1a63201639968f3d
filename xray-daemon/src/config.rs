//! What the daemon listens on, where it stores traces, and how long it keeps them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::api::HttpLimits;
use crate::forward::ForwardConfig;

/// The address of the X-Ray daemon's UDP segment port and of its TCP sampling API.
pub const DEFAULT_UDP_ADDRESS: &str = "127.0.0.1:2000";
/// The address of the JSON API.
pub const DEFAULT_API_ADDRESS: &str = "127.0.0.1:2001";

/// Where the trace store lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file, created if missing (with its parent folders).
    File(PathBuf),
    /// An in-memory database, gone when the daemon stops.
    Memory,
}

impl StoreLocation {
    /// The default file: `$XDG_DATA_HOME/xray/traces.sqlite3`, else `~/.local/share/xray/traces.sqlite3`, else
    /// `./xray-traces.sqlite3`.
    pub fn default_file() -> Self {
        let base = std::env::var_os("XDG_DATA_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .map(|home| PathBuf::from(home).join(".local").join("share"))
            });
        match base {
            Some(base) => StoreLocation::File(base.join("xray").join("traces.sqlite3")),
            None => StoreLocation::File(PathBuf::from("xray-traces.sqlite3")),
        }
    }
}

/// How much the store keeps. Whole traces are removed, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Traces not updated for longer than this are removed.
    pub max_age: Duration,
    /// When the stored documents and the invalid documents kept add up to more bytes than this, the oldest are
    /// removed: invalid documents past a tenth of this first, then the oldest traces.
    pub max_bytes: u64,
    /// How many invalid documents are kept aside for inspection (the newest ones).
    pub max_invalid: u64,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            max_age: Duration::from_secs(24 * 3600),
            max_bytes: 512 * 1024 * 1024,
            max_invalid: 1000,
        }
    }
}

/// The daemon's configuration. [`Config::default`] listens where the X-Ray daemon does, on loopback, and uses an
/// in-memory store (the `xray daemon` command defaults to [`StoreLocation::default_file`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The UDP address that receives segment documents. Port 0 picks a free port.
    pub udp_address: SocketAddr,
    /// The TCP address of the sampling API (`POST /GetSamplingRules`, `POST /SamplingTargets`); `None` (the
    /// default) listens on the UDP address, port included, as the X-Ray daemon does. With UDP port 0, the TCP
    /// listener takes the port the UDP socket got.
    pub sampling_address: Option<SocketAddr>,
    /// The local sampling rules file served by the sampling API (versions 1 and 2); `None` serves the default
    /// rule (1 request per second, then 5 %).
    pub sampling_rules: Option<PathBuf>,
    /// The HTTP address of the JSON API. Port 0 picks a free port.
    pub api_address: SocketAddr,
    /// The trace store.
    pub store: StoreLocation,
    /// Whether valid documents are written to the store; `false` (`xray daemon --no-store`) validates (and
    /// forwards) them only, keeps nothing, and leaves the store empty for the API.
    pub keep_traces: bool,
    /// What the store keeps.
    pub retention: Retention,
    /// The most memory datagrams may take while they wait between the UDP socket and the store; past it,
    /// datagrams are dropped and counted (`dropped` in the stats) so that memory stays bounded. Each datagram is
    /// charged its payload and what its entry costs besides ([`crate::ingest::budget::entry_cost`]: under 1 KB
    /// for a tiny one), so the bound holds for any mix of sizes.
    pub max_queued_bytes: usize,
    /// The longest a received datagram may wait before it is written to the store: while the oldest one waiting
    /// has waited longer (the store cannot keep up), new datagrams are dropped and counted (`dropped`), so that a
    /// crash of the daemon loses at most what arrived in this time. 500 ms by default.
    pub max_write_delay: Duration,
    /// The socket receive buffer asked of the kernel (capped by `net.core.rmem_max`).
    pub udp_receive_buffer: usize,
    /// Host names the JSON API and viewer answer to, besides IP addresses and `localhost` (for example the
    /// daemon's name in a container network). Other `Host`s get a 421: a web page cannot rebind its own name to
    /// the daemon's address and read the traces ([`crate::api::guard`]).
    pub allowed_hosts: Vec<String>,
    /// The timeouts and connection limit of every HTTP listener (the API and viewer, the sampling API).
    pub http_limits: HttpLimits,
    /// The longest a store query of the API may run: past it, the query stops and the API answers 503
    /// ([`crate::api::error::ApiError::query_timeout`]). 5 s by default.
    pub query_timeout: Duration,
    /// Forwarding of every valid document to AWS X-Ray; `None` (the default) keeps them local.
    pub forward: Option<ForwardConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            udp_address: SocketAddr::from(([127, 0, 0, 1], 2000)),
            sampling_address: None,
            sampling_rules: None,
            api_address: SocketAddr::from(([127, 0, 0, 1], 2001)),
            store: StoreLocation::Memory,
            keep_traces: true,
            retention: Retention::default(),
            max_queued_bytes: 64 * 1024 * 1024,
            udp_receive_buffer: 4 * 1024 * 1024,
            max_write_delay: Duration::from_millis(500),
            allowed_hosts: Vec::new(),
            http_limits: HttpLimits::default(),
            query_timeout: crate::store::DEFAULT_QUERY_TIMEOUT,
            forward: None,
        }
    }
}

impl Config {
    /// A configuration for tests and embedding: loopback, port 0 for the listeners (the sampling API on the UDP
    /// socket's port), in-memory store.
    pub fn ephemeral() -> Self {
        Config {
            udp_address: SocketAddr::from(([127, 0, 0, 1], 0)),
            api_address: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..Config::default()
        }
    }
}

/// Parses a duration such as `500ms`, `90`, `90s`, `15m`, `24h` or `7d` (a bare number is seconds).
///
/// # Errors
/// A message naming the text when it is not a whole number with an optional `ms`, `s`, `m`, `h` or `d` suffix.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => text.split_at(i),
        None => (text, "s"),
    };
    let n: u64 = digits.parse().map_err(|_| {
        format!("invalid duration {text:?}: expected e.g. 500ms, 90s, 15m, 24h or 7d")
    })?;
    if unit == "ms" {
        return Ok(Duration::from_millis(n));
    }
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    };
    secs.map(Duration::from_secs).ok_or_else(|| {
        format!("invalid duration {text:?}: expected e.g. 500ms, 90s, 15m, 24h or 7d")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_durations() {
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("24h"), Ok(Duration::from_secs(86_400)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("").is_err());
    }
}
