//! A daemon that is down, slow or answers garbage: decisions keep coming from the fallback (or the last good
//! rules), nothing panics, no decision waits on the network, and the poller stops promptly.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Behaviour, FakeDaemon, rule};
use xray_sdk_core::config::Endpoint;
use xray_sdk_core::sampling::{
    AlwaysSample, CentralizedSampler, PollError, PollIntervals, Sampler, SamplingRequest,
};

/// Short intervals, no jitter: the background thread polls several times a second.
fn fast() -> PollIntervals {
    PollIntervals {
        rules: Duration::from_millis(100),
        rules_jitter: Duration::ZERO,
        targets: Duration::from_millis(50),
        targets_jitter: Duration::ZERO,
    }
}

fn closed_port() -> Endpoint {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    Endpoint {
        host: "127.0.0.1".into(),
        port,
    }
}

fn wait_for(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The slowest of `n` decisions.
fn slowest_decision(sampler: &dyn Sampler, n: usize) -> Duration {
    let req = SamplingRequest {
        service_name: "svc",
        ..Default::default()
    };
    (0..n)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(sampler.should_sample(&req));
            t.elapsed()
        })
        .max()
        .unwrap()
}

#[test]
fn daemon_down_falls_back() {
    let sampler = CentralizedSampler::builder(closed_port())
        .fallback(AlwaysSample)
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
    let t = Instant::now();
    sampler.shutdown();
    assert!(t.elapsed() < Duration::from_millis(500));
}

#[test]
fn slow_daemon_times_out_and_never_delays_decisions() {
    let daemon = FakeDaemon::start();
    daemon.set_behaviour(Behaviour::Hang);
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .fallback(AlwaysSample)
        .timeout(Duration::from_millis(300))
        .manual_polling()
        .start()
        .unwrap();
    let t = Instant::now();
    assert!(matches!(sampler.refresh_rules(), Err(PollError::Timeout)));
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(2),
        "{took:?}"
    );

    // While another thread is stuck in a poll, decisions go on at full speed.
    std::thread::scope(|s| {
        let poll = s.spawn(|| sampler.refresh_rules());
        std::thread::sleep(Duration::from_millis(20));
        let slowest = slowest_decision(&sampler, 10_000);
        assert!(
            slowest < Duration::from_millis(50),
            "slowest decision {slowest:?}"
        );
        assert!(matches!(poll.join().unwrap(), Err(PollError::Timeout)));
    });
}

#[test]
fn stuck_targets_poll_keeps_the_rules_working() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![rule("svc-rule", 1, 1.0, 0, "svc", "*", "*", "*", "*")]);
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .timeout(Duration::from_millis(400))
        .manual_polling()
        .start()
        .unwrap();
    sampler.refresh_rules().unwrap();
    daemon.set_behaviour(Behaviour::Hang);
    std::thread::scope(|s| {
        let req = SamplingRequest {
            service_name: "svc",
            ..Default::default()
        };
        sampler.should_sample(&req);
        let poll = s.spawn(|| sampler.report_statistics());
        std::thread::sleep(Duration::from_millis(20));
        let d = sampler.should_sample(&req);
        assert_eq!(d.rule_name.as_deref(), Some("svc-rule"));
        assert!(slowest_decision(&sampler, 10_000) < Duration::from_millis(50));
        assert!(matches!(poll.join().unwrap(), Err(PollError::Timeout)));
    });
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
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .intervals(fast())
        .timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    wait_for("rules", Duration::from_secs(5), || {
        sampler.has_fresh_rules()
    });
    let req = SamplingRequest::default();
    assert!(
        !sampler.should_sample(&req).sampled,
        "FixedRate 0 from the rules"
    );
    wait_for("a report and its target", Duration::from_secs(5), || {
        sampler.should_sample(&req).sampled
    });
    assert!(!daemon.requests_to("/SamplingTargets").is_empty());

    let t = Instant::now();
    sampler.shutdown();
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
    std::thread::sleep(Duration::from_millis(50));
    let before = daemon.requests().len();
    sampler.poll_now();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(daemon.requests().len(), before, "no poll after shutdown");
    // Decisions still work with the last rules.
    assert_eq!(sampler.should_sample(&req).rule_name.as_deref(), Some("bg"));
}

#[test]
fn drop_stops_the_thread_even_during_a_stuck_poll() {
    let daemon = FakeDaemon::start();
    daemon.set_behaviour(Behaviour::Hang);
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .intervals(fast())
        .timeout(Duration::from_secs(30))
        .start()
        .unwrap();
    wait_for("the first poll", Duration::from_secs(5), || {
        !daemon.requests().is_empty()
    });
    let t = Instant::now();
    drop(sampler);
    assert!(
        t.elapsed() < Duration::from_millis(600),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn default_intervals_do_not_delay_shutdown() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![rule("r", 1, 0.0, 0, "*", "*", "*", "*", "*")]);
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .start()
        .unwrap();
    wait_for("rules", Duration::from_secs(5), || {
        sampler.has_fresh_rules()
    });
    let t = Instant::now();
    sampler.shutdown();
    assert!(
        t.elapsed() < Duration::from_millis(300),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn poll_now_wakes_the_thread() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![rule("r", 1, 0.0, 0, "*", "*", "*", "*", "*")]);
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .start()
        .unwrap();
    wait_for("rules", Duration::from_secs(5), || {
        sampler.has_fresh_rules()
    });
    daemon.set_rules(vec![
        rule("r", 1, 0.0, 0, "*", "*", "*", "*", "*"),
        rule("s", 2, 0.0, 0, "*", "*", "*", "*", "*"),
    ]);
    sampler.poll_now();
    wait_for("the second rule", Duration::from_secs(5), || {
        sampler.rule_names().len() == 2
    });
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
    wait_for("rules", Duration::from_secs(5), || {
        sampler.has_fresh_rules()
    });
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
