//! The sampling API on the daemon's TCP address, exercised by the SDK's own centralized sampler and by raw
//! requests: rules, pages, quotas, statistics, malformed bodies, malformed rules files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use xray_daemon::{Config, Daemon, DaemonHandle, Error};
use xray_sdk_core::config::Endpoint;
use xray_sdk_core::sampling::{
    CentralizedSampler, NeverSample, Sampler, SamplingDecision, SamplingRequest,
};

/// A client id of the right length.
const CLIENT_A: &str = "0123456789abcdef01234567";
const CLIENT_B: &str = "fedcba9876543210fedcba98";

async fn start_with_rules(rules: Option<&Path>) -> DaemonHandle {
    Daemon::start(Config {
        sampling_rules: rules.map(Path::to_owned),
        ..Config::ephemeral()
    })
    .await
    .unwrap()
}

fn rules_file(name: &str, body: &Value) -> PathBuf {
    let path = temp_dir(name).join("rules.json");
    std::fs::write(&path, body.to_string()).unwrap();
    path
}

/// A centralized sampler on the daemon, polled by hand, falling back to "never" so that a decision by the
/// fallback is obvious.
fn sampler(daemon: &DaemonHandle) -> CentralizedSampler {
    let address = daemon.sampling_address();
    CentralizedSampler::builder(Endpoint {
        host: address.ip().to_string(),
        port: address.port(),
    })
    .fallback(NeverSample)
    .timeout(Duration::from_secs(5))
    .seed(7)
    .manual_polling()
    .start()
    .unwrap()
}

/// Runs blocking SDK calls off the test's runtime threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

fn request<'a>(method: &'a str, path: &'a str) -> SamplingRequest<'a> {
    SamplingRequest {
        service_name: "checkout",
        host: Some("shop.example.com"),
        method: Some(method),
        url_path: Some(path),
        ..Default::default()
    }
}

fn rule_of(decision: &SamplingDecision) -> &str {
    decision.rule_name.as_deref().unwrap_or("(fallback)")
}

/// A raw `POST` to the sampling API: status, `x-amzn-ErrorType` header (if any) and JSON body.
fn post(address: SocketAddr, path: &str, body: &[u8]) -> (u16, Option<String>, Value) {
    post_with(address, path, "Content-Type: application/json\r\n", body)
}

/// POSTs `body` with the header lines `headers` (each ending with CRLF).
fn post_with(
    address: SocketAddr,
    path: &str,
    headers: &str,
    body: &[u8],
) -> (u16, Option<String>, Value) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\n{headers}Content-Length: {}\r\n\
         Connection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let error_type = head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case("x-amzn-errortype")
            .then(|| v.trim().to_owned())
    });
    let body = serde_json::from_slice(&response[split + 4..]).unwrap_or(Value::Null);
    (status, error_type, body)
}

async fn post_async(address: SocketAddr, path: &str, body: Value) -> (u16, Option<String>, Value) {
    let path = path.to_owned();
    blocking(move || post(address, &path, body.to_string().as_bytes())).await
}

