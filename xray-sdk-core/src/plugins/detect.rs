//! Which plugins run, where they look, and the detection thread that runs them in order of precedence.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use xray_sdk_types::document::Aws;

use super::platform::{Detected, Platform, PlatformSlot, Plugin};
use super::{beanstalk, ec2, ecs, eks};
use crate::config::env::{EnvSource, parse_bool};

/// `AWS_XRAY_EKS_CLUSTER_NAME`: the EKS cluster's name, for the EKS plugin (see the [module docs](super)).
pub const EKS_CLUSTER_NAME: &str = "AWS_XRAY_EKS_CLUSTER_NAME";

const LAMBDA_FUNCTION_NAME: &str = "AWS_LAMBDA_FUNCTION_NAME";
const LAMBDA_TASK_ROOT: &str = "LAMBDA_TASK_ROOT";
const EC2_METADATA_ENDPOINT: &str = "AWS_EC2_METADATA_SERVICE_ENDPOINT";
const EC2_METADATA_DISABLED: &str = "AWS_EC2_METADATA_DISABLED";
const ECS_METADATA_URI_V4: &str = "ECS_CONTAINER_METADATA_URI_V4";
const ECS_METADATA_URI_V3: &str = "ECS_CONTAINER_METADATA_URI";
const HOSTNAME: &str = "HOSTNAME";

/// Which plugins run, and where they look. Every path and endpoint can be pointed elsewhere (for tests);
/// environment variables win over what is set here, as everywhere in the builder.
///
/// ```
/// use std::time::Duration;
/// use xray_sdk_core::plugins::{Plugin, Plugins};
///
/// let plugins = Plugins::only([Plugin::Ecs, Plugin::Ec2]).timeout(Duration::from_millis(500));
/// assert!(plugins.contains(Plugin::Ec2));
/// assert!(!plugins.contains(Plugin::Eks));
/// ```
#[derive(Debug, Clone)]
pub struct Plugins {
    enabled: [bool; 4],
    timeout: Duration,
    beanstalk_config: PathBuf,
    service_account_dir: PathBuf,
    cgroup_file: PathBuf,
    hostname_file: PathBuf,
    ec2_endpoint: String,
    kubernetes_api: Option<String>,
    eks_cluster_name: Option<String>,
}

impl Default for Plugins {
    /// Every plugin, looking where the platforms put their files and endpoints.
    fn default() -> Self {
        Plugins {
            enabled: [true; 4],
            timeout: Duration::from_secs(1),
            beanstalk_config: "/var/elasticbeanstalk/xray/environment.conf".into(),
            service_account_dir: "/var/run/secrets/kubernetes.io/serviceaccount".into(),
            cgroup_file: "/proc/self/cgroup".into(),
            hostname_file: "/proc/sys/kernel/hostname".into(),
            ec2_endpoint: "http://169.254.169.254".into(),
            kubernetes_api: None,
            eks_cluster_name: None,
        }
    }
}

fn index(plugin: Plugin) -> usize {
    match plugin {
        Plugin::ElasticBeanstalk => 0,
        Plugin::Eks => 1,
        Plugin::Ecs => 2,
        Plugin::Ec2 => 3,
    }
}

impl Plugins {
    /// Every plugin: Elastic Beanstalk, EKS, ECS and EC2.
    pub fn all() -> Self {
        Plugins::default()
    }

    /// Only these plugins (precedence stays that of [`Plugin::PRECEDENCE`], whatever the order given).
    pub fn only(plugins: impl IntoIterator<Item = Plugin>) -> Self {
        let mut enabled = [false; 4];
        for plugin in plugins {
            enabled[index(plugin)] = true;
        }
        Plugins {
            enabled,
            ..Plugins::default()
        }
    }

    /// Whether `plugin` runs.
    pub fn contains(&self, plugin: Plugin) -> bool {
        self.enabled[index(plugin)]
    }

    /// How long each metadata request may take, from connecting to the last byte (default 1 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Elastic Beanstalk's file (default `/var/elasticbeanstalk/xray/environment.conf`).
    pub fn beanstalk_config(mut self, path: impl Into<PathBuf>) -> Self {
        self.beanstalk_config = path.into();
        self
    }

    /// The folder of the pod's service account, whose `token` tells EKS (default
    /// `/var/run/secrets/kubernetes.io/serviceaccount`).
    pub fn service_account_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.service_account_dir = path.into();
        self
    }

    /// The cgroup file the container id is read from (default `/proc/self/cgroup`).
    pub fn cgroup_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.cgroup_file = path.into();
        self
    }

    /// The file the host name is read from when `HOSTNAME` is unset (default `/proc/sys/kernel/hostname`).
    pub fn hostname_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.hostname_file = path.into();
        self
    }

    /// The instance metadata service (default `http://169.254.169.254`); `AWS_EC2_METADATA_SERVICE_ENDPOINT`
    /// wins.
    pub fn ec2_endpoint(mut self, url: impl Into<String>) -> Self {
        self.ec2_endpoint = url.into();
        self
    }

    /// A plain-HTTP Kubernetes API (such as a `kubectl proxy` sidecar, `http://127.0.0.1:8001`) to read the EKS
    /// cluster's name from, in the `amazon-cloudwatch/cluster-info` config map. No credential is sent.
    pub fn kubernetes_api(mut self, url: impl Into<String>) -> Self {
        self.kubernetes_api = Some(url.into());
        self
    }

    /// The EKS cluster's name; [`EKS_CLUSTER_NAME`] wins.
    pub fn eks_cluster_name(mut self, name: impl Into<String>) -> Self {
        self.eks_cluster_name = Some(name.into());
        self
    }
}

