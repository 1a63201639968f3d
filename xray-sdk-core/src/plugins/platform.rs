//! What detection found, and the slot a recorder reads it from.

use std::sync::{Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use xray_sdk_types::document::Aws;

/// A platform a plugin detects, in order of precedence: when several are found, the first gives the origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Plugin {
    /// AWS Elastic Beanstalk (`aws.elastic_beanstalk`).
    ElasticBeanstalk,
    /// Amazon EKS (`aws.eks`).
    Eks,
    /// Amazon ECS (`aws.ecs`, `aws.cloudwatch_logs`).
    Ecs,
    /// Amazon EC2 (`aws.ec2`).
    Ec2,
}

impl Plugin {
    /// Every plugin, in order of precedence.
    pub const PRECEDENCE: [Plugin; 4] = [
        Plugin::ElasticBeanstalk,
        Plugin::Eks,
        Plugin::Ecs,
        Plugin::Ec2,
    ];

    /// The segment `origin` this platform gives, also the service type centralized sampling rules match.
    pub const fn origin(self) -> &'static str {
        match self {
            Plugin::ElasticBeanstalk => "AWS::ElasticBeanstalk::Environment",
            Plugin::Eks => "AWS::EKS::Pod",
            Plugin::Ecs => "AWS::ECS::Container",
            Plugin::Ec2 => "AWS::EC2::Instance",
        }
    }

    /// The plugin's name in logs: `elastic_beanstalk`, `eks`, `ecs` or `ec2` (its key in the `aws` block).
    pub const fn name(self) -> &'static str {
        match self {
            Plugin::ElasticBeanstalk => "elastic_beanstalk",
            Plugin::Eks => "eks",
            Plugin::Ecs => "ecs",
            Plugin::Ec2 => "ec2",
        }
    }
}

/// Where the service runs, as the plugins found it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Platform {
    /// The platform of highest precedence that was found.
    pub plugin: Plugin,
    /// Its origin, such as `AWS::ECS::Container`.
    pub origin: &'static str,
    /// The blocks of every platform found (`ec2`, `ecs`, `eks`, `elastic_beanstalk`, `cloudwatch_logs`); a
    /// service on ECS with the EC2 launch type has both `ecs` and `ec2`.
    pub aws: Aws,
}

/// A detection result and the `aws` template of segments that goes with it.
#[derive(Debug)]
pub(crate) struct Detected {
    pub(crate) platform: Platform,
    pub(crate) aws_template: Aws,
}

/// Holds what detection found, once it has finished. Reading it is one atomic load.
#[derive(Debug)]
pub(crate) struct PlatformSlot {
    found: OnceLock<Detected>,
    finished: Mutex<bool>,
    wake: Condvar,
}

impl PlatformSlot {
    /// A slot without detection: finished, empty.
    pub(crate) fn none() -> Self {
        PlatformSlot {
            found: OnceLock::new(),
            finished: Mutex::new(true),
            wake: Condvar::new(),
        }
    }

    /// A slot whose detection is under way.
    #[cfg_attr(not(feature = "plugins"), allow(dead_code))]
    pub(crate) fn pending() -> Self {
        PlatformSlot {
            finished: Mutex::new(false),
            ..PlatformSlot::none()
        }
    }

    /// What detection found, if it has finished and found something.
    #[inline]
    pub(crate) fn get(&self) -> Option<&Detected> {
        self.found.get()
    }

    /// Ends detection with its result.
    #[cfg_attr(not(feature = "plugins"), allow(dead_code))]
    pub(crate) fn finish(&self, detected: Option<Detected>) {
        if let Some(detected) = detected {
            let _ = self.found.set(detected);
        }
        *self.finished.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
    }

    /// Waits until detection has finished or `timeout` has passed (any length, `Duration::MAX` included).
    pub(crate) fn wait(&self, timeout: Duration) -> Option<&Detected> {
        let deadline = Instant::now().checked_add(timeout);
        let mut finished = self.finished.lock().unwrap_or_else(PoisonError::into_inner);
        while !*finished {
            finished = match deadline {
                None => self
                    .wake
                    .wait(finished)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    self.wake
                        .wait_timeout(finished, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        drop(finished);
        self.get()
    }
}
