//! One centralized sampling rule: its matchers, and the state that survives rule refreshes (reservoir quota,
//! rate, statistics).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use xray_sdk_types::sampling::SamplingRule;
use xray_sdk_types::sampling::api::DEFAULT_RULE_NAME;

use crate::sampling::SamplingDecision;
use crate::sampling::pattern::{Fields, Pattern};
use crate::sampling::random::SamplingRng;
use crate::sampling::reservoir::PerSecondCounter;

/// Why a rule from the service is not used. The other SDKs skip the same rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// No `RuleName`.
    NoName,
    /// `Version` is not 1.
    Version,
    /// `ResourceARN` is not `*`: the SDK cannot know its resource's ARN reliably.
    ResourceArn,
    /// `ServiceType` is empty.
    ServiceType,
    /// `Attributes` are set: segment attributes are not known when the decision is made.
    Attributes,
}

/// Whether a rule from `GetSamplingRules` is used: `Version` 1, `ResourceARN` `*`, a `ServiceType`, no
/// `Attributes`, and a name.
pub(crate) fn check(rule: &SamplingRule) -> Result<(), Skip> {
    match rule.rule_name.as_deref() {
        None | Some("") => Err(Skip::NoName),
        _ if rule.version != 1 => Err(Skip::Version),
        _ if rule.resource_arn != "*" => Err(Skip::ResourceArn),
        _ if rule.service_type.is_empty() => Err(Skip::ServiceType),
        _ if !rule.attributes.is_empty() => Err(Skip::Attributes),
        _ => Ok(()),
    }
}

/// What the reservoir says about one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reservoir {
    /// Within the quota: sampled, counted as sampled.
    Take,
    /// No quota known: the one borrowed request of this second, counted as borrowed.
    Borrow,
    /// The quota or the borrowing allowance of this second is used up: the rate decides.
    No,
    /// No quota and no borrowing (`ReservoirSize` 0): the rate decides.
    None,
}

/// How often a rule's statistics are reported, in target-poll cycles.
#[derive(Debug)]
struct ReportCadence {
    every: f64,
    elapsed: u64,
}

/// The state of a rule that outlives a refresh of the rules.
#[derive(Debug)]
pub(crate) struct RuleState {
    rate: AtomicU64,
    /// The quota from the last target, or -1.
    quota: AtomicI64,
    /// When the quota expires (epoch seconds), or `i64::MIN`.
    quota_ttl: AtomicI64,
    taken: PerSecondCounter,
    borrowed: PerSecondCounter,
    requests: AtomicU64,
    sampled: AtomicU64,
    borrows: AtomicU64,
    cadence: Mutex<ReportCadence>,
}

/// Counts since the last report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Statistics {
    pub(crate) requests: u64,
    pub(crate) sampled: u64,
    pub(crate) borrows: u64,
}

impl RuleState {
    fn new(rate: f64) -> Self {
        RuleState {
            rate: AtomicU64::new(rate.to_bits()),
            quota: AtomicI64::new(-1),
            quota_ttl: AtomicI64::new(i64::MIN),
            taken: PerSecondCounter::default(),
            borrowed: PerSecondCounter::default(),
            requests: AtomicU64::new(0),
            sampled: AtomicU64::new(0),
            borrows: AtomicU64::new(0),
            cadence: Mutex::new(ReportCadence {
                every: 1.0,
                elapsed: 0,
            }),
        }
    }

    #[inline]
    pub(crate) fn rate(&self) -> f64 {
        f64::from_bits(self.rate.load(Ordering::Relaxed))
    }

    fn set_rate(&self, rate: f64) {
        self.rate.store(rate.to_bits(), Ordering::Relaxed);
    }

    /// The reservoir's answer for one request at `now` (epoch seconds).
    #[inline]
    pub(crate) fn borrow_or_take(&self, now: i64, can_borrow: bool) -> Reservoir {
        let quota = self.quota.load(Ordering::Relaxed);
        let ttl = self.quota_ttl.load(Ordering::Relaxed);
        if quota >= 0 && ttl >= now {
            if self.taken.try_take(now, quota as u64) {
                Reservoir::Take
            } else {
                Reservoir::No
            }
        } else if can_borrow {
            if self.borrowed.try_take(now, 1) {
                Reservoir::Borrow
            } else {
                Reservoir::No
            }
        } else {
            Reservoir::None
        }
    }

