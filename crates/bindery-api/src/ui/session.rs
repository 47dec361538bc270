//! Signing in through a browser: the login form, the three cookies, transparent refresh and logout.
//!
//! The tokens are the API's own (the login and refresh handlers of `routes::accounts` issue them, with the same
//! rate limits and rotation), kept where page scripts cannot read them:
//! - `bindery_access`: the access JWT, HttpOnly, `SameSite=Strict`, path `/`, expiring with the token;
//! - `bindery_refresh`: the refresh token, HttpOnly, `SameSite=Strict`, sent only to `/ui/auth` (refresh, logout);
//! - `bindery_csrf`: a token that the page repeats in forms (hidden field) and in script requests
//!   (`x-csrf-token`); not HttpOnly, so the page's own script can read it. Once signed in it is derived from the
//!   login's session (`auth::csrf_token`), so it cannot be planted; before (the login form itself) it is random.
//!
//! A page request whose access cookie is missing or expired is redirected to `/ui/auth/refresh?next=…`, the one
//! place the refresh cookie reaches; it rotates the refresh token, sets fresh cookies and sends the browser back, or
//! on to the login form when the login is over. Scripts do the same with `POST /ui/auth/refresh`.
//!
//! Cookies are `Secure` when the request arrived over HTTPS through a proxy (`X-Forwarded-Proto: https`); on plain
//! HTTP a browser would drop them, and on loopback there is nothing to intercept.

use super::{encode_query, page, UiError, UiResult};
use crate::auth::{self, Caller, ACCESS_COOKIE, CSRF_COOKIE, CSRF_HEADER, REFRESH_COOKIE, REFRESH_PATH};
use crate::client::ClientAddr;
use crate::error::ApiError;
use crate::extract::Json;
use crate::extract::Query;
use crate::routes::accounts::{self, RefreshRequest, Tokens};
use crate::AppState;
use askama::Template;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use bindery_core::time::now_ms;
use bindery_store::RefreshUse;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::time::Duration;

pub const REFRESH_ROUTE: &str = "/ui/auth/refresh";
pub const LOGOUT_ROUTE: &str = "/ui/auth/logout";
/// Where a signed-in visitor lands by default.
const HOME: &str = "/ui/projects";

/// A signed-in browser: the caller (from the access cookie) and its CSRF token.
pub struct Session {
    pub caller: Caller,
    pub csrf: String,
}

impl FromRequestParts<AppState> for Session {
    type Rejection = UiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> UiResult<Self> {
        // Unsafe requests lose their body on a redirect, so they come back to the default page.
        let next = if parts.method.is_safe() {
            parts.uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_else(|| HOME.into())
        } else {
            HOME.into()
        };
        let Some(csrf) = auth::cookie(&parts.headers, CSRF_COOKIE).map(str::to_owned) else {
            return Err(UiError::SignIn { next });
        };
        match auth::authenticate_cookie(&parts.headers, state).await {
            Ok(caller) => {
                state.limiter.check(caller.limit_key())?;
                // The login's own token, whatever the cookie says (a planted cookie would only break the forms).
                let csrf = caller.session_csrf(state).unwrap_or(csrf);
                Ok(Session { caller, csrf })
            }
            Err(ApiError::Unauthenticated | ApiError::InvalidToken) => Err(UiError::SignIn { next }),
            Err(e) => Err(e.into()),
        }
    }
}

/// A form posted by a signed-in browser whose hidden `csrf` field repeats the CSRF cookie. Handlers that change
/// anything take this instead of `Form`, so none can forget the check.
pub struct CsrfForm<T>(pub Session, pub T);

#[derive(Deserialize)]
pub struct CsrfField {
    csrf: Option<String>,
}

impl<T: DeserializeOwned + Send> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = UiError;

    async fn from_request(request: Request, state: &AppState) -> UiResult<Self> {
        let (mut parts, body) = request.into_parts();
        let session = Session::from_request_parts(&mut parts, state).await?;
        let headers = parts.headers.clone();
        let Form(fields) =
            Form::<Vec<(String, String)>>::from_request(Request::from_parts(parts, body), state)
                .await
                .map_err(|e| ApiError::BadRequest(format!("the form could not be read: {}", e.body_text())))?;
        let sent = fields.iter().find(|(k, _)| k == "csrf").map(|(_, v)| v.as_str());
        session.caller.check_csrf(state, &headers, sent)?;
        let form = serde_json::Map::from_iter(fields.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))));
        let form = serde_json::from_value(serde_json::Value::Object(form))
            .map_err(|e| ApiError::BadRequest(format!("the form is incomplete: {e}")))?;
        Ok(CsrfForm(session, form))
    }
}

