//! Entities: the segments and subsegments being recorded, and the guards that end them.
//!
//! An [`Entity`] is a cheap handle (an `Arc` and an index, or a few plain values when the trace is not
//! recorded) to one segment or subsegment. Clones refer to the same entity. Every method is safe to call from
//! any thread at any time: on an unsampled trace, a disabled SDK or an entity that has already ended, the
//! recording methods do nothing.

mod exception;

pub(crate) use exception::short_type_name;
mod guard;
pub(crate) mod recycle;
pub(crate) mod trace;

pub use guard::{SegmentGuard, SubsegmentGuard};
pub use trace::MAX_SUBSEGMENTS;

use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use xray_sdk_types::document::{
    Aws, Cause, CauseDetails, Exception, HttpRequest, MetadataValue, Sql,
};
use xray_sdk_types::header::SamplingFlag;
use xray_sdk_types::rules::{
    is_reserved_metadata_namespace, is_valid_annotation_key, status_flags,
};
use xray_sdk_types::{AnnotationValue, Document, EntityId, TraceHeader, TraceId};

use self::trace::Trace;

/// The most annotations one entity keeps (X-Ray indexes 50 per trace); more are dropped, so that a loop cannot
/// grow a document without bound.
pub const MAX_ANNOTATIONS: usize = 256;
/// The most metadata entries one entity keeps, across its namespaces.
pub const MAX_METADATA_ENTRIES: usize = 256;

/// A handle to a segment or subsegment.
#[derive(Clone)]
pub struct Entity {
    pub(crate) repr: Repr,
}

// A word-sized tag and word-aligned fields: entities are moved often (into guards, results and the context), and
// copies of a compiler-packed layout read bytes back with wider loads than they were written with, which stalls.
#[derive(Clone)]
#[repr(u64)]
pub(crate) enum Repr {
    /// A sampled entity, recorded in its trace's arena.
    Recorded {
        trace: Arc<Trace>,
        node: u32,
        id: EntityId,
        segment_id: EntityId,
    },
    // Fields in this order keep the trace id on a 16-byte boundary, as it is loaded and stored.
    /// An unsampled entity, or any entity of a disabled SDK: it records nothing and costs nothing, yet carries
    /// its trace id for the calls it makes downstream.
    NotRecorded {
        id: EntityId,
        trace_id: TraceId,
        level: Level,
        origin_data: Option<Arc<Vec<(String, String)>>>,
    },
}

