//! The language-model analyzer against the protocol-faithful fake OpenAI server of `bindery-llm`: merging,
//! deduplicating characters, caching, repair, per-chunk fallback, and how outages and refusals surface.
//!
//! The fake's responder plays a careful model: it reads the numbered paragraphs of the request and answers with the
//! names it finds there, so every figure asserted below follows from the book's text.

use bindery_analyze::{AnalyzeContext, AnalyzeError, Analyzer, AnswerCache};
use bindery_core::book::{Book, Chapter};
use bindery_enrich::testing::MemoryCache;
use bindery_enrich::{LlmAnalyzer, LlmOptions};
use bindery_llm::fake::{FakeOpenAi, FakeReply, Fault};
use bindery_llm::{ChatRequest, Client, Price, ProviderOptions, ResponseFormat};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn book() -> Book {
    let ch = |index: u32, title: &str, paragraphs: &[&str]| Chapter {
        index,
        title: title.into(),
        paragraphs: paragraphs.iter().map(|s| s.to_string()).collect(),
        first_page: None,
    };
    Book {
        title: Some("Around the World".into()),
        author: Some("Jules Verne".into()),
        language: "en".into(),
        pages: None,
        front_matter: vec![],
        chapters: vec![
            ch(
                1,
                "The Wager",
                &[
                    "Phileas Fogg lived at Saville Row in London.",
                    "\u{201c}I will go round the world,\u{201d} said Phileas Fogg.",
                    "Passepartout packed the bag in London.",
                ],
            ),
            ch(2, "The Train", &["Mr. Fogg watched the rails from the train.", "Passepartout slept."]),
            ch(3, "Bombay", &["In Bombay, Fogg met Aouda.", "\u{201c}Thank you,\u{201d} said Aouda.", "Fogg bowed."]),
        ],
    }
}

/// Who the fake "model" knows, and how it names them in its answers.
const PEOPLE: [(&str, &str, &str); 4] = [
    ("Phileas Fogg", "Phileas Fogg", "precise"),
    ("Mr. Fogg", "Mr. Fogg", "calm"),
    ("Passepartout", "Passepartout", "loyal"),
    ("Aouda", "Aouda", "brave"),
];
const PLACES: [&str; 3] = ["London", "Saville Row", "Bombay"];

/// A chapter request's numbered paragraphs: (number, text).
fn paragraphs(request: &ChatRequest) -> Vec<(u32, String)> {
    let user = &request.messages.iter().rev().find(|m| m.role == "user").unwrap().content;
    let user = if user.starts_with("That answer cannot be used") {
        &request.messages.iter().find(|m| m.role == "user").unwrap().content
    } else {
        user
    };
    user.lines()
        .filter_map(|l| l.strip_prefix('['))
        .filter_map(|l| l.split_once("] "))
        .map(|(n, t)| (n.parse().unwrap(), t.to_owned()))
        .collect()
}

fn schema_name(request: &ChatRequest) -> String {
    match &request.response_format {
        Some(ResponseFormat::JsonSchema { name, .. }) => name.clone(),
        other => panic!("expected a json_schema response format, got {other:?}"),
    }
}

/// The careful model.
fn respond(request: &ChatRequest) -> FakeReply {
    if schema_name(request) == "book" {
        return FakeReply::Content(
            json!({"summary": "Fogg goes round the world.", "keywords": ["wager", "travel"]}).to_string(),
        );
    }
    let paras = paragraphs(request);
    let text: String = paras.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join("\n");
    let fogg_in_full = text.contains("Phileas Fogg");
    let characters: Vec<Value> = PEOPLE
        .iter()
        .filter(|(surface, _, _)| text.contains(surface))
        .filter(|(surface, _, _)| !(fogg_in_full && *surface == "Mr. Fogg"))
        .map(|(_, name, t)| json!({"name": name, "aliases": [], "traits": [t]}))
        .collect();
    let mut characters = characters;
    if text.contains("Fogg met") {
        characters.push(json!({"name": "Fogg", "aliases": [], "traits": ["punctual"]}));
    }
    let places: Vec<Value> = PLACES.iter().filter(|p| text.contains(*p)).map(|p| json!({"name": p})).collect();
    let dialogue: Vec<Value> = paras
        .iter()
        .filter_map(|(n, t)| {
            let quote = t.split('\u{201c}').nth(1)?.split('\u{201d}').next()?;
            let speaker = t.rsplit("said ").next().map(|s| s.trim_end_matches('.'));
            Some(json!({"paragraph": n, "speaker": speaker, "text": quote}))
        })
        .collect();
    let (first, last) = (paras.first().unwrap().0, paras.last().unwrap().0);
    FakeReply::Content(
        json!({
            "summary": format!("Paragraphs {first} to {last}."),
            "keywords": ["journey"],
            "sentiment": 0.5,
            "tonality": "joyful",
            "characters": characters,
            "places": places,
            "scenes": [{"first_paragraph": first, "last_paragraph": last, "setting": "a room", "atmosphere": "hopeful",
                        "characters": ["Mr. Fogg"], "summary": "They talk."}],
            "dialogue": dialogue,
        })
        .to_string(),
    )
}

