//! Turning an operator's sink spec into a [`Sink`].
//!
//! One URL-shaped string per sink keeps configuration to a single flag or
//! environment variable: the scheme picks the kind of sink and the query
//! carries its few options. Parsing is synchronous and offline; nothing is
//! contacted until the first delivery, so a broker that is down at start-up
//! delays delivery instead of stopping the engine.

use crate::error::ConfigError;
use crate::nats::{NatsSink, DEFAULT_STREAM, DEFAULT_SUBJECT_PREFIX};
use crate::redis_stream::{RedisSink, DEFAULT_STREAM_KEY};
use crate::sink::Sink;
use crate::webhook::{WebhookOptions, WebhookSink};
use std::collections::HashMap;
use url::Url;

/// Builds a sink from its spec.
///
/// * `http://…` and `https://…`: a [`WebhookSink`] posting to that URL,
///   signed with `webhook_secret`, which is then required.
/// * `nats://host:port[?subject_prefix=bindery&stream=BINDERY]`: a
///   [`NatsSink`].
/// * `redis://host:port[/db][?stream=bindery:events]`: a [`RedisSink`].
///
/// Credentials in a broker URL are passed on to the client but never appear
/// in [`Sink::name`]; webhook URLs may not carry any. Unknown query options
/// are rejected so that typos surface.
///
/// Webhooks get the default [`WebhookOptions`], so they only reach public
/// addresses; use [`parse_sink_with`] to allowlist private ones.
pub fn parse_sink(spec: &str, webhook_secret: Option<&str>) -> Result<Box<dyn Sink>, ConfigError> {
    parse_sink_with(spec, webhook_secret, &WebhookOptions::default())
}

/// [`parse_sink`] with explicit options for webhook sinks (allowlist,
/// timeout); other sinks ignore them.
pub fn parse_sink_with(
    spec: &str,
    webhook_secret: Option<&str>,
    webhook: &WebhookOptions,
) -> Result<Box<dyn Sink>, ConfigError> {
    let url = Url::parse(spec.trim())
        .map_err(|e| ConfigError::InvalidSpec { spec: spec.to_owned(), reason: e.to_string() })?;
    match url.scheme() {
        "http" | "https" => {
            let secret = webhook_secret.filter(|s| !s.is_empty()).ok_or(ConfigError::MissingSecret)?;
            Ok(Box::new(WebhookSink::with_options(url, secret, webhook.clone())?))
        }
        "nats" => {
            let mut options = options(&url, &["subject_prefix", "stream"])?;
            let prefix = options.remove("subject_prefix").unwrap_or_else(|| DEFAULT_SUBJECT_PREFIX.into());
            let stream = options.remove("stream").unwrap_or_else(|| DEFAULT_STREAM.into());
            let (server, display) = addresses(url, spec, false)?;
            Ok(Box::new(NatsSink::new(&server, &display, &prefix, &stream)?))
        }
        "redis" => {
            let mut options = options(&url, &["stream"])?;
            let stream = options.remove("stream").unwrap_or_else(|| DEFAULT_STREAM_KEY.into());
            let (server, display) = addresses(url, spec, true)?;
            Ok(Box::new(RedisSink::new(&server, &display, &stream)?))
        }
        other => Err(ConfigError::UnsupportedScheme(other.to_owned())),
    }
}

/// Collects the query options, refusing unknown and repeated ones.
fn options(url: &Url, allowed: &[&str]) -> Result<HashMap<String, String>, ConfigError> {
    let mut found = HashMap::new();
    for (name, value) in url.query_pairs() {
        if !allowed.contains(&name.as_ref()) {
            return Err(ConfigError::InvalidOption {
                name: name.into_owned(),
                reason: format!("unknown option; expected one of {}", allowed.join(", ")),
            });
        }
        if found.insert(name.to_string(), value.into_owned()).is_some() {
            return Err(ConfigError::InvalidOption { name: name.into_owned(), reason: "given more than once".into() });
        }
    }
    Ok(found)
}

/// Splits a broker URL into the address handed to the client (options
/// removed, credentials kept) and a loggable one (credentials removed too).
/// Only Redis gives the path a meaning (the database number).
fn addresses(mut url: Url, spec: &str, keep_path: bool) -> Result<(String, String), ConfigError> {
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ConfigError::InvalidSpec { spec: spec.to_owned(), reason: "the URL has no host".into() });
    }
    url.set_query(None);
    url.set_fragment(None);
    if !keep_path {
        url.set_path("");
    }
    let server = url.to_string();
    // Clearing credentials cannot fail on a URL that has a host.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    Ok((server, url.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhooks_need_a_secret() {
        assert!(matches!(parse_sink("https://example.com/hook", None), Err(ConfigError::MissingSecret)));
        assert!(matches!(parse_sink("https://example.com/hook", Some("")), Err(ConfigError::MissingSecret)));
        let sink = parse_sink("https://example.com/hook", Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")).unwrap();
        assert_eq!(sink.name(), "webhook https://example.com/hook");
    }

    #[test]
    fn webhooks_to_private_addresses_need_an_allowlist() {
        let secret = Some("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let err = parse_sink("http://10.0.0.5/hook", secret).err().expect("refused");
        assert!(matches!(err, ConfigError::Refused(crate::SsrfError::ForbiddenAddress { .. })), "{err}");
        let allow = WebhookOptions { allow: "10.0.0.0/8".parse().unwrap(), ..WebhookOptions::default() };
        let sink = parse_sink_with("http://10.0.0.5/hook", secret, &allow).unwrap();
        assert_eq!(sink.name(), "webhook http://10.0.0.5/hook");
        let err = parse_sink("https://user:pw@example.com/hook", secret).err().expect("refused");
        assert!(matches!(err, ConfigError::Refused(crate::SsrfError::Credentials)), "{err}");
    }

    #[test]
    fn nats_specs_take_defaults_and_options() {
        let sink = parse_sink("nats://user:pw@127.0.0.1:4222", None).unwrap();
        assert_eq!(sink.name(), "nats nats://127.0.0.1:4222 stream BINDERY");
        let sink = parse_sink("nats://127.0.0.1:4222?subject_prefix=acme.docs&stream=ACME", None).unwrap();
        assert_eq!(sink.name(), "nats nats://127.0.0.1:4222 stream ACME");
    }

    #[test]
    fn redis_specs_take_defaults_and_options() {
        let sink = parse_sink("redis://127.0.0.1:6379/2", None).unwrap();
        assert_eq!(sink.name(), "redis redis://127.0.0.1:6379/2 stream bindery:events");
        let sink = parse_sink("redis://:secret@127.0.0.1:6379?stream=acme:events", None).unwrap();
        assert_eq!(sink.name(), "redis redis://127.0.0.1:6379 stream acme:events");
    }

    #[test]
    fn bad_specs_are_rejected() {
        assert!(matches!(parse_sink("ftp://example.com", None), Err(ConfigError::UnsupportedScheme(_))));
        assert!(matches!(parse_sink("not a url", None), Err(ConfigError::InvalidSpec { .. })));
        assert!(matches!(parse_sink("nats://h:4222?steam=X", None), Err(ConfigError::InvalidOption { .. })));
        assert!(matches!(parse_sink("nats://h:4222?stream=A.B", None), Err(ConfigError::InvalidOption { .. })));
        assert!(matches!(parse_sink("redis://h?stream=a&stream=b", None), Err(ConfigError::InvalidOption { .. })));
    }
}
