//! `/v1/files`: multipart uploads, metadata, content and deletion.

use axum::extract::{Multipart, Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::json;

use super::state::{self, Shared, StoredFile};
use crate::wire::FileObject;

/// The purposes OpenAI accepts for an upload.
const PURPOSES: [&str; 6] = ["assistants", "batch", "fine-tune", "vision", "user_data", "evals"];

pub(crate) async fn upload(State(shared): State<Shared>, mut multipart: Multipart) -> Response {
    let mut purpose = None;
    let mut file = None;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(e) => return state::error(400, &format!("Invalid multipart body: {e}"), None, None),
        };
        match field.name() {
            Some("purpose") => match field.text().await {
                Ok(text) => purpose = Some(text),
                Err(e) => return state::error(400, &format!("Invalid 'purpose': {e}"), None, Some("purpose")),
            },
            Some("file") => {
                let filename = field.file_name().unwrap_or("upload").to_owned();
                match field.bytes().await {
                    Ok(bytes) => file = Some((filename, bytes)),
                    Err(e) => return state::error(400, &format!("Invalid 'file': {e}"), None, Some("file")),
                }
            }
            _ => {}
        }
    }
    let Some(purpose) = purpose else {
        return state::error(400, "Missing required parameter: 'purpose'.", None, Some("purpose"));
    };
    if !PURPOSES.contains(&purpose.as_str()) {
        let message = format!("'{purpose}' is not one of {PURPOSES:?} - 'purpose'");
        return state::error(400, &message, None, Some("purpose"));
    }
    let Some((filename, content)) = file else {
        return state::error(400, "Missing required parameter: 'file'.", None, Some("file"));
    };
    let object = store(&shared, &purpose, &filename, content);
    state::object_response("file", object)
}

/// Stores a file (uploaded, or written by a batch) and returns its object.
pub(crate) fn store(shared: &Shared, purpose: &str, filename: &str, content: Bytes) -> FileObject {
    let object = FileObject {
        id: state::new_id("file-"),
        bytes: content.len() as u64,
        purpose: purpose.to_owned(),
        filename: filename.to_owned(),
        created_at: state::now(),
    };
    state::lock(shared).files.insert(object.id.clone(), StoredFile { object: object.clone(), content });
    object
}

pub(crate) async fn get(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    match state::lock(&shared).files.get(&id) {
        Some(file) => state::object_response("file", &file.object),
        None => no_such_file(&id),
    }
}

pub(crate) async fn content(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    match state::lock(&shared).files.get(&id) {
        Some(file) => ([(header::CONTENT_TYPE, "application/octet-stream")], file.content.clone()).into_response(),
        None => no_such_file(&id),
    }
}

pub(crate) async fn delete(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    match state::lock(&shared).files.remove(&id) {
        Some(_) => axum::Json(json!({"id": id, "object": "file", "deleted": true})).into_response(),
        None => no_such_file(&id),
    }
}

pub(crate) fn no_such_file(id: &str) -> Response {
    state::error(404, &format!("No such File object: {id}"), None, Some("id"))
}
