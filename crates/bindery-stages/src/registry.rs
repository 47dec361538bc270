//! The one place where pipelines and their stages are declared.

use crate::stage::Stage;
use crate::text;
use bindery_core::Pipeline;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Pipelines by name, and the stage implementations they use.
#[derive(Clone)]
pub struct Registry {
    pipelines: BTreeMap<String, Pipeline>,
    stages: BTreeMap<&'static str, Arc<dyn Stage>>,
}

impl Registry {
    pub fn new() -> Self {
        Self { pipelines: BTreeMap::new(), stages: BTreeMap::new() }
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

    /// Chooses the pipeline for an upload from its name and first bytes, or
    /// says why none fits.
    pub fn pipeline_for(&self, file_name: &str, head: &[u8]) -> Result<(&Pipeline, &'static str), String> {
        let ext = file_name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
        if let Some(kind) = sniff_binary(head) {
            return Err(format!("{kind} files are not supported yet"));
        }
        let media_type = match ext.as_str() {
            "txt" | "text" | "" => "text/plain",
            "md" | "markdown" => "text/markdown",
            other => return Err(format!("unsupported file type .{other} (supported: .txt, .md)")),
        };
        let p = self.pipelines.get(text::PIPELINE).ok_or("the text pipeline is not registered")?;
        Ok((p, media_type))
    }
}

impl Default for Registry {
    fn default() -> Self {
        Self::new()
    }
}

/// Recognises common binary formats by their magic bytes, so a PDF renamed
/// `.txt` is refused with its real type instead of failing as bad UTF-8.
fn sniff_binary(head: &[u8]) -> Option<&'static str> {
    const MAGIC: &[(&[u8], &str)] = &[
        (b"%PDF-", "PDF"),
        (b"PK\x03\x04", "ZIP (EPUB?)"),
        (b"\x89PNG", "PNG"),
        (b"\xff\xd8\xff", "JPEG"),
        (b"II*\x00", "TIFF"),
        (b"MM\x00*", "TIFF"),
    ];
    MAGIC.iter().find(|(m, _)| head.starts_with(m)).map(|(_, k)| *k)
}

/// Every stage and pipeline Bindery ships.
pub fn registry() -> Registry {
    Registry::new()
        .with_stage(Arc::new(text::Extract))
        .with_stage(Arc::new(text::Structure))
        .with_stage(Arc::new(text::Count))
        .with_pipeline(text::pipeline())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chooses_by_extension_and_refuses_disguised_binaries() {
        let r = registry();
        assert_eq!(r.pipeline_for("a.md", b"# Hi").unwrap().1, "text/markdown");
        assert_eq!(r.pipeline_for("notes", b"hi").unwrap().1, "text/plain");
        assert_eq!(r.pipeline_for("book.txt", b"%PDF-1.7").unwrap_err(), "PDF files are not supported yet");
        assert!(r.pipeline_for("song.mp3", b"ID3").unwrap_err().contains(".mp3"));
    }
}
