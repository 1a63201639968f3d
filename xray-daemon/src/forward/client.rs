//! The X-Ray client of forwarding: its region and credentials, found as every AWS SDK finds them, and no retries
//! of its own (the forwarder counts its own).
//!
//! - **Region**: `--region`, else `AWS_REGION`/`AWS_DEFAULT_REGION`, else the profile's, else (outside local
//!   mode) the EC2 instance's.
//! - **Credentials**: the standard chain: the environment (`AWS_ACCESS_KEY_ID`, …), the profile files (with SSO,
//!   `credential_process` and roles chained in a profile), a web identity token (EKS), the container credentials
//!   endpoint (ECS), and (outside local mode) the EC2 instance profile. With a role to assume, these credentials
//!   call STS `AssumeRole` and the role's credentials sign the calls to X-Ray; they are renewed before they
//!   expire.
//!
//! Local mode (`-o`, `LocalMode: true`) never reads EC2 instance metadata, as with the X-Ray daemon: no call to
//! the instance metadata address is made.

use aws_config::ecs::EcsCredentialsProvider;
use aws_config::environment::{
    EnvironmentVariableCredentialsProvider, EnvironmentVariableRegionProvider,
};
use aws_config::imds::credentials::ImdsCredentialsProvider;
use aws_config::imds::region::ImdsRegionProvider;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::meta::region::RegionProviderChain;
use aws_config::profile::{ProfileFileCredentialsProvider, ProfileFileRegionProvider};
use aws_config::provider_config::ProviderConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_config::web_identity_token::WebIdentityTokenCredentialsProvider;
use aws_credential_types::provider::error::CredentialsError;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_xray::config::retry::RetryConfig;
use aws_sdk_xray::config::timeout::TimeoutConfig;
use aws_sdk_xray::config::{BehaviorVersion, Region, SharedHttpClient};

use super::ForwardConfig;

/// The session name of an assumed role, as CloudTrail shows it.
const ROLE_SESSION_NAME: &str = "xray-daemon";

/// Builds the `aws-sdk-xray` client `config` describes: finds the region, and checks once that credentials can be
/// found (a transient failure is logged and left to the calls; finding no source at all is an error).
///
/// # Errors
/// A message when no region or no credentials can be found, or when the endpoint is HTTPS (or the public one)
/// and the daemon was built without the `tls` feature.
pub async fn connect(config: &ForwardConfig) -> Result<aws_sdk_xray::Client, String> {
    let https = config
        .endpoint
        .as_deref()
        .is_none_or(|e| !e.starts_with("http://"));
    let http_client = if https {
        https_client()?
    } else {
        aws_smithy_http_client::Builder::new().build_http()
    };
    let providers = ProviderConfig::without_region().with_http_client(http_client.clone());
    let region = find_region(config, &providers).await?;
    let providers = providers.with_region(Some(region.clone()));
    let base = match &config.credentials {
        Some(credentials) => SharedCredentialsProvider::new(credentials.clone()),
        None => SharedCredentialsProvider::new(credentials_chain(&providers, config.local_mode)),
    };
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .region(region.clone())
        .credentials_provider(base)
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_attempt_timeout(config.attempt_timeout)
                .build(),
        )
        .load()
        .await;
    let credentials = match &config.role_arn {
        Some(role) => SharedCredentialsProvider::new(
            AssumeRoleProvider::builder(role)
                .session_name(ROLE_SESSION_NAME)
                .configure(&shared)
                .build()
                .await,
        ),
        None => shared
            .credentials_provider()
            .ok_or("forwarding has no credentials provider")?,
    };
    check_credentials(&credentials, config).await?;
    let mut builder =
        aws_sdk_xray::config::Builder::from(&shared).credentials_provider(credentials);
    if let Some(endpoint) = &config.endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    Ok(aws_sdk_xray::Client::from_conf(builder.build()))
}

