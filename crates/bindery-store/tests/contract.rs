//! The store contract: one suite of behaviours, run against SQLite and
//! PostgreSQL alike. Each case takes a fresh store.

use bindery_core::event::{self, StoredEvent};
use bindery_core::{Expected, JobState, NewEvent, NewJob};
use bindery_store::{testing, Append, Commit, DynStore, Finish, Outcome, StoreError};
use futures::StreamExt;
use serde_json::json;
use std::time::Duration;

bindery_store::contract!(
    appends_check_expected_versions,
    read_all_is_ordered_and_gapless,
    read_project_reads_only_that_projects_events,
    projection_follows_commits_and_replays_identically,
    unique_keys_dedupe_jobs,
    claims_by_priority_and_run_at,
    lost_lease_rolls_back_the_whole_commit,
    retry_dead_and_revive,
    waiting_gives_back_the_attempt,
    rescue_puts_expired_jobs_back,
    suspects_honour_queue_limits,
    unfinished_jobs_are_available_or_running,
    queue_limits_hold,
    cancel_documents_cancels_their_jobs,
    heartbeat_reports_lost_jobs,
    cursors_persist,
    leases_exclude_other_holders,
    cancel_single_jobs,
    prune_keeps_unfinished_and_dead_jobs,
    subscribe_catches_up_then_follows,
);

const T0: i64 = 1_700_000_000_000;

fn upload(doc: &str) -> NewEvent {
    NewEvent::new(
        event::DOCUMENT_UPLOADED,
        json!({"document": doc, "source": "a.txt", "bytes": 3, "media_type": "text/plain",
               "blob_key": "sha256/x", "pipeline": "text", "pipeline_version": 1, "stages": ["one"]}),
    )
}

fn append(stream: &str, expected: Expected, events: Vec<NewEvent>) -> Commit {
    Commit { appends: vec![Append { stream: stream.into(), expected, events }], ..Default::default() }
}

fn doc(n: u32) -> String {
    format!("{n:032x}")
}

fn job(queue: &str) -> NewJob {
    NewJob::new(queue, "noop", json!({}), T0)
}

async fn enqueue(store: &DynStore, jobs: Vec<NewJob>) -> Vec<Option<i64>> {
    store.commit(Commit { enqueue: jobs, ..Default::default() }, T0).await.unwrap().enqueued
}

fn finish(job: i64, worker: &str, outcome: Outcome) -> Commit {
    Commit { finish: vec![Finish { job, worker: worker.into(), outcome }], ..Default::default() }
}

async fn appends_check_expected_versions(store: DynStore) {
    let d = doc(1);
    let out = store.commit(append(&d, Expected::NoStream, vec![upload(&d)]), T0).await.unwrap();
    assert_eq!(out.events[0].version, 1);
    let again = store.commit(append(&d, Expected::NoStream, vec![upload(&d)]), T0).await;
    assert!(matches!(again, Err(StoreError::Conflict { actual: 1, .. })), "{again:?}");
    let stale = store.commit(append(&d, Expected::Exact(0), vec![NewEvent::new("x.y", json!({}))]), T0).await;
    assert!(matches!(stale, Err(StoreError::Conflict { .. })));
    let two = vec![NewEvent::new("x.y", json!({"n": 2})), NewEvent::new("x.y", json!({"n": 3}))];
    let out = store.commit(append(&d, Expected::Exact(1), two), T0 + 5).await.unwrap();
    assert_eq!(out.events.iter().map(|e| e.version).collect::<Vec<_>>(), vec![2, 3]);
    let read = store.read_stream(&d, 1, 10).await.unwrap();
    assert_eq!(read.iter().map(|e| e.data["n"].as_i64()).collect::<Vec<_>>(), vec![Some(2), Some(3)]);
    assert_eq!(read[0].time_ms, T0 + 5);
    let ce = read[0].to_cloud_event();
    assert_eq!((ce.subject.as_str(), ce.streamversion, ce.specversion.as_str()), (d.as_str(), 2, "1.0"));
}

async fn read_all_is_ordered_and_gapless(store: DynStore) {
    for i in 0..5 {
        let d = doc(i);
        let evs = vec![upload(&d), NewEvent::new("x.y", json!({"i": i}))];
        store.commit(append(&d, Expected::NoStream, evs), T0).await.unwrap();
    }
    let all = store.read_all(0, 100).await.unwrap();
    assert_eq!(all.iter().map(|e| e.sequence).collect::<Vec<_>>(), (1..=10).collect::<Vec<_>>());
    assert_eq!(store.head().await.unwrap(), 10);
    let page = store.read_all(4, 3).await.unwrap();
    assert_eq!(page.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![5, 6, 7]);
}

