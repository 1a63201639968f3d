//! The `cause` block: recorded errors.

use serde::{Deserialize, Serialize};

use crate::id::EntityId;

/// The `cause` of an entity: the id of an exception recorded on a descendant, or the exceptions themselves.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Cause {
    /// A reference to an exception recorded on a subsegment of this entity.
    ExceptionId(EntityId),
    /// The exceptions recorded on this entity.
    Details(CauseDetails),
}

/// The exceptions of a [`Cause`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CauseDetails {
    /// The working directory of the process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
    /// The source paths of the libraries (modules) in use.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<String>,
    /// The exceptions, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<Exception>,
}

/// One recorded error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exception {
    /// A 16-hex-digit id, unique in the trace.
    pub id: EntityId,
    /// The error's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The error's type name.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_name: Option<String>,
    /// Whether the error came from a downstream service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<bool>,
    /// How many stack frames were left out of `stack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncated: Option<u32>,
    /// How many exceptions caused by this one were left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<u32>,
    /// The id of the exception that caused this one (the next one in the `source()` chain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<EntityId>,
    /// Stack frames, innermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stack: Vec<StackFrame>,
}

/// One frame of an [`Exception`]'s stack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StackFrame {
    /// The source file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The line in the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    /// The function.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}
