//! A daemon that is down, slow or answers garbage: decisions keep coming from the fallback (or the last good
//! rules), nothing panics, no decision waits on the network, and the poller stops promptly.
//!
//! Nothing here measures time: a daemon that "hangs" holds its connections until the test releases them, so that
//! what must finish first demonstrably finishes before the release; the poller thread's end shows in the
//! fallback sampler's reference count (the thread holds the sampler's state, and the state holds the fallback).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::time::{Duration, Instant};

use serde_json::json;
use socket2::{Domain, Socket, Type};
use support::{Behaviour, FakeDaemon, rule};
use xray_sdk_core::config::Endpoint;
use xray_sdk_core::sampling::{
    AlwaysSample, CentralizedSampler, PollError, PollIntervals, Sampler, SamplingRequest,
    SharedSampler,
};

/// How long a wait may last before the test fails rather than hangs (not a bound on speed).
const DEADLINE: Duration = Duration::from_secs(10);

/// Short intervals, no jitter: the background thread polls several times a second.
fn fast() -> PollIntervals {
    PollIntervals {
        rules: Duration::from_millis(100),
        rules_jitter: Duration::ZERO,
        targets: Duration::from_millis(50),
        targets_jitter: Duration::ZERO,
    }
}

/// A loopback port that nothing listens on: a socket bound to it that never listens, held by the caller, so
/// that connections are refused and nothing else can take the port meanwhile.
fn closed_port() -> (Socket, Endpoint) {
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    socket
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .unwrap();
    let port = socket.local_addr().unwrap().as_socket().unwrap().port();
    let endpoint = Endpoint {
        host: "127.0.0.1".into(),
        port,
    };
    (socket, endpoint)
}

/// A fallback whose reference count tells whether the sampler's state (and so its poller thread) is still alive.
fn counted_fallback() -> SharedSampler {
    Arc::new(AlwaysSample)
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Runs `f` on a thread of its own; its result arrives on the receiver.
fn spawn<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Receiver<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

/// The result of what `spawn` started, failing (instead of hanging) if it does not come.
fn finished<T>(what: &str, rx: &Receiver<T>) -> T {
    rx.recv_timeout(DEADLINE)
        .unwrap_or_else(|e| panic!("{what}: no result ({e})"))
}

#[test]
fn daemon_down_falls_back() {
    let (_held, endpoint) = closed_port();
    let fallback = counted_fallback();
    let sampler = CentralizedSampler::builder(endpoint)
        .shared_fallback(fallback.clone())
        .intervals(fast())
        .timeout(Duration::from_millis(200))
        .start()
        .unwrap();
    for _ in 0..100 {
        let d = sampler.should_sample(&SamplingRequest::default());
        assert!(d.sampled && d.rule_name.is_none(), "the fallback decides");
    }
    assert!(matches!(
        sampler.refresh_rules(),
        Err(PollError::Connect(_))
    ));
    assert!(!sampler.has_fresh_rules());
    // Between retries the thread waits, and shutdown ends that wait and joins it.
    sampler.shutdown();
    drop(sampler);
    assert_eq!(
        Arc::strong_count(&fallback),
        1,
        "the poller thread outlived shutdown"
    );
}

#[test]
fn slow_daemon_times_out_and_never_delays_decisions() {
    let daemon = FakeDaemon::start();
    daemon.set_behaviour(Behaviour::Hang);
    let sampler = Arc::new(
        CentralizedSampler::builder(daemon.endpoint.clone())
            .fallback(AlwaysSample)
            .timeout(Duration::from_millis(300))
            .manual_polling()
            .start()
            .unwrap(),
    );
    // The daemon never answers (nothing releases it here): only the timeout can end the poll.
    let t = Instant::now();
    let poll = spawn({
        let sampler = Arc::clone(&sampler);
        move || sampler.refresh_rules()
    });
    let result = finished("a poll of a daemon that never answers", &poll);
    assert!(matches!(result, Err(PollError::Timeout)), "{result:?}");
    assert!(
        t.elapsed() >= Duration::from_millis(250),
        "gave up before its timeout: {:?}",
        t.elapsed()
    );

    // While another thread is stuck in a poll (until the daemon is released), decisions go on.
    let sampler = Arc::new(
        CentralizedSampler::builder(daemon.endpoint.clone())
            .fallback(AlwaysSample)
            .timeout(Duration::from_secs(600))
            .manual_polling()
            .start()
            .unwrap(),
    );
    let asked = daemon.requests().len();
    let poll = spawn({
        let sampler = Arc::clone(&sampler);
        move || sampler.refresh_rules()
    });
    wait_for("the poll to reach the daemon", || {
        daemon.requests().len() > asked
    });
    let decisions = spawn({
        let sampler = Arc::clone(&sampler);
        move || {
            (0..10_000)
                .filter(|_| sampler.should_sample(&SamplingRequest::default()).sampled)
                .count()
        }
    });
    assert_eq!(
        finished("decisions during a stuck poll", &decisions),
        10_000
    );
    assert!(
        matches!(poll.try_recv(), Err(TryRecvError::Empty)),
        "the poll ended before the daemon was released"
    );
    daemon.release_hung();
    assert!(finished("the released poll", &poll).is_err());
}

#[test]
fn stuck_targets_poll_keeps_the_rules_working() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![rule("svc-rule", 1, 1.0, 0, "svc", "*", "*", "*", "*")]);
    let sampler = Arc::new(
        CentralizedSampler::builder(daemon.endpoint.clone())
            .timeout(Duration::from_secs(600))
            .manual_polling()
            .start()
            .unwrap(),
    );
    sampler.refresh_rules().unwrap();
    daemon.set_behaviour(Behaviour::Hang);
    let req = SamplingRequest {
        service_name: "svc",
        ..Default::default()
    };
    sampler.should_sample(&req);
    let asked = daemon.requests().len();
    let poll = spawn({
        let sampler = Arc::clone(&sampler);
        move || sampler.report_statistics()
    });
    wait_for("the report to reach the daemon", || {
        daemon.requests().len() > asked
    });
    let decisions = spawn({
        let sampler = Arc::clone(&sampler);
        move || {
            let req = SamplingRequest {
                service_name: "svc",
                ..Default::default()
            };
            (0..10_000)
                .filter(|_| sampler.should_sample(&req).rule_name.as_deref() == Some("svc-rule"))
                .count()
        }
    });
    assert_eq!(
        finished("decisions during a stuck report", &decisions),
        10_000
    );
    assert!(
        matches!(poll.try_recv(), Err(TryRecvError::Empty)),
        "the report ended before the daemon was released"
    );
    daemon.release_hung();
    assert!(finished("the released report", &poll).is_err());
}

