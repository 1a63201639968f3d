use serde_json::{Value, json};

use super::*;

const T: &str = "1-5759e988-bd862e3fe1be46a994272793";

fn map(traces: Vec<Vec<Value>>) -> ServiceMap {
    let mut builder = MapBuilder::new();
    for trace in traces {
        builder.add_trace(trace);
    }
    builder.build()
}

fn edge<'a>(map: &'a ServiceMap, source: &str, target: &str) -> &'a Edge {
    map.edges
        .iter()
        .find(|e| e.source == source && e.target == target)
        .unwrap_or_else(|| panic!("no edge {source} → {target} in {:#?}", map.edges))
}

fn node<'a>(map: &'a ServiceMap, id: &str) -> &'a Node {
    map.nodes
        .iter()
        .find(|n| n.id == id)
        .unwrap_or_else(|| panic!("no node {id} in {:#?}", map.nodes))
}

/// web (EC2) → api over HTTP; api queries SQL and DynamoDB.
fn chain(start: f64, api_fault: bool) -> Vec<Value> {
    vec![
        json!({"trace_id": T, "id": "a000000000000001", "name": "web", "origin": "AWS::EC2::Instance",
        "start_time": start, "end_time": start + 0.5,
        "subsegments": [
            {"id": "b000000000000001", "name": "api", "namespace": "remote", "start_time": start + 0.1,
             "end_time": start + 0.4, "fault": api_fault, "http": {"request": {"url": "http://api/x"}}},
            {"id": "b000000000000002", "name": "render", "start_time": start + 0.4, "end_time": start + 0.45}
        ]}),
        json!({"trace_id": T, "id": "a000000000000002", "name": "api", "parent_id": "b000000000000001",
        "start_time": start + 0.15, "end_time": start + 0.35, "fault": api_fault,
        "subsegments": [
            {"id": "c000000000000001", "name": "orders@db", "namespace": "remote", "start_time": start + 0.2,
             "end_time": start + 0.25, "sql": {"database_type": "SQLite"}},
            {"id": "c000000000000002", "name": "DynamoDB", "namespace": "aws", "start_time": start + 0.25,
             "end_time": start + 0.3, "aws": {"operation": "GetItem"},
             "subsegments": [{"id": "c000000000000003", "name": "dynamodb.us-east-1.amazonaws.com",
                 "namespace": "remote", "start_time": start + 0.26, "end_time": start + 0.29}]}
        ]}),
    ]
}

#[test]
fn edges_follow_parent_ids_and_untraced_calls() {
    let map = map(vec![chain(100.0, false)]);
    let ids: Vec<&str> = map.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "service:AWS::EC2::Instance:web",
            "service:service:api",
            "remote:AWS::DynamoDB:DynamoDB",
            "remote:Database::SQL:orders@db",
        ]
    );
    assert_eq!(map.edges.len(), 3, "{:#?}", map.edges);
    let web_api = edge(
        &map,
        "service:AWS::EC2::Instance:web",
        "service:service:api",
    );
    assert_eq!(web_api.stats.requests, 1);
    // Measured by the caller's subsegment (0.3 s), not by the callee's segment (0.2 s).
    assert!((web_api.stats.latency.unwrap().avg - 0.3).abs() < 1e-9);
    let sql = edge(
        &map,
        "service:service:api",
        "remote:Database::SQL:orders@db",
    );
    assert_eq!(sql.stats.requests, 1);
    let ddb = edge(&map, "service:service:api", "remote:AWS::DynamoDB:DynamoDB");
    assert_eq!(ddb.stats.requests, 1);
    // The HTTP call nested in the DynamoDB call is part of it, not an edge of its own.
    assert!(!map.edges.iter().any(|e| e.target.contains("amazonaws.com")));
    let web = node(&map, "service:AWS::EC2::Instance:web");
    assert_eq!(
        (web.kind, web.node_type.as_str()),
        (NodeKind::Service, "AWS::EC2::Instance")
    );
    assert_eq!(
        node(&map, "remote:AWS::DynamoDB:DynamoDB").kind,
        NodeKind::Remote
    );
    assert_eq!(map.traces, 1);
}

#[test]
fn counts_rates_and_percentiles_over_traces() {
    let mut traces = Vec::new();
    for i in 0..20 {
        traces.push(chain(1000.0 + f64::from(i), i % 4 == 0));
    }
    let map = map(traces);
    let web_api = edge(
        &map,
        "service:AWS::EC2::Instance:web",
        "service:service:api",
    );
    assert_eq!(web_api.stats.requests, 20);
    assert_eq!(web_api.stats.faults, 5);
    assert_eq!(web_api.stats.fault_rate, 0.25);
    assert_eq!(web_api.stats.errors, 0);
    assert_eq!(web_api.stats.error_rate, 0.0);
    let api = node(&map, "service:service:api");
    assert_eq!((api.stats.requests, api.stats.faults), (20, 5));
    assert_eq!(map.traces, 20);
}

