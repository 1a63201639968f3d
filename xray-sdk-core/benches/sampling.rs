//! The sampling decision on the request path: local rules, and centralized rules (20 of them, served by a
//! fake daemon on loopback) with their reservoirs, quotas and statistics.
#![allow(missing_docs, clippy::unwrap_used)]

#[path = "../tests/support/mod.rs"]
mod support;

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use support::{FakeDaemon, rule};
use xray_sdk_core::sampling::{CentralizedSampler, LocalSampler, Sampler, SamplingRequest};
use xray_sdk_types::sampling::LocalRules;

const RULES: usize = 20;

fn twenty_rules() -> Vec<serde_json::Value> {
    let mut rules: Vec<_> = (0..RULES - 1)
        .map(|i| {
            rule(
                &format!("rule-{i:02}"),
                i as i64 + 1,
                0.05,
                1,
                &format!("service-{i}"),
                "*",
                "*.example.com",
                if i % 2 == 0 { "GET" } else { "POST" },
                &format!("/api/v{i}/*"),
            )
        })
        .collect();
    rules.push(rule("Default", 10_000, 0.05, 1, "*", "*", "*", "*", "*"));
    rules
}

fn bench(c: &mut Criterion) {
    let daemon = FakeDaemon::start();
    daemon.set_rules(twenty_rules());
    daemon.set_targets(json!({
        "SamplingTargetDocuments": (0..RULES - 1).map(|i| json!({
            "RuleName": format!("rule-{i:02}"), "FixedRate": 0.05, "ReservoirQuota": 10,
            "ReservoirQuotaTTL": 4.0e9, "Interval": 10
        })).collect::<Vec<_>>(),
        "LastRuleModification": 1.0
    }));
    let sampler = CentralizedSampler::builder(daemon.endpoint.clone())
        .manual_polling()
        .start()
        .unwrap();
    assert_eq!(sampler.refresh_rules().unwrap(), RULES);

    let last = SamplingRequest {
        service_name: "service-18",
        service_type: Some("AWS::EC2::Instance"),
        host: Some("api.example.com"),
        method: Some("GET"),
        url_path: Some("/api/v18/orders/42"),
        resource_arn: None,
    };
    assert_eq!(
        sampler.should_sample(&last).rule_name.as_deref(),
        Some("rule-18")
    );
    let first = SamplingRequest {
        service_name: "service-0",
        url_path: Some("/api/v0/x"),
        ..last
    };
    let unmatched = SamplingRequest {
        service_name: "billing",
        ..last
    };
    assert_eq!(
        sampler.should_sample(&unmatched).rule_name.as_deref(),
        Some("Default")
    );

    let mut g = c.benchmark_group("centralized_20_rules");
    g.bench_function("matches_19th_rule", |b| {
        b.iter(|| sampler.should_sample(black_box(&last)))
    });
    g.bench_function("matches_1st_rule", |b| {
        b.iter(|| sampler.should_sample(black_box(&first)))
    });
    g.bench_function("falls_to_default_rule", |b| {
        b.iter(|| sampler.should_sample(black_box(&unmatched)))
    });
    // Report once so that quotas apply (decisions then "take" within the quota, then use the rate).
    sampler.report_statistics().unwrap();
    g.bench_function("matches_19th_rule_with_quota", |b| {
        b.iter(|| sampler.should_sample(black_box(&last)))
    });
    g.finish();

    let no_rules = CentralizedSampler::builder(daemon.endpoint.clone())
        .manual_polling()
        .start()
        .unwrap();
    c.bench_function("centralized_before_rules_fallback", |b| {
        b.iter(|| no_rules.should_sample(black_box(&last)))
    });

    let local = LocalSampler::default();
    c.bench_function("local_default_rules", |b| {
        b.iter(|| local.should_sample(black_box(&last)))
    });
    let rules = LocalRules::from_value(&json!({
        "version": 2,
        "rules": (0..RULES).map(|i| json!({"host": "*.example.com", "http_method": "GET",
            "url_path": format!("/api/v{}/*", i + 100), "fixed_target": 1, "rate": 0.05})).collect::<Vec<_>>(),
        "default": {"fixed_target": 1, "rate": 0.05}
    }))
    .unwrap();
    let local20 = LocalSampler::new(rules);
    c.bench_function("local_20_rules_none_match", |b| {
        b.iter(|| local20.should_sample(black_box(&last)))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
