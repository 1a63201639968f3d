//! Which entity each entered span made current on this thread, and what to restore when it exits.
//!
//! `tracing` enters and exits a span on one thread, but an instrumented future is entered on every poll, on
//! whichever thread polls it, so one span may be entered on several threads at once. Each thread keeps its own
//! stack of the spans it entered, with the context guard that restores what was current before.

use std::cell::RefCell;

use tracing_core::span;
use xray_sdk_core::Entity;
use xray_sdk_core::context::{self, EnterGuard};

thread_local! {
    static ENTERED: RefCell<Vec<(span::Id, EnterGuard)>> = const { RefCell::new(Vec::new()) };
}

/// Makes `entity` current for the span `id`, entered on this thread.
pub(crate) fn push(id: &span::Id, entity: Entity) {
    let guard = context::enter(entity);
    // If the stack is unavailable (the thread is ending), the guard restores the context at once.
    let _ = ENTERED.try_with(|stack| {
        if let Ok(mut stack) = stack.try_borrow_mut() {
            stack.push((id.clone(), guard));
        }
    });
}

/// The span `id` exited on this thread: gives back what was current when it was entered. Exits out of order
/// (rare: guards dropped in another order than they were made) take the span's own entry wherever it is.
pub(crate) fn pop(id: &span::Id) {
    let guard = ENTERED
        .try_with(|stack| {
            let mut stack = stack.try_borrow_mut().ok()?;
            let at = stack.iter().rposition(|(entered, _)| entered == id)?;
            Some(stack.remove(at).1)
        })
        .ok()
        .flatten();
    // Dropped outside the borrow: restoring the context runs no code of ours, but keep the borrow short anyway.
    drop(guard);
}
