//! Untrusted files are parsed in a child process with limits.
//!
//! MuPDF is C. A hostile file can make it overflow its stack, dereference
//! garbage, loop for hours or allocate gigabytes, and inside the worker any
//! of these kills every job the process runs, then again on each retry. So
//! the stages hand MuPDF's work on an upload to a child process: the
//! `bindery` binary itself (`bindery __parse`, see `main.rs`), or the
//! `bindery-parse` binary of this crate for tests and other embedders. The
//! parent passes paths, never bytes, and the child answers on its standard
//! output with JSON lines (see [`child`]). Uploaded images are decoded in a
//! child too: their decoders are memory-safe Rust, but a bomb within the
//! pixel limit or a decoder that loops should cost a child, not the worker.
//!
//! The child runs with an address-space limit (`RLIMIT_AS`), a processor-time
//! limit (`RLIMIT_CPU`, a backstop for a child whose parent died), no core
//! dumps, in its own process group, and it dies with the thread that started
//! it (`PR_SET_PDEATHSIG`). At the wall-clock deadline the parent kills the
//! whole group and reaps it before answering, so a timed-out attempt never
//! runs beside its retry. Whatever ends the child badly (a signal, an abort,
//! the memory limit, the deadline) is the file's doing and fails the
//! document permanently at the first occurrence, with a reason its uploader
//! can act on; the worker itself carries on.

pub mod child;

use bindery_pipeline::StageError;
use std::ffi::OsString;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

pub use child::{
    build_id, serve, Message, RenderAnswer, RenderJob, RenderSize, Rendered, Request, Skipped, Thumbnail,
    ThumbnailsAnswer,
};

/// The name of this crate's child binary, looked for beside the running
/// executable when no program is configured.
pub const PARSE_EXE: &str = "bindery-parse";

/// Settings of the child that parses uploads. The `bindery` binary exposes
/// them as `--parse-memory-mb` and `--parse-timeout-secs` (variables
/// `BINDERY_PARSE_MEMORY_MB`, `BINDERY_PARSE_TIMEOUT_SECS`, config keys
/// `parse-memory-mb`, `parse-timeout-secs`); refusals name those settings.
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// The program to run, and the arguments before the request.
    pub program: PathBuf,
    pub args: Vec<OsString>,
    /// The child's address space, in bytes. MuPDF lays out a whole EPUB
    /// chapter at once; 2 GiB reads any real book.
    pub memory: u64,
    /// How long one parse may take. Processor time is limited to the same
    /// number of seconds, plus one.
    pub timeout: Duration,
    /// The per-document limits (pages, nesting, unpacked sizes, pixels per
    /// page) handed to every request; the `bindery` binary's `max-*`
    /// settings, `max-page-megapixels` included.
    pub limits: bindery_pdf::OpenOptions,
    /// The most pixels a page of an uploaded image may have, checked in the
    /// child before the image is decoded.
    pub max_image_pixels: u64,
    /// The most bytes a text upload may have (`max-text-mb`). Texts are not
    /// parsed in the child: decoding and cleaning a text is safe Rust whose
    /// memory and time are linear in this.
    pub max_text_bytes: u64,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        Self {
            program: locate(PARSE_EXE),
            args: Vec::new(),
            memory: 2 << 30,
            timeout: Duration::from_secs(120),
            limits: bindery_pdf::OpenOptions::default(),
            max_image_pixels: 100_000_000,
            max_text_bytes: crate::text::DEFAULT_MAX_TEXT_BYTES,
        }
    }
}

/// `name` beside the running executable, or in its parent folder (test
/// binaries live in `target/debug/deps`, the crate's binaries in
/// `target/debug`); the first when neither exists, so the error names it.
pub fn locate(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let beside = exe.with_file_name(name);
    let above = exe.parent().and_then(Path::parent).map(|dir| dir.join(name));
    match above {
        Some(above) if !beside.exists() && above.exists() => above,
        _ => beside,
    }
}

