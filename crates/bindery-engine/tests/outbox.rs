//! The outbox delivers every event at least once, in log order, resuming
//! from its cursor, with one deliverer per sink.

mod common;

use async_trait::async_trait;
use bindery_core::event::CloudEvent;
use bindery_core::{Expected, NewEvent};
use bindery_engine::outbox::{cursor_name, Outbox, OutboxOptions};
use bindery_outbox::{DeliveryError, Sink};
use bindery_store::{Append, Commit};
use common::{sample_markdown, Backend, TestApp};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The pipelines `common::TestApp` runs: the engine tests' own `notes`.
fn registry() -> bindery_pipeline::Registry {
    common::notes::registry()
}

/// Events of a document that goes through `notes`.
fn events_per_document() -> i64 {
    common::events_per_document(&common::notes::version_1())
}

/// A sink that records what it receives and refuses every `fail_every`-th
/// delivery attempt with a retryable error.
struct Recorder {
    name: String,
    got: Mutex<Vec<CloudEvent>>,
    attempts: AtomicUsize,
    fail_every: usize,
}

impl Recorder {
    fn new(name: &str, fail_every: usize) -> Arc<Self> {
        Arc::new(Self { name: name.into(), got: Mutex::default(), attempts: AtomicUsize::new(0), fail_every })
    }

    fn sequences(&self) -> Vec<i64> {
        self.got.lock().unwrap().iter().map(|e| e.sequence).collect()
    }
}

#[async_trait]
impl Sink for Recorder {
    fn name(&self) -> &str {
        &self.name
    }

    async fn deliver(&self, event: &CloudEvent) -> Result<(), DeliveryError> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst) + 1;
        if self.fail_every > 0 && n.is_multiple_of(self.fail_every) {
            return Err(DeliveryError::retryable("receiver busy").with_retry_after(Some(Duration::from_millis(2))));
        }
        self.got.lock().unwrap().push(event.clone());
        Ok(())
    }
}

fn opts(holder: &str) -> OutboxOptions {
    OutboxOptions {
        holder: holder.into(),
        lease: Duration::from_secs(2),
        poll: Duration::from_millis(20),
        ..OutboxOptions::default()
    }
}

async fn until(what: &str, mut f: impl FnMut() -> bool) {
    for _ in 0..1500 {
        if f() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Sqlite).await } )* }
        mod postgres { $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)] async fn $name() { super::$name(super::Backend::Postgres).await } )* }
    };
}

on_both!(delivers_in_order_through_failures_and_resumes, one_deliverer_per_sink);

async fn delivers_in_order_through_failures_and_resumes(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    for i in 0..4 {
        let mut text = sample_markdown();
        text.extend(format!("\n{i}\n").bytes());
        app.engine.submit(&app.file(&format!("d{i}.md"), &text)).await.unwrap();
    }
    app.drain(&app.engine).await;
    let head = app.store.head().await.unwrap();
    assert_eq!(head, 4 * events_per_document());

    let sink = Recorder::new("flaky", 3);
    let outbox = Outbox::new(app.engine.clone(), vec![sink.clone()], opts("p1")).run();
    until("all events delivered", || sink.sequences().len() as i64 >= head).await;
    outbox.shutdown().await;
    assert_eq!(sink.sequences(), (1..=head).collect::<Vec<_>>(), "in order, none skipped, none twice");
    assert!(sink.attempts.load(Ordering::SeqCst) > head as usize, "failures were retried");
    assert_eq!(app.store.cursor(&cursor_name(sink.as_ref())).await.unwrap(), head);

    // New events after a restart: delivery resumes after the cursor.
    let d = app.engine.submit(&app.file("late.md", b"# Late\n\none more document")).await.unwrap();
    let sink2 = Recorder::new("flaky", 0);
    let outbox = Outbox::new(app.engine.clone(), vec![sink2.clone()], opts("p2")).run();
    until("the new upload", || !sink2.sequences().is_empty()).await;
    outbox.shutdown().await;
    let got = sink2.got.lock().unwrap().clone();
    assert_eq!(got[0].sequence, head + 1);
    assert_eq!(got[0].subject, d.id.to_string());
}

async fn one_deliverer_per_sink(b: Backend) {
    let Some(app) = TestApp::spawn(b, "").await else { return };
    let a = Recorder::new("shared", 0);
    let bsink = Recorder::new("shared", 0);
    let first = Outbox::new(app.engine.clone(), vec![a.clone()], opts("holder-a")).run();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = Outbox::new(app.engine.clone(), vec![bsink.clone()], opts("holder-b")).run();
    app.process("x.md", &sample_markdown()).await;
    let n = events_per_document();
    until("delivery", || (a.sequences().len() + bsink.sequences().len()) as i64 >= n).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    first.shutdown().await;
    second.shutdown().await;
    assert_eq!(a.sequences(), (1..=n).collect::<Vec<_>>(), "the lease holder delivered everything");
    assert!(bsink.sequences().is_empty(), "the other process held back");
}

/// Out-of-order commits on PostgreSQL, end to end: eight writers append
/// concurrently while the outbox streams to the real Redis on this machine;
/// Redis must receive every sequence exactly once and in order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_outbox_to_redis_never_skips_late_commits() {
    let Some(app) = TestApp::spawn(Backend::Postgres, "").await else { return };
    let key = format!("bindery-test-{}", uuid::Uuid::new_v4().simple());
    let spec = format!("redis://127.0.0.1:6379/?stream={key}");
    let sink: Arc<dyn Sink> = Arc::from(bindery_outbox::parse_sink(&spec, None).unwrap());
    let outbox = Outbox::new(app.engine.clone(), vec![sink], opts("p")).run();
    const WRITERS: usize = 8;
    const EACH: i64 = 25;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = app.store.clone();
            tokio::spawn(async move {
                for v in 0..EACH {
                    let ev = NewEvent::new("test.tick", serde_json::json!({"w": w, "v": v}));
                    let c = Commit {
                        appends: vec![Append {
                            stream: format!("stream-{w}"),
                            expected: Expected::Exact(v),
                            events: vec![ev],
                        }],
                        ..Default::default()
                    };
                    store.commit(c, bindery_core::time::now_ms()).await.unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap();
    }
    let total = WRITERS as i64 * EACH;
    let client = redis::Client::open("redis://127.0.0.1:6379/").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..500 {
        let reply: redis::streams::StreamRangeReply =
            redis::cmd("XRANGE").arg(&key).arg("-").arg("+").query_async(&mut conn).await.unwrap();
        ids = reply.ids.into_iter().map(|e| e.id).collect();
        if ids.len() as i64 >= total {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    outbox.shutdown().await;
    let _: () = redis::cmd("DEL").arg(&key).query_async(&mut conn).await.unwrap();
    let seqs: Vec<i64> = ids.iter().map(|id| id.split('-').next().unwrap().parse().unwrap()).collect();
    assert_eq!(seqs, (1..=total).collect::<Vec<_>>());
}
