//! The UDP emitter over a real socket on loopback: framing, the size limit, splitting, trimming, streaming.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, HashSet};
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use xray_sdk_core::Recorder;
use xray_sdk_core::config::{Endpoint, MapEnv};
use xray_sdk_core::emitter::UdpEmitter;
use xray_sdk_core::sampling::AlwaysSample;
use xray_sdk_types::framing::{MAX_DATAGRAM_SIZE, split_datagram};

struct Daemon {
    socket: UdpSocket,
}

impl Daemon {
    fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        // Only so that a missing datagram fails the test instead of hanging it.
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Daemon { socket }
    }

    fn recorder(&self, threshold: usize) -> (Recorder, Arc<UdpEmitter>) {
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port: self.socket.local_addr().unwrap().port(),
        };
        let emitter = Arc::new(UdpEmitter::new(endpoint).unwrap());
        let recorder = Recorder::builder()
            .env(MapEnv::default())
            .sampler(AlwaysSample)
            .streaming_threshold(threshold)
            .shared_emitter(emitter.clone())
            .build()
            .unwrap();
        (recorder, emitter)
    }

    /// The `sent` datagrams the emitter says it sent (read after a flush), checked and parsed; none more has
    /// arrived.
    fn documents(&self, sent: u64) -> Vec<Value> {
        let mut buf = vec![0u8; 70_000];
        let mut docs = Vec::new();
        for i in 0..sent {
            let n = self
                .socket
                .recv(&mut buf)
                .unwrap_or_else(|e| panic!("datagram {i} of {sent}: {e}"));
            assert!(n <= MAX_DATAGRAM_SIZE, "datagram of {n} bytes");
            assert!(buf[..n].starts_with(b"{\"format\":\"json\",\"version\":1}\n"));
            let body = split_datagram(&buf[..n]).unwrap();
            let doc: Value = serde_json::from_slice(body).unwrap();
            let errors: Vec<String> = xray_sdk_testdata::schema()
                .iter_errors(&doc)
                .map(|e| e.to_string())
                .collect();
            assert!(errors.is_empty(), "schema: {errors:?}\n{doc}");
            xray_sdk_types::validate::validate(&doc).unwrap();
            docs.push(doc);
        }
        self.socket.set_nonblocking(true).unwrap();
        let more = self.socket.recv(&mut buf);
        assert!(
            more.as_ref()
                .is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock),
            "a datagram more than the {sent} sent: {more:?}"
        );
        self.socket.set_nonblocking(false).unwrap();
        docs
    }
}

/// Every entity in the documents: id → (name, parent id).
fn entities(docs: &[Value]) -> HashMap<String, (String, Option<String>)> {
    fn walk(
        doc: &Value,
        parent: Option<&str>,
        out: &mut HashMap<String, (String, Option<String>)>,
    ) {
        let id = doc["id"].as_str().unwrap().to_owned();
        let parent_id = doc["parent_id"]
            .as_str()
            .map(str::to_owned)
            .or(parent.map(str::to_owned));
        if let Some(p) = parent {
            assert_eq!(doc["parent_id"].as_str(), Some(p), "embedded parent_id");
        }
        assert!(
            out.insert(
                id.clone(),
                (doc["name"].as_str().unwrap().to_owned(), parent_id)
            )
            .is_none()
        );
        for sub in doc["subsegments"].as_array().into_iter().flatten() {
            walk(sub, Some(&id), out);
        }
    }
    let mut out = HashMap::new();
    for doc in docs {
        walk(doc, None, &mut out);
    }
    out
}

#[test]
fn a_large_segment_arrives_whole_across_datagrams() {
    let daemon = Daemon::new();
    let (recorder, emitter) = daemon.recorder(1000);
    let segment = recorder.segment("big").sampled(true).begin();
    let trace_id = segment.trace_id().to_string();
    let segment_id = segment.id().to_string();
    for i in 0..25 {
        let outer = recorder.begin_subsegment("outer").unwrap();
        outer.put_metadata("blob", &"a".repeat(2000));
        for j in 0..3 {
            let inner = recorder.begin_subsegment("inner").unwrap();
            inner.put_annotation("i", i);
            inner.put_annotation("j", j);
        }
    }
    {
        let huge = recorder.begin_subsegment("huge").unwrap();
        huge.put_metadata("rows", &vec!["z".repeat(1000); 100]);
        huge.put_annotation("kept", true);
    }
    drop(segment);
    assert!(recorder.flush(Duration::from_secs(5)));
    let stats = emitter.stats();
    let docs = daemon.documents(stats.sent);
    assert!(docs.len() > 1, "the segment should have been split");
    assert!(stats.split >= 1);
    assert_eq!(stats.trimmed, 1);
    assert_eq!(stats.dropped, 0);

    let all = entities(&docs);
    assert_eq!(
        all.len(),
        1 + 25 * 4 + 1,
        "every entity arrives exactly once"
    );
    for doc in &docs {
        assert_eq!(doc["trace_id"].as_str(), Some(trace_id.as_str()));
    }
    // Every parent id names an entity of the trace, and everything leads back to the segment.
    for (id, (_, parent)) in &all {
        match parent {
            None => assert_eq!(id, &segment_id),
            Some(p) => assert!(all.contains_key(p), "dangling parent {p}"),
        }
    }
    let huge = docs
        .iter()
        .flat_map(|d| std::iter::once(d).chain(d["subsegments"].as_array().into_iter().flatten()))
        .find(|d| d["name"] == "huge")
        .unwrap();
    assert_eq!(
        huge["metadata"]["xray"]["trimmed"],
        serde_json::json!(["metadata"])
    );
    assert_eq!(huge["annotations"]["kept"], Value::Bool(true));
}