/// Whether an unrecorded entity is a segment: a whole word rather than a `bool`, for the reason given on `Repr`.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum Level {
    Segment,
    Subsegment,
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
                Repr::Recorded {
                    trace: a, node: x, ..
                },
                Repr::Recorded {
                    trace: b, node: y, ..
                },
            ) => Arc::ptr_eq(a, b) && x == y,
            (
                Repr::NotRecorded {
                    trace_id: a,
                    id: x,
                    level: s,
                    ..
                },
                Repr::NotRecorded {
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

impl Entity {
    pub(crate) fn not_recorded(
        trace_id: TraceId,
        id: EntityId,
        is_segment: bool,
        origin_data: Option<Arc<Vec<(String, String)>>>,
    ) -> Self {
        Entity {
            repr: Repr::NotRecorded {
                id,
                trace_id,
                level: if is_segment {
                    Level::Segment
                } else {
                    Level::Subsegment
                },
                origin_data,
            },
        }
    }

    /// The entity's id ([`EntityId::NOOP`] for unsampled entities, unless `AWS_XRAY_NOOP_ID=false`).
    #[inline]
    pub fn id(&self) -> EntityId {
        match &self.repr {
            Repr::Recorded { id, .. } | Repr::NotRecorded { id, .. } => *id,
        }
    }

    /// The trace id. Unsampled entities keep the trace id they were given by the caller.
    #[inline]
    pub fn trace_id(&self) -> TraceId {
        match &self.repr {
            Repr::Recorded { trace, .. } => trace.trace_id,
            Repr::NotRecorded { trace_id, .. } => *trace_id,
        }
    }

    /// Whether this entity is recorded and will be sent.
    #[inline]
    pub fn is_sampled(&self) -> bool {
        matches!(self.repr, Repr::Recorded { .. })
    }

    /// Whether this is a segment rather than a subsegment.
    pub fn is_segment(&self) -> bool {
        match &self.repr {
            Repr::Recorded { node, .. } => *node == 0,
            Repr::NotRecorded { level, .. } => *level == Level::Segment,
        }
    }

    /// The segment this entity belongs to (itself, for a segment).
    pub fn segment(&self) -> Entity {
        match &self.repr {
            Repr::Recorded {
                trace, segment_id, ..
            } => Entity {
                repr: Repr::Recorded {
                    trace: Arc::clone(trace),
                    node: 0,
                    id: *segment_id,
                    segment_id: *segment_id,
                },
            },
            Repr::NotRecorded {
                trace_id,
                origin_data,
                ..
            } => Entity::not_recorded(*trace_id, EntityId::NOOP, true, origin_data.clone()),
        }
    }

    /// An unrecorded child of this entity if it is unrecorded: the same trace id, id and incoming header fields.
    #[inline]
    pub(crate) fn unrecorded_child_of(&self) -> Option<Entity> {
        match &self.repr {
            Repr::NotRecorded {
                trace_id,
                id,
                origin_data,
                ..
            } => Some(Entity::not_recorded(
                *trace_id,
                *id,
                false,
                origin_data.clone(),
            )),
            Repr::Recorded { .. } => None,
        }
    }

    /// The trace header for a call this entity makes downstream: `Root` = the trace id, `Parent` = this entity
    /// (omitted for the no-op id), `Sampled` = 1 or 0, followed by the fields of the incoming header, such as
    /// `Lineage`, unchanged.
    pub fn trace_header(&self) -> TraceHeader {
        let (data, parent) = match &self.repr {
            Repr::Recorded { trace, id, .. } => (trace.origin_data.clone(), Some(*id)),
            Repr::NotRecorded {
                origin_data, id, ..
            } => (
                origin_data.as_deref().cloned().unwrap_or_default(),
                (!id.is_noop()).then_some(*id),
            ),
        };
        TraceHeader {
            root: Some(self.trace_id()),
            parent,
            sampled: Some(SamplingFlag::from_decision(self.is_sampled())),
            data,
        }
    }

    /// Runs `f` on this entity's document while it is open and recorded, and returns what `f` returns. This is
    /// the escape hatch under every typed setter, for integrations that fill fields of their own.
    pub fn with_document<R>(&self, f: impl FnOnce(&mut Document) -> R) -> Option<R> {
        match &self.repr {
            Repr::Recorded { trace, node, .. } => trace.with_open_doc(*node, f),
            Repr::NotRecorded { .. } => None,
        }
    }

    /// A copy of the document as it stands now, while it is open (or waiting for its children).
    pub fn snapshot(&self) -> Option<Document> {
        match &self.repr {
            Repr::Recorded { trace, node, .. } => trace.snapshot(*node),
            Repr::NotRecorded { .. } => None,
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
                    .get_or_insert_with(namespace, recycle::namespace)
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
        self.with_document(|doc| merge_aws(doc.aws_mut(), aws));
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
    /// of repeating it, as X-Ray expects. When backtraces are enabled (`RUST_LIB_BACKTRACE=1`, or
    /// `RUST_BACKTRACE=1` without `RUST_LIB_BACKTRACE`), backtrace frames are recorded too, at most
    /// `max_trace_back` of them. Capturing and resolving a backtrace costs time on every recorded error (the
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
        let Repr::Recorded { trace, node, .. } = &self.repr else {
            return;
        };
        let message = error.to_string();
        let limit = trace.recorder.config.max_trace_back;
        let stack = if limit > 0 {
            exception::backtrace_frames(&std::backtrace::Backtrace::capture(), limit)
        } else {
            (Vec::new(), 0)
        };
        let exceptions = exception::exceptions_for(error, type_name, remote, stack);
        trace.with_open_doc_and_child_exceptions(*node, move |doc, child_exceptions| {
            doc.fault = Some(true);
            let already = exceptions
                .iter()
                .filter_map(|e| e.message.as_deref())
                .find_map(|m| child_exceptions.iter().rev().find(|(_, cm)| cm == m));
            if let Some((id, _)) = already {
                doc.cause = Some(Cause::ExceptionId(*id));
                return Some((*id, message));
            }
            let first = exceptions.first().map(|e| (e.id, message));
            push_exceptions(doc, exceptions);
            first
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

    /// Begins a subsegment of this entity (not of the current context), for work handed to another thread or
    /// task. The guard ends it on drop; it does not change the current context.
    pub fn begin_subsegment(&self, name: &str) -> SubsegmentGuard {
        SubsegmentGuard::detached(crate::recorder::begin_child(self, name, None, None, false))
    }

    /// Ends the entity now. Ending twice does nothing.
    pub fn end(&self) {
        if let Repr::Recorded { trace, .. } = &self.repr {
            self.end_at_seconds(trace.recorder.now());
        }
    }

    /// Ends the entity at an explicit time.
    pub fn end_at(&self, end_time: SystemTime) {
        self.end_at_seconds(xray_sdk_types::time::epoch_seconds(end_time));
    }

    pub(crate) fn end_at_seconds(&self, end_time: f64) {
        if let Repr::Recorded { trace, node, .. } = &self.repr
            && !trace.end(*node, end_time)
        {
            log::debug!("X-Ray: entity {} ended twice", self.id());
        }
    }

    /// Whether the entity has been sent (its whole segment has ended and left).
    pub fn is_sent(&self) -> bool {
        match &self.repr {
            Repr::Recorded { trace, .. } => trace.is_done(),
            Repr::NotRecorded { .. } => false,
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

fn merge_aws(into: &mut Aws, from: Aws) {
    macro_rules! take {
        ($($f:ident),*) => {$( if from.$f.is_some() { into.$f = from.$f; } )*};
    }
    take!(
        account_id,
        operation,
        region,
        request_id,
        retries,
        queue_url,
        table_name,
        resource_names,
        ec2,
        ecs,
        eks,
        elastic_beanstalk,
        xray
    );
    into.extra.extend(from.extra);
}
