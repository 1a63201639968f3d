//! What the recorder does when asked for the current segment and there is none.

use std::fmt;
use std::str::FromStr;

/// The `context_missing` strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContextMissing {
    /// The call returns [`ContextMissingError`](crate::ContextMissingError). Never a panic.
    RuntimeError,
    /// The call logs an error and goes on with a no-op entity. The default.
    #[default]
    LogError,
    /// The call goes on with a no-op entity, silently.
    IgnoreError,
}

impl ContextMissing {
    /// The name used in `AWS_XRAY_CONTEXT_MISSING`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            ContextMissing::RuntimeError => "RUNTIME_ERROR",
            ContextMissing::LogError => "LOG_ERROR",
            ContextMissing::IgnoreError => "IGNORE_ERROR",
        }
    }
}

impl ContextMissing {
    /// The strategy `AWS_XRAY_CONTEXT_MISSING` names in the process environment (read once), or the default.
    /// What `#[capture]` applies when no recorder is installed.
    pub(crate) fn from_env() -> ContextMissing {
        static FROM_ENV: std::sync::OnceLock<ContextMissing> = std::sync::OnceLock::new();
        *FROM_ENV.get_or_init(|| {
            std::env::var(super::env::CONTEXT_MISSING)
                .ok()
                .and_then(|value| value.parse().ok())
                .unwrap_or_default()
        })
    }
}

impl fmt::Display for ContextMissing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An unknown `context_missing` name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown context_missing strategy {0:?}; expected RUNTIME_ERROR, LOG_ERROR or IGNORE_ERROR"
)]
pub struct UnknownStrategy(pub String);

impl FromStr for ContextMissing {
    type Err = UnknownStrategy;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "RUNTIME_ERROR" => Ok(ContextMissing::RuntimeError),
            "LOG_ERROR" => Ok(ContextMissing::LogError),
            "IGNORE_ERROR" => Ok(ContextMissing::IgnoreError),
            other => Err(UnknownStrategy(other.to_owned())),
        }
    }
}
