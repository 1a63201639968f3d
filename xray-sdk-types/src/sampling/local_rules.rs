//! The local sampling rules file of the X-Ray SDKs, versions 1 and 2.
//!
//! ```json
//! {
//!   "version": 2,
//!   "rules": [
//!     {"description": "Player moves.", "host": "*", "http_method": "*", "url_path": "/api/move/*",
//!      "fixed_target": 0, "rate": 0.05}
//!   ],
//!   "default": {"fixed_target": 1, "rate": 0.1}
//! }
//! ```
//!
//! Version 1 names the host matcher `service_name` instead of `host`. Rules apply in file order; the first one
//! whose `host`, `http_method` and `url_path` match a request decides, else the default rule does. Each rule
//! samples `fixed_target` requests per second, then the share `rate` of the rest.
//!
//! [`LocalRules::from_json`] checks what the other SDKs check, and says where a file is wrong:
//! - `version` is the number 1 or 2; `default` is present; `rules`, when present, is a list;
//! - every rule and the default have a `fixed_target` (a whole number ≥ 0) and a `rate` (a number ≥ 0; a rate above
//!   1 samples everything, as elsewhere);
//! - every custom rule has a non-empty `host` (`service_name` in version 1), `http_method` and `url_path`; the
//!   default rule has none of them.
//!
//! Stricter than the Python SDK, on purpose: a fractional `fixed_target` and a host key of the other version
//! (`host` in a version 1 file, `service_name` in a version 2 file) are errors rather than silently misread, and a
//! missing `fixed_target` or `rate` is a clear error rather than a crash.
//!
//! ```
//! use xray_sdk_types::sampling::{LocalRules, LocalRulesError, RuleLocation};
//!
//! let rules = LocalRules::from_json(r#"{"version": 1, "default": {"fixed_target": 1, "rate": 0.05},
//!     "rules": [{"service_name": "*.example.com", "http_method": "GET", "url_path": "/a", "fixed_target": 0, "rate": 0.5}]}"#).unwrap();
//! assert_eq!(rules.rules()[0].host, "*.example.com");
//!
//! let err = LocalRules::from_json(r#"{"version": 2, "default": {"fixed_target": 1, "rate": 0.05},
//!     "rules": [{"host": "*", "http_method": "*", "fixed_target": 0, "rate": 0}]}"#).unwrap_err();
//! assert_eq!(err, LocalRulesError::MissingField { at: RuleLocation::Rule(0), field: "url_path" });
//! assert_eq!(err.to_string(), "rules[0]: \"url_path\" is missing");
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::api::{DEFAULT_RULE_NAME, DEFAULT_RULE_PRIORITY, SamplingRule};

/// One custom rule of a local rules file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LocalRule {
    /// A description, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Matches the request's `Host` (`service_name` in version 1 files).
    pub host: String,
    /// Matches the request's method.
    pub http_method: String,
    /// Matches the request's URL path.
    pub url_path: String,
    /// Requests per second sampled before the rate applies.
    pub fixed_target: u64,
    /// The share of the other requests sampled, 0 to 1 (more than 1 samples all).
    pub rate: f64,
}

/// The rule that applies when no custom rule matches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LocalDefaultRule {
    /// Requests per second sampled before the rate applies.
    pub fixed_target: u64,
    /// The share of the other requests sampled.
    pub rate: f64,
}

impl Default for LocalDefaultRule {
    /// One request per second, then 5 %: the default of every X-Ray SDK.
    fn default() -> Self {
        LocalDefaultRule {
            fixed_target: 1,
            rate: 0.05,
        }
    }
}

/// A validated local rules file.
///
/// Serializes in the version 2 form, whatever version it was read from; deserializes with the checks of
/// [`LocalRules::from_json`].
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "Value")]
pub struct LocalRules {
    version: u8,
    rules: Vec<LocalRule>,
    default: LocalDefaultRule,
}

impl Default for LocalRules {
    /// The built-in rules: no custom rule, and a default of one request per second, then 5 %.
    fn default() -> Self {
        LocalRules {
            version: 2,
            rules: Vec::new(),
            default: LocalDefaultRule::default(),
        }
    }
}

impl Serialize for LocalRules {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct V2<'a> {
            version: u8,
            rules: &'a [LocalRule],
            default: &'a LocalDefaultRule,
        }
        V2 {
            version: 2,
            rules: &self.rules,
            default: &self.default,
        }
        .serialize(s)
    }
}

