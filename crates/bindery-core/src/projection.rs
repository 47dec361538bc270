//! The document projection: a document's state, folded from its events.
//!
//! The store applies [`DocumentState::apply`] inside the same transaction
//! that appends an event, so the read model is never behind its stream, and
//! `bindery replay` folds the whole log through the same function to rebuild
//! it. Progress and ETA are derived from the state, never stored.
//!
//! A document can be run again (`document.reprocessing` starts a new *run*,
//! numbered by that event's stream version) and deleted (`document.deleting`
//! … `document.deleted`, after which the fold yields no state at all: the
//! stream stays in the log, the read model forgets the document).

use crate::event::{Artifact, DocumentEvent, EventError, StoredEvent, Uploaded};
use crate::time::Millis;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocumentStatus {
    Processing,
    Ready,
    Failed,
    Cancelled,
    /// Deletion was requested and is under way. Reads still work; nothing runs.
    Deleting,
}

impl DocumentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentStatus::Processing => "processing",
            DocumentStatus::Ready => "ready",
            DocumentStatus::Failed => "failed",
            DocumentStatus::Cancelled => "cancelled",
            DocumentStatus::Deleting => "deleting",
        }
    }

    pub fn is_terminal(self) -> bool {
        self != DocumentStatus::Processing
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StageState {
    pub completed: bool,
    /// Failed attempts seen so far.
    pub failures: i32,
    pub duration_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// An ongoing deletion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// The status a compensated (failed, undone) deletion returns to.
    pub previous: DocumentStatus,
    /// Past the point of no return: blobs are being deleted, so a failure no longer restores the document.
    pub purging: bool,
}

fn first_run() -> i64 {
    1
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DocumentState {
    pub id: String,
    /// The owning project; `None` for documents submitted from the CLI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    pub source: String,
    pub bytes: u64,
    pub media_type: String,
    pub blob_key: String,
    pub status: DocumentStatus,
    pub pipeline: String,
    pub pipeline_version: u32,
    /// Stage names in pipeline order.
    pub stage_order: Vec<String>,
    pub stages: BTreeMap<String, StageState>,
    pub error: Option<String>,
    pub artifacts: Vec<Artifact>,
    /// Each completed stage's summary, by stage name.
    pub results: BTreeMap<String, Value>,
    pub created_ms: Millis,
    pub updated_ms: Millis,
    pub finished_ms: Option<Millis>,
    /// The stream version of the last event folded in.
    pub version: i64,
    /// The current run of the pipeline: the stream version of the event that started it (`document.uploaded` or
    /// `document.reprocessing`). Stage jobs carry it, so jobs of an earlier run are told apart.
    #[serde(default = "first_run")]
    pub run: i64,
    /// Set while the document is `deleting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion: Option<Deletion>,
    /// Why the last deletion attempt failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_error: Option<String>,
    /// When the uploader needs the document ready (Unix milliseconds); `None` when someone waits for it now. It
    /// decides whether enrichment may use a language-model provider's batch path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<Millis>,
    /// The analyzer `enrich` uses for this run, by the name the instance gives it (the project's choice when the
    /// run started); `None` means the instance's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analyzer: Option<String>,
    /// Blobs the document's runs wrote or relied on besides its original and artifacts: the analyzer's cached
    /// answers, from failed attempts too. Kept across reprocessing (the answers are what makes a reprocess free),
    /// so that deleting the document deletes every one that no other document holds.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub references: BTreeSet<String>,
}

/// Progress of a document through its pipeline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    pub status: DocumentStatus,
    pub current_stage: Option<String>,
    pub done: usize,
    pub total: usize,
    pub percent: f64,
    /// Estimated milliseconds to go: the mean duration of the completed
    /// stages times the stages left. `None` before any stage completed.
    pub eta_ms: Option<i64>,
}

impl DocumentState {
    /// What the stages noticed without failing the document ("no thumbnail
    /// for page 2: …"), in pipeline order: each completed stage may list
    /// them under `warnings` in its summary, in words for the uploader.
    pub fn warnings(&self) -> Vec<String> {
        let listed = |stage: &String| self.results.get(stage).and_then(|r| r.get("warnings")?.as_array().cloned());
        self.stage_order.iter().filter_map(listed).flatten().filter_map(|w| w.as_str().map(str::to_owned)).collect()
    }

    /// Folds one stored event into the state before it (`None` before a
    /// document's first event, and after its deletion). An event that does
    /// not decode is an error, not a skip: a state folded past an event it
    /// could not read would be one no replay explains. So a process reads
    /// only logs its own version or an older one wrote; upgrade every
    /// process before a new kind of event is written.
    pub fn apply(state: Option<Self>, ev: &StoredEvent) -> Result<Option<Self>, EventError> {
        Ok(match DocumentEvent::decode(ev)? {
            Some(event) => Self::fold(state, ev, event),
            // Another vocabulary's event on this stream: the stream moved on, the document did not change.
            None => state.map(|s| Self { version: ev.version, updated_ms: ev.time_ms, ..s }),
        })
    }

    /// Folds one decoded event, stored as `ev`, with one exhaustive match.
    fn fold(state: Option<Self>, ev: &StoredEvent, event: DocumentEvent) -> Option<Self> {
        let mut s = match event {
            DocumentEvent::Uploaded(up) => return Some(Self::uploaded(up, ev)),
            DocumentEvent::Deleted(_) => return None,
            // Nothing but an upload starts a document.
            _ => state?,
        };
        s.version = ev.version;
        s.updated_ms = ev.time_ms;
        // Nothing but the deletion's own events changes a deleting document's status.
        let ends_a_run = matches!(
            event,
            DocumentEvent::Ready | DocumentEvent::Failed(_) | DocumentEvent::Cancelled(_) | DocumentEvent::Retried
        );
        if s.status == DocumentStatus::Deleting && ends_a_run {
            return Some(s);
        }
        match event {
            DocumentEvent::StageCompleted(c) => {
                let st = s.stages.entry(c.stage.clone()).or_default();
                st.completed = true;
                st.duration_ms = Some(c.duration_ms);
                for a in c.outputs {
                    if !s.artifacts.contains(&a) {
                        s.artifacts.push(a);
                    }
                }
                s.references.extend(c.references);
                s.results.insert(c.stage, c.summary);
            }
            DocumentEvent::StageFailed(f) => {
                let st = s.stages.entry(f.stage).or_default();
                st.failures += 1;
                st.last_error = Some(f.error);
                s.references.extend(f.references);
            }
            DocumentEvent::Ready => {
                s.status = DocumentStatus::Ready;
                s.finished_ms = Some(ev.time_ms);
            }
            DocumentEvent::Failed(f) => {
                s.error = Some(format!("stage {}: {}", f.stage, f.reason));
                s.status = DocumentStatus::Failed;
                s.finished_ms = Some(ev.time_ms);
            }
            DocumentEvent::Retried => {
                s.status = DocumentStatus::Processing;
                s.error = None;
                s.finished_ms = None;
            }
            DocumentEvent::Cancelled(c) => {
                s.error = Some(c.reason);
                s.status = DocumentStatus::Cancelled;
                s.finished_ms = Some(ev.time_ms);
            }
            DocumentEvent::Reprocessing(r) => {
                s.pipeline = r.pipeline;
                s.pipeline_version = r.pipeline_version;
                s.media_type = r.media_type;
                s.stages = r.stages.iter().map(|n| (n.clone(), StageState::default())).collect();
                s.stage_order = r.stages;
                s.results.clear();
                s.artifacts.clear();
                s.error = None;
                s.finished_ms = None;
                s.status = DocumentStatus::Processing;
                s.run = ev.version;
                s.analyzer = r.analyzer;
            }
            DocumentEvent::Deleting(d) => {
                if s.status != DocumentStatus::Deleting {
                    s.deletion = Some(Deletion { previous: d.previous, purging: false });
                    s.status = DocumentStatus::Deleting;
                    s.deletion_error = None;
                }
            }
            DocumentEvent::Purging(_) => {
                if let Some(d) = s.deletion.as_mut() {
                    d.purging = true;
                }
            }
            DocumentEvent::DeletionFailed(f) => {
                s.deletion_error = Some(f.reason);
                if f.compensated {
                    if let Some(d) = s.deletion.take() {
                        s.status = d.previous;
                    }
                }
            }
            // Folded above, before there was a state to change.
            DocumentEvent::Uploaded(_) | DocumentEvent::Deleted(_) => {}
        }
        Some(s)
    }

    /// The state `document.uploaded` starts, stored as `ev`.
    fn uploaded(up: Uploaded, ev: &StoredEvent) -> Self {
        Self {
            id: up.document.to_string(),
            project: up.project,
            source: up.source,
            bytes: up.bytes,
            media_type: up.media_type,
            blob_key: up.blob_key,
            status: DocumentStatus::Processing,
            pipeline: up.pipeline,
            pipeline_version: up.pipeline_version,
            stages: up.stages.iter().map(|s| (s.clone(), StageState::default())).collect(),
            stage_order: up.stages,
            error: None,
            artifacts: Vec::new(),
            results: BTreeMap::new(),
            created_ms: ev.time_ms,
            updated_ms: ev.time_ms,
            finished_ms: None,
            version: ev.version,
            run: ev.version,
            deletion: None,
            deletion_error: None,
            deadline_ms: up.deadline_ms,
            analyzer: up.analyzer,
            references: BTreeSet::new(),
        }
    }

    /// Every blob the document references: its original, its artifacts and its references. What deleting it may
    /// free, and what the store's reference table holds for it.
    pub fn blob_keys(&self) -> BTreeSet<String> {
        std::iter::once(self.blob_key.clone())
            .chain(self.artifacts.iter().map(|a| a.key.clone()))
            .chain(self.references.iter().cloned())
            .collect()
    }

    /// The names of the completed stages.
    pub fn done(&self) -> BTreeSet<String> {
        self.stages.iter().filter(|(_, st)| st.completed).map(|(n, _)| n.clone()).collect()
    }

    pub fn progress(&self) -> Progress {
        let total = self.stage_order.len();
        let durations: Vec<i64> = self.stages.values().filter_map(|st| st.duration_ms).collect();
        let done = durations.len();
        let current_stage = match self.status {
            DocumentStatus::Processing => {
                self.stage_order.iter().find(|n| !self.stages.get(*n).is_some_and(|st| st.completed)).cloned()
            }
            _ => None,
        };
        let percent = match (self.status, total) {
            (DocumentStatus::Ready, _) | (_, 0) => 100.0,
            _ => (done as f64 * 1000.0 / total as f64).round() / 10.0,
        };
        let eta_ms = match self.status {
            DocumentStatus::Processing if done > 0 => {
                Some(durations.iter().sum::<i64>() / done as i64 * (total - done) as i64)
            }
            DocumentStatus::Processing => None,
            _ => Some(0),
        };
        Progress { status: self.status, current_stage, done, total, percent, eta_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event;
    use crate::ids::DocumentId;
    use serde_json::json;

    fn ev(version: i64, ty: &str, data: Value) -> StoredEvent {
        StoredEvent {
            sequence: version,
            stream: "d".into(),
            version,
            id: format!("e{version}"),
            ty: ty.into(),
            data,
            time_ms: 1000 * version,
            correlation_id: None,
            causation_id: None,
        }
    }

    fn fold(events: &[StoredEvent]) -> DocumentState {
        events.iter().try_fold(None, DocumentState::apply).unwrap().expect("stream starts with an upload")
    }

    #[test]
    fn folds_a_whole_run() {
        let up = Uploaded {
            document: DocumentId::for_bytes(b"x"),
            source: "a.txt".into(),
            bytes: 1,
            media_type: "text/plain".into(),
            blob_key: "sha256/ab".into(),
            pipeline: "text".into(),
            pipeline_version: 1,
            project: None,
            deadline_ms: None,
            analyzer: None,
            stages: vec!["extract".into(), "structure".into(), "count".into()],
        };
        let completed = |stage: &str, ms: i64| json!({"stage": stage, "attempt": 1, "duration_ms": ms, "outputs": [], "summary": {"ok": stage}});
        let mut events = vec![ev(1, event::DOCUMENT_UPLOADED, serde_json::to_value(&up).unwrap())];
        let p = fold(&events).progress();
        assert_eq!((p.done, p.total, p.current_stage.as_deref(), p.eta_ms), (0, 3, Some("extract"), None));

        events.push(ev(2, event::STAGE_COMPLETED, completed("extract", 30)));
        events.push(ev(
            3,
            event::STAGE_FAILED,
            json!({"stage": "structure", "attempt": 1, "error": "boom", "permanent": false, "dead": false}),
        ));
        let s = fold(&events);
        let p = s.progress();
        assert_eq!((p.done, p.current_stage.as_deref(), p.percent, p.eta_ms), (1, Some("structure"), 33.3, Some(60)));
        assert_eq!(s.stages["structure"].failures, 1);

        events.push(ev(4, event::STAGE_COMPLETED, completed("structure", 10)));
        events.push(ev(5, event::STAGE_COMPLETED, completed("count", 20)));
        events.push(ev(6, event::DOCUMENT_READY, json!({})));
        let s = fold(&events);
        assert_eq!(s.status, DocumentStatus::Ready);
        assert_eq!(s.version, 6);
        assert_eq!(s.finished_ms, Some(6000));
        assert_eq!(s.results["count"], json!({"ok": "count"}));
        let p = s.progress();
        assert_eq!((p.percent, p.current_stage, p.eta_ms), (100.0, None, Some(0)));
    }

    #[test]
    fn failure_records_the_reason() {
        let up = json!({"document": "00000000000000000000000000000000", "source": "s", "bytes": 0,
            "media_type": "text/plain", "blob_key": "k", "pipeline": "text", "pipeline_version": 1, "stages": ["extract"]});
        let s = fold(&[
            ev(1, event::DOCUMENT_UPLOADED, up),
            ev(2, event::DOCUMENT_FAILED, json!({"stage": "extract", "reason": "not UTF-8 at byte 3"})),
        ]);
        assert_eq!(s.status, DocumentStatus::Failed);
        assert_eq!(s.error.as_deref(), Some("stage extract: not UTF-8 at byte 3"));
    }

    fn uploaded_then_ready() -> Vec<StoredEvent> {
        let up = json!({"document": "00000000000000000000000000000000", "source": "s", "bytes": 1,
            "media_type": "text/plain", "blob_key": "sha256/aa", "pipeline": "text", "pipeline_version": 1, "stages": ["extract"]});
        let out = json!({"kind": "text", "key": "sha256/bb", "bytes": 1, "media_type": "text/plain"});
        vec![
            ev(1, event::DOCUMENT_UPLOADED, up),
            ev(
                2,
                event::STAGE_COMPLETED,
                json!({"stage": "extract", "attempt": 1, "duration_ms": 5, "outputs": [out], "summary": {},
                       "references": ["cache/analyzer/cc"]}),
            ),
            ev(3, event::DOCUMENT_READY, json!({})),
        ]
    }

    #[test]
    fn deletion_compensates_or_removes_the_state() {
        let mut events = uploaded_then_ready();
        let held = fold(&events).blob_keys().into_iter().collect::<Vec<_>>();
        assert_eq!(held, ["cache/analyzer/cc", "sha256/aa", "sha256/bb"], "original, artifacts and references");
        events.push(ev(4, event::DOCUMENT_DELETING, json!({"previous": "ready"})));
        let s = fold(&events);
        assert_eq!(s.status, DocumentStatus::Deleting);
        assert_eq!(s.deletion, Some(Deletion { previous: DocumentStatus::Ready, purging: false }));
        // A late end-of-run event does not change a deleting document's status.
        events.push(ev(5, event::DOCUMENT_FAILED, json!({"stage": "x", "reason": "late"})));
        assert_eq!(fold(&events).status, DocumentStatus::Deleting);
        events.push(ev(6, event::DOCUMENT_DELETION_FAILED, json!({"reason": "index down", "compensated": true})));
        let s = fold(&events);
        assert_eq!(
            (s.status, s.deletion.clone(), s.deletion_error.as_deref()),
            (DocumentStatus::Ready, None, Some("index down"))
        );

        events.push(ev(7, event::DOCUMENT_DELETING, json!({"previous": "ready"})));
        events.push(ev(8, event::DOCUMENT_PURGING, json!({"blobs": ["sha256/aa"]})));
        events.push(ev(9, event::DOCUMENT_DELETION_FAILED, json!({"reason": "storage down", "compensated": false})));
        let s = fold(&events);
        assert_eq!(s.status, DocumentStatus::Deleting, "past the point of no return nothing is restored");
        assert_eq!(s.deletion, Some(Deletion { previous: DocumentStatus::Ready, purging: true }));
        assert_eq!(s.deletion_error.as_deref(), Some("storage down"));
        events.push(ev(10, event::DOCUMENT_DELETED, json!({"deleted": ["sha256/aa"], "kept": []})));
        assert_eq!(events.iter().try_fold(None, DocumentState::apply), Ok(None));
    }

    /// An event that does not decode stops the fold with an error naming it, instead of being skipped.
    #[test]
    fn an_event_that_does_not_decode_is_an_error() {
        let mut events = uploaded_then_ready();
        events.truncate(1);
        let state = fold(&events);
        let garbled = ev(2, event::STAGE_COMPLETED, json!({"stage": "extract"}));
        match DocumentState::apply(Some(state.clone()), &garbled) {
            Err(EventError::Payload { id, ty, reason, .. }) => {
                assert_eq!((id.as_str(), ty.as_str()), ("e2", event::STAGE_COMPLETED));
                assert!(reason.contains("missing field"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        let unknown = ev(2, "document.teleported", json!({}));
        assert!(matches!(
            DocumentState::apply(Some(state.clone()), &unknown),
            Err(EventError::UnknownType { ty, .. }) if ty == "document.teleported"
        ));
        // Another vocabulary's event moves the stream on and changes nothing else.
        let foreign = DocumentState::apply(Some(state.clone()), &ev(2, "bench.event", json!({}))).unwrap().unwrap();
        assert_eq!(foreign, DocumentState { version: 2, updated_ms: 2000, ..state });
    }

    #[test]
    fn a_failed_attempt_leaves_its_references_with_the_document() {
        let mut events = uploaded_then_ready();
        events.truncate(1);
        events.push(ev(
            2,
            event::STAGE_FAILED,
            json!({"stage": "enrich", "attempt": 1, "error": "provider down", "permanent": false, "dead": true,
                   "references": ["cache/analyzer/dd"]}),
        ));
        events.push(ev(3, event::DOCUMENT_FAILED, json!({"stage": "enrich", "reason": "provider down"})));
        let s = fold(&events);
        assert_eq!(s.status, DocumentStatus::Failed);
        assert_eq!(s.blob_keys().into_iter().collect::<Vec<_>>(), ["cache/analyzer/dd", "sha256/aa"]);
    }

    #[test]
    fn reprocessing_starts_a_new_run_with_the_same_id() {
        let mut events = uploaded_then_ready();
        let first = fold(&events);
        assert_eq!(first.run, 1);
        events.push(ev(
            4,
            event::DOCUMENT_REPROCESSING,
            json!({"pipeline": "text", "pipeline_version": 2, "stages": ["extract", "count"],
                   "media_type": "text/markdown", "previous": "ready"}),
        ));
        let s = fold(&events);
        assert_eq!((s.id.as_str(), s.run, s.status), (first.id.as_str(), 4, DocumentStatus::Processing));
        assert_eq!((s.pipeline_version, s.stage_order.len(), s.finished_ms), (2, 2, None));
        assert!(s.results.is_empty() && s.artifacts.is_empty() && s.done().is_empty());
        assert_eq!(s.progress().percent, 0.0);
        assert_eq!(
            s.blob_keys().into_iter().collect::<Vec<_>>(),
            ["cache/analyzer/cc", "sha256/aa"],
            "artifacts go with their run; references stay, so a deletion still finds them"
        );
        assert_eq!(s.analyzer, None, "no choice recorded: the instance's default");

        // A run follows the project's choice recorded when it started; the next run records its own.
        events.push(ev(5, event::DOCUMENT_READY, json!({})));
        events.push(ev(
            6,
            event::DOCUMENT_REPROCESSING,
            json!({"pipeline": "text", "pipeline_version": 2, "stages": ["extract"], "media_type": "text/markdown",
                   "previous": "ready", "analyzer": "big-model"}),
        ));
        assert_eq!(fold(&events).analyzer.as_deref(), Some("big-model"));
        events.push(ev(7, event::DOCUMENT_READY, json!({})));
        events.push(ev(
            8,
            event::DOCUMENT_REPROCESSING,
            json!({"pipeline": "text", "pipeline_version": 2, "stages": ["extract"], "media_type": "text/markdown",
                   "previous": "ready"}),
        ));
        assert_eq!(fold(&events).analyzer, None);
    }
}
