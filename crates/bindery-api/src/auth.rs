//! Who is calling, and what they may do.
//!
//! Three credentials, sent as `Authorization: Bearer …`:
//! - **access tokens**: JWTs (HS256) valid for 15 minutes, carrying only the user id; the user is re-read (through
//!   the principal cache of `crate::principals`, at most a second old) on every request, so a deleted user or a
//!   withdrawn admin flag takes effect within a second;
//! - **refresh tokens**: random 256-bit secrets, stored hashed, single use and rotated (see
//!   `bindery_store::Accounts::use_refresh_token` for reuse detection);
//! - **API keys**: `bnd_` followed by a random secret, stored hashed, bound to one project and capped by a role.
//!
//! A browser logged in through the web UI sends no header: its access token travels in an HttpOnly cookie
//! ([`ACCESS_COOKIE`]), which the browser attaches to every same-site request on its own. That is what makes
//! cross-site request forgery possible, so a request authenticated by cookie with an unsafe method must also carry
//! the value of the (readable, non-HttpOnly) [`CSRF_COOKIE`] in the `x-csrf-token` header: a page on another site
//! can make the browser send the cookies, but can neither read them nor set custom headers. HTML forms cannot send
//! headers either, so the UI's own forms post the token in a hidden field and check it themselves
//! ([`authenticate_cookie`] plus `ui::session::CsrfForm`).
//!
//! Authorisation is per project. [`Caller::role_in`] is the single place that answers "what may this caller do in
//! this project"; everything that reads or changes a project's data goes through [`Caller::require`].

use crate::error::{ApiError, ApiResult};
use crate::principals::Lookup;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use bindery_store::{ApiKey, Project, Role, User};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The prefix that tells an API key from a JWT.
pub const API_KEY_PREFIX: &str = "bnd_";

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
    /// The login (refresh token family) the token belongs to; absent in tokens signed before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

/// Signs an access token for `user` in the login `session`, valid for the configured lifetime.
pub fn access_token(state: &AppState, user: &str, session: &str) -> ApiResult<String> {
    let now = bindery_core::time::now_ms() / 1000;
    let claims = Claims {
        sub: user.to_owned(),
        iat: now,
        exp: now + state.options.access_ttl.as_secs() as i64,
        sid: Some(session.to_owned()),
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(&state.options.jwt_secret),
    )
    .map_err(|e| ApiError::Internal(e.to_string()))
}

/// The user of a valid access token, when the token expires (ms since the epoch), and its login.
fn user_of_token(state: &AppState, token: &str) -> ApiResult<(String, i64, Option<String>)> {
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.leeway = 0;
    jsonwebtoken::decode::<Claims>(
        token,
        &jsonwebtoken::DecodingKey::from_secret(&state.options.jwt_secret),
        &validation,
    )
    .map(|d| (d.claims.sub, d.claims.exp.saturating_mul(1000), d.claims.sid))
    .map_err(|_| ApiError::InvalidToken)
}

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    /// Set when the request came with an API key: the caller is then confined to the key's project and role.
    pub key: Option<ApiKey>,
    /// The credential as presented, so that a long-lived request (a progress stream) can check it again.
    credential: Credential,
}

#[derive(Clone, Debug)]
enum Credential {
    /// An access token, good until this time (ms since the epoch), of a login (`None` for older tokens).
    Token { expires_ms: i64, session: Option<String> },
    /// An API key, by the hash the store keeps.
    Key { hash: String },
}

