//! Projects (workspaces), their settings, members and API keys, and the analyzers a project may choose.

use super::accounts::ProjectRole;
use crate::auth::{self, Caller, API_KEY_PREFIX};
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::extract::Path;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use bindery_core::time::now_ms;
use bindery_store::{ApiKey, Member, Project, Role};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct NewProject {
    /// 1 to 200 characters, not all spaces.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
}

/// A role in a project, as the schema names it (the store's `Role` has no schema of its own).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
pub enum RoleName {
    Owner,
    Editor,
    Viewer,
}

#[derive(Serialize, ToSchema)]
pub struct ProjectView {
    pub id: String,
    pub name: String,
    pub created_ms: i64,
    /// The caller's role.
    #[schema(value_type = String)]
    pub role: Role,
    /// The analyzer the project chose for enrichment (a name from `GET /api/v1/analyzers`); null means the
    /// instance's default.
    pub analyzer: Option<String>,
}

impl ProjectView {
    fn new(p: Project, role: Role) -> Self {
        ProjectView { id: p.id, name: p.name, created_ms: p.created_ms, role, analyzer: p.analyzer }
    }
}

/// A change to a project, as a JSON merge patch (RFC 7396): a field left out stays as it is; `"analyzer": null`
/// goes back to the instance's default.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: Option<String>,
    /// One of the names `GET /api/v1/analyzers` lists, or null for the instance's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub analyzer: Option<Option<String>>,
}

/// Tells a field given as null (`Some(None)`) from one left out (`None`, through `#[serde(default)]`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// An analyzer this instance offers to projects.
#[derive(Serialize, ToSchema)]
pub struct AnalyzerView {
    /// What a project sets as its `analyzer`.
    pub name: String,
    /// What it is: `offline`, or `openai-compatible:<model>`.
    pub analyzer: String,
    /// Whether it is the instance's default itself.
    pub default: bool,
}

/// What a project may choose, and what it gets by choosing nothing.
#[derive(Serialize, ToSchema)]
pub struct AnalyzersView {
    /// What the instance's default analyzer is (`offline`, `openai-compatible:<model>`), which projects whose
    /// `analyzer` is null get.
    pub default: String,
    /// The names a project may set, sorted.
    pub offered: Vec<AnalyzerView>,
}

#[derive(Deserialize, ToSchema)]
pub struct SetMember {
    #[schema(max_length = 254)]
    pub email: String,
    #[schema(value_type = RoleName, example = "editor")]
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct MemberView {
    pub user: String,
    pub email: String,
    #[schema(value_type = String)]
    pub role: Role,
}

impl From<Member> for MemberView {
    fn from(m: Member) -> Self {
        MemberView { user: m.user, email: m.email, role: m.role }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct NewApiKey {
    /// 1 to 200 characters, not all spaces.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    pub name: String,
    /// The most the key may do (owner, editor or viewer); never more than its maker.
    #[schema(value_type = RoleName, example = "viewer")]
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub prefix: String,
    #[schema(value_type = String)]
    pub role: Role,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
    /// When the key was last used, to within a minute; null until used.
    pub last_used_ms: Option<i64>,
    /// The secret, shown once, at creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

impl From<ApiKey> for ApiKeyView {
    fn from(k: ApiKey) -> Self {
        ApiKeyView {
            id: k.id,
            name: k.name,
            prefix: k.prefix,
            role: k.role,
            created_ms: k.created_ms,
            revoked_ms: k.revoked_ms,
            last_used_ms: k.last_used_ms,
            key: None,
        }
    }
}

/// The caller's projects (an API key sees only its own).
#[utoipa::path(get, path = "/api/v1/projects", tag = "projects", security(("bearer" = [])),
    responses((status = 200, body = [ProjectRole])))]
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<ProjectRole>>> {
    let rows = caller.projects(&state).await?;
    Ok(Json(rows.into_iter().map(|(p, role)| ProjectRole { id: p.id, name: p.name, role }).collect()))
}

/// Creates a project owned by the caller.
#[utoipa::path(post, path = "/api/v1/projects", tag = "projects", security(("bearer" = [])), request_body = NewProject,
    responses((status = 201, body = ProjectView), (status = 422, body = crate::error::Problem)))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<NewProject>,
) -> ApiResult<(StatusCode, Json<ProjectView>)> {
    if caller.key.is_some() {
        return Err(ApiError::Forbidden("a user token (API keys are bound to one project)".into()));
    }
    let project = Project {
        id: uuid::Uuid::now_v7().to_string(),
        name: check_name(&req.name, "a project")?,
        created_ms: now_ms(),
        analyzer: None,
    };
    state.store().create_project(&project, &caller.user.id).await?;
    state.principals.invalidate();
    Ok((StatusCode::CREATED, Json(ProjectView::new(project, Role::Owner))))
}

