//! The local sampler and the local rules file, against the Python SDK's vectors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};
use support::{cases, vectors};
use xray_sdk_core::clock::ManualClock;
use xray_sdk_core::sampling::{LocalSampler, Sampler, SamplingRequest, load_rules_file};
use xray_sdk_types::sampling::{LocalRules, LocalRulesError, LocalRulesFileError, RuleLocation};

fn request(v: &Value) -> SamplingRequest<'_> {
    SamplingRequest {
        service_name: v["service"].as_str().unwrap_or(""),
        host: v["host"].as_str(),
        method: v["method"].as_str(),
        url_path: v["path"].as_str(),
        ..Default::default()
    }
}

fn clock_at(secs: u64) -> Arc<ManualClock> {
    Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(secs)))
}

#[test]
fn built_in_rules_are_the_python_default() {
    let expected = &vectors()["local_sampling"]["default_rules"];
    assert_eq!(
        &serde_json::to_value(LocalRules::default()).unwrap(),
        expected
    );
    assert_eq!(
        &serde_json::to_value(LocalSampler::default().rules()).unwrap(),
        expected
    );
}

#[test]
fn manifest_validation_vectors() {
    let list = cases(&vectors()["local_sampling"], "manifest_validation");
    let (mut ok, mut rejected) = (0, 0);
    for case in list {
        let label = case["label"].as_str().unwrap();
        let result = LocalRules::from_value(&case["manifest"]);
        match case["result"].as_str().unwrap() {
            "ok" => {
                result.unwrap_or_else(|e| panic!("{label}: {e}"));
                ok += 1;
            }
            // Python raises InvalidSamplingManifestError, or a bare TypeError for a missing number; both are
            // a clear error here.
            "InvalidSamplingManifestError" | "TypeError" => {
                let e = result.expect_err(label);
                assert!(!e.to_string().is_empty());
                rejected += 1;
            }
            other => panic!("{label}: unknown result {other}"),
        }
    }
    assert_eq!(ok + rejected, list.len());
    assert!(ok >= 4 && rejected >= 10, "ok {ok}, rejected {rejected}");
}

#[test]
fn rule_applies_vectors() {
    let list = cases(&vectors()["local_sampling"], "rule_applies");
    for (i, case) in list.iter().enumerate() {
        let mut rule = case["rule"].clone();
        rule["fixed_target"] = json!(0);
        let rules = LocalRules::from_value(&json!({
            "version": 2, "rules": [rule], "default": {"fixed_target": 0, "rate": 0}
        }))
        .unwrap();
        let sampler = LocalSampler::new(rules);
        let req = request(case);
        let applies = sampler.matching_rule(&req) == Some(0);
        assert_eq!(
            applies,
            case["applies"].as_bool().unwrap(),
            "case {i}: {case}"
        );
    }
}

#[test]
fn selection_vectors() {
    let section = &vectors()["local_sampling"]["selection"];
    let rules = LocalRules::from_value(&section["manifest"]).unwrap();
    let list = cases(section, "cases");
    let (mut checked, mut no_request) = (0, 0);
    for case in list {
        if case["request"].is_null() {
            // Python's "no request at all" has no Rust form: the recorder always describes the request. It
            // selects the default rule, which is what an empty request does when there are no custom rules.
            assert_eq!(case["selected_rule_index"], "default");
            no_request += 1;
            continue;
        }
        let sampler = LocalSampler::builder(rules.clone())
            .clock(clock_at(1_000))
            .build();
        let req = request(&case["request"]);
        let expected = match &case["selected_rule_index"] {
            Value::String(s) if s == "default" => None,
            v => Some(v.as_u64().unwrap() as usize),
        };
        assert_eq!(sampler.matching_rule(&req), expected, "{case}");
        // fixed_target 0 and rate 0 or 1 everywhere: the decision is deterministic.
        assert_eq!(
            sampler.should_sample(&req).sampled,
            case["decision"].as_bool().unwrap(),
            "{case}"
        );
        checked += 1;
    }
    assert_eq!((checked, no_request), (list.len() - 1, 1));
}

