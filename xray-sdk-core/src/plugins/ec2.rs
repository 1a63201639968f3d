//! EC2: the instance identity document from the instance metadata service, with IMDSv2 and an IMDSv1 fallback.

use serde::Deserialize;
use xray_sdk_types::document::{Aws, Ec2};

use super::detect::Settings;
use super::metadata::{MetadataClient, MetadataError};

const TOKEN_PATH: &str = "/latest/api/token";
const IDENTITY_PATH: &str = "/latest/dynamic/instance-identity/document";
const TOKEN_TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
/// The token is used once, right away.
const TOKEN_TTL_SECONDS: &str = "60";

/// The instance identity document, the fields used.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct IdentityDocument {
    instance_id: String,
    availability_zone: Option<String>,
    instance_type: Option<String>,
    image_id: Option<String>,
}

/// Fills `aws.ec2` when the metadata service gives the instance identity document.
pub(super) fn detect(settings: &Settings, aws: &mut Aws) -> bool {
    let (url, named) = (&settings.ec2_endpoint.0, settings.ec2_endpoint.1);
    let client = match MetadataClient::new(url, settings.timeout) {
        Ok(c) => c,
        Err(e) => {
            log::warn!("X-Ray: the EC2 plugin cannot use the metadata service: {e}");
            return false;
        }
    };
    // IMDSv2: a session token first. When nothing listens there is nothing to fall back to; any other failure
    // (an IMDSv1-only service, a token answer lost to the hop limit in a container) falls back to IMDSv1.
    let token = match client.put(TOKEN_PATH, &[(TOKEN_TTL_HEADER, TOKEN_TTL_SECONDS)]) {
        Ok(body) => String::from_utf8(body)
            .ok()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic())),
        Err(e @ MetadataError::Absent(_)) => {
            e.log("EC2", client.url(), named);
            return false;
        }
        Err(e) => {
            log::debug!("X-Ray: IMDSv2 token request failed ({e}); trying IMDSv1");
            None
        }
    };
    let headers: &[(&str, &str)] = match &token {
        Some(token) => &[(TOKEN_HEADER, token.as_str())],
        None => &[],
    };
    match client.get_json::<IdentityDocument>(IDENTITY_PATH, headers) {
        Ok(doc) => {
            aws.ec2 = Some(Ec2 {
                instance_id: Some(doc.instance_id),
                availability_zone: doc.availability_zone,
                instance_size: doc.instance_type,
                ami_id: doc.image_id,
                ..Ec2::default()
            });
            true
        }
        Err(e) => {
            e.log("EC2", client.url(), named);
            false
        }
    }
}
