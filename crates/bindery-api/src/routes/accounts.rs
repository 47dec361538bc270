//! Logging in and out, token refresh, the caller's own account, and user creation by an administrator.

use crate::auth::{self, Caller};
use crate::client::ClientAddr;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::passwords;
use crate::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use bindery_core::time::now_ms;
use bindery_store::{NewRefreshToken, RefreshUse, Role, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
}

#[derive(Serialize, ToSchema)]
pub struct Tokens {
    pub access_token: String,
    /// Single use: each refresh returns a new one. Presenting a used one revokes the whole login.
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The login this pair belongs to (the refresh token family), which the web UI binds its CSRF token to; never
    /// sent.
    #[serde(skip)]
    pub(crate) session: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub admin: bool,
    pub created_ms: i64,
}

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        UserView { id: u.id.clone(), email: u.email.clone(), admin: u.admin, created_ms: u.created_ms }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ProjectRole {
    pub id: String,
    pub name: String,
    #[schema(value_type = String, example = "owner")]
    pub role: Role,
}

#[derive(Serialize, ToSchema)]
pub struct Me {
    pub user: UserView,
    pub projects: Vec<ProjectRole>,
    /// The project an API key is bound to, when the request used one.
    pub api_key_project: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct NewUserRequest {
    /// One `@`, a dot in the domain, no spaces or control characters; at most 254 characters.
    #[schema(
        max_length = 254,
        pattern = r"^[^@\s\x00-\x1f\x7f-\x9f]{1,64}@(?=[^@]*\.)[^@\s.\x00-\x1f\x7f-\x9f]([^@\s\x00-\x1f\x7f-\x9f]*[^@\s.\x00-\x1f\x7f-\x9f])?$"
    )]
    pub email: String,
    /// At least 10 characters that are not spaces; at most 256 characters.
    #[schema(min_length = 10, max_length = 256, pattern = r"^(\s*\S){10}")]
    pub password: String,
    #[serde(default)]
    pub admin: bool,
}

async fn issue(state: &AppState, user: &str, family: Option<String>) -> ApiResult<Tokens> {
    let refresh = auth::random_secret();
    let now = now_ms();
    let token = NewRefreshToken {
        hash: auth::secret_hash(&refresh),
        user: user.to_owned(),
        family: family.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
        expires_ms: now + state.options.refresh_ttl.as_millis() as i64,
    };
    state.store().insert_refresh_token(&token, now).await?;
    Ok(Tokens {
        access_token: auth::access_token(state, user, &token.family)?,
        refresh_token: refresh,
        token_type: "Bearer",
        expires_in: state.options.access_ttl.as_secs(),
        session: token.family,
    })
}

/// Exchanges an e-mail address and password for tokens.
///
/// Failed attempts are throttled per client address and account (so an attacker elsewhere cannot lock a user out)
/// and per client address (so one address cannot spray guesses across accounts); a correct password from a client
/// that is not being throttled always goes through, and successes are never counted.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = Tokens), (status = 400, body = crate::error::Problem),
        (status = 401, body = crate::error::Problem), (status = 413, body = crate::error::Problem),
        (status = 415, body = crate::error::Problem), (status = 422, body = crate::error::Problem),
        (status = 429, body = crate::error::Problem), (status = 503, body = crate::error::Problem)))]
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    Json(req): Json<LoginRequest>,
) -> ApiResult<Json<Tokens>> {
    attempt_login(&state, client, &req.email, req.password).await.map(Json)
}

/// The login itself, shared by the API and the web UI's form.
pub async fn attempt_login(state: &AppState, client: ClientAddr, email: &str, password: String) -> ApiResult<Tokens> {
    // Sizes are checked before any work, so that no request makes the server hash or keep megabytes.
    let email = email.trim().to_lowercase();
    if email.len() > MAX_EMAIL_LEN || password.len() > passwords::MAX_PASSWORD_BYTES {
        return Err(ApiError::BadCredentials);
    }
    let pair = (client, email.as_str());
    state.address_failures.check(client)?;
    state.login_failures.check(pair)?;
    let user = state.store().user_by_email(&email).await?;
    // Verify against a real hash even for unknown addresses, so timing does not reveal which addresses exist.
    let hash = match &user {
        Some(u) => u.password_hash.clone(),
        None => DUMMY_HASH.get_or_try_init(|| state.passwords.hash(auth::random_secret())).await?.clone(),
    };
    let ok = state.passwords.verify(password, hash).await?;
    match user {
        Some(u) if ok => issue(state, &u.id, None).await,
        _ => {
            state.address_failures.fail(client);
            state.login_failures.fail(pair);
            Err(ApiError::BadCredentials)
        }
    }
}

