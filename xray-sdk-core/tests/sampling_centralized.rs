//! The centralized sampler against a fake daemon on loopback: rule ingestion, matching, reservoirs, quotas,
//! statistics and the wire format, checked against the Python SDK's vectors and the X-Ray API model.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use support::{FakeDaemon, cases, check_shape, input_shape, request_uri, rule, vectors};
use xray_sdk_core::clock::ManualClock;
use xray_sdk_core::sampling::{
    CentralizedSampler, NeverSample, Sampler, SamplingDecision, SamplingRequest,
};

const T0: u64 = 1_795_634_804;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(T0)))
}

/// A sampler polled by hand, whose fallback never samples and names no rule.
fn sampler(daemon: &FakeDaemon, clock: &Arc<ManualClock>) -> CentralizedSampler {
    CentralizedSampler::builder(daemon.endpoint.clone())
        .fallback(NeverSample)
        .clock(clock.clone())
        .seed(7)
        .timeout(Duration::from_secs(2))
        .manual_polling()
        .start()
        .unwrap()
}

fn request(v: &Value) -> SamplingRequest<'_> {
    SamplingRequest {
        service_name: v["service"].as_str().unwrap_or(""),
        service_type: v["service_type"].as_str(),
        host: v["host"].as_str(),
        method: v["method"].as_str(),
        url_path: v["path"].as_str(),
        resource_arn: None,
    }
}

fn rule_name(d: &SamplingDecision) -> Option<&str> {
    d.rule_name.as_deref()
}

/// The rules of the `centralized_rule_matching` vectors, as the service would send them.
fn matching_rules() -> Vec<Value> {
    let section = &vectors()["centralized_rule_matching"];
    cases(section, "rules")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or("*").to_owned();
            rule(
                r["name"].as_str().unwrap(),
                r["priority"].as_i64().unwrap(),
                r["rate"].as_f64().unwrap(),
                r["reservoir_size"].as_i64().unwrap(),
                &s("service"),
                &s("service_type"),
                &s("host"),
                &s("method"),
                &s("path"),
            )
        })
        .collect()
}

#[test]
fn rule_matching_vectors() {
    let section = &vectors()["centralized_rule_matching"];
    let daemon = FakeDaemon::start();
    daemon.set_rules(matching_rules());
    let clock = clock();
    let sampler = sampler(&daemon, &clock);
    assert_eq!(sampler.refresh_rules().unwrap(), 4);
    let order: Vec<String> = sampler.rule_names().iter().map(|n| n.to_string()).collect();
    assert_eq!(
        serde_json::to_value(&order).unwrap(),
        section["sorted_order"]
    );

    let list = cases(section, "cases");
    for case in list {
        let d = sampler.should_sample(&request(&case["request"]));
        assert_eq!(rule_name(&d), case["matched"].as_str(), "{case}");
    }
}

#[test]
fn rules_expire_after_an_hour() {
    let section = &vectors()["centralized_rule_matching"];
    let list = cases(section, "expiry");
    let req = json!({"host": "unknown", "path": "unknown"});
    for case in list {
        let daemon = FakeDaemon::start();
        daemon.set_rules(matching_rules());
        let clock = clock();
        let sampler = sampler(&daemon, &clock);
        if let Some(offset) = case["last_updated_offset"].as_i64() {
            sampler.refresh_rules().unwrap();
            clock.advance(Duration::from_secs(offset.unsigned_abs()));
        }
        let d = sampler.should_sample(&request(&req));
        // No rule means the fallback decided (NeverSample here).
        assert_eq!(rule_name(&d), case["matched"].as_str(), "{case}");
        assert_eq!(sampler.has_fresh_rules(), case["matched"].is_string());
    }
    assert_eq!(list.len(), 3);
}

