//! Spans across tokio tasks and threads, unsampled traces, and root spans that begin segments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use serde_json::json;
use tracing::instrument::WithSubscriber;
use tracing::{Instrument, info_span, instrument};
use xray_sdk_core::types::header::SamplingFlag;
use xray_sdk_core::{FutureExt, context};
use xray_sdk_tracing::XrayLayer;

use support::{recorder, recorder_asked, shapes, subscriber};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[instrument(fields(xray.order_id = 42))]
async fn checkout() {
    validate();
    // One task continues the span (tracing's way), the other the X-Ray context (the SDK's way).
    let first = tokio::spawn(reserve(1).in_current_span().with_current_subscriber());
    let second = context::spawn(reserve(2).with_current_subscriber());
    tokio::task::yield_now().await;
    first.await.unwrap();
    second.await.unwrap();
}

#[instrument]
fn validate() {}

#[instrument]
async fn reserve(slot: u32) {
    for _ in 0..3 {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // An X-Ray subsegment opened after the task hopped threads still nests under its span.
    let _sub = xray_sdk_core::context::current()
        .unwrap()
        .begin_subsegment("store");
}

#[test]
fn async_instrument_and_spawned_tasks_nest_under_their_span() {
    let (recorder, emitter) = recorder(true);
    tracing::subscriber::with_default(subscriber(XrayLayer::new()), || {
        runtime().block_on(async {
            let segment = recorder.segment("svc").begin_detached();
            checkout().in_entity(segment.entity().clone()).await;
            segment.end();
        });
    });
    let reserve = |slot: u32| json!({"name": "reserve", "metadata": {"tracing": {"slot": slot}}, "subsegments": [{"name": "store"}]});
    assert_eq!(
        shapes(&emitter),
        vec![json!({
            "name": "svc",
            "subsegments": [{
                "name": "checkout",
                "annotations": {"order_id": 42},
                "subsegments": [reserve(1), reserve(2), {"name": "validate"}]
            }]
        })]
    );
}

#[test]
fn spans_on_threads_nest_under_their_parent() {
    let (recorder, emitter) = recorder(true);
    let dispatch = tracing::Dispatch::new(subscriber(XrayLayer::new()));
    tracing::dispatcher::with_default(&dispatch, || {
        let _segment = recorder.segment("svc").begin();
        let batch = info_span!("batch");
        let shared = info_span!("shared");
        std::thread::scope(|s| {
            for worker in 0..2u64 {
                let (batch, shared, dispatch, recorder) = (&batch, &shared, &dispatch, &recorder);
                s.spawn(move || {
                    tracing::dispatcher::with_default(dispatch, || {
                        // An explicit parent, on a thread where no X-Ray entity is current.
                        let _w = info_span!(parent: batch, "worker", worker).entered();
                        let _x = recorder.begin_subsegment("xray-in-worker").unwrap();
                        // One span entered on two threads at once: each thread nests under it.
                        shared.in_scope(|| {
                            let _c = info_span!("shared-child", worker).entered();
                        });
                    });
                });
            }
        });
        assert!(context::current().unwrap().is_segment());
    });
    let worker = |n: u64| {
        json!({
            "name": "worker",
            "metadata": {"tracing": {"worker": n}},
            "subsegments": [{"name": "xray-in-worker"}]
        })
    };
    let child = |n: u64| json!({"name": "shared-child", "metadata": {"tracing": {"worker": n}}});
    assert_eq!(
        shapes(&emitter),
        vec![json!({
            "name": "svc",
            "subsegments": [
                {"name": "batch", "subsegments": [worker(0), worker(1)]},
                {"name": "shared", "subsegments": [child(0), child(1)]}
            ]
        })]
    );
}

#[test]
fn unsampled_traces_record_nothing_and_keep_their_context() {
    let (recorder, emitter) = recorder(false);
    tracing::subscriber::with_default(subscriber(XrayLayer::new()), || {
        let segment = recorder.segment("svc").begin();
        let trace_id = segment.trace_id();
        let outer = info_span!("outer", xray.key = 1).entered();
        let inner = info_span!("inner").entered();
        tracing::error!("not recorded");
        let current = context::current().unwrap();
        let header = current.trace_header().unwrap();
        assert_eq!(header.root, Some(trace_id));
        assert_eq!(header.sampled, Some(SamplingFlag::NotSampled));
        drop((inner, outer));
        assert_eq!(context::current().unwrap(), *segment.entity());
    });
    assert!(emitter.take().is_empty());
}

#[test]
fn root_spans_begin_segments_as_the_sampler_decides() {
    let (recorder, emitter, asked) = recorder_asked(true);
    let layer = XrayLayer::builder().root_segments(recorder.clone()).build();
    tracing::subscriber::with_default(subscriber(layer), || {
        let _job = info_span!("nightly job", xray.run = 7).entered();
        let _step = info_span!("step").entered();
        // An explicit root inside a trace nests in the current trace, it does not start one.
        let _detached = info_span!(parent: None, "explicit root").entered();
    });
    assert_eq!(*asked.lock().unwrap(), vec!["nightly job".to_owned()]);
    // Nothing is current once the root span has exited.
    assert!(context::current().is_none());
    let docs = shapes(&emitter);
    assert_eq!(
        docs,
        vec![json!({
            "name": "nightly job",
            "annotations": {"run": 7},
            "subsegments": [{"name": "step", "subsegments": [{"name": "explicit root"}]}]
        })]
    );

    let (recorder, emitter, asked) = recorder_asked(false);
    let layer = XrayLayer::builder().root_segments(recorder.clone()).build();
    tracing::subscriber::with_default(subscriber(layer), || {
        let _job = info_span!("skipped job").entered();
        let _step = info_span!("step").entered();
        // The unsampled segment is current, so calls downstream carry the trace.
        let header = context::current().unwrap().trace_header().unwrap();
        assert_eq!(header.sampled, Some(SamplingFlag::NotSampled));
    });
    assert_eq!(*asked.lock().unwrap(), vec!["skipped job".to_owned()]);
    assert!(emitter.take().is_empty());
}

#[test]
fn spans_outside_a_trace_are_not_recorded() {
    let (_recorder, emitter) = recorder(true);
    tracing::subscriber::with_default(subscriber(XrayLayer::new()), || {
        let _span = info_span!("no trace").entered();
        assert!(context::current().is_none());
    });
    assert!(emitter.take().is_empty());
}
