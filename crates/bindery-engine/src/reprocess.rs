//! Reprocessing: a document's pipeline runs again from its stored original.
//!
//! One commit appends `document.reprocessing` (the projection resets stages,
//! results and artifacts and keeps the id), cancels whatever is left of the
//! previous run and enqueues the pipeline's first stages. The new run is
//! numbered by that event's stream version, and its jobs' unique keys carry
//! it, so they are not dropped as duplicates of the first run's jobs; results
//! of an earlier run's job that still arrive are ignored by `settle`. The
//! pipeline is chosen again from the original's first bytes, so a document
//! picks up the current version of its pipeline; likewise the analyzer is
//! the project's choice at the time of the reprocess.

use crate::admin::retry_on_conflict;
use crate::pipeline::{stage_job, Trace};
use crate::{Engine, EngineError};
use bindery_blob::BlobError;
use bindery_core::event::{self, Reprocessing};
use bindery_core::time::now_ms;
use bindery_core::{DocumentState, DocumentStatus, Expected, NewEvent};
use bindery_store::{Append, Commit};
use futures::TryStreamExt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reprocessed {
    /// The new run's number (see `DocumentState::run`).
    pub run: i64,
}

impl Engine {
    /// Runs a ready, failed or cancelled document's pipeline again; `Invalid` while it is processing or deleting.
    pub async fn reprocess(&self, id: &str, requested_by: Option<&str>) -> Result<Reprocessed, EngineError> {
        retry_on_conflict(|| self.reprocess_once(id, requested_by)).await
    }

    async fn reprocess_once(&self, id: &str, requested_by: Option<&str>) -> Result<Reprocessed, EngineError> {
        let state = self.store().document(id).await?.ok_or_else(|| EngineError::NotFound(format!("document {id}")))?;
        if !matches!(state.status, DocumentStatus::Ready | DocumentStatus::Failed | DocumentStatus::Cancelled) {
            return Err(EngineError::Invalid(format!(
                "document {id} is {}; only a ready, failed or cancelled document can be reprocessed",
                state.status.as_str()
            )));
        }
        let head = self.original_head(&state).await?;
        let chosen = if state.bytes == 0 {
            Err("the file is empty".to_string())
        } else {
            self.registry().pipeline_for(&state.source, &head)
        };
        let (p, media_type) = chosen.map_err(EngineError::Invalid)?;
        let analyzer = self.project_analyzer(state.project.as_deref()).await?;
        let ev = NewEvent::new(
            event::DOCUMENT_REPROCESSING,
            Reprocessing {
                pipeline: p.name.clone(),
                pipeline_version: p.version,
                stages: p.stage_names(),
                media_type: media_type.to_owned(),
                previous: state.status,
                requested_by: requested_by.map(str::to_owned),
                analyzer,
            },
        );
        let correlation = ev.id.0.clone();
        let run = state.version + 1;
        let now = now_ms();
        let t = Trace { run, correlation: &correlation, causation: &correlation };
        let enqueue = p.roots().into_iter().map(|root| stage_job(id, p, root, t, self.options(), now)).collect();
        let c = Commit {
            appends: vec![Append {
                stream: id.to_owned(),
                expected: Expected::Exact(state.version),
                events: vec![ev.correlated(Some(&correlation), None)],
            }],
            cancel_documents: vec![id.to_owned()],
            enqueue,
            ..Default::default()
        };
        self.store().commit(c, now).await?;
        tracing::info!(document = id, run, "reprocessing");
        Ok(Reprocessed { run })
    }

    /// The first bytes of the document's original, which choose its pipeline.
    async fn original_head(&self, state: &DocumentState) -> Result<Vec<u8>, EngineError> {
        let end = state.bytes.min(bindery_core::media::SNIFF_BYTES as u64);
        if end == 0 {
            return Ok(Vec::new());
        }
        let missing = || EngineError::Invalid(format!("the original of document {} is no longer stored", state.id));
        let mut stream = match self.blobs().get_range_stream(&state.blob_key, 0..end).await {
            Ok(s) => s,
            Err(BlobError::NotFound(_)) => return Err(missing()),
            Err(e) => return Err(e.into()),
        };
        let mut head = Vec::with_capacity(end as usize);
        while let Some(chunk) = stream.try_next().await? {
            head.extend_from_slice(&chunk);
        }
        head.truncate(end as usize);
        Ok(head)
    }
}
