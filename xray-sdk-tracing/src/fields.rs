//! Span and event fields as X-Ray data: annotations, metadata, the subsegment's name, exceptions.

use std::fmt;

use tracing_core::field::{Field, Visit};
use xray_sdk_core::Entity;
use xray_sdk_core::types::document::Exception;
use xray_sdk_core::types::{AnnotationValue, EntityId};

use crate::config::Config;

/// The field that names a span's subsegment, as OpenTelemetry's bridge names its spans.
pub(crate) const NAME_FIELD: &str = "otel.name";
/// The field recorded as an exception.
pub(crate) const ERROR_FIELD: &str = "error";
/// The field holding an event's message.
const MESSAGE_FIELD: &str = "message";
/// The most errors of one `source()` chain recorded.
const MAX_CHAIN: usize = 8;

/// Finds the `otel.name` field among a new span's values.
#[derive(Default)]
pub(crate) struct NameVisitor {
    pub(crate) name: Option<String>,
}

impl Visit for NameVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == NAME_FIELD {
            self.name = Some(value.to_owned());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == NAME_FIELD {
            self.name = Some(format!("{value:?}"));
        }
    }
}

/// Records a span's fields on its subsegment.
pub(crate) struct SpanVisitor<'a> {
    pub(crate) entity: &'a Entity,
    pub(crate) config: &'a Config,
}

impl SpanVisitor<'_> {
    fn record(
        &mut self,
        field: &Field,
        annotation: impl FnOnce() -> AnnotationValue,
        metadata: impl FnOnce(&Entity, &str, &str),
    ) {
        let name = field.name();
        if name == NAME_FIELD {
            return;
        }
        // The other OpenTelemetry conventions (`otel.kind`, `otel.status_code`) have no X-Ray field.
        if name.starts_with("otel.") {
            return;
        }
        if let Some(key) = self.config.annotation_key(name) {
            self.entity.put_annotation(&key, annotation());
        } else if let Some(namespace) = &self.config.metadata_namespace {
            metadata(self.entity, namespace, name);
        }
    }
}

impl Visit for SpanVisitor<'_> {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record(
            field,
            || value.into(),
            |e, ns, k| e.put_metadata_in(ns, k, &value),
        );
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(
            field,
            || value.into(),
            |e, ns, k| e.put_metadata_in(ns, k, &value),
        );
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record(
            field,
            || value.into(),
            |e, ns, k| e.put_metadata_in(ns, k, &value),
        );
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record(
            field,
            || value.into(),
            |e, ns, k| e.put_metadata_in(ns, k, &value),
        );
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == ERROR_FIELD {
            record_exception(self.entity, None, vec![value.to_owned()]);
            return;
        }
        self.record(
            field,
            || value.into(),
            |e, ns, k| e.put_metadata_in(ns, k, value),
        );
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        if field.name() == ERROR_FIELD {
            record_exception(self.entity, None, error_chain(value));
            return;
        }
        self.record_debug(field, &format_args!("{value}"));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if field.name() == ERROR_FIELD {
            record_exception(self.entity, None, vec![format!("{value:?}")]);
            return;
        }
        let text = || format!("{value:?}");
        self.record(
            field,
            || text().into(),
            |e, ns, k| e.put_metadata_in(ns, k, &text()),
        );
    }
}

/// Collects what an error event says: its message and its `error` field.
#[derive(Default)]
pub(crate) struct EventVisitor {
    pub(crate) message: Option<String>,
    pub(crate) error: Vec<String>,
}

impl Visit for EventVisitor {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            MESSAGE_FIELD => self.message = Some(value.to_owned()),
            ERROR_FIELD => self.error = vec![value.to_owned()],
            _ => {}
        }
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        match field.name() {
            MESSAGE_FIELD => self.message = Some(value.to_string()),
            ERROR_FIELD => self.error = error_chain(value),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            MESSAGE_FIELD => self.message = Some(format!("{value:?}")),
            ERROR_FIELD => self.error = vec![format!("{value:?}")],
            _ => {}
        }
    }
}

/// An error's message and those of its `source()` chain, at most [`MAX_CHAIN`].
fn error_chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
    std::iter::successors(Some(error), |e| e.source())
        .take(MAX_CHAIN)
        .map(ToString::to_string)
        .collect()
}

/// Records `message` (when there is one) caused by the chain of errors `errors`, each an exception whose `cause`
/// is the next, and marks a fault.
pub(crate) fn record_exception(entity: &Entity, message: Option<String>, errors: Vec<String>) {
    let messages: Vec<String> = message.into_iter().chain(errors).collect();
    let ids: Vec<EntityId> = messages.iter().map(|_| EntityId::new()).collect();
    let causes = ids.iter().skip(1).copied().map(Some).chain([None]);
    for ((message, id), cause) in messages.into_iter().zip(ids.iter().copied()).zip(causes) {
        entity.add_exception(Exception {
            id,
            message: Some(message),
            type_name: None,
            remote: None,
            truncated: None,
            skipped: None,
            cause,
            stack: Vec::new(),
        });
    }
}
