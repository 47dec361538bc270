//! The CLI contract, through the real binary.

mod harness;

use harness::{stdout_json, Cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_json_reports_each_document() {
    let cli = Cli::sqlite().await;
    let good = cli.books(1).remove(0);
    let bad = cli.dir.path().join("bad.txt");
    std::fs::write(&bad, b"\xc3\x28 not utf-8").unwrap();
    let fake = cli.dir.path().join("fake.pdf");
    std::fs::write(&fake, b"<!DOCTYPE html><html></html>").unwrap();
    let missing = cli.dir.path().join("missing.txt");
    let out = cli.run(&[
        "process",
        "--json",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
        fake.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "not all documents are ready");
    let docs = stdout_json(&out);
    assert_eq!(docs.len(), 4);
    assert_eq!((docs[0]["status"].as_str(), docs[0]["chapters"].as_array().map(Vec::len)), (Some("ready"), Some(2)));
    assert!(docs[0]["error"].is_null());
    assert_eq!(docs[1]["status"], "failed");
    assert!(docs[1]["error"].as_str().unwrap().contains("not valid UTF-8"));
    assert_eq!(docs[2]["error"], "stage ingest: the file is named .pdf but its first bytes look like HTML");
    assert!(docs[3]["id"].is_null());
    assert!(docs[3]["error"].as_str().unwrap().contains("missing.txt"));
    for d in &docs {
        assert!(d["source"].is_string());
    }
    // The good one again: same id, already ready, exit 0.
    let again = cli.run(&["process", "--json", good.to_str().unwrap()]);
    assert!(again.status.success());
    assert_eq!(stdout_json(&again)[0]["id"], docs[0]["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_job_is_listed_and_retry_revives_it() {
    let cli = Cli::sqlite().await;
    let book = cli.books(1).remove(0);
    let out = cli
        .cmd(&["process", "--json", "--max-attempts", "2", "--retry-base-ms", "10", book.to_str().unwrap()])
        .env("BINDERY_FAILPOINTS", "index=fail")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let doc = &stdout_json(&out)[0];
    assert_eq!(doc["status"], "failed");
    assert!(doc["error"].as_str().unwrap().contains("gave up after 2 attempts"), "{doc}");
    let dead = stdout_json(&cli.run(&["jobs", "--state", "dead", "--json"]));
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["queue"], "index");
    assert!(cli.run(&["retry", "--all-dead"]).status.success());
    assert!(cli.run(&["worker", "--exit-when-idle"]).status.success());
    let id = doc["id"].as_str().unwrap();
    let shown: serde_json::Value = serde_json::from_slice(&cli.run(&["show", id, "--json"]).stdout).unwrap();
    assert_eq!(shown["status"], "ready");
    assert_eq!(shown["progress"]["percent"], 100.0);
    assert!(stdout_json(&cli.run(&["jobs", "--state", "dead", "--json"])).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_are_cloudevents_and_replay_is_stable() {
    let cli = Cli::sqlite().await;
    let book = cli.books(1).remove(0);
    assert!(cli.run(&["process", book.to_str().unwrap()]).status.success());
    let events = stdout_json(&cli.run(&["events", "--json"]));
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let mut expected = vec!["document.uploaded"];
    expected.extend(std::iter::repeat_n("stage.completed", bindery_stages::book::pipeline().stages().len()));
    expected.push("document.ready");
    assert_eq!(types, expected, "one completion per stage of the book pipeline");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["specversion"], "1.0");
        assert_eq!(e["sequence"], i as i64 + 1);
        assert_eq!(e["streamversion"], i as i64 + 1);
        assert_eq!(e["subject"], events[0]["subject"]);
        assert_eq!(e["correlationid"], events[0]["id"], "one correlation id per run");
        assert!(e["id"].is_string() && e["time"].is_string() && e["source"] == "/bindery/engine");
    }
    assert_eq!(events[1]["causationid"], events[0]["id"]);
    let id = events[0]["subject"].as_str().unwrap();
    let after = stdout_json(&cli.run(&["events", "--json", "--document", id, "--after", "3"]));
    assert_eq!(after.len(), events.len() - 3);
    let before = cli.run(&["show", id, "--json"]).stdout;
    let replay = cli.run(&["replay"]);
    assert!(String::from_utf8_lossy(&replay.stdout).contains("rebuilt 1 document"));
    assert_eq!(cli.run(&["show", id, "--json"]).stdout, before);
}

/// The folders of the data the stages read are settings handed to them
/// (`--wordnet-dir`, `--font-dir`), not variables a library reads: a
/// WordNet folder that does not exist leaves the dictionary without
/// definitions and says where it looked, and a font folder without the
/// fonts fails the cover with the setting to change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_folders_are_settings_the_stages_use() {
    let cli = Cli::sqlite().await;
    let book = cli.books(1).remove(0);
    let nowhere = cli.dir.path().join("nowhere");
    let nowhere = nowhere.to_str().unwrap();
    let out = cli.run(&["process", "--json", "--wordnet-dir", nowhere, "--font-dir", nowhere, book.to_str().unwrap()]);
    let doc = &stdout_json(&out)[0];
    assert_eq!(doc["status"], "failed", "{doc}");
    let error = doc["error"].as_str().unwrap_or_default();
    assert!(error.contains(nowhere) && error.contains("font-dir"), "{error}");
    let events = stdout_json(&cli.run(&["events", "--json"]));
    let dictionary = events
        .iter()
        .find(|e| e["type"] == "stage.completed" && e["data"]["stage"] == "dictionary")
        .expect("the dictionary ran");
    let wordnet_error = dictionary["data"]["summary"]["wordnet_error"].as_str().unwrap_or_default();
    assert!(wordnet_error.contains(nowhere), "{wordnet_error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submit_twice_gives_one_document() {
    let cli = Cli::sqlite().await;
    let book = cli.books(1);
    let first = cli.submit(&book);
    let second = cli.submit(&book);
    assert_eq!(first, second);
    let jobs = stdout_json(&cli.run(&["jobs", "--json"]));
    assert_eq!(jobs.len(), 1, "only the first stage is queued, once");
    let bad = cli.run(&["jobs", "--state", "sleeping"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unknown job state"));
}

/// `worker --metrics-listen` serves Prometheus text with the job counters
/// and queue depths.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_serves_prometheus_metrics() {
    use std::io::{Read, Write};
    let cli = Cli::sqlite().await;
    cli.submit(&cli.books(2));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    let mut worker = cli.spawn(&["worker", "--metrics-listen", &addr], "");
    let mut body = String::new();
    for _ in 0..300 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let Ok(mut conn) = std::net::TcpStream::connect(&addr) else { continue };
        conn.write_all(format!("GET /metrics HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
            .unwrap();
        body.clear();
        conn.read_to_string(&mut body).unwrap();
        // Depths are sampled every 5 s; wait for a sample after the work.
        if body.contains("bindery_jobs_completed_total{queue=\"index\"} 2")
            && body.contains("bindery_queue_depth{queue=\"extract\",state=\"completed\"}")
        {
            break;
        }
    }
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert!(body.contains("bindery_jobs_completed_total{queue=\"index\"} 2"), "{body}");
    assert!(body.contains("bindery_jobs_claimed_total"), "{body}");
    assert!(body.contains("bindery_job_duration_seconds"), "{body}");
    assert!(body.contains("bindery_queue_depth{queue=\"extract\",state=\"completed\"}"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_deletes_finished_jobs_and_keeps_documents() {
    let cli = Cli::sqlite().await;
    let book = cli.books(1).remove(0);
    let out = cli.run(&["process", "--json", book.to_str().unwrap()]);
    let id = stdout_json(&out)[0]["id"].as_str().unwrap().to_owned();
    let kept = cli.run(&["prune"]);
    assert!(String::from_utf8_lossy(&kept.stdout).contains("deleted 0 finished job(s)"), "recent jobs are kept");
    let stages = bindery_stages::book::pipeline().stages().len();
    assert_eq!(stdout_json(&cli.run(&["jobs", "--json"])).len(), stages);
    let pruned = cli.run(&["prune", "--older-than-days", "0"]);
    assert!(String::from_utf8_lossy(&pruned.stdout).contains(&format!("deleted {stages} finished job(s)")));
    assert!(stdout_json(&cli.run(&["jobs", "--json"])).is_empty());
    let shown: serde_json::Value = serde_json::from_slice(&cli.run(&["show", &id, "--json"]).stdout).unwrap();
    assert_eq!(shown["status"], "ready", "the document and its events stay");
    assert_eq!(stdout_json(&cli.run(&["events", "--json"])).len(), stages + 2, "uploaded, every stage, ready");
    assert!(!cli.run(&["prune", "--older-than-days", "-1"]).status.success());
}

/// `bindery show ID | head`: when the reader has gone before anything is written, listing commands end on SIGPIPE
/// like any Unix filter, without a panic or an error message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_commands_end_quietly_when_the_reader_goes_away() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;
    // Its number on Linux.
    const SIGPIPE: i32 = 13;
    let cli = Cli::sqlite().await;
    let book = cli.books(1).remove(0);
    let out = cli.run(&["process", "--json", book.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let id = stdout_json(&out)[0]["id"].as_str().unwrap().to_owned();
    for args in [vec!["show", id.as_str()], vec!["events"], vec!["jobs", "--state", "completed"]] {
        let mut child = cli.cmd(&args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        // Close the reading end at once: the first write finds no reader.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.signal(), Some(SIGPIPE), "{args:?}: {:?} {stderr}", out.status);
        assert!(!stderr.contains("panicked") && !stderr.contains("error"), "{args:?}: {stderr}");
    }
}
