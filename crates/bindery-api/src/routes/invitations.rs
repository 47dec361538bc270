//! Invitations: how a person joins a project, and how they decline.
//!
//! An owner invites an e-mail address with a role; the answer is the same whether or not that address has an
//! account, so inviting cannot be used to find out who uses Bindery (adding members by address did reveal it). The
//! person sees the invitation under `GET /api/v1/invitations` once signed in with that address, and accepts or
//! declines it; until then they are not a member and see nothing of the project. Invitations expire after
//! [`INVITATION_TTL_MS`], and a project holds at most [`MAX_PENDING`] of them, so an owner cannot make the store
//! grow without bound.
//!
//! The invitee's routes answer `404` alike for an invitation that is someone else's, expired, declined or never
//! existed: an invitation id tells nothing to anyone but its addressee. API keys cannot see or answer invitations:
//! a key acts within one project, and invitations are about joining others.

use super::accounts::{is_email, ProjectRole};
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::{Json, Path};
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use bindery_core::time::now_ms;
use bindery_store::{Accepted, Invitation, NewInvitation, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// How long an invitation waits for an answer: 14 days.
pub const INVITATION_TTL_MS: i64 = 14 * 24 * 3_600_000;

/// The most pending invitations one project may have at once.
pub const MAX_PENDING: usize = 200;

#[derive(Deserialize, ToSchema)]
pub struct NewInvitationRequest {
    /// The invitee's address (the rule `NewUserRequest` declares for new accounts). Whether it has an account is not
    /// revealed: the invitation waits for one.
    #[schema(
        min_length = 3,
        max_length = 254,
        pattern = r"^[^@\s\x00-\x1f\x7f-\x9f]{1,64}@(?=[^@]*\.)[^@\s.\x00-\x1f\x7f-\x9f]([^@\s\x00-\x1f\x7f-\x9f]*[^@\s.\x00-\x1f\x7f-\x9f])?$"
    )]
    pub email: String,
    /// The role the invitee gets on accepting.
    #[schema(value_type = super::projects::RoleName, example = "editor")]
    pub role: Role,
}

/// A pending invitation.
#[derive(Serialize, ToSchema)]
pub struct InvitationView {
    pub id: String,
    pub project: String,
    pub project_name: String,
    pub email: String,
    #[schema(value_type = super::projects::RoleName)]
    pub role: Role,
    /// The address of the owner who invited, while their account exists.
    pub invited_by: Option<String>,
    pub created_ms: i64,
    pub expires_ms: i64,
}

impl From<Invitation> for InvitationView {
    fn from(i: Invitation) -> Self {
        InvitationView {
            id: i.id,
            project: i.project,
            project_name: i.project_name,
            email: i.email,
            role: i.role,
            invited_by: i.invited_by,
            created_ms: i.created_ms,
            expires_ms: i.expires_ms,
        }
    }
}

/// Invites an e-mail address to the project with a role, or renews the address's pending invitation (new role,
/// new expiry, same id). Owners only. The answer does not depend on whether the address has an account.
#[utoipa::path(post, path = "/api/v1/projects/{project}/invitations", tag = "projects", security(("bearer" = [])),
    params(("project" = String, Path)), request_body = NewInvitationRequest,
    responses((status = 201, body = InvitationView), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem), (status = 409, body = crate::error::Problem),
              (status = 422, body = crate::error::Problem)))]
pub async fn invite(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
    Json(req): Json<NewInvitationRequest>,
) -> ApiResult<(StatusCode, Json<InvitationView>)> {
    caller.require(&state, &project, Role::Owner).await?;
    let email = req.email.trim().to_lowercase();
    // `is_email` counts characters, as the schema's `maxLength` does: a byte count would refuse a valid address
    // of non-ASCII characters that the description accepts.
    if !is_email(&email) {
        return Err(ApiError::Unprocessable("email must be an e-mail address of at most 254 characters".into()));
    }
    // Members are visible to owners anyway, so saying that one is already here reveals nothing.
    let members = state.store().members(&project).await?;
    if members.iter().any(|m| m.email == email) {
        return Err(ApiError::Conflict(format!(
            "{email} is already a member; change their role with PUT /api/v1/projects/{project}/members"
        )));
    }
    let now = now_ms();
    let pending = state.store().project_invitations(&project, now).await?;
    if pending.len() >= MAX_PENDING && !pending.iter().any(|i| i.email == email) {
        return Err(ApiError::Conflict(format!(
            "the project has {MAX_PENDING} pending invitations, the most it may have; revoke some first"
        )));
    }
    let new = NewInvitation {
        id: uuid::Uuid::now_v7().to_string(),
        project: project.clone(),
        email,
        role: req.role,
        invited_by: caller.user.id.clone(),
        created_ms: now,
        expires_ms: now + INVITATION_TTL_MS,
    };
    let made = state.store().invite(&new).await?.ok_or_else(|| ApiError::not_found(format!("project {project}")))?;
    Ok((StatusCode::CREATED, Json(made.into())))
}

