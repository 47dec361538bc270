//! The circuit breaker: stop calling a provider that keeps failing, and try
//! it again, carefully, after a while.
//!
//! It counts *calls*, not HTTP requests: a call whose retries finally
//! succeed is a success, and a call that fails after all its retries is one
//! failure. Only failures that say something about the provider's health
//! count (the retryable kinds: 429, 5xx, timeouts, broken connections,
//! malformed bodies); a refusal such as a 400 is an answer from a working
//! server, so it counts as a success. After `failure_threshold` consecutive
//! failures the breaker opens, and calls fail at once, without a request,
//! for `open_for`. Then one trial call is let through (half-open) while the
//! others still fail fast; its success closes the breaker, its failure
//! opens it again for another `open_for`.
//!
//! Times are `tokio::time::Instant`s, so tests drive the breaker with a
//! paused clock.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::provider::BreakerOptions;

/// What the breaker currently does with a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// The next call is a trial (or one is in flight).
    HalfOpen,
    /// Calls fail fast.
    Open,
}

impl BreakerState {
    /// The value of the `bindery_llm_breaker_state` gauge.
    pub fn gauge_value(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::HalfOpen => 1.0,
            BreakerState::Open => 2.0,
        }
    }
}

#[derive(Debug)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen { trial_in_flight: bool },
}

/// One provider's breaker, shared by every clone of its client.
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    provider: String,
    options: BreakerOptions,
    state: Arc<Mutex<State>>,
}

/// A call the breaker let through. Report its outcome with
/// [`Admission::record`]; a trial dropped without one (its future was
/// cancelled) frees the half-open slot for the next caller.
pub(crate) struct Admission {
    breaker: Breaker,
    trial: bool,
    recorded: bool,
}

impl Breaker {
    pub(crate) fn new(provider: &str, options: BreakerOptions) -> Self {
        let breaker = Breaker {
            provider: provider.to_owned(),
            options,
            state: Arc::new(Mutex::new(State::Closed { failures: 0 })),
        };
        breaker.publish(BreakerState::Closed);
        breaker
    }

    /// Lets a call through, or says how long until one may go.
    pub(crate) fn admit(&self) -> Result<Admission, Duration> {
        let now = Instant::now();
        let mut state = self.lock();
        let (trial, half_opened) = match *state {
            State::Closed { .. } => (false, false),
            State::Open { until } if now < until => return Err(until - now),
            State::Open { .. } => {
                *state = State::HalfOpen { trial_in_flight: true };
                (true, true)
            }
            // The trial's answer comes within one call's time; until then,
            // others are asked to come back shortly.
            State::HalfOpen { trial_in_flight: true } => return Err(Duration::from_secs(1)),
            State::HalfOpen { trial_in_flight: false } => {
                *state = State::HalfOpen { trial_in_flight: true };
                (true, false)
            }
        };
        drop(state);
        if half_opened {
            self.publish(BreakerState::HalfOpen);
            tracing::info!(provider = %self.provider, "circuit breaker half-open: one trial call");
        }
        Ok(Admission { breaker: self.clone(), trial, recorded: false })
    }

    /// The state as callers would meet it now: an open breaker whose time is
    /// up is reported half-open, since the next call will be the trial.
    pub(crate) fn state(&self) -> BreakerState {
        match &*self.lock() {
            State::Closed { .. } => BreakerState::Closed,
            State::Open { until } if Instant::now() < *until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    fn on_success(&self) {
        let mut state = self.lock();
        let was_closed = matches!(*state, State::Closed { .. });
        *state = State::Closed { failures: 0 };
        drop(state);
        if !was_closed {
            self.publish(BreakerState::Closed);
            tracing::info!(provider = %self.provider, "circuit breaker closed");
        }
    }

    fn on_failure(&self, trial: bool) {
        let now = Instant::now();
        let mut state = self.lock();
        let open = match &mut *state {
            State::Closed { failures } => {
                *failures += 1;
                *failures >= self.options.failure_threshold.max(1)
            }
            // A trial's failure reopens; a failure of a call admitted before
            // the breaker opened changes nothing.
            State::HalfOpen { .. } => trial,
            State::Open { .. } => false,
        };
        if open {
            *state = State::Open { until: now + self.options.open_for };
            drop(state);
            self.publish(BreakerState::Open);
            tracing::warn!(provider = %self.provider, open_for = ?self.options.open_for, "circuit breaker open");
        }
    }

    fn release_trial(&self) {
        if let State::HalfOpen { trial_in_flight } = &mut *self.lock() {
            *trial_in_flight = false;
        }
    }

    fn publish(&self, state: BreakerState) {
        metrics::gauge!("bindery_llm_breaker_state", "provider" => self.provider.clone()).set(state.gauge_value());
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a plain value that every critical section leaves
        // whole, so a poisoned lock still holds a usable state.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Admission {
    /// Reports how the call ended: `healthy` is false only for a failure
    /// that says the provider is unwell.
    pub(crate) fn record(mut self, healthy: bool) {
        self.recorded = true;
        if healthy {
            self.breaker.on_success();
        } else {
            self.breaker.on_failure(self.trial);
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if self.trial && !self.recorded {
            self.breaker.release_trial();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> Breaker {
        Breaker::new("test", BreakerOptions { failure_threshold: 3, open_for: Duration::from_secs(30) })
    }

    #[tokio::test(start_paused = true)]
    async fn opens_after_consecutive_failures_only() {
        let b = breaker();
        b.admit().unwrap().record(false);
        b.admit().unwrap().record(false);
        b.admit().unwrap().record(true);
        b.admit().unwrap().record(false);
        b.admit().unwrap().record(false);
        assert_eq!(b.state(), BreakerState::Closed, "a success in between starts the count again");
        b.admit().unwrap().record(false);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit().err(), Some(Duration::from_secs(30)));
    }

    #[tokio::test(start_paused = true)]
    async fn half_open_lets_one_trial_through() {
        let b = breaker();
        for _ in 0..3 {
            b.admit().unwrap().record(false);
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(b.admit().err(), Some(Duration::from_secs(20)));
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(b.state(), BreakerState::HalfOpen);

        let trial = b.admit().unwrap();
        assert!(b.admit().is_err(), "only one trial at a time");
        trial.record(false);
        assert_eq!(b.state(), BreakerState::Open, "a failed trial reopens");

        tokio::time::advance(Duration::from_secs(30)).await;
        let trial = b.admit().unwrap();
        drop(trial);
        let trial = b.admit().expect("a cancelled trial frees the slot");
        trial.record(true);
        assert_eq!(b.state(), BreakerState::Closed);
        b.admit().unwrap().record(true);
    }
}
