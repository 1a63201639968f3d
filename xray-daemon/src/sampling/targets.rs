//! `GetSamplingTargets`: the statistics clients report, and the reservoir quotas handed out in return.
//!
//! A rule's reservoir (`ReservoirSize` requests per second, shared by every instance of the service) is split
//! evenly among its *active* clients: those that reported statistics for the rule within [`ACTIVE_WINDOW`]
//! seconds, the length of a quota's life, so that a client counts for as long as a quota it was given may still be
//! in force. Only clients that had requests in their last report share it (unless none had): a client that
//! reports nothing, such as a stand-in registered to take a share, gets a quota of 0 and takes nobody's. With the clients sorted by id, the first `size % n` get one request more than `size / n`, so that the
//! quotas add up to the reservoir size exactly. When a client joins, the others keep their larger share until
//! their next report (one [`INTERVAL`] at most), as with the X-Ray service.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use xray_sdk_types::sampling::api::MAX_STATISTICS_DOCUMENTS;
use xray_sdk_types::sampling::{
    GetSamplingTargetsRequest, GetSamplingTargetsResponse, SamplingRule, SamplingTargetDocument,
    UnprocessedStatistics,
};

use super::InvalidRequest;
use super::rules::ServedRules;

/// Seconds between two reports, as told to clients.
pub const INTERVAL: i64 = 10;
/// Seconds a quota stays valid: one interval plus slack for late reports.
pub const QUOTA_TTL: f64 = 15.0;
/// A client shares a rule's reservoir while its last report is this recent (seconds).
pub const ACTIVE_WINDOW: f64 = QUOTA_TTL;
/// Clients silent for longer than this (seconds) are forgotten; their counts stay in the rule's totals.
pub const FORGET_AFTER: f64 = 3600.0;
/// The most clients remembered per rule; the longest silent ones are forgotten first.
pub const MAX_CLIENTS_PER_RULE: usize = 1000;
/// The length of a `ClientID`.
pub const CLIENT_ID_LENGTH: usize = 24;
/// The longest `RuleName`.
pub const MAX_RULE_NAME: usize = 32;

/// Request, sampled and borrowed counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Requests that matched the rule.
    pub requests: u64,
    /// Requests sampled from the quota or by the rate.
    pub sampled: u64,
    /// Requests sampled by borrowing before a quota was known.
    pub borrowed: u64,
}

impl Counts {
    fn add(&mut self, other: Counts) {
        self.requests = self.requests.saturating_add(other.requests);
        self.sampled = self.sampled.saturating_add(other.sampled);
        self.borrowed = self.borrowed.saturating_add(other.borrowed);
    }
}

/// One client of one rule, as `GET /api/sampling` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientReport {
    /// The client's id.
    pub client_id: String,
    /// When its last report arrived, epoch seconds.
    pub last_seen: f64,
    /// The `Timestamp` of its last report.
    pub last_timestamp: i64,
    /// Whether it shares the reservoir now.
    pub active: bool,
    /// The quota it was last given, requests per second.
    pub quota: i64,
    /// When that quota expires, epoch seconds.
    pub quota_ttl: f64,
    /// How many reports it sent.
    pub reports: u64,
    /// The counts of its last report.
    pub last: Counts,
    /// The sum of its reports.
    pub total: Counts,
}

/// One rule with what its clients reported, as `GET /api/sampling` shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleReport {
    /// The rule's name.
    pub name: String,
    /// Its priority.
    pub priority: i64,
    /// Its host matcher.
    pub host: String,
    /// Its method matcher.
    pub http_method: String,
    /// Its URL path matcher.
    pub url_path: String,
    /// Requests per second shared by the clients.
    pub reservoir_size: i64,
    /// The rate after the reservoir.
    pub fixed_rate: f64,
    /// The sum of every client's reports.
    pub total: Counts,
    /// Clients now sharing the reservoir.
    pub active_clients: usize,
    /// The clients remembered, most recently seen first.
    pub clients: Vec<ClientReport>,
}

