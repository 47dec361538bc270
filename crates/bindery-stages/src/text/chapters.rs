//! Chapter detection in plain text and Markdown.
//!
//! Headings are recognised by shape: Markdown `#`/`##` lines, "CHAPTER
//! XII." / "Chapitre premier" lines, and a bare roman numeral standing alone
//! between blank lines (Verne's style). A heading that is only a number takes
//! the short paragraph under it as its title. Sections too short to be
//! chapters — the entries of a table of contents — are dropped.

use serde::{Deserialize, Serialize};

/// A chapter as byte offsets into the extracted text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chapter {
    /// 1-based.
    pub index: usize,
    pub title: String,
    /// Start and end of the chapter's body (after its heading).
    pub start: usize,
    pub end: usize,
}

/// Fewer words than this between two headings is a table of contents entry.
const MIN_WORDS: usize = 20;
/// A subtitle paragraph under a bare-number heading is at most this long.
const MAX_SUBTITLE: usize = 200;

struct Line<'a> {
    text: &'a str,
    start: usize,
    end: usize,
}

fn lines(text: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for l in text.split_inclusive('\n') {
        out.push(Line { text: l.trim_end_matches('\n').trim(), start, end: start + l.len() });
        start += l.len();
    }
    out
}

fn is_roman(s: &str) -> bool {
    !s.is_empty() && s.len() <= 8 && s.chars().all(|c| "IVXLCDM".contains(c))
}

const ORDINALS: &[&str] = &["premier", "première", "first", "one", "two", "second", "deuxième", "dernier", "last"];

/// Whether `word` reads as a chapter number ("XII.", "3:", "XXII[1]." with
/// a footnote marker, "premier").
fn is_number(word: &str) -> bool {
    let w = word.trim_end_matches(['.', ':']);
    let w = match w.find('[') {
        Some(i) if w.ends_with(']') => &w[..i],
        _ => w,
    };
    is_roman(w)
        || w.chars().all(|c| c.is_ascii_digit()) && !w.is_empty()
        || ORDINALS.contains(&w.to_lowercase().as_str())
}

/// `Some(has_own_title)` when the line is a heading.
fn heading(lines: &[Line<'_>], i: usize, markdown: bool) -> Option<bool> {
    let t = lines[i].text;
    if markdown {
        let hashes = t.chars().take_while(|c| *c == '#').count();
        if (1..=2).contains(&hashes) && t[hashes..].starts_with(' ') {
            return Some(true);
        }
    }
    let mut words = t.split_whitespace();
    let first = words.next()?;
    // The keyword is capitalised in a heading; a lowercase "chapitre XXXI du
    // Précis" at a line start is a sentence (a footnote) wrapping.
    if ["CHAPTER", "Chapter", "CHAPITRE", "Chapitre"].contains(&first) {
        let number = words.next()?;
        return is_number(number).then(|| words.next().is_some());
    }
    let blank = |j: Option<usize>| j.and_then(|j| lines.get(j)).is_none_or(|l| l.text.is_empty());
    let alone = blank(i.checked_sub(1)) && blank(Some(i + 1));
    (alone && is_roman(t.trim_end_matches('.'))).then_some(false)
}

pub fn split_chapters(text: &str, markdown: bool) -> Vec<Chapter> {
    let lines = lines(text);
    let mut heads: Vec<(String, usize, usize)> = Vec::new(); // (title, heading line, body start)
    let mut i = 0;
    while i < lines.len() {
        let Some(own_title) = heading(&lines, i, markdown) else {
            i += 1;
            continue;
        };
        let head_line = i;
        let mut title = lines[i].text.trim_start_matches('#').trim().to_owned();
        let mut body = lines[i].end;
        if !own_title {
            // Take the next paragraph as a subtitle when it is short.
            let mut j = i + 1;
            while j < lines.len() && lines[j].text.is_empty() {
                j += 1;
            }
            let mut k = j;
            while k < lines.len() && !lines[k].text.is_empty() {
                k += 1;
            }
            let para: Vec<&str> = lines[j..k].iter().map(|l| l.text).collect();
            let para = para.join(" ");
            if !para.is_empty() && para.len() <= MAX_SUBTITLE && heading(&lines, j, markdown).is_none() {
                title = format!("{title} {para}");
                body = lines[k - 1].end;
                i = k;
            }
        }
        heads.push((title, head_line, body));
        i += 1;
    }
    let mut chapters = Vec::new();
    for (n, (title, _, start)) in heads.iter().enumerate() {
        let end = heads.get(n + 1).map(|h| lines[h.1].start).unwrap_or(text.len());
        let end = end.max(*start);
        if super::count_words(&text[*start..end]) < MIN_WORDS {
            continue;
        }
        chapters.push(Chapter { index: chapters.len() + 1, title: title.clone(), start: *start, end });
    }
    if chapters.is_empty() && !text.trim().is_empty() {
        chapters.push(Chapter { index: 1, title: "Text".into(), start: 0, end: text.len() });
    }
    chapters
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(n: usize) -> String {
        vec!["word"; n].join(" ")
    }

    #[test]
    fn english_chapter_lines_and_contents_entries() {
        let body = words(30);
        let text = format!(
            "Contents\n\nCHAPTER I. Down\nCHAPTER II. Up\n\nCHAPTER I. Down the Hole\n{body}\n\nCHAPTER II. The Pool\n{body}\n"
        );
        let ch = split_chapters(&text, false);
        assert_eq!(
            ch.iter().map(|c| c.title.as_str()).collect::<Vec<_>>(),
            vec!["CHAPTER I. Down the Hole", "CHAPTER II. The Pool"]
        );
        assert_eq!(&text[ch[1].start..ch[1].end], format!("{body}\n"));
    }

    #[test]
    fn bare_roman_numerals_take_their_subtitle() {
        let body = words(25);
        let text = format!("Préface courte.\n\nI\n\nDANS LEQUEL PHILEAS FOGG\nS'ACCEPTE\n\n{body}\n\nII\n\nOÙ PASSEPARTOUT\n\n{body}\n");
        let ch = split_chapters(&text, false);
        assert_eq!(ch.len(), 2);
        assert_eq!(ch[0].title, "I DANS LEQUEL PHILEAS FOGG S'ACCEPTE");
        assert_eq!(ch[1].title, "II OÙ PASSEPARTOUT");
        assert_eq!(super::super::count_words(&text[ch[0].start..ch[0].end]), 25);
    }

    #[test]
    fn markdown_headings_and_a_text_without_any() {
        let body = words(20);
        let md = format!("# One\n{body}\n## Two\n{body}\n### Not a chapter\n");
        assert_eq!(split_chapters(&md, true).len(), 2);
        assert_eq!(split_chapters(&md, false).len(), 1, "plain text ignores # lines");
        let plain = split_chapters("just a note", false);
        assert_eq!((plain.len(), plain[0].title.as_str()), (1, "Text"));
        assert!(split_chapters("  \n", false).is_empty());
    }

    #[test]
    fn chapitre_premier() {
        let body = words(40);
        let text = format!(
            "CHAPITRE PREMIER\n\nComment Candide fut élevé.\n\n{body}\nvoyez le\nchapitre XXXI du Précis.\n\nCHAPITRE XXII[1].\n\nCe que devint Candide.\n\n{body}"
        );
        let ch = split_chapters(&text, false);
        assert_eq!(ch[0].title, "CHAPITRE PREMIER Comment Candide fut élevé.");
        assert_eq!(ch[1].title, "CHAPITRE XXII[1]. Ce que devint Candide.");
        assert_eq!(ch.len(), 2);
    }
}
