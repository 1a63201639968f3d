//! Elastic Beanstalk: the environment file the platform writes for the X-Ray daemon.

use xray_sdk_types::document::{Aws, ElasticBeanstalk};

use super::detect::{Settings, read_small};

/// The largest environment file read.
const MAX_FILE: u64 = 64 << 10;

/// Reads the environment file into `aws.elastic_beanstalk`; false when absent or not a JSON object of the
/// expected shape (logged).
pub(super) fn detect(settings: &Settings, aws: &mut Aws) -> bool {
    let path = &settings.beanstalk_config;
    if !path.exists() {
        return false;
    }
    let Some(text) = read_small(path, MAX_FILE) else {
        log::warn!(
            "X-Ray: the Elastic Beanstalk plugin cannot read {} (unreadable, not text, or over {MAX_FILE} bytes)",
            path.display()
        );
        return false;
    };
    match serde_json::from_str::<ElasticBeanstalk>(&text) {
        Ok(eb) => {
            aws.elastic_beanstalk = Some(eb);
            true
        }
        Err(e) => {
            log::warn!(
                "X-Ray: the Elastic Beanstalk plugin ignores {}: {e}",
                path.display()
            );
            false
        }
    }
}
