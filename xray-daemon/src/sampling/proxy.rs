//! While forwarding, the sampling API passes `GetSamplingRules` and `GetSamplingTargets` on to AWS X-Ray,
//! signed with forwarding's credentials, so that every SDK pointed at this daemon samples by the account's
//! centralized rules, as it would behind the X-Ray daemon.
//!
//! Requests are checked as the local service checks them, then sent with `aws-sdk-xray`; X-Ray's answer comes
//! back in the same JSON shape, and X-Ray's errors come back with their status and `__type`. When X-Ray cannot
//! be reached, the answer is a 502 `ServiceUnavailableException`: the SDKs then keep their last rules, or fall
//! back to their local ones.

use std::collections::BTreeMap;

use aws_sdk_xray::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_xray::primitives::DateTime;
use aws_sdk_xray::types as xray;
use axum::http::StatusCode;
use xray_sdk_types::sampling::{
    GetSamplingRulesRequest, GetSamplingRulesResponse, GetSamplingTargetsRequest,
    GetSamplingTargetsResponse, SamplingBoost, SamplingRateBoost, SamplingRule, SamplingRuleRecord,
    SamplingTargetDocument, UnprocessedStatistics,
};

use super::routes::ApiException;
use super::targets;

/// The sampling API of AWS X-Ray, reached through forwarding's client.
#[derive(Debug, Clone)]
pub struct XrayProxy {
    client: aws_sdk_xray::Client,
}

impl XrayProxy {
    /// Passes requests on through `client` (its region, endpoint and credentials).
    pub fn new(client: aws_sdk_xray::Client) -> XrayProxy {
        XrayProxy { client }
    }

    /// One page of the account's rules.
    ///
    /// # Errors
    /// X-Ray's error, or a 502 when it cannot be reached.
    pub async fn get_rules(
        &self,
        request: &GetSamplingRulesRequest,
    ) -> Result<GetSamplingRulesResponse, ApiException> {
        let output = self
            .client
            .get_sampling_rules()
            .set_next_token(request.next_token.clone())
            .send()
            .await
            .map_err(upstream_error)?;
        Ok(GetSamplingRulesResponse {
            sampling_rule_records: output
                .sampling_rule_records()
                .iter()
                .filter_map(rule_record)
                .collect(),
            next_token: output.next_token().map(str::to_owned),
        })
    }