/// Whether `program` is a child of this very build: it is run once with
/// [`child::BUILD_ID_ARG`] and must print this build's [`build_id`] within
/// five seconds. The error says why not, in words for a log line. The
/// `bindery` binary uses this at start to prefer the small `bindery-parse`
/// beside it (it starts in a sixth of the time) over running itself again.
pub fn check_build(program: &Path) -> Result<(), String> {
    use std::io::Read;
    let mut child = std::process::Command::new(program)
        .arg(child::BUILD_ID_ARG)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", program.display()))?;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if std::time::Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{} did not answer within 5 s", program.display()));
            }
            Err(e) => return Err(format!("waiting for {}: {e}", program.display())),
        }
    };
    // The answer is one short line, written before the child exited; a
    // pipe holds it whole, so reading after the exit cannot block.
    let mut answer = String::new();
    let read = child.stdout.take().expect("piped").take(256).read_to_string(&mut answer);
    let expected = build_id();
    match (status.success(), read) {
        (true, Ok(_)) if answer.trim_end() == expected => Ok(()),
        (true, Ok(_)) => Err(format!(
            "{} is from another build (it answered {:?}, this build is {expected:?})",
            program.display(),
            answer.trim_end()
        )),
        _ => Err(format!("{} did not say which build it is ({status})", program.display())),
    }
}

/// Runs requests in children; cheap to clone.
#[derive(Clone, Debug, Default)]
pub struct Sandbox(Arc<SandboxOptions>);

/// The child's standard output is read up to this many bytes, and the tail
/// of its standard error kept to this many: a compromised child cannot make
/// the parent buffer without bound.
const MAX_STDOUT: u64 = 16 << 20;

/// The largest thumbnail file the parent accepts from a child: a WebP at
/// 360 pixels wide and at most 16,383 tall is far smaller.
pub const MAX_THUMBNAIL_BYTES: u64 = 16 << 20;
const STDERR_TAIL: usize = 8 << 10;

impl Sandbox {
    pub fn new(options: SandboxOptions) -> Self {
        Self(Arc::new(options))
    }

    pub fn options(&self) -> &SandboxOptions {
        &self.0
    }

