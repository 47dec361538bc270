//! Retry policy: exponential backoff with jitter.
//!
//! Jitter spreads retries of jobs that failed together (a remote outage) so
//! they do not come back as one thundering herd.

use rand::Rng;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Delay before the second attempt.
    pub base: Duration,
    /// Upper bound on any delay.
    pub max: Duration,
    /// Fraction of the delay that is randomised, 0.0 – 1.0. With 0.25 the
    /// delay is uniformly drawn from [0.75 d, d].
    pub jitter: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { base: Duration::from_secs(1), max: Duration::from_secs(600), jitter: 0.25 }
    }
}

impl RetryPolicy {
    /// The delay after failed attempt number `attempt` (1-based).
    pub fn delay(&self, attempt: i32, rng: &mut impl Rng) -> Duration {
        let exp = attempt.saturating_sub(1).clamp(0, 30) as u32;
        let full = self.base.saturating_mul(1u32 << exp.min(30)).min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let factor = 1.0 - jitter * rng.gen::<f64>();
        full.mul_f64(factor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn grows_exponentially_within_jitter_and_caps() {
        let p = RetryPolicy { base: Duration::from_millis(100), max: Duration::from_secs(2), jitter: 0.25 };
        let mut rng = StdRng::seed_from_u64(7);
        for attempt in 1..=10 {
            let full = (100u64 << (attempt - 1)).min(2000);
            for _ in 0..100 {
                let d = p.delay(attempt, &mut rng).as_millis() as u64;
                assert!(d <= full && d * 4 >= full * 3, "attempt {attempt}: {d}ms vs {full}ms");
            }
        }
    }

    #[test]
    fn no_jitter_is_exact() {
        let p = RetryPolicy { base: Duration::from_millis(10), max: Duration::from_secs(1), jitter: 0.0 };
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(p.delay(1, &mut rng), Duration::from_millis(10));
        assert_eq!(p.delay(4, &mut rng), Duration::from_millis(80));
        assert_eq!(p.delay(40, &mut rng), Duration::from_secs(1));
    }
}