async fn read_project_reads_only_that_projects_events(store: DynStore) {
    for i in 0..6u32 {
        let d = doc(i);
        let mut uploaded = upload(&d);
        uploaded.data["project"] = json!(if i % 2 == 0 { "p-even" } else { "p-odd" });
        let evs = vec![uploaded, NewEvent::new("x.y", json!({"i": i}))];
        store.commit(append(&d, Expected::NoStream, evs), T0).await.unwrap();
    }
    let even = store.read_project("p-even", 0, 100).await.unwrap();
    assert_eq!(even.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![1, 2, 5, 6, 9, 10]);
    assert!(even.iter().all(|e| [doc(0), doc(2), doc(4)].contains(&e.stream)));
    let page = store.read_project("p-odd", 4, 3).await.unwrap();
    assert_eq!(page.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![7, 8, 11]);
    assert!(store.read_project("p-none", 0, 100).await.unwrap().is_empty());
}

async fn projection_follows_commits_and_replays_identically(store: DynStore) {
    let d = doc(7);
    store.commit(append(&d, Expected::NoStream, vec![upload(&d)]), T0).await.unwrap();
    let completed = NewEvent::new(
        event::STAGE_COMPLETED,
        json!({"stage": "one", "attempt": 1, "duration_ms": 12, "outputs": [], "summary": {"words": 3}}),
    );
    store
        .commit(
            append(&d, Expected::Exact(1), vec![completed, NewEvent::new(event::DOCUMENT_READY, json!({}))]),
            T0 + 1,
        )
        .await
        .unwrap();
    let live = store.document(&d).await.unwrap().expect("projected");
    assert_eq!(live.status.as_str(), "ready");
    assert_eq!(live.results["one"], json!({"words": 3}));
    assert_eq!(store.rebuild_projections().await.unwrap(), 1);
    assert_eq!(store.document(&d).await.unwrap(), Some(live));
    assert_eq!(store.documents("", 10).await.unwrap().len(), 1);
}

async fn unique_keys_dedupe_jobs(store: DynStore) {
    let mut a = job("q");
    a.unique_key = Some("k1".into());
    let ids = enqueue(&store, vec![a.clone(), job("q"), a.clone()]).await;
    assert!(ids[0].is_some() && ids[1].is_some());
    assert_eq!(ids[2], None, "the duplicate key inside one commit is dropped");
    assert_eq!(enqueue(&store, vec![a]).await, vec![None]);
    assert_eq!(store.jobs(None, 0, 10).await.unwrap().len(), 2);
}

async fn claims_by_priority_and_run_at(store: DynStore) {
    let mut later = job("q");
    later.run_at = T0 + 10_000;
    let mut urgent = job("q");
    urgent.priority = -1;
    let ids = enqueue(&store, vec![job("q"), later, urgent]).await;
    let claimed = store.claim("w1", &[], 10, T0 + 30_000, T0).await.unwrap();
    assert_eq!(claimed.iter().map(|j| Some(j.id)).collect::<Vec<_>>(), vec![ids[2], ids[0]]);
    assert!(claimed
        .iter()
        .all(|j| j.state == JobState::Running && j.attempt == 1 && j.worker.as_deref() == Some("w1")));
    assert!(store.claim("w2", &[], 10, T0 + 30_000, T0).await.unwrap().is_empty());
    let due = store.claim("w2", &["q".to_string()], 10, T0 + 40_000, T0 + 10_000).await.unwrap();
    assert_eq!(due.iter().map(|j| Some(j.id)).collect::<Vec<_>>(), vec![ids[1]]);
    assert!(store.claim("w2", &["other".to_string()], 10, T0, T0 + 99_999).await.unwrap().is_empty());
}

async fn lost_lease_rolls_back_the_whole_commit(store: DynStore) {
    enqueue(&store, vec![job("q")]).await;
    let j = store.claim("w1", &[], 1, T0 + 1000, T0).await.unwrap().remove(0);
    let d = doc(3);
    let mut c = finish(j.id, "intruder", Outcome::Completed);
    c.appends = vec![Append { stream: d.clone(), expected: Expected::NoStream, events: vec![upload(&d)] }];
    let err = store.commit(c, T0).await.unwrap_err();
    assert!(matches!(err, StoreError::LeaseLost(id) if id == j.id), "{err:?}");
    assert!(store.read_stream(&d, 0, 10).await.unwrap().is_empty(), "no fact without its job");
    store.commit(finish(j.id, "w1", Outcome::Completed), T0).await.unwrap();
    assert_eq!(store.job(j.id).await.unwrap().unwrap().state, JobState::Completed);
    let twice = store.commit(finish(j.id, "w1", Outcome::Completed), T0).await;
    assert!(matches!(twice, Err(StoreError::LeaseLost(_))));
}

