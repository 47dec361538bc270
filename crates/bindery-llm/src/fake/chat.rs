//! `POST /v1/chat/completions`, with the injected faults, and the
//! `chat.completion` body that batch lines share.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::state::{self, Shared};
use super::{FakeReply, Fault};
use crate::wire::ChatRequest;

/// Counts the request as in flight until it is answered or dropped.
struct InFlight(Shared);

impl InFlight {
    fn enter(shared: &Shared) -> InFlight {
        let mut s = state::lock(shared);
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        InFlight(shared.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        state::lock(&self.0).in_flight -= 1;
    }
}

pub(crate) async fn completions(State(shared): State<Shared>, body: Bytes) -> Response {
    let (fault, responder) = {
        let mut s = state::lock(&shared);
        s.chat_calls += 1;
        let logged = serde_json::from_slice(&body)
            .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(&body).into_owned()));
        s.chat_bodies.push(logged);
        let fault = s.faults.pop_front().or_else(|| s.always.clone());
        (fault, s.responder.clone())
    };
    let _in_flight = InFlight::enter(&shared);

    let mut content_override = None;
    match fault {
        None => {}
        Some(Fault::Hang(duration)) => tokio::time::sleep(duration).await,
        Some(Fault::RateLimited { retry_after_secs }) => {
            let mut response = state::error(
                429,
                "Rate limit reached for requests. Please try again later.",
                Some("rate_limit_exceeded"),
                None,
            );
            let headers = response.headers_mut();
            headers.insert(header::RETRY_AFTER, retry_after_secs.into());
            headers.insert("x-ratelimit-remaining-requests", 0.into());
            return response;
        }
        Some(Fault::Status(status)) => {
            return state::error(status, &format!("The fake server was told to answer {status}."), None, None)
        }
        Some(Fault::MalformedBody) => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "<html><body><h1>502 Bad Gateway</h1></body></html>",
            )
                .into_response()
        }
        Some(Fault::InvalidContent(content)) => content_override = Some(content),
    }

    let request: ChatRequest = match serde_json::from_slice(&body) {
        Ok(request) => request,
        Err(e) => {
            let message = format!("We could not parse the JSON body of your request: {e}");
            return state::error(400, &message, None, None);
        }
    };
    if let Err((message, param)) = validate(&request) {
        return state::error(400, &message, None, Some(param));
    }
    let reply = match content_override {
        Some(content) => FakeReply::Content(content),
        None => responder(&request),
    };
    match reply {
        FakeReply::Content(content) => Json(completion(&request, content)).into_response(),
        FakeReply::Status(status, message) => state::error(status, &message, None, None),
    }
}

/// What OpenAI refuses before looking at a request's content.
pub(crate) fn validate(request: &ChatRequest) -> Result<(), (String, &'static str)> {
    if request.model.is_empty() {
        return Err(("you must provide a model parameter".into(), "model"));
    }
    if request.messages.is_empty() {
        return Err(("[] is too short - 'messages'".into(), "messages"));
    }
    Ok(())
}

/// A `chat.completion` answering `request` with `content`, cut at the
/// completion limit, with usage counted as a quarter of the characters.
pub(crate) fn completion(request: &ChatRequest, content: String) -> serde_json::Value {
    let prompt_chars: usize = request.messages.iter().map(|m| m.content.chars().count()).sum();
    let (content, finish_reason) = match request.completion_limit() {
        Some(limit) if content.chars().count() > limit as usize * 4 => {
            (content.chars().take(limit as usize * 4).collect::<String>(), "length")
        }
        _ => (content, "stop"),
    };
    let prompt_tokens = prompt_chars / 4;
    let completion_tokens = content.chars().count() / 4;
    json!({
        "id": state::new_id("chatcmpl-"),
        "object": "chat.completion",
        "created": state::now(),
        "model": request.model,
        "system_fingerprint": "fp_fake",
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content, "refusal": null},
            "logprobs": null,
            "finish_reason": finish_reason,
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    })
}
