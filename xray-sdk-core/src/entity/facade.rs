//! Facade segments: the sampled root of a tree that is never sent, standing for a segment someone else sends
//! (AWS Lambda sends the function's segment itself).

use std::sync::Arc;

use xray_sdk_types::{EntityId, TraceId};

use super::tree::SegmentTree;
use super::{Entity, Pipeline, Repr, new_document};

impl Entity {
    /// A sampled facade of `trace_id` whose id is `id` (the caller's `Parent`): it records nothing itself, and
    /// each of its subsegments leaves through `pipeline` as an independent subsegment once complete.
    pub(crate) fn facade(
        pipeline: &Arc<Pipeline>,
        trace_id: TraceId,
        id: EntityId,
        forwarded: &[(String, String)],
    ) -> Self {
        let mut doc = new_document(id, "facade", pipeline.now());
        doc.trace_id = Some(trace_id);
        let tree = SegmentTree::facade(Arc::clone(pipeline), trace_id, forwarded.to_vec(), doc);
        Entity {
            repr: Repr::Sampled {
                tree,
                node: 0,
                id,
                segment_id: id,
            },
        }
    }
}
