//! Opening a document safely, its outline, and rendering one page.

use crate::error::PdfError;
use crate::page::{self, PageText};
use bindery_core::media::describe;
use mupdf::pdf::PdfDocument;
use mupdf::{Colorspace, Document, Matrix, MetadataName};
use std::collections::HashSet;
use std::io::Read;
use std::path::Path;

/// The formats this crate opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DocKind {
    Pdf,
    Epub,
}

impl DocKind {
    fn name(self) -> &'static str {
        match self {
            DocKind::Pdf => "PDF",
            DocKind::Epub => "EPUB",
        }
    }
}

/// Limits applied before and while reading. The `bindery` binary exposes
/// them as settings named in the refusals: `max-pages`,
/// `max-page-megapixels`, `max-nesting-depth`, `max-epub-entry-mb` and
/// `max-epub-unpacked-mb` (see the README's settings table).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct OpenOptions {
    /// Documents with more pages are refused: a 5,000-page "book" is far more
    /// likely an attack or a mistake than something a reader wants.
    pub max_pages: u32,
    /// The largest page raster [`Doc::render_grey`] and [`Doc::render_rgb`]
    /// will allocate, in pixels (a 300 dpi A3 page is about 17 million).
    pub max_render_pixels: u64,
    /// The deepest nesting accepted in an outline (bookmarks) or in an
    /// EPUB's markup. MuPDF and its Rust binding read both by recursion, so
    /// a file nested thousands deep overflows the stack and kills the
    /// process; real books nest a few levels, tables a dozen.
    pub max_depth: u32,
    /// The most one file inside an EPUB may unpack to, in bytes, by its
    /// declared size: MuPDF allocates an entry whole before reading it.
    pub max_entry_bytes: u64,
    /// The most all the files inside an EPUB may unpack to together.
    pub max_unpacked_bytes: u64,
}

impl Default for OpenOptions {
    fn default() -> Self {
        Self {
            max_pages: 3_000,
            max_render_pixels: 40_000_000,
            max_depth: 256,
            max_entry_bytes: 256 << 20,
            max_unpacked_bytes: 2 << 30,
        }
    }
}

/// One entry of a document's outline (bookmarks, table of contents),
/// flattened in document order.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct OutlineEntry {
    pub title: String,
    /// 0 for top-level entries.
    pub level: u32,
    /// 1-based page the entry points to, when it points inside the document.
    pub page: Option<u32>,
}

/// A rendered page: `channels` is 1 (grey) or 3 (RGB), rows are packed.
#[derive(Clone, Debug)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub pixels: Vec<u8>,
}

/// An open document. Not `Send`: MuPDF handles belong to their thread.
pub struct Doc {
    inner: Inner,
    pages: u32,
    kind: DocKind,
    options: OpenOptions,
}

impl Doc {
    /// Opens `path` as `kind` after checking its first bytes, so an HTML page
    /// named `.pdf` is refused with what it really is instead of whatever
    /// MuPDF's parser makes of it.
    pub fn open(path: &Path, kind: DocKind, options: OpenOptions) -> Result<Doc, PdfError> {
        let mut head = Vec::with_capacity(1024);
        std::fs::File::open(path)?.take(1024).read_to_end(&mut head)?;
        check_magic(&head, kind)?;
        match kind {
            DocKind::Epub => check_archive(path, &options)?,
            DocKind::Pdf => check_trailer(path)?,
        }
        let path_str = path.to_str().ok_or_else(|| PdfError::Corrupt("the file path is not UTF-8".into()))?;
        let inner = open_as(path_str, kind)?;
        if inner.doc().needs_password()? {
            return Err(PdfError::Encrypted);
        }
        let pages = u32::try_from(inner.doc().page_count()?).unwrap_or(0);
        if pages == 0 {
            return Err(PdfError::NoPages);
        }
        if pages > options.max_pages {
            return Err(PdfError::TooManyPages { pages, limit: options.max_pages });
        }
        Ok(Doc { inner, pages, kind, options })
    }

    pub fn kind(&self) -> DocKind {
        self.kind
    }

    pub fn page_count(&self) -> u32 {
        self.pages
    }

    /// The document's own title and author, when its metadata has them.
    pub fn metadata(&self) -> (Option<String>, Option<String>) {
        let get = |name| self.inner.doc().metadata(name).ok().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
        (get(MetadataName::Title), get(MetadataName::Author))
    }

