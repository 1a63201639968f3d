//! The checks that the fuzz targets of `fuzz/` run on each input: each takes untrusted bytes where the daemon
//! does (a UDP datagram, an API query string, a sampling API body) and asserts what must hold of the outcome,
//! beyond not panicking.
//!
//! Built only for this crate's tests and under `--cfg fuzzing` (as `cargo fuzz` builds): not part of the API. The
//! tests replay every input kept in `testdata/fuzz-regressions/<target>/` through the same function, so that a
//! crash the fuzzer found once is checked by every `cargo test`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::body::Bytes;
use xray_sdk_types::framing::{split_datagram, write_datagram};
use xray_sdk_types::sampling::{GetSamplingRulesRequest, GetSamplingTargetsRequest, LocalRules};
use xray_sdk_types::validate::validate_bytes;

use crate::api::map::parse_range;
use crate::api::stats::{MAX_INVALID_LIMIT, parse_invalid_query};
use crate::api::traces::{MAX_ANNOTATION_FILTERS, parse_filter};
use crate::config::StoreLocation;
use crate::ingest::budget::MAX_MESSAGE_BYTES;
use crate::ingest::process::{MAX_KEPT_BYTES, process_document};
use crate::ingest::{Item, process_datagram};
use crate::sampling::SamplingService;
use crate::sampling::routes::parse;
use crate::sampling::targets;
use crate::store::Store;
use crate::store::query::{MAX_LIMIT, TraceFilter};

/// When the datagrams of [`datagram`] arrive, epoch seconds.
const RECEIVED_AT: f64 = 1_700_000_000.5;

/// `datagram`: a UDP datagram, header line and document, as the processing thread takes it.
///
/// A valid document's record holds the document as received (trimmed), which validates, and which gives the same
/// record when sent again in a datagram of its own or processed alone. A refused datagram keeps at most
/// [`MAX_KEPT_BYTES`] of itself, unchanged, and a message of at most [`MAX_MESSAGE_BYTES`].
pub fn datagram(data: &[u8]) {
    match process_datagram(data, RECEIVED_AT) {
        Item::Valid(record) => {
            let Ok(document) = split_datagram(data) else {
                panic!("a datagram without a valid header line was accepted");
            };
            assert!(
                validate_bytes(&record.body).is_ok(),
                "the stored body is invalid"
            );
            assert_eq!(
                document.trim_ascii(),
                record.body.as_slice(),
                "the stored body differs from the document received"
            );
            assert_eq!(record.received_at, RECEIVED_AT);
            let mut again = Vec::new();
            write_datagram(&mut again, &record.body);
            assert_eq!(
                process_datagram(&again, RECEIVED_AT),
                Item::Valid(record.clone())
            );
            assert_eq!(
                process_document(&record.body, RECEIVED_AT),
                Ok(Item::Valid(record))
            );
        }
        Item::Invalid(rejected) => {
            assert!(!rejected.code.is_empty());
            assert!(rejected.body.len() <= MAX_KEPT_BYTES);
            assert!(data.starts_with(&rejected.body));
            assert_eq!(rejected.body.len(), data.len().min(MAX_KEPT_BYTES));
            assert!(
                rejected.message.len() <= MAX_MESSAGE_BYTES,
                "a message of {} bytes",
                rejected.message.len()
            );
        }
    }
}

/// `api_query`: the query strings of `GET /api/traces`, `GET /api/map` and `GET /api/invalid`.
///
/// What parses stays within the documented limits, writes back to a query string that parses the same, and (for
/// `/api/traces`) runs as an SQL query on an empty store without error.
pub fn api_query(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(filter) = parse_filter(query) {
        assert!(filter.limit <= MAX_LIMIT);
        assert!(filter.annotations.len() <= MAX_ANNOTATION_FILTERS);
        for number in [filter.min_duration, filter.from, filter.to]
            .into_iter()
            .flatten()
        {
            assert!(number.is_finite());
        }
        let written = filter_query(&filter);
        assert_eq!(parse_filter(&written).as_ref(), Ok(&filter), "{written}");
        if let Err(e) = empty_store().list_traces(&filter) {
            panic!("the query of {filter:?} fails: {e}");
        }
    }
    if let Ok((from, to)) = parse_range(query) {
        for number in [from, to].into_iter().flatten() {
            assert!(number.is_finite());
        }
        let pairs: Vec<(&str, String)> = [("from", from), ("to", to)]
            .into_iter()
            .filter_map(|(key, n)| n.map(|n| (key, n.to_string())))
            .collect();
        let written = encode(&pairs);
        assert_eq!(parse_range(&written), Ok((from, to)), "{written}");
    }
    if let Ok(limit) = parse_invalid_query(query) {
        assert!(limit <= MAX_INVALID_LIMIT);
    }
}