/// What the detection thread needs: the settings, with the environment applied.
#[derive(Debug)]
pub(super) struct Settings {
    pub(super) enabled: [bool; 4],
    pub(super) timeout: Duration,
    pub(super) beanstalk_config: PathBuf,
    pub(super) service_account_dir: PathBuf,
    pub(super) cgroup_file: PathBuf,
    pub(super) hostname: Option<String>,
    hostname_file: PathBuf,
    /// The metadata service, and whether the environment named it.
    pub(super) ec2_endpoint: (String, bool),
    pub(super) ecs_endpoint: Option<String>,
    pub(super) kubernetes_api: Option<String>,
    pub(super) eks_cluster_name: Option<String>,
}

impl Settings {
    fn new(plugins: Plugins, env: &dyn EnvSource) -> Self {
        let set = |name: &str| env.var(name).filter(|v| !v.trim().is_empty());
        let mut enabled = plugins.enabled;
        if set(EC2_METADATA_DISABLED).is_some_and(|v| parse_bool(&v) == Some(true)) {
            enabled[index(Plugin::Ec2)] = false;
        }
        let ec2_endpoint = match set(EC2_METADATA_ENDPOINT) {
            Some(url) => (url, true),
            None => (plugins.ec2_endpoint, false),
        };
        Settings {
            enabled,
            timeout: plugins.timeout,
            beanstalk_config: plugins.beanstalk_config,
            service_account_dir: plugins.service_account_dir,
            cgroup_file: plugins.cgroup_file,
            hostname: set(HOSTNAME).map(|h| h.trim().to_owned()),
            hostname_file: plugins.hostname_file,
            ec2_endpoint,
            ecs_endpoint: set(ECS_METADATA_URI_V4).or_else(|| set(ECS_METADATA_URI_V3)),
            kubernetes_api: plugins.kubernetes_api,
            eks_cluster_name: set(EKS_CLUSTER_NAME).or(plugins.eks_cluster_name),
        }
    }

    /// The host name: `HOSTNAME`, else the host name file.
    pub(super) fn hostname(&self) -> Option<String> {
        self.hostname.clone().or_else(|| {
            read_small(&self.hostname_file, 256)
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
    }
}

/// Reads a small text file; `None` when it is absent, unreadable, not text, or over `limit` bytes.
pub(super) fn read_small(path: &Path, limit: u64) -> Option<String> {
    use std::io::Read;
    let file = std::fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(limit + 1).read_to_string(&mut text).ok()?;
    (text.len() as u64 <= limit).then_some(text)
}

/// Starts detection on its own thread, unless in AWS Lambda. The slot returned receives what was found, and
/// `base` (the recorder's own `aws` template) completed with it.
pub(crate) fn start(plugins: Plugins, env: &dyn EnvSource, base: Aws) -> Arc<PlatformSlot> {
    let in_lambda = [LAMBDA_FUNCTION_NAME, LAMBDA_TASK_ROOT]
        .iter()
        .any(|name| env.var(name).is_some_and(|v| !v.trim().is_empty()));
    if in_lambda {
        log::debug!("X-Ray: in AWS Lambda, the plugins do nothing");
        return Arc::new(PlatformSlot::none());
    }
    let slot = Arc::new(PlatformSlot::pending());
    let settings = Settings::new(plugins, env);
    let thread_slot = Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name("xray-plugins".into())
        .spawn(move || {
            let found = detect(&settings).map(|platform| {
                let aws_template = complete(base, &platform.aws);
                Detected {
                    platform,
                    aws_template,
                }
            });
            thread_slot.finish(found);
        });
    if let Err(e) = spawned {
        log::warn!("X-Ray: the plugins cannot start a thread ({e}); segments have no platform");
        slot.finish(None);
    }
    slot
}

/// Runs the enabled plugins in order of precedence: every platform found adds its block, the first gives the
/// origin.
pub(super) fn detect(settings: &Settings) -> Option<Platform> {
    let mut aws = Aws::default();
    let mut first = None;
    for plugin in Plugin::PRECEDENCE {
        if !settings.enabled[index(plugin)] {
            continue;
        }
        let found = match plugin {
            Plugin::ElasticBeanstalk => beanstalk::detect(settings, &mut aws),
            Plugin::Eks => eks::detect(settings, &mut aws),
            Plugin::Ecs => ecs::detect(settings, &mut aws),
            Plugin::Ec2 => ec2::detect(settings, &mut aws),
        };
        if found {
            log::debug!("X-Ray: the {} plugin found its platform", plugin.name());
            first.get_or_insert(plugin);
        }
    }
    first.map(|plugin| Platform {
        plugin,
        origin: plugin.origin(),
        aws,
    })
}

/// `base` with the platform blocks it does not set itself.
fn complete(mut base: Aws, found: &Aws) -> Aws {
    macro_rules! fill {
        ($($f:ident),*) => {$( if base.$f.is_none() { base.$f.clone_from(&found.$f); } )*};
    }
    fill!(ec2, ecs, eks, elastic_beanstalk, cloudwatch_logs);
    base
}
