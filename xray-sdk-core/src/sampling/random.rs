//! The random draws of the samplers: a lock-free SplitMix64 stream, seedable for tests.

use std::sync::atomic::{AtomicU64, Ordering};

const GOLDEN_GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Uniform draws in `[0, 1)`, shared between threads without a lock: each draw advances one atomic counter
/// and mixes it (SplitMix64), so that concurrent callers get distinct values. Not for cryptography.
#[derive(Debug)]
pub(crate) struct SamplingRng {
    state: AtomicU64,
}

impl SamplingRng {
    /// A stream that starts at `seed`: the same seed gives the same draws.
    pub(crate) fn seeded(seed: u64) -> Self {
        SamplingRng {
            state: AtomicU64::new(seed),
        }
    }

    /// A stream seeded from the operating system's randomness.
    pub(crate) fn from_entropy() -> Self {
        Self::seeded(rand::random())
    }

    /// Either of the above.
    pub(crate) fn new(seed: Option<u64>) -> Self {
        seed.map_or_else(Self::from_entropy, Self::seeded)
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&self) -> u64 {
        let mut z = self
            .state
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform draw in `[0, 1)` with 53 bits of precision.
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
}
