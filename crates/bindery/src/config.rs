//! Resolving settings: flag, then `BINDERY_*` variable (both through clap),
//! then the config file, then the default.

use crate::cli::{Global, WorkerArgs};
use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The config file: every key optional, names as the long flags.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub storage: Option<String>,
    pub log_format: Option<String>,
    pub malloc_arenas: Option<u32>,
    pub parse_memory_mb: Option<u64>,
    pub parse_timeout_secs: Option<f64>,
    pub max_pages: Option<u32>,
    pub max_page_megapixels: Option<u64>,
    pub max_image_megapixels: Option<u64>,
    pub max_text_mb: Option<u64>,
    pub max_nesting_depth: Option<u32>,
    pub max_epub_entry_mb: Option<u64>,
    pub max_epub_unpacked_mb: Option<u64>,
    pub wordnet_dir: Option<PathBuf>,
    pub font_dir: Option<PathBuf>,
    pub concurrency: Option<usize>,
    pub lease_secs: Option<f64>,
    pub max_attempts: Option<i32>,
    pub retry_base_ms: Option<u64>,
    /// The queues a worker takes jobs from (`--queue`).
    #[serde(default)]
    pub queue: Vec<String>,
    #[serde(default)]
    pub sinks: Vec<String>,
    pub webhook_secret: Option<String>,
    pub webhook_allow: Option<String>,
    pub metrics_listen: Option<String>,
    /// `bindery serve`'s settings, named as its flags.
    pub listen: Option<String>,
    pub jwt_secret: Option<String>,
    pub max_upload_mb: Option<u64>,
    pub rate_limit: Option<u32>,
    pub principal_ttl_ms: Option<u64>,
    pub trusted_proxy: Option<String>,
    pub password_threads: Option<usize>,
    pub ops_listen: Option<String>,
    /// The analyzer's settings, keys named as their flags (`analyzer`, `llm-base-url`, …).
    #[serde(default)]
    pub enrich: crate::analyzer::AnalyzerArgs,
}

/// Settings after resolution.
#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Whether the database URL was chosen by the user (benchmarks use a
    /// scratch database otherwise).
    pub database_explicit: bool,
    pub storage: String,
    pub log_json: bool,
    pub file_sinks: Vec<String>,
    /// The file's `webhook-secret` and `metrics-listen` (flags and variables win).
    pub file_webhook_secret: Option<String>,
    pub file_metrics_listen: Option<String>,
    pub file_webhook_allow: Option<String>,
    /// `bindery serve`'s settings from the file (flags and variables win).
    pub file_serve: crate::cli::ServeArgs,
    /// Flags and variables over the file's `[enrich]` table.
    pub analyzer: crate::analyzer::AnalyzerArgs,
    /// How many malloc arenas the process may use; 0 for the C library's default.
    pub malloc_arenas: u32,
    /// The limits of the child process that parses each upload.
    pub parse_memory_mb: u64,
    pub parse_timeout: Duration,
    /// The per-document limits every parse of an upload applies.
    pub limits: bindery_pdf::OpenOptions,
    /// The most pixels a page of an uploaded image may have (`max-image-megapixels`).
    pub max_image_pixels: u64,
    /// The most bytes a text upload may have (`max-text-mb`).
    pub max_text_bytes: u64,
    /// Where `dictionary` finds WordNet (`wordnet-dir`) and `cover` its fonts (`font-dir`).
    pub wordnet_dir: PathBuf,
    pub font_dir: PathBuf,
    file: WorkerDefaults,
}

#[derive(Debug, Clone, Default)]
struct WorkerDefaults {
    queues: Vec<String>,
    concurrency: Option<usize>,
    lease_secs: Option<f64>,
    max_attempts: Option<i32>,
    retry_base_ms: Option<u64>,
}

/// The per-document limits: each from its flag or variable, then the file,
/// then [`bindery_pdf::OpenOptions`]'s default; each at least 1.
fn document_limits(g: &Global, file: &FileConfig) -> Result<bindery_pdf::OpenOptions> {
    let d = bindery_pdf::OpenOptions::default();
    let limits = bindery_pdf::OpenOptions {
        max_pages: g.max_pages.or(file.max_pages).unwrap_or(d.max_pages),
        max_render_pixels: g
            .max_page_megapixels
            .or(file.max_page_megapixels)
            .map_or(d.max_render_pixels, |mp| mp.saturating_mul(1_000_000)),
        max_depth: g.max_nesting_depth.or(file.max_nesting_depth).unwrap_or(d.max_depth),
        max_entry_bytes: g.max_epub_entry_mb.or(file.max_epub_entry_mb).map_or(d.max_entry_bytes, |mb| mb << 20),
        max_unpacked_bytes: g
            .max_epub_unpacked_mb
            .or(file.max_epub_unpacked_mb)
            .map_or(d.max_unpacked_bytes, |mb| mb << 20),
    };
    let positive = [
        ("max-pages", limits.max_pages as u64),
        ("max-page-megapixels", limits.max_render_pixels),
        ("max-nesting-depth", limits.max_depth as u64),
        ("max-epub-entry-mb", limits.max_entry_bytes),
        ("max-epub-unpacked-mb", limits.max_unpacked_bytes),
    ];
    for (name, value) in positive {
        anyhow::ensure!(value > 0, "--{name} must be at least 1");
    }
    Ok(limits)
}