#[test]
fn rule_validity_vectors() {
    let list = cases(&vectors()["centralized_rule_validity"], "cases");
    let rules: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut r = c["rule"].clone();
            r["RuleName"] = json!(format!("case-{i}"));
            r
        })
        .collect();
    let daemon = FakeDaemon::start();
    daemon.set_rules(rules);
    let clock = clock();
    let sampler = sampler(&daemon, &clock);
    sampler.refresh_rules().unwrap();
    let names: Vec<String> = sampler.rule_names().iter().map(|n| n.to_string()).collect();
    let mut accepted = 0;
    for (i, c) in list.iter().enumerate() {
        let expected = c["accepted"].as_bool().unwrap();
        assert_eq!(
            names.contains(&format!("case-{i}")),
            expected,
            "{}",
            c["label"]
        );
        accepted += usize::from(expected);
    }
    assert_eq!(names.len(), accepted);
    assert!(accepted >= 2 && accepted < list.len());
}

/// The sequence the Python SDK was observed to follow with a fake daemon, and the wire format of both calls.
#[test]
fn observed_sequence_and_wire_format() {
    let wire = &vectors()["centralized_wire"];
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![
        rule("myrule", 1, 0.0, 5, "myapp", "*", "*", "*", "*"),
        rule("Default", 10_000, 0.0, 0, "*", "*", "*", "*", "*"),
    ]);
    let clock = clock();
    let sampler = sampler(&daemon, &clock);
    sampler.refresh_rules().unwrap();

    let myapp = SamplingRequest {
        service_name: "myapp",
        ..Default::default()
    };
    let other = SamplingRequest {
        service_name: "other",
        ..Default::default()
    };
    // Before any target: one borrowed request per second.
    let sampled = (0..6)
        .filter(|_| sampler.should_sample(&myapp).sampled)
        .count();
    assert_eq!(sampled, 1);
    for _ in 0..5 {
        let d = sampler.should_sample(&other);
        assert!(!d.sampled);
        assert_eq!(rule_name(&d), Some("Default"));
    }

    daemon.set_targets(json!({
        "SamplingTargetDocuments": [{"RuleName": "myrule", "FixedRate": 0.0, "ReservoirQuota": 2,
            "ReservoirQuotaTTL": (T0 + 60) as f64, "Interval": 10}],
        "LastRuleModification": (T0 - 100) as f64,
        "UnprocessedStatistics": []
    }));
    assert!(!sampler.report_statistics().unwrap(), "rules unchanged");

    // The wire, against the captured Python requests and the API model.
    let requests = daemon.requests();
    assert_eq!(requests.len(), 2);
    let rules_req = &requests[0];
    assert_eq!(rules_req.method, wire["GetSamplingRules"]["method"]);
    assert_eq!(rules_req.path, wire["GetSamplingRules"]["path"]);
    assert_eq!(rules_req.path, request_uri("GetSamplingRules"));
    assert_eq!(
        rules_req.header("content-type"),
        wire["GetSamplingRules"]["content_type"].as_str()
    );
    assert_eq!(rules_req.body, wire["GetSamplingRules"]["body"]);
    check_shape(&rules_req.json(), &input_shape("GetSamplingRules"), "rules");

    let targets_req = &requests[1];
    assert_eq!(targets_req.method, "POST");
    assert_eq!(targets_req.path, wire["SamplingTargets"]["path"]);
    assert_eq!(targets_req.path, request_uri("GetSamplingTargets"));
    assert_eq!(targets_req.header("content-type"), Some("application/json"));
    let body = targets_req.json();
    let fields = check_shape(&body, &input_shape("GetSamplingTargets"), "targets");
    assert!(fields >= 13, "{fields} fields checked");
    let docs = body["SamplingStatisticsDocuments"].as_array().unwrap();
    assert_eq!(docs.len(), 2, "both rules were used: {body}");
    let example = &wire["SamplingTargets"]["body_example"]["SamplingStatisticsDocuments"][0];
    let mine = docs.iter().find(|d| d["RuleName"] == "myrule").unwrap();
    let mut keys: Vec<_> = mine.as_object().unwrap().keys().collect();
    let mut expected_keys: Vec<_> = example.as_object().unwrap().keys().collect();
    keys.sort();
    expected_keys.sort();
    assert_eq!(keys, expected_keys);
    for k in ["RequestCount", "BorrowCount", "SampledCount"] {
        assert_eq!(mine[k], example[k], "{k}");
    }
    assert_eq!(mine["Timestamp"].as_i64(), Some(T0 as i64), "whole seconds");
    let client_id = mine["ClientID"].as_str().unwrap();
    assert_eq!(client_id, sampler.client_id());
    assert!(
        client_id.len() == 24
            && client_id
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    );
    let default = docs.iter().find(|d| d["RuleName"] == "Default").unwrap();
    assert_eq!(
        (
            &default["RequestCount"],
            &default["SampledCount"],
            &default["BorrowCount"]
        ),
        (&json!(5), &json!(0), &json!(0))
    );

    // With a quota of 2: two per second are taken.
    clock.advance(Duration::from_secs(1));
    let sampled = (0..6)
        .filter(|_| sampler.should_sample(&myapp).sampled)
        .count();
    assert_eq!(sampled, 2);
    clock.advance(Duration::from_secs(1));
    let sampled = (0..6)
        .filter(|_| sampler.should_sample(&myapp).sampled)
        .count();
    assert_eq!(sampled, 2);
    sampler.report_statistics().unwrap();
    let last = daemon.requests().pop().unwrap().json();
    let doc = &last["SamplingStatisticsDocuments"][0];
    assert_eq!(
        (
            &doc["RuleName"],
            &doc["RequestCount"],
            &doc["SampledCount"],
            &doc["BorrowCount"]
        ),
        (&json!("myrule"), &json!(12), &json!(4), &json!(0))
    );
    assert_eq!(doc["Timestamp"].as_i64(), Some(T0 as i64 + 2));
    assert_eq!(
        last["SamplingStatisticsDocuments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Past the TTL the quota no longer applies: borrowing resumes.
    clock.advance(Duration::from_secs(59));
    let sampled = (0..6)
        .filter(|_| sampler.should_sample(&myapp).sampled)
        .count();
    assert_eq!(sampled, 1);
}

#[test]
fn rule_pages_are_followed() {
    let daemon = FakeDaemon::start();
    daemon.set_rule_pages(vec![
        vec![rule("a", 5, 0.0, 0, "a", "*", "*", "*", "*")],
        vec![rule("b", 3, 1.0, 0, "b", "*", "*", "*", "*")],
        vec![rule("Default", 10_000, 0.0, 0, "*", "*", "*", "*", "*")],
    ]);
    let clock = clock();
    let sampler = sampler(&daemon, &clock);
    assert_eq!(sampler.refresh_rules().unwrap(), 3);
    let names: Vec<String> = sampler.rule_names().iter().map(|n| n.to_string()).collect();
    assert_eq!(names, ["b", "a", "Default"]);
    let bodies: Vec<Value> = daemon.requests().iter().map(|r| r.json()).collect();
    assert_eq!(
        bodies,
        [
            json!({}),
            json!({"NextToken": "p1"}),
            json!({"NextToken": "p2"})
        ]
    );
    for b in &bodies {
        check_shape(b, &input_shape("GetSamplingRules"), "rules");
    }
}

#[test]
fn newer_rules_are_fetched_and_keep_their_reservoir_state() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![rule("r", 1, 0.0, 1, "*", "*", "*", "*", "*")]);
    let clock = clock();
    let sampler = sampler(&daemon, &clock);
    sampler.refresh_rules().unwrap();
    let req = SamplingRequest::default();
    sampler.should_sample(&req);

    daemon.set_targets(json!({
        "SamplingTargetDocuments": [{"RuleName": "r", "FixedRate": 0.0, "ReservoirQuota": 3,
            "ReservoirQuotaTTL": (T0 + 600) as f64}],
        "LastRuleModification": (T0 + 1) as f64
    }));
    daemon.set_rules(vec![
        rule("r", 1, 0.0, 1, "*", "*", "*", "*", "*"),
        rule("new", 2, 1.0, 0, "*", "*", "*", "*", "*"),
    ]);
    clock.advance(Duration::from_secs(5));
    daemon.take_requests();
    assert!(sampler.report_statistics().unwrap(), "rules changed");
    let paths: Vec<String> = daemon.take_requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/SamplingTargets", "/GetSamplingRules"]);
    assert_eq!(sampler.rule_names().len(), 2);
    // The quota of 3 survived the refresh of "r".
    let sampled = (0..5)
        .filter(|_| sampler.should_sample(&req).sampled)
        .count();
    assert_eq!(sampled, 3);

    // Nothing used since: nothing reported.
    sampler.report_statistics().unwrap();
    daemon.take_requests();
    sampler.report_statistics().unwrap();
    assert!(daemon.take_requests().is_empty());
}