#[test]
fn reservoir_vectors() {
    let section = &vectors()["local_reservoir"];
    let list = cases(section, "sequence");
    let start = 1_700_000_000;
    let clock = clock_at(start);
    let rules = LocalRules::from_value(&json!({
        "version": 2, "default": {"fixed_target": 2, "rate": 0}
    }))
    .unwrap();
    let sampler = LocalSampler::builder(rules).clock(clock.clone()).build();
    let mut elapsed = 0.0;
    for step in list {
        let offset = step["t_offset"].as_f64().unwrap();
        clock.advance(Duration::from_secs_f64(offset - elapsed));
        elapsed = offset;
        assert_eq!(
            sampler.should_sample(&SamplingRequest::default()).sampled,
            step["take"].as_bool().unwrap(),
            "at +{offset}s"
        );
    }
}

#[test]
fn rates_are_applied_after_the_reservoir() {
    let rules = LocalRules::from_value(&json!({"version": 1,
        "rules": [{"service_name": "*", "http_method": "GET", "url_path": "/half", "fixed_target": 0, "rate": 0.5}],
        "default": {"fixed_target": 0, "rate": 0}}))
    .unwrap();
    let sampler = LocalSampler::builder(rules)
        .clock(clock_at(10))
        .seed(42)
        .build();
    let req = SamplingRequest {
        method: Some("get"),
        url_path: Some("/HALF"),
        ..Default::default()
    };
    let n = (0..20_000)
        .filter(|_| sampler.should_sample(&req).sampled)
        .count();
    assert!((9_500..10_500).contains(&n), "{n}");
}

#[test]
fn rules_files_load_or_name_the_file_and_the_problem() {
    let dir = std::env::temp_dir().join(format!("xray-sampling-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.json");
    std::fs::write(
        &good,
        r#"{"version": 2, "rules": [{"description": "Player moves.", "host": "*", "http_method": "*",
            "url_path": "/api/move/*", "fixed_target": 0, "rate": 0.05}], "default": {"fixed_target": 1, "rate": 0.1}}"#,
    )
    .unwrap();
    let sampler = LocalSampler::from_file(&good).unwrap();
    assert_eq!(sampler.rules().rules()[0].url_path, "/api/move/*");
    assert_eq!(
        sampler.rules().rules()[0].description.as_deref(),
        Some("Player moves.")
    );

    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"version": 2, "rules": [{"host": "*", "http_method": "*", "url_path": "*", "fixed_target": 0, "rate": -0.5}], "default": {"fixed_target": 1, "rate": 0.1}}"#,
    )
    .unwrap();
    let err = load_rules_file(&bad).unwrap_err();
    assert_eq!(err.path(), bad.as_path());
    assert!(matches!(
        &err,
        LocalRulesFileError::Invalid {
            source: LocalRulesError::Negative {
                at: RuleLocation::Rule(0),
                field: "rate"
            },
            ..
        }
    ));
    let text = err.to_string();
    assert!(
        text.contains("bad.json") && text.contains("rules[0]: \"rate\" must not be negative"),
        "{text}"
    );

    let truncated = dir.join("truncated.json");
    std::fs::write(&truncated, "{\"version\": 2,\n\"default\": {\"fixed_ta").unwrap();
    let text = load_rules_file(&truncated).unwrap_err().to_string();
    assert!(
        text.contains("truncated.json") && text.contains("not valid JSON (line 2"),
        "{text}"
    );

    let missing = dir.join("missing.json");
    let err = LocalSampler::from_file(&missing).unwrap_err();
    assert!(matches!(err, LocalRulesFileError::Read { .. }));
    assert!(err.to_string().contains("missing.json"));
    std::fs::remove_dir_all(&dir).unwrap();
}
