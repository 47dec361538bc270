//! Scenarios shared by the local-folder and S3 integration tests.
//!
//! Both backends must behave identically from the engine's point of view, so
//! the same assertions run against each of them.

#![allow(dead_code)]

use std::pin::Pin;
use std::task::{Context, Poll};

use bindery_blob::{BlobError, BlobStore};
use bytes::Bytes;
use futures::TryStreamExt;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

/// A deterministic pseudo-random byte source that never holds its output in
/// memory, used to prove that uploads stream.
pub struct Generated {
    remaining: u64,
    state: u64,
    max_read: usize,
}

impl Generated {
    /// Creates a source of `len` bytes, handing out at most 64 KiB per read
    /// so the store has to assemble its chunks from many small reads.
    pub fn new(len: u64, seed: u64) -> Self {
        Generated { remaining: len, state: seed | 1, max_read: 64 * 1024 }
    }

    fn next_byte(&mut self) -> u8 {
        // xorshift64: cheap and good enough to defeat any accidental dedup.
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        (self.state >> 24) as u8
    }
}

impl AsyncRead for Generated {
    fn poll_read(mut self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.remaining).min(self.max_read as u64) as usize;
        let chunk: Vec<u8> = (0..n).map(|_| self.next_byte()).collect();
        buf.put_slice(&chunk);
        self.remaining -= n as u64;
        Poll::Ready(Ok(()))
    }
}

/// Computes the expected digest of a `Generated` source independently.
pub fn expected_sha256(len: u64, seed: u64) -> String {
    let mut source = Generated::new(len, seed);
    let mut hasher = Sha256::new();
    for _ in 0..len {
        hasher.update([source.next_byte()]);
    }
    hex::encode(hasher.finalize())
}

/// Storing the same content via bytes and via a reader yields one object.
pub async fn same_content_same_key(store: &BlobStore) {
    let data = Bytes::from_static(b"hello bindery");
    let from_bytes = store.put_bytes(data.clone()).await.unwrap();
    let from_reader = store.put_reader(&data[..], None).await.unwrap();
    let again = store.put_bytes(data.clone()).await.unwrap();
    assert_eq!(from_bytes, from_reader);
    assert_eq!(from_bytes, again);
    assert_eq!(from_bytes.sha256, hex::encode(Sha256::digest(&data)));
    assert_eq!(from_bytes.key, format!("sha256/{}", from_bytes.sha256));
    assert_eq!(from_bytes.bytes, data.len() as u64);
    assert_eq!(store.list_keys("").await.unwrap(), vec![from_bytes.key]);
}

/// A large generated input streams through and hashes correctly.
pub async fn streams_large_input(store: &BlobStore, len: u64) {
    let seed = 0x5eed;
    let stored = store.put_reader(Generated::new(len, seed), None).await.unwrap();
    assert_eq!(stored.sha256, expected_sha256(len, seed));
    assert_eq!(stored.bytes, len);
    assert_eq!(store.head(&stored.key).await.unwrap(), Some(len));

    let mut hasher = Sha256::new();
    let mut read = 0u64;
    let mut stream = store.get_stream(&stored.key).await.unwrap();
    while let Some(chunk) = stream.try_next().await.unwrap() {
        read += chunk.len() as u64;
        hasher.update(&chunk);
    }
    assert_eq!(read, len);
    assert_eq!(hex::encode(hasher.finalize()), stored.sha256);
    assert!(store.list_keys("tmp").await.unwrap().is_empty());
}

/// An empty input is a valid blob.
pub async fn stores_empty_input(store: &BlobStore) {
    let stored = store.put_reader(tokio::io::empty(), None).await.unwrap();
    assert_eq!(stored.sha256, hex::encode(Sha256::digest(b"")));
    assert_eq!(store.head(&stored.key).await.unwrap(), Some(0));
    assert!(store.get_bytes(&stored.key, 0).await.unwrap().is_empty());
}

/// Exceeding the limit fails and leaves no objects behind.
pub async fn too_large_leaves_nothing(store: &BlobStore, len: u64, limit: u64) {
    let err = store.put_reader(Generated::new(len, 7), Some(limit)).await.unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { limit: l } if l == limit), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(store.list_keys("").await.unwrap(), Vec::<String>::new());
}

/// Put, head, get, stream and delete agree with each other.
pub async fn round_trip(store: &BlobStore) {
    let data = Bytes::from(vec![42u8; 4096]);
    let stored = store.put_bytes(data.clone()).await.unwrap();
    assert_eq!(store.head(&stored.key).await.unwrap(), Some(4096));
    assert_eq!(store.get_bytes(&stored.key, 4096).await.unwrap(), data);

    let err = store.get_bytes(&stored.key, 4095).await.unwrap_err();
    assert!(matches!(err, BlobError::TooLarge { limit: 4095 }), "{err:?}");

    let chunks: Vec<Bytes> = store.get_stream(&stored.key).await.unwrap().try_collect().await.unwrap();
    assert_eq!(chunks.concat(), data.to_vec());

    store.delete(&stored.key).await.unwrap();
    assert_eq!(store.head(&stored.key).await.unwrap(), None);
    store.delete(&stored.key).await.unwrap();

    let err = store.get_bytes(&stored.key, 4096).await.unwrap_err();
    assert!(matches!(err, BlobError::NotFound(_)), "{err:?}");
    assert!(!err.is_retryable());
    let err = store.get_stream(&stored.key).await.err().expect("missing object must fail");
    assert!(matches!(err, BlobError::NotFound(_)), "{err:?}");

    // Named objects: written where asked, replaced whole by a second write.
    store.put_at("cache/llm/ab/entry", Bytes::from_static(b"first")).await.unwrap();
    store.put_at("cache/llm/ab/entry", Bytes::from_static(b"second answer")).await.unwrap();
    assert_eq!(store.get_bytes("cache/llm/ab/entry", 100).await.unwrap(), Bytes::from_static(b"second answer"));
    assert_eq!(store.head("cache/llm/ab/entry").await.unwrap(), Some(13));
}

/// Keys that could escape the root are refused before reaching the backend.
pub async fn rejects_invalid_keys(store: &BlobStore) {
    for key in ["", "/etc/passwd", "../outside", "sha256/../../x", "a//b"] {
        let is_invalid = |r: Result<(), BlobError>| matches!(r, Err(BlobError::InvalidKey(_)));
        assert!(is_invalid(store.head(key).await.map(drop)), "head {key:?}");
        assert!(is_invalid(store.get_bytes(key, 10).await.map(drop)), "get_bytes {key:?}");
        assert!(is_invalid(store.get_stream(key).await.map(drop)), "get_stream {key:?}");
        assert!(is_invalid(store.delete(key).await), "delete {key:?}");
        assert!(is_invalid(store.put_at(key, Bytes::from_static(b"x")).await), "put_at {key:?}");
    }
}
