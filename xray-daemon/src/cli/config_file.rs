//! `xray daemon -c FILE`: the X-Ray daemon's YAML configuration file, read as that daemon reads it, so that a
//! deployment keeps its file when it swaps binaries.
//!
//! Every key of the file's version 2 is known. The ones this daemon acts on are `Socket.UDPAddress`,
//! `Socket.TCPAddress`, `Region`, `Endpoint`, `TotalBufferSizeMB` (0: 1 % of the host's memory),
//! `Concurrency`, `RoleARN`, `LocalMode`, `Logging.LogLevel`, `Logging.LogPath` and `Version`. The others are
//! accepted at their "off" value (`""`, `false`) and refused otherwise, saying why; an unknown key is refused
//! too, so that a typing mistake never goes unnoticed. An empty string means "not set", as in the X-Ray daemon's
//! sample file. Command-line options win over the file.

use std::net::SocketAddr;
use std::path::Path;

use log::LevelFilter;
use serde::Deserialize;

/// What a configuration file sets; `None` is "not set".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSettings {
    /// `Socket.UDPAddress`.
    pub udp_address: Option<SocketAddr>,
    /// `Socket.TCPAddress`.
    pub tcp_address: Option<SocketAddr>,
    /// `Region`.
    pub region: Option<String>,
    /// `Endpoint`.
    pub endpoint: Option<String>,
    /// `TotalBufferSizeMB`, with 0 worked out as 1 % of the host's memory.
    pub buffer_size_mb: Option<u64>,
    /// `Concurrency`.
    pub concurrency: Option<u16>,
    /// `RoleARN`.
    pub role_arn: Option<String>,
    /// `LocalMode`.
    pub local_mode: Option<bool>,
    /// `Logging.LogLevel`.
    pub log_level: Option<LevelFilter>,
    /// `Logging.LogPath`.
    pub log_path: Option<String>,
    /// `Logging.LogRotation` (the X-Ray daemon rotates its log file by default; this one never does, and says
    /// so when a log file is set).
    pub log_rotation: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct RawFile {
    #[serde(rename = "TotalBufferSizeMB")]
    total_buffer_size_mb: Option<u64>,
    concurrency: Option<u16>,
    region: Option<String>,
    endpoint: Option<String>,
    socket: Option<RawSocket>,
    logging: Option<RawLogging>,
    local_mode: Option<bool>,
    #[serde(rename = "ResourceARN")]
    resource_arn: Option<String>,
    #[serde(rename = "RoleARN")]
    role_arn: Option<String>,
    #[serde(rename = "NoVerifySSL")]
    no_verify_ssl: Option<bool>,
    proxy_address: Option<String>,
    version: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSocket {
    #[serde(rename = "UDPAddress")]
    udp_address: Option<String>,
    #[serde(rename = "TCPAddress")]
    tcp_address: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "PascalCase")]
struct RawLogging {
    log_rotation: Option<bool>,
    log_level: Option<String>,
    log_path: Option<String>,
}

/// Reads the configuration file at `path`.
///
/// # Errors
/// A message naming the file and what is wrong: unreadable, not YAML, an unknown key, a value out of range, or a
/// setting this daemon does not support.
pub fn read(path: &Path) -> Result<FileSettings, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read the configuration file {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("configuration file {}: {e}", path.display()))
}

