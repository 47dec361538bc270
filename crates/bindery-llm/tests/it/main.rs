//! The client against the fake server, over real HTTP on a loopback port:
//! one test binary, so that the crate links its tests once.
//!
//! Tests about time run on tokio's paused clock, which jumps ahead whenever
//! every task waits; they assert lower bounds ("waited at least"), never
//! wall-clock durations. Their request timeout is a day, so that the clock's
//! jumps while a request is in flight never reach it by accident.

mod batch;
mod breaker;
mod chat;
mod limits;
mod telemetry;

use std::time::Duration;

use bindery_llm::fake::{FakeOpenAi, FakeReply, Responder};
use bindery_llm::{ChatRequest, Message, ProviderOptions};

/// Options for a client of `fake`: a day's timeout, quick backoff.
pub fn options(fake: &FakeOpenAi) -> ProviderOptions {
    let mut options = ProviderOptions::new("fake", fake.base_url(), "gpt-fake");
    options.request_timeout = Duration::from_secs(24 * 3600);
    options.backoff_base = Duration::from_millis(5);
    options.backoff_max = Duration::from_secs(60);
    options
}

/// A responder that answers "answer to <the last message>".
pub fn echo() -> Responder {
    FakeOpenAi::responder(|request| {
        let last = request.messages.last().map(|m| m.content.as_str()).unwrap_or_default();
        FakeReply::Content(format!("answer to {last}"))
    })
}

pub fn ask(text: &str) -> ChatRequest {
    ChatRequest::new("gpt-fake", vec![Message::user(text)])
}