async fn find_region(config: &ForwardConfig, providers: &ProviderConfig) -> Result<Region, String> {
    let mut chain = RegionProviderChain::first_try(config.region.clone().map(Region::new))
        .or_else(EnvironmentVariableRegionProvider::new())
        .or_else(
            ProfileFileRegionProvider::builder()
                .configure(providers)
                .build(),
        );
    if !config.local_mode {
        chain = chain.or_else(ImdsRegionProvider::builder().configure(providers).build());
    }
    chain.region().await.ok_or_else(|| {
        let imds = if config.local_mode {
            ""
        } else {
            ", the EC2 instance"
        };
        format!("forwarding needs a region: --region, AWS_REGION, the profile's region{imds}")
    })
}

/// The standard credentials chain, in the AWS SDKs' order; EC2 instance metadata last, and not in local mode.
fn credentials_chain(providers: &ProviderConfig, local_mode: bool) -> CredentialsProviderChain {
    let chain = CredentialsProviderChain::first_try(
        "Environment",
        EnvironmentVariableCredentialsProvider::new(),
    )
    .or_else(
        "Profile",
        ProfileFileCredentialsProvider::builder()
            .configure(providers)
            .build(),
    )
    .or_else(
        "WebIdentityToken",
        WebIdentityTokenCredentialsProvider::builder()
            .configure(providers)
            .build(),
    )
    .or_else(
        "EcsContainer",
        EcsCredentialsProvider::builder()
            .configure(providers)
            .build(),
    );
    if local_mode {
        chain
    } else {
        chain.or_else(
            "Ec2InstanceMetadata",
            ImdsCredentialsProvider::builder()
                .configure(providers)
                .build(),
        )
    }
}

/// Asks for credentials once: finding none anywhere is an error; any other failure (STS or the instance
/// metadata unreachable for now) is logged, and each call tries again.
async fn check_credentials(
    credentials: &SharedCredentialsProvider,
    config: &ForwardConfig,
) -> Result<(), String> {
    match credentials.provide_credentials().await {
        Ok(_) => Ok(()),
        Err(CredentialsError::CredentialsNotLoaded(_)) => {
            let imds = if config.local_mode {
                ""
            } else {
                ", the EC2 instance profile"
            };
            Err(format!(
                "forwarding needs credentials: none in the environment (AWS_ACCESS_KEY_ID and \
                 AWS_SECRET_ACCESS_KEY), the profile files, a web identity token, the container's \
                 credentials{imds}"
            ))
        }
        Err(e) => {
            let what = match &config.role_arn {
                Some(role) => format!("cannot assume {role} yet"),
                None => "cannot get credentials yet".to_owned(),
            };
            log::warn!(
                "forwarding: {what} (each call tries again): {}",
                super::error_chain(&e)
            );
            Ok(())
        }
    }
}

#[cfg(feature = "tls")]
fn https_client() -> Result<SharedHttpClient, String> {
    use aws_smithy_http_client::tls;
    Ok(aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https())
}

#[cfg(not(feature = "tls"))]
fn https_client() -> Result<SharedHttpClient, String> {
    Err(
        "this xray was built without the `tls` feature: it can forward only to an http:// endpoint \
         (--endpoint); build it with `--features tls` to reach AWS"
            .to_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(region: &str) -> ForwardConfig {
        let mut config = ForwardConfig::new(region, "AKIDEXAMPLE", "secret");
        config.local_mode = true;
        config
    }

    #[cfg(feature = "tls")]
    #[tokio::test]
    async fn the_public_endpoint_needs_https_and_gets_it() {
        assert!(connect(&local("eu-west-1")).await.is_ok());
    }

    #[cfg(not(feature = "tls"))]
    #[tokio::test]
    async fn without_tls_only_http_endpoints_work() {
        let mut config = local("eu-west-1");
        assert!(
            connect(&config)
                .await
                .unwrap_err()
                .contains("`tls` feature")
        );
        config.endpoint = Some("http://127.0.0.1:4566".to_owned());
        assert!(connect(&config).await.is_ok());
    }
}
