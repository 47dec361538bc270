//! What an upload is, told from the structure of its first bytes and its
//! name: the media type ingest records and pipelines are chosen by.
//!
//! Three or four magic bytes are not enough to call a file binary: a text
//! that discusses PDF may say `%PDF-1.7` on its first line, and a note may
//! start with the letters `ID3` or even `PK` and two control characters.
//! Each format is therefore recognised by what a real file of it must hold
//! at its start: a PDF its `%PDF-x.y` header at the start of a line followed
//! by PDF syntax, an ID3v2 tag a known version and a synchsafe size, a ZIP
//! archive a local file header whose fields make sense. Whatever fits none
//! of them is left to the file name (text, Markdown) and to the text
//! decoder, which refuses what is not text.
//!
//! This module knows formats, not pipelines: [`media_type`] is handed the
//! media types the registered pipelines accept and words its refusals
//! with them.

/// How many leading bytes the sniffer wants: the PDF header may sit anywhere
/// in the first 1024 bytes, and its first object follows it.
pub const SNIFF_BYTES: usize = 2048;

/// The PDF header must start a line within this many bytes.
const PDF_HEADER_WITHIN: usize = 1024;

/// What the first bytes of an upload are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sniffed {
    Pdf,
    Zip,
    Image(&'static str),
    Other(&'static str),
}

/// Recognises formats by their structure; `None` for anything else (text,
/// or binary data the text decoder will refuse).
pub fn sniff(head: &[u8]) -> Option<Sniffed> {
    if is_pdf(head) {
        return Some(Sniffed::Pdf);
    }
    if is_zip(head) {
        return Some(Sniffed::Zip);
    }
    if is_id3(head) {
        return Some(Sniffed::Other("MP3"));
    }
    const MAGIC: &[(&[u8], Sniffed)] = &[
        (b"\x89PNG\r\n\x1a\n", Sniffed::Image("image/png")),
        (b"\xff\xd8\xff", Sniffed::Image("image/jpeg")),
        (b"II*\x00", Sniffed::Image("image/tiff")),
        (b"MM\x00*", Sniffed::Image("image/tiff")),
        // BigTIFF: the same byte orders, version 43, and 8-byte offsets.
        (b"II+\x00\x08\x00\x00\x00", Sniffed::Image("image/tiff")),
        (b"MM\x00+\x00\x08\x00\x00", Sniffed::Image("image/tiff")),
        (b"OggS\x00", Sniffed::Other("Ogg")),
        (b"GIF87a", Sniffed::Other("GIF")),
        (b"GIF89a", Sniffed::Other("GIF")),
    ];
    if head.len() >= 16 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" && head[12..15] == *b"VP8" {
        return Some(Sniffed::Image("image/webp"));
    }
    MAGIC.iter().find(|(m, _)| head.starts_with(m)).map(|(_, k)| *k)
}

/// A `%PDF-d.d` header at the start of a line in the first kilobyte, then
/// the start of an object (`1 0 obj`), a cross-reference section or the
/// binary comment that usually follows the header. A text that merely
/// mentions the header has prose after it instead.
fn is_pdf(head: &[u8]) -> bool {
    let Some(at) = pdf_header(head) else { return false };
    let mut rest = &head[at + 8..];
    // The rest of the header line: nothing but spaces before its end.
    let line_end = rest.iter().position(|b| matches!(b, b'\r' | b'\n')).unwrap_or(rest.len());
    if !rest[..line_end].iter().all(|b| matches!(b, b' ' | b'\t' | b'\x0c')) {
        return false;
    }
    rest = &rest[line_end..];
    loop {
        rest = trim_pdf_space(rest);
        if rest.is_empty() {
            return false;
        }
        if rest[0] == b'%' {
            // A comment line; the customary second line holds bytes above 127.
            let end = rest.iter().position(|b| matches!(b, b'\r' | b'\n')).unwrap_or(rest.len());
            if rest[1..end].iter().any(|b| *b >= 0x80) {
                return true;
            }
            rest = &rest[end..];
            continue;
        }
        return rest.starts_with(b"xref") || starts_object(rest);
    }
}

