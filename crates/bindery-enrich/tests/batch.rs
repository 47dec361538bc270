//! The Batch API path against the fake OpenAI server: when a document goes by batch and when it does not, waiting
//! without resubmitting, collecting the results, per-line failures and expired batches finished synchronously, a
//! batch found again after a crash, a deadline that comes too soon, a document never sent twice, and a cancelled
//! document's batch cancelled.

use bindery_analyze::{Analysis, AnalyzeContext, AnalyzeError, Analyzer, AnswerCache};
use bindery_core::book::{Book, Chapter};
use bindery_core::time::now_ms;
use bindery_enrich::testing::MemoryCache;
use bindery_enrich::{BatchOptions, LlmAnalyzer, LlmOptions};
use bindery_llm::fake::{FakeOpenAi, FakeReply};
use bindery_llm::{BatchStatus, ChatRequest, Client, Price, ProviderOptions, ResponseFormat};
use serde_json::json;
use std::sync::Arc;

const HOUR: i64 = 3_600_000;

fn book() -> Book {
    let ch = |index: u32, text: &str| Chapter {
        index,
        title: format!("Chapter {index}"),
        paragraphs: vec![text.to_owned(), "Alice went on.".to_owned()],
        first_page: None,
    };
    Book {
        title: Some("Alice".into()),
        author: None,
        language: "en".into(),
        pages: None,
        front_matter: vec![],
        chapters: vec![ch(1, "Alice fell."), ch(2, "Alice grew."), ch(3, "Alice met the Queen.")],
    }
}

fn respond(request: &ChatRequest) -> FakeReply {
    let book = matches!(&request.response_format, Some(ResponseFormat::JsonSchema { name, .. }) if name == "book");
    if book {
        return FakeReply::Content(json!({"summary": "Alice dreams.", "keywords": ["dream"]}).to_string());
    }
    FakeReply::Content(
        json!({"summary": "Alice goes on.", "keywords": ["alice"], "sentiment": 0.0, "tonality": "neutral",
               "characters": [{"name": "Alice", "aliases": [], "traits": ["curious"]}], "places": [],
               "scenes": [{"first_paragraph": 0, "last_paragraph": 1, "setting": "a hall", "atmosphere": "odd",
                           "characters": ["Alice"], "summary": "Alice goes on."}],
               "dialogue": []})
        .to_string(),
    )
}

struct Setup {
    fake: FakeOpenAi,
    analyzer: LlmAnalyzer,
    cache: Arc<MemoryCache>,
}

async fn setup() -> Setup {
    let fake = FakeOpenAi::start(Arc::new(respond)).await;
    let mut options = ProviderOptions::new("fake", fake.base_url(), "fake-model");
    options.max_retries = 0;
    options.price = Some(Price { input_per_mtok_usd: 2.0, output_per_mtok_usd: 8.0, batch_discount: 0.5 });
    let llm = LlmOptions { batch: Some(BatchOptions::default()), ..LlmOptions::default() };
    let analyzer = LlmAnalyzer::new(Client::new(options).unwrap(), llm);
    Setup { fake, analyzer, cache: Arc::new(MemoryCache::default()) }
}

impl Setup {
    fn ctx(&self, deadline_ms: Option<i64>) -> AnalyzeContext {
        AnalyzeContext {
            document: "doc-1".into(),
            cache: Some(self.cache.clone() as Arc<dyn AnswerCache>),
            deadline_ms,
        }
    }

    async fn run(&self, deadline_ms: Option<i64>) -> Result<Analysis, AnalyzeError> {
        self.analyzer.analyze(Arc::new(book()), &self.ctx(deadline_ms)).await
    }

    async fn pending(&self, deadline_ms: Option<i64>) -> String {
        match self.run(deadline_ms).await {
            Err(AnalyzeError::Pending { after, note }) => {
                assert_eq!(after, BatchOptions::default().poll);
                note
            }
            other => panic!("expected the analysis to wait, got {other:?}"),
        }
    }

    fn only_batch(&self) -> bindery_llm::Batch {
        let batches = self.fake.batches();
        assert_eq!(batches.len(), 1, "exactly one batch for the document");
        batches.into_iter().next().unwrap()
    }
}

#[tokio::test]
async fn without_a_deadline_or_with_a_near_one_the_analysis_is_synchronous() {
    let s = setup().await;
    let a = s.run(None).await.unwrap();
    assert_eq!(a.model.unwrap().mode, "sync");
    let s = setup().await;
    let a = s.run(Some(now_ms() + HOUR / 2)).await.unwrap();
    assert_eq!(a.model.unwrap().mode, "sync");
    assert_eq!(s.fake.batches_created(), 0);
    assert_eq!(s.fake.chat_calls(), 4);
}

#[tokio::test]
async fn a_far_deadline_goes_by_batch_waits_and_collects_once() {
    let s = setup().await;
    let deadline = Some(now_ms() + 12 * HOUR);
    let note = s.pending(deadline).await;
    assert!(note.contains("submitted with 3 requests"), "{note}");
    // Later runs look at the same batch; nothing is sent twice.
    let note = s.pending(deadline).await;
    assert!(note.contains("of 3 answered"), "{note}");
    assert_eq!(s.fake.batches_created(), 1);
    assert_eq!(s.fake.chat_calls(), 0);

    s.fake.complete_batches().await;
    let a = s.run(deadline).await.unwrap();
    let report = a.model.clone().unwrap();
    assert_eq!(report.mode, "batch");
    assert_eq!((report.chunks, report.requests, report.cached), (4, 4, 0));
    assert!(report.fallbacks.is_empty());
    assert_eq!(s.fake.chat_calls(), 1, "only the whole-book summary is synchronous");
    assert_eq!(a.chapters[2].scenes[0].setting.as_deref(), Some("a hall"));
    // The batch's tokens cost half: the total lies strictly between half and full price.
    let full = (report.prompt_tokens as f64 * 2.0 + report.completion_tokens as f64 * 8.0) / 1e6;
    let cost = report.cost_usd.unwrap();
    assert!(full / 2.0 < cost && cost < full, "{cost} against a full price of {full}");

    // The answers are cached: the same analysis again costs nothing and sends nothing.
    let again = s.run(deadline).await.unwrap().model.unwrap();
    assert_eq!((again.cached, again.requests), (4, 0));
    assert_eq!(s.fake.batches_created(), 1);
}

