//! Rate limits and login throttles, in this process, with state bounded whatever clients send.
//!
//! Two kinds of limit:
//! - [`RateLimiter`]: requests per second per key (a user, or a client address for anonymous requests), on
//!   `governor`'s keyed GCRA limiter;
//! - [`FailureThrottle`]: failed password attempts per key (a client address, or an address and an account), which
//!   must be *looked at* before an attempt and *counted* only when the attempt fails, so that a correct password from a
//!   client that has not been failing always goes through. `governor` has no way to look without counting, so this one
//!   is a small GCRA of its own (the same arithmetic).
//!
//! Neither keeps what a client sent: keys are hashed to 64 bits with a per-process random SipHash key (an attacker
//! cannot aim collisions), so an entry costs the same for a 5-byte e-mail address as for a 1 MiB one. Both are bounded:
//! past [`MAX_KEYS`] entries, the ones that are back to a full bucket (they hold no information) are dropped, and if
//! that is not enough the map is cleared, which errs on the side of letting clients through rather than of growing.
//!
//! Each API process limits on its own, so N processes behind a balancer allow up to N times the rate. That is the
//! usual trade (no shared state on the hot path); the rate is a guard against runaway clients and guessing, not
//! billing.

use crate::error::ApiError;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::num::NonZeroU32;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

/// Failed password attempts allowed per client address and account per minute (and saved up at most): slow enough
/// that guessing is hopeless, generous enough for a person who mistypes.
pub const LOGIN_FAILURES_PER_MINUTE: u32 = 10;

/// Failed password attempts allowed per client address per minute, whatever the accounts: bounds password spraying
/// (one guess against many accounts) from one address.
pub const ADDRESS_FAILURES_PER_MINUTE: u32 = 30;

/// The most keys a limiter remembers before it forgets the idle ones.
pub const MAX_KEYS: usize = 100_000;

/// A keyed hash of a limiter key, so that keys of any length cost one word.
#[derive(Clone)]
pub struct KeyHasher(std::collections::hash_map::RandomState);

impl Default for KeyHasher {
    fn default() -> Self {
        KeyHasher(std::collections::hash_map::RandomState::new())
    }
}

impl KeyHasher {
    pub fn hash(&self, key: impl Hash) -> u64 {
        self.0.hash_one(key)
    }
}

/// Requests per second per key, in bursts of twice that.
pub struct RateLimiter {
    /// `None` when limiting is off (a rate of 0). Behind a lock only so that an overfull limiter can be replaced by a
    /// fresh one; checks take the lock shared.
    inner: Option<RwLock<DefaultKeyedRateLimiter<u64>>>,
    quota: Quota,
    hasher: KeyHasher,
    clock: DefaultClock,
}

impl RateLimiter {
    /// `per_second` requests a second, in bursts of twice that; 0 disables.
    pub fn new(per_second: u32) -> Self {
        let rate = NonZeroU32::new(per_second);
        let quota = rate.map_or(Quota::per_second(NonZeroU32::MIN), |rate| {
            Quota::per_second(rate).allow_burst(rate.saturating_mul(NonZeroU32::new(2).expect("two")))
        });
        let inner = rate.map(|_| RwLock::new(DefaultKeyedRateLimiter::keyed(quota)));
        RateLimiter { inner, quota, hasher: KeyHasher::default(), clock: DefaultClock::default() }
    }

    /// Takes one request's worth for `key`, or says how long to wait.
    pub fn check(&self, key: impl Hash) -> Result<(), ApiError> {
        let Some(lock) = &self.inner else { return Ok(()) };
        let mut limiter = lock.read().expect("rate limiter lock");
        if limiter.len() > MAX_KEYS {
            drop(limiter);
            {
                let mut fresh = lock.write().expect("rate limiter lock");
                // Keys whose bucket is full again carry no information; dropping them changes no decision.
                fresh.retain_recent();
                fresh.shrink_to_fit();
                if fresh.len() > MAX_KEYS {
                    *fresh = DefaultKeyedRateLimiter::keyed(self.quota);
                }
            }
            limiter = lock.read().expect("rate limiter lock");
        }
        limiter.check_key(&self.hasher.hash(key)).map_err(|not_until| {
            ApiError::RateLimited(not_until.wait_time_from(self.clock.now()).max(Duration::from_secs(1)))
        })
    }

    /// How many keys are remembered (for tests of the bound).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.as_ref().map_or(0, |l| l.read().expect("rate limiter lock").len())
    }
}

