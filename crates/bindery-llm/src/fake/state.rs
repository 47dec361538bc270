//! The fake's memory, and the pieces of the protocol every route shares:
//! ids, timestamps and OpenAI's error body.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bytes::Bytes;
use serde_json::json;

use super::{Fault, Responder};
use crate::wire::{Batch, FileObject};

pub(crate) type Shared = Arc<Mutex<StateData>>;

/// Everything the fake knows.
pub(crate) struct StateData {
    pub(crate) responder: Responder,
    pub(crate) api_key: Option<String>,
    pub(crate) faults: VecDeque<Fault>,
    pub(crate) always: Option<Fault>,
    pub(crate) requests: Vec<String>,
    pub(crate) chat_calls: usize,
    pub(crate) chat_bodies: Vec<serde_json::Value>,
    pub(crate) in_flight: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) files: HashMap<String, StoredFile>,
    /// In the order of creation.
    pub(crate) batches: Vec<Batch>,
    pub(crate) failed_lines: HashMap<String, u16>,
    pub(crate) batch_delay: Option<Duration>,
    pub(crate) lines_done_before_expiry: usize,
    /// When set, every files and batches request is answered with this status (an outage of the batch path alone).
    pub(crate) batch_endpoints_status: Option<u16>,
    /// While set, batch creations wait for it to close before the batch exists.
    pub(crate) creation_gate: Option<Arc<tokio::sync::Semaphore>>,
}

pub(crate) struct StoredFile {
    pub(crate) object: FileObject,
    pub(crate) content: Bytes,
}

pub(crate) fn new_shared(responder: Responder) -> Shared {
    Arc::new(Mutex::new(StateData {
        responder,
        api_key: None,
        faults: VecDeque::new(),
        always: None,
        requests: Vec::new(),
        chat_calls: 0,
        chat_bodies: Vec::new(),
        in_flight: 0,
        max_in_flight: 0,
        files: HashMap::new(),
        batches: Vec::new(),
        failed_lines: HashMap::new(),
        batch_delay: None,
        lines_done_before_expiry: 0,
        batch_endpoints_status: None,
        creation_gate: None,
    }))
}

pub(crate) fn lock(shared: &Shared) -> MutexGuard<'_, StateData> {
    // A test that panicked while holding the lock leaves plain data behind;
    // the other tests of the process may still read it.
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A fresh id with OpenAI's prefix (`file-`, `batch_`, `chatcmpl-`, …).
pub(crate) fn new_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

/// Seconds since the epoch, as the protocol's timestamps are.
pub(crate) fn now() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// OpenAI's error `type` for a status.
pub(crate) fn error_type(status: u16) -> &'static str {
    match status {
        401 | 400 | 403 | 404 | 409 | 422 => "invalid_request_error",
        429 => "requests",
        _ if status >= 500 => "server_error",
        _ => "invalid_request_error",
    }
}

/// `{"error":{"message","type","param","code"}}` as a JSON value.
pub(crate) fn error_body(status: u16, message: &str, code: Option<&str>, param: Option<&str>) -> serde_json::Value {
    json!({"error": {"message": message, "type": error_type(status), "param": param, "code": code}})
}

/// An error answer in OpenAI's shape.
pub(crate) fn error(status: u16, message: &str, code: Option<&str>, param: Option<&str>) -> Response {
    let status_code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status_code, Json(error_body(status, message, code, param))).into_response()
}

/// A JSON answer of the protocol: `value` with its `object` field.
pub(crate) fn object_response(object: &str, value: impl serde::Serialize) -> Response {
    Json(with_object(object, value)).into_response()
}

pub(crate) fn with_object(object: &str, value: impl serde::Serialize) -> serde_json::Value {
    let mut value = serde_json::to_value(value).unwrap_or_default();
    if let Some(map) = value.as_object_mut() {
        map.insert("object".into(), json!(object));
        // A batch's validation errors are a list object of their own.
        if let Some(errors) = map.get_mut("errors").and_then(|e| e.as_object_mut()) {
            errors.insert("object".into(), json!("list"));
        }
    }
    value
}