/// Worker settings after resolution.
pub struct Worker {
    pub concurrency: usize,
    pub queues: Vec<String>,
    pub lease: Duration,
    pub max_attempts: i32,
    pub retry_base: Duration,
}

impl Settings {
    pub fn resolve(g: &Global) -> Result<Self> {
        let file = match &g.config {
            Some(p) => {
                let text =
                    std::fs::read_to_string(p).with_context(|| format!("reading config file {}", p.display()))?;
                toml::from_str::<FileConfig>(&text).with_context(|| format!("parsing config file {}", p.display()))?
            }
            None => FileConfig::default(),
        };
        let limits = document_limits(g, &file)?;
        let data_dir = g.data_dir.clone().or(file.data_dir).unwrap_or_else(|| PathBuf::from("bindery-data"));
        let explicit = g.database_url.clone().or(file.database_url);
        let database_explicit = explicit.is_some();
        let database_url = explicit.unwrap_or_else(|| sqlite_url(&data_dir));
        let storage =
            g.storage.clone().or(file.storage).unwrap_or_else(|| data_dir.join("blobs").display().to_string());
        let log_json = match g.log_format.clone().or(file.log_format).as_deref() {
            None | Some("json") => true,
            Some("text") => false,
            Some(other) => anyhow::bail!("--log-format must be json or text, not {other:?}"),
        };
        let malloc_arenas = g.malloc_arenas.or(file.malloc_arenas).unwrap_or(2);
        let parse_memory_mb = g.parse_memory_mb.or(file.parse_memory_mb).unwrap_or(2048);
        anyhow::ensure!(parse_memory_mb >= 64, "--parse-memory-mb must be at least 64");
        let parse_timeout = g.parse_timeout_secs.or(file.parse_timeout_secs).unwrap_or(120.0);
        anyhow::ensure!(parse_timeout > 0.0, "--parse-timeout-secs must be positive");
        let image_megapixels = g.max_image_megapixels.or(file.max_image_megapixels).unwrap_or(100);
        anyhow::ensure!(image_megapixels > 0, "--max-image-megapixels must be at least 1");
        let text_mb = g.max_text_mb.or(file.max_text_mb).unwrap_or(bindery_stages::text::DEFAULT_MAX_TEXT_BYTES >> 20);
        anyhow::ensure!(text_mb > 0, "--max-text-mb must be at least 1");
        let defaults = WorkerDefaults {
            queues: file.queue,
            concurrency: file.concurrency,
            lease_secs: file.lease_secs,
            max_attempts: file.max_attempts,
            retry_base_ms: file.retry_base_ms,
        };
        Ok(Self {
            data_dir,
            database_url,
            database_explicit,
            storage,
            log_json,
            file_sinks: file.sinks,
            file_webhook_secret: file.webhook_secret,
            file_metrics_listen: file.metrics_listen,
            file_webhook_allow: file.webhook_allow,
            file_serve: crate::cli::ServeArgs {
                listen: file.listen,
                jwt_secret: file.jwt_secret,
                max_upload_mb: file.max_upload_mb,
                rate_limit: file.rate_limit,
                webhook_allow: None,
                no_worker: false,
                principal_ttl_ms: file.principal_ttl_ms,
                trusted_proxy: file.trusted_proxy,
                password_threads: file.password_threads,
                ops_listen: file.ops_listen,
            },
            analyzer: g.analyzer.clone().or(file.enrich),
            malloc_arenas,
            parse_memory_mb,
            parse_timeout: Duration::from_secs_f64(parse_timeout),
            limits,
            max_image_pixels: image_megapixels.saturating_mul(1_000_000),
            max_text_bytes: text_mb.saturating_mul(1 << 20),
            wordnet_dir: g
                .wordnet_dir
                .clone()
                .or(file.wordnet_dir)
                .unwrap_or_else(|| bindery_dictionary::DEFAULT_WORDNET_DIR.into()),
            font_dir: g.font_dir.clone().or(file.font_dir).unwrap_or_else(|| bindery_media::DEFAULT_FONT_DIR.into()),
            file: defaults,
        })
    }

