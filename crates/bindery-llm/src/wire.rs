//! The serde types of OpenAI's protocol: chat completions, files and the
//! Batch API.
//!
//! Only the fields Bindery uses are declared, and unknown fields are
//! ignored, so that a provider that sends more (or a newer OpenAI) is still
//! understood. Fields that some compatible servers leave out have defaults;
//! fields without which a response means nothing (a chat response's
//! `choices`, a batch's `id` and `status`) are required, and their absence
//! is a [`LlmError::Malformed`] response.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer, Serialize};

use crate::error::LlmError;

/// The body of `POST /chat/completions`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub model: String,
    pub messages: Vec<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// The limit that Ollama, vLLM, llama.cpp and Gemini understand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// OpenAI's newer name for the limit, which its reasoning models require.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_completion_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
}

impl ChatRequest {
    /// A request with no options set.
    pub fn new(model: impl Into<String>, messages: Vec<Message>) -> Self {
        ChatRequest { model: model.into(), messages, ..ChatRequest::default() }
    }

    /// The completion limit, whichever of the two fields carries it.
    pub fn completion_limit(&self) -> Option<u32> {
        self.max_completion_tokens.or(self.max_tokens)
    }
}

/// One message of a conversation. In a response the content may be `null`
/// (a refusal or a tool call); it is read as an empty string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub role: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub content: String,
}

impl Message {
    pub fn system(content: impl Into<String>) -> Self {
        Message { role: "system".into(), content: content.into() }
    }

    pub fn user(content: impl Into<String>) -> Self {
        Message { role: "user".into(), content: content.into() }
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Message { role: "assistant".into(), content: content.into() }
    }
}

fn null_as_empty<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(Option::<String>::deserialize(deserializer)?.unwrap_or_default())
}

/// How the model must shape its answer. Serialised as OpenAI expects:
/// `{"type":"json_schema","json_schema":{"name","schema","strict"}}` or
/// `{"type":"json_object"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "WireResponseFormat", from = "WireResponseFormat")]
pub enum ResponseFormat {
    JsonSchema { name: String, schema: serde_json::Value, strict: bool },
    JsonObject,
}

/// The protocol's nesting of [`ResponseFormat`], kept out of the public type
/// so that callers write the flat form.
#[derive(Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireResponseFormat {
    JsonSchema { json_schema: WireJsonSchema },
    JsonObject,
}

#[derive(Serialize, Deserialize)]
struct WireJsonSchema {
    name: String,
    schema: serde_json::Value,
    #[serde(default)]
    strict: bool,
}

impl From<ResponseFormat> for WireResponseFormat {
    fn from(format: ResponseFormat) -> Self {
        match format {
            ResponseFormat::JsonSchema { name, schema, strict } => {
                WireResponseFormat::JsonSchema { json_schema: WireJsonSchema { name, schema, strict } }
            }
            ResponseFormat::JsonObject => WireResponseFormat::JsonObject,
        }
    }
}

impl From<WireResponseFormat> for ResponseFormat {
    fn from(format: WireResponseFormat) -> Self {
        match format {
            WireResponseFormat::JsonSchema { json_schema: WireJsonSchema { name, schema, strict } } => {
                ResponseFormat::JsonSchema { name, schema, strict }
            }
            WireResponseFormat::JsonObject => ResponseFormat::JsonObject,
        }
    }
}

/// The body of a chat completion (`object: "chat.completion"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    pub choices: Vec<Choice>,
    #[serde(default)]
    pub usage: Option<Usage>,
}

impl ChatResponse {
    /// The first choice's content, if there is a choice.
    pub fn content(&self) -> Option<&str> {
        self.choices.first().map(|choice| choice.message.content.as_str())
    }

    /// The first choice's finish reason (`stop`, `length`, …).
    pub fn finish_reason(&self) -> Option<&str> {
        self.choices.first().and_then(|choice| choice.finish_reason.as_deref())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Choice {
    #[serde(default)]
    pub index: u32,
    pub message: Message,
    #[serde(default)]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    #[serde(default)]
    pub prompt_tokens: u64,
    #[serde(default)]
    pub completion_tokens: u64,
    #[serde(default)]
    pub total_tokens: u64,
}

/// A stored file (`object: "file"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileObject {
    pub id: String,
    #[serde(default)]
    pub bytes: u64,
    #[serde(default)]
    pub purpose: String,
    #[serde(default)]
    pub filename: String,
    #[serde(default)]
    pub created_at: i64,
}

/// The answer to `DELETE /files/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileDeleted {
    pub id: String,
    #[serde(default)]
    pub deleted: bool,
}

