//! Identifiers.
//!
//! A document's id is derived from the sha256 of its bytes, so submitting the
//! same file twice names the same document and the second submission is a
//! no-op. Event ids are UUIDv7: unique, and sortable by creation time.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A document's identity: the first 128 bits of the sha256 of its content,
/// in lowercase hex (32 characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DocumentId(String);

impl DocumentId {
    /// The id of a document whose content hashes to `sha256_hex`.
    pub fn from_sha256_hex(sha256_hex: &str) -> Self {
        Self(sha256_hex[..32].to_owned())
    }

    /// The id of a document whose content hashes to `sha256_hex` inside `project`: the same file uploaded to two
    /// projects is two documents, so neither project can learn of, or reach, the other's copy by its id.
    pub fn for_project(project: &str, sha256_hex: &str) -> Self {
        Self::from_sha256_hex(&hex::encode(Sha256::digest(format!("project/{project}/{sha256_hex}"))))
    }

    /// The id of a document with these bytes.
    pub fn for_bytes(bytes: &[u8]) -> Self {
        Self::from_sha256_hex(&hex::encode(Sha256::digest(bytes)))
    }

    /// Parses a user-supplied id, accepting only the canonical form.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        ok.then(|| Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A CloudEvents `id`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub String);

impl EventId {
    pub fn new() -> Self {
        Self(uuid::Uuid::now_v7().to_string())
    }
}

impl Default for EventId {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_bytes_same_id() {
        let a = DocumentId::for_bytes(b"hello");
        assert_eq!(a, DocumentId::for_bytes(b"hello"));
        assert_ne!(a, DocumentId::for_bytes(b"hello!"));
        // sha256("hello") starts with 2cf24dba5fb0a30e26e83b2ac5b9e29e.
        assert_eq!(a.as_str(), "2cf24dba5fb0a30e26e83b2ac5b9e29e");
        assert_eq!(DocumentId::parse(a.as_str()), Some(a));
        assert_eq!(DocumentId::parse("../etc/passwd"), None);
    }
}