#[derive(Debug, Clone, Default)]
struct ClientState {
    last_seen: f64,
    last_timestamp: i64,
    quota: i64,
    quota_ttl: f64,
    reports: u64,
    last: Counts,
    total: Counts,
}

#[derive(Debug, Default)]
struct RuleState {
    total: Counts,
    clients: HashMap<String, ClientState>,
}

impl RuleState {
    /// The ids of the clients that share the reservoir at `now`, sorted: those active that had requests in their
    /// last report, or every active one when none had.
    fn sharing(&self, now: f64) -> Vec<&str> {
        let active = || self.clients.iter().filter(|(_, c)| is_active(c, now));
        let mut ids: Vec<&str> = if active().any(|(_, c)| c.last.requests > 0) {
            active()
                .filter(|(_, c)| c.last.requests > 0)
                .map(|(id, _)| id.as_str())
                .collect()
        } else {
            active().map(|(id, _)| id.as_str()).collect()
        };
        ids.sort_unstable();
        ids
    }

    fn forget(&mut self, now: f64) {
        self.clients
            .retain(|_, c| now - c.last_seen <= FORGET_AFTER);
        if self.clients.len() > MAX_CLIENTS_PER_RULE {
            let mut seen: Vec<(f64, String)> = self
                .clients
                .iter()
                .map(|(id, c)| (c.last_seen, id.clone()))
                .collect();
            seen.sort_by(|a, b| a.0.total_cmp(&b.0));
            let excess = self.clients.len() - MAX_CLIENTS_PER_RULE;
            for (_, id) in seen.into_iter().take(excess) {
                self.clients.remove(&id);
            }
        }
    }
}

fn is_active(client: &ClientState, now: f64) -> bool {
    now - client.last_seen <= ACTIVE_WINDOW
}

/// The quota of the client at `index` among `clients` sorted ids, for a reservoir of `size` per second.
pub fn share(size: i64, clients: usize, index: usize) -> i64 {
    let size = size.max(0);
    let n = i64::try_from(clients.max(1)).unwrap_or(i64::MAX);
    let i = i64::try_from(index).unwrap_or(i64::MAX);
    size / n + i64::from(i < size % n)
}

/// What every rule's clients reported, and the quotas they were given.
#[derive(Debug)]
pub struct Book {
    rules: HashMap<String, RuleState>,
}

