//! Checks of what owners send for a webhook endpoint, each failing with `unprocessable` and a message that says
//! what to change.
//!
//! The URL check is the dispatcher's SSRF rule applied early ([`bindery_outbox::check_url`], then a resolution of
//! host names): an endpoint that could never be delivered to is refused when it is set, not discovered as a log of
//! failures. A name that does not resolve (yet) is accepted; every delivery resolves and checks it again.

use crate::error::{ApiError, ApiResult};
use bindery_outbox::{Allowlist, SsrfError};
use std::net::IpAddr;
use std::time::Duration;
use url::{Host, Url};

const MAX_URL: usize = 2048;
const MAX_DESCRIPTION: usize = 500;
const MAX_TYPES: usize = 50;
const MAX_TYPE: usize = 100;
/// How long a host name's resolution may take when an endpoint is set.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

/// The URL, normalised, when deliveries may be sent to it.
pub async fn check_url(raw: &str, allow: &Allowlist) -> ApiResult<String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > MAX_URL {
        return Err(ApiError::Unprocessable(format!("a webhook URL of 1 to {MAX_URL} characters is needed")));
    }
    let url = Url::parse(raw).map_err(|e| ApiError::Unprocessable(format!("{raw:?} is not a URL: {e}")))?;
    bindery_outbox::check_url(&url, allow).map_err(|e| ApiError::Unprocessable(e.to_string()))?;
    if let Some(Host::Domain(host)) = url.host() {
        let port = url.port_or_known_default().unwrap_or(443);
        let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port))).await;
        if let Ok(Ok(found)) = lookup {
            let addrs: Vec<IpAddr> = found.map(|a| a.ip()).collect();
            if !addrs.is_empty() && !addrs.iter().any(|ip| allow.permits(*ip)) {
                // The addresses stay in the log: telling the caller what an internal name resolves to would map the
                // operator's network for them.
                let refused = SsrfError::ForbiddenHost { host: host.to_owned(), addrs };
                tracing::info!(reason = %refused, "webhook URL refused");
                return Err(ApiError::Unprocessable(format!(
                    "webhook host {host} is not allowed: it resolves only to private or loopback addresses; an \
                     operator can allow them with --webhook-allow"
                )));
            }
        }
    }
    Ok(url.to_string())
}

/// The filter, trimmed and without duplicates.
pub fn check_event_types(types: &[String]) -> ApiResult<Vec<String>> {
    if types.len() > MAX_TYPES {
        return Err(ApiError::Unprocessable(format!("at most {MAX_TYPES} event types per endpoint")));
    }
    let mut out: Vec<String> = Vec::with_capacity(types.len());
    for t in types {
        let t = t.trim();
        let name = t.strip_suffix('*').unwrap_or(t);
        let valid = !t.is_empty()
            && t.len() <= MAX_TYPE
            && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !valid {
            return Err(ApiError::Unprocessable(format!(
                "event type {t:?}: give an exact type such as document.ready, or a prefix ending in * such as document.*"
            )));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

pub fn check_description(d: &str) -> ApiResult<String> {
    let d = d.trim();
    if d.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::Unprocessable(format!("a description has at most {MAX_DESCRIPTION} characters")));
    }
    Ok(d.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_are_exact_names_or_prefixes() {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            check_event_types(&v(&[" document.* ", "stage.failed", "document.*"])).unwrap(),
            v(&["document.*", "stage.failed"])
        );
        assert_eq!(check_event_types(&v(&["*"])).unwrap(), v(&["*"]));
        for bad in ["", "doc*ument", "a b", "document.**", "ünïcode"] {
            assert!(check_event_types(&v(&[bad])).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn urls_are_refused_with_reasons() {
        let none = Allowlist::default();
        let message = |r: ApiResult<String>| match r {
            Err(ApiError::Unprocessable(m)) => m,
            other => panic!("expected unprocessable, got {other:?}"),
        };
        assert!(message(check_url("ftp://example.com/", &none).await).contains("http or https"));
        assert!(message(check_url("https://u:p@example.com/", &none).await).contains("user name or password"));
        assert!(message(check_url("http://127.0.0.1:9/", &none).await).contains("loopback"));
        assert!(message(check_url("http://169.254.169.254/", &none).await).contains("link-local"));
        let refused = message(check_url("http://localhost:9/", &none).await);
        assert!(refused.contains("is not allowed"), "{refused}");
        assert!(!refused.contains("127.0.0.1") && !refused.contains("::1"), "no resolution revealed: {refused}");
        assert!(message(check_url("not a url", &none).await).contains("is not a URL"));
        let local = Allowlist::parse("127.0.0.1,::1").unwrap();
        assert_eq!(check_url(" http://127.0.0.1:9/hook ", &local).await.unwrap(), "http://127.0.0.1:9/hook");
        assert_eq!(check_url("https://example.com", &none).await.unwrap(), "https://example.com/");
    }
}
