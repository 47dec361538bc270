//! The one place where the book's stages and pipeline are registered.

use crate::book;
use crate::sandbox::Sandbox;
use bindery_analyze::Analyzers;
use bindery_pipeline::Registry;
use std::sync::Arc;

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
    Registry::new()
        .with_stage(Arc::new(book::Extract::new(sandbox.clone())))
        .with_stage(Arc::new(book::Ocr::new(sandbox.clone())))
        .with_stage(Arc::new(book::Raster::new(sandbox.clone())))
        .with_stage(Arc::new(book::Structure))
        .with_stage(Arc::new(book::Enrich::new(analyzers)))
        .with_stage(Arc::new(book::Dictionary))
        .with_stage(Arc::new(book::Narrate))
        .with_stage(Arc::new(book::Cover::new(sandbox)))
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
