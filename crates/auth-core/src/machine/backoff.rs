//! Seeded randomness and the retry delay.
//!
//! The core draws no OS randomness: the driver passes a seed, so the same
//! seed and the same inputs give the same decisions (tests rely on it).

use std::time::Duration;

/// SplitMix64: tiny, fast, and good enough for jitter (not for secrets).
#[derive(Clone, Debug)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform value in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        // 53 random bits make every f64 in [0, 1) on the grid equally likely.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The delay before attempt `failures + 1`: `initial * 2^(failures-1)`,
/// capped, then "equal jitter" — half of it fixed, half random — so retries
/// spread out but never come sooner than half the nominal delay.
pub(crate) fn delay(initial: Duration, max: Duration, failures: u32, rng: &mut Rng) -> Duration {
    let exp = failures.saturating_sub(1).min(30);
    let nominal = initial.saturating_mul(1u32 << exp).min(max);
    let half = nominal / 2;
    // f64 rounding of a huge `half` may come out a hair above it; capping
    // the random part at `half` keeps the sum within `max` and the
    // addition from overflowing with a `Duration::MAX` cap.
    let random = Duration::try_from_secs_f64(half.as_secs_f64() * rng.unit())
        .unwrap_or(half)
        .min(half);
    // Never zero (a 1 ns `initial` halves to nothing): a retry in the very
    // instant of the failure would be no backoff at all.
    half.saturating_add(random).max(Duration::from_nanos(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_and_cap() {
        let mut rng = Rng::new(7);
        let i = Duration::from_millis(100);
        let m = Duration::from_secs(1);
        for (n, nominal) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (4, 800),
            (5, 1000),
            (40, 1000),
        ] {
            let d = delay(i, m, n, &mut rng);
            let nominal = Duration::from_millis(nominal);
            assert!(d >= nominal / 2 && d <= nominal, "{n}: {d:?}");
        }
    }

    #[test]
    fn extreme_bounds_do_not_overflow() {
        let mut rng = Rng::new(3);
        for failures in [0, 1, 2, 31, 64, u32::MAX] {
            for (i, m) in [
                (Duration::MAX, Duration::MAX),
                (Duration::from_nanos(1), Duration::MAX),
                (Duration::from_secs(u64::MAX), Duration::MAX),
                (Duration::from_nanos(1), Duration::from_nanos(1)),
            ] {
                let d = delay(i, m, failures, &mut rng);
                assert!(d <= m, "{failures} {i:?} {m:?}: {d:?}");
                assert!(!d.is_zero(), "{failures} {i:?} {m:?}");
            }
        }
    }

    #[test]
    fn same_seed_same_numbers() {
        let (mut a, mut b) = (Rng::new(42), Rng::new(42));
        for _ in 0..100 {
            let x = a.unit();
            assert_eq!(x.to_bits(), b.unit().to_bits());
            assert!((0.0..1.0).contains(&x));
        }
    }
}
