//! Documents: upload (raw body or multipart, streamed to storage), list, read, cancel, events, the structured book,
//! its dictionary, and search across the caller's books.

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::extract::{Path, Query};
use crate::AppState;
use axum::extract::{FromRequest, Multipart, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bindery_blob::BlobError;
use bindery_core::event::CloudEvent;
use bindery_core::{DocumentState, Progress};
use bindery_engine::{EngineError, SubmitOptions};
use bindery_stages::book::{kinds, view, MAX_BOOK_JSON};
use bindery_store::Role;
use bytes::Bytes;
use futures::{Stream, TryStreamExt};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

/// Loads a document the caller may act on with at least `needed`. A document of another project, or of none (the
/// CLI's), is "not found" unless the caller is an instance admin: ids cannot be probed.
pub async fn authorize(state: &AppState, caller: &Caller, id: &str, needed: Role) -> ApiResult<DocumentState> {
    let missing = || ApiError::not_found(format!("document {id}"));
    let doc = state.store().document(id).await?.ok_or_else(missing)?;
    match &doc.project {
        Some(project) => match caller.require(state, project, needed).await {
            Err(ApiError::NotFound(_)) => Err(missing()),
            other => other.map(|_| doc),
        },
        None if caller.user.admin && caller.key.is_none() => Ok(doc),
        None => Err(missing()),
    }
}

#[derive(Serialize, ToSchema)]
pub struct UploadedDocument {
    pub id: String,
    pub source: String,
    /// False when the project already had this exact file: the existing document is returned, nothing runs twice.
    pub created: bool,
}

#[derive(Serialize, ToSchema)]
pub struct Uploads {
    pub documents: Vec<UploadedDocument>,
}

#[derive(Deserialize, IntoParams)]
pub struct UploadQuery {
    /// The file's name for a raw-body upload (it helps choose the pipeline; the bytes decide first).
    pub filename: Option<String>,
    /// When the document must be ready: an RFC 3339 time, or a delay from now such as `90m`, `12h` or `2d`. Without
    /// it the document is treated as awaited now. A deadline far enough ahead lets a language-model analyzer use its
    /// provider's batch path (cheaper, slower).
    #[param(value_type = Option<Deadline>)]
    pub deadline: Option<String>,
}

/// How the description states a deadline: an RFC 3339 time, or a number of seconds, minutes, hours or days.
pub struct Deadline;

impl utoipa::PartialSchema for Deadline {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
        let time = ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)));
        let delay = ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^[0-9]{1,9}[smhd]$"));
        OneOfBuilder::new().item(time).item(delay).into()
    }
}

impl utoipa::ToSchema for Deadline {}

/// Uploads one file as the raw body (`?filename=`), or one or more files as `multipart/form-data` parts. Bytes
/// stream to storage as they arrive; nothing holds the whole file in memory. Uploading the same bytes to the same
/// project again returns the existing document (`created: false`), so retries are safe; while that document is being
/// deleted the answer is `conflict`, and once it is deleted the upload creates it afresh.
#[utoipa::path(post, path = "/api/v1/projects/{project}/documents", tag = "documents", security(("bearer" = [])),
    params(("project" = String, Path), UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "the file, or multipart/form-data with file parts"),
    responses((status = 201, body = Uploads), (status = 200, body = Uploads, description = "already uploaded"),
              (status = 409, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 422, body = crate::error::Problem)))]