/// Reads a configuration file's text (see [`read`]).
///
/// ```
/// use xray_daemon::cli::config_file::parse;
///
/// let settings = parse("Region: \"eu-west-1\"\nSocket:\n  UDPAddress: \"0.0.0.0:2000\"\nVersion: 2\n").unwrap();
/// assert_eq!(settings.region.as_deref(), Some("eu-west-1"));
/// assert!(parse("NoVerifySSL: true\n").unwrap_err().contains("NoVerifySSL"));
/// ```
///
/// # Errors
/// A message saying what is wrong, as for [`read`].
pub fn parse(text: &str) -> Result<FileSettings, String> {
    let raw: RawFile = if text.trim().is_empty() {
        RawFile::default()
    } else {
        serde_saphyr::from_str(text).map_err(|e| e.to_string())?
    };
    if let Some(version) = raw.version.filter(|v| !matches!(v, 1 | 2)) {
        return Err(format!(
            "Version {version}: versions 1 and 2 of the X-Ray daemon's file are read"
        ));
    }
    if let Some(arn) = set(raw.resource_arn) {
        return Err(format!(
            "ResourceARN {arn}: not supported (it labels the daemon's own telemetry records, which this daemon \
             does not send); remove it"
        ));
    }
    if raw.no_verify_ssl == Some(true) {
        return Err(
            "NoVerifySSL: true is not supported: TLS certificates are always checked".to_owned(),
        );
    }
    if let Some(proxy) = set(raw.proxy_address) {
        return Err(format!(
            "ProxyAddress {proxy}: sending to X-Ray through a proxy is not supported"
        ));
    }
    let socket = raw.socket.unwrap_or_default();
    let logging = raw.logging.unwrap_or_default();
    let buffer_size_mb = match raw.total_buffer_size_mb {
        Some(0) => Some(host_memory_mb().map_or(16, |mb| (mb / 100).max(3))),
        Some(mb) if mb < 3 => {
            return Err(format!(
                "TotalBufferSizeMB {mb}: the least is 3 (or 0 for 1 % of the host's memory)"
            ));
        }
        other => other,
    };
    if raw.concurrency == Some(0) {
        return Err("Concurrency 0: at least one call must be allowed in flight".to_owned());
    }
    Ok(FileSettings {
        udp_address: address("Socket.UDPAddress", socket.udp_address)?,
        tcp_address: address("Socket.TCPAddress", socket.tcp_address)?,
        region: set(raw.region),
        endpoint: set(raw.endpoint),
        buffer_size_mb,
        concurrency: raw.concurrency,
        role_arn: set(raw.role_arn),
        local_mode: raw.local_mode,
        log_level: set(logging.log_level)
            .map(|level| log_level(&level))
            .transpose()?,
        log_path: set(logging.log_path),
        log_rotation: logging.log_rotation,
    })
}

/// The X-Ray daemon's log levels, from most verbose to least: `dev`, `debug`, `info`, `warn`, `error`, and `prod`
/// (its default, which logs what `info` does).
///
/// # Errors
/// A message listing the levels when `name` is none of them.
pub fn log_level(name: &str) -> Result<LevelFilter, String> {
    match name {
        "dev" => Ok(LevelFilter::Trace),
        "debug" => Ok(LevelFilter::Debug),
        "info" | "prod" => Ok(LevelFilter::Info),
        "warn" => Ok(LevelFilter::Warn),
        "error" => Ok(LevelFilter::Error),
        _ => Err(format!(
            "log level {name:?}: expected dev, debug, info, warn, error or prod"
        )),
    }
}

