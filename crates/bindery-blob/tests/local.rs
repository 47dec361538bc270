//! Integration tests against a real local folder.
//!
//! The local backend is what developers and single-node deployments use, and
//! it is where path escapes would do real damage, so it is tested directly on
//! disk rather than through an in-memory fake.

mod common;

use std::path::{Path, PathBuf};

use bindery_blob::{BlobError, BlobStore};

/// Opens a store in a fresh temporary directory.
fn temp_store() -> (tempfile::TempDir, BlobStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::from_url(dir.path().to_str().unwrap()).unwrap();
    (dir, store)
}

/// Lists every regular file below `root`, including staging files that the
/// store's own listing hides.
fn files_under(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                found.push(path);
            }
        }
    }
    found
}

#[tokio::test]
async fn same_content_same_key() {
    let (dir, store) = temp_store();
    common::same_content_same_key(&store).await;
    assert_eq!(files_under(dir.path()).len(), 1);
}

#[tokio::test]
async fn streams_twenty_mebibytes() {
    let (dir, store) = temp_store();
    common::streams_large_input(&store, 20 * 1024 * 1024).await;
    assert_eq!(files_under(dir.path()).len(), 1);
}

#[tokio::test]
async fn stores_empty_input() {
    let (_dir, store) = temp_store();
    common::stores_empty_input(&store).await;
}

#[tokio::test]
async fn too_large_leaves_no_temp_files() {
    let (dir, store) = temp_store();
    common::too_large_leaves_nothing(&store, 20 * 1024 * 1024, 10 * 1024 * 1024).await;
    assert_eq!(files_under(dir.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn round_trip() {
    let (_dir, store) = temp_store();
    common::round_trip(&store).await;
}

#[tokio::test]
async fn rejects_invalid_keys() {
    let (dir, store) = temp_store();
    std::fs::write(dir.path().join("secret"), b"x").unwrap();
    common::rejects_invalid_keys(&store).await;
    let err = store.head("../secret").await.unwrap_err();
    assert!(matches!(err, BlobError::InvalidKey(_)));
}

#[tokio::test]
async fn put_file_matches_put_bytes() {
    let (dir, store) = temp_store();
    let input = dir.path().join("input.bin");
    std::fs::write(&input, vec![9u8; 3 * 1024 * 1024 + 17]).unwrap();
    let from_file = store.put_file(&input).await.unwrap();
    let from_bytes = store.put_bytes(std::fs::read(&input).unwrap().into()).await.unwrap();
    assert_eq!(from_file, from_bytes);

    let err = store.put_file(&dir.path().join("missing")).await.unwrap_err();
    assert!(matches!(err, BlobError::Io(_)), "{err:?}");
}

#[tokio::test]
async fn file_url_creates_missing_directory() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("nested/blobs");
    let store = BlobStore::from_url(&format!("file://{}", root.display())).unwrap();
    assert!(root.is_dir());
    assert!(store.describe().contains("blobs"));
    let stored = store.put_bytes("x".into()).await.unwrap();
    assert!(root.join(&stored.key).is_file());
}

#[test]
fn unsupported_urls_are_rejected() {
    for url in ["", "ftp://host/x", "s3://"] {
        let err = BlobStore::from_url(url).unwrap_err();
        assert!(matches!(err, BlobError::InvalidUrl(_)), "{url:?}: {err:?}");
    }
}
