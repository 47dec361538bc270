//! Integration tests against a real S3-protocol server.
//!
//! Each test starts its own `s3s-fs` process, which serves a temporary folder
//! over the S3 API, so request signing, path-style addressing, multipart
//! uploads and copy-based renames are exercised exactly as in production.
//! Without the binary the tests skip locally and fail on CI.

mod common;

use std::path::{Path, PathBuf};

use bindery_blob::testing::{S3Server, BUCKET};

/// Files s3s-fs keeps for unfinished multipart uploads.
fn leftover_upload_parts(server: &S3Server) -> Vec<PathBuf> {
    list_names(server.root()).into_iter().filter(|p| name_of(p).starts_with(".upload_id-")).collect()
}

fn list_names(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect()
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

#[tokio::test]
async fn same_content_same_key() {
    let Some(server) = S3Server::start() else {
        return;
    };
    common::same_content_same_key(&server.store("dedup")).await;
}

#[tokio::test]
async fn streams_multipart_upload() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let store = server.store("stream");
    common::streams_large_input(&store, 12 * 1024 * 1024 + 123).await;
    assert_eq!(leftover_upload_parts(&server), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn stores_empty_input() {
    let Some(server) = S3Server::start() else {
        return;
    };
    common::stores_empty_input(&server.store("empty")).await;
}

#[tokio::test]
async fn too_large_aborts_upload() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let store = server.store("limit");
    common::too_large_leaves_nothing(&store, 20 * 1024 * 1024, 10 * 1024 * 1024).await;
    assert_eq!(leftover_upload_parts(&server), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn round_trip() {
    let Some(server) = S3Server::start() else {
        return;
    };
    common::round_trip(&server.store("roundtrip")).await;
}

#[tokio::test]
async fn rejects_invalid_keys() {
    let Some(server) = S3Server::start() else {
        return;
    };
    common::rejects_invalid_keys(&server.store("keys")).await;
}

#[tokio::test]
async fn prefix_keeps_stores_apart() {
    let Some(server) = S3Server::start() else {
        return;
    };
    let (one, two) = (server.store("one"), server.store("two/nested"));
    let stored = one.put_bytes("isolated".into()).await.unwrap();
    assert_eq!(two.head(&stored.key).await.unwrap(), None);
    assert!(two.list_keys("").await.unwrap().is_empty());
    assert!(server.root().join(BUCKET).join("one").join(&stored.key).is_file());
    assert!(one.describe().starts_with("s3://bindery-test/one via http://127.0.0.1:"));
}
