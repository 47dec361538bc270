//! The metrics a client emits, read through a recorder local to the test.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bindery_llm::fake::{FakeOpenAi, Fault};
use bindery_llm::{BreakerOptions, Client, LlmError};
use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder, SharedString, Unit,
};

use crate::{ask, echo, options};

/// Every metric as `name{label=value,…}` (labels sorted) → its value: the
/// total of a counter, the last value of a gauge, the number of
/// observations of a histogram.
#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<BTreeMap<String, f64>>>);

impl Recorded {
    fn get(&self, key: &str) -> f64 {
        self.0.lock().unwrap().get(key).copied().unwrap_or(0.0)
    }

    fn handle(&self, key: &Key) -> Arc<Handle> {
        let mut labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
        labels.sort();
        Arc::new(Handle { key: format!("{}{{{}}}", key.name(), labels.join(",")), values: self.clone() })
    }

    fn update(&self, key: &str, f: impl FnOnce(&mut f64)) {
        f(self.0.lock().unwrap().entry(key.to_owned()).or_default());
    }
}

struct Handle {
    key: String,
    values: Recorded,
}

impl CounterFn for Handle {
    fn increment(&self, value: u64) {
        self.values.update(&self.key, |v| *v += value as f64);
    }
    fn absolute(&self, value: u64) {
        self.values.update(&self.key, |v| *v = value as f64);
    }
}

impl GaugeFn for Handle {
    fn increment(&self, value: f64) {
        self.values.update(&self.key, |v| *v += value);
    }
    fn decrement(&self, value: f64) {
        self.values.update(&self.key, |v| *v -= value);
    }
    fn set(&self, value: f64) {
        self.values.update(&self.key, |v| *v = value);
    }
}

impl HistogramFn for Handle {
    fn record(&self, _: f64) {
        self.values.update(&self.key, |v| *v += 1.0);
    }
}

impl Recorder for Recorded {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.handle(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.handle(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.handle(key))
    }
}

#[test]
fn requests_tokens_retries_and_the_breaker_are_measured() {
    let recorded = Recorded::default();
    // A local recorder belongs to this thread, so the test runs its own
    // single-threaded runtime inside it.
    metrics::with_local_recorder(&recorded, || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().start_paused(true).build().unwrap();
        runtime.block_on(async {
            let fake = FakeOpenAi::start(echo()).await;
            let mut options = options(&fake);
            options.max_retries = 1;
            options.breaker = BreakerOptions { failure_threshold: 1, open_for: Duration::from_secs(30) };
            let client = Client::new(options).unwrap();
            assert_eq!(recorded.get("bindery_llm_breaker_state{provider=fake}"), 0.0);

            fake.push_fault(Fault::Status(500));
            let usage = client.chat(&ask("a question")).await.unwrap().usage.unwrap();
            assert_eq!(recorded.get("bindery_llm_requests_total{outcome=server_error,provider=fake}"), 1.0);
            assert_eq!(recorded.get("bindery_llm_requests_total{outcome=ok,provider=fake}"), 1.0);
            assert_eq!(recorded.get("bindery_llm_retries_total{op=chat,provider=fake}"), 1.0);
            assert_eq!(recorded.get("bindery_llm_request_duration_seconds{op=chat,provider=fake}"), 2.0);
            assert_eq!(recorded.get("bindery_llm_tokens_total{kind=prompt,provider=fake}"), usage.prompt_tokens as f64);
            assert_eq!(
                recorded.get("bindery_llm_tokens_total{kind=completion,provider=fake}"),
                usage.completion_tokens as f64
            );

            fake.set_always(Some(Fault::Status(500)));
            client.chat(&ask("x")).await.unwrap_err();
            assert_eq!(recorded.get("bindery_llm_breaker_state{provider=fake}"), 2.0);
            assert!(matches!(client.chat(&ask("x")).await, Err(LlmError::BreakerOpen { .. })));
            assert_eq!(recorded.get("bindery_llm_requests_total{outcome=breaker_open,provider=fake}"), 1.0);

            tokio::time::advance(Duration::from_secs(30)).await;
            fake.set_always(None);
            client.chat(&ask("x")).await.unwrap();
            assert_eq!(recorded.get("bindery_llm_breaker_state{provider=fake}"), 0.0);
        });
    });
}
