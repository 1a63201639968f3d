//! What a sampled segment's tree needs once the sampling decision is made: the clock that stamps its entities,
//! the emitter its documents go to, and the limits that shape them. The recorder makes one and shares it with
//! every tree it begins; nothing here knows of the recorder, its sampler or its configuration.

use xray_sdk_types::EntityId;

use crate::clock::SharedClock;
use crate::emitter::SharedEmitter;

/// The limits a tree and its entities keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Stream complete subtrees ahead once a segment holds more than this many subsegments.
    pub(crate) streaming_threshold: usize,
    /// The most backtrace frames recorded with an error.
    pub(crate) max_trace_back: usize,
    /// Unsampled entities get random ids rather than the no-op id.
    pub(crate) random_noop_ids: bool,
}

/// Where a sampled tree's documents go, and how its entities are stamped.
#[derive(Debug)]
pub(crate) struct Pipeline {
    pub(crate) clock: SharedClock,
    pub(crate) emitter: SharedEmitter,
    pub(crate) limits: Limits,
}

impl Pipeline {
    /// The time now, in epoch seconds.
    pub(crate) fn now(&self) -> f64 {
        xray_sdk_types::time::epoch_seconds(self.clock.now())
    }

    /// The id of a new unsampled entity: the no-op id, or a random one when asked (`AWS_XRAY_NOOP_ID=false`).
    pub(crate) fn noop_id(&self) -> EntityId {
        if self.limits.random_noop_ids {
            EntityId::new()
        } else {
            EntityId::NOOP
        }
    }
}