    /// The outline, flattened depth-first. A PDF's outline is measured
    /// before MuPDF loads it (see [`check_outline_depth`]); an EPUB's table
    /// of contents was measured with its markup when it was opened.
    pub fn outline(&self) -> Result<Vec<OutlineEntry>, PdfError> {
        if let Inner::Pdf(pdf) = &self.inner {
            check_outline_depth(pdf, self.options.max_depth)?;
        }
        let mut out = Vec::new();
        // An explicit stack instead of recursion: each item is a level of
        // siblings still to visit, innermost last.
        let top = self.inner.doc().outlines()?;
        let mut stack: Vec<(u32, std::vec::IntoIter<mupdf::Outline>)> = vec![(0, top.into_iter())];
        while let Some((level, siblings)) = stack.last_mut() {
            let level = *level;
            let Some(o) = siblings.next() else {
                stack.pop();
                continue;
            };
            let page = o.dest.as_ref().map(|d| d.loc.page_number + 1);
            out.push(OutlineEntry { title: o.title.trim().to_owned(), level, page });
            if !o.down.is_empty() {
                stack.push((level + 1, o.down.into_iter()));
            }
        }
        Ok(out)
    }

    /// True when MuPDF could not read the PDF's cross-reference table (its
    /// index of objects) as written and rebuilt it by scanning the file. A
    /// rebuilt PDF usually reads in full, but objects the damage touched may
    /// be gone, so the document should say so. MuPDF may repair lazily, when
    /// a damaged object is first reached: ask after reading the pages.
    pub fn was_repaired(&self) -> bool {
        // The binding keeps `pdf_was_repaired` private; a document MuPDF has
        // tried to repair is exactly one it refuses to save incrementally
        // (the other reason, redaction, cannot happen to a file only read).
        match &self.inner {
            Inner::Pdf(pdf) => !pdf.can_be_saved_incrementally(),
            Inner::Other(_) => false,
        }
    }