impl Book {
    /// An empty book for `rules`.
    pub fn new<'a>(rules: impl Iterator<Item = &'a SamplingRule>) -> Book {
        Book {
            rules: rules
                .filter_map(|r| r.rule_name.clone())
                .map(|name| (name, RuleState::default()))
                .collect(),
        }
    }

    /// Records a validated request's statistics at `now` and answers with a target per known rule (in the order
    /// first reported), and an unprocessed entry per unknown rule.
    pub fn report(
        &mut self,
        rules: &ServedRules,
        request: &GetSamplingTargetsRequest,
        now: f64,
    ) -> GetSamplingTargetsResponse {
        let mut response = GetSamplingTargetsResponse::default();
        let mut answered: Vec<(&str, &str)> = Vec::new();
        for doc in &request.sampling_statistics_documents {
            let Some(state) = self.rules.get_mut(&doc.rule_name) else {
                response.unprocessed_statistics.push(UnprocessedStatistics {
                    rule_name: Some(doc.rule_name.clone()),
                    error_code: Some("400".to_owned()),
                    message: Some(format!("unknown rule {:?}", doc.rule_name)),
                });
                continue;
            };
            let counts = Counts {
                requests: u64::try_from(doc.request_count).unwrap_or(0),
                sampled: u64::try_from(doc.sampled_count).unwrap_or(0),
                borrowed: u64::try_from(doc.borrow_count.unwrap_or(0)).unwrap_or(0),
            };
            state.total.add(counts);
            let client = state.clients.entry(doc.client_id.clone()).or_default();
            client.last_seen = now;
            client.last_timestamp = doc.timestamp;
            client.reports += 1;
            client.last = counts;
            client.total.add(counts);
            answered.push((&doc.rule_name, &doc.client_id));
        }
        // Quotas once every document is in, so that clients reporting together count one another.
        let mut seen = std::collections::HashSet::new();
        for (name, client_id) in answered {
            if !seen.insert((name, client_id)) {
                continue;
            }
            let (Some(rule), Some(state)) = (rules.get(name), self.rules.get_mut(name)) else {
                continue;
            };
            let sharing = state.sharing(now);
            let quota = sharing
                .iter()
                .position(|id| *id == client_id)
                .map_or(0, |index| share(rule.reservoir_size, sharing.len(), index));
            let quota_ttl = now + QUOTA_TTL;
            if let Some(client) = state.clients.get_mut(client_id) {
                client.quota = quota;
                client.quota_ttl = quota_ttl;
            }
            let already = response
                .sampling_target_documents
                .iter()
                .any(|t| t.rule_name.as_deref() == Some(name));
            if !already {
                response
                    .sampling_target_documents
                    .push(SamplingTargetDocument {
                        rule_name: Some(name.to_owned()),
                        fixed_rate: Some(rule.fixed_rate),
                        reservoir_quota: Some(quota),
                        reservoir_quota_ttl: Some(quota_ttl),
                        interval: Some(INTERVAL),
                        sampling_boost: None,
                    });
            }
            state.forget(now);
        }
        response
    }

    /// Every rule of `rules` with its clients at `now`.
    pub fn snapshot<'a>(
        &self,
        rules: impl Iterator<Item = &'a SamplingRule>,
        now: f64,
    ) -> Vec<RuleReport> {
        let empty = RuleState::default();
        rules
            .map(|rule| {
                let name = rule.rule_name.clone().unwrap_or_default();
                let state = self.rules.get(&name).unwrap_or(&empty);
                let mut clients: Vec<ClientReport> = state
                    .clients
                    .iter()
                    .map(|(id, c)| ClientReport {
                        client_id: id.clone(),
                        last_seen: c.last_seen,
                        last_timestamp: c.last_timestamp,
                        active: is_active(c, now),
                        quota: c.quota,
                        quota_ttl: c.quota_ttl,
                        reports: c.reports,
                        last: c.last,
                        total: c.total,
                    })
                    .collect();
                clients.sort_by(|a, b| {
                    b.last_seen
                        .total_cmp(&a.last_seen)
                        .then_with(|| a.client_id.cmp(&b.client_id))
                });
                RuleReport {
                    name,
                    priority: rule.priority,
                    host: rule.host.clone(),
                    http_method: rule.http_method.clone(),
                    url_path: rule.url_path.clone(),
                    reservoir_size: rule.reservoir_size,
                    fixed_rate: rule.fixed_rate,
                    total: state.total,
                    active_clients: clients.iter().filter(|c| c.active).count(),
                    clients,
                }
            })
            .collect()
    }
}

/// Checks a `GetSamplingTargets` request against the API model's constraints.
///
/// # Errors
/// [`InvalidRequest`] naming the first member in breach, as `SamplingStatisticsDocuments[i].Member`.
pub fn validate(request: &GetSamplingTargetsRequest) -> Result<(), InvalidRequest> {
    let docs = &request.sampling_statistics_documents;
    if docs.len() > MAX_STATISTICS_DOCUMENTS {
        return Err(InvalidRequest(format!(
            "SamplingStatisticsDocuments: at most {MAX_STATISTICS_DOCUMENTS} documents, got {}",
            docs.len()
        )));
    }
    let boost = &request.sampling_boost_statistics_documents;
    if boost.len() > MAX_STATISTICS_DOCUMENTS {
        return Err(InvalidRequest(format!(
            "SamplingBoostStatisticsDocuments: at most {MAX_STATISTICS_DOCUMENTS} documents, got {}",
            boost.len()
        )));
    }
    for (i, doc) in docs.iter().enumerate() {
        let at = |member: &str| format!("SamplingStatisticsDocuments[{i}].{member}");
        rule_name(&doc.rule_name)
            .map_err(|e| InvalidRequest(format!("{}: {e}", at("RuleName"))))?;
        let id_len = doc.client_id.chars().count();
        if id_len != CLIENT_ID_LENGTH {
            return Err(InvalidRequest(format!(
                "{}: must be {CLIENT_ID_LENGTH} characters long, not {id_len}",
                at("ClientID")
            )));
        }
        for (member, value) in [
            ("RequestCount", Some(doc.request_count)),
            ("SampledCount", Some(doc.sampled_count)),
            ("BorrowCount", doc.borrow_count),
        ] {
            if let Some(value) = value.filter(|v| *v < 0) {
                return Err(InvalidRequest(format!(
                    "{}: must be at least 0, not {value}",
                    at(member)
                )));
            }
        }
    }
    for (i, doc) in boost.iter().enumerate() {
        rule_name(&doc.rule_name).map_err(|e| {
            InvalidRequest(format!(
                "SamplingBoostStatisticsDocuments[{i}].RuleName: {e}"
            ))
        })?;
    }
    Ok(())
}

