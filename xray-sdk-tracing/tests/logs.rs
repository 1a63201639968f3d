//! Log lines with and without a trace: `XrayFormat` for `tracing_subscriber::fmt`, `XrayLogger` for `log`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};

use tracing::info_span;
use tracing_subscriber::layer::SubscriberExt;
use xray_sdk_tracing::{XrayFormat, XrayLayer, XrayLogId, XrayLogger};

use support::{Lines, recorder};

fn fmt_subscriber(lines: &Lines) -> impl tracing::Subscriber + Send + Sync {
    tracing_subscriber::registry().with(XrayLayer::new()).with(
        tracing_subscriber::fmt::layer()
            .with_writer(lines.clone())
            .with_ansi(false)
            .event_format(XrayFormat::new(
                tracing_subscriber::fmt::format()
                    .without_time()
                    .with_target(false),
            )),
    )
}

#[test]
fn fmt_lines_carry_the_trace_id_inside_a_trace_only() {
    let (recorder, _emitter) = recorder(true);
    let lines = Lines::default();
    let (trace, segment_id, span_id) =
        tracing::subscriber::with_default(fmt_subscriber(&lines), || {
            tracing::info!("before");
            let segment = recorder.segment("svc").begin();
            tracing::info!("in segment");
            let span = info_span!("work").entered();
            let span_id = xray_sdk_core::context::current().unwrap().id();
            tracing::warn!(n = 1, "in span");
            drop(span);
            let ids = (segment.trace_id(), segment.id(), span_id);
            drop(segment);
            tracing::info!("after");
            ids
        });
    assert_eq!(
        lines.lines(),
        vec![
            " INFO before".to_owned(),
            format!("AWS-XRAY-TRACE-ID: {trace}@{segment_id}  INFO in segment"),
            format!("AWS-XRAY-TRACE-ID: {trace}@{span_id}  WARN work: in span n=1"),
            " INFO after".to_owned(),
        ]
    );
}

#[test]
fn unsampled_lines_carry_the_trace_id_alone() {
    let (recorder, _emitter) = recorder(false);
    let lines = Lines::default();
    let trace = tracing::subscriber::with_default(fmt_subscriber(&lines), || {
        let segment = recorder.segment("svc").begin();
        let _span = info_span!("work").entered();
        tracing::info!("unsampled");
        segment.trace_id()
    });
    assert_eq!(
        lines.lines(),
        vec![format!("AWS-XRAY-TRACE-ID: {trace}  INFO work: unsampled")]
    );
}

/// A `log::Log` that keeps each record's target and message.
#[derive(Debug, Clone, Default)]
struct Kept(Arc<Mutex<Vec<(String, String)>>>);

impl log::Log for Kept {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        self.0
            .lock()
            .unwrap()
            .push((record.target().to_owned(), record.args().to_string()));
    }

    fn flush(&self) {}
}

fn log_through(logger: &XrayLogger<Kept>, target: &str, message: &str) {
    log::Log::log(
        logger,
        &log::Record::builder()
            .target(target)
            .level(log::Level::Info)
            .args(format_args!("{message}"))
            .build(),
    );
}

#[test]
fn log_records_carry_the_trace_id_inside_a_trace_only() {
    let (recorder, _emitter) = recorder(true);
    let kept = Kept::default();
    let logger = XrayLogger::new(kept.clone());
    log_through(&logger, "app", "outside");
    let segment = recorder.segment("svc").begin();
    log_through(&logger, "app", "inside");
    log_through(&logger, "xray_sdk_core::emitter", "own");
    let id = XrayLogId::current().unwrap();
    assert_eq!(id.trace_id(), segment.trace_id());
    assert_eq!(id.entity_id(), Some(segment.id()));
    drop(segment);
    assert_eq!(XrayLogId::current(), None);
    assert_eq!(
        *kept.0.lock().unwrap(),
        vec![
            ("app".to_owned(), "outside".to_owned()),
            ("app".to_owned(), format!("inside {id}")),
            ("xray_sdk_core::emitter".to_owned(), "own".to_owned()),
        ]
    );
    assert_eq!(
        id.to_string(),
        format!(
            "AWS-XRAY-TRACE-ID: {}@{}",
            id.trace_id(),
            id.entity_id().unwrap()
        )
    );
}
