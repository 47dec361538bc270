//! The registry: the stages a process runs and the pipelines made of them,
//! each with the media types it accepts.

use crate::stage::Stage;
use bindery_core::media;
use bindery_core::Pipeline;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Pipelines by name, the media types each accepts, and the stage
/// implementations they use.
#[derive(Clone, Default)]
pub struct Registry {
    pipelines: BTreeMap<String, Pipeline>,
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
        for s in pipeline.stages() {
            assert!(
                self.stages.contains_key(s.name.as_str()),
                "pipeline {} uses unregistered stage {}",
                pipeline.name,
                s.name
            );
        }
        for media_type in accepts {
            assert!(
                !self.accepts.iter().any(|(m, _)| m == media_type),
                "two pipelines accept {media_type}; the second is {}",
                pipeline.name
            );
            self.accepts.push((media_type, pipeline.name.clone()));
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
        Ok((&self.pipelines[name], media_type))
    }
}
