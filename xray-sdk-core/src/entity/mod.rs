//! Entities: the segments and subsegments being recorded.
//!
//! An [`Entity`] is a cheap handle (an `Arc` and an index, or a few plain values when the trace is not
//! sampled) to one segment or subsegment. Clones refer to the same entity. Every method is safe to call from
//! any thread at any time: on an unsampled trace, a disabled SDK or an entity that has already ended, the
//! recording methods do nothing.
//!
//! This module alone creates entities and owns their tree; the recorder decides what to create (a sampled or
//! an unsampled segment, a child of the current entity) and the context says which entity is current.

mod exception;
mod facade;
mod pipeline;
mod tree;

pub(crate) use exception::short_type_name;
pub(crate) use pipeline::{Limits, Pipeline};
pub use tree::MAX_SUBSEGMENTS;

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use xray_sdk_types::document::{
    Aws, Cause, CauseDetails, DocumentType, Exception, HttpRequest, MetadataValue, Service, Sql,
};
use xray_sdk_types::header::SamplingFlag;
use xray_sdk_types::rules::{
    is_reserved_metadata_namespace, is_valid_annotation_key, sanitize_name, status_flags,
};
use xray_sdk_types::{AnnotationValue, Document, EntityId, Namespace, TraceHeader, TraceId};

use self::tree::{AddError, SegmentTree};

/// The most annotations one entity keeps (X-Ray indexes 50 per trace); more are dropped, so that a loop cannot
/// grow a document without bound.
pub const MAX_ANNOTATIONS: usize = 256;
/// The most metadata entries one entity keeps, across its namespaces.
pub const MAX_METADATA_ENTRIES: usize = 256;

/// A handle to a segment or subsegment.
#[derive(Clone)]
pub struct Entity {
    repr: Repr,
}

// A word-sized tag and word-aligned fields: entities are moved often (into guards, results and the context), and
// copies of a compiler-packed layout read bytes back with wider loads than they were written with, which stalls.
#[derive(Clone)]
#[repr(u64)]
enum Repr {
    /// A sampled entity, recorded in its segment's tree.
    Sampled {
        tree: Arc<SegmentTree>,
        node: u32,
        id: EntityId,
        segment_id: EntityId,
    },
    // Fields in this order keep the trace id on a 16-byte boundary, as it is loaded and stored.
    /// An unsampled entity, or any entity of a disabled SDK: it records nothing and costs nothing, yet carries
    /// its trace context for the calls it makes downstream.
    Unsampled {
        id: EntityId,
        trace_id: TraceId,
        level: Level,
        context: Option<Arc<UnsampledContext>>,
    },
}

/// Whether an unsampled entity is a segment: a whole word rather than a `bool`, for the reason given on `Repr`.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
enum Level {
    Segment,
    Subsegment,
}

/// What an unsampled entity carries beyond its ids, when it carries anything: kept behind one pointer so that
/// the common case (nothing) stays a few words.
#[derive(Default)]
struct UnsampledContext {
    /// The incoming trace header's fields other than Root, Parent and Sampled, forwarded downstream.
    forwarded: Vec<(String, String)>,
    /// The sampled entity a subsegment begun without sampling belongs to: the parent that becomes current again
    /// when it ends, and the segment its trace goes on in.
    sampled_parent: Option<Entity>,
    /// With the SDK disabled: the incoming trace header, passed on downstream unchanged.
    passthrough: Option<TraceHeader>,
}

/// What a new sampled segment is made of: everything the recorder decided before it.
pub(crate) struct SegmentStart<'a> {
    pub(crate) name: &'a str,
    pub(crate) trace_id: TraceId,
    /// The caller's entity, from the incoming header's `Parent`.
    pub(crate) parent_id: Option<EntityId>,
    pub(crate) start_time: Option<f64>,
    pub(crate) origin: Option<String>,
    pub(crate) aws: Aws,
    pub(crate) service: Service,
    pub(crate) forwarded: &'a [(String, String)],
}

impl fmt::Debug for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entity")
            .field("trace_id", &self.trace_id())
            .field("id", &self.id())
            .field("sampled", &self.is_sampled())
            .field("segment", &self.is_segment())
            .finish()
    }
}

