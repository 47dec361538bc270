//! Standard Webhooks signatures, for signing what we send and checking what
//! receivers get.
//!
//! A webhook endpoint is reachable by anyone, so receivers need proof that a
//! request came from Bindery and was not replayed. The Standard Webhooks spec
//! (<https://www.standardwebhooks.com/>) gives that proof with an HMAC-SHA256
//! over `"{id}.{timestamp}.{body}"`, sent as `webhook-signature: v1,<base64>`.
//! Using the spec rather than an ad-hoc scheme means receivers can use any of
//! its existing libraries; [`verify`] is here for receivers written in Rust
//! and for our own tests.

use crate::error::{ConfigError, VerifyError};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use reqwest::header::HeaderMap;
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The prefix that marks a base64-encoded secret, as the spec defines it.
const SECRET_PREFIX: &str = "whsec_";

/// The only signature version the spec currently defines.
const VERSION: &str = "v1";

/// A fresh signing secret: `whsec_` and the base64 of 24 random bytes (192 bits), the form the spec's libraries
/// expect.
pub fn generate_secret() -> String {
    use rand::RngCore;
    let mut key = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// Turns a configured secret into HMAC key bytes.
///
/// A `whsec_` secret carries its key in base64. Anything else is taken as the
/// raw key bytes, so operators can also paste a plain shared secret.
pub(crate) fn secret_key(secret: &str) -> Result<Vec<u8>, ConfigError> {
    let key = match secret.strip_prefix(SECRET_PREFIX) {
        Some(encoded) => STANDARD
            .decode(encoded)
            .map_err(|e| ConfigError::InvalidSecret(format!("the whsec_ payload is not base64: {e}")))?,
        None => secret.as_bytes().to_vec(),
    };
    if key.is_empty() {
        return Err(ConfigError::InvalidSecret("the key is empty".into()));
    }
    Ok(key)
}

/// Prepares a MAC over the signed content; the caller finishes it.
fn mac_for(key: &[u8], id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// Signs with key bytes that have already been decoded.
pub(crate) fn sign_with_key(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let tag = mac_for(key, id, &timestamp.to_string(), body).finalize().into_bytes();
    format!("{VERSION},{}", STANDARD.encode(tag))
}

/// Computes the `webhook-signature` header value (`v1,<base64>`) for a
/// message, given the secret as `whsec_<base64>` or as raw text.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, ConfigError> {
    Ok(sign_with_key(&secret_key(secret)?, id, timestamp, body))
}

/// The three `webhook-*` headers a receiver needs to check a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignatureHeaders<'a> {
    /// `webhook-id`: the event id, stable across redeliveries.
    pub id: &'a str,
    /// `webhook-timestamp`: unix seconds when the attempt was signed.
    pub timestamp: &'a str,
    /// `webhook-signature`: one or more space-separated `v1,<base64>` values.
    pub signature: &'a str,
}

impl<'a> SignatureHeaders<'a> {
    /// Reads the headers from an `http` header map, the type axum, hyper and
    /// reqwest all share.
    pub fn from_header_map(headers: &'a HeaderMap) -> Result<Self, VerifyError> {
        let get = |name: &'static str| {
            headers.get(name).and_then(|v| v.to_str().ok()).ok_or(VerifyError::MissingHeader(name))
        };
        Ok(Self { id: get("webhook-id")?, timestamp: get("webhook-timestamp")?, signature: get("webhook-signature")? })
    }
}

/// Checks a received webhook.
///
/// The timestamp must lie within `tolerance_secs` of `now` (both unix
/// seconds) in either direction, which bounds how long a captured request can
/// be replayed. At least one `v1` signature in the header must match; other
/// versions are ignored so that senders can rotate keys or schemes. Signatures
/// are compared in constant time.
pub fn verify(
    secret: &str,
    headers: &SignatureHeaders<'_>,
    body: &[u8],
    now: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    let key = secret_key(secret)?;
    let timestamp_text = headers.timestamp.trim();
    let timestamp: i64 = timestamp_text.parse().map_err(|_| VerifyError::InvalidTimestamp)?;
    if now.abs_diff(timestamp) > tolerance_secs.unsigned_abs() {
        return Err(VerifyError::StaleTimestamp { timestamp, now, tolerance_secs });
    }
    let expected = mac_for(&key, headers.id, timestamp_text, body);
    let matched = headers
        .signature
        .split_whitespace()
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == VERSION)
        .filter_map(|(_, encoded)| STANDARD.decode(encoded).ok())
        // `verify_slice` compares in constant time.
        .any(|tag| expected.clone().verify_slice(&tag).is_ok());
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secrets_are_fresh_whsec_keys() {
        let (a, b) = (generate_secret(), generate_secret());
        assert_ne!(a, b);
        assert!(a.starts_with("whsec_"), "{a}");
        assert_eq!(secret_key(&a).unwrap().len(), 24);
    }

    #[test]
    fn raw_secrets_are_used_as_bytes() {
        assert_eq!(secret_key("hunter2").unwrap(), b"hunter2");
    }

    #[test]
    fn empty_and_malformed_secrets_are_rejected() {
        assert!(secret_key("").is_err());
        assert!(secret_key("whsec_").is_err());
        assert!(secret_key("whsec_not base64!").is_err());
    }
}
