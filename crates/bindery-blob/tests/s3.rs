//! Integration tests against a real S3-protocol server.
//!
//! Each test starts its own `s3s-fs` process, which serves a temporary folder
//! over the S3 API, so request signing, path-style addressing, multipart
//! uploads and copy-based renames are exercised exactly as in production.
//! Without the binary the tests skip locally and fail on CI.

mod common;

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bindery_blob::BlobStore;

const ACCESS_KEY: &str = "bindery-test-key";
const SECRET_KEY: &str = "bindery-test-secret";
const BUCKET: &str = "bindery-test";

/// A running `s3s-fs` child process that is killed when dropped.
struct S3Server {
    child: Child,
    port: u16,
    root: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl S3Server {
    /// Starts `s3s-fs`, or returns `None` (after explaining why) when it is
    /// not installed and the tests are not running on CI.
    fn start() -> Option<S3Server> {
        let Some(binary) = find_binary() else {
            let hint = "s3s-fs not installed, run scripts/install-s3s-fs.sh";
            if std::env::var_os("CI").is_some() {
                panic!("{hint}");
            }
            eprintln!("skipping: {hint}");
            return None;
        };
        let root = tempfile::tempdir().unwrap();
        // s3s-fs represents each bucket as a sub-directory of its root.
        std::fs::create_dir(root.path().join(BUCKET)).unwrap();
        let port = free_port();
        let mut command = Command::new(&binary);
        command
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        // Set S3S_FS_LOG (for example to "debug") to see the server's log,
        // which it writes to stdout.
        match std::env::var("S3S_FS_LOG") {
            Ok(filter) => command.env("RUST_LOG", filter).stdout(Stdio::inherit()),
            Err(_) => command.stdout(Stdio::null()),
        };
        let child = command.spawn().unwrap_or_else(|err| panic!("cannot start {}: {err}", binary.display()));
        let mut server = S3Server { child, port, root };
        server.wait_until_ready(Duration::from_secs(10));
        Some(server)
    }

    /// Polls the port until the server accepts connections.
    fn wait_until_ready(&mut self, limit: Duration) {
        let deadline = Instant::now() + limit;
        while TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).is_err() {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("s3s-fs exited early with {status}");
            }
            assert!(Instant::now() < deadline, "s3s-fs did not listen on port {} within {limit:?}", self.port);
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens the test bucket under `prefix` the way the engine would: from a
    /// URL plus environment settings.
    fn store(&self, prefix: &str) -> BlobStore {
        let endpoint = format!("http://127.0.0.1:{}", self.port);
        let env = |name: &str| match name {
            "BINDERY_S3_ENDPOINT" => Some(endpoint.clone()),
            "AWS_ACCESS_KEY_ID" => Some(ACCESS_KEY.to_string()),
            "AWS_SECRET_ACCESS_KEY" => Some(SECRET_KEY.to_string()),
            _ => None,
        };
        BlobStore::from_url_with_env(&format!("s3://{BUCKET}/{prefix}"), env).unwrap()
    }

    /// Files s3s-fs keeps for unfinished multipart uploads.
    fn leftover_upload_parts(&self) -> Vec<PathBuf> {
        list_names(self.root.path()).into_iter().filter(|p| name_of(p).starts_with(".upload_id-")).collect()
    }
}

fn list_names(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect()
}

fn name_of(path: &Path) -> String {
    path.file_name().unwrap_or_default().to_string_lossy().into_owned()
}

/// Looks for `s3s-fs` on PATH, then in cargo's install directory.
fn find_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).map(|dir| dir.join("s3s-fs")).collect::<Vec<_>>())
        .unwrap_or_default();
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    on_path.into_iter().chain(cargo_home.map(|home| home.join("bin/s3s-fs"))).find(|path| path.is_file())
}

/// Asks the OS for an unused port; the listener is closed before s3s-fs binds.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
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
    assert_eq!(server.leftover_upload_parts(), Vec::<PathBuf>::new());
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
    assert_eq!(server.leftover_upload_parts(), Vec::<PathBuf>::new());
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
    assert!(server.root.path().join(BUCKET).join("one").join(&stored.key).is_file());
    assert!(one.describe().starts_with("s3://bindery-test/one via http://127.0.0.1:"));
}