impl Caller {
    /// The caller's role in `project`: an API key's project only, never above the key's role nor its maker's current
    /// role; an instance admin (with a token, not a key) is owner everywhere.
    pub async fn role_in(&self, state: &AppState, project: &str) -> ApiResult<Option<Role>> {
        if let Some(key) = &self.key {
            if key.project != project {
                return Ok(None);
            }
            let own = role(state, project, &self.user.id).await?;
            return Ok(own.map(|r| r.max(key.role)));
        }
        if self.user.admin {
            // Owner of every project that exists; a project that does not is not found, for them too.
            return Ok(state.store().project(project).await?.map(|_| Role::Owner));
        }
        role(state, project, &self.user.id).await
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

    /// A key for rate limiting: the user, whatever key or token they use, so that making more API keys does not
    /// buy more requests.
    pub fn limit_key(&self) -> String {
        format!("user:{}", self.user.id)
    }

    /// The scope of an `Idempotency-Key`: the API key when there is one, else the user, so that two clients never
    /// share one.
    pub fn idempotency_scope(&self) -> String {
        match &self.key {
            Some(k) => format!("key:{}", k.id),
            None => format!("user:{}", self.user.id),
        }
    }

    /// When the credential stops working by itself (an access token's expiry; API keys do not expire).
    pub fn expires_ms(&self) -> Option<i64> {
        match &self.credential {
            Credential::Token { expires_ms, .. } => Some(*expires_ms),
            Credential::Key { .. } => None,
        }
    }

    /// Checks again that the credential is still good (not expired, the key not revoked, the user not deleted) and
    /// that the caller still has `needed` in `project` (or, for a document outside projects, is still an instance
    /// administrator): what a long-lived response asks now and then, since the request's own check happened when it
    /// started.
    pub async fn still_allowed(&self, state: &AppState, project: Option<&str>, needed: Role) -> ApiResult<()> {
        let now = bindery_core::time::now_ms();
        let current = match &self.credential {
            Credential::Token { expires_ms, .. } if *expires_ms <= now => return Err(ApiError::InvalidToken),
            Credential::Token { .. } => {
                let user = user(state, &self.user.id).await?.ok_or(ApiError::InvalidToken)?;
                Caller { user, ..self.clone() }
            }
            Credential::Key { hash } => {
                let key = api_key(state, hash).await?.ok_or(ApiError::InvalidToken)?;
                let user = user(state, &key.user).await?.ok_or(ApiError::InvalidToken)?;
                Caller { user, key: Some(key), credential: self.credential.clone() }
            }
        };
        match project {
            Some(project) => current.require(state, project, needed).await.map(|_| ()),
            None => current.require_admin(),
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
        let caller = match authenticate(parts, state).await {
            Ok(caller) => caller,
            Err(e) => {
                // Wrong credentials are limited like no credentials, per client address, so that guessing keys or
                // tokens costs the same as any anonymous request.
                state.anonymous_limiter.check(crate::client::of(parts, &state.options.trusted_proxies))?;
                return Err(e);
            }
        };
        state.limiter.check(caller.limit_key())?;
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

/// The cookie that carries a browser's access token (HttpOnly, SameSite=Strict, path `/`).
pub const ACCESS_COOKIE: &str = "bindery_access";
/// The cookie that carries a browser's refresh token (HttpOnly, SameSite=Strict), sent only to [`REFRESH_PATH`].
pub const REFRESH_COOKIE: &str = "bindery_refresh";
/// The only path the refresh cookie is sent to: the UI's refresh and logout endpoints.
pub const REFRESH_PATH: &str = "/ui/auth";
/// The double-submit CSRF cookie: readable by the page's own script, which echoes it in [`CSRF_HEADER`].
pub const CSRF_COOKIE: &str = "bindery_csrf";
/// The header that must repeat [`CSRF_COOKIE`] on unsafe requests authenticated by cookie.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// The value of the cookie `name` in the request, if it has one.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// Compares two secrets in time independent of where they differ.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The CSRF token of a login: an HMAC of its session id under the instance's signing key. Bound to the session, it
/// cannot be planted: a page on a sibling domain that writes a `bindery_csrf` cookie of its choosing (cookie tossing)
/// still cannot produce the value that matches the victim's session.
pub fn csrf_token(state: &AppState, session: &str) -> String {
    use base64::Engine as _;
    use hmac::Mac;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&state.options.jwt_secret).expect("HMAC takes any key length");
    mac.update(b"bindery csrf\0");
    mac.update(session.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

impl Caller {
    /// The CSRF token of this caller's login, when the credential is an access token that names one.
    pub fn session_csrf(&self, state: &AppState) -> Option<String> {
        match &self.credential {
            Credential::Token { session: Some(session), .. } => Some(csrf_token(state, session)),
            _ => None,
        }
    }

    /// Checks a CSRF token sent by a browser signed in with this caller's access cookie: it must be the one derived
    /// from the login's session ([`csrf_token`]). Tokens signed before sessions were recorded fall back to the
    /// double-submit check (the header or field repeats the cookie) until their next refresh, at most 15 minutes.
    pub fn check_csrf(&self, state: &AppState, headers: &HeaderMap, sent: Option<&str>) -> ApiResult<()> {
        check_csrf(headers, sent)?;
        match (self.session_csrf(state), sent) {
            (None, _) => Ok(()),
            (Some(expected), Some(sent)) if same_secret(&expected, sent) => Ok(()),
            _ => Err(ApiError::Csrf),
        }
    }
}

/// Checks that a CSRF token sent with the request (header or form field) repeats the CSRF cookie.
pub fn check_csrf(headers: &HeaderMap, sent: Option<&str>) -> ApiResult<()> {
    match (cookie(headers, CSRF_COOKIE), sent) {
        (Some(expected), Some(sent)) if same_secret(expected, sent) => Ok(()),
        _ => Err(ApiError::Csrf),
    }
}

/// Resolves the request's credential to a caller: the bearer token or API key of the `Authorization` header, else
/// the access cookie, which on unsafe methods also needs the CSRF header.
pub async fn authenticate(parts: &Parts, state: &AppState) -> ApiResult<Caller> {
    let Some(header) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
        if cookie(&parts.headers, ACCESS_COOKIE).is_none() {
            return Err(ApiError::Unauthenticated);
        }
        let caller = authenticate_cookie(&parts.headers, state).await?;
        if !parts.method.is_safe() {
            caller.check_csrf(state, &parts.headers, parts.headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()))?;
        }
        return Ok(caller);
    };
    let value = header.to_str().map_err(|_| ApiError::InvalidToken)?;
    // The scheme is case-insensitive (RFC 9110, section 11.1).
    let (scheme, token) = value.trim_start().split_once(' ').ok_or(ApiError::Unauthenticated)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthenticated);
    }
    let token = token.trim();
    caller_of_token(state, token).await
}

/// Resolves the access cookie alone, without any CSRF check: for the UI, whose form handlers check the token posted
/// in the form instead. Anything else must go through [`authenticate`].
pub async fn authenticate_cookie(headers: &HeaderMap, state: &AppState) -> ApiResult<Caller> {
    let token = cookie(headers, ACCESS_COOKIE).ok_or(ApiError::Unauthenticated)?;
    if token.starts_with(API_KEY_PREFIX) {
        // A cookie carries only what the login form put there: an access token, never a key.
        return Err(ApiError::InvalidToken);
    }
    caller_of_token(state, token).await
}

async fn caller_of_token(state: &AppState, token: &str) -> ApiResult<Caller> {
    let (user_id, key, credential) = if token.starts_with(API_KEY_PREFIX) {
        let hash = secret_hash(token);
        let key = api_key(state, &hash).await?.ok_or(ApiError::InvalidToken)?;
        (key.user.clone(), Some(key), Credential::Key { hash })
    } else {
        let (user, expires_ms, session) = user_of_token(state, token)?;
        (user, None, Credential::Token { expires_ms, session })
    };
    let user = user(state, &user_id).await?.ok_or(ApiError::InvalidToken)?;
    Ok(Caller { user, key, credential })
}

// The three reads every authenticated request makes, through the principal cache (see `crate::principals`).

async fn user(state: &AppState, id: &str) -> ApiResult<Option<User>> {
    match state.principals.user(id) {
        Lookup::Hit(user) => Ok(Some(user)),
        Lookup::Miss(ticket) => {
            let user = state.store().user(id).await?;
            if let Some(u) = &user {
                state.principals.put_user(ticket, u);
            }
            Ok(user)
        }
    }
}

async fn api_key(state: &AppState, hash: &str) -> ApiResult<Option<ApiKey>> {
    let key = match state.principals.key(hash) {
        Lookup::Hit(key) => Some(key),
        Lookup::Miss(ticket) => {
            let key = state.store().api_key_by_hash(hash).await?;
            if let Some(k) = &key {
                state.principals.put_key(ticket, hash, k);
            }
            key
        }
    };
    if let Some(k) = &key {
        record_use(state, k);
    }
    Ok(key)
}

/// Records that a key was used, so owners can tell keys still in use from forgotten ones: at most once a minute
/// per key and process, and off the request's path (a failure costs only the record, which the next minute
/// retries).
fn record_use(state: &AppState, key: &ApiKey) {
    if !state.principals.key_use_to_record(&key.id, std::time::Instant::now()) {
        return;
    }
    let store = state.store().clone();
    let id = key.id.clone();
    tokio::spawn(async move {
        if let Err(e) = store.touch_api_key(&id, bindery_core::time::now_ms()).await {
            tracing::warn!(key = %id, error = %e, "the API key's use was not recorded");
        }
    });
}

async fn role(state: &AppState, project: &str, user: &str) -> ApiResult<Option<Role>> {
    match state.principals.role(project, user) {
        Lookup::Hit(role) => Ok(role),
        Lookup::Miss(ticket) => {
            let role = state.store().role(project, user).await?;
            state.principals.put_role(ticket, project, user, role);
            Ok(role)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name() {
        let request = axum::http::Request::builder()
            .header("cookie", "a=1; bindery_access=tok; x_bindery_csrf=no")
            .header("cookie", "bindery_csrf=\"c\"; empty=")
            .body(())
            .unwrap();
        let headers = request.headers();
        assert_eq!(cookie(headers, ACCESS_COOKIE), Some("tok"));
        assert_eq!(cookie(headers, CSRF_COOKIE), Some("c"));
        assert_eq!(cookie(headers, "empty"), None);
        assert_eq!(cookie(headers, "bindery"), None);
        assert!(check_csrf(headers, Some("c")).is_ok());
        assert!(check_csrf(headers, Some("d")).is_err());
        assert!(check_csrf(headers, None).is_err());
        assert!(same_secret("abc", "abc") && !same_secret("abc", "abd") && !same_secret("abc", "ab"));
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
