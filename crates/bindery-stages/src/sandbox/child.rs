//! The child's side: one request from the command line, answers on stdout.
//!
//! The request is one JSON argument (paths, never file contents). The child
//! prints a [`Message::Phase`] line as it moves through the file, so a crash
//! can be reported with where it happened, then exactly one
//! [`Message::Done`] or [`Message::Failed`], and exits 0. Anything else (a
//! signal, an abort, a non-zero exit, no final message) is a crash, judged
//! by the parent.

use crate::book::extract::{extract_pages, Failure};
use bindery_pdf::{Doc, DocKind, OpenOptions, PdfError};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// One piece of work on an untrusted file.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// The `extract` stage's work: the `pages` JSON Lines of a PDF or EPUB
    /// written to `out`, within the instance's per-document `limits`;
    /// answers the stage's summary.
    Extract {
        source: PathBuf,
        kind: DocKind,
        out: PathBuf,
        #[serde(default)]
        limits: OpenOptions,
    },
    /// Page images for `ocr`, `raster` and `cover`: job `i` of `jobs` is
    /// written as raw rows of pixels to `dir/i.raw`; answers a
    /// [`RenderAnswer`]. With `skip_unrenderable`, a page MuPDF refuses to
    /// render (too large, damaged) is listed in the answer's `skipped`
    /// instead of failing the request; running out of memory always fails
    /// it, since the next page would only fail the same way. The file is
    /// opened within the same per-document `limits` as for `Extract`.
    Render {
        source: PathBuf,
        kind: DocKind,
        dir: PathBuf,
        jobs: Vec<RenderJob>,
        skip_unrenderable: bool,
        #[serde(default)]
        limits: OpenOptions,
    },
    /// `raster`'s thumbnails: every page of `pages` at every width of
    /// `widths`, rendered and encoded as WebP to `dir/PAGE-WIDTH.webp`;
    /// answers a [`ThumbnailsAnswer`]. A page MuPDF refuses to render, or
    /// taller than `max_height` at a width, is listed in `skipped` with the
    /// reason; running out of memory fails the request. Encoding here keeps
    /// what crosses to the worker small, so that one child serves a whole
    /// book's pages with MuPDF's caches warm.
    Thumbnails {
        source: PathBuf,
        kind: DocKind,
        dir: PathBuf,
        pages: Vec<u32>,
        widths: Vec<u32>,
        max_height: u32,
        #[serde(default)]
        limits: OpenOptions,
    },
    /// How many pages an uploaded image holds (a TIFF may hold many, every
    /// other format one), at most `max_pages`; answers `{"pages": N}`.
    ImagePages { source: PathBuf, max_pages: u32 },
    /// Pages of an uploaded image (PNG, JPEG, TIFF, WebP) decoded to grey
    /// for `ocr`: page `pages[i]` is written as raw rows to `dir/i.raw`;
    /// answers a [`RenderAnswer`]. An image over `max_pixels` is refused
    /// before it is decoded. Images are decoded here rather than in the
    /// worker, although the decoders are memory-safe Rust, so that a bomb
    /// within the pixel limit, a decoder that loops or panics, costs this
    /// child under its time and memory limits and not the worker.
    DecodeImage { source: PathBuf, dir: PathBuf, pages: Vec<u32>, max_pixels: u64 },
}

impl Request {
    /// What the child does to the file, in words for reasons ("while
    /// rendering page 3").
    pub fn activity(&self) -> &'static str {
        match self {
            Request::Extract { .. } | Request::ImagePages { .. } => "reading",
            Request::Render { .. } | Request::Thumbnails { .. } => "rendering",
            Request::DecodeImage { .. } => "decoding",
        }
    }
}

/// One page image to render.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderJob {
    /// 1-based page number.
    pub page: u32,
    pub size: RenderSize,
}

/// How large, and in which colours, a page is rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RenderSize {
    /// Grey at a resolution, as OCR wants it.
    GreyDpi(u32),
    /// RGB, this many pixels wide, for thumbnails and covers.
    RgbWidth(u32),
}

