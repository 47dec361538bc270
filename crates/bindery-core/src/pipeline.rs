//! Pipelines: a versioned DAG of named stages for one kind of document.
//!
//! The engine enqueues a pipeline's root stages when a document is uploaded,
//! and each time a `stage.completed` event is appended it enqueues the stages
//! that completion unblocks. When every stage has completed the document is
//! ready.

use std::collections::BTreeSet;
use thiserror::Error;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StageSpec {
    pub name: String,
    /// Stages that must complete before this one starts.
    pub after: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pipeline {
    pub name: String,
    pub version: u32,
    /// In topological order (checked by [`Pipeline::new`]).
    stages: Vec<StageSpec>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PipelineError {
    #[error("stage {0:?} appears twice")]
    Duplicate(String),
    #[error("stage {stage:?} waits for {missing:?}, which is not an earlier stage (unknown, or a cycle)")]
    Order { stage: String, missing: String },
    #[error("a pipeline needs at least one stage")]
    Empty,
}

impl Pipeline {
    /// Builds a pipeline from `(stage, after)` pairs listed so that every
    /// stage comes after the stages it waits for. Listing them in that order
    /// is how a reader sees the flow, and it rules out cycles by construction.
    pub fn new(name: &str, version: u32, stages: &[(&str, &[&str])]) -> Result<Self, PipelineError> {
        if stages.is_empty() {
            return Err(PipelineError::Empty);
        }
        let mut seen = BTreeSet::new();
        let mut out = Vec::with_capacity(stages.len());
        for (stage, after) in stages {
            for dep in *after {
                if !seen.contains(*dep) {
                    return Err(PipelineError::Order { stage: stage.to_string(), missing: dep.to_string() });
                }
            }
            if !seen.insert(*stage) {
                return Err(PipelineError::Duplicate(stage.to_string()));
            }
            out.push(StageSpec { name: stage.to_string(), after: after.iter().map(|s| s.to_string()).collect() });
        }
        Ok(Self { name: name.to_owned(), version, stages: out })
    }

    pub fn stages(&self) -> &[StageSpec] {
        &self.stages
    }

    pub fn stage_names(&self) -> Vec<String> {
        self.stages.iter().map(|s| s.name.clone()).collect()
    }

    pub fn contains(&self, stage: &str) -> bool {
        self.stages.iter().any(|s| s.name == stage)
    }

    /// Stages with no prerequisites: enqueued at upload.
    pub fn roots(&self) -> Vec<&str> {
        self.stages.iter().filter(|s| s.after.is_empty()).map(|s| s.name.as_str()).collect()
    }

    /// The stages that `completed` unblocks, given the stages already done
    /// before it. A stage is unblocked when it waits for `completed` and all
    /// its other prerequisites are in `done`.
    pub fn unblocked_by(&self, completed: &str, done: &BTreeSet<String>) -> Vec<&str> {
        self.stages
            .iter()
            .filter(|s| !done.contains(&s.name) && s.name != completed)
            .filter(|s| s.after.iter().any(|d| d == completed))
            .filter(|s| s.after.iter().all(|d| d == completed || done.contains(d)))
            .map(|s| s.name.as_str())
            .collect()
    }

    /// Whether `done` covers every stage.
    pub fn is_complete(&self, done: &BTreeSet<String>) -> bool {
        self.stages.iter().all(|s| done.contains(&s.name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn diamond() -> Pipeline {
        Pipeline::new("d", 1, &[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]).unwrap()
    }

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn diamond_unblocks_the_join_only_when_both_branches_are_done() {
        let p = diamond();
        assert_eq!(p.roots(), vec!["a"]);
        assert_eq!(p.unblocked_by("a", &set(&[])), vec!["b", "c"]);
        assert!(p.unblocked_by("b", &set(&["a"])).is_empty());
        assert_eq!(p.unblocked_by("c", &set(&["a", "b"])), vec!["d"]);
        assert!(!p.is_complete(&set(&["a", "b", "c"])));
        assert!(p.is_complete(&set(&["a", "b", "c", "d"])));
    }

    #[test]
    fn rejects_bad_graphs() {
        assert_eq!(
            Pipeline::new("x", 1, &[("a", &["b"]), ("b", &[])]),
            Err(PipelineError::Order { stage: "a".into(), missing: "b".into() })
        );
        assert_eq!(Pipeline::new("x", 1, &[("a", &[]), ("a", &[])]), Err(PipelineError::Duplicate("a".into())));
        assert_eq!(Pipeline::new("x", 1, &[]), Err(PipelineError::Empty));
    }
}
