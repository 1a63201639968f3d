//! Support for the `#[capture]` attribute. Not a public API: it may change in any release.

use std::any::Any;
use std::fmt::Display;

use crate::config::ContextMissing;
pub use crate::context::FutureExt;
use crate::context::{self, SubsegmentGuard};
use crate::entity::Entity;
use crate::recorder;

fn child(name: &str) -> Entity {
    match context::current() {
        Some(parent) => parent.child(name, None, None, false),
        None => {
            // A captured function cannot return the strategy's error in place of its own result: whatever the
            // strategy, the call goes on untraced, and RUNTIME_ERROR is reported in the log. The strategy is
            // the installed recorder's, or else the environment's: no recorder is built just to read it.
            let strategy = match recorder::installed() {
                Some(r) if !r.is_enabled() => return Entity::orphan_subsegment(),
                Some(r) => r.config().context_missing,
                None => ContextMissing::from_env(),
            };
            let what = format!("cannot begin subsegment {name:?}");
            if recorder::context_missing::<()>(strategy, &what).is_err() {
                log::error!("X-Ray: {what}: no current segment");
            }
            Entity::orphan_subsegment()
        }
    }
}

/// A subsegment of the current entity, made current until the guard drops.
pub fn begin(name: &str) -> SubsegmentGuard {
    SubsegmentGuard::attached(child(name))
}

/// A subsegment of the current entity, leaving the context alone; a drop before `end` is a fault.
pub fn begin_detached(name: &str) -> SubsegmentGuard {
    SubsegmentGuard::detached(child(name)).fault_if_dropped()
}

/// Records a caught panic with its message, then ends the subsegment.
pub fn record_panic(guard: SubsegmentGuard, payload: &(dyn Any + Send)) {
    guard
        .entity()
        .record_panic(crate::http::panic_message(payload));
    guard.end();
}

/// Wraps a function's result for recording.
pub struct Wrap<'a, T>(pub &'a T);

/// Records an `Err` whose type implements `std::error::Error`, with its source chain.
pub trait ViaError {
    /// Records the result on `entity`.
    fn xray_record(&self, entity: &Entity);
}

impl<T, E: std::error::Error + 'static> ViaError for &&Wrap<'_, Result<T, E>> {
    fn xray_record(&self, entity: &Entity) {
        if let Err(e) = self.0 {
            entity.add_error(e);
        }
    }
}

/// Records an `Err` that can only be displayed.
pub trait ViaDisplay {
    /// Records the result on `entity`.
    fn xray_record(&self, entity: &Entity);
}

impl<T, E: Display> ViaDisplay for &Wrap<'_, Result<T, E>> {
    fn xray_record(&self, entity: &Entity) {
        if let Err(e) = self.0 {
            entity.add_exception(xray_sdk_types::document::Exception {
                id: xray_sdk_types::EntityId::new(),
                message: Some(e.to_string()),
                type_name: Some(crate::entity::short_type_name(std::any::type_name::<E>())),
                remote: Some(false),
                truncated: None,
                skipped: None,
                cause: None,
                stack: Vec::new(),
            });
        }
    }
}

/// Records nothing: the result is not a `Result`.
pub trait ViaNothing {
    /// Does nothing.
    fn xray_record(&self, entity: &Entity);
}

impl<T> ViaNothing for Wrap<'_, T> {
    fn xray_record(&self, _: &Entity) {}
}
