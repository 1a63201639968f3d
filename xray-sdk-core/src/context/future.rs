//! Context that follows a future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::entity::Entity;

pin_project_lite::pin_project! {
    /// A future that runs with an entity as its current entity. Made by [`FutureExt`].
    #[derive(Debug)]
    #[must_use = "futures do nothing unless polled"]
    pub struct Instrumented<F> {
        #[pin]
        inner: F,
        entity: Option<Entity>,
    }
}

/// Restores the thread's entity when a poll ends, even by panic, keeping the future's own.
struct PollScope<'a> {
    slot: &'a mut Option<Entity>,
    previous: Option<Option<Entity>>,
}

impl Drop for PollScope<'_> {
    fn drop(&mut self) {
        if let Some(previous) = self.previous.take() {
            *self.slot = super::replace(previous);
        }
    }
}

impl<F: Future> Future for Instrumented<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let previous = super::replace(this.entity.take());
        let _scope = PollScope {
            slot: this.entity,
            previous: Some(previous),
        };
        this.inner.poll(cx)
    }
}

/// Runs futures inside a trace.
pub trait FutureExt: Future + Sized {
    /// Runs this future with `entity` as its current entity.
    fn in_entity(self, entity: Entity) -> Instrumented<Self> {
        Instrumented {
            inner: self,
            entity: Some(entity),
        }
    }

    /// Runs this future with the entity that is current now (if any) as its current entity, wherever and
    /// whenever it is polled.
    fn in_current_entity(self) -> Instrumented<Self> {
        Instrumented {
            inner: self,
            entity: super::current(),
        }
    }
}

impl<F: Future> FutureExt for F {}

/// Spawns a tokio task that continues the current trace: subsegments it begins nest under the entity that is
/// current now. Each spawned task has a context of its own, so concurrent tasks never mix their subsegments.
#[cfg(feature = "tokio")]
pub fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    tokio::spawn(future.in_current_entity())
}
