//! `/v1/batches`: creation with validation of the input file, listing,
//! cancelling, and the ends of a batch's life (completion and expiry),
//! which write the output and error files as OpenAI does.

use std::collections::{HashMap, HashSet};

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::chat;
use super::files;
use super::state::{self, Shared};
use super::FakeReply;
use crate::jsonl::to_jsonl;
use crate::wire::{
    Batch, BatchError, BatchErrors, BatchLineError, BatchLineResponse, BatchRequestLine, BatchResultLine, BatchStatus,
    RequestCounts, CHAT_COMPLETIONS_ENDPOINT,
};

#[derive(Deserialize)]
pub(crate) struct CreateBody {
    input_file_id: Option<String>,
    endpoint: Option<String>,
    completion_window: Option<String>,
    metadata: Option<HashMap<String, String>>,
}

pub(crate) async fn create(
    State(shared): State<Shared>,
    body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let gate = state::lock(&shared).creation_gate.clone();
    let Some(gate) = gate else { return create_now(&shared, body) };
    // Held by the test. The creation goes on in its own task, so a client that gives up waiting (a job stopped
    // mid-request) still leaves a batch behind, as at a provider that received the request.
    let task = tokio::spawn(async move {
        // The gate is only ever closed (released), never given permits.
        let _ = gate.acquire().await;
        create_now(&shared, body)
    });
    task.await.unwrap_or_else(|_| state::error(500, "The fake's batch creation panicked.", None, None))
}

fn create_now(shared: &Shared, body: Result<Json<CreateBody>, axum::extract::rejection::JsonRejection>) -> Response {
    let Ok(Json(body)) = body else {
        return state::error(400, "We could not parse the JSON body of your request.", None, None);
    };
    let (Some(input_file_id), Some(endpoint), Some(window)) =
        (body.input_file_id, body.endpoint, body.completion_window)
    else {
        let message = "Missing required parameter: 'input_file_id', 'endpoint' and 'completion_window' are required.";
        return state::error(400, message, None, None);
    };
    if endpoint != CHAT_COMPLETIONS_ENDPOINT {
        let message = format!("Invalid value for 'endpoint': the fake serves only '{CHAT_COMPLETIONS_ENDPOINT}'.");
        return state::error(400, &message, Some("invalid_value"), Some("endpoint"));
    }
    if window != "24h" {
        return state::error(
            400,
            "Invalid value for 'completion_window': only '24h' is supported.",
            Some("invalid_value"),
            Some("completion_window"),
        );
    }
    if let Some(metadata) = &body.metadata {
        let too_long = metadata.iter().any(|(k, v)| k.chars().count() > 64 || v.chars().count() > 512);
        if metadata.len() > 16 || too_long {
            return state::error(
                400,
                "Invalid 'metadata': at most 16 pairs, keys of 64 and values of 512 characters.",
                Some("invalid_value"),
                Some("metadata"),
            );
        }
    }

    let (created, delay) = {
        let mut s = state::lock(shared);
        let content = match s.files.get(&input_file_id) {
            None => return files::no_such_file(&input_file_id),
            Some(file) if file.object.purpose != "batch" => {
                return state::error(
                    400,
                    "The input file must be uploaded with purpose 'batch'.",
                    None,
                    Some("input_file_id"),
                );
            }
            Some(file) => file.content.clone(),
        };
        let now = state::now();
        let mut batch = Batch {
            id: state::new_id("batch_"),
            status: BatchStatus::Validating,
            endpoint,
            input_file_id,
            completion_window: window,
            output_file_id: None,
            error_file_id: None,
            request_counts: Some(RequestCounts::default()),
            metadata: body.metadata.filter(|m| !m.is_empty()),
            created_at: now,
            expires_at: Some(now + 24 * 3600),
            in_progress_at: None,
            finalizing_at: None,
            completed_at: None,
            failed_at: None,
            expired_at: None,
            cancelling_at: None,
            cancelled_at: None,
            errors: None,
        };
        // The answer shows the batch as created; validation, which OpenAI
        // does shortly after, is done before the next request can look.
        let created = batch.clone();
        match validate(&content) {
            Ok(lines) => {
                batch.status = BatchStatus::InProgress;
                batch.in_progress_at = Some(now);
                batch.request_counts = Some(RequestCounts { total: lines.len() as u64, completed: 0, failed: 0 });
            }
            Err(errors) => {
                batch.status = BatchStatus::Failed;
                batch.failed_at = Some(now);
                batch.errors = Some(BatchErrors { data: errors });
            }
        }
        let delay = (batch.status == BatchStatus::InProgress).then_some(s.batch_delay).flatten();
        s.batches.push(batch);
        (created, delay)
    };
    if let Some(delay) = delay {
        let shared = shared.clone();
        let id = created.id.clone();
        tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            complete(&shared, Some(&id));
        });
    }
    state::object_response("batch", created)
}

