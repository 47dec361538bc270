//! `dictionary`: the book's vocabulary with rarity, first occurrence and,
//! in English, WordNet definitions. WordNet is loaded once per process.

use super::BookContext;
use super::{blocking, kinds};
use async_trait::async_trait;
use bindery_dictionary::{build, Options, WordNet};
use bindery_pipeline::{Stage, StageContext, StageError, StageOutput};
use serde_json::json;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

/// The stage, with the folder WordNet is read from (the `wordnet-dir` setting).
pub struct Dictionary {
    wordnet_dir: PathBuf,
    /// WordNet, or why it could not be loaded (then English entries go
    /// without definitions, and the summary says so); loaded at first use.
    wordnet: Arc<OnceLock<Result<Arc<WordNet>, String>>>,
}

impl Dictionary {
    pub fn new(wordnet_dir: PathBuf) -> Self {
        Self { wordnet_dir, wordnet: Arc::default() }
    }
}

#[async_trait]
impl Stage for Dictionary {
    fn name(&self) -> &'static str {
        "dictionary"
    }

    async fn run(&self, ctx: &StageContext) -> Result<StageOutput, StageError> {
        let book = ctx.book().await?;
        let (dir, cell) = (self.wordnet_dir.clone(), self.wordnet.clone());
        let (dictionary, wordnet_error) = blocking("dictionary", move || {
            let wn = cell.get_or_init(|| WordNet::open(&dir).map(Arc::new).map_err(|e| e.to_string()));
            let dictionary = build(&book, wn.as_ref().ok().map(|w| w.as_ref()), &Options::default());
            Ok((dictionary, wn.as_ref().err().cloned()))
        })
        .await?;
        let defined = dictionary.entries.iter().filter(|e| !e.definitions.is_empty()).count();
        let summary = json!({"entries": dictionary.entries.len(), "defined": defined,
                             "language": dictionary.language, "wordnet_error": wordnet_error});
        let json = serde_json::to_vec(&dictionary).expect("dictionary serialises");
        let artifact = ctx.store(kinds::DICTIONARY, "application/json", json).await?;
        Ok(StageOutput { outputs: vec![artifact], summary })
    }
}