/// The child's answer to [`Request::Render`]: for each job, the image it
/// wrote, or `None` when its page was skipped.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RenderAnswer {
    pub images: Vec<Option<Rendered>>,
    pub skipped: Vec<Skipped>,
}

/// One image written to `dir/i.raw`: `height` rows of `width` × `channels` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
}

/// The child's answer to [`Request::Thumbnails`].
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ThumbnailsAnswer {
    pub written: Vec<Thumbnail>,
    pub skipped: Vec<Skipped>,
}

/// One thumbnail written to `dir/PAGE-WIDTH.webp`, of `bytes` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Thumbnail {
    pub page: u32,
    pub width: u32,
    pub bytes: u64,
}

impl Thumbnail {
    /// The file's name in the request's folder.
    pub fn file_name(page: u32, width: u32) -> String {
        format!("{page}-{width}.webp")
    }
}

/// A page that could not be rendered, and why, in the document's terms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    pub page: u32,
    pub reason: String,
}

/// One line of the child's standard output.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Message {
    /// What the child is reading now, in words ("page 12", "the outline").
    Phase(String),
    Done(serde_json::Value),
    /// The file was refused with a reason: `memory` when MuPDF could not
    /// allocate under the limit, `retryable` when the fault was the disk's.
    Failed {
        message: String,
        retryable: bool,
        memory: bool,
    },
}

/// The argument that makes a child print its [`build_id`] and exit, so a
/// parent can check a child program before it runs any request through it.
pub const BUILD_ID_ARG: &str = "--build-id";

/// Names the child's protocol and code: the workspace's version and a hash
/// of the files that define what crosses between parent and child (this
/// file, the parent's side, and the `extract` summary). A parent runs a
/// separate child executable only if it answers the same id, so a
/// `bindery-parse` left over from another build is never spoken to; any
/// edit to those files changes the id, which errs on the side of not using
/// a child that would have been fine.
pub fn build_id() -> String {
    const PROTOCOL: u64 = fnv1a(
        fnv1a(fnv1a(0xcbf2_9ce4_8422_2325, include_bytes!("child.rs")), include_bytes!("mod.rs")),
        include_bytes!("../book/extract.rs"),
    );
    format!("{} {PROTOCOL:016x}", env!("CARGO_PKG_VERSION"))
}

/// FNV-1a, continued from `hash` over `bytes`; a `const fn`, so the id costs
/// nothing at run time.
const fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash = (hash ^ bytes[i] as u64).wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// Serves one request given as the first of `args`, then returns the
/// process's exit code. The `bindery` binary calls this for `bindery
/// __parse REQUEST`, and `bindery-parse` for `bindery-parse REQUEST`.
pub fn serve(mut args: impl Iterator<Item = OsString>) -> ExitCode {
    keep_memory();
    let first = args.next();
    if first.as_deref() == Some(BUILD_ID_ARG.as_ref()) {
        println!("{}", build_id());
        return ExitCode::SUCCESS;
    }
    let request = first.and_then(|a| a.into_string().ok()).map(|a| serde_json::from_str::<Request>(&a));
    let request = match request {
        Some(Ok(request)) => request,
        Some(Err(e)) => {
            eprintln!("bindery-parse: bad request: {e}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("usage: bindery-parse REQUEST-JSON (run by Bindery's stages, not by hand)");
            return ExitCode::from(2);
        }
    };
    let mut out = std::io::stdout().lock();
    let mut say = |m: &Message| {
        // A parent that went away cannot be told anything; the child simply ends.
        let _ = serde_json::to_writer(&mut out, m).map(|_| out.write_all(b"\n")).map(|_| out.flush());
    };
    let answer = answer(request, &mut |phase| say(&Message::Phase(phase)));
    say(&match answer {
        Ok(value) => Message::Done(value),
        Err(Failure::Pdf(e)) => {
            Message::Failed { message: e.to_string(), retryable: e.is_retryable(), memory: e.is_out_of_memory() }
        }
        Err(Failure::Io(e)) => Message::Failed { message: format!("local disk: {e}"), retryable: true, memory: false },
        Err(Failure::Refused(message)) => Message::Failed { message, retryable: false, memory: false },
    });
    ExitCode::SUCCESS
}

/// Tells glibc's allocator that this process lives for one request. By
/// default it hands freed memory back to the system as soon as 128 KiB sit
/// free at the top of the heap, and maps large buffers afresh each time, so
/// MuPDF's buffers for each page were faulted in again on every page: 37,000
/// page faults for the thumbnails of a 92-page book, and 130 ms of its
/// 640 ms (docs/benchmarks.md). Growing the heap 64 MiB at a time, never
/// trimming it, and taking buffers up to 32 MiB from it brings that to
/// 1,400 faults at the same peak, since the address-space limit still
/// bounds the child and it gives everything back when it exits.
fn keep_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets parameters of the allocator; called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_TOP_PAD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, -1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
    }
}

