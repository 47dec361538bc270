//! One module per command.

mod admin;
mod bench;
mod bench_api;
mod bench_books;
mod bench_isolation;
mod book;
mod events;
mod process;
mod serve;
mod show;
mod worker;

use crate::cli::{Bench, Command};
use crate::config::Settings;
use anyhow::Result;
use std::process::ExitCode;

pub async fn run(command: Command, s: Settings) -> Result<ExitCode> {
    match command {
        Command::Process { paths, json, worker } => process::process(&s, &paths, json, &worker).await,
        Command::Submit { paths, json, deadline } => process::submit(&s, &paths, json, deadline.as_deref()).await,
        Command::Worker { worker, exit_when_idle, sinks, webhook_allow, metrics_listen } => {
            worker::worker(&s, &worker, exit_when_idle, &sinks, webhook_allow, metrics_listen).await
        }
        Command::Events { document, after, follow, json } => events::events(&s, document, after, follow, json).await,
        Command::Show { id, json } => show::show(&s, &id, json).await,
        Command::Jobs { state, limit, json } => admin::jobs(&s, state, limit, json).await,
        Command::Retry { job, all_dead } => admin::retry(&s, job, all_dead).await,
        Command::Cancel { id } => admin::cancel(&s, &id).await,
        Command::Replay => admin::replay(&s).await,
        Command::Limit { queue, max_running } => admin::limit(&s, &queue, &max_running).await,
        Command::Prune { older_than_days, queue } => admin::prune(&s, older_than_days, queue).await,
        Command::Queues { json } => admin::queues(&s, json).await,
        Command::Export { id, format, output } => book::export(&s, &id, &format, &output).await,
        Command::Search { query, limit, json } => book::search(&s, &query, limit, json).await,
        Command::Narrate { id, chapter, format, output } => book::narrate(&s, &id, chapter, &format, output).await,
        Command::Dictionary { id, word, limit, json } => book::dictionary(&s, &id, word.as_deref(), limit, json).await,
        Command::Pages { id, dpi, range, output } => book::pages(&s, &id, dpi, range.as_deref(), &output).await,
        Command::Serve { serve, worker, sinks } => serve::serve(&s, &serve, &worker, &sinks).await,
        Command::User(crate::cli::UserCommand::Create { email, admin }) => serve::create_user(&s, &email, admin).await,
        Command::Bench(Bench::Queue { jobs, workers, concurrency, latency_samples, json }) => {
            bench::queue(&s, jobs, workers, concurrency, latency_samples, json).await
        }
        Command::Bench(Bench::Sse { url, token, project, file, clients, books, server_pid, json }) => {
            let args = bench_api::SseArgs {
                url: &url,
                token: &token,
                project: &project,
                file: &file,
                clients,
                books,
                server_pid,
            };
            bench_api::sse(args, json).await
        }
        Command::Bench(Bench::Events { events, json }) => bench::events(&s, events, json).await,
        Command::Bench(Bench::Extract { file, rounds, json }) => bench_books::extract(&file, rounds, json),
        Command::Bench(Bench::Ocr { images, languages, json }) => bench_books::ocr(&images, &languages, json),
        Command::Bench(Bench::Books { file, count, concurrency, latency_samples, json }) => {
            bench_books::books(&s, &file, count, concurrency, latency_samples, json).await
        }
        Command::Bench(Bench::Isolation { file, rounds, json }) => {
            bench_isolation::isolation(&s, &file, rounds, json).await
        }
    }
}