#[test]
fn statistics_of_a_failed_report_are_sent_with_the_next() {
    let daemon = FakeDaemon::start();
    daemon.set_rules(vec![rule("r", 1, 1.0, 0, "*", "*", "*", "*", "*")]);
    let clock = clock();
    let sampler = sampler(&daemon, &clock);
    sampler.refresh_rules().unwrap();
    let req = SamplingRequest::default();
    for _ in 0..3 {
        sampler.should_sample(&req);
    }
    daemon.set_behaviour(support::Behaviour::Raw(
        b"HTTP/1.1 503 Busy\r\n\r\n".to_vec(),
    ));
    assert!(sampler.report_statistics().is_err());
    daemon.set_behaviour(support::Behaviour::Normal);
    for _ in 0..2 {
        sampler.should_sample(&req);
    }
    sampler.report_statistics().unwrap();
    let body = daemon.requests().pop().unwrap().json();
    assert_eq!(body["SamplingStatisticsDocuments"][0]["RequestCount"], 5);
    assert_eq!(body["SamplingStatisticsDocuments"][0]["SampledCount"], 5);
}

#[test]
fn more_than_25_rules_are_reported_in_batches() {
    let daemon = FakeDaemon::start();
    let rules: Vec<Value> = (0..30)
        .map(|i| {
            rule(
                &format!("r{i:02}"),
                i + 1,
                0.5,
                0,
                &format!("s{i}"),
                "*",
                "*",
                "*",
                "*",
            )
        })
        .collect();
    daemon.set_rules(rules);
    let clock = clock();
    let sampler = sampler(&daemon, &clock);
    assert_eq!(sampler.refresh_rules().unwrap(), 30);
    let names: Vec<String> = (0..30).map(|i| format!("s{i}")).collect();
    for n in &names {
        let d = sampler.should_sample(&SamplingRequest {
            service_name: n,
            ..Default::default()
        });
        assert_eq!(
            rule_name(&d).unwrap()[1..],
            n[1..].parse::<u32>().map(|i| format!("{i:02}")).unwrap()
        );
    }
    daemon.take_requests();
    sampler.report_statistics().unwrap();
    let reqs = daemon.take_requests();
    assert_eq!(reqs.len(), 2);
    let mut total = 0;
    for r in &reqs {
        let body = r.json();
        check_shape(&body, &input_shape("GetSamplingTargets"), "targets");
        total += body["SamplingStatisticsDocuments"]
            .as_array()
            .unwrap()
            .len();
    }
    assert_eq!(total, 30);
}

/// A daemon that serves a local rules file through the sampling API (as ours will) is understood by the SDK,
/// and the rules select as the local sampler does.
#[test]
fn local_rules_served_as_api_rules() {
    use xray_sdk_core::sampling::LocalSampler;
    use xray_sdk_types::sampling::LocalRules;

    let section = &vectors()["local_sampling"]["selection"];
    let local = LocalRules::from_value(&section["manifest"]).unwrap();
    let daemon = FakeDaemon::start();
    daemon.set_rules(
        local
            .to_sampling_rules()
            .iter()
            .map(|r| serde_json::to_value(r).unwrap())
            .collect(),
    );
    let clock = clock();
    let central = sampler(&daemon, &clock);
    assert_eq!(central.refresh_rules().unwrap(), local.rules().len() + 1);
    let local = LocalSampler::new(local);
    for case in cases(section, "cases") {
        if case["request"].is_null() {
            continue;
        }
        let req = request(&case["request"]);
        let expected = match local.matching_rule(&req) {
            Some(i) => format!("local-{}", i + 1),
            None => "Default".to_owned(),
        };
        assert_eq!(
            rule_name(&central.should_sample(&req)),
            Some(expected.as_str()),
            "{case}"
        );
    }
}
