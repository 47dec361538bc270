//! The pages: projects, a project's library (with upload and live progress), a book (with cancel) and search.
//!
//! Each page gets its data by calling the API's own handlers (`routes::*`) with the signed-in caller, or, where the
//! API has no handler for exactly that shape (the library's covers), the same store read right after the same
//! `Caller::require`. So a page shows exactly what the API would give this caller, and refuses what it would
//! refuse (a non-member gets "not found", as from the API).

use super::session::{safe_next, CsrfForm, Session};
use super::settings::Empty;
use super::{human_bytes, page, Frame, UiResult};
use crate::error::ApiError;
use crate::extract::Json;
use crate::extract::{Path, Query};
use crate::routes::invitations::{self, InvitationView};
use crate::routes::{artifacts, documents, projects};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use bindery_core::{DocumentState, DocumentStatus};
use bindery_store::{Role, SNIPPET_END, SNIPPET_START};
use serde::Deserialize;

/// Books per library page: enough to browse, few enough that a page of covers renders at once.
pub const LIBRARY_PAGE: i64 = 60;

fn frame(session: &Session, current: &'static str) -> Frame {
    Frame::of(session, current)
}

fn artifact_url(document: &str, key: &str) -> String {
    format!("/api/v1/documents/{document}/artifacts/{key}")
}

// ----- Projects -----

struct ProjectRow {
    id: String,
    name: String,
    role: &'static str,
}

#[derive(Template)]
#[template(path = "projects.html")]
struct ProjectsPage {
    frame: Frame,
    /// The signed-in user, whose own membership the "Leave" buttons remove.
    user_id: String,
    projects: Vec<ProjectRow>,
    invitations: Vec<InvitationView>,
    notice: Option<&'static str>,
    name: String,
    error: Option<String>,
}

async fn projects_page(
    state: AppState,
    session: Session,
    status: StatusCode,
    name: String,
    error: Option<String>,
    notice: Option<&'static str>,
) -> UiResult<Response> {
    let Json(rows) = projects::list(State(state.clone()), session.caller.clone()).await?;
    let projects = rows.into_iter().map(|p| ProjectRow { id: p.id, name: p.name, role: p.role.as_str() }).collect();
    let Json(invitations) = invitations::mine(State(state), session.caller.clone()).await?;
    let page_data = ProjectsPage {
        frame: frame(&session, "projects"),
        user_id: session.caller.user.id.clone(),
        projects,
        invitations,
        notice,
        name,
        error,
    };
    Ok(page(status, &page_data))
}

#[derive(Deserialize)]
pub struct ProjectsQuery {
    done: Option<String>,
}

/// The caller's projects, the invitations waiting for them, and a form to create a project.
pub async fn projects(
    State(state): State<AppState>,
    session: Session,
    Query(q): Query<ProjectsQuery>,
) -> UiResult<Response> {
    let notice = match q.done.as_deref() {
        Some("declined") => Some("The invitation was declined."),
        Some("left") => Some("You left the project."),
        _ => None,
    };
    projects_page(state, session, StatusCode::OK, String::new(), None, notice).await
}

/// Accepts an invitation through the API's handler, then opens the project.
pub async fn accept_invitation(
    State(state): State<AppState>,
    Path(invitation): Path<String>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    let Json(joined) = invitations::accept(State(state), session.caller, Path(invitation)).await?;
    Ok(Redirect::to(&format!("/ui/projects/{}", joined.id)).into_response())
}

/// Declines an invitation through the API's handler.
pub async fn decline_invitation(
    State(state): State<AppState>,
    Path(invitation): Path<String>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    invitations::decline(State(state), session.caller, Path(invitation)).await?;
    Ok(Redirect::to("/ui/projects?done=declined").into_response())
}

#[derive(Deserialize)]
pub struct NewProjectForm {
    name: String,
}

/// Creates a project through the API's handler, then opens it.
pub async fn create_project(
    State(state): State<AppState>,
    CsrfForm(session, form): CsrfForm<NewProjectForm>,
) -> UiResult<Response> {
    let request = projects::NewProject { name: form.name.clone() };
    match projects::create(State(state.clone()), session.caller.clone(), Json(request)).await {
        Ok((_, Json(p))) => Ok(Redirect::to(&format!("/ui/projects/{}", p.id)).into_response()),
        Err(e @ ApiError::Unprocessable(_)) => {
            let status = e.code_and_status().1;
            projects_page(state, session, status, form.name, Some(format!("{e}.")), None).await
        }
        Err(e) => Err(e.into()),
    }
}

// ----- A project's library -----

