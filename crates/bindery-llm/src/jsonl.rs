//! JSON Lines, the format of batch input, output and error files: one JSON
//! value per line, each line ended by `\n`.

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::LlmError;

/// Parses every non-blank line. A line that does not parse is a
/// [`LlmError::Malformed`] naming its 1-based number, since a file that the
/// provider wrote in the wrong shape cannot be half-trusted.
pub fn parse_jsonl<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>, LlmError> {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| !line.iter().all(u8::is_ascii_whitespace))
        .map(|(index, line)| {
            serde_json::from_slice(line).map_err(|e| LlmError::Malformed(format!("JSONL line {}: {e}", index + 1)))
        })
        .collect()
}

/// Writes each item as one line.
///
/// # Panics
///
/// If an item cannot be represented as JSON (a map with non-string keys);
/// the protocol's types never are such.
pub fn to_jsonl<T: Serialize>(items: &[T]) -> Bytes {
    let mut out = Vec::new();
    for item in items {
        serde_json::to_writer(&mut out, item).expect("an item of a JSONL file must serialise to JSON");
        out.push(b'\n');
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{BatchRequestLine, ChatRequest, Message};

    #[test]
    fn round_trip_skips_blank_lines() {
        let lines = vec![
            BatchRequestLine::chat("a", ChatRequest::new("m", vec![Message::user("one\ntwo")])),
            BatchRequestLine::chat("b", ChatRequest::new("m", vec![Message::user("three")])),
        ];
        let bytes = to_jsonl(&lines);
        assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 2, "newlines inside strings are escaped");
        let mut padded = bytes.to_vec();
        padded.extend_from_slice(b"\r\n\n");
        assert_eq!(parse_jsonl::<BatchRequestLine>(&padded).unwrap(), lines);
    }

    #[test]
    fn a_bad_line_is_named() {
        let err = parse_jsonl::<serde_json::Value>(b"{}\n{\"a\":\n").unwrap_err();
        assert!(matches!(&err, LlmError::Malformed(m) if m.starts_with("JSONL line 2")), "{err}");
    }
}
