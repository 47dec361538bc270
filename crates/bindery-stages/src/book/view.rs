//! The book as its users see it: one JSON shape, assembled from the
//! document's state and its `book` and `analysis` artifacts. `bindery show
//! --json`, `bindery export --format json` and (later) the HTTP API print
//! exactly this, so there is one place that decides what a book looks like
//! from outside.

use super::kinds;
use bindery_analyze::Analysis;
use bindery_blob::BlobStore;
use bindery_core::{Book, DocumentState};
use serde_json::{json, Value};

/// What `book_view` could load besides the state.
pub struct Loaded {
    pub book: Option<Book>,
    pub analysis: Option<Analysis>,
}

/// Artifacts up to this size are parsed from memory, larger ones from a file.
const IN_MEMORY: u64 = 4 << 20;

/// Loads the `book` and `analysis` artifacts that exist so far.
pub async fn load(state: &DocumentState, blobs: &BlobStore) -> Result<Loaded, bindery_blob::BlobError> {
    // A large artifact is streamed into a scratch file and parsed from
    // there, so a long book is held once, not beside its JSON; a usual one
    // is read and parsed in memory, which is quicker.
    async fn json<T: serde::de::DeserializeOwned + Send + 'static>(
        state: &DocumentState,
        blobs: &BlobStore,
        kind: &str,
    ) -> Result<Option<T>, bindery_blob::BlobError> {
        let Some(a) = state.artifacts.iter().find(|a| a.kind == kind) else { return Ok(None) };
        match blobs.head(&a.key).await? {
            None => return Err(bindery_blob::BlobError::NotFound(a.key.clone())),
            Some(size) if size > super::MAX_BOOK_JSON => {
                return Err(bindery_blob::BlobError::TooLarge { limit: super::MAX_BOOK_JSON })
            }
            Some(size) if size <= IN_MEMORY => {
                let raw = blobs.get_bytes(&a.key, super::MAX_BOOK_JSON).await?;
                return Ok(serde_json::from_slice(&raw).ok());
            }
            Some(_) => {}
        }
        let dir = tempfile::tempdir()?;
        let path = dir.path().join(format!("{kind}.json"));
        blobs.get_file(&a.key, &path).await?;
        let parsed = tokio::task::spawn_blocking(move || {
            let file = std::io::BufReader::new(std::fs::File::open(&path)?);
            let parsed = serde_json::from_reader(file).ok();
            drop(dir);
            Ok::<_, std::io::Error>(parsed)
        })
        .await
        .map_err(std::io::Error::other)??;
        Ok(parsed)
    }
    Ok(Loaded { book: json(state, blobs, kinds::BOOK).await?, analysis: json(state, blobs, kinds::ANALYSIS).await? })
}

/// What lists of documents show before they read any book: its title and
/// author as `structure` recorded them in its summary. The API's document
/// summaries and the web UI's library read them here, typed, instead of
/// each reading the stage's summary by its keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headline {
    pub title: Option<String>,
    pub author: Option<String>,
}

impl Headline {
    pub fn of(state: &DocumentState) -> Self {
        let structure = state.results.get("structure");
        let text = |key: &str| structure.and_then(|s| s.get(key)).and_then(Value::as_str).map(str::to_owned);
        Headline { title: text("title"), author: text("author") }
    }

    /// The headline when `structure`'s summary names both title and author
    /// (each may be null); `None` before it ran, or for a document whose
    /// summary predates them, whose book must be read instead.
    pub fn recorded(state: &DocumentState) -> Option<Self> {
        let summary = state.results.get("structure")?.as_object()?;
        (summary.contains_key("title") && summary.contains_key("author")).then(|| Self::of(state))
    }
}

