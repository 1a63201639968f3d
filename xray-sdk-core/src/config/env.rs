//! Where configuration reads environment variables from: the process, or a map in tests.

use std::collections::HashMap;
use std::fmt;

/// `AWS_XRAY_DAEMON_ADDRESS`: where the daemon listens.
pub const DAEMON_ADDRESS: &str = "AWS_XRAY_DAEMON_ADDRESS";
/// `AWS_XRAY_CONTEXT_MISSING`: what to do when there is no current segment.
pub const CONTEXT_MISSING: &str = "AWS_XRAY_CONTEXT_MISSING";
/// `AWS_XRAY_TRACING_NAME`: the service name, used as the default segment name.
pub const TRACING_NAME: &str = "AWS_XRAY_TRACING_NAME";
/// `AWS_XRAY_SDK_ENABLED`: `false` turns the SDK into no-ops.
pub const SDK_ENABLED: &str = "AWS_XRAY_SDK_ENABLED";
/// `AWS_XRAY_NOOP_ID`: `false` gives unsampled entities random ids instead of the no-op id.
pub const NOOP_ID: &str = "AWS_XRAY_NOOP_ID";

/// A source of environment variables. Configuration reads through this trait so that tests never have to
/// change the process environment.
pub trait EnvSource: Send + Sync + fmt::Debug {
    /// The value of `name`, if set (and valid Unicode).
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl EnvSource for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed set of variables, for tests.
#[derive(Debug, Clone, Default)]
pub struct MapEnv(HashMap<String, String>);

impl MapEnv {
    /// An environment with these variables and no others.
    pub fn new<K: Into<String>, V: Into<String>>(vars: impl IntoIterator<Item = (K, V)>) -> Self {
        MapEnv(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl EnvSource for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Parses a boolean the way `AWS_XRAY_SDK_ENABLED` is read: `y`, `yes`, `t`, `true`, `on`, `1` are true; `n`,
/// `no`, `f`, `false`, `off`, `0` are false, in any case, ignoring surrounding whitespace. Anything else is
/// `None`.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "y" | "yes" | "t" | "true" | "on" | "1" => Some(true),
        "n" | "no" | "f" | "false" | "off" | "0" => Some(false),
        _ => None,
    }
}
