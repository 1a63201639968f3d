//! The sampling API on the daemon's TCP address: the rules of a local rules file, and working reservoir targets.
//!
//! The X-Ray daemon forwards `POST /GetSamplingRules` and `POST /SamplingTargets` to the X-Ray service; this
//! daemon answers them itself, so that an SDK's centralized sampler runs for real on a developer's machine:
//!
//! - **Rules** ([`rules`]) come from a local rules file (versions 1 and 2 of the SDKs' format, given with `xray
//!   daemon --sampling-rules FILE`), else the SDKs' default rule (1 request per second, then 5 %). Custom rule `i`
//!   is served as `local-{i}` with priority `i`, the default as `Default` with priority 10000 (see
//!   [`LocalRules::to_sampling_rules`]). Pages hold at most [`rules::PAGE_SIZE`] rules, chained by `NextToken`.
//! - **Targets** ([`targets`]): for each rule, the rule's reservoir (`ReservoirSize` requests per second) is split
//!   evenly among the clients that reported statistics for it within [`targets::ACTIVE_WINDOW`] seconds, so that
//!   the quotas handed out add up to the reservoir. Each quota lives for [`targets::QUOTA_TTL`] seconds, a little
//!   longer than the reporting [`targets::INTERVAL`]. The statistics clients report are kept per rule and per client
//!   for `GET /api/sampling`.
//! - **Errors**: a body that is not JSON, or that breaks the API model's constraints (`ClientID` of 24 characters,
//!   `RuleName` of 1 to 32, at most 25 statistics documents, counts ≥ 0, …), gets a 400 with
//!   `{"__type": "InvalidRequestException", "Message": …}`, as the X-Ray service answers.
//!
//! `LastRuleModification`, `CreatedAt` and `ModifiedAt` are the time the rules were loaded, in whole seconds: the
//! SDKs compare it with the whole second of their last fetch, and a fraction would make them fetch the rules again
//! after every report.

pub mod proxy;
pub mod routes;
pub mod rules;
pub mod targets;

use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::Serialize;
use xray_sdk_types::sampling::{
    GetSamplingRulesRequest, GetSamplingRulesResponse, GetSamplingTargetsRequest,
    GetSamplingTargetsResponse, LocalRules, LocalRulesFileError,
};

use rules::ServedRules;
use targets::{Book, RuleReport};

pub use proxy::XrayProxy;
pub use routes::router;

/// A request the API model refuses: answered with a 400 `InvalidRequestException`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidRequest(pub String);

/// Reads and checks a local sampling rules file (versions 1 and 2).
///
/// # Errors
/// [`LocalRulesFileError`], naming the file and saying what is wrong.
pub fn load_rules_file(path: &Path) -> Result<LocalRules, LocalRulesFileError> {
    let bytes = std::fs::read(path).map_err(|source| LocalRulesFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    LocalRules::from_file_contents(path, &bytes)
}

/// The daemon's sampling service: the rules it serves and the reservoirs it shares out. Shared by the TCP
/// sampling API and `GET /api/sampling`.
#[derive(Debug)]
pub struct SamplingService {
    rules: ServedRules,
    source: Option<PathBuf>,
    book: Mutex<Book>,
}

impl SamplingService {
    /// Serves `rules` (loaded from `source`, if a file), as modified at `loaded_at` (epoch seconds).
    pub fn new(rules: &LocalRules, source: Option<PathBuf>, loaded_at: f64) -> SamplingService {
        let served = ServedRules::new(rules.to_sampling_rules(), loaded_at);
        let book = Book::new(served.rules());
        SamplingService {
            rules: served,
            source,
            book: Mutex::new(book),
        }
    }

    /// Serves the rules of the file at `path`, or the default rule when `path` is `None`.
    ///
    /// # Errors
    /// [`LocalRulesFileError`] when the file cannot be read or is not a valid rules file.
    pub fn from_file(path: Option<&Path>) -> Result<SamplingService, LocalRulesFileError> {
        let rules = match path {
            Some(path) => load_rules_file(path)?,
            None => LocalRules::default(),
        };
        Ok(SamplingService::new(
            &rules,
            path.map(Path::to_owned),
            xray_sdk_types::time::now(),
        ))
    }

    /// One page of `GetSamplingRules`.
    ///
    /// # Errors
    /// [`InvalidRequest`] for a `NextToken` this daemon did not hand out.
    pub fn get_rules(
        &self,
        request: &GetSamplingRulesRequest,
    ) -> Result<GetSamplingRulesResponse, InvalidRequest> {
        self.rules.page(request.next_token.as_deref())
    }

    /// `GetSamplingTargets` at `now` (epoch seconds): records the statistics and hands out quotas.
    ///
    /// # Errors
    /// [`InvalidRequest`] when the request breaks the API model's constraints; nothing is recorded then.
    pub fn get_targets(
        &self,
        request: &GetSamplingTargetsRequest,
        now: f64,
    ) -> Result<GetSamplingTargetsResponse, InvalidRequest> {
        targets::validate(request)?;
        let mut response = self.book().report(&self.rules, request, now);
        response.last_rule_modification = Some(self.rules.modified_at());
        Ok(response)
    }

    /// The rules, with the statistics and quotas of their clients at `now`, for `GET /api/sampling`.
    pub fn snapshot(&self, now: f64) -> SamplingSnapshot {
        SamplingSnapshot {
            answered_by_xray: false,
            source: self.source.as_ref().map(|p| p.display().to_string()),
            last_rule_modification: self.rules.modified_at(),
            rules: self.book().snapshot(self.rules.rules(), now),
        }
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The body of `GET /api/sampling`.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct SamplingSnapshot {
    /// Whether the sampling API passes requests on to AWS X-Ray (while forwarding): the rules below are then
    /// the local ones, not served, and no client reports to them.
    #[serde(default)]
    pub answered_by_xray: bool,
    /// The rules file served, or `None` for the built-in default rule.
    pub source: Option<String>,
    /// When the rules were loaded, epoch seconds.
    pub last_rule_modification: f64,
    /// Every rule in evaluation order, with what its clients reported.
    pub rules: Vec<RuleReport>,
}
