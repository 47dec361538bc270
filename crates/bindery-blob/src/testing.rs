//! A real S3-protocol server for tests: `s3s-fs`, serving a temporary
//! folder, started per test and killed on drop. Request signing, path-style
//! addressing, multipart uploads and copy-based renames are exercised as in
//! production. Without the binary, tests skip locally (with a message) and
//! fail under CI (`CI` set); `scripts/install-s3s-fs.sh` installs it.

use crate::BlobStore;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "bindery-test-key";
pub const SECRET_KEY: &str = "bindery-test-secret";
pub const BUCKET: &str = "bindery-test";

/// A running `s3s-fs` child process that is killed when dropped.
pub struct S3Server {
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
    pub fn start() -> Option<S3Server> {
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
    pub fn store(&self, prefix: &str) -> BlobStore {
        let vars = self.env();
        let env = |name: &str| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.clone());
        BlobStore::from_url_with_env(&self.url(prefix), env).unwrap()
    }

    /// The folder s3s-fs serves; each bucket is a sub-directory.
    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The environment a Bindery process needs to use this server.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("BINDERY_S3_ENDPOINT", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_string()),
        ]
    }

    /// `s3://bucket/prefix` for this server's test bucket.
    pub fn url(&self, prefix: &str) -> String {
        format!("s3://{BUCKET}/{prefix}")
    }
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