struct Card {
    id: String,
    title: String,
    author: Option<String>,
    status: &'static str,
    percent: u32,
    current_stage: String,
    cover: Option<String>,
    cover_srcset: String,
}

impl Card {
    fn of(doc: &DocumentState) -> Card {
        let headline = bindery_stages::book::view::Headline::of(doc);
        let cover_of =
            |kind: &str| doc.artifacts.iter().find(|a| a.kind == kind).map(|a| artifact_url(&doc.id, &a.key));
        let small = cover_of("cover-160.webp");
        let large = cover_of("cover-480.webp");
        let cover_srcset = match (&small, &large) {
            (Some(s), Some(l)) => format!("{s} 160w, {l} 480w"),
            _ => String::new(),
        };
        let progress = doc.progress();
        Card {
            id: doc.id.clone(),
            title: headline.title.filter(|t| !t.trim().is_empty()).unwrap_or_else(|| doc.source.clone()),
            author: headline.author.filter(|a| !a.trim().is_empty()),
            status: doc.status.as_str(),
            percent: progress.percent.round().clamp(0.0, 100.0) as u32,
            current_stage: progress.current_stage.unwrap_or_default(),
            cover: small.or(large),
            cover_srcset,
        }
    }
}

#[derive(Template)]
#[template(path = "library.html")]
struct LibraryPage {
    frame: Frame,
    project_id: String,
    project_name: String,
    /// Editors and owners upload and cancel.
    can_upload: bool,
    /// Editors and owners see the webhooks (the API lets editors read them).
    can_see_webhooks: bool,
    /// Owners manage members and API keys.
    can_manage: bool,
    cards: Vec<Card>,
    first_page: bool,
    next: Option<String>,
}

#[derive(Deserialize)]
pub struct PageQuery {
    after: Option<String>,
}

/// A project's books as covers, a page at a time (the store's cursor), with the upload area for editors.
pub async fn library(
    State(state): State<AppState>,
    session: Session,
    Path(project): Path<String>,
    Query(q): Query<PageQuery>,
) -> UiResult<Response> {
    // The API's handler checks membership (non-members get "not found") and gives the name and role.
    let Json(p) = projects::get(State(state.clone()), session.caller.clone(), Path(project.clone())).await?;
    let after = q.after.unwrap_or_default();
    let docs = state.store().project_documents(&project, &after, LIBRARY_PAGE).await?;
    let next = (docs.len() as i64 == LIBRARY_PAGE).then(|| docs.last().map(|d| d.id.clone())).flatten();
    let cards = docs.iter().map(Card::of).collect();
    Ok(page(
        StatusCode::OK,
        &LibraryPage {
            frame: frame(&session, "projects"),
            project_id: p.id,
            project_name: p.name,
            can_upload: p.role.allows(Role::Editor),
            can_see_webhooks: p.role.allows(Role::Editor),
            can_manage: p.role.allows(Role::Owner),
            cards,
            first_page: after.is_empty(),
            next,
        },
    ))
}

// ----- A book -----