/// Failures per key per minute, looked at before an attempt and counted after a failed one (a generic cell rate
/// algorithm: each key keeps the time at which its bucket would be full again).
pub struct FailureThrottle {
    /// Time one failure takes to be forgiven.
    interval: Duration,
    /// How far ahead of now a key's "full again" time may be before attempts are refused: `burst` failures' worth.
    tolerance: Duration,
    hasher: KeyHasher,
    full_at: Mutex<HashMap<u64, Instant>>,
}

impl FailureThrottle {
    /// `per_minute` failures a minute, saved up to `per_minute`.
    pub fn per_minute(per_minute: u32) -> Self {
        let per_minute = per_minute.max(1);
        let interval = Duration::from_secs(60) / per_minute;
        FailureThrottle {
            interval,
            tolerance: interval * per_minute,
            hasher: KeyHasher::default(),
            full_at: Mutex::new(HashMap::new()),
        }
    }

    /// Refuses (with the time to wait) when `key` has used up its failures.
    pub fn check(&self, key: impl Hash) -> Result<(), ApiError> {
        self.check_at(self.hasher.hash(key), Instant::now())
    }

    /// Counts one failure against `key`.
    pub fn fail(&self, key: impl Hash) {
        self.fail_at(self.hasher.hash(key), Instant::now())
    }

    fn check_at(&self, key: u64, now: Instant) -> Result<(), ApiError> {
        let map = self.full_at.lock().expect("throttle lock");
        match map.get(&key) {
            // One more failure must still fit: the bucket is full again at `full`, and a failure adds `interval`.
            Some(&full) if full + self.interval > now + self.tolerance => {
                let wait = full + self.interval - (now + self.tolerance);
                Err(ApiError::RateLimited(wait.max(Duration::from_secs(1))))
            }
            _ => Ok(()),
        }
    }

    fn fail_at(&self, key: u64, now: Instant) {
        let mut map = self.full_at.lock().expect("throttle lock");
        if map.len() >= MAX_KEYS && !map.contains_key(&key) {
            map.retain(|_, full| *full > now);
            if map.len() >= MAX_KEYS {
                map.clear();
            }
            map.shrink_to_fit();
        }
        let full = map.entry(key).or_insert(now);
        *full = (*full).max(now) + self.interval;
    }

    /// How many keys are remembered (for tests of the bound).
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.full_at.lock().expect("throttle lock").len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill_per_key() {
        let l = RateLimiter::new(5);
        for _ in 0..10 {
            l.check("a").unwrap();
        }
        assert!(matches!(l.check("a"), Err(ApiError::RateLimited(_))));
        // Another key has its own bucket.
        l.check("b").unwrap();
        // A fifth of a second later one request is allowed again, and only one.
        std::thread::sleep(Duration::from_millis(210));
        l.check("a").unwrap();
        assert!(l.check("a").is_err());
    }

    #[test]
    fn zero_disables() {
        let l = RateLimiter::new(0);
        for _ in 0..1000 {
            l.check("a").unwrap();
        }
        assert_eq!(l.len(), 0);
    }

    #[test]
    fn a_flood_of_distinct_keys_stays_bounded() {
        let l = RateLimiter::new(1);
        let big = "x".repeat(1 << 10);
        for i in 0..(MAX_KEYS + 10) {
            let _ = l.check((i, &big));
        }
        assert!(l.len() <= MAX_KEYS + 1, "{} keys remembered", l.len());
        let t = FailureThrottle::per_minute(10);
        for i in 0..(MAX_KEYS + 10) {
            t.fail((i, &big));
        }
        assert!(t.len() <= MAX_KEYS, "{} keys remembered", t.len());
    }

    #[test]
    fn only_failures_count_and_they_are_forgiven_one_by_one() {
        let t = FailureThrottle::per_minute(LOGIN_FAILURES_PER_MINUTE);
        let now = Instant::now();
        let key = t.hasher.hash("a");
        // Checking is free: any number of looks with no failure pass.
        for _ in 0..100 {
            t.check_at(key, now).unwrap();
        }
        for _ in 0..LOGIN_FAILURES_PER_MINUTE {
            t.check_at(key, now).unwrap();
            t.fail_at(key, now);
        }
        let Err(ApiError::RateLimited(wait)) = t.check_at(key, now) else { panic!("the eleventh is refused") };
        assert_eq!(wait.as_secs(), 6, "one failure is forgiven every six seconds");
        t.check_at(key, now + Duration::from_millis(6_000)).unwrap();
        // Another key is untouched.
        t.check_at(t.hasher.hash("b"), now).unwrap();
    }
}
