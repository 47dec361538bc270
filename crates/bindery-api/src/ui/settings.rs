//! A project's settings page: its analyzer, its members and its API keys, for owners, as the API allows only owners
//! to manage them (and to list keys).
//!
//! Every change goes through the projects API's own handler (`routes::projects`), so the rules are the API's: the
//! last owner cannot be removed, people join by accepting an invitation (which says nothing of whether the address
//! has an account), a key's secret exists only in the
//! answer that creates it. That secret is therefore rendered straight into the answer to the form (never put in a
//! redirect's URL, where it would land in the history and in logs), and no later page can show it again.

use super::session::{CsrfForm, Session};
use super::{page, when, Frame, UiResult};
use crate::error::ApiError;
use crate::extract::Json;
use crate::extract::{Path, Query};
use crate::routes::invitations::{self, NewInvitationRequest};
use crate::routes::projects::{self, NewApiKey, ProjectPatch, SetMember};
use crate::AppState;
use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use bindery_store::Role;
use serde::Deserialize;

/// The roles, most powerful first, as the forms offer them.
const ROLES: [&str; 3] = ["owner", "editor", "viewer"];

struct MemberRow {
    user: String,
    email: String,
    role: &'static str,
    /// The only owner: the page offers neither a role change nor removal, which would leave the project unowned.
    last_owner: bool,
    you: bool,
}

struct InvitationRow {
    id: String,
    email: String,
    role: &'static str,
    expires: String,
}

struct KeyRow {
    id: String,
    name: String,
    prefix: String,
    role: &'static str,
    created: String,
    revoked: Option<String>,
    last_used: Option<String>,
}

/// One choice of the analyzer form.
struct AnalyzerOption {
    /// The value sent: a name, or empty for the instance's default.
    value: String,
    label: String,
    selected: bool,
}

/// A key just created: its secret, shown this once.
struct NewKey {
    name: String,
    secret: String,
}

/// What the forms of the page hold when it is shown again after a refusal, so that nothing typed is lost.
#[derive(Default)]
struct Forms {
    analyzer_error: Option<String>,
    member_error: Option<String>,
    member_email: String,
    member_role: String,
    key_error: Option<String>,
    key_name: String,
    key_role: String,
    new_key: Option<NewKey>,
    notice: Option<&'static str>,
}

#[derive(Template)]
#[template(path = "settings.html")]
struct SettingsPage {
    frame: Frame,
    project_id: String,
    project_name: String,
    analyzers: Vec<AnalyzerOption>,
    members: Vec<MemberRow>,
    invitations: Vec<InvitationRow>,
    keys: Vec<KeyRow>,
    roles: [&'static str; 3],
    forms: Forms,
}

/// Renders the page. The API's key list is owners-only, so a viewer or editor gets "not allowed" here exactly as
/// from `GET /api/v1/projects/{id}/api-keys`, and a non-member gets "not found" from the project read before it.
async fn render(
    state: &AppState,
    session: &Session,
    project: &str,
    status: StatusCode,
    forms: Forms,
) -> UiResult<Response> {
    let caller = session.caller.clone();
    let Json(p) = projects::get(State(state.clone()), caller.clone(), Path(project.to_owned())).await?;
    let Json(keys) = projects::api_keys(State(state.clone()), caller.clone(), Path(project.to_owned())).await?;
    let Json(members) = projects::members(State(state.clone()), caller.clone(), Path(project.to_owned())).await?;
    let Json(pending) = invitations::pending(State(state.clone()), caller.clone(), Path(project.to_owned())).await?;
    let Json(offered) = projects::analyzers(State(state.clone()), caller).await;
    let default = AnalyzerOption {
        value: String::new(),
        label: format!("Default of this instance ({})", offered.default),
        selected: p.analyzer.is_none(),
    };
    let analyzers = std::iter::once(default)
        .chain(offered.offered.into_iter().map(|a| AnalyzerOption {
            label: if a.name == a.analyzer { a.name.clone() } else { format!("{} ({})", a.name, a.analyzer) },
            selected: p.analyzer.as_deref() == Some(a.name.as_str()),
            value: a.name,
        }))
        .collect();
    let owners = members.iter().filter(|m| m.role == Role::Owner).count();
    let members = members
        .into_iter()
        .map(|m| MemberRow {
            last_owner: m.role == Role::Owner && owners == 1,
            you: m.user == session.caller.user.id,
            role: m.role.as_str(),
            user: m.user,
            email: m.email,
        })
        .collect();
    let invitations = pending
        .into_iter()
        .map(|i| InvitationRow { id: i.id, email: i.email, role: i.role.as_str(), expires: when(i.expires_ms) })
        .collect();
    let keys = keys
        .into_iter()
        .map(|k| KeyRow {
            created: when(k.created_ms),
            revoked: k.revoked_ms.map(when),
            last_used: k.last_used_ms.map(when),
            role: k.role.as_str(),
            id: k.id,
            name: k.name,
            prefix: k.prefix,
        })
        .collect();
    let settings = SettingsPage {
        frame: Frame::of(session, "projects"),
        project_id: p.id,
        project_name: p.name,
        analyzers,
        members,
        invitations,
        keys,
        roles: ROLES,
        forms,
    };
    Ok(page(status, &settings))
}

/// The confirmations a redirect back to the page may ask for.
fn notice(done: Option<&str>) -> Option<&'static str> {
    match done? {
        "analyzer-chosen" => Some("The analyzer was chosen. It applies to books uploaded or reprocessed from now on."),
        "invited" => Some(
            "The invitation was made. The person sees it once signed in with that address, and joins by accepting it \
             within 14 days.",
        ),
        "invitation-revoked" => Some("The invitation was revoked."),
        "role-changed" => Some("The role was changed."),
        "member-removed" => Some("The member was removed."),
        "key-revoked" => Some("The API key was revoked; requests with it are refused from now on."),
        _ => None,
    }
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// The analyzer, members and API keys of a project, for its owners.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(project): Path<String>,
    Query(q): Query<DoneQuery>,
) -> UiResult<Response> {
    let forms = Forms { notice: notice(q.done.as_deref()), ..Forms::default() };
    render(&state, &session, &project, StatusCode::OK, forms).await
}

