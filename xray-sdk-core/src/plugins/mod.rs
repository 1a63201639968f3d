//! Plugins: where the service runs — Elastic Beanstalk, EKS, ECS or EC2 — recorded in each segment's `aws` block
//! and `origin`.
//!
//! Turn them on with one builder call (the `plugins` feature, on by default in `xray-sdk`):
//!
//! ```no_run
//! # #[cfg(feature = "plugins")] {
//! use xray_sdk_core::Recorder;
//! use xray_sdk_core::plugins::{Plugin, Plugins};
//!
//! let recorder = Recorder::builder()
//!     .service_name("orders")
//!     .plugins(Plugins::all()) // or Plugins::only([Plugin::Ecs, Plugin::Ec2])
//!     .build()?;
//! # }
//! # Ok::<(), xray_sdk_core::BuildError>(())
//! ```
//!
//! | plugin | found when | records | origin |
//! |---|---|---|---|
//! | Elastic Beanstalk | `/var/elasticbeanstalk/xray/environment.conf` holds a JSON object | `aws.elastic_beanstalk`: `environment_name`, `version_label`, `deployment_id` (and any other key of the file) | `AWS::ElasticBeanstalk::Environment` |
//! | EKS | the pod's service-account token exists (`/var/run/secrets/kubernetes.io/serviceaccount/token`) | `aws.eks`: `pod` (the host name), `container_id` (from `/proc/self/cgroup`), `cluster_name` | `AWS::EKS::Pod` |
//! | ECS | `ECS_CONTAINER_METADATA_URI_V4` (or `ECS_CONTAINER_METADATA_URI`) is set | `aws.ecs`: `container` (the host name), `container_id`, `container_arn`, `cluster_arn`, `task_arn`, `task_family`, `launch_type`, `availability_zone`; `aws.cloudwatch_logs` for the `awslogs` driver | `AWS::ECS::Container` |
//! | EC2 | the instance metadata service answers (IMDSv2, then IMDSv1) | `aws.ec2`: `instance_id`, `availability_zone`, `instance_size`, `ami_id` | `AWS::EC2::Instance` |
//!
//! Every platform found adds its block (a service on ECS with the EC2 launch type gets `ecs` and `ec2`); the
//! origin is that of the first found in the order above ([`Plugin::PRECEDENCE`]). The origin is also the
//! service type that centralized sampling rules match. An origin or `aws` block set on the builder
//! ([`RecorderBuilder::origin`](crate::RecorderBuilder::origin),
//! [`RecorderBuilder::aws_resource`](crate::RecorderBuilder::aws_resource)) wins over what plugins find.
//!
//! # Costs
//! Detection never delays start-up or a request: [`RecorderBuilder::build`](crate::RecorderBuilder::build)
//! starts one short-lived thread and returns. Each metadata request has its own deadline (1 s by default, from
//! connecting to the last byte, [`Plugins::timeout`]). Segments begun before detection finishes lack the
//! platform's block and origin; afterwards, reading the result costs one atomic load per segment. A metadata
//! service that refuses, hangs or answers garbage is logged once (at `debug` when nothing listens, at `warn`
//! otherwise) and ignored: the recorder never fails because of a plugin. In AWS Lambda
//! (`AWS_LAMBDA_FUNCTION_NAME` or `LAMBDA_TASK_ROOT` set) and with the SDK disabled, plugins do nothing.
//!
//! # Environment
//! Read through the builder's [`EnvSource`](crate::config::EnvSource), so tests never change the process
//! environment:
//! - `AWS_EC2_METADATA_SERVICE_ENDPOINT`: the instance metadata service (default `http://169.254.169.254`);
//!   `AWS_EC2_METADATA_DISABLED=true` turns the EC2 plugin off.
//! - `ECS_CONTAINER_METADATA_URI_V4`, `ECS_CONTAINER_METADATA_URI`: the task metadata endpoint (v4, else v3).
//! - `AWS_XRAY_EKS_CLUSTER_NAME`: the EKS cluster's name (this SDK's own variable; see below).
//! - `HOSTNAME`: the host name, read from `/proc/sys/kernel/hostname` when unset.
//!
//! # The EKS cluster name
//! The other SDKs read it from the `amazon-cloudwatch/cluster-info` config map through the Kubernetes API,
//! which in a pod is served over TLS with the service account's credentials. This crate has no TLS stack, so
//! the name comes from, in order: `AWS_XRAY_EKS_CLUSTER_NAME` (which a pod spec can fill from the config map with
//! `configMapKeyRef`, key `cluster.name`), [`Plugins::eks_cluster_name`], or the config map read over plain
//! HTTP from [`Plugins::kubernetes_api`] — a `kubectl proxy` sidecar, for example, which authenticates itself;
//! the service account's token is never sent over plain HTTP. Without any of them, `aws.eks` has no
//! `cluster_name`. Any pod with a service account counts as EKS: the API call that would tell EKS from other
//! Kubernetes distributions needs TLS too.

mod platform;

#[cfg(feature = "plugins")]
mod beanstalk;
#[cfg(feature = "plugins")]
mod detect;
#[cfg(feature = "plugins")]
mod ec2;
#[cfg(feature = "plugins")]
mod ecs;
#[cfg(feature = "plugins")]
mod eks;
#[cfg(feature = "plugins")]
mod metadata;

pub(crate) use platform::PlatformSlot;
pub use platform::{Platform, Plugin};

#[cfg(feature = "plugins")]
pub(crate) use detect::start;
#[cfg(feature = "plugins")]
pub use detect::{EKS_CLUSTER_NAME, Plugins};
