//! What the layer records: which spans, which fields as annotations, where the rest goes.

use std::borrow::Cow;

use tracing_core::{Level, LevelFilter, Metadata};
use xray_sdk_core::Recorder;

/// The longest annotation key X-Ray accepts.
const MAX_KEY_LEN: usize = 500;

/// The prefix of the SDK's own targets, whose spans and events are never traced.
const OWN_TARGET: &str = "xray_sdk";

/// The layer's settings, fixed once the layer is built.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    /// Field names recorded as annotations.
    pub(crate) annotations: Vec<String>,
    /// Field name prefixes recorded as annotations, the prefix removed from the key.
    pub(crate) annotation_prefixes: Vec<String>,
    /// The metadata namespace of the other fields; `None` records them nowhere.
    pub(crate) metadata_namespace: Option<String>,
    /// The most verbose level traced.
    pub(crate) max_level: LevelFilter,
    /// Target prefixes traced; empty traces every target.
    pub(crate) targets: Vec<String>,
    /// The recorder that begins a segment for each root span, when root spans start traces.
    pub(crate) root_segments: Option<Recorder>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            annotations: Vec::new(),
            annotation_prefixes: vec!["xray.".to_owned()],
            metadata_namespace: Some("tracing".to_owned()),
            max_level: LevelFilter::TRACE,
            targets: Vec::new(),
            root_segments: None,
        }
    }
}

impl Config {
    /// Whether spans and events of this callsite are traced at all.
    #[inline]
    pub(crate) fn traces(&self, metadata: &Metadata<'_>) -> bool {
        let target = metadata.target();
        *metadata.level() <= self.max_level
            && !target.starts_with(OWN_TARGET)
            && (self.targets.is_empty() || self.targets.iter().any(|t| matches_target(target, t)))
    }

    /// The annotation key for a field, when the field is an annotation: sanitized to `[A-Za-z0-9_]`, at most 500
    /// bytes.
    pub(crate) fn annotation_key<'a>(&self, field: &'a str) -> Option<Cow<'a, str>> {
        let key = if self.annotations.iter().any(|a| a == field) {
            field
        } else {
            self.annotation_prefixes
                .iter()
                .find_map(|p| field.strip_prefix(p.as_str()))?
        };
        if key.is_empty() {
            return None;
        }
        if key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Some(Cow::Borrowed(key));
        }
        Some(Cow::Owned(
            key.chars()
                .take(MAX_KEY_LEN)
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect(),
        ))
    }
}

/// Whether `target` is `prefix` or one of its modules (`my_app` matches `my_app` and `my_app::db`, not
/// `my_application`).
fn matches_target(target: &str, prefix: &str) -> bool {
    target
        .strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with("::") || prefix.ends_with("::"))
}

/// Whether an event at `level` is recorded as an exception.
#[inline]
pub(crate) fn is_error(level: &Level) -> bool {
    *level == Level::ERROR
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn targets_match_whole_module_paths() {
        assert!(matches_target("my_app", "my_app"));
        assert!(matches_target("my_app::db", "my_app"));
        assert!(!matches_target("my_application", "my_app"));
        assert!(matches_target("my_app::db", "my_app::"));
    }

    #[test]
    fn annotation_keys_are_sanitized() {
        let config = Config {
            annotations: vec!["order.id".into(), "".into()],
            ..Config::default()
        };
        assert_eq!(config.annotation_key("order.id").unwrap(), "order_id");
        assert_eq!(
            config.annotation_key("xray.user-name").unwrap(),
            "user_name"
        );
        assert_eq!(config.annotation_key("xray.é").unwrap(), "_");
        assert_eq!(config.annotation_key("xray."), None);
        assert_eq!(config.annotation_key(""), None);
        assert_eq!(config.annotation_key("other"), None);
        let long = format!("xray.{}", "a".repeat(600));
        assert_eq!(config.annotation_key(&long).unwrap().len(), 500);
    }
}