    pub fn worker(&self, a: &WorkerArgs) -> Result<Worker> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let lease = a.lease_secs.or(self.file.lease_secs).unwrap_or(30.0);
        anyhow::ensure!(lease > 0.0, "--lease-secs must be positive");
        Ok(Worker {
            concurrency: a.concurrency.or(self.file.concurrency).unwrap_or(cores).max(1),
            queues: if a.queues.is_empty() { self.file.queues.clone() } else { a.queues.clone() },
            lease: Duration::from_secs_f64(lease),
            max_attempts: a.max_attempts.or(self.file.max_attempts).unwrap_or(5).max(1),
            retry_base: Duration::from_millis(a.retry_base_ms.or(self.file.retry_base_ms).unwrap_or(1000)),
        })
    }
}

impl Worker {
    /// The worker service's options for these settings; callers add what is theirs (exit when idle, metrics).
    pub fn options(&self) -> bindery_engine::worker::WorkerOptions {
        bindery_engine::worker::WorkerOptions {
            concurrency: self.concurrency,
            queues: self.queues.clone(),
            lease: self.lease,
            heartbeat: self.lease / 3,
            ..Default::default()
        }
    }
}

pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}/bindery.db?mode=rwc", dir.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn global(config: Option<PathBuf>) -> Global {
        Global { config, ..Global::default() }
    }

    #[test]
    fn defaults_then_file_then_flags() {
        let s = Settings::resolve(&global(None)).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("bindery-data"));
        assert_eq!(s.database_url, "sqlite://bindery-data/bindery.db?mode=rwc");
        assert!(!s.database_explicit);
        assert_eq!(s.storage, "bindery-data/blobs");
        assert!(s.log_json);

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bindery.toml");
        std::fs::write(
            &file,
            "data-dir = \"/srv/b\"\nstorage = \"s3://books/x\"\nconcurrency = 7\nlog-format = \"text\"\n\
             parse-memory-mb = 512\nwordnet-dir = \"/srv/wordnet\"\nqueue = [\"ocr\"]\n\
             metrics-listen = \"127.0.0.1:9100\"\nwebhook-secret = \"whsec_c2VjcmV0\"\n\
             webhook-allow = \"127.0.0.1\"\nlisten = \"0.0.0.0:9000\"\nrate-limit = 5\n",
        )
        .unwrap();
        let mut g = global(Some(file.clone()));
        let s = Settings::resolve(&g).unwrap();
        assert_eq!(
            (s.database_url.as_str(), s.storage.as_str(), s.log_json),
            ("sqlite:///srv/b/bindery.db?mode=rwc", "s3://books/x", false)
        );
        assert_eq!(s.worker(&WorkerArgs::default()).unwrap().concurrency, 7);
        assert_eq!(s.worker(&WorkerArgs::default()).unwrap().queues, ["ocr"]);
        assert_eq!(s.file_metrics_listen.as_deref(), Some("127.0.0.1:9100"));
        assert_eq!(s.file_webhook_secret.as_deref(), Some("whsec_c2VjcmV0"));
        assert_eq!(s.file_webhook_allow.as_deref(), Some("127.0.0.1"));
        assert_eq!((s.parse_memory_mb, s.parse_timeout), (512, Duration::from_secs(120)));
        assert_eq!((s.file_serve.listen.as_deref(), s.file_serve.rate_limit), (Some("0.0.0.0:9000"), Some(5)));
        assert_eq!(s.wordnet_dir, PathBuf::from("/srv/wordnet"), "from the file");
        assert_eq!(s.font_dir, PathBuf::from(bindery_media::DEFAULT_FONT_DIR), "the default");

        // A flag (or its BINDERY_* variable, which clap folds in) wins.
        g.storage = Some("/tmp/blobs".into());
        g.database_url = Some("postgres://db/b".into());
        g.font_dir = Some("/opt/fonts".into());
        let s = Settings::resolve(&g).unwrap();
        assert_eq!(s.font_dir, PathBuf::from("/opt/fonts"));
        assert_eq!(
            (s.storage.as_str(), s.database_url.as_str(), s.database_explicit),
            ("/tmp/blobs", "postgres://db/b", true)
        );
        let args = WorkerArgs {
            concurrency: Some(3),
            lease_secs: Some(1.5),
            queues: vec!["book".into()],
            ..WorkerArgs::default()
        };
        let w = s.worker(&args).unwrap();
        assert_eq!((w.concurrency, w.lease, w.max_attempts), (3, Duration::from_millis(1500), 5));
        assert_eq!(w.queues, ["book"], "the flag wins over the file");
    }

    #[test]
    fn bad_settings_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.toml");
        std::fs::write(&file, "datadir = \"typo\"\n").unwrap();
        let err = Settings::resolve(&global(Some(file))).unwrap_err();
        assert!(format!("{err:#}").contains("unknown field `datadir`"), "{err:#}");
        let g = Global { log_format: Some("xml".into()), ..Global::default() };
        assert!(Settings::resolve(&g).is_err());
        let s = Settings::resolve(&global(None)).unwrap();
        assert!(s.worker(&WorkerArgs { lease_secs: Some(0.0), ..WorkerArgs::default() }).is_err());
    }
}