/// Where a `%PDF-d.d` header starts a line in the first kilobyte.
pub fn pdf_header(head: &[u8]) -> Option<usize> {
    let within = &head[..head.len().min(PDF_HEADER_WITHIN + 8)];
    within.windows(8).enumerate().position(|(i, w)| {
        let at_line_start = i == 0 || matches!(within[i - 1], b'\r' | b'\n');
        at_line_start
            && i <= PDF_HEADER_WITHIN
            && w.starts_with(b"%PDF-")
            && w[5].is_ascii_digit()
            && w[6] == b'.'
            && w[7].is_ascii_digit()
    })
}

fn trim_pdf_space(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0', rest @ ..] = s {
        s = rest;
    }
    s
}

/// `N G obj`: an object number, a generation and the keyword.
fn starts_object(s: &[u8]) -> bool {
    let digits = |s: &[u8]| s.iter().take_while(|b| b.is_ascii_digit()).count();
    let n = digits(s);
    if n == 0 {
        return false;
    }
    let s = &s[n..];
    let spaces = s.iter().take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')).count();
    let s = &s[spaces..];
    let g = digits(s);
    if spaces == 0 || g == 0 {
        return false;
    }
    let s = &s[g..];
    let spaces = s.iter().take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n')).count();
    spaces > 0 && s[spaces..].starts_with(b"obj")
}

/// An ID3v2 tag: `ID3`, major version 2 to 4, a revision below 255, flags
/// without the bits no version defines, and a size of four synchsafe bytes
/// (each below 128).
fn is_id3(head: &[u8]) -> bool {
    let [b'I', b'D', b'3', major, revision, flags, size @ ..] = head else { return false };
    (2..=4).contains(major)
        && *revision != 0xff
        && flags & 0x0f == 0
        && size.len() >= 4
        && size[..4].iter().all(|b| *b < 0x80)
}

/// A ZIP local file header whose fields make sense: a version an archiver
/// writes (at most 6.3, on a known host), a known compression method, and a file name of
/// printable characters, present in full when the head is long enough.
fn is_zip(head: &[u8]) -> bool {
    if !head.starts_with(b"PK\x03\x04") || head.len() < 30 {
        return false;
    }
    let u16_at = |i: usize| u16::from_le_bytes([head[i], head[i + 1]]);
    let (version, method, name_len) = (u16_at(4), u16_at(8), usize::from(u16_at(26)));
    // Stored, deflate, deflate64, bzip2, LZMA, zstd, xz, PPMd, AES.
    let known_method = matches!(method, 0 | 8 | 9 | 12 | 14 | 93 | 95 | 98 | 99);
    if (version & 0xff) > 63 || version >> 8 > 19 || !known_method || name_len == 0 {
        return false;
    }
    let name = &head[30..head.len().min(30 + name_len)];
    name.iter().all(|b| *b >= 0x20 && *b != 0x7f)
}

/// A format an upload may have: its media type, the extensions it goes by
/// (the first is the one named in messages), and whether it is binary, so
/// that a file named like it whose bytes say otherwise is refused.
struct Known {
    media_type: &'static str,
    extensions: &'static [&'static str],
    binary: bool,
}

const KNOWN: &[Known] = &[
    Known { media_type: "application/pdf", extensions: &["pdf"], binary: true },
    Known { media_type: "application/epub+zip", extensions: &["epub"], binary: true },
    Known { media_type: "text/plain", extensions: &["txt", "text", ""], binary: false },
    Known { media_type: "text/markdown", extensions: &["md", "markdown"], binary: false },
    Known { media_type: "image/png", extensions: &["png"], binary: true },
    Known { media_type: "image/jpeg", extensions: &["jpg", "jpeg"], binary: true },
    Known { media_type: "image/tiff", extensions: &["tiff", "tif"], binary: true },
    Known { media_type: "image/webp", extensions: &["webp"], binary: true },
];

