//! The sampling API bodies: `GetSamplingRules` (`POST /GetSamplingRules`) and `GetSamplingTargets`
//! (`POST /SamplingTargets`).
//!
//! Member names are those of the X-Ray API model (`RuleName`, `HTTPMethod`, `URLPath`, `ResourceARN`, …). A
//! member the model requires is a plain field; an optional one is an [`Option`] (or a list that may be empty), and
//! is left out when serializing if it is `None`. Unknown members are ignored when reading, so that newer service
//! responses still parse. Integers are read as `i64` so that an out-of-range value is seen (and judged by the
//! caller) rather than failing the whole body.
//!
//! ```
//! use xray_sdk_types::sampling::{GetSamplingTargetsResponse, SamplingStatisticsDocument};
//!
//! let doc = SamplingStatisticsDocument {
//!     rule_name: "all-posts".into(),
//!     client_id: "e3638b473fec52d4b2ae6b28".into(),
//!     request_count: 5,
//!     borrow_count: Some(0),
//!     sampled_count: 5,
//!     timestamp: 1_795_634_949,
//! };
//! let json = serde_json::to_string(&doc).unwrap();
//! assert!(json.contains(r#""ClientID":"e3638b473fec52d4b2ae6b28""#));
//! assert!(json.contains(r#""Timestamp":1795634949"#));
//!
//! let targets: GetSamplingTargetsResponse = serde_json::from_str(
//!     r#"{"SamplingTargetDocuments":[{"RuleName":"r","FixedRate":0.1,"ReservoirQuota":2,
//!         "ReservoirQuotaTTL":1530923107.0,"Interval":10}],"LastRuleModification":1530920505.0,
//!         "UnprocessedStatistics":[]}"#,
//! ).unwrap();
//! assert_eq!(targets.sampling_target_documents[0].reservoir_quota, Some(2));
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};

/// The request path of `GetSamplingRules` on the daemon's TCP endpoint.
pub const GET_SAMPLING_RULES_PATH: &str = "/GetSamplingRules";
/// The request path of `GetSamplingTargets` on the daemon's TCP endpoint.
pub const GET_SAMPLING_TARGETS_PATH: &str = "/SamplingTargets";
/// The most statistics documents one `GetSamplingTargets` request may carry.
pub const MAX_STATISTICS_DOCUMENTS: usize = 25;
/// The priority of the service's built-in `Default` rule (custom rules have 1 to 9999).
pub const DEFAULT_RULE_PRIORITY: i64 = 10_000;
/// The name of the service's built-in catch-all rule.
pub const DEFAULT_RULE_NAME: &str = "Default";

/// The body of `POST /GetSamplingRules`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSamplingRulesRequest {
    /// The token of the page to read, from the previous response; `None` for the first page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// The response of `GetSamplingRules`: one page of rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSamplingRulesResponse {
    /// The rules of this page.
    #[serde(default)]
    pub sampling_rule_records: Vec<SamplingRuleRecord>,
    /// The token of the next page, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// A sampling rule with its creation and modification times.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamplingRuleRecord {
    /// The rule.
    pub sampling_rule: SamplingRule,
    /// When the rule was created, in epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<f64>,
    /// When the rule was last modified, in epoch seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_at: Option<f64>,
}

/// A sampling rule as the X-Ray API defines it.
///
/// The string matchers use `*` (any run of characters) and `?` (one character), ignoring case.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamplingRule {
    /// The rule's name, 1 to 32 characters (the API lets either the name or the ARN identify a rule).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    /// The rule's ARN.
    #[serde(rename = "RuleARN", default, skip_serializing_if = "Option::is_none")]
    pub rule_arn: Option<String>,
    /// Matches the ARN of the resource running the service.
    #[serde(rename = "ResourceARN")]
    pub resource_arn: String,
    /// The evaluation order, lowest first: 1 to 9999 ([`DEFAULT_RULE_PRIORITY`] for `Default`).
    pub priority: i64,
    /// The share of requests to sample after the reservoir is used up, 0 to 1.
    pub fixed_rate: f64,
    /// Requests per second to sample before the fixed rate applies, shared by all instances of the service.
    pub reservoir_size: i64,
    /// Matches the service's name (the segment name).
    pub service_name: String,
    /// Matches the service's origin, such as `AWS::EC2::Instance`.
    pub service_type: String,
    /// Matches the request's `Host`.
    pub host: String,
    /// Matches the request's method.
    #[serde(rename = "HTTPMethod")]
    pub http_method: String,
    /// Matches the request's URL path.
    #[serde(rename = "URLPath")]
    pub url_path: String,
    /// The format version of the rule; 1 is the only one defined.
    pub version: i64,
    /// Matches segment attributes, key to value pattern (at most 5).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// Adaptive sampling: how far the rate may be raised while anomalies are seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_rate_boost: Option<SamplingRateBoost>,
}