/// Where a batch is in its life. `completed`, `failed`, `expired` and
/// `cancelled` are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchStatus {
    Validating,
    Failed,
    InProgress,
    Finalizing,
    Completed,
    Expired,
    Cancelling,
    Cancelled,
}

impl BatchStatus {
    /// Whether the batch will change no more.
    pub fn is_terminal(self) -> bool {
        matches!(self, BatchStatus::Completed | BatchStatus::Failed | BatchStatus::Expired | BatchStatus::Cancelled)
    }

    /// The protocol's name of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Validating => "validating",
            BatchStatus::Failed => "failed",
            BatchStatus::InProgress => "in_progress",
            BatchStatus::Finalizing => "finalizing",
            BatchStatus::Completed => "completed",
            BatchStatus::Expired => "expired",
            BatchStatus::Cancelling => "cancelling",
            BatchStatus::Cancelled => "cancelled",
        }
    }
}

/// A batch (`object: "batch"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Batch {
    pub id: String,
    pub status: BatchStatus,
    #[serde(default)]
    pub endpoint: String,
    #[serde(default)]
    pub input_file_id: String,
    #[serde(default)]
    pub completion_window: String,
    #[serde(default)]
    pub output_file_id: Option<String>,
    #[serde(default)]
    pub error_file_id: Option<String>,
    #[serde(default)]
    pub request_counts: Option<RequestCounts>,
    #[serde(default)]
    pub metadata: Option<HashMap<String, String>>,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub expires_at: Option<i64>,
    #[serde(default)]
    pub in_progress_at: Option<i64>,
    #[serde(default)]
    pub finalizing_at: Option<i64>,
    #[serde(default)]
    pub completed_at: Option<i64>,
    #[serde(default)]
    pub failed_at: Option<i64>,
    #[serde(default)]
    pub expired_at: Option<i64>,
    #[serde(default)]
    pub cancelling_at: Option<i64>,
    #[serde(default)]
    pub cancelled_at: Option<i64>,
    /// Why validation failed, for a `failed` batch.
    #[serde(default)]
    pub errors: Option<BatchErrors>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestCounts {
    #[serde(default)]
    pub total: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub failed: u64,
}

/// `{"object":"list","data":[…]}` of a failed batch's validation errors.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BatchErrors {
    #[serde(default)]
    pub data: Vec<BatchError>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub param: Option<String>,
    /// The 1-based line of the input file, when the error is about one.
    #[serde(default)]
    pub line: Option<u64>,
}

/// One page of `GET /batches`, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchList {
    pub data: Vec<Batch>,
    #[serde(default)]
    pub has_more: bool,
    #[serde(default)]
    pub first_id: Option<String>,
    #[serde(default)]
    pub last_id: Option<String>,
}

/// The endpoint that every batch line of Bindery's names.
pub const CHAT_COMPLETIONS_ENDPOINT: &str = "/v1/chat/completions";

/// One line of a batch's JSONL input file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchRequestLine {
    pub custom_id: String,
    pub method: String,
    pub url: String,
    pub body: ChatRequest,
}

impl BatchRequestLine {
    /// A `POST /v1/chat/completions` line.
    pub fn chat(custom_id: impl Into<String>, body: ChatRequest) -> Self {
        BatchRequestLine {
            custom_id: custom_id.into(),
            method: "POST".into(),
            url: CHAT_COMPLETIONS_ENDPOINT.into(),
            body,
        }
    }
}

/// One line of a batch's output or error file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchResultLine {
    #[serde(default)]
    pub id: String,
    pub custom_id: String,
    #[serde(default)]
    pub response: Option<BatchLineResponse>,
    #[serde(default)]
    pub error: Option<BatchLineError>,
}

