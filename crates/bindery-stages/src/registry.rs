//! The one place where pipelines and their stages are declared.

use crate::book;
use crate::sandbox::Sandbox;
use crate::sniff::{sniff, Sniffed};
use crate::stage::Stage;
use bindery_analyze::Analyzers;
use bindery_core::Pipeline;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Pipelines by name, and the stage implementations they use.
#[derive(Clone)]
pub struct Registry {
    pipelines: BTreeMap<String, Pipeline>,
    stages: BTreeMap<&'static str, Arc<dyn Stage>>,
    analyzers: Analyzers,
}

impl Registry {
    pub fn new() -> Self {
        Self { pipelines: BTreeMap::new(), stages: BTreeMap::new(), analyzers: Analyzers::default() }
    }

    /// The analyzers `enrich` offers, for those who let projects choose among them (the API).
    pub fn analyzers(&self) -> &Analyzers {
        &self.analyzers
    }

    pub fn with_stage(mut self, stage: Arc<dyn Stage>) -> Self {
        self.stages.insert(stage.name(), stage);
        self
    }

    /// Adds a pipeline; every stage it names must already be registered.
    pub fn with_pipeline(mut self, pipeline: Pipeline) -> Self {
        for s in pipeline.stages() {
            assert!(
                self.stages.contains_key(s.name.as_str()),
                "pipeline {} uses unregistered stage {}",
                pipeline.name,
                s.name
            );
        }
        self.pipelines.insert(pipeline.name.clone(), pipeline);
        self
    }

    pub fn pipeline(&self, name: &str) -> Option<&Pipeline> {
        self.pipelines.get(name)
    }

    pub fn stage(&self, name: &str) -> Option<&Arc<dyn Stage>> {
        self.stages.get(name)
    }

    /// Every registered stage, by name.
    pub fn stages(&self) -> impl Iterator<Item = (&str, &Arc<dyn Stage>)> {
        self.stages.iter().map(|(name, stage)| (*name, stage))
    }

    /// Chooses the pipeline for an upload from its name and first bytes
    /// (the first [`crate::sniff::SNIFF_BYTES`], or the whole file when it is
    /// shorter), or says why none fits. The bytes win over the name: an HTML
    /// page named `.pdf` is refused as HTML, and a text is read as text
    /// whatever binary signature its first letters happen to spell.
    pub fn pipeline_for(&self, file_name: &str, head: &[u8]) -> Result<(&Pipeline, &'static str), String> {
        let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        let media_type = match (sniff(head), ext.as_str()) {
            (Some(Sniffed::Pdf), _) => "application/pdf",
            (Some(Sniffed::Zip), "epub") => "application/epub+zip",
            (Some(Sniffed::Zip), _) => {
                return Err("ZIP archives are not supported (an EPUB must be named .epub)".into())
            }
            (Some(Sniffed::Image(media)), _) => media,
            (Some(Sniffed::Other(kind)), _) => return Err(format!("{kind} files are not supported")),
            (None, "pdf" | "epub" | "png" | "jpg" | "jpeg" | "tif" | "tiff" | "webp") => {
                return Err(format!(
                    "the file is named .{ext} but its first bytes look like {}",
                    bindery_pdf::describe(head)
                ))
            }
            (None, "txt" | "text" | "") => "text/plain",
            (None, "md" | "markdown") => "text/markdown",
            (None, other) => {
                return Err(format!(
                    "unsupported file type .{other} (supported: .pdf, .epub, .txt, .md, .png, .jpg, .tiff, .webp)"
                ))
            }
        };
        let p = self.pipelines.get(book::PIPELINE).ok_or("the book pipeline is not registered")?;
        Ok((p, media_type))
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// Every stage and pipeline Bindery ships, with the built-in offline
/// analyzer.
pub fn registry() -> Registry {
    registry_with(Analyzers::default())
}

/// The registry with other analyzers behind `enrich`, parsing uploads with
/// the default sandbox (`bindery-parse` beside the running executable).
pub fn registry_with(analyzers: Analyzers) -> Registry {
    registry_with_sandbox(analyzers, Sandbox::default())
}

/// The registry with other analyzers behind `enrich`, parsing uploads in
/// children run as `sandbox` says.
pub fn registry_with_sandbox(analyzers: Analyzers, sandbox: Sandbox) -> Registry {
    let mut r = Registry::new()
        .with_stage(Arc::new(book::Extract::new(sandbox.clone())))
        .with_stage(Arc::new(book::Ocr::new(sandbox.clone())))
        .with_stage(Arc::new(book::Raster::new(sandbox.clone())))
        .with_stage(Arc::new(book::Structure))
        .with_stage(Arc::new(book::Enrich::new(analyzers.clone())))
        .with_stage(Arc::new(book::Dictionary))
        .with_stage(Arc::new(book::Narrate))
        .with_stage(Arc::new(book::Cover::new(sandbox)))
        .with_stage(Arc::new(book::Index))
        .with_pipeline(book::pipeline());
    r.analyzers = analyzers;
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_by_bytes_then_extension() {
        let r = registry();
        let media = |name: &str, head: &[u8]| r.pipeline_for(name, head).map(|(_, m)| m);
        assert_eq!(media("a.md", b"# Hi"), Ok("text/markdown"));
        assert_eq!(media("notes", b"hi"), Ok("text/plain"));
        let pdf = b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n";
        assert_eq!(media("book.txt", pdf), Ok("application/pdf"), "the bytes win over the name");
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
        assert!(media("x.docx", b"abc").unwrap_err().contains(".docx"));
    }
}