#[tokio::test]
async fn lines_that_failed_in_the_batch_are_answered_synchronously() {
    let s = setup().await;
    let deadline = Some(now_ms() + 12 * HOUR);
    s.pending(deadline).await;
    let batch = s.only_batch();
    let input = s.fake.file_content(&batch.input_file_id).unwrap();
    let first_id = serde_json::from_slice::<serde_json::Value>(input.split(|b| *b == b'\n').next().unwrap()).unwrap()
        ["custom_id"]
        .as_str()
        .unwrap()
        .to_owned();
    s.fake.fail_line(first_id, 500);
    s.fake.complete_batches().await;
    let report = s.run(deadline).await.unwrap().model.unwrap();
    assert_eq!(report.mode, "batch");
    assert!(report.fallbacks.is_empty());
    assert_eq!(s.fake.chat_calls(), 2, "the failed line and the book summary");
}

#[tokio::test]
async fn an_expired_batch_keeps_what_it_answered_and_the_rest_is_synchronous() {
    let s = setup().await;
    let deadline = Some(now_ms() + 12 * HOUR);
    s.pending(deadline).await;
    s.fake.set_lines_done_before_expiry(2);
    s.fake.expire_batches().await;
    assert_eq!(s.only_batch().status, BatchStatus::Expired);
    let a = s.run(deadline).await.unwrap();
    let report = a.model.unwrap();
    assert_eq!(report.mode, "batch");
    assert_eq!(s.fake.chat_calls(), 2, "one unanswered chapter and the book summary");
    assert_eq!(a.chapters.len(), 3);
}

#[tokio::test]
async fn a_batch_created_by_a_run_that_died_is_found_again() {
    let s = setup().await;
    let deadline = Some(now_ms() + 12 * HOUR);
    s.pending(deadline).await;
    // The run died after creating the batch but before recording it.
    s.cache.0.lock().unwrap().retain(|k, _| !k.starts_with("batch-"));
    let note = s.pending(deadline).await;
    assert!(note.contains("of 3 answered"), "{note}");
    assert_eq!(s.fake.batches_created(), 1, "found by its metadata, not created again");
}

#[tokio::test]
async fn a_deadline_that_comes_too_soon_cancels_the_batch_and_answers_synchronously() {
    let s = setup().await;
    // Far enough ahead for a batch (1 h of slack), but inside the 30-minute reserve by the time of the next look:
    // simulated by a second run with a nearer deadline, as if the clock had moved.
    s.pending(Some(now_ms() + 2 * HOUR)).await;
    let a = s.run(Some(now_ms() + HOUR / 4)).await.unwrap();
    assert_eq!(s.only_batch().status, BatchStatus::Cancelled);
    let report = a.model.unwrap();
    assert_eq!(report.mode, "sync");
    assert_eq!(s.fake.chat_calls(), 4);
    // The abandoned batch is not waited for again.
    assert_eq!(s.run(Some(now_ms() + 12 * HOUR)).await.unwrap().model.unwrap().cached, 4);
}

#[tokio::test]
async fn a_batch_that_cannot_be_created_falls_back_to_synchronous_requests() {
    let s = setup().await;
    s.fake.set_batch_endpoints_status(Some(500));
    let a = s.run(Some(now_ms() + 12 * HOUR)).await.unwrap();
    assert_eq!(a.model.unwrap().mode, "sync");
    assert_eq!(s.fake.batches_created(), 0);
    assert_eq!(s.fake.chat_calls(), 4);
}

#[tokio::test]
async fn cancelling_a_document_cancels_its_running_batch_and_no_other() {
    let s = setup().await;
    let deadline = Some(now_ms() + 12 * HOUR);
    s.pending(deadline).await;
    // Another document's batch, from the same analyzer.
    let other = AnalyzeContext { document: "doc-2".into(), ..s.ctx(deadline) };
    assert!(matches!(s.analyzer.analyze(Arc::new(book()), &other).await, Err(AnalyzeError::Pending { .. })));
    assert_eq!(s.fake.batches_created(), 2);

    // Someone waiting (no deadline) never had a batch: nothing is asked of the provider.
    let asked = s.fake.requests().len();
    assert_eq!(s.analyzer.cancelled(&s.ctx(None)).await.unwrap(), 0);
    assert_eq!(s.fake.requests().len(), asked);

    assert_eq!(s.analyzer.cancelled(&s.ctx(deadline)).await.unwrap(), 1);
    let status = |doc: &str| {
        let b = s.fake.batches().into_iter().find(|b| b.metadata.as_ref().unwrap()["bindery_document"] == doc);
        b.unwrap().status
    };
    assert_eq!((status("doc-1"), status("doc-2")), (BatchStatus::Cancelled, BatchStatus::InProgress));
    assert_eq!(s.analyzer.cancelled(&s.ctx(deadline)).await.unwrap(), 0, "a cancelled batch is left alone");
}
