//! The current entity: which segment or subsegment new subsegments, annotations and downstream calls belong to.
//!
//! In synchronous code the current entity is thread-local. In async code it follows a future across polls and
//! worker threads: [`Instrumented`] (made by [`FutureExt::in_entity`] or [`FutureExt::in_current_entity`])
//! installs its entity for the duration of each poll and takes back whatever is current when the poll
//! returns, so subsegments opened inside the future stay current across `.await` points. Tasks spawned with
//! `spawn` (feature `tokio`) continue the trace that was current when they were spawned, each in a context of its own, so that
//! concurrent tasks nest their subsegments correctly under one segment.

mod future;
mod guard;

#[cfg(feature = "tokio")]
pub use future::spawn;
pub use future::{FutureExt, Instrumented};
pub use guard::{SegmentGuard, SubsegmentGuard};

use std::cell::RefCell;

use crate::entity::Entity;

// Every access borrows for an instant and calls no other code meanwhile, so the borrows cannot overlap; they
// are still tried rather than asserted, so that tracing cannot panic the host.
thread_local! {
    static CURRENT: RefCell<Option<Entity>> = const { RefCell::new(None) };
}

/// The entity current on this thread (or in this instrumented future).
#[inline]
pub fn current() -> Option<Entity> {
    CURRENT
        .try_with(|c| c.try_borrow().ok().and_then(|c| c.clone()))
        .ok()
        .flatten()
}

/// What `f` makes of the current entity, borrowed rather than cloned, when it is sampled; `None` when there is
/// none or it is unsampled. `f` must not use the context itself.
#[inline]
pub(crate) fn with_current_sampled<R>(f: impl FnOnce(&Entity) -> R) -> Option<R> {
    CURRENT
        .try_with(|c| {
            c.try_borrow()
                .ok()
                .and_then(|c| c.as_ref().filter(|e| e.is_sampled()).map(f))
        })
        .ok()
        .flatten()
}

/// An unsampled child of the current entity, when the current entity is unsampled.
#[inline]
pub(crate) fn unsampled_child() -> Option<Entity> {
    CURRENT
        .try_with(|c| {
            c.try_borrow()
                .ok()
                .and_then(|c| c.as_ref().and_then(Entity::unsampled_child))
        })
        .ok()
        .flatten()
}

/// Makes `entity` current and returns what was current before.
#[inline]
pub(crate) fn replace(entity: Option<Entity>) -> Option<Entity> {
    CURRENT
        .try_with(|c| {
            c.try_borrow_mut()
                .ok()
                .and_then(|mut c| std::mem::replace(&mut *c, entity))
        })
        .ok()
        .flatten()
}

/// Whether `entity` is the current entity.
#[inline]
pub(crate) fn is_current(entity: &Entity) -> bool {
    CURRENT
        .try_with(|c| c.try_borrow().is_ok_and(|c| c.as_ref() == Some(entity)))
        .unwrap_or(false)
}

/// Makes an entity current until dropped, then restores what was current before. Made by [`enter`].
#[must_use = "the entity is current only while the guard lives"]
#[derive(Debug)]
pub struct EnterGuard {
    previous: Option<Entity>,
}

impl Drop for EnterGuard {
    fn drop(&mut self) {
        replace(self.previous.take());
    }
}

/// Makes `entity` current on this thread until the returned guard is dropped: the way to continue a trace on
/// a thread of your own.
///
/// ```
/// # use xray_sdk_core::context;
/// # fn demo(entity: xray_sdk_core::Entity) {
/// std::thread::spawn(move || {
///     let _in_trace = context::enter(entity);
///     // subsegments begun here nest under `entity`
/// });
/// # }
/// ```
pub fn enter(entity: Entity) -> EnterGuard {
    EnterGuard {
        previous: replace(Some(entity)),
    }
}