/// The media type of an upload named `file_name` whose first bytes are
/// `head` (the first [`SNIFF_BYTES`], or the whole file when it is
/// shorter), among `accepted`; or why it is refused, in words that list
/// what is accepted. The bytes win over the name: an HTML page named `.pdf`
/// is refused as HTML, and a text is read as text whatever binary
/// signature its first letters happen to spell.
pub fn media_type(file_name: &str, head: &[u8], accepted: &[&str]) -> Result<&'static str, String> {
    let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    let named = KNOWN.iter().find(|k| k.extensions.contains(&ext.as_str()));
    let found = match sniff(head) {
        Some(Sniffed::Pdf) => "application/pdf",
        Some(Sniffed::Zip) if ext == "epub" => "application/epub+zip",
        Some(Sniffed::Zip) => return Err("ZIP archives are not supported (an EPUB must be named .epub)".into()),
        Some(Sniffed::Image(media)) => media,
        Some(Sniffed::Other(kind)) => return Err(format!("{kind} files are not supported")),
        None => match named {
            Some(k) if k.binary => {
                return Err(format!("the file is named .{ext} but its first bytes look like {}", describe(head)))
            }
            Some(k) => k.media_type,
            None => {
                return Err(format!("unsupported file type .{ext} (supported: {})", supported(accepted)));
            }
        },
    };
    if accepted.contains(&found) {
        Ok(found)
    } else {
        Err(format!("{found} files are not supported (supported: {})", supported(accepted)))
    }
}

/// The extensions of the `accepted` media types, as messages list them.
fn supported(accepted: &[&str]) -> String {
    let names: Vec<String> = accepted
        .iter()
        .filter_map(|m| KNOWN.iter().find(|k| k.media_type == *m))
        .map(|k| format!(".{}", k.extensions[0]))
        .collect();
    names.join(", ")
}

