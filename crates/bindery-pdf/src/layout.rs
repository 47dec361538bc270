//! From positioned lines to reading-order paragraphs.
//!
//! MuPDF returns lines in content-stream order, which is usually but not
//! always reading order, and keeps everything a printed page carries besides
//! the text: running headers, footers, page numbers, words hyphenated at a
//! line end. This module undoes that with geometry alone, page by page,
//! so it works the same on born-digital text and OCR output:
//!
//! * [`reading_order`] finds a vertical gutter and reads two-column pages
//!   column by column, with full-width lines (titles) in between;
//! * [`Furniture`] learns which first and last rows repeat across pages
//!   (digits masked, so "Page 12" repeats) and drops them and page numbers;
//! * [`paragraphs`] joins lines, mending end-of-line hyphenation, and breaks
//!   paragraphs at vertical gaps, first-line indents and short last lines.

use crate::page::{PageText, TextLine};
use std::collections::HashMap;

/// A paragraph (or a heading) of one page, in reading order.
#[derive(Clone, Debug, PartialEq)]
pub struct Paragraph {
    pub text: String,
    /// The largest font size in the paragraph.
    pub size: f32,
    /// Lines joined into this paragraph: a heading is usually one or two.
    pub lines: u32,
}

/// Orders a page's lines for reading, detecting two columns.
pub fn reading_order(page: &PageText) -> Vec<&TextLine> {
    let mut lines: Vec<&TextLine> = page.lines.iter().collect();
    lines.sort_by(|a, b| a.y0.total_cmp(&b.y0).then(a.x0.total_cmp(&b.x0)));
    let Some(gutter) = find_gutter(page) else { return merge_same_row(lines) };
    // Full-width lines cut the page into bands; within a band, the left
    // column is read before the right one.
    let mut out = Vec::with_capacity(lines.len());
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for l in lines {
        if l.x1 <= gutter + 1.0 {
            left.push(l);
        } else if l.x0 >= gutter - 1.0 {
            right.push(l);
        } else {
            out.append(&mut left);
            out.append(&mut right);
            out.push(l);
        }
    }
    out.append(&mut left);
    out.append(&mut right);
    out
}

/// Lines MuPDF split at a wide space but which sit on one row stay in
/// left-to-right order (the sort already guarantees it); nothing to merge
/// beyond that, but keep the hook explicit for single-column pages.
fn merge_same_row(lines: Vec<&TextLine>) -> Vec<&TextLine> {
    lines
}

/// The widest page searched for two columns, in points: the largest page
/// PDF allows in its default units (200 inches). The search keeps a flag
/// per point of width, and a file may state any width (a `MediaBox` or a
/// `UserUnit` of 10^30), so a wider page is read as one column.
const MAX_COLUMNS_WIDTH: f32 = 14_400.0;