    /// Applies a target from `GetSamplingTargets`; a missing value keeps the current one.
    pub(crate) fn load_target(
        &self,
        rate: Option<f64>,
        quota: Option<i64>,
        ttl: Option<i64>,
        interval: Option<i64>,
    ) {
        if let Some(rate) = rate.filter(|r| r.is_finite()) {
            self.set_rate(rate);
        }
        if let Some(quota) = quota {
            self.quota.store(quota, Ordering::Relaxed);
        }
        if let Some(ttl) = ttl {
            self.quota_ttl.store(ttl, Ordering::Relaxed);
        }
        if let Some(interval) = interval {
            let mut c = self.cadence.lock().unwrap_or_else(|e| e.into_inner());
            c.every = interval as f64 / 10.0;
        }
    }

    /// Called once per target-poll cycle: whether this rule's statistics are due (every `Interval / 10`
    /// cycles; every cycle until a target says otherwise).
    pub(crate) fn time_to_report(&self) -> bool {
        let mut c = self.cadence.lock().unwrap_or_else(|e| e.into_inner());
        if (c.elapsed + 1) as f64 >= c.every {
            c.elapsed = 0;
            true
        } else {
            c.elapsed += 1;
            false
        }
    }

    /// Whether a request matched the rule since the last report.
    pub(crate) fn has_requests(&self) -> bool {
        self.requests.load(Ordering::Relaxed) > 0
    }

    /// Takes the counts, resetting them.
    pub(crate) fn take_statistics(&self) -> Statistics {
        Statistics {
            requests: self.requests.swap(0, Ordering::Relaxed),
            sampled: self.sampled.swap(0, Ordering::Relaxed),
            borrows: self.borrows.swap(0, Ordering::Relaxed),
        }
    }

    /// Puts back counts whose report failed, so that the next report includes them.
    pub(crate) fn restore_statistics(&self, s: Statistics) {
        self.requests.fetch_add(s.requests, Ordering::Relaxed);
        self.sampled.fetch_add(s.sampled, Ordering::Relaxed);
        self.borrows.fetch_add(s.borrows, Ordering::Relaxed);
    }
}

/// A rule in effect.
#[derive(Debug)]
pub(crate) struct Rule {
    pub(crate) name: Arc<str>,
    pub(crate) priority: i64,
    pub(crate) is_default: bool,
    can_borrow: bool,
    service: Pattern,
    service_type: Pattern,
    host: Pattern,
    method: Pattern,
    path: Pattern,
    resource_arn: Pattern,
    pub(crate) state: Arc<RuleState>,
}

impl Rule {
    /// A rule from the service (already [`check`]ed), keeping `previous` state of the rule of the same name.
    pub(crate) fn new(rule: &SamplingRule, previous: Option<&Arc<RuleState>>) -> Self {
        let name: Arc<str> = rule.rule_name.as_deref().unwrap_or_default().into();
        let state = match previous {
            Some(state) => {
                state.set_rate(rule.fixed_rate);
                Arc::clone(state)
            }
            None => Arc::new(RuleState::new(rule.fixed_rate)),
        };
        Rule {
            is_default: &*name == DEFAULT_RULE_NAME,
            name,
            priority: rule.priority,
            can_borrow: rule.reservoir_size > 0,
            service: Pattern::new(&rule.service_name),
            service_type: Pattern::new(&rule.service_type),
            host: Pattern::new(&rule.host),
            method: Pattern::new(&rule.http_method),
            path: Pattern::new(&rule.url_path),
            resource_arn: Pattern::new(&rule.resource_arn),
            state,
        }
    }

    /// The [`Pattern::literal_key`] of the service name pattern.
    pub(crate) fn service_key(&self) -> u64 {
        self.service.literal_key()
    }

