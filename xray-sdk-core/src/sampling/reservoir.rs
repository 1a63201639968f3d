//! A per-second allowance, lock-free: at most `limit` takes within one whole wall-clock second.

use std::sync::atomic::{AtomicU64, Ordering};

/// Counts takes within the current whole second; the count restarts when the second changes (in either
/// direction, so that a clock stepped back does not freeze it).
///
/// The second (its low 32 bits) and the count share one atomic word, so a take is one compare-and-swap.
#[derive(Debug, Default)]
pub(crate) struct PerSecondCounter {
    state: AtomicU64,
}

impl PerSecondCounter {
    /// Takes one if fewer than `limit` were taken during the second `now` (epoch seconds).
    #[inline]
    pub(crate) fn try_take(&self, now: i64, limit: u64) -> bool {
        if limit == 0 {
            return false;
        }
        let limit = limit.min(u64::from(u32::MAX));
        let second = u64::from(now as u32);
        let mut current = self.state.load(Ordering::Relaxed);
        loop {
            let taken = if current >> 32 == second {
                current & 0xFFFF_FFFF
            } else {
                0
            };
            if taken >= limit {
                return false;
            }
            let next = (second << 32) | (taken + 1);
            match self.state.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(seen) => current = seen,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_per_second() {
        let c = PerSecondCounter::default();
        assert!(c.try_take(100, 2));
        assert!(c.try_take(100, 2));
        assert!(!c.try_take(100, 2));
        assert!(c.try_take(101, 2));
        assert!(c.try_take(99, 1), "a clock stepped back starts a new count");
        assert!(!c.try_take(99, 0));
        assert!(c.try_take(0, 1), "the second 0 is a second like any other");
    }

    #[test]
    fn concurrent_takes_never_exceed_the_limit() {
        let c = PerSecondCounter::default();
        let taken = std::sync::atomic::AtomicU64::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        if c.try_take(5, 1000) {
                            taken.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        assert_eq!(taken.load(Ordering::Relaxed), 1000);
    }
}
