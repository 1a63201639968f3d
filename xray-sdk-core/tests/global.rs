//! The process-wide recorder: nothing builds it as a side effect, and `install` hands back a guard that
//! flushes. One test, alone in its binary, since the global recorder can be installed once per process.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::{Emitter, MemoryEmitter};
use xray_sdk_core::sampling::AlwaysSample;
use xray_sdk_core::{Recorder, global, install};
use xray_sdk_types::Document;

/// Keeps documents, and counts the flushes asked of it.
#[derive(Debug, Clone, Default)]
struct CountingEmitter {
    documents: MemoryEmitter,
    flushes: Arc<AtomicUsize>,
}

impl Emitter for CountingEmitter {
    fn emit(&self, document: Box<Document>) {
        self.documents.emit(document);
    }
    fn flush(&self, _: Duration) -> bool {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        true
    }
}

#[test]
fn capture_outside_a_segment_builds_no_recorder_and_install_flushes_on_drop() {
    // What `#[capture]` does with no current segment: it records nothing, and must not build the default
    // recorder (with its emitter thread and sampling poller) just to read the context-missing strategy.
    let orphan = xray_sdk_core::__private::begin("orphan");
    assert!(!orphan.is_sampled());
    drop(orphan);

    let emitter = CountingEmitter::default();
    let recorder = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    // Had anything built the global recorder, this would hand the recorder back.
    let guard = install(recorder).expect("nothing was installed before");
    drop(global().begin_segment("last words"));
    assert_eq!(emitter.flushes.load(Ordering::SeqCst), 0);
    drop(guard);
    assert_eq!(emitter.flushes.load(Ordering::SeqCst), 1);
    assert_eq!(emitter.documents.documents()[0].name, "last words");

    // A second install is refused, and the recorder comes back.
    let other = Recorder::builder()
        .env(MapEnv::default())
        .service_name("other")
        .emitter(MemoryEmitter::new())
        .build()
        .unwrap();
    let refused = install(other).unwrap_err();
    assert_eq!(
        refused.recorder.config().service_name.as_deref(),
        Some("other")
    );
}