/// Where in a rules file a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RuleLocation {
    /// The `default` rule.
    Default,
    /// The custom rule at this index (from 0) of `rules`.
    Rule(usize),
}

impl fmt::Display for RuleLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleLocation::Default => f.write_str("default"),
            RuleLocation::Rule(i) => write!(f, "rules[{i}]"),
        }
    }
}

/// What is wrong with a rules file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocalRulesError {
    /// The text is not JSON.
    #[error("not valid JSON (line {line}, column {column}): {message}")]
    Json {
        /// The line of the error, from 1.
        line: usize,
        /// The column of the error, from 1.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// The document is not a JSON object.
    #[error(
        "the rules file must be a JSON object with \"version\", \"default\" and optionally \"rules\""
    )]
    NotAnObject,
    /// `version` is missing.
    #[error("\"version\" is missing (1 or 2)")]
    MissingVersion,
    /// `version` is not the number 1 or 2.
    #[error("\"version\" is {found}; the supported versions are the numbers 1 and 2")]
    UnsupportedVersion {
        /// The value found, as JSON.
        found: String,
    },
    /// `default` is missing.
    #[error(
        "\"default\" is missing; the file needs a default rule with \"fixed_target\" and \"rate\""
    )]
    MissingDefault,
    /// `rules` is not a list.
    #[error("\"rules\" must be a list of rules")]
    RulesNotAList,
    /// A rule is not a JSON object.
    #[error("{at}: a rule must be a JSON object")]
    RuleNotAnObject {
        /// The rule.
        at: RuleLocation,
    },
    /// A required field is missing (or `null`).
    #[error("{at}: \"{field}\" is missing")]
    MissingField {
        /// The rule.
        at: RuleLocation,
        /// The field.
        field: &'static str,
    },
    /// A field has the wrong type.
    #[error("{at}: \"{field}\" must be {expected}")]
    WrongType {
        /// The rule.
        at: RuleLocation,
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// A matcher of a custom rule is the empty string.
    #[error("{at}: \"{field}\" is empty; use \"*\" to match anything")]
    EmptyField {
        /// The rule.
        at: RuleLocation,
        /// The field.
        field: &'static str,
    },
    /// `fixed_target` or `rate` is negative.
    #[error("{at}: \"{field}\" must not be negative")]
    Negative {
        /// The rule.
        at: RuleLocation,
        /// The field.
        field: &'static str,
    },
    /// The default rule has a matcher.
    #[error("default: \"{field}\" is not allowed in the default rule, which matches every request")]
    NotAllowedInDefault {
        /// The field.
        field: &'static str,
    },
    /// A custom rule names its host with the key of the other file version.
    #[error(
        "{at}: a version {version} file names the host matcher \"{expected}\", not \"{found}\""
    )]
    WrongHostKey {
        /// The rule.
        at: RuleLocation,
        /// The file's version.
        version: u8,
        /// The key found.
        found: &'static str,
        /// The key this version uses.
        expected: &'static str,
    },
}

/// A rules file that could not be loaded, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum LocalRulesFileError {
    /// The file could not be read.
    #[error("cannot read the sampling rules file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid rules file.
    #[error("invalid sampling rules file {}: {source}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        #[source]
        source: LocalRulesError,
    },
}

impl LocalRulesFileError {
    /// The file concerned.
    pub fn path(&self) -> &Path {
        match self {
            LocalRulesFileError::Read { path, .. } | LocalRulesFileError::Invalid { path, .. } => {
                path
            }
        }
    }
}

impl LocalRules {
    /// Rules from their parts, checked as a file's would be.
    ///
    /// # Errors
    /// [`LocalRulesError`] naming the first invalid rule.
    pub fn new(rules: Vec<LocalRule>, default: LocalDefaultRule) -> Result<Self, LocalRulesError> {
        check_numbers(RuleLocation::Default, default.rate)?;
        for (i, rule) in rules.iter().enumerate() {
            let at = RuleLocation::Rule(i);
            check_numbers(at, rule.rate)?;
            for (field, value) in [
                ("host", &rule.host),
                ("http_method", &rule.http_method),
                ("url_path", &rule.url_path),
            ] {
                if value.is_empty() {
                    return Err(LocalRulesError::EmptyField { at, field });
                }
            }
        }
        Ok(LocalRules {
            version: 2,
            rules,
            default,
        })
    }

    /// Parses and checks the text of a rules file.
    ///
    /// # Errors
    /// [`LocalRulesError`] saying what is wrong, and where.
    pub fn from_json(text: &str) -> Result<Self, LocalRulesError> {
        Self::from_slice(text.as_bytes())
    }