/// An argon2id hash of a random password nobody knows, made once, so refusing an unknown address costs what
/// refusing a wrong password costs.
static DUMMY_HASH: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// The longest e-mail address there can be (RFC 5321's path limit, less the angle brackets): characters for a new
/// account (the schema's `maxLength`), bytes for a login attempt (at least as strict).
pub const MAX_EMAIL_LEN: usize = 254;

/// Rotates a refresh token: the old one is spent, a new pair is returned.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "accounts", request_body = RefreshRequest,
    responses((status = 200, body = Tokens), (status = 401, body = crate::error::Problem)))]
pub async fn refresh(State(state): State<AppState>, Json(req): Json<RefreshRequest>) -> ApiResult<Json<Tokens>> {
    match state.store().use_refresh_token(&auth::secret_hash(&req.refresh_token), now_ms()).await? {
        RefreshUse::Rotated { user, family } => {
            if state.store().user(&user).await?.is_none() {
                return Err(ApiError::InvalidToken);
            }
            Ok(Json(issue(&state, &user, Some(family)).await?))
        }
        RefreshUse::Reused => Err(ApiError::RefreshReused),
        RefreshUse::Invalid | RefreshUse::Revoked => Err(ApiError::InvalidToken),
    }
}

/// Revokes every refresh token of the caller (log out everywhere). Access tokens run out within 15 minutes.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = crate::error::Problem)))]
pub async fn logout(State(state): State<AppState>, caller: Caller) -> ApiResult<StatusCode> {
    state.store().revoke_refresh_tokens(&caller.user.id, now_ms()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller and their projects.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Me), (status = 401, body = crate::error::Problem)))]
pub async fn me(State(state): State<AppState>, caller: Caller) -> ApiResult<Json<Me>> {
    let projects = caller
        .projects(&state)
        .await?
        .into_iter()
        .map(|(p, role)| ProjectRole { id: p.id, name: p.name, role })
        .collect();
    Ok(Json(Me { user: UserView::from(&caller.user), projects, api_key_project: caller.key.map(|k| k.project) }))
}

/// Creates a user (instance administrators only; the first one comes from `bindery user create --admin`).
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", security(("bearer" = [])), request_body = NewUserRequest,
    responses((status = 201, body = UserView), (status = 403, body = crate::error::Problem), (status = 409, body = crate::error::Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    caller: Caller,
    Json(req): Json<NewUserRequest>,
) -> ApiResult<(StatusCode, Json<UserView>)> {
    caller.require_admin()?;
    let user = create_user_record(&state, &req.email, &req.password, req.admin).await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&user))))
}

/// Validates and stores a new user; shared with the `bindery user create` command.
pub async fn create_user_record(state: &AppState, email: &str, password: &str, admin: bool) -> ApiResult<User> {
    // The checks are the schema's constraints exactly (`NewUserRequest`), so the description promises what is
    // enforced.
    if !is_email(email) {
        return Err(ApiError::Unprocessable(format!("{email:?} is not an e-mail address")));
    }
    let email = email.to_lowercase();
    if password.chars().filter(|c| !is_space(*c)).count() < 10 {
        return Err(ApiError::Unprocessable("the password needs at least 10 characters besides spaces".into()));
    }
    if password.chars().count() > MAX_NEW_PASSWORD_CHARS {
        return Err(ApiError::Unprocessable(format!(
            "the password may have at most {MAX_NEW_PASSWORD_CHARS} characters"
        )));
    }
    let user = User {
        id: uuid::Uuid::now_v7().to_string(),
        email: email.clone(),
        password_hash: state.passwords.hash(password.to_owned()).await?,
        admin,
        created_ms: now_ms(),
    };
    state.store().create_user(&user).await?.ok_or_else(|| ApiError::Conflict(format!("{email} already has an account")))
}

/// The longest password a new account may have, in characters (at most 1,024 bytes, what a login accepts).
pub const MAX_NEW_PASSWORD_CHARS: usize = 256;

/// A space as JSON Schema's `\s` counts it: Unicode white space, and the byte-order mark.
pub fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// A plausible address: one `@` with at most 64 characters before it, a dot inside the domain, no spaces or
/// controls, and at most [`MAX_EMAIL_LEN`] characters: the pattern `NewUserRequest` declares. Deliverability is
/// the mail system's business; this only keeps nonsense out.
pub fn is_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    email.chars().count() <= MAX_EMAIL_LEN
        && (1..=64).contains(&local.chars().count())
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| is_space(c) || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_addresses() {
        for good in ["a@b.co", "first.last+tag@example.org", "x@sub.example.fr"] {
            assert!(is_email(good), "{good}");
        }
        for bad in ["@", "a@", "@b.co", "a@b", "a b@c.de", "a@b@c.de", "a@.co", "a@co.", "a@b.co\n"] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(!is_email(&format!("{}@example.org", "a".repeat(250))));
    }
}
