//! The recorder: begins segments, finds the current entity, and hands finished documents to the emitter.

mod builder;
mod global;
mod segment_builder;

pub use builder::{RecorderBuilder, SDK_NAME, SDK_VERSION};
pub use global::{global, set_global};
pub use segment_builder::{SegmentBuilder, SubsegmentBuilder};

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use xray_sdk_types::document::{Aws, DocumentType, Service};
use xray_sdk_types::rules::sanitize_name;
use xray_sdk_types::{AnnotationValue, EntityId, Namespace};

use crate::Error;
use crate::clock::SharedClock;
use crate::config::{Config, ContextMissing};
use crate::context::{self, FutureExt};
use crate::emitter::SharedEmitter;
use crate::entity::{Entity, Repr, SegmentGuard, SubsegmentGuard};
use crate::sampling::SharedSampler;

/// What every entity of a recorder shares.
pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) sampler: SharedSampler,
    pub(crate) emitter: SharedEmitter,
    pub(crate) clock: SharedClock,
    pub(crate) aws_template: Aws,
    pub(crate) service_template: Service,
}

impl Inner {
    pub(crate) fn now(&self) -> f64 {
        xray_sdk_types::time::epoch_seconds(self.clock.now())
    }

    pub(crate) fn noop_id(&self) -> EntityId {
        if self.config.random_noop_ids {
            EntityId::new()
        } else {
            EntityId::NOOP
        }
    }
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
/// # Ok::<(), xray_sdk_core::Error>(())
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
            .field("emitter", &self.inner.emitter)
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
        self.inner.config.enabled
    }

    /// The sampler.
    pub fn sampler(&self) -> &SharedSampler {
        &self.inner.sampler
    }

    /// The segment name for a request to `host`: by dynamic naming when configured, else the service name.
    pub fn segment_name<'a>(&'a self, host: Option<&'a str>) -> &'a str {
        match &self.inner.config.dynamic_naming {
            Some(naming) => naming.name_for(host),
            None => self
                .inner
                .config
                .service_name
                .as_deref()
                .unwrap_or("unnamed"),
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
    /// [`Error::ContextMissing`] when there is no current entity and the strategy is `RUNTIME_ERROR`. Under
    /// the other strategies the guard holds a no-op subsegment.
    #[inline]
    pub fn begin_subsegment(&self, name: &str) -> Result<SubsegmentGuard, Error> {
        // The unsampled case first and on its own: a child of an unrecorded entity is unrecorded too and leaves
        // the context alone, so it is built straight from the current entity, nearly free.
        match context::unrecorded_child() {
            Some(child) => Ok(SubsegmentGuard::detached(child)),
            None => self.begin_recorded_subsegment(name),
        }
    }

    #[inline(never)]
    fn begin_recorded_subsegment(&self, name: &str) -> Result<SubsegmentGuard, Error> {
        // Without the builder: a child of a recorded entity becomes current.
        match context::with_current_recorded(|parent| begin_child(parent, name, None, None, false))
        {
            Some(child) => Ok(SubsegmentGuard::attached(child)),
            None => self.subsegment(name).begin(),
        }
    }

    /// Begins a subsegment that is never sampled (nor sent), whatever its parent. Calls made inside it
    /// propagate `Sampled=0` with the trace id.
    ///
    /// # Errors
    /// As [`Recorder::begin_subsegment`].
    pub fn begin_subsegment_without_sampling(&self, name: &str) -> Result<SubsegmentGuard, Error> {
        self.subsegment(name).without_sampling().begin()
    }

    /// Ends the current subsegment; its parent becomes current.
    ///
    /// # Errors
    /// [`Error::ContextMissing`] under `RUNTIME_ERROR` when there is no current subsegment.
    pub fn end_subsegment(&self) -> Result<(), Error> {
        let current = context::current();
        if current.as_ref().is_some_and(|e| !e.is_sampled()) {
            // Unrecorded subsegments never become current; there is nothing to end.
            return Ok(());
        }
        match current.filter(|e| !e.is_segment()) {
            Some(entity) => {
                let parent = self.parent_of(&entity);
                entity.end();
                context::replace(parent);
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
    /// [`Error::ContextMissing`] under `RUNTIME_ERROR` when there is no current segment.
    pub fn end_segment(&self) -> Result<(), Error> {
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
    /// [`Error::ContextMissing`] under `RUNTIME_ERROR` when there is none.
    pub fn current_entity(&self) -> Result<Option<Entity>, Error> {
        match context::current() {
            Some(e) => Ok(Some(e)),
            None => self.context_missing("no current entity"),
        }
    }

    /// The segment of the current entity.
    ///
    /// # Errors
    /// [`Error::ContextMissing`] under `RUNTIME_ERROR` when there is none.
    pub fn current_segment(&self) -> Result<Option<Entity>, Error> {
        Ok(self.current_entity()?.map(|e| e.segment()))
    }

    /// The current entity if it is a subsegment.
    ///
    /// # Errors
    /// [`Error::ContextMissing`] under `RUNTIME_ERROR` when there is no current entity.
    pub fn current_subsegment(&self) -> Result<Option<Entity>, Error> {
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
    /// [`Error::ContextMissing`] under `RUNTIME_ERROR` when there is no current entity.
    pub fn put_annotation(
        &self,
        key: &str,
        value: impl Into<AnnotationValue>,
    ) -> Result<(), Error> {
        if let Some(e) = self.current_entity()? {
            e.put_annotation(key, value);
        }
        Ok(())
    }

    /// Adds metadata to the current entity, in the `default` namespace.
    ///
    /// # Errors
    /// [`Error::ContextMissing`] under `RUNTIME_ERROR` when there is no current entity.
    pub fn put_metadata<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), Error> {
        if let Some(e) = self.current_entity()? {
            e.put_metadata(key, value);
        }
        Ok(())
    }

    /// Runs `f` inside a new segment that ends (and records a panic) when `f` returns.
    pub fn in_segment<R>(&self, name: &str, f: impl FnOnce(&Entity) -> R) -> R {
        let guard = self.begin_segment(name);
        f(&guard)
    }

    /// Runs `f` inside a new subsegment of the current entity.
    ///
    /// # Errors
    /// [`Error::ContextMissing`] under `RUNTIME_ERROR` when there is no current entity; `f` is not run then.
    pub fn in_subsegment<R>(&self, name: &str, f: impl FnOnce(&Entity) -> R) -> Result<R, Error> {
        let guard = self.begin_subsegment(name)?;
        Ok(f(&guard))
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
    /// [`Error::ContextMissing`] under `RUNTIME_ERROR` when there is no current entity; the future is not run.
    pub async fn in_subsegment_async<F: Future>(
        &self,
        name: &str,
        future: F,
    ) -> Result<F::Output, Error> {
        let guard = self.subsegment(name).begin_detached()?.fault_if_dropped();
        let output = future.in_entity(guard.entity().clone()).await;
        guard.end();
        Ok(output)
    }

    /// Waits until every document recorded so far has been sent, or `timeout` passes.
    pub fn flush(&self, timeout: Duration) -> bool {
        self.inner.emitter.flush(timeout)
    }

    /// Flushes and stops background work (the sampler's pollers).
    pub fn shutdown(&self, timeout: Duration) -> bool {
        let flushed = self.flush(timeout);
        self.inner.sampler.shutdown();
        flushed
    }

    /// Applies the context-missing strategy.
    pub(crate) fn context_missing<T>(&self, what: &str) -> Result<Option<T>, Error> {
        context_missing(self.inner.config.context_missing, what)
    }

    fn parent_of(&self, entity: &Entity) -> Option<Entity> {
        let Repr::Recorded {
            trace,
            node,
            segment_id,
            ..
        } = &entity.repr
        else {
            return None;
        };
        let (parent, id) = trace.parent(*node)?;
        Some(Entity {
            repr: Repr::Recorded {
                trace: Arc::clone(trace),
                node: parent,
                id,
                segment_id: *segment_id,
            },
        })
    }
}

/// Applies a context-missing strategy.
pub(crate) fn context_missing<T>(strategy: ContextMissing, what: &str) -> Result<Option<T>, Error> {
    match strategy {
        ContextMissing::RuntimeError => Err(Error::ContextMissing),
        ContextMissing::LogError => {
            log::error!(
                "X-Ray: cannot find the current segment or subsegment ({what}); make sure a segment is open"
            );
            Ok(None)
        }
        ContextMissing::IgnoreError => Ok(None),
    }
}

/// A subsegment of `parent`.
#[inline]
pub(crate) fn begin_child(
    parent: &Entity,
    name: &str,
    namespace: Option<Namespace>,
    start_time: Option<f64>,
    without_sampling: bool,
) -> Entity {
    match &parent.repr {
        Repr::Recorded {
            trace,
            node,
            id,
            segment_id,
        } if !without_sampling => {
            let inner = &trace.recorder;
            let mut name = sanitize_name(name);
            if name.is_empty() {
                name = "subsegment".into();
            }
            let child_id = EntityId::new();
            let start = start_time.unwrap_or_else(|| inner.now());
            let mut doc = crate::entity::recycle::document(child_id, &name, start);
            doc.parent_id = Some(*id);
            doc.kind = Some(DocumentType::Subsegment);
            doc.namespace = namespace;
            match trace.add_child(*node, doc) {
                Ok(index) => Entity {
                    repr: Repr::Recorded {
                        trace: Arc::clone(trace),
                        node: index,
                        id: child_id,
                        segment_id: *segment_id,
                    },
                },
                Err(crate::entity::trace::AddError::TooMany) => {
                    log::debug!(
                        "X-Ray: a subsegment was not recorded: its segment already holds {} subsegments",
                        crate::entity::trace::MAX_SUBSEGMENTS
                    );
                    Entity::not_recorded(trace.trace_id, inner.noop_id(), false, None)
                }
                Err(crate::entity::trace::AddError::ParentGone) => {
                    log::debug!(
                        "X-Ray: a subsegment was not recorded: its parent has already been sent"
                    );
                    Entity::not_recorded(trace.trace_id, inner.noop_id(), false, None)
                }
            }
        }
        Repr::Recorded { trace, .. } => Entity::not_recorded(
            trace.trace_id,
            trace.recorder.noop_id(),
            false,
            (!trace.origin_data.is_empty()).then(|| Arc::new(trace.origin_data.clone())),
        ),
        Repr::NotRecorded {
            trace_id,
            id,
            origin_data,
            ..
        } => Entity::not_recorded(*trace_id, *id, false, origin_data.clone()),
    }
}
