//! How deeply an EPUB's markup nests, measured without building a tree.
//!
//! MuPDF lays out XHTML by recursion, one C stack frame (or several) per
//! element level, so a one-kilobyte chapter of a few thousand nested `<div>`s
//! overflows any thread's stack and kills the whole process. Its own XML
//! parser stops at 4,096 levels, far beyond what its layout survives, and
//! its HTML5 fallback has no limit at all. This scanner reads each markup
//! entry of the archive as a stream of bytes, keeps only the names of the
//! open elements, and stops at the first element that goes past the limit,
//! so the refusal costs a pass over the bytes and never more memory than the
//! limit's worth of names.
//!
//! It is deliberately forgiving of HTML that is not XML: void elements
//! (`<br>`) need no slash, an end tag closes the open elements it encloses,
//! and a `<p>` or `<li>` opened right after another closes it, as HTML
//! parsers do. Anything it does not understand is treated as text.

use std::io::{self, BufRead};

/// Elements HTML never closes.
const VOID: &[&[u8]] = &[
    b"area", b"base", b"br", b"col", b"embed", b"hr", b"img", b"input", b"link", b"meta", b"param", b"source",
    b"track", b"wbr",
];

/// Elements whose start tag closes an open sibling of the same name.
const IMPLIED_END: &[&[u8]] = &[b"p", b"li", b"dt", b"dd", b"tr", b"td", b"th", b"option"];

/// Names are compared on at most this many bytes: enough to tell elements
/// apart, and it bounds the memory a hostile name can take.
const NAME_BYTES: usize = 32;

enum State {
    Text,
    /// Just read `<`.
    Open,
    StartName,
    /// Inside a start tag after its name; `slash` when the last significant
    /// byte was `/` (a self-closing tag), `quote` inside an attribute value.
    Attributes {
        quote: Option<u8>,
        slash: bool,
    },
    EndName,
    /// `<!` followed by up to seven bytes, to tell a comment, CDATA and a
    /// declaration apart.
    Bang,
    Comment,
    Cdata,
    /// A declaration (`<!DOCTYPE …>`), with its internal subset's brackets.
    Declaration {
        brackets: u32,
    },
    Instruction,
}

/// Reads markup from `input` and returns the first depth beyond `limit` it
/// reaches, or `None` when it never nests that deep.
pub(crate) fn deeper_than(mut input: impl BufRead, limit: usize) -> io::Result<Option<usize>> {
    let mut open: Vec<Vec<u8>> = Vec::new();
    let mut name = Vec::with_capacity(NAME_BYTES);
    let mut state = State::Text;
    // The two bytes before the current one, to find `-->` and `]]>`.
    let mut last = [0u8; 2];
    loop {
        let chunk = input.fill_buf()?;
        if chunk.is_empty() {
            return Ok(None);
        }
        let len = chunk.len();
        for &b in chunk {
            state = match state {
                State::Text if b == b'<' => State::Open,
                State::Text => State::Text,
                State::Open => match b {
                    b'/' => {
                        name.clear();
                        State::EndName
                    }
                    b'!' => {
                        name.clear();
                        State::Bang
                    }
                    b'?' => State::Instruction,
                    b if b.is_ascii_alphabetic() => {
                        name.clear();
                        name.push(b.to_ascii_lowercase());
                        State::StartName
                    }
                    _ => State::Text,
                },
                State::StartName => match b {
                    b'>' => {
                        if let Some(depth) = start(&mut open, &name, false, limit) {
                            return Ok(Some(depth));
                        }
                        State::Text
                    }
                    b'/' => State::Attributes { quote: None, slash: true },
                    b if b.is_ascii_whitespace() => State::Attributes { quote: None, slash: false },
                    b => {
                        if name.len() < NAME_BYTES {
                            name.push(b.to_ascii_lowercase());
                        }
                        State::StartName
                    }
                },
                State::Attributes { quote: Some(q), slash } => {
                    State::Attributes { quote: if b == q { None } else { Some(q) }, slash }
                }
                State::Attributes { quote: None, slash } => match b {
                    b'>' => {
                        if let Some(depth) = start(&mut open, &name, slash, limit) {
                            return Ok(Some(depth));
                        }
                        State::Text
                    }
                    b'"' | b'\'' => State::Attributes { quote: Some(b), slash: false },
                    b'/' => State::Attributes { quote: None, slash: true },
                    b if b.is_ascii_whitespace() => State::Attributes { quote: None, slash },
                    _ => State::Attributes { quote: None, slash: false },
                },
                State::EndName => match b {
                    b'>' => {
                        if let Some(at) = open.iter().rposition(|n| *n == name) {
                            open.truncate(at);
                        }
                        State::Text
                    }
                    b if b.is_ascii_whitespace() => State::EndName,
                    b => {
                        if name.len() < NAME_BYTES {
                            name.push(b.to_ascii_lowercase());
                        }
                        State::EndName
                    }
                },
                State::Bang => {
                    name.push(b);
                    if name == b"--" {
                        State::Comment
                    } else if name == b"[CDATA[" {
                        State::Cdata
                    } else if b"--".starts_with(&name) || b"[CDATA[".starts_with(&name) {
                        State::Bang
                    } else if b == b'>' {
                        State::Text
                    } else {
                        State::Declaration { brackets: u32::from(b == b'[') }
                    }
                }
                State::Comment if b == b'>' && last == *b"--" => State::Text,
                State::Comment => State::Comment,
                State::Cdata if b == b'>' && last == *b"]]" => State::Text,
                State::Cdata => State::Cdata,
                State::Declaration { brackets } => match b {
                    b'[' => State::Declaration { brackets: brackets + 1 },
                    b']' => State::Declaration { brackets: brackets.saturating_sub(1) },
                    b'>' if brackets == 0 => State::Text,
                    _ => State::Declaration { brackets },
                },
                State::Instruction if b == b'>' => State::Text,
                State::Instruction => State::Instruction,
            };
            last = [last[1], b];
        }
        input.consume(len);
    }
}

/// Opens element `name`; returns the depth reached when it goes past `limit`.
fn start(open: &mut Vec<Vec<u8>>, name: &[u8], self_closing: bool, limit: usize) -> Option<usize> {
    if self_closing || VOID.contains(&name) {
        return None;
    }
    if IMPLIED_END.contains(&name) && open.last().is_some_and(|n| n == name) {
        open.pop();
    }
    open.push(name.to_vec());
    (open.len() > limit).then_some(open.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth(markup: &str, limit: usize) -> Option<usize> {
        deeper_than(markup.as_bytes(), limit).unwrap()
    }

    #[test]
    fn counts_open_elements_and_nothing_else() {
        let page = r#"<?xml version="1.0"?><!DOCTYPE html [ <!ENTITY x "y"> ]><html><head><meta charset="utf-8">
            <link rel="stylesheet" href="a.css"/></head><body><!-- <div><div><div> --><![CDATA[<div><div>]]>
            <div class="a>b"><p>one<p>two<br><img src="x.png"><ul><li>a<li>b</ul></div></body></html>"#;
        assert_eq!(depth(page, 6), None, "html > body > div > p > ul > li at most");
        assert_eq!(depth(page, 5), Some(6));
    }

    #[test]
    fn finds_deep_nesting_in_a_stream() {
        let deep = "<div>".repeat(100_000);
        assert_eq!(depth(&format!("<html><body>{deep}"), 256), Some(257));
        let closed = format!("<body>{}{}</body>", "<div>".repeat(200), "</div>".repeat(200));
        assert_eq!(depth(&closed.repeat(50), 256), None, "siblings do not add up");
    }
}