async fn retry_dead_and_revive(store: DynStore) {
    let mut nj = job("q");
    nj.max_attempts = 2;
    enqueue(&store, vec![nj]).await;
    let j = store.claim("w", &[], 1, T0 + 1000, T0).await.unwrap().remove(0);
    let retry = Outcome::Retry { run_at: T0 + 500, error: "flaky".into() };
    store.commit(finish(j.id, "w", retry), T0).await.unwrap();
    let again = store.job(j.id).await.unwrap().unwrap();
    assert_eq!(
        (again.state, again.run_at, again.last_error.as_deref()),
        (JobState::Available, T0 + 500, Some("flaky"))
    );
    assert!(store.claim("w", &[], 1, T0 + 1000, T0 + 499).await.unwrap().is_empty(), "backoff is honoured");
    let j = store.claim("w", &[], 1, T0 + 2000, T0 + 500).await.unwrap().remove(0);
    assert_eq!(j.attempt, 2);
    store.commit(finish(j.id, "w", Outcome::Dead { error: "broken".into() }), T0 + 600).await.unwrap();
    let dead = store.jobs(Some(JobState::Dead), 0, 10).await.unwrap();
    assert_eq!((dead.len(), dead[0].last_error.as_deref()), (1, Some("broken")));
    let out = store.commit(Commit { revive: vec![j.id, 999_999], ..Default::default() }, T0 + 700).await.unwrap();
    assert_eq!(out.revived, 1);
    let revived = store.claim("w", &[], 1, T0 + 2000, T0 + 700).await.unwrap().remove(0);
    assert_eq!((revived.id, revived.attempt), (j.id, 1));
}

async fn waiting_gives_back_the_attempt(store: DynStore) {
    let mut nj = job("q");
    nj.max_attempts = 1;
    enqueue(&store, vec![nj]).await;
    // A job allowed one attempt can wait any number of times: waiting is not failing.
    for round in 0..3 {
        let now = T0 + round * 100;
        let j = store.claim("w", &[], 1, now + 1000, now).await.unwrap().remove(0);
        assert_eq!(j.attempt, 1);
        let wait = Outcome::Wait { run_at: now + 100, note: format!("batch in progress ({round})") };
        store.commit(finish(j.id, "w", wait), now).await.unwrap();
        let w = store.job(j.id).await.unwrap().unwrap();
        assert_eq!((w.state, w.attempt, w.run_at), (JobState::Available, 0, now + 100));
        assert_eq!(w.last_error, Some(format!("batch in progress ({round})")));
        assert!(store.claim("w", &[], 1, now + 1000, now + 99).await.unwrap().is_empty(), "not before run_at");
    }
    let j = store.claim("w", &[], 1, T0 + 2000, T0 + 300).await.unwrap().remove(0);
    store.commit(finish(j.id, "w", Outcome::Completed), T0 + 301).await.unwrap();
    assert_eq!(store.job(j.id).await.unwrap().unwrap().state, JobState::Completed);
}