fn rule_name(name: &str) -> Result<(), String> {
    let len = name.chars().count();
    if (1..=MAX_RULE_NAME).contains(&len) {
        Ok(())
    } else {
        Err(format!(
            "must be 1 to {MAX_RULE_NAME} characters long, not {len}"
        ))
    }
}

/// The per-rule totals, by rule name (for tests and logs).
pub fn totals(snapshot: &[RuleReport]) -> BTreeMap<&str, Counts> {
    snapshot
        .iter()
        .map(|r| (r.name.as_str(), r.total))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use xray_sdk_types::sampling::{LocalRules, SamplingStatisticsDocument};

    const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaa";
    const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbb";
    const C: &str = "cccccccccccccccccccccccc";

    fn served() -> ServedRules {
        let local = LocalRules::from_json(
            r#"{"version":2,"default":{"fixed_target":1,"rate":0.05},
                "rules":[{"host":"*","http_method":"*","url_path":"/api/*","fixed_target":5,"rate":0.25}]}"#,
        )
        .unwrap();
        ServedRules::new(local.to_sampling_rules(), 1000.0)
    }

    fn doc(rule: &str, client: &str, requests: i64) -> SamplingStatisticsDocument {
        SamplingStatisticsDocument {
            rule_name: rule.into(),
            client_id: client.into(),
            request_count: requests,
            borrow_count: Some(1),
            sampled_count: requests / 2,
            timestamp: 1000,
        }
    }

    fn request(docs: Vec<SamplingStatisticsDocument>) -> GetSamplingTargetsRequest {
        GetSamplingTargetsRequest {
            sampling_statistics_documents: docs,
            sampling_boost_statistics_documents: Vec::new(),
        }
    }

    fn quota(book: &mut Book, rules: &ServedRules, client: &str, now: f64) -> i64 {
        let resp = book.report(rules, &request(vec![doc("local-1", client, 10)]), now);
        let target = &resp.sampling_target_documents[0];
        assert_eq!(target.fixed_rate, Some(0.25));
        assert_eq!(target.interval, Some(INTERVAL));
        assert_eq!(target.reservoir_quota_ttl, Some(now + QUOTA_TTL));
        target.reservoir_quota.unwrap()
    }

    #[test]
    fn shares_add_up_to_the_reservoir() {
        for size in 0..20 {
            for n in 1..8 {
                let sum: i64 = (0..n).map(|i| share(size, n, i)).sum();
                assert_eq!(sum, size, "size {size}, {n} clients");
            }
        }
        assert_eq!(share(5, 0, 0), 5);
    }

    #[test]
    fn the_reservoir_is_split_among_active_clients() {
        let rules = served();
        let mut book = Book::new(rules.rules());
        assert_eq!(quota(&mut book, &rules, A, 1000.0), 5);
        // B joins: A keeps 5 until it reports again; B gets its share of two.
        assert_eq!(quota(&mut book, &rules, B, 1001.0), 2);
        assert_eq!(quota(&mut book, &rules, A, 1010.0), 3);
        assert_eq!(quota(&mut book, &rules, B, 1011.0), 2);
        assert_eq!(quota(&mut book, &rules, C, 1012.0), 1);
        assert_eq!(quota(&mut book, &rules, A, 1020.0), 2);
        assert_eq!(quota(&mut book, &rules, B, 1021.0), 2);
        // A and B go on; C falls silent and leaves the split once its quota has expired.
        assert_eq!(quota(&mut book, &rules, A, 1030.0), 3);
        assert_eq!(quota(&mut book, &rules, B, 1031.0), 2);

        let snapshot = book.snapshot(rules.rules(), 1031.0);
        let rule = &snapshot[0];
        assert_eq!(rule.name, "local-1");
        assert_eq!(rule.active_clients, 2);
        assert_eq!(
            rule.total,
            Counts {
                requests: 90,
                sampled: 45,
                borrowed: 9
            }
        );
        assert_eq!(rule.clients[0].client_id, B);
        assert_eq!(rule.clients[0].quota, 2);
        assert_eq!(rule.clients[0].reports, 4);
        assert!(!rule.clients[2].active);
        assert_eq!(snapshot[1].name, "Default");
        assert_eq!(snapshot[1].total, Counts::default());
    }

    #[test]
    fn clients_reporting_together_count_one_another_and_unknown_rules_are_unprocessed() {
        let rules = served();
        let mut book = Book::new(rules.rules());
        let resp = book.report(
            &rules,
            &request(vec![
                doc("local-1", A, 1),
                doc("nope", A, 1),
                doc("Default", A, 3),
                doc("local-1", B, 1),
            ]),
            1000.0,
        );
        let targets: Vec<(Option<&str>, Option<i64>)> = resp
            .sampling_target_documents
            .iter()
            .map(|t| (t.rule_name.as_deref(), t.reservoir_quota))
            .collect();
        assert_eq!(
            targets,
            [(Some("local-1"), Some(3)), (Some("Default"), Some(1))]
        );
        assert_eq!(resp.unprocessed_statistics.len(), 1);
        assert_eq!(
            resp.unprocessed_statistics[0].rule_name.as_deref(),
            Some("nope")
        );
        let snapshot = book.snapshot(rules.rules(), 1000.0);
        assert_eq!(totals(&snapshot)["Default"].requests, 3);
        assert_eq!(snapshot[0].clients.len(), 2);
    }

    #[test]
    fn silent_clients_are_forgotten() {
        let rules = served();
        let mut book = Book::new(rules.rules());
        quota(&mut book, &rules, A, 1000.0);
        quota(&mut book, &rules, B, 1000.0 + FORGET_AFTER + 1.0);
        let snapshot = book.snapshot(rules.rules(), 1000.0 + FORGET_AFTER + 1.0);
        assert_eq!(snapshot[0].clients.len(), 1);
        assert_eq!(snapshot[0].total.requests, 20);
    }

    #[test]
    fn requests_are_checked_against_the_model() {
        assert!(validate(&request(vec![doc("r", A, 1)])).is_ok());
        assert!(validate(&request(vec![])).is_ok());
        let cases = [
            (
                doc("", A, 1),
                "SamplingStatisticsDocuments[0].RuleName: must be 1 to 32 characters long, not 0",
            ),
            (
                doc(&"r".repeat(33), A, 1),
                "SamplingStatisticsDocuments[0].RuleName: must be 1 to 32 characters long, not 33",
            ),
            (
                doc("r", "abc", 1),
                "SamplingStatisticsDocuments[0].ClientID: must be 24 characters long, not 3",
            ),
            (
                doc("r", A, -1),
                "SamplingStatisticsDocuments[0].RequestCount: must be at least 0, not -1",
            ),
        ];
        for (bad, message) in cases {
            assert_eq!(
                validate(&request(vec![bad])),
                Err(InvalidRequest(message.to_owned()))
            );
        }
        let mut borrowed = doc("r", A, 1);
        borrowed.borrow_count = Some(-2);
        assert!(validate(&request(vec![borrowed])).is_err());
        let many = (0..26).map(|_| doc("r", A, 1)).collect();
        assert_eq!(
            validate(&request(many)),
            Err(InvalidRequest(
                "SamplingStatisticsDocuments: at most 25 documents, got 26".to_owned()
            ))
        );
    }
}
