//! Shared by the CLI tests: run the real `bindery` binary against a fresh
//! data dir (SQLite) or a fresh PostgreSQL schema, and inspect the result
//! through the store.

#![allow(dead_code)]

use bindery_store::{testing, DynStore};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};

pub struct Cli {
    pub dir: tempfile::TempDir,
    pub database_url: String,
}

impl Cli {
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let database_url = testing::sqlite_url(dir.path());
        Self { dir, database_url }
    }

    pub async fn postgres() -> Option<Self> {
        let database_url = testing::postgres_url().await?;
        Some(Self { dir: tempfile::tempdir().unwrap(), database_url })
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_bindery"));
        c.args(args)
            .env("BINDERY_DATA_DIR", self.dir.path())
            .env("BINDERY_DATABASE_URL", &self.database_url)
            .env("BINDERY_STORAGE", self.dir.path().join("blobs"))
            .env("BINDERY_LOG_FORMAT", "json")
            .env_remove("BINDERY_FAILPOINTS")
            .stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("bindery runs")
    }

    pub fn spawn(&self, args: &[&str], failpoints: &str) -> Child {
        self.cmd(args)
            .env("BINDERY_FAILPOINTS", failpoints)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    }

    pub async fn store(&self) -> DynStore {
        bindery_store::connect(&self.database_url).await.unwrap()
    }

    /// Writes `n` distinct Markdown books and returns their paths.
    pub fn books(&self, n: usize) -> Vec<PathBuf> {
        (0..n)
            .map(|i| {
                let p = self.dir.path().join(format!("book-{i}.md"));
                let body =
                    format!("Paragraph {i} of a book about the sea and the wind and the long road home. ").repeat(5);
                std::fs::write(&p, format!("# One\n\n{body}\n\n# Two\n\n{body}\n")).unwrap();
                p
            })
            .collect()
    }

    pub fn submit(&self, paths: &[PathBuf]) -> Vec<String> {
        let mut args = vec!["submit", "--json"];
        let strs: Vec<&str> = paths.iter().map(|p| p.to_str().unwrap()).collect();
        args.extend(strs);
        let out = self.run(&args);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        stdout_json(&out).into_iter().map(|v| v["id"].as_str().unwrap().to_owned()).collect()
    }
}

pub fn stdout_json(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect()
}

/// Checks exactly-once facts for every document: one `document.ready`, and
/// one `stage.completed` per stage. Returns the number of ready documents.
pub async fn assert_exactly_once(store: &DynStore, ids: &[String]) -> usize {
    let mut ready = 0;
    for id in ids {
        let events = store.read_stream(id, 0, 10_000).await.unwrap();
        let mut per_stage: HashMap<String, usize> = HashMap::new();
        for e in events.iter().filter(|e| e.ty == "stage.completed") {
            *per_stage.entry(e.data["stage"].as_str().unwrap().to_owned()).or_default() += 1;
        }
        assert!(per_stage.values().all(|n| *n == 1), "document {id}: duplicated stage output {per_stage:?}");
        let n = events.iter().filter(|e| e.ty == "document.ready").count();
        assert_eq!(n, 1, "document {id}: {n} document.ready events");
        assert_eq!(per_stage.len(), 9, "document {id}: stages {per_stage:?}");
        ready += n;
    }
    ready
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}

/// One recorded request: lower-case headers and the body.
pub type Request = (HashMap<String, String>, Vec<u8>);

/// A minimal HTTP receiver on loopback that records requests and answers 204.
pub fn receiver() -> (String, Arc<Mutex<Vec<Request>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hooks/bindery", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Request>>> = Arc::default();
    let sink = got.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let mut reader = BufReader::new(conn);
            let mut headers = HashMap::new();
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let l = line.trim_end();
                if l.is_empty() {
                    break;
                }
                if let Some((k, v)) = l.split_once(':') {
                    headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                }
            }
            let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            sink.lock().unwrap().push((headers, body));
            let mut conn = reader.into_inner();
            conn.write_all(b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        }
    });
    (url, got)
}
