//! Direct reader for the WordNet 3.0 database files (the format of wndb(5)), as Debian's `wordnet-base`
//! installs them. The index files (`index.*`) are kept as sorted text and binary-searched, the exception lists
//! (`*.exc`) and tag counts (`cntlist.rev`) are small enough for hash maps, and the data files (`data.*`, about
//! 22 MB) stay on disk and are read one record at a time by byte offset, which is how the database is designed to
//! be used and keeps the resident size small.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::{Definition, DictionaryError, Pos, DEFAULT_WORDNET_DIR};

/// A loaded WordNet database: lemma indexes, exception lists and general-usage counts in memory, glosses on disk.
pub struct WordNet {
    dir: PathBuf,
    /// Per category: the sorted lemma index, pointing at synsets in `data.<pos>`.
    index: [IndexFile; 4],
    /// Per category: inflected form → base forms, from `<pos>.exc`.
    exceptions: [HashMap<String, Box<[String]>>; 4],
    /// Lemma → semantic-concordance tag counts per category, summed over senses (from `cntlist.rev`).
    counts: HashMap<String, [u32; 4]>,
    max_count: u32,
    /// Open `data.*` files; a mutex because reading a record means seek-then-read on a shared handle.
    data: [Mutex<File>; 4],
}

impl std::fmt::Debug for WordNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WordNet")
            .field("dir", &self.dir)
            .field("lemmas", &self.index.iter().map(|i| i.lines.len()).sum::<usize>())
            .field("counted_lemmas", &self.counts.len())
            .finish()
    }
}

fn read_file(path: &Path) -> Result<String, DictionaryError> {
    std::fs::read_to_string(path).map_err(|source| DictionaryError::Io { path: path.to_path_buf(), source })
}

fn open_file(path: &Path) -> Result<File, DictionaryError> {
    File::open(path).map_err(|source| DictionaryError::Io { path: path.to_path_buf(), source })
}

/// One `index.<pos>` file kept as text, with the start of each entry line. The files are sorted byte-wise by
/// lemma (wndb(5) says so and WordNet's own library relies on it), so a lookup is a binary search; this loads in a
/// few milliseconds instead of hashing 150,000 lemmas, and holds about 6 MB for all four files.
struct IndexFile {
    path: PathBuf,
    text: String,
    lines: Vec<u32>,
}

impl IndexFile {
    fn load(path: &Path) -> Result<IndexFile, DictionaryError> {
        let text = read_file(path)?;
        let bytes = text.as_bytes();
        let mut lines = Vec::with_capacity(bytes.len() / 40);
        let mut at_line_start = true;
        for (i, &b) in bytes.iter().enumerate() {
            // Lines starting with a space are the licence header; empty lines carry nothing.
            if at_line_start && b != b' ' && b != b'\n' {
                lines.push(i as u32);
            }
            at_line_start = b == b'\n';
        }
        let index = IndexFile { path: path.to_path_buf(), text, lines };
        index.check_sorted()?;
        Ok(index)
    }

    /// Binary search needs sorted lemmas; a file that is not sorted would silently lose words, so it is refused.
    fn check_sorted(&self) -> Result<(), DictionaryError> {
        for (n, pair) in self.lines.windows(2).enumerate() {
            if self.lemma_at(pair[0] as usize) >= self.lemma_at(pair[1] as usize) {
                let reason = "index file is not sorted by lemma".to_string();
                return Err(DictionaryError::Parse { path: self.path.clone(), line: n + 2, reason });
            }
        }
        Ok(())
    }

    fn lemma_at(&self, start: usize) -> &[u8] {
        let rest = &self.text.as_bytes()[start..];
        &rest[..rest.iter().position(|&b| b == b' ' || b == b'\n').unwrap_or(rest.len())]
    }

    fn line(&self, lemma: &str) -> Option<&str> {
        let found = self.lines.binary_search_by(|&start| self.lemma_at(start as usize).cmp(lemma.as_bytes())).ok()?;
        let start = self.lines[found] as usize;
        self.text[start..].lines().next()
    }

