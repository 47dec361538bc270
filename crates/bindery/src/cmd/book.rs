//! Commands on a processed book: `export`, `search`, `narrate`,
//! `dictionary` and `pages`.

use crate::config::Settings;
use anyhow::{bail, Context, Result};
use bindery_core::DocumentState;
use bindery_engine::Engine;
use bindery_stages::book::{kinds, view, Format};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

async fn document(engine: &Engine, id: &str) -> Result<DocumentState> {
    engine.store().document(id).await?.with_context(|| format!("no document {id}"))
}

async fn book(engine: &Engine, doc: &DocumentState) -> Result<bindery_core::Book> {
    let loaded = view::load(doc, engine.blobs()).await?;
    loaded.book.with_context(|| format!("document {} has no structured book yet ({})", doc.id, doc.status.as_str()))
}

/// `bindery export ID --format json|md|zip -o PATH`.
pub async fn export(s: &Settings, id: &str, format: &str, out: &Path) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let doc = document(&engine, id).await?;
    let loaded = view::load(&doc, engine.blobs()).await?;
    match format {
        "json" => std::fs::write(out, serde_json::to_vec_pretty(&view::book_view(&doc, &loaded, true))?)?,
        "md" | "markdown" => std::fs::write(out, view::markdown(&doc, &loaded))?,
        "zip" => write_zip(&engine, &doc, &loaded, out).await?,
        other => bail!("unknown export format {other:?} (json, md or zip)"),
    }
    eprintln!("wrote {}", out.display());
    Ok(ExitCode::SUCCESS)
}

/// A ZIP with `book.json`, `book.md`, and every cover, audio and dictionary
/// artifact, each streamed from storage one at a time.
async fn write_zip(engine: &Engine, doc: &DocumentState, loaded: &view::Loaded, out: &Path) -> Result<()> {
    use zip::write::SimpleFileOptions;
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let mut zip = zip::ZipWriter::new(file);
    let deflated = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("book.json", deflated)?;
    zip.write_all(&serde_json::to_vec_pretty(&view::book_view(doc, loaded, true))?)?;
    zip.start_file("book.md", deflated)?;
    zip.write_all(view::markdown(doc, loaded).as_bytes())?;
    for a in &doc.artifacts {
        let name = if a.kind.starts_with("cover-") {
            format!("covers/{}", a.kind)
        } else if a.kind == kinds::NARRATION_PREVIEW {
            format!("audio/preview.{}", if a.media_type == "audio/mpeg" { "mp3" } else { "ogg" })
        } else if a.kind == kinds::DICTIONARY || a.kind == kinds::ANALYSIS {
            format!("{}.json", a.kind)
        } else {
            continue;
        };
        // Images and audio are already compressed.
        let options = if name.ends_with(".json") { deflated } else { stored };
        zip.start_file(name, options)?;
        let mut stream = engine.blobs().get_stream(&a.key).await?;
        use futures::StreamExt;
        while let Some(chunk) = stream.next().await {
            zip.write_all(&chunk?)?;
        }
    }
    zip.finish()?;
    Ok(())
}

/// `bindery search "query"`: book, chapter, snippet.
pub async fn search(s: &Settings, query: &str, limit: i64, json: bool) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let hits = engine.store().search(query, None, limit).await?;
    for h in &hits {
        if json {
            println!("{}", serde_json::to_string(h)?);
        } else {
            println!("{}  {}  ch. {} {}\n    {}", h.document, h.title, h.chapter, h.chapter_title, h.snippet);
        }
    }
    if hits.is_empty() && !json {
        eprintln!("no matches for {query:?}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `bindery narrate ID --chapter N -o PATH`: a whole chapter, on demand.
pub async fn narrate(s: &Settings, id: &str, chapter: u32, format: &str, out: Option<PathBuf>) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let doc = document(&engine, id).await?;
    let book = book(&engine, &doc).await?;
    let audio_format = match format {
        "opus" | "ogg" => bindery_media::AudioFormat::Opus,
        "mp3" => bindery_media::AudioFormat::Mp3,
        other => bail!("unknown audio format {other:?} (opus or mp3)"),
    };
    let audio = bindery_stages::book::narrate_chapter(&book, chapter, audio_format).await?;
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{id}-chapter-{chapter}.{}", audio_format.extension())));
    std::fs::write(&out, &audio.bytes)?;
    eprintln!(
        "wrote {} ({:.1} s of speech, {} bytes)",
        out.display(),
        audio.duration_ms as f64 / 1000.0,
        audio.bytes.len()
    );
    Ok(ExitCode::SUCCESS)
}

/// `bindery dictionary ID [WORD]`: the book's vocabulary, or one entry.
pub async fn dictionary(s: &Settings, id: &str, word: Option<&str>, limit: usize, json: bool) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let doc = document(&engine, id).await?;
    let a = doc.artifacts.iter().find(|a| a.kind == kinds::DICTIONARY).context("the book has no dictionary yet")?;
    let raw = engine.blobs().get_bytes(&a.key, bindery_stages::book::MAX_BOOK_JSON).await?;
    let dict: bindery_dictionary::Dictionary = serde_json::from_slice(&raw)?;
    let entries: Vec<&bindery_dictionary::Entry> = match word {
        Some(w) => match dict.lookup(w) {
            Some(e) => vec![e],
            None => {
                eprintln!("{w:?} is not in this book's dictionary");
                return Ok(ExitCode::FAILURE);
            }
        },
        None => dict.entries.iter().take(limit).collect(),
    };
    for e in entries {
        if json {
            println!("{}", serde_json::to_string(e)?);
            continue;
        }
        println!("{}  ({}×, rarity {:.2}, ch. {})", e.lemma, e.frequency, e.rarity, e.first.chapter);
        for d in &e.definitions {
            println!("    {}: {}", d.pos, d.gloss);
        }
        println!("    « {} »", e.first.sentence);
    }
    Ok(ExitCode::SUCCESS)
}