/// Does what `request` asks, saying what it reads through `phase`.
fn answer(request: Request, phase: &mut dyn FnMut(String)) -> Result<serde_json::Value, Failure> {
    match request {
        Request::Extract { source, kind, out: pages, limits } => extract_pages(&source, kind, &pages, &limits, phase)
            .map(|header| {
                serde_json::json!({"pages": header.pages, "ocr_pages": header.ocr_pages.len(),
                                   "outline": header.outline.len(), "title": header.title, "author": header.author,
                                   "unreadable_pages": header.unreadable_pages,
                                   "damaged_pages": header.damaged_pages, "repaired": header.repaired})
            }),
        Request::Render { source, kind, dir, jobs, skip_unrenderable, limits } => {
            render(&source, kind, &dir, &jobs, skip_unrenderable, &limits, phase)
                .map(|answer| serde_json::to_value(answer).expect("answers serialise"))
        }
        Request::Thumbnails { source, kind, dir, pages, widths, max_height, limits } => {
            thumbnails(&source, kind, &dir, &pages, &widths, max_height, &limits, phase)
                .map(|answer| serde_json::to_value(answer).expect("answers serialise"))
        }
        Request::ImagePages { source, max_pages } => std::fs::read(&source)
            .map_err(Failure::Io)
            .and_then(|bytes| bindery_media::image_pages(&bytes, max_pages).map_err(|e| image_refused(None, e)))
            .map(|pages| serde_json::json!({ "pages": pages })),
        Request::DecodeImage { source, dir, pages, max_pixels } => {
            decode_image(&source, &dir, &pages, max_pixels, phase)
                .map(|answer| serde_json::to_value(answer).expect("answers serialise"))
        }
    }
}

/// Runs `request` in this process, without any limit: only for measuring
/// what isolation costs (`bindery bench isolation`), never for an upload.
pub fn run_here(request: Request) -> Result<serde_json::Value, String> {
    answer(request, &mut |_| {}).map_err(|e| match e {
        Failure::Pdf(e) => e.to_string(),
        Failure::Refused(message) => message,
        Failure::Io(e) => format!("local disk: {e}"),
    })
}