/// A plain description of what `head` looks like, for messages about files
/// that are not what their name says.
pub fn describe(head: &[u8]) -> String {
    let text = String::from_utf8_lossy(&head[..head.len().min(512)]).to_ascii_lowercase();
    let trimmed = text.trim_start();
    let html = trimmed.starts_with("<!doctype html") || trimmed.starts_with("<html");
    if html || text.contains("<body") || text.contains("<head") {
        "HTML".into()
    } else if trimmed.starts_with("<?xml") || trimmed.starts_with('<') {
        "XML or markup".into()
    } else if head.starts_with(b"PK\x03\x04") {
        "a ZIP archive".into()
    } else if head.starts_with(b"\x89PNG") || head.starts_with(b"\xff\xd8\xff") {
        "an image".into()
    } else if std::str::from_utf8(head).is_ok() {
        "plain text".into()
    } else {
        "unknown binary data".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n";

    #[test]
    fn a_pdf_is_its_header_then_pdf_syntax() {
        assert_eq!(sniff(PDF), Some(Sniffed::Pdf));
        assert_eq!(sniff(b"%PDF-1.4\n1 0 obj <<>> endobj"), Some(Sniffed::Pdf));
        let mut junk = b"some mail headers\r\n".repeat(20);
        junk.extend_from_slice(PDF);
        assert_eq!(sniff(&junk), Some(Sniffed::Pdf), "a header after a few lines of junk");
    }

    #[test]
    fn a_text_that_mentions_the_pdf_header_is_not_a_pdf() {
        let texts: [&[u8]; 5] = [
            b"Notes on %PDF-1.7 and what it changed\n\nThe header of a PDF says its version.\n",
            b"%PDF-1.7 is the version most writers produce today, and readers accept it.\n",
            b"%PDF-1.7\nThis chapter is about the header above and nothing else.\n",
            b"%PDF-\n",
            b"%PDF-1.7",
        ];
        for text in texts {
            assert_eq!(sniff(text), None, "{}", String::from_utf8_lossy(text));
        }
        let mut late = b"x".repeat(1100);
        late.extend_from_slice(b"\n%PDF-1.4\n1 0 obj");
        assert_eq!(sniff(&late), None, "the header must be in the first kilobyte");
    }

    #[test]
    fn an_id3_tag_needs_a_version_and_a_synchsafe_size() {
        assert_eq!(sniff(b"ID3\x04\x00\x00\x00\x00\x10\x7f rest"), Some(Sniffed::Other("MP3")));
        assert_eq!(sniff(b"ID3 tags name the artist of a song.\n"), None);
        assert_eq!(sniff(b"ID3\x04\x00\x00\x00\x00\x80\x00"), None, "not synchsafe");
    }

    #[test]
    fn a_zip_needs_a_sane_local_file_header() {
        let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x08\x00".to_vec();
        zip.extend_from_slice(&[0; 16]);
        zip.extend_from_slice(&8u16.to_le_bytes());
        zip.extend_from_slice(&0u16.to_le_bytes());
        zip.extend_from_slice(b"mimetypeapplication/epub+zip");
        assert_eq!(sniff(&zip), Some(Sniffed::Zip));
        assert_eq!(sniff(b"PK\x03\x04 is how a ZIP archive starts; this note explains the rest of it.\n"), None);
    }

    #[test]
    fn images_by_their_signatures() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(Sniffed::Image("image/png")));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0"), Some(Sniffed::Image("image/webp")));
        assert_eq!(sniff(b"II+\x00\x08\x00\x00\x00\x10\0\0\0\0\0\0\0"), Some(Sniffed::Image("image/tiff")));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt "), None);
    }

    #[test]
    fn chooses_by_bytes_then_extension() {
        // Every known format accepted, in the order messages list them.
        let all: Vec<&str> = KNOWN.iter().map(|k| k.media_type).collect();
        let media = |name: &str, head: &[u8]| media_type(name, head, &all);
        assert_eq!(media("a.md", b"# Hi"), Ok("text/markdown"));
        assert_eq!(media("notes", b"hi"), Ok("text/plain"));
        assert_eq!(media("book.txt", PDF), Ok("application/pdf"), "the bytes win over the name");
        assert_eq!(media("notes.txt", b"%PDF-1.7 is a version of PDF."), Ok("text/plain"));
        assert_eq!(media("notes.txt", b"ID3 tags name a song's artist."), Ok("text/plain"));
        let mut zip = b"PK\x03\x04\x14\x00\x00\x00\x00\x00".to_vec();
        zip.extend_from_slice(&[0; 16]);
        zip.extend_from_slice(b"\x08\x00\x00\x00mimetype");
        assert_eq!(media("book.epub", &zip), Ok("application/epub+zip"));
        assert_eq!(media("scan", b"\x89PNG\r\n\x1a\n"), Ok("image/png"));
        assert_eq!(
            media("book.pdf", b"<!DOCTYPE html><html><head>"),
            Err("the file is named .pdf but its first bytes look like HTML".into())
        );
        assert!(media("song.mp3", b"ID3\x03\x00\x00\x00\x00\x01\x00").unwrap_err().contains("MP3"));
        assert!(media("data.zip", &zip).unwrap_err().contains(".epub"));
        assert_eq!(media("scan.webp", b"RIFF\x24\0\0\0WEBPVP8L\x18\0\0\0"), Ok("image/webp"));
        assert_eq!(
            media("x.docx", b"abc"),
            Err("unsupported file type .docx (supported: .pdf, .epub, .txt, .md, .png, .jpg, .tiff, .webp)".into())
        );
        // A format no pipeline accepts is refused with what is.
        assert_eq!(
            media_type("scan.png", b"\x89PNG\r\n\x1a\n", &["application/pdf"]),
            Err("image/png files are not supported (supported: .pdf)".into())
        );
    }
}
