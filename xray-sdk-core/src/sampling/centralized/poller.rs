//! The state shared by a [`CentralizedSampler`](super::CentralizedSampler) and its poller thread, the two polls,
//! and the thread's loop.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde::Deserialize;
use xray_sdk_types::sampling::api::{
    GET_SAMPLING_RULES_PATH, GET_SAMPLING_TARGETS_PATH, MAX_STATISTICS_DOCUMENTS,
};
use xray_sdk_types::sampling::{
    GetSamplingRulesRequest, GetSamplingTargetsRequest, GetSamplingTargetsResponse, SamplingRule,
    SamplingRuleRecord, SamplingStatisticsDocument,
};

use super::client::Client;
use super::rule::{self, RuleState, Statistics};
use super::shared::SharedRules;
use super::{PollError, PollIntervals};
use crate::clock::SharedClock;
use crate::sampling::random::SamplingRng;
use crate::sampling::{SamplingDecision, SamplingRequest, SharedSampler, epoch_seconds};

/// The most pages of rules read in one refresh, against a daemon that never stops paginating.
const MAX_RULE_PAGES: usize = 100;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the poller thread is asked to do.
#[derive(Debug, Default)]
struct Signal {
    stop: bool,
    refresh_rules: bool,
    report: bool,
    exited: bool,
}

/// Poll bookkeeping, held while a poll runs so that polls never overlap.
#[derive(Debug, Default)]
struct PollState {
    /// Consecutive failed polls (for log levels and the retry delay of rules).
    failures: u32,
}

/// Everything a decision and a poll need.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) rules: SharedRules,
    pub(crate) clock: SharedClock,
    pub(crate) rng: SamplingRng,
    pub(crate) fallback: SharedSampler,
    pub(crate) client: Client,
    pub(crate) client_id: String,
    pub(crate) intervals: PollIntervals,
    poll: Mutex<PollState>,
    signal: Mutex<Signal>,
    wake: Condvar,
}

/// Reads a rules page leniently: a record that does not parse is skipped, not the page.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RulesPage {
    #[serde(default)]
    sampling_rule_records: Vec<serde_json::Value>,
    #[serde(default)]
    next_token: Option<String>,
}

impl Inner {
    pub(crate) fn new(
        clock: SharedClock,
        rng: SamplingRng,
        fallback: SharedSampler,
        client: Client,
        intervals: PollIntervals,
    ) -> Self {
        let id: [u8; 12] = rand::random();
        Inner {
            rules: SharedRules::default(),
            clock,
            rng,
            fallback,
            client,
            client_id: id.iter().map(|b| format!("{b:02x}")).collect(),
            intervals,
            poll: Mutex::new(PollState::default()),
            signal: Mutex::new(Signal::default()),
            wake: Condvar::new(),
        }
    }

    /// The decision: the matching rule's, or the fallback's when no fresh rule applies. Takes no lock while
    /// the rules stay the same (see [`SharedRules`]).
    #[inline]
    pub(crate) fn decide(&self, req: &SamplingRequest<'_>) -> SamplingDecision {
        let now = epoch_seconds(&*self.clock);
        let decision = self.rules.with(|cache| {
            cache
                .matching(req, now)
                .map(|rule| rule.decide(now, &self.rng))
        });
        decision.unwrap_or_else(|| self.fallback.should_sample(req))
    }

    /// Fetches every page of rules and, if any rule is usable, makes them the rules in effect.
    pub(crate) fn refresh_rules(&self) -> Result<usize, PollError> {
        let mut state = lock(&self.poll);
        let result = self.fetch_rules();
        note(&mut state, "GetSamplingRules", &result);
        let rules = result?;
        if rules.is_empty() {
            // As the other SDKs do: an empty answer leaves the rules in effect (they expire in time).
            log::debug!("X-Ray sampling: the daemon returned no usable sampling rule");
            return Ok(0);
        }
        let now = epoch_seconds(&*self.clock);
        let new = self.rules.load().with_rules(&rules, now);
        let count = new.rules.len();
        self.rules.replace(new);
        log::debug!("X-Ray sampling: {count} rules in effect");
        Ok(count)
    }

