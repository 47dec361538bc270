//! `bindery user create` and `bindery serve` through the real binary: the first administrator logs in over HTTP,
//! SIGTERM stops the server cleanly, the server's own worker delivers the instance's sinks, and a flood of logins
//! without credentials leaves the server's memory bounded and its signed-in readers served.

mod harness;

use futures::StreamExt;
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
    let stages = bindery_stages::book::pipeline().stages().len();
    assert_eq!(types.iter().filter(|t| t.as_str() == "stage.completed").count(), stages);

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

/// A process's resident memory now and at its peak, in MiB, from `/proc`.
fn memory_mib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| {
        let line = status.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name} in {status}"));
        line.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The review's flood: 300 logins with 1 MiB e-mail addresses, then 32 connections sending logins with distinct
/// addresses from distinct clients (through a trusted proxy) as fast as they can. Before the fix the server kept every
/// address in its limiter and hashed every attempt at once: 4 GiB and more, kept after the flood, and readers waited
/// seconds. Now it must stay within a small bound of where it started, shed what its hashing threads cannot take
/// (503 with Retry-After), and keep answering a signed-in reader.
#[test]
fn a_login_flood_leaves_memory_bounded_and_readers_served() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cli = rt.block_on(Cli::sqlite());
    let out = cli
        .cmd(&["user", "create", "--email", "reader@example.org"])
        .env("BINDERY_PASSWORD", "a long passphrase")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (mut server, addr) =
        serve(&cli, &["--no-worker", "--trusted-proxy", "127.0.0.1", "--password-threads", "1", "--rate-limit", "50"]);
    let pid = server.id();
    let base = format!("http://{addr}");
    rt.block_on(async {
        let http = reqwest::Client::new();
        let login = |email: String, client: String| {
            http.post(format!("{base}/api/v1/auth/login"))
                .header("x-forwarded-for", client)
                .json(&serde_json::json!({"email": email, "password": "not the password"}))
                .send()
        };
        let r = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "reader@example.org", "password": "a long passphrase"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let token = r.json::<serde_json::Value>().await.unwrap()["access_token"].as_str().unwrap().to_owned();
        // Warm up (the first hashes allocate the hashing thread's memory), then take the baseline.
        for i in 0..5 {
            login(format!("warm{i}@example.org"), format!("10.9.0.{i}")).await.unwrap();
        }
        let (base_rss, _) = memory_mib(pid);

        // 300 logins with 1 MiB e-mail addresses, eight at a time: refused by size, nothing kept. The server answers
        // 413 as soon as the body passes the limit and closes the connection, so a client still writing the rest
        // may see its write fail instead of the answer: both are a refusal.
        let big = "a".repeat(1 << 20);
        let statuses: Vec<u16> = futures::stream::iter(0..300)
            .map(|i| login(format!("{big}{i}@example.org"), format!("10.1.{}.{}", i / 250, i % 250)))
            .buffer_unordered(8)
            .map(|r| match r {
                Ok(r) => r.status().as_u16(),
                Err(e) if e.is_request() && !e.is_connect() && !e.is_timeout() => 413,
                Err(e) => panic!("{e:?}"),
            })
            .collect()
            .await;
        assert!(statuses.iter().all(|s| *s == 413), "{statuses:?}");

        // 32 connections flooding for five seconds, each attempt from its own client address; a reader meanwhile.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        let flood = (0..32u32).map(|c| {
            let login = &login;
            async move {
                let mut seen = std::collections::BTreeMap::<u16, u32>::new();
                let mut n = 0u32;
                while std::time::Instant::now() < deadline {
                    let client = format!("10.{}.{}.{}", 2 + c / 8, (n / 250) % 250, n % 250);
                    let r = login(format!("flood{c}-{n}@example.org"), client).await.unwrap();
                    if r.status() == 503 {
                        assert!(r.headers().contains_key("retry-after"), "a shed login says when to retry");
                    }
                    *seen.entry(r.status().as_u16()).or_default() += 1;
                    n += 1;
                }
                seen
            }
        });
        let reader = async {
            let mut slowest = std::time::Duration::ZERO;
            while std::time::Instant::now() < deadline {
                let started = std::time::Instant::now();
                let r = http.get(format!("{base}/api/v1/me")).bearer_auth(&token).send().await.unwrap();
                assert_eq!(r.status(), 200, "the signed-in reader is served during the flood");
                slowest = slowest.max(started.elapsed());
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            slowest
        };
        let (counts, slowest) = futures::join!(futures::future::join_all(flood), reader);
        let mut total = std::collections::BTreeMap::<u16, u32>::new();
        for c in counts {
            for (status, n) in c {
                *total.entry(status).or_default() += n;
            }
        }
        let (rss, peak) = memory_mib(pid);
        eprintln!(
            "flood answers {total:?}; reader's slowest {slowest:?}; RSS {base_rss} -> {rss} MiB, peak {peak} MiB"
        );
        assert!(total.keys().all(|s| [401, 429, 503].contains(s)), "{total:?}");
        assert!(total.get(&503).copied().unwrap_or(0) > 0, "the hashing queue shed load: {total:?}");
        // One hashing thread holds 19 MiB; everything else the flood touches is bounded and small.
        assert!(peak < base_rss + 200, "peak {peak} MiB from a baseline of {base_rss} MiB");
        assert!(rss < base_rss + 100, "RSS {rss} MiB after the flood, from {base_rss} MiB");
        assert!(slowest < std::time::Duration::from_secs(2), "the reader waited {slowest:?}");
    });
    assert!(std::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap().success());
    assert!(server.wait().unwrap().success());
}

