//! `use xray_sdk::prelude::*` hides no crate: below, `reqwest` and `tracing` are those crates, next to the
//! prelude's types. (With `use xray_sdk::*`, `reqwest` would name this crate's module and this would not build.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use xray_sdk::prelude::*;

#[test]
fn the_prelude_brings_the_recorder_and_hides_no_crate() {
    let recorder: Recorder = Recorder::builder()
        .emitter(xray_sdk::emitter::NoopEmitter)
        .build()
        .unwrap();
    let segment: SegmentGuard = recorder.segment("prelude").begin();
    let entity: &Entity = segment.entity();
    assert!(entity.is_segment());
    assert_eq!(entity.segment().id(), entity.id());
    assert_eq!(tracing::Level::INFO.as_str(), "INFO");
    let _client: reqwest::Client = reqwest::Client::new();
}

#[cfg(all(
    feature = "reqwest",
    feature = "tower",
    feature = "aws",
    feature = "tracing"
))]
#[test]
fn the_integrations_types_sit_beside_their_crates() {
    let recorder = Recorder::builder()
        .emitter(xray_sdk::emitter::NoopEmitter)
        .build()
        .unwrap();
    let _client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
        .with(XrayReqwestMiddleware::with_recorder(recorder.clone()))
        .build();
    let _layer: XrayHttpLayer = XrayHttpLayer::with_recorder(recorder.clone());
    let _aws: XrayAws = XrayAws::with_recorder(recorder.clone());
    let _bridge: XrayLayer = XrayLayer::builder().root_segments(recorder).build();
}
