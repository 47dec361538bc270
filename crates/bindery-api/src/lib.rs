//! Bindery's HTTP API (`bindery serve`): the engine as a multi-user service.
//!
//! Shape, as every Bindery service: [`ApiOptions`] → [`Api::serve`] → [`ApiHandle`] (address, shutdown, join).
//! Everything lives under `/api/v1`; `/health`, `/ready`, `/metrics`, `/openapi.json` and `/docs` sit at the root.
//!
//! Layout:
//! - `error`: the stable error codes and RFC 9457 problem documents;
//! - `auth`: passwords, tokens, API keys and the [`auth::Caller`] extractor that every protected handler takes;
//! - `passwords`: argon2 on a fixed pool of threads with a queue that sheds load;
//! - `client`: the client's address, through trusted proxies, for limits per address;
//! - `extract`: `Json`, `Path` and `Query` whose refusals are problem documents;
//! - `principals`: a one-second cache of users, API keys and project roles, so a read makes one store query;
//! - `idempotency`: `Idempotency-Key` replay for POST requests;
//! - `routes/*`: one module per resource (accounts, projects, documents and their lifecycle, progress, artifacts,
//!   webhooks, admin, system);
//! - `openapi`: the OpenAPI 3.1 document, generated from the handlers' annotations, and its HTML page;
//! - `tail`: one shared reader of the event log that every progress stream of the process follows;
//! - `ui`: the web UI at `/` and `/ui/...`, server-rendered pages over the same handlers and checks.
//!
//! Invariants:
//! - no handler reads or writes a project's data without `Caller::require` on that project first; a document is
//!   reached only through its projection's `project` (see `routes::documents::authorize`);
//! - uploads stream to blob storage and are never held whole in memory;
//! - the API knows no SQL: it talks to the store traits and the engine.

pub mod auth;
pub mod client;
pub mod error;
pub mod extract;
pub mod idempotency;
mod openapi;
pub mod passwords;
mod principals;
mod routes;
mod tail;
mod ui;

use axum::Router;
use bindery_engine::Engine;
use bindery_store::DynStore;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

pub use error::{ApiError, ApiResult};
pub use routes::accounts::create_user_record;

/// Settings of the HTTP service.
#[derive(Clone, Debug)]
pub struct ApiOptions {
    /// Where to listen (`BINDERY_LISTEN`, default `127.0.0.1:8080`).
    pub listen: SocketAddr,
    /// The HS256 key for access tokens. Every API process of one deployment must share it.
    pub jwt_secret: Vec<u8>,
    /// Access-token lifetime (15 minutes).
    pub access_ttl: Duration,
    /// Refresh-token lifetime (30 days); each use rotates it.
    pub refresh_ttl: Duration,
    /// Largest accepted upload in bytes (1 GiB).
    pub max_upload_bytes: u64,
    /// Requests per second allowed per user or API key, with a burst of twice that (0 disables).
    pub rate_per_second: u32,
    /// Private, loopback or link-local addresses webhook endpoints may point at anyway (`--webhook-allow`); empty by
    /// default: public addresses only. The dispatcher must be given the same list.
    pub webhook_allow: bindery_outbox::Allowlist,
    /// How long this process trusts a cached user, API key or project role (1 s; zero turns the cache off). Changes
    /// made through this process apply at once; a member removed or a key revoked through another process keeps
    /// working here for at most this long.
    pub principal_ttl: Duration,
    /// Proxies whose `X-Forwarded-For` is believed (`--trusted-proxy`); empty by default: the peer is the client.
    pub trusted_proxies: bindery_outbox::Allowlist,
    /// Threads that hash passwords (`--password-threads`; default half the cores). Logins beyond what they and their
    /// queue hold are answered 503 with `Retry-After`.
    pub password_threads: usize,
    /// How often an open progress stream checks that its caller may still read it (5 s); it also ends when the
    /// caller's access token expires.
    pub stream_recheck: Duration,
    /// Where to serve the operations endpoints (`/health`, `/ready`, `/metrics`) for load balancers and Prometheus
    /// (`--ops-listen`). When set, `/ready` and `/metrics` leave the public listener, which keeps `/health` only;
    /// unset, all three stay on the public listener (the default listener is loopback).
    pub ops_listen: Option<SocketAddr>,
    /// The analyzers `enrich` offers, among which a project may choose (`GET /api/v1/analyzers`); the same set
    /// the worker's registry was built with. The built-in offline analyzer by default.
    pub analyzers: bindery_stages::Analyzers,
}

impl ApiOptions {
    pub fn new(listen: SocketAddr, jwt_secret: Vec<u8>) -> Self {
        ApiOptions {
            listen,
            jwt_secret,
            access_ttl: Duration::from_secs(15 * 60),
            refresh_ttl: Duration::from_secs(30 * 24 * 3600),
            max_upload_bytes: 1 << 30,
            rate_per_second: 50,
            webhook_allow: bindery_outbox::Allowlist::default(),
            principal_ttl: Duration::from_secs(1),
            trusted_proxies: bindery_outbox::Allowlist::default(),
            password_threads: std::thread::available_parallelism().map_or(1, |n| n.get()).div_ceil(2),
            stream_recheck: Duration::from_secs(5),
            ops_listen: None,
            analyzers: bindery_stages::Analyzers::default(),
        }
    }
}

