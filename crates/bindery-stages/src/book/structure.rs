//! `structure`: chapters, paragraphs, title, author and language, as one
//! [`Book`].
//!
//! For paged documents the page lines are read twice from the `pages`
//! artifact, one page at a time: first to learn the running headers and
//! footers, then to lay each page out into paragraphs (OCR text replaces the
//! pages that needed it). Chapters come from the outline (PDF bookmarks, the
//! EPUB table of contents) when it has at least two entries that land on
//! pages; otherwise from headings, with the same rules as plain text
//! ("CHAPTER I.", "Chapitre premier", a lone roman numeral), and failing
//! that from lines set in a larger font.

use super::extract::PagesHeader;
use super::ocr::OcrLine;
use super::BookContext;
use super::{blocking, io, kinds, Format};
use crate::text::{self, Cleaned};
use async_trait::async_trait;
use bindery_core::{Book, Chapter};
use bindery_pdf::layout::{dominant_size, join_line, paragraphs, reading_order, Furniture};
use bindery_pdf::{OutlineEntry, PageText};
use bindery_pipeline::{Stage, StageContext, StageError, StageOutput};
use serde_json::json;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

pub struct Structure;

#[async_trait]
impl Stage for Structure {
    fn name(&self) -> &'static str {
        "structure"
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let book = match ctx.format()? {
            Format::Text { markdown } => {
                // `extract` already validated and cleaned the text, and read
                // the title, author and language from the Gutenberg header it
                // stripped: take them from its summary. The bytes become the
                // string without a copy when nothing else holds them. The
                // artifact's recorded size bounds the read: `extract` wrote
                // it from an upload it had bounded (`max-text-mb`).
                let size = ctx.artifact(kinds::TEXT)?.bytes;
                let raw = ctx.read(kinds::TEXT, size).await?;
                let body = String::from_utf8(Vec::from(raw))
                    .map_err(|e| StageError::Permanent(format!("text artifact is not UTF-8: {e}")))?;
                let extract = ctx.document.results.get("extract");
                let field = |k: &str| extract.and_then(|e| e[k].as_str()).map(str::to_owned);
                let language = field("language").unwrap_or_else(|| text::detect_language(&body).to_owned());
                let cleaned = Cleaned { title: field("title"), author: field("author"), language, body };
                text::book_from_text(&cleaned, markdown)
            }
            _ => {
                let dir = tempfile::tempdir().map_err(io)?;
                let pages = match ctx.artifact(kinds::PAGES) {
                    Ok(_) => Some(ctx.artifact_file(kinds::PAGES, &dir.path().join("pages.jsonl")).await?),
                    Err(_) => None,
                };
                let ocr = match ctx.artifact(kinds::OCR) {
                    Ok(_) => Some(ctx.artifact_file(kinds::OCR, &dir.path().join("ocr.jsonl")).await?),
                    Err(_) => None,
                };
                blocking("structure", move || paged_book(pages.as_deref(), ocr.as_deref())).await?
            }
        };
        if book.chapters.is_empty() {
            return Err(StageError::Permanent("no text was found in the document".into()));
        }
        let titles: Vec<&str> = book.chapters.iter().map(|c| c.title.as_str()).collect();
        let summary = json!({"chapters": book.chapters.len(), "titles": titles, "words": book.words(),
                             "title": book.title, "author": book.author, "language": book.language,
                             "pages": book.pages});
        let json = serde_json::to_vec(&book).expect("book serialises");
        // The book's JSON is stored alone: the book itself is no longer needed.
        drop(book);
        let artifact = ctx.store(kinds::BOOK, "application/json", json).await?;
        Ok(StageOutput { outputs: vec![artifact], summary })
    }
}

/// A paragraph with the page it starts on.
struct Para {
    page: u32,
    text: String,
    size: f32,
    lines: u32,
}

fn read_lines(path: &Path) -> Result<impl Iterator<Item = Result<String, StageError>>, StageError> {
    let file = std::fs::File::open(path).map_err(io)?;
    Ok(std::io::BufReader::new(file).lines().map(|l| l.map_err(io)))
}

fn parse<T: serde::de::DeserializeOwned>(line: &str, what: &str) -> Result<T, StageError> {
    serde_json::from_str(line).map_err(|e| StageError::Permanent(format!("{what}: {e}")))
}