/// Where to go once signed in: a path of this site, never another origin.
///
/// The value is parsed as a browser would parse it (WHATWG URL rules, which drop tabs and newlines and read `\\` as
/// `/`), relative to a placeholder origin; only a result on that same origin is kept, and then only its path and
/// query as the parser writes them back (escaped). String checks alone miss `/%09/evil.example`.
pub(crate) fn safe_next(next: Option<&str>) -> String {
    let base = url::Url::parse("http://bindery.invalid/").expect("a valid base");
    let parsed = next
        .filter(|n| n.starts_with('/') && !n.chars().any(|c| c.is_control()))
        .and_then(|n| base.join(n).ok())
        .filter(|u| u.origin() == base.origin());
    let Some(url) = parsed else { return HOME.to_owned() };
    let mut path = url.path().to_owned();
    if let Some(q) = url.query() {
        path.push('?');
        path.push_str(q);
    }
    if path.starts_with("//") || path.starts_with(REFRESH_PATH) {
        return HOME.to_owned();
    }
    path
}

/// The redirect for a page request without a valid access cookie: through the refresh endpoint, back to `next`.
pub(crate) fn sign_in_redirect(next: &str) -> Response {
    Redirect::to(&format!("{REFRESH_ROUTE}?next={}", encode_query(next))).into_response()
}

fn secure(headers: &HeaderMap) -> bool {
    headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn set_cookie(response: &mut Response, cookie: String) {
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn cookie_line(name: &str, value: &str, path: &str, max_age: Duration, http_only: bool, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={}; SameSite=Strict{}{}",
        max_age.as_secs(),
        if http_only { "; HttpOnly" } else { "" },
        if secure { "; Secure" } else { "" }
    )
}

/// Sets the three cookies of a signed-in browser; the CSRF token is the login's (a new one with every new login).
fn set_session_cookies(response: &mut Response, state: &AppState, tokens: &Tokens, secure: bool) {
    let o = &state.options;
    let csrf = auth::csrf_token(state, &tokens.session);
    let csrf = csrf.as_str();
    set_cookie(response, cookie_line(ACCESS_COOKIE, &tokens.access_token, "/", o.access_ttl, true, secure));
    set_cookie(response, cookie_line(REFRESH_COOKIE, &tokens.refresh_token, REFRESH_PATH, o.refresh_ttl, true, secure));
    set_cookie(response, cookie_line(CSRF_COOKIE, csrf, "/", o.refresh_ttl, false, secure));
}

fn clear_session_cookies(response: &mut Response, secure: bool) {
    set_cookie(response, cookie_line(ACCESS_COOKIE, "", "/", Duration::ZERO, true, secure));
    set_cookie(response, cookie_line(REFRESH_COOKIE, "", REFRESH_PATH, Duration::ZERO, true, secure));
    set_cookie(response, cookie_line(CSRF_COOKIE, "", "/", Duration::ZERO, false, secure));
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    css: String,
    icon: String,
    csrf: String,
    next: String,
    email: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct NextQuery {
    next: Option<String>,
}

/// The login form. It carries a CSRF token too (set here as a cookie when the browser has none), so another site
/// cannot sign a browser in to an account of its choosing.
pub async fn login_page(headers: HeaderMap, Query(q): Query<NextQuery>) -> Response {
    let existing = auth::cookie(&headers, CSRF_COOKIE).map(str::to_owned);
    let csrf = existing.clone().unwrap_or_else(auth::random_secret);
    let mut response = login_form(StatusCode::OK, csrf.clone(), safe_next(q.next.as_deref()), String::new(), None);
    if existing.is_none() {
        set_cookie(
            &mut response,
            cookie_line(CSRF_COOKIE, &csrf, "/", Duration::from_secs(3600), false, secure(&headers)),
        );
    }
    response
}

fn login_form(status: StatusCode, csrf: String, next: String, email: String, error: Option<String>) -> Response {
    let css = super::asset_url("app.css");
    let icon = super::asset_url("icon.svg");
    page(status, &LoginPage { css, icon, csrf, next, email, error })
}

#[derive(Deserialize)]
pub struct LoginForm {
    email: String,
    password: String,
    csrf: Option<String>,
    next: Option<String>,
}

/// Checks the form, signs in through the API's own login, sets the cookies and goes on to `next`.
pub async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref());
    let csrf = auth::cookie(&headers, CSRF_COOKIE).map(str::to_owned).unwrap_or_else(auth::random_secret);
    if auth::check_csrf(&headers, form.csrf.as_deref()).is_err() {
        let why = "The form expired or your browser refuses cookies. Allow cookies for this site and try again.";
        let mut response = login_form(StatusCode::FORBIDDEN, csrf.clone(), next, form.email, Some(why.into()));
        set_cookie(
            &mut response,
            cookie_line(CSRF_COOKIE, &csrf, "/", Duration::from_secs(3600), false, secure(&headers)),
        );
        return response;
    }
    match accounts::attempt_login(&state, client, &form.email, form.password).await {
        Ok(tokens) => {
            let mut response = Redirect::to(&next).into_response();
            set_session_cookies(&mut response, &state, &tokens, secure(&headers));
            response
        }
        Err(e) => {
            let (_, status) = e.code_and_status();
            let why = match e {
                ApiError::BadCredentials => "The e-mail address or password is wrong.".to_owned(),
                ApiError::RateLimited(_) | ApiError::Busy(_) => format!("Too many attempts: {e}."),
                other => return UiError::from(other).into_response(),
            };
            login_form(status, csrf, next, form.email, Some(why))
        }
    }
}