/// Checks every line of an input file as OpenAI's validation does.
fn validate(content: &[u8]) -> Result<Vec<BatchRequestLine>, Vec<BatchError>> {
    let mut lines = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    let mut model: Option<String> = None;
    let fail = |errors: &mut Vec<BatchError>, line: usize, code: &str, message: String| {
        errors.push(BatchError {
            code: Some(code.into()),
            message: Some(message),
            param: None,
            line: Some(line as u64),
        });
    };
    for (index, raw) in content.split(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let line: BatchRequestLine = match serde_json::from_slice(raw) {
            Ok(line) => line,
            Err(e) => {
                fail(
                    &mut errors,
                    number,
                    "invalid_json_line",
                    format!("This line is not parseable as valid JSON or a request: {e}"),
                );
                continue;
            }
        };
        if line.method != "POST" {
            fail(&mut errors, number, "invalid_method", format!("The method {:?} is not supported.", line.method));
        } else if line.url != CHAT_COMPLETIONS_ENDPOINT {
            fail(
                &mut errors,
                number,
                "invalid_url",
                format!("The URL {:?} does not match the batch's endpoint.", line.url),
            );
        } else if !seen.insert(line.custom_id.clone()) {
            fail(
                &mut errors,
                number,
                "duplicate_custom_id",
                format!("The custom_id {:?} is not unique.", line.custom_id),
            );
        } else if let Err((message, _)) = chat::validate(&line.body) {
            fail(&mut errors, number, "invalid_request", message);
        } else if model.get_or_insert_with(|| line.body.model.clone()) != &line.body.model {
            fail(&mut errors, number, "mismatched_model", "All requests of a batch must use the same model.".into());
        } else {
            lines.push(line);
        }
    }
    if errors.is_empty() && lines.is_empty() {
        fail(&mut errors, 1, "empty_file", "The input file has no requests.".into());
    }
    if errors.is_empty() {
        Ok(lines)
    } else {
        Err(errors)
    }
}

pub(crate) async fn get(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    match state::lock(&shared).batches.iter().find(|b| b.id == id) {
        Some(batch) => state::object_response("batch", batch),
        None => no_such_batch(&id),
    }
}

#[derive(Deserialize)]
pub(crate) struct ListQuery {
    after: Option<String>,
    limit: Option<u32>,
}

pub(crate) async fn list(
    State(shared): State<Shared>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return state::error(400, "Invalid query parameters.", None, None);
    };
    let limit = query.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return state::error(
            400,
            "Invalid 'limit': it must be between 1 and 100.",
            Some("invalid_value"),
            Some("limit"),
        );
    }
    let s = state::lock(&shared);
    let newest_first: Vec<&Batch> = s.batches.iter().rev().collect();
    let start = match &query.after {
        Some(after) => newest_first.iter().position(|b| &b.id == after).map_or(newest_first.len(), |i| i + 1),
        None => 0,
    };
    let rest = &newest_first[start..];
    let page: Vec<serde_json::Value> =
        rest.iter().take(limit as usize).map(|b| state::with_object("batch", b)).collect();
    let first_id = page.first().and_then(|b| b["id"].as_str().map(str::to_owned));
    let last_id = page.last().and_then(|b| b["id"].as_str().map(str::to_owned));
    Json(json!({
        "object": "list",
        "data": page,
        "first_id": first_id,
        "last_id": last_id,
        "has_more": rest.len() > limit as usize,
    }))
    .into_response()
}

pub(crate) async fn cancel(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let mut s = state::lock(&shared);
    let Some(batch) = s.batches.iter_mut().find(|b| b.id == id) else {
        return no_such_batch(&id);
    };
    match batch.status {
        BatchStatus::Validating | BatchStatus::InProgress | BatchStatus::Finalizing => {
            let now = state::now();
            batch.status = BatchStatus::Cancelling;
            batch.cancelling_at = Some(now);
            let answer = batch.clone();
            // OpenAI takes up to ten minutes to wind a batch down; the fake
            // has nothing running, so the next look finds it cancelled.
            batch.status = BatchStatus::Cancelled;
            batch.cancelled_at = Some(now);
            state::object_response("batch", answer)
        }
        BatchStatus::Cancelling | BatchStatus::Cancelled => state::object_response("batch", &*batch),
        status => {
            let message = format!("Cannot cancel a batch with status '{}'.", status.as_str());
            state::error(400, &message, None, None)
        }
    }
}