async fn setup(responder: fn(&ChatRequest) -> FakeReply) -> (FakeOpenAi, LlmAnalyzer) {
    let fake = FakeOpenAi::start(Arc::new(responder)).await;
    let mut options = ProviderOptions::new("fake", fake.base_url(), "fake-model-1");
    // One request at a time, so that injected faults hit a known chunk; quick retries.
    options.concurrency = 1;
    options.max_retries = 1;
    options.backoff_base = Duration::from_millis(1);
    options.backoff_max = Duration::from_millis(5);
    options.price = Some(Price { input_per_mtok_usd: 2.0, output_per_mtok_usd: 8.0, batch_discount: 0.5 });
    let client = Client::new(options).unwrap();
    (fake, LlmAnalyzer::new(client, LlmOptions::default()))
}

fn ctx(cache: &Arc<MemoryCache>) -> AnalyzeContext {
    AnalyzeContext { document: "doc-1".into(), cache: Some(cache.clone() as Arc<dyn AnswerCache>), deadline_ms: None }
}

#[tokio::test]
async fn chapters_are_merged_and_one_character_keeps_one_name() {
    let (fake, analyzer) = setup(respond).await;
    let cache = Arc::new(MemoryCache::default());
    let a = analyzer.analyze(Arc::new(book()), &ctx(&cache)).await.unwrap();

    assert_eq!(a.analyzer, "fake:fake-model-1");
    let fogg = a.characters.iter().find(|c| c.name == "Phileas Fogg").unwrap_or_else(|| panic!("{:#?}", a.characters));
    assert_eq!(a.characters.iter().filter(|c| c.name.contains("Fogg")).count(), 1, "{:?}", a.characters);
    assert!(fogg.aliases.contains(&"Mr. Fogg".to_string()) && fogg.aliases.contains(&"Fogg".to_string()));
    // Counted in the text: 2 in chapter 1, 1 in chapter 2, 2 in chapter 3.
    assert_eq!(fogg.mentions, 5);
    assert_eq!(fogg.chapters, vec![1, 2, 3]);
    assert_eq!(fogg.traits, vec!["precise", "calm", "punctual"]);
    assert_eq!(a.characters[0].name, "Phileas Fogg", "most mentioned first");
    let places: Vec<&str> = a.places.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(places, vec!["London", "Saville Row", "Bombay"]);
    assert_eq!(a.places[0].mentions, 2);

    let c3 = &a.chapters[2];
    assert_eq!(c3.scenes[0].characters, vec!["Phileas Fogg"], "scene casts use canonical names");
    assert_eq!(c3.scenes[0].places, vec!["Bombay"]);
    assert_eq!(c3.scenes[0].setting.as_deref(), Some("a room"));
    assert_eq!(c3.scenes[0].atmosphere.as_deref(), Some("hopeful"));
    assert_eq!(c3.dialogue.len(), 1);
    assert_eq!(c3.dialogue[0].speaker.as_deref(), Some("Aouda"));
    assert_eq!(a.chapters[0].dialogue[0].speaker.as_deref(), Some("Phileas Fogg"));
    assert_eq!(a.summary, "Fogg goes round the world.");
    assert_eq!(a.keywords[0].term, "wager");

    let report = a.model.unwrap();
    assert_eq!((report.chunks, report.cached, report.requests), (4, 0, 4), "3 chapters and the book");
    assert!(report.fallbacks.is_empty());
    assert!(report.prompt_tokens > 0 && report.completion_tokens > 0);
    let cost = (report.prompt_tokens as f64 * 2.0 + report.completion_tokens as f64 * 8.0) / 1e6;
    assert!((report.cost_usd.unwrap() - cost).abs() < 1e-12);
    assert_eq!(fake.chat_calls(), 4);
}

