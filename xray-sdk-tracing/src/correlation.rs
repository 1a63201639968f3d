//! The trace id that log lines carry, under the key the other X-Ray SDKs use.

use std::fmt;

use xray_sdk_core::types::{EntityId, TraceId};
use xray_sdk_core::{Entity, context};

/// The key of the trace id in log lines, as the other X-Ray SDKs write it.
pub const LOG_KEY: &str = "AWS-XRAY-TRACE-ID";

/// The trace (and, when sampled, the entity) a log line belongs to. Displayed as
/// `AWS-XRAY-TRACE-ID: 1-5759e988-bd862e3fe1be46a994272793@53995c3f42cd8ad8`: the trace id, then `@` and the
/// id of the segment or subsegment the line was logged in, when that entity is recorded.
///
/// ```
/// use xray_sdk_tracing::XrayLogId;
///
/// match XrayLogId::current() {
///     Some(id) => println!("{id} order placed"),
///     None => println!("order placed"),
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XrayLogId {
    trace_id: TraceId,
    entity_id: Option<EntityId>,
}

impl XrayLogId {
    /// The log id of the current X-Ray entity (which, inside a span that [`XrayLayer`](crate::XrayLayer)
    /// traces, is the span's subsegment); `None` outside a trace.
    #[inline]
    pub fn current() -> Option<XrayLogId> {
        context::current().and_then(|e| XrayLogId::of(&e))
    }

    /// The log id of `entity`; `None` for an entity with no trace (the no-op trace id).
    pub fn of(entity: &Entity) -> Option<XrayLogId> {
        let trace_id = entity.trace_id();
        if trace_id.is_noop() {
            return None;
        }
        let id = entity.id();
        Some(XrayLogId {
            trace_id,
            entity_id: (entity.is_sampled() && !id.is_noop()).then_some(id),
        })
    }

    /// The trace id.
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The id of the entity the line was logged in, when it is recorded.
    pub fn entity_id(&self) -> Option<EntityId> {
        self.entity_id
    }
}

impl fmt::Display for XrayLogId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{LOG_KEY}: {}", self.trace_id)?;
        match self.entity_id {
            Some(id) => write!(f, "@{id}"),
            None => Ok(()),
        }
    }
}