/// A string setting: empty means not set.
fn set(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn address(key: &str, value: Option<String>) -> Result<Option<SocketAddr>, String> {
    set(value)
        .map(|text| {
            text.parse().map_err(|_| {
                format!("{key} {text:?}: expected an IP address and port, such as 127.0.0.1:2000")
            })
        })
        .transpose()
}

/// The host's memory in MiB, from `/proc/meminfo`.
fn host_memory_mb() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: u64 = info
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The X-Ray daemon's sample file, every key at its default.
    const SAMPLE: &str = "\
# Maximum buffer size in MB (minimum 3). Choose 0 to use 1% of host memory.
TotalBufferSizeMB: 0
Concurrency: 8
Region: \"\"
Endpoint: \"\"
Socket:
  UDPAddress: \"127.0.0.1:2000\"
  TCPAddress: \"127.0.0.1:2000\"
Logging:
  LogRotation: true
  LogLevel: \"prod\"
  LogPath: \"\"
LocalMode: false
ResourceARN: \"\"
RoleARN: \"\"
NoVerifySSL: false
ProxyAddress: \"\"
Version: 2
";

    #[test]
    fn the_sample_file_reads_as_its_defaults() {
        let settings = parse(SAMPLE).unwrap();
        let local: SocketAddr = "127.0.0.1:2000".parse().unwrap();
        let expected_buffer = host_memory_mb().map_or(16, |mb| (mb / 100).max(3));
        assert_eq!(
            settings,
            FileSettings {
                udp_address: Some(local),
                tcp_address: Some(local),
                buffer_size_mb: Some(expected_buffer),
                concurrency: Some(8),
                local_mode: Some(false),
                log_level: Some(LevelFilter::Info),
                log_rotation: Some(true),
                ..FileSettings::default()
            }
        );
    }

    #[test]
    fn every_supported_key_is_read() {
        let text = "\
TotalBufferSizeMB: 24
Concurrency: 3
Region: us-west-2
Endpoint: http://127.0.0.1:4566
Socket:
  UDPAddress: 0.0.0.0:3000
  TCPAddress: 0.0.0.0:3001
Logging:
  LogLevel: dev
  LogPath: /var/log/xray.log
LocalMode: true
RoleARN: arn:aws:iam::123456789012:role/xray
Version: 1
";
        assert_eq!(
            parse(text).unwrap(),
            FileSettings {
                udp_address: Some("0.0.0.0:3000".parse().unwrap()),
                tcp_address: Some("0.0.0.0:3001".parse().unwrap()),
                region: Some("us-west-2".to_owned()),
                endpoint: Some("http://127.0.0.1:4566".to_owned()),
                buffer_size_mb: Some(24),
                concurrency: Some(3),
                role_arn: Some("arn:aws:iam::123456789012:role/xray".to_owned()),
                local_mode: Some(true),
                log_level: Some(LevelFilter::Trace),
                log_path: Some("/var/log/xray.log".to_owned()),
                log_rotation: None,
            }
        );
        assert_eq!(parse("").unwrap(), FileSettings::default());
    }

    #[test]
    fn what_is_not_supported_is_refused_with_the_reason() {
        let cases = [
            (
                "Version: 3\n",
                "Version 3: versions 1 and 2 of the X-Ray daemon's file are read",
            ),
            (
                "NoVerifySSL: true\n",
                "NoVerifySSL: true is not supported: TLS certificates are always checked",
            ),
            (
                "ProxyAddress: \"http://proxy:3128\"\n",
                "ProxyAddress http://proxy:3128: sending to X-Ray through a proxy is not supported",
            ),
            (
                "TotalBufferSizeMB: 2\n",
                "TotalBufferSizeMB 2: the least is 3 (or 0 for 1 % of the host's memory)",
            ),
            (
                "Concurrency: 0\n",
                "Concurrency 0: at least one call must be allowed in flight",
            ),
            (
                "Logging:\n  LogLevel: loud\n",
                "log level \"loud\": expected dev, debug, info, warn, error or prod",
            ),
            (
                "Socket:\n  UDPAddress: \"localhost\"\n",
                "Socket.UDPAddress \"localhost\": expected an IP address and port, such as 127.0.0.1:2000",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).unwrap_err(), expected, "{text}");
        }
        let arn =
            parse("ResourceARN: arn:aws:ec2:us-east-1:123456789012:instance/i-1\n").unwrap_err();
        assert!(
            arn.starts_with(
                "ResourceARN arn:aws:ec2:us-east-1:123456789012:instance/i-1: not supported"
            ),
            "{arn}"
        );
    }

    #[test]
    fn unknown_keys_and_wrong_types_are_refused() {
        for text in [
            "Regoin: us-east-1\n",
            "Socket:\n  UDPAdress: 127.0.0.1:2000\n",
            "Concurrency: many\n",
            "Concurrency: 70000\n",
            "- a list\n",
            "Region: [unclosed\n",
        ] {
            assert!(parse(text).is_err(), "{text}");
        }
        let unknown = parse("Regoin: us-east-1\n").unwrap_err();
        assert!(unknown.contains("Regoin"), "{unknown}");
    }
}
