//! Key naming and validation.
//!
//! Keys reach this crate from job payloads, so they are untrusted input. A
//! key must never resolve outside the store root (think `../../etc/passwd` on
//! the local backend), and the content-addressed layout must stay predictable
//! so that identical content always maps to the same key.

use crate::BlobError;

/// Folder that holds content-addressed objects.
pub const CONTENT_PREFIX: &str = "sha256";

/// Folder that holds in-progress uploads before they are moved into place.
pub const TEMP_PREFIX: &str = "tmp";

/// Returns the content-addressed key for a lowercase hex SHA-256 digest.
pub fn content_key(sha256_hex: &str) -> String {
    format!("{CONTENT_PREFIX}/{sha256_hex}")
}

/// Returns a fresh, unique key for an in-progress upload.
pub(crate) fn temp_key() -> String {
    format!("{TEMP_PREFIX}/{}", uuid::Uuid::new_v4())
}

/// Checks that a key is a relative path made of ordinary segments.
///
/// Empty keys, leading or trailing slashes, empty segments, `.` and `..`
/// segments, backslashes and control characters are all rejected.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let reject = |why: &str| Err(BlobError::InvalidKey(format!("{key:?}: {why}")));
    if key.is_empty() {
        return reject("key is empty");
    }
    if key.starts_with('/') {
        return reject("key must not start with '/'");
    }
    if key.contains('\\') {
        return reject("key must not contain backslashes");
    }
    if key.chars().any(char::is_control) {
        return reject("key must not contain control characters");
    }
    for segment in key.split('/') {
        match segment {
            "" => return reject("key must not contain empty segments"),
            "." | ".." => return reject("key must not contain '.' or '..' segments"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_keys() {
        assert!(validate_key("sha256/abc").is_ok());
        assert!(validate_key("a.b/c..d").is_ok());
    }

    #[test]
    fn rejects_escaping_keys() {
        for key in ["", "/abs", "../x", "a/../b", "a/./b", "a//b", "a/", "a\\b", "a\nb"] {
            assert!(validate_key(key).is_err(), "{key:?} should be rejected");
        }
    }
}