#[test]
fn streaming_sends_closed_subtrees_ahead_and_loses_nothing() {
    let daemon = Daemon::new();
    let (recorder, emitter) = daemon.recorder(30);
    let segment = recorder.segment("streamed").sampled(true).begin();
    let segment_id = segment.id().to_string();
    for _ in 0..35 {
        recorder.begin_subsegment("step").unwrap().end();
    }
    drop(segment);
    assert!(recorder.flush(Duration::from_secs(5)));
    let docs = daemon.documents(emitter.stats().sent);
    assert_eq!(docs.len(), 32);
    let streamed: Vec<&Value> = docs.iter().filter(|d| d["type"] == "subsegment").collect();
    assert_eq!(streamed.len(), 31);
    for d in &streamed {
        assert_eq!(d["parent_id"].as_str(), Some(segment_id.as_str()));
    }
    let last = docs.iter().find(|d| d.get("type").is_none()).unwrap();
    assert_eq!(last["subsegments"].as_array().unwrap().len(), 4);
    let ids: HashSet<String> = entities(&docs).into_keys().collect();
    assert_eq!(ids.len(), 36);
}

#[test]
fn an_unreachable_daemon_costs_the_host_nothing() {
    // Port 9 (discard) on loopback: nothing listens; sends fail or vanish, and nothing surfaces.
    let recorder = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .daemon_address("127.0.0.1:9")
        .build()
        .unwrap();
    for _ in 0..100 {
        let seg = recorder.segment("lost").sampled(true).begin();
        recorder.begin_subsegment("child").unwrap().end();
        drop(seg);
    }
    assert!(recorder.flush(Duration::from_secs(5)));
}

#[test]
fn flush_waits_for_every_thread_and_returns_at_once_when_nothing_waits() {
    let daemon = Daemon::new();
    let (recorder, emitter) = daemon.recorder(100);
    std::thread::scope(|s| {
        for t in 0..4 {
            let recorder = recorder.clone();
            let emitter = &emitter;
            s.spawn(move || {
                for i in 0..20 {
                    let segment = recorder.segment("flushed").sampled(true).begin();
                    segment.put_annotation("thread", t);
                    segment.put_annotation("i", i);
                }
                // Each thread's own flush covers at least what it emitted.
                assert!(recorder.flush(Duration::from_secs(5)));
                assert!(emitter.stats().sent >= 20);
            });
        }
    });
    assert!(recorder.flush(Duration::from_secs(5)));
    assert_eq!(emitter.stats().sent, 80);
    // Nothing is waiting now: a flush answers without the sending thread, so even one with no time at all
    // succeeds (one that asked the thread would have to wait for its answer, and give up at once).
    for _ in 0..100 {
        assert!(
            recorder.flush(Duration::ZERO),
            "a flush with nothing to wait for"
        );
    }
    // (Few enough for the receiving socket's default buffer.)
    let docs = daemon.documents(80);
    let mut seen = HashSet::new();
    for doc in &docs {
        let a = &doc["annotations"];
        assert!(seen.insert((a["thread"].as_i64().unwrap(), a["i"].as_i64().unwrap())));
    }
}

/// How often the sending thread polls a small queue is a matter of rates (datagrams a second against the length
/// of its sleeps), which no test can check without a clock it does not control; the standard bench measures it.
/// What does not depend on timing is checked here: a queue of 64 never drops while it is flushed before it
/// fills, every datagram is either sent or counted as dropped when it overflows, and everything it took is sent.
#[test]
fn a_small_queue_loses_nothing_between_flushes_and_counts_what_overflows() {
    // Something listens (sends succeed), even if it reads nothing: the emitter's own counts are checked.
    let receiver = UdpSocket::bind("127.0.0.1:0").unwrap();
    let endpoint = Endpoint {
        host: "127.0.0.1".into(),
        port: receiver.local_addr().unwrap().port(),
    };
    const CAPACITY: u64 = 64;
    let emitter = Arc::new(
        UdpEmitter::with_capacity(endpoint, CAPACITY as usize, MAX_DATAGRAM_SIZE).unwrap(),
    );
    let recorder = Recorder::builder()
        .env(MapEnv::default())
        .sampler(AlwaysSample)
        .shared_emitter(emitter.clone())
        .build()
        .unwrap();
    // Rounds of one datagram fewer than the queue holds (the flush takes a place too), whatever the thread does.
    for _ in 0..50 {
        for _ in 0..CAPACITY - 1 {
            drop(recorder.segment("paced").sampled(true).begin());
        }
        assert!(recorder.flush(Duration::from_secs(10)));
    }
    let stats = emitter.stats();
    assert_eq!((stats.sent, stats.dropped), (50 * (CAPACITY - 1), 0));

    // A burst far larger than the queue: whatever the thread took in the meantime, the first 64 found room.
    for _ in 0..3000 {
        drop(recorder.segment("burst").sampled(true).begin());
    }
    assert!(
        recorder.flush(Duration::MAX),
        "a timeout too long for the clock waits"
    );
    let after = emitter.stats();
    let (sent, dropped) = (after.sent - stats.sent, after.dropped - stats.dropped);
    assert_eq!(sent + dropped, 3000, "{after:?}");
    assert!(sent >= CAPACITY, "{after:?}");
    assert_eq!(after.send_errors, 0);
}