pub async fn upload(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Query(q): Query<UploadQuery>,
    request: Request,
) -> ApiResult<(StatusCode, Json<Uploads>)> {
    caller.require(&state, &project, Role::Editor).await?;
    let deadline_ms = match q.deadline.as_deref() {
        Some(d) => {
            Some(bindery_core::time::parse_deadline(d, bindery_core::time::now_ms()).map_err(ApiError::Unprocessable)?)
        }
        None => None,
    };
    let options =
        SubmitOptions { max_bytes: Some(state.options.max_upload_bytes), project: Some(project.clone()), deadline_ms };
    let limit = state.options.max_upload_bytes;
    let declared =
        request.headers().get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::TooLarge(limit));
    }
    // No body at all (no length, nothing chunked) or a declared empty one: there is no file to make a document of.
    let chunked = request.headers().contains_key(header::TRANSFER_ENCODING);
    if declared == Some(0) || (declared.is_none() && !chunked) {
        return Err(ApiError::Unprocessable(
            "the request has no file: send it as the body, or as multipart parts".into(),
        ));
    }
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let mut documents = Vec::new();
    if multipart {
        // One rule for every upload: the limit is on the request. A declared length was checked above; a chunked
        // body is cut off once it passes the limit, however its bytes are split into files.
        let request = request.map(|body| axum::body::Body::new(http_body_util::Limited::new(body, limit as usize)));
        let refused = |e: axum::extract::multipart::MultipartError| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::TooLarge(limit),
            _ => ApiError::BadRequest(e.body_text()),
        };
        let mut form =
            Multipart::from_request(request, &state).await.map_err(|e| ApiError::BadRequest(e.body_text()))?;
        while let Some(field) = form.next_field().await.map_err(refused)? {
            let Some(name) = field.file_name().map(source_name) else { continue };
            // The limit may be passed in the middle of a file; the field's error says so, the stored upload's not.
            let over = std::sync::atomic::AtomicBool::new(false);
            let field = field.inspect_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    over.store(true, std::sync::atomic::Ordering::Relaxed);
                }
            });
            match store(&state, &options, name, field).await {
                Err(_) if over.load(std::sync::atomic::Ordering::Relaxed) => return Err(ApiError::TooLarge(limit)),
                stored => documents.push(stored?),
            }
        }
        if documents.is_empty() {
            return Err(ApiError::BadRequest("the form has no file part".into()));
        }
    } else {
        let name = source_name(q.filename.as_deref().unwrap_or("upload"));
        documents.push(store(&state, &options, name, request.into_body().into_data_stream()).await?);
    }
    let status = if documents.iter().any(|d| d.created) { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(Uploads { documents })))
}

/// The last path component of a client-supplied name, without control characters, at most 200 characters.
fn source_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or(raw);
    let clean: String = base.chars().filter(|c| !c.is_control()).take(200).collect();
    if clean.trim().is_empty() {
        "upload".into()
    } else {
        clean
    }
}

/// Streams one file into blob storage and submits it (`Engine::submit_reader`). A body that breaks off is the
/// client's problem (`bad_request`), not ours.
async fn store<S, E>(state: &AppState, options: &SubmitOptions, source: String, body: S) -> ApiResult<UploadedDocument>
where
    S: Stream<Item = Result<Bytes, E>> + Send + Unpin,
    E: std::fmt::Display,
{
    let reader = tokio_util::io::StreamReader::new(body.map_err(|e| std::io::Error::other(e.to_string())));
    match state.engine.submit_with(&source, reader, options).await {
        Ok(s) if !s.created && is_deleting(state, s.id.as_str()).await? => Err(ApiError::Conflict(format!(
            "document {} (the same file) is being deleted; upload it again once it is gone",
            s.id
        ))),
        Ok(s) => Ok(UploadedDocument { id: s.id.to_string(), source: s.source, created: s.created }),
        Err(EngineError::Io { source: e, .. }) | Err(EngineError::Blob(BlobError::Io(e))) => {
            Err(ApiError::BadRequest(format!("the upload was interrupted: {e}")))
        }
        Err(e) => Err(e.into()),
    }
}

async fn is_deleting(state: &AppState, id: &str) -> ApiResult<bool> {
    Ok(state.store().document(id).await?.is_some_and(|d| d.status == bindery_core::DocumentStatus::Deleting))
}

