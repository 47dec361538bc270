//! The command line, as others script against it. Names here are a
//! contract: add, never rename.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "bindery", version, about = "Turn books and documents into structured, searchable content.")]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command shares. Each resolves from the flag, then its
/// `BINDERY_*` variable, then the config file, then the default.
#[derive(Args, Debug, Clone, Default)]
pub struct Global {
    /// Where the embedded database and blobs live [default: ./bindery-data].
    #[arg(long, env = "BINDERY_DATA_DIR", global = true)]
    pub data_dir: Option<PathBuf>,
    /// sqlite://… or postgres://… [default: SQLite in the data dir].
    #[arg(long, env = "BINDERY_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// A folder path, file:///…, or s3://bucket/prefix [default: blobs/ in the data dir].
    #[arg(long, env = "BINDERY_STORAGE", global = true)]
    pub storage: Option<String>,
    /// A TOML file with any of the settings above and the worker's.
    #[arg(long, env = "BINDERY_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log format on stderr: json or text.
    #[arg(long, env = "BINDERY_LOG_FORMAT", global = true)]
    pub log_format: Option<String>,
    /// How many malloc arenas the process may use (glibc): fewer arenas return memory better when stages run on
    /// several threads; 0 keeps the C library's default of eight per core [default: 2].
    #[arg(long, env = "BINDERY_MALLOC_ARENAS", global = true)]
    pub malloc_arenas: Option<u32>,
    /// The memory one parse of an upload may use, in MiB: MuPDF reads each file in a child process limited to it
    /// [default: 2048].
    #[arg(long, env = "BINDERY_PARSE_MEMORY_MB", global = true)]
    pub parse_memory_mb: Option<u64>,
    /// How long one parse of an upload may take, in seconds, before its child process is killed [default: 120].
    #[arg(long, env = "BINDERY_PARSE_TIMEOUT_SECS", global = true)]
    pub parse_timeout_secs: Option<f64>,
    /// The most pages a PDF or EPUB may have; longer documents are refused [default: 3000].
    #[arg(long, env = "BINDERY_MAX_PAGES", global = true)]
    pub max_pages: Option<u32>,
    /// The most pixels one page of a PDF or EPUB may be rendered to, in millions; a larger page fails OCR and goes
    /// without thumbnails [default: 40].
    #[arg(long, env = "BINDERY_MAX_PAGE_MEGAPIXELS", global = true)]
    pub max_page_megapixels: Option<u64>,
    /// The most pixels one page of an uploaded image may have, in millions; larger images are refused before they
    /// are decoded [default: 100].
    #[arg(long, env = "BINDERY_MAX_IMAGE_MEGAPIXELS", global = true)]
    pub max_image_megapixels: Option<u64>,
    /// The most a text upload (plain text or Markdown) may be, in MiB; larger texts are refused before they are
    /// read [default: 64].
    #[arg(long, env = "BINDERY_MAX_TEXT_MB", global = true)]
    pub max_text_mb: Option<u64>,
    /// The deepest nesting accepted in a PDF's outline or an EPUB's markup [default: 256].
    #[arg(long, env = "BINDERY_MAX_NESTING_DEPTH", global = true)]
    pub max_nesting_depth: Option<u32>,
    /// The most one file inside an EPUB may unpack to, in MiB [default: 256].
    #[arg(long, env = "BINDERY_MAX_EPUB_ENTRY_MB", global = true)]
    pub max_epub_entry_mb: Option<u64>,
    /// The most all the files inside an EPUB may unpack to together, in MiB [default: 2048].
    #[arg(long, env = "BINDERY_MAX_EPUB_UNPACKED_MB", global = true)]
    pub max_epub_unpacked_mb: Option<u64>,
    /// The WordNet database `dictionary` defines English words from [default: /usr/share/wordnet].
    #[arg(long, env = "BINDERY_WORDNET_DIR", global = true)]
    pub wordnet_dir: Option<PathBuf>,
    /// The folder holding DejaVu Serif (`DejaVuSerif.ttf`, `DejaVuSerif-Bold.ttf`) for typographic covers
    /// [default: /usr/share/fonts/truetype/dejavu].
    #[arg(long, env = "BINDERY_FONT_DIR", global = true)]
    pub font_dir: Option<PathBuf>,
    /// Which analyzer `enrich` uses, and its provider's settings.
    #[command(flatten)]
    pub analyzer: crate::analyzer::AnalyzerArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Ingest files and run each to the end on an in-process engine.
    Process {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// One JSON object per document on stdout.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        worker: WorkerArgs,
    },
    /// Store files and enqueue their pipelines; prints their ids.
    Submit {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        #[arg(long)]
        json: bool,
        /// When the documents must be ready: an RFC 3339 time or a delay such as 12h. A deadline far enough ahead
        /// lets a language-model analyzer use its provider's batch path; without one they are awaited now.
        #[arg(long)]
        deadline: Option<String>,
    },
    /// Run jobs until stopped (Ctrl-C or SIGTERM finish running jobs first).
    Worker {
        #[command(flatten)]
        worker: WorkerArgs,
        /// Stop when no job is available or running anywhere.
        #[arg(long)]
        exit_when_idle: bool,
        #[command(flatten)]
        sinks: SinkArgs,
        /// Private, loopback or link-local addresses webhooks may reach anyway:
        /// comma-separated IPs and CIDR networks, e.g. 127.0.0.1,10.0.0.0/8 [default: none].
        #[arg(long, env = "BINDERY_WEBHOOK_ALLOW")]
        webhook_allow: Option<String>,
        /// Serve Prometheus metrics on this address, e.g. 127.0.0.1:9100.
        #[arg(long, env = "BINDERY_METRICS_LISTEN")]
        metrics_listen: Option<String>,
    },
    /// Print events as CloudEvents.
    Events {
        #[arg(long)]
        document: Option<String>,
        /// Only events with a greater global sequence.
        #[arg(long, default_value_t = 0)]
        after: i64,
        /// Keep printing new events as they are appended.
        #[arg(long)]
        follow: bool,
        /// CloudEvents JSON, one per line.
        #[arg(long)]
        json: bool,
    },
    /// A document's state, progress and results.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// List jobs.
    Jobs {
        /// available, running, completed, dead or cancelled.
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 100)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Make a dead job (or every dead job) run again.
    Retry {
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        job: Option<i64>,
        #[arg(long)]
        all_dead: bool,
    },
    /// Cancel a document (by id) or a job (by number).
    Cancel { id: String },
    /// Rebuild every read model from the event log.
    Replay,
    /// Set or clear a queue's limit on jobs running at once, across all workers.
    Limit {
        queue: String,
        /// A number, or "none".
        max_running: String,
    },
    /// Delete completed and cancelled jobs (dead jobs stay until retried).
    /// Events and documents are kept: jobs are only the work queue.
    Prune {
        /// Only jobs finished at least this many days ago.
        #[arg(long, default_value_t = 7.0)]
        older_than_days: f64,
        /// Only this queue.
        #[arg(long)]
        queue: Option<String>,
    },
    /// Job counts per queue and state.
    Queues {
        #[arg(long)]
        json: bool,
    },
    /// Write a processed book as JSON, Markdown, or a ZIP with covers and audio.
    Export {
        id: String,
        /// json, md or zip.
        #[arg(long, default_value = "json")]
        format: String,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Full-text search over every book's chapters.
    Search {
        query: String,
        #[arg(long, default_value_t = 10)]
        limit: i64,
        #[arg(long)]
        json: bool,
    },
    /// Narrate a whole chapter of a processed book (espeak-ng, in the book's language).
    Narrate {
        id: String,
        /// 1-based chapter number.
        #[arg(long)]
        chapter: u32,
        /// opus or mp3.
        #[arg(long, default_value = "opus")]
        format: String,
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// A book's vocabulary (rarest first), or one word's entry.
    Dictionary {
        id: String,
        word: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: usize,
        #[arg(long)]
        json: bool,
    },
    /// Render full pages of a PDF or EPUB as PNG.
    Pages {
        id: String,
        #[arg(long, default_value_t = 150)]
        dpi: u32,
        /// "3", "2-5" or "4-" [default: every page].
        #[arg(long)]
        range: Option<String>,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Serve the HTTP API (and, unless --no-worker, run a worker in the same process).
    Serve {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        worker: WorkerArgs,
        #[command(flatten)]
        sinks: SinkArgs,
    },
    /// User accounts of the HTTP API.
    #[command(subcommand)]
    User(UserCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(Bench),
}

#[derive(Args, Debug, Clone, Default)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "BINDERY_LISTEN")]
    pub listen: Option<String>,
    /// Key that signs access tokens; every API process of a deployment needs the same one
    /// [default: a random key kept in <data-dir>/jwt-secret].
    #[arg(long, env = "BINDERY_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Largest upload in MiB [default: 1024].
    #[arg(long, env = "BINDERY_MAX_UPLOAD_MB")]
    pub max_upload_mb: Option<u64>,
    /// Requests per second per user or API key, burst twice that; 0 disables [default: 50].
    #[arg(long, env = "BINDERY_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
    /// Private, loopback or link-local addresses projects' webhook endpoints may point at anyway:
    /// comma-separated IPs and CIDR networks, e.g. 127.0.0.1,10.0.0.0/8 [default: none].
    #[arg(long, env = "BINDERY_WEBHOOK_ALLOW")]
    pub webhook_allow: Option<String>,
    /// Serve the API only; jobs run in `bindery worker` processes elsewhere.
    #[arg(long)]
    pub no_worker: bool,
    /// How long this process trusts a cached user, API key or project role, in milliseconds; a member removed or a
    /// key revoked through another process keeps working here for at most this long; 0 turns the cache off
    /// [default: 1000].
    #[arg(long, env = "BINDERY_PRINCIPAL_TTL_MS")]
    pub principal_ttl_ms: Option<u64>,
    /// Proxies (load balancers) whose X-Forwarded-For names the client, for limits per client address:
    /// comma-separated IPs and CIDR networks [default: none; the connection's peer is the client].
    #[arg(long, env = "BINDERY_TRUSTED_PROXY")]
    pub trusted_proxy: Option<String>,
    /// Threads that hash passwords; logins beyond what they and their queue hold get 503 with Retry-After
    /// [default: half the cores].
    #[arg(long, env = "BINDERY_PASSWORD_THREADS")]
    pub password_threads: Option<usize>,
    /// Serve /health, /ready and /metrics on this address instead of the public one (which then keeps /health
    /// only), e.g. 127.0.0.1:9100 [default: none; all three on the public address].
    #[arg(long, env = "BINDERY_OPS_LISTEN")]
    pub ops_listen: Option<String>,
}

/// The instance's event sinks, delivered from the outbox by every process that runs a worker (`worker`, and `serve`
/// unless `--no-worker`).
#[derive(Args, Debug, Clone, Default)]
pub struct SinkArgs {
    /// Deliver events to this sink (https://… webhook, nats://…, redis://…); repeatable [default: the config file's
    /// `sinks`].
    #[arg(long = "sink", env = "BINDERY_SINKS", value_delimiter = ',')]
    pub sinks: Vec<String>,
    /// Secret for signing webhooks (whsec_… as in Standard Webhooks).
    #[arg(long, env = "BINDERY_WEBHOOK_SECRET", hide_env_values = true)]
    pub webhook_secret: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; the password is read from BINDERY_PASSWORD or standard input.
    Create {
        #[arg(long)]
        email: String,
        /// An instance administrator (sees every project, queues and dead jobs).
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Args, Debug, Clone, Default)]
pub struct WorkerArgs {
    /// Jobs run at once [default: number of cores].
    #[arg(long, env = "BINDERY_CONCURRENCY")]
    pub concurrency: Option<usize>,
    /// Serve only these queues (stage names); repeatable.
    #[arg(long = "queue", env = "BINDERY_QUEUES", value_delimiter = ',')]
    pub queues: Vec<String>,
    /// Seconds a claim stays valid without a heartbeat [default: 30].
    #[arg(long, env = "BINDERY_LEASE_SECS")]
    pub lease_secs: Option<f64>,
    /// Attempts before a stage job is dead [default: 5].
    #[arg(long, env = "BINDERY_MAX_ATTEMPTS")]
    pub max_attempts: Option<i32>,
    /// First retry delay in milliseconds; doubles each attempt [default: 1000].
    #[arg(long, env = "BINDERY_RETRY_BASE_MS")]
    pub retry_base_ms: Option<u64>,
}

#[derive(Subcommand, Debug)]
pub enum Bench {
    /// No-op jobs: enqueue rate, jobs/s worked, enqueue→start latency.
    Queue {
        #[arg(long, default_value_t = 100_000)]
        jobs: usize,
        /// Worker services in this process.
        #[arg(long, default_value_t = 2)]
        workers: usize,
        /// Jobs each worker runs at once.
        #[arg(long, default_value_t = 500)]
        concurrency: usize,
        /// Jobs enqueued one at a time on idle workers to measure latency.
        #[arg(long, default_value_t = 500)]
        latency_samples: usize,
        #[arg(long)]
        json: bool,
    },
    /// PDF text extraction, pages/s on one core, against pdftotext and PyMuPDF.
    Extract {
        file: PathBuf,
        #[arg(long, default_value_t = 5)]
        rounds: u32,
        #[arg(long)]
        json: bool,
    },
    /// OCR seconds per page, both cores busy, against the tesseract CLI.
    Ocr {
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// Tesseract languages, e.g. eng, fra, eng+fra.
        #[arg(long, default_value = "eng")]
        languages: String,
        #[arg(long)]
        json: bool,
    },
    /// Whole books through the whole pipeline: books/hour, idle latency, peak memory.
    Books {
        file: PathBuf,
        #[arg(long, default_value_t = 20)]
        count: usize,
        /// Stage jobs run at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Books then sent one at a time to measure latency on an idle worker.
        #[arg(long, default_value_t = 10)]
        latency_samples: usize,
        #[arg(long)]
        json: bool,
    },
    /// Live-progress fan-out against a running `bindery serve`: N clients on one project's stream while books are
    /// uploaded, beside the same uploads watched by one client.
    Sse {
        /// The server's base URL.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        url: String,
        /// An access token or API key of a project editor.
        #[arg(long, env = "BINDERY_TOKEN")]
        token: String,
        #[arg(long)]
        project: String,
        /// The book to upload (each upload is made distinct by a trailing comment).
        file: PathBuf,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 10)]
        books: usize,
        /// The server's process id, to report the CPU time it spent.
        #[arg(long)]
        server_pid: Option<u32>,
        #[arg(long)]
        json: bool,
    },
    /// What parsing uploads in sandbox children costs a book: the isolated work in this process and in children,
    /// beside the whole pipeline's time for the same book.
    Isolation {
        file: PathBuf,
        #[arg(long, default_value_t = 9)]
        rounds: u32,
        #[arg(long)]
        json: bool,
    },
    /// Event log: append and read rates.
    Events {
        #[arg(long, default_value_t = 100_000)]
        events: usize,
        #[arg(long)]
        json: bool,
    },
}
