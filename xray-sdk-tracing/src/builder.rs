//! Settings of an [`XrayLayer`].

use tracing_core::LevelFilter;
use xray_sdk_core::Recorder;

use crate::XrayLayer;
use crate::config::Config;

/// Builds an [`XrayLayer`] with settings of its own. Made by [`XrayLayer::builder`].
///
/// ```
/// use tracing::Level;
/// use xray_sdk_tracing::XrayLayer;
///
/// let layer = XrayLayer::builder()
///     .annotation("order_id")
///     .max_level(Level::INFO)
///     .target("my_app")
///     .build();
/// ```
#[derive(Debug, Default)]
#[must_use = "call build() to make the layer"]
pub struct XrayLayerBuilder {
    config: Config,
}

impl XrayLayerBuilder {
    /// Records the span field `name` as an annotation (an indexed, searchable key), its key sanitized to
    /// `[A-Za-z0-9_]` (`order.id` → `order_id`).
    pub fn annotation(mut self, name: impl Into<String>) -> Self {
        self.config.annotations.push(name.into());
        self
    }

    /// Records span fields whose name starts with `prefix` as annotations, keyed by the rest of their name,
    /// sanitized. The default prefix is `xray.`; adding a prefix keeps it.
    pub fn annotation_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.config.annotation_prefixes.push(prefix.into());
        self
    }

    /// Removes every annotation prefix, `xray.` included.
    pub fn no_annotation_prefixes(mut self) -> Self {
        self.config.annotation_prefixes.clear();
        self
    }

    /// The metadata namespace of the fields that are not annotations (default `tracing`); `None` leaves them
    /// out.
    pub fn metadata_namespace(mut self, namespace: Option<&str>) -> Self {
        self.config.metadata_namespace = namespace.map(str::to_owned);
        self
    }

    /// Traces spans and error events up to this level of verbosity only (`INFO` traces `ERROR`, `WARN` and
    /// `INFO`).
    pub fn max_level(mut self, level: impl Into<LevelFilter>) -> Self {
        self.config.max_level = level.into();
        self
    }

    /// Traces the spans of `target` (a module path prefix: `my_app` covers `my_app::db`) and of the other
    /// targets given this way only. Without a target, every target is traced. The SDK's own targets
    /// (`xray_sdk*`) are never traced.
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.config.targets.push(target.into());
        self
    }

    /// Begins a segment for each root span (a span with no parent, opened while no X-Ray entity is current),
    /// sampled as `recorder`'s sampler decides, for services traced with `tracing` alone. The segment ends when
    /// the span closes and is then sent.
    pub fn root_segments(mut self, recorder: Recorder) -> Self {
        self.config.root_segments = Some(recorder);
        self
    }

    /// The layer.
    pub fn build(self) -> XrayLayer {
        XrayLayer::from_config(self.config)
    }
}
