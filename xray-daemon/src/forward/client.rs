//! The X-Ray client of forwarding: static credentials, no retries of its own (the forwarder counts its own).

use aws_sdk_xray::config::retry::RetryConfig;
use aws_sdk_xray::config::timeout::TimeoutConfig;
use aws_sdk_xray::config::{BehaviorVersion, Credentials, Region};

use super::ForwardConfig;

/// Builds the `aws-sdk-xray` client `config` describes.
///
/// # Errors
/// A message when the endpoint is HTTPS (or the public one) and the daemon was built without the `tls` feature.
pub fn build_client(config: &ForwardConfig) -> Result<aws_sdk_xray::Client, String> {
    let https = config
        .endpoint
        .as_deref()
        .is_none_or(|e| !e.starts_with("http://"));
    let http_client = if https {
        https_client()?
    } else {
        aws_smithy_http_client::Builder::new().build_http()
    };
    let credentials = Credentials::new(
        &config.access_key_id,
        &config.secret_access_key,
        config.session_token.clone(),
        None,
        "environment",
    );
    let mut builder = aws_sdk_xray::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(config.region.clone()))
        .credentials_provider(credentials)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(config.attempt_timeout)
                .build(),
        )
        .http_client(http_client);
    if let Some(endpoint) = &config.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Ok(aws_sdk_xray::Client::from_conf(builder.build()))
}

#[cfg(feature = "tls")]
fn https_client() -> Result<aws_sdk_xray::config::SharedHttpClient, String> {
    use aws_smithy_http_client::tls;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https())
}

#[cfg(not(feature = "tls"))]
fn https_client() -> Result<aws_sdk_xray::config::SharedHttpClient, String> {
    Err(
        "this xray was built without the `tls` feature: it can forward only to an http:// endpoint \
         (--endpoint); build it with `--features tls` to reach AWS"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "tls")]
    #[test]
    fn the_public_endpoint_needs_https_and_gets_it() {
        let config = ForwardConfig::new("eu-west-1", "AKIDEXAMPLE", "secret");
        assert!(build_client(&config).is_ok());
    }

    #[cfg(not(feature = "tls"))]
    #[test]
    fn without_tls_only_http_endpoints_work() {
        let mut config = ForwardConfig::new("eu-west-1", "AKIDEXAMPLE", "secret");
        assert!(build_client(&config).unwrap_err().contains("`tls` feature"));
        config.endpoint = Some("http://127.0.0.1:4566".to_owned());
        assert!(build_client(&config).is_ok());
    }
}
