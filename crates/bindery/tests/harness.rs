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
        self.cmd_of(Path::new(env!("CARGO_BIN_EXE_bindery")), args)
    }

    /// [`Cli::cmd`] with another copy of the binary.
    pub fn cmd_of(&self, program: &Path, args: &[&str]) -> Command {
        let mut c = Command::new(program);
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

    /// [`Cli::run`], measuring the memory the run took (see [`Peak`]).
    pub fn run_measured(&self, args: &[&str]) -> (Output, Peak) {
        measure(self.cmd(args))
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

/// The memory a run of the binary took, in bytes of resident memory.
#[derive(Clone, Copy, Debug)]
pub struct Peak {
    /// The largest peak of any one process of the run: the binary itself or
    /// a program it started (a parse child, ffmpeg). Exact: the kernel's
    /// `ru_maxrss` of the reaped binary covers the descendants it reaped.
    pub largest_process: u64,
    /// The binary's own peak (`VmHWM`), as last sampled before it exited.
    pub own: u64,
    /// The largest total of the binary and all its descendants at one
    /// moment, sampled every 10 ms.
    pub tree: u64,
}

/// Runs `cmd` to its end as [`Command::output`] does, sampling the memory
/// of its process tree from `/proc` while it runs, and reaps it with
/// `wait4` for its exact peak.
pub fn measure(mut cmd: Command) -> (Output, Peak) {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("bindery runs");
    let pid = child.id() as libc::pid_t;
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            pipe.read_to_end(&mut bytes).expect("reading the binary's output");
            bytes
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let (mut own, mut tree) = (0, 0);
    let (status, usage) = loop {
        let mut pids = vec![pid];
        let mut i = 0;
        while let Some(&p) = pids.get(i) {
            pids.extend(children(p));
            i += 1;
        }
        own = own.max(status_kib(pid, "VmHWM:").unwrap_or(0) << 10);
        tree = tree.max(pids.iter().filter_map(|&p| status_kib(p, "VmRSS:")).sum::<u64>() << 10);
        let mut status = 0;
        // SAFETY: zeroes are a valid `rusage`, which `wait4` fills in.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: plain system call on our own child, with valid pointers. `Child` is never waited for after this,
        // so the process is reaped exactly once.
        let reaped = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if reaped == pid {
            break (status, usage);
        }
        assert_eq!(reaped, 0, "wait4: {}", std::io::Error::last_os_error());
        std::thread::sleep(std::time::Duration::from_millis(10));
    };
    drop(child);
    use std::os::unix::process::ExitStatusExt;
    let output = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
    };
    // Linux counts `ru_maxrss` in KiB.
    (output, Peak { largest_process: (usage.ru_maxrss as u64) << 10, own, tree })
}

/// The children of every thread of process `pid` (a parse child is started
/// by whichever runtime thread ran its stage).
fn children(pid: libc::pid_t) -> Vec<libc::pid_t> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().filter_map(|p| p.parse().ok()).collect::<Vec<_>>())
        .collect()
}

/// A `kB` field of `/proc/PID/status`; `None` once the process is gone.
fn status_kib(pid: libc::pid_t, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line[field.len()..].trim().trim_end_matches("kB").trim().parse().ok()
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