/// `bindery pages ID --dpi 150 --range 1-5 -o DIR`: full page images, PNG.
pub async fn pages(s: &Settings, id: &str, dpi: u32, range: Option<&str>, out: &Path) -> Result<ExitCode> {
    let engine = crate::open(s, crate::engine_options(None)?).await?;
    let doc = document(&engine, id).await?;
    let kind = Format::of(&doc.media_type)
        .ok()
        .and_then(|f| f.paged())
        .with_context(|| format!("{} has no pages to render ({})", doc.id, doc.media_type))?;
    if !(36..=600).contains(&dpi) {
        bail!("--dpi must be between 36 and 600");
    }
    std::fs::create_dir_all(out)?;
    let dir = tempfile::tempdir()?;
    let ext = if kind == bindery_pdf::DocKind::Pdf { "pdf" } else { "epub" };
    let source = dir.path().join(format!("source.{ext}"));
    engine.blobs().get_file(&doc.blob_key, &source).await?;
    let range = range.map(str::to_owned);
    let out = out.to_owned();
    let written = tokio::task::spawn_blocking(move || -> Result<Vec<PathBuf>> {
        let doc = bindery_pdf::Doc::open(&source, kind, bindery_pdf::OpenOptions::default())?;
        let (first, last) = parse_range(range.as_deref(), doc.page_count())?;
        let mut written = Vec::new();
        for n in first..=last {
            let r = doc.render_rgb_dpi(n, dpi)?;
            let img = bindery_media::image::RgbImage::from_raw(r.width, r.height, r.pixels).context("raster")?;
            let path = out.join(format!("page-{n:04}.png"));
            img.save(&path)?;
            written.push(path);
        }
        Ok(written)
    })
    .await??;
    for p in &written {
        println!("{}", p.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// "3", "2-5", "4-" or none (every page), checked against `pages`.
fn parse_range(range: Option<&str>, pages: u32) -> Result<(u32, u32)> {
    let Some(r) = range else { return Ok((1, pages)) };
    let (a, b) = match r.split_once('-') {
        Some((a, b)) => (a.trim().parse()?, if b.trim().is_empty() { pages } else { b.trim().parse()? }),
        None => {
            let n = r.trim().parse()?;
            (n, n)
        }
    };
    if a == 0 || a > b || b > pages {
        bail!("page range {r:?} is outside 1-{pages}");
    }
    Ok((a, b))
}

#[cfg(test)]
mod tests {
    #[test]
    fn parses_page_ranges() {
        assert_eq!(super::parse_range(None, 9).unwrap(), (1, 9));
        assert_eq!(super::parse_range(Some("3"), 9).unwrap(), (3, 3));
        assert_eq!(super::parse_range(Some("2-5"), 9).unwrap(), (2, 5));
        assert_eq!(super::parse_range(Some("4-"), 9).unwrap(), (4, 9));
        assert!(super::parse_range(Some("5-2"), 9).is_err());
        assert!(super::parse_range(Some("1-10"), 9).is_err());
        assert!(super::parse_range(Some("x"), 9).is_err());
    }
}