#[derive(Deserialize, IntoParams)]
pub struct Page {
    /// The `next` cursor of the previous page.
    pub after: Option<String>,
    /// At most 200; default 50.
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct DocumentSummary {
    pub id: String,
    pub source: String,
    pub status: String,
    pub bytes: u64,
    pub media_type: String,
    /// The book's title once `structure` has run.
    pub title: Option<String>,
    pub percent: f64,
    pub created_ms: i64,
    pub updated_ms: i64,
}

impl From<&DocumentState> for DocumentSummary {
    fn from(d: &DocumentState) -> Self {
        DocumentSummary {
            id: d.id.clone(),
            source: d.source.clone(),
            status: d.status.as_str().to_owned(),
            bytes: d.bytes,
            media_type: d.media_type.clone(),
            title: view::Headline::of(d).title,
            percent: d.progress().percent,
            created_ms: d.created_ms,
            updated_ms: d.updated_ms,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DocumentList {
    pub items: Vec<DocumentSummary>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next: Option<String>,
}

/// The project's documents, by id, a page at a time.
#[utoipa::path(get, path = "/api/v1/projects/{project}/documents", tag = "documents", security(("bearer" = [])),
    params(("project" = String, Path), Page), responses((status = 200, body = DocumentList), (status = 404, body = crate::error::Problem)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Query(page): Query<Page>,
) -> ApiResult<Json<DocumentList>> {
    caller.require(&state, &project, Role::Viewer).await?;
    let limit = page.limit.unwrap_or(50).clamp(1, 200);
    let docs = state.store().project_documents(&project, page.after.as_deref().unwrap_or(""), limit).await?;
    let next = (docs.len() as i64 == limit).then(|| docs.last().map(|d| d.id.clone())).flatten();
    Ok(Json(DocumentList { items: docs.iter().map(DocumentSummary::from).collect(), next }))
}

/// The document's state (stages, artifacts, results, error) with its progress. Carries an `ETag`; send it back in
/// `If-None-Match` to get `304 Not Modified` while nothing changed.
#[utoipa::path(get, path = "/api/v1/documents/{id}", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = Object), (status = 304), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let doc = authorize(&state, &caller, &id, Role::Viewer).await?;
    let etag = format!("\"{}.{}\"", doc.id, doc.version);
    // `*` matches any current representation (RFC 9110, section 13.1.2); otherwise the list must name this one.
    let matches = |v: &str| v.split(',').map(str::trim).any(|t| t == "*" || t == etag || t == format!("W/{etag}"));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(matches) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    // Serialised straight from the projection: this is the hottest read of the API.
    #[derive(Serialize)]
    struct View<'a> {
        #[serde(flatten)]
        doc: &'a DocumentState,
        progress: Progress,
    }
    let mut response = Json(View { progress: doc.progress(), doc: &doc }).into_response();
    response.headers_mut().insert(header::ETAG, HeaderValue::from_str(&etag).expect("ascii etag"));
    Ok(response)
}

/// Stops the document's pipeline; running stages stop at their next heartbeat.
#[utoipa::path(post, path = "/api/v1/documents/{id}/cancel", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 202), (status = 409, body = crate::error::Problem)))]
pub async fn cancel(State(state): State<AppState>, caller: Caller, Path(id): Path<String>) -> ApiResult<StatusCode> {
    authorize(&state, &caller, &id, Role::Editor).await?;
    state.engine.cancel(&id).await?;
    Ok(StatusCode::ACCEPTED)
}

#[derive(Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Only events after this stream version.
    pub after: Option<i64>,
    /// At most 1000; default 100.
    pub limit: Option<i64>,
}

/// The document's history as CloudEvents, oldest first.
#[utoipa::path(get, path = "/api/v1/documents/{id}/events", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path), EventsQuery), responses((status = 200, body = [Object])))]
pub async fn events(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<EventsQuery>,
) -> ApiResult<Json<Vec<CloudEvent>>> {
    authorize(&state, &caller, &id, Role::Viewer).await?;
    let events = state.store().read_stream(&id, q.after.unwrap_or(0), q.limit.unwrap_or(100).clamp(1, 1000)).await?;
    Ok(Json(events.iter().map(|e| e.to_cloud_event()).collect()))
}

/// `?full=`, `true` or `false` exactly as the description says (anything else is `400`).
#[derive(Default, Deserialize)]
pub struct BookQuery {
    full: Option<bool>,
}

/// The structured book: title, author, language, chapters with summaries, characters, places, scenes, artifacts
/// (the same JSON as `bindery show --json`). `?full=true` adds every chapter's paragraphs.
#[utoipa::path(get, path = "/api/v1/documents/{id}/book", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path), ("full" = Option<bool>, Query)), responses((status = 200, body = Object)))]
pub async fn book(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<BookQuery>,
) -> ApiResult<Json<Value>> {
    let doc = authorize(&state, &caller, &id, Role::Viewer).await?;
    let loaded = view::load(&doc, state.engine.blobs()).await?;
    Ok(Json(view::book_view(&doc, &loaded, q.full.unwrap_or(false))))
}

#[derive(Deserialize, IntoParams)]
pub struct DictionaryQuery {
    /// One word (any inflection); without it, the first `limit` entries, rarest first.
    pub word: Option<String>,
    /// At most 1000; default 100.
    pub limit: Option<u32>,
}

/// The book's vocabulary: lemma, frequency, rarity, first occurrence and definitions.
#[utoipa::path(get, path = "/api/v1/documents/{id}/dictionary", tag = "documents", security(("bearer" = [])),
    params(("id" = String, Path), DictionaryQuery), responses((status = 200, body = [Object]), (status = 404, body = crate::error::Problem)))]
