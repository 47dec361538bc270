//! Rate limits: a token bucket per user, per API key and per login address, in this process.
//!
//! Each API process limits on its own, so N processes behind a balancer allow up to N times the rate. That is the
//! usual trade (no shared state on the hot path); the rate is a guard against runaway clients, not billing.

use crate::error::ApiError;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    /// Tokens added per second; 0 disables limiting.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// Password attempts allowed per e-mail address per minute (and saved up at most): slow enough that guessing is
/// hopeless, generous enough for a person who mistypes.
pub const LOGIN_PER_MINUTE: f64 = 10.0;

/// Buckets untouched this long are full again and can be forgotten.
const IDLE: Duration = Duration::from_secs(600);

impl RateLimiter {
    /// `per_second` requests a second, in bursts of twice that.
    pub fn new(per_second: u32) -> Self {
        Self::with(per_second as f64, 2.0 * per_second as f64)
    }

    /// `rate` tokens a second, at most `burst` saved up.
    pub fn with(rate: f64, burst: f64) -> Self {
        RateLimiter { rate, burst, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token for `key`, or says how long to wait for one.
    pub fn check(&self, key: &str) -> Result<(), ApiError> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), ApiError> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        if buckets.len() > 100_000 {
            buckets.retain(|_, b| now.duration_since(b.at) < IDLE);
        }
        let b = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: self.burst, at: now });
        b.tokens = (b.tokens + now.duration_since(b.at).as_secs_f64() * self.rate).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(ApiError::RateLimited(
                Duration::from_secs_f64((1.0 - b.tokens) / self.rate).max(Duration::from_secs(1)),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_key() {
        let l = RateLimiter::new(5);
        let t = Instant::now();
        for _ in 0..10 {
            l.check_at("a", t).unwrap();
        }
        assert!(matches!(l.check_at("a", t), Err(ApiError::RateLimited(_))));
        // Another key has its own bucket.
        l.check_at("b", t).unwrap();
        // A fifth of a second later one token is back, and only one.
        let later = t + Duration::from_millis(200);
        l.check_at("a", later).unwrap();
        assert!(l.check_at("a", later).is_err());
    }

    #[test]
    fn login_attempts_refill_slowly() {
        let l = RateLimiter::with(LOGIN_PER_MINUTE / 60.0, LOGIN_PER_MINUTE);
        let t = Instant::now();
        for _ in 0..LOGIN_PER_MINUTE as usize {
            l.check_at("login:a", t).unwrap();
        }
        let Err(ApiError::RateLimited(wait)) = l.check_at("login:a", t) else { panic!("the eleventh is refused") };
        assert_eq!(wait.as_secs(), 6, "one attempt comes back every six seconds");
        l.check_at("login:a", t + Duration::from_millis(6_500)).unwrap();
    }

    #[test]
    fn zero_disables() {
        let l = RateLimiter::new(0);
        for _ in 0..1000 {
            l.check("a").unwrap();
        }
    }
}