/// How far and for how long adaptive sampling may raise a rule's rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamplingRateBoost {
    /// The highest rate, 0 to 1.
    pub max_rate: f64,
    /// Minutes between two boosts.
    pub cooldown_window_minutes: i64,
}

/// The body of `POST /SamplingTargets`: the statistics of the rules used since the last report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSamplingTargetsRequest {
    /// One document per rule, at most [`MAX_STATISTICS_DOCUMENTS`].
    pub sampling_statistics_documents: Vec<SamplingStatisticsDocument>,
    /// Adaptive sampling statistics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sampling_boost_statistics_documents: Vec<SamplingBoostStatisticsDocument>,
}

/// What one client did with one rule since its last report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamplingStatisticsDocument {
    /// The rule.
    pub rule_name: String,
    /// The client: 24 hexadecimal characters, the same for the life of the process.
    #[serde(rename = "ClientID")]
    pub client_id: String,
    /// Requests that matched the rule.
    pub request_count: i64,
    /// Requests sampled by borrowing from the reservoir before a quota was known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub borrow_count: Option<i64>,
    /// Requests sampled from the quota or by the fixed rate (borrowed ones are not counted here).
    pub sampled_count: i64,
    /// When the statistics were taken, in whole epoch seconds (a fraction is truncated when reading).
    #[serde(deserialize_with = "epoch_whole_seconds")]
    pub timestamp: i64,
}

/// Adaptive sampling statistics of one rule and service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamplingBoostStatisticsDocument {
    /// The rule.
    pub rule_name: String,
    /// The service.
    pub service_name: String,
    /// When the statistics were taken, in whole epoch seconds.
    #[serde(deserialize_with = "epoch_whole_seconds")]
    pub timestamp: i64,
    /// Anomalies seen.
    pub anomaly_count: i64,
    /// Requests seen.
    pub total_count: i64,
    /// Anomalies sampled.
    pub sampled_anomaly_count: i64,
}

/// The response of `GetSamplingTargets`: new quotas and rates.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetSamplingTargetsResponse {
    /// One target per reported rule.
    #[serde(default)]
    pub sampling_target_documents: Vec<SamplingTargetDocument>,
    /// When any rule was last changed, in epoch seconds; a client whose rules are older fetches them again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_rule_modification: Option<f64>,
    /// Statistics the service could not process.
    #[serde(default)]
    pub unprocessed_statistics: Vec<UnprocessedStatistics>,
    /// Adaptive sampling statistics the service could not process.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unprocessed_boost_statistics: Vec<UnprocessedStatistics>,
}

/// The quota and rate one client is to apply for one rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamplingTargetDocument {
    /// The rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    /// The rate to apply after the quota is used up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_rate: Option<f64>,
    /// Requests per second this client may sample from the reservoir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reservoir_quota: Option<i64>,
    /// When the quota expires, in epoch seconds.
    #[serde(
        rename = "ReservoirQuotaTTL",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reservoir_quota_ttl: Option<f64>,
    /// Seconds to wait before reporting statistics for this rule again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<i64>,
    /// An adaptive-sampling boost in effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_boost: Option<SamplingBoost>,
}

/// A temporarily raised rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamplingBoost {
    /// The raised rate.
    pub boost_rate: f64,
    /// When the boost ends, in epoch seconds.
    #[serde(rename = "BoostRateTTL")]
    pub boost_rate_ttl: f64,
}

/// Statistics the service rejected, and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UnprocessedStatistics {
    /// The rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_name: Option<String>,
    /// The error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The error message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Reads epoch seconds given as an integer or a float (truncated toward zero).