    /// Reports the statistics to X-Ray and returns its targets.
    ///
    /// # Errors
    /// A 400 for a request breaking the API model's constraints (not sent), X-Ray's error, or a 502 when it
    /// cannot be reached.
    pub async fn get_targets(
        &self,
        request: &GetSamplingTargetsRequest,
    ) -> Result<GetSamplingTargetsResponse, ApiException> {
        targets::validate(request)?;
        let invalid = |e: aws_sdk_xray::error::BuildError| ApiException::invalid(e.to_string());
        let statistics = request
            .sampling_statistics_documents
            .iter()
            .map(|d| {
                xray::SamplingStatisticsDocument::builder()
                    .rule_name(&d.rule_name)
                    .client_id(&d.client_id)
                    .timestamp(DateTime::from_secs(d.timestamp))
                    .request_count(clamp(d.request_count))
                    .sampled_count(clamp(d.sampled_count))
                    .set_borrow_count(d.borrow_count.map(clamp))
                    .build()
                    .map_err(invalid)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let boosts = request
            .sampling_boost_statistics_documents
            .iter()
            .map(|d| {
                xray::SamplingBoostStatisticsDocument::builder()
                    .rule_name(&d.rule_name)
                    .service_name(&d.service_name)
                    .timestamp(DateTime::from_secs(d.timestamp))
                    .anomaly_count(clamp(d.anomaly_count))
                    .total_count(clamp(d.total_count))
                    .sampled_anomaly_count(clamp(d.sampled_anomaly_count))
                    .build()
                    .map_err(invalid)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let output = self
            .client
            .get_sampling_targets()
            .set_sampling_statistics_documents(Some(statistics))
            .set_sampling_boost_statistics_documents((!boosts.is_empty()).then_some(boosts))
            .send()
            .await
            .map_err(upstream_error)?;
        Ok(GetSamplingTargetsResponse {
            sampling_target_documents: output
                .sampling_target_documents()
                .iter()
                .map(|t| SamplingTargetDocument {
                    rule_name: t.rule_name().map(str::to_owned),
                    fixed_rate: Some(t.fixed_rate()),
                    reservoir_quota: t.reservoir_quota().map(i64::from),
                    reservoir_quota_ttl: t.reservoir_quota_ttl().map(DateTime::as_secs_f64),
                    interval: t.interval().map(i64::from),
                    sampling_boost: t.sampling_boost().map(|b| SamplingBoost {
                        boost_rate: b.boost_rate(),
                        boost_rate_ttl: b.boost_rate_ttl().as_secs_f64(),
                    }),
                })
                .collect(),
            last_rule_modification: output.last_rule_modification().map(DateTime::as_secs_f64),
            unprocessed_statistics: output
                .unprocessed_statistics()
                .iter()
                .map(|u| unprocessed(u.rule_name(), u.error_code(), u.message()))
                .collect(),
            unprocessed_boost_statistics: output
                .unprocessed_boost_statistics()
                .iter()
                .map(|u| unprocessed(u.rule_name(), u.error_code(), u.message()))
                .collect(),
        })
    }
}

/// A rule record as the SDKs read it; a record without its rule (never sent by X-Ray) is left out.
fn rule_record(record: &xray::SamplingRuleRecord) -> Option<SamplingRuleRecord> {
    let rule = record.sampling_rule()?;
    Some(SamplingRuleRecord {
        sampling_rule: SamplingRule {
            rule_name: rule.rule_name().map(str::to_owned),
            rule_arn: rule.rule_arn().map(str::to_owned),
            resource_arn: rule.resource_arn().to_owned(),
            priority: i64::from(rule.priority()),
            fixed_rate: rule.fixed_rate(),
            reservoir_size: i64::from(rule.reservoir_size()),
            service_name: rule.service_name().to_owned(),
            service_type: rule.service_type().to_owned(),
            host: rule.host().to_owned(),
            http_method: rule.http_method().to_owned(),
            url_path: rule.url_path().to_owned(),
            version: i64::from(rule.version()),
            attributes: rule
                .attributes()
                .map(|a| a.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                .unwrap_or_else(BTreeMap::new),
            sampling_rate_boost: rule.sampling_rate_boost().map(|b| SamplingRateBoost {
                max_rate: b.max_rate(),
                cooldown_window_minutes: i64::from(b.cooldown_window_minutes()),
            }),
        },
        created_at: record.created_at().map(DateTime::as_secs_f64),
        modified_at: record.modified_at().map(DateTime::as_secs_f64),
    })
}

fn unprocessed(
    rule_name: Option<&str>,
    error_code: Option<&str>,
    message: Option<&str>,
) -> UnprocessedStatistics {
    UnprocessedStatistics {
        rule_name: rule_name.map(str::to_owned),
        error_code: error_code.map(str::to_owned),
        message: message.map(str::to_owned),
    }
}

/// A count for the API's 32-bit integers (`validate` has already refused negative ones).
fn clamp(n: i64) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// X-Ray's error as X-Ray sent it, or a 502 when there was no answer.
fn upstream_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    error: SdkError<E, aws_sdk_xray::config::http::HttpResponse>,
) -> ApiException {
    match &error {
        SdkError::ServiceError(service) => ApiException {
            status: StatusCode::from_u16(service.raw().status().as_u16())
                .unwrap_or(StatusCode::BAD_GATEWAY),
            kind: service.err().code().unwrap_or("UnknownError").to_owned(),
            message: service.err().message().unwrap_or_default().to_owned(),
        },
        _ => {
            let detail = crate::forward::error_chain(&error);
            log::warn!("sampling proxy: cannot reach X-Ray: {detail}");
            ApiException {
                status: StatusCode::BAD_GATEWAY,
                kind: "ServiceUnavailableException".to_owned(),
                message: format!("cannot reach AWS X-Ray: {detail}"),
            }
        }
    }
}
