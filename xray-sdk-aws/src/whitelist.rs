//! The parameter whitelist: which parameters of which operations an AWS-call subsegment records.
//!
//! The data is the AWS X-Ray SDKs' shared whitelist (`data/aws-parameter-whitelist.json`, embedded), read once.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value};

/// The embedded whitelist, as published with the AWS X-Ray SDK for Python.
pub(crate) const WHITELIST_JSON: &str = include_str!("../data/aws-parameter-whitelist.json");

/// How a descriptor turns a value into what is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reduce {
    /// The value itself.
    Value,
    /// The keys of a map.
    Keys,
    /// The length of a list (or map).
    Count,
}

/// One parameter to record: its name in the API (PascalCase), the name to record it under, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) api_name: String,
    pub(crate) recorded_as: String,
    pub(crate) reduce: Reduce,
}

/// What one operation records.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct OperationRules {
    pub(crate) request: Vec<Rule>,
    pub(crate) response: Vec<Rule>,
}

/// The whitelist: service (the whitelist's lower-case key) → operation → rules.
#[derive(Debug, Default)]
pub(crate) struct Whitelist {
    services: HashMap<String, HashMap<String, OperationRules>>,
}

impl Whitelist {
    /// The embedded whitelist, parsed on first use. A whitelist that does not parse (it cannot: it is embedded
    /// and tested) would be logged once and treated as empty.
    pub(crate) fn embedded() -> &'static Whitelist {
        static WHITELIST: OnceLock<Whitelist> = OnceLock::new();
        WHITELIST.get_or_init(|| {
            Whitelist::parse(WHITELIST_JSON).unwrap_or_else(|e| {
                log::error!("X-Ray: the AWS parameter whitelist does not parse ({e}); no parameters are recorded");
                Whitelist::default()
            })
        })
    }

    /// Parses a whitelist in the shared JSON format (`{"services": {svc: {"operations": {op: {...}}}}}`).
    pub(crate) fn parse(text: &str) -> Result<Whitelist, serde_json::Error> {
        let root: Value = serde_json::from_str(text)?;
        let mut services = HashMap::new();
        let empty = Map::new();
        let service_map = root
            .get("services")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        for (service, body) in service_map {
            let mut operations = HashMap::new();
            let ops = body
                .get("operations")
                .and_then(Value::as_object)
                .unwrap_or(&empty);
            for (operation, rules) in ops {
                let request = parameters(rules.get("request_parameters"))
                    .chain(descriptors(rules.get("request_descriptors")))
                    .collect();
                let response = parameters(rules.get("response_parameters"))
                    .chain(descriptors(rules.get("response_descriptors")))
                    .collect();
                operations.insert(operation.clone(), OperationRules { request, response });
            }
            services.insert(service.clone(), operations);
        }
        Ok(Whitelist { services })
    }

    /// The rules of `operation` of the service the SDK calls `service` (its service id, such as `DynamoDB`).
    pub(crate) fn rules(&self, service: &str, operation: &str) -> Option<&OperationRules> {
        self.services
            .get(whitelist_service_key(service).as_str())?
            .get(operation)
    }
}

/// The whitelist's key for a service id: lower case, except SageMaker Runtime's endpoint prefix.
fn whitelist_service_key(service: &str) -> String {
    match service {
        "SageMaker Runtime" => "runtime.sagemaker".to_owned(),
        other => other.to_ascii_lowercase().replace(' ', ""),
    }
}

fn parameters(list: Option<&Value>) -> impl Iterator<Item = Rule> + '_ {
    list.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|name| Rule {
            api_name: name.to_owned(),
            recorded_as: to_snake_case(name),
            reduce: Reduce::Value,
        })
}

fn descriptors(map: Option<&Value>) -> impl Iterator<Item = Rule> + '_ {
    map.and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(name, d)| {
            let flag = |key: &str| d.get(key).and_then(Value::as_bool).unwrap_or(false);
            let reduce = if flag("get_count") {
                Reduce::Count
            } else if flag("get_keys") {
                Reduce::Keys
            } else {
                Reduce::Value
            };
            let recorded_as = d
                .get("rename_to")
                .and_then(Value::as_str)
                .map_or_else(|| to_snake_case(name), str::to_owned);
            Rule {
                api_name: name.clone(),
                recorded_as,
                reduce,
            }
        })
}

