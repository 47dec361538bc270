//! Plain text and Markdown: validation, clean-up and chapter splitting.
//!
//! The book pipeline's `extract` and `structure` stages call these for text
//! uploads, and `structure` reuses the heading rules on text extracted from
//! PDF pages and OCR, so every format finds chapters the same way.

mod chapters;
mod lang;

pub use chapters::{split_chapters, Chapter};
pub use lang::detect_language;

use bindery_core::Book;
use bindery_pipeline::StageError;

pub use bindery_core::book::count_words;

/// Text uploads larger than this are refused by default (the `max-text-mb`
/// setting): a book is a few MiB, and the pipeline needs a few dozen times
/// a text's size in memory.
pub const DEFAULT_MAX_TEXT_BYTES: u64 = 64 * 1024 * 1024;

/// A text upload after validation and clean-up.
#[derive(Clone, Debug, PartialEq)]
pub struct Cleaned {
    pub body: String,
    pub title: Option<String>,
    pub author: Option<String>,
    pub language: String,
}

/// Decodes UTF-8, UTF-16 or UTF-32 (see [`decode`]), normalises line ends, drops a BOM and a Project
/// Gutenberg header and licence, and finds title, author and language.
pub fn clean(raw: &[u8]) -> Result<Cleaned, StageError> {
    let mut text = decode(raw)?;
    let (title, author) = gutenberg_metadata(&text);
    let body = strip_gutenberg(&text);
    if body.trim().is_empty() {
        return Err(StageError::Permanent("the file contains no text".into()));
    }
    let language = detect_language(body).to_owned();
    // The body is cut out of the decoded text in place rather than copied:
    // a text upload may be tens of megabytes.
    let start = body.as_ptr() as usize - text.as_ptr() as usize;
    let end = start + body.len();
    text.truncate(end);
    text.drain(..start);
    Ok(Cleaned { language, body: text, title, author })
}

/// Splits cleaned text into a [`Book`]: chapters by heading shape, and
/// paragraphs at blank lines with their line breaks unwrapped.
pub fn book_from_text(cleaned: &Cleaned, markdown: bool) -> Book {
    let text = &cleaned.body;
    let chapters = split_chapters(text, markdown);
    let first = chapters.first().map(|c| c.start).unwrap_or(text.len());
    // The front matter ends at the first chapter's heading line.
    let front_end = text[..first].trim_end().rfind('\n').unwrap_or(0);
    Book {
        title: cleaned.title.clone(),
        author: cleaned.author.clone(),
        language: cleaned.language.clone(),
        pages: None,
        front_matter: paragraphs(&text[..front_end]),
        chapters: chapters
            .iter()
            .map(|c| bindery_core::Chapter {
                index: c.index as u32,
                title: c.title.clone(),
                paragraphs: paragraphs(&text[c.start..c.end]),
                first_page: None,
            })
            .collect(),
    }
}

