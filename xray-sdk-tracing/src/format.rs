//! `XrayFormat`: `tracing_subscriber::fmt` lines that carry the trace id.

use std::fmt;

use tracing_core::{Event, Subscriber};
use tracing_subscriber::fmt::format::{Format, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;
use xray_sdk_core::context;

use crate::XrayLogId;
use crate::layer::span_entity;

/// An event formatter for [`tracing_subscriber::fmt`](mod@tracing_subscriber::fmt) that begins each line logged inside a trace with its
/// [`XrayLogId`] (`AWS-XRAY-TRACE-ID: 1-…@…`), then formats the line as `inner` does. Lines outside a trace are
/// left exactly as `inner` writes them.
///
/// The trace is the current X-Ray entity's or, when none is current, that of the event's span (or its nearest
/// ancestor) traced by [`XrayLayer`](crate::XrayLayer). Lines of an unsampled trace carry its trace id too.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// use xray_sdk_tracing::{XrayFormat, XrayLayer};
///
/// let subscriber = tracing_subscriber::registry()
///     .with(XrayLayer::new())
///     .with(tracing_subscriber::fmt::layer().event_format(XrayFormat::default()));
/// # drop(subscriber);
/// ```
///
/// With JSON output, where a prefix would break each line, put [`XrayLogId::current`]'s trace id in a field of
/// your own instead.
#[derive(Debug, Clone)]
pub struct XrayFormat<F = Format> {
    inner: F,
}

impl Default for XrayFormat<Format> {
    /// Lines formatted as `tracing_subscriber::fmt` formats them by default, prefixed with the trace id.
    fn default() -> Self {
        XrayFormat::new(Format::default())
    }
}

impl<F> XrayFormat<F> {
    /// Lines formatted by `inner` (for example `tracing_subscriber::fmt::format().compact()`), prefixed with
    /// the trace id.
    pub fn new(inner: F) -> Self {
        XrayFormat { inner }
    }
}

impl<S, N, F> FormatEvent<S, N> for XrayFormat<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let entity = if event.is_contextual() {
            context::current().or_else(|| ctx.parent_span().and_then(span_entity))
        } else {
            ctx.parent_span()
                .and_then(span_entity)
                .or_else(context::current)
        };
        if let Some(id) = entity.as_ref().and_then(XrayLogId::of) {
            write!(writer, "{id} ")?;
        }
        self.inner.format_event(ctx, writer, event)
    }
}