    /// Parses and checks the bytes of a rules file.
    ///
    /// # Errors
    /// [`LocalRulesError`] saying what is wrong, and where.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, LocalRulesError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| LocalRulesError::Json {
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        Self::from_value(&value)
    }

    /// Parses and checks the contents of the file at `path` (read by the caller); errors name the file.
    ///
    /// # Errors
    /// [`LocalRulesFileError::Invalid`].
    pub fn from_file_contents(path: &Path, bytes: &[u8]) -> Result<Self, LocalRulesFileError> {
        Self::from_slice(bytes).map_err(|source| LocalRulesFileError::Invalid {
            path: path.to_owned(),
            source,
        })
    }

    /// Checks an already parsed rules document.
    ///
    /// # Errors
    /// [`LocalRulesError`] saying what is wrong, and where.
    pub fn from_value(value: &Value) -> Result<Self, LocalRulesError> {
        let obj = value.as_object().ok_or(LocalRulesError::NotAnObject)?;
        let version = match obj.get("version") {
            None | Some(Value::Null) => return Err(LocalRulesError::MissingVersion),
            Some(v) => match v.as_u64() {
                Some(1) => 1,
                Some(2) => 2,
                _ => {
                    return Err(LocalRulesError::UnsupportedVersion {
                        found: v.to_string(),
                    });
                }
            },
        };
        let default = match obj.get("default") {
            None | Some(Value::Null) => return Err(LocalRulesError::MissingDefault),
            Some(v) => parse_default(v)?,
        };
        let rules = match obj.get("rules") {
            None => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .enumerate()
                .map(|(i, v)| parse_rule(v, i, version))
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(LocalRulesError::RulesNotAList),
        };
        Ok(LocalRules {
            version,
            rules,
            default,
        })
    }

    /// The version of the file the rules were read from (2 when built with [`LocalRules::new`]).
    pub fn version(&self) -> u8 {
        self.version
    }

    /// The custom rules, in the order they apply.
    pub fn rules(&self) -> &[LocalRule] {
        &self.rules
    }

    /// The default rule.
    pub fn default_rule(&self) -> &LocalDefaultRule {
        &self.default
    }
}

impl LocalRules {
    /// The rules as the sampling API presents rules (for a daemon that serves a local rules file): custom rule
    /// `i` (from 0) becomes `local-{i + 1}` with priority `i + 1`, and the default rule becomes `Default` with
    /// priority 10000. `fixed_target` becomes the `ReservoirSize`, `rate` (at most 1) the `FixedRate`; service
    /// name, service type and resource ARN are `*`.
    pub fn to_sampling_rules(&self) -> Vec<SamplingRule> {
        let custom = self.rules.iter().enumerate().map(|(i, r)| {
            api_rule(
                format!("local-{}", i + 1),
                i as i64 + 1,
                [&r.host, &r.http_method, &r.url_path],
                r.fixed_target,
                r.rate,
            )
        });
        let default = api_rule(
            DEFAULT_RULE_NAME.into(),
            DEFAULT_RULE_PRIORITY,
            ["*", "*", "*"],
            self.default.fixed_target,
            self.default.rate,
        );
        custom.chain(std::iter::once(default)).collect()
    }
}

fn api_rule(
    name: String,
    priority: i64,
    [host, method, path]: [&str; 3],
    fixed_target: u64,
    rate: f64,
) -> SamplingRule {
    SamplingRule {
        rule_name: Some(name),
        rule_arn: None,
        resource_arn: "*".into(),
        priority,
        fixed_rate: rate.min(1.0),
        reservoir_size: i64::try_from(fixed_target).unwrap_or(i64::MAX),
        service_name: "*".into(),
        service_type: "*".into(),
        host: host.into(),
        http_method: method.into(),
        url_path: path.into(),
        version: 1,
        attributes: Default::default(),
        sampling_rate_boost: None,
    }
}

impl TryFrom<Value> for LocalRules {
    type Error = LocalRulesError;
    fn try_from(value: Value) -> Result<Self, Self::Error> {
        LocalRules::from_value(&value)
    }
}

fn check_numbers(at: RuleLocation, rate: f64) -> Result<(), LocalRulesError> {
    if rate.is_nan() {
        return Err(LocalRulesError::WrongType {
            at,
            field: "rate",
            expected: "a number",
        });
    }
    if rate < 0.0 {
        return Err(LocalRulesError::Negative { at, field: "rate" });
    }
    Ok(())
}

