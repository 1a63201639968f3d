//! The limits of `xray daemon` on its command line: the HTTP listeners' timeouts and connections, how long a
//! datagram may wait for the store, and how long a store query may run.

use std::time::Duration;

use clap::Args;

use crate::config::{Config, parse_duration};

/// The limit options of `xray daemon`; those not given keep [`Config`]'s defaults.
#[derive(Debug, Clone, Default, Args)]
pub struct LimitArgs {
    /// The longest an HTTP client may take to send a request's headers (e.g. 500ms, 10s) [default: 10s].
    #[arg(long = "http-header-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub http_header_timeout: Option<Duration>,
    /// The longest an HTTP connection may stay idle before it is closed [default: 60s].
    #[arg(long = "http-idle-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub http_idle_timeout: Option<Duration>,
    /// The most HTTP connections served at once by each listener; others wait [default: 256].
    #[arg(long = "http-max-connections", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub http_max_connections: Option<u32>,
    /// The longest a received datagram may wait to be stored; while the store is further behind, datagrams are
    /// dropped and counted [default: 500ms].
    #[arg(long = "max-write-delay", value_name = "DURATION", value_parser = parse_duration)]
    pub max_write_delay: Option<Duration>,
    /// The longest a store query of the API may run before it is stopped with a 503 [default: 5s].
    #[arg(long = "query-timeout", value_name = "DURATION", value_parser = parse_duration)]
    pub query_timeout: Option<Duration>,
}

impl LimitArgs {
    /// Sets the limits given on `config`.
    pub fn apply(&self, config: &mut Config) {
        let http = &mut config.http_limits;
        if let Some(timeout) = self.http_header_timeout {
            http.header_read_timeout = timeout;
        }
        if let Some(timeout) = self.http_idle_timeout {
            http.idle_timeout = timeout;
        }
        if let Some(n) = self.http_max_connections {
            http.max_connections = usize::try_from(n).unwrap_or(usize::MAX);
        }
        if let Some(delay) = self.max_write_delay {
            config.max_write_delay = delay;
        }
        if let Some(timeout) = self.query_timeout {
            config.query_timeout = timeout;
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::api::HttpLimits;
    use crate::cli::{Cli, Command};

    fn config(args: &[&str]) -> Config {
        let cli = Cli::try_parse_from([&["xray", "daemon", "--memory"], args].concat()).unwrap();
        let Command::Daemon(args) = cli.command else {
            panic!("not the daemon command");
        };
        args.settings().unwrap().config
    }

    #[test]
    fn limits_from_the_command_line() {
        let config = config(&[
            "--http-header-timeout",
            "3s",
            "--http-idle-timeout",
            "2m",
            "--http-max-connections",
            "7",
            "--max-write-delay",
            "250ms",
            "--query-timeout",
            "1500ms",
        ]);
        assert_eq!(
            config.http_limits,
            HttpLimits {
                header_read_timeout: Duration::from_secs(3),
                idle_timeout: Duration::from_secs(120),
                max_connections: 7,
            }
        );
        assert_eq!(config.max_write_delay, Duration::from_millis(250));
        assert_eq!(config.query_timeout, Duration::from_millis(1500));
    }

    #[test]
    fn limits_not_given_keep_the_defaults() {
        let config = config(&[]);
        let defaults = Config::default();
        assert_eq!(config.http_limits, defaults.http_limits);
        assert_eq!(config.max_write_delay, defaults.max_write_delay);
        assert_eq!(config.query_timeout, defaults.query_timeout);
    }

    #[test]
    fn bad_limits_are_refused() {
        for args in [
            ["--http-max-connections", "0"],
            ["--max-write-delay", "1w"],
            ["--query-timeout", "soon"],
        ] {
            let parsed = Cli::try_parse_from([&["xray", "daemon"][..], &args[..]].concat());
            assert!(parsed.is_err(), "{args:?}");
        }
    }
}