pub async fn dictionary(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<DictionaryQuery>,
) -> ApiResult<Json<Vec<bindery_dictionary::Entry>>> {
    let doc = authorize(&state, &caller, &id, Role::Viewer).await?;
    let a = doc
        .artifacts
        .iter()
        .find(|a| a.kind == kinds::DICTIONARY)
        .ok_or_else(|| ApiError::not_found("dictionary (not built yet)"))?;
    let raw = state.engine.blobs().get_bytes(&a.key, MAX_BOOK_JSON).await?;
    let dict: bindery_dictionary::Dictionary =
        serde_json::from_slice(&raw).map_err(|e| ApiError::Internal(e.to_string()))?;
    let entries = match q.word {
        Some(w) => dict.lookup(&w).cloned().into_iter().collect(),
        None => dict.entries.into_iter().take(q.limit.unwrap_or(100).min(1000) as usize).collect(),
    };
    Ok(Json(entries))
}

#[derive(Deserialize, IntoParams)]
pub struct SearchQuery {
    /// Words, "quoted phrases", -excluded (web-search syntax).
    pub q: String,
    /// Only this project; default: every project of the caller.
    pub project: Option<String>,
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Hit {
    pub document: String,
    pub title: String,
    pub chapter: i32,
    pub chapter_title: String,
    /// The matching passage; matches are between `[[` and `]]`.
    pub snippet: String,
}

/// Full-text search over the chapters of the caller's books.
#[utoipa::path(get, path = "/api/v1/search", tag = "documents", security(("bearer" = [])),
    params(SearchQuery), responses((status = 200, body = [Hit])))]
pub async fn search(
    State(state): State<AppState>,
    caller: Caller,
    Query(q): Query<SearchQuery>,
) -> ApiResult<Json<Vec<Hit>>> {
    let projects: Vec<String> = match q.project {
        Some(p) => {
            caller.require(&state, &p, Role::Viewer).await?;
            vec![p]
        }
        None => caller.projects(&state).await?.into_iter().map(|(p, _)| p.id).collect(),
    };
    let mut ids = Vec::new();
    for p in &projects {
        let mut after = String::new();
        loop {
            let page = state.store().project_documents(p, &after, 1000).await?;
            let Some(last) = page.last() else { break };
            after = last.id.clone();
            ids.extend(page.into_iter().map(|d| d.id));
        }
    }
    if ids.is_empty() || q.q.trim().is_empty() {
        return Ok(Json(Vec::new()));
    }
    let hits = state.store().search(&q.q, Some(&ids), q.limit.unwrap_or(20).clamp(1, 100)).await?;
    Ok(Json(
        hits.into_iter()
            .map(|h| Hit {
                document: h.document,
                title: h.title,
                chapter: h.chapter,
                chapter_title: h.chapter_title,
                snippet: h.snippet,
            })
            .collect(),
    ))
}