#[test]
fn latency_average_and_nearest_rank_p95() {
    let samples: Vec<Sample> = (1..=20)
        .map(|ms| Sample {
            duration: Some(f64::from(ms) / 1000.0),
            ..Sample::default()
        })
        .chain([Sample {
            duration: None,
            error: true,
            throttle: true,
            fault: false,
        }])
        .collect();
    let stats = Stats::from_samples(&samples);
    assert_eq!(stats.requests, 21);
    assert_eq!((stats.errors, stats.throttles, stats.faults), (1, 1, 0));
    assert_eq!(stats.error_rate, 0.0476);
    let latency = stats.latency.unwrap();
    assert_eq!(latency.avg, 0.0105);
    assert_eq!(latency.p95, 0.019);
    assert_eq!(latency.max, 0.02);
    assert_eq!(Stats::from_samples(&[]).latency, None);
    let one = Stats::from_samples(&[Sample {
        duration: Some(0.5),
        ..Sample::default()
    }]);
    assert_eq!(one.latency.unwrap().p95, 0.5);
}

#[test]
fn streamed_subsegments_call_downstream_too() {
    // The caller's subsegment came as an independent subsegment, after the callee's segment.
    let docs = vec![
        json!({"trace_id": T, "id": "a000000000000002", "name": "api", "parent_id": "d000000000000001",
            "start_time": 5.1, "end_time": 5.2}),
        json!({"trace_id": T, "id": "a000000000000001", "name": "web", "start_time": 5.0, "end_time": 5.5}),
        json!({"trace_id": T, "id": "d000000000000001", "parent_id": "a000000000000001", "type": "subsegment",
            "name": "api", "namespace": "remote", "start_time": 5.05, "end_time": 5.25}),
    ];
    let map = map(vec![docs]);
    assert_eq!(map.edges.len(), 1, "{:#?}", map.edges);
    let e = edge(&map, "service:service:web", "service:service:api");
    assert!((e.stats.latency.unwrap().avg - 0.2).abs() < 1e-9);
}

#[test]
fn open_calls_are_measured_by_the_callee() {
    let docs = vec![
        json!({"trace_id": T, "id": "a000000000000001", "name": "web", "start_time": 5.0, "in_progress": true,
            "subsegments": [{"id": "d000000000000001", "name": "api", "namespace": "remote",
                "start_time": 5.05, "in_progress": true}]}),
        json!({"trace_id": T, "id": "a000000000000002", "name": "api", "parent_id": "d000000000000001",
            "start_time": 5.1, "end_time": 5.2, "error": true}),
    ];
    let map = map(vec![docs]);
    let e = edge(&map, "service:service:web", "service:service:api");
    assert!((e.stats.latency.unwrap().avg - 0.1).abs() < 1e-9);
    assert_eq!(e.stats.errors, 1);
    assert_eq!(node(&map, "service:service:web").stats.latency, None);
}

#[test]
fn orphans_and_unknown_parents_add_no_edges() {
    let docs = vec![
        // A Lambda function's subsegment: its facade segment is never sent.
        json!({"trace_id": T, "id": "e000000000000001", "parent_id": "f000000000000001", "type": "subsegment",
            "name": "handler", "start_time": 1.0, "end_time": 2.0,
            "subsegments": [{"id": "e000000000000002", "name": "S3", "namespace": "aws",
                "start_time": 1.1, "end_time": 1.2}]}),
        // A segment called by an untraced client.
        json!({"trace_id": T, "id": "a000000000000009", "name": "api", "parent_id": "9999999999999999",
            "start_time": 1.0, "end_time": 1.5}),
        "not an object".into(),
    ];
    let map = map(vec![docs]);
    assert_eq!(map.edges, Vec::<Edge>::new());
    let ids: Vec<&str> = map.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["service:service:api"]);
}

#[test]
fn same_name_different_origin_are_different_nodes() {
    let docs = vec![
        json!({"trace_id": T, "id": "a000000000000001", "name": "orders", "origin": "AWS::ECS::Container",
            "start_time": 1.0, "end_time": 1.5}),
        json!({"trace_id": T, "id": "a000000000000002", "name": "orders", "start_time": 2.0, "end_time": 2.5,
            "subsegments": [{"id": "b000000000000001", "name": "billing.internal", "namespace": "remote",
                "start_time": 2.1, "end_time": 2.2, "throttle": true, "error": true}]}),
    ];
    let map = map(vec![docs]);
    assert_eq!(map.nodes.len(), 3);
    let e = edge(
        &map,
        "service:service:orders",
        "remote:remote:billing.internal",
    );
    assert_eq!((e.stats.throttles, e.stats.throttle_rate), (1, 1.0));
}

#[test]
fn deep_nesting_is_bounded() {
    let mut sub = json!({"id": "b000000000000000", "name": "deep", "namespace": "remote", "start_time": 1.0,
        "end_time": 2.0});
    for i in 1..500u64 {
        sub = json!({"id": format!("{i:016x}"), "name": "level", "start_time": 1.0, "end_time": 2.0,
            "subsegments": [sub]});
    }
    let docs = vec![
        json!({"trace_id": T, "id": "a000000000000001", "name": "web", "start_time": 1.0,
        "end_time": 2.0, "subsegments": [sub]}),
    ];
    let map = map(vec![docs]);
    assert_eq!(map.nodes.len(), 1);
}
