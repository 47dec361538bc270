//! Artifacts: covers, thumbnails, narration, the book JSON, the dictionary, streamed from blob storage with HTTP
//! `Range` support (audio players and resumable downloads need it).
//!
//! An artifact is addressed by its blob key *within a document*: the key must be one of that document's artifacts,
//! so a caller who knows another document's key still cannot read it through a document they may see.

use super::documents::authorize;
use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::extract::Json;
use crate::extract::Path;
use crate::AppState;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bindery_store::Role;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Serialize, ToSchema)]
pub struct ArtifactView {
    pub kind: String,
    pub key: String,
    pub bytes: u64,
    pub media_type: String,
    /// Where to download it.
    pub url: String,
}

/// The document's artifacts.
#[utoipa::path(get, path = "/api/v1/documents/{id}/artifacts", tag = "artifacts", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = [ArtifactView])))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Vec<ArtifactView>>> {
    let doc = authorize(&state, &caller, &id, Role::Viewer).await?;
    Ok(Json(
        doc.artifacts
            .iter()
            .map(|a| ArtifactView {
                kind: a.kind.clone(),
                key: a.key.clone(),
                bytes: a.bytes,
                media_type: a.media_type.clone(),
                url: format!("/api/v1/documents/{id}/artifacts/{}", a.key),
            })
            .collect(),
    ))
}

/// Downloads an artifact. Honours one `Range: bytes=…` (206 with `Content-Range`; 416 when unsatisfiable).
#[utoipa::path(get, path = "/api/v1/documents/{id}/artifacts/{key}", tag = "artifacts", security(("bearer" = [])),
    params(("id" = String, Path), ("key" = String, Path, description = "the artifact's key, e.g. sha256/…"), ("Range" = Option<String>, Header)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 206), (status = 416, body = crate::error::Problem)))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, key)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let doc = authorize(&state, &caller, &id, Role::Viewer).await?;
    let artifact =
        doc.artifacts.iter().find(|a| a.key == key).ok_or_else(|| ApiError::not_found(format!("artifact {key}")))?;
    let size = state.engine.blobs().head(&artifact.key).await?.ok_or_else(|| ApiError::not_found("artifact data"))?;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        None => None,
        Some(spec) => match parse_range(spec, size) {
            Ok(r) => r,
            Err(()) => {
                let mut r = ApiError::RangeNotSatisfiable(size).into_response();
                r.headers_mut()
                    .insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"));
                return Ok(r);
            }
        },
    };
    let (status, body, length) = match range.clone() {
        Some(r) => (
            StatusCode::PARTIAL_CONTENT,
            state.engine.blobs().get_range_stream(&artifact.key, r.clone()).await?,
            r.end - r.start,
        ),
        None => (StatusCode::OK, state.engine.blobs().get_stream(&artifact.key).await?, size),
    };
    let mut response = Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, &artifact.media_type)
        .header(header::CONTENT_LENGTH, length)
        .header(header::ACCEPT_RANGES, "bytes")
        // Keys are content addresses: the bytes behind one never change.
        .header(header::CACHE_CONTROL, "private, max-age=31536000, immutable")
        .header(header::ETAG, format!("\"{}\"", artifact.key.rsplit('/').next().unwrap_or(&artifact.key)));
    if let Some(r) = range {
        response = response.header(header::CONTENT_RANGE, format!("bytes {}-{}/{size}", r.start, r.end - 1));
    }
    response.body(Body::from_stream(body)).map_err(|e| ApiError::Internal(e.to_string()))
}

/// Parses a single-range `bytes=` header against an object of `size` bytes (RFC 9110, section 14): `Ok(None)` means
/// "ignore it, send the whole object" (multiple ranges, other units, or a range that is not valid, such as
/// `bytes=5-4`), `Err` means unsatisfiable (it starts past the end). A last position past the end, however large,
/// means the end.
fn parse_range(spec: &str, size: u64) -> Result<Option<std::ops::Range<u64>>, ()> {
    let Some(set) = spec.trim().strip_prefix("bytes=") else { return Ok(None) };
    if set.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = set.split_once('-') else { return Ok(None) };
    let (start, end) = (start.trim(), end.trim());
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    // A number too large for 64 bits is still a valid position: past any end.
    let number = |s: &str| s.parse::<u64>().unwrap_or(u64::MAX);
    if start.is_empty() {
        // The last `end` bytes.
        if !digits(end) {
            return Ok(None);
        }
        return match number(end) {
            0 => Err(()),
            n => Ok(Some(size.saturating_sub(n)..size)),
        };
    }
    if !digits(start) || !(end.is_empty() || digits(end)) {
        return Ok(None);
    }
    let first = number(start);
    if !end.is_empty() && number(end) < first {
        return Ok(None);
    }
    if first >= size {
        return Err(());
    }
    let last = if end.is_empty() { size } else { number(end).saturating_add(1).min(size) };
    Ok(Some(first..last))
}

#[cfg(test)]
mod tests {
    use super::parse_range;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99", 1000), Ok(Some(0..100)));
        assert_eq!(parse_range("bytes=900-", 1000), Ok(Some(900..1000)));
        assert_eq!(parse_range("bytes=-100", 1000), Ok(Some(900..1000)));
        assert_eq!(parse_range("bytes=990-2000", 1000), Ok(Some(990..1000)));
        assert_eq!(parse_range("bytes=-5000", 1000), Ok(Some(0..1000)));
        assert_eq!(parse_range("bytes=1000-", 1000), Err(()));
        assert_eq!(parse_range("bytes=5-4", 1000), Ok(None), "invalid, so ignored: the whole object");
        assert_eq!(parse_range("bytes=0-99999999999999999999999", 1000), Ok(Some(0..1000)));
        assert_eq!(parse_range("bytes=-99999999999999999999999", 1000), Ok(Some(0..1000)));
        assert_eq!(parse_range("bytes=-0", 1000), Err(()));
        assert_eq!(parse_range("bytes=x-1", 1000), Ok(None));
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), Ok(None));
        assert_eq!(parse_range("items=0-1", 1000), Ok(None));
    }
}
