//! The local sampler: rules from a rules file (or the built-in default), applied without any network.
//!
//! Each rule samples up to `fixed_target` requests per wall-clock second (its reservoir), then the share `rate`
//! of the others. The first custom rule, in file order, whose host, method and path match the request decides;
//! otherwise the default rule does. A request field that is missing or empty matches any pattern, so a request
//! without HTTP details (a segment begun by hand) is decided by the first custom rule, as in the Python SDK.
//!
//! ```
//! use xray_sdk_core::sampling::{LocalSampler, Sampler, SamplingRequest};
//! use xray_sdk_types::sampling::LocalRules;
//!
//! let rules = LocalRules::from_json(r#"{"version": 2, "default": {"fixed_target": 0, "rate": 0},
//!     "rules": [{"host": "*", "http_method": "GET", "url_path": "/health", "fixed_target": 0, "rate": 1}]}"#)?;
//! let sampler = LocalSampler::new(rules);
//! let health = SamplingRequest { method: Some("GET"), url_path: Some("/health"), ..Default::default() };
//! assert!(sampler.should_sample(&health).sampled);
//! let other = SamplingRequest { method: Some("POST"), url_path: Some("/orders"), ..Default::default() };
//! assert!(!sampler.should_sample(&other).sampled);
//! # Ok::<(), xray_sdk_types::sampling::LocalRulesError>(())
//! ```

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use xray_sdk_types::sampling::{LocalRules, LocalRulesFileError};

use super::pattern::{Fields, Pattern};
use super::random::SamplingRng;
use super::reservoir::PerSecondCounter;
use super::{Sampler, SamplingDecision, SamplingRequest, epoch_seconds};
use crate::clock::{SharedClock, SystemClock};

/// Reads and checks a local rules file.
///
/// # Errors
/// [`LocalRulesFileError`] naming the file: it cannot be read, or what is wrong in it and where.
pub fn load_rules_file(path: impl AsRef<Path>) -> Result<LocalRules, LocalRulesFileError> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|source| LocalRulesFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    LocalRules::from_file_contents(path, &bytes)
}

struct PreparedRule {
    host: Pattern,
    method: Pattern,
    path: Pattern,
    fixed_target: u64,
    rate: f64,
    reservoir: PerSecondCounter,
}

impl PreparedRule {
    fn new(host: &str, method: &str, path: &str, fixed_target: u64, rate: f64) -> Self {
        PreparedRule {
            host: Pattern::new(host),
            method: Pattern::new(method),
            path: Pattern::new(path),
            fixed_target,
            rate,
            reservoir: PerSecondCounter::default(),
        }
    }

    /// Method first, then path, then host: the cheapest tests that tell rules apart come first.
    /// The path first: it is what rules most often differ by.
    #[inline]
    fn applies(&self, f: &Fields<'_>) -> bool {
        self.path.matches_field(&f.path)
            && self.method.matches_field(&f.method)
            && self.host.matches_field(&f.host)
    }

    #[inline]
    fn sample(&self, now: i64, rng: &SamplingRng) -> bool {
        self.reservoir.try_take(now, self.fixed_target) || rng.next_f64() < self.rate
    }
}

/// Samples by local rules. Cheap to call from many threads: a decision takes no lock.
pub struct LocalSampler {
    source: LocalRules,
    rules: Box<[PreparedRule]>,
    default: PreparedRule,
    clock: SharedClock,
    rng: SamplingRng,
}

impl fmt::Debug for LocalSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSampler")
            .field("rules", &self.source)
            .field("clock", &self.clock)
            .finish_non_exhaustive()
    }
}

impl Default for LocalSampler {
    /// The built-in rules: one request per second, then 5 %.
    fn default() -> Self {
        LocalSampler::new(LocalRules::default())
    }
}

impl LocalSampler {
    /// A sampler for `rules`, on the system clock, with random draws seeded from the operating system.
    pub fn new(rules: LocalRules) -> Self {
        LocalSampler::builder(rules).build()
    }

    /// A sampler for the rules file at `path`.
    ///
    /// # Errors
    /// [`LocalRulesFileError`] naming the file and what is wrong.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, LocalRulesFileError> {
        Ok(LocalSampler::new(load_rules_file(path)?))
    }

    /// A builder, to choose the clock and the random seed.
    pub fn builder(rules: LocalRules) -> LocalSamplerBuilder {
        LocalSamplerBuilder {
            rules,
            clock: None,
            seed: None,
        }
    }

    /// The rules applied.
    pub fn rules(&self) -> &LocalRules {
        &self.source
    }

    /// The index (in [`LocalRules::rules`]) of the custom rule that applies to `request`, or `None` when the
    /// default rule does.
    pub fn matching_rule(&self, request: &SamplingRequest<'_>) -> Option<usize> {
        let fields = Fields::new(request);
        self.rules.iter().position(|r| r.applies(&fields))
    }
}

impl Sampler for LocalSampler {
    fn should_sample(&self, request: &SamplingRequest<'_>) -> SamplingDecision {
        let rule = if self.rules.is_empty() {
            &self.default
        } else {
            let fields = Fields::new(request);
            self.rules
                .iter()
                .find(|r| r.applies(&fields))
                .unwrap_or(&self.default)
        };
        SamplingDecision {
            sampled: rule.sample(epoch_seconds(&*self.clock), &self.rng),
            rule_name: None,
        }
    }
}

/// Builds a [`LocalSampler`].
#[derive(Debug)]
#[must_use]
pub struct LocalSamplerBuilder {
    rules: LocalRules,
    clock: Option<SharedClock>,
    seed: Option<u64>,
}

impl LocalSamplerBuilder {
    /// The clock whose whole seconds delimit the reservoirs (default: the system clock).
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// A seed for the random draws, so that decisions by rate repeat from run to run (default: random).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The sampler.
    pub fn build(self) -> LocalSampler {
        let rules = self
            .rules
            .rules()
            .iter()
            .map(|r| {
                PreparedRule::new(&r.host, &r.http_method, &r.url_path, r.fixed_target, r.rate)
            })
            .collect();
        let d = self.rules.default_rule();
        LocalSampler {
            default: PreparedRule::new("*", "*", "*", d.fixed_target, d.rate),
            rules,
            source: self.rules,
            clock: self.clock.unwrap_or_else(|| Arc::new(SystemClock)),
            rng: SamplingRng::new(self.seed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn default_rule_takes_one_per_second_then_five_percent() {
        let clock = Arc::new(ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_000)));
        let sampler = LocalSampler::builder(LocalRules::default())
            .clock(clock.clone())
            .seed(1)
            .build();
        let req = SamplingRequest::default();
        let mut sampled = 0;
        for second in 0..200 {
            let first = sampler.should_sample(&req);
            assert!(
                first.sampled,
                "second {second}: the reservoir takes the first"
            );
            assert_eq!(first.rule_name, None);
            for _ in 0..99 {
                sampled += usize::from(sampler.should_sample(&req).sampled);
            }
            clock.advance(Duration::from_secs(1));
        }
        let share = sampled as f64 / (200.0 * 99.0);
        assert!((0.04..0.06).contains(&share), "share {share}");
    }

    #[test]
    fn missing_file_is_named() {
        let err = LocalSampler::from_file("/nonexistent/rules.json").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("cannot read the sampling rules file /nonexistent/rules.json:"),
            "{err}"
        );
    }
}