    /// True when a compressed content stream of page `number` (1-based) is
    /// damaged: its data is corrupt or breaks off before its end. MuPDF
    /// draws such a stream up to the damage and drops the rest without an
    /// error (it tells only a warning callback the binding does not expose),
    /// so the page loses whatever text followed; this check inflates the
    /// streams itself to find out. Only Flate, by far the most common
    /// compression, is checked; other filters are trusted.
    pub fn page_content_damaged(&self, number: u32) -> Result<bool, PdfError> {
        let Inner::Pdf(pdf) = &self.inner else { return Ok(false) };
        let page = pdf.find_page(self.index(number)?)?;
        let Some(contents) = page.get_dict("Contents")? else { return Ok(false) };
        let streams =
            if contents.is_array()? { contents.array_iter()?.collect::<Result<Vec<_>, _>>()? } else { vec![contents] };
        for stream in streams {
            if !stream.is_stream()? || !first_filter_is_flate(&stream)? {
                continue;
            }
            if !crate::inflate::is_whole(&stream.read_raw_stream()?) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The text of page `number` (1-based) with positions.
    pub fn page_text(&self, number: u32) -> Result<PageText, PdfError> {
        let page = self.inner.doc().load_page(self.index(number)?)?;
        page::extract(&page, number)
    }

    /// Renders page `number` (1-based) in grey at `dpi`, as OCR wants it.
    pub fn render_grey(&self, number: u32, dpi: u32) -> Result<Raster, PdfError> {
        self.render(number, dpi as f32 / 72.0, &Colorspace::device_gray(), dpi)
    }

    /// Renders page `number` (1-based) in RGB, `width` pixels wide.
    pub fn render_rgb(&self, number: u32, width: u32) -> Result<Raster, PdfError> {
        let page = self.inner.doc().load_page(self.index(number)?)?;
        let bounds = page.bounds()?;
        let scale = width as f32 / (bounds.x1 - bounds.x0).max(1.0);
        self.render(number, scale, &Colorspace::device_rgb(), (scale * 72.0).round() as u32)
    }

    /// Renders page `number` (1-based) in RGB at `dpi`.
    pub fn render_rgb_dpi(&self, number: u32, dpi: u32) -> Result<Raster, PdfError> {
        self.render(number, dpi as f32 / 72.0, &Colorspace::device_rgb(), dpi)
    }

    fn render(&self, number: u32, scale: f32, cs: &Colorspace, dpi: u32) -> Result<Raster, PdfError> {
        let page = self.inner.doc().load_page(self.index(number)?)?;
        let b = page.bounds()?;
        let (w, h) = (((b.x1 - b.x0) * scale).ceil() as u64, ((b.y1 - b.y0) * scale).ceil() as u64);
        if w * h > self.options.max_render_pixels {
            return Err(PdfError::PageTooLarge {
                page: number,
                width: w as u32,
                height: h as u32,
                dpi,
                limit: self.options.max_render_pixels,
            });
        }
        let pix = page.to_pixmap(&Matrix::new_scale(scale, scale), cs, false, false)?;
        let (width, height, n) = (pix.width(), pix.height(), pix.n());
        let stride = pix.stride() as usize;
        let row = width as usize * n as usize;
        let samples = pix.samples();
        let mut pixels = Vec::with_capacity(row * height as usize);
        for y in 0..height as usize {
            pixels.extend_from_slice(&samples[y * stride..y * stride + row]);
        }
        Ok(Raster { width, height, channels: n, pixels })
    }

    fn index(&self, number: u32) -> Result<i32, PdfError> {
        if number == 0 || number > self.pages {
            return Err(PdfError::Corrupt(format!("page {number} is outside 1..={}", self.pages)));
        }
        Ok(number as i32 - 1)
    }
}

/// MuPDF's handle, with its PDF-specific view when the document is a PDF
/// (the outline is measured through the PDF's objects).
enum Inner {
    Pdf(PdfDocument),
    Other(Document),
}

impl Inner {
    fn doc(&self) -> &Document {
        match self {
            Inner::Pdf(pdf) => pdf,
            Inner::Other(doc) => doc,
        }
    }
}

/// MuPDF recognises the format from the content and the file name, so the
/// caller names files with their extension (the stages write `source.pdf`).
fn open_as(path: &str, kind: DocKind) -> Result<Inner, PdfError> {
    let doc = Document::open(path)?;
    Ok(match kind {
        DocKind::Pdf => Inner::Pdf(PdfDocument::try_from(doc)?),
        DocKind::Epub => Inner::Other(doc),
    })
}

/// True when `stream`'s first (or only) filter is Flate, so that its raw
/// bytes are a zlib stream.
fn first_filter_is_flate(stream: &mupdf::pdf::PdfObject) -> Result<bool, PdfError> {
    let Some(filter) = stream.get_dict("Filter")? else { return Ok(false) };
    let first = if filter.is_array()? { filter.get_array(0)? } else { Some(filter) };
    let Some(first) = first else { return Ok(false) };
    Ok(first.is_name()? && matches!(first.as_name()?.as_slice(), b"FlateDecode" | b"Fl"))
}

/// Refuses a PDF whose outline nests deeper than `limit`, walking its
/// `/First` and `/Next` links with an explicit stack. MuPDF loads an outline
/// by recursion, and the Rust binding converts and drops it by recursion,
/// so a 20,000-deep chain of bookmarks (a few hundred kilobytes) would
/// overflow the stack before any of our code saw it. Objects already seen
/// are skipped, so a cycle ends the walk instead of looping.
fn check_outline_depth(pdf: &PdfDocument, limit: u32) -> Result<(), PdfError> {
    let Some(root) = pdf.catalog()?.get_dict("Outlines")? else { return Ok(()) };
    let mut seen = HashSet::new();
    let mut stack = vec![(root.get_dict("First")?, 1u32)];
    while let Some((node, depth)) = stack.pop() {
        let Some(node) = node else { continue };
        if node.is_indirect()? && !seen.insert(node.as_indirect()?) {
            continue;
        }
        if depth > limit {
            return Err(PdfError::OutlineTooDeep { limit });
        }
        stack.push((node.get_dict("Next")?, depth));
        stack.push((node.get_dict("First")?, depth + 1));
    }
    Ok(())
}

/// Refuses files whose first bytes are not `kind`'s, naming what they are.
pub(crate) fn check_magic(head: &[u8], kind: DocKind) -> Result<(), PdfError> {
    if head.is_empty() {
        return Err(PdfError::Empty);
    }
    let ok = match kind {
        // The PDF header may follow some junk, within the first kilobyte.
        DocKind::Pdf => head.windows(5).any(|w| w == b"%PDF-"),
        DocKind::Epub => head.starts_with(b"PK\x03\x04"),
    };
    if ok {
        Ok(())
    } else {
        Err(PdfError::WrongType { expected: kind.name(), found: describe(head) })
    }
}

/// Refuses PDFs without an end-of-file marker near their end: a truncated
/// upload. MuPDF would "repair" it and quietly return the pages it could
/// reach, turning a broken transfer into a shorter book.
///
/// Writers and transfers may pad a complete file after its marker (NUL
/// bytes to fill a block, blank lines), so the padding is skipped first,
/// reading backwards a block at a time, up to [`MAX_PADDING`] bytes.
fn check_trailer(path: &Path) -> Result<(), PdfError> {
    use std::io::{Seek, SeekFrom};
    const BLOCK: u64 = 64 * 1024;
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    let is_padding = |b: &u8| matches!(b, b'\0' | b' ' | b'\t' | b'\r' | b'\n' | b'\x0c');
    // The end of the content: the first byte after the last one that is not padding.
    let mut end = len;
    let mut block = Vec::with_capacity(BLOCK as usize);
    while end > 0 && len - end <= MAX_PADDING {
        let start = end.saturating_sub(BLOCK);
        f.seek(SeekFrom::Start(start))?;
        block.clear();
        (&mut f).take(end - start).read_to_end(&mut block)?;
        match block.iter().rposition(|b| !is_padding(b)) {
            Some(i) => {
                end = start + i as u64 + 1;
                break;
            }
            None => end = start,
        }
    }
    let start = end.saturating_sub(4096);
    f.seek(SeekFrom::Start(start))?;
    let mut tail = Vec::with_capacity(4096);
    (&mut f).take(end - start).read_to_end(&mut tail)?;
    if tail.windows(5).any(|w| w == b"%%EOF") {
        Ok(())
    } else {
        Err(PdfError::Truncated)
    }
}

/// The most padding (NUL bytes and white space) accepted after a PDF's
/// end-of-file marker.
const MAX_PADDING: u64 = 1 << 20;

/// Refuses EPUBs whose entries would escape an extraction folder (`../`,
/// absolute paths) or that claim absurd sizes (zip bombs). MuPDF never
/// extracts to disk, but such a file is hostile and the reason is worth
/// telling the uploader. Then measures how deeply each markup entry nests
/// (see [`crate::markup`]), since MuPDF's layout recursion would not survive
/// what a hostile chapter can nest.
pub(crate) fn check_archive(path: &Path, options: &OpenOptions) -> Result<(), PdfError> {
    let max_depth = options.max_depth;
    let file = std::fs::File::open(path)?;
    let mut zip = zip::ZipArchive::new(file).map_err(|e| PdfError::Corrupt(format!("not a valid ZIP: {e}")))?;
    let mut total = 0u64;
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| PdfError::Corrupt(format!("ZIP entry {i}: {e}")))?;
        let name = entry.name();
        let escapes = name.starts_with('/') || name.starts_with('\\') || name.contains(':');
        if escapes || name.split(['/', '\\']).any(|part| part == "..") {
            return Err(PdfError::UnsafeArchive(format!("entry {name:?} points outside the book")));
        }
        if entry.size() > options.max_entry_bytes {
            return Err(PdfError::EntryTooLarge {
                entry: name.to_owned(),
                bytes: entry.size(),
                limit: options.max_entry_bytes,
            });
        }
        total = total.saturating_add(entry.size());
    }
    if total > options.max_unpacked_bytes {
        return Err(PdfError::UnpacksTooLarge { bytes: total, limit: options.max_unpacked_bytes });
    }
    crate::epub::check_spine(&mut zip)?;
    for i in 0..zip.len() {
        let entry = zip.by_index(i).map_err(|e| PdfError::Corrupt(format!("ZIP entry {i}: {e}")))?;
        let name = entry.name().to_owned();
        let lower = name.to_ascii_lowercase();
        let markup = [".xhtml", ".html", ".htm", ".xml", ".opf", ".ncx", ".svg"].iter().any(|ext| lower.ends_with(ext));
        if !markup {
            continue;
        }
        let reader = std::io::BufReader::with_capacity(64 * 1024, entry);
        // A damaged entry (bad deflate data) is MuPDF's to judge: it may still read the rest of the book.
        if let Ok(Some(_)) = crate::markup::deeper_than(reader, max_depth as usize) {
            return Err(PdfError::TooDeep { entry: name, limit: max_depth });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_a_misnamed_file_is() {
        let err = check_magic(b"<!DOCTYPE html><html><body>hi", DocKind::Pdf).unwrap_err();
        assert_eq!(err.to_string(), "not a PDF file: its first bytes look like HTML");
        assert!(matches!(check_magic(b"", DocKind::Pdf), Err(PdfError::Empty)));
        assert!(check_magic(b"\n\n%PDF-1.4\n", DocKind::Pdf).is_ok());
        let err = check_magic(b"%PDF-1.4", DocKind::Epub).unwrap_err();
        assert!(err.to_string().contains("plain text"), "{err}");
    }

    #[test]
    fn padding_after_the_end_of_file_marker_is_not_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("padded.pdf");
        let mut bytes = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
        bytes.extend(std::iter::repeat_n(0u8, 8 << 10));
        std::fs::write(&path, &bytes).unwrap();
        check_trailer(&path).unwrap();
        bytes.extend(std::iter::repeat_n(0u8, 200 << 10));
        std::fs::write(&path, &bytes).unwrap();
        check_trailer(&path).unwrap();
        std::fs::write(&path, b"%PDF-1.4\n1 0 obj <<>> endobj\n\0\0\0").unwrap();
        assert!(matches!(check_trailer(&path), Err(PdfError::Truncated)));
        let mut zeros = b"%PDF-1.4\n%%EOF\n".to_vec();
        zeros.extend(std::iter::repeat_n(0u8, (MAX_PADDING + (200 << 10)) as usize));
        std::fs::write(&path, &zeros).unwrap();
        assert!(matches!(check_trailer(&path), Err(PdfError::Truncated)), "more padding than is plausible");
    }
}
