//! While forwarding, the sampling API passes `GetSamplingRules` and `GetSamplingTargets` on to X-Ray, signed:
//! checked against a local X-Ray endpoint that holds every request body to the X-Ray API model
//! (`testdata/schema/botocore-xray-2016-04-12-service-2.json`) and answers as X-Ray does.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use serde_json::{Value, json};
use xray_daemon::forward::ForwardConfig;
use xray_daemon::{Config, Daemon, DaemonHandle};

/// What the X-Ray endpoint received: operation, body, `Authorization` header.
type Seen = Arc<Mutex<Vec<(String, Value, String)>>>;

/// The problems of `value` against shape `shape` of the X-Ray API model (members, required members, types,
/// string lengths, integer minimums, list sizes), with `path` naming where.
fn model_problems(model: &Value, shape: &str, value: &Value, path: &str) -> Vec<String> {
    let spec = &model["shapes"][shape];
    let mut problems = Vec::new();
    let mut problem = |what: String| problems.push(format!("{path}: {what}"));
    match spec["type"].as_str().unwrap() {
        "structure" => {
            let Some(object) = value.as_object() else {
                problem(format!("{shape} must be an object, got {value}"));
                return problems;
            };
            for required in spec["required"].as_array().into_iter().flatten() {
                if !object.contains_key(required.as_str().unwrap()) {
                    problem(format!("{required} is required"));
                }
            }
            for (key, member) in object {
                match spec["members"][key]["shape"].as_str() {
                    Some(member_shape) => problems.extend(model_problems(
                        model,
                        member_shape,
                        member,
                        &format!("{path}.{key}"),
                    )),
                    None => problems.push(format!("{path}: {key} is not a member of {shape}")),
                }
            }
        }
        "list" => {
            let Some(items) = value.as_array() else {
                problem(format!("{shape} must be a list"));
                return problems;
            };
            if let Some(max) = spec["max"].as_u64()
                && items.len() as u64 > max
            {
                problem(format!("at most {max} items, got {}", items.len()));
            }
            let member = spec["member"]["shape"].as_str().unwrap();
            for (i, item) in items.iter().enumerate() {
                problems.extend(model_problems(model, member, item, &format!("{path}[{i}]")));
            }
        }
        "string" => match value.as_str() {
            Some(text) => {
                let n = text.chars().count() as u64;
                if spec["min"].as_u64().is_some_and(|min| n < min)
                    || spec["max"].as_u64().is_some_and(|max| n > max)
                {
                    problem(format!("length {n} out of {shape}'s bounds"));
                }
            }
            None => problem(format!("{shape} must be a string")),
        },
        "integer" | "long" => match value.as_i64() {
            Some(n) => {
                if spec["min"].as_i64().is_some_and(|min| n < min) {
                    problem(format!("{n} is below {shape}'s minimum"));
                }
            }
            None => problem(format!("{shape} must be an integer")),
        },
        "double" => {
            if !value.is_number() {
                problem(format!("{shape} must be a number"));
            }
        }
        // rest-json sends timestamps as epoch seconds.
        "timestamp" => {
            if !value.is_number() {
                problem(format!("{shape} must be epoch seconds"));
            }
        }
        other => problem(format!("shape type {other} not handled by this check")),
    }
    problems
}