/// The project's pending invitations, oldest first. Owners only.
#[utoipa::path(get, path = "/api/v1/projects/{project}/invitations", tag = "projects", security(("bearer" = [])),
    params(("project" = String, Path)),
    responses((status = 200, body = [InvitationView]), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn pending(
    State(state): State<AppState>,
    caller: Caller,
    Path(project): Path<String>,
) -> ApiResult<Json<Vec<InvitationView>>> {
    caller.require(&state, &project, Role::Owner).await?;
    let pending = state.store().project_invitations(&project, now_ms()).await?;
    Ok(Json(pending.into_iter().map(InvitationView::from).collect()))
}

/// Revokes a pending invitation. Owners only.
#[utoipa::path(delete, path = "/api/v1/projects/{project}/invitations/{invitation}", tag = "projects",
    security(("bearer" = [])), params(("project" = String, Path), ("invitation" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    Path((project, invitation)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    caller.require(&state, &project, Role::Owner).await?;
    if state.store().revoke_invitation(&project, &invitation).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("invitation {invitation}")))
    }
}

/// The invitations addressed to the signed-in user, oldest first.
#[utoipa::path(get, path = "/api/v1/invitations", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = [InvitationView]), (status = 403, body = crate::error::Problem)))]
pub async fn mine(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<InvitationView>>> {
    own(&caller)?;
    let mine = state.store().invitations_for(&caller.user.email, now_ms()).await?;
    Ok(Json(mine.into_iter().map(InvitationView::from).collect()))
}

/// Accepts an invitation addressed to the signed-in user: they become a member with its role (someone already a
/// member keeps the role they have). Answers the project and the caller's role in it.
#[utoipa::path(post, path = "/api/v1/invitations/{invitation}/accept", tag = "accounts", security(("bearer" = [])),
    params(("invitation" = String, Path)),
    responses((status = 200, body = ProjectRole), (status = 403, body = crate::error::Problem),
              (status = 404, body = crate::error::Problem)))]
pub async fn accept(
    State(state): State<AppState>,
    caller: Caller,
    Path(invitation): Path<String>,
) -> ApiResult<Json<ProjectRole>> {
    own(&caller)?;
    let accepted = state
        .store()
        .accept_invitation(&invitation, &caller.user.email, &caller.user.id, now_ms())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("invitation {invitation}")))?;
    let (Accepted::Joined { project, role } | Accepted::AlreadyMember { project, role }) = accepted;
    state.principals.invalidate();
    // The project existed a moment ago, in the same transaction; one deleted since is simply not found.
    let found =
        state.store().project(&project).await?.ok_or_else(|| ApiError::not_found(format!("project {project}")))?;
    Ok(Json(ProjectRole { id: found.id, name: found.name, role }))
}

/// Declines an invitation addressed to the signed-in user.
#[utoipa::path(delete, path = "/api/v1/invitations/{invitation}", tag = "accounts", security(("bearer" = [])),
    params(("invitation" = String, Path)),
    responses((status = 204), (status = 403, body = crate::error::Problem), (status = 404, body = crate::error::Problem)))]
pub async fn decline(
    State(state): State<AppState>,
    caller: Caller,
    Path(invitation): Path<String>,
) -> ApiResult<StatusCode> {
    own(&caller)?;
    if state.store().decline_invitation(&invitation, &caller.user.email).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!("invitation {invitation}")))
    }
}

/// Invitations are answered by the person, signed in: an API key is confined to its project.
fn own(caller: &Caller) -> ApiResult<()> {
    match caller.key {
        None => Ok(()),
        Some(_) => Err(ApiError::Forbidden("invitations are answered signed in, not with an API key".into())),
    }
}