fn no_such_batch(id: &str) -> Response {
    state::error(404, &format!("No such Batch object: {id}"), None, Some("id"))
}

/// How an in-progress batch ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Complete,
    /// The first `done` lines were run before the window closed.
    Expire {
        done: usize,
    },
}

/// Completes the in-progress batches (or the one named).
pub(crate) fn complete(shared: &Shared, only: Option<&str>) {
    finish(shared, only, |_| End::Complete);
}

/// Expires the in-progress batches.
pub(crate) fn expire(shared: &Shared) {
    let done = state::lock(shared).lines_done_before_expiry;
    finish(shared, None, |_| End::Expire { done });
}

fn finish(shared: &Shared, only: Option<&str>, end: impl Fn(&Batch) -> End) {
    // Gather the work under the lock, run the responder without it (it is
    // the test's code), and write the results under the lock again.
    let (work, responder, failed_lines) = {
        let s = state::lock(shared);
        let work: Vec<(String, End, Vec<BatchRequestLine>)> = s
            .batches
            .iter()
            .filter(|b| b.status == BatchStatus::InProgress && only.is_none_or(|id| b.id == id))
            .map(|b| {
                let content = s.files.get(&b.input_file_id).map(|f| f.content.clone()).unwrap_or_default();
                (b.id.clone(), end(b), validate(&content).unwrap_or_default())
            })
            .collect();
        (work, s.responder.clone(), s.failed_lines.clone())
    };
    for (id, end, lines) in work {
        let mut output = Vec::new();
        let mut errors = Vec::new();
        for (index, line) in lines.iter().enumerate() {
            let run = match end {
                End::Complete => true,
                End::Expire { done } => index < done,
            };
            let result = if !run {
                BatchResultLine {
                    id: state::new_id("batch_req_"),
                    custom_id: line.custom_id.clone(),
                    response: None,
                    error: Some(BatchLineError {
                        code: "batch_expired".into(),
                        message: "This request could not be executed before the completion window expired.".into(),
                    }),
                }
            } else {
                let reply = match failed_lines.get(&line.custom_id) {
                    Some(&status) => {
                        FakeReply::Status(status, format!("The fake server was told to fail this line with {status}."))
                    }
                    None => responder(&line.body),
                };
                let (status_code, body) = match reply {
                    FakeReply::Content(content) => (200, chat::completion(&line.body, content)),
                    FakeReply::Status(status, message) => (status, state::error_body(status, &message, None, None)),
                };
                BatchResultLine {
                    id: state::new_id("batch_req_"),
                    custom_id: line.custom_id.clone(),
                    response: Some(BatchLineResponse { status_code, request_id: state::new_id("req_"), body }),
                    error: None,
                }
            };
            let succeeded = result.response.as_ref().is_some_and(|r| r.status_code == 200);
            if succeeded {
                output.push(result);
            } else {
                errors.push(result);
            }
        }
        // OpenAI writes a file only when it has lines for it.
        let output_file = (!output.is_empty())
            .then(|| files::store(shared, "batch_output", &format!("{id}_output.jsonl"), to_jsonl(&output)).id);
        let error_file = (!errors.is_empty())
            .then(|| files::store(shared, "batch_output", &format!("{id}_error.jsonl"), to_jsonl(&errors)).id);

        let mut s = state::lock(shared);
        let Some(batch) = s.batches.iter_mut().find(|b| b.id == id && b.status == BatchStatus::InProgress) else {
            continue; // cancelled meanwhile
        };
        let now = state::now();
        batch.output_file_id = output_file;
        batch.error_file_id = error_file;
        batch.request_counts = Some(RequestCounts {
            total: lines.len() as u64,
            completed: output.len() as u64,
            failed: errors.len() as u64,
        });
        match end {
            End::Complete => {
                batch.status = BatchStatus::Completed;
                batch.finalizing_at = Some(now);
                batch.completed_at = Some(now);
            }
            End::Expire { .. } => {
                batch.status = BatchStatus::Expired;
                batch.expired_at = Some(now);
            }
        }
    }
}
