//! The random draws of the samplers: SplitMix64 streams, per thread or, for tests, one seeded stream.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

thread_local! {
    /// This thread's stream for the samplers without a seed; 0 until seeded from the operating system.
    static THREAD_STATE: Cell<u64> = const { Cell::new(0) };
}

/// Uniform draws in `[0, 1)` (SplitMix64), shared between threads without a lock. Not for cryptography.
///
/// Without a seed, each thread draws from its own stream, seeded from the operating system's randomness: a
/// draw touches no shared memory. With a seed, all threads share one stream, which advances one atomic
/// counter per draw, so that single-threaded runs repeat.
#[derive(Debug)]
pub(crate) struct SamplingRng {
    /// The shared seeded stream; `None` for the per-thread streams.
    seeded: Option<AtomicU64>,
}

impl SamplingRng {
    /// A stream that starts at `seed`: the same seed gives the same draws.
    pub(crate) fn seeded(seed: u64) -> Self {
        SamplingRng {
            seeded: Some(AtomicU64::new(seed)),
        }
    }

    /// Per-thread streams seeded from the operating system's randomness.
    pub(crate) fn from_entropy() -> Self {
        SamplingRng { seeded: None }
    }

    /// Either of the above.
    pub(crate) fn new(seed: Option<u64>) -> Self {
        seed.map_or_else(Self::from_entropy, Self::seeded)
    }

    /// The next 64 random bits.
    #[inline]
    pub(crate) fn next_u64(&self) -> u64 {
        let state = match &self.seeded {
            Some(state) => state
                .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
                .wrapping_add(GOLDEN_GAMMA),
            None => THREAD_STATE
                .try_with(|s| {
                    let mut state = s.get();
                    if state == 0 {
                        state = rand::random();
                    }
                    state = state.wrapping_add(GOLDEN_GAMMA);
                    s.set(state);
                    state
                })
                // The thread is exiting and its stream is gone.
                .unwrap_or_else(|_| rand::random()),
        };
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in `[0, 1)` with 53 bits of precision.
    #[inline]
    pub(crate) fn next_f64(&self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_streams_repeat_and_stay_in_range() {
        let a = SamplingRng::seeded(7);
        let b = SamplingRng::seeded(7);
        let mut sum = 0.0;
        for _ in 0..10_000 {
            let x = a.next_f64();
            assert_eq!(x, b.next_f64());
            assert!((0.0..1.0).contains(&x));
            sum += x;
        }
        let mean = sum / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
    }

    #[test]
    fn thread_streams_stay_in_range_and_differ_between_threads() {
        let rng = SamplingRng::from_entropy();
        let draws = || (0..10_000).map(|_| rng.next_f64()).collect::<Vec<_>>();
        let here = draws();
        let there = std::thread::scope(|s| s.spawn(draws).join().unwrap());
        assert_ne!(here, there);
        for x in here.iter().chain(&there) {
            assert!((0.0..1.0).contains(x));
        }
        let mean = here.iter().sum::<f64>() / here.len() as f64;
        assert!((mean - 0.5).abs() < 0.02, "mean {mean}");
    }
}