fn present<'a>(obj: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    obj.get(key).filter(|v| !v.is_null())
}

fn fixed_target(obj: &Map<String, Value>, at: RuleLocation) -> Result<u64, LocalRulesError> {
    let field = "fixed_target";
    let v = present(obj, field).ok_or(LocalRulesError::MissingField { at, field })?;
    let n = v.as_f64().ok_or(LocalRulesError::WrongType {
        at,
        field,
        expected: "a whole number",
    })?;
    if n < 0.0 {
        return Err(LocalRulesError::Negative { at, field });
    }
    if let Some(u) = v.as_u64() {
        return Ok(u);
    }
    // 1.0 is accepted as 1; 1.5 is not a number of requests.
    if n.fract() == 0.0 && n <= u32::MAX as f64 {
        return Ok(n as u64);
    }
    Err(LocalRulesError::WrongType {
        at,
        field,
        expected: "a whole number",
    })
}

fn rate(obj: &Map<String, Value>, at: RuleLocation) -> Result<f64, LocalRulesError> {
    let field = "rate";
    let v = present(obj, field).ok_or(LocalRulesError::MissingField { at, field })?;
    let r = v.as_f64().ok_or(LocalRulesError::WrongType {
        at,
        field,
        expected: "a number",
    })?;
    check_numbers(at, r)?;
    Ok(r)
}

fn parse_default(v: &Value) -> Result<LocalDefaultRule, LocalRulesError> {
    let at = RuleLocation::Default;
    let obj = v
        .as_object()
        .ok_or(LocalRulesError::RuleNotAnObject { at })?;
    for field in ["host", "service_name", "http_method", "url_path"] {
        if let Some(v) = present(obj, field)
            && v.as_str() != Some("")
        {
            return Err(LocalRulesError::NotAllowedInDefault { field });
        }
    }
    Ok(LocalDefaultRule {
        fixed_target: fixed_target(obj, at)?,
        rate: rate(obj, at)?,
    })
}

fn matcher(
    obj: &Map<String, Value>,
    at: RuleLocation,
    field: &'static str,
) -> Result<String, LocalRulesError> {
    match present(obj, field) {
        None => Err(LocalRulesError::MissingField { at, field }),
        Some(Value::String(s)) if s.is_empty() => Err(LocalRulesError::EmptyField { at, field }),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(LocalRulesError::WrongType {
            at,
            field,
            expected: "a string",
        }),
    }
}