#[tokio::test]
async fn a_second_analysis_of_the_same_book_costs_nothing() {
    let (fake, analyzer) = setup(respond).await;
    let cache = Arc::new(MemoryCache::default());
    let first = analyzer.analyze(Arc::new(book()), &ctx(&cache)).await.unwrap();
    let second = analyzer.analyze(Arc::new(book()), &ctx(&cache)).await.unwrap();
    assert_eq!(fake.chat_calls(), 4, "no request the second time");
    let report = second.model.clone().unwrap();
    assert_eq!((report.cached, report.requests, report.prompt_tokens), (4, 0, 0));
    assert_eq!(report.cost_usd, Some(0.0));
    assert_eq!(first.characters, second.characters);
    assert_eq!(first.chapters, second.chapters);

    // Another model is another question: nothing is served from the first model's answers.
    let mut options = ProviderOptions::new("fake", fake.base_url(), "fake-model-2");
    options.concurrency = 1;
    let other = LlmAnalyzer::new(Client::new(options).unwrap(), LlmOptions::default());
    let third = other.analyze(Arc::new(book()), &ctx(&cache)).await.unwrap();
    assert_eq!(third.model.unwrap().cached, 0);
    assert_eq!(fake.chat_calls(), 8);
}

#[tokio::test]
async fn an_invalid_answer_is_repaired_once() {
    let (fake, analyzer) = setup(respond).await;
    fake.push_fault(Fault::InvalidContent("Sure! The characters are Fogg and Passepartout.".into()));
    let cache = Arc::new(MemoryCache::default());
    let a = analyzer.analyze(Arc::new(book()), &ctx(&cache)).await.unwrap();
    let report = a.model.unwrap();
    assert!(report.fallbacks.is_empty(), "{:?}", report.fallbacks);
    assert_eq!(report.requests, 5, "one repair");
    assert_eq!(fake.chat_calls(), 5);
    assert!(a.characters.iter().any(|c| c.name == "Passepartout"));
}

#[tokio::test]
async fn a_chunk_that_stays_invalid_falls_back_to_the_offline_analyzer() {
    let (fake, analyzer) = setup(respond).await;
    // The first chunk (chapter 1) answers badly twice: wrong paragraph numbers, then not JSON.
    let bad = json!({"summary": "x", "keywords": [], "sentiment": 0, "tonality": "neutral", "characters": [],
                     "places": [], "scenes": [{"first_paragraph": 40, "last_paragraph": 41, "setting": "", "atmosphere": "",
                     "characters": [], "summary": ""}], "dialogue": []});
    fake.push_fault(Fault::InvalidContent(bad.to_string()));
    fake.push_fault(Fault::InvalidContent("{".into()));
    let cache = Arc::new(MemoryCache::default());
    let a = analyzer.analyze(Arc::new(book()), &ctx(&cache)).await.unwrap();
    let report = a.model.clone().unwrap();
    assert_eq!(report.fallbacks.len(), 1);
    let f = &report.fallbacks[0];
    assert_eq!((f.chapter, f.first_paragraph, f.last_paragraph), (1, 0, 2));
    assert!(f.reason.contains("unusable twice"), "{}", f.reason);
    // Chapter 1 still has its analysis (the offline one): a summary taken from its text.
    assert!(!a.chapters[0].summary.is_empty());
    assert!(book().chapters[0].paragraphs.iter().any(|p| a.chapters[0].summary.contains(p.as_str())));
    // The failed answer is not cached: a later run asks again.
    let again = analyzer.analyze(Arc::new(book()), &ctx(&cache)).await.unwrap().model.unwrap();
    // Chapters 2 and 3 come from the cache; chapter 1 is asked again, and so is the book summary, whose question
    // (the chapters' summaries) changed with it.
    assert_eq!((again.cached, again.requests), (2, 2));
    assert!(again.fallbacks.is_empty());
}

