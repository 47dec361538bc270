//! The contract of deletion support and idempotency records, on SQLite and
//! PostgreSQL alike: blob references follow the projection in the same
//! transaction (and a migration's backfill, and a replay), a deleted
//! document's projection vanishes while its stream stays, and an
//! Idempotency-Key is claimed by exactly one request.

use bindery_core::event;
use bindery_core::{Expected, NewEvent};
use bindery_store::{Append, Commit, DynStore, IdempotencyClaim, StoredResponse};
use serde_json::json;

bindery_store::contract!(
    blob_references_follow_the_projection,
    a_deleted_document_vanishes_but_its_stream_stays,
    idempotency_keys_claim_complete_replay_and_expire,
    concurrent_claims_of_one_key_have_one_winner,
);

const T0: i64 = 1_700_000_000_000;

fn upload(doc: &str, blob: &str) -> NewEvent {
    NewEvent::new(
        event::DOCUMENT_UPLOADED,
        json!({"document": doc, "source": "a.txt", "bytes": 3, "media_type": "text/plain", "project": "p1",
               "blob_key": blob, "pipeline": "text", "pipeline_version": 1, "stages": ["one"]}),
    )
}

fn completed(artifact: &str) -> NewEvent {
    NewEvent::new(
        event::STAGE_COMPLETED,
        json!({"stage": "one", "attempt": 1, "duration_ms": 1, "summary": {},
               "outputs": [{"kind": "text", "key": artifact, "bytes": 1, "media_type": "text/plain"}]}),
    )
}

async fn append(store: &DynStore, stream: &str, expected: Expected, events: Vec<NewEvent>) {
    let c = Commit { appends: vec![Append { stream: stream.into(), expected, events }], ..Default::default() };
    store.commit(c, T0).await.unwrap();
}

fn doc(n: u32) -> String {
    format!("{n:032x}")
}

async fn holders(store: &DynStore, key: &str) -> Vec<String> {
    store.blob_holders(key).await.unwrap()
}

async fn blob_references_follow_the_projection(store: DynStore) {
    let (d1, d2) = (doc(1), doc(2));
    append(&store, &d1, Expected::NoStream, vec![upload(&d1, "sha256/orig")]).await;
    assert_eq!(holders(&store, "sha256/orig").await, std::slice::from_ref(&d1));
    append(&store, &d1, Expected::Exact(1), vec![completed("sha256/text")]).await;
    assert_eq!(holders(&store, "sha256/text").await, std::slice::from_ref(&d1));
    // The same original in a second document: two holders.
    append(&store, &d2, Expected::NoStream, vec![upload(&d2, "sha256/orig"), completed("sha256/text")]).await;
    assert_eq!(holders(&store, "sha256/orig").await, [d1.clone(), d2.clone()]);
    assert_eq!(holders(&store, "sha256/text").await, [d1.clone(), d2.clone()]);
    assert!(holders(&store, "sha256/none").await.is_empty());

    // Reprocessing drops the old run's artifacts from the projection, and so from the references.
    let again = NewEvent::new(
        event::DOCUMENT_REPROCESSING,
        json!({"pipeline": "text", "pipeline_version": 1, "stages": ["one"], "media_type": "text/plain", "previous": "ready"}),
    );
    append(&store, &d1, Expected::Exact(2), vec![again]).await;
    assert_eq!(holders(&store, "sha256/text").await, std::slice::from_ref(&d2));
    assert_eq!(holders(&store, "sha256/orig").await, [d1.clone(), d2.clone()]);

    // A replay rebuilds the references with the projections.
    assert_eq!(store.rebuild_projections().await.unwrap(), 2);
    assert_eq!(holders(&store, "sha256/orig").await, [d1.clone(), d2.clone()]);
    assert_eq!(holders(&store, "sha256/text").await, std::slice::from_ref(&d2));
}

