//! The circuit breaker, seen from outside: calls, not requests, open it;
//! an open breaker costs the provider nothing.

use std::time::Duration;

use bindery_llm::fake::{FakeOpenAi, Fault};
use bindery_llm::{BreakerOptions, BreakerState, Client, LlmError};

use crate::{ask, echo, options};

fn client(fake: &FakeOpenAi, max_retries: u32) -> Client {
    let mut options = options(fake);
    options.max_retries = max_retries;
    options.breaker = BreakerOptions { failure_threshold: 3, open_for: Duration::from_secs(30) };
    Client::new(options).unwrap()
}

#[tokio::test(start_paused = true)]
async fn opens_fails_fast_half_opens_and_closes() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.set_always(Some(Fault::Status(500)));
    let client = client(&fake, 1);

    for _ in 0..3 {
        assert!(matches!(client.chat(&ask("x")).await, Err(LlmError::Server { status: 500, .. })));
    }
    assert_eq!(fake.chat_calls(), 6, "three calls of two attempts each");
    assert_eq!(client.breaker_state(), BreakerState::Open);

    let error = client.chat(&ask("x")).await.unwrap_err();
    match &error {
        LlmError::BreakerOpen { provider, retry_in } => {
            assert_eq!(provider, "fake");
            assert!(*retry_in <= Duration::from_secs(30));
        }
        other => panic!("{other:?}"),
    }
    assert!(error.is_retryable());
    assert_eq!(fake.chat_calls(), 6, "an open breaker sends nothing");

    tokio::time::advance(Duration::from_secs(30)).await;
    assert_eq!(client.breaker_state(), BreakerState::HalfOpen);
    fake.set_always(None);
    assert_eq!(client.chat(&ask("y")).await.unwrap().content(), Some("answer to y"));
    assert_eq!(client.breaker_state(), BreakerState::Closed);
    assert_eq!(fake.chat_calls(), 7);
}

#[tokio::test(start_paused = true)]
async fn a_failed_trial_opens_it_again() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.set_always(Some(Fault::Status(502)));
    let client = client(&fake, 0);
    for _ in 0..3 {
        client.chat(&ask("x")).await.unwrap_err();
    }
    tokio::time::advance(Duration::from_secs(30)).await;

    assert!(matches!(client.chat(&ask("x")).await, Err(LlmError::Server { status: 502, .. })));
    assert_eq!(client.breaker_state(), BreakerState::Open);
    assert!(matches!(client.chat(&ask("x")).await, Err(LlmError::BreakerOpen { .. })));
    assert_eq!(fake.chat_calls(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_call_that_succeeds_after_retries_is_no_failure() {
    let fake = FakeOpenAi::start(echo()).await;
    let client = client(&fake, 2);
    for _ in 0..5 {
        fake.push_fault(Fault::Status(500));
        fake.push_fault(Fault::Status(500));
        client.chat(&ask("x")).await.unwrap();
    }
    assert_eq!(client.breaker_state(), BreakerState::Closed);
    assert_eq!(fake.chat_calls(), 15);
}

#[tokio::test]
async fn refusals_say_nothing_about_the_providers_health() {
    let fake = FakeOpenAi::start(echo()).await;
    fake.set_always(Some(Fault::Status(400)));
    let client = client(&fake, 0);
    for _ in 0..5 {
        assert!(matches!(client.chat(&ask("x")).await, Err(LlmError::Refused { status: 400, .. })));
    }
    assert_eq!(client.breaker_state(), BreakerState::Closed);
}