/// What every handler gets.
#[derive(Clone)]
pub struct AppState {
    pub engine: Engine,
    pub options: Arc<ApiOptions>,
    /// Renders `/metrics` when the process installed a Prometheus recorder.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Requests per user (whatever API key or token they come with).
    pub(crate) limiter: Arc<routes::limit::RateLimiter>,
    /// Requests without credentials, per client address.
    pub(crate) anonymous_limiter: Arc<routes::limit::RateLimiter>,
    /// Failed logins per (client address, account) and per client address.
    pub(crate) login_failures: Arc<routes::limit::FailureThrottle>,
    pub(crate) address_failures: Arc<routes::limit::FailureThrottle>,
    /// The password hashing threads.
    pub(crate) passwords: passwords::Passwords,
    /// Set when the service shuts down, so that open event streams end and graceful shutdown can finish.
    pub(crate) stop: Arc<watch::Sender<bool>>,
    /// The one reader of the event log that every progress stream of this process follows.
    pub(crate) tail: Arc<tail::LogTail>,
    /// Users, keys and roles recently read; call `principals.invalidate()` after changing any of them.
    pub(crate) principals: Arc<principals::Principals>,
}

impl AppState {
    pub fn new(
        engine: Engine,
        options: ApiOptions,
        metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    ) -> Self {
        use routes::limit::{FailureThrottle, RateLimiter, ADDRESS_FAILURES_PER_MINUTE, LOGIN_FAILURES_PER_MINUTE};
        let limiter = Arc::new(RateLimiter::new(options.rate_per_second));
        let anonymous_limiter = Arc::new(RateLimiter::new(options.rate_per_second));
        let login_failures = Arc::new(FailureThrottle::per_minute(LOGIN_FAILURES_PER_MINUTE));
        let address_failures = Arc::new(FailureThrottle::per_minute(ADDRESS_FAILURES_PER_MINUTE));
        let passwords = passwords::Passwords::new(options.password_threads, 16 * options.password_threads.max(1));
        let stop = Arc::new(watch::channel(false).0);
        let tail = Arc::new(tail::LogTail::default());
        let principals = Arc::new(principals::Principals::new(options.principal_ttl));
        AppState {
            engine,
            options: Arc::new(options),
            metrics,
            limiter,
            anonymous_limiter,
            login_failures,
            address_failures,
            passwords,
            stop,
            tail,
            principals,
        }
    }

    pub fn store(&self) -> &DynStore {
        self.engine.store()
    }
}

/// The whole HTTP surface as a router (tests and `serve` use the same one).
pub fn router(state: AppState) -> Router {
    routes::router(state)
}

/// The HTTP service.
pub struct Api;

/// A running service.
pub struct ApiHandle {
    pub addr: SocketAddr,
    /// The operations listener's address, when `ops_listen` is set.
    pub ops_addr: Option<SocketAddr>,
    shutdown: Arc<watch::Sender<bool>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    ops_task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl Api {
    /// Binds `state.options.listen` and serves until shut down. Open SSE streams end when shutdown begins.
    pub async fn serve(state: AppState) -> std::io::Result<ApiHandle> {
        let listener = tokio::net::TcpListener::bind(state.options.listen).await?;
        let addr = listener.local_addr()?;
        let (ops_addr, ops_task) = match state.options.ops_listen {
            Some(at) => {
                let ops = tokio::net::TcpListener::bind(at).await?;
                let ops_addr = ops.local_addr()?;
                tracing::info!(addr = %ops_addr, "operations endpoints listening");
                (Some(ops_addr), Some(spawn_server(ops, routes::ops_router(state.clone()), &state.stop)))
            }
            None => (None, None),
        };
        let shutdown = state.stop.clone();
        let task = spawn_server(listener, router(state), &shutdown);
        tracing::info!(%addr, "API listening");
        Ok(ApiHandle { addr, ops_addr, shutdown, task, ops_task })
    }
}

/// Serves `app` on `listener` until `stop` turns true, with each connection's peer address available to handlers.
fn spawn_server(
    listener: tokio::net::TcpListener,
    app: Router,
    stop: &watch::Sender<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let mut rx = stop.subscribe();
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(async move {
                let _ = rx.wait_for(|stop| *stop).await;
            })
            .await
    })
}

impl ApiHandle {
    /// Stops accepting connections and waits for requests in flight.
    pub async fn shutdown(self) -> std::io::Result<()> {
        let _ = self.shutdown.send(true);
        self.join().await
    }

    pub async fn join(self) -> std::io::Result<()> {
        if let Some(ops) = self.ops_task {
            ops.await.map_err(std::io::Error::other)??;
        }
        self.task.await.map_err(std::io::Error::other)?
    }
}