    fn contains(&self, lemma: &str) -> bool {
        self.line(lemma).is_some()
    }

    /// Synset offsets of `lemma`, most frequent sense first. An entry line reads
    /// `lemma pos synset_cnt p_cnt [ptr_symbol…] sense_cnt tagsense_cnt synset_offset…`.
    fn offsets(&self, lemma: &str) -> Vec<u32> {
        let Some(line) = self.line(lemma) else { return Vec::new() };
        let mut fields = line.split_ascii_whitespace().skip(2);
        let synset_cnt: usize = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let p_cnt: usize = fields.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        // Skip the pointer symbols, then sense_cnt (which repeats synset_cnt) and tagsense_cnt.
        fields.skip(p_cnt + 2).take(synset_cnt).filter_map(|s| s.parse().ok()).collect()
    }
}

/// Parses one `<pos>.exc` file: `inflected base [base…]`.
fn parse_exceptions(path: &Path) -> Result<HashMap<String, Box<[String]>>, DictionaryError> {
    let text = read_file(path)?;
    let mut map = HashMap::new();
    for line in text.lines() {
        let mut fields = line.split_ascii_whitespace();
        if let Some(form) = fields.next() {
            let bases: Box<[String]> = fields.map(str::to_string).collect();
            if !bases.is_empty() {
                map.insert(form.to_string(), bases);
            }
        }
    }
    Ok(map)
}

/// Parses `cntlist.rev`: `lemma%ss_type:lex_filenum:lex_id:head_word:head_id sense_number tag_cnt`, summing the
/// tag counts per lemma and category. These counts are how often each sense was tagged in the Brown-corpus based
/// semantic concordances, the only general-usage frequency that ships with WordNet.
fn parse_counts(path: &Path) -> Result<HashMap<String, [u32; 4]>, DictionaryError> {
    let text = read_file(path)?;
    let mut map: HashMap<String, [u32; 4]> = HashMap::with_capacity(text.len() / 40);
    for (n, line) in text.lines().enumerate() {
        let bad =
            |reason: &str| DictionaryError::Parse { path: path.to_path_buf(), line: n + 1, reason: reason.into() };
        let mut fields = line.split_ascii_whitespace();
        let Some(key) = fields.next() else { continue };
        let count: u32 = fields.nth(1).and_then(|s| s.parse().ok()).ok_or_else(|| bad("tag_cnt"))?;
        let (lemma, rest) = key.split_once('%').ok_or_else(|| bad("sense key without %"))?;
        let pos = rest.bytes().next().and_then(Pos::from_ss_type).ok_or_else(|| bad("ss_type"))?;
        let slot = match map.get_mut(lemma) {
            Some(slot) => slot,
            None => map.entry(lemma.to_string()).or_default(),
        };
        slot[pos.index()] = slot[pos.index()].saturating_add(count);
    }
    Ok(map)
}

/// WordNet spells collocations with underscores and keeps hyphens; callers pass ordinary text.
pub(crate) fn normalise(word: &str) -> String {
    word.trim().to_lowercase().replace('’', "'").replace(' ', "_")
}

impl WordNet {
    /// Loads the database in `dir` (the directory holding `index.noun`, `data.noun`, `cntlist.rev`, …).
    pub fn open(dir: &Path) -> Result<WordNet, DictionaryError> {
        // The files are independent, so they are parsed on separate threads; this halves the load time on a
        // two-core machine and costs nothing on one core.
        let (index, exceptions, counts) = std::thread::scope(|scope| {
            let indexes: Vec<_> = Pos::ALL
                .map(|pos| scope.spawn(move || IndexFile::load(&dir.join(format!("index.{}", pos.file_suffix())))))
                .into_iter()
                .collect();
            let counts = scope.spawn(|| parse_counts(&dir.join("cntlist.rev")));
            let exceptions = Pos::ALL.map(|pos| parse_exceptions(&dir.join(format!("{}.exc", pos.file_suffix()))));
            let indexes: Vec<_> = indexes.into_iter().map(|h| h.join().expect("index parser panicked")).collect();
            (indexes, exceptions, counts.join().expect("count parser panicked"))
        });
        let mut index_iter = index.into_iter();
        let mut next_index = || index_iter.next().expect("four index files");
        let index = [next_index()?, next_index()?, next_index()?, next_index()?];
        let [e0, e1, e2, e3] = exceptions;
        let exceptions = [e0?, e1?, e2?, e3?];
        let counts = counts?;
        let max_count = counts.values().map(|c| c.iter().sum::<u32>()).max().unwrap_or(0);
        let data_file = |pos: Pos| open_file(&dir.join(format!("data.{}", pos.file_suffix()))).map(Mutex::new);
        let data = [data_file(Pos::Noun)?, data_file(Pos::Verb)?, data_file(Pos::Adj)?, data_file(Pos::Adv)?];
        Ok(WordNet { dir: dir.to_path_buf(), index, exceptions, counts, max_count, data })
    }