impl PartialEq for Entity {
    fn eq(&self, other: &Self) -> bool {
        match (&self.repr, &other.repr) {
            (
                Repr::Sampled {
                    tree: a,
                    node: x,
                    id: i,
                    ..
                },
                Repr::Sampled {
                    tree: b,
                    node: y,
                    id: j,
                    ..
                },
            ) => Arc::ptr_eq(a, b) && x == y && i == j,
            (
                Repr::Unsampled {
                    trace_id: a,
                    id: x,
                    level: s,
                    ..
                },
                Repr::Unsampled {
                    trace_id: b,
                    id: y,
                    level: t,
                    ..
                },
            ) => a == b && x == y && s == t,
            _ => false,
        }
    }
}

/// A document for a new entity: one the encoder emptied for reuse, or a new one.
fn new_document(id: EntityId, name: &str, start_time: f64) -> Box<Document> {
    crate::emitter::reuse::document(id, name, start_time)
}

impl Entity {
    fn unsampled(
        trace_id: TraceId,
        id: EntityId,
        level: Level,
        context: Option<Arc<UnsampledContext>>,
    ) -> Self {
        Entity {
            repr: Repr::Unsampled {
                id,
                trace_id,
                level,
                context,
            },
        }
    }

    /// A sampled segment, current nowhere yet, whose documents go through `pipeline`.
    pub(crate) fn sampled_segment(pipeline: &Arc<Pipeline>, start: SegmentStart<'_>) -> Self {
        let id = EntityId::new();
        let start_time = start.start_time.unwrap_or_else(|| pipeline.now());
        let mut doc = new_document(id, start.name, start_time);
        doc.trace_id = Some(start.trace_id);
        doc.parent_id = start.parent_id;
        doc.origin = start.origin;
        doc.aws = Some(Box::new(start.aws));
        doc.service = Some(Box::new(start.service));
        let tree = SegmentTree::new(
            Arc::clone(pipeline),
            start.trace_id,
            start.forwarded.to_vec(),
            doc,
        );
        Entity {
            repr: Repr::Sampled {
                tree,
                node: 0,
                id,
                segment_id: id,
            },
        }
    }

    /// An unsampled segment of `trace_id`, forwarding the incoming header's other fields.
    pub(crate) fn unsampled_segment(
        trace_id: TraceId,
        id: EntityId,
        forwarded: &[(String, String)],
    ) -> Self {
        let context = (!forwarded.is_empty()).then(|| {
            Arc::new(UnsampledContext {
                forwarded: forwarded.to_vec(),
                ..UnsampledContext::default()
            })
        });
        Entity::unsampled(trace_id, id, Level::Segment, context)
    }

    /// A segment of a disabled SDK: it records nothing, and passes the incoming header (if any) on unchanged.
    pub(crate) fn passthrough_segment(incoming: Option<&TraceHeader>) -> Self {
        let context = incoming.map(|h| {
            Arc::new(UnsampledContext {
                passthrough: Some(h.clone()),
                ..UnsampledContext::default()
            })
        });
        let trace_id = incoming.and_then(|h| h.root).unwrap_or(TraceId::NOOP);
        Entity::unsampled(trace_id, EntityId::NOOP, Level::Segment, context)
    }

    /// A subsegment with no parent (none was current): it records nothing and sends no trace header.
    pub(crate) fn orphan_subsegment() -> Self {
        Entity::unsampled(TraceId::NOOP, EntityId::NOOP, Level::Subsegment, None)
    }

    /// A subsegment of this entity: sampled (added to the tree) when this entity is sampled and
    /// `without_sampling` is false, unsampled otherwise. An empty name (after sanitizing) becomes `subsegment`.
    #[inline]
    pub(crate) fn child(
        &self,
        name: &str,
        namespace: Option<Namespace>,
        start_time: Option<f64>,
        without_sampling: bool,
    ) -> Entity {
        match &self.repr {
            Repr::Sampled {
                tree,
                node,
                id,
                segment_id,
            } if !without_sampling => {
                let mut name = sanitize_name(name);
                if name.is_empty() {
                    name = "subsegment".into();
                }
                let child_id = EntityId::new();
                let start = start_time.unwrap_or_else(|| tree.pipeline.now());
                let mut doc = new_document(child_id, &name, start);
                doc.parent_id = Some(*id);
                doc.kind = Some(DocumentType::Subsegment);
                doc.namespace = namespace;
                match tree.add_child(*node, *id, doc) {
                    Ok(index) => Entity {
                        repr: Repr::Sampled {
                            tree: Arc::clone(tree),
                            node: index,
                            id: child_id,
                            segment_id: *segment_id,
                        },
                    },
                    Err(AddError::TooMany) => {
                        log::debug!(
                            "X-Ray: a subsegment was not recorded: its segment already holds {MAX_SUBSEGMENTS} subsegments"
                        );
                        self.dropped_child(tree)
                    }
                    Err(AddError::ParentGone) => {
                        log::debug!(
                            "X-Ray: a subsegment was not recorded: its parent has already been sent"
                        );
                        self.dropped_child(tree)
                    }
                }
            }
            Repr::Sampled { tree, .. } => Entity::unsampled(
                tree.trace_id,
                tree.pipeline.noop_id(),
                Level::Subsegment,
                Some(Arc::new(UnsampledContext {
                    forwarded: tree.forwarded.clone(),
                    sampled_parent: Some(self.clone()),
                    passthrough: None,
                })),
            ),
            Repr::Unsampled {
                trace_id,
                id,
                context,
                ..
            } => Entity::unsampled(*trace_id, *id, Level::Subsegment, context.clone()),
        }
    }