/// A project's or key's name: 1 to 200 characters, not all spaces (the schema's constraints exactly), kept trimmed.
fn check_name(name: &str, what: &str) -> ApiResult<String> {
    let blank = name.chars().all(crate::routes::accounts::is_space);
    if blank || name.chars().count() > 200 {
        return Err(ApiError::Unprocessable(format!("{what} needs a name of 1 to 200 characters")));
    }
    Ok(name.trim().to_owned())
}

/// One project.
#[utoipa::path(get, path = "/api/v1/projects/{project}", tag = "projects", security(("bearer" = [])),
    params(("project" = String, Path)), responses((status = 200, body = ProjectView), (status = 404, body = crate::error::Problem)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<Json<ProjectView>> {
    let role = caller.require(&state, &project, Role::Viewer).await?;
    let p = state.store().project(&project).await?.ok_or_else(|| ApiError::not_found(format!("project {project}")))?;
    Ok(Json(ProjectView::new(p, role)))
}

/// Renames a project or chooses its analyzer. Owners only. The analyzer applies to documents uploaded or
/// reprocessed afterwards; documents already running keep the one their run started with.
#[utoipa::path(patch, path = "/api/v1/projects/{project}", tag = "projects", security(("bearer" = [])),
    params(("project" = String, Path)), request_body = ProjectPatch,
    responses((status = 200, body = ProjectView), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Json(req): Json<ProjectPatch>,
) -> ApiResult<Json<ProjectView>> {
    let role = caller.require(&state, &project, Role::Owner).await?;
    let mut p =
        state.store().project(&project).await?.ok_or_else(|| ApiError::not_found(format!("project {project}")))?;
    if let Some(name) = &req.name {
        p.name = check_name(name, "a project")?;
    }
    if let Some(analyzer) = req.analyzer {
        let offered = &state.options.analyzers;
        if let Some(name) = analyzer.as_deref().filter(|n| !offered.offers(n)) {
            return Err(ApiError::Unprocessable(format!(
                "this instance offers no analyzer named {name:?} (it offers: {})",
                offered.names().join(", ")
            )));
        }
        p.analyzer = analyzer;
    }
    if !state.store().update_project(&p).await? {
        return Err(ApiError::not_found(format!("project {project}")));
    }
    Ok(Json(ProjectView::new(p, role)))
}

/// The analyzers a project may choose on this instance: the built-in `offline` one and those the operator named.
/// Providers' addresses and keys are the instance's configuration and are not shown.
#[utoipa::path(get, path = "/api/v1/analyzers", tag = "projects", security(("bearer" = [])),
    responses((status = 200, body = AnalyzersView)))]
pub async fn analyzers(State(state): State<AppState>, _caller: Caller) -> Json<AnalyzersView> {
    let all = &state.options.analyzers;
    let offered = all
        .list()
        .into_iter()
        .map(|a| AnalyzerView { name: a.name, analyzer: a.analyzer, default: a.default })
        .collect();
    Json(AnalyzersView { default: all.default_name().to_owned(), offered })
}

/// The project's members.
#[utoipa::path(get, path = "/api/v1/projects/{project}/members", tag = "projects", security(("bearer" = [])),
    params(("project" = String, Path)), responses((status = 200, body = [MemberView])))]
pub async fn members(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<Json<Vec<MemberView>>> {
    caller.require(&state, &project, Role::Viewer).await?;
    Ok(Json(state.store().members(&project).await?.into_iter().map(MemberView::from).collect()))
}

/// Changes a member's role (the member named by e-mail address). Owners only; the last owner cannot be demoted
/// (409), as they cannot be removed. People join through invitations (`POST …/invitations`): an address that is not
/// a member is not found here, whether or not it has an account, so this route reveals nothing about accounts.
#[utoipa::path(put, path = "/api/v1/projects/{project}/members", tag = "projects", security(("bearer" = [])),
    params(("project" = String, Path)), request_body = SetMember,
    responses((status = 200, body = [MemberView]), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)))]