#[test]
fn garbage_answers_are_errors_and_keep_the_last_good_rules() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![rule("good", 1, 1.0, 0, "*", "*", "*", "*", "*")]);
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .fallback(AlwaysSample)
        .timeout(Duration::from_millis(500))
        .manual_polling()
        .start()
        .unwrap();
    sampler.refresh_rules().unwrap();
    let huge = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{{", 1 << 30);
    let garbage: Vec<(&str, Vec<u8>)> = vec![
        ("not HTTP", b"SSH-2.0-OpenSSH_9.6\r\n\r\n".to_vec()),
        ("binary", (0..=255u8).cycle().take(70_000).collect()),
        ("closed at once", Vec::new()),
        ("error status", b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\n\r\noops".to_vec()),
        ("throttled", b"HTTP/1.1 429 Too Many Requests\r\nContent-Length: 47\r\n\r\n{\"__type\":\"ThrottledException\",\"Message\":\"x\"}  ".to_vec()),
        ("not JSON", b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec()),
        ("truncated body", huge.into_bytes()),
        ("wrong shape", b"HTTP/1.1 200 OK\r\nContent-Length: 28\r\n\r\n{\"SamplingRuleRecords\": \"x\"}".to_vec()),
        ("bad chunking", b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nXYZ\r\n".to_vec()),
    ];
    for (label, bytes) in garbage {
        daemon.set_behaviour(Behaviour::Raw(bytes));
        let result = sampler.refresh_rules();
        assert!(result.is_err(), "{label}: {result:?}");
        let message = result.unwrap_err().to_string();
        assert!(message.contains("daemon"), "{label}: {message}");
        assert_eq!(sampler.rule_names().len(), 1, "{label}");
        let _ = sampler.report_statistics(); // whatever it answers, it must not panic
        let d = sampler.should_sample(&SamplingRequest::default());
        assert_eq!(d.rule_name.as_deref(), Some("good"), "{label}");
    }

    // Well-formed, but no usable rule: the rules in effect stay.
    let body = json!({"SamplingRuleRecords": [
        {"SamplingRule": {"RuleName": 5}},
        {"SamplingRule": {"RuleName": "v2", "ResourceARN": "*", "Priority": 1, "FixedRate": 1.0,
            "ReservoirSize": 0, "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*",
            "URLPath": "*", "Version": 2}}
    ]})
    .to_string();
    daemon.set_behaviour(Behaviour::Raw(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    ));
    assert_eq!(sampler.refresh_rules().unwrap(), 0);
    assert_eq!(sampler.rule_names().len(), 1);
}

#[test]
fn background_thread_polls_and_stops_promptly() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![rule("bg", 1, 0.0, 0, "*", "*", "*", "*", "*")]);
    daemon.set_targets(json!({
        "SamplingTargetDocuments": [{"RuleName": "bg", "FixedRate": 1.0}],
        "LastRuleModification": 1.0
    }));
    let fallback = counted_fallback();
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .shared_fallback(fallback.clone())
        .intervals(fast())
        .timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    wait_for("rules", || sampler.has_fresh_rules());
    let req = SamplingRequest::default();
    assert!(
        !sampler.should_sample(&req).sampled,
        "FixedRate 0 from the rules"
    );
    wait_for("a report and its target", || {
        sampler.should_sample(&req).sampled
    });
    assert!(!daemon.requests_to("/SamplingTargets").is_empty());

    sampler.shutdown();
    let polls = daemon.requests().len();
    sampler.poll_now();
    // Decisions still work with the last rules.
    assert_eq!(sampler.should_sample(&req).rule_name.as_deref(), Some("bg"));
    drop(sampler);
    // The thread was stopped and joined by shutdown: once the sampler is gone, nothing holds its state, and
    // every poll it ever made is already counted.
    assert_eq!(
        Arc::strong_count(&fallback),
        1,
        "the poller thread outlived shutdown"
    );
    assert_eq!(daemon.requests().len(), polls, "no poll after shutdown");
}

#[test]
fn drop_stops_the_thread_even_during_a_stuck_poll() {
    let daemon = FakeDaemon::start();
    daemon.set_behaviour(Behaviour::Hang);
    let fallback = counted_fallback();
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .shared_fallback(fallback.clone())
        .intervals(fast())
        .timeout(Duration::from_secs(600))
        .start()
        .unwrap();
    wait_for("the first poll", || !daemon.requests().is_empty());
    // The daemon has not answered, and will not until released: a drop that waited for the poll never returns.
    let dropped = spawn(move || drop(sampler));
    finished("dropping the sampler during a stuck poll", &dropped);
    assert_eq!(
        Arc::strong_count(&fallback),
        2,
        "the poll is still waiting, in the thread that holds the sampler's state"
    );
    daemon.release_hung();
    wait_for("the thread to end with its poll", || {
        Arc::strong_count(&fallback) == 1
    });
}

#[test]
fn default_intervals_do_not_delay_shutdown() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![rule("r", 1, 0.0, 0, "*", "*", "*", "*", "*")]);
    let fallback = counted_fallback();
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .shared_fallback(fallback.clone())
        .start()
        .unwrap();
    wait_for("rules", || sampler.has_fresh_rules());
    // The thread now waits 10 s for its next target poll; shutdown ends that wait and joins it.
    sampler.shutdown();
    drop(sampler);
    assert_eq!(
        Arc::strong_count(&fallback),
        1,
        "the poller thread outlived shutdown"
    );
}

