//! `TestApp::spawn()`: the real HTTP service on a random port, over a fresh store (SQLite file or PostgreSQL schema)
//! and a temporary blob folder, with a worker processing uploads in the background; plus a small client.

#![allow(dead_code)]

use bindery_api::{Api, ApiHandle, ApiOptions, AppState};
use bindery_blob::BlobStore;
use bindery_core::retry::RetryPolicy;
use bindery_engine::worker::{Worker, WorkerHandle, WorkerOptions};
use bindery_engine::{Engine, EngineOptions, Failpoints};
use bindery_store::testing;
use futures::StreamExt;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub http: reqwest::Client,
    pub dir: tempfile::TempDir,
    api: Option<ApiHandle>,
    worker: Option<WorkerHandle>,
}

/// A logged-in user.
#[derive(Clone, Debug)]
pub struct Session {
    pub user: String,
    pub email: String,
    pub access: String,
    pub refresh: String,
}

pub const PASSWORD: &str = "correct horse battery";

impl TestApp {
    /// `None` when the back end is not configured (PostgreSQL outside CI).
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut ApiOptions)) -> Option<TestApp> {
        Self::spawn_with_analyzers(backend, bindery_stages::Analyzers::default(), tweak).await
    }

    /// With other analyzers behind `enrich`, offered to projects by the API as the worker runs them.
    pub async fn spawn_with_analyzers(
        backend: Backend,
        analyzers: bindery_stages::Analyzers,
        tweak: impl FnOnce(&mut ApiOptions),
    ) -> Option<TestApp> {
        let registry = bindery_stages::registry_with(analyzers.clone());
        let dir = tempfile::tempdir().unwrap();
        let store = match backend {
            Backend::Sqlite => bindery_store::connect(&testing::sqlite_url(dir.path())).await.unwrap(),
            Backend::Postgres => testing::postgres().await?,
        };
        let blobs = BlobStore::from_url(dir.path().join("blobs").to_str().unwrap()).unwrap();
        let engine_options = EngineOptions {
            retry: RetryPolicy { base: Duration::from_millis(10), max: Duration::from_millis(100), jitter: 0.0 },
            max_attempts: 3,
            failpoints: Failpoints::parse("").unwrap(),
        };
        let engine = Engine::new(store, blobs, registry, engine_options);
        let mut options =
            ApiOptions::new("127.0.0.1:0".parse().unwrap(), b"test secret, 32 bytes or more....".to_vec());
        options.rate_per_second = 0;
        options.analyzers = analyzers;
        tweak(&mut options);
        let state = AppState::new(engine.clone(), options, None);
        let api = Api::serve(state.clone()).await.unwrap();
        let worker = Worker::new(
            engine,
            WorkerOptions {
                concurrency: 2,
                poll: Duration::from_millis(50),
                heartbeat: Duration::from_millis(200),
                ..WorkerOptions::default()
            },
        )
        .run();
        Some(TestApp {
            base: format!("http://{}", api.addr),
            state,
            http: reqwest::Client::new(),
            dir,
            api: Some(api),
            worker: Some(worker),
        })
    }

    /// A second API process on the same store and blobs (no worker of its own), as a scaled-out deployment runs
    /// several: its base URL and handle.
    pub async fn second_api(&self, tweak: impl FnOnce(&mut ApiOptions)) -> (String, ApiHandle) {
        let mut options = (*self.state.options).clone();
        options.listen = "127.0.0.1:0".parse().unwrap();
        tweak(&mut options);
        let api = Api::serve(AppState::new(self.state.engine.clone(), options, None)).await.unwrap();
        (format!("http://{}", api.addr), api)
    }

    pub async fn stop(mut self) {
        if let Some(a) = self.api.take() {
            a.shutdown().await.unwrap();
        }
        if let Some(w) = self.worker.take() {
            w.shutdown().await;
        }
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let r = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token)).send().await.unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(token)).json(&body).send().await.unwrap()
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PUT, path, Some(token)).json(&body).send().await.unwrap()
    }

    /// Creates a user straight in the store (as `bindery user create` does) and logs in through the API.
    pub async fn user(&self, email: &str, admin: bool) -> Session {
        let u = bindery_api::create_user_record(&self.state, email, PASSWORD, admin).await.unwrap();
        let r = self
            .request(Method::POST, "/api/v1/auth/login", None)
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let t: Value = r.json().await.unwrap();
        Session {
            user: u.id,
            email: email.into(),
            access: t["access_token"].as_str().unwrap().into(),
            refresh: t["refresh_token"].as_str().unwrap().into(),
        }
    }

    pub async fn project(&self, s: &Session, name: &str) -> String {
        let r = self.post("/api/v1/projects", &s.access, json!({"name": name})).await;
        assert_eq!(r.status(), StatusCode::CREATED);
        r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned()
    }

    /// Uploads `bytes` as the raw body; returns the document id.
    /// Makes `member` a member of `project` with `role` the way people join: the owner invites their address and
    /// they accept.
    pub async fn join(&self, owner: &Session, project: &str, member: &Session, role: &str) {
        let invite = json!({"email": member.email, "role": role});
        let r = self.post(&format!("/api/v1/projects/{project}/invitations"), &owner.access, invite).await;
        assert_eq!(r.status(), StatusCode::CREATED, "invited");
        let id = r.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned();
        let r = self.post(&format!("/api/v1/invitations/{id}/accept"), &member.access, json!({})).await;
        assert_eq!(r.status(), StatusCode::OK, "accepted");
    }

    pub async fn upload(&self, token: &str, project: &str, name: &str, bytes: Vec<u8>) -> String {
        let r = self
            .request(Method::POST, &format!("/api/v1/projects/{project}/documents?filename={name}"), Some(token))
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "upload: {} {}", r.status(), r.text().await.unwrap());
        r.json::<Value>().await.unwrap()["documents"][0]["id"].as_str().unwrap().to_owned()
    }

    /// Follows the document's SSE progress stream to its end; returns every message's (id, data).
    pub async fn follow(&self, token: &str, id: &str, last_event_id: Option<&str>) -> Vec<(String, Value)> {
        self.sse(token, &format!("/api/v1/documents/{id}/progress/stream"), last_event_id, |_| false).await
    }

    /// Reads an SSE stream until it ends or a message satisfies `stop`; returns every message's (id, data).
    pub async fn sse(
        &self,
        token: &str,
        path: &str,
        last_event_id: Option<&str>,
        stop: impl Fn(&Value) -> bool,
    ) -> Vec<(String, Value)> {
        let mut req = self.request(Method::GET, path, Some(token));
        if let Some(l) = last_event_id {
            req = req.header("Last-Event-ID", l);
        }
        let r = req.send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], "text/event-stream");
        let mut body = r.bytes_stream();
        let mut buf = String::new();
        let mut out = Vec::new();
        let read = async {
            while let Some(chunk) = body.next().await {
                buf.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
                while let Some(end) = buf.find("\n\n") {
                    let block: String = buf.drain(..end + 2).collect();
                    let mut ev_id = String::new();
                    let mut data = String::new();
                    for line in block.lines() {
                        if let Some(v) = line.strip_prefix("id:") {
                            ev_id = v.trim().into();
                        } else if let Some(v) = line.strip_prefix("data:") {
                            data.push_str(v.trim());
                        }
                    }
                    if !data.is_empty() {
                        let v: Value = serde_json::from_str(&data).unwrap();
                        let done = stop(&v);
                        out.push((ev_id, v));
                        if done {
                            return;
                        }
                    }
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(240), read)
            .await
            .expect("the stream reaches its end or the awaited message");
        out
    }
}

/// A short text book with two chapters.
pub fn sample_book(seed: &str) -> Vec<u8> {
    let body =
        format!("Alice met the Cheshire cat near the old {seed} tree, and they talked until evening. ").repeat(6);
    format!("CHAPTER I.\n\n{body}\n\nCHAPTER II.\n\n{body}\n").into_bytes()
}

pub async fn problem(r: Response) -> (StatusCode, Value) {
    let status = r.status();
    let ct = r.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert_eq!(ct, "application/problem+json", "status {status}");
    (status, r.json().await.unwrap())
}

impl TestApp {
    /// Stops the background worker: submitted documents then stay as uploaded (tests that need many documents and
    /// no pipeline work).
    pub async fn stop_worker(&mut self) {
        if let Some(w) = self.worker.take() {
            w.shutdown().await;
        }
    }
}