/// An x position in the middle of the page crossed by no narrow line, with
/// enough lines on both sides to be two columns.
fn find_gutter(page: &PageText) -> Option<f32> {
    if page.width.is_nan() || page.width > MAX_COLUMNS_WIDTH {
        return None;
    }
    let width = page.width.max(1.0) as usize;
    let narrow: Vec<&TextLine> = page.lines.iter().filter(|l| (l.x1 - l.x0) < page.width * 0.55).collect();
    if narrow.len() < 10 {
        return None;
    }
    let mut covered = vec![false; width + 1];
    for l in &narrow {
        // A line whose box is empty (its left edge past its right one) covers nothing.
        let (a, b) = ((l.x0.max(0.0) as usize).min(width), (l.x1.max(0.0) as usize).min(width));
        if a <= b {
            covered[a..=b].iter_mut().for_each(|c| *c = true);
        }
    }
    let (lo, hi) = (width * 3 / 10, width * 7 / 10);
    let mut best: Option<(usize, usize)> = None; // (start, len) of the widest gap
    let mut start = None;
    for (x, c) in covered.iter().enumerate().take(hi + 1).skip(lo) {
        match (c, start) {
            (false, None) => start = Some(x),
            (true, Some(s)) => {
                if best.is_none_or(|(_, len)| x - s > len) {
                    best = Some((s, x - s));
                }
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        if best.is_none_or(|(_, len)| hi + 1 - s > len) {
            best = Some((s, hi + 1 - s));
        }
    }
    let (s, len) = best.filter(|(_, len)| *len >= 6)?;
    let gutter = (s + len / 2) as f32;
    let left = narrow.iter().filter(|l| l.x1 <= gutter).count();
    let right = narrow.iter().filter(|l| l.x0 >= gutter).count();
    (left >= 5 && right >= 5).then_some(gutter)
}

/// Running headers and footers learnt from the whole document.
#[derive(Debug, Default)]
pub struct Furniture {
    /// First/last-row texts by the number of pages they are on.
    exact: HashMap<String, u32>,
    /// The same with digits masked.
    masked: HashMap<String, u32>,
    pages: u32,
}

impl Furniture {
    /// Counts the top and bottom lines of one page.
    pub fn learn(&mut self, page: &PageText) {
        self.pages += 1;
        let mut seen = Vec::new();
        for l in margin_lines(page) {
            for (map, key) in [(&mut self.exact, l.text.clone()), (&mut self.masked, mask(&l.text))] {
                if !seen.contains(&key) {
                    *map.entry(key.clone()).or_default() += 1;
                    seen.push(key);
                }
            }
        }
    }

    /// Whether `line` of `page` is a header, footer or page number: a line
    /// on the page's first or last row that is a page number, or whose text
    /// is on the first or last row of another page too (a running chapter
    /// title), or whose text with digits masked is on a quarter of all pages
    /// ("Page 12"; but not "Chapter 3", which starts only a few pages, nor a
    /// line of body text, which is longer).
    /// Rows, not a fixed share of the page, because book margins vary from
    /// a few points to a fifth of the page.
    pub fn is_furniture(&self, page: &PageText, line: &TextLine) -> bool {
        if !in_margin(page, line) {
            return false;
        }
        let exact = self.exact.get(&line.text).copied().unwrap_or(0);
        let masked = self.masked.get(&mask(&line.text)).copied().unwrap_or(0);
        let short = line.text.chars().count() <= 80;
        is_page_number(&line.text) || exact >= 2 || (short && masked >= 3 && masked * 4 >= self.pages)
    }
}

/// On the first or last row of text of the page.
fn in_margin(page: &PageText, l: &TextLine) -> bool {
    let top = page.lines.iter().map(|l| l.y0).fold(f32::INFINITY, f32::min);
    let bottom = page.lines.iter().map(|l| l.y1).fold(f32::NEG_INFINITY, f32::max);
    let tolerance = l.size.max(4.0) * 0.5;
    (l.y0 - top).abs() <= tolerance || (bottom - l.y1).abs() <= tolerance
}

fn margin_lines(page: &PageText) -> impl Iterator<Item = &TextLine> {
    page.lines.iter().filter(|l| in_margin(page, l))
}

/// Lowercased, digits masked, so "Page 12" and "Page 13" share a key.
fn mask(text: &str) -> String {
    let mut s: String = text.chars().map(|c| if c.is_ascii_digit() { '#' } else { c.to_ascii_lowercase() }).collect();
    s.retain(|c| !c.is_whitespace());
    s
}

fn is_page_number(text: &str) -> bool {
    let t = text.trim().trim_matches(|c: char| c == '-' || c == '–' || c == '—' || c.is_whitespace());
    let t = t.strip_prefix("Page ").or_else(|| t.strip_prefix("page ")).unwrap_or(t);
    let roman = t.len() <= 7 && !t.is_empty() && t.chars().all(|c| "ivxlcdm".contains(c));
    (!t.is_empty() && t.len() <= 5 && t.chars().all(|c| c.is_ascii_digit())) || roman
}

/// Joins a page's reading-order lines (furniture already removed) into
/// paragraphs, mending hyphenation. With `by_block`, every MuPDF block starts
/// a paragraph: right for reflowed documents (EPUB), where blocks are the
/// source's paragraphs, and too eager for PDFs.
pub fn paragraphs(lines: &[&TextLine], by_block: bool) -> Vec<Paragraph> {
    let mut out: Vec<Paragraph> = Vec::new();
    let body = body_size(lines);
    let left = lines.iter().map(|l| l.x0).fold(f32::INFINITY, f32::min);
    let right = lines.iter().map(|l| l.x1).fold(0f32, f32::max);
    let spacing = typical_spacing(lines);
    let mut prev: Option<&TextLine> = None;
    for l in lines {
        let new_para = match prev {
            None => true,
            Some(p) => {
                let gap = l.y0 - p.y1;
                let heading_change = (l.size - p.size).abs() > body * 0.15;
                let jumped = l.y0 < p.y0 - 1.0; // next column or a band above
                let indented = l.x0 > left + body.max(6.0) * 0.9 && l.x0 - p.x0 > body * 0.9;
                let short_prev = p.x1 < right - body * 4.0 && ends_sentence(&p.text);
                // Large type is set with more space between its lines.
                let leading = (l.size - body).max(0.0) * 0.6;
                (by_block && l.block != p.block)
                    || gap > spacing * 1.6 + 1.0 + leading
                    || heading_change
                    || jumped
                    || indented
                    || short_prev
            }
        };
        if new_para {
            out.push(Paragraph { text: l.text.clone(), size: l.size, lines: 1 });
        } else if let Some(last) = out.last_mut() {
            join_line(&mut last.text, &l.text);
            last.size = last.size.max(l.size);
            last.lines += 1;
        }
        prev = Some(l);
    }
    out
}

/// The font size most characters use.
pub fn body_size(lines: &[&TextLine]) -> f32 {
    dominant_size(lines.iter().map(|l| (l.size, l.text.len())))
}

/// The size carrying the most characters, from `(size, characters)` pairs,
/// rounded to half points.
pub fn dominant_size(items: impl IntoIterator<Item = (f32, usize)>) -> f32 {
    let mut by_size: HashMap<u32, usize> = HashMap::new();
    for (size, n) in items {
        *by_size.entry((size * 2.0).round() as u32).or_default() += n;
    }
    by_size.into_iter().max_by_key(|(s, n)| (*n, *s)).map(|(s, _)| s as f32 / 2.0).unwrap_or(10.0)
}

/// The median gap between consecutive lines of one column.
fn typical_spacing(lines: &[&TextLine]) -> f32 {
    let mut gaps: Vec<f32> = lines.windows(2).map(|w| w[1].y0 - w[0].y1).filter(|g| *g > -2.0 && *g < 40.0).collect();
    if gaps.is_empty() {
        return 4.0;
    }
    gaps.sort_by(f32::total_cmp);
    gaps[gaps.len() / 2].max(0.5)
}

fn ends_sentence(text: &str) -> bool {
    text.trim_end().ends_with(['.', '!', '?', ':', '"', '”', '»', '’', ')'])
}

/// Appends `next` to a paragraph, joining a word hyphenated across the line
/// break ("won-" + "derful") but keeping real compounds ("well-" +
/// "Known" stays hyphenated when the next part is capitalised).
pub fn join_line(text: &mut String, next: &str) {
    let trimmed = text.trim_end();
    let next = next.trim_start();
    let hyphen = trimmed.chars().last().filter(|c| matches!(c, '-' | '\u{00AD}' | '¬'));
    let before = trimmed.chars().rev().nth(1).is_some_and(char::is_alphabetic);
    let after = next.chars().next().is_some_and(char::is_lowercase);
    match (hyphen, before) {
        // A word broken at the line end: join without the hyphen.
        (Some(h), true) if after || h != '-' => {
            text.truncate(trimmed.len() - h.len_utf8());
            text.push_str(next);
        }
        // A compound split after its hyphen: keep it, add no space.
        (Some(_), true) => {
            text.truncate(trimmed.len());
            text.push_str(next);
        }
        _ => {
            text.truncate(trimmed.len());
            text.push(' ');
            text.push_str(next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(x0: f32, y0: f32, x1: f32, text: &str) -> TextLine {
        TextLine { x0, y0, x1, y1: y0 + 10.0, size: 10.0, bold: false, text: text.into(), block: 0 }
    }

    #[test]
    fn mends_hyphenation_but_not_compounds() {
        let mut t = "a won-".to_owned();
        join_line(&mut t, "derful day");
        assert_eq!(t, "a wonderful day");
        let mut t = "the Anglo-".to_owned();
        join_line(&mut t, "Saxon king");
        assert_eq!(t, "the Anglo-Saxon king");
        let mut t = "fin de ligne¬".to_owned();
        join_line(&mut t, "ment");
        assert_eq!(t, "fin de lignement");
        let mut t = "plain".to_owned();
        join_line(&mut t, "next");
        assert_eq!(t, "plain next");
    }

    #[test]
    fn reads_two_columns_left_then_right() {
        let mut lines = vec![line(50.0, 20.0, 550.0, "A Title Across The Page")];
        for i in 0..8 {
            let y = 60.0 + i as f32 * 12.0;
            lines.push(line(300.0, y, 550.0, &format!("R{i}")));
            lines.push(line(50.0, y, 280.0, &format!("L{i}")));
        }
        let page = PageText { width: 600.0, height: 800.0, lines, ..PageText::default() };
        let order: Vec<&str> = reading_order(&page).iter().map(|l| l.text.as_str()).collect();
        let expected: Vec<String> = std::iter::once("A Title Across The Page".to_owned())
            .chain((0..8).map(|i| format!("L{i}")))
            .chain((0..8).map(|i| format!("R{i}")))
            .collect();
        assert_eq!(order, expected);
    }

    #[test]
    fn one_column_keeps_top_to_bottom_order() {
        let lines: Vec<TextLine> = (0..12).map(|i| line(50.0, 40.0 + i as f32 * 12.0, 550.0, &i.to_string())).collect();
        let page = PageText { width: 600.0, height: 800.0, lines, ..PageText::default() };
        let order: Vec<String> = reading_order(&page).iter().map(|l| l.text.clone()).collect();
        assert_eq!(order, (0..12).map(|i| i.to_string()).collect::<Vec<_>>());
    }

    #[test]
    fn a_page_of_any_size_or_lines_of_any_shape_are_read_in_some_order() {
        // MuPDF reports what the file says: a MediaBox (or UserUnit) of 10^30 points, and lines whose box is
        // empty (x0 past x1), as a page of invisible or degenerate glyphs gives.
        for width in [1e30, f32::INFINITY, f32::NAN, 1e9] {
            let mut lines: Vec<TextLine> = (0..12).map(|i| line(50.0, 40.0 + i as f32 * 12.0, 300.0, "a")).collect();
            lines.push(line(400.0, 100.0, 20.0, "empty box"));
            let page = PageText { width, height: 800.0, lines, ..PageText::default() };
            assert_eq!(reading_order(&page).len(), page.lines.len(), "width {width}");
        }
    }

    #[test]
    fn drops_repeated_headers_and_page_numbers() {
        let pages: Vec<PageText> = (1..=6)
            .map(|n| PageText {
                number: n,
                width: 600.0,
                height: 800.0,
                lines: vec![
                    line(50.0, 20.0, 300.0, &format!("Alice in Wonderland — {n}")),
                    line(50.0, 200.0, 550.0, "Body text that is not furniture."),
                    line(290.0, 770.0, 310.0, &(n + 10).to_string()),
                ],
                ..PageText::default()
            })
            .collect();
        let mut f = Furniture::default();
        pages.iter().for_each(|p| f.learn(p));
        for p in &pages {
            let kept: Vec<&str> = p.lines.iter().filter(|l| !f.is_furniture(p, l)).map(|l| l.text.as_str()).collect();
            assert_eq!(kept, ["Body text that is not furniture."]);
        }
    }

    #[test]
    fn breaks_paragraphs_at_gaps_and_indents() {
        let ls = [
            line(50.0, 100.0, 550.0, "The first paragraph runs over"),
            line(50.0, 112.0, 300.0, "two lines."),
            line(70.0, 124.0, 550.0, "An indented second para-"),
            line(50.0, 136.0, 550.0, "graph goes on"),
            line(50.0, 170.0, 550.0, "After a gap."),
        ];
        let refs: Vec<&TextLine> = ls.iter().collect();
        let p: Vec<String> = paragraphs(&refs, false).into_iter().map(|p| p.text).collect();
        assert_eq!(
            p,
            ["The first paragraph runs over two lines.", "An indented second paragraph goes on", "After a gap."]
        );
    }
}
