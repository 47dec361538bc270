//! Ingest: store an upload and start its pipeline.
//!
//! The document id is the hash of the bytes, and the first event is
//! appended with "the stream must not exist", so submitting the same file
//! twice yields the same id and no second run. An upload no pipeline
//! accepts still becomes a document, failed at stage `ingest` with the
//! reason, so every submission can be looked up and nothing is silently lost.
//! A deleted document's stream stays in the log; submitting its bytes again
//! appends a new `document.uploaded` to it and the document lives again.

use crate::pipeline::{stage_job, Trace};
use crate::{Engine, EngineError};
use bindery_blob::Stored;
use bindery_core::event::{self, DocumentFailed, Uploaded};
use bindery_core::time::now_ms;
use bindery_core::{DocumentId, Expected, NewEvent};
use bindery_store::{Append, Commit, StoreError};
use std::path::Path;
use tokio::io::{AsyncRead, AsyncReadExt};

/// How a document is submitted, beyond its bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubmitOptions {
    /// Refuse uploads larger than this.
    pub max_bytes: Option<u64>,
    /// The project the document belongs to (API uploads); `None` for the CLI's local documents.
    pub project: Option<String>,
    /// When the document must be ready (Unix milliseconds). `None` means someone is waiting now; a deadline lets
    /// the language-model analyzer use a provider's cheaper batch path when it leaves time for it.
    pub deadline_ms: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Submitted {
    pub id: DocumentId,
    pub source: String,
    /// False when the same bytes were submitted before.
    pub created: bool,
}

impl Engine {
    /// Stores the file (streamed, never whole in memory) and enqueues its
    /// pipeline's first stages in the same transaction as `document.uploaded`.
    pub async fn submit(&self, path: &Path) -> Result<Submitted, EngineError> {
        self.submit_path_with(path, &SubmitOptions::default()).await
    }

    /// [`Engine::submit`] with every option.
    pub async fn submit_path_with(&self, path: &Path, options: &SubmitOptions) -> Result<Submitted, EngineError> {
        let io = |source| EngineError::Io { path: path.display().to_string(), source };
        let file = tokio::fs::File::open(path).await.map_err(io)?;
        let source =
            path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string());
        match self.submit_with(&source, file, options).await {
            Err(EngineError::Io { source, .. }) => Err(io(source)),
            other => other,
        }
    }

    /// Streams `reader` into blob storage (refusing more than `max_bytes`)
    /// and submits it, as a document of `project` when one is given. The
    /// first bytes, which choose the pipeline, are kept aside on the way,
    /// so the bytes are read once and never held whole. An error reading
    /// them is `EngineError::Io` with `source` as its path.
    pub async fn submit_reader<R>(
        &self,
        source: &str,
        reader: R,
        max_bytes: Option<u64>,
        project: Option<&str>,
    ) -> Result<Submitted, EngineError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let options = SubmitOptions { max_bytes, project: project.map(str::to_owned), deadline_ms: None };
        self.submit_with(source, reader, &options).await
    }

    /// [`Engine::submit_reader`] with every option. Submitting bytes that are already a document returns it as it
    /// is: its first submission's options stand.
    pub async fn submit_with<R>(
        &self,
        source: &str,
        mut reader: R,
        options: &SubmitOptions,
    ) -> Result<Submitted, EngineError>
    where
        R: AsyncRead + Unpin + Send,
    {
        let mut head = [0u8; bindery_core::media::SNIFF_BYTES];
        let mut n = 0;
        while n < head.len() {
            match reader.read(&mut head[n..]).await {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) => return Err(EngineError::Io { path: source.to_owned(), source: e }),
            }
        }
        let head = &head[..n];
        let stored = self.blobs().put_reader(head.chain(reader), options.max_bytes).await?;
        self.submit_stored(source, stored, head, options).await
    }

    /// Starts the pipeline for bytes already in blob storage, as a document of `options.project` when one is given
    /// (its id then depends on the project too: see [`DocumentId::for_project`]).
    pub async fn submit_stored(
        &self,
        source: &str,
        stored: Stored,
        head: &[u8],
        options: &SubmitOptions,
    ) -> Result<Submitted, EngineError> {
        let project = options.project.as_deref();
        let analyzer = self.project_analyzer(project).await?;
        let id = match project {
            Some(p) => DocumentId::for_project(p, &stored.sha256),
            None => DocumentId::from_sha256_hex(&stored.sha256),
        };
        let now = now_ms();
        let chosen = if stored.bytes == 0 {
            Err("the file is empty".to_string())
        } else {
            self.registry().pipeline_for(source, head)
        };
        let (pipeline, version, stages, media_type) = match &chosen {
            Ok((p, media)) => (p.name.clone(), p.version, p.stage_names(), media.to_string()),
            Err(_) => ("none".into(), 0, vec![], "application/octet-stream".into()),
        };
        let uploaded = NewEvent::new(
            event::DOCUMENT_UPLOADED,
            Uploaded {
                document: id.clone(),
                source: source.to_owned(),
                bytes: stored.bytes,
                media_type,
                blob_key: stored.key.clone(),
                pipeline,
                pipeline_version: version,
                stages,
                project: project.map(str::to_owned),
                deadline_ms: options.deadline_ms,
                analyzer,
            },
        );
        let correlation = uploaded.id.0.clone();
        let mut events = vec![uploaded.clone().correlated(Some(&correlation), None)];
        if let Err(reason) = &chosen {
            events.push(
                NewEvent::new(
                    event::DOCUMENT_FAILED,
                    DocumentFailed { stage: "ingest".into(), reason: reason.clone() },
                )
                .correlated(Some(&correlation), Some(&correlation)),
            );
        }
        // A stream that exists without a document was deleted: the same bytes uploaded again start it afresh, as a
        // new run (numbered by the version of the new `document.uploaded`) of the same id.
        let mut expected = Expected::NoStream;
        loop {
            let run = match expected {
                Expected::Exact(v) => v + 1,
                _ => 1,
            };
            let mut enqueue = Vec::new();
            if let Ok((p, _)) = &chosen {
                let t = Trace { run, correlation: &correlation, causation: &correlation };
                for root in p.roots() {
                    enqueue.push(stage_job(id.as_str(), p, root, t, self.options(), now));
                }
            }
            let commit = Commit {
                appends: vec![Append { stream: id.to_string(), expected, events: events.clone() }],
                enqueue,
                ..Default::default()
            };
            return match self.store().commit(commit, now).await {
                Ok(_) => {
                    metrics::counter!("bindery_documents_submitted_total").increment(1);
                    tracing::info!(document = %id, source, "document submitted");
                    Ok(Submitted { id, source: source.to_owned(), created: true })
                }
                Err(StoreError::Conflict { actual, .. }) if expected == Expected::NoStream => {
                    if self.store().document(id.as_str()).await?.is_none() {
                        expected = Expected::Exact(actual);
                        continue;
                    }
                    Ok(Submitted { id, source: source.to_owned(), created: false })
                }
                Err(StoreError::Conflict { .. }) => Ok(Submitted { id, source: source.to_owned(), created: false }),
                Err(e) => Err(e.into()),
            };
        }
    }
}

impl Engine {
    /// The analyzer `project` chose, to record on the events that start a run (`None`: the instance's default).
    /// Whether this instance offers it is the enrich stage's to say, on the worker that runs it.
    pub(crate) async fn project_analyzer(&self, project: Option<&str>) -> Result<Option<String>, EngineError> {
        Ok(match project {
            Some(p) => self.store().project(p).await?.and_then(|p| p.analyzer),
            None => None,
        })
    }
}
