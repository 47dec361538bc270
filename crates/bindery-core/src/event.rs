//! Events: the CloudEvents 1.0 envelope and the typed payloads Bindery writes.
//!
//! Every fact is appended to a per-document stream. The store assigns two
//! numbers on append: `streamversion` (1, 2, 3 … within the stream, used for
//! optimistic concurrency) and `sequence` (a global, gap-free order that
//! readers and the outbox follow). Both travel as CloudEvents extension
//! attributes, next to `correlationid` and `causationid`.

use crate::ids::{DocumentId, EventId};
use crate::projection::DocumentStatus;
use crate::time::{rfc3339, Millis};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The CloudEvents `source` of everything the engine writes.
pub const SOURCE: &str = "/bindery/engine";

pub const DOCUMENT_UPLOADED: &str = "document.uploaded";
pub const STAGE_COMPLETED: &str = "stage.completed";
pub const STAGE_FAILED: &str = "stage.failed";
pub const DOCUMENT_READY: &str = "document.ready";
pub const DOCUMENT_FAILED: &str = "document.failed";
pub const DOCUMENT_CANCELLED: &str = "document.cancelled";
pub const DOCUMENT_RETRIED: &str = "document.retried";
/// A run of the pipeline from the stored original, again (`POST …/reprocess`).
pub const DOCUMENT_REPROCESSING: &str = "document.reprocessing";
/// Deletion was requested; the document is `deleting` until `document.deleted`.
pub const DOCUMENT_DELETING: &str = "document.deleting";
/// The deletion passed its point of no return: blobs are being deleted.
pub const DOCUMENT_PURGING: &str = "document.purging";
/// The deletion failed; compensated (the document is back) or stuck (it stays `deleting`).
pub const DOCUMENT_DELETION_FAILED: &str = "document.deletion_failed";
/// The document is gone: its projection is removed, its stream stays in the log.
pub const DOCUMENT_DELETED: &str = "document.deleted";

/// What a writer expects the stream's current version to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Append whatever the version is.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream's last event must have this version.
    Exact(i64),
}

impl Expected {
    /// Whether a stream currently at `current` (0 = empty) satisfies this.
    pub fn matches(self, current: i64) -> bool {
        match self {
            Expected::Any => true,
            Expected::NoStream => current == 0,
            Expected::Exact(v) => current == v,
        }
    }
}

/// An event before it is appended.
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub id: EventId,
    pub ty: String,
    pub data: Value,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
}

impl NewEvent {
    pub fn new(ty: &str, data: impl Serialize) -> Self {
        Self {
            id: EventId::new(),
            ty: ty.to_owned(),
            data: serde_json::to_value(data).expect("event payloads serialise"),
            correlation_id: None,
            causation_id: None,
        }
    }

    pub fn correlated(mut self, correlation: Option<&str>, causation: Option<&str>) -> Self {
        self.correlation_id = correlation.map(str::to_owned);
        self.causation_id = causation.map(str::to_owned);
        self
    }
}

/// An appended event, as a CloudEvents 1.0 JSON envelope with Bindery's
/// extension attributes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CloudEvent {
    pub specversion: String,
    pub id: String,
    pub source: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub subject: String,
    pub time: String,
    pub datacontenttype: String,
    pub data: Value,
    pub sequence: i64,
    pub streamversion: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlationid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub causationid: Option<String>,
}

/// A stored event row, as both back ends return it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredEvent {
    pub sequence: i64,
    pub stream: String,
    pub version: i64,
    pub id: String,
    pub ty: String,
    pub data: Value,
    pub time_ms: Millis,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
}

impl StoredEvent {
    /// The stored form of `events` appended to `stream` after `version`,
    /// numbered from `first_sequence`: what every back end writes.
    pub fn appended(
        stream: &str,
        version: i64,
        first_sequence: i64,
        events: &[NewEvent],
        time_ms: Millis,
    ) -> Vec<Self> {
        (0i64..)
            .zip(events)
            .map(|(i, e)| StoredEvent {
                sequence: first_sequence + i,
                stream: stream.to_owned(),
                version: version + 1 + i,
                id: e.id.0.clone(),
                ty: e.ty.clone(),
                data: e.data.clone(),
                time_ms,
                correlation_id: e.correlation_id.clone(),
                causation_id: e.causation_id.clone(),
            })
            .collect()
    }

    pub fn to_cloud_event(&self) -> CloudEvent {
        CloudEvent {
            specversion: "1.0".into(),
            id: self.id.clone(),
            source: SOURCE.into(),
            ty: self.ty.clone(),
            subject: self.stream.clone(),
            time: rfc3339(self.time_ms),
            datacontenttype: "application/json".into(),
            data: self.data.clone(),
            sequence: self.sequence,
            streamversion: self.version,
            correlationid: self.correlation_id.clone(),
            causationid: self.causation_id.clone(),
        }
    }
}

/// A stage output kept in blob storage. Keys are content addressed
/// (`sha256/<hex>`), so a stage that runs twice writes the same key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    pub kind: String,
    pub key: String,
    pub bytes: u64,
    pub media_type: String,
}

