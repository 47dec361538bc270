//! `bindery worker`: run jobs (and deliver the outbox and the projects' webhooks) until stopped.

use crate::cli::{SinkArgs, WorkerArgs};
use crate::config::Settings;
use anyhow::{Context, Result};
use bindery_engine::outbox::{Outbox, OutboxHandle, OutboxOptions};
use bindery_engine::webhooks::{Dispatcher, DispatcherOptions};
use bindery_engine::worker::{Worker, WorkerOptions};
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{signal, SignalKind};

pub async fn worker(
    s: &Settings,
    args: &WorkerArgs,
    exit_when_idle: bool,
    sink_args: &SinkArgs,
    webhook_allow: Option<String>,
    metrics_listen: Option<String>,
) -> Result<ExitCode> {
    let w = s.worker(args)?;
    let metrics_listen = metrics_listen.or_else(|| s.file_metrics_listen.clone());
    let metrics_on = metrics_listen.is_some();
    if let Some(addr) = metrics_listen {
        let addr: std::net::SocketAddr = addr.parse().with_context(|| format!("--metrics-listen {addr:?}"))?;
        metrics_exporter_prometheus::PrometheusBuilder::new()
            .with_http_listener(addr)
            .install()
            .context("starting the Prometheus endpoint")?;
    }
    let engine = crate::open(s, crate::engine_options(Some(&w))?).await?;
    // Webhooks reach only public addresses unless the operator lists others.
    let allow = webhook_allow.or_else(|| s.file_webhook_allow.clone()).unwrap_or_default();
    let webhook = bindery_outbox::WebhookOptions {
        allow: bindery_outbox::Allowlist::parse(&allow).context("--webhook-allow")?,
        ..bindery_outbox::WebhookOptions::default()
    };
    let sinks = sinks(s, sink_args, &webhook)?;
    let opts = WorkerOptions {
        exit_when_idle,
        depth_every: metrics_on.then(|| std::time::Duration::from_secs(5)),
        ..w.options()
    };
    let outbox = start_outbox(&engine, sinks, &opts.id);
    // The projects' own webhook endpoints, under the same allowlist.
    let dispatcher = Dispatcher::new(engine.clone(), dispatcher_options(&opts.id, webhook)).run();
    let handle = Worker::new(engine, opts).run();
    let stop = handle.shutdown_token();
    let mut term = signal(SignalKind::terminate())?;
    let signals = tokio::spawn(async move {
        tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = term.recv() => {} }
        tracing::info!("stopping: finishing running jobs");
        stop.cancel();
    });
    let stats = handle.join().await;
    signals.abort();
    if let Some(o) = outbox {
        if exit_when_idle && !o.drain(std::time::Duration::from_secs(60)).await {
            tracing::warn!("outbox did not catch up within 60 s; the rest is delivered by the next worker");
        }
        o.shutdown().await;
    }
    if exit_when_idle && !dispatcher.drain(std::time::Duration::from_secs(60)).await {
        tracing::warn!("webhook deliveries did not catch up within 60 s; the rest is delivered by the next worker");
    }
    dispatcher.shutdown().await;
    tracing::info!(claimed = stats.claimed, settled = stats.settled, "worker exited");
    Ok(ExitCode::SUCCESS)
}

/// The webhook dispatcher's options for this process: its name in leases and the SSRF allowlist.
pub fn dispatcher_options(holder: &str, webhook: bindery_outbox::WebhookOptions) -> DispatcherOptions {
    DispatcherOptions { holder: holder.to_owned(), webhook, ..DispatcherOptions::default() }
}

/// The instance's sinks: those given by flag or variable, else the config file's `sinks`; signed with the
/// `--webhook-secret` given by flag or variable, else the file's `webhook-secret`.
pub fn sinks(
    s: &Settings,
    args: &SinkArgs,
    webhook: &bindery_outbox::WebhookOptions,
) -> Result<Vec<Arc<dyn bindery_outbox::Sink>>> {
    let specs = if args.sinks.is_empty() { &s.file_sinks } else { &args.sinks };
    let secret = args.webhook_secret.as_deref().or(s.file_webhook_secret.as_deref());
    specs
        .iter()
        .map(|spec| bindery_outbox::parse_sink_with(spec, secret, webhook).map(Arc::from))
        .collect::<Result<Vec<_>, _>>()
        .context("configuring sinks")
}

/// Delivers the outbox to `sinks` from this process, when there are any; `holder` names the process in leases.
pub fn start_outbox(
    engine: &bindery_engine::Engine,
    sinks: Vec<Arc<dyn bindery_outbox::Sink>>,
    holder: &str,
) -> Option<OutboxHandle> {
    (!sinks.is_empty()).then(|| {
        let o = OutboxOptions { holder: holder.to_owned(), ..OutboxOptions::default() };
        Outbox::new(engine.clone(), sinks, o).run()
    })
}
