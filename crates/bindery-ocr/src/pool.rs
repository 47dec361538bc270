//! [`recognize_pages`]: OCR of a whole book on every core with bounded memory and results in page order.
//!
//! Each of `threads` OS threads owns one [`Engine`] for the whole run, because loading models per page would cost more
//! than recognising most pages. Page images are large (a 300 dpi page is ~9 MB of grey pixels), so the page source is
//! only pulled when fewer than `2 × threads` pages are "in flight" (pulled but not yet delivered to the caller); a slow
//! page therefore stalls the source instead of letting decoded images pile up behind it.

use std::collections::BTreeMap;
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread;

use crate::engine::Engine;
use crate::error::OcrError;
use crate::{GreyImage, OcrOptions, OcrPage};

/// Recognises `pages` with `threads` engines in parallel and calls `on_page(index, result)` on the calling thread for
/// every page, in page order (index 0, 1, 2, …), as soon as all earlier pages are done.
///
/// A page whose source item is `Err` is reported as that error at its index; a page Tesseract fails on is reported as
/// its error; neither stops the run. The function itself fails only when an engine cannot be created (nothing has been
/// pulled from `pages` then) or when a worker thread panicked. `threads` is clamped to at least 1. The page source runs
/// on its own thread, so decoding the next pages overlaps with recognition.
pub fn recognize_pages<I, F>(opts: &OcrOptions, threads: usize, pages: I, mut on_page: F) -> Result<(), OcrError>
where
    I: Iterator<Item = Result<GreyImage, OcrError>> + Send,
    F: FnMut(usize, Result<OcrPage, OcrError>),
{
    let engines = create_engines(opts, threads.max(1))?;
    let window = engines.len() * 2;

    // Credits bound the pages in flight: the feeder takes one before pulling a page, the caller's thread returns one
    // after delivering a page. The channel starts full.
    let (credit_tx, credit_rx) = mpsc::sync_channel::<()>(window);
    for _ in 0..window {
        credit_tx.send(()).expect("the receiver is alive");
    }
    // Both channels are unbounded on paper but never hold more than `window` items because of the credits. Source
    // errors travel through the job channel too, so that only workers hold result senders: when every worker has
    // exited, the result channel closes and the caller's loop ends, whatever happened.
    let (job_tx, job_rx) = mpsc::channel::<Job>();
    let job_rx = Arc::new(Mutex::new(job_rx));
    let (result_tx, result_rx) = mpsc::channel::<(usize, Result<OcrPage, OcrError>)>();

    thread::scope(move |scope| {
        let feeder = scope.spawn(move || {
            let mut pages = pages;
            let mut pulled = 0usize;
            // The credit is taken *before* pulling, so no page waits in memory for a credit. A closed channel means the
            // caller's side is gone (on_page panicked, or every worker died): stop pulling pages.
            while credit_rx.recv().is_ok() {
                let Some(item) = pages.next() else { break };
                if job_tx.send((pulled, item)).is_err() {
                    break;
                }
                pulled += 1;
            }
            // Dropping job_tx here tells the workers that no more pages come.
            pulled
        });
        let workers: Vec<_> = engines
            .into_iter()
            .map(|engine| {
                let (jobs, results) = (Arc::clone(&job_rx), result_tx.clone());
                scope.spawn(move || work(engine, &jobs, &results))
            })
            .collect();
        // Only the workers may keep these ends open, so the job queue dies with the last worker and the result channel
        // closes once every worker is done.
        drop((job_rx, result_tx));

        let mut pending = BTreeMap::new();
        let mut next = 0usize;
        for (index, result) in result_rx {
            pending.insert(index, result);
            while let Some(result) = pending.remove(&next) {
                on_page(next, result);
                next += 1;
                // The feeder may already have finished and dropped its receiver; that is fine.
                let _ = credit_tx.send(());
            }
        }
        // Unblocks a feeder still waiting for a credit if every worker died.
        drop(credit_tx);

        let pulled = feeder.join().unwrap_or(usize::MAX);
        // Join every worker (no short-circuit), so none outlives the report.
        let mut healthy = true;
        for worker in workers {
            healthy &= worker.join().unwrap_or(false);
        }
        // Pages stuck behind a page that never came back are still delivered, in order, before failing the run.
        for (index, result) in std::mem::take(&mut pending) {
            on_page(index, result);
            healthy = false;
        }
        if healthy && next == pulled {
            Ok(())
        } else {
            Err(OcrError::WorkerPanicked)
        }
    })
}

/// A page as handed to a worker: its index in the book and the image (or the source's error for it).
type Job = (usize, Result<GreyImage, OcrError>);

/// Creates the engines in parallel (model loading is CPU-bound) and fails fast if any of them cannot be created.
fn create_engines(opts: &OcrOptions, threads: usize) -> Result<Vec<Engine>, OcrError> {
    thread::scope(|scope| {
        let handles: Vec<_> = (0..threads).map(|_| scope.spawn(|| Engine::new(opts))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or(Err(OcrError::WorkerPanicked))).collect()
    })
}

/// A worker: takes pages until the feeder is done and recognises each with this thread's engine. Returns false if
/// recognition panicked; that page is then reported as [`OcrError::WorkerPanicked`] and the worker stops, because an
/// engine interrupted mid-page is not trusted again.
fn work(mut engine: Engine, jobs: &Mutex<Receiver<Job>>, results: &Sender<(usize, Result<OcrPage, OcrError>)>) -> bool {
    loop {
        // The lock is held only while waiting for the next page, never while recognising, so workers do not serialise.
        // A poisoned lock cannot happen (nothing panics while holding it), but stopping is the safe answer anyway.
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return true,
        };
        let Ok((index, item)) = job else { return true };
        let (result, survived) = match item {
            Err(err) => (Err(err), true),
            Ok(image) => match panic::catch_unwind(AssertUnwindSafe(|| {
                engine.recognize(&image.pixels, image.width, image.height)
            })) {
                Ok(result) => (result, true),
                Err(_) => (Err(OcrError::WorkerPanicked), false),
            },
        };
        // The image was dropped above, before blocking on anything, which keeps the memory bound honest.
        if results.send((index, result)).is_err() || !survived {
            return survived;
        }
    }
}
