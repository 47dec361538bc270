//! The registry: the stages a process runs and the pipelines made of them,
//! each with the media types it accepts.

use crate::stage::Stage;
use bindery_core::media;
use bindery_core::{DocumentState, Pipeline};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Pipelines by name and version, the media types each accepts, and the
/// stage implementations they use.
///
/// A pipeline's current version is the highest registered; uploads and
/// reprocessing start on it. Older versions stay registered, with the
/// stages they name, for as long as documents started on them may still be
/// in flight: a document runs to the end on the version it started with
/// ([`Registry::pipeline_version`]).
#[derive(Clone, Default)]
pub struct Registry {
    pipelines: BTreeMap<String, BTreeMap<u32, Pipeline>>,
    /// Media types in the order pipelines declared them, each with its pipeline's name.
    accepts: Vec<(&'static str, String)>,
    stages: BTreeMap<&'static str, Arc<dyn Stage>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_stage(mut self, stage: Arc<dyn Stage>) -> Self {
        self.stages.insert(stage.name(), stage);
        self
    }

    /// Adds a pipeline for uploads of the `accepts` media types; every stage
    /// it names must already be registered, and no other pipeline may accept
    /// the same media type.
    pub fn with_pipeline(mut self, pipeline: Pipeline, accepts: &[&'static str]) -> Self {
        self.check_stages(&pipeline);
        for media_type in accepts {
            assert!(
                !self.accepts.iter().any(|(m, _)| m == media_type),
                "two pipelines accept {media_type}; the second is {}",
                pipeline.name
            );
            self.accepts.push((media_type, pipeline.name.clone()));
        }
        self.pipelines.entry(pipeline.name.clone()).or_default().insert(pipeline.version, pipeline);
        self
    }

    /// Keeps an earlier version of a pipeline registered `with_pipeline`, so
    /// that documents started on it finish on it; its stages must still be
    /// registered, and a newer version must exist.
    pub fn with_earlier_version(mut self, pipeline: Pipeline) -> Self {
        self.check_stages(&pipeline);
        let versions = self.pipelines.get_mut(&pipeline.name).expect("the current version is registered first");
        assert!(
            versions.keys().next_back().is_some_and(|current| *current > pipeline.version),
            "pipeline {} v{} is not earlier than the current version",
            pipeline.name,
            pipeline.version
        );
        versions.insert(pipeline.version, pipeline);
        self
    }

    fn check_stages(&self, pipeline: &Pipeline) {
        for s in pipeline.stages() {
            assert!(
                self.stages.contains_key(s.name.as_str()),
                "pipeline {} uses unregistered stage {}",
                pipeline.name,
                s.name
            );
        }
    }

    /// The current (highest) version of the pipeline `name`.
    pub fn pipeline(&self, name: &str) -> Option<&Pipeline> {
        self.pipelines.get(name).and_then(|versions| versions.values().next_back())
    }

    /// Version `version` of the pipeline `name`, if this process still runs it.
    pub fn pipeline_version(&self, name: &str, version: u32) -> Option<&Pipeline> {
        self.pipelines.get(name).and_then(|versions| versions.get(&version))
    }

    /// The version of its pipeline a document started on, or why this
    /// process cannot run it, in words for the document's error.
    pub fn pipeline_of(&self, document: &DocumentState) -> Result<&Pipeline, String> {
        let (name, version) = (&document.pipeline, document.pipeline_version);
        self.pipeline_version(name, version).ok_or_else(|| match self.pipeline(name) {
            Some(current) => format!(
                "the document was started on version {version} of the {name} pipeline, which this instance no \
                 longer runs; reprocess it to run version {}",
                current.version
            ),
            None => format!("the document was started on the {name} pipeline, which this instance does not run"),
        })
    }

    pub fn stage(&self, name: &str) -> Option<&Arc<dyn Stage>> {
        self.stages.get(name)
    }

    /// Every registered stage, by name.
    pub fn stages(&self) -> impl Iterator<Item = (&str, &Arc<dyn Stage>)> {
        self.stages.iter().map(|(name, stage)| (*name, stage))
    }

    /// Every media type some pipeline accepts, in the order they were declared.
    pub fn media_types(&self) -> Vec<&'static str> {
        self.accepts.iter().map(|(m, _)| *m).collect()
    }

    /// Chooses the pipeline for an upload from its name and first bytes (the
    /// first [`media::SNIFF_BYTES`], or the whole file when it is shorter), or
    /// says why none fits, listing what is accepted (see [`media::media_type`]).
    pub fn pipeline_for(&self, file_name: &str, head: &[u8]) -> Result<(&Pipeline, &'static str), String> {
        let media_type = media::media_type(file_name, head, &self.media_types())?;
        let name = self.accepts.iter().find(|(m, _)| *m == media_type).map(|(_, p)| p).expect("an accepted type");
        Ok((self.pipeline(name).expect("an accepting pipeline is registered"), media_type))
    }
}