fn settings_url(project: &str, done: &str) -> String {
    format!("/ui/projects/{project}/settings?done={done}")
}

fn role_of(raw: &str) -> Option<Role> {
    Role::parse(raw.trim())
}

#[derive(Deserialize)]
pub struct AnalyzerForm {
    /// A name the instance offers, or empty for its default.
    analyzer: String,
}

/// Chooses the project's analyzer through the API's handler; a name the instance does not offer (the page was
/// older than the configuration) is shown with the API's reason.
pub async fn choose_analyzer(
    State(state): State<AppState>,
    Path(project): Path<String>,
    CsrfForm(session, form): CsrfForm<AnalyzerForm>,
) -> UiResult<Response> {
    let name = form.analyzer.trim();
    let patch = ProjectPatch { name: None, analyzer: Some((!name.is_empty()).then(|| name.to_owned())) };
    match projects::update(State(state.clone()), session.caller.clone(), Path(project.clone()), Json(patch)).await {
        Ok(_) => Ok(Redirect::to(&settings_url(&project, "analyzer-chosen")).into_response()),
        Err(ApiError::Unprocessable(why)) => {
            let forms = Forms { analyzer_error: Some(format!("Not changed: {why}.")), ..Forms::default() };
            render(&state, &session, &project, StatusCode::UNPROCESSABLE_ENTITY, forms).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct MemberForm {
    email: String,
    role: String,
}

/// Invites an address through the API's handler; the page says the same whether or not the address has an account.
pub async fn invite(
    State(state): State<AppState>,
    Path(project): Path<String>,
    CsrfForm(session, form): CsrfForm<MemberForm>,
) -> UiResult<Response> {
    let refused = |why: String| Forms {
        member_error: Some(why),
        member_email: form.email.clone(),
        member_role: form.role.clone(),
        ..Forms::default()
    };
    let Some(role) = role_of(&form.role) else {
        let forms = refused("Choose owner, editor or viewer.".into());
        return render(&state, &session, &project, StatusCode::UNPROCESSABLE_ENTITY, forms).await;
    };
    let request = NewInvitationRequest { email: form.email.clone(), role };
    match invitations::invite(State(state.clone()), session.caller.clone(), Path(project.clone()), Json(request)).await
    {
        Ok(_) => Ok(Redirect::to(&settings_url(&project, "invited")).into_response()),
        Err(e @ (ApiError::Conflict(_) | ApiError::Unprocessable(_))) => {
            let status = e.code_and_status().1;
            render(&state, &session, &project, status, refused(format!("Not invited: {e}."))).await
        }
        Err(e) => Err(e.into()),
    }
}

/// Revokes a pending invitation through the API's handler.
pub async fn revoke_invitation(
    State(state): State<AppState>,
    Path((project, invitation)): Path<(String, String)>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    invitations::revoke(State(state), session.caller, Path((project.clone(), invitation))).await?;
    Ok(Redirect::to(&settings_url(&project, "invitation-revoked")).into_response())
}

#[derive(Deserialize)]
pub struct RoleForm {
    role: String,
}

/// Changes a member's role through the API's handler (which names members by e-mail address).
pub async fn change_role(
    State(state): State<AppState>,
    Path((project, user)): Path<(String, String)>,
    CsrfForm(session, form): CsrfForm<RoleForm>,
) -> UiResult<Response> {
    session.caller.require(&state, &project, Role::Owner).await?;
    let Some(role) = role_of(&form.role) else {
        let forms = Forms { member_error: Some("Choose owner, editor or viewer.".into()), ..Forms::default() };
        return render(&state, &session, &project, StatusCode::UNPROCESSABLE_ENTITY, forms).await;
    };
    let Json(members) = projects::members(State(state.clone()), session.caller.clone(), Path(project.clone())).await?;
    let member = members.into_iter().find(|m| m.user == user).ok_or_else(|| ApiError::not_found("member"))?;
    let request = SetMember { email: member.email, role };
    let Json(_members) =
        projects::set_member(State(state), session.caller, Path(project.clone()), Json(request)).await?;
    Ok(Redirect::to(&settings_url(&project, "role-changed")).into_response())
}

#[derive(Deserialize)]
pub struct Empty {}

/// Removes a member through the API's handler; the last owner stays, with the API's reason shown on the page.
pub async fn remove_member(
    State(state): State<AppState>,
    Path((project, user)): Path<(String, String)>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    let removed =
        projects::remove_member(State(state.clone()), session.caller.clone(), Path((project.clone(), user.clone())))
            .await;
    match removed {
        // Someone who removed themselves can no longer see the project.
        Ok(_) if user == session.caller.user.id => Ok(Redirect::to("/ui/projects?done=left").into_response()),
        Ok(_) => Ok(Redirect::to(&settings_url(&project, "member-removed")).into_response()),
        Err(e @ ApiError::Conflict(_)) => {
            let forms = Forms { member_error: Some(format!("Not removed: {e}.")), ..Forms::default() };
            render(&state, &session, &project, StatusCode::CONFLICT, forms).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
pub struct KeyForm {
    name: String,
    role: String,
}

/// Creates an API key through the API's handler and shows its secret, this once.
pub async fn create_key(
    State(state): State<AppState>,
    Path(project): Path<String>,
    CsrfForm(session, form): CsrfForm<KeyForm>,
) -> UiResult<Response> {
    let Some(role) = role_of(&form.role) else {
        let forms = Forms {
            key_error: Some("Choose owner, editor or viewer.".into()),
            key_name: form.name,
            key_role: form.role,
            ..Forms::default()
        };
        return render(&state, &session, &project, StatusCode::UNPROCESSABLE_ENTITY, forms).await;
    };
    let request = NewApiKey { name: form.name, role };
    let (_, Json(key)) =
        projects::create_api_key(State(state.clone()), session.caller.clone(), Path(project.clone()), Json(request))
            .await?;
    let secret = key.key.ok_or_else(|| ApiError::Internal("a new API key came without its secret".into()))?;
    let forms = Forms { new_key: Some(NewKey { name: key.name, secret }), ..Forms::default() };
    render(&state, &session, &project, StatusCode::CREATED, forms).await
}

/// Revokes an API key through the API's handler; requests with it fail from then on.
pub async fn revoke_key(
    State(state): State<AppState>,
    Path((project, key)): Path<(String, String)>,
    CsrfForm(session, Empty {}): CsrfForm<Empty>,
) -> UiResult<Response> {
    projects::revoke_api_key(State(state), session.caller, Path((project.clone(), key))).await?;
    Ok(Redirect::to(&settings_url(&project, "key-revoked")).into_response())
}
