//! `bindery user create` and `bindery serve` through the real binary: the first administrator logs in over HTTP,
//! SIGTERM stops the server cleanly, and the server's own worker delivers the instance's sinks.

mod harness;

use harness::{receiver, Cli};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;

/// One HTTP/1.1 request over a plain socket; returns the status line and the body.
fn http(addr: &str, request: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.lines().next().unwrap_or_default().to_owned();
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[test]
fn the_first_admin_logs_in_to_a_served_instance() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cli = rt.block_on(Cli::sqlite());
    let out = cli
        .cmd(&["user", "create", "--email", "Root@Example.org", "--admin"])
        .env("BINDERY_PASSWORD", "a long passphrase")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = cli
        .cmd(&["user", "create", "--email", "root@example.org"])
        .env("BINDERY_PASSWORD", "a long passphrase")
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("already has an account"));

    let (mut server, addr) = serve(&cli, &[]);
    let (status, body) = http(&addr, "GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    assert!(status.contains("200"), "{status} {body}");
    let login = r#"{"email":"root@example.org","password":"a long passphrase"}"#;
    let (status, body) = http(
        &addr,
        &format!(
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{login}",
            login.len()
        ),
    );
    assert!(status.contains("200"), "{status} {body}");
    assert!(body.contains("access_token"), "{body}");
    assert!(cli.dir.path().join("jwt-secret").exists(), "the signing key is kept for restarts");

    let pid = server.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(server.wait().unwrap().success(), "SIGTERM is a clean stop");
}

/// Starts `bindery serve` with `extra` arguments; returns the process and the address it listens on.
fn serve(cli: &Cli, extra: &[&str]) -> (std::process::Child, String) {
    let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let mut server = cli.cmd(&args).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve prints its address").unwrap();
        if let Some(rest) = line.strip_prefix("Bindery API on http://") {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
    // Keep reading stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (server, addr)
}

/// The single-binary install: `bindery serve` alone runs the jobs and delivers every event to the instance's sink,
/// as `bindery worker --sink` does.
#[test]
fn serve_delivers_the_instance_sinks() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cli = rt.block_on(Cli::sqlite());
    let (url, got) = receiver();
    let (mut server, _addr) = serve(
        &cli,
        &["--sink", &url, "--webhook-secret", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "--webhook-allow", "127.0.0.1"],
    );
    let id = cli.submit(&cli.books(1)).remove(0);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(180);
    let types = loop {
        let types: Vec<String> = got
            .lock()
            .unwrap()
            .iter()
            .map(|(_, body)| serde_json::from_slice::<serde_json::Value>(body).unwrap())
            .filter(|e| e["subject"] == id.as_str())
            .map(|e| e["type"].as_str().unwrap().to_owned())
            .collect();
        if types.last().is_some_and(|t| t == "document.ready") {
            break types;
        }
        assert!(std::time::Instant::now() < deadline, "the sink never got document.ready: {types:?}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(types.first().map(String::as_str), Some("document.uploaded"));
    assert_eq!(types.iter().filter(|t| t.as_str() == "stage.completed").count(), 9);

    let pid = server.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    assert!(server.wait().unwrap().success(), "SIGTERM is a clean stop");
}

#[test]
fn serve_refuses_a_sink_it_cannot_use_before_listening() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cli = rt.block_on(Cli::sqlite());
    let out = cli.run(&["serve", "--listen", "127.0.0.1:0", "--sink", "ftp://example.org/events"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("configuring sinks") && !stderr.contains("Bindery API on"), "{stderr}");
}