async fn a_deleted_document_vanishes_but_its_stream_stays(store: DynStore) {
    let (d1, d2) = (doc(1), doc(2));
    append(&store, &d1, Expected::NoStream, vec![upload(&d1, "sha256/orig"), completed("sha256/text")]).await;
    append(&store, &d2, Expected::NoStream, vec![upload(&d2, "sha256/orig")]).await;
    let deleting = NewEvent::new(event::DOCUMENT_DELETING, json!({"previous": "processing"}));
    append(&store, &d1, Expected::Exact(2), vec![deleting]).await;
    let s = store.document(&d1).await.unwrap().unwrap();
    assert_eq!(s.status.as_str(), "deleting");
    assert_eq!(store.project_documents("p1", "", 10).await.unwrap().len(), 2, "still listed while deleting");
    assert_eq!(holders(&store, "sha256/text").await, std::slice::from_ref(&d1), "still referenced while deleting");

    let deleted = NewEvent::new(event::DOCUMENT_DELETED, json!({"deleted": ["sha256/text"], "kept": ["sha256/orig"]}));
    append(&store, &d1, Expected::Exact(3), vec![deleted]).await;
    assert_eq!(store.document(&d1).await.unwrap(), None);
    let listed: Vec<String> = store.project_documents("p1", "", 10).await.unwrap().into_iter().map(|d| d.id).collect();
    assert_eq!(listed, std::slice::from_ref(&d2));
    assert_eq!(holders(&store, "sha256/orig").await, std::slice::from_ref(&d2));
    assert!(holders(&store, "sha256/text").await.is_empty());
    assert_eq!(store.read_stream(&d1, 0, 10).await.unwrap().len(), 4, "the log is append-only");

    // A replay does not bring it back; an upload of the same bytes does, after the stream's last version.
    assert_eq!(store.rebuild_projections().await.unwrap(), 1);
    assert_eq!(store.document(&d1).await.unwrap(), None);
    assert!(holders(&store, "sha256/text").await.is_empty());
    append(&store, &d1, Expected::Exact(4), vec![upload(&d1, "sha256/orig")]).await;
    let back = store.document(&d1).await.unwrap().unwrap();
    assert_eq!((back.status.as_str(), back.run, back.version), ("processing", 5, 5));
    assert_eq!(holders(&store, "sha256/orig").await, [d1.clone(), d2.clone()]);
}

fn response(body: &str) -> StoredResponse {
    StoredResponse { status: 201, content_type: Some("application/json".into()), body: body.as_bytes().to_vec() }
}

async fn idempotency_keys_claim_complete_replay_and_expire(store: DynStore) {
    let day = 24 * 3600 * 1000;
    let claim = |scope: &'static str, key: &'static str, fp: &'static str, now: i64| {
        let store = store.clone();
        async move { store.claim_idempotency_key(scope, key, fp, now, now - day, now - 60_000).await.unwrap() }
    };
    assert_eq!(claim("user:u1", "k1", "fp-a", T0).await, IdempotencyClaim::Claimed);
    assert_eq!(claim("user:u1", "k1", "fp-a", T0 + 1).await, IdempotencyClaim::InFlight { fingerprint: "fp-a".into() });
    // Keys are scoped: another principal's k1 is another record.
    assert_eq!(claim("key:k9", "k1", "fp-b", T0 + 1).await, IdempotencyClaim::Claimed);

    store.complete_idempotency_key("user:u1", "k1", &response("{\"id\":1}")).await.unwrap();
    let replay = IdempotencyClaim::Completed { fingerprint: "fp-a".into(), response: response("{\"id\":1}") };
    assert_eq!(claim("user:u1", "k1", "fp-a", T0 + 2).await, replay);
    assert_eq!(
        claim("user:u1", "k1", "fp-other", T0 + 2).await,
        IdempotencyClaim::Completed { fingerprint: "fp-a".into(), response: response("{\"id\":1}") },
        "the caller compares fingerprints"
    );
    // Releasing a completed record does nothing; a second completion does not overwrite the first.
    store.release_idempotency_key("user:u1", "k1").await.unwrap();
    store.complete_idempotency_key("user:u1", "k1", &response("{\"id\":2}")).await.unwrap();
    assert_eq!(claim("user:u1", "k1", "fp-a", T0 + 3).await, replay);

    // A released in-flight record is free again; so is one stuck in flight past the stale limit.
    store.release_idempotency_key("key:k9", "k1").await.unwrap();
    assert_eq!(claim("key:k9", "k1", "fp-c", T0 + 4).await, IdempotencyClaim::Claimed);
    assert_eq!(claim("key:k9", "k1", "fp-d", T0 + 60_005).await, IdempotencyClaim::Claimed, "stale in flight");

    // After a day the key is new again, and pruning deletes what expired.
    assert_eq!(claim("user:u1", "k1", "fp-e", T0 + day + 3).await, IdempotencyClaim::Claimed);
    assert_eq!(claim("user:u1", "k2", "fp-f", T0).await, IdempotencyClaim::Claimed);
    assert_eq!(store.prune_idempotency_keys(T0 + 10).await.unwrap(), 1);
    assert_eq!(claim("user:u1", "k2", "fp-g", T0 + 20).await, IdempotencyClaim::Claimed, "pruned");
}

async fn concurrent_claims_of_one_key_have_one_winner(store: DynStore) {
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move {
                store.claim_idempotency_key("user:u1", "race", "fp", T0, T0 - 1000, T0 - 1000).await.unwrap()
            })
        })
        .collect();
    let mut claimed = 0;
    for t in tasks {
        match t.await.unwrap() {
            IdempotencyClaim::Claimed => claimed += 1,
            other => assert_eq!(other, IdempotencyClaim::InFlight { fingerprint: "fp".into() }),
        }
    }
    assert_eq!(claimed, 1);
}
