//! Client-side limits: requests in flight and tokens per minute.

use std::time::Duration;

use bindery_llm::fake::{FakeOpenAi, Fault};
use bindery_llm::{estimate_tokens, Client};
use tokio::time::Instant;

use crate::{ask, options};

#[tokio::test(start_paused = true)]
async fn no_more_requests_in_flight_than_allowed() {
    let fake = FakeOpenAi::start(FakeOpenAi::constant("ok")).await;
    fake.set_always(Some(Fault::Hang(Duration::from_secs(1))));
    let mut options = options(&fake);
    options.concurrency = 2;
    let client = Client::new(options).unwrap();

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..6 {
        let client = client.clone();
        calls.spawn(async move { client.chat(&ask(&format!("call {i}"))).await });
    }
    while let Some(result) = calls.join_next().await {
        assert_eq!(result.unwrap().unwrap().content(), Some("ok"));
    }

    assert_eq!(fake.chat_calls(), 6);
    assert_eq!(fake.max_in_flight(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_token_budget_makes_calls_wait() {
    let fake = FakeOpenAi::start(FakeOpenAi::constant("ok")).await;
    let mut options = options(&fake);
    options.tokens_per_minute = Some(600); // 10 tokens a second
    let client = Client::new(options).unwrap();
    let request = ask(&"x".repeat(2000));
    let estimate = estimate_tokens(&request);
    assert_eq!(estimate, 505);

    let start = Instant::now();
    let first = client.chat(&request).await.unwrap();
    // The first call fits. Its real usage (500 tokens) replaces the
    // estimate, leaving 100; the second needs 505, so 405 more: 40.5 s.
    assert_eq!(first.usage.unwrap().total_tokens, 500);
    client.chat(&request).await.unwrap();

    assert!(start.elapsed() >= Duration::from_millis(40_500), "waited only {:?}", start.elapsed());
    assert_eq!(fake.chat_calls(), 2);
}
