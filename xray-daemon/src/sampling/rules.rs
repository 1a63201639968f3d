//! The rules served by `GetSamplingRules`, in pages.

use xray_sdk_types::sampling::{GetSamplingRulesResponse, SamplingRule, SamplingRuleRecord};

use super::InvalidRequest;

/// The most rules in one page of `GetSamplingRules`; the rest follow with `NextToken`.
pub const PAGE_SIZE: usize = 100;

/// The rules, as the API presents them, and when they were loaded.
#[derive(Debug, Clone)]
pub struct ServedRules {
    records: Vec<SamplingRuleRecord>,
    modified_at: f64,
}

impl ServedRules {
    /// Serves `rules`, modified at `loaded_at` (epoch seconds; kept in whole seconds).
    pub fn new(rules: Vec<SamplingRule>, loaded_at: f64) -> ServedRules {
        let modified_at = loaded_at.floor();
        ServedRules {
            records: rules
                .into_iter()
                .map(|rule| SamplingRuleRecord {
                    sampling_rule: rule,
                    created_at: Some(modified_at),
                    modified_at: Some(modified_at),
                })
                .collect(),
            modified_at,
        }
    }

    /// When the rules were loaded, whole epoch seconds.
    pub fn modified_at(&self) -> f64 {
        self.modified_at
    }

    /// The rules in the order they are served.
    pub fn rules(&self) -> impl Iterator<Item = &SamplingRule> {
        self.records.iter().map(|r| &r.sampling_rule)
    }

    /// The rule named `name`.
    pub fn get(&self, name: &str) -> Option<&SamplingRule> {
        self.rules().find(|r| r.rule_name.as_deref() == Some(name))
    }

    /// The page that `token` points at (`None`: the first).
    ///
    /// # Errors
    /// [`InvalidRequest`] when `token` is not one this daemon hands out.
    pub fn page(&self, token: Option<&str>) -> Result<GetSamplingRulesResponse, InvalidRequest> {
        self.page_of(token, PAGE_SIZE)
    }

    fn page_of(
        &self,
        token: Option<&str>,
        size: usize,
    ) -> Result<GetSamplingRulesResponse, InvalidRequest> {
        let start = match token {
            None => 0,
            Some(token) => token
                .parse::<usize>()
                .ok()
                .filter(|&start| start > 0 && start < self.records.len())
                .ok_or_else(|| {
                    InvalidRequest(format!(
                        "NextToken {token:?} is not a valid pagination token"
                    ))
                })?,
        };
        let end = start.saturating_add(size.max(1)).min(self.records.len());
        Ok(GetSamplingRulesResponse {
            sampling_rule_records: self.records[start..end].to_vec(),
            next_token: (end < self.records.len()).then(|| end.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xray_sdk_types::sampling::LocalRules;

    fn rules(n: usize) -> ServedRules {
        let custom: Vec<String> = (0..n)
            .map(|i| {
                format!(
                    r#"{{"host":"*","http_method":"GET","url_path":"/r{i}","fixed_target":1,"rate":0.5}}"#
                )
            })
            .collect();
        let text = format!(
            r#"{{"version":2,"default":{{"fixed_target":1,"rate":0.05}},"rules":[{}]}}"#,
            custom.join(",")
        );
        let local = LocalRules::from_json(&text).unwrap();
        ServedRules::new(local.to_sampling_rules(), 1_700_000_000.75)
    }

    #[test]
    fn pages_chain_through_every_rule() {
        let served = rules(6);
        let mut names = Vec::new();
        let mut token = None;
        let mut pages = 0;
        loop {
            let page = served.page_of(token.as_deref(), 3).unwrap();
            pages += 1;
            names.extend(
                page.sampling_rule_records
                    .iter()
                    .map(|r| r.sampling_rule.rule_name.clone().unwrap()),
            );
            match page.next_token {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        assert_eq!(pages, 3);
        assert_eq!(
            names,
            [
                "local-1", "local-2", "local-3", "local-4", "local-5", "local-6", "Default"
            ]
        );
        assert_eq!(served.modified_at(), 1_700_000_000.0);
    }

    #[test]
    fn one_page_has_no_token_and_bad_tokens_are_refused() {
        let served = rules(2);
        let page = served.page(None).unwrap();
        assert_eq!(page.sampling_rule_records.len(), 3);
        assert_eq!(page.next_token, None);
        for bad in ["", "0", "3", "-1", "abc", "99999999999999999999999"] {
            assert!(served.page(Some(bad)).is_err(), "{bad:?}");
        }
        assert_eq!(
            served.page(Some("2")).unwrap().sampling_rule_records.len(),
            1
        );
    }
}
