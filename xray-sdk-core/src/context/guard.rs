//! Guards that end their entity when dropped, and give the context back as it was.

use std::ops::Deref;
use std::time::SystemTime;

use crate::context;
use crate::entity::Entity;

/// How a guard relates to the current context.
#[derive(Debug)]
enum Scope {
    /// The guard made its entity current; on end it restores what was current before.
    Attached { previous: Option<Entity> },
    /// The guard leaves the context alone.
    Detached,
}

#[derive(Debug)]
struct GuardInner {
    entity: Entity,
    scope: Scope,
    state: State,
}

/// Where a guard stands. A whole word rather than two flags: guards are moved often, and a copy that reads back
/// single bytes with a wider load stalls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
enum State {
    Open,
    /// Set by the async helpers until their future completes: a drop before then means the future was
    /// cancelled, which is recorded as a fault.
    OpenFaultIfDropped,
    Ended,
}

impl GuardInner {
    /// Ends the entity once. The unsampled case (restoring the context at most) stays small enough to inline.
    #[inline]
    fn finish(&mut self, end_time: Option<f64>) {
        let state = std::mem::replace(&mut self.state, State::Ended);
        if state == State::Ended {
            return;
        }
        if self.entity.is_sampled() {
            self.finish_sampled(end_time, state == State::OpenFaultIfDropped);
        } else if let Scope::Attached { previous } = &mut self.scope
            && context::is_current(&self.entity)
        {
            // Nothing to end: what was current before becomes current again.
            let next = match previous.take() {
                Some(p) if p.is_sampled() => p.open_self_or_ancestor(),
                other => other,
            };
            context::replace(next);
        }
    }

    /// Ends a sampled entity, and gives the context back. What becomes current again is worked out before the
    /// entity ends, while what it waits on is still in its tree. Guards dropped out of order: what was current
    /// before may have ended meanwhile, and an ended entity must not become current again; its nearest open
    /// ancestor does. An entity open before this one ended is still open afterwards: ending a child never ends
    /// its ancestors.
    #[inline(never)]
    fn finish_sampled(&mut self, end_time: Option<f64>, cancelled: bool) {
        let restore = match &mut self.scope {
            Scope::Attached { previous } if context::is_current(&self.entity) => {
                Some(previous.take().and_then(|p| p.open_self_or_ancestor()))
            }
            _ => None,
        };
        self.end_sampled(end_time, cancelled);
        if let Some(next) = restore {
            context::replace(next);
        }
    }

    /// The guarded work completed: ending now is not a cancellation.
    fn completed(&mut self) {
        if self.state == State::OpenFaultIfDropped {
            self.state = State::Open;
        }
    }

    #[inline(never)]
    fn end_sampled(&mut self, end_time: Option<f64>, cancelled: bool) {
        if std::thread::panicking() {
            self.entity.record_panic(None);
        } else if cancelled {
            self.entity.set_fault();
            self.entity.with_document(|doc| {
                doc.metadata
                    .get_or_insert_with("xray", Default::default)
                    .insert(
                        "cancelled",
                        xray_sdk_types::document::MetadataValue::from(serde_json::Value::Bool(
                            true,
                        )),
                    );
            });
        }
        match end_time {
            Some(t) => self.entity.end_at_seconds(t),
            None => self.entity.end(),
        }
    }
}

macro_rules! guard_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug)]
        #[must_use = "the entity ends when the guard is dropped"]
        pub struct $name(GuardInner);

        impl $name {
            #[inline]
            pub(crate) fn attached(entity: Entity) -> Self {
                let previous = context::replace(Some(entity.clone()));
                $name(GuardInner {
                    entity,
                    scope: Scope::Attached { previous },
                    state: State::Open,
                })
            }

            #[inline]
            pub(crate) fn detached(entity: Entity) -> Self {
                $name(GuardInner {
                    entity,
                    scope: Scope::Detached,
                    state: State::Open,
                })
            }

            pub(crate) fn fault_if_dropped(mut self) -> Self {
                self.0.state = State::OpenFaultIfDropped;
                self
            }

            /// The entity.
            pub fn entity(&self) -> &Entity {
                &self.0.entity
            }

            /// Ends the entity now.
            pub fn end(mut self) {
                self.0.completed();
                self.0.finish(None);
            }

            /// Ends the entity at an explicit time.
            pub fn end_at(mut self, end_time: SystemTime) {
                self.0.completed();
                self.0.finish(Some(xray_sdk_types::time::epoch_seconds(end_time)));
            }

            /// Gives up the guard without ending the entity, which stays current if it is: end it later with
            /// [`Entity::end`] or the recorder's `end_subsegment` / `end_segment`.
            pub fn into_entity(mut self) -> Entity {
                self.0.state = State::Ended;
                self.0.entity.clone()
            }
        }

        impl Deref for $name {
            type Target = Entity;
            fn deref(&self) -> &Entity {
                &self.0.entity
            }
        }

        impl Drop for $name {
            /// Ends the entity. A panic unwinding through the guard is recorded as a fault.
            #[inline]
            fn drop(&mut self) {
                self.0.finish(None);
            }
        }
    };
}

guard_type!(
    /// A segment that ends when this guard is dropped. While it lives (and unless it was begun detached),
    /// the segment is the current entity.
    SegmentGuard
);

guard_type!(
    /// A subsegment that ends when this guard is dropped. While it lives (and unless it was begun detached),
    /// the subsegment is the current entity; afterwards its parent is current again.
    SubsegmentGuard
);

impl Entity {
    /// Begins a subsegment of this entity (not of the current context), for work handed to another thread or
    /// task. The guard ends it on drop; it does not change the current context.
    ///
    /// ```
    /// # let recorder = xray_sdk_core::Recorder::builder()
    /// #     .emitter(xray_sdk_core::emitter::MemoryEmitter::new()).build().unwrap();
    /// let segment = recorder.begin_segment("batch");
    /// let entity = segment.entity().clone();
    /// std::thread::spawn(move || {
    ///     let _work = entity.begin_subsegment("worker");
    /// })
    /// .join()
    /// .unwrap();
    /// ```
    pub fn begin_subsegment(&self, name: &str) -> SubsegmentGuard {
        SubsegmentGuard::detached(self.child(name, None, None, false))
    }
}
