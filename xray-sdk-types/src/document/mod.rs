//! Segment documents: what an SDK sends to the daemon, and what the daemon stores.
//!
//! One type, [`Document`], describes a segment, a subsegment embedded in its parent's `subsegments`, and an
//! independent subsegment (sent on its own, with `type: "subsegment"`, `trace_id` and `parent_id`). Fields keep
//! the names of the X-Ray segment-document schema, absent fields are left out, and fields serialize in a fixed
//! order. Fields that no type here names are kept in `extra` maps, so that documents from any SDK parse and
//! serialize back to the same JSON value. For the same reason, a whole number of seconds in `start_time` or
//! `end_time` is written as a JSON integer (`1500000001`), as the Go SDK writes it and as Python writes an integer
//! time; other times are written as the shortest decimal that reads back the same `f64`.

mod annotations;
mod aws;
mod cause;
mod http;
mod map;
mod metadata;
mod sql;
mod write;

pub use annotations::AnnotationValue;
pub use aws::{Aws, Ec2, Ecs, Eks, ElasticBeanstalk, LogGroup, Service, XraySdk};
pub use cause::{Cause, CauseDetails, Exception, StackFrame};
pub use http::{Http, HttpRequest, HttpResponse};
pub use map::OrderedMap;
pub use metadata::MetadataValue;
pub use sql::Sql;

use compact_str::CompactString;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::id::{EntityId, TraceId};

/// The metadata of an entity: namespace → key → any JSON value.
pub type Metadata = OrderedMap<OrderedMap<MetadataValue>>;

/// The `type` field: present, as `subsegment`, on subsegments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentType {
    /// A subsegment.
    Subsegment,
}

/// The `namespace` of a subsegment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Namespace {
    /// A call to an AWS service through an AWS SDK.
    Aws,
    /// A call to another downstream service.
    Remote,
    /// Work done inside this service.
    Local,
}

impl Namespace {
    /// The text form: `aws`, `remote` or `local`.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Namespace::Aws => "aws",
            Namespace::Remote => "remote",
            Namespace::Local => "local",
        }
    }
}

/// A segment or subsegment document.
///
/// The large optional blocks (`http`, `aws`, `sql`, `service`) are boxed so that a document stays small to
/// move while it is recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    /// The entity's id.
    pub id: EntityId,
    /// The service name (segments) or the operation name (subsegments); stored inline up to 24 bytes.
    pub name: CompactString,
    /// Start, in seconds since the Unix epoch, with microsecond precision.
    #[serde(serialize_with = "seconds::serialize")]
    pub start_time: f64,
    /// End, in seconds since the Unix epoch. Absent while the entity is in progress.
    #[serde(
        default,
        serialize_with = "seconds::serialize_option",
        skip_serializing_if = "Option::is_none"
    )]
    pub end_time: Option<f64>,
    /// `true` while the entity is open and sent without `end_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_progress: Option<bool>,
    /// The trace id: required on segments and independent subsegments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<TraceId>,
    /// The id of the parent: the caller's subsegment for a segment, the parent entity for a subsegment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<EntityId>,
    /// `subsegment` on subsegments, absent on segments.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<DocumentType>,
    /// The kind of work a subsegment records.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<Namespace>,
    /// The type of AWS resource the service runs on, such as `AWS::ECS::Container`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<String>,
    /// The user who made the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The ARN of the AWS resource that ran the code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_arn: Option<String>,
    /// Subsegments: whether the downstream call is traced as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traced: Option<bool>,
    /// Subsegments: ids of sibling subsegments that had to finish before this one began.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub precursor_ids: Vec<EntityId>,
    /// The HTTP request and response.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<Http>>,
    /// AWS resource or call information.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<Box<Aws>>,
    /// A database query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sql: Option<Box<Sql>>,
    /// The application and its runtime.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Box<Service>>,
    /// Indexed key-value pairs.
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub annotations: OrderedMap<AnnotationValue>,
    /// Unindexed data, by namespace.
    #[serde(default, skip_serializing_if = "OrderedMap::is_empty")]
    pub metadata: Metadata,
    /// A client error (4xx) happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<bool>,
    /// The request was throttled (429).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<bool>,
    /// A server error (5xx) happened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<bool>,
    /// The recorded errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<Cause>,
    /// Embedded subsegments, each in a box: a finished subsegment joins its parent, and a sent segment's
    /// documents are reused, by moving pointers rather than whole documents.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subsegments: Vec<Box<Document>>,
    /// Every other field, as received.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// How `start_time` and `end_time` are written.
