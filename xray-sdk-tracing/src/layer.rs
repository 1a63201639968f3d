//! `XrayLayer`: spans become subsegments.

use std::borrow::Cow;
use std::sync::Arc;

use tracing_core::span::{self, Attributes, Record};
use tracing_core::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::{LookupSpan, SpanRef};
use xray_sdk_core::types::rules::sanitize_name;
use xray_sdk_core::{Entity, SegmentGuard, SubsegmentGuard, context};

use crate::builder::XrayLayerBuilder;
use crate::config::{Config, is_error};
use crate::entered;
use crate::fields::{EventVisitor, NAME_FIELD, NameVisitor, SpanVisitor, record_exception};

/// A [`tracing_subscriber::Layer`] that records spans as X-Ray subsegments.
///
/// A span opened while an X-Ray entity is current (a segment, a subsegment, or the subsegment of an entered
/// span) becomes a subsegment under it, from the span's creation to its close. While the span is entered, its
/// subsegment is the current X-Ray entity, so X-Ray subsegments opened inside it are its children. A span with an
/// explicit parent nests under its parent's subsegment, on whichever thread it runs.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use xray_sdk_tracing::XrayLayer;
///
/// let subscriber = tracing_subscriber::registry().with(XrayLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     // spans opened inside an X-Ray segment become its subsegments
/// });
/// ```
#[derive(Debug, Clone, Default)]
pub struct XrayLayer {
    config: Arc<Config>,
}

impl XrayLayer {
    /// A layer with the default settings: every target and level but the SDK's own, fields named `xray.*` as
    /// annotations (`xray.order_id` → `order_id`), the other fields as metadata in the namespace `tracing`, and no
    /// segments for root spans.
    pub fn new() -> Self {
        XrayLayer::default()
    }

    /// A builder for a layer with other settings.
    pub fn builder() -> XrayLayerBuilder {
        XrayLayerBuilder::default()
    }

    pub(crate) fn from_config(config: Config) -> Self {
        XrayLayer {
            config: Arc::new(config),
        }
    }
}

/// What a span's X-Ray entity is, kept in the span's extensions while the span lives.
pub(crate) enum Traced {
    Subsegment(SubsegmentGuard),
    Segment(SegmentGuard),
}

impl Traced {
    pub(crate) fn entity(&self) -> &Entity {
        match self {
            Traced::Subsegment(g) => g.entity(),
            Traced::Segment(g) => g.entity(),
        }
    }

    fn end(self) {
        match self {
            Traced::Subsegment(g) => g.end(),
            Traced::Segment(g) => g.end(),
        }
    }
}

/// The entity of the nearest span, `span` or one of its ancestors, that has one.
pub(crate) fn span_entity<'a, R: LookupSpan<'a>>(span: SpanRef<'a, R>) -> Option<Entity> {
    span.scope()
        .find_map(|s| s.extensions().get::<Traced>().map(|t| t.entity().clone()))
}

/// Where a new span goes.
enum Parent {
    /// Under this entity.
    Entity(Entity),
    /// Nowhere: its parent span is not traced.
    Untraced,
    /// A root span with no X-Ray entity current: the start of a trace.
    Root,
}

impl XrayLayer {
    fn parent<S>(&self, attrs: &Attributes<'_>, ctx: &Context<'_, S>) -> Parent
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if attrs.is_contextual() {
            // The current X-Ray entity is the entered parent span's subsegment, or an X-Ray subsegment opened
            // inside it: the innermost of the two. With none current, no traced span is entered here, and
            // the span's ancestors need no look-up.
            if let Some(entity) = context::current() {
                return Parent::Entity(entity);
            }
            return if self.config.root_segments.is_some() && ctx.lookup_current().is_none() {
                Parent::Root
            } else {
                Parent::Untraced
            };
        }
        if let Some(entity) = attrs
            .parent()
            .and_then(|id| ctx.span(id))
            .and_then(span_entity)
        {
            return Parent::Entity(entity);
        }
        match context::current() {
            Some(entity) => Parent::Entity(entity),
            None if attrs.is_root() => Parent::Root,
            None => Parent::Untraced,
        }
    }
}

impl<S> Layer<S> for XrayLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let config = &*self.config;
        let metadata = attrs.metadata();
        if !config.traces(metadata) {
            return;
        }
        let traced = match self.parent(attrs, &ctx) {
            // An unsampled trace: nothing is recorded and nothing is kept; the current entity stays the
            // unsampled one, and carries the trace context downstream.
            Parent::Entity(parent) if !parent.is_sampled() => return,
            Parent::Entity(parent) => {
                let guard = parent.begin_subsegment(&span_name(attrs));
                if !guard.is_sampled() {
                    // The segment could take no more subsegments.
                    return;
                }
                Traced::Subsegment(guard)
            }
            Parent::Untraced => return,
            Parent::Root => match &config.root_segments {
                Some(recorder) => {
                    Traced::Segment(recorder.segment(&span_name(attrs)).begin_detached())
                }
                None => return,
            },
        };
        if traced.entity().is_sampled() {
            attrs.record(&mut SpanVisitor {
                entity: traced.entity(),
                config,
            });
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(traced);
        }
    }

    fn on_record(&self, id: &span::Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let entity = match span.extensions().get::<Traced>() {
            Some(traced) if traced.entity().is_sampled() => traced.entity().clone(),
            _ => return,
        };
        if let Some(field) = span.metadata().fields().field(NAME_FIELD)
            && values.contains(&field)
        {
            let mut name = NameVisitor::default();
            values.record(&mut name);
            if let Some(name) = name.name {
                let name = sanitize_name(&name).into_owned();
                if !name.is_empty() {
                    entity.with_document(|doc| doc.name = name.into());
                }
            }
        }
        values.record(&mut SpanVisitor {
            entity: &entity,
            config: &self.config,
        });
    }

    fn on_enter(&self, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let entity = span
            .extensions()
            .get::<Traced>()
            .map(|t| t.entity().clone());
        if let Some(entity) = entity {
            entered::push(id, entity);
        }
    }

    fn on_exit(&self, id: &span::Id, _ctx: Context<'_, S>) {
        entered::pop(id);
    }

    fn on_close(&self, id: span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(&id) else { return };
        let traced = span.extensions_mut().remove::<Traced>();
        if let Some(traced) = traced {
            traced.end();
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let metadata = event.metadata();
        if !is_error(metadata.level()) || !self.config.traces(metadata) {
            return;
        }
        let Some(entity) = ctx.event_span(event).and_then(span_entity) else {
            return;
        };
        if !entity.is_sampled() {
            return;
        }
        let mut visitor = EventVisitor::default();
        event.record(&mut visitor);
        let message = match (visitor.message, visitor.error.is_empty()) {
            (None, true) => Some(metadata.name().to_owned()),
            (message, _) => message,
        };
        record_exception(&entity, message, visitor.error);
    }
}

/// The subsegment's name: the span's `otel.name` field, or else (or if it holds nothing X-Ray accepts) its name.
fn span_name(attrs: &Attributes<'_>) -> Cow<'static, str> {
    if attrs.metadata().fields().field(NAME_FIELD).is_some() {
        let mut visitor = NameVisitor::default();
        attrs.record(&mut visitor);
        if let Some(name) = visitor.name.filter(|n| !sanitize_name(n).is_empty()) {
            return Cow::Owned(name);
        }
    }
    Cow::Borrowed(attrs.metadata().name())
}