pub async fn set_member(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Json(req): Json<SetMember>,
) -> ApiResult<Json<Vec<MemberView>>> {
    caller.require(&state, &project, Role::Owner).await?;
    let email = req.email.trim().to_lowercase();
    let members = state.store().members(&project).await?;
    let member = members.iter().find(|m| m.email == email).ok_or_else(|| {
        ApiError::NotFound(format!(
            "no member has the address {email}; invite them with POST /api/v1/projects/{project}/invitations"
        ))
    })?;
    if req.role != Role::Owner && is_last_owner(&members, &member.user) {
        return Err(ApiError::Conflict("a project keeps at least one owner".into()));
    }
    state.store().set_member(&project, &member.user, Some(req.role)).await?;
    state.principals.invalidate();
    Ok(Json(state.store().members(&project).await?.into_iter().map(MemberView::from).collect()))
}

/// Removes a member: owners remove anyone, and every member may remove themselves (leave), signed in rather than
/// with an API key. The last owner can neither be removed nor leave (409): a project keeps at least one owner.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/members/{user}", tag = "projects", security(("bearer" = [])),
    params(("project" = String, Path), ("user" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem),
              (status = 409, body = crate::error::Problem)))]
pub async fn remove_member(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, user)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    let leaving = user == caller.user.id && caller.key.is_none();
    caller.require(&state, &project, if leaving { Role::Viewer } else { Role::Owner }).await?;
    let members = state.store().members(&project).await?;
    if !members.iter().any(|m| m.user == user) {
        return Err(ApiError::not_found(format!("member {user}")));
    }
    if is_last_owner(&members, &user) {
        return Err(ApiError::Conflict("a project keeps at least one owner".into()));
    }
    state.store().set_member(&project, &user, None).await?;
    state.principals.invalidate();
    Ok(StatusCode::NO_CONTENT)
}

/// Whether `user` is the project's only owner.
fn is_last_owner(members: &[Member], user: &str) -> bool {
    let mut owners = members.iter().filter(|m| m.role == Role::Owner);
    matches!((owners.next(), owners.next()), (Some(only), None) if only.user == user)
}

/// The project's API keys (without secrets). Owners only.
#[utoipa::path(get, path = "/api/v1/projects/{project}/api-keys", tag = "projects", security(("bearer" = [])),
    params(("project" = String, Path)), responses((status = 200, body = [ApiKeyView])))]
pub async fn api_keys(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<Json<Vec<ApiKeyView>>> {
    caller.require(&state, &project, Role::Owner).await?;
    Ok(Json(state.store().api_keys(&project).await?.into_iter().map(ApiKeyView::from).collect()))
}

/// Creates an API key for the project; the secret is in this response only. The name (1 to 200 characters) tells
/// keys apart in lists.
#[utoipa::path(post, path = "/api/v1/projects/{project}/api-keys", tag = "projects", security(("bearer" = [])),
    params(("project" = String, Path)), request_body = NewApiKey,
    responses((status = 201, body = ApiKeyView), (status = 422, body = crate::error::Problem)))]
pub async fn create_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Json(req): Json<NewApiKey>,
) -> ApiResult<(StatusCode, Json<ApiKeyView>)> {
    caller.require(&state, &project, Role::Owner).await?;
    let secret = format!("{API_KEY_PREFIX}{}", auth::random_secret());
    let key = ApiKey {
        id: uuid::Uuid::now_v7().to_string(),
        project,
        user: caller.user.id.clone(),
        name: check_name(&req.name, "an API key")?,
        prefix: secret[..12].to_owned(),
        role: req.role,
        created_ms: now_ms(),
        revoked_ms: None,
        last_used_ms: None,
    };
    state.store().create_api_key(&key, &auth::secret_hash(&secret)).await?;
    let mut view = ApiKeyView::from(key);
    view.key = Some(secret);
    Ok((StatusCode::CREATED, Json(view)))
}

/// Revokes an API key at once.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/api-keys/{key}", tag = "projects", security(("bearer" = [])),
    params(("project" = String, Path), ("key" = String, Path)), responses((status = 204), (status = 404, body = crate::error::Problem)))]
pub async fn revoke_api_key(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, key)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(&state, &project, Role::Owner).await?;
    if state.store().revoke_api_key(&project, &key, now_ms()).await? {
        state.principals.invalidate();
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("API key {key}")))
    }
}
