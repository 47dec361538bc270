//! Checks of an EPUB's reading order before MuPDF lays it out.
//!
//! MuPDF reads the chapters listed in the package's spine and, for one it
//! cannot find in the archive, lays out a page of its own saying "ERROR:
//! cannot find chapter …" instead of failing. Entries listed in
//! `META-INF/encryption.xml` (DRM) are treated as missing too. The book would
//! then become "ready" with MuPDF's error text as its content. This module
//! reads the container and the package document and refuses, with a reason
//! in the book's terms, a spine entry that points outside the book, is
//! missing from the file, or is encrypted. A package it cannot make sense of
//! is left to MuPDF, which refuses it with its own reason.

use crate::error::PdfError;
use quick_xml::events::Event;
use std::collections::{HashMap, HashSet};
use std::io::{Read, Seek};

/// The largest container or package document read, in bytes: real ones are
/// kilobytes.
const MAX_PACKAGE_BYTES: u64 = 16 << 20;

/// Algorithms that only obfuscate embedded fonts (IDPF, Adobe): the text of
/// a book that uses them is readable.
const FONT_OBFUSCATION: &[&str] = &["http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"];

/// Refuses a book whose reading order names a chapter outside the book,
/// missing from the file, or encrypted.
pub(crate) fn check_spine<R: Read + Seek>(zip: &mut zip::ZipArchive<R>) -> Result<(), PdfError> {
    let Some(container) = read_entry(zip, "META-INF/container.xml") else { return Ok(()) };
    let Some(opf_path) = attributes(&container, b"rootfile").into_iter().find_map(|mut a| a.remove("full-path")) else {
        return Ok(());
    };
    let Some(opf) = read_entry(zip, &opf_path) else { return Ok(()) };
    let base = opf_path.rsplit_once('/').map(|(dir, _)| dir).unwrap_or("");
    let hrefs: HashMap<String, String> =
        attributes(&opf, b"item").into_iter().filter_map(|mut a| Some((a.remove("id")?, a.remove("href")?))).collect();
    let encrypted = encrypted_entries(zip);
    let names: HashSet<String> = zip.file_names().map(str::to_owned).collect();
    for idref in attributes(&opf, b"itemref").into_iter().filter_map(|mut a| a.remove("idref")) {
        let Some(href) = hrefs.get(&idref) else { continue };
        let href = url_decode(href.split('#').next().unwrap_or_default());
        let Some(path) = resolve(base, &href) else {
            return Err(PdfError::UnsafeArchive(format!("its chapter {href:?} points outside the book")));
        };
        if encrypted.contains(&path) {
            return Err(PdfError::Drm);
        }
        if !names.contains(&path) {
            return Err(PdfError::MissingChapter(path));
        }
    }
    Ok(())
}

/// The entries `META-INF/encryption.xml` lists with a real cipher (not font
/// obfuscation).
fn encrypted_entries<R: Read + Seek>(zip: &mut zip::ZipArchive<R>) -> HashSet<String> {
    let Some(xml) = read_entry(zip, "META-INF/encryption.xml") else { return HashSet::new() };
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut out, mut algorithm) = (HashSet::new(), String::new());
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => {
                let attrs = attrs_of(&e);
                match e.local_name().as_ref() {
                    b"EncryptedData" => algorithm.clear(),
                    b"EncryptionMethod" => algorithm = attrs.get("Algorithm").cloned().unwrap_or_default(),
                    b"CipherReference" if !FONT_OBFUSCATION.contains(&algorithm.as_str()) => {
                        if let Some(path) = attrs.get("URI").and_then(|uri| resolve("", &url_decode(uri))) {
                            out.insert(path);
                        }
                    }
                    _ => {}
                }
            }
            Ok(Event::Eof) | Err(_) => return out,
            Ok(_) => {}
        }
    }
}

/// The attributes of every element named `name` (local name, any prefix).
fn attributes(xml: &str, name: &[u8]) -> Vec<HashMap<String, String>> {
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut out = Vec::new();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == name => out.push(attrs_of(&e)),
            Ok(Event::Eof) | Err(_) => return out,
            Ok(_) => {}
        }
    }
}

fn attrs_of(e: &quick_xml::events::BytesStart) -> HashMap<String, String> {
    e.attributes()
        .flatten()
        .filter_map(|a| {
            let key = String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned();
            Some((key, a.unescape_value().ok()?.into_owned()))
        })
        .collect()
}

fn read_entry<R: Read + Seek>(zip: &mut zip::ZipArchive<R>, name: &str) -> Option<String> {
    let entry = zip.by_name(name).ok()?;
    let mut text = String::new();
    entry.take(MAX_PACKAGE_BYTES).read_to_string(&mut text).ok()?;
    Some(text)
}

/// `href` relative to the folder `base`, with `.` and `..` resolved as
/// MuPDF does; `None` when it climbs above the archive's root.
fn resolve(base: &str, href: &str) -> Option<String> {
    let mut parts: Vec<&str> = if href.starts_with('/') { Vec::new() } else { base.split('/').collect() };
    for part in href.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.retain(|p| !p.is_empty());
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.into_iter().filter(|p| !p.is_empty()).collect::<Vec<_>>().join("/"))
}

/// Decodes `%XX` escapes, as hrefs in a package document are URLs.
fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_like_a_url_and_refuses_to_climb_out() {
        assert_eq!(resolve("OEBPS", "c1.xhtml").as_deref(), Some("OEBPS/c1.xhtml"));
        assert_eq!(resolve("OEBPS/text", "../c1.xhtml").as_deref(), Some("OEBPS/c1.xhtml"));
        assert_eq!(resolve("", "c1.xhtml").as_deref(), Some("c1.xhtml"));
        assert_eq!(resolve("OEBPS", "../../etc/passwd"), None);
        assert_eq!(url_decode("chapter%201.xhtml"), "chapter 1.xhtml");
    }
}
