//! A narration that runs out of time is killed and reaped.
//!
//! This lives in its own test binary (its own process) so that no other test's
//! espeak-ng or ffmpeg can be mistaken for a leftover child.

mod common;

use std::time::Duration;

use bindery_media::{narrate, MediaError, NarrateOptions};

/// Children of this process, zombies included, as (pid, command name).
fn children() -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("procfs").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // The command name is parenthesised and may itself hold spaces, so split after the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        if fields.get(1).and_then(|ppid| ppid.parse::<u32>().ok()) == Some(me) {
            found.push((stat[..open].trim().parse().unwrap_or(0), stat[open + 1..close].to_owned()));
        }
    }
    found
}

#[tokio::test]
async fn a_one_millisecond_timeout_kills_both_children() {
    if !common::tools_present() {
        return;
    }
    assert!(children().is_empty(), "unexpected children before the test: {:?}", children());
    let text = "This sentence would take several seconds to speak, far longer than a millisecond. ".repeat(20);
    let opts = NarrateOptions { timeout: Duration::from_millis(1), ..NarrateOptions::for_language("en") };
    let error = narrate(&text, &opts).await.unwrap_err();
    match &error {
        MediaError::Timeout { after, .. } => assert_eq!(*after, Duration::from_millis(1)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(error.is_retryable());
    assert_eq!(children(), Vec::new(), "espeak-ng/ffmpeg left behind");
}