fn statistics(rule: &str, client: &str, requests: i64, sampled: i64) -> Value {
    json!({"RuleName": rule, "ClientID": client, "RequestCount": requests, "SampledCount": sampled,
           "BorrowCount": 0, "Timestamp": 1_700_000_000})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sdk_fetches_the_default_rule_reports_and_gets_a_quota() {
    let daemon = start().await;
    assert_eq!(
        daemon.sampling_address().port(),
        daemon.udp_address().port()
    );
    let sampler = std::sync::Arc::new(sampler(&daemon));

    let s = sampler.clone();
    assert_eq!(blocking(move || s.refresh_rules()).await.unwrap(), 1);
    assert_eq!(
        sampler
            .rule_names()
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
        ["Default"]
    );
    assert!(sampler.has_fresh_rules());
    let decisions: Vec<SamplingDecision> = (0..20)
        .map(|_| sampler.should_sample(&request("GET", "/cart")))
        .collect();
    assert!(decisions.iter().all(|d| rule_of(d) == "Default"));
    // The one borrowed request of this second, then 5 %: at least one sampled.
    assert!(decisions.iter().any(|d| d.sampled));

    let s = sampler.clone();
    assert!(!blocking(move || s.report_statistics()).await.unwrap());

    let snapshot: Value = api(&daemon, "/api/sampling").await;
    assert_eq!(snapshot["source"], Value::Null);
    let rule = &snapshot["rules"][0];
    assert_eq!(rule["name"], "Default");
    assert_eq!(rule["priority"], 10_000);
    assert_eq!(rule["reservoir_size"], 1);
    assert_eq!(rule["fixed_rate"], 0.05);
    assert_eq!(rule["total"]["requests"], 20);
    assert_eq!(rule["active_clients"], 1);
    let client = &rule["clients"][0];
    assert_eq!(client["client_id"], sampler.client_id());
    assert_eq!(client["quota"], 1);
    assert_eq!(client["reports"], 1);
    assert_eq!(client["last"]["requests"], 20);
    let sampled = decisions.iter().filter(|d| d.sampled).count() as u64;
    assert_eq!(
        client["last"]["sampled"].as_u64().unwrap() + client["last"]["borrowed"].as_u64().unwrap(),
        sampled
    );
    let now = xray_sdk_types::time::now();
    let ttl = client["quota_ttl"].as_f64().unwrap();
    assert!(ttl > now && ttl < now + 60.0, "TTL {ttl} at {now}");

    // With the quota of 1 per second in force, the sampler keeps deciding by the daemon's rule.
    assert_eq!(
        rule_of(&sampler.should_sample(&request("POST", "/pay"))),
        "Default"
    );
    sampler.shutdown();
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_custom_rules_file_decides_what_is_sampled() {
    let path = rules_file(
        "sampling-health",
        &json!({"version": 2,
            "rules": [
                {"description": "health checks", "host": "*", "http_method": "*", "url_path": "/health",
                 "fixed_target": 0, "rate": 0.0},
                {"description": "orders", "host": "shop.*", "http_method": "POST", "url_path": "/orders/*",
                 "fixed_target": 4, "rate": 0.5}
            ],
            "default": {"fixed_target": 0, "rate": 1.0}}),
    );
    let daemon = start_with_rules(Some(&path)).await;
    let sampler = std::sync::Arc::new(sampler(&daemon));
    let s = sampler.clone();
    assert_eq!(blocking(move || s.refresh_rules()).await.unwrap(), 3);
    assert_eq!(
        sampler
            .rule_names()
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>(),
        ["local-1", "local-2", "Default"]
    );
    for _ in 0..50 {
        let health = sampler.should_sample(&request("GET", "/health"));
        assert!(!health.sampled);
        assert_eq!(rule_of(&health), "local-1");
        let other = sampler.should_sample(&request("GET", "/cart"));
        assert!(other.sampled);
        assert_eq!(rule_of(&other), "Default");
    }
    let order = sampler.should_sample(&request("POST", "/orders/17"));
    assert_eq!(rule_of(&order), "local-2");

    let s = sampler.clone();
    blocking(move || s.report_statistics()).await.unwrap();
    let snapshot: Value = api(&daemon, "/api/sampling").await;
    assert_eq!(snapshot["source"], path.display().to_string());
    let rules = snapshot["rules"].as_array().unwrap();
    let by_name = |name: &str| rules.iter().find(|r| r["name"] == name).unwrap();
    assert_eq!(by_name("local-1")["url_path"], "/health");
    assert_eq!(by_name("local-1")["total"]["requests"], 50);
    assert_eq!(by_name("local-1")["total"]["sampled"], 0);
    assert_eq!(by_name("Default")["total"]["requests"], 50);
    assert_eq!(by_name("Default")["total"]["sampled"], 50);
    assert_eq!(by_name("local-2")["total"]["requests"], 1);
    assert_eq!(by_name("local-2")["clients"][0]["quota"], 4);
    assert_eq!(by_name("local-1")["clients"][0]["quota"], 0);

    sampler.shutdown();
    daemon.shutdown().await.unwrap();
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_come_in_pages_that_the_sdk_follows() {
    let rules: Vec<Value> = (0..250)
        .map(|i| json!({"host": "*", "http_method": "GET", "url_path": format!("/r{i}"), "fixed_target": 1,
                        "rate": 0.5}))
        .collect();
    let path = rules_file(
        "sampling-pages",
        &json!({"version": 2, "rules": rules, "default": {"fixed_target": 1, "rate": 0.05}}),
    );
    let daemon = start_with_rules(Some(&path)).await;

    let (status, _, first) =
        post_async(daemon.sampling_address(), "/GetSamplingRules", json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(first["SamplingRuleRecords"].as_array().unwrap().len(), 100);
    let record = &first["SamplingRuleRecords"][0];
    assert_eq!(record["SamplingRule"]["RuleName"], "local-1");
    assert_eq!(record["SamplingRule"]["Priority"], 1);
    assert_eq!(record["SamplingRule"]["ReservoirSize"], 1);
    assert_eq!(record["SamplingRule"]["URLPath"], "/r0");
    assert_eq!(record["SamplingRule"]["Version"], 1);
    assert!(record["ModifiedAt"].as_f64().unwrap().fract() == 0.0);
    let token = first["NextToken"].as_str().unwrap().to_owned();
    let (_, _, second) = post_async(
        daemon.sampling_address(),
        "/GetSamplingRules",
        json!({"NextToken": token}),
    )
    .await;
    assert_eq!(
        second["SamplingRuleRecords"][0]["SamplingRule"]["RuleName"],
        "local-101"
    );

    let sampler = std::sync::Arc::new(sampler(&daemon));
    let s = sampler.clone();
    assert_eq!(blocking(move || s.refresh_rules()).await.unwrap(), 251);
    assert_eq!(
        rule_of(&sampler.should_sample(&request("GET", "/r249"))),
        "local-250"
    );
    sampler.shutdown();
    daemon.shutdown().await.unwrap();
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotas_of_all_clients_add_up_to_the_reservoir() {
    let path = rules_file(
        "sampling-quotas",
        &json!({"version": 1,
            "rules": [{"service_name": "*", "http_method": "*", "url_path": "/api/*", "fixed_target": 7,
                       "rate": 0.1}],
            "default": {"fixed_target": 1, "rate": 0.05}}),
    );
    let daemon = start_with_rules(Some(&path)).await;
    let address = daemon.sampling_address();
    let (status, _, a) = post_async(
        address,
        "/SamplingTargets",
        json!({"SamplingStatisticsDocuments": [statistics("local-1", CLIENT_A, 10, 5)]}),
    )
    .await;
    assert_eq!(status, 200);
    let target = &a["SamplingTargetDocuments"][0];
    assert_eq!(target["RuleName"], "local-1");
    assert_eq!(target["FixedRate"], 0.1);
    assert_eq!(target["ReservoirQuota"], 7);
    assert_eq!(target["Interval"], 10);
    assert!(target["ReservoirQuotaTTL"].as_f64().unwrap() > xray_sdk_types::time::now());
    let modified = a["LastRuleModification"].as_f64().unwrap();
    assert!(modified <= xray_sdk_types::time::now() && modified.fract() == 0.0);
    assert_eq!(a["UnprocessedStatistics"], json!([]));

    let (_, _, b) = post_async(
        address,
        "/SamplingTargets",
        json!({"SamplingStatisticsDocuments": [statistics("local-1", CLIENT_B, 4, 1),
                                               statistics("no-such-rule", CLIENT_B, 1, 1)]}),
    )
    .await;
    let (_, _, a) = post_async(
        address,
        "/SamplingTargets",
        json!({"SamplingStatisticsDocuments": [statistics("local-1", CLIENT_A, 10, 5)]}),
    )
    .await;
    let quota_a = a["SamplingTargetDocuments"][0]["ReservoirQuota"]
        .as_i64()
        .unwrap();
    let quota_b = b["SamplingTargetDocuments"][0]["ReservoirQuota"]
        .as_i64()
        .unwrap();
    assert_eq!((quota_a, quota_b), (4, 3));
    assert_eq!(b["UnprocessedStatistics"][0]["RuleName"], "no-such-rule");

    let snapshot: Value = api(&daemon, "/api/sampling").await;
    let rule = &snapshot["rules"][0];
    assert_eq!(rule["active_clients"], 2);
    assert_eq!(
        rule["total"],
        json!({"requests": 24, "sampled": 11, "borrowed": 0})
    );
    daemon.shutdown().await.unwrap();
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

/// A web page can post neither a `text/plain` or form body (no preflight needed) nor anything with its
/// `Origin`; and a client that reports no requests takes no share of the reservoir from one that does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_pages_and_idle_clients_take_no_quota() {
    let daemon = start().await;
    let address = daemon.sampling_address();
    let fake = "000000000000000000000000";
    let body =
        json!({"SamplingStatisticsDocuments": [statistics("Default", fake, 0, 0)]}).to_string();
    let cases = [
        ("Content-Type: text/plain\r\n", 415),
        ("Content-Type: application/x-www-form-urlencoded\r\n", 415),
        (
            "Content-Type: application/json\r\nOrigin: http://evil.example\r\n",
            403,
        ),
    ];
    for (headers, status) in cases {
        let (s, kind, answer) = blocking({
            let body = body.clone();
            move || post_with(address, "/SamplingTargets", headers, body.as_bytes())
        })
        .await;
        assert_eq!(
            (s, kind.as_deref()),
            (status, Some("InvalidRequestException")),
            "{headers:?}"
        );
        assert!(answer["Message"].is_string());
    }
    let snapshot: Value = api(&daemon, "/api/sampling").await;
    assert_eq!(snapshot["rules"][0]["clients"], json!([]));

    // The stand-in sorts first but reports nothing: the real client gets the whole reservoir of 1.
    let (_, _, f) = post_async(
        address,
        "/SamplingTargets",
        serde_json::from_str(&body).unwrap(),
    )
    .await;
    let (_, _, real) = post_async(
        address,
        "/SamplingTargets",
        json!({"SamplingStatisticsDocuments": [statistics("Default", CLIENT_B, 5, 1)]}),
    )
    .await;
    assert_eq!(real["SamplingTargetDocuments"][0]["ReservoirQuota"], 1);
    let (_, _, f2) = post_async(
        address,
        "/SamplingTargets",
        serde_json::from_str(&body).unwrap(),
    )
    .await;
    assert_eq!(f["SamplingTargetDocuments"][0]["ReservoirQuota"], 1);
    assert_eq!(f2["SamplingTargetDocuments"][0]["ReservoirQuota"], 0);
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_get_invalid_request_exceptions() {
    let daemon = start().await;
    let address = daemon.sampling_address();
    let long_name = "r".repeat(33);
    let many: Vec<Value> = (0..26)
        .map(|_| statistics("Default", CLIENT_A, 1, 1))
        .collect();
    let cases: Vec<(&str, Vec<u8>, &str)> =
        vec![
        ("/SamplingTargets", b"{nope".to_vec(), "not JSON"),
        ("/SamplingTargets", b"[]".to_vec(), "JSON object"),
        ("/SamplingTargets", b"{}".to_vec(), "SamplingStatisticsDocuments"),
        (
            "/SamplingTargets",
            json!({"SamplingStatisticsDocuments": "x"}).to_string().into_bytes(),
            "invalid type",
        ),
        (
            "/SamplingTargets",
            json!({"SamplingStatisticsDocuments": [statistics("Default", "abc", 1, 1)]})
                .to_string()
                .into_bytes(),
            "ClientID",
        ),
        (
            "/SamplingTargets",
            json!({"SamplingStatisticsDocuments": [statistics(&long_name, CLIENT_A, 1, 1)]})
                .to_string()
                .into_bytes(),
            "RuleName",
        ),
        (
            "/SamplingTargets",
            json!({"SamplingStatisticsDocuments": [statistics("Default", CLIENT_A, -1, 0)]})
                .to_string()
                .into_bytes(),
            "RequestCount",
        ),
        (
            "/SamplingTargets",
            json!({"SamplingStatisticsDocuments": many}).to_string().into_bytes(),
            "at most 25",
        ),
        (
            "/SamplingTargets",
            json!({"SamplingStatisticsDocuments": [{"RuleName": "Default", "ClientID": CLIENT_A}]})
                .to_string()
                .into_bytes(),
            "missing field",
        ),
        ("/GetSamplingRules", b"\"x\"".to_vec(), "JSON object"),
        (
            "/GetSamplingRules",
            json!({"NextToken": "bogus"}).to_string().into_bytes(),
            "NextToken",
        ),
        (
            "/GetSamplingRules",
            json!({"NextToken": 5}).to_string().into_bytes(),
            "invalid type",
        ),
        ("/GetSamplingRules", vec![0xff, 0xfe], "not JSON"),
    ];
    for (path, body, needle) in cases {
        let (status, error_type, response) = blocking(move || post(address, path, &body)).await;
        assert_eq!(status, 400, "{path} {needle}: {response}");
        assert_eq!(error_type.as_deref(), Some("InvalidRequestException"));
        assert_eq!(response["__type"], "InvalidRequestException");
        let message = response["Message"].as_str().unwrap();
        assert!(message.contains(needle), "{needle:?} not in {message:?}");
    }
    // Too large, an unknown path, a wrong method: refused, still as JSON.
    let (status, _, response) =
        blocking(move || post(address, "/SamplingTargets", &vec![b' '; 300 * 1024])).await;
    assert_eq!(status, 413);
    assert_eq!(response["__type"], "InvalidRequestException");
    let (status, _, response) = post_async(address, "/TraceSegments", json!({})).await;
    assert_eq!(status, 404);
    assert_eq!(response["__type"], "UnknownOperationException");

    // An empty body reads as `{}`, and the daemon still answers.
    let (status, _, rules) = blocking(move || post(address, "/GetSamplingRules", b"")).await;
    assert_eq!(status, 200);
    assert_eq!(
        rules["SamplingRuleRecords"][0]["SamplingRule"]["RuleName"],
        "Default"
    );
    let snapshot: Value = api(&daemon, "/api/sampling").await;
    assert_eq!(snapshot["rules"][0]["total"]["requests"], 0);
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_rules_file_stops_the_start_and_names_the_file() {
    let path = rules_file(
        "sampling-bad",
        &json!({"version": 2, "rules": [{"host": "*", "http_method": "*", "fixed_target": 0, "rate": 0}],
                "default": {"fixed_target": 1, "rate": 0.05}}),
    );
    let err = Daemon::start(Config {
        sampling_rules: Some(path.clone()),
        ..Config::ephemeral()
    })
    .await
    .unwrap_err();
    assert!(matches!(err, Error::SamplingRules(_)), "{err:?}");
    let message = err.to_string();
    assert!(message.contains(&path.display().to_string()), "{message}");
    assert!(message.contains("url_path"), "{message}");

    let missing = path.with_file_name("missing.json");
    let err = Daemon::start(Config {
        sampling_rules: Some(missing.clone()),
        ..Config::ephemeral()
    })
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains(&missing.display().to_string()),
        "{err}"
    );

    // The command line says the same and exits non-zero.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_xray"))
        .args([
            "daemon",
            "--memory",
            "--udp-address",
            "127.0.0.1:0",
            "--api-address",
            "127.0.0.1:0",
        ])
        .arg("--sampling-rules")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("invalid sampling rules file {}", path.display())),
        "{stderr}"
    );
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sampling_api_can_listen_on_its_own_address() {
    let daemon = Daemon::start(Config {
        sampling_address: Some("127.0.0.1:0".parse().unwrap()),
        ..Config::ephemeral()
    })
    .await
    .unwrap();
    assert_ne!(daemon.sampling_address(), daemon.api_address());
    let (status, _, _) =
        post_async(daemon.sampling_address(), "/GetSamplingRules", json!({})).await;
    assert_eq!(status, 200);
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_quota_handed_out_replaces_borrowing_in_the_sdk() {
    let path = rules_file(
        "sampling-reservoir",
        &json!({"version": 2,
            "rules": [{"host": "*", "http_method": "*", "url_path": "/q", "fixed_target": 5, "rate": 0.0}],
            "default": {"fixed_target": 0, "rate": 0.0}}),
    );
    let daemon = start_with_rules(Some(&path)).await;
    let address = daemon.sampling_address();
    // The SDK's clock starts at the daemon's time; it moves only when told, so that each batch of decisions
    // falls in one second.
    let clock = std::sync::Arc::new(xray_sdk_core::clock::ManualClock::new(
        std::time::SystemTime::now(),
    ));
    let sampler = std::sync::Arc::new(
        CentralizedSampler::builder(Endpoint {
            host: address.ip().to_string(),
            port: address.port(),
        })
        .fallback(NeverSample)
        .clock(clock.clone())
        .seed(3)
        .manual_polling()
        .start()
        .unwrap(),
    );
    let s = sampler.clone();
    assert_eq!(blocking(move || s.refresh_rules()).await.unwrap(), 2);
    let sampled_in_one_second = |sampler: &CentralizedSampler| {
        (0..20)
            .filter(|_| {
                let d = sampler.should_sample(&request("GET", "/q"));
                assert_eq!(rule_of(&d), "local-1");
                d.sampled
            })
            .count()
    };
    // No quota yet: one borrowed request per second.
    assert_eq!(sampled_in_one_second(&sampler), 1);
    let s = sampler.clone();
    blocking(move || s.report_statistics()).await.unwrap();
    // The daemon's quota for its only client is the whole reservoir: 5 a second, in the next seconds too.
    for _ in 0..3 {
        clock.advance(Duration::from_secs(1));
        assert_eq!(sampled_in_one_second(&sampler), 5);
    }
    let s = sampler.clone();
    blocking(move || s.report_statistics()).await.unwrap();
    let snapshot: Value = api(&daemon, "/api/sampling").await;
    let rule = &snapshot["rules"][0];
    assert_eq!(
        rule["total"],
        json!({"requests": 80, "sampled": 15, "borrowed": 1})
    );
    assert_eq!(rule["clients"][0]["reports"], 2);
    sampler.shutdown();
    daemon.shutdown().await.unwrap();
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}