    /// Runs `request` in a child and returns what it answered, or why the
    /// file could not be read.
    pub async fn run(&self, request: &Request) -> Result<serde_json::Value, StageError> {
        let o = &*self.0;
        let mut cmd = tokio::process::Command::new(&o.program);
        cmd.args(&o.args)
            .arg(serde_json::to_string(request).expect("requests serialise"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .process_group(0);
        let (memory, cpu, parent) = (o.memory, o.timeout.as_secs() + 1, std::process::id() as libc::pid_t);
        // SAFETY: the closure runs in the forked child before exec and calls only async-signal-safe functions
        // (setrlimit, prctl, getppid); it allocates nothing.
        unsafe {
            cmd.pre_exec(move || limit_child(memory, cpu, parent));
        }
        let mut child = cmd.spawn().map_err(|e| {
            StageError::Retryable(format!("cannot start the document reader {}: {e}", o.program.display()))
        })?;
        let group = GroupKill(child.id().map(|pid| pid as libc::pid_t));
        let stdout = read_messages(child.stdout.take().expect("piped"));
        let stderr = read_tail(child.stderr.take().expect("piped"));
        let finished = tokio::time::timeout(o.timeout, async {
            let (messages, tail, status) = tokio::join!(stdout, stderr, child.wait());
            (messages, tail, status)
        })
        .await;
        let activity = request.activity();
        let Ok((messages, tail, status)) = finished else {
            group.kill();
            let _ = child.wait().await;
            // Reaped: its process group number may be reused from now on, so it is not killed again.
            group.disarm();
            return Err(StageError::Permanent(format!(
                "{activity} this file took longer than {} s (the limit set by parse-timeout-secs)",
                o.timeout.as_secs_f64()
            )));
        };
        // Reaped: its process group number may be reused from now on.
        group.disarm();
        let status = status.map_err(|e| StageError::Retryable(format!("waiting for the document reader: {e}")))?;
        let (phase, last) = messages;
        let phase = Phase { activity, part: phase.as_deref() };
        match (status.code(), last) {
            (Some(0), Some(Message::Done(value))) => Ok(value),
            (Some(0), Some(Message::Failed { message, retryable: true, .. })) => Err(StageError::Retryable(message)),
            (Some(0), Some(Message::Failed { memory: true, .. })) => Err(self.out_of_memory(phase)),
            (Some(0), Some(Message::Failed { message, .. })) => Err(StageError::Permanent(message)),
            _ => Err(self.crashed(status, phase, &tail)),
        }
    }

    /// Renders `jobs` of the paged document `source` in one child, into
    /// `dir`, and reads the images back. Images the child claims are checked
    /// against what it wrote, so a confused child cannot make the worker
    /// read past a file or allocate without bound.
    pub async fn render(
        &self,
        source: &Path,
        kind: bindery_pdf::DocKind,
        dir: &Path,
        jobs: &[RenderJob],
        skip_unrenderable: bool,
    ) -> Result<(Vec<Option<Image>>, Vec<Skipped>), StageError> {
        let request = Request::Render {
            source: source.to_owned(),
            kind,
            dir: dir.to_owned(),
            jobs: jobs.to_vec(),
            skip_unrenderable,
            limits: self.0.limits.clone(),
        };
        let answer: RenderAnswer = serde_json::from_value(self.run(&request).await?).map_err(nonsense)?;
        let pages: Vec<u32> = jobs.iter().map(|job| job.page).collect();
        let images = read_images(dir, &pages, answer.images, 3 * self.0.limits.max_render_pixels).await?;
        Ok((images, answer.skipped))
    }

    /// Renders and encodes the thumbnails of `pages` at `widths` in one
    /// child, into `dir`, and returns each written file with its page and
    /// width, checked against what the child claims (a requested page and
    /// width, the file's size, at most [`MAX_THUMBNAIL_BYTES`]), and the
    /// pages skipped with their reasons.
    pub async fn thumbnails(
        &self,
        source: &Path,
        kind: bindery_pdf::DocKind,
        dir: &Path,
        pages: &[u32],
        widths: &[u32],
        max_height: u32,
    ) -> Result<(Vec<(Thumbnail, PathBuf)>, Vec<Skipped>), StageError> {
        let request = Request::Thumbnails {
            source: source.to_owned(),
            kind,
            dir: dir.to_owned(),
            pages: pages.to_vec(),
            widths: widths.to_vec(),
            max_height,
            limits: self.0.limits.clone(),
        };
        let answer: ThumbnailsAnswer = serde_json::from_value(self.run(&request).await?).map_err(nonsense)?;
        let mut written = Vec::with_capacity(answer.written.len());
        for thumb in answer.written {
            if !pages.contains(&thumb.page) || !widths.contains(&thumb.width) || thumb.bytes > MAX_THUMBNAIL_BYTES {
                return Err(nonsense(format!("a thumbnail nobody asked for: {thumb:?}")));
            }
            let path = dir.join(Thumbnail::file_name(thumb.page, thumb.width));
            let found = tokio::fs::metadata(&path).await.map_err(crate::book::io)?.len();
            if found != thumb.bytes {
                return Err(nonsense(format!("thumbnail {path:?} has {found} bytes, not {}", thumb.bytes)));
            }
            written.push((thumb, path));
        }
        Ok((written, answer.skipped))
    }

    /// How many pages the uploaded image `source` holds, counted in a child
    /// (a TIFF's pages are a chain of directories the file controls).
    pub async fn image_pages(&self, source: &Path) -> Result<u32, StageError> {
        let request = Request::ImagePages { source: source.to_owned(), max_pages: self.0.limits.max_pages };
        let answer = self.run(&request).await?;
        answer["pages"].as_u64().and_then(|n| u32::try_from(n).ok()).ok_or_else(|| nonsense(answer))
    }

    /// Decodes `pages` (1-based) of the uploaded image `source` to grey in
    /// one child, into `dir`, and reads them back, checked as rendered pages
    /// are.
    pub async fn decode_image(&self, source: &Path, dir: &Path, pages: &[u32]) -> Result<Vec<Image>, StageError> {
        let request = Request::DecodeImage {
            source: source.to_owned(),
            dir: dir.to_owned(),
            pages: pages.to_vec(),
            max_pixels: self.0.max_image_pixels,
        };
        let answer: RenderAnswer = serde_json::from_value(self.run(&request).await?).map_err(nonsense)?;
        let images = read_images(dir, pages, answer.images, self.0.max_image_pixels).await?;
        // Every page is decoded or the request fails: there is no skipping.
        images.into_iter().map(|image| image.ok_or_else(|| nonsense("a page of the image was skipped"))).collect()
    }

    fn out_of_memory(&self, phase: Phase) -> StageError {
        let mib = self.0.memory >> 20;
        StageError::Permanent(match (phase.activity, phase.part) {
            ("rendering", Some(page)) => {
                format!("{page} needs more than {mib} MiB to render (the limit set by parse-memory-mb)")
            }
            ("rendering", None) => {
                format!("a page needs more than {mib} MiB to render (the limit set by parse-memory-mb)")
            }
            ("decoding", Some(page)) => {
                format!("{page} needs more than {mib} MiB to decode (the limit set by parse-memory-mb)")
            }
            _ => format!("reading this file needed more than {mib} MiB of memory (the limit set by parse-memory-mb)"),
        })
    }

    /// Why the child ended without an answer, in words about the file.
    fn crashed(&self, status: std::process::ExitStatus, phase: Phase, stderr: &str) -> StageError {
        if stderr.contains("memory allocation of") {
            return self.out_of_memory(phase);
        }
        let activity = phase.activity;
        let part = phase.part.unwrap_or("the start of the file");
        if stderr.contains("has overflowed its stack") {
            return StageError::Permanent(format!(
                "the file is nested too deeply for the document reader (it ran out of stack while {activity} {part})"
            ));
        }
        let cpu = self.0.timeout.as_secs() + 1;
        StageError::Permanent(match status.signal() {
            Some(libc::SIGXCPU) | Some(libc::SIGKILL) => format!(
                "{activity} this file used more than {cpu} s of processor time or was stopped by the system \
                 (the limit set by parse-timeout-secs)"
            ),
            Some(signal) => format!(
                "the file made the document reader crash (signal {signal}) while {activity} {part}; \
                 it is probably damaged"
            ),
            None => format!(
                "the document reader stopped unexpectedly ({status}) while {activity} {part}; \
                 the file is probably damaged"
            ),
        })
    }
}

/// Where the child was when it ended: what it was doing, and the part of
/// the file it last announced ("page 12"), if any.
#[derive(Clone, Copy)]
struct Phase<'a> {
    activity: &'static str,
    part: Option<&'a str>,
}

/// A page image read back from a render child.
#[derive(Clone, Debug)]
pub struct Image {
    pub page: u32,
    pub width: u32,
    pub height: u32,
    /// Packed rows: one byte per pixel in grey, three in RGB.
    pub pixels: Vec<u8>,
}

/// Reads back the images a child says it wrote to `dir/i.raw`, one per
/// page of `pages`, checking each against the file's size and `most` bytes
/// before reading it, so a confused child cannot make the worker read past
/// a file or allocate without bound.
async fn read_images(
    dir: &Path,
    pages: &[u32],
    written: Vec<Option<Rendered>>,
    most: u64,
) -> Result<Vec<Option<Image>>, StageError> {
    if written.len() != pages.len() {
        return Err(nonsense(format!("{} images for {} pages", written.len(), pages.len())));
    }
    let mut images = Vec::with_capacity(pages.len());
    for (i, rendered) in written.into_iter().enumerate() {
        let Some(r) = rendered else {
            images.push(None);
            continue;
        };
        let path = dir.join(format!("{i}.raw"));
        let expected = r.width as u64 * r.height as u64 * r.channels as u64;
        let found = tokio::fs::metadata(&path).await.map_err(crate::book::io)?.len();
        if !matches!(r.channels, 1 | 3) || found != expected || expected > most {
            return Err(nonsense(format!("page image {i} has {found} bytes, not {expected}")));
        }
        let pixels = tokio::fs::read(&path).await.map_err(crate::book::io)?;
        // The image is in memory now; the next batch reuses the folder.
        tokio::fs::remove_file(&path).await.map_err(crate::book::io)?;
        images.push(Some(Image { page: pages[i], width: r.width, height: r.height, pixels }));
    }
    Ok(images)
}

fn nonsense(e: impl std::fmt::Display) -> StageError {
    StageError::Permanent(format!("the document reader answered nonsense: {e}"))
}

/// Kills a child's whole process group when dropped armed: at the deadline,
/// and when the stage's future is dropped (the engine's own timeout, a
/// shutdown) while the child runs.
struct GroupKill(Option<libc::pid_t>);

impl GroupKill {
    fn kill(&self) {
        if let Some(pgid) = self.0 {
            // SAFETY: plain system call; the group was created for this child and is not reaped yet.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }

    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for GroupKill {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The limits, set in the child between fork and exec.
fn limit_child(memory: u64, cpu_secs: u64, parent: libc::pid_t) -> std::io::Result<()> {
    let set = |resource, soft: u64, hard: u64| {
        let limit = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
        // SAFETY: a valid rlimit passed by reference to a plain system call.
        if unsafe { libc::setrlimit(resource, &limit) } == 0 {
            Ok(())
        } else {
            Err(std::io::Error::last_os_error())
        }
    };
    set(libc::RLIMIT_AS, memory, memory)?;
    // SIGXCPU at the soft limit, SIGKILL a second later if it is ignored.
    set(libc::RLIMIT_CPU, cpu_secs, cpu_secs + 1)?;
    // A crash on a hostile file must not write gigabytes of core.
    set(libc::RLIMIT_CORE, 0, 0)?;
    #[cfg(target_os = "linux")]
    {
        // Dies with the thread that started it (a runtime thread, which lives as long as the worker), and checks
        // the parent did not die before that was set.
        // SAFETY: plain system calls.
        unsafe {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            if libc::getppid() != parent {
                return Err(std::io::Error::other("the worker went away"));
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = parent;
    Ok(())
}

/// Reads the child's messages: the last phase it announced (for crash
/// reports) and its final answer, if it gave one.
async fn read_messages(stdout: impl AsyncRead + Unpin) -> (Option<String>, Option<Message>) {
    let mut lines = BufReader::new(stdout.take(MAX_STDOUT)).lines();
    let (mut phase, mut last) = (None, None);
    while let Ok(Some(line)) = lines.next_line().await {
        match serde_json::from_str::<Message>(&line) {
            Ok(Message::Phase(p)) => phase = Some(p),
            Ok(m) => last = Some(m),
            Err(_) => {}
        }
    }
    (phase, last)
}

/// The last few kilobytes of the child's standard error: where the Rust
/// runtime says it ran out of memory or stack before it aborts.
async fn read_tail(stderr: impl AsyncRead + Unpin) -> String {
    let mut stderr = stderr;
    let (mut tail, mut buf) = (Vec::new(), vec![0u8; 8192]);
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        tail.extend_from_slice(&buf[..n]);
        if tail.len() > STDERR_TAIL {
            tail.drain(..tail.len() - STDERR_TAIL);
        }
    }
    String::from_utf8_lossy(&tail).into_owned()
}