/// The parts of the book view (`bindery_stages::book::view`) that the page shows; everything is optional, because
/// a book still in the pipeline has only some of them.
#[derive(Deserialize, Default)]
#[serde(default)]
struct BookView {
    source: String,
    status: String,
    error: Option<String>,
    title: Option<String>,
    author: Option<String>,
    language: Option<String>,
    pages: Option<u64>,
    words: Option<u64>,
    summary: Option<String>,
    keywords: Vec<KeywordView>,
    chapters: Vec<ChapterView>,
    characters: Vec<CharacterView>,
    places: Vec<PlaceView>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct KeywordView {
    term: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ChapterView {
    index: u32,
    title: String,
    words: Option<u64>,
    summary: Option<String>,
    keywords: Vec<String>,
    tonality: Option<String>,
    scenes: Vec<SceneView>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SceneView {
    characters: Vec<String>,
    places: Vec<String>,
    summary: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CharacterView {
    name: String,
    aliases: Vec<String>,
    mentions: u32,
    chapters: Vec<u32>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PlaceView {
    name: String,
    mentions: u32,
    first_chapter: u32,
}

struct Download {
    kind: String,
    url: String,
    size: String,
    media_type: String,
}

struct WordView {
    lemma: String,
    pos: String,
    frequency: u32,
    rarity: String,
    definition: String,
    sentence: String,
}

#[derive(Template)]
#[template(path = "book.html")]
struct BookPage {
    frame: Frame,
    id: String,
    book: BookView,
    heading: String,
    project: Option<String>,
    cover: Option<String>,
    cover_srcset: String,
    audio: Option<(String, String)>,
    downloads: Vec<Download>,
    dictionary: Vec<WordView>,
    /// Which analyzer enriched the book and, for a language model, how and at what cost.
    enrichment: Option<String>,
    /// The book is still processing and the caller may cancel it (an editor, as the API's cancel requires).
    can_cancel: bool,
    /// Set right after a cancel from this page.
    cancelled: bool,
}

#[derive(Deserialize)]
pub struct BookQuery {
    cancelled: Option<String>,
}

/// Words shown on the book page; the rest is in the API (`/documents/{id}/dictionary`).
const DICTIONARY_ON_PAGE: u32 = 100;

/// A book: cover, metadata, narration, chapters with summaries and scenes, characters, places, keywords, the
/// dictionary and the downloads, all from the API's handlers.
pub async fn book(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Query(q): Query<BookQuery>,
) -> UiResult<Response> {
    let caller = session.caller.clone();
    let doc = documents::authorize(&state, &caller, &id, Role::Viewer).await?;
    // The cancel button is offered exactly when the API's cancel would act: an editor, and a document in flight.
    let can_cancel = doc.status == DocumentStatus::Processing
        && documents::authorize(&state, &caller, &id, Role::Editor).await.is_ok();
    let Json(view) =
        documents::book(State(state.clone()), caller.clone(), Path(id.clone()), Query(Default::default())).await?;
    let book: BookView = serde_json::from_value(view).map_err(|e| ApiError::Internal(format!("book view: {e}")))?;
    let Json(listed) = artifacts::list(State(state.clone()), caller.clone(), Path(id.clone())).await?;
    let query = documents::DictionaryQuery { word: None, limit: Some(DICTIONARY_ON_PAGE) };
    let entries = match documents::dictionary(State(state.clone()), caller, Path(id.clone()), Query(query)).await {
        Ok(Json(entries)) => entries,
        // Not built yet (the book is still in the pipeline, or the stage failed).
        Err(ApiError::NotFound(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let url_of = |kind: &str| listed.iter().find(|a| a.kind == kind).map(|a| a.url.clone());
    let cover_srcset = match (url_of("cover-480.webp"), url_of("cover-1200.webp")) {
        (Some(m), Some(l)) => format!("{m} 480w, {l} 1200w"),
        _ => String::new(),
    };
    let cover = url_of("cover-480.webp").or_else(|| url_of("cover-480.jpg"));
    let audio = listed
        .iter()
        .find(|a| a.kind == bindery_stages::book::kinds::NARRATION_PREVIEW)
        .map(|a| (a.url.clone(), a.media_type.clone()));
    let downloads = listed
        .iter()
        .map(|a| Download {
            kind: a.kind.clone(),
            url: a.url.clone(),
            size: human_bytes(a.bytes),
            media_type: a.media_type.clone(),
        })
        .collect();
    let dictionary = entries
        .into_iter()
        .map(|e| WordView {
            pos: e.pos.clone().unwrap_or_default(),
            rarity: format!("{:.2}", e.rarity),
            definition: e.definitions.first().map(|d| d.gloss.clone()).unwrap_or_default(),
            sentence: e.first.sentence,
            frequency: e.frequency,
            lemma: e.lemma,
        })
        .collect();
    let heading = book.title.clone().filter(|t| !t.trim().is_empty()).unwrap_or_else(|| book.source.clone());
    let enrichment = doc.results.get("enrich").and_then(enrichment);
    Ok(page(
        StatusCode::OK,
        &BookPage {
            frame: frame(&session, "projects"),
            id,
            heading,
            project: doc.project,
            book,
            cover,
            cover_srcset,
            audio,
            downloads,
            dictionary,
            enrichment,
            can_cancel,
            cancelled: q.cancelled.is_some(),
        },
    ))
}

/// The enrich stage's summary in a line: the analyzer, and for a language model the path, the tokens and the
/// estimated cost (`results.enrich.model`).
fn enrichment(summary: &serde_json::Value) -> Option<String> {
    let analyzer = summary["analyzer"].as_str()?;
    let model = &summary["model"];
    if model.is_null() {
        return Some(analyzer.to_owned());
    }
    let tokens = model["prompt_tokens"].as_u64().unwrap_or(0) + model["completion_tokens"].as_u64().unwrap_or(0);
    let mut line = format!("{analyzer} ({}, {tokens} tokens", model["mode"].as_str().unwrap_or("sync"));
    if let Some(cost) = model["cost_usd"].as_f64() {
        line.push_str(&format!(", about ${cost:.4}"));
    }
    match (model["cached"].as_u64(), model["chunks"].as_u64()) {
        (Some(cached), Some(chunks)) if cached > 0 => line.push_str(&format!(", {cached} of {chunks} parts cached")),
        _ => {}
    }
    if let Some(n) = model["fallbacks"].as_u64().filter(|n| *n > 0) {
        line.push_str(&format!(", {n} answered offline"));
    }
    line.push(')');
    Some(line)
}

#[derive(Deserialize)]
pub struct CancelForm {
    /// Where to go afterwards: the book, the library or the admin page that had the button.
    next: Option<String>,
}

/// Cancels a document's pipeline through the API's handler (editors; `conflict` once it has finished, shown as the
/// error page), then goes back to the page that had the button.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    CsrfForm(session, form): CsrfForm<CancelForm>,
) -> UiResult<Response> {
    documents::cancel(State(state), session.caller, Path(id.clone())).await?;
    let next = match form.next.as_deref() {
        Some(next) => safe_next(Some(next)),
        None => format!("/ui/books/{id}?cancelled=1"),
    };
    Ok(Redirect::to(&next).into_response())
}

// ----- Search -----

struct HitView {
    document: String,
    title: String,
    chapter: i32,
    chapter_title: String,
    /// The snippet in pieces, `true` for a matched term.
    pieces: Vec<(bool, String)>,
}

/// Splits a snippet at the store's match markers.
fn pieces(snippet: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut rest = snippet;
    while let Some(start) = rest.find(SNIPPET_START) {
        let (before, after) = rest.split_at(start);
        let after = &after[SNIPPET_START.len()..];
        let Some(end) = after.find(SNIPPET_END) else { break };
        if !before.is_empty() {
            out.push((false, before.to_owned()));
        }
        out.push((true, after[..end].to_owned()));
        rest = &after[end + SNIPPET_END.len()..];
    }
    if !rest.is_empty() {
        out.push((false, rest.to_owned()));
    }
    out
}

#[derive(Template)]
#[template(path = "search.html")]
struct SearchPage {
    frame: Frame,
    q: String,
    searched: bool,
    hits: Vec<HitView>,
}

#[derive(Deserialize)]
pub struct SearchForm {
    q: Option<String>,
}

/// Search across the caller's books, through the API's search handler; matches are highlighted.
pub async fn search(
    State(state): State<AppState>,
    session: Session,
    Query(form): Query<SearchForm>,
) -> UiResult<Response> {
    let q = form.q.unwrap_or_default();
    let mut hits = Vec::new();
    if !q.trim().is_empty() {
        let query = documents::SearchQuery { q: q.clone(), project: None, limit: Some(50) };
        let Json(found) = documents::search(State(state), session.caller.clone(), Query(query)).await?;
        hits = found
            .into_iter()
            .map(|h| HitView {
                pieces: pieces(&h.snippet),
                document: h.document,
                title: h.title,
                chapter: h.chapter,
                chapter_title: h.chapter_title,
            })
            .collect();
    }
    let searched = !q.trim().is_empty();
    Ok(page(StatusCode::OK, &SearchPage { frame: frame(&session, "search"), q, searched, hits }))
}

#[cfg(test)]
mod tests {
    use super::{enrichment, pieces};
    use serde_json::json;

    #[test]
    fn snippets_split_at_markers() {
        assert_eq!(
            pieces("…the [[White]] [[Rabbit]] ran"),
            vec![
                (false, "…the ".to_owned()),
                (true, "White".to_owned()),
                (false, " ".to_owned()),
                (true, "Rabbit".to_owned()),
                (false, " ran".to_owned())
            ]
        );
        assert_eq!(pieces("no match"), vec![(false, "no match".to_owned())]);
        assert_eq!(pieces("broken [[mark"), vec![(false, "broken [[mark".to_owned())]);
    }

    #[test]
    fn the_enrichment_line_says_what_analysed_the_book_and_at_what_cost() {
        assert_eq!(enrichment(&json!({"analyzer": "offline"})).as_deref(), Some("offline"));
        let model = json!({"analyzer": "openai-compatible:gpt-4o-mini", "model": {"mode": "batch",
            "prompt_tokens": 1000, "completion_tokens": 234, "cost_usd": 0.00123, "cached": 2, "chunks": 5, "fallbacks": 1}});
        assert_eq!(
            enrichment(&model).as_deref(),
            Some("openai-compatible:gpt-4o-mini (batch, 1234 tokens, about $0.0012, 2 of 5 parts cached, 1 answered offline)")
        );
        assert_eq!(enrichment(&json!({})), None, "not enriched yet");
    }
}
