//! The sandbox's judgement of a child that ends badly, with shell scripts
//! standing in for MuPDF: a crash, an abort for memory, a deadline passed
//! by a process group that spawned more processes. Each is a permanent
//! failure whose reason names the problem and, for limits, the setting.
//! The real parser on real hostile files is tested end to end in
//! `crates/bindery/tests/hostile.rs`.

use bindery_pipeline::StageError;
use bindery_stages::sandbox::{Request, Sandbox, SandboxOptions};
use std::time::{Duration, Instant};

/// A sandbox whose child is `sh -c SCRIPT` (the request arrives as `$1`).
fn shell(script: &str, timeout: Duration) -> Sandbox {
    Sandbox::new(SandboxOptions {
        program: "/bin/sh".into(),
        args: vec!["-c".into(), script.into(), "sh".into()],
        memory: 1 << 30,
        timeout,
        ..Default::default()
    })
}

fn request() -> Request {
    Request::Extract {
        source: "/nonexistent.pdf".into(),
        kind: bindery_pdf::DocKind::Pdf,
        out: "/tmp/x".into(),
        limits: Default::default(),
    }
}

async fn permanent(sandbox: Sandbox) -> String {
    match sandbox.run(&request()).await {
        Err(StageError::Permanent(reason)) => reason,
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

#[tokio::test]
async fn a_crash_is_the_files_fault_and_says_where_it_happened() {
    let reason = permanent(shell(r#"echo '{"phase":"page 7"}'; kill -SEGV $$"#, Duration::from_secs(10))).await;
    assert_eq!(
        reason,
        "the file made the document reader crash (signal 11) while reading page 7; it is probably damaged"
    );
}

#[tokio::test]
async fn an_allocation_failure_names_the_memory_limit() {
    let script = "echo 'memory allocation of 4294967296 bytes failed' >&2; kill -ABRT $$";
    let reason = permanent(shell(script, Duration::from_secs(10))).await;
    assert_eq!(reason, "reading this file needed more than 1024 MiB of memory (the limit set by parse-memory-mb)");
}

#[tokio::test]
async fn the_memory_limit_is_the_childs_address_space() {
    // The shell reports its own limit in KiB.
    let sandbox = shell(r#"printf '{"done":%s}\n' "$(ulimit -v)""#, Duration::from_secs(10));
    assert_eq!(sandbox.run(&request()).await, Ok(serde_json::json!(1 << 20)));
}

#[tokio::test]
async fn the_deadline_kills_the_whole_process_group_before_answering() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild");
    let script = format!("sleep 60 & echo $! > {}; wait", pid_file.display());
    let started = Instant::now();
    let reason = permanent(shell(&script, Duration::from_millis(500))).await;
    assert!(started.elapsed() < Duration::from_secs(10), "answered at the deadline");
    assert_eq!(reason, "reading this file took longer than 0.5 s (the limit set by parse-timeout-secs)");
    let grandchild: i32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    // The grandchild was killed with its group; once its parent shell is gone, init reaps it. Give it a moment.
    let gone = (0..50).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        !std::path::Path::new(&format!("/proc/{grandchild}")).exists()
            || std::fs::read_to_string(format!("/proc/{grandchild}/stat")).is_ok_and(|s| s.contains(") Z "))
    });
    assert!(gone, "the grandchild {grandchild} kept running after the deadline");
}

#[tokio::test]
async fn a_missing_reader_is_the_installations_fault_not_the_files() {
    let sandbox = Sandbox::new(SandboxOptions { program: "/nonexistent/bindery-parse".into(), ..Default::default() });
    match sandbox.run(&request()).await {
        Err(StageError::Retryable(reason)) => assert!(reason.contains("cannot start the document reader"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// A child program is checked before use: the crate's own `bindery-parse`
/// answers this build's id; a missing program, or one that answers
/// anything else, is refused with the reason.
#[test]
fn a_child_program_is_used_only_if_it_is_from_this_build() {
    use bindery_stages::sandbox::{build_id, check_build};
    assert_eq!(check_build(std::path::Path::new(env!("CARGO_BIN_EXE_bindery-parse"))), Ok(()));
    assert!(build_id().starts_with(env!("CARGO_PKG_VERSION")), "{}", build_id());
    let missing = check_build(std::path::Path::new("/nonexistent/bindery-parse")).unwrap_err();
    assert!(missing.contains("cannot start"), "{missing}");
    // `echo --build-id` answers "--build-id": a program, but not this build.
    let other = check_build(std::path::Path::new("/bin/echo")).unwrap_err();
    assert!(other.contains("is from another build"), "{other}");
    let silent = check_build(std::path::Path::new("/bin/false")).unwrap_err();
    assert!(silent.contains("did not say which build"), "{silent}");
}

#[tokio::test]
async fn the_real_reader_refuses_a_deep_outline_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("source.pdf");
    bindery_pdf::fixtures::deep_outline_pdf(&pdf, 20_000);
    let sandbox =
        Sandbox::new(SandboxOptions { program: env!("CARGO_BIN_EXE_bindery-parse").into(), ..Default::default() });
    let request = Request::Extract {
        source: pdf,
        kind: bindery_pdf::DocKind::Pdf,
        out: dir.path().join("pages.jsonl"),
        limits: Default::default(),
    };
    match sandbox.run(&request).await {
        Err(StageError::Permanent(reason)) => assert!(reason.contains("nested more than 256 levels deep"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

/// The real reader renders and encodes a book's thumbnails in one child; a
/// child that claims a thumbnail nobody asked for, or a size its file does
/// not have, is not believed.
#[tokio::test]
async fn thumbnails_are_encoded_in_the_child_and_checked_by_the_parent() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("source.pdf");
    bindery_pdf::fixtures::blank_pdf(&pdf, 3);
    let reader =
        Sandbox::new(SandboxOptions { program: env!("CARGO_BIN_EXE_bindery-parse").into(), ..Default::default() });
    let kind = bindery_pdf::DocKind::Pdf;
    let (written, skipped) = reader.thumbnails(&pdf, kind, dir.path(), &[1, 3], &[120, 360], 16_383).await.unwrap();
    assert!(skipped.is_empty(), "{skipped:?}");
    let made: Vec<(u32, u32)> = written.iter().map(|(t, _)| (t.page, t.width)).collect();
    assert_eq!(made, [(1, 120), (1, 360), (3, 120), (3, 360)]);
    for (_, path) in &written {
        assert!(std::fs::read(path).unwrap().starts_with(b"RIFF"), "a WebP file: {path:?}");
    }
    // A page taller than the limit at a width is skipped with the reason.
    let (written, skipped) = reader.thumbnails(&pdf, kind, dir.path(), &[2], &[120, 360], 200).await.unwrap();
    assert_eq!(written.iter().map(|(t, _)| t.width).collect::<Vec<_>>(), [120]);
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].reason.ends_with("too tall for a thumbnail"), "{:?}", skipped[0]);

    let liar = |answer: &str| {
        let script = format!("echo 'x' > '{}/9-120.webp'; echo '{{\"done\":{answer}}}'", dir.path().display());
        shell(&script, Duration::from_secs(10))
    };
    for answer in [
        r#"{"written":[{"page":9,"width":120,"bytes":2}],"skipped":[]}"#,
        r#"{"written":[{"page":1,"width":120,"bytes":2000}],"skipped":[]}"#,
    ] {
        match liar(answer).thumbnails(&pdf, kind, dir.path(), &[1], &[120], 16_383).await {
            Err(StageError::Permanent(reason)) => assert!(reason.contains("answered nonsense"), "{reason}"),
            other => panic!("{answer}: {other:?}"),
        }
    }
}