/// Builds the book of a PDF, EPUB or image from the `pages` and `ocr`
/// artifacts (either may be absent: an image has only OCR).
fn paged_book(pages: Option<&Path>, ocr: Option<&Path>) -> Result<Book, StageError> {
    let mut recognised: HashMap<u32, String> = HashMap::new();
    if let Some(path) = ocr {
        for line in read_lines(path)? {
            let l: OcrLine = parse(&line?, "ocr artifact")?;
            recognised.insert(l.page, l.text);
        }
    }
    let mut header = PagesHeader::default();
    let mut paras = Vec::new();
    if let Some(path) = pages {
        let mut furniture = Furniture::default();
        let mut lines = read_lines(path)?;
        header = parse(&lines.next().ok_or_else(|| StageError::Permanent("empty pages artifact".into()))??, "header")?;
        for line in lines {
            furniture.learn(&parse::<PageText>(&line?, "page")?);
        }
        for line in read_lines(path)?.skip(1) {
            let page: PageText = parse(&line?, "page")?;
            if let Some(text) = recognised.remove(&page.number) {
                paras.extend(ocr_paragraphs(page.number, &text));
                continue;
            }
            // Reflowed pages (EPUB) have no running headers or page numbers.
            let kept: Vec<_> = reading_order(&page)
                .into_iter()
                .filter(|l| header.reflowed || !furniture.is_furniture(&page, l))
                .collect();
            let mut laid_out = paragraphs(&kept, header.reflowed).into_iter();
            // A paragraph that runs over the page break continues in
            // lowercase after a line without final punctuation.
            if let (Some(last), Some(first)) = (paras.last_mut(), laid_out.as_slice().first()) {
                let open = !last.text.trim_end().ends_with(['.', '!', '?', ':', '"', '”', '»', ')']);
                if open && first.text.starts_with(char::is_lowercase) && (first.size - last.size).abs() < 0.5 {
                    join_line(&mut last.text, &first.text);
                    laid_out.next();
                }
            }
            paras.extend(laid_out.map(|p| Para { page: page.number, text: p.text, size: p.size, lines: p.lines }));
        }
    } else {
        // An image: one page, or several for a multi-page TIFF.
        header.pages = recognised.len().max(1) as u32;
        let mut numbers: Vec<u32> = recognised.keys().copied().collect();
        numbers.sort_unstable();
        for n in numbers {
            paras.extend(ocr_paragraphs(n, &recognised[&n]));
        }
    }
    Ok(assemble(header, paras))
}

/// Tesseract separates blocks with blank lines; lines within a block are
/// joined, mending hyphenation.
fn ocr_paragraphs(page: u32, text: &str) -> Vec<Para> {
    let mut out = Vec::new();
    for block in text.split("\n\n") {
        let mut joined = String::new();
        let mut n = 0;
        for line in block.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if joined.is_empty() {
                joined.push_str(line);
            } else {
                join_line(&mut joined, line);
            }
            n += 1;
        }
        if !joined.is_empty() {
            out.push(Para { page, text: joined, size: 0.0, lines: n });
        }
    }
    out
}

fn assemble(header: PagesHeader, paras: Vec<Para>) -> Book {
    let all_text: String = paras.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n");
    let language = text::detect_language(&all_text).to_owned();
    let (title, author) = (clean_meta(header.title), clean_meta(header.author));
    let mut book = from_outline(&header.outline, &paras).unwrap_or_else(|| from_headings(&paras));
    book.pages = Some(header.pages);
    book.language = language;
    book.title = title.or_else(|| guess_title(&book.front_matter));
    book.author = author.or_else(|| guess_author(&book.front_matter, book.title.as_deref()));
    book
}

/// Metadata fields that are really file names or tool names are dropped.
fn clean_meta(value: Option<String>) -> Option<String> {
    value.filter(|v| {
        let l = v.to_lowercase();
        !(l.ends_with(".doc") || l.ends_with(".pdf") || l.starts_with("microsoft word") || l == "untitled")
    })
}

fn guess_title(front: &[String]) -> Option<String> {
    front.iter().find(|p| p.split_whitespace().count() <= 12 && p.chars().any(char::is_alphabetic)).cloned()
}

/// A title page names the author just under the title: a short run of
/// capitalised words, possibly after "by".
fn guess_author(front: &[String], title: Option<&str>) -> Option<String> {
    let at = front.iter().position(|p| Some(p.as_str()) == title)?;
    let next = front.get(at + 1)?;
    let name = next.strip_prefix("by ").or_else(|| next.strip_prefix("By ")).unwrap_or(next).trim();
    let words: Vec<&str> = name.split_whitespace().collect();
    let name_like = |w: &&str| w.starts_with(char::is_uppercase) && !w.chars().any(|c| c.is_ascii_digit());
    ((2..=5).contains(&words.len()) && words.iter().all(name_like)).then(|| name.to_owned())
}