fn refuse_bombay(request: &ChatRequest) -> FakeReply {
    if paragraphs(request).iter().any(|(_, t)| t.contains("Bombay")) {
        return FakeReply::Status(400, "This model's maximum context length is 8 tokens".into());
    }
    respond(request)
}

#[tokio::test]
async fn a_request_the_provider_refuses_falls_back_for_that_chunk_only() {
    let (_fake, analyzer) = setup(refuse_bombay).await;
    let cache = Arc::new(MemoryCache::default());
    let a = analyzer.analyze(Arc::new(book()), &ctx(&cache)).await.unwrap();
    let report = a.model.unwrap();
    assert_eq!(report.fallbacks.len(), 1);
    assert_eq!(report.fallbacks[0].chapter, 3);
    assert!(report.fallbacks[0].reason.contains("maximum context length"), "{}", report.fallbacks[0].reason);
    assert_eq!(a.chapters[0].scenes[0].setting.as_deref(), Some("a room"), "chapter 1 is the model's");
    assert_eq!(a.chapters[2].scenes.iter().filter(|s| s.setting.is_some()).count(), 0, "chapter 3 is offline");
}

/// Chapter 3's requests meet an outage while `DOWN` is set (only this test's responder reads it).
static DOWN: AtomicBool = AtomicBool::new(true);

fn outage_for_bombay(request: &ChatRequest) -> FakeReply {
    if DOWN.load(Ordering::SeqCst) && paragraphs(request).iter().any(|(_, t)| t.contains("Bombay")) {
        return FakeReply::Status(503, "The server is overloaded".into());
    }
    respond(request)
}

#[tokio::test]
async fn an_outage_fails_the_analysis_as_retryable_and_keeps_what_was_answered() {
    let (fake, analyzer) = setup(outage_for_bombay).await;
    let cache = Arc::new(MemoryCache::default());
    let err = analyzer.analyze(Arc::new(book()), &ctx(&cache)).await.unwrap_err();
    assert!(matches!(err, AnalyzeError::Retryable(_)), "{err:?}");
    let calls = fake.chat_calls();
    assert_eq!(calls, 2 + 2, "chapters 1 and 2, then chapter 3 tried twice (max_retries = 1)");

    DOWN.store(false, Ordering::SeqCst);
    let report = analyzer.analyze(Arc::new(book()), &ctx(&cache)).await.unwrap().model.unwrap();
    assert_eq!((report.cached, report.requests), (2, 2), "chapters 1 and 2 are not paid twice");
    assert!(report.fallbacks.is_empty());
}

fn unauthorised(_: &ChatRequest) -> FakeReply {
    FakeReply::Status(401, "Incorrect API key provided".into())
}

#[tokio::test]
async fn a_wrong_key_is_a_permanent_failure() {
    let (_fake, analyzer) = setup(unauthorised).await;
    let cache = Arc::new(MemoryCache::default());
    let err = analyzer.analyze(Arc::new(book()), &ctx(&cache)).await.unwrap_err();
    assert!(matches!(&err, AnalyzeError::Permanent(m) if m.contains("401")), "{err:?}");
}

#[tokio::test]
async fn a_long_chapter_is_asked_in_parts_and_merged() {
    let fake = FakeOpenAi::start(Arc::new(respond)).await;
    let mut options = ProviderOptions::new("fake", fake.base_url(), "fake-model-1");
    options.concurrency = 2;
    let analyzer =
        LlmAnalyzer::new(Client::new(options).unwrap(), LlmOptions { max_chunk_chars: 60, ..LlmOptions::default() });
    let a = analyzer.analyze(Arc::new(book()), &AnalyzeContext::default()).await.unwrap();
    let report = a.model.unwrap();
    assert!(report.chunks > 4, "chapters were split: {report:?}");
    let c1 = &a.chapters[0];
    assert!(c1.scenes.len() >= 2);
    let indices: Vec<u32> = c1.scenes.iter().map(|s| s.index).collect();
    assert_eq!(indices, (1..=c1.scenes.len() as u32).collect::<Vec<_>>(), "scenes renumbered across parts");
    assert!(c1.summary.contains("Paragraphs 0 to") && c1.summary.contains("to 2."), "{}", c1.summary);
}
