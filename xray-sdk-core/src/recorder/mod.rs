//! The recorder: begins segments, finds the current entity, and hands finished documents to the emitter.

mod builder;
mod facade;
mod global;
mod segment_builder;

pub use builder::{RUSTC_VERSION, RecorderBuilder, SDK_NAME, SDK_VERSION};
pub(crate) use global::installed;
pub use global::{FlushGuard, InstallError, global, install};
pub use segment_builder::{SegmentBuilder, SubsegmentBuilder};

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde::Serialize;
use xray_sdk_types::AnnotationValue;
use xray_sdk_types::document::{Aws, Service};

use crate::ContextMissingError;
use crate::config::{Config, ContextMissing};
use crate::context::{self, FutureExt, SegmentGuard, SubsegmentGuard};
use crate::entity::{Entity, Pipeline};
use crate::plugins::{Platform, PlatformSlot};
use crate::sampling::SharedSampler;

/// What every clone of a recorder shares.
pub(crate) struct Inner {
    pub(crate) config: Config,
    /// Whether the SDK records: the configuration's `enabled`, changed at run time by
    /// [`Recorder::set_enabled`].
    pub(crate) enabled: AtomicBool,
    pub(crate) sampler: SharedSampler,
    /// What sampled trees need: the emitter, the clock, the limits.
    pub(crate) pipeline: Arc<Pipeline>,
    /// The name of segments when none is given or configured.
    pub(crate) default_name: String,
    pub(crate) aws_template: Aws,
    pub(crate) service_template: Service,
    /// What the plugins found, once they have finished.
    pub(crate) platform: Arc<PlatformSlot>,
}

/// Records segments and subsegments and sends them to the daemon.
///
/// Cheap to clone (an `Arc`), `Send + Sync`. Build one with [`Recorder::builder`], or use the process-wide
/// [`global`] recorder.
///
/// ```
/// use xray_sdk_core::Recorder;
/// # use xray_sdk_core::emitter::MemoryEmitter;
///
/// # let emitter = MemoryEmitter::new();
/// let recorder = Recorder::builder().service_name("checkout")
/// #   .emitter(emitter.clone()).sampler(xray_sdk_core::sampling::AlwaysSample)
///     .build()?;
/// {
///     let segment = recorder.begin_segment("checkout");
///     segment.put_annotation("customer", "alice");
///     let query = recorder.begin_subsegment("load cart")?;
///     query.put_metadata("rows", &3);
/// } // both end here, and the segment is sent
/// # assert_eq!(emitter.documents().len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Recorder {
    pub(crate) inner: Arc<Inner>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("config", &self.inner.config)
            .field("sampler", &self.inner.sampler)
            .field("emitter", &self.inner.pipeline.emitter)
            .finish()
    }
}