/// `document.uploaded`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Uploaded {
    pub document: DocumentId,
    pub source: String,
    pub bytes: u64,
    pub media_type: String,
    pub blob_key: String,
    pub pipeline: String,
    pub pipeline_version: u32,
    /// Stage names in a topological order of the pipeline.
    pub stages: Vec<String>,
    /// The project (workspace) the document belongs to when uploaded through the API; `None` for the CLI's local
    /// documents.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// When the document must be ready (Unix milliseconds), if the uploader said; see `DocumentState::deadline_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<Millis>,
    /// The analyzer the project chose for enrichment, by the name the instance gives it; `None` means the
    /// instance's default. See `DocumentState::analyzer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyzer: Option<String>,
}

/// `stage.completed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageCompleted {
    pub stage: String,
    pub attempt: i32,
    pub duration_ms: i64,
    pub outputs: Vec<Artifact>,
    /// A small JSON summary of what the stage found (chapter titles, counts).
    pub summary: Value,
    /// Blob keys the stage wrote or relied on besides its outputs (see `DocumentState::references`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// `stage.failed`: one failed attempt. `dead` tells whether it was the last.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StageFailed {
    pub stage: String,
    pub attempt: i32,
    pub error: String,
    pub permanent: bool,
    pub dead: bool,
    /// Blob keys the attempt wrote or relied on before it failed (see `DocumentState::references`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// `document.failed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocumentFailed {
    pub stage: String,
    pub reason: String,
}

/// `document.cancelled`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocumentCancelled {
    pub reason: String,
}

/// `document.reprocessing`: the pipeline runs again from the stored original. The run is identified by this event's
/// stream version, which the projection records as `run`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Reprocessing {
    pub pipeline: String,
    pub pipeline_version: u32,
    pub stages: Vec<String>,
    pub media_type: String,
    /// The status the document had before, for the record.
    pub previous: DocumentStatus,
    /// The project's choice of analyzer when the run started (as on `document.uploaded`): a reprocess follows the
    /// project's current setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyzer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

/// `document.deleting`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Deleting {
    /// The status a failed deletion returns the document to.
    pub previous: DocumentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,
}

/// `document.purging`: the blobs the deletion is about to delete (those no other document references).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Purging {
    pub blobs: Vec<String>,
}

/// `document.deletion_failed`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DeletionFailed {
    pub reason: String,
    /// True when the failure came before any blob was deleted and the document was restored; false when blob
    /// deletion gave up and the document stays `deleting` until an operator retries the dead job.
    pub compensated: bool,
}

/// `document.deleted`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Deleted {
    /// Blobs deleted from storage.
    pub deleted: Vec<String>,
    /// Blobs kept because another document still references them.
    pub kept: Vec<String>,
}

/// Every fact about a document, decoded from the log: the event's type
/// names the variant and its data is the payload. The projection folds
/// these with one exhaustive `match`, so a new kind of event cannot be
/// forgotten there.
#[derive(Clone, Debug, PartialEq)]
pub enum DocumentEvent {
    Uploaded(Uploaded),
    StageCompleted(StageCompleted),
    StageFailed(StageFailed),
    Ready,
    Failed(DocumentFailed),
    Cancelled(DocumentCancelled),
    Retried,
    Reprocessing(Reprocessing),
    Deleting(Deleting),
    Purging(Purging),
    DeletionFailed(DeletionFailed),
    Deleted(Deleted),
}

/// An event the log holds but that does not decode: a type no version of
/// Bindery wrote, or a payload that does not match its type.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event {id} of {stream} has a type this version does not know: {ty:?}")]
    UnknownType { id: String, stream: String, ty: String },
    #[error("event {id} of {stream} ({ty}) does not decode: {reason}")]
    Payload { id: String, stream: String, ty: String, reason: String },
}

impl DocumentEvent {
    /// Decodes a stored event of the document vocabulary (`document.*` and
    /// `stage.*`); `None` for an event of another vocabulary, which other
    /// projections read. Within the vocabulary, a type this version does not
    /// know and a payload that does not fit its type are errors.
    pub fn decode(ev: &StoredEvent) -> Result<Option<Self>, EventError> {
        if !(ev.ty.starts_with("document.") || ev.ty.starts_with("stage.")) {
            return Ok(None);
        }
        fn payload<T: serde::de::DeserializeOwned>(ev: &StoredEvent) -> Result<T, EventError> {
            T::deserialize(&ev.data).map_err(|e| EventError::Payload {
                id: ev.id.clone(),
                stream: ev.stream.clone(),
                ty: ev.ty.clone(),
                reason: e.to_string(),
            })
        }
        Ok(Some(match ev.ty.as_str() {
            DOCUMENT_UPLOADED => Self::Uploaded(payload(ev)?),
            STAGE_COMPLETED => Self::StageCompleted(payload(ev)?),
            STAGE_FAILED => Self::StageFailed(payload(ev)?),
            DOCUMENT_READY => Self::Ready,
            DOCUMENT_FAILED => Self::Failed(payload(ev)?),
            DOCUMENT_CANCELLED => Self::Cancelled(payload(ev)?),
            DOCUMENT_RETRIED => Self::Retried,
            DOCUMENT_REPROCESSING => Self::Reprocessing(payload(ev)?),
            DOCUMENT_DELETING => Self::Deleting(payload(ev)?),
            DOCUMENT_PURGING => Self::Purging(payload(ev)?),
            DOCUMENT_DELETION_FAILED => Self::DeletionFailed(payload(ev)?),
            DOCUMENT_DELETED => Self::Deleted(payload(ev)?),
            other => {
                return Err(EventError::UnknownType {
                    id: ev.id.clone(),
                    stream: ev.stream.clone(),
                    ty: other.to_owned(),
                })
            }
        }))
    }
}