/// Rotates the refresh cookie through the API's own refresh; `None` when there is none, or it is spent or expired.
async fn rotate(state: &AppState, headers: &HeaderMap) -> Option<Tokens> {
    let refresh_token = auth::cookie(headers, REFRESH_COOKIE)?.to_owned();
    accounts::refresh(State(state.clone()), Json(RefreshRequest { refresh_token })).await.ok().map(|Json(t)| t)
}

/// `GET /ui/auth/refresh?next=…`: fresh cookies and back to `next`, or the login form when the login is over.
pub async fn refresh_redirect(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NextQuery>,
) -> Response {
    let next = safe_next(q.next.as_deref());
    match rotate(&state, &headers).await {
        Some(tokens) => {
            let mut response = Redirect::to(&next).into_response();
            set_session_cookies(&mut response, &state, &tokens, secure(&headers));
            response
        }
        None => {
            let mut response = Redirect::to(&format!("/ui/login?next={}", encode_query(&next))).into_response();
            clear_session_cookies(&mut response, secure(&headers));
            response
        }
    }
}

/// `POST /ui/auth/refresh`, for the page's script when a request came back `401`: `204` with fresh cookies. It must
/// repeat the CSRF cookie in `x-csrf-token`, like every other script request.
pub async fn refresh(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = auth::check_csrf(&headers, headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok())) {
        return e.into_response();
    }
    match rotate(&state, &headers).await {
        Some(tokens) => {
            let mut response = StatusCode::NO_CONTENT.into_response();
            set_session_cookies(&mut response, &state, &tokens, secure(&headers));
            response
        }
        None => ApiError::InvalidToken.into_response(),
    }
}

/// Signs out: revokes every refresh token of the user (as `POST /api/v1/auth/logout` does) and clears the cookies.
/// The user is known from the access cookie, or, once that expired, from the refresh cookie.
pub async fn logout(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<CsrfField>) -> Response {
    if let Err(e) = auth::check_csrf(&headers, form.csrf.as_deref()) {
        return UiError::from(e).into_response();
    }
    let user = match auth::authenticate_cookie(&headers, &state).await {
        Ok(caller) => Some(caller.user.id),
        Err(_) => match auth::cookie(&headers, REFRESH_COOKIE) {
            Some(token) => match state.store().use_refresh_token(&auth::secret_hash(token), now_ms()).await {
                Ok(RefreshUse::Rotated { user, .. }) => Some(user),
                _ => None,
            },
            None => None,
        },
    };
    if let Some(user) = user {
        if let Err(e) = state.store().revoke_refresh_tokens(&user, now_ms()).await {
            return UiError::from(e).into_response();
        }
    }
    let mut response = Redirect::to("/ui/login").into_response();
    clear_session_cookies(&mut response, secure(&headers));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/ui/books/1?x=2")), "/ui/books/1?x=2");
        for bad in [
            "https://evil.example",
            "//evil.example/x",
            "/\\evil.example",
            "ui/x",
            "/ui/auth/refresh",
            "/\t/evil.example/x",
            "/\n/evil.example",
            "/ui/x\r\nSet-Cookie: a=b",
        ] {
            assert_eq!(safe_next(Some(bad)), HOME, "{bad}");
        }
        assert_eq!(safe_next(None), HOME);
    }

    #[test]
    fn cookie_lines() {
        let line = cookie_line("a", "b", "/ui/auth", Duration::from_secs(60), true, false);
        assert_eq!(line, "a=b; Path=/ui/auth; Max-Age=60; SameSite=Strict; HttpOnly");
        assert!(cookie_line("a", "b", "/", Duration::ZERO, false, true).ends_with("Max-Age=0; SameSite=Strict; Secure"));
    }
}