    /// The unsampled stand-in for a child a sampled tree could not take.
    fn dropped_child(&self, tree: &SegmentTree) -> Entity {
        let context = (!tree.forwarded.is_empty()).then(|| {
            Arc::new(UnsampledContext {
                forwarded: tree.forwarded.clone(),
                ..UnsampledContext::default()
            })
        });
        Entity::unsampled(
            tree.trace_id,
            tree.pipeline.noop_id(),
            Level::Subsegment,
            context,
        )
    }

    /// The entity's id ([`EntityId::NOOP`] for unsampled entities, unless `AWS_XRAY_NOOP_ID=false`).
    #[inline]
    pub fn id(&self) -> EntityId {
        match &self.repr {
            Repr::Sampled { id, .. } | Repr::Unsampled { id, .. } => *id,
        }
    }

    /// The trace id. Unsampled entities keep the trace id they were given by the caller;
    /// [`TraceId::NOOP`] when there is no trace at all (no current segment, or a disabled SDK without an
    /// incoming header).
    #[inline]
    pub fn trace_id(&self) -> TraceId {
        match &self.repr {
            Repr::Sampled { tree, .. } => tree.trace_id,
            Repr::Unsampled { trace_id, .. } => *trace_id,
        }
    }

    /// Whether this entity is sampled: recorded, and sent when its segment completes.
    #[inline]
    pub fn is_sampled(&self) -> bool {
        matches!(self.repr, Repr::Sampled { .. })
    }

    /// Whether this is a segment rather than a subsegment.
    pub fn is_segment(&self) -> bool {
        match &self.repr {
            Repr::Sampled { node, .. } => *node == 0,
            Repr::Unsampled { level, .. } => *level == Level::Segment,
        }
    }

    /// The segment this entity belongs to (itself, for a segment).
    pub fn segment(&self) -> Entity {
        match &self.repr {
            Repr::Sampled {
                tree, segment_id, ..
            } => Entity {
                repr: Repr::Sampled {
                    tree: Arc::clone(tree),
                    node: 0,
                    id: *segment_id,
                    segment_id: *segment_id,
                },
            },
            Repr::Unsampled { level, .. } if *level == Level::Segment => self.clone(),
            Repr::Unsampled {
                trace_id, context, ..
            } => match context.as_ref().and_then(|c| c.sampled_parent.as_ref()) {
                Some(parent) => parent.segment(),
                None => {
                    Entity::unsampled(*trace_id, EntityId::NOOP, Level::Segment, context.clone())
                }
            },
        }
    }

    /// The entity's parent while it is open: for a sampled subsegment, the entity it was begun under; for a
    /// subsegment begun without sampling under a sampled entity, that entity. `None` for a segment, and for
    /// the subsegments of unsampled traces (which never become current).
    pub(crate) fn parent(&self) -> Option<Entity> {
        match &self.repr {
            Repr::Sampled {
                tree,
                node,
                id,
                segment_id,
            } => {
                let (parent, parent_id) = tree.parent(*node, *id)?;
                Some(Entity {
                    repr: Repr::Sampled {
                        tree: Arc::clone(tree),
                        node: parent,
                        id: parent_id,
                        segment_id: *segment_id,
                    },
                })
            }
            Repr::Unsampled { context, .. } => context.as_ref()?.sampled_parent.clone(),
        }
    }

