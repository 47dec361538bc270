//! Client-side limits: how many requests may be in flight (a semaphore, in
//! the client) and how many tokens a minute may be spent (the bucket here).
//!
//! The bucket holds at most one minute's budget and refills continuously.
//! A call *reserves* its estimated tokens at once, even into debt, and then
//! sleeps until the debt would be paid off; so callers are served in the
//! order they arrived, and a large request is not starved by a stream of
//! small ones. A request larger than the whole budget is charged the whole
//! budget (it waits for a full bucket) rather than waiting forever. When the
//! answer reports its real usage, the difference from the estimate is
//! given back or charged; a call that fails gives its reservation back.
//! The bucket never refuses: it only makes callers wait.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::wire::ChatRequest;

/// The estimate a chat request is charged before its answer is known: a
/// quarter of its characters (messages and response format), a few tokens
/// per message for the framing, plus its completion limit.
pub fn estimate_tokens(request: &ChatRequest) -> u64 {
    let message_chars: usize = request.messages.iter().map(|m| m.content.chars().count() + m.role.len()).sum();
    let format_chars = request
        .response_format
        .as_ref()
        .and_then(|format| serde_json::to_string(format).ok())
        .map_or(0, |json| json.len());
    let framing = 4 * request.messages.len() as u64;
    ((message_chars + format_chars) / 4) as u64 + framing + u64::from(request.completion_limit().unwrap_or(0))
}

/// A token bucket of `per_minute` tokens.
#[derive(Debug, Clone)]
pub(crate) struct TokenBucket {
    capacity: f64,
    per_second: f64,
    state: Arc<Mutex<BucketState>>,
}

#[derive(Debug)]
struct BucketState {
    /// May be negative: reservations not yet covered by the refill.
    available: f64,
    updated: Instant,
}

impl TokenBucket {
    pub(crate) fn new(per_minute: u32) -> Self {
        let capacity = f64::from(per_minute.max(1));
        TokenBucket {
            capacity,
            per_second: capacity / 60.0,
            state: Arc::new(Mutex::new(BucketState { available: capacity, updated: Instant::now() })),
        }
    }

    /// Reserves `tokens` and waits until they are covered. Returns how many
    /// tokens were charged, for [`TokenBucket::settle`].
    pub(crate) async fn acquire(&self, tokens: u64) -> u64 {
        let charged = (tokens as f64).min(self.capacity);
        let wait = {
            let mut state = self.lock();
            self.refill(&mut state);
            state.available -= charged;
            if state.available >= 0.0 {
                Duration::ZERO
            } else {
                Duration::from_secs_f64(-state.available / self.per_second)
            }
        };
        if !wait.is_zero() {
            tracing::debug!(tokens, ?wait, "waiting for the tokens-per-minute budget");
            tokio::time::sleep(wait).await;
        }
        charged as u64
    }

    /// Corrects a reservation of `charged` tokens to what was really used
    /// (`0` gives it all back).
    pub(crate) fn settle(&self, charged: u64, used: u64) {
        let mut state = self.lock();
        self.refill(&mut state);
        state.available = (state.available + charged as f64 - used as f64).min(self.capacity);
    }

    fn refill(&self, state: &mut BucketState) {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(state.updated).as_secs_f64();
        state.available = (state.available + elapsed * self.per_second).min(self.capacity);
        state.updated = now;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BucketState> {
        // Every critical section leaves the numbers whole, so a poisoned
        // lock is still usable.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Message;

    #[tokio::test(start_paused = true)]
    async fn waits_until_the_budget_covers_the_request() {
        let bucket = TokenBucket::new(600); // 10 tokens a second
        let start = Instant::now();
        assert_eq!(bucket.acquire(400).await, 400);
        assert_eq!(start.elapsed(), Duration::ZERO);
        bucket.acquire(400).await; // 200 short: 20 s
        assert_eq!(start.elapsed(), Duration::from_secs(20));
        bucket.acquire(100).await; // 100 more: 10 s
        assert_eq!(start.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn settling_gives_back_the_overestimate() {
        let bucket = TokenBucket::new(600);
        let start = Instant::now();
        let charged = bucket.acquire(600).await;
        bucket.settle(charged, 100);
        bucket.acquire(500).await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        bucket.settle(500, 0);
        bucket.acquire(500).await;
        assert_eq!(start.elapsed(), Duration::ZERO, "a failed call's reservation is given back");
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_over_the_budget_waits_for_a_full_bucket() {
        let bucket = TokenBucket::new(60);
        let start = Instant::now();
        assert_eq!(bucket.acquire(10).await, 10);
        assert_eq!(bucket.acquire(1_000).await, 60);
        assert_eq!(start.elapsed(), Duration::from_secs(10));
    }

    #[test]
    fn estimate_counts_characters_and_the_completion_limit() {
        let mut request = ChatRequest::new("m", vec![Message::user("x".repeat(396))]);
        assert_eq!(estimate_tokens(&request), 100 + 4);
        request.max_tokens = Some(50);
        assert_eq!(estimate_tokens(&request), 154);
    }
}
