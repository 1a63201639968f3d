//! Header-driven decisions and wildcard matching, against the Python SDK's vectors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use support::{cases, vectors};
use xray_sdk_core::sampling::{
    AlwaysSample, Sampler, SamplingDecision, SamplingRequest, decide, response_flag,
};
use xray_sdk_types::rules::wildcard_match;
use xray_sdk_types::{SamplingFlag, TraceHeader};

/// A sampler that answers as the Python sampler of a vector did.
#[derive(Debug)]
struct Fixed(SamplingDecision);

impl Sampler for Fixed {
    fn should_sample(&self, _: &SamplingRequest<'_>) -> SamplingDecision {
        self.0.clone()
    }
}

#[test]
fn sampling_decision_vectors() {
    let list = cases(&vectors()["sampling_decision"], "cases");
    for case in list {
        let header = case["incoming_header"].as_str().unwrap();
        let flag = if header.is_empty() {
            None
        } else {
            TraceHeader::parse(&format!(
                "Root=1-5759e988-bd862e3fe1be46a994272793;{header}"
            ))
            .unwrap()
            .sampled
        };
        let sampler: Box<dyn Sampler> = if case["recorder_sampling"].as_bool().unwrap() {
            Box::new(Fixed(match &case["sampler_returns"] {
                serde_json::Value::String(rule) => SamplingDecision {
                    sampled: true,
                    rule_name: Some(Arc::from(rule.as_str())),
                },
                serde_json::Value::Bool(b) => SamplingDecision {
                    sampled: *b,
                    rule_name: None,
                },
                other => panic!("unexpected sampler answer {other}"),
            }))
        } else {
            // Sampling switched off in the recorder: everything is sampled.
            Box::new(AlwaysSample)
        };
        let d = decide(flag, &*sampler, &SamplingRequest::default());
        match &case["decision"] {
            serde_json::Value::String(rule) => {
                assert!(d.sampled, "{case}");
                assert_eq!(d.rule_name.as_deref(), Some(rule.as_str()), "{case}");
            }
            serde_json::Value::Bool(b) => assert_eq!(d.sampled, *b, "{case}"),
            serde_json::Value::Number(n) => assert_eq!(d.sampled, n.as_u64() == Some(1), "{case}"),
            other => panic!("unexpected decision {other}"),
        }
    }
    assert_eq!(list.len(), 9);
}

#[test]
fn response_header_reports_the_decision_only_when_asked() {
    assert_eq!(
        response_flag(Some(SamplingFlag::Requested), true),
        Some(SamplingFlag::Sampled)
    );
    assert_eq!(
        response_flag(Some(SamplingFlag::Requested), false),
        Some(SamplingFlag::NotSampled)
    );
    assert_eq!(response_flag(Some(SamplingFlag::Sampled), true), None);
    assert_eq!(response_flag(None, true), None);
}

#[test]
fn wildcard_match_vectors() {
    let list = cases(&vectors()["wildcard_match"], "cases");
    let (mut checked, mut null_input, mut case_sensitive, mut python_quirk) = (0, 0, 0, 0);
    for case in list {
        let expected = case["match"].as_bool().unwrap();
        let (Some(pattern), Some(text)) = (case["pattern"].as_str(), case["text"].as_str()) else {
            // A missing pattern or text never matches; in Rust both are `&str`, and callers treat a missing
            // request field as an implicit match before calling.
            assert!(!expected, "{case}");
            null_input += 1;
            continue;
        };
        if case["case_insensitive"] == false {
            // The SDK only ever matches ignoring case; our function has no case-sensitive mode. Such cases
            // must agree whenever case plays no role.
            if pattern.to_lowercase() == pattern && text.to_lowercase() == text {
                assert_eq!(wildcard_match(pattern, text), expected, "{case}");
            }
            case_sensitive += 1;
            continue;
        }
        let ours = wildcard_match(pattern, text);
        if (pattern, text) == ("a*b", "a*xb") || (pattern, text) == ("x*y", "x*zy") {
            // Deliberate difference: Python compares a literal '*' in the TEXT to the pattern's '*' first and
            // then cannot backtrack, so "a*b" fails on "a*xb". Here '*' in the text is an ordinary character
            // and the glob matches, as a user would expect.
            assert!(!expected && ours, "{case}");
            python_quirk += 1;
            continue;
        }
        assert_eq!(ours, expected, "{case}");
        checked += 1;
    }
    assert_eq!(
        checked + null_input + case_sensitive + python_quirk,
        list.len()
    );
    assert_eq!((null_input, python_quirk), (3, 2));
    assert!(checked >= 70, "{checked}");
}
