//! `bindery user create` and `bindery serve` through the real binary: the first administrator logs in over HTTP, and
//! SIGTERM stops the server cleanly.

mod harness;

use harness::Cli;
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

    let mut server =
        cli.cmd(&["serve", "--listen", "127.0.0.1:0"]).stderr(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    let mut lines = BufReader::new(server.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("serve prints its address").unwrap();
        if let Some(rest) = line.strip_prefix("Bindery API on http://") {
            break rest.split('/').next().unwrap().to_owned();
        }
    };
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