async fn rescue_puts_expired_jobs_back(store: DynStore) {
    let mut last_try = job("q");
    last_try.max_attempts = 1;
    let ids = enqueue(&store, vec![job("q"), last_try]).await;
    let claimed = store.claim("dead-worker", &[], 10, T0 + 1000, T0).await.unwrap();
    assert_eq!(claimed.len(), 2);
    let early = store.rescue_expired(T0 + 999).await.unwrap();
    assert_eq!((early.rescued, early.stopped_twice.len()), (0, 0));
    // Both come back, the one on its last attempt too: the stop may have been the other's doing, so the attempt
    // is given back and each is a suspect.
    let report = store.rescue_expired(T0 + 1001).await.unwrap();
    assert_eq!((report.rescued, report.stopped_twice.len()), (2, 0));
    for id in &ids {
        let back = store.job(id.unwrap()).await.unwrap().unwrap();
        assert_eq!((back.state, back.attempt, back.orphaned), (JobState::Available, 0, 1));
        assert!(back.is_suspect());
        assert!(back.last_error.unwrap().contains("dead-worker"));
    }
    // Suspects are not claimed with the others, only one at a time by `claim_suspect`.
    assert!(store.claim("w2", &[], 10, T0 + 5000, T0 + 1002).await.unwrap().is_empty());
    assert!(store.suspect_waiting(&[], T0 + 1002).await.unwrap());
    assert!(!store.suspect_waiting(&["other".into()], T0 + 1002).await.unwrap(), "only the queues served");
    let alone = store.claim_suspect("w2", &[], T0 + 5000, T0 + 1002).await.unwrap().unwrap();
    assert_eq!((alone.id, alone.attempt, alone.state), (ids[0].unwrap(), 1, JobState::Running));
    store.commit(finish(alone.id, "w2", Outcome::Completed), T0 + 1003).await.unwrap();
    // The other stops its worker again, alone this time: it is the cause, handed back to be failed.
    let culprit = store.claim_suspect("w3", &[], T0 + 2000, T0 + 1004).await.unwrap().unwrap();
    assert_eq!(culprit.id, ids[1].unwrap());
    assert!(store.claim_suspect("w4", &[], T0 + 5000, T0 + 1005).await.unwrap().is_none(), "none left");
    assert!(!store.suspect_waiting(&[], T0 + 1005).await.unwrap());
    let report = store.rescue_expired(T0 + 2001).await.unwrap();
    assert_eq!(report.rescued, 0);
    assert_eq!(
        report.stopped_twice.iter().map(|j| (j.id, j.worker.as_deref())).collect::<Vec<_>>(),
        [(culprit.id, Some("w3"))]
    );
    assert_eq!(store.job(culprit.id).await.unwrap().unwrap().state, JobState::Running, "left for the engine to fail");
}

async fn suspects_honour_queue_limits(store: DynStore) {
    store.set_queue_limit("narrow", Some(1)).await.unwrap();
    let ids = enqueue(&store, vec![job("narrow"), job("narrow")]).await;
    let first = store.claim("dead-worker", &[], 1, T0 + 1000, T0).await.unwrap().remove(0);
    assert_eq!(first.id, ids[0].unwrap());
    store.rescue_expired(T0 + 1001).await.unwrap();
    let other = store.claim("w", &[], 1, T0 + 5000, T0 + 1002).await.unwrap().remove(0);
    assert_eq!(other.id, ids[1].unwrap(), "the queue's one slot goes to the job that is not a suspect");
    assert!(store.claim_suspect("w2", &[], T0 + 5000, T0 + 1003).await.unwrap().is_none(), "the queue is full");
    store.commit(finish(other.id, "w", Outcome::Completed), T0 + 1004).await.unwrap();
    let suspect = store.claim_suspect("w2", &[], T0 + 5000, T0 + 1005).await.unwrap().unwrap();
    assert_eq!(suspect.id, first.id);
}

async fn unfinished_jobs_are_available_or_running(store: DynStore) {
    assert!(!store.has_unfinished_jobs().await.unwrap(), "an empty queue");
    let mut later = job("q");
    later.run_at = T0 + 60_000;
    enqueue(&store, vec![later]).await;
    assert!(store.has_unfinished_jobs().await.unwrap(), "available later counts");
    let j = store.claim("w", &[], 1, T0 + 120_000, T0 + 60_000).await.unwrap().remove(0);
    assert!(store.has_unfinished_jobs().await.unwrap(), "running counts");
    store.commit(finish(j.id, "w", Outcome::Completed), T0 + 60_001).await.unwrap();
    assert!(!store.has_unfinished_jobs().await.unwrap(), "completed does not");
    enqueue(&store, vec![job("q")]).await;
    let j = store.claim("w", &[], 1, T0 + 120_000, T0 + 60_002).await.unwrap().remove(0);
    store.commit(finish(j.id, "w", Outcome::Dead { error: "no".into() }), T0 + 60_003).await.unwrap();
    assert_eq!(store.job(j.id).await.unwrap().unwrap().state, JobState::Dead);
    assert!(!store.has_unfinished_jobs().await.unwrap(), "dead does not");
}

