//! The one place where the book's stages and pipeline are registered.

use crate::book;
use crate::sandbox::Sandbox;
use bindery_analyze::Analyzers;
use bindery_pipeline::Registry;
use std::path::PathBuf;
use std::sync::Arc;

/// Every stage and pipeline Bindery ships, with the built-in offline
/// analyzer.
pub fn registry() -> Registry {
    registry_with(Analyzers::default())
}

/// The registry with other analyzers behind `enrich`, and the default
/// sandbox (`bindery-parse` beside the running executable) and data folders.
pub fn registry_with(analyzers: Analyzers) -> Registry {
    registry_with_options(analyzers, BookOptions::default())
}

/// What the book's stages are given besides analyzers: the sandbox uploads
/// are parsed in, and the folders of the data they read (the `bindery`
/// binary's settings; the library reads no environment).
#[derive(Clone, Debug)]
pub struct BookOptions {
    pub sandbox: Sandbox,
    /// WordNet, for `dictionary`'s English definitions.
    pub wordnet_dir: PathBuf,
    /// DejaVu Serif, for `cover`'s typographic covers.
    pub font_dir: PathBuf,
}

impl Default for BookOptions {
    fn default() -> Self {
        Self {
            sandbox: Sandbox::default(),
            wordnet_dir: bindery_dictionary::DEFAULT_WORDNET_DIR.into(),
            font_dir: bindery_media::DEFAULT_FONT_DIR.into(),
        }
    }
}

/// The registry with other analyzers behind `enrich`, parsing uploads and
/// reading data as `options` say.
pub fn registry_with_options(analyzers: Analyzers, options: BookOptions) -> Registry {
    let BookOptions { sandbox, wordnet_dir, font_dir } = options;
    Registry::new()
        .with_stage(Arc::new(book::Extract::new(sandbox.clone())))
        .with_stage(Arc::new(book::Ocr::new(sandbox.clone())))
        .with_stage(Arc::new(book::Raster::new(sandbox.clone())))
        .with_stage(Arc::new(book::Structure))
        .with_stage(Arc::new(book::Enrich::new(analyzers)))
        .with_stage(Arc::new(book::Dictionary::new(wordnet_dir)))
        .with_stage(Arc::new(book::Narrate))
        .with_stage(Arc::new(book::Cover::new(sandbox, font_dir)))
        .with_stage(Arc::new(book::Index))
        .with_pipeline(book::pipeline(), book::MEDIA_TYPES)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Uploads are routed to the book pipeline by what they are; what it does
    /// not accept is refused with the list of what it does.
    #[test]
    fn the_book_pipeline_takes_what_it_reads() {
        let r = registry();
        let (pipeline, media) = r.pipeline_for("book.txt", b"%PDF-1.7\n1 0 obj\n<< >>\nendobj\n").unwrap();
        assert_eq!((pipeline.name.as_str(), media), (book::PIPELINE, "application/pdf"));
        assert_eq!(r.media_types(), book::MEDIA_TYPES);
        assert_eq!(
            r.pipeline_for("x.docx", b"abc").map(|(p, _)| p.name.clone()),
            Err("unsupported file type .docx (supported: .pdf, .epub, .txt, .md, .png, .jpg, .tiff, .webp)".into())
        );
    }
}