fn parse_rule(v: &Value, index: usize, version: u8) -> Result<LocalRule, LocalRulesError> {
    let at = RuleLocation::Rule(index);
    let obj = v
        .as_object()
        .ok_or(LocalRulesError::RuleNotAnObject { at })?;
    let (host_key, other_key) = if version == 1 {
        ("service_name", "host")
    } else {
        ("host", "service_name")
    };
    if present(obj, other_key).is_some() {
        return Err(LocalRulesError::WrongHostKey {
            at,
            version,
            found: other_key,
            expected: host_key,
        });
    }
    Ok(LocalRule {
        description: obj
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned),
        host: matcher(obj, at, host_key)?,
        http_method: matcher(obj, at, "http_method")?,
        url_path: matcher(obj, at, "url_path")?,
        fixed_target: fixed_target(obj, at)?,
        rate: rate(obj, at)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(v: Value) -> LocalRulesError {
        LocalRules::from_value(&v).unwrap_err()
    }

    #[test]
    fn built_in_default() {
        let rules = LocalRules::default();
        assert_eq!(
            serde_json::to_value(&rules).unwrap(),
            json!({"version": 2, "rules": [], "default": {"fixed_target": 1, "rate": 0.05}})
        );
    }

    #[test]
    fn errors_name_the_problem_and_the_rule() {
        let d = json!({"fixed_target": 1, "rate": 0.05});
        assert_eq!(err(json!([])), LocalRulesError::NotAnObject);
        assert_eq!(err(json!({"default": d})), LocalRulesError::MissingVersion);
        assert_eq!(
            err(json!({"version": "2", "default": d})).to_string(),
            "\"version\" is \"2\"; the supported versions are the numbers 1 and 2"
        );
        assert_eq!(err(json!({"version": 2})), LocalRulesError::MissingDefault);
        assert_eq!(
            err(json!({"version": 2, "default": d, "rules": {}})),
            LocalRulesError::RulesNotAList
        );
        let ok =
            json!({"host": "*", "http_method": "*", "url_path": "*", "fixed_target": 0, "rate": 0});
        let e = err(
            json!({"version": 2, "default": d, "rules": [ok, {"host": "*", "http_method": "*", "url_path": "*", "fixed_target": 1.5, "rate": 0}]}),
        );
        assert_eq!(
            e.to_string(),
            "rules[1]: \"fixed_target\" must be a whole number"
        );
        let e = err(
            json!({"version": 2, "default": d, "rules": [ok, ok, {"host": "*", "http_method": 3, "url_path": "*", "fixed_target": 1, "rate": 0}]}),
        );
        assert_eq!(e.to_string(), "rules[2]: \"http_method\" must be a string");
        let e = err(json!({"version": 2, "default": {"rate": 1}}));
        assert_eq!(e.to_string(), "default: \"fixed_target\" is missing");
        let e =
            err(json!({"version": 2, "default": {"fixed_target": 1, "rate": 1, "url_path": "/x"}}));
        assert_eq!(
            e,
            LocalRulesError::NotAllowedInDefault { field: "url_path" }
        );
        let e = err(
            json!({"version": 2, "default": d, "rules": [{"service_name": "*", "http_method": "*", "url_path": "*", "fixed_target": 1, "rate": 0}]}),
        );
        assert_eq!(
            e.to_string(),
            "rules[0]: a version 2 file names the host matcher \"host\", not \"service_name\""
        );
        let e = LocalRules::from_json("{\"version\": 2,\n \"default\": }").unwrap_err();
        assert!(matches!(e, LocalRulesError::Json { line: 2, .. }), "{e:?}");
    }

    #[test]
    fn file_errors_name_the_file() {
        let e =
            LocalRules::from_file_contents(Path::new("/etc/xray/rules.json"), b"{}").unwrap_err();
        assert_eq!(e.path(), Path::new("/etc/xray/rules.json"));
        assert_eq!(
            e.to_string(),
            "invalid sampling rules file /etc/xray/rules.json: \"version\" is missing (1 or 2)"
        );
    }

    #[test]
    fn round_trips_in_version_2_form() {
        let v1 = LocalRules::from_value(&json!({"version": 1, "default": {"fixed_target": 2, "rate": 0.5},
            "rules": [{"service_name": "a.com", "http_method": "GET", "url_path": "/x", "fixed_target": 0, "rate": 1, "description": "d"}]}))
        .unwrap();
        assert_eq!(v1.version(), 1);
        let text = serde_json::to_string(&v1).unwrap();
        let v2: LocalRules = serde_json::from_str(&text).unwrap();
        assert_eq!(v2.version(), 2);
        assert_eq!(v2.rules(), v1.rules());
        assert_eq!(v2.default_rule(), v1.default_rule());
        let bad: Result<LocalRules, _> = serde_json::from_str(r#"{"version": 7, "default": {}}"#);
        assert!(bad.unwrap_err().to_string().contains("supported versions"));
    }

    #[test]
    fn as_api_rules() {
        let rules = LocalRules::from_value(&json!({"version": 2, "default": {"fixed_target": 1, "rate": 0.05},
            "rules": [{"host": "a.com", "http_method": "GET", "url_path": "/x", "fixed_target": 3, "rate": 5}]}))
        .unwrap();
        let api = serde_json::to_value(rules.to_sampling_rules()).unwrap();
        assert_eq!(
            api,
            json!([
                {"RuleName": "local-1", "ResourceARN": "*", "Priority": 1, "FixedRate": 1.0, "ReservoirSize": 3,
                 "ServiceName": "*", "ServiceType": "*", "Host": "a.com", "HTTPMethod": "GET", "URLPath": "/x",
                 "Version": 1},
                {"RuleName": "Default", "ResourceARN": "*", "Priority": 10000, "FixedRate": 0.05,
                 "ReservoirSize": 1, "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*",
                 "URLPath": "*", "Version": 1}
            ])
        );
    }

    #[test]
    fn new_checks_rules() {
        let rule = LocalRule {
            description: None,
            host: String::new(),
            http_method: "GET".into(),
            url_path: "/".into(),
            fixed_target: 0,
            rate: 0.0,
        };
        assert_eq!(
            LocalRules::new(vec![rule], LocalDefaultRule::default()).unwrap_err(),
            LocalRulesError::EmptyField {
                at: RuleLocation::Rule(0),
                field: "host"
            }
        );
        let neg = LocalDefaultRule {
            fixed_target: 0,
            rate: -0.1,
        };
        assert!(LocalRules::new(vec![], neg).is_err());
    }
}
