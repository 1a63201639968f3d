//! The rules in effect, sorted for matching, with the time they were fetched.

use std::collections::HashMap;
use std::sync::Arc;

use xray_sdk_types::sampling::SamplingRule;

use super::rule::{Rule, RuleState};
use crate::sampling::SamplingRequest;
use crate::sampling::pattern::{Fields, Text};

/// Rules older than this (seconds since they were fetched) are not used: decisions fall back to the local
/// sampler until fresh rules arrive.
pub(crate) const RULES_TTL_SECS: i64 = 3600;

/// A snapshot of the rules. Replaced whole by the poller; read by decisions.
#[derive(Debug, Default)]
pub(crate) struct RuleCache {
    /// Sorted by priority, then name.
    pub(crate) rules: Vec<Rule>,
    /// For each rule, the key of its service name pattern when that is a literal, else 0: a request whose
    /// (ASCII) service name has another key cannot match the rule, which is then passed over without being
    /// read.
    service_keys: Vec<u64>,
    /// When the rules were fetched (epoch seconds); `None` until the first fetch.
    pub(crate) fetched_at: Option<i64>,
}

impl RuleCache {
    /// The cache with `rules` (already checked), fetched at `now`. Rules whose name is already known keep
    /// their reservoir, quota and statistics; the others start afresh; rules no longer listed are dropped.
    pub(crate) fn with_rules(&self, rules: &[SamplingRule], now: i64) -> RuleCache {
        let previous: HashMap<&str, &Arc<RuleState>> =
            self.rules.iter().map(|r| (&*r.name, &r.state)).collect();
        let mut rules: Vec<Rule> = rules
            .iter()
            .map(|r| {
                let prev = r
                    .rule_name
                    .as_deref()
                    .and_then(|n| previous.get(n).copied());
                Rule::new(r, prev)
            })
            .collect();
        rules.sort_by(|a, b| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| a.name.cmp(&b.name))
        });
        // Names are unique in an account; should a daemon repeat one, the first in evaluation order wins.
        let mut seen = std::collections::HashSet::new();
        rules.retain(|r| seen.insert(Arc::clone(&r.name)));
        RuleCache::new(rules, Some(now))
    }

    /// The cache with `rules`, already sorted.
    pub(crate) fn new(rules: Vec<Rule>, fetched_at: Option<i64>) -> RuleCache {
        RuleCache {
            service_keys: rules.iter().map(Rule::service_key).collect(),
            rules,
            fetched_at,
        }
    }

    /// Whether the rules are missing or too old at `now`.
    pub(crate) fn is_expired(&self, now: i64) -> bool {
        self.fetched_at
            .is_none_or(|t| now > t.saturating_add(RULES_TTL_SECS))
    }

    /// The rule that decides for `req` at `now`: the first, by priority then name, that matches, or `Default`
    /// if it comes first; `None` when the rules expired or none applies.
    #[inline]
    pub(crate) fn matching(&self, req: &SamplingRequest<'_>, now: i64) -> Option<&Rule> {
        if self.is_expired(now) {
            return None;
        }
        let fields = Fields::new(req);
        let service = fields.service.as_ref().and_then(Text::literal_key);
        self.rules
            .iter()
            .zip(&self.service_keys)
            .filter(|&(_, &key)| key == 0 || service.is_none_or(|s| s == key))
            .map(|(rule, _)| rule)
            .find(|r| r.is_default || r.matches(&fields))
    }

    /// The rule named `name`.
    pub(crate) fn get(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| &*r.name == name)
    }
}