/// The document as JSON. With `full_text`, chapters carry their paragraphs
/// (export); without, only their metadata and summaries (show).
pub fn book_view(state: &DocumentState, loaded: &Loaded, full_text: bool) -> Value {
    let book = loaded.book.as_ref();
    let analysis = loaded.analysis.as_ref();
    let extract = state.results.get("extract");
    let meta = |key: &str| -> Value {
        book.and_then(|b| match key {
            "title" => b.title.clone().map(Value::from),
            "author" => b.author.clone().map(Value::from),
            _ => Some(Value::from(b.language.clone())),
        })
        .or_else(|| extract.and_then(|e| e.get(key)).cloned())
        .unwrap_or(Value::Null)
    };
    let chapters: Vec<Value> = book
        .map(|b| {
            b.chapters
                .iter()
                .map(|c| {
                    let a = analysis.and_then(|a| a.chapters.iter().find(|x| x.index == c.index));
                    let mut v = json!({
                        "index": c.index,
                        "title": c.title,
                        "words": c.words(),
                        "first_page": c.first_page,
                        "summary": a.map(|a| a.summary.clone()),
                        "keywords": a.map(|a| a.keywords.clone()).unwrap_or_default(),
                        "sentiment": a.map(|a| a.sentiment),
                        "tonality": a.map(|a| a.tonality.clone()),
                        "scenes": a.map(|a| json!(a.scenes)).unwrap_or(json!([])),
                    });
                    if full_text {
                        v["paragraphs"] = json!(c.paragraphs);
                        v["dialogue"] = a.map(|a| json!(a.dialogue)).unwrap_or(json!([]));
                    }
                    v
                })
                .collect()
        })
        .unwrap_or_default();
    let pages = book.and_then(|b| b.pages).map(Value::from).or_else(|| extract.and_then(|e| e.get("pages")).cloned());
    json!({
        "id": state.id,
        "source": state.source,
        "status": state.status.as_str(),
        "error": state.error,
        "warnings": state.warnings(),
        "media_type": state.media_type,
        "bytes": state.bytes,
        "pipeline": state.pipeline,
        "pipeline_version": state.pipeline_version,
        "title": meta("title"),
        "author": meta("author"),
        "language": meta("language"),
        "pages": pages.unwrap_or(Value::Null),
        "words": book.map(|b| b.words()),
        "summary": analysis.map(|a| a.summary.clone()),
        "keywords": analysis.map(|a| json!(a.keywords)).unwrap_or(json!([])),
        "chapters": chapters,
        "characters": analysis.map(|a| json!(a.characters)).unwrap_or(json!([])),
        "places": analysis.map(|a| json!(a.places)).unwrap_or(json!([])),
        "front_matter": if full_text { book.map(|b| json!(b.front_matter)).unwrap_or(json!([])) } else { Value::Null },
        "progress": state.progress(),
        "stages": state.stages,
        "artifacts": state.artifacts,
        "created_ms": state.created_ms,
        "finished_ms": state.finished_ms,
        "version": state.version,
    })
}

/// The book as Markdown: title, author, summary, then each chapter with its
/// summary as a quote and its paragraphs.
pub fn markdown(state: &DocumentState, loaded: &Loaded) -> String {
    let mut out = String::new();
    let Some(book) = loaded.book.as_ref() else {
        return format!("# {}\n\n_No structured text ({})._\n", state.source, state.status.as_str());
    };
    out.push_str(&format!("# {}\n\n", book.title.as_deref().unwrap_or(&state.source)));
    if let Some(a) = &book.author {
        out.push_str(&format!("_{a}_\n\n"));
    }
    if let Some(a) = &loaded.analysis {
        if !a.summary.is_empty() {
            out.push_str(&format!("> {}\n\n", a.summary));
        }
    }
    for c in &book.chapters {
        out.push_str(&format!("## {}\n\n", c.title));
        let summary = loaded.analysis.as_ref().and_then(|a| a.chapters.iter().find(|x| x.index == c.index));
        if let Some(s) = summary.filter(|s| !s.summary.is_empty()) {
            out.push_str(&format!("> {}\n\n", s.summary));
        }
        for p in &c.paragraphs {
            out.push_str(p);
            out.push_str("\n\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bindery_core::event::{self, StoredEvent, Uploaded};
    use bindery_core::DocumentId;

    /// The headline is what `structure` recorded, and nothing before it ran.
    #[test]
    fn the_headline_is_what_structure_recorded() {
        let up = Uploaded {
            document: DocumentId::for_bytes(b"x"),
            source: "x.txt".into(),
            bytes: 1,
            media_type: "text/plain".into(),
            blob_key: "sha256/00".into(),
            pipeline: "book".into(),
            pipeline_version: 1,
            stages: vec!["structure".into()],
            project: None,
            deadline_ms: None,
            analyzer: None,
        };
        let ev = |version: i64, ty: &str, data: Value| StoredEvent {
            sequence: version,
            stream: "x".into(),
            version,
            id: format!("e{version}"),
            ty: ty.into(),
            data,
            time_ms: 0,
            correlation_id: None,
            causation_id: None,
        };
        let uploaded = ev(1, event::DOCUMENT_UPLOADED, serde_json::to_value(up).unwrap());
        let before = DocumentState::apply(None, &uploaded).unwrap().unwrap();
        assert_eq!(Headline::of(&before), Headline::default());
        let summary = json!({"title": "Alice's Adventures", "author": "Lewis Carroll", "words": 3});
        let completed =
            json!({"stage": "structure", "attempt": 1, "duration_ms": 1, "outputs": [], "summary": summary});
        assert_eq!(Headline::recorded(&before), None);
        let after = DocumentState::apply(Some(before), &ev(2, event::STAGE_COMPLETED, completed)).unwrap().unwrap();
        let expected = Headline { title: Some("Alice's Adventures".into()), author: Some("Lewis Carroll".into()) };
        assert_eq!(Headline::of(&after), expected);
        assert_eq!(Headline::recorded(&after), Some(expected));
    }
}