/// The HTTP answer that a batch line got.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BatchLineResponse {
    pub status_code: u16,
    #[serde(default)]
    pub request_id: String,
    #[serde(default)]
    pub body: serde_json::Value,
}

/// Why a batch line was not run (`batch_expired`, `batch_cancelled`, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchLineError {
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub message: String,
}

impl BatchResultLine {
    /// The line's chat completion, or what went wrong with it, in the same
    /// error kinds as a direct call: a line's 429 is `RateLimited`, its 5xx
    /// `Server`, its other 4xx `Refused`, and a line that was never run
    /// (expired, cancelled) is a retryable `Server` error with status 0,
    /// since submitting it again may well succeed.
    pub fn chat_response(&self) -> Result<ChatResponse, LlmError> {
        if let Some(error) = &self.error {
            return Err(LlmError::Server { status: 0, message: format!("{}: {}", error.code, error.message) });
        }
        let Some(response) = &self.response else {
            return Err(LlmError::Malformed(format!("batch line {} has neither response nor error", self.custom_id)));
        };
        if (200..300).contains(&response.status_code) {
            return serde_json::from_value(response.body.clone())
                .map_err(|e| LlmError::Malformed(format!("batch line {}: {e}", self.custom_id)));
        }
        let detail = crate::client::ErrorDetail::from_value(&response.body);
        Err(crate::client::status_error(response.status_code, detail, None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_schema_format_nests_as_openai_expects() {
        let format =
            ResponseFormat::JsonSchema { name: "summary".into(), schema: json!({"type": "object"}), strict: true };
        let value = serde_json::to_value(&format).unwrap();
        assert_eq!(
            value,
            json!({"type": "json_schema", "json_schema": {"name": "summary", "schema": {"type": "object"}, "strict": true}})
        );
        assert_eq!(serde_json::from_value::<ResponseFormat>(value).unwrap(), format);
        assert_eq!(serde_json::to_value(ResponseFormat::JsonObject).unwrap(), json!({"type": "json_object"}));
    }

    #[test]
    fn unset_options_are_left_out() {
        let request = ChatRequest::new("m", vec![Message::user("hi")]);
        assert_eq!(
            serde_json::to_value(&request).unwrap(),
            json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        );
    }

    #[test]
    fn null_content_and_unknown_fields_are_accepted() {
        let response: ChatResponse = serde_json::from_value(json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "m", "system_fingerprint": "x",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "refusal": "no"}, "logprobs": null, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 0, "total_tokens": 3, "prompt_tokens_details": {}}
        }))
        .unwrap();
        assert_eq!(response.content(), Some(""));
        assert_eq!(response.finish_reason(), Some("stop"));
    }

    #[test]
    fn batch_status_round_trips() {
        for status in
            ["validating", "failed", "in_progress", "finalizing", "completed", "expired", "cancelling", "cancelled"]
        {
            let parsed: BatchStatus = serde_json::from_value(json!(status)).unwrap();
            assert_eq!(parsed.as_str(), status);
        }
    }

    #[test]
    fn result_lines_map_to_errors() {
        let ok: BatchResultLine = serde_json::from_value(json!({
            "id": "batch_req_1", "custom_id": "a",
            "response": {"status_code": 200, "request_id": "r", "body": {"id": "c", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}, "finish_reason": "stop"}]}},
            "error": null
        }))
        .unwrap();
        assert_eq!(ok.chat_response().unwrap().content(), Some("x"));

        let refused: BatchResultLine = serde_json::from_value(json!({
            "id": "batch_req_2", "custom_id": "b",
            "response": {"status_code": 400, "request_id": "r", "body": {"error": {"message": "bad", "type": "invalid_request_error", "param": null, "code": null}}},
            "error": null
        }))
        .unwrap();
        assert!(matches!(refused.chat_response(), Err(LlmError::Refused { status: 400, .. })));

        let expired: BatchResultLine = serde_json::from_value(json!({
            "id": "batch_req_3", "custom_id": "c", "response": null,
            "error": {"code": "batch_expired", "message": "This request could not be executed before the completion window expired."}
        }))
        .unwrap();
        assert!(expired.chat_response().unwrap_err().is_retryable());
    }
}