    /// This entity if it is still open, else its nearest open ancestor; `None` when none is (the segment has
    /// been sent). Unsampled entities never end, and are returned as they are.
    pub(crate) fn open_self_or_ancestor(&self) -> Option<Entity> {
        match &self.repr {
            Repr::Sampled {
                tree,
                node,
                id,
                segment_id,
            } => {
                let (node, id) = tree.open_self_or_ancestor(*node, *id)?;
                Some(Entity {
                    repr: Repr::Sampled {
                        tree: Arc::clone(tree),
                        node,
                        id,
                        segment_id: *segment_id,
                    },
                })
            }
            Repr::Unsampled { .. } => Some(self.clone()),
        }
    }

    /// Whether this entity has ended. Unsampled entities are never recorded, and never end.
    ///
    /// ```
    /// # use xray_sdk_core::{Recorder, emitter::MemoryEmitter, sampling::AlwaysSample};
    /// # let recorder = Recorder::builder().emitter(MemoryEmitter::new()).sampler(AlwaysSample).build()?;
    /// let segment = recorder.begin_segment("job");
    /// let entity = segment.entity().clone();
    /// assert!(!entity.has_ended());
    /// drop(segment);
    /// assert!(entity.has_ended());
    /// # Ok::<(), xray_sdk_core::BuildError>(())
    /// ```
    pub fn has_ended(&self) -> bool {
        match &self.repr {
            Repr::Sampled { tree, node, id, .. } => tree.has_ended(*node, *id),
            Repr::Unsampled { .. } => false,
        }
    }

    /// An unsampled child of this entity if it is unsampled: the same trace id, id and incoming header fields.
    #[inline]
    pub(crate) fn unsampled_child(&self) -> Option<Entity> {
        match &self.repr {
            Repr::Unsampled {
                trace_id,
                id,
                context,
                ..
            } => Some(Entity::unsampled(
                *trace_id,
                *id,
                Level::Subsegment,
                context.clone(),
            )),
            Repr::Sampled { .. } => None,
        }
    }

    /// The trace header for a call this entity makes downstream: `Root` = the trace id, `Parent` = this entity
    /// (omitted for the no-op id), `Sampled` = 1 or 0, followed by the fields of the incoming header, such as
    /// `Lineage`, unchanged. With the SDK disabled, the incoming header exactly as it came. `None` when there is
    /// no trace to continue (no incoming header with the SDK disabled, or no current segment): send no header.
    pub fn trace_header(&self) -> Option<TraceHeader> {
        let (forwarded, parent) = match &self.repr {
            Repr::Sampled { tree, id, .. } => (tree.forwarded.clone(), Some(*id)),
            Repr::Unsampled { context, id, .. } => {
                if let Some(passthrough) = context.as_ref().and_then(|c| c.passthrough.as_ref()) {
                    return Some(passthrough.clone());
                }
                (
                    context
                        .as_ref()
                        .map(|c| c.forwarded.clone())
                        .unwrap_or_default(),
                    (!id.is_noop()).then_some(*id),
                )
            }
        };
        let trace_id = self.trace_id();
        (trace_id != TraceId::NOOP).then(|| TraceHeader {
            root: Some(trace_id),
            parent,
            sampled: Some(SamplingFlag::from_decision(self.is_sampled())),
            data: forwarded,
        })
    }

    /// Runs `f` on this entity's document while it is open and recorded, and returns what `f` returns. This is
    /// the escape hatch under every typed setter, for integrations that fill fields of their own.
    pub fn with_document<R>(&self, f: impl FnOnce(&mut Document) -> R) -> Option<R> {
        match &self.repr {
            Repr::Sampled { tree, node, id, .. } => tree.with_open_doc(*node, *id, f),
            Repr::Unsampled { .. } => None,
        }
    }

    /// A copy of the document as it stands now, while it is open (or waiting for its children).
    pub fn snapshot(&self) -> Option<Document> {
        match &self.repr {
            Repr::Sampled { tree, node, id, .. } => tree.snapshot(*node, *id),
            Repr::Unsampled { .. } => None,
        }
    }

    /// Adds an indexed annotation. A key that is not 1 to 500 of `[A-Za-z0-9_]` is dropped with a warning.
    #[inline]
    pub fn put_annotation(&self, key: &str, value: impl Into<AnnotationValue>) {
        if !self.is_sampled() {
            return;
        }
        if !is_valid_annotation_key(key) {
            log::warn!("X-Ray: annotation key {key:?} dropped: keys are 1 to 500 of [A-Za-z0-9_]");
            return;
        }
        let value = value.into();
        self.with_document(|doc| {
            if doc.annotations.len() < MAX_ANNOTATIONS || doc.annotations.get(key).is_some() {
                doc.annotations.insert(key, value);
            } else {
                log::debug!(
                    "X-Ray: annotation {key:?} dropped: an entity keeps at most {MAX_ANNOTATIONS}"
                );
            }
        });
    }