/// `TableName` → `table_name`, `QueueOwnerAWSAccountId` → `queue_owner_aws_account_id`: an underscore before an
/// upper-case letter that starts a lower-case word, and between a lower-case letter or digit and an upper-case
/// one; then everything in lower case (the rule of the other X-Ray SDKs).
pub(crate) fn to_snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if i > 0 && c.is_ascii_uppercase() {
            let prev = chars[i - 1];
            let next_lower = chars.get(i + 1).is_some_and(char::is_ascii_lowercase);
            let starts_word = next_lower && prev != '_';
            let after_lower = prev.is_ascii_lowercase() || prev.is_ascii_digit();
            if starts_word || after_lower {
                out.push('_');
            }
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// Applies `rules` to the parameters `params` (a JSON object), writing into `out`.
pub(crate) fn apply(rules: &[Rule], params: &Map<String, Value>, out: &mut Map<String, Value>) {
    for rule in rules {
        let Some(value) = params.get(&rule.api_name) else {
            continue;
        };
        let recorded = match rule.reduce {
            Reduce::Value => value.clone(),
            Reduce::Keys => match value {
                Value::Object(map) => {
                    Value::Array(map.keys().cloned().map(Value::String).collect())
                }
                _ => continue,
            },
            Reduce::Count => match value {
                Value::Array(list) => Value::from(list.len()),
                Value::Object(map) => Value::from(map.len()),
                _ => continue,
            },
        };
        out.insert(rule.recorded_as.clone(), recorded);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn snake_case_as_the_other_sdks_write_it() {
        for (api, recorded) in [
            ("TableName", "table_name"),
            ("QueueUrl", "queue_url"),
            ("QueueOwnerAWSAccountId", "queue_owner_aws_account_id"),
            ("Key", "key"),
            ("MessageId", "message_id"),
            ("ConsumedCapacity", "consumed_capacity"),
            ("TopicArn", "topic_arn"),
            ("VersionId", "version_id"),
        ] {
            assert_eq!(to_snake_case(api), recorded);
        }
    }

    #[test]
    fn the_embedded_whitelist_parses() {
        let w = Whitelist::parse(WHITELIST_JSON).unwrap();
        let get_item = w.rules("DynamoDB", "GetItem").unwrap();
        assert!(
            get_item
                .request
                .iter()
                .any(|r| r.recorded_as == "table_name")
        );
        let batch = w.rules("DynamoDB", "BatchGetItem").unwrap();
        assert_eq!(batch.request[0].recorded_as, "table_names");
        assert_eq!(batch.request[0].reduce, Reduce::Keys);
        let send = w.rules("SQS", "SendMessageBatch").unwrap();
        assert!(
            send.request
                .iter()
                .any(|r| r.recorded_as == "message_count" && r.reduce == Reduce::Count)
        );
        let get_object = w.rules("S3", "GetObject").unwrap();
        assert!(
            get_object
                .request
                .iter()
                .any(|r| r.recorded_as == "bucket_name")
        );
        assert!(w.rules("SageMaker Runtime", "InvokeEndpoint").is_some());
        assert!(w.rules("DynamoDB", "NoSuchOperation").is_none());
    }

    #[test]
    fn bad_whitelists_are_errors_or_empty() {
        assert!(Whitelist::parse("not json").is_err());
        let w = Whitelist::parse(r#"{"services": 3}"#).unwrap();
        assert!(w.rules("DynamoDB", "GetItem").is_none());
    }

    #[test]
    fn descriptors_reduce_values() {
        let w = Whitelist::embedded();
        let rules = w.rules("SQS", "SendMessage").unwrap();
        let params: Map<String, Value> = serde_json::from_str(
            r#"{"QueueUrl": "http://q", "MessageBody": "secret", "MessageAttributes": {"a": {}, "b": {}}}"#,
        )
        .unwrap();
        let mut out = Map::new();
        apply(&rules.request, &params, &mut out);
        assert_eq!(
            Value::Object(out),
            serde_json::json!({"queue_url": "http://q", "message_attribute_names": ["a", "b"]})
        );
    }
}
