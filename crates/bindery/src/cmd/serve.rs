//! `bindery serve` (the HTTP API, with a worker, the instance's sinks and the projects' webhooks in the same process
//! unless `--no-worker`) and `bindery user create`.

use crate::cli::{ServeArgs, SinkArgs, WorkerArgs};
use crate::config::Settings;
use anyhow::{bail, Context, Result};
use bindery_api::{Api, ApiOptions, AppState};
use bindery_engine::webhooks::Dispatcher;
use bindery_engine::worker::{Worker, WorkerOptions};
use std::io::Read;
use std::process::ExitCode;
use tokio::signal::unix::{signal, SignalKind};

pub async fn serve(
    s: &Settings,
    flags: &ServeArgs,
    worker_args: &WorkerArgs,
    sink_args: &SinkArgs,
) -> Result<ExitCode> {
    // Flags and variables (clap), then the config file, then the defaults.
    let file = &s.file_serve;
    let args = ServeArgs {
        listen: flags.listen.clone().or_else(|| file.listen.clone()),
        jwt_secret: flags.jwt_secret.clone().or_else(|| file.jwt_secret.clone()),
        max_upload_mb: flags.max_upload_mb.or(file.max_upload_mb),
        rate_limit: flags.rate_limit.or(file.rate_limit),
        webhook_allow: flags.webhook_allow.clone().or_else(|| s.file_webhook_allow.clone()),
        no_worker: flags.no_worker,
        principal_ttl_ms: flags.principal_ttl_ms.or(file.principal_ttl_ms),
        trusted_proxy: flags.trusted_proxy.clone().or_else(|| file.trusted_proxy.clone()),
        password_threads: flags.password_threads.or(file.password_threads),
        ops_listen: flags.ops_listen.clone().or_else(|| file.ops_listen.clone()),
    };
    let listen = args.listen.as_deref().unwrap_or("127.0.0.1:8080");
    let listen = listen.parse().with_context(|| format!("--listen {listen:?}: expected ADDRESS:PORT"))?;
    let w = s.worker(worker_args)?;
    let (engine, analyzers) = crate::open_with_analyzers(s, crate::engine_options(Some(&w))?).await?;
    let mut options = ApiOptions::new(listen, jwt_secret(s, args.jwt_secret.as_deref())?);
    options.analyzers = analyzers;
    if let Some(mb) = args.max_upload_mb {
        options.max_upload_bytes = mb.saturating_mul(1 << 20);
    }
    if let Some(rate) = args.rate_limit {
        options.rate_per_second = rate;
    }
    if let Some(ms) = args.principal_ttl_ms {
        options.principal_ttl = std::time::Duration::from_millis(ms);
    }
    if let Some(list) = &args.trusted_proxy {
        options.trusted_proxies = bindery_outbox::Allowlist::parse(list).context("--trusted-proxy")?;
    }
    if let Some(at) = &args.ops_listen {
        options.ops_listen = Some(at.parse().with_context(|| format!("--ops-listen {at:?}: expected ADDRESS:PORT"))?);
    }
    if let Some(threads) = args.password_threads {
        options.password_threads = threads.max(1);
    }
    // Webhook endpoints may point only at public addresses unless the operator lists others; the API checks URLs
    // against the same list the in-process dispatcher delivers under.
    let allow = args.webhook_allow.as_deref().unwrap_or_default();
    options.webhook_allow = bindery_outbox::Allowlist::parse(allow).context("--webhook-allow")?;
    let webhook = bindery_outbox::WebhookOptions {
        allow: options.webhook_allow.clone(),
        ..bindery_outbox::WebhookOptions::default()
    };
    // The instance's sinks are checked even with --no-worker, so a mistake in them shows wherever they are set.
    let sinks = super::worker::sinks(s, sink_args, &webhook)?;
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .context("installing the metrics recorder")?;
    let api = Api::serve(AppState::new(engine.clone(), options, Some(metrics))).await.context("starting the API")?;
    eprintln!("Bindery API on http://{}/ (OpenAPI at /openapi.json, docs at /docs)", api.addr);
    if let Some(ops) = api.ops_addr {
        eprintln!("Operations endpoints on http://{ops}/ (/health, /ready, /metrics)");
    }
    let worker = (!args.no_worker).then(|| {
        let opts = WorkerOptions { depth_every: Some(std::time::Duration::from_secs(5)), ..w.options() };
        let outbox = super::worker::start_outbox(&engine, sinks, &opts.id);
        let dispatcher = Dispatcher::new(engine.clone(), super::worker::dispatcher_options(&opts.id, webhook)).run();
        (Worker::new(engine, opts).run(), outbox, dispatcher)
    });
    let mut term = signal(SignalKind::terminate())?;
    tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
    tracing::info!("stopping: finishing requests and running jobs");
    api.shutdown().await?;
    if let Some((w, outbox, d)) = worker {
        w.shutdown().await;
        if let Some(o) = outbox {
            o.shutdown().await;
        }
        d.shutdown().await;
    }
    Ok(ExitCode::SUCCESS)
}

/// The token-signing key: the flag or `BINDERY_JWT_SECRET`, else a random key created once in the data directory
/// (readable by its owner only), so tokens survive restarts of a single-machine install.
fn jwt_secret(s: &Settings, given: Option<&str>) -> Result<Vec<u8>> {
    if let Some(k) = given {
        if k.len() < 32 {
            bail!("the JWT secret needs at least 32 characters");
        }
        return Ok(k.as_bytes().to_vec());
    }
    let path = s.data_dir.join("jwt-secret");
    if let Ok(k) = std::fs::read(&path) {
        return Ok(k);
    }
    std::fs::create_dir_all(&s.data_dir)?;
    let key = bindery_api::auth::random_secret();
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    std::io::Write::write_all(&mut f, key.as_bytes())?;
    Ok(key.into_bytes())
}

/// `bindery user create --email E [--admin]`: the first administrator comes from here.
pub async fn create_user(s: &Settings, email: &str, admin: bool) -> Result<ExitCode> {
    let password = match std::env::var("BINDERY_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            eprintln!("password (from standard input):");
            let mut line = String::new();
            std::io::stdin().read_to_string(&mut line)?;
            line.trim_end_matches(['\n', '\r']).to_owned()
        }
    };
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let state = AppState::new(engine, ApiOptions::new("127.0.0.1:0".parse()?, Vec::new()), None);
    match bindery_api::create_user_record(&state, email, &password, admin).await {
        Ok(u) => {
            println!("{}", u.id);
            eprintln!("created {}{}", u.email, if u.admin { " (administrator)" } else { "" });
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => bail!("{e}"),
    }
}