async fn queue_limits_hold(store: DynStore) {
    store.set_queue_limit("slow", Some(2)).await.unwrap();
    enqueue(&store, (0..5).map(|_| job("slow")).chain([job("fast")]).collect()).await;
    let first = store.claim("w1", &[], 10, T0 + 1000, T0).await.unwrap();
    assert_eq!(first.iter().filter(|j| j.queue == "slow").count(), 2);
    assert_eq!(first.iter().filter(|j| j.queue == "fast").count(), 1);
    assert!(store.claim("w2", &[], 10, T0 + 1000, T0).await.unwrap().is_empty());
    let slow = first.iter().find(|j| j.queue == "slow").unwrap();
    store.commit(finish(slow.id, "w1", Outcome::Completed), T0).await.unwrap();
    assert_eq!(store.claim("w2", &[], 10, T0 + 1000, T0).await.unwrap().len(), 1);
    store.set_queue_limit("slow", None).await.unwrap();
    assert_eq!(store.claim("w2", &[], 10, T0 + 1000, T0).await.unwrap().len(), 2);
    let stats = store.queue_stats().await.unwrap();
    let running = stats.iter().find(|s| s.queue == "slow" && s.state == "running").unwrap();
    assert_eq!(running.count, 4);
}

async fn cancel_documents_cancels_their_jobs(store: DynStore) {
    let mut a = job("q");
    a.document = Some(doc(1));
    let mut b = job("q");
    b.document = Some(doc(1));
    let mut other = job("q");
    other.document = Some(doc(2));
    enqueue(&store, vec![a, b, other]).await;
    let running = store.claim("w", &[], 1, T0 + 1000, T0).await.unwrap().remove(0);
    store.commit(Commit { cancel_documents: vec![doc(1)], ..Default::default() }, T0).await.unwrap();
    let cancelled = store.jobs(Some(JobState::Cancelled), 0, 10).await.unwrap();
    assert_eq!(cancelled.len(), 2);
    assert!(matches!(
        store.commit(finish(running.id, "w", Outcome::Completed), T0).await,
        Err(StoreError::LeaseLost(_))
    ));
    assert_eq!(store.jobs(Some(JobState::Available), 0, 10).await.unwrap().len(), 1);
}

async fn heartbeat_reports_lost_jobs(store: DynStore) {
    enqueue(&store, vec![job("q"), job("q")]).await;
    let claimed = store.claim("w", &[], 2, T0 + 1000, T0).await.unwrap();
    let ids: Vec<i64> = claimed.iter().map(|j| j.id).collect();
    store.commit(finish(ids[1], "w", Outcome::Completed), T0).await.unwrap();
    let lost = store.heartbeat("w", &ids, T0 + 5000, T0 + 10).await.unwrap();
    assert_eq!(lost, vec![ids[1]]);
    assert_eq!(store.job(ids[0]).await.unwrap().unwrap().lease_until, Some(T0 + 5000));
    assert_eq!(store.heartbeat("someone-else", &ids[..1], T0 + 9000, T0).await.unwrap(), vec![ids[0]]);
}

async fn cursors_persist(store: DynStore) {
    assert_eq!(store.cursor("webhook").await.unwrap(), 0);
    store.set_cursor("webhook", 42, T0).await.unwrap();
    store.set_cursor("webhook", 43, T0).await.unwrap();
    assert_eq!(store.cursor("webhook").await.unwrap(), 43);
}

async fn leases_exclude_other_holders(store: DynStore) {
    assert!(store.acquire_lease("outbox:a", "p1", T0 + 100, T0).await.unwrap());
    assert!(store.acquire_lease("outbox:a", "p1", T0 + 200, T0 + 50).await.unwrap(), "the holder renews");
    assert!(!store.acquire_lease("outbox:a", "p2", T0 + 300, T0 + 150).await.unwrap(), "still held");
    assert!(store.acquire_lease("outbox:b", "p2", T0 + 300, T0 + 150).await.unwrap(), "other names are free");
    assert!(store.acquire_lease("outbox:a", "p2", T0 + 400, T0 + 201).await.unwrap(), "expired leases pass on");
    assert!(!store.acquire_lease("outbox:a", "p1", T0 + 500, T0 + 300).await.unwrap());
    store.set_cursor("outbox:a", 9, T0).await.unwrap();
    assert_eq!(store.cursor("outbox:a").await.unwrap(), 9, "the lease keeps the cursor");
}

async fn cancel_single_jobs(store: DynStore) {
    let ids = enqueue(&store, vec![job("q"), job("q")]).await;
    let c = Commit { cancel_jobs: vec![ids[0].unwrap()], ..Default::default() };
    assert_eq!(store.commit(c.clone(), T0).await.unwrap().cancelled, 1);
    assert_eq!(store.commit(c, T0).await.unwrap().cancelled, 0, "already cancelled");
    let left = store.claim("w", &[], 10, T0 + 1000, T0).await.unwrap();
    assert_eq!(left.iter().map(|j| Some(j.id)).collect::<Vec<_>>(), vec![ids[1]]);
}