    /// Adds metadata under the `default` namespace. The value is any `serde::Serialize`.
    pub fn put_metadata<T: Serialize + ?Sized>(&self, key: &str, value: &T) {
        self.put_metadata_in("default", key, value);
    }

    /// Adds metadata under `namespace`. Namespaces starting with `AWS.` are reserved and refused with a
    /// warning, as is a value that cannot be serialized.
    #[inline]
    pub fn put_metadata_in<T: Serialize + ?Sized>(&self, namespace: &str, key: &str, value: &T) {
        if !self.is_sampled() {
            return;
        }
        if is_reserved_metadata_namespace(namespace) {
            log::warn!(
                "X-Ray: metadata namespace {namespace:?} is reserved for AWS; entry {key:?} dropped"
            );
            return;
        }
        let value = match MetadataValue::new(value) {
            Ok(v) => v,
            Err(e) => {
                log::warn!("X-Ray: metadata {namespace}/{key} dropped: cannot serialize it: {e}");
                return;
            }
        };
        self.with_document(|doc| {
            let entries: usize = doc.metadata.iter().map(|(_, m)| m.len()).sum();
            let exists = doc.metadata.get(namespace).is_some_and(|m| m.get(key).is_some());
            if entries < MAX_METADATA_ENTRIES || exists {
                doc.metadata
                    .get_or_insert_with(namespace, crate::emitter::reuse::namespace)
                    .insert(key, value);
            } else {
                log::debug!(
                    "X-Ray: metadata {namespace}/{key} dropped: an entity keeps at most {MAX_METADATA_ENTRIES} entries"
                );
            }
        });
    }

    /// Sets the user (segments).
    pub fn set_user(&self, user: impl Into<String>) {
        if self.is_sampled() {
            let user = user.into();
            self.with_document(|doc| doc.user = Some(user));
        }
    }

    /// Sets `http.request`.
    pub fn set_http_request(&self, request: HttpRequest) {
        self.with_document(|doc| doc.http_mut().request = Some(request));
    }

    /// Sets `http.response` and the error flags the status implies.
    pub fn set_http_response(&self, status: u16, content_length: Option<i64>) {
        self.with_document(|doc| {
            let response = doc.http_mut().response_mut();
            response.status = Some(status);
            response.content_length = content_length;
            apply_flags(doc, status);
        });
    }

    /// Sets the error flags an HTTP status implies: 429 → throttle and error, other 4xx → error, 5xx → fault.
    pub fn apply_status_code(&self, status: u16) {
        self.with_document(|doc| apply_flags(doc, status));
    }

    /// Sets the `sql` block.
    pub fn set_sql(&self, sql: Sql) {
        self.with_document(|doc| doc.sql = Some(Box::new(sql)));
    }

    /// Sets the fields of `aws` that `aws` holds, keeping the others.
    pub fn set_aws(&self, aws: Aws) {
        self.with_document(|doc| doc.aws_mut().merge(aws));
    }

    /// Marks a client error.
    pub fn set_error(&self) {
        self.with_document(|doc| doc.error = Some(true));
    }

    /// Marks a throttled request.
    pub fn set_throttle(&self) {
        self.with_document(|doc| doc.throttle = Some(true));
    }

    /// Marks a server error.
    pub fn set_fault(&self) {
        self.with_document(|doc| doc.fault = Some(true));
    }

