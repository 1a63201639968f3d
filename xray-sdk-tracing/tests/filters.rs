//! What is traced: levels, targets, per-layer filters, and never the SDK's own spans.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::json;
use tracing::{Level, debug_span, info_span, trace_span};
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::{Layer, SubscriberExt};
use xray_sdk_tracing::XrayLayer;

use support::{recorder, shapes, subscriber};

/// Opens the same spans under every filter: the untraced ones leave their children to the nearest traced
/// ancestor.
fn spans(recorder: &xray_sdk_core::Recorder) {
    let _segment = recorder.segment("svc").begin();
    let _app = info_span!(target: "my_app::db", "query").entered();
    let _verbose = debug_span!(target: "my_app", "verbose").entered();
    let _inner = info_span!(target: "my_app", "inside verbose").entered();
    let _other = info_span!(target: "my_application", "other crate").entered();
    let _trace = trace_span!(target: "my_app", "very verbose").entered();
    let _own = info_span!(target: "xray_sdk_core::emitter", "own").entered();
    let _own_child = info_span!(target: "my_app", "under own").entered();
    tracing::error!(target: "xray_sdk_core::emitter", "the SDK's own error");
}

#[test]
fn level_and_target_filters_of_the_builder() {
    let (recorder, emitter) = recorder(true);
    let layer = XrayLayer::builder()
        .max_level(Level::INFO)
        .target("my_app")
        .build();
    tracing::subscriber::with_default(subscriber(layer), || spans(&recorder));
    assert_eq!(
        shapes(&emitter),
        vec![json!({
            "name": "svc",
            "subsegments": [{"name": "query", "subsegments": [
                {"name": "inside verbose", "subsegments": [{"name": "under own"}]}
            ]}]
        })]
    );
}

#[test]
fn without_filters_everything_but_the_sdk_is_traced() {
    let (recorder, emitter) = recorder(true);
    tracing::subscriber::with_default(subscriber(XrayLayer::new()), || spans(&recorder));
    assert_eq!(
        shapes(&emitter),
        vec![json!({
            "name": "svc",
            "subsegments": [{"name": "query", "subsegments": [{"name": "verbose", "subsegments": [
                {"name": "inside verbose", "subsegments": [{"name": "other crate", "subsegments": [
                    {"name": "very verbose", "subsegments": [{"name": "under own"}]}
                ]}]}
            ]}]}]
        })]
    );
}

#[test]
fn per_layer_filters_apply() {
    let (recorder, emitter) = recorder(true);
    let filter = Targets::new()
        .with_target("my_app", LevelFilter::DEBUG)
        .with_target("xray_sdk_core", LevelFilter::TRACE);
    let subscriber = tracing_subscriber::registry().with(XrayLayer::new().with_filter(filter));
    tracing::subscriber::with_default(subscriber, || spans(&recorder));
    assert_eq!(
        shapes(&emitter),
        vec![json!({
            "name": "svc",
            // `Targets` matches by plain prefix: `my_app` covers `my_application` too.
            "subsegments": [{"name": "query", "subsegments": [{"name": "verbose", "subsegments": [
                {"name": "inside verbose", "subsegments": [{"name": "other crate", "subsegments": [
                    {"name": "under own"}
                ]}]}
            ]}]}]
        })]
    );
}