    fn fetch_rules(&self) -> Result<Vec<SamplingRule>, PollError> {
        let mut rules = Vec::new();
        let mut request = GetSamplingRulesRequest::default();
        for _ in 0..MAX_RULE_PAGES {
            let body = serde_json::to_vec(&request).map_err(|e| PollError::body("request", &e))?;
            let resp = self.client.post(GET_SAMPLING_RULES_PATH, &body)?;
            let page: RulesPage = serde_json::from_slice(&resp)
                .map_err(|e| PollError::body("GetSamplingRules", &e))?;
            for record in page.sampling_rule_records {
                match serde_json::from_value::<SamplingRuleRecord>(record) {
                    Ok(r) => match rule::check(&r.sampling_rule) {
                        Ok(()) => rules.push(r.sampling_rule),
                        Err(why) => log::debug!(
                            "X-Ray sampling: rule {:?} skipped: {why:?}",
                            r.sampling_rule.rule_name
                        ),
                    },
                    Err(e) => log::debug!("X-Ray sampling: malformed rule skipped: {e}"),
                }
            }
            match page.next_token.filter(|t| !t.is_empty()) {
                Some(token) if request.next_token.as_deref() != Some(token.as_str()) => {
                    request.next_token = Some(token);
                }
                _ => return Ok(rules),
            }
        }
        log::warn!("X-Ray sampling: more than {MAX_RULE_PAGES} pages of rules; using those read");
        Ok(rules)
    }

    /// One target-poll cycle: reports the statistics of the rules that are due and applies the targets.
    /// Returns whether the service's rules changed since they were fetched.
    pub(crate) fn report(&self) -> Result<bool, PollError> {
        let mut state = lock(&self.poll);
        let result = self.report_locked();
        note(&mut state, "GetSamplingTargets", &result);
        result
    }

    fn report_locked(&self) -> Result<bool, PollError> {
        let due: Vec<(Arc<str>, Arc<RuleState>)> = self
            .rules
            .load()
            .rules
            .iter()
            .filter(|r| r.state.has_requests() && r.state.time_to_report())
            .map(|r| (Arc::clone(&r.name), Arc::clone(&r.state)))
            .collect();
        if due.is_empty() {
            return Ok(false);
        }
        let now = epoch_seconds(&*self.clock);
        let taken: Vec<Statistics> = due.iter().map(|(_, s)| s.take_statistics()).collect();
        let mut changed = false;
        let mut outcome = Ok(());
        for (i, batch) in due.chunks(MAX_STATISTICS_DOCUMENTS).enumerate() {
            let start = i * MAX_STATISTICS_DOCUMENTS;
            let stats = &taken[start..start + batch.len()];
            if outcome.is_err() {
                restore(batch, stats);
                continue;
            }
            match self.report_batch(batch, stats, now) {
                Ok(c) => changed |= c,
                Err(e) => {
                    restore(batch, stats);
                    outcome = Err(e);
                }
            }
        }
        outcome.map(|()| changed)
    }

    fn report_batch(
        &self,
        batch: &[(Arc<str>, Arc<RuleState>)],
        stats: &[Statistics],
        now: i64,
    ) -> Result<bool, PollError> {
        let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        let request = GetSamplingTargetsRequest {
            sampling_statistics_documents: batch
                .iter()
                .zip(stats)
                .map(|((name, _), s)| SamplingStatisticsDocument {
                    rule_name: name.to_string(),
                    client_id: self.client_id.clone(),
                    request_count: count(s.requests),
                    borrow_count: Some(count(s.borrows)),
                    sampled_count: count(s.sampled),
                    timestamp: now,
                })
                .collect(),
            sampling_boost_statistics_documents: Vec::new(),
        };
        let body = serde_json::to_vec(&request).map_err(|e| PollError::body("request", &e))?;
        let resp = self.client.post(GET_SAMPLING_TARGETS_PATH, &body)?;
        let resp: GetSamplingTargetsResponse =
            serde_json::from_slice(&resp).map_err(|e| PollError::body("GetSamplingTargets", &e))?;
        let secs = |t: f64| t.is_finite().then(|| t.trunc() as i64);
        let cache = self.rules.load();
        for target in &resp.sampling_target_documents {
            let Some(rule) = target.rule_name.as_deref().and_then(|n| cache.get(n)) else {
                continue;
            };
            rule.state.load_target(
                target.fixed_rate,
                target.reservoir_quota,
                target.reservoir_quota_ttl.and_then(secs),
                target.interval,
            );
        }
        for u in &resp.unprocessed_statistics {
            log::debug!(
                "X-Ray sampling: statistics of rule {:?} not processed: {:?} {:?}",
                u.rule_name,
                u.error_code,
                u.message
            );
        }
        let modified = resp.last_rule_modification.and_then(secs);
        Ok(match (modified, cache.fetched_at) {
            (Some(m), Some(fetched)) => m > fetched,
            (Some(_), None) => true,
            (None, _) => false,
        })
    }