    /// Loads the database from Debian's `/usr/share/wordnet` ([`DEFAULT_WORDNET_DIR`]). The library reads no
    /// environment: a program that lets its user choose the folder (the `bindery` binary's `wordnet-dir`) calls
    /// [`WordNet::open`].
    pub fn open_default() -> Result<WordNet, DictionaryError> {
        WordNet::open(Path::new(DEFAULT_WORDNET_DIR))
    }

    /// The directory the database was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether `lemma` (already a base form) is in the index for `pos`.
    pub fn contains(&self, lemma: &str, pos: Pos) -> bool {
        self.index[pos.index()].contains(&normalise(lemma))
    }

    pub(crate) fn has_lemma(&self, normalised: &str, pos: Pos) -> bool {
        self.index[pos.index()].contains(normalised)
    }

    pub(crate) fn exception_bases(&self, normalised: &str, pos: Pos) -> &[String] {
        self.exceptions[pos.index()].get(normalised).map(|b| &b[..]).unwrap_or(&[])
    }

    /// General-usage count of `lemma` over all categories: the sum of its senses' tag counts in `cntlist.rev`.
    /// Zero for lemmas WordNet knows but never saw tagged, and for words it does not know at all.
    pub fn frequency(&self, lemma: &str) -> u32 {
        self.counts.get(&normalise(lemma)).map(|c| c.iter().sum()).unwrap_or(0)
    }

    /// General-usage count of `lemma` in one category.
    pub fn frequency_as(&self, lemma: &str, pos: Pos) -> u32 {
        self.counts.get(&normalise(lemma)).map(|c| c[pos.index()]).unwrap_or(0)
    }

    /// The largest [`WordNet::frequency`] of any lemma, the top of the rarity scale.
    pub fn max_frequency(&self) -> u32 {
        self.max_count
    }

    /// Up to `max` senses of `lemma`, most frequent first. With `pos` given only that category is searched;
    /// otherwise categories are taken in order of the lemma's usage count in each. A word that is not itself a
    /// lemma is reduced with [`WordNet::morphy`] first, so "mice" finds the senses of "mouse".
    pub fn definitions(&self, lemma: &str, pos: Option<Pos>, max: usize) -> Vec<Definition> {
        let word = normalise(lemma);
        let mut targets: Vec<(Pos, String)> = match pos {
            Some(p) if self.has_lemma(&word, p) => vec![(p, word.clone())],
            Some(p) => self.morphy(&word).into_iter().filter(|(q, _)| *q == p).collect(),
            None => {
                let direct: Vec<_> =
                    Pos::ALL.into_iter().filter(|p| self.has_lemma(&word, *p)).map(|p| (p, word.clone())).collect();
                if direct.is_empty() {
                    self.morphy(&word)
                } else {
                    direct
                }
            }
        };
        // Stable sort: categories with equal counts keep WordNet's noun, verb, adjective, adverb order.
        targets.sort_by_key(|(p, l)| std::cmp::Reverse(self.frequency_as(l, *p)));
        let mut out = Vec::new();
        for (p, l) in targets {
            for offset in self.index[p.index()].offsets(&l) {
                if out.len() >= max {
                    return out;
                }
                if let Ok(record) = self.read_record(p, offset) {
                    let (gloss, examples) = split_gloss(gloss_of(&record));
                    out.push(Definition { pos: p.as_str().to_string(), gloss, examples });
                }
            }
        }
        out
    }