    /// Records an error with its `source()` chain as exceptions and marks a fault. When the same error was
    /// already recorded on one of this entity's subsegments, the entity refers to that exception by id instead
    /// of repeating it, as X-Ray expects; an error that wraps it is recorded with its own type and message,
    /// naming the subsegment's exception as its cause. Errors are told apart by their whole chain (each one's
    /// `Debug` and `Display` forms), never by message alone.
    ///
    /// When backtraces are enabled (`RUST_LIB_BACKTRACE=1`, or `RUST_BACKTRACE=1` without
    /// `RUST_LIB_BACKTRACE`), backtrace frames are recorded too (the application's, with relative paths), at
    /// most `max_trace_back` of them. Capturing and resolving a backtrace costs time on every recorded error (the
    /// first one in a process can take tens of milliseconds); set `RUST_LIB_BACKTRACE=0` to keep backtraces for
    /// panics only, or `max_trace_back(0)` to never capture them.
    pub fn add_error<E: std::error::Error + 'static>(&self, error: &E) {
        self.add_error_dyn(error, Some(std::any::type_name::<E>()), false);
    }

    /// Records an error that came from a downstream service (`remote: true`).
    pub fn add_remote_error<E: std::error::Error + 'static>(&self, error: &E) {
        self.add_error_dyn(error, Some(std::any::type_name::<E>()), true);
    }

    /// Records an error given as a trait object.
    pub fn add_error_dyn(
        &self,
        error: &(dyn std::error::Error + 'static),
        type_name: Option<&str>,
        remote: bool,
    ) {
        let Repr::Sampled { tree, node, id, .. } = &self.repr else {
            return;
        };
        let limit = tree.pipeline.limits.max_trace_back;
        let stack = if limit > 0 {
            exception::backtrace_frames(&std::backtrace::Backtrace::capture(), limit)
        } else {
            (Vec::new(), 0)
        };
        let chain = exception::exceptions_for(error, type_name, remote, stack);
        let Some(fingerprint) = chain.fingerprint() else {
            return;
        };
        tree.with_open_doc_and_child_exceptions(*node, *id, move |doc, child_exceptions| {
            doc.fault = Some(true);
            match chain.link(child_exceptions) {
                exception::Linked::Same(id) => {
                    doc.cause = Some(Cause::ExceptionId(id));
                    Some((id, fingerprint))
                }
                exception::Linked::New(exceptions) => {
                    let first = exceptions.first().map(|e| (e.id, fingerprint));
                    push_exceptions(doc, exceptions);
                    first
                }
            }
        });
    }

    /// Records an exception built by hand, and marks a fault.
    pub fn add_exception(&self, exception: Exception) {
        self.with_document(|doc| {
            doc.fault = Some(true);
            push_exceptions(doc, vec![exception]);
        });
    }

    /// Records a panic: a fault with an exception of type `panic`.
    pub(crate) fn record_panic(&self, message: Option<&str>) {
        self.add_fault(message.unwrap_or("panicked"), "panic");
    }

    /// Records a fault with one exception of this service (no stack): `message`, of type `type_name`.
    pub(crate) fn add_fault(&self, message: &str, type_name: &str) {
        self.add_exception(Exception {
            id: EntityId::new(),
            message: Some(message.to_owned()),
            type_name: Some(type_name.to_owned()),
            remote: Some(false),
            truncated: None,
            skipped: None,
            cause: None,
            stack: Vec::new(),
        });
    }

    /// Ends the entity now. Ending twice does nothing.
    pub fn end(&self) {
        if let Repr::Sampled { tree, .. } = &self.repr {
            self.end_at_seconds(tree.pipeline.now());
        }
    }

    /// Ends the entity at an explicit time.
    pub fn end_at(&self, end_time: SystemTime) {
        self.end_at_seconds(xray_sdk_types::time::epoch_seconds(end_time));
    }

    pub(crate) fn end_at_seconds(&self, end_time: f64) {
        if let Repr::Sampled { tree, node, id, .. } = &self.repr
            && !tree.end(*node, *id, end_time)
        {
            log::debug!("X-Ray: entity {} ended twice", self.id());
        }
    }

    /// Whether the entity has been sent (its whole segment has ended and left).
    pub fn is_sent(&self) -> bool {
        match &self.repr {
            Repr::Sampled { tree, .. } => tree.is_done(),
            Repr::Unsampled { .. } => false,
        }
    }
}

fn apply_flags(doc: &mut Document, status: u16) {
    let flags = status_flags(status);
    if flags.error {
        doc.error = Some(true);
    }
    if flags.throttle {
        doc.throttle = Some(true);
    }
    if flags.fault {
        doc.fault = Some(true);
    }
}

fn push_exceptions(doc: &mut Document, exceptions: Vec<Exception>) {
    let details = match &mut doc.cause {
        Some(Cause::Details(details)) => details,
        _ => {
            doc.cause = Some(Cause::Details(CauseDetails {
                working_directory: working_directory(),
                ..CauseDetails::default()
            }));
            match &mut doc.cause {
                Some(Cause::Details(details)) => details,
                _ => return,
            }
        }
    };
    // Bounded: a loop that keeps failing cannot grow a document without limit.
    let room = 32usize.saturating_sub(details.exceptions.len());
    details.exceptions.extend(exceptions.into_iter().take(room));
}

fn working_directory() -> Option<String> {
    static CWD: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    CWD.get_or_init(|| {
        std::env::current_dir()
            .ok()
            .map(|p| p.display().to_string())
    })
    .clone()
}