/// Chapters at the outline level with the most entries pointing at pages.
fn from_outline(outline: &[OutlineEntry], paras: &[Para]) -> Option<Book> {
    let mut by_level: HashMap<u32, usize> = HashMap::new();
    for e in outline.iter().filter(|e| e.page.is_some()) {
        *by_level.entry(e.level).or_default() += 1;
    }
    let (&level, &count) = by_level.iter().max_by_key(|(l, c)| (**c, std::cmp::Reverse(**l)))?;
    if count < 2 {
        return None;
    }
    let entries: Vec<&OutlineEntry> = outline.iter().filter(|e| e.level == level && e.page.is_some()).collect();
    // Where each chapter starts: its heading paragraph on its page, else the
    // page's first paragraph.
    let mut starts = Vec::new();
    for e in &entries {
        let page = e.page.unwrap_or(1);
        let on_page = paras.iter().position(|p| p.page >= page)?;
        let key = normalise(&e.title);
        let heading =
            paras[on_page..].iter().take_while(|p| p.page == page).position(|p| similar(&normalise(&p.text), &key));
        starts.push((on_page + heading.unwrap_or(0), heading.is_some()));
    }
    let mut book = Book { front_matter: texts(&paras[..starts[0].0]), ..Book::default() };
    for (i, (e, (start, has_heading))) in entries.iter().zip(&starts).enumerate() {
        let end = starts.get(i + 1).map(|s| s.0).unwrap_or(paras.len()).max(*start);
        let body = if *has_heading { &paras[(*start + 1).min(end)..end] } else { &paras[*start..end] };
        book.chapters.push(Chapter {
            index: i as u32 + 1,
            title: e.title.clone(),
            paragraphs: texts(body),
            first_page: e.page,
        });
    }
    Some(book)
}

fn texts(paras: &[Para]) -> Vec<String> {
    paras.iter().map(|p| p.text.clone()).collect()
}

fn normalise(s: &str) -> String {
    s.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect()
}

/// A heading paragraph matches an outline title when one contains the other
/// (a heading may add "CHAPTER I." to the bookmark's title or the reverse).
fn similar(para: &str, title: &str) -> bool {
    !title.is_empty()
        && para.len() <= title.len() * 3 + 40
        && (para.contains(title) || title.contains(para) && !para.is_empty())
}

/// Chapters from heading text, then from font size.
fn from_headings(paras: &[Para]) -> Book {
    let text: String = paras.iter().map(|p| p.text.as_str()).collect::<Vec<_>>().join("\n\n");
    let cleaned = Cleaned { body: text, title: None, author: None, language: "und".into() };
    let book = text::book_from_text(&cleaned, false);
    if book.chapters.len() >= 2 {
        return with_pages(book, paras);
    }
    // Larger type, one or two lines, short: headings, marked up as Markdown.
    let body = dominant_size(paras.iter().filter(|p| p.size > 0.0).map(|p| (p.size, p.text.len())));
    let marked: String = paras
        .iter()
        .map(|p| {
            if p.size >= body * 1.3 && p.lines <= 2 && p.text.len() <= 100 {
                format!("# {}", p.text)
            } else {
                p.text.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("\n\n");
    let cleaned = Cleaned { body: marked, title: None, author: None, language: "und".into() };
    with_pages(text::book_from_text(&cleaned, true), paras)
}

/// Sets each chapter's first page from the paragraph its first line came
/// from.
fn with_pages(mut book: Book, paras: &[Para]) -> Book {
    for c in &mut book.chapters {
        let first = c.paragraphs.first().map(String::as_str).unwrap_or("");
        c.first_page = paras.iter().find(|p| p.text == first).map(|p| p.page);
    }
    book
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_author_under_the_title() {
        let front: Vec<String> = ["Alice in Wonderland", "Lewis Carroll", "ABOUT THIS E-TEXT"].map(String::from).into();
        assert_eq!(guess_author(&front, Some("Alice in Wonderland")).as_deref(), Some("Lewis Carroll"));
        let front: Vec<String> = ["Emma", "by Jane Austen"].map(String::from).into();
        assert_eq!(guess_author(&front, Some("Emma")).as_deref(), Some("Jane Austen"));
        let front: Vec<String> = ["Emma", "Volume 1 of 3"].map(String::from).into();
        assert_eq!(guess_author(&front, Some("Emma")), None);
        assert_eq!(guess_author(&front, None), None);
    }
}
