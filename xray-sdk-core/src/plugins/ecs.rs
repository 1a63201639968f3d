//! ECS: the task metadata endpoint (v4, else v3) that the agent names in the container's environment.

use serde::Deserialize;
use serde_json::{Map, Value};
use xray_sdk_types::document::{Aws, Ecs, LogGroup};

use super::detect::Settings;
use super::metadata::MetadataClient;

/// The container's metadata (`GET ${ECS_CONTAINER_METADATA_URI_V4}`), the fields used.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerMetadata {
    docker_id: Option<String>,
    #[serde(rename = "ContainerARN")]
    container_arn: Option<String>,
    log_driver: Option<String>,
    log_options: Option<Map<String, Value>>,
}

/// The task's metadata (`GET ${ECS_CONTAINER_METADATA_URI_V4}/task`), the fields used.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TaskMetadata {
    cluster: Option<String>,
    #[serde(rename = "TaskARN")]
    task_arn: Option<String>,
    family: Option<String>,
    launch_type: Option<String>,
    availability_zone: Option<String>,
}

/// Fills `aws.ecs` (and `aws.cloudwatch_logs`) when the metadata endpoint is set. The endpoint's presence
/// is what tells ECS: when it fails, the block still has the container's host name.
pub(super) fn detect(settings: &Settings, aws: &mut Aws) -> bool {
    let Some(url) = settings.ecs_endpoint.as_deref() else {
        return false;
    };
    let mut container = ContainerMetadata::default();
    let mut task = TaskMetadata::default();
    match MetadataClient::new(url, settings.timeout) {
        Ok(client) => {
            match client.get_json::<ContainerMetadata>("", &[]) {
                Ok(c) => container = c,
                Err(e) => e.log("ECS", client.url(), true),
            }
            match client.get_json::<TaskMetadata>("/task", &[]) {
                Ok(t) => task = t,
                Err(e) => e.log("ECS", &format!("{}/task", client.url()), true),
            }
        }
        Err(e) => log::warn!("X-Ray: the ECS plugin cannot use the metadata endpoint: {e}"),
    }
    let arn = task
        .task_arn
        .as_deref()
        .or(container.container_arn.as_deref())
        .and_then(Arn::parse);
    let cluster_arn = task.cluster.map(|cluster| match &arn {
        Some(arn) if !cluster.starts_with("arn:") => {
            format!(
                "arn:{}:ecs:{}:{}:cluster/{cluster}",
                arn.partition, arn.region, arn.account
            )
        }
        _ => cluster,
    });
    aws.cloudwatch_logs = log_group(&container, arn.as_ref()).map(|group| vec![group]);
    aws.ecs = Some(Ecs {
        container: settings.hostname(),
        container_id: container.docker_id,
        container_arn: container.container_arn,
        cluster_arn,
        task_arn: task.task_arn,
        task_family: task.family,
        launch_type: task.launch_type,
        availability_zone: task.availability_zone,
        ..Ecs::default()
    });
    true
}

/// The `awslogs` driver's log group, with its ARN when the region and account are known.
fn log_group(container: &ContainerMetadata, arn: Option<&Arn<'_>>) -> Option<LogGroup> {
    if container.log_driver.as_deref() != Some("awslogs") {
        return None;
    }
    let options = container.log_options.as_ref()?;
    let option = |key: &str| options.get(key).and_then(Value::as_str);
    let group = option("awslogs-group")?;
    let region = option("awslogs-region").or(arn.map(|a| a.region));
    let arn = match (arn, region) {
        (Some(arn), Some(region)) => Some(format!(
            "arn:{}:logs:{region}:{}:log-group:{group}",
            arn.partition, arn.account
        )),
        _ => None,
    };
    Some(LogGroup {
        log_group: Some(group.to_owned()),
        arn,
        ..LogGroup::default()
    })
}

/// The parts of an ARN used here.
#[derive(Debug)]
struct Arn<'a> {
    partition: &'a str,
    region: &'a str,
    account: &'a str,
}

impl<'a> Arn<'a> {
    fn parse(arn: &'a str) -> Option<Self> {
        let mut parts = arn.splitn(6, ':');
        let (Some("arn"), Some(partition), Some(_service), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        (!partition.is_empty() && !region.is_empty() && !account.is_empty()).then_some(Arn {
            partition,
            region,
            account,
        })
    }
}