    /// Whether every field the request has matches (the service name first: it tells rules apart most often).
    #[inline]
    pub(crate) fn matches(&self, f: &Fields<'_>) -> bool {
        self.service.matches_field(&f.service)
            && self.method.matches_field(&f.method)
            && self.path.matches_field(&f.path)
            && self.host.matches_field(&f.host)
            && self.service_type.matches_field(&f.service_type)
            && self.resource_arn.matches_field(&f.resource_arn)
    }

    /// Decides for a request that matched, counting it.
    #[inline]
    pub(crate) fn decide(&self, now: i64, rng: &SamplingRng) -> SamplingDecision {
        let s = &*self.state;
        s.requests.fetch_add(1, Ordering::Relaxed);
        let sampled = match s.borrow_or_take(now, self.can_borrow) {
            Reservoir::Take => {
                s.sampled.fetch_add(1, Ordering::Relaxed);
                true
            }
            Reservoir::Borrow => {
                s.borrows.fetch_add(1, Ordering::Relaxed);
                true
            }
            Reservoir::No | Reservoir::None => {
                // Strictly below: FixedRate 0 never samples, FixedRate 1 always does.
                let hit = rng.next_f64() < s.rate();
                if hit {
                    s.sampled.fetch_add(1, Ordering::Relaxed);
                }
                hit
            }
        };
        SamplingDecision {
            sampled,
            rule_name: Some(Arc::clone(&self.name)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn vectors() -> Value {
        let text = xray_sdk_testdata::read_text("python-sdk-vectors.json");
        serde_json::from_str(&text).unwrap()
    }

    #[test]
    fn reservoir_vectors() {
        let v = vectors();
        let list = v["centralized_reservoir"]["cases"].as_array().unwrap();
        let now0 = 1_700_000_000_i64;
        let mut steps = 0;
        for case in list {
            let label = case["label"].as_str().unwrap();
            let state = RuleState::new(0.0);
            let ttl = case["ttl_offset"].as_i64().map(|o| now0 + o);
            state.load_target(None, case["quota"].as_i64(), ttl, None);
            let can_borrow = case["can_borrow"].as_bool().unwrap();
            for step in case["sequence"].as_array().unwrap() {
                let now = now0 + step["now_offset"].as_i64().unwrap();
                let expected = match step["decision"].as_str() {
                    Some("take") => Reservoir::Take,
                    Some("borrow") => Reservoir::Borrow,
                    Some("no") => Reservoir::No,
                    None => Reservoir::None,
                    Some(other) => panic!("{label}: unknown decision {other}"),
                };
                assert_eq!(
                    state.borrow_or_take(now, can_borrow),
                    expected,
                    "{label} at {now}"
                );
                steps += 1;
            }
        }
        assert_eq!(list.len(), 6);
        assert!(steps >= 20);
    }

    #[test]
    fn report_interval_vectors() {
        let v = vectors();
        let list = v["centralized_report_interval"]["cases"]
            .as_array()
            .unwrap();
        for case in list {
            let state = RuleState::new(0.0);
            state.load_target(None, None, None, case["Interval"].as_i64());
            let got: Vec<bool> = case["time_to_report_sequence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|_| state.time_to_report())
                .collect();
            let expected: Vec<bool> = case["time_to_report_sequence"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b.as_bool().unwrap())
                .collect();
            assert_eq!(got, expected, "Interval {}", case["Interval"]);
        }
        assert_eq!(list.len(), 5);
    }

    #[test]
    fn decisions_count_as_the_service_expects() {
        let rule: SamplingRule = serde_json::from_value(serde_json::json!({
            "RuleName": "r", "ResourceARN": "*", "Priority": 1, "FixedRate": 1.0, "ReservoirSize": 1,
            "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*", "URLPath": "*", "Version": 1
        }))
        .unwrap();
        let rule = Rule::new(&rule, None);
        let rng = SamplingRng::seeded(1);
        for _ in 0..3 {
            let d = rule.decide(10, &rng);
            assert!(d.sampled);
            assert_eq!(d.rule_name.as_deref(), Some("r"));
        }
        // One borrowed (BorrowCount only), two by the rate of 1.
        assert_eq!(
            rule.state.take_statistics(),
            Statistics {
                requests: 3,
                sampled: 2,
                borrows: 1
            }
        );
        assert_eq!(rule.state.take_statistics(), Statistics::default());
    }
}