fn epoch_whole_seconds<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        Int(i64),
        Float(f64),
    }
    match Num::deserialize(d)? {
        Num::Int(i) => Ok(i),
        Num::Float(f) if f.is_finite() && f.abs() < 9.0e15 => Ok(f.trunc() as i64),
        Num::Float(f) => Err(serde::de::Error::custom(format_args!(
            "timestamp {f} is out of range"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> String {
        xray_sdk_testdata::read_text(&format!("fixtures/awsdocs/api/{name}"))
    }

    #[test]
    fn reads_the_documented_rules_response_and_writes_it_back() {
        let text = fixture("GetSamplingRules.response.json");
        let resp: GetSamplingRulesResponse = serde_json::from_str(&text).unwrap();
        assert_eq!(resp.sampling_rule_records.len(), 3);
        let default = &resp.sampling_rule_records[0];
        assert_eq!(
            default.sampling_rule.rule_name.as_deref(),
            Some(DEFAULT_RULE_NAME)
        );
        assert_eq!(default.sampling_rule.priority, DEFAULT_RULE_PRIORITY);
        assert_eq!(default.modified_at, Some(1_530_558_121.0));
        let polling = &resp.sampling_rule_records[2].sampling_rule;
        assert_eq!(polling.http_method, "GET");
        assert_eq!(polling.url_path, "/api/state/*");
        assert_eq!(polling.fixed_rate, 0.003);

        let back = serde_json::to_value(&resp).unwrap();
        let orig: serde_json::Value = serde_json::from_str(&text).unwrap();
        // Everything but the empty `Attributes` maps (left out when empty) survives the round trip.
        let mut orig = orig;
        for rec in orig["SamplingRuleRecords"].as_array_mut().unwrap() {
            rec["SamplingRule"]
                .as_object_mut()
                .unwrap()
                .remove("Attributes");
        }
        assert_eq!(back, orig);
    }

    #[test]
    fn reads_the_documented_targets_response() {
        let resp: GetSamplingTargetsResponse =
            serde_json::from_str(&fixture("GetSamplingTargets.response.json")).unwrap();
        let t = &resp.sampling_target_documents[1];
        assert_eq!(t.rule_name.as_deref(), Some("polling-scorekeep"));
        assert_eq!(t.reservoir_quota, Some(0));
        assert_eq!(t.reservoir_quota_ttl, Some(1_530_923_107.0));
        assert_eq!(t.interval, Some(10));
        assert_eq!(resp.last_rule_modification, Some(1_530_920_505.0));
        assert!(resp.unprocessed_statistics.is_empty());
    }

    #[test]
    fn statistics_match_the_python_sdk_wire_form() {
        let captured: serde_json::Value = serde_json::from_str(&xray_sdk_testdata::read_text(
            "fixtures/python-sdk-generated/sampling-wire-requests.json",
        ))
        .unwrap();
        let body = captured[1]["body"].as_str().unwrap();
        let req: GetSamplingTargetsRequest = serde_json::from_str(body).unwrap();
        assert_eq!(req.sampling_statistics_documents.len(), 2);
        assert_eq!(req.sampling_statistics_documents[1].borrow_count, Some(1));
        let ours = serde_json::to_value(&req).unwrap();
        let theirs: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(ours, theirs);

        let rules_body = captured[0]["body"].as_str().unwrap();
        let req: GetSamplingRulesRequest = serde_json::from_str(rules_body).unwrap();
        assert_eq!(serde_json::to_string(&req).unwrap(), "{}");
    }

    #[test]
    fn timestamps_accept_fractions_and_reject_text() {
        let doc: SamplingStatisticsDocument = serde_json::from_str(
            r#"{"RuleName":"r","ClientID":"0123456789abcdef01234567","RequestCount":1,"SampledCount":0,"Timestamp":1530923107.9}"#,
        )
        .unwrap();
        assert_eq!(doc.timestamp, 1_530_923_107);
        assert_eq!(doc.borrow_count, None);
        let err = serde_json::from_str::<SamplingStatisticsDocument>(
            r#"{"RuleName":"r","ClientID":"x","RequestCount":1,"SampledCount":0,"Timestamp":"2018-07-07T00:20:06"}"#,
        );
        assert!(err.is_err());
    }

    #[test]
    fn optional_members_are_left_out() {
        let json = serde_json::to_value(SamplingTargetDocument {
            rule_name: Some("r".into()),
            fixed_rate: Some(0.5),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(json, serde_json::json!({"RuleName": "r", "FixedRate": 0.5}));
        assert_eq!(
            serde_json::to_value(GetSamplingTargetsResponse::default()).unwrap(),
            serde_json::json!({"SamplingTargetDocuments": [], "UnprocessedStatistics": []})
        );
    }
}