    /// Reads the line of `data.<pos>` that starts at byte `offset`, checking that it is the record asked for.
    fn read_record(&self, pos: Pos, offset: u32) -> Result<String, DictionaryError> {
        let path = || self.dir.join(format!("data.{}", pos.file_suffix()));
        let io = |source| DictionaryError::Io { path: path(), source };
        let mut file = self.data[pos.index()].lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        file.seek(SeekFrom::Start(u64::from(offset))).map_err(io)?;
        let mut line = Vec::with_capacity(512);
        let mut chunk = [0u8; 512];
        loop {
            let n = file.read(&mut chunk).map_err(io)?;
            if n == 0 {
                break;
            }
            if let Some(end) = chunk[..n].iter().position(|&b| b == b'\n') {
                line.extend_from_slice(&chunk[..end]);
                break;
            }
            line.extend_from_slice(&chunk[..n]);
        }
        let line = String::from_utf8_lossy(&line).into_owned();
        let starts_right = line.split(' ').next().and_then(|s| s.parse::<u32>().ok()) == Some(offset);
        if !starts_right {
            return Err(DictionaryError::BadRecord { path: path(), offset });
        }
        Ok(line)
    }
}

/// The gloss is everything after the first `" | "` of a data record.
fn gloss_of(record: &str) -> &str {
    record.split_once(" | ").map(|(_, g)| g.trim()).unwrap_or("")
}

/// Splits a gloss such as `small animal; "a rabbit ran"; "another"` into the definition and its quoted examples.
/// Quotes are tracked so that a semicolon inside an example does not split it.
pub(crate) fn split_gloss(gloss: &str) -> (String, Vec<String>) {
    let mut definition: Vec<String> = Vec::new();
    let mut examples: Vec<String> = Vec::new();
    let mut current = String::new();
    let mut in_quote = false;
    // Text outside quotes belongs to the definition, except an attribution ("- Elizabeth Bowen") that follows an
    // example and names its author.
    let mut push_part = |part: &str, examples: &mut Vec<String>| {
        let part = part.trim().trim_end_matches(';').trim();
        match examples.last_mut() {
            _ if part.is_empty() => {}
            Some(example) if part.starts_with('-') => {
                example.push(' ');
                example.push_str(part);
            }
            _ => definition.push(part.to_string()),
        }
    };
    for c in gloss.chars() {
        match c {
            '"' if in_quote => {
                in_quote = false;
                let example = current.trim().to_string();
                if !example.is_empty() {
                    examples.push(example);
                }
                current.clear();
            }
            '"' | ';' if !in_quote => {
                push_part(&current, &mut examples);
                current.clear();
                in_quote = c == '"';
            }
            _ => current.push(c),
        }
    }
    if in_quote {
        // An unterminated quote still holds an example.
        let rest = current.trim();
        if !rest.is_empty() {
            examples.push(rest.to_string());
        }
    } else {
        push_part(&current, &mut examples);
    }
    (definition.join("; "), examples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_gloss_into_definition_and_examples() {
        let (def, ex) = split_gloss(r#"having curiosity; eager to know; "a curious child"; "curious; yes""#);
        assert_eq!(def, "having curiosity; eager to know");
        assert_eq!(ex, vec!["a curious child".to_string(), "curious; yes".to_string()]);
        let (def, ex) = split_gloss(r#"directed to one side; "a look askance"- Elizabeth Bowen; "another""#);
        assert_eq!(def, "directed to one side");
        assert_eq!(ex, vec!["a look askance - Elizabeth Bowen".to_string(), "another".to_string()]);
        let (def, ex) = split_gloss("a plain definition");
        assert_eq!((def.as_str(), ex.len()), ("a plain definition", 0));
    }
}