impl Recorder {
    /// A builder.
    pub fn builder() -> RecorderBuilder {
        RecorderBuilder::default()
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// Whether the SDK is enabled.
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::Relaxed)
    }

    /// Turns the SDK off or on while the program runs, for this recorder and all its clones (what
    /// `global_sdk_config.set_sdk_enabled` does in the Python SDK). While off, new segments record nothing and
    /// pass the incoming trace header on unchanged; entities already begun carry on.
    ///
    /// ```
    /// # use xray_sdk_core::{Recorder, emitter::MemoryEmitter, sampling::AlwaysSample};
    /// # let emitter = MemoryEmitter::new();
    /// # let recorder = Recorder::builder().emitter(emitter.clone()).sampler(AlwaysSample).build()?;
    /// recorder.set_enabled(false);
    /// drop(recorder.begin_segment("quiet"));
    /// recorder.set_enabled(true);
    /// drop(recorder.begin_segment("traced"));
    /// # assert_eq!(emitter.documents().len(), 1);
    /// # Ok::<(), xray_sdk_core::BuildError>(())
    /// ```
    pub fn set_enabled(&self, enabled: bool) {
        self.inner.enabled.store(enabled, Ordering::Relaxed);
    }

    /// The sampler.
    pub fn sampler(&self) -> &SharedSampler {
        &self.inner.sampler
    }

    /// Where the service runs, as the plugins found it: `None` without plugins, while detection is under way,
    /// or when no platform was found. See [`plugins`](crate::plugins).
    pub fn platform(&self) -> Option<&Platform> {
        self.inner.platform.get().map(|d| &d.platform)
    }

    /// Waits until the plugins have finished detecting, or `timeout` has passed, and returns what they found.
    /// This blocks: call it from a setup step or a test, never on a request path. Without plugins it returns
    /// at once.
    pub fn wait_for_platform(&self, timeout: Duration) -> Option<&Platform> {
        self.inner.platform.wait(timeout).map(|d| &d.platform)
    }

    /// The segment name for a request to `host`: by dynamic naming when configured, else the service name
    /// (from the builder, or `AWS_XRAY_TRACING_NAME`), else the executable's file name.
    pub fn segment_name<'a>(&'a self, host: Option<&'a str>) -> &'a str {
        match &self.inner.config.dynamic_naming {
            Some(naming) => naming.name_for(host),
            None => &self.inner.default_name,
        }
    }

    /// Prepares a segment: set the incoming trace header, sampling inputs or start time, then begin it.
    #[inline]
    pub fn segment<'a>(&'a self, name: &'a str) -> SegmentBuilder<'a> {
        SegmentBuilder::new(self, name)
    }

    /// Begins a new trace with a segment, and makes it the current entity until the guard drops. The sampler
    /// decides whether it is recorded.
    #[inline]
    pub fn begin_segment(&self, name: &str) -> SegmentGuard {
        self.segment(name).begin()
    }

    /// Prepares a subsegment of the current entity.
    #[inline]
    pub fn subsegment<'a>(&'a self, name: &'a str) -> SubsegmentBuilder<'a> {
        SubsegmentBuilder::new(self, name)
    }

    /// Begins a subsegment of the current entity and makes it current until the guard drops.
    ///
    /// # Errors
    /// [`ContextMissingError`] when there is no current entity and the strategy is `RUNTIME_ERROR`. Under
    /// the other strategies the guard holds a no-op subsegment.
    #[inline]
    pub fn begin_subsegment(&self, name: &str) -> Result<SubsegmentGuard, ContextMissingError> {
        // The unsampled case first and on its own: a child of an unsampled entity is unsampled too and leaves
        // the context alone, so it is built straight from the current entity, nearly free.
        match context::unsampled_child() {
            Some(child) => Ok(SubsegmentGuard::detached(child)),
            None => self.begin_sampled_subsegment(name),
        }
    }

    #[inline(never)]
    fn begin_sampled_subsegment(&self, name: &str) -> Result<SubsegmentGuard, ContextMissingError> {
        // Without the builder: a child of a sampled entity becomes current.
        match context::with_current_sampled(|parent| parent.child(name, None, None, false)) {
            Some(child) => Ok(SubsegmentGuard::attached(child)),
            None => self.subsegment(name).begin(),
        }
    }

    /// Begins a subsegment that is never sampled (nor sent), whatever its parent. It is current until it ends;
    /// calls made inside it propagate `Sampled=0` with the trace id.
    ///
    /// # Errors
    /// As [`Recorder::begin_subsegment`].
    pub fn begin_subsegment_without_sampling(
        &self,
        name: &str,
    ) -> Result<SubsegmentGuard, ContextMissingError> {
        self.subsegment(name).without_sampling().begin()
    }

    /// Ends the current subsegment; its parent becomes current, or nothing once the segment has been sent.
    ///
    /// # Errors
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is no current subsegment.
    pub fn end_subsegment(&self) -> Result<(), ContextMissingError> {
        let current = context::current();
        if let Some(entity) = current.as_ref().filter(|e| !e.is_sampled()) {
            // The subsegments of an unsampled trace never become current: there is nothing to end. One begun
            // without sampling under a sampled entity does, and gives the context back to that entity.
            if !entity.is_segment()
                && let Some(parent) = entity.parent()
            {
                context::replace(parent.open_self_or_ancestor());
            }
            return Ok(());
        }
        match current.filter(|e| !e.is_segment()) {
            Some(entity) => {
                // The nearest open ancestor, found before the end folds this entity into its tree: none when the
                // segment has ended, and is sent with its last subsegment.
                let next = entity.parent().and_then(|p| p.open_self_or_ancestor());
                entity.end();
                context::replace(next);
                Ok(())
            }
            None => self
                .context_missing("no subsegment to end")
                .map(|_: Option<()>| ()),
        }
    }

    /// Ends the current segment. Subsegments still open keep it from being sent until they end, and stay
    /// current until then; once the segment is sent, the context is cleared.
    ///
    /// # Errors
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is no current segment.
    pub fn end_segment(&self) -> Result<(), ContextMissingError> {
        match context::current() {
            Some(entity) => {
                let segment = entity.segment();
                segment.end();
                if segment.is_sent() || !segment.is_sampled() {
                    context::replace(None);
                }
                Ok(())
            }
            None => self
                .context_missing("no segment to end")
                .map(|_: Option<()>| ()),
        }
    }

    /// The current entity.
    ///
    /// # Errors
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is none.
    pub fn current_entity(&self) -> Result<Option<Entity>, ContextMissingError> {
        match context::current() {
            Some(e) => Ok(Some(e)),
            None => self.context_missing("no current entity"),
        }
    }

    /// The segment of the current entity.
    ///
    /// # Errors
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is none.
    pub fn current_segment(&self) -> Result<Option<Entity>, ContextMissingError> {
        Ok(self.current_entity()?.map(|e| e.segment()))
    }

    /// The current entity if it is a subsegment.
    ///
    /// # Errors
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is no current entity.
    pub fn current_subsegment(&self) -> Result<Option<Entity>, ContextMissingError> {
        Ok(self.current_entity()?.filter(|e| !e.is_segment()))
    }

    /// Makes `entity` the current entity (of this thread, or of the instrumented future being polled).
    pub fn set_trace_entity(&self, entity: Entity) {
        context::replace(Some(entity));
    }

    /// Clears the current entity.
    pub fn clear_trace_entities(&self) {
        context::replace(None);
    }

    /// Whether the current entity is recorded.
    pub fn is_sampled(&self) -> bool {
        context::current().is_some_and(|e| e.is_sampled())
    }

    /// Adds an annotation to the current entity.
    ///
    /// # Errors
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is no current entity.
    pub fn put_annotation(
        &self,
        key: &str,
        value: impl Into<AnnotationValue>,
    ) -> Result<(), ContextMissingError> {
        if let Some(e) = self.current_entity()? {
            e.put_annotation(key, value);
        }
        Ok(())
    }

    /// Adds metadata to the current entity, in the `default` namespace.
    ///
    /// # Errors
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is no current entity.
    pub fn put_metadata<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
    ) -> Result<(), ContextMissingError> {
        if let Some(e) = self.current_entity()? {
            e.put_metadata(key, value);
        }
        Ok(())
    }

    /// Runs `f` inside a new segment that ends (and records a panic) when `f` returns. To record a returned
    /// `Err` as well, use [`Recorder::try_in_segment`].
    pub fn in_segment<R>(&self, name: &str, f: impl FnOnce(&Entity) -> R) -> R {
        let guard = self.begin_segment(name);
        f(&guard)
    }

    /// Runs `f` inside a new segment, and records the error it returns (with its `source()` chain) as a
    /// fault, and a panic as one too. The result is returned unchanged.
    ///
    /// ```
    /// # use xray_sdk_core::{Recorder, emitter::MemoryEmitter, sampling::AlwaysSample};
    /// # let emitter = MemoryEmitter::new();
    /// # let recorder = Recorder::builder().emitter(emitter.clone()).sampler(AlwaysSample).build()?;
    /// let parsed = recorder.try_in_segment("parse", |_| "forty-two".parse::<u32>());
    /// assert!(parsed.is_err());
    /// # assert_eq!(emitter.documents()[0].fault, Some(true));
    /// # Ok::<(), xray_sdk_core::BuildError>(())
    /// ```
    pub fn try_in_segment<T, E: std::error::Error + 'static>(
        &self,
        name: &str,
        f: impl FnOnce(&Entity) -> Result<T, E>,
    ) -> Result<T, E> {
        let guard = self.begin_segment(name);
        let result = f(&guard);
        if let Err(e) = &result {
            guard.add_error(e);
        }
        result
    }

    /// Runs `f` inside a new subsegment of the current entity. To record a returned `Err` as well, use
    /// [`Recorder::try_in_subsegment`].
    ///
    /// # Errors
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is no current entity; `f` is not run then.
    pub fn in_subsegment<R>(
        &self,
        name: &str,
        f: impl FnOnce(&Entity) -> R,
    ) -> Result<R, ContextMissingError> {
        let guard = self.begin_subsegment(name)?;
        Ok(f(&guard))
    }

    /// Runs `f` inside a new subsegment of the current entity, and records the error it returns (with its
    /// `source()` chain) as a fault. `f`'s result is returned unchanged, inside the outer `Ok`.
    ///
    /// # Errors
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is no current entity; `f` is not run then.
    pub fn try_in_subsegment<T, E: std::error::Error + 'static>(
        &self,
        name: &str,
        f: impl FnOnce(&Entity) -> Result<T, E>,
    ) -> Result<Result<T, E>, ContextMissingError> {
        let guard = self.begin_subsegment(name)?;
        let result = f(&guard);
        if let Err(e) = &result {
            guard.add_error(e);
        }
        Ok(result)
    }

    /// Runs a future inside a new segment, which is current wherever the future is polled. The segment ends
    /// when the future completes; if the future is dropped before that, it ends as a fault.
    pub async fn in_segment_async<F: Future>(&self, name: &str, future: F) -> F::Output {
        let guard = self.segment(name).begin_detached().fault_if_dropped();
        let output = future.in_entity(guard.entity().clone()).await;
        guard.end();
        output
    }

    /// Runs a future inside a new subsegment of the current entity, which is current wherever the future is
    /// polled.
    ///
    /// # Errors
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is no current entity; the future is not run.
    pub async fn in_subsegment_async<F: Future>(
        &self,
        name: &str,
        future: F,
    ) -> Result<F::Output, ContextMissingError> {
        let guard = self.subsegment(name).begin_detached()?.fault_if_dropped();
        let output = future.in_entity(guard.entity().clone()).await;
        guard.end();
        Ok(output)
    }

    /// As [`Recorder::in_segment_async`], recording the error the future returns (with its `source()` chain)
    /// as a fault.
    pub async fn try_in_segment_async<T, E, F>(&self, name: &str, future: F) -> Result<T, E>
    where
        E: std::error::Error + 'static,
        F: Future<Output = Result<T, E>>,
    {
        let guard = self.segment(name).begin_detached().fault_if_dropped();
        let output = future.in_entity(guard.entity().clone()).await;
        if let Err(e) = &output {
            guard.add_error(e);
        }
        guard.end();
        output
    }

    /// As [`Recorder::in_subsegment_async`], recording the error the future returns (with its `source()` chain)
    /// as a fault.
    ///
    /// # Errors
    /// [`ContextMissingError`] under `RUNTIME_ERROR` when there is no current entity; the future is not run.
    pub async fn try_in_subsegment_async<T, E, F>(
        &self,
        name: &str,
        future: F,
    ) -> Result<Result<T, E>, ContextMissingError>
    where
        E: std::error::Error + 'static,
        F: Future<Output = Result<T, E>>,
    {
        let guard = self.subsegment(name).begin_detached()?.fault_if_dropped();
        let output = future.in_entity(guard.entity().clone()).await;
        if let Err(e) = &output {
            guard.add_error(e);
        }
        guard.end();
        Ok(output)
    }

    /// Waits until every document recorded so far has been sent, or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.inner.pipeline.emitter.flush(timeout)
    }

    /// Flushes and stops background work (the sampler's pollers).
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let flushed = self.flush(timeout);
        self.inner.sampler.shutdown();
        flushed
    }

    /// Applies the context-missing strategy.
    pub(crate) fn context_missing<T>(&self, what: &str) -> Result<Option<T>, ContextMissingError> {
        context_missing(self.inner.config.context_missing, what)
    }
}

/// Applies a context-missing strategy.
pub(crate) fn context_missing<T>(
    strategy: ContextMissing,
    what: &str,
) -> Result<Option<T>, ContextMissingError> {
    match strategy {
        ContextMissing::RuntimeError => Err(ContextMissingError),
        ContextMissing::LogError => {
            log::error!(
                "X-Ray: cannot find the current segment or subsegment ({what}); make sure a segment is open"
            );
            Ok(None)
        }
        ContextMissing::IgnoreError => Ok(None),
    }
}
