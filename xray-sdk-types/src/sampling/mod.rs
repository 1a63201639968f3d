//! Sampling data, shared by the SDK's samplers and the daemon's sampling API.
//!
//! - [`api`]: the bodies of the X-Ray sampling API as the daemon's TCP endpoint serves it (`POST
//!   /GetSamplingRules`, `POST /SamplingTargets`), with the member names of the X-Ray API model. Every type is
//!   [`Serialize`](serde::Serialize) and [`Deserialize`](serde::Deserialize), so that the SDK (the client) and the
//!   daemon (the server) use the same definitions.
//! - [`local_rules`]: the local sampling rules file of the X-Ray SDKs (versions 1 and 2), parsed into validated
//!   [`LocalRules`].
//!
//! Timestamps are seconds since the Unix epoch, as JSON numbers (the API's `rest-json` form); fractions are
//! accepted when reading.

pub mod api;
pub mod local_rules;

pub use api::{
    GetSamplingRulesRequest, GetSamplingRulesResponse, GetSamplingTargetsRequest,
    GetSamplingTargetsResponse, SamplingBoost, SamplingBoostStatisticsDocument, SamplingRateBoost,
    SamplingRule, SamplingRuleRecord, SamplingStatisticsDocument, SamplingTargetDocument,
    UnprocessedStatistics,
};
pub use local_rules::{
    LocalDefaultRule, LocalRule, LocalRules, LocalRulesError, LocalRulesFileError, RuleLocation,
};