/// A local X-Ray endpoint: checks each sampling request against the model and its signature, records it, and
/// answers as X-Ray does (an unknown `NextToken` gets X-Ray's 400).
async fn xray_endpoint(seen: Seen) -> String {
    let model: Arc<Value> = Arc::new(
        serde_json::from_slice(&xray_sdk_testdata::read(
            "schema/botocore-xray-2016-04-12-service-2.json",
        ))
        .unwrap(),
    );
    let handler = |operation: &'static str, input: &'static str| {
        let (model, seen) = (model.clone(), seen.clone());
        move |headers: HeaderMap, body: Bytes| async move {
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let problems = model_problems(&model, input, &body, input);
            let authorization = headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            seen.lock()
                .unwrap()
                .push((operation.to_owned(), body.clone(), authorization));
            if !problems.is_empty() {
                let error =
                    json!({"__type": "InvalidRequestException", "message": problems.join("; ")});
                return (StatusCode::BAD_REQUEST, axum::Json(error)).into_response();
            }
            answer(operation, &body).into_response()
        }
    };
    let app = Router::new()
        .route(
            "/GetSamplingRules",
            post(handler("GetSamplingRules", "GetSamplingRulesRequest")),
        )
        .route(
            "/SamplingTargets",
            post(handler("GetSamplingTargets", "GetSamplingTargetsRequest")),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// X-Ray's answers.
fn answer(operation: &str, body: &Value) -> (StatusCode, HeaderMap, String) {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", "application/json".parse().unwrap());
    let (status, value) = match (operation, body["NextToken"].as_str()) {
        ("GetSamplingRules", None) => (
            StatusCode::OK,
            json!({
                "SamplingRuleRecords": [{
                    "SamplingRule": {
                        "RuleName": "checkout", "RuleARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/checkout",
                        "ResourceARN": "*", "Priority": 5, "FixedRate": 0.25, "ReservoirSize": 3,
                        "ServiceName": "shop", "ServiceType": "*", "Host": "*", "HTTPMethod": "POST",
                        "URLPath": "/checkout*", "Version": 1, "Attributes": {"tier": "gold"}
                    },
                    "CreatedAt": 1700000000.0, "ModifiedAt": 1700000100.0
                }],
                "NextToken": "page-2"
            }),
        ),
        ("GetSamplingRules", Some("page-2")) => (
            StatusCode::OK,
            json!({"SamplingRuleRecords": [{
                "SamplingRule": {
                    "RuleName": "Default", "RuleARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/Default",
                    "ResourceARN": "*", "Priority": 10000, "FixedRate": 0.05, "ReservoirSize": 1,
                    "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*",
                    "Version": 1
                },
                "CreatedAt": 0.0, "ModifiedAt": 1700000200.0
            }]}),
        ),
        ("GetSamplingRules", Some(_)) => {
            headers.insert(
                "x-amzn-errortype",
                "InvalidRequestException".parse().unwrap(),
            );
            (
                StatusCode::BAD_REQUEST,
                json!({"__type": "InvalidRequestException", "message": "Invalid NextToken"}),
            )
        }
        _ => (
            StatusCode::OK,
            json!({
                "SamplingTargetDocuments": [{
                    "RuleName": "checkout", "FixedRate": 0.25, "ReservoirQuota": 2,
                    "ReservoirQuotaTTL": 1700000300.0, "Interval": 10
                }],
                "LastRuleModification": 1700000100.0,
                "UnprocessedStatistics": [{"RuleName": "gone", "ErrorCode": "400", "Message": "Unknown rule"}]
            }),
        ),
    };
    (status, headers, value.to_string())
}

async fn start(endpoint: &str) -> DaemonHandle {
    let mut forward = ForwardConfig::new("us-east-1", "AKIDSAMPLING", "secret");
    forward.endpoint = Some(endpoint.to_owned());
    forward.local_mode = true;
    Daemon::start(Config {
        forward: Some(forward),
        ..Config::ephemeral()
    })
    .await
    .unwrap()
}

/// A POST to the daemon's sampling API, as an SDK sends it: status and JSON body.
async fn post_json(daemon: &DaemonHandle, path: &str, body: &Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}{path}", daemon.sampling_address()))
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (
        status,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap(),
    )
}

/// `GET /api/sampling` of the daemon's JSON API.
async fn sampling_snapshot(daemon: &DaemonHandle) -> Value {
    let response = reqwest::get(format!("http://{}/api/sampling", daemon.api_address()))
        .await
        .unwrap();
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rules_and_targets_come_from_xray_through_signed_model_valid_requests() {
    let seen = Seen::default();
    let endpoint = xray_endpoint(seen.clone()).await;
    let daemon = start(&endpoint).await;

    let (status, first) = post_json(&daemon, "/GetSamplingRules", &json!({})).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(
        first,
        json!({
            "SamplingRuleRecords": [{
                "SamplingRule": {
                    "RuleName": "checkout", "RuleARN": "arn:aws:xray:us-east-1:123456789012:sampling-rule/checkout",
                    "ResourceARN": "*", "Priority": 5, "FixedRate": 0.25, "ReservoirSize": 3,
                    "ServiceName": "shop", "ServiceType": "*", "Host": "*", "HTTPMethod": "POST",
                    "URLPath": "/checkout*", "Version": 1, "Attributes": {"tier": "gold"}
                },
                "CreatedAt": 1700000000.0, "ModifiedAt": 1700000100.0
            }],
            "NextToken": "page-2"
        })
    );
    let (status, second) = post_json(
        &daemon,
        "/GetSamplingRules",
        &json!({"NextToken": "page-2"}),
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(
        second["SamplingRuleRecords"][0]["SamplingRule"]["RuleName"],
        "Default"
    );
    assert_eq!(
        second["SamplingRuleRecords"][0]["SamplingRule"]["Priority"],
        10000
    );
    assert_eq!(second.get("NextToken"), None);

    let report = json!({"SamplingStatisticsDocuments": [{
        "RuleName": "checkout", "ClientID": "0123456789abcdef01234567", "Timestamp": 1700000250,
        "RequestCount": 12, "SampledCount": 4, "BorrowCount": 1
    }]});
    let (status, targets) = post_json(&daemon, "/SamplingTargets", &report).await;
    assert_eq!(status, 200, "{targets}");
    assert_eq!(
        targets,
        json!({
            "SamplingTargetDocuments": [{
                "RuleName": "checkout", "FixedRate": 0.25, "ReservoirQuota": 2,
                "ReservoirQuotaTTL": 1700000300.0, "Interval": 10
            }],
            "LastRuleModification": 1700000100.0,
            "UnprocessedStatistics": [{"RuleName": "gone", "ErrorCode": "400", "Message": "Unknown rule"}]
        })
    );

    let seen = seen.lock().unwrap().clone();
    let operations: Vec<(&str, &Value)> = seen
        .iter()
        .map(|(op, body, _)| (op.as_str(), body))
        .collect();
    assert_eq!(
        operations,
        [
            ("GetSamplingRules", &json!({})),
            ("GetSamplingRules", &json!({"NextToken": "page-2"})),
            ("GetSamplingTargets", &report),
        ]
    );
    assert_eq!(sampling_snapshot(&daemon).await["answered_by_xray"], true);
    for (operation, _, authorization) in &seen {
        assert!(
            authorization.starts_with("AWS4-HMAC-SHA256 Credential=AKIDSAMPLING/")
                && authorization.contains("/us-east-1/xray/aws4_request"),
            "{operation}: {authorization}"
        );
    }
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xray_s_errors_come_back_as_x_ray_sent_them_and_bad_requests_never_leave() {
    let seen = Seen::default();
    let endpoint = xray_endpoint(seen.clone()).await;
    let daemon = start(&endpoint).await;

    let (status, error) =
        post_json(&daemon, "/GetSamplingRules", &json!({"NextToken": "stale"})).await;
    assert_eq!(
        (status, error),
        (
            400,
            json!({"__type": "InvalidRequestException", "Message": "Invalid NextToken"})
        )
    );
    // A ClientID of the wrong length breaks the model: refused here, never sent.
    let bad = json!({"SamplingStatisticsDocuments": [{
        "RuleName": "checkout", "ClientID": "short", "Timestamp": 1700000250,
        "RequestCount": 1, "SampledCount": 1
    }]});
    let (status, error) = post_json(&daemon, "/SamplingTargets", &bad).await;
    assert_eq!(status, 400, "{error}");
    assert_eq!(error["__type"], "InvalidRequestException");
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "only the first request reached X-Ray"
    );
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_xray_is_a_502_and_without_forwarding_the_local_rules_answer() {
    // An endpoint that hangs up on every connection without answering.
    let hang_up = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", hang_up.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((stream, _)) = hang_up.accept().await {
            drop(stream);
        }
    });
    let daemon = start(&endpoint).await;
    let (status, error) = post_json(&daemon, "/GetSamplingRules", &json!({})).await;
    assert_eq!(status, 502, "{error}");
    assert_eq!(error["__type"], "ServiceUnavailableException");
    assert!(
        error["Message"]
            .as_str()
            .unwrap()
            .starts_with("cannot reach AWS X-Ray"),
        "{error}"
    );
    daemon.shutdown().await.unwrap();

    let local = Daemon::start(Config::ephemeral()).await.unwrap();
    let (status, rules) = post_json(&local, "/GetSamplingRules", &json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(
        rules["SamplingRuleRecords"][0]["SamplingRule"]["RuleName"],
        "Default"
    );
    local.shutdown().await.unwrap();
}