    /// Asks the thread to stop.
    pub(crate) fn stop(&self) {
        lock(&self.signal).stop = true;
        self.wake.notify_all();
    }

    /// Asks the thread to poll rules and targets now.
    pub(crate) fn poke(&self) {
        {
            let mut s = lock(&self.signal);
            s.refresh_rules = true;
            s.report = true;
        }
        self.wake.notify_all();
    }

    /// Waits up to `timeout` for the thread to exit; whether it did.
    pub(crate) fn wait_exited(&self, timeout: Duration) -> bool {
        let guard = lock(&self.signal);
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, timeout, |s| !s.exited)
            .unwrap_or_else(PoisonError::into_inner);
        guard.exited
    }

    fn jitter(&self, max: Duration) -> Duration {
        max.mul_f64(self.rng.next_f64())
    }

    fn failures(&self) -> u32 {
        lock(&self.poll).failures
    }
}

fn restore(batch: &[(Arc<str>, Arc<RuleState>)], stats: &[Statistics]) {
    for ((_, state), s) in batch.iter().zip(stats) {
        state.restore_statistics(*s);
    }
}

/// Logs a poll's outcome: the first failure after a success at `warn`, repeated failures at `debug`.
fn note<T>(state: &mut PollState, operation: &str, result: &Result<T, PollError>) {
    match result {
        Ok(_) => {
            if state.failures > 0 {
                log::info!("X-Ray sampling: {operation} succeeded again");
            }
            state.failures = 0;
        }
        Err(e) => {
            if state.failures == 0 {
                log::warn!(
                    "X-Ray sampling: {operation} failed: {e}; using the fallback rules until the daemon answers"
                );
            } else {
                log::debug!("X-Ray sampling: {operation} failed again: {e}");
            }
            state.failures = state.failures.saturating_add(1);
        }
    }
}

/// Sets `exited` when the thread ends, however it ends.
struct ExitGuard<'a>(&'a Inner);

impl Drop for ExitGuard<'_> {
    fn drop(&mut self) {
        lock(&self.0.signal).exited = true;
        self.0.wake.notify_all();
    }
}

/// The poller thread: rules at once and then every `rules` interval (sooner after a failure), targets every
/// `targets` interval, each with jitter; wakes early for [`Inner::poke`] and [`Inner::stop`].
pub(crate) fn run(inner: Arc<Inner>) {
    let _guard = ExitGuard(&inner);
    let iv = inner.intervals;
    let now = || inner.clock.monotonic();
    let mut next_rules = now();
    let mut next_targets = now() + iv.targets + inner.jitter(iv.targets_jitter);
    loop {
        {
            let mut signal = lock(&inner.signal);
            loop {
                if signal.stop {
                    return;
                }
                let t = now();
                if std::mem::take(&mut signal.refresh_rules) {
                    next_rules = t;
                }
                if std::mem::take(&mut signal.report) {
                    next_targets = t;
                }
                let due = next_rules.min(next_targets);
                if t >= due {
                    break;
                }
                signal = inner
                    .wake
                    .wait_timeout(signal, due - t)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
        }
        let t = now();
        if t >= next_targets {
            if let Ok(true) = inner.report() {
                log::debug!("X-Ray sampling: the rules changed; fetching them again");
                next_rules = t;
            }
            next_targets = now() + iv.targets + inner.jitter(iv.targets_jitter);
        }
        if now() >= next_rules {
            let delay = match inner.refresh_rules() {
                Ok(_) => iv.rules,
                // The daemon may start after the application: retry sooner, backing off up to the interval.
                Err(_) => retry_delay(iv.targets, inner.failures()).min(iv.rules),
            };
            next_rules = next_instant(now(), delay + inner.jitter(iv.rules_jitter));
        }
    }
}

fn retry_delay(base: Duration, failures: u32) -> Duration {
    base.saturating_mul(1 << failures.saturating_sub(1).min(8))
}

fn next_instant(from: Instant, delay: Duration) -> Instant {
    from.checked_add(delay)
        .unwrap_or(from + Duration::from_secs(86_400))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_retries_back_off() {
        let base = Duration::from_secs(10);
        assert_eq!(retry_delay(base, 1), base);
        assert_eq!(retry_delay(base, 2), base * 2);
        assert_eq!(retry_delay(base, 4), base * 8);
        assert_eq!(retry_delay(base, 100), base * 256);
    }
}