async fn prune_keeps_unfinished_and_dead_jobs(store: DynStore) {
    enqueue(&store, vec![job("a"), job("a"), job("a"), job("b"), job("a")]).await;
    let claimed = store.claim("w", &["a".to_string()], 3, T0 + 1000, T0).await.unwrap();
    store.commit(finish(claimed[0].id, "w", Outcome::Completed), T0).await.unwrap();
    store.commit(finish(claimed[1].id, "w", Outcome::Dead { error: "x".into() }), T0).await.unwrap();
    assert_eq!(store.prune(Some("a"), T0).await.unwrap(), 0, "only jobs updated before the cut");
    assert_eq!(store.prune(Some("b"), T0 + 1).await.unwrap(), 0, "other queues untouched");
    assert_eq!(store.prune(Some("a"), T0 + 1).await.unwrap(), 1);
    let left: Vec<JobState> = store.jobs(None, 0, 10).await.unwrap().into_iter().map(|j| j.state).collect();
    assert_eq!(left.len(), 4);
    assert!(left.contains(&JobState::Dead) && left.contains(&JobState::Running));
}

async fn subscribe_catches_up_then_follows(store: DynStore) {
    let d = doc(9);
    store.commit(append(&d, Expected::NoStream, vec![upload(&d)]), T0).await.unwrap();
    let sub = bindery_store::subscribe(store.clone(), 0, Duration::from_secs(30));
    let writer = {
        let store = store.clone();
        let d = d.clone();
        tokio::spawn(async move {
            for v in 1..=3 {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let ev = NewEvent::new("x.y", json!({"v": v}));
                store.commit(append(&d, Expected::Exact(v), vec![ev]), T0).await.unwrap();
            }
        })
    };
    // The poll interval is 30 s, so finishing in time proves the live wake-up.
    let got: Vec<StoredEvent> =
        tokio::time::timeout(Duration::from_secs(10), sub.take(4).map(|r| r.unwrap()).collect())
            .await
            .expect("live events arrive without waiting for the poll");
    writer.await.unwrap();
    assert_eq!(got.iter().map(|e| e.sequence).collect::<Vec<_>>(), vec![1, 2, 3, 4]);
}

/// On PostgreSQL, transactions commit out of order. Many concurrent writers
/// append while a reader follows `sequence > last`; every page it sees must
/// continue exactly where the last ended, or it would have skipped an event
/// that committed late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_reader_never_skips_late_commits() {
    let Some(store) = testing::postgres().await else { return };
    const WRITERS: u32 = 8;
    const EACH: i64 = 40;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let d = doc(1000 + w);
            store.commit(append(&d, Expected::NoStream, vec![upload(&d)]), T0).await.unwrap();
            for v in 1..EACH {
                let evs = vec![NewEvent::new("x.y", json!({"w": w}))];
                let mut c = append(&d, Expected::Exact(v), evs);
                c.enqueue = vec![job("q")];
                store.commit(c, T0).await.unwrap();
            }
        }));
    }
    let total = WRITERS as i64 * EACH;
    let mut last = 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while last < total {
        assert!(std::time::Instant::now() < deadline, "reader stalled at {last}");
        for e in store.read_all(last, 7).await.unwrap() {
            assert_eq!(e.sequence, last + 1, "reader skipped from {last} to {}", e.sequence);
            last = e.sequence;
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(store.head().await.unwrap(), total);
}

/// Concurrent writers of one stream: exactly one wins each version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_concurrent_appends_to_one_stream_conflict_cleanly() {
    let Some(store) = testing::postgres().await else { return };
    let d = doc(5);
    store.commit(append(&d, Expected::NoStream, vec![upload(&d)]), T0).await.unwrap();
    let racers: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            let d = d.clone();
            tokio::spawn(async move {
                store.commit(append(&d, Expected::Exact(1), vec![NewEvent::new("x.y", json!({}))]), T0).await
            })
        })
        .collect();
    let mut ok = 0;
    for r in racers {
        match r.await.unwrap() {
            Ok(_) => ok += 1,
            Err(e) => assert!(e.is_conflict(), "{e}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(store.read_stream(&d, 0, 10).await.unwrap().len(), 2);
}
