//! Who is calling, and what they may do.
//!
//! Three credentials, all sent as `Authorization: Bearer …`:
//! - **access tokens**: JWTs (HS256) valid for 15 minutes, carrying only the user id; the user is re-read on every
//!   request, so a deleted user or a withdrawn admin flag takes effect at once;
//! - **refresh tokens**: random 256-bit secrets, stored hashed, single use and rotated (see
//!   `bindery_store::Accounts::use_refresh_token` for reuse detection);
//! - **API keys**: `bnd_` followed by a random secret, stored hashed, bound to one project and capped by a role.
//!
//! Authorisation is per project. [`Caller::role_in`] is the single place that answers "what may this caller do in
//! this project"; everything that reads or changes a project's data goes through [`Caller::require`].

use crate::error::{ApiError, ApiResult};
use crate::AppState;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use bindery_store::{ApiKey, Project, Role, User};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The prefix that tells an API key from a JWT.
pub const API_KEY_PREFIX: &str = "bnd_";

/// Hashes a password with argon2id and a random salt, off the async threads (it takes tens of milliseconds on
/// purpose).
pub async fn hash_password(password: String) -> ApiResult<String> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
        Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?
    .map_err(|e| ApiError::Internal(e.to_string()))
}

/// Checks a password against a stored argon2 PHC string.
pub async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A new random secret: 32 bytes, URL-safe base64.
pub fn random_secret() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a refresh token or API key: its SHA-256, hex. The secrets are random 256-bit values, so a
/// fast hash is enough (there is nothing to brute-force, unlike a password).
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iat: i64,
    exp: i64,
}

/// Signs an access token for `user`, valid for the configured lifetime.
pub fn access_token(state: &AppState, user: &str) -> ApiResult<String> {
    let now = bindery_core::time::now_ms() / 1000;
    let claims = Claims { sub: user.to_owned(), iat: now, exp: now + state.options.access_ttl.as_secs() as i64 };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&state.options.jwt_secret),
    )
    .map_err(|e| ApiError::Internal(e.to_string()))
}

fn user_of_token(state: &AppState, token: &str) -> ApiResult<String> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.leeway = 0;
    jsonwebtoken::decode::<Claims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&state.options.jwt_secret),
        &validation,
    )
    .map(|d| d.claims.sub)
    .map_err(|_| ApiError::InvalidToken)
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    /// Set when the request came with an API key: the caller is then confined to the key's project and role.
    pub key: Option<ApiKey>,
}

impl Caller {
    /// The caller's role in `project`: an API key's project only, never above the key's role nor its maker's current
    /// role; an instance admin (with a token, not a key) is owner everywhere.
    pub async fn role_in(&self, state: &AppState, project: &str) -> ApiResult<Option<Role>> {
        if let Some(key) = &self.key {
            if key.project != project {
                return Ok(None);
            }
            let own = state.store().role(project, &self.user.id).await?;
            return Ok(own.map(|r| r.max(key.role)));
        }
        if self.user.admin {
            return Ok(Some(Role::Owner));
        }
        Ok(state.store().role(project, &self.user.id).await?)
    }

    /// The projects the caller may see, with their role: their memberships, or only the API key's project.
    pub async fn projects(&self, state: &AppState) -> ApiResult<Vec<(Project, Role)>> {
        let mut rows = state.store().projects_of(&self.user.id).await?;
        if let Some(key) = &self.key {
            rows.retain(|(p, _)| p.id == key.project);
        }
        Ok(rows)
    }

    /// Succeeds when the caller has at least `needed` in `project`. Non-members get `not_found` (the project's
    /// existence is not revealed); members with too small a role get `forbidden`.
    pub async fn require(&self, state: &AppState, project: &str, needed: Role) -> ApiResult<Role> {
        match self.role_in(state, project).await? {
            None => Err(ApiError::not_found(format!("project {project}"))),
            Some(role) if role.allows(needed) => Ok(role),
            Some(role) => Err(ApiError::Forbidden(format!("{} needed, you are {}", needed.as_str(), role.as_str()))),
        }
    }

    /// Instance administration: an admin user with a token (API keys never carry admin rights).
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.user.admin && self.key.is_none() {
            Ok(())
        } else {
            Err(ApiError::Forbidden("instance administrator".into()))
        }
    }

    /// A key for rate limiting: the API key when there is one, else the user.
    pub fn limit_key(&self) -> String {
        match &self.key {
            Some(k) => format!("key:{}", k.id),
            None => format!("user:{}", self.user.id),
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> ApiResult<Self> {
        // A cached caller, when a layer (the rate limiter) already authenticated this request.
        if let Some(c) = parts.extensions.get::<Caller>() {
            return Ok(c.clone());
        }
        let caller = authenticate(parts, state).await?;
        state.limiter.check(&caller.limit_key())?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// Resolves the request's bearer credential to a caller.
pub async fn authenticate(parts: &Parts, state: &AppState) -> ApiResult<Caller> {
    let header = parts.headers.get(axum::http::header::AUTHORIZATION).ok_or(ApiError::Unauthenticated)?;
    let value = header.to_str().map_err(|_| ApiError::InvalidToken)?;
    let token = value
        .strip_prefix("Bearer ")
        .or_else(|| value.strip_prefix("bearer "))
        .ok_or(ApiError::Unauthenticated)?
        .trim();
    let (user_id, key) = if token.starts_with(API_KEY_PREFIX) {
        let key = state.store().api_key_by_hash(&secret_hash(token)).await?.ok_or(ApiError::InvalidToken)?;
        (key.user.clone(), Some(key))
    } else {
        (user_of_token(state, token)?, None)
    };
    let user = state.store().user(&user_id).await?.ok_or(ApiError::InvalidToken)?;
    Ok(Caller { user, key })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passwords_verify_only_against_their_hash() {
        let h = hash_password("correct horse".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse".into(), h.clone()).await);
        assert!(!verify_password("Correct horse".into(), h).await);
        assert!(!verify_password("x".into(), "not a hash".into()).await);
    }

    #[test]
    fn secrets_are_random_and_hashes_stable() {
        let (a, b) = (random_secret(), random_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_eq!(secret_hash(&a).len(), 64);
    }
}
