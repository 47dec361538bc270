//! How a book is cut for the model: one chunk per chapter, or several consecutive runs of paragraphs when a chapter
//! is longer than the chunk budget. Paragraph numbers stay the chapter's own (0-based), so answers about any chunk
//! point into the same chapter, and merging needs no renumbering.

use bindery_core::book::Book;

/// A run of paragraphs of one chapter, as the model will see it.
#[derive(Clone, Debug, PartialEq)]
pub struct Chunk {
    /// The chapter's 1-based index.
    pub chapter: u32,
    pub chapter_title: String,
    /// 0-based, within the chapter, inclusive.
    pub first_paragraph: u32,
    pub last_paragraph: u32,
    /// The paragraphs, in order.
    pub paragraphs: Vec<String>,
}

impl Chunk {
    /// The chapter's paragraph `n`, if it is in this chunk.
    pub fn paragraph(&self, n: u32) -> Option<&str> {
        n.checked_sub(self.first_paragraph).and_then(|i| self.paragraphs.get(i as usize)).map(String::as_str)
    }

    pub fn chars(&self) -> usize {
        self.paragraphs.iter().map(|p| p.len()).sum()
    }
}

/// Cuts `book` into chunks of at most `max_chars` bytes of text each. A single paragraph longer than that is cut at a
/// character boundary (its tail is not shown to the model) so that no request can grow without bound.
pub fn chunks(book: &Book, max_chars: usize) -> Vec<Chunk> {
    let max_chars = max_chars.max(1);
    let mut out = Vec::new();
    for chapter in &book.chapters {
        let mut current: Option<Chunk> = None;
        for (i, text) in chapter.paragraphs.iter().enumerate() {
            let text = clip(text, max_chars);
            if let Some(c) = current.take() {
                if c.chars() + text.len() > max_chars {
                    out.push(c);
                } else {
                    current = Some(c);
                }
            }
            let c = current.get_or_insert_with(|| Chunk {
                chapter: chapter.index,
                chapter_title: chapter.title.clone(),
                first_paragraph: i as u32,
                last_paragraph: i as u32,
                paragraphs: Vec::new(),
            });
            c.last_paragraph = i as u32;
            c.paragraphs.push(text.to_owned());
        }
        out.extend(current);
    }
    out
}

fn clip(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use bindery_core::book::Chapter;

    fn book(paragraphs: &[&str]) -> Book {
        Book {
            title: None,
            author: None,
            language: "en".into(),
            pages: None,
            front_matter: vec![],
            chapters: vec![
                Chapter {
                    index: 1,
                    title: "A".into(),
                    paragraphs: paragraphs.iter().map(|s| s.to_string()).collect(),
                    first_page: None,
                },
                Chapter { index: 2, title: "Empty".into(), paragraphs: vec![], first_page: None },
            ],
        }
    }

    #[test]
    fn a_short_chapter_is_one_chunk_and_an_empty_one_none() {
        let c = chunks(&book(&["one", "two"]), 100);
        assert_eq!(c.len(), 1);
        assert_eq!((c[0].chapter, c[0].first_paragraph, c[0].last_paragraph), (1, 0, 1));
        assert_eq!(c[0].paragraph(1), Some("two"));
        assert_eq!(c[0].paragraph(2), None);
    }

    #[test]
    fn a_long_chapter_is_cut_between_paragraphs_keeping_chapter_numbers() {
        let c = chunks(&book(&["aaaa", "bbbb", "cccc", "dd"]), 9);
        let spans: Vec<(u32, u32)> = c.iter().map(|c| (c.first_paragraph, c.last_paragraph)).collect();
        assert_eq!(spans, vec![(0, 1), (2, 3)]);
        assert_eq!(c[1].paragraph(2), Some("cccc"));
        assert!(c.iter().all(|c| c.chars() <= 9));
    }

    #[test]
    fn an_oversized_paragraph_is_clipped_at_a_character_boundary() {
        let c = chunks(&book(&["éééé", "xy"]), 3);
        assert_eq!(c[0].paragraphs, vec!["é"], "2 of the 3 bytes: the next 'é' would split");
        assert_eq!(c[1].paragraphs, vec!["xy"], "2 + 2 bytes do not fit in 3");
    }
}
