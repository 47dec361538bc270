//! A missing espeak-ng is reported as such, with an installation hint.
//!
//! Own test binary: it empties PATH, which must not affect other tests.

use bindery_media::{narrate, tool_versions, MediaError, NarrateOptions};

#[tokio::test]
async fn an_empty_path_reports_the_missing_program() {
    let empty = tempfile::tempdir().expect("tempdir");
    std::env::set_var("PATH", empty.path());
    let error = narrate("Hello there.", &NarrateOptions::default()).await.unwrap_err();
    match &error {
        MediaError::MissingTool { tool, hint } => {
            assert_eq!(*tool, "espeak-ng");
            assert!(hint.contains("install espeak-ng"), "{hint}");
        }
        other => panic!("expected MissingTool, got {other:?}"),
    }
    assert!(!error.is_retryable());
    assert!(error.to_string().contains("espeak-ng"));
    assert!(matches!(tool_versions().await, Err(MediaError::MissingTool { tool: "espeak-ng", .. })));
}