#[test]
fn poll_now_wakes_the_thread() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![rule("r", 1, 0.0, 0, "*", "*", "*", "*", "*")]);
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .start()
        .unwrap();
    wait_for("rules", || sampler.has_fresh_rules());
    daemon.set_rules(vec![
        rule("r", 1, 0.0, 0, "*", "*", "*", "*", "*"),
        rule("s", 2, 0.0, 0, "*", "*", "*", "*", "*"),
    ]);
    sampler.poll_now();
    wait_for("the second rule", || sampler.rule_names().len() == 2);
}

#[test]
fn decisions_from_many_threads_while_rules_and_targets_change() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![
        rule("a", 1, 0.5, 1, "svc-a", "*", "*", "*", "*"),
        rule("Default", 10_000, 0.0, 0, "*", "*", "*", "*", "*"),
    ]);
    daemon.set_targets(json!({
        "SamplingTargetDocuments": [{"RuleName": "a", "FixedRate": 0.5, "ReservoirQuota": 5,
            "ReservoirQuotaTTL": 4.0e9, "Interval": 1}],
        "LastRuleModification": 4.0e9
    }));
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .intervals(PollIntervals {
            rules: Duration::from_millis(5),
            rules_jitter: Duration::ZERO,
            targets: Duration::from_millis(3),
            targets_jitter: Duration::ZERO,
        })
        .timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    wait_for("rules", || sampler.has_fresh_rules());
    std::thread::scope(|s| {
        for t in 0..4 {
            let sampler = &sampler;
            s.spawn(move || {
                let svc = if t % 2 == 0 { "svc-a" } else { "svc-b" };
                let req = SamplingRequest {
                    service_name: svc,
                    ..Default::default()
                };
                for _ in 0..50_000 {
                    let d = sampler.should_sample(&req);
                    let expected = if t % 2 == 0 { "a" } else { "Default" };
                    assert_eq!(d.rule_name.as_deref(), Some(expected));
                }
            });
        }
    });
    // LastRuleModification is always newer: every report also refreshed the rules.
    assert!(daemon.requests_to("/GetSamplingRules").len() > 2);
    assert!(!daemon.requests_to("/SamplingTargets").is_empty());
    sampler.shutdown();
}
