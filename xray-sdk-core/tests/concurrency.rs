//! Many threads and tasks recording into one segment; context across `.await` and worker threads.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::time::Duration;

use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::sampling::AlwaysSample;
use xray_sdk_core::{FutureExt, Recorder, context};
use xray_sdk_types::Document;

fn recorder(emitter: &MemoryEmitter) -> Recorder {
    Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .streaming_threshold(100_000)
        .emitter(emitter.clone())
        .build()
        .unwrap()
}

fn index(
    doc: &Document,
    parent: Option<&Document>,
    out: &mut HashMap<String, (String, Option<String>)>,
) {
    out.insert(
        doc.id.to_string(),
        (doc.name.to_string(), parent.map(|p| p.name.to_string())),
    );
    for sub in &doc.subsegments {
        index(sub, Some(doc), out);
    }
}

#[test]
fn threads_nest_their_subsegments_under_the_entity_they_entered() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter);
    let segment = rec.begin_segment("threads");
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let parent = segment.entity().clone();
            let rec = rec.clone();
            std::thread::spawn(move || {
                let _in_trace = context::enter(parent);
                let worker = rec.begin_subsegment(&format!("worker{t}")).unwrap();
                for _ in 0..50 {
                    let step = rec.begin_subsegment(&format!("step{t}")).unwrap();
                    step.put_annotation("thread", t);
                }
                drop(worker);
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    drop(segment);
    let docs = emitter.documents();
    assert_eq!(docs.len(), 1);
    let mut all = HashMap::new();
    index(&docs[0], None, &mut all);
    assert_eq!(all.len(), 1 + 8 * 51);
    for (name, parent) in all.values() {
        if let Some(t) = name.strip_prefix("step") {
            assert_eq!(parent.as_deref(), Some(format!("worker{t}").as_str()));
        } else if name.starts_with("worker") {
            assert_eq!(parent.as_deref(), Some("threads"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tasks_keep_their_context_across_awaits_and_threads() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter);
    let segment = rec.segment("root").begin_detached();
    let root = segment.entity().clone();
    async {
        let tasks: Vec<_> = (0..16)
            .map(|t| {
                let rec = rec.clone();
                context::spawn(async move {
                    let task = rec.begin_subsegment(&format!("task{t}")).unwrap();
                    for i in 0..5 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        tokio::task::yield_now().await;
                        let step = rec.begin_subsegment(&format!("io{t}")).unwrap();
                        tokio::time::sleep(Duration::from_micros(200)).await;
                        assert_eq!(context::current().unwrap().id(), step.id());
                        step.put_annotation("i", i);
                    }
                    assert_eq!(context::current().unwrap().id(), task.id());
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(context::current().unwrap().id(), root.id());
    }
    .in_entity(root.clone())
    .await;
    assert!(context::current().is_none());
    segment.end();
    let docs = emitter.documents();
    assert_eq!(docs.len(), 1);
    let mut all = HashMap::new();
    index(&docs[0], None, &mut all);
    assert_eq!(all.len(), 1 + 16 * 6);
    for (name, parent) in all.values() {
        if let Some(t) = name.strip_prefix("io") {
            assert_eq!(parent.as_deref(), Some(format!("task{t}").as_str()));
        } else if name.starts_with("task") {
            assert_eq!(parent.as_deref(), Some("root"));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_future_ends_its_segment_as_a_fault() {
    let emitter = MemoryEmitter::new();
    let rec = recorder(&emitter);
    // Polled once (it never completes), then dropped.
    let mut slow = Box::pin(rec.in_segment_async("slow", std::future::pending::<()>()));
    let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(slow.as_mut().poll(cx))).await;
    assert!(polled.is_pending());
    assert!(emitter.documents().is_empty());
    drop(slow);
    let docs = emitter.documents();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0].name, "slow");
    assert_eq!(docs[0].fault, Some(true));
    let done = rec.in_segment_async("quick", async { 7 }).await;
    assert_eq!(done, 7);
    assert_eq!(emitter.documents()[1].fault, None);
}
