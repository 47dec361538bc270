//! A document's lifecycle after upload: reprocess it, delete it.
//!
//! Both answer `202 Accepted`: the work happens in the engine's jobs. Deleting is a saga (see
//! `bindery_engine::delete`): the document is `deleting` at once and still readable, and once the saga ends every
//! read of it is `not_found`. Reprocessing starts a new run of the pipeline from the stored original, under the same
//! id; progress streams and `document.ready` follow the new run.

use super::documents::{authorize, DocumentSummary};
use crate::auth::Caller;
use crate::error::ApiResult;
use crate::extract::Json;
use crate::extract::Path;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use bindery_core::DocumentStatus;
use bindery_store::Role;
use serde::Serialize;
use utoipa::ToSchema;

/// Deletes the document (editor): its pending jobs are cancelled, its search entries removed, its original and
/// artifacts deleted unless another document shares them, and then the document itself. Answers at once with the
/// document in the `deleting` state; deleting a document that is already `deleting` is harmless. If the deletion
/// fails before any blob is deleted, the document returns to its previous status (`deletion_error` says why).
#[utoipa::path(delete, path = "/api/v1/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 202, body = DocumentSummary, description = "deletion under way"),
              (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<DocumentSummary>)> {
    let doc = authorize(&state, &caller, &id, Role::Editor).await?;
    state.engine.delete_document(&id, Some(&caller.user.id)).await?;
    // The saga may already have finished; the answer still describes the deletion it started.
    let now = state.store().document(&id).await?.unwrap_or(doc);
    let mut summary = DocumentSummary::from(&now);
    summary.status = DocumentStatus::Deleting.as_str().to_owned();
    Ok((StatusCode::ACCEPTED, Json(summary)))
}

#[derive(Serialize, ToSchema)]
pub struct ReprocessStarted {
    pub id: String,
    /// The new run's number; stage jobs and events of this run carry it.
    pub run: i64,
    pub status: String,
}

/// Runs the document's pipeline again from its stored original (editor), for a document that is `ready`, `failed`
/// or `cancelled`; `conflict` while it is processing or deleting. Stages, results and artifacts start afresh under
/// the same id; follow `/progress/stream` to see the new run reach `ready`.
#[utoipa::path(post, path = "/api/v1/documents/{id}/reprocess", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 202, body = ReprocessStarted), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)))]
pub async fn reprocess(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<ReprocessStarted>)> {
    authorize(&state, &caller, &id, Role::Editor).await?;
    let r = state.engine.reprocess(&id, Some(&caller.user.id)).await?;
    let status = DocumentStatus::Processing.as_str().to_owned();
    Ok((StatusCode::ACCEPTED, Json(ReprocessStarted { id, run: r.run, status })))
}
