//! The scale-out parts through the real binary: S3-compatible storage (a
//! real s3s-fs server) and webhooks delivered by `bindery worker --sink`.

mod harness;

use bindery_blob::testing::{S3Server, BUCKET};
use bindery_outbox::{verify, SignatureHeaders};
use harness::{receiver, stdout_json, Cli};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn process_with_s3_storage() {
    let Some(server) = S3Server::start() else { return };
    let cli = Cli::sqlite().await;
    let book = cli.books(1).remove(0);
    let out = cli
        .cmd(&["process", "--json", book.to_str().unwrap()])
        .env("BINDERY_STORAGE", server.url("library"))
        .envs(server.env())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = &stdout_json(&out)[0];
    assert_eq!(doc["status"], "ready");
    let artifacts = doc["artifacts"].as_array().unwrap();
    for kind in ["text", "book", "analysis", "dictionary", "narration-preview", "cover-480.webp"] {
        assert!(artifacts.iter().any(|a| a["kind"] == kind), "{kind} missing from {artifacts:?}");
    }
    for a in artifacts {
        let file = server.root().join(BUCKET).join("library").join(a["key"].as_str().unwrap());
        assert_eq!(std::fs::metadata(&file).unwrap().len(), a["bytes"].as_u64().unwrap(), "{}", file.display());
    }
    assert!(!cli.dir.path().join("blobs").exists(), "nothing went to the local folder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_delivers_signed_webhooks_in_order() {
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let (url, got) = receiver();
    let cli = Cli::sqlite().await;
    let id = cli.submit(&cli.books(1)).remove(0);
    // The receiver is on loopback, which webhooks reach only when allowed.
    let out = cli.run(&[
        "worker",
        "--exit-when-idle",
        "--sink",
        &url,
        "--webhook-secret",
        secret,
        "--webhook-allow",
        "127.0.0.1",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let requests = got.lock().unwrap().clone();
    let events: Vec<serde_json::Value> = requests.iter().map(|(_, b)| serde_json::from_slice(b).unwrap()).collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    let mut expected = vec!["document.uploaded"];
    expected.extend(["stage.completed"; 9]);
    expected.push("document.ready");
    assert_eq!(types, expected);
    let now = bindery_core::time::now_ms() / 1000;
    for ((headers, body), event) in requests.iter().zip(&events) {
        assert_eq!(event["subject"], id.as_str());
        assert_eq!(headers["webhook-id"], event["id"].as_str().unwrap(), "receivers deduplicate on the event id");
        let h = SignatureHeaders {
            id: &headers["webhook-id"],
            timestamp: &headers["webhook-timestamp"],
            signature: &headers["webhook-signature"],
        };
        verify(secret, &h, body, now, 300).expect("a valid Standard Webhooks signature");
    }
    let seqs: Vec<i64> = events.iter().map(|e| e["sequence"].as_i64().unwrap()).collect();
    let events_of_one_book = bindery_stages::book::pipeline().stages().len() as i64 + 2;
    assert_eq!(seqs, (1..=events_of_one_book).collect::<Vec<_>>(), "every event, in log order");
}