/// A query string for `filter`, as a client of `GET /api/traces` would write it.
fn filter_query(filter: &TraceFilter) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    if let Some(service) = &filter.service {
        pairs.push(("service", service.clone()));
    }
    if let Some(status) = filter.status {
        let Ok(serde_json::Value::String(name)) = serde_json::to_value(status) else {
            panic!("a status that is not a name: {status:?}");
        };
        pairs.push(("status", name));
    }
    for (key, value) in &filter.annotations {
        pairs.push(("annotation", format!("{key}={value}")));
    }
    for (key, number) in [
        ("min_duration", filter.min_duration),
        ("from", filter.from),
        ("to", filter.to),
    ] {
        if let Some(number) = number {
            pairs.push((key, number.to_string()));
        }
    }
    if let Some(seq) = filter.after_seq {
        pairs.push(("after_seq", seq.to_string()));
    }
    pairs.push(("limit", filter.limit.to_string()));
    encode(&pairs)
}

fn encode(pairs: &[(&str, String)]) -> String {
    match serde_urlencoded::to_string(pairs) {
        Ok(text) => text,
        Err(e) => panic!("{pairs:?} cannot be written as a query string: {e}"),
    }
}

/// One empty in-memory store per process, for the queries of [`api_query`].
fn empty_store() -> &'static Store {
    static STORE: OnceLock<Store> = OnceLock::new();
    STORE.get_or_init(|| match Store::open(&StoreLocation::Memory) {
        Ok(store) => store,
        Err(e) => panic!("cannot open an in-memory store: {e}"),
    })
}

/// The rules [`sampling_body`] serves: two custom rules (reservoirs of 3 and 0) and the default (1).
const RULES: &str = r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.05}, "rules": [
    {"host": "*", "http_method": "GET", "url_path": "/a", "fixed_target": 3, "rate": 0.5},
    {"host": "*", "http_method": "*", "url_path": "*", "fixed_target": 0, "rate": 0}]}"#;

/// `sampling_body`: the bodies of `POST /GetSamplingRules` and `POST /SamplingTargets`, read as the routes read
/// them and answered by a fresh sampling service.
///
/// A targets request is answered exactly when it passes the API model's checks; every statistics document is
/// then either answered (a served rule) or returned as unprocessed (an unknown one); and the quotas the clients
/// of a rule hold add up to the rule's reservoir.
pub fn sampling_body(data: &[u8]) {
    let Ok(rules) = LocalRules::from_json(RULES) else {
        panic!("the rules of the sampling check do not load");
    };
    let service = SamplingService::new(&rules, None, RECEIVED_AT.floor());
    let body = || Ok(Bytes::copy_from_slice(data));
    if let Ok(request) = parse::<GetSamplingRulesRequest>(body())
        && let Ok(page) = service.get_rules(&request)
    {
        assert!(!page.sampling_rule_records.is_empty() || request.next_token.is_some());
    }
    let Ok(request) = parse::<GetSamplingTargetsRequest>(body()) else {
        return;
    };
    let now = RECEIVED_AT + 1.0;
    let valid = targets::validate(&request).is_ok();
    let response = service.get_targets(&request, now);
    assert_eq!(response.is_ok(), valid);
    let Ok(response) = response else {
        return;
    };
    let served: Vec<String> = rules
        .to_sampling_rules()
        .into_iter()
        .filter_map(|r| r.rule_name)
        .collect();
    for doc in &request.sampling_statistics_documents {
        let name = Some(doc.rule_name.as_str());
        let answered = response
            .sampling_target_documents
            .iter()
            .any(|t| t.rule_name.as_deref() == name);
        let unprocessed = response
            .unprocessed_statistics
            .iter()
            .any(|u| u.rule_name.as_deref() == name);
        assert_eq!(answered, served.contains(&doc.rule_name), "{doc:?}");
        assert_eq!(unprocessed, !answered, "{doc:?}");
    }
    let mut quotas: BTreeMap<&str, i64> = BTreeMap::new();
    let snapshot = service.snapshot(now);
    for rule in &snapshot.rules {
        for client in rule.clients.iter().filter(|c| c.active) {
            assert!(client.quota >= 0);
            *quotas.entry(&rule.name).or_default() += client.quota;
        }
        if rule.active_clients > 0 {
            assert_eq!(
                quotas.get(rule.name.as_str()),
                Some(&rule.reservoir_size),
                "the quotas of {} do not add up to its reservoir",
                rule.name
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagram_regressions() {
        xray_sdk_testdata::replay_fuzz_regressions("datagram", datagram);
    }

    #[test]
    fn api_query_regressions() {
        xray_sdk_testdata::replay_fuzz_regressions("api_query", api_query);
    }

    #[test]
    fn sampling_body_regressions() {
        xray_sdk_testdata::replay_fuzz_regressions("sampling_body", sampling_body);
    }
}
