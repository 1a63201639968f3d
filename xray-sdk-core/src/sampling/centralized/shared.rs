//! The rules in effect, shared between the poller, which replaces them, and the decisions, which read them
//! without taking a lock.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::cache::RuleCache;

/// Tells the [`SharedRules`] of different samplers apart in the per-thread snapshots (an address could be
/// reused by a later sampler).
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One thread's copy of the pointer to the rules of one sampler.
#[derive(Debug)]
struct Snapshot {
    owner: u64,
    generation: u64,
    rules: Arc<RuleCache>,
}

thread_local! {
    /// The rules this thread last decided with. One slot: a thread that alternates between samplers takes
    /// the lock once per switch. A sampler's rules may stay here after it is dropped, until the thread
    /// decides with another sampler or exits.
    static SNAPSHOT: RefCell<Option<Snapshot>> = const { RefCell::new(None) };
}

/// The rules in effect, behind a lock that only the poller writes, with a generation number that tells
/// each thread whether its snapshot is current: in the usual case a decision reads one counter and no lock,
/// and writes to no shared memory.
#[derive(Debug)]
pub(crate) struct SharedRules {
    id: u64,
    /// Advanced after each replacement.
    generation: AtomicU64,
    current: RwLock<Arc<RuleCache>>,
}

impl Default for SharedRules {
    fn default() -> Self {
        SharedRules {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
            current: RwLock::new(Arc::default()),
        }
    }
}

impl SharedRules {
    /// The rules in effect now.
    pub(crate) fn load(&self) -> Arc<RuleCache> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Makes `rules` the rules in effect.
    pub(crate) fn replace(&self, rules: RuleCache) {
        let old = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(PoisonError::into_inner),
            Arc::new(rules),
        );
        self.generation.fetch_add(1, Ordering::Release);
        drop(old);
    }

    /// `f` applied to the rules in effect, read from this thread's snapshot, which is renewed first if the
    /// rules were replaced since it was taken. (Should `f` itself decide with a centralized sampler, that
    /// inner decision takes the lock instead.)
    #[inline]
    pub(crate) fn with<R>(&self, f: impl Fn(&RuleCache) -> R) -> R {
        // Read before the rules: a replacement in between is seen at the next call.
        let generation = self.generation.load(Ordering::Acquire);
        let from_snapshot = SNAPSHOT.try_with(|slot| {
            let mut slot = slot.try_borrow_mut().ok()?;
            let current = slot
                .as_ref()
                .is_some_and(|s| s.owner == self.id && s.generation == generation);
            if !current {
                *slot = Some(Snapshot {
                    owner: self.id,
                    generation,
                    rules: self.load(),
                });
            }
            slot.as_ref().map(|s| f(&s.rules))
        });
        match from_snapshot {
            Ok(Some(r)) => r,
            // The thread is exiting, or this is a decision within a decision.
            _ => f(&self.load()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshots_follow_replacements_and_samplers() {
        let a = SharedRules::default();
        let b = SharedRules::default();
        assert_eq!(a.with(|c| c.fetched_at), None);
        a.replace(RuleCache::new(Vec::new(), Some(1)));
        assert_eq!(a.with(|c| c.fetched_at), Some(1));
        assert_eq!(b.with(|c| c.fetched_at), None);
        assert_eq!(a.with(|c| c.fetched_at), Some(1));
        a.replace(RuleCache::new(Vec::new(), Some(2)));
        assert_eq!(a.with(|c| c.fetched_at), Some(2));
        assert_eq!(
            a.with(|outer| (outer.fetched_at, b.with(|inner| inner.fetched_at))),
            (Some(2), None),
            "a reading within a reading"
        );
        let other_thread = std::thread::scope(|s| s.spawn(|| a.with(|c| c.fetched_at)).join());
        assert_eq!(other_thread.unwrap(), Some(2));
    }
}