/// The schemathesis program: `BINDERY_SCHEMATHESIS` (set by `scripts/test.sh`, which installs it pinned and
/// hash-checked), else where `scripts/install-schemathesis.sh` puts it. `None` outside CI when it is not installed;
/// under CI a missing program fails the test.
fn schemathesis() -> Option<std::path::PathBuf> {
    let given = std::env::var_os("BINDERY_SCHEMATHESIS").map(std::path::PathBuf::from);
    let installed = || {
        let cache = std::env::var_os("BINDERY_TOOLS_DIR")
            .map(std::path::PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".cache/bindery")))?;
        std::fs::read_dir(cache)
            .ok()?
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin/st"))
            .find(|st| st.exists() && st.parent().is_some_and(|b| b.to_string_lossy().contains("schemathesis")))
    };
    match given.filter(|p| p.exists()).or_else(installed) {
        Some(st) => Some(st),
        None if std::env::var_os("CI").is_some() => {
            panic!("schemathesis is not installed: scripts/install-schemathesis.sh (scripts/test.sh runs it)")
        }
        None => {
            eprintln!("skipping: schemathesis is not installed (scripts/install-schemathesis.sh)");
            None
        }
    }
}

/// Every operation of `/openapi.json`, driven by schemathesis against the real binary with every check it has
/// (undocumented statuses, content types, response schemas, problem documents, accepted invalid input, missing
/// authentication), on an instance seeded with one of each resource, so that operations on existing documents, keys,
/// members and invitations are reached and not only their `404`s (webhooks are created and followed by the stateful
/// phase). Progress streams are left out:
/// an event stream of a live document never ends, which schemathesis reads as a timeout.
#[test]
fn the_api_keeps_its_described_contract_under_schemathesis() {
    let Some(st) = schemathesis() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let cli = rt.block_on(Cli::sqlite());
    for (email, admin) in [("root@example.org", true), ("amy@example.org", false)] {
        let mut args = vec!["user", "create", "--email", email];
        if admin {
            args.push("--admin");
        }
        let out = cli.cmd(&args).env("BINDERY_PASSWORD", "a long passphrase").output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let (mut server, addr) =
        serve(&cli, &["--no-worker", "--rate-limit", "0", "--webhook-allow", "127.0.0.1", "--password-threads", "1"]);
    let base = format!("http://{addr}");
    let seeded = rt.block_on(async {
        let http = reqwest::Client::new();
        let login = |email: &str| {
            http.post(format!("{base}/api/v1/auth/login"))
                .json(&serde_json::json!({"email": email, "password": "a long passphrase"}))
                .send()
        };
        let json = |r: reqwest::Response| async move {
            assert!(r.status().is_success(), "seeding: {}", r.status());
            r.json::<serde_json::Value>().await.unwrap()
        };
        let root = json(login("root@example.org").await.unwrap()).await["access_token"].as_str().unwrap().to_owned();
        let amy = json(login("amy@example.org").await.unwrap()).await["access_token"].as_str().unwrap().to_owned();
        let post = |path: String, token: &str, body: serde_json::Value| {
            http.post(format!("{base}/api/v1{path}")).bearer_auth(token).json(&body).send()
        };
        let project = json(post("/projects".into(), &root, serde_json::json!({"name": "Seeded"})).await.unwrap()).await;
        let project = project["id"].as_str().unwrap().to_owned();
        let invite = serde_json::json!({"email": "amy@example.org", "role": "editor"});
        let invitation = json(post(format!("/projects/{project}/invitations"), &root, invite).await.unwrap()).await;
        let invitation = invitation["id"].as_str().unwrap().to_owned();
        let key = serde_json::json!({"name": "ci", "role": "viewer"});
        let key = json(post(format!("/projects/{project}/api-keys"), &root, key).await.unwrap()).await;
        let upload = http
            .post(format!("{base}/api/v1/projects/{project}/documents?filename=seed.txt"))
            .bearer_auth(&root)
            .body("CHAPTER I.\n\nA seeded book for the contract test, with a few plain words.\n")
            .send()
            .await
            .unwrap();
        let document = json(upload).await["documents"][0]["id"].as_str().unwrap().to_owned();
        let me = json(http.get(format!("{base}/api/v1/me")).bearer_auth(&amy).send().await.unwrap()).await;
        serde_json::json!({
            "token": root, "project": project, "invitation": invitation, "key": key["id"],
            "document": document, "user": me["user"]["id"],
        })
    });
    // Path parameters name the seeded resources; everything else is generated. Webhooks are left to the stateful
    // phase, which creates them and follows each to its reads, changes and deletion. Whether a webhook URL is
    // acceptable depends on what its host resolves to and on the instance's allowlist, which no schema can state, so
    // a schema-valid URL refused with 422 is expected there, and only there.
    let config = cli.dir.path().join("schemathesis.toml");
    let s = |k: &str| seeded[k].as_str().unwrap().to_owned();
    std::fs::write(
        &config,
        format!(
            r#"request-timeout = 10.0
[parameters]
"path.project" = "{project}"
"path.invitation" = "{invitation}"
"path.key" = "{key}"
"path.user" = "{user}"

[[operations]]
include-path-regex = "^/api/v1/documents/"
parameters = {{ "path.id" = "{document}" }}

[[operations]]
include-path-regex = "/webhooks(/[^/]+)?$"
include-method-regex = "POST|PATCH"
checks.positive_data_acceptance.expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
"#,
            project = s("project"),
            invitation = s("invitation"),
            key = s("key"),
            user = s("user"),
            document = s("document"),
        ),
    )
    .unwrap();
    // Run in the instance's folder: schemathesis keeps a cache of what it found where it runs.
    let out = std::process::Command::new(&st)
        .current_dir(cli.dir.path())
        .arg("--config-file")
        .arg(&config)
        .args(["run", &format!("{base}/openapi.json"), "--checks", "all", "--max-examples", "15", "--seed", "1"])
        .args(["--workers", "2", "--exclude-path-regex", "/stream$", "--no-color"])
        .args(["-H", &format!("Authorization: Bearer {}", s("token"))])
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    let _ = server.kill();
    let _ = server.wait();
    assert!(out.status.success(), "schemathesis found failures:\n{report}\n{}", String::from_utf8_lossy(&out.stderr));
    // The run reached the operations: a summary with tested operations, none failing.
    assert!(report.contains("passed") && !report.contains("failed"), "{report}");
}