mod seconds {
    use serde::Serializer;

    /// 2^53: below it, every whole `f64` is exactly an `i64`.
    const EXACT_INTEGERS: f64 = 9_007_199_254_740_992.0;

    /// A whole number of seconds as an integer, any other time as a decimal.
    pub(super) fn serialize<S: Serializer>(t: &f64, serializer: S) -> Result<S::Ok, S::Error> {
        if t.fract() == 0.0 && t.abs() < EXACT_INTEGERS {
            // Exact: the value is whole and within the range of exact integers.
            serializer.serialize_i64(*t as i64)
        } else {
            serializer.serialize_f64(*t)
        }
    }

    /// [`serialize`] for an optional time; `None` is skipped before this is called.
    pub(super) fn serialize_option<S: Serializer>(
        t: &Option<f64>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => serialize(t, serializer),
            None => serializer.serialize_none(),
        }
    }
}

impl Document {
    /// A document with an id, a name and a start time, and nothing else.
    pub fn new(id: EntityId, name: impl Into<CompactString>, start_time: f64) -> Self {
        Document {
            id,
            name: name.into(),
            start_time,
            end_time: None,
            in_progress: None,
            trace_id: None,
            parent_id: None,
            kind: None,
            namespace: None,
            origin: None,
            user: None,
            resource_arn: None,
            traced: None,
            precursor_ids: Vec::new(),
            http: None,
            aws: None,
            sql: None,
            service: None,
            annotations: OrderedMap::new(),
            metadata: OrderedMap::new(),
            error: None,
            throttle: None,
            fault: None,
            cause: None,
            subsegments: Vec::new(),
            extra: Map::new(),
        }
    }

    /// Makes this document what [`Document::new`] would make, keeping the room its annotations, metadata and
    /// subsegments took (up to a bound) so that a recorder can reuse it without allocating again. Every field
    /// is reset: nothing of the previous entity remains.
    pub fn reset(&mut self, id: EntityId, name: &str, start_time: f64) {
        // Kept: about what a busy entity holds; larger collections are freed.
        const KEEP_ENTRIES: usize = 16;
        const KEEP_SUBSEGMENTS: usize = 16;
        // Every field named, so that a field added later cannot be forgotten here.
        let Document {
            id: doc_id,
            name: doc_name,
            start_time: doc_start,
            end_time,
            in_progress,
            trace_id,
            parent_id,
            kind,
            namespace,
            origin,
            user,
            resource_arn,
            traced,
            precursor_ids,
            http,
            aws,
            sql,
            service,
            annotations,
            metadata,
            error,
            throttle,
            fault,
            cause,
            subsegments,
            extra,
        } = self;
        *doc_id = id;
        *doc_name = CompactString::new(name);
        *doc_start = start_time;
        *end_time = None;
        *in_progress = None;
        *trace_id = None;
        *parent_id = None;
        *kind = None;
        *namespace = None;
        *origin = None;
        *user = None;
        *resource_arn = None;
        *traced = None;
        *precursor_ids = Vec::new();
        *http = None;
        *aws = None;
        *sql = None;
        *service = None;
        annotations.clear_keeping(KEEP_ENTRIES);
        metadata.clear_keeping(KEEP_ENTRIES);
        *error = None;
        *throttle = None;
        *fault = None;
        *cause = None;
        if subsegments.capacity() > KEEP_SUBSEGMENTS {
            *subsegments = Vec::new();
        } else {
            subsegments.clear();
        }
        if !extra.is_empty() {
            *extra = Map::new();
        }
    }

    /// Whether this is a subsegment (`type: "subsegment"`).
    pub fn is_subsegment(&self) -> bool {
        self.kind == Some(DocumentType::Subsegment)
    }

    /// The `http` block, created when absent.
    pub fn http_mut(&mut self) -> &mut Http {
        self.http.get_or_insert_with(Box::default)
    }

    /// The `aws` block, created when absent.
    pub fn aws_mut(&mut self) -> &mut Aws {
        self.aws.get_or_insert_with(Box::default)
    }

    /// Serializes to compact JSON.
    ///
    /// # Errors
    /// Only if a metadata value cannot be written as JSON, which `serde_json::Value` never causes.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Parses a JSON document.
    ///
    /// # Errors
    /// A [`serde_json::Error`] that says which field is wrong, for text that is not a document.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The number of entities in this document: itself and every nested subsegment.
    pub fn entity_count(&self) -> usize {
        1 + self
            .subsegments
            .iter()
            .map(|s| s.entity_count())
            .sum::<usize>()
    }
}
