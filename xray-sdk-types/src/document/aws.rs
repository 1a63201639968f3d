//! The `aws` and `service` blocks.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `aws` block: where the service runs (on segments), or which AWS call was made (on subsegments).
///
/// Fields that this type does not name (`queue_name`, `message_id`, `consumed_capacity`, …) are kept in
/// [`Aws::extra`], so that a document from any SDK survives a round trip unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Aws {
    /// The AWS account of the resource or of the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The API operation, such as `PutItem`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation: Option<String>,
    /// The region of the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The request id AWS returned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// How many times the call was retried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    /// SQS: the queue's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_url: Option<String>,
    /// DynamoDB: the table's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table_name: Option<String>,
    /// The names of the resources the call concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_names: Option<Vec<String>>,
    /// EC2 instance information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ec2: Option<Ec2>,
    /// ECS container information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ecs: Option<Ecs>,
    /// EKS pod information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eks: Option<Eks>,
    /// Elastic Beanstalk environment information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elastic_beanstalk: Option<ElasticBeanstalk>,
    /// The CloudWatch Logs log groups the service writes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloudwatch_logs: Option<Vec<LogGroup>>,
    /// The SDK that recorded the segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xray: Option<XraySdk>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Aws {
    /// Takes every field that `other` sets, keeping the others, and adds its extra fields.
    ///
    /// ```
    /// use xray_sdk_types::document::Aws;
    ///
    /// let mut aws = Aws { region: Some("eu-west-1".into()), ..Aws::default() };
    /// aws.merge(Aws { operation: Some("GetItem".into()), ..Aws::default() });
    /// assert_eq!((aws.region.as_deref(), aws.operation.as_deref()), (Some("eu-west-1"), Some("GetItem")));
    /// ```
    pub fn merge(&mut self, other: Aws) {
        // Every field named, so that a field added later cannot be forgotten here.
        let Aws {
            account_id,
            operation,
            region,
            request_id,
            retries,
            queue_url,
            table_name,
            resource_names,
            ec2,
            ecs,
            eks,
            elastic_beanstalk,
            cloudwatch_logs,
            xray,
            extra,
        } = other;
        macro_rules! take {
            ($($field:ident),*) => {$( if $field.is_some() { self.$field = $field; } )*};
        }
        take!(
            account_id,
            operation,
            region,
            request_id,
            retries,
            queue_url,
            table_name,
            resource_names,
            ec2,
            ecs,
            eks,
            elastic_beanstalk,
            cloudwatch_logs,
            xray
        );
        self.extra.extend(extra);
    }
}

/// `aws.ec2`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ec2 {
    /// The instance id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// The availability zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// The instance type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_size: Option<String>,
    /// The AMI the instance runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ami_id: Option<String>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `aws.ecs`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Ecs {
    /// The container's host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The container id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// The container ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_arn: Option<String>,
    /// The ARN of the cluster the task runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_arn: Option<String>,
    /// The task's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// The family of the task definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_family: Option<String>,
    /// How the task was launched: `EC2`, `FARGATE` or `EXTERNAL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub launch_type: Option<String>,
    /// The availability zone of the task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `aws.eks`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Eks {
    /// The pod's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// The cluster's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    /// The container id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `aws.elastic_beanstalk`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ElasticBeanstalk {
    /// The environment's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment_name: Option<String>,
    /// The deployed application version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_label: Option<String>,
    /// The id of the last deployment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_id: Option<i64>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An entry of `aws.cloudwatch_logs`: a log group the service writes to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LogGroup {
    /// The log group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// The log group's ARN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// `aws.xray`: the SDK that recorded the segment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct XraySdk {
    /// The SDK's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk: Option<CompactString>,
    /// The SDK's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk_version: Option<CompactString>,
    /// Whether the segment was recorded by automatic instrumentation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_instrumentation: Option<bool>,
    /// The sampling rule that sampled the trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_rule_name: Option<CompactString>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The `service` block: the application and the runtime it runs on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Service {
    /// The application's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<CompactString>,
    /// The language runtime, such as `rust`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<CompactString>,
    /// The runtime's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime_version: Option<CompactString>,
    /// The compiler.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiler: Option<CompactString>,
    /// The compiler's version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compiler_version: Option<CompactString>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