/// Paragraphs separated by blank lines, each unwrapped onto one line.
pub fn paragraphs(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            if !current.is_empty() {
                out.push(std::mem::take(&mut current));
            }
        } else {
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(line);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// The text of an upload: UTF-8 (with or without a byte-order mark), or
/// UTF-16 or UTF-32 in either byte order when a byte-order mark says so
/// (Windows' Notepad saves "Unicode" text as UTF-16 with one). Line ends are
/// normalised to `\n`.
fn decode(raw: &[u8]) -> Result<String, StageError> {
    let text = match Encoding::of(raw) {
        Encoding::Utf8 { bom } => std::str::from_utf8(&raw[bom..])
            .map_err(|e| {
                StageError::Permanent(format!(
                    "the file is not valid UTF-8 (first bad byte at offset {})",
                    bom + e.valid_up_to()
                ))
            })?
            .to_owned(),
        wide => wide.decode(raw)?,
    };
    if text.contains('\0') {
        return Err(StageError::Permanent("the file contains NUL bytes: it is binary, not text".into()));
    }
    Ok(normalise_line_ends(text))
}

/// `\r\n` and lone `\r` become `\n`, in place when there is nothing to change.
fn normalise_line_ends(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            chars.next_if_eq(&'\n');
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

/// A text upload's encoding, from its byte-order mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Encoding {
    /// `bom` is the length of the UTF-8 byte-order mark, 0 or 3.
    Utf8 {
        bom: usize,
    },
    Utf16 {
        big_endian: bool,
    },
    Utf32 {
        big_endian: bool,
    },
}

impl Encoding {
    fn of(raw: &[u8]) -> Encoding {
        // UTF-32 LE's mark starts with UTF-16 LE's, so it is tried first.
        if raw.starts_with(b"\xFF\xFE\0\0") {
            Encoding::Utf32 { big_endian: false }
        } else if raw.starts_with(b"\0\0\xFE\xFF") {
            Encoding::Utf32 { big_endian: true }
        } else if raw.starts_with(b"\xFF\xFE") {
            Encoding::Utf16 { big_endian: false }
        } else if raw.starts_with(b"\xFE\xFF") {
            Encoding::Utf16 { big_endian: true }
        } else if raw.starts_with(b"\xEF\xBB\xBF") {
            Encoding::Utf8 { bom: 3 }
        } else {
            Encoding::Utf8 { bom: 0 }
        }
    }

    /// Decodes UTF-16 or UTF-32 after the byte-order mark, naming the offset
    /// of the first unit that is not a character.
    fn decode(self, raw: &[u8]) -> Result<String, StageError> {
        let (name, unit, big_endian) = match self {
            Encoding::Utf16 { big_endian } => ("UTF-16", 2, big_endian),
            Encoding::Utf32 { big_endian } => ("UTF-32", 4, big_endian),
            Encoding::Utf8 { .. } => unreachable!("UTF-8 is decoded as it is"),
        };
        let bad = |offset: usize| {
            StageError::Permanent(format!("the file is not valid {name} (first bad character at offset {offset})"))
        };
        let body = &raw[unit..];
        if !body.len().is_multiple_of(unit) {
            return Err(bad(raw.len() - body.len() % unit));
        }
        let mut out = String::with_capacity(body.len() / unit);
        let units = body.chunks_exact(unit);
        if unit == 4 {
            for (i, u) in units.enumerate() {
                let u = <[u8; 4]>::try_from(u).expect("4 bytes");
                let code = if big_endian { u32::from_be_bytes(u) } else { u32::from_le_bytes(u) };
                out.push(char::from_u32(code).ok_or_else(|| bad(unit + i * unit))?);
            }
            return Ok(out);
        }
        let codes = units.map(|u| {
            let u = [u[0], u[1]];
            if big_endian {
                u16::from_be_bytes(u)
            } else {
                u16::from_le_bytes(u)
            }
        });
        let mut offset = unit;
        for c in char::decode_utf16(codes) {
            let c = c.map_err(|_| bad(offset))?;
            offset += c.len_utf16() * 2;
            out.push(c);
        }
        Ok(out)
    }
}

/// Title and author from a Project Gutenberg header, when present.
fn gutenberg_metadata(text: &str) -> (Option<String>, Option<String>) {
    let head = text.lines().take(60);
    let mut title = None;
    let mut author = None;
    for line in head {
        if let Some(t) = line.strip_prefix("Title:") {
            title.get_or_insert_with(|| t.trim().to_owned());
        } else if let Some(a) = line.strip_prefix("Author:") {
            author.get_or_insert_with(|| a.trim().to_owned());
        }
    }
    (title, author)
}

/// The text between Project Gutenberg's START and END markers, or all of it.
fn strip_gutenberg(text: &str) -> &str {
    let start = text.find("*** START OF").and_then(|i| text[i..].find('\n').map(|j| i + j + 1)).unwrap_or(0);
    let end = text[start..].find("*** END OF").map(|i| start + i).unwrap_or(text.len());
    &text[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_and_refuses_bad_bytes() {
        assert_eq!(decode(b"\xEF\xBB\xBFa\r\nb\rc").unwrap(), "a\nb\nc");
        let err = decode(b"abc\xff\xfe").unwrap_err();
        assert_eq!(err, StageError::Permanent("the file is not valid UTF-8 (first bad byte at offset 3)".into()));
        assert!(decode(b"a\0b").is_err());
    }

    #[test]
    fn reads_utf16_and_utf32_with_a_byte_order_mark() {
        let text = "Chapitre premier\r\nÇa commence: 𝄞 «déjà».";
        let expected = "Chapitre premier\nÇa commence: 𝄞 «déjà».";
        let utf16le: Vec<u8> = [0xFEFF].into_iter().chain(text.encode_utf16()).flat_map(u16::to_le_bytes).collect();
        let utf16be: Vec<u8> = [0xFEFF].into_iter().chain(text.encode_utf16()).flat_map(u16::to_be_bytes).collect();
        let chars = || std::iter::once(0xFEFF).chain(text.chars().map(u32::from));
        let utf32le: Vec<u8> = chars().flat_map(u32::to_le_bytes).collect();
        let utf32be: Vec<u8> = chars().flat_map(u32::to_be_bytes).collect();
        for (name, raw) in [("16le", utf16le), ("16be", utf16be), ("32le", utf32le), ("32be", utf32be)] {
            assert_eq!(decode(&raw).unwrap(), expected, "UTF-{name}");
        }
        let lone_surrogate = [0xFF, 0xFE, b'a', 0, 0x00, 0xD8, b'b', 0];
        let err = decode(&lone_surrogate).unwrap_err();
        assert_eq!(err, StageError::Permanent("the file is not valid UTF-16 (first bad character at offset 4)".into()));
        assert!(decode(&[0xFF, 0xFE, b'a', 0, b'b']).is_err(), "an odd number of bytes");
    }

    #[test]
    fn strips_a_gutenberg_wrapper() {
        let t = "Title: Emma\nAuthor: Jane Austen\n*** START OF THE BOOK ***\nBody.\n*** END OF THE BOOK ***\nLicence";
        assert_eq!(strip_gutenberg(t), "Body.\n");
        assert_eq!(gutenberg_metadata(t), (Some("Emma".into()), Some("Jane Austen".into())));
        assert_eq!(strip_gutenberg("plain"), "plain");
    }

    #[test]
    fn builds_a_book_with_front_matter_and_paragraphs() {
        let body = "word ".repeat(30);
        let raw = format!("Title: Emma\n*** START OF X ***\nA dedication.\n\nCHAPTER I. One\n\n{body}\nwrapped\n\nSecond.\n*** END OF X ***\n");
        let cleaned = clean(raw.as_bytes()).unwrap();
        let book = book_from_text(&cleaned, false);
        assert_eq!(book.title.as_deref(), Some("Emma"));
        assert_eq!(book.front_matter, ["A dedication."]);
        assert_eq!(book.chapters.len(), 1);
        assert_eq!(book.chapters[0].title, "CHAPTER I. One");
        assert_eq!(book.chapters[0].paragraphs, [format!("{}wrapped", body), "Second.".to_owned()]);
    }
}