/// Renders `jobs` one after the other, announcing each page before MuPDF
/// touches it, so a crash is reported with the page that caused it.
fn render(
    source: &Path,
    kind: DocKind,
    dir: &Path,
    jobs: &[RenderJob],
    skip_unrenderable: bool,
    limits: &OpenOptions,
    phase: &mut dyn FnMut(String),
) -> Result<RenderAnswer, Failure> {
    let doc = Doc::open(source, kind, limits.clone())?;
    let mut answer = RenderAnswer::default();
    for (i, job) in jobs.iter().enumerate() {
        phase(format!("page {}", job.page));
        let raster = match job.size {
            RenderSize::GreyDpi(dpi) => doc.render_grey(job.page, dpi),
            RenderSize::RgbWidth(width) => doc.render_rgb(job.page, width),
        };
        let raster = match raster {
            Ok(raster) => raster,
            Err(e) if skip_unrenderable && !e.is_retryable() && !e.is_out_of_memory() => {
                skip_once(&mut answer.skipped, job.page, unrenderable(e));
                answer.images.push(None);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        std::fs::write(dir.join(format!("{i}.raw")), &raster.pixels)?;
        answer.images.push(Some(Rendered { width: raster.width, height: raster.height, channels: raster.channels }));
    }
    Ok(answer)
}

/// Renders and encodes the thumbnails of `pages`, announcing each page
/// before MuPDF touches it.
#[allow(clippy::too_many_arguments)]
fn thumbnails(
    source: &Path,
    kind: DocKind,
    dir: &Path,
    pages: &[u32],
    widths: &[u32],
    max_height: u32,
    limits: &OpenOptions,
    phase: &mut dyn FnMut(String),
) -> Result<ThumbnailsAnswer, Failure> {
    let doc = Doc::open(source, kind, limits.clone())?;
    let mut answer = ThumbnailsAnswer::default();
    for &page in pages {
        phase(format!("page {page}"));
        // A page skipped at one width may still have its other thumbnails.
        for &width in widths {
            let raster = match doc.render_rgb(page, width) {
                Ok(raster) => raster,
                Err(e) if !e.is_retryable() && !e.is_out_of_memory() => {
                    skip_once(&mut answer.skipped, page, unrenderable(e));
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if raster.height > max_height {
                let (w, h) = (raster.width, raster.height);
                let reason = format!("it is {w}×{h} pixels at that width, too tall for a thumbnail");
                skip_once(&mut answer.skipped, page, reason);
                continue;
            }
            let image = bindery_media::image::RgbImage::from_raw(raster.width, raster.height, raster.pixels)
                .ok_or_else(|| Failure::Refused(format!("page {page}: MuPDF returned a malformed image")))?;
            let webp = bindery_media::encode(&image, bindery_media::ImageFormat::Webp)
                .map_err(|e| Failure::Refused(format!("page {page}: the thumbnail could not be encoded: {e}")))?;
            std::fs::write(dir.join(Thumbnail::file_name(page, width)), &webp)?;
            answer.written.push(Thumbnail { page, width, bytes: webp.len() as u64 });
        }
    }
    Ok(answer)
}

/// Lists `page` as skipped with `reason`, unless its previous job (another
/// size of the same page) already did: a page is named once.
fn skip_once(skipped: &mut Vec<Skipped>, page: u32, reason: String) {
    if skipped.last().is_none_or(|s| s.page != page) {
        skipped.push(Skipped { page, reason });
    }
}

/// Why MuPDF would not render a page, in the uploader's terms: MuPDF's own
/// words ("code: 4, message: …") mean nothing to them.
fn unrenderable(e: PdfError) -> String {
    match e {
        PdfError::Corrupt(_) => "the page could not be read (the file is damaged there)".to_owned(),
        e => e.to_string(),
    }
}

/// Decodes `pages` (1-based) of the image `source` to grey, one after the
/// other, announcing each page first so that a crash or running out of
/// memory is reported with the page.
fn decode_image(
    source: &Path,
    dir: &Path,
    pages: &[u32],
    max_pixels: u64,
    phase: &mut dyn FnMut(String),
) -> Result<RenderAnswer, Failure> {
    let bytes = std::fs::read(source)?;
    let limits = bindery_media::DecodeLimits { max_pixels, ..Default::default() };
    let mut answer = RenderAnswer::default();
    for (i, &page) in pages.iter().enumerate() {
        phase(format!("page {page} of the image"));
        let grey = bindery_media::decode_grey_page(&bytes, page.saturating_sub(1), &limits)
            .map_err(|e| image_refused(Some(page), e))?;
        std::fs::write(dir.join(format!("{i}.raw")), grey.as_raw())?;
        answer.images.push(Some(Rendered { width: grey.width(), height: grey.height(), channels: 1 }));
    }
    Ok(answer)
}

/// Why an uploaded image cannot be read, in the uploader's terms: a page
/// over the pixel limit names the setting.
fn image_refused(page: Option<u32>, e: bindery_media::MediaError) -> Failure {
    let which = page.map_or_else(|| "the image".to_owned(), |n| format!("page {n} of the image"));
    Failure::Refused(match e {
        bindery_media::MediaError::TooLarge { width, height, max_pixels, .. } => format!(
            "{which} is {width}×{height} pixels, more than the {} million pixels an image may have \
             (max-image-megapixels)",
            max_pixels.div_ceil(1_000_000)
        ),
        other => format!("{which} cannot be read: {other}"),
    })
}
